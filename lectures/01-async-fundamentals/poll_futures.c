/*
 * poll_futures.c - futures, a waker and an executor written by hand: how async code runs.
 *
 * A future is a state machine with a poll function that answers PENDING or READY. Before it
 * answers PENDING it hands a waker to whatever it is waiting for; the executor then sleeps
 * until some waker fires and polls again. This is what the Rust compiler generates for an
 * `async fn`, and what Python's asyncio and JavaScript's `await` do underneath.
 *
 * The program fetches two users concurrently (connect, then read a reply; timers stand in for
 * the network) and prints every poll, so you can watch a future stay lazy until it is polled
 * and two futures compose into one without a single malloc. No libevent here: the point is to
 * see the machinery that a runtime hides.
 *
 *     ./poll-futures          (--demo does the same)
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum poll_result { PENDING, READY };

/* How a future asks to be polled again. The waker does not own data (the task). */
struct waker {
    void (*wake)(void *data);
    void *data;
};

#define OTHER_WORK_MS 50    /* main's own work between creating the futures and polling them */
#define USER1_CONNECT_MS 30 /* the simulated network: fetch_user(1) connects, then reads */
#define USER1_READ_MS 20
#define USER2_CONNECT_MS 10
#define USER2_READ_MS 40
#define REACTOR_MAX_TIMERS 8 /* timers pending at once; this program never needs more than 2 */

/* A timer some future is waiting for. */
struct reactor_timer {
    const void *owner; /* the future that armed it; it must not move while armed */
    const char *name;
    double deadline_ms;
    struct waker waker;
    int armed;
};

/* The reactor waits for the outside world and fires wakers. In a real runtime it waits on
 * sockets too (epoll); here it knows only timers. */
struct reactor {
    struct timespec start; /* the clock every printed time is relative to */
    struct reactor_timer timers[REACTOR_MAX_TIMERS];
};

/* What poll receives besides the future itself. Rust's Context carries the waker; the reactor
 * travels with it here, where Tokio reaches it through a thread-local. */
struct context {
    const struct waker *waker;
    struct reactor *reactor;
};

/* ---- The reactor ---- */

static double reactor_now(const struct reactor *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts.tv_sec - r->start.tv_sec) * 1e3 + (ts.tv_nsec - r->start.tv_nsec) / 1e6;
}

/* Prints one line stamped with the reactor's clock. */
static void trace(const struct reactor *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trace(const struct reactor *r, const char *fmt, ...)
{
    va_list ap;
    printf("[%4.0f ms] ", reactor_now(r));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Blocks the calling thread. The executor sleeps here when no task can make progress; main
 * uses it to stand for other work. */
static void sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1e3), (long)(ms * 1e6) % 1000000000L};
    while (nanosleep(&ts, &ts) != 0) /* interrupted by a signal: sleep the rest */
        ;
}

static int reactor_armed_count(const struct reactor *r)
{
    int n = 0;
    for (int i = 0; i < REACTOR_MAX_TIMERS; i++)
        n += r->timers[i].armed;
    return n;
}

static void reactor_init(struct reactor *r)
{
    memset(r, 0, sizeof *r);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
}

/* Arms (or re-arms) owner's timer: when deadline_ms passes, waker is fired once. The waker is
 * copied. Returns 0, or -1 if every slot is taken. */
static int reactor_arm(struct reactor *r, const void *owner, const char *name, double deadline_ms,
                       const struct waker *waker)
{
    struct reactor_timer *slot = NULL;
    for (int i = 0; i < REACTOR_MAX_TIMERS; i++) {
        struct reactor_timer *t = &r->timers[i];
        if (t->armed && t->owner == owner) {
            slot = t; /* polled again before its time: replace, do not duplicate */
            break;
        }
        if (!t->armed && slot == NULL)
            slot = t;
    }
    if (slot == NULL)
        return -1;
    *slot = (struct reactor_timer){owner, name, deadline_ms, *waker, 1};
    return 0;
}

/* Sleeps until the earliest timer is due, then fires every waker that is due. Returns 0, or -1
 * if no timer is armed: then nothing can ever wake a pending task. */
static int reactor_turn(struct reactor *r)
{
    struct reactor_timer *first = NULL;
    for (int i = 0; i < REACTOR_MAX_TIMERS; i++) {
        if (r->timers[i].armed && (first == NULL || r->timers[i].deadline_ms < first->deadline_ms))
            first = &r->timers[i];
    }
    if (first == NULL)
        return -1;
    sleep_ms(first->deadline_ms - reactor_now(r));
    double now = reactor_now(r);
    for (int i = 0; i < REACTOR_MAX_TIMERS; i++) {
        struct reactor_timer *t = &r->timers[i];
        if (t->armed && t->deadline_ms <= now) {
            t->armed = 0;
            trace(r, "reactor: timer %s expired, waking the task", t->name);
            t->waker.wake(t->waker.data);
        }
    }
    return 0;
}

