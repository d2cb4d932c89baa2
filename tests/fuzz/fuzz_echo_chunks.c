/*
 * fuzz_echo_chunks.c - fuzzes exercise 01's echo server differentially: whatever the input
 * and however it is cut into writes, what comes back is exactly what went in.
 *
 * The reference echo server (a library, linked as it is) runs in this thread on loopback.
 * For each input the first 8 bytes seed the chunk sizes; the rest is sent in pieces from 1 byte
 * to 64 KiB, with the loop turning and the echo being read in between, then the client
 * half-closes and reads until the server closes. The bytes back must equal the bytes sent.
 * Run: tests/fuzz/run-fuzz echo-chunks (see README.md here).
 */
#include "fuzz.h"

#include "echo_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_FUZZ_DEADLINE_MS 10000 /* one input taking longer than this is a hang */

static struct event_base *base;
static struct echo_server *server;

static void start_server(void)
{
    struct echo_server_config cfg = {.port = 0, .idle_timeout_ms = 0};

    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    server = base != NULL ? echo_server_new(base, &cfg) : NULL;
    if (server == NULL)
        fuzz_fail("cannot start the echo server");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0x2545F4914F6CDD1DULL;
    uint64_t deadline = fuzz_now_ms() + ECHO_FUZZ_DEADLINE_MS;

    if (server == NULL)
        start_server();
    for (size_t i = 0; i < 8 && i < size; i++)
        seed = seed * 131 + data[i];
    if (size >= 8) {
        data += 8;
        size -= 8;
    }
    seed = seed == 0 ? 1 : seed;

    int fd = fuzz_dial(echo_server_port(server));

    struct evbuffer *back = evbuffer_new();
    size_t sent = 0;
    bool half_closed = false, eof = false;
    while (!eof) {
        if (sent < size) {
            uint64_t r = fuzz_next(&seed);
            size_t piece = (r & 7) == 0 ? 1 + (r >> 8) % 65536 : 1 + (r >> 8) % 64;
            piece = piece < size - sent ? piece : size - sent;
            ssize_t n = send(fd, data + sent, piece, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                fuzz_fail("send failed after %zu of %zu bytes: %s", sent, size, strerror(errno));
        } else if (!half_closed) {
            shutdown(fd, SHUT_WR);
            half_closed = true;
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
        for (;;) {
            int n = evbuffer_read(back, fd, 65536);
            if (n == 0)
                eof = true;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                fuzz_fail("the connection failed after %zu bytes back: %s",
                          evbuffer_get_length(back), strerror(errno));
            if (n <= 0)
                break;
        }
        if (fuzz_now_ms() > deadline)
            fuzz_fail("no end after %d ms: sent %zu of %zu, %zu back", ECHO_FUZZ_DEADLINE_MS, sent,
                      size, evbuffer_get_length(back));
    }
    close(fd);
    event_base_loop(base, EVLOOP_NONBLOCK);

    size_t got = evbuffer_get_length(back);
    if (got != size || (size > 0 && memcmp(evbuffer_pullup(back, -1), data, size) != 0)) {
        size_t at = 0;
        const uint8_t *p = evbuffer_pullup(back, -1);
        while (at < got && at < size && p[at] == data[at])
            at++;
        fuzz_fail("sent %zu bytes, got %zu back, first difference at byte %zu", size, got, at);
    }
    evbuffer_free(back);
    return 0;
}
