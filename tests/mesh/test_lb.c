/* Tests for mesh/lb.c: the algorithm chosen from a DestinationRule policy, ROUND_ROBIN order,
 * LEAST_REQUEST's power of two choices, RANDOM's uniformity, consistent hashing (ring hash and
 * maglev) stickiness, spread and minimal disruption, hash keys from requests, no healthy host,
 * and seeded repeatability.
 *
 * Statistical margins: 10 000 picks; a host with probability p must get n*p +- 5 standard
 * deviations (5*sqrt(n*p*(1-p))). */
#include "mesh/lb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "support/test.h"

static const char *const KEYS[] = {"127.1.0.4:9080", "127.1.0.5:9080", "127.1.0.6:9080", "127.1.0.7:9080"};

static struct lb_host up(uint32_t active) { return (struct lb_host){active, true, false}; }

static void within(const char *what, int got, int n, double p) {
  double margin = 5 * sqrt(n * p * (1 - p));
  if (fabs(got - n * p) > margin)
    test_fail(__FILE__, __LINE__, "%s: %d of %d, want %.0f +- %.0f", what, got, n, n * p, margin);
}

/* ---- which algorithm ---------------------------------------------------------------------------- */

static void policy_selects_algorithm(void) {
  static const struct {
    struct resource_load_balancer lb;
    bool null_policy;
    const char *name;
  } cases[] = {
      {{0}, true, "LEAST_REQUEST"},
      {{.present = true, .simple_set = true, .simple = RESOURCE_LB_LEAST_REQUEST}, false, "LEAST_REQUEST"},
      {{.present = true, .simple_set = true, .simple = RESOURCE_LB_LEAST_CONN}, false, "LEAST_REQUEST"},
      {{.present = true, .simple_set = true, .simple = RESOURCE_LB_UNSPECIFIED}, false, "LEAST_REQUEST"},
      {{.present = true, .simple_set = true, .simple = RESOURCE_LB_ROUND_ROBIN}, false, "ROUND_ROBIN"},
      {{.present = true, .simple_set = true, .simple = RESOURCE_LB_RANDOM}, false, "RANDOM"},
      {{.present = true, .simple_set = true, .simple = RESOURCE_LB_PASSTHROUGH}, false, "RANDOM"},
      {{.present = true,
        .hash_present = true,
        .consistent_hash = {.key = RESOURCE_HASH_HEADER, .ring_size = {1024, false}}},
       false,
       "RING_HASH"},
      {{.present = true,
        .hash_present = true,
        .consistent_hash = {.key = RESOURCE_HASH_HEADER, .maglev = true, .maglev_table_size = {65537, false}}},
       false,
       "MAGLEV"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct lb lb;
    EXPECT_INT_EQ(lb_init(&lb, cases[i].null_policy ? NULL : &cases[i].lb, KEYS, 3), 0);
    EXPECT_STR_EQ(lb.algorithm->name, cases[i].name);
    lb_free(&lb);
  }
  EXPECT(lb_algorithm_find("round_robin") != NULL);
  EXPECT(lb_algorithm_find("LEAST_CONNECTIONS") == NULL);
  struct resource_load_balancer bad = {
      .present = true, .hash_present = true, .consistent_hash = {.maglev = true, .maglev_table_size = {65536, true}}};
  struct lb lb;
  EXPECT_INT_EQ(lb_init(&lb, &bad, KEYS, 3), -EINVAL); /* maglev needs a prime table size */
  lb_free(&lb);
}

static struct lb make(enum resource_lb_simple simple, size_t n) {
  struct resource_load_balancer p = {.present = true, .simple_set = true, .simple = simple};
  struct lb lb;
  if (lb_init(&lb, &p, KEYS, n) != 0) test_fail(__FILE__, __LINE__, "lb_init");
  return lb;
}

/* ---- ROUND_ROBIN -------------------------------------------------------------------------------- */

static void round_robin_order_skips_unavailable(void) {
  struct lb lb = make(RESOURCE_LB_ROUND_ROBIN, 3);
  struct lb_host hosts[3] = {up(0), up(0), up(0)};
  struct rng rng;
  rng_seed(&rng, 1);
  struct lb_pick p;
  static const size_t order[] = {0, 1, 2, 0, 1, 2, 0};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    ASSERT_INT_EQ(lb_pick(&lb, hosts, NULL, &rng, &p), LB_PICKED);
    EXPECT_INT_EQ(p.index, order[i]);
  }
  hosts[2].ejected = true; /* cursor is at 1 */
  static const size_t skipped[] = {1, 0, 1, 0};
  for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
    ASSERT_INT_EQ(lb_pick(&lb, hosts, NULL, &rng, &p), LB_PICKED);
    EXPECT_INT_EQ(p.index, skipped[i]);
  }
  hosts[0].healthy = false;
  hosts[1].ejected = true;
  EXPECT_INT_EQ(lb_pick(&lb, hosts, NULL, &rng, &p), LB_NO_HEALTHY);
  lb_free(&lb);
}

