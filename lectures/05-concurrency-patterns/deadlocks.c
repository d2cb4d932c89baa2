/*
 * deadlocks.c - three ways threads wait for each other forever, and the way out of each.
 *
 * Part 1: two threads move money between two accounts in opposite directions, taking the two
 * locks in one global order, so they cannot deadlock. Part 2: event_del() called on another
 * thread while the loop runs that event's callback waits for the callback to return (measured);
 * if the caller holds a lock the callback needs, that is a deadlock, and event_free_finalize()
 * is the way out. With --deadlock: the same transfers with the locks taken in opposite orders,
 * caught by a watchdog that names both threads and makes one back off; and a mutex locked twice
 * by one thread, which an error-checking mutex reports as EDEADLK.
 *
 *     ./deadlocks --demo          (add --quick for fewer transfers, e.g. under valgrind)
 *     ./deadlocks --deadlock      (opt-in: helgrind reports its re-lock, as it should)
 */
#include "demo_clock.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define TRANSFERS 100000     /* part 1: per thread (--quick: 1/100) */
#define CALLBACK_MS 100      /* part 2: how long the loop's callback runs */
#define WATCHDOG_EVERY_MS 20 /* --deadlock: how often the watchdog looks */
#define STUCK_MS 100         /* --deadlock: a cycle this old is a deadlock */
#define SLICE_MS 10          /* --deadlock: a tracked lock re-checks this often */

/* ---- Part 1: lock ordering ---- */

struct account {
    int id; /* the global order: lower id first */
    pthread_mutex_t lock;
    long balance; /* guarded by lock */
};

/* Takes both locks lowest id first, whatever the direction of the transfer. Two threads that
 * both follow this order can never each hold the lock the other waits for. */
static void transfer(struct account *from, struct account *to, long amount)
{
    struct account *first = from->id < to->id ? from : to;
    struct account *second = from->id < to->id ? to : from;
    pthread_mutex_lock(&first->lock);
    pthread_mutex_lock(&second->lock);
    from->balance -= amount;
    to->balance += amount;
    pthread_mutex_unlock(&second->lock);
    pthread_mutex_unlock(&first->lock);
}

struct mover {
    struct account *from, *to;
    long times;
};

static void *mover_main(void *arg)
{
    struct mover *m = arg;
    for (long i = 0; i < m->times; i++)
        transfer(m->from, m->to, 1);
    return NULL;
}

static int part_ordering(long times)
{
    struct account a = {1, PTHREAD_MUTEX_INITIALIZER, 1000};
    struct account b = {2, PTHREAD_MUTEX_INITIALIZER, 1000};
    struct mover m1 = {&a, &b, times}, m2 = {&b, &a, times};
    pthread_t t1, t2;

    printf("== 1. Lock ordering: %ld transfers A->B and %ld B->A at the same time ==\n", times,
           times);
    if (pthread_create(&t1, NULL, mover_main, &m1) != 0)
        return -1;
    if (pthread_create(&t2, NULL, mover_main, &m2) != 0) {
        pthread_join(t1, NULL);
        return -1;
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("done: A = %ld, B = %ld, total %ld (both threads lock the lower id first)\n", a.balance,
           b.balance, a.balance + b.balance);
    return a.balance + b.balance == 2000 ? 0 : -1;
}

/* ---- Part 2: event_del() from another thread ---- */

struct slow_event {
    struct event_base *base;
    struct event *ev;      /* owned until handed to event_free_finalize */
    pthread_mutex_t state; /* the lock the callback needs at its end */
    pthread_cond_t entered_cond;
    int entered;      /* guarded by state: the callback has started */
    long updates;     /* guarded by state */
    int use_finalize; /* 1: the worker uses event_free_finalize while holding state */
    uint64_t start_ns;
};

static double ms_since(const struct slow_event *s)
{
    return (demo_now_ns() - s->start_ns) / 1e6;
}

static void slow_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slow_event *s = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->state);
    s->entered = 1;
    pthread_cond_signal(&s->entered_cond);
    pthread_mutex_unlock(&s->state);
    printf("[%3.0f ms] loop:   slow_cb starts (%d ms of work)\n", ms_since(s), CALLBACK_MS);
    demo_block_ms(CALLBACK_MS);
    pthread_mutex_lock(&s->state); /* with event_del() in the worker, this would hang */
    s->updates++;
    pthread_mutex_unlock(&s->state);
    printf("[%3.0f ms] loop:   slow_cb returns\n", ms_since(s));
}

/* Runs on the loop thread once slow_cb has returned; libevent frees the event afterwards. */
static void finalized_cb(struct event *ev, void *arg)
{
    struct slow_event *s = arg;
    (void)ev;
    printf("[%3.0f ms] loop:   finalized_cb: the callback is over, now its state may go\n",
           ms_since(s));
    event_base_loopexit(s->base, NULL);
}

