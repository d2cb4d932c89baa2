/*
 * channels.c - the four channels of this lecture at work on one event loop.
 *
 * Part 1: two worker threads feed a bounded mpsc channel; the loop drains a batch per
 * wake-up, and a full channel with MPSC_REFUSE hands messages back. Part 2: a chat room on a
 * broadcast channel in which one reader is slow: it lags and loses messages, the others never
 * notice. Part 3: a worker publishes thousands of values on a watch; the loop sees a handful
 * of wake-ups and always the newest value. Part 4: oneshot replies, one to a receiver that
 * has already gone. The unit tests are test_chan_*.c.
 *
 *     ./channels --demo          (add --quick for fewer messages, e.g. under valgrind)
 */
#include "chan_broadcast.h"
#include "chan_mpsc.h"
#include "chan_oneshot.h"
#include "chan_watch.h"
#include "demo_clock.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MPSC_PER_WORKER 20000 /* part 1 (--quick: 1/100) */
#define MPSC_CAPACITY 256
#define ROOM_RING 8        /* part 2: messages each reader may fall behind */
#define ROOM_TICKS 10      /* part 2: the sender sends ... */
#define ROOM_PER_TICK 4    /* ... this many lines per tick */
#define WATCH_SENDS 100000 /* part 3 (--quick: 1/100) */
#define JOBS 3             /* part 4 */

struct demo {
    struct event_base *base;
    long expected, received;
};

/* ---- Part 1: mpsc ---- */

static void mpsc_recv_cb(void *msg, void *arg)
{
    struct demo *d = arg;
    (void)msg; /* a number in a pointer: nothing to free */
    if (++d->received == d->expected)
        event_base_loopexit(d->base, NULL);
}

struct producer {
    struct mpsc *ch;
    long count;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    for (long i = 1; i <= p->count; i++)
        mpsc_send(p->ch, (void *)(intptr_t)i); /* MPSC_WAIT: pauses here while full */
    return NULL;
}

static int part_mpsc(struct event_base *base, long per_worker)
{
    struct demo d = {base, 2 * per_worker, 0};
    struct producer p[2];
    pthread_t threads[2];
    int started = 0;

    printf("== 1. mpsc: 2 worker threads -> the loop, capacity %d, MPSC_WAIT ==\n", MPSC_CAPACITY);
    struct mpsc *ch = mpsc_new(base, MPSC_CAPACITY, MPSC_WAIT, mpsc_recv_cb, &d);
    if (ch == NULL)
        return -1;
    uint64_t t0 = demo_now_ns();
    for (; started < 2; started++) {
        p[started] = (struct producer){ch, per_worker};
        if (pthread_create(&threads[started], NULL, producer_main, &p[started]) != 0)
            break;
    }
    if (started == 2)
        event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    mpsc_close(ch); /* a producer still waiting for room (after a failure) returns */
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    double secs = (demo_now_ns() - t0) / 1e9;
    printf("%ld messages arrived in %zu wake-ups (%.0f per wake-up; typical: %.1f million/s)\n",
           d.received, mpsc_wakeups(ch), (double)d.received / (double)mpsc_wakeups(ch),
           d.received / secs / 1e6);
    mpsc_free(ch, NULL);

    /* The same channel type with MPSC_REFUSE: a burst bigger than the bound. */
    struct demo burst = {base, 8, 0};
    int refused = 0;
    ch = mpsc_new(base, 8, MPSC_REFUSE, mpsc_recv_cb, &burst);
    if (ch == NULL)
        return -1;
    for (long i = 1; i <= 20; i++)
        if (mpsc_send(ch, (void *)(intptr_t)i) != 0)
            refused++; /* the sender still owns it: count it, drop it, or answer "busy" */
    event_base_dispatch(base);
    printf("MPSC_REFUSE, capacity 8, a burst of 20: %ld delivered, %d refused\n", burst.received,
           refused);
    mpsc_free(ch, NULL);
    return started == 2 && d.received == d.expected ? 0 : -1;
}

/* ---- Part 2: broadcast ---- */

struct member {
    const char *name;
    int per_wakeup; /* 0: reads everything it is woken for; 1: a slow reader */
    long got, lagged_reports;
    uint64_t lost;
};

static void member_wake_cb(struct bcast_sub *sub, void *arg)
{
    struct member *m = arg;
    struct bcast_msg *msg;
    uint64_t lost;
    int taken = 0;
    while (m->per_wakeup == 0 || taken < m->per_wakeup) {
        enum bcast_status st = bcast_recv(sub, &msg, &lost);
        if (st == BCAST_EMPTY)
            break;
        if (st == BCAST_LAGGED) {
            m->lagged_reports++;
            m->lost += lost;
            continue;
        }
        m->got++;
        taken++;
        bcast_msg_unref(msg);
    }
}

struct room {
    struct bcast *b;
    struct event *tick_ev; /* owned by part_broadcast */
    int ticks;
};

static void room_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct room *r = arg;
    char line[64];
    (void)fd;
    (void)what;
    for (int i = 0; i < ROOM_PER_TICK; i++) {
        int n = snprintf(line, sizeof line, "line %d", r->ticks * ROOM_PER_TICK + i + 1);
        bcast_send(r->b, line, (size_t)n);
    }
    if (++r->ticks == ROOM_TICKS)
        event_del(r->tick_ev); /* the last pending event: the loop returns when drained */
}

