/*
 * chan_mpsc.h - a bounded multi-producer channel into one event loop (Tokio's mpsc).
 *
 * Any thread sends; the loop thread receives, in order, through a callback. Underneath: a
 * mutex-protected ring of pointers and one notify event that senders activate. The bound is
 * part of the contract, and so is what happens at it: MPSC_REFUSE hands the message back to
 * the sender (who may drop it, count it, or answer "busy"); MPSC_WAIT pauses the sending
 * thread until the loop has drained the queue. The loop thread itself must never send with
 * MPSC_WAIT: it would wait for itself.
 */
#ifndef CHAN_MPSC_H
#define CHAN_MPSC_H

#include <stddef.h>

struct event_base;
struct mpsc;

enum mpsc_when_full {
    MPSC_REFUSE, /* mpsc_send returns -1 at once; the sender keeps the message */
    MPSC_WAIT,   /* mpsc_send blocks the sending thread until there is room (not on the loop) */
};

/* Called on the loop thread for each message, in the order they were queued. It owns msg. */
typedef void (*mpsc_recv_fn)(void *msg, void *arg);

/* A channel that holds at most capacity messages, delivered to fn(msg, arg) on base's loop
 * thread. evthread_use_pthreads() must have been called before base was created. NULL if out
 * of memory. */
struct mpsc *mpsc_new(struct event_base *base, size_t capacity, enum mpsc_when_full when_full,
                      mpsc_recv_fn fn, void *arg);

/* From any thread (with MPSC_WAIT: any but the loop's). 0: queued, the channel owns msg now.
 * -1: full (MPSC_REFUSE) or closed; the caller still owns msg. */
int mpsc_send(struct mpsc *ch, void *msg);

/* From now on every send fails; senders waiting for room return -1. Queued messages are still
 * delivered. */
void mpsc_close(struct mpsc *ch);

/* How many times the loop was woken to drain the queue (each wake-up drains all of it). */
size_t mpsc_wakeups(const struct mpsc *ch);

/* Frees the channel and, with free_msg (may be NULL), the messages never delivered. Call it
 * on the loop thread once no thread can send any more (joined, or told to stop and joined). */
void mpsc_free(struct mpsc *ch, void (*free_msg)(void *));

#endif
