/* compile_routes: VirtualService http rules -> the route configs of a proxy (see compile.h).
 *
 * At a sidecar, the "outbound" route config holds a vhost per service port, named and
 * domained as Istio names them (`reviews:9080`; `reviews`, `reviews.default.svc`, ... with and
 * without the port), routed by the first VirtualService that names the host or else by the
 * default route (every endpoint, Istio's default retries). Each http rule becomes one route:
 * its match blocks (only those bound to this proxy's context), its destinations with their
 * cluster names, and the timeout, retries, fault, mirror, headers, rewrite, redirect and
 * direct response it carries. Gateways reuse the rule translation (compile.c, "gateways");
 * the clusters the destinations name, the DestinationRule lookups and the arena helpers are
 * compile.c's, shared through compile_internal.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mesh/compile_internal.h"

/* ---- routes --------------------------------------------------------------------------------- */

static int string_match(struct builder *b, struct xds_string_match *dst, const struct resource_string_match *src,
                        bool present_if_none, bool icase, const char *what) {
  switch (src->type) {
  case RESOURCE_MATCH_NONE:
    dst->kind = present_if_none ? XDS_MATCH_PRESENT : XDS_MATCH_ANY;
    return 0;
  case RESOURCE_MATCH_EXACT:
    dst->kind = XDS_MATCH_EXACT;
    break;
  case RESOURCE_MATCH_PREFIX:
    dst->kind = XDS_MATCH_PREFIX;
    break;
  case RESOURCE_MATCH_REGEX:
    dst->kind = XDS_MATCH_REGEX;
    break;
  }
  dst->value = compile_dup(&b->c, src->value ? src->value : "");
  if (dst->kind == XDS_MATCH_REGEX && dst->value) {
    char why[160] = "";
    int rc = proxy_config_regex(b->c.cfg, dst, icase, why, sizeof why);
    if (rc == -ENOMEM) return rc;
    if (rc) {
      /* POSIX ERE cannot express this RE2 pattern: the condition never matches, and we say so. */
      if (b->c.diags)
        diag_add(b->c.diags, DIAG_WARNING, NULL, 0, 0, what,
                 "regex '%s' cannot run on meshlab's POSIX regex engine: %s; this condition never matches", src->value,
                 why);
      dst->regex = NULL;
    }
  }
  return 0;
}

static int named_matches(struct builder *b, struct xds_named_match **dst, size_t *dst_len,
                         const struct resource_named_match *src, size_t n, const char *what) {
  *dst = NULL;
  *dst_len = 0;
  if (!n) return 0;
  *dst = compile_zalloc(&b->c, n * sizeof **dst);
  if (!*dst) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    (*dst)[i].name = compile_dup(&b->c, src[i].name);
    int rc = string_match(b, &(*dst)[i].match, &src[i].match, true, false, what);
    if (rc) return rc;
  }
  *dst_len = n;
  return 0;
}

/* Does a match block (or VirtualService) `gateways` list name the proxy's context? ctx is
 * "mesh" or "ns/name"; names without a slash resolve in the VirtualService's namespace. */
static bool gateways_include(const struct resource_strings *gws, const char *vs_ns, const char *ctx) {
  for (size_t i = 0; i < gws->len; i++) {
    const char *g = gws->items[i];
    if (strcmp(g, "mesh") == 0) {
      if (strcmp(ctx, "mesh") == 0) return true;
      continue;
    }
    char full[512];
    if (strchr(g, '/')) snprintf(full, sizeof full, "%s", g);
    else snprintf(full, sizeof full, "%s/%s", vs_ns, g);
    if (strcmp(full, ctx) == 0) return true;
  }
  return false;
}

bool compile_vs_bound_to(const struct resource *vs, const char *ctx) {
  const struct resource_strings *g = &vs->spec.virtual_service.gateways;
  if (!g->len) return strcmp(ctx, "mesh") == 0;
  return gateways_include(g, vs->meta.ns, ctx);
}

