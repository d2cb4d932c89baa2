/*
 * tcp_echo.c - the echo server behind Lecture 03 (the interface is in tcp_echo.h).
 *
 * Read it top to bottom: accept_cb turns a new socket into a connection, conn_read_cb echoes,
 * conn_write_cb and conn_event_cb decide when a connection ends, and tcp_echo_shutdown() says
 * goodbye to everyone. The program around it is tcp_echo_main.c; try it with
 *   ./tcp-echo            and in another terminal   nc 127.0.0.1 7030
 */
#include "tcp_echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define PEER_NAME_MAX 64 /* "[ipv6]:port" fits */
#define REASON_MAX 160   /* one close reason, for the log */

static const char GOODBYE[] = "server shutting down\n";

/* One client. It is in the server's list from accept_cb until conn_close(), which frees it. */
struct echo_conn {
    struct tcp_echo *server;
    struct bufferevent *bev; /* owns the socket (BEV_OPT_CLOSE_ON_FREE) */
    unsigned long id;
    char peer[PEER_NAME_MAX];
    bool paused;              /* reading stopped: the client is not reading its echo */
    bool closing;             /* reading stopped for good: close once the output is empty */
    const char *close_reason; /* logged when a closing connection finally closes */
    struct echo_conn *prev, *next;
};

struct tcp_echo {
    struct event_base *base;
    struct evconnlistener *listener; /* NULL once shutdown has begun */
    struct event *accept_resume;     /* timer: re-enables the listener after an accept error */
    struct event *grace;             /* timer: the shutdown's hard deadline */
    FILE *log;
    struct timeval idle; /* read and write timeout, when idle_ms > 0 */
    int idle_ms;
    uint16_t port;
    struct echo_conn *conns; /* every open connection: shutdown and free walk this list */
    unsigned long next_id;
    bool shutting_down;
    atomic_uint open_count, peak_count, accept_errors;
};

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                      int addrlen, void *arg);
static void accept_error_cb(struct evconnlistener *lev, void *arg);
static void accept_resume_cb(evutil_socket_t fd, short what, void *arg);
static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void grace_cb(evutil_socket_t fd, short what, void *arg);

__attribute__((format(printf, 2, 3))) static void echo_log(struct tcp_echo *server, const char *fmt,
                                                           ...)
{
    va_list ap;

    if (server->log == NULL)
        return;
    fputs("server: ", server->log);
    va_start(ap, fmt);
    vfprintf(server->log, fmt, ap);
    va_end(ap);
    fputc('\n', server->log);
    fflush(server->log);
}

/* Writes "host:port" of addr into out (always NUL-terminated). */
static void peer_name(const struct sockaddr *addr, char *out, size_t outsz)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
        evutil_inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        port = ntohs(sin->sin_port);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
        evutil_inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        port = ntohs(sin6->sin6_port);
    }
    snprintf(out, outsz, "%s:%u", host, port);
}

/* Frees the connection now. Unsent output is dropped: callers that care wait for the write
 * callback first (see conn_finish). Safe to call from the connection's own callbacks, which
 * must return right after. */
static void conn_close(struct echo_conn *conn, const char *why)
{
    struct tcp_echo *server = conn->server;

    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    unsigned open = atomic_fetch_sub(&server->open_count, 1) - 1;

    echo_log(server, "conn %lu closed: %s (%u open)", conn->id, why, open);
    bufferevent_free(conn->bev); /* closes the socket */
    free(conn);

    if (server->shutting_down && open == 0) {
        /* The last one: cancel the deadline so no event is left on the base. */
        event_del(server->grace);
        echo_log(server, "shutdown: every connection closed");
    }
}

/* Stops reading and closes the connection once everything already queued has been written.
 * bufferevent_free() would throw unsent bytes away, so the write callback does the closing. */
static void conn_finish(struct echo_conn *conn, const char *why)
{
    conn->closing = true;
    conn->close_reason = why;
    bufferevent_disable(conn->bev, EV_READ);
    /* The write callback must now run at "empty", not at the resume mark of a paused client. */
    bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
        conn_close(conn, why);
}

/* A new client. The listener has already accepted the socket and made it non-blocking; from
 * here on the socket belongs to us (and then to the bufferevent). */
