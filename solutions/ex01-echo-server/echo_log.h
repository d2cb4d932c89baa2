/*
 * echo_log.h - the echo server's log lines, and how a peer's address looks in them.
 *
 * Every line the server logs is one complete line, written and flushed at once, so a person
 * watching the terminal (or a test reading a pipe) sees it the moment it happens:
 *
 *     connect 127.0.0.1:54321
 *     disconnect 127.0.0.1:54321 bytes=12 reason=eof
 */
#ifndef ECHO_LOG_H
#define ECHO_LOG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

/* Room for "[IPv6 address]:port" and its NUL. */
#define ECHO_PEER_STRLEN 56
/* Longest log line; longer ones are cut (never split). */
#define ECHO_LOG_LINE_MAX 512

/* Writes one line (printf-style, without the '\n') to `log` and flushes it. NULL logs nothing. */
void echo_log(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats an IPv4 or IPv6 socket address as "1.2.3.4:port" or "[::1]:port" into out. Returns out.
 */
char *echo_format_addr(const struct sockaddr *sa, char *out, size_t outsz);

#endif