/* ---- LEAST_REQUEST ------------------------------------------------------------------------------ */

static void least_request_prefers_fewer_active(void) {
  enum { N = 10000 };
  struct lb lb = make(RESOURCE_LB_LEAST_REQUEST, 3);
  /* Host 0 is busy. Two draws with replacement: it wins only when both draws are host 0,
   * probability 1/9; hosts 1 and 2 (equal, idle) share the rest: 4/9 each. */
  struct lb_host hosts[3] = {up(10), up(0), up(0)};
  struct rng rng;
  rng_seed(&rng, 99);
  int count[3] = {0};
  struct lb_pick p;
  for (int i = 0; i < N; i++) {
    ASSERT_INT_EQ(lb_pick(&lb, hosts, NULL, &rng, &p), LB_PICKED);
    EXPECT_INT_EQ(p.candidates_len, 2);
    count[p.index]++;
  }
  within("busy host", count[0], N, 1.0 / 9);
  within("idle host 1", count[1], N, 4.0 / 9);
  within("idle host 2", count[2], N, 4.0 / 9);
  /* All equal: uniform. */
  struct lb_host even[3] = {up(2), up(2), up(2)};
  int c2[3] = {0};
  for (int i = 0; i < N; i++) {
    lb_pick(&lb, even, NULL, &rng, &p);
    c2[p.index]++;
  }
  for (int h = 0; h < 3; h++) within("even host", c2[h], N, 1.0 / 3);
  /* Ejected hosts are never drawn. */
  struct lb_host one[3] = {up(0), up(0), up(5)};
  one[0].ejected = one[1].ejected = true;
  for (int i = 0; i < 100; i++) {
    lb_pick(&lb, one, NULL, &rng, &p);
    EXPECT_INT_EQ(p.index, 2);
  }
  lb_free(&lb);
}

/* ---- RANDOM ------------------------------------------------------------------------------------- */

static void random_is_uniform(void) {
  enum { N = 10000 };
  struct lb lb = make(RESOURCE_LB_RANDOM, 4);
  struct lb_host hosts[4] = {up(0), up(9), up(0), up(0)};
  struct rng rng;
  rng_seed(&rng, 5);
  int count[4] = {0};
  struct lb_pick p;
  for (int i = 0; i < N; i++) {
    ASSERT_INT_EQ(lb_pick(&lb, hosts, NULL, &rng, &p), LB_PICKED);
    count[p.index]++;
  }
  for (int h = 0; h < 4; h++) within("random host", count[h], N, 0.25);
  hosts[3].healthy = false;
  int c3[4] = {0};
  for (int i = 0; i < N; i++) {
    lb_pick(&lb, hosts, NULL, &rng, &p);
    c3[p.index]++;
  }
  EXPECT_INT_EQ(c3[3], 0);
  for (int h = 0; h < 3; h++) within("random host of 3", c3[h], N, 1.0 / 3);
  lb_free(&lb);
}

/* ---- consistent hash ---------------------------------------------------------------------------- */

static void consistent_hash_is_sticky_and_spreads(void) {
  for (int maglev = 0; maglev <= 1; maglev++) {
    struct resource_load_balancer p = {.present = true,
                                       .hash_present = true,
                                       .consistent_hash = {.key = RESOURCE_HASH_HEADER,
                                                           .name = (char *)"x-user",
                                                           .maglev = maglev,
                                                           .ring_size = {1024, false},
                                                           .maglev_table_size = {65537, false}}};
    struct lb lb;
    ASSERT_INT_EQ(lb_init(&lb, &p, KEYS, 3), 0);
    struct lb_host hosts[3] = {up(0), up(50), up(0)};
    struct rng rng;
    rng_seed(&rng, 11);
    enum { K = 3000 };
    int count[3] = {0};
    static size_t first[K];
    for (int k = 0; k < K; k++) {
      char key[32];
      int n = snprintf(key, sizeof key, "user-%d", k);
      uint64_t h = lb_hash(key, (size_t)n);
      struct lb_pick pick;
      ASSERT_INT_EQ(lb_pick(&lb, hosts, &h, &rng, &pick), LB_PICKED);
      EXPECT(pick.hashed);
      first[k] = pick.index;
      count[pick.index]++;
      for (int again = 0; again < 3; again++) { /* same key, same host, whatever the load */
        hosts[pick.index].active_requests += 7;
        lb_pick(&lb, hosts, &h, &rng, &pick);
        if (pick.index != first[k]) test_fail(__FILE__, __LINE__, "%s: key %s moved", lb.algorithm->name, key);
      }
    }
    /* Spread: every host gets a fair part (ring hash with 1024 points: within 20%-47%). */
    for (int hh = 0; hh < 3; hh++)
      if (count[hh] < K / 5 || count[hh] > K * 47 / 100)
        test_fail(__FILE__, __LINE__, "%s: host %d got %d of %d keys", lb.algorithm->name, hh, count[hh], K);
    /* Minimal disruption: eject host 1; only its keys move. */
    hosts[1].ejected = true;
    int moved_other = 0, moved_own = 0;
    for (int k = 0; k < K; k++) {
      char key[32];
      int n = snprintf(key, sizeof key, "user-%d", k);
      uint64_t h = lb_hash(key, (size_t)n);
      struct lb_pick pick;
      lb_pick(&lb, hosts, &h, &rng, &pick);
      EXPECT(pick.index != 1);
      if (first[k] != 1 && pick.index != first[k]) moved_other++;
      if (first[k] == 1) moved_own++;
    }
    EXPECT_INT_EQ(moved_other, 0);
    EXPECT_INT_EQ(moved_own, count[1]);
    /* No key: a random point (Envoy's behaviour), still a valid host. */
    struct lb_pick pick;
    EXPECT_INT_EQ(lb_pick(&lb, hosts, NULL, &rng, &pick), LB_PICKED);
    EXPECT(!pick.hashed);
    hosts[0].healthy = hosts[2].healthy = false;
    EXPECT_INT_EQ(lb_pick(&lb, hosts, NULL, &rng, &pick), LB_NO_HEALTHY);
    lb_free(&lb);
  }
}

