/*
 * cost_main.c - the tcp-cost program: the three echo servers of cost.c, and with --demo the
 * load client of cost_script.c, which measures each of them on this machine.
 *
 *   ./tcp-cost --demo              two workloads against each server, half a second each
 *   ./tcp-cost --demo --size 1048576 --conns 10 --ms 2000      one workload of your choosing
 *   ./tcp-cost [--port N]          serve until Ctrl-C: bufferevent echo on 127.0.0.1:N (default
 *                                  7033), with TCP_NODELAY on N+1, plain-event echo on N+2
 */
#include "cost.h"
#include "cost_script.h"
#include "demo_util.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define DEFAULT_PORT 7033
#define DEMO_RUN_MS 500 /* each server gets this long per workload */

struct signal_ctx {
    struct event_base *base;
    struct event *sigint, *sigterm;
};

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct signal_ctx *ctx = arg;

    (void)what;
    printf("server: got %s: exiting\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_del(ctx->sigint);
    event_del(ctx->sigterm);
    event_base_loopexit(ctx->base, NULL); /* connections are freed after the loop returns */
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--port N]\n"
            "       %s --demo [--size BYTES --conns N --ms MS]\n",
            prog, prog);
    exit(2);
}

/* Parses an option's value from min to max, or ends the program with the usage message. */
static long parse_number(const char *prog, const char *s, long min, long max)
{
    long v;

    if (parse_bounded(s, min, max, &v) != 0)
        usage(prog);
    return v;
}

int main(int argc, char **argv)
{
    struct cost_servers *servers = NULL;
    struct signal_ctx sig = {0};
    struct load_plan plan = {
        .names = {"bufferevent", "bufferevent + TCP_NODELAY", "plain event + write()"}};
    struct workload custom = {0};
    struct event_base *base = NULL;
    pthread_t load_thread;
    bool demo = false, load_started = false;
    long port = DEFAULT_PORT;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0)
            demo = true;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = parse_number(argv[0], argv[++i], 0, 65533);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            custom.size = (size_t)parse_number(argv[0], argv[++i], 1, LOAD_MAX_SIZE);
        else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            custom.conns = (int)parse_number(argv[0], argv[++i], 1, LOAD_MAX_CONNS);
        else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc)
            custom.ms = (int)parse_number(argv[0], argv[++i], 100, 60000);
        else
            usage(argv[0]);
    }
    bool custom_given = custom.size != 0 || custom.conns != 0 || custom.ms != 0;
    if (custom_given && !demo)
        usage(argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    base = event_base_new();
    if (base == NULL)
        goto done;
    servers = cost_servers_new(base, demo ? 0 : (uint16_t)port, plan.ports);
    if (servers == NULL) {
        fprintf(stderr, "tcp-cost: cannot listen on 127.0.0.1 ports %ld to %ld\n", port, port + 2);
        goto done;
    }
    for (int s = 0; s < COST_SERVERS; s++)
        printf("%-26s listening on 127.0.0.1:%u\n", plan.names[s], plan.ports[s]);

    sig.base = base;
    sig.sigint = evsignal_new(base, SIGINT, signal_cb, &sig);
    sig.sigterm = evsignal_new(base, SIGTERM, signal_cb, &sig);
    if (sig.sigint == NULL || sig.sigterm == NULL || event_add(sig.sigint, NULL) != 0 ||
        event_add(sig.sigterm, NULL) != 0)
        goto done;

    if (demo) {
        if (custom_given) {
            plan.workloads[0] =
                (struct workload){custom.size ? custom.size : 64, custom.conns ? custom.conns : 10,
                                  custom.ms ? custom.ms : DEMO_RUN_MS};
            plan.count = 1;
        } else {
            plan.workloads[0] = (struct workload){64, 50, DEMO_RUN_MS};
            plan.workloads[1] = (struct workload){16 * 1024, 10, DEMO_RUN_MS};
            plan.count = 2;
        }
        if (pthread_create(&load_thread, NULL, load_main, &plan) != 0)
            goto done;
        load_started = true;
    }

    if (event_base_dispatch(base) >= 0)
        status = 0;

done:
    if (load_started) {
        pthread_join(load_thread, NULL);
        if (plan.failures > 0)
            status = 1;
    }
    cost_servers_free(servers);
    if (sig.sigint != NULL)
        event_free(sig.sigint);
    if (sig.sigterm != NULL)
        event_free(sig.sigterm);
    if (base != NULL)
        event_base_free(base);
    return status;
}
