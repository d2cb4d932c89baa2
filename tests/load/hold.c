/*
 * hold.c - holds many connections open on a server, optionally dribbling a byte at a time,
 * while a well-behaved client checks the server still serves. It prints what was held, how
 * the probes went, the server's memory and CPU, and whether it recovered afterwards.
 *
 *     hold --kind echo|chat|http --port P --conns N [--seconds S] [--dribble MS] [--pid PID]
 *          [--exhaust] [--max-cpu PCT] [--probe-every MS]
 *
 * --dribble MS sends one byte on every connection each MS milliseconds (slowloris; for http
 * each connection first sends half a request). --exhaust is for a server with fewer
 * descriptors than --conns: probes may fail while it is out of them, but its CPU use must
 * stay under --max-cpu percent (no busy loop) and it must serve again once they are closed.
 * --probe-every 0 probes back to back: steady traffic (for a shutdown under load).
 * Exit status 0 when the server behaved, 1 when not, 2 for a bad command line.
 */
#include "load_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOLD_BATCH 256            /* connects started before waiting for them to complete */
#define HOLD_CONNECT_WAIT_MS 3000 /* a connect not done by then is counted as failed */
#define HOLD_PROBE_EVERY_MS 250   /* how often the well-behaved client checks, while holding */
#define HOLD_RECOVERY_MS 5000     /* after closing everything, the server must serve within this */
#define HOLD_SETTLE_MS 120000     /* at most this long for the server to finish greeting everyone */
#define HOLD_SETTLE_STEP_MS 200   /* between probes while waiting for that */

static const char half_request[] = "GET /items HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

struct hold {
    enum load_kind kind;
    struct pollfd *fds;
    size_t n;       /* entries in fds; fd -1 once closed */
    size_t open;    /* connections established and not closed */
    size_t pending; /* connects still in progress */
    size_t dropped; /* closed by the server while held */
    size_t failed;  /* connects refused or timed out */
};

/* Polls every connection once: completes connects, drains input, notices closes. */
static void hold_poll(struct hold *h, int timeout_ms)
{
    char buf[4096];

    if (poll(h->fds, h->n, timeout_ms) <= 0)
        return;
    for (size_t i = 0; i < h->n; i++) {
        struct pollfd *p = &h->fds[i];
        if (p->fd < 0 || p->revents == 0)
            continue;
        if (p->events & POLLOUT) { /* a connect finished, one way or the other */
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            h->pending--;
            if (err != 0) {
                close(p->fd);
                p->fd = -1;
                h->failed++;
                continue;
            }
            p->events = POLLIN;
            h->open++;
            if (h->kind == LOAD_HTTP) /* slowloris: half a request, then a byte at a time */
                send(p->fd, half_request, sizeof half_request - 1, MSG_NOSIGNAL);
            continue;
        }
        ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(p->fd);
            p->fd = -1;
            h->open--;
            h->dropped++;
        }
    }
}

