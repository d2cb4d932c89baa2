/*
 * notes_demo.c - the scripted client of `http-notes --demo` (see notes_demo.h).
 *
 * STEPS is the script: one request per step, with the status the server must answer. The
 * client is libevent's own: evhttp_connection_base_new() on the server's base, and
 * evhttp_make_request() for each step; the response callback prints and moves on.
 */
#include "notes_demo.h"
#include "http_notes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define DEMO_TIMEOUT_S 5   /* a request with no answer by then fails the demo */
#define BODY_SHOWN_MAX 160 /* bytes of each response body printed */
#define OVERSIZED_BYTES (HTTP_NOTES_BODY_MAX + 1000)

static const char OVERSIZED[] = "(oversized)"; /* marks the step whose body is too big */
static const char PREFLIGHT[] = "(preflight)"; /* marks the step that is a CORS preflight */

struct demo_step {
    const char *title;
    enum evhttp_cmd_type method;
    const char *uri;
    const char *body; /* NULL: no body */
    int expect;       /* the status the server must answer */
};

static const struct demo_step STEPS[] = {
    {"an exact-path route (evhttp_set_cb)", EVHTTP_REQ_GET, "/health", NULL, 200},
    {"a path parameter with a percent-encoded space, and a JSON body", EVHTTP_REQ_PUT,
     "/notes/shopping%20list", "{\"text\": \"milk, eggs\"}", 201},
    {"another note", EVHTTP_REQ_PUT, "/notes/todo", "{\"text\": \"write the lecture\"}", 201},
    {"PUT again replaces it: 200, not 201", EVHTTP_REQ_PUT, "/notes/todo",
     "{\"text\": \"publish the lecture\"}", 200},
    {"the path parameter decoded: \"shopping list\"", EVHTTP_REQ_GET, "/notes/shopping%20list",
     NULL, 200},
    {"a query string: notes whose name starts with \"s\", at most 5", EVHTTP_REQ_GET,
     "/notes?prefix=s&limit=5", NULL, 200},
    {"a bad query parameter", EVHTTP_REQ_GET, "/notes?limit=lots", NULL, 400},
    {"a duplicate key (JSON_REJECT_DUPLICATES)", EVHTTP_REQ_PUT, "/notes/todo",
     "{\"text\": \"a\", \"text\": \"b\"}", 400},
    {"broken JSON: the error says where", EVHTTP_REQ_PUT, "/notes/todo",
     "{\n  \"text\": \"unterminated\n}", 400},
    {"well-formed JSON of the wrong shape (JSON_STRICT): 422", EVHTTP_REQ_PUT, "/notes/todo",
     "{\"txt\": \"typo\"}", 422},
    {"a note that does not exist: 404 as JSON", EVHTTP_REQ_GET, "/notes/nope", NULL, 404},
    {"a path no route matches", EVHTTP_REQ_GET, "/nothing/here", NULL, 404},
    {"a method the route does not support: 405 with Allow", EVHTTP_REQ_PATCH, "/notes/todo",
     "{\"text\": \"patched\"}", 405},
    {"a CORS preflight, answered by the CORS layer", EVHTTP_REQ_OPTIONS, "/notes/todo", PREFLIGHT,
     204},
    {"DELETE: 204 and no body", EVHTTP_REQ_DELETE, "/notes/todo", NULL, 204},
    {"HEAD: the headers of a GET, without the body", EVHTTP_REQ_HEAD, "/notes/shopping%20list",
     NULL, 200},
    {"OPTIONS that is not a preflight: the route answers, 405", EVHTTP_REQ_OPTIONS, "/notes/todo",
     NULL, 405},
    {"a body over the limit: evhttp answers 413 itself (HTML, no CORS, no log line)",
     EVHTTP_REQ_PUT, "/notes/big", OVERSIZED, 413},
};
#define STEP_COUNT (sizeof STEPS / sizeof STEPS[0])

struct notes_demo {
    struct event_base *base;
    struct evhttp_connection *conn;
    size_t step;
    int failures;
    char oversized[OVERSIZED_BYTES + 1];
};

static void demo_response_cb(struct evhttp_request *req, void *arg);

static const char *method_name(enum evhttp_cmd_type method)
{
    switch (method) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "?";
    }
}

/* Prints up to `max` bytes on one line, newlines shown as "\n". */
static void print_flat(const char *p, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        if (p[i] == '\n')
            fputs("\\n", stdout);
        else
            putchar(p[i]);
    }
    if (n > max)
        printf("... (%zu bytes)", n);
}

