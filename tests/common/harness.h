/*
 * harness.h - how every Check suite of this course declares and runs its tests.
 *
 * A test is written once in C, with HARNESS_TEST, and described once in its exercise's
 * tests/EXERCISE/tests.json (the TODO it proves, its timeout, weight and hints; see
 * suite_data.h). The suite's main() (harness_main.c, shared by every suite) runs the tests in
 * the data file's order, which is TODO order, and refuses to run when the C tests and the data
 * file name different tests.
 *
 * Each test runs in its own forked process (Check's fork mode) with its own timeout, so a crash
 * or a hang in the code under test fails that one test and nothing else. A test passes only by
 * calling harness_pass() at its end: that exits with HARNESS_PASS_EXIT, and Check compares the
 * exit status. A stray exit(0) in the code under test therefore shows up as
 * "Early exit with return value 0" instead of a silent pass.
 *
 *     HARNESS_TEST(test_one_client_gets_its_bytes_back)
 *     {
 *         ...
 *         harness_pass();
 *     }
 *
 * Running a suite binary: no arguments runs every test; `--list` prints the test names; one or
 * more names run just those. CK_RUN_CASE=NAME does the same through Check itself.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <check.h>

/* The exit status of a passing test. Chosen so that no ordinary exit() in student code matches. */
#define HARNESS_PASS_EXIT 86

/* Defines a test and registers it before main() runs (a constructor). The name must be a
 * "name" in the suite's tests.json. */
#define HARNESS_TEST(name)                                                                         \
    static void name##_fn(int _i CK_ATTRIBUTE_UNUSED);                                             \
    static void name##_run(int _i)                                                                 \
    {                                                                                              \
        harness_begin_test(#name);                                                                 \
        name##_fn(_i);                                                                             \
    }                                                                                              \
    static const TTest name##_ttest = {#name, name##_run, __FILE__, __LINE__};                     \
    __attribute__((constructor)) static void name##_register(void)                                 \
    {                                                                                              \
        harness_register(&name##_ttest);                                                           \
    }                                                                                              \
    static void name##_fn(int _i CK_ATTRIBUTE_UNUSED)

/* Marks a literal the code under test must produce exactly (a protocol string, a word an error
 * message must contain). It is the literal itself; the verify command checks that each SPEC
 * string of a suite is written where students read: the exercise's README or its TODO texts. */
#define SPEC(literal) ("" literal)

/* Adds a test to the suite; HARNESS_TEST calls it. Aborts with a message when out of memory. */
void harness_register(const TTest *test);

/* Runs first in each test's own process, before its body (HARNESS_TEST calls it): sets up
 * chaos mode (chaos.h) for the test named `name`. */
void harness_begin_test(const char *name);

/* Ends a passing test. Every test must call it last; a test that returns without it fails. */
_Noreturn void harness_pass(void);

/* Adds a warning to the running test: something the grader shows under the test without failing
 * it (what the server left behind, see lifetime.h). printf-style, one line. Written at once to
 * the file HARNESS_WARNINGS names (the grader sets it), or to stderr without it. */
void harness_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs the suite described by the data file `data_path`: one Check test case per test, in the
 * file's order, in fork mode. Returns the process exit status: 0 when every selected test
 * passed, 1 otherwise, 2 for bad arguments or a data file that disagrees with the C tests. */
int harness_main(const char *suite_name, const char *data_path, int argc, char **argv);

#endif
