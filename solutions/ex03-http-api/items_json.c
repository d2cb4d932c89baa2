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

/* STUDENT(5): Check the fields of a body that is a JSON object, one key at a time, so that
 * each message can name the field and say what is wrong with it (items_json.h has the rules):
 * "title" a non-empty string of at most ITEM_TITLE_MAX bytes; "completed" true or false;
 * "order" null or an integer within +-ITEM_INT_MAX (1.5 is not an integer); "id" and "url"
 * ignored; any other key refused, naming it (copy_key above shortens a long one). Every refusal
 * is a 422 through fail(). Mark each field seen in *set; in ITEMS_JSON_FULL mode a missing
 * "title" is a 422, and then every field is set (the ones left out keep their defaults).
 * stub: */
static int check_title(const json_t *value, struct item *out, struct items_json_error *err)
{
    if (!json_is_string(value)) {
        fail(err, 422, "\"title\" must be a string, not %s", kind_of(value));
        return -1;
    }
    size_t len = json_string_length(value);
    if (len == 0) {
        fail(err, 422, "\"title\" must not be empty");
        return -1;
    }
    if (len > ITEM_TITLE_MAX) {
        fail(err, 422, "\"title\" is %zu bytes long; the limit is %d", len, ITEM_TITLE_MAX);
        return -1;
    }
    /* jansson refuses \u0000 by default, so the title has no NUL inside: a C string is safe. */
    memcpy(out->title, json_string_value(value), len + 1);
    return 0;
}

static int check_completed(const json_t *value, struct item *out, struct items_json_error *err)
{
    if (!json_is_boolean(value)) {
        fail(err, 422, "\"completed\" must be true or false, not %s", kind_of(value));
        return -1;
    }
    out->completed = json_is_true(value);
    return 0;
}

static int check_order(const json_t *value, struct item *out, struct items_json_error *err)
{
    if (json_is_null(value)) {
        out->has_order = false;
        return 0;
    }
    if (!json_is_integer(value)) {
        fail(err, 422, "\"order\" must be an integer or null, not %s", kind_of(value));
        return -1;
    }
    json_int_t order = json_integer_value(value);
    if (order > ITEM_INT_MAX || order < -ITEM_INT_MAX) {
        fail(err, 422, "\"order\" must be between -%" PRId64 " and %" PRId64, ITEM_INT_MAX,
             ITEM_INT_MAX);
        return -1;
    }
    out->has_order = true;
    out->order = (int64_t)order;
    return 0;
}

/* Checks every field of the object; fills *out and *set. */
static int check_fields(json_t *root, enum items_json_mode mode, struct item *out, unsigned *set,
                        struct items_json_error *err)
{
    const char *key;
    json_t *value;

    *set = 0;
    json_object_foreach(root, key, value)
    {
        int rc = 0;
        if (strcmp(key, "title") == 0) {
            rc = check_title(value, out, err);
            *set |= ITEM_FIELD_TITLE;
        } else if (strcmp(key, "completed") == 0) {
            rc = check_completed(value, out, err);
            *set |= ITEM_FIELD_COMPLETED;
        } else if (strcmp(key, "order") == 0) {
            rc = check_order(value, out, err);
            *set |= ITEM_FIELD_ORDER;
        } else if (strcmp(key, "id") != 0 && strcmp(key, "url") != 0) {
            char shown[KEY_SHOWN_MAX + 1];
            copy_key(shown, sizeof shown, key);
            fail(err, 422, "unknown field \"%s\"%s: an item has title, completed and order", shown,
                 strlen(shown) < strlen(key) ? "..." : "");
            rc = -1;
        }
        if (rc != 0)
            return -1;
    }
    if (mode == ITEMS_JSON_FULL) {
        if (!(*set & ITEM_FIELD_TITLE)) {
            fail(err, 422, "\"title\" is required");
            return -1;
        }
        *set = ITEM_FIELDS_ALL; /* a full body resets what it leaves out: out has the defaults */
    }
    return 0;
}
/* END STUDENT(5) */

