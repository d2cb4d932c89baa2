/*
 * loop_sem.h - a counting semaphore for one event loop: it never blocks.
 *
 * Tokio's Semaphore::acquire().await suspends a task until a permit is free. On a libevent
 * loop nothing may wait, so "wait" means: join a queue, and have an event activated when a
 * permit is handed over. A counter and a FIFO of waiters is all it takes. Every call must be
 * made on the loop thread: no lock is needed, and none is taken.
 */
#ifndef LOOP_SEM_H
#define LOOP_SEM_H

struct event;

enum loop_sem_state {
    LOOP_SEM_IDLE,    /* neither waiting nor holding a permit */
    LOOP_SEM_QUEUED,  /* waiting in line */
    LOOP_SEM_GRANTED, /* holds a permit (its event was activated, or acquire returned 1) */
};

struct loop_sem_waiter {
    struct event *ev; /* the caller's: activated once a queued waiter gets its permit */
    enum loop_sem_state state;
    struct loop_sem_waiter *next; /* the queue's link */
};

struct loop_sem {
    int permits; /* free permits */
    struct loop_sem_waiter *head, *tail;
};

void loop_sem_init(struct loop_sem *sem, int permits);

/* Asks for a permit for w (w->ev set, w->state LOOP_SEM_IDLE). Returns 1 if it got one at once
 * (go ahead; w->ev is not activated), 0 if w waits in line: w->ev is activated when the permit
 * is handed over. */
int loop_sem_acquire(struct loop_sem *sem, struct loop_sem_waiter *w);

/* Gives back what w has: its permit, which goes to the first in line (its event is activated),
 * or its place in line. Call it when the work is done, or when the work is cancelled, whatever
 * the state. w is LOOP_SEM_IDLE afterwards. */
void loop_sem_release(struct loop_sem *sem, struct loop_sem_waiter *w);

#endif
