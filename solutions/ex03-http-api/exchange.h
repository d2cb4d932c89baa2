/*
 * exchange.h - one HTTP request and the response being built for it.
 *
 * evhttp hands the server a request and expects exactly one reply. Between the two, the
 * middleware and the router (middleware.h, router.h) work on a `struct exchange`: they read
 * the request through it, and write the status, headers, body or error message into it.
 * Nothing is sent until every layer has had its say; then http_api.c sends the reply once.
 * This is what lets a layer add a header to every response, errors included: evhttp's own
 * evhttp_send_error() would throw the headers away and send HTML.
 *
 * This header is the same in exercises/ and solutions/.
 */
#ifndef EXCHANGE_H
#define EXCHANGE_H

#include <event2/http.h>
#include <stddef.h>
#include <stdio.h>

struct items_store;

#define EXCHANGE_ERROR_MAX 256 /* bytes of an error message, NUL included */
#define EXCHANGE_HOST_MAX 255  /* longest Host header used in URLs (a DNS name is at most 253) */
#define EXCHANGE_ORIGIN_MAX (sizeof "http://" + EXCHANGE_HOST_MAX)

/* What every request may use: the State of the original. Shared by all worker threads and
 * read-only once the server runs, except the store, which locks itself. */
struct app_state {
    struct items_store *store;
    FILE *log; /* NULL = no request log */
    size_t max_body_bytes;
    size_t max_header_bytes;
    char fallback_origin[EXCHANGE_ORIGIN_MAX]; /* "http://127.0.0.1:3000": for a missing Host */
};

struct exchange {
    struct evhttp_request *req; /* borrowed from evhttp, which frees it after the reply */
    const struct app_state *app;
    enum evhttp_cmd_type method;
    char *path;                     /* percent-decoded path, owned; NULL if unusable */
    struct evbuffer *body;          /* the request body: evhttp's buffer, borrowed */
    int status;                     /* 0 until some layer answers */
    struct evbuffer *out;           /* the response body, owned */
    char error[EXCHANGE_ERROR_MAX]; /* status >= 400: the message for {"error": "..."} */
};

/* Prepares an exchange for req. Returns 0, or -1 if out of memory. */
int exchange_init(struct exchange *ex, struct evhttp_request *req, const struct app_state *app);

/* Frees what the exchange owns (not the request). */
void exchange_cleanup(struct exchange *ex);

/* Answers with an error: sets the status and the message (printf-style) that the JSON-error
 * middleware turns into the body {"error": "..."}. */
void exchange_fail(struct exchange *ex, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A request header (case-insensitive name), or NULL. Valid while the request lives. */
const char *exchange_request_header(const struct exchange *ex, const char *name);

/* Adds a response header. */
void exchange_add_header(struct exchange *ex, const char *name, const char *value);

/* The request body as one contiguous block of *len bytes (NULL when empty). */
const char *exchange_body(struct exchange *ex, size_t *len);

/*
 * Writes "http://HOST" into origin (EXCHANGE_ORIGIN_MAX bytes): the start of every absolute
 * URL in a response. HOST is the request's Host header when it looks like a host name or
 * address (with an optional port), otherwise the server's own address.
 */
void exchange_origin(const struct exchange *ex, char *origin, size_t size);

/* "GET", "POST", ...: the name of a method, for logs and messages. */
const char *exchange_method_name(enum evhttp_cmd_type method);

/* Sends the response built so far. Call exactly once per exchange, on the request's thread. */
void exchange_send(struct exchange *ex);

#endif
