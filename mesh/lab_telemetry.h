/* The lab's half of the telemetry sink: a few minutes of per-second series, kept from the
 * deltas sidecars report (report.h), and the queries the API, `meshlab top`, the dashboard and
 * lesson assertions ask of them.
 *
 * A series is Istio's identity of a request, cut to what the queries need: reporter, source
 * workload and version, destination workload, version and service, response code and flags,
 * connection security policy.
 * Each series holds a ring of LABTEL_SECONDS one-second buckets: a request count and the
 * duration histogram on Envoy's bounds (stats.h), so percentiles over any window come from
 * merged histograms, as Prometheus' histogram_quantile over summed buckets does. A bucket is
 * reused when the ring comes round; a series that saw nothing for the whole ring is dropped.
 *
 * Beside the series, the latest connection-pool and outlier state of each (caller, cluster)
 * pair the sidecars report, for GET /v1/clusters and the journal's ejection and overflow events.
 *
 * Pure: the caller passes the time (whole seconds of a monotonic clock); no I/O. The series
 * and the request log are lab_series.c's, the clusters' state lab_telemetry.c's; the JSON
 * around them (ingesting reports, answering /v1/metrics and /v1/requests) and the journal live
 * in lab_telemetry.c too, declared in lab.h.
 */
#ifndef MESH_LAB_TELEMETRY_H
#define MESH_LAB_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/stats.h"
#include "mesh/telemetry.h"

#define LABTEL_SECONDS 300                  /* five minutes of history */
#define LABTEL_BUCKETS (STATS_NBUCKETS + 1) /* Envoy's bounds, then the overflow */
#define LABTEL_LOG 1000                     /* sampled request records kept for the live log */
#define LABTEL_MAX_SERIES 4096              /* 25 KiB each; beyond it new series are refused */
#define LABTEL_MAX_GROUPS 32                /* distinct versions / codes / flag sets per answer */
#define LABTEL_MAX_CLUSTERS 4096            /* (caller, cluster) states kept; beyond it new ones are refused */

/* Istio's connection_security_policy: what the destination's sidecar saw of the connection
 * (the source reports "unknown", as in Istio). */
enum labtel_security { LABTEL_SECURITY_UNKNOWN, LABTEL_SECURITY_NONE, LABTEL_SECURITY_MUTUAL_TLS };

struct labtel_key {
  enum reporter reporter;
  enum labtel_security security;
  char source_workload[96], source_version[32];
  char destination_workload[96], destination_version[32];
  char service[160];
  int code;
  uint32_t flags;
};

struct labtel_series;

/* A sampled request record, with the node that reported it. */
struct labtel_record {
  char node[128];
  struct telemetry_sample s;
};

/* The latest connection-pool and outlier state one caller reported for one cluster (report.h's
 * "clusters"): replaced whole by each report of that cluster, dropped with the caller. */
struct labtel_host {
  char address[64], replica[64];
  char health[16]; /* "healthy", "ejected", "unhealthy" */
  uint64_t rq_active, cx_active, rq_total, rq_error, times_ejected;
  uint32_t consecutive_5xx, consecutive_gateway;
  bool ejected;
  int64_t ejection_remaining_ms; /* when reported */
};

struct labtel_cluster {
  char node[128]; /* the caller: NS/REPLICA */
  char name[256], direction[16], service[160];
  int64_t reported_ms; /* the lab's loop time when the report came in */
  uint32_t max_connections, max_pending_requests, max_requests, max_retries, max_requests_per_connection;
  uint32_t cx_active, rq_pending_active, rq_active, rq_retry_active;
  uint64_t cx_overflow, rq_pending_overflow, rq_retry_overflow;
  bool outlier_enabled;
  uint32_t consecutive_5xx, consecutive_gateway, max_ejection_percent;
  int64_t interval_ms, base_ejection_ms;
  uint64_t ejections_active, ejections_total, ejections_overflow;
  struct labtel_host *hosts; /* owned */
  size_t nhosts;
};

/* What changed between two states of a cluster, for the journal. Strings borrow the states. */
enum labtel_change_kind { LABTEL_HOST_EJECTED, LABTEL_HOST_RETURNED, LABTEL_OVERFLOW };

struct labtel_change {
  enum labtel_change_kind kind;
  const struct labtel_host *host; /* ejected, returned: the host in the new state */
  const char *counter;            /* overflow: "upstream_rq_pending_overflow", ... */
  uint64_t value, delta;          /* overflow: the counter now, and how much it grew */
};

