/* exchange: the tries of one request, where the mesh's resilience lives.
 *
 * Where it sits: proxy.c parsed a request head on a downstream session; filters.c ran the
 * filter chain (rate limit, router, fault draw, the first host pick) and the request goes
 * upstream: exchange_start() waits out a fault delay, then starts the first try.
 *
 * and each try then goes through:
 *
 *   breaker (breaker.c)      http2MaxRequests, then an idle connection, a new one within
 *                            maxConnections, a wait in the pending queue, or overflow (UO)
 *   upstream (upstream.c)    the connection; the head and the kept body are written
 *   response                 the status is reported to outlier detection (outlier.c), and the
 *                            retry policy (retry.c) decides: forward it, or drop it and try
 *                            again after a jittered backoff on another host, within the
 *                            attempts and the cluster's maxRetries (else URX or UO)
 *
 * Timers: the route timeout (VirtualService `timeout`, from the end of the request, 504 UT),
 * the per-try timeout (retries.perTryTimeout), the connect timeout, the fault delay and the
 * retry backoff all share the session's one timer, armed for the nearest.
 *
 * Every decision is written into the exchange's trace record (trace.h) through
 * exchange_trace.c, committed when the request ends, which is what `meshlab why` shows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/breaker.h"
#include "mesh/flags.h"
#include "mesh/http_head.h"
#include "mesh/mirror.h"
#include "mesh/outlier.h"
#include "mesh/proxy_internal.h"
#include "mesh/router.h"

static const char BODY_CONNECT_FAILURE[] =
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
static const char BODY_CONNECT_TIMEOUT[] =
    "upstream connect error or disconnect/reset before headers. reset reason: connection timeout";
static const char BODY_TERMINATION[] =
    "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
static const char BODY_OVERFLOW[] = "upstream connect error or disconnect/reset before headers. reset reason: overflow";

static void try_begin(struct session *s);
static void try_send(struct session *s);

/* ---- connections ------------------------------------------------------------------------- */

void exchange_release_upstream(struct session *s, int reusable) {
  struct exchange *ex = &s->ex;
  if (ex->pending_counted) {
    ex->pending_counted = 0;
    if (ex->cluster && ex->cluster->breaker.rq_pending) ex->cluster->breaker.rq_pending--;
  }
  if (!ex->uc) return;
  struct upstream_conn *uc = ex->uc;
  ex->uc = NULL;
  ex->connecting = 0;
  http_parser_reset(s->resp);
  /* maxRequestsPerConnection: a connection that carried its share is closed, not pooled
   * (1 turns keep-alive off, which is what trips the HTTP/1.1 breaker in Istio's task). */
  if (reusable && ex->cluster && !breaker_connection_reusable(&ex->cluster->breaker, uc->requests)) reusable = 0;
  upstream_release(uc, reusable);
}

/* Moves the exchange's share of "active requests" to host up (least-request balancing and
 * http2MaxRequests read it). */
static void count_active_on(struct exchange *ex, struct upstream *up) {
  if (ex->counted_up == up) return;
  if (ex->counted_up) ex->counted_up->stats.rq_active--;
  ex->counted_up = up;
  if (up) up->stats.rq_active++;
}

/* A try is over (whatever its outcome): the retry it was, if any, stops counting against
 * maxRetries. */
static void try_over(struct exchange *ex) {
  if (ex->retry_active) {
    ex->retry_active = 0;
    if (ex->cluster && ex->cluster->breaker.rq_retry_active) ex->cluster->breaker.rq_retry_active--;
  }
  ex->try_deadline = 0;
}

void config_unref(struct config_ref *r) {
  if (r && --r->refs == 0) {
    proxy_config_free(r->cfg);
    free(r);
  }
}

void exchange_unroute(struct exchange *ex) {
  if (ex->cluster) cluster_unwait(ex->cluster, &ex->waiter);
  try_over(ex);
  if (ex->pending_counted) {
    ex->pending_counted = 0;
    if (ex->cluster && ex->cluster->breaker.rq_pending) ex->cluster->breaker.rq_pending--;
  }
  count_active_on(ex, NULL);
  if (ex->cluster || ex->up) cluster_release(ex->cluster, ex->up);
  config_unref(ex->config);
  ex->cluster = NULL;
  ex->up = NULL;
  ex->config = NULL;
  ex->route = NULL;
  ex->wait = EXCHANGE_WAIT_NONE;
}

