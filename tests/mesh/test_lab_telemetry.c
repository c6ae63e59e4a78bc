/* Unit tests for mesh/lab_series.c's per-second series (pure): bucket rotation, merging
 * across series and seconds, window queries, share by version, codes and flags, expiry, the
 * request log ring. Times are whole seconds passed in, as the lab passes its loop clock.
 * Then the clusters' state (mesh/lab_telemetry.c): a sidecar's report (report_build over a
 * hand-built cluster manager) parsed back by the lab, the store of the latest state per caller and cluster, and the
 * changes the journal records. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/clusters.h"
#include "mesh/flags.h"
#include "mesh/lab_telemetry.h"
#include "mesh/report.h"
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
  for (size_t i = 0; i < s.ncodes; i++) EXPECT_INT_EQ(s.codes[i].n, s.codes[i].code == 200 ? 6 : 2);
  ASSERT_INT_EQ(s.nflags, 3);
  for (size_t i = 0; i < s.nflags; i++) EXPECT_INT_EQ(s.flags[i].n, s.flags[i].flags == 0 ? 8 : 1);
  uint64_t errors;
  EXPECT_INT_EQ(labtel_requests_at(&t, 2, REPORTER_SOURCE, &errors), 2);
  EXPECT_INT_EQ(errors, 2);
  EXPECT_INT_EQ(labtel_requests_at(&t, 1, REPORTER_DESTINATION, &errors), 0);
  labtel_free(&t);
}

/* A source-side query still says how its calls were carried: from the destination's series of
 * the same caller and service (the source reports "unknown", as in Istio). */
static void security_policy_comes_from_the_destination(void) {
  struct labtel t = {0};
  struct labtel_key src = key(REPORTER_SOURCE, "v1", 200, 0), dst = key(REPORTER_DESTINATION, "v1", 200, 0);
  dst.security = LABTEL_SECURITY_MUTUAL_TLS;
  add(&t, 1, &src, 10, 1);
  add(&t, 1, &dst, 10, 1);
  struct labtel_summary s;
  struct labtel_query q = window(10);
  q.reporter = REPORTER_SOURCE;
  labtel_query(&t, 1, &q, &s);
  EXPECT_INT_EQ(s.requests, 10); /* counted once, by the source */
  EXPECT_INT_EQ(s.mutual_tls, 10);
  EXPECT_INT_EQ(s.plaintext, 0);
  /* another caller's plaintext calls are not this caller's */
  struct labtel_key other = dst;
  strcpy(other.source_workload, "sleep");
  other.security = LABTEL_SECURITY_NONE;
  add(&t, 1, &other, 4, 1);
  q.source_workload = "productpage-v1";
  labtel_query(&t, 1, &q, &s);
  EXPECT_INT_EQ(s.mutual_tls, 10);
  EXPECT_INT_EQ(s.plaintext, 0);
  q.source_workload = NULL;
  labtel_query(&t, 1, &q, &s);
  EXPECT_INT_EQ(s.requests, 10);
  EXPECT_INT_EQ(s.mutual_tls, 10);
  EXPECT_INT_EQ(s.plaintext, 4);
  /* out of the window, nothing was carried */
  labtel_query(&t, 20, &q, &s);
  EXPECT_INT_EQ(s.mutual_tls + s.plaintext, 0);
  labtel_free(&t);
}

