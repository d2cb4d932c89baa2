/*
 * retry_get.h - one HTTP GET, retried with exponential back-off, jitter and Retry-After, on
 * timers so the loop keeps serving while it waits. http_errors_script.c runs it in scene 4.
 */
#ifndef LECTURE06_RETRY_GET_H
#define LECTURE06_RETRY_GET_H

#include <event2/event.h>
#include <event2/http.h>

#define RETRY_MAX_ATTEMPTS 3
#define RETRY_BASE_MS 100 /* the first back-off; it doubles per attempt */
#define RETRY_CAP_MS 2000 /* the back-off never grows past this */

/* The GET is over: it succeeded, failed in a way a retry cannot fix, or ran out of attempts. */
typedef void (*retry_get_done_fn)(void *arg);

struct retry_get;

/* Starts GET `path` on evcon (not owned: it must outlive the retry) and prints one line per
 * attempt. rng is the caller's jitter state (not owned). done(arg) is called exactly once, when
 * the GET is over. Returns the retry, or NULL (done will not be called). Free it with
 * retry_get_free once done has run, or to give up on it. */
struct retry_get *retry_get_start(struct event_base *base, struct evhttp_connection *evcon,
                                  const char *path, unsigned *rng, retry_get_done_fn done,
                                  void *arg);

/* Frees the retry and its timer. NULL is allowed. */
void retry_get_free(struct retry_get *r);

#endif
