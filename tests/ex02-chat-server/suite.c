/*
 * suite.c - the chat server's Check suite: the unit tests of the protocol pieces first, then
 * the network tests, in the order of the TODOs that make them pass.
 *
 * Run it directly: `build/tests/ex02-chat-server-solutions --list`, or with test names to run
 * just those. The grader runs each test alone and shows what was sent and received.
 */
#include "chat_test.h"

int main(int argc, char **argv)
{
    static struct harness_test tests[CHAT_TEST_MAX_TESTS];
    size_t n = 0;

    n += chat_line_tests(tests + n);
    n += chat_room_tests(tests + n);
    n += chat_history_tests(tests + n);
    n += chat_protocol_tests(tests + n);
    n += chat_framing_tests(tests + n);
    n += chat_command_tests(tests + n);
    n += chat_disconnect_tests(tests + n);
    n += chat_limit_tests(tests + n);
    n += chat_persistence_tests(tests + n);
    n += chat_shutdown_tests(tests + n);
    return harness_main("ex02-chat-server", tests, n, argc, argv);
}
