/* Istio's standard metrics: see telemetry.h. Label names and their order follow Istio's
 * metrics reference (istio.io docs/reference/config/metrics). */
#include "mesh/telemetry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/flags.h"
#include "mesh/hash.h"
#include "mesh/rand.h"

/* Istio's byte histograms use decades from 1 to 10^8. */
#define BYTE_BUCKETS 9
static const double byte_bounds[BYTE_BUCKETS] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

struct istio_series {
  uint64_t hash;
  char *labels; /* rendered once: `reporter="source",source_workload="...",...` */
  /* the values it was made from, to tell series apart on a hash collision */
  enum reporter reporter;
  struct peer source, destination;
  char service[160];
  char service_name[32]; /* the catch-all cluster's name, "" when it comes from service */
  int code;
  uint32_t flags;
  int mutual_tls;
  char source_principal[128], destination_principal[128];
  uint64_t requests;
  struct histogram duration;
  uint64_t req_bytes[BYTE_BUCKETS + 1], resp_bytes[BYTE_BUCKETS + 1];
  double req_bytes_sum, resp_bytes_sum;
  /* what the sink last reported (report.c diffs against these) */
  uint64_t reported_requests;
  uint64_t reported_duration[STATS_NBUCKETS + 1];
};

static const struct peer unknown_peer;

static uint64_t hash_str(uint64_t h, const char *s) { return fnv1a(fnv1a(h, s, strlen(s)), "", 1); }

static uint64_t hash_peer(uint64_t h, const struct peer *p) {
  h = hash_str(h, p->workload);
  h = hash_str(h, p->ns);
  h = hash_str(h, p->app);
  return hash_str(h, p->version);
}

static int same_peer(const struct peer *a, const struct peer *b) {
  return strcmp(a->workload, b->workload) == 0 && strcmp(a->ns, b->ns) == 0 && strcmp(a->app, b->app) == 0 &&
         strcmp(a->version, b->version) == 0;
}

static const char *or_unknown(const char *s) { return s && *s ? s : "unknown"; }

const char *telemetry_security_policy(enum reporter r, int mutual_tls) {
  return r == REPORTER_SOURCE ? "unknown" : mutual_tls ? "mutual_tls" : "none";
}

/* Copies n bytes of s into out (size cap), cut to fit, NUL-terminated. */
static void copy_cut(char *out, size_t cap, const char *s, size_t n) {
  if (n >= cap) n = cap - 1;
  memcpy(out, s, n);
  out[n] = '\0';
}

/* destination_service_name and _namespace come from the FQDN "name.ns.svc.cluster.local". */
static void service_parts(const char *fqdn, char *name, size_t nn, char *ns, size_t ns_n) {
  copy_cut(name, nn, "unknown", 7);
  copy_cut(ns, ns_n, "unknown", 7);
  if (!fqdn || !*fqdn) return;
  const char *dot = strchr(fqdn, '.');
  if (!dot) {
    copy_cut(name, nn, fqdn, strlen(fqdn));
    return;
  }
  copy_cut(name, nn, fqdn, (size_t)(dot - fqdn));
  const char *dot2 = strchr(dot + 1, '.');
  if (dot2 && strncmp(dot2, ".svc.", 5) == 0) copy_cut(ns, ns_n, dot + 1, (size_t)(dot2 - dot - 1));
}

