/* retry: Istio's retries translated to Envoy's retry policy, the retry_on check after each try,
 * and Envoy's jittered backoff. Pure: no I/O, no clock (see retry.h for where it sits).
 *
 * Translation follows Istio's pilot/pkg/networking/core/route/retry ConvertPolicy:
 *   - no `retries` block: DefaultPolicy(), 2 retries on
 *     connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes with [503];
 *   - `attempts <= 0` (an unset attempts is 0 in the proto): no retry policy at all;
 *   - otherwise start from DefaultPolicy(), set the attempts, and when retryOn is written
 *     replace both the conditions and the status codes by what parseRetryOn finds in it
 *     (integers are status codes), appending "retriable-status-codes" when codes were given
 *     without it.
 * The decision follows Envoy's RetryStateImpl (source/common/router/retry_state_impl.cc):
 * wouldRetryFromHeaders for a response, wouldRetryFromReset for everything that ended without a
 * whole response head.
 */
#include "mesh/retry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The names in the order retry_policy_format writes them; this order reproduces
 * Istio's default string
 * "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes".
 */
static const struct {
  const char *name;
  uint32_t bit;
} CONDITIONS[] = {
    {"5xx", RETRY_ON_5XX},
    {"gateway-error", RETRY_ON_GATEWAY_ERROR},
    {"reset", RETRY_ON_RESET},
    {"connect-failure", RETRY_ON_CONNECT_FAILURE},
    {"refused-stream", RETRY_ON_REFUSED_STREAM},
    {"retriable-4xx", RETRY_ON_RETRIABLE_4XX},
    {"unavailable", RETRY_ON_UNAVAILABLE},
    {"cancelled", RETRY_ON_CANCELLED},
    {"deadline-exceeded", RETRY_ON_DEADLINE_EXCEEDED},
    {"internal", RETRY_ON_INTERNAL},
    {"resource-exhausted", RETRY_ON_RESOURCE_EXHAUSTED},
    {"retriable-status-codes", RETRY_ON_RETRIABLE_STATUS_CODES},
};
#define CONDITIONS_LEN (sizeof CONDITIONS / sizeof CONDITIONS[0])

/* Envoy policies that validation accepts but that cannot fire in the lab's
 * HTTP/1.1 data path: they depend on headers (envoy-ratelimited,
 * retriable-headers with its header list), on HTTP/3, or on knowing whether
 * request bytes reached the wire (reset-before-request). They are accepted and
 * carry no bit, so a config Istio accepts is not refused here. */
static const char *const INERT[] = {"reset-before-request", "envoy-ratelimited", "retriable-headers",
                                    "http3-post-connect-failure", NULL};

static void default_policy(struct retry_policy *p) {
  memset(p, 0, sizeof *p);
  p->retries = 2;
  p->on = RETRY_ON_CONNECT_FAILURE | RETRY_ON_REFUSED_STREAM | RETRY_ON_UNAVAILABLE | RETRY_ON_CANCELLED |
          RETRY_ON_RETRIABLE_STATUS_CODES;
  p->codes[0] = 503;
  p->codes_len = 1;
  p->previous_hosts = true;
  p->host_selection_attempts = 5;
  p->base_interval_ms = 25;
  p->max_interval_ms = 250;
}

/* Istio's parseRetryOn: comma-separated, each item trimmed; integers are status
 * codes. */
static int parse_retry_on(const char *list, struct retry_policy *p, char *err, size_t errlen) {
  p->on = 0;
  p->codes_len = 0;
  const char *s = list;
  for (;;) {
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    while (n > 0 && *s == ' ') s++, n--;
    while (n > 0 && s[n - 1] == ' ') n--;
    char word[64];
    snprintf(word, sizeof word, "%.*s", (int)(n < 63 ? n : 63), s);
    if (n > 0) {
      bool known = false;
      for (size_t i = 0; i < CONDITIONS_LEN && !known; i++)
        if (strcmp(word, CONDITIONS[i].name) == 0) {
          p->on |= CONDITIONS[i].bit;
          known = true;
        }
      for (size_t i = 0; INERT[i] && !known; i++) known = strcmp(word, INERT[i]) == 0;
      if (!known) {
        char *end;
        long code = strtol(word, &end, 10);
        if (*end != '\0' || code < 100 || code > 599) {
          snprintf(err, errlen, "retryOn: '%s' is not a retry condition or an HTTP status code", word);
          return -EINVAL;
        }
        if (p->codes_len == RETRY_MAX_CODES) {
          snprintf(err, errlen, "retryOn: more than %d status codes", RETRY_MAX_CODES);
          return -EINVAL;
        }
        p->codes[p->codes_len++] = (uint16_t)code;
      }
    }
    if (!e) break;
    s = e + 1;
  }
  /* Istio: codes without "retriable-status-codes" would never be looked at, so
   * it adds it. */
  if (p->codes_len > 0) p->on |= RETRY_ON_RETRIABLE_STATUS_CODES;
  return 0;
}

