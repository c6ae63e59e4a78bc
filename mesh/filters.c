/* filters: the sidecar's HTTP filter chain before any try, in Envoy's order as Istio builds it.
 *
 * Where it sits: proxy.c parsed a request head; filters_run() decides, with the config the
 * request is routed under:
 *
 *   jwt_authn (jwt.c)               inbound: the RequestAuthentications that select the workload;
 *                                   an invalid token is 401, a valid one gives the request
 *                                   principal and claims, no token passes without them
 *   rbac (authz.c)                  inbound: the AuthorizationPolicies; 403 "RBAC: access denied"
 *   local rate limit (ratelimit.c)  the listener's EnvoyFilter token bucket: 429 RL
 *   router (router.c)               which VirtualService rule, weighted destination, cluster
 *                                   (NR, NC, redirects, direct responses answer here; a
 *                                   host in no registry is passed through or blackholed)
 *   route policy                    the rule's timeout and retry policy, read for exchange.c
 *   fault (fault.c)                 the delay and abort draw: an abort with no delay answers
 *                                   here (FI); a delay is waited out by exchange.c (DI)
 *   load balancer (lb.c)            the first try's host, skipping ejected hosts (UH)
 *
 * then exchange.c runs the tries. Once the request is complete, filters_mirror() sends the
 * route's mirror copy (mirror.c), fire and forget. Each decision is written into the request's
 * trace record (trace.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mesh/flags.h"
#include "mesh/http_head.h"
#include "mesh/mirror.h"
#include "mesh/proxy_internal.h"
#include "mesh/ratelimit.h"
#include "mesh/router.h"

/* The fault filter's abort: the configured status, flag FI, Envoy's body. */
void filters_fault_abort(struct session *s) {
  struct exchange *ex = &s->ex;
  char extra[64] = "";
  if (ex->fault.grpc_code >= 0) snprintf(extra, sizeof extra, "grpc-status: %d\r\n", ex->fault.grpc_code);
  session_local_reply(s, ex->fault.abort_status, FLAG_FI, "fault filter abort", "fault_filter_abort",
                      extra[0] ? extra : NULL);
}

static void route_trace(struct exchange *ex, const struct route_decision *d, enum router_verdict v) {
  struct trace_record *t = &ex->trace;
  const char *vn = router_verdict_name(v);
  trace_copy(t->verdict, sizeof t->verdict, vn, strlen(vn));
  trace_copy(t->route_why, sizeof t->route_why, d->why, strlen(d->why));
  const struct xds_route *r = d->route;
  if (r) {
    if (r->vs_name) {
      char vs[96];
      snprintf(vs, sizeof vs, "%s/%s", r->vs_ns ? r->vs_ns : "", r->vs_name);
      trace_copy(t->virtual_service, sizeof t->virtual_service, vs, strlen(vs));
    }
    t->rule = r->rule;
    t->match = d->match_index;
    if (r->name) trace_copy(t->route_name, sizeof t->route_name, r->name, strlen(r->name));
    t->destinations = (uint32_t)r->destinations_len;
  }
  if (d->destination && d->destination->cluster_name)
    trace_copy(t->cluster, sizeof t->cluster, d->destination->cluster_name, strlen(d->destination->cluster_name));
  t->weight_draw = d->draw;
  t->weight_total = d->total_weight;
}

/* Istio's policies of the matched route: the timeout, the retry policy (none inbound: Istio
 * puts retries on client-side routes only), the fault draw. */
