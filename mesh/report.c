/* The telemetry sink's sidecar half: see report.h. */
#include "mesh/report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Appends s as a JSON string (RFC 8259 section 7: quote, backslash and controls escaped). */
static void append_json_string(struct buf *out, const char *s) {
  static const char hex[] = "0123456789abcdef";
  buf_append(out, "\"", 1);
  const char *run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    buf_append(out, run, (size_t)(s - run));
    char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    if (c == '"' || c == '\\') buf_append(out, (char[]){'\\', (char)c}, 2);
    else buf_append(out, esc, sizeof esc);
    run = s + 1;
  }
  buf_append(out, run, (size_t)(s - run));
  buf_append(out, "\"", 1);
}

static void append_json_field(struct buf *out, const char *key, const char *value) {
  buf_appendf(out, ",\"%s\":", key);
  append_json_string(out, value);
}

static const char *reporter_name(enum reporter r) { return r == REPORTER_SOURCE ? "source" : "destination"; }

struct build {
  struct buf *out;
  size_t n;
};

static void on_delta(void *data, const struct telemetry_delta *d) {
  struct build *b = data;
  struct buf *out = b->out;
  buf_append_str(out, b->n++ ? ",{" : "{");
  buf_appendf(out, "\"reporter\":\"%s\"", reporter_name(d->reporter));
  append_json_field(out, "source_workload", d->source->workload);
  append_json_field(out, "source_version", d->source->version);
  append_json_field(out, "destination_workload", d->destination->workload);
  append_json_field(out, "destination_version", d->destination->version);
  append_json_field(out, "destination_service", d->service);
  append_json_field(out, "connection_security_policy", telemetry_security_policy(d->reporter, d->mutual_tls));
  buf_appendf(out, ",\"response_code\":%d,\"response_flags\":%u,\"requests\":%llu,\"duration_buckets\":[", d->code,
              (unsigned)d->flags, (unsigned long long)d->requests);
  for (int k = 0; k <= STATS_NBUCKETS; k++)
    buf_appendf(out, "%s%llu", k ? "," : "", (unsigned long long)d->duration[k]);
  buf_append_str(out, "]}");
}

static const char *health_name(const struct cluster *c, size_t i) {
  if (!c->lb_hosts[i].healthy) return "unhealthy";
  return c->lb_hosts[i].ejected ? "ejected" : "healthy";
}

