/*
 * proc.h - run a program, capture what it prints, and stop it if it takes too long.
 *
 * The grader runs everything (meson, ninja, the test suites, the demos) through proc_run(), so
 * one place decides how output is captured and how a stuck program is stopped.
 */
#ifndef PROC_H
#define PROC_H

#include <stddef.h>
#include <sys/types.h>

#define PROC_OUTPUT_MAX (1024 * 1024) /* bytes of output kept; the rest is counted, not stored */

struct proc_result {
    int status;          /* wait status; meaningful when !timed_out && !failed_to_start */
    int timed_out;       /* killed after the timeout */
    int failed_to_start; /* fork/exec failed (output says why) */
    double seconds;      /* wall time */
    char *output; /* stdout and stderr interleaved, NUL-terminated; free with proc_result_free */
    size_t output_len;
    size_t output_dropped; /* bytes beyond PROC_OUTPUT_MAX */
    int leftovers;         /* processes still running after the program exited, stopped */
};

/* Limits for untrusted code (a student's tests), applied to the program and everything it
 * starts. 0 leaves a limit alone. */
struct proc_limits {
    unsigned cpu_s;         /* CPU seconds (RLIMIT_CPU) */
    unsigned long mem_mb;   /* address space (RLIMIT_AS); leave 0 for sanitized programs, whose
                               shadow memory needs terabytes of address space */
    unsigned nofile;        /* open descriptors (RLIMIT_NOFILE) */
    unsigned nproc;         /* processes and threads at once (a pids cgroup, or RLIMIT_NPROC) */
    unsigned long fsize_mb; /* size of any file written (RLIMIT_FSIZE) */
};

/*
 * Call once at start-up. Makes the grader the "subreaper" of everything it starts (Linux), so
 * a process that escapes its group (setsid) and outlives its parent still ends up as the
 * grader's child and is stopped when its run ends; and on SIGINT/SIGTERM stops the running
 * program's group and those leftovers before exiting.
 */
void proc_init(void);

/* The signal (SIGINT or SIGTERM) that arrived since proc_init() while no program ran, or 0.
 * proc_run() acts on one that arrives while a program runs: it stops it and ends the grader. */
int proc_interrupted(void);

/*
 * Runs argv[0] (searched in PATH) with argv, in directory `cwd` (NULL: the current one), with
 * `env_add` (NULL-terminated "NAME=value" strings, may be NULL) added to the environment.
 * Stops the program's whole process group after timeout_s seconds (0: no limit).
 * Returns 0 when the result is filled in (whatever the program did). Running out of memory
 * ends the grader (util_oom), like everywhere in it.
 */
int proc_run(char *const argv[], const char *cwd, char *const env_add[], double timeout_s,
             struct proc_result *res);

/* The same with limits (may be NULL). When the program itself has exited, whatever it left
 * running (in its group, or reparented to the grader) is stopped after a short grace for its
 * last output: a leftover process never holds the run up until the timeout. The number of
 * processes stopped that way is in res->leftovers. */
int proc_run_limited(char *const argv[], const char *cwd, char *const env_add[], double timeout_s,
                     const struct proc_limits *limits, struct proc_result *res);

/*
 * Starts argv[0] (searched in PATH) without waiting for it: in its own process group, in `cwd`
 * (NULL: here), with `env_add` added (as proc_run), stdin from /dev/null, and its stdout and
 * stderr on a pipe whose read end (close-on-exec) goes to *out_fd. Returns the pid, or -1.
 * The caller reads the pipe, stops the group (kill(-pid, ...)) and reaps the pid.
 */
pid_t proc_spawn(char *const argv[], const char *cwd, char *const env_add[], int *out_fd);

/*
 * Runs job(i, arg, fd) for i = 0 .. n-1, each in a worker process of its own, at most `jobs` at
 * once (0: one per online CPU). A worker is the subreaper of what it starts, so the leftovers
 * of its runs are its own children and are stopped by its proc_run calls, never a sibling's.
 * The job writes its result to fd; the worker then exits. In the parent, done(i, data, len,
 * arg) gets what worker i wrote (len 0 if it died without a word), as each worker ends, in the
 * order they end; when done returns nonzero, no more workers start and the running ones are
 * stopped (their results dropped). Ctrl-C (SIGINT, SIGTERM) stops every worker and what it
 * runs, then the grader. What the parent runs meanwhile (from done) leaves the workers alone.
 */
void proc_parallel(size_t n, unsigned jobs, void (*job)(size_t i, void *arg, int fd),
                   int (*done)(size_t i, const char *data, size_t len, void *arg), void *arg);

/* The number of workers proc_parallel runs at once when asked for 0: the online CPUs. */
unsigned proc_cpus(void);

/* Writes all of buf to fd (a worker's result). Returns 0 or -1. */
int proc_write_all(int fd, const void *buf, size_t len);

/* True when the program ran and exited with status 0. */
int proc_ok(const struct proc_result *res);

/* Describes how the program ended: "exit status 1", "killed by signal 11 (Segmentation fault)",
 * "timed out after 60 s", "could not start". Returns buf. */
const char *proc_describe(const struct proc_result *res, char *buf, size_t bufsz);

void proc_result_free(struct proc_result *res);

#endif
