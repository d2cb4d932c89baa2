/*
 * supervisor.c - when a C "task" panics, the whole process dies: so put the work in a child
 * process and restart it when it crashes, with back-off, and give up on a crash loop.
 *
 * The supervisor runs this same program as a worker (`--worker N --crash-at K`: handle a job
 * every 20 ms and abort() on job K) and watches it with a SIGCHLD event. Run 1: the first two
 * workers crash, the third is healthy and is stopped with SIGTERM. Run 2: every worker crashes,
 * and the supervisor gives up after RESTART_LIMIT restarts, as systemd does.
 *
 *     ./supervisor          (--demo does the same)
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JOB_EVERY_MS 20     /* a worker handles one job this often */
#define BACKOFF_BASE_MS 50  /* the first restart waits this long; each crash in a row doubles it */
#define BACKOFF_CAP_MS 2000 /* and never more than this */
#define RESTART_LIMIT 3     /* restarts allowed within RESTART_WINDOW_MS ... */
#define RESTART_WINDOW_MS                                                                          \
    5000                   /* ... like systemd's StartLimitBurst= and StartLimitIntervalSec=       \
                            */
#define HEALTHY_RUN_MS 200 /* run 1 stops the healthy worker after this long */

/* ---- the worker: an ordinary event loop with a bug ---- */

struct worker {
    struct event_base *base;
    int id, crash_at, jobs;
};

static void job_cb(evutil_socket_t fd, short what, void *arg);
static void worker_stop_cb(evutil_socket_t sig, short what, void *arg);

static void job_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    if (++w->jobs == w->crash_at) {
        printf("worker %d (pid %ld): job %d hits a bug: abort()\n", w->id, (long)getpid(), w->jobs);
        abort(); /* what a failed assert() does; a NULL dereference ends the same way */
    }
}

static void worker_stop_cb(evutil_socket_t sig, short what, void *arg)
{
    struct worker *w = arg;
    (void)sig;
    (void)what;
    printf("worker %d (pid %ld): SIGTERM after %d jobs: finishing cleanly\n", w->id, (long)getpid(),
           w->jobs);
    event_base_loopexit(w->base, NULL);
}

static int worker_main(int id, int crash_at)
{
    struct worker w = {NULL, id, crash_at, 0};
    struct timeval every = {0, JOB_EVERY_MS * 1000};
    struct event *tick = NULL, *term = NULL;
    int rc = 1;

    /* The demo's crashes are on purpose: keep them from leaving core files behind. */
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    w.base = event_base_new();
    if (w.base == NULL)
        return 1;
    tick = event_new(w.base, -1, EV_PERSIST, job_cb, &w);
    term = evsignal_new(w.base, SIGTERM, worker_stop_cb, &w);
    if (tick == NULL || term == NULL || event_add(tick, &every) != 0 || evsignal_add(term, NULL))
        goto cleanup;
    printf("worker %d (pid %ld): started\n", id, (long)getpid());
    event_base_dispatch(w.base);
    rc = 0;
cleanup:
    if (tick != NULL)
        event_free(tick);
    if (term != NULL)
        event_free(term);
    event_base_free(w.base);
    return rc;
}

/* ---- the supervisor ---- */

struct supervisor {
    struct event_base *base;
    struct event *restart_timer; /* waits out the back-off */
    struct event *stop_timer;    /* run 1: stops the healthy worker */
    const char *self;            /* this program's path, to run it as a worker */
    int healthy_from;            /* workers from this number on do not crash (0 = never) */
    pid_t pid;                   /* the running worker, or 0 */
    int started;                 /* workers started in this run */
    int crashes_in_a_row;
    double restarts_at[RESTART_LIMIT + 1]; /* when the recent restarts happened, in ms */
    int nrestarts;
    int stopping;
    struct timespec t0;
};

static void child_cb(evutil_socket_t sig, short what, void *arg);
static void restart_cb(evutil_socket_t fd, short what, void *arg);
static void stop_cb(evutil_socket_t fd, short what, void *arg);

static double now_ms(const struct supervisor *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts.tv_sec - s->t0.tv_sec) * 1e3 + (ts.tv_nsec - s->t0.tv_nsec) / 1e6;
}

