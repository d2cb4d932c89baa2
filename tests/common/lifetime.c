/*
 * lifetime.c - see lifetime.h.
 *
 * Telling events apart without reading memory that may not be what it seems (an event's
 * argument may point to anything, freed memory included):
 * - libevent's own events carry EVLIST_INTERNAL in their flags (event2/event_struct.h);
 * - a bufferevent's events and a listener's have callbacks private to libevent, which are
 *   learnt by making one of each on a scratch base and reading their events' callbacks (only
 *   when an event is left). An event with a bufferevent's callback gets the bufferevent as its
 *   argument, and is one of the two members of the public struct bufferevent
 *   (event2/bufferevent_struct.h): both are checked before the bufferevent is asked anything.
 * The check costs nothing when nothing is left behind.
 */
#include "lifetime.h"

#include "harness.h"
#include "stack_trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEFT_MAX 32 /* events named one by one; the rest are counted */

struct left_event {
    const struct event *ev;
    evutil_socket_t fd;
    short what;
    event_callback_fn cb;
    void *arg;
    struct bufferevent *bev; /* the bufferevent it belongs to, or NULL */
};

struct left_list {
    struct left_event items[LEFT_MAX];
    int n;
    int more; /* events beyond LEFT_MAX */
};

static int has(const struct lifetime_fds *s, int fd)
{
    return fd >= 0 && fd < LIFETIME_MAX_FD && (s->bits[fd / 8] & (1u << (fd % 8))) != 0;
}

static void add(struct lifetime_fds *s, int fd)
{
    if (fd >= 0 && fd < LIFETIME_MAX_FD)
        s->bits[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

void lifetime_snapshot(struct lifetime_fds *fds)
{
    memset(fds, 0, sizeof *fds);
    for (int fd = 0; fd < LIFETIME_MAX_FD; fd++)
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            add(fds, fd);
}

/* The port of an AF_INET socket address, or 0. */
static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port) : 0;
}

/* What fd is, for a warning: "a socket connected to 127.0.0.1:40116". */
static void describe_fd(int fd, char *out, size_t outsz)
{
    struct stat st;
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof local, plen = sizeof peer;
    int listening = 0;
    socklen_t ilen = sizeof listening;

    if (fstat(fd, &st) != 0) {
        snprintf(out, outsz, "closed");
        return;
    }
    if (S_ISSOCK(st.st_mode)) {
        int have_local = getsockname(fd, (struct sockaddr *)&local, &llen) == 0;
        if (!have_local || local.ss_family != AF_INET) {
            snprintf(out, outsz, "a socket");
            return;
        }
#ifdef SO_ACCEPTCONN
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen);
#endif
        if (listening)
            snprintf(out, outsz, "a listening socket on 127.0.0.1:%u", port_of(&local));
        else if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
            snprintf(out, outsz, "a socket connected to 127.0.0.1:%u", port_of(&peer));
        else
            snprintf(out, outsz, "a socket");
    } else if (S_ISFIFO(st.st_mode)) {
        snprintf(out, outsz, "a pipe");
    } else if (S_ISREG(st.st_mode)) {
        snprintf(out, outsz, "a file");
    } else {
        snprintf(out, outsz, "a descriptor");
    }
}

/* Does the test itself hold fd: a client socket connected to the server? */
static int is_test_client(int fd, uint16_t server_port)
{
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    return server_port != 0 && getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 &&
           port_of(&peer) == server_port;
}

/* The callbacks libevent gives the events of its own objects. */
struct library_callbacks {
    event_callback_fn listener;
    event_callback_fn bufferevent[2]; /* reading, writing */
};

