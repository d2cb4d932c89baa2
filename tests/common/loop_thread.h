/*
 * loop_thread.h - run the server under test on its own event loop thread.
 *
 * A test creates the server on a base from loop_thread_new(), starts the loop in a second
 * thread, and then plays the client with ordinary blocking sockets (client.h) from the test's
 * own thread. If the server's code crashes, the whole test process dies and the test is
 * reported as a crash, which is what a student needs to see.
 *
 *     struct loop_thread *lt = loop_thread_new();
 *     struct echo_server *srv = echo_server_new(loop_thread_base(lt), &cfg);
 *     loop_thread_start(lt);
 *     ... talk to the server ...
 *     loop_thread_stop(lt);                 // the loop is stopped and joined
 *     echo_server_free(srv);                // so this is safe on the test's thread
 *     loop_thread_free(lt);
 *
 * A watchdog watches the loop while it runs. If the loop stops turning for
 * LOOP_THREAD_BLOCKED_MS (a callback that never returns: a blocking read(), a sleep(), an endless
 * loop), the test fails at once with a message that says so and where the loop is stuck
 * ("inside read(), called from conn_read_cb (echo_conn.c:88)"), instead of waiting for a timeout
 * that would not tell the student why. The limit stays below the tests' own waits even in a
 * sanitized build, so that the watchdog speaks first: no callback of a correct server comes
 * anywhere near it.
 */
#ifndef LOOP_THREAD_H
#define LOOP_THREAD_H

#define LOOP_THREAD_BLOCKED_MS 2000 /* scaled by CK_TIMEOUT_MULTIPLIER, like Check's timeouts, */
#define LOOP_THREAD_BLOCKED_MAX_MS 3500 /* but never beyond this: below the tests' 5 s waits */
#define LOOP_THREAD_BLOCKED_MESSAGE "the server's event loop was blocked"

struct event_base;
struct loop_thread;

/* Turns on libevent's pthread locking (once) and makes a base. NULL on failure. */
struct loop_thread *loop_thread_new(void);

struct event_base *loop_thread_base(struct loop_thread *lt);

/* Starts event_base_loop() on a new thread. The loop keeps running with no events pending,
 * so it is safe to start it before the server has anything to do. Returns 0 or -1. */
int loop_thread_start(struct loop_thread *lt);

/* Runs fn(arg) on the loop thread and waits for it to return (for code that must run there,
 * such as a graceful shutdown call). Returns 0, or -1 if the loop is not running. */
int loop_thread_call(struct loop_thread *lt, void (*fn)(void *), void *arg);

/* Breaks the loop and joins the thread. Safe to call twice. */
void loop_thread_stop(struct loop_thread *lt);

/* Stops the loop if needed and frees the base. Free everything created on the base first. */
void loop_thread_free(struct loop_thread *lt);

#endif
