/*
 * alloc_failures.c - out of memory on every path: a counting allocator, installed into libevent
 * with event_set_mem_functions() and into jansson with json_set_alloc_funcs(), fails the Nth
 * allocation of a small workload, for N = 1, 2, ... up to the last one.
 *
 * Every run must fail cleanly (an error message, no crash) or succeed, and leave no allocation
 * behind: the allocator counts what is live after each run, and AddressSanitizer checks the
 * whole process at exit. Then libevent's own reporting: event_set_log_callback() receives its
 * warnings, and event_set_fatal_callback() its fatal errors (in a child, which then dies).
 *
 *     ./alloc-failures          (--demo does the same)
 */
#include "err.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LOOP_TURNS 10 /* the workload's message arrives within this many turns, or is lost */
#define SHOW_RUNS 12      /* print this many distinct outcomes in full */

/* ---- the counting allocator ---- */

/* event_set_mem_functions() takes plain function pointers with no argument for a context, so
 * the counters must be global: the one global of this file. */
static struct {
    unsigned long calls;   /* allocations attempted */
    unsigned long fail_at; /* the attempt that gets NULL; 0 = none */
    long live;             /* allocated and not yet freed */
} alloc_stats;

static void *count_malloc(size_t n)
{
    if (++alloc_stats.calls == alloc_stats.fail_at) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(n);
    if (p != NULL)
        alloc_stats.live++;
    return p;
}

static void *count_realloc(void *p, size_t n)
{
    if (++alloc_stats.calls == alloc_stats.fail_at) {
        errno = ENOMEM;
        return NULL; /* p is untouched and still the caller's */
    }
    void *q = realloc(p, n);
    if (q != NULL && p == NULL)
        alloc_stats.live++;
    return q;
}

static void count_free(void *p)
{
    if (p != NULL)
        alloc_stats.live--;
    free(p);
}

/* ---- the workload: a little of everything a server does ---- */

struct session {
    char received[64];
    size_t nreceived;
};

static void session_read_cb(struct bufferevent *bev, void *arg);
static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg);

static void session_read_cb(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;
    s->nreceived +=
        bufferevent_read(bev, s->received + s->nreceived, sizeof s->received - 1 - s->nreceived);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)lev;
    (void)sa;
    (void)socklen;
    (void)arg;
    evutil_closesocket(fd); /* nobody connects in this demo */
}

/* Creates a session, a base, a listener and two connected bufferevents, sends a JSON message
 * from one to the other and checks it arrived. Returns 0, or -1 with *e set. Frees everything it
 * made, on every path. */
