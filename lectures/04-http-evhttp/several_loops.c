/*
 * several_loops.c - several event loops serving one port: one thread, one event_base and one
 * evhttp per worker, with SO_REUSEPORT letting the kernel spread the connections.
 *
 * Each worker binds its own listening socket to the same port (LEV_OPT_REUSEABLE_PORT) and hands
 * it to its own evhttp with evhttp_bind_listener(). The workers share one counter, behind a lock.
 * `--demo` starts two workers on a free port, makes 40 connections with one request each from
 * the main thread, prints how the kernel spread them, stops the workers and frees everything.
 *
 *     ./http-workers [--demo]        (then: curl -s localhost:8041/hit, a few times)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#define WORKERS 2
#define DEMO_CONNECTIONS 40
#define PORT 8041           /* without --demo; --demo uses a free port */
#define BACKLOG 1024        /* connections the kernel queues for each worker's socket */
#define ACCEPT_PAUSE_MS 100 /* after accept() fails (out of descriptors), wait this long */
#define CLIENT_TIMEOUT_S 5  /* the demo's client gives up on a silent server after this */

/* What every worker shares. The lock is needed now: several threads touch it. */
struct shared {
    pthread_mutex_t lock;
    unsigned long hits; /* guarded by lock */
};

/* One worker: everything in it is used only by its own thread, except stop_ev, which main
 * activates (safe because main called evthread_use_pthreads() first). */
struct worker {
    int index;
    struct shared *shared; /* not owned */
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener; /* owned by http once bound */
    struct event *stop_ev;
    struct event *resume_ev; /* turns accepting back on after an accept error */
};

/* Which worker runs on this thread. The listener's error callback needs it, and cannot get it
 * from its `arg`: evhttp_bind_listener() set the listener's argument to the struct evhttp. */
static _Thread_local struct worker *this_worker;

static void hit_cb(struct evhttp_request *req, void *arg);
static void accept_error_cb(struct evconnlistener *lev, void *arg);
static void resume_cb(evutil_socket_t fd, short what, void *arg);
static void stop_cb(evutil_socket_t fd, short what, void *arg);

static void hit_cb(struct evhttp_request *req, void *arg)
{
    struct worker *w = arg;
    struct evbuffer *body = evbuffer_new();
    unsigned long hits;

    pthread_mutex_lock(&w->shared->lock);
    hits = ++w->shared->hits;
    pthread_mutex_unlock(&w->shared->lock);
    if (body == NULL) {
        evhttp_send_reply(req, 500, NULL, NULL);
        return;
    }
    evbuffer_add_printf(body, "{\"worker\":%d,\"hits\":%lu}\n", w->index, hits);
    evhttp_send_reply(req, 200, NULL, body);
    evbuffer_free(body);
}

/* accept() failed, typically EMFILE. `arg` is evhttp's (the struct evhttp *), not ours: the
 * worker comes from this_worker. Pause accepting instead of spinning (Lecture 03). */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct worker *w = this_worker;
    struct timeval pause = {0, ACCEPT_PAUSE_MS * 1000};
    (void)arg;

    fprintf(stderr, "worker %d: accept failed: %s; pausing accepts for %d ms\n", w->index,
            strerror(errno), ACCEPT_PAUSE_MS);
    evconnlistener_disable(lev);
    evtimer_add(w->resume_ev, &pause);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(w->listener);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    event_base_loopexit(w->base, NULL);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    this_worker = w;
    event_base_dispatch(w->base);
    return NULL;
}

/* Gives the worker its base, its evhttp and its own socket on *port (0: any free port, which is
 * then stored in *port for the next workers). Returns 0, or -1; worker_free() cleans up. */
static int worker_init(struct worker *w, struct shared *shared, int index, uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(*port)};
    struct sockaddr_in bound;
    socklen_t len = sizeof bound;

    w->index = index;
    w->shared = shared;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((w->base = event_base_new()) == NULL || (w->http = evhttp_new(w->base)) == NULL ||
        (w->stop_ev = event_new(w->base, -1, 0, stop_cb, w)) == NULL ||
        (w->resume_ev = evtimer_new(w->base, resume_cb, w)) == NULL)
        return -1;
    evhttp_set_cb(w->http, "/hit", hit_cb, w);
    /* Every worker's socket sets SO_REUSEPORT (LEV_OPT_REUSEABLE_PORT), so all of them may bind
     * the same port; the kernel then spreads new connections over them. No callback here:
     * evhttp_bind_listener() installs its own, with the evhttp as its argument. */
    w->listener = evconnlistener_new_bind(
        w->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE,
        BACKLOG, (struct sockaddr *)&sin, sizeof sin);
    if (w->listener == NULL)
        return -1;
    if (evhttp_bind_listener(w->http, w->listener) == NULL) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
        return -1;
    }
    /* Set on the listener we made; evhttp never sets an error callback of its own. */
    evconnlistener_set_error_cb(w->listener, accept_error_cb);
    if (getsockname(evconnlistener_get_fd(w->listener), (struct sockaddr *)&bound, &len) != 0)
        return -1;
    *port = ntohs(bound.sin_port);
    return 0;
}

