/*
 * mocks.c - testing code with asynchronous dependencies, without the dependencies.
 *
 * Three seams, each shown on the greeter (greeter.h): the frame decoder tested on a plain
 * evbuffer (no socket, no loop); the user lookup replaced by a fake behind a table of function
 * pointers, which answers only when the test says so; and the log replaced at link time
 * (greet_log_fake.c). The client is the other end of a socketpair, and the test turns the loop.
 * Try it: ./build/lectures/07-testing-async/mocks --demo
 */
#include "frame.h"
#include "greet_log_fake.h"
#include "greeter.h"
#include "users.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_WAIT_MS 2000 /* how long the test's client waits for an answer */

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED: %s (line %d)\n", #cond, __LINE__);                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- the fake user source: it records each call, and answers when the test says ---------- */

struct fake_users {
    int fetches, cancels;
    long next_handle;
    int has_pending; /* the greeter allows one lookup at a time, so one slot is enough */
    int pending_id;
    long pending_handle;
    users_done_fn done;
    void *done_arg;
};

static long fake_fetch(void *self, int id, users_done_fn done, void *arg)
{
    struct fake_users *f = self;
    f->fetches++;
    f->has_pending = 1;
    f->pending_id = id;
    f->pending_handle = f->next_handle++;
    f->done = done;
    f->done_arg = arg;
    return f->pending_handle;
}

static void fake_cancel(void *self, long handle)
{
    struct fake_users *f = self;
    if (f->has_pending && handle == f->pending_handle) {
        f->has_pending = 0;
        f->cancels++;
    }
}

/* The test decides: the lookup succeeds with `name`, or fails with `error`. */
static void fake_complete(struct fake_users *f, const char *name, const char *error)
{
    EXPECT(f->has_pending);
    f->has_pending = 0;
    f->done(name, error, f->done_arg);
}

/* ---- the test's client: the other end of the socketpair --------------------------------- */

static void peer_send(int fd, const char *text)
{
    struct evbuffer *out = evbuffer_new();
    EXPECT(out != NULL && frame_encode(out, text, strlen(text)) == 0);
    while (evbuffer_get_length(out) > 0)
        EXPECT(evbuffer_write(out, fd) > 0);
    evbuffer_free(out);
}

/* Has the server sent anything? Looks without waiting. */
static int peer_has_data(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

/* Reads one frame into out (NUL-terminated), waiting up to PEER_WAIT_MS. */
static void peer_recv(int fd, struct evbuffer *in, char *out)
{
    unsigned char payload[FRAME_MAX];
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (frame_decode(in, payload, sizeof payload, &len) == 0) {
        EXPECT(poll(&p, 1, PEER_WAIT_MS) == 1);
        EXPECT(evbuffer_read(in, fd, -1) > 0);
    }
    memcpy(out, payload, len);
    out[len] = '\0';
}

/* ---- the scenes ------------------------------------------------------------------------- */

static void scene_decoder(void)
{
    struct evbuffer *in = evbuffer_new();
    unsigned char out[FRAME_MAX];
    size_t len = 0;

    printf("== The decoder on a plain evbuffer: no socket, no loop ==\n");
    EXPECT(in != NULL);
    evbuffer_add(in, "\x00\x05hel", 5);
    EXPECT(frame_decode(in, out, sizeof out, &len) == 0);
    evbuffer_add(in, "lo", 2);
    EXPECT(frame_decode(in, out, sizeof out, &len) == 1 && len == 5 &&
           memcmp(out, "hello", 5) == 0);
    EXPECT(evbuffer_get_length(in) == 0);
    printf("\"\\x00\\x05hel\" -> 0 (need more); then \"lo\" -> 1, \"hello\"; nothing left over\n");
    evbuffer_add(in, "\xff\xff", 2);
    EXPECT(frame_decode(in, out, sizeof out, &len) == -1);
    printf("\"\\xff\\xff\" -> -1: a frame of 65535 bytes is over FRAME_MAX (%d)\n", FRAME_MAX);
    evbuffer_free(in);
}

static void scene_fake_users(struct event_base *base)
{
    struct fake_users fake = {.next_handle = 1};
    const struct users users = {fake_fetch, fake_cancel, &fake};
    struct evbuffer *in = evbuffer_new();
    char got[FRAME_MAX + 1];
    int pair[2];

    printf("== A fake lookup behind function pointers, a socketpair client ==\n");
    EXPECT(in != NULL && socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    struct greeter *g = greeter_new(base, pair[0], &users); /* owns pair[0] */
    EXPECT(g != NULL);

    peer_send(pair[1], "7");
    event_base_loop(base, EVLOOP_NONBLOCK);
    EXPECT(fake.fetches == 1 && fake.pending_id == 7 && !peer_has_data(pair[1]));
    printf("client sent \"7\": the greeter asked the fake for user %d; no answer yet\n",
           fake.pending_id);
    fake_complete(&fake, "ada", NULL);
    event_base_loop(base, EVLOOP_NONBLOCK); /* the bufferevent writes on the next turn */
    peer_recv(pair[1], in, got);
    EXPECT(strcmp(got, "hello, ada") == 0);
    printf("the test completed the lookup with \"ada\": the client read \"%s\"\n", got);

    peer_send(pair[1], "8");
    event_base_loop(base, EVLOOP_NONBLOCK);
    fake_complete(&fake, NULL, "upstream timed out");
    event_base_loop(base, EVLOOP_NONBLOCK);
    peer_recv(pair[1], in, got);
    EXPECT(strcmp(got, "error: upstream timed out") == 0);
    printf("the next lookup failed: the client read \"%s\"\n", got);

    peer_send(pair[1], "9");
    event_base_loop(base, EVLOOP_NONBLOCK);
    close(pair[1]); /* the client leaves while the lookup is pending */
    event_base_loop(base, EVLOOP_NONBLOCK);
    EXPECT(greeter_closed(g) && fake.cancels == 1 && !fake.has_pending);
    printf("the client left during lookup 3: fetches %d, cancels %d\n", fake.fetches, fake.cancels);
    EXPECT(strcmp(greet_log_fake_last, "client left; lookup cancelled") == 0);
    printf("the link-time fake log holds %d line(s); the last: \"%s\"\n", greet_log_fake_count,
           greet_log_fake_last);

    greeter_free(g);
    evbuffer_free(in);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct event_base *base = event_base_new();
    EXPECT(base != NULL);
    scene_decoder();
    scene_fake_users(base);
    event_base_free(base);
    return 0;
}
