/*
 * idle_server.h - a small line server that closes idle connections: the code under test of
 * step_loop.c.
 *
 * It answers "ok\n" for every line a connection sends and closes a connection silent for
 * idle_ms. The one thing that makes it testable without waiting: it never reads the time
 * itself. It asks the clock function in its config, so a test can hand it a fake clock and
 * move time forward by hand.
 */
#ifndef IDLE_SERVER_H
#define IDLE_SERVER_H

#include <event2/util.h>
#include <stddef.h>
#include <stdint.h>

#define IDLE_SERVER_MAX_CONNS 16 /* connections kept; more are closed at once */

/* "Now" in milliseconds on a clock that never goes back. */
typedef int64_t (*idle_clock_fn)(void *ctx);

struct idle_server_config {
    int64_t idle_ms;   /* close a connection silent this long */
    int sweep_ms;      /* how often the sweep timer looks for idle connections */
    idle_clock_fn now; /* the clock; idle_clock_real in production */
    void *now_ctx;     /* passed to now() */
};

struct event;
struct event_base;
struct idle_server;

/* CLOCK_MONOTONIC in milliseconds; ctx is unused. */
int64_t idle_clock_real(void *ctx);

/* NULL when out of memory. The config is copied. */
struct idle_server *idle_server_new(struct event_base *base, const struct idle_server_config *cfg);

/* Serves a connected socket; the server owns fd from now on (and closes it when full).
 * Returns 0 or -1. */
int idle_server_add(struct idle_server *srv, evutil_socket_t fd);

/* The sweep timer, so that a test can fire it now instead of waiting for it. */
struct event *idle_server_sweep_event(struct idle_server *srv);

size_t idle_server_nconns(const struct idle_server *srv);
unsigned long idle_server_nlines(const struct idle_server *srv);

/* Closes every connection and frees the server. */
void idle_server_free(struct idle_server *srv);

#endif