static void route_policy(struct session *s, const struct xds_route *r) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  struct trace_record *t = &ex->trace;
  ex->timeout_ms = px->limits.request_timeout_ms;
  if (r && r->timeout.set) ex->timeout_ms = r->timeout.ms > 0 ? (uint64_t)r->timeout.ms : 0;
  memset(&ex->retry, 0, sizeof ex->retry);
  if (r && s->dir != XDS_INBOUND) {
    char err[128];
    if (retry_policy_from_route(&r->retries, &ex->retry, err, sizeof err) != 0) memset(&ex->retry, 0, sizeof ex->retry);
  }
  t->timeout_ms = (uint32_t)ex->timeout_ms;
  t->per_try_timeout_ms = (uint32_t)(ex->retry.per_try_timeout_ms > 0 ? ex->retry.per_try_timeout_ms : 0);
  t->retry_attempts = ex->retry.retries;
  retry_policy_format(&ex->retry, t->retry_on, sizeof t->retry_on);
  if (ex->retry.retries && ex->retry.codes_len) {
    /* Which codes retriable-status-codes means: Istio's default is 503 alone. */
    size_t len = strlen(t->retry_on);
    for (size_t i = 0; i < ex->retry.codes_len && len + 6 < sizeof t->retry_on; i++)
      len += (size_t)snprintf(t->retry_on + len, sizeof t->retry_on - len, "%s%u", i ? "," : " [",
                              (unsigned)ex->retry.codes[i]);
    if (len + 2 < sizeof t->retry_on) snprintf(t->retry_on + len, sizeof t->retry_on - len, "]");
  }
  fault_draw(r && s->dir != XDS_INBOUND ? &r->fault : NULL, &px->rng, &ex->fault);
  const struct fault_draw *f = &ex->fault;
  if (f->has_delay || f->has_abort) {
    t->fault = f->delay && f->abort ? TRACE_FAULT_BOTH
               : f->delay           ? TRACE_FAULT_DELAYED
               : f->abort           ? TRACE_FAULT_ABORTED
                                    : TRACE_FAULT_SKIPPED;
    t->delay_pct = f->delay_pct;
    t->delay_roll = f->delay_roll;
    t->abort_pct = f->abort_pct;
    t->abort_roll = f->abort_roll;
    /* The configured delay, fired or not (the draw only says whether it fired). */
    t->delay_ms = r && r->fault.delay.present && r->fault.delay.fixed_delay.ms > 0
                      ? (uint32_t)r->fault.delay.fixed_delay.ms
                      : (uint32_t)f->delay_ms;
    t->abort_status = f->abort_status;
  }
}

/* Envoy's local_ratelimit filter, which Istio's rate-limiting task inserts before the router of
 * the listener's HTTP chain: one bucket per listener (route config) of this proxy. Returns 1
 * when the request was answered 429 RL with the filter's response_headers_to_add. */
static int local_rate_limit(struct session *s) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  const struct xds_route_config *rc = proxy_config_listener(ex->config->cfg, s->dir, s->lport);
  if (!rc || !rc->local_rate_limit) return 0;
  const struct resource_local_rate_limit *l = rc->local_rate_limit;
  int64_t now = (int64_t)uv_now(px->loop);
  struct ratelimit_slot *slot = ratelimit_buckets_get(&px->ratelimit, rc->name ? rc->name : "", l, now);
  uint32_t left = 0;
  enum ratelimit_verdict v = ratelimit_slot_check(slot, l, &px->rng, now, &left);
  ex->trace.tokens_left = left;
  switch (v) {
  case RATELIMIT_PASS:
    ex->trace.ratelimit = TRACE_RATELIMIT_PASSED;
    return 0;
  case RATELIMIT_NOT_ENFORCED:
    ex->trace.ratelimit = TRACE_RATELIMIT_NOT_ENFORCED;
    return 0;
  case RATELIMIT_LIMITED:
    break;
  }
  ex->trace.ratelimit = TRACE_RATELIMIT_LIMITED;
  char extra[192];
  size_t n = 0;
  extra[0] = '\0';
  for (size_t i = 0; i < l->response_headers.len; i++) {
    const struct resource_map_entry *e = &l->response_headers.items[i];
    int w = snprintf(extra + n, sizeof extra - n, "%s: %s\r\n", e->key, e->value ? e->value : "");
    if (w < 0 || (size_t)w >= sizeof extra - n) {
      extra[n] = '\0'; /* a header that does not fit is left out whole */
      break;
    }
    n += (size_t)w;
  }
  session_local_reply(s, 429, FLAG_RL, "local_rate_limited", "local_rate_limited", n ? extra : NULL);
  return 1;
}

/* ---- jwt_authn and rbac --------------------------------------------------------------------- */

/* The request as the security filters read it: NUL-terminated copies of the parts they look
 * at, in one allocation that lives for the two filters. */
struct sec_view {
  struct jwt_header_kv *jwt_headers;
  struct authz_header *authz_headers;
  size_t headers_len;
  char *path, *host, *method, *source_ip;
  char destination_ip[64]; /* the listener's local address without its port */
  char *mem;
};

