/* The proxy's counters and latency histogram, and their Prometheus rendering.
 *
 * Counting is plain integer adds on the request path; rendering happens only when someone
 * scrapes /stats/prometheus, as Envoy does ("metrics flushed on scrape, not on a timer").
 * Names follow Envoy's Prometheus output (envoy_http_downstream_*, envoy_cluster_upstream_*)
 * so a learner's PromQL carries over; requests by code and response flag, which Envoy only
 * has through Istio's istio_requests_total, are meshlab_requests_total here until the
 * telemetry work adds Istio's own metrics with their labels.
 */
#ifndef MESH_STATS_H
#define MESH_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"
#include "mesh/mirror.h"
#include "mesh/ratelimit.h"

struct cluster_manager;

/* Envoy's default histogram bucket bounds, in milliseconds. */
#define STATS_NBUCKETS 19
extern const double stats_bucket_bounds[STATS_NBUCKETS];

struct histogram {
  uint64_t buckets[STATS_NBUCKETS]; /* non-cumulative counts per bound; overflow only in count */
  uint64_t count;
  double sum;
};

/* Adds one observation (milliseconds). */
void histogram_record(struct histogram *h, double ms);
/* Estimates quantile q in [0, 1] by linear interpolation inside the bucket; 0 when empty. */
double histogram_quantile(const struct histogram *h, double q);

struct code_flags_count {
  int code;
  uint32_t flags;
  uint64_t n;
};

#define STATS_MAX_CODE_FLAGS 64

struct proxy_stats {
  uint64_t downstream_cx_total, downstream_cx_active;
  uint64_t downstream_rq_total, downstream_rq_active;
  uint64_t downstream_cx_protocol_error; /* heads refused by the strictness layer */
  uint64_t downstream_rq_timeout;        /* header-read timeouts */
  uint64_t downstream_rq_idle_timeout;   /* stream idle timeouts (SI) */
  struct code_flags_count by_code[STATS_MAX_CODE_FLAGS];
  size_t nby_code;
  struct histogram duration;
};

/* Counts one finished request: its response code (0 = none sent), flags and duration. */
void stats_record_request(struct proxy_stats *s, int code, uint32_t flags, double ms);

/* Appends the Prometheus text exposition (format 0.0.4) of s and of every host of every live
 * cluster. Returns 0 or -ENOMEM. */
int stats_write_prometheus(struct buf *out, const struct proxy_stats *s, const struct cluster_manager *clusters);

/* Appends the local rate limit counters under Envoy's Prometheus names
 * (envoy_<stat_prefix>_http_local_rate_limit_{enabled,enforced,rate_limited,ok}, one set per
 * stat_prefix, summed over the listeners that share it) and the mirror counters
 * (meshlab_mirror_requests_total{outcome}). Returns 0 or -ENOMEM. */
int stats_write_policy_prometheus(struct buf *out, const struct ratelimit_buckets *rl, const struct mirror_stats *ms);
/* The same as "name: value" lines for /stats: <stat_prefix>.http_local_rate_limit.<counter>
 * as Envoy prints them, and meshlab.mirror.<outcome>. Returns 0 or -ENOMEM. */
int stats_write_policy_text(struct buf *out, const struct ratelimit_buckets *rl, const struct mirror_stats *ms);

#endif
