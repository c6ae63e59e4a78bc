/* The proxy engine: sessions, exchanges, local replies, timeouts and graceful drain.
 * See proxy.h for the request path. Local reply bodies and response code details follow
 * Envoy's wording, so the strings a learner sees here are the ones Istio shows.
 */
#include "mesh/proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mesh/flags.h"
#include "mesh/http_head.h"
#include "mesh/router.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* A request body up to this size is kept while it streams, so a request that met a dead
 * pooled connection can be re-sent on a fresh one. Larger bodies are never re-sent. */
#define RESEND_BODY_LIMIT (64 * 1024)
/* Pipelined bytes held while the current request is answered; reading pauses above it. */
#define PIPELINE_LIMIT (64 * 1024)

enum session_state { SESSION_IDLE, SESSION_HEAD, SESSION_ACTIVE, SESSION_CLOSING };

struct exchange {
  struct cluster *cluster;     /* referenced while the exchange runs (cluster_pick) */
  struct upstream *up;         /* referenced likewise */
  struct config_ref *config;   /* the config it was routed with, referenced */
  const struct xds_route *route; /* the rule that matched, borrowed from config */
  struct upstream_conn *uc;
  struct http_head *req; /* borrowed from the request parser until the exchange ends */
  struct buf head_out;   /* the head sent upstream, kept for a re-send */
  struct buf scratch;    /* response head and chunk framing */
  struct buf body_copy;  /* request body, while it fits RESEND_BODY_LIMIT */
  /* Everything from `flags` on is reset for each request. */
  uint32_t flags;
  enum http_framing req_framing, resp_framing;
  int code;
  const char *details;
  const char *transport_failure;
  uint64_t start_ns, upstream_start_ns, resp_head_ns;
  int64_t start_wall_ms;
  uint64_t bytes_in, bytes_out;
  uint64_t connect_deadline, request_deadline; /* loop time, ms; 0 = none */
  char request_id[37];
  struct slice rid, authority, path;
  struct peer source;          /* inbound: the caller, from x-meshlab-peer */
  int has_source;
  unsigned active : 1, req_done : 1, resp_started : 1, resp_done : 1, interim : 1, head_request : 1,
      body_kept : 1, retried : 1, reused : 1, close_after : 1, up_keep_alive : 1, up_extra : 1, connecting : 1;
};

struct session {
  struct conn conn;
  uv_timer_t timer;
  struct proxy *px;
  struct proxy_listener *l;
  struct session *next, *prev;
  struct http_parser *req, *resp;
  struct buf pipelined;
  struct exchange ex;
  enum session_state state;
  int handles;
  unsigned in_feed : 1, read_paused : 1;
  char peer[64], local[64];
  struct slice client_ip;
};

static void session_feed(struct session *s, const char *p, size_t n);
static void session_close(struct session *s);
static void session_end(struct session *s, int graceful);
static void exchange_finish(struct session *s);
static void exchange_send(struct session *s);
static void exchange_unroute(struct exchange *ex);
static void proxy_try_finish(struct proxy *px);

void proxy_limits_default(struct proxy_limits *l) {
  l->max_head_bytes = 60 * 1024;
  l->max_headers = 100;
  l->max_request_body = 0;
  l->header_timeout_ms = 10000;
  l->idle_timeout_ms = 300000;
  l->connect_timeout_ms = 10000;
  l->request_timeout_ms = 0;
  l->drain_timeout_ms = 5000;
}

static int64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- timers ---------------------------------------------------------------------------- */

static void on_session_timer(uv_timer_t *t);

static void arm(struct session *s, uint64_t ms) {
  if (ms) uv_timer_start(&s->timer, on_session_timer, ms, 0);
  else uv_timer_stop(&s->timer);
}

/* During an exchange the timer follows the nearest deadline (connect, then request). */
static void arm_exchange(struct session *s) {
  struct exchange *ex = &s->ex;
  uint64_t now = uv_now(s->px->loop), next = 0;
  if (ex->connecting && ex->connect_deadline) next = ex->connect_deadline;
  if (ex->request_deadline && (!next || ex->request_deadline < next)) next = ex->request_deadline;
  if (!next) {
    uv_timer_stop(&s->timer);
    return;
  }
  uv_timer_start(&s->timer, on_session_timer, next > now ? next - now : 1, 0);
}

/* ---- logging and accounting ------------------------------------------------------------ */

/* Copies a slice into a fixed buffer, cut to fit. */
static void copy_slice(char *out, size_t cap, struct slice v) {
  size_t n = v.n < cap - 1 ? v.n : cap - 1;
  if (n) memcpy(out, v.p, n);
  out[n] = '\0';
}

static void fill_sample(struct session *s, const struct telemetry_request *tr, double ms, struct telemetry_sample *ts) {
  struct exchange *ex = &s->ex;
  const struct http_head *h = ex->req;
  ts->reporter = tr->reporter;
  copy_slice(ts->request_id, sizeof ts->request_id, ex->rid);
  ts->time_ms = ex->start_wall_ms;
  copy_slice(ts->method, sizeof ts->method, h ? h->method : slice_from(""));
  copy_slice(ts->path, sizeof ts->path, ex->path.n ? ex->path : h ? h->target : slice_from(""));
  copy_slice(ts->authority, sizeof ts->authority, ex->authority);
  copy_slice(ts->upstream_host, sizeof ts->upstream_host, slice_from(ex->up ? ex->up->addr.text : ""));
  copy_slice(ts->source_workload, sizeof ts->source_workload, slice_from(tr->source ? tr->source->workload : ""));
  copy_slice(ts->service, sizeof ts->service, slice_from(tr->service ? tr->service : ""));
  ts->code = ex->code;
  ts->flags = ex->flags;
  ts->duration_ms = ms;
}

