/* The log-linear latency histogram: see histogram.h.
 *
 * Bucket layout (SUB = 128): values 0..127 map to themselves. A value v >= 128 with highest set
 * bit e is written as m << s where s = e - 7 and m = v >> s lies in [128, 255]; its bucket is
 * 128 + s * 128 + (m - 128). The bucket holds [m << s, (m + 1) << s), whose width over its lower
 * bound is 1/m <= 1/128. This is HdrHistogram's scheme with two significant digits' worth of
 * sub-buckets, counted in nanoseconds so sub-microsecond loopback latencies stay readable.
 */
#include "mesh/histogram.h"

#include <math.h>
#include <string.h>

#define SUB (1u << HIST_SUB_BITS)

static size_t bucket_of(uint64_t v) {
  if (v > HIST_MAX_NS) v = HIST_MAX_NS;
  if (v < SUB) return (size_t)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v);
  unsigned s = e - HIST_SUB_BITS;
  return SUB + (size_t)s * SUB + (size_t)((v >> s) - SUB);
}

/* The value a bucket stands for: its midpoint (exact for the one-value buckets below 128). */
static uint64_t bucket_value(size_t i) {
  if (i < SUB) return i;
  unsigned s = (unsigned)((i - SUB) / SUB);
  uint64_t m = SUB + (i - SUB) % SUB;
  uint64_t lo = m << s, width = 1ull << s;
  return lo + (width - 1) / 2;
}

void hist_reset(struct hist *h) { memset(h, 0, sizeof *h); }

void hist_record(struct hist *h, uint64_t ns) {
  h->counts[bucket_of(ns)]++;
  if (h->count == 0 || ns < h->min) h->min = ns;
  if (ns > h->max) h->max = ns;
  h->count++;
  h->sum += (double)ns;
}

void hist_merge(struct hist *into, const struct hist *from) {
  if (from->count == 0) return;
  for (size_t i = 0; i < HIST_NBUCKETS; i++) into->counts[i] += from->counts[i];
  if (into->count == 0 || from->min < into->min) into->min = from->min;
  if (from->max > into->max) into->max = from->max;
  into->count += from->count;
  into->sum += from->sum;
}

uint64_t hist_quantile(const struct hist *h, double q) {
  if (h->count == 0) return 0;
  if (q <= 0) return h->min;
  if (q >= 1) return h->max;
  /* Nearest rank: the ceil(q * n)-th smallest value (1-based), as HdrHistogram and most
   * benchmark tools define a percentile. */
  uint64_t rank = (uint64_t)ceil(q * (double)h->count);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < HIST_NBUCKETS; i++) {
    seen += h->counts[i];
    if (seen < rank) continue;
    /* The midpoint can fall outside what was recorded when the bucket holds the extremes. */
    uint64_t v = bucket_value(i);
    if (v < h->min) v = h->min;
    if (v > h->max) v = h->max;
    return v;
  }
  return h->max;
}

uint64_t hist_max(const struct hist *h) { return h->max; }

double hist_mean(const struct hist *h) { return h->count ? h->sum / (double)h->count : 0; }
