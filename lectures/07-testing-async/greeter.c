/*
 * greeter.c - see greeter.h. A bufferevent per connection; the lookup's completion callback
 * writes the answer. The one rule that matters here: a lookup pending when the connection
 * closes is cancelled, or its completion would write to a freed bufferevent.
 */
#include "greeter.h"

#include "frame.h"
#include "greet_log.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREETER_MAX_ID_DIGITS 9

struct greeter {
    struct bufferevent *bev;   /* owned; NULL once closed */
    const struct users *users; /* borrowed */
    long pending;              /* handle of the lookup in flight, or -1 */
};

static void greeter_read_cb(struct bufferevent *bev, void *arg);
static void greeter_event_cb(struct bufferevent *bev, short what, void *arg);
static void greeter_done_cb(const char *name, const char *error, void *arg);

struct greeter *greeter_new(struct event_base *base, evutil_socket_t fd, const struct users *users)
{
    struct greeter *g = calloc(1, sizeof *g);
    if (g == NULL) {
        evutil_closesocket(fd);
        return NULL;
    }
    g->users = users;
    g->pending = -1;
    g->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (g->bev == NULL) {
        evutil_closesocket(fd);
        free(g);
        return NULL;
    }
    bufferevent_setcb(g->bev, greeter_read_cb, NULL, greeter_event_cb, g);
    bufferevent_enable(g->bev, EV_READ);
    return g;
}

static int all_digits(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return len > 0;
}

static void greeter_reply(struct greeter *g, const char *text)
{
    frame_encode(bufferevent_get_output(g->bev), text, strlen(text));
}

static void greeter_close(struct greeter *g, const char *why)
{
    if (g->pending >= 0) {
        g->users->cancel(g->users->self, g->pending);
        g->pending = -1;
        greet_log("%s; lookup cancelled", why);
    } else {
        greet_log("%s", why);
    }
    bufferevent_free(g->bev);
    g->bev = NULL;
}

static void greeter_read_cb(struct bufferevent *bev, void *arg)
{
    struct greeter *g = arg;
    unsigned char payload[FRAME_MAX];
    char id_text[GREETER_MAX_ID_DIGITS + 1];
    size_t len;
    int rc;

    while ((rc = frame_decode(bufferevent_get_input(bev), payload, sizeof payload, &len)) == 1) {
        if (g->pending >= 0) {
            greeter_reply(g, "error: busy");
            continue;
        }
        if (len > GREETER_MAX_ID_DIGITS || !all_digits(payload, len)) {
            greeter_reply(g, "error: not a user id");
            continue;
        }
        memcpy(id_text, payload, len);
        id_text[len] = '\0';
        g->pending = g->users->fetch(g->users->self, atoi(id_text), greeter_done_cb, g);
        if (g->pending < 0)
            greeter_reply(g, "error: lookup failed to start");
    }
    if (rc < 0)
        greeter_close(g, "bad frame, closing");
}

static void greeter_done_cb(const char *name, const char *error, void *arg)
{
    struct greeter *g = arg;
    char answer[FRAME_MAX];

    g->pending = -1;
    if (name != NULL)
        snprintf(answer, sizeof answer, "hello, %s", name);
    else
        snprintf(answer, sizeof answer, "error: %s", error);
    greeter_reply(g, answer);
}

static void greeter_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct greeter *g = arg;
    (void)bev;
    greeter_close(g, what & BEV_EVENT_EOF ? "client left" : "connection error");
}

int greeter_closed(const struct greeter *g)
{
    return g->bev == NULL;
}

void greeter_free(struct greeter *g)
{
    if (g == NULL)
        return;
    if (g->bev != NULL)
        greeter_close(g, "server shutting down");
    free(g);
}
