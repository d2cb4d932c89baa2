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
 *   write() per client per batch of lines, however many lines the batch held (after accepts,
 *   once per burst of newcomers: settle_ev). What the kernel
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
#include <assert.h>
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

#define CHAT_INPUT_MAX (16 * 1024) /* bytes buffered from one client: many lines, bounded */
#define CHAT_LINES_PER_WAKEUP 64   /* lines handled per read callback before others get a turn */
#define CHAT_ACCEPT_RETRY_MS 100   /* pause accepting this long after an accept error (EMFILE) */
#define CHAT_SHUTDOWN_GRACE_MS 500 /* shutdown closes whoever is still connected after this */
#define CHAT_ADDR_MAX 56           /* "[IPv6 address]:port" and its NUL */
#define CHAT_REASON_MAX 128        /* "error: " and any strerror() text */
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
    char reason[CHAT_REASON_MAX]; /* why the client is leaving, for the log */
    bool eof;                     /* the client will send nothing more */
    bool dirty;                   /* has output to write before the callback ends */
    bool waiting;                 /* the kernel is full: write_ev will flush */
    bool finishing; /* leaving: reads nothing, gets nothing new, closes once out is written */
    bool lingering; /* left, all sent, EOF sent: what it still sends is dropped until it closes */
    bool doomed;    /* to be freed by server_settle(); gets no more output */
    bool abort;     /* close with a reset: what the kernel still holds is dropped */
};

struct chat_server {
    struct event_base *base;       /* borrowed */
    struct chat_server_config cfg; /* a copy, defaults filled in; cfg.log is borrowed */
    char *host;                    /* owned copy of cfg.host */
    struct timeval idle_timeout;
    const struct timeval *idle_tv;   /* what read events use: NULL = no idle timeout */
    struct evconnlistener *listener; /* owned; NULL once shutting down */
    struct event *retry_ev;          /* re-enables the listener after an accept error; owned */
    struct event *grace_ev;          /* the shutdown deadline; owned */
    struct event *settle_ev;         /* settles once after a burst of accepts; owned */
    struct chat_history *history;    /* owned */
    struct chat_room *room;          /* owned */
    struct chat_outbox outbox;       /* what the current room event asks to send */
    struct chat_client *clients;     /* every connection; owned */
    size_t nclients;
    struct chat_client *dirty;  /* clients to write before the callback ends */
    struct chat_client *doomed; /* clients to free before the callback ends */
    uint16_t port;
    bool shutting_down;
};

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
                             struct sockaddr *sa, int socklen, void *arg);
static void server_accept_error_cb(struct evconnlistener *listener, void *arg);
static void server_retry_cb(evutil_socket_t fd, short what, void *arg);
static void server_grace_cb(evutil_socket_t fd, short what, void *arg);
static void server_settle_cb(evutil_socket_t fd, short what, void *arg);
static void client_read_cb(evutil_socket_t fd, short what, void *arg);
static void client_write_cb(evutil_socket_t fd, short what, void *arg);
static void client_leave(struct chat_client *c);

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
    /* STUDENT(8): A read or a write failed with err: the client is gone. Drop it with the
     * reason "reset" for a reset connection (ECONNRESET when reading; EPIPE or ECONNRESET when
     * writing), and "error: <the system's text for err>" for anything else.
     * stub:
     */
    char reason[CHAT_REASON_MAX];

    if (err == ECONNRESET || err == EPIPE)
        snprintf(reason, sizeof reason, "reset");
    else
        snprintf(reason, sizeof reason, "error: %s", strerror(err));
    client_drop(c, reason);
    /* END STUDENT(8) */
}

/*
 * Queues bytes for c. Nothing is written here: server_settle() writes once per callback. If
 * the bytes would take c past the output bound, c is dropped as a slow reader instead, so a
 * client that does not read costs at most max_output_bytes and never holds up anyone else.
 */
