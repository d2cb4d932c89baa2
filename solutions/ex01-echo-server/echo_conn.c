/*
 * echo_conn.c - one client connection: read, echo at once, buffer only what the kernel refuses.
 *
 * The idea this file teaches: the fast path of an event-driven server is a plain read() and
 * write() inside a readiness callback. Nothing is copied unless the client is too slow to take
 * its echo; then the rest waits in `pending`, an EV_WRITE event flushes it, and reading pauses
 * while `pending` is full (backpressure), so one slow client can neither grow the server's
 * memory nor hold up anyone else.
 *
 * Try it: run the server, then `nc 127.0.0.1 7000` in another terminal and type a line.
 */
#include "echo_conn.h"

#include "echo_server.h"

#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bytes read per callback. One read per readiness event keeps the loop fair: a client sending
 * flat out gets this much, then every other ready client gets its turn. */
#define ECHO_READ_CHUNK_BYTES (64 * 1024)
/* A connection paused for backpressure starts reading again once its pending output has
 * drained to this. Half the bound, so a pause lasts long enough to be worth its cost. */
#define ECHO_RESUME_PENDING_BYTES (ECHO_MAX_PENDING_BYTES / 2)
/* Room for "error: " and any strerror() text. */
#define ECHO_REASON_MAX 128

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);

/* Arms the read event. The idle timeout rides on it: a persistent event's timer restarts each
 * time the event runs, so it fires only after a whole idle period without input. */
static int conn_start_reading(struct echo_conn *conn)
{
    if (event_add(conn->read_ev, conn->env->idle_timeout) != 0)
        return -1;
    conn->reading = true;
    return 0;
}

static void conn_stop_reading(struct echo_conn *conn)
{
    event_del(conn->read_ev);
    conn->reading = false;
}

/* Closes after a failed read() or write(). A reset shows up as ECONNRESET when reading and as
 * ECONNRESET or EPIPE when writing; anything else is logged with its text. */
static void conn_fail(struct echo_conn *conn, int err)
{
    char reason[ECHO_REASON_MAX];

    if (err == ECONNRESET || err == EPIPE) {
        echo_conn_close(conn, "reset");
        return;
    }
    snprintf(reason, sizeof reason, "error: %s", strerror(err));
    echo_conn_close(conn, reason);
}

