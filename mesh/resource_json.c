/* resource_json: resources back out, for `meshlab get -o yaml|json` and `meshlab export
 * istio`: one walker turns the typed model into a jansson tree holding only what the user set
 * (plus apiVersion, kind and metadata). resource_yaml.c dumps that tree as JSON or writes it
 * as block-style YAML. Writing from the model rather than echoing the input means
 * the output is exactly what meshlab understood, in the current API versions
 * (networking.istio.io/v1, security.istio.io/v1), so a learner can apply it to a real cluster.
 * EnvoyFilter is the exception: its spec is Envoy config and is returned as written.
 */
#include "mesh/resource_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small builders --------------------------------------------------------------------------- */

static void put(json_t *obj, const char *key, json_t *v) {
  if (v) json_object_set_new(obj, key, v);
}
static void put_str(json_t *obj, const char *key, const char *s) {
  if (s) put(obj, key, json_string(s));
}
static void put_u32(json_t *obj, const char *key, struct resource_u32 v) {
  if (v.set) put(obj, key, json_integer(v.value));
}
static void put_int(json_t *obj, const char *key, uint32_t v) {
  if (v) put(obj, key, json_integer(v));
}
static void put_ms(json_t *obj, const char *key, struct resource_ms v) {
  if (!v.set) return;
  char buf[32];
  resource_duration_format(v.ms, buf, sizeof buf);
  put_str(obj, key, buf);
}
static void put_flag(json_t *obj, const char *key, struct resource_flag v) {
  if (v.set) put(obj, key, json_boolean(v.value));
}
static void put_pct(json_t *obj, const char *key, struct resource_pct v) {
  if (v.set) put(obj, key, json_pack("{s:f}", "value", v.value));
}
static json_t *strings(const struct resource_strings *s) {
  if (s->len == 0) return NULL;
  json_t *a = json_array();
  for (size_t i = 0; i < s->len; i++) json_array_append_new(a, json_string(s->items[i]));
  return a;
}
static void put_strings(json_t *obj, const char *key, const struct resource_strings *s) { put(obj, key, strings(s)); }
static json_t *map(const struct resource_map *m) {
  json_t *o = json_object();
  for (size_t i = 0; i < m->len; i++) put_str(o, m->items[i].key, m->items[i].value);
  return o;
}
static void put_map(json_t *obj, const char *key, const struct resource_map *m) {
  if (m->len) put(obj, key, map(m));
}
static void put_nonempty(json_t *obj, const char *key, json_t *v) {
  if (v && json_object_size(v) == 0) {
    json_decref(v);
    return;
  }
  put(obj, key, v);
}

/* ---- networking ------------------------------------------------------------------------------ */

static json_t *string_match(const struct resource_string_match *m) {
  json_t *o = json_object();
  static const char *const keys[] = {NULL, "exact", "prefix", "regex"};
  if (m->type != RESOURCE_MATCH_NONE) put_str(o, keys[m->type], m->value);
  return o;
}
static void put_string_match(json_t *obj, const char *key, const struct resource_string_match *m) {
  if (m->type != RESOURCE_MATCH_NONE) put(obj, key, string_match(m));
}
static void put_named(json_t *obj, const char *key, const struct resource_named_match *m, size_t n) {
  if (n == 0) return;
  json_t *o = json_object();
  for (size_t i = 0; i < n; i++) put(o, m[i].name, string_match(&m[i].match));
  put(obj, key, o);
}

static json_t *destination(const struct resource_destination *d) {
  json_t *o = json_object();
  put_str(o, "host", d->host.written);
  put_str(o, "subset", d->subset);
  if (d->port) put(o, "port", json_pack("{s:i}", "number", (json_int_t)d->port));
  return o;
}

static json_t *header_ops(const struct resource_header_ops *h) {
  json_t *o = json_object();
  put_map(o, "set", &h->set);
  put_map(o, "add", &h->add);
  put_strings(o, "remove", &h->remove);
  return o;
}
static void put_headers(json_t *obj, const struct resource_headers *h) {
  if (!h->present) return;
  json_t *o = json_object();
  put_nonempty(o, "request", header_ops(&h->request));
  put_nonempty(o, "response", header_ops(&h->response));
  put(obj, "headers", o);
}

