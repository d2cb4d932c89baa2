/*
 * chat_room.c - see chat_room.h. The room keeps its members in one list sorted by nickname
 * (ignoring case), so /list is a single walk and a name check can stop early. Joins, renames
 * and name checks are O(n) in the number of members: fine up to the connection limit; a
 * hash table would be the next step for a much larger room.
 *
 * Try it: run chat-server, connect twice with `nc 127.0.0.1 7001`, and type /help.
 */
#include "chat_room.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Until the exercise is finished, some stubs do not use their parameters. These lines keep the
 * compiler quiet about that; delete them when you have finished, and the compiler will check
 * your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-const-variable"

#define CHAT_GUEST_MAX 99999999999ULL /* "guest" + 11 digits = CHAT_NICK_MAX characters */

struct chat_member {
    char nick[CHAT_NICK_MAX + 1];
    struct chat_member *prev, *next; /* the room's list, sorted by nick ignoring case */
};

struct chat_room {
    struct chat_history *history; /* borrowed; NULL: no history */
    struct chat_member *first;
    size_t count;
    unsigned long long next_guest; /* the N of the next guest<N> */
};

/* One command: "/name arg". arg has no leading or trailing blanks; it may be empty. */
typedef void (*chat_command_fn)(struct chat_room *room, struct chat_member *m, const char *arg,
                                size_t len, struct chat_outbox *out);

static void cmd_nick(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out);
static void cmd_list(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out);
static void cmd_me(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                   struct chat_outbox *out);
static void cmd_help(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out);
static void cmd_quit(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out);

static const struct chat_command {
    const char *name;
    chat_command_fn fn;
} chat_commands[] = {
    {"nick", cmd_nick}, {"list", cmd_list}, {"me", cmd_me}, {"help", cmd_help}, {"quit", cmd_quit},
};

#define CHAT_HELP_LINE "* commands: /nick <name>, /list, /me <text>, /help, /quit\n"

/* ---- the outbox ------------------------------------------------------------------------ */

int chat_outbox_init(struct chat_outbox *out)
{
    memset(out, 0, sizeof *out);
    out->to_sender = evbuffer_new();
    out->to_others = evbuffer_new();
    if (out->to_sender == NULL || out->to_others == NULL) {
        chat_outbox_release(out);
        return -1;
    }
    return 0;
}

void chat_outbox_clear(struct chat_outbox *out)
{
    evbuffer_drain(out->to_sender, evbuffer_get_length(out->to_sender));
    evbuffer_drain(out->to_others, evbuffer_get_length(out->to_others));
    out->quit = false;
    out->old_nick[0] = '\0';
}

void chat_outbox_release(struct chat_outbox *out)
{
    if (out->to_sender != NULL)
        evbuffer_free(out->to_sender);
    if (out->to_others != NULL)
        evbuffer_free(out->to_others);
    out->to_sender = out->to_others = NULL;
}

/* ---- members --------------------------------------------------------------------------- */

/* The member named `nick` ignoring case, or NULL. */
static struct chat_member *room_find(const struct chat_room *room, const char *nick)
{
    for (struct chat_member *m = room->first; m != NULL; m = m->next) {
        int cmp = chat_line_nick_cmp(m->nick, nick);
        if (cmp == 0)
            return m;
        if (cmp > 0)
            break; /* sorted: the name would have come before this one */
    }
    return NULL;
}

/* Puts m into the list at its sorted place. */
static void room_insert(struct chat_room *room, struct chat_member *m)
{
    struct chat_member *prev = NULL, *next = room->first;

    while (next != NULL && chat_line_nick_cmp(next->nick, m->nick) < 0) {
        prev = next;
        next = next->next;
    }
    m->prev = prev;
    m->next = next;
    if (prev != NULL)
        prev->next = m;
    else
        room->first = m;
    if (next != NULL)
        next->prev = m;
}

static void room_unlink(struct chat_room *room, struct chat_member *m)
{
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        room->first = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
}

struct chat_room *chat_room_new(struct chat_history *history)
{
    struct chat_room *room = calloc(1, sizeof *room);

    if (room == NULL)
        return NULL;
    room->history = history;
    room->next_guest = 1;
    return room;
}

void chat_room_free(struct chat_room *room)
{
    if (room == NULL)
        return;
    while (room->first != NULL) {
        struct chat_member *m = room->first;
        room->first = m->next;
        free(m);
    }
    free(room);
}

struct chat_member *chat_room_join(struct chat_room *room, struct chat_outbox *out)
{
    struct chat_member *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    /* Someone may have taken "guest7" with /nick already: skip names in use. The loop ends,
     * because there are fewer members than numbers. */
    do {
        snprintf(m->nick, sizeof m->nick, "guest%llu", room->next_guest);
        room->next_guest = room->next_guest < CHAT_GUEST_MAX ? room->next_guest + 1 : 1;
    } while (room_find(room, m->nick) != NULL);
    room_insert(room, m);
    room->count++;

