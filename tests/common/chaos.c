/*
 * chaos.c - see chaos.h. One generator per client (seeded from the seed, the test's name and
 * the client's number) keeps each client's choices the same whatever the threads do; the
 * background clients run on a thread of their own with a generator of their own.
 */
#include "chaos.h"

#include "transcript.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* elsewhere the suites ignore SIGPIPE (harness.c) */
#endif

#define CHAOS_BYTEWISE_MAX 256        /* sends up to this size may go one byte per write */
#define CHAOS_PAUSE_MAX_US 2000       /* one pause between two pieces */
#define CHAOS_SEND_PAUSE_MAX_US 20000 /* all the pauses of one send together */
#define CHAOS_BACKGROUND_MAX 4        /* background clients per test (at least one) */
#define CHAOS_BACKGROUND_GAP_MS 40    /* the longest wait before each of them connects */
#define CHAOS_BACKGROUND_STAY_MS 100  /* the longest one stays before it leaves */
#define CHAOS_BACKGROUND_DRAIN_MS 300 /* after its half-close, how long it reads on */
#define CHAOS_BACKGROUND_BYTES 16     /* the most it sends: letters, never a line end */
#define CHAOS_BACKGROUND_STREAM 0     /* the background's generator (clients count from 1) */

enum cut_style { CUT_WHOLE, CUT_BYTES, CUT_RANDOM };

/* How a background client leaves. */
enum leave {
    LEAVE_RESET,
    LEAVE_MID_LINE_RESET,
    LEAVE_HALF_CLOSE,
    LEAVE_MID_LINE_HALF_CLOSE,
    LEAVE_CLOSE,
    LEAVE_KINDS
};

/* This test's chaos. Set when the test starts, before its clients exist; only `calm` changes
 * afterwards (the background thread reads it before each of its clients). */
static struct {
    bool active;
    uint64_t test;          /* the seed mixed with the test's name */
    atomic_bool calm;       /* no (more) background clients in this test */
    atomic_bool background; /* the background clients have started (one port per test) */
} chaos;

uint64_t chaos_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* FNV-1a: the test's name as a number. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

void chaos_begin_test(const char *test_name)
{
    const char *v = getenv(CHAOS_ENV);
    char *end;

    chaos.active = false;
    atomic_store(&chaos.background, false);
    atomic_store(&chaos.calm, false);
    if (v == NULL || *v == '\0')
        return;
    errno = 0;
    unsigned long long seed = strtoull(v, &end, 10);
    if (*end != '\0' || errno != 0 || v[0] == '-') {
        fprintf(stderr, "harness: %s=%s is not a seed (a number); running without chaos\n",
                CHAOS_ENV, v);
        return;
    }
    chaos.active = true;
    uint64_t mix = seed ^ name_hash(test_name != NULL ? test_name : "");
    chaos.test = chaos_next(&mix);
    transcript_note("chaos seed %llu: sends are cut into random pieces with short pauses, and "
                    "other clients come and go",
                    seed);
}

bool chaos_active(void)
{
    return chaos.active;
}

uint64_t chaos_stream(uint64_t stream)
{
    uint64_t s = chaos.test + stream * 0xd1b54a32d192ed03ull;
    return chaos_next(&s) | 1;
}

/* ---- cutting a send into pieces --------------------------------------------------------- */

void chaos_cut_begin(struct chaos_cut *cut, uint64_t *rng, size_t total)
{
    memset(cut, 0, sizeof *cut);
    cut->rng = rng;
    switch (chaos_next(rng) % 8) {
    case 0:
    case 1:
        cut->style = CUT_WHOLE;
        break;
    case 2:
    case 3:
        /* One byte per write only for short sends: a megabyte that way would take minutes. */
        cut->style = total <= CHAOS_BYTEWISE_MAX ? CUT_BYTES : CUT_RANDOM;
        break;
    default:
        cut->style = CUT_RANDOM;
    }
}

size_t chaos_cut_next(struct chaos_cut *cut, size_t left)
{
    size_t n = left;
    if (cut->style == CUT_BYTES)
        n = 1;
    else if (cut->style == CUT_RANDOM)
        n = 1 + (size_t)(chaos_next(cut->rng) % left); /* about log(total) pieces */
    if (cut->npieces < CHAOS_CUT_SHOWN)
        cut->shown[cut->npieces] = n;
    cut->npieces++;
    return n;
}

