/*
 * extras.c - see extras.h. Parsing and dispatch only; each feature lives in its own file.
 */
#include "extras.h"

#include "batch.h"
#include "bundle.h"
#include "edition.h"
#include "export.h"
#include "learner.h"
#include "replay.h"

#include "chaos.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAOS_CLOCK_SEEDS 1000000 /* a seed picked from the clock is below this: easy to type */

const char extras_usage[] =
    "  --report FORMAT FILE  also write the results as FORMAT: gradescope (results.json),\n"
    "                    junit (XML) or tap; may be given up to 4 times\n"
    "  --watch           re-grade the exercise you work on each time you save one of its files\n"
    "  --diff            your files beside the reference's (diff -u), for a passing exercise\n"
    "  -j N              run N tests at once (default: three per CPU; 1: one after the other)\n"
    "  --repeat N        run each selected test N times and name the flaky ones\n"
    "  --valgrind        run the tests under valgrind memcheck (instead of ASan)\n"
    "  --replay FILE     send what a failing test sent (.grade/replay/EX/TEST.replay) to\n"
    "                    your program and the reference's, and show both answers\n"
    "  --chaos [SEED]    chaos mode: the tests send in random pieces, with pauses, and\n"
    "                    other clients come and go; SEED (a number) replays a run\n"
    "  --student-edition DIR  instructors: write the course without solutions/ into DIR, as a\n"
    "                    new git repository (a GitHub Classroom template)\n"
    "  --submissions DIR instructors: grade every submission (folder) in DIR, in parallel;\n"
    "                    -j N bounds the tests running at once over all of them; --out DIR\n"
    "                    (default DIR/../grades)\n"
    "  --gradescope-bundle FILE.zip  instructors: write the Gradescope autograder\n";

/* A seed: a decimal number. Returns 0 and sets *out, or -1. */
static int parse_seed(const char *v, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0' || errno != 0)
        return -1;
    *out = n;
    return 0;
}

static int parse_count(const char *opt, const char *v, unsigned *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > 1000) {
        fprintf(stderr, "grade: %s needs a number from 1 to 1000, not %s\n", opt, v);
        return -1;
    }
    *out = (unsigned)n;
    return 1;
}

int extras_parse(struct extras *x, int argc, char **argv, int *argi)
{
    const char *a = argv[*argi];
    x->argc = argc;
    x->argv = argv;
    const char *v = *argi + 1 < argc ? argv[*argi + 1] : NULL;

    if (strcmp(a, "--watch") == 0)
        return x->watch = 1;
    if (strcmp(a, "--diff") == 0)
        return x->diff = 1;
    if (strcmp(a, "--valgrind") == 0)
        return x->valgrind = 1;
    /* --chaos, --chaos SEED or --chaos=SEED: a number right after --chaos is the seed. */
    if (strcmp(a, "--chaos") == 0 || strncmp(a, "--chaos=", 8) == 0) {
        x->chaos = 1;
        if (a[7] == '=' && parse_seed(a + 8, &x->chaos_seed) != 0) {
            fprintf(stderr, "grade: --chaos=SEED needs a number, not %s\n", a + 8);
            return -1;
        }
        x->chaos_seeded = a[7] == '=';
        if (a[7] == '\0' && parse_seed(v, &x->chaos_seed) == 0) {
            x->chaos_seeded = 1;
            (*argi)++;
        }
        return 1;
    }
    int takes_value = strcmp(a, "--student-edition") == 0 || strcmp(a, "--submissions") == 0 ||
                      strcmp(a, "--out") == 0 || strcmp(a, "-j") == 0 ||
                      strcmp(a, "--gradescope-bundle") == 0 || strcmp(a, "--repeat") == 0 ||
                      strcmp(a, "--report") == 0 || strcmp(a, "--replay") == 0;
    if (!takes_value)
        return 0;
    if (v == NULL || (strcmp(a, "--report") == 0 && *argi + 2 >= argc)) {
        fprintf(stderr, "grade: %s needs a value\n", a);
        return -1;
    }
    (*argi)++;
    if (strcmp(a, "--student-edition") == 0)
        x->edition_dir = v;
    else if (strcmp(a, "--submissions") == 0)
        x->submissions_dir = v;
    else if (strcmp(a, "--out") == 0)
        x->out_dir = v;
    else if (strcmp(a, "--gradescope-bundle") == 0)
        x->bundle_path = v;
    else if (strcmp(a, "--replay") == 0)
        x->replay_path = v;
    else if (strcmp(a, "-j") == 0)
        return parse_count(a, v, &x->jobs);
    else if (strcmp(a, "--repeat") == 0)
        return parse_count(a, v, &x->repeat);
    else { /* --report FORMAT FILE */
        if (!export_known_format(v)) {
            fprintf(stderr, "grade: --report FORMAT: gradescope, junit or tap, not %s\n", v);
            return -1;
        }
        if (x->nreports == EXTRAS_MAX_REPORTS) {
            fprintf(stderr, "grade: at most %d --report options\n", EXTRAS_MAX_REPORTS);
            return -1;
        }
        x->report_fmt[x->nreports] = v;
        x->report_path[x->nreports++] = argv[++*argi];
    }
    return 1;
}

