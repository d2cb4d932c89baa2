/*
 * http_errors.c - errors that arrive in callbacks: an async fetch_user() that reports to its
 * caller through a completion callback, what evhttp's request error callback says for each kind
 * of failure, an error boundary on the server (http_boundary.c), and retries with exponential
 * back-off, jitter and Retry-After.
 *
 * With --demo it starts the server on a free port, plays every scene against it on the same
 * event_base, and exits. Without it, it serves on 127.0.0.1:7060 (or --port N) until Ctrl-C:
 * try `curl -si http://127.0.0.1:7060/users/2` and read the request id in the log.
 */
#include "err.h"
#include "http_boundary.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define DEFAULT_PORT 7060
#define REQUEST_TIMEOUT_MS 200 /* the client's deadline for one attempt */
#define CANCEL_AFTER_MS 50     /* scene 2e cancels its request after this long */
#define RETRY_MAX_ATTEMPTS 3
#define RETRY_BASE_MS 100 /* the first back-off; it doubles per attempt */
#define RETRY_CAP_MS 2000 /* the back-off never grows past this */
#define USER_NAME_MAX 32
#define SCENE_DEADLINE_S 5 /* no scene may hang the demo */

struct demo {
    struct event_base *base;
    struct boundary_server *server;
    struct evconnlistener *dropper; /* accepts and closes at once: a peer that crashes */
    struct event *deadline;
    unsigned short port, drop_port, closed_port;
    unsigned rng;
};

static void deadline_cb(evutil_socket_t fd, short what, void *arg);
static void dropper_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                              int socklen, void *arg);

static const char *http_error_str(enum evhttp_request_error e)
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

/* Runs the loop until a callback calls event_base_loopbreak() or the deadline passes. */
static void run_until_done(struct demo *d)
{
    struct timeval deadline = {SCENE_DEADLINE_S, 0};
    evtimer_add(d->deadline, &deadline);
    event_base_dispatch(d->base);
    event_del(d->deadline);
}

/* ---- 1. fetch_user: an async call whose result, or error, goes to a completion callback ---- */

struct user {
    long id;
    char name[USER_NAME_MAX];
};

/* Called exactly once per fetch_user(): with the user, or with the error (one of them NULL). */
typedef void (*fetch_user_done_fn)(long id, const struct user *u, const struct err *e, void *arg);

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
static int fetch_user(struct evhttp_connection *evcon, long id, fetch_user_done_fn done, void *arg)
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

static int scene_fetch_users(struct demo *d)
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

static void dropper_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                              int socklen, void *arg)
{
    (void)lev;
    (void)sa;
    (void)socklen;
    (void)arg;
    evutil_closesocket(fd); /* a server that dies mid-request looks like this to its client */
}

static int scene_error_callback(struct demo *d)
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

static int scene_boundary(struct demo *d)
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

/* One GET retried until it succeeds, fails in a way a retry cannot fix, or runs out of
 * attempts. The timer is the wait between attempts: the loop keeps serving meanwhile. */
struct retry_get {
    struct demo *d;
    struct evhttp_connection *evcon; /* owned */
    struct event *timer;             /* owned */
    const char *path;
    int attempt;
    int failed; /* the error callback ran for this attempt */
    enum evhttp_request_error error;
};

static void retry_attempt_cb(evutil_socket_t fd, short what, void *arg);
static void retry_error_cb(enum evhttp_request_error error, void *arg);
static void retry_response_cb(struct evhttp_request *req, void *arg);

/* The wait before attempt n+1: RETRY_BASE_MS * 2^(n-1), capped, with "equal jitter" (half of it
 * fixed, half random) so that many clients that failed together do not retry together. A
 * Retry-After from the server is a floor. */
static int retry_delay_ms(struct retry_get *r, int retry_after_s)
{
    int backoff = RETRY_BASE_MS << (r->attempt - 1);
    if (backoff > RETRY_CAP_MS || backoff <= 0)
        backoff = RETRY_CAP_MS;
    r->d->rng = r->d->rng * 1103515245u + 12345u; /* any cheap PRNG will do for jitter */
    int delay = backoff / 2 + (int)((r->d->rng >> 16) % (unsigned)(backoff / 2 + 1));
    if (retry_after_s > 0 && retry_after_s * 1000 > delay)
        delay = retry_after_s * 1000;
    return delay;
}

/* Starts one attempt. Returns 0, or -1. */
static int retry_start(struct retry_get *r)
{
    struct evhttp_request *req = evhttp_request_new(retry_response_cb, r);
    if (req == NULL)
        return -1;
    r->attempt++;
    r->failed = 0;
    evhttp_request_set_error_cb(req, retry_error_cb);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    return evhttp_make_request(r->evcon, req, EVHTTP_REQ_GET, r->path);
}

static void retry_attempt_cb(evutil_socket_t fd, short what, void *arg)
{
    struct retry_get *r = arg;
    (void)fd;
    (void)what;
    if (retry_start(r) != 0) {
        printf("client: could not start attempt %d\n", r->attempt);
        event_base_loopbreak(r->d->base);
    }
}

static void retry_error_cb(enum evhttp_request_error error, void *arg)
{
    struct retry_get *r = arg;
    r->failed = 1;
    r->error = error;
}

