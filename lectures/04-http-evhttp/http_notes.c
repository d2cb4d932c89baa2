/*
 * http_notes.c - the notes API (see http_notes.h): routing, extractors, state, middleware and
 * JSON errors on top of evhttp and jansson.
 *
 * How a request travels: evhttp parses it and calls the route registered for its path
 * (health_cb, notes_cb, or other_cb for everything else). Each route calls serve() with its
 * handler. serve() puts a struct request on the stack and runs it through LAYERS, the
 * middleware chain: timing and logging, CORS, JSON errors, and finally the handler. Handlers
 * never reply themselves; they fill in r->res, and serve() sends exactly one reply at the end.
 */
#include "http_notes.h"
#include "notes_store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define ERROR_MAX 200     /* bytes of an error message */
#define CORS_ECHO_MAX 512 /* the longest Access-Control-Request-Headers value echoed back */

/* The application state: the State<AppState> of an axum app. evhttp hands this pointer to
 * every route callback; single-threaded, so no lock is needed. */
struct http_notes {
    struct evhttp *http;
    struct evhttp_bound_socket *listener; /* NULL once we stop accepting */
    uint16_t port;
    FILE *log;
    struct notes_store store;
};

/* What a handler produces. serve() turns it into the one reply. */
struct response {
    int status;
    json_t *body;          /* owned; NULL means no body (or: json_errors_layer fills it) */
    char error[ERROR_MAX]; /* set by respond_error(); becomes the JSON error body */
};

struct request;
typedef void (*handler_fn)(struct request *r);

/* One request on its way through the chain. Lives on serve()'s stack. */
struct request {
    struct evhttp_request *req;
    struct http_notes *app; /* the state, for handlers and layers */
    enum evhttp_cmd_type method;
    const char *path;   /* as sent, still percent-encoded */
    const char *query;  /* the part after '?', still encoded; NULL if there is none */
    handler_fn handler; /* chosen by the route */
    struct response res;
};

/* ---------------------------------------------------------------------------------------- */
/* Responses                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* Sets the response to `status` with `body`, whose reference is stolen. A NULL body is right
 * for 204; for anything else it means building the body ran out of memory. */
static void respond_json(struct response *res, int status, json_t *body)
{
    json_decref(res->body);
    res->status = status;
    res->body = body;
    if (body == NULL && status != 204) {
        res->status = 500;
        snprintf(res->error, sizeof res->error, "out of memory");
    }
}

/* Sets an error response. json_errors_layer turns the message into the JSON body. */
__attribute__((format(printf, 3, 4))) static void respond_error(struct response *res, int status,
                                                                const char *fmt, ...)
{
    va_list ap;

    json_decref(res->body);
    res->body = NULL;
    res->status = status;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
}

static const char *method_name(enum evhttp_cmd_type method)
{
    switch (method) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
}

static void method_not_allowed(struct request *r, const char *allow)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", allow);
    respond_error(&r->res, 405, "%s is not allowed here; allowed: %s", method_name(r->method),
                  allow);
}

/* HEAD is GET without the body; send_response() drops the body (evhttp would not). */
static bool is_get(const struct request *r)
{
    return r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
}

/* ---------------------------------------------------------------------------------------- */
/* Extractors: the path parameter, the query string and the JSON body                        */
/* ---------------------------------------------------------------------------------------- */

/*
 * The {name} in /notes/{name}: the rest of the path, percent-decoded. Returns a malloc'd
 * string (the caller frees it), or NULL after setting a 404 or 400 response.
 */
