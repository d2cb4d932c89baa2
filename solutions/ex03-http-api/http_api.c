/*
 * http_api.c - see http_api.h. The server's life: one listening socket, N worker threads, a
 * graceful stop.
 *
 * Tokio's multi-threaded runtime runs tasks on one thread per core. evhttp is not thread-safe,
 * so the C version runs one complete server per thread instead: each worker has its own
 * event_base, its own evhttp and its own listening socket, all bound to the same port with
 * SO_REUSEPORT, so that the kernel spreads new connections evenly over the workers. (With one
 * shared listening socket, whichever worker woke first took a whole burst of connections: in
 * half of our load tests one worker served all 50 and the other sat idle.) A connection stays
 * on the worker that accepted it. The workers share only the item store, which has its own
 * read-write lock, and the read-only app_state.
 *
 * Every request goes through the same pipeline, defined once below:
 *     log -> cors -> json_errors -> limits -> router
 */
#include "http_api.h"

#include "exchange.h"
#include "items_store.h"
#include "middleware.h"
#include "router.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024 /* connections the kernel queues before a worker accepts them */
#define ACCEPT_RETRY_MS 100 /* after accept() fails (out of fds), wait this long to retry */
/* evhttp enforces its own limits with replies we cannot shape (HTML, no CORS headers). Ours
 * are checked in middleware_limits and answered in JSON; evhttp's sit this many times higher,
 * as the hard bound on what a single request can make the server hold in memory. */
#define EVHTTP_LIMIT_FACTOR 16
/* Every method evhttp can parse. evhttp answers the ones left out with its own 501 page before
 * request_cb runs: without PATCH and OPTIONS here, PATCH and CORS preflights would fail, and
 * without CONNECT, a CONNECT would get that page and then hang until the idle timeout (evhttp
 * keeps a CONNECT's connection open for the tunnel). Let them all through: the router answers
 * each one in JSON, and exchange_send closes the connection after a CONNECT. */
#define ALLOWED_METHODS                                                                            \
    (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |      \
     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT)

/* The request pipeline, outermost layer first. */
static middleware_fn *const pipeline[] = {
    middleware_log,         /* sees the final status and body of every request */
    middleware_cors,        /* CORS headers on everything; answers preflights */
    middleware_json_errors, /* status >= 400 -> {"error": "..."} */
    middleware_limits,      /* 431, 413, 415 before anything reads the body */
    router_dispatch,        /* the handlers */
};

/* One thread, one event loop, one evhttp. Everything here is touched only by its own thread,
 * except stop_ev, which http_api_free() activates from outside (libevent locks allow it). */
struct worker {
    struct http_api *api;
    int index;
    pthread_t thread;
    bool started; /* the thread runs: it must be stopped and joined */
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound; /* NULL once the worker stopped accepting */
    struct event *stop_ev;             /* activated by http_api_free() */
    struct event *deadline_ev;         /* ends the shutdown grace period */
    struct event *retry_ev;            /* re-enables accepting after an accept error */
    struct event *flush_ev;            /* flushes the log stream soon after a request was logged */
    unsigned replies_in_flight;        /* sent with evhttp_send_reply, not yet fully written */
    bool stopping;
};

struct http_api {
    struct app_state app;
    uint16_t port;
    int nworkers;
    struct worker *workers;
    int idle_timeout_ms;
    int shutdown_grace_ms;
};

/* ---- one request ------------------------------------------------------------------------- */

static void reply_done_cb(struct evhttp_request *req, void *arg);
static void reply_aborted_cb(struct evhttp_connection *conn, void *arg);

/* STUDENT(12): Count the replies in flight: a reply is in flight from the moment request_cb
 * sends it until evhttp has written all of it to the socket (reply_done_cb), or until its
 * connection dies first (reply_aborted_cb: then the first never comes). Both end the count
 * for that reply exactly once, and when a stopping worker's count reaches 0 its loop may
 * exit. A connection carries one reply at a time but lives on for the next request: its close
 * callback must not count a reply that was already done.
 * stub: */
static void reply_settled(struct worker *w)
{
    w->replies_in_flight--;
    if (w->stopping && w->replies_in_flight == 0)
        event_base_loopexit(w->base, NULL);
}

/* evhttp calls this once the reply has been written to the socket. */
static void reply_done_cb(struct evhttp_request *req, void *arg)
{
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
    reply_settled(arg);
}

/* evhttp calls this instead when the connection dies before the reply is written (the client
 * went away): reply_done_cb will never come for that reply. */
static void reply_aborted_cb(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    reply_settled(arg);
}
/* END STUDENT(12) */

/* If the log stream is buffered, a line just logged may still sit in its buffer: have it
 * written out soon, together with every line logged until then. */
