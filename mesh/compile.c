/* compile: resources + registry -> one proxy_config per sidecar or gateway (see compile.h).
 *
 * The rules reproduced here are istiod's (pilot's route and cluster builders):
 *  - a VirtualService applies to sidecars when its `gateways` is empty or lists `mesh`, and to
 *    a gateway when it lists that Gateway (`name` in the VirtualService's namespace, or
 *    `ns/name`); a match block with its own `gateways` applies only to those, and a rule whose
 *    every block was filtered out is dropped (pilot's translateRoute returns nil);
 *  - at a sidecar, the first VirtualService (store order, standing in for creation time) that
 *    names a host wins; an exact host wins over a wildcard one. At a gateway the routes of every
 *    VirtualService for the same host are appended, as pilot merges gateway vhosts;
 *  - the DestinationRule for a host is looked up in the client's namespace, then the service's,
 *    then the root namespace, exact host before the longest matching wildcard;
 *  - subset policy overrides service policy whole-object by whole-object (loadBalancer,
 *    connectionPool, outlierDetection, tls), portLevelSettings override per port
 *    (MergeTrafficPolicy);
 *  - a destination to a subset no DestinationRule defines still names its cluster
 *    (`outbound|9080|v9|reviews...`), which does not exist: Envoy answers 503 NC.
 *
 * This file holds the clusters, the inbound listeners, the gateways' servers, EnvoyFilter rate
 * limits, end-user authn/authz and the entry points; compile_routes.c translates the
 * VirtualService rules into routes, compile_mtls.c decides mutual TLS, and compile_internal.h
 * is what they share.
 */
#include "mesh/compile_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- arena helpers -------------------------------------------------------------------------- */

void *compile_zalloc(struct cctx *c, size_t n) {
  void *p = arena_alloc(&c->cfg->arena, n ? n : 1);
  if (!p) {
    c->oom = true;
    return NULL;
  }
  memset(p, 0, n ? n : 1);
  return p;
}

char *compile_dup(struct cctx *c, const char *s) {
  if (!s) return NULL;
  char *p = arena_strndup(&c->cfg->arena, s, strlen(s));
  if (!p) c->oom = true;
  return p;
}

char *compile_dupf(struct cctx *c, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  return compile_dup(c, tmp);
}

/* Grows an arena array by one zeroed element; returns it. Old copies stay in the arena (at most
 * as much again as the final array), which is the price of never freeing piecemeal. */
void *compile_push(struct cctx *c, void **items, size_t *len, size_t *cap, size_t size) {
  if (*len == *cap) {
    size_t n = *cap ? *cap * 2 : 4;
    void *p = compile_zalloc(c, n * size);
    if (!p) return NULL;
    if (*len) memcpy(p, *items, *len * size);
    *items = p;
    *cap = n;
  }
  void *e = (char *)*items + (*len)++ * size;
  memset(e, 0, size);
  return e;
}

void compile_map_copy(struct cctx *c, struct resource_map *dst, const struct resource_map *src) {
  *dst = (struct resource_map){0};
  if (!src || !src->len) return;
  dst->items = compile_zalloc(c, src->len * sizeof *dst->items);
  if (!dst->items) return;
  for (size_t i = 0; i < src->len; i++) {
    dst->items[i].key = compile_dup(c, src->items[i].key);
    dst->items[i].value = compile_dup(c, src->items[i].value);
  }
  dst->len = src->len;
}

static void strings_copy(struct cctx *c, struct resource_strings *dst, const struct resource_strings *src) {
  *dst = (struct resource_strings){0};
  if (!src->len) return;
  dst->items = compile_zalloc(c, src->len * sizeof *dst->items);
  if (!dst->items) return;
  for (size_t i = 0; i < src->len; i++) dst->items[i] = compile_dup(c, src->items[i]);
  dst->len = src->len;
}

