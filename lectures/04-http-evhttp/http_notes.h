/*
 * http_notes.h - Lecture 04's HTTP API: named notes, served by evhttp on your event_base.
 *
 *   GET    /health                        {"notes":N,"status":"ok"}
 *   GET    /notes?prefix=P&limit=N        {"count":K,"notes":[{"name":..,"text":..},...]}
 *   GET    /notes/{name}                  the note, or 404
 *   PUT    /notes/{name}   {"text":".."}  201 if created, 200 if replaced
 *   DELETE /notes/{name}                  204, or 404
 *   OPTIONS (any path)                    a CORS preflight answer
 *
 * Every answer the handlers give is JSON, errors included:
 *   {"error":{"message":"no note named \"x\"","status":404}}
 * Try it:  ./http-notes   then   curl -i -X PUT -d '{"text":"hi"}' localhost:8040/notes/first
 */
#ifndef HTTP_NOTES_H
#define HTTP_NOTES_H

#include <stdint.h>
#include <stdio.h>

struct event_base;

#define HTTP_NOTES_BODY_MAX 4096    /* request body bytes; evhttp itself answers 413 beyond */
#define HTTP_NOTES_HEADERS_MAX 8192 /* request line and headers; evhttp answers 400 beyond */
#define HTTP_NOTES_IDLE_S 30        /* keep-alive connections idle this long are closed */
#define HTTP_NOTES_LIST_DEFAULT 10  /* GET /notes returns at most this many without ?limit= */

struct http_notes;

/* Binds host:port (port 0: the kernel picks; see http_notes_port) and registers the routes.
 * Logs one line per answered request to `log` (NULL: silent). NULL on failure, with the reason
 * on stderr. Free with http_notes_free() before the base. */
struct http_notes *http_notes_new(struct event_base *base, const char *host, uint16_t port,
                                  FILE *log);

uint16_t http_notes_port(const struct http_notes *app);

/* Closes the listening socket: new connections are refused, open ones are still served. */
void http_notes_stop_accepting(struct http_notes *app);

/* Frees the evhttp (closing every connection) and the state. NULL is fine. */
void http_notes_free(struct http_notes *app);

#endif