/* Istio's standard metrics for one request (telemetry.h). */
static void record_istio(struct session *s, double ms) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  struct telemetry_request tr = {0};
  char service[256] = "";
  if (s->l->dir == XDS_INBOUND) {
    tr.reporter = REPORTER_DESTINATION;
    tr.source = ex->has_source ? &ex->source : NULL;
    tr.destination = &px->telemetry.self;
    /* The service the caller addressed: its Host, made a FQDN in this workload's namespace. */
    struct slice host = ex->authority;
    const char *colon = host.n ? memchr(host.p, ':', host.n) : NULL;
    if (colon) host.n = (size_t)(colon - host.p);
    const struct peer *self = &px->telemetry.self;
    if (host.n && ((host.p[0] >= '0' && host.p[0] <= '9') || host.p[0] == '[')) {
      /* Addressed by IP (a gateway's Host, a direct call): the workload's own service, named
       * by its app label as Kubernetes services usually are. */
      if (self->app[0]) snprintf(service, sizeof service, "%s.%s.svc.cluster.local", self->app, self->ns);
    } else if (host.n && !memchr(host.p, '.', host.n)) {
      snprintf(service, sizeof service, "%.*s.%s.svc.cluster.local", (int)host.n, host.p, self->ns);
    } else if (host.n) {
      snprintf(service, sizeof service, "%.*s", (int)host.n, host.p);
    }
    tr.service = service;
  } else {
    tr.reporter = REPORTER_SOURCE;
    tr.source = &px->telemetry.self;
    tr.destination = ex->up ? &ex->up->peer : NULL;
    tr.service = ex->cluster ? ex->cluster->service : NULL;
  }
  tr.code = ex->code;
  tr.flags = ex->flags;
  tr.duration_ms = ms;
  tr.request_bytes = ex->bytes_in;
  tr.response_bytes = ex->bytes_out;
  telemetry_record(&px->telemetry, &tr);
  /* The lab's live log: a sampled copy of a few requests per report (telemetry.h). Most
   * requests are not sampled and cost one random draw. */
  struct telemetry_sample *ts = telemetry_sample_slot(&px->telemetry, &px->rng);
  if (ts) fill_sample(s, &tr, ms, ts);
}

static void record(struct session *s) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  uint64_t now = uv_hrtime();
  double ms = (double)(now - ex->start_ns) / 1e6;
  stats_record_request(&px->stats, ex->code, ex->flags, ms);
  if (px->telemetry.enabled) record_istio(s, ms);
  if (ex->up) {
    ex->up->stats.rq_active--;
    if (ex->code >= 500 || ex->code == 0) ex->up->stats.rq_error++;
    else ex->up->stats.rq_success++;
  }
  if (!px->log) return;
  const struct http_head *h = ex->req;
  struct access_record r = {0};
  r.start_ms = ex->start_wall_ms;
  if (h) {
    r.method = h->method;
    r.path = ex->path.n ? ex->path : h->target;
    r.minor = h->minor;
    const struct slice *v;
    if ((v = http_head_find(h, "x-forwarded-for"))) r.xff = *v;
    if ((v = http_head_find(h, "user-agent"))) r.user_agent = *v;
  } else {
    r.minor = 1;
  }
  r.request_id = ex->rid;
  r.authority = ex->authority;
  r.code = ex->code;
  r.flags = ex->flags;
  r.details = ex->details;
  r.transport_failure = ex->transport_failure;
  r.bytes_received = ex->bytes_in;
  r.bytes_sent = ex->bytes_out;
  r.duration_ms = (int64_t)ms;
  r.upstream_ms = ex->resp_head_ns && ex->upstream_start_ns
                      ? (int64_t)((ex->resp_head_ns - ex->upstream_start_ns) / 1000000)
                      : -1;
  r.upstream_host = ex->up ? ex->up->addr.text : NULL;
  r.upstream_cluster = ex->cluster ? ex->cluster->name : NULL;
  r.downstream_local = s->local;
  r.downstream_remote = s->peer;
  r.route_name = ex->route ? (ex->route->name ? ex->route->name : ex->route->vs_name ? ex->route->vs_name : "default")
                           : NULL;
  accesslog_record(px->log, &r);
}

/* ---- upstream side --------------------------------------------------------------------- */

static void release_upstream(struct session *s, int reusable) {
  struct exchange *ex = &s->ex;
  if (!ex->uc) return;
  struct upstream_conn *uc = ex->uc;
  ex->uc = NULL;
  ex->connecting = 0;
  http_parser_reset(s->resp);
  upstream_release(uc, reusable);
}

static void write_down(struct session *s, const char *p, size_t n) {
  if (s->state == SESSION_CLOSING) return;
  if (conn_write(&s->conn, p, n) != 0) {
    session_close(s);
    return;
  }
  if (s->ex.uc && conn_write_blocked(&s->conn)) conn_read_stop(&s->ex.uc->conn);
}

/* A reply the proxy makes itself (no route, connect failure, timeout...). */
static void local_reply(struct session *s, int status, uint32_t flags, const char *body, const char *details,
                        const char *extra_headers) {
  struct exchange *ex = &s->ex;
  ex->flags |= flags;
  ex->details = details;
  if (ex->resp_started) return;
  release_upstream(s, 0);
  ex->code = status;
  ex->resp_started = 1;
  ex->resp_done = 1;
  ex->request_deadline = 0;
  int minor = ex->req ? ex->req->minor : 1;
  /* If the request body is still arriving, it is read and dropped so the connection can carry
   * the next request; unless the client asked to close. */
  /* meshlab tells the caller which flag its request got (Envoy only logs it), so the load
   * generator and lessons can count UO, UF, NR... as they happen; Envoy's own
   * x-envoy-overloaded stays for UO. */
  char extra[256];
  char flags_text[64];
  flags_format(ex->flags, flags_text, sizeof flags_text);
  snprintf(extra, sizeof extra, "%s%s%s%s", ex->flags ? "x-meshlab-response-flags: " : "", ex->flags ? flags_text : "",
           ex->flags ? "\r\n" : "", extra_headers ? extra_headers : "");
  struct buf *out = &ex->scratch;
  buf_reset(out);
  http_head_write_local_reply(out, status, body, extra, minor, ex->close_after);
  ex->bytes_out += body ? strlen(body) : 0;
  write_down(s, out->data, out->len);
  if (ex->req_done) exchange_finish(s);
}

