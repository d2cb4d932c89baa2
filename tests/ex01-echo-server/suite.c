/*
 * suite.c - the Check suite of Exercise 01, the async TCP echo server.
 *
 * Run it with no arguments for every test, `--list` for their names, or name tests to run
 * only those. The grader runs the same binary, one test at a time. Each test starts its own
 * server on an ephemeral port and talks to it over loopback, like `nc` would.
 */
#include "echo_test.h"

#include <assert.h>

int main(int argc, char **argv)
{
    struct harness_test tests[ECHO_TEST_MAX_TESTS];
    size_t n = 0;

    n += echo_data_tests(tests + n);
    n += echo_disconnect_tests(tests + n);
    n += echo_limit_tests(tests + n);
    n += echo_shutdown_tests(tests + n);
    assert(n <= ECHO_TEST_MAX_TESTS);
    return harness_main("ex01-echo-server", tests, n, argc, argv);
}
