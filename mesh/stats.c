/* Counters, histogram and Prometheus text: see stats.h. */
#include "mesh/stats.h"

#include <string.h>

#include "mesh/flags.h"
#include "mesh/clusters.h"

const double stats_bucket_bounds[STATS_NBUCKETS] = {0.5,    1,      5,      10,      25,      50,     100,
                                                     250,    500,    1000,   2500,    5000,    10000,  30000,
                                                     60000,  300000, 600000, 1800000, 3600000};

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

#define TRY(x) do { if ((x) != 0) return -12; } while (0)

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
    {"envoy_cluster_upstream_cx_total", "Upstream connections opened", "counter", offsetof(struct upstream_stats, cx_total)},
    {"envoy_cluster_upstream_cx_active", "Upstream connections open (busy and pooled)", "gauge", offsetof(struct upstream_stats, cx_active)},
    {"envoy_cluster_upstream_cx_connect_fail", "Upstream connection failures", "counter", offsetof(struct upstream_stats, cx_connect_fail)},
    {"meshlab_cluster_upstream_cx_idle", "Upstream connections pooled idle, ready for reuse", "gauge", offsetof(struct upstream_stats, cx_idle)},
    {"envoy_cluster_upstream_rq_total", "Requests sent upstream", "counter", offsetof(struct upstream_stats, rq_total)},
    {"envoy_cluster_upstream_rq_active", "Requests in flight upstream", "gauge", offsetof(struct upstream_stats, rq_active)},
    {"envoy_cluster_upstream_rq_timeout", "Upstream requests that timed out", "counter", offsetof(struct upstream_stats, rq_timeout)},
};

int stats_write_prometheus(struct buf *out, const struct proxy_stats *s, const struct cluster_manager *clusters) {
  TRY(counter(out, "envoy_http_downstream_cx_total", "Downstream connections accepted", s->downstream_cx_total));
  TRY(gauge(out, "envoy_http_downstream_cx_active", "Downstream connections open", s->downstream_cx_active));
  TRY(counter(out, "envoy_http_downstream_rq_total", "Downstream requests", s->downstream_rq_total));
  TRY(gauge(out, "envoy_http_downstream_rq_active", "Downstream requests in flight", s->downstream_rq_active));
  TRY(counter(out, "envoy_http_downstream_cx_protocol_error", "Downstream messages refused as malformed",
              s->downstream_cx_protocol_error));
  TRY(counter(out, "envoy_http_downstream_rq_header_timeout", "Downstream requests whose headers did not arrive in time",
              s->downstream_rq_timeout));

  TRY(buf_append_str(out, "# HELP meshlab_requests_total Requests by response code and Envoy response flags\n"
                          "# TYPE meshlab_requests_total counter\n"));
  for (size_t i = 0; i < s->nby_code; i++) {
    char flags[64];
    flags_format(s->by_code[i].flags, flags, sizeof flags);
    TRY(buf_appendf(out, "meshlab_requests_total{response_code=\"%d\",response_flags=\"%s\"} %llu\n",
                    s->by_code[i].code, flags, (unsigned long long)s->by_code[i].n));
  }

  TRY(buf_append_str(out, "# HELP meshlab_request_duration_milliseconds Request duration, first byte in to last byte out\n"
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
