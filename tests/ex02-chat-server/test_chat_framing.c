/*
 * test_chat_framing.c - turning a byte stream into lines: lines split over many reads, many
 * lines in one read, the 1024-byte bound, invalid UTF-8 and control characters.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "peer_socket.h"
#include "transcript.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY_LINES 300     /* several times CHAT_LINES_PER_WAKEUP, in one write */
#define FILL_LINES_MAX 256 /* lines of about 1 KB that surely fill a slow reader's window */

HARNESS_TEST(test_line_split_across_many_writes)
{
    struct server_fixture f;
    struct client c[2];
    static const char line[] = "one byte at a time\n";

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    transcript_note("c1 sends its line one byte per send()");
    for (size_t i = 0; i < sizeof line - 1; i++)
        ck_assert_msg(client_send(&c[0], &line[i], 1, CHAT_TEST_WAIT_MS) == 0, "c1 could not send");
    chat_test_expect_line(&c[1], "guest1: one byte at a time",
                          "c1 sent \"one byte at a time\\n\" one byte per write",
                          "client_read: keep partial lines in the input buffer until their LF "
                          "arrives");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_many_lines_in_one_write)
{
    struct server_fixture f;
    struct client c[2];
    static char burst[MANY_LINES * 16];
    size_t len = 0;
    char want[32], after[64];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    for (int i = 0; i < MANY_LINES; i++)
        len += (size_t)snprintf(burst + len, sizeof burst - len, "line %d\n", i);
    transcript_note("c1 sends %d lines in one send() of %zu bytes", MANY_LINES, len);
    ck_assert_msg(client_send(&c[0], burst, len, CHAT_TEST_WAIT_MS) == 0, "c1 could not send");
    for (int i = 0; i < MANY_LINES; i++) {
        snprintf(want, sizeof want, "guest1: line %d", i);
        snprintf(after, sizeof after, "c1 sent \"line 0\\n\" to \"line %d\\n\" in one write",
                 MANY_LINES - 1);
        chat_test_expect_line(&c[1], want, after,
                              "client_read: handle every complete line, and when you stop after "
                              "CHAT_LINES_PER_WAKEUP, come back for the rest with event_active");
    }
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_line_at_the_length_limit_is_accepted)
{
    struct server_fixture f;
    struct client c[2];
    char line[CHAT_LINE_MAX + 2], want[CHAT_LINE_MAX + 16];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    memset(line, 'x', CHAT_LINE_MAX);
    line[CHAT_LINE_MAX] = '\n';
    line[CHAT_LINE_MAX + 1] = '\0';
    snprintf(want, sizeof want, "guest1: %.*s", CHAT_LINE_MAX, line);
    chat_test_send(&c[0], line);
    chat_test_expect_line(&c[1], want, "c1 sent a line of exactly 1024 bytes (the limit)",
                          "take_line: a line of CHAT_LINE_MAX bytes before its LF is allowed");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

/* Sends `text` from c[0] and expects "! line too long", a close, the others told, the log. */
static void expect_too_long(struct server_fixture *f, struct client *c, const char *text,
                            const char *what)
{
    char expected[128];
    uint16_t port = client_local_port(&c[0]);

    /* In chaos mode, a line cut into pieces would reach the server over several reads, and
     * the server may rightly hang up as soon as it has 1025 bytes without a LF: the rest of
     * the send would then fail, and the reset could wipe out "! line too long" before the
     * client reads it. Sent whole, the line is in the server's hands before it decides. */
    client_chaos_whole_sends(&c[0], "the server may hang up before the end of a line too long");
    chat_test_send(&c[0], text);
    chat_test_expect_line(&c[0], "! line too long", what,
                          "take_line: over CHAT_LINE_MAX bytes without a LF is too long, whether "
                          "or not the LF has arrived");
    chat_test_expect_close(&c[0], what, "client_finish: close once \"! line too long\" is written");
    chat_test_expect_line(&c[1], "* guest1 left", what,
                          "client_leave: the room's \"left\" notice goes to the others");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=line-too-long",
             port);
    server_fixture_expect_log(f, "disconnect", port, expected, "client_leave's log line");
}

