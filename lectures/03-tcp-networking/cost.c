/*
 * cost.c - what the bufferevent layer costs: three echo servers to measure it with.
 *
 * The first echo is built on bufferevents, as tcp_echo.c is; the second is the same with
 * TCP_NODELAY set on each socket. The third uses a plain EV_READ|EV_PERSIST event: it read()s
 * into a stack buffer and write()s the bytes straight back, keeping only what the kernel refused
 * (in an evbuffer, flushed by an EV_WRITE event, with reading paused meanwhile). Measure them
 * with `./tcp-cost --demo` (the load client is in cost_script.c), or by hand as cost_main.c says.
 */
#include "cost.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#define ECHO_MAX_PENDING (256 * 1024) /* bufferevent echo: output bound before pausing reads */
#define PLAIN_READ_BYTES (64 * 1024)  /* plain echo: one read() at most; also its backlog bound */
#define IDLE_MS 30000 /* all three servers close a client silent (or not reading) this long */

/* ---------------------------------------------------------------------------------------- */
/* Server 1: bufferevent echo                                                               */
/* ---------------------------------------------------------------------------------------- */

struct bev_server;

struct bev_conn {
    struct bev_server *server;
    struct bufferevent *bev;
    struct bev_conn *prev, *next;
};

struct bev_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct bev_conn *conns;
    bool nodelay; /* set TCP_NODELAY on each accepted socket */
};

static const struct timeval IDLE = {IDLE_MS / 1000, (IDLE_MS % 1000) * 1000};

static void bev_conn_free(struct bev_conn *conn)
{
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        conn->server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    bufferevent_free(conn->bev);
    free(conn);
}

/* The whole echo: relink the input's chunks onto the output. The bufferevent writes them
 * later, on a later turn of the loop, once epoll says the socket is writable. */
static void bev_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *out = bufferevent_get_output(bev);

    (void)arg;
    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) >= ECHO_MAX_PENDING) { /* backpressure, as in tcp_echo.c */
        bufferevent_disable(bev, EV_READ);
        bufferevent_setwatermark(bev, EV_WRITE, ECHO_MAX_PENDING / 4, 0);
    }
}

static void bev_write_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_READ);
}

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    bev_conn_free(arg); /* EOF or error: either way this client is done */
}

static void bev_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                          int addrlen, void *arg)
{
    struct bev_server *server = arg;
    struct bev_conn *conn = calloc(1, sizeof *conn);

    (void)lev;
    (void)addr;
    (void)addrlen;
    if (conn == NULL ||
        (conn->bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        evutil_closesocket(fd);
        free(conn);
        return;
    }
    conn->server = server;
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    if (server->nodelay) {
        /* Turn off Nagle's algorithm: send small segments at once instead of holding them
         * until the previous one is acknowledged. See the lecture for why it matters here. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    bufferevent_setcb(conn->bev, bev_read_cb, bev_write_cb, bev_event_cb, conn);
    bufferevent_set_timeouts(conn->bev, &IDLE, &IDLE);
    bufferevent_enable(conn->bev, EV_READ);
}

/* ---------------------------------------------------------------------------------------- */
/* Server 2: plain event, immediate write                                                   */
/* ---------------------------------------------------------------------------------------- */

struct plain_server;

struct plain_conn {
    struct plain_server *server;
    evutil_socket_t fd;
    struct event *read_ev;    /* EV_READ|EV_PERSIST: pending while there is no backlog */
    struct event *write_ev;   /* EV_WRITE|EV_PERSIST: pending only while there is a backlog */
    struct evbuffer *backlog; /* what the kernel would not take yet; at most one read's worth */
    struct plain_conn *prev, *next;
};

struct plain_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct plain_conn *conns;
};

static void plain_read_cb(evutil_socket_t fd, short what, void *arg);
static void plain_write_cb(evutil_socket_t fd, short what, void *arg);

/* "Not now, try again later" rather than a real error. */
static bool retriable(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static void plain_conn_free(struct plain_conn *conn)
{
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        conn->server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    if (conn->read_ev != NULL)
        event_free(conn->read_ev);
    if (conn->write_ev != NULL)
        event_free(conn->write_ev);
    if (conn->backlog != NULL)
        evbuffer_free(conn->backlog);
    evutil_closesocket(conn->fd);
    free(conn);
}

/* The socket is readable: read once, and write the bytes back right now. In the common case
 * the kernel takes all of them and nothing is buffered or scheduled: one read(), one write(). */
static void plain_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct plain_conn *conn = arg;
    char buf[PLAIN_READ_BYTES];

    if (what & EV_TIMEOUT) { /* nothing arrived for IDLE_MS: the timer restarts on each read */
        plain_conn_free(conn);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && !retriable(errno))) {
        plain_conn_free(conn); /* EOF or a real error */
        return;
    }
    if (n < 0)
        return; /* spurious wakeup: try again next time */

    ssize_t w = write(fd, buf, (size_t)n);
    if (w < 0 && !retriable(errno)) {
        plain_conn_free(conn);
        return;
    }
    if (w < 0)
        w = 0;
    if (w < n) {
        /* The kernel's send buffer is full. Keep the rest, stop reading (that is the
         * backpressure, and it bounds the backlog to one read), and wait for EV_WRITE. */
        evbuffer_add(conn->backlog, buf + w, (size_t)(n - w));
        event_del(conn->read_ev);
        event_add(conn->write_ev, &IDLE);
    }
}

static void plain_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct plain_conn *conn = arg;

    if (what & EV_TIMEOUT) { /* the client has not read a byte for IDLE_MS */
        plain_conn_free(conn);
        return;
    }
    if (evbuffer_write(conn->backlog, fd) < 0 && !retriable(errno)) {
        plain_conn_free(conn);
        return;
    }
    if (evbuffer_get_length(conn->backlog) == 0) {
        event_del(conn->write_ev);
        event_add(conn->read_ev, &IDLE);
    }
}

