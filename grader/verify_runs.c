/*
 * verify_runs.c - running things: every test against a tree, and every lecture demo.
 */
#include "verify_internal.h"

#include "grade.h"
#include "proc.h"
#include "report.h"
#include "runner.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- running tests against a tree ------------------------------------------------------ */

static int verdict_ok_for(const char *tree, enum verdict v)
{
    if (strcmp(tree, "solutions") == 0)
        return v == VERDICT_PASS;
    /* A starter fails cleanly: an assertion (or a timeout it was written to hit). Never a
     * pass (the starter would solve something by accident), crash or early exit. */
    return v == VERDICT_FAIL || v == VERDICT_TIMEOUT;
}

/* The verdicts of one exercise's tests, one check each. */
static void check_tree_results(struct checks *k, const struct exercise_result *res,
                               const char *tree, const char *label)
{
    const struct course_exercise *ex = res->ex;
    double total = 0;
    int bad = 0;

    if (res->build_log != NULL) {
        check(k, 0, res->build_log, "%s: %s/%s builds", ex->id, tree, ex->dir);
        return;
    }
    /* Every test is a check of its own (so the closing count says how many really ran), but
     * only the ones that are wrong get a line unless --verbose: one summary line says the rest. */
    for (size_t i = 0; i < res->ntests; i++) {
        const struct test_result *tr = &res->tests[i];
        int ok = verdict_ok_for(tree, tr->verdict);
        total += tr->seconds;
        if (ok && !k->verbose) {
            k->passed++;
            continue;
        }
        char detail[8192];
        snprintf(detail, sizeof detail, "%s\n%s%s", tr->message,
                 tr->transcript != NULL ? tr->transcript : "",
                 tr->output != NULL && !ok ? tr->output : "");
        check(k, ok, detail, "%s %s %s: %s", label, ex->id, tr->name, verdict_name(tr->verdict));
        bad += !ok;
    }
    if (!k->verbose)
        printf("  %s%-4s%s %s: %s %zu of %zu tests %s (%.1f s of tests)\n",
               report_color(&k->st, bad == 0 ? VERDICT_PASS : VERDICT_FAIL),
               bad == 0 ? "ok" : "FAIL", report_reset(&k->st), ex->id, label,
               res->ntests - (size_t)bad, res->ntests,
               strcmp(tree, "solutions") == 0 ? "pass" : "fail cleanly on the starter", total);
}

void run_tree(struct checks *k, const struct runner *r, const struct course *c, const char *tree,
              const char *label)
{
    const struct course_exercise **exs = calloc(c->nexercises + 1, sizeof *exs);
    struct exercise_result *res = calloc(c->nexercises + 1, sizeof *res);
    if (exs == NULL || res == NULL)
        util_oom();
    for (size_t i = 0; i < c->nexercises; i++)
        exs[i] = &c->exercises[i];
    /* All exercises at once: the tests of one run while those of another finish. */
    grade_exercises(r, exs, c->nexercises, tree, NULL, NULL, &k->st, res);
    for (size_t i = 0; i < c->nexercises; i++) {
        check_tree_results(k, &res[i], tree, label);
        grade_result_free(&res[i]);
    }
    free(res);
    free(exs);
}

/* ---- demos ----------------------------------------------------------------------------- */

void run_demos(struct checks *k, const struct course *c, const char *build_dir, int sanitized)
{
    char how[128];

    for (size_t i = 0; i < c->ndemos; i++) {
        const struct course_demo *d = &c->demos[i];
        char prog[4600];
        char *argv[32];
        size_t n = 0;
        snprintf(prog, sizeof prog, "%s/%s/%s", k->root, build_dir, d->program);
        if (!util_is_file(prog)) {
            /* A demo with an optional dependency (lecture 04's fast-items needs http-parser)
             * is not built without it; meson said so when it configured. */
            printf("  skip demo %s: not built (an optional dependency is missing; see the "
                   "lecture's meson.build)\n",
                   d->program);
            continue;
        }
        argv[n++] = prog;
        for (size_t a = 0; a < d->nargs && n < 31; a++)
            argv[n++] = (char *)d->args[a];
        argv[n] = NULL;

        struct proc_result res;
        if (proc_run(argv, k->root, sanitized ? util_sanitizer_env : NULL,
                     d->timeout_s * (sanitized ? SANITIZER_SLOWDOWN : 1), &res) != 0)
            continue;
        char detail[4096] = "";
        if (!proc_ok(&res))
            add_detail(detail, sizeof detail, "%s\n", proc_describe(&res, how, sizeof how));
        for (size_t e = 0; e < d->nexpect; e++)
            if (strstr(res.output, d->expect[e]) == NULL)
                add_detail(detail, sizeof detail, "expected in the output: %s\n", d->expect[e]);
        if (detail[0] != '\0')
            add_detail(detail, sizeof detail, "output:\n%s", res.output);
        check(k, detail[0] == '\0', detail, "demo %s %s%s (%.1f s)", d->program,
              d->nargs > 0 ? d->args[0] : "", sanitized ? " under ASan+UBSan" : "", res.seconds);
        proc_result_free(&res);
    }
}