static void hash_keys_from_requests(void) {
  struct http_header hs[] = {{SLICE_LIT("x-user"), SLICE_LIT("jason")},
                             {SLICE_LIT("Cookie"), SLICE_LIT("a=1; session=abc123; z=9")}};
  struct http_head head = {.is_request = 1, .headers = hs, .nheaders = 2};
  static const struct {
    enum resource_hash_key key;
    const char *name;
    const char *path, *source;
    bool found;
    const char *value;
  } cases[] = {
      {RESOURCE_HASH_HEADER, "x-user", "/", "", true, "jason"},
      {RESOURCE_HASH_HEADER, "X-User", "/", "", true, "jason"},
      {RESOURCE_HASH_HEADER, "x-none", "/", "", false, NULL},
      {RESOURCE_HASH_COOKIE, "session", "/", "", true, "abc123"},
      {RESOURCE_HASH_COOKIE, "sess", "/", "", false, NULL},
      {RESOURCE_HASH_SOURCE_IP, NULL, "/", "127.1.0.2", true, "127.1.0.2"},
      {RESOURCE_HASH_SOURCE_IP, NULL, "/", "", false, NULL},
      {RESOURCE_HASH_QUERY_PARAM, "u", "/p?x=1&u=bob", "", true, "bob"},
      {RESOURCE_HASH_QUERY_PARAM, "u", "/p?x=1", "", false, NULL},
      {RESOURCE_HASH_NONE, NULL, "/", "", false, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct resource_consistent_hash h = {.key = cases[i].key, .name = (char *)cases[i].name};
    uint64_t out = 0;
    bool found = lb_hash_request(&h, &head, slice_from(cases[i].path), slice_from(cases[i].source), &out);
    if (found != cases[i].found) test_fail(__FILE__, __LINE__, "case %zu: found %d", i, found);
    if (found && out != lb_hash(cases[i].value, strlen(cases[i].value)))
      test_fail(__FILE__, __LINE__, "case %zu: hashed something other than %s", i, cases[i].value);
  }
}

/* ---- repeatability ------------------------------------------------------------------------------ */

static void same_seed_same_picks(void) {
  static const enum resource_lb_simple algos[] = {RESOURCE_LB_LEAST_REQUEST, RESOURCE_LB_RANDOM};
  for (size_t a = 0; a < 2; a++) {
    struct lb l1 = make(algos[a], 4), l2 = make(algos[a], 4);
    struct lb_host hosts[4] = {up(1), up(0), up(3), up(0)};
    struct rng r1, r2;
    rng_seed(&r1, 2024);
    rng_seed(&r2, 2024);
    for (int i = 0; i < 500; i++) {
      struct lb_pick p1, p2;
      lb_pick(&l1, hosts, NULL, &r1, &p1);
      lb_pick(&l2, hosts, NULL, &r2, &p2);
      if (p1.index != p2.index) {
        test_fail(__FILE__, __LINE__, "%s: pick %d differs", l1.algorithm->name, i);
        break;
      }
    }
    lb_free(&l1);
    lb_free(&l2);
  }
  struct lb empty;
  EXPECT_INT_EQ(lb_init(&empty, NULL, NULL, 0), 0);
  struct rng rng;
  rng_seed(&rng, 1);
  struct lb_pick p;
  EXPECT_INT_EQ(lb_pick(&empty, NULL, NULL, &rng, &p), LB_NO_HEALTHY);
  lb_free(&empty);
  lb_free(NULL);
}

TEST_CASES(TEST(policy_selects_algorithm), TEST(round_robin_order_skips_unavailable),
           TEST(least_request_prefers_fewer_active), TEST(random_is_uniform),
           TEST(consistent_hash_is_sticky_and_spreads), TEST(hash_keys_from_requests), TEST(same_seed_same_picks))
