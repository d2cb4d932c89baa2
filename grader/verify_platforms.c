/*
 * verify_platforms.c - the grader's own tests of what instructors hand out and collect: the
 * report formats (hidden tests stay hidden), the student edition (configures and grades with
 * no solutions/, its workflow's grading step runs), batch grading (a hostile submission
 * harms nobody else), and the Gradescope bundle (its scripts run in a scratch root laid out
 * like Gradescope's).
 */
#include "verify_internal.h"

#include "edition.h"
#include "export.h"
#include "grade.h"
#include "proc.h"
#include "replay.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "SECRET-hidden-detail-4711" /* a hidden test's message: must appear nowhere */

static int exit_of(const struct proc_result *res)
{
    return res->timed_out || !WIFEXITED(res->status) ? -1 : WEXITSTATUS(res->status);
}

/* Runs `sh -c script` in `cwd` with `env` added; returns the exit status, output in *out. */
static int shell(const char *script, const char *cwd, char *const env[], double timeout_s,
                 char **out)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    struct proc_result res;
    if (proc_run(argv, cwd, env, timeout_s, &res) != 0)
        util_oom();
    int status = exit_of(&res);
    if (out != NULL) {
        *out = res.output;
        res.output = NULL;
    }
    proc_result_free(&res);
    return status;
}

static int file_has(const char *path, const char *needle)
{
    char *text = util_read_file(path);
    int has = text != NULL && strstr(text, needle) != NULL;
    free(text);
    return has;
}

/* ---- report formats -------------------------------------------------------------------- */

static void check_exports(struct checks *k, const struct course *hidden_course)
{
    const struct course_exercise *ex = &hidden_course->exercises[1];
    struct test_result tests[3] = {
        {.name = ex->data.tests[0].name, .verdict = VERDICT_PASS, .message = "passed"},
        {.name = ex->data.tests[1].name, .verdict = VERDICT_FAIL, .message = "expected x, got y"},
        {.name = ex->data.tests[2].name, .verdict = VERDICT_FAIL, .message = SECRET},
    };
    struct exercise_result er = {.ex = ex, .tests = tests, .ntests = 3, .passed = 1};
    const char *fmts[] = {"gradescope", "junit", "tap"};
    char path[3][256], err[512], detail[2048] = "";

    for (size_t i = 0; i < 3; i++) {
        snprintf(path[i], sizeof path[i], "%s/report.%s", k->tmp_dir, fmts[i]);
        if (export_write(fmts[i], path[i], "exercises", &er, 1, err, sizeof err) != 0)
            add_detail(detail, sizeof detail, "%s\n", err);
        else if (file_has(path[i], SECRET))
            add_detail(detail, sizeof detail, "%s shows the hidden test's message\n", fmts[i]);
    }
    json_error_t jerr;
    json_t *gs = json_load_file(path[0], 0, &jerr);
    json_t *hidden = json_array_get(json_object_get(gs, "tests"), 2);
    int w = ex->data.tests[0].weight;
    if (json_integer_value(json_object_get(gs, "score")) != w ||
        json_integer_value(json_object_get(gs, "max_score")) !=
            w + ex->data.tests[1].weight + ex->data.tests[2].weight)
        add_detail(detail, sizeof detail, "gradescope score or max_score wrong\n");
    if (strcmp(json_string_value(json_object_get(hidden, "visibility")), "after_published") != 0 ||
        strcmp(json_string_value(json_object_get(hidden, "output")), EXPORT_HIDDEN_OUTPUT) != 0)
        add_detail(detail, sizeof detail, "gradescope: the hidden test is not shown as hidden\n");
    json_decref(gs);
    if (!file_has(path[1], "<testcase classname=") || !file_has(path[2], "not ok 2 - "))
        add_detail(detail, sizeof detail, "junit or tap: a test case is missing\n");

    /* Only the hidden test fails: no summary may say "all". */
    tests[1].verdict = VERDICT_PASS;
    er.passed = 2;
    char summary[256];
    export_summary(&er, 1, summary, sizeof summary);
    if (strstr(summary, "all") != NULL || strstr(summary, "hidden test fails") == NULL)
        add_detail(detail, sizeof detail, "summary with a failing hidden test: %s\n", summary);
    for (size_t i = 0; i < 3; i++) {
        export_write(fmts[i], path[i], "exercises", &er, 1, err, sizeof err);
        if (file_has(path[i], "all 3 tests pass") || file_has(path[i], SECRET))
            add_detail(detail, sizeof detail, "%s says all pass, or shows the secret\n", fmts[i]);
    }
    check(k, detail[0] == '\0', detail,
          "--report gradescope|junit|tap: scores right, hidden tests' details never shown, no "
          "\"all pass\" while a hidden test fails");
}