/* ---- local answers ----------------------------------------------------------------------- */

/* 503 UO: a connection-pool limit refused the try. Envoy adds x-envoy-overloaded. */
static void overflow_reply(struct session *s, enum trace_breaker why) {
  struct exchange *ex = &s->ex;
  if (ex->trace.breaker == TRACE_BREAKER_NONE || ex->trace.breaker == TRACE_BREAKER_OK) ex->trace.breaker = why;
  exchange_attempt_close(ex, TRACE_OUTCOME_OVERFLOW, 0);
  session_local_reply(s, 503, FLAG_UO, BODY_OVERFLOW, "upstream_reset_before_response_started{overflow}",
                      "x-envoy-overloaded: true\r\n");
}

/* ---- retries ----------------------------------------------------------------------------- */

static enum outlier_result_kind outlier_kind(enum retry_event ev) {
  switch (ev) {
  case RETRY_EVENT_RESPONSE:
    return OUTLIER_RESPONSE;
  case RETRY_EVENT_CONNECT_FAILURE:
    return OUTLIER_CONNECT_FAILURE;
  case RETRY_EVENT_RESET:
    return OUTLIER_RESET;
  case RETRY_EVENT_PER_TRY_TIMEOUT:
    return OUTLIER_TIMEOUT;
  }
  return OUTLIER_RESET;
}

/* A try ended with ev: reports it to outlier detection, then asks the retry policy. Returns 1
 * when a retry is scheduled (the caller drops what the try produced), 0 when the outcome
 * stands; then URX (attempts used up) or UO (maxRetries) may have been added to the flags, as
 * Envoy's router adds them. */
static int try_should_retry(struct session *s, enum retry_event ev, int status, int grpc_status) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  struct cluster *c = ex->cluster;
  try_over(ex);
  if (c && ex->up) cluster_outlier_report(c, ex->up, outlier_kind(ev), status, (int64_t)uv_now(px->loop));
  if (!ex->retry.retries) return 0;
  if (!retry_policy_matches(&ex->retry, ev, status, grpc_status)) {
    if (ev != RETRY_EVENT_RESPONSE || status >= 400) exchange_attempt_next(ex, TRACE_NEXT_NO_MATCH, 0);
    return 0;
  }
  if (ex->retries_done >= ex->retry.retries) {
    ex->flags |= FLAG_URX;
    exchange_attempt_next(ex, TRACE_NEXT_EXHAUSTED, 0);
    return 0;
  }
  if (!ex->body_kept && ex->req_framing != HTTP_FRAMING_NONE) {
    exchange_attempt_next(ex, TRACE_NEXT_BODY_GONE, 0);
    return 0;
  }
  uint64_t now = uv_now(px->loop);
  if (ex->request_deadline && now + 1 >= ex->request_deadline) {
    exchange_attempt_next(ex, TRACE_NEXT_NO_TIME, 0);
    return 0;
  }
  if (!c || breaker_admit_retry(&c->breaker) != BREAKER_ADMIT) {
    ex->flags |= FLAG_UO;
    exchange_attempt_next(ex, TRACE_NEXT_OVERFLOW, 0);
    return 0;
  }
  c->breaker.rq_retry_active++;
  ex->retry_active = 1;
  ex->retries_done++;
  int64_t backoff = retry_backoff_ms(&ex->retry, ex->retries_done, &px->rng);
  exchange_attempt_next(ex, TRACE_NEXT_RETRY, (uint32_t)backoff);
  /* The backoff runs on the session timer even when it is 0, so the retry starts outside the
   * callback that saw the failure. */
  ex->wait = EXCHANGE_WAIT_BACKOFF;
  ex->wait_until = now + (uint64_t)(backoff > 0 ? backoff : 0);
  if (ex->wait_until == now) ex->wait_until = now + 1;
  return 1;
}

int exchange_was_tried(const struct exchange *ex, const struct upstream *up) {
  size_t n = ex->retries_done < TRACE_MAX_ATTEMPTS ? ex->retries_done : TRACE_MAX_ATTEMPTS;
  for (size_t i = 0; i < n; i++)
    if (ex->tried[i] == up) return 1;
  return 0;
}

