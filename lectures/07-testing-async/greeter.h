/*
 * greeter.h - one connection of a tiny framed protocol, with an asynchronous dependency: the
 * code under test of mocks.c.
 *
 * A client sends a frame (frame.h) holding a user id in decimal; the greeter looks the user up
 * through `struct users` (users.h) and answers "hello, NAME" or "error: MESSAGE". One lookup at
 * a time: a request that arrives meanwhile is answered "error: busy". When the client leaves
 * with a lookup pending, the lookup is cancelled.
 */
#ifndef GREETER_H
#define GREETER_H

#include "users.h"

#include <event2/util.h>

struct event_base;
struct greeter;

/* Serves the connected socket fd (owned from now on) on base. `users` is borrowed and must
 * outlive the greeter. NULL on failure (fd is then closed). */
struct greeter *greeter_new(struct event_base *base, evutil_socket_t fd, const struct users *users);

/* 1 once the client has left (or broke the protocol) and the connection is closed. */
int greeter_closed(const struct greeter *g);

/* Cancels a pending lookup, closes the connection if still open, frees g. */
void greeter_free(struct greeter *g);

#endif
