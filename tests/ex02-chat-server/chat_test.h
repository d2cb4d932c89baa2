/*
 * chat_test.h - what the chat server's tests share: a server on its own loop thread, clients
 * that join the room, lines to expect, log lines to wait for, and scratch directories for
 * history files.
 *
 * Network tests drive the real server over loopback sockets. The server runs on a loop
 * thread (loop_thread.h) and logs into a pipe the test can wait on (log_capture.h); clients
 * are blocking sockets with a timeout on every wait (client.h). Nothing waits by sleeping: a
 * test waits for a line, a close, or a log line, each with a timeout.
 */
#ifndef CHAT_TEST_H
#define CHAT_TEST_H

#include "client.h"
#include "harness.h"
#include "log_capture.h"
#include "loop_thread.h"
#include "scratch.h"
#include "server_fixture.h"

#include "chat_line.h"
#include "chat_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAT_TEST_WAIT_MS 5000  /* how long to wait for something that should happen */
#define CHAT_TEST_LINE_MAX 4096 /* longest line a test reads */
#define CHAT_TEST_PATH_MAX 256

/* Creates a server on 127.0.0.1, port 0, on a loop thread's base, without running the loop.
 * `cfg` gives the other settings (NULL: all defaults, no history file, no idle timeout); its
 * host, port and log are filled in here. Fails the test, showing the server's log, if
 * chat_server_new() fails. */
void chat_test_create(struct server_fixture *f, const struct chat_server_config *cfg);

/* chat_test_create(), then runs the loop on its thread. */
void chat_test_start(struct server_fixture *f, const struct chat_server_config *cfg);

/* Stops the loop, frees the server, then the log. */
void chat_test_stop(struct server_fixture *f);

/* Connects a client to 127.0.0.1:port; fails the test if that is impossible. */
void chat_test_connect(uint16_t port, struct client *c);

/* Connects c and reads its greeting: "* welcome <nick>", then lines up to "* end of history"
 * (there must be none unless the history has messages). Copies the nick into `nick`
 * (CHAT_NICK_MAX + 1 bytes; NULL: not needed). */
void chat_test_join(uint16_t port, struct client *c, char *nick);

/* Joins n clients one after the other (nicks guest1, guest2, ... on a fresh server). Each
 * client already in the room reads the "* <nick> joined" of each newcomer, so afterwards
 * nobody has anything unread. */
void chat_test_join_all(uint16_t port, struct client *c, int n);

/* Sends text; fails the test if the server does not take it. */
void chat_test_send(struct client *c, const char *text);

/*
 * Receives the next line on c and checks that it is exactly `expected`. On failure the
 * message says what happened before (`after`, e.g. "c1 sent \"hi\\n\""), what was expected,
 * what arrived instead, and what to look at (`look_at`).
 */
void chat_test_expect_line(struct client *c, const char *expected, const char *after,
                           const char *look_at);

/* Expects the server to close c (lines still arriving are skipped). */
void chat_test_expect_close(struct client *c, const char *after, const char *look_at);

/* Makes c a client that does not read: a small receive buffer, and the test reads nothing
 * from it until it says so. What the server sends it then piles up in the kernel, and soon in
 * the server's own buffer for it. */
void chat_test_stop_reading(struct client *c);

/* Undoes chat_test_stop_reading(): a large receive buffer again, so that catching up is fast
 * (a 4 KiB window over megabytes would take minutes). */
void chat_test_resume_reading(struct client *c);

/* Flood lines: "<6-digit number> " and CHAT_TEST_FLOOD_TEXT 'm's. */
#define CHAT_TEST_FLOOD_TEXT 1000
#define CHAT_TEST_FLOOD_BATCH 32 /* lines sent at once, then read back */

/* `from` sends flood lines first .. first + n - 1, CHAT_TEST_FLOOD_BATCH at a time, and after
 * each batch `reader` must receive each of them as "<from_nick>: <line>". When it returns, the
 * server has handled every line, so it has queued each one for every other client too. */
void chat_test_flood(struct client *from, const char *from_nick, struct client *reader, int first,
                     int n);

/* c must receive flood lines first .. first + n - 1 from from_nick, complete and in order. */
void chat_test_expect_flood(struct client *c, const char *from_nick, int first, int n,
                            const char *after);

#endif
