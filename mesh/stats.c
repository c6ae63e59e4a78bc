/* Counters, histogram and Prometheus text: see stats.h. */
#include "mesh/stats.h"

#include <stdio.h>
#include <string.h>

#include "mesh/flags.h"
#include "mesh/clusters.h"

const double stats_bucket_bounds[STATS_NBUCKETS] = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

void histogram_record(struct histogram *h, double ms) {
  h->count++;
  h->sum += ms;
  for (int i = 0; i < STATS_NBUCKETS; i++) {
    if (ms <= stats_bucket_bounds[i]) {
      h->buckets[i]++;
      return;
    }
  }
}

double histogram_quantile(const struct histogram *h, double q) {
  if (h->count == 0) return 0;
  double rank = q * (double)h->count, seen = 0, lower = 0;
  for (int i = 0; i < STATS_NBUCKETS; i++) {
    double next = seen + (double)h->buckets[i];
    if (next >= rank && h->buckets[i] > 0)
      return lower + (stats_bucket_bounds[i] - lower) * ((rank - seen) / (double)h->buckets[i]);
    seen = next;
    lower = stats_bucket_bounds[i];
  }
  return stats_bucket_bounds[STATS_NBUCKETS - 1];
}

void stats_record_request(struct proxy_stats *s, int code, uint32_t flags, double ms) {
  histogram_record(&s->duration, ms);
  for (size_t i = 0; i < s->nby_code; i++) {
    if (s->by_code[i].code == code && s->by_code[i].flags == flags) {
      s->by_code[i].n++;
      return;
    }
  }
  /* Distinct (code, flags) pairs are few; past the table's size they pool in the last slot
   * (code 0, flags as seen) rather than grow memory on the request path. */
  size_t i = s->nby_code < STATS_MAX_CODE_FLAGS ? s->nby_code++ : STATS_MAX_CODE_FLAGS - 1;
  if (s->by_code[i].n == 0 || i != STATS_MAX_CODE_FLAGS - 1) {
    s->by_code[i].code = code;
    s->by_code[i].flags = flags;
  }
  s->by_code[i].n++;
}

#define TRY(x)                \
  do {                        \
    if ((x) != 0) return -12; \
  } while (0)

static int counter(struct buf *out, const char *name, const char *help, uint64_t v) {
  TRY(buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v));
  return 0;
}

static int gauge(struct buf *out, const char *name, const char *help, uint64_t v) {
  TRY(buf_appendf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name, (unsigned long long)v));
  return 0;
}

/* Cluster names contain only [A-Za-z0-9|._:-], none of which need escaping in a label value;
 * escape anyway so a future name with a quote cannot break the exposition. */
static int label_value(struct buf *out, const char *v) {
  for (; *v; v++) {
    if (*v == '\\' || *v == '"') TRY(buf_append(out, "\\", 1));
    if (*v == '\n') {
      TRY(buf_append(out, "\\n", 2));
      continue;
    }
    TRY(buf_append(out, v, 1));
  }
  return 0;
}

struct host_stat {
  const char *name;
  const char *help;
  const char *type;
  size_t offset;
};

static const struct host_stat host_stats[] = {
    {"envoy_cluster_upstream_cx_total", "Upstream connections opened", "counter",
     offsetof(struct upstream_stats, cx_total)},
    {"envoy_cluster_upstream_cx_active", "Upstream connections open (busy and pooled)", "gauge",
     offsetof(struct upstream_stats, cx_active)},
    {"envoy_cluster_upstream_cx_connect_fail", "Upstream connection failures", "counter",
     offsetof(struct upstream_stats, cx_connect_fail)},
    {"meshlab_cluster_upstream_cx_idle", "Upstream connections pooled idle, ready for reuse", "gauge",
     offsetof(struct upstream_stats, cx_idle)},
    {"envoy_cluster_upstream_rq_total", "Requests sent upstream", "counter", offsetof(struct upstream_stats, rq_total)},
    {"envoy_cluster_upstream_rq_active", "Requests in flight upstream", "gauge",
     offsetof(struct upstream_stats, rq_active)},
    {"envoy_cluster_upstream_rq_timeout", "Upstream requests that timed out", "counter",
     offsetof(struct upstream_stats, rq_timeout)},
};

