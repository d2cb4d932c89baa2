/*
 * items_json.h - items to and from JSON with jansson: the serde of this exercise.
 *
 * Request bodies are checked here, once, before anything touches the store. The rules are
 * strict, because a lenient API teaches its clients to send garbage:
 *   400  the body is not JSON (the message gives line and column), repeats a key, or is not
 *        an object;
 *   422  it is an object with the wrong content: "title" missing (POST, PUT), empty, longer
 *        than ITEM_TITLE_MAX bytes or not a string; "completed" not true/false; "order" not
 *        an integer within +-ITEM_INT_MAX (or null); or a field an item does not have.
 * "id" and "url" are read-only: a client may send them back (they are in every response), and
 * they are ignored.
 *
 * This header is the same in exercises/ and solutions/.
 */
#ifndef ITEMS_JSON_H
#define ITEMS_JSON_H

#include "items_store.h"

#include <stddef.h>

struct evbuffer;

#define ITEMS_JSON_ERROR_MAX 256 /* bytes of an error message, NUL included */
#define ITEMS_JSON_URL_MAX 320   /* an origin (at most 263 bytes) + "/items/" + an id, NUL */

enum items_json_mode {
    ITEMS_JSON_FULL,    /* POST and PUT: "title" required; absent fields take their defaults */
    ITEMS_JSON_PARTIAL, /* PATCH: every field optional; only the fields present change */
};

struct items_json_error {
    int status;                         /* 400 or 422 */
    char message[ITEMS_JSON_ERROR_MAX]; /* for the client: says what is wrong and where */
};

/*
 * Parses and checks a request body of `len` bytes (it need not be NUL-terminated).
 * On success returns 0, fills *out with the fields the body gives (in ITEMS_JSON_FULL mode
 * also the defaults of the ones it leaves out) and sets *set to the mask of enum item_field
 * that the update should apply (always ITEM_FIELDS_ALL in full mode). out->id is 0.
 * On failure returns -1 and fills *err; *out and *set are then unspecified.
 */
int items_json_parse(const char *body, size_t len, enum items_json_mode mode, struct item *out,
                     unsigned *set, struct items_json_error *err);

/*
 * Appends an item to `out` as a JSON object:
 *     {"id":1,"title":"buy milk","completed":false,"order":null,"url":"ORIGIN/items/1"}
 * where ORIGIN is e.g. "http://127.0.0.1:3000". The title must be valid UTF-8, as every title
 * that passed items_json_parse is. Returns 0, or -1 if out of memory.
 */
int items_json_write(struct evbuffer *out, const struct item *item, const char *origin);

/* Writes the item's URL, "ORIGIN/items/ID", into url (at most size bytes). */
void items_json_url(char *url, size_t size, const char *origin, uint64_t id);

#endif
