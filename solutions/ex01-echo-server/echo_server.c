/*
 * echo_server.c - the listening side of the echo server: accept, limit, recover, shut down.
 *
 * An evconnlistener accepts clients and hands each socket to a connection (echo_conn.c); the
 * server keeps the list of live connections so that it can enforce the connection limit, stop
 * them all on shutdown, and free them all at the end. Nothing here blocks: every wait is an
 * event on the caller's event_base.
 *
 * Try it: `echo-server --port 7000`, then, in a second terminal, the commands in the exercise's
 * README ("Build it and try it by hand"), or `nc 127.0.0.1 7000` if you have netcat.
 */
#include "echo_server.h"

#include "echo_conn.h"
#include "echo_log.h"

#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* After an accept error such as EMFILE (out of file descriptors) the listening socket stays
 * readable, so the listener would retry at full speed. It pauses this long instead. */
#define ECHO_ACCEPT_RETRY_MS 100
/* How long a shutdown waits for clients to take their last echo before closing anyway: short
 * enough that the program still exits within a second of Ctrl-C. */
#define ECHO_SHUTDOWN_GRACE_MS 500

struct echo_server {
    struct event_base *base;         /* not owned */
    struct echo_conn_env env;        /* shared by every connection */
    struct timeval idle_timeout;     /* env.idle_timeout points here or to libevent's copy */
    struct evconnlistener *listener; /* owned; NULL once shutting down */
    struct event *retry_ev;          /* owned: re-enables the listener after an accept error */
    struct event *grace_ev;          /* owned: the shutdown deadline */
    struct echo_conn *conns;         /* live connections, newest first; owned */
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
    /* STUDENT(1): Listen on host:port, and record in server->port the port actually bound:
     * with port 0 the kernel picks a free one, and the tests (and your users) ask
     * echo_server_port() which. The host is a numeric address ("127.0.0.1", "::1"); port is a
     * number, not a service name.
     * If the address cannot be bound (the port is taken, say), log one line
     *     cannot listen on HOST:PORT: <the system's error text>
     * and return -1. Trap: errno is only good until the next call that can fail, and freeing
     * memory can change it: save it at once. A restarted server must be able to bind its port
     * again at once, and freeing the listener must close its socket.
     * stub:
     *     echo_log(server->env.log, "cannot listen on %s:%u: server_listen() is not written yet",
     *              host, port);
     *     return -1; */
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];

    snprintf(portstr, sizeof portstr, "%u", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        echo_log(server->env.log, "cannot listen on %s:%u: %s", host, port, gai_strerror(gai));
        return -1;
    }
    /* CLOSE_ON_FREE: freeing the listener closes its socket. REUSEABLE: a restarted server
     * can bind again at once, without waiting for old connections in TIME_WAIT. */
    server->listener = evconnlistener_new_bind(server->base, server_accept_cb, server,
                                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                               res->ai_addr, (int)res->ai_addrlen);
    int err = errno;
    freeaddrinfo(res);
    if (server->listener == NULL) {
        echo_log(server->env.log, "cannot listen on %s:%u: %s", host, port, strerror(err));
        return -1;
    }

    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getsockname(evconnlistener_get_fd(server->listener), (struct sockaddr *)&ss, &sslen) != 0) {
        echo_log(server->env.log, "cannot read the listening address: %s", strerror(errno));
        return -1;
    }
    server->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
    /* END STUDENT(1) */

    /* STUDENT(8): When accept() fails (out of file descriptors, say), the listener must call
     * server_accept_error_cb instead of retrying on its own.
     * stub: */
    evconnlistener_set_error_cb(server->listener, server_accept_error_cb);
    /* END STUDENT(8) */
    return 0;
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
    server->max_conns =
        cfg->max_connections > 0 ? cfg->max_connections : ECHO_DEFAULT_MAX_CONNECTIONS;

    if (cfg->idle_timeout_ms < 0) {
        echo_log(cfg->log, "idle timeout must be 0 (never) or more, not %d ms",
                 cfg->idle_timeout_ms);
        goto err;
    }
    /* STUDENT(7): With idle_timeout_ms > 0, point server->env.idle_timeout at that duration
     * (server->idle_timeout is there to hold it); every connection hands it to libevent with
     * its events. 0 means no timeout at all: leave it NULL. Trap: a zero duration is not "no
     * timeout", it is "time out at once".
     * stub: */
    if (cfg->idle_timeout_ms > 0) {
        /* Every connection restarts a timer of this same length on each read. Declared as a
         * "common timeout", libevent keeps those timers in a simple queue instead of its heap,
         * which makes each restart O(1). Plain &server->idle_timeout also works, if slower. */
        server->idle_timeout = ms_to_timeval(cfg->idle_timeout_ms);
        server->env.idle_timeout = event_base_init_common_timeout(base, &server->idle_timeout);
        if (server->env.idle_timeout == NULL)
            server->env.idle_timeout = &server->idle_timeout;
    }
    /* END STUDENT(7) */

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
    (void)listener;
    (void)socklen;

    echo_format_addr(sa, peer, sizeof peer);

    /* STUDENT(8): Serve at most server->max_conns clients at once. One more is told "no" at
     * once: closed right away, and logged as
     *     disconnect PEER bytes=0 reason=over-limit
     * with no "connect" line. Trap: leaving it unaccepted in the kernel's queue would make the
     * client wait for an answer that may never come.
     * stub: */
    if (server->nconns >= server->max_conns) {
        echo_log(server->env.log, "disconnect %s bytes=0 reason=over-limit", peer);
        evutil_closesocket(fd);
        return;
    }
    /* END STUDENT(8) */

    /* STUDENT(2): Give the new client a connection of its own (echo_conn_new) and keep it in
     * the server's list, newest first, counting it in server->nconns: the list is how the
     * server finds every connection again to limit, shut down and free them. From the call on,
     * the connection owns fd, even when the call fails; then log
     *     disconnect PEER bytes=0 reason=error: <the text of ENOMEM>
     * stub:
     *     evutil_closesocket(fd); */
    struct echo_conn *conn = echo_conn_new(server->base, fd, peer, &server->env);
    if (conn == NULL) {
        echo_log(server->env.log, "disconnect %s bytes=0 reason=error: %s", peer, strerror(ENOMEM));
        return;
    }
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    server->nconns++;
    /* END STUDENT(2) */
}

