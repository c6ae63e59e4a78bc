/* Tests for mesh/retry.c: Istio's translation of `retries` (default policy,
 * attempts 0 or unset, retryOn replacing the conditions, bare status codes),
 * each condition against each way a try can end, Envoy's jittered backoff
 * bounds, and the retry_on string. */
#include "mesh/retry.h"

#include <errno.h>

#include "support/test.h"

#define DEFAULT_ON "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

static struct resource_retries retries(uint32_t attempts, bool attempts_set, const char *on) {
  struct resource_retries r = {.present = true, .attempts = {attempts, attempts_set}};
  r.retry_on = (char *)(on ? on : RESOURCE_DEFAULT_RETRY_ON);
  r.retry_on_set = on != NULL;
  return r;
}

/* ---- translation
 * -------------------------------------------------------------------------------
 */

static void translation_table(void) {
  static const struct {
    const char *what;
    bool null_route, present;
    uint32_t attempts;
    bool attempts_set;
    const char *on;
    uint32_t want_retries;
    const char *want_on;
    uint16_t want_codes[4];
    size_t want_codes_len;
  } cases[] = {
      /* clang-format off */
      {"no retries block: Istio's default", true, false, 0, false, NULL, 2, DEFAULT_ON, {503}, 1},
      {"retries not present: default", false, false, 0, false, NULL, 2, DEFAULT_ON, {503}, 1},
      {"attempts 0 disables", false, true, 0, true, "5xx", 0, "", {0}, 0},
      {"attempts unset disables (proto int32 0)", false, true, 2, false, "5xx", 0, "", {0}, 0},
      {"attempts only keeps default conditions", false, true, 3, true, NULL, 3, DEFAULT_ON, {503}, 1},
      {"retryOn replaces conditions and drops 503", false, true, 3, true, "5xx", 3, "5xx", {0}, 0},
      {"bare codes add retriable-status-codes", false, true, 3, true, "gateway-error,409, 500", 3,
       "gateway-error,retriable-status-codes", {409, 500}, 2},
      {"only codes", false, true, 1, true, "503", 1, "retriable-status-codes", {503}, 1},
      {"spaces trimmed, gRPC names", false, true, 2, true, " reset , deadline-exceeded,internal,resource-exhausted", 2,
       "reset,deadline-exceeded,internal,resource-exhausted", {0}, 0},
      {"inert Envoy policies are accepted", false, true, 2, true, "envoy-ratelimited,retriable-4xx", 2,
       "retriable-4xx", {0}, 0},
      /* clang-format on */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct resource_retries r = cases[i].present ? retries(cases[i].attempts, cases[i].attempts_set, cases[i].on)
                                                 : (struct resource_retries){0};
    struct retry_policy p;
    char err[128];
    ASSERT_INT_EQ(retry_policy_from_route(cases[i].null_route ? NULL : &r, &p, err, sizeof err), 0);
    char on[256];
    retry_policy_format(&p, on, sizeof on);
    if (p.retries != cases[i].want_retries || strcmp(on, cases[i].want_on) != 0)
      test_fail(__FILE__, __LINE__, "%s: retries %u on \"%s\", want %u \"%s\"", cases[i].what, p.retries, on,
                cases[i].want_retries, cases[i].want_on);
    EXPECT_INT_EQ(p.codes_len, cases[i].want_codes_len);
    for (size_t k = 0; k < cases[i].want_codes_len && k < p.codes_len; k++)
      EXPECT_INT_EQ(p.codes[k], cases[i].want_codes[k]);
  }
}

static void default_policy_details(void) {
  struct retry_policy p;
  char err[64];
  ASSERT_INT_EQ(retry_policy_from_route(NULL, &p, err, sizeof err), 0);
  EXPECT(p.previous_hosts);
  EXPECT_INT_EQ(p.host_selection_attempts, 5);
  EXPECT_INT_EQ(p.base_interval_ms, 25);
  EXPECT_INT_EQ(p.max_interval_ms, 250);
  EXPECT_INT_EQ(p.per_try_timeout_ms, 0);
  struct resource_retries r = retries(3, true, "5xx");
  r.per_try_timeout = (struct resource_ms){2000, true};
  ASSERT_INT_EQ(retry_policy_from_route(&r, &p, err, sizeof err), 0);
  EXPECT_INT_EQ(p.per_try_timeout_ms, 2000);
  EXPECT(p.previous_hosts); /* Istio keeps the default's host predicate */
}

