/* breaker: the connection-pool circuit breakers of one cluster in one calling sidecar,
 * Envoy's as Istio configures them from DestinationRule `connectionPool`.
 *
 * Where it sits: the proxy asks before a request takes an upstream (breaker_admit_request:
 * http2MaxRequests, the active requests of the cluster), then how to get it a connection
 * (breaker_connection: an idle one, a new one within tcp.maxConnections, a wait in the pending
 * queue within http1MaxPendingRequests, or overflow), and before a retry (breaker_admit_retry:
 * maxRetries). Every refusal is a local 503 with flag UO and `x-envoy-overloaded: true`.
 * Envoy's rules kept here: a host picked by the balancer always gets one connection even when
 * the cluster is at maxConnections; a request waiting for a connection that is still
 * connecting counts as pending; maxRequestsPerConnection closes a connection after that many
 * requests (1 turns keep-alive off). Limits are per cluster, per caller; nothing is shared
 * between sidecars.
 *
 * Pure accounting: the proxy keeps the counters current and asks; no I/O.
 */
#ifndef MESH_BREAKER_H
#define MESH_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/resource.h"

struct breaker_limits {
  uint32_t max_connections;             /* tcp.maxConnections, 2^32-1 */
  uint32_t max_pending;                 /* http.http1MaxPendingRequests, 2^32-1 */
  uint32_t max_requests;                /* http.http2MaxRequests, 2^32-1 */
  uint32_t max_retries;                 /* http.maxRetries, 2^32-1 */
  uint32_t max_requests_per_connection; /* 0 = unlimited */
  int64_t connect_timeout_ms;           /* tcp.connectTimeout, 10 s */
};

/* Fills out from a connectionPool with Istio's defaults (cp NULL or not present: defaults).
 * As Istio's cluster builder does, an explicit 0 for maxConnections, http1MaxPendingRequests,
 * http2MaxRequests or maxRetries keeps the 2^32-1 default (Istio cannot tell 0 from unset). */
void breaker_limits_from_policy(const struct resource_connection_pool *cp, struct breaker_limits *out);

/* Live counts and overflow counters of one cluster (Envoy's stat names in comments). */
struct breaker {
  struct breaker_limits limits;
  uint32_t cx_active;           /* upstream_cx_active: open or connecting connections */
  uint32_t rq_pending;          /* upstream_rq_pending_active: waiting for a connection */
  uint32_t rq_active;           /* upstream_rq_active */
  uint32_t rq_retry_active;     /* retries in flight (waiting out backoff or running) */
  uint64_t cx_overflow;         /* upstream_cx_overflow: a connection wanted beyond maxConnections */
  uint64_t rq_pending_overflow; /* upstream_rq_pending_overflow (pending queue and max requests) */
  uint64_t rq_retry_overflow;   /* upstream_rq_retry_overflow */
};

enum breaker_verdict {
  BREAKER_ADMIT,
  BREAKER_OVERFLOW,
};

/* How a request admitted to the cluster gets a connection to its host. */
enum breaker_connect {
  BREAKER_USE_IDLE,         /* an idle pooled connection to the host */
  BREAKER_CONNECT,          /* open a new one (counts as pending until it is up) */
  BREAKER_QUEUE,            /* wait in the pending queue for a connection to come free */
  BREAKER_PENDING_OVERFLOW, /* queue full: 503 UO */
};

/* http2MaxRequests: admits when rq_active < max_requests; counts an overflow otherwise. */
enum breaker_verdict breaker_admit_request(struct breaker *b);
/* Chooses how to connect, in Envoy's order: an idle connection when the host has one; else,
 * when the pending queue is full (rq_pending >= max_pending), overflow (counted); else a new
 * connection when cx_active < max_connections or the host has none at all (host_connections
 * == 0); else wait in the queue. A request waiting on a new connection counts as pending until
 * the connection is up, so with maxConnections 1 and http1MaxPendingRequests 1 a second
 * concurrent request overflows while the first one's connection is still connecting.
 * Counts rq_pending_overflow on overflow and, as Envoy's pool does, cx_overflow whenever the
 * cluster is at max_connections and no idle connection serves (also when the host gets its one
 * connection anyway). Changes no live count: the proxy adds the pending request itself. */
enum breaker_connect breaker_connection(struct breaker *b, bool host_has_idle, uint32_t host_connections);
/* maxRetries: admits when rq_retry_active < max_retries; counts an overflow otherwise. */
enum breaker_verdict breaker_admit_retry(struct breaker *b);
/* Whether a connection that has carried `requests` requests may go back to the pool. */
bool breaker_connection_reusable(const struct breaker *b, uint32_t requests);

#endif
