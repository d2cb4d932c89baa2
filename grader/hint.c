/*
 * hint.c - see hint.h.
 */
#include "hint.h"

#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The tier last shown for this test (0 = none yet). */
static int tier_seen(json_t *state, const char *key)
{
    json_t *v = json_object_get(state, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

static void save_state(json_t *state)
{
    if (mkdir(".grade", 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "grade: cannot remember the hint tier (.grade: %s)\n", strerror(errno));
        return;
    }
    if (json_dump_file(state, HINT_STATE_FILE, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        fprintf(stderr, "grade: cannot write %s\n", HINT_STATE_FILE);
}

/* While hint looks for the first failing test: which one it waits for (on a terminal). */
struct hunt {
    const struct course_exercise *ex;
    int tty;
    size_t shown; /* the length of the progress line on screen, 0 for none */
    const struct suite_test *failing;
};

static void hunt_progress(struct hunt *h, size_t next)
{
    if (!h->tty)
        return;
    if (h->shown > 0)
        printf("  %*s\r", (int)h->shown, ""); /* erase the last one */
    h->shown = 0;
    if (next < h->ex->data.ntests) {
        printf("  %s ...\r", h->ex->data.tests[next].name);
        h->shown = strlen(h->ex->data.tests[next].name) + 4;
    }
    fflush(stdout);
}

static int hunt_result(size_t i, struct test_result *tr, void *arg)
{
    struct hunt *h = arg;
    if (tr->verdict != VERDICT_PASS)
        h->failing = &h->ex->data.tests[i];
    hunt_progress(h, h->failing != NULL ? h->ex->data.ntests : i + 1);
    return h->failing != NULL;
}

/* Runs the exercise's tests (several at once) and returns the first, in order, that does not
 * pass (NULL if all pass). Sets *build_failed when the exercise does not compile. */
static const struct suite_test *first_failing(const struct runner *r,
                                              const struct course_exercise *ex, const char *tree,
                                              int *build_failed)
{
    char *log = NULL;

    *build_failed = 0;
    if (runner_build(r, tree, ex, &log) != 0) {
        fprintf(stderr, "%s", log != NULL ? log : "");
        free(log);
        *build_failed = 1;
        return NULL;
    }
    struct runner_job *jobs = calloc(ex->data.ntests + 1, sizeof *jobs);
    struct test_result *results = calloc(ex->data.ntests + 1, sizeof *results);
    if (jobs == NULL || results == NULL)
        util_oom();
    for (size_t i = 0; i < ex->data.ntests; i++)
        jobs[i] = (struct runner_job){ex, ex->data.tests[i].name};
    struct hunt h = {.ex = ex, .tty = isatty(STDOUT_FILENO)};
    hunt_progress(&h, 0);
    size_t done =
        runner_run_tests(r, tree, jobs, ex->data.ntests, runner_run_test, results, hunt_result, &h);
    hunt_progress(&h, ex->data.ntests);
    for (size_t i = 0; i < done; i++)
        runner_result_free(&results[i]);
    free(results);
    free(jobs);
    return h.failing;
}

static void show(const struct course_exercise *ex, const struct suite_test *t, int tier)
{
    const struct suite_todo *todo = course_test_todo(ex, t);
    const char *names[] = {"", "the idea", "what to look up", "the shape of the code"};

    printf("%s %s, TODO(%d) %s\n", ex->id, t->name, todo->number, todo->title);
    printf("Hint %d of %d: %s\n\n", tier, HINT_TIERS, names[tier]);
    if (tier == 1)
        printf("%s\n\nRead: %s\n", t->concept, todo->lecture);
    else if (tier == 2)
        printf("%s\n", t->api != NULL ? t->api : todo->api);
    else
        printf("%s\n", t->shape != NULL ? t->shape : todo->shape);
    if (tier < HINT_TIERS)
        printf("\nStill stuck? ./grader/grade hint %s %s goes one step deeper.\n", ex->id, t->name);
    else if (util_is_dir("solutions"))
        printf("\nThat was the last hint for this test. Once your version passes, compare it with\n"
               "the reference (./grader/grade --diff %s) to see another way to write it.\n",
               ex->id);
    else
        printf("\nThat was the last hint for this test. Once your version passes, ask for the\n"
               "reference solution and compare: there is always another way to write it.\n");
}

int hint_next(const struct runner *r, const struct course *c, const struct course_exercise *ex,
              const char *test, const char *tree)
{
    const struct suite_test *t = NULL;

    if (test != NULL) {
        t = ex != NULL ? course_find_test(ex, test) : NULL;
        if (t == NULL) {
            fprintf(stderr, "grade: %s has no test named %s (./grader/grade --list shows them)\n",
                    ex != NULL ? ex->id : "(no exercise)", test);
            return 2;
        }
    }
    for (size_t i = 0; t == NULL && i < c->nexercises; i++) {
        const struct course_exercise *e = &c->exercises[i];
        if (ex != NULL && e != ex)
            continue;
        int build_failed;
        printf("Finding the first failing test of %s...\n", e->id);
        t = first_failing(r, e, tree, &build_failed);
        if (build_failed) {
            printf("%s/%s does not compile: fix the errors above first (./grader/grade %s shows "
                   "them too).\n",
                   tree, e->dir, e->id);
            return 1;
        }
        if (t != NULL)
            ex = e;
    }
    if (t == NULL) {
        printf("Every test passes%s: no hint needed.\n", ex != NULL ? " in this exercise" : "");
        return 1;
    }

    json_error_t jerr;
    json_t *state = json_load_file(HINT_STATE_FILE, 0, &jerr);
    if (!json_is_object(state)) {
        json_decref(state);
        state = json_object();
        if (state == NULL)
            util_oom();
    }
    char key[512];
    snprintf(key, sizeof key, "%s/%s", ex->id, t->name);
    int tier = tier_seen(state, key) + 1;
    if (tier > HINT_TIERS)
        tier = HINT_TIERS;
    show(ex, t, tier);
    json_object_set_new(state, key, json_integer(tier));
    save_state(state);
    json_decref(state);
    return 0;
}
