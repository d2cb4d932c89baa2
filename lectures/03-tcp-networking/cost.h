/*
 * cost.h - the same echo server three ways, on one event_base: a bufferevent echo, the same
 * with TCP_NODELAY, and a plain event with an immediate write(). cost.c has the servers,
 * cost_script.c the load client that measures them, cost_main.c the tcp-cost program.
 */
#ifndef LECTURE03_COST_H
#define LECTURE03_COST_H

#include <stdint.h>

#include <event2/event.h>

#define COST_SERVERS 3 /* in this order: bufferevent, bufferevent + TCP_NODELAY, plain event */

struct cost_servers;

/* Starts the three servers on 127.0.0.1: on first_port, first_port + 1 and first_port + 2, or
 * each on any free port if first_port is 0. Stores the ports bound in ports[]. Returns the
 * servers (free them with cost_servers_free), or NULL. */
struct cost_servers *cost_servers_new(struct event_base *base, uint16_t first_port,
                                      uint16_t ports[COST_SERVERS]);

/* Closes every connection and listener, then frees the servers. NULL is allowed. */
void cost_servers_free(struct cost_servers *s);

#endif
