/*
 * framing.h - two decoders that turn TCP's byte stream back into messages, and a line server
 * that uses one of them. framing.c has both; framing_script.c feeds the decoders by hand and
 * plays a client against the server; framing_main.c is the tcp-framing program.
 */
#ifndef LECTURE03_FRAMING_H
#define LECTURE03_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define LINE_MAX_BYTES 64    /* longest line, not counting its LF or CRLF */
#define FRAME_HEADER_BYTES 4 /* the length prefix: 32 bits, big-endian */
#define FRAME_MAX_BYTES 1024 /* largest payload a frame may declare */

enum frame_status { FRAME_OK, FRAME_NEED_MORE, FRAME_TOO_LONG };

/* Takes one line (LF or CRLF, at most LINE_MAX_BYTES) off the front of `in`. On FRAME_OK,
 * *line is a malloc'd copy without its line end (the caller frees it) and *len its length. */
enum frame_status line_take(struct evbuffer *in, char **line, size_t *len);

/* Takes one length-prefixed frame off the front of `in` into `payload` (room for
 * FRAME_MAX_BYTES); *len is its length. Nothing is removed until the whole frame is there. */
enum frame_status frame_take(struct evbuffer *in, unsigned char *payload, size_t *len);

/* Appends one frame to `out`. Returns 0, or -1 if the payload is too big or memory runs out. */
int frame_put(struct evbuffer *out, const void *payload, size_t len);

struct line_server;

/* Serves the line protocol on 127.0.0.1:port (0 = any free port) and stores the port actually
 * bound in *bound_port. Logs to stdout. Returns the server (free it with line_server_free), or
 * NULL with the reason on stderr. */
struct line_server *line_server_new(struct event_base *base, uint16_t port, uint16_t *bound_port);

/* Closes every connection, then frees the listener and the server. NULL is allowed. */
void line_server_free(struct line_server *server);

#endif
