/* Tests for mesh/fault.c: a percentage that is not set never fires, 100 always
 * fires, 50 fires for about half of 10 000 requests, one draw per configured
 * fault with the delay first (so a seed replays), gRPC aborts and the gRPC code
 * table.
 *
 * Statistical margin: 5 standard deviations (5 * sqrt(n p (1 - p))). */
#include "mesh/fault.h"

#include <math.h>

#include "support/test.h"

static struct resource_fault delay_abort(bool delay, bool dset, double dpct, bool abort, bool aset, double apct) {
  struct resource_fault f = {.present = delay || abort};
  f.delay = (struct resource_fault_delay){delay, {5000, true}, {dpct, dset}};
  f.abort = (struct resource_fault_abort){abort, 503, NULL, {apct, aset}};
  return f;
}

static void fires_by_percentage(void) {
  static const struct {
    const char *what;
    bool delay, dset;
    double dpct;
    bool abort, aset;
    double apct;
    int want_delays, want_aborts; /* of N; -1: about half */
  } cases[] = {
      {"nothing configured", false, false, 0, false, false, 0, 0, 0},
      {"delay, percentage unset: never", true, false, 0, false, false, 0, 0, 0},
      {"abort, percentage unset: never", false, false, 0, true, false, 0, 0, 0},
      {"percentage 0: never", true, true, 0, true, true, 0, 0, 0},
      {"percentage 100: always", true, true, 100, true, true, 100, 10000, 10000},
      {"delay 100, abort unset", true, true, 100, true, false, 0, 10000, 0},
      {"50 %: about half", true, true, 50, true, true, 50, -1, -1},
  };
  const int n = 10000;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct resource_fault f =
        delay_abort(cases[i].delay, cases[i].dset, cases[i].dpct, cases[i].abort, cases[i].aset, cases[i].apct);
    struct rng rng;
    rng_seed(&rng, 1000 + i);
    int delays = 0, aborts = 0;
    for (int k = 0; k < n; k++) {
      struct fault_draw d;
      fault_draw(&f, &rng, &d);
      EXPECT(d.has_delay == cases[i].delay);
      EXPECT(d.has_abort == cases[i].abort);
      delays += d.delay;
      aborts += d.abort;
      if (d.delay) EXPECT_INT_EQ(d.delay_ms, 5000);
      if (d.abort) EXPECT_INT_EQ(d.abort_status, 503);
    }
    const int got[2] = {delays, aborts}, want[2] = {cases[i].want_delays, cases[i].want_aborts};
    for (int k = 0; k < 2; k++) {
      double margin = 5 * sqrt(n * 0.25);
      bool ok = want[k] >= 0 ? got[k] == want[k] : fabs(got[k] - n / 2.0) <= margin;
      if (!ok)
        test_fail(__FILE__, __LINE__, "%s: %s fired %d of %d, want %d (-1: %d +- %.0f)", cases[i].what,
                  k ? "abort" : "delay", got[k], n, want[k], n / 2, margin);
    }
  }
}

static void null_fault_draws_nothing(void) {
  struct rng a, b;
  rng_seed(&a, 3);
  rng_seed(&b, 3);
  struct fault_draw d;
  fault_draw(NULL, &a, &d);
  EXPECT(!d.has_delay && !d.has_abort && !d.delay && !d.abort);
  EXPECT(d.delay_roll == -1 && d.abort_roll == -1);
  EXPECT_INT_EQ(d.grpc_code, -1);
  EXPECT(rng_next(&a) == rng_next(&b)); /* no draw taken */
}

static void one_draw_each_delay_first(void) {
  struct resource_fault f = delay_abort(true, true, 30, true, true, 70);
  struct rng rng, twin;
  rng_seed(&rng, 99);
  rng_seed(&twin, 99);
  for (int k = 0; k < 200; k++) {
    struct fault_draw d;
    fault_draw(&f, &rng, &d);
    uint32_t droll = rng_below(&twin, 1000000), aroll = rng_below(&twin, 1000000);
    EXPECT(d.delay_roll == droll / 10000.0);
    EXPECT(d.abort_roll == aroll / 10000.0);
    EXPECT(d.delay == (droll < 300000));
    EXPECT(d.abort == (aroll < 700000));
    EXPECT(d.delay_pct == 30 && d.abort_pct == 70);
  }
  /* Only an abort configured: one draw, the abort's. */
  struct resource_fault a = delay_abort(false, false, 0, true, true, 70);
  fault_draw(&a, &rng, &(struct fault_draw){0});
  (void)rng_below(&twin, 1000000);
  EXPECT(rng_next(&rng) == rng_next(&twin));
}

static void same_seed_same_draws(void) {
  struct resource_fault f = delay_abort(true, true, 50, true, true, 50);
  struct rng a, b;
  rng_seed(&a, 2024);
  rng_seed(&b, 2024);
  for (int k = 0; k < 1000; k++) {
    struct fault_draw x, y;
    fault_draw(&f, &a, &x);
    fault_draw(&f, &b, &y);
    EXPECT(x.delay == y.delay && x.abort == y.abort && x.delay_roll == y.delay_roll && x.abort_roll == y.abort_roll);
  }
}

static void grpc_abort(void) {
  struct resource_fault f = delay_abort(false, false, 0, true, true, 100);
  f.abort.http_status = 0;
  f.abort.grpc_status = "UNAVAILABLE";
  struct rng rng;
  rng_seed(&rng, 1);
  struct fault_draw d;
  fault_draw(&f, &rng, &d);
  EXPECT(d.abort);
  EXPECT_INT_EQ(d.abort_status, 200);
  EXPECT_STR_EQ(d.grpc_status, "UNAVAILABLE");
  EXPECT(d.grpc_status == f.abort.grpc_status); /* borrowed */
  EXPECT_INT_EQ(d.grpc_code, 14);
}

static void grpc_codes(void) {
  static const struct {
    const char *name;
    int code;
  } cases[] = {{"OK", 0},        {"CANCELLED", 1},    {"DEADLINE_EXCEEDED", 4}, {"RESOURCE_EXHAUSTED", 8},
               {"INTERNAL", 13}, {"UNAVAILABLE", 14}, {"UNAUTHENTICATED", 16},  {"unavailable", -1},
               {"NOPE", -1},     {NULL, -1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    EXPECT_INT_EQ(fault_grpc_code(cases[i].name), cases[i].code);
}

TEST_CASES(TEST(fires_by_percentage), TEST(null_fault_draws_nothing), TEST(one_draw_each_delay_first),
           TEST(same_seed_same_draws), TEST(grpc_abort), TEST(grpc_codes))
