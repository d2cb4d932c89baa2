/*
 * test_chat_shutdown.c - stopping: chat_server_shutdown() in-process, and the real chat-server
 * program under SIGTERM.
 *
 * These tests need TODO(15). The in-process one runs event_base_dispatch() itself (not the
 * shared loop thread, which never returns on its own) to check that a finished shutdown leaves
 * nothing on the base, so that dispatch returns by itself.
 */
#include "chat_test.h"

#include "dispatch_thread.h"

#include "server_process.h"
#include "transcript.h"

#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SERVER_BIN
#error "SERVER_BIN must name the chat-server program (tests/meson.build defines it)"
#endif

#define PROCESS_WAIT_MS 5000

static void shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    chat_server_shutdown(arg);
}

HARNESS_TEST(test_shutdown_notifies_and_closes_clients)
{
    struct chat_fixture f;
    struct dispatch_thread d;
    struct client c[2];
    char expected[128];

    chat_test_create(&f, NULL); /* the shared loop thread never returns by itself: use our own */
    ck_assert_msg(dispatch_thread_start(&d, loop_thread_base(f.lt)) == 0,
                  "test setup failed: cannot start the dispatch thread");
    chat_test_join_all(f.port, c, 2);
    uint16_t port = chat_test_local_port(&c[0]);

    transcript_note("the test calls chat_server_shutdown() on the loop thread");
    ck_assert_msg(event_base_once(d.base, -1, EV_TIMEOUT, shutdown_cb, f.server, NULL) == 0,
                  "test setup failed: event_base_once");
    for (int i = 0; i < 2; i++) {
        chat_test_expect_line(&c[i], "* server shutting down", "chat_server_shutdown() was called",
                              "chat_server_shutdown: client_finish every client with the notice "
                              "(TODO(15))");
        chat_test_expect_close(&c[i], "chat_server_shutdown() was called",
                               "chat_server_shutdown: close each client once its output is "
                               "written (TODO(15))");
    }
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=shutdown", port);
    chat_test_expect_log(&f, "disconnect", port, expected,
                         "clients closed by a shutdown are logged with reason=shutdown (TODO(15))");
    bool returned = dispatch_thread_wait(&d, CHAT_TEST_WAIT_MS);
    ck_assert_msg(returned,
                  "every client was closed after chat_server_shutdown(), but event_base_dispatch() "
                  "did not return within %d ms: something is still on the base; free the listener "
                  "and delete the retry and grace timers (TODO(15))",
                  CHAT_TEST_WAIT_MS);
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_sigterm_shuts_down_cleanly)
{
    struct server_process sp;
    struct client a;
    char status_text[64], out[256], err[1024];
    char *argv[] = {SERVER_BIN, "--port", "0", NULL};

    ck_assert_msg(server_process_start(&sp, SERVER_BIN, argv, PROCESS_WAIT_MS) == 0,
                  "started \"chat-server --port 0\"; expected \"listening on 127.0.0.1:PORT\" on "
                  "stdout; it printed \"%s\" and on stderr \"%s\" (TODO(1))",
                  transcript_escape(sp.out, sp.out_len, 60, out, sizeof out),
                  transcript_escape(sp.err, sp.err_len, 120, err, sizeof err));
    chat_test_join(sp.port, &a, NULL);
    server_process_signal(&sp, SIGTERM);
    chat_test_expect_line(&a, "* server shutting down", "chat-server got SIGTERM",
                          "chat_server_shutdown (TODO(15))");
    chat_test_expect_close(&a, "chat-server got SIGTERM", "chat_server_shutdown (TODO(15))");
    int status = server_process_wait(&sp, PROCESS_WAIT_MS);
    ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "sent SIGTERM to chat-server with one client; expected it to exit with status 0 "
                  "within %d ms; it is %s; stderr: \"%s\" (chat_server_shutdown, TODO(15))",
                  PROCESS_WAIT_MS, server_process_status_str(status, status_text, sizeof status_text),
                  transcript_escape(sp.err, sp.err_len, 240, err, sizeof err));
    ck_assert_msg(strstr(sp.err, "reason=shutdown") != NULL,
                  "chat-server exited after SIGTERM, but its log (stderr) has no \"reason=shutdown\" "
                  "line for the client: \"%s\" (TODO(15))",
                  transcript_escape(sp.err, sp.err_len, 240, err, sizeof err));
    client_close(&a);
    server_process_cleanup(&sp);
    harness_pass();
}