static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                      int addrlen, void *arg)
{
    struct tcp_echo *server = arg;
    struct echo_conn *conn = NULL;
    char peer[PEER_NAME_MAX];

    (void)lev;
    (void)addrlen;
    peer_name(addr, peer, sizeof peer);
    if (atomic_load(&server->open_count) >= TCP_ECHO_MAX_CONNECTIONS) {
        /* Every connection costs a descriptor and memory: refuse rather than fall over. */
        echo_log(server, "refused %s: %d connections already open", peer, TCP_ECHO_MAX_CONNECTIONS);
        evutil_closesocket(fd);
        return;
    }

    conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        goto err;
    conn->bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (conn->bev == NULL)
        goto err;
    conn->server = server;
    conn->id = ++server->next_id;
    snprintf(conn->peer, sizeof conn->peer, "%s", peer);

    bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
    if (server->idle_ms > 0)
        bufferevent_set_timeouts(conn->bev, &server->idle, &server->idle);
    /* A new socket bufferevent can write but does not read until told to. */
    if (bufferevent_enable(conn->bev, EV_READ) != 0)
        goto err;

    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    unsigned open = atomic_fetch_add(&server->open_count, 1) + 1;
    if (open > atomic_load(&server->peak_count))
        atomic_store(&server->peak_count, open);
    echo_log(server, "conn %lu open from %s (%u open)", conn->id, conn->peer, open);
    return;

err:
    echo_log(server, "dropped %s: out of memory", peer);
    if (conn != NULL && conn->bev != NULL)
        bufferevent_free(conn->bev); /* closes fd too */
    else
        evutil_closesocket(fd);
    free(conn);
}

/* accept() failed with something other than "try again". The usual cause is EMFILE (out of
 * file descriptors). The pending connection stays in the backlog, so the listening socket
 * stays readable and the listener would call us again at once, forever, burning a core. Stop
 * listening for a moment instead; by then some client may have left and freed a descriptor. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct tcp_echo *server = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval pause = {0, TCP_ECHO_ACCEPT_PAUSE_MS * 1000};

    atomic_fetch_add(&server->accept_errors, 1);
    echo_log(server, "accept failed: %s; pausing accepts for %d ms",
             evutil_socket_error_to_string(err), TCP_ECHO_ACCEPT_PAUSE_MS);
    evconnlistener_disable(lev);
    evtimer_add(server->accept_resume, &pause);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tcp_echo *server = arg;

    (void)fd;
    (void)what;
    echo_log(server, "resuming accepts");
    evconnlistener_enable(server->listener);
}

/* Bytes arrived. They are already in the bufferevent's input buffer; move them to its output
 * buffer and let the bufferevent write them when the socket can take them. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct echo_conn *conn = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer *out = bufferevent_get_output(bev);

    /* Moves the input's chunks onto the output: no bytes are copied, and `in` ends empty. */
    evbuffer_add_buffer(out, in);

    /* Backpressure. A client that sends but never reads would make `out` grow without limit.
     * Past the bound, stop reading from it; the kernel's buffers fill and its writes block.
     * The write low watermark makes conn_write_cb run once `out` has drained to the resume
     * mark, and that callback starts reading again. */
    size_t pending = evbuffer_get_length(out);
    if (pending >= TCP_ECHO_MAX_PENDING) {
        conn->paused = true;
        bufferevent_disable(bev, EV_READ);
        bufferevent_setwatermark(bev, EV_WRITE, TCP_ECHO_RESUME_AT, 0);
        echo_log(conn->server, "conn %lu: %zu bytes unread by the client: pause reading", conn->id,
                 pending);
    }
}

/* The output has drained to the write low watermark: 0 bytes normally, TCP_ECHO_RESUME_AT
 * while paused. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct echo_conn *conn = arg;
    struct evbuffer *out = bufferevent_get_output(bev);

    if (conn->closing) {
        if (evbuffer_get_length(out) == 0)
            conn_close(conn, conn->close_reason);
        return;
    }
    if (conn->paused) {
        conn->paused = false;
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        bufferevent_enable(bev, EV_READ);
        echo_log(conn->server, "conn %lu: output down to %zu bytes: resume reading", conn->id,
                 evbuffer_get_length(out));
    }
}

/* Everything that is not data: end of stream, errors and timeouts. `what` says which, and
 * whether it happened while reading or writing. */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct echo_conn *conn = arg;
    int err = EVUTIL_SOCKET_ERROR(); /* read it before anything else can change it */
    const char *doing = (what & BEV_EVENT_READING) ? "reading" : "writing";
    char why[REASON_MAX];

    if (what & BEV_EVENT_TIMEOUT) {
        /* A read timeout means the client sent nothing for idle_ms; a write timeout means it
         * read nothing of its echo for that long. Either way it is gone in all but name. */
        snprintf(why, sizeof why, "%s for %d ms",
                 (what & BEV_EVENT_READING) ? "idle" : "not reading", conn->server->idle_ms);
        conn_close(conn, why);
    } else if (what & BEV_EVENT_ERROR) {
        /* ECONNRESET is a client that aborted (RST); EPIPE a write to one that has gone. */
        snprintf(why, sizeof why, "error while %s: %s", doing, evutil_socket_error_to_string(err));
        conn_close(conn, why);
    } else if (what & BEV_EVENT_EOF) {
        /* The client will send nothing more. It may have closed completely, or only its
         * sending side (a half-close) and still be reading: finish sending, then close. */
        size_t pending = evbuffer_get_length(bufferevent_get_output(bev));
        if (pending > 0)
            echo_log(conn->server, "conn %lu: EOF from client, %zu bytes still to send", conn->id,
                     pending);
        conn_finish(conn, "EOF, all output sent");
    }
}