static json_t *route_destinations(const struct resource_route_destination *r, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_object();
    put(o, "destination", destination(&r[i].destination));
    put_u32(o, "weight", r[i].weight);
    put_headers(o, &r[i].headers);
    json_array_append_new(a, o);
  }
  return a;
}

static json_t *http_match(const struct resource_http_match *m) {
  json_t *o = json_object();
  put_str(o, "name", m->name);
  put_string_match(o, "uri", &m->uri);
  put_string_match(o, "scheme", &m->scheme);
  put_string_match(o, "method", &m->method);
  put_string_match(o, "authority", &m->authority);
  put_named(o, "headers", m->headers, m->headers_len);
  put_named(o, "queryParams", m->query_params, m->query_params_len);
  put_named(o, "withoutHeaders", m->without_headers, m->without_headers_len);
  put_int(o, "port", m->port);
  put_map(o, "sourceLabels", &m->source_labels);
  put_strings(o, "gateways", &m->gateways);
  put_flag(o, "ignoreUriCase", m->ignore_uri_case);
  return o;
}

static json_t *http_route(const struct resource_http_route *h) {
  json_t *o = json_object();
  put_str(o, "name", h->name);
  if (h->match_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < h->match_len; i++) json_array_append_new(a, http_match(&h->match[i]));
    put(o, "match", a);
  }
  if (h->route_len) put(o, "route", route_destinations(h->route, h->route_len));
  put_ms(o, "timeout", h->timeout);
  if (h->retries.present) {
    json_t *r = json_object();
    put_u32(r, "attempts", h->retries.attempts);
    put_ms(r, "perTryTimeout", h->retries.per_try_timeout);
    if (h->retries.retry_on_set) put_str(r, "retryOn", h->retries.retry_on);
    put_flag(r, "retryRemoteLocalities", h->retries.retry_remote_localities);
    put(o, "retries", r);
  }
  if (h->fault.present) {
    json_t *f = json_object();
    if (h->fault.delay.present) {
      json_t *d = json_object();
      put_ms(d, "fixedDelay", h->fault.delay.fixed_delay);
      put_pct(d, "percentage", h->fault.delay.percentage);
      put(f, "delay", d);
    }
    if (h->fault.abort.present) {
      json_t *a = json_object();
      put_int(a, "httpStatus", h->fault.abort.http_status);
      put_str(a, "grpcStatus", h->fault.abort.grpc_status);
      put_pct(a, "percentage", h->fault.abort.percentage);
      put(f, "abort", a);
    }
    put(o, "fault", f);
  }
  if (h->mirror_present) put(o, "mirror", destination(&h->mirror));
  put_pct(o, "mirrorPercentage", h->mirror_percentage);
  put_headers(o, &h->headers);
  if (h->rewrite.present) {
    json_t *r = json_object();
    put_str(r, "uri", h->rewrite.uri);
    put_str(r, "authority", h->rewrite.authority);
    put(o, "rewrite", r);
  }
  if (h->redirect.present) {
    json_t *r = json_object();
    put_str(r, "uri", h->redirect.uri);
    put_str(r, "authority", h->redirect.authority);
    put_int(r, "port", h->redirect.port);
    put_str(r, "scheme", h->redirect.scheme);
    put_u32(r, "redirectCode", h->redirect.redirect_code);
    put(o, "redirect", r);
  }
  if (h->direct_response.present) {
    json_t *r = json_object();
    put(r, "status", json_integer(h->direct_response.status));
    if (h->direct_response.body) put(r, "body", json_pack("{s:s}", "string", h->direct_response.body));
    put(o, "directResponse", r);
  }
  return o;
}

