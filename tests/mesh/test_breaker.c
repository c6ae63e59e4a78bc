/* Tests for mesh/breaker.c: Istio's connectionPool defaults, each connection decision in Envoy's
 * order (idle first, pending full -> overflow, a new connection within maxConnections or when
 * the host has none, else the queue), the Istio circuit-breaking task's settings walked through
 * as concurrent requests, http2MaxRequests, maxRetries and maxRequestsPerConnection. */
#include "mesh/breaker.h"

#include "support/test.h"

/* ---- limits from the DestinationRule ---------------------------------------------------------- */

static struct resource_connection_pool pool(uint32_t max_conn, uint32_t pending, uint32_t requests, uint32_t retries,
                                            uint32_t per_conn, int64_t connect_ms) {
  struct resource_connection_pool cp = {.present = true};
  cp.tcp = (struct resource_tcp_pool){
      .present = true, .max_connections = {max_conn, true}, .connect_timeout = {connect_ms, connect_ms != 0}};
  cp.http = (struct resource_http_pool){.present = true,
                                        .http1_max_pending_requests = {pending, true},
                                        .http2_max_requests = {requests, true},
                                        .max_requests_per_connection = {per_conn, true},
                                        .max_retries = {retries, true}};
  return cp;
}

static void limits_from_policy(void) {
  const uint32_t M = UINT32_MAX;
  struct {
    const char *name;
    struct resource_connection_pool cp;
    bool null_policy;
    struct breaker_limits want;
  } cases[] = {
      {"absent: Istio's defaults", {0}, true, {M, M, M, M, 0, 10000}},
      {"not present", {.present = false}, false, {M, M, M, M, 0, 10000}},
      {"the circuit-breaking task", pool(1, 1, M, M, 1, 0), false, {1, 1, M, M, 1, 10000}},
      {"every limit", pool(10, 20, 30, 4, 5, 250), false, {10, 20, 30, 4, 5, 250}},
      {"explicit 0s keep Istio's defaults (it copies only > 0)", pool(0, 0, 0, 0, 0, 0), false, {M, M, M, M, 0, 10000}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct breaker_limits got;
    breaker_limits_from_policy(cases[i].null_policy ? NULL : &cases[i].cp, &got);
    const struct breaker_limits *w = &cases[i].want;
    if (got.max_connections != w->max_connections || got.max_pending != w->max_pending ||
        got.max_requests != w->max_requests || got.max_retries != w->max_retries ||
        got.max_requests_per_connection != w->max_requests_per_connection ||
        got.connect_timeout_ms != w->connect_timeout_ms)
      test_fail(__FILE__, __LINE__, "%s: got cx %u pending %u rq %u retries %u per-cx %u connect %lld", cases[i].name,
                got.max_connections, got.max_pending, got.max_requests, got.max_retries,
                got.max_requests_per_connection, (long long)got.connect_timeout_ms);
  }
}

static void defaults_admit_everything(void) {
  struct breaker b = {0};
  breaker_limits_from_policy(NULL, &b.limits);
  b.cx_active = b.rq_pending = b.rq_active = b.rq_retry_active = UINT32_MAX - 1;
  EXPECT_INT_EQ(breaker_admit_request(&b), BREAKER_ADMIT);
  EXPECT_INT_EQ(breaker_connection(&b, false, 5), BREAKER_CONNECT);
  EXPECT_INT_EQ(breaker_admit_retry(&b), BREAKER_ADMIT);
  EXPECT(breaker_connection_reusable(&b, UINT32_MAX));
  EXPECT_INT_EQ(b.cx_overflow + b.rq_pending_overflow + b.rq_retry_overflow, 0);
}

/* ---- the connection decision ---------------------------------------------------------------- */

static void connection_decision_table(void) {
  static const struct {
    const char *name;
    uint32_t max_conn, max_pending, cx_active, rq_pending;
    bool idle;
    uint32_t host_conns;
    enum breaker_connect want;
    uint64_t cx_overflow, pending_overflow;
  } cases[] = {
      {"idle first, even with both limits full", 1, 1, 1, 1, true, 1, BREAKER_USE_IDLE, 0, 0},
      {"pending full: overflow", 10, 1, 0, 1, false, 0, BREAKER_PENDING_OVERFLOW, 0, 1},
      {"pending full beats room for a connection", 10, 2, 3, 2, false, 3, BREAKER_PENDING_OVERFLOW, 0, 1},
      {"max_pending 0 refuses even the first (raw Envoy, envoy#20817)", 10, 0, 0, 0, false, 0, BREAKER_PENDING_OVERFLOW,
       0, 1},
      {"room for a connection: connect", 2, 1, 1, 0, false, 1, BREAKER_CONNECT, 0, 0},
      {"first request: connect", 1, 1, 0, 0, false, 0, BREAKER_CONNECT, 0, 0},
      {"cluster full, host has none: connect anyway, cx_overflow counted", 1, 1, 1, 0, false, 0, BREAKER_CONNECT, 1, 0},
      {"cluster full, host has one: queue, cx_overflow counted", 1, 1, 1, 0, false, 1, BREAKER_QUEUE, 1, 0},
      {"cluster over its limit: queue", 2, 5, 3, 4, false, 2, BREAKER_QUEUE, 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct breaker b = {.limits = {cases[i].max_conn, cases[i].max_pending, UINT32_MAX, UINT32_MAX, 0, 10000},
                        .cx_active = cases[i].cx_active,
                        .rq_pending = cases[i].rq_pending};
    enum breaker_connect got = breaker_connection(&b, cases[i].idle, cases[i].host_conns);
    if (got != cases[i].want) test_fail(__FILE__, __LINE__, "%s: got %d want %d", cases[i].name, got, cases[i].want);
    EXPECT_INT_EQ(b.cx_overflow, cases[i].cx_overflow);
    EXPECT_INT_EQ(b.rq_pending_overflow, cases[i].pending_overflow);
    /* Pure accounting: the live counts are the proxy's to change. */
    EXPECT_INT_EQ(b.cx_active, cases[i].cx_active);
    EXPECT_INT_EQ(b.rq_pending, cases[i].rq_pending);
  }
}

/* ---- the Istio circuit-breaking task ------------------------------------------------------------ */

/* maxConnections 1, http1MaxPendingRequests 1, maxRequestsPerConnection 1, one httpbin host.
 * The proxy's side is simulated: a request asking for a connection becomes pending, a
 * connection comes up, a request finishes and its connection closes (keep-alive off). */
enum op {
  OP_REQUEST, /* a new concurrent request asks; want: the decision */
  OP_UP,      /* the connecting connection is up: its pending request starts on it */
  OP_DONE,    /* a request finishes; its connection is not reusable and closes */
  OP_DEQUEUE, /* the proxy opens a connection for the queued request (Envoy does on close) */
};

static void circuit_breaking_task(void) {
  static const struct {
    enum op op;
    enum breaker_connect want;
    uint32_t cx_active, rq_pending, rq_active;
    uint64_t cx_overflow, pending_overflow;
  } steps[] = {
      {OP_REQUEST, BREAKER_CONNECT, 1, 1, 1, 0, 0},          /* R1 opens the one connection */
      {OP_REQUEST, BREAKER_PENDING_OVERFLOW, 1, 1, 1, 0, 1}, /* R2: R1 is pending while it connects */
      {OP_REQUEST, BREAKER_PENDING_OVERFLOW, 1, 1, 1, 0, 2}, /* R3 too: 503 UO */
      {OP_UP, 0, 1, 0, 1, 0, 2},                             /* R1 is on the wire */
      {OP_REQUEST, BREAKER_QUEUE, 1, 1, 2, 1, 2},            /* R4 waits: the connection is busy */
      {OP_REQUEST, BREAKER_PENDING_OVERFLOW, 1, 1, 2, 1, 3}, /* R5: the queue holds one */
      {OP_DONE, 0, 0, 1, 1, 1, 3},                           /* R1 done; one request per connection */
      {OP_DEQUEUE, 0, 1, 1, 1, 1, 3},                        /* R4 gets a new connection */
      {OP_UP, 0, 1, 0, 1, 1, 3},
      {OP_DONE, 0, 0, 0, 0, 1, 3},
      {OP_REQUEST, BREAKER_CONNECT, 1, 1, 1, 1, 3}, /* quiet again: a fresh request connects */
  };
  struct resource_connection_pool cp = pool(1, 1, 0, 0, 1, 0);
  struct breaker b = {0};
  breaker_limits_from_policy(&cp, &b.limits);
  uint32_t host_conns = 0;
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    switch (steps[i].op) {
    case OP_REQUEST: {
      ASSERT_INT_EQ(breaker_admit_request(&b), BREAKER_ADMIT);
      enum breaker_connect got = breaker_connection(&b, false, host_conns);
      if (got != steps[i].want) test_fail(__FILE__, __LINE__, "step %zu: got %d want %d", i, got, steps[i].want);
      if (got == BREAKER_CONNECT) b.cx_active++, host_conns++;
      if (got == BREAKER_CONNECT || got == BREAKER_QUEUE) b.rq_pending++, b.rq_active++;
      break;
    }
    case OP_UP:
      b.rq_pending--;
      break;
    case OP_DONE:
      EXPECT(!breaker_connection_reusable(&b, 1));
      b.rq_active--, b.cx_active--, host_conns--;
      break;
    case OP_DEQUEUE:
      b.cx_active++, host_conns++;
      break;
    }
    if (b.cx_active != steps[i].cx_active || b.rq_pending != steps[i].rq_pending || b.rq_active != steps[i].rq_active ||
        b.cx_overflow != steps[i].cx_overflow || b.rq_pending_overflow != steps[i].pending_overflow)
      test_fail(__FILE__, __LINE__, "step %zu: cx %u pending %u active %u cx_overflow %llu pending_overflow %llu", i,
                b.cx_active, b.rq_pending, b.rq_active, (unsigned long long)b.cx_overflow,
                (unsigned long long)b.rq_pending_overflow);
  }
}

/* ---- max requests, max retries, requests per connection ---------------------------------------- */

static void max_requests_and_retries(void) {
  static const struct {
    uint32_t limit, active;
    enum breaker_verdict want;
  } cases[] = {
      {2, 0, BREAKER_ADMIT},    {2, 1, BREAKER_ADMIT}, {2, 2, BREAKER_OVERFLOW},
      {2, 3, BREAKER_OVERFLOW}, {1, 0, BREAKER_ADMIT}, {1, 1, BREAKER_OVERFLOW},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct breaker b = {0};
    breaker_limits_from_policy(NULL, &b.limits);
    b.limits.max_requests = b.limits.max_retries = cases[i].limit;
    b.rq_active = b.rq_retry_active = cases[i].active;
    EXPECT_INT_EQ(breaker_admit_request(&b), cases[i].want);
    EXPECT_INT_EQ(breaker_admit_retry(&b), cases[i].want);
    uint64_t over = cases[i].want == BREAKER_OVERFLOW;
    EXPECT_INT_EQ(b.rq_pending_overflow, over); /* max_requests refusals count here in Envoy */
    EXPECT_INT_EQ(b.rq_retry_overflow, over);
    EXPECT_INT_EQ(b.cx_overflow, 0);
  }
}

static void reusable_after_n_requests(void) {
  static const struct {
    uint32_t per_conn, carried;
    bool reusable;
  } cases[] = {
      {0, 1, true},  {0, 1000000, true}, /* 0: unlimited */
      {1, 1, false},                     /* 1: keep-alive off */
      {3, 1, true},  {3, 2, true},       {3, 3, false}, {3, 4, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct breaker b = {0};
    breaker_limits_from_policy(NULL, &b.limits);
    b.limits.max_requests_per_connection = cases[i].per_conn;
    if (breaker_connection_reusable(&b, cases[i].carried) != cases[i].reusable)
      test_fail(__FILE__, __LINE__, "per-connection %u after %u: want %d", cases[i].per_conn, cases[i].carried,
                cases[i].reusable);
  }
}

TEST_CASES(TEST(limits_from_policy), TEST(defaults_admit_everything), TEST(connection_decision_table),
           TEST(circuit_breaking_task), TEST(max_requests_and_retries), TEST(reusable_after_n_requests))