/* The destination's service port: written, the service's only port, or the vhost's port. */
static void destination(struct builder *b, struct xds_destination *d, const struct resource_route_destination *rd,
                        const struct resource_destination *src, uint32_t vhost_port) {
  const char *fqdn = src->host.fqdn;
  d->host = compile_dup(&b->c, fqdn);
  d->subset = compile_dup(&b->c, src->subset);
  d->weight = rd ? rd->weight.value : 0;
  if (rd) compile_headers_copy(&b->c, &d->headers, &rd->headers);
  const struct registry_service *svc = registry_service_find(b->c.in->registry, fqdn);
  uint32_t port = src->port;
  if (!port && svc && svc->ports_len == 1) port = svc->ports[0].port;
  if (!port && svc && registry_service_port(svc, vhost_port)) port = vhost_port;
  d->port = port;
  d->cluster_name = compile_dupf(&b->c, "outbound|%u|%s|%s", (unsigned)port, src->subset ? src->subset : "", fqdn);
  if (!svc) {
    d->missing = compile_dupf(&b->c, "no Service or ServiceEntry for host %s", fqdn);
  } else if (!port) {
    d->missing = compile_dupf(&b->c, "%s has several ports and the destination names none", fqdn);
  } else if (!registry_service_port(svc, port)) {
    d->missing = compile_dupf(&b->c, "%s has no port %u", fqdn, (unsigned)port);
  } else if (src->subset) {
    const struct resource *dr = compile_find_dr(&b->c, svc->ns, svc->fqdn);
    if (!dr) d->missing = compile_dupf(&b->c, "no DestinationRule for %s defines subset %s", fqdn, src->subset);
    else if (!compile_find_subset(&b->c, dr, src->subset))
      d->missing = compile_dupf(&b->c, "DestinationRule %s/%s for %s defines no subset %s", dr->meta.ns, dr->meta.name,
                                fqdn, src->subset);
  }
}

/* Translates http[rule] of vs for a vhost on vhost_port in context ctx ("mesh" or "ns/gw").
 * Returns 1 when a route was appended, 0 when the rule does not apply here, -ENOMEM. */