/* Sends STEPS[demo->step]. Returns 0, or -1 if the request could not be made. */
static int demo_send(struct notes_demo *demo)
{
    const struct demo_step *step = &STEPS[demo->step];
    struct evhttp_request *req = evhttp_request_new(demo_response_cb, demo);
    const char *body = step->body == OVERSIZED   ? demo->oversized
                       : step->body == PREFLIGHT ? NULL
                                                 : step->body;
    char length[24];

    if (req == NULL)
        return -1;
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    printf("\n== %zu. %s\n", demo->step + 1, step->title);
    printf("client: -> %s %s", method_name(step->method), step->uri);
    /* The evhttp client never adds Host, and adds Content-Length only for POST and PUT:
     * without it, a PATCH body would be read as no body at all. Set both, always. */
    evhttp_add_header(headers, "Host", "127.0.0.1");
    if (body != NULL) {
        size_t len = strlen(body);
        snprintf(length, sizeof length, "%zu", len);
        evhttp_add_header(headers, "Content-Type", "application/json");
        evhttp_add_header(headers, "Content-Length", length);
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
        fputs("  ", stdout);
        print_flat(body, len, 60);
    }
    if (step->body == PREFLIGHT) { /* what a browser sends before a cross-origin JSON PUT */
        evhttp_add_header(headers, "Origin", "http://example.com");
        evhttp_add_header(headers, "Access-Control-Request-Method", "PUT");
        evhttp_add_header(headers, "Access-Control-Request-Headers", "content-type");
        fputs("  (Origin: http://example.com, Access-Control-Request-Method: PUT,\n"
              "            Access-Control-Request-Headers: content-type)",
              stdout);
    }
    putchar('\n');
    /* The connection owns the request from here, even when this call fails. */
    return evhttp_make_request(demo->conn, req, step->method, step->uri);
}

static void print_header(const struct evkeyvalq *headers, const char *name)
{
    const char *value = evhttp_find_header(headers, name);

    if (value != NULL)
        printf("client:      %s: %s\n", name, value);
}

static void demo_response_cb(struct evhttp_request *req, void *arg)
{
    struct notes_demo *demo = arg;
    const struct demo_step *step = &STEPS[demo->step];

    if (req == NULL) { /* the connection failed or timed out */
        printf("client: UNEXPECTED: no response\n");
        demo->failures++;
        event_base_loopexit(demo->base, NULL);
        return;
    }
    int status = evhttp_request_get_response_code(req);
    const struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);

    printf("client: <- %d %s\n", status, evhttp_request_get_response_code_line(req));
    print_header(headers, "Content-Type");
    print_header(headers, "Access-Control-Allow-Origin");
    print_header(headers, "Access-Control-Allow-Methods");
    print_header(headers, "Access-Control-Allow-Headers");
    print_header(headers, "Allow");
    if (step->method == EVHTTP_REQ_HEAD)
        print_header(headers, "Content-Length");
    if (len > 0) {
        const char *text = (const char *)evbuffer_pullup(body, -1);
        if (text[len - 1] == '\n') /* the JSON bodies end in one; do not show it */
            len--;
        printf("client:      ");
        print_flat(text, len, BODY_SHOWN_MAX);
        putchar('\n');
    }
    if (status != step->expect) {
        printf("client: UNEXPECTED: expected %d\n", step->expect);
        demo->failures++;
    }

    if (++demo->step < STEP_COUNT) {
        if (demo_send(demo) != 0) {
            printf("client: UNEXPECTED: could not send the request\n");
            demo->failures++;
            event_base_loopexit(demo->base, NULL);
        }
    } else {
        printf("\nclient: %zu requests, %d unexpected answers\n", STEP_COUNT, demo->failures);
        event_base_loopexit(demo->base, NULL); /* main frees the client, then the server */
    }
}

struct notes_demo *notes_demo_start(struct event_base *base, uint16_t port)
{
    struct notes_demo *demo = calloc(1, sizeof *demo);

    if (demo == NULL)
        return NULL;
    demo->base = base;
    memset(demo->oversized, 'x', OVERSIZED_BYTES); /* evhttp refuses it by length alone */
    /* A client connection on the server's own base: it connects when the first request is
     * made. The DNS argument is NULL because the address is numeric. */
    demo->conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    if (demo->conn == NULL)
        goto err;
    evhttp_connection_set_timeout(demo->conn, DEMO_TIMEOUT_S);
    if (demo_send(demo) != 0)
        goto err;
    return demo;

err:
    notes_demo_free(demo);
    return NULL;
}

int notes_demo_failures(const struct notes_demo *demo)
{
    return demo->failures;
}

void notes_demo_free(struct notes_demo *demo)
{
    if (demo == NULL)
        return;
    if (demo->conn != NULL)
        evhttp_connection_free(demo->conn);
    free(demo);
}