static void plain_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                            int addrlen, void *arg)
{
    struct plain_server *server = arg;
    struct plain_conn *conn = calloc(1, sizeof *conn);

    (void)lev;
    (void)addr;
    (void)addrlen;
    if (conn == NULL) {
        evutil_closesocket(fd);
        return;
    }
    conn->server = server;
    conn->fd = fd; /* already non-blocking: the listener made it so */
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    conn->read_ev = event_new(server->base, fd, EV_READ | EV_PERSIST, plain_read_cb, conn);
    conn->write_ev = event_new(server->base, fd, EV_WRITE | EV_PERSIST, plain_write_cb, conn);
    conn->backlog = evbuffer_new();
    if (conn->read_ev == NULL || conn->write_ev == NULL || conn->backlog == NULL ||
        event_add(conn->read_ev, &IDLE) != 0)
        plain_conn_free(conn);
}

/* ---------------------------------------------------------------------------------------- */
/* Listening and freeing, for both                                                          */
/* ---------------------------------------------------------------------------------------- */

/* Binds 127.0.0.1:port (0 = any) and reports the port actually bound. NULL on failure. */
static struct evconnlistener *listen_on(struct event_base *base, uint16_t port,
                                        evconnlistener_cb cb, void *arg, uint16_t *bound)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    struct evconnlistener *lev =
        evconnlistener_new_bind(base, cb, arg, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                (struct sockaddr *)&sin, sizeof sin);

    if (lev == NULL)
        return NULL;
    if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&sin, &len) != 0) {
        evconnlistener_free(lev);
        return NULL;
    }
    *bound = ntohs(sin.sin_port);
    return lev;
}

static void bev_server_free(struct bev_server *server)
{
    while (server->conns != NULL)
        bev_conn_free(server->conns);
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
}

static void plain_server_free(struct plain_server *server)
{
    while (server->conns != NULL)
        plain_conn_free(server->conns);
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
}

/* The three servers of cost.h, owned together. */
struct cost_servers {
    struct bev_server bev, bev_nodelay;
    struct plain_server plain;
};

/* See cost.h. */
struct cost_servers *cost_servers_new(struct event_base *base, uint16_t first_port,
                                      uint16_t ports[COST_SERVERS])
{
    struct cost_servers *s = calloc(1, sizeof *s);
    uint16_t p = first_port;

    if (s == NULL)
        return NULL;
    s->bev.base = s->bev_nodelay.base = s->plain.base = base;
    s->bev_nodelay.nodelay = true;
    s->bev.listener = listen_on(base, p, bev_accept_cb, &s->bev, &ports[0]);
    s->bev_nodelay.listener =
        listen_on(base, p != 0 ? (uint16_t)(p + 1) : 0, bev_accept_cb, &s->bev_nodelay, &ports[1]);
    s->plain.listener =
        listen_on(base, p != 0 ? (uint16_t)(p + 2) : 0, plain_accept_cb, &s->plain, &ports[2]);
    if (s->bev.listener == NULL || s->bev_nodelay.listener == NULL || s->plain.listener == NULL) {
        cost_servers_free(s);
        return NULL;
    }
    return s;
}

/* See cost.h. */
void cost_servers_free(struct cost_servers *s)
{
    if (s == NULL)
        return;
    bev_server_free(&s->bev);
    bev_server_free(&s->bev_nodelay);
    plain_server_free(&s->plain);
    free(s);
}