/* The request ended in failure after the response started: all the proxy can do is cut the
 * client's connection, as Envoy does, so the client sees a truncated response. */
static void exchange_abort(struct session *s, uint32_t flags, const char *details) {
  struct exchange *ex = &s->ex;
  ex->flags |= flags;
  ex->details = details;
  release_upstream(s, 0);
  if (ex->active) {
    record(s);
    s->px->stats.downstream_rq_active--;
    exchange_unroute(ex);
    ex->active = 0;
  }
  session_close(s);
}

/* The upstream failed before a complete response: re-send on a fresh connection when the
 * failure hit a reused pooled connection before any response byte (the origin closed it as we
 * picked it: Envoy treats that as a retriable reset), else reply locally or abort. */
static void upstream_failed(struct session *s, uint32_t flag, const char *body, const char *details,
                            const char *transport_failure) {
  struct exchange *ex = &s->ex;
  ex->transport_failure = transport_failure;
  if (ex->resp_started) {
    exchange_abort(s, flag, details);
    return;
  }
  int can_resend = ex->reused && !ex->retried && (ex->body_kept || ex->req_framing == HTTP_FRAMING_NONE);
  if (can_resend && flag == FLAG_UC) {
    release_upstream(s, 0);
    ex->retried = 1;
    exchange_send(s);
    return;
  }
  local_reply(s, 503, flag, body, details, NULL);
}

static void on_up_connect(struct conn *c, int status) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct session *s = uc->owner;
  if (!s) return;
  s->ex.connecting = 0;
  if (status < 0) {
    uc->up->stats.cx_connect_fail++;
    upstream_failed(s, FLAG_UF,
                    "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                    "upstream_reset_before_response_started{connection_failure}", uv_strerror(status));
    return;
  }
  uc->connected = 1;
  conn_read_start(c);
  arm_exchange(s);
}

static void up_read(struct session *s, struct upstream_conn *uc, int status, const char *data, size_t len);

/* Everything written to the client while handling one upstream read (a response head, its
 * body, the last chunk) leaves in one write. */
static void on_up_read(struct conn *c, int status, const char *data, size_t len) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct session *s = uc->owner;
  if (!s) return;
  conn_cork(&s->conn);
  up_read(s, uc, status, data, len);
  if (conn_uncork(&s->conn) != 0) session_close(s);
}

static void up_read(struct session *s, struct upstream_conn *uc, int status, const char *data, size_t len) {
  struct exchange *ex = &s->ex;
  int rc;
  size_t used = 0;
  if (status < 0) {
    rc = http_parser_finish(s->resp);
    if (rc != HTTP_PARSE_DONE) {
      upstream_failed(s, FLAG_UC,
                      "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                      ex->resp_started ? "upstream_reset_after_response_started{connection_termination}"
                                       : "upstream_reset_before_response_started{connection_termination}",
                      NULL);
      return;
    }
    ex->up_keep_alive = 0;
  } else {
    for (;;) {
      rc = http_parser_execute(s->resp, data, len, &used);
      if (s->state == SESSION_CLOSING || ex->uc != uc) return;
      if (rc == HTTP_PARSE_DONE && !ex->resp_done && used < len) {
        /* An interim (1xx) response ended; the final one follows in the same bytes. */
        data += used;
        len -= used;
        continue;
      }
      break;
    }
    if (rc == HTTP_PARSE_ERROR || rc == HTTP_PARSE_ABORTED) {
      if (ex->resp_started) {
        exchange_abort(s, FLAG_UPE, "upstream_reset_after_response_started{protocol_error}");
      } else {
        ex->transport_failure = http_parser_error_reason(s->resp);
        local_reply(s, 502, FLAG_UPE, "upstream protocol error", "upstream_reset_before_response_started{protocol_error}",
                    NULL);
      }
      return;
    }
    if (rc != HTTP_PARSE_DONE || !ex->resp_done) return;
    if (used < len) ex->up_extra = 1; /* bytes after the response: do not reuse */
  }
  if (!ex->resp_done) return;
  if (ex->resp_framing == HTTP_FRAMING_CHUNKED) write_down(s, "0\r\n\r\n", 5);
  if (!ex->req_done) {
    /* The origin answered before the request body ended: the connection to it is in an
     * unknown state and the rest of the body has nowhere to go. Close both after the reply. */
    ex->up_keep_alive = 0;
    ex->close_after = 1;
  }
  exchange_finish(s);
}

static void on_up_drain(struct conn *c) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct session *s = uc->owner;
  if (!s || s->state == SESSION_CLOSING) return;
  if (s->read_paused && s->pipelined.len < PIPELINE_LIMIT) {
    s->read_paused = 0;
    conn_read_start(&s->conn);
  }
}

