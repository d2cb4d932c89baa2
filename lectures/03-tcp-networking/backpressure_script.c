/*
 * backpressure_script.c - the scripted run of `tcp-backpressure --demo`: a fast source and a
 * sink that starts out not reading, on the relay's own event_base.
 *
 * The source sends DEMO_BYTES through an unbounded relay, then through a bounded one. A timer
 * watches the source's progress: when it has sent everything (unbounded), or has been stuck for
 * a tick (bounded: the backpressure reached it), the sink starts reading. The relay logs what
 * its buffers hold; this file prints what the source and the sink see.
 */
#include "backpressure_script.h"
#include "backpressure.h"
#include "demo_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#define DEMO_BYTES (16 * MIB)         /* what the demo's source sends in each run */
#define DEMO_SOURCE_CHUNK (64 * 1024) /* the source refills its own output this much at a time */
#define DEMO_TICK_MS 100              /* how often the demo checks the source's progress */

/* The whole demo's state: the one context of every callback below. */
struct bp_script {
    struct event_base *base;
    struct relay *relays[2]; /* owned; run 0: unbounded, run 1: bounded */
    int run;
    struct evconnlistener *sink_listener; /* owned */
    struct event *tick; /* owned; every DEMO_TICK_MS: is the source still making progress? */
    struct bufferevent *source, *sink; /* owned; NULL when closed */
    size_t produced;                   /* bytes the source has put in its output buffer */
    size_t sent_before; /* bytes the source had handed to the kernel at the previous tick */
    size_t received;    /* bytes the sink has read */
    bool sink_reading;
    int failures;
};

static void demo_start_run(struct bp_script *d);
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
    struct bp_script *d = arg;
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
    struct bp_script *d = arg;

    if (what & BEV_EVENT_CONNECTED) {
        source_write_cb(bev, d); /* the first chunk; the write callback does the rest */
        return;
    }
    printf("source: UNEXPECTED: connection ended early\n");
    d->failures++;
    bufferevent_free(bev);
    d->source = NULL;
}

static void sink_start_reading(struct bp_script *d)
{
    d->sink_reading = true;
    printf("sink: starts reading\n");
    bufferevent_enable(d->sink, EV_READ);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bp_script *d = arg;
    char size[32];

    (void)fd;
    (void)what;
    if (d->sink_reading || d->sink == NULL)
        return;
    size_t sent = d->source == NULL
                      ? d->produced
                      : d->produced - evbuffer_get_length(bufferevent_get_output(d->source));
    if (sent == DEMO_BYTES) {
        printf("source: sent all %d MiB although the sink has read nothing: the relay's memory "
               "and the kernel's socket buffers hold it all\n",
               DEMO_BYTES / MIB);
        sink_start_reading(d);
    } else if (sent > 0 && sent == d->sent_before) {
        printf("source: stuck at %s for %d ms: the relay stopped reading, the kernel's socket "
               "buffers filled up, and the source's writes now wait\n",
               human_size(sent, size, sizeof size), DEMO_TICK_MS);
        sink_start_reading(d);
    }
    d->sent_before = sent;
}

static void sink_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                           int addrlen, void *arg)
{
    struct bp_script *d = arg;

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
    struct bp_script *d = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    d->received += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void sink_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct bp_script *d = arg;

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

static void demo_start_run(struct bp_script *d)
{
    struct sockaddr_in relay_addr = {.sin_family = AF_INET,
                                     .sin_port = htons(relay_port(d->relays[d->run])),
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
    if (bufferevent_socket_connect(d->source, (struct sockaddr *)&relay_addr, sizeof relay_addr) !=
        0) {
        printf("source: UNEXPECTED: cannot connect to the relay\n");
        d->failures++;
        event_base_loopexit(d->base, NULL);
    }
}

/* See backpressure_script.h. */
struct bp_script *bp_script_start(struct event_base *base)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    struct timeval tick = {0, DEMO_TICK_MS * 1000};
    char sink_addr[32];
    struct bp_script *d = calloc(1, sizeof *d);

    if (d == NULL)
        return NULL;
    d->base = base;
    d->sink_listener =
        evconnlistener_new_bind(base, sink_accept_cb, d, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                -1, (struct sockaddr *)&sin, sizeof sin);
    if (d->sink_listener == NULL ||
        getsockname(evconnlistener_get_fd(d->sink_listener), (struct sockaddr *)&sin, &len) != 0)
        goto err;
    snprintf(sink_addr, sizeof sink_addr, "127.0.0.1:%u", ntohs(sin.sin_port));
    d->relays[0] = relay_new(base, 0, sink_addr, false, stdout);
    d->relays[1] = relay_new(base, 0, sink_addr, true, stdout);
    d->tick = event_new(base, -1, EV_PERSIST, tick_cb, d);
    if (d->relays[0] == NULL || d->relays[1] == NULL || d->tick == NULL ||
        event_add(d->tick, &tick) != 0)
        goto err;
    printf("listening on 127.0.0.1:%u and 127.0.0.1:%u (relays to the sink at %s)\n",
           relay_port(d->relays[0]), relay_port(d->relays[1]), sink_addr);
    demo_start_run(d);
    return d;

err:
    bp_script_free(d);
    return NULL;
}

int bp_script_failures(const struct bp_script *s)
{
    return s->failures;
}

/* See backpressure_script.h. */
void bp_script_free(struct bp_script *d)
{
    if (d == NULL)
        return;
    relay_free(d->relays[0]);
    relay_free(d->relays[1]);
    if (d->source != NULL)
        bufferevent_free(d->source);
    if (d->sink != NULL)
        bufferevent_free(d->sink);
    if (d->sink_listener != NULL)
        evconnlistener_free(d->sink_listener);
    if (d->tick != NULL)
        event_free(d->tick);
    free(d);
}
