/*
 * echo_test.c - see echo_test.h.
 */
#include "echo_test.h"

#include "chaos.h"
#include "peer_socket.h"
#include "transcript.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/select.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Linux's MSG_NOSIGNAL; elsewhere the suite ignores SIGPIPE as a whole (harness.c). */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define ECHO_TEST_CHUNK (64 * 1024) /* default send chunk, and the receive size */

void echo_test_start(struct server_fixture *f, int idle_timeout_ms, int max_connections)
{
    echo_test_create(f, idle_timeout_ms, max_connections);
    server_fixture_run(f);
}

void echo_test_create(struct server_fixture *f, int idle_timeout_ms, int max_connections)
{
    /* Chaos mode: a test of the connection limit counts the clients it connects itself. A
     * background client (chaos.h) would take a slot, and a correct server would refuse one of
     * the test's own clients. */
    if (max_connections > 0)
        chaos_no_background_clients("a test of the connection limit counts every client");
    server_fixture_init(f, true);
    struct echo_server_config cfg = {
        .host = "127.0.0.1",
        .port = 0,
        .idle_timeout_ms = idle_timeout_ms,
        .max_connections = max_connections,
        .log = log_capture_stream(f->log),
    };
    transcript_note("server: echo_server_new(port 0, idle_timeout_ms %d, max_connections %d)",
                    idle_timeout_ms, max_connections);
    f->server = echo_server_new(loop_thread_base(f->lt), &cfg);
    server_fixture_check_created(f, "echo_server_new() on 127.0.0.1 port 0");
    f->port = echo_server_port(f->server);
    ck_assert_msg(f->port != 0,
                  "echo_server_port() returned 0 for a server started on port 0; expected the port "
                  "the system picked (1 to 65535)");
}

void echo_test_stop(struct server_fixture *f)
{
    server_fixture_stop_loop(f);
    echo_server_free(f->server);
    f->server = NULL;
    server_fixture_free(f);
}

void echo_test_connect(struct server_fixture *f, struct client *c)
{
    ck_assert_msg(client_connect(c, f->port) == 0,
                  "could not connect to the server on 127.0.0.1:%u, the port echo_server_port() "
                  "reported: %s; expected a listening socket there",
                  f->port, strerror(errno));
}

int echo_test_server_socket(struct server_fixture *f, const struct client *c)
{
    uint16_t port = client_local_port(c);
    char expected[64];

    /* Once the server has logged the connection, its socket exists. */
    snprintf(expected, sizeof expected, "connect 127.0.0.1:%u", port);
    server_fixture_expect_log(f, "connect", port, expected,
                              "every accepted client is logged as \"connect PEER\"");
    int fd = peer_socket_find(f->port, c);
    ck_assert_msg(fd >= 0, "test setup failed: cannot find the server's socket for c%d", c->id);
    return fd;
}