static void client_send(struct chat_client *c, const void *data, size_t len)
{
    struct chat_server *srv = c->server;
    size_t pending = evbuffer_get_length(c->out);

    if (c->doomed || len == 0)
        return;
    /* STUDENT(10): A client whose pending output would pass srv->cfg.max_output_bytes is not
     * reading: it is a slow reader. Log "slow-reader <addr> nick=<nick> pending=<bytes queued>
     * limit=<max_output_bytes>: dropped", set c->abort (it is closed with a reset, so the
     * kernel also drops what it still holds for it) and drop it with the reason "slow-reader".
     * Never wait for it and never pause the room for it: the others go on.
     * stub:
     */
    if (pending + len > srv->cfg.max_output_bytes) {
        server_log(srv, "slow-reader %s nick=%s pending=%zu limit=%zu: dropped", c->addr,
                   chat_member_nick(c->member), pending, srv->cfg.max_output_bytes);
        c->abort = true;
        client_drop(c, "slow-reader");
        return;
    }
    /* END STUDENT(10) */
    /* STUDENT(4): Queue the bytes on c's output buffer; nothing is written here. Then, unless
     * c is waiting for the kernel to take more (write_ev will write when it does), mark c
     * dirty: server_settle() writes every dirty client once, at the end of the callback, so a
     * burst of lines costs one write, not one per line. Out of memory: drop the client with
     * the reason "error: out of memory".
     * stub:
     */
    if (evbuffer_add(c->out, data, len) != 0) {
        client_drop(c, "error: out of memory");
        return;
    }
    if (!c->waiting)
        client_mark_dirty(c); /* while waiting, write_ev flushes when the kernel has room */
    /* END STUDENT(4) */
}

/*
 * Starts c's goodbye: queues its last line (if any), stops reading, and lets server_settle()
 * close it once the kernel has taken everything queued. A client that takes nothing for
 * cfg.close_grace_ms is cut off (client_write_cb).
 */
static void client_finish(struct chat_client *c, const char *reason, const char *last_line)
{
    /* STUDENT(8): Start c's goodbye. A client already leaving (finishing) or doomed is left
     * alone. Queue last_line, if there is one; if that dropped the client, stop there.
     * Remember the reason (c->reason, for the log), set c->finishing and stop reading: a
     * leaving client reads nothing more and gets nothing new. It closes once its output is
     * written, which client_flush checks: so mark it dirty, even with nothing queued. If it is
     * already waiting for the kernel, give write_ev a deadline of cfg.close_grace_ms instead.
     * stub:
     */
    struct timeval grace = ms_to_timeval(c->server->cfg.close_grace_ms);

    if (c->finishing || c->doomed)
        return;
    if (last_line != NULL)
        client_send(c, last_line, strlen(last_line));
    if (c->doomed)
        return;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    c->finishing = true;
    event_del(c->read_ev);
    if (c->waiting)
        event_add(c->write_ev, &grace); /* already waiting: now with a deadline */
    else
        client_mark_dirty(c); /* even with nothing queued: the flush then sees it can close */
    /* END STUDENT(8) */
}

/*
 * A leaving client has been sent everything: end the connection without a reset. A socket
 * closed with unread input (or that receives bytes after it is closed) makes the kernel send a
 * reset, and a reset destroys the last lines still on their way to the client. So the client
 * gets EOF (shutdown(SHUT_WR)) and leaves the room now; its socket stays open, reading and
 * dropping, until it closes too or cfg.close_grace_ms pass (client_discard). This is a
 * lingering close.
 */
