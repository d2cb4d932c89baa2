/*
 * chat_server.h - Exercise 02: a multi-client chat server on libevent.
 *
 * The server runs on an event_base you own. Everyone who connects is in one room: a line a
 * client sends goes to every other client, prefixed with the sender's nickname, and a few
 * commands (/nick, /list, /me, /help, /quit) manage the room. The protocol itself lives in
 * chat_room.h; this module is the networking around it: accepting clients, reading lines,
 * fanning them out, and keeping every client's buffers bounded, so that one slow or hostile
 * client can neither stall the others nor grow the server's memory.
 *
 * The process must ignore SIGPIPE (main.c does): writing to a client that has gone then fails
 * with EPIPE, and only that client is closed, instead of the whole server being killed.
 *
 * This header is the same in exercises/ and solutions/: the tests use only what is here.
 */
#ifndef CHAT_SERVER_H
#define CHAT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct event_base;

#define CHAT_DEFAULT_HOST "127.0.0.1"
#define CHAT_DEFAULT_PORT 7001
/* The command's default: close clients silent for 10 minutes. */
#define CHAT_DEFAULT_IDLE_TIMEOUT_MS 600000
#define CHAT_DEFAULT_MAX_CONNECTIONS 1024
/* A /list of this many names still fits the output bound. */
#define CHAT_MAX_CONNECTIONS_LIMIT 10000
/* Per-client bound on output the kernel has not taken yet. A client further behind than this
 * is disconnected ("slow-reader"): the others never wait for it. */
#define CHAT_DEFAULT_MAX_OUTPUT_BYTES (256 * 1024)
/* A leaving client that takes none of its last lines this long is cut off. */
#define CHAT_DEFAULT_CLOSE_GRACE_MS 2000

struct chat_server_config {
    const char *host;         /* address to bind, e.g. "127.0.0.1"; NULL means the default */
    uint16_t port;            /* 0 picks a free port: ask chat_server_port() which one */
    int idle_timeout_ms;      /* close a client that sends nothing this long; 0 = never */
    int max_connections;      /* further clients get "! server full"; 0 = the default */
    const char *history_file; /* JSON lines, loaded at start, appended to; NULL = memory only */
    int history_size;         /* messages kept and replayed to newcomers; 0 = the default (50) */
    size_t max_output_bytes;  /* per-client output bound; 0 = the default */
    int close_grace_ms;       /* a leaving client's last lines wait this long; 0 = the default */
    FILE *log;                /* one line per connect/disconnect/rename/drop; NULL = no logging */
};

struct chat_server;

/*
 * Creates the server: loads the history and starts listening on cfg->host:cfg->port. Returns
 * NULL if the config is out of range, the history file cannot be used, or the address cannot
 * be bound (the reason is written to cfg->log). The config is copied; cfg->log must stay open
 * until chat_server_free(). Nothing happens until the caller runs the event loop.
 */
struct chat_server *chat_server_new(struct event_base *base, const struct chat_server_config *cfg);

/* The port the server is listening on (the real one when the config asked for port 0). */
uint16_t chat_server_port(const struct chat_server *server);

/*
 * Starts a graceful shutdown: stops accepting and reading, sends every client
 * "* server shutting down", and closes each connection once its output is written (logged as
 * "shutdown"); clients that do not take their output within a short grace period are closed
 * anyway. When every connection is gone the server has no events left on the base, so
 * event_base_dispatch() returns by itself. Call it from the loop's thread.
 */
void chat_server_shutdown(struct chat_server *server);

/*
 * Closes every remaining connection (logged as "shutdown"; unsent output is dropped), the
 * listener and all timers, closes the history file and frees the server. Call it when the
 * loop is not running, or from the loop's thread. NULL is allowed.
 */
void chat_server_free(struct chat_server *server);

#endif
