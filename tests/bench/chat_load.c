/*
 * chat_load.c - a fan-out load generator for line-protocol chat servers.
 *
 *     chat-load PORT RECEIVERS LINES RATE [PID]
 *
 * RECEIVERS clients and one sender connect to 127.0.0.1:PORT. Once every receiver is in the
 * room, the sender writes LINES lines "msg SEQ TIMESTAMP_NS" at RATE lines per second (0: as
 * fast as the server takes them). The server relays each line to every other client as
 * "NICK: msg SEQ TIMESTAMP_NS"; each receiver checks that every SEQ arrives exactly once and
 * in order, and the time from send to arrival is the fan-out latency. It prints one line of
 * key=value pairs: delivered lines per second (summed over receivers), the p50/p99 latency,
 * and the lines lost, duplicated or out of order, and exits 1 if any went missing.
 *
 * Joining: a receiver is in the room once the server has welcomed it (it sends "* end of
 * history" after replaying history, for servers that do) and a "sync N" line from the sender
 * has reached it, which also proves the server relays to it. Anything before that (welcome,
 * history, join notices) is ignored.
 *
 * "As fast as possible" still has backpressure: the sender stops writing when its socket is
 * full, and never runs more than CHAT_LOAD_WINDOW_LINES lines ahead of the slowest receiver,
 * so the figure is the server's relay rate rather than how much it can buffer.
 *
 * With PID (the server's process id), it also reads the server's resident memory (VmRSS) before
 * the clients connect and once all of them are in the room, and prints the difference per
 * client: what a connected chat client costs the server.
 *
 * Try it: `chat-load 7001 10 1000 0` against a running chat-server.
 */
#include "bench_util.h"
#include "lat_hist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CHAT_LOAD_MAX_RECEIVERS 10000
#define CHAT_LOAD_MAX_LINES 10000000
#define CHAT_LOAD_MAX_DELIVERIES 200000000L /* RECEIVERS x LINES: one bit each to track */
#define CHAT_LOAD_MAX_RATE 1000000          /* lines per second */
#define CHAT_LOAD_INPUT_BYTES (16 * 1024)   /* a receiver's buffer for one partial line */
#define CHAT_LOAD_OUTPUT_BYTES (64 * 1024)  /* the sender's buffer of lines not yet written */
#define CHAT_LOAD_LINE_MAX 64               /* bytes of one "msg SEQ TS\n" line, with room */
#define CHAT_LOAD_WINDOW_LINES 512          /* flat out: lines ahead of the slowest receiver */
#define CHAT_LOAD_EVENTS 256                /* epoll events handled per wakeup */
#define CHAT_LOAD_TICK_MS 100               /* longest sleep between clock checks */
#define CHAT_LOAD_CONNECT_BATCH 64          /* receivers connected between two pauses */
#define CHAT_LOAD_CONNECT_QUIET_MS 5        /* a pause lasts until nothing arrived this long */
#define CHAT_LOAD_SYNC_EVERY_MS 20          /* while joining: one sync line this often */
#define CHAT_LOAD_JOIN_TIMEOUT_MS 10000     /* give up if receivers are not in the room by then */
#define CHAT_LOAD_STALL_MS 3000             /* stop once nothing has arrived for this long */
#define CHAT_LOAD_DRAIN_MS 30000            /* at most this long past the last scheduled send */

/* One receiving client. */
struct chat_receiver {
    int fd;            /* -1 once the server closed it */
    bool welcomed;     /* saw "* end of history" (reported, not required) */
    bool in_room;      /* saw a sync line from the sender: msg lines count from now on */
    bool skipping;     /* inside a line longer than the buffer: dropped up to its LF */
    size_t len;        /* bytes of a partial line in buf */
    uint64_t next_seq; /* one past the highest SEQ seen */
    uint64_t received; /* distinct SEQs seen */
    uint64_t duplicates;
    uint64_t out_of_order; /* SEQs that arrived after a higher one */
    unsigned char *seen;   /* one bit per SEQ (owned) */
    char buf[CHAT_LOAD_INPUT_BYTES];
};

