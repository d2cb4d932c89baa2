/*
 * transcript.c - see transcript.h. Each record is written with one write() to a file opened
 * with O_APPEND, so records from several threads never interleave within a line.
 */
#include "transcript.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRANSCRIPT_SHOWN_BYTES 160 /* bytes of each record shown (transcript.h says so) */
#define TRANSCRIPT_LINE_MAX 1024
#define TRANSCRIPT_TIME_MAX 32 /* "  12345.6 ms  " */

static _Atomic long long start_ns;   /* time 0 of the records; 0 until the first one */
static _Atomic size_t replay_kept;   /* sent bytes written to the replay file so far */
static _Atomic int replay_cut_noted; /* the "cut" record has been written */

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void transcript_start(void)
{
    atomic_store(&start_ns, now_ns());
}

/* Milliseconds since time 0 (which the first record sets when nobody called transcript_start). */
static double elapsed_ms(void)
{
    long long now = now_ns(), unset = 0;
    atomic_compare_exchange_strong(&start_ns, &unset, now);
    return (double)(now - atomic_load(&start_ns)) / 1e6;
}

static void append_to(const char *variable, const char *line, size_t len)
{
    const char *path = getenv(variable);
    if (path == NULL || *path == '\0')
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t ignored = write(fd, line, len);
    (void)ignored; /* a transcript is a courtesy: never fail a test over it */
    close(fd);
}

static void append_line(const char *line, size_t len)
{
    append_to("HARNESS_TRANSCRIPT", line, len);
}

static int replay_wanted(void)
{
    const char *path = getenv("HARNESS_REPLAY");
    return path != NULL && *path != '\0';
}

char *transcript_escape(const void *buf, size_t len, size_t max_shown, char *out, size_t outsz)
{
    const unsigned char *p = buf;
    size_t o = 0;
    size_t shown = len < max_shown ? len : max_shown;

    if (outsz == 0)
        return out;
    for (size_t i = 0; i < shown; i++) {
        char tmp[8];
        unsigned char c = p[i];
        switch (c) {
        case '\n':
            strcpy(tmp, "\\n");
            break;
        case '\r':
            strcpy(tmp, "\\r");
            break;
        case '\t':
            strcpy(tmp, "\\t");
            break;
        case '\\':
            strcpy(tmp, "\\\\");
            break;
        case '"':
            strcpy(tmp, "\\\"");
            break;
        case '\0':
            strcpy(tmp, "\\0");
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                tmp[0] = (char)c;
                tmp[1] = '\0';
            } else {
                snprintf(tmp, sizeof tmp, "\\x%02x", c);
            }
        }
        size_t n = strlen(tmp);
        if (o + n + 1 > outsz)
            break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    if (shown < len)
        snprintf(out + o, outsz - o, "...(+%zu bytes)", len - shown);
    return out;
}

void transcript_note(const char *fmt, ...)
{
    char line[TRANSCRIPT_LINE_MAX];
    va_list ap;

    int at = snprintf(line, sizeof line, "%7.1f ms  # ", elapsed_ms());
    va_start(ap, fmt);
    vsnprintf(line + at, sizeof line - (size_t)at - 1, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    for (size_t i = (size_t)at; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' '; /* one record, one line */
    line[n++] = '\n';
    append_line(line, n);
}

/* The replay file's record of a send: all of it, up to what the replay keeps in total. */
static void replay_send(double ms, int client, const void *buf, size_t len)
{
    size_t before = atomic_fetch_add(&replay_kept, len);
    size_t take = before >= TRANSCRIPT_REPLAY_MAX_BYTES ? 0
                  : len > TRANSCRIPT_REPLAY_MAX_BYTES - before
                      ? TRANSCRIPT_REPLAY_MAX_BYTES - before
                      : len;
    char head[TRANSCRIPT_TIME_MAX + 32];
    int n = snprintf(head, sizeof head, "%.1f send c%d \"", ms, client);
    size_t cap = (size_t)n + 4 * take + 3;
    char *line = take > 0 ? malloc(cap) : NULL;
    if (line != NULL) {
        memcpy(line, head, (size_t)n);
        transcript_escape(buf, take, take, line + n, cap - (size_t)n - 2);
        size_t used = strlen(line);
        memcpy(line + used, "\"\n", 2);
        append_to("HARNESS_REPLAY", line, used + 2);
        free(line);
    }
    if (take < len && atomic_exchange(&replay_cut_noted, 1) == 0) {
        n = snprintf(head, sizeof head, "%.1f cut %d\n", ms, TRANSCRIPT_REPLAY_MAX_BYTES);
        append_to("HARNESS_REPLAY", head, (size_t)n);
    }
}

void transcript_bytes(char direction, int client, const void *buf, size_t len)
{
    char esc[TRANSCRIPT_LINE_MAX - TRANSCRIPT_TIME_MAX - 16];
    char line[TRANSCRIPT_LINE_MAX];
    double ms = elapsed_ms();

    transcript_escape(buf, len, TRANSCRIPT_SHOWN_BYTES, esc, sizeof esc);
    int n = snprintf(line, sizeof line, "%7.1f ms  %c c%d \"%s\"\n", ms, direction, client, esc);
    if (n > 0)
        append_line(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    if (direction == '>' && replay_wanted())
        replay_send(ms, client, buf, len);
}

void transcript_event(enum transcript_event ev, int client, unsigned port)
{
    static const char *const names[] = {"connect", "shutdown", "reset", "close"};
    char line[128];
    int n;

    if (!replay_wanted())
        return;
    if (ev == TRANSCRIPT_CONNECT)
        n = snprintf(line, sizeof line, "%.1f connect c%d %u\n", elapsed_ms(), client, port);
    else
        n = snprintf(line, sizeof line, "%.1f %s c%d\n", elapsed_ms(), names[ev], client);
    append_to("HARNESS_REPLAY", line, (size_t)n);
}

void transcript_program(const char *cmdline)
{
    char esc[TRANSCRIPT_LINE_MAX - TRANSCRIPT_TIME_MAX - 16];
    char line[TRANSCRIPT_LINE_MAX];

    if (!replay_wanted())
        return;
    transcript_escape(cmdline, strlen(cmdline), TRANSCRIPT_SHOWN_BYTES, esc, sizeof esc);
    int n = snprintf(line, sizeof line, "%.1f program \"%s\"\n", elapsed_ms(), esc);
    if (n > 0)
        append_to("HARNESS_REPLAY", line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
