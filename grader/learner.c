/*
 * learner.c - see learner.h.
 */
#include "learner.h"

#include "edition.h"
#include "proc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#define WATCH_POLL_MS 500    /* polling interval where there is no inotify */
#define LEARNER_WATCH_MAX 64 /* exercise folders inotify watches (a course has a few) */

/* ---- progress --------------------------------------------------------------------------- */

void learner_progress(const struct course *c, const struct exercise_result *results, size_t n)
{
    json_error_t jerr;
    json_t *state = json_load_file(LEARNER_PROGRESS_FILE, 0, &jerr);
    if (!json_is_object(state)) {
        json_decref(state);
        state = json_object();
    }
    json_t *exs = json_object_get(state, "exercises");
    if (!json_is_object(exs)) {
        exs = json_object();
        json_object_set_new(state, "exercises", exs);
    }
    /* Only a run of every test of an exercise says where the exercise stands. */
    for (size_t i = 0; i < n; i++) {
        const struct exercise_result *er = &results[i];
        if (er->ntests != er->ex->data.ntests)
            continue;
        json_object_set_new(exs, er->ex->id,
                            json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:b, s:I}", "title",
                                      er->ex->title, "passed", (json_int_t)er->passed, "total",
                                      (json_int_t)er->ntests, "points", (json_int_t)er->points,
                                      "max_points", (json_int_t)er->max_points, "builds",
                                      er->build_log == NULL, "done", er->passed == er->ntests,
                                      "graded_at", (json_int_t)time(NULL)));
    }

    printf("\nProgress across the course (%s)\n", LEARNER_PROGRESS_FILE);
    char next[512] = "";
    int done = 0;
    for (size_t i = 0; i < c->nexercises; i++) {
        const struct course_exercise *ex = &c->exercises[i];
        json_t *e = json_object_get(exs, ex->id);
        if (e == NULL) {
            printf("  %-5s %-32s not graded yet\n", ex->id, ex->title);
            if (next[0] == '\0')
                snprintf(next, sizeof next, "./grader/grade %s (not graded yet)", ex->id);
            continue;
        }
        json_int_t passed = json_integer_value(json_object_get(e, "passed"));
        json_int_t total = json_integer_value(json_object_get(e, "total"));
        int is_done = json_is_true(json_object_get(e, "done"));
        int bar = total > 0 ? (int)(20 * passed / total) : 0;
        printf("  %-5s %-32s [%.*s%.*s] %3lld/%lld%s\n", ex->id, ex->title, bar,
               "####################", 20 - bar, "....................", (long long)passed,
               (long long)total, is_done ? "  done" : "");
        done += is_done;
        if (!is_done && next[0] == '\0')
            snprintf(next, sizeof next,
                     "finish %s: ./grader/grade %s (then ./grader/grade hint "
                     "%s when stuck)",
                     ex->id, ex->id, ex->id);
    }
    if (next[0] == '\0')
        snprintf(next, sizeof next,
                 "every exercise passes: compare your code with the "
                 "reference's (./grader/grade --diff)");
    printf("  %d of %zu exercises done. Next: %s\n", done, c->nexercises, next);
    json_object_set_new(state, "next", json_string(next));
    json_object_set_new(state, "done", json_integer(done));
    if (mkdir(".grade", 0777) == 0 || errno == EEXIST)
        json_dump_file(state, LEARNER_PROGRESS_FILE, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(state);
}

/* ---- --diff ----------------------------------------------------------------------------- */

static int diff_exercise(const struct course_exercise *ex)
{
    char mine[600], ref[600];
    snprintf(mine, sizeof mine, "exercises/%s", ex->dir);
    snprintf(ref, sizeof ref, "solutions/%s", ex->dir);
    printf("== %s %s: your files (-) beside the reference's (+)\n", ex->id, ex->title);
    char *argv[] = {"diff", "-u", "-r", "-x", "README.md", "-x", "meson.build", mine, ref, NULL};
    struct proc_result res;
    if (proc_run(argv, NULL, NULL, 60, &res) != 0)
        util_oom();
    fputs(res.output_len > 0 ? res.output : "(identical)\n", stdout);
    proc_result_free(&res);
    return 0;
}

