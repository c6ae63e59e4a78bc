/* Tests for mesh/loadgen.c: the pure parts (URL, request bytes, response flags) by tables, and
 * the engine end to end against the test origin and the proxy of the in-process fixture (on
 * their own loop thread, as a real origin would be in another process), plus a small server on
 * the generator's loop that answers with response-flag headers.
 *
 * The accuracy case is issue 4's: 1000 rps over 4 connections for 2 s against a no-op origin;
 * the achieved rate must be within 2 % of the target. It prints the generator's own lateness
 * (intended → actual send) and the latency it measures against that no-op origin. Under the
 * unoptimised and sanitizer builds on a shared 2-core box a 2 % margin is not the generator's
 * to keep (ASan slows every send and the origin thread competes for the cores), so there the
 * bound is 5 %; the 2 % promise is checked when the build is optimised (__OPTIMIZE__). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/http.h"
#include "mesh/loadgen.h"
#include "mesh/server.h"
#include "support/fixture.h"
#include "support/test.h"

/* ---- pure parts ---- */

static void test_url_parse(void) {
  static const struct {
    const char *url;
    int ok;
    const char *host, *authority, *path;
    int port;
  } cases[] = {
      {"http://127.0.0.1:8080/get?x=1", 1, "127.0.0.1", "127.0.0.1:8080", "/get?x=1", 8080},
      {"http://localhost", 1, "localhost", "localhost", "/", 80},
      {"http://reviews:9080", 1, "reviews", "reviews:9080", "/", 9080},
      {"http://h/?q", 1, "h", "h", "/?q", 80},
      {"http://h/p#frag", 1, "h", "h", "/p", 80},
      {"http://[::1]:81/x", 1, "::1", "[::1]:81", "/x", 81},
      {"127.0.0.1:9/a", 1, "127.0.0.1", "127.0.0.1:9", "/a", 9}, /* no scheme, as fortio */
      {"https://127.0.0.1/", 0, NULL, NULL, NULL, 0},
      {"http://", 0, NULL, NULL, NULL, 0},
      {"http://:80/", 0, NULL, NULL, NULL, 0},
      {"http://h:0/", 0, NULL, NULL, NULL, 0},
      {"http://h:99999/", 0, NULL, NULL, NULL, 0},
      {"http://h:8x/", 0, NULL, NULL, NULL, 0},
      {"http://h:/", 0, NULL, NULL, NULL, 0},
      {"http://::1/", 0, NULL, NULL, NULL, 0},
      {"http://user@h/", 0, NULL, NULL, NULL, 0},
      {"http://h/a b", 0, NULL, NULL, NULL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct loadgen_url u;
    int rc = loadgen_url_parse(&u, cases[i].url);
    if ((rc == 0) != cases[i].ok) {
      test_fail(__FILE__, __LINE__, "%s: parse returned %d", cases[i].url, rc);
      continue;
    }
    if (!cases[i].ok) continue;
    EXPECT_STR_EQ(u.host, cases[i].host);
    EXPECT_STR_EQ(u.authority, cases[i].authority);
    EXPECT_STR_EQ(u.path, cases[i].path);
    EXPECT_INT_EQ(u.port, cases[i].port);
  }
}

static void test_request_build(void) {
  struct loadgen_url u;
  ASSERT_INT_EQ(loadgen_url_parse(&u, "http://httpbin:8000/get?a=1"), 0);
  struct buf b = {0};
  int bad;
  ASSERT_INT_EQ(loadgen_request_build(&b, "GET", &u, 0, NULL, 0, &bad), 0);
  EXPECT_STR_EQ(buf_cstr(&b), "GET /get?a=1 HTTP/1.1\r\nhost: httpbin:8000\r\nuser-agent: meshlab-load/0.1\r\n\r\n");
  buf_reset(&b);
  /* Through a proxy: absolute-form, as curl with http_proxy; user headers win over ours. */
  const char *h[] = {"Host: bookinfo.example.com", "x-test:  a b ", "User-Agent: fortio"};
  ASSERT_INT_EQ(loadgen_request_build(&b, "GET", &u, 1, h, 3, &bad), 0);
  EXPECT_STR_EQ(buf_cstr(&b),
                "GET http://httpbin:8000/get?a=1 HTTP/1.1\r\nHost: bookinfo.example.com\r\n"
                "x-test: a b\r\nUser-Agent: fortio\r\n\r\n");
  buf_reset(&b);
  ASSERT_INT_EQ(loadgen_request_build(&b, "POST", &u, 0, NULL, 0, &bad), 0);
  EXPECT_STR_CONTAINS(buf_cstr(&b), "\r\ncontent-length: 0\r\n");
  buf_reset(&b);
  const char *bad_headers[] = {"ok: 1", "no colon"};
  EXPECT_INT_EQ(loadgen_request_build(&b, "GET", &u, 0, bad_headers, 2, &bad), -EINVAL);
  EXPECT_INT_EQ(bad, 1);
  const char *bad_name[] = {"bad name: 1"};
  EXPECT_INT_EQ(loadgen_request_build(&b, "GET", &u, 0, bad_name, 1, &bad), -EINVAL);
  EXPECT_INT_EQ(bad, 0);
  EXPECT_INT_EQ(loadgen_request_build(&b, "GE T", &u, 0, NULL, 0, &bad), -EINVAL);
  EXPECT_INT_EQ(bad, -1);
  buf_free(&b);
}

static void test_response_flags(void) {
  static const struct {
    const char *name, *value, *name2, *value2;
    uint32_t want;
  } cases[] = {
      {NULL, NULL, NULL, NULL, 0},
      {"x-meshlab-response-flags", "UO", NULL, NULL, FLAG_UO},
      {"X-Meshlab-Response-Flags", "UF,URX", NULL, NULL, FLAG_UF | FLAG_URX},
      {"x-meshlab-response-flags", "-", NULL, NULL, 0},
      {"x-meshlab-response-flags", "UF, NR", NULL, NULL, FLAG_UF | FLAG_NR},
      {"x-meshlab-response-flags", "ZZ,UT", NULL, NULL, FLAG_UT}, /* unknown names are ignored */
      {"x-envoy-overloaded", "true", NULL, NULL, FLAG_UO},
      {"x-envoy-overloaded", "false", NULL, NULL, 0},
      /* Our header says it all when present: */
      {"x-meshlab-response-flags", "-", "x-envoy-overloaded", "true", 0},
      {"x-meshlab-response-flags", "UO", "x-envoy-overloaded", "true", FLAG_UO},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct http_header hs[2];
    struct http_head h;
    memset(&h, 0, sizeof h);
    h.headers = hs;
    if (cases[i].name) hs[h.nheaders++] = (struct http_header){slice_from(cases[i].name), slice_from(cases[i].value)};
    if (cases[i].name2)
      hs[h.nheaders++] = (struct http_header){slice_from(cases[i].name2), slice_from(cases[i].value2)};
    uint32_t got = loadgen_response_flags(&h);
    if (got != cases[i].want)
      test_fail(__FILE__, __LINE__, "case %zu (%s: %s): flags 0x%x, want 0x%x", i, cases[i].name ? cases[i].name : "-",
                cases[i].value ? cases[i].value : "-", got, cases[i].want);
  }
}

/* ---- the engine ---- */

struct run {
  uv_loop_t loop;
  struct loadgen lg;
  struct buf request;
  int done, status;
  double wall_s;
  struct conn_env srv_env; /* flags_server only */
  struct http_server srv;
  int have_srv;
  unsigned hits;
  uv_timer_t stopper;
};

struct load_args {
  const char *url;
  const char *proxy; /* NULL: direct */
  double qps;
  unsigned connections;
  uint64_t duration_ms, requests, timeout_ms;
  uint64_t stop_after_ms; /* loadgen_stop after this long, as Ctrl-C would; 0 = never */
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_stopper(uv_timer_t *t) {
  struct run *r = t->data;
  loadgen_stop(&r->lg);
  uv_close((uv_handle_t *)t, NULL);
}

static void on_done(struct loadgen *lg, int status) {
  struct run *r = lg->data;
  r->done = 1;
  r->status = status;
  if (r->have_srv) server_close(&r->srv, NULL);
}

/* Runs the generator to completion on r's loop (any server already on it closes when the run
 * ends) and checks that the loop then closes cleanly. Returns 0 when it ran. */
static int run_load(struct run *r, const struct load_args *a) {
  struct loadgen_url u;
  if (loadgen_url_parse(&u, a->url) != 0) return -1;
  int bad;
  if (loadgen_request_build(&r->request, "GET", &u, a->proxy != NULL, NULL, 0, &bad) != 0) return -1;
  struct loadgen_opts o;
  memset(&o, 0, sizeof o);
  char hostport[300];
  snprintf(hostport, sizeof hostport, "%s:%d", u.host, u.port);
  if (conn_addr_parse(&o.addr, a->proxy ? a->proxy : hostport) != 0) return -1;
  o.request = (struct slice){r->request.data, r->request.len};
  o.qps = a->qps;
  o.connections = a->connections;
  o.duration_ms = a->duration_ms;
  o.requests = a->requests;
  o.timeout_ms = a->timeout_ms;
  r->lg.data = r;
  double t = now_s();
  if (loadgen_start(&r->lg, &r->loop, &o, on_done) != 0) return -1;
  if (a->stop_after_ms) {
    uv_timer_init(&r->loop, &r->stopper);
    r->stopper.data = r;
    uv_timer_start(&r->stopper, on_stopper, a->stop_after_ms, 0);
  }
  uv_run(&r->loop, UV_RUN_DEFAULT);
  r->wall_s = now_s() - t;
  EXPECT(r->done);
  int closed = uv_loop_close(&r->loop);
  if (closed != 0) uv_print_all_handles(&r->loop, stderr);
  EXPECT_INT_EQ(closed, 0);
  buf_free(&r->request);
  return 0;
}

static struct run *run_new(void) {
  struct run *r = calloc(1, sizeof *r);
  if (r) uv_loop_init(&r->loop);
  return r;
}

static void free_run(struct run *r) {
  if (r && r->have_srv) conn_env_free(&r->srv_env);
  free(r);
}

static void expect_sane_percentiles(const struct hist *l) {
  uint64_t p50 = hist_quantile(l, 0.5), p90 = hist_quantile(l, 0.9), p99 = hist_quantile(l, 0.99),
           p999 = hist_quantile(l, 0.999), max = hist_max(l);
  EXPECT(p50 > 0);
  EXPECT(p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max);
  EXPECT(hist_quantile(l, 0) <= p50);
}

static void test_open_loop_accuracy_1000rps(void) {
  static struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, 0, NULL), 0);
  struct run *r = run_new();
  ASSERT(r);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/size/0", f.origin.port);
  struct load_args a = {.url = url, .qps = 1000, .connections = 4, .duration_ms = 2000};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  const struct loadgen_result *res = &r->lg.result;
  EXPECT_INT_EQ(r->status, 0);
  EXPECT_INT_EQ(res->requests, 2000);
  EXPECT_INT_EQ(res->responses, 2000);
  EXPECT_INT_EQ(res->codes[200], 2000);
  EXPECT_INT_EQ(res->errors, 0);
  EXPECT_INT_EQ(res->sockets, 4);
  EXPECT_INT_EQ(res->latency.count, 2000);
  EXPECT_INT_EQ(f.origin.requests, 2000);
#ifdef __OPTIMIZE__
  const double margin = 0.02;
#else
  const double margin = 0.05; /* see the file comment */
#endif
  /* The engine's own figure, and one from the wall clock around the whole run (warm-up and
   * drain included), so a generator that stretched its schedule cannot hide it. */
  double wall_qps = (double)res->requests / r->wall_s;
  EXPECT(res->qps >= 1000 * (1 - margin) && res->qps <= 1000 * (1 + margin));
  EXPECT(wall_qps >= 1000 * (1 - margin) && wall_qps <= 1000 * (1 + margin));
  expect_sane_percentiles(&res->latency);
  EXPECT(hist_quantile(&res->latency, 0.5) < 5000000); /* a no-op origin on loopback: well under 5 ms */
  /* Lateness covers the requests whose connection was free when they fell due; the rest waited
   * for a reply still in flight (their wait is in the latency). */
  EXPECT(res->lateness.count > 0 && res->lateness.count <= 2000);
  const struct hist *l = &res->latency, *late = &res->lateness;
  printf(
      "# 1000 rps x 4 connections, 2 s, no-op origin (%s build): achieved %.1f qps (engine), %.1f qps (wall "
      "clock, %.3f s)\n",
#ifdef __OPTIMIZE__
      "optimised",
#else
      "unoptimised",
#endif
      res->qps, wall_qps, r->wall_s);
  printf("# latency from intended send time, us: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f mean %.1f\n",
         hist_quantile(l, 0.5) / 1e3, hist_quantile(l, 0.9) / 1e3, hist_quantile(l, 0.99) / 1e3,
         hist_quantile(l, 0.999) / 1e3, hist_max(l) / 1e3, hist_mean(l) / 1e3);
  printf(
      "# generator's own lateness (intended -> actual send, %llu requests sent on a free connection), us: "
      "p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
      (unsigned long long)late->count, hist_quantile(late, 0.5) / 1e3, hist_quantile(late, 0.9) / 1e3,
      hist_quantile(late, 0.99) / 1e3, hist_quantile(late, 0.999) / 1e3, hist_max(late) / 1e3);
  free_run(r);
}

