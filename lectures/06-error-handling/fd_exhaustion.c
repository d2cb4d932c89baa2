/*
 * fd_exhaustion.c - running out of file descriptors (EMFILE) on accept, and a log that stays
 * readable when the same error repeats a hundred thousand times a second.
 *
 * A client connects, then the process lowers its descriptor limit so that accept() has no
 * descriptor to give. Run 1 only logs the error: the listener spins, and a rate-limited log
 * prints a few lines and counts the rest. Run 2 pauses the listener on the error and resumes it
 * from a timer; once a descriptor is free again, the waiting client is accepted.
 *
 *     ./fd-exhaustion          (--demo does the same)
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOG_BURST 3        /* lines allowed per window ... */
#define LOG_WINDOW_MS 1000 /* ... and the window */
#define SPIN_RUN_MS 100    /* run 1 watches the spinning listener this long */
#define ACCEPT_PAUSE_MS 50 /* run 2 pauses accepting this long after an error */
#define FREE_AFTER_MS 120  /* run 2 frees descriptors again after this long */
#define MAX_FILLERS 256

/* A log that prints at most LOG_BURST lines per LOG_WINDOW_MS and counts the rest, so that an
 * error repeating in a tight loop costs a counter increment, not a write, and the lines before
 * and after it stay readable. */
struct ratelog {
    FILE *out;
    struct timespec window_start;
    int lines;                /* printed in this window */
    unsigned long suppressed; /* dropped since the last printed line */
};

__attribute__((format(printf, 2, 3))) static void ratelog(struct ratelog *rl, const char *fmt, ...)
{
    struct timespec now;
    va_list ap;

    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (now.tv_sec - rl->window_start.tv_sec) * 1e3 +
                (now.tv_nsec - rl->window_start.tv_nsec) / 1e6;
    if (ms >= LOG_WINDOW_MS) {
        rl->window_start = now;
        rl->lines = 0;
    }
    if (rl->lines == LOG_BURST) {
        rl->suppressed++;
        return;
    }
    rl->lines++;
    va_start(ap, fmt);
    vfprintf(rl->out, fmt, ap);
    va_end(ap);
    if (rl->suppressed > 0)
        fprintf(rl->out, " (%lu similar lines suppressed)", rl->suppressed);
    fputc('\n', rl->out);
    rl->suppressed = 0;
}

/* Prints what is still counted, e.g. at shutdown. */
static void ratelog_flush(struct ratelog *rl, const char *what)
{
    if (rl->suppressed > 0)
        fprintf(rl->out, "server: %lu more \"%s\" lines suppressed\n", rl->suppressed, what);
    rl->suppressed = 0;
}

struct server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *resume;  /* run 2: turns accepting back on */
    struct event *end_run; /* ends a run */
    struct ratelog log;
    int pause_on_error; /* run 2 */
    unsigned long errors;
    int accepted;
};

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg);
static void accept_error_cb(struct evconnlistener *lev, void *arg);
static void resume_cb(evutil_socket_t fd, short what, void *arg);
static void end_run_cb(evutil_socket_t fd, short what, void *arg);

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct server *s = arg;
    (void)lev;
    (void)sa;
    (void)socklen;
    s->accepted++;
    printf("server: accepted the client that waited in the backlog\n");
    evutil_closesocket(fd);
    event_base_loopbreak(s->base);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct server *s = arg;
    int err = EVUTIL_SOCKET_ERROR(); /* first, before anything can change it */
    struct timeval pause = {0, ACCEPT_PAUSE_MS * 1000};

    s->errors++;
    if (!s->pause_on_error) {
        ratelog(&s->log, "server: accept: %s", evutil_socket_error_to_string(err));
        return; /* the connection is still in the backlog: we are called again at once */
    }
    ratelog(&s->log, "server: accept: %s; pausing accepts for %d ms",
            evutil_socket_error_to_string(err), ACCEPT_PAUSE_MS);
    evconnlistener_disable(lev);
    evtimer_add(s->resume, &pause);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(s->listener);
}

