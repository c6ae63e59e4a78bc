/* Tests for mesh/outlier.c: Istio's defaults from a DestinationRule, the consecutive 5xx, gateway
 * and local-origin detectors (when a run of results ejects, what resets a count), the
 * maxEjectionPercent cap as Envoy >= 1.27 applies it (and the always-eject-one-host opt-in),
 * ejection time growing with the multiplier up to max_ejection_time, the sweep bringing hosts
 * back at (not before) their time, and the multiplier decaying while a host stays in. */
#include "mesh/outlier.h"

#include "support/test.h"

/* A config as Istio builds it for `outlierDetection: {}`, with every cap lifted. */
static struct outlier_config base_config(void) {
  struct resource_outlier_detection od = {.present = true};
  struct outlier_config cfg;
  outlier_config_from_policy(&od, &cfg);
  cfg.max_ejection_percent = 100;
  return cfg;
}

/* ---- config from the DestinationRule -------------------------------------------------------- */

static void config_from_policy_defaults(void) {
  static const struct {
    const char *name;
    struct resource_outlier_detection od;
    bool null_policy;
    struct outlier_config want;
  } cases[] = {
      {"absent", {0}, true, {.enabled = false}},
      {"not present", {.present = false}, false, {.enabled = false}},
      {"empty outlierDetection: Istio's defaults",
       {.present = true},
       false,
       {true, 5, 0, 5, false, 10000, 30000, 300000, 10, false}},
      {"consecutive5xxErrors: 0 turns the 5xx detector off",
       {.present = true, .consecutive_5xx_errors = {0, true}},
       false,
       {true, 0, 0, 5, false, 10000, 30000, 300000, 10, false}},
      {"gateway errors and split local origin",
       {.present = true,
        .consecutive_gateway_errors = {3, true},
        .consecutive_local_origin_failures = {2, true},
        .split_external_local_origin_errors = {true, true}},
       false,
       {true, 5, 3, 2, true, 10000, 30000, 300000, 10, false}},
      {"explicit 0 percent and 0 local-origin keep Envoy's 10 and 5 (Istio copies only > 0)",
       {.present = true, .max_ejection_percent = {0, true}, .consecutive_local_origin_failures = {0, true}},
       false,
       {true, 5, 0, 5, false, 10000, 30000, 300000, 10, false}},
      {"percent above 100 is clamped",
       {.present = true, .max_ejection_percent = {150, true}},
       false,
       {true, 5, 0, 5, false, 10000, 30000, 300000, 100, false}},
      {"interval and base; max_ejection_time stays 300 s",
       {.present = true, .interval = {1000, true}, .base_ejection_time = {3000, true}},
       false,
       {true, 5, 0, 5, false, 1000, 3000, 300000, 10, false}},
      {"base above 300 s raises max_ejection_time to base",
       {.present = true, .base_ejection_time = {400000, true}},
       false,
       {true, 5, 0, 5, false, 10000, 400000, 400000, 10, false}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct outlier_config got;
    outlier_config_from_policy(cases[i].null_policy ? NULL : &cases[i].od, &got);
    const struct outlier_config *w = &cases[i].want;
    if (got.enabled != w->enabled) test_fail(__FILE__, __LINE__, "%s: enabled %d", cases[i].name, got.enabled);
    if (!w->enabled) continue;
    if (got.consecutive_5xx != w->consecutive_5xx || got.consecutive_gateway != w->consecutive_gateway ||
        got.consecutive_local_origin != w->consecutive_local_origin ||
        got.split_local_origin != w->split_local_origin || got.interval_ms != w->interval_ms ||
        got.base_ejection_ms != w->base_ejection_ms || got.max_ejection_ms != w->max_ejection_ms ||
        got.max_ejection_percent != w->max_ejection_percent || got.always_eject_one_host != w->always_eject_one_host)
      test_fail(__FILE__, __LINE__,
                "%s: got 5xx %u gw %u lo %u split %d interval %lld base %lld max %lld pct %u one %d", cases[i].name,
                got.consecutive_5xx, got.consecutive_gateway, got.consecutive_local_origin, got.split_local_origin,
                (long long)got.interval_ms, (long long)got.base_ejection_ms, (long long)got.max_ejection_ms,
                got.max_ejection_percent, got.always_eject_one_host);
  }
}

/* ---- the detectors: which report of a run ejects -------------------------------------------- */

/* A result in a run: a status, or one of the local-origin failures below. 0 ends the run. */
enum { CF = -1, TO = -2, RS = -3 };
enum { BY_NONE, BY_5XX, BY_GATEWAY, BY_LOCAL };

static void run_ejects_at(void) {
  static const struct {
    const char *name;
    uint32_t c5xx, cgw, clo;
    bool split;
    int run[16];
    int eject_at; /* 1-based report that returned OUTLIER_EJECTED; 0: none did */
    int by;
  } cases[] = {
      {"5 x 503 eject on the 5th", 5, 0, 5, false, {503, 503, 503, 503, 503}, 5, BY_5XX},
      {"4 x 500 do not", 5, 0, 5, false, {500, 500, 500, 500}, 0, BY_NONE},
      {"a 200 in between resets", 5, 0, 5, false, {500, 500, 500, 500, 200, 500, 500, 500, 500}, 0, BY_NONE},
      {"five after the 200 do", 5, 0, 5, false, {500, 500, 500, 500, 200, 500, 500, 500, 500, 500}, 10, BY_5XX},
      {"a 404 resets", 5, 0, 5, false, {500, 500, 500, 500, 404, 500, 500, 500, 500}, 0, BY_NONE},
      {"a 302 resets", 5, 0, 5, false, {503, 503, 503, 503, 302, 503}, 0, BY_NONE},
      {"mixed 5xx count together", 5, 0, 5, false, {500, 502, 599, 503, 501}, 5, BY_5XX},
      {"consecutive_5xx 0 disables", 0, 0, 5, false, {500, 500, 500, 500, 500, 500, 500, 500, 500, 500}, 0, BY_NONE},
      {"gateway 3: 502 503 504", 0, 3, 5, false, {502, 503, 504}, 3, BY_GATEWAY},
      {"gateway: a 500 resets the gateway count", 0, 3, 5, false, {503, 503, 500, 503, 503}, 0, BY_NONE},
      {"gateway: three after the 500", 0, 3, 5, false, {503, 503, 500, 502, 503, 504}, 6, BY_GATEWAY},
      {"gateway: 500s alone never count", 0, 2, 5, false, {500, 500, 500, 500}, 0, BY_NONE},
      {"gateway below 5xx fires first", 5, 3, 5, false, {503, 503, 503}, 3, BY_GATEWAY},
      {"gateway equal to 5xx takes the credit", 3, 3, 5, false, {503, 503, 503}, 3, BY_GATEWAY},
      {"gateway above 5xx: the 5xx detector ejects", 3, 5, 5, false, {503, 503, 503}, 3, BY_5XX},
      {"not split: connect failures are 503s", 5, 0, 5, false, {CF, CF, CF, CF, CF}, 5, BY_5XX},
      {"not split: resets are 503s", 5, 0, 5, false, {RS, RS, RS, RS, RS}, 5, BY_5XX},
      {"not split: timeouts are 504s, gateway errors", 0, 2, 5, false, {TO, TO}, 2, BY_GATEWAY},
      {"not split: connect failures are gateway errors", 0, 2, 5, false, {CF, 502}, 2, BY_GATEWAY},
      {"not split: local failures and 5xx share a count", 3, 0, 5, false, {500, CF, 500}, 3, BY_5XX},
      {"split: local failures count on their own", 5, 0, 3, true, {CF, TO, RS}, 3, BY_LOCAL},
      {"split: local failures leave the 5xx count alone", 2, 0, 5, true, {CF, CF, CF, CF}, 0, BY_NONE},
      {"split: a local failure does not break a 5xx run", 2, 0, 5, true, {500, CF, 500}, 3, BY_5XX},
      {"split: any response resets the local count", 5, 0, 3, true, {CF, CF, 503, CF, CF}, 0, BY_NONE},
      {"split: 5xx still eject", 5, 0, 3, true, {503, 503, 503, 503, 503}, 5, BY_5XX},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct outlier_config cfg = base_config();
    cfg.consecutive_5xx = cases[i].c5xx;
    cfg.consecutive_gateway = cases[i].cgw;
    cfg.consecutive_local_origin = cases[i].clo;
    cfg.split_local_origin = cases[i].split;
    struct outlier_host hosts[2] = {{0}, {0}};
    struct outlier_stats st = {0};
    int ejected_at = 0;
    for (int k = 0; k < 16 && cases[i].run[k] != 0; k++) {
      int r = cases[i].run[k];
      enum outlier_result_kind kind = r == CF   ? OUTLIER_CONNECT_FAILURE
                                      : r == TO ? OUTLIER_TIMEOUT
                                      : r == RS ? OUTLIER_RESET
                                                : OUTLIER_RESPONSE;
      enum outlier_verdict v = outlier_report(&cfg, hosts, 2, 0, kind, r > 0 ? r : 0, 1000 * k, &st);
      if (v == OUTLIER_EJECTED && ejected_at == 0) ejected_at = k + 1;
      if (v == OUTLIER_CAP_REACHED) test_fail(__FILE__, __LINE__, "%s: cap reached at 100%%", cases[i].name);
    }
    if (ejected_at != cases[i].eject_at)
      test_fail(__FILE__, __LINE__, "%s: ejected at report %d, want %d", cases[i].name, ejected_at, cases[i].eject_at);
    int by = st.ejections_consecutive_5xx            ? BY_5XX
             : st.ejections_consecutive_gateway      ? BY_GATEWAY
             : st.ejections_consecutive_local_origin ? BY_LOCAL
                                                     : BY_NONE;
    if (by != cases[i].by) test_fail(__FILE__, __LINE__, "%s: by detector %d, want %d", cases[i].name, by, cases[i].by);
    EXPECT_INT_EQ(hosts[0].ejected, cases[i].eject_at != 0);
    EXPECT_INT_EQ(st.ejections_total, cases[i].eject_at != 0);
    EXPECT_INT_EQ(st.ejections_active, cases[i].eject_at != 0);
    EXPECT(!hosts[1].ejected);
  }
}

static void disabled_counts_nothing(void) {
  struct outlier_config cfg;
  outlier_config_from_policy(NULL, &cfg);
  struct outlier_host h[1] = {{0}};
  struct outlier_stats st = {0};
  for (int k = 0; k < 20; k++)
    EXPECT_INT_EQ(outlier_report(&cfg, h, 1, 0, OUTLIER_RESPONSE, 503, k, &st), OUTLIER_NONE);
  EXPECT_INT_EQ(h[0].consecutive_5xx, 0);
  EXPECT(!h[0].ejected);
}

static void ejected_host_is_not_ejected_again(void) {
  struct outlier_config cfg = base_config();
  struct outlier_host h[2] = {{0}, {0}};
  struct outlier_stats st = {0};
  for (int k = 0; k < 5; k++) outlier_report(&cfg, h, 2, 0, OUTLIER_RESPONSE, 503, 0, &st);
  ASSERT(h[0].ejected);
  /* Requests already in flight finish after the ejection: counted, no second ejection. */
  for (int k = 0; k < 10; k++)
    EXPECT_INT_EQ(outlier_report(&cfg, h, 2, 0, OUTLIER_RESPONSE, 503, 10, &st), OUTLIER_NONE);
  EXPECT_INT_EQ(st.ejections_total, 1);
  EXPECT_INT_EQ(h[0].multiplier, 1);
  /* Coming back clears every count, so it takes a full run again. */
  EXPECT_INT_EQ(outlier_tick(&cfg, h, 2, 30000, &st), 1);
  EXPECT_INT_EQ(h[0].consecutive_5xx, 0);
  EXPECT_INT_EQ(st.ejections_active, 0);
}

/* ---- maxEjectionPercent ---------------------------------------------------------------------- */

static void ejection_cap_table(void) {
  static const struct {
    const char *name;
    size_t n;
    uint32_t pct;
    bool always_one;
    size_t ejected;
  } cases[] = {
      {"3 hosts at 10 %: Envoy >= 1.27 ejects none (Istio's default)", 3, 10, false, 0},
      {"3 hosts at 10 % with always_eject_one_host: one", 3, 10, true, 1},
      {"1 host at 10 % with always_eject_one_host: it goes", 1, 10, true, 1},
      {"3 hosts at 33 %: 1/3 is above 33 %, none", 3, 33, false, 0},
      {"3 hosts at 34 %: one", 3, 34, false, 1},
      {"3 hosts at 50 %: one (after it, 2/3 would be out)", 3, 50, false, 1},
      {"3 hosts at 67 %: two (envoy#27066's example)", 3, 67, false, 2},
      {"3 hosts at 100 %: all", 3, 100, false, 3},
      {"4 hosts at 50 %: two", 4, 50, false, 2},
      {"10 hosts at 10 %: one", 10, 10, false, 1},
      {"20 hosts at 10 %: two", 20, 10, false, 2},
      {"2 hosts at 100 %: both", 2, 100, false, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct outlier_config cfg = base_config();
    cfg.max_ejection_percent = cases[i].pct;
    cfg.always_eject_one_host = cases[i].always_one;
    struct outlier_host hosts[20] = {{0}};
    struct outlier_stats st = {0};
    size_t ejected = 0, capped = 0;
    for (size_t h = 0; h < cases[i].n; h++)
      for (int k = 0; k < 5; k++) {
        enum outlier_verdict v = outlier_report(&cfg, hosts, cases[i].n, h, OUTLIER_RESPONSE, 503, 0, &st);
        ejected += v == OUTLIER_EJECTED;
        capped += v == OUTLIER_CAP_REACHED;
      }
    if (ejected != cases[i].ejected)
      test_fail(__FILE__, __LINE__, "%s: %zu ejected, want %zu", cases[i].name, ejected, cases[i].ejected);
    EXPECT_INT_EQ(capped, cases[i].n - cases[i].ejected);
    EXPECT_INT_EQ(st.ejections_overflow, cases[i].n - cases[i].ejected);
    EXPECT_INT_EQ(st.ejections_active, cases[i].ejected);
  }
}

/* With the cap full the host stays in, its count restarts and the next run tries again; once the
 * first host is back, the second can go. */
static void cap_one_at_a_time(void) {
  struct outlier_config cfg = base_config();
  cfg.max_ejection_percent = 10;
  cfg.always_eject_one_host = true;
  struct outlier_host h[3] = {{0}, {0}, {0}};
  struct outlier_stats st = {0};
  enum outlier_verdict v = OUTLIER_NONE;
  for (int k = 0; k < 5; k++) v = outlier_report(&cfg, h, 3, 0, OUTLIER_RESPONSE, 503, 0, &st);
  EXPECT_INT_EQ(v, OUTLIER_EJECTED);
  for (int k = 0; k < 5; k++) v = outlier_report(&cfg, h, 3, 1, OUTLIER_RESPONSE, 503, 1000, &st);
  EXPECT_INT_EQ(v, OUTLIER_CAP_REACHED);
  EXPECT(!h[1].ejected);
  EXPECT_INT_EQ(h[1].consecutive_5xx, 0);
  EXPECT_INT_EQ(h[1].ejections_skipped, 1);
  EXPECT_INT_EQ(st.ejections_overflow, 1);
  for (int k = 0; k < 4; k++)
    EXPECT_INT_EQ(outlier_report(&cfg, h, 3, 1, OUTLIER_RESPONSE, 503, 2000, &st), OUTLIER_NONE);
  EXPECT_INT_EQ(outlier_report(&cfg, h, 3, 1, OUTLIER_RESPONSE, 503, 2000, &st), OUTLIER_CAP_REACHED);
  EXPECT_INT_EQ(st.ejections_overflow, 2);
  EXPECT_INT_EQ(outlier_tick(&cfg, h, 3, 30000, &st), 1);
  for (int k = 0; k < 5; k++) v = outlier_report(&cfg, h, 3, 1, OUTLIER_RESPONSE, 503, 30000, &st);
  EXPECT_INT_EQ(v, OUTLIER_EJECTED);
  EXPECT_INT_EQ(st.ejections_active, 1);
  EXPECT_INT_EQ(st.ejections_total, 2);
}

/* ---- ejection time, the sweep, the multiplier -------------------------------------------------- */

static void eject(const struct outlier_config *cfg, struct outlier_host *h, size_t n, int64_t now,
                  struct outlier_stats *st) {
  for (uint32_t k = 0; k < cfg->consecutive_5xx; k++) outlier_report(cfg, h, n, 0, OUTLIER_RESPONSE, 500, now, st);
  if (!h[0].ejected) test_fail(__FILE__, __LINE__, "not ejected at %lld", (long long)now);
}

static void sweep_brings_back_at_its_time(void) {
  /* Ejected at t = 0 for 30 s, again at 30 s for 60 s (the multiplier is 2). */
  static const struct {
    int64_t tick_at;
    bool ejected_after;
  } first[] = {{10000, true}, {29999, true}, {30000, false}}, second[] = {{40000, true}, {89999, true}, {90000, false}};
  struct outlier_config cfg = base_config();
  struct outlier_host h[2] = {{0}, {0}};
  struct outlier_stats st = {0};
  eject(&cfg, h, 2, 0, &st);
  EXPECT_INT_EQ(h[0].multiplier, 1);
  EXPECT_INT_EQ(h[0].eject_until_ms, 30000);
  for (size_t i = 0; i < 3; i++) {
    size_t back = outlier_tick(&cfg, h, 2, first[i].tick_at, &st);
    EXPECT_INT_EQ(h[0].ejected, first[i].ejected_after);
    EXPECT_INT_EQ(back, !first[i].ejected_after);
  }
  /* The sweep that brings it back does not decay the multiplier. */
  EXPECT_INT_EQ(h[0].multiplier, 1);
  eject(&cfg, h, 2, 30000, &st);
  EXPECT_INT_EQ(h[0].multiplier, 2);
  EXPECT_INT_EQ(h[0].eject_until_ms, 90000);
  for (size_t i = 0; i < 3; i++) {
    outlier_tick(&cfg, h, 2, second[i].tick_at, &st);
    EXPECT_INT_EQ(h[0].ejected, second[i].ejected_after);
  }
  EXPECT_INT_EQ(h[0].ejections_total, 2);
  EXPECT_INT_EQ(st.ejections_active, 0);
}

static void multiplier_decays_while_in(void) {
  struct outlier_config cfg = base_config();
  struct outlier_host h[2] = {{0}, {0}};
  struct outlier_stats st = {0};
  eject(&cfg, h, 2, 0, &st);
  outlier_tick(&cfg, h, 2, 30000, &st);
  eject(&cfg, h, 2, 30000, &st);
  outlier_tick(&cfg, h, 2, 90000, &st); /* back; multiplier 2 */
  static const struct {
    int64_t tick_at;
    uint32_t multiplier;
  } steps[] = {{100000, 1}, {110000, 0}, {120000, 0}};
  for (size_t i = 0; i < 3; i++) {
    outlier_tick(&cfg, h, 2, steps[i].tick_at, &st);
    EXPECT_INT_EQ(h[0].multiplier, steps[i].multiplier);
  }
  /* Fully decayed: the next ejection is back to the base time. */
  eject(&cfg, h, 2, 125000, &st);
  EXPECT_INT_EQ(h[0].multiplier, 1);
  EXPECT_INT_EQ(h[0].eject_until_ms, 155000);
  /* The host that never left keeps 0. */
  EXPECT_INT_EQ(h[1].multiplier, 0);
}

static void ejection_time_capped_by_max(void) {
  /* Ejected again the moment it comes back, never decaying: 30, 60, ... 300, then 300 s; the
   * multiplier stops growing once base x multiplier reaches max + base (11 here). */
  struct outlier_config cfg = base_config();
  struct outlier_host h[2] = {{0}, {0}};
  struct outlier_stats st = {0};
  int64_t now = 0;
  for (uint32_t k = 1; k <= 13; k++) {
    eject(&cfg, h, 2, now, &st);
    int64_t want = 30000 * (int64_t)k < 300000 ? 30000 * (int64_t)k : 300000;
    EXPECT_INT_EQ(h[0].eject_until_ms - now, want);
    EXPECT_INT_EQ(h[0].multiplier, k < 11 ? k : 11);
    outlier_tick(&cfg, h, 2, now + want - 1, &st);
    EXPECT(h[0].ejected);
    now += want;
    outlier_tick(&cfg, h, 2, now, &st);
    EXPECT(!h[0].ejected);
  }
}

static void base_above_default_max(void) {
  struct resource_outlier_detection od = {
      .present = true, .base_ejection_time = {400000, true}, .max_ejection_percent = {100, true}};
  struct outlier_config cfg;
  outlier_config_from_policy(&od, &cfg);
  struct outlier_host h[1] = {{0}};
  struct outlier_stats st = {0};
  eject(&cfg, h, 1, 0, &st);
  EXPECT_INT_EQ(h[0].eject_until_ms, 400000);
  outlier_tick(&cfg, h, 1, 400000, &st);
  eject(&cfg, h, 1, 400000, &st);
  EXPECT_INT_EQ(h[0].eject_until_ms - 400000, 400000); /* capped at max = base */
}

TEST_CASES(TEST(config_from_policy_defaults), TEST(run_ejects_at), TEST(disabled_counts_nothing),
           TEST(ejected_host_is_not_ejected_again), TEST(ejection_cap_table), TEST(cap_one_at_a_time),
           TEST(sweep_brings_back_at_its_time), TEST(multiplier_decays_while_in), TEST(ejection_time_capped_by_max),
           TEST(base_above_default_max))
