/*
 * test_echo_limits.c - bounds the server keeps whatever clients do: pending output per client
 * (backpressure), the number of connections, file descriptors (accept errors), and the port.
 */
#include "echo_test.h"

#include "fd_limit.h"

#include "transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define ACCEPT_FAILURES_MAX 10 /* lines a backing-off listener may log before its 2nd retry */

/* Starts a server and floods c1 until the server stops taking its bytes. Returns bytes sent. */
static size_t flood_until_paused(struct server_fixture *f, struct client *c1)
{
    echo_test_start(f, 0, 0);
    echo_test_connect(f, c1);
    size_t sent = echo_test_send_until_stalled(c1, ECHO_TEST_FLOOD_LIMIT);
    ck_assert_msg(sent < ECHO_TEST_FLOOD_LIMIT,
                  "c%d sent %u bytes and never read its echo; expected the server to stop taking "
                  "its bytes once it holds ECHO_MAX_PENDING_BYTES (%d) of echo for it; it took "
                  "every byte: it is buffering without bound",
                  c1->id, ECHO_TEST_FLOOD_LIMIT, ECHO_MAX_PENDING_BYTES);
    return sent;
}

/* The server stops reading from a client that does not read its echo, so the client's sends
 * stall after the server's bound plus what the kernel's socket buffers hold (a few MiB on
 * loopback) instead of growing the server's memory without end. */
HARNESS_TEST(test_non_reading_client_is_paused)
{
    struct server_fixture f;
    struct client c1;

    flood_until_paused(&f, &c1); /* asserts the stall */
    client_close(&c1);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_paused_client_does_not_slow_others)
{
    struct server_fixture f;
    struct client c1, c2;

    size_t sent = flood_until_paused(&f, &c1);
    transcript_note("c%d is paused with %zu bytes sent; a second client talks", c1.id, sent);
    echo_test_connect(&f, &c2);
    echo_test_roundtrip_hint(&c2, "are you still there?\n",
                             "another client, paused because it does not read, must not "
                             "hold this one up");
    client_close(&c1);
    client_close(&c2);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_paused_client_resumes_after_reading)
{
    struct server_fixture f;
    struct client c1;

    size_t sent = flood_until_paused(&f, &c1);
    transcript_note("c%d now reads back all %zu bytes", c1.id, sent);
    size_t good = echo_test_recv_pattern(&c1, sent, ECHO_TEST_WAIT_MS * 6);
    ck_assert_msg(good == sent,
                  "c%d sent %zu bytes without reading until the server paused it, then read; "
                  "expected all %zu back in order; got %zu correct bytes",
                  c1.id, sent, sent, good);
    client_close(&c1);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_connection_limit_refuses_extra_clients)
{
    struct server_fixture f;
    struct client a, b, extra;
    char expected[128], needle[64];

    echo_test_start(&f, 0, 2);
    echo_test_connect(&f, &a);
    echo_test_connect(&f, &b);
    snprintf(expected, sizeof expected, "connect 127.0.0.1:%u", client_local_port(&b));
    server_fixture_expect_log(&f, "connect", client_local_port(&b), expected,
                              "every accepted client is logged as \"connect PEER\"");
    echo_test_connect(&f, &extra); /* the kernel completes the handshake; the server decides */
    uint16_t extra_port = client_local_port(&extra);
    enum client_status st = client_wait_close(&extra, ECHO_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_EOF,
                  "with max_connections = 2 and two clients connected, a third connected; expected "
                  "the server to close it at once; it is still open");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u bytes=0 %s", extra_port,
             SPEC("reason=over-limit"));
    server_fixture_expect_log(&f, "disconnect", extra_port, expected,
                              "a client refused by the connection limit is logged with "
                              "reason=over-limit");
    snprintf(needle, sizeof needle, "\nconnect 127.0.0.1:%u", extra_port);
    ck_assert_msg(log_capture_count(f.log, needle) == 0,
                  "the client rejected by the connection limit was also logged as \"connect\"; "
                  "expected only its over-limit line");
    echo_test_roundtrip_hint(&a, "first still works\n",
                             "refusing a client over the limit must not disturb the others");
    echo_test_roundtrip_hint(&b, "second still works\n",
                             "refusing a client over the limit must not disturb the others");
    client_close(&a);
    client_close(&b);
    client_close(&extra);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_closed_connection_frees_a_slot)
{
    struct server_fixture f;
    struct client a, b;
    char expected[128];

    echo_test_start(&f, 0, 1);
    echo_test_connect(&f, &a);
    uint16_t a_port = client_local_port(&a);
    echo_test_roundtrip(&a, "one\n");
    client_close(&a);
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u bytes=4 reason=eof", a_port);
    server_fixture_expect_log(&f, "disconnect", a_port, expected,
                              "the client echoed 4 bytes, then closed its connection");
    echo_test_connect(&f, &b);
    transcript_note("max_connections = 1 and the first client has gone: the second must be served");
    echo_test_roundtrip_hint(&b, "two\n",
                             "with max_connections = 1, a new client must be served once the first "
                             "has gone");
    client_close(&b);
    echo_test_stop(&f);
    harness_pass();
}

