/*
 * picture.h - a failing test's transcript drawn as a sequence diagram: one self-contained HTML
 * file (inline SVG and a little CSS; no script, nothing fetched), for a browser.
 *
 * A lane per client (c1, c2, ...) and one for the server; an arrow for each send (client to
 * server) and each receive (server to client), labelled with the escaped bytes (cut) and the
 * time since the test started; notes in grey; a red band where the transcript says the event
 * loop was blocked or something timed out; the verdict at the bottom, and the whole transcript
 * as text underneath. Everything taken from the test (bytes, notes, the message) is escaped,
 * so nothing a program under test prints can become markup.
 */
#ifndef PICTURE_H
#define PICTURE_H

#include "runner.h"

#include <stddef.h>

#define PICTURE_MAX_RECORDS 400 /* records drawn; the middle of a longer transcript is skipped */
#define PICTURE_MAX_LANES 64    /* client lanes; clients beyond share the last one */
#define PICTURE_TEXT_MAX (256 * 1024) /* bytes of the transcript copied as text */

/* One transcript line, parsed (see tests/common/transcript.h). `text` points into the line. */
struct picture_record {
    double ms;        /* time since the test started; -1 when the line has none */
    char kind;        /* '>' sent, '<' received, '#' note, '?' anything else */
    int client;       /* N of cN for '>' and '<', and for a note that starts "cN:"; else 0 */
    const char *text; /* the escaped bytes (between the quotes) or the note */
    size_t len;
};

/* Parses one transcript line (without its newline). Returns 0, or -1 for an empty line. */
int picture_parse_line(const char *line, size_t len, struct picture_record *rec);

/* True when a note marks a stall: the event loop was blocked, or something timed out. */
int picture_is_mark(const char *text, size_t len);

/* Writes the picture of the test `exercise`/`res` (its transcript, verdict and message) to
 * `path`. Returns 0, or -1 with the reason in err. */
int picture_write(const char *path, const char *exercise, const struct test_result *res, char *err,
                  size_t errsz);

#endif
