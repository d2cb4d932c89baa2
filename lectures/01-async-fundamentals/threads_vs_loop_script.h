/*
 * threads_vs_loop_script.h - the slow clients of threads-vs-loop: n connections played by a
 * libevent loop on a second thread, so every server faces exactly the same traffic.
 */
#ifndef LECTURE01_THREADS_VS_LOOP_SCRIPT_H
#define LECTURE01_THREADS_VS_LOOP_SCRIPT_H

#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>

#define GIVE_UP_S 60 /* clients hang up if a run takes this long (a server failed) */

/* What /proc/self/status says about this process at one moment. */
struct proc_sample {
    long threads;
    long rss_kib; /* resident: pages actually in RAM */
    long vm_kib;  /* virtual: address space reserved, touched or not */
};

/* Reads Threads, VmRSS and VmSize from /proc/self/status (Linux). Fields it cannot read stay 0. */
struct proc_sample proc_sample_now(void);

struct slow_client;

/* The client side of one run: its own thread, its own event_base. The caller sets base,
 * clients (n of them, fd = -1), n, lock and ready_cond, and frees them after the run. */
struct client_driver {
    struct event_base *base;
    struct slow_client *clients; /* n of them */
    int n;
    int open;                 /* clients still connected */
    struct event *give_up_ev; /* the deadline that keeps a broken run from hanging */
    int settled;              /* clients that got their first reply, or failed before it */
    int failures;             /* clients that saw an error or an early close */
    struct proc_sample peak;  /* sampled when every client had its first reply */
    double wall_ms;
    pthread_mutex_t lock; /* guards ready */
    pthread_cond_t ready_cond;
    int ready; /* set once the clients are set up, before they start */
};

/* calloc()s room for n clients, each with fd -1. Returns the array (free() it), or NULL. */
struct slow_client *slow_clients_new(int n);

/* The descriptor of client i, or -1 if it is closed. */
int slow_client_fd(const struct client_driver *drv, int i);

/* Connects n clients. They complete in the kernel's accept queue even though no server is
 * accepting yet, so every server starts with the same queue. Returns 0, or -1. */
int client_driver_connect(struct client_driver *drv, uint16_t port);

/* Thread entry point: arg is the client_driver. Sets ready once the clients are set up, then
 * runs them until every one has finished. Returns NULL. */
void *client_driver_main(void *arg);

#endif