/* ---- student edition ------------------------------------------------------------------- */

static void check_edition(struct checks *k, const struct course *hidden_course,
                          const struct course *c)
{
    const struct course_exercise *ex = &hidden_course->exercises[1];
    const struct suite_test *hid = &ex->data.tests[2];
    char dir[256], err[512], detail[8192] = "", script[16384], *out = NULL;

    snprintf(dir, sizeof dir, "%s/edition", k->tmp_dir);
    if (edition_write(hidden_course, dir, err, sizeof err) != 0) {
        check(k, 0, err, "--student-edition writes the student edition");
        return;
    }
    const char *must[] = {"README.md",
                          "LICENSE",
                          ".gitignore",
                          ".clang-format",
                          ".editorconfig",
                          "meson.build",
                          "grader/grade",
                          ".github/workflows/grade.yml",
                          "lectures/meson.build",
                          NULL};
    for (size_t i = 0; must[i] != NULL; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, must[i]);
        if (!util_is_file(p))
            add_detail(detail, sizeof detail, "missing: %s\n", must[i]);
    }
    snprintf(script, sizeof script,
             "test ! -e solutions && test ! -e .ci && "
             "test \"$(git rev-list --count HEAD)\" = 1 && "
             "test -z \"$(git status --porcelain)\"");
    if (shell(script, dir, NULL, 60, NULL) != 0)
        add_detail(detail, sizeof detail, "solutions/ or .ci/ present, or not one clean commit\n");
    char tj[600];
    snprintf(tj, sizeof tj, "%s/%s", dir, ex->data_path);
    if (!file_has(tj, hid->name) || file_has(tj, hid->concept) ||
        (hid->repro != NULL && file_has(tj, hid->repro)) || !file_has(tj, "This is a hidden test"))
        add_detail(detail, sizeof detail, "%s: the hidden test %s is not neutralised\n",
                   ex->data_path, hid->name);
    check(k, detail[0] == '\0', detail,
          "--student-edition: one commit, no solutions/, the workflow, hidden tests' hints "
          "replaced");

    /* Configured from scratch and graded: the starter fails cleanly, the instructors'
     * commands say they need solutions/, and a solution copied in passes. */
    detail[0] = '\0';
    snprintf(script, sizeof script,
             "./grader/grade --fast --json starter.json %s %s %s >grade.log 2>&1; echo $? >st1; "
             "./grader/grade --solutions >sol.log 2>&1; echo $? >st2; "
             "./grader/grade --verify >ver.log 2>&1; echo $? >st3; "
             "./grader/grade --fast hint %s >hint.log 2>&1; echo $? >st4; "
             "cp %s/solutions/%s/*.c %s/solutions/%s/*.h exercises/%s/ && "
             "./grader/grade --fast --json solution.json %s %s %s %s >sol-grade.log 2>&1; "
             "echo $? >st5; ./grader/grade --diff %s >diff.log 2>&1; echo $? >st6; "
             "printf 'exercise %s\\ntest by_hand\\ntree exercises\\nbuild build\\n"
             "1.0 connect c1 1\\n2.0 send c1 \"hello\\\\n\"\\n' >by-hand.replay; "
             "./grader/grade --fast --replay by-hand.replay >replay.log 2>&1; echo $? >st7",
             ex->id, ex->data.tests[0].name, ex->data.tests[2].name, ex->id, k->root, ex->dir,
             k->root, ex->dir, ex->dir, ex->id, ex->data.tests[0].name, ex->data.tests[1].name,
             ex->data.tests[2].name, ex->id, ex->id);
    double started = util_now_s();
    shell(script, dir, NULL, 1200, NULL);
    const char *want[] = {"1", "2", "2", "0", "0", "2", "0"};
    const char *what[] = {"the starter fails (exit 1)",
                          "--solutions says it needs solutions/",
                          "--verify says it needs solutions/",
                          "hint shows a hint",
                          "a solution copied in passes",
                          "--diff says it needs solutions/",
                          "--replay plays against the student's program alone"};
    for (int i = 0; i < 7; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/st%d", dir, i + 1);
        char *got = util_read_file(p);
        if (got == NULL || strncmp(got, want[i], 1) != 0)
            add_detail(detail, sizeof detail, "%s: exit status %s, expected %s\n", what[i],
                       got != NULL ? strtok(got, "\n") : "?", want[i]);
        free(got);
    }
    char p[400];
    snprintf(p, sizeof p, "%s/sol.log", dir);
    if (!file_has(p, "needs the reference solutions"))
        add_detail(detail, sizeof detail, "--solutions did not say why it stopped\n");
    snprintf(p, sizeof p, "%s/replay.log", dir);
    if (!file_has(p, REPLAY_NO_REFERENCE) || !file_has(p, "your program got") ||
        file_has(p, "the reference got"))
        add_detail(detail, sizeof detail,
                   "--replay did not say in one line that the reference is not included, or "
                   "showed no answer\n");
    snprintf(p, sizeof p, "%s/.grade/progress.json", dir);
    if (!file_has(p, "\"next\"") || !file_has(p, "\"done\""))
        add_detail(detail, sizeof detail, "no progress recorded in .grade/progress.json\n");
    snprintf(p, sizeof p, "%s/starter.json", dir);
    json_error_t jerr;
    json_t *rep = json_load_file(p, 0, &jerr);
    json_t *t;
    size_t i;
    json_array_foreach(
        json_object_get(json_array_get(json_object_get(rep, "exercises"), 0), "tests"), i, t)
    {
        const char *v = json_string_value(json_object_get(t, "verdict"));
        if (v == NULL || (strcmp(v, "fail") != 0 && strcmp(v, "timeout") != 0))
            add_detail(detail, sizeof detail, "starter: %s got %s\n",
                       json_string_value(json_object_get(t, "name")), v);
    }
    if (rep == NULL)
        add_detail(detail, sizeof detail, "no report from grading the starter\n");
    json_decref(rep);
    if (detail[0] != '\0') {
        snprintf(p, sizeof p, "%s/grade.log", dir);
        char *log = util_read_file(p);
        add_detail(detail, sizeof detail, "grade.log:\n%s", log != NULL ? log : "");
        free(log);
    }
    check(k, detail[0] == '\0', detail,
          "the student edition configures without solutions/: %s's starter fails cleanly, "
          "--solutions/--verify/--diff stop with one line, hint works, progress is recorded, the "
          "solution passes, --replay says the reference is not included (%.0f s)",
          ex->id, util_now_s() - started);

    /* The workflow's grading step, run here as GitHub would (packages already installed). */
    detail[0] = '\0';
    char *wf = NULL;
    snprintf(p, sizeof p, "%s/.github/workflows/grade.yml", dir);
    char *yml = util_read_file(p);
    const char *run = yml != NULL ? strstr(yml, "run: ./grader/grade") : NULL;
    if (run == NULL) {
        check(k, 0, "no `run: ./grader/grade` step", "the workflow grades a push");
        free(yml);
        return;
    }
    run += 5;
    wf = strndup(run, strcspn(run, "\n"));
    char env_ex[256];
    snprintf(env_ex, sizeof env_ex, "GRADE_EXERCISE=%s %s", ex->id, ex->data.tests[0].name);
    char *env[] = {"GRADE_OPTIONS=--fast", env_ex, NULL};
    int st = shell(wf, dir, env, 600, &out);
    snprintf(p, sizeof p, "%s/grade-report.xml", dir);
    if (st != 0 || !file_has(p, "<testcase classname=\"") || !file_has(p, "failures=\"0\""))
        add_detail(detail, sizeof detail, "step `%s`: exit status %d\n%s", wf, st, out);
    check(k, detail[0] == '\0', detail,
          "the workflow's grading step runs and writes the JUnit report (%s)", wf);
    free(wf);
    free(yml);
    free(out);
    (void)c;
}