static void client_linger(struct chat_client *c)
{
    /* STUDENT(8): Everything queued for a leaving client is written: end it without a reset.
     * Bytes it still sends would sit unread, and closing a socket with unread input (or one
     * that receives bytes after it is closed) makes the kernel send a reset that destroys the
     * last lines still on their way. So unless it already sent its EOF (then nothing more can
     * arrive: it can go at once), tell it nothing more is coming, let it leave the room now
     * (client_leave: the others should not wait to see it go), and keep reading, with
     * cfg.close_grace_ms as the read event's deadline, until it closes too (client_discard).
     * If any of that fails, it goes at once (client_doom). Lecture 03, "Disconnects", shows
     * this lingering close.
     * stub:
     *     client_doom(c);
     */
    struct timeval grace = ms_to_timeval(c->server->cfg.close_grace_ms);

    if (c->lingering || c->doomed)
        return;
    if (c->eof || shutdown(c->fd, SHUT_WR) != 0 || event_add(c->read_ev, &grace) != 0) {
        client_doom(c);
        return;
    }
    c->lingering = true;
    client_leave(c);
    /* END STUDENT(8) */
}

/* A lingering client's read event fired: drop what arrived, and let it go once it closes. */
static void client_discard(struct chat_client *c, short what)
{
    char buf[CHAT_INPUT_MAX];

    /* STUDENT(8): Read what the lingering client sent and drop it. When it closes (EOF), a
     * read fails, or the deadline passes (EV_TIMEOUT in `what`), it goes (client_doom): its
     * reason for the log is already set.
     * stub:
     *     client_doom(c);
     */
    ssize_t n = (what & EV_TIMEOUT) ? 0 : read(c->fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        client_doom(c);
    /* END STUDENT(8) */
}

/* Writes what the kernel will take. The rest waits for write_ev. */
static void client_flush(struct chat_client *c)
{
    /* STUDENT(4): Write c->out to the socket: as much as the kernel takes now, and what it
     * takes leaves the buffer. The socket is non-blocking. "Try again later" (EAGAIN or
     * EWOULDBLOCK) means the kernel's buffer for this client is full: stop, and leave the rest
     * for the code below, which waits for EV_WRITE. An interrupted call (EINTR) is simply
     * made again. Any other error means the client is gone: client_fail(c, errno) and return.
     * stub:
     */
    while (evbuffer_get_length(c->out) > 0) {
        if (evbuffer_write(c->out, c->fd) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break; /* the kernel's buffer for this socket is full */
            client_fail(c, errno);
            return;
        }
    }
    /* END STUDENT(4) */

    /* All written: stop waiting for EV_WRITE, and a leaving client can go now. Some left: wait
     * until the client has read enough (client_write_cb), with a deadline if it is leaving. */
    if (evbuffer_get_length(c->out) == 0) {
        if (c->waiting) {
            event_del(c->write_ev);
            c->waiting = false;
        }
        if (c->finishing)
            client_linger(c);
    } else if (!c->waiting) {
        struct timeval grace = ms_to_timeval(c->server->cfg.close_grace_ms);
        event_add(c->write_ev, c->finishing ? &grace : NULL);
        c->waiting = true;
    }
}

/* ---- the server: delivering room events, settling --------------------------------------- */

/*
 * Sends what the room asked for after an event of client c (a line, a join, a leave), then
 * empties the outbox. The line for the others is formatted once and copied to each of them.
 */
static void server_deliver(struct chat_server *srv, struct chat_client *c)
{
    struct chat_outbox *out = &srv->outbox;

    /* STUDENT(4): Deliver the outbox of an event of client c with client_send.
     * out->to_sender goes to c. out->to_others goes to every other client, except those
     * already leaving (finishing) or doomed, and to nobody while the server shuts down. The
     * outbox holds the bytes formatted once: copy them to each receiver, do not format again.
     * stub:
     */
    size_t n = evbuffer_get_length(out->to_others);
    if (n > 0 && !srv->shutting_down) {
        const unsigned char *line = evbuffer_pullup(out->to_others, -1);
        for (struct chat_client *o = srv->clients; o != NULL; o = o->next)
            if (o != c && !o->finishing && !o->doomed)
                client_send(o, line, n);
    }
    n = evbuffer_get_length(out->to_sender);
    if (n > 0)
        client_send(c, evbuffer_pullup(out->to_sender, -1), n);
    /* END STUDENT(4) */
    /* STUDENT(9): What else the room may ask. After a rename (out->old_nick is not empty),
     * log "nick <addr> old=<old nick> new=<new nick>". After /quit (out->quit), c leaves with
     * the reason "quit", once its "* bye" is written.
     * stub:
     */
    if (out->old_nick[0] != '\0')
        server_log(srv, "nick %s old=%s new=%s", c->addr, out->old_nick,
                   chat_member_nick(c->member));
    if (out->quit)
        client_finish(c, "quit", NULL);
    /* END STUDENT(9) */
    chat_outbox_clear(out);
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

/* Logs the disconnect and takes c out of the room, telling the others. Its socket may stay open
 * a little longer (client_linger); c->member is NULL from here on. */
static void client_leave(struct chat_client *c)
{
    struct chat_server *srv = c->server;

    /* STUDENT(8): c leaves the chat. Log "disconnect <addr> nick=<nick> reason=<reason>";
     * take it out of the room and deliver what the room says, so the others get
     * "* <nick> left"; the room frees the member, so forget it (c->member = NULL).
     * stub:
     */
    server_log(srv, "disconnect %s nick=%s reason=%s", c->addr, chat_member_nick(c->member),
               c->reason);
    chat_room_leave(srv->room, c->member, &srv->outbox);
    c->member = NULL;
    server_deliver(srv, c); /* "* <nick> left" to the others (not during a shutdown) */
    /* END STUDENT(8) */
}

/* Takes c out of the room (unless it left already), closes and frees it. */
static void client_free(struct chat_client *c)
{
    struct chat_server *srv = c->server;

    /* STUDENT(8): The last of a client. Unless it has left the room already (a lingering
     * client did), it leaves now (client_leave); unlink it from srv->clients (a doubly linked
     * list) and count it out of srv->nclients; then client_release() closes and frees it.
     * stub:
     */
    if (c->member != NULL)
        client_leave(c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    assert(srv->nclients > 0);
    srv->nclients--;
    client_release(c);
    /* END STUDENT(8) */
    if (srv->shutting_down && srv->clients == NULL)
        event_del(srv->grace_ev); /* nothing left on the base: dispatch returns */
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
        assert(c->doomed && srv->dirty == NULL); /* no list may point at a freed client */
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
    /* STUDENT(7): Take the next complete line out of `in`: the bytes before the first LF go
     * to `line`, *len is how many, the LF is dropped, and the result is 1. A line may hold NUL
     * bytes: it is the bytes and their count, not a C string. No LF yet: return 0 and leave the
     * bytes for the next read; but if more than CHAT_LINE_MAX bytes are buffered already, the
     * line is too long whatever comes next: return -1, do not wait for its end. An LF more than
     * CHAT_LINE_MAX bytes in is -1 as well. A line of exactly CHAT_LINE_MAX bytes is allowed.
     * stub:
     *     return 0;
     */
    size_t eol_len;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);

    if (eol.pos < 0)
        return evbuffer_get_length(in) > CHAT_LINE_MAX ? -1 : 0;
    if ((size_t)eol.pos > CHAT_LINE_MAX)
        return -1;
    *len = (size_t)evbuffer_remove(in, line, (size_t)eol.pos);
    evbuffer_drain(in, eol_len);
    return 1;
    /* END STUDENT(7) */
}

/* Reads what has arrived and handles the complete lines, CHAT_LINES_PER_WAKEUP at most. */
static void client_read(struct chat_client *c)
{
    struct chat_server *srv = c->server;
    size_t buffered = evbuffer_get_length(c->in);
    char line[CHAT_LINE_MAX];
    size_t len;

    /* Never more than CHAT_INPUT_MAX buffered: while the buffer is full, the kernel holds the
     * rest, and TCP flow control slows the sender down. */
    if (!c->eof && buffered < CHAT_INPUT_MAX) {
        int n = evbuffer_read(c->in, c->fd, (int)(CHAT_INPUT_MAX - buffered));
        /* STUDENT(8): n is what read() returned. 0 is the end of the stream: set c->eof, and
         * nothing more is read from c (the lines already buffered still count). -1 with EAGAIN,
         * EWOULDBLOCK or EINTR means nothing arrived after all. Any other error means the
         * client is gone: client_fail(c, errno), and return.
         * stub:
         */
        if (n == 0) {
            c->eof = true;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            client_fail(c, errno);
            return;
        }
        /* END STUDENT(8) */
    }
    /* STUDENT(7): Hand each complete line in c->in to the room (chat_room_handle_line, into
     * srv->outbox) and deliver what the room says (server_deliver) after each one, until no
     * complete line is left or c is leaving (finishing) or doomed. A line that is too long
     * ends the client: client_finish with the reason "line-too-long" and the last line
     * CHAT_MSG_LINE_TOO_LONG ("! line too long"). Handle at most CHAT_LINES_PER_WAKEUP lines
     * per call, so that a client sending flat out cannot starve the others; when you stop
     * there, make sure this callback runs again for the rest, even if no new bytes arrive.
     * stub:
     */
    for (int handled = 0; !c->finishing && !c->doomed; handled++) {
        if (handled == CHAT_LINES_PER_WAKEUP) {
            /* Lines may be left: run again after the other ready events, not before. */
            event_active(c->read_ev, EV_READ, 0);
            return;
        }
        int got = take_line(c->in, line, &len);
        if (got < 0) {
            client_finish(c, "line-too-long", CHAT_MSG_LINE_TOO_LONG);
            return;
        }
        if (got == 0)
            break;
        chat_room_handle_line(srv->room, c->member, line, len, &srv->outbox);
        server_deliver(srv, c);
    }
    /* END STUDENT(7) */
    /* STUDENT(8): After the end of the stream, what is left in c->in has no LF: it is not a
     * line, and it is dropped. The client leaves with the reason "eof", but what is queued for
     * it is written first: it may only have half-closed its side, and still wait for answers.
     * stub:
     */
    if (c->eof)
        client_finish(c, "eof", NULL);
    /* END STUDENT(8) */
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct chat_client *c = arg;
    struct chat_server *srv = c->server; /* c may be freed by server_settle() */
    (void)fd;

    if (c->lingering) {
        client_discard(c, what);
        server_settle(srv);
        return;
    }
    /* STUDENT(10): The read event's timeout is the idle timeout: EV_TIMEOUT in `what` means c
     * sent nothing for that long. Then, instead of reading, c leaves with the reason
     * "idle-timeout" and the last line CHAT_MSG_IDLE_TIMEOUT ("! idle timeout").
     * stub:
     *     client_read(c);
     */
    if (what & EV_TIMEOUT)
        client_finish(c, "idle-timeout", CHAT_MSG_IDLE_TIMEOUT);
    else
        client_read(c);
    /* END STUDENT(10) */
    server_settle(srv);
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct chat_client *c = arg;
    struct chat_server *srv = c->server;
    (void)fd;

    /* STUDENT(10): write_ev fired. EV_WRITE: the client has read, the kernel has room again,
     * and what is still queued must go out now. EV_TIMEOUT: c is leaving and has taken
     * nothing for cfg.close_grace_ms: close it anyway, at once and with a reset (c->abort).
     * Without the first, a client that falls behind once never gets another byte; without the
     * second, a leaving client that never reads stays forever.
     * stub:
     */
    if (what & EV_TIMEOUT) {
        c->abort = true; /* leaving, and took nothing for the whole grace period */
        client_doom(c);
    } else {
        client_flush(c);
    }
    /* END STUDENT(10) */
    server_settle(srv);
}

/* ---- accepting --------------------------------------------------------------------------- */

/* Sets up a client for an accepted socket and welcomes it into the room. Takes ownership of
 * fd: it is closed even when this fails. Returns 0, or -1 when out of memory. */
static int client_new(struct chat_server *srv, evutil_socket_t fd, const char *addr)
{
    int one = 1;

    /* Lines are batched by server_settle() already; Nagle's algorithm would only add delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    /* STUDENT(2): Make a client for the accepted socket fd and welcome it into the room: its
     * two buffers; its two events, read_ev (EV_READ|EV_PERSIST, calling client_read_cb) and
     * write_ev (EV_WRITE|EV_PERSIST, calling client_write_cb), with only the read event added
     * now, with srv->idle_tv as its timeout; its member of the room (chat_room_join names it
     * and puts its welcome in srv->outbox); its place in srv->clients and srv->nclients; the log
     * line "connect <addr> nick=<nick>"; and server_deliver, which queues the welcome. This
     * function owns fd from the start: on any failure, clear the outbox, free what was made
     * (client_release takes a half-made client) and return -1.
     * stub:
     *     evutil_closesocket(fd);
     *     return -1;
     */
    struct chat_client *c = calloc(1, sizeof *c);

    if (c == NULL) {
        evutil_closesocket(fd);
        return -1;
    }
    c->server = srv;
    c->fd = fd;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->read_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
    c->write_ev = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
    if (c->in == NULL || c->out == NULL || c->read_ev == NULL || c->write_ev == NULL ||
        event_add(c->read_ev, srv->idle_tv) != 0)
        goto err;
    c->member = chat_room_join(srv->room, &srv->outbox);
    if (c->member == NULL)
        goto err;

    c->next = srv->clients;
    if (srv->clients != NULL)
        srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    server_log(srv, "connect %s nick=%s", addr, chat_member_nick(c->member));
    server_deliver(srv, c); /* the welcome, and "* <nick> joined" to the others */
    return 0;

err:
    chat_outbox_clear(&srv->outbox);
    client_release(c);
    return -1;
    /* END STUDENT(2) */
}

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
                             struct sockaddr *sa, int socklen, void *arg)
{
    struct chat_server *srv = arg;
    char addr[CHAT_ADDR_MAX];
    (void)listener;
    (void)socklen;

    format_addr(sa, addr, sizeof addr);
    /* STUDENT(11): At most srv->cfg.max_connections clients at once. One more gets the line
     * CHAT_MSG_SERVER_FULL ("! server full"), is closed, and is logged as
     * "disconnect <addr> reason=over-limit". It never becomes a client: no nick, no "connect"
     * line, and nobody in the room hears of it. A socket just accepted has room in its buffer
     * for one short line, so a single write, without waiting, is enough.
     * stub:
     */
    if (srv->nclients >= (size_t)srv->cfg.max_connections) {
        /* Say why, then close. The socket is new, so its buffer has room for the line; if
         * the write fails anyway, the close alone still tells the client "no". */
        ssize_t ignored = send(fd, CHAT_MSG_SERVER_FULL, strlen(CHAT_MSG_SERVER_FULL), 0);
        (void)ignored;
        server_log(srv, "disconnect %s reason=over-limit", addr);
        evutil_closesocket(fd);
        return;
    }
    /* END STUDENT(11) */
    /* STUDENT(2): Make the client. If that fails (only when out of memory), log
     * "disconnect <addr> reason=error: <the system's text for ENOMEM>". Then have the output
     * settled: activate srv->settle_ev, which runs server_settle() right after the listener
     * has accepted every connection waiting, in this same turn of the loop.
     * stub:
     *     evutil_closesocket(fd);
     */
    if (client_new(srv, fd, addr) != 0)
        server_log(srv, "disconnect %s reason=error: %s", addr, strerror(ENOMEM));
    /* Not server_settle() here: the listener calls this callback once per connection, and
     * accepts until none is waiting. Settling each time wrote every client once per newcomer
     * (its "* <nick> joined"): 5000 clients joining in bursts cost 12.5 million write()s and
     * two minutes. Settled once per burst, each client gets one write for the whole burst. */
    event_active(srv->settle_ev, EV_TIMEOUT, 0);
    /* END STUDENT(2) */
}

/* After an accept error such as EMFILE (out of file descriptors) the listening socket stays
 * readable, and the listener would retry at full speed, burning a core. Pause instead. */
static void server_accept_error_cb(struct evconnlistener *listener, void *arg)
{
    struct chat_server *srv = arg;

    /* STUDENT(11): accept() failed, most likely with EMFILE: out of file descriptors. The
     * listening socket stays readable, so the listener would call this again at once,
     * thousands of times a second. Log "accept failed: <the error's text>; pausing 100 ms",
     * stop accepting, and have srv->retry_ev (server_retry_cb) start accepting again after
     * CHAT_ACCEPT_RETRY_MS.
     * stub:
     */
    struct timeval retry = ms_to_timeval(CHAT_ACCEPT_RETRY_MS);
    int err = EVUTIL_SOCKET_ERROR();

    server_log(srv, "accept failed: %s; pausing %d ms", evutil_socket_error_to_string(err),
               CHAT_ACCEPT_RETRY_MS);
    evconnlistener_disable(listener);
    evtimer_add(srv->retry_ev, &retry);
    /* END STUDENT(11) */
}

/* Activated by server_accept_cb: settles the burst of clients the listener accepted. */
static void server_settle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    server_settle(arg);
}

