/* tests/tui/test_dash.c: the dashboard's model, views and frame, without a terminal.
 *
 * A model is fed the fixtures in tests/tui/fixtures (answers of the lab API captured in the
 * shape docs/lab.md and docs/telemetry.md give, for a lab running Bookinfo, Istio's httpbin
 * with three replicas of which httpbin-2 answers 503 and is ejected, and fortio), and every
 * screen is rendered at 80x24 and 120x40 and compared with tests/tui/golden/<name>.txt.
 *
 * To regenerate the goldens after a deliberate change of a screen:
 *     MESHLAB_UPDATE_GOLDEN=1 build/debug/tests/test_dash
 * then read every changed file (git diff tests/tui/golden) before committing it: a golden is
 * only as good as the eye that checked it. `python3 tests/tui/sync_docs.py` then copies them into
 * docs/dashboard.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/test.h"
#include "tui/frame.h"
#include "tui/model.h"
#include "tui/view.h"

#ifndef TUI_TEST_DIR
#error "TUI_TEST_DIR must name tests/tui"
#endif

#define T0 1764140400000LL /* 2026-11-26 07:00:00 UTC, the fixtures' clock */

static char *fixture(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/fixtures/%s", TUI_TEST_DIR, name);
  char *text = test_read_file(path, len);
  if (!text) test_fail(__FILE__, __LINE__, "cannot read %s", path);
  return text;
}

static void feed(struct dash_model *m, int (*fn)(struct dash_model *, const char *, size_t), const char *name) {
  size_t len = 0;
  char *text = fixture(name, &len);
  if (text && fn(m, text, len) != 0) test_fail(__FILE__, __LINE__, "feeding %s failed", name);
  free(text);
}

static void feed_edges(struct dash_model *m, const char *source, const char *name) {
  size_t len = 0;
  char *text = fixture(name, &len);
  if (text && dash_model_feed_edges(m, source, text, len) != 0) test_fail(__FILE__, __LINE__, "feeding %s", name);
  free(text);
}

/* The model every screen test starts from. */
static void lab_model(struct dash_model *m) {
  dash_model_init(m);
  dash_model_set_now(m, T0 + 5000);
  feed(m, dash_model_feed_status, "status.json");
  size_t vl = 0, dl = 0;
  char *vs = fixture("vs.json", &vl), *dr = fixture("dr.json", &dl);
  dash_model_feed_routes(m, vs, vl, dr, dl);
  free(vs);
  free(dr);
  feed(m, dash_model_feed_metrics, "metrics.json");
  feed(m, dash_model_feed_served, "served.json");
  feed_edges(m, "istio-ingressgateway", "edges_ingress.json");
  feed_edges(m, "productpage-v1", "edges_productpage.json");
  feed_edges(m, "reviews-v3", "edges_reviews.json");
  feed_edges(m, "fortio-deploy", "edges_fortio.json");
  feed(m, dash_model_feed_requests, "requests.json");
  feed(m, dash_model_feed_clusters, "clusters.json");
  dash_model_set_lab(m, true, NULL);
  dash_model_set_now(m, T0 + 5200);
}

/* Renders m at w x h and compares with golden/<name>_<w>x<h>.txt (or writes it). */
/* m rendered at w x h, as text (attributes aside), into out (reset first). */
static void screen_of(const struct dash_model *m, int w, int h, struct buf *out) {
  struct frame f;
  buf_reset(out);
  if (frame_init(&f, w, h) != 0) {
    test_fail(__FILE__, __LINE__, "frame_init %dx%d failed", w, h);
    return;
  }
  dash_render(m, &f);
  frame_text(&f, out);
  frame_free(&f);
}

static void golden(const struct dash_model *m, const char *name, int w, int h) {
  struct buf got = {0};
  screen_of(m, w, h, &got);
  char path[1024];
  snprintf(path, sizeof path, "%s/golden/%s_%dx%d.txt", TUI_TEST_DIR, name, w, h);
  if (getenv("MESHLAB_UPDATE_GOLDEN")) {
    FILE *out = fopen(path, "w");
    if (out) {
      fwrite(got.data, 1, got.len, out);
      fclose(out);
    }
    buf_free(&got);
    return;
  }
  size_t len = 0;
  char *want = test_read_file(path, &len);
  if (!want) {
    test_fail(__FILE__, __LINE__, "no golden %s (MESHLAB_UPDATE_GOLDEN=1 writes it); got:\n%s", path, buf_cstr(&got));
  } else if (len != got.len || memcmp(want, got.data, len) != 0) {
    test_fail(__FILE__, __LINE__, "%s differs; got:\n%s", path, buf_cstr(&got));
  }
  free(want);
  buf_free(&got);
}