static char *view_copy(char **cursor, struct slice v) {
  char *p = *cursor;
  if (v.n) memcpy(p, v.p, v.n);
  p[v.n] = '\0';
  *cursor += v.n + 1;
  return p;
}

static int sec_view_init(struct sec_view *v, const struct session *s, const struct http_head *h) {
  const struct exchange *ex = &s->ex;
  memset(v, 0, sizeof *v);
  size_t n = ex->path.n + ex->authority.n + h->method.n + s->client_ip.n + 4;
  for (size_t i = 0; i < h->nheaders; i++) n += h->headers[i].name.n + h->headers[i].value.n + 2;
  v->mem = malloc(n);
  v->jwt_headers = calloc(h->nheaders + 1, sizeof *v->jwt_headers);
  v->authz_headers = calloc(h->nheaders + 1, sizeof *v->authz_headers);
  if (!v->mem || !v->jwt_headers || !v->authz_headers) return -ENOMEM;
  char *c = v->mem;
  for (size_t i = 0; i < h->nheaders; i++) {
    const char *name = view_copy(&c, h->headers[i].name), *value = view_copy(&c, h->headers[i].value);
    v->jwt_headers[i] = (struct jwt_header_kv){name, value};
    v->authz_headers[i] = (struct authz_header){name, value};
  }
  v->headers_len = h->nheaders;
  v->path = view_copy(&c, ex->path.n ? ex->path : h->target);
  v->host = view_copy(&c, ex->authority);
  v->method = view_copy(&c, h->method);
  v->source_ip = view_copy(&c, s->client_ip);
  /* "HOST:PORT" (IPv6 is "[::1]:80"): keep the host. */
  snprintf(v->destination_ip, sizeof v->destination_ip, "%s", s->local[0] == '[' ? s->local + 1 : s->local);
  char *colon = strrchr(v->destination_ip, s->local[0] == '[' ? ']' : ':');
  if (colon) *colon = '\0';
  return 0;
}

static void sec_view_free(struct sec_view *v) {
  free(v->mem);
  free(v->jwt_headers);
  free(v->authz_headers);
}

/* The caller's mTLS identity ("cluster.local/ns/default/sa/sleep") for source.principal and
 * source.namespace: the SAN URI of the peer certificate conn.c verified, minus "spiffe://".
 * NULL for a plaintext caller: then policies on principals or namespaces match nothing, as they
 * do in Istio. */
static const char *inbound_peer_principal(const struct session *s) {
  const char *id = conn_tls_peer_id(&s->conn);
  if (!id || !*id) return NULL;
  return strncmp(id, "spiffe://", 9) == 0 ? id + 9 : id;
}

/* Whether this listener runs the security filters: a sidecar's inbound listeners and every
 * listener of a gateway, as istiod builds them. */
static bool security_applies(const struct session *s, const struct proxy_config *cfg) {
  if (!cfg->security.jwt_rules_len && !cfg->security.authz_len) return false;
  return cfg->kind == PROXY_CONFIG_GATEWAY || s->dir == XDS_INBOUND;
}

/* Removes every header called name from the request head (the head is ours to edit: the
 * upstream head is written from it after the filters). */
static void head_remove(struct http_head *h, const char *name) {
  size_t out = 0;
  for (size_t i = 0; i < h->nheaders; i++)
    if (!slice_eq_str_nocase(h->headers[i].name, name)) h->headers[out++] = h->headers[i];
  h->nheaders = out;
}

static void add_header(struct exchange *ex, const char *name, const char *value) {
  buf_appendf(&ex->added_headers, "%s: %s\r\n", name, value);
}

/* Envoy's jwt_authn filter. Returns 1 when it answered 401. On success the request principal
 * and claims stay in *out for rbac; the header edits are applied. */
