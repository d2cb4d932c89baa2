/*
 * backpressure_script.h - the source and sink that `tcp-backpressure --demo` runs through two
 * relays of backpressure.c on one event_base: first an unbounded relay, then a bounded one.
 */
#ifndef LECTURE03_BACKPRESSURE_SCRIPT_H
#define LECTURE03_BACKPRESSURE_SCRIPT_H

#include <event2/event.h>

struct bp_script;

/* Makes a sink and two relays to it on `base`, prints where they listen, and starts run 1. The
 * runs proceed as the loop runs; after run 2 the script calls event_base_loopexit(). Returns the
 * script (free it with bp_script_free after the loop has returned), or NULL. */
struct bp_script *bp_script_start(struct event_base *base);

/* How many steps did not go as the lecture describes (0 on a good run). */
int bp_script_failures(const struct bp_script *s);

/* Frees the relays, the source, the sink and the timer. NULL is allowed. */
void bp_script_free(struct bp_script *s);

#endif
