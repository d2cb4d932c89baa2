/*
 * backpressure.c - watermarks and backpressure, shown with a TCP relay (the pattern of
 * libevent's sample/le-proxy.c).
 *
 * The relay accepts a client (the source), connects to a fixed address (the sink), and copies
 * bytes both ways. If the sink reads slowly, what the source sends piles up in the relay's
 * output buffer towards the sink. Unbounded, that pile grows as long as the source keeps
 * sending. Bounded, the relay stops reading from the source once the sink's output holds
 * RELAY_HIGH bytes and starts again when it has drained to RELAY_LOW: the kernel's buffers
 * fill, TCP's window closes, and the source's own writes stop. The slowness travels back to
 * whoever causes the load, and the relay's memory stays bounded.
 *
 *   ./tcp-backpressure --demo
 *       runs a source and a sink in this process, once through an unbounded relay and once
 *       through a bounded one, prints the buffer sizes, and exits.
 *   ./tcp-backpressure --to HOST:PORT [--port N] [--unbounded]
 *       relays 127.0.0.1:N (default 7031) to HOST:PORT until Ctrl-C. Try it with three
 *       terminals:  nc -l 9000   then  ./tcp-backpressure --to 127.0.0.1:9000   then
 *       cat /dev/zero | nc 127.0.0.1 7031   and press Ctrl-Z in the first to stop the sink.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define RELAY_HIGH (256 * 1024) /* stop reading a side when its partner's output holds this */
#define RELAY_LOW (64 * 1024)   /* ...and resume when that output has drained to this */
#define MIB (1024 * 1024)
#define DEFAULT_PORT 7031

#define DEMO_BYTES (16 * MIB)         /* what the demo's source sends in each run */
#define DEMO_SOURCE_CHUNK (64 * 1024) /* the source refills its own output this much at a time */
#define DEMO_TICK_MS 100              /* how often the demo checks the source's progress */

/* ---------------------------------------------------------------------------------------- */
/* The relay                                                                                */
/* ---------------------------------------------------------------------------------------- */

struct relay;
struct relay_pair;

/* One side of a relayed connection. Its callbacks read from this side and write to the
 * partner, exactly like le-proxy's readcb(bev, partner). */
struct relay_end {
    struct relay_pair *pair;
    struct relay_end *partner;
    struct bufferevent *bev; /* NULL once this side has closed */
    const char *name;        /* "source" or "sink", for the log */
    bool paused;             /* we stopped reading this side: the partner's output is full */
    unsigned pauses;
    size_t peak_output;   /* the most this side's output buffer has held */
    size_t next_milestone; /* log when the output first passes this many bytes */
};

struct relay_pair {
    struct relay *relay;
    unsigned long id;
    struct relay_end source, sink;
    bool draining; /* one side has ended: close the pair once the other's output is empty */
    struct relay_pair *prev, *next;
};

struct relay {
    struct event_base *base;
    struct evconnlistener *listener;
    struct sockaddr_storage target;
    int target_len;
    bool bounded;
    uint16_t port;
    FILE *log;
    unsigned long next_id;
    struct relay_pair *pairs; /* every open pair, freed by relay_free() */
};

static void relay_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                            int addrlen, void *arg);
static void relay_read_cb(struct bufferevent *bev, void *arg);
static void relay_write_cb(struct bufferevent *bev, void *arg);
static void relay_event_cb(struct bufferevent *bev, short what, void *arg);

/* "8.0 MiB", "256.0 KiB", "512 B": sizes people can read. */
static const char *human(size_t n, char *buf, size_t bufsz)
{
    if (n >= MIB)
        snprintf(buf, bufsz, "%.1f MiB", (double)n / MIB);
    else if (n >= 1024)
        snprintf(buf, bufsz, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, bufsz, "%zu B", n);
    return buf;
}

__attribute__((format(printf, 2, 3))) static void relay_log(struct relay *relay, const char *fmt,
                                                            ...)
{
    va_list ap;

    if (relay->log == NULL)
        return;
    fputs("relay: ", relay->log);
    va_start(ap, fmt);
    vfprintf(relay->log, fmt, ap);
    va_end(ap);
    fputc('\n', relay->log);
    fflush(relay->log);
}

