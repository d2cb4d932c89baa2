/*
 * batch.h - grading a whole class: `./grader/grade --submissions DIR [-j N] [--out DIR]
 * [EXERCISE]`.
 *
 * Every folder in DIR is one submission: a copy of exercises/, or a repository that holds
 * exercises/. Each is graded in a scratch copy of the course of its own (the course's build
 * files, tests and grader; the submission's exercises, with the course's meson.build files),
 * with a build directory of its own, by a grader process of its own, several at once. `-j N`
 * bounds the tests running at once over the whole batch (default: one per CPU): N graders at
 * once when there are N submissions or more, each running its tests one at a time; fewer
 * submissions share the N between them. A
 * submission that fails to build, hangs, crashes, forks without end or floods its output
 * costs its own grade only: its tests run under the grader's limits (CPU time, file size,
 * processes where the grader does not run as root), its whole run has a deadline, and
 * whatever it leaves running is stopped.
 *
 * The results go to DIR/../grades/ (or --out): gradebook.csv (a row per submission; a column
 * per test, per exercise and the total, in points), summary.md (which tests fail most, and the
 * commonest failure message of each), and per submission its JSON report and its grader log.
 */
#ifndef BATCH_H
#define BATCH_H

#include "course.h"

#define BATCH_DEADLINE_S 3600 /* one submission's whole run: copy, configure, build, tests */

/* Grades every submission in `subs`. `exercise` may be NULL (every exercise). Returns the exit
 * status: 0 every submission was graded (whatever its score), 1 some could not be, 2 set-up. */
int batch_grade(const struct course *c, const char *subs, const char *out_dir, unsigned jobs,
                int fast, const struct course_exercise *exercise);

#endif
