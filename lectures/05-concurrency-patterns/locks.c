/*
 * locks.c - the same store behind four kinds of lock, measured, and the one rule for loops.
 *
 * Part 1 runs two threads of 90% reads and 10% writes on the store of lock_store.c with a
 * mutex, a read-write lock, a writer-preferring read-write lock and 16 sharded mutexes, and
 * prints each thread's lock waits as a histogram. Part 2 starves a writer: three readers that
 * overlap keep glibc's default read-write lock busy, and the writer-preferring kind lets it in.
 * Part 3 is the rule: a loop thread that waits for a lock held across I/O stops ticking.
 *
 *     ./locks --demo          (add --quick for fewer iterations, e.g. under valgrind)
 */
#include "demo_clock.h"
#include "lock_store.h"
#include "race_hints.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEMS 10000           /* items in the store before each run */
#define MIX_THREADS 2         /* part 1: one per core of a small machine */
#define MIX_RUN_MS 200        /* part 1: how long each run lasts (--quick: 50) */
#define MIX_WRITE_PERCENT 10  /* part 1: the rest are reads */
#define STARVE_READERS 3      /* part 2 */
#define STARVE_SUM_ITEMS 200  /* part 2: each read sums this many items under one read lock */
#define STARVE_RUN_MS 300     /* part 2: how long each run lasts (--quick: 100) */
#define TICK_MS 5             /* part 3: the loop's ticker */
#define SAVE_FLUSH_EVERY 1000 /* part 3: items per write to "disk" ... */
#define SAVE_FLUSH_MS 10      /* ... and how long that write blocks */
#define LOOP_RUN_MS 250       /* part 3: how long the loop runs */

static int fill(struct store *s)
{
    struct wait_hist h = {0};
    for (uint64_t id = 0; id < ITEMS; id++) {
        struct store_item it = {.id = id, .value = 1};
        snprintf(it.title, sizeof it.title, "item %llu", (unsigned long long)id);
        if (store_put(s, &it, &h) != 0)
            return -1;
    }
    return 0;
}

static void print_hist_header(void)
{
    printf("%-23s %9s  %-8s %-8s | lock waits: %% of operations in each bucket\n", "", "ops/s",
           "p99", "max");
    printf("%-23s %9s  %-8s %-8s | %5s %5s %5s %5s %5s %5s %5s %5s %5s\n", "lock", "", "wait",
           "wait", "<250n", "<1u", "<4u", "<16u", "<64u", "<256u", "<1m", "<4m", ">=4m");
}

static void format_ns(char *buf, size_t size, uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, size, "%llu ns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, size, "%.0f us", ns / 1e3);
    else
        snprintf(buf, size, "%.1f ms", ns / 1e6);
}

static void print_hist_row(const char *name, double ops_per_s, const struct wait_hist *h)
{
    char p99[16] = "<", max[16];
    format_ns(p99 + 1, sizeof p99 - 1, wait_hist_percentile_ns(h, 99));
    format_ns(max, sizeof max, h->max_ns);
    printf("%-23s %9.0f  %-8s %-8s |", name, ops_per_s, p99, max);
    for (int b = 0; b < WAIT_BUCKETS; b++)
        printf(" %5.1f", h->count > 0 ? 100.0 * h->buckets[b] / h->count : 0.0);
    printf("\n");
}

/* ---- Part 1: one workload, four locks ---- */

/* Holds threads back until every one of them exists, so that they really run at the same time
 * (a thread started a millisecond early would have the lock to itself). Unlike a
 * pthread_barrier_t it can be opened even when a thread could not be created. */
struct start_gate {
    pthread_mutex_t lock;
    pthread_cond_t opened;
    int open; /* guarded by lock */
};

static void gate_wait(struct start_gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->opened, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct start_gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    pthread_cond_broadcast(&g->opened);
    pthread_mutex_unlock(&g->lock);
}

struct mix_thread {
    struct store *store;
    struct start_gate *start;
    atomic_bool *stop;
    long ops;
    uint64_t seed;
    struct wait_hist hist; /* this thread's own: no sharing, no lock */
};

static uint64_t next_random(uint64_t *x) /* xorshift64: fast, and the same on every run */
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void *mix_main(void *arg)
{
    struct mix_thread *t = arg;
    struct store_item it;
    gate_wait(t->start);
    for (long i = 0; !atomic_load_explicit(t->stop, memory_order_relaxed); i++, t->ops++) {
        uint64_t r = next_random(&t->seed);
        uint64_t id = r % ITEMS;
        if ((r >> 32) % 100 < MIX_WRITE_PERCENT) {
            it = (struct store_item){.id = id, .value = (int64_t)i};
            snprintf(it.title, sizeof it.title, "item %llu v%ld", (unsigned long long)id, i);
            store_put(t->store, &it, &t->hist);
        } else {
            store_get(t->store, id, &it, &t->hist);
        }
    }
    return NULL;
}

