/*
 * dispatch_thread.h - run event_base_dispatch() on a thread and see whether it returns.
 *
 * A graceful shutdown is finished when the server has left nothing on the base: then
 * event_base_dispatch() returns by itself. The shared loop thread (loop_thread.h) never returns
 * on its own, so the shutdown tests run dispatch here instead and wait for it to come back.
 */
#ifndef DISPATCH_THREAD_H
#define DISPATCH_THREAD_H

#include <pthread.h>
#include <stdbool.h>

struct event_base;

struct dispatch_thread {
    struct event_base *base;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t returned_cond;
    bool returned;
};

/* Starts event_base_dispatch(base) on a new thread. Returns 0, or -1 if it cannot start. */
int dispatch_thread_start(struct dispatch_thread *d, struct event_base *base);

/* Waits up to timeout_ms for dispatch to return. True (and the thread joined) if it did. */
bool dispatch_thread_wait(struct dispatch_thread *d, int timeout_ms);

#endif
