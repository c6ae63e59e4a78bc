/* The proxy engine: sessions, exchanges, local replies, timeouts and graceful drain.
 * See proxy.h for the request path. Local reply bodies and response code details follow
 * Envoy's wording, so the strings a learner sees here are the ones Istio shows.
 * Its neighbours (proxy_internal.h): filters.c runs the filter chain on a parsed request,
 * exchange.c its tries upstream, proxy_record.c the stats, metrics and access log at its end.
 */
#include "mesh/proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mesh/flags.h"
#include "mesh/http_head.h"
#include "mesh/proxy_internal.h"
#include "mesh/tls.h"

static void session_feed(struct session *s, const char *p, size_t n);
static void session_end(struct session *s, int graceful);
static void proxy_try_finish(struct proxy *px);

void proxy_limits_default(struct proxy_limits *l) {
  l->max_head_bytes = 60 * 1024;
  l->max_headers = 100;
  l->max_request_body = 0;
  l->header_timeout_ms = 10000;
  l->idle_timeout_ms = 300000;
  l->connect_timeout_ms = 10000;
  l->request_timeout_ms = 0;
  l->stream_idle_timeout_ms = 300000;
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

/* During an exchange the timer follows the nearest deadline: connect, per-try, route, the end
 * of a wait (fault delay, retry backoff), or the stream idle timeout counted from the last
 * progress. Progress only moves progress_ms; when the timer fires early for it, the exchange
 * re-arms here for the new nearest deadline. */
void session_arm_exchange(struct session *s) {
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return;
  uint64_t now = uv_now(s->px->loop), next = 0;
  uint64_t idle = s->px->limits.stream_idle_timeout_ms;
  uint64_t deadlines[5] = {ex->connecting ? ex->connect_deadline : 0, ex->request_deadline, ex->try_deadline,
                           ex->wait_until, idle && s->state == SESSION_ACTIVE ? s->progress_ms + idle : 0};
  for (size_t i = 0; i < 5; i++)
    if (deadlines[i] && (!next || deadlines[i] < next)) next = deadlines[i];
  if (!next) {
    uv_timer_stop(&s->timer);
    return;
  }
  /* Already due no later: keep it. Firing early is harmless (the exchange finds nothing due and
   * re-arms), and it spares a timer-heap update for each request on the hot path, where the
   * nearest deadline is usually the stream idle one armed when the head arrived. */
  if (uv_is_active((uv_handle_t *)&s->timer) && now + uv_timer_get_due_in(&s->timer) <= next) return;
  uv_timer_start(&s->timer, on_session_timer, next > now ? next - now : 1, 0);
}

/* ---- upstream side --------------------------------------------------------------------- */

void session_write_down(struct session *s, const char *p, size_t n) {
  if (s->state == SESSION_CLOSING) return;
  if (conn_write(&s->conn, p, n) != 0) {
    session_close(s);
    return;
  }
  if (s->ex.uc && conn_write_blocked(&s->conn)) conn_read_stop(&s->ex.uc->conn);
}

/* A reply the proxy makes itself (no route, connect failure, timeout...). */
void session_local_reply(struct session *s, int status, uint32_t flags, const char *body, const char *details,
                         const char *extra_headers) {
  struct exchange *ex = &s->ex;
  ex->flags |= flags;
  ex->details = details;
  if (ex->resp_started) return;
  exchange_release_upstream(s, 0);
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
  char extra[1024]; /* room for jwt_authn's www-authenticate with the request's URL */
  char flags_text[64];
  flags_format(ex->flags, flags_text, sizeof flags_text);
  snprintf(extra, sizeof extra, "%s%s%s%s", ex->flags ? "x-meshlab-response-flags: " : "", ex->flags ? flags_text : "",
           ex->flags ? "\r\n" : "", extra_headers ? extra_headers : "");
  struct buf *out = &ex->scratch;
  buf_reset(out);
  http_head_write_local_reply(out, status, body, extra, minor, ex->close_after);
  ex->bytes_out += body ? strlen(body) : 0;
  session_write_down(s, out->data, out->len);
  if (ex->req_done) session_exchange_done(s);
}

/* The request ended in failure after the response started: all the proxy can do is cut the
 * client's connection, as Envoy does, so the client sees a truncated response. */
void session_abort(struct session *s, uint32_t flags, const char *details) {
  struct exchange *ex = &s->ex;
  ex->flags |= flags;
  ex->details = details;
  exchange_release_upstream(s, 0);
  if (ex->active) {
    session_record(s);
    s->px->stats.downstream_rq_active--;
    exchange_unroute(ex);
    ex->active = 0;
  }
  session_close(s);
}

/* ---- downstream side ------------------------------------------------------------------- */

/* Starts the session's next exchange: its per-request state cleared, counted as a downstream
 * request and timed from now. h is the request's head, or NULL for a local reply to a request
 * whose head never completed (a malformed or timed-out one). */
static void exchange_begin(struct session *s, struct http_head *h) {
  struct exchange *ex = &s->ex;
  memset(&ex->flags, 0, sizeof *ex - offsetof(struct exchange, flags));
  trace_record_clear(&ex->trace);
  ex->cluster = NULL;
  ex->up = NULL;
  ex->config = NULL;
  ex->route = NULL;
  ex->req = h;
  ex->active = 1;
  ex->start_ns = uv_hrtime();
  ex->start_wall_ms = wall_ms();
  s->px->stats.downstream_rq_total++;
  s->px->stats.downstream_rq_active++;
}

static int on_req_head(void *owner, struct http_head *h) {
  struct session *s = owner;
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  /* From here the stream idle timeout guards the request (a local reply that leaves a body to
   * read and drop included); the exchange re-arms for its own deadlines as it goes. */
  s->state = SESSION_ACTIVE;
  session_progress(s);
  arm(s, px->limits.stream_idle_timeout_ms);
  exchange_begin(s, h);
  ex->route_service[0] = '\0';
  ex->catch_all = NULL;
  ex->uc = NULL;
  ex->body_kept = 1;
  ex->close_after = !h->keep_alive || px->draining || s->retired;
  ex->head_request = slice_eq_str_nocase(h->method, "HEAD");
  buf_reset(&ex->added_headers);

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
    session_local_reply(s, 400, FLAG_DPE, "invalid request target", "http1.invalid_url", NULL);
    ex->close_after = 1;
    return 0;
  }
  if (!ex->authority.n) {
    const struct slice *host = http_head_find(h, "host");
    if (host) ex->authority = *host;
  }
  if (h->chunked) ex->req_framing = HTTP_FRAMING_CHUNKED;
  else if (h->content_length >= 0) ex->req_framing = HTTP_FRAMING_LENGTH;
  else ex->req_framing = HTTP_FRAMING_NONE;
  if (!filters_run(s, h)) return 0;

  ex->has_source = 0;
  if (px->telemetry.enabled && s->dir == XDS_INBOUND) {
    const struct slice *peer = http_head_find(h, "x-meshlab-peer");
    ex->has_source = peer && telemetry_peer_parse(*peer, &ex->source) == 0;
  }
  struct http_forward fw = {0};
  fw.target = ex->path;
  if (px->telemetry.enabled && s->dir != XDS_INBOUND) fw.peer = slice_from(px->self_peer);
  if (h->target.n && h->target.p[0] != '/') fw.host = ex->authority; /* absolute-form: RFC 9112 3.2.2 */
  /* An HTTP/1.0 request may come without Host; HTTP/1.1 upstream requires one, so name the
   * upstream the way nginx's default `proxy_set_header Host $proxy_host` does. */
  if (!ex->authority.n) fw.host = slice_from(ex->up->addr.text);
  fw.client_ip = s->client_ip;
  fw.proto = SLICE_LIT("http");
  fw.request_id = add_rid;
  fw.framing = ex->req_framing;
  fw.content_length = h->content_length;
  if (ex->added_headers.len && buf_append(&ex->added_headers, "", 1) == 0) fw.extra_headers = ex->added_headers.data;
  buf_reset(&ex->head_out);
  if (http_head_write_request(&ex->head_out, h, &fw) != 0) return -1;
  exchange_start(s);
  return 0;
}