int stats_write_prometheus(struct buf *out, const struct proxy_stats *s, const struct cluster_manager *clusters) {
  TRY(counter(out, "envoy_http_downstream_cx_total", "Downstream connections accepted", s->downstream_cx_total));
  TRY(gauge(out, "envoy_http_downstream_cx_active", "Downstream connections open", s->downstream_cx_active));
  TRY(counter(out, "envoy_http_downstream_rq_total", "Downstream requests", s->downstream_rq_total));
  TRY(gauge(out, "envoy_http_downstream_rq_active", "Downstream requests in flight", s->downstream_rq_active));
  TRY(counter(out, "envoy_http_downstream_cx_protocol_error", "Downstream messages refused as malformed",
              s->downstream_cx_protocol_error));
  TRY(counter(out, "envoy_http_downstream_rq_header_timeout",
              "Downstream requests whose headers did not arrive in time", s->downstream_rq_timeout));
  TRY(counter(out, "envoy_http_downstream_rq_idle_timeout", "Downstream requests cut by the stream idle timeout",
              s->downstream_rq_idle_timeout));

  TRY(buf_append_str(out,
                     "# HELP meshlab_requests_total Requests by response code and Envoy response flags\n"
                     "# TYPE meshlab_requests_total counter\n"));
  for (size_t i = 0; i < s->nby_code; i++) {
    char flags[64];
    flags_format(s->by_code[i].flags, flags, sizeof flags);
    TRY(buf_appendf(out, "meshlab_requests_total{response_code=\"%d\",response_flags=\"%s\"} %llu\n",
                    s->by_code[i].code, flags, (unsigned long long)s->by_code[i].n));
  }

  TRY(buf_append_str(out,
                     "# HELP meshlab_request_duration_milliseconds Request duration, first byte in to last byte out\n"
                     "# TYPE meshlab_request_duration_milliseconds histogram\n"));
  uint64_t cum = 0;
  for (int i = 0; i < STATS_NBUCKETS; i++) {
    cum += s->duration.buckets[i];
    TRY(buf_appendf(out, "meshlab_request_duration_milliseconds_bucket{le=\"%g\"} %llu\n", stats_bucket_bounds[i],
                    (unsigned long long)cum));
  }
  TRY(buf_appendf(out, "meshlab_request_duration_milliseconds_bucket{le=\"+Inf\"} %llu\n",
                  (unsigned long long)s->duration.count));
  TRY(buf_appendf(out, "meshlab_request_duration_milliseconds_sum %.3f\n", s->duration.sum));
  TRY(buf_appendf(out, "meshlab_request_duration_milliseconds_count %llu\n", (unsigned long long)s->duration.count));

  for (size_t k = 0; k < sizeof host_stats / sizeof host_stats[0]; k++) {
    const struct host_stat *hs = &host_stats[k];
    TRY(buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", hs->name, hs->help, hs->name, hs->type));
    for (size_t c = 0; c < clusters->len; c++) {
      const struct cluster *cl = clusters->items[c];
      for (size_t e = 0; e < cl->nhosts; e++) {
        const struct upstream *up = cl->hosts[e];
        uint64_t v = *(const uint64_t *)((const char *)&up->stats + hs->offset);
        TRY(buf_appendf(out, "%s{envoy_cluster_name=\"", hs->name));
        TRY(label_value(out, cl->name));
        TRY(buf_append_str(out, "\",upstream_host=\""));
        TRY(label_value(out, up->addr.text));
        TRY(buf_appendf(out, "\"} %llu\n", (unsigned long long)v));
      }
    }
  }
  return 0;
}

/* ---- local rate limit and mirror counters ------------------------------------------------------ */

static const struct {
  const char *name;
  size_t offset;
} rl_counters[] = {
    {"enabled", offsetof(struct ratelimit_counters, enabled)},
    {"enforced", offsetof(struct ratelimit_counters, enforced)},
    {"rate_limited", offsetof(struct ratelimit_counters, rate_limited)},
    {"ok", offsetof(struct ratelimit_counters, ok)},
};

/* Envoy's stats are keyed by name: listeners whose filters share a stat_prefix add into one
 * counter. Returns the sum over the slots with slot i's prefix, or -1 when an earlier slot
 * already had that prefix (it was printed then). */
static int64_t rl_sum(const struct ratelimit_buckets *rl, size_t i, size_t offset) {
  const char *prefix = rl->slots[i].stat_prefix;
  for (size_t k = 0; k < i; k++)
    if (rl->slots[k].used && strcmp(rl->slots[k].stat_prefix, prefix) == 0) return -1;
  uint64_t sum = 0;
  for (size_t k = i; k < RATELIMIT_MAX_BUCKETS; k++)
    if (rl->slots[k].used && strcmp(rl->slots[k].stat_prefix, prefix) == 0)
      sum += *(const uint64_t *)((const char *)&rl->slots[k].stats + offset);
  return (int64_t)sum;
}

static const struct {
  const char *name;
  size_t offset;
} mirror_counters[] = {
    {"sent", offsetof(struct mirror_stats, sent)},
    {"not_drawn", offsetof(struct mirror_stats, not_drawn)},
    {"body_not_kept", offsetof(struct mirror_stats, body_not_kept)},
    {"no_host", offsetof(struct mirror_stats, no_host)},
    {"responses", offsetof(struct mirror_stats, responses)},
    {"failed", offsetof(struct mirror_stats, failed)},
};

#define MIRROR_COUNTER(ms, k) (*(const uint64_t *)((const char *)(ms) + mirror_counters[k].offset))

int stats_write_policy_prometheus(struct buf *out, const struct ratelimit_buckets *rl, const struct mirror_stats *ms) {
  for (size_t i = 0; i < RATELIMIT_MAX_BUCKETS; i++) {
    if (!rl->slots[i].used) continue;
    /* Envoy's Prometheus names are the stat names with every character outside [a-zA-Z0-9_]
     * made '_', prefixed envoy_. */
    char prefix[sizeof rl->slots[i].stat_prefix];
    size_t n = 0;
    for (const char *p = rl->slots[i].stat_prefix; *p && n + 1 < sizeof prefix; p++, n++)
      prefix[n] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ? *p : '_';
    prefix[n] = '\0';
    for (size_t k = 0; k < sizeof rl_counters / sizeof rl_counters[0]; k++) {
      int64_t v = rl_sum(rl, i, rl_counters[k].offset);
      if (v < 0) break;
      char name[160];
      snprintf(name, sizeof name, "envoy_%s%shttp_local_rate_limit_%s", prefix, n ? "_" : "", rl_counters[k].name);
      TRY(counter(out, name, "Envoy local rate limit filter (envoy.filters.http.local_ratelimit)", (uint64_t)v));
    }
  }
  TRY(buf_append_str(out,
                     "# HELP meshlab_mirror_requests_total VirtualService mirror: shadow requests by outcome\n"
                     "# TYPE meshlab_mirror_requests_total counter\n"));
  for (size_t k = 0; k < sizeof mirror_counters / sizeof mirror_counters[0]; k++)
    TRY(buf_appendf(out, "meshlab_mirror_requests_total{outcome=\"%s\"} %llu\n", mirror_counters[k].name,
                    (unsigned long long)MIRROR_COUNTER(ms, k)));
  return 0;
}

int stats_write_policy_text(struct buf *out, const struct ratelimit_buckets *rl, const struct mirror_stats *ms) {
  for (size_t i = 0; i < RATELIMIT_MAX_BUCKETS; i++) {
    if (!rl->slots[i].used) continue;
    const char *prefix = rl->slots[i].stat_prefix;
    for (size_t k = 0; k < sizeof rl_counters / sizeof rl_counters[0]; k++) {
      int64_t v = rl_sum(rl, i, rl_counters[k].offset);
      if (v < 0) break;
      TRY(buf_appendf(out, "%s%shttp_local_rate_limit.%s: %lld\n", prefix, prefix[0] ? "." : "", rl_counters[k].name,
                      (long long)v));
    }
  }
  for (size_t k = 0; k < sizeof mirror_counters / sizeof mirror_counters[0]; k++)
    TRY(buf_appendf(out, "meshlab.mirror.%s: %llu\n", mirror_counters[k].name,
                    (unsigned long long)MIRROR_COUNTER(ms, k)));
  return 0;
}
