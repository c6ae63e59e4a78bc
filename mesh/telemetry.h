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

struct telemetry {
  int enabled;
  struct peer self;
  struct istio_series **table; /* open addressing by hash */
  size_t cap, len;
};

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
};

/* Counts one request; returns 0 or -ENOMEM (the request is then not counted). */
int telemetry_record(struct telemetry *t, const struct telemetry_request *r);
/* Appends the four metric families in Prometheus text format; returns 0 or -ENOMEM. */
int telemetry_write_prometheus(struct buf *out, const struct telemetry *t);
/* Formats a peer for the x-meshlab-peer header ("workload;ns;app;version") into out. */
void telemetry_peer_format(const struct peer *p, char *out, size_t n);
/* Parses an x-meshlab-peer value; returns 0 or -EINVAL. */
int telemetry_peer_parse(struct slice v, struct peer *out);
/* Fills p from a workload name, namespace and labels (app, version). */
void telemetry_peer_set(struct peer *p, const char *workload, const char *ns, const char *app, const char *version);
void telemetry_free(struct telemetry *t);

#endif