static void log_flush_soon(struct worker *w)
{
    if (w->api->app.log != NULL && !evtimer_pending(w->flush_ev, NULL)) {
        struct timeval delay = {0, HTTP_API_LOG_FLUSH_MS * 1000};
        evtimer_add(w->flush_ev, &delay);
    }
}

/* evhttp's one callback for every request (evhttp_set_gencb): run the pipeline, reply once. */
static void request_cb(struct evhttp_request *req, void *arg)
{
    struct worker *w = arg;
    struct exchange ex;

    if (exchange_init(&ex, req, &w->api->app) != 0) {
        evhttp_send_error(req, 500, NULL); /* out of memory: the best we can still do */
        return;
    }
    middleware_run(&ex, (struct middleware_chain){pipeline, sizeof pipeline / sizeof *pipeline});
    if (w->stopping)
        exchange_add_header(&ex, "Connection", "close"); /* no next request on this one */

    /* STUDENT(12): From here until it is written or its connection dies, this reply is in
     * flight: count it, and have evhttp tell reply_done_cb or reply_aborted_cb which of the two
     * happened. Set that up before sending: a short reply may be written at once.
     * stub: */
    w->replies_in_flight++;
    evhttp_request_set_on_complete_cb(req, reply_done_cb, w);
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), reply_aborted_cb, w);
    /* END STUDENT(12) */
    exchange_send(&ex);
    exchange_cleanup(&ex);

    log_flush_soon(w);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    fflush(w->api->app.log);
}

/* ---- accepting ------------------------------------------------------------------------- */

/* The worker whose thread this is; set once by worker_main, read only by accept_error_cb. */
static _Thread_local struct worker *this_worker;

/*
 * accept() failed with something other than "try again", typically EMFILE (out of file
 * descriptors). The socket stays readable, so without a pause the loop would spin: stop
 * accepting for a moment instead, and let the connections we have finish.
 *
 * The trap: a listener has one user pointer, shared by its accept and error callbacks, and
 * evhttp set it to the evhttp when it took the socket over. So `arg` is evhttp's, never our
 * worker, and evconnlistener_set_error_cb cannot pass another one. (Reading `arg` as the worker
 * crashed the server the first time it ran out of descriptors.) The callback runs on the
 * worker's own thread, so the worker is the thread's this_worker.
 */
static void accept_error_cb(struct evconnlistener *listener, void *arg)
{
    struct worker *w = this_worker;
    struct timeval retry = {0, ACCEPT_RETRY_MS * 1000};
    (void)arg; /* evhttp's, see above */
    if (w->api->app.log != NULL)
        fprintf(w->api->app.log, "worker %d: accept failed: %s; pausing accepts for %d ms\n",
                w->index, strerror(errno), ACCEPT_RETRY_MS);
    log_flush_soon(w); /* no request may complete while descriptors are short: flush anyway */
    evconnlistener_disable(listener);
    evtimer_add(w->retry_ev, &retry);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    if (w->bound != NULL)
        evconnlistener_enable(evhttp_bound_socket_get_listener(w->bound));
}

/* ---- stopping -------------------------------------------------------------------------- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    if (w->api->app.log != NULL)
        fprintf(w->api->app.log, "worker %d: %u replies unfinished after %d ms; closing them\n",
                w->index, w->replies_in_flight, w->api->shutdown_grace_ms);
    event_base_loopexit(w->base, NULL);
}

/* Runs on the worker's own thread, woken by http_api_free(). */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct timeval grace = {w->api->shutdown_grace_ms / 1000,
                            (w->api->shutdown_grace_ms % 1000) * 1000};
    (void)fd;
    (void)what;

    w->stopping = true;
    evhttp_del_accept_socket(w->http, w->bound); /* closes this worker's listening socket */
    w->bound = NULL;
    event_del(w->retry_ev);
    /* STUDENT(12): Stop gracefully. Exiting the loop now would cut off every reply still being
     * written (evhttp_free, after the loop, closes all connections). Exit at once only when no
     * reply is in flight; otherwise the last reply to finish ends the loop, and a client that
     * never reads its reply may hold the worker for at most the grace period (`grace`, after
     * which deadline_cb ends the loop). Idle keep-alive connections do not count.
     * stub:
     *     event_base_loopexit(w->base, NULL); */
    if (w->replies_in_flight == 0) {
        event_base_loopexit(w->base, NULL);
    } else {
        evtimer_add(w->deadline_ev, &grace);
    }
    /* END STUDENT(12) */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    this_worker = w;
    event_base_dispatch(w->base);
    return NULL;
}

/* ---- setting up ------------------------------------------------------------------------ */

/*
 * Binds a TCP socket to host:port. With `share` false it only binds: that is the probe, which
 * fails with "Address already in use" if anything holds the port, and picks a free port when
 * port is 0. With `share` true it sets SO_REUSEPORT and listens: every worker binds one such
 * socket to the same port. Returns the socket (non-blocking) or -1, logging why.
 */
