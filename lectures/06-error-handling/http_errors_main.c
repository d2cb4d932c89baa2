/*
 * http_errors_main.c - the http-errors program: errors that arrive in callbacks. It runs the
 * server of http_boundary.c (an error boundary that answers JSON 500 with a request id) and,
 * with --demo, the client scenes of http_errors_script.c against it on the same event_base:
 * fetch_user() (fetch_user.c), evhttp's error callback, the boundary, retries (retry_get.c).
 *
 * Without --demo it serves on 127.0.0.1:7060 (or --port N) until Ctrl-C: try
 * `curl -si http://127.0.0.1:7060/users/2` and read the request id in the log.
 */
#include "demo_util.h"
#include "http_boundary.h"
#include "http_errors_script.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define DEFAULT_PORT 7060

static void deadline_cb(evutil_socket_t fd, short what, void *arg);
static void dropper_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                              int socklen, void *arg);
static void stop_cb(evutil_socket_t sig, short what, void *arg);

static void dropper_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                              int socklen, void *arg)
{
    (void)lev;
    (void)sa;
    (void)socklen;
    (void)arg;
    evutil_closesocket(fd); /* a server that dies mid-request looks like this to its client */
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct demo *d = arg;
    (void)fd;
    (void)what;
    printf("(a scene ran into its %d s deadline)\n", SCENE_DEADLINE_S);
    event_base_loopbreak(d->base);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

/* Binds a socket to a free loopback port and closes it without listening: a closed port.
 * Returns the port, or 0. */
static unsigned short closed_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned short port = 0;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        evutil_closesocket(fd);
    return port;
}

int main(int argc, char **argv)
{
    struct demo d = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    struct event *sigint = NULL, *sigterm = NULL;
    int demo = 0, rc = 1;
    long port = DEFAULT_PORT;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0) {
            demo = 1;
            port = 0;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc &&
                   parse_bounded(argv[++i], 0, 65535, &port) == 0) {
            continue;
        } else {
            fprintf(stderr, "usage: %s [--demo] [--port N]\n", argv[0]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    d.rng = (unsigned)time(NULL);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    d.base = event_base_new();
    if (d.base == NULL)
        goto cleanup;
    d.server = boundary_server_new(d.base, (unsigned short)port, stdout);
    d.dropper = evconnlistener_new_bind(d.base, dropper_accept_cb, NULL,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                        (struct sockaddr *)&sin, sizeof sin);
    d.deadline = evtimer_new(d.base, deadline_cb, &d);
    sigint = evsignal_new(d.base, SIGINT, stop_cb, d.base);
    sigterm = evsignal_new(d.base, SIGTERM, stop_cb, d.base);
    if (d.server == NULL || d.dropper == NULL || d.deadline == NULL || sigint == NULL ||
        sigterm == NULL ||
        getsockname(evconnlistener_get_fd(d.dropper), (struct sockaddr *)&sin, &len) != 0) {
        fprintf(stderr, "could not start the server\n");
        goto cleanup;
    }
    d.port = boundary_server_port(d.server);
    d.drop_port = ntohs(sin.sin_port);
    d.closed_port = closed_port();
    printf("listening on 127.0.0.1:%u\n", d.port);

    if (!demo) {
        if (evsignal_add(sigint, NULL) != 0 || evsignal_add(sigterm, NULL) != 0)
            goto cleanup;
        event_base_dispatch(d.base);
        printf("shutting down\n");
    } else if (scene_fetch_users(&d) != 0 || scene_error_callback(&d) != 0 ||
               scene_boundary(&d) != 0 || scene_retries(&d) != 0) {
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (sigint != NULL)
        event_free(sigint);
    if (sigterm != NULL)
        event_free(sigterm);
    if (d.deadline != NULL)
        event_free(d.deadline);
    if (d.dropper != NULL)
        evconnlistener_free(d.dropper);
    boundary_server_free(d.server); /* answers the held /slow requests first */
    if (d.base != NULL)
        event_base_free(d.base);
    if (demo && rc == 0)
        printf("server: shut down; every held request answered, everything freed\n");
    return rc;
}
