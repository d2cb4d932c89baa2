/*
 * bundle.h - the Gradescope autograder: `./grader/grade --gradescope-bundle FILE.zip
 * [EXERCISE]`.
 *
 * The zip holds what Gradescope asks for at its top: setup.sh (installs the course's packages
 * and compiles the grader, once per image) and run_autograder (grades /autograder/submission
 * and writes /autograder/results/results.json), both from grader/gradescope/; grade.env (which
 * exercise to grade); and course/, the course without its solutions. Name an EXERCISE to make
 * one Gradescope assignment per exercise.
 */
#ifndef BUNDLE_H
#define BUNDLE_H

#include "course.h"

/* Writes the bundle to `zip_path`. `only` may be NULL (every exercise). Returns the exit
 * status: 0, or 2 (said why). */
int bundle_write(const char *zip_path, const struct course_exercise *only);

#endif
