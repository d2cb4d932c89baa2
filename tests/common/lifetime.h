/*
 * lifetime.h - what a server left behind when it was freed: descriptors and events.
 *
 * The shared fixture (server_fixture.h) takes a snapshot of the open descriptors before the
 * server's _new() and, after its _free(), warns about every descriptor opened since and still
 * open (the test's own client sockets aside), and about every event still registered on the
 * event base. A warning does not fail a test; the grader shows it under the test, which is
 * kinder than a leak report that names only an allocation:
 *
 *     a bufferevent for fd 9 (a socket connected to 127.0.0.1:40116) was never freed
 *     fd 7 (a listening socket on 127.0.0.1:38511) is still open after echo_server_free()
 *
 * Both checks are cheap (a few hundred fcntl() calls and one walk over the base's events) and
 * run after every test that frees its server; naming an event's callback, which runs addr2line,
 * happens only when an event is left.
 */
#ifndef LIFETIME_H
#define LIFETIME_H

#include <stdint.h>

#define LIFETIME_MAX_FD 1024 /* descriptors at or above this number are not accounted */

struct event_base;

/* A set of descriptor numbers. */
struct lifetime_fds {
    unsigned char bits[LIFETIME_MAX_FD / 8];
};

/* Records the descriptors open now. */
void lifetime_snapshot(struct lifetime_fds *fds);

/*
 * Warns (harness_warn) about each event still registered on `base` that libevent did not add
 * for itself, naming what it belongs to (a bufferevent, a listener, a timer) and its callback.
 * Adds the descriptors of the events it named to `named`, so that the descriptor check does
 * not say the same thing twice. `free_call` ("echo_server_free()") is named in the warnings.
 * Returns the number of warnings.
 */
int lifetime_check_events(struct event_base *base, const char *free_call,
                          struct lifetime_fds *named);

/*
 * Warns about each descriptor open now that was not open in `before` and is not in `named`,
 * leaving out the test's own sockets (those connected to `server_port`). Returns the number of
 * warnings.
 */
int lifetime_check_fds(const struct lifetime_fds *before, const struct lifetime_fds *named,
                       uint16_t server_port, const char *free_call);

#endif
