/*
 * test_echo_shutdown.c - stopping: echo_server_shutdown() in-process, and the real echo-server
 * program under SIGTERM, SIGINT and bad command lines.
 *
 * The in-process ones run event_base_dispatch() themselves (not the
 * shared loop thread, which never returns on its own) to check that a finished shutdown leaves
 * nothing on the base, so that dispatch returns by itself.
 */
#include "echo_test.h"

#include "dispatch_thread.h"
#include "peer_socket.h"
#include "server_process.h"
#include "transcript.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <semaphore.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SERVER_BIN
#error "SERVER_BIN must name the echo-server program (tests/meson.build defines it)"
#endif

#define FLUSH_BYTES (60 * 1024) /* one read's worth, far more than the slow reader's buffers */
#define NEW_CLIENT_WAIT_MS 300  /* how long a client that connects after shutdown waits */
#define FREE_CLIENTS 3          /* clients still connected when the server is freed */
#define LOG_TEXT_MAX 16384      /* the whole log of a short test */
#define LINGER_BYTES (6 * 1024) /* more than a small window holds, less than a send buffer */
#define POLL_MS 5               /* how often a test looks again at a condition it waits for */
#define STILL_TALKING "still talking\n" /* what a client sends after the shutdown began */

static void shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    echo_server_shutdown(arg);
}

/* Calls echo_server_shutdown() on the loop's thread, as a signal callback would. */
static void request_shutdown(struct server_fixture *f)
{
    transcript_note("the test calls echo_server_shutdown() on the loop thread");
    ck_assert_msg(
        event_base_once(loop_thread_base(f->lt), -1, EV_TIMEOUT, shutdown_cb, f->server, NULL) == 0,
        "test setup failed: event_base_once");
}

struct shutdown_done {
    struct echo_server *server;
    sem_t done; /* posted once echo_server_shutdown() has returned */
};

static void shutdown_and_post_cb(evutil_socket_t fd, short what, void *arg)
{
    struct shutdown_done *sd = arg;
    (void)fd;
    (void)what;
    echo_server_shutdown(sd->server);
    sem_post(&sd->done);
}

/* Like request_shutdown(), but returns only once echo_server_shutdown() has returned. */
static void shutdown_and_wait(struct server_fixture *f)
{
    struct shutdown_done sd = {.server = f->server};
    struct timespec until = client_realtime_deadline(ECHO_TEST_WAIT_MS);

    ck_assert_msg(sem_init(&sd.done, 0, 0) == 0, "test setup failed: sem_init");
    transcript_note("the test calls echo_server_shutdown() on the loop thread and waits for it");
    ck_assert_msg(event_base_once(loop_thread_base(f->lt), -1, EV_TIMEOUT, shutdown_and_post_cb,
                                  &sd, NULL) == 0,
                  "test setup failed: event_base_once");
    int r;
    while ((r = sem_timedwait(&sd.done, &until)) != 0 && errno == EINTR)
        continue;
    ck_assert_msg(r == 0, "echo_server_shutdown() did not return within %d ms", ECHO_TEST_WAIT_MS);
    sem_destroy(&sd.done);
}

/* Waits until the server has read all `len` bytes from c and written every echo byte to its
 * socket: the client holds what its small window let through, and the server's socket holds
 * the rest, queued for the client. */
static void wait_echo_queued_in_kernel(struct server_fixture *f, struct client *c, size_t len)
{
    int srv = echo_test_server_socket(f, c);
    int64_t deadline = client_now_ms() + ECHO_TEST_WAIT_MS;
    int here, queued;

    for (;;) {
        here = peer_socket_unread(c->fd);
        queued = peer_socket_unsent(srv);
        if (queued < 0 && here >= 0)
            queued = (int)len - here; /* the system cannot say: assume the server holds the rest */
        if (peer_socket_unread(srv) == 0 && here >= 0 && queued >= 0 &&
            (size_t)(here + queued) == len)
            return;
        ck_assert_msg(client_now_ms() < deadline,
                      "c%d sent %zu bytes and read none; expected them all read and echoed by "
                      "the server within %d ms; the client holds %d echo bytes, and %d are queued "
                      "for it",
                      c->id, len, ECHO_TEST_WAIT_MS, here, queued);
        usleep(POLL_MS * 1000); /* polling a condition */
    }
}

