/*
 * verify_internal.h - what the files of the verify command share: the running tally of checks,
 * how a check is recorded, and each job's entry point. See verify.h for what is verified.
 */
#ifndef VERIFY_INTERNAL_H
#define VERIFY_INTERNAL_H

#include "course.h"
#include "report.h"
#include "runner.h"

#include <jansson.h>
#include <stddef.h>

#define VERIFY_BUILD_DIR "build-verify" /* warnings as errors */
#define VERIFY_ASAN_DIR "build-asan"    /* -fsanitize=address,undefined */
#define VERIFY_PROOF_DIR "build-proof"  /* the solutions with one TODO taken out at a time */
#define DETAIL_LINES 30                 /* lines of a failure's detail shown without --verbose */

struct checks {
    int passed, failed;
    int verbose;
    struct report_style st;
    char root[4096];
    char tmp_dir[64];
    double started; /* monotonic seconds when the verification began */
};

/* Prints a section heading. */
void section(struct checks *k, const char *title);

/* Records one check and prints "ok" or "FAIL" with the description; `detail` (may be NULL) is
 * printed under a failure, trimmed to DETAIL_LINES. Returns ok. */
int check(struct checks *k, int ok, const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends printf output to a detail buffer; stops quietly when it is full. */
void add_detail(char *buf, size_t bufsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The regular files directly in `dir`, sorted; NULL-terminated (free with util_free_strv).
 * NULL if dir is missing. */
char **list_files(const char *dir);
int has_name(char **names, const char *name);
int ends_with(const char *s, const char *suffix);

/* verify_build.c: configures `dir` once (meson setup with `opts`), then builds everything in
 * it; a warning fails the check. Returns 1 when the build succeeded. */
int build_all(struct checks *k, const char *dir, char *const opts[], const char *what);

/* verify_files.c */
void check_mirror(struct checks *k, const struct course_exercise *ex);
void check_test_names(struct checks *k, const struct runner *r, const struct course_exercise *ex);
void check_tests_cite_no_todo(struct checks *k, const struct course *c);
void check_exercise_lists(struct checks *k, const struct course *c);
void check_spec_literals(struct checks *k, const struct course *c);

/* verify_starters.c */
void check_starters_generated(struct checks *k, const struct course *c);
void check_every_todo_needed(struct checks *k, const struct course *c);
void check_todos_in_order(struct checks *k, const struct course *c);

/* verify_format.c */
void check_format(struct checks *k);

/* verify_portable.c */
void check_portable(struct checks *k);

/* verify_docs.c */
void check_docs(struct checks *k, const struct course *c);
void check_lecture_quotes(struct checks *k);

/* verify_runs.c */
/* Grades every exercise of `tree` (solutions: each test must pass; exercises: each must fail
 * cleanly), a check per test. */
void run_tree(struct checks *k, const struct runner *r, const struct course *c, const char *tree,
              const char *label);
void run_demos(struct checks *k, const struct course *c, const char *build_dir, int sanitized);

/* verify_grader.c */
/* Grades the fixtures through the grader's command line, several at once, and checks each got
 * its verdict and says what course.json expects. `sanitized`: in the ASan+UBSan build, only
 * the fixtures that expect a message or warnings. */
void check_fixtures(struct checks *k, const struct course *c, int sanitized);
void check_grader_cli(struct checks *k, const struct course *c);
/* Runs this build's grader on `tests` (NULL or empty: all) of exercise `ex_id` of `tree`, with
 * the options `opts` (NULL-terminated, may be NULL); returns its JSON report (NULL if none),
 * its exit status (-1 if it did not exit) and its output (the caller frees it). */
json_t *grade_via_cli(struct checks *k, const char *tree, const char *ex_id,
                      const char *const tests[], char *const opts[], int *exit_status,
                      char **output);
/* How many tests of a grader's JSON report got the verdict `want` (or one of "a|b"); each
 * other test is named in `detail`. */
size_t verdicts_are(json_t *report, const char *want, char *detail, size_t detailsz);

/* verify_modes.c: --chaos, --watch (inotify and polling), --valgrind */
void check_modes(struct checks *k, const struct course *c);

/* verify_failure.c: a failing test's picture and replay */
void check_failure_files(struct checks *k, const struct course *c);

/* verify_platforms.c: report formats, student edition, batch grading, Gradescope bundle */
void check_platforms(struct checks *k, const struct course *c);
/* verify_reliability.c: leftovers of the fixtures, fuzzing, valgrind memcheck and helgrind. */
void verify_reliability(struct checks *k);

#endif