/* Response parser callbacks (owner: the session). */
static int on_resp_head(void *owner, struct http_head *h) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  int client_minor = ex->req->minor;
  if (h->status < 200) {
    if (h->status == 101) return -1; /* Upgrade is stripped on the way up; a 101 is a protocol error */
    ex->interim = 1;
    if (client_minor >= 1) {
      buf_reset(&ex->scratch);
      http_head_write_response(&ex->scratch, h, HTTP_FRAMING_NONE, 0, 1, 0);
      write_down(s, ex->scratch.data, ex->scratch.len);
    }
    return 0;
  }
  ex->interim = 0;
  ex->resp_started = 1;
  ex->code = h->status;
  ex->details = "via_upstream";
  ex->resp_head_ns = uv_hrtime();
  ex->up_keep_alive = h->keep_alive;
  int no_body = ex->head_request || h->status == 204 || h->status == 304;
  if (h->content_length >= 0) ex->resp_framing = HTTP_FRAMING_LENGTH;
  else if (no_body) ex->resp_framing = HTTP_FRAMING_NONE;
  else if (client_minor >= 1) ex->resp_framing = HTTP_FRAMING_CHUNKED; /* chunked, or close-delimited re-framed */
  else ex->resp_framing = HTTP_FRAMING_CLOSE;
  if (ex->resp_framing == HTTP_FRAMING_CLOSE || s->px->draining) ex->close_after = 1;
  buf_reset(&ex->scratch);
  if (http_head_write_response(&ex->scratch, h, ex->resp_framing, h->content_length, client_minor, ex->close_after) != 0)
    return -1;
  write_down(s, ex->scratch.data, ex->scratch.len);
  return no_body ? 1 : 0;
}

static int on_resp_body(void *owner, const char *p, size_t n) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  ex->bytes_out += n;
  if (ex->resp_framing == HTTP_FRAMING_CHUNKED) {
    char hdr[24];
    int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
    struct slice parts[3] = {{hdr, (size_t)hn}, {p, n}, {"\r\n", 2}};
    if (conn_writev(&s->conn, parts, 3) != 0) return -1;
  } else if (conn_write(&s->conn, p, n) != 0) {
    return -1;
  }
  if (conn_write_blocked(&s->conn) && ex->uc) conn_read_stop(&ex->uc->conn);
  return 0;
}

static int on_resp_complete(void *owner) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (ex->interim) {
    ex->interim = 0;
    return 0;
  }
  ex->resp_done = 1;
  return 0;
}

