/*
 * main.c - the http-api command: the items API on the command line.
 *
 *     http-api [--host H] [--port P] [--threads N]
 *
 * Serves until SIGINT (Ctrl-C) or SIGTERM, then shuts down gracefully and exits 0: replies
 * being sent are finished, then every connection is closed. A second Ctrl-C during that
 * shutdown ends the process at once. Requests are logged to stderr. Try it:
 *
 *     ./build/solutions/ex03-http-api/http-api --port 3000
 *     curl -s localhost:3000/items
 */
#include "http_api.h"

#include <event2/event.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_BUFFER_BYTES (64 * 1024) /* request log lines collected before a write() */

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [--host H] [--port P] [--threads N]\n"
            "  --host H     address to listen on (default %s)\n"
            "  --port P     port, 0 for any free one (default %d)\n"
            "  --threads N  worker threads, 1-%d (default: one per core)\n",
            prog, HTTP_API_DEFAULT_HOST, HTTP_API_DEFAULT_PORT, HTTP_API_MAX_THREADS);
}

/* STUDENT(13): The command line: --host H, --port P (0 to 65535; 0 = any free port) and
 * --threads N (1 to HTTP_API_MAX_THREADS), in any order, and --help (return 1: main prints
 * the usage on stdout and exits 0). For an unknown option, a missing value, a value that is
 * not a whole number in range ("http", "70000", "3x", "0" threads) or a stray argument, say
 * what was wrong on stderr and return -1: main then prints the usage on stderr and exits 2.
 * The trap: the quick conversions read "3x" as 3 and "http" as 0, a valid port; a number must
 * be checked down to its last character.
 * stub:
 *     static int parse_args(int argc, char **argv, struct http_api_config *cfg)
 *     {
 *         (void)cfg;
 *         if (argc > 1) {
 *             fprintf(stderr, "%s: options are not read yet\n", argv[0]);
 *             return -1;
 *         }
 *         return 0;
 *     } */
/* Parses a whole decimal string within [min, max]. Returns 0 or -1. */
static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Fills cfg from the arguments. Returns 0, 1 for --help, or -1 (with a message) if invalid. */
static int parse_args(int argc, char **argv, struct http_api_config *cfg)
{
    static const struct option options[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long v;
    int opt;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'H':
            cfg->host = optarg;
            break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &v) != 0) {
                fprintf(stderr, "%s: invalid port: %s\n", argv[0], optarg);
                return -1;
            }
            cfg->port = (uint16_t)v;
            break;
        case 't':
            if (parse_int(optarg, 1, HTTP_API_MAX_THREADS, &v) != 0) {
                fprintf(stderr, "%s: invalid thread count: %s\n", argv[0], optarg);
                return -1;
            }
            cfg->threads = (int)v;
            break;
        case 'h':
            return 1;
        default:
            return -1; /* getopt_long has said what was wrong */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument: %s\n", argv[0], argv[optind]);
        return -1;
    }
    return 0;
}
/* END STUDENT(13) */

static void signal_cb(evutil_socket_t sig, short what, void *arg);

struct signal_ctx {
    struct event_base *base;
    struct event *events[2]; /* SIGINT, SIGTERM */
};

/* Stops main's loop; main then shuts the server down. The signal events are deleted here (so a
 * second signal gets the default action and ends the process) and freed after the loop. */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct signal_ctx *ctx = arg;
    (void)what;
    fprintf(stderr, "%s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    for (int i = 0; i < 2; i++)
        event_del(ctx->events[i]);
    event_base_loopbreak(ctx->base);
}

int main(int argc, char **argv)
{
    struct http_api_config cfg = {
        .host = HTTP_API_DEFAULT_HOST,
        .port = HTTP_API_DEFAULT_PORT,
        .threads = 0, /* one per core */
        .log = stderr,
    };
    struct signal_ctx sig = {0};
    struct http_api *api = NULL;
    int status = 1;
    static char log_buffer[LOG_BUFFER_BYTES];

    /* C leaves stderr unbuffered: a write() per request log line, an eighth of the server's
     * system calls. Fully buffered, the lines leave in batches; the server flushes the stream
     * HTTP_API_LOG_FLUSH_MS after a request and at shutdown, and exit() flushes it too. This
     * must come before anything is written to stderr. */
    setvbuf(stderr, log_buffer, _IOFBF, sizeof log_buffer);

    int rc = parse_args(argc, argv, &cfg);
    if (rc != 0) {
        usage(rc > 0 ? stdout : stderr, argv[0]);
        return rc > 0 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a client that vanishes must cost an EPIPE, not the process */

    api = http_api_new(&cfg); /* the reason for a failure is already on stderr */
    if (api == NULL)
        goto done;

    /* Signals are handled on main's own base; the workers never see them. They are set up
     * before the "listening" line, so whoever reads that line may send SIGTERM at once. */
    sig.base = event_base_new();
    if (sig.base == NULL)
        goto done;
    sig.events[0] = evsignal_new(sig.base, SIGINT, signal_cb, &sig);
    sig.events[1] = evsignal_new(sig.base, SIGTERM, signal_cb, &sig);
    if (sig.events[0] == NULL || sig.events[1] == NULL || event_add(sig.events[0], NULL) != 0 ||
        event_add(sig.events[1], NULL) != 0)
        goto done;

    printf("listening on %s%s%s:%u\n", strchr(cfg.host, ':') ? "[" : "", cfg.host,
           strchr(cfg.host, ':') ? "]" : "", http_api_port(api));
    fflush(stdout);

    event_base_dispatch(sig.base);
    status = 0;

done:
    http_api_free(api); /* graceful: finishes replies in flight, joins the workers */
    for (int i = 0; i < 2; i++)
        if (sig.events[i] != NULL)
            event_free(sig.events[i]);
    if (sig.base != NULL)
        event_base_free(sig.base);
    /* evthread_use_pthreads() made libevent allocate its global locks; this frees them (and
     * libevent's other globals), so valgrind's memcheck reports nothing at all. */
    libevent_global_shutdown();
    return status;
}