/* The one sending client. */
struct chat_sender {
    int fd;
    bool want_write; /* EPOLLOUT armed: the kernel refused part of out */
    size_t out_off, out_len;
    uint64_t next_seq; /* the SEQ of the next msg line */
    uint64_t syncs;    /* sync lines sent */
    char out[CHAT_LOAD_OUTPUT_BYTES];
};

/* Everything one run shares. */
struct chat_load {
    int epfd;
    uint64_t lines;
    long rate;
    long nreceivers;
    struct chat_receiver *receivers; /* owned */
    struct chat_sender sender;
    uint64_t delivered;
    uint64_t last_delivery_ns;
    long disconnected; /* receivers the server closed */
    bool sender_closed;
    long server_pid; /* 0: memory not measured */
    long rss_before_kib, rss_joined_kib;
    struct lat_hist hist;
};

static int watch(struct chat_load *load, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    return epoll_ctl(load->epfd, op, fd, &ev);
}

/* Writes as much of the sender's buffer as the kernel takes, and arms EPOLLOUT while some is
 * left. Returns 0, or -1 on a socket error. */
static int sender_flush(struct chat_load *load)
{
    struct chat_sender *s = &load->sender;

    while (s->out_off < s->out_len) {
        ssize_t n = write(s->fd, s->out + s->out_off, s->out_len - s->out_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            break;
        }
        s->out_off += (size_t)n;
    }
    if (s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    bool want_write = s->out_len > 0;
    if (want_write != s->want_write) {
        s->want_write = want_write;
        if (watch(load, EPOLL_CTL_MOD, s->fd, EPOLLIN | (want_write ? EPOLLOUT : 0u), s) != 0)
            return -1;
    }
    return 0;
}

/* True if the sender's buffer has room for one more line. */
static bool sender_has_room(const struct chat_sender *s)
{
    return s->out_off == 0 && CHAT_LOAD_OUTPUT_BYTES - s->out_len >= CHAT_LOAD_LINE_MAX;
}

static void sender_append_sync(struct chat_sender *s)
{
    int n = snprintf(s->out + s->out_len, CHAT_LOAD_OUTPUT_BYTES - s->out_len, "sync %" PRIu64 "\n",
                     s->syncs++);
    s->out_len += (size_t)n;
}

/* The lowest next_seq of the receivers still connected: how far the slowest one has got. */
static uint64_t slowest_receiver(const struct chat_load *load)
{
    uint64_t slowest = UINT64_MAX;

    for (long i = 0; i < load->nreceivers; i++) {
        const struct chat_receiver *r = &load->receivers[i];
        if (r->fd >= 0 && r->next_seq < slowest)
            slowest = r->next_seq;
    }
    return slowest;
}

/* How many msg lines may have been sent by `now`: the schedule when paced, the window when
 * flat out. */
static uint64_t send_allowance(const struct chat_load *load, uint64_t start, uint64_t now)
{
    uint64_t allowed;

    if (load->rate > 0) {
        /* Line k is due at start + k / rate: line 0 at once. */
        allowed = (uint64_t)((double)(now - start) * (double)load->rate / 1e9) + 1;
    } else {
        uint64_t slowest = slowest_receiver(load);
        allowed = slowest == UINT64_MAX ? load->lines : slowest + CHAT_LOAD_WINDOW_LINES;
    }
    return allowed < load->lines ? allowed : load->lines;
}

/* Appends the msg lines now allowed and writes them. Returns 0, or -1 on a socket error. */
static int sender_send_due(struct chat_load *load, uint64_t start)
{
    struct chat_sender *s = &load->sender;

    for (;;) {
        uint64_t now = bench_now_ns();
        uint64_t allowed = send_allowance(load, start, now);
        if (s->next_seq >= allowed || !sender_has_room(s))
            return 0;
        while (s->next_seq < allowed && sender_has_room(s)) {
            int n = snprintf(s->out + s->out_len, CHAT_LOAD_OUTPUT_BYTES - s->out_len,
                             "msg %" PRIu64 " %" PRIu64 "\n", s->next_seq, now);
            s->out_len += (size_t)n;
            s->next_seq++;
        }
        if (sender_flush(load) != 0)
            return -1;
        if (s->want_write)
            return 0;
    }
}

/* Reads and drops what the server sends the sender (join notices and the like). Returns 0, or
 * -1 once the server has closed it. */
static int sender_read(struct chat_load *load)
{
    char sink[CHAT_LOAD_INPUT_BYTES];
    ssize_t n = read(load->sender.fd, sink, sizeof sink);

    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return 0;
    fprintf(stderr, "chat-load: the server closed the sender's connection (%s)\n",
            n == 0 ? "end of file" : strerror(errno));
    load->sender_closed = true;
    return -1;
}

/* Counts one "msg SEQ TS" that reached a receiver at `now`. */
static void receiver_count(struct chat_load *load, struct chat_receiver *r, const char *payload,
                           uint64_t now)
{
    char *end;
    uint64_t seq = strtoull(payload, &end, 10);
    if (end == payload || *end != ' ' || seq >= load->lines)
        return;
    uint64_t ts = strtoull(end + 1, &end, 10);
    unsigned char bit = (unsigned char)(1u << (seq % 8));
    if (r->seen[seq / 8] & bit) {
        r->duplicates++;
        return;
    }
    r->seen[seq / 8] |= bit;
    r->received++;
    if (seq < r->next_seq)
        r->out_of_order++;
    else
        r->next_seq = seq + 1;
    lat_hist_record(&load->hist, now > ts ? now - ts : 0);
    load->delivered++;
    load->last_delivery_ns = now;
}

/* Handles one complete line (without its LF) that reached a receiver at `now`. */
static void receiver_line(struct chat_load *load, struct chat_receiver *r, char *line, size_t len,
                          uint64_t now)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    if (strcmp(line, "* end of history") == 0) {
        r->welcomed = true;
        return;
    }
    /* A relayed line is "NICK: TEXT"; server notices start with "* ". */
    if (line[0] == '*')
        return;
    char *text = strstr(line, ": ");
    text = text == NULL ? line : text + 2;
    if (strncmp(text, "sync ", 5) == 0)
        r->in_room = true;
    else if (r->in_room && strncmp(text, "msg ", 4) == 0)
        receiver_count(load, r, text + 4, now);
}

