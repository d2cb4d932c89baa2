/*
 * race_timeouts.c - select!-style races, timeouts and intervals on one event_base.
 *
 * Race 1 asks two replicas (timers of 30 ms and 50 ms) and takes the first answer: the winner's
 * callback cancels the loser with event_del(). Race 2 makes both answers ready in the same turn
 * of the loop (two pipes written before the loop runs) to show that event_del() also cancels
 * an event that is already active and waiting to run. Race 3 waits for a reply OR a timeout
 * with a single event. Last, an EV_PERSIST timer ticks every 10 ms until it is deleted, once on
 * a default base and once on a base that asked for EVENT_BASE_FLAG_PRECISE_TIMER: compare.
 *
 *     ./race-timeouts          (--demo does the same)
 */
#include "demo_util.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAST_REPLICA_MS 30
#define SLOW_REPLICA_MS 50
#define REPLY_TIMEOUT_MS 50 /* race 3: how long we wait for a reply */
#define PROMPT_REPLY_MS 10  /* race 3a: the peer answers after this long */
#define TICK_MS 10
#define TICKS 5

static struct timeval ms_to_timeval(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* ---- Races 1 and 2: two events, first one wins ---- */

/* One contestant. Both point at each other, so the winner can cancel the loser. */
struct racer {
    const char *name;
    int fd;           /* -1 for a timer; the pipe's read end otherwise (not owned) */
    struct event *ev; /* owned */
    struct event_base *base;
    int ran;
    struct racer *rival; /* not owned */
    const struct demo_clock *clk;
};

static void racer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct racer *r = arg;
    char byte;
    (void)what;

    r->ran = 1;
    if (fd >= 0 && read(fd, &byte, 1) != 1)
        trace(r->clk, "  %s: read failed", r->name);
    /* Events whose callbacks are queued for this turn but have not run yet. */
    int waiting = event_base_get_num_events(r->base, EVENT_BASE_COUNT_ACTIVE);
    /* The select! rule: the first branch to finish cancels the others. event_del() works
     * whether the rival is still waiting or already active in this very turn. */
    event_del(r->rival->ev);
    trace(r->clk, "  %s won; active events still queued: %d -> event_del(%s) -> %d", r->name,
          waiting, r->rival->name, event_base_get_num_events(r->base, EVENT_BASE_COUNT_ACTIVE));
}

/* Runs one race between a and b (already set up with fd and name). Returns 0, or -1. */
static int run_race(struct event_base *base, struct racer *a, struct racer *b, int a_ms, int b_ms)
{
    struct timeval ta = ms_to_timeval(a_ms), tb = ms_to_timeval(b_ms);
    int rc = -1;

    a->rival = b;
    b->rival = a;
    a->ev = event_new(base, a->fd, a->fd >= 0 ? EV_READ : 0, racer_cb, a);
    b->ev = event_new(base, b->fd, b->fd >= 0 ? EV_READ : 0, racer_cb, b);
    if (a->ev == NULL || b->ev == NULL)
        goto cleanup;
    /* A pipe racer waits for readability only (NULL timeout); a timer racer for its delay. */
    if (event_add(a->ev, a->fd >= 0 ? NULL : &ta) != 0 ||
        event_add(b->ev, b->fd >= 0 ? NULL : &tb) != 0)
        goto cleanup;
    event_base_dispatch(base);
    trace(a->clk, "  loop done: %s ran: %s, %s ran: %s", a->name, a->ran ? "yes" : "no", b->name,
          b->ran ? "yes" : "no");
    rc = 0;
cleanup:
    if (a->ev != NULL)
        event_free(a->ev);
    if (b->ev != NULL)
        event_free(b->ev);
    return rc;
}

static int race_timers(struct event_base *base, const struct demo_clock *clk)
{
    struct racer fast = {.name = "replica-1", .fd = -1, .base = base, .clk = clk};
    struct racer slow = {.name = "replica-2", .fd = -1, .base = base, .clk = clk};

    printf("== Race 1: first answer wins (%d ms vs %d ms) ==\n", FAST_REPLICA_MS, SLOW_REPLICA_MS);
    return run_race(base, &fast, &slow, FAST_REPLICA_MS, SLOW_REPLICA_MS);
}

static int race_same_turn(struct event_base *base, const struct demo_clock *clk)
{
    int p1[2] = {-1, -1}, p2[2] = {-1, -1};
    struct racer a = {.name = "pipe-1", .base = base, .clk = clk};
    struct racer b = {.name = "pipe-2", .base = base, .clk = clk};
    int rc = -1;

    printf("\n== Race 2: both ready in the same turn ==\n");
    if (pipe(p1) != 0 || pipe(p2) != 0)
        goto cleanup;
    /* Both "replies" are in before the loop runs: one poll of the backend reports both. */
    if (write(p1[1], "x", 1) != 1 || write(p2[1], "x", 1) != 1)
        goto cleanup;
    a.fd = p1[0];
    b.fd = p2[0];
    trace(clk, "  both pipes hold a byte; the winner is whichever callback runs first");
    rc = run_race(base, &a, &b, 0, 0);
cleanup:
    for (int i = 0; i < 2; i++) {
        if (p1[i] >= 0)
            close(p1[i]);
        if (p2[i] >= 0)
            close(p2[i]);
    }
    return rc;
}

/* ---- Race 3: a reply or a timeout, with one event ---- */

/* Context of one wait for a reply. */
struct reply_wait {
    int read_fd, write_fd; /* a pipe standing in for a connection (not owned) */
    const struct demo_clock *clk;
    double started_ms;
};

