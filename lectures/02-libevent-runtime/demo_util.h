/*
 * demo_util.h - the clock and the trace line that the Lecture 02 demos print with, so that
 * every line says when it happened: "[ 250 ms] got SIGTERM". Nothing here is libevent; it is
 * static inline so a demo that includes it needs no extra source file in meson.build.
 *
 * Start the clock with clock_gettime(CLOCK_MONOTONIC, &clk.start), then call trace(&clk, ...).
 */
#ifndef LECTURE02_DEMO_UTIL_H
#define LECTURE02_DEMO_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* A clock for the printout: milliseconds since the program started. */
struct demo_clock {
    struct timespec start;
};

/* Milliseconds since clk->start, on the monotonic clock (never jumps with the wall clock). */
static inline double clock_ms(const struct demo_clock *clk)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts.tv_sec - clk->start.tv_sec) * 1e3 + (ts.tv_nsec - clk->start.tv_nsec) / 1e6;
}

/* Prints one line, "[NNNN ms] " and then fmt, and flushes it so that lines from several
 * threads or a pipe still come out in order. */
static inline void trace(const struct demo_clock *clk, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void trace(const struct demo_clock *clk, const char *fmt, ...)
{
    va_list ap;
    printf("[%4.0f ms] ", clock_ms(clk));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

#endif