void compile_headers_copy(struct cctx *c, struct resource_headers *dst, const struct resource_headers *src) {
  dst->present = src->present;
  compile_map_copy(c, &dst->request.set, &src->request.set);
  compile_map_copy(c, &dst->request.add, &src->request.add);
  strings_copy(c, &dst->request.remove, &src->request.remove);
  compile_map_copy(c, &dst->response.set, &src->response.set);
  compile_map_copy(c, &dst->response.add, &src->response.add);
  strings_copy(c, &dst->response.remove, &src->response.remove);
}

/* ---- DestinationRules and policies ---------------------------------------------------------- */

/* Does a DestinationRule / VirtualService host (FQDN or "*.suffix" or "*") cover name? */
bool compile_host_covers(const char *pattern, const char *name) {
  if (strcmp(pattern, "*") == 0) return true;
  if (pattern[0] == '*' && pattern[1] == '.') {
    size_t pl = strlen(pattern) - 1, nl = strlen(name); /* ".suffix" */
    return nl > pl && strcasecmp(name + nl - pl, pattern + 1) == 0;
  }
  return strcasecmp(pattern, name) == 0;
}

static const struct resource *find_dr_in(const struct cctx *c, const char *ns, const char *fqdn) {
  const struct resource *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; i < c->in->len; i++) {
    const struct resource *r = c->in->items[i];
    if (r->kind != RESOURCE_DESTINATION_RULE || strcmp(r->meta.ns, ns) != 0) continue;
    const char *h = r->spec.destination_rule.host.fqdn;
    if (!compile_host_covers(h, fqdn)) continue;
    if (h[0] != '*') return r; /* exact */
    if (!best || strlen(h) > best_len) {
      best = r;
      best_len = strlen(h);
    }
  }
  return best;
}

/* Client namespace, then service namespace, then root namespace. */
const struct resource *compile_find_dr(const struct cctx *c, const char *svc_ns, const char *fqdn) {
  const char *order[3] = {c->client_ns, svc_ns, c->root_ns};
  for (int i = 0; i < 3; i++) {
    if (!order[i]) continue;
    const struct resource *r = find_dr_in(c, order[i], fqdn);
    if (r) return r;
  }
  return NULL;
}

/* Istio merges the DestinationRules for one host in one namespace (MergeDestinationRule):
 * subsets are combined, the first definition of a name winning, and the first rule's top-level
 * trafficPolicy applies. `dr` is the first (what compile_find_dr returns); the others follow it. */
static bool same_dr_group(const struct resource *a, const struct resource *b) {
  return b->kind == RESOURCE_DESTINATION_RULE && strcmp(a->meta.ns, b->meta.ns) == 0 &&
         strcmp(a->spec.destination_rule.host.fqdn, b->spec.destination_rule.host.fqdn) == 0;
}

const struct resource_subset *compile_find_subset(const struct cctx *c, const struct resource *dr, const char *name) {
  if (!dr) return NULL;
  for (size_t i = 0; i < c->in->len; i++) {
    const struct resource *r = c->in->items[i];
    if (!same_dr_group(dr, r)) continue;
    for (size_t k = 0; k < r->spec.destination_rule.subsets_len; k++)
      if (strcmp(r->spec.destination_rule.subsets[k].name, name) == 0) return &r->spec.destination_rule.subsets[k];
  }
  return NULL;
}

static void policy_defaults(struct xds_policy *p) {
  memset(p, 0, sizeof *p);
  p->load_balancer.simple = RESOURCE_LB_LEAST_REQUEST;
  struct resource_connection_pool *cp = &p->connection_pool;
  cp->tcp.max_connections.value = UINT32_MAX;
  cp->tcp.connect_timeout.ms = 10000;
  cp->http.http1_max_pending_requests.value = UINT32_MAX;
  cp->http.http2_max_requests.value = UINT32_MAX;
  cp->http.max_retries.value = UINT32_MAX;
  struct resource_outlier_detection *od = &p->outlier_detection;
  od->consecutive_5xx_errors.value = 5;
  od->consecutive_local_origin_failures.value = 5;
  od->interval.ms = 10000;
  od->base_ejection_time.ms = 30000;
  od->max_ejection_percent.value = 10;
}