static void test_exact_counts(void) {
  static struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, 0, NULL), 0);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/size/100", f.origin.port);
  /* Closed loop, a count that does not divide by the connections. */
  struct run *r = run_new();
  ASSERT(r);
  struct load_args a = {.url = url, .connections = 3, .requests = 500};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(r->status, 0);
  EXPECT_INT_EQ(r->lg.result.requests, 500);
  EXPECT_INT_EQ(r->lg.result.codes[200], 500);
  EXPECT_INT_EQ(r->lg.result.sockets, 3);
  EXPECT_INT_EQ(r->lg.result.lateness.count, 0); /* closed loop has no schedule to be late for */
  expect_sane_percentiles(&r->lg.result.latency);
  free_run(r);
  /* Open loop with a count: 50 requests at 500 qps over 4 connections (13, 13, 12, 12). */
  r = run_new();
  ASSERT(r);
  struct load_args b = {.url = url, .qps = 500, .connections = 4, .requests = 50};
  EXPECT_INT_EQ(run_load(r, &b), 0);
  EXPECT_INT_EQ(r->lg.result.requests, 50);
  EXPECT_INT_EQ(r->lg.result.codes[200], 50);
  EXPECT(r->lg.result.duration_s >= 0.1 && r->lg.result.duration_s < 0.2);
  free_run(r);
  /* A timed closed-loop run stops on time. */
  r = run_new();
  ASSERT(r);
  struct load_args c = {.url = url, .connections = 2, .duration_ms = 200};
  EXPECT_INT_EQ(run_load(r, &c), 0);
  EXPECT(r->lg.result.requests > 10);
  EXPECT_INT_EQ(r->lg.result.codes[200], r->lg.result.requests);
  EXPECT(r->lg.result.duration_s >= 0.2 && r->lg.result.duration_s < 0.3);
  EXPECT(r->wall_s < 0.5);
  uint64_t timed = r->lg.result.requests;
  free_run(r);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  EXPECT_INT_EQ(f.origin.requests, 550 + timed); /* every request counted reached the origin */
}

