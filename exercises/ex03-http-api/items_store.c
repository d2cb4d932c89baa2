/*
 * items_store.c - see items_store.h. A chained hash map keyed by id, plus a doubly linked list
 * of the same entries in id order, all behind one pthread_rwlock_t.
 *
 * The list is what makes GET /items cheap: ids only ever grow, so appending each new entry at
 * the tail keeps the list sorted, and a page of the list is a walk instead of a sort. (Java's
 * LinkedHashMap is the same idea.) The map is what makes GET /items/{id} O(1).
 *
 * Locking rule of thumb used throughout: allocate and free outside the lock, link and unlink
 * inside it. malloc and free can be slow, and every microsecond under the write lock is a
 * microsecond in which no other thread can read.
 */
#include "items_store.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Until every TODO is done, some functions are not called yet and some stubs leave
 * parameters and variables unused. These lines keep the compiler quiet about that; delete
 * them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

/* A power of two; doubled whenever there are more items than buckets. */
#define INITIAL_BUCKETS 64

struct entry {
    struct entry *bucket_next; /* next entry in the same bucket */
    struct entry *prev, *next; /* neighbours in id order */
    uint64_t id;
    bool completed;
    bool has_order;
    int64_t order;
    char *title; /* owned by the entry */
};

struct items_store {
    pthread_rwlock_t lock;  /* guards everything below */
    struct entry **buckets; /* nbuckets chains */
    size_t nbuckets;        /* a power of two */
    size_t count;
    size_t max_items;
    uint64_t next_id;
    struct entry *first, *last; /* every entry, in id order */
};

/*
 * Ids are handed out one after another, so their low bits already spread them evenly over the
 * buckets and the id itself is a perfect hash. A map keyed by values that clients choose would
 * need a real, seeded hash function instead, or a client could pile every key into one bucket.
 */
static size_t bucket_of(const struct items_store *store, uint64_t id)
{
    return (size_t)(id & (store->nbuckets - 1));
}

static char *title_dup(const char *title)
{
    size_t len = strnlen(title, ITEM_TITLE_MAX);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, title, len);
        copy[len] = '\0';
    }
    return copy;
}

static void entry_free(struct entry *e)
{
    if (e != NULL) {
        free(e->title);
        free(e);
    }
}

static void entry_copy_out(const struct entry *e, struct item *out)
{
    size_t len = strlen(e->title); /* at most ITEM_TITLE_MAX: title_dup made sure */
    out->id = e->id;
    memcpy(out->title, e->title, len + 1);
    out->completed = e->completed;
    out->has_order = e->has_order;
    out->order = e->order;
}

/* TODO(4): the store: a hash map behind a read-write lock
 * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
 * The map and its lock. Everything below is a hash map from id to entry (chains
 * of entries in `buckets`) plus a list of the same entries in id order (first, last), behind
 * one read-write lock: any number of threads may read at once (get, page, count), a change
 * (create, update, delete, clear) has the store to itself. Write the helpers the functions
 * below share: finding the entry of an id, and growing the bucket array (double it when there
 * are more items than buckets, relinking every entry; if that allocation fails the map still
 * works, with longer chains). Rules for all of them: no pointer into the store leaves a
 * function (callers get copies); allocate and free outside the lock, link and unlink inside
 * it, because a writer holding the lock stops every reader.
 */

struct items_store *items_store_new(size_t max_items)
{
    struct items_store *store = calloc(1, sizeof *store);
    if (store == NULL)
        return NULL;
    store->nbuckets = INITIAL_BUCKETS;
    store->buckets = calloc(store->nbuckets, sizeof *store->buckets);
    if (store->buckets == NULL || pthread_rwlock_init(&store->lock, NULL) != 0) {
        free(store->buckets);
        free(store);
        return NULL;
    }
    store->max_items = max_items > 0 ? max_items : ITEMS_STORE_DEFAULT_MAX_ITEMS;
    store->next_id = 1;
    return store;
}

void items_store_free(struct items_store *store)
{
    if (store == NULL)
        return;
    struct entry *e = store->first;
    while (e != NULL) {
        struct entry *next = e->next;
        entry_free(e);
        e = next;
    }
    pthread_rwlock_destroy(&store->lock);
    free(store->buckets);
    free(store);
}

enum items_store_status items_store_create(struct items_store *store, const struct item *fields,
                                           struct item *out)
{
    /* TODO(4): the store: a hash map behind a read-write lock
     * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
     * A new entry gets the next id (ids are never reused, even after a delete or a
     * clear) and goes at the tail of the id-order list, which keeps that list sorted. Refuse
     * with ITEMS_STORE_FULL when the store already holds max_items items, or when the next id
     * would pass ITEM_INT_MAX. Two threads creating at once must never get the same id.
     */
    return ITEMS_STORE_NO_MEMORY;
}

enum items_store_status items_store_get(struct items_store *store, uint64_t id, struct item *out)
{
    /* TODO(4): the store: a hash map behind a read-write lock
     * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
     * A copy of the item, under the read lock.
     */
    return ITEMS_STORE_NOT_FOUND;
}

enum items_store_status items_store_update(struct items_store *store, uint64_t id,
                                           const struct item *fields, unsigned set,
                                           struct item *out)
{
    /* TODO(4): the store: a hash map behind a read-write lock
     * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
     * Only the fields named in `set` change. A new title is copied before taking
     * the lock, and the old one freed after releasing it.
     */
    return ITEMS_STORE_NOT_FOUND;
}

enum items_store_status items_store_delete(struct items_store *store, uint64_t id)
{
    /* TODO(4): the store: a hash map behind a read-write lock
     * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
     * Unlink the entry from its bucket's chain and from the id-order list (mind
     * the first and the last entry), then free it after unlocking.
     */
    return ITEMS_STORE_NOT_FOUND;
}

void items_store_clear(struct items_store *store)
{
    /* TODO(4): the store: a hash map behind a read-write lock
     * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
     * Empty the map and the list but keep the id counter. Detach everything under
     * the lock; free the entries after releasing it.
     */
}

size_t items_store_count(struct items_store *store)
{
    pthread_rwlock_rdlock(&store->lock);
    size_t count = store->count;
    pthread_rwlock_unlock(&store->lock);
    return count;
}

/* TODO(4): the store: a hash map behind a read-write lock
 * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
 * A page of the list: skip `offset` entries of the id-order list and copy up to
 * `max` from there, all under the read lock, and report the count. A list has no index: the
 * walk to the offset is the cost, so start from whichever end is nearer.
 */

size_t items_store_page(struct items_store *store, size_t offset, size_t max, struct item *out,
                        size_t *total)
{
    /* TODO(4): the store: a hash map behind a read-write lock
     * Read: lectures/05-concurrency-patterns/README.md#read-write-locks
     * One page of the list, as the block above says.
     */
    *total = 0;
    return 0;
}