static void retry_response_cb(struct evhttp_request *req, void *arg)
{
    struct retry_get *r = arg;
    int status = req != NULL ? evhttp_request_get_response_code(req) : 0;
    const char *ra = req != NULL
                         ? evhttp_find_header(evhttp_request_get_input_headers(req), "Retry-After")
                         : NULL;
    char what[64];

    if (r->failed)
        snprintf(what, sizeof what, "%s", http_error_str(r->error));
    else
        snprintf(what, sizeof what, "%d%s%s", status, ra != NULL ? ", Retry-After: " : "",
                 ra != NULL ? ra : "");
    /* Retry what a later attempt may fix: no answer, or 502/503/504. A 4xx or a 500 would
     * fail the same way again, and a retry only adds load. */
    int retryable = r->failed || status == 0 || status == 502 || status == 503 || status == 504;
    if (!retryable) {
        printf("client: GET %s attempt %d: %s: done\n", r->path, r->attempt, what);
    } else if (r->attempt == RETRY_MAX_ATTEMPTS) {
        printf("client: GET %s attempt %d: %s: giving up after %d attempts\n", r->path, r->attempt,
               what, r->attempt);
    } else {
        int ms = retry_delay_ms(r, ra != NULL ? atoi(ra) : 0);
        struct timeval wait = {ms / 1000, (ms % 1000) * 1000};
        printf("client: GET %s attempt %d: %s: retrying in %d ms\n", r->path, r->attempt, what, ms);
        evtimer_add(r->timer, &wait);
        return;
    }
    event_base_loopbreak(r->d->base);
}

static int retry_run(struct demo *d, const char *path)
{
    struct timeval tmo = {0, REQUEST_TIMEOUT_MS * 1000};
    struct retry_get r = {d, NULL, NULL, path, 0, 0, EVREQ_HTTP_TIMEOUT};
    int rc = -1;

    r.evcon = evhttp_connection_base_new(d->base, NULL, "127.0.0.1", d->port);
    r.timer = evtimer_new(d->base, retry_attempt_cb, &r);
    if (r.evcon == NULL || r.timer == NULL)
        goto cleanup;
    evhttp_connection_set_timeout_tv(r.evcon, &tmo);
    if (retry_start(&r) != 0)
        goto cleanup;
    run_until_done(d);
    rc = 0;
cleanup:
    if (r.timer != NULL)
        event_free(r.timer);
    if (r.evcon != NULL)
        evhttp_connection_free(r.evcon);
    return rc;
}

static int scene_retries(struct demo *d)
{
    printf("\n== 4. retries with back-off, jitter and Retry-After ==\n");
    if (retry_run(d, "/flaky") != 0)
        return -1;
    printf("client: (the server holds %d /slow requests now; it sheds more with 503)\n",
           boundary_server_slow_held(d->server));
    return retry_run(d, "/slow");
}

/* ---- main ---- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct demo *d = arg;
    (void)fd;
    (void)what;
    printf("(a scene ran into its %d s deadline)\n", SCENE_DEADLINE_S);
    event_base_loopbreak(d->base);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

/* Binds a socket to a free loopback port and closes it without listening: a closed port.
 * Returns the port, or 0. */
static unsigned short closed_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned short port = 0;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        evutil_closesocket(fd);
    return port;
}

int main(int argc, char **argv)
{
    struct demo d = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    struct event *sigint = NULL, *sigterm = NULL;
    int demo = 0, rc = 1;
    long port = DEFAULT_PORT;

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--demo") == 0) {
            demo = 1;
            port = 0;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc &&
                   (port = strtol(argv[++i], &end, 10)) >= 0 && port <= 65535 && *end == '\0') {
            continue;
        } else {
            fprintf(stderr, "usage: %s [--demo] [--port N]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    d.rng = (unsigned)time(NULL);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    d.base = event_base_new();
    if (d.base == NULL)
        goto cleanup;
    d.server = boundary_server_new(d.base, (unsigned short)port, stdout);
    d.dropper = evconnlistener_new_bind(d.base, dropper_accept_cb, NULL,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                        (struct sockaddr *)&sin, sizeof sin);
    d.deadline = evtimer_new(d.base, deadline_cb, &d);
    sigint = evsignal_new(d.base, SIGINT, stop_cb, d.base);
    sigterm = evsignal_new(d.base, SIGTERM, stop_cb, d.base);
    if (d.server == NULL || d.dropper == NULL || d.deadline == NULL || sigint == NULL ||
        sigterm == NULL ||
        getsockname(evconnlistener_get_fd(d.dropper), (struct sockaddr *)&sin, &len) != 0) {
        fprintf(stderr, "could not start the server\n");
        goto cleanup;
    }
    d.port = boundary_server_port(d.server);
    d.drop_port = ntohs(sin.sin_port);
    d.closed_port = closed_port();
    printf("listening on 127.0.0.1:%u\n", d.port);

    if (!demo) {
        if (evsignal_add(sigint, NULL) != 0 || evsignal_add(sigterm, NULL) != 0)
            goto cleanup;
        event_base_dispatch(d.base);
        printf("shutting down\n");
    } else if (scene_fetch_users(&d) != 0 || scene_error_callback(&d) != 0 ||
               scene_boundary(&d) != 0 || scene_retries(&d) != 0) {
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (sigint != NULL)
        event_free(sigint);
    if (sigterm != NULL)
        event_free(sigterm);
    if (d.deadline != NULL)
        event_free(d.deadline);
    if (d.dropper != NULL)
        evconnlistener_free(d.dropper);
    boundary_server_free(d.server); /* answers the held /slow requests first */
    if (d.base != NULL)
        event_base_free(d.base);
    if (demo && rc == 0)
        printf("server: shut down; every held request answered, everything freed\n");
    return rc;
}