static char *render_labels(const struct istio_series *s) {
  struct buf b = {0};
  char flags[64], svc_name[128], svc_ns[64];
  flags_format(s->flags, flags, sizeof flags);
  service_parts(s->service, svc_name, sizeof svc_name, svc_ns, sizeof svc_ns);
  if (s->service_name[0]) {
    copy_cut(svc_name, sizeof svc_name, s->service_name, strlen(s->service_name));
    copy_cut(svc_ns, sizeof svc_ns, "unknown", 7);
  }
  const struct peer *src = &s->source, *dst = &s->destination;
  buf_appendf(&b,
              "reporter=\"%s\",source_workload=\"%s\",source_workload_namespace=\"%s\",source_principal=\"%s\","
              "source_app=\"%s\",source_version=\"%s\",source_cluster=\"Kubernetes\","
              "destination_workload=\"%s\",destination_workload_namespace=\"%s\",destination_principal=\"%s\","
              "destination_app=\"%s\",destination_version=\"%s\",destination_service=\"%s\","
              "destination_service_name=\"%s\",destination_service_namespace=\"%s\",destination_cluster=\"Kubernetes\","
              "request_protocol=\"http\",response_code=\"%d\",grpc_response_status=\"\",response_flags=\"%s\","
              "connection_security_policy=\"%s\"",
              s->reporter == REPORTER_SOURCE ? "source" : "destination", or_unknown(src->workload), or_unknown(src->ns),
              or_unknown(s->source_principal), or_unknown(src->app), or_unknown(src->version),
              or_unknown(dst->workload), or_unknown(dst->ns), or_unknown(s->destination_principal),
              or_unknown(dst->app), or_unknown(dst->version), or_unknown(s->service), svc_name, svc_ns, s->code, flags,
              telemetry_security_policy(s->reporter, s->mutual_tls));
  return b.data;
}

static int grow(struct telemetry *t) {
  size_t cap = t->cap ? t->cap * 2 : 64;
  struct istio_series **table = calloc(cap, sizeof *table);
  if (!table) return -ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    struct istio_series *s = t->table[i];
    if (!s) continue;
    size_t k = s->hash & (cap - 1);
    while (table[k]) k = (k + 1) & (cap - 1);
    table[k] = s;
  }
  free(t->table);
  t->table = table;
  t->cap = cap;
  return 0;
}

static void count_bytes(uint64_t *buckets, double *sum, uint64_t v) {
  *sum += (double)v;
  for (int i = 0; i < BYTE_BUCKETS; i++)
    if ((double)v <= byte_bounds[i]) {
      buckets[i]++;
      return;
    }
  buckets[BYTE_BUCKETS]++;
}

void telemetry_touch(struct telemetry *t) {
  if (t->dirty) return;
  t->dirty = 1;
  if (t->on_dirty) t->on_dirty(t);
}

int telemetry_record(struct telemetry *t, const struct telemetry_request *r) {
  const struct peer *src = r->source ? r->source : &unknown_peer;
  const struct peer *dst = r->destination ? r->destination : &unknown_peer;
  const char *svc = r->service ? r->service : "";
  const char *svc_name = r->service_name ? r->service_name : "";
  uint64_t h = FNV1A_OFFSET;
  h = fnv1a(h, &r->reporter, sizeof r->reporter);
  h = hash_peer(h, src);
  h = hash_peer(h, dst);
  h = hash_str(h, svc);
  h = hash_str(h, svc_name);
  h = fnv1a(h, &r->code, sizeof r->code);
  h = fnv1a(h, &r->flags, sizeof r->flags);
  const char *sp = r->source_principal ? r->source_principal : "";
  const char *dp = r->destination_principal ? r->destination_principal : "";
  int mtls = r->mutual_tls != 0;
  h = fnv1a(h, &mtls, sizeof mtls);
  h = hash_str(h, sp);
  if ((t->len + 1) * 2 > t->cap && grow(t) != 0) return -ENOMEM;
  size_t k = h & (t->cap - 1);
  struct istio_series *s;
  while ((s = t->table[k])) {
    if (s->hash == h && s->reporter == r->reporter && s->code == r->code && s->flags == r->flags &&
        same_peer(&s->source, src) && same_peer(&s->destination, dst) && strcmp(s->service, svc) == 0 &&
        strcmp(s->service_name, svc_name) == 0 && s->mutual_tls == mtls && strcmp(s->source_principal, sp) == 0 &&
        strcmp(s->destination_principal, dp) == 0)
      break;
    k = (k + 1) & (t->cap - 1);
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->hash = h;
    s->reporter = r->reporter;
    s->source = *src;
    s->destination = *dst;
    snprintf(s->service, sizeof s->service, "%s", svc);
    snprintf(s->service_name, sizeof s->service_name, "%s", svc_name);
    s->code = r->code;
    s->flags = r->flags;
    s->mutual_tls = mtls;
    snprintf(s->source_principal, sizeof s->source_principal, "%s", sp);
    snprintf(s->destination_principal, sizeof s->destination_principal, "%s", dp);
    s->labels = render_labels(s);
    if (!s->labels) {
      free(s);
      return -ENOMEM;
    }
    t->table[k] = s;
    t->len++;
  }
  s->requests++;
  telemetry_touch(t);
  histogram_record(&s->duration, r->duration_ms);
  count_bytes(s->req_bytes, &s->req_bytes_sum, r->request_bytes);
  count_bytes(s->resp_bytes, &s->resp_bytes_sum, r->response_bytes);
  return 0;
}

