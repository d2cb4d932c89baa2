/*
 * lat_hist.h - a fixed-size latency histogram: record millions of samples in 30 KiB.
 *
 * A load generator cannot keep every latency it sees (a few seconds of echo traffic is
 * millions of samples), and an average hides exactly the slow requests a benchmark is looking
 * for. This histogram keeps counts in log-linear buckets: values below 128 ns exactly, above
 * that 64 buckets per power of two, so any percentile it reports is within 1/64 (about 1.6%)
 * of the true value, whatever the range. The idea is HdrHistogram's, cut down to one page.
 */
#ifndef LAT_HIST_H
#define LAT_HIST_H

#include <stdint.h>

#define LAT_HIST_SUB_BITS 6 /* 64 buckets per power of two */
#define LAT_HIST_SUB_COUNT (1u << LAT_HIST_SUB_BITS)
#define LAT_HIST_BUCKETS ((64u - LAT_HIST_SUB_BITS + 1u) * LAT_HIST_SUB_COUNT)

struct lat_hist {
    uint64_t count;  /* samples recorded */
    uint64_t max_ns; /* the largest sample, exactly */
    uint64_t buckets[LAT_HIST_BUCKETS];
};

/* Empties the histogram. A zero-initialised struct lat_hist is empty too. */
void lat_hist_reset(struct lat_hist *h);

/* Records one sample, in nanoseconds. */
void lat_hist_record(struct lat_hist *h, uint64_t ns);

/*
 * The value (ns) below or at which a fraction q (0 < q <= 1) of the samples lie: q = 0.5 is
 * the median, 0.99 the 99th percentile. Reports the middle of the bucket (q = 1 gives the
 * exact maximum). Returns 0 when the histogram is empty.
 */
uint64_t lat_hist_percentile(const struct lat_hist *h, double q);

#endif
