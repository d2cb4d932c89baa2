/*
 * http_boundary.h - a small evhttp server whose one request handler is an error boundary: a
 * handler that fails becomes a JSON 500 carrying a request id (the cause goes to the log under
 * the same id), an overloaded route answers 503 with Retry-After, and no request, however bad,
 * ends the server. http_errors_script.c is the client that provokes each case.
 *
 * Routes: GET /users/ID (1 exists, 2 fails inside the handler, 3 is a broken record, others are
 * 404), GET /flaky (503 with Retry-After for its first BOUNDARY_FLAKY_FAILURES calls), GET /slow
 * (never answered until shutdown; more than BOUNDARY_MAX_SLOW at once get 503).
 */
#ifndef LECTURE06_HTTP_BOUNDARY_H
#define LECTURE06_HTTP_BOUNDARY_H

#include <event2/event.h>
#include <stdio.h>

#define BOUNDARY_MAX_SLOW 4        /* /slow requests held at once; more are shed with 503 */
#define BOUNDARY_FLAKY_FAILURES 1  /* /flaky answers 503 this many times, then 200 */
#define BOUNDARY_RETRY_AFTER_S "1" /* the Retry-After of a 503, in seconds (HTTP's unit) */
#define BOUNDARY_MAX_BODY_BYTES 4096

struct boundary_server;

/* Starts the server on 127.0.0.1:port (0 = any free port) on `base`, logging one line per
 * request to `log` (not owned; NULL = silent). Returns the server (free it with
 * boundary_server_free), or NULL. */
struct boundary_server *boundary_server_new(struct event_base *base, unsigned short port,
                                            FILE *log);

/* The port actually bound. */
unsigned short boundary_server_port(const struct boundary_server *s);

/* How many /slow requests are being held. */
int boundary_server_slow_held(const struct boundary_server *s);

/* Answers every held request with 503, then frees the evhttp and the server. */
void boundary_server_free(struct boundary_server *s);

#endif