static void test_latency_counts_the_wait_for_a_busy_connection(void) {
  /* 40 requests due over 200 ms on one connection to an origin that takes 20 ms each: the last
   * one goes out ~600 ms late, and that wait is latency (a closed-loop tool would say 20 ms). */
  static struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, 0, NULL), 0);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/delay/20", f.origin.port);
  struct run *r = run_new();
  ASSERT(r);
  struct load_args a = {.url = url, .qps = 200, .connections = 1, .requests = 40};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  const struct loadgen_result *res = &r->lg.result;
  EXPECT_INT_EQ(res->codes[200], 40);
  EXPECT_INT_GE(hist_max(&res->latency), 500000000);           /* >= 500 ms */
  EXPECT_INT_GE(hist_quantile(&res->latency, 0.5), 200000000); /* the median waited too */
  EXPECT_INT_LE(hist_quantile(&res->latency, 0), 40000000);    /* the first did not */
  /* Achieved rate is what the server sustained (~50/s), not the 200 asked for. */
  EXPECT(res->qps < 70 && res->qps > 40);
  free_run(r);
}

static void test_through_a_proxy_absolute_form(void) {
  static struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, 0, NULL), 0);
  char url[64], proxy[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/size/10", f.origin.port);
  snprintf(proxy, sizeof proxy, "127.0.0.1:%d", f.port);
  struct run *r = run_new();
  ASSERT(r);
  struct load_args a = {.url = url, .proxy = proxy, .connections = 2, .requests = 20};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  EXPECT_INT_EQ(r->lg.result.codes[200], 20);
  EXPECT_INT_EQ(f.origin.requests, 20);
  free_run(r);
}

