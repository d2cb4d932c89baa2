/*
 * router.c - see router.h. First the path is matched, then the method, then a handler runs.
 * Handlers are synchronous: the store is in memory, so each one reads the body, calls the
 * store, and writes the answer into the exchange without ever waiting.
 */
#include "router.h"

#include "http_api.h"
#include "items_json.h"
#include "items_store.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define COLLECTION_PATH "/items"
#define COLLECTION_ALLOW "GET, HEAD, POST, DELETE, OPTIONS"
#define ITEM_ALLOW "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
#define PATH_SHOWN 80 /* bytes of a path quoted back in a 404 message */

enum route { ROUTE_NONE, ROUTE_COLLECTION, ROUTE_ITEM };

uint64_t router_parse_id(const char *text, size_t len)
{
    /* STUDENT(3): Read the {id} of /items/{id}: `len` bytes, not NUL-terminated. Only a positive
     * decimal integer of at most ITEM_INT_MAX, with no sign and no leading zero, is an id; for
     * anything else ("abc", "0", "-1", "01", "1.5", 20 digits) return 0, which router_dispatch
     * answers with a 404. The trap: 20 digits overflow a uint64_t silently and may wrap to a
     * small, valid-looking id.
     * stub:
     *     return 0; */
    if (len == 0 || len > 16 || text[0] == '0') /* ITEM_INT_MAX has 16 digits */
        return 0;
    uint64_t id = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        id = id * 10 + (uint64_t)(text[i] - '0');
    }
    return id <= (uint64_t)ITEM_INT_MAX ? id : 0;
    /* END STUDENT(3) */
}

/* Matches /items, /items/, /items/{id} and /items/{id}/. For an item route, *id_text and
 * *id_len locate the {id} part (not yet checked). */
static enum route match(const char *path, const char **id_text, size_t *id_len)
{
    /* STUDENT(3): Tell which route a path is. `path` is already percent-decoded, or NULL when
     * it could not be. The collection is "/items" or "/items/"; an item is "/items/X" or
     * "/items/X/" where X is not empty and has no '/' (point *id_text and *id_len at X; it is
     * checked later). Everything else is ROUTE_NONE: "/", "/itemsx", "/items//",
     * "/items/1/more". Then read router_dispatch below (given): it turns the route and the
     * method into a handler, a 404 or a 405 with an Allow header.
     * stub:
     *     return ROUTE_NONE; */
    size_t prefix = sizeof COLLECTION_PATH - 1;
    if (path == NULL || strncmp(path, COLLECTION_PATH, prefix) != 0)
        return ROUTE_NONE;
    const char *rest = path + prefix;
    if (strcmp(rest, "") == 0 || strcmp(rest, "/") == 0)
        return ROUTE_COLLECTION;
    if (rest[0] != '/')
        return ROUTE_NONE; /* /itemsfoo */
    rest++;
    size_t len = strcspn(rest, "/");
    if (len == 0 || !(rest[len] == '\0' || strcmp(rest + len, "/") == 0))
        return ROUTE_NONE; /* /items//, /items/1/more */
    *id_text = rest;
    *id_len = len;
    return ROUTE_ITEM;
    /* END STUDENT(3) */
}

/* ---- handlers ---------------------------------------------------------------------------- */

/* Sets the status and writes the item as the body. */
static void reply_item(struct exchange *ex, int status, const struct item *item)
{
    char origin[EXCHANGE_ORIGIN_MAX];
    exchange_origin(ex, origin, sizeof origin);
    if (items_json_write(ex->out, item, origin) != 0) {
        exchange_fail(ex, 500, "out of memory");
        return;
    }
    ex->status = status;
}

/* Turns a store failure into an answer. */
static void reply_store_error(struct exchange *ex, enum items_store_status st, uint64_t id)
{
    switch (st) {
    case ITEMS_STORE_NOT_FOUND:
        exchange_fail(ex, 404, "no item with id %" PRIu64, id);
        break;
    case ITEMS_STORE_FULL:
        exchange_fail(ex, 507, "the store is full (%zu items): delete some first",
                      items_store_count(ex->app->store));
        break;
    default:
        exchange_fail(ex, 500, "out of memory");
        break;
    }
}

