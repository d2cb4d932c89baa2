/*
 * fuzz_chat_framing.c - fuzzes exercise 02's framing differentially: how the bytes are cut
 * into reads must never change what the chat server does with them.
 *
 * Each input runs twice against a fresh server on loopback, with two clients: A sends the
 * input (after an 8-byte seed) and then half-closes; B only listens. The first run sends it
 * in one write, the second in pieces of random sizes (from the seed), with the event loop
 * turning in between. Everything A and B receive, up to the server's shutdown, must be the
 * same both times. The server runs in this thread: the harness turns the loop itself.
 * Run: tests/fuzz/run-fuzz chat-framing (see README.md here).
 */
#include "fuzz.h"

#include "chat_server.h"

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

#define FRAMING_INPUT_MAX (64 * 1024) /* bytes of one input sent; the rest is ignored */
#define FRAMING_DEADLINE_MS 10000     /* one run taking longer than this is a hang */

struct peer {
    int fd;
    bool eof;
    struct evbuffer *got;
};

/* Reads what has arrived; notes the end of the stream. */
static void drain(struct peer *p)
{
    while (!p->eof) {
        int n = evbuffer_read(p->got, p->fd, 65536);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            p->eof = true; /* a reset counts as the end, too */
        if (n <= 0)
            return;
    }
}

/* One turn: the server's loop once without waiting, then both clients read. */
static void turn(struct event_base *base, struct peer *a, struct peer *b, uint64_t deadline)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
    drain(a);
    drain(b);
    if (fuzz_now_ms() > deadline)
        fuzz_fail("the chat server stopped making progress (more than %d ms)", FRAMING_DEADLINE_MS);
}

/* Turns until `what` bytes are in p's buffer, or p's stream ended. */
static void wait_for_line(struct event_base *base, struct peer *a, struct peer *b, struct peer *p,
                          const char *what, uint64_t deadline)
{
    for (;;) {
        struct evbuffer_ptr at = evbuffer_search(p->got, what, strlen(what), NULL);
        if (at.pos >= 0 || p->eof)
            return;
        turn(base, a, b, deadline);
    }
}

/* One run: sends payload from A in pieces (seed 0: one piece). Fills a_got and b_got. */
static void run(const uint8_t *payload, size_t len, uint64_t seed, struct evbuffer *a_got,
                struct evbuffer *b_got)
{
    /* Every run reuses the port the first one got: thousands of runs, each with a new
     * ephemeral port, would run out of ports (the closed connections linger in TIME_WAIT). */
    static uint16_t port;
    struct event_base *base = event_base_new();
    struct chat_server_config cfg = {.port = port, .idle_timeout_ms = 0};
    struct chat_server *srv = base != NULL ? chat_server_new(base, &cfg) : NULL;
    uint64_t deadline = fuzz_now_ms() + FRAMING_DEADLINE_MS;

    if (srv == NULL)
        fuzz_fail("cannot start the chat server");
    port = chat_server_port(srv);
    struct peer a = {.fd = fuzz_dial(chat_server_port(srv)), .got = a_got};
    wait_for_line(base, &a, &a, &a, "* end of history\n", deadline);
    struct peer b = {.fd = fuzz_dial(chat_server_port(srv)), .got = b_got};
    wait_for_line(base, &a, &b, &b, "* end of history\n", deadline);
    wait_for_line(base, &a, &b, &a, "* guest2 joined\n", deadline);

    size_t sent = 0;
    while (sent < len && !a.eof) {
        size_t piece = len - sent;
        if (seed != 0) {
            uint64_t r = fuzz_next(&seed);
            piece = (r & 3) == 0 ? 1 + (r >> 8) % 2048 : 1 + (r >> 8) % 16;
            piece = piece < len - sent ? piece : len - sent;
        }
        ssize_t n = send(a.fd, payload + sent, piece, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            break; /* the server closed A (a line too long, /quit): the rest is not read */
        turn(base, &a, &b, deadline);
    }
    shutdown(a.fd, SHUT_WR);
    while (!a.eof)
        turn(base, &a, &b, deadline);
    /* A is gone; B has been told. A shutdown now ends B's stream at a well-defined point. */
    chat_server_shutdown(srv);
    while (!b.eof)
        turn(base, &a, &b, deadline);
    close(a.fd);
    close(b.fd);
    event_base_loop(base, EVLOOP_NONBLOCK);
    chat_server_free(srv);
    event_base_free(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;

    if (!ready) {
        signal(SIGPIPE, SIG_IGN);
        ready = true;
    }
    if (size >= 8) {
        for (int i = 0; i < 8; i++)
            seed = seed * 131 + data[i];
        data += 8;
        size -= 8;
    }
    if (seed == 0)
        seed = 1;
    if (size > FRAMING_INPUT_MAX)
        size = FRAMING_INPUT_MAX;

    struct evbuffer *a1 = evbuffer_new(), *b1 = evbuffer_new();
    struct evbuffer *a2 = evbuffer_new(), *b2 = evbuffer_new();
    if (a1 == NULL || b1 == NULL || a2 == NULL || b2 == NULL)
        fuzz_fail("out of memory");
    run(data, size, 0, a1, b1);
    run(data, size, seed, a2, b2);

    size_t la1 = evbuffer_get_length(a1), la2 = evbuffer_get_length(a2);
    size_t lb1 = evbuffer_get_length(b1), lb2 = evbuffer_get_length(b2);
    if (la1 != la2 || memcmp(evbuffer_pullup(a1, -1), evbuffer_pullup(a2, -1), la1) != 0)
        fuzz_fail("the sender got %zu bytes when its input came in one write, %zu when it came "
                  "in pieces",
                  la1, la2);
    if (lb1 != lb2 || memcmp(evbuffer_pullup(b1, -1), evbuffer_pullup(b2, -1), lb1) != 0)
        fuzz_fail("the other client got %zu bytes when the input came in one write, %zu when it "
                  "came in pieces",
                  lb1, lb2);
    evbuffer_free(a1);
    evbuffer_free(b1);
    evbuffer_free(a2);
    evbuffer_free(b2);
    return 0;
}
