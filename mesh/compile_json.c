/* compile_json: a proxy_config to JSON and back (see compile.h; the shape is in
 * docs/routing.md). The lab pushes this document over HTTP; the sidecar parses it
 * (compile_json_read.c), rejects it whole with a reason naming the field path, or swaps it in.
 * This file writes it. Keys are snake_case and durations
 * are milliseconds, like the bootstrap: this is machine-written config, people write Istio YAML.
 * Derived parts (compiled regexes, destination -> cluster links, the host index) are not
 * written; proxy_config_finish() rebuilds them after parsing.
 */
#include "mesh/compile.h"
#include "mesh/compile_json_names.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing -------------------------------------------------------------------------------- */

static json_t *w_str(const char *s) { return s ? json_string(s) : json_null(); }

static void set_str(json_t *o, const char *k, const char *v) {
  if (v) json_object_set_new(o, k, json_string(v));
}

static void set_int(json_t *o, const char *k, json_int_t v) { json_object_set_new(o, k, json_integer(v)); }

static json_t *w_map(const struct resource_map *m) {
  json_t *o = json_object();
  for (size_t i = 0; i < m->len; i++) json_object_set_new(o, m->items[i].key, json_string(m->items[i].value));
  return o;
}

static json_t *w_strings(const struct resource_strings *s) {
  json_t *a = json_array();
  for (size_t i = 0; i < s->len; i++) json_array_append_new(a, json_string(s->items[i]));
  return a;
}

/* Adds {"exact": v} etc. into o (o is the match object itself for named matches). */
static void w_string_match_into(json_t *o, const struct xds_string_match *m) {
  switch (m->kind) {
  case XDS_MATCH_ANY:
    break;
  case XDS_MATCH_PRESENT:
    json_object_set_new(o, "present", json_true());
    break;
  case XDS_MATCH_EXACT:
  case XDS_MATCH_PREFIX:
  case XDS_MATCH_REGEX:
    json_object_set_new(o, MATCH_KEYS[m->kind], json_string(m->value));
    break;
  }
}

static void w_string_match(json_t *o, const char *key, const struct xds_string_match *m) {
  if (m->kind == XDS_MATCH_ANY) return;
  json_t *v = json_object();
  w_string_match_into(v, m);
  json_object_set_new(o, key, v);
}

static void w_named(json_t *o, const char *key, const struct xds_named_match *m, size_t n) {
  if (!n) return;
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_pack("{s:s}", "name", m[i].name);
    w_string_match_into(e, &m[i].match);
    json_array_append_new(a, e);
  }
  json_object_set_new(o, key, a);
}

static json_t *w_header_ops(const struct resource_header_ops *h) {
  json_t *o = json_object();
  if (h->set.len) json_object_set_new(o, "set", w_map(&h->set));
  if (h->add.len) json_object_set_new(o, "add", w_map(&h->add));
  if (h->remove.len) json_object_set_new(o, "remove", w_strings(&h->remove));
  return o;
}

static void w_headers(json_t *o, const struct resource_headers *h) {
  if (!h->present) return;
  json_object_set_new(
      o, "headers",
      json_pack("{s:o,s:o}", "request", w_header_ops(&h->request), "response", w_header_ops(&h->response)));
}

static json_t *w_destination(const struct xds_destination *d) {
  json_t *o = json_object();
  set_str(o, "host", d->host);
  set_str(o, "subset", d->subset);
  set_int(o, "port", d->port);
  set_int(o, "weight", d->weight);
  set_str(o, "cluster", d->cluster_name);
  set_str(o, "missing", d->missing);
  w_headers(o, &d->headers);
  return o;
}

static json_t *w_match(const struct xds_match *m) {
  json_t *o = json_object();
  set_str(o, "name", m->name);
  w_string_match(o, "uri", &m->uri);
  w_string_match(o, "scheme", &m->scheme);
  w_string_match(o, "method", &m->method);
  w_string_match(o, "authority", &m->authority);
  if (m->ignore_uri_case) json_object_set_new(o, "ignore_uri_case", json_true());
  w_named(o, "headers", m->headers, m->headers_len);
  w_named(o, "without_headers", m->without_headers, m->without_headers_len);
  w_named(o, "query_params", m->query_params, m->query_params_len);
  if (m->port) set_int(o, "port", m->port);
  if (m->source_labels.len) json_object_set_new(o, "source_labels", w_map(&m->source_labels));
  return o;
}

