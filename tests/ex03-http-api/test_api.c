/*
 * test_api.c - the API over real HTTP on loopback: endpoints, status codes, errors, CORS,
 * limits, keep-alive, threads, the request log and shutdown.
 */
#include "suite.h"

#include "transcript.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_TYPE "Content-Type: application/json\r\n"
#define ERROR_SHOWN_MAX 512 /* bytes of an error message kept for checks */

/* Asserts the status of a response, naming the request and what to look at. */
#define EXPECT_STATUS(r, request, want, hint)                                                      \
    ck_assert_msg((r).status == (want), "%s: expected status %d, got %s; %s", (request), (want),   \
                  show(&(r)), (hint))

/* The string value of a field of a JSON object ("" if absent or not a string). */
static const char *str_field(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

/* Asserts that an error response is JSON {"error": "..."} whose message contains `needle`. */
static void expect_error_body(const struct http_response *r, const char *request,
                              const char *needle)
{
    json_t *j = body_json(r, request);
    const char *msg = json_string_value(json_object_get(j, "error"));
    ck_assert_msg(msg != NULL && strstr(msg, needle) != NULL,
                  "%s: expected a JSON body "
                  "{\"error\": \"...%s...\"}, got %s; errors are JSON with a specific message "
                  "(middleware_json_errors)",
                  request, needle, show(r));
    json_decref(j);
}

static void expect_header(const struct http_response *r, const char *request, const char *name,
                          const char *needle, const char *hint)
{
    char value[512];
    const char *v = http_header(r, name, value, sizeof value);
    ck_assert_msg(v != NULL && strstr(v, needle) != NULL,
                  "%s: expected a header \"%s\" "
                  "containing \"%s\", got %s%s%s (headers: \"%s\"); %s",
                  request, name, needle, v != NULL ? "\"" : "none", v != NULL ? v : "",
                  v != NULL ? "\"" : "", esc(r->head, r->head_len), hint);
}

/* Asserts that a response's status line has the standard reason phrase. */
static void expect_status_line(const struct http_response *r, const char *request, const char *want)
{
    ck_assert_msg(strcmp(r->status_line, want) == 0,
                  "%s: expected the status line \"%s\", got "
                  "\"%s\"; evhttp knows no phrase for some newer codes and says \"Client Error\", "
                  "so the reply must give the standard one",
                  request, want, r->status_line);
}

/* The "error" message of a response ("" if there is none), copied into out. */
static const char *error_message(const struct http_response *r, char *out, size_t outsz)
{
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    snprintf(out, outsz, "%s",
             json_string_value(json_object_get(j, "error")) != NULL
                 ? json_string_value(json_object_get(j, "error"))
                 : "");
    json_decref(j);
    return out;
}

/* Asserts that a request reached a handler: whatever its answer, it is not one of the router's
 * own 404s for a path that is not /items or /items/{id}, or an {id} that is not an id. */
static void expect_routed(struct server_fixture *f, const char *method, const char *target,
                          const char *body)
{
    struct http_response r;
    char msg[ERROR_SHOWN_MAX], request[96];
    snprintf(request, sizeof request, "%s %s", method, target);
    api_json(f, method, target, body, &r);
    error_message(&r, msg, sizeof msg);
    ck_assert_msg(r.status != 404 || (strstr(msg, "no such path") == NULL &&
                                      strstr(msg, "positive integers") == NULL),
                  "%s: expected it to reach a handler, got the router's %s", request, show(&r));
    http_response_free(&r);
}

/* ---- the endpoints ------------------------------------------------------------------------ */

HARNESS_TEST(test_post_creates_an_item)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", "{\"title\": \"buy milk\"}", &r);
    EXPECT_STATUS(r, "POST /items {\"title\": \"buy milk\"}", 201,
                  "create_item in router.c answers 201 Created");
    expect_header(&r, "POST /items", "Content-Type", "application/json",
                  "set evhttp_set_default_content_type");
    json_t *j = body_json(&r, "POST /items");
    ck_assert_msg(json_integer_value(json_object_get(j, "id")) == 1 &&
                      strcmp(str_field(j, "title"), "buy milk") == 0 &&
                      json_is_false(json_object_get(j, "completed")) &&
                      json_is_null(json_object_get(j, "order")),
                  "POST /items {\"title\": \"buy milk\"} on an empty server: expected {\"id\":1,"
                  "\"title\":\"buy milk\",\"completed\":false,\"order\":null,...}, got %s; see "
                  "items_json_write",
                  show(&r));
    json_decref(j);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_post_sets_location_and_url)
{
    struct server_fixture f;
    struct http_response r;
    char want[128], location[256];
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", "{\"title\": \"buy milk\"}", &r);
    EXPECT_STATUS(r, "POST /items", 201, "see create_item in router.c");
    snprintf(want, sizeof want, "http://127.0.0.1:%u/items/1", f.port);
    json_t *j = body_json(&r, "POST /items");
    ck_assert_msg(strcmp(str_field(j, "url"), want) == 0,
                  "POST /items with \"Host: "
                  "127.0.0.1:%u\": expected \"url\": \"%s\" (built from the Host header), got "
                  "%s; see exchange_origin and items_json_write",
                  f.port, want, show(&r));
    const char *loc = http_header(&r, "Location", location, sizeof location);
    ck_assert_msg(loc != NULL && strcmp(loc, want) == 0,
                  "POST /items: expected the header "
                  "\"Location: %s\", got \"%s\"; see create_item in router.c",
                  want, loc != NULL ? loc : "(none)");
    json_decref(j);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_get_returns_the_item)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_create(&f, "{\"title\": \"walk dog\", \"order\": 4}");
    api_request(&f, "GET", "/items/1", NULL, NULL, &r);
    EXPECT_STATUS(r, "GET /items/1 after creating item 1", 200, "see get_item in router.c");
    json_t *j = body_json(&r, "GET /items/1");
    ck_assert_msg(json_integer_value(json_object_get(j, "id")) == 1 &&
                      strcmp(str_field(j, "title"), "walk dog") == 0 &&
                      json_integer_value(json_object_get(j, "order")) == 4,
                  "GET /items/1 after POST {\"title\": \"walk dog\", \"order\": 4}: expected that "
                  "item, got %s",
                  show(&r));
    json_decref(j);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_get_all_lists_items_in_id_order)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_request(&f, "GET", "/items", NULL, NULL, &r);
    EXPECT_STATUS(r, "GET /items on an empty server", 200, "see list_items in router.c");
    ck_assert_msg(strcmp(r.body, "[]") == 0,
                  "GET /items on an empty server: expected the body "
                  "[], got %s",
                  show(&r));
    http_response_free(&r);

    api_create(&f, "{\"title\": \"one\"}");
    api_create(&f, "{\"title\": \"two\"}");
    api_create(&f, "{\"title\": \"three\"}");
    api_request(&f, "DELETE", "/items/2", NULL, NULL, &r);
    http_response_free(&r);
    api_request(&f, "GET", "/items", NULL, NULL, &r);
    json_t *j = body_json(&r, "GET /items");
    ck_assert_msg(json_is_array(j) && json_array_size(j) == 2 &&
                      json_integer_value(json_object_get(json_array_get(j, 0), "id")) == 1 &&
                      json_integer_value(json_object_get(json_array_get(j, 1), "id")) == 3 &&
                      strcmp(str_field(json_array_get(j, 1), "title"), "three") == 0,
                  "GET /items after creating 1, 2, 3 and deleting 2: expected an array of items 1 "
                  "and 3 in that order, got %s",
                  show(&r));
    json_decref(j);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

