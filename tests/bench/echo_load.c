/*
 * echo_load.c - a closed-loop load generator for echo servers.
 *
 *     echo-load PORT CONNS SIZE SECONDS
 *
 * CONNS connections to 127.0.0.1:PORT each send a message of SIZE bytes, wait until all of it
 * has come back, check every byte, and send the next one, for SECONDS seconds. "Closed loop"
 * means the load adapts to the server: a slow server gets fewer requests rather than an
 * ever-growing queue, so the figures are the server's real throughput and latency. It prints
 * one line of key=value pairs: round trips per second, echoed MiB/s (one direction), the
 * median and 99th-percentile round-trip time, and how many connections were stuck (waiting
 * for an echo for over a second at the end; the exit status is then 1).
 *
 * One thread and one epoll set drive every connection, so the tool itself stays cheap next
 * to the server it measures. Try it: `echo-load 7000 10 64 2` against a running echo-server.
 */
#include "bench_util.h"
#include "lat_hist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define ECHO_LOAD_MAX_CONNS 10000
#define ECHO_LOAD_MAX_SIZE (64L * 1024 * 1024) /* bytes in one message */
#define ECHO_LOAD_MAX_SECONDS 3600
#define ECHO_LOAD_READ_BYTES (256 * 1024) /* bytes taken from a socket per read() */
#define ECHO_LOAD_EVENTS 256              /* epoll events handled per wakeup */
#define ECHO_LOAD_TICK_MS 100             /* longest sleep between deadline checks */
#define ECHO_LOAD_LINE_BYTES 64           /* the message is lines of this length */
#define ECHO_LOAD_STUCK_MS 1000 /* a round trip still unfinished this long at the end is stuck */

/* One connection, in the middle of one round trip. */
struct echo_conn {
    int fd;
    size_t sent;       /* bytes of the current message written so far */
    size_t received;   /* bytes of its echo read back so far */
    uint64_t start_ns; /* when the current message started */
    bool want_write;   /* EPOLLOUT is armed because the kernel refused part of a write */
};

/* Everything one run shares. */
struct echo_load {
    int epfd;
    const char *msg; /* the message every connection sends; echoes are compared to it */
    size_t size;
    unsigned char *readbuf;
    uint64_t trips;
    struct lat_hist hist;
};

/* Points epoll at the events this connection needs now: always input, output only while a
 * write is unfinished. Returns 0 or -1. */
static int conn_watch(struct echo_load *load, struct echo_conn *conn, int op)
{
    struct epoll_event ev = {
        .events = EPOLLIN | (conn->want_write ? EPOLLOUT : 0u),
        .data.ptr = conn,
    };
    return epoll_ctl(load->epfd, op, conn->fd, &ev);
}

/* Writes what the kernel takes of the rest of the message; arms or disarms EPOLLOUT to
 * match. Returns 0, or -1 on a socket error. */
static int conn_flush(struct echo_load *load, struct echo_conn *conn)
{
    while (conn->sent < load->size) {
        ssize_t n = write(conn->fd, load->msg + conn->sent, load->size - conn->sent);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            break;
        }
        conn->sent += (size_t)n;
    }
    bool want_write = conn->sent < load->size;
    if (want_write != conn->want_write) {
        conn->want_write = want_write;
        if (conn_watch(load, conn, EPOLL_CTL_MOD) != 0)
            return -1;
    }
    return 0;
}

/* Starts the next round trip on this connection. Returns 0 or -1. */
static int conn_start_trip(struct echo_load *load, struct echo_conn *conn, uint64_t now)
{
    conn->sent = 0;
    conn->received = 0;
    conn->start_ns = now;
    return conn_flush(load, conn);
}

/*
 * Reads whatever echo has arrived and checks it byte for byte. When the whole message is back,
 * records the round trip and, before the deadline, starts the next. Returns 0, or -1 after
 * saying on stderr what went wrong (a close, a reset, or bytes that were never sent).
 */