static void end_run_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(s->base);
}

/* Uses up every descriptor: lowers the soft limit to just above the highest one in use and
 * fills the holes below it. Returns how many fillers were opened (close them to undo). */
static int exhaust_fds(int highest, int fillers[], struct rlimit *saved)
{
    struct rlimit low;
    int n = 0;

    getrlimit(RLIMIT_NOFILE, saved);
    low = *saved;
    low.rlim_cur = (rlim_t)highest + 1;
    setrlimit(RLIMIT_NOFILE, &low);
    for (int fd; n < MAX_FILLERS && (fd = dup(0)) >= 0;)
        fillers[n++] = fd;
    return n;
}

static void restore_fds(int fillers[], int n, const struct rlimit *saved)
{
    for (int i = 0; i < n; i++)
        close(fillers[i]);
    setrlimit(RLIMIT_NOFILE, saved);
}

int main(int argc, char **argv)
{
    struct server s = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    struct timeval spin = {0, SPIN_RUN_MS * 1000}, free_after = {0, FREE_AFTER_MS * 1000};
    struct timeval deadline = {2, 0}; /* the waiting client must be accepted by then */
    struct rlimit saved;
    int fillers[MAX_FILLERS], nfill = 0, client = -1, rc = 1;

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    s.log.out = stdout;
    clock_gettime(CLOCK_MONOTONIC, &s.log.window_start);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s.base = event_base_new();
    if (s.base == NULL)
        return 1;
    s.listener =
        evconnlistener_new_bind(s.base, accept_cb, &s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                -1, (struct sockaddr *)&sin, sizeof sin);
    s.resume = evtimer_new(s.base, resume_cb, &s);
    s.end_run = evtimer_new(s.base, end_run_cb, &s);
    if (s.listener == NULL || s.resume == NULL || s.end_run == NULL ||
        getsockname(evconnlistener_get_fd(s.listener), (struct sockaddr *)&sin, &len) != 0)
        goto cleanup;
    evconnlistener_set_error_cb(s.listener, accept_error_cb);

    /* The client's connection completes in the kernel and waits in the listener's backlog. */
    client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr *)&sin, sizeof sin) != 0)
        goto cleanup;
    nfill = exhaust_fds(client, fillers, &saved);
    printf("client: connected; the server's process now has no free descriptor (limit %d)\n",
           client + 1);

    printf("\n== 1. log the error and carry on: the listener spins ==\n");
    evtimer_add(s.end_run, &spin);
    event_base_dispatch(s.base);
    ratelog_flush(&s.log, "accept");
    printf("accept failed %lu times in %d ms (typical: tens of thousands); the log printed at "
           "most %d lines\n",
           s.errors, SPIN_RUN_MS, LOG_BURST);

    printf("\n== 2. pause the listener on the error, resume from a timer ==\n");
    s.errors = 0;
    s.pause_on_error = 1;
    clock_gettime(CLOCK_MONOTONIC, &s.log.window_start); /* a fresh window for a fresh run */
    s.log.lines = 0;
    evtimer_add(s.end_run, &free_after);
    event_base_dispatch(s.base); /* ends at FREE_AFTER_MS */
    printf("accept failed %lu times in %d ms: one try per pause\n", s.errors, FREE_AFTER_MS);
    restore_fds(fillers, nfill, &saved);
    nfill = 0;
    printf("client: (descriptors are free again, as when other clients leave)\n");
    evtimer_add(s.end_run, &deadline);
    event_base_dispatch(s.base); /* the next resume accepts; accept_cb ends the loop */
    rc = s.accepted == 1 ? 0 : 1;
cleanup:
    if (nfill > 0)
        restore_fds(fillers, nfill, &saved);
    if (client >= 0)
        close(client);
    if (s.resume != NULL)
        event_free(s.resume);
    if (s.end_run != NULL)
        event_free(s.end_run);
    if (s.listener != NULL)
        evconnlistener_free(s.listener);
    event_base_free(s.base);
    return rc;
}
