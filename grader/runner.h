/*
 * runner.h - build one exercise of one tree, and run its tests one at a time.
 *
 * A "tree" is a folder holding a version of every exercise: "exercises" (the student's),
 * "solutions" (the reference), or "fixture-NAME" (a broken submission the grader tests itself
 * on). The build makes build/tests/EXERCISE-TREE, the exercise's Check suite linked against
 * that tree. Each test runs alone in that binary (CK_RUN_CASE), so its verdict, time and
 * transcript are its own; several tests may run at once (runner_run_tests), each in a worker
 * process that owns whatever its test leaves behind.
 */
#ifndef RUNNER_H
#define RUNNER_H

#include "course.h"

enum verdict {
    VERDICT_PASS,
    VERDICT_FAIL,        /* an assertion failed */
    VERDICT_CRASH,       /* killed by a signal */
    VERDICT_TIMEOUT,     /* ran out of time, or the event loop was blocked */
    VERDICT_EARLY_EXIT,  /* the process exited before the test finished (exit() in the code?) */
    VERDICT_SANITIZER,   /* AddressSanitizer/UBSan reported an error */
    VERDICT_BUILD_ERROR, /* the exercise did not compile */
    VERDICT_ERROR,       /* the suite itself could not run */
};

/* Short name ("pass", "fail", "crash", ...), as shown and as written to JSON reports. */
const char *verdict_name(enum verdict v);

struct runner {
    const char *root;      /* repository root */
    const char *build_dir; /* meson build directory, relative to root or absolute */
    const char *tmp_dir;   /* scratch directory for logs and transcripts */
    int sanitized;         /* the build uses -fsanitize: scale timeouts, read sanitizer exits */
    int valgrind;          /* run the tests under valgrind memcheck (a plain build) */
    unsigned repeat;       /* run each test this many times (0 or 1: once); see learner.h */
    unsigned jobs;         /* tests at once (0: runner_default_jobs; 1: one after the other) */
};

/* How many tests run at once by default: RUNNER_JOBS_PER_CPU per online CPU (most of a test's
 * time is spent waiting on its own timers and sockets), one per CPU under valgrind. */
#define RUNNER_JOBS_PER_CPU 3
unsigned runner_default_jobs(const struct runner *r);

struct test_result {
    const char *name;
    enum verdict verdict;
    char *message;    /* what went wrong (or "passed"); owned */
    char *transcript; /* what the test sent and received; owned, may be NULL */
    char *output;     /* everything the suite printed for this test; owned, may be NULL */
    char *warnings;   /* one line each: what the test left behind; owned, may be NULL */
    double seconds;
    int hidden; /* a hidden test: its details are not shown to the student */
};

/* Builds the suite and the command-line program of exercise `ex` from `tree`. Returns 0, or
 * -1 with the build's output (compiler errors) in *log (owned by the caller). */
int runner_build(const struct runner *r, const char *tree, const struct course_exercise *ex,
                 char **log);

/* Builds several exercises of `tree` in one run of the build tool, so that they build in
 * parallel; what it says is not kept: runner_build then tells, for each exercise, whether it
 * built and why not (a quick run when nothing is left to do). */
void runner_build_all(const struct runner *r, const char *tree,
                      const struct course_exercise *const exs[], size_t n);

/* The test names the suite binary reports (--list), as a NULL-terminated array the caller
 * frees with runner_free_names(). NULL if the suite cannot run. */
char **runner_list(const struct runner *r, const char *tree, const struct course_exercise *ex);
void runner_free_names(char **names);

/* Runs one test; fills res (free it with runner_result_free). */
void runner_run_test(const struct runner *r, const char *tree, const struct course_exercise *ex,
                     const char *test, struct test_result *res);

void runner_result_free(struct test_result *res);

/* Where the last run of `test` kept what its clients sent (HARNESS_REPLAY, transcript.h); the
 * file is missing when the test sent nothing. */
void runner_replay_path(const struct runner *r, const struct course_exercise *ex, const char *test,
                        char *out, size_t outsz);

/* How runner_run_tests runs one test: runner_run_test, or a function that runs it more
 * than once (learner_run_test). */
typedef void (*runner_test_fn)(const struct runner *r, const char *tree,
                               const struct course_exercise *ex, const char *test,
                               struct test_result *res);

/* One test to run: which exercise, which test. */
struct runner_job {
    const struct course_exercise *ex;
    const char *test;
};

/*
 * Runs jobs[0..n-1] (tests of one or several exercises) from `tree` with run(), r->jobs at a
 * time (runner_default_jobs when 0), and fills results[0..n-1]. each(i, &results[i], arg) (may
 * be NULL) is called in job order, for job i once jobs 0..i are done, as soon as they are:
 * results show up in order while later tests still run. When each() returns nonzero, nothing
 * more is run and the tests still running are stopped. Returns how many results were filled
 * in (n unless stopped); free them with runner_result_free.
 */
size_t runner_run_tests(const struct runner *r, const char *tree, const struct runner_job jobs[],
                        size_t n, runner_test_fn run, struct test_result results[],
                        int (*each)(size_t i, struct test_result *res, void *arg), void *arg);

/* The suite's path inside the build directory, e.g. "tests/ex01-echo-server-exercises". */
void runner_suite_path(const char *tree, const struct course_exercise *ex, char *out, size_t outsz);

/* The command-line program's path inside the build directory. */
void runner_program_path(const char *tree, const struct course_exercise *ex, char *out,
                         size_t outsz);

#endif
