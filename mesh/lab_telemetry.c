/* The lab's telemetry sink: the clusters' latest state (lab_telemetry.h, pure), then the lab
 * glue (lab.h): ingesting sidecar reports, answering GET /v1/metrics and GET /v1/requests, the
 * once-a-second tick, and the journal every event is appended to. The per-second series and
 * the request log ring they fill are lab_series.c's.
 *
 * Besides lab_api.c, the only lab file that includes jansson: reports arrive as JSON and the
 * answers are JSON.
 */
#include "mesh/lab_telemetry.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "mesh/flags.h"
#include "mesh/lab.h"

/* ---- the clusters' latest state (pure) ------------------------------------------------------- */

void labtel_cluster_free(struct labtel_cluster *c) {
  if (!c) return;
  free(c->hosts);
  free(c);
}

static int cluster_cmp(const struct labtel_cluster *a, const char *node, const char *name) {
  int c = strcmp(a->node, node);
  return c ? c : strcmp(a->name, name);
}

/* The index of (node, name) in t's sorted clusters, or where it would go (*found false). */
static size_t cluster_find(const struct labtel *t, const char *node, const char *name, bool *found) {
  size_t lo = 0, hi = t->nclusters;
  *found = false;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = cluster_cmp(t->clusters[mid], node, name);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int labtel_cluster_put(struct labtel *t, struct labtel_cluster *c, struct labtel_cluster **old) {
  bool found;
  size_t i = cluster_find(t, c->node, c->name, &found);
  *old = NULL;
  if (found) {
    *old = t->clusters[i];
    t->clusters[i] = c;
    return 0;
  }
  if (t->nclusters >= LABTEL_MAX_CLUSTERS) {
    labtel_cluster_free(c);
    return -ENOSPC;
  }
  if (t->nclusters == t->clusters_cap) {
    size_t cap = t->clusters_cap ? t->clusters_cap * 2 : 16;
    struct labtel_cluster **a = realloc(t->clusters, cap * sizeof *a);
    if (!a) {
      labtel_cluster_free(c);
      return -ENOMEM;
    }
    t->clusters = a;
    t->clusters_cap = cap;
  }
  memmove(&t->clusters[i + 1], &t->clusters[i], (t->nclusters - i) * sizeof *t->clusters);
  t->clusters[i] = c;
  t->nclusters++;
  return 0;
}

void labtel_clusters_forget(struct labtel *t, const char *node) {
  size_t k = 0;
  for (size_t i = 0; i < t->nclusters; i++) {
    if (strcmp(t->clusters[i]->node, node) == 0) labtel_cluster_free(t->clusters[i]);
    else t->clusters[k++] = t->clusters[i];
  }
  t->nclusters = k;
}

static const struct labtel_host *host_named(const struct labtel_cluster *c, const char *address) {
  for (size_t i = 0; c && i < c->nhosts; i++)
    if (strcmp(c->hosts[i].address, address) == 0) return &c->hosts[i];
  return NULL;
}

size_t labtel_cluster_changes(const struct labtel_cluster *old, const struct labtel_cluster *now,
                              struct labtel_change *out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < now->nhosts; i++) {
    const struct labtel_host *h = &now->hosts[i], *was = host_named(old, h->address);
    bool was_ejected = was && was->ejected;
    /* an ejection the caller saw begin and end between two reports still shows in its count */
    bool ejected_since = was && h->times_ejected > was->times_ejected;
    if (!was_ejected && (h->ejected || ejected_since)) {
      if (n < max) out[n] = (struct labtel_change){LABTEL_HOST_EJECTED, h, NULL, 0, 0};
      n++;
    }
    if (!h->ejected && (was_ejected || ejected_since)) {
      if (n < max) out[n] = (struct labtel_change){LABTEL_HOST_RETURNED, h, NULL, 0, 0};
      n++;
    }
  }
  const struct {
    const char *name;
    uint64_t was, now;
  } counters[] = {
      {"upstream_cx_overflow", old ? old->cx_overflow : 0, now->cx_overflow},
      {"upstream_rq_pending_overflow", old ? old->rq_pending_overflow : 0, now->rq_pending_overflow},
      {"upstream_rq_retry_overflow", old ? old->rq_retry_overflow : 0, now->rq_retry_overflow},
  };
  for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
    /* a restarted sidecar starts again from 0: the whole count is new */
    uint64_t was = counters[i].now < counters[i].was ? 0 : counters[i].was;
    if (counters[i].now == was) continue;
    if (n < max)
      out[n] = (struct labtel_change){LABTEL_OVERFLOW, NULL, counters[i].name, counters[i].now, counters[i].now - was};
    n++;
  }
  return n;
}