/* Like echo_test_start(), but the loop runs in a dispatch thread started here. */
static void start_with_dispatch(struct server_fixture *f, struct dispatch_thread *d)
{
    echo_test_create(f, 0, 0); /* the shared loop thread never returns by itself: use our own */
    ck_assert_msg(dispatch_thread_start(d, loop_thread_base(f->lt)) == 0,
                  "test setup failed: cannot start the dispatch thread");
}

/* Where the disconnect line of the client on `port` starts in the log, or -1. */
static long disconnect_line_at(struct server_fixture *f, uint16_t port)
{
    static char log[LOG_TEXT_MAX];
    char needle[64];

    log_capture_tail(f->log, log, sizeof log);
    snprintf(needle, sizeof needle, "disconnect 127.0.0.1:%u ", port);
    const char *at = strstr(log, needle);
    return at != NULL ? at - log : -1;
}

/*
 * Three clients when the shutdown begins: one with nothing pending (closed at once), a slow
 * reader that reads its pending echo (closed as soon as it has it all), and one that never
 * reads (closed by the shutdown's deadline, half a second later). The slow reader must be
 * closed before the deadline, not by it.
 */
HARNESS_TEST(test_shutdown_flushes_then_closes)
{
    struct server_fixture f;
    struct dispatch_thread d;
    struct client idle, slow, stuck, late;
    unsigned char data[FLUSH_BYTES];
    char expected[128], needle[64], line[256];

    start_with_dispatch(&f, &d);
    echo_test_connect(&f, &idle);
    uint16_t idle_port = client_local_port(&idle);
    echo_test_roundtrip(&idle, "idle\n");
    echo_test_connect_slow_reader(&f, &slow);
    uint16_t slow_port = client_local_port(&slow);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = echo_test_pattern(i);
    ck_assert_msg(client_send(&slow, data, sizeof data, ECHO_TEST_WAIT_MS) == 0,
                  "c%d could not send %zu bytes: the server is not reading", slow.id, sizeof data);
    echo_test_connect_slow_reader(&f, &stuck);
    uint16_t stuck_port = client_local_port(&stuck);
    ck_assert_msg(client_send(&stuck, data, sizeof data, ECHO_TEST_WAIT_MS) == 0,
                  "c%d could not send %zu bytes: the server is not reading", stuck.id, sizeof data);
    transcript_note("c%d will never read its echo", stuck.id);
    /* One more round trip on the other client: by the time it is answered the server has read
     * the slow client's bytes too (they reached it first), so none is left unread. */
    echo_test_roundtrip(&idle, "sync\n");

    request_shutdown(&f);
    enum client_status st = client_wait_close(&idle, ECHO_TEST_WAIT_MS);
    ck_assert_msg(
        st == CLIENT_EOF,
        "after echo_server_shutdown(), expected a client with nothing pending to be closed "
        "at once; it is %s",
        client_status_str(st));
    client_close(&idle); /* as a client does once it has read EOF */
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u bytes=10 %s", idle_port,
             SPEC("reason=shutdown"));
    server_fixture_expect_log(&f, "disconnect", idle_port, expected,
                              "connections closed by a shutdown are logged with reason=shutdown");

    if (client_connect(&late, f.port) == 0) {
        client_send_str(&late, "anyone?\n", ECHO_TEST_WAIT_MS);
        size_t n = client_wait_data(&late, NEW_CLIENT_WAIT_MS);
        ck_assert_msg(n == 0,
                      "a client that connected after echo_server_shutdown() got an echo; expected "
                      "the server to stop accepting");
        client_close(&late);
    }

    size_t good = echo_test_recv_pattern(&slow, FLUSH_BYTES, ECHO_TEST_WAIT_MS);
    ck_assert_msg(good == FLUSH_BYTES,
                  "c%d sent %d bytes and read nothing until the shutdown began; expected the whole "
                  "echo before the close; received %zu correct bytes",
                  slow.id, FLUSH_BYTES, good);
    st = client_wait_close(&slow, ECHO_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_EOF,
                  "after its last echo during a shutdown, expected c%d to be closed; it is %s",
                  slow.id, client_status_str(st));
    client_close(&slow);
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u bytes=%d reason=shutdown",
             slow_port, FLUSH_BYTES);
    server_fixture_expect_log(&f, "disconnect", slow_port, expected,
                              "a client closed by a shutdown is logged with reason=shutdown");
    snprintf(needle, sizeof needle, "disconnect 127.0.0.1:%u ", stuck_port);
    ck_assert_msg(log_capture_wait(f.log, ECHO_TEST_WAIT_MS, line, sizeof line, needle,
                                   " reason=shutdown", NULL),
                  "expected \"%sbytes=N reason=shutdown\" for c%d, which never read its echo, once "
                  "the shutdown's deadline passed; log: \"%s\"",
                  needle, stuck.id, server_fixture_log_tail(&f));
    long slow_at = disconnect_line_at(&f, slow_port), stuck_at = disconnect_line_at(&f, stuck_port);
    ck_assert_msg(slow_at < stuck_at,
                  "c%d read its whole echo at once during the shutdown, and c%d never read; "
                  "expected c%d to be closed as soon as its echo was written, before the deadline "
                  "closed c%d; the log shows them the other way round: both were closed by the "
                  "deadline; log: \"%s\"",
                  slow.id, stuck.id, slow.id, stuck.id, server_fixture_log_tail(&f));

    ck_assert_msg(
        dispatch_thread_wait(&d, ECHO_TEST_WAIT_MS),
        "every client is gone after echo_server_shutdown(), yet event_base_dispatch() did "
        "not return: something is still registered on the base (the listener, a timer, "
        "a connection's event?)");
    client_close(&idle);
    client_close(&slow);
    client_close(&stuck);
    echo_test_stop(&f);
    harness_pass();
}

