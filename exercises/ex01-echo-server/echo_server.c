/*
 * echo_server.c - the listening side of the echo server: accept, limit, recover, shut down.
 *
 * An evconnlistener accepts clients and hands each socket to a connection (echo_conn.c); the
 * server keeps the list of live connections so that it can enforce the connection limit, stop
 * them all on shutdown, and free them all at the end. Nothing here blocks: every wait is an
 * event on the caller's event_base.
 *
 * Try it: `echo-server --port 7000`, then `nc 127.0.0.1 7000` in a second terminal.
 */
#include "echo_server.h"

#include "echo_conn.h"
#include "echo_log.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Until every TODO is done, some callbacks are not registered anywhere yet and some stubs do
 * not use their parameters or variables. These lines keep the compiler quiet about that;
 * delete them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"

/* After an accept error such as EMFILE (out of file descriptors) the listening socket stays
 * readable, so the listener would retry at full speed. It pauses this long instead. */
#define ECHO_ACCEPT_RETRY_MS 100
/* How long a shutdown waits for clients to take their last echo before closing anyway: short
 * enough that the program still exits within a second of Ctrl-C. */
#define ECHO_SHUTDOWN_GRACE_MS 500

struct echo_server {
    struct event_base *base;            /* not owned */
    struct echo_conn_env env;           /* shared by every connection */
    struct timeval idle_timeout;        /* env.idle_timeout points here or to libevent's copy */
    struct evconnlistener *listener;    /* owned; NULL once shutting down */
    struct event *retry_ev;             /* owned: re-enables the listener after an accept error */
    struct event *grace_ev;             /* owned: the shutdown deadline */
    struct echo_conn *conns;            /* live connections, newest first; owned */
    int nconns;
    int max_conns;
    uint16_t port;
    bool shutting_down;
};

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
                             struct sockaddr *sa, int socklen, void *arg);
static void server_accept_error_cb(struct evconnlistener *listener, void *arg);
static void server_retry_cb(evutil_socket_t fd, short what, void *arg);
static void server_grace_cb(evutil_socket_t fd, short what, void *arg);
static void server_conn_closed_cb(struct echo_conn *conn, void *arg);

static struct timeval ms_to_timeval(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/*
 * Binds and listens on host:port and records the real port (the kernel picks one when port is
 * 0). Returns 0, or -1 after logging why.
 */
static int server_listen(struct echo_server *server, const char *host, uint16_t port)
{
    /* TODO(1): bind the listener and report the port (lectures/03-tcp-networking/README.md#listeners)
     *   - Turn host and port into a socket address with getaddrinfo() (hints: AF_UNSPEC,
     *     SOCK_STREAM, AI_PASSIVE | AI_NUMERICSERV; the port as a decimal string). On failure
     *     log "cannot listen on HOST:PORT: <gai_strerror>" and return -1.
     *   - server->listener = evconnlistener_new_bind(server->base, server_accept_cb, server,
     *     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, addr, addrlen). CLOSE_ON_FREE closes
     *     the socket when the listener is freed; REUSEABLE lets a restarted server bind again
     *     at once. freeaddrinfo() afterwards.
     *   - NULL means the bind failed (say, the port is in use): log
     *     "cannot listen on HOST:PORT: <strerror(errno)>" with echo_log(server->env.log, ...)
     *     and return -1. Save errno before calling anything else.
     *   - With port 0 the kernel picks a free port: read it back with getsockname() on
     *     evconnlistener_get_fd(server->listener), and store it (ntohs) in server->port.
     *
     * TODO(8): accept errors (lectures/03-tcp-networking/README.md#accept-errors)
     *   - Register server_accept_error_cb with evconnlistener_set_error_cb().
     */
    echo_log(server->env.log, "cannot listen on %s:%u: TODO(1) is not done yet (no listener)", host,
             port);
    return -1;
}

struct echo_server *echo_server_new(struct event_base *base, const struct echo_server_config *cfg)
{
    struct echo_server *server = calloc(1, sizeof *server);
    if (server == NULL)
        return NULL;
    server->base = base;
    server->env.log = cfg->log;
    server->env.closed_cb = server_conn_closed_cb;
    server->env.closed_arg = server;
    server->max_conns = cfg->max_connections > 0 ? cfg->max_connections
                                                 : ECHO_DEFAULT_MAX_CONNECTIONS;

    if (cfg->idle_timeout_ms < 0) {
        echo_log(cfg->log, "idle timeout must be 0 (never) or more, not %d ms", cfg->idle_timeout_ms);
        goto err;
    }
    /* TODO(7): the idle timeout (lectures/03-tcp-networking/README.md#idle-timeouts)
     *   - If cfg->idle_timeout_ms > 0, convert it (ms_to_timeval) into server->idle_timeout
     *     and point server->env.idle_timeout at it. Every connection then passes it to
     *     event_add() for its read and write events; NULL (the default) means no timeout.
     *   - Better: env.idle_timeout = event_base_init_common_timeout(base, &server->idle_timeout).
     *     All connections share one duration, and libevent then keeps their timers in a queue
     *     instead of a heap, which makes each restart cheaper. Fall back to
     *     &server->idle_timeout if it returns NULL.
     */

    server->retry_ev = evtimer_new(base, server_retry_cb, server);
    server->grace_ev = evtimer_new(base, server_grace_cb, server);
    if (server->retry_ev == NULL || server->grace_ev == NULL) {
        echo_log(cfg->log, "cannot create the server's timers");
        goto err;
    }
    if (server_listen(server, cfg->host != NULL ? cfg->host : ECHO_DEFAULT_HOST, cfg->port) != 0)
        goto err;
    return server;

err:
    echo_server_free(server);
    return NULL;
}

uint16_t echo_server_port(const struct echo_server *server)
{
    return server->port;
}

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
                             struct sockaddr *sa, int socklen, void *arg)
{
    struct echo_server *server = arg;
    char peer[ECHO_PEER_STRLEN];