static void *remover_main(void *arg)
{
    struct slow_event *s = arg;
    pthread_mutex_lock(&s->state);
    while (!s->entered) /* wait until the loop is inside slow_cb */
        pthread_cond_wait(&s->entered_cond, &s->state);
    if (!s->use_finalize) {
        pthread_mutex_unlock(&s->state); /* holding it through event_del() would deadlock */
        uint64_t t0 = demo_now_ns();
        event_del(s->ev);
        printf("[%3.0f ms] worker: event_del() returned after %.0f ms: it waited for slow_cb\n",
               ms_since(s), (demo_now_ns() - t0) / 1e6);
        event_base_loopexit(s->base, NULL);
        return NULL;
    }
    /* Still holding state, which slow_cb needs: event_del() here would never return. */
    uint64_t t0 = demo_now_ns();
    event_free_finalize(0, s->ev, finalized_cb);
    s->ev = NULL; /* libevent owns and frees it now */
    printf("[%3.0f ms] worker: event_free_finalize() returned after %.2f ms, lock still held\n",
           ms_since(s), (demo_now_ns() - t0) / 1e6);
    pthread_mutex_unlock(&s->state);
    return NULL;
}

static int run_remover(int use_finalize)
{
    struct slow_event s = {.use_finalize = use_finalize};
    pthread_t worker;
    int rc = -1, started = 0;

    pthread_mutex_init(&s.state, NULL);
    pthread_cond_init(&s.entered_cond, NULL);
    s.base = event_base_new();
    if (s.base == NULL)
        goto cleanup;
    s.ev = event_new(s.base, -1, 0, slow_cb, &s);
    if (s.ev == NULL)
        goto cleanup;
    started = pthread_create(&worker, NULL, remover_main, &s) == 0;
    if (!started)
        goto cleanup;
    s.start_ns = demo_now_ns();
    event_active(s.ev, EV_READ, 0);
    event_base_loop(s.base, EVLOOP_NO_EXIT_ON_EMPTY);
    rc = s.updates == 1 ? 0 : -1;
cleanup:
    if (started)
        pthread_join(worker, NULL);
    if (s.ev != NULL)
        event_free(s.ev);
    if (s.base != NULL)
        event_base_free(s.base);
    pthread_cond_destroy(&s.entered_cond);
    pthread_mutex_destroy(&s.state);
    return rc;
}

/* ---- --deadlock: a lock-order inversion and a watchdog ---- */

struct tracked_thread;

struct tracked_mutex {
    const char *name;
    int rank; /* the global order: take lower ranks first */
    pthread_mutex_t m;
    struct tracked_thread *owner; /* guarded by the registry's lock */
};

struct tracked_thread {
    const char *name;
    struct tracked_mutex *waiting_for; /* guarded by the registry's lock */
    uint64_t waiting_since_ns;         /* guarded by the registry's lock */
    int give_up;                       /* guarded by the registry's lock: set by the watchdog */
};

/* Who holds what and who waits for what: the wait-for graph the watchdog reads. */
struct registry {
    pthread_mutex_t lock;
    struct tracked_thread *threads[2];
    int stop; /* guarded by lock: the watchdog exits */
    int deadlocks_found;
};

/* Locks m for t, or returns -1 if the watchdog told t to give up. Waits in slices so that it
 * can notice; the registry's lock is never held while waiting for m. */
static int tracked_lock(struct registry *r, struct tracked_thread *t, struct tracked_mutex *m)
{
    pthread_mutex_lock(&r->lock);
    t->waiting_for = m;
    t->waiting_since_ns = demo_now_ns();
    pthread_mutex_unlock(&r->lock);
    for (;;) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline); /* timedlock takes a CLOCK_REALTIME time */
        deadline.tv_nsec += SLICE_MS * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        int rc = pthread_mutex_timedlock(&m->m, &deadline);
        pthread_mutex_lock(&r->lock);
        if (rc == 0) {
            m->owner = t;
            t->waiting_for = NULL;
            pthread_mutex_unlock(&r->lock);
            return 0;
        }
        if (t->give_up) {
            t->give_up = 0;
            t->waiting_for = NULL;
            pthread_mutex_unlock(&r->lock);
            return -1;
        }
        pthread_mutex_unlock(&r->lock);
    }
}

static void tracked_unlock(struct registry *r, struct tracked_mutex *m)
{
    pthread_mutex_lock(&r->lock);
    m->owner = NULL;
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_unlock(&m->m);
}

static void *watchdog_main(void *arg)
{
    struct registry *r = arg;
    for (;;) {
        demo_block_ms(WATCHDOG_EVERY_MS); /* a watchdog looks periodically: that is its job */
        pthread_mutex_lock(&r->lock);
        if (r->stop) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        uint64_t now = demo_now_ns();
        for (int i = 0; i < 2; i++) {
            struct tracked_thread *t = r->threads[i];
            struct tracked_thread *u = t->waiting_for ? t->waiting_for->owner : NULL;
            if (u == NULL || u == t || u->waiting_for == NULL || u->waiting_for->owner != t ||
                now - t->waiting_since_ns < STUCK_MS * 1000000ULL)
                continue;
            printf("watchdog: deadlock: thread \"%s\" holds %s and waits for %s; thread \"%s\" "
                   "holds %s and waits for %s\n",
                   t->name, u->waiting_for->name, t->waiting_for->name, u->name,
                   t->waiting_for->name, u->waiting_for->name);
            /* The victim is the thread that broke the order: it waits for a lower rank than
             * the lock it holds. Once it lets go, the other thread can finish. */
            struct tracked_thread *victim = t->waiting_for->rank < u->waiting_for->rank ? t : u;
            printf("watchdog: \"%s\" took its locks out of order: telling it to give up\n",
                   victim->name);
            victim->give_up = 1;
            r->deadlocks_found++;
            break;
        }
        pthread_mutex_unlock(&r->lock);
    }
}