void labtel_free(struct labtel *t) {
  for (size_t i = 0; i < t->len; i++) free(t->series[i]);
  free(t->series);
  free(t->log);
  for (size_t i = 0; i < t->nclusters; i++) labtel_cluster_free(t->clusters[i]);
  free(t->clusters);
  memset(t, 0, sizeof *t);
}

/* ---- the lab glue: reports in, queries out, the journal ------------------------------------- */

/* The clock of the series: whole seconds of the loop's monotonic time. */
static int64_t lab_now_s(const struct lab *lab) { return (int64_t)(uv_now(lab->loop) / 1000); }

static void copy_cut(char *out, size_t cap, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(out, s, n);
  out[n] = '\0';
}

static const char *str_of(json_t *o, const char *key) {
  const char *v = json_string_value(json_object_get(o, key));
  return v ? v : "";
}

static uint64_t uint_of(json_t *o, const char *key) {
  json_int_t v = json_integer_value(json_object_get(o, key));
  return v > 0 ? (uint64_t)v : 0;
}

static uint32_t u32_of(json_t *o, const char *key) {
  uint64_t v = uint_of(o, key);
  return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int64_t int_of(json_t *o, const char *key) { return json_integer_value(json_object_get(o, key)); }

/* One entry of a report's "clusters" (report.h) into c. */
static int cluster_from_json(json_t *o, struct labtel_cluster *c) {
  copy_cut(c->name, sizeof c->name, str_of(o, "name"));
  copy_cut(c->direction, sizeof c->direction, str_of(o, "direction"));
  copy_cut(c->service, sizeof c->service, str_of(o, "service"));
  json_t *l = json_object_get(o, "limits");
  c->max_connections = u32_of(l, "max_connections");
  c->max_pending_requests = u32_of(l, "max_pending_requests");
  c->max_requests = u32_of(l, "max_requests");
  c->max_retries = u32_of(l, "max_retries");
  c->max_requests_per_connection = u32_of(l, "max_requests_per_connection");
  c->cx_active = u32_of(o, "cx_active");
  c->rq_pending_active = u32_of(o, "rq_pending_active");
  c->rq_active = u32_of(o, "rq_active");
  c->rq_retry_active = u32_of(o, "rq_retry_active");
  c->cx_overflow = uint_of(o, "upstream_cx_overflow");
  c->rq_pending_overflow = uint_of(o, "upstream_rq_pending_overflow");
  c->rq_retry_overflow = uint_of(o, "upstream_rq_retry_overflow");
  json_t *od = json_object_get(o, "outlier");
  c->outlier_enabled = json_is_true(json_object_get(od, "enabled"));
  c->consecutive_5xx = u32_of(od, "consecutive_5xx");
  c->consecutive_gateway = u32_of(od, "consecutive_gateway_errors");
  c->interval_ms = int_of(od, "interval_ms");
  c->base_ejection_ms = int_of(od, "base_ejection_ms");
  c->max_ejection_percent = u32_of(od, "max_ejection_percent");
  c->ejections_active = uint_of(od, "ejections_active");
  c->ejections_total = uint_of(od, "ejections_total");
  c->ejections_overflow = uint_of(od, "ejections_overflow");
  json_t *hosts = json_object_get(o, "hosts"), *h;
  size_t n = json_array_size(hosts), i;
  if (n && !(c->hosts = calloc(n, sizeof *c->hosts))) return -ENOMEM;
  json_array_foreach(hosts, i, h) {
    struct labtel_host *x = &c->hosts[c->nhosts++];
    copy_cut(x->address, sizeof x->address, str_of(h, "address"));
    copy_cut(x->replica, sizeof x->replica, str_of(h, "replica"));
    copy_cut(x->health, sizeof x->health, str_of(h, "health"));
    x->rq_active = uint_of(h, "rq_active");
    x->cx_active = uint_of(h, "cx_active");
    x->rq_total = uint_of(h, "rq_total");
    x->rq_error = uint_of(h, "rq_error");
    x->times_ejected = uint_of(h, "times_ejected");
    x->consecutive_5xx = u32_of(h, "consecutive_5xx");
    x->consecutive_gateway = u32_of(h, "consecutive_gateway_errors");
    x->ejected = json_is_true(json_object_get(h, "ejected"));
    x->ejection_remaining_ms = int_of(h, "ejection_remaining_ms");
  }
  return 0;
}

static int clusters_from_json(json_t *arr, const char *node, int64_t now_ms, struct labtel_cluster ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t len = json_array_size(arr), i;
  if (!len) return 0;
  struct labtel_cluster **a = calloc(len, sizeof *a);
  if (!a) return -ENOMEM;
  json_t *item;
  json_array_foreach(arr, i, item) {
    struct labtel_cluster *c = calloc(1, sizeof *c);
    if (!c || cluster_from_json(item, c) != 0) {
      labtel_cluster_free(c);
      for (size_t k = 0; k < *n; k++) labtel_cluster_free(a[k]);
      free(a);
      *n = 0;
      return -ENOMEM;
    }
    copy_cut(c->node, sizeof c->node, node);
    c->reported_ms = now_ms;
    a[(*n)++] = c;
  }
  *out = a;
  return 0;
}

int labtel_clusters_parse(const char *body, size_t len, const char *node, int64_t now_ms, struct labtel_cluster ***out,
                          size_t *n) {
  *out = NULL;
  *n = 0;
  json_t *root = json_loadb(body, len, 0, NULL);
  if (!root || !json_is_object(root)) {
    json_decref(root);
    return -EINVAL;
  }
  int rc = clusters_from_json(json_object_get(root, "clusters"), node, now_ms, out, n);
  json_decref(root);
  return rc;
}

/* The journal's events for what changed in a cluster (docs/telemetry.md, "The journal"). */
static void journal_cluster_changes(struct lab *lab, const struct labtel_cluster *old, const struct labtel_cluster *c) {
  struct labtel_change ch[16];
  size_t n = labtel_cluster_changes(old, c, ch, sizeof ch / sizeof ch[0]);
  if (n > sizeof ch / sizeof ch[0]) n = sizeof ch / sizeof ch[0];
  struct buf q[5] = {{0}};
  for (size_t i = 0; i < n; i++) {
    const char *caller = lab_json_quote(&q[0], c->node), *name = lab_json_quote(&q[1], c->name);
    const char *svc = lab_json_quote(&q[2], c->service);
    switch (ch[i].kind) {
    case LABTEL_HOST_EJECTED:
    case LABTEL_HOST_RETURNED: {
      const struct labtel_host *h = ch[i].host;
      lab_journal(lab, ch[i].kind == LABTEL_HOST_EJECTED ? "host_ejected" : "host_returned",
                  "\"replica\":%s,\"cluster\":%s,\"service\":%s,\"host\":%s,\"host_replica\":%s,"
                  "\"times_ejected\":%llu,\"ejection_remaining_ms\":%lld",
                  caller, name, svc, lab_json_quote(&q[3], h->address), lab_json_quote(&q[4], h->replica),
                  (unsigned long long)h->times_ejected, (long long)h->ejection_remaining_ms);
      break;
    }
    case LABTEL_OVERFLOW:
      lab_journal(lab, "overflow",
                  "\"replica\":%s,\"cluster\":%s,\"service\":%s,\"counter\":\"%s\",\"value\":%llu,\"delta\":%llu",
                  caller, name, svc, ch[i].counter, (unsigned long long)ch[i].value, (unsigned long long)ch[i].delta);
      break;
    }
  }
  for (size_t i = 0; i < 5; i++) buf_free(&q[i]);
}

/* A report's clusters replace what the lab knew of them; what changed goes to the journal. */
static int ingest_clusters(struct lab *lab, const char *node, json_t *arr) {
  struct labtel_cluster **cs;
  size_t n;
  int rc = clusters_from_json(arr, node, (int64_t)uv_now(lab->loop), &cs, &n);
  for (size_t i = 0; i < n; i++) {
    struct labtel_cluster *old = NULL, *c = cs[i];
    /* the journal first: put takes c (and frees it when it cannot keep it) */
    struct labtel_cluster *prev = NULL;
    bool found;
    size_t k = cluster_find(&lab->tel, c->node, c->name, &found);
    if (found) prev = lab->tel.clusters[k];
    journal_cluster_changes(lab, prev, c);
    if (labtel_cluster_put(&lab->tel, c, &old) == -ENOMEM) rc = -ENOMEM;
    labtel_cluster_free(old);
  }
  free(cs);
  return rc;
}

int lab_telemetry_ingest(struct lab *lab, const char *node, const char *body, size_t len, char *err, size_t errlen) {
  json_error_t je;
  json_t *root = json_loadb(body, len, 0, &je);
  if (!root || !json_is_object(root)) {
    snprintf(err, errlen, "the report is not a JSON object (line %d: %s)", je.line, je.text);
    json_decref(root);
    return -EINVAL;
  }
  int64_t now = lab_now_s(lab);
  json_t *series = json_object_get(root, "series"), *item;
  size_t i;
  int rc = 0;
  json_array_foreach(series, i, item) {
    struct labtel_key k = {0};
    k.reporter = strcmp(str_of(item, "reporter"), "destination") == 0 ? REPORTER_DESTINATION : REPORTER_SOURCE;
    const char *policy = str_of(item, "connection_security_policy");
    k.security = strcmp(policy, "mutual_tls") == 0 ? LABTEL_SECURITY_MUTUAL_TLS
                 : strcmp(policy, "none") == 0     ? LABTEL_SECURITY_NONE
                                                   : LABTEL_SECURITY_UNKNOWN;
    copy_cut(k.source_workload, sizeof k.source_workload, str_of(item, "source_workload"));
    copy_cut(k.source_version, sizeof k.source_version, str_of(item, "source_version"));
    copy_cut(k.destination_workload, sizeof k.destination_workload, str_of(item, "destination_workload"));
    copy_cut(k.destination_version, sizeof k.destination_version, str_of(item, "destination_version"));
    copy_cut(k.service, sizeof k.service, str_of(item, "destination_service"));
    k.code = (int)uint_of(item, "response_code");
    k.flags = (uint32_t)uint_of(item, "response_flags");
    uint64_t d[LABTEL_BUCKETS] = {0};
    json_t *b = json_object_get(item, "duration_buckets"), *v;
    size_t j;
    json_array_foreach(b, j, v) {
      if (j < LABTEL_BUCKETS && json_integer_value(v) > 0) d[j] = (uint64_t)json_integer_value(v);
    }
    int r = labtel_add(&lab->tel, now, &k, uint_of(item, "requests"), d);
    if (r == -ENOMEM) rc = r;
  }
  json_t *reqs = json_object_get(root, "requests");
  json_array_foreach(reqs, i, item) {
    struct telemetry_sample s = {0};
    s.reporter = strcmp(str_of(item, "reporter"), "destination") == 0 ? REPORTER_DESTINATION : REPORTER_SOURCE;
    copy_cut(s.request_id, sizeof s.request_id, str_of(item, "request_id"));
    s.time_ms = json_integer_value(json_object_get(item, "time_ms"));
    copy_cut(s.method, sizeof s.method, str_of(item, "method"));
    copy_cut(s.path, sizeof s.path, str_of(item, "path"));
    copy_cut(s.authority, sizeof s.authority, str_of(item, "authority"));
    copy_cut(s.upstream_host, sizeof s.upstream_host, str_of(item, "upstream_host"));
    copy_cut(s.source_workload, sizeof s.source_workload, str_of(item, "source_workload"));
    copy_cut(s.service, sizeof s.service, str_of(item, "destination_service"));
    s.code = (int)uint_of(item, "response_code");
    s.flags = (uint32_t)uint_of(item, "response_flags");
    s.duration_ms = json_number_value(json_object_get(item, "duration_ms"));
    if (labtel_log_add(&lab->tel, node, &s) != 0) rc = -ENOMEM;
  }
  if (ingest_clusters(lab, node, json_object_get(root, "clusters")) != 0) rc = -ENOMEM;
  lab->tel_reports++;
  json_decref(root);
  if (rc) snprintf(err, errlen, "out of memory");
  return rc;
}

static json_t *flags_json(uint32_t flags) {
  char text[128];
  flags_format(flags, text, sizeof text);
  return json_string(text);
}

/* One summary as JSON (docs/telemetry.md). */
static json_t *summary_json(const struct labtel_summary *s) {
  json_t *o = json_object();
  json_object_set_new(o, "requests", json_integer((json_int_t)s->requests));
  json_object_set_new(o, "rate_rps", json_real(s->rps));
  json_object_set_new(o, "success_ratio", s->requests ? json_real(s->success_ratio) : json_null());
  json_t *lat = json_object();
  json_object_set_new(lat, "p50", json_real(s->p50));
  json_object_set_new(lat, "p90", json_real(s->p90));
  json_object_set_new(lat, "p99", json_real(s->p99));
  json_object_set_new(o, "latency_ms", lat);
  json_t *share = json_object();
  for (size_t i = 0; i < s->nversions; i++)
    json_object_set_new(share, s->versions[i].version[0] ? s->versions[i].version : "unknown",
                        json_real((double)s->versions[i].n / (double)s->requests));
  json_object_set_new(o, "share_by_destination_version", share);
  json_t *codes = json_object();
  for (size_t i = 0; i < s->ncodes; i++) {
    char code[16];
    snprintf(code, sizeof code, "%d", s->codes[i].code);
    json_object_set_new(codes, code, json_integer((json_int_t)s->codes[i].n));
  }
  json_object_set_new(o, "by_response_code", codes);
  json_t *flags = json_object();
  for (size_t i = 0; i < s->nflags; i++) {
    char text[128];
    flags_format(s->flags[i].flags, text, sizeof text);
    json_t *prev = json_object_get(flags, text);
    json_object_set_new(flags, text, json_integer((json_int_t)s->flags[i].n + (prev ? json_integer_value(prev) : 0)));
  }
  json_object_set_new(o, "by_response_flags", flags);
  /* one word for the dashboard's edge mark, and the counts behind it */
  const char *policy = s->mutual_tls && s->plaintext ? "mixed"
                       : s->mutual_tls               ? "mutual_tls"
                       : s->plaintext                ? "none"
                                                     : "unknown";
  json_object_set_new(o, "connection_security_policy", json_string(policy));
  json_t *carried = json_object();
  json_object_set_new(carried, "mutual_tls", json_integer((json_int_t)s->mutual_tls));
  json_object_set_new(carried, "none", json_integer((json_int_t)s->plaintext));
  json_object_set_new(o, "by_connection_security_policy", carried);
  return o;
}

void lab_metrics_json(struct lab *lab, const struct labtel_query *q, bool by_service, struct buf *out) {
  int64_t now = lab_now_s(lab);
  struct labtel_summary *s = malloc(sizeof *s);
  if (!s) return;
  json_t *root = json_object();
  json_object_set_new(root, "window_seconds", json_integer(q->window_s));
  json_object_set_new(root, "reporter",
                      json_string(q->reporter == REPORTER_SOURCE        ? "source"
                                  : q->reporter == REPORTER_DESTINATION ? "destination"
                                                                        : "any"));
  if (q->destination_service) json_object_set_new(root, "destination_service", json_string(q->destination_service));
  if (q->source_workload) json_object_set_new(root, "source_workload", json_string(q->source_workload));
  /* how many reports the lab took in so far: lets a test see that idle sidecars stay quiet */
  json_object_set_new(root, "reports_received", json_integer((json_int_t)lab->tel_reports));
  labtel_query(&lab->tel, now, q, s);
  json_object_update_new(root, summary_json(s));
  if (by_service) {
    const char *names[256];
    size_t n = labtel_services(&lab->tel, now, q, names, sizeof names / sizeof names[0]);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
      struct labtel_query one = *q;
      one.destination_service = names[i];
      labtel_query(&lab->tel, now, &one, s);
      json_t *o = json_object();
      json_object_set_new(o, "destination_service", json_string(names[i][0] ? names[i] : "unknown"));
      json_object_update_new(o, summary_json(s));
      json_array_append_new(arr, o);
    }
    json_object_set_new(root, "services", arr);
  }
  free(s);
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
  if (text) buf_appendf(out, "%s\n", text);
  free(text);
  json_decref(root);
}