static char *extract_note_name(struct request *r)
{
    static const char PREFIX[] = "/notes/";
    size_t len;

    if (strncmp(r->path, PREFIX, strlen(PREFIX)) != 0) {
        respond_error(&r->res, 404, "no route for %s", r->path);
        return NULL;
    }
    const char *segment = r->path + strlen(PREFIX);
    if (*segment == '\0' || strchr(segment, '/') != NULL) {
        respond_error(&r->res, 404, "no route for %s", r->path);
        return NULL;
    }
    /* decode_plus 0: in a path '+' is a plus; only query strings use it for a space. */
    char *name = evhttp_uridecode(segment, 0, &len);
    if (name == NULL) {
        respond_error(&r->res, 500, "out of memory");
        return NULL;
    }
    /* "%00" decodes to a NUL byte: the C string would silently stop there. */
    json_t *as_json = json_stringn(name, len); /* NULL unless valid UTF-8 */
    if (len > NOTE_NAME_MAX || strlen(name) != len || as_json == NULL) {
        respond_error(&r->res, 400, "a note name is 1 to %d bytes of UTF-8, without NUL",
                      NOTE_NAME_MAX);
        free(name);
        name = NULL;
    }
    json_decref(as_json);
    return name;
}

/* Parses "12" as a number from min to max. Returns 0, or -1 if it is anything else. */
static int parse_bounded(const char *s, long min, long max, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The body as a JSON value (the caller owns it), or NULL after setting a 400 response that
 * says where the problem is. */
static json_t *extract_json_body(struct request *r)
{
    struct evbuffer *body = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(body);
    json_error_t err;

    if (len == 0) { /* json_loadb would fail with a confusing "wrong arguments" */
        respond_error(&r->res, 400, "the body must be a JSON object, and it is empty");
        return NULL;
    }
    /* evhttp has already refused bodies over HTTP_NOTES_BODY_MAX, so making the body
     * contiguous (evbuffer_pullup) copies a bounded amount at most. */
    const char *text = (const char *)evbuffer_pullup(body, -1);
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        respond_error(&r->res, 400, "invalid JSON at line %d, column %d: %s", err.line, err.column,
                      err.text);
    return root;
}

/* ---------------------------------------------------------------------------------------- */
/* Handlers                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static json_t *note_json(const struct note *note)
{
    return json_pack("{s:s, s:s}", "name", note->name, "text", note->text);
}

/* GET /health */
static void health_handler(struct request *r)
{
    if (!is_get(r)) {
        method_not_allowed(r, "GET, HEAD");
        return;
    }
    respond_json(&r->res, 200,
                 json_pack("{s:s, s:I}", "status", "ok", "notes", (json_int_t)r->app->store.count));
}

/* GET /notes?prefix=P&limit=N */
static void notes_list_handler(struct request *r)
{
    struct evkeyvalq params;
    long limit = HTTP_NOTES_LIST_DEFAULT;

    if (!is_get(r)) {
        method_not_allowed(r, "GET, HEAD");
        return;
    }
    /* Splits "prefix=s&limit=5" into key/value pairs, percent-decoding them ('+' is a space
     * here). Fails on a malformed string such as "limit" without '='. */
    if (evhttp_parse_query_str(r->query != NULL ? r->query : "", &params) != 0) {
        respond_error(&r->res, 400, "malformed query string");
        return;
    }
    const char *prefix = evhttp_find_header(&params, "prefix");
    const char *limit_text = evhttp_find_header(&params, "limit");
    if (limit_text != NULL && parse_bounded(limit_text, 1, NOTES_MAX, &limit) != 0) {
        respond_error(&r->res, 400, "limit must be a whole number from 1 to %d", NOTES_MAX);
        goto done;
    }

    json_t *list = json_array();
    const struct notes_store *store = &r->app->store;
    for (size_t i = 0; list != NULL && i < store->count && json_array_size(list) < (size_t)limit;
         i++) {
        const struct note *note = &store->notes[i];
        if (prefix == NULL || strncmp(note->name, prefix, strlen(prefix)) == 0)
            json_array_append_new(list, note_json(note));
    }
    respond_json(
        &r->res, 200,
        json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list), "notes", list));
done:
    evhttp_clear_headers(&params); /* frees the parsed pairs */
}