/* The backoff is over: picks the retry's host (Istio's previous-hosts predicate: up to
 * host_selection_attempts picks to find one not tried yet) and starts the try. */
static void retry_go(struct session *s) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  struct cluster *c = ex->cluster;
  struct upstream *pick = NULL;
  uint32_t rounds =
      ex->retry.previous_hosts && ex->retry.host_selection_attempts ? ex->retry.host_selection_attempts : 1;
  for (uint32_t i = 0; i < rounds; i++) {
    struct upstream *cand;
    if (cluster_pick(c, NULL, &px->rng, &cand, NULL) != LB_PICKED) break;
    if (pick) cluster_release(c, pick);
    pick = cand;
    if (!ex->retry.previous_hosts || !exchange_was_tried(ex, cand)) break;
  }
  if (!pick) {
    session_local_reply(s, 503, FLAG_UH, "no healthy upstream", "no_healthy_upstream", NULL);
    return;
  }
  /* Keep one reference on the cluster (the first pick's) and one on the current host. */
  cluster_release(NULL, ex->up);
  cluster_release(c, NULL);
  ex->up = pick;
  try_begin(s);
}

/* ---- tries ------------------------------------------------------------------------------- */

/* A try failed before any response byte reached the client. A reused pooled connection that
 * the origin had just closed is re-sent once on a fresh connection (Envoy treats it as a
 * retriable reset of a stale connection); otherwise the retry policy decides, else the local
 * reply stands. */
static void try_failed(struct session *s, enum retry_event ev, uint32_t flag, const char *body, const char *details,
                       const char *transport_failure) {
  struct exchange *ex = &s->ex;
  ex->transport_failure = transport_failure;
  if (ex->resp_started) {
    session_abort(s, flag, details);
    return;
  }
  enum trace_outcome outcome = ev == RETRY_EVENT_CONNECT_FAILURE   ? TRACE_OUTCOME_CONNECT_FAILURE
                               : ev == RETRY_EVENT_PER_TRY_TIMEOUT ? TRACE_OUTCOME_PER_TRY_TIMEOUT
                                                                   : TRACE_OUTCOME_RESET;
  if (ex->discarding) {
    /* The response being dropped for a retry broke off: the retry is already decided. */
    ex->discarding = 0;
    exchange_release_upstream(s, 0);
    session_arm_exchange(s);
    return;
  }
  int stale = ex->reused && !ex->resent && (ex->body_kept || ex->req_framing == HTTP_FRAMING_NONE) && flag == FLAG_UC &&
              ev == RETRY_EVENT_RESET;
  if (stale) {
    exchange_release_upstream(s, 0);
    ex->resent = 1;
    try_send(s);
    return;
  }
  exchange_attempt_close(ex, outcome, 0);
  exchange_release_upstream(s, 0);
  if (try_should_retry(s, ev, 0, -1)) {
    session_arm_exchange(s);
    return;
  }
  int status = ev == RETRY_EVENT_PER_TRY_TIMEOUT ? 504 : 503;
  session_local_reply(s, status, flag, body, details, NULL);
}

static void on_up_connect(struct conn *c, int status) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct session *s = uc->owner;
  if (!s) return;
  struct exchange *ex = &s->ex;
  ex->connecting = 0;
  if (ex->pending_counted) {
    ex->pending_counted = 0;
    if (ex->cluster && ex->cluster->breaker.rq_pending) ex->cluster->breaker.rq_pending--;
  }
  if (status < 0) {
    uc->up->stats.cx_connect_fail++;
    const char *why = uv_strerror(status);
    if (conn_tls_error(c)[0]) {
      /* A TLS mismatch is a connection failure with the reason in the log (Envoy's
       * upstream_transport_failure_reason: "TLS error: ..."), as in Istio. */
      snprintf(ex->tls_failure, sizeof ex->tls_failure, "TLS error: %s", conn_tls_error(c));
      why = ex->tls_failure;
    }
    try_failed(s, RETRY_EVENT_CONNECT_FAILURE, FLAG_UF, BODY_CONNECT_FAILURE,
               "upstream_reset_before_response_started{connection_failure}", why);
    return;
  }
  snprintf(ex->up_principal, sizeof ex->up_principal, "%s", conn_tls_peer_id(c));
  session_progress(s);
  uc->connected = 1;
  conn_read_start(c);
  session_arm_exchange(s);
}

