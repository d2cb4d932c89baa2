/*
 * echo_test.h - what the echo server's tests share: a server on its own loop thread, log
 * lines to wait for, and clients that send and receive at the same time.
 *
 * Every test drives the real server over loopback sockets. The server runs on a loop thread
 * (loop_thread.h) and logs into a pipe the test can wait on (log_capture.h); clients are plain
 * blocking sockets with a timeout on every wait (client.h).
 */
#ifndef ECHO_TEST_H
#define ECHO_TEST_H

#include "client.h"
#include "harness.h"
#include "log_capture.h"
#include "loop_thread.h"
#include "server_fixture.h"

#include "echo_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ECHO_TEST_WAIT_MS 5000            /* how long to wait for something that should happen */
#define ECHO_TEST_FLOOD_LIMIT (64u << 20) /* bytes a non-reading client tries to push */
#define ECHO_TEST_STALL_MS 500            /* no progress this long means the send has stalled */
#define ECHO_TEST_SMALL_BUF 4096          /* socket buffer size asked for a slow reader */

/* Starts a server on 127.0.0.1, port 0, with the given idle timeout (0 = none) and connection
 * limit (0 = default). Fails the test, showing the server's log, if echo_server_new() fails. */
void echo_test_start(struct server_fixture *f, int idle_timeout_ms, int max_connections);

/* Like echo_test_start(), but leaves the loop thread unstarted (for tests that run the loop
 * themselves). */
void echo_test_create(struct server_fixture *f, int idle_timeout_ms, int max_connections);

/* Stops the loop, frees the server, then the log. */
void echo_test_stop(struct server_fixture *f);

/* Connects a client to the fixture's server; fails the test if that is impossible. */
void echo_test_connect(struct server_fixture *f, struct client *c);

/*
 * Connects a client that reads slowly on purpose: its receive buffer, and the server's send
 * buffer for this connection, are made as small as the kernel allows. On loopback the kernel
 * otherwise buffers megabytes per socket, and the server would never need its own pending
 * buffer; this way an echo of more than a few KiB must wait in the server. (The server runs in
 * this same process, so the test can find its socket and set the option on it.)
 */
void echo_test_connect_slow_reader(struct server_fixture *f, struct client *c);

/* Connects a client with a receive buffer as small as the kernel allows: an echo of more than
 * a few KiB then waits in the server's own socket (the server's send buffer is left alone). */
void echo_test_connect_small_window(struct server_fixture *f, struct client *c);

/* The server's socket for client c (found by its two ports once the server has logged the
 * connection: the server runs in this process). Fails the test if there is none. */
int echo_test_server_socket(struct server_fixture *f, const struct client *c);

/* Sends `text` and expects exactly the same bytes back; fails the test otherwise, with `hint`
 * (what to look at) in the message. echo_test_roundtrip() uses a hint about the echo itself. */
void echo_test_roundtrip(struct client *c, const char *text);
void echo_test_roundtrip_hint(struct client *c, const char *text, const char *hint);

/* Copies `in` into `out` with line breaks shown as '|', for one-line failure messages. */
const char *echo_test_one_line(const char *in, char *out, size_t outsz);

/*
 * Sends len bytes of `data` while receiving the echo at the same time, as a real client
 * would. Chunk sizes come from `next_chunk` (NULL: 64 KiB), called with `rng`. With
 * `half_close`, the write side is shut down after the last byte. Stops when len bytes have
 * come back, the connection ends, or timeout_ms passes. Returns the bytes received into back.
 */
size_t echo_test_exchange(struct client *c, const unsigned char *data, size_t len,
                          unsigned char *back, size_t (*next_chunk)(uint64_t *rng), uint64_t *rng,
                          bool half_close, int timeout_ms);

/* Sends pattern bytes (see echo_test_pattern) without reading until the kernel takes nothing
 * for ECHO_TEST_STALL_MS, the connection fails, or `limit` bytes are sent. Returns bytes sent. */
size_t echo_test_send_until_stalled(struct client *c, size_t limit);

/* Waits up to timeout_ms, without reading anything, for the server to drop the connection.
 * A server that closes a socket with unread input sends a reset, which shows up as a hang-up
 * even while received data waits unread. Returns true if the connection was dropped. */
bool echo_test_wait_hangup(struct client *c, int timeout_ms);

/* Byte i of the stream echo_test_send_until_stalled() sends. */
unsigned char echo_test_pattern(size_t i);

/* Receives `len` bytes and checks them against echo_test_pattern. Returns the number of
 * correct bytes received before a mismatch, a close or the timeout. */
size_t echo_test_recv_pattern(struct client *c, size_t len, int timeout_ms);

/* A small deterministic random generator (xorshift64*), so every run sends the same bytes. */
uint64_t echo_test_random(uint64_t *state);

/* Index of the first differing byte of a and b, or len if they are equal. */
size_t echo_test_first_difference(const unsigned char *a, const unsigned char *b, size_t len);

#endif