#define TRY(x)                    \
  do {                            \
    if ((x) != 0) return -ENOMEM; \
  } while (0)

static int write_bytes_family(struct buf *out, const struct telemetry *t, const char *name, const char *help,
                              int request) {
  TRY(buf_appendf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name));
  for (size_t i = 0; i < t->cap; i++) {
    const struct istio_series *s = t->table[i];
    if (!s) continue;
    const uint64_t *b = request ? s->req_bytes : s->resp_bytes;
    uint64_t cum = 0;
    for (int k = 0; k < BYTE_BUCKETS; k++) {
      cum += b[k];
      TRY(buf_appendf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, s->labels, byte_bounds[k], (unsigned long long)cum));
    }
    TRY(buf_appendf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, s->labels, (unsigned long long)s->requests));
    TRY(buf_appendf(out, "%s_sum{%s} %.0f\n", name, s->labels, request ? s->req_bytes_sum : s->resp_bytes_sum));
    TRY(buf_appendf(out, "%s_count{%s} %llu\n", name, s->labels, (unsigned long long)s->requests));
  }
  return 0;
}

int telemetry_write_prometheus(struct buf *out, const struct telemetry *t) {
  if (!t->len) return 0;
  TRY(buf_append_str(out,
                     "# HELP istio_requests_total Requests, by Istio's standard labels\n"
                     "# TYPE istio_requests_total counter\n"));
  for (size_t i = 0; i < t->cap; i++)
    if (t->table[i])
      TRY(buf_appendf(out, "istio_requests_total{%s} %llu\n", t->table[i]->labels,
                      (unsigned long long)t->table[i]->requests));
  TRY(buf_append_str(out,
                     "# HELP istio_request_duration_milliseconds Request duration\n"
                     "# TYPE istio_request_duration_milliseconds histogram\n"));
  for (size_t i = 0; i < t->cap; i++) {
    const struct istio_series *s = t->table[i];
    if (!s) continue;
    uint64_t cum = 0;
    for (int k = 0; k < STATS_NBUCKETS; k++) {
      cum += s->duration.buckets[k];
      TRY(buf_appendf(out, "istio_request_duration_milliseconds_bucket{%s,le=\"%g\"} %llu\n", s->labels,
                      stats_bucket_bounds[k], (unsigned long long)cum));
    }
    TRY(buf_appendf(out, "istio_request_duration_milliseconds_bucket{%s,le=\"+Inf\"} %llu\n", s->labels,
                    (unsigned long long)s->duration.count));
    TRY(buf_appendf(out, "istio_request_duration_milliseconds_sum{%s} %.3f\n", s->labels, s->duration.sum));
    TRY(buf_appendf(out, "istio_request_duration_milliseconds_count{%s} %llu\n", s->labels,
                    (unsigned long long)s->duration.count));
  }
  TRY(write_bytes_family(out, t, "istio_request_bytes", "Request body sizes", 1));
  TRY(write_bytes_family(out, t, "istio_response_bytes", "Response body sizes", 0));
  return 0;
}

void telemetry_peer_format(const struct peer *p, char *out, size_t n) {
  snprintf(out, n, "%s;%s;%s;%s", p->workload, p->ns, p->app, p->version);
}