int extras_chaos_setup(struct extras *x, int grading)
{
    const char *env = getenv(CHAOS_ENV);
    char text[32];

    if (!grading) {
        unsetenv(CHAOS_ENV);
        x->chaos = 0;
        return 0;
    }
    if (!x->chaos_seeded && env != NULL && *env != '\0') {
        if (parse_seed(env, &x->chaos_seed) != 0) {
            fprintf(stderr, "grade: %s=%s: a chaos seed is a number\n", CHAOS_ENV, env);
            return -1;
        }
        x->chaos = x->chaos_seeded = 1;
    }
    if (!x->chaos)
        return 0;
    if (!x->chaos_seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x->chaos_seed =
            ((unsigned long long)ts.tv_sec * 1000003ull + (unsigned long long)ts.tv_nsec) %
            CHAOS_CLOCK_SEEDS;
        x->chaos_seeded = 1;
    }
    snprintf(text, sizeof text, "%llu", x->chaos_seed);
    setenv(CHAOS_ENV, text, 1);
    return 0;
}

void extras_chaos_replay(const struct extras *x, const char *tree, int fast, char *out,
                         size_t outsz)
{
    char tree_opt[160] = "";

    if (!x->chaos) {
        snprintf(out, outsz, "%s", "");
        return;
    }
    if (strcmp(tree, "solutions") == 0)
        snprintf(tree_opt, sizeof tree_opt, " --solutions");
    else if (strcmp(tree, "exercises") != 0)
        snprintf(tree_opt, sizeof tree_opt, " --tree %s", tree);
    snprintf(out, outsz, "./grader/grade --chaos %llu%s%s", x->chaos_seed, tree_opt,
             x->valgrind ? " --valgrind"
             : fast      ? " --fast"
                         : "");
}

/* The exercise named by the first positional argument, or NULL. *bad when it names none. */
static const struct course_exercise *named(const struct course *c, char **pos, int npos, int *bad)
{
    *bad = 0;
    if (npos == 0)
        return NULL;
    const struct course_exercise *ex = course_find(c, pos[0]);
    if (ex == NULL) {
        fprintf(stderr, "grade: no exercise called %s (--list shows them)\n", pos[0]);
        *bad = 1;
    }
    return ex;
}

int extras_command(const struct extras *x, const struct course *c, char **pos, int npos, int fast,
                   int *status)
{
    int bad;
    char err[512];

    if (x->edition_dir != NULL) {
        if (edition_write(c, x->edition_dir, err, sizeof err) != 0) {
            fprintf(stderr, "grade: --student-edition: %s\n", err);
            *status = 2;
        } else {
            printf("Wrote the student edition into %s/ (a git repository with one commit; no "
                   "solutions/).\n",
                   x->edition_dir);
            *status = 0;
        }
        return 1;
    }
    if (x->submissions_dir != NULL) {
        const struct course_exercise *only = named(c, pos, npos, &bad);
        *status = bad || npos > 1
                      ? 2
                      : batch_grade(c, x->submissions_dir, x->out_dir, x->jobs, fast, only);
        return 1;
    }
    if (x->bundle_path != NULL) {
        const struct course_exercise *only = named(c, pos, npos, &bad);
        *status = bad || npos > 1 ? 2 : bundle_write(x->bundle_path, only);
        return 1;
    }
    if (x->replay_path != NULL) {
        *status = npos > 0 ? 2 : replay_run(c, x->replay_path, fast);
        if (npos > 0)
            fprintf(stderr, "grade: --replay FILE takes no exercise or test\n");
        return 1;
    }
    if (x->watch) {
        const struct course_exercise *only = named(c, pos, npos, &bad);
        char self[4096];
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        char **cmd = calloc((size_t)x->argc + 2, sizeof *cmd);
        if (bad || len <= 0 || cmd == NULL) {
            *status = 2;
            free(cmd);
            return 1;
        }
        self[len] = '\0';
        int n = 0;
        cmd[n++] = self;
        for (int i = 1; i < x->argc; i++)
            if (strcmp(x->argv[i], "--watch") != 0 && (npos == 0 || x->argv[i] != pos[0]))
                cmd[n++] = x->argv[i];
        cmd[n] = NULL;
        (void)fast;
        *status = learner_watch(c, only, cmd);
        free(cmd);
        return 1;
    }
    if (x->diff) {
        const struct course_exercise *only = named(c, pos, npos, &bad);
        *status = bad ? 2 : learner_diff(c, only);
        return 1;
    }
    return 0;
}

void extras_after_grading(const struct extras *x, const struct course *c, const char *tree,
                          const struct exercise_result *results, size_t n, int *status)
{
    char err[512];

    for (size_t i = 0; i < x->nreports; i++) {
        if (export_write(x->report_fmt[i], x->report_path[i], tree, results, n, err, sizeof err) !=
            0) {
            fprintf(stderr, "grade: %s\n", err);
            *status = 2;
        }
    }
    if (strcmp(tree, "exercises") == 0)
        learner_progress(c, results, n);
}
