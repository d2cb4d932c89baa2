/*
 * test_server.c - the server's life beyond single requests: a CONNECT, running out of file
 * descriptors, and stopping while replies are still being written.
 */
#include "fd_limit.h"
#include "suite.h"

#include "transcript.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAT_ITEMS HTTP_API_PAGE_MAX_ITEMS /* GET /items then answers about 1.6 MB */
#define FAT_TITLE_BYTES 256               /* each a control character: 6 bytes once escaped */
#define SERVER_SNDBUF_BYTES 4096          /* the kernel doubles it; the default grows to MBs */
#define FD_SCAN_MAX 1024                  /* descriptors searched for the listening socket */
#define STOP_GRACE_MS 500                 /* shutdown_grace_ms: 5 s would be slow to wait out */

/* ---- CONNECT -------------------------------------------------------------------------------- */

HARNESS_TEST(test_connect_gets_501_and_is_closed)
{
    struct server_fixture f;
    struct http_response r;
    struct client c;
    const char *request = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    api_start(&f, NULL); /* idle timeout 30 s: a close within 2 s is the server's doing */
    ck_assert_msg(client_connect(&c, f.port) == 0, "cannot connect to the server");
    client_send_str(&c, request, REQUEST_TIMEOUT_MS);
    enum client_status st = http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS);
    ck_assert_msg(st == CLIENT_OK && r.status == 501,
                  "sent %s: expected a complete 501 Not "
                  "Implemented (this server is no proxy), got %s (%s); a 501 without a body "
                  "length means evhttp answered, not the server's own code",
                  esc(request, strlen(request)), show(&r), client_status_str(st));
    http_response_free(&r);
    st = client_wait_close(&c, 2000);
    ck_assert_msg(st == CLIENT_EOF,
                  "after the 501 to a CONNECT the connection is still open 2 s "
                  "later; the client would wait for the idle timeout (30 s). Every method must "
                  "reach the server's own code, which closes a CONNECT's connection");
    client_close(&c);
    api_stop(&f);
    harness_pass();
}

/* ---- accept errors -------------------------------------------------------------------------- */

HARNESS_TEST(test_accept_errors_pause_and_recover)
{
    struct server_fixture f;
    struct http_response r;
    struct fd_limit fl;
    struct client c, c2;
    char line[256], tail[600];
    api_start(&f, NULL);

    /* The test's own socket takes the last free descriptor, so the server's accept() of it
     * fails with EMFILE ("Too many open files"). */
    ck_assert_msg(fd_limit_exhaust(&fl, 1) == 0, "test setup: cannot lower RLIMIT_NOFILE");
    int connected = client_connect(&c, f.port);
    int logged = connected == 0 &&
                 log_capture_wait(f.log, 2000, line, sizeof line, "accept failed", (char *)NULL);
    fd_limit_restore(&fl); /* as if other clients had left: descriptors are free again */
    ck_assert_msg(connected == 0, "test setup: cannot connect with one descriptor left");
    transcript_note("c%d connected while the process had no descriptor left for the server", c.id);
    ck_assert_msg(logged,
                  "a client connected while the server had no file descriptor left: "
                  "expected the log line \"worker 0: accept failed: Too many open files; pausing "
                  "accepts for 100 ms\" (accept_error_cb), the log has \"%s\"",
                  esc(log_capture_tail(f.log, tail, sizeof tail), strlen(tail)));

    /* The connection waited in the backlog; once descriptors are free it must be served. */
    http_send(&c, "GET", "/items", NULL, NULL, REQUEST_TIMEOUT_MS);
    enum client_status st = http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS);
    ck_assert_msg(st == CLIENT_OK && r.status != 0,
                  "the client that connected while descriptors "
                  "ran out: expected a complete response once they were free again, got %s (%s); "
                  "accepting must pause and then resume",
                  show(&r), client_status_str(st));
    http_response_free(&r);
    client_close(&c);
    ck_assert_msg(client_connect(&c2, f.port) == 0,
                  "after running out of descriptors and "
                  "recovering, a new connection to port %u is refused",
                  f.port);
    http_send(&c2, "GET", "/items", NULL, NULL, REQUEST_TIMEOUT_MS);
    st = http_read_response(&c2, 0, &r, REQUEST_TIMEOUT_MS);
    ck_assert_msg(st == CLIENT_OK && r.status != 0,
                  "a new client after the descriptors ran out "
                  "and came back: expected a complete response, got %s (%s)",
                  show(&r), client_status_str(st));
    http_response_free(&r);
    client_close(&c2);
    api_stop(&f);
    harness_pass();
}