static void both(const struct dash_model *m, const char *name) {
  golden(m, name, 80, 24);
  golden(m, name, 120, 40);
}

static void test_topology(void) {
  static struct dash_model m;
  lab_model(&m);
  both(&m, "topology");
}

static void test_split(void) {
  static struct dash_model m;
  lab_model(&m);
  dash_model_key(&m, DASH_KEY_TAB);
  EXPECT_INT_EQ(m.view, DASH_VIEW_SPLIT);
  both(&m, "split");
}

static void test_breakers(void) {
  static struct dash_model m;
  lab_model(&m);
  dash_model_key(&m, '3');
  both(&m, "breakers");
}

static void test_requests_filter_and_trace(void) {
  static struct dash_model m;
  lab_model(&m);
  dash_model_key(&m, '4');
  both(&m, "requests");
  /* "/URX" keeps the failed requests; enter opens the newest one's trace */
  dash_model_key(&m, '/');
  EXPECT(m.filtering);
  for (const char *k = "URX"; *k; k++) dash_model_key(&m, *k);
  dash_model_key(&m, DASH_KEY_ENTER);
  EXPECT(!m.filtering);
  size_t idx[DASH_MAX_REQUESTS];
  size_t n = dash_model_filtered(&m, idx, DASH_MAX_REQUESTS);
  EXPECT_INT_EQ(n, 4);
  both(&m, "requests_filtered");
  dash_model_key(&m, DASH_KEY_DOWN);
  EXPECT_INT_EQ(dash_model_key(&m, DASH_KEY_ENTER), DASH_ACTION_OPEN_TRACE);
  EXPECT_STR_EQ(m.trace_id, "req-0017");
  size_t len = 0;
  char *trace = fixture("trace.txt", &len);
  if (trace) dash_model_set_trace(&m, trace, len);
  free(trace);
  both(&m, "trace");
  dash_model_key(&m, DASH_KEY_ESC);
  EXPECT(!m.trace_open);
  /* the selection stays on its request when newer ones arrive */
  EXPECT_STR_EQ(m.selected_id, "req-0017");
  len = 0;
  char *reqs = fixture("requests.json", &len);
  ASSERT(reqs != NULL);
  char *more = malloc(len + 400);
  ASSERT(more != NULL);
  /* the same log with one newer failed request at the end */
  size_t cut = (size_t)(strrchr(reqs, ']') - reqs);
  int n2 = snprintf(more, len + 400,
                    "%.*s,{\"request_id\":\"req-new\",\"time_ms\":%lld,\"reporter\":\"source\","
                    "\"method\":\"GET\",\"path\":\"/get\",\"response_code\":503,\"response_flags\":\"URX\"}]",
                    (int)cut, reqs, T0 + 4900);
  EXPECT_INT_EQ(dash_model_feed_requests(&m, more, (size_t)n2), 0);
  EXPECT_INT_EQ(m.selected, 2);
  n = dash_model_filtered(&m, idx, DASH_MAX_REQUESTS);
  EXPECT_STR_EQ(m.requests[idx[m.selected]].id, "req-0017");
  free(more);
  free(reqs);
}

static void test_lesson_pane(void) {
  static struct dash_model m;
  lab_model(&m);
  dash_model_key(&m, '3');
  struct dash_lesson_view v = {
      .lesson_title = "Outlier detection",
      .step = 3,
      .steps = 6,
      .step_title = "Break one replica",
      .narration =
          "httpbin-2 now answers 503 to every request. fortio's sidecar counts consecutive 5xx per host; "
          "at 3 it ejects the host for baseEjectionTime times the number of ejections.",
      .watch = "the httpbin-2 row: 5xx climbs to 3/3, then EJECTED with its countdown",
      .keys = "space continue  n next step",
      .paused = true,
  };
  dash_model_set_lesson(&m, &v);
  EXPECT_INT_EQ(dash_model_key(&m, ' '), DASH_ACTION_LESSON_TOGGLE);
  EXPECT_INT_EQ(dash_model_key(&m, 'n'), DASH_ACTION_LESSON_NEXT);
  both(&m, "lesson");
  dash_model_set_lesson(&m, NULL);
  EXPECT(!m.has_lesson);
}