static void pair_close(struct relay_pair *pair)
{
    struct relay *relay = pair->relay;
    struct relay_end *sink = &pair->sink;
    char peak[32];

    relay_log(relay, "pair %lu closed: the sink's output buffer peaked at %s (%zu bytes); "
                     "reading from the source paused %u time(s)",
              pair->id, human(sink->peak_output, peak, sizeof peak), sink->peak_output,
              pair->source.pauses);
    if (pair->source.bev != NULL)
        bufferevent_free(pair->source.bev);
    if (pair->sink.bev != NULL)
        bufferevent_free(pair->sink.bev);
    if (pair->prev != NULL)
        pair->prev->next = pair->next;
    else
        relay->pairs = pair->next;
    if (pair->next != NULL)
        pair->next->prev = pair->prev;
    free(pair);
}

/* Data arrived on `end`: move it to the partner's output, and stop reading `end` if that
 * output is now too full. This is the whole of le-proxy's backpressure. */
static void relay_read_cb(struct bufferevent *bev, void *arg)
{
    struct relay_end *end = arg;
    struct relay_end *partner = end->partner;
    struct relay *relay = end->pair->relay;
    char size[32];

    if (partner->bev == NULL) { /* the other side is gone: nowhere to send it */
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    struct evbuffer *out = bufferevent_get_output(partner->bev);
    evbuffer_add_buffer(out, bufferevent_get_input(bev));

    size_t queued = evbuffer_get_length(out);
    if (queued > partner->peak_output)
        partner->peak_output = queued;
    if (queued >= partner->next_milestone) {
        relay_log(relay, "pair %lu: the %s's output buffer now holds %s", end->pair->id,
                  partner->name, human(queued, size, sizeof size));
        partner->next_milestone += MIB;
    }

    if (relay->bounded && queued >= RELAY_HIGH) {
        /* The partner's write callback will run once its output is down to RELAY_LOW. */
        bufferevent_setwatermark(partner->bev, EV_WRITE, RELAY_LOW, 0);
        bufferevent_disable(bev, EV_READ);
        end->paused = true;
        if (end->pauses++ == 0) /* the first time only: it happens once per refill */
            relay_log(relay, "pair %lu: the %s's output holds %zu bytes (>= %d): stop reading "
                             "from the %s",
                      end->pair->id, partner->name, queued, RELAY_HIGH, end->name);
    }
}

/* `end`'s output has drained to its write low watermark. */
static void relay_write_cb(struct bufferevent *bev, void *arg)
{
    struct relay_end *end = arg;
    struct relay_end *partner = end->partner;
    size_t left = evbuffer_get_length(bufferevent_get_output(bev));

    if (end->pair->draining) {
        if (left == 0)
            pair_close(end->pair);
        return;
    }
    if (partner->paused) {
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        bufferevent_enable(partner->bev, EV_READ);
        partner->paused = false;
        if (partner->pauses == 1)
            relay_log(end->pair->relay, "pair %lu: the %s's output drained to %zu bytes (<= %d): "
                                        "read from the %s again",
                      end->pair->id, end->name, left, RELAY_LOW, partner->name);
    }
}

/* Connected, or one side ended. When one side ends, finish writing what the other side is
 * still owed, then close both (bufferevent_free would drop the unsent bytes). */
static void relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct relay_end *end = arg;
    struct relay_pair *pair = end->pair;
    struct relay_end *partner = end->partner;

    if (what & BEV_EVENT_CONNECTED) {
        relay_log(pair->relay, "pair %lu: connected to the sink", pair->id);
        return;
    }
    if (what & BEV_EVENT_ERROR)
        relay_log(pair->relay, "pair %lu: %s: %s", pair->id, end->name,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    else
        relay_log(pair->relay, "pair %lu: EOF from the %s", pair->id, end->name);

    if (partner->bev != NULL && !pair->draining) {
        relay_read_cb(bev, end); /* pass on anything still sitting in our input */
        size_t owed = evbuffer_get_length(bufferevent_get_output(partner->bev));
        if (owed > 0) {
            pair->draining = true;
            bufferevent_disable(partner->bev, EV_READ);
            bufferevent_setwatermark(partner->bev, EV_WRITE, 0, 0);
            bufferevent_free(bev);
            end->bev = NULL;
            return;
        }
    }
    pair_close(pair);
}

static void relay_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                            int addrlen, void *arg)
{
    struct relay *relay = arg;
    struct relay_pair *pair = calloc(1, sizeof *pair);

    (void)lev;
    (void)addr;
    (void)addrlen;
    if (pair == NULL) {
        evutil_closesocket(fd);
        return;
    }
    pair->relay = relay;
    pair->id = ++relay->next_id;
    pair->source = (struct relay_end){.pair = pair, .partner = &pair->sink, .name = "source",
                                      .next_milestone = MIB};
    pair->sink = (struct relay_end){.pair = pair, .partner = &pair->source, .name = "sink",
                                    .next_milestone = MIB};
    pair->source.bev = bufferevent_socket_new(relay->base, fd, BEV_OPT_CLOSE_ON_FREE);
    pair->sink.bev = bufferevent_socket_new(relay->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (pair->source.bev == NULL || pair->sink.bev == NULL) {
        if (pair->source.bev == NULL)
            evutil_closesocket(fd);
        goto err;
    }
    pair->next = relay->pairs;
    if (relay->pairs != NULL)
        relay->pairs->prev = pair;
    relay->pairs = pair;

    bufferevent_setcb(pair->source.bev, relay_read_cb, relay_write_cb, relay_event_cb,
                      &pair->source);
    bufferevent_setcb(pair->sink.bev, relay_read_cb, relay_write_cb, relay_event_cb, &pair->sink);
    bufferevent_enable(pair->source.bev, EV_READ);
    bufferevent_enable(pair->sink.bev, EV_READ);
    relay_log(relay, "pair %lu: a source connected; connecting to the sink", pair->id);
    /* Asynchronous: the result arrives in relay_event_cb. Bytes read from the source in the
     * meantime wait in the sink's output buffer. */
    if (bufferevent_socket_connect(pair->sink.bev, (struct sockaddr *)&relay->target,
                                   relay->target_len) != 0) {
        relay_log(relay, "pair %lu: cannot connect to the sink", pair->id);
        pair_close(pair);
    }
    return;

err:
    if (pair->source.bev != NULL)
        bufferevent_free(pair->source.bev);
    if (pair->sink.bev != NULL)
        bufferevent_free(pair->sink.bev);
    free(pair);
}

static void relay_free(struct relay *relay)
{
    if (relay == NULL)
        return;
    while (relay->pairs != NULL)
        pair_close(relay->pairs);
    if (relay->listener != NULL)
        evconnlistener_free(relay->listener);
    free(relay);
}

/* Listens on 127.0.0.1:port (0 = any free port) and relays to `to` ("host:port"). NULL on
 * failure, with the reason on stderr. */
static struct relay *relay_new(struct event_base *base, uint16_t port, const char *to,
                               bool bounded, FILE *log)
{
    struct relay *relay = calloc(1, sizeof *relay);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;

    if (relay == NULL)
        return NULL;
    relay->base = base;
    relay->bounded = bounded;
    relay->log = log;
    relay->target_len = (int)sizeof relay->target;
    if (evutil_parse_sockaddr_port(to, (struct sockaddr *)&relay->target, &relay->target_len) !=
        0) {
        fprintf(stderr, "tcp-backpressure: %s is not HOST:PORT\n", to);
        goto err;
    }
    relay->listener = evconnlistener_new_bind(base, relay_accept_cb, relay,
                                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                              (struct sockaddr *)&sin, sizeof sin);
    if (relay->listener == NULL ||
        getsockname(evconnlistener_get_fd(relay->listener), (struct sockaddr *)&sin, &len) != 0) {
        fprintf(stderr, "tcp-backpressure: cannot listen on port %u: %s\n", port,
                strerror(errno));
        goto err;
    }
    relay->port = ntohs(sin.sin_port);
    return relay;

err:
    relay_free(relay);
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* The demo: a fast source and a sink that starts out not reading, on the same event_base    */
/* ---------------------------------------------------------------------------------------- */

struct demo {
    struct event_base *base;
    struct relay *relays[2]; /* run 0: unbounded, run 1: bounded */
    int run;
    struct evconnlistener *sink_listener;
    struct event *tick; /* every DEMO_TICK_MS: is the source still making progress? */
    struct bufferevent *source, *sink;
    size_t produced;     /* bytes the source has put in its output buffer */
    size_t sent_before;  /* bytes the source had handed to the kernel at the previous tick */
    size_t received;     /* bytes the sink has read */
    bool sink_reading;
    int failures;
};

static void demo_start_run(struct demo *d);
static void source_write_cb(struct bufferevent *bev, void *arg);
static void source_event_cb(struct bufferevent *bev, short what, void *arg);
static void sink_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                           int addrlen, void *arg);
static void sink_read_cb(struct bufferevent *bev, void *arg);
static void sink_event_cb(struct bufferevent *bev, short what, void *arg);
static void tick_cb(evutil_socket_t fd, short what, void *arg);

/* The source respects backpressure too: it adds more only when its own output has drained
 * (this is its write callback), so its memory use is bounded by DEMO_SOURCE_CHUNK. */
static void source_write_cb(struct bufferevent *bev, void *arg)
{
    struct demo *d = arg;
    static const char chunk[DEMO_SOURCE_CHUNK]; /* the contents do not matter: zeroes */
    struct evbuffer *out = bufferevent_get_output(bev);

    if (d->produced == DEMO_BYTES) {
        if (evbuffer_get_length(out) == 0) {
            printf("source: all %d MiB handed to the kernel; closing (the relay sees EOF)\n",
                   DEMO_BYTES / MIB);
            bufferevent_free(bev);
            d->source = NULL;
        }
        return;
    }
    size_t n = DEMO_BYTES - d->produced < sizeof chunk ? DEMO_BYTES - d->produced : sizeof chunk;
    bufferevent_write(bev, chunk, n);
    d->produced += n;
}

static void source_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct demo *d = arg;

    if (what & BEV_EVENT_CONNECTED) {
        source_write_cb(bev, d); /* the first chunk; the write callback does the rest */
        return;
    }
    printf("source: UNEXPECTED: connection ended early\n");
    d->failures++;
    bufferevent_free(bev);
    d->source = NULL;
}

