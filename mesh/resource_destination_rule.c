/* resource_destination_rule: DestinationRule (host, trafficPolicy, subsets) from the
 * positioned YAML tree into resource.h's structs; the sidecar's load balancer, connection-pool
 * breaker, outlier detector and upstream TLS read them. Istio's defaults are filled in for
 * every policy (marked not `set`), so readers never need their own copy of them.
 */
#include "mesh/resource_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END \
  { NULL, RF_OK, NULL }
#define OK(name) \
  { name, RF_OK, NULL }
#define LATER(name) \
  { name, RF_LATER, NULL }

static const uint32_t INT32_MAX_U = 2147483647u;

static const struct rfield PORT_SELECTOR_FIELDS[] = {
    OK("number"), {"name", RF_RENAMED, "port.number (port names were removed from Istio's API)"}, END};

/* ---- DestinationRule ----------------------------------------------------------------------- */

static const char *const LB_SIMPLE[] = {"UNSPECIFIED", "LEAST_REQUEST", "ROUND_ROBIN", "RANDOM",
                                        "PASSTHROUGH", "LEAST_CONN",    NULL};
static const struct rfield LB_FIELDS[] = {OK("simple"),
                                          OK("consistentHash"),
                                          LATER("localityLbSetting"),
                                          LATER("warmupDurationSecs"),
                                          LATER("warmup"),
                                          LATER("zoneAwareLbSetting"),
                                          END};
static const struct rfield HASH_FIELDS[] = {OK("httpHeaderName"),
                                            OK("httpCookie"),
                                            OK("useSourceIp"),
                                            OK("httpQueryParameterName"),
                                            OK("ringHash"),
                                            OK("maglev"),
                                            {"minimumRingSize", RF_RENAMED, "ringHash.minimumRingSize"},
                                            END};
static const struct rfield COOKIE_FIELDS[] = {OK("name"), OK("path"), OK("ttl"), LATER("attributes"), END};
static const struct rfield RING_FIELDS[] = {OK("minimumRingSize"), END};
static const struct rfield MAGLEV_FIELDS[] = {OK("tableSize"), END};

