/*
 * blocking_work.c - what a blocking call does to the loop, and how to move it to threads.
 *
 * A timer ticks every 10 ms and records the longest gap between two ticks. Part 1 runs a
 * callback that blocks for 200 ms (a sleep stands in for a disk read, getaddrinfo() or a
 * password hash): no other callback can run meanwhile, and the gap shows it. Part 2 hands the
 * same blocking calls to a small pool of worker threads, this course's spawn_blocking: each
 * worker pushes its result on a mutex-protected queue and wakes the loop with event_active();
 * the ticks never stop. Part 3 sends 1000 tiny jobs to show that activations coalesce, which
 * is why the loop drains the whole queue every time it is woken.
 *
 *     ./blocking-work          (--demo does the same)
 */
#include "demo_util.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 10
#define STALL_MS 200      /* how long the blocking call takes */
#define STALL_START_MS 50 /* part 1: the blocking callback runs this long after the start */
#define RUN_MS 300        /* part 1: the ticker runs this long in all */
#define POOL_THREADS 2
#define POOL_MAX_QUEUED 1024 /* jobs waiting for a worker; pool_submit() refuses beyond this */
#define SLOW_JOBS 4          /* part 2: blocking calls of STALL_MS each */
#define TINY_JOBS 1000       /* part 3: jobs that take no time at all */

/* Blocks the calling thread for ms milliseconds: the stand-in for any blocking call. */
static void block_for_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) /* interrupted by a signal: sleep the rest */
        ;
}

/* ---- The ticker: a heartbeat that shows whether the loop is free ---- */

struct ticker {
    struct event *ev; /* owned by main */
    int ticks;
    double started_ms, last_ms, max_gap_ms;
    const struct demo_clock *clk;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;
    double now = clock_ms(t->clk);
    (void)fd;
    (void)what;
    if (now - t->last_ms > t->max_gap_ms)
        t->max_gap_ms = now - t->last_ms;
    t->last_ms = now;
    t->ticks++;
}

static int ticker_start(struct ticker *t)
{
    struct timeval every = {0, TICK_MS * 1000};
    t->ticks = 0;
    t->max_gap_ms = 0;
    t->started_ms = t->last_ms = clock_ms(t->clk);
    return event_add(t->ev, &every);
}

static void ticker_report(const struct ticker *t)
{
    double ran_ms = t->last_ms - t->started_ms;
    printf("ticks: %d in %.0f ms (every %d ms would be %d); largest gap between ticks: %.0f ms\n",
           t->ticks, ran_ms, TICK_MS, (int)(ran_ms / TICK_MS), t->max_gap_ms);
}

/* ---- Part 1: a callback that blocks ---- */

static void blocking_cb(evutil_socket_t fd, short what, void *arg)
{
    const struct ticker *t = arg;
    (void)fd;
    (void)what;
    trace(t->clk, "blocking_cb: a %d ms blocking call on the loop thread", STALL_MS);
    block_for_ms(STALL_MS);
    trace(t->clk, "blocking_cb: returned; the loop can run other callbacks again");
}

static void stop_ticker_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;
    (void)fd;
    (void)what;
    event_del(t->ev); /* the last pending event: event_base_dispatch() returns */
}

/* ---- The worker pool: spawn_blocking ---- */

struct job {
    int id;
    int work_ms; /* how long its blocking call takes */
    long result; /* written by the worker */
    struct job *next;
};

struct job_queue {
    struct job *head, *tail;
    int length;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* signalled when todo gains a job or stopping is set */
    struct job_queue todo;    /* guarded by lock */
    struct job_queue done;    /* guarded by lock */
    int stopping;             /* guarded by lock */
    pthread_t threads[POOL_THREADS];
    int nthreads;
    struct event *done_ev; /* owned: workers activate it; its callback runs on the loop */
};

static void job_queue_push(struct job_queue *q, struct job *job)
{
    job->next = NULL;
    if (q->tail != NULL)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->length++;
}

static void job_free_list(struct job *job)
{
    while (job != NULL) {
        struct job *next = job->next;
        free(job);
        job = next;
    }
}

