/*
 * backpressure.c - watermarks and backpressure, shown with a TCP relay (the pattern of
 * libevent's sample/le-proxy.c).
 *
 * The relay accepts a client (the source), connects to a fixed address (the sink), and copies
 * bytes both ways. If the sink reads slowly, what the source sends piles up in the relay's
 * output buffer towards the sink. Bounded, the relay stops reading from the source once the
 * sink's output holds RELAY_HIGH bytes and starts again when it has drained to RELAY_LOW, so
 * the slowness travels back to the source and the relay's memory stays bounded. Try it with
 * `./tcp-backpressure --demo`, or by hand as backpressure_main.c describes.
 */
#include "backpressure.h"
#include "demo_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

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
    size_t peak_output;    /* the most this side's output buffer has held */
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

    relay_log(relay,
              "pair %lu closed: the sink's output buffer peaked at %s (%zu bytes); "
              "reading from the source paused %u time(s)",
              pair->id, human_size(sink->peak_output, peak, sizeof peak), sink->peak_output,
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
                  partner->name, human_size(queued, size, sizeof size));
        partner->next_milestone += MIB;
    }

    if (relay->bounded && queued >= RELAY_HIGH) {
        /* The partner's write callback will run once its output is down to RELAY_LOW. */
        bufferevent_setwatermark(partner->bev, EV_WRITE, RELAY_LOW, 0);
        bufferevent_disable(bev, EV_READ);
        end->paused = true;
        if (end->pauses++ == 0) /* the first time only: it happens once per refill */
            relay_log(relay,
                      "pair %lu: the %s's output holds %zu bytes (>= %d): stop reading "
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
            relay_log(end->pair->relay,
                      "pair %lu: the %s's output drained to %zu bytes (<= %d): "
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
    pair->source = (struct relay_end){
        .pair = pair, .partner = &pair->sink, .name = "source", .next_milestone = MIB};
    pair->sink = (struct relay_end){
        .pair = pair, .partner = &pair->source, .name = "sink", .next_milestone = MIB};
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

/* See backpressure.h. */
void relay_free(struct relay *relay)
{
    if (relay == NULL)
        return;
    while (relay->pairs != NULL)
        pair_close(relay->pairs);
    if (relay->listener != NULL)
        evconnlistener_free(relay->listener);
    free(relay);
}

/* See backpressure.h. */
struct relay *relay_new(struct event_base *base, uint16_t port, const char *to, bool bounded,
                        FILE *log)
{
    struct relay *relay = calloc(1, sizeof *relay);
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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
        fprintf(stderr, "tcp-backpressure: cannot listen on port %u: %s\n", port, strerror(errno));
        goto err;
    }
    relay->port = ntohs(sin.sin_port);
    return relay;

err:
    relay_free(relay);
    return NULL;
}

uint16_t relay_port(const struct relay *relay)
{
    return relay->port;
}