/* Reads what arrived for one receiver and handles every complete line. A close by the server
 * is counted (its missing lines then count as lost); the receiver stops taking part. */
static void receiver_read(struct chat_load *load, struct chat_receiver *r)
{
    /* One byte stays free so a line can be NUL-terminated in place. */
    ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        fprintf(stderr, "chat-load: the server closed receiver %ld (%s) after %" PRIu64 " lines\n",
                (long)(r - load->receivers), n == 0 ? "end of file" : strerror(errno), r->received);
        epoll_ctl(load->epfd, EPOLL_CTL_DEL, r->fd, NULL);
        close(r->fd);
        r->fd = -1;
        load->disconnected++;
        return;
    }
    uint64_t now = bench_now_ns();
    size_t end = r->len + (size_t)n;
    size_t start = 0;
    char *lf;
    while ((lf = memchr(r->buf + start, '\n', end - start)) != NULL) {
        size_t line_end = (size_t)(lf - r->buf);
        if (!r->skipping)
            receiver_line(load, r, r->buf + start, line_end - start, now);
        r->skipping = false;
        start = line_end + 1;
    }
    r->len = end - start;
    memmove(r->buf, r->buf + start, r->len);
    if (r->len == sizeof r->buf - 1) {
        r->skipping = true; /* no chat line is this long: drop it */
        r->len = 0;
    }
}

/* Waits for up to timeout_ms and handles what happened. Returns the number of events handled,
 * or -1 on a fatal error (the sender's connection failed; the reason is on stderr). */
