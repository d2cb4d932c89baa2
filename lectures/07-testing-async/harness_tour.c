/*
 * harness_tour.c - the course's test helpers at work: a tiny echo server and three tests.
 *
 * The tests are written like the exercises' tests: the server runs on a loop thread with a
 * watchdog (tests/common/loop_thread.h), logs into a pipe the test waits on (log_capture.h), and
 * the clients are blocking sockets with a timeout on every wait (client.h) that keep a
 * transcript (transcript.h). One test passes, one blocks the loop on purpose and is caught by
 * the watchdog, one runs the process out of descriptors (fd_limit.h).
 * Try it: ./build/lectures/07-testing-async/harness-tour --demo
 */
#include "client.h"
#include "fd_limit.h"
#include "harness.h"
#include "log_capture.h"
#include "loop_thread.h"
#include "transcript.h"

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOUR_MAX_CONNS 8      /* connections the server keeps; more are refused */
#define TOUR_WAIT_MS 5000     /* how long a test waits for something that should happen */
#define TOUR_TEST_TIMEOUT_S 8 /* Check's timeout: longer than the watchdog's 2 s */
#define TOUR_BLOCK_MS 10000   /* how long the buggy read callback sleeps */

/* ---- the server under test ------------------------------------------------------------- */

struct tour_server {
    struct evconnlistener *listener;
    FILE *log;                                 /* borrowed: the test's log capture */
    int block_ms;                              /* > 0: the bug, a sleep in the read callback */
    struct bufferevent *conns[TOUR_MAX_CONNS]; /* owned; NULL when free */
};

static void tour_read_cb(struct bufferevent *bev, void *arg);
static void tour_event_cb(struct bufferevent *bev, short what, void *arg);
static void tour_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg);
static void tour_accept_error_cb(struct evconnlistener *lev, void *arg);

static void tour_read_cb(struct bufferevent *bev, void *arg)
{
    struct tour_server *srv = arg;
    if (srv->block_ms > 0) {
        struct timespec ts = {srv->block_ms / 1000, (srv->block_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* the bug: nothing else on this loop runs meanwhile */
    }
    bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void tour_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct tour_server *srv = arg;
    (void)what; /* EOF or error: either way the connection is over */
    for (int i = 0; i < TOUR_MAX_CONNS; i++)
        if (srv->conns[i] == bev)
            srv->conns[i] = NULL;
    bufferevent_free(bev);
}

static void tour_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg)
{
    struct tour_server *srv = arg;
    (void)sa;
    (void)salen;
    for (int i = 0; i < TOUR_MAX_CONNS; i++) {
        if (srv->conns[i] != NULL)
            continue;
        struct event_base *base = evconnlistener_get_base(lev);
        srv->conns[i] = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (srv->conns[i] == NULL)
            break;
        bufferevent_setcb(srv->conns[i], tour_read_cb, NULL, tour_event_cb, srv);
        bufferevent_enable(srv->conns[i], EV_READ);
        return;
    }
    evutil_closesocket(fd);
}

/* A real server would pause and retry (Lecture 06); this one gives up listening. */
static void tour_accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct tour_server *srv = arg;
    fprintf(srv->log, "accept failed: %s\n", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    evconnlistener_disable(lev);
}

/* Listens on 127.0.0.1, port 0, and logs the real port. Returns 0 or -1. */
static int tour_server_init(struct tour_server *srv, struct event_base *base, FILE *log)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(srv, 0, sizeof *srv);
    srv->log = log;
    srv->listener = evconnlistener_new_bind(base, tour_accept_cb, srv,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                            (struct sockaddr *)&sin, sizeof sin);
    if (srv->listener == NULL)
        return -1;
    evconnlistener_set_error_cb(srv->listener, tour_accept_error_cb);
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&sin, &len);
    fprintf(log, "listening on 127.0.0.1:%u\n", ntohs(sin.sin_port));
    return 0;
}

static void tour_server_free(struct tour_server *srv)
{
    for (int i = 0; i < TOUR_MAX_CONNS; i++)
        if (srv->conns[i] != NULL)
            bufferevent_free(srv->conns[i]);
    if (srv->listener != NULL)
        evconnlistener_free(srv->listener);
}

/* ---- the tests ------------------------------------------------------------------------- */

struct tour_fixture {
    struct loop_thread *lt;
    struct log_capture *log;
    struct tour_server srv;
    uint16_t port;
};

