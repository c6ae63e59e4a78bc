/* Admin endpoints: see admin.h. Output shapes follow Envoy's admin documentation
 * (docs/root/operations/admin.rst). */
#include "mesh/admin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <jansson.h>

#include "mesh/flags.h"
#include "mesh/tls.h"

#define MESHLAB_VERSION "0.1.0"

static int64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void reply_buf(struct server_request *r, int status, const char *type, struct buf *b) {
  server_respond(r, status, type, b->data ? b->data : "", b->len, NULL);
  buf_free(b);
}

/* Envoy's /clusters lines of one cluster: cluster::host::stat::value. Besides Envoy's own
 * lines, meshlab prints the live breaker and outlier state a learner needs to see (the caller's
 * view: every sidecar has its own), under names that say what they count. */
static void cluster_lines(const struct cluster *cl, bool via_api, int64_t now, struct buf *out) {
  const struct breaker *b = &cl->breaker;
  const char *n = cl->name;
  buf_appendf(out, "%s::default_priority::max_connections::%u\n", n, b->limits.max_connections);
  buf_appendf(out, "%s::default_priority::max_pending_requests::%u\n", n, b->limits.max_pending);
  buf_appendf(out, "%s::default_priority::max_requests::%u\n", n, b->limits.max_requests);
  buf_appendf(out, "%s::default_priority::max_retries::%u\n", n, b->limits.max_retries);
  buf_appendf(out, "%s::default_priority::max_requests_per_connection::%u\n", n, b->limits.max_requests_per_connection);
  buf_appendf(out, "%s::circuit_breakers::cx_active::%u\n", n, cluster_connections(cl));
  buf_appendf(out, "%s::circuit_breakers::rq_pending_active::%u\n", n, b->rq_pending);
  buf_appendf(out, "%s::circuit_breakers::rq_active::%u\n", n, cluster_active_requests(cl));
  buf_appendf(out, "%s::circuit_breakers::rq_retry_active::%u\n", n, b->rq_retry_active);
  buf_appendf(out, "%s::upstream_cx_overflow::%llu\n", n, (unsigned long long)b->cx_overflow);
  buf_appendf(out, "%s::upstream_rq_pending_overflow::%llu\n", n, (unsigned long long)b->rq_pending_overflow);
  buf_appendf(out, "%s::upstream_rq_retry_overflow::%llu\n", n, (unsigned long long)b->rq_retry_overflow);
  if (cl->outlier_cfg.enabled) {
    const struct outlier_stats *os = &cl->outlier_stats;
    buf_appendf(out, "%s::outlier::consecutive_5xx_threshold::%u\n", n, cl->outlier_cfg.consecutive_5xx);
    buf_appendf(out, "%s::outlier::max_ejection_percent::%u\n", n, cl->outlier_cfg.max_ejection_percent);
    buf_appendf(out, "%s::outlier::ejections_active::%llu\n", n, (unsigned long long)os->ejections_active);
    buf_appendf(out, "%s::outlier::ejections_total::%llu\n", n, (unsigned long long)os->ejections_total);
    buf_appendf(out, "%s::outlier::ejections_overflow::%llu\n", n, (unsigned long long)os->ejections_overflow);
  }
  buf_appendf(out, "%s::added_via_api::%s\n", n, via_api ? "true" : "false");
  for (size_t e = 0; e < cl->nhosts; e++) {
    const struct upstream *up = cl->hosts[e];
    const struct upstream_stats *s = &up->stats;
    const char *h = up->addr.text;
    buf_appendf(out, "%s::%s::cx_active::%llu\n", n, h, (unsigned long long)s->cx_active);
    buf_appendf(out, "%s::%s::cx_connect_fail::%llu\n", n, h, (unsigned long long)s->cx_connect_fail);
    buf_appendf(out, "%s::%s::cx_total::%llu\n", n, h, (unsigned long long)s->cx_total);
    buf_appendf(out, "%s::%s::cx_idle::%llu\n", n, h, (unsigned long long)s->cx_idle);
    buf_appendf(out, "%s::%s::rq_active::%llu\n", n, h, (unsigned long long)s->rq_active);
    buf_appendf(out, "%s::%s::rq_error::%llu\n", n, h, (unsigned long long)s->rq_error);
    buf_appendf(out, "%s::%s::rq_success::%llu\n", n, h, (unsigned long long)s->rq_success);
    buf_appendf(out, "%s::%s::rq_timeout::%llu\n", n, h, (unsigned long long)s->rq_timeout);
    buf_appendf(out, "%s::%s::rq_total::%llu\n", n, h, (unsigned long long)s->rq_total);
    const char *health = !cl->lb_hosts[e].healthy  ? "/failed_eds_health"
                         : cl->lb_hosts[e].ejected ? "/failed_outlier_check"
                                                   : "healthy";
    buf_appendf(out, "%s::%s::health_flags::%s\n", n, h, health);
    buf_appendf(out, "%s::%s::weight::1\n", n, h);
    buf_appendf(out, "%s::%s::success_rate::-1\n", n, h);
    if (cl->outlier_cfg.enabled && cl->outlier) {
      const struct outlier_host *o = &cl->outlier[e];
      int64_t left = o->ejected && o->eject_until_ms > now ? o->eject_until_ms - now : 0;
      buf_appendf(out, "%s::%s::consecutive_5xx::%u\n", n, h, o->consecutive_5xx);
      buf_appendf(out, "%s::%s::consecutive_gateway_errors::%u\n", n, h, o->consecutive_gateway);
      buf_appendf(out, "%s::%s::ejected::%s\n", n, h, o->ejected ? "true" : "false");
      buf_appendf(out, "%s::%s::ejection_remaining_ms::%lld\n", n, h, (long long)left);
      buf_appendf(out, "%s::%s::times_ejected::%llu\n", n, h, (unsigned long long)o->ejections_total);
      buf_appendf(out, "%s::%s::ejection_multiplier::%u\n", n, h, o->multiplier);
    }
  }
}