static int collect_cb(const struct event_base *base, const struct event *ev, void *arg)
{
    struct left_list *left = arg;
    (void)base;

    if (ev->ev_evcallback.evcb_flags & EVLIST_INTERNAL)
        return 0; /* libevent's own: its wake-up and signal pipes */
    if (left->n == LEFT_MAX) {
        left->more++;
        return 0;
    }
    struct left_event *e = &left->items[left->n++];
    e->ev = ev;
    e->fd = event_get_fd(ev);
    e->what = event_get_events(ev);
    e->cb = event_get_callback(ev);
    e->arg = event_get_callback_arg(ev);
    return 0;
}

static void nothing_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int len,
                       void *arg)
{
    (void)lev;
    (void)fd;
    (void)sa;
    (void)len;
    (void)arg;
}

/* A scratch base's events, by what they belong to: the listener, or the bufferevent (a known
 * one, so its members tell its reading event from its writing one). */
struct learning {
    struct evconnlistener *lev;
    struct bufferevent *bev;
    struct library_callbacks *known;
};

static int learn_cb(const struct event_base *base, const struct event *ev, void *arg)
{
    struct learning *l = arg;
    (void)base;
    if (ev->ev_evcallback.evcb_flags & EVLIST_INTERNAL)
        return 0;
    void *owner = event_get_callback_arg(ev);
    if (owner == l->lev)
        l->known->listener = event_get_callback(ev);
    else if (owner == l->bev && ev == &l->bev->ev_read)
        l->known->bufferevent[0] = event_get_callback(ev);
    else if (owner == l->bev && ev == &l->bev->ev_write)
        l->known->bufferevent[1] = event_get_callback(ev);
    return 0;
}

/* Learns libevent's callbacks from a listener (backlog 0: its socket never listens) and a
 * bufferevent (on one end of a socket pair) of our own. What cannot be made stays NULL. */
static void learn_library_callbacks(struct library_callbacks *known)
{
    struct learning l = {.known = known};
    evutil_socket_t pair[2] = {-1, -1};
    struct event_base *base = event_base_new();

    memset(known, 0, sizeof *known);
    if (base == NULL)
        return;
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        l.lev = evconnlistener_new(base, nothing_cb, NULL, LEV_OPT_CLOSE_ON_FREE, 0, fd);
        if (l.lev == NULL)
            evutil_closesocket(fd);
    }
    if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0) {
        l.bev = bufferevent_socket_new(base, pair[0], BEV_OPT_CLOSE_ON_FREE);
        if (l.bev != NULL)
            bufferevent_enable(l.bev, EV_READ | EV_WRITE);
        else
            evutil_closesocket(pair[0]);
        evutil_closesocket(pair[1]);
    }
    event_base_foreach_event(base, learn_cb, &l);
    if (l.bev != NULL)
        bufferevent_free(l.bev);
    if (l.lev != NULL)
        evconnlistener_free(l.lev);
    event_base_free(base);
}

/* The bufferevent an event belongs to, or NULL: it has a bufferevent's callback and is a member
 * of the bufferevent its argument points to. */
static struct bufferevent *bufferevent_of(const struct left_event *e,
                                          const struct library_callbacks *known)
{
    uintptr_t owner = (uintptr_t)e->arg, at = (uintptr_t)e->ev;
    if (e->cb == NULL || owner == 0 ||
        (e->cb != known->bufferevent[0] && e->cb != known->bufferevent[1]))
        return NULL;
    if (owner + offsetof(struct bufferevent, ev_read) != at &&
        owner + offsetof(struct bufferevent, ev_write) != at)
        return NULL;
    return e->arg;
}

/* "read_cb (echo_server.c:20)", or "" when the callback cannot be named. */
static void callback_words(const struct stack_place *p, char *out, size_t outsz)
{
    int funclen = (int)strnlen(p->func, sizeof p->func);
    int filelen = (int)strnlen(p->file, sizeof p->file);
    if (funclen > 0 && p->line > 0)
        snprintf(out, outsz, "%.*s (%.*s:%d)", funclen, p->func, filelen, p->file, p->line);
    else
        snprintf(out, outsz, "%.*s", funclen, p->func);
}

