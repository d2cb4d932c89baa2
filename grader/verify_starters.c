/*
 * verify_starters.c - the starters are exactly what the solutions' markers make, and every
 * TODO is needed: taking out its code alone makes one of its tests fail (prove.h).
 */
#include "verify_internal.h"

#include "prove.h"
#include "starters.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void check_starters_generated(struct checks *k, const struct course *c)
{
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        char src[512], dst[512], detail[4096] = "", err[512];
        snprintf(src, sizeof src, "solutions/%s", ex->dir);
        snprintf(dst, sizeof dst, "exercises/%s", ex->dir);
        int n = starters_compare(src, &ex->data, dst, detail, sizeof detail, err, sizeof err);
        if (n < 0)
            snprintf(detail, sizeof detail, "%s", err);
        else if (n > 0)
            add_detail(detail, sizeof detail,
                       "run ./grader/grade --write-starters to remake "
                       "them from the markers\n");
        check(k, n == 0, detail, "%s: exercises/%s is what the markers in solutions/ make", ex->id,
              ex->dir);
    }
}

void check_every_todo_needed(struct checks *k, const struct course *c)
{
    struct runner r = {.root = k->root, .build_dir = VERIFY_PROOF_DIR, .tmp_dir = k->tmp_dir};
    char err[4096];

    if (!check(k, prove_setup(&r, c, err, sizeof err) == 0, err, "proof/ written, %s configured",
               VERIFY_PROOF_DIR))
        return;
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        for (size_t t = 0; t < ex->data.ntodos; t++) {
            const struct suite_todo *todo = &ex->data.todos[t];
            struct prove_result res;
            char detail[4096] = "";
            if (prove_todo(&r, ex, todo->number, &res, err, sizeof err) != 0) {
                check(k, 0, err, "%s TODO(%d) %s: the proof could not run", ex->id, todo->number,
                      todo->title);
                continue;
            }
            if (res.nblocks == 0)
                add_detail(detail, sizeof detail, "no STUDENT(%d) block in solutions/%s\n",
                           todo->number, ex->dir);
            else if (res.build_failed)
                add_detail(detail, sizeof detail,
                           "with TODO(%d) taken out, the solution does not "
                           "compile: fix its stub\n%s",
                           todo->number, res.message);
            else if (res.caught_by == NULL)
                add_detail(detail, sizeof detail,
                           "with TODO(%d) taken out, all %d of its tests "
                           "still pass: write a test that needs it\n",
                           todo->number, res.ntests);
            check(k, detail[0] == '\0', detail, "%s TODO(%d) %s: needed (without it %s: %s)",
                  ex->id, todo->number, todo->title, res.caught_by ? res.caught_by : "nothing",
                  res.caught_by ? verdict_name(res.verdict) : "fails");
            prove_result_free(&res);
        }
        if (prove_restore(ex, err, sizeof err) != 0)
            check(k, 0, err, "%s: proof/ restored", ex->id);
    }
}

void check_todos_in_order(struct checks *k, const struct course *c)
{
    struct runner r = {.root = k->root, .build_dir = VERIFY_PROOF_DIR, .tmp_dir = k->tmp_dir};
    char err[4096];

    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        char detail[8192] = "";
        for (size_t t = 0; t < ex->data.ntodos; t++) {
            const struct suite_todo *todo = &ex->data.todos[t];
            struct prove_result res;
            if (prove_stage(&r, ex, todo->number, &res, err, sizeof err) != 0) {
                add_detail(detail, sizeof detail, "TODO(%d): %s\n", todo->number, err);
                continue;
            }
            if (res.build_failed)
                add_detail(detail, sizeof detail,
                           "with TODOs 1..%d written, the exercise does not "
                           "compile:\n%s",
                           todo->number, res.message);
            else if (res.caught_by != NULL)
                add_detail(detail, sizeof detail,
                           "with TODOs 1..%d written, %s still gets %s: it "
                           "needs a later TODO, so list it under that one (%s)\n",
                           todo->number, res.caught_by, verdict_name(res.verdict),
                           res.message != NULL ? res.message : "");
            prove_result_free(&res);
        }
        if (prove_restore(ex, err, sizeof err) != 0)
            add_detail(detail, sizeof detail, "proof/ not restored: %s\n", err);
        check(k, detail[0] == '\0', detail,
              "%s: done in order, TODOs 1..n pass every test of "
              "TODO n, so the first failure always names the next TODO (%zu stages)",
              ex->id, ex->data.ntodos);
    }
}