static void *worker_main(void *arg)
{
    struct pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->todo.head == NULL && !p->stopping)
            pthread_cond_wait(&p->work_cond, &p->lock);
        struct job *job = p->todo.head;
        if (job == NULL) { /* stopping, and nothing left to do */
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        p->todo.head = job->next;
        if (p->todo.head == NULL)
            p->todo.tail = NULL;
        p->todo.length--;
        pthread_mutex_unlock(&p->lock);

        /* The blocking call, on this thread: the loop thread is not held up. */
        if (job->work_ms > 0)
            block_for_ms(job->work_ms);
        job->result = (long)job->id * job->id;

        pthread_mutex_lock(&p->lock);
        job_queue_push(&p->done, job);
        pthread_mutex_unlock(&p->lock);
        /* Safe from this thread only because main called evthread_use_pthreads() before
         * creating the base. If done_ev is already active, this activation merges with it. */
        event_active(p->done_ev, EV_READ, 0);
    }
}

/* Starts POOL_THREADS workers whose results are handed to done_cb(arg) on base's loop thread.
 * Returns 0, or -1 (then pool_destroy() is still safe). */
static int pool_init(struct pool *p, struct event_base *base, event_callback_fn done_cb, void *arg)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cond, NULL);
    /* No fd and no timeout: the event only ever runs because a worker activated it. In
     * libevent 2.1.12 an activation can be lost if the event's timeout fires (issue #1530). */
    p->done_ev = event_new(base, -1, 0, done_cb, arg);
    if (p->done_ev == NULL)
        return -1;
    for (; p->nthreads < POOL_THREADS; p->nthreads++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, p) != 0)
            return -1;
    }
    return 0;
}

/* Queues a job; the pool owns it from now on. Returns 0, or -1 if the queue is full (the
 * caller still owns the job then, and decides: retry later, or refuse the request). */