/* Creates items "item 1" .. "item n" (ids 1..n on a fresh server) over one keep-alive
 * connection, which is much faster than a connection per item. */
static void create_items(struct server_fixture *f, int n)
{
    struct client c;
    struct http_response r;
    char body[64];
    ck_assert_msg(client_connect(&c, f->port) == 0, "cannot connect to the server");
    for (int i = 1; i <= n; i++) {
        snprintf(body, sizeof body, "{\"title\": \"item %d\"}", i);
        http_send(&c, "POST", "/items", JSON_TYPE, body, REQUEST_TIMEOUT_MS);
        enum client_status st = http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS);
        ck_assert_msg(st == CLIENT_OK && r.status == 201,
                      "POST /items %s (item %d of %d, on "
                      "one keep-alive connection): expected 201, got %s (%s)",
                      body, i, n, show(&r), client_status_str(st));
        http_response_free(&r);
    }
    client_close(&c);
}

/* Asserts that a GET /items response is an array of exactly the ids first..first+count-1. */
static void expect_page(const struct http_response *r, const char *request, int first, int count,
                        const char *hint)
{
    json_t *j = body_json(r, request);
    int ok = json_is_array(j) && json_array_size(j) == (size_t)count;
    for (int i = 0; ok && i < count; i++)
        ok = json_integer_value(json_object_get(json_array_get(j, (size_t)i), "id")) == first + i;
    ck_assert_msg(ok,
                  "%s: expected a 200 array of the %d items with ids %d to %d, got %s "
                  "(%zu items); %s",
                  request, count, first, first + count - 1, show(r), json_array_size(j), hint);
    json_decref(j);
}