static json_t *virtual_service(const struct resource_virtual_service *vs) {
  json_t *o = json_object();
  json_t *hosts = json_array();
  for (size_t i = 0; i < vs->hosts_len; i++) json_array_append_new(hosts, json_string(vs->hosts[i].written));
  put(o, "hosts", hosts);
  put_strings(o, "gateways", &vs->gateways);
  if (vs->http_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < vs->http_len; i++) json_array_append_new(a, http_route(&vs->http[i]));
    put(o, "http", a);
  }
  if (vs->tcp_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < vs->tcp_len; i++) {
      const struct resource_tcp_route *t = &vs->tcp[i];
      json_t *r = json_object();
      if (t->match_len) {
        json_t *ms = json_array();
        for (size_t j = 0; j < t->match_len; j++) {
          json_t *m = json_object();
          put_int(m, "port", t->match[j].port);
          put_map(m, "sourceLabels", &t->match[j].source_labels);
          put_strings(m, "destinationSubnets", &t->match[j].destination_subnets);
          put_strings(m, "gateways", &t->match[j].gateways);
          json_array_append_new(ms, m);
        }
        put(r, "match", ms);
      }
      put(r, "route", route_destinations(t->route, t->route_len));
      json_array_append_new(a, r);
    }
    put(o, "tcp", a);
  }
  return o;
}

static const char *const LB_NAMES[] = {"UNSPECIFIED", "LEAST_REQUEST", "ROUND_ROBIN",
                                       "RANDOM",      "PASSTHROUGH",   "LEAST_CONN"};
static const char *const CLIENT_TLS_NAMES[] = {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"};

static void put_load_balancer(json_t *obj, const struct resource_load_balancer *lb) {
  if (!lb->present) return;
  json_t *o = json_object();
  if (lb->simple_set) put_str(o, "simple", LB_NAMES[lb->simple]);
  if (lb->hash_present) {
    const struct resource_consistent_hash *ch = &lb->consistent_hash;
    json_t *h = json_object();
    switch (ch->key) {
    case RESOURCE_HASH_HEADER:
      put_str(h, "httpHeaderName", ch->name);
      break;
    case RESOURCE_HASH_COOKIE: {
      json_t *ck = json_object();
      put_str(ck, "name", ch->name);
      put_str(ck, "path", ch->cookie_path);
      put_ms(ck, "ttl", ch->cookie_ttl);
      put(h, "httpCookie", ck);
      break;
    }
    case RESOURCE_HASH_SOURCE_IP:
      put(h, "useSourceIp", json_true());
      break;
    case RESOURCE_HASH_QUERY_PARAM:
      put_str(h, "httpQueryParameterName", ch->name);
      break;
    case RESOURCE_HASH_NONE:
      break;
    }
    if (ch->ring_size.set) put(h, "ringHash", json_pack("{s:i}", "minimumRingSize", (json_int_t)ch->ring_size.value));
    if (ch->maglev) {
      json_t *m = json_object();
      put_u32(m, "tableSize", ch->maglev_table_size);
      put(h, "maglev", m);
    }
    put(o, "consistentHash", h);
  }
  put(obj, "loadBalancer", o);
}

static void put_connection_pool(json_t *obj, const struct resource_connection_pool *cp) {
  if (!cp->present) return;
  json_t *o = json_object();
  if (cp->tcp.present) {
    json_t *t = json_object();
    put_u32(t, "maxConnections", cp->tcp.max_connections);
    put_ms(t, "connectTimeout", cp->tcp.connect_timeout);
    put(o, "tcp", t);
  }
  if (cp->http.present) {
    json_t *h = json_object();
    put_u32(h, "http1MaxPendingRequests", cp->http.http1_max_pending_requests);
    put_u32(h, "http2MaxRequests", cp->http.http2_max_requests);
    put_u32(h, "maxRequestsPerConnection", cp->http.max_requests_per_connection);
    put_u32(h, "maxRetries", cp->http.max_retries);
    put(o, "http", h);
  }
  put(obj, "connectionPool", o);
}

static void put_outlier(json_t *obj, const struct resource_outlier_detection *od) {
  if (!od->present) return;
  json_t *o = json_object();
  put_u32(o, "consecutive5xxErrors", od->consecutive_5xx_errors);
  put_u32(o, "consecutiveGatewayErrors", od->consecutive_gateway_errors);
  put_u32(o, "consecutiveLocalOriginFailures", od->consecutive_local_origin_failures);
  put_flag(o, "splitExternalLocalOriginErrors", od->split_external_local_origin_errors);
  put_ms(o, "interval", od->interval);
  put_ms(o, "baseEjectionTime", od->base_ejection_time);
  put_u32(o, "maxEjectionPercent", od->max_ejection_percent);
  put_u32(o, "minHealthPercent", od->min_health_percent);
  put(obj, "outlierDetection", o);
}

static void put_client_tls(json_t *obj, const struct resource_client_tls *tls) {
  if (!tls->present) return;
  json_t *o = json_object();
  put_str(o, "mode", CLIENT_TLS_NAMES[tls->mode]);
  put_str(o, "sni", tls->sni);
  put_strings(o, "subjectAltNames", &tls->subject_alt_names);
  put_flag(o, "insecureSkipVerify", tls->insecure_skip_verify);
  put(obj, "tls", o);
}

static void put_traffic_policy(json_t *obj, const struct resource_traffic_policy *tp) {
  if (!tp->present) return;
  json_t *o = json_object();
  put_load_balancer(o, &tp->load_balancer);
  put_connection_pool(o, &tp->connection_pool);
  put_outlier(o, &tp->outlier_detection);
  put_client_tls(o, &tp->tls);
  if (tp->port_level_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < tp->port_level_len; i++) {
      const struct resource_port_policy *pp = &tp->port_level[i];
      json_t *p = json_object();
      put(p, "port", json_pack("{s:i}", "number", (json_int_t)pp->port));
      put_load_balancer(p, &pp->load_balancer);
      put_connection_pool(p, &pp->connection_pool);
      put_outlier(p, &pp->outlier_detection);
      put_client_tls(p, &pp->tls);
      json_array_append_new(a, p);
    }
    put(o, "portLevelSettings", a);
  }
  put(obj, "trafficPolicy", o);
}