/* ---- Leaf futures ---- */

/* Ready ms milliseconds after its first poll. Creating one starts nothing. */
struct delay_future {
    const char *name; /* not owned */
    int ms;
    int started;
    double deadline_ms; /* set by the first poll */
};

static void delay_init(struct delay_future *f, const char *name, int ms)
{
    *f = (struct delay_future){.name = name, .ms = ms};
}

static enum poll_result delay_poll(struct delay_future *f, struct context *cx)
{
    double now = reactor_now(cx->reactor);
    if (!f->started) {
        f->started = 1;
        f->deadline_ms = now + f->ms;
        trace(cx->reactor, "      %s: first poll, starts a %d ms timer -> PENDING", f->name, f->ms);
    } else if (now >= f->deadline_ms) {
        trace(cx->reactor, "      %s: -> READY", f->name);
        return READY;
    } else {
        trace(cx->reactor, "      %s: not yet -> PENDING", f->name);
    }
    /* The one rule of PENDING: leave the waker with whoever will make progress possible.
     * A future that returns PENDING without doing so is never polled again. */
    if (reactor_arm(cx->reactor, f, f->name, f->deadline_ms, cx->waker) != 0)
        trace(cx->reactor, "      %s: reactor full, nobody will wake this task", f->name);
    return PENDING;
}

/* Reads a reply into a buffer the caller provides (the network is simulated by a delay). */
struct read_future {
    struct delay_future wait;
    char *dst; /* not owned: where the reply goes */
    size_t cap;
    int user_id;
};

static enum poll_result read_poll(struct read_future *f, struct context *cx)
{
    if (delay_poll(&f->wait, cx) == PENDING)
        return PENDING;
    snprintf(f->dst, f->cap, "user-%d", f->user_id);
    return READY;
}

/* ---- A composed future: what `async fn` compiles to ----
 *
 *     async fn fetch_user(id) -> Name {
 *         connect(id).await;          // state CONNECTING
 *         read_reply(id).await        // state READING
 *     }
 *
 * The state says which .await the function is stopped at. The union holds the one sub-future
 * alive at that point: connect and read are never alive together, so they share storage, as
 * they do in the state machine rustc generates. Everything is stored by value. */
enum fetch_state { FETCH_START, FETCH_CONNECTING, FETCH_READING, FETCH_DONE };

static const char *const fetch_state_names[] = {"START", "CONNECTING", "READING", "DONE"};

#define FETCH_LABEL_BYTES 24
#define FETCH_NAME_BYTES 16

struct fetch_user_future {
    enum fetch_state state;
    int id;
    int connect_ms, read_ms;
    char connect_label[FETCH_LABEL_BYTES];
    char read_label[FETCH_LABEL_BYTES];
    union {
        struct delay_future connect;
        struct read_future read;
    } step;
    char name[FETCH_NAME_BYTES]; /* the result, once READY */
};

static void fetch_user_init(struct fetch_user_future *f, int id, int connect_ms, int read_ms)
{
    memset(f, 0, sizeof *f);
    f->state = FETCH_START;
    f->id = id;
    f->connect_ms = connect_ms;
    f->read_ms = read_ms;
    snprintf(f->connect_label, sizeof f->connect_label, "connect(%d)", id);
    snprintf(f->read_label, sizeof f->read_label, "read(%d)", id);
}

static enum poll_result fetch_user_poll(struct fetch_user_future *f, struct context *cx)
{
    switch (f->state) {
    case FETCH_START:
        trace(cx->reactor, "    fetch_user(%d): START -> CONNECTING", f->id);
        delay_init(&f->step.connect, f->connect_label, f->connect_ms);
        f->state = FETCH_CONNECTING;
        /* A future runs as far as it can in one poll: straight on into the next state. */
        /* fall through */
    case FETCH_CONNECTING:
        if (delay_poll(&f->step.connect, cx) == PENDING)
            return PENDING;
        /* The read step now writes into f->name, a field of this same struct: the future
         * points into itself, so from here on it must not be copied elsewhere. Rust's Pin
         * makes such a move a compile error; C leaves it to you. */
        trace(cx->reactor, "    fetch_user(%d): CONNECTING -> READING (now points into itself)",
              f->id);
        f->step.read =
            (struct read_future){.dst = f->name, .cap = sizeof f->name, .user_id = f->id};
        delay_init(&f->step.read.wait, f->read_label, f->read_ms);
        f->state = FETCH_READING;
        /* fall through */
    case FETCH_READING:
        if (read_poll(&f->step.read, cx) == PENDING)
            return PENDING;
        trace(cx->reactor, "    fetch_user(%d): READING -> DONE, result \"%s\"", f->id, f->name);
        f->state = FETCH_DONE;
        return READY;
    case FETCH_DONE:
        break; /* Rust's contract: never poll a finished future again; here it stays READY */
    }
    return READY;
}

