/*
 * dispatch_thread.c - see dispatch_thread.h.
 */
#include "dispatch_thread.h"

#include "client.h"

#include <event2/event.h>

static void *dispatch_main(void *arg)
{
    struct dispatch_thread *d = arg;

    event_base_dispatch(d->base);
    pthread_mutex_lock(&d->lock);
    d->returned = true;
    pthread_cond_broadcast(&d->returned_cond);
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int dispatch_thread_start(struct dispatch_thread *d, struct event_base *base)
{
    d->base = base;
    d->returned = false;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->returned_cond, NULL);
    return pthread_create(&d->thread, NULL, dispatch_main, d) == 0 ? 0 : -1;
}

bool dispatch_thread_wait(struct dispatch_thread *d, int timeout_ms)
{
    struct timespec deadline = client_realtime_deadline(timeout_ms);

    pthread_mutex_lock(&d->lock);
    while (!d->returned && pthread_cond_timedwait(&d->returned_cond, &d->lock, &deadline) == 0)
        ;
    bool returned = d->returned;
    pthread_mutex_unlock(&d->lock);
    if (returned)
        pthread_join(d->thread, NULL);
    return returned;
}
