/*
 * chat_history.c - see chat_history.h. A ring of the last `size` messages, plus a file opened
 * with O_APPEND that gets one write() per message.
 *
 * When the data reaches the disk (the fsync policy):
 * - Appending a message calls write() but not fsync(). The line is then in the kernel's page
 *   cache, which survives a crash of the server (the promise the protocol makes) but not a
 *   power cut, which can lose the last few seconds. An fsync() per message would block the
 *   event loop for a disk flush (milliseconds) on every line anyone types.
 * - Compaction writes the new file, fsync()s it, and only then renames it over the old one.
 *   Without that fsync a power cut just after the rename can leave an empty file in place of
 *   a good one. The directory is not fsync()ed: if the rename itself is lost, the old file is
 *   still there and still valid, only longer.
 * - chat_history_free() fsync()s once, so a clean shutdown leaves everything on the disk.
 *
 * Try it: `chat-server --history chat.jsonl`, say something from `nc 127.0.0.1 7001`, then
 * `cat chat.jsonl`.
 */
#include "chat_history.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Until every TODO is done, some functions are not called yet and some stubs leave
 * parameters and variables unused. These lines keep the compiler quiet about that; delete
 * them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

struct chat_history {
    struct chat_history_entry *ring; /* `size` slots; the oldest entry is ring[start] */
    size_t size;
    size_t start;
    size_t count;
    char *path;        /* NULL: memory only */
    char *tmp_path;    /* path + ".tmp": where compaction writes the new file */
    int fd;            /* the file, opened O_APPEND; -1 when not writing */
    size_t file_lines; /* lines in the file, good or corrupt */
    size_t
        compact_at; /* compact when file_lines reaches this: the bound, or later after a failure */
    FILE *log;      /* borrowed */
};

