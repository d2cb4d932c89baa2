/*
 * server_fixture.h - a server under test: its log in a capture, its event loop on a thread.
 *
 * Every suite starts its server the same way: a log_capture for the server's log stream, a
 * loop_thread whose base the server is created on (exercise 03's server runs threads of its
 * own and needs none), the port the kernel picked, and libevent's own warnings sent to the
 * transcript. Each suite's fixture (echo_test.c, chat_test.c, api_fixture.c) fills in only
 * what is its own: the config, the _new() and _free() calls.
 *
 * What the server leaves behind is accounted for each test (lifetime.h): server_fixture_init()
 * notes the open descriptors, and server_fixture_free(), once the suite has freed the server
 * (f->server set back to NULL), warns about the events still on the loop's base and the
 * descriptors opened since and still open.
 *
 *     struct server_fixture f;
 *     server_fixture_init(&f, true);
 *     f.server = echo_server_new(loop_thread_base(f.lt), &cfg);  // cfg.log =
 * log_capture_stream(f.log) server_fixture_check_created(&f, "echo_server_new()"); f.port =
 * echo_server_port(f.server); server_fixture_run(&f);
 *     ...
 *     server_fixture_stop_loop(&f);
 *     echo_server_free(f.server);
 *     server_fixture_free(&f);
 */
#ifndef SERVER_FIXTURE_H
#define SERVER_FIXTURE_H

#include "client.h"
#include "lifetime.h"
#include "log_capture.h"
#include "loop_thread.h"

#include <stdbool.h>
#include <stdint.h>

#define SERVER_FIXTURE_WAIT_MS 5000 /* how long to wait for a log line that should come */

struct server_fixture {
    struct loop_thread *lt;         /* NULL when the server runs its own threads */
    struct log_capture *log;        /* the server's log stream writes here */
    void *server;                   /* what the server's _new() returned; the suite frees it */
    uint16_t port;                  /* the port the server listens on */
    struct lifetime_fds fds_before; /* open before the server's _new() */
    char free_call[64];             /* "echo_server_free()", for the warnings */
};

/* Creates the log capture (and the loop thread, when with_loop). Fails the test when the
 * system is out of resources. */
void server_fixture_init(struct server_fixture *f, bool with_loop);

/* After the server's _new(): fails the test when f->server is NULL, with `what` ("echo_server_new
 * (port 0)") and what the server logged (it usually says why). The warnings about what the
 * server leaves behind name the matching _free() ("echo_server_free()"). */
void server_fixture_check_created(struct server_fixture *f, const char *what);

/* Runs the loop on its thread; returns once it runs, so a later stop cannot miss it. */
void server_fixture_run(struct server_fixture *f);

/* Stops the loop thread's loop (then free the server, then call server_fixture_free). */
void server_fixture_stop_loop(struct server_fixture *f);

/* Frees the loop thread and the log capture. When the server was freed (f->server is NULL),
 * warns first about what it left behind. */
void server_fixture_free(struct server_fixture *f);

/* The log's last lines, on one line with '|' between them, for failure messages. A static
 * buffer: use the result before the next call. */
const char *server_fixture_log_tail(struct server_fixture *f);

/*
 * Waits for the log line that starts "<verb> 127.0.0.1:<client_port>" (client_port is the
 * client's own, see client_local_port) and checks it is exactly `expected`. Fails with both
 * lines, the log's tail and `context` (what the line is about) otherwise.
 */
void server_fixture_expect_log(struct server_fixture *f, const char *verb, uint16_t client_port,
                               const char *expected, const char *context);

/* Waits until `needle` has been logged n times or timeout_ms passes; returns the count. */
int server_fixture_wait_log_count(struct server_fixture *f, const char *needle, int n,
                                  int timeout_ms);

#endif