static json_t *destination_rule(const struct resource_destination_rule *dr) {
  json_t *o = json_object();
  put_str(o, "host", dr->host.written);
  put_traffic_policy(o, &dr->traffic_policy);
  if (dr->subsets_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < dr->subsets_len; i++) {
      json_t *s = json_object();
      put_str(s, "name", dr->subsets[i].name);
      put_map(s, "labels", &dr->subsets[i].labels);
      put_traffic_policy(s, &dr->subsets[i].traffic_policy);
      json_array_append_new(a, s);
    }
    put(o, "subsets", a);
  }
  return o;
}

static json_t *port(const struct resource_port *p) {
  json_t *o = json_object();
  put(o, "number", json_integer(p->number));
  put_str(o, "name", p->name);
  put_str(o, "protocol", p->protocol);
  put_int(o, "targetPort", p->target_port);
  return o;
}

static json_t *gateway(const struct resource_gateway *gw) {
  json_t *o = json_object();
  put_map(o, "selector", &gw->selector);
  json_t *a = json_array();
  for (size_t i = 0; i < gw->servers_len; i++) {
    const struct resource_server *s = &gw->servers[i];
    json_t *so = json_object();
    put(so, "port", port(&s->port));
    put_strings(so, "hosts", &s->hosts);
    if (s->tls.present) {
      json_t *t = json_object();
      put_flag(t, "httpsRedirect", s->tls.https_redirect);
      if (s->tls.mode_set) put_str(t, "mode", "SIMPLE");
      put_str(t, "credentialName", s->tls.credential_name);
      put(so, "tls", t);
    }
    put_str(so, "name", s->name);
    json_array_append_new(a, so);
  }
  put(o, "servers", a);
  return o;
}

