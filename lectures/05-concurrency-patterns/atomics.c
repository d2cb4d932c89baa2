/*
 * atomics.c - C11 atomics: a shared counter, a stop flag, and false sharing, measured.
 *
 * Part 1 has two threads count to the same total three ways: atomic_fetch_add, a mutex, and
 * (only with --planted-race) a plain long, which loses updates and which valgrind's helgrind
 * reports as a data race. Part 2 stops a worker with an atomic flag. Part 3 gives each thread
 * a counter of its own and shows what it costs when the two counters share a 64-byte cache
 * line, and what padding them apart gains.
 *
 *     ./atomics --demo                  (add --quick for fewer iterations, e.g. under valgrind)
 *     ./atomics --planted-race          (the bug: run it under valgrind --tool=helgrind)
 */
#include "demo_clock.h"
#include "race_hints.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define COUNT_PER_THREAD 2000000L    /* part 1 (--quick: 1/100) */
#define SHARING_PER_THREAD 10000000L /* part 3 (--quick: 1/100) */
#define CACHE_LINE 64                /* bytes; x86-64 and most ARM64 cores */

/* ---- Part 1: one counter, two threads ---- */

struct counters {
    atomic_long atomic_hits;
    pthread_mutex_t lock;
    long locked_hits; /* guarded by lock */
    /* Guarded by nothing: the planted race. volatile only stops the compiler from turning the
     * loop into one addition; it makes nothing thread-safe. */
    volatile long plain_hits;
    long per_thread;
};

static void *atomic_main(void *arg)
{
    struct counters *c = arg;
    for (long i = 0; i < c->per_thread; i++)
        atomic_fetch_add_explicit(&c->atomic_hits, 1, memory_order_relaxed);
    return NULL;
}