static int bind_socket(const char *host, uint16_t port, bool share, FILE *log)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    int fd = -1;

    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        if (log != NULL)
            fprintf(log, "cannot listen on %s:%u: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    int err = 0;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        /* libevent's portable spellings of SOCK_NONBLOCK | SOCK_CLOEXEC (Linux only). */
        evutil_make_socket_nonblocking(fd);
        evutil_make_socket_closeonexec(fd);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* restart without waiting */
        if ((share && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            (share && listen(fd, LISTEN_BACKLOG) != 0)) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0 && log != NULL)
        fprintf(log, "cannot listen on %s:%u: %s\n", host, port, strerror(err));
    return fd;
}

/* The port a socket is bound to, for port 0. */
static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Gives the worker its base, its evhttp (which takes over listen_fd, and closes it in the end)
 * and its events, then starts its thread. Returns 0 or -1; on -1, worker_free() cleans up
 * what was made. */
static int worker_start(struct worker *w, int listen_fd)
{
    const struct app_state *app = &w->api->app;
    struct timeval idle = {w->api->idle_timeout_ms / 1000, (w->api->idle_timeout_ms % 1000) * 1000};

    /* With the changelist, epoll is told about a socket's new interests once per loop
     * iteration instead of at every change. evhttp stops and restarts reading around each
     * request it handles; without this, that was two of its eight system calls per request. */
    struct event_config *base_cfg = event_config_new();
    if (base_cfg != NULL) {
        event_config_set_flag(base_cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        w->base = event_base_new_with_config(base_cfg);
        event_config_free(base_cfg);
    }
    if (w->base != NULL) {
        w->stop_ev = event_new(w->base, -1, 0, stop_cb, w);
        w->deadline_ev = evtimer_new(w->base, deadline_cb, w);
        w->retry_ev = evtimer_new(w->base, retry_cb, w);
        w->flush_ev = evtimer_new(w->base, flush_cb, w);
    }
    if (w->stop_ev == NULL || w->deadline_ev == NULL || w->retry_ev == NULL ||
        w->flush_ev == NULL) {
        close(listen_fd);
        return -1;
    }

    /* STUDENT(1): Give this worker an HTTP server of its own. evhttp is not thread-safe, so
     * each worker owns one evhttp on its own base (w->http, w->base), serving the listening
     * socket it was given, and every request reaches request_cb with the worker as context.
     * Configure it so that:
     *   - every method in ALLOWED_METHODS reaches request_cb (evhttp answers the others with
     *     its own 501 page; by default it refuses PATCH, OPTIONS, TRACE and CONNECT);
     *   - a reply with a body says Content-Type: application/json unless it sets another;
     *   - evhttp's own body and header limits sit EVHTTP_LIMIT_FACTOR times above the app's
     *     (ours answer in JSON with CORS headers; evhttp's answer in HTML without them);
     *   - a connection silent for the idle timeout is closed;
     *   - a client still sending an oversized body gets to read evhttp's 413.
     * Then accept on listen_fd (keep the handle in w->bound), have accept errors handled by
     * accept_error_cb (read it first), and start the thread on worker_main. On failure return
     * -1, closing listen_fd if evhttp does not own it yet; worker_free frees the rest.
     * stub:
     *     close(listen_fd);
     *     return -1; */
    w->http = evhttp_new(w->base);
    if (w->http == NULL) {
        close(listen_fd);
        return -1;
    }
    evhttp_set_allowed_methods(w->http, ALLOWED_METHODS);
    evhttp_set_default_content_type(w->http, "application/json");
    evhttp_set_max_body_size(w->http, (ev_ssize_t)(app->max_body_bytes * EVHTTP_LIMIT_FACTOR));
    evhttp_set_max_headers_size(w->http, (ev_ssize_t)(app->max_header_bytes * EVHTTP_LIMIT_FACTOR));
    evhttp_set_timeout_tv(w->http, &idle);
    /* Over evhttp's own body limit, read (and drop) the rest of the body before replying, so
     * the client, still sending, sees the 413 instead of a reset. */
    evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(w->http, request_cb, w);

    w->bound = evhttp_accept_socket_with_handle(w->http, listen_fd); /* evhttp owns it now */
    if (w->bound == NULL) {
        close(listen_fd);
        return -1;
    }
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(w->bound), accept_error_cb);

    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return -1;
    w->started = true;
    return 0;
    /* END STUDENT(1) */
}

