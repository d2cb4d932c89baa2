/*
 * fast_items.c - see fast_items.h. The /items API on plain events, the way exercise 01 echoes.
 *
 * The one idea: the cost of a small HTTP request is system calls and wake-ups, not parsing.
 * evhttp makes four per keep-alive request (readv, an ioctl before it, writev, and an
 * epoll_ctl as it stops and restarts reading around the request). Here a connection's read
 * event stays armed for its whole life; a read hands every byte to http-parser (a callback
 * parser: no copies, no allocation); each complete request appends its reply to one buffer;
 * and the buffer goes out in one write() before the read callback returns. Only bytes the
 * kernel refuses wait, in an evbuffer, with an EV_WRITE event: exercise 01's pattern.
 *
 * Try it: `./fast-items --port 8042`, then
 *     curl -s -d '{"title":"buy milk"}' localhost:8042/items; curl -s localhost:8042/items/1
 */
#include "fast_items.h"

#include "fast_items_store.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAST_READ_BYTES (64 * 1024)      /* one read() at most */
#define FAST_REPLY_BYTES (16 * 1024)     /* replies gathered before one write() */
#define FAST_URL_MAX 256                 /* longer request targets get 414 */
#define FAST_BODY_MAX 4096               /* larger bodies get 413 */
#define FAST_MAX_PENDING_BYTES (1 << 20) /* refused reply bytes held for one client */
#define FAST_IDLE_TIMEOUT_S 60           /* close connections silent this long */
#define FAST_BACKLOG 1024

/* One client. Everything is freed by conn_close(). */
struct fast_conn {
    struct fast_server *srv;
    evutil_socket_t fd;
    struct event *read_ev;  /* EV_READ|EV_PERSIST: armed from accept to close */
    struct event *write_ev; /* armed only while `pending` holds refused bytes */
    struct evbuffer *pending;
    http_parser parser;
    char url[FAST_URL_MAX];
    size_t url_len;
    char body[FAST_BODY_MAX];
    size_t body_len;
    int refuse;       /* 414 or 413: the request broke a bound; answered, then closed */
    bool close_after; /* close once the replies are written */
    struct fast_conn *prev, *next;
};

struct fast_server {
    struct event_base *base;
    struct evconnlistener *listener;
    uint16_t port;
    struct fast_conn *conns; /* every open connection, to free at the end */
    struct fast_store store;
    http_parser_settings settings;
    char reply[FAST_REPLY_BYTES]; /* the replies of the read being handled (one thread) */
    size_t reply_len;
    char date[64]; /* the Date header's value, rebuilt once a second */
    time_t date_at;
    /* Atomic: the demo's client thread reads them while the loop runs. */
    _Atomic uint64_t requests, reads, writes;
};

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);

static void conn_close(struct fast_conn *c)
{
    struct fast_server *srv = c->srv;
    if (c->read_ev != NULL)
        event_free(c->read_ev);
    if (c->write_ev != NULL)
        event_free(c->write_ev);
    if (c->pending != NULL)
        evbuffer_free(c->pending);
    evutil_closesocket(c->fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c);
}

/* Writes the gathered replies at once; keeps what the kernel refuses and stops reading until
 * it is gone (backpressure). Returns 0, or -1 if c was closed. */
static int conn_flush(struct fast_conn *c)
{
    struct fast_server *srv = c->srv;
    size_t sent = 0;

    if (srv->reply_len > 0 && evbuffer_get_length(c->pending) == 0) {
        srv->writes++;
        ssize_t n = write(c->fd, srv->reply, srv->reply_len);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            srv->reply_len = 0;
            conn_close(c);
            return -1;
        }
        sent = n > 0 ? (size_t)n : 0;
    }
    if (sent < srv->reply_len) {
        struct timeval idle = {FAST_IDLE_TIMEOUT_S, 0};
        bool was_empty = evbuffer_get_length(c->pending) == 0;
        if (evbuffer_add(c->pending, srv->reply + sent, srv->reply_len - sent) != 0 ||
            (was_empty && event_add(c->write_ev, &idle) != 0)) {
            srv->reply_len = 0;
            conn_close(c);
            return -1;
        }
        event_del(c->read_ev); /* resumed by conn_write_cb once everything is written */
    }
    srv->reply_len = 0;
    return 0;
}

