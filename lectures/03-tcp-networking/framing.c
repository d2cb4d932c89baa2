/*
 * framing.c - protocol framing: turning TCP's byte stream back into messages.
 *
 * TCP delivers bytes, not messages: one read may hold half a message, or three. A framing rule
 * says where each message ends, and a decoder applies it to whatever has arrived so far. Two
 * decoders live here, both working on an evbuffer (a bufferevent's input buffer in a server):
 *   line_take   lines ending in LF or CRLF, at most LINE_MAX_BYTES long (evbuffer_readln);
 *   frame_take  binary frames: a 4-byte big-endian length, then that many bytes, at most
 *               FRAME_MAX_BYTES.
 * Each returns FRAME_OK (one message taken), FRAME_NEED_MORE (wait for more bytes) or
 * FRAME_TOO_LONG (the peer broke the rule: answer and close).
 *
 *   ./tcp-framing --demo   feeds both decoders bytes in chosen chunks (split lines, split
 *                          headers, several frames at once, oversize), then runs the line
 *                          server below against an in-process client, and exits.
 *   ./tcp-framing [--port N]   serves the line protocol on 127.0.0.1:N (default 7032) until
 *                          Ctrl-C. Try it:  nc -C 127.0.0.1 7032   (-C sends CRLF line ends)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define LINE_MAX_BYTES 64           /* longest line, not counting its LF or CRLF */
#define FRAME_HEADER_BYTES 4        /* the length prefix: 32 bits, big-endian */
#define FRAME_MAX_BYTES 1024        /* largest payload a frame may declare */
#define OUTPUT_MAX_BYTES (16 * 1024) /* replies queued for one client before we stop reading */
#define LINGER_MS 2000              /* after an error reply, wait this long for the client's EOF */
#define DEFAULT_PORT 7032

enum frame_status { FRAME_OK, FRAME_NEED_MORE, FRAME_TOO_LONG };

/* ---------------------------------------------------------------------------------------- */
/* The decoders                                                                             */
/* ---------------------------------------------------------------------------------------- */

/*
 * Takes one line off the front of `in`. On FRAME_OK, *line is a malloc'd copy without its line
 * end (the caller frees it) and *len its length: use the length, because a line may contain
 * NUL bytes. EVBUFFER_EOL_CRLF accepts "\n" and "\r\n".
 */
static enum frame_status line_take(struct evbuffer *in, char **line, size_t *len)
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
static enum frame_status frame_take(struct evbuffer *in, unsigned char *payload, size_t *len)
{
    unsigned char header[FRAME_HEADER_BYTES];

