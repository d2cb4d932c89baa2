/*
 * grade.c - see grade.h.
 */
#include "grade.h"

#include "chaos.h"
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

int grade_exercise(const struct runner *r, const struct course_exercise *ex, const char *tree,
                   char *const only[], FILE *out, const struct report_style *st,
                   struct exercise_result *res)
{
    memset(res, 0, sizeof *res);
    res->ex = ex;
    for (size_t i = 0; only != NULL && only[i] != NULL; i++) {
        if (course_find_test(ex, only[i]) == NULL) {
            fprintf(stderr, "grade: %s has no test named %s (./grader/grade --list shows them)\n",
                    ex->id, only[i]);
            return -1;
        }
    }
    res->tests = calloc(ex->data.ntests + 1, sizeof *res->tests);
    if (res->tests == NULL)
        util_oom();
    if (out != NULL)
        report_exercise_heading(out, st, ex, tree);

    if (runner_build(r, tree, ex, &res->build_log) != 0) {
        if (out != NULL)
            report_build_error(out, st, res->build_log);
    }

    const struct test_result *first_failure = NULL;
    size_t hidden_failed = 0;
    for (size_t i = 0; i < ex->data.ntests; i++) {
        const struct suite_test *t = &ex->data.tests[i];
        if (!selected(t->name, only))
            continue;
        struct test_result *tr = &res->tests[res->ntests++];
        res->max_points += t->weight;
        if (res->build_log != NULL) {
            tr->name = t->name;
            tr->verdict = VERDICT_BUILD_ERROR;
            tr->message = strdup("the exercise did not compile");
        } else {
            learner_run_test(r, tree, ex, t->name, r->repeat, tr);
            tr->hidden = t->hidden;
            if (out != NULL) {
                report_test_line(out, st, tr);
                report_replay_line(out, st, ex, tr);
            }
        }
        if (tr->verdict == VERDICT_PASS) {
            res->passed++;
            res->points += t->weight;
        } else if (t->hidden) {
            hidden_failed++; /* never explained: the student must not see what it checks */
        } else if (first_failure == NULL) {
            first_failure = tr;
        }
    }
    if (out != NULL) {
        fprintf(out, "  %zu/%zu passed\n", res->passed, res->ntests);
        if (hidden_failed > 0)
            fprintf(out,
                    "  %zu hidden test%s fail%s: what %s is not shown. Read the TODOs and "
                    "the lecture again for the cases the visible tests do not cover.\n",
                    hidden_failed, hidden_failed == 1 ? "" : "s", hidden_failed == 1 ? "s" : "",
                    hidden_failed == 1 ? "it checks" : "they check");
        if (first_failure != NULL && res->build_log == NULL)
            report_failure(out, st, ex, tree, r->build_dir, first_failure);
    }
    return 0;
}

void grade_result_free(struct exercise_result *res)
{
    for (size_t i = 0; i < res->ntests; i++)
        runner_result_free(&res->tests[i]);
    free(res->tests);
    free(res->build_log);
    memset(res, 0, sizeof *res);
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
            json_array_append_new(tests, json_pack("{s:s, s:s, s:s, s:f}", "name", tr->name,
                                                   "verdict", verdict_name(tr->verdict), "message",
                                                   tr->message ? tr->message : "", "seconds",
                                                   tr->seconds));
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