static int poll_once(struct chat_load *load, int timeout_ms)
{
    struct epoll_event events[CHAT_LOAD_EVENTS];
    int n = epoll_wait(load->epfd, events, CHAT_LOAD_EVENTS, timeout_ms);

    if (n < 0 && errno != EINTR) {
        perror("chat-load: epoll_wait");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (events[i].data.ptr == &load->sender) {
            if ((events[i].events & EPOLLOUT) && sender_flush(load) != 0) {
                fprintf(stderr, "chat-load: sender: write: %s\n", strerror(errno));
                return -1;
            }
            if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && sender_read(load) != 0)
                return -1;
        } else {
            receiver_read(load, events[i].data.ptr);
        }
    }
    return n < 0 ? 0 : n;
}

/* Connects the receivers, then the sender. Returns 0 or -1 (reason on stderr).
 *
 * A server accepts only so many connections ahead of its accept() calls (the listen backlog,
 * often 128); past that the kernel drops the handshake and the client retries a second later,
 * then three, then seven. So the receivers connect CHAT_LOAD_CONNECT_BATCH at a time, and
 * between batches this reads what arrived (welcomes, join notices) until the server has been
 * quiet for CHAT_LOAD_CONNECT_QUIET_MS: it has caught up. Without this, 5000 clients took
 * minutes to connect instead of seconds. */
static int connect_all(struct chat_load *load, uint16_t port)
{
    size_t bitmap_bytes = (size_t)(load->lines + 7) / 8;

    for (long i = 0; i < load->nreceivers; i++) {
        if (i > 0 && i % CHAT_LOAD_CONNECT_BATCH == 0) {
            int n;
            while ((n = poll_once(load, CHAT_LOAD_CONNECT_QUIET_MS)) > 0)
                ;
            if (n < 0)
                return -1;
        }
        struct chat_receiver *r = &load->receivers[i];
        r->seen = calloc(bitmap_bytes, 1);
        if (r->seen == NULL) {
            fprintf(stderr, "chat-load: out of memory\n");
            return -1;
        }
        r->fd = bench_dial(port, true);
        if (r->fd < 0 || watch(load, EPOLL_CTL_ADD, r->fd, EPOLLIN, r) != 0) {
            fprintf(stderr, "chat-load: receiver %ld: connect to 127.0.0.1:%u: %s\n", i, port,
                    strerror(errno));
            return -1;
        }
    }
    load->sender.fd = bench_dial(port, true);
    if (load->sender.fd < 0 ||
        watch(load, EPOLL_CTL_ADD, load->sender.fd, EPOLLIN, &load->sender) != 0) {
        fprintf(stderr, "chat-load: sender: connect to 127.0.0.1:%u: %s\n", port, strerror(errno));
        return -1;
    }
    return 0;
}

/* Sends a sync line every CHAT_LOAD_SYNC_EVERY_MS until one has reached every receiver.
 * Returns 0, or -1 if that takes longer than CHAT_LOAD_JOIN_TIMEOUT_MS. */
static int join_room(struct chat_load *load)
{
    uint64_t start = bench_now_ns();
    uint64_t deadline = start + CHAT_LOAD_JOIN_TIMEOUT_MS * BENCH_NS_PER_MS;
    uint64_t next_sync = start;

    for (;;) {
        long waiting = 0;
        for (long i = 0; i < load->nreceivers; i++)
            waiting += load->receivers[i].fd >= 0 && !load->receivers[i].in_room;
        if (waiting == 0)
            return load->disconnected == load->nreceivers ? -1 : 0;
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            fprintf(stderr,
                    "chat-load: after %d ms, %ld of %ld receivers still had not received "
                    "the sender's lines: is this a chat server on the line protocol?\n",
                    CHAT_LOAD_JOIN_TIMEOUT_MS, waiting, load->nreceivers);
            return -1;
        }
        if (now >= next_sync && sender_has_room(&load->sender)) {
            sender_append_sync(&load->sender);
            if (sender_flush(load) != 0) {
                fprintf(stderr, "chat-load: sender: write: %s\n", strerror(errno));
                return -1;
            }
            next_sync = now + CHAT_LOAD_SYNC_EVERY_MS * BENCH_NS_PER_MS;
        }
        int timeout = next_sync > now ? (int)((next_sync - now) / BENCH_NS_PER_MS) + 1 : 0;
        if (poll_once(load, timeout) < 0)
            return -1;
    }
}