HARNESS_TEST(test_get_all_pages_with_limit_and_offset)
{
    struct server_fixture f;
    struct http_response r;
    const char *hint = "list_items reads ?offset=N&limit=M (evhttp_parse_query_str) and asks "
                       "items_store_page for that page";
    api_start(&f, NULL);
    create_items(&f, 5);
    api_request(&f, "GET", "/items?limit=2&offset=1", NULL, NULL, &r);
    EXPECT_STATUS(r, "GET /items?limit=2&offset=1", 200, hint);
    expect_page(&r, "GET /items?limit=2&offset=1 with items 1-5", 2, 2, hint);
    http_response_free(&r);
    api_request(&f, "GET", "/items?offset=3", NULL, NULL, &r);
    expect_page(&r, "GET /items?offset=3 with items 1-5", 4, 2, hint);
    http_response_free(&r);
    api_request(&f, "GET", "/items/?limit=1", NULL, NULL, &r);
    expect_page(&r, "GET /items/?limit=1 with items 1-5", 1, 1, hint);
    http_response_free(&r);
    api_request(&f, "GET", "/items?offset=5", NULL, NULL, &r);
    expect_page(&r, "GET /items?offset=5 with items 1-5 (past the end)", 1, 0, hint);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_get_all_links_to_the_next_page)
{
    struct server_fixture f;
    struct http_response r;
    char want[128], link[256], total[32];
    const char *hint = "when offset + the items returned < the number of items, add a Link "
                       "header to the next page (list_items)";
    api_start(&f, NULL);
    create_items(&f, 5);
    api_request(&f, "GET", "/items?limit=2", NULL, NULL, &r);
    EXPECT_STATUS(r, "GET /items?limit=2", 200, hint);
    snprintf(want, sizeof want, "<http://127.0.0.1:%u/items?offset=2&limit=2>; rel=\"next\"",
             f.port);
    const char *v = http_header(&r, "Link", link, sizeof link);
    ck_assert_msg(v != NULL && strcmp(v, want) == 0,
                  "GET /items?limit=2 with 5 items: expected "
                  "the header \"Link: %s\", got \"%s\"; %s",
                  want, v != NULL ? v : "(none)", hint);
    v = http_header(&r, "X-Total-Count", total, sizeof total);
    ck_assert_msg(v != NULL && strcmp(v, "5") == 0,
                  "GET /items?limit=2 with 5 items: expected "
                  "\"X-Total-Count: 5\", got \"%s\"; it counts every item, not the page",
                  v != NULL ? v : "(none)");
    http_response_free(&r);
    api_request(&f, "GET", "/items?offset=4&limit=2", NULL, NULL, &r);
    EXPECT_STATUS(r, "GET /items?offset=4&limit=2", 200, hint);
    v = http_header(&r, "Link", link, sizeof link);
    ck_assert_msg(v == NULL,
                  "GET /items?offset=4&limit=2 with 5 items (the last page): expected "
                  "no Link header, got \"Link: %s\"; a client follows Link until there is none",
                  v);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_get_all_caps_the_page_size)
{
    struct server_fixture f;
    struct http_response r;
    char want[128], link[256];
    const char *hint = "a limit over HTTP_API_PAGE_MAX_ITEMS counts as HTTP_API_PAGE_MAX_ITEMS, "
                       "which is also the default (list_items)";
    const char *requests[] = {"/items?limit=5000", "/items"};
    api_start(&f, NULL);
    create_items(&f, HTTP_API_PAGE_MAX_ITEMS + 1);
    snprintf(want, sizeof want, "<http://127.0.0.1:%u/items?offset=%d&limit=%d>; rel=\"next\"",
             f.port, HTTP_API_PAGE_MAX_ITEMS, HTTP_API_PAGE_MAX_ITEMS);
    for (size_t i = 0; i < 2; i++) {
        char request[96];
        snprintf(request, sizeof request, "GET %s with %d items", requests[i],
                 HTTP_API_PAGE_MAX_ITEMS + 1);
        api_request(&f, "GET", requests[i], NULL, NULL, &r);
        EXPECT_STATUS(r, request, 200, hint);
        expect_page(&r, request, 1, HTTP_API_PAGE_MAX_ITEMS, hint);
        const char *v = http_header(&r, "Link", link, sizeof link);
        ck_assert_msg(v != NULL && strcmp(v, want) == 0,
                      "%s: expected \"Link: %s\", got \"%s\"; "
                      "%s",
                      request, want, v != NULL ? v : "(none)", hint);
        http_response_free(&r);
    }
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_bad_paging_parameters_are_400)
{
    struct server_fixture f;
    struct http_response r;
    const struct {
        const char *target, *names;
    } bad[] = {
        {"/items?limit=abc", "limit"},  {"/items?limit=-1", "limit"},
        {"/items?limit=0", "limit"},    {"/items?limit=", "limit"},
        {"/items?limit=1.5", "limit"},  {"/items?offset=x", "offset"},
        {"/items?offset=-2", "offset"}, {"/items?offset=1e3", "offset"},
    };
    api_start(&f, NULL);
    api_create(&f, "{\"title\": \"x\"}");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char request[64];
        snprintf(request, sizeof request, "GET %s", bad[i].target);
        api_request(&f, "GET", bad[i].target, NULL, NULL, &r);
        EXPECT_STATUS(r, request, 400,
                      "offset is a whole number (0 or more) and limit one of 1 "
                      "or more: anything else is a 400 that names the parameter");
        expect_error_body(&r, request, bad[i].names);
        http_response_free(&r);
    }
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_put_replaces_the_whole_item)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_create(&f, "{\"title\": \"buy milk\", \"completed\": true, \"order\": 2}");
    api_json(&f, "PUT", "/items/1", "{\"title\": \"buy oat milk\"}", &r);
    EXPECT_STATUS(r, "PUT /items/1 {\"title\": \"buy oat milk\"}", 200,
                  "see update_item in router.c");
    json_t *j = body_json(&r, "PUT /items/1");
    ck_assert_msg(strcmp(str_field(j, "title"), "buy oat milk") == 0 &&
                      json_is_false(json_object_get(j, "completed")) &&
                      json_is_null(json_object_get(j, "order")),
                  "PUT /items/1 {\"title\": \"buy oat milk\"} on {completed: true, order: 2}: PUT "
                  "replaces the whole item, so completed must be back to false and order to null; "
                  "got %s (PUT parses in ITEMS_JSON_FULL mode)",
                  show(&r));
    json_decref(j);
    http_response_free(&r);
    api_json(&f, "PUT", "/items/1", "{\"completed\": true}", &r);
    EXPECT_STATUS(r, "PUT /items/1 {\"completed\": true} (no title)", 422,
                  "PUT needs a title like POST (ITEMS_JSON_FULL)");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_patch_changes_only_the_fields_sent)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_create(&f, "{\"title\": \"buy milk\", \"order\": 2}");
    api_json(&f, "PATCH", "/items/1", "{\"completed\": true}", &r);
    EXPECT_STATUS(r, "PATCH /items/1 {\"completed\": true}", 200,
                  "PATCH must be allowed (evhttp_set_allowed_methods) and routed");
    http_response_free(&r);
    api_request(&f, "GET", "/items/1", NULL, NULL, &r);
    json_t *j = body_json(&r, "GET /items/1");
    ck_assert_msg(strcmp(str_field(j, "title"), "buy milk") == 0 &&
                      json_is_true(json_object_get(j, "completed")) &&
                      json_integer_value(json_object_get(j, "order")) == 2,
                  "after PATCH /items/1 {\"completed\": true} on {title: buy milk, order: 2}, GET "
                  "/items/1 must show completed true and the rest unchanged; got %s (PATCH parses "
                  "in ITEMS_JSON_PARTIAL mode)",
                  show(&r));
    json_decref(j);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_delete_removes_the_item)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_create(&f, "{\"title\": \"x\"}");
    api_request(&f, "DELETE", "/items/1", NULL, NULL, &r);
    EXPECT_STATUS(r, "DELETE /items/1", 204, "see delete_item in router.c");
    ck_assert_msg(r.body_len == 0, "DELETE /items/1: a 204 has no body, got %s", show(&r));
    http_response_free(&r);
    api_request(&f, "GET", "/items/1", NULL, NULL, &r);
    EXPECT_STATUS(r, "GET /items/1 after DELETE /items/1", 404, "the item must be gone");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_delete_all_removes_every_item)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_create(&f, "{\"title\": \"a\"}");
    api_create(&f, "{\"title\": \"b\"}");
    api_request(&f, "DELETE", "/items", NULL, NULL, &r);
    EXPECT_STATUS(r, "DELETE /items", 204, "DELETE on the collection clears the store");
    http_response_free(&r);
    api_request(&f, "GET", "/items/2", NULL, NULL, &r);
    EXPECT_STATUS(r, "GET /items/2 after DELETE /items", 404, "every item must be gone");
    http_response_free(&r);
    int64_t id = api_create(&f, "{\"title\": \"c\"}");
    ck_assert_msg(id == 3,
                  "POST /items after two items and DELETE /items: expected id 3 (ids are "
                  "never reused), got %lld",
                  (long long)id);
    api_stop(&f);
    harness_pass();
}