static void parse_load_balancer(struct rctx *c, const struct yamldoc_node *parent, const char *path,
                                struct resource_load_balancer *lb) {
  lb->simple = RESOURCE_LB_LEAST_REQUEST;
  lb->consistent_hash.ring_size.value = 1024;
  lb->consistent_hash.maglev_table_size.value = 65537;
  const struct yamldoc_node *m, *h;
  if (rget_map(c, parent, "loadBalancer", path, &m) <= 0) return;
  char p[RPATH_MAX], hp[RPATH_MAX], sp[RPATH_MAX];
  rpath_key(p, path, "loadBalancer");
  rcheck_keys(c, m, p, LB_FIELDS);
  lb->present = true;
  int simple = 0;
  if (rget_enum(c, m, "simple", p, LB_SIMPLE, NULL, &simple) > 0) {
    lb->simple_set = true;
    lb->simple = (enum resource_lb_simple)simple;
    rpath_key(sp, p, "simple");
    if (lb->simple == RESOURCE_LB_LEAST_CONN)
      rwarning(c, yamldoc_get(m, "simple"), sp, "LEAST_CONN is deprecated; it means LEAST_REQUEST, write that instead");
    if (lb->simple == RESOURCE_LB_UNSPECIFIED) lb->simple = RESOURCE_LB_LEAST_REQUEST;
  }
  rpath_key(hp, p, "consistentHash");
  if (rget_map(c, m, "consistentHash", p, &h) <= 0) return;
  rcheck_keys(c, h, hp, HASH_FIELDS);
  lb->hash_present = true;
  if (lb->simple_set) rerror(c, h, hp, "set only one of simple or consistentHash");
  struct resource_consistent_hash *ch = &lb->consistent_hash;
  int keys = 0;
  bool src = false;
  const struct yamldoc_node *cookie;
  if (rget_str(c, h, "httpHeaderName", hp, &ch->name) > 0) {
    ch->key = RESOURCE_HASH_HEADER;
    keys++;
  }
  if (rget_map(c, h, "httpCookie", hp, &cookie) > 0) {
    char cp[RPATH_MAX];
    rpath_key(cp, hp, "httpCookie");
    rcheck_keys(c, cookie, cp, COOKIE_FIELDS);
    ch->key = RESOURCE_HASH_COOKIE;
    keys++;
    if (rrequire(c, cookie, "name", cp)) rget_str(c, cookie, "name", cp, &ch->name);
    rget_str(c, cookie, "path", cp, &ch->cookie_path);
    if (rget_ms_min(c, cookie, "ttl", cp, 0, &ch->cookie_ttl.ms) > 0) ch->cookie_ttl.set = true;
  }
  if (rget_bool(c, h, "useSourceIp", hp, &src) > 0 && src) {
    ch->key = RESOURCE_HASH_SOURCE_IP;
    keys++;
  }
  if (rget_str(c, h, "httpQueryParameterName", hp, &ch->name) > 0) {
    ch->key = RESOURCE_HASH_QUERY_PARAM;
    keys++;
  }
  if (keys != 1)
    rerror(c, h, hp,
           "set exactly one hash key: httpHeaderName, httpCookie, useSourceIp or "
           "httpQueryParameterName");
  const struct yamldoc_node *ring, *maglev;
  if (rget_map(c, h, "ringHash", hp, &ring) > 0) {
    char rp[RPATH_MAX];
    rpath_key(rp, hp, "ringHash");
    rcheck_keys(c, ring, rp, RING_FIELDS);
    ropt_u32(c, ring, "minimumRingSize", rp, 1, 8388608, &ch->ring_size);
  }
  if (rget_map(c, h, "maglev", hp, &maglev) > 0) {
    char mp[RPATH_MAX];
    rpath_key(mp, hp, "maglev");
    rcheck_keys(c, maglev, mp, MAGLEV_FIELDS);
    ch->maglev = true;
    ropt_u32(c, maglev, "tableSize", mp, 1, 5000011, &ch->maglev_table_size);
    if (ring) rerror(c, maglev, mp, "set only one of ringHash or maglev");
  }
}

static const struct rfield POOL_FIELDS[] = {OK("tcp"), OK("http"), END};
static const struct rfield TCP_POOL_FIELDS[] = {OK("maxConnections"),  OK("connectTimeout"),
                                                LATER("tcpKeepalive"), LATER("maxConnectionDuration"),
                                                LATER("idleTimeout"),  END};
static const struct rfield HTTP_POOL_FIELDS[] = {OK("http1MaxPendingRequests"),  OK("http2MaxRequests"),
                                                 OK("maxRequestsPerConnection"), OK("maxRetries"),
                                                 LATER("idleTimeout"),           LATER("h2UpgradePolicy"),
                                                 LATER("useClientProtocol"),     LATER("maxConcurrentStreams"),
                                                 LATER("http2KeepAlive"),        END};

