/*
 * client.c - see client.h. Plain blocking sockets plus poll() for every wait: the simplest
 * code that can never hang a test.
 */
#include "client.h"

#include <event2/util.h>

#include "chaos.h"
#include "transcript.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Linux's MSG_NOSIGNAL: a send to a closed socket returns EPIPE instead of raising SIGPIPE.
 * Elsewhere the flag is 0, and the suites ignore SIGPIPE as a whole (harness.c), which has the
 * same effect. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int next_client_id = 1;

int64_t client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec client_realtime_deadline(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

const char *client_status_str(enum client_status st)
{
    switch (st) {
    case CLIENT_OK:
        return "ok";
    case CLIENT_TIMEOUT:
        return "timed out waiting for the server";
    case CLIENT_EOF:
        return "the server closed the connection";
    case CLIENT_ERROR:
        return "the connection failed (reset?)";
    }
    return "?";
}

/* Milliseconds left until deadline, never negative. */
static int remaining(int64_t deadline)
{
    int64_t left = deadline - client_now_ms();
    return left > 0 ? (int)left : 0;
}

int client_connect(struct client *c, uint16_t port)
{
    struct sockaddr_in sa;

    c->fd = -1;
    c->len = 0;
    c->eof = 0;
    c->err = 0;
    c->chaos_rng = 0;
    c->chaos_whole = 0;
    c->id = next_client_id++;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    evutil_make_socket_closeonexec(fd); /* a server the test starts must not inherit it */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int saved = errno;
        transcript_note("c%d: connect to 127.0.0.1:%u failed: %s", c->id, port, strerror(saved));
        close(fd);
        errno = saved;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    transcript_note("c%d: connected to 127.0.0.1:%u", c->id, port);
    transcript_event(TRANSCRIPT_CONNECT, c->id, port);
    chaos_connected(port);
    return 0;
}

int client_send(struct client *c, const void *buf, size_t len, int timeout_ms)
{
    const char *p = buf;
    size_t sent = 0;
    size_t piece = len; /* bytes left of the current write: all of them, unless in chaos mode */
    int64_t deadline = client_now_ms() + timeout_ms;
    struct chaos_cut cut;

    transcript_bytes('>', c->id, buf, len);
    bool cutting = chaos_active() && !c->chaos_whole && len > 0;
    if (cutting) {
        if (c->chaos_rng == 0)
            c->chaos_rng = chaos_stream((uint64_t)c->id);
        chaos_cut_begin(&cut, &c->chaos_rng, len);
        piece = chaos_cut_next(&cut, len);
    }
    while (sent < len) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        int r = poll(&pfd, 1, remaining(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            transcript_note("c%d: send stalled: the server is not reading", c->id);
            errno = r == 0 ? ETIMEDOUT : errno;
            return -1;
        }
        ssize_t n = send(c->fd, p + sent, piece, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            transcript_note("c%d: send failed: %s", c->id, strerror(errno));
            return -1;
        }
        sent += (size_t)n;
        piece -= (size_t)n;
        if (piece == 0 && sent < len) { /* chaos mode: the next piece, after a pause */
            chaos_cut_pause(&cut);
            piece = chaos_cut_next(&cut, len - sent);
        }
    }
    if (cutting)
        chaos_cut_note(&cut, c->id);
    return 0;
}

int client_send_str(struct client *c, const char *s, int timeout_ms)
{
    return client_send(c, s, strlen(s), timeout_ms);
}

/* Reads whatever is available into the buffer, waiting up to the deadline for something. */
static enum client_status fill(struct client *c, int64_t deadline)
{
    if (c->eof)
        return c->err ? CLIENT_ERROR : CLIENT_EOF;
    if (c->len == sizeof c->buf)
        return CLIENT_OK; /* full: the caller must consume first */
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int r = poll(&pfd, 1, remaining(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return CLIENT_TIMEOUT;
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
        if (n > 0) {
            transcript_bytes('<', c->id, c->buf + c->len, (size_t)n);
            c->len += (size_t)n;
            return CLIENT_OK;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        c->eof = 1;
        c->err = n < 0 ? errno : 0;
        transcript_note("c%d: %s", c->id,
                        n == 0 ? "server closed the connection" : strerror(errno));
        return c->err ? CLIENT_ERROR : CLIENT_EOF;
    }
}

static void consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

enum client_status client_recv_exact(struct client *c, void *out, size_t len, size_t *got,
                                     int timeout_ms)
{
    char *o = out;
    size_t have = 0;
    int64_t deadline = client_now_ms() + timeout_ms;
    enum client_status st = CLIENT_OK;

    while (have < len) {
        if (c->len > 0) {
            size_t n = c->len < len - have ? c->len : len - have;
            memcpy(o + have, c->buf, n);
            consume(c, n);
            have += n;
            continue;
        }
        st = fill(c, deadline);
        if (st != CLIENT_OK)
            break;
    }
    if (got != NULL)
        *got = have;
    return have == len ? CLIENT_OK : st;
}

enum client_status client_recv_line(struct client *c, char *out, size_t outsz, int timeout_ms)
{
    int64_t deadline = client_now_ms() + timeout_ms;

    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl != NULL || c->len == sizeof c->buf) {
            size_t linelen = nl != NULL ? (size_t)(nl - c->buf) : c->len;
            size_t keep = linelen;
            if (keep > 0 && c->buf[keep - 1] == '\r')
                keep--;
            if (outsz > 0) {
                size_t n = keep < outsz - 1 ? keep : outsz - 1;
                memcpy(out, c->buf, n);
                out[n] = '\0';
            }
            consume(c, nl != NULL ? linelen + 1 : linelen);
            return CLIENT_OK;
        }
        enum client_status st = fill(c, deadline);
        if (st != CLIENT_OK) {
            if (outsz > 0)
                out[0] = '\0';
            return st;
        }
    }
}

size_t client_wait_data(struct client *c, int timeout_ms)
{
    if (c->len == 0)
        fill(c, client_now_ms() + timeout_ms);
    return c->len;
}

enum client_status client_wait_close(struct client *c, int timeout_ms)
{
    int64_t deadline = client_now_ms() + timeout_ms;

    for (;;) {
        if (c->len == sizeof c->buf)
            c->len = 0; /* keep draining: only the close matters here */
        enum client_status st = fill(c, deadline);
        if (st == CLIENT_EOF || st == CLIENT_ERROR)
            return CLIENT_EOF;
        if (st == CLIENT_TIMEOUT)
            return CLIENT_TIMEOUT;
    }
}

void client_chaos_whole_sends(struct client *c, const char *why)
{
    if (chaos_active() && !c->chaos_whole) {
        c->chaos_whole = 1;
        transcript_note("chaos: c%d sends in one piece: %s", c->id, why);
    }
}

void client_discard(struct client *c)
{
    c->len = 0;
}

void client_shutdown_write(struct client *c)
{
    if (c->fd >= 0) {
        transcript_note("c%d: shut down its write side (half-close)", c->id);
        transcript_event(TRANSCRIPT_SHUTDOWN, c->id, 0);
        shutdown(c->fd, SHUT_WR);
    }
}

void client_reset(struct client *c)
{
    if (c->fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        transcript_note("c%d: closed with a reset (RST)", c->id);
        transcript_event(TRANSCRIPT_RESET, c->id, 0);
        close(c->fd);
        c->fd = -1;
    }
}

void client_close(struct client *c)
{
    if (c->fd >= 0) {
        transcript_note("c%d: closed", c->id);
        transcript_event(TRANSCRIPT_CLOSE, c->id, 0);
        close(c->fd);
        c->fd = -1;
    }
}

uint16_t client_local_port(const struct client *c)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    if (c->fd < 0 || getsockname(c->fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    return ntohs(sa.sin_port);
}