void echo_test_connect_small_window(struct server_fixture *f, struct client *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(f->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int size = ECHO_TEST_SMALL_BUF;
    static int next_id = 100; /* c100, c101, ... in the transcript */

    memset(c, 0, sizeof *c);
    c->id = next_id++;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_msg(c->fd >= 0, "test setup failed: socket: %s", strerror(errno));
    /* Before connect(), so that the window the client advertises is small from the start. */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    ck_assert_msg(connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0,
                  "could not connect to the server on 127.0.0.1:%u, the port echo_server_port() "
                  "reported: %s; expected a listening socket there",
                  f->port, strerror(errno));
    /* Like every test client (client.c): each send leaves at once. With Nagle's algorithm a
     * small write would wait for the acknowledgement of the one before, so bytes a test has
     * sent might not have reached the server yet (chaos mode makes such small writes). */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    transcript_note("c%d: connected to 127.0.0.1:%u with a small receive buffer", c->id, f->port);
}

void echo_test_connect_slow_reader(struct server_fixture *f, struct client *c)
{
    int size = ECHO_TEST_SMALL_BUF;

    echo_test_connect_small_window(f, c);
    transcript_note("c%d: the server's send buffer for it is made small too (a slow reader)",
                    c->id);
    setsockopt(echo_test_server_socket(f, c), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

void echo_test_roundtrip(struct client *c, const char *text)
{
    echo_test_roundtrip_hint(c, text, "the server must write back exactly the bytes it read");
}

const char *echo_test_one_line(const char *in, char *out, size_t outsz)
{
    size_t i = 0;

    if (outsz == 0)
        return out;
    for (; in[i] != '\0' && i + 1 < outsz; i++)
        out[i] = in[i] == '\n' ? '|' : in[i];
    while (i > 0 && out[i - 1] == '|') /* no separator after the last line */
        i--;
    out[i] = '\0';
    return out;
}

void echo_test_roundtrip_hint(struct client *c, const char *text, const char *hint)
{
    size_t len = strlen(text);
    char got[256];
    char esc_sent[128], esc_got[128];
    size_t n = 0;

    ck_assert_msg(len < sizeof got, "test bug: roundtrip text too long");
    ck_assert_msg(client_send(c, text, len, ECHO_TEST_WAIT_MS) == 0,
                  "c%d could not send \"%s\": %s; the server is not reading from this client",
                  c->id, transcript_escape(text, len, 40, esc_sent, sizeof esc_sent),
                  strerror(errno));
    enum client_status st = client_recv_exact(c, got, len, &n, ECHO_TEST_WAIT_MS);
    ck_assert_msg(st == CLIENT_OK && memcmp(got, text, len) == 0,
                  "c%d sent \"%s\"; expected the same %zu bytes back; received \"%s\" (%s); %s",
                  c->id, transcript_escape(text, len, 40, esc_sent, sizeof esc_sent), len,
                  transcript_escape(got, n, 40, esc_got, sizeof esc_got), client_status_str(st),
                  hint);
}

size_t echo_test_exchange(struct client *c, const unsigned char *data, size_t len,
                          unsigned char *back, size_t (*next_chunk)(uint64_t *rng), uint64_t *rng,
                          bool half_close, int timeout_ms)
{
    int64_t deadline = client_now_ms() + timeout_ms;
    size_t sent = 0, got = 0;
    bool shut = false;

    transcript_note("c%d: sending %zu bytes while reading the echo%s", c->id, len,
                    half_close ? ", then half-closing" : "");
    while (got < len) {
        if (sent == len && half_close && !shut) {
            client_shutdown_write(c);
            shut = true;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (sent < len ? POLLOUT : 0)};
        int64_t left = deadline - client_now_ms();
        if (left <= 0) {
            transcript_note("c%d: timed out with %zu of %zu bytes sent, %zu received", c->id, sent,
                            len, got);
            break;
        }
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            break;
        if ((pfd.revents & POLLOUT) && sent < len) {
            size_t chunk = next_chunk != NULL ? next_chunk(rng) : ECHO_TEST_CHUNK;
            if (chunk > len - sent)
                chunk = len - sent;
            ssize_t n = send(c->fd, data + sent, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                transcript_bytes('>', c->id, data + sent, (size_t)n);
                sent += (size_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                transcript_note("c%d: send failed: %s", c->id, strerror(errno));
                break;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t want = len - got < ECHO_TEST_CHUNK ? len - got : ECHO_TEST_CHUNK;
            ssize_t n = recv(c->fd, back + got, want, MSG_DONTWAIT);
            if (n > 0) {
                transcript_bytes('<', c->id, back + got, (size_t)n);
                got += (size_t)n;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                transcript_note("c%d: connection ended after %zu bytes received: %s", c->id, got,
                                n == 0 ? "closed by the server" : strerror(errno));
                break;
            }
        }
    }
    if (half_close && !shut && sent == len)
        client_shutdown_write(c);
    return got;
}

bool echo_test_wait_hangup(struct client *c, int timeout_ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = 0}; /* POLLHUP and POLLERR are always reported */
    int64_t deadline = client_now_ms() + timeout_ms;
    int64_t left;

    while ((left = deadline - client_now_ms()) > 0) {
        int r = poll(&pfd, 1, (int)left);
        if (r > 0 && (pfd.revents & (POLLHUP | POLLERR))) {
            transcript_note("c%d: the server dropped the connection", c->id);
            return true;
        }
        if (r < 0 && errno != EINTR)
            break;
    }
    return false;
}

unsigned char echo_test_pattern(size_t i)
{
    return (unsigned char)((i * 7 + i / 251) % 251);
}

size_t echo_test_send_until_stalled(struct client *c, size_t limit)
{
    unsigned char chunk[ECHO_TEST_CHUNK];
    size_t sent = 0;

    transcript_note("c%d: sending without reading until the server stops taking bytes", c->id);
    while (sent < limit) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        int r = poll(&pfd, 1, ECHO_TEST_STALL_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            break; /* nothing taken for ECHO_TEST_STALL_MS: stalled */
        size_t n = limit - sent < sizeof chunk ? limit - sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = echo_test_pattern(sent + i);
        ssize_t w = send(c->fd, chunk, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            transcript_note("c%d: send failed after %zu bytes: %s", c->id, sent, strerror(errno));
            break;
        }
        sent += (size_t)w;
    }
    transcript_note("c%d: the server took %zu bytes, then %s", c->id, sent,
                    sent < limit ? "stopped taking more" : "the test stopped sending");
    return sent;
}

size_t echo_test_recv_pattern(struct client *c, size_t len, int timeout_ms)
{
    unsigned char buf[ECHO_TEST_CHUNK];
    int64_t deadline = client_now_ms() + timeout_ms;
    size_t good = 0;

    while (good < len) {
        int64_t left = deadline - client_now_ms();
        size_t want = len - good < sizeof buf ? len - good : sizeof buf;
        size_t n = 0;
        if (left <= 0)
            break;
        client_recv_exact(c, buf, want, &n, (int)left);
        for (size_t i = 0; i < n; i++)
            if (buf[i] != echo_test_pattern(good + i))
                return good + i;
        good += n;
        if (n < want)
            break;
    }
    return good;
}

uint64_t echo_test_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

size_t echo_test_first_difference(const unsigned char *a, const unsigned char *b, size_t len)
{
    size_t i = 0;
    while (i < len && a[i] == b[i])
        i++;
    return i;
}
