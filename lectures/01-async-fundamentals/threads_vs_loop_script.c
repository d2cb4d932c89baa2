/*
 * threads_vs_loop_script.c - the slow clients that threads-vs-loop serves three ways.
 *
 * Every client waits THINK_MS before each of its ROUNDS requests, like a person typing or a
 * phone on a bad network. All of them are played by one libevent loop on a second thread of
 * the process (Lecture 02 explains every call it makes). When each client has had its first
 * reply, every connection the server will ever hold is open: that is when the process is
 * sampled.
 */
#include "threads_vs_loop_script.h"
#include "threads_vs_loop.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

static void client_read_cb(evutil_socket_t fd, short what, void *arg);
static void client_think_cb(evutil_socket_t fd, short what, void *arg);
static void client_give_up_cb(evutil_socket_t fd, short what, void *arg);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads Threads, VmRSS and VmSize from /proc/self/status (Linux). Fields it cannot read stay 0. */
struct proc_sample proc_sample_now(void)
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
void *client_driver_main(void *arg)
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
int client_driver_connect(struct client_driver *drv, uint16_t port)
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

struct slow_client *slow_clients_new(int n)
{
    struct slow_client *clients = calloc((size_t)n, sizeof *clients);
    for (int i = 0; clients != NULL && i < n; i++)
        clients[i].fd = -1;
    return clients;
}

int slow_client_fd(const struct client_driver *drv, int i)
{
    return drv->clients[i].fd;
}
