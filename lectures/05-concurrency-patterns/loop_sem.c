/*
 * loop_sem.c - a semaphore for one event loop: a counter and a queue of waiting events.
 *
 * A release hands its permit straight to the first waiter (and activates that waiter's
 * event) instead of putting it back: a newcomer cannot overtake the queue, so no waiter
 * starves. See loop_sem.h for the contract and semaphores.c for a run.
 */
#include "loop_sem.h"

#include <event2/event.h>
#include <stddef.h>

void loop_sem_init(struct loop_sem *sem, int permits)
{
    sem->permits = permits;
    sem->head = sem->tail = NULL;
}

int loop_sem_acquire(struct loop_sem *sem, struct loop_sem_waiter *w)
{
    if (sem->permits > 0 && sem->head == NULL) {
        sem->permits--;
        w->state = LOOP_SEM_GRANTED;
        return 1;
    }
    w->state = LOOP_SEM_QUEUED;
    w->next = NULL;
    if (sem->tail != NULL)
        sem->tail->next = w;
    else
        sem->head = w;
    sem->tail = w;
    return 0;
}

static void unlink_waiter(struct loop_sem *sem, struct loop_sem_waiter *w)
{
    struct loop_sem_waiter *prev = NULL;
    for (struct loop_sem_waiter *it = sem->head; it != NULL; prev = it, it = it->next) {
        if (it != w)
            continue;
        if (prev != NULL)
            prev->next = w->next;
        else
            sem->head = w->next;
        if (sem->tail == w)
            sem->tail = prev;
        return;
    }
}

void loop_sem_release(struct loop_sem *sem, struct loop_sem_waiter *w)
{
    enum loop_sem_state was = w->state;
    w->state = LOOP_SEM_IDLE;
    if (was == LOOP_SEM_QUEUED) {
        unlink_waiter(sem, w); /* gave up while waiting: no permit to pass on */
        return;
    }
    if (was != LOOP_SEM_GRANTED)
        return;
    event_del(w->ev); /* granted but its callback has not run yet: it never will */
    struct loop_sem_waiter *next = sem->head;
    if (next == NULL) {
        sem->permits++;
        return;
    }
    sem->head = next->next;
    if (sem->head == NULL)
        sem->tail = NULL;
    next->state = LOOP_SEM_GRANTED;
    event_active(next->ev, EV_TIMEOUT, 0); /* runs in this turn of the loop, after us */
}
