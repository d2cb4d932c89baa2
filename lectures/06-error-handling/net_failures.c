/*
 * net_failures.c - how a network failure reaches a bufferevent's event callback, and how to tell
 * one from another: refused, reset, timeout, EOF, a failed write, and a cancelled transfer.
 *
 * A client bufferevent meets a peer that misbehaves in one chosen way per scene: the peer is a
 * listener on the same event_base (loopback, port 0) that resets, stays silent, says goodbye, or
 * does not read. Each scene prints the flags the event callback got and the socket error it read
 * first thing. The last scene cancels a large write halfway and shows what was lost.
 *
 *     ./net-failures          (--demo does the same)
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_TIMEOUT_MS 200         /* scene 3: how long the client waits for an answer */
#define BIG_WRITE_BYTES (32u << 20) /* scenes 5 and 6: more than the kernel buffers hold */
#define CANCEL_AFTER_MS 100         /* scene 6: the client gives up after this long */
#define SCENE_DEADLINE_MS 5000      /* no scene may hang the demo */

/* What the peer does with a connection. */
enum peer_mode {
    PEER_RESET,   /* read the first bytes, then abort the connection (RST) */
    PEER_SILENT,  /* read and never answer */
    PEER_GOODBYE, /* answer "bye" and close normally (FIN) */
    PEER_NO_READ, /* accept, never read; read everything only once the client has gone */
};

struct demo;

/* One accepted connection on the peer's side. */
struct peer_conn {
    struct bufferevent *bev; /* owned; closes the socket when freed */
    struct demo *demo;       /* not owned */
    size_t received;
};

/* The client under test: what its event callback saw. */
struct client {
    struct bufferevent *bev; /* owned; NULL once freed */
    struct demo *demo;       /* not owned */
    short what;              /* the flags of the event callback, 0 if none yet */
    int err;                 /* the socket error read first thing in the callback */
};

struct demo {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *cancel_timer; /* scene 6 */
    struct event *deadline;     /* ends a scene that hangs */
    enum peer_mode mode;
    unsigned short port;
    struct peer_conn *peer; /* the peer's current connection, or NULL */
    struct client client;
};

static void peer_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                           int socklen, void *arg);
static void peer_read_cb(struct bufferevent *bev, void *arg);
static void peer_event_cb(struct bufferevent *bev, short what, void *arg);
static void client_event_cb(struct bufferevent *bev, short what, void *arg);
static void cancel_cb(evutil_socket_t fd, short what, void *arg);
static void deadline_cb(evutil_socket_t fd, short what, void *arg);

/* ---- the client side: what the scenes are about ---- */

/* Prints the flags as names, e.g. "BEV_EVENT_READING|BEV_EVENT_ERROR". */
static void print_flags(short what)
{
    const char *sep = "";
    static const struct {
        short bit;
        const char *name;
    } names[] = {
        {BEV_EVENT_READING, "BEV_EVENT_READING"}, {BEV_EVENT_WRITING, "BEV_EVENT_WRITING"},
        {BEV_EVENT_EOF, "BEV_EVENT_EOF"},         {BEV_EVENT_ERROR, "BEV_EVENT_ERROR"},
        {BEV_EVENT_TIMEOUT, "BEV_EVENT_TIMEOUT"}, {BEV_EVENT_CONNECTED, "BEV_EVENT_CONNECTED"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (what & names[i].bit) {
            printf("%s%s", sep, names[i].name);
            sep = "|";
        }
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    /* Read the socket error before anything else: printf, free, even a successful system
     * call may change errno, and then the reason is lost. */
    int err = EVUTIL_SOCKET_ERROR();
    struct client *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        if (c->demo->mode != PEER_NO_READ) /* scene 6 writes as soon as it can, see there */
            bufferevent_write(bev, "hello\n", 6);
        return;
    }
    c->what = what;
    c->err = (what & BEV_EVENT_ERROR) ? err : 0;
    printf("client: event callback: ");
    print_flags(what);
    if (what & BEV_EVENT_ERROR)
        printf(", socket error %d (%s)", err, evutil_socket_error_to_string(err));
    printf("\n");
    /* The client owns its bufferevent; the event callback is where a failed one ends. Freeing
     * it here is safe in libevent 2.1 (its callbacks are cleared first); return right after. */
    bufferevent_free(bev);
    c->bev = NULL;
    event_base_loopbreak(c->demo->base);
}

/* Starts the client: a bufferevent connecting to 127.0.0.1:port. Returns 0, or -1. */
static int client_start(struct demo *d, unsigned short port, int read_timeout_ms)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tmo = {read_timeout_ms / 1000, (read_timeout_ms % 1000) * 1000};

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d->client = (struct client){NULL, d, 0, 0};
    d->client.bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (d->client.bev == NULL)
        return -1;
    bufferevent_setcb(d->client.bev, NULL, NULL, client_event_cb, &d->client);
    if (read_timeout_ms > 0)
        bufferevent_set_timeouts(d->client.bev, &tmo, NULL);
    /* Reading is on, so a reset or an EOF is noticed; the client ignores the bytes themselves
     * (no read callback), which is enough for these scenes. */
    if (bufferevent_enable(d->client.bev, EV_READ) != 0 ||
        bufferevent_socket_connect(d->client.bev, (struct sockaddr *)&sin, sizeof sin) != 0) {
        /* An immediate failure is reported through the event callback too, so this path is
         * for running out of memory or descriptors. */
        return -1;
    }
    return 0;
}

