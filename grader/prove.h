/*
 * prove.h - proof that every TODO is needed.
 *
 * For each TODO(n) of an exercise, the solution is built with only that TODO's code taken out
 * (replaced by its stub, exactly as in the starter), and the tests tests.json assigns to TODO(n)
 * are run. At least one must fail: otherwise a student could skip that TODO and still pass,
 * and the TODO teaches nothing the grader can see. The variants are written into proof/ (one
 * folder per exercise, ignored by git) and built as the tree "proof" in their own build
 * directory, so only the changed file is recompiled for each TODO.
 */
#ifndef PROVE_H
#define PROVE_H

#include "course.h"
#include "runner.h"

#define PROVE_TREE "proof"

struct prove_result {
    int todo;              /* the TODO taken out */
    int nblocks;           /* how many marked blocks it has in the solution */
    int ntests;            /* tests assigned to it */
    const char *caught_by; /* the first of them that failed, or NULL (borrowed from course) */
    enum verdict verdict;  /* that test's verdict */
    char *message;         /* its message, or the build log when the variant does not build;
                              owned */
    int build_failed;      /* the stub does not compile */
};

/* Writes proof/ (every exercise's solution, nothing taken out) and configures r->build_dir
 * when it is not configured yet. Returns 0, or -1 with a message in err. */
int prove_setup(const struct runner *r, const struct course *c, char *err, size_t errsz);

/* Takes out TODO `todo` of `ex`, builds, and runs its tests (several at once) until one fails.
 * Returns 0 (see res, free with prove_result_free), or -1 with a message in err. */
int prove_todo(const struct runner *r, const struct course_exercise *ex, int todo,
               struct prove_result *res, char *err, size_t errsz);

/* The other half of the proof: the TODOs can be done in order. With TODOs 1..todo written
 * and the later ones still stubs (a student's tree after doing the first `todo` of them), every
 * test of TODO `todo` must pass; so the first failing test always names the next TODO. Returns
 * 0 with res->caught_by the first test that did NOT pass (NULL when all passed), or -1. */
int prove_stage(const struct runner *r, const struct course_exercise *ex, int todo,
                struct prove_result *res, char *err, size_t errsz);

/* Puts the exercise's proof folder back to the whole solution. */
int prove_restore(const struct course_exercise *ex, char *err, size_t errsz);

void prove_result_free(struct prove_result *res);

#endif
