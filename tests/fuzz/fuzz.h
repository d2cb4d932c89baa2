/*
 * fuzz.h - what every fuzz harness in tests/fuzz defines, and the checks they share.
 *
 * A harness is one function, LLVMFuzzerTestOneInput, called with one input at a time. With
 * -Dfuzz=true (and CC=clang) libFuzzer calls it with inputs it mutates, guided by coverage;
 * in an ordinary build fuzz_replay.c calls it once per file of the seed corpus, so the seeds
 * are regression tests that every build runs. A harness reports a bug by aborting with a
 * message (fuzz_fail), which libFuzzer saves as a crash input.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Called once per input; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz: <message>" on stderr and aborts: the input found a bug. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A small deterministic generator: the same seed gives the same chunk sizes every run. */
static inline uint64_t fuzz_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* A reference UTF-8 check written from the table of well-formed byte sequences (Unicode,
 * chapter 3, table 3-7), a different method from the solutions' decoders. */
int fuzz_utf8_ok(const uint8_t *s, size_t len);

/* Connects to 127.0.0.1:port and returns a non-blocking socket; fails the run if it cannot.
 * A signal (libFuzzer's timers) interrupting connect() is waited out, not taken as failure. */
int fuzz_dial(uint16_t port);

/* Monotonic milliseconds. */
uint64_t fuzz_now_ms(void);

#endif