int compile_translate_rule(struct builder *b, struct xds_route **routes, size_t *len, size_t *cap,
                           const struct resource *vs, size_t rule, uint32_t vhost_port, const char *ctx) {
  const struct resource_http_route *h = &vs->spec.virtual_service.http[rule];
  size_t keep = 0;
  for (size_t m = 0; m < h->match_len; m++)
    if (!h->match[m].gateways.len || gateways_include(&h->match[m].gateways, vs->meta.ns, ctx)) keep++;
  if (h->match_len && !keep) return 0;
  struct xds_route *rt = compile_push(&b->c, (void **)routes, len, cap, sizeof **routes);
  if (!rt) return -ENOMEM;
  rt->name = compile_dup(&b->c, h->name);
  rt->vs_name = compile_dup(&b->c, vs->meta.name);
  rt->vs_ns = compile_dup(&b->c, vs->meta.ns);
  rt->rule = (int)rule;
  if (keep) {
    rt->match = compile_zalloc(&b->c, keep * sizeof *rt->match);
    if (!rt->match) return -ENOMEM;
  }
  char path[128];
  for (size_t m = 0; m < h->match_len; m++) {
    const struct resource_http_match *sm = &h->match[m];
    if (sm->gateways.len && !gateways_include(&sm->gateways, vs->meta.ns, ctx)) continue;
    struct xds_match *xm = &rt->match[rt->match_len++];
    snprintf(path, sizeof path, "%s/%s: spec.http[%zu].match[%zu]", vs->meta.ns, vs->meta.name, rule, m);
    xm->name = compile_dup(&b->c, sm->name);
    xm->ignore_uri_case = sm->ignore_uri_case.value;
    int rc;
    if ((rc = string_match(b, &xm->uri, &sm->uri, false, xm->ignore_uri_case, path)) ||
        (rc = string_match(b, &xm->scheme, &sm->scheme, false, false, path)) ||
        (rc = string_match(b, &xm->method, &sm->method, false, false, path)) ||
        (rc = string_match(b, &xm->authority, &sm->authority, false, false, path)) ||
        (rc = named_matches(b, &xm->headers, &xm->headers_len, sm->headers, sm->headers_len, path)) ||
        (rc = named_matches(b, &xm->without_headers, &xm->without_headers_len, sm->without_headers,
                            sm->without_headers_len, path)) ||
        (rc = named_matches(b, &xm->query_params, &xm->query_params_len, sm->query_params, sm->query_params_len, path)))
      return rc;
    xm->port = sm->port;
    compile_map_copy(&b->c, &xm->source_labels, &sm->source_labels);
  }
  rt->action = h->redirect.present          ? XDS_ACTION_REDIRECT
               : h->direct_response.present ? XDS_ACTION_DIRECT_RESPONSE
                                            : XDS_ACTION_ROUTE;
  if (h->route_len) {
    rt->destinations = compile_zalloc(&b->c, h->route_len * sizeof *rt->destinations);
    if (!rt->destinations) return -ENOMEM;
    for (size_t d = 0; d < h->route_len; d++) {
      destination(b, &rt->destinations[d], &h->route[d], &h->route[d].destination, vhost_port);
      rt->total_weight += rt->destinations[d].weight;
    }
    rt->destinations_len = h->route_len;
  }
  rt->timeout = h->timeout;
  rt->retries = h->retries;
  rt->retries.retry_on = compile_dup(&b->c, h->retries.retry_on);
  rt->fault = h->fault;
  rt->fault.abort.grpc_status = compile_dup(&b->c, h->fault.abort.grpc_status);
  rt->mirror_present = h->mirror_present;
  if (h->mirror_present) destination(b, &rt->mirror, NULL, &h->mirror, vhost_port);
  rt->mirror_percentage = h->mirror_percentage;
  compile_headers_copy(&b->c, &rt->headers, &h->headers);
  rt->rewrite = (struct resource_rewrite){h->rewrite.present, compile_dup(&b->c, h->rewrite.uri),
                                          compile_dup(&b->c, h->rewrite.authority)};
  rt->redirect = h->redirect;
  rt->redirect.uri = compile_dup(&b->c, h->redirect.uri);
  rt->redirect.authority = compile_dup(&b->c, h->redirect.authority);
  rt->redirect.scheme = compile_dup(&b->c, h->redirect.scheme);
  rt->direct_response = h->direct_response;
  rt->direct_response.body = compile_dup(&b->c, h->direct_response.body);
  return b->c.oom ? -ENOMEM : 1;
}

/* The default route when no VirtualService names the service: all of its endpoints. */
static int default_route(struct builder *b, struct xds_vhost *vh, const struct registry_service *s, uint32_t port) {
  vh->routes = compile_zalloc(&b->c, sizeof *vh->routes);
  if (!vh->routes) return -ENOMEM;
  vh->routes_len = 1;
  struct xds_route *rt = &vh->routes[0];
  rt->name = compile_dup(&b->c, "default");
  rt->rule = -1;
  rt->action = XDS_ACTION_ROUTE;
  rt->destinations = compile_zalloc(&b->c, sizeof *rt->destinations);
  if (!rt->destinations) return -ENOMEM;
  rt->destinations_len = 1;
  struct xds_destination *d = &rt->destinations[0];
  d->host = compile_dup(&b->c, s->fqdn);
  d->port = port;
  d->weight = 100;
  d->cluster_name = compile_dupf(&b->c, "outbound|%u||%s", (unsigned)port, s->fqdn);
  rt->total_weight = 100;
  /* Istio's default retry policy applies to the default route too. */
  rt->retries.attempts.value = 2;
  rt->retries.retry_on = compile_dup(&b->c, RESOURCE_DEFAULT_RETRY_ON);
  return b->c.oom ? -ENOMEM : 0;
}

