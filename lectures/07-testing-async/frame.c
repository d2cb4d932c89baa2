/*
 * frame.c - see frame.h.
 */
#include "frame.h"

#include <event2/buffer.h>

int frame_encode(struct evbuffer *out, const void *payload, size_t len)
{
    unsigned char header[FRAME_HEADER] = {(unsigned char)(len >> 8), (unsigned char)len};

    if (len > FRAME_MAX)
        return -1;
    if (evbuffer_add(out, header, sizeof header) != 0 || evbuffer_add(out, payload, len) != 0)
        return -1;
    return 0;
}

int frame_decode(struct evbuffer *in, unsigned char *out, size_t outsz, size_t *len)
{
    unsigned char header[FRAME_HEADER];

    if (evbuffer_copyout(in, header, sizeof header) < (ev_ssize_t)sizeof header)
        return 0;
    size_t n = (size_t)header[0] << 8 | header[1];
    if (n > FRAME_MAX || n > outsz)
        return -1;
    if (evbuffer_get_length(in) < FRAME_HEADER + n)
        return 0;
    evbuffer_drain(in, FRAME_HEADER);
    evbuffer_remove(in, out, n);
    *len = n;
    return 1;
}
