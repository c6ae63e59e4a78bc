/* ratelimit: Envoy's local rate limit token bucket and the filter's two runtime
 * percentages (see ratelimit.h for where it sits).
 *
 * Envoy (source/extensions/filters/common/local_ratelimit) fills the bucket
 * from a timer every fill_interval; here the fills that are due are counted
 * from `now` whenever the bucket is touched, in whole intervals only (a
 * half-elapsed interval adds nothing, as the timer has not fired yet), and
 * last_fill_ms advances by exactly those intervals so no time is lost.
 * filter_enabled and filter_enforced are RuntimeFractionalPercent values, drawn
 * per million like every Envoy runtime feature check.
 */
#include "mesh/ratelimit.h"

#include <stdio.h>
#include <string.h>

#define PER_MILLION 1000000u

void token_bucket_init(struct token_bucket *b, uint32_t max_tokens, uint32_t tokens_per_fill, int64_t fill_interval_ms,
                       int64_t now_ms) {
  b->max_tokens = max_tokens;
  b->tokens_per_fill = tokens_per_fill;
  b->fill_interval_ms = fill_interval_ms > 0 ? fill_interval_ms : 1;
  b->tokens = max_tokens; /* Envoy's bucket starts full */
  b->last_fill_ms = now_ms;
}

static void refill(struct token_bucket *b, int64_t now_ms) {
  if (now_ms <= b->last_fill_ms) return; /* a clock that steps back adds nothing */
  uint64_t fills = (uint64_t)(now_ms - b->last_fill_ms) / (uint64_t)b->fill_interval_ms;
  if (fills == 0) return;
  b->last_fill_ms += (int64_t)fills * b->fill_interval_ms;
  uint64_t room = b->max_tokens - b->tokens;
  /* fills * tokens_per_fill may overflow for a long idle bucket: compare by
   * division. */
  if (b->tokens_per_fill == 0 || fills >= room / b->tokens_per_fill + 1)
    b->tokens = b->tokens_per_fill ? b->max_tokens : b->tokens;
  else b->tokens += (uint32_t)(fills * b->tokens_per_fill);
  if (b->tokens > b->max_tokens) b->tokens = b->max_tokens;
}

bool token_bucket_take(struct token_bucket *b, int64_t now_ms) {
  refill(b, now_ms);
  if (b->tokens == 0) return false;
  b->tokens--;
  return true;
}

uint32_t token_bucket_peek(struct token_bucket *b, int64_t now_ms) {
  refill(b, now_ms);
  return b->tokens;
}

/* Envoy's runtime featureEnabled with a per-million fractional percent. */
static bool feature_enabled(double percent, struct rng *rng) {
  uint32_t num = percent <= 0 ? 0 : percent >= 100 ? PER_MILLION : (uint32_t)(percent * 10000.0);
  return rng_below(rng, PER_MILLION) < num;
}

enum ratelimit_verdict ratelimit_check(const struct resource_local_rate_limit *cfg, struct token_bucket *b,
                                       struct rng *rng, int64_t now_ms) {
  if (!feature_enabled(cfg->enabled_percent, rng))
    return RATELIMIT_PASS; /* not enabled for this request: the bucket is not
                              touched */
  if (token_bucket_take(b, now_ms)) return RATELIMIT_PASS;
  return feature_enabled(cfg->enforced_percent, rng) ? RATELIMIT_LIMITED : RATELIMIT_NOT_ENFORCED;
}

/* ---- the proxy's buckets ---------------------------------------------------------------------- */

static bool same_settings(const struct ratelimit_slot *s, const struct resource_local_rate_limit *cfg) {
  return s->max_tokens == cfg->max_tokens && s->tokens_per_fill == cfg->tokens_per_fill &&
         s->fill_interval_ms == cfg->fill_interval_ms;
}

static void slot_settings(struct ratelimit_slot *s, const struct resource_local_rate_limit *cfg, int64_t now_ms) {
  s->max_tokens = cfg->max_tokens;
  s->tokens_per_fill = cfg->tokens_per_fill;
  s->fill_interval_ms = cfg->fill_interval_ms;
  token_bucket_init(&s->bucket, cfg->max_tokens, cfg->tokens_per_fill, cfg->fill_interval_ms, now_ms);
}

struct ratelimit_slot *ratelimit_buckets_get(struct ratelimit_buckets *bs, const char *name,
                                             const struct resource_local_rate_limit *cfg, int64_t now_ms) {
  struct ratelimit_slot *free_slot = NULL;
  for (size_t i = 0; i < RATELIMIT_MAX_BUCKETS; i++) {
    struct ratelimit_slot *s = &bs->slots[i];
    if (!s->used) {
      if (!free_slot) free_slot = s;
      continue;
    }
    if (strncmp(s->name, name, sizeof s->name - 1) != 0) continue;
    if (!same_settings(s, cfg)) slot_settings(s, cfg, now_ms); /* a changed limit: a new, full bucket */
    snprintf(s->stat_prefix, sizeof s->stat_prefix, "%s", cfg->stat_prefix ? cfg->stat_prefix : "");
    return s;
  }
  struct ratelimit_slot *s = free_slot;
  if (!s) {
    s = &bs->slots[bs->evict_next];
    bs->evict_next = (bs->evict_next + 1) % RATELIMIT_MAX_BUCKETS;
  }
  memset(s, 0, sizeof *s);
  s->used = true;
  snprintf(s->name, sizeof s->name, "%s", name);
  snprintf(s->stat_prefix, sizeof s->stat_prefix, "%s", cfg->stat_prefix ? cfg->stat_prefix : "");
  slot_settings(s, cfg, now_ms);
  return s;
}

enum ratelimit_verdict ratelimit_slot_check(struct ratelimit_slot *slot, const struct resource_local_rate_limit *cfg,
                                            struct rng *rng, int64_t now_ms, uint32_t *tokens_left) {
  /* ratelimit_check says PASS both when the filter is not enabled for the draw and when a token
   * was taken; the bucket tells them apart (the peek did the due fills, so the check adds none). */
  uint32_t before = token_bucket_peek(&slot->bucket, now_ms);
  enum ratelimit_verdict v = ratelimit_check(cfg, &slot->bucket, rng, now_ms);
  uint32_t after = token_bucket_peek(&slot->bucket, now_ms);
  if (tokens_left) *tokens_left = after;
  switch (v) {
  case RATELIMIT_PASS:
    if (after < before) {
      slot->stats.enabled++;
      slot->stats.ok++;
    }
    break;
  case RATELIMIT_LIMITED:
    slot->stats.enabled++;
    slot->stats.rate_limited++;
    slot->stats.enforced++;
    break;
  case RATELIMIT_NOT_ENFORCED:
    slot->stats.enabled++;
    slot->stats.rate_limited++;
    break;
  }
  return v;
}