static void lb_copy(struct cctx *c, struct resource_load_balancer *dst, const struct resource_load_balancer *src) {
  *dst = *src;
  if (!dst->simple_set && !dst->hash_present) dst->simple = RESOURCE_LB_LEAST_REQUEST;
  if (dst->simple == RESOURCE_LB_UNSPECIFIED || dst->simple == RESOURCE_LB_LEAST_CONN)
    dst->simple = RESOURCE_LB_LEAST_REQUEST; /* Istio maps both to LEAST_REQUEST */
  dst->consistent_hash.name = compile_dup(c, src->consistent_hash.name);
  dst->consistent_hash.cookie_path = compile_dup(c, src->consistent_hash.cookie_path);
}

static void tls_copy(struct cctx *c, struct resource_client_tls *dst, const struct resource_client_tls *src) {
  *dst = *src;
  dst->sni = compile_dup(c, src->sni);
  strings_copy(c, &dst->subject_alt_names, &src->subject_alt_names);
}

/* Whole-object overrides, as Istio's MergeTrafficPolicy. */
static void apply_parts(struct cctx *c, struct xds_policy *p, const struct resource_load_balancer *lb,
                        const struct resource_connection_pool *cp, const struct resource_outlier_detection *od,
                        const struct resource_client_tls *tls) {
  if (lb->present) lb_copy(c, &p->load_balancer, lb);
  if (cp->present) p->connection_pool = *cp;
  if (od->present) p->outlier_detection = *od;
  if (tls->present) tls_copy(c, &p->tls, tls);
}

static void apply_policy(struct cctx *c, struct xds_policy *p, const struct resource_traffic_policy *tp,
                         uint32_t port) {
  if (!tp->present) return;
  apply_parts(c, p, &tp->load_balancer, &tp->connection_pool, &tp->outlier_detection, &tp->tls);
  for (size_t i = 0; i < tp->port_level_len; i++)
    if (tp->port_level[i].port == port) {
      const struct resource_port_policy *pl = &tp->port_level[i];
      apply_parts(c, p, &pl->load_balancer, &pl->connection_pool, &pl->outlier_detection, &pl->tls);
    }
}

static void resolve_policy(struct cctx *c, struct xds_policy *p, const struct resource *dr,
                           const struct resource_subset *subset, uint32_t port) {
  policy_defaults(p);
  if (!dr) return;
  /* Merged rules: the first with a top-level trafficPolicy provides it (MergeDestinationRule). */
  for (size_t i = 0; !dr->spec.destination_rule.traffic_policy.present && i < c->in->len; i++)
    if (same_dr_group(dr, c->in->items[i]) && c->in->items[i]->spec.destination_rule.traffic_policy.present)
      dr = c->in->items[i];
  apply_policy(c, p, &dr->spec.destination_rule.traffic_policy, port);
  if (subset) apply_policy(c, p, &subset->traffic_policy, port);
  p->source = subset ? compile_dupf(c, "DestinationRule %s/%s (subset %s)", dr->meta.ns, dr->meta.name, subset->name)
                     : compile_dupf(c, "DestinationRule %s/%s", dr->meta.ns, dr->meta.name);
}

/* ---- clusters ------------------------------------------------------------------------------- */

static struct xds_cluster *add_cluster(struct builder *b) {
  struct proxy_config *cfg = b->c.cfg;
  return compile_push(&b->c, (void **)&cfg->clusters, &cfg->clusters_len, &b->clusters_cap, sizeof *cfg->clusters);
}