/* The shutdown took longer than TCP_ECHO_SHUTDOWN_GRACE_MS: drop whoever is left. */
static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tcp_echo *server = arg;

    (void)fd;
    (void)what;
    echo_log(server, "shutdown: grace period over, dropping %u client(s)",
             atomic_load(&server->open_count));
    while (server->conns != NULL)
        conn_close(server->conns, "shutdown deadline");
}

struct tcp_echo *tcp_echo_new(struct event_base *base, const struct tcp_echo_options *opts)
{
    struct tcp_echo *server = calloc(1, sizeof *server);
    struct sockaddr_in sin;
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;

    if (server == NULL)
        return NULL;
    server->base = base;
    server->log = opts->log;
    server->idle_ms = opts->idle_ms;
    server->idle.tv_sec = opts->idle_ms / 1000;
    server->idle.tv_usec = (opts->idle_ms % 1000) * 1000;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(opts->port);
    if (evutil_inet_pton(AF_INET, opts->host, &sin.sin_addr) != 1) {
        fprintf(stderr, "tcp_echo: %s is not an IPv4 address\n", opts->host);
        goto err;
    }
    server->accept_resume = evtimer_new(base, accept_resume_cb, server);
    server->grace = evtimer_new(base, grace_cb, server);
    if (server->accept_resume == NULL || server->grace == NULL)
        goto err;

    /* REUSEABLE sets SO_REUSEADDR, so a restarted server can bind at once even while the old
     * one's connections sit in TIME_WAIT. CLOSE_ON_FREE closes the socket with the listener.
     * The backlog is the kernel's queue of connections not yet accepted; when it is full, new
     * clients wait a second and retry. (-1 would let libevent pick: 128.) */
    server->listener =
        evconnlistener_new_bind(base, accept_cb, server, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                TCP_ECHO_BACKLOG, (struct sockaddr *)&sin, sizeof sin);
    if (server->listener == NULL) {
        fprintf(stderr, "tcp_echo: cannot listen on %s:%u: %s\n", opts->host, opts->port,
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        goto err;
    }
    evconnlistener_set_error_cb(server->listener, accept_error_cb);

    /* With port 0 the kernel chose the port when the socket was bound: ask the socket. */
    if (getsockname(evconnlistener_get_fd(server->listener), (struct sockaddr *)&bound,
                    &bound_len) != 0)
        goto err;
    server->port = ntohs(bound.sin_port);
    return server;

err:
    tcp_echo_free(server);
    return NULL;
}

uint16_t tcp_echo_port(const struct tcp_echo *server)
{
    return server->port;
}

void tcp_echo_shutdown(struct tcp_echo *server)
{
    struct timeval grace = {TCP_ECHO_SHUTDOWN_GRACE_MS / 1000,
                            (TCP_ECHO_SHUTDOWN_GRACE_MS % 1000) * 1000};
    struct echo_conn *conn, *next;

    if (server->shutting_down)
        return;
    server->shutting_down = true;

    /* Stop accepting. Freeing the listener closes the listening socket, so a client that
     * arrives now is refused at once instead of waiting in a backlog nobody will serve. */
    evconnlistener_free(server->listener);
    server->listener = NULL;
    event_del(server->accept_resume);

    unsigned open = atomic_load(&server->open_count);
    echo_log(server, "shutdown: stopped accepting; saying goodbye to %u client(s)", open);
    if (open == 0)
        return;
    for (conn = server->conns; conn != NULL; conn = next) {
        next = conn->next;
        bufferevent_write(conn->bev, GOODBYE, sizeof GOODBYE - 1);
        conn_finish(conn, "shutdown, goodbye sent"); /* output is not empty: nothing is freed */
    }
    evtimer_add(server->grace, &grace);
}

void tcp_echo_free(struct tcp_echo *server)
{
    if (server == NULL)
        return;
    while (server->conns != NULL) {
        struct echo_conn *conn = server->conns;
        server->conns = conn->next;
        bufferevent_free(conn->bev);
        free(conn);
    }
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
    if (server->accept_resume != NULL)
        event_free(server->accept_resume);
    if (server->grace != NULL)
        event_free(server->grace);
    free(server);
}

unsigned tcp_echo_open_count(const struct tcp_echo *server)
{
    return atomic_load(&server->open_count);
}

unsigned tcp_echo_peak_count(const struct tcp_echo *server)
{
    return atomic_load(&server->peak_count);
}

unsigned tcp_echo_accept_errors(const struct tcp_echo *server)
{
    return atomic_load(&server->accept_errors);
}
