/*
 * threads_vs_loop_main.c - three ways to serve slow clients, measured side by side.
 *
 * The same slow clients (threads_vs_loop_script.c) are served three times by the servers of
 * threads_vs_loop.c: one blocking thread, one thread per connection, one libevent loop. The
 * program prints the wall time, the server's threads and the memory the process gained for
 * each. It measures; it does not judge: read the numbers.
 *
 *     ./threads-vs-loop              # 1000 clients (threads vs loop), 10 for the blocking server
 *     ./threads-vs-loop --demo       # 200 clients: the short run the course checks
 *     ./threads-vs-loop --clients 3000
 */
#include "demo_util.h"
#include "threads_vs_loop.h"
#include "threads_vs_loop_script.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_CLIENTS 1000 /* clients in the default run */
#define DEMO_CLIENTS 200     /* clients with --demo (kept under valgrind's 500-thread limit) */
#define BLOCKING_CLIENTS 10  /* the one-thread blocking server needs ROUNDS x THINK_MS each */
#define SPARE_FDS 32         /* stdio, the listener, libevent's own descriptors */

/* A listening socket on 127.0.0.1 with a free port. Returns the fd, or -1. */
static int listen_loopback(uint16_t *port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    /* The backlog must hold every client: they all connect before the server starts. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, MAX_CLIENTS) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

/* ---- One measured run ---- */

enum server_kind { ONE_THREAD, THREAD_PER_CONNECTION, EVENT_LOOP };

static const char *const server_names[] = {
    [ONE_THREAD] = "one blocking thread",
    [THREAD_PER_CONNECTION] = "thread per connection",
    [EVENT_LOOP] = "one libevent loop",
};

/* What one run measured: the server's threads at the busiest moment, and what the process
 * gained in resident and virtual memory by then. */
struct run_result {
    long threads;
    long rss_kib;
    long vm_kib;
    int failed; /* some clients were refused or cut off */
};

/* Serves n slow clients with the given server, prints one row and fills *res.
 * Returns 0, or -1 if the run could not be set up. */
static int measure(enum server_kind kind, int n, struct run_result *res)
{
    struct client_driver drv = {
        .n = n, .lock = PTHREAD_MUTEX_INITIALIZER, .ready_cond = PTHREAD_COND_INITIALIZER};
    struct proc_sample before;
    pthread_t driver_thread;
    int driver_started = 0, listen_fd = -1, rc = -1, served = -1;
    uint16_t port = 0;

    drv.clients = slow_clients_new(n);
    if (drv.clients == NULL || (drv.base = event_base_new()) == NULL)
        goto cleanup;
    if ((listen_fd = listen_loopback(&port)) < 0) {
        perror("listen on 127.0.0.1");
        goto cleanup;
    }
    if (client_driver_connect(&drv, port) != 0) {
        perror("connect to 127.0.0.1");
        goto cleanup;
    }
    if (pthread_create(&driver_thread, NULL, client_driver_main, &drv) != 0)
        goto cleanup;
    driver_started = 1;
    pthread_mutex_lock(&drv.lock);
    while (!drv.ready)
        pthread_cond_wait(&drv.ready_cond, &drv.lock);
    pthread_mutex_unlock(&drv.lock);
    before = proc_sample_now(); /* the clients are set up; the server has not started */

    /* The server runs on this (the main) thread until its n clients are done. */
    if (kind == ONE_THREAD)
        served = serve_one_thread(listen_fd, n);
    else if (kind == THREAD_PER_CONNECTION)
        served = serve_thread_per_connection(listen_fd, n);
    else
        served = serve_event_loop(listen_fd, n);

    pthread_join(driver_thread, NULL);
    driver_started = 0;
    /* The client thread is in every sample; do not count it as a server thread. */
    res->threads = drv.peak.threads - 1;
    res->rss_kib = drv.peak.rss_kib - before.rss_kib;
    res->vm_kib = drv.peak.vm_kib - before.vm_kib;
    res->failed = served != 0 || drv.failures != 0;
    const char *failed = res->failed ? " (some clients failed)" : "";
    if (drv.peak.threads == 0) /* no /proc/self/status on this system: time only */
        printf("%-22s %7d %9.0f ms %8s %14s %14s%s\n", server_names[kind], n, drv.wall_ms, "n/a",
               "n/a", "n/a", failed);
    else
        printf("%-22s %7d %9.0f ms %8ld %10ld KiB %10.0f MiB%s\n", server_names[kind], n,
               drv.wall_ms, res->threads, res->rss_kib, res->vm_kib / 1024.0, failed);
    fflush(stdout);
    rc = 0;
cleanup:
    if (driver_started)
        pthread_join(driver_thread, NULL);
    for (int i = 0; drv.clients != NULL && i < n; i++) {
        if (slow_client_fd(&drv, i) >= 0) /* only after a failed setup: finished clients closed */
            close(slow_client_fd(&drv, i));
    }
    free(drv.clients);
    if (drv.give_up_ev != NULL)
        event_free(drv.give_up_ev);
    if (drv.base != NULL)
        event_base_free(drv.base);
    pthread_cond_destroy(&drv.ready_cond);
    pthread_mutex_destroy(&drv.lock);
    if (listen_fd >= 0)
        close(listen_fd);
    return rc;
}

/* Each client holds two descriptors (its end and the server's). Raise the soft limit towards
 * the hard one if needed; returns how many clients fit. */
static int fit_clients_to_fd_limit(int n)
{
    struct rlimit lim;
    rlim_t need = (rlim_t)n * 2 + SPARE_FDS;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return n;
    if (lim.rlim_cur < need) {
        lim.rlim_cur = lim.rlim_max < need ? lim.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur < need) {
        n = (int)((lim.rlim_cur - SPARE_FDS) / 2);
        printf("(the open-file limit allows only %d clients)\n", n);
    }
    return n;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--demo | --clients N]   (1 <= N <= %d)\n", prog, MAX_CLIENTS);
    return 2;
}

