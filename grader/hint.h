/*
 * hint.h - hints on demand, one step deeper each time: `./grader/grade hint [EXERCISE [TEST]]`.
 *
 * A test's hints come in three tiers, written in tests/EXERCISE/tests.json: (1) the concept
 * behind the failure and the lecture section that teaches it, (2) the calls and types to look
 * up, (3) the shape of the code. Each call shows the next tier for the first failing test (or
 * the test named) and remembers, per test, how deep the student has gone, in .grade/hints.json
 * (ignored by git), so the next call goes one step further.
 */
#ifndef HINT_H
#define HINT_H

#include "course.h"
#include "runner.h"

#define HINT_STATE_FILE ".grade/hints.json"
#define HINT_TIERS 3

/* Shows the next hint. `ex` may be NULL (the first exercise with a failing test); `test` may be
 * NULL (the first failing test of the exercise, found by running its tests in order). Returns
 * the exit status: 0 a hint was shown, 1 nothing fails, 2 a set-up or usage error. */
int hint_next(const struct runner *r, const struct course *c, const struct course_exercise *ex,
              const char *test, const char *tree);

#endif
