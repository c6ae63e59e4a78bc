/* breaker: the connection-pool circuit breakers of one cluster in one caller (see breaker.h).
 *
 * The connection decision is Envoy's ConnPoolImplBase::newStreamImpl followed by
 * tryCreateNewConnection:
 *   1. a ready (idle) connection takes the request at once, whatever the limits;
 *   2. otherwise the request must become pending: if the pending resource is full it fails
 *      with Overflow (upstream_rq_pending_overflow, 503 UO);
 *   3. once pending, the pool opens a connection if the cluster's connection resource allows,
 *      or if this host has no connection at all ("always create one, to prevent pending streams
 *      being queued to this upstream with no way to be processed"); each time the resource says
 *      no, upstream_cx_overflow counts, even when the host gets its one connection anyway;
 *   4. otherwise the request waits for a busy connection to finish.
 * Envoy also skips opening a connection when one already connecting has room for the request;
 * the proxy, which knows its connecting connections, handles that case.
 */
#include "mesh/breaker.h"

void breaker_limits_from_policy(const struct resource_connection_pool *cp, struct breaker_limits *out) {
  *out = (struct breaker_limits){
      .max_connections = UINT32_MAX,
      .max_pending = UINT32_MAX,
      .max_requests = UINT32_MAX,
      .max_retries = UINT32_MAX,
      .max_requests_per_connection = 0,
      .connect_timeout_ms = 10000,
  };
  if (!cp || !cp->present) return;
  /* Istio's cluster builder copies each limit only when > 0 (its FIXME: it cannot tell 0 from
   * unset), so an explicit 0 means Istio's 2^32-1, never Envoy's "refuse everything". */
  if (cp->tcp.present) {
    if (cp->tcp.max_connections.value > 0) out->max_connections = cp->tcp.max_connections.value;
    if (cp->tcp.connect_timeout.set && cp->tcp.connect_timeout.ms > 0)
      out->connect_timeout_ms = cp->tcp.connect_timeout.ms;
  }
  if (cp->http.present) {
    if (cp->http.http1_max_pending_requests.value > 0) out->max_pending = cp->http.http1_max_pending_requests.value;
    if (cp->http.http2_max_requests.value > 0) out->max_requests = cp->http.http2_max_requests.value;
    if (cp->http.max_retries.value > 0) out->max_retries = cp->http.max_retries.value;
    out->max_requests_per_connection = cp->http.max_requests_per_connection.value;
  }
}

enum breaker_verdict breaker_admit_request(struct breaker *b) {
  if (b->rq_active < b->limits.max_requests) return BREAKER_ADMIT;
  /* Envoy's router counts a max_requests refusal under upstream_rq_pending_overflow too. */
  b->rq_pending_overflow++;
  return BREAKER_OVERFLOW;
}

enum breaker_connect breaker_connection(struct breaker *b, bool host_has_idle, uint32_t host_connections) {
  if (host_has_idle) return BREAKER_USE_IDLE;
  if (b->rq_pending >= b->limits.max_pending) {
    b->rq_pending_overflow++;
    return BREAKER_PENDING_OVERFLOW;
  }
  if (b->cx_active < b->limits.max_connections) return BREAKER_CONNECT;
  b->cx_overflow++;
  return host_connections == 0 ? BREAKER_CONNECT : BREAKER_QUEUE;
}

enum breaker_verdict breaker_admit_retry(struct breaker *b) {
  if (b->rq_retry_active < b->limits.max_retries) return BREAKER_ADMIT;
  b->rq_retry_overflow++;
  return BREAKER_OVERFLOW;
}

bool breaker_connection_reusable(const struct breaker *b, uint32_t requests) {
  return b->limits.max_requests_per_connection == 0 || requests < b->limits.max_requests_per_connection;
}
