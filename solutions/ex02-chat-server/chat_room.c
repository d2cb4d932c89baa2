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

    /* STUDENT(3): Greet m. out->to_sender gets "* welcome <nick>", then the history, oldest
     * first, one "<nick>: <text>" line per message (room->history may be NULL: no history),
     * then "* end of history", always, so that the client knows where live traffic starts.
     * out->to_others gets "* <nick> joined". Every line ends in "\n". A message's text is
     * bytes and a length, not a C string: never use it as a format.
     * stub:
     */
    evbuffer_add_printf(out->to_sender, "* welcome %s\n", m->nick);
    size_t n = room->history != NULL ? chat_history_count(room->history) : 0;
    for (size_t i = 0; i < n; i++) {
        const struct chat_history_entry *e = chat_history_at(room->history, i);
        evbuffer_add_printf(out->to_sender, "%s: ", e->nick);
        evbuffer_add(out->to_sender, e->text, e->text_len);
        evbuffer_add(out->to_sender, "\n", 1);
    }
    evbuffer_add_printf(out->to_sender, "* end of history\n");
    evbuffer_add_printf(out->to_others, "* %s joined\n", m->nick);
    /* END STUDENT(3) */
    return m;
}

void chat_room_leave(struct chat_room *room, struct chat_member *m, struct chat_outbox *out)
{
    /* STUDENT(3): out->to_others gets "* <nick> left\n". m is freed just below: use its
     * nick before.
     * stub:
     */
    evbuffer_add_printf(out->to_others, "* %s left\n", m->nick);
    /* END STUDENT(3) */
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
    /* STUDENT(6): A chat message. Record it in the history first, if the room has one: the
     * server broadcasts only after this returns, so the message is on file before anyone can
     * see it. Then out->to_others gets "<nick>: <text>\n". The sender gets nothing back. The
     * text is len bytes, not a C string.
     * stub:
     */
    if (room->history != NULL)
        chat_history_add(room->history, m->nick, text, len); /* a failure is logged there */
    evbuffer_add_printf(out->to_others, "%s: ", m->nick);
    evbuffer_add(out->to_others, text, len);
    evbuffer_add(out->to_others, "\n", 1);
    /* END STUDENT(6) */
}

static void cmd_nick(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    /* STUDENT(9): Rename m to arg (len bytes; the blanks around it are already dropped). Not
     * a valid nickname: "! invalid nickname\n" to the sender. Held by another member, ignoring
     * case: "! nickname taken\n" (m may change the case of its own name). Otherwise the sender
     * gets "* you are now <name>\n", and if the name really changes, the others get
     * "* <old> is now <name>\n", out->old_nick gets the old name (the server logs the rename),
     * and m moves to its new place in the sorted member list (room_unlink, room_insert).
     * stub:
     */
    char nick[CHAT_NICK_MAX + 1];

    if (!chat_line_valid_nick(arg, len)) {
        evbuffer_add_printf(out->to_sender, "! invalid nickname\n");
        return;
    }
    memcpy(nick, arg, len);
    nick[len] = '\0';
    struct chat_member *holder = room_find(room, nick);
    if (holder != NULL && holder != m) {
        evbuffer_add_printf(out->to_sender, "! nickname taken\n");
        return;
    }
    evbuffer_add_printf(out->to_sender, "* you are now %s\n", nick);
    if (strcmp(nick, m->nick) == 0)
        return; /* the same name again: nothing changes, nobody else needs to know */
    evbuffer_add_printf(out->to_others, "* %s is now %s\n", m->nick, nick);
    snprintf(out->old_nick, sizeof out->old_nick, "%s", m->nick);
    room_unlink(room, m); /* the new name may sort elsewhere */
    snprintf(m->nick, sizeof m->nick, "%s", nick);
    room_insert(room, m);
    /* END STUDENT(9) */
}

static void cmd_list(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    (void)m;
    (void)arg;
    (void)len;
    /* STUDENT(9): One line to the sender: "* users (<count>): <nick>, <nick>, ...\n", in the
     * list's order (room->first onwards): the room keeps it sorted by nick, ignoring case.
     * stub:
     */
    evbuffer_add_printf(out->to_sender, "* users (%zu): ", room->count);
    for (struct chat_member *p = room->first; p != NULL; p = p->next)
        evbuffer_add_printf(out->to_sender, p == room->first ? "%s" : ", %s", p->nick);
    evbuffer_add(out->to_sender, "\n", 1);
    /* END STUDENT(9) */
}

