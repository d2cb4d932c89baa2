/*
 * harness.h - the shared main() of every Check suite in this course.
 *
 * Each test runs in its own forked process (Check's fork mode) with its own timeout, so a crash
 * or a hang in the code under test fails that one test and nothing else. A test passes only by
 * calling harness_pass() at its end: that exits with HARNESS_PASS_EXIT, and Check compares the
 * exit status. A stray exit(0) in the code under test therefore shows up as
 * "Early exit with return value 0" instead of a silent pass.
 *
 * Usage (the table is built inside a function: START_TEST makes each test a static pointer,
 * which C does not accept in a file-scope initializer):
 *     START_TEST(test_one_client_gets_its_bytes_back) { ...; harness_pass(); } END_TEST
 *     int main(int argc, char **argv)
 *     {
 *         const struct harness_test tests[] = {
 *             {"test_one_client_gets_its_bytes_back", test_one_client_gets_its_bytes_back, 5},
 *         };
 *         return HARNESS_MAIN("echo", tests, argc, argv);
 *     }
 *
 * Running a suite binary: no arguments runs every test; `--list` prints the test names; one or
 * more names run just those. CK_RUN_CASE=NAME does the same through Check itself.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <check.h>
#include <stddef.h>

/* The exit status of a passing test. Chosen so that no ordinary exit() in student code matches. */
#define HARNESS_PASS_EXIT 86

struct harness_test {
    const char *name;     /* also the Check test-case name, so reports name the test */
    const TTest *fn;      /* the START_TEST function */
    double timeout_s;     /* per-test timeout in seconds (scaled by CK_TIMEOUT_MULTIPLIER) */
};

/* Ends a passing test. Every test must call it last; a test that returns without it fails. */
_Noreturn void harness_pass(void);

/* Builds one test case per test, runs them in fork mode, prints Check's summary. Returns the
 * process exit status: 0 when every selected test passed, 1 otherwise, 2 for bad arguments. */
int harness_main(const char *suite_name, const struct harness_test *tests, size_t ntests,
                 int argc, char **argv);

#define HARNESS_MAIN(suite_name, tests, argc, argv)                                              \
    harness_main((suite_name), (tests), sizeof(tests) / sizeof((tests)[0]), (argc), (argv))

#endif
