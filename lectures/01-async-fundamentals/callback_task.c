/*
 * callback_task.c - the task of poll_futures.c written the libevent way: with callbacks.
 *
 * Each fetch is a struct that holds its state and one timer event. The timer's callback does
 * the work of one state and arms the timer again for the next, so the state machine the
 * compiler would generate from an `async fn` is written out by hand. A join struct counts the
 * fetches still running. One difference to watch for in the output: a libevent timer starts
 * counting when it is added, not when the loop first runs, so this task is eager where the
 * future was lazy.
 *
 *     ./callback-task          (--demo does the same)
 */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define OTHER_WORK_MS 50    /* main's own work between starting the fetches and the loop */
#define USER1_CONNECT_MS 30 /* the same simulated network as poll_futures.c */
#define USER1_READ_MS 20
#define USER2_CONNECT_MS 10
#define USER2_READ_MS 40
#define FETCH_NAME_BYTES 16

/* The join: how many fetches are still running, and the clock for the printout. */
struct fetch_join {
    int remaining;
    struct timespec start;
};

enum fetch_state { FETCH_CONNECTING, FETCH_READING, FETCH_DONE };

/* One fetch. Its timer's callback receives a pointer to this struct, so the struct must stay
 * where it is until the timer is freed: the same "must not move" rule as a polled future. */
struct fetch_user_task {
    int id;
    int connect_ms, read_ms;
    enum fetch_state state;
    struct event *timer;         /* owned: the one event this task waits on */
    char name[FETCH_NAME_BYTES]; /* the result, once DONE */
    struct fetch_join *join;     /* not owned: told when this fetch finishes */
};

static void fetch_step_cb(evutil_socket_t fd, short what, void *arg);

static double join_elapsed_ms(const struct fetch_join *join)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts.tv_sec - join->start.tv_sec) * 1e3 + (ts.tv_nsec - join->start.tv_nsec) / 1e6;
}

static void trace(const struct fetch_join *join, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trace(const struct fetch_join *join, const char *fmt, ...)
{
    va_list ap;
    printf("[%4.0f ms] ", join_elapsed_ms(join));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static struct timeval ms_to_timeval(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* Starts a fetch: creates its timer and adds it, so the connect delay starts counting now.
 * Returns 0, or -1 if libevent could not allocate the event. */
static int fetch_user_start(struct fetch_user_task *t, struct event_base *base,
                            struct fetch_join *join, int id, int connect_ms, int read_ms)
{
    *t = (struct fetch_user_task){.id = id,
                                  .connect_ms = connect_ms,
                                  .read_ms = read_ms,
                                  .state = FETCH_CONNECTING,
                                  .join = join};
    struct timeval tv = ms_to_timeval(connect_ms);
    t->timer = evtimer_new(base, fetch_step_cb, t);
    if (t->timer == NULL || evtimer_add(t->timer, &tv) != 0)
        return -1;
    join->remaining++;
    trace(join, "fetch_user(%d): connect timer of %d ms added -> CONNECTING", id, connect_ms);
    return 0;
}

/* One callback per step: the body of each state of the async fn. */
static void fetch_step_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fetch_user_task *t = arg;
    struct timeval tv;
    (void)fd;
    (void)what;

    switch (t->state) {
    case FETCH_CONNECTING:
        trace(t->join, "fetch_user(%d): connected -> READING, read timer of %d ms added", t->id,
              t->read_ms);
        t->state = FETCH_READING;
        tv = ms_to_timeval(t->read_ms);
        evtimer_add(t->timer, &tv);
        break;
    case FETCH_READING:
        snprintf(t->name, sizeof t->name, "user-%d", t->id);
        t->state = FETCH_DONE;
        trace(t->join, "fetch_user(%d): READING -> DONE, result \"%s\"", t->id, t->name);
        /* No event is pending for this task any more; when the other one finishes too, the
         * loop has nothing left to wait for and event_base_dispatch() returns. */
        if (--t->join->remaining == 0)
            trace(t->join, "join: both fetches are DONE");
        break;
    case FETCH_DONE:
        break;
    }
}

int main(int argc, char **argv)
{
    struct event_base *base = NULL;
    struct fetch_join join = {0};
    struct fetch_user_task a = {0}, b = {0};
    struct timespec other_work = {0, OTHER_WORK_MS * 1000L * 1000L};
    int rc = 1;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &join.start);
    base = event_base_new();
    if (base == NULL)
        goto cleanup;

    printf("== Callbacks start when they are added ==\n");
    if (fetch_user_start(&a, base, &join, 1, USER1_CONNECT_MS, USER1_READ_MS) != 0 ||
        fetch_user_start(&b, base, &join, 2, USER2_CONNECT_MS, USER2_READ_MS) != 0)
        goto cleanup;
    trace(&join, "main: doing other work for %d ms before running the loop", OTHER_WORK_MS);
    nanosleep(&other_work, NULL);

    printf("\n== The loop runs the callbacks ==\n");
    trace(&join, "main: event_base_dispatch()");
    double loop_start_ms = join_elapsed_ms(&join);
    event_base_dispatch(base); /* returns when no events are pending */
    trace(&join, "main: event_base_dispatch() returned: no events left");

    printf("\n== What happened ==\n");
    printf("both results: \"%s\" and \"%s\"\n", a.name, b.name);
    printf("the connect timers expired while main was busy, so both connect callbacks ran in "
           "the loop's first turn\n");
    printf("the loop ran for %.0f ms; from the first event_add to the end took %.0f ms\n",
           join_elapsed_ms(&join) - loop_start_ms, join_elapsed_ms(&join));
    printf("nothing ran before the loop did: no callback runs outside event_base_dispatch()\n");
    printf("heap allocations: one event per task from evtimer_new(); the task structs are on "
           "main's stack here\n");
    rc = 0;
cleanup:
    /* event_base_free() frees none of the events on the base: free them first. */
    if (a.timer != NULL)
        event_free(a.timer);
    if (b.timer != NULL)
        event_free(b.timer);
    if (base != NULL)
        event_base_free(base);
    return rc;
}
