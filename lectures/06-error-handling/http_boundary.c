/*
 * http_boundary.c - the server of http_boundary.h: one evhttp callback that is an error
 * boundary around every route handler.
 *
 * A handler either fills a reply, holds the request for later, or fails with a `struct err`.
 * The boundary turns a failure into a JSON 500 that carries a request id, and writes the cause
 * to the log under the same id: the client learns which request failed, never the server's
 * internals. Try it with http_errors_script.c (`./http-errors --demo`), or run `./http-errors` and
 * `curl -si http://127.0.0.1:7060/users/2`.
 */
#include "http_boundary.h"
#include "demo_util.h"
#include "err.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define REQUEST_ID_MAX 16

struct boundary_server {
    struct evhttp *http; /* owned */
    FILE *log;           /* not owned */
    unsigned short port;
    unsigned long next_id;
    int flaky_calls;
    struct evhttp_request *slow[BOUNDARY_MAX_SLOW]; /* held; evhttp owns them, we owe a reply */
    int nslow;
};

/* What a handler produced. */
enum outcome {
    REPLIED, /* *reply is filled */
    HELD,    /* the handler keeps the request and answers it later */
    FAILED,  /* *e says why; the boundary answers 500 */
};

struct reply {
    int status;
    json_t *body;            /* owned; NULL for none */
    const char *retry_after; /* a static string, or NULL */
};

static void request_cb(struct evhttp_request *req, void *arg);

/* ---- the routes: ordinary code that may fail ---- */

static enum outcome get_user(struct boundary_server *s, const char *id_text, struct reply *r,
                             struct err *e)
{
    long id;
    (void)s;

    if (parse_bounded(id_text, 1, LONG_MAX, &id) != 0) {
        r->status = 404;
        r->body = json_pack("{s:{s:i, s:s}}", "error", "status", 404, "message", "no such user");
        return REPLIED;
    }
    switch (id) {
    case 1:
        r->status = 200;
        r->body = json_pack("{s:i, s:s}", "id", 1, "name", "ada");
        return REPLIED;
    case 2:
        /* A failure deep inside: the kind of thing that is a `?` in Rust. */
        err_errno(e, EIO, "store read");
        err_context(e, "loading user %ld", id);
        return FAILED;
    case 3:
        r->status = 200; /* a broken record: the client must check what it gets */
        r->body = json_pack("{s:i}", "id", 3);
        return REPLIED;
    default:
        r->status = 404;
        r->body = json_pack("{s:{s:i, s:s}}", "error", "status", 404, "message", "no such user");
        return REPLIED;
    }
}

/* Fails on purpose for its first calls, as a server that is restarting or overloaded does. */
static enum outcome get_flaky(struct boundary_server *s, struct reply *r)
{
    if (++s->flaky_calls <= BOUNDARY_FLAKY_FAILURES) {
        r->status = 503;
        r->retry_after = BOUNDARY_RETRY_AFTER_S;
        r->body = json_pack("{s:{s:i, s:s}}", "error", "status", 503, "message", "busy, try later");
    } else {
        r->status = 200;
        r->body = json_pack("{s:b}", "ok", 1);
    }
    return REPLIED;
}

/* Holds the request: it is answered only at shutdown. Holding is bounded: past
 * BOUNDARY_MAX_SLOW, new requests are shed with 503 at once, which costs nothing to hold. */
static enum outcome get_slow(struct boundary_server *s, struct evhttp_request *req, struct reply *r)
{
    if (s->nslow == BOUNDARY_MAX_SLOW) {
        r->status = 503;
        r->retry_after = BOUNDARY_RETRY_AFTER_S;
        r->body = json_pack("{s:{s:i, s:s}}", "error", "status", 503, "message", "overloaded");
        return REPLIED;
    }
    s->slow[s->nslow++] = req;
    return HELD;
}