/* One cluster's breaker and outlier state, the facts /clusters prints (admin.c). */
static void append_cluster(struct buf *out, const struct cluster *c, int64_t now_ms) {
  const struct breaker *b = &c->breaker;
  const struct breaker_limits *l = &b->limits;
  buf_append_str(out, "{\"name\":");
  append_json_string(out, c->name);
  buf_appendf(out, ",\"direction\":\"%s\"", c->direction == XDS_INBOUND ? "inbound" : "outbound");
  append_json_field(out, "service", c->service ? c->service : "");
  buf_appendf(out,
              ",\"limits\":{\"max_connections\":%u,\"max_pending_requests\":%u,\"max_requests\":%u,"
              "\"max_retries\":%u,\"max_requests_per_connection\":%u}",
              l->max_connections, l->max_pending, l->max_requests, l->max_retries, l->max_requests_per_connection);
  buf_appendf(out,
              ",\"cx_active\":%u,\"rq_pending_active\":%u,\"rq_active\":%u,\"rq_retry_active\":%u,"
              "\"upstream_cx_overflow\":%llu,\"upstream_rq_pending_overflow\":%llu,\"upstream_rq_retry_overflow\":%llu",
              cluster_connections(c), b->rq_pending, cluster_active_requests(c), b->rq_retry_active,
              (unsigned long long)b->cx_overflow, (unsigned long long)b->rq_pending_overflow,
              (unsigned long long)b->rq_retry_overflow);
  const struct outlier_config *oc = &c->outlier_cfg;
  const struct outlier_stats *os = &c->outlier_stats;
  buf_appendf(out,
              ",\"outlier\":{\"enabled\":%s,\"consecutive_5xx\":%u,\"consecutive_gateway_errors\":%u,"
              "\"interval_ms\":%lld,\"base_ejection_ms\":%lld,\"max_ejection_percent\":%u,"
              "\"ejections_active\":%llu,\"ejections_total\":%llu,\"ejections_overflow\":%llu}",
              oc->enabled ? "true" : "false", oc->consecutive_5xx, oc->consecutive_gateway, (long long)oc->interval_ms,
              (long long)oc->base_ejection_ms, oc->max_ejection_percent, (unsigned long long)os->ejections_active,
              (unsigned long long)os->ejections_total, (unsigned long long)os->ejections_overflow);
  buf_append_str(out, ",\"hosts\":[");
  for (size_t i = 0; i < c->nhosts; i++) {
    const struct upstream *up = c->hosts[i];
    const struct outlier_host *o = c->outlier ? &c->outlier[i] : NULL;
    bool ejected = o && o->ejected;
    int64_t left = ejected && o->eject_until_ms > now_ms ? o->eject_until_ms - now_ms : 0;
    buf_append_str(out, i ? ",{\"address\":" : "{\"address\":");
    append_json_string(out, up->addr.text);
    append_json_field(out, "replica", up->replica);
    buf_appendf(out,
                ",\"rq_active\":%llu,\"cx_active\":%llu,\"rq_total\":%llu,\"rq_error\":%llu,\"health\":\"%s\","
                "\"consecutive_5xx\":%u,\"consecutive_gateway_errors\":%u,\"ejected\":%s,"
                "\"ejection_remaining_ms\":%lld,\"times_ejected\":%llu}",
                (unsigned long long)up->stats.rq_active, (unsigned long long)up->stats.cx_active,
                (unsigned long long)up->stats.rq_total, (unsigned long long)up->stats.rq_error, health_name(c, i),
                o ? o->consecutive_5xx : 0, o ? o->consecutive_gateway : 0, ejected ? "true" : "false", (long long)left,
                (unsigned long long)(o ? o->ejections_total : 0));
  }
  buf_append_str(out, "]}");
}

/* The clusters whose mark moved since the last report, and those with a host ejected (so the
 * lab's countdown stays fresh); marks them reported. */
static size_t append_clusters(struct buf *out, struct cluster_manager *cm, int64_t now_ms) {
  size_t n = 0;
  for (size_t i = 0; cm && i < cm->len; i++) {
    struct cluster *c = cm->items[i];
    uint64_t mark = cluster_change_mark(c);
    if (mark == c->reported_mark && !cluster_ejected_hosts(c)) continue;
    c->reported_mark = mark;
    if (n++) buf_append_str(out, ",");
    append_cluster(out, c, now_ms);
  }
  return n;
}

bool report_has_ejections(const struct cluster_manager *cm) {
  for (size_t i = 0; cm && i < cm->len; i++)
    if (cluster_ejected_hosts(cm->items[i])) return true;
  return false;
}

size_t report_build(struct buf *out, struct telemetry *t, struct cluster_manager *cm, const char *node,
                    int64_t now_ms) {
  struct build b = {out, 0};
  buf_append_str(out, "{\"node\":");
  append_json_string(out, node);
  buf_appendf(out, ",\"interval_ms\":%d,\"series\":[", REPORT_INTERVAL_MS);
  telemetry_take_deltas(t, on_delta, &b);
  buf_append_str(out, "],\"requests\":[");
  struct telemetry_sample s[TELEMETRY_SAMPLES];
  size_t n = telemetry_take_samples(t, s);
  for (size_t i = 0; i < n; i++) {
    buf_append_str(out, i ? ",{" : "{");
    buf_append_str(out, "\"request_id\":");
    append_json_string(out, s[i].request_id);
    buf_appendf(out, ",\"time_ms\":%lld,\"reporter\":\"%s\"", (long long)s[i].time_ms, reporter_name(s[i].reporter));
    append_json_field(out, "method", s[i].method);
    append_json_field(out, "path", s[i].path);
    append_json_field(out, "authority", s[i].authority);
    buf_appendf(out, ",\"response_code\":%d,\"response_flags\":%u,\"duration_ms\":%.3f", s[i].code,
                (unsigned)s[i].flags, s[i].duration_ms);
    append_json_field(out, "upstream_host", s[i].upstream_host);
    append_json_field(out, "source_workload", s[i].source_workload);
    append_json_field(out, "destination_service", s[i].service);
    buf_append_str(out, "}");
  }
  buf_append_str(out, "],\"clusters\":[");
  size_t nclusters = append_clusters(out, cm, now_ms);
  buf_append_str(out, "]}");
  return b.n + nclusters;
}

