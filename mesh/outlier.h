/* outlier: outlier detection per calling sidecar and destination cluster, Envoy's
 * consecutive-errors detector as Istio configures it from DestinationRule `outlierDetection`.
 *
 * Where it sits: the proxy reports the result of every try to the cluster's detector
 * (outlier_report); when a host's consecutive 5xx (or gateway errors: 502, 503, 504) reach the
 * threshold it is ejected on the spot, if the ejection cap allows. The cap counts the host about
 * to go: Envoy since 1.27 (envoy#27066, PR #27909) ejects only when
 * 100 x (ejected + 1) / hosts <= maxEjectionPercent, so with Istio's default of 10 % a cluster
 * of fewer than ten hosts ejects nobody. The older rule, "one host can always be ejected", is
 * now Envoy's opt-in always_eject_one_host (PR #34796), which Istio never sets. The load
 * balancer then skips an ejected host (lb_host.ejected). A timer every `interval` calls
 * outlier_tick: hosts whose ejection time has passed come back with their counts cleared, and a
 * host that stayed in has its ejection multiplier decremented. Ejection lasts
 * baseEjectionTime x multiplier (the multiplier grows by one per ejection), capped at
 * max(300 s, baseEjectionTime) (Envoy's max_ejection_time, which Istio leaves at its default).
 *
 * Local-origin failures (connect failure, timeout, reset) count as 5xx unless
 * splitExternalLocalOriginErrors is set (Envoy maps a connect failure to 503 and a timeout to
 * 504, and a reset like a connect failure to 503); with it set they count on their own against
 * consecutiveLocalOriginFailures, and any response (the connection worked) resets that count.
 * Any other response (1xx-4xx) resets the host's consecutive 5xx and gateway counts; a 5xx that
 * is not a gateway error resets the gateway count. When a threshold is reached the count of
 * that detector restarts, whether or not the cap let the host go. The two HTTP detectors run
 * side by side as in Envoy: Istio's note that consecutiveGatewayErrors has no effect when it is
 * >= consecutive5xxErrors holds for ejections, except that at equal thresholds the gateway
 * detector fires first and takes the credit in the stats.
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
  bool enabled;                      /* outlierDetection present */
  uint32_t consecutive_5xx;          /* 0: this detector off */
  uint32_t consecutive_gateway;      /* 0: off (Istio's default) */
  uint32_t consecutive_local_origin; /* with split_local_origin */
  bool split_local_origin;
  int64_t interval_ms;           /* 10 s */
  int64_t base_ejection_ms;      /* 30 s */
  int64_t max_ejection_ms;       /* max(300 s, base) */
  uint32_t max_ejection_percent; /* 10 */
  bool always_eject_one_host;    /* Envoy's opt-in; Istio never sets it: false */
};

/* Fills out from a DestinationRule's outlierDetection with Istio's defaults (od NULL or not
 * present: enabled = false). As Istio's cluster builder does, an explicit 0 for
 * maxEjectionPercent or consecutiveLocalOriginFailures leaves Envoy's default (10, 5) in place. */
void outlier_config_from_policy(const struct resource_outlier_detection *od, struct outlier_config *out);

/* Per host, in the calling sidecar. Zero-initialise. */
struct outlier_host {
  uint32_t consecutive_5xx, consecutive_gateway, consecutive_local_origin;
  bool ejected;
  int64_t ejected_at_ms, eject_until_ms;
  uint32_t multiplier;        /* +1 per ejection, -1 per sweep while the host stays in */
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
  OUTLIER_NONE,        /* counted, nothing more */
  OUTLIER_EJECTED,     /* this report ejected the host */
  OUTLIER_CAP_REACHED, /* the threshold was reached but maxEjectionPercent held it back */
};

/* Detector counters for a cluster (Envoy's outlier_detection.* stats): ejections_total and
 * ejections_consecutive_* count enforced ejections (ejections_enforced_*); ejections_overflow
 * counts thresholds reached while the cap held the host back. */
struct outlier_stats {
  uint64_t ejections_active, ejections_total, ejections_consecutive_5xx, ejections_consecutive_gateway,
      ejections_consecutive_local_origin, ejections_overflow;
};

/* Counts one try's result against host i of hosts[0..n) at now; ejects it inline when a
 * threshold is reached and the cap allows. status is read for OUTLIER_RESPONSE. A host already
 * ejected keeps counting but is not ejected again. cfg->enabled false: OUTLIER_NONE, nothing
 * counted. */
enum outlier_verdict outlier_report(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, size_t i,
                                    enum outlier_result_kind kind, int status, int64_t now_ms,
                                    struct outlier_stats *stats);

/* The interval sweep: brings back hosts whose ejection ended by now (now >= ejected_at +
 * min(base x multiplier, max)), decays the multiplier of hosts that were already in when the
 * sweep began. Returns how many came back. Envoy decays only once `interval` has passed since
 * the host came back, which is the next sweep when sweeps come every interval. */
size_t outlier_tick(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, int64_t now_ms,
                    struct outlier_stats *stats);

#endif