/* Appends one reply to the server's reply buffer (flushing it first if full). */
static void reply(struct fast_conn *c, int status, const char *body, size_t body_len)
{
    struct fast_server *srv = c->srv;
    const char *reason = status == 200   ? "OK"
                         : status == 201 ? "Created"
                         : status == 204 ? "No Content"
                         : status == 400 ? "Bad Request"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 413 ? "Content Too Large"
                         : status == 414 ? "URI Too Long"
                         : status == 422 ? "Unprocessable Content"
                                         : "Insufficient Storage";
    time_t now = time(NULL);
    if (now != srv->date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof srv->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        srv->date_at = now;
    }
    if (FAST_REPLY_BYTES - srv->reply_len < 256 + body_len && conn_flush(c) != 0)
        return;
    char length[80] = ""; /* a 204 has no body, and says nothing about one */
    if (status != 204)
        snprintf(length, sizeof length, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                 body_len);
    int n = snprintf(srv->reply + srv->reply_len, FAST_REPLY_BYTES - srv->reply_len,
                     "HTTP/1.1 %d %s\r\n%sDate: %s\r\n%s\r\n", status, reason, length, srv->date,
                     c->close_after ? "Connection: close\r\n" : "");
    srv->reply_len += (size_t)n;
    memcpy(srv->reply + srv->reply_len, body, body_len);
    srv->reply_len += body_len;
}

static void reply_error(struct fast_conn *c, int status, const char *message)
{
    char body[128];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", message);
    reply(c, status, body, (size_t)n);
}

static void reply_item(struct fast_conn *c, int status, const struct fast_item *it, uint64_t id)
{
    char body[FAST_ITEM_JSON_MAX];
    reply(c, status, body, fast_item_format(it, id, body, sizeof body));
}

/* The id of "/items/{id}" (digits only, no leading zero), or 0. */
static uint64_t parse_id(const char *text)
{
    uint64_t id = 0;
    if (text[0] < '1' || text[0] > '9' || strlen(text) > 15)
        return 0;
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9')
            return 0;
        id = id * 10 + (uint64_t)(*text - '0');
    }
    return id;
}

/* Answers the complete request in c (its url and body). */
static void handle_request(struct fast_conn *c, enum http_method method)
{
    struct fast_store *store = &c->srv->store;
    char *title = NULL;
    bool completed = false;
    int status;

    c->url[c->url_len] = '\0';
    c->url[strcspn(c->url, "?")] = '\0'; /* the query string is not used */
    if (strcmp(c->url, "/items") == 0) {
        if (method != HTTP_POST) {
            reply_error(c, 405, "method not allowed");
            return;
        }
        status = fast_item_parse(c->body, c->body_len, &title, &completed);
        uint64_t id = status == 0 ? fast_store_add(store, title, completed) : 0;
        if (id == 0)
            reply_error(c, status != 0 ? status : 507, status == 0 ? "store full" : "invalid item");
        else
            reply_item(c, 201, fast_store_find(store, id), id);
        return;
    }
    uint64_t id = strncmp(c->url, "/items/", 7) == 0 ? parse_id(c->url + 7) : 0;
    struct fast_item *it = fast_store_find(store, id);
    if (it == NULL) {
        reply_error(c, 404, "not found");
        return;
    }
    switch (method) {
    case HTTP_GET:
        reply_item(c, 200, it, id);
        break;
    case HTTP_PUT:
        status = fast_item_parse(c->body, c->body_len, &title, &completed);
        if (status != 0) {
            reply_error(c, status, "invalid item");
            break;
        }
        free(it->title_json);
        *it = (struct fast_item){title, completed};
        reply_item(c, 200, it, id);
        break;
    case HTTP_DELETE:
        free(it->title_json);
        it->title_json = NULL;
        reply(c, 204, "", 0);
        break;
    default:
        reply_error(c, 405, "method not allowed");
        break;
    }
}

/* ---- parsing: http-parser calls these while conn_read_cb hands it the bytes read -------- */

static int on_message_begin_cb(http_parser *p)
{
    struct fast_conn *c = p->data;
    c->url_len = c->body_len = 0;
    return 0;
}

