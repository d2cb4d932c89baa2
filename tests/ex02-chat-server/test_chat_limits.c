/*
 * test_chat_limits.c - the bounds the server keeps whatever clients do: a client that does not
 * read is dropped (and nobody waits for it), a silent client times out, extra clients are
 * refused, and running out of file descriptors pauses accepting instead of spinning.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "fd_limit.h"

#include "transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLOOD_TEXT_BYTES 1000         /* text of each line the sender floods with */
#define FLOOD_BATCH 32                /* lines sent, then read back by the fast reader */
#define FLOOD_LIMIT_BYTES (64u << 20) /* give up: the slow reader was never dropped */
#define SLOW_RCVBUF 4096              /* the slow reader's small receive buffer */
#define IDLE_TIMEOUT_MS 300
#define ACCEPT_FAILURES_MAX 10       /* lines a backing-off listener may log before its 2nd retry */
#define BIG_OUTPUT_BYTES (16u << 20) /* an output bound the next two tests never reach */
#define FLOOD_LINES 8000             /* ~8 MiB: more than the kernel holds for one client */
#define CLOSE_GRACE_MS 500           /* close_grace_ms: the default 2 s is slow to wait out */

/* c[0] never reads; c[2] floods the room; c[1] reads everything. The server must drop c[0]
 * once its pending output passes the bound, and c[1] must get every line meanwhile. */
HARNESS_TEST(test_slow_reader_is_dropped_without_stalling_others)
{
    struct server_fixture f;
    struct client c[3];
    static char batch[FLOOD_BATCH * (FLOOD_TEXT_BYTES + 16)];
    char want[FLOOD_TEXT_BYTES + 64], got[CHAT_TEST_LINE_MAX], expected[128], after[128];
    char text[FLOOD_TEXT_BYTES + 1];
    bool left_seen = false;
    size_t sent = 0;
    int seq = 0;

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 3);
    uint16_t slow_port = client_local_port(&c[0]);
    int small = SLOW_RCVBUF;
    setsockopt(c[0].fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    memset(text, 'm', FLOOD_TEXT_BYTES);
    text[FLOOD_TEXT_BYTES] = '\0';
    transcript_note("c1 stops reading; c3 sends %d-byte lines, c2 reads them all",
                    FLOOD_TEXT_BYTES);

    while (log_capture_count(f.log, "reason=slow-reader") == 0 && sent < FLOOD_LIMIT_BYTES) {
        size_t len = 0;
        for (int i = 0; i < FLOOD_BATCH; i++)
            len += (size_t)snprintf(batch + len, sizeof batch - len, "%06d %s\n", seq + i, text);
        ck_assert_msg(client_send(&c[2], batch, len, CHAT_TEST_WAIT_MS) == 0,
                      "c3 could not send after %zu bytes: the server stopped reading it; one slow "
                      "reader must not stall the room: drop it (client_send)",
                      sent);
        sent += len;
        for (int i = 0; i < FLOOD_BATCH; i++, seq++) {
            snprintf(want, sizeof want, "guest3: %06d %s", seq, text);
            enum client_status st = client_recv_line(&c[1], got, sizeof got, CHAT_TEST_WAIT_MS);
            if (st == CLIENT_OK && !left_seen && strcmp(got, "* guest1 left") == 0) {
                left_seen = true;
                st = client_recv_line(&c[1], got, sizeof got, CHAT_TEST_WAIT_MS);
            }
            ck_assert_msg(st == CLIENT_OK && strcmp(got, want) == 0,
                          "while c1 did not read, c3 sent %zu bytes of lines; c2 expected line %d "
                          "(\"guest3: %06d mmm...\"); %s \"%.40s\"; a slow reader must never hold "
                          "up the others",
                          sent, seq, seq, client_status_str(st), got);
        }
    }
    ck_assert_msg(sent < FLOOD_LIMIT_BYTES,
                  "c1 never read while c3 sent %u bytes of chat to the room, and c1 was not "
                  "dropped: its pending output grows without bound; in client_send, drop a client "
                  "whose output would pass max_output_bytes",
                  FLOOD_LIMIT_BYTES);
    snprintf(after, sizeof after, "c1 stopped reading while %zu bytes of chat went out", sent);
    int found = log_capture_wait(f.log, CHAT_TEST_WAIT_MS, got, sizeof got,
                                 "slow-reader 127.0.0.1:", " nick=guest1 pending=", NULL);
    ck_assert_msg(found,
                  "after %s, expected a log line \"slow-reader 127.0.0.1:%u nick=guest1 "
                  "pending=N limit=N: dropped\"; log: \"%s\"",
                  after, slow_port, server_fixture_log_tail(&f));
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=slow-reader",
             slow_port);
    server_fixture_expect_log(&f, "disconnect", slow_port, expected, "client_send's drop");
    chat_test_expect_close(&c[0], after, "the slow reader must be closed");
    if (!left_seen)
        chat_test_expect_line(&c[1], "* guest1 left", after, "client_leave");
    chat_test_send(&c[2], "anyone left?\n");
    chat_test_expect_line(&c[1], "guest3: anyone left?", "the slow reader was dropped",
                          "the room goes on");
    for (int i = 0; i < 3; i++)
        client_close(&c[i]);
    chat_test_stop(&f);
    harness_pass();
}

