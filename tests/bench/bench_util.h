/*
 * bench_util.h - small helpers shared by the benchmark load generators.
 *
 * A monotonic clock in nanoseconds, a loopback connect that returns a ready-to-use socket,
 * strict command-line number parsing, and the file-descriptor limit raise that many
 * connections need. Nothing here allocates.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#define BENCH_NS_PER_SEC 1000000000ULL
#define BENCH_NS_PER_MS 1000000ULL

/* Nanoseconds on CLOCK_MONOTONIC: only differences mean anything. */
uint64_t bench_now_ns(void);

/*
 * Connects to 127.0.0.1:port (a blocking connect: on loopback it completes as soon as the
 * server's kernel queues the connection), turns Nagle off, and makes the socket non-blocking
 * when `nonblocking` is true. Returns the socket, or -1 with errno set. The caller closes it.
 */
int bench_dial(uint16_t port, bool nonblocking);

/*
 * Parses a whole decimal number in [min, max] into *out. On a bad value prints
 * "PROG: NAME wants a number from MIN to MAX, not 'TEXT'" on stderr and returns -1.
 */
int bench_parse_long(const char *prog, const char *name, const char *text, long min, long max,
                     long *out);

/* Parses a TCP port (1-65535) the same way. */
int bench_parse_port(const char *prog, const char *text, uint16_t *out);

/*
 * Raises this process's soft limit on open files to `want` (bounded by the hard limit).
 * Returns the limit now in force.
 */
long bench_raise_fd_limit(long want);

/* The resident memory (VmRSS in /proc/PID/status) of process pid in KiB, or -1 if it cannot be
 * read. Linux only. */
long bench_rss_kib(long pid);

#endif