static int workload(struct err *e)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct session *s = NULL;
    struct event_base *base = NULL;
    struct evconnlistener *lev = NULL;
    struct bufferevent *ends[2] = {NULL, NULL};
    evutil_socket_t fds[2] = {-1, -1};
    json_t *msg = NULL;
    char *text = NULL;
    int rc = -1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s = count_malloc(sizeof *s);
    if (s == NULL) {
        err_errno(e, ENOMEM, "allocating the session");
        goto cleanup;
    }
    s->nreceived = 0;
    base = event_base_new();
    if (base == NULL) {
        err_set(e, "event_base_new failed");
        goto cleanup;
    }
    lev = evconnlistener_new_bind(base, accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE, -1,
                                  (struct sockaddr *)&sin, sizeof sin);
    if (lev == NULL) {
        err_errno(e, errno, "evconnlistener_new_bind");
        goto cleanup;
    }
    /* Two connected sockets, one bufferevent on each: a connection without a network. */
    if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        err_errno(e, errno, "socketpair");
        goto cleanup;
    }
    for (int i = 0; i < 2; i++) {
        evutil_make_socket_nonblocking(fds[i]);
        ends[i] = bufferevent_socket_new(base, fds[i], BEV_OPT_CLOSE_ON_FREE);
        if (ends[i] == NULL) {
            err_set(e, "bufferevent_socket_new failed");
            goto cleanup;
        }
        fds[i] = -1; /* the bufferevent owns the socket now */
    }
    msg = json_pack("{s:s, s:i}", "hello", "world", "n", 42);
    text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
    if (text == NULL) {
        err_set(e, "building the JSON message failed");
        goto cleanup;
    }
    bufferevent_setcb(ends[1], session_read_cb, NULL, NULL, s);
    if (bufferevent_enable(ends[1], EV_READ) != 0 ||
        bufferevent_write(ends[0], text, strlen(text)) != 0) {
        err_set(e, "queueing the message failed");
        goto cleanup;
    }
    for (int i = 0; i < MAX_LOOP_TURNS && s->nreceived < strlen(text); i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    if (s->nreceived != strlen(text)) {
        err_set(e, "only %zu of %zu bytes arrived", s->nreceived, strlen(text));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (rc != 0)
        err_context(e, "workload");
    count_free(text); /* json_dumps() allocated it with json_set_alloc_funcs()'s malloc */
    json_decref(msg);
    for (int i = 0; i < 2; i++) {
        if (ends[i] != NULL)
            bufferevent_free(ends[i]);
        else if (fds[i] >= 0)
            evutil_closesocket(fds[i]); /* no bufferevent took it */
    }
    if (lev != NULL)
        evconnlistener_free(lev);
    if (base != NULL)
        event_base_free(base); /* runs the bufferevents' pending finalizers first */
    count_free(s);
    return rc;
}

/* ---- the sweep: fail allocation 1, then 2, ... until a run makes no allocation that fails ---- */

/* Runs the workload with allocation fail_at failing. Returns the number of allocations the
 * run attempted; *leaked gets what was still live after it, msg what it said. */
static unsigned long run_once(unsigned long fail_at, int *ok, long *leaked, char *msg, size_t msgsz)
{
    struct err e = {0, ""};
    alloc_stats.calls = 0;
    alloc_stats.fail_at = fail_at;
    alloc_stats.live = 0;
    *ok = workload(&e) == 0;
    *leaked = alloc_stats.live;
    snprintf(msg, msgsz, "%s", *ok ? "succeeded anyway" : e.msg);
    return alloc_stats.calls;
}

static int sweep(void)
{
    char msg[ERR_MSG_MAX], last[ERR_MSG_MAX] = "";
    int ok, shown = 0, nfail = 0, nok = 0;
    long leaked;
    unsigned long total = run_once(0, &ok, &leaked, msg, sizeof msg);

    printf("== 1. fail the Nth allocation, for every N ==\n");
    printf("with no failure the workload makes %lu allocations and %s; live after it: %ld\n", total,
           ok ? "succeeds" : "FAILS", leaked);
    if (!ok || leaked != 0)
        return -1;
    for (unsigned long n = 1; n <= total; n++) {
        unsigned long calls = run_once(n, &ok, &leaked, msg, sizeof msg);
        if (leaked != 0) {
            printf("N = %lu: %ld allocation(s) LEAKED: %s\n", n, leaked, msg);
            return -1;
        }
        ok ? nok++ : nfail++;
        /* One line per new outcome, so the output shows where each failure surfaces. */
        if (strcmp(msg, last) != 0 && shown++ < SHOW_RUNS)
            printf("  N = %3lu of %lu (%lu attempted): %s\n", n, total, calls, msg);
        snprintf(last, sizeof last, "%s", msg);
    }
    printf("%lu runs: %d failed cleanly, %d succeeded anyway, 0 leaked an allocation\n", total,
           nfail, nok);
    return 0;
}

/* ---- libevent's own reporting: the log and fatal callbacks ---- */

static void log_cb(int severity, const char *msg);
static void fatal_cb(int err);
static void noop_cb(evutil_socket_t fd, short what, void *arg);

/* libevent's warnings and errors come here instead of stderr: send them to your own log. */
static void log_cb(int severity, const char *msg)
{
    const char *level = severity == EVENT_LOG_ERR    ? "error"
                        : severity == EVENT_LOG_WARN ? "warn"
                        : severity == EVENT_LOG_MSG  ? "msg"
                                                     : "debug";
    printf("libevent [%s]: %s\n", level, msg);
}

/* libevent calls this when it cannot go on (a broken invariant, a misused event). It must not
 * return: if it does, libevent calls exit(). Log what you have, then abort() for a core dump. */
static void fatal_cb(int err)
{
    printf("fatal_cb: libevent gave up (code %#x); aborting\n", (unsigned)err);
    fflush(stdout);
    abort();
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* `alloc-failures --misuse`, run as a child: enables debug mode, then re-initialises an event
 * that is still pending, a real bug that corrupts the base's lists when debug mode is off. */
static int misuse(void)
{
    struct timeval later = {60, 0};

    event_enable_debug_mode(); /* must come before any event exists in this process */
    event_set_fatal_callback(fatal_cb);
    struct event_base *base = event_base_new();
    struct event *ev = base != NULL ? event_new(base, -1, 0, noop_cb, NULL) : NULL;
    if (ev != NULL && event_add(ev, &later) == 0)
        event_assign(ev, base, -1, 0, noop_cb, NULL); /* debug mode takes the fatal path */
    return 0;                                         /* not reached when the misuse was caught */
}

static int show_callbacks(const char *self)
{
    int fds[2], status;
    struct event_base *base = event_base_new();
    struct event *ev = NULL;
    int rc = -1;

    printf("\n== 2. event_set_log_callback(): libevent's warnings go to our log ==\n");
    if (base == NULL || pipe(fds) != 0)
        goto cleanup;
    ev = event_new(base, fds[0], EV_READ, NULL, NULL);
    close(fds[0]); /* a bug: the event's descriptor is closed before the event is added */
    close(fds[1]);
    if (ev == NULL)
        goto cleanup;
    printf("event_add() on a closed descriptor returned %d\n", event_add(ev, NULL));

    printf("\n== 3. event_set_fatal_callback(): a misused event, in a child process ==\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* A fresh process: debug mode cannot be turned on where events already exist. */
        execl(self, self, "--misuse", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        goto cleanup;
    if (WIFSIGNALED(status))
        printf("the child was killed by signal %d (%s): it could not go on, and said why first\n",
               WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        printf("the child exited with status %d\n", WEXITSTATUS(status));
    rc = 0;
cleanup:
    if (ev != NULL)
        event_free(ev);
    if (base != NULL)
        event_base_free(base);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 2 ||
        (argc == 2 && strcmp(argv[1], "--demo") != 0 && strcmp(argv[1], "--misuse") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "--misuse") == 0) {
        event_set_log_callback(log_cb);
        return misuse();
    }
    /* Both before the first allocation of either library: memory must be freed by the
     * allocator that made it. */
    event_set_mem_functions(count_malloc, count_realloc, count_free);
    json_set_alloc_funcs(count_malloc, count_free);
    event_set_log_callback(log_cb);

    if (sweep() != 0 || show_callbacks(argv[0]) != 0)
        return 1;
    libevent_global_shutdown();
    return 0;
}