static void dribble(struct hold *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->fds[i].fd >= 0 && h->fds[i].events == POLLIN)
            send(h->fds[i].fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
    const char *kind_name = NULL;
    long port = 0, conns = 0, seconds = 5, dribble_ms = 0, pid = 0, max_cpu = 100;
    long probe_every = HOLD_PROBE_EVERY_MS;
    int exhaust = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--exhaust") == 0) {
            exhaust = 1;
            continue;
        }
        if (v == NULL)
            goto usage;
        i++;
        if (strcmp(a, "--kind") == 0)
            kind_name = v;
        else if (strcmp(a, "--port") == 0)
            port = load_parse_long(a, v, 1, 65535);
        else if (strcmp(a, "--conns") == 0)
            conns = load_parse_long(a, v, 1, 1000000);
        else if (strcmp(a, "--seconds") == 0)
            seconds = load_parse_long(a, v, 1, 3600);
        else if (strcmp(a, "--dribble") == 0)
            dribble_ms = load_parse_long(a, v, 1, 60000);
        else if (strcmp(a, "--pid") == 0)
            pid = load_parse_long(a, v, 1, 1 << 30);
        else if (strcmp(a, "--probe-every") == 0)
            probe_every = load_parse_long(a, v, 0, 60000);
        else if (strcmp(a, "--max-cpu") == 0)
            max_cpu = load_parse_long(a, v, 1, 100);
        else
            goto usage;
    }
    if (kind_name == NULL || load_parse_kind(kind_name) < 0 || port == 0 || conns == 0)
        goto usage;

    struct hold h = {.kind = (enum load_kind)load_parse_kind(kind_name)};
    long limit = load_raise_fd_limit(conns + 64);
    h.fds = calloc((size_t)conns, sizeof *h.fds);
    if (h.fds == NULL)
        return 1;
    long rss_before = pid > 0 ? load_rss_kb((pid_t)pid) : -1;

    /* Open the connections in batches, waiting for each batch to complete. */
    int own_limit = 0;
    while (h.n < (size_t)conns && !own_limit) {
        for (int b = 0; b < HOLD_BATCH && h.n < (size_t)conns; b++) {
            int fd = load_dial_nb((uint16_t)port);
            if (fd < 0) {
                own_limit = errno == EMFILE || errno == ENFILE;
                if (!own_limit)
                    h.failed++;
                break;
            }
            h.fds[h.n++] = (struct pollfd){.fd = fd, .events = POLLOUT};
            h.pending++;
        }
        uint64_t until = load_now_ms() + (exhaust ? 50 : HOLD_CONNECT_WAIT_MS);
        while (h.pending > 0 && load_now_ms() < until)
            hold_poll(&h, 20);
    }

    /* Settle: a chat server announces every join to everyone (n joins cost n^2 lines), so
     * after a burst of connections a newcomer may wait while it catches up. Keep reading, and
     * probe until a newcomer is served; say how long that took. The hold starts after. */
    uint64_t settle_start = load_now_ms();
    long settled = exhaust || dribble_ms > 0 ? 0 : -1;
    while (settled < 0 && load_now_ms() - settle_start < HOLD_SETTLE_MS) {
        uint64_t step_end = load_now_ms() + HOLD_SETTLE_STEP_MS;
        while (load_now_ms() < step_end)
            hold_poll(&h, 20);
        settled = load_probe(h.kind, (uint16_t)port);
    }
    double settle_s = (double)(load_now_ms() - settle_start) / 1000.0;

    /* Hold: keep reading, dribble, and probe like a well-behaved client. */
    long cpu_start = pid > 0 ? load_cpu_ms((pid_t)pid) : -1;
    uint64_t start = load_now_ms(), end = start + (uint64_t)seconds * 1000;
    uint64_t next_probe = start, next_dribble = start + (uint64_t)dribble_ms;
    long probes_ok = 0, probes_failed = 0, max_ms = 0, rss_during = -1;
    while (load_now_ms() < end) {
        hold_poll(&h, 20);
        uint64_t now = load_now_ms();
        if (dribble_ms > 0 && now >= next_dribble) {
            dribble(&h);
            next_dribble = now + (uint64_t)dribble_ms;
        }
        if (now >= next_probe) {
            long ms = load_probe(h.kind, (uint16_t)port);
            probes_ok += ms >= 0;
            probes_failed += ms < 0;
            max_ms = ms > max_ms ? ms : max_ms;
            next_probe = load_now_ms() + (uint64_t)probe_every;
        }
    }
    double held_s = (double)(load_now_ms() - start) / 1000.0;
    long cpu_used = pid > 0 ? load_cpu_ms((pid_t)pid) - cpu_start : -1;
    double cpu_pct = cpu_used >= 0 ? (double)cpu_used / 10.0 / held_s : -1;
    if (pid > 0)
        rss_during = load_rss_kb((pid_t)pid);
    size_t held = h.open;

    /* Let go, and the server must serve again. */
    for (size_t i = 0; i < h.n; i++)
        if (h.fds[i].fd >= 0)
            close(h.fds[i].fd);
    long recovered = -1;
    uint64_t give_up = load_now_ms() + HOLD_RECOVERY_MS;
    while (recovered < 0 && load_now_ms() < give_up)
        recovered = load_probe(h.kind, (uint16_t)port);
    long rss_after = pid > 0 ? load_rss_kb((pid_t)pid) : -1;

    printf("hold %s: wanted %ld connections, opened %zu, held %zu for %.1f s (closed by the "
           "server %zu, connects failed %zu%s; client fd limit %ld)\n",
           kind_name, conns, h.n, held, held_s, h.dropped, h.failed + h.pending,
           own_limit ? ", stopped at our own fd limit" : "", limit);
    if (!exhaust && dribble_ms == 0)
        printf("hold %s: a newcomer was %s %.1f s after the connections were made\n", kind_name,
               settled >= 0 ? "served" : "still NOT served", settle_s);
    printf("hold %s: well-behaved probes while held: %ld ok, %ld failed, slowest %ld ms\n",
           kind_name, probes_ok, probes_failed, max_ms);
    if (pid > 0)
        printf("hold %s: server RSS %ld KiB before, %ld KiB held, %ld KiB after; CPU %.0f%% of a "
               "core while held\n",
               kind_name, rss_before, rss_during, rss_after, cpu_pct);
    printf("hold %s: after closing everything, a probe %s\n", kind_name,
           recovered >= 0 ? "succeeded" : "FAILED: the server did not recover");

    int ok = recovered >= 0 && settled >= 0;
    if (!exhaust && probes_failed > 0) {
        printf("hold %s: FAIL: well-behaved clients were not served while connections were held\n",
               kind_name);
        ok = 0;
    }
    if (exhaust && cpu_pct > (double)max_cpu) {
        printf(
            "hold %s: FAIL: the server burnt %.0f%% CPU while out of descriptors (limit %ld%%)\n",
            kind_name, cpu_pct, max_cpu);
        ok = 0;
    }
    free(h.fds);
    return ok ? 0 : 1;

usage:
    fprintf(stderr, "usage: hold --kind echo|chat|http --port P --conns N [--seconds S] "
                    "[--dribble MS] [--pid PID] [--exhaust] [--max-cpu PCT] [--probe-every MS]\n");
    return 2;
}