static int jwt_authn(struct session *s, struct http_head *h, const struct sec_view *v, struct jwt_outcome *out) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  const struct xds_security *sec = &ex->config->cfg->security;
  memset(out, 0, sizeof *out);
  if (!sec->jwt_rules_len) return 0;
  struct jwt_provider *pv = calloc(sec->jwt_rules_len, sizeof *pv);
  if (!pv) {
    session_local_reply(s, 500, 0, "out of memory", "jwt_authn_oom", NULL);
    return 1;
  }
  for (size_t i = 0; i < sec->jwt_rules_len; i++) {
    const struct xds_jwt_rule *x = &sec->jwt_rules[i];
    pv[i].rule = x->rule;
    pv[i].keys = x->keys;
    if (x->rule->jwks_uri) {
      /* Stale or missing: refresh in the background; this request uses what is there. (Entries
       * may move as the cache grows: only the key set pointer, which does not, is kept.) */
      struct jwks_cache_entry *e = jwks_cache_get(&px->jwks, x->rule->jwks_uri);
      if (e && px->jwks_fetch && jwks_cache_due(e, uv_now(px->loop))) px->jwks_fetch(px, x->rule);
      e = jwks_cache_find(&px->jwks, x->rule->jwks_uri);
      pv[i].keys = e ? e->keys : NULL;
    }
  }
  struct jwt_request rq = {v->jwt_headers, v->headers_len, v->path};
  jwt_authenticate(pv, sec->jwt_rules_len, &rq, (int64_t)time(NULL), out);
  free(pv);
  struct trace_record *t = &ex->trace;
  const struct xds_jwt_rule *x = out->provider_set ? &sec->jwt_rules[out->provider] : NULL;
  char src[160] = "";
  if (x)
    snprintf(src, sizeof src, " (RequestAuthentication %s/%s, issuer %s)", x->source->meta.ns, x->source->meta.name,
             x->rule->issuer);
  char line[1024]; /* cut to the trace field by trace_copy */
  switch (out->verdict) {
  case JWT_MISSING:
    snprintf(line, sizeof line, "no token: passes without a request principal (authorization decides)");
    trace_copy(t->authn, sizeof t->authn, line, strlen(line));
    return 0;
  case JWT_OK:
    snprintf(line, sizeof line, "ok: request principal %s%s", out->token.principal ? out->token.principal : "(none)",
             src);
    trace_copy(t->authn, sizeof t->authn, line, strlen(line));
    if (out->strip_header) head_remove(h, out->strip_header);
    if (out->payload_header) {
      head_remove(h, out->payload_header);
      if (out->payload_value) add_header(ex, out->payload_header, out->payload_value);
    }
    for (size_t i = 0; i < out->claim_headers_len; i++) {
      head_remove(h, out->claim_headers[i].name);
      add_header(ex, out->claim_headers[i].name, out->claim_headers[i].value);
    }
    return 0;
  case JWT_MALFORMED:
  case JWT_ALG_NOT_ALLOWED:
  case JWT_KEY_IN_HEADER:
  case JWT_UNKNOWN_KID:
  case JWT_BAD_SIGNATURE:
  case JWT_EXPIRED:
  case JWT_NOT_YET_VALID:
  case JWT_ISSUER:
  case JWT_AUDIENCE:
  case JWT_KEYS_UNAVAILABLE:
    break;
  }
  const char *reason = out->token.reason;
  if (out->verdict == JWT_KEYS_UNAVAILABLE && x && x->rule->jwks_uri) {
    const struct jwks_cache_entry *e = jwks_cache_find(&px->jwks, x->rule->jwks_uri);
    if (e && e->error[0]) reason = e->error; /* why the fetch failed, as the sidecar logged it */
  }
  snprintf(line, sizeof line, "401: %s: %s%s", out->body, reason, src);
  trace_copy(t->authn, sizeof t->authn, line, strlen(line));
  /* Envoy's response code details: the status message with spaces as underscores. */
  snprintf(ex->details_buf, sizeof ex->details_buf, "jwt_authn_access_denied{%s}", out->body);
  for (char *p = ex->details_buf; *p; p++)
    if (*p == ' ') *p = '_';
  char www[900];
  snprintf(www, sizeof www, "www-authenticate: Bearer realm=\"http://%.300s%.400s\", error=\"invalid_token\"\r\n",
           v->host, v->path);
  session_local_reply(s, 401, 0, out->body, ex->details_buf, www);
  return 1;
}

/* Envoy's RBAC filter (Istio's AuthorizationPolicies; DENY before ALLOW). Returns 1 when it
 * answered 403 "RBAC: access denied". */