static void parse_connection_pool(struct rctx *c, const struct yamldoc_node *parent, const char *path,
                                  struct resource_connection_pool *cp) {
  /* Istio raises Envoy's 1024 defaults to 2^32-1 (effectively unlimited). */
  cp->tcp.max_connections.value = UINT32_MAX;
  cp->tcp.connect_timeout.ms = 10000;
  cp->http.http1_max_pending_requests.value = UINT32_MAX;
  cp->http.http2_max_requests.value = UINT32_MAX;
  cp->http.max_requests_per_connection.value = 0;
  cp->http.max_retries.value = UINT32_MAX;
  const struct yamldoc_node *m, *t, *h;
  if (rget_map(c, parent, "connectionPool", path, &m) <= 0) return;
  char p[RPATH_MAX], tp[RPATH_MAX], hp[RPATH_MAX];
  rpath_key(p, path, "connectionPool");
  rcheck_keys(c, m, p, POOL_FIELDS);
  cp->present = true;
  rpath_key(tp, p, "tcp");
  if (rget_map(c, m, "tcp", p, &t) > 0) {
    rcheck_keys(c, t, tp, TCP_POOL_FIELDS);
    cp->tcp.present = true;
    ropt_u32(c, t, "maxConnections", tp, 0, INT32_MAX_U, &cp->tcp.max_connections);
    ropt_ms(c, t, "connectTimeout", tp, &cp->tcp.connect_timeout);
  }
  rpath_key(hp, p, "http");
  if (rget_map(c, m, "http", p, &h) > 0) {
    rcheck_keys(c, h, hp, HTTP_POOL_FIELDS);
    cp->http.present = true;
    ropt_u32(c, h, "http1MaxPendingRequests", hp, 0, INT32_MAX_U, &cp->http.http1_max_pending_requests);
    ropt_u32(c, h, "http2MaxRequests", hp, 0, INT32_MAX_U, &cp->http.http2_max_requests);
    ropt_u32(c, h, "maxRequestsPerConnection", hp, 0, INT32_MAX_U, &cp->http.max_requests_per_connection);
    ropt_u32(c, h, "maxRetries", hp, 0, INT32_MAX_U, &cp->http.max_retries);
  }
}

static const struct rfield OUTLIER_FIELDS[] = {
    OK("consecutive5xxErrors"),
    OK("consecutiveGatewayErrors"),
    OK("consecutiveLocalOriginFailures"),
    OK("splitExternalLocalOriginErrors"),
    OK("interval"),
    OK("baseEjectionTime"),
    OK("maxEjectionPercent"),
    OK("minHealthPercent"),
    {"consecutiveErrors", RF_RENAMED,
     "consecutive5xxErrors (counts any 5xx; consecutiveGatewayErrors counts only 502, 503 and "
     "504)"},
    LATER("outlierDetectionHttpErrorCodes"),
    END};

static void parse_outlier(struct rctx *c, const struct yamldoc_node *parent, const char *path,
                          struct resource_outlier_detection *od) {
  od->consecutive_5xx_errors.value = 5;
  od->consecutive_gateway_errors.value = 0;
  od->consecutive_local_origin_failures.value = 5;
  od->interval.ms = 10000;
  od->base_ejection_time.ms = 30000;
  od->max_ejection_percent.value = 10;
  od->min_health_percent.value = 0;
  const struct yamldoc_node *m;
  if (rget_map(c, parent, "outlierDetection", path, &m) <= 0) return;
  char p[RPATH_MAX];
  rpath_key(p, path, "outlierDetection");
  rcheck_keys(c, m, p, OUTLIER_FIELDS);
  od->present = true;
  ropt_u32(c, m, "consecutive5xxErrors", p, 0, INT32_MAX_U, &od->consecutive_5xx_errors);
  ropt_u32(c, m, "consecutiveGatewayErrors", p, 0, INT32_MAX_U, &od->consecutive_gateway_errors);
  ropt_u32(c, m, "consecutiveLocalOriginFailures", p, 0, INT32_MAX_U, &od->consecutive_local_origin_failures);
  ropt_bool(c, m, "splitExternalLocalOriginErrors", p, &od->split_external_local_origin_errors);
  ropt_ms(c, m, "interval", p, &od->interval);
  ropt_ms(c, m, "baseEjectionTime", p, &od->base_ejection_time);
  ropt_u32(c, m, "maxEjectionPercent", p, 0, 100, &od->max_ejection_percent);
  ropt_u32(c, m, "minHealthPercent", p, 0, 100, &od->min_health_percent);
  if (od->consecutive_gateway_errors.set && od->consecutive_gateway_errors.value > 0 &&
      od->consecutive_5xx_errors.value > 0 &&
      od->consecutive_gateway_errors.value >= od->consecutive_5xx_errors.value) {
    char gp[RPATH_MAX];
    rpath_key(gp, p, "consecutiveGatewayErrors");
    rwarning(c, yamldoc_get(m, "consecutiveGatewayErrors"), gp,
             "has no effect: consecutive5xxErrors (%u) ejects first, since 502/503/504 are 5xx "
             "too; set it below consecutive5xxErrors",
             od->consecutive_5xx_errors.value);
  }
}

