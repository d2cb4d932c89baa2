/*
 * semaphores.c - limiting how much runs at once: on the loop, and on worker threads.
 *
 * Part 1 lets six requests share two connections to a backend with loop_sem.c: the first two
 * start at once, the others wait in line without blocking anything (a 5 ms ticker keeps
 * ticking), one gives up while waiting, and each release hands its permit to the next in line.
 * Part 2 does the same on four worker threads with a POSIX sem_t, which does block: right for
 * a worker, never for the loop thread.
 *
 *     ./semaphores --demo
 */
#include "demo_clock.h"
#include "loop_sem.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#define BACKEND_CONNS 2  /* permits */
#define REQUESTS 6       /* part 1 */
#define BACKEND_MS 40    /* part 1: how long a request uses its connection */
#define GIVE_UP_ID 5     /* part 1: this request gives up while it waits ... */
#define GIVE_UP_AT_MS 10 /* ... this long after the start */
#define TICK_MS 5
#define WORKERS 4    /* part 2 */
#define WORKER_MS 20 /* part 2: the blocking call each worker makes */

struct demo;

struct request {
    int id;
    int running;                   /* between request_start and its end */
    struct loop_sem_waiter waiter; /* waiter.ev is owned: granted_cb */
    struct event *backend_ev;      /* owned: the backend's answer, a timer here */
    struct demo *d;
};

struct demo {
    struct event_base *base;
    struct loop_sem sem;
    struct request req[REQUESTS];
    struct event *tick_ev, *give_up_ev; /* owned */
    uint64_t start_ns, last_tick_ns, max_gap_ns;
    int in_use, max_in_use, settled;
};

static double since_ms(const struct demo *d)
{
    return (demo_now_ns() - d->start_ns) / 1e6;
}

static void request_start(struct request *r)
{
    struct timeval backend = {0, BACKEND_MS * 1000};
    struct demo *d = r->d;
    r->running = 1;
    if (++d->in_use > d->max_in_use)
        d->max_in_use = d->in_use;
    printf("[%3.0f ms] request %d gets a connection (%d in use)\n", since_ms(d), r->id, d->in_use);
    evtimer_add(r->backend_ev, &backend);
}

static void request_settled(struct demo *d)
{
    if (++d->settled == REQUESTS)
        event_del(d->tick_ev); /* the last event: the loop returns */
}

/* A queued request got its permit: the permit is already ours. */
static void granted_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    request_start(arg);
}

static void backend_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct request *r = arg;
    (void)fd;
    (void)what;
    r->running = 0;
    r->d->in_use--;
    printf("[%3.0f ms] request %d is done and releases its connection\n", since_ms(r->d), r->id);
    loop_sem_release(&r->d->sem, &r->waiter); /* the next in line starts in this turn */
    request_settled(r->d);
}

static void give_up_cb(evutil_socket_t fd, short what, void *arg)
{
    struct request *r = arg;
    (void)fd;
    (void)what;
    printf("[%3.0f ms] request %d gives up (its client left) while %s\n", since_ms(r->d), r->id,
           r->waiter.state == LOOP_SEM_QUEUED ? "waiting in line" : "holding a connection");
    evtimer_del(r->backend_ev);
    if (r->running)
        r->d->in_use--;
    r->running = 0;
    loop_sem_release(&r->d->sem, &r->waiter); /* whatever it has: place in line or permit */
    request_settled(r->d);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct demo *d = arg;
    uint64_t now = demo_now_ns();
    (void)fd;
    (void)what;
    if (now - d->last_tick_ns > d->max_gap_ns)
        d->max_gap_ns = now - d->last_tick_ns;
    d->last_tick_ns = now;
}

