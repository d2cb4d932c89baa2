/*
 * echo_conn.c - one client connection: read, echo at once, buffer only what the kernel refuses.
 *
 * The idea this file teaches: the fast path of an event-driven server is a plain read() and
 * write() inside a readiness callback. Nothing is copied unless the client is too slow to take
 * its echo; then the rest waits in `pending`, an EV_WRITE event flushes it, and reading pauses
 * while `pending` is full (backpressure), so one slow client can neither grow the server's
 * memory nor hold up anyone else.
 *
 * Try it: run the server, then talk to it from another terminal with the commands in the
 * exercise's README ("Build it and try it by hand"), or `nc 127.0.0.1 7000` if you have netcat.
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

/* Until every TODO is done, some functions are not called yet and some stubs leave
 * parameters and variables unused. These lines keep the compiler quiet about that; delete
 * them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

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
    /* TODO(6): disconnects: EOF, reset, errors, close
     * Read: lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close
     * Close the connection, and say why in the reason: "reset" when the client
     * reset it, "error: <the system's text for err>" for any other error. Trap: a reset is
     * ECONNRESET when reading, but a write to a reset connection can also fail with EPIPE.
     */
}

/* A would-block or an interrupted call: nothing is wrong, try again when the event fires. */
static bool io_should_retry(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/*
 * The last step of a shutdown, once every echo has been handed to the kernel: a lingering
 * close. A socket closed with unread input makes the kernel send a reset, and a reset throws
 * away the echo bytes still queued for the client. So the server sends its FIN instead
 * (shutdown(SHUT_WR): the client reads its whole echo, then EOF), reads and discards whatever
 * the client still sends, and closes when the client closes too. The shutdown's deadline
 * (echo_server.c) bounds the wait.
 */
static void conn_linger(struct echo_conn *conn)
{
    /* TODO(9): graceful shutdown
     * Read: lectures/03-tcp-networking/README.md#graceful-shutdown
     * Everything is written: end the connection without a reset. Until the client
     * closes its side, bytes it sends after the shutdown began would sit unread in the socket,
     * and closing a socket with unread input sends a reset that destroys the last echo bytes
     * still on their way. Tell the client there is nothing more to come, and keep reading (see
     * conn_read_cb) until it closes; if that cannot be set up, close now with the reason
     * "shutdown". Lecture 03, "Disconnects", shows this lingering close.
     */
    echo_conn_close(conn, "shutdown");
}

/*
 * Sends `len` bytes just read back to the client. When nothing is pending the bytes go
 * straight to write(); whatever the kernel does not take is copied to `pending` (always
 * behind what is already there, so the echo keeps its order) and the write event is armed.
 */
static void conn_echo(struct echo_conn *conn, const char *buf, size_t len)
{
    size_t sent = 0; /* bytes of buf the kernel has taken */

    /* TODO(3): read and echo
     * Read: lectures/03-tcp-networking/README.md#with-a-plain-event-read-and-write
     * Send the len bytes of buf straight back, now: this is the fast path, with
     * nothing copied and nothing scheduled. Count what the kernel took in sent and in
     * conn->bytes_echoed (the disconnect line reports it), and return when it took all of it.
     * The kernel may take only part, or nothing ("try again later" is not an error); any
     * other failure ends the connection (conn_fail). Trap: once earlier bytes wait in
     * conn->pending, writing these first would reorder the echo.
     */

    /* TODO(4): keep what write() refused
     * Read: lectures/03-tcp-networking/README.md#buffering-and-backpressure
     * Keep the len - sent bytes the kernel did not take in conn->pending, behind
     * whatever is already there, and make sure conn_write_cb runs when the socket can take
     * more. A client that is slow to read must still get every byte, in order. Trap: arm
     * conn->write_ev only when pending stops being empty (with env->idle_timeout, like the
     * read event): adding it again would restart its timer.
     */

    /* TODO(5): backpressure
     * Read: lectures/03-tcp-networking/README.md#watermarks-stop-reading-when-the-output-is-full
     * Once conn->pending holds ECHO_MAX_PENDING_BYTES, stop reading from this
     * client (backpressure): a client that never reads must not grow the server's memory.
     * conn_write_cb resumes it.
     */
}

/* read() returned 0: the client has shut down its write side (a close or a half-close). It may
 * still be reading, so the echo of everything it sent is delivered before we close. */
static void conn_peer_closed(struct echo_conn *conn)
{
    /* TODO(6): disconnects: EOF, reset, errors, close
     * Read: lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close
     * Remember the EOF in conn->peer_eof. With nothing pending, close with the
     * reason "eof". Otherwise the client may still be reading (a half-close): it gets the rest
     * of its echo first, and conn_write_cb closes once pending is empty. Trap: an EOF stays
     * readable forever, so the read event would fire again and again: stop reading.
     */
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_conn *conn = arg;
    char buf[ECHO_READ_CHUNK_BYTES];
    size_t room = sizeof buf; /* read at most this many bytes */

    /* TODO(9): graceful shutdown
     * Read: lectures/03-tcp-networking/README.md#graceful-shutdown
     * A lingering connection (a shutdown has sent everything): read and throw away
     * what the client still sends, and close with the reason "shutdown" once it closes, fails,
     * or stays silent for an idle period; nothing is echoed any more. Return.
     */

    /* TODO(7): idle timeout
     * Read: lectures/03-tcp-networking/README.md#idle-timeouts
     * The client sent nothing for a whole idle period (`what` says EV_TIMEOUT):
     * close it with the reason "idle-timeout", and return. Trap: if output is still pending,
     * the client may be busy reading it; the write event's timer decides whether it is idle.
     */

    /* TODO(5): backpressure
     * Read: lectures/03-tcp-networking/README.md#watermarks-stop-reading-when-the-output-is-full
     * Never read more than conn->pending can still hold, so that it stays within
     * ECHO_MAX_PENDING_BYTES whatever the client does.
     */

    /* TODO(3): read and echo
     * Read: lectures/03-tcp-networking/README.md#with-a-plain-event-read-and-write
     * Read once (at most room bytes) and echo what arrived (conn_echo). The bytes
     * are binary: NULs included, no '\0' at the end. read() also reports an EOF (the client
     * closed its side: conn_peer_closed), "nothing now, try again" (not an error), and real
     * errors (conn_fail). Trap: reading in a loop until nothing is left lets one fast client
     * starve all the others; the event fires again on the loop's next turn if more is waiting.
     */
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct echo_conn *conn = arg;

    /* TODO(7): idle timeout
     * Read: lectures/03-tcp-networking/README.md#idle-timeouts
     * The client has not taken a byte of its echo for a whole idle period (`what`
     * says EV_TIMEOUT): close it with the reason "idle-timeout", and return. Trap: a client
     * paused by backpressure has no read event armed, so this timer is the only one that can
     * notice it.
     */

    /* TODO(4): keep what write() refused
     * Read: lectures/03-tcp-networking/README.md#buffering-and-backpressure
     * The socket can take more: write as much of conn->pending as it takes,
     * remove that from pending and count it in conn->bytes_echoed. "Try again later" is not an
     * error; any other failure ends the connection (conn_fail). Trap: once pending is empty,
     * disarm conn->write_ev: an armed write event on a writable socket fires on every turn of
     * the loop.
     */

    /* TODO(6): disconnects: EOF, reset, errors, close
     * Read: lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close
     * After the client's EOF, close with the reason "eof" once everything is
     * written, and return.
     */

    /* TODO(9): graceful shutdown
     * Read: lectures/03-tcp-networking/README.md#graceful-shutdown
     * During a shutdown, end the connection (conn_linger) once everything is
     * written, and return.
     */

    /* TODO(5): backpressure
     * Read: lectures/03-tcp-networking/README.md#watermarks-stop-reading-when-the-output-is-full
     * A client paused for backpressure starts reading again once its pending
     * echo has drained to ECHO_RESUME_PENDING_BYTES (half the bound, so that a pause is worth
     * its cost). Not after its EOF nor during a shutdown. If the read event cannot be added,
     * close with the reason "error: cannot add the read event".
     */
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

    /* TODO(2): one connection, one event
     * Read: lectures/03-tcp-networking/README.md#many-connections
     * Make the connection live: its pending buffer, a read event that stays armed
     * after each callback (conn_read_cb) and a write event of the same kind (conn_write_cb,
     * armed only while output is pending); then start reading (conn_start_reading) and log
     *     connect PEER
     * Any failure: goto err, which frees what was made and closes fd. Trap: nothing happens
     * on a socket until its event is added. (Worth it: turn off Nagle's algorithm, so that
     * small echoes leave at once.)
     */
    goto err;
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
    /* TODO(9): graceful shutdown
     * Read: lectures/03-tcp-networking/README.md#graceful-shutdown
     * Remember the shutdown in conn->shutting_down and stop echoing: what the
     * client sends from now on gets no echo. With nothing pending, end the connection now
     * (conn_linger); otherwise conn_write_cb does once the rest is written. Trap: the
     * connection may be freed on the way: do not touch it again.
     */
}

void echo_conn_close(struct echo_conn *conn, const char *reason)
{
    /* TODO(6): disconnects: EOF, reset, errors, close
     * Read: lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close
     * End the connection: log one line
     *     disconnect PEER bytes=N reason=REASON
     * (N = conn->bytes_echoed), tell the owner (env->closed_cb, if set), then free everything
     * the connection owns (both events, pending, the socket) and the connection itself. Every
     * way a connection ends comes through here, exactly once. Trap: this runs inside the
     * connection's own callbacks, which must not touch conn once it returns.
     */
}
