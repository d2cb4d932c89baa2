/*
 * chan_watch.h - the latest value, from any thread to one event loop (Tokio's watch).
 *
 * A watch keeps one value, not a queue: a send replaces it. The loop gets one wake-up however
 * many sends happened since the last one, and reads the newest value. Use it for state where
 * only the present matters: a configuration, a health status, a progress figure. Values are
 * copied in and out (value_size bytes), so nobody holds a pointer into the watch.
 */
#ifndef CHAN_WATCH_H
#define CHAN_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct watch;

/* Called on the loop thread with a copy of the newest value (valid during the call) and its
 * version: 1 for the first send, +1 for each send after it, so gaps count skipped values. */
typedef void (*watch_fn)(const void *value, uint64_t version, void *arg);

/* evthread_use_pthreads() must have been called before base was created. NULL if out of
 * memory. */
struct watch *watch_new(struct event_base *base, size_t value_size, watch_fn fn, void *arg);

/* From any thread: replaces the value (copies value_size bytes) and wakes the loop unless a
 * wake-up is already on its way. */
void watch_send(struct watch *w, const void *value);

/* How many times fn was called. */
size_t watch_wakeups(const struct watch *w);

/* On the loop thread, once no thread can send any more. */
void watch_free(struct watch *w);

#endif