/* ---- errors ------------------------------------------------------------------------------- */

HARNESS_TEST(test_errors_are_json_objects)
{
    struct server_fixture f;
    struct http_response r;
    const struct {
        const char *target, *needle;
    } cases[] = {
        {"/nope", "/nope"},                  /* a plain message */
        {"/say%22hi%22%5C", "/say\"hi\"\\"}, /* quotes and a backslash, escaped in JSON */
        {"/caf%C3%A9", "/caf\xc3\xa9"},      /* UTF-8 is kept */
        {"/bad%FF%FE", "/bad??"},            /* bytes that are not UTF-8 become '?' */
    };
    api_start(&f, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char request[64], msg[ERROR_SHOWN_MAX];
        snprintf(request, sizeof request, "GET %s", cases[i].target);
        api_request(&f, "GET", cases[i].target, NULL, NULL, &r);
        EXPECT_STATUS(r, request, 404, "the router answers every path but /items with 404");
        expect_header(&r, request, "Content-Type", "application/json", "errors are JSON");
        json_t *j = body_json(&r, request);
        ck_assert_msg(json_is_object(j) && json_object_size(j) == 1 &&
                          json_is_string(json_object_get(j, "error")),
                      "%s: expected the body {\"error\": \"<the message>\"} and nothing else, got "
                      "%s",
                      request, show(&r));
        json_decref(j);
        error_message(&r, msg, sizeof msg);
        ck_assert_msg(strstr(msg, "no such path") != NULL && strstr(msg, cases[i].needle) != NULL,
                      "%s: expected the router's message, \"no such path: %s (the API serves "
                      "...)\", as the error, got %s",
                      request, esc(cases[i].needle, strlen(cases[i].needle)), show(&r));
        http_response_free(&r);
    }
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_unknown_id_is_404)
{
    struct server_fixture f;
    struct http_response r;
    const char *methods[] = {"GET", "PUT", "PATCH", "DELETE"};
    api_start(&f, NULL);
    for (size_t i = 0; i < 4; i++) {
        char request[64];
        snprintf(request, sizeof request, "%s /items/42 on an empty server", methods[i]);
        api_json(&f, methods[i], "/items/42",
                 i == 1   ? "{\"title\": \"x\"}"
                 : i == 2 ? "{\"completed\": true}"
                          : NULL,
                 &r);
        EXPECT_STATUS(r, request, 404, "see reply_store_error in router.c");
        expect_error_body(&r, request, "42");
        http_response_free(&r);
    }
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_invalid_ids_are_404)
{
    struct server_fixture f;
    struct http_response r;
    const char *paths[] = {"/items/abc",
                           "/items/0",
                           "/items/-1",
                           "/items/1.5",
                           "/items/99999999999999999999",
                           "/items/18446744073709551617",
                           "/items/9007199254740992",
                           "/items/01"};
    api_start(&f, NULL);
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        char request[64];
        snprintf(request, sizeof request, "GET %s", paths[i]);
        api_request(&f, "GET", paths[i], NULL, NULL, &r);
        EXPECT_STATUS(r, request, 404,
                      "ids are positive integers without sign or leading zeros, "
                      "at most 2^53 - 1");
        expect_error_body(&r, request, SPEC("positive integers"));
        http_response_free(&r);
    }
    expect_routed(&f, "GET", "/items/1", NULL); /* real ids reach the handler */
    expect_routed(&f, "GET", "/items/9007199254740991", NULL);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_unknown_path_is_404)
{
    struct server_fixture f;
    struct http_response r;
    const char *paths[] = {"/", "/nope", "/itemsx", "/items/1/extra", "/items//"};
    api_start(&f, NULL);
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        char request[64];
        snprintf(request, sizeof request, "GET %s", paths[i]);
        api_request(&f, "GET", paths[i], NULL, NULL, &r);
        EXPECT_STATUS(r, request, 404, "only /items and /items/{id} exist");
        expect_error_body(&r, request, SPEC("no such path"));
        http_response_free(&r);
    }
    expect_routed(&f, "GET", "/items", NULL); /* and the paths that exist are not 404s */
    expect_routed(&f, "GET", "/items/7", NULL);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_unsupported_method_is_405_with_allow)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_json(&f, "PUT", "/items", "{\"title\": \"x\"}", &r);
    EXPECT_STATUS(r, "PUT /items", 405, "a method the path does not support gets 405");
    expect_header(&r, "PUT /items", "Allow", "POST", "405 must list the allowed methods in Allow");
    expect_error_body(&r, "PUT /items", "PUT");
    http_response_free(&r);
    api_json(&f, "POST", "/items/1", "{\"title\": \"x\"}", &r);
    EXPECT_STATUS(r, "POST /items/1", 405, "a method the path does not support gets 405");
    expect_header(&r, "POST /items/1", "Allow", "PATCH",
                  "405 must list the allowed methods in Allow");
    http_response_free(&r);
    api_request(&f, "TRACE", "/items", NULL, NULL, &r);
    EXPECT_STATUS(r, "TRACE /items", 405,
                  "allow every method evhttp parses but CONNECT "
                  "(evhttp_set_allowed_methods) and answer 405 yourself, else evhttp "
                  "sends its own 501");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_invalid_json_is_400_with_position)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", "{\"title\": \"x\",\n \"completed\": tru }", &r);
    EXPECT_STATUS(r, "POST /items with a syntax error on line 2", 400, "see items_json_parse");
    expect_error_body(&r, "POST /items (syntax error)", "line 2");
    http_response_free(&r);
    api_json(&f, "POST", "/items", "[\"x\"]", &r);
    EXPECT_STATUS(r, "POST /items [\"x\"]", 400, "the body must be an object");
    http_response_free(&r);
    api_request(&f, "POST", "/items", JSON_TYPE, "", &r);
    EXPECT_STATUS(r, "POST /items with an empty body", 400, "an empty body is not JSON");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_invalid_item_is_422_with_reason)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", "{\"title\": 42}", &r);
    EXPECT_STATUS(r, "POST /items {\"title\": 42}", 422, "see items_json_parse");
    expect_status_line(&r, "POST /items {\"title\": 42}", "HTTP/1.1 422 Unprocessable Entity");
    expect_error_body(&r, "POST /items {\"title\": 42}", "title");
    http_response_free(&r);
    api_json(&f, "POST", "/items", "{\"title\": \"x\", \"priority\": 1}", &r);
    EXPECT_STATUS(r, "POST /items with an unknown field \"priority\"", 422,
                  "unknown fields are refused");
    expect_error_body(&r, "POST /items {..., \"priority\": 1}", "priority");
    http_response_free(&r);
    api_create(&f, "{\"title\": \"x\"}");
    api_json(&f, "PATCH", "/items/1", "{\"completed\": \"yes\"}", &r);
    EXPECT_STATUS(r, "PATCH /items/1 {\"completed\": \"yes\"}", 422, "see items_json_parse");
    expect_error_body(&r, "PATCH /items/1 {\"completed\": \"yes\"}", "completed");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_duplicate_keys_are_rejected)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", "{\"title\": \"a\", \"title\": \"b\"}", &r);
    ck_assert_msg(r.status == 400 || r.status == 422,
                  "POST /items {\"title\": \"a\", \"title\": "
                  "\"b\"}: expected 400 or 422, got %s; parse with JSON_REJECT_DUPLICATES",
                  show(&r));
    expect_error_body(&r, "POST /items with a duplicate key", SPEC("duplicate"));
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_non_json_body_is_415)
{
    struct server_fixture f;
    struct http_response r;
    api_start(&f, NULL);
    api_request(&f, "POST", "/items", "Content-Type: text/plain\r\n", "{\"title\": \"x\"}", &r);
    EXPECT_STATUS(r, "POST /items with Content-Type: text/plain", 415, "see middleware_limits");
    expect_error_body(&r, "POST /items (text/plain)", SPEC("application/json"));
    http_response_free(&r);
    api_request(&f, "POST", "/items", NULL, "{\"title\": \"x\"}", &r);
    EXPECT_STATUS(r, "POST /items with a body and no Content-Type", 415, "see middleware_limits");
    http_response_free(&r);
    api_request(&f, "POST", "/items", "Content-Type: Application/JSON; charset=utf-8\r\n",
                "{\"title\": \"x\"}", &r);
    EXPECT_STATUS(r, "POST /items with Content-Type: Application/JSON; charset=utf-8", 201,
                  "media types are case-insensitive and may have parameters");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_body_over_limit_is_413)
{
    struct server_fixture f;
    struct http_response r;
    size_t n = HTTP_API_DEFAULT_MAX_BODY_BYTES + 1;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"title\": \"x\"}", 14); /* valid JSON padded with spaces past 64 KiB */
    big[n] = '\0';
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", big, &r);
    EXPECT_STATUS(r, "POST /items with a 65537-byte body", 413,
                  "bodies over max_body_bytes get 413 from middleware_limits");
    expect_error_body(&r, "POST /items (65537 bytes)", "");
    expect_header(&r, "POST /items (65537 bytes)", "Access-Control-Allow-Origin", "*",
                  "the 413 must come from your middleware, not evhttp's (set evhttp's own limit "
                  "higher)");
    http_response_free(&r);
    big[n - 1] = '\0'; /* exactly 64 KiB: allowed */
    api_json(&f, "POST", "/items", big, &r);
    EXPECT_STATUS(r, "POST /items with a body of exactly 65536 bytes", 201,
                  "the limit is inclusive");
    http_response_free(&r);
    free(big);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_oversized_headers_are_431)
{
    struct server_fixture f;
    struct http_response r;
    char *pad = malloc(HTTP_API_DEFAULT_MAX_HEADER_BYTES + 64);
    int len = snprintf(pad, 32, "X-Pad: ");
    memset(pad + len, 'a', HTTP_API_DEFAULT_MAX_HEADER_BYTES);
    strcpy(pad + len + HTTP_API_DEFAULT_MAX_HEADER_BYTES, "\r\n");
    api_start(&f, NULL);
    api_request(&f, "GET", "/items", pad, NULL, &r);
    EXPECT_STATUS(r, "GET /items with an 8 KiB header", 431,
                  "headers over max_header_bytes get 431 from middleware_limits");
    expect_status_line(&r, "GET /items with an 8 KiB header",
                       "HTTP/1.1 431 Request Header Fields Too Large");
    expect_error_body(&r, "GET /items (8 KiB header)", "");
    expect_header(&r, "GET /items (8 KiB header)", "Access-Control-Allow-Origin", "*",
                  "the 431 must carry CORS headers like any error");
    http_response_free(&r);
    free(pad);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_malformed_request_gets_400)
{
    struct server_fixture f;
    struct http_response r;
    struct client c;
    const char *garbage = "THIS IS NOT HTTP\r\n\r\n";
    api_start(&f, NULL);
    ck_assert_msg(client_connect(&c, f.port) == 0, "cannot connect to the server");
    client_send_str(&c, garbage, REQUEST_TIMEOUT_MS);
    enum client_status st = http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS);
    ck_assert_msg(st == CLIENT_OK && r.status == 400,
                  "sent %s: expected evhttp's 400, got %s "
                  "(%s)",
                  esc(garbage, strlen(garbage)), show(&r), client_status_str(st));
    http_response_free(&r);
    client_close(&c);
    api_request(&f, "GET", "/items", NULL, NULL, &r); /* fails the test unless answered */
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