/* PUT /notes/{name} with {"text": "..."} */
static void note_put(struct request *r, const char *name)
{
    json_error_t err;
    const char *text = NULL;
    size_t text_len = 0;
    bool created;

    json_t *body = extract_json_body(r);
    if (body == NULL)
        return;
    /* JSON_STRICT: exactly the keys listed, so a typo such as "txt" is an error, not a no-op.
     * "s%" gives the string and its length. */
    if (json_unpack_ex(body, &err, JSON_STRICT, "{s:s%}", "text", &text, &text_len) != 0) {
        respond_error(&r->res, 422, "expected {\"text\": string}: %s", err.text);
    } else if (text_len > NOTE_TEXT_MAX) {
        respond_error(&r->res, 422, "text is %zu bytes; at most %d", text_len, NOTE_TEXT_MAX);
    } else if (notes_store_put(&r->app->store, name, text, &created) != 0) {
        respond_error(&r->res, 507, "the store is full (%d notes)", NOTES_MAX);
    } else {
        respond_json(&r->res, created ? 201 : 200,
                     note_json(notes_store_find(&r->app->store, name)));
    }
    json_decref(body); /* `text` pointed into it: it is not used past this line */
}

/* GET, PUT and DELETE on /notes/{name}; everything else that evhttp_set_cb did not match. */
static void note_handler(struct request *r)
{
    char *name = extract_note_name(r);
    const struct note *note;

    if (name == NULL)
        return;
    if (is_get(r)) {
        note = notes_store_find(&r->app->store, name);
        if (note != NULL)
            respond_json(&r->res, 200, note_json(note));
        else
            respond_error(&r->res, 404, "no note named \"%s\"", name);
    } else if (r->method == EVHTTP_REQ_PUT) {
        note_put(r, name);
    } else if (r->method == EVHTTP_REQ_DELETE) {
        if (notes_store_delete(&r->app->store, name))
            respond_json(&r->res, 204, NULL);
        else
            respond_error(&r->res, 404, "no note named \"%s\"", name);
    } else {
        method_not_allowed(r, "GET, HEAD, PUT, DELETE");
    }
    free(name);
}

/* ---------------------------------------------------------------------------------------- */
/* Middleware                                                                               */
/* ---------------------------------------------------------------------------------------- */

/* A layer does its work around the rest of the chain: before it, after it, or instead of it
 * (by not calling next_layer). `next` is the index of the layer after this one. */
typedef void (*layer_fn)(struct request *r, size_t next);

static void timing_log_layer(struct request *r, size_t next);
static void cors_layer(struct request *r, size_t next);
static void json_errors_layer(struct request *r, size_t next);
static void handler_layer(struct request *r, size_t next);

/* The chain, outermost first. */
static const layer_fn LAYERS[] = {timing_log_layer, cors_layer, json_errors_layer, handler_layer};

static void next_layer(struct request *r, size_t next)
{
    LAYERS[next](r, next + 1);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs after evhttp has written the whole reply: the status is final, the bytes are sent. */
static void log_complete_cb(struct evhttp_request *req, void *arg)
{
    struct http_notes *app = arg;
    const char *timing =
        evhttp_find_header(evhttp_request_get_output_headers(req), "Server-Timing");

    /* The reply made it: the connection may live on for more requests, so unhook the
     * "went away" callback set in timing_log_layer. */
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
    if (app->log == NULL)
        return;
    fprintf(app->log, "server: %s %s -> %d (%s)\n", method_name(evhttp_request_get_command(req)),
            evhttp_request_get_uri(req), evhttp_request_get_response_code(req),
            timing != NULL ? timing : "no timing");
    fflush(app->log);
}

/* Runs instead of log_complete_cb when the connection closes while a reply is still being
 * written: the client went away. */
static void log_aborted_cb(struct evhttp_connection *conn, void *arg)
{
    struct http_notes *app = arg;

    (void)conn;
    if (app->log != NULL) {
        fprintf(app->log, "server: a client went away before its reply was written\n");
        fflush(app->log);
    }
}

/* Outermost: times the rest of the chain and logs the request once its reply is out. */
static void timing_log_layer(struct request *r, size_t next)
{
    char timing[48];
    double start = now_ms();

    next_layer(r, next);

    /* The reply has not been sent yet (serve() sends it when the chain returns), so a header
     * can still be added. Server-Timing is standard; browsers' developer tools display it. */
    snprintf(timing, sizeof timing, "app;dur=%.3f", now_ms() - start);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Server-Timing", timing);
    /* The callback gets the app, not a malloc'd per-request record: if the client goes away
     * in the middle of the reply, evhttp frees the request without calling it, and such a
     * record would leak. Everything it logs can be read from the request itself. That case
     * is caught by the connection's close callback instead. */
    evhttp_request_set_on_complete_cb(r->req, log_complete_cb, r->app);
    evhttp_connection_set_closecb(evhttp_request_get_connection(r->req), log_aborted_cb, r->app);
}

/* True if a preflight's Access-Control-Request-Headers looks like a list of header names, and
 * so may be echoed back: a client's bytes are never copied into a header unchecked. */
static bool header_list_ok(const char *list)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789-_, ";
    size_t len = strlen(list);
    return len > 0 && len <= CORS_ECHO_MAX && strspn(list, allowed) == len;
}