int telemetry_peer_parse(struct slice v, struct peer *out) {
  memset(out, 0, sizeof *out);
  char *fields[4] = {out->workload, out->ns, out->app, out->version};
  size_t sizes[4] = {sizeof out->workload, sizeof out->ns, sizeof out->app, sizeof out->version};
  size_t f = 0, k = 0;
  for (size_t i = 0; i < v.n; i++) {
    char c = v.p[i];
    if (c == ';') {
      if (++f == 4) return -EINVAL;
      k = 0;
      continue;
    }
    /* label values go into the exposition: keep to a safe alphabet */
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
          c == '_'))
      return -EINVAL;
    if (k + 1 >= sizes[f]) return -EINVAL;
    fields[f][k++] = c;
    fields[f][k] = '\0';
  }
  return f == 3 ? 0 : -EINVAL;
}

void telemetry_peer_set(struct peer *p, const char *workload, const char *ns, const char *app, const char *version) {
  snprintf(p->workload, sizeof p->workload, "%s", workload ? workload : "");
  snprintf(p->ns, sizeof p->ns, "%s", ns ? ns : "");
  snprintf(p->app, sizeof p->app, "%s", app ? app : "");
  snprintf(p->version, sizeof p->version, "%s", version ? version : "");
}

size_t telemetry_take_deltas(struct telemetry *t, telemetry_delta_cb cb, void *data) {
  size_t n = 0;
  t->dirty = 0;
  for (size_t i = 0; i < t->cap; i++) {
    struct istio_series *s = t->table[i];
    if (!s || s->requests == s->reported_requests) continue;
    struct telemetry_delta d = {0};
    d.reporter = s->reporter;
    d.source = &s->source;
    d.destination = &s->destination;
    d.service = s->service;
    d.code = s->code;
    d.flags = s->flags;
    d.mutual_tls = s->mutual_tls;
    d.requests = s->requests - s->reported_requests;
    /* stats.h's histogram keeps no overflow bucket: it is what count has beyond the buckets */
    uint64_t in_buckets = 0;
    for (int k = 0; k < STATS_NBUCKETS; k++) {
      d.duration[k] = s->duration.buckets[k] - s->reported_duration[k];
      s->reported_duration[k] = s->duration.buckets[k];
      in_buckets += s->duration.buckets[k];
    }
    uint64_t over = s->duration.count - in_buckets;
    d.duration[STATS_NBUCKETS] = over - s->reported_duration[STATS_NBUCKETS];
    s->reported_duration[STATS_NBUCKETS] = over;
    s->reported_requests = s->requests;
    cb(data, &d);
    n++;
  }
  return n;
}

struct telemetry_sample *telemetry_sample_slot(struct telemetry *t, struct rng *r) {
  uint64_t seen = t->offered++;
  if (t->nsamples < TELEMETRY_SAMPLES) return &t->samples[t->nsamples++];
  /* keep this one with probability TELEMETRY_SAMPLES / (seen + 1), in place of a random one */
  uint64_t j = seen < UINT32_MAX ? rng_below(r, (uint32_t)seen + 1) : rng_next(r) % (seen + 1);
  return j < TELEMETRY_SAMPLES ? &t->samples[j] : NULL;
}

size_t telemetry_take_samples(struct telemetry *t, struct telemetry_sample *out) {
  size_t n = t->nsamples;
  memcpy(out, t->samples, n * sizeof *out);
  /* oldest first: the reservoir's order is arbitrary once slots were replaced */
  for (size_t i = 1; i < n; i++) {
    struct telemetry_sample x = out[i];
    size_t k = i;
    for (; k > 0 && out[k - 1].time_ms > x.time_ms; k--) out[k] = out[k - 1];
    out[k] = x;
  }
  t->nsamples = 0;
  t->offered = 0;
  return n;
}

void telemetry_free(struct telemetry *t) {
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->table[i]) continue;
    free(t->table[i]->labels);
    free(t->table[i]);
  }
  free(t->table);
  t->table = NULL;
  t->cap = t->len = 0;
}
