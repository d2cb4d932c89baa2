/*
 * main.c - the chat-server command: parse the command line, serve until SIGINT or SIGTERM.
 *
 *     chat-server [--host H] [--port P] [--history FILE] [--history-size N]
 *                 [--idle-timeout MS] [--max-connections N]
 *
 * It prints "listening on HOST:PORT" once it is ready (with --port 0, the port the kernel
 * picked), logs connects, disconnects, renames and dropped clients on stderr, and on Ctrl-C or
 * SIGTERM tells every client "* server shutting down", lets them take their last lines, and
 * exits with status 0.
 *
 * Try it: `chat-server` in one terminal, `nc 127.0.0.1 7001` in two others, and chat.
 */
#include "chat_history.h"
#include "chat_server.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long's codes for the long options (there are no short ones). */
enum main_option {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_HISTORY,
    OPT_HISTORY_SIZE,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_HELP,
};

/* What the signal callback needs. */
struct main_ctx {
    struct chat_server *server;
    struct event *sigint_ev;
    struct event *sigterm_ev;
};

static void main_signal_cb(evutil_socket_t sig, short what, void *arg);

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: chat-server [--host H] [--port P] [--history FILE] [--history-size N]\n"
        "                   [--idle-timeout MS] [--max-connections N]\n"
        "  --host H              address to listen on (default %s)\n"
        "  --port P              TCP port; 0 lets the system pick one (default %d)\n"
        "  --history FILE        keep the chat history in FILE (JSON lines); default: memory only\n"
        "  --history-size N      messages replayed to newcomers, 1..%d (default %d)\n"
        "  --idle-timeout MS     close clients silent this long; 0 never (default %d)\n"
        "  --max-connections N   clients at once, 1..%d; more get \"! server full\" (default %d)\n"
        "  --help                show this help\n",
        CHAT_DEFAULT_HOST, CHAT_DEFAULT_PORT, CHAT_HISTORY_SIZE_MAX, CHAT_HISTORY_DEFAULT_SIZE,
        CHAT_DEFAULT_IDLE_TIMEOUT_MS, CHAT_MAX_CONNECTIONS_LIMIT, CHAT_DEFAULT_MAX_CONNECTIONS);
}

/* Parses a whole decimal number in [min, max]. Returns 0, or -1 after saying what is wrong. */
static int parse_number(const char *option, const char *text, long min, long max, long *out)
{
    char *end;

    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        fprintf(stderr, "chat-server: %s wants a number from %ld to %ld, not '%s'\n", option, min,
                max, text);
        return -1;
    }
    *out = value;
    return 0;
}

/* Fills cfg from the command line. Returns 0 to run, 1 after --help, -1 on a bad command line
 * (the reason is already on stderr). */
static int parse_args(int argc, char **argv, struct chat_server_config *cfg)
{
    static const struct option options[] = {
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"history-size", required_argument, NULL, OPT_HISTORY_SIZE},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long value;
    int opt;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOST:
            cfg->host = optarg;
            break;
        case OPT_PORT:
            if (parse_number("--port", optarg, 0, 65535, &value) != 0)
                return -1;
            cfg->port = (uint16_t)value;
            break;
        case OPT_HISTORY:
            cfg->history_file = optarg;
            break;
        case OPT_HISTORY_SIZE:
            if (parse_number("--history-size", optarg, 1, CHAT_HISTORY_SIZE_MAX, &value) != 0)
                return -1;
            cfg->history_size = (int)value;
            break;
        case OPT_IDLE_TIMEOUT:
            if (parse_number("--idle-timeout", optarg, 0, INT_MAX, &value) != 0)
                return -1;
            cfg->idle_timeout_ms = (int)value;
            break;
        case OPT_MAX_CONNECTIONS:
            if (parse_number("--max-connections", optarg, 1, CHAT_MAX_CONNECTIONS_LIMIT, &value) !=
                0)
                return -1;
            cfg->max_connections = (int)value;
            break;
        case OPT_HELP:
            return 1;
        default: /* getopt_long has already named the unknown option */
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "chat-server: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* SIGINT or SIGTERM: start the graceful shutdown; dispatch returns once the last client is
 * gone. The signal events are deleted here (never freed inside their own callback) and freed
 * after dispatch. With them gone, a second Ctrl-C gets the default action and ends the
 * process at once, which is what an impatient user expects. */
static void main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct main_ctx *ctx = arg;
    (void)what;

    fprintf(stderr, "received %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_del(ctx->sigint_ev);
    event_del(ctx->sigterm_ev);
    chat_server_shutdown(ctx->server);
}

int main(int argc, char **argv)
{
    struct chat_server_config cfg = {
        .host = CHAT_DEFAULT_HOST,
        .port = CHAT_DEFAULT_PORT,
        .idle_timeout_ms = CHAT_DEFAULT_IDLE_TIMEOUT_MS,
        .max_connections = CHAT_DEFAULT_MAX_CONNECTIONS,
        .history_file = NULL,
        .history_size = CHAT_HISTORY_DEFAULT_SIZE,
        .max_output_bytes = CHAT_DEFAULT_MAX_OUTPUT_BYTES,
        .log = stderr,
    };
    struct main_ctx ctx = {0};
    struct event_base *base = NULL;
    int status = 1;

    switch (parse_args(argc, argv, &cfg)) {
    case 1:
        usage(stdout);
        return 0;
    case -1:
        usage(stderr);
        return 2;
    }

    /* Writing to a client that has gone raises SIGPIPE, whose default action kills the
     * process. Ignored, the write fails with EPIPE instead and only that client is closed. */
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ignore, NULL);

    base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "chat-server: cannot create the event base\n");
        goto done;
    }
    ctx.server = chat_server_new(base, &cfg);
    if (ctx.server == NULL)
        goto done; /* the reason is already logged */
    ctx.sigint_ev = evsignal_new(base, SIGINT, main_signal_cb, &ctx);
    ctx.sigterm_ev = evsignal_new(base, SIGTERM, main_signal_cb, &ctx);
    if (ctx.sigint_ev == NULL || ctx.sigterm_ev == NULL || event_add(ctx.sigint_ev, NULL) != 0 ||
        event_add(ctx.sigterm_ev, NULL) != 0) {
        fprintf(stderr, "chat-server: cannot watch for signals\n");
        goto done;
    }

    printf(strchr(cfg.host, ':') != NULL ? "listening on [%s]:%u\n" : "listening on %s:%u\n",
           cfg.host, chat_server_port(ctx.server));
    fflush(stdout);

    /* dispatch returns 1 when it ran out of events: that is the graceful shutdown finishing. */
    if (event_base_dispatch(base) != -1)
        status = 0;

done:
    chat_server_free(ctx.server); /* closes the history file, after one last fsync */
    if (ctx.sigint_ev != NULL)
        event_free(ctx.sigint_ev);
    if (ctx.sigterm_ev != NULL)
        event_free(ctx.sigterm_ev);
    if (base != NULL)
        event_base_free(base);
    libevent_global_shutdown(); /* frees libevent's own globals, so valgrind reports nothing */
    return status;
}
