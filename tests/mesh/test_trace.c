/* Tests for mesh/trace.c: the two rings (wrap-around, the notable ring keeping
 * a failure the recent ring lost), find (several hops, oldest first, once
 * each), the JSON round-trip of a fully filled record and its refusals, the
 * order of merged hops, and the text `meshlab why` prints for representative
 * requests (retry then success, URX, UO, a fault abort, NR). */
#include "mesh/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/flags.h"
#include "support/test.h"

static struct trace_record rec(const char *id, const char *proxy, int code, uint32_t flags) {
  struct trace_record r;
  trace_record_clear(&r);
  trace_copy(r.request_id, sizeof r.request_id, id, strlen(id));
  trace_copy(r.proxy, sizeof r.proxy, proxy, strlen(proxy));
  trace_copy(r.direction, sizeof r.direction, "outbound", 8);
  r.code = code;
  r.flags = flags;
  return r;
}

/* ---- the store ------------------------------------------------------------------------------ */

static void clear_and_copy(void) {
  struct trace_record r;
  trace_record_clear(&r);
  EXPECT_INT_EQ(r.rule, -1);
  EXPECT_INT_EQ(r.match, -1);
  EXPECT_INT_EQ(r.picked, -1);
  EXPECT_INT_EQ(r.candidates[0], -1);
  EXPECT_INT_EQ(r.candidates[1], -1);
  char small[5];
  trace_copy(small, sizeof small, "abcdefgh", 8);
  EXPECT_STR_EQ(small, "abcd");
  trace_copy(small, sizeof small, NULL, 3);
  EXPECT_STR_EQ(small, "");
  static const struct {
    int code;
    uint32_t flags;
    bool notable;
  } cases[] = {{200, 0, false}, {404, 0, false}, {404, FLAG_NR, true}, {503, 0, true},
               {500, 0, true},  {0, 0, true},    {200, FLAG_DI, true}, {499, 0, false}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct trace_record c = rec("x", "p", cases[i].code, cases[i].flags);
    EXPECT_INT_EQ(trace_record_notable(&c), cases[i].notable);
  }
}

static void ring_wraps_around(void) {
  struct trace_store st = {0};
  EXPECT_INT_EQ(trace_store_init(&st, 0), -EINVAL);
  ASSERT_INT_EQ(trace_store_init(&st, 4), 0);
  char id[16];
  for (int i = 0; i < 10; i++) {
    snprintf(id, sizeof id, "r%d", i);
    struct trace_record r = rec(id, "p", 200, 0);
    trace_store_commit(&st, &r);
  }
  EXPECT_INT_EQ(st.recent_count, 10);
  EXPECT_INT_EQ(st.notable_count, 0);
  const struct trace_record *out[8];
  /* The last four are kept, the six before are gone. */
  static const struct {
    const char *id;
    size_t n;
  } cases[] = {{"r0", 0}, {"r5", 0}, {"r6", 1}, {"r9", 1}, {"r10", 0}, {"", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = trace_store_find(&st, cases[i].id, out, 8);
    EXPECT_INT_EQ(n, cases[i].n);
    if (n) EXPECT_STR_EQ(out[0]->request_id, cases[i].id);
  }
  trace_store_free(&st);
  trace_store_free(&st); /* freeing twice (and a zeroed store) is a no-op */
  EXPECT_INT_EQ(trace_store_find(&st, "r9", out, 8), 0);
}

static void notable_keeps_failure(void) {
  struct trace_store st = {0};
  ASSERT_INT_EQ(trace_store_init(&st, 8), 0);
  struct trace_record bad = rec("failed-1", "reviews-v1-0", 503, FLAG_URX);
  trace_store_commit(&st, &bad);
  const struct trace_record *out[4];
  EXPECT_INT_EQ(trace_store_find(&st, "failed-1", out, 4), 1); /* in both rings, found once */
  char id[16];
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "ok-%d", i);
    struct trace_record r = rec(id, "reviews-v1-0", 200, 0);
    trace_store_commit(&st, &r);
  }
  ASSERT_INT_EQ(trace_store_find(&st, "failed-1", out, 4), 1);
  EXPECT_INT_EQ(out[0]->code, 503);
  EXPECT_INT_EQ(out[0]->flags, FLAG_URX);
  EXPECT_INT_EQ(trace_store_find(&st, "ok-0", out, 4), 0);
  EXPECT_INT_EQ(trace_store_find(&st, "ok-99", out, 4), 1);
  trace_store_free(&st);
}