int main(int argc, char **argv)
{
    int clients = DEFAULT_CLIENTS;
    struct run_result small, threads, loop;
    size_t stack_bytes = 0;
    pthread_attr_t attr;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc == 2 && strcmp(argv[1], "--demo") == 0) {
        clients = DEMO_CLIENTS;
    } else if (argc == 3 && strcmp(argv[1], "--clients") == 0) {
        long v;
        if (parse_bounded(argv[2], 1, MAX_CLIENTS, &v) != 0)
            return usage(argv[0]);
        clients = (int)v;
    } else if (argc != 1) {
        return usage(argv[0]);
    }
    /* A client that vanishes mid-write must not kill the demo with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    clients = fit_clients_to_fd_limit(clients);

    pthread_attr_init(&attr);
    pthread_attr_getstacksize(&attr, &stack_bytes);
    pthread_attr_destroy(&attr);
    printf("Each client sends %d requests and waits %d ms before each one (a slow client).\n",
           ROUNDS, THINK_MS);
    printf("A new thread reserves a %zu KiB stack (virtual memory; RSS grows only as it is "
           "touched).\n\n",
           stack_bytes / 1024);
    printf("%-22s %7s %12s %8s %14s %14s\n", "server", "clients", "wall time", "threads",
           "RSS gained", "virtual gained");

    if (measure(ONE_THREAD, BLOCKING_CLIENTS, &small) != 0 ||
        measure(THREAD_PER_CONNECTION, BLOCKING_CLIENTS, &small) != 0 ||
        measure(EVENT_LOOP, BLOCKING_CLIENTS, &small) != 0 ||
        measure(THREAD_PER_CONNECTION, clients, &threads) != 0 ||
        measure(EVENT_LOOP, clients, &loop) != 0)
        return 1;

    printf("\nThe blocking server takes its clients one after another, so its time grows with\n"
           "the number of clients. Threads and the loop overlap the waiting: their time\n"
           "typically stays near %d x %d ms, plus a cost per client that varies with the\n"
           "machine and its load.\n",
           ROUNDS, THINK_MS);
    if (threads.failed || threads.threads <= 0)
        printf(
            "Per connection, thread per connection: not measured (clients failed, or no /proc)\n");
    else
        printf("Per connection, thread per connection: %.1f KiB resident, %.0f KiB of address "
               "space\n",
               (double)threads.rss_kib / clients, (double)threads.vm_kib / clients);
    printf("Per connection, one libevent loop: %zu bytes allocated (struct loop_conn + a %zu-byte "
           "struct event),\ntoo little to move RSS much when malloc reuses memory freed earlier\n",
           loop_conn_bytes(), event_get_struct_event_size());
    printf("(Kernel socket buffers are the same for all three servers and are not counted.)\n");
    return 0;
}