/* Every live cluster, then Istio's PassthroughCluster once a call went through it (ALLOW_ANY):
 * its hosts are the original destinations in use, each dropped after 5 s unused. */
static void clusters(struct admin *a, struct buf *out) {
  struct proxy *px = a->px;
  int64_t now = (int64_t)uv_now(px->loop);
  bool via_api = px->config && px->config->cfg->version > 1;
  for (size_t c = 0; c < px->clusters.len; c++) cluster_lines(px->clusters.items[c], via_api, now, out);
  if (px->clusters.passthrough) cluster_lines(px->clusters.passthrough, via_api, now, out);
}

static void stats_text(struct admin *a, struct buf *out) {
  const struct proxy_stats *s = &a->px->stats;
  buf_appendf(out, "http.downstream_cx_active: %llu\n", (unsigned long long)s->downstream_cx_active);
  buf_appendf(out, "http.downstream_cx_protocol_error: %llu\n", (unsigned long long)s->downstream_cx_protocol_error);
  buf_appendf(out, "http.downstream_cx_total: %llu\n", (unsigned long long)s->downstream_cx_total);
  buf_appendf(out, "http.downstream_rq_active: %llu\n", (unsigned long long)s->downstream_rq_active);
  buf_appendf(out, "http.downstream_rq_header_timeout: %llu\n", (unsigned long long)s->downstream_rq_timeout);
  buf_appendf(out, "http.downstream_rq_idle_timeout: %llu\n", (unsigned long long)s->downstream_rq_idle_timeout);
  buf_appendf(out, "http.downstream_rq_total: %llu\n", (unsigned long long)s->downstream_rq_total);
  for (size_t i = 0; i < s->nby_code; i++) {
    char flags[64];
    flags_format(s->by_code[i].flags, flags, sizeof flags);
    buf_appendf(out, "meshlab.requests.%d.%s: %llu\n", s->by_code[i].code, flags, (unsigned long long)s->by_code[i].n);
  }
  buf_appendf(out, "http.downstream_rq_time: P50(%.1f) P90(%.1f) P99(%.1f) P100(%.1f)\n",
              histogram_quantile(&s->duration, 0.5), histogram_quantile(&s->duration, 0.9),
              histogram_quantile(&s->duration, 0.99), histogram_quantile(&s->duration, 1.0));
  stats_write_policy_text(out, &a->px->ratelimit, &a->px->mirrors.stats);
}

