/*
 * router.h - the routes of the API: which handler answers which method and path.
 *
 *     /items        GET HEAD POST DELETE OPTIONS
 *     /items/{id}   GET HEAD PUT PATCH DELETE OPTIONS
 *
 * A trailing slash is accepted (/items/, /items/1/). An {id} is a positive decimal integer
 * without leading zeros; anything else there is a path that names no item: 404. A method a
 * path does not support gets 405 and an Allow header listing the ones it does. CONNECT, which
 * asks a proxy for a tunnel and names no path, gets 501 Not Implemented.
 *
 * evhttp_set_cb() only matches exact paths, so evhttp sends every request to one callback
 * (evhttp_set_gencb) and the matching happens here. The router is the innermost middleware
 * layer: it answers and never calls next.
 *
 * This header is the same in exercises/ and solutions/.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include "middleware.h"

#include <stddef.h>
#include <stdint.h>

/* Routes the exchange to its handler, which answers it. */
middleware_fn router_dispatch;

/*
 * Parses the {id} part of a path: `len` bytes at `text`. Returns the id, or 0 when the text is
 * not a positive decimal integer without sign or leading zeros, within ITEM_INT_MAX.
 */
uint64_t router_parse_id(const char *text, size_t len);

#endif