static int rbac(struct session *s, const struct sec_view *v, const struct jwt_outcome *authn) {
  struct exchange *ex = &s->ex;
  const struct xds_security *sec = &ex->config->cfg->security;
  if (!sec->authz_len) return 0;
  struct authz_request rq = {0};
  rq.source_principal = inbound_peer_principal(s);
  rq.source_ip = v->source_ip[0] ? v->source_ip : NULL;
  rq.destination_ip = v->destination_ip[0] ? v->destination_ip : NULL;
  if (authn->verdict == JWT_OK) {
    rq.request_principal = authn->token.principal;
    rq.claims = authn->token.claims;
  }
  rq.headers = v->authz_headers;
  rq.headers_len = v->headers_len;
  rq.host = v->host;
  rq.port = s->lport;
  rq.method = v->method;
  rq.path = v->path;
  struct authz_verdict vd;
  authz_evaluate(sec->authz, sec->authz_len, &rq, &vd);
  struct trace_record *t = &ex->trace;
  char line[768]; /* cut to the trace field by trace_copy */
  snprintf(line, sizeof line, "%s%s", vd.decision == AUTHZ_DENIED ? "403: " : "", vd.reason);
  size_t n = strlen(line);
  if (vd.audit && n < sizeof line)
    n += (size_t)snprintf(line + n, sizeof line - n, "; AUDIT by %s/%s rule %d", vd.audit->namespace, vd.audit->name,
                          vd.audit_rule);
  if (vd.dry_run_reason[0] && n < sizeof line) snprintf(line + n, sizeof line - n, "; dry-run: %s", vd.dry_run_reason);
  trace_copy(t->authz, sizeof t->authz, line, strlen(line));
  if (vd.decision == AUTHZ_ALLOWED) return 0;
  /* Envoy's details name the policy as istiod names it, "ns-policy-NS.NAME-rule-N"; Istio's
   * docs and logs show the shorter [ns.name] meshlab uses. A default deny names none. */
  if (vd.policy)
    snprintf(ex->details_buf, sizeof ex->details_buf, "rbac_access_denied_matched_policy[%s.%s]", vd.policy->namespace,
             vd.policy->name);
  else snprintf(ex->details_buf, sizeof ex->details_buf, "rbac_access_denied_matched_policy[none]");
  session_local_reply(s, 403, 0, AUTHZ_DENIED_BODY, ex->details_buf, NULL);
  return 1;
}

/* jwt_authn then rbac, on the listeners that have them. Returns 1 when the request was answered. */
static int security_filters(struct session *s, struct http_head *h) {
  struct exchange *ex = &s->ex;
  const struct proxy_config *cfg = ex->config->cfg;
  if (!security_applies(s, cfg)) return 0;
  struct trace_record *t = &ex->trace;
  const char *peer = inbound_peer_principal(s);
  char who[96];
  snprintf(who, sizeof who, "%s%.*s%s", peer ? peer : "", peer ? 0 : (int)s->client_ip.n, peer ? "" : s->client_ip.p,
           peer ? "" : " (plaintext: no peer principal)");
  trace_copy(t->peer, sizeof t->peer, who, strlen(who));
  struct sec_view v;
  if (sec_view_init(&v, s, h) != 0) {
    sec_view_free(&v);
    session_local_reply(s, 500, 0, "out of memory", "security_filters_oom", NULL);
    return 1;
  }
  struct jwt_outcome authn;
  int answered = jwt_authn(s, h, &v, &authn);
  if (!answered) answered = rbac(s, &v, &authn);
  jwt_outcome_clear(&authn);
  sec_view_free(&v);
  return answered;
}

/* Istio's "allow_any" route (outboundTrafficPolicy ALLOW_ANY): PassthroughCluster, an Envoy
 * ORIGINAL_DST cluster, forwards to the address the app asked for, with the proxy's default
 * timeout, no retries and no mTLS (clusters.h). The explicit proxy's original destination is
 * the request's authority. meshlab resolves no DNS names for it (the lab runs offline): a name
 * that is not a numeric address or localhost is 503 DF, as Envoy's failed resolution is.
 * Returns 1 when the request goes on to exchange.c, 0 when it was answered. */
