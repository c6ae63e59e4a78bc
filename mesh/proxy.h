/* The HTTP/1.1 proxy engine: listeners, downstream sessions and request exchanges.
 *
 * Request path: a listener accepts a downstream connection (a session); the session's parser
 * yields a request head; the router (router.c) matches it against the current pushed config
 * (compile.h) and picks a cluster, the cluster manager (clusters.c) an endpoint; the exchange takes a pooled upstream connection (or opens one), writes the
 * re-serialised head and streams the body, then streams the response back, re-framed. One
 * exchange runs at a time per session: pipelined requests wait, parsed in order, so answers
 * leave in order. Local replies (no route, connect failure, timeout, malformed input) carry
 * Envoy's status, body and response flag.
 *
 * Backpressure both ways: when one side's write queue passes its high-water mark the proxy
 * stops reading the other side until the queue drains, so a 10 MB body never sits in memory.
 */
#ifndef MESH_PROXY_H
#define MESH_PROXY_H

#include <stdint.h>
#include <uv.h>

#include "mesh/accesslog.h"
#include "mesh/conn.h"
#include "mesh/http.h"
#include "mesh/rand.h"
#include "mesh/clusters.h"
#include "mesh/compile.h"
#include "mesh/jwks_cache.h"
#include "mesh/mirror.h"
#include "mesh/ratelimit.h"
#include "mesh/stats.h"
#include "mesh/telemetry.h"
#include "mesh/trace.h"

/* Limits and timeouts; every one configurable (flags and static config). 0 disables a timeout. */
struct proxy_limits {
  size_t max_head_bytes;           /* 431 above (Envoy max_request_headers_kb: 60 KiB) */
  size_t max_headers;              /* 431 above (Envoy: 100) */
  uint64_t max_request_body;       /* 413 above; 0 = unlimited (bodies stream) */
  uint64_t header_timeout_ms;      /* first byte to end of head; 408 after */
  uint64_t idle_timeout_ms;        /* keep-alive connection with no request */
  uint64_t connect_timeout_ms;     /* upstream connect; 503 UF after (Istio default 10 s) */
  uint64_t request_timeout_ms;     /* route timeout; 504 UT after; 0 = off as in Istio */
  uint64_t stream_idle_timeout_ms; /* a request with no read or write progress either side (Envoy
                                    * stream_idle_timeout, 5 min): 408 SI while the request is still
                                    * arriving, 504 SI once it is read, a reset once the response started */
  uint64_t drain_timeout_ms;       /* SIGTERM: in-flight requests get this long */
};

/* Fills l with meshlab's defaults. */
void proxy_limits_default(struct proxy_limits *l);

struct proxy;
struct session;

struct proxy_listener {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  enum conn_kind kind;
  struct proxy *px;
  enum xds_direction dir; /* which side of the config it serves */
  uint32_t port;          /* the port the router matches with: the inbound port, the
                                       Gateway server port; 0 for outbound (from the authority) */
  char name[32];          /* "inbound", "outbound", "gateway" */
  char address[128];      /* the bound address, port resolved */
  struct proxy_listener *next;
};

typedef void (*proxy_closed_cb)(struct proxy *px);

struct proxy {
  uv_loop_t *loop;
  struct conn_env env;
  struct proxy_limits limits;
  struct http_limits req_limits, resp_limits;
  struct http_parser_cbs req_cbs, resp_cbs;
  struct rng rng;
  struct proxy_stats stats;
  struct accesslog *log;            /* borrowed; NULL = no access log */
  struct proxy_listener *listeners; /* owned */
  struct session *sessions;         /* owned, doubly linked */
  uint64_t live_handles;            /* open handles: listeners, sessions, upstream conns */
  uv_prepare_t flush;               /* writes batched access-log lines once per loop turn */
  uv_timer_t drain_timer;
  int final_handles; /* flush and drain_timer, while closing */
  unsigned draining : 1, closing : 1;
  proxy_closed_cb on_closed;
  struct cluster_manager clusters;    /* live clusters and their pools, kept across pushes */
  struct config_ref *config;          /* the current pushed config (NULL: none yet) */
  struct telemetry telemetry;         /* Istio's standard metrics (sidecars, not `meshlab proxy`) */
  char self_peer[256];                /* x-meshlab-peer value this proxy sends */
  char name[96];                      /* who decides, in traces: the replica ("reviews-v1-0") */
  struct trace_store traces;          /* recent requests' decision traces (/debug/why) */
  uv_timer_t sweep_timer;             /* outlier detection's interval sweep */
  struct ratelimit_buckets ratelimit; /* local rate limit buckets per route config, kept across pushes */
  struct mirror_set mirrors;          /* shadow requests in flight (VirtualService mirror) */
  struct jwks_cache jwks;             /* key sets fetched for jwksUri rules, kept across pushes */
  /* Starts fetching the key set of rule->jwks_uri (sidecar.c: through the mesh or the lab); the
   * result goes into jwks with jwks_cache_store. NULL: nobody fetches (a bootstrap proxy), and
   * tokens for such rules get 401. */
  void (*jwks_fetch)(struct proxy *px, const struct resource_jwt_rule *rule);
  struct tls_ctx *identity; /* owned: this workload's certificate (NULL: no mTLS at all) */
};

/* A pushed config shared by the proxy and the requests that started under it. */
struct config_ref {
  struct proxy_config *cfg; /* owned */
  int refs;
};

/* Sets up a proxy on loop with the given limits (copied). Returns 0 or a negative error. */
int proxy_init(struct proxy *px, uv_loop_t *loop, const struct proxy_limits *limits);

/* Listens on addr (port 0 picks a free one); requests are routed with the current config's
 * route config for `dir` and `port`. Returns 0 and the listener in *out (owned by px), or a
 * negative libuv error. */
int proxy_listen(struct proxy *px, const struct conn_addr *addr, enum xds_direction dir, uint32_t port,
                 const char *name, struct proxy_listener **out);

/* Installs a new config (takes cfg): clusters are reconciled (pools of hosts that stay are
 * kept), new requests route with it, requests in flight finish under the one they started
 * with. Returns 0, or -ENOMEM with the previous config still in force (cfg is freed). */
int proxy_set_config(struct proxy *px, struct proxy_config *cfg);
/* The version of the current config, 0 when none. */
uint64_t proxy_config_version(const struct proxy *px);

/* Graceful stop (SIGTERM): closes listeners, lets in-flight requests finish for up to
 * limits.drain_timeout_ms, closes idle and finished connections, then everything; on_closed
 * fires once every handle is closed. */
void proxy_shutdown(struct proxy *px, proxy_closed_cb on_closed);

/* Bytes the proxy holds right now in write queues, held pipelined requests and kept request
 * bodies, over all sessions: what backpressure keeps bounded. */
size_t proxy_buffered_bytes(const struct proxy *px);

/* Installs this proxy's workload identity (takes ctx; NULL removes it). New connections use it
 * from now on: inbound listeners apply their pushed PeerAuthentication mode, outbound
 * connections originate mTLS toward endpoints the push marks ISTIO_MUTUAL. Connections already
 * open keep the identity they were made with (certificate rotation drops nothing). Without an
 * identity every connection is plaintext, as before mTLS existed. */
void proxy_set_identity(struct proxy *px, struct tls_ctx *ctx);

/* Frees what proxy_init allocated; call after on_closed. */
void proxy_free(struct proxy *px);

#endif
