/* Access-log formatting: see accesslog.h. Field order is Envoy's
 * (docs/root/configuration/observability/access_log/usage.rst, "Default format string") and
 * Istio's (tasks/observability/logs/access-log). */
#include "mesh/accesslog.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "mesh/flags.h"

int accesslog_format_parse(const char *s, enum accesslog_format *out) {
  if (strcmp(s, "envoy") == 0) *out = ACCESSLOG_ENVOY;
  else if (strcmp(s, "istio") == 0 || strcmp(s, "text") == 0) *out = ACCESSLOG_ISTIO;
  else if (strcmp(s, "json") == 0) *out = ACCESSLOG_ISTIO_JSON;
  else return -EINVAL;
  return 0;
}

static void start_time(char *out, size_t n, int64_t ms) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%s.%03dZ", base, (int)(ms % 1000));
}

static int text_or_dash(struct buf *out, struct slice s) {
  return s.n ? buf_append_slice(out, s) : buf_append(out, "-", 1);
}

static const char *str_or_dash(const char *s) { return s && *s ? s : "-"; }

/* JSON string escaping for the JSON encoding. */
static int json_str(struct buf *out, const char *key, struct slice v, int first) {
  if (buf_appendf(out, "%s\"%s\":", first ? "" : ",", key) != 0) return -ENOMEM;
  if (!v.n) return buf_append_str(out, "null");
  if (buf_append(out, "\"", 1) != 0) return -ENOMEM;
  for (size_t i = 0; i < v.n; i++) {
    unsigned char c = (unsigned char)v.p[i];
    if (c == '"' || c == '\\') {
      if (buf_append(out, "\\", 1) || buf_append(out, &v.p[i], 1)) return -ENOMEM;
    } else if (c < 0x20) {
      if (buf_appendf(out, "\\u%04x", c)) return -ENOMEM;
    } else if (buf_append(out, &v.p[i], 1)) {
      return -ENOMEM;
    }
  }
  return buf_append(out, "\"", 1);
}

int accesslog_format_line(struct buf *out, enum accesslog_format format, const struct access_record *r) {
  char when[40], flags[64], upstream_ms[24];
  start_time(when, sizeof when, r->start_ms);
  flags_format(r->flags, flags, sizeof flags);
  if (r->upstream_ms >= 0) snprintf(upstream_ms, sizeof upstream_ms, "%lld", (long long)r->upstream_ms);
  else snprintf(upstream_ms, sizeof upstream_ms, "-");
  if (format == ACCESSLOG_ISTIO_JSON) {
    char proto[16];
    snprintf(proto, sizeof proto, "HTTP/1.%d", r->minor);
    int rc = buf_append(out, "{", 1);
    rc |= json_str(out, "start_time", slice_from(when), 1);
    rc |= json_str(out, "method", r->method, 0);
    rc |= json_str(out, "path", r->path, 0);
    rc |= json_str(out, "protocol", slice_from(proto), 0);
    rc |= buf_appendf(out, ",\"response_code\":%d", r->code);
    rc |= json_str(out, "response_flags", slice_from(flags), 0);
    rc |= json_str(out, "response_code_details", slice_from(str_or_dash(r->details)), 0);
    rc |= json_str(out, "connection_termination_details", (struct slice){0}, 0);
    rc |= json_str(out, "upstream_transport_failure_reason",
                   slice_from(r->transport_failure ? r->transport_failure : ""), 0);
    rc |= buf_appendf(out, ",\"bytes_received\":%llu,\"bytes_sent\":%llu,\"duration\":%lld",
                      (unsigned long long)r->bytes_received, (unsigned long long)r->bytes_sent,
                      (long long)r->duration_ms);
    if (r->upstream_ms >= 0) rc |= buf_appendf(out, ",\"upstream_service_time\":\"%s\"", upstream_ms);
    else rc |= buf_append_str(out, ",\"upstream_service_time\":null");
    rc |= json_str(out, "x_forwarded_for", r->xff, 0);
    rc |= json_str(out, "user_agent", r->user_agent, 0);
    rc |= json_str(out, "request_id", r->request_id, 0);
    rc |= json_str(out, "authority", r->authority, 0);
    rc |= json_str(out, "upstream_host", slice_from(r->upstream_host ? r->upstream_host : ""), 0);
    rc |= json_str(out, "upstream_cluster", slice_from(r->upstream_cluster ? r->upstream_cluster : ""), 0);
    rc |= json_str(out, "upstream_local_address", slice_from(r->upstream_local ? r->upstream_local : ""), 0);
    rc |= json_str(out, "downstream_local_address", slice_from(r->downstream_local ? r->downstream_local : ""), 0);
    rc |= json_str(out, "downstream_remote_address", slice_from(r->downstream_remote ? r->downstream_remote : ""), 0);
    rc |= json_str(out, "requested_server_name", (struct slice){0}, 0);
    rc |= json_str(out, "route_name", slice_from(r->route_name ? r->route_name : ""), 0);
    rc |= buf_append_str(out, "}\n");
    return rc ? -ENOMEM : 0;
  }
  int rc = buf_appendf(out, "[%s] \"", when);
  rc |= text_or_dash(out, r->method);
  rc |= buf_append(out, " ", 1);
  rc |= text_or_dash(out, r->path);
  rc |= buf_appendf(out, " HTTP/1.%d\" %d %s ", r->minor, r->code, flags);
  if (format == ACCESSLOG_ISTIO)
    rc |= buf_appendf(out, "%s - \"%s\" ", str_or_dash(r->details), str_or_dash(r->transport_failure));
  rc |= buf_appendf(out, "%llu %llu %lld %s \"", (unsigned long long)r->bytes_received,
                    (unsigned long long)r->bytes_sent, (long long)r->duration_ms, upstream_ms);
  rc |= text_or_dash(out, r->xff);
  rc |= buf_append_str(out, "\" \"");
  rc |= text_or_dash(out, r->user_agent);
  rc |= buf_append_str(out, "\" \"");
  rc |= text_or_dash(out, r->request_id);
  rc |= buf_append_str(out, "\" \"");
  rc |= text_or_dash(out, r->authority);
  rc |= buf_appendf(out, "\" \"%s\"", str_or_dash(r->upstream_host));
  if (format == ACCESSLOG_ISTIO)
    rc |= buf_appendf(out, " %s %s %s %s - %s", str_or_dash(r->upstream_cluster), str_or_dash(r->upstream_local),
                      str_or_dash(r->downstream_local), str_or_dash(r->downstream_remote), str_or_dash(r->route_name));
  rc |= buf_append(out, "\n", 1);
  return rc ? -ENOMEM : 0;
}

void accesslog_record(struct accesslog *log, const struct access_record *r) {
  if (!log || !log->out) return;
  accesslog_format_line(&log->pending, log->format, r);
}

void accesslog_flush(struct accesslog *log) {
  if (!log || !log->out || log->pending.len == 0) return;
  fwrite(log->pending.data, 1, log->pending.len, log->out);
  fflush(log->out);
  buf_reset(&log->pending);
}

void accesslog_free(struct accesslog *log) {
  if (!log) return;
  accesslog_flush(log);
  buf_free(&log->pending);
}
