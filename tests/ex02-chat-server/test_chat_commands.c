/*
 * test_chat_commands.c - every command and every error of the protocol, over the network:
 * /nick (and its rules), /list, /me, /help, /quit, and unknown commands.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "transcript.h"

#include <stdio.h>
#include <string.h>

HARNESS_TEST(test_nick_change_is_announced_and_logged)
{
    struct server_fixture f;
    struct client c[2];
    char expected[128];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    uint16_t port = client_local_port(&c[0]);
    chat_test_send(&c[0], "/nick alice\n");
    chat_test_expect_line(&c[0], "* you are now alice", "c1 (guest1) sent \"/nick alice\\n\"",
                          "cmd_nick");
    chat_test_expect_line(&c[1], "* guest1 is now alice", "c1 (guest1) sent \"/nick alice\\n\"",
                          "cmd_nick: the notice to the others");
    snprintf(expected, sizeof expected, "nick 127.0.0.1:%u old=guest1 new=alice", port);
    server_fixture_expect_log(&f, "nick", port, expected,
                              "server_deliver: log a rename when the outbox has old_nick");
    chat_test_send(&c[0], "it is me\n");
    chat_test_expect_line(&c[1], "alice: it is me",
                          "c1 renamed itself alice and sent \"it is me\\n\"",
                          "cmd_nick: the member's nick must change");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_invalid_nicknames_are_refused)
{
    struct server_fixture f;
    struct client c[2];
    static const char *bad[] = {
        "/nick\n",           "/nick ABCDEFGHIJKLMNOPQ\n", "/nick bob!\n",
        "/nick two words\n", "/nick j\xc3\xbcrgen\n",
    };
    char after[96], shown[64];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chat_test_send(&c[0], bad[i]);
        snprintf(after, sizeof after, "c1 sent \"%s\"",
                 transcript_escape(bad[i], strlen(bad[i]), 40, shown, sizeof shown));
        chat_test_expect_line(
            &c[0], "! invalid nickname", after,
            "cmd_nick and chat_line_valid_nick: 1-16 characters of A-Z a-z 0-9 _ -");
    }
    chat_test_send(&c[0], "/nick ABCDEFGHIJKLMNOP\n");
    chat_test_expect_line(&c[0], "* you are now ABCDEFGHIJKLMNOP",
                          "c1 sent \"/nick ABCDEFGHIJKLMNOP\\n\" (16 characters, the most allowed)",
                          "chat_line_valid_nick");
    chat_test_expect_line(&c[1], "* guest1 is now ABCDEFGHIJKLMNOP",
                          "c1 tried five invalid names, then a valid one",
                          "cmd_nick: a refused rename tells nobody else");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_taken_nickname_is_refused)
{
    struct server_fixture f;
    struct client c[2];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "/nick alice\n");
    chat_test_expect_line(&c[0], "* you are now alice", "c1 sent \"/nick alice\\n\"", "cmd_nick");
    chat_test_expect_line(&c[1], "* guest1 is now alice", "c1 sent \"/nick alice\\n\"", "cmd_nick");
    chat_test_send(&c[1], "/nick ALICE\n");
    chat_test_expect_line(&c[1], "! nickname taken", "alice is here and c2 sent \"/nick ALICE\\n\"",
                          "cmd_nick: names are unique without regard to case (chat_line_nick_cmp)");
    chat_test_send(&c[1], "/nick guest1\n");
    chat_test_expect_line(&c[1], "* you are now guest1",
                          "c1 renamed itself alice, so guest1 is free, and c2 asked for it",
                          "cmd_nick: only names in use now are taken");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_list_shows_users_sorted)
{
    struct server_fixture f;
    struct client c[3];
    static const char *names[] = {"carol", "Bob", "alice"};
    char cmd[32], want[64], after[64];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 3);
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "/nick %s\n", names[i]);
        snprintf(want, sizeof want, "* you are now %s", names[i]);
        snprintf(after, sizeof after, "c%d sent \"/nick %s\\n\"", c[i].id, names[i]);
        chat_test_send(&c[i], cmd);
        chat_test_expect_line(&c[i], want, after, "cmd_nick");
        snprintf(want, sizeof want, "* guest%d is now %s", i + 1, names[i]);
        for (int j = 0; j < 3; j++)
            if (j != i)
                chat_test_expect_line(&c[j], want, after, "cmd_nick");
    }
    chat_test_send(&c[1], "/list\n");
    chat_test_expect_line(&c[1], "* users (3): alice, Bob, carol",
                          "carol, Bob and alice are here and Bob sent \"/list\\n\"",
                          "cmd_list: every nick, sorted by name ignoring case");
    for (int i = 0; i < 3; i++)
        client_close(&c[i]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_me_sends_an_action)
{
    struct server_fixture f;
    struct client c[2];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "/me waves hello\n");
    chat_test_expect_line(&c[1], "* guest1 waves hello", "c1 (guest1) sent \"/me waves hello\\n\"",
                          "cmd_me");
    chat_test_send(&c[1], "hi\n");
    chat_test_expect_line(&c[0], "guest2: hi",
                          "c1 sent \"/me waves hello\\n\", then c2 sent \"hi\\n\"",
                          "cmd_me: the action goes to the others only");
    chat_test_send(&c[0], "/me\n");
    chat_test_expect_line(&c[0], "! usage: /me <text>", "c1 sent \"/me\\n\" (no text)",
                          "cmd_me: an action needs text");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_help_lists_the_commands)
{
    struct server_fixture f;
    struct client a;
    char got[CHAT_TEST_LINE_MAX];
    static const char *commands[] = {"/nick", "/list", "/me", "/help", "/quit"};

    chat_test_start(&f, NULL);
    chat_test_join(f.port, &a, NULL);
    chat_test_send(&a, "/help\n");
    enum client_status st = client_recv_line(&a, got, sizeof got, CHAT_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_OK && strncmp(got, "* ", 2) == 0,
                  "after c1 sent \"/help\\n\", expected one line starting \"* \"; %s \"%s\"; "
                  "cmd_help",
                  client_status_str(st), got);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        ck_assert_msg(
            strstr(got, commands[i]) != NULL,
            "after c1 sent \"/help\\n\", the answer \"%s\" does not mention %s; list every "
            "command in cmd_help",
            got, commands[i]);
    client_close(&a);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_unknown_command_is_refused)
{
    struct server_fixture f;
    struct client a;

    chat_test_start(&f, NULL);
    chat_test_join(f.port, &a, NULL);
    chat_test_send(&a, "/dance all night\n");
    chat_test_expect_line(&a, "! unknown command /dance", "c1 sent \"/dance all night\\n\"",
                          "chat_room_handle_line: name the unknown /word");
    chat_test_send(&a, "/\n");
    chat_test_expect_line(&a, "! unknown command /", "c1 sent \"/\\n\"",
                          "chat_room_handle_line: a lone / is an unknown command too");
    client_close(&a);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_quit_says_bye_and_closes)
{
    struct server_fixture f;
    struct client c[2];
    char expected[128];

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    uint16_t port = client_local_port(&c[0]);
    chat_test_send(&c[0], "/quit\n");
    chat_test_expect_line(&c[0], "* bye", "c1 sent \"/quit\\n\"", "cmd_quit");
    chat_test_expect_close(&c[0], "c1 sent \"/quit\\n\" and got \"* bye\"",
                           "server_deliver: when the outbox says quit, client_finish the sender");
    chat_test_expect_line(&c[1], "* guest1 left", "c1 quit", "client_leave");
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=quit", port);
    server_fixture_expect_log(&f, "disconnect", port, expected, "client_finish's reason");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}