static int add_endpoints(struct builder *b, struct xds_cluster *cl, const struct registry_service *svc, uint32_t port,
                         const struct resource_map *labels) {
  struct registry_endpoint *eps;
  size_t n;
  if (registry_endpoints(b->c.in->registry, svc, port, labels, &eps, &n) != 0) return -ENOMEM;
  cl->endpoints = compile_zalloc(&b->c, n * sizeof *cl->endpoints);
  if (cl->endpoints) {
    for (size_t i = 0; i < n; i++) {
      struct xds_endpoint *e = &cl->endpoints[i];
      e->address = compile_dup(&b->c, eps[i].address);
      e->port = eps[i].port;
      e->healthy = eps[i].healthy;
      e->workload = eps[i].workload ? compile_dup(&b->c, eps[i].workload->name) : NULL;
      e->replica = eps[i].replica ? compile_dup(&b->c, eps[i].replica->name) : NULL;
      compile_map_copy(&b->c, &e->labels, eps[i].labels);
      /* Auto mTLS per endpoint, unless the DestinationRule says (compile_mtls.c). */
      const struct registry_workload *pw = eps[i].workload;
      enum resource_mtls_mode peer =
          pw ? compile_peer_mtls(b->c.in, pw->ns, &pw->labels, eps[i].port, NULL) : RESOURCE_MTLS_PERMISSIVE;
      e->tls = compile_endpoint_tls(&cl->policy.tls, pw != NULL, peer);
      if (pw && e->tls != XDS_TLS_NONE)
        e->identity = compile_dupf(&b->c, "spiffe://cluster.local/ns/%s/sa/%s", pw->ns,
                                   pw->service_account && pw->service_account[0] ? pw->service_account : "default");
    }
    cl->endpoints_len = n;
  }
  free(eps);
  return b->c.oom ? -ENOMEM : 0;
}

static int add_outbound_cluster(struct builder *b, const struct registry_service *s, uint32_t port,
                                const struct resource *dr, const struct resource_subset *sub) {
  struct xds_cluster *cl = add_cluster(b);
  if (!cl) return -ENOMEM;
  cl->name = compile_dupf(&b->c, "outbound|%u|%s|%s", (unsigned)port, sub ? sub->name : "", s->fqdn);
  cl->direction = XDS_OUTBOUND;
  cl->service = compile_dup(&b->c, s->fqdn);
  cl->port = port;
  cl->subset = sub ? compile_dup(&b->c, sub->name) : NULL;
  cl->external = s->origin == REGISTRY_SERVICE_ENTRY && s->location == RESOURCE_MESH_EXTERNAL;
  resolve_policy(&b->c, &cl->policy, dr, sub, port);
  return add_endpoints(b, cl, s, port, sub ? &sub->labels : NULL);
}

static int build_outbound_clusters(struct builder *b) {
  size_t n;
  const struct registry_service *svcs = registry_services(b->c.in->registry, &n);
  for (size_t i = 0; i < n; i++) {
    const struct registry_service *s = &svcs[i];
    const struct resource *dr = compile_find_dr(&b->c, s->ns, s->fqdn);
    for (size_t p = 0; p < s->ports_len; p++) {
      uint32_t port = s->ports[p].port;
      /* The subsetless cluster, then every subset of the merged rules for the host. */
      if (add_outbound_cluster(b, s, port, dr, NULL)) return -ENOMEM;
      for (size_t r = 0; dr && r < b->c.in->len; r++) {
        const struct resource *d = b->c.in->items[r];
        if (!same_dr_group(dr, d)) continue;
        for (size_t k = 0; k < d->spec.destination_rule.subsets_len; k++) {
          const struct resource_subset *sub = &d->spec.destination_rule.subsets[k];
          if (compile_find_subset(&b->c, dr, sub->name) != sub) continue; /* an earlier rule defines it */
          if (add_outbound_cluster(b, s, port, dr, sub)) return -ENOMEM;
        }
      }
    }
  }
  return b->c.oom ? -ENOMEM : 0;
}

/* ---- inbound -------------------------------------------------------------------------------- */