/* ---- batch grading --------------------------------------------------------------------- */

/* Writes the hostile fixture as a submission of exercise 01: the starter, with echo_server.c
 * made of the fixture's shared listener and its hostile half. */
static int write_hostile(const char *root, const char *dst_dir)
{
    char p[4400];
    const char *parts[] = {"grader/fixtures/fixture.h", "grader/fixtures/fixture_base.c",
                           "grader/fixtures/hostile/echo_server.c", NULL};
    snprintf(p, sizeof p, "%s/echo_server.c", dst_dir);
    FILE *f = fopen(p, "w");
    if (f == NULL)
        return -1;
    for (size_t i = 0; parts[i] != NULL; i++) {
        snprintf(p, sizeof p, "%s/%s", root, parts[i]);
        char *text = util_read_file(p);
        for (char *line = text != NULL ? strtok(text, "\n") : NULL; line != NULL;
             line = strtok(NULL, "\n"))
            if (strstr(line, "fixture.h\"") == NULL)
                fprintf(f, "%s\n", line);
        free(text);
    }
    return fclose(f);
}

static void check_batch(struct checks *k, const struct course *c)
{
    const struct course_exercise *ex = &c->exercises[0];
    char subs[256], out[256], script[16384], detail[8192] = "", *log = NULL;

    snprintf(subs, sizeof subs, "%s/class/submissions", k->tmp_dir);
    snprintf(out, sizeof out, "%s/class/grades", k->tmp_dir);
    /* good: a repository with exercises/; broken and hostile: copies of exercises/. (A plain
     * starter would add nothing: hostile is graded and fails too, and it costs a build.) */
    snprintf(script, sizeof script,
             "set -e; s=%s; mkdir -p $s/good/exercises $s/broken $s/hostile; "
             "cp -a exercises/%s $s/good/exercises/ && cp solutions/%s/*.[ch] "
             "$s/good/exercises/%s/; cp -a exercises/%s $s/broken/; "
             "echo 'this is not C' >> $s/broken/%s/main.c; cp -a exercises/%s $s/hostile/; "
             "cp solutions/%s/*.[ch] $s/hostile/%s/",
             subs, ex->dir, ex->dir, ex->dir, ex->dir, ex->dir, ex->dir, ex->dir, ex->dir);
    if (shell(script, k->root, NULL, 60, &log) != 0) {
        check(k, 0, log, "batch: the fixture submissions are laid out");
        free(log);
        return;
    }
    free(log);
    char hostile_dir[600];
    snprintf(hostile_dir, sizeof hostile_dir, "%s/hostile/%s", subs, ex->dir);
    write_hostile(k->root, hostile_dir);

    char grader[4600];
    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    /* -j 15: the three at once, five tests each (the hostile one's tests mostly wait). */
    char *argv[] = {grader,  "--fast", "--submissions", subs, "-j", "15",
                    "--out", out,      (char *)ex->id,  NULL};
    struct proc_result res;
    char tmpdir[300];
    snprintf(tmpdir, sizeof tmpdir, "TMPDIR=%s", k->tmp_dir);
    if (proc_run(argv, k->root, (char *[]){tmpdir, NULL}, 1800, &res) != 0)
        return;
    if (exit_of(&res) != 0)
        add_detail(detail, sizeof detail, "exit status %d\n", exit_of(&res));
    char p[400];
    snprintf(p, sizeof p, "%s/gradebook.csv", out);
    char *csv = util_read_file(p);
    int rows = 0;
    for (char *line = csv != NULL ? strtok(csv, "\n") : NULL; line != NULL;
         line = strtok(NULL, "\n"), rows++) {
        if (rows == 0)
            continue;
        const char *last = strrchr(line, ',');
        int max = last != NULL ? atoi(last + 1) : -1;
        const char *before = last;
        while (before != NULL && before > line && *--before != ',') {
        }
        int total = before != NULL ? atoi(before + 1) : -1;
        int good = strncmp(line, "\"good\"", 6) == 0;
        if (strstr(line, "\"graded\"") == NULL || (good ? total != max : total >= max) ||
            max != (int)ex->data.ntests)
            add_detail(detail, sizeof detail, "gradebook row: %s\n", line);
    }
    if (rows != 4)
        add_detail(detail, sizeof detail, "gradebook: %d lines, expected a header and 3 rows\n",
                   rows);
    free(csv);
    snprintf(p, sizeof p, "%s/summary.md", out);
    if (!file_has(p, "| test | failed by |") || !file_has(p, "of 3 |"))
        add_detail(detail, sizeof detail, "summary.md is missing or names no failing test\n");
    snprintf(p, sizeof p, "%s/results/hostile.json", out);
    if (!file_has(p, "kept running after it"))
        add_detail(detail, sizeof detail,
                   "the hostile submission's leftover processes were not "
                   "reported\n");
    /* Its tests ran five at once, and a test that starts no process (the command-line check)
     * still passes: the leftovers of the tests beside it were not blamed on it. */
    if (!file_has(p, "\"verdict\": \"pass\""))
        add_detail(detail, sizeof detail,
                   "no test of the hostile submission passed: the leftovers of a test were "
                   "blamed on the tests beside it\n");
    /* The batch's scratch copies live in our scratch folder (TMPDIR below): nothing whose
     * command line names it may be left (the [x] keeps grep from finding itself). */
    snprintf(script, sizeof script, "! ps -eo args | grep -q '/tmp/[%c]%s/'", k->tmp_dir[5],
             k->tmp_dir + 6);
    if (shell(script, NULL, NULL, 30, NULL) != 0)
        add_detail(detail, sizeof detail, "processes of the batch are still running\n");
    if (detail[0] != '\0')
        add_detail(detail, sizeof detail, "output:\n%s", res.output);
    check(k, detail[0] == '\0', detail,
          "--submissions -j 15: a correct, a broken and a hostile submission (fork "
          "burst, escaped process, output flood) graded apart, a test's leftovers blamed on it "
          "alone; gradebook and summary written (%.0f s)",
          res.seconds);
    proc_result_free(&res);
}

