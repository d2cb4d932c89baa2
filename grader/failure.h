/*
 * failure.h - what the grader keeps of a failing test, beside the text report: its picture
 * (picture.h), and its replay with a script that runs it (replay.h), under .grade/ (ignored by
 * git):
 *
 *     .grade/pictures/EXERCISE/TEST.html
 *     .grade/replay/EXERCISE/TEST.replay  and  TEST.sh
 *
 * (for a tree other than exercises/, one folder deeper: .grade/pictures/TREE/EXERCISE/...).
 * A hidden test gets neither. When the test passes, its old files are removed.
 */
#ifndef FAILURE_H
#define FAILURE_H

#include "course.h"
#include "runner.h"

#include <stdio.h>

#define FAILURE_DIR ".grade" /* under the repository root */

/* After one test of `ex` ran: writes (or, for a pass, removes) its files. The first failure's
 * report (report.c) names them. */
void failure_files(const struct runner *r, const struct course_exercise *ex, const char *tree,
                   const struct test_result *res);

/* The picture's and the replay's paths of a test, from the repository root; `ext` is "html",
 * "replay" or "sh". */
void failure_path(const char *tree, const char *exercise, const char *test, const char *ext,
                  char *out, size_t outsz);

#endif
