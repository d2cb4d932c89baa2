/*
 * retry_get.c - retries: exponential back-off with jitter, on timers.
 *
 * A GET that fails in a way a later attempt may fix (no answer, 502, 503, 504) is tried again
 * after a wait that doubles each time, capped, with random jitter so that many clients that
 * failed together do not retry together, and never sooner than the server's Retry-After. The
 * wait is a timer, not a sleep: the loop keeps serving meanwhile. Try it with
 * `./http-errors --demo` (scene 4).
 */
#include "retry_get.h"
#include "demo_util.h"
#include "fetch_user.h"

#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>

#define RETRY_AFTER_MAX_S 3600 /* a Retry-After above this (or unreadable) is ignored */

/* One GET retried until it succeeds, fails in a way a retry cannot fix, or runs out of
 * attempts. The timer is the wait between attempts: the loop keeps serving meanwhile. */
struct retry_get {
    struct evhttp_connection *evcon; /* not owned */
    struct event *timer;             /* owned */
    const char *path;                /* not owned */
    int attempt;
    int failed; /* the error callback ran for this attempt */
    enum evhttp_request_error error;
    unsigned *rng; /* not owned: the caller's jitter state */
    retry_get_done_fn done;
    void *arg;
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
    *r->rng = *r->rng * 1103515245u + 12345u; /* any cheap PRNG will do for jitter */
    int delay = backoff / 2 + (int)((*r->rng >> 16) % (unsigned)(backoff / 2 + 1));
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
        r->done(r->arg);
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
        long retry_after_s = 0;
        if (ra != NULL && parse_bounded(ra, 0, RETRY_AFTER_MAX_S, &retry_after_s) != 0)
            retry_after_s = 0;
        int ms = retry_delay_ms(r, (int)retry_after_s);
        struct timeval wait = {ms / 1000, (ms % 1000) * 1000};
        printf("client: GET %s attempt %d: %s: retrying in %d ms\n", r->path, r->attempt, what, ms);
        evtimer_add(r->timer, &wait);
        return;
    }
    r->done(r->arg);
}

/* See retry_get.h. */
struct retry_get *retry_get_start(struct event_base *base, struct evhttp_connection *evcon,
                                  const char *path, unsigned *rng, retry_get_done_fn done,
                                  void *arg)
{
    struct retry_get *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    *r = (struct retry_get){evcon, NULL, path, 0, 0, EVREQ_HTTP_TIMEOUT, rng, done, arg};
    r->timer = evtimer_new(base, retry_attempt_cb, r);
    if (r->timer == NULL || retry_start(r) != 0) {
        retry_get_free(r);
        return NULL;
    }
    return r;
}

/* See retry_get.h. */
void retry_get_free(struct retry_get *r)
{
    if (r == NULL)
        return;
    if (r->timer != NULL)
        event_free(r->timer);
    free(r);
}
