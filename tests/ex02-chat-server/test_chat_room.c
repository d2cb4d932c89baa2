/*
 * test_chat_room.c - unit tests of chat_room.c, the protocol without the network: each test
 * makes a room, calls it the way the server would, and reads the outbox.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "chat_history.h"
#include "chat_room.h"
#include "transcript.h"

#include <event2/buffer.h>
#include <string.h>

#define OUTBOX_SHOWN 200 /* bytes of an outbox buffer shown in a message */

/* A room with an in-memory history and an outbox, as the server holds them. */
struct room_fixture {
    struct chat_history *history;
    struct chat_room *room;
    struct chat_outbox out;
};

static void room_start(struct room_fixture *r)
{
    memset(r, 0, sizeof *r);
    r->history = chat_history_open(NULL, CHAT_HISTORY_DEFAULT_SIZE, NULL);
    ck_assert_msg(r->history != NULL,
                  "chat_history_open(NULL, 50, NULL) returned NULL; expected an "
                  "empty in-memory history");
    r->room = chat_room_new(r->history);
    ck_assert_msg(r->room != NULL, "chat_room_new() returned NULL; expected an empty room");
    ck_assert_msg(chat_outbox_init(&r->out) == 0, "chat_outbox_init() failed");
}

static void room_stop(struct room_fixture *r)
{
    chat_outbox_release(&r->out);
    chat_room_free(r->room);
    chat_history_free(r->history);
}

/* The contents of b as a string, escaped for a message, in `buf`. */
static const char *shown(struct evbuffer *b, char *buf, size_t size)
{
    char raw[OUTBOX_SHOWN];
    ev_ssize_t n = evbuffer_copyout(b, raw, sizeof raw);
    return transcript_escape(raw, n > 0 ? (size_t)n : 0, OUTBOX_SHOWN, buf, size);
}

/* Checks that buffer b holds exactly `expected`. */
static void expect_buffer(struct evbuffer *b, const char *which, const char *expected,
                          const char *after, const char *look_at)
{
    size_t len = strlen(expected);
    char got[OUTBOX_SHOWN * 4 + 32], want[OUTBOX_SHOWN * 4 + 32];
    char raw[OUTBOX_SHOWN];

    ev_ssize_t n = evbuffer_copyout(b, raw, sizeof raw);
    ck_assert_msg(evbuffer_get_length(b) == len && n >= 0 && (size_t)n == len &&
                      memcmp(raw, expected, len) == 0,
                  "after %s, expected %s to hold \"%s\"; it holds \"%s\"; look at %s", after, which,
                  transcript_escape(expected, len, OUTBOX_SHOWN, want, sizeof want),
                  shown(b, got, sizeof got), look_at);
}

/* Hands one line (a copy: the room modifies it) to the room, after clearing the outbox. */
static void say(struct room_fixture *r, struct chat_member *m, const char *line, size_t len)
{
    char buf[CHAT_LINE_MAX];

    memcpy(buf, line, len);
    chat_outbox_clear(&r->out);
    chat_room_handle_line(r->room, m, buf, len, &r->out);
}

#define SAY(r, m, literal) say((r), (m), literal, sizeof literal - 1)

static struct chat_member *join(struct room_fixture *r)
{
    chat_outbox_clear(&r->out);
    struct chat_member *m = chat_room_join(r->room, &r->out);
    ck_assert_msg(m != NULL, "chat_room_join() returned NULL; expected a new member");
    return m;
}

HARNESS_TEST(test_room_greets_and_announces_members)
{
    struct room_fixture r;

    room_start(&r);
    struct chat_member *a = join(&r);
    expect_buffer(r.out.to_sender, "to_sender", "* welcome guest1\n* end of history\n",
                  "the first chat_room_join()",
                  "chat_room_join: welcome, history replay, \"* end of history\"");
    expect_buffer(r.out.to_others, "to_others", "* guest1 joined\n", "the first chat_room_join()",
                  "chat_room_join: tell the others");
    struct chat_member *b = join(&r);
    expect_buffer(r.out.to_sender, "to_sender", "* welcome guest2\n* end of history\n",
                  "a second chat_room_join()", "the guest counter in chat_room_join");
    chat_outbox_clear(&r.out);
    chat_room_leave(r.room, a, &r.out);
    expect_buffer(r.out.to_others, "to_others", "* guest1 left\n", "guest1 left the room",
                  "chat_room_leave");
    ck_assert_msg(chat_room_count(r.room) == 1,
                  "after 2 joins and 1 leave, chat_room_count() is "
                  "%zu; expected 1",
                  chat_room_count(r.room));
    (void)b;
    room_stop(&r);
    harness_pass();
}

HARNESS_TEST(test_room_sends_messages_to_the_others)
{
    struct room_fixture r;

    room_start(&r);
    struct chat_member *a = join(&r);
    SAY(&r, a, "hello there");
    expect_buffer(r.out.to_others, "to_others", "guest1: hello there\n",
                  "guest1 said \"hello there\"", "room_say in chat_room.c");
    expect_buffer(r.out.to_sender, "to_sender", "", "guest1 said \"hello there\"",
                  "room_say: the sender gets nothing back");
    ck_assert_msg(chat_history_count(r.history) == 1 &&
                      strcmp(chat_history_at(r.history, 0)->text, "hello there") == 0 &&
                      strcmp(chat_history_at(r.history, 0)->nick, "guest1") == 0,
                  "after guest1 said \"hello there\", expected the history to hold that one "
                  "message; it holds %zu; record it with chat_history_add() in room_say",
                  chat_history_count(r.history));
    room_stop(&r);
    harness_pass();
}

