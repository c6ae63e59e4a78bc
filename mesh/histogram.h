/* A fine latency histogram for measuring, next to stats.h's coarse one for exporting.
 *
 * stats.h keeps Envoy's 19 fixed buckets because that is what a Prometheus scrape of Envoy
 * shows; a percentile read from them can be off by half a bucket (a p99 of "somewhere between
 * 25 and 50 ms"). `meshlab load` needs p99.9 to within a percent, so this is a log-linear
 * histogram in HdrHistogram's style: values are nanoseconds; below 128 ns every value has its
 * own counter, and above it every power of two is split into 128 equal sub-buckets, so a bucket
 * is never wider than 1/128 of its lower bound. Reporting a bucket's midpoint keeps the
 * relative error under 0.4 % everywhere from 1 µs to 60 s (values above 60 s are counted in the
 * top bucket; min, max and mean stay exact). 3,840 counters, 30 KiB, no allocation.
 *
 * Pure: no clock, no I/O. The names are hist_* because stats.h already owns histogram_*.
 */
#ifndef MESH_HISTOGRAM_H
#define MESH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 7            /* 128 sub-buckets per power of two */
#define HIST_MAX_NS 60000000000ull /* 60 s: the top of the tracked range */
#define HIST_TOP_EXP 35            /* 2^35 <= HIST_MAX_NS < 2^36 */
#define HIST_NBUCKETS ((1u << HIST_SUB_BITS) * (HIST_TOP_EXP - HIST_SUB_BITS + 2))

/* Zero-initialised is a valid empty histogram. */
struct hist {
  uint64_t counts[HIST_NBUCKETS];
  uint64_t count;
  uint64_t min, max; /* exact; 0 when empty */
  double sum;        /* exact sum of recorded values, for the mean */
};

/* Empties h. */
void hist_reset(struct hist *h);
/* Counts one value (nanoseconds). */
void hist_record(struct hist *h, uint64_t ns);
/* Adds every count of `from` into `into` (borrows both). */
void hist_merge(struct hist *into, const struct hist *from);
/* The value at quantile q in [0, 1] by the nearest-rank rule (the smallest recorded value with
 * at least q of all values at or below it), within 0.4 %; q = 0 gives the exact min, q = 1 the
 * exact max. Returns 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* The exact largest value recorded, or 0. */
uint64_t hist_max(const struct hist *h);
/* The exact mean, or 0 when empty. */
double hist_mean(const struct hist *h);

#endif