static void test_help(void) {
  static struct dash_model m;
  lab_model(&m);
  dash_model_key(&m, '?');
  EXPECT(m.help);
  both(&m, "help");
  EXPECT_INT_EQ(dash_model_key(&m, 'x'), DASH_ACTION_NONE);
  EXPECT(!m.help);
  EXPECT_INT_EQ(dash_model_key(&m, 'q'), DASH_ACTION_QUIT);
}

static void test_too_small(void) {
  static struct dash_model m;
  lab_model(&m);
  golden(&m, "too_small", 60, 20);
  golden(&m, "too_small", 79, 24);
}

/* Health reads without colour: the frame's text alone (what a NO_COLOR or monochrome terminal
 * shows, attributes aside) carries the glyph and the words. */
static void test_no_color_glyphs(void) {
  static struct dash_model m;
  lab_model(&m);
  struct frame f;
  ASSERT_INT_EQ(frame_init(&f, 80, 24), 0);
  dash_render(&m, &f);
  struct buf text = {0};
  frame_text(&f, &text);
  EXPECT_STR_CONTAINS(buf_cstr(&text), "x httpbin");
  EXPECT_STR_CONTAINS(buf_cstr(&text), "+ productpage");
  buf_free(&text);
  /* the recording without colour has no colour SGR, with colour it has red */
  struct buf plain = {0}, color = {0};
  frame_ansi(NULL, &f, false, &plain);
  frame_ansi(NULL, &f, true, &color);
  EXPECT(!strstr(buf_cstr(&plain), ";31m"));
  EXPECT(strstr(buf_cstr(&color), ";31m") != NULL);
  buf_free(&plain);
  buf_free(&color);
  dash_model_key(&m, '3');
  dash_render(&m, &f);
  frame_text(&f, &text);
  EXPECT_STR_CONTAINS(buf_cstr(&text), "x httpbin-2");
  EXPECT_STR_CONTAINS(buf_cstr(&text), "EJECTED 4.0s left");
  buf_free(&text);
  frame_free(&f);
}

static void test_frame_ansi_diff(void) {
  struct frame a, b;
  ASSERT_INT_EQ(frame_init(&a, 10, 3), 0);
  ASSERT_INT_EQ(frame_init(&b, 10, 3), 0);
  frame_put(&a, 0, 0, 0, "hello", 0);
  frame_put(&b, 0, 0, 0, "hellO", 0);
  struct buf out = {0};
  frame_ansi(&a, &b, true, &out);
  EXPECT_STR_EQ(buf_cstr(&out), "\x1b[1;5H\x1b[0mO");
  buf_free(&out);
  frame_ansi(&a, &a, true, &out);
  EXPECT_INT_EQ(out.len, 0);
  buf_free(&out);
  EXPECT_INT_EQ(frame_put(&a, 8, 1, 0, "\xe2\x86\x92xyz", 0), 2); /* cut at the edge, UTF-8 is one cell */
  EXPECT_INT_EQ(frame_at(&a, 8, 1)->ch, 0x2192);
  frame_free(&a);
  frame_free(&b);
}

static void test_admin_clusters_fallback(void) {
  static struct dash_model m;
  dash_model_init(&m);
  dash_model_set_now(&m, T0);
  feed(&m, dash_model_feed_status, "status.json");
  size_t len = 0;
  char *text = fixture("admin_clusters.txt", &len);
  ASSERT(text != NULL);
  ASSERT_INT_EQ(dash_model_feed_admin_clusters(&m, "fortio-deploy-0", text, len), 0);
  ASSERT_INT_EQ(m.nclusters, 1); /* the inbound cluster is not a caller's breaker */
  const struct dash_cluster *c = &m.clusters[0];
  EXPECT_STR_EQ(c->service, "httpbin");
  EXPECT(c->outlier);
  EXPECT_INT_EQ(c->threshold, 3);
  EXPECT_INT_EQ(c->cx_active, 2);
  ASSERT_INT_EQ(c->nhosts, 2);
  const struct dash_host *h = &m.hosts[c->first_host + 1];
  EXPECT_STR_EQ(h->replica, "httpbin-2");
  EXPECT(h->ejected);
  EXPECT_INT_EQ(h->ejection_until_ms, T0 + 4200);
  EXPECT_INT_EQ(h->times_ejected, 2);
  /* a second report of the same caller replaces the first */
  ASSERT_INT_EQ(dash_model_feed_admin_clusters(&m, "fortio-deploy-0", text, len), 0);
  EXPECT_INT_EQ(m.nclusters, 1);
  EXPECT_INT_EQ(m.nhosts, 2);
  free(text);
}

