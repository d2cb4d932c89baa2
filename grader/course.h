/*
 * course.h - the course's data: the exercises and their tests, the lecture demos and the
 * grader's fixtures.
 *
 * Code knows how to grade; the data files know what there is to grade. grader/course.json
 * lists the exercises, demos and fixtures; each exercise's tests/EXERCISE/tests.json describes
 * its TODOs and tests (suite_data.h), and is the only place those facts are written. Both
 * loaders reject unknown keys and bad values, naming the file and line.
 * All strings point into the parsed documents and live as long as the course.
 */
#ifndef COURSE_H
#define COURSE_H

#include "suite_data.h"

#include <stddef.h>

struct course_exercise {
    const char *id;  /* "ex01" */
    const char *dir; /* "ex01-echo-server" */
    const char *title;
    const char *program; /* the command-line server, e.g. "echo-server" */
    const char **aliases;
    size_t naliases;
    char data_path[256];    /* "tests/ex01-echo-server/tests.json" */
    struct suite_data data; /* its TODOs and tests */
};

struct course_demo {
    const char *lecture;
    const char *program; /* path inside the build directory */
    const char **args;   /* NULL-terminated */
    size_t nargs;
    const char **expect; /* substrings the output must contain */
    size_t nexpect;
    double timeout_s;
};

/* A deliberately broken submission the grader must classify correctly (its self-test). */
struct course_fixture {
    const char *name;     /* tree "fixture-NAME" in the build */
    const char *exercise; /* exercise id */
    const char *verdict;  /* the verdict the listed tests must get: "crash", "timeout", ... */
    const char **tests;   /* the tests graded, each must get it; NULL-terminated; empty: all */
    size_t ntests;
    const char *about;    /* what the fixture does wrong */
    const char **message; /* words each listed test's message must contain; NULL-terminated */
    size_t nmessage;
    const char **warnings; /* words each listed test's warnings must contain; NULL-terminated */
    size_t nwarnings;
    int chaos; /* graded with --chaos chaos_seed; without it, the listed tests pass */
    unsigned long long chaos_seed;
};

struct course {
    void *doc; /* the json_t document of course.json, owned */
    struct course_exercise *exercises;
    size_t nexercises;
    struct course_demo *demos;
    size_t ndemos;
    struct course_fixture *fixtures;
    size_t nfixtures;
};

/* Loads grader/course.json at `path` and each exercise's tests.json (paths relative to the
 * current directory, the repository root). Returns 0, or -1 with a message in err. */
int course_load(struct course *c, const char *path, char *err, size_t errsz);

/* Finds an exercise by id ("ex01"), number ("1", "01"), folder name or alias. NULL if none. */
const struct course_exercise *course_find(const struct course *c, const char *name);

/* Finds a test of an exercise by name. NULL if none. */
const struct suite_test *course_find_test(const struct course_exercise *ex, const char *name);

/* The TODO a test proves. Never NULL for a test of `ex` (the loader checks). */
const struct suite_todo *course_test_todo(const struct course_exercise *ex,
                                          const struct suite_test *t);

/* The exercises' ids as "ex01, ex02, ex03", for messages. */
void course_exercise_ids(const struct course *c, char *out, size_t outsz);

void course_free(struct course *c);

#endif