/* ---- stopping --------------------------------------------------------------------------- */

/*
 * Makes replies slow to write. Connections inherit their send buffer from the listening socket;
 * a small fixed one (instead of the several MB the kernel allows itself on loopback) means a
 * reply of a few hundred KB stays in the server's hands until the client reads it. The test
 * runs the server in its own process, so it finds the listening socket among its descriptors.
 */
static void shrink_server_send_buffer(uint16_t port)
{
    int found = 0;
    for (int fd = 0; fd < FD_SCAN_MAX; fd++) {
        int listening = 0, size = SERVER_SNDBUF_BYTES;
        socklen_t len = sizeof listening;
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof ss;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
            getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0 || ss.ss_family != AF_INET ||
            ntohs(((struct sockaddr_in *)&ss)->sin_port) != port)
            continue;
        found += setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0;
    }
    ck_assert_msg(found > 0, "test setup: no listening socket on port %u in this process", port);
}

/* Creates FAT_ITEMS items whose titles are FAT_TITLE_BYTES control characters, over one
 * keep-alive connection. */
static void create_fat_items(struct server_fixture *f)
{
    static char body[FAT_TITLE_BYTES * 6 + 32];
    struct client c;
    struct http_response r;
    int n = snprintf(body, sizeof body, "{\"title\": \"");
    for (int i = 0; i < FAT_TITLE_BYTES; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "\\u0001");
    snprintf(body + n, sizeof body - (size_t)n, "\"}");
    ck_assert_msg(client_connect(&c, f->port) == 0, "cannot connect to the server");
    transcript_note("creating %d items with %d-byte titles", FAT_ITEMS, FAT_TITLE_BYTES);
    for (int i = 0; i < FAT_ITEMS; i++) {
        http_send(&c, "POST", "/items", "Content-Type: application/json\r\n", body,
                  REQUEST_TIMEOUT_MS);
        enum client_status st = http_read_response(&c, 0, &r, REQUEST_TIMEOUT_MS);
        ck_assert_msg(st == CLIENT_OK && r.status == 201,
                      "test setup, POST /items (item %d of "
                      "%d): expected 201, got %s (%s)",
                      i + 1, FAT_ITEMS, show(&r), client_status_str(st));
        http_response_free(&r);
    }
    client_close(&c);
}

/* Sends GET /items (about 1.6 MB) on a new connection and waits for its first bytes: from then
 * on the server is writing that reply, and cannot finish until the client reads. */
static void start_big_reply(struct server_fixture *f, struct client *c)
{
    ck_assert_msg(client_connect(c, f->port) == 0, "cannot connect to the server");
    http_send(c, "GET", "/items", NULL, NULL, REQUEST_TIMEOUT_MS);
    ck_assert_msg(client_wait_data(c, REQUEST_TIMEOUT_MS) > 0,
                  "GET /items with %d items: no "
                  "answer within %d ms",
                  FAT_ITEMS, REQUEST_TIMEOUT_MS);
    transcript_note("c%d: the reply to GET /items has started and the client is not reading",
                    c->id);
}

struct stopper {
    struct http_api *api;
    int64_t start_ms;
    atomic_llong took_ms; /* -1 until http_api_free returns */
};

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;
    http_api_free(s->api);
    atomic_store(&s->took_ms, client_now_ms() - s->start_ms);
    return NULL;
}

/* Calls http_api_free on a thread of its own (it blocks while replies finish). */
static void start_stopping(struct server_fixture *f, struct stopper *s, pthread_t *thread)
{
    s->api = f->server;
    f->server = NULL;
    s->start_ms = client_now_ms();
    atomic_store(&s->took_ms, -1);
    transcript_note("http_api_free() called");
    ck_assert_msg(pthread_create(thread, NULL, stopper_main, s) == 0, "test setup: pthread_create");
}

