/*
 * threads_vs_loop.c - three ways to serve slow clients, measured side by side.
 *
 * Every client of this demo is slow: it waits THINK_MS before each of its ROUNDS requests, like
 * a person typing or a phone on a bad network. The same clients are served three times: by one
 * thread doing blocking I/O (one client at a time), by one thread per connection, and by one
 * thread running a libevent loop. The program prints the wall time, the server's threads and
 * the memory the process gained for each. It measures; it does not judge: read the numbers.
 *
 *     ./threads-vs-loop              # 1000 clients (threads vs loop), 10 for the blocking server
 *     ./threads-vs-loop --demo       # 200 clients: the short run the course checks
 *     ./threads-vs-loop --clients 3000
 *
 * The clients are played by a libevent loop on a second thread of this process (Lecture 02
 * explains every call it makes), so all three servers face exactly the same traffic.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5             /* requests per client */
#define THINK_MS 20          /* a client waits this long before each request */
#define DEFAULT_CLIENTS 1000 /* clients in the default run */
#define DEMO_CLIENTS 200     /* clients with --demo (kept under valgrind's 500-thread limit) */
#define MAX_CLIENTS 4000     /* the kernel's accept queue (somaxconn) is 4096 on Linux >= 5.4 */
#define BLOCKING_CLIENTS 10  /* the one-thread blocking server needs ROUNDS x THINK_MS each */
#define REQUEST "ping\n"
#define REQUEST_LEN (sizeof REQUEST - 1)
#define IO_BUFFER_BYTES 512 /* per read(); requests are 5 bytes */
#define SPARE_FDS 32        /* stdio, the listener, libevent's own descriptors */
#define GIVE_UP_S 60        /* clients hang up if a run takes this long (a server failed) */

/* What /proc/self/status says about this process at one moment. */
struct proc_sample {
    long threads;
    long rss_kib; /* resident: pages actually in RAM */
    long vm_kib;  /* virtual: address space reserved, touched or not */
};

/* One slow client, driven by the client loop. */
struct slow_client {
    int fd;
    int rounds_done;
    size_t reply_bytes;     /* bytes of the current reply received so far */
    int settled;            /* counted in drv->settled */
    struct event *read_ev;  /* owned: the reply arriving */
    struct event *think_ev; /* owned: the pause before the next request */
    struct client_driver *drv;
};

/* The client side of one run: its own thread, its own event_base. */
struct client_driver {
    struct event_base *base;
    struct slow_client *clients; /* owned, n of them */
    int n;
    int open;                 /* clients still connected */
    struct event *give_up_ev; /* owned: the deadline that keeps a broken run from hanging */
    int settled;              /* clients that got their first reply, or failed before it */
    int failures;             /* clients that saw an error or an early close */
    struct proc_sample peak;  /* sampled when every client had its first reply */
    double wall_ms;
    pthread_mutex_t lock; /* guards ready */
    pthread_cond_t ready_cond;
    int ready; /* set once the clients are set up, before they start */
};

/* Context of the event-loop server: one per run. */
struct loop_server {
    struct event_base *base;
    struct event *accept_ev; /* owned */
    int listen_fd;
    int expected; /* stop accepting after this many */
    int accepted;
    int failures;
};

/* Context of one connection of the event-loop server. */
struct loop_conn {
    int fd;
    struct event *read_ev; /* owned */
    struct loop_server *srv;
};

static void client_read_cb(evutil_socket_t fd, short what, void *arg);
static void client_think_cb(evutil_socket_t fd, short what, void *arg);
static void client_give_up_cb(evutil_socket_t fd, short what, void *arg);
static void server_accept_cb(evutil_socket_t fd, short what, void *arg);
static void server_read_cb(evutil_socket_t fd, short what, void *arg);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads Threads, VmRSS and VmSize from /proc/self/status (Linux). Fields it cannot read stay 0. */
static struct proc_sample proc_sample_now(void)
{
    struct proc_sample s = {0, 0, 0};
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return s;
    while (fgets(line, sizeof line, f) != NULL) {
        sscanf(line, "Threads: %ld", &s.threads);
        sscanf(line, "VmRSS: %ld", &s.rss_kib);
        sscanf(line, "VmSize: %ld", &s.vm_kib);
    }
    fclose(f);
    return s;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

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

/* ---- The slow clients (a libevent loop on a second thread) ---- */

/* Counts a client as served (first reply) or failed. When every client is one or the other,
 * every connection the server will ever hold is open: the moment to sample the process. */
static void client_settle(struct slow_client *c)
{
    if (c->settled)
        return;
    c->settled = 1;
    if (++c->drv->settled == c->drv->n)
        c->drv->peak = proc_sample_now();
}

static void client_close(struct slow_client *c)
{
    if (c->read_ev != NULL)
        event_free(c->read_ev);
    if (c->think_ev != NULL)
        event_free(c->think_ev);
    c->read_ev = c->think_ev = NULL;
    close(c->fd);
    c->fd = -1;
    /* The last client out removes the deadline, so the client loop has nothing left and ends. */
    if (--c->drv->open == 0)
        event_del(c->drv->give_up_ev);
}

/* Only a failed server gets here (it stopped accepting or answering): hanging up on it makes
 * every blocked server thread see EOF, so the run still ends. */
static void client_give_up_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client_driver *drv = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < drv->n; i++) {
        if (drv->clients[i].read_ev != NULL) {
            drv->failures++;
            client_settle(&drv->clients[i]);
            client_close(&drv->clients[i]);
        }
    }
}