struct inverter {
    struct registry *r;
    struct tracked_thread self;
    struct tracked_mutex *first, *second;
    pthread_barrier_t *both_hold_first;
};

static void *inverter_main(void *arg)
{
    struct inverter *v = arg;
    tracked_lock(v->r, &v->self, v->first);
    pthread_barrier_wait(v->both_hold_first); /* now each holds what the other wants next */
    if (tracked_lock(v->r, &v->self, v->second) != 0) {
        tracked_unlock(v->r, v->first); /* back off: the other thread can finish */
        printf("%s: gave up %s, released %s; retrying in the global order\n", v->self.name,
               v->second->name, v->first->name);
        struct tracked_mutex *lo =
            strcmp(v->first->name, v->second->name) < 0 ? v->first : v->second;
        struct tracked_mutex *hi = lo == v->first ? v->second : v->first;
        tracked_lock(v->r, &v->self, lo);
        tracked_lock(v->r, &v->self, hi);
        tracked_unlock(v->r, hi);
        tracked_unlock(v->r, lo);
        printf("%s: transfer done\n", v->self.name);
        return NULL;
    }
    tracked_unlock(v->r, v->second);
    tracked_unlock(v->r, v->first);
    printf("%s: transfer done\n", v->self.name);
    return NULL;
}

static int part_relock(void)
{
    pthread_mutexattr_t attr;
    pthread_mutex_t m;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&m, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_lock(&m);
    /* What a callback called with the lock held does when it takes the lock again. A default
     * mutex would hang here forever; an error-checking one says so. */
    int rc = pthread_mutex_lock(&m);
    printf("\n== A callback called under a lock takes the same lock again ==\n");
    printf("error-checking mutex: second pthread_mutex_lock() on one thread returned %s (%s)\n",
           rc == EDEADLK ? "EDEADLK" : "something else", strerror(rc));
    pthread_mutex_unlock(&m);
    pthread_mutex_destroy(&m);
    return rc == EDEADLK ? 0 : -1;
}

static int run_deadlock(void)
{
    struct registry r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct tracked_mutex a = {"account-A", 1, PTHREAD_MUTEX_INITIALIZER, NULL};
    struct tracked_mutex b = {"account-B", 2, PTHREAD_MUTEX_INITIALIZER, NULL};
    pthread_barrier_t barrier;
    struct inverter v1 = {&r, {"transfer-1", NULL, 0, 0}, &a, &b, &barrier};
    struct inverter v2 = {&r, {"transfer-2", NULL, 0, 0}, &b, &a, &barrier};
    pthread_t t1, t2, dog;

    printf("== --deadlock: transfer-1 locks A then B, transfer-2 locks B then A ==\n");
    r.threads[0] = &v1.self;
    r.threads[1] = &v2.self;
    pthread_barrier_init(&barrier, NULL, 2);
    if (pthread_create(&dog, NULL, watchdog_main, &r) != 0)
        return -1;
    int ok1 = pthread_create(&t1, NULL, inverter_main, &v1) == 0;
    int ok2 = ok1 && pthread_create(&t2, NULL, inverter_main, &v2) == 0;
    if (ok1 && !ok2)
        pthread_barrier_wait(&barrier); /* stand in for the missing thread */
    if (ok1)
        pthread_join(t1, NULL);
    if (ok2)
        pthread_join(t2, NULL);
    pthread_mutex_lock(&r.lock);
    r.stop = 1;
    pthread_mutex_unlock(&r.lock);
    pthread_join(dog, NULL);
    pthread_barrier_destroy(&barrier);
    printf("watchdog: %d deadlock(s) found and broken\n", r.deadlocks_found);
    return ok2 && r.deadlocks_found == 1 && part_relock() == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int quick = 0, deadlock = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--deadlock") == 0)
            deadlock = 1;
        else if (strcmp(argv[i], "--demo") != 0) {
            fprintf(stderr, "usage: %s [--demo] [--quick] [--deadlock]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (evthread_use_pthreads() != 0)
        return 1;
    if (deadlock) {
        rc = run_deadlock() == 0 ? 0 : 1;
    } else if (part_ordering(quick ? TRANSFERS / 100 : TRANSFERS) == 0) {
        printf("\n== 2a. event_del() on a worker while the loop runs the callback ==\n");
        if (run_remover(0) == 0) {
            printf("\n== 2b. event_free_finalize() on a worker that holds the callback's lock "
                   "==\n");
            rc = run_remover(1) == 0 ? 0 : 1;
        }
    }
    libevent_global_shutdown();
    return rc;
}