/* Frees a worker whose thread has been joined (or never started). */
static void worker_free(struct worker *w)
{
    if (w->http != NULL)
        evhttp_free(w->http); /* closes its connections, and its socket if still bound */
    if (w->stop_ev != NULL)
        event_free(w->stop_ev);
    if (w->deadline_ev != NULL)
        event_free(w->deadline_ev);
    if (w->retry_ev != NULL)
        event_free(w->retry_ev);
    if (w->flush_ev != NULL)
        event_free(w->flush_ev);
    if (w->base != NULL)
        event_base_free(w->base);
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > HTTP_API_MAX_THREADS ? HTTP_API_MAX_THREADS : (int)n;
}

/* What must happen once, before the first worker thread exists. libevent must install its
 * locks before any base that another thread will touch exists. jansson seeds its hash function
 * on the first json_object() call, and its check for that (a plain read of a global) races
 * with the seeding when two workers parse their first bodies at once: helgrind reported it.
 * Seeding here, before any thread starts, is what jansson's notes on threads recommend. */
static void before_threads_once(void)
{
    evthread_use_pthreads();
    json_object_seed(0);
}

struct http_api *http_api_new(const struct http_api_config *cfg)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    const char *host = cfg->host != NULL ? cfg->host : HTTP_API_DEFAULT_HOST;

    pthread_once(&once, before_threads_once);

    if (cfg->threads < 0 || cfg->threads > HTTP_API_MAX_THREADS) {
        if (cfg->log != NULL)
            fprintf(cfg->log, "threads must be between 1 and %d\n", HTTP_API_MAX_THREADS);
        return NULL;
    }
    struct http_api *api = calloc(1, sizeof *api);
    if (api == NULL)
        return NULL;
    api->app.log = cfg->log;
    api->app.max_body_bytes =
        cfg->max_body_bytes > 0 ? cfg->max_body_bytes : HTTP_API_DEFAULT_MAX_BODY_BYTES;
    api->app.max_header_bytes =
        cfg->max_header_bytes > 0 ? cfg->max_header_bytes : HTTP_API_DEFAULT_MAX_HEADER_BYTES;
    api->idle_timeout_ms =
        cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : HTTP_API_DEFAULT_IDLE_TIMEOUT_MS;
    api->shutdown_grace_ms =
        cfg->shutdown_grace_ms > 0 ? cfg->shutdown_grace_ms : HTTP_API_SHUTDOWN_GRACE_MS;
    api->nworkers = cfg->threads > 0 ? cfg->threads : cores();
    api->app.store = items_store_new(cfg->max_items);
    api->workers = calloc((size_t)api->nworkers, sizeof *api->workers);
    if (api->app.store == NULL || api->workers == NULL)
        goto err;

    /* Probe first (see bind_socket): SO_REUSEPORT alone would let a second copy of this
     * server join the port silently instead of failing. */
    int probe = bind_socket(host, cfg->port, false, cfg->log);
    if (probe < 0)
        goto err;
    api->port = bound_port(probe);
    close(probe);
    snprintf(api->app.fallback_origin, sizeof api->app.fallback_origin,
             strchr(host, ':') != NULL ? "http://[%s]:%u" : "http://%s:%u", host, api->port);

    /* The workers never take SIGINT or SIGTERM. The kernel hands a signal sent to the process
     * to any thread that does not block it, and the program's signal events (main.c) belong to
     * the main thread: a worker running libevent's signal handler while the main thread sets
     * up its signal events is a data race. A thread starts with its creator's signal mask, so
     * the stop signals are blocked while the workers start, then unblocked again here. */
    sigset_t stop_signals, old_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    int started = 0;
    for (; started < api->nworkers; started++) {
        struct worker *w = &api->workers[started];
        w->api = api;
        w->index = started;
        int fd = bind_socket(host, api->port, true, cfg->log);
        if (fd < 0 || worker_start(w, fd) != 0) {
            if (cfg->log != NULL)
                fprintf(cfg->log, "cannot start worker %d\n", started);
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (started < api->nworkers)
        goto err;
    return api;

err:
    http_api_free(api);
    return NULL;
}

uint16_t http_api_port(const struct http_api *api)
{
    return api->port;
}

void http_api_free(struct http_api *api)
{
    if (api == NULL)
        return;
    /* Tell every worker first, then wait for each: they drain in parallel. */
    for (int i = 0; api->workers != NULL && i < api->nworkers; i++)
        if (api->workers[i].started)
            event_active(api->workers[i].stop_ev, EV_TIMEOUT, 0);
    for (int i = 0; api->workers != NULL && i < api->nworkers; i++) {
        if (api->workers[i].started)
            pthread_join(api->workers[i].thread, NULL);
        worker_free(&api->workers[i]);
    }
    free(api->workers);
    items_store_free(api->app.store);
    if (api->app.log != NULL)
        fflush(api->app.log); /* the last lines, whatever the flush timers had not written */
    free(api);
}
