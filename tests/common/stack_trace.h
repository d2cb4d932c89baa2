/*
 * stack_trace.h - where another thread of this process is, in words a student can act on.
 *
 * The watchdog of loop_thread.c uses it when the server's event loop stops turning: it takes a
 * backtrace of the loop thread (a signal makes that thread record its own stack), then names the
 * innermost library call ("read") and the first function in the student's own code
 * ("conn_read_cb", "echo_conn.c", 88). Names come from dladdr() for the shared libraries and
 * from `addr2line` (binutils), run as a child process, for the test program itself, which is
 * built with -g. When symbols cannot be found, the fields stay empty and callers say less.
 *
 * The same symbolisation names event callbacks for the teardown warnings (lifetime.h).
 */
#ifndef STACK_TRACE_H
#define STACK_TRACE_H

#include <pthread.h>

#define STACK_TRACE_MAX_FRAMES 64
#define STACK_TRACE_SAMPLE_MS 500 /* how long to wait for the sampled thread to answer */
#define STACK_TRACE_HOLD_MS 5000  /* how long the sampled thread then waits in the handler */

/* One code address, named. Empty strings (and line 0) where the name is not known. */
struct stack_place {
    char func[96];  /* the function: "conn_read_cb" */
    char file[160]; /* its source file, without folders: "echo_conn.c" */
    int line;
    int student; /* the code under test (exercises/, solutions/, a fixture), not tests/ */
};

/* What a sampled stack says. */
struct stack_summary {
    char call[64];           /* the innermost call into a library: "read", or "" */
    struct stack_place mine; /* the innermost frame in the student's code (func "" if none) */
    int innermost_is_mine;   /* the thread was running the student's own code, not a library */
};

/* Installs the sampling signal's handler and loads what backtrace() needs, so that the handler
 * never allocates. Call before the thread to sample starts. Returns 0, or -1. */
int stack_trace_init(void);

/* Makes thread `t` record its stack and waits up to STACK_TRACE_SAMPLE_MS for it. Returns the
 * number of frames stored in `frames` (innermost first, the signal handler's own frames left
 * out), or 0 when the thread did not answer. The thread then stays in the signal handler for
 * STACK_TRACE_HOLD_MS, so that what it does next (a sleep cut short by the signal returns early)
 * cannot change what the caller reports: meant for a caller about to end the test. One sample at
 * a time per process. */
int stack_trace_sample(pthread_t t, void **frames, int max);

/* Names each of n code addresses (callbacks, or return addresses when `return_addresses`, which
 * are looked up one byte earlier, inside the call). Returns 0, or -1 when nothing was named. */
int stack_trace_name(void *const *addrs, int n, int return_addresses, struct stack_place *out);

/* Summarises a sampled stack. Returns 0 when a call or a student's frame was found, or -1. */
int stack_trace_summarise(void *const *frames, int n, struct stack_summary *sum);

#endif
