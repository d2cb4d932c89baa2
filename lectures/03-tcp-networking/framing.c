/*
 * framing.c - protocol framing: turning TCP's byte stream back into messages.
 *
 * TCP delivers bytes, not messages: one read may hold half a message, or three. A framing rule
 * says where each message ends, and a decoder applies it to whatever has arrived so far:
 * line_take (lines ending in LF or CRLF) and frame_take (a 4-byte big-endian length, then the
 * bytes). Each returns FRAME_OK, FRAME_NEED_MORE or FRAME_TOO_LONG (the peer broke the rule:
 * answer and close). The line server below runs line_take in a read callback. Try it with
 * `./tcp-framing --demo`, or `./tcp-framing` and `nc -C 127.0.0.1 7032` (-C sends CRLF).
 */
#include "framing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#define OUTPUT_MAX_BYTES (16 * 1024) /* replies queued for one client before we stop reading */
#define LINGER_MS 2000               /* after an error reply, wait this long for the client's EOF */

/* ---------------------------------------------------------------------------------------- */
/* The decoders                                                                             */
/* ---------------------------------------------------------------------------------------- */

/*
 * Takes one line off the front of `in`. On FRAME_OK, *line is a malloc'd copy without its line
 * end (the caller frees it) and *len its length: use the length, because a line may contain
 * NUL bytes. EVBUFFER_EOL_CRLF accepts "\n" and "\r\n".
 */
enum frame_status line_take(struct evbuffer *in, char **line, size_t *len)
{
    size_t n;
    char *s = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

    if (s == NULL) {
        /* No line end yet. A line that may still turn out fine is at most LINE_MAX_BYTES plus
         * a '\r' whose '\n' has not arrived. Anything longer is too long already: say so now
         * instead of buffering whatever the peer keeps sending. */
        return evbuffer_get_length(in) > LINE_MAX_BYTES + 1 ? FRAME_TOO_LONG : FRAME_NEED_MORE;
    }
    if (n > LINE_MAX_BYTES) { /* the whole over-long line arrived in one read */
        free(s);
        return FRAME_TOO_LONG;
    }
    *line = s;
    *len = n;
    return FRAME_OK;
}

/*
 * Takes one frame off the front of `in` and copies its payload into `payload`, which has room
 * for FRAME_MAX_BYTES. Nothing is removed from `in` until the whole frame is there.
 */
enum frame_status frame_take(struct evbuffer *in, unsigned char *payload, size_t *len)
{
    unsigned char header[FRAME_HEADER_BYTES];

    /* Peek: evbuffer_copyout copies without removing, so a half header stays put. */
    if (evbuffer_copyout(in, header, sizeof header) < (ev_ssize_t)sizeof header)
        return FRAME_NEED_MORE;
    uint32_t n = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 |
                 (uint32_t)header[3];
    /* Check the declared length before waiting for it: a peer could announce 4 GiB. */
    if (n > FRAME_MAX_BYTES)
        return FRAME_TOO_LONG;
    if (evbuffer_get_length(in) < FRAME_HEADER_BYTES + (size_t)n)
        return FRAME_NEED_MORE;
    evbuffer_drain(in, FRAME_HEADER_BYTES);
    evbuffer_remove(in, payload, n);
    *len = n;
    return FRAME_OK;
}

/* Appends one frame to `out`. Returns 0, or -1 if the payload is too big or memory runs out. */
int frame_put(struct evbuffer *out, const void *payload, size_t len)
{
    unsigned char header[FRAME_HEADER_BYTES] = {(unsigned char)(len >> 24),
                                                (unsigned char)(len >> 16),
                                                (unsigned char)(len >> 8), (unsigned char)len};

    if (len > FRAME_MAX_BYTES)
        return -1;
    if (evbuffer_add(out, header, sizeof header) != 0 || evbuffer_add(out, payload, len) != 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The line server: line_take inside a bufferevent's read callback                          */
/* ---------------------------------------------------------------------------------------- */

struct line_server;

/* One client; in the server's list until line_conn_close() frees it. */
struct line_conn {
    struct line_server *server;
    struct bufferevent *bev;
    unsigned long id;
    bool closing; /* broken framing: error reply queued, input is now discarded */
    struct line_conn *prev, *next;
};

struct line_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct line_conn *conns;
    unsigned long next_id;
};

static void line_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                           int addrlen, void *arg);
static void line_read_cb(struct bufferevent *bev, void *arg);
static void line_write_cb(struct bufferevent *bev, void *arg);
static void line_event_cb(struct bufferevent *bev, short what, void *arg);

static void line_conn_close(struct line_conn *conn, const char *why)
{
    printf("server: conn %lu closed: %s\n", conn->id, why);
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        conn->server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    bufferevent_free(conn->bev);
    free(conn);
}

