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

void middleware_log(struct exchange *ex, struct middleware_chain next)
{
    /* TODO(10): the request log (lecture: lectures/04-http-evhttp/README.md#middleware).
     * Note the time (clock_gettime(CLOCK_MONOTONIC)), call middleware_run(ex, next), then write
     * ONE line with ONE fprintf call to ex->app->log (if not NULL), e.g.
     *     GET /items/1 200 87B 41us
     * method (exchange_method_name), the request URI as sent (evhttp_request_get_uri: copy at
     * most LOG_URI_SHOWN bytes and write unprintable bytes as \xNN), status, body bytes
     * (evbuffer_get_length(ex->out); 0 for HEAD) and the microseconds spent. One fprintf per
     * line keeps lines from different worker threads whole. */
    middleware_run(ex, next);
}

/* ---- cors ------------------------------------------------------------------------------ */

void middleware_cors(struct exchange *ex, struct middleware_chain next)
{
    /* TODO(8): CORS (lecture: lectures/04-http-evhttp/README.md#cors).
     * Add "Access-Control-Allow-Origin: *" before anything else, so every response has it.
     * A preflight is OPTIONS with an Access-Control-Request-Method header: answer it here for
     * any path with 204, Access-Control-Allow-Methods (CORS_ALLOW_METHODS),
     * Access-Control-Allow-Headers (echo Access-Control-Request-Headers if it is a plausible
     * list of header names, at most CORS_ECHO_MAX bytes; else CORS_DEFAULT_HEADERS) and
     * Access-Control-Max-Age, and do not call next. Otherwise add
     * "Access-Control-Expose-Headers: Location, Link, X-Total-Count" (so scripts can read
     * those) and call next. */
    middleware_run(ex, next);
}

/* ---- json_errors ----------------------------------------------------------------------- */

void middleware_json_errors(struct exchange *ex, struct middleware_chain next)
{
    /* TODO(7): errors as JSON (lecture: lectures/04-http-evhttp/README.md#errors-as-json).
     * Call next first. Then: status 0 means nobody answered (500). For status >= 400, empty
     * ex->out and write {"error": ex->error} with jansson (json_pack + json_dump_callback),
     * using a generic message if ex->error is empty. json_string() refuses text that is not
     * valid UTF-8 (a message may quote a client's bytes): then replace every byte outside
     * printable ASCII with '?' and try again. */
    middleware_run(ex, next);
}

/* ---- limits ---------------------------------------------------------------------------- */

void middleware_limits(struct exchange *ex, struct middleware_chain next)
{
    /* TODO(9): limits (lecture: lectures/04-http-evhttp/README.md#middleware).
     * Before calling next, refuse:
     *   431 when the request line and headers (sum strlen(key) + strlen(value) + 4 over
     *       evhttp_request_get_input_headers, plus the URI) exceed ex->app->max_header_bytes;
     *   413 when the body (evbuffer_get_length(ex->body)) exceeds ex->app->max_body_bytes;
     *   415 when there is a body and Content-Type is not application/json (any letter case,
     *       parameters such as "; charset=utf-8" allowed).
     * evhttp has limits of its own, but its replies are HTML without CORS headers: that is why
     * http_api.c sets evhttp's limits EVHTTP_LIMIT_FACTOR times higher than these. */
    middleware_run(ex, next);
}
