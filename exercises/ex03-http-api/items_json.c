/*
 * items_json.c - see items_json.h. Parsing uses jansson's strict options; checking walks the
 * object's keys one by one (rather than json_unpack) so that every message can name the field
 * and say exactly what is wrong with it. Writing is done by hand: see items_json_write.
 */
#include "items_json.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Until every TODO is done, some functions are not called yet and some stubs leave
 * parameters and variables unused. These lines keep the compiler quiet about that; delete
 * them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

#define KEY_SHOWN_MAX 40 /* bytes of an unknown key quoted back in a message */

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

/* "a string", "an array", ...: what the client sent instead, for messages. */
static const char *kind_of(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction or exponent";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

/*
 * Copies jansson's error text, replacing bytes that are not printable ASCII with '?'. The text
 * can quote the client's bytes ("near '...'"), which may be invalid UTF-8, and the message
 * goes back out inside a JSON string, which must be valid UTF-8.
 */
static void copy_ascii(char *dst, size_t dstsz, const char *src)
{
    size_t i = 0;
    for (; src[i] != '\0' && i + 1 < dstsz; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[i] = '\0';
}

/* Copies at most KEY_SHOWN_MAX bytes of a (valid UTF-8) key without cutting a character. */
static void copy_key(char *dst, size_t dstsz, const char *key)
{
    size_t len = strlen(key);
    if (len > KEY_SHOWN_MAX) {
        len = KEY_SHOWN_MAX;
        while (len > 0 && ((unsigned char)key[len] & 0xC0) == 0x80)
            len--; /* key[len] continues a character: cut before that character */
    }
    if (len >= dstsz)
        len = dstsz - 1;
    memcpy(dst, key, len);
    dst[len] = '\0';
}

/* TODO(5): checking request bodies
 * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
 * Check the fields of a body that is a JSON object, one key at a time, so that
 * each message can name the field and say what is wrong with it (items_json.h has the rules):
 * "title" a non-empty string of at most ITEM_TITLE_MAX bytes; "completed" true or false;
 * "order" null or an integer within +-ITEM_INT_MAX (1.5 is not an integer); "id" and "url"
 * ignored; any other key refused, naming it (copy_key above shortens a long one). Every refusal
 * is a 422 through fail(). Mark each field seen in *set; in ITEMS_JSON_FULL mode a missing
 * "title" is a 422, and then every field is set (the ones left out keep their defaults).
 */

int items_json_parse(const char *body, size_t len, enum items_json_mode mode, struct item *out,
                     unsigned *set, struct items_json_error *err)
{
    /* TODO(5): checking request bodies
     * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
     * Parse a request body with jansson and check it, before anything touches the
     * store. The defaults (not completed, no order) are what *out holds where the body is
     * silent. Refuse with 400 and a message that says what is wrong:
     *   - an empty body: the message contains "empty";
     *   - text that is not JSON: "invalid JSON at line L, column C: <jansson's reason>";
     *   - a key given twice (which one should win?): jansson's reason then says "duplicate";
     *   - JSON that is not an object: the message contains "object" and says what it is.
     * A number too large for jansson is valid JSON with wrong content: 422, "out of range".
     * jansson's reason may quote the client's bytes, which need not be UTF-8, and the message
     * goes back inside a JSON string: copy_ascii above makes it safe. Free the parsed document
     * on every path.
     */
    fail(err, 500, "the body is not checked yet");
    return -1;
}

void items_json_url(char *url, size_t size, const char *origin, uint64_t id)
{
    /* TODO(6): writing items as JSON
     * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
     * Write the item's URL into url: "ORIGIN/items/ID", such as
     * http://127.0.0.1:3000/items/7.
     */
    snprintf(url, size, "%s", "");
}

/* TODO(6): writing items as JSON
 * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
 * Write an item as JSON without a JSON library: an item always has the same five
 * fields in the same order, exactly
 *     {"id":7,"title":"buy milk","completed":false,"order":null,"url":"ORIGIN/items/7"}
 * ("order" is an integer when the item has one). Only the title needs care: it may hold '"',
 * '\\' and control characters, and must read back as the same string. A title that came
 * through items_json_parse is valid UTF-8 without NUL bytes, so every other byte is copied as
 * it is. Size every buffer for the worst title.
 */

/*
 * Writing needs no JSON library: an item always has the same five fields, and only the title
 * can hold characters that need escaping. (json_pack and json_dump_callback built and freed a
 * tree of a dozen jansson values for every item written: about 15% of the CPU time of a
 * GET /items/1.) Parsing is different: a client's bytes can be anything, and jansson's
 * parser is the part worth having.
 */
int items_json_write(struct evbuffer *out, const struct item *item, const char *origin)
{
    /* TODO(6): writing items as JSON
     * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
     * see the block above.
     */
    return -1;
}
