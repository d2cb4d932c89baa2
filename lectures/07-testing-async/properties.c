/*
 * properties.c - property tests with a printed seed: many random cases instead of a few
 * hand-picked ones, any failure replayable.
 *
 * Three properties: any chunking of a byte stream decodes to the same frames (frame.h); encode
 * then decode gives back what went in; and a model-based test of a small store (kv.h): random
 * operations go to the store and to a trivial model, compared after every step. The store's
 * first draft fails it, and the failing sequence is shrunk to a few operations.
 * Try it: ./build/lectures/07-testing-async/properties --demo     (SEED=N replays a run)
 */
#include "frame.h"
#include "kv.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_CASES 200  /* random streams cut into random chunks */
#define CHUNK_FRAMES 20  /* frames per stream, at most */
#define ROUND_TRIPS 1000 /* single frames of random length, some too long */
#define MODEL_RUNS 300   /* random operation sequences per store */
#define MODEL_OPS 200    /* operations per sequence */
#define MODEL_KEYS 16    /* keys 0..15: twice the store's capacity, so chains collide */

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED: %s (line %d)\n", #cond, __LINE__);                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* splitmix64: small, fast, and the same sequence for the same seed on every machine. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *state, size_t n)
{
    return (size_t)(rng_next(state) % n);
}

/* SEED from the environment replays a run; otherwise a new seed every run. */
static uint64_t choose_seed(void)
{
    const char *env = getenv("SEED");
    if (env != NULL && *env != '\0')
        return strtoull(env, NULL, 10);
    return (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
}

/* ---- frames: any chunking gives the same frames ----------------------------------------- */

struct frame_copy {
    size_t len;
    unsigned char bytes[FRAME_MAX];
};

static void check_chunking(uint64_t *rng)
{
    static struct frame_copy sent[CHUNK_FRAMES];
    unsigned char got[FRAME_MAX];
    size_t len;

    for (int c = 0; c < CHUNK_CASES; c++) {
        struct evbuffer *stream = evbuffer_new(), *in = evbuffer_new();
        EXPECT(stream != NULL && in != NULL);
        size_t nframes = 1 + rng_below(rng, CHUNK_FRAMES);
        for (size_t f = 0; f < nframes; f++) {
            sent[f].len = rng_below(rng, 4) == 0 ? 0 : rng_below(rng, FRAME_MAX + 1);
            for (size_t i = 0; i < sent[f].len; i++)
                sent[f].bytes[i] = (unsigned char)rng_next(rng);
            EXPECT(frame_encode(stream, sent[f].bytes, sent[f].len) == 0);
        }
        /* Feed the stream in chunks of 1 byte up to 1.5 frames, decoding after each chunk. */
        size_t decoded = 0;
        while (evbuffer_get_length(stream) > 0) {
            size_t chunk = 1 + rng_below(rng, FRAME_MAX * 3 / 2);
            evbuffer_remove_buffer(stream, in, chunk);
            int rc;
            while ((rc = frame_decode(in, got, sizeof got, &len)) == 1) {
                EXPECT(decoded < nframes && len == sent[decoded].len);
                EXPECT(memcmp(got, sent[decoded].bytes, len) == 0);
                decoded++;
            }
            EXPECT(rc == 0);
        }
        EXPECT(decoded == nframes && evbuffer_get_length(in) == 0);
        evbuffer_free(stream);
        evbuffer_free(in);
    }
    printf("any chunking gives the same frames: %d streams, all decoded exactly\n", CHUNK_CASES);
}

static void check_round_trip(uint64_t *rng)
{
    static unsigned char in[FRAME_MAX + 16], out[FRAME_MAX];
    int refused = 0;

    for (int c = 0; c < ROUND_TRIPS; c++) {
        struct evbuffer *buf = evbuffer_new();
        size_t n = rng_below(rng, sizeof in + 1), len = 0;
        EXPECT(buf != NULL);
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)rng_next(rng);
        if (frame_encode(buf, in, n) != 0) {
            EXPECT(n > FRAME_MAX && evbuffer_get_length(buf) == 0); /* refused, nothing written */
            refused++;
        } else {
            EXPECT(frame_decode(buf, out, sizeof out, &len) == 1 && len == n);
            EXPECT(memcmp(in, out, n) == 0 && evbuffer_get_length(buf) == 0);
        }
        evbuffer_free(buf);
    }
    printf("decode(encode(x)) == x: %d payloads, %d of them over FRAME_MAX and refused\n",
           ROUND_TRIPS, refused);
}

/* ---- a model-based test of the store ---------------------------------------------------- */

enum op_kind { OP_PUT, OP_GET, OP_DEL };

struct op {
    enum op_kind kind;
    int key, value;
};

/* The model: what the store should hold, as plainly as possible. */
struct model {
    int present[MODEL_KEYS];
    int value[MODEL_KEYS];
    size_t count;
};

