/*
 * exit_tests.c - why every test of this course ends with harness_pass(), on a tiny Check suite.
 *
 * The same four tests run twice: registered the plain way (tcase_add_test), then the way the
 * course's harness registers them (tcase_add_exit_test, expecting the status harness_pass()
 * exits with). A test whose code under test calls exit(0) halfway passes the plain way and fails
 * the other. Both ways, Check's fork mode turns a crash and a hang into one failed test each.
 * Try it: ./build/lectures/07-testing-async/exit-tests --demo
 */
#include "harness.h" /* harness_pass(), HARNESS_PASS_EXIT: tests/common/harness.h */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HANG_TIMEOUT_S 0.5 /* Check's per-test timeout for every test of this demo */

/* The "code under test": a command handler with a bug a student might write. */
static int handle_command(const char *line)
{
    if (strcmp(line, "quit") == 0)
        exit(0); /* the bug: one client's "quit" ends the whole server */
    return (int)strlen(line);
}

/* The test bodies, shared by both registrations. */
static void adds_body(void)
{
    ck_assert_int_eq(handle_command("hello"), 5);
}

static void stray_exit_body(void)
{
    ck_assert_int_eq(handle_command("quit"), 4); /* never returns */
    ck_assert_msg(0, "this line is never reached, so this failure is never reported");
}

static void crash_body(void)
{
    abort();
}

static void hang_body(void)
{
    for (;;)
        pause();
}

/* The plain way: a test passes when its function returns, or when the process exits with 0. */
START_TEST(plain_adds)
{
    adds_body();
}
END_TEST
START_TEST(plain_stray_exit)
{
    stray_exit_body();
}
END_TEST
START_TEST(plain_crash)
{
    crash_body();
}
END_TEST
START_TEST(plain_hang)
{
    hang_body();
}
END_TEST

/* The course's way: a test passes only by reaching harness_pass(), which exits with 86. */
START_TEST(exit_adds)
{
    adds_body();
    harness_pass();
}
END_TEST
START_TEST(exit_stray_exit)
{
    stray_exit_body();
    harness_pass();
}
END_TEST
START_TEST(exit_crash)
{
    crash_body();
    harness_pass();
}
END_TEST
START_TEST(exit_hang)
{
    hang_body();
    harness_pass();
}
END_TEST

struct demo_test {
    const char *name;
    const TTest *plain;
    const TTest *exit_test;
};

static void run_suite(const struct demo_test *tests, size_t n, int exit_tests)
{
    Suite *suite = suite_create(exit_tests ? "exit tests" : "plain");
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(tests[i].name); /* one test per case: the case names it */
        tcase_set_timeout(tc, HANG_TIMEOUT_S);
        if (exit_tests)
            tcase_add_exit_test(tc, tests[i].exit_test, HARNESS_PASS_EXIT);
        else
            tcase_add_test(tc, tests[i].plain);
        suite_add_tcase(suite, tc);
    }
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_FORK); /* each test in its own child, with a timer */
    srunner_run_all(runner, CK_SILENT);

    TestResult **results = srunner_results(runner);
    for (int i = 0; i < srunner_ntests_run(runner); i++) {
        TestResult *r = results[i];
        int passed = tr_rtype(r) == CK_PASS;
        printf("  %-16s %s%s%s\n", tr_tcname(r),
               passed ? "pass" : "FAIL: ", passed ? "" : tr_msg(r),
               passed && strcmp(tr_tcname(r), "stray_exit") == 0
                   ? "   <- exit(0) halfway through the test, and nobody noticed"
                   : "");
    }
    free(results);
    printf("  %d of %d passed\n", srunner_ntests_run(runner) - srunner_ntests_failed(runner),
           srunner_ntests_run(runner));
    srunner_free(runner);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct demo_test tests[] = {
        {"adds", plain_adds, exit_adds},
        {"stray_exit", plain_stray_exit, exit_stray_exit},
        {"crash", plain_crash, exit_crash},
        {"hang", plain_hang, exit_hang},
    };
    size_t n = sizeof tests / sizeof tests[0];

    printf("== Plain Check: tcase_add_test(), fork mode, a %.1f s timeout per test ==\n",
           HANG_TIMEOUT_S);
    run_suite(tests, n, 0);
    printf("== The course's harness: tcase_add_exit_test(tc, fn, %d), tests end in "
           "harness_pass() ==\n",
           HARNESS_PASS_EXIT);
    run_suite(tests, n, 1);
    return 0;
}
