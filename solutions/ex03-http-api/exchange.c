/*
 * exchange.c - see exchange.h. Thin wrappers over evhttp's request accessors, so that the
 * layers above read like a description of HTTP rather than of libevent.
 */
#include "exchange.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h> /* a bufferevent's write event: see exchange_send */
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int exchange_init(struct exchange *ex, struct evhttp_request *req, const struct app_state *app)
{
    memset(ex, 0, sizeof *ex);
    ex->req = req;
    ex->app = app;
    ex->method = evhttp_request_get_command(req);
    ex->body = evhttp_request_get_input_buffer(req);
    ex->out = evbuffer_new();
    if (ex->out == NULL)
        return -1;

    /* evhttp parses the URI but leaves the path percent-encoded: /items/%31 is /items/1. */
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (raw != NULL) {
        size_t len = 0;
        ex->path = evhttp_uridecode(raw, 0, &len);
        if (ex->path != NULL && strlen(ex->path) != len) {
            free(ex->path); /* a %00 inside: no route could match it, and C strings stop there */
            ex->path = NULL;
        }
    }
    return 0;
}

void exchange_cleanup(struct exchange *ex)
{
    free(ex->path);
    ex->path = NULL;
    if (ex->out != NULL)
        evbuffer_free(ex->out);
    ex->out = NULL;
}

void exchange_fail(struct exchange *ex, int status, const char *fmt, ...)
{
    va_list ap;
    ex->status = status;
    va_start(ap, fmt);
    vsnprintf(ex->error, sizeof ex->error, fmt, ap);
    va_end(ap);
}

const char *exchange_request_header(const struct exchange *ex, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(ex->req), name);
}

void exchange_add_header(struct exchange *ex, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(ex->req), name, value);
}

const char *exchange_body(struct exchange *ex, size_t *len)
{
    *len = evbuffer_get_length(ex->body);
    /* The body may sit in several chunks; make it one. The limits middleware has already
     * refused anything over max_body_bytes, so this copy is bounded. */
    return *len > 0 ? (const char *)evbuffer_pullup(ex->body, -1) : NULL;
}

/* A Host header goes into URLs and headers we send back: accept only the characters of a host
 * name, an IPv4 or bracketed IPv6 address and a port, so nothing odd is echoed. */
static int host_is_plausible(const char *host)
{
    size_t len = strlen(host);
    if (len == 0 || len > EXCHANGE_HOST_MAX)
        return 0;
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789.-_:[]";
    return strspn(host, allowed) == len;
}

void exchange_origin(const struct exchange *ex, char *origin, size_t size)
{
    const char *host = exchange_request_header(ex, "Host");
    if (host != NULL && host_is_plausible(host))
        snprintf(origin, size, "http://%s", host);
    else
        snprintf(origin, size, "%s", ex->app->fallback_origin);
}

const char *exchange_method_name(enum evhttp_cmd_type method)
{
    switch (method) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
}

/* The reason phrase of a status line. evhttp 2.1 knows the phrases of HTTP/1.1 as first
 * published (RFC 2616) and says "Client Error" or "Server Error" for codes added later. NULL
 * means evhttp's own phrase is right. */
static const char *reason_phrase(int status)
{
    switch (status) {
    case 422:
        return "Unprocessable Entity"; /* RFC 9110 */
    case 431:
        return "Request Header Fields Too Large"; /* RFC 6585 */
    case 507:
        return "Insufficient Storage"; /* RFC 4918 */
    }
    return NULL;
}

/* A reply to CONNECT. evhttp expects one to open a tunnel: it sends no Content-Length and no
 * Content-Type, and keeps the connection open even with "Connection: close", so the client
 * would wait for the end of the body until the idle timeout. Frame the reply ourselves, and
 * shut the socket's reading side: once the reply is written, evhttp reads for the next
 * request, finds end-of-file at once and closes the connection. */
static void prepare_connect_reply(struct exchange *ex)
{
    char len[24];
    snprintf(len, sizeof len, "%zu", evbuffer_get_length(ex->out));
    exchange_add_header(ex, "Content-Length", len);
    exchange_add_header(ex, "Content-Type", "application/json");
    exchange_add_header(ex, "Connection", "close");
    struct bufferevent *bev =
        evhttp_connection_get_bufferevent(evhttp_request_get_connection(ex->req));
    if (bev != NULL)
        shutdown(bufferevent_getfd(bev), SHUT_RD);
}

void exchange_send(struct exchange *ex)
{
    if (ex->method == EVHTTP_REQ_CONNECT)
        prepare_connect_reply(ex);
    if (ex->method == EVHTTP_REQ_HEAD) {
        /* HEAD is GET without the body. evhttp 2.1 would send the body anyway, and without a
         * Content-Length: announce the length a GET would have, and drop the bytes. */
        char len[24];
        snprintf(len, sizeof len, "%zu", evbuffer_get_length(ex->out));
        exchange_add_header(ex, "Content-Length", len);
        evbuffer_drain(ex->out, evbuffer_get_length(ex->out));
    }
    /* evhttp empties ex->out but does not free it: exchange_cleanup() does. Content-Type
     * comes from the server's default (application/json, set in http_api.c) whenever there is
     * a body. A status of 0 means no layer answered, which is a bug: say so with a 500 rather
     * than send nonsense. */
    int status = ex->status != 0 ? ex->status : 500;
    struct evhttp_connection *conn = evhttp_request_get_connection(ex->req);
    struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
    evhttp_send_reply(ex->req, status, reason_phrase(status), ex->out);

    /* evhttp only queues the reply: its bufferevent starts waiting for the socket to become
     * writable (an epoll_ctl), writes when epoll says so (another trip round the loop), then
     * stops waiting (another epoll_ctl). A socket that just delivered a request almost always
     * has room for the reply, so run the bufferevent's own write callback now instead: it
     * writes in this loop iteration, and with the epoll changelist (http_api.c) the start and
     * stop of the wait cancel out before they reach the kernel. If the socket is full after
     * all, the callback keeps waiting as usual. This saved two of five system calls and one
     * epoll_wait per keep-alive request. */
    if (bev != NULL)
        event_active(&bev->ev_write, EV_WRITE, 1);
}