static void server_accept_error_cb(struct evconnlistener *listener, void *arg)
{
    struct echo_server *server = arg;

    /* STUDENT(8): accept() failed. Log
     *     accept failed: <the system's error text>; pausing 100 ms
     * (100 is ECHO_ACCEPT_RETRY_MS), stop accepting, and have server->retry_ev start accepting
     * again that much later. Trap: out of file descriptors (EMFILE) the pending client stays in
     * the queue and the listening socket stays readable, so a listener left on fails again at
     * once, forever, at full speed. Read the error before any other call can change it.
     * stub: */
    struct timeval retry = ms_to_timeval(ECHO_ACCEPT_RETRY_MS);
    int err = EVUTIL_SOCKET_ERROR();

    echo_log(server->env.log, "accept failed: %s; pausing %d ms",
             evutil_socket_error_to_string(err), ECHO_ACCEPT_RETRY_MS);
    evconnlistener_disable(listener);
    evtimer_add(server->retry_ev, &retry);
    /* END STUDENT(8) */
}

static void server_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_server *server = arg;
    (void)fd;
    (void)what;

    /* STUDENT(8): The pause is over: accept again, unless a shutdown has freed the listener.
     * stub: */
    if (server->listener != NULL)
        evconnlistener_enable(server->listener);
    /* END STUDENT(8) */
}

/* A connection is about to be freed: forget it. During a shutdown, the last one to go also
 * cancels the deadline, which leaves the base with no events so that dispatch returns. */
static void server_conn_closed_cb(struct echo_conn *conn, void *arg)
{
    struct echo_server *server = arg;

    /* STUDENT(6): Take conn out of the server's list and count it out of server->nconns: it
     * is about to be freed, and its place must be free for the next client. Trap: it may be
     * the head of the list, the tail, or both.
     * stub: */
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    assert(server->nconns > 0);
    server->nconns--;
    /* END STUDENT(6) */

    /* STUDENT(9): During a shutdown, the last connection to go cancels the deadline
     * (server->grace_ev): the base is then empty, and the loop returns by itself.
     * stub: */
    if (server->shutting_down && server->nconns == 0)
        event_del(server->grace_ev);
    /* END STUDENT(9) */
}

/* The shutdown deadline passed: clients still not taking their echo are closed anyway. */
static void server_grace_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_server *server = arg;
    (void)fd;
    (void)what;

    /* STUDENT(9): The deadline passed: close every connection still there, reason "shutdown".
     * Trap: each close takes the connection out of the list while you walk it.
     * stub: */
    while (server->conns != NULL)
        echo_conn_close(server->conns, "shutdown");
    /* END STUDENT(9) */
}

void echo_server_shutdown(struct echo_server *server)
{
    /* STUDENT(9): Stop gracefully, once (a second call does nothing): new clients must get
     * "connection refused" at once, so close the listening socket, not just pause it, and
     * cancel a pending accept retry. Then shut down every connection (echo_conn_shutdown). Give
     * those still flushing ECHO_SHUTDOWN_GRACE_MS (server->grace_ev), so that a client that
     * never reads cannot keep the process alive. Trap: echo_conn_shutdown() may free the
     * connection you hand it, next pointer included.
     * stub: */
    struct timeval grace = ms_to_timeval(ECHO_SHUTDOWN_GRACE_MS);

    if (server->shutting_down)
        return;
    server->shutting_down = true;
    /* Closing the listening socket (not merely disabling the listener) makes new clients get
     * "connection refused" at once instead of waiting in the backlog. */
    evconnlistener_free(server->listener);
    server->listener = NULL;
    event_del(server->retry_ev);

    for (struct echo_conn *conn = server->conns, *next; conn != NULL; conn = next) {
        next = conn->next; /* echo_conn_shutdown() may free conn */
        echo_conn_shutdown(conn);
    }
    if (server->conns != NULL)
        evtimer_add(server->grace_ev, &grace);
    /* END STUDENT(9) */
}

void echo_server_free(struct echo_server *server)
{
    if (server == NULL)
        return;
    server->shutting_down = true;
    /* STUDENT(9): Close every connection that is still open (reason "shutdown"): the server
     * owns them, and freeing it must free them, their sockets included.
     * stub: */
    while (server->conns != NULL)
        echo_conn_close(server->conns, "shutdown");
    /* END STUDENT(9) */
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
    if (server->retry_ev != NULL)
        event_free(server->retry_ev);
    if (server->grace_ev != NULL)
        event_free(server->grace_ev);
    free(server);
}