static void sink_start_reading(struct demo *d)
{
    d->sink_reading = true;
    printf("sink: starts reading\n");
    bufferevent_enable(d->sink, EV_READ);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct demo *d = arg;
    char size[32];

    (void)fd;
    (void)what;
    if (d->sink_reading || d->sink == NULL)
        return;
    size_t sent = d->source == NULL ? d->produced
                                    : d->produced - evbuffer_get_length(bufferevent_get_output(
                                                        d->source));
    if (sent == DEMO_BYTES) {
        printf("source: sent all %d MiB although the sink has read nothing: the relay's memory "
               "and the kernel's socket buffers hold it all\n",
               DEMO_BYTES / MIB);
        sink_start_reading(d);
    } else if (sent > 0 && sent == d->sent_before) {
        printf("source: stuck at %s for %d ms: the relay stopped reading, the kernel's socket "
               "buffers filled up, and the source's writes now wait\n",
               human(sent, size, sizeof size), DEMO_TICK_MS);
        sink_start_reading(d);
    }
    d->sent_before = sent;
}

static void sink_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                           int addrlen, void *arg)
{
    struct demo *d = arg;

    (void)lev;
    (void)addr;
    (void)addrlen;
    d->sink = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (d->sink == NULL) {
        evutil_closesocket(fd);
        d->failures++;
        event_base_loopexit(d->base, NULL);
        return;
    }
    bufferevent_setcb(d->sink, sink_read_cb, NULL, sink_event_cb, d);
    /* Reading stays disabled: this sink is "slow" until tick_cb says otherwise. */
    printf("sink: accepted the relay's connection; not reading yet\n");
}

