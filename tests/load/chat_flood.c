/*
 * chat_flood.c - one chat client sends numbered lines flat out while others listen: fast
 * readers that read everything, and slow readers that never read. It checks that the fast
 * readers get every line in order, that the slow ones are dropped rather than holding anyone
 * up, and how the server's memory moves.
 *
 *     chat-flood --port P [--fast F] [--slow K] [--seconds S] [--until-closed] [--pid PID]
 *                [--record FILE] [--max-rss-mb MB]
 *
 * --until-closed keeps sending until the server closes the connections (a shutdown or a
 * crash under load) instead of for S seconds, and then does not count lines as lost: the
 * server may stop before broadcasting what was last sent. --record writes the number of every
 * line the first fast reader got, in order, to FILE (chat-durable checks them against the
 * history file). Exit status 0 when all went well, 1 if not, 2 for a bad command line.
 */
#include "load_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLOOD_MAX_READERS 256
#define FLOOD_DRAIN_MS 5000    /* after the last line is sent, fast readers get this long */
#define FLOOD_SLOW_RCVBUF 4096 /* a slow reader's receive buffer: it fills at once */

struct reader {
    int fd;
    char buf[8192];
    size_t len;    /* bytes of an unfinished line in buf */
    long got;      /* the sender's lines received */
    long last;     /* the number of the last one */
    long disorder; /* lines that came out of order */
    int closed;
};

static char sender_nick[40]; /* "guestN: " as the others see the sender's lines */

/* Reads what arrived for r and counts the sender's lines. Returns 0, or -1 once closed. */
static int reader_read(struct reader *r, FILE *record)
{
    for (;;) {
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            r->closed = 1;
            return -1;
        }
        if (n < 0)
            return 0;
        r->len += (size_t)n;
        char *line = r->buf, *nl;
        while ((nl = memchr(line, '\n', r->len - (size_t)(line - r->buf))) != NULL) {
            *nl = '\0';
            size_t nick_len = strlen(sender_nick);
            if (strncmp(line, sender_nick, nick_len) == 0 && line[nick_len] == 'm') {
                long num = strtol(line + nick_len + 1, NULL, 10);
                r->disorder += num != r->last + 1;
                r->last = num;
                r->got++;
                if (record != NULL)
                    fprintf(record, "%ld\n", num);
            }
            line = nl + 1;
        }
        r->len -= (size_t)(line - r->buf);
        memmove(r->buf, line, r->len);
        if (r->len == sizeof r->buf)
            r->len = 0; /* a line longer than the buffer: not ours */
    }
}

/* Connects and reads the welcome; returns the socket and the nick in `nick`. */
static int join(uint16_t port, char *nick, size_t nicksz, int rcvbuf)
{
    char buf[65536];
    int fd = load_dial(port, 5000);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (load_read_until(fd, buf, sizeof buf, "* end of history\n", 5000) <= 0 ||
        sscanf(buf, "* welcome %31s", nick) != 1) {
        close(fd);
        return -1;
    }
    (void)nicksz;
    return fd;
}