/* Starts the server on its loop thread and reads its port from the "listening on" line. */
static void tour_start(struct tour_fixture *f, int block_ms)
{
    char line[128];

    f->lt = loop_thread_new();
    f->log = log_capture_new();
    ck_assert_msg(f->lt != NULL && f->log != NULL, "test setup failed: out of memory");
    ck_assert_msg(tour_server_init(&f->srv, loop_thread_base(f->lt), log_capture_stream(f->log)) ==
                      0,
                  "the server did not start");
    f->srv.block_ms = block_ms;
    loop_thread_start(f->lt);
    ck_assert_msg(log_capture_wait(f->log, TOUR_WAIT_MS, line, sizeof line, "listening on ", NULL),
                  "no \"listening on\" line in the log");
    f->port = (uint16_t)atoi(strrchr(line, ':') + 1);
    transcript_note("the server said \"%s\"", line);
}

static void tour_stop(struct tour_fixture *f)
{
    loop_thread_stop(f->lt); /* the loop has stopped: the server can be freed from here */
    tour_server_free(&f->srv);
    loop_thread_free(f->lt);
    log_capture_free(f->log);
}

START_TEST(test_echo_on_port_0)
{
    struct tour_fixture f;
    struct client c;
    char got[64];

    tour_start(&f, 0);
    ck_assert_msg(client_connect(&c, f.port) == 0, "cannot connect to port %u", f.port);
    client_send_str(&c, "hello\tworld\n", TOUR_WAIT_MS);
    enum client_status st = client_recv_line(&c, got, sizeof got, TOUR_WAIT_MS);
    ck_assert_msg(st == CLIENT_OK && strcmp(got, "hello\tworld") == 0,
                  "expected the line back, got \"%s\" (%s)", got, client_status_str(st));
    client_close(&c);
    tour_stop(&f);
    harness_pass();
}
END_TEST

START_TEST(test_blocked_loop_is_caught)
{
    struct tour_fixture f;
    struct client c;
    char got[64];

    tour_start(&f, TOUR_BLOCK_MS);
    ck_assert_msg(client_connect(&c, f.port) == 0, "cannot connect to port %u", f.port);
    client_send_str(&c, "are you there?\n", TOUR_WAIT_MS);
    enum client_status st = client_recv_line(&c, got, sizeof got, TOUR_WAIT_MS);
    ck_assert_msg(st == CLIENT_OK, "no answer (%s)", client_status_str(st));
    client_close(&c);
    tour_stop(&f);
    harness_pass();
}
END_TEST

START_TEST(test_out_of_descriptors)
{
    struct tour_fixture f;
    struct client c;
    static struct fd_limit fl; /* static: its table of descriptors is large for a stack */
    char line[128];

    tour_start(&f, 0);
    ck_assert_msg(fd_limit_exhaust(&fl, 1) == 0, "cannot fill the descriptor table");
    int connected = client_connect(&c, f.port); /* takes the one descriptor left */
    int logged = log_capture_wait(f.log, TOUR_WAIT_MS, line, sizeof line, "accept failed", NULL);
    fd_limit_restore(&fl); /* before any assertion: a failed test must not keep the limit */
    transcript_note("the server logged \"%s\"", line);
    ck_assert_msg(connected == 0, "the client could not connect");
    ck_assert_msg(logged, "expected an \"accept failed\" line in the log");
    client_close(&c);
    tour_stop(&f);
    harness_pass();
}
END_TEST

/* ---- a runner that shows each test's verdict and transcript ----------------------------- */

static void run_one(const char *name, const TTest *test, const char *transcript)
{
    FILE *t = fopen(transcript, "w"); /* empty it: each test gets its own */
    if (t != NULL)
        fclose(t);
    Suite *suite = suite_create("tour");
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, TOUR_TEST_TIMEOUT_S);
    tcase_add_exit_test(tc, test, HARNESS_PASS_EXIT);
    tcase_add_checked_fixture(tc, transcript_start, NULL); /* the records' time 0 */
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_FORK);
    srunner_run_all(runner, CK_SILENT);

    TestResult **results = srunner_results(runner);
    int passed = tr_rtype(results[0]) == CK_PASS;
    printf("%s: %s%s\n", name, passed ? "pass" : "FAIL: ", passed ? "" : tr_msg(results[0]));
    free(results);
    srunner_free(runner);

    char line[512];
    if ((t = fopen(transcript, "r")) != NULL) {
        printf("  transcript:\n");
        while (fgets(line, sizeof line, t) != NULL)
            printf("    %s", line);
        fclose(t);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    char transcript[] = "/tmp/harness-tour-XXXXXX";
    int fd = mkstemp(transcript);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);
    setenv("HARNESS_TRANSCRIPT", transcript, 1); /* transcript.c appends here */

    run_one("test_echo_on_port_0", test_echo_on_port_0, transcript);
    run_one("test_blocked_loop_is_caught", test_blocked_loop_is_caught, transcript);
    run_one("test_out_of_descriptors", test_out_of_descriptors, transcript);
    unlink(transcript);
    return 0;
}
