/*
 * fuzz_items_json.c - fuzzes exercise 03's request-body checks and item patching
 * (items_json.c, items_store_update) with arbitrary bytes.
 *
 * The input is parsed as a POST/PUT body and as a PATCH body. A refusal must be a 400 or a 422
 * with a message that can travel inside a JSON string. An accepted body must give a title of
 * 1 to ITEM_TITLE_MAX bytes of valid UTF-8 and an order within range; applied to a stored item
 * (items_store_update), exactly the fields it names change; and the item written back
 * (items_json_write) must parse as strict JSON with the very same values.
 * Run: tests/fuzz/run-fuzz items-json (see README.md here).
 */
#include "fuzz.h"

#include "items_json.h"
#include "items_store.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <string.h>

#define ORIGIN "http://127.0.0.1:3000"

static struct items_store *store;

/* The item written by items_json_write must read back as `item`. */
static void check_written(const struct item *item)
{
    struct evbuffer *buf = evbuffer_new();
    json_error_t jerr;

    if (buf == NULL || items_json_write(buf, item, ORIGIN) != 0)
        fuzz_fail("items_json_write failed");
    size_t len = evbuffer_get_length(buf);
    json_t *root =
        json_loadb((const char *)evbuffer_pullup(buf, -1), len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        fuzz_fail("items_json_write wrote invalid JSON (%s): %.*s", jerr.text, (int)len,
                  (const char *)evbuffer_pullup(buf, -1));
    const char *title = json_string_value(json_object_get(root, "title"));
    json_t *order = json_object_get(root, "order");
    json_t *completed = json_object_get(root, "completed");
    char url[ITEMS_JSON_URL_MAX];
    items_json_url(url, sizeof url, ORIGIN, item->id);
    if (title == NULL || strcmp(title, item->title) != 0)
        fuzz_fail("the title did not survive items_json_write");
    if ((uint64_t)json_integer_value(json_object_get(root, "id")) != item->id ||
        !json_is_boolean(completed) || json_is_true(completed) != item->completed ||
        (item->has_order ? !json_is_integer(order) || json_integer_value(order) != item->order
                         : !json_is_null(order)) ||
        strcmp(json_string_value(json_object_get(root, "url")), url) != 0 ||
        json_object_size(root) != 5)
        fuzz_fail("items_json_write changed a field");
    json_decref(root);
    evbuffer_free(buf);
}

static void check_mode(const uint8_t *data, size_t size, enum items_json_mode mode)
{
    struct item fields, before, after;
    struct items_json_error err;
    unsigned set = 0;

    memset(&err, 0, sizeof err);
    if (items_json_parse((const char *)data, size, mode, &fields, &set, &err) != 0) {
        if (err.status != 400 && err.status != 422)
            fuzz_fail("a refused body got status %d", err.status);
        if (err.message[0] == '\0' || memchr(err.message, '\0', sizeof err.message) == NULL)
            fuzz_fail("a refusal has an empty or unterminated message");
        json_t *s = json_string(err.message);
        if (s == NULL)
            fuzz_fail("the refusal message is not valid UTF-8: %s", err.message);
        json_decref(s);
        return;
    }
    if (mode == ITEMS_JSON_FULL && set != ITEM_FIELDS_ALL)
        fuzz_fail("a full body set only fields 0x%x", set);
    if ((set & ITEM_FIELD_TITLE) || mode == ITEMS_JSON_FULL) {
        size_t len = strnlen(fields.title, sizeof fields.title);
        if (len == 0 || len > ITEM_TITLE_MAX || !fuzz_utf8_ok((uint8_t *)fields.title, len))
            fuzz_fail("an accepted title is empty, too long or not UTF-8 (%zu bytes)", len);
    }
    if ((set & ITEM_FIELD_ORDER) && fields.has_order &&
        (fields.order > ITEM_INT_MAX || fields.order < -ITEM_INT_MAX))
        fuzz_fail("an accepted order is out of range");

    /* Patch a stored item: what the body names changes, the rest stays. */
    struct item base = {.completed = true, .has_order = true, .order = 7};
    strcpy(base.title, "before");
    if (items_store_create(store, &base, &before) != ITEMS_STORE_OK)
        fuzz_fail("cannot create an item");
    if (items_store_update(store, before.id, &fields, set, &after) != ITEMS_STORE_OK)
        fuzz_fail("cannot update the item just created");
    const struct item *want_title = set & ITEM_FIELD_TITLE ? &fields : &before;
    const struct item *want_done = set & ITEM_FIELD_COMPLETED ? &fields : &before;
    const struct item *want_order = set & ITEM_FIELD_ORDER ? &fields : &before;
    if (after.id != before.id || strcmp(after.title, want_title->title) != 0 ||
        after.completed != want_done->completed || after.has_order != want_order->has_order ||
        (after.has_order && after.order != want_order->order))
        fuzz_fail("items_store_update changed the wrong fields (set 0x%x)", set);
    check_written(&after);
    items_store_delete(store, before.id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (store == NULL && (store = items_store_new(16)) == NULL)
        fuzz_fail("out of memory");
    check_mode(data, size, ITEMS_JSON_FULL);
    check_mode(data, size, ITEMS_JSON_PARTIAL);
    return 0;
}
