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

#include "mesh/breaker.h"
#include "mesh/compile.h"
#include "mesh/conn.h"
#include "mesh/lb.h"
#include "mesh/outlier.h"
#include "mesh/upstream.h"

struct cluster_manager;

/* A request waiting in a cluster's pending queue for a connection to its host (the proxy
 * embeds one in each exchange). FIFO, as Envoy's pending request list. */
struct pool_waiter {
  struct pool_waiter *next, *prev;
  struct upstream *up; /* the host it waits for (picked, referenced by the waiter's owner) */
  bool queued;
};

struct cluster {
  char *name; /* "outbound|9080|v2|reviews.default.svc.cluster.local" */
  enum xds_direction direction;
  char *service;           /* destination service FQDN, NULL for inbound */
  struct upstream **hosts; /* owned */
  size_t nhosts;
  struct lb_host *lb_hosts; /* the balancer's view of each host */
  struct lb lb;
  struct cluster_manager *cm;
  struct cluster *next_retired;
  int refs; /* requests in flight that picked it */
  unsigned retired : 1;
  /* Resilience state of this caller toward this cluster, kept across pushes. */
  struct breaker breaker;            /* connection-pool limits and counters (limits from the push) */
  struct outlier_config outlier_cfg; /* outbound only: Istio applies outlierDetection client side */
  struct outlier_host *outlier;      /* one per host, parallel to hosts */
  struct outlier_stats outlier_stats;
  int64_t next_sweep_ms;                      /* loop time of the next outlier interval sweep; 0 = none */
  struct pool_waiter *waiters, *waiters_tail; /* the pending queue */
  unsigned dispatching : 1, dispatch_again : 1;
  unsigned outlier_reset : 1; /* the last push changed outlierDetection: hosts start clean */
  uint64_t reported_mark;     /* cluster_change_mark at the last telemetry report (report.c) */
};

struct cluster_manager {
  struct conn_env *env;   /* borrowed */
  uint64_t *live_handles; /* borrowed: the proxy's count of open handles */
  struct cluster **items; /* live clusters, sorted by name */
  size_t len;
  struct cluster *retired;         /* removed clusters still referenced */
  struct upstream **retired_hosts; /* removed hosts with connections or requests left */
  size_t nretired_hosts, retired_cap;
  /* Called when a host's connection goes back to the pool or closes: a request waiting for
   * a connection may now get one. Set by the owner (the proxy). */
  void (*on_capacity)(struct cluster_manager *cm, struct upstream *up);
  /* Called when outlier detection ejects a host of c or brings hosts back (the sweep): the
   * owner tells its telemetry, so the lab hears of it even if no request follows. Optional. */
  void (*on_outlier_change)(struct cluster_manager *cm, struct cluster *c);
  void *data;
  struct tls_ctx *const *identity; /* borrowed: the owner's identity slot (upstream.h), or NULL */
  struct cluster *passthrough;     /* PassthroughCluster, made on first use; never in items */
};

/* Istio's PassthroughCluster (outboundTrafficPolicy ALLOW_ANY): an Envoy ORIGINAL_DST cluster,
 * whose hosts are not pushed but made on demand, one per original destination address, and
 * dropped once unused for CLUSTER_PASSTHROUGH_IDLE_MS (Envoy's cleanup_interval default, 5 s).
 * Never mTLS: the destination is outside the mesh's registry. At most
 * CLUSTER_PASSTHROUGH_MAX_HOSTS hosts at a time; when all are in use a new address waits for
 * none and is refused. */
#define CLUSTER_PASSTHROUGH_MAX_HOSTS 64
#define CLUSTER_PASSTHROUGH_IDLE_MS 5000

/* The host for addr in the PassthroughCluster (made, or an existing one), with a reference on
 * it and on the cluster for the caller as cluster_pick takes (released with cluster_release).
 * now_ms: the loop time, for the idle cleanup. Returns 0 and *c, *up; -EBUSY when every host
 * slot is held by a request in flight; -ENOMEM. */
int cluster_manager_passthrough(struct cluster_manager *cm, const struct conn_addr *addr, int64_t now_ms,
                                struct cluster **c, struct upstream **up);

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
/* The index of up among c's hosts, or -1 (a host retired by a push). */
int cluster_host_index(const struct cluster *c, const struct upstream *up);
/* Open or connecting connections, and active requests, over c's hosts: the counts the
 * breaker compares with maxConnections and http2MaxRequests. */
uint32_t cluster_connections(const struct cluster *c);
uint32_t cluster_active_requests(const struct cluster *c);
/* Refreshes c->breaker's live counts (connections, active requests) from the hosts. */
void cluster_breaker_sync(struct cluster *c);
/* Hosts not ejected and healthy. */
size_t cluster_available_hosts(const struct cluster *c);
/* Adds w (for host up) at the tail of c's pending queue / removes it (no-op if not queued). */
void cluster_wait(struct cluster *c, struct pool_waiter *w, struct upstream *up);
void cluster_unwait(struct cluster *c, struct pool_waiter *w);
/* Reports one try's result to c's outlier detector (outbound clusters with outlierDetection;
 * a no-op otherwise) and marks the host ejected for the balancer when it is. */
enum outlier_verdict cluster_outlier_report(struct cluster *c, struct upstream *up, enum outlier_result_kind kind,
                                            int status, int64_t now_ms);
/* A hash of c's counters and live state (per-host requests, errors and connections, the
 * breaker's counts and overflows, ejections): it differs whenever something a telemetry
 * report shows has moved; 0 while nothing has used the cluster. O(hosts), no allocation;
 * taken at report time, never per request. */
uint64_t cluster_change_mark(const struct cluster *c);
/* Hosts of c ejected by outlier detection now. */
size_t cluster_ejected_hosts(const struct cluster *c);
/* The interval sweep over every cluster due by now; returns the loop time of the next sweep
 * (0: no cluster has outlier detection). */
int64_t cluster_manager_sweep(struct cluster_manager *cm, int64_t now_ms);
/* Frees retired hosts and clusters nothing uses any more (cheap when there are none). */
void cluster_manager_collect(struct cluster_manager *cm);
/* Closes every pooled idle connection (drain). */
void cluster_manager_close_idle(struct cluster_manager *cm);
/* Frees everything; every connection must be closed. */
void cluster_manager_free(struct cluster_manager *cm);

#endif
