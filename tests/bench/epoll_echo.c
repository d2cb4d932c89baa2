/*
 * epoll_echo.c - the floor for the echo benchmarks: the least an echo server can do.
 *
 *     epoll-echo [--port P]
 *
 * One thread, one epoll set, no library and no per-connection state in user space: a readable
 * socket is read once into one shared buffer and written straight back; only what the kernel
 * refuses waits (in a small per-connection tail, allocated only then). Nothing a real server
 * needs is here (no limits, no timeouts, no logging, no graceful stop beyond SIGTERM), so
 * what the course's echo server costs on top of this is the price of those features and of
 * libevent. Prints "listening on 127.0.0.1:PORT" like the course's servers. Linux only.
 *
 * Try it: `epoll-echo --port 7000 & echo-load 7000 50 64 3`.
 */
#define _GNU_SOURCE /* accept4, SOCK_NONBLOCK: Linux */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLOOR_READ_BYTES (64 * 1024) /* one read at most: the course's server reads as much */
#define FLOOR_EVENTS 256             /* epoll events handled per wake-up */
#define FLOOR_BACKLOG 1024

/* Bytes the kernel refused, waiting for EPOLLOUT. Only a connection with a refused write has
 * one, in tails[fd] (a table indexed by descriptor: fine for a measuring tool, not a model). */
struct floor_tail {
    size_t off, len;
    char bytes[];
};

static struct floor_tail **tails; /* one slot per possible descriptor, NULL mostly */

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(tails[fd]);
    tails[fd] = NULL;
}

/* Reads once and echoes; keeps what the kernel does not take and waits for EPOLLOUT. While a
 * tail waits, the connection does not read (backpressure). */
static void on_readable(int ep, int fd, char *buf)
{
    ssize_t n = read(fd, buf, FLOOR_READ_BYTES);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(ep, fd);
        return;
    }
    if (n < 0)
        return;
    ssize_t w = write(fd, buf, (size_t)n);
    if (w < 0 && errno != EAGAIN) {
        drop(ep, fd);
        return;
    }
    size_t sent = w > 0 ? (size_t)w : 0;
    if (sent == (size_t)n)
        return;
    struct floor_tail *tail = malloc(sizeof *tail + (size_t)n - sent);
    if (tail == NULL) {
        drop(ep, fd);
        return;
    }
    tails[fd] = tail;
    tail->off = 0;
    tail->len = (size_t)n - sent;
    memcpy(tail->bytes, buf + sent, tail->len);
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0)
        drop(ep, fd);
}

/* Writes the tail; once it is gone, reads again. */
static void on_writable(int ep, int fd)
{
    struct floor_tail *tail = tails[fd];
    ssize_t w = write(fd, tail->bytes + tail->off, tail->len - tail->off);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR)
            drop(ep, fd);
        return;
    }
    tail->off += (size_t)w;
    if (tail->off < tail->len)
        return;
    free(tail);
    tails[fd] = NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0)
        drop(ep, fd);
}

int main(int argc, char **argv)
{
    long port = 0;
    if (argc == 3 && strcmp(argv[1], "--port") == 0) {
        char *end;
        port = strtol(argv[2], &end, 10);
        if (*end != '\0' || end == argv[2] || port < 0 || port > 65535)
            argc = 0;
    }
    if (argc != 1 && argc != 3) {
        fprintf(stderr, "usage: epoll-echo [--port P]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(lfd, FLOOR_BACKLOG) != 0 || getsockname(lfd, (struct sockaddr *)&addr, &len) != 0) {
        perror("epoll-echo");
        return 1;
    }
    struct rlimit lim;
    int max_fds =
        getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 1000000 ? (int)lim.rlim_cur : 1000000;
    tails = calloc((size_t)max_fds, sizeof *tails);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (tails == NULL || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        perror("epoll-echo");
        return 1;
    }
    printf("listening on 127.0.0.1:%u\n", ntohs(addr.sin_port));
    fflush(stdout);

    static char buf[FLOOR_READ_BYTES];
    struct epoll_event events[FLOOR_EVENTS];
    while (!stop) {
        int n = epoll_wait(ep, events, FLOOR_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (fd >= max_fds || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                        close(fd);
                }
            } else if (tails[fd] != NULL) {
                on_writable(ep, fd);
            } else {
                on_readable(ep, fd, buf);
            }
        }
    }
    /* Connections still open are closed by exit; a tail still waiting is lost with them. */
    for (int fd = 0; fd < max_fds; fd++)
        free(tails[fd]);
    free(tails);
    close(ep);
    close(lfd);
    return 0;
}
