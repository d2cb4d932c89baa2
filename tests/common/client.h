/*
 * client.h - a blocking loopback TCP client for tests, with a timeout on every wait.
 *
 * Tests talk to the server under test through real sockets on 127.0.0.1, exactly as `nc` would.
 * Every call that waits takes a timeout in milliseconds and gives up cleanly when it expires,
 * so a server that never answers fails the test with a message instead of hanging it. Every
 * byte sent and received is recorded in the transcript (transcript.h).
 *
 * Received bytes go through a small buffer inside the client, so line reads and exact-length
 * reads can be mixed freely, whatever chunks the kernel delivers. In chaos mode (chaos.h) each
 * send is cut into random pieces with short pauses between them, and the first connection of a
 * test brings background clients along.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define CLIENT_BUF_SIZE (64 * 1024) /* receive buffer; lines longer than this are cut */

struct client {
    int fd;                    /* -1 when closed */
    int id;                    /* c1, c2, ... in the transcript */
    char buf[CLIENT_BUF_SIZE]; /* received, not yet consumed */
    size_t len;
    int eof;            /* the server closed (or reset) the connection */
    int err;            /* errno of the last failed receive, 0 if none */
    uint64_t chaos_rng; /* chaos mode: this client's generator (0 until its first send) */
    int chaos_whole;    /* chaos mode: send in one piece all the same */
};

/* The result of a wait, for failure messages. */
enum client_status { CLIENT_OK = 0, CLIENT_TIMEOUT, CLIENT_EOF, CLIENT_ERROR };
const char *client_status_str(enum client_status st);

/* Connects to 127.0.0.1:port. Returns 0, or -1 with errno set. */
int client_connect(struct client *c, uint16_t port);

/* Sends all of buf (waiting up to timeout_ms for the kernel to take it). Returns 0 or -1. */
int client_send(struct client *c, const void *buf, size_t len, int timeout_ms);
int client_send_str(struct client *c, const char *s, int timeout_ms);

/*
 * Receives exactly `len` bytes into out. Returns CLIENT_OK, or the reason it stopped early;
 * *got (if not NULL) says how many bytes arrived either way.
 */
enum client_status client_recv_exact(struct client *c, void *out, size_t len, size_t *got,
                                     int timeout_ms);

/*
 * Receives one line ending in '\n'. The line, without the '\n' (and without a '\r' before it),
 * is copied NUL-terminated into out (cut to outsz - 1 bytes). Returns CLIENT_OK or the reason.
 */
enum client_status client_recv_line(struct client *c, char *out, size_t outsz, int timeout_ms);

/* Waits for anything to arrive; returns the number of bytes buffered, 0 on timeout/EOF. */
size_t client_wait_data(struct client *c, int timeout_ms);

/* Waits until the server closes the connection. CLIENT_EOF on a close or a reset (err says
 * which), CLIENT_TIMEOUT if it stays open; bytes arriving meanwhile are buffered. */
enum client_status client_wait_close(struct client *c, int timeout_ms);

/*
 * Chaos mode (chaos.h) leaves this client's sends in one piece, for a test that chaos would
 * prove wrong about a correct server: one that may rightly hang up halfway through a send.
 * `why` goes into the transcript. No effect outside chaos mode.
 */
void client_chaos_whole_sends(struct client *c, const char *why);

/* Drops whatever has been received and not yet consumed. */
void client_discard(struct client *c);

/* Half-close: shut down the write side (the server sees EOF), keep reading. */
void client_shutdown_write(struct client *c);

/* Closes with a TCP reset (SO_LINGER 0) instead of a normal close. */
void client_reset(struct client *c);

/* Closes normally. Safe on a closed client. */
void client_close(struct client *c);

/* The client's own port (servers log a client as "127.0.0.1:<this port>"); 0 if unknown. */
uint16_t client_local_port(const struct client *c);

/* Milliseconds on a monotonic clock, for measuring elapsed time in tests. */
int64_t client_now_ms(void);

/* CLOCK_REALTIME now + timeout_ms, the deadline pthread_cond_timedwait() wants. */
struct timespec client_realtime_deadline(int timeout_ms);

#endif
