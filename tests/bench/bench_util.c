/*
 * bench_util.c - the helpers behind bench_util.h.
 */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_STATUS_LINE 256 /* bytes of one line of /proc/PID/status, with room */

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * BENCH_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

int bench_dial(uint16_t port, bool nonblocking)
{
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        goto error;
    /* Every message is complete when written: waiting for more bytes (Nagle) would only add
     * delay to what we measure. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        goto error;
    if (nonblocking) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
            goto error;
    }
    return fd;

error:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int bench_parse_long(const char *prog, const char *name, const char *text, long min, long max,
                     long *out)
{
    char *end;

    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        fprintf(stderr, "%s: %s wants a number from %ld to %ld, not '%s'\n", prog, name, min, max,
                text);
        return -1;
    }
    *out = value;
    return 0;
}

int bench_parse_port(const char *prog, const char *text, uint16_t *out)
{
    long value;

    if (bench_parse_long(prog, "PORT", text, 1, 65535, &value) != 0)
        return -1;
    *out = (uint16_t)value;
    return 0;
}

long bench_raise_fd_limit(long want)
{
    struct rlimit lim;

    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return -1;
    rlim_t target = (rlim_t)want;
    if (lim.rlim_max != RLIM_INFINITY && target > lim.rlim_max)
        target = lim.rlim_max;
    if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= target)
        return lim.rlim_cur == RLIM_INFINITY ? want : (long)lim.rlim_cur;
    lim.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return -1;
    return (long)target;
}

long bench_rss_kib(long pid)
{
    char path[64], line[BENCH_STATUS_LINE];
    long kib = -1;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}
