/*
 * demo_util.h - the one small helper the Lecture 01 demos share and none of them teaches:
 * reading a whole number from the command line with bounds. It is static inline, so a demo that
 * includes this header needs no extra source file in meson.build.
 */
#ifndef LECTURE01_DEMO_UTIL_H
#define LECTURE01_DEMO_UTIL_H

#include <errno.h>
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

#endif
