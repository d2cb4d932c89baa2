/*
 * chan_mpsc.c - the bounded channel of chan_mpsc.h: a ring, a mutex, one notify event.
 *
 * The one idea: senders only touch the ring under the mutex and wake the loop; the loop takes
 * the whole ring in one step (swapping it for an empty one) and delivers the messages after
 * unlocking, so no receive callback ever runs with the lock held. A sender activates the
 * notify event only when it puts a message into an empty ring: one wake-up per batch.
 */
#include "chan_mpsc.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>

struct mpsc {
    pthread_mutex_t lock;
    pthread_cond_t not_full; /* MPSC_WAIT senders wait here for room */
    void **ring;             /* guarded by lock: capacity slots, count used from head */
    void **spare;            /* an empty ring of the same size, swapped in by drain_cb */
    size_t capacity, head, count;
    int closed; /* guarded by lock */
    enum mpsc_when_full when_full;
    struct event *notify_ev; /* owned; activated by senders, runs on the loop thread */
    mpsc_recv_fn fn;
    void *arg;
    size_t wakeups; /* loop thread only */
};

static void drain_cb(evutil_socket_t fd, short what, void *arg);

struct mpsc *mpsc_new(struct event_base *base, size_t capacity, enum mpsc_when_full when_full,
                      mpsc_recv_fn fn, void *arg)
{
    struct mpsc *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return NULL;
    ch->ring = calloc(capacity, sizeof *ch->ring);
    ch->spare = calloc(capacity, sizeof *ch->spare);
    /* No fd, no timeout: it runs only when a sender activates it. */
    ch->notify_ev = event_new(base, -1, 0, drain_cb, ch);
    if (capacity == 0 || ch->ring == NULL || ch->spare == NULL || ch->notify_ev == NULL) {
        mpsc_free(ch, NULL);
        return NULL;
    }
    pthread_mutex_init(&ch->lock, NULL);
    pthread_cond_init(&ch->not_full, NULL);
    ch->capacity = capacity;
    ch->when_full = when_full;
    ch->fn = fn;
    ch->arg = arg;
    return ch;
}

int mpsc_send(struct mpsc *ch, void *msg)
{
    int wake = 0;
    pthread_mutex_lock(&ch->lock);
    while (!ch->closed && ch->count == ch->capacity && ch->when_full == MPSC_WAIT)
        pthread_cond_wait(&ch->not_full, &ch->lock);
    if (ch->closed || ch->count == ch->capacity) {
        pthread_mutex_unlock(&ch->lock);
        return -1;
    }
    ch->ring[(ch->head + ch->count) % ch->capacity] = msg;
    wake = ch->count++ == 0; /* the ring was empty: nobody has woken the loop yet */
    pthread_mutex_unlock(&ch->lock);
    if (wake)
        event_active(ch->notify_ev, EV_READ, 0);
    return 0;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mpsc *ch = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&ch->lock);
    void **batch = ch->ring; /* take everything: swap in the empty ring */
    size_t head = ch->head, n = ch->count;
    ch->ring = ch->spare;
    ch->spare = batch;
    ch->head = ch->count = 0;
    pthread_cond_broadcast(&ch->not_full);
    pthread_mutex_unlock(&ch->lock);

    ch->wakeups++;
    /* Unlocked: the callback may send on this channel, take other locks, or free things. */
    for (size_t i = 0; i < n; i++)
        ch->fn(batch[(head + i) % ch->capacity], ch->arg);
}

void mpsc_close(struct mpsc *ch)
{
    pthread_mutex_lock(&ch->lock);
    ch->closed = 1;
    pthread_cond_broadcast(&ch->not_full);
    pthread_mutex_unlock(&ch->lock);
}

size_t mpsc_wakeups(const struct mpsc *ch)
{
    return ch->wakeups;
}

void mpsc_free(struct mpsc *ch, void (*free_msg)(void *))
{
    if (ch == NULL)
        return;
    if (ch->capacity > 0) { /* fully made: the lock exists */
        for (size_t i = 0; free_msg != NULL && i < ch->count; i++)
            free_msg(ch->ring[(ch->head + i) % ch->capacity]);
        pthread_cond_destroy(&ch->not_full);
        pthread_mutex_destroy(&ch->lock);
    }
    if (ch->notify_ev != NULL)
        event_free(ch->notify_ev);
    free(ch->ring);
    free(ch->spare);
    free(ch);
}