/* Frees a worker whose thread has been joined, or never started. */
static void worker_free(struct worker *w)
{
    if (w->http != NULL)
        evhttp_free(w->http); /* frees the bound listener too, which closes the socket */
    if (w->stop_ev != NULL)
        event_free(w->stop_ev);
    if (w->resume_ev != NULL)
        event_free(w->resume_ev);
    if (w->base != NULL)
        event_base_free(w->base);
}

/* One connection, one request, read until the server closes. Returns the worker index from
 * the answer, or -1. Blocking calls are fine here: this is the main thread, not a loop. */
static int demo_request(uint16_t port)
{
    static const char request[] = "GET /hit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Connection: close\r\n\r\n";
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval timeout = {CLIENT_TIMEOUT_S, 0};
    char answer[512];
    size_t got = 0;
    ssize_t n;
    int worker = -1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    evutil_make_socket_closeonexec(fd);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
        close(fd);
        return -1;
    }
    while (got < sizeof answer - 1 && (n = read(fd, answer + got, sizeof answer - 1 - got)) > 0)
        got += (size_t)n;
    answer[got] = '\0';
    close(fd);
    const char *at = strstr(answer, "{\"worker\":");
    if (at != NULL)
        worker = atoi(at + strlen("{\"worker\":"));
    return worker >= 0 && worker < WORKERS ? worker : -1;
}

int main(int argc, char **argv)
{
    struct shared shared = {.hits = 0};
    struct worker workers[WORKERS];
    int started = 0, rc = 1, demo = 0;
    int served[WORKERS] = {0};
    uint16_t port = PORT;

    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc == 2 && strcmp(argv[1], "--demo") == 0) {
        demo = 1;
        port = 0;
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--demo]\n", argv[0]);
        return 2;
    }
    memset(workers, 0, sizeof workers);
    pthread_mutex_init(&shared.lock, NULL);
    /* Before any base exists: main will activate the workers' stop events from its thread. */
    if (evthread_use_pthreads() != 0)
        goto cleanup;
    for (int i = 0; i < WORKERS; i++) {
        if (worker_init(&workers[i], &shared, i, &port) != 0) {
            fprintf(stderr, "worker %d: cannot listen on 127.0.0.1:%u: %s\n", i, port,
                    strerror(errno));
            goto cleanup;
        }
    }
    for (; started < WORKERS; started++)
        if (pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]) != 0)
            goto cleanup;
    printf("listening on 127.0.0.1:%u with %d workers, each its own thread, base and evhttp\n",
           port, WORKERS);
    if (!demo) {
        printf("press Enter to stop\n");
        getchar();
    } else {
        for (int i = 0; i < DEMO_CONNECTIONS; i++) {
            int w = demo_request(port);
            if (w < 0) {
                printf("client: UNEXPECTED: connection %d got no answer\n", i + 1);
                goto cleanup;
            }
            served[w]++;
        }
        printf("client: %d connections, one request each:", DEMO_CONNECTIONS);
        for (int i = 0; i < WORKERS; i++)
            printf(" worker %d served %d%s", i, served[i], i + 1 < WORKERS ? "," : "\n");
        pthread_mutex_lock(&shared.lock);
        printf("shared counter: %lu hits, counted under one mutex by both threads\n", shared.hits);
        pthread_mutex_unlock(&shared.lock);
        printf("(the split varies from run to run: the kernel picks a socket by a hash of each\n"
               "connection's addresses and ports; typically both workers get some)\n");
    }
    rc = 0;
cleanup:
    for (int i = 0; i < started; i++) /* stop each worker on its own thread, then wait */
        event_active(workers[i].stop_ev, EV_TIMEOUT, 0);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    for (int i = 0; i < WORKERS; i++)
        worker_free(&workers[i]);
    pthread_mutex_destroy(&shared.lock);
    libevent_global_shutdown();
    if (rc == 0 && demo)
        printf("stopped every worker and freed everything\n");
    return rc;
}