static int on_req_body(void *owner, const char *p, size_t n) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  ex->bytes_in += n;
  exchange_body(s, p, n);
  return 0;
}

static int on_req_complete(void *owner) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  ex->req_done = 1;
  if (ex->resp_done) {
    session_exchange_done(s);
    return 0;
  }
  if (ex->routed) exchange_request_done(s);
  return 0;
}

void session_exchange_done(struct session *s) {
  struct exchange *ex = &s->ex;
  struct proxy *px = s->px;
  if (!ex->active) return;
  session_record(s);
  px->stats.downstream_rq_active--;
  exchange_release_upstream(s, ex->up_keep_alive && ex->req_done && !ex->up_extra);
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
    if (!ex->active) exchange_begin(s, NULL);
    ex->close_after = 1;
    ex->req_done = 1;
    int status = http_parser_error_status(s->req);
    char body[160];
    snprintf(body, sizeof body, "%s: %s", http_status_reason(status), http_parser_error_reason(s->req));
    if (ex->resp_started) session_abort(s, FLAG_DPE, "http1.codec_error");
    else session_local_reply(s, status, FLAG_DPE, body, "http1.codec_error", NULL);
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
  session_progress(s);
  if (status < 0) {
    if (s->ex.active) {
      if (!s->ex.resp_started) s->ex.code = 0;
      session_abort(s, FLAG_DC, "downstream_remote_disconnect");
    } else {
      session_close(s);
    }
    return;
  }
  session_feed(s, data, len);
}