struct labtel {
  struct labtel_series **series;
  size_t len, cap;
  uint64_t refused;          /* series refused past LABTEL_MAX_SERIES */
  struct labtel_record *log; /* ring of LABTEL_LOG, allocated on first use */
  size_t log_next, log_len;
  struct labtel_cluster **clusters; /* sorted by node, then cluster name */
  size_t nclusters, clusters_cap;
};

/* What to sum. NULL / -1 fields match everything. */
struct labtel_query {
  int64_t window_s; /* 1 .. LABTEL_SECONDS; the current second included */
  int reporter;     /* REPORTER_SOURCE, REPORTER_DESTINATION, or -1 */
  const char *destination_service;
  const char *source_workload;
};

struct labtel_summary {
  uint64_t requests, non_5xx;
  double rps;                /* requests / window */
  double success_ratio;      /* non-5xx / all; -1 when no requests */
  double p50, p90, p99;      /* ms, from the merged histogram; 0 when none */
  struct histogram duration; /* merged */
  struct {
    char version[32];
    uint64_t n;
  } versions[LABTEL_MAX_GROUPS];
  size_t nversions;
  struct {
    int code;
    uint64_t n;
  } codes[LABTEL_MAX_GROUPS];
  size_t ncodes;
  struct {
    uint32_t flags;
    uint64_t n;
  } flags[LABTEL_MAX_GROUPS];
  size_t nflags;
  /* How the selected calls were carried, whatever reporter the query counts: the destination
   * series of the same callers and services, over mTLS or in plaintext. Calls to a workload
   * without a sidecar (an external service) have no destination report and count in neither. */
  uint64_t mutual_tls, plaintext;
};

/* Adds `requests` and the duration bucket counts (LABTEL_BUCKETS of them, borrowed) to the
 * series k names, in second now_s. Returns 0, -ENOMEM, or -ENOSPC (too many series). */
int labtel_add(struct labtel *t, int64_t now_s, const struct labtel_key *k, uint64_t requests,
               const uint64_t *duration);
/* Sums the series q selects over the window ending at now_s into out. */
void labtel_query(const struct labtel *t, int64_t now_s, const struct labtel_query *q, struct labtel_summary *out);
/* The distinct destination services with requests in q's window (q's own destination_service
 * filter applies), sorted; fills up to max borrowed names, returns the count. */
size_t labtel_services(const struct labtel *t, int64_t now_s, const struct labtel_query *q, const char **out,
                       size_t max);
/* Requests counted in exactly second `sec` by series of `reporter` (-1: all). */
uint64_t labtel_requests_at(const struct labtel *t, int64_t sec, int reporter, uint64_t *errors_5xx);
/* Drops series that counted nothing in the ring ending at now_s. */
void labtel_expire(struct labtel *t, int64_t now_s);
/* Keeps a sampled record (copied) in the live log ring. Returns 0 or -ENOMEM. */
int labtel_log_add(struct labtel *t, const char *node, const struct telemetry_sample *s);
/* The i-th newest record (0: the newest), or NULL past the end. */
const struct labtel_record *labtel_log_get(const struct labtel *t, size_t i);
/* Parses a report's "clusters" array (report.h), the whole report body as JSON, into *out
 * (returns owned, an array of *n, each stamped with node and now_ms; free each with
 * labtel_cluster_free and the array with free). A report without clusters gives *n = 0.
 * Returns 0, -EINVAL (not a JSON object) or -ENOMEM. */
int labtel_clusters_parse(const char *body, size_t len, const char *node, int64_t now_ms, struct labtel_cluster ***out,
                          size_t *n);
/* Keeps c (takes it) as the latest state of (c->node, c->name); *old gets the state it
 * replaced (returns owned, NULL when none). Returns 0, or -ENOMEM or -ENOSPC (a new pair past
 * LABTEL_MAX_CLUSTERS), c then freed. */
int labtel_cluster_put(struct labtel *t, struct labtel_cluster *c, struct labtel_cluster **old);
/* Drops every cluster state node reported (its replica went away). */
void labtel_clusters_forget(struct labtel *t, const char *node);
/* The changes from old (NULL: nothing known, every counter 0, every host in) to now that the
 * journal records: a host ejected or back, an overflow counter that grew. Fills up to max,
 * returns how many there were. */
size_t labtel_cluster_changes(const struct labtel_cluster *old, const struct labtel_cluster *now,
                              struct labtel_change *out, size_t max);
void labtel_cluster_free(struct labtel_cluster *c);
/* Frees every series and the log; the struct is then empty and reusable. labtel_free of a
 * zeroed struct is a no-op. */
void labtel_free(struct labtel *t);

#endif