static json_t *service_entry(const struct resource_service_entry *se) {
  static const char *const locations[] = {"MESH_EXTERNAL", "MESH_INTERNAL"};
  static const char *const resolutions[] = {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"};
  json_t *o = json_object();
  json_t *hosts = json_array();
  for (size_t i = 0; i < se->hosts_len; i++) json_array_append_new(hosts, json_string(se->hosts[i].written));
  put(o, "hosts", hosts);
  if (se->ports_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < se->ports_len; i++) json_array_append_new(a, port(&se->ports[i]));
    put(o, "ports", a);
  }
  if (se->location_set) put_str(o, "location", locations[se->location]);
  if (se->resolution_set) put_str(o, "resolution", resolutions[se->resolution]);
  if (se->endpoints_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < se->endpoints_len; i++) {
      const struct resource_workload_entry *e = &se->endpoints[i];
      json_t *eo = json_object();
      put_str(eo, "address", e->address);
      if (e->ports_len) {
        json_t *p = json_object();
        for (size_t j = 0; j < e->ports_len; j++) put(p, e->ports[j].name, json_integer(e->ports[j].number));
        put(eo, "ports", p);
      }
      put_map(eo, "labels", &e->labels);
      put_str(eo, "network", e->network);
      put_str(eo, "locality", e->locality);
      put_u32(eo, "weight", e->weight);
      put_str(eo, "serviceAccount", e->service_account);
      json_array_append_new(a, eo);
    }
    put(o, "endpoints", a);
  }
  return o;
}

/* ---- security --------------------------------------------------------------------------------- */

static const char *const MTLS_NAMES[] = {"UNSET", "DISABLE", "PERMISSIVE", "STRICT"};

static void put_selector(json_t *obj, bool has, const struct resource_map *labels) {
  if (!has) return;
  json_t *o = json_object();
  put_map(o, "matchLabels", labels);
  put(obj, "selector", o);
}

static json_t *peer_authentication(const struct resource_peer_authentication *pa) {
  json_t *o = json_object();
  put_selector(o, pa->has_selector, &pa->selector);
  if (pa->mtls_present) put(o, "mtls", json_pack("{s:s}", "mode", MTLS_NAMES[pa->mode]));
  if (pa->port_level_len) {
    json_t *p = json_object();
    for (size_t i = 0; i < pa->port_level_len; i++) {
      char key[16];
      snprintf(key, sizeof key, "%u", pa->port_level[i].port);
      put(p, key, json_pack("{s:s}", "mode", MTLS_NAMES[pa->port_level[i].mode]));
    }
    put(o, "portLevelMtls", p);
  }
  return o;
}

static json_t *request_authentication(const struct resource_request_authentication *ra) {
  json_t *o = json_object();
  put_selector(o, ra->has_selector, &ra->selector);
  if (ra->jwt_rules_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < ra->jwt_rules_len; i++) {
      const struct resource_jwt_rule *j = &ra->jwt_rules[i];
      json_t *r = json_object();
      put_str(r, "issuer", j->issuer);
      put_strings(r, "audiences", &j->audiences);
      put_str(r, "jwksUri", j->jwks_uri);
      put_str(r, "jwks", j->jwks);
      if (j->from_headers_len) {
        json_t *h = json_array();
        for (size_t k = 0; k < j->from_headers_len; k++) {
          json_t *e = json_object();
          put_str(e, "name", j->from_headers[k].name);
          put_str(e, "prefix", j->from_headers[k].prefix);
          json_array_append_new(h, e);
        }
        put(r, "fromHeaders", h);
      }
      put_strings(r, "fromParams", &j->from_params);
      put_strings(r, "fromCookies", &j->from_cookies);
      put_str(r, "outputPayloadToHeader", j->output_payload_to_header);
      if (j->output_claim_to_headers_len) {
        json_t *h = json_array();
        for (size_t k = 0; k < j->output_claim_to_headers_len; k++) {
          json_t *e = json_object();
          put_str(e, "header", j->output_claim_to_headers[k].header);
          put_str(e, "claim", j->output_claim_to_headers[k].claim);
          json_array_append_new(h, e);
        }
        put(r, "outputClaimToHeaders", h);
      }
      put_flag(r, "forwardOriginalToken", j->forward_original_token);
      put_ms(r, "timeout", j->timeout);
      json_array_append_new(a, r);
    }
    put(o, "jwtRules", a);
  }
  return o;
}

