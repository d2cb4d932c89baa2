/*
 * lat_hist.c - the log-linear histogram behind lat_hist.h.
 *
 * Bucket layout: a value v whose highest set bit is b keeps its top LAT_HIST_SUB_BITS + 1 bits
 * (v >> (b - SUB_BITS) lies in [64, 128)); the bucket index is that number plus 64 for each
 * doubling above 127. Values below 128 get a bucket each, so the layout is continuous.
 */
#include "lat_hist.h"

#include <string.h>

static unsigned highest_bit(uint64_t v)
{
    unsigned b = 0;

    while (v >>= 1)
        b++;
    return b;
}

static unsigned bucket_of(uint64_t ns)
{
    if (ns < 2 * LAT_HIST_SUB_COUNT)
        return (unsigned)ns;
    unsigned shift = highest_bit(ns) - LAT_HIST_SUB_BITS; /* >= 1 here */
    return shift * LAT_HIST_SUB_COUNT + (unsigned)(ns >> shift);
}

/* The lowest value that falls into bucket i, and the width of the bucket. */
static void bucket_range(unsigned i, uint64_t *low, uint64_t *width)
{
    if (i < 2 * LAT_HIST_SUB_COUNT) {
        *low = i;
        *width = 1;
        return;
    }
    unsigned shift = i / LAT_HIST_SUB_COUNT - 1;
    uint64_t top = i - shift * LAT_HIST_SUB_COUNT; /* in [64, 128) */
    *low = top << shift;
    *width = UINT64_C(1) << shift;
}

void lat_hist_reset(struct lat_hist *h)
{
    memset(h, 0, sizeof *h);
}

void lat_hist_record(struct lat_hist *h, uint64_t ns)
{
    h->buckets[bucket_of(ns)]++;
    h->count++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

uint64_t lat_hist_percentile(const struct lat_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q >= 1.0)
        return h->max_ns;
    /* The rank of the sample we want, counting from 1: the smallest one with at least
     * q * count samples at or below it. */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t low, width;
            bucket_range(i, &low, &width);
            uint64_t mid = low + width / 2;
            return mid > h->max_ns ? h->max_ns : mid;
        }
    }
    return h->max_ns;
}