static void *locked_main(void *arg)
{
    struct counters *c = arg;
    for (long i = 0; i < c->per_thread; i++) {
        pthread_mutex_lock(&c->lock);
        c->locked_hits++;
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

static void *plain_main(void *arg)
{
    struct counters *c = arg;
    for (long i = 0; i < c->per_thread; i++)
        c->plain_hits++; /* load, add, store: two threads interleave and lose increments */
    return NULL;
}

/* Runs fn on two threads at once and returns the nanoseconds it took, or 0 on failure. */
static uint64_t run_two(void *(*fn)(void *), void *arg)
{
    pthread_t a, b;
    uint64_t t0 = demo_now_ns();
    if (pthread_create(&a, NULL, fn, arg) != 0)
        return 0;
    if (pthread_create(&b, NULL, fn, arg) != 0) {
        pthread_join(a, NULL);
        return 0;
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return demo_now_ns() - t0;
}

static int part_counters(long per_thread, int planted_race)
{
    struct counters c = {.lock = PTHREAD_MUTEX_INITIALIZER, .per_thread = per_thread};
    atomic_init(&c.atomic_hits, 0);
    RACE_HINT_ATOMIC_VAR(c.atomic_hits);

    printf("== 1. Two threads add 1, %ld times each ==\n", per_thread);
    if (planted_race) {
        uint64_t ns = run_two(plain_main, &c);
        printf("plain long:       total %9ld of %ld (%ld increments lost) in %.0f ms\n",
               c.plain_hits, 2 * per_thread, 2 * per_thread - c.plain_hits, ns / 1e6);
    }
    uint64_t atomic_ns = run_two(atomic_main, &c);
    uint64_t locked_ns = run_two(locked_main, &c);
    if (atomic_ns == 0 || locked_ns == 0)
        return -1;
    long total = atomic_load(&c.atomic_hits);
    printf("atomic_fetch_add: total %9ld of %ld, %5.1f ns per increment\n", total, 2 * per_thread,
           (double)atomic_ns / (2 * per_thread));
    printf("mutex:            total %9ld of %ld, %5.1f ns per increment\n", c.locked_hits,
           2 * per_thread, (double)locked_ns / (2 * per_thread));
    pthread_mutex_destroy(&c.lock);
    return total == 2 * per_thread && c.locked_hits == 2 * per_thread ? 0 : -1;
}

/* ---- Part 2: a stop flag ---- */

struct worker {
    atomic_bool stop;
    long rounds; /* written by the worker, read by main after pthread_join */
};

static void *spin_main(void *arg)
{
    struct worker *w = arg;
    /* acquire pairs with the release in main: whatever main wrote before setting the flag
     * (say, the reason to stop) is visible here once the flag reads true. */
    while (!atomic_load_explicit(&w->stop, memory_order_acquire))
        w->rounds++;
    return NULL;
}

static int part_stop_flag(void)
{
    struct worker w = {.rounds = 0};
    pthread_t thread;
    atomic_init(&w.stop, false);
    RACE_HINT_ATOMIC_VAR(w.stop);

    printf("\n== 2. A stop flag ==\n");
    if (pthread_create(&thread, NULL, spin_main, &w) != 0)
        return -1;
    demo_block_ms(20); /* let it spin a while: the measurement, not synchronisation */
    atomic_store_explicit(&w.stop, true, memory_order_release);
    pthread_join(thread, NULL); /* the join, not the flag, makes w.rounds safe to read */
    printf("the worker saw the flag and stopped after %ld rounds\n", w.rounds);
    return 0;
}

/* ---- Part 3: false sharing ---- */

/* Two counters, one per thread, next to each other: one cache line holds both. */
struct packed_counters {
    atomic_long n[2];
};

/* The same two counters, each alone on its own cache line. */
struct padded_counter {
    alignas(CACHE_LINE) atomic_long n;
};
struct padded_counters {
    struct padded_counter c[2];
};

struct sharing_arg {
    atomic_long *mine; /* only this thread writes it */
    long iterations;
};

static void *own_counter_main(void *arg)
{
    struct sharing_arg *a = arg;
    for (long i = 0; i < a->iterations; i++) {
        /* Each add needs the cache line in this core's cache, exclusively: when the other
         * thread's counter lives on the same line, the line travels between the cores. */
        atomic_fetch_add_explicit(a->mine, 1, memory_order_relaxed);
    }
    return NULL;
}

static uint64_t run_pair(atomic_long *first, atomic_long *second, long iterations)
{
    struct sharing_arg args[2] = {{first, iterations}, {second, iterations}};
    pthread_t threads[2];
    uint64_t t0 = demo_now_ns();
    if (pthread_create(&threads[0], NULL, own_counter_main, &args[0]) != 0)
        return 0;
    if (pthread_create(&threads[1], NULL, own_counter_main, &args[1]) != 0) {
        pthread_join(threads[0], NULL);
        return 0;
    }
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    return demo_now_ns() - t0;
}

static int part_false_sharing(long iterations)
{
    struct packed_counters packed;
    struct padded_counters padded;
    for (int i = 0; i < 2; i++) {
        atomic_init(&packed.n[i], 0);
        atomic_init(&padded.c[i].n, 0);
    }
    printf("\n== 3. False sharing: two threads, each adds 1 to its own counter %ld times ==\n",
           iterations);
    printf("counters %zu bytes apart (one cache line):  ", sizeof(atomic_long));
    uint64_t packed_ns = run_pair(&packed.n[0], &packed.n[1], iterations);
    printf("%6.1f ms\n", packed_ns / 1e6);
    printf("counters %zu bytes apart (padded to %d):    ", sizeof(struct padded_counter),
           CACHE_LINE);
    uint64_t padded_ns = run_pair(&padded.c[0].n, &padded.c[1].n, iterations);
    printf("%6.1f ms\n", padded_ns / 1e6);
    if (packed_ns == 0 || padded_ns == 0)
        return -1;
    printf("padding made it %.1fx faster here (typical: several times on two or more cores;\n"
           "about 1x when the two threads end up taking turns on one core)\n",
           (double)packed_ns / (double)padded_ns);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0, planted_race = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--planted-race") == 0)
            planted_race = 1;
        else if (strcmp(argv[i], "--demo") != 0) {
            fprintf(stderr, "usage: %s [--demo] [--quick] [--planted-race]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    long scale = quick ? 100 : 1;
    if (part_counters(COUNT_PER_THREAD / scale, planted_race) != 0 || part_stop_flag() != 0 ||
        part_false_sharing(SHARING_PER_THREAD / scale) != 0)
        return 1;
    printf("(typical figures: they vary with the machine, its cores and its load)\n");
    return 0;
}