/* An edge is drawn ==> only when every call of the window went over mTLS. */
static void test_mtls_mark(void) {
  static struct dash_model m;
  dash_model_init(&m);
  static const struct {
    const char *policy;
    bool mtls;
  } cases[] = {{"mutual_tls", true}, {"mixed", false}, {"none", false}, {"unknown", false}, {NULL, false}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[256];
    if (cases[i].policy)
      snprintf(text, sizeof text,
               "{\"services\":[{\"destination_service\":\"httpbin.default.svc.cluster.local\","
               "\"rate_rps\":1.0,\"connection_security_policy\":\"%s\"}]}",
               cases[i].policy);
    else
      snprintf(text, sizeof text, "{\"services\":[{\"destination_service\":\"httpbin.default.svc.cluster.local\"}]}");
    ASSERT_INT_EQ(dash_model_feed_edges(&m, "sleep", text, strlen(text)), 0);
    ASSERT_INT_EQ(m.nedges, 1);
    EXPECT(m.edges[0].mtls == cases[i].mtls);
  }
}

/* The line of the rendered screen that starts (after spaces) with prefix, or, for a prefix
 * that is an arrow ("--> ratings"), has it anywhere; "" when none. */
static const char *screen_line(const char *screen, const char *prefix, char *out, size_t n) {
  out[0] = '\0';
  for (const char *line = screen; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    const char *p = line;
    while (*p == ' ' && p < line + len) p++;
    const char *hit = strstr(p, prefix);
    if (hit && hit < line + len && (hit == p || prefix[0] == '-')) {
      snprintf(out, n, "%.*s", (int)len, line);
      break;
    }
    line = end ? end + 1 : NULL;
  }
  return out;
}

/* Retries hide a failing service from its caller: ratings answers 30 % 503, reviews-v2 gets
 * every answer on a later try. The node (what ratings answered) reads x 70.0 %, the call (what
 * reviews got) + 100.0 %; with no inbound reports the node falls back to the callers' view. */
static void test_nodes_show_what_the_service_answered(void) {
  static struct dash_model m;
  dash_model_init(&m);
  dash_model_set_now(&m, T0);
  static const char callers[] =
      "{\"services\":[{\"destination_service\":\"ratings.default.svc.cluster.local\","
      "\"rate_rps\":10.0,\"success_ratio\":1.0,\"latency_ms\":{\"p99\":3.0}}]}";
  static const char served[] =
      "{\"services\":[{\"destination_service\":\"ratings.default.svc.cluster.local\","
      "\"rate_rps\":14.2,\"success_ratio\":0.7,\"latency_ms\":{\"p99\":2.5}}]}";
  ASSERT_INT_EQ(dash_model_feed_metrics(&m, callers, strlen(callers)), 0);
  ASSERT_INT_EQ(dash_model_feed_edges(&m, "reviews-v2", callers, strlen(callers)), 0);
  dash_model_set_lab(&m, true, NULL);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) ASSERT_INT_EQ(dash_model_feed_served(&m, served, strlen(served)), 0);
    struct buf text = {0};
    screen_of(&m, 80, 24, &text);
    char node[128], call[128];
    screen_line(buf_cstr(&text), pass ? "x ratings" : "+ ratings", node, sizeof node);
    screen_line(buf_cstr(&text), "--> ratings", call, sizeof call);
    EXPECT_STR_CONTAINS(node, pass ? "14.2    70.0%" : "10.0   100.0%");
    EXPECT_STR_CONTAINS(call, "10.0   100.0%");
    if (test_failed()) fprintf(stderr, "%s", buf_cstr(&text));
    buf_free(&text);
  }
}

/* A caller with one cluster per DestinationRule subset reads them apart ("(subset v1)"), and a
 * 16-character replica name keeps a space before its address. */
