/* Unit tests for mesh/lab_telemetry.c's per-second series (pure): bucket rotation, merging
 * across series and seconds, window queries, share by version, codes and flags, expiry, the
 * request log ring. Times are whole seconds passed in, as the lab passes its loop clock. */
#include <stdlib.h>
#include <string.h>

#include "mesh/flags.h"
#include "mesh/lab_telemetry.h"
#include "support/test.h"

#define REVIEWS "reviews.default.svc.cluster.local"

static struct labtel_key key(enum reporter rep, const char *version, int code, uint32_t flags) {
  struct labtel_key k = {0};
  k.reporter = rep;
  strcpy(k.source_workload, "productpage-v1");
  strcpy(k.source_version, "v1");
  snprintf(k.destination_workload, sizeof k.destination_workload, "reviews-%s", version);
  strcpy(k.destination_version, version);
  strcpy(k.service, REVIEWS);
  k.code = code;
  k.flags = flags;
  return k;
}

/* n requests all in the bucket of bound index b (stats_bucket_bounds). */
static void add(struct labtel *t, int64_t sec, const struct labtel_key *k, uint64_t n, int b) {
  uint64_t d[LABTEL_BUCKETS] = {0};
  d[b] = n;
  EXPECT_INT_EQ(labtel_add(t, sec, k, n, d), 0);
}

static struct labtel_query window(int64_t w) {
  struct labtel_query q = {w, -1, NULL, NULL};
  return q;
}

static void window_sums_the_last_seconds_only(void) {
  struct labtel t = {0};
  struct labtel_key k = key(REPORTER_SOURCE, "v1", 200, 0);
  add(&t, 1000, &k, 5, 3);
  add(&t, 1005, &k, 7, 3);
  add(&t, 1009, &k, 8, 3);
  struct labtel_summary s;
  struct labtel_query q = window(10);
  labtel_query(&t, 1009, &q, &s);
  EXPECT_INT_EQ(s.requests, 20);
  EXPECT(s.rps > 1.99 && s.rps < 2.01);
  q = window(5);
  labtel_query(&t, 1009, &q, &s);
  EXPECT_INT_EQ(s.requests, 15); /* 1005..1009 */
  q = window(1);
  labtel_query(&t, 1010, &q, &s); /* a second with nothing yet */
  EXPECT_INT_EQ(s.requests, 0);
  EXPECT(s.success_ratio < 0);
  labtel_free(&t);
}

static void ring_rotation_forgets_a_lap_ago(void) {
  struct labtel t = {0};
  struct labtel_key k = key(REPORTER_SOURCE, "v1", 200, 0);
  add(&t, 100, &k, 4, 0);
  /* the same slot, one lap later: the old count must not leak into it */
  add(&t, 100 + LABTEL_SECONDS, &k, 1, 0);
  struct labtel_summary s;
  struct labtel_query q = window(LABTEL_SECONDS);
  labtel_query(&t, 100 + LABTEL_SECONDS, &q, &s);
  EXPECT_INT_EQ(s.requests, 1);
  /* two laps of silence, then a query: nothing older than the ring answers */
  labtel_query(&t, 100 + 3 * LABTEL_SECONDS, &q, &s);
  EXPECT_INT_EQ(s.requests, 0);
  /* a query in the past of the newest second sees only what was written then */
  add(&t, 100 + LABTEL_SECONDS + 10, &k, 2, 0);
  q = window(5);
  labtel_query(&t, 100 + LABTEL_SECONDS + 3, &q, &s);
  EXPECT_INT_EQ(s.requests, 1);
  labtel_free(&t);
}

static void expire_drops_idle_series(void) {
  struct labtel t = {0};
  struct labtel_key a = key(REPORTER_SOURCE, "v1", 200, 0), b = key(REPORTER_SOURCE, "v2", 200, 0);
  add(&t, 10, &a, 1, 0);
  add(&t, 200, &b, 1, 0);
  labtel_expire(&t, 10 + LABTEL_SECONDS);
  EXPECT_INT_EQ(t.len, 1);
  labtel_expire(&t, 200 + LABTEL_SECONDS - 1);
  EXPECT_INT_EQ(t.len, 1);
  labtel_expire(&t, 200 + LABTEL_SECONDS);
  EXPECT_INT_EQ(t.len, 0);
  labtel_free(&t);
}

static void merges_histograms_across_series_for_percentiles(void) {
  struct labtel t = {0};
  struct labtel_key v1 = key(REPORTER_SOURCE, "v1", 200, 0), v3 = key(REPORTER_SOURCE, "v3", 200, 0);
  /* 90 fast requests (bucket 0: <= 0.5 ms) on v1, 10 slow ones (bucket 10) on v3 */
  add(&t, 50, &v1, 90, 0);
  add(&t, 51, &v3, 10, 10);
  struct labtel_summary s;
  struct labtel_query q = window(10);
  labtel_query(&t, 51, &q, &s);
  EXPECT_INT_EQ(s.requests, 100);
  EXPECT(s.p50 <= stats_bucket_bounds[0]);
  EXPECT(s.p90 <= stats_bucket_bounds[0]);
  EXPECT(s.p99 > stats_bucket_bounds[9] && s.p99 <= stats_bucket_bounds[10]);
  /* a duplicate report of the same series adds up, it does not replace */
  add(&t, 51, &v3, 10, 10);
  labtel_query(&t, 51, &q, &s);
  EXPECT_INT_EQ(s.requests, 110);
  labtel_free(&t);
}

