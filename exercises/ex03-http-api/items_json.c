/*
 * items_json.c - see items_json.h. Parsing uses jansson's strict options; checking walks the
 * object's keys one by one (rather than json_unpack) so that every message can name the field
 * and say exactly what is wrong with it.
 */
#include "items_json.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define KEY_SHOWN_MAX 40  /* bytes of an unknown key quoted back in a message */

static void fail(struct items_json_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct items_json_error *err, int status, const char *fmt, ...)
{
    va_list ap;
    err->status = status;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

int items_json_parse(const char *body, size_t len, enum items_json_mode mode, struct item *out,
                     unsigned *set, struct items_json_error *err)
{
    /* TODO(4): check a request body
     * (lecture: lectures/04-http-evhttp/README.md#json-bodies-with-jansson).
     * The rules are in items_json.h; the test_json_* tests check each one.
     *   - memset *out to zero first: those are the defaults (not completed, no order);
     *   - an empty body is a 400 (json_loadb would only say "wrong arguments");
     *   - json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr): on failure,
     *     400 with "invalid JSON at line L, column C: <jerr.text>", except
     *     json_error_code(&jerr) == json_error_numeric_overflow, which is valid JSON with a
     *     number out of range: 422 ("number out of range ..."). jerr.text may quote bytes that
     *     are not UTF-8: copy it replacing anything but printable ASCII with '?';
     *   - not an object: 400 that says what it is instead (an array, a string, ...);
     *   - json_object_foreach over the keys: "title" (a non-empty string of at most
     *     ITEM_TITLE_MAX bytes), "completed" (true/false), "order" (null, or an integer within
     *     +-ITEM_INT_MAX; 1.5 is a JSON_REAL), "id" and "url" ignored, anything else 422
     *     naming the field. Set the matching ITEM_FIELD_* bit in *set for each field seen;
     *   - ITEMS_JSON_FULL without "title": 422; in full mode *set = ITEM_FIELDS_ALL;
     *   - json_decref the document on every path.
     * Use fail() for every error; messages must be specific ("\"title\" must be a string"). */
    (void)body;
    (void)len;
    (void)mode;
    (void)out;
    (void)set;
    fail(err, 500, "items_json_parse is not written yet (TODO(4) in items_json.c)");
    return -1;
}

void items_json_url(char *url, size_t size, const char *origin, uint64_t id)
{
    /* TODO(5): "ORIGIN/items/ID", e.g. http://127.0.0.1:3000/items/7 (PRIu64 prints a uint64_t). */
    (void)origin;
    (void)id;
    snprintf(url, size, "%s", "");
}

int items_json_write(struct evbuffer *out, const struct item *item, const char *origin)
{
    /* TODO(5): write the item
     * (lecture: lectures/04-http-evhttp/README.md#json-bodies-with-jansson).
     * An item always has the same five fields, so no JSON library is needed to write one:
     * append {"id":ID,"title":"TITLE","completed":true|false,"order":N|null,"url":"URL"}
     * with one evbuffer_add_printf (PRIu64 and PRId64 print the integers; the url is
     * ORIGIN/items/ID). Only the title needs care: write a static helper escape_title(dst,
     * src) that puts a backslash before '"' and '\\' and writes bytes below 0x20 as \u00XX
     * (e.g. \u0009 for a tab), into a buffer of ITEM_TITLE_MAX * 6 + 1 bytes. (json_pack and
     * json_dump_callback would work too, but build and free a dozen jansson values per item.)
     * test_json_writes_an_item shows the exact text expected. */
    (void)out;
    (void)item;
    (void)origin;
    return -1;
}