/* Parses the body in the given mode; on failure answers 400 or 422 and returns -1. */
static int read_item(struct exchange *ex, enum items_json_mode mode, struct item *fields,
                     unsigned *set)
{
    struct items_json_error err;
    size_t len;
    const char *body = exchange_body(ex, &len);
    if (items_json_parse(body, len, mode, fields, set, &err) != 0) {
        exchange_fail(ex, err.status, "%s", err.message);
        return -1;
    }
    return 0;
}

/* A whole decimal number: digits only, so a sign, a fraction or an empty value is refused.
 * Numbers too large for a size_t become SIZE_MAX, which is past the end of any list.
 * Returns 0 and sets *out, or -1. */
static int parse_count(const char *text, size_t *out)
{
    size_t len = strlen(text), v = 0;
    if (len == 0 || strspn(text, "0123456789") != len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        size_t digit = (size_t)(text[i] - '0');
        v = v > (SIZE_MAX - digit) / 10 ? SIZE_MAX : v * 10 + digit;
    }
    *out = v;
    return 0;
}

/* Reads the page that GET /items asks for, ?offset=N&limit=M, both optional: offset defaults
 * to 0, limit to HTTP_API_PAGE_MAX_ITEMS, and a larger limit is cut down to that (a client
 * asking for "everything" gets the first page and a link to the next). Other parameters are
 * ignored. On a bad value answers 400 naming the parameter and returns -1. */
static int read_page(struct exchange *ex, size_t *offset, size_t *limit)
{
    /* STUDENT(8): Read the page GET /items asks for. The query string (the part of the URI after
     * '?', if any) may give offset=N (items to skip, default 0) and limit=M (default and at most
     * HTTP_API_PAGE_MAX_ITEMS: a larger limit counts as that). Both are whole numbers
     * (parse_count, above), and limit is at least 1: for anything else answer 400 with a
     * message that names the parameter ("offset" or "limit"). Ignore other parameters, and free
     * whatever parsing the query allocated, on every path.
     * stub:
     *     *offset = 0;
     *     *limit = HTTP_API_PAGE_MAX_ITEMS;
     *     return 0; */
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(ex->req));
    struct evkeyvalq params; /* evhttp_parse_query_str initialises it */
    int rc = 0;

    *offset = 0;
    *limit = HTTP_API_PAGE_MAX_ITEMS;
    if (query == NULL)
        return 0;
    if (evhttp_parse_query_str(query, &params) != 0) {
        exchange_fail(ex, 400, "the query string is not a list of name=value pairs");
        return -1;
    }
    const char *text = evhttp_find_header(&params, "offset");
    if (text != NULL && parse_count(text, offset) != 0) {
        exchange_fail(ex, 400,
                      "offset must be a whole number of items to skip (0 or more), "
                      "not \"%.40s\"",
                      text);
        rc = -1;
    }
    text = evhttp_find_header(&params, "limit");
    if (rc == 0 && text != NULL) {
        if (parse_count(text, limit) != 0 || *limit == 0) {
            exchange_fail(ex, 400,
                          "limit must be a whole number of items, 1 or more (a page "
                          "holds at most %d), not \"%.40s\"",
                          HTTP_API_PAGE_MAX_ITEMS, text);
            rc = -1;
        } else if (*limit > HTTP_API_PAGE_MAX_ITEMS) {
            *limit = HTTP_API_PAGE_MAX_ITEMS;
        }
    }
    evhttp_clear_headers(&params);
    return rc;
    /* END STUDENT(8) */
}

