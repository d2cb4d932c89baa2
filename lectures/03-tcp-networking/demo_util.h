/*
 * demo_util.h - the small helpers every Lecture 03 demo needs and none of them teaches.
 *
 * parse_bounded() reads a number from the command line; human_size() prints a byte count the
 * way people read it. Both are static inline, so a demo that includes this header needs no
 * extra source file in meson.build.
 */
#ifndef LECTURE03_DEMO_UTIL_H
#define LECTURE03_DEMO_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Parses s, all of it, as a decimal number from min to max and stores it in *out. Returns 0,
 * or -1 if s is empty, has anything after the digits, or is out of range (atoi() would turn
 * "lots" into 0 and "70000x" into 70000). */
static inline int parse_bounded(const char *s, long min, long max, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "8.0 MiB", "256.0 KiB", "512 B": sizes people can read. Writes into buf and returns it. */
static inline const char *human_size(size_t n, char *buf, size_t bufsz)
{
    if (n >= 1024 * 1024)
        snprintf(buf, bufsz, "%.1f MiB", (double)n / (1024 * 1024));
    else if (n >= 1024)
        snprintf(buf, bufsz, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, bufsz, "%zu B", n);
    return buf;
}

#endif
