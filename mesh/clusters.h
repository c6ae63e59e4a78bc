/* The cluster manager: the sidecar's live upstream clusters, built from the pushed config and
 * kept across pushes.
 *
 * A pushed `struct proxy_config` (compile.h) says which clusters exist and their endpoints; the
 * manager turns each into a `struct cluster` whose hosts are `struct upstream`s with connection
 * pools and counters. On every push it reconciles by name and address, as Envoy's cluster
 * manager does: a host that stays keeps its pool and statistics; a host or cluster that goes
 * away is retired, its idle connections closed, and freed only once no request in flight and
 * no connection still uses it. So "requests in flight finish under the config they started
 * with" holds without copying anything per request.
 *
 * Picking a host goes through lb.c with each host's live active-request count.
 */
#ifndef MESH_CLUSTERS_H
#define MESH_CLUSTERS_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/compile.h"
#include "mesh/conn.h"
#include "mesh/lb.h"
#include "mesh/upstream.h"

struct cluster_manager;

struct cluster {
  char *name;                /* "outbound|9080|v2|reviews.default.svc.cluster.local" */
  enum xds_direction direction;
  char *service;             /* destination service FQDN, NULL for inbound */
  struct upstream **hosts;   /* owned */
  size_t nhosts;
  struct lb_host *lb_hosts;  /* the balancer's view of each host */
  struct lb lb;
  struct cluster_manager *cm;
  struct cluster *next_retired;
  int refs;                  /* requests in flight that picked it */
  unsigned retired : 1;
};

struct cluster_manager {
  struct conn_env *env;      /* borrowed */
  uint64_t *live_handles;    /* borrowed: the proxy's count of open handles */
  struct cluster **items;    /* live clusters, sorted by name */
  size_t len;
  struct cluster *retired;   /* removed clusters still referenced */
  struct upstream **retired_hosts; /* removed hosts with connections or requests left */
  size_t nretired_hosts, retired_cap;
};

void cluster_manager_init(struct cluster_manager *cm, struct conn_env *env, uint64_t *live_handles);
/* Reconciles the live clusters with cfg's (borrowed). Returns 0 or -ENOMEM (the manager is then
 * left consistent, possibly half updated; the caller keeps the old config and retries). */
int cluster_manager_apply(struct cluster_manager *cm, const struct proxy_config *cfg);
/* The live cluster called name, or NULL. */
struct cluster *cluster_manager_find(const struct cluster_manager *cm, const char *name);
/* Picks a host of c with its load balancer. hash: the request's consistent-hash key or NULL.
 * On LB_PICKED sets *out and takes a reference on the host and on c for the caller, released
 * with cluster_release. Fills *pick (the balancer's reasoning) when not NULL. */
enum lb_verdict cluster_pick(struct cluster *c, const uint64_t *hash, struct rng *rng, struct upstream **out,
                             struct lb_pick *pick);
/* Drops the references cluster_pick took. */
void cluster_release(struct cluster *c, struct upstream *up);
/* Frees retired hosts and clusters nothing uses any more (cheap when there are none). */
void cluster_manager_collect(struct cluster_manager *cm);
/* Closes every pooled idle connection (drain). */
void cluster_manager_close_idle(struct cluster_manager *cm);
/* Frees everything; every connection must be closed. */
void cluster_manager_free(struct cluster_manager *cm);

#endif