/*
 * GET /items: one page of the list. The page is copied out of the store first, under the read
 * lock, and written as JSON after the lock is released, so writers never wait for the JSON.
 * Both the copy (HTTP_API_PAGE_MAX_ITEMS items) and the response are bounded, however many
 * items the store holds. When more items follow, the Link header says where (RFC 8288, as
 * GitHub's API does), and X-Total-Count says how many there are in all.
 */
static void list_items(struct exchange *ex)
{
    /* STUDENT(8): Answer 200 with the page as a JSON array of items in id order ([] past the
     * end), the header "X-Total-Count: TOTAL" (every item, not just the page), and, only when
     * more items follow the page,
     *     Link: <ORIGIN/items?offset=NEXT&limit=LIMIT>; rel="next"
     * where ORIGIN is the same as in the items' urls. Copy the page out of the store before
     * writing any JSON, so that writers never wait for the JSON to be written.
     * stub: */
    size_t offset, limit, total;
    if (read_page(ex, &offset, &limit) != 0)
        return;
    struct item *page = malloc(limit * sizeof *page);
    if (page == NULL) {
        exchange_fail(ex, 500, "out of memory");
        return;
    }
    size_t n = items_store_page(ex->app->store, offset, limit, page, &total);

    char origin[EXCHANGE_ORIGIN_MAX];
    exchange_origin(ex, origin, sizeof origin);
    int rc = evbuffer_add(ex->out, "[", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = evbuffer_add(ex->out, ",", 1);
        if (rc == 0)
            rc = items_json_write(ex->out, &page[i], origin);
    }
    if (rc == 0)
        rc = evbuffer_add(ex->out, "]", 1);
    free(page);
    if (rc != 0) {
        exchange_fail(ex, 500, "out of memory");
        return;
    }

    char header[EXCHANGE_ORIGIN_MAX + 80];
    if (offset + n < total) {
        snprintf(header, sizeof header, "<%s/items?offset=%zu&limit=%zu>; rel=\"next\"", origin,
                 offset + n, limit);
        exchange_add_header(ex, "Link", header);
    }
    snprintf(header, sizeof header, "%zu", total);
    exchange_add_header(ex, "X-Total-Count", header);
    ex->status = 200;
    /* END STUDENT(8) */
}

static void create_item(struct exchange *ex)
{
    /* STUDENT(7): The handlers answer by writing into the exchange: a status and a body in
     * ex->out, or exchange_fail() for an error. The helpers above do the common parts:
     * read_item (the body, checked; it answers 400 or 422 itself), reply_item and
     * reply_store_error (404, 507 or 500 from the store's status).
     * POST /items: create the item the body describes (all its fields; what it leaves out takes
     * its default) and answer 201 with the item and a Location header holding the item's url.
     * stub: */
    struct item fields, item;
    unsigned set;
    if (read_item(ex, ITEMS_JSON_FULL, &fields, &set) != 0)
        return;
    enum items_store_status st = items_store_create(ex->app->store, &fields, &item);
    if (st != ITEMS_STORE_OK) {
        reply_store_error(ex, st, 0);
        return;
    }
    char origin[EXCHANGE_ORIGIN_MAX], url[ITEMS_JSON_URL_MAX];
    exchange_origin(ex, origin, sizeof origin);
    items_json_url(url, sizeof url, origin, item.id);
    exchange_add_header(ex, "Location", url);
    reply_item(ex, 201, &item);
    /* END STUDENT(7) */
}

static void get_item(struct exchange *ex, uint64_t id)
{
    /* STUDENT(7): GET /items/{id}: 200 with the item, or 404 naming the id.
     * stub: */
    struct item item;
    enum items_store_status st = items_store_get(ex->app->store, id, &item);
    if (st != ITEMS_STORE_OK)
        reply_store_error(ex, st, id);
    else
        reply_item(ex, 200, &item);
    /* END STUDENT(7) */
}

/* PUT (ITEMS_JSON_FULL: what the body leaves out is reset) and PATCH (ITEMS_JSON_PARTIAL:
 * what the body leaves out is kept) differ only in how the body is read. */