/* A client may still be sending when the shutdown begins. The kernel answers bytes that
 * reach a closed socket (or a socket closed with unread input) with a reset, and a reset
 * throws away the echo bytes still queued for the client. A lingering close (EOF to the client,
 * read and discard until it closes) delivers every echo. */
HARNESS_TEST(test_shutdown_does_not_reset_a_client_still_sending)
{
    struct server_fixture f;
    struct dispatch_thread d;
    struct client c;
    unsigned char data[LINGER_BYTES];
    char expected[128];

    start_with_dispatch(&f, &d);
    echo_test_connect_small_window(&f, &c);
    uint16_t port = client_local_port(&c);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = echo_test_pattern(i);
    ck_assert_msg(client_send(&c, data, sizeof data, ECHO_TEST_WAIT_MS) == 0,
                  "c%d could not send %zu bytes: the server is not reading", c.id, sizeof data);
    wait_echo_queued_in_kernel(&f, &c, sizeof data);
    transcript_note("c%d has read nothing; part of its echo waits in the server's socket", c.id);

    shutdown_and_wait(&f);
    ck_assert_msg(client_send_str(&c, STILL_TALKING, ECHO_TEST_WAIT_MS) == 0,
                  "after echo_server_shutdown() returned, c%d could not send more: expected "
                  "the server to accept (and discard) what a client still sends",
                  c.id);
    size_t good = echo_test_recv_pattern(&c, sizeof data, ECHO_TEST_WAIT_MS);
    ck_assert_msg(good == sizeof data,
                  "c%d sent %zu bytes, then the server was shut down, then c%d sent %zu more "
                  "bytes; expected the whole echo of the %zu bytes, then EOF; received %zu "
                  "correct bytes and then %s. Closing a socket that still has unread input, or "
                  "that receives bytes after it is closed, makes the kernel send a reset, which "
                  "destroys the echo still queued for the client",
                  c.id, sizeof data, c.id, strlen(STILL_TALKING), sizeof data, good,
                  good < sizeof data ? "nothing more: the connection was reset" : "more");
    enum client_status st = client_wait_close(&c, ECHO_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_EOF,
                  "after its whole echo during a shutdown, expected c%d to get EOF; it is %s", c.id,
                  client_status_str(st));
    client_close(&c); /* as a client does once it has read EOF */
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u bytes=%zu %s", port, sizeof data,
             SPEC("reason=shutdown"));
    server_fixture_expect_log(&f, "disconnect", port, expected,
                              "once the client closes too, the server closes its socket");
    ck_assert_msg(dispatch_thread_wait(&d, ECHO_TEST_WAIT_MS),
                  "every client is gone after echo_server_shutdown(), yet "
                  "event_base_dispatch() did not return");
    echo_test_stop(&f);
    harness_pass();
}