static void up_read(struct session *s, struct upstream_conn *uc, int status, const char *data, size_t len);

/* Everything written to the client while handling one upstream read (a response head, its
 * body, the last chunk) leaves in one write. */
static void on_up_read(struct conn *c, int status, const char *data, size_t len) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct session *s = uc->owner;
  if (!s) return;
  session_progress(s);
  conn_cork(&s->conn);
  up_read(s, uc, status, data, len);
  if (conn_uncork(&s->conn) != 0) session_close(s);
}

/* A response dropped for a retry has been read whole: give its connection back and let the
 * backoff run. */
static void discard_done(struct session *s) {
  struct exchange *ex = &s->ex;
  ex->discarding = 0;
  ex->resp_done = 0;
  exchange_release_upstream(s, ex->up_keep_alive && ex->req_done && !ex->up_extra);
  session_arm_exchange(s);
}

static void up_read(struct session *s, struct upstream_conn *uc, int status, const char *data, size_t len) {
  struct exchange *ex = &s->ex;
  int rc;
  size_t used = 0;
  if (status < 0) {
    rc = http_parser_finish(s->resp);
    if (rc != HTTP_PARSE_DONE) {
      try_failed(s, RETRY_EVENT_RESET, FLAG_UC, BODY_TERMINATION,
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
      if (ex->discarding) {
        ex->discarding = 0;
        exchange_release_upstream(s, 0);
        session_arm_exchange(s);
      } else if (ex->resp_started) {
        session_abort(s, FLAG_UPE, "upstream_reset_after_response_started{protocol_error}");
      } else {
        ex->transport_failure = http_parser_error_reason(s->resp);
        exchange_attempt_close(ex, TRACE_OUTCOME_RESET, 0);
        session_local_reply(s, 502, FLAG_UPE, "upstream protocol error",
                            "upstream_reset_before_response_started{protocol_error}", NULL);
      }
      return;
    }
    if (rc != HTTP_PARSE_DONE || !ex->resp_done) return;
    if (used < len) ex->up_extra = 1; /* bytes after the response: do not reuse */
  }
  if (!ex->resp_done) return;
  if (ex->discarding) {
    discard_done(s);
    return;
  }
  if (ex->resp_framing == HTTP_FRAMING_CHUNKED) session_write_down(s, "0\r\n\r\n", 5);
  if (!ex->req_done) {
    /* The origin answered before the request body ended: the connection to it is in an
     * unknown state and the rest of the body has nowhere to go. Close both after the reply. */
    ex->up_keep_alive = 0;
    ex->close_after = 1;
  }
  session_exchange_done(s);
}

static void on_up_drain(struct conn *c) {
  struct upstream_conn *uc = (struct upstream_conn *)c;
  struct session *s = uc->owner;
  if (!s || s->state == SESSION_CLOSING) return;
  session_progress(s);
  if (s->read_paused && s->pipelined.len < PIPELINE_LIMIT) {
    s->read_paused = 0;
    conn_read_start(&s->conn);
  }
}

/* The value of a grpc-status header, or -1. */
static int grpc_status_of(const struct http_head *h) {
  const struct slice *v = http_head_find(h, "grpc-status");
  if (!v || !v->n || v->n > 2) return -1;
  int n = 0;
  for (size_t i = 0; i < v->n; i++) {
    if (v->p[i] < '0' || v->p[i] > '9') return -1;
    n = n * 10 + (v->p[i] - '0');
  }
  return n;
}

int exchange_on_resp_head(void *owner, struct http_head *h) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  int client_minor = ex->req->minor;
  if (h->status < 200) {
    if (h->status == 101) return -1; /* Upgrade is stripped on the way up; a 101 is a protocol error */
    ex->interim = 1;
    if (client_minor >= 1 && !ex->discarding) {
      buf_reset(&ex->scratch);
      http_head_write_response(&ex->scratch, h, HTTP_FRAMING_NONE, 0, 1, 0, NULL);
      session_write_down(s, ex->scratch.data, ex->scratch.len);
    }
    return 0;
  }
  ex->interim = 0;
  int no_body = ex->head_request || h->status == 204 || h->status == 304;
  exchange_attempt_close(ex, TRACE_OUTCOME_RESPONSE, h->status);
  ex->up_keep_alive = h->keep_alive;
  if (try_should_retry(s, RETRY_EVENT_RESPONSE, h->status, grpc_status_of(h))) {
    /* Dropped: read to its end so the connection can be reused, then the retry. */
    ex->discarding = 1;
    return no_body ? 1 : 0;
  }
  ex->resp_started = 1;
  ex->code = h->status;
  ex->details = "via_upstream";
  ex->resp_head_ns = uv_hrtime();
  ex->try_deadline = 0;
  if (h->content_length >= 0) ex->resp_framing = HTTP_FRAMING_LENGTH;
  else if (no_body) ex->resp_framing = HTTP_FRAMING_NONE;
  else if (client_minor >= 1) ex->resp_framing = HTTP_FRAMING_CHUNKED; /* chunked, or close-delimited re-framed */
  else ex->resp_framing = HTTP_FRAMING_CLOSE;
  if (ex->resp_framing == HTTP_FRAMING_CLOSE || s->px->draining) ex->close_after = 1;
  buf_reset(&ex->scratch);
  /* meshlab tells the caller the flags of a proxied answer too (URX, UO on a retry overflow,
   * DI), as it does for local replies. */
  char extra[96] = "";
  if (ex->flags) {
    char flags_text[64];
    flags_format(ex->flags, flags_text, sizeof flags_text);
    snprintf(extra, sizeof extra, "x-meshlab-response-flags: %s\r\n", flags_text);
  }
  if (http_head_write_response(&ex->scratch, h, ex->resp_framing, h->content_length, client_minor, ex->close_after,
                               extra[0] ? extra : NULL) != 0)
    return -1;
  session_write_down(s, ex->scratch.data, ex->scratch.len);
  return no_body ? 1 : 0;
}