static void sink_read_cb(struct bufferevent *bev, void *arg)
{
    struct demo *d = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    d->received += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void sink_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct demo *d = arg;

    if ((what & BEV_EVENT_EOF) && d->received == DEMO_BYTES) {
        printf("sink: EOF after all %zu bytes\n", d->received);
    } else {
        printf("sink: UNEXPECTED: the stream ended after %zu of %d bytes\n", d->received,
               DEMO_BYTES);
        d->failures++;
    }
    bufferevent_free(bev);
    d->sink = NULL;
    if (++d->run < 2) {
        demo_start_run(d);
    } else {
        event_del(d->tick);
        event_base_loopexit(d->base, NULL); /* main frees the relays and the rest */
    }
}

static void demo_start_run(struct demo *d)
{
    struct sockaddr_in relay_addr = {.sin_family = AF_INET,
                                     .sin_port = htons(d->relays[d->run]->port),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    printf(d->run == 0 ? "\n== 1. unbounded relay: the sink does not read; the source sends "
                         "%d MiB\n"
                       : "\n== 2. bounded relay (stop at %d KiB, resume at %d KiB): the same "
                         "source and sink\n",
           d->run == 0 ? DEMO_BYTES / MIB : RELAY_HIGH / 1024, RELAY_LOW / 1024);
    d->produced = d->sent_before = d->received = 0;
    d->sink_reading = false;
    d->source = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (d->source == NULL) {
        d->failures++;
        event_base_loopexit(d->base, NULL);
        return;
    }
    bufferevent_setcb(d->source, NULL, source_write_cb, source_event_cb, d);
    if (bufferevent_socket_connect(d->source, (struct sockaddr *)&relay_addr,
                                   sizeof relay_addr) != 0) {
        printf("source: UNEXPECTED: cannot connect to the relay\n");
        d->failures++;
        event_base_loopexit(d->base, NULL);
    }
}

/* ---------------------------------------------------------------------------------------- */

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
    struct demo d = {0};
    struct signal_ctx sig = {0};
    struct relay *relay = NULL;
    const char *to = NULL;
    long port = DEFAULT_PORT;
    bool demo = false, bounded = true;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
        } else if (strcmp(argv[i], "--unbounded") == 0) {
            bounded = false;
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = strtol(argv[++i], &end, 10);
            if (*end != '\0' || end == argv[i] || port < 0 || port > 65535)
                usage(argv[0]);
        } else {
            usage(argv[0]);
        }
    }
    if (demo == (to != NULL))
        usage(argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    d.base = event_base_new();
    if (d.base == NULL)
        goto done;
    sig.base = d.base;
    sig.sigint = evsignal_new(d.base, SIGINT, signal_cb, &sig);
    sig.sigterm = evsignal_new(d.base, SIGTERM, signal_cb, &sig);
    if (sig.sigint == NULL || sig.sigterm == NULL || event_add(sig.sigint, NULL) != 0 ||
        event_add(sig.sigterm, NULL) != 0)
        goto done;

    if (!demo) {
        relay = relay_new(d.base, (uint16_t)port, to, bounded, stdout);
        if (relay == NULL)
            goto done;
        printf("listening on 127.0.0.1:%u (relaying to %s, %s)\n", relay->port, to,
               bounded ? "bounded" : "unbounded");
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sin;
        char sink_addr[32];

        d.sink_listener = evconnlistener_new_bind(d.base, sink_accept_cb, &d,
                                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                                  (struct sockaddr *)&sin, sizeof sin);
        if (d.sink_listener == NULL ||
            getsockname(evconnlistener_get_fd(d.sink_listener), (struct sockaddr *)&sin, &len) !=
                0)
            goto done;
        snprintf(sink_addr, sizeof sink_addr, "127.0.0.1:%u", ntohs(sin.sin_port));
        d.relays[0] = relay_new(d.base, 0, sink_addr, false, stdout);
        d.relays[1] = relay_new(d.base, 0, sink_addr, true, stdout);
        struct timeval tick = {0, DEMO_TICK_MS * 1000};
        d.tick = event_new(d.base, -1, EV_PERSIST, tick_cb, &d);
        if (d.relays[0] == NULL || d.relays[1] == NULL || d.tick == NULL)
            goto done;
        printf("listening on 127.0.0.1:%u and 127.0.0.1:%u (relays to the sink at %s)\n",
               d.relays[0]->port, d.relays[1]->port, sink_addr);
        event_add(d.tick, &tick);
        demo_start_run(&d);
    }

    if (event_base_dispatch(d.base) >= 0)
        status = demo && d.failures > 0 ? 1 : 0;

done:
    relay_free(relay);
    relay_free(d.relays[0]);
    relay_free(d.relays[1]);
    if (d.source != NULL)
        bufferevent_free(d.source);
    if (d.sink != NULL)
        bufferevent_free(d.sink);
    if (d.sink_listener != NULL)
        evconnlistener_free(d.sink_listener);
    if (d.tick != NULL)
        event_free(d.tick);
    if (sig.sigint != NULL)
        event_free(sig.sigint);
    if (sig.sigterm != NULL)
        event_free(sig.sigterm);
    if (d.base != NULL)
        event_base_free(d.base);
    return status;
}
