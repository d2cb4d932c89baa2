/*
 * test_cli.c - the http-api command as a user runs it: the listening line, bad arguments, a
 * clean exit on SIGTERM and SIGINT, and its log when it runs out of descriptors.
 */
#include "server_process.h"
#include "suite.h"
#include "transcript.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define START_TIMEOUT_MS 3000
#define CLI_FD_LIMIT 32 /* descriptors the program gets in the accept-error test */
#define EXIT_TIMEOUT_MS (HTTP_API_SHUTDOWN_GRACE_MS + 2000)
#define LOGGED_WITHIN_MS 1000 /* an accept error reaches stderr this soon */

static void start(struct server_process *sp, char *const argv[])
{
    int rc = server_process_start(sp, SERVER_BIN, argv, START_TIMEOUT_MS);
    ck_assert_msg(rc == 0,
                  "http-api --port 0: expected \"listening on 127.0.0.1:PORT\" on stdout "
                  "within 3 s; stdout \"%s\", stderr \"%s\"",
                  esc(sp->out, sp->out_len), esc(sp->err, sp->err_len));
}

/* One request to the running process on a fresh connection. */
static void get(uint16_t port, const char *target, struct http_response *r)
{
    struct client c;
    ck_assert_msg(client_connect(&c, port) == 0, "cannot connect to http-api on port %u", port);
    http_send(&c, "GET", target, NULL, NULL, REQUEST_TIMEOUT_MS);
    enum client_status st = http_read_response(&c, 0, r, REQUEST_TIMEOUT_MS);
    ck_assert_msg(st == CLIENT_OK, "GET %s to http-api: no complete response (%s)", target,
                  client_status_str(st));
    client_close(&c);
}

HARNESS_TEST(test_cli_listens_and_serves)
{
    struct server_process sp;
    struct http_response r;
    char *argv[] = {"http-api", "--port", "0", "--threads", "2", NULL};
    start(&sp, argv);
    ck_assert_msg(strstr(sp.out, "listening on 127.0.0.1:") != NULL,
                  "http-api --port 0 printed "
                  "\"%s\"; expected \"listening on 127.0.0.1:PORT\" (the default host)",
                  esc(sp.out, sp.out_len));
    ck_assert_msg(sp.port != HTTP_API_DEFAULT_PORT,
                  "http-api --port 0 listens on %u, the default "
                  "port: --port was not read (port 0 asks the kernel for a free port)",
                  sp.port);
    get(sp.port, "/items", &r);
    ck_assert_msg(r.status == 200 && strcmp(r.body, "[]") == 0,
                  "GET /items to a fresh http-api: "
                  "expected 200 [], got %s",
                  show(&r));
    http_response_free(&r);
    server_process_cleanup(&sp);
    harness_pass();
}

HARNESS_TEST(test_cli_rejects_bad_arguments)
{
    struct server_process help;
    char *help_argv[] = {"http-api", "--help", NULL}, st_help[64];
    int help_status = server_process_run(&help, SERVER_BIN, help_argv, START_TIMEOUT_MS);
    ck_assert_msg(help_status != -1 && WIFEXITED(help_status) && WEXITSTATUS(help_status) == 0 &&
                      strstr(help.out, "usage") != NULL,
                  "http-api --help: expected the usage on stdout and exit status 0, got %s and "
                  "stdout \"%s\"",
                  server_process_status_str(help_status, st_help, sizeof st_help),
                  esc(help.out, help.out_len));
    server_process_cleanup(&help);

    char *bad[][5] = {
        {"http-api", "--port", "http", NULL}, {"http-api", "--port", "70000", NULL},
        {"http-api", "--threads", "0", NULL}, {"http-api", "--bogus", NULL},
        {"http-api", "extra", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct server_process sp;
        char what[64] = "", st[64];
        for (int k = 1; bad[i][k] != NULL; k++)
            strcat(strcat(what, " "), bad[i][k]);
        int status = server_process_run(&sp, SERVER_BIN, bad[i], START_TIMEOUT_MS);
        ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2 &&
                          strstr(sp.err, "usage") != NULL,
                      "http-api%s: expected a usage message on stderr and exit status 2, got %s "
                      "and stderr \"%s\" (main.c)",
                      what, server_process_status_str(status, st, sizeof st),
                      esc(sp.err, sp.err_len));
        server_process_cleanup(&sp);
    }
    harness_pass();
}

