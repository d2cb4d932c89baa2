/*
 * test_echo_disconnects.c - how connections end, and the log lines that say so.
 *
 * A client can close (EOF), reset, half-close, or go quiet; each ends with exactly one
 * "disconnect PEER bytes=N reason=R" line, and a client that goes quiet is closed after the
 * idle timeout, never sooner.
 */
#include "echo_test.h"

#include "transcript.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HALF_CLOSE_BYTES (60 * 1024) /* far more than the slow reader's buffers hold */
#define IDLE_MS 200                  /* the idle timeout the timing tests configure */
#define IDLE_EARLIEST_MS 150         /* closing sooner than this ignores the timeout */
#define ACTIVE_IDLE_MS 500           /* idle timeout while a client keeps talking */
#define ACTIVE_ROUNDS 7              /* ... every ACTIVE_PAUSE_MS: past ACTIVE_IDLE_MS in all */
#define ACTIVE_PAUSE_MS 100
#define STALLED_IDLE_MS 300 /* idle timeout for the client that never reads */

static void expected_disconnect(char *out, size_t outsz, uint16_t port, unsigned long long bytes,
                                const char *reason)
{
    snprintf(out, outsz, "disconnect 127.0.0.1:%u bytes=%llu reason=%s", port, bytes, reason);
}

HARNESS_TEST(test_connect_and_eof_are_logged)
{
    struct server_fixture f;
    struct client c;
    char expected[128];

    echo_test_start(&f, 0, 0);
    echo_test_connect(&f, &c);
    uint16_t port = client_local_port(&c);
    snprintf(expected, sizeof expected, "connect 127.0.0.1:%u", port);
    server_fixture_expect_log(&f, "connect", port, expected,
                              "every accepted client is logged as \"connect PEER\"");
    echo_test_roundtrip(&c, "twelve bytes");
    expected_disconnect(expected, sizeof expected, port, 12, "eof");
    client_close(&c);
    server_fixture_expect_log(&f, "disconnect", port, expected,
                              "the client echoed 12 bytes, then closed its connection");
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_reset_is_logged_as_reset)
{
    struct server_fixture f;
    struct client c;
    char expected[128];

    echo_test_start(&f, 0, 0);
    echo_test_connect(&f, &c);
    uint16_t port = client_local_port(&c);
    echo_test_roundtrip(&c, "abc");
    expected_disconnect(expected, sizeof expected, port, 3, "reset");
    client_reset(&c);
    server_fixture_expect_log(&f, "disconnect", port, expected,
                              "the client echoed 3 bytes, then reset its connection");
    echo_test_stop(&f);
    harness_pass();
}

/* The slow reader's small buffers make most of the echo wait in the server when the EOF
 * arrives: closing at once would lose it. */