static void client_think_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slow_client *c = arg;
    (void)fd;
    (void)what;
    /* Five bytes into an empty socket buffer: write() takes them all or the peer is gone. */
    if (write(c->fd, REQUEST, REQUEST_LEN) != (ssize_t)REQUEST_LEN) {
        c->drv->failures++;
        client_settle(c);
        client_close(c);
    }
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slow_client *c = arg;
    struct client_driver *drv = c->drv;
    char buf[IO_BUFFER_BYTES];
    struct timeval think = {0, THINK_MS * 1000};
    (void)what;

    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* the server closed or failed before the last reply */
        drv->failures++;
        client_settle(c);
        client_close(c);
        return;
    }
    c->reply_bytes += (size_t)n;
    if (c->reply_bytes < REQUEST_LEN)
        return; /* a reply may arrive in pieces: wait for the rest */
    c->reply_bytes = 0;
    c->rounds_done++;
    client_settle(c);
    if (c->rounds_done == ROUNDS)
        client_close(c); /* done: the server sees EOF */
    else
        event_add(c->think_ev, &think);
}

/* Tells measure() that the client side is fully set up, so that its memory is already in the
 * baseline sample and the table shows only what the server adds. */
static void client_driver_set_ready(struct client_driver *drv)
{
    pthread_mutex_lock(&drv->lock);
    drv->ready = 1;
    pthread_cond_signal(&drv->ready_cond);
    pthread_mutex_unlock(&drv->lock);
}

/* Runs the clients until every one has finished; the loop returns when no events are left. */
static void *client_driver_main(void *arg)
{
    struct client_driver *drv = arg;
    struct timeval think = {0, THINK_MS * 1000};
    struct timeval give_up = {GIVE_UP_S, 0};
    double start = now_ms();

    drv->give_up_ev = evtimer_new(drv->base, client_give_up_cb, drv);
    if (drv->give_up_ev == NULL) {
        for (int i = 0; i < drv->n; i++) { /* hang up: the servers see EOF and finish */
            close(drv->clients[i].fd);
            drv->clients[i].fd = -1;
        }
        drv->failures = drv->n;
        client_driver_set_ready(drv);
        return NULL;
    }
    event_add(drv->give_up_ev, &give_up);
    for (int i = 0; i < drv->n; i++) {
        struct slow_client *c = &drv->clients[i];
        c->read_ev = event_new(drv->base, c->fd, EV_READ | EV_PERSIST, client_read_cb, c);
        c->think_ev = evtimer_new(drv->base, client_think_cb, c);
        drv->open++;
        if (c->read_ev == NULL || c->think_ev == NULL) {
            drv->failures++;
            client_settle(c);
            client_close(c);
            continue;
        }
        event_add(c->read_ev, NULL);
        event_add(c->think_ev, &think); /* the first request, too, comes after a pause */
    }
    client_driver_set_ready(drv);
    event_base_dispatch(drv->base);
    drv->wall_ms = now_ms() - start;
    return NULL;
}

/* Connects n clients. They complete in the kernel's accept queue even though no server is
 * accepting yet, so every server starts with the same queue. Returns 0, or -1. */
static int client_driver_connect(struct client_driver *drv, uint16_t port)
{
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < drv->n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        drv->clients[i].fd = fd;
        drv->clients[i].drv = drv;
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || set_nonblocking(fd) != 0)
            return -1;
    }
    return 0;
}