static int part_broadcast(struct event_base *base)
{
    struct member members[] = {{"alice", 0, 0, 0, 0}, {"bob", 0, 0, 0, 0}, {"carol", 1, 0, 0, 0}};
    struct room room = {bcast_new(base, ROOM_RING), NULL, 0};
    struct timeval every = {0, 1000};
    int rc = -1;

    printf("\n== 2. broadcast: a chat room, %d lines, rings of %d; carol reads 1 line per "
           "wake-up ==\n",
           ROOM_TICKS * ROOM_PER_TICK, ROOM_RING);
    if (room.b == NULL)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (bcast_subscribe(room.b, member_wake_cb, &members[i]) == NULL)
            goto cleanup;
    room.tick_ev = event_new(base, -1, EV_PERSIST, room_tick_cb, &room);
    if (room.tick_ev == NULL || event_add(room.tick_ev, &every) != 0)
        goto cleanup;
    event_base_dispatch(base);
    for (size_t i = 0; i < 3; i++)
        printf("%-6s got %2ld lines; lagged %ld times, %llu lines lost\n", members[i].name,
               members[i].got, members[i].lagged_reports, (unsigned long long)members[i].lost);
    rc = 0;
cleanup:
    if (room.tick_ev != NULL)
        event_free(room.tick_ev);
    bcast_free(room.b); /* also drops what carol never read */
    return rc;
}

/* ---- Part 3: watch ---- */

struct config {
    long version;
    int max_clients;
};

struct watcher {
    struct event_base *base;
    long target;
    struct config last;
};

static void config_cb(const void *value, uint64_t version, void *arg)
{
    struct watcher *w = arg;
    (void)version;
    memcpy(&w->last, value, sizeof w->last);
    if (w->last.version == w->target)
        event_base_loopexit(w->base, NULL);
}

struct publisher {
    struct watch *w;
    long sends;
};

static void *publisher_main(void *arg)
{
    struct publisher *p = arg;
    for (long v = 1; v <= p->sends; v++) {
        struct config c = {v, 100 + (int)(v % 50)};
        watch_send(p->w, &c);
    }
    return NULL;
}

static int part_watch(struct event_base *base, long sends)
{
    struct watcher w = {base, sends, {0, 0}};
    struct publisher p = {watch_new(base, sizeof(struct config), config_cb, &w), sends};
    pthread_t thread;

    printf("\n== 3. watch: a worker publishes %ld configurations ==\n", sends);
    if (p.w == NULL)
        return -1;
    if (pthread_create(&thread, NULL, publisher_main, &p) != 0) {
        watch_free(p.w);
        return -1;
    }
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    pthread_join(thread, NULL);
    printf("the loop was woken %zu times and ended with version %ld (max_clients %d)\n",
           watch_wakeups(p.w), w.last.version, w.last.max_clients);
    watch_free(p.w);
    return w.last.version == sends ? 0 : -1;
}

/* ---- Part 4: oneshot ---- */

struct reply_slot {
    struct demo *d;
    int job;
};

static void reply_cb(int sent, void *value, void *arg)
{
    struct reply_slot *slot = arg;
    if (sent) {
        printf("job %d: the loop got %ld\n", slot->job, *(long *)value);
        free(value);
    } else {
        printf("job %d: the worker closed without a value\n", slot->job);
    }
    if (++slot->d->received == slot->d->expected)
        event_base_loopexit(slot->d->base, NULL);
}

struct job {
    int id;
    struct oneshot *reply; /* the sender's side, used once */
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    long *answer = malloc(sizeof *answer);
    if (answer == NULL) {
        oneshot_close(j->reply);
        return NULL;
    }
    *answer = (long)j->id * 100;
    if (oneshot_send(j->reply, answer) != 0) {
        printf("job %d: the receiver is gone; the worker frees its answer\n", j->id);
        free(answer);
    }
    return NULL;
}

static int part_oneshot(struct event_base *base)
{
    struct demo d = {base, JOBS - 1, 0}; /* job 2 is cancelled: no reply expected */
    struct reply_slot slots[JOBS];
    struct job jobs[JOBS];
    pthread_t threads[JOBS];
    int started = 0;

    printf("\n== 4. oneshot: %d jobs on worker threads; job 2's client leaves at once ==\n", JOBS);
    for (; started < JOBS; started++) {
        slots[started] = (struct reply_slot){&d, started + 1};
        jobs[started].id = started + 1;
        jobs[started].reply = oneshot_new(base, reply_cb, &slots[started], free);
        if (jobs[started].reply == NULL)
            break;
        if (started == 1)
            oneshot_cancel(jobs[started].reply); /* before the worker even starts */
        if (pthread_create(&threads[started], NULL, job_main, &jobs[started]) != 0) {
            oneshot_close(jobs[started].reply); /* the sender's side, never started */
            if (started != 1)
                oneshot_cancel(jobs[started].reply);
            break;
        }
    }
    if (started == JOBS)
        event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return started == JOBS && d.received == d.expected ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct event_base *base = NULL;
    int quick = 0, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--demo") != 0) {
            fprintf(stderr, "usage: %s [--demo] [--quick]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (evthread_use_pthreads() != 0) /* before any base: worker threads wake this one */
        return 1;
    base = event_base_new();
    if (base == NULL)
        goto cleanup;
    if (part_mpsc(base, quick ? MPSC_PER_WORKER / 100 : MPSC_PER_WORKER) != 0 ||
        part_broadcast(base) != 0 ||
        part_watch(base, quick ? WATCH_SENDS / 100 : WATCH_SENDS) != 0 || part_oneshot(base) != 0)
        goto cleanup;
    printf("(typical figures: wake-ups and rates vary with the machine and its load)\n");
    rc = 0;
cleanup:
    if (base != NULL)
        event_base_free(base);
    libevent_global_shutdown();
    return rc;
}
