/*
 * chan_watch.c - the watch of chan_watch.h: one slot, a version, one coalesced wake-up.
 *
 * The one idea: a `pending` flag, set by the send that finds it clear and cleared by the loop
 * when it reads, turns any number of sends into one event_active() and one callback. The
 * callback copies the value out under the lock and calls fn after unlocking.
 */
#include "chan_watch.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct watch {
    pthread_mutex_t lock;
    unsigned char *value; /* guarded by lock: value_size bytes */
    unsigned char *copy;  /* the loop's copy, handed to fn */
    size_t value_size;
    uint64_t version;      /* guarded by lock */
    int pending;           /* guarded by lock: a wake-up is on its way */
    struct event *wake_ev; /* owned */
    watch_fn fn;
    void *arg;
    size_t wakeups; /* loop thread only */
};

static void wake_cb(evutil_socket_t fd, short what, void *arg);

struct watch *watch_new(struct event_base *base, size_t value_size, watch_fn fn, void *arg)
{
    struct watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->value = calloc(1, value_size);
    w->copy = calloc(1, value_size);
    w->wake_ev = event_new(base, -1, 0, wake_cb, w);
    if (w->value == NULL || w->copy == NULL || w->wake_ev == NULL) {
        if (w->wake_ev != NULL)
            event_free(w->wake_ev);
        free(w->value);
        free(w->copy);
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    w->value_size = value_size;
    w->fn = fn;
    w->arg = arg;
    return w;
}

void watch_send(struct watch *w, const void *value)
{
    pthread_mutex_lock(&w->lock);
    memcpy(w->value, value, w->value_size);
    w->version++;
    int wake = !w->pending;
    w->pending = 1;
    pthread_mutex_unlock(&w->lock);
    if (wake)
        event_active(w->wake_ev, EV_READ, 0);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct watch *w = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->lock);
    memcpy(w->copy, w->value, w->value_size);
    uint64_t version = w->version;
    w->pending = 0; /* the next send wakes us again */
    pthread_mutex_unlock(&w->lock);
    w->wakeups++;
    w->fn(w->copy, version, w->arg);
}

size_t watch_wakeups(const struct watch *w)
{
    return w->wakeups;
}

void watch_free(struct watch *w)
{
    if (w == NULL)
        return;
    event_free(w->wake_ev);
    pthread_mutex_destroy(&w->lock);
    free(w->value);
    free(w->copy);
    free(w);
}
