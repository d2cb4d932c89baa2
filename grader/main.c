/*
 * main.c - the grader's command line. ./grader/grade (a shell launcher that installs what is
 * missing and builds this program) runs it from the repository root.
 *
 *   ./grader/grade                    grade every exercise in exercises/ (your code)
 *   ./grader/grade ex01               one exercise ("1", "ex01", "echo" all work)
 *   ./grader/grade ex01 TEST...       some tests of one exercise
 *   ./grader/grade --solutions        grade solutions/ instead
 *   ./grader/grade --list             name every exercise and test
 *   ./grader/grade --verify           check the whole course (what CI runs)
 *
 * Exit status: 0 every selected test passed, 1 some did not, 2 usage or set-up error.
 */
#include "course.h"
#include "edition.h"
#include "extras.h"
#include "grade.h"
#include "hint.h"
#include "proc.h"
#include "prove.h"
#include "report.h"
#include "starters.h"
#include "runner.h"
#include "util.h"
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_BUILD_DIR "build"             /* plain build: --fast, and the grader itself */
#define SANITIZED_BUILD_DIR "build-sanitized" /* the default for grading: ASan + UBSan */

static void usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "usage: %s [options] [EXERCISE [TEST...]]\n"
            "       %s hint [EXERCISE [TEST]]\n"
            "\n"
            "Grades your exercises (exercises/): builds each one, runs its tests, and explains\n"
            "the first failure. EXERCISE is an exercise's id, number or name: ex01, 1 or echo\n"
            "(--list shows them all).\n"
            "\n"
            "options:\n"
            "  --solutions       grade the reference solutions (solutions/) instead\n"
            "  --list            list the exercises and their tests, then exit\n"
            "  --fast            skip the sanitizers: quicker, but memory errors and leaks go\n"
            "                    unnoticed (by default tests run under ASan + UBSan)\n"
            "  --asan            run under ASan + UBSan even with --build-dir\n"
            "  --verbose         show full transcripts, compiler output and test output\n"
            "  --json FILE       also write every verdict, message and duration to FILE\n"
            "  --verify          check the whole course: solutions pass, starters fail, demos\n"
            "                    run, sanitizers are clean, the grader's own tests pass\n"
            "  --tree NAME       grade another tree of the build (e.g. a grader fixture)\n"
            "  --prove           instructors: show that every TODO is needed (each one taken\n"
            "                    out of the solution alone makes one of its tests fail) and\n"
            "                    that they can be done in order\n"
            "  --write-starters  instructors: remake exercises/ from the marked solutions\n"
            "                    (overwrites the starters' .c, .h and meson.build files)\n"
            "  --build-dir DIR   the meson build directory (default: build-sanitized, or build\n"
            "                    with --fast)\n"
            "%s"
            "  -h, --help        show this help\n"
            "\n"
            "exit status: 0 all selected tests pass, 1 some fail, 2 usage or set-up error\n",
            argv0, argv0, extras_usage);
}

static void list_course(const struct course *c)
{
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        printf("%s  %s  (exercises/%s)\n", ex->id, ex->title, ex->dir);
        for (size_t k = 0; k < ex->data.ntests; k++)
            printf("  %s\n", ex->data.tests[k].name);
    }
}

/* Points the student at the first thing to do, after a run that had failures: the first
 * exercise that is not done, and the TODO of its first failing test. Tests run in TODO order,
 * so that is also the earliest TODO any failing test points to, and the one the first-failure
 * report names. */
static void print_next_step(const struct exercise_result *results, size_t n, const char *tree)
{
    for (size_t i = 0; i < n; i++) {
        const struct exercise_result *er = &results[i];
        if (er->passed == er->ntests)
            continue;
        printf("\nNext: %s/%s", tree, er->ex->dir);
        if (er->build_log != NULL) {
            printf(" does not compile: fix the errors above first.\n");
            return;
        }
        const struct suite_todo *todo = NULL;
        for (size_t k = 0; k < er->ntests && todo == NULL; k++) {
            const struct suite_test *t = course_find_test(er->ex, er->tests[k].name);
            if (er->tests[k].verdict != VERDICT_PASS && t != NULL && !t->hidden)
                todo = course_test_todo(er->ex, t);
        }
        if (todo == NULL) {
            printf(": %zu of %zu tests still fail.\n", er->ntests - er->passed, er->ntests);
        } else if (er->passed == 0 && strcmp(tree, "exercises") == 0) {
            printf("/README.md explains the task; then start at TODO(%d): %s.\n", todo->number,
                   todo->title);
        } else {
            printf(": %zu of %zu tests still fail; next is TODO(%d): %s.\n",
                   er->ntests - er->passed, er->ntests, todo->number, todo->title);
        }
        return;
    }
}