/* Takes a connection and sends the head, and the body kept so far. */
static void exchange_send(struct session *s) {
  struct exchange *ex = &s->ex;
  struct proxy *px = s->px;
  int reused = 0;
  struct upstream_conn *uc;
  int rc = upstream_acquire(ex->up, s, on_up_connect, &uc, &reused);
  if (rc != 0) {
    ex->up->stats.cx_connect_fail++;
    local_reply(s, 503, FLAG_UF, "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                "upstream_reset_before_response_started{connection_failure}", NULL);
    return;
  }
  ex->uc = uc;
  ex->reused = reused;
  ex->connecting = !reused;
  uc->requests++;
  uc->conn.on_read = on_up_read;
  uc->conn.on_drain = on_up_drain;
  http_parser_reset(s->resp);
  http_parser_expect_head_response(s->resp, ex->head_request);
  if (reused) conn_read_start(&uc->conn);
  if (!ex->upstream_start_ns) ex->upstream_start_ns = uv_hrtime();
  if (!reused && px->limits.connect_timeout_ms)
    ex->connect_deadline = uv_now(px->loop) + px->limits.connect_timeout_ms;
  struct slice parts[3] = {{ex->head_out.data, ex->head_out.len}, {NULL, 0}, {NULL, 0}};
  size_t np = 1;
  if (ex->retried && ex->body_copy.len) {
    /* Re-send: the kept body goes out in one piece, framed as the head says. */
    if (ex->req_framing == HTTP_FRAMING_CHUNKED) {
      buf_reset(&ex->scratch);
      http_head_write_chunk_header(&ex->scratch, ex->body_copy.len);
      parts[np++] = (struct slice){ex->scratch.data, ex->scratch.len};
    }
    parts[np++] = (struct slice){ex->body_copy.data, ex->body_copy.len};
  }
  if (conn_writev(&uc->conn, parts, np) != 0 ||
      (ex->retried && ex->req_framing == HTTP_FRAMING_CHUNKED && ex->body_copy.len &&
       conn_write(&uc->conn, "\r\n", 2) != 0) ||
      (ex->retried && ex->req_done && ex->req_framing == HTTP_FRAMING_CHUNKED && conn_write(&uc->conn, "0\r\n\r\n", 5) != 0)) {
    upstream_failed(s, FLAG_UC, "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                    "upstream_reset_before_response_started{connection_termination}", NULL);
    return;
  }
  arm_exchange(s);
}

/* ---- downstream side ------------------------------------------------------------------- */

static void config_unref(struct config_ref *r) {
  if (r && --r->refs == 0) {
    proxy_config_free(r->cfg);
    free(r);
  }
}

/* Releases what routing took for the exchange: its cluster and host, its config. */
static void exchange_unroute(struct exchange *ex) {
  if (ex->cluster || ex->up) cluster_release(ex->cluster, ex->up);
  config_unref(ex->config);
  ex->cluster = NULL;
  ex->up = NULL;
  ex->config = NULL;
  ex->route = NULL;
}

/* Routes the request with the current config and picks a host: returns 1 with ex->cluster and
 * ex->up set (and referenced), or 0 after answering locally (NR, NC, UH, a redirect or a direct
 * response), as Envoy's router does. */
static int route_request(struct session *s, struct http_head *h) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  if (!px->config) {
    local_reply(s, 404, FLAG_NR, NULL, "route_not_found", NULL);
    return 0;
  }
  ex->config = px->config;
  ex->config->refs++;
  struct router_request rq = {0};
  rq.direction = s->l->dir;
  rq.authority = ex->authority;
  rq.path = ex->path;
  rq.method = h->method;
  rq.head = h;
  rq.port = s->l->port;
  struct route_decision d;
  enum router_verdict v = router_route(ex->config->cfg, &rq, &px->rng, &d);
  ex->route = d.route;
  switch (v) {
    case ROUTER_NO_ROUTE:
      local_reply(s, 404, FLAG_NR, NULL, "route_not_found", NULL);
      return 0;
    case ROUTER_NO_CLUSTER:
      local_reply(s, 503, FLAG_NC, NULL, "cluster_not_found", NULL);
      return 0;
    case ROUTER_DIRECT_RESPONSE: {
      const struct resource_direct_response *dr = &d.route->direct_response;
      local_reply(s, (int)dr->status, 0, dr->body, "direct_response", NULL);
      return 0;
    }
    case ROUTER_REDIRECT: {
      const struct resource_redirect *rd = &d.route->redirect;
      char location[512];
      struct slice host = ex->authority;
      snprintf(location, sizeof location, "location: %s://%.*s%s\r\n", rd->scheme ? rd->scheme : "http",
               rd->authority ? (int)strlen(rd->authority) : (int)host.n, rd->authority ? rd->authority : host.p,
               rd->uri ? rd->uri : "/");
      local_reply(s, (int)rd->redirect_code.value, 0, NULL, "redirect", location);
      return 0;
    }
    case ROUTER_ROUTE:
      break;
  }
  struct cluster *c = cluster_manager_find(&px->clusters, d.cluster->name);
  if (!c) {
    local_reply(s, 503, FLAG_NC, NULL, "cluster_not_found", NULL);
    return 0;
  }
  uint64_t hash;
  const uint64_t *key = NULL;
  if (d.cluster->policy.load_balancer.hash_present &&
      lb_hash_request(&d.cluster->policy.load_balancer.consistent_hash, h, ex->path, s->client_ip, &hash))
    key = &hash;
  if (cluster_pick(c, key, &px->rng, &ex->up, NULL) != LB_PICKED) {
    local_reply(s, 503, FLAG_UH, "no healthy upstream", "no_healthy_upstream", NULL);
    return 0;
  }
  ex->cluster = c;
  return 1;
}

static int on_req_head(void *owner, struct http_head *h) {
  struct session *s = owner;
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  uv_timer_stop(&s->timer);
  s->state = SESSION_ACTIVE;
  memset(&ex->flags, 0, sizeof *ex - offsetof(struct exchange, flags));
  ex->cluster = NULL;
  ex->up = NULL;
  ex->config = NULL;
  ex->route = NULL;
  ex->uc = NULL;
  ex->req = h;
  ex->active = 1;
  ex->start_ns = uv_hrtime();
  ex->start_wall_ms = wall_ms();
  ex->body_kept = 1;
  ex->close_after = !h->keep_alive || px->draining;
  ex->head_request = slice_eq_str_nocase(h->method, "HEAD");
  px->stats.downstream_rq_total++;
  px->stats.downstream_rq_active++;

  const struct slice *rid = http_head_find(h, "x-request-id");
  struct slice add_rid = {0};
  if (rid && rid->n) {
    ex->rid = *rid;
  } else {
    rng_uuid(&px->rng, ex->request_id);
    ex->rid = add_rid = (struct slice){ex->request_id, 36};
  }
  if (http_head_split_target(h->target, &ex->authority, &ex->path) != 0) {
    ex->path = h->target;
    local_reply(s, 400, FLAG_DPE, "invalid request target", "http1.invalid_url", NULL);
    ex->close_after = 1;
    return 0;
  }
  if (!ex->authority.n) {
    const struct slice *host = http_head_find(h, "host");
    if (host) ex->authority = *host;
  }
  if (!route_request(s, h)) return 0;
  ex->up->stats.rq_total++;
  ex->up->stats.rq_active++;
  if (h->chunked) ex->req_framing = HTTP_FRAMING_CHUNKED;
  else if (h->content_length >= 0) ex->req_framing = HTTP_FRAMING_LENGTH;
  else ex->req_framing = HTTP_FRAMING_NONE;

  ex->has_source = 0;
  if (px->telemetry.enabled && s->l->dir == XDS_INBOUND) {
    const struct slice *peer = http_head_find(h, "x-meshlab-peer");
    ex->has_source = peer && telemetry_peer_parse(*peer, &ex->source) == 0;
  }
  struct http_forward fw = {0};
  fw.target = ex->path;
  if (px->telemetry.enabled && s->l->dir != XDS_INBOUND) fw.peer = slice_from(px->self_peer);
  if (h->target.n && h->target.p[0] != '/') fw.host = ex->authority; /* absolute-form: RFC 9112 3.2.2 */
  /* An HTTP/1.0 request may come without Host; HTTP/1.1 upstream requires one, so name the
   * upstream the way nginx's default `proxy_set_header Host $proxy_host` does. */
  if (!ex->authority.n) fw.host = slice_from(ex->up->addr.text);
  fw.client_ip = s->client_ip;
  fw.proto = SLICE_LIT("http");
  fw.request_id = add_rid;
  fw.framing = ex->req_framing;
  fw.content_length = h->content_length;
  buf_reset(&ex->head_out);
  if (http_head_write_request(&ex->head_out, h, &fw) != 0) return -1;
  exchange_send(s);
  return 0;
}

static int on_req_body(void *owner, const char *p, size_t n) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  ex->bytes_in += n;
  if (ex->body_kept) {
    if (ex->body_copy.len + n <= RESEND_BODY_LIMIT) buf_append(&ex->body_copy, p, n);
    else {
      ex->body_kept = 0;
      buf_free(&ex->body_copy);
    }
  }
  if (!ex->uc) return 0; /* answered locally: the body is read and dropped */
  struct conn *up = &ex->uc->conn;
  int rc;
  if (ex->req_framing == HTTP_FRAMING_CHUNKED) {
    char hdr[24];
    int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
    struct slice parts[3] = {{hdr, (size_t)hn}, {p, n}, {"\r\n", 2}};
    rc = conn_writev(up, parts, 3);
  } else {
    rc = conn_write(up, p, n);
  }
  if (rc != 0) {
    upstream_failed(s, FLAG_UC, "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                    "upstream_reset_before_response_started{connection_termination}", NULL);
    return 0;
  }
  if (conn_write_blocked(up) && !s->read_paused) {
    s->read_paused = 1;
    conn_read_stop(&s->conn);
  }
  return 0;
}

static int on_req_complete(void *owner) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  struct proxy *px = s->px;
  if (s->state == SESSION_CLOSING) return -1;
  ex->req_done = 1;
  if (ex->uc && ex->req_framing == HTTP_FRAMING_CHUNKED && conn_write(&ex->uc->conn, "0\r\n\r\n", 5) != 0) {
    upstream_failed(s, FLAG_UC, "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                    "upstream_reset_before_response_started{connection_termination}", NULL);
    return 0;
  }
  if (ex->resp_done) {
    exchange_finish(s);
    return 0;
  }
  /* Envoy's route timeout runs from the end of the downstream request. */
  if (px->limits.request_timeout_ms) ex->request_deadline = uv_now(px->loop) + px->limits.request_timeout_ms;
  arm_exchange(s);
  return 0;
}

static void exchange_finish(struct session *s) {
  struct exchange *ex = &s->ex;
  struct proxy *px = s->px;
  if (!ex->active) return;
  record(s);
  px->stats.downstream_rq_active--;
  release_upstream(s, ex->up_keep_alive && ex->req_done && !ex->up_extra);
  exchange_unroute(ex);
  ex->active = 0;
  ex->req = NULL;
  if (ex->body_copy.cap > RESEND_BODY_LIMIT) buf_free(&ex->body_copy);
  else buf_reset(&ex->body_copy);
  if (ex->close_after || px->draining) {
    session_end(s, 1);
    return;
  }
  s->state = SESSION_IDLE;
  arm(s, px->limits.idle_timeout_ms);
  if (s->read_paused && (!ex->uc) && s->pipelined.len < PIPELINE_LIMIT) {
    s->read_paused = 0;
    conn_read_start(&s->conn);
  }
  if (s->pipelined.len && !s->in_feed) {
    struct buf held = s->pipelined;
    memset(&s->pipelined, 0, sizeof s->pipelined);
    session_feed(s, held.data, held.len);
    buf_free(&held);
  }
}

/* Parses downstream bytes: requests one at a time, holding pipelined ones until the current
 * exchange ends. */
static void session_feed(struct session *s, const char *p, size_t n) {
  s->in_feed = 1;
  while (n > 0 && s->state != SESSION_CLOSING) {
    if (s->ex.active && s->ex.req_done) {
      buf_append(&s->pipelined, p, n);
      if (s->pipelined.len >= PIPELINE_LIMIT && !s->read_paused) {
        s->read_paused = 1;
        conn_read_stop(&s->conn);
      }
      break;
    }
    if (s->state == SESSION_IDLE) {
      s->state = SESSION_HEAD;
      arm(s, s->px->limits.header_timeout_ms);
    }
    size_t used = 0;
    int rc = http_parser_execute(s->req, p, n, &used);
    p += used;
    n -= used;
    if (rc == HTTP_PARSE_OK || rc == HTTP_PARSE_DONE) continue;
    if (rc == HTTP_PARSE_ABORTED) break;
    /* Malformed request: answer 400/413/431 and close; nothing of it was forwarded unless the
     * head had already gone upstream (a bad chunk mid-body), which the upstream reset covers. */
    s->px->stats.downstream_cx_protocol_error++;
    struct exchange *ex = &s->ex;
    if (!ex->active) {
      memset(&ex->flags, 0, sizeof *ex - offsetof(struct exchange, flags));
      ex->cluster = NULL;
      ex->up = NULL;
      ex->config = NULL;
      ex->route = NULL;
      ex->req = NULL;
      ex->active = 1;
      ex->start_ns = uv_hrtime();
      ex->start_wall_ms = wall_ms();
      s->px->stats.downstream_rq_total++;
      s->px->stats.downstream_rq_active++;
    }
    ex->close_after = 1;
    ex->req_done = 1;
    int status = http_parser_error_status(s->req);
    char body[160];
    snprintf(body, sizeof body, "%s: %s", http_status_reason(status), http_parser_error_reason(s->req));
    if (ex->resp_started) exchange_abort(s, FLAG_DPE, "http1.codec_error");
    else local_reply(s, status, FLAG_DPE, body, "http1.codec_error", NULL);
    break;
  }
  s->in_feed = 0;
  if (s->state == SESSION_IDLE && !s->ex.active && s->pipelined.len == 0 && !http_parser_idle(s->req)) {
    s->state = SESSION_HEAD;
    arm(s, s->px->limits.header_timeout_ms);
  }
}

static void on_down_read(struct conn *c, int status, const char *data, size_t len) {
  struct session *s = c->data;
  if (s->state == SESSION_CLOSING) return;
  if (status < 0) {
    if (s->ex.active) {
      if (!s->ex.resp_started) s->ex.code = 0;
      exchange_abort(s, FLAG_DC, "downstream_remote_disconnect");
    } else {
      session_close(s);
    }
    return;
  }
  session_feed(s, data, len);
}

static void on_down_drain(struct conn *c) {
  struct session *s = c->data;
  if (s->state != SESSION_CLOSING && s->ex.uc && s->ex.uc->connected) conn_read_start(&s->ex.uc->conn);
}

static void on_session_timer(uv_timer_t *t) {
  struct session *s = container_of(t, struct session, timer);
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  switch (s->state) {
    case SESSION_IDLE:
      session_close(s);
      return;
    case SESSION_HEAD:
      /* Slow or stuck client: Envoy's request_headers_timeout answers 408 and closes. */
      px->stats.downstream_rq_timeout++;
      memset(&ex->flags, 0, sizeof *ex - offsetof(struct exchange, flags));
      ex->cluster = NULL;
      ex->up = NULL;
      ex->config = NULL;
      ex->route = NULL;
      ex->req = NULL;
      ex->active = 1;
      ex->req_done = 1;
      ex->close_after = 1;
      ex->start_ns = uv_hrtime();
      ex->start_wall_ms = wall_ms();
      px->stats.downstream_rq_total++;
      px->stats.downstream_rq_active++;
      local_reply(s, 408, 0, "request header timeout", "request_header_timeout", NULL);
      return;
    case SESSION_ACTIVE: {
      uint64_t now = uv_now(px->loop);
      if (ex->connecting && ex->connect_deadline && now >= ex->connect_deadline) {
        if (ex->up) ex->up->stats.cx_connect_fail++;
        upstream_failed(s, FLAG_UF,
                        "upstream connect error or disconnect/reset before headers. reset reason: connection timeout",
                        "upstream_reset_before_response_started{connection_timeout}", "connection timeout");
        return;
      }
      if (ex->request_deadline && now >= ex->request_deadline) {
        if (ex->up) ex->up->stats.rq_timeout++;
        ex->request_deadline = 0;
        if (ex->resp_started) exchange_abort(s, FLAG_UT, "response_timeout");
        else local_reply(s, 504, FLAG_UT, "upstream request timeout", "response_timeout", NULL);
        return;
      }
      arm_exchange(s);
      return;
    }
    case SESSION_CLOSING:
      return;
  }
}

/* ---- session lifetime ------------------------------------------------------------------ */

static void session_free(struct session *s) {
  struct proxy *px = s->px;
  if (s->prev) s->prev->next = s->next;
  else px->sessions = s->next;
  if (s->next) s->next->prev = s->prev;
  http_parser_free(s->req);
  http_parser_free(s->resp);
  buf_free(&s->pipelined);
  buf_free(&s->ex.head_out);
  buf_free(&s->ex.scratch);
  buf_free(&s->ex.body_copy);
  px->stats.downstream_cx_active--;
  px->live_handles--;
  free(s);
  proxy_try_finish(px);
}

static void on_session_handle_closed(uv_handle_t *h) {
  struct session *s = container_of((uv_timer_t *)h, struct session, timer);
  if (--s->handles == 0) session_free(s);
}

static void on_session_conn_closed(struct conn *c) {
  struct session *s = c->data;
  if (--s->handles == 0) session_free(s);
}

/* Ends the session: graceful lets queued response bytes reach the client first. */
static void session_end(struct session *s, int graceful) {
  if (s->state == SESSION_CLOSING && s->conn.closing) return;
  struct exchange *ex = &s->ex;
  if (ex->active) {
    release_upstream(s, 0);
    record(s);
    s->px->stats.downstream_rq_active--;
    exchange_unroute(ex);
    ex->active = 0;
  }
  s->state = SESSION_CLOSING;
  if (s->timer.data) {
    s->timer.data = NULL;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_session_handle_closed);
  }
  if (graceful) conn_close_after_write(&s->conn);
  else conn_close(&s->conn);
}