/* ---- CORS ----------------------------------------------------------------------------------- */

HARNESS_TEST(test_every_response_has_cors_headers)
{
    struct server_fixture f;
    struct http_response r;
    const char *hint = "middleware_cors adds Access-Control-Allow-Origin: * to every "
                       "response; send errors with evhttp_send_reply, not evhttp_send_error";
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", "{\"title\": \"x\"}", &r);
    expect_header(&r, "POST /items (201)", "Access-Control-Allow-Origin", "*", hint);
    const char *exposed[] = {"Location", "Link", "X-Total-Count"};
    for (size_t i = 0; i < 3; i++)
        expect_header(&r, "POST /items (201)", "Access-Control-Expose-Headers", exposed[i],
                      "a script on another origin can read a response header only if it is "
                      "exposed");
    http_response_free(&r);
    api_request(&f, "GET", "/items", NULL, NULL, &r);
    expect_header(&r, "GET /items (200)", "Access-Control-Allow-Origin", "*", hint);
    http_response_free(&r);
    api_request(&f, "GET", "/nope", NULL, NULL, &r);
    expect_header(&r, "GET /nope (404)", "Access-Control-Allow-Origin", "*", hint);
    expect_header(&r, "GET /nope (404)", "Content-Type", "application/json", "errors are JSON");
    http_response_free(&r);
    api_json(&f, "POST", "/items", "{\"title\": 1}", &r);
    expect_header(&r, "POST /items (422)", "Access-Control-Allow-Origin", "*", hint);
    http_response_free(&r);
    api_request(&f, "DELETE", "/items/1", NULL, NULL, &r);
    expect_header(&r, "DELETE /items/1 (204)", "Access-Control-Allow-Origin", "*", hint);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_preflight_gets_204_with_cors_headers)
{
    struct server_fixture f;
    struct http_response r;
    const char *preflight = "Origin: http://app.example\r\n"
                            "Access-Control-Request-Method: PATCH\r\n"
                            "Access-Control-Request-Headers: content-type,x-requested-with\r\n";
    const char *req = "OPTIONS /items/1 (preflight for PATCH)";
    api_start(&f, NULL);
    api_request(&f, "OPTIONS", "/items/1", preflight, NULL, &r);
    EXPECT_STATUS(r, req, 204,
                  "middleware_cors answers preflights itself; OPTIONS must "
                  "be allowed");
    expect_header(&r, req, "Access-Control-Allow-Origin", "*", "see middleware_cors");
    expect_header(&r, req, "Access-Control-Allow-Methods", "PATCH", "list every method");
    expect_header(&r, req, "Access-Control-Allow-Methods", "DELETE", "list every method");
    expect_header(&r, req, "Access-Control-Allow-Headers", "content-type,x-requested-with",
                  "echo Access-Control-Request-Headers");
    expect_header(&r, req, "Access-Control-Max-Age", "", "let browsers cache the answer");
    http_response_free(&r);
    api_request(&f, "OPTIONS", "/anything", "Access-Control-Request-Method: GET\r\n", NULL, &r);
    EXPECT_STATUS(r, "OPTIONS /anything (preflight)", 204, "a preflight is answered for any path");
    http_response_free(&r);
    api_request(&f, "OPTIONS", "/items", NULL, NULL, &r);
    EXPECT_STATUS(r, "OPTIONS /items (not a preflight)", 204, "a plain OPTIONS is routed");
    expect_header(&r, "OPTIONS /items", "Allow", "GET",
                  "a plain OPTIONS lists the methods in Allow");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

/* ---- connections ---------------------------------------------------------------------------- */

HARNESS_TEST(test_trailing_slash_is_accepted)
{
    struct server_fixture f;
    api_start(&f, NULL);
    expect_routed(&f, "POST", "/items/", "{\"title\": \"x\"}");
    expect_routed(&f, "GET", "/items/1/", NULL);
    expect_routed(&f, "DELETE", "/items/%31", NULL); /* the path arrives percent-decoded */
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_keep_alive_serves_several_requests)
{
    struct server_fixture f;
    struct http_response r;
    struct client c;
    struct {
        const char *method, *target, *body;
        int status;
    } steps[] = {
        {"POST", "/items", "{\"title\": \"a\"}", 201},
        {"GET", "/items/1", NULL, 200},
        {"PATCH", "/items/1", "{\"completed\": true}", 200},
        {"HEAD", "/items/1", NULL, 200},
        {"PUT", "/items/1", "{\"title\": \"b\"}", 200},
        {"DELETE", "/items/1", NULL, 204},
        {"GET", "/items/1", NULL, 404},
        {"POST", "/items", "{\"title\": \"c\"}", 201},
    };
    api_start(&f, NULL);
    ck_assert_msg(client_connect(&c, f.port) == 0, "cannot connect to the server");
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        http_send(&c, steps[i].method, steps[i].target, steps[i].body ? JSON_TYPE : NULL,
                  steps[i].body, REQUEST_TIMEOUT_MS);
        enum client_status st =
            http_read_response(&c, strcmp(steps[i].method, "HEAD") == 0, &r, REQUEST_TIMEOUT_MS);
        ck_assert_msg(st == CLIENT_OK && r.status == steps[i].status,
                      "request %zu on one "
                      "keep-alive connection, %s %s: expected %d, got %s (%s); the connection "
                      "must stay open and answer each request in turn",
                      i + 1, steps[i].method, steps[i].target, steps[i].status, show(&r),
                      client_status_str(st));
        http_response_free(&r);
    }
    client_close(&c);
    api_stop(&f);
    harness_pass();
}