static void test_flags_from_the_proxy(void) {
  /* The fixture's proxy in front of a dead port answers 503 with x-meshlab-response-flags: UF. */
  /* A port that was free a moment ago: nothing listens there. */
  static struct fixture probe, f;
  ASSERT_INT_EQ(fixture_start(&probe, NULL, 0, NULL), 0);
  int dead_port = probe.origin.port;
  EXPECT_INT_EQ(fixture_stop(&probe), 0);
  ASSERT_INT_EQ(fixture_start(&f, NULL, dead_port, NULL), 0);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", f.port);
  struct run *r = run_new();
  ASSERT(r);
  struct load_args a = {.url = url, .connections = 2, .requests = 10};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  EXPECT_INT_EQ(r->lg.result.codes[503], 10);
  EXPECT_INT_EQ(r->lg.result.flags[__builtin_ctz(FLAG_UF)], 10);
  EXPECT_INT_EQ(r->lg.result.errors, 0);
  free_run(r);
}

/* A server on the generator's loop: /uo answers 503 UO on every other request, /ov 503 with
 * Envoy's x-envoy-overloaded, /multi 503 "UF,URX", /close 200 and closes. */
static void on_flags_request(struct server_request *req) {
  struct run *r = req->user;
  r->hits++;
  if (slice_eq_str_nocase(req->path, "/uo")) {
    if (r->hits % 2) server_respond(req, 503, "text/plain", "overflow", 8, "x-meshlab-response-flags: UO\r\n");
    else server_respond(req, 200, "text/plain", "ok", 2, "x-meshlab-response-flags: -\r\n");
  } else if (slice_eq_str_nocase(req->path, "/ov")) {
    server_respond(req, 503, "text/plain", "overflow", 8, "x-envoy-overloaded: true\r\n");
  } else if (slice_eq_str_nocase(req->path, "/multi")) {
    server_respond(req, 503, "text/plain", "retries", 7, "x-meshlab-response-flags: UF,URX\r\n");
  } else {
    server_respond(req, 200, "text/plain", "bye", 3, "connection: close\r\n");
  }
}