static void session_close(struct session *s) { session_end(s, 0); }

static void on_connection(uv_stream_t *server, int status) {
  struct proxy_listener *l = server->data;
  struct proxy *px = l->px;
  if (status < 0 || px->draining) return;
  struct session *s = calloc(1, sizeof *s);
  if (!s) return;
  s->px = px;
  s->l = l;
  int rc = conn_accept(&s->conn, &px->env, server, l->kind);
  s->conn.data = s;
  s->conn.on_close = on_session_conn_closed;
  s->conn.on_read = on_down_read;
  s->conn.on_drain = on_down_drain;
  s->handles = 1;
  s->next = px->sessions;
  if (px->sessions) px->sessions->prev = s;
  px->sessions = s;
  px->live_handles++;
  px->stats.downstream_cx_total++;
  px->stats.downstream_cx_active++;
  uv_timer_init(px->loop, &s->timer);
  s->timer.data = s;
  s->handles++;
  s->req = http_parser_new(HTTP_PARSE_REQUEST, &px->req_cbs, &px->req_limits, s);
  s->resp = http_parser_new(HTTP_PARSE_RESPONSE, &px->resp_cbs, &px->resp_limits, s);
  if (rc != 0 || !s->req || !s->resp) {
    session_close(s);
    return;
  }
  conn_peer_name(&s->conn, s->peer, sizeof s->peer);
  conn_local_name(&s->conn, s->local, sizeof s->local);
  /* X-Forwarded-For carries the address without the port. */
  const char *colon = strrchr(s->peer, ':');
  size_t iplen = colon ? (size_t)(colon - s->peer) : strlen(s->peer);
  if (s->peer[0] == '[' && iplen >= 2) s->client_ip = (struct slice){s->peer + 1, iplen - 2};
  else s->client_ip = (struct slice){s->peer, iplen};
  if (l->kind == CONN_PIPE) s->client_ip = SLICE_LIT("127.0.0.1");
  s->state = SESSION_IDLE;
  arm(s, px->limits.idle_timeout_ms);
  conn_read_start(&s->conn);
}

