/*
 * signals_shutdown.c - stop an event loop cleanly on SIGINT or SIGTERM.
 *
 * A pretend server takes a new job every 100 ms, and each job takes 300 ms (a timer stands in
 * for the work). The first SIGINT or SIGTERM starts a graceful shutdown: stop taking jobs, let
 * the jobs in flight finish, and set a hard deadline with event_base_loopexit(). A second
 * signal leaves at once with event_base_loopbreak(). Once the loop has returned, everything is
 * freed, the signal events included (never inside their own callback).
 *
 *     ./signals-shutdown            # runs until Ctrl-C or kill -TERM PID (60 s at most)
 *     ./signals-shutdown --demo     # sends itself SIGTERM after 250 ms
 */
#include "demo_util.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACCEPT_EVERY_MS 100 /* a new job arrives this often */
#define JOB_MS 300          /* each job takes this long */
#define MAX_JOBS 8          /* jobs in flight at once; more are turned away */
#define GRACE_MS 1000       /* shutdown waits at most this long for the jobs in flight */
#define DEMO_SIGNAL_MS 250  /* --demo: the program sends itself SIGTERM this long after start */
#define MAX_RUN_S 60        /* the interactive run sends itself SIGTERM after this long */

struct server;

/* One job slot; its timer's callback gets this struct. */
struct job {
    int id;
    int busy;
    struct event *timer; /* owned by the server */
    struct server *srv;  /* not owned */
};

/* Context of the server's own callbacks (accept, signals, the scripted signal). */
struct server {
    struct event_base *base;
    struct event *accept_ev;      /* owned: persistent timer standing in for a listener */
    struct event *sigint_ev;      /* owned: freed only after the loop has returned */
    struct event *sigterm_ev;     /* owned: likewise */
    struct event *self_signal_ev; /* owned: --demo's scripted signal, or the time limit */
    struct job jobs[MAX_JOBS];
    int next_id, in_flight, finished;
    int signals_seen;
    const struct demo_clock *clk;
};

static void accept_cb(evutil_socket_t fd, short what, void *arg);
static void job_done_cb(evutil_socket_t fd, short what, void *arg);
static void signal_cb(evutil_socket_t sig, short what, void *arg);
static void self_signal_cb(evutil_socket_t fd, short what, void *arg);

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    struct timeval work = {JOB_MS / 1000, (JOB_MS % 1000) * 1000};
    (void)fd;
    (void)what;

    for (int i = 0; i < MAX_JOBS; i++) {
        struct job *job = &srv->jobs[i];
        if (!job->busy) {
            job->busy = 1;
            job->id = ++srv->next_id;
            evtimer_add(job->timer, &work);
            srv->in_flight++;
            trace(srv->clk, "accepted job %d (%d in flight)", job->id, srv->in_flight);
            return;
        }
    }
    trace(srv->clk, "busy: job turned away");
}

static void job_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct job *job = arg;
    struct server *srv = job->srv;
    (void)fd;
    (void)what;

    job->busy = 0;
    srv->in_flight--;
    srv->finished++;
    trace(srv->clk, "job %d finished (%d in flight)", job->id, srv->in_flight);
    if (srv->signals_seen > 0 && srv->in_flight == 0) {
        /* Nothing left to wait for: leave now rather than at the deadline. loopexit lets the
         * other callbacks of this turn run first; the signal events are still added, so the
         * loop would not end on its own. */
        trace(srv->clk, "all jobs finished: event_base_loopexit(base, NULL)");
        event_base_loopexit(srv->base, NULL);
    }
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    struct timeval grace = {GRACE_MS / 1000, (GRACE_MS % 1000) * 1000};
    (void)what;

    /* This runs as an ordinary callback on the loop thread, after the real signal handler
     * (libevent's) has returned: anything may be called here, printf and free included. */
    if (++srv->signals_seen > 1) {
        trace(srv->clk, "got %s again: event_base_loopbreak(), leaving now",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
        event_base_loopbreak(srv->base);
        return;
    }
    trace(srv->clk, "got %s: graceful shutdown, %d jobs in flight, deadline %d ms",
          sig == SIGINT ? "SIGINT" : "SIGTERM", srv->in_flight, GRACE_MS);
    event_del(srv->accept_ev);      /* stop taking new work */
    event_del(srv->self_signal_ev); /* not needed any more */
    /* Do not event_free() sigint_ev or sigterm_ev here: this callback belongs to one of them.
     * They stay added so that a second signal can cut the wait short; main frees them. */
    if (srv->in_flight == 0)
        event_base_loopexit(srv->base, NULL);
    else
        event_base_loopexit(srv->base, &grace); /* the hard deadline */
}