static enum outcome route(struct boundary_server *s, struct evhttp_request *req, const char *path,
                          struct reply *r, struct err *e)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        r->status = 405;
        r->body = json_pack("{s:{s:i, s:s}}", "error", "status", 405, "message", "GET only");
        return REPLIED;
    }
    if (strncmp(path, "/users/", 7) == 0)
        return get_user(s, path + 7, r, e);
    if (strcmp(path, "/flaky") == 0)
        return get_flaky(s, r);
    if (strcmp(path, "/slow") == 0)
        return get_slow(s, req, r);
    r->status = 404;
    r->body = json_pack("{s:{s:i, s:s}}", "error", "status", 404, "message", "no such route");
    return REPLIED;
}

/* ---- the boundary ---- */

/* Sends r as JSON and frees r->body. The only evhttp_send_reply of the file but one (shutdown):
 * every request gets exactly one answer. */
static void send_json(struct evhttp_request *req, struct reply *r)
{
    struct evbuffer *buf = evbuffer_new();
    char *text = r->body != NULL ? json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    if (r->retry_after != NULL)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", r->retry_after);
    if (r->body != NULL && (text == NULL || buf == NULL))
        r->status = 500; /* out of memory while answering: still answer, without a body */
    else if (text != NULL)
        evbuffer_add_printf(buf, "%s\n", text);
    evhttp_send_reply(req, r->status, NULL, buf);
    free(text);
    if (buf != NULL)
        evbuffer_free(buf);
    json_decref(r->body);
}

/* Every request passes here. Whatever a handler does, the request gets an id, one answer, and
 * one log line; a handler's failure becomes a 500 and never reaches the loop. */
static void request_cb(struct evhttp_request *req, void *arg)
{
    struct boundary_server *s = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct reply r = {0, NULL, NULL};
    struct err e = {0, ""};
    char id[REQUEST_ID_MAX];

    snprintf(id, sizeof id, "req-%06lu", ++s->next_id);
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", id);
    enum outcome o = route(s, req, path != NULL ? path : "", &r, &e);
    if (o == HELD) {
        if (s->log != NULL)
            fprintf(s->log, "server: %s GET %s -> held (%d of %d)\n", id, path, s->nslow,
                    BOUNDARY_MAX_SLOW);
        return;
    }
    if (o == FAILED) {
        /* The cause goes to our log; the client gets the id to quote when it reports it. */
        if (s->log != NULL)
            fprintf(s->log, "server: %s GET %s -> 500: %s\n", id, path, e.msg);
        json_decref(r.body);
        r = (struct reply){500, NULL, NULL};
        r.body = json_pack("{s:{s:i, s:s, s:s}}", "error", "status", 500, "message",
                           "internal error", "request_id", id);
    } else if (s->log != NULL) {
        fprintf(s->log, "server: %s GET %s -> %d\n", id, path, r.status);
    }
    send_json(req, &r);
}

struct boundary_server *boundary_server_new(struct event_base *base, unsigned short port, FILE *log)
{
    struct boundary_server *s = calloc(1, sizeof *s);
    struct evhttp_bound_socket *sock;
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;

    if (s == NULL)
        return NULL;
    s->log = log;
    s->http = evhttp_new(base);
    if (s->http == NULL)
        goto err;
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_max_body_size(s->http, BOUNDARY_MAX_BODY_BYTES);
    evhttp_set_default_content_type(s->http, "application/json");
    evhttp_set_gencb(s->http, request_cb, s);
    sock = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", port);
    if (sock == NULL ||
        getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &len) != 0)
        goto err;
    s->port = ntohs(sin.sin_port);
    return s;
err:
    boundary_server_free(s);
    return NULL;
}

unsigned short boundary_server_port(const struct boundary_server *s)
{
    return s->port;
}

int boundary_server_slow_held(const struct boundary_server *s)
{
    return s->nslow;
}

void boundary_server_free(struct boundary_server *s)
{
    if (s == NULL)
        return;
    /* Answer what we hold before evhttp_free(): that frees the connections and their requests,
     * and a held pointer would dangle. If a client has gone meanwhile, evhttp has detached the
     * request from its connection, and evhttp_send_reply() only frees it. */
    for (int i = 0; i < s->nslow; i++) {
        struct reply r = {503, NULL, NULL};
        r.body = json_pack("{s:{s:i, s:s}}", "error", "status", 503, "message", "shutting down");
        send_json(s->slow[i], &r);
    }
    if (s->http != NULL)
        evhttp_free(s->http);
    free(s);
}
