/* outlier: outlier detection per calling sidecar and destination cluster, Envoy's
 * consecutive-errors detector as Istio configures it from DestinationRule `outlierDetection`.
 *
 * Where it sits: the proxy reports the result of every try to the cluster's detector
 * (outlier_report); when a host's consecutive 5xx (or gateway errors: 502, 503, 504) reach the
 * threshold it is ejected on the spot, if the ejection cap allows (maxEjectionPercent, checked
 * against the hosts ejected *before* this one, so one host can always be ejected). The load
 * balancer then skips it (lb_host.ejected). A timer every `interval` calls outlier_tick: hosts
 * whose ejection time has passed come back, and a host that stayed in has its ejection
 * multiplier decremented. Ejection lasts baseEjectionTime x (times ejected), capped at
 * max(300 s, baseEjectionTime) (Envoy's max_ejection_time as Istio raises it).
 *
 * Local-origin failures (connect failure, timeout, reset) count as 5xx unless
 * splitExternalLocalOriginErrors is set (Envoy maps a connect failure to 503 and a timeout to
 * 504); with it set they count on their own against consecutiveLocalOriginFailures. Any other
 * response (1xx-4xx) resets the host's consecutive counts.
 *
 * State is per caller: another sidecar keeps its own detector and still reaches the host.
 * Pure: now is passed in; no I/O.
 */
#ifndef MESH_OUTLIER_H
#define MESH_OUTLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/resource.h"

struct outlier_config {
  bool enabled;                    /* outlierDetection present */
  uint32_t consecutive_5xx;        /* 0: this detector off */
  uint32_t consecutive_gateway;    /* 0: off (Istio's default) */
  uint32_t consecutive_local_origin; /* with split_local_origin */
  bool split_local_origin;
  int64_t interval_ms;             /* 10 s */
  int64_t base_ejection_ms;        /* 30 s */
  int64_t max_ejection_ms;         /* max(300 s, base) */
  uint32_t max_ejection_percent;   /* 10 */
};

/* Fills out from a DestinationRule's outlierDetection with Istio's defaults (od NULL or not
 * present: enabled = false). */
void outlier_config_from_policy(const struct resource_outlier_detection *od, struct outlier_config *out);

/* Per host, in the calling sidecar. Zero-initialise. */
struct outlier_host {
  uint32_t consecutive_5xx, consecutive_gateway, consecutive_local_origin;
  bool ejected;
  int64_t ejected_at_ms, eject_until_ms;
  uint32_t multiplier;        /* times ejected, decayed while the host stays in */
  uint64_t ejections_total;   /* every ejection of this host */
  uint64_t ejections_skipped; /* thresholds reached while the cap was full */
};

enum outlier_result_kind {
  OUTLIER_RESPONSE,        /* an upstream response with a status */
  OUTLIER_CONNECT_FAILURE, /* local origin */
  OUTLIER_TIMEOUT,         /* local origin */
  OUTLIER_RESET,           /* local origin */
};

enum outlier_verdict {
  OUTLIER_NONE,          /* counted, nothing more */
  OUTLIER_EJECTED,       /* this report ejected the host */
  OUTLIER_CAP_REACHED,   /* the threshold was reached but maxEjectionPercent held it back */
};

/* Detector counters for a cluster (Envoy's outlier_detection.* stats). */
struct outlier_stats {
  uint64_t ejections_active, ejections_total, ejections_consecutive_5xx, ejections_consecutive_gateway,
      ejections_consecutive_local_origin, ejections_overflow;
};

/* Counts one try's result against host i of hosts[0..n) at now; ejects it inline when a
 * threshold is reached and the cap allows. status is read for OUTLIER_RESPONSE. */
enum outlier_verdict outlier_report(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, size_t i,
                                    enum outlier_result_kind kind, int status, int64_t now_ms,
                                    struct outlier_stats *stats);

/* The interval sweep: brings back hosts whose ejection ended by now, decays the multiplier of
 * hosts that stayed in. Returns how many came back. */
size_t outlier_tick(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, int64_t now_ms,
                    struct outlier_stats *stats);

#endif