static void server_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct chat_server *srv = arg;
    (void)fd;
    (void)what;

    /* STUDENT(11): The pause is over: accept again, unless a shutdown has freed the listener
     * meanwhile (srv->listener is NULL then).
     * stub:
     */
    if (srv->listener != NULL)
        evconnlistener_enable(srv->listener);
    /* END STUDENT(11) */
}

/* Binds and listens, and records the real port. Returns 0, or -1 after logging why. */
static int server_listen(struct chat_server *srv)
{
    /* STUDENT(1): Listen on srv->host, port srv->cfg.port, and store the port really bound in
     * srv->port: with port 0 the kernel picks one, and only the socket can tell you which. New
     * connections must reach server_accept_cb and accept errors server_accept_error_cb, both
     * with srv as their argument. A restarted server must be able to bind again at once, and
     * freeing the listener must close its socket. On any failure, log
     * "cannot listen on <host>:<port>: <reason>", the reason being the system's text for the
     * error (such as "Address already in use"), and return -1.
     * stub:
     *     server_log(srv, "cannot listen on %s:%u: not written yet", srv->host, srv->cfg.port);
     *     return -1;
     */
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];

    snprintf(port, sizeof port, "%u", srv->cfg.port);
    int gai = getaddrinfo(srv->host, port, &hints, &res);
    if (gai != 0) {
        server_log(srv, "cannot listen on %s:%s: %s", srv->host, port, gai_strerror(gai));
        return -1;
    }
    /* CLOSE_ON_FREE: freeing the listener closes its socket. REUSEABLE: a restarted server
     * can bind again at once, without waiting for old connections in TIME_WAIT. */
    srv->listener = evconnlistener_new_bind(srv->base, server_accept_cb, srv,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                            res->ai_addr, (int)res->ai_addrlen);
    int err = errno;
    freeaddrinfo(res);
    if (srv->listener == NULL) {
        server_log(srv, "cannot listen on %s:%s: %s", srv->host, port, strerror(err));
        return -1;
    }
    evconnlistener_set_error_cb(srv->listener, server_accept_error_cb);

    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&ss, &sslen) != 0) {
        server_log(srv, "cannot read the listening address: %s", strerror(errno));
        return -1;
    }
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
    /* END STUDENT(1) */
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
    if (srv->cfg.close_grace_ms <= 0)
        srv->cfg.close_grace_ms = CHAT_DEFAULT_CLOSE_GRACE_MS;
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
        server_log(srv,
                   "bad config: idle_timeout_ms=%d max_connections=%d (1..%d) "
                   "history_size=%d (1..%d) max_output_bytes=%zu (at least %zu)",
                   srv->cfg.idle_timeout_ms, srv->cfg.max_connections, CHAT_MAX_CONNECTIONS_LIMIT,
                   srv->cfg.history_size, CHAT_HISTORY_SIZE_MAX, srv->cfg.max_output_bytes,
                   welcome > list ? welcome : list);
        return -1;
    }
    /* STUDENT(10): With cfg.idle_timeout_ms > 0, point srv->idle_tv at a timeout of that
     * length (srv->idle_timeout has room for one): client_new gives it to every read event.
     * Every client restarts a timer of this same length on each read, and libevent has a
     * cheaper kind of timeout for exactly that case. 0 means none: idle_tv stays NULL.
     * stub:
     */
    if (srv->cfg.idle_timeout_ms > 0) {
        /* Every client restarts a timer of this same length on each read. As a "common
         * timeout", libevent keeps them in a queue instead of its heap: O(1) per restart. */
        srv->idle_timeout = ms_to_timeval(srv->cfg.idle_timeout_ms);
        srv->idle_tv = event_base_init_common_timeout(srv->base, &srv->idle_timeout);
        if (srv->idle_tv == NULL)
            srv->idle_tv = &srv->idle_timeout;
    }
    /* END STUDENT(10) */
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
    srv->settle_ev = event_new(base, -1, 0, server_settle_cb, srv);
    if (srv->room == NULL || srv->retry_ev == NULL || srv->grace_ev == NULL ||
        srv->settle_ev == NULL || chat_outbox_init(&srv->outbox) != 0) {
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

    /* STUDENT(15): The shutdown deadline passed. Whoever is still connected has not taken
     * their last lines: close each of them now, with a reset (c->abort) and the reason
     * "shutdown", then settle.
     * stub:
     */
    for (struct chat_client *c = srv->clients; c != NULL; c = c->next) {
        c->abort = true;
        client_drop(c, "shutdown");
    }
    server_settle(srv);
    /* END STUDENT(15) */
}

