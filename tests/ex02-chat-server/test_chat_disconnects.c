/*
 * test_chat_disconnects.c - leaving without /quit: a close (EOF), a reset, and a half-close
 * that still waits for its answers.
 *
 * These tests need TODO(6).
 */
#include "chat_test.h"

#include "transcript.h"

#include <stdio.h>
#include <string.h>

START_TEST(test_leave_is_announced_on_eof)
{
    struct chat_fixture f;
    struct client c[2];
    char expected[128];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    uint16_t port = chat_test_local_port(&c[0]);
    client_close(&c[0]);
    chat_test_expect_line(&c[1], "* guest1 left", "c1 (guest1) closed its connection",
                          "client_read: a read of 0 bytes is EOF; client_free tells the others "
                          "(TODO(6))");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=eof", port);
    chat_test_expect_log(&f, "disconnect", port, expected, "client_free's log line (TODO(6))");
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}
END_TEST

START_TEST(test_reset_is_announced_and_logged)
{
    struct chat_fixture f;
    struct client c[2];
    char expected[128];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    uint16_t port = chat_test_local_port(&c[0]);
    client_reset(&c[0]);
    chat_test_expect_line(&c[1], "* guest1 left", "c1 (guest1) reset its connection (RST)",
                          "client_fail: a failed read means the client is gone (TODO(6))");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=reset", port);
    chat_test_expect_log(&f, "disconnect", port, expected,
                         "client_fail: ECONNRESET (or EPIPE) is logged as reason=reset (TODO(6))");
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}
END_TEST

/* `printf '/help\n' | nc -N host port`: the client shuts its write side after its last line
 * and waits for the answers. EOF means "no more input", not "gone". */
START_TEST(test_half_closed_client_still_gets_answers)
{
    struct chat_fixture f;
    struct client c[2];
    char got[CHAT_TEST_LINE_MAX];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "last words\n/help\n");
    client_shutdown_write(&c[0]);
    enum client_status st = client_recv_line(&c[0], got, sizeof got, CHAT_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_OK && strncmp(got, "* ", 2) == 0 && strstr(got, "/quit") != NULL,
                  "c1 sent \"last words\\n/help\\n\" and shut down its write side; expected the "
                  "answer to /help before the close; %s \"%s\"; on EOF, handle the lines already "
                  "read and let client_finish write the answers before closing (TODO(6))",
                  client_status_str(st), got);
    chat_test_expect_close(&c[0], "c1 half-closed and got its answer",
                           "client_read: after EOF, client_finish (TODO(6))");
    chat_test_expect_line(&c[1], "guest1: last words", "c1 sent \"last words\\n\" and half-closed",
                          "client_read: lines before the EOF still count (TODO(5), TODO(6))");
    chat_test_expect_line(&c[1], "* guest1 left", "c1 half-closed and was closed",
                          "client_free (TODO(6))");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}
END_TEST

size_t chat_disconnect_tests(struct harness_test *out)
{
    const struct harness_test tests[] = {
        {"test_leave_is_announced_on_eof", test_leave_is_announced_on_eof, 10},
        {"test_reset_is_announced_and_logged", test_reset_is_announced_and_logged, 10},
        {"test_half_closed_client_still_gets_answers", test_half_closed_client_still_gets_answers, 10},
    };
    memcpy(out, tests, sizeof tests);
    return sizeof tests / sizeof tests[0];
}