int retry_policy_from_route(const struct resource_retries *r, struct retry_policy *out, char *err, size_t errlen) {
  if (errlen > 0) err[0] = '\0';
  default_policy(out);
  if (!r || !r->present) return 0;
  /* attempts is a plain int32 in Istio's proto: unset reads as 0, which
   * disables retries. */
  uint32_t attempts = r->attempts.set ? r->attempts.value : 0;
  if (attempts == 0) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  out->retries = attempts;
  if (r->retry_on_set && r->retry_on && r->retry_on[0]) {
    int rc = parse_retry_on(r->retry_on, out, err, errlen);
    if (rc < 0) return rc;
  }
  if (r->per_try_timeout.set) out->per_try_timeout_ms = r->per_try_timeout.ms;
  return 0;
}

static bool has_code(const struct retry_policy *p, int status) {
  for (size_t i = 0; i < p->codes_len; i++)
    if (p->codes[i] == status) return true;
  return false;
}

bool retry_policy_matches(const struct retry_policy *p, enum retry_event ev, int status, int grpc_status) {
  if (p->retries == 0) return false;
  switch (ev) {
  case RETRY_EVENT_CONNECT_FAILURE:
    /* wouldRetryFromReset: a connect failure is a reset too, so 5xx,
     * gateway-error and reset retry it as well as connect-failure. */
    return (p->on & (RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR | RETRY_ON_RESET | RETRY_ON_CONNECT_FAILURE)) != 0;
  case RETRY_EVENT_RESET:
  case RETRY_EVENT_PER_TRY_TIMEOUT:
    /* Envoy turns a per-try timeout into a local reset of that try.
     * refused-stream needs an HTTP/2 REFUSED_STREAM, which HTTP/1.1 cannot
     * send. */
    return (p->on & (RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR | RETRY_ON_RESET)) != 0;
  case RETRY_EVENT_RESPONSE:
    break;
  }
  if ((p->on & RETRY_ON_5XX) && status >= 500) return true;
  if ((p->on & RETRY_ON_GATEWAY_ERROR) && status >= 502 && status <= 504) return true;
  if ((p->on & RETRY_ON_RETRIABLE_4XX) && status == 409) return true;
  if ((p->on & RETRY_ON_RETRIABLE_STATUS_CODES) && has_code(p, status)) return true;
  /* The gRPC names look only at the grpc-status the response carries. */
  switch (grpc_status) {
  case 1:
    return (p->on & RETRY_ON_CANCELLED) != 0;
  case 4:
    return (p->on & RETRY_ON_DEADLINE_EXCEEDED) != 0;
  case 8:
    return (p->on & RETRY_ON_RESOURCE_EXHAUSTED) != 0;
  case 13:
    return (p->on & RETRY_ON_INTERNAL) != 0;
  case 14:
    return (p->on & RETRY_ON_UNAVAILABLE) != 0;
  default:
    return false;
  }
}

int64_t retry_backoff_ms(const struct retry_policy *p, uint32_t n, struct rng *rng) {
  int64_t base = p->base_interval_ms > 0 ? p->base_interval_ms : 25;
  int64_t max = p->max_interval_ms > 0 ? p->max_interval_ms : 10 * base;
  if (n == 0) n = 1;
  /* (2^n - 1) * base, saturating at max well before it could overflow. */
  int64_t limit = max;
  if (n < 32) {
    int64_t mult = ((int64_t)1 << n) - 1;
    if (mult <= max / base) limit = mult * base;
  }
  if (limit > max) limit = max;
  if (limit > UINT32_MAX) limit = UINT32_MAX;
  return (int64_t)rng_below(rng, (uint32_t)limit);
}

void retry_policy_format(const struct retry_policy *p, char *out, size_t cap) {
  if (cap == 0) return;
  out[0] = '\0';
  if (p->retries == 0) return;
  size_t used = 0;
  for (size_t i = 0; i < CONDITIONS_LEN; i++) {
    if (!(p->on & CONDITIONS[i].bit)) continue;
    int w = snprintf(out + used, cap - used, "%s%s", used ? "," : "", CONDITIONS[i].name);
    if (w < 0 || (size_t)w >= cap - used) {
      /* Cut to fit: snprintf already wrote what fits and a NUL. */
      return;
    }
    used += (size_t)w;
  }
}