    /* Peek: evbuffer_copyout copies without removing, so a half header stays put. */
    if (evbuffer_copyout(in, header, sizeof header) < (ev_ssize_t)sizeof header)
        return FRAME_NEED_MORE;
    uint32_t n = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 |
                 (uint32_t)header[2] << 8 | (uint32_t)header[3];
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
static int frame_put(struct evbuffer *out, const void *payload, size_t len)
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
/* Feeding the decoders by hand                                                             */
/* ---------------------------------------------------------------------------------------- */

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
static int demo_feeds(void)
{
    struct evbuffer *in = NULL, *stream = NULL;
    unsigned char bytes[64];
    char long_line[80];
    int rc = -1;

    printf("\n== 1. lines (LF or CRLF, at most %d bytes), fed in the chunks reads might return\n",
           LINE_MAX_BYTES);
    if ((in = evbuffer_new()) == NULL)
        goto done;
    feed_lines(in, "hel", 3);                 /* a line split across reads */
    feed_lines(in, "lo\r\nwor", 7);           /* the end of one line, the start of the next */
    feed_lines(in, "ld\n\nbye\r\n", 9);       /* several lines in one read, one of them empty */
    feed_lines(in, "nul\0inside\n", 11);      /* a NUL byte is data, not an end */
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
    feed_frames(in, bytes, 2);              /* half a header */
    feed_frames(in, bytes + 2, 2);          /* the header completes; its payload is missing */
    feed_frames(in, bytes + 4, 6);          /* payload "hi", then the next frame's header */
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
    if (conn == NULL || (conn->bev = bufferevent_socket_new(server->base, fd,
                                                            BEV_OPT_CLOSE_ON_FREE)) == NULL) {
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

static void line_server_free(struct line_server *server)
{
    if (server == NULL)
        return;
    while (server->conns != NULL)
        line_conn_close(server->conns, "server exiting");
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
    free(server);
}

/* Listens on 127.0.0.1:port. NULL (with the reason on stderr) on failure. */
static struct line_server *line_server_new(struct event_base *base, uint16_t port,
                                           uint16_t *bound_port)
{
    struct line_server *server = calloc(1, sizeof *server);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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

/* ---------------------------------------------------------------------------------------- */
/* The demo's client, on the same event_base                                                */
/* ---------------------------------------------------------------------------------------- */

/* Sent in one write: two good lines, then 70 bytes with no line end. */
static const char CLIENT_SENDS[] = "hello\r\nworld\n"
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

struct demo_client {
    struct event_base *base;
    struct bufferevent *bev;
    int replies;
};

static void client_read_cb(struct bufferevent *bev, void *arg)
{
    struct demo_client *client = arg;
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
    struct demo_client *client = arg;

    if (what & BEV_EVENT_CONNECTED) {
        printf("client: connected; sends %zu bytes in one write: ", sizeof CLIENT_SENDS - 1);
        print_quoted((const unsigned char *)CLIENT_SENDS, sizeof CLIENT_SENDS - 1);
        putchar('\n');
        bufferevent_write(bev, CLIENT_SENDS, sizeof CLIENT_SENDS - 1);
        return;
    }
    struct timeval moment = {0, 100 * 1000};

    printf("client: %s; closes its socket too\n",
           (what & BEV_EVENT_EOF) ? "EOF: the server has finished sending"
                                  : "UNEXPECTED: connection error");
    bufferevent_free(bev);
    client->bev = NULL;
    /* The demo is over once the server has seen our FIN (its next loop turn); main frees the
     * server. The moment's wait only lets that last log line appear. */
    event_base_loopexit(client->base, &moment);
}

/* ---------------------------------------------------------------------------------------- */

struct signal_ctx {
    struct event_base *base;
    struct event *sigint, *sigterm;
};

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct signal_ctx *ctx = arg;

    (void)what;
    printf("server: got %s: closing every connection and exiting\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_del(ctx->sigint);
    event_del(ctx->sigterm);
    event_base_loopexit(ctx->base, NULL);
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--port N] [--demo]\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    struct signal_ctx sig = {0};
    struct demo_client client = {0};
    struct line_server *server = NULL;
    struct event_base *base = NULL;
    long port = DEFAULT_PORT;
    uint16_t bound_port = 0;
    bool demo = false;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = strtol(argv[++i], &end, 10);
            if (*end != '\0' || end == argv[i] || port < 0 || port > 65535)
                usage(argv[0]);
        } else {
            usage(argv[0]);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    if (demo) {
        if (demo_feeds() != 0)
            goto done;
        printf("\n== 3. the line server: line_take in a read callback, over a real socket\n");
        port = 0;
    }
    base = event_base_new();
    if (base == NULL)
        goto done;
    server = line_server_new(base, (uint16_t)port, &bound_port);
    if (server == NULL)
        goto done;
    printf("listening on 127.0.0.1:%u\n", bound_port);

    sig.base = base;
    sig.sigint = evsignal_new(base, SIGINT, signal_cb, &sig);
    sig.sigterm = evsignal_new(base, SIGTERM, signal_cb, &sig);
    if (sig.sigint == NULL || sig.sigterm == NULL || event_add(sig.sigint, NULL) != 0 ||
        event_add(sig.sigterm, NULL) != 0)
        goto done;

    if (demo) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(bound_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        client.base = base;
        client.bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (client.bev == NULL)
            goto done;
        bufferevent_setcb(client.bev, client_read_cb, NULL, client_event_cb, &client);
        bufferevent_enable(client.bev, EV_READ);
        if (bufferevent_socket_connect(client.bev, (struct sockaddr *)&sin, sizeof sin) != 0)
            goto done;
    }

    if (event_base_dispatch(base) >= 0)
        status = demo && client.replies != 3 ? 1 : 0;

done:
    if (client.bev != NULL)
        bufferevent_free(client.bev);
    line_server_free(server);
    if (sig.sigint != NULL)
        event_free(sig.sigint);
    if (sig.sigterm != NULL)
        event_free(sig.sigterm);
    if (base != NULL)
        event_base_free(base);
    return status;
}