static int conn_read(struct echo_load *load, struct echo_conn *conn, size_t index,
                     uint64_t deadline)
{
    for (;;) {
        ssize_t n = read(conn->fd, load->readbuf, ECHO_LOAD_READ_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            fprintf(stderr, "echo-load: connection %zu %s after %zu of %zu echoed bytes\n", index,
                    n == 0 ? "was closed by the server" : strerror(errno), conn->received,
                    load->size);
            return -1;
        }
        size_t got = (size_t)n;
        if (conn->received + got > conn->sent) {
            fprintf(stderr, "echo-load: connection %zu received %zu bytes but had sent only %zu\n",
                    index, conn->received + got, conn->sent);
            return -1;
        }
        if (memcmp(load->readbuf, load->msg + conn->received, got) != 0) {
            fprintf(stderr,
                    "echo-load: connection %zu: echoed bytes %zu-%zu differ from what "
                    "was sent\n",
                    index, conn->received, conn->received + got - 1);
            return -1;
        }
        conn->received += got;
        if (conn->received == load->size) {
            uint64_t now = bench_now_ns();
            lat_hist_record(&load->hist, now - conn->start_ns);
            load->trips++;
            if (now < deadline && conn_start_trip(load, conn, now) != 0) {
                fprintf(stderr, "echo-load: connection %zu: write: %s\n", index, strerror(errno));
                return -1;
            }
            return 0; /* level-triggered: any further bytes wake us again */
        }
    }
}

/* The message: printable lines of ECHO_LOAD_LINE_BYTES, so line-oriented servers cope too. */
static char *make_message(size_t size)
{
    char *msg = malloc(size);

    if (msg == NULL)
        return NULL;
    for (size_t i = 0; i < size; i++) {
        bool line_end = i % ECHO_LOAD_LINE_BYTES == ECHO_LOAD_LINE_BYTES - 1 || i == size - 1;
        msg[i] = line_end ? '\n' : (char)('a' + i % 26);
    }
    return msg;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: echo-load PORT CONNS SIZE SECONDS\n"
            "  CONNS connections to 127.0.0.1:PORT each send SIZE bytes and wait for all of them\n"
            "  to come back, again and again for SECONDS seconds. Prints round trips/s, MiB/s\n"
            "  (echoed, one direction) and the p50/p99 round-trip time.\n");
}

