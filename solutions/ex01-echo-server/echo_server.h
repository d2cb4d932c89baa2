/*
 * echo_server.h - Exercise 01: an asynchronous TCP echo server on libevent.
 *
 * The server runs on an event_base you own. It accepts any number of clients, sends every byte
 * each client sends straight back, and never lets one client hold up another: a client that
 * stops reading is paused, a client that goes quiet is disconnected, and the server's memory
 * stays bounded whatever clients do.
 *
 * This header is the same in exercises/ and solutions/: the tests use only what is here.
 */
#ifndef ECHO_SERVER_H
#define ECHO_SERVER_H

#include <stdint.h>
#include <stdio.h>

struct event_base;

#define ECHO_DEFAULT_HOST "127.0.0.1"
#define ECHO_DEFAULT_PORT 7000
#define ECHO_DEFAULT_IDLE_TIMEOUT_MS 30000 /* close connections silent this long */
#define ECHO_DEFAULT_MAX_CONNECTIONS 1024
/* Per-client bound on bytes waiting to be written back. Over it, the server stops reading from
 * that client until the client has read enough of its echo. */
#define ECHO_MAX_PENDING_BYTES (256 * 1024)

struct echo_server_config {
    const char *host;    /* address to bind, e.g. "127.0.0.1"; NULL means the default */
    uint16_t port;       /* 0 picks a free port: ask echo_server_port() which one */
    int idle_timeout_ms; /* close a connection that sends nothing this long; 0 = never */
    int max_connections; /* further clients are closed at once (and logged); 0 = default */
    FILE *log;           /* one line per connect/disconnect; NULL = no logging */
};

struct echo_server;

/*
 * Creates the server and starts listening on cfg->host:cfg->port. Returns NULL if the address
 * cannot be bound (the reason is written to cfg->log). The config is copied; cfg->log must stay
 * open until echo_server_free(). Nothing happens until the caller runs the event loop.
 */
struct echo_server *echo_server_new(struct event_base *base, const struct echo_server_config *cfg);

/* The port the server is listening on (the real one when the config asked for port 0). */
uint16_t echo_server_port(const struct echo_server *server);

/*
 * Starts a graceful shutdown: stops accepting and echoing, and ends each connection as soon as
 * its pending output has been written: the client gets EOF after its last echo, and the socket
 * is closed (logged as "shutdown") once the client closes too. Connections still open half a
 * second later are closed anyway, so a shutdown always ends. When
 * every connection is gone the server has no events left on the base, so event_base_dispatch()
 * returns by itself. Call it from the loop's thread (for example from a signal event's callback).
 */
void echo_server_shutdown(struct echo_server *server);

/*
 * Closes every remaining connection (logged as "shutdown"; unsent output is dropped), the
 * listener and all timers, and frees the server. Call it when the loop is not running, or from
 * the loop's thread. NULL is allowed.
 */
void echo_server_free(struct echo_server *server);

#endif
