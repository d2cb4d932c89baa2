/*
 * chat_history.h - the room's last messages, kept in memory and in a JSON-lines file.
 *
 * The file holds one JSON object per line, written with jansson:
 *
 *     {"time":"2025-03-01T12:00:00Z","nick":"alice","text":"hello"}
 *
 * Each message is written to the kernel (one write() of one whole line) before chat_history_add()
 * returns, and the server broadcasts only after that, so a crash of the server never loses a
 * message anyone has seen. On open, the file is read back: the last `size` messages are kept,
 * and a line that is not such an object (a crash mid-write, a hand edit) is skipped with a
 * warning. The file never grows without bound: once it holds CHAT_HISTORY_COMPACT_FACTOR times
 * `size` lines it is replaced, atomically, by a file holding only the messages kept (if that
 * fails, say for want of a file descriptor, messages are still appended and it is tried again
 * `size` messages later).
 *
 * With no file (path NULL) the history lives in memory only and starts empty.
 */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include "chat_line.h"

#include <stddef.h>
#include <stdio.h>

#define CHAT_HISTORY_DEFAULT_SIZE 50 /* messages kept and replayed to a new client */
/* Upper bound on `size`: a new client gets the whole replay at once, and it must fit in the
 * client's output bound (200 lines of at most ~1 KiB each stay under 256 KiB). */
#define CHAT_HISTORY_SIZE_MAX 200
#define CHAT_HISTORY_COMPACT_FACTOR                                                                \
    10                             /* rewrite the file when it reaches this many times size lines */
#define CHAT_HISTORY_LINE_MAX 4096 /* bytes in one line of the file; longer lines are corrupt */
#define CHAT_TIME_SIZE 21          /* "2025-03-01T12:00:00Z" and its NUL */

struct chat_history_entry {
    char time[CHAT_TIME_SIZE]; /* UTC, ISO 8601, as written in the file */
    char nick[CHAT_NICK_MAX + 1];
    char *text; /* NUL-terminated; owned by the history */
    size_t text_len;
};

struct chat_history;

/*
 * Opens the history: keeps up to `size` messages (1..CHAT_HISTORY_SIZE_MAX). With a path, loads
 * the file if it exists (a missing file is an empty history), compacts it if it has corrupt
 * lines or is over its bound, and opens it for appending. Warnings and errors go to `log`
 * (NULL: none), which must outlive the history.
 * Returns NULL if size is out of range, or the file exists but cannot be read, or cannot be
 * created or appended to (the reason is logged). Free with chat_history_free().
 */
struct chat_history *chat_history_open(const char *path, size_t size, FILE *log);

/*
 * Records a message sent now. nick must be a valid nickname; text (len bytes, at most
 * CHAT_LINE_MAX) valid UTF-8 without control characters. The message is appended to the file
 * (written to the kernel before this returns) and kept in memory, replacing the oldest one
 * when `size` are kept. Returns 0, or -1 if the file could not be written: the message is
 * still kept in memory, the failure is logged, and the history stops writing the file (a
 * server with a full disk keeps chatting rather than stopping).
 */
int chat_history_add(struct chat_history *h, const char *nick, const char *text, size_t len);

/* The number of messages kept. */
size_t chat_history_count(const struct chat_history *h);

/* Message i, oldest first (0 <= i < count). The entry belongs to the history and stays valid
 * until the next chat_history_add() or chat_history_free(). */
const struct chat_history_entry *chat_history_at(const struct chat_history *h, size_t i);

/* Flushes the file to the disk (one fsync), closes it and frees everything. NULL is allowed. */
void chat_history_free(struct chat_history *h);

#endif