/* ---- Gradescope bundle ----------------------------------------------------------------- */

static void check_bundle(struct checks *k, const struct course *c)
{
    const struct course_exercise *ex = &c->exercises[0];
    char root[256], script[16384], detail[8192] = "", *out = NULL, env_root[300];

    snprintf(root, sizeof root, "%s/gs/autograder", k->tmp_dir);
    snprintf(env_root, sizeof env_root, "AUTOGRADER_ROOT=%s", root);
    snprintf(script, sizeof script,
             "set -e; r=%s; mkdir -p $r/source $r/submission $r/results; "
             "%s/%s/grader/grader --gradescope-bundle %s/../bundle.zip %s; "
             "cd $r/source && unzip -q ../../bundle.zip && test -x setup.sh && "
             "test -x run_autograder && test ! -e course/solutions; "
             "GRADE_SETUP_SKIP_PACKAGES=1 ./setup.sh; "
             "cp %s/solutions/%s/*.c %s/solutions/%s/*.h $r/submission/; "
             "GRADE_OPTIONS=--fast ./run_autograder >/dev/null",
             root, k->root, VERIFY_BUILD_DIR, root, ex->id, k->root, ex->dir, k->root, ex->dir);
    double started = util_now_s();
    int st = shell(script, k->root, (char *[]){env_root, NULL}, 1800, &out);
    char p[400];
    snprintf(p, sizeof p, "%s/results/results.json", root);
    json_error_t jerr;
    json_t *r = json_load_file(p, 0, &jerr);
    json_int_t score = json_integer_value(json_object_get(r, "score"));
    json_int_t max = json_integer_value(json_object_get(r, "max_score"));
    if (st != 0 || r == NULL || score != max || max <= 0 ||
        json_array_size(json_object_get(r, "tests")) != ex->data.ntests)
        add_detail(detail, sizeof detail, "exit %d, score %lld of %lld\n%s", st, (long long)score,
                   (long long)max, out);
    json_decref(r);
    free(out);
    check(k, detail[0] == '\0', detail,
          "--gradescope-bundle: setup.sh and run_autograder run in a Gradescope-like root; a "
          "correct %s scores full marks in results.json (%.0f s)",
          ex->id, util_now_s() - started);
}