/* Istio's domains for a service port as seen from a proxy in client_ns. */
static int sidecar_domains(struct builder *b, struct xds_vhost *vh, const struct registry_service *s, uint32_t port) {
  const char *names[4];
  size_t n = 0;
  char short_name[256] = "", with_ns[300] = "", with_svc[310] = "";
  names[n++] = s->fqdn;
  const char *suffix = ".svc.cluster.local";
  size_t fl = strlen(s->fqdn), sl = strlen(suffix);
  if (s->origin == REGISTRY_KUBERNETES && fl > sl && strcasecmp(s->fqdn + fl - sl, suffix) == 0) {
    snprintf(with_svc, sizeof with_svc, "%s.%s.svc", s->name, s->ns);
    snprintf(with_ns, sizeof with_ns, "%s.%s", s->name, s->ns);
    snprintf(short_name, sizeof short_name, "%s", s->name);
    if (strcmp(s->ns, b->c.client_ns) == 0) names[n++] = short_name; /* only same namespace */
    names[n++] = with_svc;
    names[n++] = with_ns;
  }
  vh->domains = compile_zalloc(&b->c, 2 * n * sizeof *vh->domains);
  if (!vh->domains) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    vh->domains[vh->domains_len++] = compile_dup(&b->c, names[i]);
    vh->domains[vh->domains_len++] = compile_dupf(&b->c, "%s:%u", names[i], (unsigned)port);
  }
  return b->c.oom ? -ENOMEM : 0;
}

struct xds_route_config *compile_add_route_config(struct builder *b, const char *name, uint32_t port) {
  struct proxy_config *cfg = b->c.cfg;
  struct xds_route_config *rc = compile_push(&b->c, (void **)&cfg->route_configs, &cfg->route_configs_len, &b->rcs_cap,
                                             sizeof *cfg->route_configs);
  if (rc) {
    rc->name = compile_dup(&b->c, name);
    rc->port = port;
  }
  return rc;
}

/* The VirtualServices that give `fqdn` its routes at a sidecar: the first one (store order) with
 * an exact host, else the first with the most specific wildcard host. */
static const struct resource *sidecar_vs_for(struct builder *b, const char *fqdn) {
  const struct resource *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; i < b->c.in->len; i++) {
    const struct resource *r = b->c.in->items[i];
    if (r->kind != RESOURCE_VIRTUAL_SERVICE || !compile_vs_bound_to(r, "mesh")) continue;
    for (size_t h = 0; h < r->spec.virtual_service.hosts_len; h++) {
      const char *pat = r->spec.virtual_service.hosts[h].fqdn;
      if (strcmp(pat, "*") == 0 || !compile_host_covers(pat, fqdn)) continue;
      if (pat[0] != '*') return r;
      if (!best || strlen(pat) > best_len) {
        best = r;
        best_len = strlen(pat);
      }
    }
  }
  return best;
}

int compile_outbound_routes(struct builder *b) {
  size_t n, vcap = 0;
  const struct registry_service *svcs = registry_services(b->c.in->registry, &n);
  struct xds_route_config *rc = compile_add_route_config(b, "outbound", 0);
  if (!rc) return -ENOMEM;
  enum xds_outbound_policy mode = b->c.in->outbound_policy;
  rc->outbound_policy = mode == XDS_OUTBOUND_POLICY_NONE ? XDS_OUTBOUND_POLICY_ALLOW_ANY : mode;
  size_t rc_index = b->c.cfg->route_configs_len - 1;
  for (size_t i = 0; i < n; i++) {
    const struct registry_service *s = &svcs[i];
    const struct resource *vs = sidecar_vs_for(b, s->fqdn);
    for (size_t p = 0; p < s->ports_len; p++) {
      rc = &b->c.cfg->route_configs[rc_index];
      struct xds_vhost *vh = compile_push(&b->c, (void **)&rc->vhosts, &rc->vhosts_len, &vcap, sizeof *rc->vhosts);
      if (!vh) return -ENOMEM;
      uint32_t port = s->ports[p].port;
      vh->name = compile_dupf(&b->c, "%s:%u", s->fqdn, (unsigned)port);
      vh->port = port;
      if (sidecar_domains(b, vh, s, port)) return -ENOMEM;
      if (!vs) {
        if (default_route(b, vh, s, port)) return -ENOMEM;
        continue;
      }
      size_t rcap = 0;
      for (size_t r = 0; r < vs->spec.virtual_service.http_len; r++)
        if (compile_translate_rule(b, &vh->routes, &vh->routes_len, &rcap, vs, r, port, "mesh") < 0) return -ENOMEM;
    }
  }
  return b->c.oom ? -ENOMEM : 0;
}