static const char *const ACTIONS[] = {
    [XDS_ACTION_ROUTE] = "route", [XDS_ACTION_REDIRECT] = "redirect", [XDS_ACTION_DIRECT_RESPONSE] = "direct_response"};

static json_t *w_route(const struct xds_route *r) {
  json_t *o = json_object();
  set_str(o, "name", r->name);
  if (r->vs_name) {
    json_object_set_new(o, "virtual_service", json_pack("{s:s,s:s}", "name", r->vs_name, "namespace", r->vs_ns));
    set_int(o, "rule", r->rule);
  }
  if (r->match_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->match_len; i++) json_array_append_new(a, w_match(&r->match[i]));
    json_object_set_new(o, "match", a);
  }
  set_str(o, "action", ACTIONS[r->action]);
  json_t *a = json_array();
  for (size_t i = 0; i < r->destinations_len; i++) json_array_append_new(a, w_destination(&r->destinations[i]));
  json_object_set_new(o, "route", a);
  if (r->timeout.ms) set_int(o, "timeout_ms", r->timeout.ms);
  json_t *rt = json_pack("{s:I,s:s?,s:b}", "attempts", (json_int_t)r->retries.attempts.value, "retry_on",
                         r->retries.retry_on, "retry_remote_localities", r->retries.retry_remote_localities.value);
  if (r->retries.per_try_timeout.ms) set_int(rt, "per_try_timeout_ms", r->retries.per_try_timeout.ms);
  /* What the VirtualService wrote: Istio's translation (retry.c) depends on it (a block without
   * attempts disables retries; a written retryOn drops the default 503), so a pushed route must
   * give the same retry policy as the compiled one. Written only when true. */
  if (r->retries.present) json_object_set_new(rt, "present", json_true());
  if (r->retries.attempts.set) json_object_set_new(rt, "attempts_set", json_true());
  if (r->retries.retry_on_set) json_object_set_new(rt, "retry_on_set", json_true());
  json_object_set_new(o, "retries", rt);
  if (r->fault.present) {
    json_t *f = json_object();
    if (r->fault.delay.present)
      json_object_set_new(f, "delay",
                          json_pack("{s:I,s:f}", "fixed_delay_ms", (json_int_t)r->fault.delay.fixed_delay.ms,
                                    "percentage", r->fault.delay.percentage.value));
    if (r->fault.abort.present) {
      json_t *ab = json_pack("{s:f}", "percentage", r->fault.abort.percentage.value);
      if (r->fault.abort.grpc_status) set_str(ab, "grpc_status", r->fault.abort.grpc_status);
      else set_int(ab, "http_status", r->fault.abort.http_status);
      json_object_set_new(f, "abort", ab);
    }
    json_object_set_new(o, "fault", f);
  }
  if (r->mirror_present)
    json_object_set_new(
        o, "mirror",
        json_pack("{s:o,s:f}", "destination", w_destination(&r->mirror), "percentage", r->mirror_percentage.value));
  w_headers(o, &r->headers);
  if (r->rewrite.present) {
    json_t *w = json_object();
    set_str(w, "uri", r->rewrite.uri);
    set_str(w, "authority", r->rewrite.authority);
    json_object_set_new(o, "rewrite", w);
  }
  if (r->redirect.present) {
    json_t *w = json_pack("{s:I}", "redirect_code", (json_int_t)r->redirect.redirect_code.value);
    set_str(w, "uri", r->redirect.uri);
    set_str(w, "authority", r->redirect.authority);
    set_str(w, "scheme", r->redirect.scheme);
    if (r->redirect.port) set_int(w, "port", r->redirect.port);
    json_object_set_new(o, "redirect", w);
  }
  if (r->direct_response.present) {
    json_t *w = json_pack("{s:I}", "status", (json_int_t)r->direct_response.status);
    set_str(w, "body", r->direct_response.body);
    json_object_set_new(o, "direct_response", w);
  }
  return o;
}

