/*
 * transcript.h - what a test sent and received, for the person reading a failure.
 *
 * The network helpers (client.h) record every send and receive here. When the environment
 * variable HARNESS_TRANSCRIPT names a file, each record is appended to it at once (so the record
 * survives a crash or a timeout of the test); the grader shows that file under a failing test.
 * Without the variable nothing is written.
 *
 * Record format, one per line:
 *     # free text (what the test is doing)
 *     > c1 "GET / HTTP/1.1\r\n..."      bytes client 1 sent
 *     < c1 "hello\n"                    bytes client 1 received
 */
#ifndef TRANSCRIPT_H
#define TRANSCRIPT_H

#include <stddef.h>

/* Adds a free-text line. printf-style. */
void transcript_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Adds a sent ('>') or received ('<') record for client number `client`. */
void transcript_bytes(char direction, int client, const void *buf, size_t len);

/*
 * Writes `buf` into `out` as a C string literal body: printable ASCII as is, \n \r \t \\ \" \0
 * and \xNN otherwise. At most `max_shown` input bytes are shown; the rest are summarised as
 * "...(+N bytes)". Always NUL-terminates `out` (if outsz > 0) and returns `out`, so it can be
 * used inside a failure message.
 */
char *transcript_escape(const void *buf, size_t len, size_t max_shown, char *out, size_t outsz);

#endif
