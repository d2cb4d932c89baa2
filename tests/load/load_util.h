/*
 * load_util.h - what the load and fault tools of tests/load share: connecting, a well-behaved
 * client's check that a server still serves (a "probe"), the descriptor limit, and reading a
 * server's memory and CPU time from /proc. Loopback only; every wait has a deadline.
 */
#ifndef LOAD_UTIL_H
#define LOAD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum load_kind { LOAD_ECHO, LOAD_CHAT, LOAD_HTTP };

#define LOAD_PROBE_TIMEOUT_MS 2000 /* a well-behaved request slower than this counts as failed */

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t load_now_ms(void);

/* "echo", "chat" or "http" to the kind; -1 for anything else. */
int load_parse_kind(const char *text);

/* A whole number in [min, max], or exits with status 2 naming the option. */
long load_parse_long(const char *option, const char *text, long min, long max);

/* Starts a non-blocking connect to 127.0.0.1:port. Returns the socket, or -1 (errno set). */
int load_dial_nb(uint16_t port);

/* A blocking connect with SO_RCVTIMEO/SO_SNDTIMEO of timeout_ms. Returns the socket or -1. */
int load_dial(uint16_t port, int timeout_ms);

/* Reads into buf (NUL-terminated, at most cap - 1 bytes) until `until` appears, the peer
 * closes, or timeout_ms passes. Returns the bytes read, or -1 on an error before any. */
long load_read_until(int fd, char *buf, size_t cap, const char *until, int timeout_ms);

/* What a well-behaved client of this kind does: echo a line, get the chat's welcome, or GET
 * /items with a 200. Returns the milliseconds it took, or -1 when it failed. */
long load_probe(enum load_kind kind, uint16_t port);

/* Raises this process's open-file limit towards `want` (the hard limit too, when allowed).
 * Returns the soft limit now in force. */
long load_raise_fd_limit(long want);

/* The resident memory of process pid in KiB, or -1. */
long load_rss_kb(pid_t pid);

/* The CPU time (user + system) process pid has used, in milliseconds, or -1. */
long load_cpu_ms(pid_t pid);

#endif