/* join(a, b): READY when both are. The two children live inside the join, by value. */
struct join2_future {
    struct fetch_user_future a, b;
    int a_ready, b_ready;
};

/* Call after initialising j->a and j->b in place. */
static void join2_init(struct join2_future *j)
{
    j->a_ready = j->b_ready = 0;
}

/* Polls every child that is not finished. One waker serves the whole task, so the join cannot
 * tell which child woke it and simply asks both; Tokio's join! does the same. */
static enum poll_result join2_poll(struct join2_future *j, struct context *cx)
{
    trace(cx->reactor, "  join: polling the unfinished children");
    if (!j->a_ready)
        j->a_ready = fetch_user_poll(&j->a, cx) == READY;
    if (!j->b_ready)
        j->b_ready = fetch_user_poll(&j->b, cx) == READY;
    return j->a_ready && j->b_ready ? READY : PENDING;
}

/* ---- The executor ---- */

/* The executor's record of its one task: the flag the task's waker sets. */
struct task {
    int woken;
};

static void task_wake_cb(void *data)
{
    struct task *task = data;
    task->woken = 1;
}

/* Runs fut to completion on this thread: poll when woken, otherwise sleep in the reactor.
 * Returns how many polls it took, or -1 if the task is pending with nothing left to wake it. */
static int block_on(struct join2_future *fut, struct reactor *r)
{
    struct task task = {.woken = 1}; /* a new task gets its first poll at once */
    struct waker waker = {task_wake_cb, &task};
    struct context cx = {&waker, r};
    int polls = 0;

    for (;;) {
        if (task.woken) {
            task.woken = 0;
            trace(r, "executor: poll #%d", ++polls);
            if (join2_poll(fut, &cx) == READY)
                return polls;
            trace(r, "executor: PENDING, sleeping until a waker fires");
        }
        if (reactor_turn(r) != 0) {
            trace(r, "executor: the task is PENDING and no waker is armed: it would hang");
            return -1;
        }
    }
}

int main(int argc, char **argv)
{
    struct reactor reactor;
    struct join2_future both;           /* the whole task: one value on this stack */
    struct fetch_user_future forgotten; /* created and never polled */

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    reactor_init(&reactor);

    printf("== Futures are lazy ==\n");
    fetch_user_init(&both.a, 1, USER1_CONNECT_MS, USER1_READ_MS);
    fetch_user_init(&both.b, 2, USER2_CONNECT_MS, USER2_READ_MS);
    join2_init(&both);
    fetch_user_init(&forgotten, 3, 10, 10);
    trace(&reactor, "main: created join(fetch_user(1), fetch_user(2)) and fetch_user(3)");
    trace(&reactor, "main: nothing has run: fetch_user(1) is in state %s, timers armed: %d",
          fetch_state_names[both.a.state], reactor_armed_count(&reactor));
    trace(&reactor, "main: doing other work for %d ms before the first poll", OTHER_WORK_MS);
    sleep_ms(OTHER_WORK_MS);

    printf("\n== The executor polls; the reactor wakes ==\n");
    double first_poll_ms = reactor_now(&reactor);
    int polls = block_on(&both, &reactor);
    if (polls < 0)
        return 1;
    double took_ms = reactor_now(&reactor) - first_poll_ms;

    printf("\n== What happened ==\n");
    printf("join READY after %d polls: \"%s\" and \"%s\"\n", polls, both.a.name, both.b.name);
    printf("it took %.0f ms from the first poll, not from creation: the %d ms of other work did "
           "not count\n",
           took_ms, OTHER_WORK_MS);
    printf("the two fetches overlapped: %d+%d ms and %d+%d ms took the time of the slower one\n",
           USER1_CONNECT_MS, USER1_READ_MS, USER2_CONNECT_MS, USER2_READ_MS);
    printf("fetch_user(3) was never polled: state %s, it never ran\n",
           fetch_state_names[forgotten.state]);

    printf("\n== Composition without allocation ==\n");
    printf("sizeof(struct delay_future)      = %3zu bytes\n", sizeof(struct delay_future));
    printf("sizeof(struct read_future)       = %3zu bytes\n", sizeof(struct read_future));
    printf("sizeof(struct fetch_user_future) = %3zu bytes (connect and read share a union)\n",
           sizeof(struct fetch_user_future));
    printf("sizeof(struct join2_future)      = %3zu bytes: the whole task, on main's stack\n",
           sizeof(struct join2_future));
    printf("heap allocations made by the futures and the executor: none (no malloc in this "
           "file)\n");
    return 0;
}