static int passthrough(struct session *s) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  struct trace_record *t = &ex->trace;
  ex->catch_all = ROUTER_PASSTHROUGH_ROUTE;
  trace_copy(t->route_name, sizeof t->route_name, ROUTER_PASSTHROUGH_ROUTE, strlen(ROUTER_PASSTHROUGH_ROUTE));
  trace_copy(t->cluster, sizeof t->cluster, ROUTER_PASSTHROUGH_CLUSTER, strlen(ROUTER_PASSTHROUGH_CLUSTER));
  route_policy(s, NULL);
  char dest[160];
  struct conn_addr addr;
  if (router_original_destination(ex->authority, dest, sizeof dest) != 0 || conn_addr_parse(&addr, dest) != 0) {
    snprintf(ex->details_buf, sizeof ex->details_buf, "dns_resolution_failure{%.*s}",
             (int)(ex->authority.n > 100 ? 100 : ex->authority.n), ex->authority.p);
    session_local_reply(s, 503, FLAG_DF,
                        "PassthroughCluster: meshlab resolves no DNS names; call a numeric address or localhost, "
                        "or add a ServiceEntry for the host",
                        ex->details_buf, NULL);
    return 0;
  }
  int rc = cluster_manager_passthrough(&px->clusters, &addr, (int64_t)uv_now(px->loop), &ex->cluster, &ex->up);
  if (rc != 0) {
    session_local_reply(
        s, 503, FLAG_UO, "upstream connect error or disconnect/reset before headers. reset reason: overflow",
        "upstream_reset_before_response_started{overflow}", rc == -EBUSY ? "x-envoy-overloaded: true\r\n" : NULL);
    return 0;
  }
  t->hosts = (uint32_t)ex->cluster->nhosts;
  t->hosts_available = t->hosts;
  t->picked = cluster_host_index(ex->cluster, ex->up);
  ex->routed = 1;
  return 1;
}

int filters_run(struct session *s, struct http_head *h) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  /* on_req_head (proxy.c) cleared the trace record with the rest of the exchange. */
  if (!px->config) {
    session_local_reply(s, 404, FLAG_NR, NULL, "route_not_found", NULL);
    return 0;
  }
  ex->config = px->config;
  ex->config->refs++;
  ex->trace.config_version = ex->config->cfg->version;
  if (security_filters(s, h)) return 0;
  if (local_rate_limit(s)) return 0;
  struct router_request rq = {0};
  rq.direction = s->dir;
  rq.authority = ex->authority;
  rq.path = ex->path;
  rq.method = h->method;
  rq.head = h;
  rq.port = s->lport;
  struct route_decision d;
  enum router_verdict v = router_route(ex->config->cfg, &rq, &px->rng, &d);
  ex->route = d.route;
  route_trace(ex, &d, v);
  switch (v) {
  case ROUTER_NO_ROUTE:
    session_local_reply(s, 404, FLAG_NR, NULL, "route_not_found", NULL);
    return 0;
  case ROUTER_NO_CLUSTER:
    session_local_reply(s, 503, FLAG_NC, NULL, "cluster_not_found", NULL);
    return 0;
  case ROUTER_DIRECT_RESPONSE: {
    const struct resource_direct_response *dr = &d.route->direct_response;
    session_local_reply(s, (int)dr->status, 0, dr->body, "direct_response", NULL);
    return 0;
  }
  case ROUTER_REDIRECT: {
    const struct resource_redirect *rd = &d.route->redirect;
    char location[512];
    struct slice host = ex->authority;
    snprintf(location, sizeof location, "location: %s://%.*s%s\r\n", rd->scheme ? rd->scheme : "http",
             rd->authority ? (int)strlen(rd->authority) : (int)host.n, rd->authority ? rd->authority : host.p,
             rd->uri ? rd->uri : "/");
    session_local_reply(s, (int)rd->redirect_code.value, 0, NULL, "redirect", location);
    return 0;
  }
  case ROUTER_BLACKHOLE:
    /* Istio's "block_all" route: a direct response 502, no body, no flag. */
    ex->catch_all = ROUTER_BLACKHOLE_ROUTE;
    trace_copy(ex->trace.route_name, sizeof ex->trace.route_name, ROUTER_BLACKHOLE_ROUTE,
               strlen(ROUTER_BLACKHOLE_ROUTE));
    trace_copy(ex->trace.cluster, sizeof ex->trace.cluster, ROUTER_BLACKHOLE_CLUSTER, strlen(ROUTER_BLACKHOLE_CLUSTER));
    session_local_reply(s, router_verdict_status(v), 0, NULL, "direct_response", NULL);
    return 0;
  case ROUTER_PASSTHROUGH:
    return passthrough(s);
  case ROUTER_ROUTE:
    break;
  }
  route_policy(s, d.route);
  if (d.cluster->service) snprintf(ex->route_service, sizeof ex->route_service, "%s", d.cluster->service);
  /* A fault abort with no delay answers now; with a delay, after it (exchange_start). */
  if (ex->fault.abort && !ex->fault.delay) {
    filters_fault_abort(s);
    return 0;
  }
  struct cluster *c = cluster_manager_find(&px->clusters, d.cluster->name);
  if (!c) {
    session_local_reply(s, 503, FLAG_NC, NULL, "cluster_not_found", NULL);
    return 0;
  }
  uint64_t hash;
  const uint64_t *key = NULL;
  if (d.cluster->policy.load_balancer.hash_present &&
      lb_hash_request(&d.cluster->policy.load_balancer.consistent_hash, h, ex->path, s->client_ip, &hash))
    key = &hash;
  struct lb_pick pick = {0};
  struct trace_record *t = &ex->trace;
  t->hosts = (uint32_t)c->nhosts;
  t->hosts_available = (uint32_t)cluster_available_hosts(c);
  const char *lb = c->lb.algorithm ? c->lb.algorithm->name : "";
  trace_copy(t->lb_policy, sizeof t->lb_policy, lb, strlen(lb));
  if (cluster_pick(c, key, &px->rng, &ex->up, &pick) != LB_PICKED) {
    session_local_reply(s, 503, FLAG_UH, "no healthy upstream", "no_healthy_upstream", NULL);
    return 0;
  }
  t->picked = (int)pick.index;
  for (size_t i = 0; i < pick.candidates_len && i < 2; i++) t->candidates[i] = (int)pick.candidates[i];
  ex->cluster = c;
  ex->routed = 1;
  return 1;
}

