/*
 * learner.h - for someone working through the course alone:
 *
 *   progress    every grading run of exercises/ records, per exercise, the tests passed and
 *               what to do next in .grade/progress.json (ignored by git), and shows the whole
 *               course's progress under the summary, also when only one exercise was graded;
 *   --diff      your files beside the reference's, with diff -u (an exercise you name, or every
 *               exercise that passes);
 *   --watch     re-grades the exercise whose file you just saved: clears the screen, shows the
 *               progress and the first failure in full (inotify on Linux, polling elsewhere, or
 *               where GRADE_WATCH_POLL is set: file systems inotify does not see, such as some
 *               network and container mounts);
 *   --repeat N  runs each test N times: a test that passes only sometimes is flaky, and fails.
 */
#ifndef LEARNER_H
#define LEARNER_H

#include "course.h"
#include "grade.h"
#include "runner.h"

#define LEARNER_PROGRESS_FILE ".grade/progress.json"
#define LEARNER_FLAKY_PREFIX "flaky: "
#define LEARNER_WATCH_POLL_ENV "GRADE_WATCH_POLL" /* set: --watch polls instead of inotify */

/* Records the results in the progress file and prints the course's progress and next step. */
void learner_progress(const struct course *c, const struct exercise_result *results, size_t n);

/* --diff: returns the exit status (0, or 2 when solutions/ is missing or nothing to show). */
int learner_diff(const struct course *c, const struct course_exercise *only);

/* Runs one test `repeat` times (at least once) and fills res with the verdict: a test that
 * passed some runs and failed others gets VERDICT_FAIL and a message starting with
 * LEARNER_FLAKY_PREFIX. */
void learner_run_test(const struct runner *r, const char *tree, const struct course_exercise *ex,
                      const char *test, unsigned repeat, struct test_result *res);

/* --watch: re-runs `argv` (the grader's command line without --watch, NULL-terminated) with
 * the exercise whose file was saved appended. `only` may be NULL. Never returns normally:
 * Ctrl-C ends it. */
int learner_watch(const struct course *c, const struct course_exercise *only, char *const argv[]);

#endif