static struct run *flags_run(const char *path, unsigned requests) {
  struct run *r = run_new();
  if (!r) return NULL;
  conn_env_init(&r->srv_env, &r->loop, 16384);
  struct conn_addr addr;
  conn_addr_parse(&addr, "127.0.0.1:0");
  if (server_listen(&r->srv, &r->srv_env, &addr, on_flags_request, r) != 0) return r;
  r->have_srv = 1;
  char url[256];
  snprintf(url, sizeof url, "http://%s%s", r->srv.address, path);
  struct load_args a = {.url = url, .connections = 2, .requests = requests};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  return r;
}

static void test_flags_by_header(void) {
  struct run *r = flags_run("/uo", 20);
  ASSERT(r && r->have_srv);
  EXPECT_INT_EQ(r->lg.result.codes[503], 10);
  EXPECT_INT_EQ(r->lg.result.codes[200], 10);
  EXPECT_INT_EQ(r->lg.result.flags[__builtin_ctz(FLAG_UO)], 10);
  free_run(r);
  r = flags_run("/ov", 5);
  ASSERT(r && r->have_srv);
  EXPECT_INT_EQ(r->lg.result.flags[__builtin_ctz(FLAG_UO)], 5);
  free_run(r);
  r = flags_run("/multi", 4);
  ASSERT(r && r->have_srv);
  EXPECT_INT_EQ(r->lg.result.flags[__builtin_ctz(FLAG_UF)], 4);
  EXPECT_INT_EQ(r->lg.result.flags[__builtin_ctz(FLAG_URX)], 4);
  EXPECT_INT_EQ(r->lg.result.codes[503], 4);
  free_run(r);
}