/* A would-block or an interrupted call: nothing is wrong, try again when the event fires. */
static bool io_should_retry(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/*
 * Sends `len` bytes just read back to the client. When nothing is pending the bytes go
 * straight to write(); whatever the kernel does not take is copied to `pending` (always
 * behind what is already there, so the echo keeps its order) and the write event is armed.
 */
static void conn_echo(struct echo_conn *conn, const char *buf, size_t len)
{
    bool was_empty = evbuffer_get_length(conn->pending) == 0;
    size_t sent = 0;

    if (was_empty) {
        ssize_t n = write(conn->fd, buf, len);
        if (n < 0 && !io_should_retry(errno)) {
            conn_fail(conn, errno);
            return;
        }
        if (n > 0) {
            sent = (size_t)n;
            conn->bytes_echoed += sent;
        }
    }
    if (sent == len)
        return;

    if (evbuffer_add(conn->pending, buf + sent, len - sent) != 0) {
        echo_conn_close(conn, "error: out of memory");
        return;
    }
    /* Arm the write event only when the buffer stops being empty: adding it again would
     * restart its timer, and that timer must measure how long the client has not been reading. */
    if (was_empty && event_add(conn->write_ev, conn->env->idle_timeout) != 0) {
        echo_conn_close(conn, "error: cannot add the write event");
        return;
    }
    if (evbuffer_get_length(conn->pending) >= ECHO_MAX_PENDING_BYTES)
        conn_stop_reading(conn); /* backpressure: resumed by conn_write_cb once drained */
}

/* read() returned 0: the client has shut down its write side (a close or a half-close). It may
 * still be reading, so the echo of everything it sent is delivered before we close. */
static void conn_peer_closed(struct echo_conn *conn)
{
    conn->peer_eof = true;
    if (evbuffer_get_length(conn->pending) == 0) {
        echo_conn_close(conn, "eof");
        return;
    }
    conn_stop_reading(conn); /* EOF stays readable forever: stop listening for it */
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_conn *conn = arg;
    char buf[ECHO_READ_CHUNK_BYTES];

    if (what & EV_TIMEOUT) {
        /* No input for a whole idle period. If output is still pending the client may be busy
         * reading it; the write event's own timer decides whether that client is idle too. */
        if (evbuffer_get_length(conn->pending) == 0)
            echo_conn_close(conn, "idle-timeout");
        return;
    }

    /* Never read more than `pending` can still hold, so it stays within its bound. */
    size_t room = ECHO_MAX_PENDING_BYTES - evbuffer_get_length(conn->pending);
    assert(room > 0); /* reading stops as soon as pending is full */
    ssize_t n = read(fd, buf, room < sizeof buf ? room : sizeof buf);
    if (n > 0)
        conn_echo(conn, buf, (size_t)n);
    else if (n == 0)
        conn_peer_closed(conn);
    else if (!io_should_retry(errno))
        conn_fail(conn, errno);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_conn *conn = arg;

    if (what & EV_TIMEOUT) {
        /* The client has not taken a single byte of its echo for a whole idle period. Its read
         * side is stalled (and its input paused by backpressure), so only this timer can tell. */
        echo_conn_close(conn, "idle-timeout");
        return;
    }

    int n = evbuffer_write(conn->pending, fd);
    if (n < 0) {
        if (!io_should_retry(errno))
            conn_fail(conn, errno);
        return;
    }
    conn->bytes_echoed += (uint64_t)n;

    size_t left = evbuffer_get_length(conn->pending);
    if (left == 0) {
        event_del(conn->write_ev);
        if (conn->peer_eof || conn->shutting_down) {
            echo_conn_close(conn, conn->peer_eof ? "eof" : "shutdown");
            return;
        }
    }
    if (!conn->reading && !conn->peer_eof && !conn->shutting_down &&
        left <= ECHO_RESUME_PENDING_BYTES && conn_start_reading(conn) != 0)
        echo_conn_close(conn, "error: cannot add the read event");
}

struct echo_conn *echo_conn_new(struct event_base *base, evutil_socket_t fd, const char *peer,
                                const struct echo_conn_env *env)
{
    struct echo_conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        goto err;
    conn->env = env;
    conn->fd = fd;
    snprintf(conn->peer, sizeof conn->peer, "%s", peer);
    conn->pending = evbuffer_new();
    conn->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, conn);
    conn->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, conn);
    if (conn->pending == NULL || conn->read_ev == NULL || conn->write_ev == NULL)
        goto err;

    /* Send each echo at once. Nagle's algorithm would hold a small reply back until the
     * previous one is acknowledged, which only adds latency to a request-reply exchange. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    if (conn_start_reading(conn) != 0)
        goto err;
    echo_log(env->log, "connect %s", conn->peer);
    return conn;

err:
    if (conn != NULL) {
        if (conn->read_ev != NULL)
            event_free(conn->read_ev);
        if (conn->write_ev != NULL)
            event_free(conn->write_ev);
        if (conn->pending != NULL)
            evbuffer_free(conn->pending);
        free(conn);
    }
    evutil_closesocket(fd);
    return NULL;
}

void echo_conn_shutdown(struct echo_conn *conn)
{
    conn->shutting_down = true;
    if (conn->reading)
        conn_stop_reading(conn);
    if (evbuffer_get_length(conn->pending) == 0)
        echo_conn_close(conn, "shutdown");
    /* Otherwise conn_write_cb closes it once the rest is written. A client still sending at
     * this point leaves unread input behind, and closing a socket with unread input makes the
     * kernel send a reset, which can cut off the last echo bytes still in flight. A "lingering
     * close" (shut down the write side, read and discard until the client closes) avoids
     * that; this server keeps it simple. */
}

void echo_conn_close(struct echo_conn *conn, const char *reason)
{
    echo_log(conn->env->log, "disconnect %s bytes=%llu reason=%s", conn->peer,
             (unsigned long long)conn->bytes_echoed, reason);
    if (conn->env->closed_cb != NULL)
        conn->env->closed_cb(conn, conn->env->closed_arg);
    /* event_free() also cancels the event if it is already active in this loop iteration. */
    event_free(conn->read_ev);
    event_free(conn->write_ev);
    evbuffer_free(conn->pending);
    evutil_closesocket(conn->fd);
    free(conn);
}
