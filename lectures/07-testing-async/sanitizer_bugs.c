/*
 * sanitizer_bugs.c - five small bugs, and which tool sees which.
 *
 * `--bug NAME` runs one bug, so you can run it under any tool (ASan, UBSan, TSan, valgrind's
 * memcheck, helgrind, DRD). `--demo` runs the first four, each in a child process, and says
 * what this build noticed: the plain build notices nothing; the ASan + UBSan build catches the
 * first three and stays silent on the data race. The fifth, a race inside libevent, is for
 * helgrind and TSan by hand (see the lecture notes).
 * Try it: ./build/lectures/07-testing-async/sanitizer-bugs --demo
 */
#include <event2/event.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RACE_ADDS 1000000 /* increments per thread in the plain-counter race */
#define TICK_MS 1         /* the loop thread's timer in the libevent race */

static int bug_use_after_free(void)
{
    char *name = malloc(16);
    if (name == NULL)
        return 1;
    strcpy(name, "ada");
    char *volatile stale = name; /* a copy kept somewhere, as in real code */
    free(name);
    printf("read after free: byte %d\n", (unsigned char)stale[0]); /* the bug */
    return 0;
}

static int bug_leak(void)
{
    char *volatile buf = malloc(100); /* the bug: never freed */
    if (buf == NULL)
        return 1;
    buf[0] = 'x';
    printf("allocated 100 bytes and forgot them\n");
    buf = NULL;
    return 0;
}

static int bug_overflow(void)
{
    volatile int big = INT_MAX;
    int sum = big + 1; /* the bug: signed overflow is undefined behaviour */
    printf("INT_MAX + 1 = %d\n", sum);
    return 0;
}

static volatile long counter; /* shared by two threads without a lock: the race (volatile only
                               * keeps the compiler from adding up a million in one step) */

static void *add_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < RACE_ADDS; i++)
        counter++;
    return NULL;
}

static int bug_race(void)
{
    pthread_t a, b;
    if (pthread_create(&a, NULL, add_main, NULL) != 0)
        return 1;
    if (pthread_create(&b, NULL, add_main, NULL) != 0) {
        pthread_join(a, NULL);
        return 1;
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("two threads added %d each: counter = %ld\n", RACE_ADDS, counter);
    return 0;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void *loop_main(void *arg)
{
    event_base_dispatch(arg);
    return NULL;
}

/* The bug: another thread stops the loop, but evthread_use_pthreads() was never called, so the
 * base has no lock. It works (the 1 ms tick wakes the loop), which is why it survives testing. */
static int bug_libevent_race(void)
{
    struct event_base *base = event_base_new();
    struct event *tick = base != NULL ? event_new(base, -1, EV_PERSIST, tick_cb, NULL) : NULL;
    struct timeval every = {0, TICK_MS * 1000};
    pthread_t loop;
    int rc = 1;

    if (tick == NULL || event_add(tick, &every) != 0)
        goto out;
    if (pthread_create(&loop, NULL, loop_main, base) != 0)
        goto out;
    usleep(20000);
    event_base_loopbreak(base); /* from the wrong thread, without a lock */
    pthread_join(loop, NULL);
    printf("the loop stopped; nothing looked wrong\n");
    rc = 0;
out:
    if (tick != NULL)
        event_free(tick);
    if (base != NULL)
        event_base_free(base);
    return rc;
}

struct bug {
    const char *name;
    int (*run)(void);
};

static const struct bug bugs[] = {
    {"use-after-free", bug_use_after_free}, {"leak", bug_leak},
    {"signed-overflow", bug_overflow},      {"data-race", bug_race},
    {"libevent-race", bug_libevent_race},
};
#define NBUGS (sizeof bugs / sizeof bugs[0])
#define NDEMO 4 /* the first four run in --demo */

/* Runs one bug in a child; prints how the child ended and the first line of any report. */
static void run_in_child(const struct bug *b)
{
    int err[2];
    if (pipe(err) != 0)
        return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(err[1], STDERR_FILENO);
        close(err[0]);
        close(err[1]);
        exit(b->run());
    }
    close(err[1]);
    char report[8192] = "";
    size_t len = 0;
    ssize_t n;
    while (pid > 0 && (n = read(err[0], report + len, sizeof report - 1 - len)) > 0)
        len += (size_t)n;
    report[len] = '\0';
    close(err[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return;

    const char *first = strstr(report, "ERROR: ");
    first = first != NULL ? first + 7 : strstr(report, "runtime error: ");
    char line[160] = "";
    if (first != NULL) {
        const char *at = strstr(first, " on address"); /* addresses differ from run to run */
        size_t end = strcspn(first, "\n");
        if (at != NULL && (size_t)(at - first) < end)
            end = (size_t)(at - first);
        snprintf(line, sizeof line, "%.*s", (int)end, first);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        printf("  %-16s exit status 0: nothing noticed in this build\n", b->name);
    else if (WIFEXITED(status))
        printf("  %-16s exit status %d: %s\n", b->name, WEXITSTATUS(status), line);
    else
        printf("  %-16s killed by signal %d\n", b->name, WTERMSIG(status));
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "--bug") == 0) {
        for (size_t i = 0; i < NBUGS; i++)
            if (strcmp(argv[2], bugs[i].name) == 0)
                return bugs[i].run();
    } else if (argc == 2 && strcmp(argv[1], "--demo") == 0) {
#if defined(__SANITIZE_ADDRESS__)
        printf("this build: ASan + UBSan\n");
#else
        printf("this build: no sanitizer\n");
#endif
        for (size_t i = 0; i < NDEMO; i++)
            run_in_child(&bugs[i]);
        return 0;
    }
    fprintf(stderr, "usage: %s --demo | --bug NAME\nbugs:", argv[0]);
    for (size_t i = 0; i < NBUGS; i++)
        fprintf(stderr, " %s", bugs[i].name);
    fprintf(stderr, "\n");
    return 2;
}