/* "v1 51%, v3 49%" / "UO 3, UF 1" cells of the top table. */
static void share_cell(struct buf *out, const struct labtel_summary *s) {
  for (size_t i = 0; i < s->nversions; i++)
    buf_appendf(out, "%s%s %.0f%%", i ? "," : "", s->versions[i].version[0] ? s->versions[i].version : "unknown",
                100.0 * (double)s->versions[i].n / (double)s->requests);
}

static void flags_cell(struct buf *out, const struct labtel_summary *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->nflags; i++) {
    if (!s->flags[i].flags) continue;
    char text[128];
    flags_format(s->flags[i].flags, text, sizeof text);
    buf_appendf(out, "%s%s %llu", n++ ? "," : "", text, (unsigned long long)s->flags[i].n);
  }
  if (!n) buf_append_str(out, "-");
}

void lab_metrics_table(struct lab *lab, const struct labtel_query *q, struct buf *out) {
  int64_t now = lab_now_s(lab);
  struct labtel_summary *s = malloc(sizeof *s);
  if (!s) return;
  const char *names[256];
  size_t n = labtel_services(&lab->tel, now, q, names, sizeof names / sizeof names[0]);
  struct buf tsv = {0};
  buf_append_str(&tsv, "DESTINATION SERVICE\tRPS\tSUCCESS\tP50\tP99\tVERSIONS\tFLAGS\n");
  for (size_t i = 0; i < n; i++) {
    struct labtel_query one = *q;
    one.destination_service = names[i];
    labtel_query(&lab->tel, now, &one, s);
    buf_appendf(&tsv, "%s\t%.1f\t%.1f%%\t%.1fms\t%.1fms\t", names[i][0] ? names[i] : "unknown", s->rps,
                100.0 * s->success_ratio, s->p50, s->p99);
    share_cell(&tsv, s);
    buf_append_str(&tsv, "\t");
    flags_cell(&tsv, s);
    buf_append_str(&tsv, "\n");
  }
  lab_table_render(out, buf_cstr(&tsv));
  buf_free(&tsv);
  if (!n) buf_appendf(out, "(no requests in the last %llds)\n", (long long)q->window_s);
  free(s);
}

