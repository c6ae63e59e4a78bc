/* mirror: VirtualService `mirror` + `mirrorPercentage`, Envoy's request_mirror_policies.
 *
 * Where it sits: after the router. When the matched route has a mirror, the sidecar draws
 * mirrorPercentage (per million, as Envoy's runtime_fraction; absent = 100 %) and, once the
 * request is complete and its body was kept whole, sends a copy (a "shadow") to a host of the
 * mirror destination's cluster, fire and forget: the Host (authority) gets "-shadow" appended to
 * its host part ("httpbin:8000" -> "httpbin-shadow:8000"), the x-request-id is the same, the
 * shadow's response is read and dropped, and nothing about it (latency, errors, resets) ever
 * reaches the caller's request. Each shadow has its own timeout and closes on any error.
 *
 * A shadow borrows nothing from the request that caused it: its head and body are copied, the
 * host and cluster it uses are referenced until it ends. The set of shadows in flight lives in
 * the proxy; proxy_shutdown cancels them (a shadow never holds a drain open).
 */
#ifndef MESH_MIRROR_H
#define MESH_MIRROR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mesh/buf.h"
#include "mesh/http.h"
#include "mesh/rand.h"

struct cluster;
struct mirror_request;

/* Proxy-level counters (/stats: meshlab.mirror.*). */
struct mirror_stats {
  uint64_t sent;          /* shadows started */
  uint64_t not_drawn;     /* the route mirrors, but mirrorPercentage's draw said no */
  uint64_t body_not_kept; /* not mirrored: the request body was larger than what is kept whole */
  uint64_t no_host;       /* not mirrored: no such cluster, no healthy host, or draining */
  uint64_t responses;     /* shadows answered (any status; the answer is dropped) */
  uint64_t failed;        /* shadows that failed: connect error, reset, timeout, bad response */
};

struct mirror_set {
  uv_loop_t *loop;
  uint64_t *live_handles;           /* borrowed: the proxy's count of open handles */
  const struct http_limits *limits; /* borrowed: response parsing limits */
  struct mirror_request *inflight;  /* owned, doubly linked */
  struct mirror_stats stats;
};

/* Sets up an empty set (borrows everything). */
void mirror_set_init(struct mirror_set *ms, uv_loop_t *loop, uint64_t *live_handles, const struct http_limits *limits);

/* Writes authority with "-shadow" appended to its host part, before any port, as Envoy's
 * shadow writer does: "httpbin:8000" -> "httpbin-shadow:8000", "[::1]:80" -> "[::1]-shadow:80",
 * "httpbin" -> "httpbin-shadow". Returns the length written (NUL-terminated), or -ENOSPC when
 * it does not fit in cap bytes (nothing useful written then). */
int mirror_shadow_host(const char *authority, size_t len, char *out, size_t cap);

/* The mirrorPercentage draw: percent (0..100) as a per-million fraction, one draw of rng.
 * Returns 1 when the request is mirrored. The draw in [0, 100) goes to *roll when not NULL. */
int mirror_draw(double percent, struct rng *rng, double *roll);

/* Sends a shadow to a host of c picked with rng: head (a whole request head, "-shadow" host
 * already in it) and body are copied; the answer is read and dropped; timeout_ms bounds the
 * whole shadow. Returns 0 when sent (counted in `sent`; a connect error or any later failure is
 * counted in `failed`), or a negative error when it could not start: -EHOSTUNREACH (no cluster or
 * no host to pick, counted in `no_host`) or -ENOMEM (counted in `failed`). Never calls back. */
int mirror_send(struct mirror_set *ms, struct cluster *c, struct rng *rng, struct slice head, struct slice body,
                uint64_t timeout_ms);

/* Cancels every shadow in flight (drain): connections closed, references dropped; their timer
 * handles finish closing on the next loop turn. */
void mirror_set_cancel(struct mirror_set *ms);

/* Shadows in flight (their handles included until closed). */
size_t mirror_set_inflight(const struct mirror_set *ms);

#endif
