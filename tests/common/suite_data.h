/*
 * suite_data.h - the one description of an exercise's tests: tests/EXERCISE/tests.json.
 *
 * Every fact about a test is written once, in that file: its name, the TODO it belongs to, its
 * timeout and weight, whether it is hidden, its hints and the command that reproduces it by
 * hand. The suite binary reads it for the order and the timeouts of its tests (harness.c); the
 * grader reads it for everything else. The test's C body is named once more, by HARNESS_TEST,
 * and the harness refuses to run when the two lists disagree.
 *
 * The format is documented in CONTRIBUTING.md ("The test data file"). The loader is strict: an
 * unknown key, a missing one or a bad value is an error naming the file and line.
 */
#ifndef SUITE_DATA_H
#define SUITE_DATA_H

#include <stdbool.h>
#include <stddef.h>

/* One TODO of the exercise: what the starter asks for, where it is taught, and the two deeper
 * hint tiers shared by the TODO's tests. */
struct suite_todo {
    int number;          /* n in TODO(n), 1-based, in the order a student does them */
    const char *title;   /* "echo what arrived" */
    const char *lecture; /* "lectures/03-tcp-networking/README.md#reading-and-writing" */
    const char *api;     /* hint tier 2: the calls and types to look up */
    const char *shape;   /* hint tier 3: the shape of the code */
};

struct suite_test {
    const char *name;    /* the HARNESS_TEST function, also the Check test case */
    int todo;            /* the TODO this test proves: a suite_todo number */
    double timeout_s;    /* Check's per-test timeout */
    int weight;          /* points */
    bool hidden;         /* run and scored, but its details are not shown to the student */
    const char *concept; /* hint tier 1: what the failure means */
    const char *api;     /* tier 2 for this test, or NULL for the TODO's */
    const char *shape;   /* tier 3 for this test, or NULL for the TODO's */
    const char *repro;   /* a shell command that reproduces the check by hand, or NULL */
};

struct suite_data {
    void *doc;        /* the parsed json_t document; every string above points into it */
    const char *path; /* the file it was read from (borrowed from the caller) */
    struct suite_todo *todos;
    size_t ntodos;
    struct suite_test *tests; /* in the file's order, which is TODO order */
    size_t ntests;
};

/* Reads and checks `path`. Returns 0, or -1 with "FILE:LINE: what is wrong" in err. On
 * failure `d` holds nothing to free. */
int suite_data_load(struct suite_data *d, const char *path, char *err, size_t errsz);

/* The TODO numbered `number`, or NULL. */
const struct suite_todo *suite_data_todo(const struct suite_data *d, int number);

/* The test called `name`, or NULL. */
const struct suite_test *suite_data_test(const struct suite_data *d, const char *name);

void suite_data_free(struct suite_data *d);

#endif
