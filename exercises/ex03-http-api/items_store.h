/*
 * items_store.h - the todo items, in memory, shared by every worker thread.
 *
 * This is the C version of the original's Arc<RwLock<HashMap<u64, Item>>>: a hash map from id
 * to item behind one pthread_rwlock_t. Any number of threads may read at once (GET); a write
 * (POST, PUT, PATCH, DELETE) waits for the readers to leave and has the map to itself.
 *
 * Items are plain C structs, not jansson objects. An item has a fixed shape that the JSON
 * layer checks once at the door (items_json.h), so the store never has to ask "is this field
 * a string?"; a struct is a fraction of the memory of the same jansson object, and copying
 * one out under a read lock is a memcpy, with no reference counts shared between threads.
 *
 * Every function copies items in or out: no pointer into the store ever escapes the lock, and
 * no call holds it for longer than a bounded amount of work.
 * This header is the same in exercises/ and solutions/.
 */
#ifndef ITEMS_STORE_H
#define ITEMS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ITEM_TITLE_MAX 256 /* bytes of UTF-8 in a title, not counting the NUL */
/* Ids and orders stay within 2^53 - 1, the largest integer a JavaScript client reads exactly. */
#define ITEM_INT_MAX INT64_C(9007199254740991)
/* The default bound: about 100 MB with short titles, 350 MB at worst. */
#define ITEMS_STORE_DEFAULT_MAX_ITEMS 1000000

/* One todo item, as a value: the store hands out copies of these. */
struct item {
    uint64_t id;                    /* assigned by the store: 1, 2, 3, ... never reused */
    char title[ITEM_TITLE_MAX + 1]; /* NUL-terminated, never empty */
    bool completed;
    bool has_order; /* false: "order" is null */
    int64_t order;  /* meaningful only when has_order */
};

/* Which fields of an item a request sets (a bit set): POST and PUT set all of them, a PATCH
 * only the ones its body names. */
enum item_field {
    ITEM_FIELD_TITLE = 1 << 0,
    ITEM_FIELD_COMPLETED = 1 << 1,
    ITEM_FIELD_ORDER = 1 << 2,
    ITEM_FIELDS_ALL = ITEM_FIELD_TITLE | ITEM_FIELD_COMPLETED | ITEM_FIELD_ORDER,
};

/* What a store call can report besides success. */
enum items_store_status {
    ITEMS_STORE_OK = 0,
    ITEMS_STORE_NOT_FOUND, /* no item has that id */
    ITEMS_STORE_FULL,      /* the store already holds max_items items */
    ITEMS_STORE_NO_MEMORY, /* malloc failed; nothing was changed */
};

struct items_store;

/* An empty store that holds at most max_items items (0 means the default). NULL if out of
 * memory. Free it with items_store_free() once no thread uses it any more. */
struct items_store *items_store_new(size_t max_items);
void items_store_free(struct items_store *store);

/*
 * Adds a new item with the next id. Copies title, completed and order from `fields` (its id is
 * ignored) and writes the stored item, id included, to *out. Returns ITEMS_STORE_OK,
 * ITEMS_STORE_FULL or ITEMS_STORE_NO_MEMORY.
 */
enum items_store_status items_store_create(struct items_store *store, const struct item *fields,
                                           struct item *out);

/* Copies the item with this id to *out. ITEMS_STORE_OK or ITEMS_STORE_NOT_FOUND. */
enum items_store_status items_store_get(struct items_store *store, uint64_t id, struct item *out);

/*
 * Changes the item with this id: every field named in `set` (a mask of enum item_field) is
 * copied from `fields`; the others keep their values. PUT passes ITEM_FIELDS_ALL, PATCH what
 * the body named. Writes the result to *out. ITEMS_STORE_OK or ITEMS_STORE_NOT_FOUND.
 */
enum items_store_status items_store_update(struct items_store *store, uint64_t id,
                                           const struct item *fields, unsigned set,
                                           struct item *out);

/* Removes the item with this id. ITEMS_STORE_OK or ITEMS_STORE_NOT_FOUND. */
enum items_store_status items_store_delete(struct items_store *store, uint64_t id);

/* Removes every item. Ids keep counting up: the next item does not get id 1 again. */
void items_store_clear(struct items_store *store);

/* The number of items. */
size_t items_store_count(struct items_store *store);

/*
 * Copies one page of the list into out[0 .. max-1]: the items at positions offset, offset + 1,
 * ... in id order (position 0 holds the smallest id). Returns how many were copied: max, or
 * fewer on the last page, 0 when offset is at or past the end. Writes the number of items in
 * the store to *total, counted under the same lock, so that offset + returned < *total says
 * that more items follow. Holds the read lock for O(max) copies plus the walk to the offset
 * (from whichever end of the list is nearer): a list has no index to jump to a position.
 */
size_t items_store_page(struct items_store *store, size_t offset, size_t max, struct item *out,
                        size_t *total);

#endif