static int run_mix(enum store_lock kind, int run_ms)
{
    struct mix_thread t[MIX_THREADS];
    pthread_t threads[MIX_THREADS];
    struct start_gate start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct wait_hist all = {0};
    atomic_bool stop;
    long ops = 0;
    int started = 0;
    struct store *s = store_new(kind);

    if (s == NULL || fill(s) != 0) {
        store_free(s);
        return -1;
    }
    atomic_init(&stop, 0);
    RACE_HINT_ATOMIC_VAR(stop);
    for (; started < MIX_THREADS; started++) {
        t[started] = (struct mix_thread){.store = s,
                                         .start = &start,
                                         .stop = &stop,
                                         .seed = 0x9e3779b97f4a7c15u + (uint64_t)started};
        if (pthread_create(&threads[started], NULL, mix_main, &t[started]) != 0)
            break;
    }
    if (started < MIX_THREADS)
        atomic_store_explicit(&stop, 1, memory_order_relaxed); /* let the others end at once */
    gate_open(&start);
    demo_block_ms(run_ms); /* the length of the measurement, not a wait for a thread */
    atomic_store_explicit(&stop, 1, memory_order_relaxed);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        wait_hist_merge(&all, &t[i].hist);
        ops += t[i].ops;
    }
    pthread_cond_destroy(&start.opened);
    pthread_mutex_destroy(&start.lock);
    store_free(s);
    if (started < MIX_THREADS)
        return -1;
    print_hist_row(store_lock_name(kind), ops * 1000.0 / run_ms, &all);
    return 0;
}

/* ---- Part 2: a starved writer ---- */

struct starve_thread {
    struct store *store;
    atomic_bool *stop;
    long done;
    struct wait_hist hist;
};

static void *reader_main(void *arg)
{
    struct starve_thread *t = arg;
    uint64_t from = 0;
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        store_sum(t->store, from, STARVE_SUM_ITEMS, &t->hist); /* a page, under one read lock */
        from = (from + STARVE_SUM_ITEMS) % (ITEMS - STARVE_SUM_ITEMS);
        t->done++;
    }
    return NULL;
}

static void *writer_main(void *arg)
{
    struct starve_thread *t = arg;
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        struct store_item it = {.id = (uint64_t)t->done % ITEMS, .value = 2};
        store_put(t->store, &it, &t->hist);
        t->done++;
    }
    return NULL;
}

static int run_starve(enum store_lock kind, int run_ms)
{
    struct starve_thread t[STARVE_READERS + 1];
    pthread_t threads[STARVE_READERS + 1];
    struct wait_hist readers = {0};
    atomic_bool stop;
    long reads = 0;
    int started = 0;
    struct store *s = store_new(kind);

    atomic_init(&stop, 0);
    RACE_HINT_ATOMIC_VAR(stop);
    if (s == NULL || fill(s) != 0) {
        store_free(s);
        return -1;
    }
    for (; started <= STARVE_READERS; started++) {
        t[started] = (struct starve_thread){.store = s, .stop = &stop};
        if (pthread_create(&threads[started], NULL,
                           started < STARVE_READERS ? reader_main : writer_main, &t[started]) != 0)
            break;
    }
    demo_block_ms(run_ms); /* the length of the measurement, not a wait for another thread */
    atomic_store_explicit(&stop, 1, memory_order_relaxed);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    store_free(s);
    if (started <= STARVE_READERS)
        return -1;
    for (int i = 0; i < STARVE_READERS; i++) {
        wait_hist_merge(&readers, &t[i].hist);
        reads += t[i].done;
    }
    char max[16];
    format_ns(max, sizeof max, t[STARVE_READERS].hist.max_ns);
    printf("%-23s %7ld reads, %7ld writes in %d ms; the writer's longest wait: %s\n",
           store_lock_name(kind), reads, t[STARVE_READERS].done, run_ms, max);
    return 0;
}

/* ---- Part 3: the loop thread and a lock held across I/O ---- */

struct loop_demo {
    struct event_base *base;
    struct store *store;
    struct event *tick_ev;  /* owned */
    struct event *start_ev; /* owned */
    uint64_t last_tick_ns, max_gap_ns;
    struct wait_hist loop_waits; /* the loop thread's own */
    int copy_first;              /* 1: copy under the lock, write after; 0: write under it */
    pthread_t saver;
    int saver_started;
    struct wait_hist saver_waits; /* the saver's own */
};

/* The stand-in for a buffered file writer: every SAVE_FLUSH_EVERY items it blocks on a write. */
struct slow_writer {
    size_t buffered;
};

