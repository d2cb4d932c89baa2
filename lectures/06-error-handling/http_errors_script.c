/*
 * http_errors_script.c - the scenes of `http-errors --demo`: a client that provokes every kind
 * of failure, on the same event_base as the server of http_boundary.c.
 *
 * Scene 1 calls fetch_user() (fetch_user.c) for four users; scene 2 sends requests that fail in
 * each way evhttp knows and prints which callback ran with what; scene 3 sends bytes that are
 * not HTTP and a request whose handler fails; scene 4 retries with back-off (retry_get.c).
 * Each scene runs the loop until its last callback breaks it, or SCENE_DEADLINE_S passes.
 */
#include "http_errors_script.h"
#include "fetch_user.h"
#include "retry_get.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define REQUEST_TIMEOUT_MS 200 /* the client's deadline for one attempt */
#define CANCEL_AFTER_MS 50     /* scene 2e cancels its request after this long */

/* Runs the loop until a callback calls event_base_loopbreak() or the deadline passes. */
static void run_until_done(struct demo *d)
{
    struct timeval deadline = {SCENE_DEADLINE_S, 0};
    evtimer_add(d->deadline, &deadline);
    event_base_dispatch(d->base);
    event_del(d->deadline);
}

/* ---- 1. fetch_user: an async call whose result, or error, goes to a completion callback ---- */

struct fetch_batch {
    struct demo *d;
    int outstanding;
};

static void print_user_cb(long id, const struct user *u, const struct err *e, void *arg)
{
    struct fetch_batch *b = arg;
    if (u != NULL)
        printf("client: fetch_user(%ld) -> {id %ld, name \"%s\"}\n", id, u->id, u->name);
    else
        printf("client: fetch_user(%ld) -> error: %s\n", id, e->msg);
    if (--b->outstanding == 0)
        event_base_loopbreak(b->d->base);
}

int scene_fetch_users(struct demo *d)
{
    const long ids[] = {1, 2, 3, 9};
    struct fetch_batch batch = {d, 0};
    struct evhttp_connection *evcon =
        evhttp_connection_base_new(d->base, NULL, "127.0.0.1", d->port);
    int rc = -1;

    printf("== 1. fetch_user(): the result or the error arrives in a completion callback ==\n");
    if (evcon == NULL)
        return -1;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (fetch_user(evcon, ids[i], print_user_cb, &batch) != 0)
            goto cleanup;
        batch.outstanding++;
    }
    run_until_done(d);
    rc = batch.outstanding == 0 ? 0 : -1;
cleanup:
    evhttp_connection_free(evcon); /* frees any request still queued on it */
    return rc;
}

/* ---- 2. what evhttp's error callback reports, and when ---- */

/* One request of scene 2: which of the two callbacks ran, and with what. */
struct probe {
    struct demo *d;
    struct evhttp_request *req; /* evhttp's; valid until a callback has run */
    int error_cb_ran, response_cb_ran, req_was_null, status;
    enum evhttp_request_error error;
};

static void probe_error_cb(enum evhttp_request_error error, void *arg)
{
    struct probe *p = arg;
    p->error_cb_ran = 1;
    p->error = error;
    p->req = NULL;
    if (error == EVREQ_HTTP_REQUEST_CANCEL) /* the response callback will not run */
        event_base_loopbreak(p->d->base);
}

static void probe_response_cb(struct evhttp_request *req, void *arg)
{
    struct probe *p = arg;
    p->response_cb_ran = 1;
    p->req_was_null = req == NULL;
    p->status = req != NULL ? evhttp_request_get_response_code(req) : 0;
    p->req = NULL;
    event_base_loopbreak(p->d->base);
}

static void cancel_probe_cb(evutil_socket_t fd, short what, void *arg)
{
    struct probe *p = arg;
    (void)fd;
    (void)what;
    if (p->req != NULL)
        evhttp_cancel_request(p->req); /* the probe is still in flight: give up on it */
}

/* Sends GET path to port and reports what the callbacks saw. body_max > 0 limits the reply's
 * body; cancel_ms > 0 cancels the request after that long. Returns 0, or -1. */
static int probe(struct demo *d, const char *title, unsigned short port, const char *path,
                 long body_max, int cancel_ms)
{
    struct timeval tmo = {0, REQUEST_TIMEOUT_MS * 1000}, cancel = {0, cancel_ms * 1000};
    struct probe p = {d, NULL, 0, 0, 0, 0, EVREQ_HTTP_TIMEOUT};
    struct evhttp_connection *evcon = evhttp_connection_base_new(d->base, NULL, "127.0.0.1", port);
    struct event *canceller = evtimer_new(d->base, cancel_probe_cb, &p);
    int rc = -1;

    if (evcon == NULL || canceller == NULL)
        goto cleanup;
    evhttp_connection_set_timeout_tv(evcon, &tmo);
    if (body_max > 0)
        evhttp_connection_set_max_body_size(evcon, body_max);
    p.req = evhttp_request_new(probe_response_cb, &p);
    if (p.req == NULL)
        goto cleanup;
    evhttp_request_set_error_cb(p.req, probe_error_cb);
    evhttp_add_header(evhttp_request_get_output_headers(p.req), "Host", "127.0.0.1");
    if (evhttp_make_request(evcon, p.req, EVHTTP_REQ_GET, path) != 0)
        goto cleanup;
    if (cancel_ms > 0)
        evtimer_add(canceller, &cancel);
    run_until_done(d);
    printf("  %-38s error callback: %-26s response callback: %s", title,
           p.error_cb_ran ? http_error_str(p.error) : "(not called)",
           !p.response_cb_ran ? "(not called)"
           : p.req_was_null   ? "req = NULL"
                              : "");
    if (p.response_cb_ran && !p.req_was_null)
        printf("req, status %d", p.status);
    printf("\n");
    rc = 0;
cleanup:
    if (canceller != NULL)
        event_free(canceller);
    if (evcon != NULL)
        evhttp_connection_free(evcon);
    return rc;
}