static json_t *w_lb(const struct resource_load_balancer *lb) {
  json_t *o = json_object();
  if (!lb->hash_present) {
    set_str(o, "simple", LB_NAMES[lb->simple]);
    return o;
  }
  const struct resource_consistent_hash *h = &lb->consistent_hash;
  json_t *ch = json_object();
  switch (h->key) {
  case RESOURCE_HASH_NONE:
    break;
  case RESOURCE_HASH_HEADER:
    set_str(ch, "http_header_name", h->name);
    break;
  case RESOURCE_HASH_COOKIE: {
    json_t *c = json_pack("{s:s?,s:I}", "name", h->name, "ttl_ms", (json_int_t)h->cookie_ttl.ms);
    set_str(c, "path", h->cookie_path);
    json_object_set_new(ch, "http_cookie", c);
    break;
  }
  case RESOURCE_HASH_SOURCE_IP:
    json_object_set_new(ch, "use_source_ip", json_true());
    break;
  case RESOURCE_HASH_QUERY_PARAM:
    set_str(ch, "http_query_parameter_name", h->name);
    break;
  }
  if (h->maglev)
    json_object_set_new(ch, "maglev", json_pack("{s:I}", "table_size", (json_int_t)h->maglev_table_size.value));
  else json_object_set_new(ch, "ring_hash", json_pack("{s:I}", "minimum_ring_size", (json_int_t)h->ring_size.value));
  json_object_set_new(o, "consistent_hash", ch);
  return o;
}

static json_t *w_policy(const struct xds_policy *p) {
  json_t *o = json_object();
  set_str(o, "source", p->source);
  json_object_set_new(o, "load_balancer", w_lb(&p->load_balancer));
  const struct resource_connection_pool *cp = &p->connection_pool;
  json_object_set_new(
      o, "connection_pool",
      json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "max_connections", (json_int_t)cp->tcp.max_connections.value,
                "connect_timeout_ms", (json_int_t)cp->tcp.connect_timeout.ms, "http1_max_pending_requests",
                (json_int_t)cp->http.http1_max_pending_requests.value, "http2_max_requests",
                (json_int_t)cp->http.http2_max_requests.value, "max_requests_per_connection",
                (json_int_t)cp->http.max_requests_per_connection.value, "max_retries",
                (json_int_t)cp->http.max_retries.value));
  const struct resource_outlier_detection *od = &p->outlier_detection;
  if (od->present)
    json_object_set_new(
        o, "outlier_detection",
        json_pack("{s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:I}", "consecutive_5xx_errors",
                  (json_int_t)od->consecutive_5xx_errors.value, "consecutive_gateway_errors",
                  (json_int_t)od->consecutive_gateway_errors.value, "consecutive_local_origin_failures",
                  (json_int_t)od->consecutive_local_origin_failures.value, "split_external_local_origin_errors",
                  od->split_external_local_origin_errors.value, "interval_ms", (json_int_t)od->interval.ms,
                  "base_ejection_time_ms", (json_int_t)od->base_ejection_time.ms, "max_ejection_percent",
                  (json_int_t)od->max_ejection_percent.value, "min_health_percent",
                  (json_int_t)od->min_health_percent.value));
  if (p->tls.present) {
    json_t *t =
        json_pack("{s:s,s:o,s:b}", "mode", TLS_NAMES[p->tls.mode], "subject_alt_names",
                  w_strings(&p->tls.subject_alt_names), "insecure_skip_verify", p->tls.insecure_skip_verify.value);
    set_str(t, "sni", p->tls.sni);
    json_object_set_new(o, "tls", t);
  }
  return o;
}

static json_t *w_cluster(const struct xds_cluster *c) {
  json_t *o =
      json_pack("{s:s,s:s}", "name", c->name, "direction", c->direction == XDS_INBOUND ? "inbound" : "outbound");
  set_str(o, "service", c->service);
  set_int(o, "port", c->port);
  set_str(o, "subset", c->subset);
  if (c->external) json_object_set_new(o, "external", json_true());
  json_object_set_new(o, "policy", w_policy(&c->policy));
  json_t *a = json_array();
  for (size_t i = 0; i < c->endpoints_len; i++) {
    const struct xds_endpoint *e = &c->endpoints[i];
    json_t *eo = json_pack("{s:s,s:I,s:b}", "address", e->address, "port", (json_int_t)e->port, "healthy", e->healthy);
    set_str(eo, "workload", e->workload);
    set_str(eo, "replica", e->replica);
    if (e->labels.len) json_object_set_new(eo, "labels", w_map(&e->labels));
    if (e->tls != XDS_TLS_NONE) json_object_set_new(eo, "tls", json_string(ENDPOINT_TLS_NAMES[e->tls]));
    set_str(eo, "identity", e->identity);
    json_array_append_new(a, eo);
  }
  json_object_set_new(o, "endpoints", a);
  return o;
}

