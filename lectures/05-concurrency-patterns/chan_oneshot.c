/*
 * chan_oneshot.c - one slot, one wake-up, and a reference count shared by two threads.
 *
 * The one idea: the two sides finish in either order, on different threads, so neither may
 * free the oneshot by itself. Each holds one reference; the side that drops the last one
 * frees it (atomic_fetch_sub with acq_rel, as in shared_ownership.c). The slot itself is
 * guarded by a mutex.
 */
#include "chan_oneshot.h"

#include "race_hints.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct oneshot {
    atomic_int refs; /* 2 at first: the sender's and the receiver's */
    pthread_mutex_t lock;
    int sent, closed, cancelled; /* guarded by lock */
    void *value;                 /* guarded by lock */
    struct event *wake_ev;       /* owned */
    oneshot_fn fn;
    void *arg;
    void (*free_value)(void *);
};

static void wake_cb(evutil_socket_t fd, short what, void *arg);

struct oneshot *oneshot_new(struct event_base *base, oneshot_fn fn, void *arg,
                            void (*free_value)(void *))
{
    struct oneshot *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->wake_ev = event_new(base, -1, 0, wake_cb, o);
    if (o->wake_ev == NULL) {
        free(o);
        return NULL;
    }
    atomic_init(&o->refs, 2);
    pthread_mutex_init(&o->lock, NULL);
    o->fn = fn;
    o->arg = arg;
    o->free_value = free_value;
    return o;
}

/* Drops one side's reference; the last one frees. That may happen on the sender's thread:
 * event_free() from another thread is safe once evthread_use_pthreads() is on, and it waits
 * if the loop is still inside wake_cb, which holds no lock the sender could be holding. */
static void oneshot_unref(struct oneshot *o)
{
    RACE_HINT_HAPPENS_BEFORE(&o->refs);
    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
        return;
    RACE_HINT_HAPPENS_AFTER(&o->refs);
    event_free(o->wake_ev);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static int finish_sender(struct oneshot *o, int sent, void *value)
{
    int rc = 0;
    pthread_mutex_lock(&o->lock);
    if (o->cancelled) {
        rc = -1;
    } else {
        o->sent = sent;
        o->closed = 1;
        o->value = value;
        /* Under the lock, so that a cancel cannot slip in between "not cancelled" and the
         * wake-up. Safe: the loop runs wake_cb with libevent's own lock released, so the
         * two locks are always taken in the same order (ours, then libevent's). */
        event_active(o->wake_ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&o->lock);
    oneshot_unref(o);
    return rc;
}

int oneshot_send(struct oneshot *o, void *value)
{
    return finish_sender(o, 1, value);
}

void oneshot_close(struct oneshot *o)
{
    finish_sender(o, 0, NULL);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct oneshot *o = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&o->lock);
    int sent = o->sent;
    void *value = o->value;
    o->value = NULL;
    pthread_mutex_unlock(&o->lock);
    o->fn(sent, value, o->arg);
    oneshot_unref(o); /* the receiver's reference; o may be gone after this */
}

void oneshot_cancel(struct oneshot *o)
{
    pthread_mutex_lock(&o->lock);
    o->cancelled = 1;
    void *value = o->value; /* sent, but the callback has not run */
    o->value = NULL;
    pthread_mutex_unlock(&o->lock);
    event_del(o->wake_ev); /* loop thread: never waits; a queued wake-up never runs */
    if (value != NULL && o->free_value != NULL)
        o->free_value(value);
    oneshot_unref(o);
}