static void cmd_me(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                   struct chat_outbox *out)
{
    (void)room;
    /* STUDENT(9): The others get "* <nick> <text>\n"; an action is not a chat message, and
     * it is not recorded in the history. Without text: "! usage: /me <text>\n" to the sender.
     * stub:
     */
    if (len == 0) {
        evbuffer_add_printf(out->to_sender, "! usage: /me <text>\n");
        return;
    }
    evbuffer_add_printf(out->to_others, "* %s ", m->nick);
    evbuffer_add(out->to_others, arg, len);
    evbuffer_add(out->to_others, "\n", 1);
    /* END STUDENT(9) */
}

static void cmd_help(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    (void)room;
    (void)m;
    (void)arg;
    (void)len;
    /* STUDENT(9): One line to the sender: CHAT_HELP_LINE.
     * stub:
     */
    evbuffer_add(out->to_sender, CHAT_HELP_LINE, strlen(CHAT_HELP_LINE));
    /* END STUDENT(9) */
}

static void cmd_quit(struct chat_room *room, struct chat_member *m, const char *arg, size_t len,
                     struct chat_outbox *out)
{
    (void)room;
    (void)m;
    (void)arg;
    (void)len;
    /* STUDENT(9): "* bye\n" to the sender, and out->quit: the server closes the connection
     * once that line is written.
     * stub:
     */
    evbuffer_add_printf(out->to_sender, "* bye\n");
    out->quit = true;
    /* END STUDENT(9) */
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The command named by the len bytes at word (without the '/'), or NULL. The whole word must
 * match: "nickname" is not "nick". */
static const struct chat_command *room_command(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof chat_commands / sizeof chat_commands[0]; i++)
        if (strlen(chat_commands[i].name) == len && memcmp(chat_commands[i].name, word, len) == 0)
            return &chat_commands[i];
    return NULL;
}

void chat_room_handle_line(struct chat_room *room, struct chat_member *m, char *line, size_t len,
                           struct chat_outbox *out)
{
    /* STUDENT(6): Check and clean the line, in this order. One CR at the very end is dropped
     * (the line ended in CRLF). A line that is not valid UTF-8 gets "! invalid utf-8\n" back,
     * and goes no further. Control characters are removed. What is then empty is ignored,
     * with no answer. A line not starting with '/' is a chat message (room_say); the others
     * are commands, handled below.
     * stub:
     *     return;
     */
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (!chat_line_valid_utf8(line, len)) {
        evbuffer_add_printf(out->to_sender, "! invalid utf-8\n");
        return;
    }
    len = chat_line_strip_controls(line, len);
    if (len == 0)
        return; /* empty lines are ignored */
    if (line[0] != '/') {
        room_say(room, m, line, len, out);
        return;
    }
    /* END STUDENT(6) */

    /* STUDENT(9): A command, "/word argument". The word runs from the '/' to the first blank
     * (space or TAB) or the end of the line; the argument is the rest, without the blanks
     * around it, and may be empty. Run the command the word names (room_command) with that
     * argument. No such command, a lone "/" included: "! unknown command /<word>\n" to the
     * sender.
     * stub:
     */
    /* "/word arg": the word runs to the first blank; blanks around the argument are dropped. */
    size_t word_len = 1;
    while (word_len < len && !blank(line[word_len]))
        word_len++;
    const char *arg = line + word_len;
    size_t arg_len = len - word_len;
    while (arg_len > 0 && blank(arg[0])) {
        arg++;
        arg_len--;
    }
    while (arg_len > 0 && blank(arg[arg_len - 1]))
        arg_len--;

    const struct chat_command *cmd = room_command(line + 1, word_len - 1);
    if (cmd != NULL) {
        cmd->fn(room, m, arg, arg_len, out);
        return;
    }
    evbuffer_add_printf(out->to_sender, "! unknown command ");
    evbuffer_add(out->to_sender, line, word_len);
    evbuffer_add(out->to_sender, "\n", 1);
    /* END STUDENT(9) */
}
