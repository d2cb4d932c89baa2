/*
 * proc.h - run a program, capture what it prints, and stop it if it takes too long.
 *
 * The grader runs everything (meson, ninja, the test suites, the demos) through proc_run(), so
 * one place decides how output is captured and how a stuck program is stopped.
 */
#ifndef PROC_H
#define PROC_H

#include <stddef.h>

#define PROC_OUTPUT_MAX (1024 * 1024) /* bytes of output kept; the rest is counted, not stored */

struct proc_result {
    int status;          /* wait status; meaningful when !timed_out && !failed_to_start */
    int timed_out;       /* killed after the timeout */
    int failed_to_start; /* fork/exec failed (output says why) */
    double seconds;      /* wall time */
    char *output;        /* stdout and stderr interleaved, NUL-terminated; free with proc_result_free */
    size_t output_len;
    size_t output_dropped; /* bytes beyond PROC_OUTPUT_MAX */
};

/*
 * Runs argv[0] (searched in PATH) with argv, in directory `cwd` (NULL: the current one), with
 * `env_add` (NULL-terminated "NAME=value" strings, may be NULL) added to the environment.
 * Stops the program's whole process group after timeout_s seconds (0: no limit).
 * Returns 0 when the result is filled in (whatever the program did), -1 if out of memory.
 */
int proc_run(char *const argv[], const char *cwd, char *const env_add[], double timeout_s,
             struct proc_result *res);

/* True when the program ran and exited with status 0. */
int proc_ok(const struct proc_result *res);

/* Describes how the program ended: "exit status 1", "killed by signal 11 (Segmentation fault)",
 * "timed out after 60 s", "could not start". Returns buf. */
const char *proc_describe(const struct proc_result *res, char *buf, size_t bufsz);

void proc_result_free(struct proc_result *res);

#endif
