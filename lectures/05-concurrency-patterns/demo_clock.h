/*
 * demo_clock.h - the monotonic clock lecture 05's demos measure with.
 *
 * Every figure a demo prints (nanoseconds per operation, lock waits, tick gaps) comes from
 * CLOCK_MONOTONIC, which never jumps when the wall clock is set. Reading it costs some tens of
 * nanoseconds (no system call on Linux), small next to what is measured.
 */
#ifndef DEMO_CLOCK_H
#define DEMO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t demo_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Blocks the calling thread for ms milliseconds: the stand-in for a blocking call (a disk
 * write, a DNS lookup), never a way to wait for another thread. */
static inline void demo_block_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

#endif