#define CLIENTS 4
#define ITEMS_PER_CLIENT 50

struct client_run {
    uint16_t port;
    int64_t ids[ITEMS_PER_CLIENT];
    char error[300];
};

/* One client thread: creates its items on one keep-alive connection, then reads each back. */
static void *client_main(void *arg)
{
    struct client_run *run = arg;
    struct client c;
    struct http_response r;
    char body[64], target[64];

    if (client_connect(&c, run->port) != 0) {
        snprintf(run->error, sizeof run->error, "cannot connect");
        return NULL;
    }
    for (int i = 0; i < ITEMS_PER_CLIENT && run->error[0] == '\0'; i++) {
        snprintf(body, sizeof body, "{\"title\": \"item %d\"}", i);
        http_send(&c, "POST", "/items", JSON_TYPE, body, REQUEST_TIMEOUT_MS);
        if (http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS) != CLIENT_OK || r.status != 201)
            snprintf(run->error, sizeof run->error, "POST /items: %s", show(&r));
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        run->ids[i] = json_integer_value(json_object_get(j, "id"));
        json_decref(j);
        http_response_free(&r);
    }
    for (int i = 0; i < ITEMS_PER_CLIENT && run->error[0] == '\0'; i++) {
        snprintf(target, sizeof target, "/items/%lld", (long long)run->ids[i]);
        http_send(&c, "GET", target, NULL, NULL, REQUEST_TIMEOUT_MS);
        if (http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS) != CLIENT_OK || r.status != 200)
            snprintf(run->error, sizeof run->error, "GET %s: %s", target, show(&r));
        http_response_free(&r);
    }
    client_close(&c);
    return NULL;
}

