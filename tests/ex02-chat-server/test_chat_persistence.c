/*
 * test_chat_persistence.c - the history over the network: replayed to newcomers, on file
 * before anyone sees a message, loaded (skipping a corrupt line) when the server starts, and
 * still there after the real chat-server program is killed and started again.
 *
 * tests.json says which step of the exercise each test proves; the suite runs them in that order.
 */
#include "chat_test.h"

#include "server_process.h"
#include "transcript.h"

#include <stdio.h>
#include <string.h>

#ifndef SERVER_BIN
#error "SERVER_BIN must name the chat-server program (tests/meson.build defines it)"
#endif

#define HISTORY_FILE_MAX (64 * 1024)
#define PROCESS_WAIT_MS 5000

HARNESS_TEST(test_history_is_replayed_to_new_clients)
{
    struct server_fixture f;
    struct client c[2], late;

    chat_test_start(&f, NULL);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "first\nsecond\n");
    chat_test_expect_line(&c[1], "guest1: first", "c1 sent \"first\\n\"", "room_say");
    chat_test_expect_line(&c[1], "guest1: second", "c1 sent \"second\\n\"", "room_say");
    chat_test_connect(f.port, &late);
    const char *after = "c1 said \"first\" and \"second\", then c3 connected";
    chat_test_expect_line(&late, "* welcome guest3", after, "chat_room_join");
    chat_test_expect_line(&late, "guest1: first", after,
                          "chat_room_join: replay the history, oldest first");
    chat_test_expect_line(&late, "guest1: second", after, "chat_room_join");
    chat_test_expect_line(&late, "* end of history", after, "chat_room_join");
    client_close(&c[0]);
    client_close(&c[1]);
    client_close(&late);
    chat_test_stop(&f);
    harness_pass();
}

/* The moment c2 sees the message, the file must already hold it: the history is written
 * first, then broadcast, so a crash right after can never lose a message someone saw. */
HARNESS_TEST(test_message_is_saved_before_it_is_broadcast)
{
    struct server_fixture f;
    struct client c[2];
    char dir[CHAT_TEST_PATH_MAX], path[CHAT_TEST_PATH_MAX + 32];
    static char text[HISTORY_FILE_MAX];

    scratch_make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    struct chat_server_config cfg = {.history_file = path};
    chat_test_start(&f, &cfg);
    chat_test_join_all(f.port, c, 2);
    chat_test_send(&c[0], "remember me\n");
    chat_test_expect_line(&c[1], "guest1: remember me", "c1 sent \"remember me\\n\"", "room_say");
    long n = scratch_read_file(path, text, sizeof text);
    ck_assert_msg(n > 0 && strstr(text, "\"remember me\"") != NULL &&
                      strstr(text, "\"guest1\"") != NULL,
                  "c2 has received \"guest1: remember me\", but %s %s; write the message to the "
                  "file (chat_history_add) before it is broadcast",
                  path, n < 0 ? "does not exist" : "does not hold it yet");
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    scratch_remove_dir(dir);
    harness_pass();
}

HARNESS_TEST(test_history_file_is_loaded_at_start)
{
    struct server_fixture f;
    struct client a;
    char dir[CHAT_TEST_PATH_MAX], path[CHAT_TEST_PATH_MAX + 32], line[256];

    scratch_make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    scratch_write_file(
        path, "{\"time\":\"2025-03-01T12:00:00Z\",\"nick\":\"alice\",\"text\":\"from yesterday\"}\n"
              "{\"time\":\"2025-03-01T12:00:01Z\",\"nick\":\"bob\",\"te\n"
              "{\"time\":\"2025-03-01T12:00:02Z\",\"nick\":\"bob\",\"text\":\"me too\"}\n");
    transcript_note("history file: a message, a corrupt line, a message");
    struct chat_server_config cfg = {.history_file = path};
    chat_test_start(&f, &cfg);
    chat_test_connect(f.port, &a);
    const char *after = "the server started on a history file with a corrupt second line";
    chat_test_expect_line(&a, "* welcome guest1", after, "chat_room_join");
    chat_test_expect_line(&a, "alice: from yesterday", after, "chat_history_open: load the file");
    chat_test_expect_line(&a, "bob: me too", after,
                          "chat_history_open: skip a corrupt line and load the rest");
    chat_test_expect_line(&a, "* end of history", after, "chat_room_join");
    ck_assert_msg(
        log_capture_wait(f.log, CHAT_TEST_WAIT_MS, line, sizeof line, "history:", "line 2", NULL),
        "after %s, expected a warning naming line 2 in the log; log: \"%s\"", after,
        server_fixture_log_tail(&f));
    client_close(&a);
    chat_test_stop(&f);
    scratch_remove_dir(dir);
    harness_pass();
}

/* Starts the real program on port 0 with a history file. */
static void start_program(struct server_process *sp, const char *path)
{
    char *argv[] = {SERVER_BIN, "--port", "0", "--history", (char *)path, NULL};
    char out[256], err[512];

    ck_assert_msg(server_process_start(sp, SERVER_BIN, argv, PROCESS_WAIT_MS) == 0,
                  "started \"chat-server --port 0 --history %s\"; expected \"listening on "
                  "127.0.0.1:PORT\" on stdout; it printed \"%s\" and on stderr \"%s\"",
                  path, transcript_escape(sp->out, sp->out_len, 60, out, sizeof out),
                  transcript_escape(sp->err, sp->err_len, 120, err, sizeof err));
}

/* The program is killed (SIGKILL: no shutdown code runs, as in a crash) right after a message
 * was seen, then started again on the same file. */
HARNESS_TEST(test_history_survives_a_crash_and_restart)
{
    struct server_process sp;
    struct client c[2], late;
    char dir[CHAT_TEST_PATH_MAX], path[CHAT_TEST_PATH_MAX + 32];

    scratch_make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    start_program(&sp, path);
    chat_test_join_all(sp.port, c, 2);
    chat_test_send(&c[0], "see you after the restart\n");
    chat_test_expect_line(&c[1], "guest1: see you after the restart",
                          "c1 sent \"see you after the restart\\n\"", "room_say");
    transcript_note("the program is killed with SIGKILL, then started again on the same file");
    server_process_cleanup(&sp);
    client_close(&c[0]);
    client_close(&c[1]);
    start_program(&sp, path);
    chat_test_connect(sp.port, &late);
    const char *after = "a message was seen, the program was killed and started again, and c3 "
                        "connected";
    chat_test_expect_line(&late, "* welcome guest1", after, "chat_room_join");
    chat_test_expect_line(&late, "guest1: see you after the restart", after,
                          "chat_history_add writes the file; chat_history_open loads "
                          "it");
    chat_test_expect_line(&late, "* end of history", after, "chat_room_join");
    client_close(&late);
    server_process_cleanup(&sp);
    scratch_remove_dir(dir);
    harness_pass();
}