static void find_returns_hops_in_order(void) {
  struct trace_store st = {0};
  ASSERT_INT_EQ(trace_store_init(&st, 16), 0);
  /* A retried request passes the server sidecar once per try: 503, 503, 200,
   * with other requests between them; some hops land in both rings. */
  static const struct {
    const char *id;
    int code;
    uint32_t flags;
    int64_t start;
  } commits[] = {{"a", 503, 0, 1}, {"b", 200, 0, 2}, {"a", 503, 0, 3},       {"c", 500, 0, 4},
                 {"a", 200, 0, 5}, {"b", 200, 0, 6}, {"a", 503, FLAG_URX, 7}};
  for (size_t i = 0; i < sizeof commits / sizeof commits[0]; i++) {
    struct trace_record r = rec(commits[i].id, "ratings-v1-0", commits[i].code, commits[i].flags);
    r.start_wall_ms = commits[i].start;
    trace_store_commit(&st, &r);
  }
  const struct trace_record *out[8];
  ASSERT_INT_EQ(trace_store_find(&st, "a", out, 8), 4);
  static const int64_t want[] = {1, 3, 5, 7};
  for (size_t i = 0; i < 4; i++) EXPECT_INT_EQ(out[i]->start_wall_ms, want[i]);
  EXPECT_INT_EQ(trace_store_find(&st, "a", out, 2), 2); /* max is respected, oldest kept */
  EXPECT_INT_EQ(out[1]->start_wall_ms, 3);
  EXPECT_INT_EQ(trace_store_find(&st, "b", out, 8), 2);
  EXPECT_INT_EQ(trace_store_find(&st, "nope", out, 8), 0);
  trace_store_free(&st);

  /* With a small store, the old successes are gone but the old failures stay,
   * still merged in commit order with what recent holds. */
  ASSERT_INT_EQ(trace_store_init(&st, 2), 0);
  for (size_t i = 0; i < sizeof commits / sizeof commits[0]; i++) {
    struct trace_record r = rec(commits[i].id, "ratings-v1-0", commits[i].code, commits[i].flags);
    r.start_wall_ms = commits[i].start;
    trace_store_commit(&st, &r);
  }
  /* recent holds 6 (b) and 7 (a); notable holds 4 (c) and 7 (a). */
  ASSERT_INT_EQ(trace_store_find(&st, "a", out, 8), 1);
  EXPECT_INT_EQ(out[0]->start_wall_ms, 7);
  ASSERT_INT_EQ(trace_store_find(&st, "c", out, 8), 1);
  EXPECT_INT_EQ(out[0]->start_wall_ms, 4);
  trace_store_free(&st);
}

