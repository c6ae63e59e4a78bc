/* router: the sidecar's routing decision for one request (Envoy's router filter and route
 * matching, as Istio configures them).
 *
 * Where it sits: after the request head is parsed (http.c) and before policy and load
 * balancing (lb.c, then the resilience code) pick an endpoint. Given the proxy's current
 * proxy_config (compile.h) it answers: which virtual host (by Host, hashed, case-insensitive,
 * port stripped), which VirtualService rule (first match wins), which weighted destination
 * (drawn from the caller's seeded rng), which cluster; or a verdict that becomes a local reply:
 *
 *   ROUTER_ROUTE            forward to decision.cluster
 *   ROUTER_NO_ROUTE         404, response flag NR: no rule matched, or no virtual host where
 *                           there is no catch-all (inbound, gateways)
 *   ROUTER_NO_CLUSTER       503, response flag NC: the destination's cluster (subset) does not exist
 *   ROUTER_REDIRECT         answer with the rule's redirect (decision.route->redirect)
 *   ROUTER_DIRECT_RESPONSE  answer with the rule's direct response
 *   ROUTER_PASSTHROUGH      a sidecar's outbound host no vhost serves, outboundTrafficPolicy
 *                           ALLOW_ANY: Istio's "allow_any" catch-all route to PassthroughCluster,
 *                           the request's own authority (host:port) as the destination
 *   ROUTER_BLACKHOLE        the same host with REGISTRY_ONLY: Istio's "block_all" route, a
 *                           direct response 502 with no body and no response flag
 *
 * Pure: no I/O, no clock, no allocation; the decision borrows from the config (valid as long as
 * the config is) and records what matched and why, for the per-request decision trace.
 */
#ifndef MESH_ROUTER_H
#define MESH_ROUTER_H

#include <stdint.h>

#include "mesh/buf.h"
#include "mesh/compile.h"
#include "mesh/http.h"
#include "mesh/rand.h"

enum router_verdict {
  ROUTER_ROUTE,
  ROUTER_NO_ROUTE,
  ROUTER_NO_CLUSTER,
  ROUTER_REDIRECT,
  ROUTER_DIRECT_RESPONSE,
  ROUTER_PASSTHROUGH,
  ROUTER_BLACKHOLE,
};

/* Istio's names for the catch-all of a sidecar's outbound route config (the route names its
 * telemetry keys destination_service_name on: istio/proxy extensions/common/context.cc), and
 * the clusters they stand for. */
#define ROUTER_PASSTHROUGH_ROUTE "allow_any"
#define ROUTER_PASSTHROUGH_CLUSTER "PassthroughCluster"
#define ROUTER_BLACKHOLE_ROUTE "block_all"
#define ROUTER_BLACKHOLE_CLUSTER "BlackHoleCluster"

struct router_request {
  enum xds_direction direction; /* sidecars: which listener; ignored by gateway configs */
  struct slice authority;       /* Host (or the absolute-form target's authority), may carry ":port" */
  struct slice path;            /* origin-form target "/p?q" */
  struct slice method;
  struct slice scheme;          /* empty: "http" */
  const struct http_head *head; /* request headers; NULL = none */
  /* The listener's port: the inbound port, or the Gateway server port (80 even when the lab
   * maps it to 8080). Outbound (explicit proxy): 0, the port comes from the authority. */
  uint32_t port;
  /* The calling workload's labels for sourceLabels matches; NULL = the config's own labels
   * (a sidecar's outbound traffic comes from its workload). Borrowed. */
  const struct resource_map *source_labels;
};

struct route_decision {
  enum router_verdict verdict;
  const struct xds_route_config *route_config; /* NULL: no listener config for this request */
  const struct xds_vhost *vhost;               /* NULL with NR for an unknown host */
  const struct xds_route *route;               /* the rule that matched */
  int match_index;                             /* its match block; -1 when it has none */
  const struct xds_destination *destination;   /* the weighted pick */
  const struct xds_cluster *cluster;           /* NULL unless ROUTE */
  uint32_t port;                               /* the port the lookup used (0: none) */
  uint64_t draw, total_weight;                 /* the weighted draw (draw < total_weight) */
  char why[320];                               /* one line for logs and `meshlab why` */
};

/* Routes req with cfg. Borrows everything; draws from rng only when a rule has several weighted
 * destinations (so the same seed gives the same picks). Fills *out and returns its verdict. */
enum router_verdict router_route(const struct proxy_config *cfg, const struct router_request *req, struct rng *rng,
                                 struct route_decision *out);

/* "ROUTE", "NO_ROUTE" ... */
const char *router_verdict_name(enum router_verdict v);
/* Envoy's response flag for a verdict: "NR", "NC", or NULL when there is none. */
const char *router_verdict_flag(enum router_verdict v);
/* The status of the local reply: 404 (NR), 503 (NC), 502 (blackhole); 0 for verdicts that carry
 * their own or forward. */
int router_verdict_status(enum router_verdict v);

/* The original destination of a ROUTER_PASSTHROUGH request: the authority's host and port (80,
 * http's, when it names none) written "HOST:PORT" ("[v6]:PORT") into out for conn_addr_parse.
 * Returns 0, or -EINVAL when the host is empty or does not fit. */
int router_original_destination(struct slice authority, char *out, size_t n);

/* The raw (not percent-decoded) value of query parameter `name` in path ("/p?a=1&b"); a
 * parameter without "=" has an empty value. Returns 1 and *value (borrowing path) or 0. */
int router_query_param(struct slice path, const char *name, struct slice *value);

#endif