int exchange_on_resp_body(void *owner, const char *p, size_t n) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (s->state == SESSION_CLOSING) return -1;
  if (ex->discarding) return 0;
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

int exchange_on_resp_complete(void *owner) {
  struct session *s = owner;
  struct exchange *ex = &s->ex;
  if (ex->interim) {
    ex->interim = 0;
    return 0;
  }
  ex->resp_done = 1;
  return 0;
}

/* The connect timeout of a try: the cluster's connectionPool.tcp.connectTimeout when the push
 * set one other than Istio's 10 s default, else the proxy's own (a flag for `meshlab proxy`). */
static uint64_t connect_timeout_ms(const struct session *s) {
  const struct exchange *ex = &s->ex;
  int64_t c = ex->cluster ? ex->cluster->breaker.limits.connect_timeout_ms : 0;
  if (c > 0 && c != 10000) return (uint64_t)c;
  return s->px->limits.connect_timeout_ms;
}

/* Takes a connection for the try (idle or new) and sends the head and the body received so
 * far; the rest of the body streams as it arrives. */
static void try_send(struct session *s) {
  struct exchange *ex = &s->ex;
  struct proxy *px = s->px;
  int reused = 0;
  struct upstream_conn *uc;
  ex->wait = EXCHANGE_WAIT_NONE;
  ex->wait_until = 0;
  int rc = upstream_acquire(ex->up, s, on_up_connect, &uc, &reused);
  if (rc != 0) {
    ex->up->stats.cx_connect_fail++;
    try_failed(s, RETRY_EVENT_CONNECT_FAILURE, FLAG_UF, BODY_CONNECT_FAILURE,
               "upstream_reset_before_response_started{connection_failure}", uv_strerror(rc));
    return;
  }
  ex->uc = uc;
  ex->reused = reused;
  ex->connecting = !reused;
  struct trace_attempt *a = exchange_current_attempt(ex);
  if (a) {
    a->reused = reused;
    a->mtls = conn_is_tls(&uc->conn) != 0; /* the transport chosen: confusion 5 shows here */
  }
  if (!reused && ex->cluster) {
    /* A request waiting on a connection that is still connecting counts as pending (Envoy). */
    ex->pending_counted = 1;
    ex->cluster->breaker.rq_pending++;
  }
  uc->requests++;
  uc->conn.on_read = on_up_read;
  uc->conn.on_drain = on_up_drain;
  http_parser_reset(s->resp);
  http_parser_expect_head_response(s->resp, ex->head_request);
  if (reused) {
    conn_read_start(&uc->conn);
    snprintf(ex->up_principal, sizeof ex->up_principal, "%s", conn_tls_peer_id(&uc->conn));
  }
  if (!ex->upstream_start_ns) ex->upstream_start_ns = uv_hrtime();
  uint64_t now = uv_now(px->loop);
  uint64_t cto = connect_timeout_ms(s);
  ex->connect_deadline = !reused && cto ? now + cto : 0;
  if (ex->retry.per_try_timeout_ms > 0 && ex->req_done) ex->try_deadline = now + (uint64_t)ex->retry.per_try_timeout_ms;
  /* The head, then whatever of the body arrived before this try (a retry's whole kept body,
   * or what came in during a fault delay or a wait for a connection), framed as the head says. */
  struct slice parts[5];
  size_t np = 0;
  parts[np++] = (struct slice){ex->head_out.data, ex->head_out.len};
  char hdr[24];
  if (ex->body_copy.len) {
    if (ex->req_framing == HTTP_FRAMING_CHUNKED) {
      int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", ex->body_copy.len);
      parts[np++] = (struct slice){hdr, (size_t)hn};
    }
    parts[np++] = (struct slice){ex->body_copy.data, ex->body_copy.len};
    if (ex->req_framing == HTTP_FRAMING_CHUNKED) parts[np++] = SLICE_LIT("\r\n");
  }
  if (ex->req_done && ex->req_framing == HTTP_FRAMING_CHUNKED) parts[np++] = SLICE_LIT("0\r\n\r\n");
  if (conn_writev(&uc->conn, parts, np) != 0) {
    try_failed(s, RETRY_EVENT_RESET, FLAG_UC, BODY_TERMINATION,
               "upstream_reset_before_response_started{connection_termination}", NULL);
    return;
  }
  if (!ex->body_kept) buf_free(&ex->body_copy); /* sent once, never again */
  if (s->read_paused && !ex->req_done && !conn_write_blocked(&uc->conn)) {
    s->read_paused = 0;
    conn_read_start(&s->conn);
  }
  session_arm_exchange(s);
}