/*
 * c[0] stops reading while c[2] sends FLOOD_LINES lines (about 8 MiB): far more than the kernel
 * holds for one client, but under the output bound set here. The server keeps the rest and must
 * write it when c[0] reads again: every line, complete and in order.
 */
HARNESS_TEST(test_output_waits_until_the_reader_catches_up)
{
    struct server_fixture f;
    struct client c[3];
    struct chat_server_config cfg = {.max_output_bytes = BIG_OUTPUT_BYTES};
    char after[128];

    chat_test_start(&f, &cfg);
    chat_test_join_all(f.port, c, 3);
    chat_test_stop_reading(&c[0]);
    chat_test_flood(&c[2], "guest3", &c[1], 0, FLOOD_LINES);
    snprintf(after, sizeof after,
             "c1 read nothing while c3 sent %d lines of %d bytes (the output bound is %u bytes), "
             "then c1 read everything",
             FLOOD_LINES, CHAT_TEST_FLOOD_TEXT + 7, BIG_OUTPUT_BYTES);
    chat_test_resume_reading(&c[0]);
    chat_test_expect_flood(&c[0], "guest3", 0, FLOOD_LINES, after);
    ck_assert_msg(log_capture_count(f.log, "slow-reader") == 0,
                  "c1 was dropped as a slow reader although its output stayed under the bound "
                  "of %u bytes; log: \"%s\"",
                  BIG_OUTPUT_BYTES, server_fixture_log_tail(&f));
    for (int i = 0; i < 3; i++)
        client_close(&c[i]);
    chat_test_stop(&f);
    harness_pass();
}

/*
 * c[0] stops reading until megabytes wait for it, then sends a line that is too long. It must
 * leave, but its goodbye cannot be written: after close_grace_ms without progress the server
 * closes it anyway. The test reads nothing from c[0] until then: reading would be
 * progress, and would reset the deadline.
 */
HARNESS_TEST(test_leaving_client_that_does_not_read_is_cut_off)
{
    struct server_fixture f;
    struct client c[3];
    struct chat_server_config cfg = {.max_output_bytes = BIG_OUTPUT_BYTES,
                                     .close_grace_ms = CLOSE_GRACE_MS};
    char too_long[2 * CHAT_LINE_MAX], expected[128], after[160], line[256];

    chat_test_start(&f, &cfg);
    chat_test_join_all(f.port, c, 3);
    uint16_t port = client_local_port(&c[0]);
    chat_test_stop_reading(&c[0]);
    chat_test_flood(&c[2], "guest3", &c[1], 0, FLOOD_LINES);
    memset(too_long, 'z', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    chat_test_send(&c[0], too_long);
    int64_t start = client_now_ms();
    snprintf(after, sizeof after,
             "c1 read nothing while %d lines for it piled up, then sent a line that is too long",
             FLOOD_LINES);
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=line-too-long",
             port);
    int found = log_capture_wait(f.log, CLOSE_GRACE_MS + CHAT_TEST_WAIT_MS, line, sizeof line,
                                 expected, NULL);
    ck_assert_msg(found,
                  "after %s, expected the log line \"%s\" within %d ms (its goodbye cannot be "
                  "written: it does not read, so it is closed anyway after close_grace_ms, %d ms); "
                  "log: \"%s\"",
                  after, expected, CLOSE_GRACE_MS + CHAT_TEST_WAIT_MS, CLOSE_GRACE_MS,
                  server_fixture_log_tail(&f));
    transcript_note("c1 was closed %lld ms after its line", (long long)(client_now_ms() - start));
    chat_test_expect_line(&c[1], "* guest1 left", after, "the others are told");
    chat_test_expect_close(&c[0], after, "a leaving client that takes nothing is closed");
    for (int i = 0; i < 3; i++)
        client_close(&c[i]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_idle_client_is_disconnected)
{
    struct server_fixture f;
    struct client c[2];
    struct chat_server_config cfg = {.idle_timeout_ms = IDLE_TIMEOUT_MS};
    char expected[128];

    chat_test_start(&f, &cfg);
    int64_t start = client_now_ms();
    chat_test_join_all(f.port, c, 2);
    uint16_t port = client_local_port(&c[0]);
    chat_test_expect_line(&c[0], "! idle timeout", "c1 sent nothing for the idle timeout (300 ms)",
                          "client_read_cb: EV_TIMEOUT on the read event means idle");
    int64_t elapsed = client_now_ms() - start;
    chat_test_expect_close(&c[0], "c1 got \"! idle timeout\"", "client_finish");
    ck_assert_msg(elapsed >= IDLE_TIMEOUT_MS - 50,
                  "c1 was timed out %lld ms after connecting; expected no sooner than the idle "
                  "timeout of %d ms: pass it to event_add for the read event",
                  (long long)elapsed, IDLE_TIMEOUT_MS);
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=idle-timeout",
             port);
    server_fixture_expect_log(&f, "disconnect", port, expected, "client_read_cb");
    chat_test_expect_line(&c[1], "* guest1 left", "c1 timed out", "client_leave");
    chat_test_expect_line(&c[1], "! idle timeout", "c2 also sent nothing for 300 ms",
                          "client_read_cb");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_server_full_refuses_extra_clients)
{
    struct server_fixture f;
    struct client c[2], extra;
    struct chat_server_config cfg = {.max_connections = 2};
    char expected[128], needle[64];

    chat_test_start(&f, &cfg);
    chat_test_join_all(f.port, c, 2);
    chat_test_connect(f.port, &extra); /* the kernel completes the handshake; the server decides */
    uint16_t extra_port = client_local_port(&extra);
    chat_test_expect_line(&extra, "! server full",
                          "max_connections is 2, two clients are in, and c3 connected",
                          "server_accept_cb: count the clients and refuse one over the limit");
    chat_test_expect_close(&extra, "c3 got \"! server full\"",
                           "server_accept_cb: close the refused socket");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u reason=over-limit", extra_port);
    server_fixture_expect_log(&f, "disconnect", extra_port, expected,
                              "log the refused client with reason=over-limit");
    snprintf(needle, sizeof needle, "connect 127.0.0.1:%u nick=", extra_port);
    ck_assert_msg(log_capture_count(f.log, needle) == 0,
                  "the refused client was also logged as \"connect\" and given a nick; check the "
                  "limit before creating the client");
    chat_test_send(&c[0], "still two of us\n");
    chat_test_expect_line(&c[1], "guest1: still two of us", "c3 was refused",
                          "the room must not notice a refused client");
    client_close(&c[0]);
    client_close(&c[1]);
    client_close(&extra);
    chat_test_stop(&f);
    harness_pass();
}

