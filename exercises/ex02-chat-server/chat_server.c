/*
 * chat_server.c - see chat_server.h. The networking of the chat server: accept, read lines,
 * fan them out, write, drop whoever cannot keep up, shut down.
 *
 * The path of one line, and the bound at each step:
 * - Each client has one EV_READ|EV_PERSIST event; its timeout is the idle timeout. The read
 *   callback reads only while the client's input buffer holds less than CHAT_INPUT_MAX bytes,
 *   and handles at most CHAT_LINES_PER_WAKEUP lines before the other clients get a turn.
 * - The room (chat_room.c) turns the line into an outbox: lines for the sender, lines for the
 *   others. Fan-out appends the line to each other client's output buffer; nothing is written
 *   yet. A client whose buffer would pass max_output_bytes is a slow reader and is dropped.
 * - At the end of every callback server_settle() writes each client that got output: one
 *   write() per client per batch of lines, however many lines the batch held. What the kernel
 *   refuses stays in the buffer, and an EV_WRITE event waits until the client reads.
 * - A client is never freed in the middle of a fan-out (the loop would walk into freed
 *   memory): it is marked "doomed" and freed in server_settle(), which then tells the others
 *   "* <nick> left".
 *
 * Try it: `chat-server`, then `nc 127.0.0.1 7001` in two or three other terminals.
 */
#include "chat_server.h"

#include "chat_history.h"
#include "chat_room.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Until the exercise is finished, some callbacks are not registered anywhere yet and some
 * stubs do not use their parameters or variables. These lines keep the compiler quiet about
 * that; delete them when you have finished, and the compiler will check your work again. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"

#define CHAT_INPUT_MAX (16 * 1024)   /* bytes buffered from one client: many lines, bounded */
#define CHAT_LINES_PER_WAKEUP 64     /* lines handled per read callback before others get a turn */
#define CHAT_ACCEPT_RETRY_MS 100     /* pause accepting this long after an accept error (EMFILE) */
#define CHAT_CLOSE_GRACE_MS 2000     /* a leaving client that takes no output this long is cut off */
#define CHAT_SHUTDOWN_GRACE_MS 500   /* shutdown closes whoever is still connected after this */
#define CHAT_ADDR_MAX 56             /* "[IPv6 address]:port" and its NUL */
#define CHAT_REASON_MAX 128          /* "error: " and any strerror() text */
#define CHAT_LOG_LINE_MAX 512

struct chat_client {
    struct chat_server *server;
    struct chat_client *prev, *next; /* server->clients */
    struct chat_client *next_dirty;  /* server->dirty, while `dirty` */
    struct chat_client *next_doomed; /* server->doomed, while `doomed` */
    evutil_socket_t fd;              /* owned */
    struct event *read_ev;           /* EV_READ|EV_PERSIST, timeout = idle timeout; owned */
    struct event *write_ev;          /* EV_WRITE|EV_PERSIST, added while `waiting`; owned */
    struct evbuffer *in;             /* received, not yet a complete line; owned */
    struct evbuffer *out;            /* queued, not yet taken by the kernel; owned */
    struct chat_member *member;      /* the client's place in the room; owned by the room */
    char addr[CHAT_ADDR_MAX];
    char reason[CHAT_REASON_MAX];    /* why the client is leaving, for the log */
    bool eof;                        /* the client will send nothing more */
    bool dirty;                      /* has output to write before the callback ends */
    bool waiting;                    /* the kernel is full: write_ev will flush */
    bool finishing;                  /* leaving: reads nothing, gets nothing new, closes once out is written */
    bool doomed;                     /* to be freed by server_settle(); gets no more output */
    bool abort;                      /* close with a reset: what the kernel still holds is dropped */
};

