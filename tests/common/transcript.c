/*
 * transcript.c - see transcript.h. Each record is written with one write() to a file opened
 * with O_APPEND, so records from several threads never interleave within a line.
 */
#include "transcript.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRANSCRIPT_SHOWN_BYTES 160 /* bytes of each record shown; the rest is summarised */
#define TRANSCRIPT_LINE_MAX 1024

static void append_line(const char *line, size_t len)
{
    const char *path = getenv("HARNESS_TRANSCRIPT");
    if (path == NULL || *path == '\0')
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t ignored = write(fd, line, len);
    (void)ignored; /* a transcript is a courtesy: never fail a test over it */
    close(fd);
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

    strcpy(line, "# ");
    va_start(ap, fmt);
    vsnprintf(line + 2, sizeof line - 3, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    line[n++] = '\n';
    append_line(line, n);
}

void transcript_bytes(char direction, int client, const void *buf, size_t len)
{
    char esc[TRANSCRIPT_LINE_MAX - 32];
    char line[TRANSCRIPT_LINE_MAX];

    transcript_escape(buf, len, TRANSCRIPT_SHOWN_BYTES, esc, sizeof esc);
    int n = snprintf(line, sizeof line, "%c c%d \"%s\"\n", direction, client, esc);
    if (n > 0)
        append_line(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
