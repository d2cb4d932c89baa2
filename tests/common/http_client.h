/*
 * http_client.h - a small HTTP/1.1 client for tests, on top of client.h.
 *
 * It sends exactly the bytes a test asks for (so a test can send a malformed request, a
 * duplicate header or a lying Content-Length) and parses what comes back: the status line,
 * the headers and a Content-Length body, on a connection that may be kept alive for several
 * requests. Every byte goes through client.h, so it is all in the transcript. libevent's own
 * HTTP client is not used on purpose: it adds and drops headers by itself (it never sends
 * Host, and sends Content-Length only for POST and PUT).
 *
 *     struct client c;
 *     struct http_response r;
 *     client_connect(&c, port);
 *     http_send(&c, "POST", "/items", "Content-Type: application/json\r\n",
 *               "{\"title\":\"x\"}", 2000);
 *     if (http_read_response(&c, 0, &r, 2000) == CLIENT_OK) ... r.status, r.body ...
 *     http_response_free(&r);
 */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include "client.h"

#include <stddef.h>

#define HTTP_CLIENT_HEAD_MAX 8192               /* bytes of status line + headers kept */
#define HTTP_CLIENT_BODY_MAX (16 * 1024 * 1024) /* larger bodies are refused (CLIENT_ERROR) */

struct http_response {
    int status; /* 0 if no status line could be read */
    char status_line[256];
    char head[HTTP_CLIENT_HEAD_MAX]; /* the header lines, each "Name: value\n" */
    size_t head_len;
    char *body; /* NUL-terminated, malloc'd; "" if empty; never NULL */
    size_t body_len;
};

/*
 * Sends "METHOD TARGET HTTP/1.1", "Host: 127.0.0.1:PORT" (as curl would), the extra header
 * lines in `headers` (each ending in "\r\n"; may be NULL), a Content-Length header when body is
 * not NULL, and the body.
 * Returns 0 or -1 (as client_send).
 */
int http_send(struct client *c, const char *method, const char *target, const char *headers,
              const char *body, int timeout_ms);

/*
 * Reads one response: status line, headers, and a body of Content-Length bytes (none for a
 * HEAD request, a 1xx, 204 or 304 status; up to the close when there is no Content-Length).
 * Returns CLIENT_OK, or why it stopped; `resp` is always safe to free afterwards.
 */
enum client_status http_read_response(struct client *c, int head_request,
                                      struct http_response *resp, int timeout_ms);

/* The value of a response header (first match, case-insensitive name) copied into out, or
 * NULL if the response has no such header. */
const char *http_header(const struct http_response *resp, const char *name, char *out,
                        size_t outsz);

void http_response_free(struct http_response *resp);

#endif