/* CORS: lets a web page from another origin call this API. Every answer says which origins
 * may read it. A preflight (OPTIONS with Access-Control-Request-Method) is answered here, for
 * any path, and never reaches a handler; any other OPTIONS goes on to the route like any
 * other method. */
static void cors_layer(struct request *r, size_t next)
{
    struct evkeyvalq *headers = evhttp_request_get_output_headers(r->req);
    const struct evkeyvalq *asked = evhttp_request_get_input_headers(r->req);

    evhttp_add_header(headers, "Access-Control-Allow-Origin", "*");
    if (r->method == EVHTTP_REQ_OPTIONS &&
        evhttp_find_header(asked, "Access-Control-Request-Method") != NULL) {
        const char *wanted = evhttp_find_header(asked, "Access-Control-Request-Headers");
        evhttp_add_header(headers, "Access-Control-Allow-Methods", "GET, HEAD, PUT, DELETE");
        /* Allow the headers the page asked for (it knows what it will send), if plausible. */
        evhttp_add_header(headers, "Access-Control-Allow-Headers",
                          wanted != NULL && header_list_ok(wanted) ? wanted : "Content-Type");
        evhttp_add_header(headers, "Access-Control-Max-Age", "600"); /* seconds to cache it */
        respond_json(&r->res, 204, NULL);
        return;
    }
    next_layer(r, next);
}

/* Every error leaves as the same JSON shape, {"error": "what went wrong"}, whichever handler
 * set it. */
static void json_errors_layer(struct request *r, size_t next)
{
    next_layer(r, next);
    if (r->res.status >= 400 && r->res.body == NULL)
        r->res.body = json_pack("{s:s}", "error", r->res.error);
}

