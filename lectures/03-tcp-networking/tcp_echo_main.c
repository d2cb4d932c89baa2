/*
 * tcp_echo_main.c - the tcp-echo program: Lecture 03's echo server (tcp_echo.c) on a port.
 *
 *   ./tcp-echo [--port N]   serve on 127.0.0.1:N (default 7030) until Ctrl-C or SIGTERM.
 *                           Try it:  nc 127.0.0.1 7030   (type lines; Ctrl-D half-closes)
 *   ./tcp-echo --demo       serve on a free port, play the scripted clients of
 *                           tcp_echo_script.c against it, shut down on their SIGTERM, exit 0.
 *
 * main() shows the shape every server in this course has: make the base, make the server,
 * print "listening on", turn SIGINT/SIGTERM into a graceful shutdown, run the loop until
 * nothing is left on it, then free everything in reverse order.
 */
#include "demo_util.h"
#include "tcp_echo.h"
#include "tcp_echo_script.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 7030
#define DEFAULT_IDLE_MS 30000 /* close clients silent this long */
#define DEMO_IDLE_MS 1000     /* short, so the demo's idle scene takes a second, not thirty */

/* What the signal callback needs: the two signal events (to delete them) and the servers. */
struct shutdown_ctx {
    struct event *sigint, *sigterm;
    struct tcp_echo *servers[2]; /* the second one exists only in --demo */
};

static void signal_cb(evutil_socket_t sig, short what, void *arg);

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--port N] [--demo]\n", prog);
    exit(2);
}

/* SIGINT or SIGTERM: start the graceful shutdown. The loop keeps running until the servers
 * have closed their last connection; then nothing is pending and event_base_dispatch()
 * returns by itself. */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct shutdown_ctx *ctx = arg;

    (void)what;
    printf("server: got %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* Delete, do not free, a signal event inside its own callback; main frees it later.
     * With the events gone the default action is back: a second Ctrl-C ends the process. */
    event_del(ctx->sigint);
    event_del(ctx->sigterm);
    for (size_t i = 0; i < 2; i++)
        if (ctx->servers[i] != NULL)
            tcp_echo_shutdown(ctx->servers[i]);
}

int main(int argc, char **argv)
{
    struct tcp_echo_options opts = {
        .host = DEFAULT_HOST, .port = DEFAULT_PORT, .idle_ms = DEFAULT_IDLE_MS, .log = stdout};
    struct shutdown_ctx ctx = {0};
    struct echo_script script = {0};
    struct event_base *base = NULL;
    struct tcp_echo *server = NULL, *crowd = NULL;
    pthread_t script_thread;
    bool demo = false, script_started = false;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            long port;
            if (parse_bounded(argv[++i], 0, 65535, &port) != 0)
                usage(argv[0]);
            opts.port = (uint16_t)port;
        } else {
            usage(argv[0]);
        }
    }
    if (demo) {
        opts.port = 0;
        opts.idle_ms = DEMO_IDLE_MS;
    }

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    /* Writing to a socket the peer has closed raises SIGPIPE, which kills the process by
     * default. Ignored, the write fails with EPIPE and only that connection ends. */
    signal(SIGPIPE, SIG_IGN);

    base = event_base_new();
    if (base == NULL)
        goto done;
    server = tcp_echo_new(base, &opts);
    if (server == NULL)
        goto done;
    printf("listening on %s:%u\n", opts.host, tcp_echo_port(server));

    ctx.servers[0] = server;
    ctx.sigint = evsignal_new(base, SIGINT, signal_cb, &ctx);
    ctx.sigterm = evsignal_new(base, SIGTERM, signal_cb, &ctx);
    if (ctx.sigint == NULL || ctx.sigterm == NULL || event_add(ctx.sigint, NULL) != 0 ||
        event_add(ctx.sigterm, NULL) != 0)
        goto done;

    if (demo) {
        struct tcp_echo_options silent = opts;
        silent.log = NULL;
        silent.idle_ms = DEFAULT_IDLE_MS; /* opening 200 clients may take longer than a second */
        crowd = tcp_echo_new(base, &silent);
        if (crowd == NULL)
            goto done;
        ctx.servers[1] = crowd;
        script = (struct echo_script){
            .host = opts.host, .server = server, .crowd = crowd, .idle_ms = opts.idle_ms};
        if (pthread_create(&script_thread, NULL, echo_script_run, &script) != 0)
            goto done;
        script_started = true;
    }

    /* 1 means "no events left", which is how a graceful shutdown ends; -1 is an error. */
    if (event_base_dispatch(base) >= 0)
        status = 0;
    printf("server: the loop has nothing left to do; freeing everything and exiting\n");

done:
    if (script_started) {
        pthread_join(script_thread, NULL);
        if (script.failures > 0)
            status = 1;
    }
    tcp_echo_free(crowd);
    tcp_echo_free(server);
    if (ctx.sigint != NULL)
        event_free(ctx.sigint);
    if (ctx.sigterm != NULL)
        event_free(ctx.sigterm);
    if (base != NULL)
        event_base_free(base);
    return status;
}
