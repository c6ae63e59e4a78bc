/* Tests for mesh/histogram.c: quantiles against exact sorted arrays (nearest rank, 1 % relative
 * error allowed, 0.4 % promised by the layout), exact min/max/mean, merge, and the edges (empty,
 * one value, sub-microsecond values, values beyond 60 s). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/histogram.h"
#include "mesh/rand.h"
#include "support/test.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The nearest-rank quantile of a sorted array: the ceil(q * n)-th smallest. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q) {
  if (q <= 0) return sorted[0];
  size_t rank = (size_t)ceil(q * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

static const double quantiles[] = {0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1};

/* Records values, then checks every quantile against the exact answer within `tolerance`. */
static void check_against_exact(uint64_t *values, size_t n, double tolerance) {
  static struct hist h;
  hist_reset(&h);
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    hist_record(&h, values[i]);
    sum += (double)values[i];
  }
  qsort(values, n, sizeof values[0], cmp_u64);
  EXPECT_INT_EQ(h.count, n);
  EXPECT_INT_EQ(hist_quantile(&h, 0), values[0]);
  EXPECT_INT_EQ(hist_max(&h), values[n - 1]);
  EXPECT(fabs(hist_mean(&h) - sum / (double)n) <= 1e-9 * (sum / (double)n));
  for (size_t k = 0; k < sizeof quantiles / sizeof quantiles[0]; k++) {
    double q = quantiles[k];
    uint64_t want = exact_quantile(values, n, q), got = hist_quantile(&h, q);
    double err = want ? fabs((double)got - (double)want) / (double)want : (double)got;
    if (err > tolerance)
      test_fail(__FILE__, __LINE__, "q=%g over %zu values: got %llu, exact %llu (error %.3f %%)", q, n,
                (unsigned long long)got, (unsigned long long)want, err * 100);
  }
}

static void test_log_uniform_1us_to_60s(void) {
  /* Spread over the whole promised range: every bucket width gets exercised. */
  struct rng r;
  rng_seed(&r, 42);
  size_t n = 200000;
  uint64_t *v = malloc(n * sizeof *v);
  ASSERT(v);
  for (size_t i = 0; i < n; i++) v[i] = (uint64_t)exp(log(1e3) + rng_double(&r) * (log(60e9) - log(1e3)));
  check_against_exact(v, n, 0.01);
  check_against_exact(v, n, 0.004); /* what the layout actually promises */
  free(v);
}

static void test_latency_like_distribution(void) {
  /* A loopback-latency shape: a tight body around 100 µs and a long tail to tens of ms. */
  struct rng r;
  rng_seed(&r, 7);
  size_t n = 50000;
  uint64_t *v = malloc(n * sizeof *v);
  ASSERT(v);
  for (size_t i = 0; i < n; i++) {
    double base = 80e3 + rng_double(&r) * 40e3;
    if (rng_below(&r, 100) == 0) base *= 1 + rng_double(&r) * 300;
    v[i] = (uint64_t)base;
  }
  check_against_exact(v, n, 0.01);
  free(v);
}

static void test_small_sets(void) {
  /* Few values: the rank arithmetic, not the buckets, decides the answer. */
  uint64_t one[] = {123456};
  check_against_exact(one, 1, 0.01);
  uint64_t two[] = {1000, 2000000};
  check_against_exact(two, 2, 0.01);
  uint64_t ten[] = {5000, 1000, 9000, 3000, 7000, 2000, 10000, 4000, 8000, 6000};
  check_against_exact(ten, 10, 0.01);
  static struct hist h;
  hist_reset(&h);
  for (uint64_t i = 1; i <= 10; i++) hist_record(&h, i * 1000);
  /* p50 of 1..10 (x1000) by nearest rank is the 5th value; p90 the 9th; p91 the 10th. */
  EXPECT(llabs((long long)hist_quantile(&h, 0.5) - 5000) <= 5000 / 128);
  EXPECT(llabs((long long)hist_quantile(&h, 0.9) - 9000) <= 9000 / 128);
  EXPECT_INT_EQ(hist_quantile(&h, 0.91), 10000);
}

static void test_sub_microsecond_values_are_exact(void) {
  static struct hist h;
  hist_reset(&h);
  for (uint64_t v = 0; v < 128; v++) hist_record(&h, v);
  for (uint64_t v = 0; v < 128; v++) EXPECT_INT_EQ(hist_quantile(&h, (double)(v + 1) / 128), v);
}

static void test_empty(void) {
  static struct hist h;
  hist_reset(&h);
  EXPECT_INT_EQ(hist_quantile(&h, 0.5), 0);
  EXPECT_INT_EQ(hist_quantile(&h, 1), 0);
  EXPECT_INT_EQ(hist_max(&h), 0);
  EXPECT(hist_mean(&h) == 0);
}

static void test_beyond_range_is_clamped_but_max_exact(void) {
  static struct hist h;
  hist_reset(&h);
  hist_record(&h, 1000);
  hist_record(&h, 120000000000ull); /* 120 s */
  EXPECT_INT_EQ(hist_max(&h), 120000000000ull);
  EXPECT_INT_EQ(hist_quantile(&h, 1), 120000000000ull);
  /* The p99 lands in the top bucket: 60 s within the layout's error, not beyond max. */
  uint64_t p99 = hist_quantile(&h, 0.99);
  EXPECT(p99 >= 59500000000ull && p99 <= 120000000000ull);
  EXPECT(fabs(hist_mean(&h) - (1000.0 + 120e9) / 2) < 1);
}

static void test_merge_equals_recording_everything(void) {
  static struct hist a, b, all;
  hist_reset(&a);
  hist_reset(&b);
  hist_reset(&all);
  struct rng r;
  rng_seed(&r, 3);
  for (int i = 0; i < 10000; i++) {
    uint64_t v = 1000 + rng_below(&r, 5000000);
    hist_record(i % 3 ? &a : &b, v);
    hist_record(&all, v);
  }
  static struct hist empty;
  hist_reset(&empty);
  hist_merge(&a, &empty); /* merging nothing changes nothing */
  hist_merge(&empty, &b); /* merging into empty copies */
  hist_merge(&a, &empty);
  EXPECT_INT_EQ(a.count, all.count);
  EXPECT_INT_EQ(a.min, all.min);
  EXPECT_INT_EQ(a.max, all.max);
  EXPECT(memcmp(a.counts, all.counts, sizeof a.counts) == 0);
  for (size_t k = 0; k < sizeof quantiles / sizeof quantiles[0]; k++)
    EXPECT_INT_EQ(hist_quantile(&a, quantiles[k]), hist_quantile(&all, quantiles[k]));
  EXPECT(fabs(hist_mean(&a) - hist_mean(&all)) < 1e-6);
}

TEST_CASES(TEST(test_log_uniform_1us_to_60s), TEST(test_latency_like_distribution), TEST(test_small_sets),
           TEST(test_sub_microsecond_values_are_exact), TEST(test_empty),
           TEST(test_beyond_range_is_clamped_but_max_exact), TEST(test_merge_equals_recording_everything))