HARNESS_TEST(test_long_line_is_refused_and_disconnected)
{
    struct server_fixture f;
    struct client c[2];
    char line[CHAT_LINE_MAX + 3];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    memset(line, 'y', CHAT_LINE_MAX + 1);
    line[CHAT_LINE_MAX + 1] = '\n';
    line[CHAT_LINE_MAX + 2] = '\0';
    expect_too_long(&f, c, line, "c1 sent a line of 1025 bytes and its LF");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_long_line_without_newline_is_refused)
{
    struct server_fixture f;
    struct client c[2];
    char line[3 * CHAT_LINE_MAX];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    memset(line, 'z', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    expect_too_long(&f, c, line, "c1 sent 3071 bytes with no LF at all");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

/* A client refused for a long line may still be sending (the rest of that line, say). The
 * kernel answers bytes that reach a socket closed with unread input, or already closed, with a
 * reset, and a reset destroys what is still queued for the client: its last lines and the
 * "! line too long" that says why. A lingering close delivers them. */
HARNESS_TEST(test_refused_client_still_sending_gets_its_last_lines)
{
    struct server_fixture f;
    struct client c[3];
    char line[CHAT_LINE_MAX + 2], expected[128];
    int lines = 0, srv_fd, unsent = 0;

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 3);
    uint16_t port = client_local_port(&c[0]);
    ck_assert_msg((srv_fd = peer_socket_find(f.port, &c[0])) >= 0,
                  "test setup failed: cannot find the server's socket for c1");
    chat_test_stop_reading(&c[0]);
    /* c2 talks, one line at a time, until c1's window is full and a part of what the server
     * wrote to c1 waits in the server's socket (c3 reading each line means it was handled). */
    while ((unsent = peer_socket_unsent(srv_fd)) == 0 && lines < FILL_LINES_MAX)
        chat_test_flood(&c[1], "guest2", &c[2], lines++, 1);
    if (unsent < 0) { /* the system cannot say: send what surely overfills a small window */
        chat_test_flood(&c[1], "guest2", &c[2], lines, FILL_LINES_MAX - lines);
        lines = FILL_LINES_MAX;
    }
    ck_assert_msg(lines < FILL_LINES_MAX || unsent < 0,
                  "c1 read nothing while c2 sent %d lines of %d bytes, and none is queued in the "
                  "server's socket for c1: is the server still writing to c1?",
                  lines, CHAT_TEST_FLOOD_TEXT + 8);
    transcript_note("c1 has read nothing; %d bytes for it wait in the server's socket", unsent);

    memset(line, 'y', CHAT_LINE_MAX + 1);
    line[CHAT_LINE_MAX + 1] = '\0';
    chat_test_send(&c[0], line); /* too long already, no LF needed */
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=line-too-long",
             port);
    server_fixture_expect_log(&f, "disconnect", port, expected, "client_leave's log line");
    chat_test_send(&c[0], "and one more thing\n"); /* the client is still sending */

    chat_test_resume_reading(&c[0]);
    char after[160];
    snprintf(after, sizeof after,
             "c1 read nothing while c2 sent %d lines; then c1 sent a line of 1025 bytes, was "
             "refused, and sent \"and one more thing\\n\"",
             lines);
    chat_test_expect_flood(&c[0], "guest2", 0, lines, after);
    chat_test_expect_line(&c[0], "! line too long", after,
                          "client_linger: closing a socket that has unread input, or that gets "
                          "bytes after the close, sends a reset, which destroys the lines still "
                          "on their way");
    chat_test_expect_close(&c[0], after, "client_linger and client_discard");
    for (int i = 0; i < 3; i++)
        client_close(&c[i]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_invalid_utf8_is_refused)
{
    struct server_fixture f;
    struct client c[2];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "caf\xe9 (Latin-1)\n");
    chat_test_expect_line(&c[0], "! invalid utf-8", "c1 sent \"caf\\xe9 (Latin-1)\\n\"",
                          "chat_room_handle_line and chat_line_valid_utf8");
    chat_test_send(&c[0], "still here\n");
    chat_test_expect_line(&c[1], "guest1: still here",
                          "c1 sent an invalid line, then \"still here\\n\"",
                          "an invalid line is dropped, the connection stays open");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

/* Exact bytes: the ESC sequences, BEL and the NUL must be gone, the TAB kept. */
HARNESS_TEST(test_control_characters_are_stripped)
{
    struct server_fixture f;
    struct client c[2];
    static const char sent[] = "a\x1b[31mred\x1b[0m\tz\x07\0!\n";
    static const char want[] = "guest1: a[31mred[0m\tz!\n";
    char got[sizeof want], shown[128];
    size_t n = 0;

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    ck_assert_msg(client_send(&c[0], sent, sizeof sent - 1, CHAT_TEST_WAIT_MS) == 0,
                  "c1 could not send");
    enum client_status st = client_recv_exact(&c[1], got, sizeof want - 1, &n, CHAT_TEST_WAIT_MS);
    ck_assert_msg(
        st == CLIENT_OK && memcmp(got, want, sizeof want - 1) == 0,
        "after c1 sent \"a\\x1b[31mred\\x1b[0m\\tz\\x07\\0!\\n\", c2 expected \"guest1: "
        "a[31mred[0m\\tz!\\n\"; received \"%s\" (%s); remove control characters except TAB "
        "before the line goes out (chat_line_strip_controls)",
        transcript_escape(got, n, 60, shown, sizeof shown), client_status_str(st));
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}