/* The sidecar's report names the policy per series, as its Prometheus label does. */
static void report_names_the_security_policy(void) {
  struct telemetry t = {.enabled = 1};
  struct peer me, caller;
  telemetry_peer_set(&me, "reviews-v1", "default", "reviews", "v1");
  telemetry_peer_set(&caller, "productpage-v1", "default", "productpage", "v1");
  t.self = me;
  struct telemetry_request r = {.reporter = REPORTER_DESTINATION,
                                .source = &caller,
                                .destination = &me,
                                .service = REVIEWS,
                                .code = 200,
                                .mutual_tls = 1};
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  r.reporter = REPORTER_SOURCE;
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  struct cluster_manager cm = {0};
  struct buf body = {0};
  EXPECT_INT_EQ(report_build(&body, &t, &cm, "default/reviews-v1-0", 0), 2);
  const char *text = buf_cstr(&body);
  EXPECT(strstr(text, "\"reporter\":\"destination\"") != NULL);
  const char *dst = strstr(text, "\"reporter\":\"destination\""), *src = strstr(text, "\"reporter\":\"source\"");
  ASSERT(dst && src);
  const char *dst_end = strchr(dst, '}'), *src_end = strchr(src, '}');
  const char *mtls = strstr(dst, "\"connection_security_policy\":\"mutual_tls\"");
  const char *unknown = strstr(src, "\"connection_security_policy\":\"unknown\"");
  EXPECT(mtls && mtls < dst_end);
  EXPECT(unknown && unknown < src_end);
  buf_free(&body);
  telemetry_free(&t);
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

/* ---- clusters: report, parse, store, changes ---------------------------------------------- */

#define HTTPBIN_CLUSTER "outbound|8000||httpbin.default.svc.cluster.local"

/* A caller's cluster toward httpbin with two hosts, built by hand as clusters.c would. */
struct fake_cm {
  struct cluster_manager cm;
  struct cluster c, *items[1];
  struct upstream hosts[2], *host_ptrs[2];
  struct lb_host lb_hosts[2];
  struct outlier_host outlier[2];
};

static void fake_cm_init(struct fake_cm *f) {
  memset(f, 0, sizeof *f);
  f->c.name = HTTPBIN_CLUSTER;
  f->c.service = "httpbin.default.svc.cluster.local";
  f->c.direction = XDS_OUTBOUND;
  breaker_limits_from_policy(NULL, &f->c.breaker.limits);
  f->c.breaker.limits.max_connections = 1;
  f->c.breaker.limits.max_pending = 1;
  f->c.breaker.limits.max_requests_per_connection = 1;
  f->c.outlier_cfg.enabled = true;
  f->c.outlier_cfg.consecutive_5xx = 3;
  f->c.outlier_cfg.base_ejection_ms = 30000;
  f->c.outlier_cfg.interval_ms = 10000;
  f->c.outlier_cfg.max_ejection_percent = 100;
  const char *addrs[] = {"127.1.150.9:8000", "127.1.150.10:8000"};
  for (int i = 0; i < 2; i++) {
    ASSERT_INT_EQ(conn_addr_parse(&f->hosts[i].addr, addrs[i]), 0);
    snprintf(f->hosts[i].replica, sizeof f->hosts[i].replica, "httpbin-%d", i);
    f->host_ptrs[i] = &f->hosts[i];
    f->lb_hosts[i].healthy = true;
  }
  f->c.hosts = f->host_ptrs;
  f->c.lb_hosts = f->lb_hosts;
  f->c.outlier = f->outlier;
  f->c.nhosts = 2;
  f->items[0] = &f->c;
  f->cm.items = f->items;
  f->cm.len = 1;
}

/* report_build's body for f, parsed as the lab parses it; returns the clusters in it. */
static size_t round_trip(struct fake_cm *f, int64_t now_ms, struct labtel_cluster ***out) {
  struct telemetry t = {0};
  struct buf body = {0};
  size_t n = report_build(&body, &t, &f->cm, "default/fortio-deploy-0", now_ms);
  size_t parsed = 0;
  EXPECT_INT_EQ(labtel_clusters_parse(body.data, body.len, "default/fortio-deploy-0", 5000, out, &parsed), 0);
  EXPECT_INT_EQ(n, parsed); /* no series: every item counted is a cluster */
  buf_free(&body);
  telemetry_free(&t);
  return parsed;
}

static void free_clusters(struct labtel_cluster **cs, size_t n) {
  for (size_t i = 0; i < n; i++) labtel_cluster_free(cs[i]);
  free(cs);
}

static void report_carries_changed_clusters_only(void) {
  struct fake_cm f;
  fake_cm_init(&f);
  struct labtel_cluster **cs;
  /* nothing has used the cluster: not reported */
  EXPECT_INT_EQ(round_trip(&f, 1000, &cs), 0);
  free_clusters(cs, 0);
  f.hosts[0].stats.rq_total = 7;
  f.hosts[0].stats.cx_active = 1;
  f.c.breaker.rq_pending_overflow = 4;
  f.c.breaker.cx_overflow = 2;
  ASSERT_INT_EQ(round_trip(&f, 1000, &cs), 1);
  const struct labtel_cluster *c = cs[0];
  EXPECT_STR_EQ(c->node, "default/fortio-deploy-0");
  EXPECT_STR_EQ(c->name, HTTPBIN_CLUSTER);
  EXPECT_STR_EQ(c->direction, "outbound");
  EXPECT_STR_EQ(c->service, "httpbin.default.svc.cluster.local");
  EXPECT_INT_EQ(c->reported_ms, 5000);
  EXPECT_INT_EQ(c->max_connections, 1);
  EXPECT_INT_EQ(c->max_pending_requests, 1);
  EXPECT_INT_EQ(c->max_requests, UINT32_MAX);
  EXPECT_INT_EQ(c->max_requests_per_connection, 1);
  EXPECT_INT_EQ(c->cx_active, 1);
  EXPECT_INT_EQ(c->rq_pending_overflow, 4);
  EXPECT_INT_EQ(c->cx_overflow, 2);
  EXPECT(c->outlier_enabled);
  EXPECT_INT_EQ(c->consecutive_5xx, 3);
  ASSERT_INT_EQ(c->nhosts, 2);
  EXPECT_STR_EQ(c->hosts[0].address, "127.1.150.9:8000");
  EXPECT_STR_EQ(c->hosts[0].replica, "httpbin-0");
  EXPECT_STR_EQ(c->hosts[0].health, "healthy");
  EXPECT_INT_EQ(c->hosts[0].rq_total, 7);
  EXPECT(!c->hosts[1].ejected);
  free_clusters(cs, 1);
  /* nothing moved since: not reported again */
  EXPECT_INT_EQ(round_trip(&f, 1000, &cs), 0);
  free_clusters(cs, 0);
  /* an ejection: reported, and again in every report while the host stays out */
  f.outlier[1].ejected = true;
  f.outlier[1].eject_until_ms = 31000;
  f.outlier[1].ejections_total = 1;
  f.outlier[1].consecutive_5xx = 3;
  f.lb_hosts[1].ejected = true;
  f.c.outlier_stats.ejections_active = f.c.outlier_stats.ejections_total = 1;
  EXPECT(report_has_ejections(&f.cm));
  for (int round = 0; round < 2; round++) {
    ASSERT_INT_EQ(round_trip(&f, 1000 + round * 250, &cs), 1);
    const struct labtel_host *h = &cs[0]->hosts[1];
    EXPECT(h->ejected);
    EXPECT_STR_EQ(h->health, "ejected");
    EXPECT_INT_EQ(h->ejection_remaining_ms, 30000 - round * 250);
    EXPECT_INT_EQ(h->times_ejected, 1);
    EXPECT_INT_EQ(h->consecutive_5xx, 3);
    EXPECT_INT_EQ(cs[0]->ejections_active, 1);
    free_clusters(cs, 1);
  }
  /* back: reported once more, then quiet */
  f.outlier[1].ejected = f.lb_hosts[1].ejected = false;
  f.c.outlier_stats.ejections_active = 0;
  EXPECT(!report_has_ejections(&f.cm));
  ASSERT_INT_EQ(round_trip(&f, 40000, &cs), 1);
  EXPECT_STR_EQ(cs[0]->hosts[1].health, "healthy");
  free_clusters(cs, 1);
  EXPECT_INT_EQ(round_trip(&f, 40000, &cs), 0);
  free_clusters(cs, 0);
  /* an endpoint not ready reads unhealthy */
  f.lb_hosts[0].healthy = false;
  ASSERT_INT_EQ(round_trip(&f, 40000, &cs), 1);
  EXPECT_STR_EQ(cs[0]->hosts[0].health, "unhealthy");
  free_clusters(cs, 1);
}

static int outlier_changes;

static void count_outlier_change(struct cluster_manager *cm, struct cluster *c) {
  (void)cm;
  EXPECT_STR_EQ(c->name, HTTPBIN_CLUSTER);
  outlier_changes++;
}

static int dirty_calls;

static void count_dirty(struct telemetry *t) {
  (void)t;
  dirty_calls++;
}

/* What makes a report go out with no request finishing: the cluster manager's hook fires on an
 * ejection and on a return at the sweep (the proxy then calls telemetry_touch). */
static void ejections_and_returns_fire_the_hook(void) {
  struct fake_cm f;
  fake_cm_init(&f);
  f.c.cm = &f.cm;
  f.cm.on_outlier_change = count_outlier_change;
  f.c.outlier_cfg.max_ejection_ms = 300000;
  outlier_changes = 0;
  for (int i = 0; i < 3; i++) cluster_outlier_report(&f.c, &f.hosts[1], OUTLIER_RESPONSE, 503, 1000);
  EXPECT_INT_EQ(outlier_changes, 1);
  EXPECT(f.lb_hosts[1].ejected);
  EXPECT_INT_EQ(cluster_ejected_hosts(&f.c), 1);
  cluster_outlier_report(&f.c, &f.hosts[0], OUTLIER_RESPONSE, 200, 1000); /* no change: no call */
  EXPECT_INT_EQ(outlier_changes, 1);
  cluster_manager_sweep(&f.cm, 2000); /* still out */
  EXPECT_INT_EQ(outlier_changes, 1);
  cluster_manager_sweep(&f.cm, 40000); /* back */
  EXPECT_INT_EQ(outlier_changes, 2);
  EXPECT(!f.lb_hosts[1].ejected);
  EXPECT_INT_EQ(cluster_ejected_hosts(&f.c), 0);
  /* the proxy's hook: telemetry_touch calls on_dirty on the transition only */
  struct telemetry t = {0};
  t.on_dirty = count_dirty;
  dirty_calls = 0;
  telemetry_touch(&t);
  telemetry_touch(&t);
  EXPECT_INT_EQ(dirty_calls, 1);
  EXPECT(t.dirty);
}

static void parse_refuses_non_objects_and_takes_reports_without_clusters(void) {
  struct labtel_cluster **cs;
  size_t n = 9;
  EXPECT_INT_EQ(labtel_clusters_parse("[1]", 3, "default/a-0", 0, &cs, &n), -EINVAL);
  const char *old = "{\"node\":\"default/a-0\",\"interval_ms\":250,\"series\":[],\"requests\":[]}";
  EXPECT_INT_EQ(labtel_clusters_parse(old, strlen(old), "default/a-0", 0, &cs, &n), 0);
  EXPECT_INT_EQ(n, 0);
  EXPECT(cs == NULL);
}

static struct labtel_cluster *state(const char *node, const char *name, uint64_t pending_overflow, bool ejected,
                                    uint64_t times) {
  struct labtel_cluster *c = calloc(1, sizeof *c);
  snprintf(c->node, sizeof c->node, "%s", node);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->rq_pending_overflow = pending_overflow;
  c->hosts = calloc(1, sizeof *c->hosts);
  c->nhosts = 1;
  snprintf(c->hosts[0].address, sizeof c->hosts[0].address, "127.1.150.9:8000");
  c->hosts[0].ejected = ejected;
  c->hosts[0].times_ejected = times;
  return c;
}

static void store_keeps_the_latest_per_caller_and_cluster(void) {
  struct labtel t = {0};
  struct labtel_cluster *old;
  ASSERT_INT_EQ(labtel_cluster_put(&t, state("default/b-0", "outbound|80||y", 1, false, 0), &old), 0);
  EXPECT(old == NULL);
  ASSERT_INT_EQ(labtel_cluster_put(&t, state("default/a-0", "outbound|80||y", 1, false, 0), &old), 0);
  ASSERT_INT_EQ(labtel_cluster_put(&t, state("default/a-0", "outbound|80||x", 1, false, 0), &old), 0);
  ASSERT_INT_EQ(t.nclusters, 3);
  /* sorted by caller, then cluster */
  EXPECT_STR_EQ(t.clusters[0]->name, "outbound|80||x");
  EXPECT_STR_EQ(t.clusters[1]->node, "default/a-0");
  EXPECT_STR_EQ(t.clusters[2]->node, "default/b-0");
  /* a new report of the same pair replaces it */
  ASSERT_INT_EQ(labtel_cluster_put(&t, state("default/a-0", "outbound|80||y", 5, false, 0), &old), 0);
  ASSERT(old != NULL);
  EXPECT_INT_EQ(old->rq_pending_overflow, 1);
  labtel_cluster_free(old);
  EXPECT_INT_EQ(t.nclusters, 3);
  EXPECT_INT_EQ(t.clusters[1]->rq_pending_overflow, 5);
  /* the caller goes away: its clusters with it */
  labtel_clusters_forget(&t, "default/a-0");
  ASSERT_INT_EQ(t.nclusters, 1);
  EXPECT_STR_EQ(t.clusters[0]->node, "default/b-0");
  labtel_free(&t);
  labtel_free(&t);
  /* bounded: past LABTEL_MAX_CLUSTERS pairs, new ones are refused, known ones still replaced */
  for (int i = 0; i < LABTEL_MAX_CLUSTERS; i++) {
    char name[32];
    snprintf(name, sizeof name, "outbound|80||s%d", i);
    ASSERT_INT_EQ(labtel_cluster_put(&t, state("default/a-0", name, 0, false, 0), &old), 0);
  }
  EXPECT_INT_EQ(labtel_cluster_put(&t, state("default/z-0", "outbound|80||s0", 0, false, 0), &old), -ENOSPC);
  EXPECT_INT_EQ(labtel_cluster_put(&t, state("default/a-0", "outbound|80||s7", 2, false, 0), &old), 0);
  labtel_cluster_free(old);
  EXPECT_INT_EQ(t.nclusters, LABTEL_MAX_CLUSTERS);
  labtel_free(&t);
}

static void changes_name_ejections_returns_and_overflows(void) {
  struct labtel_change ch[8];
  struct labtel_cluster *a = state("default/a-0", "c", 0, false, 0), *b = state("default/a-0", "c", 3, true, 1);
  /* nothing known before: the ejection and the whole count are new */
  ASSERT_INT_EQ(labtel_cluster_changes(NULL, b, ch, 8), 2);
  EXPECT_INT_EQ(ch[0].kind, LABTEL_HOST_EJECTED);
  EXPECT_STR_EQ(ch[0].host->address, "127.1.150.9:8000");
  EXPECT_INT_EQ(ch[1].kind, LABTEL_OVERFLOW);
  EXPECT_STR_EQ(ch[1].counter, "upstream_rq_pending_overflow");
  EXPECT_INT_EQ(ch[1].value, 3);
  EXPECT_INT_EQ(ch[1].delta, 3);
  EXPECT_INT_EQ(labtel_cluster_changes(NULL, a, ch, 8), 0);
  EXPECT_INT_EQ(labtel_cluster_changes(b, b, ch, 8), 0); /* still out, no new overflow: nothing */
  /* back in, two more overflows */
  struct labtel_cluster *c = state("default/a-0", "c", 5, false, 1);
  ASSERT_INT_EQ(labtel_cluster_changes(b, c, ch, 8), 2);
  EXPECT_INT_EQ(ch[0].kind, LABTEL_HOST_RETURNED);
  EXPECT_INT_EQ(ch[1].delta, 2);
  EXPECT_INT_EQ(ch[1].value, 5);
  /* out and back between two reports: both events */
  struct labtel_cluster *d = state("default/a-0", "c", 5, false, 2);
  ASSERT_INT_EQ(labtel_cluster_changes(c, d, ch, 8), 2);
  EXPECT_INT_EQ(ch[0].kind, LABTEL_HOST_EJECTED);
  EXPECT_INT_EQ(ch[1].kind, LABTEL_HOST_RETURNED);
  /* a restarted caller counts from 0 again: its count is all new */
  struct labtel_cluster *e = state("default/a-0", "c", 1, false, 2);
  ASSERT_INT_EQ(labtel_cluster_changes(d, e, ch, 8), 1);
  EXPECT_INT_EQ(ch[0].delta, 1);
  /* more changes than room: counted, not written past max */
  EXPECT_INT_EQ(labtel_cluster_changes(NULL, b, ch, 1), 2);
  labtel_cluster_free(a);
  labtel_cluster_free(b);
  labtel_cluster_free(c);
  labtel_cluster_free(d);
  labtel_cluster_free(e);
}

TEST_CASES(TEST(window_sums_the_last_seconds_only), TEST(ring_rotation_forgets_a_lap_ago),
           TEST(expire_drops_idle_series), TEST(merges_histograms_across_series_for_percentiles),
           TEST(share_by_version_and_filters), TEST(counts_codes_flags_and_success),
           TEST(security_policy_comes_from_the_destination), TEST(report_names_the_security_policy),
           TEST(request_log_keeps_the_newest), TEST(report_carries_changed_clusters_only),
           TEST(ejections_and_returns_fire_the_hook),
           TEST(parse_refuses_non_objects_and_takes_reports_without_clusters),
           TEST(store_keeps_the_latest_per_caller_and_cluster), TEST(changes_name_ejections_returns_and_overflows))