/* A try starts on ex->up: http2MaxRequests, then the way to a connection. */
static void try_begin(struct session *s) {
  struct exchange *ex = &s->ex;
  struct cluster *c = ex->cluster;
  struct upstream *up = ex->up;
  size_t n = ex->retries_done;
  if (n < TRACE_MAX_ATTEMPTS) ex->tried[n] = up;
  cluster_breaker_sync(c);
  /* This request's own share is not "another active request". */
  if (ex->counted_up && c->breaker.rq_active) c->breaker.rq_active--;
  int first = ex->trace.attempts_len == 0;
  if (first) {
    ex->trace.cx_active = c->breaker.cx_active;
    ex->trace.cx_max = c->breaker.limits.max_connections;
    ex->trace.pending = c->breaker.rq_pending;
    ex->trace.pending_max = c->breaker.limits.max_pending;
    ex->trace.rq_active = c->breaker.rq_active;
    ex->trace.rq_max = c->breaker.limits.max_requests;
  }
  exchange_attempt_open(s);
  if (breaker_admit_request(&c->breaker) != BREAKER_ADMIT) {
    overflow_reply(s, TRACE_BREAKER_REQUESTS_FULL);
    return;
  }
  count_active_on(ex, up);
  up->stats.rq_total++;
  switch (breaker_connection(&c->breaker, up->idle != NULL, (uint32_t)up->stats.cx_active)) {
  case BREAKER_USE_IDLE:
  case BREAKER_CONNECT:
    if (first) ex->trace.breaker = TRACE_BREAKER_OK;
    try_send(s);
    return;
  case BREAKER_QUEUE:
    if (first) ex->trace.breaker = TRACE_BREAKER_QUEUED;
    cluster_wait(c, &ex->waiter, up);
    ex->wait = EXCHANGE_WAIT_POOL;
    ex->wait_until = 0;
    session_arm_exchange(s);
    return;
  case BREAKER_PENDING_OVERFLOW:
    overflow_reply(s, TRACE_BREAKER_PENDING_FULL);
    return;
  }
}

