/*
 * step_loop.c - testing an event-driven server in-process, one turn of the loop at a time.
 *
 * No threads and no waiting: the test and the server share one event_base. The test plays the
 * client on the other end of a socketpair, turns the loop itself with EVLOOP_NONBLOCK or
 * EVLOOP_ONCE, and checks what happened after each turn. Time is a fake clock the test moves by
 * hand, and the test fires the server's sweep timer itself, so 30 s of idleness take no time.
 * Try it: ./build/lectures/07-testing-async/step-loop --demo
 */
#include "idle_server.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_MS 30000 /* the server under test closes connections silent this long */
#define SWEEP_MS 50   /* and looks for them this often */

/* The demo's assertion: a failed check ends the run with status 1. */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED: %s (line %d)\n", #cond, __LINE__);                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* The fake clock: it moves only when the test says so. */
struct fake_clock {
    int64_t now_ms;
};

static int64_t fake_now(void *ctx)
{
    const struct fake_clock *clock = ctx;
    return clock->now_ms;
}

/* Fires the server's sweep timer now, and runs it: "time has passed, look again". */
static void fire_sweep(struct event_base *base, struct idle_server *srv)
{
    event_active(idle_server_sweep_event(srv), EV_TIMEOUT, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
}

static void part_nonblock(struct event_base *base, struct idle_server *srv, int peer)
{
    char got[16] = "";

    printf("== Stepping with EVLOOP_NONBLOCK ==\n");
    EXPECT(write(peer, "one\ntwo\n", 8) == 8);
    printf("the peer wrote \"one\\ntwo\\n\"; before any step: %lu lines handled\n",
           idle_server_nlines(srv));
    event_base_loop(base, EVLOOP_NONBLOCK); /* runs what is ready now, then returns */
    EXPECT(idle_server_nlines(srv) == 2);
    EXPECT(read(peer, got, sizeof got - 1) == 6 && strcmp(got, "ok\nok\n") == 0);
    printf("after one EVLOOP_NONBLOCK step: %lu lines handled, the peer read \"ok\\nok\\n\"\n",
           idle_server_nlines(srv));

    int64_t t0 = idle_clock_real(NULL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    printf("another step with nothing to do returned in %lld ms; still %lu lines\n",
           (long long)(idle_clock_real(NULL) - t0), idle_server_nlines(srv));
}

static void part_once(struct event_base *base, struct idle_server *srv)
{
    printf("== EVLOOP_ONCE waits for the next event ==\n");
    int64_t t0 = idle_clock_real(NULL);
    event_base_loop(base, EVLOOP_ONCE); /* blocks until something is active, runs it */
    int64_t waited = idle_clock_real(NULL) - t0;
    EXPECT(idle_server_nconns(srv) == 1);
    printf("nothing to read: EVLOOP_ONCE returned after %lld ms, when the %d ms sweep timer "
           "fired (typical)\n",
           (long long)waited, SWEEP_MS);
    printf("(with no timer pending it would have waited forever: give every test a deadline)\n");
}

static void part_fake_clock(struct event_base *base, struct idle_server *srv,
                            struct fake_clock *clock, int peer)
{
    char c;

    printf("== A fake clock: %d s of idleness in no time ==\n", IDLE_MS / 1000);
    int64_t t0 = idle_clock_real(NULL);
    clock->now_ms += IDLE_MS - 1;
    fire_sweep(base, srv);
    EXPECT(idle_server_nconns(srv) == 1);
    printf("clock +%d ms, sweep fired by the test: %zu connection open\n", IDLE_MS - 1,
           idle_server_nconns(srv));
    clock->now_ms += 1;
    fire_sweep(base, srv);
    EXPECT(idle_server_nconns(srv) == 0);
    EXPECT(read(peer, &c, 1) == 0); /* the server closed its end: the peer reads EOF */
    printf("clock +1 ms more, sweep fired again: %zu connections open, the peer reads EOF\n",
           idle_server_nconns(srv));
    printf("real time spent on those %d s: %lld ms\n", IDLE_MS / 1000,
           (long long)(idle_clock_real(NULL) - t0));
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct fake_clock clock = {.now_ms = 1000};
    struct idle_server_config cfg = {
        .idle_ms = IDLE_MS, .sweep_ms = SWEEP_MS, .now = fake_now, .now_ctx = &clock};
    int pair[2];
    struct event_base *base = event_base_new();
    EXPECT(base != NULL && socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    struct idle_server *srv = idle_server_new(base, &cfg);
    EXPECT(srv != NULL && idle_server_add(srv, pair[0]) == 0); /* the server owns pair[0] */

    part_nonblock(base, srv, pair[1]);
    part_once(base, srv);
    part_fake_clock(base, srv, &clock, pair[1]);

    idle_server_free(srv);
    close(pair[1]);
    event_base_free(base);
    return 0;
}
