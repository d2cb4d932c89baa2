/*
 * prove.c - see prove.h.
 */
#include "prove.h"

#include "proc.h"
#include "starters.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int write_variant(const struct course_exercise *ex, starters_set which, int nblocks[64],
                         char *err, size_t errsz)
{
    char src[512], dst[512];

    snprintf(src, sizeof src, "solutions/%s", ex->dir);
    snprintf(dst, sizeof dst, "%s/%s", PROVE_TREE, ex->dir);
    return starters_write(src, &ex->data, which, dst, nblocks, err, errsz);
}

int prove_setup(const struct runner *r, const struct course *c, char *err, size_t errsz)
{
    char path[4200];

    if (mkdir(PROVE_TREE, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "%s: %s", PROVE_TREE, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < c->nexercises; i++)
        if (write_variant(&c->exercises[i], 0, NULL, err, errsz) != 0)
            return -1;
    snprintf(path, sizeof path, "%s/build.ninja", r->build_dir);
    if (util_is_file(path))
        return 0;
    char *argv[] = {"meson", "setup", (char *)r->build_dir, NULL};
    struct proc_result res;
    if (proc_run(argv, r->root, NULL, LIMIT_SETUP_S, &res) != 0)
        util_oom();
    int ok = proc_ok(&res);
    if (!ok)
        snprintf(err, errsz, "meson setup %s failed:\n%s", r->build_dir, res.output);
    proc_result_free(&res);
    return ok ? 0 : -1;
}

/* Records the first failure, in test order, and stops the run there. */
static int stop_at_failure(size_t i, struct test_result *tr, void *arg)
{
    struct prove_result *res = arg;
    (void)i;
    if (tr->verdict == VERDICT_PASS)
        return 0;
    res->caught_by = tr->name;
    res->verdict = tr->verdict;
    res->message = tr->message;
    tr->message = NULL;
    return 1;
}

/* Runs the tests of TODO `todo`, several at once, until the first of them (in order) fails:
 * the tests after it are stopped, so a test that would hang costs nothing once an earlier one
 * has failed. Sets res->ntests, and res->caught_by when one failed. */
static void run_until_failure(const struct runner *r, const struct course_exercise *ex, int todo,
                              struct prove_result *res)
{
    struct runner_job *jobs = calloc(ex->data.ntests + 1, sizeof *jobs);
    struct test_result *results = calloc(ex->data.ntests + 1, sizeof *results);
    size_t n = 0;
    if (jobs == NULL || results == NULL)
        util_oom();
    for (size_t i = 0; i < ex->data.ntests; i++)
        if (ex->data.tests[i].todo == todo)
            jobs[n++] = (struct runner_job){ex, ex->data.tests[i].name};
    res->ntests = (int)n;
    size_t done =
        runner_run_tests(r, PROVE_TREE, jobs, n, runner_run_test, results, stop_at_failure, res);
    for (size_t i = 0; i < done; i++)
        runner_result_free(&results[i]);
    free(results);
    free(jobs);
}

int prove_todo(const struct runner *r, const struct course_exercise *ex, int todo,
               struct prove_result *res, char *err, size_t errsz)
{
    int nblocks[64];
    char *log = NULL;

    memset(res, 0, sizeof *res);
    res->todo = todo;
    res->verdict = VERDICT_PASS;
    if (write_variant(ex, STARTERS_ONLY(todo), nblocks, err, errsz) != 0)
        return -1;
    res->nblocks = todo < 64 ? nblocks[todo] : 0;
    if (runner_build(r, PROVE_TREE, ex, &log) != 0) {
        res->build_failed = 1;
        res->message = log;
        return 0;
    }
    run_until_failure(r, ex, todo, res);
    return 0;
}

int prove_stage(const struct runner *r, const struct course_exercise *ex, int todo,
                struct prove_result *res, char *err, size_t errsz)
{
    char *log = NULL;

    memset(res, 0, sizeof *res);
    res->todo = todo;
    res->verdict = VERDICT_PASS;
    starters_set later = todo >= 63 ? 0 : STARTERS_ALL << (todo + 1);
    if (write_variant(ex, later, NULL, err, errsz) != 0)
        return -1;
    if (runner_build(r, PROVE_TREE, ex, &log) != 0) {
        res->build_failed = 1;
        res->message = log;
        return 0;
    }
    run_until_failure(r, ex, todo, res);
    return 0;
}

int prove_restore(const struct course_exercise *ex, char *err, size_t errsz)
{
    return write_variant(ex, 0, NULL, err, errsz);
}

void prove_result_free(struct prove_result *res)
{
    free(res->message);
    memset(res, 0, sizeof *res);
}