static void update_item(struct exchange *ex, uint64_t id, enum items_json_mode mode)
{
    /* STUDENT(7): PUT replaces the whole item (a field the body leaves out goes back to its
     * default, and "title" is required); PATCH changes only the fields the body names. Both
     * answer 200 with the item as it is now, or 404 naming the id.
     * stub: */
    struct item fields, item;
    unsigned set;
    if (read_item(ex, mode, &fields, &set) != 0)
        return;
    enum items_store_status st = items_store_update(ex->app->store, id, &fields, set, &item);
    if (st != ITEMS_STORE_OK)
        reply_store_error(ex, st, id);
    else
        reply_item(ex, 200, &item);
    /* END STUDENT(7) */
}

static void delete_item(struct exchange *ex, uint64_t id)
{
    /* STUDENT(7): DELETE /items/{id}: 204 with no body, or 404 naming the id.
     * stub: */
    enum items_store_status st = items_store_delete(ex->app->store, id);
    if (st != ITEMS_STORE_OK)
        reply_store_error(ex, st, id);
    else
        ex->status = 204;
    /* END STUDENT(7) */
}

static void method_not_allowed(struct exchange *ex, const char *allow)
{
    exchange_add_header(ex, "Allow", allow);
    exchange_fail(ex, 405, "%s is not allowed here; this path allows %s",
                  exchange_method_name(ex->method), allow);
}

/* A plain OPTIONS (not a CORS preflight, which the CORS layer answers): what is allowed. */
static void options(struct exchange *ex, const char *allow)
{
    exchange_add_header(ex, "Allow", allow);
    ex->status = 204;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

void router_dispatch(struct exchange *ex, struct middleware_chain next)
{
    (void)next; /* the innermost layer */
    const char *id_text = NULL;
    size_t id_len = 0;

    if (ex->method == EVHTTP_REQ_CONNECT) { /* "CONNECT host:port" names no path at all */
        exchange_fail(ex, 501, "CONNECT asks a proxy for a tunnel; this server is not a proxy");
        return;
    }

    switch (match(ex->path, &id_text, &id_len)) {
    case ROUTE_NONE:
        exchange_fail(ex, 404, "no such path: %.*s (the API serves /items and /items/{id})",
                      PATH_SHOWN, ex->path != NULL ? ex->path : "(unreadable)");
        return;

    case ROUTE_COLLECTION:
        switch (ex->method) {
        case EVHTTP_REQ_GET:
        case EVHTTP_REQ_HEAD:
            list_items(ex);
            return;
        case EVHTTP_REQ_POST:
            create_item(ex);
            return;
        case EVHTTP_REQ_DELETE:
            items_store_clear(ex->app->store);
            ex->status = 204;
            return;
        case EVHTTP_REQ_OPTIONS:
            options(ex, COLLECTION_ALLOW);
            return;
        default:
            method_not_allowed(ex, COLLECTION_ALLOW);
            return;
        }

    case ROUTE_ITEM: {
        uint64_t id = router_parse_id(id_text, id_len);
        if (id == 0) {
            exchange_fail(ex, 404, "no item at %.*s: item ids are positive integers like /items/1",
                          PATH_SHOWN, ex->path);
            return;
        }
        switch (ex->method) {
        case EVHTTP_REQ_GET:
        case EVHTTP_REQ_HEAD:
            get_item(ex, id);
            return;
        case EVHTTP_REQ_PUT:
            update_item(ex, id, ITEMS_JSON_FULL);
            return;
        case EVHTTP_REQ_PATCH:
            update_item(ex, id, ITEMS_JSON_PARTIAL);
            return;
        case EVHTTP_REQ_DELETE:
            delete_item(ex, id);
            return;
        case EVHTTP_REQ_OPTIONS:
            options(ex, ITEM_ALLOW);
            return;
        default:
            method_not_allowed(ex, ITEM_ALLOW);
            return;
        }
    }
    }
}
