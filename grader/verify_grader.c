/*
 * verify_grader.c - the grader's own tests: the fixture submissions get their verdicts, and the
 * command line behaves.
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

/* ---- the grader's self-tests ----------------------------------------------------------- */

/* Runs this build's grader on some tests (all when `tests` is empty) of one exercise of a
 * tree, through its command line, with the options `opts` (NULL-terminated, may be NULL), and
 * returns its JSON report (or NULL). */
json_t *grade_via_cli(struct checks *k, const char *tree, const char *ex_id,
                      const char *const tests[], char *const opts[], int *exit_status,
                      char **output)
{
    char grader[4600], json_path[256];
    struct proc_result res;
    char *argv[64] = {grader,       "--build-dir", VERIFY_BUILD_DIR, "--tree",
                      (char *)tree, "--json",      json_path};
    size_t n = 7;

    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    snprintf(json_path, sizeof json_path, "%s/%s-%s.json", k->tmp_dir, tree, ex_id);
    for (size_t i = 0; opts != NULL && opts[i] != NULL && n < 40; i++)
        argv[n++] = opts[i];
    argv[n++] = (char *)ex_id;
    for (size_t i = 0; tests != NULL && tests[i] != NULL && n < 63; i++)
        argv[n++] = (char *)tests[i];
    argv[n] = NULL;
    if (proc_run(argv, k->root, NULL, 600, &res) != 0)
        return NULL;
    *exit_status = res.timed_out || !WIFEXITED(res.status) ? -1 : WEXITSTATUS(res.status);
    *output = res.output;
    res.output = NULL;
    proc_result_free(&res);
    json_error_t jerr;
    return json_load_file(json_path, 0, &jerr);
}

/* Does `v` match `allowed`: one verdict, or alternatives separated by '|' (for a fixture whose
 * verdict depends on timing, such as a fork bomb: the test's own wait or Check's timer)? */
static int verdict_is_one_of(const char *v, const char *allowed)
{
    size_t n = strlen(v);
    for (const char *p = allowed; p != NULL && *p != '\0';) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        p = bar != NULL ? bar + 1 : NULL;
    }
    return 0;
}