static int run_loop_semaphore(void)
{
    struct demo d = {0};
    struct timeval tick = {0, TICK_MS * 1000}, give_up_at = {0, GIVE_UP_AT_MS * 1000};
    int rc = -1;

    printf("== 1. On the loop: %d requests, %d backend connections ==\n", REQUESTS, BACKEND_CONNS);
    d.base = event_base_new();
    if (d.base == NULL)
        goto cleanup;
    loop_sem_init(&d.sem, BACKEND_CONNS);
    d.tick_ev = event_new(d.base, -1, EV_PERSIST, tick_cb, &d);
    d.give_up_ev = evtimer_new(d.base, give_up_cb, &d.req[GIVE_UP_ID - 1]);
    if (d.tick_ev == NULL || d.give_up_ev == NULL || event_add(d.tick_ev, &tick) != 0 ||
        evtimer_add(d.give_up_ev, &give_up_at) != 0)
        goto cleanup;
    d.start_ns = d.last_tick_ns = demo_now_ns();
    for (int i = 0; i < REQUESTS; i++) {
        struct request *r = &d.req[i];
        r->id = i + 1;
        r->d = &d;
        r->waiter.ev = event_new(d.base, -1, 0, granted_cb, r);
        r->backend_ev = evtimer_new(d.base, backend_done_cb, r);
        if (r->waiter.ev == NULL || r->backend_ev == NULL)
            goto cleanup;
        if (loop_sem_acquire(&d.sem, &r->waiter))
            request_start(r);
        else
            printf("[%3.0f ms] request %d waits in line\n", since_ms(&d), r->id);
    }
    event_base_dispatch(d.base);
    printf("at most %d connections were in use at once; largest gap between %d ms ticks: "
           "%.1f ms\n",
           d.max_in_use, TICK_MS, d.max_gap_ns / 1e6);
    rc = d.settled == REQUESTS && d.max_in_use <= BACKEND_CONNS ? 0 : -1;
cleanup:
    for (int i = 0; i < REQUESTS; i++) {
        if (d.req[i].waiter.ev != NULL)
            event_free(d.req[i].waiter.ev);
        if (d.req[i].backend_ev != NULL)
            event_free(d.req[i].backend_ev);
    }
    if (d.tick_ev != NULL)
        event_free(d.tick_ev);
    if (d.give_up_ev != NULL)
        event_free(d.give_up_ev);
    if (d.base != NULL)
        event_base_free(d.base);
    return rc;
}

/* ---- Part 2: sem_t for worker threads ---- */

struct pool_limit {
    sem_t slots;          /* BACKEND_CONNS permits */
    pthread_mutex_t lock; /* guards the two counts */
    int in_use, max_in_use;
};

static void *worker_main(void *arg)
{
    struct pool_limit *p = arg;
    while (sem_wait(&p->slots) != 0) /* blocks this worker until a permit is free */
        ;                            /* EINTR: a signal arrived; wait again */
    pthread_mutex_lock(&p->lock);
    if (++p->in_use > p->max_in_use)
        p->max_in_use = p->in_use;
    pthread_mutex_unlock(&p->lock);

    demo_block_ms(WORKER_MS); /* the blocking call the permit limits */

    pthread_mutex_lock(&p->lock);
    p->in_use--;
    pthread_mutex_unlock(&p->lock);
    sem_post(&p->slots);
    return NULL;
}

static int run_thread_semaphore(void)
{
    struct pool_limit p = {.lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_t threads[WORKERS];
    int started = 0;

    printf("\n== 2. On worker threads: %d workers, sem_t with %d permits ==\n", WORKERS,
           BACKEND_CONNS);
    if (sem_init(&p.slots, 0, BACKEND_CONNS) != 0)
        return -1;
    uint64_t t0 = demo_now_ns();
    for (; started < WORKERS; started++)
        if (pthread_create(&threads[started], NULL, worker_main, &p) != 0)
            break;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    printf("%d workers with a %d ms call each took %.0f ms: at most %d ran at once\n", started,
           WORKER_MS, (demo_now_ns() - t0) / 1e6, p.max_in_use);
    sem_destroy(&p.slots);
    pthread_mutex_destroy(&p.lock);
    return started == WORKERS && p.max_in_use <= BACKEND_CONNS ? 0 : -1;
}

int main(int argc, char **argv)
{
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") != 0 && strcmp(argv[i], "--quick") != 0) {
            fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (evthread_use_pthreads() != 0)
        return 1;
    if (run_loop_semaphore() == 0 && run_thread_semaphore() == 0)
        rc = 0;
    libevent_global_shutdown();
    return rc;
}
