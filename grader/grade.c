/*
 * grade.c - see grade.h.
 */
#include "grade.h"

#include "chaos.h"
#include "failure.h"
#include "learner.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int selected(const char *name, char *const only[])
{
    if (only == NULL || only[0] == NULL)
        return 1;
    for (size_t i = 0; only[i] != NULL; i++)
        if (strcmp(only[i], name) == 0)
            return 1;
    return 0;
}

/* A test as grading runs it: --repeat N times. */
static void run_repeated(const struct runner *r, const char *tree, const struct course_exercise *ex,
                         const char *test, struct test_result *res)
{
    learner_run_test(r, tree, ex, test, r->repeat, res);
}

/* A grading run of several exercises, printed one exercise after the other while the tests of
 * all of them run together. */
struct grading {
    const struct runner *r;
    const char *tree;
    FILE *out; /* NULL: print nothing */
    const struct report_style *st;
    struct exercise_result *results; /* one per exercise */
    size_t nexercises;
    const struct suite_test **infos; /* per job: its test's entry in tests.json */
    size_t *first_job;               /* per exercise: the index of its first job */
    size_t printed;                  /* exercises printed in full so far */
};

/* Counts the points and prints the summary and the first failure of exercise e, all of whose
 * results are in. */
static void finish_exercise(struct grading *g, size_t e)
{
    struct exercise_result *res = &g->results[e];
    const struct test_result *first_failure = NULL;
    size_t hidden_failed = 0, warned = 0;

    for (size_t i = 0; i < res->ntests; i++) {
        const struct test_result *tr = &res->tests[i];
        const struct suite_test *t = course_find_test(res->ex, tr->name);
        res->max_points += t->weight;
        warned += tr->warnings != NULL && *tr->warnings != '\0' && !t->hidden;
        if (tr->verdict == VERDICT_PASS) {
            res->passed++;
            res->points += t->weight;
        } else if (t->hidden) {
            hidden_failed++; /* never explained: the student must not see what it checks */
        } else if (first_failure == NULL) {
            first_failure = tr;
        }
    }
    FILE *out = g->out;
    if (out == NULL)
        return;
    fprintf(out, "  %zu/%zu passed\n", res->passed, res->ntests);
    if (warned > 0)
        fprintf(out,
                "  %zu test%s left something behind after freeing the server (the warnings "
                "above): free everything you create, or LeakSanitizer fails the test\n",
                warned, warned == 1 ? "" : "s");
    if (hidden_failed > 0)
        fprintf(out,
                "  %zu hidden test%s fail%s: what %s is not shown. Read the TODOs and "
                "the lecture again for the cases the visible tests do not cover.\n",
                hidden_failed, hidden_failed == 1 ? "" : "s", hidden_failed == 1 ? "s" : "",
                hidden_failed == 1 ? "it checks" : "they check");
    if (first_failure != NULL && res->build_log == NULL)
        report_failure(out, g->st, res->ex, g->tree, g->r->build_dir, first_failure);
    fflush(out);
}

/* Prints the heading of exercise e (and its build errors). */
static void open_exercise(struct grading *g, size_t e)
{
    if (g->out == NULL)
        return;
    report_exercise_heading(g->out, g->st, g->results[e].ex, g->tree);
    if (g->results[e].build_log != NULL)
        report_build_error(g->out, g->st, g->results[e].build_log);
}

/* Prints every exercise before exercise `upto` that is not printed yet: each one's results
 * are all in. */
static void print_exercises_before(struct grading *g, size_t upto)
{
    while (g->printed < upto) {
        size_t e = g->printed++;
        if (g->results[e].ntests == 0 || g->results[e].build_log != NULL)
            open_exercise(g, e); /* no test of it ran: nothing printed it yet */
        finish_exercise(g, e);
    }
}

/* Job i's result is in, and so are all before it. */
static int on_result(size_t i, struct test_result *tr, void *arg)
{
    struct grading *g = arg;
    size_t e = g->printed;
    while (e + 1 < g->nexercises && i >= g->first_job[e + 1])
        e++;
    print_exercises_before(g, e);
    tr->hidden = g->infos[i]->hidden;
    struct test_result *mine = &g->results[e].tests[i - g->first_job[e]];
    *mine = *tr; /* the exercise's result owns it now */
    if (g->out != NULL) {
        if (i == g->first_job[e])
            open_exercise(g, e);
        report_test_line(g->out, g->st, mine);
        report_replay_line(g->out, g->st, g->results[e].ex, mine); /* chaos mode: the seed */
        failure_files(g->r, g->results[e].ex, g->tree, mine);      /* its picture and replay */
        fflush(g->out);
    }
    return 0;
}

int grade_exercises(const struct runner *r, const struct course_exercise *const exs[], size_t n,
                    const char *tree, char *const only[], FILE *out, const struct report_style *st,
                    struct exercise_result results[])
{
    size_t njobs = 0, total = 0;

