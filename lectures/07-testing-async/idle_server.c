/*
 * idle_server.c - see idle_server.h. One persistent read event per connection, and one
 * persistent timer that sweeps the idle ones out. Every "now" comes from cfg.now.
 */
#include "idle_server.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct idle_conn {
    evutil_socket_t fd;
    struct event *read_ev; /* owned */
    int64_t last_ms;       /* when this connection last sent something, on cfg.now's clock */
};

struct idle_server {
    struct idle_server_config cfg;
    struct event *sweep_ev; /* owned */
    struct idle_conn *conns[IDLE_SERVER_MAX_CONNS];
    unsigned long nlines;
};

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void sweep_cb(evutil_socket_t fd, short what, void *arg);

int64_t idle_clock_real(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct idle_server *idle_server_new(struct event_base *base, const struct idle_server_config *cfg)
{
    struct idle_server *srv = calloc(1, sizeof *srv);
    struct timeval every = {cfg->sweep_ms / 1000, (cfg->sweep_ms % 1000) * 1000};

    if (srv == NULL)
        return NULL;
    srv->cfg = *cfg;
    srv->sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, srv);
    if (srv->sweep_ev == NULL || event_add(srv->sweep_ev, &every) != 0) {
        idle_server_free(srv);
        return NULL;
    }
    return srv;
}

static void conn_close(struct idle_server *srv, int slot)
{
    struct idle_conn *conn = srv->conns[slot];
    event_free(conn->read_ev);
    close(conn->fd);
    free(conn);
    srv->conns[slot] = NULL;
}

int idle_server_add(struct idle_server *srv, evutil_socket_t fd)
{
    for (int i = 0; i < IDLE_SERVER_MAX_CONNS; i++) {
        if (srv->conns[i] != NULL)
            continue;
        struct idle_conn *conn = calloc(1, sizeof *conn);
        if (conn == NULL)
            break;
        conn->fd = fd;
        conn->last_ms = srv->cfg.now(srv->cfg.now_ctx);
        conn->read_ev =
            event_new(event_get_base(srv->sweep_ev), fd, EV_READ | EV_PERSIST, conn_read_cb, srv);
        srv->conns[i] = conn;
        if (conn->read_ev == NULL || event_add(conn->read_ev, NULL) != 0) {
            if (conn->read_ev != NULL)
                event_free(conn->read_ev);
            free(conn);
            srv->conns[i] = NULL;
            break;
        }
        evutil_make_socket_nonblocking(fd);
        return 0;
    }
    close(fd);
    return -1;
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct idle_server *srv = arg;
    char buf[512];
    int slot = 0;
    (void)what;

    while (slot < IDLE_SERVER_MAX_CONNS && (srv->conns[slot] == NULL || srv->conns[slot]->fd != fd))
        slot++;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(srv, slot);
        return;
    }
    srv->conns[slot]->last_ms = srv->cfg.now(srv->cfg.now_ctx);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n') {
            srv->nlines++;
            if (write(fd, "ok\n", 3) != 3) /* a sketch: a real server buffers (Lecture 03) */
                break;
        }
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct idle_server *srv = arg;
    int64_t now = srv->cfg.now(srv->cfg.now_ctx);
    (void)fd;
    (void)what;

    for (int i = 0; i < IDLE_SERVER_MAX_CONNS; i++)
        if (srv->conns[i] != NULL && now - srv->conns[i]->last_ms >= srv->cfg.idle_ms)
            conn_close(srv, i);
}

struct event *idle_server_sweep_event(struct idle_server *srv)
{
    return srv->sweep_ev;
}

size_t idle_server_nconns(const struct idle_server *srv)
{
    size_t n = 0;
    for (int i = 0; i < IDLE_SERVER_MAX_CONNS; i++)
        n += srv->conns[i] != NULL;
    return n;
}

unsigned long idle_server_nlines(const struct idle_server *srv)
{
    return srv->nlines;
}

void idle_server_free(struct idle_server *srv)
{
    if (srv == NULL)
        return;
    for (int i = 0; i < IDLE_SERVER_MAX_CONNS; i++)
        if (srv->conns[i] != NULL)
            conn_close(srv, i);
    if (srv->sweep_ev != NULL)
        event_free(srv->sweep_ev);
    free(srv);
}
