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
#include <time.h>
#include <unistd.h>

/* ---- the grader's self-tests ----------------------------------------------------------- */

/* Runs this build's grader on some tests (all when `tests` is empty) of one exercise of a
 * tree, through its command line, with the options `opts` (NULL-terminated, may be NULL; with
 * "--asan", in the ASan+UBSan build), and returns its JSON report (or NULL). */
json_t *grade_via_cli(struct checks *k, const char *tree, const char *ex_id,
                      const char *const tests[], char *const opts[], int *exit_status,
                      char **output)
{
    char grader[4600], json_path[256];
    struct proc_result res;
    int sanitized = 0;
    for (size_t i = 0; opts != NULL && opts[i] != NULL; i++)
        sanitized |= strcmp(opts[i], "--asan") == 0;
    char *argv[64] = {grader,   "--build-dir", sanitized ? VERIFY_ASAN_DIR : VERIFY_BUILD_DIR,
                      "--tree", (char *)tree,  "--json",
                      json_path};
    size_t n = 7;

    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    snprintf(json_path, sizeof json_path, "%s/%s-%s%s.json", k->tmp_dir, tree, ex_id,
             sanitized ? "-asan" : "");
    unlink(json_path); /* a report left by an earlier run must not pass for this one's */
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

/* Does the test's entry say each of `words`: in its message, or in one of its warnings? */
static void check_words(const char *name, json_t *t, const char *field, const char *const *words,
                        size_t nwords, char *detail, size_t detailsz)
{
    json_t *value = json_object_get(t, field);
    for (size_t w = 0; w < nwords; w++) {
        int found = json_is_string(value) && strstr(json_string_value(value), words[w]) != NULL;
        for (size_t i = 0; !found && json_is_array(value) && i < json_array_size(value); i++) {
            const char *line = json_string_value(json_array_get(value, i));
            found = line != NULL && strstr(line, words[w]) != NULL;
        }
        if (!found) {
            char *shown = json_dumps(value, JSON_ENCODE_ANY);
            add_detail(detail, detailsz, "%s: its %s do%s not say \"%s\": %s\n", name, field,
                       json_is_array(value) ? "" : "es", words[w],
                       shown != NULL ? shown : "(nothing)");
            free(shown);
        }
    }
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

/* What grading one fixture through the command line gave. */
struct fixture_run {
    int status;     /* the grader's exit status, -1 when it did not exit */
    double seconds; /* how long it took */
    char *output;   /* what it printed; owned */
    json_t *report; /* its JSON report, or NULL */
};

struct fixture_runs {
    struct checks *k;
    const struct course *c;
    const struct course_fixture **list; /* the fixtures to grade */
    struct fixture_run *runs;
    int sanitized; /* graded in the ASan+UBSan build */
};

/* Grades one fixture through the command line (`sanitized`: in the ASan+UBSan build). */
static void grade_fixture(struct checks *k, const struct course_fixture *f, int sanitized,
                          struct fixture_run *run)
{
    char tree[128], seed[32];
    double start = util_now_s();

    memset(run, 0, sizeof *run);
    run->status = -1;
    snprintf(tree, sizeof tree, "fixture-%s", f->name);
    snprintf(seed, sizeof seed, "%llu", f->chaos_seed);
    char *opts[] = {NULL, NULL, NULL, NULL};
    size_t n = 0;
    if (sanitized)
        opts[n++] = "--asan";
    if (f->chaos) {
        opts[n++] = "--chaos";
        opts[n++] = seed;
    }
    run->report = grade_via_cli(k, tree, f->exercise, f->tests, opts, &run->status, &run->output);
    run->seconds = util_now_s() - start;
}

/* In a worker: grades fixture i, and sends back the exit status, the time and the output (the
 * JSON report stays in its file: the parent reads it). */
static void fixture_job(size_t i, void *arg, int fd)
{
    struct fixture_runs *fr = arg;
    struct fixture_run run;

    grade_fixture(fr->k, fr->list[i], fr->sanitized, &run);
    proc_write_all(fd, &run.status, sizeof run.status);
    proc_write_all(fd, &run.seconds, sizeof run.seconds);
    if (run.output != NULL)
        proc_write_all(fd, run.output, strlen(run.output));
    free(run.output);
    json_decref(run.report);
}

static int fixture_done(size_t i, const char *data, size_t len, void *arg)
{
    struct fixture_runs *fr = arg;
    struct fixture_run *run = &fr->runs[i];
    const struct course_fixture *f = fr->list[i];
    char json_path[256];
    json_error_t jerr;

    run->status = -1;
    if (data != NULL && len >= sizeof run->status + sizeof run->seconds) {
        memcpy(&run->status, data, sizeof run->status);
        memcpy(&run->seconds, data + sizeof run->status, sizeof run->seconds);
        size_t at = sizeof run->status + sizeof run->seconds;
        run->output = strndup(data + at, len - at);
    }
    snprintf(json_path, sizeof json_path, "%s/fixture-%s-%s%s.json", fr->k->tmp_dir, f->name,
             f->exercise, fr->sanitized ? "-asan" : "");
    run->report = json_load_file(json_path, 0, &jerr);
    return 0;
}

/* Whether each listed test of a fixture got the fixture's verdict: the grader must name what
 * is wrong, and a broken submission must never pass. What is wrong goes to detail. */
static size_t fixture_tests(const struct course *c, const struct course_fixture *f)
{
    const struct course_exercise *cex = course_find(c, f->exercise);
    return f->ntests > 0 ? f->ntests : (cex != NULL ? cex->data.ntests : 0);
}

static int fixture_ok(const struct course *c, const struct course_fixture *f,
                      const struct fixture_run *run, char *detail, size_t detailsz)
{
    json_t *ex = json_array_get(json_object_get(run->report, "exercises"), 0);
    json_t *tests = json_object_get(ex, "tests");
    size_t want = fixture_tests(c, f);

    detail[0] = '\0';
    if (run->report == NULL || !json_is_array(tests)) {
        add_detail(detail, detailsz, "grader exit status %d, report %s\n", run->status,
                   run->report == NULL ? "missing" : "present");
    } else {
        size_t got = 0, passed = 0;
        for (size_t i = 0; i < json_array_size(tests); i++) {
            json_t *t = json_array_get(tests, i);
            const char *name = json_string_value(json_object_get(t, "name"));
            const char *v = json_string_value(json_object_get(t, "verdict"));
            passed += v != NULL && strcmp(v, "pass") == 0;
            if (v != NULL && verdict_is_one_of(v, f->verdict))
                got++;
            else
                add_detail(detail, detailsz, "%s: %s, expected %s (%s)\n", name, v, f->verdict,
                           json_string_value(json_object_get(t, "message")));
            check_words(name, t, "message", f->message, f->nmessage, detail, detailsz);
            check_words(name, t, "warnings", f->warnings, f->nwarnings, detail, detailsz);
        }
        if (got != want || want == 0)
            add_detail(detail, detailsz, "%zu of %zu tests got the verdict %s\n", got, want,
                       f->verdict);
        /* A fixture may pass only where its verdict allows it (a leak only a sanitizer fails). */
        int expected_status = passed == json_array_size(tests) ? 0 : 1;
        if (run->status != expected_status)
            add_detail(detail, detailsz, "grader exit status %d (expected %d)\n", run->status,
                       expected_status);
    }
    if (detail[0] != '\0' && run->output != NULL)
        add_detail(detail, detailsz, "grader output:\n%s", run->output);
    return detail[0] == '\0';
}

void check_fixtures(struct checks *k, const struct course *c, int sanitized)
{
    struct runner r = {.root = k->root,
                       .build_dir = sanitized ? VERIFY_ASAN_DIR : VERIFY_BUILD_DIR,
                       .tmp_dir = k->tmp_dir};
    struct fixture_runs fr = {.k = k,
                              .c = c,
                              .list = calloc(c->nfixtures + 1, sizeof *fr.list),
                              .runs = calloc(c->nfixtures + 1, sizeof *fr.runs),
                              .sanitized = sanitized};
    size_t n = 0;
    if (fr.list == NULL || fr.runs == NULL)
        util_oom();
    /* In the sanitized build, the fixtures that prove what the grader says (where a loop is
     * blocked, what a test left behind): they must say it in the build students grade in. */
    for (size_t i = 0; i < c->nfixtures; i++)
        if (!sanitized || c->fixtures[i].nmessage + c->fixtures[i].nwarnings > 0)
            fr.list[n++] = &c->fixtures[i];

    /* Built first, one after the other: the graders that then run at once build nothing. */
    for (size_t i = 0; i < n; i++) {
        const struct course_exercise *ex = course_find(c, fr.list[i]->exercise);
        char tree[128], *log = NULL;
        snprintf(tree, sizeof tree, "fixture-%s", fr.list[i]->name);
        if (ex != NULL)
            runner_build(&r, tree, ex, &log); /* compile-error's fails, as it should */
        free(log);
    }
    /* Several fixtures at once: most of their time goes to waiting out a timeout. A fixture
     * that burns the CPUs (a fork bomb, an endless loop) can starve one that is graded beside
     * it, so a fixture whose verdict is off is graded again alone, and that verdict counts. */
    proc_parallel(n, RUNNER_JOBS_PER_CPU * proc_cpus(), fixture_job, fixture_done, &fr);
    for (size_t i = 0; i < n; i++) {
        const struct course_fixture *f = fr.list[i];
        struct fixture_run *run = &fr.runs[i];
        char detail[8192], beside[160] = "";
        if (!fixture_ok(c, f, run, detail, sizeof detail)) {
            snprintf(beside, sizeof beside, "; graded again alone, as beside others %.*s",
                     (int)strcspn(detail, "\n"), detail);
            json_decref(run->report);
            free(run->output);
            grade_fixture(k, f, sanitized, run);
        }
        int ok = fixture_ok(c, f, run, detail, sizeof detail);
        if (f->chaos) { /* its bug is one only chaos reveals: graded calmly, it passes */
            char tree[128];
            snprintf(tree, sizeof tree, "fixture-%s", f->name);
            size_t before = strlen(detail);
            check_chaos_fixture(k, f, tree, run->output, detail, sizeof detail);
            ok = ok && strlen(detail) == before;
        }
        check(k, ok, detail, "fixture %s%s (%s): %zu tests graded %s%s%s (%.0f s%s)", f->name,
              sanitized ? " under ASan+UBSan" : "", f->about != NULL ? f->about : "",
              fixture_tests(c, f), f->verdict, f->chaos ? " under --chaos, and pass without" : "",
              f->nmessage + f->nwarnings > 0 ? ", saying what course.json expects" : "",
              run->seconds, beside);
        json_decref(run->report);
        free(run->output);
    }
    free(fr.list);
    free(fr.runs);
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