static int build_inbound(struct builder *b, const struct registry_workload *w, const char *app_address) {
  const struct registry_service **svcs;
  size_t n;
  if (registry_services_of(b->c.in->registry, w, &svcs, &n)) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const struct registry_service *s = svcs[i];
    for (size_t p = 0; p < s->ports_len; p++) {
      uint32_t target = registry_target_port(w, &s->ports[p]);
      if (!target) continue;
      char name[64];
      snprintf(name, sizeof name, "inbound|%u", (unsigned)target);
      if (proxy_config_route_config(b->c.cfg, name)) continue; /* two services, one target port */
      struct xds_route_config *rc = compile_add_route_config(b, name, target);
      if (!rc) goto oom;
      const struct resource *pa = NULL;
      rc->mtls = compile_peer_mtls(b->c.in, w->ns, &w->labels, target, &pa);
      if (pa)
        rc->mtls_source = compile_dupf(&b->c, "PeerAuthentication %s/%s", pa->meta.ns ? pa->meta.ns : "default",
                                       pa->meta.name ? pa->meta.name : "");
      rc->vhosts = compile_zalloc(&b->c, sizeof *rc->vhosts);
      if (!rc->vhosts) goto oom;
      rc->vhosts_len = 1;
      struct xds_vhost *vh = &rc->vhosts[0];
      vh->name = compile_dupf(&b->c, "inbound|http|%u", (unsigned)target);
      vh->domains = compile_zalloc(&b->c, sizeof *vh->domains);
      if (!vh->domains) goto oom;
      vh->domains[0] = compile_dup(&b->c, "*");
      vh->domains_len = 1;
      vh->routes = compile_zalloc(&b->c, sizeof *vh->routes);
      if (!vh->routes) goto oom;
      vh->routes_len = 1;
      struct xds_route *rt = &vh->routes[0];
      rt->name = compile_dup(&b->c, "default");
      rt->rule = -1;
      rt->destinations = compile_zalloc(&b->c, sizeof *rt->destinations);
      if (!rt->destinations) goto oom;
      rt->destinations_len = 1;
      rt->total_weight = 100;
      struct xds_destination *d = &rt->destinations[0];
      d->host = compile_dup(&b->c, s->fqdn);
      d->port = s->ports[p].port;
      d->weight = 100;
      d->cluster_name = compile_dupf(&b->c, "inbound|%u||", (unsigned)target);

      struct xds_cluster *cl = add_cluster(b);
      if (!cl) goto oom;
      cl->name = compile_dup(&b->c, d->cluster_name);
      cl->direction = XDS_INBOUND;
      cl->port = target;
      /* connectionPool applies on the server side too; load balancing, outlier detection and
       * client TLS only on the client side (pilot's applyTrafficPolicy). */
      const struct resource *dr = compile_find_dr(&b->c, s->ns, s->fqdn);
      resolve_policy(&b->c, &cl->policy, dr, NULL, s->ports[p].port);
      struct xds_policy defaults;
      policy_defaults(&defaults);
      cl->policy.load_balancer = defaults.load_balancer;
      cl->policy.outlier_detection = defaults.outlier_detection;
      cl->policy.tls = defaults.tls;
      cl->endpoints = compile_zalloc(&b->c, sizeof *cl->endpoints);
      if (!cl->endpoints) goto oom;
      cl->endpoints_len = 1;
      struct xds_endpoint *e = &cl->endpoints[0];
      e->healthy = true;
      e->workload = compile_dup(&b->c, w->name);
      const char *colon = app_address ? strrchr(app_address, ':') : NULL;
      if (!app_address) {
        e->address = compile_dup(&b->c, "127.0.0.1");
        e->port = target;
      } else if (strncmp(app_address, "unix:", 5) == 0 || !colon) {
        e->address = compile_dup(&b->c, app_address);
      } else {
        e->address = arena_strndup(&b->c.cfg->arena, app_address, (size_t)(colon - app_address));
        e->port = (uint32_t)strtoul(colon + 1, NULL, 10);
      }
    }
  }
  free(svcs);
  return b->c.oom ? -ENOMEM : 0;
oom:
  free(svcs);
  return -ENOMEM;
}

/* ---- gateways ------------------------------------------------------------------------------- */

/* Does a Gateway server host ("*", "host", "ns/host", "./host", "*\/host") admit VirtualService
 * host vs_host of namespace vs_ns? Returns the domain to serve (the more specific of the two),
 * or NULL. */
static const char *server_admits(const char *server_host, const char *gw_ns, const char *vs_ns, const char *vs_host) {
  const char *slash = strchr(server_host, '/');
  const char *host = server_host;
  if (slash) {
    size_t nl = (size_t)(slash - server_host);
    bool ns_ok = (nl == 1 && server_host[0] == '*') ||
                 (nl == 1 && server_host[0] == '.' && strcmp(vs_ns, gw_ns) == 0) ||
                 (strlen(vs_ns) == nl && strncmp(server_host, vs_ns, nl) == 0);
    if (!ns_ok) return NULL;
    host = slash + 1;
  }
  if (compile_host_covers(host, vs_host)) return vs_host;
  if (compile_host_covers(vs_host, host)) return host;
  return NULL;
}

