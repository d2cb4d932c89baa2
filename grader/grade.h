/*
 * grade.h - grading: build each selected exercise of a tree, run its tests, report.
 */
#ifndef GRADE_H
#define GRADE_H

#include "course.h"
#include "report.h"
#include "runner.h"

#include <stdio.h>

/* The results of one exercise. */
struct exercise_result {
    const struct course_exercise *ex;
    char *build_log;           /* compiler output when the build failed, else NULL; owned */
    struct test_result *tests; /* one per graded test; owned */
    size_t ntests;
    size_t passed;
    int points, max_points;
};

/*
 * Builds and runs exercise `ex` from `tree`. `only` (NULL-terminated, may be NULL) limits the
 * tests run. When `out` is not NULL, prints a line per test and the first failure's details.
 * Returns 0, or -1 if a test named in `only` does not exist (the message goes to stderr).
 */
int grade_exercise(const struct runner *r, const struct course_exercise *ex, const char *tree,
                   char *const only[], FILE *out, const struct report_style *st,
                   struct exercise_result *res);

/*
 * The same for several exercises: builds each, then runs the tests of all of them together,
 * r->jobs at a time (the next exercise's tests start while the last ones of an exercise still
 * run), and prints one exercise after the other, as grade_exercise does. Fills results[0..n-1].
 */
int grade_exercises(const struct runner *r, const struct course_exercise *const exs[], size_t n,
                    const char *tree, char *const only[], FILE *out, const struct report_style *st,
                    struct exercise_result results[]);

void grade_result_free(struct exercise_result *res);

/* Writes a JSON report of the results (jansson), with "chaos_seed" in chaos mode. Returns 0
 * or -1. */
int grade_write_json(const char *path, const char *tree, const struct exercise_result *results,
                     size_t n);

#endif
