/*
 * framing_script.c - the scripted part of `tcp-framing --demo`.
 *
 * First it feeds framing.c's decoders bytes in the chunks reads might return (split lines,
 * split headers, several frames at once, oversize) and prints what each call takes. Then it
 * plays one client against the line server over a real socket: two good lines and a line with
 * no end, all in one write, and the server's error reply and lingering close.
 */
#include "framing_script.h"
#include "framing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>

/* Prints bytes as a C string literal: "lo\r\nwor". */
static void print_quoted(const unsigned char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            fputs("\\n", stdout);
        else if (p[i] == '\r')
            fputs("\\r", stdout);
        else if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] >= 0x7f)
            printf("\\x%02x", p[i]);
        else
            putchar(p[i]);
    }
    putchar('"');
}

static void print_hex(const unsigned char *p, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf(i == 0 ? "%02x" : " %02x", p[i]);
    putchar(']');
}

/* Adds one chunk to `in`, as if one read had returned it, and takes every complete line.
 * Returns false once the stream is broken (too long). */
static bool feed_lines(struct evbuffer *in, const char *chunk, size_t n)
{
    enum frame_status st;
    char *line;
    size_t len;

    evbuffer_add(in, chunk, n);
    printf("  read %2zu bytes ", n);
    print_quoted((const unsigned char *)chunk, n);
    putchar('\n');
    while ((st = line_take(in, &line, &len)) == FRAME_OK) {
        printf("    -> line of %zu bytes: ", len);
        print_quoted((unsigned char *)line, len);
        if (strlen(line) != len)
            printf("  (strlen() says %zu: it stops at the NUL)", strlen(line));
        putchar('\n');
        free(line);
    }
    if (st == FRAME_TOO_LONG) {
        printf("    -> too long: more than %d bytes before the line end: reply with an error "
               "and close\n",
               LINE_MAX_BYTES);
        return false;
    }
    printf("    -> need more (%zu bytes wait in the buffer)\n", evbuffer_get_length(in));
    return true;
}

static bool feed_frames(struct evbuffer *in, const unsigned char *chunk, size_t n)
{
    unsigned char payload[FRAME_MAX_BYTES];
    enum frame_status st;
    size_t len;

    evbuffer_add(in, chunk, n);
    printf("  read %2zu bytes ", n);
    print_hex(chunk, n);
    putchar('\n');
    while ((st = frame_take(in, payload, &len)) == FRAME_OK) {
        printf("    -> frame of %zu bytes: ", len);
        print_quoted(payload, len);
        putchar('\n');
    }
    if (st == FRAME_TOO_LONG) {
        printf("    -> too long: the header declares more than %d bytes: close (there is no way "
               "to find the next frame)\n",
               FRAME_MAX_BYTES);
        return false;
    }
    printf("    -> need more (%zu bytes wait in the buffer)\n", evbuffer_get_length(in));
    return true;
}

/* Runs the chunked examples. Returns 0, or -1 if memory ran out. */
int framing_script_feeds(void)
{
    struct evbuffer *in = NULL, *stream = NULL;
    unsigned char bytes[64];
    char long_line[80];
    int rc = -1;

    printf("\n== 1. lines (LF or CRLF, at most %d bytes), fed in the chunks reads might return\n",
           LINE_MAX_BYTES);
    if ((in = evbuffer_new()) == NULL)
        goto done;
    feed_lines(in, "hel", 3);            /* a line split across reads */
    feed_lines(in, "lo\r\nwor", 7);      /* the end of one line, the start of the next */
    feed_lines(in, "ld\n\nbye\r\n", 9);  /* several lines in one read, one of them empty */
    feed_lines(in, "nul\0inside\n", 11); /* a NUL byte is data, not an end */
    evbuffer_free(in);

    printf("\n  a client that never sends a line end:\n");
    if ((in = evbuffer_new()) == NULL)
        goto done;
    memset(long_line, 'x', sizeof long_line);
    if (feed_lines(in, long_line, 40))
        feed_lines(in, long_line, 40);
    evbuffer_free(in);

    printf("\n  an over-long line that arrives whole, line end included:\n");
    if ((in = evbuffer_new()) == NULL)
        goto done;
    long_line[sizeof long_line - 1] = '\n';
    feed_lines(in, long_line, sizeof long_line);
    evbuffer_free(in);
    in = NULL;

    printf("\n== 2. length-prefixed frames (4-byte big-endian length, at most %d bytes)\n",
           FRAME_MAX_BYTES);
    if ((in = evbuffer_new()) == NULL || (stream = evbuffer_new()) == NULL)
        goto done;
    /* Four frames back to back: 6 + 11 + 4 + 12 = 33 bytes. */
    if (frame_put(stream, "hi", 2) != 0 || frame_put(stream, "framing", 7) != 0 ||
        frame_put(stream, "", 0) != 0 || frame_put(stream, "last one", 8) != 0)
        goto done;
    size_t total = evbuffer_get_length(stream);
    evbuffer_remove(stream, bytes, total);
    printf("  the stream is %zu bytes: frames \"hi\", \"framing\", \"\" and \"last one\"\n", total);
    feed_frames(in, bytes, 2);               /* half a header */
    feed_frames(in, bytes + 2, 2);           /* the header completes; its payload is missing */
    feed_frames(in, bytes + 4, 6);           /* payload "hi", then the next frame's header */
    feed_frames(in, bytes + 10, total - 10); /* the rest: three frames in one read */
    evbuffer_free(in);

    printf("\n  a header that declares 1 MiB:\n");
    if ((in = evbuffer_new()) == NULL)
        goto done;
    feed_frames(in, (const unsigned char *)"\x00\x10\x00\x00", 4);
    rc = 0;

done:
    if (in != NULL)
        evbuffer_free(in);
    if (stream != NULL)
        evbuffer_free(stream);
    return rc;
}

/* Sent in one write: two good lines, then 70 bytes with no line end. */
static const char CLIENT_SENDS[] =
    "hello\r\nworld\n"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static void client_read_cb(struct bufferevent *bev, void *arg)
{
    struct framing_client *client = arg;
    char *line;
    size_t len;

    while ((line = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_CRLF)) != NULL) {
        printf("client: got ");
        print_quoted((unsigned char *)line, len);
        putchar('\n');
        client->replies++;
        free(line);
    }
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct framing_client *client = arg;

    if (what & BEV_EVENT_CONNECTED) {
        printf("client: connected; sends %zu bytes in one write: ", sizeof CLIENT_SENDS - 1);
        print_quoted((const unsigned char *)CLIENT_SENDS, sizeof CLIENT_SENDS - 1);
        putchar('\n');
        bufferevent_write(bev, CLIENT_SENDS, sizeof CLIENT_SENDS - 1);
        return;
    }
    struct timeval moment = {0, 100 * 1000};

    printf("client: %s; closes its socket too\n", (what & BEV_EVENT_EOF)
                                                      ? "EOF: the server has finished sending"
                                                      : "UNEXPECTED: connection error");
    bufferevent_free(bev);
    client->bev = NULL;
    /* The demo is over once the server has seen our FIN (its next loop turn); main frees the
     * server. The moment's wait only lets that last log line appear. */
    event_base_loopexit(client->base, &moment);
}

/* See framing_script.h. */
int framing_client_start(struct framing_client *c, struct event_base *base, uint16_t port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    c->base = base;
    c->replies = 0;
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL)
        return -1;
    bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
    bufferevent_enable(c->bev, EV_READ);
    return bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin);
}

void framing_client_free(struct framing_client *c)
{
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    c->bev = NULL;
}