static void on_down_drain(struct conn *c) {
  struct session *s = c->data;
  session_progress(s);
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
    exchange_begin(s, NULL);
    ex->req_done = 1;
    ex->close_after = 1;
    session_local_reply(s, 408, 0, "request header timeout", "request_header_timeout", NULL);
    return;
  case SESSION_ACTIVE:
    exchange_on_timer(s);
    return;
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
  buf_free(&s->ex.added_headers);
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
    exchange_release_upstream(s, 0);
    session_record(s);
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

void session_close(struct session *s) { session_end(s, 0); }

/* What an accepted connection must speak: a sidecar's inbound listener applies the pushed
 * PeerAuthentication mode of its port (Envoy's inbound filter chains: STRICT has only the TLS
 * chain, PERMISSIVE both behind tls_inspector); everything else, and any proxy without an
 * identity, is plaintext. Read at accept time; a push that changes it retires the connections
 * accepted under the old mode (retire_misfits). */
static enum conn_tls_accept listener_tls(const struct proxy *px, enum xds_direction dir, enum conn_kind kind,
                                         uint32_t port) {
  if (!px->identity || dir != XDS_INBOUND || kind != CONN_TCP) return CONN_ACCEPT_PLAIN;
  const struct xds_route_config *rc = px->config ? proxy_config_listener(px->config->cfg, XDS_INBOUND, port) : NULL;
  enum resource_mtls_mode m = rc ? rc->mtls : RESOURCE_MTLS_PERMISSIVE;
  switch (m) {
  case RESOURCE_MTLS_DISABLE:
    return CONN_ACCEPT_PLAIN;
  case RESOURCE_MTLS_STRICT:
    return CONN_ACCEPT_TLS_ONLY;
  case RESOURCE_MTLS_UNSET:
  case RESOURCE_MTLS_PERMISSIVE:
    return CONN_ACCEPT_EITHER;
  }
  return CONN_ACCEPT_EITHER;
}

static void on_connection(uv_stream_t *server, int status) {
  struct proxy_listener *l = server->data;
  struct proxy *px = l->px;
  if (status < 0 || px->draining) return;
  struct session *s = calloc(1, sizeof *s);
  if (!s) return;
  s->px = px;
  s->dir = l->dir;
  s->lport = l->port;
  snprintf(s->lname, sizeof s->lname, "%s", l->name);
  int rc = conn_accept(&s->conn, &px->env, server, l->kind);
  if (rc == 0) rc = conn_tls_server(&s->conn, px->identity, listener_tls(px, l->dir, l->kind, l->port));
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

/* A host ejected or back: the lab's view of the cluster changed though no request may follow,
 * so the telemetry goes dirty and a report is taken (report.h). */
static void on_outlier_change(struct cluster_manager *cm, struct cluster *c) {
  (void)c;
  struct proxy *px = cm->data;
  if (px->telemetry.enabled) telemetry_touch(&px->telemetry);
}

int proxy_init(struct proxy *px, uv_loop_t *loop, const struct proxy_limits *limits) {
  memset(px, 0, sizeof *px);
  px->loop = loop;
  px->limits = *limits;
  int rc = conn_env_init(&px->env, loop, 64 * 1024);
  if (rc != 0) return rc;
  if ((rc = trace_store_init(&px->traces, 128)) != 0) {
    conn_env_free(&px->env);
    return rc;
  }
  px->req_limits = (struct http_limits){limits->max_head_bytes, limits->max_headers, limits->max_request_body};
  px->resp_limits = (struct http_limits){limits->max_head_bytes, limits->max_headers, 0};
  px->req_cbs = (struct http_parser_cbs){on_req_head, on_req_body, on_req_complete};
  px->resp_cbs = (struct http_parser_cbs){exchange_on_resp_head, exchange_on_resp_body, exchange_on_resp_complete};
  rng_seed_os(&px->rng);
  cluster_manager_init(&px->clusters, &px->env, &px->live_handles);
  mirror_set_init(&px->mirrors, loop, &px->live_handles, &px->resp_limits);
  px->clusters.on_capacity = exchange_on_capacity;
  px->clusters.on_outlier_change = on_outlier_change;
  px->clusters.data = px;
  px->clusters.identity = &px->identity;
  snprintf(px->name, sizeof px->name, "proxy");
  uv_timer_init(loop, &px->sweep_timer);
  px->sweep_timer.data = px;
  uv_unref((uv_handle_t *)&px->sweep_timer);
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

/* Outlier detection's interval sweep: one timer for every cluster, armed for the soonest due
 * sweep, and only while some cluster has outlierDetection. */
static void on_sweep(uv_timer_t *t);

static void sweep_arm(struct proxy *px) {
  if (px->draining) return;
  int64_t now = (int64_t)uv_now(px->loop);
  int64_t next = cluster_manager_sweep(&px->clusters, now);
  if (!next) {
    uv_timer_stop(&px->sweep_timer);
    return;
  }
  uv_timer_start(&px->sweep_timer, on_sweep, next > now ? (uint64_t)(next - now) : 1, 0);
}

static void on_sweep(uv_timer_t *t) { sweep_arm(t->data); }

/* A push that changes what an inbound port accepts (a PeerAuthentication turned STRICT, say)
 * retires the connections accepted under the old mode, as Envoy drains the connections of a
 * listener's replaced filter chains: an idle one closes now, a busy one after its response.
 * Without it a plaintext keep-alive connection would outlive STRICT. */
static void retire_misfits(struct proxy *px) {
  struct session *s = px->sessions;
  while (s) {
    struct session *next = s->next;
    enum conn_tls_accept now = listener_tls(px, s->dir, s->conn.kind, s->lport);
    bool fits = now == CONN_ACCEPT_EITHER || (now == CONN_ACCEPT_TLS_ONLY) == conn_is_tls(&s->conn);
    if (!fits && s->state == SESSION_IDLE) {
      session_close(s);
    } else if (!fits) {
      s->retired = 1;
      s->ex.close_after = 1;
    }
    s = next;
  }
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
  retire_misfits(px);
  sweep_arm(px);
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
    if (s->ex.active) session_abort(s, FLAG_LR, "drain_timeout");
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
  px->final_handles = 3;
  accesslog_flush(px->log);
  uv_close((uv_handle_t *)&px->flush, on_final_close);
  uv_close((uv_handle_t *)&px->drain_timer, on_final_close);
  uv_close((uv_handle_t *)&px->sweep_timer, on_final_close);
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
  /* Shadows are fire and forget: they never hold a drain open (Envoy resets its async client
   * streams when it stops). */
  mirror_set_cancel(&px->mirrors);
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

void proxy_set_identity(struct proxy *px, struct tls_ctx *ctx) {
  tls_ctx_unref(px->identity); /* connections made with it hold their own reference */
  px->identity = ctx;
}

void proxy_free(struct proxy *px) {
  jwks_cache_free(&px->jwks);
  tls_ctx_unref(px->identity);
  px->identity = NULL;
  telemetry_free(&px->telemetry);
  trace_store_free(&px->traces);
  cluster_manager_free(&px->clusters);
  config_unref(px->config);
  px->config = NULL;
  conn_env_free(&px->env);
}
