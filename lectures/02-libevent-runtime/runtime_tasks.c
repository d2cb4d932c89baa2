/*
 * runtime_tasks.c - the event_base as a runtime: backends, spawning tasks, joining and
 * cancelling them.
 *
 * Part 1 asks libevent which backends this system offers and what the chosen one can do, then
 * builds a second base that avoids epoll. Part 2 "spawns" two callbacks, one fire-and-forget
 * with event_base_once() and one with event_new(), whose handle we keep. Part 3 spawns three
 * tasks that each run several steps on a timer, cancels one, lets one fail, and joins all
 * three: the C shape of tokio::spawn, JoinHandle::abort() and join!.
 *
 *     ./runtime-tasks          (--demo does the same)
 *     EVENT_NOEPOLL=1 ./runtime-tasks     # libevent skips epoll: see which backend it picks
 */
#include "demo_util.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define STEP_MS 20         /* each task step waits this long */
#define CANCEL_AFTER_MS 50 /* when part 3 aborts task B: between its 2nd and 3rd step */
#define TASK_COUNT 3

/* ---- Part 1: the runtime ---- */

/* Prints what a backend can do: the features decide which tricks are cheap on this system. */
static void print_features(struct event_base *base)
{
    int f = event_base_get_features(base);
    printf("  backend \"%s\" features:%s%s%s%s\n", event_base_get_method(base),
           f & EV_FEATURE_ET ? " edge-triggered" : "",
           f & EV_FEATURE_O1 ? " O(1)-add/delete/dispatch" : "",
           f & EV_FEATURE_FDS ? " any-fd-type" : "",
           f & EV_FEATURE_EARLY_CLOSE ? " early-close-detection" : "");
}

/* Returns 0, or -1 if a base could not be made. */
static int show_runtime(struct event_base *base)
{
    /* Owned by libevent, which keeps it until exit (valgrind lists it as "still reachable"). */
    const char **methods = event_get_supported_methods();
    struct event_config *cfg = NULL;
    struct event_base *other = NULL;
    int rc = -1;

    printf("== 1. The event_base is the runtime ==\n");
    printf("libevent %s; backends compiled in:", event_get_version());
    for (int i = 0; methods[i] != NULL; i++)
        printf(" %s", methods[i]);
    printf("\nevent_base_new() picked the first that works here:\n");
    print_features(base);

    /* A base with a different backend: what you would do to test portability. */
    cfg = event_config_new();
    if (cfg == NULL || event_config_avoid_method(cfg, "epoll") != 0)
        goto cleanup;
    other = event_base_new_with_config(cfg);
    if (other == NULL)
        goto cleanup;
    printf("event_base_new_with_config() avoiding epoll got:\n");
    print_features(other);
    rc = 0;
cleanup:
    if (other != NULL)
        event_base_free(other);
    if (cfg != NULL)
        event_config_free(cfg);
    return rc;
}

/* ---- Part 2: spawning ---- */

/* Context of the two spawned callbacks of part 2. */
struct spawn_demo {
    const struct demo_clock *clk;
    struct event *handle; /* owned: the event_new() one; NULL for the once callback */
};

static void fire_and_forget_cb(evutil_socket_t fd, short what, void *arg)
{
    struct spawn_demo *d = arg;
    (void)fd;
    (void)what;
    trace(d->clk, "  fire_and_forget_cb runs: libevent frees its event after this returns");
}

static void with_handle_cb(evutil_socket_t fd, short what, void *arg)
{
    struct spawn_demo *d = arg;
    (void)fd;
    (void)what;
    /* A non-persistent event is no longer pending once its callback runs; the struct stays
     * ours until event_free(), so we could add it again. */
    trace(d->clk, "  with_handle_cb runs: event_pending() = %d, the event is still ours to free",
          event_pending(d->handle, EV_TIMEOUT, NULL));
}

static int show_spawning(struct event_base *base, const struct demo_clock *clk)
{
    struct spawn_demo once_ctx = {clk, NULL};
    struct spawn_demo handle_ctx = {clk, NULL};

    printf("\n== 2. Spawning a task: scheduling a callback ==\n");
    /* A NULL timeout makes an EV_TIMEOUT once-event run in the next turn of the loop. */
    if (event_base_once(base, -1, EV_TIMEOUT, fire_and_forget_cb, &once_ctx, NULL) != 0)
        return -1;
    trace(clk, "spawned with event_base_once(): no handle, cannot be cancelled");

    handle_ctx.handle = event_new(base, -1, 0, with_handle_cb, &handle_ctx);
    if (handle_ctx.handle == NULL)
        return -1;
    event_active(handle_ctx.handle, EV_TIMEOUT, 0); /* run it in the next turn */
    trace(clk, "spawned with event_new() + event_active(): we hold the handle");
    trace(clk, "nothing has run yet: callbacks run only inside event_base_dispatch()");

    event_base_dispatch(base);
    trace(clk, "event_base_dispatch() returned: no events left");
    event_free(handle_ctx.handle); /* the handle is ours: free it */
    return 0;
}

/* ---- Part 3: tasks with handles, cancellation, join ---- */

