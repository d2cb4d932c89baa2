/*
 * framing_main.c - the tcp-framing program: the line server of framing.c on a port.
 *
 *   ./tcp-framing --demo   feeds both decoders bytes in chosen chunks (split lines, split
 *                          headers, several frames at once, oversize), then runs the line
 *                          server against an in-process client (framing_script.c), and exits.
 *   ./tcp-framing [--port N]   serves the line protocol on 127.0.0.1:N (default 7032) until
 *                          Ctrl-C. Try it:  nc -C 127.0.0.1 7032   (-C sends CRLF line ends)
 */
#include "demo_util.h"
#include "framing.h"
#include "framing_script.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define DEFAULT_PORT 7032

struct signal_ctx {
    struct event_base *base;
    struct event *sigint, *sigterm;
};

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct signal_ctx *ctx = arg;

    (void)what;
    printf("server: got %s: closing every connection and exiting\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_del(ctx->sigint);
    event_del(ctx->sigterm);
    event_base_loopexit(ctx->base, NULL);
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--port N] [--demo]\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    struct signal_ctx sig = {0};
    struct framing_client client = {0};
    struct line_server *server = NULL;
    struct event_base *base = NULL;
    long port = DEFAULT_PORT;
    uint16_t bound_port = 0;
    bool demo = false;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            if (parse_bounded(argv[++i], 0, 65535, &port) != 0)
                usage(argv[0]);
        } else {
            usage(argv[0]);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    if (demo) {
        if (framing_script_feeds() != 0)
            goto done;
        printf("\n== 3. the line server: line_take in a read callback, over a real socket\n");
        port = 0;
    }
    base = event_base_new();
    if (base == NULL)
        goto done;
    server = line_server_new(base, (uint16_t)port, &bound_port);
    if (server == NULL)
        goto done;
    printf("listening on 127.0.0.1:%u\n", bound_port);

    sig.base = base;
    sig.sigint = evsignal_new(base, SIGINT, signal_cb, &sig);
    sig.sigterm = evsignal_new(base, SIGTERM, signal_cb, &sig);
    if (sig.sigint == NULL || sig.sigterm == NULL || event_add(sig.sigint, NULL) != 0 ||
        event_add(sig.sigterm, NULL) != 0)
        goto done;
    if (demo && framing_client_start(&client, base, bound_port) != 0)
        goto done;

    if (event_base_dispatch(base) >= 0)
        status = demo && client.replies != 3 ? 1 : 0;

done:
    framing_client_free(&client);
    line_server_free(server);
    if (sig.sigint != NULL)
        event_free(sig.sigint);
    if (sig.sigterm != NULL)
        event_free(sig.sigterm);
    if (base != NULL)
        event_base_free(base);
    return status;
}