/* ---- Server 1 and 2: blocking I/O ---- */

/* Echoes until the client closes. read() puts this thread to sleep while the client thinks:
 * that is the whole cost and the whole simplicity of blocking I/O. */
static void serve_blocking(int fd)
{
    char buf[IO_BUFFER_BYTES];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (write(fd, buf, (size_t)n) != n)
            break; /* a blocking write returns short only on error */
    }
    close(fd);
}

/* One thread, one client at a time: the next client waits in the accept queue. */
static int serve_one_thread(int listen_fd, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            return -1;
        serve_blocking(fd);
    }
    return 0;
}

static void *conn_thread_main(void *arg)
{
    serve_blocking((int)(intptr_t)arg);
    return NULL;
}

/* One thread per connection: each thread blocks on its own client only. */
static int serve_thread_per_connection(int listen_fd, int n)
{
    int failures = 0;
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    int started = 0;
    if (threads == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            failures++;
            break;
        }
        if (pthread_create(&threads[started], NULL, conn_thread_main, (void *)(intptr_t)fd) != 0) {
            close(fd); /* out of threads (ulimit -u, memory): this client is refused */
            failures++;
            continue;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    return failures ? -1 : 0;
}

/* ---- Server 3: one libevent loop ---- */

static void loop_conn_close(struct loop_conn *conn)
{
    event_free(conn->read_ev);
    close(conn->fd);
    free(conn);
}

static void server_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop_conn *conn = arg;
    char buf[IO_BUFFER_BYTES];
    (void)what;

    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        loop_conn_close(conn); /* EOF: the client is done */
        return;
    }
    /* A shortcut that holds only for this demo: a 5-byte reply to a client that always reads
     * fits in the socket buffer. A real server keeps what write() did not take and writes it
     * when the socket is writable again (Lecture 03). Here a short write counts as a failure. */
    if (write(fd, buf, (size_t)n) != n) {
        conn->srv->failures++;
        loop_conn_close(conn);
    }
}

static void server_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct loop_server *srv = arg;
    (void)what;

    /* Accept everything that is waiting: one readiness report can stand for many clients. */
    while (srv->accepted < srv->expected) {
        int cfd = accept(fd, NULL, NULL);
        if (cfd < 0)
            break; /* EAGAIN: the queue is empty for now */
        struct loop_conn *conn = calloc(1, sizeof *conn);
        if (conn == NULL || set_nonblocking(cfd) != 0 ||
            (conn->read_ev =
                 event_new(srv->base, cfd, EV_READ | EV_PERSIST, server_read_cb, conn)) == NULL) {
            free(conn);
            close(cfd);
            srv->failures++;
            srv->accepted++;
            continue;
        }
        conn->fd = cfd;
        conn->srv = srv;
        event_add(conn->read_ev, NULL);
        srv->accepted++;
    }
    /* With the accept event gone, the loop ends by itself once the last client leaves. */
    if (srv->accepted == srv->expected)
        event_del(srv->accept_ev);
}

static int serve_event_loop(int listen_fd, int n)
{
    struct loop_server srv = {.listen_fd = listen_fd, .expected = n};
    int rc = -1;

    if (set_nonblocking(listen_fd) != 0 || (srv.base = event_base_new()) == NULL)
        goto cleanup;
    srv.accept_ev = event_new(srv.base, listen_fd, EV_READ | EV_PERSIST, server_accept_cb, &srv);
    if (srv.accept_ev == NULL || event_add(srv.accept_ev, NULL) != 0)
        goto cleanup;
    event_base_dispatch(srv.base); /* returns when every connection has closed */
    rc = srv.failures ? -1 : 0;
cleanup:
    if (srv.accept_ev != NULL)
        event_free(srv.accept_ev);
    if (srv.base != NULL)
        event_base_free(srv.base);
    return rc;
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

    drv.clients = calloc((size_t)n, sizeof *drv.clients);
    if (drv.clients == NULL || (drv.base = event_base_new()) == NULL)
        goto cleanup;
    for (int i = 0; i < n; i++)
        drv.clients[i].fd = -1;
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
        if (drv.clients[i].fd >= 0) /* only after a failed setup: finished clients closed */
            close(drv.clients[i].fd);
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
        char *end;
        long v = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || v < 1 || v > MAX_CLIENTS)
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
           sizeof(struct loop_conn) + event_get_struct_event_size(), event_get_struct_event_size());
    printf("(Kernel socket buffers are the same for all three servers and are not counted.)\n");
    return 0;
}