static void reply_cb(evutil_socket_t fd, short what, void *arg)
{
    struct reply_wait *w = arg;
    char buf[16];

    if (what & EV_TIMEOUT) {
        trace(w->clk, "  reply_cb: what = EV_TIMEOUT after %.0f ms: give up, report a timeout",
              clock_ms(w->clk) - w->started_ms);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    trace(w->clk, "  reply_cb: what = EV_READ after %.0f ms: got \"%s\"",
          clock_ms(w->clk) - w->started_ms, buf);
}

static void peer_answers_cb(evutil_socket_t fd, short what, void *arg)
{
    struct reply_wait *w = arg;
    (void)fd;
    (void)what;
    if (write(w->write_fd, "pong", 4) != 4)
        trace(w->clk, "  peer: write failed");
}

/* Waits for a reply with a timeout; the peer answers after answer_ms, or never if < 0. */
static int wait_for_reply(struct event_base *base, const struct demo_clock *clk, int answer_ms)
{
    int p[2] = {-1, -1};
    struct reply_wait w = {.clk = clk, .started_ms = clock_ms(clk)};
    struct event *ev = NULL;
    struct timeval timeout = ms_to_timeval(REPLY_TIMEOUT_MS), answer = ms_to_timeval(answer_ms);
    int rc = -1;

    if (pipe(p) != 0)
        goto cleanup;
    w.read_fd = p[0];
    w.write_fd = p[1];
    /* One event is the whole race: readable before the timeout gives EV_READ, else
     * EV_TIMEOUT. libevent removes the loser (the timer or the fd watch) for us. */
    ev = event_new(base, p[0], EV_READ, reply_cb, &w);
    if (ev == NULL || event_add(ev, &timeout) != 0)
        goto cleanup;
    if (answer_ms >= 0 && event_base_once(base, -1, EV_TIMEOUT, peer_answers_cb, &w, &answer) != 0)
        goto cleanup;
    event_base_dispatch(base);
    rc = 0;
cleanup:
    if (ev != NULL)
        event_free(ev);
    for (int i = 0; i < 2; i++) {
        if (p[i] >= 0)
            close(p[i]);
    }
    return rc;
}

static int race_reply_or_timeout(struct event_base *base, const struct demo_clock *clk)
{
    printf("\n== Race 3: a reply or a timeout, one event ==\n");
    trace(clk, "  a) the peer answers after %d ms; we wait at most %d ms", PROMPT_REPLY_MS,
          REPLY_TIMEOUT_MS);
    if (wait_for_reply(base, clk, PROMPT_REPLY_MS) != 0)
        return -1;
    trace(clk, "  b) the peer never answers; we wait at most %d ms", REPLY_TIMEOUT_MS);
    return wait_for_reply(base, clk, -1);
}

/* ---- Intervals ---- */

/* Context of the interval timer. */
struct ticker {
    struct event *ev; /* owned by interval_demo() */
    int ticks;
    double started_ms;
    double at_ms[TICKS]; /* when each tick ran, relative to started_ms */
    const struct demo_clock *clk;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;
    (void)fd;
    (void)what;
    t->at_ms[t->ticks++] = clock_ms(t->clk) - t->started_ms;
    /* An EV_PERSIST event stays pending after its callback: only event_del() stops it. */
    if (t->ticks == TICKS)
        event_del(t->ev);
}

/* Runs an interval of TICKS ticks on base and prints when each one ran. Returns 0, or -1. */
static int interval_demo(struct event_base *base, const struct demo_clock *clk, const char *label)
{
    struct ticker t = {.clk = clk};
    struct timeval every = ms_to_timeval(TICK_MS);
    int rc = -1;

    t.ev = event_new(base, -1, EV_PERSIST, tick_cb, &t);
    if (t.ev == NULL)
        return -1;
    t.started_ms = clock_ms(clk);
    if (event_add(t.ev, &every) == 0) {
        event_base_dispatch(base);
        printf("  %-34s ticks at", label);
        for (int i = 0; i < t.ticks; i++)
            printf(" +%.1f", t.at_ms[i]);
        printf(" ms, then event_del()\n");
        rc = 0;
    }
    event_free(t.ev);
    return rc;
}

static int intervals(struct event_base *base, const struct demo_clock *clk)
{
    struct event_config *cfg = event_config_new();
    struct event_base *precise = NULL;
    struct timespec res = {0, 0};
    int rc = -1;

    printf("\n== Intervals: an EV_PERSIST timer every %d ms ==\n", TICK_MS);
    /* By default libevent reads the kernel's cheap, coarse clock; this flag asks for the
     * precise one (the environment variable EVENT_PRECISE_TIMER=1 does the same). */
    if (cfg == NULL || event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0 ||
        (precise = event_base_new_with_config(cfg)) == NULL)
        goto cleanup;
#ifdef CLOCK_MONOTONIC_COARSE /* Linux: the clock libevent reads by default */
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    printf("  (this kernel's coarse clock advances in steps of %.1f ms)\n", res.tv_nsec / 1e6);
#endif
    if (interval_demo(base, clk, "default base:") != 0 ||
        interval_demo(precise, clk, "EVENT_BASE_FLAG_PRECISE_TIMER base:") != 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (precise != NULL)
        event_base_free(precise);
    if (cfg != NULL)
        event_config_free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    struct demo_clock clk;
    struct event_base *base;
    int rc = 1;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &clk.start);
    base = event_base_new();
    if (base == NULL)
        return 1;
    if (race_timers(base, &clk) == 0 && race_same_turn(base, &clk) == 0 &&
        race_reply_or_timeout(base, &clk) == 0 && intervals(base, &clk) == 0)
        rc = 0;
    event_base_free(base);
    return rc;
}