static int pool_submit(struct pool *p, struct job *job)
{
    int rc = -1;
    pthread_mutex_lock(&p->lock);
    if (p->todo.length < POOL_MAX_QUEUED) {
        job_queue_push(&p->todo, job);
        pthread_cond_signal(&p->work_cond);
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Takes every finished job at once; the caller frees them. Taking only one per callback would
 * strand the rest: many activations can arrive as one callback. */
static struct job *pool_take_results(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct job *list = p->done.head;
    p->done = (struct job_queue){NULL, NULL, 0};
    pthread_mutex_unlock(&p->lock);
    return list;
}

/* Lets the workers finish what is queued, joins them, and frees everything. */
static void pool_destroy(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Only now is done_ev unused: a worker may be inside event_active() until it is joined. */
    job_free_list(p->todo.head);
    job_free_list(p->done.head);
    if (p->done_ev != NULL)
        event_free(p->done_ev);
    pthread_cond_destroy(&p->work_cond);
    pthread_mutex_destroy(&p->lock);
}

/* ---- Parts 2 and 3: results come back to the loop ---- */

/* Context of results_cb: what the loop thread knows about the jobs it sent out. */
struct results {
    struct pool *pool;
    struct event_base *base;
    struct ticker *ticker; /* stopped when the last result is in; NULL in part 3 */
    int expected, received;
    int callbacks; /* results_cb calls that found results */
    int verbose;   /* print every result */
    const struct demo_clock *clk;
};

static void results_cb(evutil_socket_t fd, short what, void *arg)
{
    struct results *r = arg;
    (void)fd;
    (void)what;

    struct job *list = pool_take_results(r->pool);
    if (list == NULL)
        return; /* an activation whose results an earlier call already took */
    r->callbacks++;
    for (struct job *job = list; job != NULL; job = job->next) {
        if (r->verbose)
            trace(r->clk, "results_cb: job %d finished on a worker, result %ld", job->id,
                  job->result);
        r->received++;
    }
    job_free_list(list);
    if (r->received == r->expected) {
        if (r->ticker != NULL)
            event_del(r->ticker->ev);
        /* The loop runs with EVLOOP_NO_EXIT_ON_EMPTY (it has no event of its own while it
         * waits for workers), so it must be told to stop. */
        event_base_loopexit(r->base, NULL);
    }
}

/* Submits n jobs of work_ms each. Returns how many the pool accepted. */
static int submit_jobs(struct pool *p, int n, int work_ms)
{
    int accepted = 0;
    for (int i = 1; i <= n; i++) {
        struct job *job = calloc(1, sizeof *job);
        if (job == NULL)
            break;
        job->id = i;
        job->work_ms = work_ms;
        if (pool_submit(p, job) != 0) {
            free(job);
            break;
        }
        accepted++;
    }
    return accepted;
}

static void submit_slow_jobs_cb(evutil_socket_t fd, short what, void *arg)
{
    struct results *r = arg;
    (void)fd;
    (void)what;
    r->expected = submit_jobs(r->pool, SLOW_JOBS, STALL_MS);
    trace(r->clk, "submit_slow_jobs_cb: %d blocking calls of %d ms handed to %d workers",
          r->expected, STALL_MS, POOL_THREADS);
    if (r->expected == 0) { /* out of memory: no result will ever come */
        event_del(r->ticker->ev);
        event_base_loopexit(r->base, NULL);
    }
}

int main(int argc, char **argv)
{
    struct demo_clock clk;
    struct event_base *base = NULL;
    struct ticker ticker = {.clk = &clk};
    struct results results = {.clk = &clk};
    struct pool pool;
    int pool_started = 0, rc = 1;
    struct timeval stall_at = {0, STALL_START_MS * 1000}, stop_at = {0, RUN_MS * 1000};
    struct event_config *cfg = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &clk.start);
    /* Before any base exists: installs the locks and the wake-up that let another thread
     * call event_active() on this base. Without it a worker's wake-up can go unnoticed. */
    if (evthread_use_pthreads() != 0)
        return 1;
    /* The precise clock, so that a late tick means a busy loop and not a coarse clock. */
    cfg = event_config_new();
    if (cfg == NULL || event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0)
        goto cleanup;
    base = event_base_new_with_config(cfg);
    if (base == NULL || (ticker.ev = event_new(base, -1, EV_PERSIST, tick_cb, &ticker)) == NULL)
        goto cleanup;

    printf("== 1. A callback that blocks stalls the loop ==\n");
    if (ticker_start(&ticker) != 0 ||
        event_base_once(base, -1, EV_TIMEOUT, blocking_cb, &ticker, &stall_at) != 0 ||
        event_base_once(base, -1, EV_TIMEOUT, stop_ticker_cb, &ticker, &stop_at) != 0)
        goto cleanup;
    event_base_dispatch(base);
    ticker_report(&ticker);

    printf("\n== 2. spawn_blocking: the same calls on worker threads ==\n");
    pool_started = 1; /* pool_destroy() undoes even a half-finished pool_init() */
    if (pool_init(&pool, base, results_cb, &results) != 0)
        goto cleanup;
    results.pool = &pool;
    results.base = base;
    results.ticker = &ticker;
    results.verbose = 1;
    if (ticker_start(&ticker) != 0 ||
        event_base_once(base, -1, EV_TIMEOUT, submit_slow_jobs_cb, &results, &stall_at) != 0)
        goto cleanup;
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    ticker_report(&ticker);

    printf("\n== 3. Activations coalesce: drain the whole queue ==\n");
    results = (struct results){.pool = &pool, .base = base, .clk = &clk};
    results.expected = submit_jobs(&pool, TINY_JOBS, 0);
    trace(&clk, "main: %d tiny jobs submitted, each worker calls event_active() once per job",
          results.expected);
    if (results.expected == 0)
        goto cleanup;
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    printf("%d results arrived in %d callbacks: activations coalesce, so results_cb takes the "
           "whole queue every time\n",
           results.received, results.callbacks);
    rc = 0;
cleanup:
    if (pool_started)
        pool_destroy(&pool); /* joins the workers before done_ev is freed */
    if (ticker.ev != NULL)
        event_free(ticker.ev);
    if (base != NULL)
        event_base_free(base);
    if (cfg != NULL)
        event_config_free(cfg);
    libevent_global_shutdown(); /* frees the thread locks, so leak checkers see nothing */
    return rc;
}
