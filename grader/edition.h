/*
 * edition.h - the student edition: the course without its solutions, as a fresh git
 * repository ready to push (for example as a GitHub Classroom template).
 *
 * `./grader/grade --student-edition DIR` writes into DIR: the starters (exercises/), the tests,
 * the grader, the lectures, the build files, README.md, LICENSE and the dot files, plus the
 * GitHub Actions workflow that grades a push (.github/workflows/grade.yml, from
 * grader/classroom/). solutions/ is left out. Hidden tests (tests.json "hidden": true) keep
 * their C code and data, but their hints and repro command are replaced by a neutral text:
 * the student must not learn what they check from the repository.
 */
#ifndef EDITION_H
#define EDITION_H

#include "course.h"

#include <stddef.h>

/* What a hidden test's hint becomes in the student edition. */
#define EDITION_HIDDEN_CONCEPT                                                                     \
    "This is a hidden test: it is run and scored, but what it checks is not shown. Make sure "     \
    "your code handles every case its TODO and the lecture describe, not only the visible tests."

/* Writes the student edition of the course in the current directory into `dir` (which must not
 * exist, or be empty), and commits it in a new git repository. The hidden flags are taken from
 * `c` (so a caller may mark more tests hidden). Returns 0, or -1 with a message in err. */
int edition_write(const struct course *c, const char *dir, char *err, size_t errsz);

/* For the commands that need the reference solutions: when solutions/ is missing (a student
 * edition), prints one line naming `what` and returns 2; otherwise returns 0. */
int edition_require_solutions(const char *what);

#endif
