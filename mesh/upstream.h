/* Upstream endpoints and their connection pools.
 *
 * A `struct upstream` is one endpoint of a cluster (an address the proxy connects to) with its
 * pool of idle keep-alive connections and Envoy's per-host counters (the numbers /clusters
 * prints). A `struct upstream_conn` is one connection to it: handed to an exchange by
 * upstream_acquire (reused when one is idle, else newly connecting) and given back with
 * upstream_release, which pools it when it can carry another request and closes it otherwise.
 * While pooled, a connection watches its socket: the origin closing it removes it from the pool.
 */
#ifndef MESH_UPSTREAM_H
#define MESH_UPSTREAM_H

#include <stdint.h>

#include "mesh/conn.h"
#include "mesh/telemetry.h"

struct cluster;
struct tls_ctx;

/* Envoy's per-host statistics (admin /clusters names). */
struct upstream_stats {
  uint64_t cx_total, cx_active, cx_connect_fail, cx_idle;
  uint64_t rq_total, rq_active, rq_success, rq_error, rq_timeout;
};

struct upstream_conn;

struct upstream {
  struct conn_addr addr;
  struct cluster *cluster;    /* borrowed: the cluster this endpoint belongs to */
  struct conn_env *env;       /* borrowed */
  struct upstream_conn *idle; /* pooled connections, most recently used first */
  struct upstream_stats stats;
  uint32_t max_idle;      /* pool size bound (connections beyond it are closed) */
  int refs;               /* requests in flight that picked it (clusters.c) */
  int64_t used_ms;        /* PassthroughCluster hosts: loop time of the last request (clusters.c) */
  struct peer peer;       /* the workload behind it, for Istio's destination_* labels */
  char replica[48];       /* the replica behind it ("reviews-v2-0"), "" outside the mesh */
  uint64_t *live_handles; /* borrowed counter the owner uses to know when all closed */
  /* Fires when a connection of this host goes back to the pool or finishes closing, so a
   * request waiting for a connection can be given one (clusters.c sets it). */
  void (*on_capacity)(struct upstream *up);
  void *capacity_data;
  /* mTLS: when `tls` is set and the owner holds an identity (*identity non-NULL), new
   * connections originate TLS with it (clusters.c sets both from the pushed endpoint). Pooled
   * connections of the other kind are not reused after a push changes it. */
  unsigned tls : 1;
  struct tls_ctx *const *identity; /* borrowed: the proxy's current identity slot */
  char expected_id[160];           /* the SPIFFE ID the endpoint must present, "" for any */
};

struct upstream_conn {
  struct conn conn;
  struct upstream *up;
  struct upstream_conn *next, *prev; /* idle list links */
  void *owner;                       /* the exchange using it, NULL while idle */
  uint32_t requests;                 /* requests sent over it */
  unsigned idle : 1, connected : 1;
};

/* Initialises an endpoint at addr (copied); up->cluster is set by the caller. */
void upstream_init(struct upstream *up, struct conn_env *env, const struct conn_addr *addr, uint64_t *live_handles);

/* Gets a connection for owner: a pooled one (*reused = 1) or a new one that is connecting
 * (*reused = 0; on_connect fires when it is up or failed). The caller sets c->conn.on_read,
 * on_drain and on_close handling through upstream_conn callbacks before returning to the
 * loop. Returns 0 or a negative libuv error (no connection then). */
int upstream_acquire(struct upstream *up, void *owner, conn_connect_cb on_connect, struct upstream_conn **out,
                     int *reused);

/* Gives a connection back. With reusable set and room in the pool it becomes idle; otherwise
 * it is closed (and freed once closed). The caller must not touch uc afterwards. */
void upstream_release(struct upstream_conn *uc, int reusable);

/* Closes every pooled connection (used when the proxy drains). */
void upstream_close_idle(struct upstream *up);

#endif
