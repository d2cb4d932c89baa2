/*
 * log_capture.h - hand a server a log stream and wait for the lines it writes.
 *
 * Every server in this course logs to a `FILE *` from its config. In tests that stream is the
 * write end of a pipe; a reader thread collects the lines as they come, and the test waits for
 * a line with a timeout instead of sleeping. Lines are kept (up to LOG_CAPTURE_MAX bytes) so a
 * failure message can show what the server did log.
 */
#ifndef LOG_CAPTURE_H
#define LOG_CAPTURE_H

#include <stddef.h>
#include <stdio.h>

#define LOG_CAPTURE_MAX (256 * 1024) /* bytes of log kept; later lines are dropped */

struct log_capture;

/* NULL on failure. */
struct log_capture *log_capture_new(void);

/* The stream to put in the server's config (line-buffered). Owned by the capture. */
FILE *log_capture_stream(struct log_capture *lc);

/* Waits until a logged line contains every one of the given substrings (a NULL-terminated
 * list). Copies that line into out. Returns 1 when found, 0 on timeout. Searches all lines
 * logged so far, oldest first. */
int log_capture_wait(struct log_capture *lc, int timeout_ms, char *out, size_t outsz, ...)
    __attribute__((sentinel));

/* Waits until `needle` has been logged at least n times (or the timeout passes) and returns
 * how many times it has been logged. */
int log_capture_wait_count(struct log_capture *lc, const char *needle, int n, int timeout_ms);

/* The number of times `needle` has been logged so far. */
int log_capture_count(struct log_capture *lc, const char *needle);

/* The last lines of the log (up to outsz - 1 bytes), for failure messages. Returns out. */
char *log_capture_tail(struct log_capture *lc, char *out, size_t outsz);

/* Closes the stream, waits for the reader and frees everything. Free the server first. */
void log_capture_free(struct log_capture *lc);

#endif
