/*
 * backpressure.h - a TCP relay with watermark backpressure (the pattern of libevent's
 * sample/le-proxy.c). backpressure.c has the relay, backpressure_main.c the program around it,
 * and backpressure_script.c the source and sink that `tcp-backpressure --demo` runs through it.
 */
#ifndef LECTURE03_BACKPRESSURE_H
#define LECTURE03_BACKPRESSURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#define RELAY_HIGH (256 * 1024) /* stop reading a side when its partner's output holds this */
#define RELAY_LOW (64 * 1024)   /* ...and resume when that output has drained to this */
#define MIB (1024 * 1024)

struct relay;

/* Listens on 127.0.0.1:port (0 = any free port) and relays each client to `to` ("host:port").
 * Unbounded (bounded = false), it reads from the source however full the sink's output gets.
 * Logs one line per event to `log` (not owned; NULL = silent). Returns the relay (free it with
 * relay_free), or NULL with the reason on stderr. */
struct relay *relay_new(struct event_base *base, uint16_t port, const char *to, bool bounded,
                        FILE *log);

/* The port actually bound. */
uint16_t relay_port(const struct relay *relay);

/* Closes every pair (dropping bytes not yet sent) and the listener, then frees the relay.
 * NULL is allowed. */
void relay_free(struct relay *relay);

#endif