static void unknown_condition_refused(void) {
  static const char *const bad[] = {"5xx,gateway-eror", "99", "600", "5xx,503x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct resource_retries r = retries(2, true, bad[i]);
    struct retry_policy p;
    char err[128] = "";
    EXPECT_INT_EQ(retry_policy_from_route(&r, &p, err, sizeof err), -EINVAL);
    EXPECT_STR_CONTAINS(err, "retryOn");
  }
}

/* ---- conditions against outcomes
 * ---------------------------------------------------------------- */

enum { CF, RS, TO, R200, R409, R500, R501, R502, R503, R504, G1, G4, G8, G13, G14, G2, OUTCOMES };
static const struct {
  const char *name;
  enum retry_event ev;
  int status, grpc;
} OUTCOME[OUTCOMES] = {
    {"connect-failure", RETRY_EVENT_CONNECT_FAILURE, 0, -1},
    {"reset", RETRY_EVENT_RESET, 0, -1},
    {"per-try-timeout", RETRY_EVENT_PER_TRY_TIMEOUT, 0, -1},
    {"200", RETRY_EVENT_RESPONSE, 200, -1},
    {"409", RETRY_EVENT_RESPONSE, 409, -1},
    {"500", RETRY_EVENT_RESPONSE, 500, -1},
    {"501", RETRY_EVENT_RESPONSE, 501, -1},
    {"502", RETRY_EVENT_RESPONSE, 502, -1},
    {"503", RETRY_EVENT_RESPONSE, 503, -1},
    {"504", RETRY_EVENT_RESPONSE, 504, -1},
    {"grpc 1", RETRY_EVENT_RESPONSE, 200, 1},
    {"grpc 4", RETRY_EVENT_RESPONSE, 200, 4},
    {"grpc 8", RETRY_EVENT_RESPONSE, 200, 8},
    {"grpc 13", RETRY_EVENT_RESPONSE, 200, 13},
    {"grpc 14", RETRY_EVENT_RESPONSE, 200, 14},
    {"grpc 2", RETRY_EVENT_RESPONSE, 200, 2},
};

static void condition_by_outcome(void) {
  /* Each row: a retryOn and the outcomes it retries ("x"), in OUTCOME order:
   *                             CF RS TO 200 409 500 501 502 503 504 g1 g4 g8 g13 g14 g2 */
  static const struct {
    const char *on;
    const char *want;
  } rows[] = {
      /* clang-format off */
      {"5xx",                    "xxx..xxxxx......"},
      {"gateway-error",          "xxx....xxx......"},
      {"reset",                  "xxx............."},
      {"connect-failure",        "x..............."},
      {"refused-stream",         "................"},
      {"retriable-4xx",          "....x..........."},
      {"503",                    "........x......."},
      {"500,504",                ".....x...x......"},
      {"retriable-status-codes", "................"}, /* no codes: nothing */
      {"cancelled",              "..........x....."},
      {"deadline-exceeded",      "...........x...."},
      {"resource-exhausted",     "............x..."},
      {"internal",               ".............x.."},
      {"unavailable",            "..............x."},
      {DEFAULT_ON,               "x.........x...x."}, /* written: no 503 */
      /* clang-format on */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    struct resource_retries r = retries(2, true, rows[i].on);
    struct retry_policy p;
    char err[128];
    ASSERT_INT_EQ(retry_policy_from_route(&r, &p, err, sizeof err), 0);
    for (int o = 0; o < OUTCOMES; o++) {
      bool want = rows[i].want[o] == 'x';
      bool got = retry_policy_matches(&p, OUTCOME[o].ev, OUTCOME[o].status, OUTCOME[o].grpc);
      if (got != want)
        test_fail(__FILE__, __LINE__, "retryOn %s, outcome %s: got %d want %d", rows[i].on, OUTCOME[o].name, got, want);
    }
  }
}