/* The request target may come in pieces (split across reads): gather it, bounded. */
static int on_url_cb(http_parser *p, const char *at, size_t len)
{
    struct fast_conn *c = p->data;
    if (len >= FAST_URL_MAX - c->url_len) {
        c->refuse = 414;
        return -1; /* stops the parser: conn_read_cb answers and closes */
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_body_cb(http_parser *p, const char *at, size_t len)
{
    struct fast_conn *c = p->data;
    if (len > FAST_BODY_MAX - c->body_len) {
        c->refuse = 413;
        return -1;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

/* A whole request has arrived: answer it into the reply buffer. A request that asked to close
 * (HTTP/1.0 without keep-alive, or "Connection: close") is the last one read. */
static int on_message_complete_cb(http_parser *p)
{
    struct fast_conn *c = p->data;
    c->srv->requests++;
    c->close_after = !http_should_keep_alive(p);
    handle_request(c, (enum http_method)p->method);
    return c->close_after ? -1 : 0;
}

/* ---- the connection: one read, parse everything, one write -------------------------------- */

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fast_conn *c = arg;
    struct fast_server *srv = c->srv;
    char buf[FAST_READ_BYTES];

    if (what & EV_TIMEOUT) {
        conn_close(c); /* silent for FAST_IDLE_TIMEOUT_S */
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c); /* the client closed (or failed) between requests */
        return;
    }
    srv->reads++;
    size_t parsed = http_parser_execute(&c->parser, &srv->settings, buf, (size_t)n);
    if (parsed != (size_t)n && !c->close_after) {
        /* Not HTTP, or a bound broken: say so, and close once that is written. */
        c->close_after = true;
        if (c->refuse != 0)
            reply_error(c, c->refuse, c->refuse == 414 ? "URI too long" : "body too large");
        else
            reply_error(c, 400, http_errno_name(HTTP_PARSER_ERRNO(&c->parser)));
    }
    if (conn_flush(c) != 0) /* every reply of this read, in one write() */
        return;
    if (c->close_after && evbuffer_get_length(c->pending) == 0)
        conn_close(c); /* else conn_write_cb closes it once the rest is written */
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fast_conn *c = arg;
    struct timeval idle = {FAST_IDLE_TIMEOUT_S, 0};

    if (what & EV_TIMEOUT) {
        conn_close(c); /* took nothing for FAST_IDLE_TIMEOUT_S */
        return;
    }
    c->srv->writes++;
    if (evbuffer_write(c->pending, fd) < 0 && errno != EAGAIN && errno != EINTR) {
        conn_close(c);
        return;
    }
    if (evbuffer_get_length(c->pending) > 0)
        return;
    event_del(c->write_ev);
    if (c->close_after || event_add(c->read_ev, &idle) != 0)
        conn_close(c);
}

/* ---- the server ------------------------------------------------------------------------------ */

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct fast_server *srv = arg;
    struct timeval idle = {FAST_IDLE_TIMEOUT_S, 0};
    int one = 1;
    (void)listener;
    (void)sa;
    (void)socklen;

    struct fast_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->next = srv->conns; /* linked first: conn_close unlinks it */
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* replies leave at once */
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->read_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
    c->write_ev = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
    c->pending = evbuffer_new();
    if (c->read_ev == NULL || c->write_ev == NULL || c->pending == NULL ||
        event_add(c->read_ev, &idle) != 0)
        conn_close(c);
}

struct fast_server *fast_server_new(struct event_base *base, uint16_t port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct fast_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->base = base;
    srv->settings = (http_parser_settings){.on_message_begin = on_message_begin_cb,
                                           .on_url = on_url_cb,
                                           .on_body = on_body_cb,
                                           .on_message_complete = on_message_complete_cb};
    srv->listener =
        evconnlistener_new_bind(base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                FAST_BACKLOG, (struct sockaddr *)&sin, sizeof sin);
    if (srv->listener == NULL) {
        fprintf(stderr, "fast-items: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        free(srv);
        return NULL;
    }
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&sin, &len);
    srv->port = ntohs(sin.sin_port);
    return srv;
}

uint16_t fast_server_port(const struct fast_server *srv)
{
    return srv->port;
}

void fast_server_counts(const struct fast_server *srv, struct fast_counts *out)
{
    out->requests = srv->requests;
    out->reads = srv->reads;
    out->writes = srv->writes;
}

void fast_server_free(struct fast_server *srv)
{
    if (srv == NULL)
        return;
    while (srv->conns != NULL)
        conn_close(srv->conns);
    evconnlistener_free(srv->listener);
    fast_store_release(&srv->store);
    free(srv);
}