/* GET /debug/why?id=REQUEST_ID: every decision trace this proxy keeps for that request id
 * (trace.h), oldest first, as {"proxy": NAME, "records": [...]}; an empty list when none. */
static void debug_why(struct admin *a, struct server_request *r, struct buf *out) {
  char id[sizeof((struct trace_record *)0)->request_id];
  if (!server_query_get(r->query, "id", id, sizeof id) || !id[0]) {
    buf_append_str(out, "id=REQUEST_ID is required: /debug/why?id=<the x-request-id of the request>\n");
    reply_buf(r, 400, "text/plain", out);
    return;
  }
  const struct trace_store *st = &a->px->traces;
  size_t max = 2 * st->cap;
  const struct trace_record **recs = max ? calloc(max, sizeof *recs) : NULL;
  size_t n = recs ? trace_store_find(st, id, recs, max) : 0;
  /* The name the lab knows the proxy by: the replica, else the workload its config is for. */
  const char *name = a->name[0] ? a->name : a->px->config && a->px->config->cfg->node ? a->px->config->cfg->node : "";
  int rc = max && !recs ? -ENOMEM : trace_why_json(name, recs, n, out);
  free(recs);
  if (rc != 0) {
    buf_reset(out);
    buf_append_str(out, "out of memory\n");
    reply_buf(r, 503, "text/plain", out);
    return;
  }
  reply_buf(r, 200, "application/json", out);
}