void lab_requests_json(struct lab *lab, size_t limit, const char *service, struct buf *out) {
  json_t *arr = json_array();
  /* newest `limit` matching records, printed oldest first, as a log reads */
  size_t picked[LABTEL_LOG], n = 0;
  for (size_t i = 0; n < limit && n < LABTEL_LOG; i++) {
    const struct labtel_record *r = labtel_log_get(&lab->tel, i);
    if (!r) break;
    if (service && *service && strcmp(r->s.service, service) != 0) continue;
    picked[n++] = i;
  }
  while (n--) {
    const struct labtel_record *r = labtel_log_get(&lab->tel, picked[n]);
    const struct telemetry_sample *s = &r->s;
    json_t *o = json_object();
    json_object_set_new(o, "request_id", json_string(s->request_id));
    json_object_set_new(o, "time_ms", json_integer(s->time_ms));
    json_object_set_new(o, "node", json_string(r->node));
    json_object_set_new(o, "reporter", json_string(s->reporter == REPORTER_SOURCE ? "source" : "destination"));
    json_object_set_new(o, "method", json_string(s->method));
    json_object_set_new(o, "path", json_string(s->path));
    json_object_set_new(o, "authority", json_string(s->authority));
    json_object_set_new(o, "response_code", json_integer(s->code));
    json_object_set_new(o, "response_flags", flags_json(s->flags));
    json_object_set_new(o, "duration_ms", json_real(s->duration_ms));
    json_object_set_new(o, "upstream_host", json_string(s->upstream_host));
    json_object_set_new(o, "source_workload", json_string(s->source_workload));
    json_object_set_new(o, "destination_service", json_string(s->service));
    json_array_append_new(arr, o);
  }
  char *text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
  if (text) buf_appendf(out, "%s\n", text);
  free(text);
  json_decref(arr);
}