static void test_breakers_subsets_and_long_names(void) {
  static struct dash_model m;
  dash_model_init(&m);
  dash_model_set_now(&m, T0);
  static const char host[] =
      "{\"address\":\"127.1.242.2:9080\",\"replica\":\"productpage-v1-0\",\"rq_total\":5,"
      "\"health\":\"healthy\"}";
  char text[2048];
  snprintf(text, sizeof text,
           "{\"callers\":[{\"node\":\"default/istio-ingressgateway-0\",\"clusters\":["
           "{\"name\":\"outbound|9080|v1|productpage.default.svc.cluster.local\",\"direction\":\"outbound\","
           "\"service\":\"productpage.default.svc.cluster.local\",\"hosts\":[%s]},"
           "{\"name\":\"outbound|9080|v2|productpage.default.svc.cluster.local\",\"direction\":\"outbound\","
           "\"service\":\"productpage.default.svc.cluster.local\",\"hosts\":[%s]}]}]}",
           host, host);
  ASSERT_INT_EQ(dash_model_feed_clusters(&m, text, strlen(text)), 0);
  dash_model_set_lab(&m, true, NULL);
  dash_model_key(&m, '3');
  struct buf screen = {0};
  screen_of(&m, 80, 24, &screen);
  EXPECT_STR_CONTAINS(buf_cstr(&screen), "istio-ingressgateway-0 -> productpage (subset v1)");
  EXPECT_STR_CONTAINS(buf_cstr(&screen), "istio-ingressgateway-0 -> productpage (subset v2)");
  EXPECT_STR_CONTAINS(buf_cstr(&screen), "+ productpage-v1-0 127.1.242.2:9080");
  buf_free(&screen);
}

static void test_bad_json_keeps_the_model(void) {
  static struct dash_model m;
  lab_model(&m);
  size_t n = m.nservices;
  EXPECT_INT_EQ(dash_model_feed_metrics(&m, "not json", 8), -22);
  EXPECT_INT_EQ(dash_model_feed_clusters(&m, "{}", 2), -22);
  EXPECT_INT_EQ(m.nservices, n);
  EXPECT_INT_EQ(m.nclusters, 5);
}

static void test_weights(void) {
  static struct dash_model m;
  lab_model(&m);
  const struct dash_service *reviews = NULL;
  for (size_t i = 0; i < m.nservices; i++)
    if (strcmp(m.services[i].name, "reviews") == 0) reviews = &m.services[i];
  ASSERT(reviews != NULL);
  ASSERT_INT_EQ(reviews->nversions, 2); /* v2 serves only jason: the catch-all rule's weights count */
  EXPECT_STR_EQ(reviews->versions[0].name, "v1");
  EXPECT_INT_EQ((int)(reviews->versions[0].weight * 100), 50);
  EXPECT_INT_EQ((int)(reviews->versions[1].observed * 100), 52);
}

static void test_journal_replay(void) {
  static struct dash_model m;
  dash_model_init(&m);
  m.replay = true;
  m.view = DASH_VIEW_BREAKERS; /* where a replay starts: the journal carries breaker events */
  snprintf(m.replay_note, sizeof m.replay_note, "REPLAY journal  6.0 s of 9.0 s  (paused)");
  size_t len = 0;
  char *text = fixture("journal", &len);
  ASSERT(text != NULL);
  char *p = text;
  int lines = 0;
  while (*p) {
    char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    /* the replay sets the clock to each event's time before feeding it */
    double t = atof(strstr(p, "\"t\": ") ? strstr(p, "\"t\": ") + 5 : "0");
    if (t > 6.0) break;
    dash_model_set_now(&m, T0 + (int64_t)(t * 1000));
    EXPECT_INT_EQ(dash_model_feed_journal(&m, p, n), 0);
    lines++;
    p += n + (nl ? 1 : 0);
  }
  free(text);
  EXPECT_INT_EQ(lines, 6);
  dash_model_set_now(&m, T0 + 6000);
  ASSERT_INT_EQ(m.nclusters, 1);
  ASSERT_INT_EQ(m.nhosts, 1);
  EXPECT(m.hosts[0].ejected);
  EXPECT_INT_EQ(m.hosts[0].ejection_until_ms - m.now_ms, 2400);
  EXPECT_INT_EQ(m.mesh_rps, 121);
  both(&m, "replay");
}

/* Replay can eject a second host of a cluster that is not the last one: the hosts after it
 * move, every cluster still finds its own. */
