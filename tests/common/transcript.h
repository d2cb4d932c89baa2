/*
 * transcript.h - what a test sent and received, for the person reading a failure.
 *
 * The network helpers (client.h) record every send and receive here. When the environment
 * variable HARNESS_TRANSCRIPT names a file, each record is appended to it at once (so the record
 * survives a crash or a timeout of the test); the grader shows that file under a failing test,
 * and draws it as a sequence diagram. Without the variable nothing is written.
 *
 * Record format, one per line: the time since the test started (milliseconds on a monotonic
 * clock, see transcript_start), then the record:
 *        0.4 ms  # free text (what the test is doing)
 *        1.2 ms  > c1 "GET / HTTP/1.1\r\n..."      bytes client 1 sent
 *        1.9 ms  < c1 "hello\n"                    bytes client 1 received
 * A record shows at most 160 bytes of a send or a receive; the rest is summarised.
 *
 * When HARNESS_REPLAY names a file as well, the same run is kept there for a replay (the
 * grader's --replay): every byte each client sent, exactly, in its send() calls, with the
 * connects and closes, one record a line, times in milliseconds, bytes escaped as by
 * transcript_escape() without a cut:
 *     1.2 connect c1 40123                    c1 connected to the server on port 40123
 *     1.3 send c1 "hello\n"                   one send() call
 *     1.9 shutdown c1 (or reset c1, close c1)
 *     0.1 program "echo-server --port 0"      the test started the command-line program
 *     9.9 cut 4194304                         the test sent more; the rest is not kept
 */
#ifndef TRANSCRIPT_H
#define TRANSCRIPT_H

#include <stddef.h>

#define TRANSCRIPT_REPLAY_MAX_BYTES (4 * 1024 * 1024) /* sent bytes kept for a replay */

/* What happened to a connection, for the replay file. */
enum transcript_event {
    TRANSCRIPT_CONNECT,  /* connected (port: the server's) */
    TRANSCRIPT_SHUTDOWN, /* shut down its write side */
    TRANSCRIPT_RESET,    /* closed with a reset */
    TRANSCRIPT_CLOSE,    /* closed */
};

/* Sets time 0 of the records: the harness calls it as each test starts. Without a call, the
 * first record of the process is time 0. */
void transcript_start(void);

/* Adds a free-text line. printf-style. */
void transcript_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Adds a sent ('>') or received ('<') record for client number `client`. */
void transcript_bytes(char direction, int client, const void *buf, size_t len);

/* Adds a connection's event to the replay file (the transcript has its own note for it). */
void transcript_event(enum transcript_event ev, int client, unsigned port);

/* Records, in the replay file, that the test started the command-line program `cmdline`. */
void transcript_program(const char *cmdline);

/*
 * Writes `buf` into `out` as a C string literal body: printable ASCII as is, \n \r \t \\ \" \0
 * and \xNN otherwise. At most `max_shown` input bytes are shown; the rest are summarised as
 * "...(+N bytes)". Always NUL-terminates `out` (if outsz > 0) and returns `out`, so it can be
 * used inside a failure message.
 */
char *transcript_escape(const void *buf, size_t len, size_t max_shown, char *out, size_t outsz);

#endif