    /* TODO(3): greet the newcomer (lectures/03-tcp-networking/README.md#many-connections)
     *   Append to out->to_sender, each line ending in "\n":
     *   - "* welcome <nick>";
     *   - the history, oldest first, one "<nick>: <text>" per message: chat_history_count()
     *     and chat_history_at(room->history, i) (room->history may be NULL: no history). Add
     *     the text with evbuffer_add(..., e->text, e->text_len), not as a format string;
     *   - "* end of history", always, so a client knows where live traffic starts.
     *   And to out->to_others: "* <nick> joined". evbuffer_add_printf() does the formatting.
     */
    return m;
}

void chat_room_leave(struct chat_room *room, struct chat_member *m, struct chat_outbox *out)
{
    /* TODO(3): tell the others (lectures/03-tcp-networking/README.md#many-connections)
     *   Append "* <nick> left\n" to out->to_others, before m is freed below.
     */
    room_unlink(room, m);
    room->count--;
    free(m);
}

const char *chat_member_nick(const struct chat_member *m)
{
    return m->nick;
}

size_t chat_room_count(const struct chat_room *room)
{
    return room->count;
}

/* ---- lines and commands ---------------------------------------------------------------- */

/* A chat message: recorded first, so it is in the history file before anyone can see it. */
static void room_say(struct chat_room *room, struct chat_member *m, const char *text, size_t len,
                     struct chat_outbox *out)
{
    /* TODO(6): a chat message (lectures/03-tcp-networking/README.md#protocol-framing)
     *   - First record it: chat_history_add(room->history, m->nick, text, len) (if the room
     *     has a history). The server broadcasts only after this returns, so the message is in
     *     the history file before anyone can see it.
     *   - Then append "<nick>: <text>\n" to out->to_others (the text with evbuffer_add: it is
     *     not NUL-terminated). The sender gets nothing back.
     */
}

static void cmd_nick(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    char nick[CHAT_NICK_MAX + 1];

    /* TODO(9): /nick <name> (lectures/03-tcp-networking/README.md#protocol-framing)
     *   - arg[0..len) is the name (blanks around it are already trimmed). Not
     *     chat_line_valid_nick(): "! invalid nickname\n" to the sender, and stop.
     *   - Copy it into `nick` with a '\0'. Another member holding that name, ignoring case
     *     (room_find): "! nickname taken\n", and stop. Renaming yourself to your own name in
     *     another case ("alice" -> "Alice") is allowed.
     *   - The sender gets "* you are now <name>\n". If the name is exactly the current one,
     *     that is all.
     *   - Otherwise the others get "* <old> is now <name>\n"; copy the old nick into
     *     out->old_nick (the server logs the rename); then room_unlink, change m->nick,
     *     room_insert: the list stays sorted.
     */
}

static void cmd_list(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    /* TODO(9): /list (lectures/03-tcp-networking/README.md#protocol-framing)
     *   One line to the sender: "* users (<count>): <nick>, <nick>, ...\n". room->first starts
     *   the member list, already sorted by nick (room_insert keeps it so).
     */
}

static void cmd_me(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                   struct chat_outbox *out)
{
    /* TODO(9): /me <text> (lectures/03-tcp-networking/README.md#protocol-framing)
     *   - No text: "! usage: /me <text>\n" to the sender.
     *   - Otherwise the others get "* <nick> <text>\n". An action is not a chat message: it
     *     is not recorded in the history.
     */
}

static void cmd_help(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    /* TODO(9): /help (lectures/03-tcp-networking/README.md#protocol-framing)
     *   One line to the sender: CHAT_HELP_LINE.
     */
}

static void cmd_quit(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    /* TODO(9): /quit (lectures/03-tcp-networking/README.md#protocol-framing)
     *   "* bye\n" to the sender, and set out->quit: the server closes the connection once
     *   that line is written (server_deliver, client_finish).
     */
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

void chat_room_handle_line(struct chat_room *room, struct chat_member *m, char *line, size_t len,
                           struct chat_outbox *out)
{
    /* TODO(6): check the line, then say it (lectures/03-tcp-networking/README.md#protocol-framing)
     *   In this order:
     *   - a CR at the very end (the line ended in CRLF) is dropped: len--;
     *   - not chat_line_valid_utf8(): "! invalid utf-8\n" to the sender, and stop;
     *   - len = chat_line_strip_controls(line, len);
     *   - nothing left: an empty line is ignored (no answer at all);
     *   - not starting with '/': it is a chat message, room_say().
     */

    /* TODO(9): commands (lectures/03-tcp-networking/README.md#protocol-framing)
     *   - The command word runs from the '/' to the first blank (blank()) or the end of the
     *     line; the argument is the rest, with the blanks around it dropped.
     *   - Look the word (without its '/') up in chat_commands[] and call its function with
     *     the argument. Compare lengths as well as bytes: "/nickname" is not "/nick".
     *   - No such command: "! unknown command /<word>\n" to the sender ("/" alone is one too).
     */
}