    echo_format_addr(sa, peer, sizeof peer);

    /* TODO(8): the connection limit (lectures/03-tcp-networking/README.md#many-connections)
     *   - If server->nconns has reached server->max_conns, log
     *     "disconnect PEER bytes=0 reason=over-limit", evutil_closesocket(fd) and return.
     *     Accepting and closing at once tells the client "no" immediately.
     */

    /* TODO(2): serve the new client (lectures/03-tcp-networking/README.md#many-connections)
     *   - conn = echo_conn_new(server->base, fd, peer, &server->env). It owns fd from now on.
     *     If it returns NULL, log "disconnect PEER bytes=0 reason=error: <strerror(ENOMEM)>".
     *   - Put conn at the head of the list: conn->next = server->conns (and fix that one's
     *     prev), server->conns = conn, server->nconns++.
     */
    evutil_closesocket(fd); /* until then: refuse the client */
}

static void server_accept_error_cb(struct evconnlistener *listener, void *arg)
{
    struct echo_server *server = arg;

    /* TODO(8): back off after an accept error (lectures/03-tcp-networking/README.md#accept-errors)
     *   - The error is in EVUTIL_SOCKET_ERROR() (read it first). Log
     *     "accept failed: <evutil_socket_error_to_string(err)>; pausing 100 ms"
     *     (use ECHO_ACCEPT_RETRY_MS).
     *   - evconnlistener_disable(listener): with EMFILE the listening socket stays readable,
     *     so an enabled listener would fail again at once, forever, at full speed.
     *   - evtimer_add(server->retry_ev, ...) with ECHO_ACCEPT_RETRY_MS; server_retry_cb
     *     enables the listener again.
     */
}

static void server_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_server *server = arg;

    /* TODO(8): evconnlistener_enable(server->listener), unless it is gone (shutdown). */
}

/* A connection is about to be freed: forget it. During a shutdown, the last one to go also
 * cancels the deadline, which leaves the base with no events so that dispatch returns. */
static void server_conn_closed_cb(struct echo_conn *conn, void *arg)
{
    struct echo_server *server = arg;

    /* TODO(6): forget a closed connection (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   - Unlink conn from the list (fix prev->next, or server->conns if it was the head, and
     *     next->prev), and server->nconns--.
     *
     * TODO(9): if server->shutting_down and no connection is left, event_del(server->grace_ev).
     */
}

/* The shutdown deadline passed: clients still not taking their echo are closed anyway. */
static void server_grace_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_server *server = arg;

    /* TODO(9): echo_conn_close(conn, "shutdown") every connection still in the list. Each
     * close unlinks itself (server_conn_closed_cb), so take server->conns until it is NULL. */
}

void echo_server_shutdown(struct echo_server *server)
{
    /* TODO(9): graceful shutdown (lectures/03-tcp-networking/README.md#graceful-shutdown)
     *   - Do it once: return if server->shutting_down is already set; set it.
     *   - Stop accepting: evconnlistener_free(server->listener) and set it to NULL (new
     *     clients then get "connection refused"), and event_del(server->retry_ev).
     *   - echo_conn_shutdown() every connection. It may free the connection: read conn->next
     *     before the call.
     *   - If some are left (still flushing), evtimer_add(server->grace_ev, ...) with
     *     ECHO_SHUTDOWN_GRACE_MS so that a client that never reads cannot keep the process up.
     */
}

void echo_server_free(struct echo_server *server)
{
    if (server == NULL)
        return;
    server->shutting_down = true;
    /* TODO(9): close every remaining connection: while (server->conns != NULL)
     * echo_conn_close(server->conns, "shutdown"); */
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
    if (server->retry_ev != NULL)
        event_free(server->retry_ev);
    if (server->grace_ev != NULL)
        event_free(server->grace_ev);
    free(server);
}
