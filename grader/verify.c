/*
 * verify.c - see verify.h. The checks themselves live in verify_*.c, one job per file; this file
 * holds the bookkeeping every check shares and runs them in order. Each check prints "ok" or
 * "FAIL" and a description; a failing check prints what it saw underneath. Checks keep going
 * after a failure so one run shows everything that is wrong.
 */
#include "verify.h"
#include "verify_internal.h"

#include "grade.h"
#include "proc.h"
#include "report.h"
#include "runner.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Each heading says how long the verification has run, so a slow part shows. */
void section(struct checks *k, const char *title)
{
    if (k->started == 0)
        k->started = util_now_s();
    printf("\n%s%s%s (at %.0f s)\n", report_bold(&k->st), title, report_reset(&k->st),
           util_now_s() - k->started);
    fflush(stdout);
}

/* Records one check. `detail` (may be NULL) is printed under a failure, trimmed. */
int check(struct checks *k, int ok, const char *detail, const char *fmt, ...)
{
    va_list ap;

    printf("  %s%-4s%s ", report_color(&k->st, ok ? VERDICT_PASS : VERDICT_FAIL),
           ok ? "ok" : "FAIL", report_reset(&k->st));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok && detail != NULL && *detail != '\0') {
        int lines = 0;
        const char *cursor = detail, *line;
        size_t len;
        while (util_next_line(&cursor, &line, &len)) {
            if (k->verbose || lines < DETAIL_LINES)
                printf("         %.*s\n", (int)len, line);
            lines++;
        }
        if (!k->verbose && lines > DETAIL_LINES)
            printf("         ... (%d more lines; --verbose shows all)\n", lines - DETAIL_LINES);
    }
    fflush(stdout);
    if (ok)
        k->passed++;
    else
        k->failed++;
    return ok;
}

/* Appends printf output to a growing detail buffer (bounded). */
void add_detail(char *buf, size_t bufsz, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    if (len + 1 >= bufsz)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + len, bufsz - len, fmt, ap);
    va_end(ap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files directly in `dir`, sorted; NULL-terminated. NULL if dir is missing. */
char **list_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    if (names == NULL)
        util_oom();
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || !util_is_file(path))
            continue;
        if (n + 2 > cap) {
            char **bigger = realloc(names, (cap *= 2) * sizeof *names);
            if (bigger == NULL)
                util_oom();
            names = bigger;
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    names[n] = NULL;
    qsort(names, n, sizeof *names, cmp_str);
    return names;
}

int has_name(char **names, const char *name)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- the whole verification ------------------------------------------------------------ */

int verify_course(const struct course *c, int verbose)
{
    struct checks k = {.verbose = verbose, .started = util_now_s()};
    k.st = report_style_for(stdout, verbose);
    snprintf(k.tmp_dir, sizeof k.tmp_dir, "/tmp/grade-verify-XXXXXX");
    if (getcwd(k.root, sizeof k.root) == NULL || mkdtemp(k.tmp_dir) == NULL) {
        perror("grade: set-up");
        return 2;
    }
    struct runner plain = {.root = k.root, .build_dir = VERIFY_BUILD_DIR, .tmp_dir = k.tmp_dir};
    struct runner asan = {
        .root = k.root, .build_dir = VERIFY_ASAN_DIR, .tmp_dir = k.tmp_dir, .sanitized = 1};

    printf("Verifying the course: builds, both trees, demos, the grader, sanitizers.\n");
    section(&k, "Build (warnings are errors)");
    char *plain_opts[] = {"-Dwerror=true", NULL};
    int built =
        build_all(&k, VERIFY_BUILD_DIR, plain_opts, "everything compiles without a warning");

    section(&k, "The course's files");
    for (size_t i = 0; i < c->nexercises; i++) {
        check_mirror(&k, &c->exercises[i]);
        if (built)
            check_test_names(&k, &plain, &c->exercises[i]);
    }
    check_tests_cite_no_todo(&k, c);
    check_exercise_lists(&k, c);
    check_spec_literals(&k, c);
    check_portable(&k);
    check_format(&k);
    check_starters_generated(&k, c);
    check_docs(&k, c);
    check_lecture_quotes(&k);

    if (built) {
        section(&k, "Solutions pass every test");
        run_tree(&k, &plain, c, "solutions", "solutions:");

        section(&k, "Starters fail every test, cleanly");
        run_tree(&k, &plain, c, "exercises", "starter:");

        section(&k, "Every TODO is needed, and they can be done in order");
        check_every_todo_needed(&k, c);
        check_todos_in_order(&k, c);

        section(&k, "Lecture demos");
        run_demos(&k, c, VERIFY_BUILD_DIR, 0);

        section(&k, "The grader's own tests");
        check_fixtures(&k, c, 0);
        check_grader_cli(&k, c);
        check_failure_files(&k, c);
        check_modes(&k, c);
        check_platforms(&k, c);
    }

    section(&k, "AddressSanitizer + UBSan");
    char *asan_opts[] = {"-Dwerror=true", "-Db_sanitize=address,undefined", "-Db_lundef=false",
                         NULL};
    if (build_all(&k, VERIFY_ASAN_DIR, asan_opts,
                  "everything compiles with -fsanitize=address,undefined")) {
        run_tree(&k, &asan, c, "solutions", "solutions under ASan+UBSan:");
        run_demos(&k, c, VERIFY_ASAN_DIR, 1);
        /* The fixtures that prove what the grader says (where a loop is blocked, what a test
         * left behind) say it in the sanitized build too, the one students grade in. */
        if (built)
            check_fixtures(&k, c, 1);
    }
    if (built)
        verify_reliability(&k);

    char *rm[] = {"rm", "-rf", k.tmp_dir, NULL};
    struct proc_result ignored;
    if (proc_run(rm, NULL, NULL, 30, &ignored) == 0)
        proc_result_free(&ignored);

    printf("\n%s (%.0f s)\n%d passed, %d failed\n",
           k.failed == 0 ? "The course verifies." : "The course does NOT verify: see FAIL above.",
           util_now_s() - k.started, k.passed, k.failed);
    return k.failed == 0 ? 0 : 1;
}
