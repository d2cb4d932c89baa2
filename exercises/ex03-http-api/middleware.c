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

/* Until every TODO is done, some functions are not called yet and some stubs leave
 * parameters and variables unused. These lines keep the compiler quiet about that; delete
 * them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

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
    /* TODO(11): the request log
     * Read: lectures/04-http-evhttp/README.md#timing-and-logging
     * Log every request, once its response is ready, as one line on the app's log
     * (none when it is NULL):
     *     METHOD URI STATUS BYTESB MICROSECONDSus     e.g. GET /items/1 200 87B 41us
     * URI as the client sent it (query included) but cut to LOG_URI_SHOWN bytes and with every
     * unprintable byte written as \xNN (escape_for_log above): a client must not be able to
     * forge log lines. BYTES is the response body's size (0 for HEAD, whose body is never
     * sent); MICROSECONDS is the time the inner layers took. Several worker threads share the
     * log stream: write each line with a single call, or lines may interleave.
     */
    middleware_run(ex, next);
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
    /* TODO(9): CORS headers and preflights
     * Read: lectures/04-http-evhttp/README.md#cors
     * Let web pages on other origins use the API. Every response, errors and
     * preflights included, carries "Access-Control-Allow-Origin: *". A preflight is an OPTIONS
     * request with an Access-Control-Request-Method header: a browser asking before it sends
     * the real request, for a path that may not even exist. Answer it here, for any path: 204
     * with Access-Control-Allow-Methods (CORS_ALLOW_METHODS), Access-Control-Allow-Headers (the
     * Access-Control-Request-Headers it asked for, echoed when header_list_is_plausible, else
     * CORS_DEFAULT_HEADERS) and Access-Control-Max-Age (CORS_MAX_AGE_S). Any other request
     * goes on to the inner layers, and its response also says
     * "Access-Control-Expose-Headers: Location, Link, X-Total-Count": without that, a script
     * cannot read those headers.
     */
    middleware_run(ex, next);
}

/* ---- json_errors ----------------------------------------------------------------------- */

/* TODO(2): errors as JSON
 * Read: lectures/04-http-evhttp/README.md#errors-as-json
 * Errors as JSON. After the inner layers have run, every response with a status
 * of 400 or more gets the body {"error": "<ex->error>"} instead of whatever it had (a generic
 * message such as "HTTP status 500" when ex->error is empty), and a response with no status at
 * all means no layer answered: a 500 saying so. The trap: a message may quote a client's bytes
 * (a path, a key), which need not be valid UTF-8, and a JSON string must be; replace what is
 * not printable ASCII with '?' rather than send broken JSON. Build the body with jansson so
 * that quotes and backslashes in a message are escaped for you.
 */

void middleware_json_errors(struct exchange *ex, struct middleware_chain next)
{
    /* TODO(2): errors as JSON
     * Read: lectures/04-http-evhttp/README.md#errors-as-json
     * see the block above.
     */
    middleware_run(ex, next);
}

/* ---- limits ---------------------------------------------------------------------------- */

/* TODO(10): limits: 431, 413 and 415
 * Read: lectures/04-http-evhttp/README.md#status-codes-for-bad-requests
 * Refuse what is too big or not JSON before any inner layer reads it, with the
 * status made for each case (the lecture's table), checked in this order:
 *   431 when the request line and headers, counted as the client sent them (method, URI,
 *       version, and "Name: value" plus CRLF for each header, give or take a few bytes),
 *       exceed the app's max_header_bytes;
 *   413 when the body exceeds max_body_bytes (a body of exactly the limit is allowed);
 *   415 when there is a body and its Content-Type is not application/json: any letter case,
 *       parameters such as "; charset=utf-8" allowed, no Content-Type at all refused. The
 *       message contains "application/json", so that the client learns what to send.
 * The message of each says the size found and the limit, or the type found.
 */

void middleware_limits(struct exchange *ex, struct middleware_chain next)
{
    /* TODO(10): limits: 431, 413 and 415
     * Read: lectures/04-http-evhttp/README.md#status-codes-for-bad-requests
     * see the block above.
     */
    middleware_run(ex, next);
}
