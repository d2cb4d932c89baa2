/*
 * chan_broadcast.c - broadcast with a ring per subscriber and a "lagged" report.
 *
 * The one idea: a slow subscriber costs only itself. A send puts one reference to the same
 * message into every ring; where a ring is full, its oldest message is dropped and counted,
 * and the subscriber hears about it on its next receive. A plain reference count is enough
 * because everything happens on the loop thread.
 */
#include "chan_broadcast.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct bcast_sub {
    struct bcast *b;
    struct bcast_msg **ring; /* capacity slots, count used from head */
    size_t head, count;
    uint64_t lost;         /* dropped since the last BCAST_LAGGED */
    struct event *wake_ev; /* owned; activated by bcast_send */
    bcast_wake_fn fn;
    void *arg;
    struct bcast_sub *next;
};

struct bcast {
    size_t capacity;
    uint64_t next_seq;
    struct event_base *base;
    struct bcast_sub *subs; /* owned, a list */
};

struct bcast *bcast_new(struct event_base *base, size_t capacity)
{
    struct bcast *b = calloc(1, sizeof *b);
    if (b == NULL || capacity == 0) {
        free(b);
        return NULL;
    }
    b->base = base;
    b->capacity = capacity;
    return b;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bcast_sub *sub = arg;
    (void)fd;
    (void)what;
    sub->fn(sub, sub->arg);
}

struct bcast_sub *bcast_subscribe(struct bcast *b, bcast_wake_fn fn, void *arg)
{
    struct bcast_sub *sub = calloc(1, sizeof *sub);
    if (sub == NULL)
        return NULL;
    sub->ring = calloc(b->capacity, sizeof *sub->ring);
    sub->wake_ev = event_new(b->base, -1, 0, wake_cb, sub);
    if (sub->ring == NULL || sub->wake_ev == NULL) {
        if (sub->wake_ev != NULL)
            event_free(sub->wake_ev);
        free(sub->ring);
        free(sub);
        return NULL;
    }
    sub->b = b;
    sub->fn = fn;
    sub->arg = arg;
    sub->next = b->subs;
    b->subs = sub;
    return sub;
}

void bcast_msg_unref(struct bcast_msg *m)
{
    if (--m->refs == 0)
        free(m);
}

void bcast_unsubscribe(struct bcast_sub *sub)
{
    for (struct bcast_sub **p = &sub->b->subs; *p != NULL; p = &(*p)->next) {
        if (*p == sub) {
            *p = sub->next;
            break;
        }
    }
    for (size_t i = 0; i < sub->count; i++)
        bcast_msg_unref(sub->ring[(sub->head + i) % sub->b->capacity]);
    event_free(sub->wake_ev); /* also cancels a wake-up that has not run yet */
    free(sub->ring);
    free(sub);
}

void bcast_free(struct bcast *b)
{
    if (b == NULL)
        return;
    while (b->subs != NULL)
        bcast_unsubscribe(b->subs);
    free(b);
}

int bcast_send(struct bcast *b, const char *text, size_t len)
{
    struct bcast_msg *m = malloc(sizeof *m + len + 1);
    if (m == NULL)
        return -1;
    m->refs = 1; /* ours, dropped at the end */
    m->seq = ++b->next_seq;
    m->len = len;
    memcpy(m->text, text, len);
    m->text[len] = '\0';
    for (struct bcast_sub *sub = b->subs; sub != NULL; sub = sub->next) {
        if (sub->count == b->capacity) { /* full: this subscriber loses its oldest */
            bcast_msg_unref(sub->ring[sub->head]);
            sub->head = (sub->head + 1) % b->capacity;
            sub->count--;
            sub->lost++;
        }
        m->refs++;
        sub->ring[(sub->head + sub->count++) % b->capacity] = m;
        event_active(sub->wake_ev, EV_READ, 0); /* merges with a wake-up already queued */
    }
    bcast_msg_unref(m);
    return 0;
}

enum bcast_status bcast_recv(struct bcast_sub *sub, struct bcast_msg **out, uint64_t *lost)
{
    if (sub->lost > 0) { /* report the gap before what follows it */
        *lost = sub->lost;
        sub->lost = 0;
        return BCAST_LAGGED;
    }
    if (sub->count == 0)
        return BCAST_EMPTY;
    *out = sub->ring[sub->head]; /* the ring's reference passes to the caller */
    sub->head = (sub->head + 1) % sub->b->capacity;
    sub->count--;
    return BCAST_OK;
}
