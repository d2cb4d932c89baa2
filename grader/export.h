/*
 * export.h - the same results in the formats other tools read: `--report FORMAT FILE`.
 *
 *   gradescope  Gradescope's results.json: score, max_score, and a test per line with its
 *               name, score, status, output and visibility
 *   junit       JUnit XML: a <testsuite> per exercise, a <testcase> per test (GitHub Actions,
 *               GitLab and most CI systems show it)
 *   tap         TAP version 13: "ok N - ex01 test_name"
 *
 * Hidden tests (tests.json "hidden": true) are run and scored like the others, but no report
 * shows what they check: their output is a neutral text, and in Gradescope they become visible
 * only once the instructor publishes the grades. A summary never says "all passed" while a
 * hidden test fails.
 */
#ifndef EXPORT_H
#define EXPORT_H

#include "grade.h"

#include <stddef.h>

/* What a hidden test shows instead of its message. */
#define EXPORT_HIDDEN_OUTPUT "hidden test: its details are not shown"

/* 1 when `fmt` is one of the formats above. */
int export_known_format(const char *fmt);

/* Writes the results of `tree` in format `fmt` to `path`. Returns 0, or -1 with a message in
 * err. */
int export_write(const char *fmt, const char *path, const char *tree,
                 const struct exercise_result *results, size_t n, char *err, size_t errsz);

/* The one-line summary every format carries: "12 of 20 tests pass", or "every visible test
 * passes, but 2 hidden tests fail", or "all 20 tests pass". Writes into buf. */
const char *export_summary(const struct exercise_result *results, size_t n, char *buf,
                           size_t bufsz);

#endif
