/* resource_analyze: istioctl-analyze-style warnings across a set of resources (the control
 * plane's store plus what is being applied). These are the misconfigurations behind the most
 * common "503 right after applying" threads (istio-semantics.md section 3, rows 5 and 6): a
 * route to a subset no DestinationRule defines (Envoy answers 503 NC), a VirtualService bound
 * to a Gateway that does not exist (its routes apply nowhere), a destination host nothing
 * defines, and a subset whose labels no workload carries (503 UH: Bookinfo's MySQL ratings). The apply still succeeds: Istio accepts all three, so meshlab warns.
 */
#include "mesh/resource_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Istio host matching: exact, or a leading "*" matching any prefix ("*.local",
 * "*.default.svc.cluster.local"; "*" matches everything). */
static bool host_matches(const char *pattern, const char *host) {
  if (strcmp(pattern, host) == 0) return true;
  if (pattern[0] != '*') return false;
  size_t pl = strlen(pattern + 1), hl = strlen(host);
  return hl >= pl && strcmp(host + hl - pl, pattern + 1) == 0;
}

struct analyzer {
  struct resource *const *items;
  size_t len;
  struct diag_list *diags;
  int warnings;
};

static void warn(struct analyzer *a, const struct resource *r, struct resource_pos pos, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void warn(struct analyzer *a, const struct resource *r, struct resource_pos pos, const char *path,
                 const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (pos.line == 0) pos = r->pos;
  if (diag_addv(a->diags, DIAG_WARNING, r->file, pos.line, pos.col, path, fmt, ap) == 0) a->warnings++;
  va_end(ap);
}

static bool host_known(const struct analyzer *a, const char *fqdn) {
  for (size_t i = 0; i < a->len; i++) {
    const struct resource *r = a->items[i];
    if (r->kind == RESOURCE_SERVICE) {
      char name[512];
      snprintf(name, sizeof name, "%s.%s.svc.cluster.local", r->meta.name, r->meta.ns);
      if (strcmp(name, fqdn) == 0) return true;
    } else if (r->kind == RESOURCE_SERVICE_ENTRY) {
      const struct resource_service_entry *se = &r->spec.service_entry;
      for (size_t h = 0; h < se->hosts_len; h++)
        if (host_matches(se->hosts[h].fqdn, fqdn)) return true;
    }
  }
  return false;
}

/* 1: a DestinationRule for the host defines the subset (*found set); 0: DRs exist but none
 * defines it; -1: no DestinationRule for the host at all. */
static int subset_defined(const struct analyzer *a, const char *fqdn, const char *subset,
                          const struct resource_subset **found) {
  int result = -1;
  for (size_t i = 0; i < a->len; i++) {
    const struct resource *r = a->items[i];
    if (r->kind != RESOURCE_DESTINATION_RULE || r->spec.destination_rule.host.fqdn == NULL) continue;
    const struct resource_destination_rule *dr = &r->spec.destination_rule;
    if (!host_matches(dr->host.fqdn, fqdn)) continue;
    result = 0;
    for (size_t s = 0; s < dr->subsets_len; s++) {
      if (dr->subsets[s].name && strcmp(dr->subsets[s].name, subset) == 0) {
        *found = &dr->subsets[s];
        return 1;
      }
    }
  }
  return result;
}

/* With the topology known (the set has Deployments) and the host a Kubernetes Service: does
 * any Deployment carry both the Service's selector and the subset's labels? Bookinfo's
 * ratings v2-mysql subsets are the classic case: defined, but nothing runs there. */
static bool subset_has_workload(const struct analyzer *a, const char *fqdn, const struct resource_subset *subset,
                                bool *checked) {
  const struct resource *svc = NULL;
  bool any_deployment = false;
  for (size_t i = 0; i < a->len; i++) {
    const struct resource *r = a->items[i];
    any_deployment = any_deployment || r->kind == RESOURCE_DEPLOYMENT;
    if (r->kind == RESOURCE_SERVICE) {
      char name[512];
      snprintf(name, sizeof name, "%s.%s.svc.cluster.local", r->meta.name, r->meta.ns);
      if (strcmp(name, fqdn) == 0) svc = r;
    }
  }
  *checked = svc != NULL && any_deployment;
  if (!*checked) return true;
  for (size_t i = 0; i < a->len; i++) {
    const struct resource *r = a->items[i];
    if (r->kind == RESOURCE_DEPLOYMENT && strcmp(r->meta.ns, svc->meta.ns) == 0 &&
        resource_map_matches(&svc->spec.service.selector, &r->spec.deployment.labels) &&
        resource_map_matches(&subset->labels, &r->spec.deployment.labels))
      return true;
  }
  return false;
}

static void check_destination(struct analyzer *a, const struct resource *r, const struct resource_destination *d,
                              const char *path) {
  if (d->host.fqdn == NULL) return;
  char p[RPATH_MAX];
  if (!host_known(a, d->host.fqdn)) {
    rpath_key(p, path, "host");
    warn(a, r, d->host.pos, p,
         "host '%s' (%s) is not a known Service or ServiceEntry; requests to it cannot be "
         "routed (istioctl analyze IST0101 ReferencedResourceNotFound)",
         d->host.written, d->host.fqdn);
  }
  if (d->subset == NULL) return;
  const struct resource_subset *subset = NULL;
  int defined = subset_defined(a, d->host.fqdn, d->subset, &subset);
  rpath_key(p, path, "subset");
  if (defined > 0) {
    bool checked = false;
    if (!subset_has_workload(a, d->host.fqdn, subset, &checked) && checked) {
      char labels[256] = "";
      for (size_t i = 0; i < subset->labels.len; i++) {
        size_t used = strlen(labels);
        snprintf(labels + used, sizeof labels - used, "%s%s=%s", i ? "," : "", subset->labels.items[i].key,
                 subset->labels.items[i].value);
      }
      warn(a, r, d->subset_pos, p,
           "subset '%s' of host '%s' selects no workload (no Deployment behind the Service has "
           "the labels %s); requests routed here fail with 503 UH (no healthy upstream)",
           d->subset, d->host.fqdn, labels);
    }
    return;
  }
  if (defined == 0)
    warn(a, r, d->subset_pos, p,
         "no DestinationRule for host '%s' defines subset '%s'; requests routed here fail with "
         "503 NC until one does (istioctl analyze IST0101)",
         d->host.fqdn, d->subset);
  else
    warn(a, r, d->subset_pos, p,
         "subset '%s' needs a DestinationRule for host '%s' and there is none; requests routed "
         "here fail with 503 NC (apply one with subsets, e.g. destination-rule-all.yaml)",
         d->subset, d->host.fqdn);
}

static void check_gateway_ref(struct analyzer *a, const struct resource *r, const char *ref, struct resource_pos pos,
                              const char *path) {
  if (strcmp(ref, "mesh") == 0) return;
  char ns[256], name[256];
  const char *slash = strchr(ref, '/');
  if (slash) {
    snprintf(ns, sizeof ns, "%.*s", (int)(slash - ref), ref);
    snprintf(name, sizeof name, "%s", slash + 1);
  } else {
    snprintf(ns, sizeof ns, "%s", r->meta.ns);
    snprintf(name, sizeof name, "%s", ref);
  }
  for (size_t i = 0; i < a->len; i++) {
    const struct resource *g = a->items[i];
    if (g->kind == RESOURCE_GATEWAY && strcmp(g->meta.name, name) == 0 && strcmp(g->meta.ns, ns) == 0) return;
  }
  warn(a, r, pos, path,
       "gateway '%s' does not exist (no Gateway %s in namespace %s); this VirtualService's "
       "routes apply to no gateway (istioctl analyze IST0101)",
       ref, name, ns);
}

static void analyze_virtual_service(struct analyzer *a, const struct resource *r) {
  const struct resource_virtual_service *vs = &r->spec.virtual_service;
  char p[RPATH_MAX], q[RPATH_MAX], s[RPATH_MAX];
  for (size_t i = 0; i < vs->gateways.len; i++) {
    rpath_index(p, "spec.gateways", i);
    check_gateway_ref(a, r, vs->gateways.items[i], vs->gateways.pos[i], p);
  }
  for (size_t i = 0; i < vs->http_len; i++) {
    const struct resource_http_route *h = &vs->http[i];
    rpath_index(p, "spec.http", i);
    for (size_t m = 0; m < h->match_len; m++) {
      for (size_t g = 0; g < h->match[m].gateways.len; g++) {
        rpath_key(q, p, "match");
        rpath_index(s, q, m);
        rpath_key(q, s, "gateways");
        rpath_index(s, q, g);
        check_gateway_ref(a, r, h->match[m].gateways.items[g], h->match[m].gateways.pos[g], s);
      }
    }
    for (size_t d = 0; d < h->route_len; d++) {
      rpath_key(q, p, "route");
      rpath_index(s, q, d);
      rpath_key(q, s, "destination");
      check_destination(a, r, &h->route[d].destination, q);
    }
    if (h->mirror_present) {
      rpath_key(q, p, "mirror");
      check_destination(a, r, &h->mirror, q);
    }
  }
  for (size_t i = 0; i < vs->tcp_len; i++) {
    rpath_index(p, "spec.tcp", i);
    for (size_t d = 0; d < vs->tcp[i].route_len; d++) {
      rpath_key(q, p, "route");
      rpath_index(s, q, d);
      rpath_key(q, s, "destination");
      check_destination(a, r, &vs->tcp[i].route[d].destination, q);
    }
  }
}

/* A jwksUri is fetched by the sidecar: http:// through the mesh (a Service or ServiceEntry must
 * serve it), the rest through the lab, which reaches no host outside the machine and serves
 * only its own issuer (mesh/issuer.h). The GitHub URI of Istio's task pages thus leaves every
 * token of that issuer at 401 "Jwks remote fetch is failed". */
static void analyze_request_authentication(struct analyzer *a, const struct resource *r) {
  const struct resource_request_authentication *ra = &r->spec.request_authentication;
  for (size_t i = 0; i < ra->jwt_rules_len; i++) {
    const struct resource_jwt_rule *j = &ra->jwt_rules[i];
    if (!j->jwks_uri || strncmp(j->jwks_uri, "https://issuer.meshlab.local/", 29) == 0 ||
        strncmp(j->jwks_uri, "http://issuer.meshlab.local/", 28) == 0)
      continue;
    char path[64];
    snprintf(path, sizeof path, "spec.jwtRules[%zu].jwksUri", i);
    warn(a, r, j->pos, path,
         "RequestAuthentication %s/%s: %s %s (the lab reaches no host outside the machine; it serves only its "
         "own issuer's key set, https://issuer.meshlab.local/.well-known/jwks.json); if it cannot be fetched, tokens "
         "of issuer %s get 401 \"Jwks remote fetch is failed\". Put the key set inline with jwks: '<the JWKS JSON>' "
         "to work offline",
         r->meta.ns, r->meta.name,
         strncmp(j->jwks_uri, "http://", 7) == 0 ? "the sidecars fetch jwksUri through the mesh, which must route"
                                                 : "the lab cannot fetch jwksUri",
         j->jwks_uri, j->issuer ? j->issuer : "(any)");
  }
}

int resource_analyze(struct resource *const *items, size_t len, struct diag_list *diags) {
  struct analyzer a = {.items = items, .len = len, .diags = diags};
  for (size_t i = 0; i < len; i++)
    if (items[i]->kind == RESOURCE_VIRTUAL_SERVICE) analyze_virtual_service(&a, items[i]);
    else if (items[i]->kind == RESOURCE_REQUEST_AUTHENTICATION) analyze_request_authentication(&a, items[i]);
  return a.warnings;
}
