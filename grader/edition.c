/*
 * edition.c - see edition.h. Copies what the student gets with cp, rewrites the tests.json of
 * exercises with hidden tests (jansson), adds the grading workflow and a short note at the top
 * of the README, then makes the first commit with git.
 */
#include "edition.h"

#include "proc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the student edition holds, from the repository root. solutions/ and .ci/ (which runs
 * --verify, an instructor's check) are left out on purpose. */
static const char *const edition_entries[] = {
    "README.md",         "LICENSE",   ".gitignore", ".clang-format", ".editorconfig", "meson.build",
    "meson_options.txt", "exercises", "tests",      "grader",        "lectures",      NULL,
};

#define EDITION_WORKFLOW_SRC "grader/classroom/grade.yml"
#define EDITION_WORKFLOW_DST ".github/workflows/grade.yml"

#define EDITION_README_NOTE                                                                        \
    "> **Student edition.** This repository holds the starters, the tests, the grader and the\n"   \
    "> lectures; the reference solutions stay with your instructors. `./grader/grade`,\n"          \
    "> `./grader/grade hint` and the other commands for students work as described below; the\n"   \
    "> instructors' commands (`--solutions`, `--prove`, `--write-starters`, `--verify`) say\n"     \
    "> that they need `solutions/` and stop.\n\n"

int edition_require_solutions(const char *what)
{
    if (util_is_dir("solutions"))
        return 0;
    fprintf(stderr,
            "grade: %s needs the reference solutions (solutions/), which this "
            "repository does not have (a student edition)\n",
            what);
    return 2;
}

/* Runs argv; on failure puts its output in err. Returns 0 or -1. */
static int run(char *const argv[], const char *cwd, char *err, size_t errsz)
{
    struct proc_result res;
    if (proc_run(argv, cwd, NULL, 300, &res) != 0)
        util_oom();
    int ok = proc_ok(&res);
    if (!ok) {
        char how[128];
        snprintf(err, errsz, "%s failed (%s): %.300s", argv[0],
                 proc_describe(&res, how, sizeof how), res.output);
    }
    proc_result_free(&res);
    return ok ? 0 : -1;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    int empty = 1;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    if (d != NULL)
        closedir(d);
    return empty;
}

/* Replaces the hints and the repro command of the exercise's hidden tests by the neutral
 * text. Leaves the file alone when it has no hidden test. */
static int hide_tests(const struct course_exercise *ex, const char *dir, char *err, size_t errsz)
{
    char path[4400];
    json_error_t jerr;
    int changed = 0;

    snprintf(path, sizeof path, "%s/%s", dir, ex->data_path);
    json_t *root = json_load_file(path, JSON_PRESERVE_ORDER, &jerr);
    json_t *tests = json_object_get(root, "tests");
    if (!json_is_array(tests)) {
        snprintf(err, errsz, "%s: %s", path, root == NULL ? jerr.text : "no \"tests\" array");
        json_decref(root);
        return -1;
    }
    for (size_t i = 0; i < ex->data.ntests; i++) {
        const struct suite_test *t = &ex->data.tests[i];
        if (!t->hidden)
            continue;
        for (size_t k = 0; k < json_array_size(tests); k++) {
            json_t *jt = json_array_get(tests, k);
            const char *name = json_string_value(json_object_get(jt, "name"));
            if (name == NULL || strcmp(name, t->name) != 0)
                continue;
            json_object_set_new(jt, "hidden", json_true());
            json_object_set_new(jt, "concept", json_string(EDITION_HIDDEN_CONCEPT));
            json_object_del(jt, "api");
            json_object_del(jt, "shape");
            json_object_del(jt, "repro");
            changed = 1;
        }
    }
    int rc = 0;
    if (changed && json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        snprintf(err, errsz, "cannot write %s", path);
        rc = -1;
    }
    json_decref(root);
    return rc;
}

/* Puts the student-edition note under the README's title. */
static int note_readme(const char *dir, char *err, size_t errsz)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/README.md", dir);
    char *text = util_read_file(path);
    if (text == NULL) {
        snprintf(err, errsz, "cannot read %s", path);
        return -1;
    }
    const char *after_title = strstr(text, "\n\n");
    size_t head = after_title != NULL ? (size_t)(after_title - text) + 2 : 0;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        free(text);
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "%.*s%s%s", (int)head, text, EDITION_README_NOTE, text + head);
    free(text);
    return fclose(f) == 0 ? 0 : -1;
}

int edition_write(const struct course *c, const char *dir, char *err, size_t errsz)
{
    char path[4400];

    if (edition_require_solutions("--student-edition") != 0) {
        snprintf(err, errsz, "this is already a student edition");
        return -1;
    }
    if (util_is_dir(dir) && !dir_is_empty(dir)) {
        snprintf(err, errsz, "%s exists and is not empty: name a new folder", dir);
        return -1;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot make %s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; edition_entries[i] != NULL; i++) {
        if (!util_is_dir(edition_entries[i]) && !util_is_file(edition_entries[i])) {
            snprintf(err, errsz, "%s is missing here: run me from the course's root",
                     edition_entries[i]);
            return -1;
        }
        char *cp[] = {"cp", "-a", (char *)edition_entries[i], (char *)dir, NULL};
        if (run(cp, NULL, err, errsz) != 0)
            return -1;
    }
    /* The exercises and tests folders may hold local build output or editor files: the
     * edition's .gitignore keeps those out of the commit. */
    char wf_dir[4400];
    snprintf(wf_dir, sizeof wf_dir, "%s/.github/workflows", dir);
    char *mk[] = {"mkdir", "-p", wf_dir, NULL};
    snprintf(path, sizeof path, "%s/%s", dir, EDITION_WORKFLOW_DST);
    char *cpw[] = {"cp", EDITION_WORKFLOW_SRC, path, NULL};
    if (run(mk, NULL, err, errsz) != 0 || run(cpw, NULL, err, errsz) != 0)
        return -1;
    for (size_t i = 0; i < c->nexercises; i++)
        if (hide_tests(&c->exercises[i], dir, err, errsz) != 0)
            return -1;
    if (note_readme(dir, err, errsz) != 0)
        return -1;

    /* One commit, by whoever runs this (or a neutral name when git knows nobody). */
    char *init[] = {"git", "init", "-q", "-b", "main", NULL};
    char *add[] = {"git", "add", "-A", NULL};
    char *who[] = {"git", "config", "user.email", NULL};
    struct proc_result res;
    if (run(init, dir, err, errsz) != 0 || run(add, dir, err, errsz) != 0)
        return -1;
    if (proc_run(who, dir, NULL, 30, &res) != 0)
        util_oom();
    int known = proc_ok(&res) && res.output_len > 1;
    proc_result_free(&res);
    char *commit[] = {"git",
                      "-c",
                      "user.name=Course staff",
                      "-c",
                      "user.email=staff@example.invalid",
                      "commit",
                      "-q",
                      "-m",
                      "The course: starters, tests, grader and lectures",
                      NULL};
    char *commit_known[] = {
        "git", "commit", "-q", "-m", "The course: starters, tests, grader and lectures", NULL};
    return run(known ? commit_known : commit, dir, err, errsz);
}