struct chat_server {
    struct event_base *base;          /* borrowed */
    struct chat_server_config cfg;    /* a copy, defaults filled in; cfg.log is borrowed */
    char *host;                       /* owned copy of cfg.host */
    struct timeval idle_timeout;
    const struct timeval *idle_tv;    /* what read events use: NULL = no idle timeout */
    struct evconnlistener *listener;  /* owned; NULL once shutting down */
    struct event *retry_ev;           /* re-enables the listener after an accept error; owned */
    struct event *grace_ev;           /* the shutdown deadline; owned */
    struct chat_history *history;     /* owned */
    struct chat_room *room;           /* owned */
    struct chat_outbox outbox;        /* what the current room event asks to send */
    struct chat_client *clients;      /* every connection; owned */
    size_t nclients;
    struct chat_client *dirty;        /* clients to write before the callback ends */
    struct chat_client *doomed;       /* clients to free before the callback ends */
    uint16_t port;
    bool shutting_down;
};

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
                             struct sockaddr *sa, int socklen, void *arg);
static void server_accept_error_cb(struct evconnlistener *listener, void *arg);
static void server_retry_cb(evutil_socket_t fd, short what, void *arg);
static void server_grace_cb(evutil_socket_t fd, short what, void *arg);
static void client_read_cb(evutil_socket_t fd, short what, void *arg);
static void client_write_cb(evutil_socket_t fd, short what, void *arg);

/* ---- small helpers ----------------------------------------------------------------------- */

static void server_log(struct chat_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One whole line per call, flushed, so a reader of the log sees each event as it happens. */
static void server_log(struct chat_server *srv, const char *fmt, ...)
{
    char line[CHAT_LOG_LINE_MAX];
    va_list ap;

    if (srv->cfg.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(srv->cfg.log, "%s\n", line);
    fflush(srv->cfg.log);
}

static struct timeval ms_to_timeval(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* "1.2.3.4:port" or "[::1]:port". */
static void format_addr(const struct sockaddr *sa, char *out, size_t outsz)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, outsz, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, outsz, "%s:%u", host, ntohs(in->sin_port));
    }
}

/* ---- one client: marking, queueing, writing ---------------------------------------------- */

/* Marks c to be freed by server_settle(); its unsent output is dropped. The reason for the
 * log must already be set (client_finish() and client_drop() set it). */
static void client_doom(struct chat_client *c)
{
    if (c->doomed)
        return;
    c->doomed = true;
    c->next_doomed = c->server->doomed;
    c->server->doomed = c;
}

/* Dooms c at once, for `reason`. */
static void client_drop(struct chat_client *c, const char *reason)
{
    if (c->doomed)
        return;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    client_doom(c);
}

/* Puts c on the list of clients server_settle() writes to. */
static void client_mark_dirty(struct chat_client *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->next_dirty = c->server->dirty;
    c->server->dirty = c;
}

/* Drops c after a failed read() or write(): a reset is ECONNRESET (reading) or EPIPE (writing). */
static void client_fail(struct chat_client *c, int err)
{
    /* TODO(8): disconnect reasons (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   A reset shows up as ECONNRESET when reading and as EPIPE (or ECONNRESET) when writing:
     *   client_drop(c, "reset"). Anything else: client_drop with "error: <strerror(err)>"
     *   (format it into a char array of CHAT_REASON_MAX bytes with snprintf).
     */
}

/*
 * Queues bytes for c. Nothing is written here: server_settle() writes once per callback. If
 * the bytes would take c past the output bound, c is dropped as a slow reader instead, so a
 * client that does not read costs at most max_output_bytes and never holds up anyone else.
 */
static void client_send(struct chat_client *c, const void *data, size_t len)
{
    /* TODO(4): queue, with a bound (lectures/03-tcp-networking/README.md#buffering-and-backpressure)
     *   - A doomed client gets nothing more; nothing to do for len == 0.
     *   - If evbuffer_get_length(c->out) + len would pass srv->cfg.max_output_bytes, this
     *     client is not reading: log "slow-reader <addr> nick=<nick> pending=<n> limit=<max>:
     *     dropped", set c->abort (close with a reset, see client_release) and
     *     client_drop(c, "slow-reader"). Never block, never wait for it: the others go on.
     *   - Otherwise evbuffer_add() the bytes to c->out, and unless c->waiting (write_ev will
     *     flush it when the kernel has room) client_mark_dirty(c): server_settle() writes
     *     every dirty client once at the end of the callback, one write() for many lines.
     */
}

