/*
 * lock_store.c - a hash map of items by id behind a mutex, a read-write lock, or shards.
 *
 * The one idea: the lock is a detail of the store. Callers get copies and never see the
 * lock, so the same store can be measured with each kind (locks.c does), and no caller can
 * hold it across I/O or a callback by mistake. The map has a fixed number of buckets per
 * shard; exercise 03's store grows its table instead.
 */
#include "lock_store.h"

#include "demo_clock.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_PER_SHARD 1024

struct entry {
    struct store_item item;
    struct entry *next;
};

struct shard {
    pthread_mutex_t mutex;   /* STORE_MUTEX and STORE_SHARDED */
    pthread_rwlock_t rwlock; /* the two read-write kinds */
    struct entry *buckets[BUCKETS_PER_SHARD];
};

struct store {
    enum store_lock kind;
    int nshards;
    struct shard *shards; /* owned: nshards of them */
};

/* ---- The locks ---- */

static int shard_init_lock(struct shard *sh, enum store_lock kind)
{
    int rc;
    if (kind == STORE_MUTEX || kind == STORE_SHARDED) {
        pthread_mutexattr_t attr;
        pthread_mutexattr_init(&attr);
#ifndef NDEBUG
        /* Debug builds: locking it twice on one thread returns EDEADLK instead of hanging,
         * and unlocking it on a thread that does not hold it returns EPERM. */
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
#endif
        rc = pthread_mutex_init(&sh->mutex, &attr);
        pthread_mutexattr_destroy(&attr);
        return rc;
    }
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    if (kind == STORE_RWLOCK_PREFER_WRITER)
        /* A waiting writer now blocks new readers. The price: a thread that already holds a
         * read lock must not take it again (it would wait behind the writer forever). */
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&sh->rwlock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc;
}

static void shard_destroy_lock(struct shard *sh, enum store_lock kind)
{
    if (kind == STORE_MUTEX || kind == STORE_SHARDED)
        pthread_mutex_destroy(&sh->mutex);
    else
        pthread_rwlock_destroy(&sh->rwlock);
}

/* Takes the shard's lock, shared (reads) or exclusive (writes), and records the wait. */
static void shard_lock(const struct store *s, struct shard *sh, int exclusive, struct wait_hist *h)
{
    uint64_t t0 = demo_now_ns();
    int rc;
    if (s->kind == STORE_MUTEX || s->kind == STORE_SHARDED)
        rc = pthread_mutex_lock(&sh->mutex);
    else if (exclusive)
        rc = pthread_rwlock_wrlock(&sh->rwlock);
    else
        rc = pthread_rwlock_rdlock(&sh->rwlock);
    assert(rc == 0); /* an error-checking mutex reports misuse here (EDEADLK) */
    (void)rc;
    wait_hist_add(h, demo_now_ns() - t0);
}

static void shard_unlock(const struct store *s, struct shard *sh)
{
    int rc;
    if (s->kind == STORE_MUTEX || s->kind == STORE_SHARDED)
        rc = pthread_mutex_unlock(&sh->mutex);
    else
        rc = pthread_rwlock_unlock(&sh->rwlock);
    assert(rc == 0); /* EPERM: this thread does not hold it */
    (void)rc;
}

static struct shard *shard_of(const struct store *s, uint64_t id)
{
    return &s->shards[id % (uint64_t)s->nshards];
}

static struct entry **bucket_of(struct shard *sh, const struct store *s, uint64_t id)
{
    return &sh->buckets[(id / (uint64_t)s->nshards) % BUCKETS_PER_SHARD];
}

/* ---- The store ---- */

struct store *store_new(enum store_lock kind)
{
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->kind = kind;
    s->nshards = kind == STORE_SHARDED ? STORE_SHARDS : 1;
    s->shards = calloc((size_t)s->nshards, sizeof *s->shards);
    if (s->shards == NULL) {
        free(s);
        return NULL;
    }
    for (int i = 0; i < s->nshards; i++) {
        if (shard_init_lock(&s->shards[i], kind) != 0) {
            while (i-- > 0)
                shard_destroy_lock(&s->shards[i], kind);
            free(s->shards);
            free(s);
            return NULL;
        }
    }
    return s;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nshards; i++) {
        for (size_t b = 0; b < BUCKETS_PER_SHARD; b++) {
            struct entry *e = s->shards[i].buckets[b];
            while (e != NULL) {
                struct entry *next = e->next;
                free(e);
                e = next;
            }
        }
        shard_destroy_lock(&s->shards[i], s->kind);
    }
    free(s->shards);
    free(s);
}

