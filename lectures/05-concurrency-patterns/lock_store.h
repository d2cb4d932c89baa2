/*
 * lock_store.h - a small store of items by id behind a lock, shaped like exercise 03's.
 *
 * A hash map from id to item, as in exercise 03's items_store.h, with the lock chosen when the
 * store is made: one mutex, one read-write lock (glibc's default, which prefers readers), one
 * read-write lock that prefers writers, or 16 shards with a mutex each. locks.c runs the same
 * workload on each. Every call adds the time it waited for its lock to the caller's histogram,
 * so a thread can see what the lock cost it. Items are copied in and out: no pointer into the
 * store escapes its lock.
 */
#ifndef LOCK_STORE_H
#define LOCK_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_lock {
    STORE_MUTEX,                /* one pthread_mutex_t */
    STORE_RWLOCK,               /* one pthread_rwlock_t, glibc's default: readers first */
    STORE_RWLOCK_PREFER_WRITER, /* one pthread_rwlock_t, waiting writers block new readers */
    STORE_SHARDED,              /* STORE_SHARDS mutexes, each guarding 1/16 of the ids */
};

#define STORE_SHARDS 16
#define WAIT_BUCKETS 9 /* <250 ns, <1 us, <4 us, ... (x4 each), the last one unbounded */

/* Lock-wait times of one thread, in buckets that grow by 4x. Not shared between threads. */
struct wait_hist {
    uint64_t buckets[WAIT_BUCKETS];
    uint64_t count, total_ns, max_ns;
};

struct store_item {
    uint64_t id;
    int64_t value;
    char title[48];
};

struct store;

/* An empty store with this kind of lock. NULL if out of memory. */
struct store *store_new(enum store_lock kind);
/* Frees the store and its items. No thread may be using it. */
void store_free(struct store *store);

/* Copies the item with this id to *out. 0, or -1 if there is none. Adds the lock wait to h. */
int store_get(struct store *store, uint64_t id, struct store_item *out, struct wait_hist *h);

/* Inserts *item, or replaces the item with its id. 0, or -1 if out of memory. */
int store_put(struct store *store, const struct store_item *item, struct wait_hist *h);

/* A long read: the sum of the values of ids from .. from + n - 1, under one read lock, as a page
 * of exercise 03's GET /items is. (Sharded stores lock shard by shard: the sum is then not a
 * snapshot, which is what sharding costs.) */
int64_t store_sum(struct store *store, uint64_t from, size_t n, struct wait_hist *h);

/* Copies up to max items (in no particular order) to out under one read lock, and returns how
 * many. The lock is held for memory copies only: write them to disk after it returns. */
size_t store_copy(struct store *store, struct store_item *out, size_t max, struct wait_hist *h);

/* Calls fn for every item while holding the read lock. This is the mistake locks.c measures:
 * whatever fn does (write to a file, log, call back into the caller), every writer and, behind
 * a waiting writer, every reader waits for it. Kept here only to be measured. */
void store_visit_locked(struct store *store, void (*fn)(const struct store_item *, void *),
                        void *arg, struct wait_hist *h);

const char *store_lock_name(enum store_lock kind);
/* Adds one wait to h. */
void wait_hist_add(struct wait_hist *h, uint64_t ns);
/* Adds every count of from to into. */
void wait_hist_merge(struct wait_hist *into, const struct wait_hist *from);
/* The value below which `percent` of the waits fall, rounded up to a bucket's upper edge. */
uint64_t wait_hist_percentile_ns(const struct wait_hist *h, double percent);

#endif
