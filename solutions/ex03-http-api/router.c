/*
 * router.c - see router.h. First the path is matched, then the method, then a handler runs.
 * Handlers are synchronous: the store is in memory, so each one reads the body, calls the
 * store, and writes the answer into the exchange without ever waiting.
 */
#include "router.h"

#include "items_json.h"
#include "items_store.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#define COLLECTION_PATH "/items"
#define COLLECTION_ALLOW "GET, HEAD, POST, DELETE, OPTIONS"
#define ITEM_ALLOW "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
#define PATH_SHOWN 80 /* bytes of a path quoted back in a 404 message */

enum route { ROUTE_NONE, ROUTE_COLLECTION, ROUTE_ITEM };

uint64_t router_parse_id(const char *text, size_t len)
{
    if (len == 0 || len > 16 || text[0] == '0') /* ITEM_INT_MAX has 16 digits */
        return 0;
    uint64_t id = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        id = id * 10 + (uint64_t)(text[i] - '0');
    }
    return id <= (uint64_t)ITEM_INT_MAX ? id : 0;
}

/* Matches /items, /items/, /items/{id} and /items/{id}/. For an item route, *id_text and
 * *id_len locate the {id} part (not yet checked). */
static enum route match(const char *path, const char **id_text, size_t *id_len)
{
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

struct list_ctx {
    struct evbuffer *out;
    const char *origin;
    bool first;
};

static int list_item_cb(const struct item *item, void *arg)
{
    struct list_ctx *ctx = arg;
    if (!ctx->first && evbuffer_add(ctx->out, ",", 1) != 0)
        return -1;
    ctx->first = false;
    return items_json_write(ctx->out, item, ctx->origin);
}

/* GET /items: the array is written item by item straight into the response buffer, so a long
 * list never exists twice in memory (once as jansson objects, once as text). This is O(n)
 * under the read lock: writers wait while a long list is written. */
static void list_items(struct exchange *ex)
{
    char origin[EXCHANGE_ORIGIN_MAX];
    exchange_origin(ex, origin, sizeof origin);
    struct list_ctx ctx = {ex->out, origin, true};

    if (evbuffer_add(ex->out, "[", 1) != 0 ||
        items_store_foreach(ex->app->store, list_item_cb, &ctx) != 0 ||
        evbuffer_add(ex->out, "]", 1) != 0) {
        exchange_fail(ex, 500, "out of memory");
        return;
    }
    ex->status = 200;
}

static void create_item(struct exchange *ex)
{
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
}

static void get_item(struct exchange *ex, uint64_t id)
{
    struct item item;
    enum items_store_status st = items_store_get(ex->app->store, id, &item);
    if (st != ITEMS_STORE_OK)
        reply_store_error(ex, st, id);
    else
        reply_item(ex, 200, &item);
}

/* PUT (ITEMS_JSON_FULL: what the body leaves out is reset) and PATCH (ITEMS_JSON_PARTIAL:
 * what the body leaves out is kept) differ only in how the body is read. */
static void update_item(struct exchange *ex, uint64_t id, enum items_json_mode mode)
{
    struct item fields, item;
    unsigned set;
    if (read_item(ex, mode, &fields, &set) != 0)
        return;
    enum items_store_status st = items_store_update(ex->app->store, id, &fields, set, &item);
    if (st != ITEMS_STORE_OK)
        reply_store_error(ex, st, id);
    else
        reply_item(ex, 200, &item);
}

static void delete_item(struct exchange *ex, uint64_t id)
{
    enum items_store_status st = items_store_delete(ex->app->store, id);
    if (st != ITEMS_STORE_OK)
        reply_store_error(ex, st, id);
    else
        ex->status = 204;
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

    switch (match(ex->path, &id_text, &id_len)) {
    case ROUTE_NONE:
        exchange_fail(ex, 404, "no such path: %.*s (the API serves /items and /items/{id})",
                      PATH_SHOWN, ex->path != NULL ? ex->path : "(unreadable)");
        return;

    case ROUTE_COLLECTION:
        switch (ex->method) {
        case EVHTTP_REQ_GET:
        case EVHTTP_REQ_HEAD: list_items(ex); return;
        case EVHTTP_REQ_POST: create_item(ex); return;
        case EVHTTP_REQ_DELETE:
            items_store_clear(ex->app->store);
            ex->status = 204;
            return;
        case EVHTTP_REQ_OPTIONS: options(ex, COLLECTION_ALLOW); return;
        default: method_not_allowed(ex, COLLECTION_ALLOW); return;
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
        case EVHTTP_REQ_HEAD: get_item(ex, id); return;
        case EVHTTP_REQ_PUT: update_item(ex, id, ITEMS_JSON_FULL); return;
        case EVHTTP_REQ_PATCH: update_item(ex, id, ITEMS_JSON_PARTIAL); return;
        case EVHTTP_REQ_DELETE: delete_item(ex, id); return;
        case EVHTTP_REQ_OPTIONS: options(ex, ITEM_ALLOW); return;
        default: method_not_allowed(ex, ITEM_ALLOW); return;
        }
    }
    }
}
