/*
 * fast_items.h - the /items API without evhttp: HTTP/1.1 keep-alive on plain events, requests
 * parsed by the http-parser library, every reply written at once (as exercise 01 echoes).
 *
 * It serves GET, POST, PUT and DELETE on /items/{id} and POST on /items, in JSON, from one
 * thread. Each connection costs one read() and one write() per request, and no epoll_ctl():
 * its read event stays armed from the first request to the last. fast_items_main.c runs it.
 */
#ifndef FAST_ITEMS_H
#define FAST_ITEMS_H

#include <event2/event.h>
#include <stdint.h>

struct fast_server;

/* What the server has done so far, for the demo to print. */
struct fast_counts {
    uint64_t requests;
    uint64_t reads;  /* read() calls that returned bytes */
    uint64_t writes; /* write() calls */
};

/* Listens on 127.0.0.1:port (0: any free port) on base. Returns NULL (reason on stderr) on
 * failure. The caller frees it with fast_server_free() before freeing base. */
struct fast_server *fast_server_new(struct event_base *base, uint16_t port);

/* The port really bound. */
uint16_t fast_server_port(const struct fast_server *srv);

/* Copies the counters (from any thread). */
void fast_server_counts(const struct fast_server *srv, struct fast_counts *out);

/* Closes every connection and the listener, and frees the items. */
void fast_server_free(struct fast_server *srv);

#endif
