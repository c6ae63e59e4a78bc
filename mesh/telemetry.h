/* Istio's standard metrics, served by every sidecar at /stats/prometheus as Istio's proxies
 * serve them on port 15090:
 *
 *   istio_requests_total                  counter
 *   istio_request_duration_milliseconds   histogram
 *   istio_request_bytes                   histogram
 *   istio_response_bytes                  histogram
 *
 * with Istio's labels (reporter, source_workload, source_app, source_version, destination_*,
 * destination_service, response_code, response_flags, connection_security_policy, ...). Each
 * request is counted twice across the mesh, as in Istio: once by the client's sidecar
 * (reporter="source") and once by the server's (reporter="destination").
 *
 * Who called whom: the client sidecar knows its own workload and the endpoint it picked; the
 * server sidecar learns the caller from the `x-meshlab-peer` header the client sidecar adds
 * (Istio exchanges the same facts in x-envoy-peer-metadata) and drops before the app sees it.
 *
 * Series are found by hashing the label values, without building strings per request; a
 * series' label text is built once, when it first appears.
 *
 * The same aggregates feed the lab's telemetry sink (report.h): each series remembers what was
 * last reported, so a report is the difference, taken on a timer, never per request. A small
 * reservoir of request records (at most TELEMETRY_SAMPLES between two reports, each request
 * equally likely to be kept) feeds the lab's live request log.
 */
#ifndef MESH_TELEMETRY_H
#define MESH_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"
#include "mesh/stats.h"

/* A workload as the metrics name it. Empty strings print as "unknown". */
struct peer {
  char workload[96];
  char ns[64];
  char app[64];
  char version[32];
};

enum reporter { REPORTER_SOURCE, REPORTER_DESTINATION };

struct istio_series;

/* Request records kept between two reports (the reservoir's size). */
#define TELEMETRY_SAMPLES 20

/* One request as the live log shows it: a sampled copy, cut to fit. */
struct telemetry_sample {
  enum reporter reporter;
  char request_id[40];
  int64_t time_ms; /* wall clock, when the request started */
  char method[16];
  char path[256];
  char authority[128];
  char upstream_host[64];
  char source_workload[96];
  char service[160];
  int code;
  uint32_t flags;
  double duration_ms;
};

struct rng;

struct telemetry {
  int enabled;
  struct peer self;
  struct istio_series **table; /* open addressing by hash */
  size_t cap, len;
  /* The sink's hooks (report.c). `dirty` is set by the first request after a report; the
   * transition calls on_dirty (when set), so an idle sidecar needs no timer at all. */
  int dirty;
  void (*on_dirty)(struct telemetry *t);
  void *data;
  struct telemetry_sample samples[TELEMETRY_SAMPLES];
  size_t nsamples;  /* filled slots */
  uint64_t offered; /* requests offered to the reservoir since the last take */
};

/* What one series counted since the last telemetry_take_deltas. Pointers are borrowed for the
 * callback. duration[STATS_NBUCKETS] counts the requests above the last bound. */
struct telemetry_delta {
  enum reporter reporter;
  const struct peer *source, *destination;
  const char *service; /* "" when unknown */
  int code;
  uint32_t flags;
  int mutual_tls; /* destination series: whether the inbound connection was mTLS */
  uint64_t requests;
  uint64_t duration[STATS_NBUCKETS + 1];
};

typedef void (*telemetry_delta_cb)(void *data, const struct telemetry_delta *d);

/* One finished request as the metrics see it. Strings are borrowed for the call. */
struct telemetry_request {
  enum reporter reporter;
  const struct peer *source;      /* NULL: unknown */
  const struct peer *destination; /* NULL: unknown */
  const char *service;            /* destination service FQDN, NULL: unknown */
  int code;
  uint32_t flags;
  double duration_ms;
  uint64_t request_bytes, response_bytes;
  /* mTLS: whether the destination's inbound connection was mutual TLS (Istio's
   * connection_security_policy: "mutual_tls" / "none" reported by the destination, "unknown"
   * by the source), and the SPIFFE IDs on either end (NULL or "": "unknown"). */
  int mutual_tls;
  const char *source_principal, *destination_principal;
  /* destination_service_name when it is not the service's first label: "PassthroughCluster"
   * or "BlackHoleCluster" for the outbound catch-all routes (service is then the Host, as
   * istio/proxy's populateDestinationService does). NULL: from service. */
  const char *service_name;
};

/* Counts one request; returns 0 or -ENOMEM (the request is then not counted). */
int telemetry_record(struct telemetry *t, const struct telemetry_request *r);
/* Appends the four metric families in Prometheus text format; returns 0 or -ENOMEM. */
int telemetry_write_prometheus(struct buf *out, const struct telemetry *t);
/* Formats a peer for the x-meshlab-peer header ("workload;ns;app;version") into out. */
void telemetry_peer_format(const struct peer *p, char *out, size_t n);
/* Istio's connection_security_policy label: "unknown" when the source reports, else
 * "mutual_tls" or "none" as the destination's inbound connection was. */
const char *telemetry_security_policy(enum reporter r, int mutual_tls);
/* Parses an x-meshlab-peer value; returns 0 or -EINVAL. */
int telemetry_peer_parse(struct slice v, struct peer *out);
/* Fills p from a workload name, namespace and labels (app, version). */
void telemetry_peer_set(struct peer *p, const char *workload, const char *ns, const char *app, const char *version);
/* Calls cb for every series that counted requests since the last call, then marks those
 * counts reported, and clears `dirty`. Returns how many series changed. */
size_t telemetry_take_deltas(struct telemetry *t, telemetry_delta_cb cb, void *data);
/* Marks t dirty for a change the metrics did not count (a host ejected or back, report.h):
 * calls on_dirty on the transition, as a counted request does. */
void telemetry_touch(struct telemetry *t);
/* Reservoir sampling (Vitter's algorithm R) of the request records: returns the slot this
 * request's record should be written to, or NULL when it is not sampled. O(1); the caller
 * fills the slot at once. */
struct telemetry_sample *telemetry_sample_slot(struct telemetry *t, struct rng *r);
/* Moves the sampled records out (into out, up to TELEMETRY_SAMPLES, oldest first) and empties
 * the reservoir. Returns the count. */
size_t telemetry_take_samples(struct telemetry *t, struct telemetry_sample *out);
void telemetry_free(struct telemetry *t);

#endif