/* A client that never reads its echo must not keep a shutdown (and the process) alive. */
HARNESS_TEST(test_shutdown_does_not_wait_forever)
{
    struct server_fixture f;
    struct dispatch_thread d;
    struct client c;
    char needle[64], line[256];

    start_with_dispatch(&f, &d);
    echo_test_connect_slow_reader(&f, &c);
    uint16_t port = client_local_port(&c);
    size_t sent = echo_test_send_until_stalled(&c, ECHO_TEST_FLOOD_LIMIT);
    request_shutdown(&f);
    ck_assert_msg(dispatch_thread_wait(&d, ECHO_TEST_WAIT_MS),
                  "a client sent %zu bytes, never read, and the server was shut down; expected "
                  "event_base_dispatch() to return within about a second; it did not",
                  sent);
    snprintf(needle, sizeof needle, "disconnect 127.0.0.1:%u ", port);
    ck_assert_msg(log_capture_wait(f.log, ECHO_TEST_WAIT_MS, line, sizeof line, needle,
                                   " reason=shutdown", NULL),
                  "expected \"%sbytes=N reason=shutdown\" for the client closed by the shutdown "
                  "deadline; log: \"%s\"",
                  needle, server_fixture_log_tail(&f));
    client_close(&c);
    echo_test_stop(&f);
    harness_pass();
}

/* The server owns its connections: freeing it must close every one, so that each client sees
 * its connection end and no socket is left open in the process. */
HARNESS_TEST(test_free_closes_every_connection)
{
    struct server_fixture f;
    struct client c[FREE_CLIENTS];
    char expected[128];
    uint16_t ports[FREE_CLIENTS];

    echo_test_start(&f, 0, 0);
    for (int i = 0; i < FREE_CLIENTS; i++) {
        echo_test_connect(&f, &c[i]);
        ports[i] = client_local_port(&c[i]);
        echo_test_roundtrip(&c[i], "still here\n");
    }
    transcript_note("the test stops the loop and calls echo_server_free() with %d clients "
                    "connected",
                    FREE_CLIENTS);
    loop_thread_stop(f.lt);
    echo_server_free(f.server);
    f.server = NULL;
    for (int i = 0; i < FREE_CLIENTS; i++) {
        enum client_status st = client_wait_close(&c[i], ECHO_TEST_WAIT_MS);
        ck_assert_msg(st == CLIENT_EOF,
                      "echo_server_free() returned while c%d was still connected; expected its "
                      "connection to be closed; it is still open, so the server's socket (and "
                      "the connection's memory) was never freed",
                      c[i].id);
        snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u bytes=11 reason=shutdown",
                 ports[i]);
        server_fixture_expect_log(&f, "disconnect", ports[i], expected,
                                  "echo_server_free() logs each connection it closes with "
                                  "reason=shutdown");
    }
    for (int i = 0; i < FREE_CLIENTS; i++)
        client_close(&c[i]);
    echo_test_stop(&f);
    harness_pass();
}

/* Starts the real program on port 0 and fails the test with its output if it does not listen. */
static void start_binary(struct server_process *sp, char *const argv[])
{
    char out[256], err[256];
    int rc = server_process_start(sp, SERVER_BIN, argv, ECHO_TEST_WAIT_MS);
    if (rc != 0) {
        server_process_wait(sp, ECHO_TEST_WAIT_MS);
        server_process_cleanup(sp);
    }
    ck_assert_msg(
        rc == 0,
        "started echo-server --port 0; expected \"listening on 127.0.0.1:PORT\" on stdout; "
        "stdout: \"%s\", stderr: \"%s\"",
        echo_test_one_line(sp->out, out, sizeof out), echo_test_one_line(sp->err, err, sizeof err));
    ck_assert_msg(strstr(sp->out, "listening on 127.0.0.1:") != NULL,
                  "expected \"listening on 127.0.0.1:PORT\" on stdout; got \"%.200s\"", sp->out);
}