void check_platforms(struct checks *k, const struct course *c)
{
    struct course hidden_course;
    char err[512];

    if (!util_is_dir("solutions")) {
        check(k, 0, NULL, "the platform checks need solutions/");
        return;
    }
    if (course_load(&hidden_course, "grader/course.json", err, sizeof err) != 0 ||
        hidden_course.nexercises < 2 || hidden_course.exercises[1].data.ntests < 3) {
        check(k, 0, err, "the platform checks load the course");
        return;
    }
    /* One test made hidden, in this copy of the course only. */
    hidden_course.exercises[1].data.tests[2].hidden = true;
    check_exports(k, &hidden_course);
    check_edition(k, &hidden_course, c);
    check_batch(k, c);
    check_bundle(k, c);

    /* --repeat: the flaky fixture passes every other run. */
    {
        char grader_path[4600], tmpdir[300];
        snprintf(grader_path, sizeof grader_path, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
        snprintf(tmpdir, sizeof tmpdir, "TMPDIR=%s", k->tmp_dir);
        char *rep[] = {grader_path,
                       "--build-dir",
                       VERIFY_BUILD_DIR,
                       "--tree",
                       "fixture-flaky",
                       "--repeat",
                       "4",
                       (char *)c->exercises[0].id,
                       (char *)c->exercises[0].data.tests[0].name,
                       NULL};
        for (size_t t = 0; t < c->exercises[0].data.ntests; t++)
            if (strcmp(c->exercises[0].data.tests[t].name, "test_one_client_gets_its_bytes_back") ==
                0)
                rep[8] = (char *)c->exercises[0].data.tests[t].name;
        struct proc_result rr;
        if (proc_run(rep, k->root, (char *[]){tmpdir, NULL}, 600, &rr) == 0) {
            check(k, exit_of(&rr) == 1 && strstr(rr.output, "flaky: passed 2 of 4 runs") != NULL,
                  rr.output,
                  "--repeat 4: the flaky fixture (passes every other run) is named "
                  "flaky and fails");
            proc_result_free(&rr);
        }
    }

    /* --diff in the course: the starter beside the reference. */
    char grader[4600], *argv[5];
    struct proc_result res;
    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    argv[0] = grader;
    argv[1] = "--diff";
    argv[2] = (char *)c->exercises[1].id;
    argv[3] = NULL;
    if (proc_run(argv, k->root, NULL, 60, &res) == 0) {
        check(k,
              exit_of(&res) == 0 && strstr(res.output, "your files (-) beside") != NULL &&
                  strstr(res.output, "+++ solutions/") != NULL,
              res.output, "--diff %s shows the starter beside the reference (diff -u)",
              c->exercises[1].id);
        proc_result_free(&res);
    }
    course_free(&hidden_course);
}
