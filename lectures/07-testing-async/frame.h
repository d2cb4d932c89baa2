/*
 * frame.h - length-prefixed frames on an evbuffer: the decoder the tests of this lecture test.
 *
 * A frame is a 2-byte big-endian length followed by that many payload bytes (any bytes, NUL
 * included), at most FRAME_MAX. The decoder works on a plain evbuffer, so a test can feed it
 * bytes without a socket or a loop.
 */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>

#define FRAME_HEADER 2 /* bytes of length before each payload */
#define FRAME_MAX 1024 /* the largest payload accepted */

struct evbuffer;

/* Appends one frame to out. Returns 0, or -1 if len > FRAME_MAX or out of memory. */
int frame_encode(struct evbuffer *out, const void *payload, size_t len);

/*
 * Takes one frame from the front of in. Returns 1 with the payload in out (outsz must be at
 * least FRAME_MAX) and its length in *len; 0 if in holds no complete frame yet (nothing is
 * taken); -1 if the next frame announces more than FRAME_MAX bytes (the stream is broken).
 */
int frame_decode(struct evbuffer *in, unsigned char *out, size_t outsz, size_t *len);

#endif
