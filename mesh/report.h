/* The sidecar's side of the telemetry sink: reports what its Istio metrics counted to the lab.
 *
 *   POST /v1/report?node=NS%2FREPLICA      application/json, answered 204
 *
 * Requests are counted by telemetry.c as they finish (one hash lookup, a few adds); this
 * module only reads the aggregates. The first request after a report marks the telemetry
 * dirty, which arms a one-shot timer; REPORT_INTERVAL_MS later the agent takes the deltas of
 * every series that changed and the sampled request records, and POSTs them on one keep-alive
 * connection (http_client). An idle sidecar has no timer armed and sends nothing, which keeps
 * a hundred idle sidecars far under the CPU budget of ../shared/DESIGN.md.
 *
 * At most one report is in flight: if the timer fires while one is, the next is taken when it
 * finishes (the counts keep accumulating in the meantime). A report that fails (lab down, a
 * timeout, a non-2xx answer) is dropped with its deltas, never retried: the lab shows a gap,
 * as Prometheus does after a failed scrape, rather than a burst of stale reports later.
 *
 * The body (docs/telemetry.md, "The telemetry sink"):
 *   {"node":"default/reviews-v1-0","interval_ms":250,
 *    "series":[{"reporter":"source","source_workload":"productpage-v1","source_version":"v1",
 *               "destination_workload":"reviews-v3","destination_version":"v3",
 *               "destination_service":"reviews.default.svc.cluster.local",
 *               "connection_security_policy":"unknown","response_code":200,
 *               "response_flags":0,"requests":12,"duration_buckets":[0,0,3,9,0,...]}],
 *    "requests":[{"request_id":"...","time_ms":1764130000123,"reporter":"source","method":"GET",
 *                 "path":"/reviews/0","authority":"reviews:9080","response_code":200,
 *                 "response_flags":0,"duration_ms":4.2,"upstream_host":"127.1.150.7:9080",
 *                 "source_workload":"productpage-v1",
 *                 "destination_service":"reviews.default.svc.cluster.local"}],
 *    "clusters":[{"name":"outbound|8000||httpbin.default.svc.cluster.local","direction":"outbound",
 *                 "service":"httpbin.default.svc.cluster.local",
 *                 "limits":{"max_connections":1,"max_pending_requests":1,"max_requests":4294967295,
 *                           "max_retries":4294967295,"max_requests_per_connection":1},
 *                 "cx_active":1,"rq_pending_active":1,"rq_active":1,"rq_retry_active":0,
 *                 "upstream_cx_overflow":12,"upstream_rq_pending_overflow":9,"upstream_rq_retry_overflow":0,
 *                 "outlier":{"enabled":false,"consecutive_5xx":0,"consecutive_gateway_errors":0,
 *                            "interval_ms":0,"base_ejection_ms":0,"max_ejection_percent":0,
 *                            "ejections_active":0,"ejections_total":0,"ejections_overflow":0},
 *                 "hosts":[{"address":"127.1.150.9:8000","replica":"httpbin-0","rq_active":1,"cx_active":1,
 *                           "rq_total":31,"rq_error":0,"health":"healthy","consecutive_5xx":0,
 *                           "consecutive_gateway_errors":0,"ejected":false,"ejection_remaining_ms":0,
 *                           "times_ejected":0}]}]}
 * duration_buckets has STATS_NBUCKETS + 1 entries: Envoy's bounds (stats.h), then the
 * requests above the last one. response_flags is the bit set of flags.h.
 *
 * "clusters" is the caller's connection-pool and outlier state, what its /clusters prints
 * (admin.c), for the clusters that changed since the last report: each cluster's
 * cluster_change_mark (a hash of its counters and live counts) is compared with the one taken
 * at the last report, so nothing is formatted or tracked per request. A cluster nothing has
 * used is never sent. A cluster with a host ejected is sent in every report while the host
 * stays out, and the agent keeps reporting every REPORT_INTERVAL_MS meanwhile, so the lab's
 * countdown stays fresh; an ejection or a return makes the telemetry dirty through the
 * cluster manager's on_outlier_change hook (proxy.c), so the lab hears of it even when no
 * request follows. health is "healthy", "ejected" (outlier detection) or "unhealthy" (the
 * endpoint's readiness); ejection_remaining_ms is counted from when the report was built.
 */
#ifndef MESH_REPORT_H
#define MESH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "mesh/buf.h"
#include "mesh/client.h"
#include "mesh/clusters.h"
#include "mesh/telemetry.h"

#define REPORT_INTERVAL_MS 250
#define REPORT_TIMEOUT_MS 2000

struct report_agent {
  struct http_client client;
  uv_timer_t timer;
  struct telemetry *t;        /* borrowed: the proxy's */
  struct cluster_manager *cm; /* borrowed: the proxy's clusters, NULL: none reported */
  char url[512];              /* "http://HOST:PORT/v1/report?node=NS%2FREPLICA" */
  char node[256];
  uint64_t sent, failed; /* reports answered 2xx; reports dropped */
  unsigned armed : 1, in_flight : 1, stopping : 1;
  int open; /* handles and client still open */
  void (*on_stopped)(struct report_agent *a);
  void *data; /* the owner's */
};

/* Starts reporting t's deltas and cm's changed clusters (cm may be NULL) to the lab API at
 * server ("HOST:PORT") as node ("NS/REPLICA"), on env's loop. Borrows env, t and cm (all must
 * outlive the agent); takes over t's on_dirty hook. Returns 0 or -EINVAL (server is not
 * HOST:PORT), -ENAMETOOLONG. */
int report_start(struct report_agent *a, struct conn_env *env, struct telemetry *t, struct cluster_manager *cm,
                 const char *server, const char *node);
/* Stops: a report in flight is cancelled (and dropped), the hook is removed, every handle is
 * closed; on_stopped fires when done. */
void report_stop(struct report_agent *a, void (*on_stopped)(struct report_agent *a));
/* Appends the report body for t's current deltas and samples and cm's changed clusters (cm
 * may be NULL; now_ms is the loop time the ejection countdowns are taken at) to out, and marks
 * them reported. Returns the number of series plus clusters in it; 0 means nothing changed
 * (out then holds an empty report, which the agent does not send). Exposed for tests. */
size_t report_build(struct buf *out, struct telemetry *t, struct cluster_manager *cm, const char *node, int64_t now_ms);
/* Whether a host of cm is ejected now: the agent then keeps reporting. */
bool report_has_ejections(const struct cluster_manager *cm);

#endif
