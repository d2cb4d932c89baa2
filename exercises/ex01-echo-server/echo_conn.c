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

/* Until every TODO is done, some callbacks are not registered anywhere yet and some stubs do
 * not use their parameters or variables. These lines keep the compiler quiet about that;
 * delete them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"

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
 * time the event runs, so it fires only after a whole idle period without input. (Until
 * TODO(7) sets env->idle_timeout it is NULL, which means no timeout.) */
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
    /* TODO(6): disconnect reasons (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   - ECONNRESET or EPIPE: echo_conn_close(conn, "reset").
     *   - Anything else: close with the reason "error: <strerror(err)>" (format it into a
     *     char array of ECHO_REASON_MAX bytes with snprintf).
     */
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
    /* TODO(3): write it straight back (lectures/03-tcp-networking/README.md#reading-and-writing)
     *   - If conn->pending is empty, write(conn->fd, buf, len) right here. This is the fast
     *     path: no copy, no extra event, nothing allocated.
     *   - write() may take fewer bytes than asked (the kernel's buffer is full), or fail with
     *     EAGAIN (io_should_retry() says so): that is not an error. Any other failure: call
     *     conn_fail(conn, errno) and return.
     *   - Add what was written to conn->bytes_echoed: the disconnect line reports it.
     *
     * TODO(4): keep what the kernel refused (lectures/03-tcp-networking/README.md#buffering-and-backpressure)
     *   - Append the bytes not written to conn->pending with evbuffer_add(). If pending was
     *     not empty to begin with, do not write() at all: append everything, or the echo
     *     would come back out of order.
     *   - When pending goes from empty to non-empty, arm the write event:
     *     event_add(conn->write_ev, conn->env->idle_timeout) (NULL, no timeout, until TODO 7).
     *     conn_write_cb flushes it. Only then: adding it again would restart its timer.
     *
     * TODO(5): backpressure (lectures/03-tcp-networking/README.md#buffering-and-backpressure)
     *   - Once pending holds ECHO_MAX_PENDING_BYTES, stop reading from this client
     *     (conn_stop_reading). conn_write_cb starts reading again once it has drained.
     */
}

/* read() returned 0: the client has shut down its write side (a close or a half-close). It may
 * still be reading, so the echo of everything it sent is delivered before we close. */
static void conn_peer_closed(struct echo_conn *conn)
{
    /* TODO(6): EOF and half-close (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   - Set conn->peer_eof.
     *   - Nothing pending: echo_conn_close(conn, "eof").
     *   - Output still pending: stop reading (EOF stays readable forever, so the read event
     *     would fire again and again) and let conn_write_cb close once pending is empty.
     */
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_conn *conn = arg;
    char buf[ECHO_READ_CHUNK_BYTES];

    /* TODO(7): idle timeout (lectures/03-tcp-networking/README.md#idle-timeouts)
     *   - `what & EV_TIMEOUT` means the client sent nothing for a whole idle period. If
     *     nothing is pending, echo_conn_close(conn, "idle-timeout"). If output is pending the
     *     client may be busy reading it: leave that case to the write event's timer. Return.
     */

    /* TODO(3): read (lectures/03-tcp-networking/README.md#reading-and-writing)
     *   - One read(fd, buf, ...) per callback. The event is level-triggered: if more is
     *     waiting, it fires again on the next turn of the loop, after the other clients.
     *   - n > 0: conn_echo(conn, buf, n). The bytes are binary: NULs included, no '\0' at the
     *     end; always carry the length along, never treat buf as a C string.
     *   - n == 0: the client closed its side: conn_peer_closed(conn) (written in TODO 6).
     *   - n < 0: unless io_should_retry(errno), conn_fail(conn, errno) (TODO 6).
     *
     * TODO(5): never read more than pending can still hold
     *   - Read at most ECHO_MAX_PENDING_BYTES - evbuffer_get_length(conn->pending) bytes (and
     *     at most sizeof buf), so pending can never pass its bound.
     */
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_conn *conn = arg;

    /* TODO(7): the client stopped reading (lectures/03-tcp-networking/README.md#idle-timeouts)
     *   - `what & EV_TIMEOUT` here means the client has not taken a byte of its echo for a
     *     whole idle period. A paused client's read event is off, so this timer is the only
     *     one that can notice. echo_conn_close(conn, "idle-timeout") and return.
     */

    /* TODO(4): flush what is pending (lectures/03-tcp-networking/README.md#buffering-and-backpressure)
     *   - evbuffer_write(conn->pending, fd) writes as much as the kernel takes and removes it
     *     from the buffer. It returns the count, or -1 (check io_should_retry(errno); on a real
     *     error conn_fail and return). Add the count to conn->bytes_echoed.
     *   - Once pending is empty, event_del(conn->write_ev): an armed EV_WRITE event on a
     *     writable socket would fire on every turn of the loop.
     *
     * TODO(6): after EOF, close once everything is written
     *   - Pending empty and conn->peer_eof: echo_conn_close(conn, "eof") and return.
     *
     * TODO(9): during a shutdown, likewise
     *   - Pending empty and conn->shutting_down: echo_conn_close(conn, "shutdown") and return.
     *
     * TODO(5): resume reading
     *   - If reading is paused (!conn->reading) but the client is still there (not peer_eof,
     *     not shutting_down) and pending has drained to ECHO_RESUME_PENDING_BYTES or less,
     *     conn_start_reading(conn). If that fails, close with "error: cannot add the read event".
     */
}

struct echo_conn *echo_conn_new(struct event_base *base, evutil_socket_t fd, const char *peer,
                                const struct echo_conn_env *env)
{
    /* TODO(2): one connection, one event (lectures/03-tcp-networking/README.md#many-connections)
     *   - calloc the struct echo_conn; set env, fd, and copy peer into conn->peer.
     *   - conn->pending = evbuffer_new();
     *   - conn->read_ev: event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, conn).
     *     EV_PERSIST keeps it armed after each callback, until event_del.
     *   - conn->write_ev: event_new(base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, conn).
     *     Created now, armed only while output is pending (TODO 4).
     *   - Optional but worth it: setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, ...) so that small
     *     echoes leave at once instead of waiting for Nagle's algorithm.
     *   - conn_start_reading(conn): nothing happens until an event is added.
     *   - Log the connection (lectures/03-tcp-networking/README.md#logging):
     *     echo_log(env->log, "connect %s", conn->peer);
     *   - Any failure: free what was created, close fd (this function owns it), return NULL.
     */
    evutil_closesocket(fd); /* until then: refuse the client */
    return NULL;
}

void echo_conn_shutdown(struct echo_conn *conn)
{
    /* TODO(9): graceful shutdown of one connection (lectures/03-tcp-networking/README.md#graceful-shutdown)
     *   - Set conn->shutting_down and stop reading if it is reading.
     *   - Nothing pending: echo_conn_close(conn, "shutdown") now. Otherwise conn_write_cb
     *     closes it once the rest is written.
     */
}

void echo_conn_close(struct echo_conn *conn, const char *reason)
{
    /* TODO(6): close and free (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   - Log one line: echo_log(conn->env->log, "disconnect %s bytes=%llu reason=%s", ...)
     *     with the peer, conn->bytes_echoed (cast to unsigned long long) and the reason.
     *   - Tell the owner: conn->env->closed_cb(conn, conn->env->closed_arg) if it is set.
     *   - event_free both events (this also cancels them if they are about to run),
     *     evbuffer_free pending, evutil_closesocket the fd, free the struct.
     *   - This runs inside the connection's own callbacks: they must return right after.
     */
}