static const char *const CLIENT_TLS_LATER[] = {"MUTUAL", NULL};
static const struct rfield CLIENT_TLS_FIELDS[] = {OK("mode"),
                                                  OK("sni"),
                                                  OK("subjectAltNames"),
                                                  OK("insecureSkipVerify"),
                                                  {"credentialName", RF_LATER, "certificates come from the lab's CA"},
                                                  LATER("clientCertificate"),
                                                  LATER("privateKey"),
                                                  LATER("caCertificates"),
                                                  LATER("caCrl"),
                                                  END};

static void parse_client_tls(struct rctx *c, const struct yamldoc_node *parent, const char *path,
                             struct resource_client_tls *tls) {
  const struct yamldoc_node *m;
  if (rget_map(c, parent, "tls", path, &m) <= 0) return;
  char p[RPATH_MAX];
  rpath_key(p, path, "tls");
  rcheck_keys(c, m, p, CLIENT_TLS_FIELDS);
  tls->present = true;
  /* MUTUAL needs client certificate files, which come later: refuse it by name. */
  static const char *const names[] = {"DISABLE", "SIMPLE", "ISTIO_MUTUAL", NULL};
  static const enum resource_tls_mode modes[] = {RESOURCE_TLS_DISABLE, RESOURCE_TLS_SIMPLE, RESOURCE_TLS_ISTIO_MUTUAL};
  int i = 0;
  tls->mode = RESOURCE_TLS_DISABLE;
  if (rget_enum(c, m, "mode", p, names, CLIENT_TLS_LATER, &i) > 0) tls->mode = modes[i];
  rget_str(c, m, "sni", p, &tls->sni);
  rget_strings(c, m, "subjectAltNames", p, &tls->subject_alt_names);
  ropt_bool(c, m, "insecureSkipVerify", p, &tls->insecure_skip_verify);
}

static const struct rfield PORT_POLICY_FIELDS[] = {
    OK("port"), OK("loadBalancer"), OK("connectionPool"), OK("outlierDetection"), OK("tls"), END};
static const struct rfield TRAFFIC_POLICY_FIELDS[] = {
    OK("loadBalancer"), OK("connectionPool"),   OK("outlierDetection"), OK("tls"), OK("portLevelSettings"),
    LATER("tunnel"),    LATER("proxyProtocol"), LATER("retryBudget"),   END};

