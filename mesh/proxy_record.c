/* proxy_record: what the proxy writes down when a request ends (session_record, called by
 * proxy.c once per exchange): the proxy's own counters (stats.h), the upstream host's
 * success/error counts, Istio's standard metrics with their reporter-side labels and the
 * lab's sampled live log (telemetry.h), the decision trace (exchange_trace_commit) and the
 * Envoy-format access log line (accesslog.h). The sessions themselves are proxy.c's; the
 * request's tries, exchange.c's.
 */
#include <stdio.h>
#include <string.h>

#include "mesh/http_head.h"
#include "mesh/proxy_internal.h"
#include "mesh/router.h"
#include "mesh/tls.h"

/* ---- logging and accounting ------------------------------------------------------------ */

/* Copies a slice into a fixed buffer, cut to fit. */
static void copy_slice(char *out, size_t cap, struct slice v) {
  size_t n = v.n < cap - 1 ? v.n : cap - 1;
  if (n) memcpy(out, v.p, n);
  out[n] = '\0';
}

static void fill_sample(struct session *s, const struct telemetry_request *tr, double ms, struct telemetry_sample *ts) {
  struct exchange *ex = &s->ex;
  const struct http_head *h = ex->req;
  ts->reporter = tr->reporter;
  copy_slice(ts->request_id, sizeof ts->request_id, ex->rid);
  ts->time_ms = ex->start_wall_ms;
  copy_slice(ts->method, sizeof ts->method, h ? h->method : slice_from(""));
  copy_slice(ts->path, sizeof ts->path, ex->path.n ? ex->path : h ? h->target : slice_from(""));
  copy_slice(ts->authority, sizeof ts->authority, ex->authority);
  copy_slice(ts->upstream_host, sizeof ts->upstream_host, slice_from(ex->up ? ex->up->addr.text : ""));
  copy_slice(ts->source_workload, sizeof ts->source_workload, slice_from(tr->source ? tr->source->workload : ""));
  copy_slice(ts->service, sizeof ts->service, slice_from(tr->service ? tr->service : ""));
  ts->code = ex->code;
  ts->flags = ex->flags;
  ts->duration_ms = ms;
}

/* Istio's standard metrics for one request (telemetry.h). */
static void record_istio(struct session *s, double ms) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  struct telemetry_request tr = {0};
  char service[256] = "";
  if (s->dir == XDS_INBOUND) {
    tr.reporter = REPORTER_DESTINATION;
    tr.source = ex->has_source ? &ex->source : NULL;
    tr.destination = &px->telemetry.self;
    /* The service the caller addressed: its Host, made a FQDN in this workload's namespace. */
    struct slice host = ex->authority;
    const char *colon = host.n ? memchr(host.p, ':', host.n) : NULL;
    if (colon) host.n = (size_t)(colon - host.p);
    const struct peer *self = &px->telemetry.self;
    if (host.n && ((host.p[0] >= '0' && host.p[0] <= '9') || host.p[0] == '[')) {
      /* Addressed by IP (a gateway's Host, a direct call): the workload's own service, named
       * by its app label as Kubernetes services usually are. */
      if (self->app[0]) snprintf(service, sizeof service, "%s.%s.svc.cluster.local", self->app, self->ns);
    } else if (host.n && !memchr(host.p, '.', host.n)) {
      snprintf(service, sizeof service, "%.*s.%s.svc.cluster.local", (int)host.n, host.p, self->ns);
    } else if (host.n) {
      snprintf(service, sizeof service, "%.*s", (int)host.n, host.p);
    }
    tr.service = service;
    /* The principals are known only over mTLS: the caller's from its certificate, ours from
     * our own (Istio's source_principal / destination_principal). */
    tr.mutual_tls = conn_is_tls(&s->conn);
    if (tr.mutual_tls) {
      tr.source_principal = conn_tls_peer_id(&s->conn);
      tr.destination_principal = px->identity ? tls_ctx_id(px->identity) : "";
    }
  } else {
    tr.reporter = REPORTER_SOURCE;
    tr.source = &px->telemetry.self;
    tr.destination = ex->up ? &ex->up->peer : NULL;
    tr.service = ex->cluster ? ex->cluster->service : ex->route_service[0] ? ex->route_service : NULL;
    if (ex->catch_all) {
      /* Istio's outbound catch-all: destination_service is the Host the app called,
       * destination_service_name the cluster the route stands for (istio/proxy
       * populateDestinationService keys on the route names "allow_any" / "block_all"). */
      snprintf(service, sizeof service, "%.*s", (int)ex->authority.n, ex->authority.p);
      tr.service = service;
      tr.service_name =
          strcmp(ex->catch_all, ROUTER_PASSTHROUGH_ROUTE) == 0 ? ROUTER_PASSTHROUGH_CLUSTER : ROUTER_BLACKHOLE_CLUSTER;
    }
    if (ex->up_principal[0] && px->identity) {
      tr.source_principal = tls_ctx_id(px->identity);
      tr.destination_principal = ex->up_principal;
    }
  }
  tr.code = ex->code;
  tr.flags = ex->flags;
  tr.duration_ms = ms;
  tr.request_bytes = ex->bytes_in;
  tr.response_bytes = ex->bytes_out;
  telemetry_record(&px->telemetry, &tr);
  /* The lab's live log: a sampled copy of a few requests per report (telemetry.h). Most
   * requests are not sampled and cost one random draw. */
  struct telemetry_sample *ts = telemetry_sample_slot(&px->telemetry, &px->rng);
  if (ts) fill_sample(s, &tr, ms, ts);
}

void session_record(struct session *s) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  uint64_t now = uv_hrtime();
  double ms = (double)(now - ex->start_ns) / 1e6;
  stats_record_request(&px->stats, ex->code, ex->flags, ms);
  if (px->telemetry.enabled) record_istio(s, ms);
  if (ex->up) {
    if (ex->code >= 500 || ex->code == 0) ex->up->stats.rq_error++;
    else ex->up->stats.rq_success++;
  }
  if (ex->active) exchange_trace_commit(s, ms);
  if (!px->log) return;
  const struct http_head *h = ex->req;
  struct access_record r = {0};
  r.start_ms = ex->start_wall_ms;
  if (h) {
    r.method = h->method;
    r.path = ex->path.n ? ex->path : h->target;
    r.minor = h->minor;
    const struct slice *v;
    if ((v = http_head_find(h, "x-forwarded-for"))) r.xff = *v;
    if ((v = http_head_find(h, "user-agent"))) r.user_agent = *v;
  } else {
    r.minor = 1;
  }
  r.request_id = ex->rid;
  r.authority = ex->authority;
  r.code = ex->code;
  r.flags = ex->flags;
  r.details = ex->details;
  r.transport_failure = ex->transport_failure;
  r.bytes_received = ex->bytes_in;
  r.bytes_sent = ex->bytes_out;
  r.duration_ms = (int64_t)ms;
  r.upstream_ms =
      ex->resp_head_ns && ex->upstream_start_ns ? (int64_t)((ex->resp_head_ns - ex->upstream_start_ns) / 1000000) : -1;
  r.upstream_host = ex->up ? ex->up->addr.text : NULL;
  r.upstream_cluster = ex->cluster ? ex->cluster->name : NULL;
  r.downstream_local = s->local;
  r.downstream_remote = s->peer;
  r.route_name = ex->route ? (ex->route->name      ? ex->route->name
                              : ex->route->vs_name ? ex->route->vs_name
                                                   : "default")
                           : ex->catch_all;
  accesslog_record(px->log, &r);
}