/* Starts worker number s->started + 1. Returns 0, or -1. */
static int start_worker(struct supervisor *s)
{
    char id[16], crash_at[16];
    int n = ++s->started;
    int healthy = s->healthy_from > 0 && n >= s->healthy_from;
    struct timeval healthy_for = {0, HEALTHY_RUN_MS * 1000};

    snprintf(id, sizeof id, "%d", n);
    /* A worker crashes on its third job, unless it is one of the healthy ones. */
    snprintf(crash_at, sizeof crash_at, "%d", healthy ? 0 : 3);
    fflush(stdout); /* or the child inherits our unwritten output and prints it twice */
    pid_t pid = fork();
    if (pid < 0) {
        printf("supervisor: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        char *args[] = {(char *)s->self, "--worker", id, "--crash-at", crash_at, NULL};
        execv(s->self, args);
        _exit(127); /* exec failed: leave without running the parent's atexit handlers */
    }
    s->pid = pid;
    if (healthy)
        evtimer_add(s->stop_timer, &healthy_for);
    return 0;
}

/* Decides what to do after a crash: restart after a back-off, or give up on a crash loop. */
static void after_crash(struct supervisor *s)
{
    double t = now_ms(s);
    int kept = 0;

    /* Forget restarts older than the window; if too many remain, this is a crash loop. */
    for (int i = 0; i < s->nrestarts; i++)
        if (t - s->restarts_at[i] < RESTART_WINDOW_MS)
            s->restarts_at[kept++] = s->restarts_at[i];
    s->nrestarts = kept;
    if (s->nrestarts == RESTART_LIMIT) {
        printf("supervisor: %d restarts within %d ms: a crash loop, giving up\n", RESTART_LIMIT,
               RESTART_WINDOW_MS);
        event_base_loopexit(s->base, NULL);
        return;
    }
    int ms = BACKOFF_BASE_MS << (s->crashes_in_a_row - 1);
    if (ms > BACKOFF_CAP_MS || ms <= 0)
        ms = BACKOFF_CAP_MS;
    struct timeval wait = {ms / 1000, (ms % 1000) * 1000};
    s->restarts_at[s->nrestarts++] = t;
    printf("supervisor: restarting in %d ms (crash %d in a row)\n", ms, s->crashes_in_a_row);
    evtimer_add(s->restart_timer, &wait);
}

/* SIGCHLD, delivered as an ordinary callback. Signals coalesce, so reap every child that has
 * exited, not just one. */
static void child_cb(evutil_socket_t sig, short what, void *arg)
{
    struct supervisor *s = arg;
    int status;
    pid_t pid;
    (void)sig;
    (void)what;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != s->pid)
            continue;
        s->pid = 0;
        if (WIFSIGNALED(status))
            printf("supervisor: worker %d (pid %ld) was killed by signal %d (%s)\n", s->started,
                   (long)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            printf("supervisor: worker %d (pid %ld) exited with status %d\n", s->started, (long)pid,
                   WEXITSTATUS(status));
        int failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
        if (s->stopping || !failed) {
            /* Restart=on-failure: a clean exit is not restarted. */
            event_base_loopexit(s->base, NULL);
        } else {
            s->crashes_in_a_row++;
            after_crash(s);
        }
    }
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
    struct supervisor *s = arg;
    (void)fd;
    (void)what;
    if (start_worker(s) != 0)
        event_base_loopexit(s->base, NULL);
}

/* Run 1's end: a worker that has stayed up is healthy again; stop it as `systemctl stop` would. */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct supervisor *s = arg;
    (void)fd;
    (void)what;
    if (s->pid == 0)
        return; /* it has exited meanwhile: child_cb has dealt with it */
    printf("supervisor: worker %d has been up %d ms; sending SIGTERM\n", s->started,
           HEALTHY_RUN_MS);
    s->crashes_in_a_row = 0; /* it ran long enough: the next crash starts the back-off anew */
    s->stopping = 1;
    kill(s->pid, SIGTERM);
}

/* One supervised run. healthy_from: the first worker that does not crash (0: none). */
static int supervise(struct supervisor *s, int healthy_from)
{
    s->healthy_from = healthy_from;
    s->started = s->crashes_in_a_row = s->nrestarts = s->stopping = 0;
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    if (start_worker(s) != 0)
        return -1;
    event_base_dispatch(s->base);
    printf("supervisor: run over, %d workers started\n", s->started);
    return 0;
}

int main(int argc, char **argv)
{
    struct supervisor s = {0};
    struct event *sigchld = NULL;
    int rc = 1;

    if (argc == 5 && strcmp(argv[1], "--worker") == 0 && strcmp(argv[3], "--crash-at") == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        return worker_main(atoi(argv[2]), atoi(argv[4]));
    }
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    s.self = argv[0];
    s.base = event_base_new();
    if (s.base == NULL)
        return 1;
    sigchld = evsignal_new(s.base, SIGCHLD, child_cb, &s);
    s.restart_timer = evtimer_new(s.base, restart_cb, &s);
    s.stop_timer = evtimer_new(s.base, stop_cb, &s);
    if (sigchld == NULL || s.restart_timer == NULL || s.stop_timer == NULL ||
        evsignal_add(sigchld, NULL) != 0)
        goto cleanup;

    printf("== 1. a worker with a bug that goes away: restart with back-off ==\n");
    if (supervise(&s, 3) != 0)
        goto cleanup;

    printf("\n== 2. a worker that always crashes: a crash loop ==\n");
    if (supervise(&s, 0) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (s.pid > 0) { /* never leave a worker behind */
        kill(s.pid, SIGKILL);
        waitpid(s.pid, NULL, 0);
    }
    if (sigchld != NULL)
        event_free(sigchld);
    if (s.restart_timer != NULL)
        event_free(s.restart_timer);
    if (s.stop_timer != NULL)
        event_free(s.stop_timer);
    event_base_free(s.base);
    return rc;
}
