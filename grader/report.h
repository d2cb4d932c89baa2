/*
 * report.h - what the grader prints: a line per test, a summary per exercise, and for the first
 * failure of each exercise everything a student needs to fix it. Also the --json report.
 */
#ifndef REPORT_H
#define REPORT_H

#include "course.h"
#include "runner.h"

#include <stdio.h>

struct report_style {
    int color;          /* ANSI colours (only on a terminal, and not with NO_COLOR) */
    int verbose;        /* full transcripts and output for every failure */
    const char *replay; /* chaos mode: the command that replays a test (before EXERCISE TEST,
                           as "./grader/grade --chaos 12345"), NULL otherwise */
};

/* Decides colour for `out` from isatty() and NO_COLOR. */
struct report_style report_style_for(FILE *out, int verbose);

/* "  pass  test_name  0.02s  message" */
void report_test_line(FILE *out, const struct report_style *st, const struct test_result *res);

/* In chaos mode, under a test that did not pass: the command that replays it. */
void report_replay_line(FILE *out, const struct report_style *st, const struct course_exercise *ex,
                        const struct test_result *res);

/* The exercise heading. */
void report_exercise_heading(FILE *out, const struct report_style *st,
                             const struct course_exercise *ex, const char *tree);

/* The compiler's errors for an exercise that did not build (trimmed unless verbose). */
void report_build_error(FILE *out, const struct report_style *st, const char *log);

/* Details of a failed test: message, transcript, how to reproduce, hint, TODO and lecture. */
void report_failure(FILE *out, const struct report_style *st, const struct course_exercise *ex,
                    const char *tree, const char *build_dir, const struct test_result *res);

/* Colour helpers for other modules: wrap text in a colour when st->color. */
const char *report_color(const struct report_style *st, enum verdict v);
const char *report_reset(const struct report_style *st);
const char *report_bold(const struct report_style *st);

#endif