/* ---- the proxy ------------------------------------------------------------------------- */

static void on_flush(uv_prepare_t *h) {
  struct proxy *px = h->data;
  accesslog_flush(px->log);
  if (px->clusters.nretired_hosts || px->clusters.retired) cluster_manager_collect(&px->clusters);
  if (px->draining) proxy_try_finish(px);
}

int proxy_init(struct proxy *px, uv_loop_t *loop, const struct proxy_limits *limits) {
  memset(px, 0, sizeof *px);
  px->loop = loop;
  px->limits = *limits;
  int rc = conn_env_init(&px->env, loop, 64 * 1024);
  if (rc != 0) return rc;
  px->req_limits = (struct http_limits){limits->max_head_bytes, limits->max_headers, limits->max_request_body};
  px->resp_limits = (struct http_limits){limits->max_head_bytes, limits->max_headers, 0};
  px->req_cbs = (struct http_parser_cbs){on_req_head, on_req_body, on_req_complete};
  px->resp_cbs = (struct http_parser_cbs){on_resp_head, on_resp_body, on_resp_complete};
  rng_seed_os(&px->rng);
  cluster_manager_init(&px->clusters, &px->env, &px->live_handles);
  uv_prepare_init(loop, &px->flush);
  px->flush.data = px;
  uv_prepare_start(&px->flush, on_flush);
  uv_unref((uv_handle_t *)&px->flush);
  uv_timer_init(loop, &px->drain_timer);
  px->drain_timer.data = px;
  uv_unref((uv_handle_t *)&px->drain_timer);
  return 0;
}

