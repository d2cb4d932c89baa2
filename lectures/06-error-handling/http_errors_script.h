/*
 * http_errors_script.h - the four scenes of `http-errors --demo`, each played on the server's
 * own event_base: fetch_user() (fetch_user.c), what evhttp's error callback reports, the
 * server's error boundary (http_boundary.c) seen from a client, and retries (retry_get.c).
 */
#ifndef LECTURE06_HTTP_ERRORS_SCRIPT_H
#define LECTURE06_HTTP_ERRORS_SCRIPT_H

#include "http_boundary.h"

#include <event2/event.h>
#include <event2/listener.h>

#define SCENE_DEADLINE_S 5 /* no scene may hang the demo */

/* What every scene needs; main() makes it and frees what it holds. */
struct demo {
    struct event_base *base;
    struct boundary_server *server;
    struct evconnlistener *dropper; /* accepts and closes at once: a peer that crashes */
    struct event *deadline;         /* breaks the loop after SCENE_DEADLINE_S */
    unsigned short port, drop_port, closed_port;
    unsigned rng; /* the retries' jitter */
};

/* Each scene prints what happens and returns 0, or -1 if it could not run. */
int scene_fetch_users(struct demo *d);
int scene_error_callback(struct demo *d);
int scene_boundary(struct demo *d);
int scene_retries(struct demo *d);

#endif