static void check_signal_shutdown(int sig, const char *name)
{
    struct server_process sp;
    struct client c;
    char status_text[64], expected[128], err[256];
    char *argv[] = {SERVER_BIN, "--port", "0", NULL};

    start_binary(&sp, argv);
    ck_assert_msg(client_connect(&c, sp.port) == 0,
                  "could not connect to echo-server on port %u: %s", sp.port, strerror(errno));
    uint16_t port = client_local_port(&c);
    echo_test_roundtrip(&c, "hello\n");

    server_process_signal(&sp, sig);
    enum client_status st = client_wait_close(&c, ECHO_TEST_WAIT_MS);
    int status = server_process_wait(&sp, ECHO_TEST_WAIT_MS);
    server_process_status_str(status, status_text, sizeof status_text);
    server_process_cleanup(&sp);
    ck_assert_msg(
        status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "sent %s to echo-server with one idle client; expected it to close the client and "
        "exit with status 0 within a second; it is %s; stderr: \"%s\"",
        name, status_text, echo_test_one_line(sp.err, err, sizeof err));
    ck_assert_msg(st == CLIENT_EOF,
                  "after %s, expected the client's connection to be closed; it is %s", name,
                  client_status_str(st));
    snprintf(expected, sizeof expected, "disconnect 127.0.0.1:%u bytes=6 reason=shutdown", port);
    ck_assert_msg(strstr(sp.err, expected) != NULL,
                  "after %s, expected \"%s\" on stderr; stderr: \"%s\"", name, expected,
                  echo_test_one_line(sp.err, err, sizeof err));
    client_close(&c);
}

HARNESS_TEST(test_sigterm_stops_the_program_gracefully)
{
    check_signal_shutdown(SIGTERM, "SIGTERM");
    harness_pass();
}

HARNESS_TEST(test_sigint_stops_the_program_gracefully)
{
    check_signal_shutdown(SIGINT, "SIGINT");
    harness_pass();
}

HARNESS_TEST(test_command_line_is_checked)
{
    struct server_process sp;
    char status_text[64], text[256];
    char *good[] = {SERVER_BIN,       "--host", "127.0.0.1",         "--port", "0",
                    "--idle-timeout", "1000",   "--max-connections", "5",      NULL};
    char *help[] = {SERVER_BIN, "--help", NULL};
    char *bad[][4] = {
        {SERVER_BIN, "--port", "70000", NULL},      {SERVER_BIN, "--port", "seven", NULL},
        {SERVER_BIN, "--idle-timeout", "-5", NULL}, {SERVER_BIN, "--max-connections", "many", NULL},
        {SERVER_BIN, "--bogus", NULL, NULL},        {SERVER_BIN, "extra", NULL, NULL},
    };

    /* Every option, well formed: the program must run. */
    start_binary(&sp, good);
    server_process_signal(&sp, SIGTERM);
    server_process_wait(&sp, ECHO_TEST_WAIT_MS);
    server_process_cleanup(&sp);

    int status = server_process_run(&sp, SERVER_BIN, help, ECHO_TEST_WAIT_MS);
    server_process_cleanup(&sp);
    ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                      strstr(sp.out, "usage") != NULL,
                  "ran echo-server --help; expected the usage on stdout and exit status 0; got %s, "
                  "stdout \"%s\"",
                  server_process_status_str(status, status_text, sizeof status_text),
                  echo_test_one_line(sp.out, text, sizeof text));

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        status = server_process_run(&sp, SERVER_BIN, bad[i], ECHO_TEST_WAIT_MS);
        server_process_cleanup(&sp);
        ck_assert_msg(
            status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2 &&
                strstr(sp.err, "usage") != NULL,
            "ran echo-server %s %s; expected a usage message on stderr and exit status 2; "
            "got %s, stderr \"%s\"",
            bad[i][1], bad[i][2] != NULL ? bad[i][2] : "",
            server_process_status_str(status, status_text, sizeof status_text),
            echo_test_one_line(sp.err, text, sizeof text));
    }
    harness_pass();
}