int learner_diff(const struct course *c, const struct course_exercise *only)
{
    if (edition_require_solutions("--diff") != 0)
        return 2;
    if (only != NULL)
        return diff_exercise(only);
    json_error_t jerr;
    json_t *state = json_load_file(LEARNER_PROGRESS_FILE, 0, &jerr);
    int shown = 0;
    for (size_t i = 0; i < c->nexercises; i++) {
        json_t *e = json_object_get(json_object_get(state, "exercises"), c->exercises[i].id);
        if (json_is_true(json_object_get(e, "done")))
            shown += diff_exercise(&c->exercises[i]) == 0;
    }
    json_decref(state);
    if (shown == 0) {
        fprintf(stderr, "grade: no exercise passes yet (./grader/grade records that); name one "
                        "to compare anyway: ./grader/grade --diff ex01\n");
        return 2;
    }
    return 0;
}

/* ---- --repeat --------------------------------------------------------------------------- */

void learner_run_test(const struct runner *r, const char *tree, const struct course_exercise *ex,
                      const char *test, unsigned repeat, struct test_result *res)
{
    runner_run_test(r, tree, ex, test, res);
    unsigned passes = res->verdict == VERDICT_PASS;
    for (unsigned i = 1; i < repeat; i++) {
        struct test_result again;
        runner_run_test(r, tree, ex, test, &again);
        passes += again.verdict == VERDICT_PASS;
        res->seconds += again.seconds;
        if (res->verdict == VERDICT_PASS && again.verdict != VERDICT_PASS) {
            double secs = res->seconds;
            runner_result_free(res); /* keep the failing run: it says what went wrong */
            *res = again;
            res->seconds = secs;
        } else {
            runner_result_free(&again);
        }
    }
    if (repeat > 1 && passes > 0 && passes < repeat) {
        char head[128];
        snprintf(head, sizeof head,
                 LEARNER_FLAKY_PREFIX "passed %u of %u runs; a failing run "
                                      "said: ",
                 passes, repeat);
        char *msg = malloc(strlen(head) + strlen(res->message) + 1);
        if (msg == NULL)
            util_oom();
        sprintf(msg, "%s%s", head, res->message);
        free(res->message);
        res->message = msg;
        res->verdict = VERDICT_FAIL;
    }
}

/* ---- --watch ---------------------------------------------------------------------------- */

/* A fingerprint of the .c and .h files of exercises/DIR: their names, sizes and modification
 * times. Times are whole seconds (all that stat() promises everywhere), so a save in the same
 * second as the one before is seen by its new size; only one that keeps the size exactly, in
 * the same second, goes unnoticed. */
static uint64_t fingerprint(const char *dir)
{
    char path[600];
    uint64_t sum = 0;
    snprintf(path, sizeof path, "exercises/%s", dir);
    DIR *d = opendir(path);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        struct stat st;
        char file[1200];
        size_t n = strlen(e->d_name);
        if (n < 3 || (strcmp(e->d_name + n - 2, ".c") != 0 && strcmp(e->d_name + n - 2, ".h") != 0))
            continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (stat(file, &st) != 0)
            continue;
        uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the name, then the size and time */
        for (const char *p = e->d_name; *p != '\0'; p++)
            h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
        h ^= (uint64_t)st.st_size * 0xc2b2ae3d27d4eb4full;
        h ^= (uint64_t)st.st_mtime * 0x9e3779b97f4a7c15ull;
        sum += h; /* a sum: the order readdir() gives does not matter */
    }
    if (d != NULL)
        closedir(d);
    return sum;
}

/* What watches the exercises' folders: inotify on Linux (unless LEARNER_WATCH_POLL_ENV is
 * set), else nothing, and wait_for_save() polls. */
struct watcher {
    int fd; /* the inotify descriptor, or -1 */
    int wd[LEARNER_WATCH_MAX];
};