static void test_journal_hosts_stay_with_their_cluster(void) {
  static struct dash_model m;
  dash_model_init(&m);
  const char *lines[] = {
      "{\"t\":1,\"event\":\"host_ejected\",\"replica\":\"default/"
      "a-0\",\"cluster\":\"outbound|80||x.default.svc.cluster.local\","
      "\"host\":\"10.0.0.1:80\",\"host_replica\":\"x-0\",\"times_ejected\":1,\"ejection_remaining_ms\":5000}",
      "{\"t\":2,\"event\":\"host_ejected\",\"replica\":\"default/"
      "b-0\",\"cluster\":\"outbound|80||y.default.svc.cluster.local\","
      "\"host\":\"10.0.0.9:80\",\"host_replica\":\"y-0\",\"times_ejected\":1,\"ejection_remaining_ms\":5000}",
      "{\"t\":3,\"event\":\"host_ejected\",\"replica\":\"default/"
      "a-0\",\"cluster\":\"outbound|80||x.default.svc.cluster.local\","
      "\"host\":\"10.0.0.2:80\",\"host_replica\":\"x-1\",\"times_ejected\":1,\"ejection_remaining_ms\":5000}",
      "{\"t\":4,\"event\":\"host_returned\",\"replica\":\"default/"
      "a-0\",\"cluster\":\"outbound|80||x.default.svc.cluster.local\","
      "\"host\":\"10.0.0.1:80\",\"host_replica\":\"x-0\",\"times_ejected\":1,\"ejection_remaining_ms\":0}",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
    EXPECT_INT_EQ(dash_model_feed_journal(&m, lines[i], strlen(lines[i])), 0);
  ASSERT_INT_EQ(m.nclusters, 2);
  ASSERT_INT_EQ(m.nhosts, 3);
  const struct dash_cluster *x = &m.clusters[0], *y = &m.clusters[1];
  EXPECT_STR_EQ(x->service, "x");
  ASSERT_INT_EQ(x->nhosts, 2);
  EXPECT_STR_EQ(m.hosts[x->first_host].replica, "x-0");
  EXPECT(!m.hosts[x->first_host].ejected);
  EXPECT_STR_EQ(m.hosts[x->first_host + 1].replica, "x-1");
  EXPECT(m.hosts[x->first_host + 1].ejected);
  ASSERT_INT_EQ(y->nhosts, 1);
  EXPECT_STR_EQ(m.hosts[y->first_host].replica, "y-0");
  EXPECT_INT_EQ(m.nevents, 4);
}

static void test_mouse(void) {
  static struct dash_model m;
  lab_model(&m);
  /* row 0: " meshlab dash [1 Topology]  2 Split   3 Breakers   4 Requests" */
  EXPECT_INT_EQ(dash_click(&m, 80, 24, 30, 0), DASH_ACTION_NONE);
  EXPECT_INT_EQ(m.view, DASH_VIEW_SPLIT);
  dash_click(&m, 80, 24, 57, 0);
  ASSERT_INT_EQ(m.view, DASH_VIEW_REQUESTS);
  /* the log starts on row 3: a click selects, a second click on it opens its trace */
  EXPECT_INT_EQ(dash_click(&m, 80, 24, 10, 5), DASH_ACTION_NONE);
  EXPECT_INT_EQ(m.selected, 2);
  EXPECT_INT_EQ(dash_click(&m, 80, 24, 10, 5), DASH_ACTION_OPEN_TRACE);
  EXPECT_STR_EQ(m.trace_id, "req-0028");
  EXPECT_INT_EQ(dash_model_key(&m, DASH_KEY_WHEEL_DOWN), DASH_ACTION_NONE);
  EXPECT_INT_EQ(m.scroll, 1);
  /* a too-small screen ignores clicks */
  EXPECT_INT_EQ(dash_click(&m, 60, 20, 30, 0), DASH_ACTION_NONE);
}

TEST_CASES(TEST(test_topology), TEST(test_nodes_show_what_the_service_answered),
           TEST(test_breakers_subsets_and_long_names), TEST(test_split), TEST(test_breakers),
           TEST(test_requests_filter_and_trace), TEST(test_lesson_pane), TEST(test_help), TEST(test_too_small),
           TEST(test_no_color_glyphs), TEST(test_frame_ansi_diff), TEST(test_mtls_mark),
           TEST(test_admin_clusters_fallback), TEST(test_bad_json_keeps_the_model), TEST(test_weights),
           TEST(test_journal_replay), TEST(test_journal_hosts_stay_with_their_cluster), TEST(test_mouse))
