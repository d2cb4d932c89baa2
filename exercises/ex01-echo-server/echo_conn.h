/*
 * echo_conn.h - one client connection of the echo server.
 *
 * A connection echoes with the cheapest path libevent offers: one EV_READ|EV_PERSIST event,
 * a read() into a buffer on the stack, and an immediate write() of what was read. Only the
 * bytes the kernel refuses (because the client is slow to read) are copied into `pending`,
 * and only while there are such bytes is an EV_WRITE event armed to flush them. A client
 * that sends much and reads little therefore costs at most ECHO_MAX_PENDING_BYTES: past that
 * the connection stops reading until the client catches up.
 *
 * The server (echo_server.c) accepts sockets and keeps the list of live connections; this
 * module owns everything that happens on one socket, from the first read to the close.
 */
#ifndef ECHO_CONN_H
#define ECHO_CONN_H

#include "echo_log.h"

#include <event2/util.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct event;
struct event_base;
struct evbuffer;
struct timeval;
struct echo_conn;

/* Called by echo_conn_close() just before the connection is freed, so its owner can forget it. */
typedef void (*echo_conn_closed_cb)(struct echo_conn *conn, void *arg);

/* What every connection of one server shares. The server owns it; connections only point to it,
 * so it must outlive them. */
struct echo_conn_env {
    FILE *log;                          /* connect/disconnect lines; NULL = none */
    const struct timeval *idle_timeout; /* close a connection idle this long; NULL = never */
    echo_conn_closed_cb closed_cb;
    void *closed_arg;
};

struct echo_conn {
    const struct echo_conn_env *env;
    evutil_socket_t fd;       /* owned: closed by echo_conn_close() */
    struct event *read_ev;    /* EV_READ|EV_PERSIST; added while `reading` */
    struct event *write_ev;   /* EV_WRITE|EV_PERSIST; added while `pending` is not empty */
    struct evbuffer *pending; /* echo bytes the kernel has not taken yet */
    uint64_t bytes_echoed;    /* bytes the kernel has taken from us, for the log */
    bool reading;             /* read_ev is added (false while paused, after EOF, in shutdown) */
    bool peer_eof;            /* the client shut its write side: close once pending is sent */
    bool shutting_down;       /* the server is stopping: no more echoes; finish what is pending */
    bool lingering; /* shutting down, all sent, FIN sent: discard input until the client closes */
    char peer[ECHO_PEER_STRLEN];
    struct echo_conn *prev, *next; /* the server's list of live connections (the server's to use) */
};

/*
 * Starts serving a freshly accepted, non-blocking socket: arms the read event and logs
 * "connect PEER". Takes ownership of fd (it is closed even when this fails). `env` must outlive
 * the connection. Returns the connection, or NULL when out of memory.
 */
struct echo_conn *echo_conn_new(struct event_base *base, evutil_socket_t fd, const char *peer,
                                const struct echo_conn_env *env);

/* Stops echoing. As soon as everything already read has been echoed (at once if nothing is
 * pending), sends EOF to the client, reads and discards until the client closes too, then
 * closes (reason "shutdown"): a lingering close, so that no reset destroys the last echo bytes.
 * The connection may be freed here. */
void echo_conn_shutdown(struct echo_conn *conn);

/* Logs "disconnect PEER bytes=N reason=REASON", calls env->closed_cb, closes the socket
 * (dropping any unsent output) and frees the connection. Safe inside the connection's own
 * callbacks, which must return right after. */
void echo_conn_close(struct echo_conn *conn, const char *reason);

#endif