/*
 * Runs out of file descriptors on purpose: with the table full, the server's accept() fails
 * with EMFILE. A listener that keeps retrying would log (and spin) thousands of times; one
 * that pauses for ~100 ms logs once per pause. When descriptors are free again it recovers.
 */
HARNESS_TEST(test_accept_errors_back_off_and_recover)
{
    struct server_fixture f;
    struct client c;
    static struct fd_limit fl; /* static: its table of descriptors is large for a stack */

    echo_test_start(&f, 0, 0);
    /* Fill the table, leaving exactly one descriptor for the client's own socket. */
    ck_assert_msg(fd_limit_exhaust(&fl, 1) == 0,
                  "test setup failed: cannot lower RLIMIT_NOFILE and fill the descriptor table");
    int connected = client_connect(&c, f.port);

    int failures = 0, count_at_second = 0;
    int64_t first_at = 0, second_at = 0;
    if (connected == 0) {
        failures = server_fixture_wait_log_count(&f, "accept failed", 1, ECHO_TEST_WAIT_MS);
        first_at = client_now_ms();
        if (failures >= 1) {
            count_at_second =
                server_fixture_wait_log_count(&f, "accept failed", 2, ECHO_TEST_WAIT_MS);
            second_at = client_now_ms();
        }
    }
    /* Give the descriptors back before asserting anything. */
    fd_limit_restore(&fl);

    ck_assert_msg(connected == 0, "test setup failed: the client could not connect (%s)",
                  strerror(errno));
    ck_assert_msg(failures >= 1,
                  "the process ran out of file descriptors while a client connected; expected the "
                  "log line \"accept failed: Too many open files; pausing 100 ms\"; log: \"%s\"",
                  server_fixture_log_tail(&f));
    ck_assert_msg(count_at_second >= 2,
                  "after the first accept failure, expected a retry about 100 ms later (a second "
                  "\"accept failed\" line while descriptors were still exhausted); none came");
    ck_assert_msg(count_at_second <= ACCEPT_FAILURES_MAX,
                  "the listener logged %d accept failures in %lld ms while out of descriptors; "
                  "expected one about every 100 ms: it retries in a busy loop",
                  count_at_second, (long long)(second_at - first_at));
    transcript_note("descriptors are free again: the waiting client must now be served");
    echo_test_roundtrip_hint(&c, "recovered\n",
                             "once descriptors are free again, the server must accept again");
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_new_fails_on_a_port_in_use)
{
    struct server_fixture f;
    char needle[32], line[256];

    echo_test_start(&f, 0, 0);
    struct echo_server_config cfg = {
        .host = "127.0.0.1",
        .port = f.port,
        .log = log_capture_stream(f.log),
    };
    transcript_note("a second server tries port %u, which the first one holds", f.port);
    struct echo_server *second = echo_server_new(loop_thread_base(f.lt), &cfg);
    if (second != NULL)
        echo_server_free(second);
    ck_assert_msg(second == NULL,
                  "echo_server_new() on port %u, already in use by another server, returned a "
                  "server; expected NULL",
                  f.port);
    snprintf(needle, sizeof needle, "%u", f.port);
    int found = log_capture_wait(f.log, ECHO_TEST_WAIT_MS, line, sizeof line, needle,
                                 strerror(EADDRINUSE), NULL);
    ck_assert_msg(found,
                  "echo_server_new() failed on a port in use, as it should; expected a log line "
                  "naming port %s and saying \"%s\"; log: \"%s\"",
                  needle, strerror(EADDRINUSE), server_fixture_log_tail(&f));
    echo_test_stop(&f);
    harness_pass();
}