int proxy_listen(struct proxy *px, const struct conn_addr *addr, enum xds_direction dir, uint32_t port,
                 const char *name, struct proxy_listener **out) {
  struct proxy_listener *l = calloc(1, sizeof *l);
  if (!l) return -ENOMEM;
  l->px = px;
  l->dir = dir;
  l->port = port;
  l->kind = addr->kind;
  snprintf(l->name, sizeof l->name, "%s", name);
  int rc;
  if (addr->kind == CONN_TCP) {
    uv_tcp_init(px->loop, &l->h.tcp);
    rc = uv_tcp_bind(&l->h.tcp, (const struct sockaddr *)&addr->sa, 0);
  } else {
    uv_pipe_init(px->loop, &l->h.pipe, 0);
    rc = uv_pipe_bind(&l->h.pipe, addr->path);
  }
  l->h.handle.data = l;
  if (rc == 0) rc = uv_listen(&l->h.stream, 1024, on_connection);
  if (rc != 0) {
    uv_close(&l->h.handle, (uv_close_cb)free);
    return rc;
  }
  if (addr->kind == CONN_TCP) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len);
    conn_addr_format((struct sockaddr *)&ss, l->address, sizeof l->address);
  } else {
    snprintf(l->address, sizeof l->address, "unix:%s", addr->path);
  }
  l->next = px->listeners;
  px->listeners = l;
  px->live_handles++;
  if (out) *out = l;
  return 0;
}

int proxy_set_config(struct proxy *px, struct proxy_config *cfg) {
  struct config_ref *r = calloc(1, sizeof *r);
  if (!r) {
    proxy_config_free(cfg);
    return -ENOMEM;
  }
  r->cfg = cfg;
  r->refs = 1;
  int rc = cluster_manager_apply(&px->clusters, cfg);
  if (rc != 0 && px->config) {
    /* Put the clusters back as the config in force has them. */
    cluster_manager_apply(&px->clusters, px->config->cfg);
    config_unref(r);
    return rc;
  }
  config_unref(px->config);
  px->config = r;
  /* Who this proxy is, for Istio's metrics and the peer header. */
  telemetry_peer_set(&px->telemetry.self, cfg->node, cfg->ns, resource_map_get(&cfg->labels, "app"),
                     resource_map_get(&cfg->labels, "version"));
  telemetry_peer_format(&px->telemetry.self, px->self_peer, sizeof px->self_peer);
  return rc;
}

uint64_t proxy_config_version(const struct proxy *px) { return px->config ? px->config->cfg->version : 0; }

static void on_listener_closed(uv_handle_t *h) {
  struct proxy_listener *l = h->data;
  struct proxy *px = l->px;
  px->live_handles--;
  free(l);
  proxy_try_finish(px);
}

static void on_drain_timeout(uv_timer_t *t) {
  struct proxy *px = t->data;
  /* The grace period is over: cut what is still running. */
  struct session *s = px->sessions;
  while (s) {
    struct session *next = s->next;
    if (s->ex.active) exchange_abort(s, FLAG_LR, "drain_timeout");
    else session_close(s);
    s = next;
  }
}

static void on_final_close(uv_handle_t *h) {
  struct proxy *px = h->data;
  if (--px->final_handles == 0 && px->on_closed) px->on_closed(px);
}

static void proxy_try_finish(struct proxy *px) {
  if (!px->draining || px->closing) return;
  if (px->sessions) return;
  cluster_manager_close_idle(&px->clusters);
  if (px->live_handles > 0) return;
  px->closing = 1;
  px->final_handles = 2;
  accesslog_flush(px->log);
  uv_close((uv_handle_t *)&px->flush, on_final_close);
  uv_close((uv_handle_t *)&px->drain_timer, on_final_close);
}

void proxy_shutdown(struct proxy *px, proxy_closed_cb on_closed) {
  if (px->draining) return;
  px->draining = 1;
  px->on_closed = on_closed;
  struct proxy_listener *l = px->listeners;
  px->listeners = NULL;
  while (l) {
    struct proxy_listener *next = l->next;
    uv_close(&l->h.handle, on_listener_closed);
    l = next;
  }
  struct session *s = px->sessions;
  while (s) {
    struct session *next = s->next;
    if (!s->ex.active) session_close(s);
    else s->ex.close_after = 1;
    s = next;
  }
  if (px->limits.drain_timeout_ms) {
    uv_ref((uv_handle_t *)&px->drain_timer);
    uv_timer_start(&px->drain_timer, on_drain_timeout, px->limits.drain_timeout_ms, 0);
  }
  uv_ref((uv_handle_t *)&px->flush);
  proxy_try_finish(px);
}

size_t proxy_buffered_bytes(const struct proxy *px) {
  size_t n = 0;
  for (const struct session *s = px->sessions; s; s = s->next) {
    n += s->conn.queued + s->pipelined.len + s->ex.body_copy.len;
    if (s->ex.uc) n += s->ex.uc->conn.queued;
  }
  return n;
}

void proxy_free(struct proxy *px) {
  telemetry_free(&px->telemetry);
  cluster_manager_free(&px->clusters);
  config_unref(px->config);
  px->config = NULL;
  conn_env_free(&px->env);
}