HARNESS_TEST(test_half_close_gets_pending_echo_then_close)
{
    struct server_fixture f;
    struct client c;
    char expected[128];
    unsigned char data[HALF_CLOSE_BYTES];

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = echo_test_pattern(i);
    echo_test_start(&f, 0, 0);
    echo_test_connect_slow_reader(&f, &c);
    uint16_t port = client_local_port(&c);
    ck_assert_msg(client_send(&c, data, sizeof data, ECHO_TEST_WAIT_MS) == 0,
                  "c%d could not send %zu bytes: the server is not reading", c.id, sizeof data);
    client_shutdown_write(&c);
    size_t good = echo_test_recv_pattern(&c, HALF_CLOSE_BYTES, ECHO_TEST_WAIT_MS);
    ck_assert_msg(good == HALF_CLOSE_BYTES,
                  "sent %d bytes, shut down the write side (half-close), then read; expected the "
                  "whole echo before the close; received %zu correct bytes",
                  HALF_CLOSE_BYTES, good);
    enum client_status st = client_wait_close(&c, ECHO_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_EOF,
                  "after a half-close and the whole echo, expected the server to close the "
                  "connection; it is %s",
                  client_status_str(st));
    expected_disconnect(expected, sizeof expected, port, HALF_CLOSE_BYTES, "eof");
    server_fixture_expect_log(&f, "disconnect", port, expected,
                              "bytes= counts every byte echoed, those written after the EOF too");
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_idle_client_is_disconnected)
{
    struct server_fixture f;
    struct client c;
    char expected[128];

    echo_test_start(&f, IDLE_MS, 0);
    echo_test_connect(&f, &c);
    uint16_t port = client_local_port(&c);
    echo_test_roundtrip(&c, "hi\n");
    int64_t quiet_since = client_now_ms();
    enum client_status st = client_wait_close(&c, ECHO_TEST_WAIT_MS);
    int64_t elapsed = client_now_ms() - quiet_since;
    ck_assert_msg(st == CLIENT_EOF,
                  "with idle_timeout_ms = %d, a client went quiet; expected the server to close it "
                  "after about %d ms; it was still open after %lld ms",
                  IDLE_MS, IDLE_MS, (long long)elapsed);
    ck_assert_msg(elapsed >= IDLE_EARLIEST_MS,
                  "with idle_timeout_ms = %d, the server closed a quiet client after only %lld ms; "
                  "expected about %d ms",
                  IDLE_MS, (long long)elapsed, IDLE_MS);
    expected_disconnect(expected, sizeof expected, port, 3, "idle-timeout");
    server_fixture_expect_log(
        &f, "disconnect", port, expected,
        "a client closed for saying nothing is logged with reason=idle-timeout");
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_idle_timeout_zero_never_closes)
{
    struct server_fixture f;
    struct client c;

    echo_test_start(&f, 0, 0);
    echo_test_connect(&f, &c);
    echo_test_roundtrip(&c, "first\n");
    /* Not a sleep: this waits for a close that must not come. */
    enum client_status st = client_wait_close(&c, 2 * IDLE_MS); /* twice what other tests use */
    ck_assert_msg(st == CLIENT_TIMEOUT,
                  "with idle_timeout_ms = 0 (no timeout), expected a quiet client to stay "
                  "connected; the server closed it");
    echo_test_roundtrip(&c, "still here\n");
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_active_client_is_not_disconnected)
{
    struct server_fixture f;
    struct client c;

    echo_test_start(&f, ACTIVE_IDLE_MS, 0);
    echo_test_connect(&f, &c);
    int64_t start = client_now_ms();
    for (int i = 0; i < ACTIVE_ROUNDS; i++) {
        echo_test_roundtrip(&c, "tick\n");
        enum client_status st = client_wait_close(&c, ACTIVE_PAUSE_MS);
        ck_assert_msg(st == CLIENT_TIMEOUT,
                      "with idle_timeout_ms = %d, a client sent a line every %d ms; expected it to "
                      "stay connected; the server closed it after %lld ms",
                      ACTIVE_IDLE_MS, ACTIVE_PAUSE_MS, (long long)(client_now_ms() - start));
    }
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

/* A client that sends but never reads gets its input paused by backpressure. With reading
 * paused, the read event's timer is off too, so only a timeout on the write side notices that
 * this client has gone idle. */
HARNESS_TEST(test_stalled_reader_is_disconnected_when_idle)
{
    struct server_fixture f;
    struct client c;
    char expected_start[64], line[256];

    echo_test_start(&f, STALLED_IDLE_MS, 0);
    echo_test_connect_slow_reader(&f, &c);
    size_t sent = echo_test_send_until_stalled(&c, ECHO_TEST_FLOOD_LIMIT);
    /* Without reading: a read here would let the server resume, and prove nothing. */
    ck_assert_msg(echo_test_wait_hangup(&c, ECHO_TEST_WAIT_MS),
                  "with idle_timeout_ms = %d, a client sent %zu bytes and never read its echo; "
                  "expected the server to close it once it had taken nothing for %d ms; it is "
                  "still open",
                  STALLED_IDLE_MS, sent, STALLED_IDLE_MS);
    snprintf(expected_start, sizeof expected_start, "disconnect 127.0.0.1:%u ",
             client_local_port(&c));
    int found = log_capture_wait(f.log, ECHO_TEST_WAIT_MS, line, sizeof line, expected_start,
                                 SPEC("idle-timeout"), NULL);
    ck_assert_msg(found,
                  "expected a line \"%sbytes=N reason=idle-timeout\" for the client that stopped "
                  "reading; log: \"%s\"",
                  expected_start, server_fixture_log_tail(&f));
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}