static bool is_http_protocol(const char *p) {
  return p && (strcasecmp(p, "HTTP") == 0 || strcasecmp(p, "HTTP2") == 0 || strcasecmp(p, "GRPC") == 0);
}

static int gateway_server(struct builder *b, const struct resource *gw, const struct resource_server *srv) {
  char name[32], ctx[512];
  snprintf(name, sizeof name, "http.%u", (unsigned)srv->port.number);
  snprintf(ctx, sizeof ctx, "%s/%s", gw->meta.ns, gw->meta.name);
  struct proxy_config *cfg = b->c.cfg;
  size_t rci = cfg->route_configs_len;
  for (size_t i = 0; i < cfg->route_configs_len; i++)
    if (strcmp(cfg->route_configs[i].name, name) == 0) rci = i;
  if (rci == cfg->route_configs_len && !compile_add_route_config(b, name, srv->port.number)) return -ENOMEM;
  for (size_t i = 0; i < b->c.in->len; i++) {
    const struct resource *vs = b->c.in->items[i];
    if (vs->kind != RESOURCE_VIRTUAL_SERVICE || !compile_vs_bound_to(vs, ctx)) continue;
    for (size_t h = 0; h < vs->spec.virtual_service.hosts_len; h++) {
      const char *domain = NULL;
      for (size_t sh = 0; sh < srv->hosts.len && !domain; sh++)
        domain = server_admits(srv->hosts.items[sh], gw->meta.ns, vs->meta.ns, vs->spec.virtual_service.hosts[h].fqdn);
      if (!domain) continue;
      struct xds_route_config *rc = &cfg->route_configs[rci];
      struct xds_vhost *vh = NULL;
      for (size_t v = 0; v < rc->vhosts_len; v++)
        if (strcasecmp(rc->vhosts[v].name, domain) == 0) vh = &rc->vhosts[v];
      if (!vh) {
        /* vhost arrays here grow by copying; capacity is the length (rare, small). */
        size_t cap = rc->vhosts_len;
        vh = compile_push(&b->c, (void **)&rc->vhosts, &rc->vhosts_len, &cap, sizeof *rc->vhosts);
        if (!vh) return -ENOMEM;
        vh->name = compile_dup(&b->c, domain);
        vh->domains = compile_zalloc(&b->c, 2 * sizeof *vh->domains);
        if (!vh->domains) return -ENOMEM;
        vh->domains[vh->domains_len++] = compile_dup(&b->c, domain);
        if (strcmp(domain, "*") != 0)
          vh->domains[vh->domains_len++] = compile_dupf(&b->c, "%s:%u", domain, (unsigned)srv->port.number);
      }
      /* Gateways append the routes of every VirtualService for the host (pilot merges them). */
      size_t rcap = vh->routes_len;
      for (size_t r = 0; r < vs->spec.virtual_service.http_len; r++)
        if (compile_translate_rule(b, &vh->routes, &vh->routes_len, &rcap, vs, r, 0, ctx) < 0) return -ENOMEM;
    }
  }
  return b->c.oom ? -ENOMEM : 0;
}

/* ---- EnvoyFilter local rate limits ---------------------------------------------------------- */

/* Istio applies an EnvoyFilter to the workloads its selector picks in its own namespace, or in
 * every namespace when it lives in the root namespace. */
static bool envoy_filter_applies(const struct cctx *c, const struct resource *ef) {
  const char *ns = ef->meta.ns ? ef->meta.ns : "default";
  if (strcmp(ns, c->client_ns) != 0 && strcmp(ns, c->root_ns) != 0) return false;
  return resource_map_matches(&ef->spec.envoy_filter.workload_selector, &c->cfg->labels);
}