void chaos_cut_pause(struct chaos_cut *cut)
{
    uint64_t r = chaos_next(cut->rng);
    if (r % 4 < 2 || cut->paused_us >= CHAOS_SEND_PAUSE_MAX_US)
        return;
    long us = 1 + (long)((r >> 8) % CHAOS_PAUSE_MAX_US);
    struct timespec ts = {0, us * 1000L};
    cut->paused_us += us;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void chaos_cut_note(const struct chaos_cut *cut, int id)
{
    char sizes[CHAOS_CUT_SHOWN * 8 + 16] = "";
    size_t len = 0;

    if (cut->npieces <= 1)
        return;
    for (size_t i = 0; i < cut->npieces && i < CHAOS_CUT_SHOWN; i++)
        len += (size_t)snprintf(sizes + len, sizeof sizes - len, "%s%zu", i > 0 ? "+" : "",
                                cut->shown[i]);
    if (cut->npieces > CHAOS_CUT_SHOWN)
        snprintf(sizes + len, sizeof sizes - len, "+...");
    transcript_note("chaos: c%d sent that in %zu pieces (%s bytes), %.1f ms of pauses", id,
                    cut->npieces, sizes, (double)cut->paused_us / 1000.0);
}

/* ---- background clients ----------------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads and drops what the server sends until it closes or `ms` pass. Returns the bytes. */
static size_t drain(int fd, int ms, bool *closed)
{
    char buf[4096];
    size_t total = 0;
    int64_t deadline = now_ms() + ms;

    *closed = false;
    for (int64_t left; (left = deadline - now_ms()) > 0;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            total += (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            *closed = true;
            break;
        }
    }
    return total;
}

/* One background client: connects, maybe sends part of a line, and leaves in one of the
 * ways a real client may. Says what it did in the transcript. */
static void background_client(uint16_t port, int id, uint64_t *rng)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    enum leave how = (enum leave)(chaos_next(rng) % LEAVE_KINDS);
    char bytes[CHAOS_BACKGROUND_BYTES + 1];
    size_t nbytes = 0;
    long stay_ms = (long)(chaos_next(rng) % CHAOS_BACKGROUND_STAY_MS);

    if (how == LEAVE_MID_LINE_RESET || how == LEAVE_MID_LINE_HALF_CLOSE) {
        nbytes = 1 + (size_t)(chaos_next(rng) % CHAOS_BACKGROUND_BYTES);
        for (size_t i = 0; i < nbytes; i++)
            bytes[i] = (char)('a' + chaos_next(rng) % 26);
    }
    bytes[nbytes] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return; /* out of descriptors, perhaps on purpose: that is the test's business */
    evutil_make_socket_closeonexec(fd);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return; /* the server is gone already */
    }
    if (nbytes > 0 && send(fd, bytes, nbytes, MSG_NOSIGNAL) < 0)
        nbytes = 0;
    sleep_ms(stay_ms);
    bool closed = false;
    size_t got = 0;
    const char *what = "closed";
    if (how == LEAVE_RESET || how == LEAVE_MID_LINE_RESET) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        what = "reset";
    } else if (how == LEAVE_HALF_CLOSE || how == LEAVE_MID_LINE_HALF_CLOSE) {
        shutdown(fd, SHUT_WR);
        got = drain(fd, CHAOS_BACKGROUND_DRAIN_MS, &closed);
        what = closed ? "half-closed, then the server closed" : "half-closed, then closed";
    }
    close(fd);
    transcript_note("chaos: b%d connected, sent \"%s\", %s after %ld ms (%zu bytes back)", id,
                    bytes, what, stay_ms, got);
}

static void *background_main(void *arg)
{
    uint16_t port = (uint16_t)(uintptr_t)arg;
    uint64_t rng = chaos_stream(CHAOS_BACKGROUND_STREAM);
    int n = 1 + (int)(chaos_next(&rng) % CHAOS_BACKGROUND_MAX);

    for (int id = 1; id <= n; id++) {
        sleep_ms((long)(chaos_next(&rng) % CHAOS_BACKGROUND_GAP_MS));
        if (atomic_load(&chaos.calm))
            break; /* the test has asked for no more */
        background_client(port, id, &rng);
    }
    return NULL;
}

void chaos_connected(uint16_t port)
{
    if (!chaos.active || atomic_load(&chaos.calm) || atomic_exchange(&chaos.background, true))
        return;
    pthread_attr_t attr;
    pthread_t thread;
    /* Detached: it ends by itself within a second or so, or with the test's process. */
    if (pthread_attr_init(&attr) != 0)
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, background_main, (void *)(uintptr_t)port) != 0)
        transcript_note("chaos: no background clients (cannot start their thread)");
    pthread_attr_destroy(&attr);
}

void chaos_no_background_clients(const char *why)
{
    if (!chaos.active || atomic_exchange(&chaos.calm, true))
        return;
    transcript_note("chaos: no %sother clients in this test: %s",
                    atomic_load(&chaos.background) ? "more " : "", why);
}