int store_get(struct store *s, uint64_t id, struct store_item *out, struct wait_hist *h)
{
    struct shard *sh = shard_of(s, id);
    int rc = -1;
    shard_lock(s, sh, 0, h); /* shared: other readers may be in here too */
    for (struct entry *e = *bucket_of(sh, s, id); e != NULL; e = e->next) {
        if (e->item.id == id) {
            *out = e->item; /* a copy: no pointer into the map leaves the lock */
            rc = 0;
            break;
        }
    }
    shard_unlock(s, sh);
    return rc;
}

int store_put(struct store *s, const struct store_item *item, struct wait_hist *h)
{
    struct shard *sh = shard_of(s, item->id);
    /* Allocate before locking: malloc can take a lock of its own and page faults take time,
     * and neither needs to happen while other threads wait for this one. */
    struct entry *fresh = malloc(sizeof *fresh);
    if (fresh == NULL)
        return -1;
    fresh->item = *item;
    shard_lock(s, sh, 1, h); /* exclusive: no reader and no other writer inside */
    struct entry **head = bucket_of(sh, s, item->id);
    for (struct entry *e = *head; e != NULL; e = e->next) {
        if (e->item.id == item->id) {
            e->item = *item;
            shard_unlock(s, sh);
            free(fresh); /* after unlocking: free() needs no lock of ours */
            return 0;
        }
    }
    fresh->next = *head;
    *head = fresh;
    shard_unlock(s, sh);
    return 0;
}

int64_t store_sum(struct store *s, uint64_t from, size_t n, struct wait_hist *h)
{
    int64_t sum = 0;
    if (s->nshards == 1)
        shard_lock(s, &s->shards[0], 0, h);
    for (uint64_t id = from; id < from + n; id++) {
        struct shard *sh = shard_of(s, id);
        if (s->nshards > 1)
            shard_lock(s, sh, 0, h);
        for (struct entry *e = *bucket_of(sh, s, id); e != NULL; e = e->next)
            if (e->item.id == id)
                sum += e->item.value;
        if (s->nshards > 1)
            shard_unlock(s, sh);
    }
    if (s->nshards == 1)
        shard_unlock(s, &s->shards[0]);
    return sum;
}

/* Walks every item of every shard, each shard under its read lock, calling fn (or, when fn is
 * NULL, copying into out until max). Returns the number of items seen. */
static size_t store_walk(struct store *s, void (*fn)(const struct store_item *, void *), void *arg,
                         struct store_item *out, size_t max, struct wait_hist *h)
{
    size_t n = 0;
    for (int i = 0; i < s->nshards; i++) {
        struct shard *sh = &s->shards[i];
        shard_lock(s, sh, 0, h);
        for (size_t b = 0; b < BUCKETS_PER_SHARD; b++) {
            for (struct entry *e = sh->buckets[b]; e != NULL; e = e->next) {
                if (fn != NULL)
                    fn(&e->item, arg);
                else if (n < max)
                    out[n] = e->item;
                n++;
            }
        }
        shard_unlock(s, sh);
    }
    return fn != NULL || n < max ? n : max;
}

size_t store_copy(struct store *s, struct store_item *out, size_t max, struct wait_hist *h)
{
    return store_walk(s, NULL, NULL, out, max, h);
}

void store_visit_locked(struct store *s, void (*fn)(const struct store_item *, void *), void *arg,
                        struct wait_hist *h)
{
    store_walk(s, fn, arg, NULL, 0, h);
}

const char *store_lock_name(enum store_lock kind)
{
    static const char *names[] = {"mutex", "rwlock (default)", "rwlock (prefer writer)",
                                  "16 sharded mutexes"};
    return names[kind];
}

/* ---- The histogram ---- */

static uint64_t bucket_upper_ns(int b)
{
    return (uint64_t)250 << (2 * b); /* 250 ns, 1 us, 4 us, 16 us, ... */
}

void wait_hist_add(struct wait_hist *h, uint64_t ns)
{
    int b = 0;
    while (b < WAIT_BUCKETS - 1 && ns >= bucket_upper_ns(b))
        b++;
    h->buckets[b]++;
    h->count++;
    h->total_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void wait_hist_merge(struct wait_hist *into, const struct wait_hist *from)
{
    for (int b = 0; b < WAIT_BUCKETS; b++)
        into->buckets[b] += from->buckets[b];
    into->count += from->count;
    into->total_ns += from->total_ns;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
}

uint64_t wait_hist_percentile_ns(const struct wait_hist *h, double percent)
{
    uint64_t want = (uint64_t)(h->count * percent / 100.0), seen = 0;
    for (int b = 0; b < WAIT_BUCKETS - 1; b++) {
        seen += h->buckets[b];
        if (seen >= want)
            return bucket_upper_ns(b);
    }
    return h->max_ns;
}