/* Configures the sanitized build directory the first time. Returns 0, or -1 (said why). */
static int ensure_sanitized_build(const char *dir)
{
    char ninja[4200];
    struct proc_result res;

    snprintf(ninja, sizeof ninja, "%s/build.ninja", dir);
    if (util_is_file(ninja))
        return 0;
    fprintf(stderr,
            "Configuring %s/ with AddressSanitizer + UBSan (first run only; --fast skips "
            "the sanitizers)...\n",
            dir);
    char *argv[8] = {"meson", "setup"};
    int n = 2;
    if (util_is_dir(dir))
        argv[n++] = "--wipe"; /* a half-configured directory from an interrupted run */
    argv[n++] = (char *)dir;
    argv[n++] = "-Db_sanitize=address,undefined";
    argv[n++] = "-Db_lundef=false";
    argv[n] = NULL;
    if (proc_run(argv, NULL, NULL, LIMIT_SETUP_S, &res) != 0)
        util_oom();
    int ok = proc_ok(&res);
    if (!ok)
        fprintf(stderr, "%s\ngrade: meson setup %s failed (output above)\n", res.output, dir);
    proc_result_free(&res);
    return ok ? 0 : -1;
}

/* Instructors: takes each TODO out of the solution alone and names the test that catches it. */
static int prove_course(const struct course *c, const struct course_exercise *only)
{
    char cwd[4096], tmp_template[] = "/tmp/grade-prove-XXXXXX", err[4096];
    int missed = 0;

    if (getcwd(cwd, sizeof cwd) == NULL || mkdtemp(tmp_template) == NULL) {
        perror("grade: set-up");
        return 2;
    }
    struct runner r = {.root = cwd, .build_dir = "build-proof", .tmp_dir = tmp_template};
    if (prove_setup(&r, c, err, sizeof err) != 0) {
        fprintf(stderr, "grade: %s\n", err);
        return 2;
    }
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        if (only != NULL && ex != only)
            continue;
        printf("%s  %s\n", ex->id, ex->title);
        for (size_t t = 0; t < ex->data.ntodos; t++) {
            const struct suite_todo *todo = &ex->data.todos[t];
            struct prove_result res;
            fflush(stdout);
            if (prove_todo(&r, ex, todo->number, &res, err, sizeof err) != 0) {
                fprintf(stderr, "grade: %s\n", err);
                return 2;
            }
            if (res.nblocks == 0 || res.build_failed || res.caught_by == NULL)
                missed++;
            if (res.nblocks == 0)
                printf("  TODO(%d) %s: no STUDENT(%d) block in the solution\n", todo->number,
                       todo->title, todo->number);
            else if (res.build_failed)
                printf("  TODO(%d) %s: taken out, the solution does not compile:\n%s\n",
                       todo->number, todo->title, res.message);
            else if (res.caught_by == NULL)
                printf("  TODO(%d) %s: NOT NEEDED: taken out, its %d tests still pass\n",
                       todo->number, todo->title, res.ntests);
            else
                printf("  TODO(%d) %s: needed: without it %s gets %s\n", todo->number, todo->title,
                       res.caught_by, verdict_name(res.verdict));
            prove_result_free(&res);
        }
        /* In order: with TODOs 1..n written, every test of TODO n passes. */
        for (size_t t = 0; t < ex->data.ntodos; t++) {
            const struct suite_todo *todo = &ex->data.todos[t];
            struct prove_result res;
            fflush(stdout);
            if (prove_stage(&r, ex, todo->number, &res, err, sizeof err) != 0) {
                fprintf(stderr, "grade: %s\n", err);
                return 2;
            }
            if (res.build_failed || res.caught_by != NULL) {
                missed++;
                printf("  after TODOs 1..%d: %s %s\n", todo->number,
                       res.build_failed ? "does not compile" : res.caught_by,
                       res.build_failed ? "" : "still fails: it belongs to a later TODO");
            }
            prove_result_free(&res);
        }
        printf("  in order: %s\n",
               missed == 0 ? "after TODOs 1..n, every test of TODO n passes" : "see above");
        if (prove_restore(ex, err, sizeof err) != 0)
            fprintf(stderr, "grade: %s\n", err);
    }
    char *rm[] = {"rm", "-rf", tmp_template, NULL};
    struct proc_result ignored;
    if (proc_run(rm, NULL, NULL, 30, &ignored) == 0)
        proc_result_free(&ignored);
    printf("%s\n", missed == 0 ? "Every TODO is needed." : "Some TODOs are not proven needed.");
    return missed == 0 ? 0 : 1;
}