static void test_reconnects_when_the_server_closes(void) {
  struct run *r = flags_run("/close", 6);
  ASSERT(r && r->have_srv);
  EXPECT_INT_EQ(r->lg.result.codes[200], 6);
  EXPECT_INT_EQ(r->lg.result.errors, 0);
  EXPECT_INT_EQ(r->lg.result.sockets, 6); /* one connection per response */
  free_run(r);
  /* Bodies delimited by close (the test origin's /close/N) end the response, not an error. */
  static struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, 0, NULL), 0);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/close/1000", f.origin.port);
  r = run_new();
  ASSERT(r);
  struct load_args a = {.url = url, .qps = 100, .connections = 2, .requests = 6};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  EXPECT_INT_EQ(r->lg.result.codes[200], 6);
  EXPECT_INT_EQ(r->lg.result.errors, 0);
  free_run(r);
}

static void test_timeouts_count_as_errors(void) {
  static struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, 0, NULL), 0);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/delay/3000", f.origin.port);
  struct run *r = run_new();
  ASSERT(r);
  struct load_args a = {.url = url, .connections = 1, .requests = 2, .timeout_ms = 100};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  EXPECT_INT_EQ(r->status, 0);
  EXPECT_INT_EQ(r->lg.result.requests, 2);
  EXPECT_INT_EQ(r->lg.result.errors, 2);
  EXPECT_INT_EQ(r->lg.result.responses, 0);
  EXPECT(r->wall_s < 1.0);
  free_run(r);
}

static void test_cannot_connect_says_where(void) {
  struct run *r = run_new();
  ASSERT(r);
  struct load_args a = {.url = "http://127.0.0.1:1/", .qps = 10, .connections = 2, .duration_ms = 1000};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT(r->status < 0);
  EXPECT_STR_CONTAINS(r->lg.error, "cannot connect to 127.0.0.1:1: ");
  EXPECT_INT_EQ(r->lg.result.requests, 0);
  free_run(r);
}

static void test_stop_interrupts(void) {
  static struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, 0, NULL), 0);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/size/0", f.origin.port);
  struct run *r = run_new();
  ASSERT(r);
  /* A 10 s run stopped after 200 ms by a timer on the same loop, as Ctrl-C does. */
  struct load_args a = {.url = url, .qps = 100, .connections = 2, .duration_ms = 10000, .stop_after_ms = 200};
  EXPECT_INT_EQ(run_load(r, &a), 0);
  EXPECT_INT_EQ(fixture_stop(&f), 0);
  const struct loadgen_result *res = &r->lg.result;
  EXPECT(res->interrupted);
  EXPECT(r->wall_s < 1.0);
  EXPECT(res->requests >= 15 && res->requests <= 25);
  EXPECT(res->duration_s > 0.15 && res->duration_s < 0.5);
  EXPECT_INT_EQ(res->codes[200], res->requests);
  free_run(r);
}

TEST_CASES(TEST(test_url_parse), TEST(test_request_build), TEST(test_response_flags), TEST(test_exact_counts),
           TEST(test_latency_counts_the_wait_for_a_busy_connection), TEST(test_through_a_proxy_absolute_form),
           TEST(test_flags_from_the_proxy), TEST(test_flags_by_header), TEST(test_reconnects_when_the_server_closes),
           TEST(test_timeouts_count_as_errors), TEST(test_cannot_connect_says_where), TEST(test_stop_interrupts),
           TEST(test_open_loop_accuracy_1000rps))
