/*
 * middleware.c - see middleware.h. Four small layers and the function that chains them.
 */
#include "middleware.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_URI_SHOWN 200 /* bytes of the request URI written to the log; the rest is cut */
#define CORS_ALLOW_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_DEFAULT_HEADERS "Content-Type"
#define CORS_MAX_AGE_S "86400" /* browsers may cache a preflight answer this long (they cap it) */
#define CORS_ECHO_MAX 512      /* longest Access-Control-Request-Headers value echoed back */

void middleware_run(struct exchange *ex, struct middleware_chain chain)
{
    if (chain.count == 0)
        return;
    struct middleware_chain next = {chain.layers + 1, chain.count - 1};
    chain.layers[0](ex, next);
}

/* ---- log ------------------------------------------------------------------------------- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Copies the client's URI for the log with anything unprintable as \xNN: a log line must not
 * carry a client's terminal escape sequences or fake line breaks. */
static void escape_for_log(const char *src, char *dst, size_t dstsz)
{
    size_t o = 0;
    for (size_t i = 0; src[i] != '\0' && i < LOG_URI_SHOWN; i++) {
        unsigned char c = (unsigned char)src[i];
        if (o + 5 >= dstsz)
            break;
        if (c > 0x20 && c < 0x7f)
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02x", c);
    }
    dst[o] = '\0';
}

void middleware_log(struct exchange *ex, struct middleware_chain next)
{
    /* STUDENT(11): Log every request, once its response is ready, as one line on the app's log
     * (none when it is NULL):
     *     METHOD URI STATUS BYTESB MICROSECONDSus     e.g. GET /items/1 200 87B 41us
     * URI as the client sent it (query included) but cut to LOG_URI_SHOWN bytes and with every
     * unprintable byte written as \xNN (escape_for_log above): a client must not be able to
     * forge log lines. BYTES is the response body's size (0 for HEAD, whose body is never
     * sent); MICROSECONDS is the time the inner layers took. Several worker threads share the
     * log stream: write each line with a single call, or lines may interleave.
     * stub:
     *     middleware_run(ex, next); */
    int64_t start = now_us();
    middleware_run(ex, next);
    if (ex->app->log == NULL)
        return;

    char uri[LOG_URI_SHOWN * 4 + 1];
    escape_for_log(evhttp_request_get_uri(ex->req), uri, sizeof uri);
    /* A HEAD response carries no body (evhttp drops it), whatever the handler wrote. */
    size_t bytes = ex->method == EVHTTP_REQ_HEAD ? 0 : evbuffer_get_length(ex->out);
    /* One fprintf per line: stdio locks the stream for the call, so lines from several worker
     * threads never interleave. */
    fprintf(ex->app->log, "%s %s %d %zuB %" PRId64 "us\n", exchange_method_name(ex->method), uri,
            ex->status, bytes, now_us() - start);
    /* END STUDENT(11) */
}

/* ---- cors ------------------------------------------------------------------------------ */

/* Echo the headers a preflight asks for only if they look like a header-name list. */
static bool header_list_is_plausible(const char *list)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789-_, ";
    size_t len = strlen(list);
    return len > 0 && len <= CORS_ECHO_MAX && strspn(list, allowed) == len;
}