/* Answers each complete line with "<length> bytes: <line>". The read high watermark set in
 * line_accept_cb means the input never holds more than one maximal line plus its CRLF. */
static void line_read_cb(struct bufferevent *bev, void *arg)
{
    struct line_conn *conn = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer *out = bufferevent_get_output(bev);
    enum frame_status st;
    char *line;
    size_t len;

    if (conn->closing) { /* lingering: read and discard until the client's EOF */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    printf("server: conn %lu: read callback, %zu bytes in the input buffer\n", conn->id,
           evbuffer_get_length(in));
    /* Take every complete line, not just one: a single read may have brought several. */
    while ((st = line_take(in, &line, &len)) == FRAME_OK) {
        evbuffer_add_printf(out, "%zu bytes: ", len);
        evbuffer_add(out, line, len); /* len, not strlen(): the line may contain NUL bytes */
        evbuffer_add(out, "\n", 1);
        free(line);
    }
    if (st == FRAME_TOO_LONG) {
        struct timeval linger = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};

        evbuffer_add_printf(out, "error: line longer than %d bytes\n", LINE_MAX_BYTES);
        printf("server: conn %lu: line too long: reply with an error, then close\n", conn->id);
        /* A "lingering close". Closing a socket that still has unread input makes the kernel
         * send RST instead of FIN, and an RST can destroy the error reply before the client
         * reads it. So: keep reading (and discarding), send FIN once the reply is out (see
         * line_write_cb), and close when the client closes too, or after LINGER_MS. */
        conn->closing = true;
        evbuffer_drain(in, evbuffer_get_length(in));
        bufferevent_setwatermark(bev, EV_READ, 0, 0);
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        bufferevent_set_timeouts(bev, &linger, &linger);
    } else if (evbuffer_get_length(out) >= OUTPUT_MAX_BYTES) {
        /* The client sends lines but does not read the replies: stop reading until it does. */
        bufferevent_disable(bev, EV_READ);
        bufferevent_setwatermark(bev, EV_WRITE, OUTPUT_MAX_BYTES / 2, 0);
    }
}

static void line_write_cb(struct bufferevent *bev, void *arg)
{
    struct line_conn *conn = arg;

    if (conn->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
            /* Half-close from our side: FIN after the reply; we still read until EOF. */
            shutdown(bufferevent_getfd(bev), SHUT_WR);
            printf("server: conn %lu: error reply sent, then FIN; waiting for the client's EOF\n",
                   conn->id);
        }
        return;
    }
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_READ);
}

static void line_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    line_conn_close(arg, (what & BEV_EVENT_EOF)       ? "EOF from the client"
                         : (what & BEV_EVENT_TIMEOUT) ? "timeout"
                                                      : "error");
}

static void line_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *addr,
                           int addrlen, void *arg)
{
    struct line_server *server = arg;
    struct line_conn *conn = calloc(1, sizeof *conn);

    (void)lev;
    (void)addr;
    (void)addrlen;
    if (conn == NULL ||
        (conn->bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        evutil_closesocket(fd);
        free(conn);
        return;
    }
    conn->server = server;
    conn->id = ++server->next_id;
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    bufferevent_setcb(conn->bev, line_read_cb, line_write_cb, line_event_cb, conn);
    /* Read high watermark: the bufferevent stops reading from the socket while the input holds
     * this much. One maximal line and its CRLF fit, so framing still works, and the memory a
     * client can make us hold is bounded without any check of ours. */
    bufferevent_setwatermark(conn->bev, EV_READ, 0, LINE_MAX_BYTES + 2);
    bufferevent_enable(conn->bev, EV_READ);
    printf("server: conn %lu open\n", conn->id);
}

void line_server_free(struct line_server *server)
{
    if (server == NULL)
        return;
    while (server->conns != NULL)
        line_conn_close(server->conns, "server exiting");
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
    free(server);
}

/* See framing.h. */
struct line_server *line_server_new(struct event_base *base, uint16_t port, uint16_t *bound_port)
{
    struct line_server *server = calloc(1, sizeof *server);
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;

    if (server == NULL)
        return NULL;
    server->base = base;
    server->listener = evconnlistener_new_bind(base, line_accept_cb, server,
                                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                               (struct sockaddr *)&sin, sizeof sin);
    if (server->listener == NULL ||
        getsockname(evconnlistener_get_fd(server->listener), (struct sockaddr *)&sin, &len) != 0) {
        fprintf(stderr, "tcp-framing: cannot listen on 127.0.0.1:%u\n", port);
        line_server_free(server);
        return NULL;
    }
    *bound_port = ntohs(sin.sin_port);
    return server;
}