static void sort_orders_hops(void) {
  struct trace_record r[5] = {rec("x", "ratings-v1-0", 200, 0), rec("x", "reviews-v1-0", 200, 0),
                              rec("x", "istio-ingressgateway-0", 200, 0), rec("x", "reviews-v1-0", 200, 0),
                              rec("x", "productpage-v1-0", 200, 0)};
  r[0].start_wall_ms = 120;
  trace_copy(r[0].direction, sizeof r[0].direction, "inbound", 7);
  r[1].start_wall_ms = 120; /* reviews' outbound and ratings' inbound start in the same ms */
  r[2].start_wall_ms = 100;
  trace_copy(r[2].direction, sizeof r[2].direction, "gateway", 7);
  r[3].start_wall_ms = 110;
  trace_copy(r[3].direction, sizeof r[3].direction, "inbound", 7);
  r[4].start_wall_ms = 105;
  trace_records_sort(r, 5);
  static const char *const want[][2] = {{"istio-ingressgateway-0", "gateway"},
                                        {"productpage-v1-0", "outbound"},
                                        {"reviews-v1-0", "inbound"},
                                        {"reviews-v1-0", "outbound"},
                                        {"ratings-v1-0", "inbound"}};
  for (size_t i = 0; i < 5; i++) {
    EXPECT_STR_EQ(r[i].proxy, want[i][0]);
    EXPECT_STR_EQ(r[i].direction, want[i][1]);
  }
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static struct trace_record full_record(void) {
  struct trace_record r = rec("7c9e6679-7425-40de-944b-e07fc1f90ae7", "reviews-v1-0", 503, FLAG_URX | FLAG_DI);
  r.start_wall_ms = 1764138154123;
  r.duration_ms = 1012;
  trace_copy(r.method, sizeof r.method, "GET", 3);
  trace_copy(r.authority, sizeof r.authority, "ratings:9080", 12);
  const char *path = "/ratings/0?x=\"q\"\\";
  trace_copy(r.path, sizeof r.path, path, strlen(path));
  r.config_version = 14;
  trace_copy(r.verdict, sizeof r.verdict, "ROUTE", 5);
  trace_copy(r.virtual_service, sizeof r.virtual_service, "default/ratings", 15);
  r.rule = 1;
  r.match = 0;
  trace_copy(r.route_name, sizeof r.route_name, "ratings-v1", 10);
  const char *cl = "outbound|9080|v1|ratings.default.svc.cluster.local";
  trace_copy(r.cluster, sizeof r.cluster, cl, strlen(cl));
  r.destinations = 2;
  r.weight_draw = 37;
  r.weight_total = 100;
  const char *why =
      "vhost ratings.default.svc.cluster.local:9080, rule 1 "
      "match 0 (uri prefix /ratings)";
  trace_copy(r.route_why, sizeof r.route_why, why, strlen(why));
  trace_copy(r.lb_policy, sizeof r.lb_policy, "LEAST_REQUEST", 13);
  r.hosts = 3;
  r.hosts_available = 2;
  r.candidates[0] = 0;
  r.candidates[1] = 2;
  r.picked = 2;
  r.breaker = TRACE_BREAKER_QUEUED;
  r.cx_active = 1;
  r.cx_max = 1;
  r.pending = 1;
  r.pending_max = 4;
  r.rq_active = 2;
  r.rq_max = 4294967295u;
  r.fault = TRACE_FAULT_DELAYED;
  r.delay_pct = 100;
  r.delay_roll = 12.01;
  r.delay_ms = 7000;
  r.abort_pct = 10.5;
  r.abort_roll = 41.27;
  r.abort_status = 503;
  r.ratelimit = TRACE_RATELIMIT_NOT_ENFORCED;
  r.tokens_left = 0;
  r.timeout_ms = 10000;
  r.per_try_timeout_ms = 2000;
  r.retry_attempts = 2;
  const char *on =
      "connect-failure,refused-stream,unavailable,cancelled,"
      "retriable-status-codes";
  trace_copy(r.retry_on, sizeof r.retry_on, on, strlen(on));
  const char *peer = "spiffe://cluster.local/ns/default/sa/bookinfo-reviews";
  const char *authn = "jwt: ok iss=testing@secure.istio.io sub=ünïcode";
  const char *authz = "ALLOW by default/policy rule 0";
  trace_copy(r.peer, sizeof r.peer, peer, strlen(peer));
  trace_copy(r.authn, sizeof r.authn, authn, strlen(authn));
  trace_copy(r.authz, sizeof r.authz, authz, strlen(authz));
  static const struct trace_attempt tries[3] = {
      {"127.1.0.7:9080", "ratings-v1-0", 0, 2, 503, TRACE_OUTCOME_RESPONSE, TRACE_NEXT_RETRY, 17, true, false, true},
      {"127.1.0.8:9080", "ratings-v1-1", 19, 2000, 0, TRACE_OUTCOME_PER_TRY_TIMEOUT, TRACE_NEXT_RETRY, 40, false, true,
       true},
      {"127.1.0.9:9080", "", 2059, 1, 0, TRACE_OUTCOME_CONNECT_FAILURE, TRACE_NEXT_EXHAUSTED, 0, false, true, false},
  };
  memcpy(r.attempts, tries, sizeof tries);
  r.attempts_len = 3;
  r.mirror = TRACE_MIRROR_SENT;
  const char *mc = "outbound|8000|v2|httpbin.default.svc.cluster.local";
  trace_copy(r.mirror_cluster, sizeof r.mirror_cluster, mc, strlen(mc));
  r.mirror_pct = 33.3;
  r.mirror_roll = 12.41;
  return r;
}

static void json_round_trip(void) {
  struct trace_record r = full_record(), back;
  struct buf b = {0};
  ASSERT_INT_EQ(trace_record_json(&r, &b), 0);
  char err[256] = "";
  int rc = trace_record_from_json(b.data, b.len, &back, err, sizeof err);
  EXPECT_INT_EQ(rc, 0);
  if (rc) fprintf(stderr, "# %s\n", err);
  EXPECT(memcmp(&r, &back, sizeof r) == 0);
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\"flags\":\"DI,URX\"");
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\"breaker\":\"queued\"");
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\"outcome\":\"per_try_timeout\"");
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\"candidates\":[0,2]");
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\"mirror\":\"sent\"");
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\"mirror_cluster\":\"outbound|8000|v2|httpbin.default.svc.cluster.local\"");
  buf_free(&b);

  /* An empty record round-trips too (flags "-", no attempts). */
  struct trace_record e;
  trace_record_clear(&e);
  ASSERT_INT_EQ(trace_record_json(&e, &b), 0);
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\"flags\":\"-\"");
  EXPECT_INT_EQ(trace_record_from_json(b.data, b.len, &back, err, sizeof err), 0);
  EXPECT(memcmp(&e, &back, sizeof e) == 0);
  buf_free(&b);
}