/* A host's connection went back to the pool or closed: requests waiting in its cluster's
 * pending queue get what is now possible, in order. A waiter whose host left the cluster
 * (a push removed it) just connects. */
void exchange_on_capacity(struct cluster_manager *cm, struct upstream *up) {
  (void)cm;
  struct cluster *c = up->cluster;
  if (!c || !c->waiters) return;
  /* A try started here can end at once and free a connection, which calls back in: the
   * outer call then walks the queue again instead. */
  if (c->dispatching) {
    c->dispatch_again = 1;
    return;
  }
  c->dispatching = 1;
  do {
    c->dispatch_again = 0;
    struct pool_waiter *w = c->waiters;
    while (w) {
      struct pool_waiter *next = w->next;
      struct upstream *h = w->up;
      uint32_t cx = cluster_connections(c);
      if (h->idle || h->cluster != c || cx < c->breaker.limits.max_connections || h->stats.cx_active == 0) {
        struct exchange *ex = container_of(w, struct exchange, waiter);
        struct session *s = container_of(ex, struct session, ex);
        cluster_unwait(c, w);
        try_send(s);
        if (c->dispatch_again) break;
      }
      w = next;
    }
  } while (c->dispatch_again);
  c->dispatching = 0;
}

/* The route timeout runs from the end of the downstream request (Envoy), and not through a
 * fault delay, which happens before the router. */
static void route_timer_start(struct session *s) {
  struct exchange *ex = &s->ex;
  if (!ex->req_done || ex->request_deadline || !ex->timeout_ms || ex->wait == EXCHANGE_WAIT_FAULT_DELAY) return;
  ex->request_deadline = uv_now(s->px->loop) + ex->timeout_ms;
}

void exchange_start(struct session *s) {
  struct exchange *ex = &s->ex;
  if (ex->fault.delay) {
    ex->flags |= FLAG_DI;
    ex->wait = EXCHANGE_WAIT_FAULT_DELAY;
    ex->wait_until = uv_now(s->px->loop) + (uint64_t)(ex->fault.delay_ms > 0 ? ex->fault.delay_ms : 0);
    session_arm_exchange(s);
    return;
  }
  route_timer_start(s);
  try_begin(s);
}

void exchange_body(struct session *s, const char *p, size_t n) {
  struct exchange *ex = &s->ex;
  if (!ex->routed || ex->resp_started) return; /* answered locally: the body is read and dropped */
  if (!ex->uc || ex->discarding) {
    /* No try is taking it right now (a fault delay, a backoff, the pending queue): hold it for
     * the next try; past the resend limit, stop reading the client until a try takes what is
     * held. (A connection still connecting queues what is written to it.) */
    buf_append(&ex->body_copy, p, n);
    if (ex->body_copy.len > RESEND_BODY_LIMIT) {
      ex->body_kept = 0;
      if (!s->read_paused) {
        s->read_paused = 1;
        conn_read_stop(&s->conn);
      }
    }
    return;
  }
  if (ex->body_kept) {
    if (ex->body_copy.len + n <= RESEND_BODY_LIMIT) {
      buf_append(&ex->body_copy, p, n);
    } else {
      ex->body_kept = 0;
      buf_free(&ex->body_copy);
    }
  }
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
    try_failed(s, RETRY_EVENT_RESET, FLAG_UC, BODY_TERMINATION,
               "upstream_reset_before_response_started{connection_termination}", NULL);
    return;
  }
  if (conn_write_blocked(up) && !s->read_paused) {
    s->read_paused = 1;
    conn_read_stop(&s->conn);
  }
}

