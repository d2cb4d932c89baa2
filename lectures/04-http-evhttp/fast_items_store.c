/*
 * fast_items_store.c - see fast_items_store.h. Ids are array positions plus one: an id is
 * never reused, and a deleted item leaves a hole (its title is NULL).
 */
#include "fast_items_store.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#define FAST_MAX_ITEMS (4 * 1024 * 1024) /* the store's bound: then 507 */
#define FAST_FIRST_CAP 1024              /* items before the array first grows */

int fast_item_parse(const char *body, size_t len, char **title_json, bool *completed)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    if (root == NULL)
        return 400;
    json_t *title = json_object_get(root, "title");
    json_t *done = json_object_get(root, "completed");
    int status = 422;
    if (json_is_string(title) && json_string_length(title) > 0 &&
        json_string_length(title) <= FAST_TITLE_MAX && (done == NULL || json_is_boolean(done))) {
        /* Escaped once here, so that every GET only copies it. */
        *title_json = json_dumps(title, JSON_ENCODE_ANY);
        *completed = json_is_true(done);
        status = *title_json != NULL ? 0 : 507;
    }
    json_decref(root);
    return status;
}

size_t fast_item_format(const struct fast_item *item, uint64_t id, char *buf, size_t size)
{
    int n = snprintf(buf, size, "{\"id\":%" PRIu64 ",\"title\":%s,\"completed\":%s}", id,
                     item->title_json, item->completed ? "true" : "false");
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

uint64_t fast_store_add(struct fast_store *store, char *title_json, bool completed)
{
    if (store->n == store->cap) {
        size_t cap = store->cap == 0 ? FAST_FIRST_CAP : store->cap * 2;
        struct fast_item *grown =
            cap <= FAST_MAX_ITEMS ? realloc(store->items, cap * sizeof *grown) : NULL;
        if (grown == NULL) {
            free(title_json);
            return 0;
        }
        store->items = grown;
        store->cap = cap;
    }
    store->items[store->n++] = (struct fast_item){title_json, completed};
    return store->n;
}

struct fast_item *fast_store_find(struct fast_store *store, uint64_t id)
{
    if (id == 0 || id > store->n || store->items[id - 1].title_json == NULL)
        return NULL;
    return &store->items[id - 1];
}

void fast_store_release(struct fast_store *store)
{
    for (size_t i = 0; i < store->n; i++)
        free(store->items[i].title_json);
    free(store->items);
    *store = (struct fast_store){0};
}
