/*
 * test_chat_shutdown.c - stopping: chat_server_shutdown() in-process, and the real chat-server
 * program under SIGTERM.
 *
 * The in-process tests run event_base_dispatch() themselves (not the shared loop thread, which
 * never returns on its own) to check that a finished shutdown leaves nothing on the base, so
 * that dispatch returns by itself.
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
#define BIG_OUTPUT_BYTES (16u << 20) /* an output bound the flood never reaches */
#define FLOOD_LINES 8000             /* ~8 MiB: more than the kernel holds for one client */
#define SHUTDOWN_GRACE_MS 500        /* CHAT_SHUTDOWN_GRACE_MS in chat_server.c */
#define FINISHED_WITHIN_MS                                                                         \
    1600 /* the grace period and some slack; a leaving client                                      \
            that does not read is otherwise cut off after 2 s */

static void shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    chat_server_shutdown(arg);
}

HARNESS_TEST(test_shutdown_notifies_and_closes_clients)
{
    struct server_fixture f;
    struct dispatch_thread d;
    struct client c[2];
    char expected[128];

    chat_test_create(&f, NULL); /* the shared loop thread never returns by itself: use our own */
    ck_assert_msg(dispatch_thread_start(&d, loop_thread_base(f.lt)) == 0,
                  "test setup failed: cannot start the dispatch thread");
    chat_test_join_all(f.port, c, 2);
    uint16_t port = client_local_port(&c[0]);

    transcript_note("the test calls chat_server_shutdown() on the loop thread");
    ck_assert_msg(event_base_once(d.base, -1, EV_TIMEOUT, shutdown_cb, f.server, NULL) == 0,
                  "test setup failed: event_base_once");
    for (int i = 0; i < 2; i++) {
        chat_test_expect_line(&c[i], "* server shutting down", "chat_server_shutdown() was called",
                              "chat_server_shutdown: client_finish every client with the notice");
        chat_test_expect_close(&c[i], "chat_server_shutdown() was called",
                               "chat_server_shutdown: close each client once its output is "
                               "written");
    }
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=shutdown",
             port);
    server_fixture_expect_log(&f, "disconnect", port, expected,
                              "clients closed by a shutdown are logged with reason=shutdown");
    bool returned = dispatch_thread_wait(&d, CHAT_TEST_WAIT_MS);
    ck_assert_msg(returned,
                  "every client was closed after chat_server_shutdown(), but event_base_dispatch() "
                  "did not return within %d ms: something is still on the base; free the listener "
                  "and delete the retry and grace timers",
                  CHAT_TEST_WAIT_MS);
    client_close(&c[0]);
    client_close(&c[1]);
    chat_test_stop(&f);
    harness_pass();
}

/*
 * c[0] stops reading until megabytes wait for it; then the server shuts down. c[0] cannot take
 * its "* server shutting down", so the shutdown's grace period (CHAT_SHUTDOWN_GRACE_MS, 0.5 s)
 * must cut it off, and the server must be finished well before the 2 s a leaving client gets
 * otherwise. The test reads nothing from c[0] until then.
 */
HARNESS_TEST(test_shutdown_cuts_off_a_client_that_does_not_read)
{
    struct server_fixture f;
    struct dispatch_thread d;
    struct client c[3];
    struct chat_server_config cfg = {.max_output_bytes = BIG_OUTPUT_BYTES};
    char expected[128], after[160], line[256];

    chat_test_create(&f, &cfg);
    ck_assert_msg(dispatch_thread_start(&d, loop_thread_base(f.lt)) == 0,
                  "test setup failed: cannot start the dispatch thread");
    chat_test_join_all(f.port, c, 3);
    uint16_t port = client_local_port(&c[0]);
    chat_test_stop_reading(&c[0]);
    chat_test_flood(&c[2], "guest3", &c[1], 0, FLOOD_LINES);

    transcript_note("the test calls chat_server_shutdown() on the loop thread");
    int64_t start = client_now_ms();
    ck_assert_msg(event_base_once(d.base, -1, EV_TIMEOUT, shutdown_cb, f.server, NULL) == 0,
                  "test setup failed: event_base_once");
    snprintf(after, sizeof after,
             "c1 read nothing while %d lines for it piled up, then chat_server_shutdown() was "
             "called",
             FLOOD_LINES);
    for (int i = 1; i < 3; i++) {
        chat_test_expect_line(&c[i], "* server shutting down", after, "the shutdown notice");
        chat_test_expect_close(&c[i], after, "each client is closed once its output is written");
    }
    bool returned = dispatch_thread_wait(&d, FINISHED_WITHIN_MS + CHAT_TEST_WAIT_MS);
    int64_t elapsed = client_now_ms() - start;
    ck_assert_msg(returned,
                  "after %s, expected event_base_dispatch() to return (c1 cut off after the grace "
                  "period of %d ms, nothing left on the base); it had not after %lld ms; log: "
                  "\"%s\"",
                  after, SHUTDOWN_GRACE_MS, (long long)elapsed, server_fixture_log_tail(&f));
    ck_assert_msg(elapsed <= FINISHED_WITHIN_MS,
                  "after %s, event_base_dispatch() returned only after %lld ms; expected c1 to be "
                  "cut off when the shutdown's grace period of %d ms ends, and the server to be "
                  "finished within %d ms",
                  after, (long long)elapsed, SHUTDOWN_GRACE_MS, FINISHED_WITHIN_MS);
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u nick=guest1 reason=shutdown",
             port);
    ck_assert_msg(log_capture_wait(f.log, CHAT_TEST_WAIT_MS, line, sizeof line, expected, NULL),
                  "after %s, expected the log line \"%s\"; log: \"%s\"", after, expected,
                  server_fixture_log_tail(&f));
    chat_test_expect_close(&c[0], after, "the client that did not read is closed");
    for (int i = 0; i < 3; i++)
        client_close(&c[i]);
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
                  "stdout; it printed \"%s\" and on stderr \"%s\"",
                  transcript_escape(sp.out, sp.out_len, 60, out, sizeof out),
                  transcript_escape(sp.err, sp.err_len, 120, err, sizeof err));
    chat_test_join(sp.port, &a, NULL);
    server_process_signal(&sp, SIGTERM);
    chat_test_expect_line(&a, "* server shutting down", "chat-server got SIGTERM",
                          "chat_server_shutdown");
    chat_test_expect_close(&a, "chat-server got SIGTERM", "chat_server_shutdown");
    int status = server_process_wait(&sp, PROCESS_WAIT_MS);
    ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "sent SIGTERM to chat-server with one client; expected it to exit with status 0 "
                  "within %d ms; it is %s; stderr: \"%s\" (chat_server_shutdown)",
                  PROCESS_WAIT_MS,
                  server_process_status_str(status, status_text, sizeof status_text),
                  transcript_escape(sp.err, sp.err_len, 240, err, sizeof err));
    ck_assert_msg(
        strstr(sp.err, "reason=shutdown") != NULL,
        "chat-server exited after SIGTERM, but its log (stderr) has no \"reason=shutdown\" "
        "line for the client: \"%s\"",
        transcript_escape(sp.err, sp.err_len, 240, err, sizeof err));
    client_close(&a);
    server_process_cleanup(&sp);
    harness_pass();
}
