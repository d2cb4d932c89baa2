/*
 * verify_modes.c - the grader's own tests of its run modes: --chaos (the solutions of one
 * exercise pass under a fixed seed, and the seed is shown), --watch (a save is re-graded, with
 * inotify and by polling, and Ctrl-C ends the watch at once) and --valgrind (memcheck's report
 * lands on the test that leaked, and only there). The chaos fixture, whose bug only chaos
 * reveals, is checked with the other fixtures (verify_grader.c).
 */
#include "verify_internal.h"

#include "learner.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODES_CHAOS_SEED "2024"                  /* the fixed seed the solutions are graded with */
#define MODES_WATCH_TREE "fixture-compile-error" /* graded in a second: it does not compile */
#define MODES_WATCH_GRADE_MS 60000               /* one grading run of the watch */
#define MODES_WATCH_STOP_MS 5000                 /* Ctrl-C to exit */
#define MODES_WATCH_OUT_MAX (256 * 1024)
#define MODES_WATCH_BANNER "Watching exercises/" /* printed after each grading run */

/* ---- --chaos ----------------------------------------------------------------------------- */

static void check_chaos_solutions(struct checks *k, const struct course_exercise *ex)
{
    int status = -1;
    char *output = NULL, detail[8192] = "";
    char *opts[] = {"--chaos", MODES_CHAOS_SEED, NULL};
    double start = util_now_s();

    json_t *report = grade_via_cli(k, "solutions", ex->id, NULL, opts, &status, &output);
    size_t passed = verdicts_are(report, "pass", detail, sizeof detail);
    if (report == NULL || status != 0 || passed != ex->data.ntests)
        add_detail(detail, sizeof detail, "exit status %d, %zu of %zu tests pass\n", status, passed,
                   ex->data.ntests);
    if (output == NULL || strstr(output, "Chaos mode, seed " MODES_CHAOS_SEED ":") == NULL)
        add_detail(detail, sizeof detail, "the output does not name the seed\n");
    if (detail[0] != '\0' && output != NULL)
        add_detail(detail, sizeof detail, "grader output:\n%s", output);
    check(k, detail[0] == '\0', detail,
          "--chaos " MODES_CHAOS_SEED ": %s's solutions pass every test, sends cut into pieces "
          "and other clients coming and going; the seed is shown (%.0f s)",
          ex->id, util_now_s() - start);
    json_decref(report);
    free(output);
}

/* ---- --watch ----------------------------------------------------------------------------- */

struct watch_run {
    pid_t pid;
    int out; /* its stdout and stderr */
    char text[MODES_WATCH_OUT_MAX];
    size_t len;
};