static void describe(const struct op *op, char *out, size_t outsz)
{
    if (op->kind == OP_PUT)
        snprintf(out, outsz, "put(%d, %d)", op->key, op->value);
    else
        snprintf(out, outsz, "%s(%d)", op->kind == OP_GET ? "get" : "del", op->key);
}

/* Applies one operation to both; returns 0 if they agree, else -1 with the difference in why. */
static int step(const struct kv_ops *ops, struct kv *s, struct model *m, const struct op *op,
                char *why, size_t whysz)
{
    int k = op->key, v = 0;

    if (op->kind == OP_PUT) {
        int want = m->present[k] || m->count < KV_CAPACITY ? 0 : -1;
        int got = ops->put(s, k, op->value);
        if (want == 0 && !m->present[k])
            m->count++;
        if (want == 0) {
            m->present[k] = 1;
            m->value[k] = op->value;
        }
        if (got != want)
            return snprintf(why, whysz, "the store returned %d, the model %d", got, want), -1;
    } else if (op->kind == OP_GET) {
        int got = ops->get(s, k, &v);
        if (got != m->present[k] || (got && v != m->value[k])) {
            char in_store[16] = "absent", in_model[16] = "absent";
            if (got)
                snprintf(in_store, sizeof in_store, "%d", v);
            if (m->present[k])
                snprintf(in_model, sizeof in_model, "%d", m->value[k]);
            return snprintf(why, whysz, "the store says %s, the model %s", in_store, in_model), -1;
        }
    } else {
        int got = ops->del(s, k);
        if (got != m->present[k])
            return snprintf(why, whysz, "the store returned %d, the model %d", got, m->present[k]),
                   -1;
        m->count -= (size_t)m->present[k];
        m->present[k] = 0;
    }
    if (ops->count(s) != m->count)
        return snprintf(why, whysz, "the store counts %zu entries, the model %zu", ops->count(s),
                        m->count),
               -1;
    return 0;
}

/* Runs a sequence on a fresh store and model. Returns the index of the first disagreeing
 * operation, or -1 if they agree throughout. */
static int run_ops(const struct kv_ops *ops, const struct op *seq, int n, char *why, size_t whysz)
{
    struct model m = {{0}, {0}, 0};
    struct kv *s = ops->create();
    int failed = -1;

    EXPECT(s != NULL);
    for (int i = 0; i < n && failed < 0; i++)
        if (step(ops, s, &m, &seq[i], why, whysz) != 0)
            failed = i;
    ops->destroy(s);
    return failed;
}

/* Shrinking: drop one operation at a time, keeping each drop after which the sequence still
 * fails, until no single drop keeps it failing. Returns the new length. */
static int shrink(const struct kv_ops *ops, struct op *seq, int n)
{
    char why[160];
    for (int i = 0; i < n;) {
        struct op removed = seq[i];
        memmove(&seq[i], &seq[i + 1], (size_t)(n - i - 1) * sizeof *seq);
        int failed = run_ops(ops, seq, n - 1, why, sizeof why);
        if (failed >= 0) {
            n = failed + 1; /* what follows the first failure is not needed either */
        } else {
            memmove(&seq[i + 1], &seq[i], (size_t)(n - i - 1) * sizeof *seq);
            seq[i++] = removed;
        }
    }
    return n;
}

static void check_model(const struct kv_ops *ops, uint64_t *rng)
{
    static struct op seq[MODEL_OPS];
    char why[160], text[32];

    for (int r = 0; r < MODEL_RUNS; r++) {
        for (int i = 0; i < MODEL_OPS; i++) {
            seq[i].kind = (enum op_kind)rng_below(rng, 3);
            seq[i].key = (int)rng_below(rng, MODEL_KEYS);
            seq[i].value = (int)rng_below(rng, 100);
        }
        int failed = run_ops(ops, seq, MODEL_OPS, why, sizeof why);
        if (failed < 0)
            continue;
        describe(&seq[failed], text, sizeof text);
        printf("%s: run %d FAILED at operation %d, %s: %s\n", ops->name, r + 1, failed + 1, text,
               why);
        int n = shrink(ops, seq, failed + 1);
        run_ops(ops, seq, n, why, sizeof why);
        printf("  shrunk from %d operations to %d:", failed + 1, n);
        for (int i = 0; i < n; i++) {
            describe(&seq[i], text, sizeof text);
            printf(" %s", text);
        }
        printf("\n  -> %s\n", why);
        return;
    }
    printf("%s: %d runs of %d random operations, store and model agreed after every one\n",
           ops->name, MODEL_RUNS, MODEL_OPS);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);

    uint64_t seed = choose_seed();
    printf("seed %" PRIu64 " (replay this run: SEED=%" PRIu64 " %s)\n", seed, seed, argv[0]);
    uint64_t rng = seed;
    printf("== Frames ==\n");
    check_chunking(&rng);
    check_round_trip(&rng);
    printf("== The store against a model ==\n");
    check_model(&kv_draft_ops, &rng);
    check_model(&kv_ops, &rng);
    return 0;
}