static json_t *w_rate_limit(const struct resource_local_rate_limit *l, const char *source) {
  json_t *o = json_object();
  set_str(o, "envoy_filter", source);
  set_str(o, "context", CONTEXT_NAMES[l->context]);
  set_int(o, "port", l->port);
  json_object_set_new(o, "per_route", json_boolean(l->per_route));
  if (l->stat_prefix) set_str(o, "stat_prefix", l->stat_prefix);
  set_int(o, "max_tokens", l->max_tokens);
  set_int(o, "tokens_per_fill", l->tokens_per_fill);
  set_int(o, "fill_interval_ms", l->fill_interval_ms);
  json_object_set_new(o, "filter_enabled", json_real(l->enabled_percent));
  json_object_set_new(o, "filter_enforced", json_real(l->enforced_percent));
  if (l->response_headers.len) json_object_set_new(o, "response_headers", w_map(&l->response_headers));
  return o;
}

int compile_to_json(const struct proxy_config *cfg, int indent, char **out) {
  json_t *root = json_object();
  set_int(root, "version", (json_int_t)cfg->version);
  set_str(root, "kind", cfg->kind == PROXY_CONFIG_GATEWAY ? "gateway" : "sidecar");
  json_object_set_new(
      root, "node",
      json_pack("{s:o,s:o,s:o}", "name", w_str(cfg->node), "namespace", w_str(cfg->ns), "labels", w_map(&cfg->labels)));
  json_t *rcs = json_array();
  for (size_t i = 0; i < cfg->route_configs_len; i++) {
    const struct xds_route_config *rc = &cfg->route_configs[i];
    json_t *vhs = json_array();
    for (size_t v = 0; v < rc->vhosts_len; v++) {
      const struct xds_vhost *vh = &rc->vhosts[v];
      json_t *doms = json_array(), *routes = json_array();
      for (size_t d = 0; d < vh->domains_len; d++) json_array_append_new(doms, json_string(vh->domains[d]));
      for (size_t r = 0; r < vh->routes_len; r++) json_array_append_new(routes, w_route(&vh->routes[r]));
      json_array_append_new(vhs, json_pack("{s:s,s:I,s:o,s:o}", "name", vh->name, "port", (json_int_t)vh->port,
                                           "domains", doms, "routes", routes));
    }
    json_t *rco = json_pack("{s:s,s:I}", "name", rc->name, "port", (json_int_t)rc->port);
    if (rc->local_rate_limit)
      json_object_set_new(rco, "local_rate_limit", w_rate_limit(rc->local_rate_limit, rc->local_rate_limit_source));
    json_object_set_new(rco, "virtual_hosts", vhs);
    if (rc->mtls != RESOURCE_MTLS_UNSET) json_object_set_new(rco, "mtls", json_string(MTLS_NAMES[rc->mtls]));
    set_str(rco, "mtls_source", rc->mtls_source);
    if (rc->outbound_policy != XDS_OUTBOUND_POLICY_NONE)
      json_object_set_new(rco, "outbound_traffic_policy", json_string(OUTBOUND_POLICY_NAMES[rc->outbound_policy]));
    json_array_append_new(rcs, rco);
  }
  json_object_set_new(root, "route_configs", rcs);
  json_t *cls = json_array();
  for (size_t i = 0; i < cfg->clusters_len; i++) json_array_append_new(cls, w_cluster(&cfg->clusters[i]));
  json_object_set_new(root, "clusters", cls);
  if (cfg->security.policies.len) {
    /* Each policy as `meshlab get -o json` writes it: what the user set, re-validated on read. */
    json_t *sec = json_array();
    for (size_t i = 0; i < cfg->security.policies.len; i++) {
      char *text = NULL;
      json_t *o = resource_to_json(cfg->security.policies.items[i], 0, &text) == 0 ? json_loads(text, 0, NULL) : NULL;
      free(text);
      if (!o) {
        json_decref(sec);
        json_decref(root);
        *out = NULL;
        return -ENOMEM;
      }
      json_array_append_new(sec, o);
    }
    json_object_set_new(root, "security_policies", sec);
  }
  size_t flags = JSON_PRESERVE_ORDER | (indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT);
  *out = json_dumps(root, flags);
  json_decref(root);
  return *out ? 0 : -ENOMEM;
}
