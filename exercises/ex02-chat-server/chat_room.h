/*
 * chat_room.h - the chat protocol: who is in the room, and what each line a member sends does.
 *
 * No sockets here. Each call describes its effect in a chat_outbox: the lines for the member
 * who acted, the lines for everyone else, and whether the member is leaving. The server
 * (chat_server.c) delivers them. Because of that split, every command can be tested by calling
 * these functions and reading the outbox, and the networking code never formats a protocol line.
 *
 * The protocol, one line per message, UTF-8, ending in LF (a CR before the LF is dropped):
 *     hello                 every other member gets "<nick>: hello"
 *     /nick <name>          rename: "* you are now <name>"; others get "* <old> is now <name>"
 *     /list                 "* users (<count>): <nick>, <nick>, ..." sorted by name
 *     /me <text>            others get "* <nick> <text>"
 *     /help                 one "* " line listing the commands
 *     /quit                 "* bye", then the server closes the connection
 * Errors start with "! ": "! invalid utf-8", "! invalid nickname", "! nickname taken",
 * "! unknown command /<word>".
 */
#ifndef CHAT_ROOM_H
#define CHAT_ROOM_H

#include "chat_history.h"
#include "chat_line.h"

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

/* Lines the server itself sends, outside of any command. */
#define CHAT_MSG_LINE_TOO_LONG "! line too long\n"
#define CHAT_MSG_SERVER_FULL "! server full\n"
#define CHAT_MSG_IDLE_TIMEOUT "! idle timeout\n"
#define CHAT_MSG_SHUTDOWN "* server shutting down\n"

/*
 * What one room event asks the server to send. The room appends complete lines ("...\n");
 * the server delivers them, then calls chat_outbox_clear() before the next event.
 */
struct chat_outbox {
    struct evbuffer *to_sender; /* lines for the member who acted */
    struct evbuffer *to_others; /* lines for every other member */
    bool quit;                  /* the member asked to leave: close once to_sender is written */
    char old_nick[CHAT_NICK_MAX + 1]; /* after a rename, the previous nick (for the log); else "" */
};

/* Makes the two buffers. Returns 0, or -1 when out of memory. */
int chat_outbox_init(struct chat_outbox *out);
/* Empties the buffers and resets the flags, ready for the next event. */
void chat_outbox_clear(struct chat_outbox *out);
/* Frees the buffers. Safe on an outbox whose init failed (or was zeroed). */
void chat_outbox_release(struct chat_outbox *out);

struct chat_room;
struct chat_member;

/* Creates an empty room. Chat messages are recorded in `history` (borrowed: it must outlive
 * the room) before they are handed to the server to broadcast. NULL when out of memory. */
struct chat_room *chat_room_new(struct chat_history *history);

/* Frees the room and any members still in it. NULL is allowed. */
void chat_room_free(struct chat_room *room);

/*
 * A new member arrives. It is named guest<N> (N counts up from 1, skipping names in use).
 * to_sender gets "* welcome <nick>", the history replay ("<nick>: <text>" per message) and
 * "* end of history"; to_others gets "* <nick> joined". Returns the member (owned by the room
 * until chat_room_leave()), or NULL when out of memory.
 */
struct chat_member *chat_room_join(struct chat_room *room, struct chat_outbox *out);

/* The member leaves: to_others gets "* <nick> left". The member is freed. */
void chat_room_leave(struct chat_room *room, struct chat_member *member, struct chat_outbox *out);

/*
 * Handles one line from a member: the bytes before the LF, at most CHAT_LINE_MAX. The line is
 * modified in place (control characters are removed). See the protocol above.
 */
void chat_room_handle_line(struct chat_room *room, struct chat_member *member, char *line,
                           size_t len, struct chat_outbox *out);

/* The member's current nickname (valid until the member is renamed or leaves). */
const char *chat_member_nick(const struct chat_member *member);

/* The number of members in the room. */
size_t chat_room_count(const struct chat_room *room);

#endif
