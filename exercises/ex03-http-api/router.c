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
    /* TODO(2): routing, part 1
     * (lecture: lectures/04-http-evhttp/README.md#path-parameters-and-query-strings).
     * Accept only 1 to 16 decimal digits, no sign, no leading zero, and a value of at most
     * ITEM_INT_MAX; return 0 for anything else ("abc", "0", "-1", "01", "1.5", 20 digits). */
    (void)text;
    (void)len;
    return 0;
}

/* Matches /items, /items/, /items/{id} and /items/{id}/. For an item route, *id_text and
 * *id_len locate the {id} part (not yet checked). */
static enum route match(const char *path, const char **id_text, size_t *id_len)
{
    /* TODO(2): routing, part 2 (lecture: lectures/04-http-evhttp/README.md#routing).
     * path is NULL or the decoded path. Return ROUTE_COLLECTION for "/items" and "/items/";
     * ROUTE_ITEM for "/items/X" and "/items/X/" with X non-empty and free of '/', pointing
     * *id_text and *id_len at X (router_dispatch checks it with router_parse_id); ROUTE_NONE
     * for everything else ("/", "/itemsx", "/items//", "/items/1/more"). Then read
     * router_dispatch below: it is written for you, and shows 404, 405 and Allow. */
    (void)path;
    (void)id_text;
    (void)id_len;
    return ROUTE_NONE;
}

/* ---- handlers ---------------------------------------------------------------------------- */

/*
 * TODO(6): the handlers (lecture: lectures/04-http-evhttp/README.md#state).
 * Each handler answers by setting ex->status and writing the body into ex->out, or by calling
 * exchange_fail(ex, status, "message"). Helpers worth writing first:
 *   - reply_item(ex, status, item): exchange_origin() then items_json_write() into ex->out;
 *   - reply_store_error(ex, st, id): ITEMS_STORE_NOT_FOUND -> 404 "no item with id N",
 *     ITEMS_STORE_FULL -> 507 "the store is full ...", ITEMS_STORE_NO_MEMORY -> 500;
 *   - read_item(ex, mode, &fields, &set): exchange_body() then items_json_parse(); on failure
 *     answer err.status with err.message.
 * POST answers 201 with a Location header (items_json_url); PUT reads ITEMS_JSON_FULL and
 * PATCH ITEMS_JSON_PARTIAL, and both call items_store_update with the mask they got; DELETE
 * answers 204 with no body.
 */

/*
 * GET /items: one page of the list. The page is copied out of the store first, under the read
 * lock, and written as JSON after the lock is released, so writers never wait for the JSON.
 * Both the copy (HTTP_API_PAGE_MAX_ITEMS items) and the response are bounded, however many
 * items the store holds. When more items follow, the Link header says where (RFC 8288, as
 * GitHub's API does), and X-Total-Count says how many there are in all.
 */
static void list_items(struct exchange *ex)
{
    /* TODO(6): GET /items?offset=N&limit=M
     * (lecture: lectures/04-http-evhttp/README.md#path-parameters-and-query-strings).
     *   - The query: evhttp_uri_get_query(evhttp_request_get_evhttp_uri(ex->req)) is NULL or
     *     "offset=2&limit=10"; evhttp_parse_query_str() splits it into a struct evkeyvalq
     *     (evhttp_find_header() reads a value, evhttp_clear_headers() frees them all).
     *   - offset: default 0. limit: default HTTP_API_PAGE_MAX_ITEMS, and any larger limit
     *     means HTTP_API_PAGE_MAX_ITEMS. Both are digits only; anything else, and a limit of
     *     0, is exchange_fail(ex, 400, ...) with a message naming the parameter.
     *   - malloc room for `limit` items, items_store_page() into it, then write "[", the
     *     items separated by "," (items_json_write), "]", and free the room. Answer 200.
     *   - If offset + the number returned < total, add the header
     *         Link: <ORIGIN/items?offset=NEXT&limit=LIMIT>; rel="next"
     *     and in any case X-Total-Count: TOTAL. */
    exchange_fail(ex, 501, "GET /items is not written yet (TODO(6) in router.c)");
}

static void create_item(struct exchange *ex)
{
    /* TODO(6): POST /items */
    exchange_fail(ex, 501, "POST /items is not written yet (TODO(6) in router.c)");
}

static void get_item(struct exchange *ex, uint64_t id)
{
    /* TODO(6): GET /items/{id} */
    (void)id;
    exchange_fail(ex, 501, "GET /items/{id} is not written yet (TODO(6) in router.c)");
}

/* PUT (ITEMS_JSON_FULL: what the body leaves out is reset) and PATCH (ITEMS_JSON_PARTIAL:
 * what the body leaves out is kept) differ only in how the body is read. */
static void update_item(struct exchange *ex, uint64_t id, enum items_json_mode mode)
{
    /* TODO(6): PUT and PATCH /items/{id} */
    (void)id;
    (void)mode;
    exchange_fail(ex, 501, "PUT and PATCH are not written yet (TODO(6) in router.c)");
}

static void delete_item(struct exchange *ex, uint64_t id)
{
    /* TODO(6): DELETE /items/{id} */
    (void)id;
    exchange_fail(ex, 501, "DELETE /items/{id} is not written yet (TODO(6) in router.c)");
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
