/*
 * cost_script.h - the load client of `tcp-cost --demo`. It runs on its own thread with plain
 * blocking calls and poll(), so it never shares the servers' event loop.
 */
#ifndef LECTURE03_COST_SCRIPT_H
#define LECTURE03_COST_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"

#define LOAD_MAX_CONNS 100
#define LOAD_MAX_SIZE (16 * 1024 * 1024)

/* One closed-loop workload: `conns` connections, each with one `size`-byte message in flight,
 * for `ms` milliseconds per server. */
struct workload {
    size_t size; /* bytes per message */
    int conns;
    int ms;
};

struct load_plan {
    const char *names[COST_SERVERS];
    uint16_t ports[COST_SERVERS];
    struct workload workloads[2];
    int count;
    int failures; /* written by the load thread; read after it has been joined */
};

/* Thread entry point: arg is a struct load_plan. Runs every workload against every server,
 * prints a table of results, then sends the process SIGTERM. Returns NULL. */
void *load_main(void *arg);

#endif