/* Whether a patch's match (context, port) selects this route config of this proxy. */
static bool patch_fits(const struct proxy_config *cfg, const struct xds_route_config *rc,
                       const struct resource_local_rate_limit *l) {
  bool inbound = cfg->kind == PROXY_CONFIG_SIDECAR && strncmp(rc->name, "inbound|", 8) == 0;
  switch (l->context) {
  case RESOURCE_CONTEXT_SIDECAR_INBOUND:
    if (!inbound) return false;
    break;
  case RESOURCE_CONTEXT_SIDECAR_OUTBOUND:
    if (cfg->kind != PROXY_CONFIG_SIDECAR || inbound) return false;
    break;
  case RESOURCE_CONTEXT_GATEWAY:
    if (cfg->kind != PROXY_CONFIG_GATEWAY) return false;
    break;
  case RESOURCE_CONTEXT_ANY:
    break;
  }
  /* Istio names outbound listeners per port (0.0.0.0_9080); meshlab's single outbound listener
   * has port 0 and stands for all of them. */
  return l->port == 0 || rc->port == 0 || l->port == rc->port;
}

static int attach_rate_limits(struct builder *b) {
  struct proxy_config *cfg = b->c.cfg;
  for (size_t i = 0; i < cfg->route_configs_len; i++) {
    struct xds_route_config *rc = &cfg->route_configs[i];
    const struct resource_local_rate_limit *filter = NULL, *route = NULL;
    const struct resource *filter_ef = NULL, *route_ef = NULL;
    for (size_t r = 0; r < b->c.in->len; r++) {
      const struct resource *ef = b->c.in->items[r];
      if (ef->kind != RESOURCE_ENVOY_FILTER || !envoy_filter_applies(&b->c, ef)) continue;
      for (size_t k = 0; k < ef->spec.envoy_filter.limits_len; k++) {
        const struct resource_local_rate_limit *l = &ef->spec.envoy_filter.limits[k];
        if (!patch_fits(cfg, rc, l)) continue;
        if (l->per_route && !route) route = l, route_ef = ef;
        if (!l->per_route && !filter) filter = l, filter_ef = ef;
      }
    }
    /* Envoy's per-route LocalRateLimit replaces the filter's config for the routes it is on. */
    const struct resource_local_rate_limit *use = filter && route && route->max_tokens > 0 ? route : filter;
    const struct resource *src = use == route ? route_ef : filter_ef;
    if (!use || use->max_tokens == 0) continue; /* no bucket: the filter passes everything */
    struct resource_local_rate_limit *copy = compile_zalloc(&b->c, sizeof *copy);
    if (!copy) return -ENOMEM;
    *copy = *use;
    copy->stat_prefix = compile_dup(&b->c, use->stat_prefix);
    compile_map_copy(&b->c, &copy->response_headers, &use->response_headers);
    rc->local_rate_limit = copy;
    rc->local_rate_limit_source = compile_dupf(&b->c, "%s/%s", src->meta.ns ? src->meta.ns : "default", src->meta.name);
  }
  return b->c.oom ? -ENOMEM : 0;
}

/* ---- end-user authentication and authorization ------------------------------------------- */

/* Istio puts jwt_authn and rbac in every inbound listener of the workloads a policy selects
 * (and every listener of a selected gateway). RequestAuthentications first, then
 * AuthorizationPolicies, store order within each: jwt.c tries rules in this order, and
 * authz.c's verdict names the first policy that decided. */
static int attach_security(struct builder *b) {
  struct proxy_config *cfg = b->c.cfg;
  static const enum resource_kind kinds[] = {RESOURCE_REQUEST_AUTHENTICATION, RESOURCE_AUTHORIZATION_POLICY};
  for (size_t k = 0; k < 2; k++)
    for (size_t i = 0; i < b->c.in->len; i++) {
      const struct resource *r = b->c.in->items[i];
      if (r->kind != kinds[k] || !compile_security_applies(r, cfg->ns, &cfg->labels, b->c.root_ns)) continue;
      char why[256];
      int rc = compile_security_copy(r, &cfg->security.policies, why, sizeof why);
      if (rc == -ENOMEM) return rc;
      if (rc != 0 && b->c.diags)
        diag_add(b->c.diags, DIAG_WARNING, r->file, r->pos.line, r->pos.col, "spec", "%s", why);
    }
  return 0;
}

