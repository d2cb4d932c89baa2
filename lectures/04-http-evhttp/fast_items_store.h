/*
 * fast_items_store.h - the items of fast-items: a growing array indexed by id, and the item's
 * JSON in both directions. Single-threaded, like the server that owns it.
 */
#ifndef FAST_ITEMS_STORE_H
#define FAST_ITEMS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAST_TITLE_MAX 256 /* bytes of a title */

struct fast_item {
    char *title_json; /* the title as a JSON string, quotes included (owned); NULL: deleted */
    bool completed;
};

/* Zero-initialise one; fast_store_release() frees what it holds. */
struct fast_store {
    struct fast_item *items; /* items[id - 1] */
    size_t n, cap;
};

/* Reads {"title": "...", "completed": bool} into *title_json (a JSON string, the caller frees
 * it) and *completed. Returns 0, or the status to answer: 400 (not JSON) or 422 (wrong
 * fields), 507 (out of memory). */
int fast_item_parse(const char *body, size_t len, char **title_json, bool *completed);

/* Writes the item as JSON into buf (FAST_ITEM_JSON_MAX bytes are always enough). Returns the
 * length. */
#define FAST_ITEM_JSON_MAX (FAST_TITLE_MAX * 6 + 96) /* a title of \uXXXX escapes, and the rest */
size_t fast_item_format(const struct fast_item *item, uint64_t id, char *buf, size_t size);

/* Adds an item, taking title_json. Returns its id, or 0 (title_json freed) when full. */
uint64_t fast_store_add(struct fast_store *store, char *title_json, bool completed);

/* The live item with this id, or NULL. */
struct fast_item *fast_store_find(struct fast_store *store, uint64_t id);

/* Frees every item. */
void fast_store_release(struct fast_store *store);

#endif
