/*
 * course.h - the course's data: exercises, their tests, the demos and the grader's fixtures,
 * read from grader/course.json.
 *
 * Code knows how to grade; the data file knows what there is to grade: each test's hint, the
 * TODO and the lecture section that teach it, and a command that reproduces it by hand.
 * All strings point into the parsed JSON document and live as long as the course.
 */
#ifndef COURSE_H
#define COURSE_H

#include <stddef.h>

struct course_test {
    const char *name;    /* the Check test case */
    const char *todo;    /* "TODO(3)", or NULL */
    const char *lecture; /* "lectures/03-tcp-networking/README.md#reading-and-writing", or NULL */
    const char *hint;    /* what usually causes a failure, or NULL */
    const char *repro;   /* a shell command that reproduces the check by hand, or NULL */
    int weight;          /* points (default 1) */
};

struct course_exercise {
    const char *id;      /* "ex01" */
    const char *dir;     /* "ex01-echo-server" */
    const char *title;
    const char *file;    /* the main file a student edits, e.g. "echo_server.c" */
    const char *program; /* the command-line server, e.g. "echo-server" */
    int port;            /* its default port */
    const char **aliases;
    size_t naliases;
    struct course_test *tests;
    size_t ntests;
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
    const char *name;      /* tree "fixture-NAME" in the build */
    const char *exercise;  /* exercise id */
    const char *verdict;   /* the verdict the listed tests must get: "crash", "timeout", ... */
    const char **tests;    /* the tests graded, each must get it; NULL-terminated; empty: all */
    size_t ntests;
    const char *about;     /* what the fixture does wrong */
};

struct course {
    void *doc; /* the json_t document, owned */
    struct course_exercise *exercises;
    size_t nexercises;
    struct course_demo *demos;
    size_t ndemos;
    struct course_fixture *fixtures;
    size_t nfixtures;
};

/* Loads the file. Returns 0, or -1 with a message in err. */
int course_load(struct course *c, const char *path, char *err, size_t errsz);

/* Finds an exercise by id ("ex01"), number ("1", "01"), folder name or alias. NULL if none. */
const struct course_exercise *course_find(const struct course *c, const char *name);

/* Finds a test of an exercise by name. NULL if none. */
const struct course_test *course_find_test(const struct course_exercise *ex, const char *name);

void course_free(struct course *c);

#endif