static int is(struct slice s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

static void on_admin_request(struct server_request *r) {
  struct admin *a = r->user;
  struct buf out = {0};
  int post = slice_eq_str_nocase(r->head->method, "POST");
  /* Envoy's server states: a load balancer or the kubelet's readiness probe sends traffic only
   * on LIVE, and stops before the drain cuts anything. */
  const char *state = a->px->draining ? "DRAINING" : a->live ? "LIVE" : "PRE_INITIALIZING";
  if (is(r->path, "/ready")) {
    buf_appendf(&out, "%s\n", state);
    reply_buf(r, state[0] == 'L' ? 200 : 503, "text/plain", &out);
  } else if (is(r->path, "/server_info")) {
    int64_t up = (now_ms() - a->started_ms) / 1000;
    buf_appendf(&out,
                "{\"version\":\"meshlab/%s\",\"state\":\"%s\",\"uptime_current_epoch\":\"%llds\","
                "\"uptime_all_epochs\":\"%llds\",\"command_line_options\":{\"command\":\"%s\"},\"node\":{}}\n",
                MESHLAB_VERSION, state, (long long)up, (long long)up, a->command_line ? a->command_line : "");
    reply_buf(r, 200, "application/json", &out);
  } else if (is(r->path, "/stats/prometheus")) {
    stats_write_prometheus(&out, &a->px->stats, &a->px->clusters);
    stats_write_policy_prometheus(&out, &a->px->ratelimit, &a->px->mirrors.stats);
    telemetry_write_prometheus(&out, &a->px->telemetry);
    reply_buf(r, 200, "text/plain; version=0.0.4; charset=utf-8", &out);
  } else if (is(r->path, "/stats")) {
    if (r->query.n && slice_eq_str_nocase(r->query, "format=prometheus")) {
      stats_write_prometheus(&out, &a->px->stats, &a->px->clusters);
      stats_write_policy_prometheus(&out, &a->px->ratelimit, &a->px->mirrors.stats);
    } else {
      stats_text(a, &out);
    }
    reply_buf(r, 200, "text/plain", &out);
  } else if (is(r->path, "/clusters")) {
    clusters(a, &out);
    reply_buf(r, 200, "text/plain", &out);
  } else if (is(r->path, "/config_dump")) {
    /* Envoy's shape: a list of typed configs. The static part (bootstrap), then the routing
     * in force: the pushed config exactly as compile_to_json writes it. ?resource=routing
     * returns that alone (what `meshlab proxy-config` reads). */
    char *routing = NULL;
    if (a->px->config) compile_to_json(a->px->config->cfg, 0, &routing);
    if (r->query.n && slice_eq_str_nocase(r->query, "resource=routing")) {
      buf_append_str(&out, routing ? routing : "{}");
    } else {
      buf_appendf(&out, "{\"configs\":[{\"@type\":\"meshlab.bootstrap\",\"bootstrap\":%s}",
                  a->config_json ? a->config_json : "{}");
      if (routing) buf_appendf(&out, ",{\"@type\":\"meshlab.routing\",\"routing\":%s}", routing);
      buf_append_str(&out, "]}");
    }
    free(routing);
    buf_append(&out, "\n", 1);
    reply_buf(r, 200, "application/json", &out);
  } else if (is(r->path, "/certs")) {
    /* The identity in force (what new connections present), as PEM without the key:
     * `meshlab proxy-config secret` reads it, as istioctl reads Envoy's secrets. */
    json_t *o = json_object();
    if (a->px->identity) {
      json_object_set_new(o, "spiffe_id", json_string(tls_ctx_id(a->px->identity)));
      json_object_set_new(o, "cert_chain", json_string(tls_ctx_chain_pem(a->px->identity)));
      json_object_set_new(o, "ca_cert", json_string(tls_ctx_root_pem(a->px->identity)));
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text) buf_append_str(&out, text);
    free(text);
    reply_buf(r, 200, "application/json", &out);
  } else if (is(r->path, "/listeners")) {
    /* Envoy's text form: name::address, one listener a line. */
    for (const struct proxy_listener *l = a->px->listeners; l; l = l->next)
      buf_appendf(&out, "%s::%s\n", l->name, l->address);
    reply_buf(r, 200, "text/plain", &out);
  } else if (is(r->path, "/debug/why")) {
    debug_why(a, r, &out);
  } else if (is(r->path, "/quitquitquit")) {
    if (!post) {
      buf_append_str(&out, "This endpoint requires POST.\n");
      reply_buf(r, 400, "text/plain", &out);
      return;
    }
    buf_append_str(&out, "OK\n");
    reply_buf(r, 200, "text/plain", &out);
    if (a->on_quit) a->on_quit(a);
  } else if (is(r->path, "/help") || is(r->path, "/")) {
    buf_append_str(&out,
                   "admin commands are:\n"
                   "  /certs: the workload certificate chain and root in force (PEM, no key)\n"
                   "  /clusters: upstream cluster status\n"
                   "  /config_dump: dump current configuration\n"
                   "  /debug/why?id=REQUEST_ID: the decision traces of one request (meshlab why)\n"
                   "  /help: print out list of admin commands\n"
                   "  /listeners: print listener info\n"
                   "  /quitquitquit (POST): exit the server\n"
                   "  /ready: print server state, return 200 if LIVE, otherwise return 503\n"
                   "  /server_info: print server version/status information\n"
                   "  /stats: print server stats\n"
                   "  /stats/prometheus: print server stats in prometheus format\n");
    reply_buf(r, 200, "text/plain", &out);
  } else {
    buf_append_str(&out, "invalid path; see /help\n");
    reply_buf(r, 404, "text/plain", &out);
  }
}

int admin_start(struct admin *a, struct proxy *px, const struct conn_addr *addr, const char *config_json,
                const char *command_line) {
  a->px = px;
  a->config_json = config_json ? strdup(config_json) : NULL;
  a->command_line = command_line ? strdup(command_line) : NULL;
  a->started_ms = now_ms();
  return server_listen(&a->srv, &px->env, addr, on_admin_request, a);
}

void admin_close(struct admin *a, void (*on_closed)(struct http_server *srv)) {
  free(a->config_json);
  free(a->command_line);
  a->config_json = a->command_line = NULL;
  server_close(&a->srv, on_closed);
}
