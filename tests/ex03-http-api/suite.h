/*
 * suite.h - what the files of exercise 03's suite share: the test tables each file exports
 * (suite_main.c runs them in this order) and the helpers in api_fixture.c.
 */
#ifndef EX03_SUITE_H
#define EX03_SUITE_H

#include "harness.h"
#include "http_api.h"
#include "http_client.h"
#include "log_capture.h"
#include "server_fixture.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define REQUEST_TIMEOUT_MS 3000 /* how long a test waits for one response */

/* Starts http_api_new() on 127.0.0.1 port 0 with one thread (or what `cfg` says: its host,
 * port and log are overridden). Fails the test if it returns NULL. */
void api_start(struct server_fixture *f, const struct http_api_config *cfg);
void api_stop(struct server_fixture *f);

/* One request on a new connection (Host and Content-Length are added; `headers` are extra
 * lines ending in \r\n, may be NULL). Fails the test if no complete response arrives. */
void api_request(struct server_fixture *f, const char *method, const char *target,
                 const char *headers, const char *body, struct http_response *r);

/* The same with "Content-Type: application/json" when there is a body. */
void api_json(struct server_fixture *f, const char *method, const char *target, const char *body,
              struct http_response *r);

/* POST /items with this body; fails the test unless the answer is 201. Returns the new id. */
int64_t api_create(struct server_fixture *f, const char *body);

/* Parses a response body as JSON; fails the test (naming the request) if it is not. */
json_t *body_json(const struct http_response *r, const char *request);

/* "404 Not Found {\"error\":...}": a response in a few words, for messages. */
const char *show(const struct http_response *r);

/* Escapes bytes for a one-line message (static buffer, one per call site is enough). */
const char *esc(const char *s, size_t len);

#endif