int main(int argc, char **argv)
{
    long port = 0, fast = 4, slow = 0, seconds = 3, pid = 0, max_rss_mb = 0;
    int until_closed = 0;
    const char *record_path = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--until-closed") == 0) {
            until_closed = 1;
            continue;
        }
        if (v == NULL)
            goto usage;
        i++;
        if (strcmp(a, "--port") == 0)
            port = load_parse_long(a, v, 1, 65535);
        else if (strcmp(a, "--fast") == 0)
            fast = load_parse_long(a, v, 1, FLOOD_MAX_READERS);
        else if (strcmp(a, "--slow") == 0)
            slow = load_parse_long(a, v, 0, FLOOD_MAX_READERS);
        else if (strcmp(a, "--seconds") == 0)
            seconds = load_parse_long(a, v, 1, 3600);
        else if (strcmp(a, "--pid") == 0)
            pid = load_parse_long(a, v, 1, 1 << 30);
        else if (strcmp(a, "--max-rss-mb") == 0)
            max_rss_mb = load_parse_long(a, v, 1, 1 << 20);
        else if (strcmp(a, "--record") == 0)
            record_path = v;
        else
            goto usage;
    }
    if (port == 0)
        goto usage;

    static struct reader fast_r[FLOOD_MAX_READERS], slow_r[FLOOD_MAX_READERS];
    char nick[32];
    FILE *record = record_path != NULL ? fopen(record_path, "w") : NULL;
    long rss_before = pid > 0 ? load_rss_kb((pid_t)pid) : -1, rss_max = rss_before;
    int sender = join((uint16_t)port, nick, sizeof nick, 0);
    if (sender < 0 || (record_path != NULL && record == NULL)) {
        fprintf(stderr, "chat-flood: cannot join the chat on port %ld\n", port);
        return 1;
    }
    snprintf(sender_nick, sizeof sender_nick, "%s: ", nick);
    for (long i = 0; i < fast; i++)
        if ((fast_r[i].fd = join((uint16_t)port, nick, sizeof nick, 0)) < 0)
            return 1;
    for (long i = 0; i < slow; i++)
        if ((slow_r[i].fd = join((uint16_t)port, nick, sizeof nick, FLOOD_SLOW_RCVBUF)) < 0)
            return 1;

    /* Flood: the sender writes whole lines as fast as the kernel takes them. */
    char line[64], pending[64];
    size_t pending_len = 0, pending_off = 0;
    long sent = 0, next = 1;
    int sender_closed = 0;
    uint64_t start = load_now_ms(), end = start + (uint64_t)seconds * 1000, next_rss = start;
    for (;;) {
        uint64_t now = load_now_ms();
        int sending = now < end && !sender_closed; /* --seconds caps --until-closed too */
        if (!sending) {
            int done = 1;
            for (long i = 0; i < fast; i++)
                done &= fast_r[i].closed || (!until_closed && fast_r[i].got >= sent);
            if (done || now > end + FLOOD_DRAIN_MS)
                break;
        }
        while (sending && !sender_closed) {
            if (pending_off == pending_len) {
                int n = snprintf(line, sizeof line, "m%ld\n", next);
                memcpy(pending, line, (size_t)n);
                pending_len = (size_t)n;
                pending_off = 0;
            }
            ssize_t n = send(sender, pending + pending_off, pending_len - pending_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                sender_closed = errno != EAGAIN && errno != EINTR;
                break;
            }
            pending_off += (size_t)n;
            if (pending_off == pending_len) {
                sent++;
                next++;
            }
            if (sent % 256 == 0)
                break; /* give the readers a turn */
        }
        struct pollfd pfd[FLOOD_MAX_READERS + 1];
        int np = 0;
        for (long i = 0; i < fast; i++)
            if (!fast_r[i].closed)
                pfd[np++] = (struct pollfd){.fd = fast_r[i].fd, .events = POLLIN};
        pfd[np++] = (struct pollfd){.fd = sender, .events = POLLIN};
        poll(pfd, (nfds_t)np, sending ? 0 : 20);
        for (long i = 0; i < fast; i++)
            if (!fast_r[i].closed)
                reader_read(&fast_r[i], i == 0 ? record : NULL);
        char sink[4096];
        ssize_t n = recv(sender, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            sender_closed = 1;
        if (pid > 0 && now >= next_rss) {
            long rss = load_rss_kb((pid_t)pid);
            rss_max = rss > rss_max ? rss : rss_max;
            next_rss = now + 100;
        }
    }
    double took = (double)(load_now_ms() - start) / 1000.0;

    long slow_dropped = 0;
    for (long i = 0; i < slow; i++) {
        char sink[65536];
        ssize_t n;
        while ((n = recv(slow_r[i].fd, sink, sizeof sink, MSG_DONTWAIT)) > 0)
            ;
        slow_dropped += n == 0 || (n < 0 && errno != EAGAIN);
        close(slow_r[i].fd);
    }
    long min_got = sent, disorder = 0;
    for (long i = 0; i < fast; i++) {
        min_got = fast_r[i].got < min_got ? fast_r[i].got : min_got;
        disorder += fast_r[i].disorder;
        close(fast_r[i].fd);
    }
    close(sender);
    if (record != NULL)
        fclose(record);
    long rss_after = pid > 0 ? load_rss_kb((pid_t)pid) : -1;

    long lost = until_closed ? 0 : sent - min_got;
    printf("chat-flood: sent %ld lines in %.1f s (%.0f/s); each of %ld fast readers got at least "
           "%ld, %ld lost, %ld out of order\n",
           sent, took, (double)sent / took, fast, min_got, lost, disorder);
    printf("chat-flood: %ld of %ld slow readers were dropped by the server\n", slow_dropped, slow);
    if (pid > 0)
        printf("chat-flood: server RSS %ld KiB before, %ld KiB at most, %ld KiB after\n",
               rss_before, rss_max, rss_after);
    int ok = lost == 0 && disorder == 0 && slow_dropped == slow;
    if (max_rss_mb > 0 && rss_max - rss_before > max_rss_mb * 1024) {
        printf("chat-flood: FAIL: the server grew by %ld KiB (bound %ld MiB)\n",
               rss_max - rss_before, max_rss_mb);
        ok = 0;
    }
    printf("chat-flood: %s\n", ok ? "ok" : "FAIL");
    return ok ? 0 : 1;

usage:
    fprintf(stderr, "usage: chat-flood --port P [--fast F] [--slow K] [--seconds S] "
                    "[--until-closed] [--pid PID] [--record FILE] [--max-rss-mb MB]\n");
    return 2;
}