/* VirtualService mirror: once the request is complete, a copy to the mirror cluster with the
 * Host made "<host>-shadow", the same x-request-id, the kept body (Envoy's shadow writer).
 * Fire and forget: mirror.c owns the copy; this request never waits for it or hears of it. A
 * fault abort answers before the router, so an aborted request is not mirrored (as in Envoy). */
void filters_mirror(struct session *s) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  const struct xds_route *r = ex->route;
  if (!r || !r->mirror_present || ex->fault.abort || !ex->req) return;
  struct trace_record *t = &ex->trace;
  const char *cn = r->mirror.cluster_name;
  if (cn) trace_copy(t->mirror_cluster, sizeof t->mirror_cluster, cn, strlen(cn));
  t->mirror_pct = r->mirror_percentage.value;
  if (!mirror_draw(r->mirror_percentage.value, &px->rng, &t->mirror_roll)) {
    t->mirror = TRACE_MIRROR_NOT_DRAWN;
    px->mirrors.stats.not_drawn++;
    return;
  }
  if (!ex->body_kept && ex->req_framing != HTTP_FRAMING_NONE) {
    t->mirror = TRACE_MIRROR_BODY_NOT_KEPT;
    px->mirrors.stats.body_not_kept++;
    return;
  }
  struct cluster *c = cn && !px->draining ? cluster_manager_find(&px->clusters, cn) : NULL;
  char host[320];
  int hn = mirror_shadow_host(ex->authority.p, ex->authority.n, host, sizeof host);
  struct http_forward fw = {0};
  fw.target = ex->path;
  if (px->telemetry.enabled && s->dir != XDS_INBOUND) fw.peer = slice_from(px->self_peer);
  if (hn > 0) fw.host = (struct slice){host, (size_t)hn};
  fw.client_ip = s->client_ip;
  fw.proto = SLICE_LIT("http");
  if (ex->rid.p == ex->request_id) fw.request_id = ex->rid; /* the id this proxy gave the request */
  fw.framing = ex->req_framing == HTTP_FRAMING_NONE && !ex->body_copy.len ? HTTP_FRAMING_NONE : HTTP_FRAMING_LENGTH;
  fw.content_length = (int64_t)ex->body_copy.len;
  struct buf head = {0};
  int rc = -ENOMEM;
  if (http_head_write_request(&head, ex->req, &fw) == 0)
    rc = mirror_send(&px->mirrors, c, &px->rng, (struct slice){head.data, head.len},
                     (struct slice){ex->body_copy.data, ex->body_copy.len}, ex->timeout_ms ? ex->timeout_ms : 10000);
  buf_free(&head);
  t->mirror = rc == 0 ? TRACE_MIRROR_SENT : TRACE_MIRROR_NO_HOST;
}