/* True when every receiver still connected has every line. */
static bool all_delivered(const struct chat_load *load)
{
    for (long i = 0; i < load->nreceivers; i++) {
        const struct chat_receiver *r = &load->receivers[i];
        if (r->fd >= 0 && r->received < load->lines)
            return false;
    }
    return true;
}

/* Sends the msg lines and collects them until every receiver has all of them, nothing has
 * arrived for CHAT_LOAD_STALL_MS, or the drain deadline passes. Returns the start time. */
static uint64_t run_lines(struct chat_load *load)
{
    uint64_t start = bench_now_ns();
    uint64_t send_ns = load->rate > 0 ? load->lines * BENCH_NS_PER_SEC / (uint64_t)load->rate : 0;
    uint64_t deadline = start + send_ns + CHAT_LOAD_DRAIN_MS * BENCH_NS_PER_MS;

    load->last_delivery_ns = start;
    while (!all_delivered(load)) {
        if (!load->sender.want_write && sender_send_due(load, start) != 0) {
            fprintf(stderr, "chat-load: sender: write: %s\n", strerror(errno));
            break;
        }
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            fprintf(stderr, "chat-load: stopped at the time limit\n");
            break;
        }
        if (now - load->last_delivery_ns >= CHAT_LOAD_STALL_MS * BENCH_NS_PER_MS) {
            fprintf(stderr, "chat-load: nothing arrived for %d ms: stopped\n", CHAT_LOAD_STALL_MS);
            break;
        }
        int timeout = CHAT_LOAD_TICK_MS;
        if (load->rate > 0 && load->sender.next_seq < load->lines) {
            /* Wake up for the next scheduled line (rounded up: never spin). */
            uint64_t due =
                start + (uint64_t)((double)load->sender.next_seq * 1e9 / (double)load->rate);
            uint64_t wait_ms = due > now ? (due - now + BENCH_NS_PER_MS - 1) / BENCH_NS_PER_MS : 0;
            if (wait_ms < (uint64_t)timeout)
                timeout = (int)wait_ms;
        }
        if (poll_once(load, timeout) < 0)
            break;
    }
    return start;
}

static void report(const struct chat_load *load, uint64_t start)
{
    uint64_t lost = 0, duplicates = 0, out_of_order = 0;
    long welcomed = 0;

    for (long i = 0; i < load->nreceivers; i++) {
        const struct chat_receiver *r = &load->receivers[i];
        welcomed += r->welcomed;
        lost += load->lines - r->received;
        duplicates += r->duplicates;
        out_of_order += r->out_of_order;
    }
    uint64_t span = load->last_delivery_ns > start ? load->last_delivery_ns - start : 1;
    double seconds = (double)span / (double)BENCH_NS_PER_SEC;
    printf("chat-load: receivers=%ld lines=%" PRIu64 " rate=%ld sent=%" PRIu64 " seconds=%.3f "
           "delivered=%" PRIu64 " delivered_per_s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f "
           "lost=%" PRIu64 " out_of_order=%" PRIu64 " duplicates=%" PRIu64 " disconnected=%ld "
           "welcomed=%ld\n",
           load->nreceivers, load->lines, load->rate, load->sender.next_seq, seconds,
           load->delivered, (double)load->delivered / seconds,
           (double)lat_hist_percentile(&load->hist, 0.50) / 1e3,
           (double)lat_hist_percentile(&load->hist, 0.99) / 1e3,
           (double)lat_hist_percentile(&load->hist, 1.0) / 1e3, lost, out_of_order, duplicates,
           load->disconnected, welcomed);
    if (load->server_pid > 0) {
        long grown = load->rss_joined_kib - load->rss_before_kib;
        printf("chat-load: rss_before_kib=%ld rss_joined_kib=%ld bytes_per_client=%.0f\n",
               load->rss_before_kib, load->rss_joined_kib,
               (double)grown * 1024.0 / (double)(load->nreceivers + 1));
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: chat-load PORT RECEIVERS LINES RATE [PID]\n"
            "  RECEIVERS clients and one sender join the chat server on 127.0.0.1:PORT; the\n"
            "  sender writes LINES lines \"msg SEQ TIMESTAMP_NS\" at RATE lines/s (0: as fast\n"
            "  as the server takes them). Prints delivered lines/s, p50/p99 fan-out latency,\n"
            "  and lines lost or out of order (exit status 1 if any). With PID, also the\n"
            "  server's resident memory per connected client.\n");
}

