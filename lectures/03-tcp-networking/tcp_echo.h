/*
 * tcp_echo.h - Lecture 03's echo server, as a module you can start on any event_base.
 *
 * The server accepts clients with an evconnlistener, gives each one a bufferevent, and sends
 * every byte back. Around that core it shows what a real TCP server needs: a bound on pending
 * output (backpressure), idle timeouts, a connection limit, EOF/reset/half-close handling,
 * accept errors, one log line per event, and a graceful shutdown.
 *
 * Everything runs on the loop's thread. The two counters at the end are atomics only because
 * the lecture demo's client thread reads them to keep its output in order.
 */
#ifndef TCP_ECHO_H
#define TCP_ECHO_H

#include <stdint.h>
#include <stdio.h>

struct event_base;

#define TCP_ECHO_MAX_CONNECTIONS 1024     /* clients beyond this are closed at once */
#define TCP_ECHO_BACKLOG 1024             /* connections the kernel completes before we accept */
#define TCP_ECHO_MAX_PENDING (256 * 1024) /* bytes of echo per client before we stop reading */
#define TCP_ECHO_RESUME_AT (64 * 1024)    /* ...and resume once it has drained to this */
#define TCP_ECHO_ACCEPT_PAUSE_MS 100      /* after an accept error, wait this long */
#define TCP_ECHO_SHUTDOWN_GRACE_MS 2000   /* shutdown drops clients still unflushed after this */

struct tcp_echo_options {
    const char *host; /* address to bind, e.g. "127.0.0.1" */
    uint16_t port;    /* 0 asks the kernel for a free port; tcp_echo_port() tells which */
    int idle_ms;      /* close a client silent (or not reading) this long; 0 = never */
    FILE *log;        /* one line per connection event; NULL = silent */
};

struct tcp_echo;

/* Starts listening. Returns NULL (and says why on stderr) if the address cannot be bound.
 * The server is owned by the caller: free it with tcp_echo_free(). */
struct tcp_echo *tcp_echo_new(struct event_base *base, const struct tcp_echo_options *opts);

/* The port actually bound (the kernel's choice when opts->port was 0). */
uint16_t tcp_echo_port(const struct tcp_echo *server);

/* Graceful shutdown: stop accepting, stop reading, send each client a goodbye line, close each
 * connection once its output is flushed. When the last one is gone the server has no events
 * left on the base. Clients still unflushed after TCP_ECHO_SHUTDOWN_GRACE_MS are dropped. */
void tcp_echo_shutdown(struct tcp_echo *server);

/* Closes whatever is still open (unsent output is lost) and frees the server. NULL is fine.
 * Call it after the loop has returned, before event_base_free(). */
void tcp_echo_free(struct tcp_echo *server);

/* Statistics, safe to read from any thread. */
unsigned tcp_echo_open_count(const struct tcp_echo *server);
unsigned tcp_echo_peak_count(const struct tcp_echo *server);
unsigned tcp_echo_accept_errors(const struct tcp_echo *server);

#endif