static void slow_write(const struct store_item *item, void *arg)
{
    struct slow_writer *w = arg;
    (void)item;
    if (++w->buffered == SAVE_FLUSH_EVERY) {
        demo_block_ms(SAVE_FLUSH_MS); /* write() + fsync() of the buffer */
        w->buffered = 0;
    }
}

static void *saver_main(void *arg)
{
    struct loop_demo *d = arg;
    struct slow_writer w = {0};
    if (!d->copy_first) {
        /* Wrong: the disk writes happen while the read lock is held. */
        store_visit_locked(d->store, slow_write, &w, &d->saver_waits);
        return NULL;
    }
    /* Right: copy under the lock (memory only), release it, then write. */
    struct store_item *copy = malloc(ITEMS * sizeof *copy);
    if (copy == NULL)
        return NULL;
    size_t n = store_copy(d->store, copy, ITEMS, &d->saver_waits);
    for (size_t i = 0; i < n; i++)
        slow_write(&copy[i], &w);
    free(copy);
    return NULL;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop_demo *d = arg;
    struct store_item hits = {.id = ITEMS + 1, .value = 1};
    (void)fd;
    (void)what;
    uint64_t now = demo_now_ns();
    if (now - d->last_tick_ns > d->max_gap_ns)
        d->max_gap_ns = now - d->last_tick_ns;
    d->last_tick_ns = now;
    store_put(d->store, &hits, &d->loop_waits); /* a write, as a request handler would do */
}

static void start_saver_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop_demo *d = arg;
    (void)fd;
    (void)what;
    d->saver_started = pthread_create(&d->saver, NULL, saver_main, d) == 0;
}

static int run_loop_demo(int copy_first)
{
    struct loop_demo d = {.copy_first = copy_first};
    struct timeval tick = {0, TICK_MS * 1000}, start_at = {0, 50 * 1000};
    struct timeval run = {0, LOOP_RUN_MS * 1000};
    int rc = -1;

    d.base = event_base_new();
    d.store = store_new(STORE_RWLOCK);
    if (d.base == NULL || d.store == NULL || fill(d.store) != 0)
        goto cleanup;
    d.tick_ev = event_new(d.base, -1, EV_PERSIST, tick_cb, &d);
    d.start_ev = evtimer_new(d.base, start_saver_cb, &d);
    if (d.tick_ev == NULL || d.start_ev == NULL || event_add(d.tick_ev, &tick) != 0 ||
        evtimer_add(d.start_ev, &start_at) != 0 || event_base_loopexit(d.base, &run) != 0)
        goto cleanup;
    d.last_tick_ns = demo_now_ns();
    event_base_dispatch(d.base);
    if (d.saver_started)
        pthread_join(d.saver, NULL);
    char gap[16], wait[16];
    format_ns(gap, sizeof gap, d.max_gap_ns);
    format_ns(wait, sizeof wait, d.loop_waits.max_ns);
    printf("%-34s largest gap between %d ms ticks: %-8s loop's longest lock wait: %s\n",
           copy_first ? "saver copies, unlocks, then writes:" : "saver writes under the lock:",
           TICK_MS, gap, wait);
    rc = d.saver_started ? 0 : -1;
cleanup:
    if (d.tick_ev != NULL)
        event_free(d.tick_ev);
    if (d.start_ev != NULL)
        event_free(d.start_ev);
    store_free(d.store);
    if (d.base != NULL)
        event_base_free(d.base);
    return rc;
}

int main(int argc, char **argv)
{
    int quick = 0, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--demo") != 0) {
            fprintf(stderr, "usage: %s [--demo] [--quick]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (evthread_use_pthreads() != 0)
        return 1;

    printf("== 1. One store, four locks: %d threads, %d%% writes, %d ms each ==\n", MIX_THREADS,
           MIX_WRITE_PERCENT, quick ? 50 : MIX_RUN_MS);
    print_hist_header();
    for (enum store_lock k = STORE_MUTEX; k <= STORE_SHARDED; k++)
        if (run_mix(k, quick ? 50 : MIX_RUN_MS) != 0)
            goto cleanup;

    printf("\n== 2. %d readers that overlap, 1 writer ==\n", STARVE_READERS);
    if (run_starve(STORE_RWLOCK, quick ? 100 : STARVE_RUN_MS) != 0 ||
        run_starve(STORE_RWLOCK_PREFER_WRITER, quick ? 100 : STARVE_RUN_MS) != 0)
        goto cleanup;

    printf("\n== 3. The loop thread writes to the store every %d ms; a saver thread saves it ==\n",
           TICK_MS);
    if (run_loop_demo(0) != 0 || run_loop_demo(1) != 0)
        goto cleanup;
    printf("(typical figures: they vary with the machine, its cores and its load)\n");
    rc = 0;
cleanup:
    libevent_global_shutdown();
    return rc;
}
