/* What the parts of the proxy engine share: proxy.c (listeners, downstream sessions,
 * local replies, drain), proxy_record.c (accounting: stats, metrics, access log), filters.c
 * (the filter chain), exchange.c (the upstream half of one request: each try, retries,
 * timeouts and the response) and exchange_trace.c (the tries' decision trace). Not for use
 * outside them.
 */
#ifndef MESH_PROXY_INTERNAL_H
#define MESH_PROXY_INTERNAL_H

#include "mesh/fault.h"
#include "mesh/http_head.h"
#include "mesh/proxy.h"
#include "mesh/retry.h"
#include "mesh/trace.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* A request body up to this size is kept while it streams, so a request can be re-sent on a
 * fresh connection or retried. Larger bodies are never re-sent. */
#define RESEND_BODY_LIMIT (64 * 1024)
/* Pipelined bytes held while the current request is answered; reading pauses above it. */
#define PIPELINE_LIMIT (64 * 1024)

enum session_state { SESSION_IDLE, SESSION_HEAD, SESSION_ACTIVE, SESSION_CLOSING };

/* What an exchange is waiting for between tries (no upstream connection meanwhile). */
enum exchange_wait {
  EXCHANGE_WAIT_NONE,
  EXCHANGE_WAIT_FAULT_DELAY, /* fault injection's fixedDelay */
  EXCHANGE_WAIT_BACKOFF,     /* the retry backoff */
  EXCHANGE_WAIT_POOL,        /* the cluster's pending queue: a connection to come free */
};

struct exchange {
  struct cluster *cluster;       /* referenced while the exchange runs (cluster_pick) */
  struct upstream *up;           /* referenced likewise: the host of the current try */
  struct config_ref *config;     /* the config it was routed with, referenced */
  const struct xds_route *route; /* the rule that matched, borrowed from config */
  /* The routed destination service, for telemetry when no cluster was picked (a fault abort,
   * no healthy upstream): Istio still reports destination_service for those. "" when unrouted. */
  char route_service[128];
  /* Istio's catch-all route when no vhost took the host (router.h): "allow_any" or
   * "block_all", NULL otherwise. The logs name it and the metrics the cluster it stands for. */
  const char *catch_all;
  struct upstream_conn *uc;
  struct http_head *req;    /* borrowed from the request parser until the exchange ends */
  struct buf head_out;      /* the head sent upstream, kept for a re-send */
  struct buf scratch;       /* response head and chunk framing */
  struct buf body_copy;     /* request body, while it fits RESEND_BODY_LIMIT */
  struct buf added_headers; /* "name: value\r\n" lines the filters add upstream (jwt_authn); reset per request */
  struct pool_waiter waiter;
  /* Everything from `flags` on is reset for each request. */
  uint32_t flags;
  enum http_framing req_framing, resp_framing;
  int code;
  const char *details;
  char details_buf[160]; /* details that are built per request ("rbac_access_denied_matched_policy[...]") */
  const char *transport_failure;
  uint64_t start_ns, upstream_start_ns, resp_head_ns, try_start_ns;
  int64_t start_wall_ms;
  uint64_t bytes_in, bytes_out;
  uint64_t connect_deadline, request_deadline, try_deadline, wait_until; /* loop time, ms; 0 = none */
  enum exchange_wait wait;
  uint64_t timeout_ms; /* the route timeout in force (0: none) */
  struct retry_policy retry;
  uint32_t retries_done;
  struct upstream *tried[TRACE_MAX_ATTEMPTS]; /* hosts tried, compared by address only */
  struct fault_draw fault;
  char request_id[37];
  struct slice rid, authority, path;
  struct peer source; /* inbound: the caller, from x-meshlab-peer */
  int has_source;
  unsigned active : 1, req_done : 1, resp_started : 1, resp_done : 1, interim : 1, head_request : 1, body_kept : 1,
      reused : 1, close_after : 1, up_keep_alive : 1, up_extra : 1, connecting : 1, discarding : 1, retry_active : 1,
      pending_counted : 1, resent : 1, routed : 1;
  struct upstream *counted_up; /* the host whose rq_active counts this request */
  struct trace_record trace;
  /* mTLS toward the upstream of the last try: the transport failure reason when its handshake
   * failed ("TLS error: ..."), and the peer's SPIFFE ID when it succeeded ("" for plaintext). */
  char tls_failure[192];
  char up_principal[128];
};