/* Innermost: the handler the route chose. */
static void handler_layer(struct request *r, size_t next)
{
    (void)next;
    r->handler(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Routes and the one place that replies                                                    */
/* ---------------------------------------------------------------------------------------- */

/* The reason phrase for the status line. evhttp's table stops at 417 and 505: for any code
 * past those it prints the class name ("Client Error", "Server Error"). NULL: evhttp's own. */
static const char *reason_phrase(int status)
{
    switch (status) {
    case 422:
        return "Unprocessable Entity";
    case 431:
        return "Request Header Fields Too Large";
    case 507:
        return "Insufficient Storage";
    default:
        return NULL;
    }
}

/* Sends r->res: the only call to evhttp_send_reply in this file, so every request gets
 * exactly one reply, always JSON. evhttp_send_error is never used: it throws away the headers
 * set so far (the CORS ones too) and sends an HTML page. */
static void send_response(struct request *r)
{
    struct evbuffer *buf = evbuffer_new();
    char *text = NULL;
    char length[24];

    if (r->res.body != NULL && buf != NULL)
        text = json_dumps(r->res.body, JSON_COMPACT | JSON_SORT_KEYS);
    if (text != NULL) {
        /* No Content-Type here: evhttp adds the default (application/json) to every reply
         * whose status and method allow a body, that is all but 1xx, 204, 304 and HEAD. */
        evbuffer_add(buf, text, strlen(text));
        evbuffer_add(buf, "\n", 1);
        free(text);
    } else if (r->res.body != NULL) {
        r->res.status = 500; /* out of memory while building the answer */
    }
    if (r->method == EVHTTP_REQ_HEAD && buf != NULL) {
        /* HEAD is GET without the body, but evhttp 2.1 would send the body anyway (and no
         * Content-Length). Announce the length a GET would get, and drop the bytes. */
        snprintf(length, sizeof length, "%zu", evbuffer_get_length(buf));
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Length", length);
        evbuffer_drain(buf, evbuffer_get_length(buf));
    }
    evhttp_send_reply(r->req, r->res.status, reason_phrase(r->res.status), buf);
    if (buf != NULL)
        evbuffer_free(buf); /* evhttp_send_reply emptied it, but it is still ours */
    json_decref(r->res.body);
}

static void serve(struct evhttp_request *req, struct http_notes *app, handler_fn handler)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    struct request r = {
        .req = req,
        .app = app,
        .method = evhttp_request_get_command(req),
        .path = path != NULL ? path : "",
        .query = uri != NULL ? evhttp_uri_get_query(uri) : NULL,
        .handler = handler,
        .res = {.status = 200},
    };

    next_layer(&r, 0);
    send_response(&r);
}

/* The routes. evhttp_set_cb matches whole paths exactly (after decoding them), so
 * /notes/{name} and unknown paths all arrive in other_cb, the general callback. */
static void health_cb(struct evhttp_request *req, void *arg)
{
    serve(req, arg, health_handler);
}

static void notes_cb(struct evhttp_request *req, void *arg)
{
    serve(req, arg, notes_list_handler);
}

static void other_cb(struct evhttp_request *req, void *arg)
{
    serve(req, arg, note_handler);
}

/* ---------------------------------------------------------------------------------------- */

struct http_notes *http_notes_new(struct event_base *base, const char *host, uint16_t port,
                                  FILE *log)
{
    struct http_notes *app = calloc(1, sizeof *app);
    struct sockaddr_in bound;
    socklen_t len = sizeof bound;

    if (app == NULL)
        return NULL;
    app->log = log;
    app->http = evhttp_new(base);
    if (app->http == NULL)
        goto err;
    /* By default evhttp answers OPTIONS and PATCH with 501 itself, before any callback runs.
     * Let every method reach the chain, so that CORS preflights work and unsupported methods
     * get our JSON 405 instead. */
    evhttp_set_allowed_methods(app->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    /* Without this, every reply with a body would say text/html; charset=ISO-8859-1. */
    evhttp_set_default_content_type(app->http, "application/json");
    evhttp_set_max_body_size(app->http, HTTP_NOTES_BODY_MAX);
    evhttp_set_max_headers_size(app->http, HTTP_NOTES_HEADERS_MAX);
    evhttp_set_timeout(app->http, HTTP_NOTES_IDLE_S);
    /* Read the rest of an oversized body before answering 413, so the client sees the answer
     * rather than a reset connection. */
    evhttp_set_flags(app->http, EVHTTP_SERVER_LINGERING_CLOSE);

    evhttp_set_cb(app->http, "/health", health_cb, app);
    evhttp_set_cb(app->http, "/notes", notes_cb, app);
    evhttp_set_gencb(app->http, other_cb, app);

    app->listener = evhttp_bind_socket_with_handle(app->http, host, port);
    if (app->listener == NULL) {
        fprintf(stderr, "http-notes: cannot listen on %s:%u\n", host, port);
        goto err;
    }
    if (getsockname(evhttp_bound_socket_get_fd(app->listener), (struct sockaddr *)&bound, &len) !=
        0)
        goto err;
    app->port = ntohs(bound.sin_port);
    return app;

err:
    http_notes_free(app);
    return NULL;
}

uint16_t http_notes_port(const struct http_notes *app)
{
    return app->port;
}

void http_notes_stop_accepting(struct http_notes *app)
{
    if (app->listener != NULL)
        evhttp_del_accept_socket(app->http, app->listener);
    app->listener = NULL;
}

void http_notes_free(struct http_notes *app)
{
    if (app == NULL)
        return;
    if (app->http != NULL)
        evhttp_free(app->http); /* also closes the listener and every connection */
    free(app);
}