static json_t *authorization_policy(const struct resource_authorization_policy *ap) {
  json_t *o = json_object();
  put_selector(o, ap->has_selector, &ap->selector);
  if (ap->action_set) put_str(o, "action", resource_authz_action_name(ap->action));
  if (ap->rules_len == 0) return o;
  json_t *rules = json_array();
  for (size_t i = 0; i < ap->rules_len; i++) {
    const struct resource_authz_rule *r = &ap->rules[i];
    json_t *ro = json_object();
    if (r->from_len) {
      json_t *a = json_array();
      for (size_t k = 0; k < r->from_len; k++) {
        const struct resource_authz_source *s = &r->from[k];
        json_t *so = json_object();
        put_strings(so, "principals", &s->principals);
        put_strings(so, "notPrincipals", &s->not_principals);
        put_strings(so, "requestPrincipals", &s->request_principals);
        put_strings(so, "notRequestPrincipals", &s->not_request_principals);
        put_strings(so, "namespaces", &s->namespaces);
        put_strings(so, "notNamespaces", &s->not_namespaces);
        put_strings(so, "serviceAccounts", &s->service_accounts);
        put_strings(so, "notServiceAccounts", &s->not_service_accounts);
        put_strings(so, "ipBlocks", &s->ip_blocks);
        put_strings(so, "notIpBlocks", &s->not_ip_blocks);
        put_strings(so, "remoteIpBlocks", &s->remote_ip_blocks);
        put_strings(so, "notRemoteIpBlocks", &s->not_remote_ip_blocks);
        json_t *f = json_object();
        put(f, "source", so);
        json_array_append_new(a, f);
      }
      put(ro, "from", a);
    }
    if (r->to_len) {
      json_t *a = json_array();
      for (size_t k = 0; k < r->to_len; k++) {
        const struct resource_authz_operation *op = &r->to[k];
        json_t *oo = json_object();
        put_strings(oo, "hosts", &op->hosts);
        put_strings(oo, "notHosts", &op->not_hosts);
        put_strings(oo, "ports", &op->ports);
        put_strings(oo, "notPorts", &op->not_ports);
        put_strings(oo, "methods", &op->methods);
        put_strings(oo, "notMethods", &op->not_methods);
        put_strings(oo, "paths", &op->paths);
        put_strings(oo, "notPaths", &op->not_paths);
        json_t *t = json_object();
        put(t, "operation", oo);
        json_array_append_new(a, t);
      }
      put(ro, "to", a);
    }
    if (r->when_len) {
      json_t *a = json_array();
      for (size_t k = 0; k < r->when_len; k++) {
        json_t *w = json_object();
        put_str(w, "key", r->when[k].key);
        put_strings(w, "values", &r->when[k].values);
        put_strings(w, "notValues", &r->when[k].not_values);
        json_array_append_new(a, w);
      }
      put(ro, "when", a);
    }
    json_array_append_new(rules, ro);
  }
  put(o, "rules", rules);
  return o;
}

/* ---- Kubernetes -------------------------------------------------------------------------------- */

static json_t *service(const struct resource_service *svc) {
  json_t *o = json_object();
  if (svc->ports_len) {
    json_t *a = json_array();
    for (size_t i = 0; i < svc->ports_len; i++) {
      const struct resource_service_port *p = &svc->ports[i];
      json_t *po = json_object();
      put_str(po, "name", p->name);
      put(po, "port", json_integer(p->port));
      put_int(po, "targetPort", p->target_port);
      put_str(po, "targetPort", p->target_port_name);
      if (p->protocol && strcmp(p->protocol, "TCP") != 0) put_str(po, "protocol", p->protocol);
      json_array_append_new(a, po);
    }
    put(o, "ports", a);
  }
  put_map(o, "selector", &svc->selector);
  return o;
}

