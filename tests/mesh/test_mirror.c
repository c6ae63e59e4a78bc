/* Tests for mesh/mirror.c's pure parts: the "-shadow" Host rewrite (Envoy's shadow writer puts
 * the suffix on the host, before any port) and the mirrorPercentage draw (per million, absent =
 * 100, 0 never). The shadow's I/O is tested end to end (tests/cli/test_ratelimit_mirror.sh). */
#include "mesh/mirror.h"

#include <errno.h>
#include <string.h>

#include "support/test.h"

static void shadow_host_table(void) {
  static const struct {
    const char *in, *want;
  } cases[] = {
      {"httpbin:8000", "httpbin-shadow:8000"},
      {"httpbin", "httpbin-shadow"},
      {"httpbin.default.svc.cluster.local:8000", "httpbin.default.svc.cluster.local-shadow:8000"},
      {"10.0.0.1:80", "10.0.0.1-shadow:80"},
      {"[::1]:8080", "[::1]-shadow:8080"},
      {"[::1]", "[::1]-shadow"},
      {"::1", "::1-shadow"}, /* a bare IPv6 literal has no port to split off */
      {"", "-shadow"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[128];
    int n = mirror_shadow_host(cases[i].in, strlen(cases[i].in), out, sizeof out);
    EXPECT_INT_EQ(n, (long long)strlen(cases[i].want));
    if (n >= 0) EXPECT_STR_EQ(out, cases[i].want);
  }
  /* Too small: refused, never cut. */
  char small[19];
  EXPECT_INT_EQ(mirror_shadow_host("httpbin:8000", 12, small, sizeof small), -ENOSPC);
  char exact[20];
  EXPECT_INT_EQ(mirror_shadow_host("httpbin:8000", 12, exact, sizeof exact), 19);
  /* The input is a slice: bytes after len are not part of it. */
  char out[64];
  EXPECT_INT_EQ(mirror_shadow_host("httpbin:8000/extra", 12, out, sizeof out), 19);
  EXPECT_STR_EQ(out, "httpbin-shadow:8000");
}

static void draw_percentages(void) {
  static const struct {
    double pct;
    int lo, hi; /* mirrored of 10000 */
  } cases[] = {{100, 10000, 10000}, {0, 0, 0}, {50, 4700, 5300}, {0.5, 20, 90}, {120, 10000, 10000}, {-3, 0, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct rng rng, twin;
    rng_seed(&rng, 9);
    rng_seed(&twin, 9);
    int n = 0;
    for (int k = 0; k < 10000; k++) {
      double roll = -1;
      int m = mirror_draw(cases[i].pct, &rng, &roll);
      /* One draw per request, per million, the roll reported as a percent. */
      uint32_t d = rng_below(&twin, 1000000);
      EXPECT(roll >= 0 && roll < 100);
      EXPECT_INT_EQ((long long)(roll * 10000.0 + 0.5), d);
      n += m;
    }
    EXPECT_INT_GE(n, cases[i].lo);
    EXPECT_INT_LE(n, cases[i].hi);
  }
}

TEST_CASES(TEST(shadow_host_table), TEST(draw_percentages))