/* How many times `needle` occurs in the output so far. */
static int occurrences(const struct watch_run *w, const char *needle)
{
    int n = 0;
    for (const char *p = w->text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Reads the output until `needle` has appeared `count` times, the pipe closes or ms pass.
 * Returns 1 when it has. */
static int watch_wait(struct watch_run *w, const char *needle, int count, int ms)
{
    double end = util_now_s() + ms / 1000.0;
    while (occurrences(w, needle) < count && util_now_s() < end) {
        struct pollfd p = {.fd = w->out, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(w->out, w->text + w->len, sizeof w->text - 1 - w->len);
        if (n <= 0)
            break;
        w->len += (size_t)n;
        w->text[w->len] = '\0';
    }
    return occurrences(w, needle) >= count;
}

/* Starts argv in `dir`, in a process group of its own (as a shell runs a command), with its
 * output on a pipe and `env` added. Returns 0 or -1. */
static int watch_start(struct watch_run *w, const char *dir, char *const argv[], char *env)
{
    char *env_add[] = {env, NULL};
    w->len = 0;
    w->text[0] = '\0';
    w->pid = proc_spawn(argv, dir, env_add, &w->out);
    return w->pid > 0 ? 0 : -1;
}

/* Ctrl-C, as a terminal sends it: SIGINT to the whole group. Returns the seconds it took to
 * exit, or -1 when it had to be killed; *status gets its wait status; *left says whether any
 * process of its group outlived it. */
static double watch_interrupt(struct watch_run *w, int *status, int *left)
{
    double start = util_now_s();
    *status = 0;
    kill(-w->pid, SIGINT);
    while (util_now_s() - start < MODES_WATCH_STOP_MS / 1000.0) {
        if (waitpid(w->pid, status, WNOHANG) == w->pid) {
            double took = util_now_s() - start;
            *left = kill(-w->pid, 0) == 0;
            kill(-w->pid, SIGKILL);
            close(w->out);
            return took;
        }
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    kill(-w->pid, SIGKILL);
    waitpid(w->pid, status, 0);
    close(w->out);
    *left = 0;
    return -1;
}

/* Saves `path` as an editor would: new contents, written and closed. */
static int save_file(const char *path)
{
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -1;
    fputs("\n", f);
    return fclose(f);
}

/* One watch, started in `dir` (a scratch copy of the course's data files and one exercise),
 * with `env` (NULL: inotify). */
static void check_watch(struct checks *k, const char *dir, const struct course_exercise *ex,
                        char *env, const char *how)
{
    char grader[4600], build[4200], saved[4600], detail[8192] = "";
    struct watch_run *w = calloc(1, sizeof *w);
    if (w == NULL)
        util_oom();
    snprintf(grader, sizeof grader, "%s/%s/grader/grader", k->root, VERIFY_BUILD_DIR);
    snprintf(build, sizeof build, "%s/%s", k->root, VERIFY_BUILD_DIR);
    snprintf(saved, sizeof saved, "%s/exercises/%s/main.c", dir, ex->dir);
    char *argv[] = {grader,           "--build-dir", build,          "--tree",
                    MODES_WATCH_TREE, "--watch",     (char *)ex->id, NULL};
    double start = util_now_s();

    if (watch_start(w, dir, argv, env) != 0) {
        check(k, 0, strerror(errno), "--watch (%s) starts", how);
        free(w);
        return;
    }
    int first = watch_wait(w, MODES_WATCH_BANNER, 1, MODES_WATCH_GRADE_MS);
    int regraded = 0;
    if (!first)
        add_detail(detail, sizeof detail, "no first grading run\n");
    else if (save_file(saved) != 0)
        add_detail(detail, sizeof detail, "cannot save %s: %s\n", saved, strerror(errno));
    else if (!(regraded = watch_wait(w, MODES_WATCH_BANNER, 2, MODES_WATCH_GRADE_MS)))
        add_detail(detail, sizeof detail, "saving %s did not grade %s again\n", saved, ex->id);
    if (regraded && occurrences(w, "build error") < 2)
        add_detail(detail, sizeof detail, "the second run did not grade %s\n", MODES_WATCH_TREE);
    int status, left;
    double took = watch_interrupt(w, &status, &left);
    int clean = took >= 0 && !left &&
                ((WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) ||
                 (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 130)));
    if (!clean)
        add_detail(detail, sizeof detail, "after SIGINT: %s (wait status %d)%s\n",
                   took < 0 ? "still running" : "ended", status,
                   left ? ", and some of its processes were still running" : "");
    if (detail[0] != '\0')
        add_detail(detail, sizeof detail, "output:\n%s", w->text);
    check(k, detail[0] == '\0', detail,
          "--watch (%s): graded once, graded again when a file was saved, ended by Ctrl-C in "
          "%.1f s (%.0f s in all)",
          how, took, util_now_s() - start);
    free(w);
}

/* A scratch course to watch: the data files the grader reads, and one exercise's files. The
 * build is the verify build (absolute), so nothing is compiled twice. Returns 0 or -1. */
static int watch_scratch(struct checks *k, const struct course_exercise *ex, char *dir,
                         size_t dirsz)
{
    char script[4096];
    snprintf(dir, dirsz, "%s/watch", k->tmp_dir);
    snprintf(script, sizeof script,
             "set -e; w=%s; mkdir -p $w/grader $w/exercises; cp grader/course.json $w/grader/; "
             "for t in tests/*/tests.json; do mkdir -p $w/$(dirname $t); cp $t $w/$t; done; "
             "cp -R exercises/%s $w/exercises/",
             dir, ex->dir);
    char *argv[] = {"sh", "-c", script, NULL};
    struct proc_result res;
    if (proc_run(argv, k->root, NULL, 60, &res) != 0)
        util_oom();
    int ok = proc_ok(&res);
    if (!ok)
        check(k, 0, res.output, "--watch: a scratch copy to watch");
    proc_result_free(&res);
    return ok ? 0 : -1;
}

/* ---- --valgrind -------------------------------------------------------------------------- */

/* The leak fixture under memcheck: the test in which a client connects gets the report, and a
 * test without a client passes with none. */
static void check_valgrind(struct checks *k, const struct course_exercise *ex)
{
    const char *leaky = "test_one_client_gets_its_bytes_back";
    const char *clean = "test_command_line_is_checked";
    const char *tests[] = {clean, leaky, NULL};
    char *opts[] = {"--valgrind", NULL};
    char detail[8192] = "";
    int status = -1;
    char *output = NULL;
    double start = util_now_s();

    if (course_find_test(ex, leaky) == NULL || course_find_test(ex, clean) == NULL) {
        check(k, 0, NULL, "--valgrind: %s has the tests %s and %s", ex->id, leaky, clean);
        return;
    }
    json_t *report = grade_via_cli(k, "fixture-leak", ex->id, tests, opts, &status, &output);
    json_t *t = json_object_get(json_array_get(json_object_get(report, "exercises"), 0), "tests");
    const char *v_clean = json_string_value(json_object_get(json_array_get(t, 0), "verdict"));
    const char *v_leaky = json_string_value(json_object_get(json_array_get(t, 1), "verdict"));
    if (report == NULL || status != 1 || v_clean == NULL || strcmp(v_clean, "pass") != 0 ||
        v_leaky == NULL || strcmp(v_leaky, "sanitizer") != 0)
        add_detail(detail, sizeof detail,
                   "exit status %d; %s: %s (expected pass), %s: %s "
                   "(expected sanitizer)\n",
                   status, clean, v_clean, leaky, v_leaky);
    /* The first failure's details hold memcheck's report, with the fixture's function. */
    const char *failure = output != NULL ? strstr(output, "First failure: ") : NULL;
    if (failure == NULL || strncmp(failure + 15, leaky, strlen(leaky)) != 0 ||
        strstr(failure, "definitely lost") == NULL || strstr(failure, "fixture_serve") == NULL)
        add_detail(detail, sizeof detail,
                   "the first failure is not %s with memcheck's report of the leak in "
                   "fixture_serve\n",
                   leaky);
    if (detail[0] != '\0' && output != NULL)
        add_detail(detail, sizeof detail, "grader output:\n%s", output);
    check(k, detail[0] == '\0', detail,
          "--valgrind: the leak fixture's report lands on %s, which a client connected to; %s "
          "passes (%.0f s)",
          leaky, clean, util_now_s() - start);
    json_decref(report);
    free(output);
}

static int have_valgrind(void)
{
    char *argv[] = {"valgrind", "--version", NULL};
    struct proc_result res;
    if (proc_run(argv, NULL, NULL, 30, &res) != 0)
        util_oom();
    int ok = proc_ok(&res);
    proc_result_free(&res);
    return ok;
}

void check_modes(struct checks *k, const struct course *c)
{
    const struct course_exercise *ex = &c->exercises[0];
    char dir[256];

    check_chaos_solutions(k, ex);
    if (watch_scratch(k, ex, dir, sizeof dir) == 0) {
#ifdef __linux__
        check_watch(k, dir, ex, NULL, "inotify");
#endif
        check_watch(k, dir, ex, LEARNER_WATCH_POLL_ENV "=1", "polling, " LEARNER_WATCH_POLL_ENV);
    }
    if (have_valgrind())
        check_valgrind(k, ex);
    else
        printf("  skip --valgrind: valgrind is not installed\n");
}