/* ---- the peer: misbehaves on purpose ---- */

static void peer_conn_free(struct peer_conn *pc)
{
    if (pc->demo->peer == pc)
        pc->demo->peer = NULL;
    bufferevent_free(pc->bev);
    free(pc);
}

static void peer_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                           int socklen, void *arg)
{
    struct demo *d = arg;
    struct peer_conn *pc = calloc(1, sizeof *pc);
    (void)lev;
    (void)sa;
    (void)socklen;

    if (pc == NULL ||
        (pc->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        free(pc);
        evutil_closesocket(fd); /* nobody else will: the socket was ours */
        return;
    }
    pc->demo = d;
    d->peer = pc;
    bufferevent_setcb(pc->bev, peer_read_cb, NULL, peer_event_cb, pc);
    if (d->mode != PEER_NO_READ)
        bufferevent_enable(pc->bev, EV_READ);
}

static void peer_read_cb(struct bufferevent *bev, void *arg)
{
    struct peer_conn *pc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct linger abort_close = {1, 0};

    pc->received += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
    switch (pc->demo->mode) {
    case PEER_RESET:
        /* SO_LINGER {on, 0 s}: close() aborts the connection, and the kernel sends RST. */
        setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
        printf("peer:   got the request; aborting the connection (RST)\n");
        peer_conn_free(pc);
        break;
    case PEER_SILENT:
        break; /* never answer */
    case PEER_GOODBYE:
        printf("peer:   got the request; answering \"bye\" and closing (FIN)\n");
        /* A direct write: the reply is tiny, so the kernel takes it whole before the close. */
        if (write(bufferevent_getfd(bev), "bye\n", 4) != 4)
            printf("peer:   the reply did not fit\n");
        peer_conn_free(pc);
        break;
    case PEER_NO_READ:
        break; /* reads only at the end of scene 6, to count what arrived */
    }
}

static void peer_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct peer_conn *pc = arg;
    (void)bev;

    if (pc->demo->mode == PEER_NO_READ)
        printf("peer:   EOF after %zu of %u bytes: the rest was lost with the client's buffer\n",
               pc->received, BIG_WRITE_BYTES);
    else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        printf("peer:   the client closed the connection\n");
    peer_conn_free(pc);
}

/* ---- scenes ---- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct demo *d = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(d->base);
}

/* Runs the loop until the client reports (or the deadline passes). */
static void run_scene(struct demo *d)
{
    struct timeval deadline = {SCENE_DEADLINE_MS / 1000, 0};
    evtimer_add(d->deadline, &deadline);
    event_base_dispatch(d->base);
    event_del(d->deadline);
    if (d->client.what == 0)
        printf("client: no event within %d ms\n", SCENE_DEADLINE_MS);
}

/* Scene 1: a port nobody listens on. Bind a socket to get a free port, then close it. */
static int scene_refused(struct demo *d)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);

    printf("== 1. connect to a port nobody listens on ==\n");
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd); /* bound but never listening: the port is closed */
    if (client_start(d, ntohs(sin.sin_port), 0) != 0)
        return -1;
    run_scene(d);
    return 0;
}

/* Scenes 2-4: the peer resets, stays silent, or says goodbye. */
static int scene_peer(struct demo *d, enum peer_mode mode, const char *title, int timeout_ms)
{
    printf("\n== %s ==\n", title);
    d->mode = mode;
    if (client_start(d, d->port, timeout_ms) != 0)
        return -1;
    run_scene(d);
    /* The silent peer is still connected: the client gave up, the peer did not notice yet.
     * bufferevent_free() closes the client's socket in the next turn of the loop (its
     * finalizer), and the peer sees EOF in the turn after that. */
    while (d->peer != NULL)
        if (event_base_loop(d->base, EVLOOP_ONCE) != 0)
            return -1;
    return 0;
}