int lifetime_check_events(struct event_base *base, const char *free_call,
                          struct lifetime_fds *named)
{
    struct left_list left;
    void *cbs[LEFT_MAX];
    struct stack_place places[LEFT_MAX];
    int warned = 0;

    left.n = 0;
    left.more = 0;
    event_base_foreach_event(base, collect_cb, &left);
    if (left.n == 0)
        return 0;

    /* The callbacks the student wrote are named; a bufferevent's own event callbacks are
     * libevent's, so its read callback (or event callback) is named instead. */
    struct library_callbacks known;
    learn_library_callbacks(&known);
    for (int i = 0; i < left.n; i++) {
        struct left_event *e = &left.items[i];
        cbs[i] = (void *)e->cb;
        e->bev = bufferevent_of(e, &known);
        if (e->bev != NULL) {
            bufferevent_data_cb readcb = NULL;
            bufferevent_event_cb eventcb = NULL;
            bufferevent_getcb(e->bev, &readcb, NULL, &eventcb, NULL);
            cbs[i] = readcb != NULL ? (void *)readcb : (void *)eventcb;
        }
    }
    stack_trace_name(cbs, left.n, 0, places);

    for (int i = 0; i < left.n; i++) {
        struct left_event *e = &left.items[i];
        char fdtext[96] = "no descriptor",
             cbtext[sizeof places[i].func + sizeof places[i].file + 32];
        int dup = 0;
        for (int k = 0; k < i && e->bev != NULL; k++)
            dup = dup || left.items[k].bev == e->bev;
        if (dup)
            continue; /* the bufferevent's other event */
        callback_words(&places[i], cbtext, sizeof cbtext);
        if (e->fd >= 0 && !(e->what & EV_SIGNAL)) {
            char what[64];
            describe_fd(e->fd, what, sizeof what);
            snprintf(fdtext, sizeof fdtext, "fd %d (%s)", (int)e->fd, what);
            add(named, (int)e->fd);
        }
        if (e->bev != NULL)
            harness_warn("a bufferevent for %s was never freed: it is still registered on the "
                         "event base after %s%s%s",
                         fdtext, free_call, cbtext[0] != '\0' ? "; its callback: " : "", cbtext);
        else if (known.listener != NULL && e->cb == known.listener)
            harness_warn("a listener (evconnlistener) on %s was never freed: it is still "
                         "registered on the event base after %s",
                         fdtext, free_call);
        else if (e->what & EV_SIGNAL)
            harness_warn("an event for signal %d was never freed: it is still registered on the "
                         "event base after %s%s%s",
                         (int)e->fd, free_call, cbtext[0] != '\0' ? "; its callback: " : "",
                         cbtext);
        else if (e->fd < 0)
            harness_warn("a timer was never freed: it is still pending on the event base after "
                         "%s%s%s",
                         free_call, cbtext[0] != '\0' ? "; its callback: " : "", cbtext);
        else
            harness_warn("an event for %s was never freed: it is still registered on the event "
                         "base after %s%s%s",
                         fdtext, free_call, cbtext[0] != '\0' ? "; its callback: " : "", cbtext);
        warned++;
    }
    if (left.more > 0) {
        harness_warn("%d more events are still registered on the event base after %s", left.more,
                     free_call);
        warned++;
    }
    return warned;
}

int lifetime_check_fds(const struct lifetime_fds *before, const struct lifetime_fds *named,
                       uint16_t server_port, const char *free_call)
{
    struct lifetime_fds now;
    int warned = 0;

    lifetime_snapshot(&now);
    for (int fd = 0; fd < LIFETIME_MAX_FD; fd++) {
        if (!has(&now, fd) || has(before, fd) || has(named, fd) || is_test_client(fd, server_port))
            continue;
        char what[64];
        describe_fd(fd, what, sizeof what);
        harness_warn("fd %d (%s) is still open after %s", fd, what, free_call);
        warned++;
    }
    return warned;
}
