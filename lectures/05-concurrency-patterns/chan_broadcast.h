/*
 * chan_broadcast.h - one sender, many subscribers, each with its own bounded ring (Tokio's
 * broadcast), on one event loop.
 *
 * Every subscriber gets every message, in order, unless it falls behind: its ring holds at
 * most `capacity` messages, and a send into a full ring drops that subscriber's oldest one.
 * Its next receive then reports BCAST_LAGGED with the number lost, and it carries on with the
 * oldest it still has. Nobody waits for a slow subscriber, and its memory stays bounded.
 * Messages are shared, not copied: each ring holds a reference. Loop thread only.
 */
#ifndef CHAN_BROADCAST_H
#define CHAN_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct bcast;
struct bcast_sub;

/* An immutable message shared by every ring that holds it. */
struct bcast_msg {
    int refs; /* plain: every reference is taken and dropped on the loop thread */
    uint64_t seq;
    size_t len;
    char text[]; /* len bytes and a NUL */
};

enum bcast_status {
    BCAST_OK,     /* *out holds a message; drop it with bcast_msg_unref */
    BCAST_LAGGED, /* *lost messages were dropped for this subscriber; receive again */
    BCAST_EMPTY,  /* nothing more for now: the wake-up callback runs again on the next send */
};

/* Called on the loop thread after one or more sends: receive until BCAST_EMPTY. */
typedef void (*bcast_wake_fn)(struct bcast_sub *sub, void *arg);

/* A channel whose subscribers each buffer at most capacity messages. NULL if out of memory. */
struct bcast *bcast_new(struct event_base *base, size_t capacity);
/* Frees the channel and every subscriber still subscribed, and their messages. */
void bcast_free(struct bcast *b);

/* A new subscriber: it gets the messages sent from now on. NULL if out of memory. */
struct bcast_sub *bcast_subscribe(struct bcast *b, bcast_wake_fn fn, void *arg);
/* Removes and frees the subscriber, and drops what it had not received. */
void bcast_unsubscribe(struct bcast_sub *sub);

/* Copies text into a new message for every subscriber. 0, or -1 if out of memory. */
int bcast_send(struct bcast *b, const char *text, size_t len);

/* The subscriber's next message, or how many it lost, or BCAST_EMPTY. */
enum bcast_status bcast_recv(struct bcast_sub *sub, struct bcast_msg **out, uint64_t *lost);

void bcast_msg_unref(struct bcast_msg *m);

#endif
