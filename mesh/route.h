/* Routes and clusters: which upstream endpoints a request goes to.
 *
 * A `struct cluster` is Envoy's unit of upstream: a named set of endpoints and the policy for
 * picking among them (round robin until the resilience work brings LEAST_REQUEST and the
 * others). A `struct route_table` maps a request's authority (Host, without port, matched
 * case-insensitively, exact names or "*") to a cluster, the way Envoy's virtual hosts do; a
 * single-cluster table (the one-hop proxy, a sidecar's inbound side) matches everything. The
 * VirtualService compiler of the control plane produces richer tables over this seam.
 */
#ifndef MESH_ROUTE_H
#define MESH_ROUTE_H

#include <stddef.h>

#include "mesh/buf.h"
#include "mesh/upstream.h"

struct cluster {
  char name[160];            /* Envoy/Istio style: "outbound|9080||reviews.default.svc.cluster.local" */
  struct upstream *endpoints;
  size_t nendpoints;
  size_t rr_next;
};

struct route_vhost {
  char **domains; /* owned; "*" matches any */
  size_t ndomains;
  struct cluster *cluster; /* borrowed from the table's clusters */
};

struct route_table {
  struct cluster *clusters; /* owned */
  size_t nclusters;
  struct route_vhost *vhosts; /* owned, first match wins */
  size_t nvhosts;
};

/* Adds a cluster named name with no endpoints; returns it (owned by t) or NULL. Pointers to
 * clusters stay valid: the table is built whole before use and never grows afterwards. */
struct cluster *route_add_cluster(struct route_table *t, const char *name, size_t max_clusters);
/* Adds an endpoint to c; returns 0 or -ENOMEM. */
int route_add_endpoint(struct cluster *c, struct conn_env *env, const struct conn_addr *addr, uint64_t *live_handles,
                       size_t max_endpoints);
/* Adds a virtual host matching the given domains (copied); returns 0 or -ENOMEM. */
int route_add_vhost(struct route_table *t, const char *const *domains, size_t n, struct cluster *c);

/* Returns the cluster for an authority ("reviews:9080" or "reviews"), or NULL (no route). */
struct cluster *route_match(const struct route_table *t, struct slice authority);
/* Picks the next endpoint of c (round robin); NULL when it has none. */
struct upstream *cluster_pick(struct cluster *c);

/* Frees the table's memory; endpoints must have no open connections. */
void route_table_free(struct route_table *t);

#endif