enum task_status { TASK_RUNNING, TASK_FINISHED, TASK_FAILED, TASK_CANCELLED };

static const char *const status_names[] = {"running", "finished", "failed", "cancelled"};

/* What join! waits for: the number of tasks that have not reached a final status. */
struct join_set {
    int remaining;
    const struct demo_clock *clk;
};

/* A task: several steps of work, one per timer tick. The struct is its JoinHandle: status and
 * result are what JoinHandle::await would give back. */
struct task {
    const char *name;
    int steps, step_ms;
    int fail_at_step; /* 0 = never fails */
    int steps_done;
    enum task_status status;
    struct event *timer;   /* owned */
    struct join_set *join; /* not owned */
};

static void task_step_cb(evutil_socket_t fd, short what, void *arg);

static void task_finish(struct task *t, enum task_status status)
{
    t->status = status;
    trace(t->join->clk, "  task %s: %s after %d of %d steps", t->name, status_names[status],
          t->steps_done, t->steps);
    if (--t->join->remaining == 0)
        trace(t->join->clk, "  join: every task has reached a final status");
}

/* "tokio::spawn": create the task's event and add it. Returns 0, or -1. */
static int task_spawn(struct task *t, struct event_base *base, struct join_set *join)
{
    struct timeval step = {0, t->step_ms * 1000};
    t->join = join;
    t->status = TASK_RUNNING;
    t->timer = evtimer_new(base, task_step_cb, t);
    if (t->timer == NULL || evtimer_add(t->timer, &step) != 0)
        return -1;
    join->remaining++;
    return 0;
}

static void task_step_cb(evutil_socket_t fd, short what, void *arg)
{
    struct task *t = arg;
    struct timeval step = {0, t->step_ms * 1000};
    (void)fd;
    (void)what;

    t->steps_done++;
    if (t->steps_done == t->fail_at_step) {
        /* A C task cannot panic quietly: it reports failure through its handle. */
        task_finish(t, TASK_FAILED);
    } else if (t->steps_done == t->steps) {
        task_finish(t, TASK_FINISHED);
    } else {
        evtimer_add(t->timer, &step);
    }
}

/* "JoinHandle::abort()": the task's callback will not run again, even if its timer has
 * already expired and is waiting in this turn's active queue. */
static void task_cancel(struct task *t)
{
    if (t->status != TASK_RUNNING)
        return;
    event_del(t->timer);
    task_finish(t, TASK_CANCELLED);
}

static void cancel_cb(evutil_socket_t fd, short what, void *arg)
{
    struct task *victim = arg;
    (void)fd;
    (void)what;
    trace(victim->join->clk, "  cancel_cb: aborting task %s", victim->name);
    task_cancel(victim);
    trace(victim->join->clk, "  event_pending(%s) = %d: its callback will not run again",
          victim->name, event_pending(victim->timer, EV_TIMEOUT, NULL));
}

static int show_tasks(struct event_base *base, const struct demo_clock *clk)
{
    struct join_set join = {0, clk};
    struct task tasks[TASK_COUNT] = {
        {.name = "A", .steps = 3, .step_ms = STEP_MS},
        {.name = "B", .steps = 5, .step_ms = STEP_MS},
        {.name = "C", .steps = 4, .step_ms = STEP_MS, .fail_at_step = 2},
    };
    struct timeval cancel_at = {0, CANCEL_AFTER_MS * 1000};
    int rc = -1;

    printf("\n== 3. Tasks: spawn, cancel, join ==\n");
    for (int i = 0; i < TASK_COUNT; i++) {
        if (task_spawn(&tasks[i], base, &join) != 0)
            goto cleanup;
        trace(clk, "spawned task %s: %d steps of %d ms", tasks[i].name, tasks[i].steps,
              tasks[i].step_ms);
    }
    /* The canceller never needs cancelling itself, so fire-and-forget is the right tool. */
    if (event_base_once(base, -1, EV_TIMEOUT, cancel_cb, &tasks[1], &cancel_at) != 0)
        goto cleanup;
    event_base_dispatch(base); /* the join: returns when no task has anything pending */

    printf("join results:\n");
    for (int i = 0; i < TASK_COUNT; i++)
        printf("  %s: %s (%d of %d steps)\n", tasks[i].name, status_names[tasks[i].status],
               tasks[i].steps_done, tasks[i].steps);
    rc = 0;
cleanup:
    /* The handles are ours: dropping them frees the events (pending or not). */
    for (int i = 0; i < TASK_COUNT; i++) {
        if (tasks[i].timer != NULL)
            event_free(tasks[i].timer);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct demo_clock clk;
    struct event_base *base = NULL;
    int rc = 1;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &clk.start);
    /* Debug mode makes libevent abort with a message on misuse (adding a freed event,
     * initialising one twice). It must come before any event or base exists. */
    event_enable_debug_mode();

    base = event_base_new();
    if (base == NULL || show_runtime(base) != 0 || show_spawning(base, &clk) != 0 ||
        show_tasks(base, &clk) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (base != NULL)
        event_base_free(base);
    libevent_global_shutdown(); /* frees the debug map, so leak checkers see nothing */
    return rc;
}