static json_t *cluster_json(const struct labtel_cluster *c, int64_t now_ms) {
  int64_t age = now_ms > c->reported_ms ? now_ms - c->reported_ms : 0;
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(c->name));
  json_object_set_new(o, "direction", json_string(c->direction));
  json_object_set_new(o, "service", json_string(c->service));
  json_object_set_new(o, "reported_ms", json_integer(age));
  json_t *l = json_object();
  json_object_set_new(l, "max_connections", json_integer(c->max_connections));
  json_object_set_new(l, "max_pending_requests", json_integer(c->max_pending_requests));
  json_object_set_new(l, "max_requests", json_integer(c->max_requests));
  json_object_set_new(l, "max_retries", json_integer(c->max_retries));
  json_object_set_new(l, "max_requests_per_connection", json_integer(c->max_requests_per_connection));
  json_object_set_new(o, "limits", l);
  json_object_set_new(o, "cx_active", json_integer(c->cx_active));
  json_object_set_new(o, "rq_pending_active", json_integer(c->rq_pending_active));
  json_object_set_new(o, "rq_active", json_integer(c->rq_active));
  json_object_set_new(o, "rq_retry_active", json_integer(c->rq_retry_active));
  json_object_set_new(o, "upstream_cx_overflow", json_integer((json_int_t)c->cx_overflow));
  json_object_set_new(o, "upstream_rq_pending_overflow", json_integer((json_int_t)c->rq_pending_overflow));
  json_object_set_new(o, "upstream_rq_retry_overflow", json_integer((json_int_t)c->rq_retry_overflow));
  json_t *od = json_object();
  json_object_set_new(od, "enabled", json_boolean(c->outlier_enabled));
  json_object_set_new(od, "consecutive_5xx", json_integer(c->consecutive_5xx));
  json_object_set_new(od, "consecutive_gateway_errors", json_integer(c->consecutive_gateway));
  json_object_set_new(od, "interval_ms", json_integer(c->interval_ms));
  json_object_set_new(od, "base_ejection_ms", json_integer(c->base_ejection_ms));
  json_object_set_new(od, "max_ejection_percent", json_integer(c->max_ejection_percent));
  json_object_set_new(od, "ejections_active", json_integer((json_int_t)c->ejections_active));
  json_object_set_new(od, "ejections_total", json_integer((json_int_t)c->ejections_total));
  json_object_set_new(od, "ejections_overflow", json_integer((json_int_t)c->ejections_overflow));
  json_object_set_new(o, "outlier", od);
  json_t *hosts = json_array();
  for (size_t i = 0; i < c->nhosts; i++) {
    const struct labtel_host *h = &c->hosts[i];
    json_t *x = json_object();
    json_object_set_new(x, "address", json_string(h->address));
    json_object_set_new(x, "replica", json_string(h->replica));
    json_object_set_new(x, "rq_active", json_integer((json_int_t)h->rq_active));
    json_object_set_new(x, "cx_active", json_integer((json_int_t)h->cx_active));
    json_object_set_new(x, "rq_total", json_integer((json_int_t)h->rq_total));
    json_object_set_new(x, "rq_error", json_integer((json_int_t)h->rq_error));
    json_object_set_new(x, "health", json_string(h->health));
    json_object_set_new(x, "consecutive_5xx", json_integer(h->consecutive_5xx));
    json_object_set_new(x, "consecutive_gateway_errors", json_integer(h->consecutive_gateway));
    json_object_set_new(x, "ejected", json_boolean(h->ejected));
    /* the countdown as of now: what was left when reported, less the report's age */
    int64_t left = h->ejection_remaining_ms > age ? h->ejection_remaining_ms - age : 0;
    json_object_set_new(x, "ejection_remaining_ms", json_integer(h->ejected ? left : 0));
    json_object_set_new(x, "times_ejected", json_integer((json_int_t)h->times_ejected));
    json_array_append_new(hosts, x);
  }
  json_object_set_new(o, "hosts", hosts);
  return o;
}