/* Starts watching before the grading run, so that a save during the run counts too. */
static void watch_begin(struct watcher *w, const struct course *c)
{
    const char *poll_env = getenv(LEARNER_WATCH_POLL_ENV);
    w->fd = -1;
    if (poll_env != NULL && *poll_env != '\0')
        return;
#ifdef __linux__
    w->fd = inotify_init1(IN_CLOEXEC);
    for (size_t i = 0; w->fd >= 0 && i < c->nexercises && i < LEARNER_WATCH_MAX; i++) {
        char path[600];
        snprintf(path, sizeof path, "exercises/%s", c->exercises[i].dir);
        w->wd[i] = inotify_add_watch(w->fd, path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    }
#else
    (void)c;
#endif
}

/* Waits until a .c or .h file of an exercise is saved; returns that exercise. Ends the watch
 * `w` began. */
static const struct course_exercise *wait_for_save(const struct course *c, struct watcher *w,
                                                   uint64_t *seen)
{
#ifdef __linux__
    if (w->fd >= 0) {
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        for (;;) {
            ssize_t len = read(w->fd, buf, sizeof buf);
            if (len <= 0 && errno != EINTR)
                break;
            for (char *p = buf; len > 0 && p < buf + len;) {
                struct inotify_event *ev = (struct inotify_event *)p;
                size_t n = ev->len > 0 ? strlen(ev->name) : 0;
                if (n > 2 &&
                    (strcmp(ev->name + n - 2, ".c") == 0 || strcmp(ev->name + n - 2, ".h") == 0)) {
                    for (size_t i = 0; i < c->nexercises && i < LEARNER_WATCH_MAX; i++) {
                        if (w->wd[i] == ev->wd) {
                            close(w->fd);
                            return &c->exercises[i];
                        }
                    }
                }
                p += sizeof *ev + ev->len;
            }
        }
        close(w->fd); /* inotify failed: poll instead */
    }
#endif
    for (;;) { /* polling: the fingerprints of every exercise's files */
        for (size_t i = 0; i < c->nexercises; i++) {
            uint64_t now = fingerprint(c->exercises[i].dir);
            if (now != seen[i]) {
                seen[i] = now;
                return &c->exercises[i];
            }
        }
        struct timespec pause = {0, WATCH_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
}

int learner_watch(const struct course *c, const struct course_exercise *only, char *const argv[])
{
    size_t argc = 0;
    while (argv[argc] != NULL)
        argc++;
    char **cmd = calloc(argc + 2, sizeof *cmd);
    uint64_t *seen = calloc(c->nexercises + 1, sizeof *seen);
    if (cmd == NULL || seen == NULL)
        util_oom();
    memcpy(cmd, argv, argc * sizeof *cmd);
    for (size_t i = 0; i < c->nexercises; i++)
        seen[i] = fingerprint(c->exercises[i].dir);
    /* First the exercise named, else the first one the progress file does not call done. */
    const struct course_exercise *ex = only;
    json_error_t jerr;
    json_t *state = json_load_file(LEARNER_PROGRESS_FILE, 0, &jerr);
    for (size_t i = 0; ex == NULL && i < c->nexercises; i++) {
        json_t *e = json_object_get(json_object_get(state, "exercises"), c->exercises[i].id);
        if (!json_is_true(json_object_get(e, "done")))
            ex = &c->exercises[i];
    }
    json_decref(state);
    if (ex == NULL)
        ex = &c->exercises[0];
    for (;;) {
        struct watcher w;
        watch_begin(&w, c);
        cmd[argc] = (char *)ex->id;
        struct proc_result res;
        if (proc_run(cmd, NULL, NULL, 0, &res) != 0)
            util_oom();
        printf("\033[H\033[2J"); /* clear the screen */
        fputs(res.output, stdout);
        proc_result_free(&res);
        /* While waiting, Ctrl-C (or SIGTERM) simply ends the watch: nothing runs that would
         * need stopping. One that came since the run ended is acted on now, not lost. */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (proc_interrupted() != 0)
            raise(proc_interrupted());
        printf("\nWatching exercises/ (Ctrl-C stops): save a file to grade its exercise again.\n");
        fflush(stdout);
        const struct course_exercise *saved = wait_for_save(c, &w, seen);
        proc_init();
        if (only == NULL || saved == only)
            ex = saved;
        for (size_t i = 0; i < c->nexercises; i++)
            seen[i] = fingerprint(c->exercises[i].dir);
    }
}
