/*
 * fuzz_util.c - the helpers of fuzz.h.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

/* Unicode table 3-7: each row gives the allowed range of each byte of one sequence shape. */
int fuzz_utf8_ok(const uint8_t *s, size_t len)
{
    static const struct {
        uint8_t lo[4], hi[4];
        int n;
    } rows[] = {
        {{0x00}, {0x7F}, 1},
        {{0xC2, 0x80}, {0xDF, 0xBF}, 2},
        {{0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}, 3},
        {{0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}, 3},
        {{0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}, 3},
        {{0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}, 3},
        {{0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}, 4},
        {{0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}, 4},
        {{0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}, 4},
    };
    size_t i = 0;

    while (i < len) {
        int matched = 0;
        for (size_t r = 0; r < sizeof rows / sizeof rows[0] && !matched; r++) {
            int n = rows[r].n;
            if ((size_t)n > len - i)
                continue;
            int ok = 1;
            for (int k = 0; k < n && ok; k++)
                ok = s[i + k] >= rows[r].lo[k] && s[i + k] <= rows[r].hi[k];
            if (ok) {
                i += (size_t)n;
                matched = 1;
            }
        }
        if (!matched)
            return 0;
    }
    return 1;
}

uint64_t fuzz_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int fuzz_dial(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    int err = 0;
    socklen_t len = sizeof err;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fuzz_fail("cannot make a socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        if (errno != EINPROGRESS && errno != EINTR)
            fuzz_fail("cannot connect to port %u: %s", port, strerror(errno));
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r;
        while ((r = poll(&p, 1, 10000)) < 0 && errno == EINTR)
            ;
        if (r != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
            fuzz_fail("cannot connect to port %u: %s", port, r == 1 ? strerror(err) : "timed out");
    }
    return fd;
}
