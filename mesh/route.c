/* Route tables and clusters: see route.h. */
#include "mesh/route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cluster *route_add_cluster(struct route_table *t, const char *name, size_t max_clusters) {
  if (!t->clusters) {
    t->clusters = calloc(max_clusters, sizeof *t->clusters);
    if (!t->clusters) return NULL;
  }
  if (t->nclusters >= max_clusters) return NULL;
  struct cluster *c = &t->clusters[t->nclusters++];
  snprintf(c->name, sizeof c->name, "%s", name);
  return c;
}

int route_add_endpoint(struct cluster *c, struct conn_env *env, const struct conn_addr *addr, uint64_t *live_handles,
                       size_t max_endpoints) {
  if (!c->endpoints) {
    c->endpoints = calloc(max_endpoints, sizeof *c->endpoints);
    if (!c->endpoints) return -ENOMEM;
  }
  if (c->nendpoints >= max_endpoints) return -ENOSPC;
  struct upstream *up = &c->endpoints[c->nendpoints++];
  upstream_init(up, env, addr, live_handles);
  up->cluster = c;
  return 0;
}

int route_add_vhost(struct route_table *t, const char *const *domains, size_t n, struct cluster *c) {
  struct route_vhost *v = realloc(t->vhosts, (t->nvhosts + 1) * sizeof *v);
  if (!v) return -ENOMEM;
  t->vhosts = v;
  v = &t->vhosts[t->nvhosts];
  v->domains = calloc(n ? n : 1, sizeof *v->domains);
  if (!v->domains) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    v->domains[i] = strdup(domains[i]);
    if (!v->domains[i]) return -ENOMEM;
  }
  v->ndomains = n;
  v->cluster = c;
  t->nvhosts++;
  return 0;
}

struct cluster *route_match(const struct route_table *t, struct slice authority) {
  /* Strip the port: "reviews:9080" and "reviews" name the same service. */
  struct slice host = authority;
  if (host.n && host.p[0] != '[') {
    const char *colon = memchr(host.p, ':', host.n);
    if (colon) host.n = (size_t)(colon - host.p);
  }
  for (size_t i = 0; i < t->nvhosts; i++) {
    const struct route_vhost *v = &t->vhosts[i];
    for (size_t d = 0; d < v->ndomains; d++)
      if (strcmp(v->domains[d], "*") == 0 || slice_eq_str_nocase(host, v->domains[d])) return v->cluster;
  }
  return NULL;
}

struct upstream *cluster_pick(struct cluster *c) {
  if (c->nendpoints == 0) return NULL;
  struct upstream *up = &c->endpoints[c->rr_next % c->nendpoints];
  c->rr_next++;
  return up;
}

void route_table_free(struct route_table *t) {
  for (size_t i = 0; i < t->nvhosts; i++) {
    for (size_t d = 0; d < t->vhosts[i].ndomains; d++) free(t->vhosts[i].domains[d]);
    free(t->vhosts[i].domains);
  }
  free(t->vhosts);
  for (size_t i = 0; i < t->nclusters; i++) free(t->clusters[i].endpoints);
  free(t->clusters);
  memset(t, 0, sizeof *t);
}