/*
 * Runs out of file descriptors on purpose: with the table full, the server's accept() fails
 * with EMFILE. A listener that keeps retrying would log (and spin) thousands of times; one that
 * pauses for ~100 ms logs once per pause. When descriptors are free again it recovers.
 */
HARNESS_TEST(test_accept_errors_back_off_and_recover)
{
    struct server_fixture f;
    struct client c;
    static struct fd_limit fl; /* static: its table of descriptors is large for a stack */

    chat_test_start(&f, NULL);
    /* Fill the table, leaving exactly one descriptor for the client's own socket. */
    ck_assert_msg(fd_limit_exhaust(&fl, 1) == 0,
                  "test setup failed: cannot lower RLIMIT_NOFILE and fill the descriptor table");
    int connected = client_connect(&c, f.port);

    int failures = 0, count_at_second = 0;
    int64_t first_at = 0, second_at = 0;
    if (connected == 0) {
        failures = server_fixture_wait_log_count(&f, "accept failed", 1, CHAT_TEST_WAIT_MS);
        first_at = client_now_ms();
        if (failures >= 1) {
            count_at_second =
                server_fixture_wait_log_count(&f, "accept failed", 2, CHAT_TEST_WAIT_MS);
            second_at = client_now_ms();
        }
    }
    /* Give the descriptors back before asserting anything. */
    fd_limit_restore(&fl);

    ck_assert_msg(connected == 0, "test setup failed: the client could not connect (%s)",
                  strerror(errno));
    ck_assert_msg(failures >= 1,
                  "the process ran out of file descriptors while a client connected; expected the "
                  "log line \"accept failed: Too many open files; pausing 100 ms\"; log: \"%s\"; "
                  "set an error callback on the listener",
                  server_fixture_log_tail(&f));
    ck_assert_msg(count_at_second >= 2,
                  "after the first accept failure, expected a retry about 100 ms later (a second "
                  "\"accept failed\" line while descriptors were still exhausted); none came; "
                  "re-enable the listener from a timer");
    ck_assert_msg(
        count_at_second <= ACCEPT_FAILURES_MAX,
        "the listener logged %d accept failures in %lld ms while out of descriptors: it "
        "retries in a busy loop; disable it in the error callback and re-enable it from a "
        "~100 ms timer",
        count_at_second, (long long)(second_at - first_at));
    transcript_note("descriptors are free again: the waiting client must now be welcomed");
    chat_test_expect_line(&c, "* welcome guest1", "descriptors ran out and were freed again",
                          "server_retry_cb: enable the listener again");
    client_close(&c);
    chat_test_stop(&f);
    harness_pass();
}