static void self_signal_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    trace(srv->clk, "sending SIGTERM to myself, as `kill -TERM %ld` would", (long)getpid());
    kill(getpid(), SIGTERM);
}

int main(int argc, char **argv)
{
    struct demo_clock clk;
    struct server srv = {.clk = &clk};
    struct timeval accept_every = {0, ACCEPT_EVERY_MS * 1000};
    struct timeval self_signal_at = {MAX_RUN_S, 0};
    int demo = 0, rc = 1;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc == 2 && strcmp(argv[1], "--demo") == 0) {
        demo = 1;
        self_signal_at = (struct timeval){0, DEMO_SIGNAL_MS * 1000};
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &clk.start);

    srv.base = event_base_new();
    if (srv.base == NULL)
        goto cleanup;
    for (int i = 0; i < MAX_JOBS; i++) {
        srv.jobs[i].srv = &srv;
        srv.jobs[i].timer = evtimer_new(srv.base, job_done_cb, &srv.jobs[i]);
        if (srv.jobs[i].timer == NULL)
            goto cleanup;
    }
    srv.accept_ev = event_new(srv.base, -1, EV_PERSIST, accept_cb, &srv);
    /* Only one event_base in a process should watch signals: this one. */
    srv.sigint_ev = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
    srv.sigterm_ev = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
    srv.self_signal_ev = evtimer_new(srv.base, self_signal_cb, &srv);
    if (srv.accept_ev == NULL || srv.sigint_ev == NULL || srv.sigterm_ev == NULL ||
        srv.self_signal_ev == NULL || event_add(srv.accept_ev, &accept_every) != 0 ||
        evsignal_add(srv.sigint_ev, NULL) != 0 || evsignal_add(srv.sigterm_ev, NULL) != 0 ||
        evtimer_add(srv.self_signal_ev, &self_signal_at) != 0)
        goto cleanup;

    if (demo)
        trace(&clk, "running; a SIGTERM will arrive in %d ms", DEMO_SIGNAL_MS);
    else
        trace(&clk,
              "running as pid %ld: press Ctrl-C (twice to skip the wait), or run "
              "kill -TERM %ld",
              (long)getpid(), (long)getpid());
    event_base_dispatch(srv.base);
    trace(&clk, "loop returned: %d jobs finished, %d abandoned", srv.finished, srv.in_flight);
    rc = 0;
cleanup:
    /* event_base_free() frees none of these: free every event first. event_free() also
     * deletes a pending one, such as the timer of an abandoned job. */
    for (int i = 0; i < MAX_JOBS; i++) {
        if (srv.jobs[i].timer != NULL)
            event_free(srv.jobs[i].timer);
    }
    if (srv.accept_ev != NULL)
        event_free(srv.accept_ev);
    if (srv.sigint_ev != NULL)
        event_free(srv.sigint_ev); /* restores the default SIGINT action */
    if (srv.sigterm_ev != NULL)
        event_free(srv.sigterm_ev);
    if (srv.self_signal_ev != NULL)
        event_free(srv.self_signal_ev);
    if (srv.base != NULL)
        event_base_free(srv.base);
    if (rc == 0)
        printf("freed everything; exiting with status 0\n");
    return rc;
}
