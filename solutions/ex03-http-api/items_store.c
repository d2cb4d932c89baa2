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

/* STUDENT(4): The map and its lock. Everything below is a hash map from id to entry (chains
 * of entries in `buckets`) plus a list of the same entries in id order (first, last), behind
 * one read-write lock: any number of threads may read at once (get, page, count), a change
 * (create, update, delete, clear) has the store to itself. Write the helpers the functions
 * below share: finding the entry of an id, and growing the bucket array (double it when there
 * are more items than buckets, relinking every entry; if that allocation fails the map still
 * works, with longer chains). Rules for all of them: no pointer into the store leaves a
 * function (callers get copies); allocate and free outside the lock, link and unlink inside
 * it, because a writer holding the lock stops every reader.
 * stub: */
/* Finds the entry with this id, or NULL. Caller holds the lock (read or write). */
static struct entry *find(const struct items_store *store, uint64_t id)
{
    struct entry *e = store->buckets[bucket_of(store, id)];
    while (e != NULL && e->id != id)
        e = e->bucket_next;
    return e;
}

/* Doubles the bucket array. If that allocation fails the map keeps working with longer chains,
 * so failure is not an error. Caller holds the write lock. O(n), but only at powers of two. */
static void grow(struct items_store *store)
{
    size_t n = store->nbuckets * 2;
    struct entry **buckets = calloc(n, sizeof *buckets);
    if (buckets == NULL)
        return;
    free(store->buckets);
    store->buckets = buckets;
    store->nbuckets = n;
    for (struct entry *e = store->first; e != NULL; e = e->next) {
        size_t b = bucket_of(store, e->id);
        e->bucket_next = buckets[b];
        buckets[b] = e;
    }
}

/* END STUDENT(4) */

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
    /* STUDENT(4): A new entry gets the next id (ids are never reused, even after a delete or a
     * clear) and goes at the tail of the id-order list, which keeps that list sorted. Refuse
     * with ITEMS_STORE_FULL when the store already holds max_items items, or when the next id
     * would pass ITEM_INT_MAX. Two threads creating at once must never get the same id.
     * stub:
     *     return ITEMS_STORE_NO_MEMORY; */
    struct entry *e = calloc(1, sizeof *e);
    if (e == NULL || (e->title = title_dup(fields->title)) == NULL) {
        free(e);
        return ITEMS_STORE_NO_MEMORY;
    }
    e->completed = fields->completed;
    e->has_order = fields->has_order;
    e->order = fields->has_order ? fields->order : 0;

    pthread_rwlock_wrlock(&store->lock);
    if (store->count >= store->max_items || store->next_id > (uint64_t)ITEM_INT_MAX) {
        pthread_rwlock_unlock(&store->lock);
        entry_free(e);
        return ITEMS_STORE_FULL;
    }
    e->id = store->next_id++;
    if (store->count >= store->nbuckets)
        grow(store);
    size_t b = bucket_of(store, e->id);
    e->bucket_next = store->buckets[b];
    store->buckets[b] = e;
    e->prev = store->last; /* the newest id is the largest: append */
    if (store->last != NULL)
        store->last->next = e;
    else
        store->first = e;
    store->last = e;
    store->count++;
    assert(store->count <= store->max_items);
    entry_copy_out(e, out);
    pthread_rwlock_unlock(&store->lock);
    return ITEMS_STORE_OK;
    /* END STUDENT(4) */
}

enum items_store_status items_store_get(struct items_store *store, uint64_t id, struct item *out)
{
    /* STUDENT(4): A copy of the item, under the read lock.
     * stub:
     *     return ITEMS_STORE_NOT_FOUND; */
    enum items_store_status status = ITEMS_STORE_NOT_FOUND;

    pthread_rwlock_rdlock(&store->lock);
    const struct entry *e = find(store, id);
    if (e != NULL) {
        entry_copy_out(e, out);
        status = ITEMS_STORE_OK;
    }
    pthread_rwlock_unlock(&store->lock);
    return status;
    /* END STUDENT(4) */
}

enum items_store_status items_store_update(struct items_store *store, uint64_t id,
                                           const struct item *fields, unsigned set,
                                           struct item *out)
{
    /* STUDENT(4): Only the fields named in `set` change. A new title is copied before taking
     * the lock, and the old one freed after releasing it.
     * stub:
     *     return ITEMS_STORE_NOT_FOUND; */
    char *title = NULL;
    enum items_store_status status = ITEMS_STORE_NOT_FOUND;

