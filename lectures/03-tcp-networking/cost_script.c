/*
 * cost_script.c - the load client of `tcp-cost --demo`, on its own thread.
 *
 * It keeps some connections busy against each server of cost.c in turn: each connection sends
 * a message, waits until all of it has come back, and sends the next. It reports round trips
 * per second and MiB/s echoed. Nothing is asserted: the numbers belong to this machine, this
 * load and this moment.
 */
#include "cost_script.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/util.h>

#define LOAD_READ_BYTES (64 * 1024) /* one read() at most */

struct load_result {
    double trips_per_s;
    double mib_per_s; /* bytes echoed back to the client per second */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one closed-loop workload against 127.0.0.1:port. Returns 0, or -1 if a connection
 * failed. Each connection has one message in flight: send all of it, read all of it back. */
static int load_run(uint16_t port, const struct workload *w, struct load_result *res)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct pollfd pfd[LOAD_MAX_CONNS];
    size_t sent[LOAD_MAX_CONNS] = {0}, received[LOAD_MAX_CONNS] = {0};
    char *msg = calloc(1, w->size), *sink = malloc(LOAD_READ_BYTES);
    unsigned long trips = 0;
    int opened = 0, rc = -1;

    if (msg == NULL || sink == NULL)
        goto done;
    for (opened = 0; opened < w->conns; opened++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            goto done;
        pfd[opened].fd = fd;
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
            evutil_make_socket_nonblocking(fd) != 0) {
            opened++;
            goto done;
        }
    }

    double start = now_s(), deadline = start + w->ms / 1000.0;
    while (now_s() < deadline) {
        for (int i = 0; i < opened; i++)
            pfd[i].events = (short)(POLLIN | (sent[i] < w->size ? POLLOUT : 0));
        if (poll(pfd, (nfds_t)opened, 100) < 0 && errno != EINTR)
            goto done;
        for (int i = 0; i < opened; i++) {
            if (pfd[i].revents & (POLLERR | POLLHUP))
                goto done;
            if ((pfd[i].revents & POLLOUT) && sent[i] < w->size) {
                ssize_t n = write(pfd[i].fd, msg + sent[i], w->size - sent[i]);
                if (n > 0)
                    sent[i] += (size_t)n;
            }
            if (pfd[i].revents & POLLIN) {
                ssize_t n = read(pfd[i].fd, sink, LOAD_READ_BYTES);
                if (n == 0)
                    goto done;
                if (n > 0)
                    received[i] += (size_t)n;
                if (received[i] == w->size) { /* a round trip: start the next message */
                    trips++;
                    sent[i] = received[i] = 0;
                }
            }
        }
    }
    double elapsed = now_s() - start;
    res->trips_per_s = (double)trips / elapsed;
    res->mib_per_s = (double)trips * (double)w->size / elapsed / (1024.0 * 1024.0);
    rc = 0;

done:
    for (int i = 0; i < opened; i++)
        close(pfd[i].fd);
    free(msg);
    free(sink);
    return rc;
}

/* Thread entry: every workload against both servers, a table of results, then SIGTERM to
 * ourselves, which stops the servers' loop the same way Ctrl-C would. */
void *load_main(void *arg)
{
    struct load_plan *plan = arg;

    for (int i = 0; i < plan->count; i++) {
        const struct workload *w = &plan->workloads[i];

        printf("\n== %zu-byte messages, %d connections, %d ms per server\n", w->size, w->conns,
               w->ms);
        for (int s = 0; s < COST_SERVERS; s++) {
            struct load_result res = {0};
            if (load_run(plan->ports[s], w, &res) != 0) {
                printf("  %-26s UNEXPECTED: a connection failed\n", plan->names[s]);
                plan->failures++;
                continue;
            }
            printf("  %-26s %10.0f round trips/s %9.1f MiB/s\n", plan->names[s], res.trips_per_s,
                   res.mib_per_s);
        }
    }
    printf("\nThe figures vary from run to run and with whatever else the machine is doing;\n"
           "compare the ratios. Typical on an idle machine: the plain event ahead of the\n"
           "bufferevent by 1.5 to 2.5 times for small messages, and the bufferevent without\n"
           "TCP_NODELAY stuck at a few hundred round trips/s for large ones.\n");
    printf("\nload: done; sending SIGTERM to stop the servers\n");
    kill(getpid(), SIGTERM);
    return NULL;
}
