/*
 * idle_hold.c - what does an idle connection cost an echo server?
 *
 *     idle-hold PORT CONNS PID
 *
 * Reads the resident memory (VmRSS in /proc/PID/status) of the server process PID, opens
 * CONNS connections to 127.0.0.1:PORT, makes one small round trip on each (so the server has
 * set up whatever it keeps per client, buffers included), leaves them idle for a moment, and
 * reads VmRSS again. The difference divided by CONNS is the server's memory per idle
 * connection; the kernel's socket buffers are not in it (they are not the process's memory).
 * Linux only: it reads /proc.
 *
 * Try it: `idle-hold 7000 1000 $(pgrep -n echo-server)` against a running echo-server
 * (whose --max-connections must allow that many clients).
 */
#include "bench_util.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define IDLE_HOLD_MAX_CONNS 100000
#define IDLE_HOLD_PING "ping\n"
#define IDLE_HOLD_PING_LEN 5            /* bytes of IDLE_HOLD_PING */
#define IDLE_HOLD_ECHO_TIMEOUT_MS 10000 /* for every echo to come back */
#define IDLE_HOLD_SETTLE_MS 500         /* idle time before the second reading */

/*
 * Sends the ping on every connection and waits until each has echoed it. Returns 0, or -1
 * after saying which connection failed (closed, reset, wrong bytes, or too slow).
 */
static int ping_all(struct pollfd *fds, size_t *got, long nconns)
{
    char buf[IDLE_HOLD_PING_LEN];
    long pending = nconns;

    for (long i = 0; i < nconns; i++) {
        if (write(fds[i].fd, IDLE_HOLD_PING, IDLE_HOLD_PING_LEN) != IDLE_HOLD_PING_LEN) {
            fprintf(stderr, "idle-hold: connection %ld: write: %s\n", i, strerror(errno));
            return -1;
        }
        fds[i].events = POLLIN;
    }
    uint64_t deadline = bench_now_ns() + IDLE_HOLD_ECHO_TIMEOUT_MS * BENCH_NS_PER_MS;
    while (pending > 0) {
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            fprintf(stderr, "idle-hold: %ld of %ld connections had no echo after %d ms\n", pending,
                    nconns, IDLE_HOLD_ECHO_TIMEOUT_MS);
            return -1;
        }
        int n = poll(fds, (nfds_t)nconns, (int)((deadline - now) / BENCH_NS_PER_MS) + 1);
        if (n < 0 && errno != EINTR) {
            perror("idle-hold: poll");
            return -1;
        }
        for (long i = 0; i < nconns && n > 0; i++) {
            if (fds[i].revents == 0)
                continue;
            n--;
            ssize_t r = read(fds[i].fd, buf, IDLE_HOLD_PING_LEN - got[i]);
            if (r <= 0 || memcmp(buf, &IDLE_HOLD_PING[got[i]], (size_t)r) != 0) {
                fprintf(stderr,
                        "idle-hold: connection %ld %s: does the server's connection "
                        "limit allow %ld clients?\n",
                        i,
                        r == 0  ? "was closed by the server"
                        : r < 0 ? strerror(errno)
                                : "echoed the wrong bytes",
                        nconns);
                return -1;
            }
            got[i] += (size_t)r;
            if (got[i] == IDLE_HOLD_PING_LEN) {
                fds[i].events = 0; /* done: poll() now ignores it */
                pending--;
            }
        }
    }
    return 0;
}

/* Waits IDLE_HOLD_SETTLE_MS while nothing should happen. Returns 0, or -1 if the server sent
 * something or closed a connection meanwhile. */
static int hold_idle(struct pollfd *fds, long nconns)
{
    for (long i = 0; i < nconns; i++)
        fds[i].events = POLLIN;
    int n = poll(fds, (nfds_t)nconns, IDLE_HOLD_SETTLE_MS);
    if (n < 0 && errno != EINTR) {
        perror("idle-hold: poll");
        return -1;
    }
    for (long i = 0; i < nconns && n > 0; i++) {
        if (fds[i].revents != 0) {
            fprintf(stderr, "idle-hold: connection %ld was closed or written to while idle\n", i);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct pollfd *fds = NULL;
    size_t *got = NULL;
    long nconns = 0, pid;
    uint16_t port;
    int status = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: idle-hold PORT CONNS PID\n"
                        "  Opens CONNS connections to the echo server on 127.0.0.1:PORT, whose\n"
                        "  process id is PID, and prints its resident memory per connection.\n");
        return 2;
    }
    if (bench_parse_port("idle-hold", argv[1], &port) != 0 ||
        bench_parse_long("idle-hold", "CONNS", argv[2], 1, IDLE_HOLD_MAX_CONNS, &nconns) != 0 ||
        bench_parse_long("idle-hold", "PID", argv[3], 1, 0x7fffffffL, &pid) != 0)
        return 2;
    if (bench_raise_fd_limit(nconns + 16) < nconns + 16) {
        fprintf(stderr, "idle-hold: cannot open %ld sockets (see ulimit -n)\n", nconns);
        return 1;
    }

    long before = bench_rss_kib(pid);
    if (before < 0) {
        fprintf(stderr, "idle-hold: cannot read VmRSS of process %ld\n", pid);
        return 1;
    }
    fds = calloc((size_t)nconns, sizeof *fds);
    got = calloc((size_t)nconns, sizeof *got);
    if (fds == NULL || got == NULL) {
        fprintf(stderr, "idle-hold: out of memory\n");
        goto done;
    }
    for (long i = 0; i < nconns; i++)
        fds[i].fd = -1;
    for (long i = 0; i < nconns; i++) {
        fds[i].fd = bench_dial(port, false);
        if (fds[i].fd < 0) {
            fprintf(stderr, "idle-hold: connection %ld to 127.0.0.1:%u: %s\n", i, port,
                    strerror(errno));
            goto done;
        }
    }
    if (ping_all(fds, got, nconns) != 0 || hold_idle(fds, nconns) != 0)
        goto done;
    long after = bench_rss_kib(pid);
    if (after < 0) {
        fprintf(stderr, "idle-hold: cannot read VmRSS of process %ld\n", pid);
        goto done;
    }
    printf("idle-hold: conns=%ld rss_before_kib=%ld rss_after_kib=%ld bytes_per_conn=%.0f\n",
           nconns, before, after, (double)(after - before) * 1024.0 / (double)nconns);
    status = 0;

done:
    if (fds != NULL) {
        for (long i = 0; i < nconns; i++)
            if (fds[i].fd >= 0)
                close(fds[i].fd);
    }
    free(fds);
    free(got);
    return status;
}