void exchange_request_done(struct session *s) {
  struct exchange *ex = &s->ex;
  if (ex->uc && !ex->discarding && ex->req_framing == HTTP_FRAMING_CHUNKED &&
      conn_write(&ex->uc->conn, "0\r\n\r\n", 5) != 0) {
    try_failed(s, RETRY_EVENT_RESET, FLAG_UC, BODY_TERMINATION,
               "upstream_reset_before_response_started{connection_termination}", NULL);
    return;
  }
  if (ex->uc && ex->retry.per_try_timeout_ms > 0 && !ex->try_deadline && !ex->resp_started)
    ex->try_deadline = uv_now(s->px->loop) + (uint64_t)ex->retry.per_try_timeout_ms;
  route_timer_start(s);
  filters_mirror(s);
  session_arm_exchange(s);
}

/* Envoy's stream_idle_timeout (HttpConnectionManager, ConnectionManagerImpl::ActiveStream::
 * onIdleTimeout): no progress on either side for the whole timeout. Before the response started
 * it is a local reply "stream timeout" with flag SI and details stream_idle_timeout: 408 while
 * the request is still arriving (a client stalled mid-body), 504 once the request was read whole
 * (an upstream that never answers; Envoy since PR #20026, "on downstream timeout, set response
 * 504 if the request is fully read"). After the response started, the stream is reset. */
static void stream_idle_timeout(struct session *s) {
  struct exchange *ex = &s->ex;
  s->px->stats.downstream_rq_idle_timeout++;
  exchange_attempt_close(ex, TRACE_OUTCOME_TIMEOUT, 0);
  if (ex->resp_started) {
    session_abort(s, FLAG_SI, "stream_idle_timeout");
    return;
  }
  if (!ex->req_done) {
    /* The rest of the body will not come: answer and close. */
    ex->req_done = 1;
    ex->close_after = 1;
    session_local_reply(s, 408, FLAG_SI, "stream timeout", "stream_idle_timeout", NULL);
    return;
  }
  session_local_reply(s, 504, FLAG_SI, "stream timeout", "stream_idle_timeout", NULL);
}

void exchange_on_timer(struct session *s) {
  struct proxy *px = s->px;
  struct exchange *ex = &s->ex;
  uint64_t now = uv_now(px->loop);
  uint64_t idle = px->limits.stream_idle_timeout_ms;
  if (idle && now >= s->progress_ms + idle) {
    stream_idle_timeout(s);
    return;
  }
  if (ex->request_deadline && now >= ex->request_deadline) {
    /* The route timeout covers every try and every wait: no retry after it (Envoy). */
    ex->request_deadline = 0;
    if (ex->up) ex->up->stats.rq_timeout++;
    if (ex->cluster && ex->up && ex->uc) cluster_outlier_report(ex->cluster, ex->up, OUTLIER_TIMEOUT, 0, (int64_t)now);
    exchange_attempt_close(ex, TRACE_OUTCOME_TIMEOUT, 0);
    if (ex->resp_started) session_abort(s, FLAG_UT, "response_timeout");
    else session_local_reply(s, 504, FLAG_UT, "upstream request timeout", "response_timeout", NULL);
    return;
  }
  if (ex->wait_until && now >= ex->wait_until) {
    enum exchange_wait w = ex->wait;
    ex->wait = EXCHANGE_WAIT_NONE;
    ex->wait_until = 0;
    switch (w) {
    case EXCHANGE_WAIT_FAULT_DELAY:
      if (ex->fault.abort) {
        filters_fault_abort(s);
        return;
      }
      route_timer_start(s);
      try_begin(s);
      return;
    case EXCHANGE_WAIT_BACKOFF:
      retry_go(s);
      return;
    case EXCHANGE_WAIT_POOL:
    case EXCHANGE_WAIT_NONE:
      break;
    }
  }
  if (ex->connecting && ex->connect_deadline && now >= ex->connect_deadline) {
    if (ex->up) ex->up->stats.cx_connect_fail++;
    try_failed(s, RETRY_EVENT_CONNECT_FAILURE, FLAG_UF, BODY_CONNECT_TIMEOUT,
               "upstream_reset_before_response_started{connection_timeout}", "connection timeout");
    return;
  }
  if (ex->try_deadline && now >= ex->try_deadline && !ex->resp_started) {
    ex->try_deadline = 0;
    if (ex->up) ex->up->stats.rq_timeout++;
    try_failed(s, RETRY_EVENT_PER_TRY_TIMEOUT, FLAG_UT, "upstream request timeout", "upstream_per_try_timeout", NULL);
    return;
  }
  session_arm_exchange(s);
}