void lab_clusters_json(struct lab *lab, const char *node, const char *service, struct buf *out) {
  int64_t now = (int64_t)uv_now(lab->loop);
  json_t *callers = json_array(), *caller = NULL, *list = NULL;
  const char *last = NULL;
  for (size_t i = 0; i < lab->tel.nclusters; i++) {
    const struct labtel_cluster *c = lab->tel.clusters[i];
    if (node && *node && strcmp(c->node, node) != 0) continue;
    if (service && *service && strcmp(c->service, service) != 0) continue;
    if (!last || strcmp(last, c->node) != 0) { /* sorted by node: a new caller starts */
      caller = json_object();
      json_object_set_new(caller, "node", json_string(c->node));
      list = json_array();
      json_object_set_new(caller, "clusters", list);
      json_array_append_new(callers, caller);
      last = c->node;
    }
    json_array_append_new(list, cluster_json(c, now));
  }
  json_t *root = json_object();
  json_object_set_new(root, "callers", callers);
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (text) buf_appendf(out, "%s\n", text);
  free(text);
  json_decref(root);
}

/* ---- the journal ------------------------------------------------------------------------------ */

const char *lab_json_quote(struct buf *scratch, const char *s) {
  json_t *j = json_string(s ? s : ""); /* NULL for bytes that are not UTF-8: then "" */
  char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  buf_reset(scratch);
  buf_append_str(scratch, text ? text : "\"\"");
  free(text);
  return buf_cstr(scratch);
}