void middleware_cors(struct exchange *ex, struct middleware_chain next)
{
    /* STUDENT(9): Let web pages on other origins use the API. Every response, errors and
     * preflights included, carries "Access-Control-Allow-Origin: *". A preflight is an OPTIONS
     * request with an Access-Control-Request-Method header: a browser asking before it sends
     * the real request, for a path that may not even exist. Answer it here, for any path: 204
     * with Access-Control-Allow-Methods (CORS_ALLOW_METHODS), Access-Control-Allow-Headers (the
     * Access-Control-Request-Headers it asked for, echoed when header_list_is_plausible, else
     * CORS_DEFAULT_HEADERS) and Access-Control-Max-Age (CORS_MAX_AGE_S). Any other request
     * goes on to the inner layers, and its response also says
     * "Access-Control-Expose-Headers: Location, Link, X-Total-Count": without that, a script
     * cannot read those headers.
     * stub:
     *     middleware_run(ex, next); */
    /* Added before anything else happens, so every response carries it, errors included. */
    exchange_add_header(ex, "Access-Control-Allow-Origin", "*");

    if (ex->method == EVHTTP_REQ_OPTIONS &&
        exchange_request_header(ex, "Access-Control-Request-Method") != NULL) {
        /* A browser asking before a cross-origin request: answer for any path, the browser
         * does not know yet whether the path exists. */
        const char *asked = exchange_request_header(ex, "Access-Control-Request-Headers");
        exchange_add_header(ex, "Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
        if (asked == NULL || !header_list_is_plausible(asked))
            asked = CORS_DEFAULT_HEADERS;
        exchange_add_header(ex, "Access-Control-Allow-Headers", asked);
        exchange_add_header(ex, "Access-Control-Max-Age", CORS_MAX_AGE_S);
        ex->status = 204;
        return;
    }
    /* Scripts may read only a few response headers unless told otherwise: expose the ones a
     * client needs, Location after POST /items and the paging headers of GET /items. */
    exchange_add_header(ex, "Access-Control-Expose-Headers", "Location, Link, X-Total-Count");
    middleware_run(ex, next);
    /* END STUDENT(9) */
}

/* ---- json_errors ----------------------------------------------------------------------- */

/* STUDENT(2): Errors as JSON. After the inner layers have run, every response with a status
 * of 400 or more gets the body {"error": "<ex->error>"} instead of whatever it had (a generic
 * message such as "HTTP status 500" when ex->error is empty), and a response with no status at
 * all means no layer answered: a 500 saying so. The trap: a message may quote a client's bytes
 * (a path, a key), which need not be valid UTF-8, and a JSON string must be; replace what is
 * not printable ASCII with '?' rather than send broken JSON. Build the body with jansson so
 * that quotes and backslashes in a message are escaped for you.
 * stub: */
/* Replaces anything but printable ASCII with '?'. For messages that quote a client's bytes
 * that turned out not to be valid UTF-8, which a JSON string cannot hold. */
static void make_ascii(char *s)
{
    for (; *s != '\0'; s++)
        if (*s < 0x20 || *s >= 0x7f)
            *s = '?';
}

static int append_cb(const char *buffer, size_t size, void *data)
{
    return evbuffer_add(data, buffer, size);
}

/* END STUDENT(2) */

void middleware_json_errors(struct exchange *ex, struct middleware_chain next)
{
    /* STUDENT(2): see the block above.
     * stub:
     *     middleware_run(ex, next); */
    middleware_run(ex, next);
    if (ex->status == 0)
        exchange_fail(ex, 500, "no handler answered the request");
    if (ex->status < 400)
        return;

    if (ex->error[0] == '\0')
        snprintf(ex->error, sizeof ex->error, "HTTP status %d", ex->status);
    json_t *message = json_string(ex->error);
    if (message == NULL) {
        make_ascii(ex->error);
        message = json_string(ex->error);
    }
    json_t *body = json_pack("{s:o?}", "error", message); /* "o?" steals message, NULL -> null */
    evbuffer_drain(ex->out, evbuffer_get_length(ex->out));
    if (body == NULL || json_dump_callback(body, append_cb, ex->out, JSON_COMPACT) != 0)
        evbuffer_add_printf(ex->out, "{\"error\":\"HTTP status %d\"}", ex->status);
    json_decref(body);
    /* END STUDENT(2) */
}

/* ---- limits ---------------------------------------------------------------------------- */

/* STUDENT(10): Refuse what is too big or not JSON before any inner layer reads it, with the
 * status made for each case (the lecture's table), checked in this order:
 *   431 when the request line and headers, counted as the client sent them (method, URI,
 *       version, and "Name: value" plus CRLF for each header, give or take a few bytes),
 *       exceed the app's max_header_bytes;
 *   413 when the body exceeds max_body_bytes (a body of exactly the limit is allowed);
 *   415 when there is a body and its Content-Type is not application/json: any letter case,
 *       parameters such as "; charset=utf-8" allowed, no Content-Type at all refused. The
 *       message contains "application/json", so that the client learns what to send.
 * The message of each says the size found and the limit, or the type found.
 * stub: */
/* The size of the request line and headers, as the client sent them (give or take spaces). */
static size_t header_bytes(const struct exchange *ex)
{
    size_t total = strlen(evhttp_request_get_uri(ex->req)) + sizeof "OPTIONS  HTTP/1.1\r\n";
    const struct evkeyvalq *headers = evhttp_request_get_input_headers(ex->req);
    for (const struct evkeyval *h = headers->tqh_first; h != NULL; h = h->next.tqe_next)
        total += strlen(h->key) + strlen(h->value) + 4; /* ": " and CRLF */
    return total;
}

/* application/json, in any letter case, optionally with parameters (; charset=utf-8). */
static bool is_json_type(const char *type)
{
    static const char json[] = "application/json";
    if (type == NULL || strncasecmp(type, json, sizeof json - 1) != 0)
        return false;
    char after = type[sizeof json - 1];
    return after == '\0' || after == ';' || after == ' ' || after == '\t';
}

/* END STUDENT(10) */

void middleware_limits(struct exchange *ex, struct middleware_chain next)
{
    /* STUDENT(10): see the block above.
     * stub:
     *     middleware_run(ex, next); */
    size_t headers = header_bytes(ex);
    size_t body = evbuffer_get_length(ex->body);

    if (headers > ex->app->max_header_bytes) {
        exchange_fail(ex, 431, "the request line and headers are %zu bytes; the limit is %zu",
                      headers, ex->app->max_header_bytes);
        return;
    }
    if (body > ex->app->max_body_bytes) {
        exchange_fail(ex, 413, "the body is %zu bytes; the limit is %zu", body,
                      ex->app->max_body_bytes);
        return;
    }
    const char *type = exchange_request_header(ex, "Content-Type");
    if (body > 0 && !is_json_type(type)) {
        exchange_fail(ex, 415, "the body must be sent as Content-Type: application/json, not %.60s",
                      type != NULL ? type : "(none)");
        return;
    }
    middleware_run(ex, next);
    /* END STUDENT(10) */
}