HARNESS_TEST(test_room_drops_cr_and_ignores_empty_lines)
{
    struct room_fixture r;

    room_start(&r);
    struct chat_member *a = join(&r);
    SAY(&r, a, "hi\r");
    expect_buffer(r.out.to_others, "to_others", "guest1: hi\n",
                  "guest1 sent \"hi\\r\" (a CRLF line)",
                  "chat_room_handle_line: drop one CR at the end");
    SAY(&r, a, "");
    expect_buffer(r.out.to_others, "to_others", "", "guest1 sent an empty line",
                  "chat_room_handle_line: ignore empty lines");
    SAY(&r, a, "\r");
    expect_buffer(r.out.to_others, "to_others", "", "guest1 sent \"\\r\" (an empty CRLF line)",
                  "chat_room_handle_line: drop the CR, then ignore the empty line");
    SAY(&r, a, "\x07\x1b");
    expect_buffer(r.out.to_others, "to_others", "", "guest1 sent a line of only control characters",
                  "chat_room_handle_line: strip controls first, then ignore what is empty");
    expect_buffer(r.out.to_sender, "to_sender", "", "guest1 sent only empty lines",
                  "chat_room_handle_line: empty lines get no answer");
    room_stop(&r);
    harness_pass();
}

HARNESS_TEST(test_room_refuses_invalid_utf8)
{
    struct room_fixture r;

    room_start(&r);
    struct chat_member *a = join(&r);
    SAY(&r, a, "caf\xe9");
    expect_buffer(r.out.to_sender, "to_sender", "! invalid utf-8\n",
                  "guest1 sent \"caf\\xe9\" (Latin-1, not UTF-8)",
                  "chat_room_handle_line: check chat_line_valid_utf8 first");
    expect_buffer(r.out.to_others, "to_others", "", "guest1 sent invalid UTF-8",
                  "chat_room_handle_line: an invalid line is dropped");
    ck_assert_msg(chat_history_count(r.history) == 0,
                  "an invalid line was recorded in the history; drop it before room_say");
    room_stop(&r);
    harness_pass();
}

HARNESS_TEST(test_room_renames_members)
{
    struct room_fixture r;

    room_start(&r);
    struct chat_member *a = join(&r);
    SAY(&r, a, "/nick   alice  ");
    expect_buffer(r.out.to_sender, "to_sender", "* you are now alice\n",
                  "guest1 sent \"/nick   alice  \"", "cmd_nick");
    expect_buffer(r.out.to_others, "to_others", "* guest1 is now alice\n",
                  "guest1 sent \"/nick   alice  \"", "cmd_nick: tell the others");
    ck_assert_msg(strcmp(r.out.old_nick, "guest1") == 0,
                  "after a rename, outbox.old_nick is \"%s\"; expected \"guest1\" (the server logs "
                  "it)",
                  r.out.old_nick);
    ck_assert_msg(strcmp(chat_member_nick(a), "alice") == 0,
                  "after /nick alice, chat_member_nick() is \"%s\"; expected \"alice\"",
                  chat_member_nick(a));
    SAY(&r, a, "hi");
    expect_buffer(r.out.to_others, "to_others", "alice: hi\n", "alice said \"hi\"",
                  "room_say uses the member's current nick");
    room_stop(&r);
    harness_pass();
}

HARNESS_TEST(test_room_refuses_taken_nicknames_ignoring_case)
{
    struct room_fixture r;

    room_start(&r);
    struct chat_member *a = join(&r);
    struct chat_member *b = join(&r);
    SAY(&r, a, "/nick alice");
    SAY(&r, b, "/nick ALICE");
    expect_buffer(r.out.to_sender, "to_sender", "! nickname taken\n",
                  "alice exists and guest2 sent \"/nick ALICE\"",
                  "cmd_nick: compare with chat_line_nick_cmp");
    expect_buffer(r.out.to_others, "to_others", "", "a refused /nick",
                  "cmd_nick: a refused rename tells nobody else");
    SAY(&r, b, "/nick bad name");
    expect_buffer(r.out.to_sender, "to_sender", "! invalid nickname\n",
                  "guest2 sent \"/nick bad name\"", "cmd_nick: chat_line_valid_nick");
    SAY(&r, a, "/nick Alice");
    expect_buffer(r.out.to_sender, "to_sender", "* you are now Alice\n",
                  "alice sent \"/nick Alice\" (her own name, new case)",
                  "cmd_nick: your own name is not taken by someone else");
    room_stop(&r);
    harness_pass();
}

HARNESS_TEST(test_room_lists_members_sorted)
{
    struct room_fixture r;

    room_start(&r);
    struct chat_member *a = join(&r);
    struct chat_member *b = join(&r);
    struct chat_member *c = join(&r);
    SAY(&r, a, "/nick carol");
    SAY(&r, b, "/nick Bob");
    SAY(&r, c, "/nick alice");
    SAY(&r, b, "/list");
    expect_buffer(r.out.to_sender, "to_sender", "* users (3): alice, Bob, carol\n",
                  "carol, Bob and alice joined and Bob sent \"/list\"",
                  "cmd_list: every nick, sorted ignoring case");
    room_stop(&r);
    harness_pass();
}