int items_json_parse(const char *body, size_t len, enum items_json_mode mode, struct item *out,
                     unsigned *set, struct items_json_error *err)
{
    /* STUDENT(5): Parse a request body with jansson and check it, before anything touches the
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
     * stub:
     *     fail(err, 500, "the body is not checked yet");
     *     return -1; */
    json_error_t jerr;

    memset(out, 0, sizeof *out); /* the defaults: not completed, no order */
    if (len == 0) {
        fail(err, 400, "the body is empty: send a JSON object such as {\"title\": \"buy milk\"}");
        return -1;
    }
    /* JSON_DECODE_ANY lets a bare 42 or "x" parse, so that the message below can say what it
     * is; duplicate keys are refused because which one would win is anyone's guess. */
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char text[JSON_ERROR_TEXT_LENGTH];
        copy_ascii(text, sizeof text, jerr.text);
        if (json_error_code(&jerr) == json_error_numeric_overflow) /* valid JSON, wrong content */
            fail(err, 422, "number out of range at line %d, column %d: %s", jerr.line, jerr.column,
                 text);
        else
            fail(err, 400, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root))
        fail(err, 400, "the body must be a JSON object, not %s", kind_of(root));
    else
        rc = check_fields(root, mode, out, set, err);
    json_decref(root);
    return rc;
    /* END STUDENT(5) */
}

void items_json_url(char *url, size_t size, const char *origin, uint64_t id)
{
    /* STUDENT(6): Write the item's URL into url: "ORIGIN/items/ID", such as
     * http://127.0.0.1:3000/items/7.
     * stub:
     *     snprintf(url, size, "%s", ""); */
    snprintf(url, size, "%s/items/%" PRIu64, origin, id);
    /* END STUDENT(6) */
}

/* STUDENT(6): Write an item as JSON without a JSON library: an item always has the same five
 * fields in the same order, exactly
 *     {"id":7,"title":"buy milk","completed":false,"order":null,"url":"ORIGIN/items/7"}
 * ("order" is an integer when the item has one). Only the title needs care: it may hold '"',
 * '\\' and control characters, and must read back as the same string. A title that came
 * through items_json_parse is valid UTF-8 without NUL bytes, so every other byte is copied as
 * it is. Size every buffer for the worst title.
 * stub: */
/* Writes src as the inside of a JSON string: '"' and '\\' get a backslash, control characters
 * become \u00XX. The title came through items_json_parse, so it is valid UTF-8 without NUL
 * bytes and everything else is copied as it is. dst needs 6 bytes per byte of src, plus 1. */
static void escape_title(char *dst, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    for (; *src != '\0'; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = (char)c;
        } else if (c < 0x20) {
            memcpy(dst, "\\u00", 4);
            dst[4] = hex[c >> 4];
            dst[5] = hex[c & 0xf];
            dst += 6;
        } else {
            *dst++ = (char)c;
        }
    }
    *dst = '\0';
}

/* END STUDENT(6) */

/*
 * Writing needs no JSON library: an item always has the same five fields, and only the title
 * can hold characters that need escaping. (json_pack and json_dump_callback built and freed a
 * tree of a dozen jansson values for every item written: about 15% of the CPU time of a
 * GET /items/1.) Parsing is different: a client's bytes can be anything, and jansson's
 * parser is the part worth having.
 */
int items_json_write(struct evbuffer *out, const struct item *item, const char *origin)
{
    /* STUDENT(6): see the block above.
     * stub:
     *     return -1; */
    char title[ITEM_TITLE_MAX * 6 + 1]; /* each byte may become a 6-byte \u00XX */
    char order[24] = "null";

    escape_title(title, item->title);
    if (item->has_order)
        snprintf(order, sizeof order, "%" PRId64, item->order);
    int n = evbuffer_add_printf(out,
                                "{\"id\":%" PRIu64 ",\"title\":\"%s\",\"completed\":%s,"
                                "\"order\":%s,\"url\":\"%s/items/%" PRIu64 "\"}",
                                item->id, title, item->completed ? "true" : "false", order, origin,
                                item->id);
    return n < 0 ? -1 : 0;
    /* END STUDENT(6) */
}