/*
 * Starts c's goodbye: queues its last line (if any), stops reading, and lets server_settle()
 * close it once the kernel has taken everything queued. A client that takes nothing for
 * CHAT_CLOSE_GRACE_MS is cut off (client_write_cb).
 */
static void client_finish(struct chat_client *c, const char *reason, const char *last_line)
{
    /* TODO(8): a goodbye that is still written (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   - Nothing to do if c is already finishing or doomed.
     *   - Queue last_line (if not NULL) with client_send; if that dropped the client, stop.
     *   - Copy reason into c->reason, set c->finishing, and stop reading (event_del read_ev):
     *     a leaving client reads nothing more and gets nothing new (server_deliver skips it).
     *   - If c->waiting, give write_ev a deadline: event_add(c->write_ev, &grace) with
     *     CHAT_CLOSE_GRACE_MS. Otherwise client_mark_dirty(c), even with nothing queued:
     *     client_flush then finds the buffer empty and closes the client.
     */
}

/* Writes what the kernel will take. The rest waits for write_ev. */
static void client_flush(struct chat_client *c)
{
    /* TODO(4): write (lectures/03-tcp-networking/README.md#buffering-and-backpressure)
     *   - While c->out is not empty: evbuffer_write(c->out, c->fd). On -1: EINTR, try again;
     *     EAGAIN or EWOULDBLOCK means the kernel's buffer for this socket is full, stop; any
     *     other error: client_fail(c, errno) (TODO(8)) and return.
     *   - All written: if c->waiting, event_del(c->write_ev) and clear c->waiting.
     *   - Some left: unless already waiting, event_add(c->write_ev, NULL) and set c->waiting;
     *     client_write_cb calls this again when the client has read enough.
     *
     * TODO(8): closing once everything is out
     *   - All written and c->finishing: client_doom(c), so server_settle frees it.
     *   - Some left and c->finishing: add write_ev with a CHAT_CLOSE_GRACE_MS timeout instead
     *     of NULL, so a client that never reads its last lines cannot stay forever.
     */
}

/* ---- the server: delivering room events, settling --------------------------------------- */

/*
 * Sends what the room asked for after an event of client c (a line, a join, a leave), then
 * empties the outbox. The line for the others is formatted once and copied to each of them.
 */
static void server_deliver(struct chat_server *srv, struct chat_client *c)
{
    /* TODO(4): fan-out (lectures/03-tcp-networking/README.md#buffering-and-backpressure)
     *   - out->to_others: unless the server is shutting down, client_send its bytes to every
     *     client in srv->clients except c and those finishing or doomed. evbuffer_pullup(buf, -1)
     *     gives the bytes in one piece: format once, copy to each.
     *   - out->to_sender: client_send to c.
     *   - out->quit: client_finish(c, "quit", NULL) (TODO(8)).
     *   - Last, chat_outbox_clear(out), ready for the next event.
     *
     * TODO(9): log a rename
     *   - If out->old_nick is not empty, the room renamed c: log
     *     "nick <addr> old=<old> new=<new>" (chat_member_nick gives the new one).
     */
}

/* Frees what client_new() made (NULL members are skipped) and closes the socket. The events
 * go first: deleting an event whose socket is already closed makes epoll_ctl() fail. */