    if (set & ITEM_FIELD_TITLE) {
        title = title_dup(fields->title);
        if (title == NULL)
            return ITEMS_STORE_NO_MEMORY;
    }

    pthread_rwlock_wrlock(&store->lock);
    struct entry *e = find(store, id);
    if (e != NULL) {
        if (set & ITEM_FIELD_TITLE) {
            char *old = e->title; /* swap now, free after unlocking */
            e->title = title;
            title = old;
        }
        if (set & ITEM_FIELD_COMPLETED)
            e->completed = fields->completed;
        if (set & ITEM_FIELD_ORDER) {
            e->has_order = fields->has_order;
            e->order = fields->has_order ? fields->order : 0;
        }
        entry_copy_out(e, out);
        status = ITEMS_STORE_OK;
    }
    pthread_rwlock_unlock(&store->lock);
    free(title); /* the old title, or the unused new one */
    return status;
    /* END STUDENT(4) */
}

enum items_store_status items_store_delete(struct items_store *store, uint64_t id)
{
    /* STUDENT(4): Unlink the entry from its bucket's chain and from the id-order list (mind
     * the first and the last entry), then free it after unlocking.
     * stub:
     *     return ITEMS_STORE_NOT_FOUND; */
    pthread_rwlock_wrlock(&store->lock);
    struct entry **link = &store->buckets[bucket_of(store, id)];
    while (*link != NULL && (*link)->id != id)
        link = &(*link)->bucket_next;
    struct entry *e = *link;
    if (e != NULL) {
        *link = e->bucket_next;
        if (e->prev != NULL)
            e->prev->next = e->next;
        else
            store->first = e->next;
        if (e->next != NULL)
            e->next->prev = e->prev;
        else
            store->last = e->prev;
        store->count--;
    }
    pthread_rwlock_unlock(&store->lock);
    if (e == NULL)
        return ITEMS_STORE_NOT_FOUND;
    entry_free(e);
    return ITEMS_STORE_OK;
    /* END STUDENT(4) */
}

void items_store_clear(struct items_store *store)
{
    /* STUDENT(4): Empty the map and the list but keep the id counter. Detach everything under
     * the lock; free the entries after releasing it.
     * stub: */
    pthread_rwlock_wrlock(&store->lock);
    struct entry *e = store->first; /* detach the whole list; free it after unlocking */
    store->first = store->last = NULL;
    memset(store->buckets, 0, store->nbuckets * sizeof *store->buckets);
    store->count = 0;
    pthread_rwlock_unlock(&store->lock);

    while (e != NULL) {
        struct entry *next = e->next;
        entry_free(e);
        e = next;
    }
    /* END STUDENT(4) */
}

size_t items_store_count(struct items_store *store)
{
    pthread_rwlock_rdlock(&store->lock);
    size_t count = store->count;
    pthread_rwlock_unlock(&store->lock);
    return count;
}

/* STUDENT(4): A page of the list: skip `offset` entries of the id-order list and copy up to
 * `max` from there, all under the read lock, and report the count. A list has no index: the
 * walk to the offset is the cost, so start from whichever end is nearer.
 * stub: */
/* The entry at position pos (0-based, pos < count) in id order. Caller holds the lock. */
static const struct entry *entry_at(const struct items_store *store, size_t pos)
{
    const struct entry *e;
    assert(pos < store->count);
    if (pos <= store->count / 2) {
        e = store->first;
        for (size_t i = 0; i < pos; i++)
            e = e->next;
    } else {
        e = store->last;
        for (size_t i = store->count - 1; i > pos; i--)
            e = e->prev;
    }
    return e;
}

/* END STUDENT(4) */

size_t items_store_page(struct items_store *store, size_t offset, size_t max, struct item *out,
                        size_t *total)
{
    /* STUDENT(4): One page of the list, as the block above says.
     * stub:
     *     *total = 0;
     *     return 0; */
    size_t n = 0;

    pthread_rwlock_rdlock(&store->lock);
    *total = store->count;
    if (offset < store->count && max > 0) {
        for (const struct entry *e = entry_at(store, offset); e != NULL && n < max; e = e->next)
            entry_copy_out(e, &out[n++]);
    }
    pthread_rwlock_unlock(&store->lock);
    return n;
    /* END STUDENT(4) */
}
