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
#include <stddef.h>
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

/* ---- the proxy's buckets --------------------------------------------------------------------
 *
 * Each listener's filter instance in Envoy owns one bucket. A sidecar keeps one per route config
 * that has a limit ("inbound|9080", "outbound", "http.8080"), across config pushes: a push that
 * leaves the limit's token_bucket settings as they were keeps the bucket (and its tokens), one
 * that changes them starts a new, full bucket, as Envoy does when it builds a new filter. The
 * counters are Envoy's <stat_prefix>.http_local_rate_limit.* stats, which survive a push as
 * Envoy's stats do. */

#define RATELIMIT_MAX_BUCKETS 8

struct ratelimit_counters {
  uint64_t enabled;      /* requests for which filter_enabled drew true */
  uint64_t enforced;     /* requests answered 429 (no token, and filter_enforced drew true) */
  uint64_t rate_limited; /* requests that found no token, enforced or not */
  uint64_t ok;           /* requests that took a token */
};

struct ratelimit_slot {
  bool used;
  char name[64];        /* the route config ("inbound|9080") */
  char stat_prefix[64]; /* the filter's stat_prefix ("http_local_rate_limiter") */
  uint32_t max_tokens, tokens_per_fill;
  int64_t fill_interval_ms;
  struct token_bucket bucket;
  struct ratelimit_counters stats;
};

/* Zero-initialised: no buckets. Plain data, owned by the proxy. */
struct ratelimit_buckets {
  struct ratelimit_slot slots[RATELIMIT_MAX_BUCKETS];
  size_t evict_next; /* with every slot used, the next one a new name takes over */
};

/* The bucket of route config `name` under limit cfg (borrowed): the kept one when its settings
 * match cfg's, a full new one otherwise (same slot, counters kept). A name not seen yet takes a
 * free slot, else the oldest taken one in turn (more than RATELIMIT_MAX_BUCKETS limited route
 * configs in one proxy is beyond a lesson). Returns the slot, borrowed from bs. */
struct ratelimit_slot *ratelimit_buckets_get(struct ratelimit_buckets *bs, const char *name,
                                             const struct resource_local_rate_limit *cfg, int64_t now_ms);

/* ratelimit_check on the slot's bucket, counting Envoy's stats. *tokens_left gets the tokens left
 * after the request. */
enum ratelimit_verdict ratelimit_slot_check(struct ratelimit_slot *slot, const struct resource_local_rate_limit *cfg,
                                            struct rng *rng, int64_t now_ms, uint32_t *tokens_left);

#endif