HARNESS_TEST(test_threads_share_one_store)
{
    struct server_fixture f;
    struct http_api_config cfg = {.threads = 2};
    static struct client_run runs[CLIENTS];
    pthread_t threads[CLIENTS];
    static unsigned char seen[CLIENTS * ITEMS_PER_CLIENT + 1];
    struct http_response r;

    api_start(&f, &cfg);
    for (int i = 0; i < CLIENTS; i++) {
        runs[i].port = f.port;
        pthread_create(&threads[i], NULL, client_main, &runs[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < CLIENTS; i++) {
        ck_assert_msg(runs[i].error[0] == '\0',
                      "4 clients at once on a 2-thread server, client "
                      "%d: %s",
                      i + 1, runs[i].error);
        for (int k = 0; k < ITEMS_PER_CLIENT; k++) {
            int64_t id = runs[i].ids[k];
            ck_assert_msg(id >= 1 && id <= CLIENTS * ITEMS_PER_CLIENT && !seen[id],
                          "4 clients x "
                          "50 POSTs on a 2-thread server: id %lld was given twice or is out of "
                          "range; every worker must share the one store",
                          (long long)id);
            seen[id] = 1;
        }
    }
    api_request(&f, "GET", "/items", NULL, NULL, &r);
    json_t *j = body_json(&r, "GET /items");
    ck_assert_msg(json_array_size(j) == CLIENTS * ITEMS_PER_CLIENT,
                  "GET /items after 4 clients x "
                  "50 POSTs on a 2-thread server: expected 200 items, got %zu",
                  json_array_size(j));
    for (size_t i = 0; i < json_array_size(j); i++)
        ck_assert_msg(
            json_integer_value(json_object_get(json_array_get(j, i), "id")) == (json_int_t)i + 1,
            "GET /items after 200 concurrent POSTs: item %zu is not id %zu; the list must "
            "be in id order",
            i + 1, i + 1);
    json_decref(j);
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_each_request_is_logged)
{
    struct server_fixture f;
    struct http_response r;
    char line[256], tail[600];
    api_start(&f, NULL);
    api_json(&f, "POST", "/items", "{\"title\": \"x\"}", &r);
    size_t bytes = r.body_len;
    http_response_free(&r);
    char want_bytes[32];
    snprintf(want_bytes, sizeof want_bytes, " %zuB ", bytes);
    ck_assert_msg(log_capture_wait(f.log, 2000, line, sizeof line, "POST /items 201", want_bytes,
                                   "us", (char *)NULL),
                  "after POST /items (201, %zu-byte body): expected a log line like \"POST /items "
                  "201 %zuB 42us\", the log has \"%s\"; see middleware_log",
                  bytes, bytes, esc(log_capture_tail(f.log, tail, sizeof tail), strlen(tail)));
    api_request(&f, "GET", "/items/9?x=1", NULL, NULL, &r);
    http_response_free(&r);
    ck_assert_msg(
        log_capture_wait(f.log, 2000, line, sizeof line, "GET /items/9?x=1 404 ", (char *)NULL),
        "after GET /items/9?x=1 (404): expected a log line starting \"GET /items/9?x=1 "
        "404 \", the log has \"%s\"; see middleware_log",
        esc(log_capture_tail(f.log, tail, sizeof tail), strlen(tail)));
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_idle_connection_is_closed)
{
    struct server_fixture f;
    struct http_api_config cfg = {.threads = 1, .idle_timeout_ms = 300};
    struct client c;
    api_start(&f, &cfg);
    ck_assert_msg(client_connect(&c, f.port) == 0, "cannot connect to the server");
    int64_t start = client_now_ms();
    enum client_status st = client_wait_close(&c, 3000);
    ck_assert_msg(st == CLIENT_EOF,
                  "a client that sends nothing to a server with idle_timeout_ms "
                  "300: expected the server to close the connection, still open after 3 s; see "
                  "evhttp_set_timeout_tv");
    transcript_note("closed after %lld ms", (long long)(client_now_ms() - start));
    client_close(&c);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_full_store_is_507)
{
    struct server_fixture f;
    struct http_api_config cfg = {.threads = 1, .max_items = 1};
    struct http_response r;
    api_start(&f, &cfg);
    api_create(&f, "{\"title\": \"a\"}");
    api_json(&f, "POST", "/items", "{\"title\": \"b\"}", &r);
    EXPECT_STATUS(r, "POST /items to a server with max_items 1 that holds 1 item", 507,
                  "ITEMS_STORE_FULL is 507 (reply_store_error)");
    expect_error_body(&r, "POST /items (store full)", SPEC("full"));
    expect_status_line(&r, "POST /items (store full)", "HTTP/1.1 507 Insufficient Storage");
    http_response_free(&r);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_free_closes_connections_promptly)
{
    struct server_fixture f;
    struct http_api_config cfg = {.threads = 2};
    struct http_response r;
    struct client c;
    api_start(&f, &cfg);
    ck_assert_msg(client_connect(&c, f.port) == 0, "cannot connect to the server");
    http_send(&c, "GET", "/items", NULL, NULL, REQUEST_TIMEOUT_MS);
    ck_assert_msg(http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS) == CLIENT_OK,
                  "GET /items: expected a complete response, got %s", show(&r));
    http_response_free(&r);

    int64_t start = client_now_ms();
    http_api_free(f.server); /* one idle keep-alive connection open, no reply in flight */
    f.server = NULL;
    int64_t took = client_now_ms() - start;
    ck_assert_msg(took < 2000,
                  "http_api_free with one idle keep-alive client and no reply in "
                  "flight took %lld ms; idle connections must not delay the stop",
                  (long long)took);
    ck_assert_msg(client_wait_close(&c, 1000) == CLIENT_EOF,
                  "after http_api_free the client's "
                  "keep-alive connection is still open; it must be closed");
    struct client c2;
    ck_assert_msg(client_connect(&c2, f.port) != 0,
                  "after http_api_free a new connection to port "
                  "%u still succeeds; the listening sockets must be closed",
                  f.port);
    client_close(&c);
    api_stop(&f);
    harness_pass();
}
