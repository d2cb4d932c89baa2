/*
 * verify.h - ./grader/grade --verify: the course's own test. It checks that the course works
 * as a whole, the way CI and an instructor need it to:
 *   - everything builds with warnings as errors;
 *   - the two trees mirror each other (same files, identical public headers), every starter
 *     has numbered TODO(n) markers and no TODO is left in solutions/; the grader's data names
 *     exactly the tests the suites have; every lecture link points at a real heading;
 *   - every test passes against solutions/, and fails (cleanly: no crash, no hang) against
 *     the starters in exercises/;
 *   - every lecture demo runs and prints what its lecture says it does;
 *   - the grader classifies its fixture submissions (compile error, crash, endless loop,
 *     stray exit(0), blocking read) correctly;
 *   - the same tests and demos are clean under AddressSanitizer and UBSan.
 * It prints one line per check and ends with "N passed, N failed".
 */
#ifndef VERIFY_H
#define VERIFY_H

#include "course.h"

/* Returns the exit status: 0 when every check passed, 1 otherwise, 2 on a set-up error. */
int verify_course(const struct course *c, int verbose);

#endif