static void why_answer_round_trip(void) {
  struct trace_record a = full_record(), b = rec("7c9e", "ratings-v1-0", 200, 0);
  const struct trace_record *recs[] = {&a, &b};
  struct buf out = {0};
  ASSERT_INT_EQ(trace_why_json("reviews-\"v1\"-0", recs, 2, &out), 0);
  char proxy[64], err[256] = "";
  struct trace_record *back = NULL;
  size_t n = 0;
  ASSERT_INT_EQ(trace_why_from_json(out.data, out.len, proxy, sizeof proxy, &back, &n, err, sizeof err), 0);
  EXPECT_STR_EQ(proxy, "reviews-\"v1\"-0");
  ASSERT_INT_EQ(n, 2);
  EXPECT(memcmp(&back[0], &a, sizeof a) == 0);
  EXPECT(memcmp(&back[1], &b, sizeof b) == 0);
  free(back);
  buf_reset(&out);
  ASSERT_INT_EQ(trace_why_json("p", NULL, 0, &out), 0);
  EXPECT_STR_EQ(buf_cstr(&out), "{\"proxy\":\"p\",\"records\":[]}\n");
  EXPECT_INT_EQ(trace_why_from_json(out.data, out.len, proxy, sizeof proxy, &back, &n, err, sizeof err), 0);
  EXPECT_INT_EQ(n, 0);
  EXPECT(back == NULL);
  buf_free(&out);
  static const struct {
    const char *text, *why;
  } bad[] = {{"{\"proxy\":\"p\"}", "must be {"},
             {"{\"proxy\":\"p\",\"records\":[],\"x\":1}", "must be {"},
             {"{\"proxy\":\"p\",\"records\":[{\"code\":true}]}", "records[0]: trace record: code: must be"},
             {"nope", "why answer: 1:"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    EXPECT_INT_EQ(
        trace_why_from_json(bad[i].text, strlen(bad[i].text), proxy, sizeof proxy, &back, &n, err, sizeof err),
        -EINVAL);
    EXPECT_STR_CONTAINS(err, bad[i].why);
    EXPECT(back == NULL);
  }
}

static void json_refusals(void) {
  static const struct {
    const char *text, *why;
  } cases[] = {
      {"{\"request_id\":\"a\",\"colour\":1}", "colour: unknown field"},
      {"{\"attempts\":[{\"host\":\"h\",\"speed\":1}]}", "attempts[0].speed: unknown field"},
      {"{\"code\":\"503\"}", "code: must be an integer"},
      {"{\"duration_ms\":-1}", "duration_ms: must be an integer from 0"},
      {"{\"flags\":\"UF,XX\"}", "unknown response flag \"XX\""},
      {"{\"breaker\":\"open\"}", "breaker: must be one of none, ok, queued"},
      {"{\"candidates\":[1]}", "candidates: must be an array of two integers"},
      {"{\"attempts\":[{},{},{},{},{},{},{}]}", "at most 6"},
      {"{\"reused\":true}", "reused: unknown field"},
      {"[1]", "must be an object"},
      {"{\"proxy\":", "trace record: 1:"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct trace_record r;
    char err[256] = "";
    EXPECT_INT_EQ(trace_record_from_json(cases[i].text, strlen(cases[i].text), &r, err, sizeof err), -EINVAL);
    EXPECT_STR_CONTAINS(err, cases[i].why);
  }
  /* A string longer than its field is cut, not refused: the record stays
   * usable. */
  char text[512];
  snprintf(text, sizeof text, "{\"method\":\"%s\"}", "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  struct trace_record r;
  char err[128];
  EXPECT_INT_EQ(trace_record_from_json(text, strlen(text), &r, err, sizeof err), 0);
  EXPECT_STR_EQ(r.method, "ABCDEFGHIJK");
}

/* ---- text ----------------------------------------------------------------------------------- */

static struct trace_record routed(const char *id, const char *proxy, int code, uint32_t flags) {
  struct trace_record r = rec(id, proxy, code, flags);
  r.start_wall_ms = 1764138154123; /* 2025-11-26 06:22:34.123 UTC */
  r.duration_ms = 25;
  r.config_version = 14;
  trace_copy(r.method, sizeof r.method, "GET", 3);
  trace_copy(r.authority, sizeof r.authority, "ratings:9080", 12);
  trace_copy(r.path, sizeof r.path, "/ratings/0", 10);
  trace_copy(r.verdict, sizeof r.verdict, "ROUTE", 5);
  trace_copy(r.virtual_service, sizeof r.virtual_service, "default/ratings", 15);
  r.rule = 0;
  r.match = 0;
  const char *cl = "outbound|9080|v1|ratings.default.svc.cluster.local";
  trace_copy(r.cluster, sizeof r.cluster, cl, strlen(cl));
  r.destinations = 1;
  trace_copy(r.lb_policy, sizeof r.lb_policy, "LEAST_REQUEST", 13);
  r.hosts = 3;
  r.hosts_available = 3;
  r.candidates[0] = 0;
  r.candidates[1] = 2;
  r.picked = 2;
  r.breaker = TRACE_BREAKER_OK;
  r.cx_active = 1;
  r.cx_max = 1;
  r.pending = 0;
  r.pending_max = 1;
  r.rq_active = 1;
  r.rq_max = 4294967295u;
  r.retry_attempts = 2;
  const char *on =
      "connect-failure,refused-stream,unavailable,cancelled,"
      "retriable-status-codes";
  trace_copy(r.retry_on, sizeof r.retry_on, on, strlen(on));
  return r;
}

static void add_try(struct trace_record *r, const char *host, const char *replica, int status,
                    enum trace_outcome outcome, enum trace_next next, uint32_t ms, uint32_t backoff) {
  struct trace_attempt *a = &r->attempts[r->attempts_len++];
  trace_copy(a->host, sizeof a->host, host, strlen(host));
  trace_copy(a->replica, sizeof a->replica, replica, strlen(replica));
  a->status = status;
  a->outcome = outcome;
  a->next = next;
  a->duration_ms = ms;
  a->backoff_ms = backoff;
}

static void text_cases(void) {
  struct trace_record retry_ok = routed("r1", "reviews-v1-0", 200, 0);
  add_try(&retry_ok, "127.1.0.7:9080", "ratings-v1-0", 503, TRACE_OUTCOME_RESPONSE, TRACE_NEXT_RETRY, 2, 17);
  add_try(&retry_ok, "127.1.0.8:9080", "ratings-v1-1", 200, TRACE_OUTCOME_RESPONSE, TRACE_NEXT_NONE, 3, 0);
  retry_ok.attempts[1].other_host_preferred = true;

  struct trace_record urx = routed("r2", "reviews-v1-0", 503, FLAG_URX);
  urx.duration_ms = 1012;
  add_try(&urx, "127.1.0.7:9080", "ratings-v1-0", 503, TRACE_OUTCOME_RESPONSE, TRACE_NEXT_RETRY, 2, 17);
  add_try(&urx, "127.1.0.8:9080", "ratings-v1-1", 0, TRACE_OUTCOME_CONNECT_FAILURE, TRACE_NEXT_RETRY, 1, 40);
  add_try(&urx, "127.1.0.9:9080", "ratings-v1-2", 503, TRACE_OUTCOME_RESPONSE, TRACE_NEXT_EXHAUSTED, 2, 0);

  struct trace_record uo = routed("r3", "reviews-v1-0", 503, FLAG_UO);
  uo.breaker = TRACE_BREAKER_PENDING_FULL;
  uo.pending = 1;
  uo.pending_max = 1;

  struct trace_record fi = routed("r4", "reviews-v1-0", 503, FLAG_FI);
  fi.fault = TRACE_FAULT_ABORTED;
  fi.abort_pct = 10;
  fi.abort_roll = 3.2;
  fi.abort_status = 503;
  fi.breaker = TRACE_BREAKER_NONE;
  fi.lb_policy[0] = '\0';

  struct trace_record delay = routed("r5", "reviews-v1-0", 200, FLAG_DI);
  delay.fault = TRACE_FAULT_DELAYED;
  delay.delay_pct = 100;
  delay.delay_roll = 12.01;
  delay.delay_ms = 7000;
  delay.abort_pct = 10;
  delay.abort_roll = 41.27;
  delay.abort_status = 503;

  struct trace_record nr = rec("r6", "productpage-v1-0", 404, FLAG_NR);
  nr.duration_ms = 0;
  nr.config_version = 3;
  trace_copy(nr.method, sizeof nr.method, "GET", 3);
  trace_copy(nr.authority, sizeof nr.authority, "nosuch:9080", 11);
  trace_copy(nr.path, sizeof nr.path, "/x", 2);
  trace_copy(nr.verdict, sizeof nr.verdict, "NO_ROUTE", 8);

  struct trace_record rl = rec("r7", "productpage-v1-0", 429, FLAG_RL);
  rl.ratelimit = TRACE_RATELIMIT_LIMITED;

  struct trace_record mirrored = routed("r8", "curl-0", 200, 0);
  mirrored.mirror = TRACE_MIRROR_SENT;
  const char *mc = "outbound|8000|v2|httpbin.default.svc.cluster.local";
  trace_copy(mirrored.mirror_cluster, sizeof mirrored.mirror_cluster, mc, strlen(mc));
  mirrored.mirror_pct = 100;
  mirrored.mirror_roll = 41.5;

  struct trace_record unmirrored = routed("r9", "curl-0", 200, 0);
  unmirrored.mirror = TRACE_MIRROR_NOT_DRAWN;
  unmirrored.mirror_pct = 0;
  unmirrored.mirror_roll = 3.25;

  static const struct {
    int which;
    const char *line;
  } cases[] = {
      {0, "reviews-v1-0 → outbound  200  25 ms  (config v14)\n"},
      {0, "  request GET ratings:9080/ratings/0 at 06:22:34.123 UTC\n"},
      {0,
       "  route   VirtualService default/ratings rule 0 (match 0) → "
       "outbound|9080|v1|ratings.default.svc.cluster.local\n"},
      {0,
       "  policy  no route timeout; 2 retries on "
       "connect-failure,refused-stream,unavailable,cancelled,"
       "retriable-status-codes\n"},
      {0,
       "  lb      LEAST_REQUEST over 3 hosts (3 available): drew 0 and 2, "
       "kept the one with fewer active requests "
       "→ 2 (127.1.0.7:9080, ratings-v1-0)\n"},
      {0,
       "  pool    admitted: 1/1 connections, 0/1 pending, 1/4294967295 "
       "requests\n"},
      {0,
       "  try 1   127.1.0.7:9080 (ratings-v1-0) 503 after 2 ms → retry in "
       "17 ms (503 is in "
       "retriable-status-codes)\n"},
      {0,
       "  try 2   127.1.0.8:9080 (ratings-v1-1, not tried before) 200 after "
       "3 ms → passed to the caller\n"},
      {1, "reviews-v1-0 → outbound  503 URX  1012 ms  (config v14)\n"},
      {1,
       "  try 2   127.1.0.8:9080 (ratings-v1-1) connect failed (UF) after 1 "
       "ms → retry in 40 ms (retry_on "
       "connect-failure covers a connect failure)\n"},
      {1,
       "  try 3   127.1.0.9:9080 (ratings-v1-2) 503 after 2 ms → retries "
       "exhausted (2 of 2) → URX\n"},
      {2,
       "  pool    overflow: pending queue full (1/1, "
       "http1MaxPendingRequests) → 503 UO\n"},
      {3,
       "  fault   abort 503 at 10.0 %: roll 3.20 < 10.0 → fired: answered "
       "503 without calling the upstream (FI)\n"},
      {4,
       "  fault   delay 7000 ms at 100.0 %: roll 12.01 < 100.0 → fired: "
       "waited before going on (DI)\n"},
      {4, "  fault   abort 503 at 10.0 %: roll 41.27 ≥ 10.0 → not fired\n"},
      {5, "productpage-v1-0 → outbound  404 NR  0 ms  (config v3)\n"},
      {5,
       "  route   no VirtualService rule or default route matches "
       "nosuch:9080/x → 404 NR\n"},
      {6, "  limit   local rate limit: the token bucket is empty and the limit is enforced → 429 RL\n"},
      {7,
       "  mirror  drew 41.50 < mirrorPercentage 100.00 → a copy went to "
       "outbound|8000|v2|httpbin.default.svc.cluster.local with Host <host>-shadow; its answer is dropped and "
       "never reaches the caller\n"},
      {8, "  mirror  drew 3.25, not under mirrorPercentage 0.00 → not mirrored\n"},
  };
  const struct trace_record *recs[] = {&retry_ok, &urx, &uo, &fi, &delay, &nr, &rl, &mirrored, &unmirrored};
  struct buf text[9] = {{0}};
  for (size_t i = 0; i < 9; i++) EXPECT_INT_EQ(trace_record_text(recs[i], &text[i]), 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    EXPECT_STR_CONTAINS(buf_cstr(&text[cases[i].which]), cases[i].line);
  /* Decisions come in the order the proxy makes them, and only those that were
   * made. */
  const char *t = buf_cstr(&text[0]);
  EXPECT(strstr(t, "  route") < strstr(t, "  lb") && strstr(t, "  lb") < strstr(t, "  pool") &&
         strstr(t, "  pool") < strstr(t, "  try 1"));
  EXPECT(strstr(buf_cstr(&text[3]), "  lb") == NULL);
  EXPECT(strstr(buf_cstr(&text[5]), "  policy") == NULL);
  EXPECT(strstr(buf_cstr(&text[5]), "  try") == NULL);
  /* TEST_TRACE_SHOW=1 prints them, to read the explanations whole. */
  for (size_t i = 0; i < 9; i++) {
    if (getenv("TEST_TRACE_SHOW")) fprintf(stderr, "%s\n", buf_cstr(&text[i]));
    buf_free(&text[i]);
  }
}

static void summary_line(void) {
  struct trace_record r[3] = {routed("s", "istio-ingressgateway-0", 503, FLAG_URX),
                              routed("s", "productpage-v1-0", 503, 0), routed("s", "productpage-v1-0", 503, 0)};
  add_try(&r[0], "127.1.0.2:9080", "productpage-v1-0", 503, TRACE_OUTCOME_RESPONSE, TRACE_NEXT_RETRY, 2, 10);
  add_try(&r[0], "127.1.0.2:9080", "productpage-v1-0", 503, TRACE_OUTCOME_RESPONSE, TRACE_NEXT_EXHAUSTED, 2, 0);
  r[0].duration_ms = 40;
  struct buf b = {0};
  EXPECT_INT_EQ(trace_records_summary("s", r, 3, &b), 0);
  EXPECT_STR_EQ(buf_cstr(&b),
                "request s: 3 records from 2 proxies, 1 retry; the caller of "
                "istio-ingressgateway-0 got 503 URX after "
                "40 ms\n");
  buf_free(&b);
  EXPECT_INT_EQ(trace_records_summary("s", r, 0, &b), -EINVAL);
}

/* Many laps of both rings, failures interleaved: every request still in its window is found,
 * exactly once, whichever ring holds it. */
static void find_after_many_laps(void) {
  enum { CAP = 8, TOTAL = 5 * CAP + 3 };
  struct trace_store st = {0};
  ASSERT_INT_EQ(trace_store_init(&st, CAP), 0);
  for (int i = 0; i < TOTAL; i++) {
    struct trace_record r;
    trace_record_clear(&r);
    snprintf(r.request_id, sizeof r.request_id, "r-%d", i);
    r.code = i % 3 == 0 ? 503 : 200;
    trace_store_commit(&st, &r);
  }
  int notable_seen = 0;
  for (int i = TOTAL - 1; i >= 0; i--) {
    char id[16];
    snprintf(id, sizeof id, "r-%d", i);
    const struct trace_record *out[4];
    size_t n = trace_store_find(&st, id, out, 4);
    bool in_recent = i >= TOTAL - CAP, in_notable = i % 3 == 0 && notable_seen++ < CAP;
    if ((in_recent || in_notable) != (n == 1)) test_fail(__FILE__, __LINE__, "%s: found %zu", id, n);
  }
  trace_store_free(&st);
}

TEST_CASES(TEST(clear_and_copy), TEST(ring_wraps_around), TEST(find_after_many_laps), TEST(notable_keeps_failure),
           TEST(find_returns_hops_in_order), TEST(sort_orders_hops), TEST(json_round_trip), TEST(why_answer_round_trip),
           TEST(json_refusals), TEST(text_cases), TEST(summary_line))