int main(int argc, char **argv)
{
    struct echo_load load = {.epfd = -1};
    struct echo_conn *conns = NULL;
    char *msg = NULL;
    long nconns = 0, size, seconds;
    uint16_t port;
    int status = 1;

    if (argc != 5) {
        usage();
        return 2;
    }
    if (bench_parse_port("echo-load", argv[1], &port) != 0 ||
        bench_parse_long("echo-load", "CONNS", argv[2], 1, ECHO_LOAD_MAX_CONNS, &nconns) != 0 ||
        bench_parse_long("echo-load", "SIZE", argv[3], 1, ECHO_LOAD_MAX_SIZE, &size) != 0 ||
        bench_parse_long("echo-load", "SECONDS", argv[4], 1, ECHO_LOAD_MAX_SECONDS, &seconds) != 0)
        return 2;
    if (bench_raise_fd_limit(nconns + 16) < nconns + 16) {
        fprintf(stderr, "echo-load: cannot open %ld sockets (see ulimit -n)\n", nconns);
        return 1;
    }

    load.size = (size_t)size;
    msg = make_message(load.size);
    load.msg = msg;
    load.readbuf = malloc(ECHO_LOAD_READ_BYTES);
    conns = calloc((size_t)nconns, sizeof *conns);
    if (msg == NULL || load.readbuf == NULL || conns == NULL) {
        fprintf(stderr, "echo-load: out of memory\n");
        goto done;
    }
    for (long i = 0; i < nconns; i++)
        conns[i].fd = -1;
    load.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (load.epfd < 0) {
        perror("echo-load: epoll_create1");
        goto done;
    }

    /* Connect everything first, so connection set-up is not part of the measurement. */
    for (long i = 0; i < nconns; i++) {
        conns[i].fd = bench_dial(port, true);
        if (conns[i].fd < 0 || conn_watch(&load, &conns[i], EPOLL_CTL_ADD) != 0) {
            fprintf(stderr, "echo-load: connection %ld to 127.0.0.1:%u: %s\n", i, port,
                    strerror(errno));
            goto done;
        }
    }

    uint64_t start = bench_now_ns();
    uint64_t deadline = start + (uint64_t)seconds * BENCH_NS_PER_SEC;
    for (long i = 0; i < nconns; i++) {
        if (conn_start_trip(&load, &conns[i], start) != 0) {
            fprintf(stderr, "echo-load: connection %ld: write: %s\n", i, strerror(errno));
            goto done;
        }
    }

    struct epoll_event events[ECHO_LOAD_EVENTS];
    uint64_t now = start;
    while (now < deadline) {
        uint64_t left_ms = (deadline - now + BENCH_NS_PER_MS - 1) / BENCH_NS_PER_MS;
        int timeout = left_ms < ECHO_LOAD_TICK_MS ? (int)left_ms : ECHO_LOAD_TICK_MS;
        int n = epoll_wait(load.epfd, events, ECHO_LOAD_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            perror("echo-load: epoll_wait");
            goto done;
        }
        for (int i = 0; i < n; i++) {
            struct echo_conn *conn = events[i].data.ptr;
            size_t index = (size_t)(conn - conns);
            if ((events[i].events & EPOLLOUT) && conn_flush(&load, conn) != 0) {
                fprintf(stderr, "echo-load: connection %zu: write: %s\n", index, strerror(errno));
                goto done;
            }
            if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
                conn_read(&load, conn, index, deadline) != 0)
                goto done;
        }
        now = bench_now_ns();
    }

    double elapsed = (double)(now - start) / (double)BENCH_NS_PER_SEC;
    if (load.trips == 0) {
        fprintf(stderr, "echo-load: no round trip completed in %ld s\n", seconds);
        goto done;
    }
    /* Unfinished round trips are not in the histogram: a server that forgets a connection
     * would otherwise look fast. Count the ones that have waited far too long. */
    long stuck = 0;
    for (long i = 0; i < nconns; i++) {
        if (now - conns[i].start_ns >= ECHO_LOAD_STUCK_MS * BENCH_NS_PER_MS) {
            fprintf(stderr, "echo-load: connection %ld got %zu of %zu bytes back in %.1f s\n", i,
                    conns[i].received, load.size,
                    (double)(now - conns[i].start_ns) / (double)BENCH_NS_PER_SEC);
            stuck++;
        }
    }
    printf("echo-load: conns=%ld size=%zu seconds=%.2f trips=%" PRIu64 " trips_per_s=%.0f "
           "mib_per_s=%.1f p50_us=%.1f p99_us=%.1f max_us=%.1f stuck=%ld\n",
           nconns, load.size, elapsed, load.trips, (double)load.trips / elapsed,
           (double)load.trips * (double)load.size / elapsed / (1024.0 * 1024.0),
           (double)lat_hist_percentile(&load.hist, 0.50) / 1e3,
           (double)lat_hist_percentile(&load.hist, 0.99) / 1e3,
           (double)lat_hist_percentile(&load.hist, 1.0) / 1e3, stuck);
    status = stuck == 0 ? 0 : 1;

done:
    if (conns != NULL) {
        for (long i = 0; i < nconns; i++)
            if (conns[i].fd >= 0)
                close(conns[i].fd);
    }
    if (load.epfd >= 0)
        close(load.epfd);
    free(conns);
    free(load.readbuf);
    free(msg);
    return status;
}