static void share_by_version_and_filters(void) {
  struct labtel t = {0};
  struct labtel_key v1 = key(REPORTER_SOURCE, "v1", 200, 0), v3 = key(REPORTER_SOURCE, "v3", 200, 0);
  struct labtel_key v3_dest = key(REPORTER_DESTINATION, "v3", 200, 0);
  struct labtel_key other = key(REPORTER_SOURCE, "v1", 200, 0);
  strcpy(other.service, "ratings.default.svc.cluster.local");
  strcpy(other.source_workload, "reviews-v3");
  add(&t, 7, &v1, 30, 2);
  add(&t, 7, &v3, 10, 2);
  add(&t, 7, &v3_dest, 10, 2);
  add(&t, 7, &other, 99, 2);
  struct labtel_summary s;
  struct labtel_query q = {10, REPORTER_SOURCE, REVIEWS, NULL};
  labtel_query(&t, 8, &q, &s);
  EXPECT_INT_EQ(s.requests, 40);
  ASSERT_INT_EQ(s.nversions, 2);
  for (size_t i = 0; i < s.nversions; i++) {
    if (strcmp(s.versions[i].version, "v1") == 0) EXPECT_INT_EQ(s.versions[i].n, 30);
    else EXPECT_INT_EQ(s.versions[i].n, 10);
  }
  q.reporter = -1; /* both reporters: reviews-v3's own count joins in */
  labtel_query(&t, 8, &q, &s);
  EXPECT_INT_EQ(s.requests, 50);
  q = (struct labtel_query){10, -1, NULL, "reviews-v3"};
  labtel_query(&t, 8, &q, &s);
  EXPECT_INT_EQ(s.requests, 99);
  const char *names[4];
  q = window(10);
  ASSERT_INT_EQ(labtel_services(&t, 8, &q, names, 4), 2);
  EXPECT_STR_EQ(names[0], "ratings.default.svc.cluster.local");
  EXPECT_STR_EQ(names[1], REVIEWS);
  labtel_free(&t);
}

static void counts_codes_flags_and_success(void) {
  struct labtel t = {0};
  struct labtel_key ok = key(REPORTER_SOURCE, "v1", 200, 0), nf = key(REPORTER_SOURCE, "v1", 404, 0);
  struct labtel_key uo = key(REPORTER_SOURCE, "v1", 503, FLAG_UO), uf = key(REPORTER_SOURCE, "v1", 503, FLAG_UF);
  add(&t, 1, &ok, 6, 1);
  add(&t, 1, &nf, 2, 1);
  add(&t, 2, &uo, 1, 0);
  add(&t, 2, &uf, 1, 0);
  struct labtel_summary s;
  struct labtel_query q = window(10);
  labtel_query(&t, 2, &q, &s);
  EXPECT_INT_EQ(s.requests, 10);
  EXPECT(s.success_ratio > 0.79 && s.success_ratio < 0.81); /* a 404 is not a failure; 5xx are */
  ASSERT_INT_EQ(s.ncodes, 3);
  for (size_t i = 0; i < s.ncodes; i++)
    EXPECT_INT_EQ(s.codes[i].n, s.codes[i].code == 200 ? 6 : 2);
  ASSERT_INT_EQ(s.nflags, 3);
  for (size_t i = 0; i < s.nflags; i++)
    EXPECT_INT_EQ(s.flags[i].n, s.flags[i].flags == 0 ? 8 : 1);
  uint64_t errors;
  EXPECT_INT_EQ(labtel_requests_at(&t, 2, REPORTER_SOURCE, &errors), 2);
  EXPECT_INT_EQ(errors, 2);
  EXPECT_INT_EQ(labtel_requests_at(&t, 1, REPORTER_DESTINATION, &errors), 0);
  labtel_free(&t);
}

static void request_log_keeps_the_newest(void) {
  struct labtel t = {0};
  EXPECT(labtel_log_get(&t, 0) == NULL);
  for (int i = 0; i < LABTEL_LOG + 5; i++) {
    struct telemetry_sample s = {0};
    s.time_ms = i;
    ASSERT_INT_EQ(labtel_log_add(&t, "default/productpage-v1-0", &s), 0);
  }
  EXPECT_INT_EQ(t.log_len, LABTEL_LOG);
  EXPECT_INT_EQ(labtel_log_get(&t, 0)->s.time_ms, LABTEL_LOG + 4);
  EXPECT_INT_EQ(labtel_log_get(&t, LABTEL_LOG - 1)->s.time_ms, 5);
  EXPECT(labtel_log_get(&t, LABTEL_LOG) == NULL);
  EXPECT_STR_EQ(labtel_log_get(&t, 0)->node, "default/productpage-v1-0");
  labtel_free(&t);
  labtel_free(&t); /* a freed (zeroed) store frees again as a no-op */
}

TEST_CASES(TEST(window_sums_the_last_seconds_only), TEST(ring_rotation_forgets_a_lap_ago),
           TEST(expire_drops_idle_series), TEST(merges_histograms_across_series_for_percentiles),
           TEST(share_by_version_and_filters), TEST(counts_codes_flags_and_success),
           TEST(request_log_keeps_the_newest))