/* A new exercise's starter has just appeared: the build directories configured before it
 * existed do not know it yet. Returns 0, or 2 when a reconfiguration failed. */
static int reconfigure_builds(const char *dst)
{
    const char *dirs[] = {DEFAULT_BUILD_DIR, SANITIZED_BUILD_DIR, NULL};
    int status = 0;

    for (size_t i = 0; dirs[i] != NULL; i++) {
        char ninja[256];
        snprintf(ninja, sizeof ninja, "%s/build.ninja", dirs[i]);
        if (!util_is_file(ninja))
            continue;
        printf("%s is new: reconfiguring %s/\n", dst, dirs[i]);
        char *argv[] = {"meson", "setup", "--reconfigure", (char *)dirs[i], NULL};
        struct proc_result res;
        if (proc_run(argv, NULL, NULL, LIMIT_SETUP_S, &res) != 0)
            util_oom();
        if (!proc_ok(&res)) {
            fprintf(stderr, "%s\ngrade: meson setup --reconfigure %s failed\n", res.output,
                    dirs[i]);
            status = 2;
        }
        proc_result_free(&res);
    }
    return status;
}

/* Instructors: regenerates the starters (exercises/) from the marked solutions. An exercise
 * whose solution has no STUDENT markers is left alone: writing it would hand out the solution. */
static int make_starters(const struct course *c, const struct course_exercise *only)
{
    char err[512], scratch[] = "/tmp/grade-starters-XXXXXX";

    if (mkdtemp(scratch) == NULL) {
        perror("grade: set-up");
        return 2;
    }
    int status = 0;
    for (size_t i = 0; i < c->nexercises && status == 0; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        char src[512], dst[512], trial[600];
        int nblocks[64], blocks = 0;
        if (only != NULL && ex != only)
            continue;
        snprintf(src, sizeof src, "solutions/%s", ex->dir);
        snprintf(dst, sizeof dst, "exercises/%s", ex->dir);
        snprintf(trial, sizeof trial, "%s/%s", scratch, ex->dir);
        if (starters_write(src, &ex->data, STARTERS_ALL, trial, nblocks, err, sizeof err) != 0) {
            fprintf(stderr, "grade: %s\n", err);
            status = 2;
            break;
        }
        for (int n = 0; n < 64; n++)
            blocks += nblocks[n];
        if (blocks == 0) {
            printf("%s: left alone: solutions/%s has no STUDENT markers\n", dst, ex->dir);
            continue;
        }
        char build_file[600];
        snprintf(build_file, sizeof build_file, "%s/meson.build", dst);
        int is_new = !util_is_file(build_file);
        if (starters_write(src, &ex->data, STARTERS_ALL, dst, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "grade: %s\n", err);
            status = 2;
            break;
        }
        printf("%s: wrote the starter from %d marked blocks (%zu TODOs)\n", dst, blocks,
               ex->data.ntodos);
        if (is_new)
            status = reconfigure_builds(dst);
    }
    char *rm[] = {"rm", "-rf", scratch, NULL};
    struct proc_result ignored;
    if (proc_run(rm, NULL, NULL, 30, &ignored) == 0)
        proc_result_free(&ignored);
    return status;
}

