/*
 * test_chat_disconnects.c - leaving without /quit: a close (EOF), a reset, and a half-close
 * that still waits for its answers.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "transcript.h"

#include <stdio.h>
#include <string.h>

HARNESS_TEST(test_leave_is_announced_on_eof)
{
    struct server_fixture f;
    struct client c[2];
    char expected[128];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    uint16_t port = client_local_port(&c[0]);
    client_close(&c[0]);
    chat_test_expect_line(&c[1], "* guest1 left", "c1 (guest1) closed its connection",
                          "client_read: a read of 0 bytes is EOF; client_leave tells the others");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=eof", port);
    server_fixture_expect_log(&f, "disconnect", port, expected, "client_leave's log line");
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_reset_is_announced_and_logged)
{
    struct server_fixture f;
    struct client c[2];
    char expected[128];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    uint16_t port = client_local_port(&c[0]);
    client_reset(&c[0]);
    chat_test_expect_line(&c[1], "* guest1 left", "c1 (guest1) reset its connection (RST)",
                          "client_fail: a failed read means the client is gone");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=reset", port);
    server_fixture_expect_log(&f, "disconnect", port, expected,
                              "client_fail: ECONNRESET (or EPIPE) is logged as reason=reset");
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

/* `printf 'hi\n' | nc -N host port`: the client shuts its write side after its last line and
 * waits for the answers. EOF means "no more input", not "gone". The answer here is the error
 * for an invalid line, the one answer that needs no command. */
HARNESS_TEST(test_half_closed_client_still_gets_answers)
{
    struct server_fixture f;
    struct client c[2];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "last words\n\xff\n");
    client_shutdown_write(&c[0]);
    chat_test_expect_line(&c[0], "! invalid utf-8",
                          "c1 sent \"last words\\n\\xff\\n\" and shut down its write side",
                          "client_read: on EOF, handle the lines already read, and let "
                          "client_finish write the answers before it closes");
    chat_test_expect_close(&c[0], "c1 half-closed and got its answer",
                           "client_read: after EOF, client_finish");
    chat_test_expect_line(&c[1], "guest1: last words", "c1 sent \"last words\\n\" and half-closed",
                          "client_read: lines before the EOF still count");
    chat_test_expect_line(&c[1], "* guest1 left", "c1 half-closed and was closed", "client_leave");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}