void lab_journal(struct lab *lab, const char *event, const char *fmt, ...) {
  if (!lab->journal) return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char when[40];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  double t = (double)(uv_hrtime() - lab->opt.t0_ns) / 1e9;
  fprintf(lab->journal, "{\"ts\":\"%s.%03dZ\",\"t\":%.3f,\"event\":\"%s\"", when, (int)(tv.tv_usec / 1000), t, event);
  if (fmt && *fmt) {
    fputc(',', lab->journal);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(lab->journal, fmt, ap);
    va_end(ap);
  }
  fputs("}\n", lab->journal);
  fflush(lab->journal);
}

/* Once a second: the mesh-wide rate of each second that ended (requests as their client side
 * counted them, reporter="source"), written while there is traffic and once when it stops;
 * now and then, series idle for the whole ring are dropped. */
static void on_tel_tick(uv_timer_t *timer) {
  struct lab *lab = timer->data;
  int64_t now = lab_now_s(lab);
  int64_t from = lab->tel_last_s ? lab->tel_last_s + 1 : now - 1;
  if (from < now - 5) from = now - 5;
  for (int64_t sec = from; sec < now; sec++) {
    uint64_t errors, n = labtel_requests_at(&lab->tel, sec, REPORTER_SOURCE, &errors);
    if (n || lab->tel_prev_rps)
      lab_journal(lab, "rate", "\"rps\":%llu,\"errors_5xx\":%llu", (unsigned long long)n, (unsigned long long)errors);
    lab->tel_prev_rps = n;
    lab->tel_last_s = sec;
  }
  if (now - lab->tel_expired_s >= 60) {
    labtel_expire(&lab->tel, now);
    lab->tel_expired_s = now;
  }
}

int lab_telemetry_start(struct lab *lab) {
  char path[4200];
  int n = snprintf(path, sizeof path, "%s/journal", lab->opt.dir);
  if (n > 0 && (size_t)n < sizeof path) lab->journal = fopen(path, "a");
  uv_timer_init(lab->loop, &lab->tel_timer);
  lab->tel_timer.data = lab;
  lab->tel_timer_open = true;
  uv_timer_start(&lab->tel_timer, on_tel_tick, 1000, 1000);
  return lab->journal ? 0 : -errno;
}

void lab_telemetry_stop(struct lab *lab) {
  if (!lab->tel_timer_open) return;
  lab->tel_timer_open = false;
  uv_close((uv_handle_t *)&lab->tel_timer, NULL);
}

void lab_telemetry_free(struct lab *lab) {
  labtel_free(&lab->tel);
  if (lab->journal) fclose(lab->journal);
  lab->journal = NULL;
}