/* Scene 5: the client writes much more than the peer reads, and the peer resets. The error now
 * surfaces on the write side. */
static int scene_write_error(struct demo *d)
{
    static char chunk[64 * 1024];

    printf("\n== 5. the peer resets while the client is still writing ==\n");
    d->mode = PEER_RESET;
    if (client_start(d, d->port, 0) != 0)
        return -1;
    bufferevent_disable(d->client.bev, EV_READ); /* only the write side can notice now */
    for (unsigned sent = 0; sent < BIG_WRITE_BYTES; sent += sizeof chunk)
        if (bufferevent_write(d->client.bev, chunk, sizeof chunk) != 0)
            return -1;
    run_scene(d);
    return 0;
}

/* Scene 6: cancel a transfer halfway. The client queues 32 MiB for a peer that does not read,
 * then gives up: freeing the bufferevent drops what is still in its output buffer. */
static void cancel_cb(evutil_socket_t fd, short what, void *arg)
{
    struct demo *d = arg;
    struct client *c = &d->client;
    size_t left = evbuffer_get_length(bufferevent_get_output(c->bev));
    (void)fd;
    (void)what;

    printf("client: cancelling after %d ms; %zu of %u bytes never left the output buffer\n",
           CANCEL_AFTER_MS, left, BIG_WRITE_BYTES);
    /* Cancelling is freeing: the callbacks will not run again, the socket is closed, and the
     * queued bytes are gone. Nothing tells the peer they existed. */
    bufferevent_free(c->bev);
    c->bev = NULL;
    c->what = BEV_EVENT_EOF; /* reported: the scene is over */
    if (d->peer != NULL)
        bufferevent_enable(d->peer->bev, EV_READ); /* now count what did arrive */
}

static int scene_cancel(struct demo *d)
{
    static char chunk[64 * 1024];
    struct timeval after = {0, CANCEL_AFTER_MS * 1000};

    printf("\n== 6. cancel a large write halfway: what happens to the bytes in flight ==\n");
    d->mode = PEER_NO_READ;
    if (client_start(d, d->port, 0) != 0)
        return -1;
    for (unsigned sent = 0; sent < BIG_WRITE_BYTES; sent += sizeof chunk)
        if (bufferevent_write(d->client.bev, chunk, sizeof chunk) != 0)
            return -1;
    if (evtimer_add(d->cancel_timer, &after) != 0)
        return -1;
    /* The loop ends when the peer has seen EOF: nothing else is pending then, except the
     * listener, so the peer's event callback breaks the loop. */
    while (d->peer != NULL || d->client.bev != NULL)
        if (event_base_loop(d->base, EVLOOP_ONCE) != 0)
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct demo d = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int rc = 1;

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--demo") != 0)) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* scene 5 writes to a reset connection: EPIPE, not death */

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d.base = event_base_new();
    if (d.base == NULL)
        goto cleanup;
    d.listener = evconnlistener_new_bind(d.base, peer_accept_cb, &d,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                         (struct sockaddr *)&sin, sizeof sin);
    d.cancel_timer = evtimer_new(d.base, cancel_cb, &d);
    d.deadline = evtimer_new(d.base, deadline_cb, &d);
    if (d.listener == NULL || d.cancel_timer == NULL || d.deadline == NULL ||
        getsockname(evconnlistener_get_fd(d.listener), (struct sockaddr *)&sin, &len) != 0)
        goto cleanup;
    d.port = ntohs(sin.sin_port);
    printf("peer listening on 127.0.0.1:%u\n\n", d.port);

    if (scene_refused(&d) != 0 ||
        scene_peer(&d, PEER_RESET, "2. the peer aborts the connection", 0) != 0 ||
        scene_peer(&d, PEER_SILENT, "3. the peer never answers (read timeout 200 ms)",
                   READ_TIMEOUT_MS) != 0 ||
        scene_peer(&d, PEER_GOODBYE, "4. the peer answers and closes", 0) != 0 ||
        scene_write_error(&d) != 0 || scene_cancel(&d) != 0)
        goto cleanup;
    printf("\nevery scene ended in the client's event callback or its cancel; nothing leaked\n");
    rc = 0;
cleanup:
    if (d.client.bev != NULL)
        bufferevent_free(d.client.bev);
    if (d.peer != NULL)
        peer_conn_free(d.peer);
    if (d.cancel_timer != NULL)
        event_free(d.cancel_timer);
    if (d.deadline != NULL)
        event_free(d.deadline);
    if (d.listener != NULL)
        evconnlistener_free(d.listener);
    if (d.base != NULL)
        event_base_free(d.base);
    return rc;
}