/* Adds to `detail` each test of `report` whose verdict is not `want`; returns how many had it. */
size_t verdicts_are(json_t *report, const char *want, char *detail, size_t detailsz)
{
    json_t *tests =
        json_object_get(json_array_get(json_object_get(report, "exercises"), 0), "tests");
    size_t got = 0;
    for (size_t i = 0; i < json_array_size(tests); i++) {
        json_t *t = json_array_get(tests, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *v = json_string_value(json_object_get(t, "verdict"));
        if (v != NULL && verdict_is_one_of(v, want))
            got++;
        else
            add_detail(detail, detailsz, "%s: %s, expected %s (%s)\n", name, v, want,
                       json_string_value(json_object_get(t, "message")));
    }
    return got;
}

/* A fixture graded with "chaos": its bug is one only chaos mode reveals, so its listed tests
 * must pass without chaos, and the chaos run must say its seed and how to replay a failure. */
static void check_chaos_fixture(struct checks *k, const struct course_fixture *f, const char *tree,
                                const char *output, char *detail, size_t detailsz)
{
    char seed_line[96], replay[256];
    int status = -1;
    char *calm_output = NULL;

    snprintf(seed_line, sizeof seed_line, "Chaos mode, seed %llu:", f->chaos_seed);
    snprintf(replay, sizeof replay, "replay with ./grader/grade --chaos %llu --tree %s %s %s",
             f->chaos_seed, tree, f->exercise, f->tests[0]);
    if (output == NULL || strstr(output, seed_line) == NULL || strstr(output, replay) == NULL)
        add_detail(detail, detailsz, "the output does not say \"%s\" and \"%s\"\n", seed_line,
                   replay);
    json_t *calm = grade_via_cli(k, tree, f->exercise, f->tests, NULL, &status, &calm_output);
    char calm_detail[4096] = "";
    if (calm == NULL || status != 0 ||
        verdicts_are(calm, "pass", calm_detail, sizeof calm_detail) != f->ntests)
        add_detail(detail, detailsz,
                   "without chaos the listed tests must pass (the bug is one only chaos "
                   "reveals); exit status %d\n%s",
                   status, calm_detail);
    json_decref(calm);
    free(calm_output);
}

/* Grades a fixture's listed tests and checks each got the fixture's verdict: the grader must
 * name what is wrong, and a broken submission must never pass. */
void check_fixture(struct checks *k, const struct course *c, const struct course_fixture *f)
{
    char tree[128], detail[8192] = "", seed[32];
    int status = -1;
    char *output = NULL;

    snprintf(tree, sizeof tree, "fixture-%s", f->name);
    snprintf(seed, sizeof seed, "%llu", f->chaos_seed);
    char *chaos_opts[] = {"--chaos", seed, NULL};
    json_t *report = grade_via_cli(k, tree, f->exercise, f->tests, f->chaos ? chaos_opts : NULL,
                                   &status, &output);
    json_t *tests =
        json_object_get(json_array_get(json_object_get(report, "exercises"), 0), "tests");
    const struct course_exercise *cex = course_find(c, f->exercise);
    size_t want = f->ntests > 0 ? f->ntests : (cex != NULL ? cex->data.ntests : 0);

    if (report == NULL || !json_is_array(tests) || status != 1) {
        add_detail(detail, sizeof detail, "grader exit status %d (expected 1), report %s\n", status,
                   report == NULL ? "missing" : "present");
    } else {
        size_t got = verdicts_are(report, f->verdict, detail, sizeof detail);
        if (got != want || want == 0)
            add_detail(detail, sizeof detail, "%zu of %zu tests got the verdict %s\n", got, want,
                       f->verdict);
    }
    if (f->chaos)
        check_chaos_fixture(k, f, tree, output, detail, sizeof detail);
    if (detail[0] != '\0' && output != NULL)
        add_detail(detail, sizeof detail, "grader output:\n%s", output);
    if (f->chaos)
        check(k, detail[0] == '\0', detail,
              "fixture %s (%s): %zu tests pass, and are graded %s under --chaos %llu", f->name,
              f->about != NULL ? f->about : "", want, f->verdict, f->chaos_seed);
    else
        check(k, detail[0] == '\0', detail, "fixture %s (%s): %zu tests graded %s", f->name,
              f->about != NULL ? f->about : "", want, f->verdict);
    json_decref(report);
    free(output);
}

void check_grader_cli(struct checks *k, const struct course *c)
{
    char grader[4600];
    struct proc_result res;

    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    char *list[] = {grader, "--list", NULL};
    if (proc_run(list, k->root, NULL, 30, &res) == 0) {
        int ok = proc_ok(&res);
        for (size_t i = 0; ok && i < c->nexercises; i++)
            ok = strstr(res.output, c->exercises[i].id) != NULL;
        check(k, ok, res.output, "grader --list names every exercise");
        proc_result_free(&res);
    }
    char *bad[] = {grader, "--no-such-option", NULL};
    if (proc_run(bad, k->root, NULL, 30, &res) == 0) {
        int ok = !res.timed_out && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 2 &&
                 strstr(res.output, "usage:") != NULL;
        check(k, ok, res.output, "grader answers a bad option with usage and exit status 2");
        proc_result_free(&res);
    }
    char *unknown[] = {grader, "ex99", NULL};
    if (proc_run(unknown, k->root, NULL, 30, &res) == 0) {
        int ok = !res.timed_out && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 2;
        check(k, ok, res.output, "grader answers an unknown exercise with exit status 2");
        proc_result_free(&res);
    }
    /* The correct submission: one exercise of the reference, through the whole command line. */
    {
        int status = -1;
        char *output = NULL;
        const char *first[] = {c->exercises[0].data.tests[0].name, NULL};
        json_t *report =
            grade_via_cli(k, "solutions", c->exercises[0].id, first, NULL, &status, &output);
        json_t *t = json_array_get(
            json_object_get(json_array_get(json_object_get(report, "exercises"), 0), "tests"), 0);
        const char *v = json_string_value(json_object_get(t, "verdict"));
        check(k, status == 0 && v != NULL && strcmp(v, "pass") == 0, output,
              "grader grades a correct submission as pass, exit status 0, with a JSON report");
        json_decref(report);
        free(output);
    }
}