static json_t *deployment(const struct resource_deployment *d) {
  json_t *o = json_object();
  put_u32(o, "replicas", d->replicas);
  json_t *sel = json_object();
  put(sel, "matchLabels", map(&d->selector));
  put(o, "selector", sel);
  json_t *tmeta = json_object();
  put_map(tmeta, "labels", &d->labels);
  put_map(tmeta, "annotations", &d->pod_annotations);
  json_t *pod = json_object();
  if (d->service_account_set) put_str(pod, "serviceAccountName", d->service_account_name);
  json_t *cs = json_array();
  for (size_t i = 0; i < d->containers_len; i++) {
    const struct resource_container *ct = &d->containers[i];
    json_t *co = json_object();
    put_str(co, "name", ct->name);
    put_str(co, "image", ct->image);
    put_strings(co, "command", &ct->command);
    put_strings(co, "args", &ct->args);
    if (ct->ports_len) {
      json_t *a = json_array();
      for (size_t k = 0; k < ct->ports_len; k++) {
        json_t *p = json_object();
        put(p, "containerPort", json_integer(ct->ports[k].container_port));
        put_str(p, "name", ct->ports[k].name);
        if (ct->ports[k].protocol && strcmp(ct->ports[k].protocol, "TCP") != 0)
          put_str(p, "protocol", ct->ports[k].protocol);
        json_array_append_new(a, p);
      }
      put(co, "ports", a);
    }
    if (ct->env_len) {
      json_t *a = json_array();
      for (size_t k = 0; k < ct->env_len; k++) {
        json_t *e = json_object();
        put_str(e, "name", ct->env[k].name);
        put_str(e, "value", ct->env[k].value);
        json_array_append_new(a, e);
      }
      put(co, "env", a);
    }
    json_array_append_new(cs, co);
  }
  put(pod, "containers", cs);
  json_t *tmpl = json_object();
  put(tmpl, "metadata", tmeta);
  put(tmpl, "spec", pod);
  put(o, "template", tmpl);
  return o;
}

/* ---- the whole object ------------------------------------------------------------------------- */

json_t *rjson_resource(const struct resource *r) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  put_str(o, "apiVersion", resource_kind_api_version(r->kind));
  put_str(o, "kind", resource_kind_name(r->kind));
  json_t *meta = json_object();
  put_str(meta, "name", r->meta.name);
  put_str(meta, "namespace", r->meta.ns);
  put_map(meta, "labels", &r->meta.labels);
  put_map(meta, "annotations", &r->meta.annotations);
  put(o, "metadata", meta);
  json_t *spec = NULL;
  switch (r->kind) {
  case RESOURCE_VIRTUAL_SERVICE:
    spec = virtual_service(&r->spec.virtual_service);
    break;
  case RESOURCE_DESTINATION_RULE:
    spec = destination_rule(&r->spec.destination_rule);
    break;
  case RESOURCE_GATEWAY:
    spec = gateway(&r->spec.gateway);
    break;
  case RESOURCE_SERVICE_ENTRY:
    spec = service_entry(&r->spec.service_entry);
    break;
  case RESOURCE_PEER_AUTHENTICATION:
    spec = peer_authentication(&r->spec.peer_authentication);
    break;
  case RESOURCE_REQUEST_AUTHENTICATION:
    spec = request_authentication(&r->spec.request_authentication);
    break;
  case RESOURCE_AUTHORIZATION_POLICY:
    spec = authorization_policy(&r->spec.authorization_policy);
    break;
  case RESOURCE_ENVOY_FILTER:
    spec = r->spec.envoy_filter.spec_json ? json_loads(r->spec.envoy_filter.spec_json, 0, NULL) : json_object();
    break;
  case RESOURCE_SERVICE:
    spec = service(&r->spec.service);
    break;
  case RESOURCE_DEPLOYMENT:
    spec = deployment(&r->spec.deployment);
    break;
  case RESOURCE_SERVICE_ACCOUNT:
    break;
  }
  put(o, "spec", spec);
  return o;
}

int resource_to_json(const struct resource *r, int indent, char **out) {
  json_t *o = rjson_resource(r);
  *out = o ? json_dumps(o, indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT) : NULL;
  json_decref(o);
  return *out ? 0 : -ENOMEM;
}
