/*
 * api_fixture.c - see suite.h. Starting and stopping a server for one test, and requests that
 * fail the test with a readable message when the server does not answer.
 */
#include "suite.h"

#include "transcript.h"

#include <stdio.h>
#include <string.h>

const char *esc(const char *s, size_t len)
{
    static char buf[4][512];
    static int next;
    char *out = buf[next++ % 4];
    return transcript_escape(s, len, 120, out, sizeof buf[0]);
}

const char *show(const struct http_response *r)
{
    static char buf[4][700];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, sizeof buf[0], "\"%s\" with body \"%s\"", r->status_line,
             esc(r->body != NULL ? r->body : "", r->body != NULL ? r->body_len : 0));
    return out;
}

void api_start(struct server_fixture *f, const struct http_api_config *cfg)
{
    struct http_api_config c = {.threads = 1};
    if (cfg != NULL)
        c = *cfg;
    server_fixture_init(f, false); /* http_api runs its own threads */
    c.host = "127.0.0.1";
    c.port = 0;
    c.log = log_capture_stream(f->log);
    f->server = http_api_new(&c);
    char what[64];
    snprintf(what, sizeof what, "http_api_new(port 0, %d thread(s))", c.threads);
    server_fixture_check_created(f, what);
    f->port = http_api_port(f->server);
    ck_assert_msg(f->port != 0, "http_api_port() returned 0 after binding port 0; expected the "
                                "real port (read back with getsockname)");
    transcript_note("server started on 127.0.0.1:%u with %d thread(s)", f->port, c.threads);
}

void api_stop(struct server_fixture *f)
{
    http_api_free(f->server);
    f->server = NULL;
    server_fixture_free(f);
}

void api_request(struct server_fixture *f, const char *method, const char *target,
                 const char *headers, const char *body, struct http_response *r)
{
    struct client c;
    ck_assert_msg(client_connect(&c, f->port) == 0,
                  "%s %s: cannot connect to 127.0.0.1:%u; is "
                  "the server accepting (worker_start in http_api.c)?",
                  method, target, f->port);
    ck_assert_msg(http_send(&c, method, target, headers, body, REQUEST_TIMEOUT_MS) == 0,
                  "%s %s: the server did not take the request bytes", method, target);
    enum client_status st =
        http_read_response(&c, strcmp(method, "HEAD") == 0, r, REQUEST_TIMEOUT_MS);
    client_close(&c);
    ck_assert_msg(st == CLIENT_OK,
                  "%s %s%s%s: expected a complete HTTP response, got %s after "
                  "\"%s\"; every request must get exactly one reply (evhttp_send_reply)",
                  method, target, body != NULL ? " " : "",
                  body != NULL ? esc(body, strlen(body)) : "", client_status_str(st),
                  r->status_line);
}

void api_json(struct server_fixture *f, const char *method, const char *target, const char *body,
              struct http_response *r)
{
    api_request(f, method, target, body != NULL ? "Content-Type: application/json\r\n" : NULL, body,
                r);
}

int64_t api_create(struct server_fixture *f, const char *body)
{
    struct http_response r;
    api_json(f, "POST", "/items", body, &r);
    ck_assert_msg(r.status == 201,
                  "POST /items %s: expected 201 Created, got %s; see create_item "
                  "in router.c",
                  esc(body, strlen(body)), show(&r));
    json_t *item = body_json(&r, "POST /items");
    json_t *id = json_object_get(item, "id");
    ck_assert_msg(json_is_integer(id), "POST /items: expected an integer \"id\" in %s", show(&r));
    int64_t v = json_integer_value(id);
    json_decref(item);
    http_response_free(&r);
    return v;
}

json_t *body_json(const struct http_response *r, const char *request)
{
    json_error_t err;
    json_t *v = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &err);
    ck_assert_msg(v != NULL, "%s: expected a JSON body, got %s (%s); every body must be JSON",
                  request, show(r), err.text);
    return v;
}