/* Waits until the server refuses new connections: it has stopped accepting, so the stop has
 * begun. Returns 1, or 0 if it still accepts after timeout_ms. */
static int wait_until_refused(uint16_t port, int timeout_ms)
{
    int64_t deadline = client_now_ms() + timeout_ms;
    while (client_now_ms() < deadline) {
        struct client probe;
        if (client_connect(&probe, port) != 0)
            return 1;
        client_close(&probe);
        usleep(10 * 1000); /* polling a condition, not waiting for time to pass */
    }
    return 0;
}

HARNESS_TEST(test_stop_finishes_a_reply_in_flight)
{
    struct server_fixture f;
    struct http_response r;
    struct client c;
    struct stopper s;
    pthread_t thread;
    api_start(&f, NULL);
    shrink_server_send_buffer(f.port);
    create_fat_items(&f);
    start_big_reply(&f, &c);

    start_stopping(&f, &s, &thread);
    ck_assert_msg(wait_until_refused(f.port, 2000),
                  "http_api_free() was called 2 s ago and the "
                  "server still accepts new connections; a stopping worker closes its listening "
                  "socket first");
    transcript_note("the server refuses new connections; now the client reads its reply");
    enum client_status st = http_read_response(&c, 0, &r, HTTP_API_SHUTDOWN_GRACE_MS);
    ck_assert_msg(st == CLIENT_OK && r.status == 200,
                  "GET /items (about 1.6 MB) was being written "
                  "when http_api_free() was called, and the client went on reading: expected the "
                  "whole 200 reply, got %s after %zu body bytes (%s); a stopping server finishes "
                  "the replies in flight before it closes their connections",
                  r.status_line, r.body_len, client_status_str(st));
    json_t *j = body_json(&r, "GET /items");
    ck_assert_msg(json_array_size(j) == FAT_ITEMS,
                  "GET /items, finished during the stop: "
                  "expected %d items, got %zu",
                  FAT_ITEMS, json_array_size(j));
    json_decref(j);
    http_response_free(&r);
    pthread_join(thread, NULL);
    transcript_note("http_api_free() returned after %lld ms", (long long)atomic_load(&s.took_ms));
    client_close(&c);
    api_stop(&f);
    harness_pass();
}

HARNESS_TEST(test_stop_cuts_off_a_reply_that_never_drains)
{
    struct server_fixture f;
    struct client c;
    struct stopper s;
    pthread_t thread;
    struct http_api_config cfg = {.threads = 1, .shutdown_grace_ms = STOP_GRACE_MS};
    const int early = STOP_GRACE_MS / 2, late = STOP_GRACE_MS + 1500;
    api_start(&f, &cfg);
    shrink_server_send_buffer(f.port);
    create_fat_items(&f);
    start_big_reply(&f, &c); /* and never read it */

    start_stopping(&f, &s, &thread);
    while (atomic_load(&s.took_ms) < 0 && client_now_ms() - s.start_ms < late + 3000)
        usleep(20 * 1000); /* polling a condition */
    long long took = atomic_load(&s.took_ms);
    ck_assert_msg(took >= 0,
                  "a client stopped reading a 1.6 MB reply, and http_api_free() has "
                  "not returned %d ms later; a stopping worker waits at most the config's "
                  "shutdown_grace_ms (%d ms) for replies in flight",
                  late + 3000, STOP_GRACE_MS);
    pthread_join(thread, NULL);
    ck_assert_msg(took >= early && took <= late,
                  "a client stopped reading a 1.6 MB reply: "
                  "http_api_free() returned after %lld ms, expected after the grace period "
                  "(shutdown_grace_ms = %d), between %d and %d ms; %s",
                  took, STOP_GRACE_MS, early, late,
                  took < early
                      ? "returning sooner cuts off replies that a slow client could still have read"
                      : "the grace period bounds the wait");
    ck_assert_msg(client_wait_close(&c, 1000) == CLIENT_EOF,
                  "after http_api_free() returned, "
                  "the connection of the client that did not read is still open");
    client_close(&c);
    api_stop(&f);
    harness_pass();
}
