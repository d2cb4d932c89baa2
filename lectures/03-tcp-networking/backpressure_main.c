/*
 * backpressure_main.c - the tcp-backpressure program: the relay of backpressure.c on a port.
 *
 *   ./tcp-backpressure --demo
 *       runs a source and a sink in this process (backpressure_script.c), once through an
 *       unbounded relay and once through a bounded one, prints the buffer sizes, and exits.
 *   ./tcp-backpressure --to HOST:PORT [--port N] [--unbounded]
 *       relays 127.0.0.1:N (default 7031) to HOST:PORT until Ctrl-C. Try it with three
 *       terminals:  nc -l 9000   then  ./tcp-backpressure --to 127.0.0.1:9000   then
 *       cat /dev/zero | nc 127.0.0.1 7031   and press Ctrl-Z in the first to stop the sink.
 */
#include "backpressure.h"
#include "backpressure_script.h"
#include "demo_util.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define DEFAULT_PORT 7031

/* What the signal callback needs: both signal events, to delete them. */
struct signal_ctx {
    struct event_base *base;
    struct event *sigint, *sigterm;
};

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct signal_ctx *ctx = arg;

    (void)what;
    printf("relay: got %s: closing every pair and exiting\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_del(ctx->sigint);
    event_del(ctx->sigterm);
    event_base_loopexit(ctx->base, NULL);
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --demo\n"
            "       %s --to HOST:PORT [--port N] [--unbounded]\n",
            prog, prog);
    exit(2);
}

int main(int argc, char **argv)
{
    struct signal_ctx sig = {0};
    struct event_base *base = NULL;
    struct relay *relay = NULL;
    struct bp_script *script = NULL;
    const char *to = NULL;
    long port = DEFAULT_PORT;
    bool demo = false, bounded = true;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
        } else if (strcmp(argv[i], "--unbounded") == 0) {
            bounded = false;
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            if (parse_bounded(argv[++i], 0, 65535, &port) != 0)
                usage(argv[0]);
        } else {
            usage(argv[0]);
        }
    }
    if (demo == (to != NULL))
        usage(argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    base = event_base_new();
    if (base == NULL)
        goto done;
    sig.base = base;
    sig.sigint = evsignal_new(base, SIGINT, signal_cb, &sig);
    sig.sigterm = evsignal_new(base, SIGTERM, signal_cb, &sig);
    if (sig.sigint == NULL || sig.sigterm == NULL || event_add(sig.sigint, NULL) != 0 ||
        event_add(sig.sigterm, NULL) != 0)
        goto done;

    if (demo) {
        script = bp_script_start(base);
        if (script == NULL)
            goto done;
    } else {
        relay = relay_new(base, (uint16_t)port, to, bounded, stdout);
        if (relay == NULL)
            goto done;
        printf("listening on 127.0.0.1:%u (relaying to %s, %s)\n", relay_port(relay), to,
               bounded ? "bounded" : "unbounded");
    }

    if (event_base_dispatch(base) >= 0)
        status = script != NULL && bp_script_failures(script) > 0 ? 1 : 0;

done:
    relay_free(relay);
    bp_script_free(script);
    if (sig.sigint != NULL)
        event_free(sig.sigint);
    if (sig.sigterm != NULL)
        event_free(sig.sigterm);
    if (base != NULL)
        event_base_free(base);
    return status;
}