    for (size_t e = 0; e < n; e++) {
        memset(&results[e], 0, sizeof results[e]);
        results[e].ex = exs[e];
        for (size_t i = 0; only != NULL && only[i] != NULL; i++) {
            if (course_find_test(exs[e], only[i]) == NULL) {
                fprintf(stderr,
                        "grade: %s has no test named %s (./grader/grade --list shows them)\n",
                        exs[e]->id, only[i]);
                return -1;
            }
        }
        total += exs[e]->data.ntests;
    }
    struct runner_job *jobs = calloc(total + 1, sizeof *jobs);
    struct test_result *all = calloc(total + 1, sizeof *all);
    struct grading g = {.r = r,
                        .tree = tree,
                        .out = out,
                        .st = st,
                        .results = results,
                        .nexercises = n,
                        .infos = calloc(total + 1, sizeof *g.infos),
                        .first_job = calloc(n + 1, sizeof *g.first_job)};
    if (jobs == NULL || all == NULL || g.infos == NULL || g.first_job == NULL)
        util_oom();

    /* Build every exercise first (the build runs its own jobs in parallel), then run the tests
     * of all those that built, in tests.json order: each line is printed as soon as the tests
     * before it are done, while later tests, of this exercise or the next, still run. */
    if (n > 1)
        runner_build_all(r, tree, exs, n);
    for (size_t e = 0; e < n; e++) {
        const struct course_exercise *ex = exs[e];
        struct exercise_result *res = &results[e];
        int built = runner_build(r, tree, ex, &res->build_log) == 0;
        res->tests = calloc(ex->data.ntests + 1, sizeof *res->tests);
        if (res->tests == NULL)
            util_oom();
        g.first_job[e] = njobs;
        for (size_t i = 0; i < ex->data.ntests; i++) {
            const struct suite_test *t = &ex->data.tests[i];
            if (!selected(t->name, only))
                continue;
            if (built) {
                g.infos[njobs] = t;
                jobs[njobs++] = (struct runner_job){ex, t->name};
            } else {
                struct test_result *tr = &res->tests[res->ntests];
                tr->name = t->name;
                tr->verdict = VERDICT_BUILD_ERROR;
                tr->message = xstrdup("the exercise did not compile");
            }
            res->ntests++;
        }
    }
    /* The results land in `all`, in job order; on_result moves each to its exercise. */
    runner_run_tests(r, tree, jobs, njobs, run_repeated, all, on_result, &g);
    print_exercises_before(&g, n);
    free(jobs);
    free(all);
    free(g.infos);
    free(g.first_job);
    return 0;
}

int grade_exercise(const struct runner *r, const struct course_exercise *ex, const char *tree,
                   char *const only[], FILE *out, const struct report_style *st,
                   struct exercise_result *res)
{
    const struct course_exercise *exs[] = {ex};
    return grade_exercises(r, exs, 1, tree, only, out, st, res);
}

void grade_result_free(struct exercise_result *res)
{
    for (size_t i = 0; i < res->ntests; i++)
        runner_result_free(&res->tests[i]);
    free(res->tests);
    free(res->build_log);
    memset(res, 0, sizeof *res);
}

/* The warnings of a test, one string per line. */
static json_t *warning_lines(const struct test_result *tr)
{
    json_t *lines = json_array();
    const char *cursor = tr->warnings != NULL ? tr->warnings : "", *line;
    size_t len;
    while (util_next_line(&cursor, &line, &len))
        if (len > 0)
            json_array_append_new(lines, json_stringn(line, len));
    return lines;
}

int grade_write_json(const char *path, const char *tree, const struct exercise_result *results,
                     size_t n)
{
    size_t passed = 0, failed = 0;
    json_t *exercises = json_array();

    for (size_t i = 0; i < n; i++) {
        const struct exercise_result *er = &results[i];
        json_t *tests = json_array();
        for (size_t k = 0; k < er->ntests; k++) {
            const struct test_result *tr = &er->tests[k];
            json_array_append_new(tests, json_pack("{s:s, s:s, s:s, s:f, s:o}", "name", tr->name,
                                                   "verdict", verdict_name(tr->verdict), "message",
                                                   tr->message ? tr->message : "", "seconds",
                                                   tr->seconds, "warnings", warning_lines(tr)));
        }
        passed += er->passed;
        failed += er->ntests - er->passed;
        json_array_append_new(
            exercises, json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:o}", "id", er->ex->id,
                                 "title", er->ex->title, "dir", er->ex->dir, "built",
                                 er->build_log == NULL, "passed", (json_int_t)er->passed, "total",
                                 (json_int_t)er->ntests, "points", (json_int_t)er->points,
                                 "max_points", (json_int_t)er->max_points, "tests", tests));
    }
    json_t *root = json_pack("{s:s, s:I, s:I, s:o}", "tree", tree, "passed", (json_int_t)passed,
                             "failed", (json_int_t)failed, "exercises", exercises);
    const char *seed = getenv(CHAOS_ENV); /* --chaos: the seed that replays this run */
    if (root != NULL && seed != NULL && *seed != '\0')
        json_object_set_new(root, "chaos_seed", json_string(seed));
    int rc = root != NULL ? json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) : -1;
    json_decref(root);
    return rc == 0 ? 0 : -1;
}
