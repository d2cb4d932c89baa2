/*
 * server_fixture.c - see server_fixture.h.
 */
#include "server_fixture.h"

#include "transcript.h"

#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#define SERVER_FIXTURE_LIBEVENT_NOTES 20 /* libevent messages copied to the transcript */

/* libevent's own warnings (for example about a failing accept() with no error callback set)
 * go to the transcript instead of flooding the terminal. Called on any thread. */
static void libevent_log_cb(int severity, const char *msg)
{
    static _Atomic int seen;
    (void)severity;

    if (seen++ < SERVER_FIXTURE_LIBEVENT_NOTES)
        transcript_note("libevent says: %s", msg);
}

void server_fixture_init(struct server_fixture *f, bool with_loop)
{
    memset(f, 0, sizeof *f);
    event_set_log_callback(libevent_log_cb);
    f->log = log_capture_new();
    ck_assert_msg(f->log != NULL, "test setup failed: cannot create the log pipe");
    if (with_loop) {
        f->lt = loop_thread_new();
        ck_assert_msg(f->lt != NULL, "test setup failed: cannot create an event base");
    }
    snprintf(f->free_call, sizeof f->free_call, "the server's _free()");
    lifetime_snapshot(&f->fds_before); /* after the harness's own descriptors */
}

void server_fixture_check_created(struct server_fixture *f, const char *what)
{
    const char *new_call = strstr(what, "_new(");
    if (new_call != NULL)
        snprintf(f->free_call, sizeof f->free_call, "%.*s_free()",
                 (int)(new_call - what < 40 ? new_call - what : 40), what);
    if (f->server == NULL) /* let the log's reader thread catch up, for the message below */
        log_capture_wait(f->log, SERVER_FIXTURE_WAIT_MS / 5, NULL, 0, "", NULL);
    ck_assert_msg(f->server != NULL,
                  "%s returned NULL; expected a server listening on a port the system picks; its "
                  "log says: \"%s\"",
                  what, server_fixture_log_tail(f));
}

static void noop_cb(void *arg)
{
    (void)arg;
}

void server_fixture_run(struct server_fixture *f)
{
    ck_assert_msg(loop_thread_start(f->lt) == 0, "test setup failed: cannot start the loop thread");
    loop_thread_call(f->lt, noop_cb, NULL); /* returns once the loop is running */
}

void server_fixture_stop_loop(struct server_fixture *f)
{
    if (f->lt != NULL)
        loop_thread_stop(f->lt);
}

void server_fixture_free(struct server_fixture *f)
{
    if (f->server == NULL) {
        struct lifetime_fds named;
        memset(&named, 0, sizeof named);
        if (f->lt != NULL) /* the loop is stopped: its base holds only what is left */
            lifetime_check_events(loop_thread_base(f->lt), f->free_call, &named);
        lifetime_check_fds(&f->fds_before, &named, f->port, f->free_call);
    }
    if (f->lt != NULL)
        loop_thread_free(f->lt);
    f->lt = NULL;
    log_capture_free(f->log);
    f->log = NULL;
}

const char *server_fixture_log_tail(struct server_fixture *f)
{
    static char tail[1024];
    size_t n;

    if (f->log == NULL)
        return "";
    log_capture_tail(f->log, tail, sizeof tail);
    for (char *p = tail; *p != '\0'; p++)
        if (*p == '\n')
            *p = '|';
    n = strlen(tail);
    while (n > 0 && tail[n - 1] == '|') /* no separator after the last line */
        tail[--n] = '\0';
    return tail;
}

void server_fixture_expect_log(struct server_fixture *f, const char *verb, uint16_t client_port,
                               const char *expected, const char *context)
{
    char needle[64], line[512];

    snprintf(needle, sizeof needle, "%s 127.0.0.1:%u", verb, client_port);
    /* Lines are searched oldest first, and "connect ..." is also inside "disconnect ...":
     * the connect line, logged earlier, is found first. The exact comparison catches the rest. */
    int found = log_capture_wait(f->log, SERVER_FIXTURE_WAIT_MS, line, sizeof line, needle, NULL);
    ck_assert_msg(found && strcmp(line, expected) == 0,
                  "expected the log line \"%s\"; %s%s\"; log so far: \"%s\"; %s", expected,
                  found ? "found \"" : "found no line starting \"", found ? line : needle,
                  server_fixture_log_tail(f), context);
}

int server_fixture_wait_log_count(struct server_fixture *f, const char *needle, int n,
                                  int timeout_ms)
{
    return log_capture_wait_count(f->log, needle, n, timeout_ms);
}