void chat_server_shutdown(struct chat_server *srv)
{
    /* STUDENT(15): Shut down gracefully, once: a second call does nothing. Log
     * "shutting down: <n> clients". Stop accepting: close the listening socket itself (set
     * srv->listener to NULL), so new clients are refused at once instead of waiting in the
     * backlog, and cancel an accept retry that may be pending. Every client leaves with the
     * reason "shutdown" and the last line CHAT_MSG_SHUTDOWN ("* server shutting down"). If any
     * client is still there, arm srv->grace_ev for CHAT_SHUTDOWN_GRACE_MS: server_grace_cb
     * closes the stragglers. Then settle. Once the last client is gone, nothing of the server
     * is left on the base, and event_base_dispatch() returns by itself.
     * stub:
     */
    struct timeval grace = ms_to_timeval(CHAT_SHUTDOWN_GRACE_MS);

    if (srv->shutting_down)
        return;
    srv->shutting_down = true;
    server_log(srv, "shutting down: %zu clients", srv->nclients);
    /* Closing the listening socket (not merely disabling it) makes new clients get
     * "connection refused" at once instead of waiting in the backlog. */
    evconnlistener_free(srv->listener);
    srv->listener = NULL;
    event_del(srv->retry_ev);

    for (struct chat_client *c = srv->clients; c != NULL; c = c->next)
        client_finish(c, "shutdown", CHAT_MSG_SHUTDOWN);
    if (srv->clients != NULL)
        evtimer_add(srv->grace_ev, &grace);
    server_settle(srv); /* may free every client, and then deletes grace_ev again */
    /* END STUDENT(15) */
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
    if (srv->settle_ev != NULL)
        event_free(srv->settle_ev);
    chat_outbox_release(&srv->outbox);
    chat_room_free(srv->room);
    chat_history_free(srv->history);
    free(srv->host);
    free(srv);
}
