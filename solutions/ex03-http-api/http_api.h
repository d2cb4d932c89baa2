/*
 * http_api.h - Exercise 03: a JSON CRUD API for todo items, on evhttp and jansson.
 *
 *     POST /items          201 + the item (and a Location header)
 *     GET /items           200 + the items in id order, a page at a time:
 *                          ?offset=N&limit=M, with a Link header to the next page
 *     DELETE /items        204: deletes every item
 *     GET /items/{id}      200 + the item
 *     PUT /items/{id}      200 + the item: full replacement
 *     PATCH /items/{id}    200 + the item: only the fields sent change
 *     DELETE /items/{id}   204
 *     OPTIONS any path     204: CORS preflight
 *
 * Errors are JSON ({"error": "..."}) and every response, errors included, carries CORS headers.
 * The server runs `threads` worker threads; each has its own event_base, its own evhttp and its
 * own listening socket, all bound to the same port (SO_REUSEPORT: the kernel spreads new
 * connections over them), and all share one item store behind a read-write lock. Try it:
 *
 *     ./build/solutions/ex03-http-api/http-api --port 3000 &
 *     curl -i -H 'Content-Type: application/json' -d '{"title": "buy milk"}' localhost:3000/items
 *
 * This header is the same in exercises/ and solutions/: the tests use only what is here (and
 * the headers of the modules they unit-test).
 */
#ifndef HTTP_API_H
#define HTTP_API_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HTTP_API_DEFAULT_HOST "127.0.0.1"
#define HTTP_API_DEFAULT_PORT 3000
#define HTTP_API_MAX_THREADS 64
#define HTTP_API_DEFAULT_MAX_BODY_BYTES (64 * 1024)  /* larger bodies get 413 */
#define HTTP_API_DEFAULT_MAX_HEADER_BYTES (8 * 1024) /* request line + headers; larger gets 431 */
#define HTTP_API_DEFAULT_IDLE_TIMEOUT_MS 30000       /* close connections silent this long */
#define HTTP_API_SHUTDOWN_GRACE_MS 5000 /* at shutdown, wait at most this long for replies */
#define HTTP_API_PAGE_MAX_ITEMS 1000    /* items in one page of GET /items: default and maximum */
#define HTTP_API_LOG_FLUSH_MS 100       /* a logged line reaches the log stream's file this soon */

struct http_api_config {
    const char *host;        /* address to bind, e.g. "127.0.0.1" or "::1"; NULL = default */
    uint16_t port;           /* 0 picks a free port: ask http_api_port() which one */
    int threads;             /* worker threads (1..HTTP_API_MAX_THREADS); 0 = one per core */
    size_t max_body_bytes;   /* 0 = HTTP_API_DEFAULT_MAX_BODY_BYTES */
    size_t max_header_bytes; /* 0 = HTTP_API_DEFAULT_MAX_HEADER_BYTES */
    int idle_timeout_ms;     /* keep-alive and slow-request timeout; 0 = the default */
    size_t max_items;        /* the store's capacity (507 past it); 0 = the store's default */
    int shutdown_grace_ms;   /* at shutdown, wait at most this long for replies in flight;
                                0 = HTTP_API_SHUTDOWN_GRACE_MS */
    FILE *log;               /* one line per request, written with a single fprintf call from
                                any worker thread; NULL = no logging. It may be buffered: the
                                server flushes it HTTP_API_LOG_FLUSH_MS after a request and
                                in http_api_free() */
};

struct http_api;

/*
 * Binds cfg->host:cfg->port and starts the worker threads, which serve requests at once.
 * Returns NULL if the address cannot be bound or a thread cannot start (the reason is written
 * to cfg->log). The config is copied; cfg->log must stay open until http_api_free().
 */
struct http_api *http_api_new(const struct http_api_config *cfg);

/* The port the server listens on (the real one when the config asked for port 0). */
uint16_t http_api_port(const struct http_api *api);

/*
 * Graceful shutdown, then frees everything: every worker stops accepting, finishes the replies
 * it is sending (waiting at most cfg->shutdown_grace_ms), closes its connections and exits;
 * then the store is freed. Call it from any thread except a worker's. NULL is allowed.
 */
void http_api_free(struct http_api *api);

#endif