static void history_log(struct chat_history *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void history_log(struct chat_history *h, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (h->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(h->log, "history: %s\n", line);
    fflush(h->log);
}

/* Keeps a copy of one message, dropping the oldest if the ring is full. Returns 0 or -1. */
static int ring_push(struct chat_history *h, const char *time, const char *nick, const char *text,
                     size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';

    struct chat_history_entry *e;
    if (h->count < h->size) {
        e = &h->ring[(h->start + h->count) % h->size];
        h->count++;
    } else {
        e = &h->ring[h->start];
        free(e->text);
        h->start = (h->start + 1) % h->size;
    }
    snprintf(e->time, sizeof e->time, "%s", time);
    snprintf(e->nick, sizeof e->nick, "%s", nick);
    e->text = copy;
    e->text_len = len;
    return 0;
}

/*
 * Formats one entry as a line of the file, '\n' included, into out (CHAT_HISTORY_LINE_MAX
 * bytes). jansson does the escaping; json_dumpb writes into our buffer, so nothing is
 * allocated but the short-lived JSON object. Returns the length, or 0 on failure.
 */
static size_t format_line(const char *time, const char *nick, const char *text, size_t len,
                          char *out)
{
    /* TODO(12): save a message
     * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
     * Write one message into out as a line of the file, and return its length
     * with the '\n' (0 on failure): a compact JSON object {"time":...,"nick":...,"text":...},
     * then '\n'. Let jansson build and serialise it: it does the escaping (quotes,
     * backslashes, control characters, non-ASCII text). The text is len bytes, not a C string.
     * out has CHAT_HISTORY_LINE_MAX bytes: jansson can write straight into it, so nothing but
     * the short-lived JSON object is allocated.
     */
    return 0;
}

/* write() until all of buf is taken: a regular file can take less than asked (a full disk). */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Reads one line of at most `cap` bytes (without its '\n') into buf. Returns its length, or -1
 * at the end of the file. *complete is false when the file ended before a '\n'; *too_long when
 * the line had more than cap bytes (the rest of it is skipped). Reading by hand rather than
 * with getline() keeps a corrupt file with no newlines from costing unbounded memory.
 */
static long read_line(FILE *f, char *buf, size_t cap, bool *complete, bool *too_long)
{
    /* TODO(13): load the history
     * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
     * Read one line of f into buf, without its '\n'. At most cap bytes are
     * kept; the rest of a longer line is read and dropped, and *too_long says so. *complete
     * says whether the line ended in '\n' (a last line cut off by a crash has none). Return
     * the number of bytes kept, or -1 when f was already at its end.
     */
    return -1;
}

/*
 * Checks one line of the file and keeps its message. Returns NULL when it is kept, or a short
 * reason why the line is corrupt. `err` holds jansson's description when that is the reason.
 */
static const char *load_line(struct chat_history *h, const char *line, size_t len,
                             json_error_t *err)
{
    /* TODO(13): load the history
     * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
     * Check one line of the file and keep its message (ring_push). Return NULL
     * when it is kept, or a short reason why not, for the log's "skipping line <n> of <file>:
     * <reason>". The line must be a JSON object without duplicate keys, whose "time", "nick"
     * and "text" are strings: time not empty and shorter than CHAT_TIME_SIZE, nick a valid
     * nickname, text 1 to CHAT_LINE_MAX bytes. When jansson refuses the line, its own error
     * text (in err) is the reason. The file may have been edited by hand: remove control
     * characters from the text before keeping it, as from a line a client sends. Free the
     * parsed JSON on every path.
     */
    return "not read yet";
}

/* Loads the file into the ring. Returns the number of corrupt lines, or -1 if the file exists
 * but cannot be read. */
static long history_load(struct chat_history *h)
{
    char line[CHAT_HISTORY_LINE_MAX];
    long corrupt = 0;
    bool complete, too_long;
    long len;

    FILE *f = fopen(h->path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        history_log(h, "cannot read %s: %s", h->path, strerror(errno));
        return -1;
    }
    while ((len = read_line(f, line, sizeof line, &complete, &too_long)) >= 0) {
        json_error_t err;
        const char *why;

        h->file_lines++;
        if (too_long)
            why = "line too long";
        else if (!complete)
            why = "truncated (no newline at the end of the file)";
        else
            why = load_line(h, line, (size_t)len, &err);
        if (why != NULL) {
            history_log(h, "skipping line %zu of %s: %s", h->file_lines, h->path, why);
            corrupt++;
        }
    }
    if (ferror(f)) {
        history_log(h, "cannot read %s: %s", h->path, strerror(errno));
        corrupt = -1;
    }
    fclose(f);
    return corrupt;
}

/* Stops writing the file after a failure (already logged): the room keeps working from memory,
 * which beats a chat server that stops because its disk is full. */
static void history_stop_writing(struct chat_history *h)
{
    history_log(h, "no longer saving messages to %s", h->path);
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

/*
 * Replaces the file with one holding only the kept messages: write a new file, fsync it,
 * rename it over the old one. rename() is atomic, so a reader (or a crash) sees either the
 * whole old file or the whole new one, never a mix. Returns 0 or -1 (logged).
 */
static int history_compact(struct chat_history *h)
{
    /* TODO(14): compact the file
     * Read: lectures/02-libevent-runtime/README.md#durable-writes
     * Replace the file by one holding only the kept messages, so that a crash or
     * a power cut at any moment leaves either the whole old file or the whole new one: never a
     * mix, never an empty file. Write the messages (format_line, write_all) to h->tmp_path,
     * opened for appending, get that file onto the disk, and only then rename it over h->path.
     * Keep writing through that same descriptor: it becomes h->fd (close the old one, which
     * points at the file the rename unlinked). Opening h->path again instead could fail (a busy
     * server may be out of descriptors) after the old file is gone, and then nothing more would
     * be saved. Then h->file_lines = h->count, and log "compacted <path> to <n> messages". On
     * any failure: log why, remove the temporary file, leave h->fd as it was, and return -1.
     */
    if (h->fd < 0)
        h->fd = open(h->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return h->fd >= 0 ? 0 : -1;
}

struct chat_history *chat_history_open(const char *path, size_t size, FILE *log)
{
    struct chat_history *h = NULL;

    if (size < 1 || size > CHAT_HISTORY_SIZE_MAX) {
        if (log != NULL)
            fprintf(log, "history: size %zu is not in 1..%d\n", size, CHAT_HISTORY_SIZE_MAX);
        return NULL;
    }
    h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->size = size;
    h->compact_at = size * CHAT_HISTORY_COMPACT_FACTOR;
    h->fd = -1;
    h->log = log;
    h->ring = calloc(size, sizeof *h->ring);
    if (h->ring == NULL)
        goto err;
    if (path == NULL)
        return h;

    h->path = strdup(path);
    size_t tmp_size = strlen(path) + sizeof ".tmp";
    h->tmp_path = malloc(tmp_size);
    if (h->path == NULL || h->tmp_path == NULL)
        goto err;
    snprintf(h->tmp_path, tmp_size, "%s.tmp", path);

    long corrupt = history_load(h);
    if (corrupt < 0)
        goto err;
    history_log(h, "loaded %zu messages from %s", h->count, path);
    /* Rewriting now drops the corrupt lines, so they are reported once, not on every start;
     * it also ends a truncated last line, which the next append would otherwise extend. */
    if (corrupt > 0 || h->file_lines >= h->size * CHAT_HISTORY_COMPACT_FACTOR) {
        if (history_compact(h) != 0)
            goto err;
    } else {
        h->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (h->fd < 0) {
            history_log(h, "cannot open %s for appending: %s", path, strerror(errno));
            goto err;
        }
    }
    return h;

err:
    chat_history_free(h);
    return NULL;
}

/* The current time as "2025-03-01T12:00:00Z". */
static void format_now(char out[CHAT_TIME_SIZE])
{
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL ||
        strftime(out, CHAT_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, CHAT_TIME_SIZE, "1970-01-01T00:00:00Z");
}

int chat_history_add(struct chat_history *h, const char *nick, const char *text, size_t len)
{
    char time[CHAT_TIME_SIZE];
    char line[CHAT_HISTORY_LINE_MAX];
    int status = 0;

    format_now(time);
    /* TODO(12): save a message
     * Read: lectures/04-http-evhttp/README.md#json-bodies-with-jansson
     * If the file is open (h->fd >= 0), append the message to it as one line
     * (format_line, write_all), and count it in h->file_lines. One write() for the whole line:
     * with O_APPEND the kernel puts it at the end in one piece, and once in the kernel it
     * survives a crash of the server. No fsync() per message: it would stall the event loop
     * for a disk flush on every line anyone types. If it fails: log
     * "cannot write to <path>: <reason>", history_stop_writing(h), and status = -1 (the
     * message is still kept in memory).
     */
    if (ring_push(h, time, nick, text, len) != 0)
        status = -1;
    /* Compaction costs O(size) and an fsync, once every (factor - 1) * size messages. When it
     * fails (out of descriptors, a full disk) the long file is still valid: keep appending to
     * it, and try again `size` messages later. */
    if (h->fd >= 0 && h->file_lines >= h->compact_at) {
        if (history_compact(h) == 0)
            h->compact_at = h->size * CHAT_HISTORY_COMPACT_FACTOR;
        else
            h->compact_at = h->file_lines + h->size;
    }
    return status;
}

size_t chat_history_count(const struct chat_history *h)
{
    return h->count;
}

const struct chat_history_entry *chat_history_at(const struct chat_history *h, size_t i)
{
    return &h->ring[(h->start + i) % h->size];
}

void chat_history_free(struct chat_history *h)
{
    if (h == NULL)
        return;
    if (h->fd >= 0) {
        fsync(h->fd);
        close(h->fd);
    }
    for (size_t i = 0; i < h->count; i++)
        free(h->ring[(h->start + i) % h->size].text);
    free(h->ring);
    free(h->path);
    free(h->tmp_path);
    free(h);
}