int main(int argc, char **argv)
{
    struct chat_load *load = NULL;
    long nreceivers, lines, rate, pid = 0;
    uint16_t port;
    int status = 1;

    if (argc != 5 && argc != 6) {
        usage();
        return 2;
    }
    if (bench_parse_port("chat-load", argv[1], &port) != 0 ||
        bench_parse_long("chat-load", "RECEIVERS", argv[2], 1, CHAT_LOAD_MAX_RECEIVERS,
                         &nreceivers) != 0 ||
        bench_parse_long("chat-load", "LINES", argv[3], 1, CHAT_LOAD_MAX_LINES, &lines) != 0 ||
        bench_parse_long("chat-load", "RATE", argv[4], 0, CHAT_LOAD_MAX_RATE, &rate) != 0 ||
        (argc == 6 && bench_parse_long("chat-load", "PID", argv[5], 1, INT32_MAX, &pid) != 0))
        return 2;
    if (nreceivers * lines > CHAT_LOAD_MAX_DELIVERIES) {
        fprintf(stderr, "chat-load: RECEIVERS x LINES must stay within %ld\n",
                CHAT_LOAD_MAX_DELIVERIES);
        return 2;
    }
    if (bench_raise_fd_limit(nreceivers + 16) < nreceivers + 16) {
        fprintf(stderr, "chat-load: cannot open %ld sockets (see ulimit -n)\n", nreceivers + 1);
        return 1;
    }

    load = calloc(1, sizeof *load);
    if (load == NULL)
        goto out_of_memory;
    load->epfd = -1;
    load->sender.fd = -1;
    load->lines = (uint64_t)lines;
    load->rate = rate;
    load->nreceivers = nreceivers;
    load->receivers = calloc((size_t)nreceivers, sizeof *load->receivers);
    if (load->receivers == NULL)
        goto out_of_memory;
    for (long i = 0; i < nreceivers; i++)
        load->receivers[i].fd = -1;
    load->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (load->epfd < 0) {
        perror("chat-load: epoll_create1");
        goto done;
    }

    load->server_pid = pid;
    if (pid > 0 && (load->rss_before_kib = bench_rss_kib(pid)) < 0) {
        fprintf(stderr, "chat-load: cannot read the memory of process %ld\n", pid);
        goto done;
    }
    if (connect_all(load, port) != 0 || join_room(load) != 0)
        goto done;
    if (pid > 0)
        load->rss_joined_kib = bench_rss_kib(pid);
    uint64_t start = run_lines(load);
    report(load, start);
    bool complete = load->disconnected == 0 && !load->sender_closed && all_delivered(load);
    bool clean = true;
    for (long i = 0; i < nreceivers; i++)
        clean = clean && load->receivers[i].duplicates == 0 && load->receivers[i].out_of_order == 0;
    status = complete && clean ? 0 : 1;
    goto done;

out_of_memory:
    fprintf(stderr, "chat-load: out of memory\n");
done:
    if (load != NULL) {
        if (load->receivers != NULL) {
            for (long i = 0; i < nreceivers; i++) {
                if (load->receivers[i].fd >= 0)
                    close(load->receivers[i].fd);
                free(load->receivers[i].seen);
            }
        }
        if (load->sender.fd >= 0)
            close(load->sender.fd);
        if (load->epfd >= 0)
            close(load->epfd);
        free(load->receivers);
    }
    free(load);
    return status;
}
