/*
 * middleware.h - the layers every request passes through on its way to the router.
 *
 * A middleware is a function that gets the exchange and `next`, the rest of the chain. It may
 * do something before calling middleware_run(ex, next), something after it returns, or answer
 * by itself and not call next at all. The chain is a plain array (see http_api.c):
 *
 *     log -> cors -> json_errors -> limits -> router
 *
 * so a request goes in left to right and its response comes back out right to left, like
 * tower layers under axum or Express middleware. Each concern lives in one place instead of
 * being repeated in every handler.
 *
 * This header is the same in exercises/ and solutions/.
 */
#ifndef MIDDLEWARE_H
#define MIDDLEWARE_H

#include "exchange.h"

#include <stddef.h>

struct middleware_chain;

/* One layer. `next` is the rest of the chain, passed by value. */
typedef void middleware_fn(struct exchange *ex, struct middleware_chain next);

struct middleware_chain {
    middleware_fn *const *layers; /* the layers still to run, outermost first */
    size_t count;
};

/* Runs the first layer of `chain`, handing it the rest as its `next`. Does nothing when the
 * chain is empty (the last layer, the router, never calls next). */
void middleware_run(struct exchange *ex, struct middleware_chain chain);

/* Writes one line per request to the log: method, path, status, response bytes, duration.
 *     GET /items/1 200 87B 41us */
middleware_fn middleware_log;

/* Adds Access-Control-Allow-Origin: * to every response and answers CORS preflights (OPTIONS
 * with Access-Control-Request-Method) with 204 and the allowed methods and headers. */
middleware_fn middleware_cors;

/* After the inner layers: any status >= 400 gets the body {"error": "<ex->error>"}. */
middleware_fn middleware_json_errors;

/* Before the inner layers: 431 for headers over max_header_bytes, 413 for a body over
 * max_body_bytes, 415 for a body that is not application/json. */
middleware_fn middleware_limits;

#endif
