/*
 * extras.h - the command-line options beyond grading one checkout, parsed here so that main.c
 * only hands over to this file:
 *
 *   --student-edition DIR        write the student edition into DIR (edition.h)
 *   -j N                         run N tests at once (runner.h)
 *   --submissions DIR [-j N] [--out DIR] [EXERCISE]
 *                                grade every submission in DIR (batch.h)
 *   --report FORMAT FILE         also write the results as gradescope, junit or tap (export.h)
 *   --gradescope-bundle FILE.zip [EXERCISE]
 *                                write the Gradescope autograder (bundle.h)
 *   --watch [EXERCISE]           re-grade when a file is saved (learner.h)
 *   --diff [EXERCISE]            your files beside the reference's (learner.h)
 *   --valgrind                   run the tests under valgrind memcheck
 *   --repeat N                   run each test N times and report the flaky ones
 *   --replay FILE                play a failing test's clients again (replay.h)
 *   --chaos [SEED]               the tests cut their sends into pieces and bring background
 *                                clients (tests/common/chaos.h); the seed replays a run
 */
#ifndef EXTRAS_H
#define EXTRAS_H

#include "course.h"
#include "grade.h"

#include <stddef.h>

#define EXTRAS_MAX_REPORTS 4

struct extras {
    const char *edition_dir;
    const char *submissions_dir;
    const char *out_dir;
    unsigned jobs; /* -j: tests at once (0: the default; see runner.h and batch.h) */
    const char *report_fmt[EXTRAS_MAX_REPORTS], *report_path[EXTRAS_MAX_REPORTS];
    size_t nreports;
    const char *bundle_path;
    int watch, diff, valgrind;
    unsigned repeat;         /* 0 or 1: once */
    const char *replay_path; /* --replay FILE */
    int chaos;               /* --chaos, or HARNESS_CHAOS in the environment */
    int chaos_seeded;        /* the seed was given (else extras_chaos_setup picks one) */
    unsigned long long chaos_seed;
    int argc; /* the whole command line, for --watch (set by extras_parse) */
    char **argv;
};

/* The options' lines for --help. */
extern const char extras_usage[];

/* Looks at argv[*argi]: returns 1 when it is one of the options above (taking its value, so
 * *argi moves on), 0 when it is not, -1 when its value is missing or wrong (said why). */
int extras_parse(struct extras *x, int argc, char **argv, int *argi);

/*
 * Chaos mode, before anything runs. When grading (`grading`), the seed is --chaos SEED, else
 * HARNESS_CHAOS from the environment, else (plain --chaos) one picked from the clock; it goes
 * into HARNESS_CHAOS, which the tests and every grader started from here inherit. Otherwise
 * (--verify, --prove, ...) HARNESS_CHAOS is removed: those runs are never chaotic. Returns 0,
 * or -1 when HARNESS_CHAOS holds no number (said why).
 */
int extras_chaos_setup(struct extras *x, int grading);

/* The command that replays a run's chaos ("./grader/grade --chaos 12345 --solutions"), to
 * which an exercise and a test are appended; "" without chaos mode. */
void extras_chaos_replay(const struct extras *x, const char *tree, int fast, char *out,
                         size_t outsz);

/* Runs the command the options ask for instead of grading, if any: returns 1 and sets *status
 * when it did, 0 when the run is ordinary grading. */
int extras_command(const struct extras *x, const struct course *c, char **pos, int npos, int fast,
                   int *status);

/* After an ordinary grading run: writes the --report files, and records and shows the
 * progress (exercises tree only). May set *status to 2 when a report cannot be written. */
void extras_after_grading(const struct extras *x, const struct course *c, const char *tree,
                          const struct exercise_result *results, size_t n, int *status);

#endif
