/* Access logs in Envoy's default text format and in Istio's default text and JSON formats.
 *
 * One record per finished request; lines accumulate in memory and are written once per event
 * loop turn (the proxy calls accesslog_flush before the loop polls), so logging costs one
 * write per batch rather than one per request.
 */
#ifndef MESH_ACCESSLOG_H
#define MESH_ACCESSLOG_H

#include <stdint.h>
#include <stdio.h>

#include "mesh/buf.h"

enum accesslog_format {
  ACCESSLOG_ENVOY,     /* Envoy's default format string */
  ACCESSLOG_ISTIO,     /* Istio's default TEXT format (meshConfig.accessLogFormat unset) */
  ACCESSLOG_ISTIO_JSON /* Istio's JSON encoding (meshConfig.accessLogEncoding: JSON) */
};

/* What one log line says; unset strings print "-". Slices are borrowed for the call. */
struct access_record {
  int64_t start_ms; /* wall clock, ms since the epoch */
  struct slice method, path;
  int minor;
  int code;
  uint32_t flags;
  const char *details; /* %RESPONSE_CODE_DETAILS%, e.g. "via_upstream" */
  const char *transport_failure;
  uint64_t bytes_received, bytes_sent;
  int64_t duration_ms;
  int64_t upstream_ms; /* -1 when no upstream answered */
  struct slice xff, user_agent, request_id, authority;
  const char *upstream_host, *upstream_cluster, *upstream_local;
  const char *downstream_local, *downstream_remote;
  const char *route_name;
};

struct accesslog {
  FILE *out; /* borrowed */
  enum accesslog_format format;
  struct buf pending;
};

/* Parses "envoy", "istio" or "json"; returns 0 or -EINVAL. */
int accesslog_format_parse(const char *s, enum accesslog_format *out);
/* Appends one line for r to the log's pending buffer. */
void accesslog_record(struct accesslog *log, const struct access_record *r);
/* Formats one line into out (exposed for tests). */
int accesslog_format_line(struct buf *out, enum accesslog_format format, const struct access_record *r);
/* Writes pending lines to the file. */
void accesslog_flush(struct accesslog *log);
/* Flushes and frees the buffer (does not close the file). */
void accesslog_free(struct accesslog *log);

#endif