int main(int argc, char **argv)
{
    const char *tree = "exercises";
    const char *build_dir = NULL;
    int fast = 0, asan = 0;
    const char *json_path = NULL;
    int verbose = 0, list = 0, verify = 0, write_starters = 0, prove = 0;
    char err[512];
    int argi = 1;
    struct extras xo = {0}; /* the options extras.h handles */

    proc_init(); /* leftover processes are stopped; Ctrl-C stops what runs */

    /* Options may come before or after the exercise and test names. */
    char **positional = calloc((size_t)argc + 1, sizeof *positional);
    int npos = 0;
    if (positional == NULL)
        return 2;
    for (; argi < argc; argi++) {
        const char *a = argv[argi];
        int xr;
        if (a[0] != '-') {
            positional[npos++] = argv[argi];
        } else if (strcmp(a, "--solutions") == 0) {
            tree = "solutions";
        } else if (strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if (strcmp(a, "--verify") == 0) {
            verify = 1;
        } else if (strcmp(a, "--fast") == 0) {
            fast = 1;
        } else if (strcmp(a, "--asan") == 0) {
            asan = 1;
        } else if (strcmp(a, "--prove") == 0) {
            prove = 1;
        } else if (strcmp(a, "--write-starters") == 0) {
            write_starters = 1;
        } else if ((strcmp(a, "--json") == 0 || strcmp(a, "--tree") == 0 ||
                    strcmp(a, "--build-dir") == 0) &&
                   argi + 1 < argc) {
            const char *v = argv[++argi];
            if (strcmp(a, "--json") == 0)
                json_path = v;
            else if (strcmp(a, "--tree") == 0)
                tree = v;
            else
                build_dir = v;
        } else if ((xr = extras_parse(&xo, argc, argv, &argi)) != 0) {
            if (xr < 0) {
                free(positional);
                return 2;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, "./grader/grade");
            free(positional);
            return 0;
        } else {
            fprintf(stderr, "grade: unknown option or missing value: %s\n\n", a);
            usage(stderr, "./grader/grade");
            free(positional);
            return 2;
        }
    }
    argi = 0;

    struct course course;
    if (!util_is_file("grader/course.json")) {
        fprintf(stderr, "grade: run me from the repository root (no grader/course.json here)\n");
        return 2;
    }
    if (course_load(&course, "grader/course.json", err, sizeof err) != 0) {
        fprintf(stderr, "grade: %s\n", err);
        return 2;
    }
    int status = 2;
    /* What needs the reference solutions says so when they are missing (a student edition). */
    const char *needs = prove                            ? "--prove"
                        : write_starters                 ? "--write-starters"
                        : verify                         ? "--verify"
                        : strcmp(tree, "solutions") == 0 ? "--solutions"
                                                         : NULL;
    if (!list && needs != NULL && (status = edition_require_solutions(needs)) != 0)
        goto out;
    status = 2;
    if (extras_chaos_setup(&xo, !list && !verify && !prove && !write_starters) != 0)
        goto out;
    if (xo.valgrind) {
        if (asan) {
            fprintf(stderr, "grade: --valgrind and --asan cannot be combined\n");
            goto out;
        }
        fast = 1; /* valgrind runs the plain build: it cannot run sanitized programs */
    }
    if (!list && !verify && !prove && !write_starters &&
        extras_command(&xo, &course, positional, npos, fast, &status))
        goto out;
    if (list) {
        list_course(&course);
        status = 0;
        goto out;
    }
    if (prove) {
        const struct course_exercise *only = npos > 0 ? course_find(&course, positional[0]) : NULL;
        if (npos > 0 && only == NULL) {
            fprintf(stderr, "grade: no exercise called %s (--list shows them)\n", positional[0]);
            goto out;
        }
        status = prove_course(&course, only);
        goto out;
    }
    if (write_starters) {
        const struct course_exercise *only = npos > 0 ? course_find(&course, positional[0]) : NULL;
        if (npos > 1 || (npos > 0 && only == NULL)) {
            fprintf(stderr, "grade: usage: ./grader/grade --write-starters [EXERCISE]\n");
            goto out;
        }
        status = make_starters(&course, only);
        goto out;
    }
    if (verify) {
        if (npos > 0) {
            fprintf(stderr, "grade: --verify checks the whole course and takes no exercise\n");
            goto out;
        }
        status = verify_course(&course, verbose);
        goto out;
    }

    /* Grading runs under AddressSanitizer + UBSan (leaks included) unless --fast: a leak or a
     * memory error fails the test that caused it. The sanitized build has its own directory. */
    if (fast && asan) {
        fprintf(stderr, "grade: --fast and --asan contradict each other\n");
        goto out;
    }
    int sanitized = asan || (!fast && build_dir == NULL);
    if (build_dir == NULL)
        build_dir = sanitized ? SANITIZED_BUILD_DIR : DEFAULT_BUILD_DIR;
    if (sanitized && ensure_sanitized_build(build_dir) != 0)
        goto out;

    /* `hint [EXERCISE [TEST]]`: the next hint, one step deeper each time. */
    if (npos > 0 && strcmp(positional[0], "hint") == 0) {
        const struct course_exercise *hex = npos > 1 ? course_find(&course, positional[1]) : NULL;
        char cwd[4096], tmp_dir[] = "/tmp/grade-hint-XXXXXX";
        if (npos > 3 || (npos > 1 && hex == NULL)) {
            fprintf(stderr, "grade: usage: ./grader/grade hint [EXERCISE [TEST]]\n");
            goto out;
        }
        if (getcwd(cwd, sizeof cwd) == NULL || mkdtemp(tmp_dir) == NULL) {
            perror("grade: set-up");
            goto out;
        }
        struct runner hr = {.root = cwd,
                            .build_dir = build_dir,
                            .tmp_dir = tmp_dir,
                            .sanitized = sanitized,
                            .jobs = xo.jobs};
        status = hint_next(&hr, &course, hex, npos > 2 ? positional[2] : NULL, tree);
        char *rm[] = {"rm", "-rf", tmp_dir, NULL};
        struct proc_result ignored;
        if (proc_run(rm, NULL, NULL, 30, &ignored) == 0)
            proc_result_free(&ignored);
        goto out;
    }

    /* Which exercises: all, or the one named (then the rest of argv are test names). */
    const struct course_exercise *only_ex = NULL;
    if (npos > 0) {
        only_ex = course_find(&course, positional[0]);
        if (only_ex == NULL) {
            char ids[256];
            course_exercise_ids(&course, ids, sizeof ids);
            fprintf(stderr, "grade: no exercise called %s (try %s, or --list)\n", positional[0],
                    ids);
            goto out;
        }
    }
    char *const *only_tests = npos > 1 ? positional + 1 : NULL;

    char tmp_template[] = "/tmp/grade-XXXXXX";
    char *tmp_dir = mkdtemp(tmp_template);
    char cwd[4096];
    if (tmp_dir == NULL || getcwd(cwd, sizeof cwd) == NULL) {
        perror("grade: cannot make a scratch directory");
        goto out;
    }
    struct runner r = {.root = cwd,
                       .build_dir = build_dir,
                       .tmp_dir = tmp_dir,
                       .sanitized = sanitized,
                       .valgrind = xo.valgrind,
                       .repeat = xo.repeat,
                       .jobs = xo.jobs};
    struct report_style st = report_style_for(stdout, verbose);
    char replay[256];
    extras_chaos_replay(&xo, tree, fast, replay, sizeof replay);
    st.replay = xo.chaos ? replay : NULL;
    struct exercise_result *results = calloc(course.nexercises + 1, sizeof *results);
    if (results == NULL)
        util_oom();
    size_t nres = 0, passed = 0, failed = 0;

    printf("Grading %s/ %s\n", tree,
           strcmp(tree, "exercises") == 0   ? "(your code)"
           : strcmp(tree, "solutions") == 0 ? "(the reference solutions)"
                                            : "");
    if (xo.chaos)
        printf("Chaos mode, seed %llu: sends are cut into random pieces, with pauses, and other\n"
               "clients come and go. Replay this run: %s\n",
               xo.chaos_seed, replay);
    const struct course_exercise **chosen = calloc(course.nexercises + 1, sizeof *chosen);
    if (chosen == NULL)
        util_oom();
    for (size_t i = 0; i < course.nexercises; i++)
        if (only_ex == NULL || &course.exercises[i] == only_ex)
            chosen[nres++] = &course.exercises[i];
    fflush(stdout);
    status = 0;
    if (grade_exercises(&r, chosen, nres, tree, only_tests, stdout, &st, results) != 0) {
        status = 2;
        nres = 0;
    }
    free(chosen);
    for (size_t i = 0; i < nres; i++) {
        passed += results[i].passed;
        failed += results[i].ntests - results[i].passed;
    }
    if (status != 2) {
        printf("\nSummary (%s/)\n", tree);
        for (size_t i = 0; i < nres; i++)
            printf("  %-5s %-32s %3zu/%zu passed%s\n", results[i].ex->id, results[i].ex->title,
                   results[i].passed, results[i].ntests,
                   results[i].build_log != NULL ? "  (build error)" : "");
        if (failed > 0)
            print_next_step(results, nres, tree);
        if (json_path != NULL && grade_write_json(json_path, tree, results, nres) != 0) {
            fprintf(stderr, "grade: cannot write %s\n", json_path);
            status = 2;
        }
        extras_after_grading(&xo, &course, tree, results, nres, &status);
        printf("%zu passed, %zu failed\n", passed, failed);
        if (status == 0)
            status = failed == 0 ? 0 : 1;
    }
    for (size_t i = 0; i < nres; i++)
        grade_result_free(&results[i]);
    free(results);

    /* Scratch files are only useful while the run lasts. */
    char *rm[] = {"rm", "-rf", tmp_dir, NULL};
    struct proc_result ignored;
    if (proc_run(rm, NULL, NULL, 30, &ignored) == 0)
        proc_result_free(&ignored);
out:
    course_free(&course);
    free(positional);
    return status;
}
