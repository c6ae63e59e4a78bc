/* ratelimit: Envoy's local rate limit (envoy.filters.http.local_ratelimit) as Istio's
 * rate-limiting task configures it with an EnvoyFilter: a token bucket per listener (or per
 * route), `filter_enabled` and `filter_enforced` percentages, and headers added to the 429.
 *
 * Where it sits: first in the sidecar's HTTP filter chain, before routing; a limited request
 * is answered 429 "local_rate_limited" with flag RL. Envoy's bucket starts full and a timer
 * adds tokens_per_fill every fill_interval up to max_tokens; here the refill is computed from
 * `now` when a token is asked for, which gives the same count of tokens at every instant.
 *
 * Pure: the caller passes now and its seeded rng.
 */
#ifndef MESH_RATELIMIT_H
#define MESH_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/rand.h"
#include "mesh/resource.h"

struct token_bucket {
  uint32_t max_tokens, tokens_per_fill;
  int64_t fill_interval_ms;
  uint32_t tokens;
  int64_t last_fill_ms; /* time of the last whole fill interval counted */
};

/* A full bucket at now. fill_interval_ms must be > 0 and tokens_per_fill > 0 (validation
 * refuses others). */
void token_bucket_init(struct token_bucket *b, uint32_t max_tokens, uint32_t tokens_per_fill, int64_t fill_interval_ms,
                       int64_t now_ms);
/* Adds the fills due by now, then takes one token if there is one. Returns true when taken. */
bool token_bucket_take(struct token_bucket *b, int64_t now_ms);
/* Tokens left at now (after the due fills), without taking one. */
uint32_t token_bucket_peek(struct token_bucket *b, int64_t now_ms);

enum ratelimit_verdict {
  RATELIMIT_PASS,         /* not checked (filter not enabled for this draw) or a token taken */
  RATELIMIT_LIMITED,      /* no token and enforced: 429, flag RL */
  RATELIMIT_NOT_ENFORCED, /* no token, but the enforced draw let it through (stats only) */
};

/* One request through the filter: draws filter_enabled (per million, as Envoy's runtime
 * fractional percent), then takes a token, then on a miss draws filter_enforced. */
enum ratelimit_verdict ratelimit_check(const struct resource_local_rate_limit *cfg, struct token_bucket *b,
                                       struct rng *rng, int64_t now_ms);

#endif
