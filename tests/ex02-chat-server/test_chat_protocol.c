/*
 * test_chat_protocol.c - the room over the network: listening, accepting, the welcome, join
 * notices, and chat messages that reach everyone but their sender.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "transcript.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

HARNESS_TEST(test_server_listens_on_an_ephemeral_port)
{
    struct server_fixture f;
    struct client a;

    chat_test_start(&f, NULL); /* asserts chat_server_new() and chat_server_port() */
    chat_test_connect(f.port, &a);
    client_close(&a);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_new_fails_on_a_port_in_use)
{
    struct server_fixture f;
    char needle[32], line[256];

    chat_test_start(&f, NULL);
    struct chat_server_config cfg = {
        .host = "127.0.0.1",
        .port = f.port,
        .log = log_capture_stream(f.log),
    };
    transcript_note("a second server tries port %u, which the first one holds", f.port);
    struct chat_server *second = chat_server_new(loop_thread_base(f.lt), &cfg);
    if (second != NULL)
        chat_server_free(second);
    ck_assert_msg(second == NULL,
                  "chat_server_new() on port %u, already in use by another server, returned a "
                  "server; expected NULL; check the result of evconnlistener_new_bind",
                  f.port);
    snprintf(needle, sizeof needle, "%u", f.port);
    int found = log_capture_wait(f.log, CHAT_TEST_WAIT_MS, line, sizeof line, needle,
                                 strerror(EADDRINUSE), NULL);
    ck_assert_msg(found,
                  "chat_server_new() failed on a port in use, as it should; expected a log line "
                  "naming port %s and saying \"%s\"; log: \"%s\"; log strerror(errno) when the "
                  "listener cannot be created",
                  needle, strerror(EADDRINUSE), server_fixture_log_tail(&f));
    chat_test_stop(&f);
    harness_pass();
}

/* Only listening and accepting are needed: the room names the client, and client_new logs it,
 * before anything is written to the client. */
HARNESS_TEST(test_connect_is_logged)
{
    struct server_fixture f;
    struct client a;
    char expected[128];

    chat_test_start(&f, NULL);
    chat_test_connect(f.port, &a);
    snprintf(expected, sizeof expected, "connect 127.0.0.1:%u nick=guest1", client_local_port(&a));
    server_fixture_expect_log(
        &f, "connect", client_local_port(&a), expected,
        "server_accept_cb and client_new: make the client, join the room, log it");
    client_close(&a);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_new_client_is_welcomed)
{
    struct server_fixture f;
    struct client a, b;

    chat_test_start(&f, NULL);
    chat_test_connect(f.port, &a);
    chat_test_expect_line(&a, "* welcome guest1", "c1 connected to a fresh server",
                          "client_new, client_send/client_flush and "
                          "chat_room_join");
    chat_test_expect_line(&a, "* end of history", "c1 was welcomed (the history is empty)",
                          "chat_room_join: \"* end of history\" is always sent");
    chat_test_connect(f.port, &b);
    chat_test_expect_line(&b, "* welcome guest2", "c1 and then c2 connected",
                          "the guest counter in chat_room_join");
    client_close(&a);
    client_close(&b);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_join_is_announced_to_others)
{
    struct server_fixture f;
    struct client a, b, c;

    chat_test_start(&f, NULL);
    chat_test_join(f.port, &a, NULL);
    chat_test_join(f.port, &b, NULL);
    chat_test_expect_line(&a, "* guest2 joined", "c1 was in the room and c2 (guest2) joined",
                          "chat_room_join's notice to the others and the fan-out in "
                          "server_deliver");
    chat_test_join(f.port, &c, NULL);
    chat_test_expect_line(&a, "* guest3 joined", "c3 (guest3) joined", "server_deliver");
    chat_test_expect_line(&b, "* guest3 joined", "c3 (guest3) joined", "server_deliver");
    client_close(&a);
    client_close(&b);
    client_close(&c);
    chat_test_stop(&f);
    harness_pass();
}

/* Everyone but the sender gets the message. The sender's next line proves it got nothing:
 * the server handles lines in order, so an echo of its own message would arrive first. */
HARNESS_TEST(test_message_reaches_every_other_client)
{
    struct server_fixture f;
    struct client c[3];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 3);
    chat_test_send(&c[0], "hello everyone\n");
    chat_test_expect_line(&c[1], "guest1: hello everyone", "c1 (guest1) sent \"hello everyone\\n\"",
                          "reading lines, room_say and the fan-out");
    chat_test_expect_line(&c[2], "guest1: hello everyone", "c1 (guest1) sent \"hello everyone\\n\"",
                          "the fan-out in server_deliver: every other client");
    chat_test_send(&c[1], "hi guest1\n");
    chat_test_expect_line(&c[0], "guest2: hi guest1",
                          "c1 sent \"hello everyone\\n\", then c2 sent \"hi guest1\\n\"",
                          "the fan-out: the sender must not get its own message back");
    chat_test_expect_line(&c[2], "guest2: hi guest1", "c2 sent \"hi guest1\\n\"",
                          "the fan-out in server_deliver");
    for (int i = 0; i < 3; i++)
        client_close(&c[i]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_empty_lines_are_ignored)
{
    struct server_fixture f;
    struct client c[2];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "\n\n\r\nafter the blanks\n");
    chat_test_expect_line(&c[1], "guest1: after the blanks",
                          "c1 sent \"\\n\\n\\r\\nafter the blanks\\n\"",
                          "chat_room_handle_line: empty lines are ignored");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

/* The test client's line reader would hide a stray CR, so the exact bytes are compared. */
HARNESS_TEST(test_crlf_line_endings_are_accepted)
{
    struct server_fixture f;
    struct client c[2];
    static const char want[] = "guest1: from windows\n";
    char got[sizeof want], shown[128];
    size_t n = 0;

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "from windows\r\n");
    enum client_status st = client_recv_exact(&c[1], got, sizeof want - 1, &n, CHAT_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_OK && memcmp(got, want, sizeof want - 1) == 0,
                  "after c1 sent \"from windows\\r\\n\", c2 expected the bytes \"guest1: from "
                  "windows\\n\"; received \"%s\" (%s); drop the CR before the LF in "
                  "chat_room_handle_line",
                  transcript_escape(got, n, 60, shown, sizeof shown), client_status_str(st));
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}