static void default_policy_retries_503_and_connect_failure(void) {
  struct retry_policy p;
  char err[64];
  ASSERT_INT_EQ(retry_policy_from_route(NULL, &p, err, sizeof err), 0);
  EXPECT(retry_policy_matches(&p, RETRY_EVENT_RESPONSE, 503, -1));
  EXPECT(retry_policy_matches(&p, RETRY_EVENT_CONNECT_FAILURE, 0, -1));
  EXPECT(!retry_policy_matches(&p, RETRY_EVENT_RESPONSE, 500, -1));
  EXPECT(!retry_policy_matches(&p, RETRY_EVENT_RESET, 0, -1)); /* "503" does not match a reset */
  EXPECT(!retry_policy_matches(&p, RETRY_EVENT_PER_TRY_TIMEOUT, 0, -1));
}

static void disabled_policy_matches_nothing(void) {
  struct resource_retries r = retries(0, true, "5xx,reset,connect-failure");
  struct retry_policy p;
  char err[64];
  ASSERT_INT_EQ(retry_policy_from_route(&r, &p, err, sizeof err), 0);
  for (int o = 0; o < OUTCOMES; o++)
    EXPECT(!retry_policy_matches(&p, OUTCOME[o].ev, OUTCOME[o].status, OUTCOME[o].grpc));
}

/* ---- backoff
 * ------------------------------------------------------------------------------------
 */

static void backoff_bounds(void) {
  struct retry_policy p;
  char err[64];
  ASSERT_INT_EQ(retry_policy_from_route(NULL, &p, err, sizeof err), 0);
  /* retry n: uniform below min((2^n - 1) * 25, 250). */
  static const struct {
    uint32_t n;
    int64_t limit;
  } cases[] = {{1, 25}, {2, 75}, {3, 175}, {4, 250}, {5, 250}, {31, 250}, {64, 250}, {UINT32_MAX, 250}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct rng rng;
    rng_seed(&rng, 42 + i);
    int64_t lo = INT64_MAX, hi = -1;
    double sum = 0;
    const int n = 20000;
    for (int k = 0; k < n; k++) {
      int64_t b = retry_backoff_ms(&p, cases[i].n, &rng);
      lo = b < lo ? b : lo;
      hi = b > hi ? b : hi;
      sum += (double)b;
    }
    EXPECT_INT_EQ(lo, 0);
    EXPECT_INT_EQ(hi, cases[i].limit - 1); /* every value below the limit shows up; none at it */
    double mean = sum / n, want = (cases[i].limit - 1) / 2.0;
    if (mean < want * 0.95 || mean > want * 1.05)
      test_fail(__FILE__, __LINE__, "retry %u: mean %.1f, want about %.1f (uniform)", cases[i].n, mean, want);
  }
}

static void backoff_seeded_replay(void) {
  struct retry_policy p;
  char err[64];
  ASSERT_INT_EQ(retry_policy_from_route(NULL, &p, err, sizeof err), 0);
  struct rng a, b;
  rng_seed(&a, 7);
  rng_seed(&b, 7);
  for (uint32_t n = 1; n < 100; n++)
    EXPECT_INT_EQ(retry_backoff_ms(&p, n % 6 + 1, &a), retry_backoff_ms(&p, n % 6 + 1, &b));
}

static void format_cuts_to_fit(void) {
  struct retry_policy p;
  char err[64];
  ASSERT_INT_EQ(retry_policy_from_route(NULL, &p, err, sizeof err), 0);
  char small[10];
  retry_policy_format(&p, small, sizeof small);
  EXPECT_INT_EQ(strlen(small), sizeof small - 1);
  EXPECT_STR_EQ(small, "connect-f");
}

TEST_CASES(TEST(translation_table), TEST(default_policy_details), TEST(unknown_condition_refused),
           TEST(condition_by_outcome), TEST(default_policy_retries_503_and_connect_failure),
           TEST(disabled_policy_matches_nothing), TEST(backoff_bounds), TEST(backoff_seeded_replay),
           TEST(format_cuts_to_fit))
