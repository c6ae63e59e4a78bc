/* retry: the route's retry policy as Envoy runs it after Istio translated `http[].retries`.
 *
 * Where it sits: the proxy (proxy.c) asks, after each failed try, whether the outcome is one
 * the policy retries, and how long to back off; the budget (attempts left, the cluster's
 * maxRetries breaker) is the proxy's to check. Translation follows Istio's
 * pilot/pkg/networking/core/route/retry ConvertPolicy: no `retries` block gives Istio's default
 * (2 retries on connect-failure, refused-stream, unavailable, cancelled and
 * retriable-status-codes [503], preferring other hosts); `attempts: 0` (or unset) turns retries
 * off; a `retryOn` replaces the default conditions, and bare status codes in it become
 * retriable-status-codes. Backoff is Envoy's fully jittered exponential: try n waits a uniform
 * draw below min((2^n - 1) * 25 ms, 250 ms).
 *
 * Pure: no I/O, no clock; randomness comes from the caller's seeded rng.
 */
#ifndef MESH_RETRY_H
#define MESH_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/rand.h"
#include "mesh/resource.h"

/* Envoy's retry_on conditions (x-envoy-retry-on names). */
enum retry_on {
  RETRY_ON_5XX = 1u << 0,
  RETRY_ON_GATEWAY_ERROR = 1u << 1,
  RETRY_ON_RESET = 1u << 2,
  RETRY_ON_CONNECT_FAILURE = 1u << 3,
  RETRY_ON_REFUSED_STREAM = 1u << 4, /* HTTP/2 REFUSED_STREAM: never seen over HTTP/1.1 */
  RETRY_ON_RETRIABLE_4XX = 1u << 5,  /* 409 */
  RETRY_ON_RETRIABLE_STATUS_CODES = 1u << 6,
  RETRY_ON_CANCELLED = 1u << 7, /* gRPC status names: match a grpc-status response header */
  RETRY_ON_DEADLINE_EXCEEDED = 1u << 8,
  RETRY_ON_INTERNAL = 1u << 9,
  RETRY_ON_RESOURCE_EXHAUSTED = 1u << 10,
  RETRY_ON_UNAVAILABLE = 1u << 11,
};

#define RETRY_MAX_CODES 16

struct retry_policy {
  uint32_t retries;                /* tries after the first; 0 = retries off */
  uint32_t on;                     /* RETRY_ON_* */
  uint16_t codes[RETRY_MAX_CODES]; /* retriable status codes (with RETRY_ON_RETRIABLE_STATUS_CODES) */
  size_t codes_len;
  int64_t per_try_timeout_ms;                /* 0 = none: each try may use what is left of the route timeout */
  bool previous_hosts;                       /* prefer hosts not tried yet (Istio always sets it) */
  uint32_t host_selection_attempts;          /* picks made to find an untried host (Istio: 5) */
  int64_t base_interval_ms, max_interval_ms; /* 25 and 250 */
};

/* How a try ended, as the retry policy sees it. */
enum retry_event {
  RETRY_EVENT_RESPONSE,        /* a response head arrived with `status` (grpc_status if any) */
  RETRY_EVENT_CONNECT_FAILURE, /* connect refused, failed or timed out */
  RETRY_EVENT_RESET,           /* connection closed or reset before a whole response head */
  RETRY_EVENT_PER_TRY_TIMEOUT, /* perTryTimeout fired (Envoy retries it as a reset under 5xx,
                                  gateway-error and reset) */
};

/* Fills out from a route's retries (NULL or not present: Istio's default policy). Returns 0,
 * or -EINVAL with a message in err when retryOn names something unknown (validation refuses
 * that earlier, so this is a second line of defence). */
int retry_policy_from_route(const struct resource_retries *r, struct retry_policy *out, char *err, size_t errlen);

/* Whether the policy retries this outcome (budget aside). status: the response code for
 * RETRY_EVENT_RESPONSE; grpc_status: the response's grpc-status value or -1. */
bool retry_policy_matches(const struct retry_policy *p, enum retry_event ev, int status, int grpc_status);

/* The backoff before retry number n (1 = the first retry): uniform in
 * [0, min((2^n - 1) * base, max)) ms, drawn from rng. This is the range Envoy's router docs
 * state (0-24, 0-74, 0-174 ms ...). Envoy's source has drifted from it: today's
 * JitteredExponentialBackOffStrategy draws below an interval that starts at base and doubles
 * up to max (25, 50, 100, 200, 250 ms), and older releases drew below (2^n - 1) * base and then
 * clamped the draw to max. The lab follows the documented range. */
int64_t retry_backoff_ms(const struct retry_policy *p, uint32_t n, struct rng *rng);

/* Writes Envoy's retry_on string for p ("connect-failure,refused-stream,unavailable,cancelled,
 * retriable-status-codes") into out, cut to fit; "" when retries are off. */
void retry_policy_format(const struct retry_policy *p, char *out, size_t cap);

#endif
