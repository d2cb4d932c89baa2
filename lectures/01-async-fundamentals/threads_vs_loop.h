/*
 * threads_vs_loop.h - three servers for the same slow clients (threads_vs_loop.c), the clients
 * that drive them (threads_vs_loop_script.c), and what both sides agree on: the request, how
 * many rounds, how long a client thinks. threads_vs_loop_main.c measures each server.
 */
#ifndef LECTURE01_THREADS_VS_LOOP_H
#define LECTURE01_THREADS_VS_LOOP_H

#include <stddef.h>

#define ROUNDS 5         /* requests per client */
#define THINK_MS 20      /* a client waits this long before each request */
#define MAX_CLIENTS 4000 /* the kernel's accept queue (somaxconn) is 4096 on Linux >= 5.4 */
#define REQUEST "ping\n"
#define REQUEST_LEN (sizeof REQUEST - 1)
#define IO_BUFFER_BYTES 512 /* per read(); requests are 5 bytes */

/* Each server accepts n clients on listen_fd, echoes every request until its client closes,
 * and returns when all n are done: 0, or -1 if some client could not be served. They run on
 * the calling thread; listen_fd stays the caller's. */
int serve_one_thread(int listen_fd, int n);
int serve_thread_per_connection(int listen_fd, int n);
int serve_event_loop(int listen_fd, int n);

/* What the event-loop server allocates per connection, in bytes. */
size_t loop_conn_bytes(void);

/* Makes fd non-blocking. Returns 0, or -1. */
int set_nonblocking(int fd);

#endif
