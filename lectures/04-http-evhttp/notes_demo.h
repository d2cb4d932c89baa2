/*
 * notes_demo.h - the requests `http-notes --demo` makes to its own server.
 *
 * An evhttp client on the same event_base as the server: each request goes out over a real
 * loopback connection, the server's callbacks answer it on the same loop, and the response
 * callback prints the answer, checks its status, and sends the next request. This is also how
 * to test HTTP handlers in-process: no second program, no sleeping, no ports to guess.
 */
#ifndef NOTES_DEMO_H
#define NOTES_DEMO_H

#include <stdint.h>

struct event_base;
struct notes_demo;

/* Starts the script against 127.0.0.1:port. When the last response has arrived (or one never
 * comes) it calls event_base_loopexit(). NULL on failure. */
struct notes_demo *notes_demo_start(struct event_base *base, uint16_t port);

/* The number of responses whose status was not the expected one (0 when all went well). */
int notes_demo_failures(const struct notes_demo *demo);

/* Frees the client connection. Call after the loop has returned, before freeing the server.
 * NULL is fine. */
void notes_demo_free(struct notes_demo *demo);

#endif
