/*
 * http_notes_main.c - the http-notes program: Lecture 04's notes API (http_notes.c) on a port.
 *
 *   ./http-notes [--port N]   serve on 127.0.0.1:N (default 8040) until Ctrl-C. Try it:
 *       curl -i -X PUT -H 'Content-Type: application/json' -d '{"text":"hi"}' \
 *            localhost:8040/notes/first
 *       curl -i localhost:8040/notes/first      curl -i 'localhost:8040/notes?limit=5'
 *   ./http-notes --demo       serve on a free port, make the requests of notes_demo.c to it
 *                             with an evhttp client on the same event_base, and exit.
 */
#include "http_notes.h"
#include "notes_demo.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8040
#define SHUTDOWN_GRACE_MS 1000 /* replies already under way get this long to finish */

/* What the signal callback needs. */
struct shutdown_ctx {
    struct event_base *base;
    struct event *sigint, *sigterm;
    struct http_notes *app;
};

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct shutdown_ctx *ctx = arg;
    struct timeval grace = {SHUTDOWN_GRACE_MS / 1000, (SHUTDOWN_GRACE_MS % 1000) * 1000};

    (void)what;
    printf("server: got %s: no new connections; exiting within %d ms\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM", SHUTDOWN_GRACE_MS);
    event_del(ctx->sigint); /* delete inside the callback; main frees them */
    event_del(ctx->sigterm);
    http_notes_stop_accepting(ctx->app);
    /* Idle keep-alive connections would keep the loop alive for HTTP_NOTES_IDLE_S: do not
     * wait for them, only for a moment. evhttp_free() closes whatever is left. */
    event_base_loopexit(ctx->base, &grace);
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--port N] [--demo]\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    struct shutdown_ctx ctx = {0};
    struct notes_demo *demo = NULL;
    struct http_notes *app = NULL;
    struct event_base *base = NULL;
    bool demo_mode = false;
    long port = DEFAULT_PORT;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--demo") == 0) {
            demo_mode = true;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = strtol(argv[++i], &end, 10);
            if (*end != '\0' || end == argv[i] || port < 0 || port > 65535)
                usage(argv[0]);
        } else {
            usage(argv[0]);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up mid-reply must not kill the server */

    base = event_base_new();
    if (base == NULL)
        goto done;
    app = http_notes_new(base, DEFAULT_HOST, demo_mode ? 0 : (uint16_t)port, stdout);
    if (app == NULL)
        goto done;
    printf("listening on %s:%u\n", DEFAULT_HOST, http_notes_port(app));

    ctx = (struct shutdown_ctx){.base = base, .app = app};
    ctx.sigint = evsignal_new(base, SIGINT, signal_cb, &ctx);
    ctx.sigterm = evsignal_new(base, SIGTERM, signal_cb, &ctx);
    if (ctx.sigint == NULL || ctx.sigterm == NULL || event_add(ctx.sigint, NULL) != 0 ||
        event_add(ctx.sigterm, NULL) != 0)
        goto done;

    if (demo_mode) {
        demo = notes_demo_start(base, http_notes_port(app));
        if (demo == NULL)
            goto done;
    }
    if (event_base_dispatch(base) >= 0)
        status = demo != NULL && notes_demo_failures(demo) > 0 ? 1 : 0;

done:
    notes_demo_free(demo); /* the client first: it is a connection to the server */
    http_notes_free(app);
    if (ctx.sigint != NULL)
        event_free(ctx.sigint);
    if (ctx.sigterm != NULL)
        event_free(ctx.sigterm);
    if (base != NULL)
        event_base_free(base);
    return status;
}