struct session {
  struct conn conn;
  uv_timer_t timer;
  struct proxy *px;
  /* The listener's identity, copied: a draining proxy frees its listeners before its sessions. */
  enum xds_direction dir;
  uint32_t lport;
  char lname[32];
  struct session *next, *prev;
  struct http_parser *req, *resp;
  struct buf pipelined;
  struct exchange ex;
  enum session_state state;
  /* Loop time (ms) of the request's last progress: bytes read from either side, or a write
   * queue drained. Stamped, not re-armed: the session timer checks it when it fires (a lazy
   * timer, as Envoy's stream idle timer), so progress costs one store. */
  uint64_t progress_ms;
  int handles;
  unsigned in_feed : 1, read_paused : 1;
  unsigned retired : 1; /* accepted under an mTLS mode its port no longer has: closes after its response */
  char peer[64], local[64];
  struct slice client_ip;
};

/* ---- proxy.c ---- */

/* Writes bytes to the client (a no-op once the session closes). */
void session_write_down(struct session *s, const char *p, size_t n);
/* A reply the proxy makes itself with Envoy's status, body, details and response flag;
 * extra_headers are whole "name: value\r\n" lines or NULL. */
void session_local_reply(struct session *s, int status, uint32_t flags, const char *body, const char *details,
                         const char *extra_headers);
/* The request failed after the response started: cut the client's connection, as Envoy does. */
void session_abort(struct session *s, uint32_t flags, const char *details);
/* The exchange is complete (response sent, request read): log it, then the next request. */
void session_exchange_done(struct session *s);
void session_close(struct session *s);
/* The session timer follows the exchange's nearest deadline. */
void session_arm_exchange(struct session *s);
/* The request made progress (a read or a drained write on either side): pushes back its
 * stream idle timeout. */
static inline void session_progress(struct session *s) { s->progress_ms = uv_now(s->px->loop); }

/* ---- proxy_record.c ---- */

/* The request ended: counts it in the proxy's stats and on its upstream host, records Istio's
 * metrics (and maybe a live-log sample), commits the decision trace, writes the access log. */
void session_record(struct session *s);

/* ---- filters.c ---- */

/* Runs the filter chain before the tries (rate limit, router, route policy, fault draw, the
 * first host pick). h is the parsed head. Returns 1 when the request goes upstream (ex->up and
 * ex->cluster set, referenced; the caller writes head_out, then exchange_start), 0 when it was
 * answered locally. */
int filters_run(struct session *s, struct http_head *h);
/* The fault filter's abort: the configured status, flag FI, Envoy's body. */
void filters_fault_abort(struct session *s);
/* The request is complete: sends the route's mirror copy if it has one and the draw says so. */
void filters_mirror(struct session *s);

/* ---- exchange.c ---- */

/* Starts the first try (or the fault delay before it). */
void exchange_start(struct session *s);
/* A request body chunk: to the current try, or kept for the next. */
void exchange_body(struct session *s, const char *p, size_t n);
/* The request is complete: ends the body upstream and starts the route timeout. */
void exchange_request_done(struct session *s);
/* The session timer fired during the exchange. */
void exchange_on_timer(struct session *s);
/* Gives back the connection of the current try (reusable: to the pool). */
void exchange_release_upstream(struct session *s, int reusable);
/* Leaves the pending queue, ends a retry's accounting, drops the references routing took. */
void exchange_unroute(struct exchange *ex);
/* Called by the cluster manager when a host's connection went back to the pool or closed. */
void exchange_on_capacity(struct cluster_manager *cm, struct upstream *up);
/* Parser callbacks for the upstream response (owner: the session). */
int exchange_on_resp_head(void *owner, struct http_head *h);
int exchange_on_resp_body(void *owner, const char *p, size_t n);
int exchange_on_resp_complete(void *owner);
/* Drops a config reference. */
void config_unref(struct config_ref *r);
/* Whether up was the host of an earlier try (retries' previous-hosts predicate). */
int exchange_was_tried(const struct exchange *ex, const struct upstream *up);

/* ---- exchange_trace.c ---- */

/* The record of the current try, or NULL when the trace has no room left. */
struct trace_attempt *exchange_current_attempt(struct exchange *ex);
/* A try starts on ex->up: opens its attempt record (past TRACE_MAX_ATTEMPTS, only counts). */
void exchange_attempt_open(struct session *s);
/* The current try ended with outcome (status: the response's, else 0). */
void exchange_attempt_close(struct exchange *ex, enum trace_outcome outcome, int status);
/* What followed the current try: a retry after backoff_ms, or why there was none. */
void exchange_attempt_next(struct exchange *ex, enum trace_next next, uint32_t backoff_ms);
/* Fills the trace's final fields and commits it to the proxy's store. */
void exchange_trace_commit(struct session *s, double ms);

#endif
