/*
 * fetch_user.c - errors that arrive in callbacks: fetch_user() starts an HTTP request and
 * returns at once, so its result, or its error, can only reach the caller through a completion
 * callback. Every way the request can fail (no connection, a transport error, an HTTP status,
 * a reply that does not parse) becomes one `struct err` with context, handed to that callback
 * exactly once. Try it with `./http-errors --demo` (scene 1).
 */
#include "fetch_user.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* See fetch_user.h. */
const char *http_error_str(enum evhttp_request_error e)
{
    switch (e) {
    case EVREQ_HTTP_TIMEOUT:
        return "EVREQ_HTTP_TIMEOUT";
    case EVREQ_HTTP_EOF:
        return "EVREQ_HTTP_EOF";
    case EVREQ_HTTP_INVALID_HEADER:
        return "EVREQ_HTTP_INVALID_HEADER";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "EVREQ_HTTP_BUFFER_ERROR";
    case EVREQ_HTTP_REQUEST_CANCEL:
        return "EVREQ_HTTP_REQUEST_CANCEL";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "EVREQ_HTTP_DATA_TOO_LONG";
    }
    return "unknown evhttp error";
}

/* One fetch in flight. It has no caller to return to, so it carries its owner's callback.
 * Allocated by fetch_user(), freed by fetch_user_response_cb() after it has reported. */
struct fetch {
    long id;
    int failed; /* evhttp's error callback ran; `error` says what it was */
    enum evhttp_request_error error;
    fetch_user_done_fn done;
    void *arg;
};

static void fetch_user_error_cb(enum evhttp_request_error error, void *arg);
static void fetch_user_response_cb(struct evhttp_request *req, void *arg);

/* Parses {"id": N, "name": "..."}. Returns 0, or -1 with *e set. */
static int parse_user(struct evbuffer *body, struct user *u, struct err *e)
{
    size_t len = evbuffer_get_length(body);
    json_error_t jerr;
    json_int_t id;
    const char *name;
    int rc = -1;

    json_t *root = json_loadb((const char *)evbuffer_pullup(body, -1), len, 0, &jerr);
    if (root == NULL) {
        err_set(e, "invalid JSON: %s", jerr.text);
        return -1;
    }
    if (json_unpack_ex(root, &jerr, 0, "{s:I, s:s}", "id", &id, "name", &name) != 0) {
        err_set(e, "%s", jerr.text);
        goto cleanup;
    }
    u->id = (long)id;
    snprintf(u->name, sizeof u->name, "%s", name); /* name dies with root: copy it */
    rc = 0;
cleanup:
    json_decref(root);
    return rc;
}

/* Starts GET /users/ID on evcon. Returns 0 (done will be called once), or -1 (it will not). */
int fetch_user(struct evhttp_connection *evcon, long id, fetch_user_done_fn done, void *arg)
{
    char path[48];
    struct fetch *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    *f = (struct fetch){id, 0, EVREQ_HTTP_TIMEOUT, done, arg};
    struct evhttp_request *req = evhttp_request_new(fetch_user_response_cb, f);
    if (req == NULL) {
        free(f);
        return -1;
    }
    evhttp_request_set_error_cb(req, fetch_user_error_cb);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    snprintf(path, sizeof path, "/users/%ld", id);
    /* On failure evhttp_make_request() frees the request itself; f is still ours. */
    if (evhttp_make_request(evcon, req, EVHTTP_REQ_GET, path) != 0) {
        free(f);
        return -1;
    }
    return 0;
}

/* evhttp calls this first when the transport fails, then the response callback with NULL. */
static void fetch_user_error_cb(enum evhttp_request_error error, void *arg)
{
    struct fetch *f = arg;
    f->failed = 1;
    f->error = error;
}

static void fetch_user_response_cb(struct evhttp_request *req, void *arg)
{
    struct fetch *f = arg;
    struct user u;
    struct err e = {0, ""};
    int status = req != NULL ? evhttp_request_get_response_code(req) : 0;
    int ok = 0;

    if (f->failed) {
        err_set(&e, "%s", http_error_str(f->error));
    } else if (status == 0) {
        /* libevent 2.1 reports a refused or timed-out *connect* this way: the response
         * callback with a request whose status is 0, and no error callback. */
        err_set(&e, "could not connect");
    } else if (status != 200) {
        const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
        err_set(&e, "HTTP %d (request id %s)", status, rid != NULL ? rid : "none");
    } else if (parse_user(evhttp_request_get_input_buffer(req), &u, &e) != 0) {
        err_context(&e, "parsing the reply");
    } else {
        ok = 1;
    }
    if (!ok)
        err_context(&e, "fetch_user(%ld)", f->id);
    f->done(f->id, ok ? &u : NULL, ok ? NULL : &e, f->arg);
    free(f); /* evhttp frees req after this returns */
}