int scene_error_callback(struct demo *d)
{
    char slow[] = "/slow", user[] = "/users/1";
    printf("\n== 2. evhttp's request error callback, for each kind of failure ==\n");
    return probe(d, "a. connection refused", d->closed_port, user, 0, 0) ||
           probe(d, "b. no answer within 200 ms", d->port, slow, 0, 0) ||
           probe(d, "c. the server closes, no answer", d->drop_port, user, 0, 0) ||
           probe(d, "d. reply body over our 16-byte limit", d->port, user, 16, 0) ||
           probe(d, "e. we cancel it after 50 ms", d->port, slow, 0, CANCEL_AFTER_MS);
}

/* ---- 3. the error boundary, seen from the client ---- */

/* A raw client that sends bytes that are not HTTP, and prints the first line it gets back. */
struct raw_client {
    struct demo *d;
    char first_line[80];
};

static void raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct raw_client *rc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (what & BEV_EVENT_CONNECTED) {
        bufferevent_write(bev, "HELLO? IS THIS HTTP?\r\n\r\n", 24);
        return;
    }
    /* EOF or an error: the server has answered and closed. Keep the status line. */
    char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
    snprintf(rc->first_line, sizeof rc->first_line, "%s", line != NULL ? line : "(nothing)");
    free(line);
    bufferevent_free(bev);
    event_base_loopbreak(rc->d->base);
}

static void show_reply_cb(struct evhttp_request *req, void *arg)
{
    struct demo *d = arg;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        printf("client: <- no reply\n");
    } else {
        struct evbuffer *body = evhttp_request_get_input_buffer(req);
        const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
        printf("client: <- %d, X-Request-Id: %s, body %.*s", evhttp_request_get_response_code(req),
               rid != NULL ? rid : "(none)", (int)evbuffer_get_length(body),
               (const char *)evbuffer_pullup(body, -1));
    }
    event_base_loopbreak(d->base);
}

int scene_boundary(struct demo *d)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(d->port)};
    struct raw_client raw = {d, ""};
    struct bufferevent *bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct evhttp_connection *evcon =
        evhttp_connection_base_new(d->base, NULL, "127.0.0.1", d->port);
    struct evhttp_request *req = evhttp_request_new(show_reply_cb, d);
    int rc = -1;

    printf("\n== 3. the error boundary: a bad request or a failing handler never ends the server "
           "==\n");
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bev == NULL || evcon == NULL || req == NULL) {
        if (req != NULL)
            evhttp_request_free(req); /* never handed to evhttp: still ours */
        goto cleanup;
    }
    bufferevent_setcb(bev, NULL, NULL, raw_event_cb, &raw);
    if (bufferevent_enable(bev, EV_READ) != 0 ||
        bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin) != 0) {
        bufferevent_free(bev);
        evhttp_request_free(req);
        goto cleanup;
    }
    printf("client: -> \"HELLO? IS THIS HTTP?\" on a raw connection\n");
    run_until_done(d); /* raw_event_cb frees bev */
    printf("client: <- %s, then the server closed that connection\n", raw.first_line);

    printf("client: -> GET /users/2 (its handler fails)\n");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    if (evhttp_make_request(evcon, req, EVHTTP_REQ_GET, "/users/2") != 0)
        goto cleanup;
    run_until_done(d);
    rc = 0;
cleanup:
    if (evcon != NULL)
        evhttp_connection_free(evcon);
    return rc;
}

/* ---- 4. retries: exponential back-off with jitter, on timers ---- */

static void retry_done_cb(void *arg)
{
    struct demo *d = arg;
    event_base_loopbreak(d->base);
}

static int retry_run(struct demo *d, const char *path)
{
    struct timeval tmo = {0, REQUEST_TIMEOUT_MS * 1000};
    struct evhttp_connection *evcon =
        evhttp_connection_base_new(d->base, NULL, "127.0.0.1", d->port);
    struct retry_get *r = NULL;
    int rc = -1;

    if (evcon == NULL)
        goto cleanup;
    evhttp_connection_set_timeout_tv(evcon, &tmo);
    r = retry_get_start(d->base, evcon, path, &d->rng, retry_done_cb, d);
    if (r == NULL)
        goto cleanup;
    run_until_done(d);
    rc = 0;
cleanup:
    retry_get_free(r);
    if (evcon != NULL)
        evhttp_connection_free(evcon);
    return rc;
}

int scene_retries(struct demo *d)
{
    printf("\n== 4. retries with back-off, jitter and Retry-After ==\n");
    if (retry_run(d, "/flaky") != 0)
        return -1;
    printf("client: (the server holds %d /slow requests now; it sheds more with 503)\n",
           boundary_server_slow_held(d->server));
    return retry_run(d, "/slow");
}
