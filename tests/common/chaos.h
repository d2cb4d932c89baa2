/*
 * chaos.h - chaos mode: the same tests over a less polite network.
 *
 * A server that works when every message arrives in one piece may still assume that one
 * read() returns one line, or forget a client that leaves halfway through a request. When the
 * environment variable HARNESS_CHAOS holds a number, the seed (`./grader/grade --chaos SEED`
 * sets it), the test clients (client.h) cut every send into random pieces, down to one byte per
 * write, with short random pauses between them; and extra "background" clients connect to the
 * server a test talks to and leave at random moments: at once, after half a line, with a
 * half-close or with a reset. A correct server serves the test's own clients all the same, so
 * every assertion still holds.
 *
 * Every random choice comes from the seed and the test's name (and the client's number), so a
 * test makes the same choices whichever other tests run, and the same seed replays them:
 *
 *     HARNESS_CHAOS=12345 ./build/tests/ex01-echo-server-solutions
 * test_one_client_gets_its_bytes_back
 *
 * Without the variable nothing changes and nothing is spent.
 */
#ifndef CHAOS_H
#define CHAOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAOS_ENV "HARNESS_CHAOS" /* the seed, a decimal number */

/* Starts a test: seeds it from HARNESS_CHAOS and its name, and notes the seed in the
 * transcript. The harness calls it at the start of each test, in the test's own process. */
void chaos_begin_test(const char *test_name);

/* True when this test runs under chaos. */
bool chaos_active(void);

/* The first state of a generator for one client of this test (`stream` is its number), for
 * chaos_next(). Never 0. */
uint64_t chaos_stream(uint64_t stream);

/* The next number of a splitmix64 generator. */
uint64_t chaos_next(uint64_t *state);

/* How one send is cut into pieces, and the pauses between them. */
#define CHAOS_CUT_SHOWN 12 /* piece sizes kept for the transcript */
struct chaos_cut {
    uint64_t *rng;
    int style;      /* whole, one byte per write, or random pieces */
    long paused_us; /* so far: the pauses of one send are bounded */
    size_t npieces;
    size_t shown[CHAOS_CUT_SHOWN]; /* the first pieces' sizes */
};

/* Decides how a send of `total` bytes is cut, drawing from the client's generator `rng`. */
void chaos_cut_begin(struct chaos_cut *cut, uint64_t *rng, size_t total);

/* How many of the `left` bytes the next piece holds (at least 1, at most left). */
size_t chaos_cut_next(struct chaos_cut *cut, size_t left);

/* Sleeps between two pieces, often not at all, a few milliseconds at most. */
void chaos_cut_pause(struct chaos_cut *cut);

/* Notes in the transcript how client `id`'s send was cut, when it was. */
void chaos_cut_note(const struct chaos_cut *cut, int id);

/* Called by client_connect(): the first port a test connects to gets the background clients,
 * unless the test asked for none. */
void chaos_connected(uint16_t port);

/*
 * No background clients in this test (none at all when called before the first connection,
 * else no more). For a test whose claims a stranger would change: how many clients there are,
 * what everyone receives when someone joins, how many descriptors are left. `why` goes into the
 * transcript, and belongs in a comment at the call too. Sends are still cut into pieces.
 */
void chaos_no_background_clients(const char *why);

#endif