static void client_release(struct chat_client *c)
{
    if (c->read_ev != NULL)
        event_free(c->read_ev);
    if (c->write_ev != NULL)
        event_free(c->write_ev);
    if (c->abort) {
        /* A reset instead of a FIN: the kernel drops what it still holds for this client
         * (megabytes, for a slow reader) instead of trickling it out before the close. */
        struct linger reset = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    evutil_closesocket(c->fd);
    if (c->in != NULL)
        evbuffer_free(c->in);
    if (c->out != NULL)
        evbuffer_free(c->out);
    free(c);
}

/* Logs the disconnect, takes c out of the room (telling the others), closes and frees it. */
static void client_free(struct chat_client *c)
{
    /* TODO(8): the last of a client (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   - Log "disconnect <addr> nick=<nick> reason=<reason>".
     *   - chat_room_leave(srv->room, c->member, &srv->outbox), then server_deliver(srv, c):
     *     the others get "* <nick> left".
     *   - Unlink c from srv->clients (it is doubly linked), srv->nclients--, and
     *     client_release(c): events, socket, buffers, memory.
     *   - If the server is shutting down and that was the last client, event_del(srv->grace_ev):
     *     with nothing left on the base, event_base_dispatch() returns.
     */
}

/*
 * Runs at the end of every callback: writes every client that got output, then frees the
 * doomed ones. Freeing one can queue "* <nick> left" for the others (and drop another slow
 * reader), so it goes one at a time, with the writes flushed in between; the dirty list is
 * always empty when a client is freed, so no list ever points at freed memory.
 */
static void server_settle(struct chat_server *srv)
{
    for (;;) {
        while (srv->dirty != NULL) {
            struct chat_client *c = srv->dirty;
            srv->dirty = c->next_dirty;
            c->dirty = false;
            if (!c->doomed)
                client_flush(c);
        }
        if (srv->doomed == NULL)
            break;
        struct chat_client *c = srv->doomed;
        srv->doomed = c->next_doomed;
        client_free(c);
    }
}

/* ---- reading lines ----------------------------------------------------------------------- */

/*
 * Takes the next complete line out of `in`, without its LF, into line (CHAT_LINE_MAX bytes).
 * Returns 1 and sets *len, 0 if no complete line is buffered yet, or -1 if the line is longer
 * than CHAT_LINE_MAX: there is no need to wait for the end of a line that is already too long.
 */
static int take_line(struct evbuffer *in, char *line, size_t *len)
{
    /* TODO(7): framing (lectures/03-tcp-networking/README.md#protocol-framing)
     *   - evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF) finds the first LF; its
     *     .pos is -1 when there is none. Do not assume one read() is one line: a line can
     *     arrive a byte at a time, and one read() can hold many lines.
     *   - No LF: return -1 if more than CHAT_LINE_MAX bytes are buffered (the line is already
     *     too long, whatever comes next), else 0 (wait for the rest).
     *   - LF further than CHAT_LINE_MAX bytes in: return -1.
     *   - Otherwise evbuffer_remove() the pos bytes before it into line (a line may contain
     *     NUL bytes: keep the length, *len), evbuffer_drain() the LF, and return 1.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    return 0;
}

/* Reads what has arrived and handles the complete lines, CHAT_LINES_PER_WAKEUP at most. */
static void client_read(struct chat_client *c)
{
    struct chat_server *srv = c->server;
    size_t buffered = evbuffer_get_length(c->in);
    char line[CHAT_LINE_MAX];
    size_t len;

    /* TODO(7): read, then handle whole lines (lectures/03-tcp-networking/README.md#protocol-framing)
     *   - Read only while the input buffer holds less than CHAT_INPUT_MAX: evbuffer_read(c->in,
     *     c->fd, CHAT_INPUT_MAX - buffered). Once it is full the kernel keeps the rest and TCP
     *     slows the sender down: one client can never make us hold more than that.
     *   - Then take lines (take_line) and hand each to the room:
     *         chat_room_handle_line(srv->room, c->member, line, len, &srv->outbox);
     *         server_deliver(srv, c);
     *     until there is no complete line left, or c is finishing or doomed.
     *   - take_line() returned -1: client_finish(c, "line-too-long", CHAT_MSG_LINE_TOO_LONG).
     *   - At most CHAT_LINES_PER_WAKEUP lines per call, so that a client sending flat out
     *     cannot starve the others. Lines may be left over: event_active(c->read_ev, EV_READ, 0)
     *     runs this callback again after the other ready events.
     *
     * TODO(8): EOF and errors (lectures/03-tcp-networking/README.md#disconnects-eof-reset-half-close)
     *   - evbuffer_read() returning 0 is EOF: set c->eof (and read no more). Still handle the
     *     complete lines already buffered, then client_finish(c, "eof", NULL): the client may
     *     only have half-closed, and then it is still waiting for its answers. Bytes after the
     *     last LF are not a line: they are dropped.
     *   - -1 with an errno other than EAGAIN, EWOULDBLOCK or EINTR: client_fail(c, errno).
     */
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct chat_client *c = arg;
    struct chat_server *srv = c->server; /* c may be freed by server_settle() */
    (void)fd;

    /* TODO(10): idle timeout (lectures/03-tcp-networking/README.md#idle-timeouts)
     *   `what & EV_TIMEOUT` means the client sent nothing for a whole idle period (the read
     *   event's timeout, set in client_new): client_finish(c, "idle-timeout",
     *   CHAT_MSG_IDLE_TIMEOUT) instead of reading.
     */
    client_read(c);
    server_settle(srv);
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct chat_client *c = arg;
    struct chat_server *srv = c->server;
    (void)fd;

    /* TODO(4): the kernel has room again: client_flush(c).
     *
     * TODO(8): `what & EV_TIMEOUT` means a finishing client took nothing for the whole grace
     *   period: set c->abort and client_doom(c) instead of flushing.
     */
    server_settle(srv);
}

/* ---- accepting --------------------------------------------------------------------------- */

/* Sets up a client for an accepted socket and welcomes it into the room. Takes ownership of
 * fd: it is closed even when this fails. Returns 0, or -1 when out of memory. */
static int client_new(struct chat_server *srv, evutil_socket_t fd, const char *addr)
{
    /* TODO(2): one client (lectures/03-tcp-networking/README.md#many-connections)
     *   - calloc a struct chat_client; set server, fd and addr. (Out of memory: close fd and
     *     return -1; from here on this function owns fd.)
     *   - Make its two buffers (evbuffer_new) and two events: read_ev, EV_READ | EV_PERSIST,
     *     calling client_read_cb, and write_ev, EV_WRITE | EV_PERSIST, calling client_write_cb,
     *     both with c as their argument. event_add the read event now, with srv->idle_tv as its
     *     timeout (NULL until TODO(10)); the write event only when output waits (TODO(4)).
     *   - c->member = chat_room_join(srv->room, &srv->outbox): the room names the client and
     *     writes its welcome into the outbox.
     *   - Turn on TCP_NODELAY (setsockopt, IPPROTO_TCP): writes are batched already, and
     *     Nagle's algorithm would only delay them.
     *   - Link c at the front of srv->clients (prev/next), srv->nclients++, log
     *     "connect <addr> nick=<nick>", and server_deliver(srv, c) sends the welcome (TODO(4)).
     *   - If anything fails: chat_outbox_clear(&srv->outbox), client_release(c), return -1.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    evutil_closesocket(fd);
    return -1;
}

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
                             struct sockaddr *sa, int socklen, void *arg)
{
    struct chat_server *srv = arg;
    char addr[CHAT_ADDR_MAX];
    (void)listener;
    (void)socklen;

    format_addr(sa, addr, sizeof addr);
    /* TODO(11): the connection limit (lectures/03-tcp-networking/README.md#accept-errors)
     *   - If srv->nclients has reached srv->cfg.max_connections: send(fd, CHAT_MSG_SERVER_FULL,
     *     ...) (a new socket always has room for one short line), log
     *     "disconnect <addr> reason=over-limit", close fd and return. Never create a client
     *     for it: it must not join the room or be logged as a connect.
     */

    /* TODO(2): accept (lectures/03-tcp-networking/README.md#many-connections)
     *   client_new(srv, fd, addr). If it fails, log "disconnect <addr> reason=error: <text>".
     *   Then server_settle(srv): the welcome is written before the callback returns.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    evutil_closesocket(fd);
}

/* After an accept error such as EMFILE (out of file descriptors) the listening socket stays
 * readable, and the listener would retry at full speed, burning a core. Pause instead. */
static void server_accept_error_cb(struct evconnlistener *listener, void *arg)
{
    struct chat_server *srv = arg;
    struct timeval retry = ms_to_timeval(CHAT_ACCEPT_RETRY_MS);
    int err = EVUTIL_SOCKET_ERROR();

    /* TODO(11): accept errors (lectures/03-tcp-networking/README.md#accept-errors)
     *   Out of file descriptors (EMFILE), the listening socket stays readable and the listener
     *   would call this again at once, thousands of times a second. Instead:
     *   - log "accept failed: <evutil_socket_error_to_string(err)>; pausing 100 ms";
     *   - evconnlistener_disable(listener) and evtimer_add(srv->retry_ev, &retry).
     */
}

static void server_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct chat_server *srv = arg;
    (void)fd;
    (void)what;

    /* TODO(11): after the pause, evconnlistener_enable(srv->listener) (unless a shutdown has
     *   freed it: NULL).
     */
}

/* Binds and listens, and records the real port. Returns 0, or -1 after logging why. */
static int server_listen(struct chat_server *srv)
{
    /* TODO(1): listen (lectures/03-tcp-networking/README.md#listeners)
     *   - Resolve srv->host and srv->cfg.port with getaddrinfo() (hints: AF_UNSPEC,
     *     SOCK_STREAM, AI_PASSIVE | AI_NUMERICSERV; the port as a string).
     *   - evconnlistener_new_bind(srv->base, server_accept_cb, srv,
     *     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, addr, addrlen) into srv->listener.
     *     REUSEABLE lets a restarted server bind at once; CLOSE_ON_FREE closes the socket
     *     with the listener. freeaddrinfo() afterwards (save errno first).
     *   - evconnlistener_set_error_cb(srv->listener, server_accept_error_cb).
     *   - The real port: getsockname() on evconnlistener_get_fd(srv->listener), into srv->port
     *     (ntohs; the sockaddr is a sockaddr_in or a sockaddr_in6). With port 0 the kernel
     *     picked it, and only this tells you which.
     *   - On any failure log "cannot listen on <host>:<port>: <reason>" and return -1.
     */
    /* The starter's stand-in, so that it compiles: replace it. */
    server_log(srv, "cannot listen on %s:%u: server_listen() is not written yet", srv->host,
               srv->cfg.port);
    return -1;
}

/* ---- the server's life ------------------------------------------------------------------- */

/* Copies the config, fills in defaults and checks ranges. Returns 0, or -1 after logging. */
static int server_configure(struct chat_server *srv, const struct chat_server_config *cfg)
{
    srv->cfg = *cfg;
    if (srv->cfg.max_connections == 0)
        srv->cfg.max_connections = CHAT_DEFAULT_MAX_CONNECTIONS;
    if (srv->cfg.history_size == 0)
        srv->cfg.history_size = CHAT_HISTORY_DEFAULT_SIZE;
    if (srv->cfg.max_output_bytes == 0)
        srv->cfg.max_output_bytes = CHAT_DEFAULT_MAX_OUTPUT_BYTES;
    srv->host = strdup(cfg->host != NULL ? cfg->host : CHAT_DEFAULT_HOST);
    srv->cfg.host = srv->host;
    srv->cfg.history_file = NULL; /* not kept: the history has its own copy */
    if (srv->host == NULL)
        return -1;

    /* The biggest single reply is the welcome with the whole history, or /list with every
     * nick. Each must fit in the output bound, or the client would be dropped at once. */
    size_t longest_line = CHAT_NICK_MAX + 2 + CHAT_LINE_MAX + 1; /* "<nick>: <text>\n" */
    size_t welcome = ((size_t)srv->cfg.history_size + 2) * longest_line;
    size_t list = 64 + (size_t)srv->cfg.max_connections * (CHAT_NICK_MAX + 2);
    if (srv->cfg.idle_timeout_ms < 0 || srv->cfg.max_connections < 0 ||
        srv->cfg.max_connections > CHAT_MAX_CONNECTIONS_LIMIT || srv->cfg.history_size < 0 ||
        srv->cfg.history_size > CHAT_HISTORY_SIZE_MAX || srv->cfg.max_output_bytes < welcome ||
        srv->cfg.max_output_bytes < list) {
        server_log(srv, "bad config: idle_timeout_ms=%d max_connections=%d (1..%d) "
                   "history_size=%d (1..%d) max_output_bytes=%zu (at least %zu)",
                   srv->cfg.idle_timeout_ms, srv->cfg.max_connections, CHAT_MAX_CONNECTIONS_LIMIT,
                   srv->cfg.history_size, CHAT_HISTORY_SIZE_MAX, srv->cfg.max_output_bytes,
                   welcome > list ? welcome : list);
        return -1;
    }
    /* TODO(10): the idle timeout (lectures/03-tcp-networking/README.md#idle-timeouts)
     *   If srv->cfg.idle_timeout_ms > 0, fill srv->idle_timeout (ms_to_timeval) and point
     *   srv->idle_tv at it: client_new passes idle_tv to event_add for each read event. (Better
     *   still: srv->idle_tv = event_base_init_common_timeout(srv->base, &srv->idle_timeout).
     *   Every client restarts a timer of the same length on each read; libevent keeps such
     *   "common" timeouts in a queue instead of its heap, which makes a restart O(1).)
     */
    return 0;
}

struct chat_server *chat_server_new(struct event_base *base, const struct chat_server_config *cfg)
{
    struct chat_server *srv = calloc(1, sizeof *srv);

    if (srv == NULL)
        return NULL;
    srv->base = base;
    if (server_configure(srv, cfg) != 0)
        goto err;
    srv->history = chat_history_open(cfg->history_file, (size_t)srv->cfg.history_size, cfg->log);
    if (srv->history == NULL)
        goto err; /* the reason is logged */
    srv->room = chat_room_new(srv->history);
    srv->retry_ev = evtimer_new(base, server_retry_cb, srv);
    srv->grace_ev = evtimer_new(base, server_grace_cb, srv);
    if (srv->room == NULL || srv->retry_ev == NULL || srv->grace_ev == NULL ||
        chat_outbox_init(&srv->outbox) != 0) {
        server_log(srv, "out of memory");
        goto err;
    }
    if (server_listen(srv) != 0)
        goto err;
    return srv;

err:
    chat_server_free(srv);
    return NULL;
}

uint16_t chat_server_port(const struct chat_server *srv)
{
    return srv->port;
}

/* The shutdown deadline passed: whoever has not taken their last lines is closed anyway. */
static void server_grace_cb(evutil_socket_t fd, short what, void *arg)
{
    struct chat_server *srv = arg;
    (void)fd;
    (void)what;

    /* TODO(15): the deadline passed (lectures/03-tcp-networking/README.md#graceful-shutdown)
     *   Whoever is still connected has not taken their last lines: set c->abort and
     *   client_drop(c, "shutdown") for each, then server_settle(srv).
     */
}

void chat_server_shutdown(struct chat_server *srv)
{
    struct timeval grace = ms_to_timeval(CHAT_SHUTDOWN_GRACE_MS);

    /* TODO(15): graceful shutdown (lectures/03-tcp-networking/README.md#graceful-shutdown)
     *   - Only once: return if srv->shutting_down; then set it. Log "shutting down: <n> clients".
     *   - Stop accepting: evconnlistener_free(srv->listener) and set it to NULL (closing the
     *     socket makes new clients get "connection refused" at once), event_del(srv->retry_ev).
     *   - client_finish(c, "shutdown", CHAT_MSG_SHUTDOWN) for every client: the notice is
     *     written, then each one closes.
     *   - If any client is left, evtimer_add(srv->grace_ev, &grace): server_grace_cb closes
     *     the stragglers. Then server_settle(srv).
     *   When the last client is gone, client_free deletes grace_ev: nothing is left on the base,
     *   and event_base_dispatch() in main returns by itself.
     */
}

void chat_server_free(struct chat_server *srv)
{
    if (srv == NULL)
        return;
    srv->shutting_down = true; /* no "left" notices while everyone goes */
    srv->dirty = NULL;         /* nothing more is written */
    for (struct chat_client *c = srv->clients; c != NULL; c = c->next) {
        c->dirty = false;
        c->abort = evbuffer_get_length(c->out) > 0; /* output is dropped: say so with a reset */
        client_drop(c, "shutdown");
    }
    while (srv->doomed != NULL) {
        struct chat_client *c = srv->doomed;
        srv->doomed = c->next_doomed;
        client_free(c);
    }
    if (srv->listener != NULL)
        evconnlistener_free(srv->listener);
    if (srv->retry_ev != NULL)
        event_free(srv->retry_ev);
    if (srv->grace_ev != NULL)
        event_free(srv->grace_ev);
    chat_outbox_release(&srv->outbox);
    chat_room_free(srv->room);
    chat_history_free(srv->history);
    free(srv->host);
    free(srv);
}
