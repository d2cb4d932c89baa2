/*
 * flaky.c - two ways a test flakes: a sleep used as synchronisation, and an exact bound on a
 * coarse clock.
 *
 * Part 1 starts a worker that needs about 20 ms of CPU before it is ready, and checks it two
 * ways: after sleeping 50 ms, and by waiting on a condition variable (with a deadline). Then it
 * runs both again under load: the process pinned to one CPU beside 4 busy threads. Part 2 fires
 * a 50 ms libevent timer 20 times and measures it with a precise clock.
 * Try it: ./build/lectures/07-testing-async/flaky --demo
 */
#define _GNU_SOURCE /* sched_setaffinity(), CPU_SET */
#include <event2/event.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WORK_CPU_MS 10     /* CPU time the worker needs before it is ready */
#define SLEEP_MS 30        /* the flaky test's guess: "surely ready by then" */
#define READY_WAIT_MS 5000 /* the robust test's deadline: only reached when something is wrong */
#define RUNS 10            /* runs of each test, idle and under load */
#define HOGS 4             /* busy threads sharing the one CPU under load */
#define TIMER_MS 50        /* part 2's timer */
#define TIMER_RUNS 20
#define TIGHT_MS 1 /* part 2: the slack a too-strict test allows */

struct worker {
    pthread_mutex_t lock;
    pthread_cond_t ready_cond;
    int ready;
};

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    double start = now_ms(CLOCK_THREAD_CPUTIME_ID);
    while (now_ms(CLOCK_THREAD_CPUTIME_ID) - start < WORK_CPU_MS)
        ; /* stands in for start-up work: loading a file, building a table */
    pthread_mutex_lock(&w->lock);
    w->ready = 1;
    pthread_cond_broadcast(&w->ready_cond);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* The flaky test: sleep, then look. Returns 1 if it passed. */
static int test_with_sleep(struct worker *w)
{
    struct timespec pause = {0, SLEEP_MS * 1000000L};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&w->lock);
    int passed = w->ready;
    pthread_mutex_unlock(&w->lock);
    return passed;
}

/* The robust test: wait for the condition itself, with a deadline. Returns 1 if it passed. */
static int test_with_condvar(struct worker *w)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline); /* the clock pthread_cond_timedwait uses */
    deadline.tv_sec += READY_WAIT_MS / 1000;
    pthread_mutex_lock(&w->lock);
    while (!w->ready && pthread_cond_timedwait(&w->ready_cond, &w->lock, &deadline) == 0)
        ;
    int passed = w->ready;
    pthread_mutex_unlock(&w->lock);
    return passed;
}

static int run_test(int (*test)(struct worker *))
{
    struct worker w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, worker_main, &w) != 0)
        return 0;
    int passed = test(&w);
    pthread_join(t, NULL);
    return passed;
}

#ifdef __linux__
static atomic_int hogs_stop;

static void *hog_main(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&hogs_stop, memory_order_relaxed))
        ; /* another test, a compiler, a browser: anything that wants the CPU */
    return NULL;
}
#endif

static void run_both(const char *when)
{
    int sleep_ok = 0, cond_ok = 0;
    for (int i = 0; i < RUNS; i++) {
        sleep_ok += run_test(test_with_sleep);
        cond_ok += run_test(test_with_condvar);
    }
    printf("%-11s sleep %d ms, then check: %2d of %d passed\n", when, SLEEP_MS, sleep_ok, RUNS);
    printf("%-11s condition variable:      %2d of %d passed\n", when, cond_ok, RUNS);
}

static void part_sleep(void)
{
    printf("== A worker needs %d ms of CPU before it is ready ==\n", WORK_CPU_MS);
    run_both("idle:");
#ifdef __linux__
    /* Load: this thread (and every thread it starts) on one CPU, shared with busy threads.
     * Pinning to one CPU is Linux's sched_setaffinity; elsewhere only the idle run is shown. */
    cpu_set_t old, one;
    pthread_t hogs[HOGS];
    sched_getaffinity(0, sizeof old, &old);
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &old)) {
            CPU_SET(cpu, &one);
            break;
        }
    sched_setaffinity(0, sizeof one, &one);
    int started = 0;
    while (started < HOGS && pthread_create(&hogs[started], NULL, hog_main, NULL) == 0)
        started++;
    run_both("under load:");
    atomic_store(&hogs_stop, 1);
    for (int i = 0; i < started; i++)
        pthread_join(hogs[i], NULL);
    sched_setaffinity(0, sizeof old, &old);
#endif
}

/* Part 2: a chain of one-shot timers, each armed inside the previous one's callback, as real
 * code arms its next timeout. Each wait is measured from the arming to the callback. */
struct timer_ctx {
    struct event *ev;
    double armed_ms;
    double min, max;
    int runs, early, late;
};

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct timer_ctx *t = arg;
    struct timeval tv = {0, TIMER_MS * 1000};
    (void)fd;
    (void)what;
    double now = now_ms(CLOCK_MONOTONIC);
    if (t->runs > 0) {
        double waited = now - t->armed_ms;
        t->min = waited < t->min ? waited : t->min;
        t->max = waited > t->max ? waited : t->max;
        t->early += waited < TIMER_MS;
        t->late += waited > TIMER_MS + TIGHT_MS;
    }
    if (t->runs++ == TIMER_RUNS)
        return;
    t->armed_ms = now_ms(CLOCK_MONOTONIC);
    evtimer_add(t->ev, &tv);
}

/* Fires TIMER_RUNS timers in a chain; prints the shortest and longest measured wait. */
static void measure_timer(const char *label, int flags)
{
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        return;
    event_config_set_flag(cfg, flags);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base == NULL)
        return;

    struct timer_ctx t = {.min = 1e9};
    t.ev = evtimer_new(base, timer_cb, &t);
    if (t.ev != NULL) {
        event_active(t.ev, EV_TIMEOUT, 0); /* the first callback arms the first timer */
        event_base_dispatch(base);
        event_free(t.ev);
    }
    printf("%-13s waited %.1f to %.1f ms: `elapsed >= %d` failed %d of %d times, "
           "`elapsed <= %d` failed %d\n",
           label, t.min, t.max, TIMER_MS, t.early, TIMER_RUNS, TIMER_MS + TIGHT_MS, t.late);
    event_base_free(base);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);

    part_sleep();
    printf("== A %d ms libevent timer, measured with CLOCK_MONOTONIC ==\n", TIMER_MS);
    measure_timer("default base:", 0);
    measure_timer("precise base:", EVENT_BASE_FLAG_PRECISE_TIMER);
    return 0;
}
