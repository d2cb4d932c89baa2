/*
 * suite.c - the chat server's Check suite, in the order of the TODOs: a test comes right
 * after the TODO that makes it pass (given the ones before), so the first failing test
 * always points at the next thing to do.
 *
 * Run it directly: `build/tests/ex02-chat-server-solutions --list`, or with test names to run
 * just those. The grader runs each test alone and shows what was sent and received.
 */
#include "chat_test.h"

int main(int argc, char **argv)
{
    static struct harness_test tests[CHAT_TEST_MAX_TESTS];
    size_t (*const tables[])(struct harness_test *) = {
        chat_accept_tests,
        chat_room_greeting_tests,
        chat_welcome_tests,
        chat_line_tests,
        chat_room_line_tests,
        chat_message_tests,
        chat_framing_tests,
        chat_replay_tests,
        chat_disconnect_tests,
        chat_line_bound_tests,
        chat_slow_reader_tests,
        chat_room_command_tests,
        chat_command_tests,
        chat_limit_tests,
        chat_history_write_tests,
        chat_persistence_write_tests,
        chat_history_load_tests,
        chat_persistence_load_tests,
        chat_history_compact_tests,
        chat_shutdown_tests,
    };
    size_t n = 0;

    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        n += tables[i](tests + n);
    return harness_main("ex02-chat-server", tests, n, argc, argv);
}