static void on_tick(uv_timer_t *timer);

/* Reports go out REPORT_INTERVAL_MS after the first change: requests finishing in between
 * share the report. */
static void arm(struct report_agent *a) {
  if (a->armed || a->stopping) return;
  a->armed = 1;
  uv_timer_start(&a->timer, on_tick, REPORT_INTERVAL_MS, 0);
}

static void on_response(struct http_client_call *call, int status) {
  struct report_agent *a = call->data;
  a->in_flight = 0;
  if (a->stopping) return;
  if (status == 0 && call->response.status / 100 == 2) a->sent++;
  else a->failed++; /* dropped: see report.h */
  if (a->t->dirty || report_has_ejections(a->cm)) arm(a);
}

static void on_tick(uv_timer_t *timer) {
  struct report_agent *a = timer->data;
  a->armed = 0;
  if (a->stopping) return;
  if (a->in_flight) {
    arm(a); /* one report at a time; this one waits and gathers more */
    return;
  }
  struct buf body = {0};
  size_t n = report_build(&body, a->t, a->cm, a->node, (int64_t)uv_now(a->timer.loop));
  if (n == 0 || !body.data) {
    buf_free(&body);
    return;
  }
  struct http_client_req req = {0};
  req.method = "POST";
  req.url = a->url;
  req.headers = "content-type: application/json\r\n";
  req.body = (struct slice){body.data, body.len};
  req.timeout_ms = REPORT_TIMEOUT_MS;
  if (http_client_send(&a->client, &req, on_response, a, NULL) == 0) {
    a->in_flight = 1;
  } else {
    a->failed++;
    if (report_has_ejections(a->cm)) arm(a); /* the countdown goes on without an answer to wait for */
  }
  buf_free(&body);
}

static void on_dirty(struct telemetry *t) { arm(t->data); }

int report_start(struct report_agent *a, struct conn_env *env, struct telemetry *t, struct cluster_manager *cm,
                 const char *server, const char *node) {
  memset(a, 0, sizeof *a);
  struct conn_addr addr;
  if (conn_addr_parse(&addr, server) != 0 || addr.kind != CONN_TCP) return -EINVAL;
  if (strlen(node) >= sizeof a->node) return -ENAMETOOLONG;
  memcpy(a->node, node, strlen(node) + 1);
  /* node is NAMESPACE/REPLICA: Kubernetes names, so only the slash needs escaping */
  const char *slash = strchr(node, '/');
  int len = slash ? snprintf(a->url, sizeof a->url, "http://%s/v1/report?node=%.*s%%2F%s", addr.text,
                             (int)(slash - node), node, slash + 1)
                  : snprintf(a->url, sizeof a->url, "http://%s/v1/report?node=%s", addr.text, node);
  if (len < 0 || (size_t)len >= sizeof a->url) return -ENAMETOOLONG;
  a->t = t;
  a->cm = cm;
  http_client_init(&a->client, env);
  a->client.max_idle = 1;
  a->client.data = a;
  uv_timer_init(env->loop, &a->timer);
  a->timer.data = a;
  a->open = 2;
  t->data = a;
  t->on_dirty = on_dirty;
  if (t->dirty) arm(a);
  return 0;
}

static void closed_one(struct report_agent *a) {
  if (--a->open == 0 && a->on_stopped) a->on_stopped(a);
}

static void on_client_closed(struct http_client *cl) { closed_one(cl->data); }

static void on_timer_closed(uv_handle_t *h) { closed_one(h->data); }

void report_stop(struct report_agent *a, void (*on_stopped)(struct report_agent *a)) {
  if (a->stopping) return;
  a->stopping = 1;
  a->on_stopped = on_stopped;
  a->t->on_dirty = NULL;
  a->t->data = NULL;
  uv_close((uv_handle_t *)&a->timer, on_timer_closed);
  http_client_close(&a->client, on_client_closed);
}