/* ---- entry points --------------------------------------------------------------------------- */

static int begin(struct builder *b, const struct compile_input *in, enum proxy_config_kind kind, const char *ns,
                 const char *name, const struct resource_map *labels, struct diag_list *diags) {
  memset(b, 0, sizeof *b);
  b->c.cfg = calloc(1, sizeof *b->c.cfg);
  if (!b->c.cfg) return -ENOMEM;
  b->c.in = in;
  b->c.root_ns = in->root_ns ? in->root_ns : "istio-system";
  b->c.client_ns = ns;
  b->c.diags = diags;
  b->c.cfg->kind = kind;
  b->c.cfg->node = compile_dup(&b->c, name);
  b->c.cfg->ns = compile_dup(&b->c, ns);
  compile_map_copy(&b->c, &b->c.cfg->labels, labels);
  return b->c.oom ? -ENOMEM : 0;
}

static int end(struct builder *b, struct compile_state *st, int rc, struct proxy_config **out) {
  if (rc == 0 && b->c.oom) rc = -ENOMEM;
  if (rc == 0) rc = proxy_config_finish(b->c.cfg);
  if (rc != 0) {
    proxy_config_free(b->c.cfg);
    *out = NULL;
    return rc;
  }
  b->c.cfg->version = ++st->version;
  *out = b->c.cfg;
  return 0;
}

int compile_sidecar(struct compile_state *st, const struct compile_input *in, const char *ns, const char *name,
                    const char *app_address, struct proxy_config **out, struct diag_list *diags) {
  *out = NULL;
  const struct registry_workload *w = registry_workload_find(in->registry, ns, name);
  if (!w) return -ENOENT;
  struct builder b;
  int rc = begin(&b, in, PROXY_CONFIG_SIDECAR, ns, name, &w->labels, diags);
  if (rc == 0) rc = build_outbound_clusters(&b);
  if (rc == 0) rc = compile_outbound_routes(&b);
  if (rc == 0) rc = build_inbound(&b, w, app_address);
  if (rc == 0) rc = attach_rate_limits(&b);
  if (rc == 0) rc = attach_security(&b);
  if (!b.c.cfg) return -ENOMEM;
  return end(&b, st, rc, out);
}

int compile_gateway(struct compile_state *st, const struct compile_input *in, const char *ns, const char *name,
                    const struct resource_map *labels, struct proxy_config **out, struct diag_list *diags) {
  *out = NULL;
  struct builder b;
  int rc = begin(&b, in, PROXY_CONFIG_GATEWAY, ns, name, labels, diags);
  if (rc == 0) rc = build_outbound_clusters(&b);
  for (size_t i = 0; rc == 0 && i < in->len; i++) {
    const struct resource *gw = in->items[i];
    if (gw->kind != RESOURCE_GATEWAY || !gw->spec.gateway.selector.len) continue;
    if (!labels || !resource_map_matches(&gw->spec.gateway.selector, labels)) continue;
    for (size_t s = 0; rc == 0 && s < gw->spec.gateway.servers_len; s++) {
      const struct resource_server *srv = &gw->spec.gateway.servers[s];
      if (!is_http_protocol(srv->port.protocol)) {
        if (diags)
          diag_add(diags, DIAG_WARNING, gw->file, srv->pos.line, srv->pos.col, "spec.servers",
                   "Gateway %s/%s: %s server on port %u is not served yet (meshlab's ingress terminates plain "
                   "HTTP only)",
                   gw->meta.ns, gw->meta.name, srv->port.protocol ? srv->port.protocol : "?",
                   (unsigned)srv->port.number);
        continue;
      }
      rc = gateway_server(&b, gw, srv);
    }
  }
  if (rc == 0) rc = attach_rate_limits(&b);
  if (rc == 0) rc = attach_security(&b);
  if (!b.c.cfg) return -ENOMEM;
  return end(&b, st, rc, out);
}