static void parse_traffic_policy(struct rctx *c, const struct yamldoc_node *parent, const char *path,
                                 struct resource_traffic_policy *tp) {
  const struct yamldoc_node *m = NULL;
  char p[RPATH_MAX], sp[RPATH_MAX], ip[RPATH_MAX];
  rpath_key(p, path, "trafficPolicy");
  int rc = rget_map(c, parent, "trafficPolicy", path, &m);
  if (rc > 0) {
    rcheck_keys(c, m, p, TRAFFIC_POLICY_FIELDS);
    tp->present = true;
    /* Istio: "traffic policy must have at least one field". */
    if (m->len == 0)
      rerror(c, m, p,
             "trafficPolicy is empty; set loadBalancer, connectionPool, "
             "outlierDetection, tls or portLevelSettings, or remove it");
  }
  /* Defaults are filled even when absent, so readers can use .value unconditionally. */
  parse_load_balancer(c, m, p, &tp->load_balancer);
  parse_connection_pool(c, m, p, &tp->connection_pool);
  parse_outlier(c, m, p, &tp->outlier_detection);
  parse_client_tls(c, m, p, &tp->tls);
  const struct yamldoc_node *seq;
  if (m == NULL || rget_seq(c, m, "portLevelSettings", p, &seq) <= 0) return;
  rpath_key(sp, p, "portLevelSettings");
  tp->port_level = rarena_alloc(c, (seq->len + 1) * sizeof *tp->port_level);
  for (size_t i = 0; tp->port_level && i < seq->len; i++) {
    const struct yamldoc_node *n = seq->items[i];
    struct resource_port_policy *pp = &tp->port_level[tp->port_level_len++];
    rpath_index(ip, sp, i);
    if (!rexpect_map(c, n, ip)) continue;
    rcheck_keys(c, n, ip, PORT_POLICY_FIELDS);
    const struct yamldoc_node *port;
    char pp_path[RPATH_MAX];
    rpath_key(pp_path, ip, "port");
    if (rrequire(c, n, "port", ip) && rget_map(c, n, "port", ip, &port) > 0) {
      rcheck_keys(c, port, pp_path, PORT_SELECTOR_FIELDS);
      if (rrequire(c, port, "number", pp_path)) rget_u32(c, port, "number", pp_path, 1, 65535, &pp->port);
    }
    parse_load_balancer(c, n, ip, &pp->load_balancer);
    parse_connection_pool(c, n, ip, &pp->connection_pool);
    parse_outlier(c, n, ip, &pp->outlier_detection);
    parse_client_tls(c, n, ip, &pp->tls);
    for (size_t j = 0; j < i; j++)
      if (tp->port_level[j].port == pp->port && pp->port != 0)
        rerror(c, n, ip, "port %u already has settings at portLevelSettings[%zu]", pp->port, j);
  }
}

static const struct rfield SUBSET_FIELDS[] = {OK("name"), OK("labels"), OK("trafficPolicy"), END};
static const struct rfield DR_FIELDS[] = {OK("host"),        OK("trafficPolicy"),       OK("subsets"),
                                          LATER("exportTo"), LATER("workloadSelector"), END};

void rparse_destination_rule(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_destination_rule *dr = &c->res->spec.destination_rule;
  rcheck_keys(c, spec, "spec", DR_FIELDS);
  if (rrequire(c, spec, "host", "spec")) rget_host(c, spec, "host", "spec", &dr->host);
  parse_traffic_policy(c, spec, "spec", &dr->traffic_policy);
  const struct yamldoc_node *seq;
  if (rget_seq(c, spec, "subsets", "spec", &seq) <= 0) return;
  char ip[RPATH_MAX];
  dr->subsets = rarena_alloc(c, (seq->len + 1) * sizeof *dr->subsets);
  for (size_t i = 0; dr->subsets && i < seq->len; i++) {
    const struct yamldoc_node *n = seq->items[i];
    struct resource_subset *s = &dr->subsets[dr->subsets_len++];
    rpath_index(ip, "spec.subsets", i);
    if (!rexpect_map(c, n, ip)) continue;
    rcheck_keys(c, n, ip, SUBSET_FIELDS);
    s->pos = rpos(n);
    if (rrequire(c, n, "name", ip) && rget_str(c, n, "name", ip, &s->name) > 0) {
      for (size_t j = 0; j < i; j++) {
        if (dr->subsets[j].name && strcmp(dr->subsets[j].name, s->name) == 0) {
          char np[RPATH_MAX];
          rpath_key(np, ip, "name");
          rerror(c, yamldoc_get(n, "name"), np, "subset '%s' is already defined at line %d", s->name,
                 dr->subsets[j].pos.line);
        }
      }
    }
    rget_labels(c, n, "labels", ip, &s->labels);
    parse_traffic_policy(c, n, ip, &s->traffic_policy);
  }
}
