/* Tests for mesh/ratelimit.c: the token bucket starts full, refills by whole
 * intervals, caps at max_tokens; filter_enabled 0 never limits (and leaves the
 * bucket alone); filter_enforced 0 lets a miss through as NOT_ENFORCED; draws
 * replay with the seed. */
#include "mesh/ratelimit.h"

#include <stdio.h>

#include "support/test.h"

static void bucket_timeline(void) {
  /* Istio's task: max 4, 4 per fill, every 60 s; plus a slower 10/1 per 100 ms
   * bucket. */
  static const struct {
    uint32_t max, per_fill;
    int64_t interval;
    struct {
      int64_t at;
      int takes;   /* attempts at this instant */
      int granted; /* how many succeed */
    } steps[6];
  } cases[] = {
      {4, 4, 60000, {{0, 5, 4}, {59999, 1, 0}, {60000, 5, 4}, {60001, 1, 0}, {300000, 9, 4}, {-1, 0, 0}}},
      {10, 1, 100, {{0, 10, 10}, {50, 1, 0}, {100, 2, 1}, {350, 3, 2}, {399, 1, 0}, {400, 2, 1}}},
      {3, 2, 1000, {{1000, 3, 3}, {2000, 3, 2}, {2500, 1, 0}, {10000, 5, 3}, {-1, 0, 0}, {-1, 0, 0}}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct token_bucket b;
    int64_t t0 = cases[i].steps[0].at;
    token_bucket_init(&b, cases[i].max, cases[i].per_fill, cases[i].interval, t0);
    EXPECT_INT_EQ(token_bucket_peek(&b, t0), cases[i].max); /* starts full */
    for (size_t s = 0; s < 6 && cases[i].steps[s].at >= 0; s++) {
      int granted = 0;
      for (int k = 0; k < cases[i].steps[s].takes; k++) granted += token_bucket_take(&b, cases[i].steps[s].at);
      if (granted != cases[i].steps[s].granted)
        test_fail(__FILE__, __LINE__, "bucket %zu at %lld ms: %d of %d taken, want %d", i,
                  (long long)cases[i].steps[s].at, granted, cases[i].steps[s].takes, cases[i].steps[s].granted);
    }
  }
}

static void refill_caps_and_keeps_phase(void) {
  struct token_bucket b;
  token_bucket_init(&b, 5, 2, 100, 0);
  for (int k = 0; k < 5; k++) EXPECT(token_bucket_take(&b, 0));
  EXPECT_INT_EQ(token_bucket_peek(&b, 99), 0);  /* no partial intervals */
  EXPECT_INT_EQ(token_bucket_peek(&b, 150), 2); /* one fill */
  EXPECT_INT_EQ(token_bucket_peek(&b, 199), 2); /* peeking at 150 did not move the phase */
  EXPECT_INT_EQ(token_bucket_peek(&b, 200), 4);
  EXPECT_INT_EQ(token_bucket_peek(&b, 300), 5);           /* capped at max */
  EXPECT_INT_EQ(token_bucket_peek(&b, INT64_MAX / 2), 5); /* a long idle bucket does not overflow */
  EXPECT_INT_EQ(token_bucket_peek(&b, 10), 5);            /* a clock stepping back adds nothing */
}

static void filter_percentages(void) {
  static const struct {
    const char *what;
    double enabled, enforced;
    int want_pass, want_limited, want_not_enforced; /* of 10 requests on a 3-token bucket */
    uint32_t want_tokens_left;
  } cases[] = {
      {"enabled and enforced", 100, 100, 3, 7, 0, 0},
      {"enabled 0: never limits, bucket untouched", 0, 100, 10, 0, 0, 3},
      {"enforced 0: misses are not enforced", 100, 0, 3, 0, 7, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct resource_local_rate_limit cfg = {.max_tokens = 3,
                                            .tokens_per_fill = 3,
                                            .fill_interval_ms = 60000,
                                            .enabled_percent = cases[i].enabled,
                                            .enforced_percent = cases[i].enforced};
    struct token_bucket b;
    token_bucket_init(&b, cfg.max_tokens, cfg.tokens_per_fill, cfg.fill_interval_ms, 0);
    struct rng rng;
    rng_seed(&rng, 5);
    int count[3] = {0};
    for (int k = 0; k < 10; k++) count[ratelimit_check(&cfg, &b, &rng, k)]++;
    if (count[RATELIMIT_PASS] != cases[i].want_pass || count[RATELIMIT_LIMITED] != cases[i].want_limited ||
        count[RATELIMIT_NOT_ENFORCED] != cases[i].want_not_enforced)
      test_fail(__FILE__, __LINE__, "%s: pass %d limited %d not-enforced %d, want %d %d %d", cases[i].what,
                count[RATELIMIT_PASS], count[RATELIMIT_LIMITED], count[RATELIMIT_NOT_ENFORCED], cases[i].want_pass,
                cases[i].want_limited, cases[i].want_not_enforced);
    EXPECT_INT_EQ(token_bucket_peek(&b, 10), cases[i].want_tokens_left);
  }
}

static void half_enabled_about_half_checked(void) {
  /* An empty bucket that never refills: every enabled request is limited. */
  struct resource_local_rate_limit cfg = {.max_tokens = 0,
                                          .tokens_per_fill = 1,
                                          .fill_interval_ms = INT64_MAX / 4,
                                          .enabled_percent = 50,
                                          .enforced_percent = 100};
  struct token_bucket b;
  token_bucket_init(&b, 0, 1, cfg.fill_interval_ms, 0);
  struct rng rng, twin;
  rng_seed(&rng, 77);
  rng_seed(&twin, 77);
  int limited = 0;
  for (int k = 0; k < 10000; k++) {
    enum ratelimit_verdict v = ratelimit_check(&cfg, &b, &rng, k);
    /* The twin replays the draws: enabled per million, then enforced on a miss.
     */
    bool enabled = rng_below(&twin, 1000000) < 500000;
    if (enabled) (void)rng_below(&twin, 1000000);
    EXPECT_INT_EQ(v, enabled ? RATELIMIT_LIMITED : RATELIMIT_PASS);
    limited += v == RATELIMIT_LIMITED;
  }
  EXPECT_INT_GE(limited, 5000 - 250);
  EXPECT_INT_LE(limited, 5000 + 250);
}

/* The proxy's buckets: kept across pushes while the settings stay, a new full bucket when they
 * change, counters as Envoy's stats count them. */
static void buckets_kept_across_pushes(void) {
  struct ratelimit_buckets bs = {0};
  struct resource_local_rate_limit cfg = {.stat_prefix = "http_local_rate_limiter",
                                          .max_tokens = 4,
                                          .tokens_per_fill = 4,
                                          .fill_interval_ms = 60000,
                                          .enabled_percent = 100,
                                          .enforced_percent = 100};
  struct rng rng;
  rng_seed(&rng, 1);
  struct ratelimit_slot *s = ratelimit_buckets_get(&bs, "inbound|9080", &cfg, 0);
  uint32_t left = 99;
  static const enum ratelimit_verdict want[] = {RATELIMIT_PASS, RATELIMIT_PASS,    RATELIMIT_PASS,
                                                RATELIMIT_PASS, RATELIMIT_LIMITED, RATELIMIT_LIMITED};
  static const uint32_t want_left[] = {3, 2, 1, 0, 0, 0};
  for (size_t k = 0; k < 6; k++) {
    EXPECT_INT_EQ(ratelimit_slot_check(s, &cfg, &rng, 10, &left), want[k]);
    EXPECT_INT_EQ(left, want_left[k]);
  }
  EXPECT_INT_EQ(s->stats.enabled, 6);
  EXPECT_INT_EQ(s->stats.ok, 4);
  EXPECT_INT_EQ(s->stats.rate_limited, 2);
  EXPECT_INT_EQ(s->stats.enforced, 2);
  /* A push with the same limit (a new config object, same values) keeps the empty bucket. */
  struct resource_local_rate_limit same = cfg;
  EXPECT(ratelimit_buckets_get(&bs, "inbound|9080", &same, 20) == s);
  EXPECT_INT_EQ(token_bucket_peek(&s->bucket, 20), 0);
  /* Another listener has its own bucket. */
  struct ratelimit_slot *other = ratelimit_buckets_get(&bs, "outbound", &cfg, 20);
  EXPECT(other != s);
  EXPECT_INT_EQ(token_bucket_peek(&other->bucket, 20), 4);
  /* Changed settings: a new full bucket in the same slot, the counters kept. */
  struct resource_local_rate_limit bigger = cfg;
  bigger.max_tokens = 10;
  EXPECT(ratelimit_buckets_get(&bs, "inbound|9080", &bigger, 30) == s);
  EXPECT_INT_EQ(token_bucket_peek(&s->bucket, 30), 10);
  EXPECT_INT_EQ(s->stats.enabled, 6);
  /* Not enforced: passes, counted as rate limited but not enforced; not enabled: not counted. */
  struct resource_local_rate_limit lax = {
      .max_tokens = 0, .tokens_per_fill = 1, .fill_interval_ms = 60000, .enabled_percent = 100, .enforced_percent = 0};
  struct ratelimit_slot *l = ratelimit_buckets_get(&bs, "http.8080", &lax, 0);
  EXPECT_INT_EQ(ratelimit_slot_check(l, &lax, &rng, 1, NULL), RATELIMIT_NOT_ENFORCED);
  lax.enabled_percent = 0;
  EXPECT_INT_EQ(ratelimit_slot_check(l, &lax, &rng, 1, NULL), RATELIMIT_PASS);
  EXPECT_INT_EQ(l->stats.enabled, 1);
  EXPECT_INT_EQ(l->stats.rate_limited, 1);
  EXPECT_INT_EQ(l->stats.enforced, 0);
  EXPECT_INT_EQ(l->stats.ok, 0);
  /* More names than slots: the oldest slots are taken over in turn, never a crash. */
  char name[16];
  for (int k = 0; k < 2 * RATELIMIT_MAX_BUCKETS; k++) {
    snprintf(name, sizeof name, "inbound|%d", 9000 + k);
    struct ratelimit_slot *n = ratelimit_buckets_get(&bs, name, &cfg, 0);
    EXPECT_STR_EQ(n->name, name);
  }
}

TEST_CASES(TEST(bucket_timeline), TEST(refill_caps_and_keeps_phase), TEST(filter_percentages),
           TEST(half_enabled_about_half_checked), TEST(buckets_kept_across_pushes))
