/*
 * load_util.c - the helpers behind load_util.h.
 */
#include "load_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t load_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int load_parse_kind(const char *text)
{
    if (strcmp(text, "echo") == 0)
        return LOAD_ECHO;
    if (strcmp(text, "chat") == 0)
        return LOAD_CHAT;
    if (strcmp(text, "http") == 0)
        return LOAD_HTTP;
    return -1;
}

long load_parse_long(const char *option, const char *text, long min, long max)
{
    char *end;

    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s wants a number from %ld to %ld, not '%s'\n", option, min, max, text);
        exit(2);
    }
    return v;
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

int load_dial_nb(uint16_t port)
{
    struct sockaddr_in sin = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 && errno != EINPROGRESS) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int load_dial(uint16_t port, int timeout_ms)
{
    struct sockaddr_in sin = loopback(port);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

long load_read_until(int fd, char *buf, size_t cap, const char *until, int timeout_ms)
{
    uint64_t deadline = load_now_ms() + (uint64_t)timeout_ms;
    size_t got = 0;

    buf[0] = '\0';
    while (got + 1 < cap && (until == NULL || strstr(buf, until) == NULL)) {
        uint64_t now = load_now_ms();
        if (now >= deadline)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0 && got == 0)
            return -1;
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return (long)got;
}

long load_probe(enum load_kind kind, uint16_t port)
{
    static const char http_req[] = "GET /items?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   "Connection: close\r\n\r\n";
    char buf[8192];
    uint64_t start = load_now_ms();
    int fd = load_dial(port, LOAD_PROBE_TIMEOUT_MS);
    long ok = 0;

    if (fd < 0)
        return -1;
    switch (kind) {
    case LOAD_ECHO:
        ok = send(fd, "probe\n", 6, MSG_NOSIGNAL) == 6 &&
             load_read_until(fd, buf, sizeof buf, "probe\n", LOAD_PROBE_TIMEOUT_MS) >= 6 &&
             strstr(buf, "probe\n") != NULL;
        break;
    case LOAD_CHAT:
        ok =
            load_read_until(fd, buf, sizeof buf, "* end of history\n", LOAD_PROBE_TIMEOUT_MS) > 0 &&
            strstr(buf, "* end of history\n") != NULL;
        break;
    case LOAD_HTTP:
        ok =
            send(fd, http_req, sizeof http_req - 1, MSG_NOSIGNAL) == (ssize_t)sizeof http_req - 1 &&
            load_read_until(fd, buf, sizeof buf, NULL, LOAD_PROBE_TIMEOUT_MS) > 12 &&
            strncmp(buf, "HTTP/1.1 200", 12) == 0;
        break;
    }
    close(fd);
    return ok ? (long)(load_now_ms() - start) : -1;
}

long load_raise_fd_limit(long want)
{
    struct rlimit r;

    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return -1;
    if (r.rlim_max != RLIM_INFINITY && (long)r.rlim_max < want) {
        struct rlimit more = {(rlim_t)want, (rlim_t)want};
        if (setrlimit(RLIMIT_NOFILE, &more) == 0) /* allowed for root (CAP_SYS_RESOURCE) */
            return want;
    }
    r.rlim_cur =
        r.rlim_max == RLIM_INFINITY || (long)r.rlim_max >= want ? (rlim_t)want : r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    return (long)r.rlim_cur;
}

long load_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

long load_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long utime, stime;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    /* After the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime (fields 3..15 of proc(5)). */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}