static void exits_cleanly_on(int sig, const char *name)
{
    struct server_process sp;
    struct http_response r;
    char *argv[] = {"http-api", "--port", "0", "--threads", "2", NULL};
    char st[64];
    struct client idle;
    start(&sp, argv);
    get(sp.port, "/items", &r); /* the server is up and has served a request */
    http_response_free(&r);
    /* An idle keep-alive connection must not delay the exit. */
    ck_assert_msg(client_connect(&idle, sp.port) == 0, "cannot connect to http-api");
    server_process_signal(&sp, sig);
    int status = server_process_wait(&sp, EXIT_TIMEOUT_MS);
    ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "http-api after %s: expected a graceful exit with status 0 within %d ms, got %s "
                  "(stderr \"%s\"), with one idle keep-alive connection open",
                  name, EXIT_TIMEOUT_MS, server_process_status_str(status, st, sizeof st),
                  esc(sp.err, sp.err_len));
    client_close(&idle);
    server_process_cleanup(&sp);
}

HARNESS_TEST(test_cli_exits_0_on_sigterm)
{
    exits_cleanly_on(SIGTERM, "SIGTERM");
    harness_pass();
}

HARNESS_TEST(test_cli_exits_0_on_sigint)
{
    exits_cleanly_on(SIGINT, "SIGINT");
    harness_pass();
}

/* Found by tests/load/run-load: the program buffers its log (stderr) and flushed it only after
 * a request. Out of descriptors, no request completes, so the "accept failed" line, the one an
 * operator most needs, stayed in the buffer until the program exited. */
HARNESS_TEST(test_cli_logs_accept_errors_at_once)
{
    struct server_process sp;
    struct rlimit old, low = {CLI_FD_LIMIT, CLI_FD_LIMIT};
    struct client clients[CLI_FD_LIMIT];
    int nclients = 0;
    char *argv[] = {"http-api", "--port", "0", "--threads", "1", NULL};

    /* The program inherits the limit; the test takes its own back at once. */
    ck_assert_msg(getrlimit(RLIMIT_NOFILE, &old) == 0 && setrlimit(RLIMIT_NOFILE, &low) == 0,
                  "test setup: cannot lower RLIMIT_NOFILE");
    int rc = server_process_start(&sp, SERVER_BIN, argv, START_TIMEOUT_MS);
    setrlimit(RLIMIT_NOFILE, &old);
    ck_assert_msg(rc == 0,
                  "http-api --port 0 with %d descriptors: expected \"listening on "
                  "127.0.0.1:PORT\" within 3 s; stderr \"%s\"",
                  CLI_FD_LIMIT, esc(sp.err, sp.err_len));
    transcript_note("http-api started with %d descriptors; %d clients connect and stay",
                    CLI_FD_LIMIT, CLI_FD_LIMIT);
    while (nclients < CLI_FD_LIMIT && client_connect(&clients[nclients], sp.port) == 0)
        nclients++;
    /* Its stderr, collected while waiting (in short steps), until the line shows up or
     * LOGGED_WITHIN_MS have passed. */
    char err[SERVER_PROCESS_OUTPUT_MAX + 1];
    int logged = 0;
    for (int64_t until = client_now_ms() + LOGGED_WITHIN_MS; !logged && client_now_ms() < until;) {
        int exited = server_process_wait(&sp, 50) != -1;
        memcpy(err, sp.err, sp.err_len);
        err[sp.err_len] = '\0';
        logged = strstr(err, "accept failed") != NULL;
        if (exited)
            break;
    }
    for (int i = 0; i < nclients; i++)
        client_close(&clients[i]);
    server_process_signal(&sp, SIGTERM);
    server_process_wait(&sp, EXIT_TIMEOUT_MS);
    ck_assert_msg(logged,
                  "http-api ran out of descriptors (%d clients against a limit of %d), but within "
                  "%d ms its stderr said nothing of it: \"%s\". The log is buffered; a line about "
                  "an accept error must be flushed soon, like a request's (flush_ev)",
                  nclients, CLI_FD_LIMIT, LOGGED_WITHIN_MS, esc(sp.err, sp.err_len));
    server_process_cleanup(&sp);
    harness_pass();
}
