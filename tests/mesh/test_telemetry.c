/* Unit tests for mesh/telemetry.c: Istio's standard metrics, their labels, series identity and
 * the x-meshlab-peer header. */
#include <stdlib.h>
#include <string.h>

#include "mesh/flags.h"
#include "mesh/rand.h"
#include "mesh/telemetry.h"
#include "support/test.h"

static struct peer productpage, reviews_v2;

static void setup(void) {
  telemetry_peer_set(&productpage, "productpage-v1", "default", "productpage", "v1");
  telemetry_peer_set(&reviews_v2, "reviews-v2", "default", "reviews", "v2");
}

static const char *render(struct telemetry *t, struct buf *out) {
  buf_reset(out);
  telemetry_write_prometheus(out, t);
  return buf_cstr(out);
}

static void counts_a_request_with_istios_labels(void) {
  setup();
  struct telemetry t = {0};
  t.enabled = 1;
  struct telemetry_request r = {REPORTER_SOURCE,
                                &productpage,
                                &reviews_v2,
                                "reviews.default.svc.cluster.local",
                                200,
                                0,
                                12.5,
                                0,
                                1024,
                                0,
                                NULL,
                                NULL,
                                NULL};
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  struct buf out = {0};
  const char *text = render(&t, &out);
  EXPECT_STR_CONTAINS(text,
                      "istio_requests_total{reporter=\"source\",source_workload=\"productpage-v1\","
                      "source_workload_namespace=\"default\",source_principal=\"unknown\",source_app=\"productpage\","
                      "source_version=\"v1\",source_cluster=\"Kubernetes\",destination_workload=\"reviews-v2\","
                      "destination_workload_namespace=\"default\",destination_principal=\"unknown\","
                      "destination_app=\"reviews\",destination_version=\"v2\","
                      "destination_service=\"reviews.default.svc.cluster.local\",destination_service_name=\"reviews\","
                      "destination_service_namespace=\"default\",destination_cluster=\"Kubernetes\","
                      "request_protocol=\"http\",response_code=\"200\",grpc_response_status=\"\",response_flags=\"-\","
                      "connection_security_policy=\"unknown\"} 2\n");
  EXPECT_STR_CONTAINS(text, "# TYPE istio_request_duration_milliseconds histogram\n");
  EXPECT_STR_CONTAINS(text, ",le=\"25\"} 2\n");
  EXPECT_STR_CONTAINS(text, "istio_response_bytes_bucket{");
  EXPECT_STR_CONTAINS(text, ",le=\"1000\"} 0\n");
  EXPECT_STR_CONTAINS(text, ",le=\"10000\"} 2\n");
  buf_free(&out);
  telemetry_free(&t);
}

/* Istio's outbound catch-all: destination_service is the Host called, destination_service_name
 * the cluster (PassthroughCluster, BlackHoleCluster), and a series of its own. */
static void catch_all_names_its_cluster(void) {
  setup();
  struct telemetry t = {0};
  t.enabled = 1;
  struct telemetry_request r = {.reporter = REPORTER_SOURCE,
                                .source = &productpage,
                                .service = "127.0.0.1:8000",
                                .code = 200,
                                .service_name = "PassthroughCluster"};
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  r.service_name = "BlackHoleCluster";
  r.code = 502;
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  struct buf out = {0};
  const char *text = render(&t, &out);
  EXPECT_STR_CONTAINS(text,
                      "destination_service=\"127.0.0.1:8000\",destination_service_name=\"PassthroughCluster\","
                      "destination_service_namespace=\"unknown\",destination_cluster=\"Kubernetes\","
                      "request_protocol=\"http\",response_code=\"200\"");
  EXPECT_STR_CONTAINS(text,
                      "destination_service=\"127.0.0.1:8000\",destination_service_name=\"BlackHoleCluster\","
                      "destination_service_namespace=\"unknown\",destination_cluster=\"Kubernetes\","
                      "request_protocol=\"http\",response_code=\"502\",grpc_response_status=\"\","
                      "response_flags=\"-\"");
  buf_free(&out);
  telemetry_free(&t);
}

static void separates_series_by_code_flags_and_peer(void) {
  setup();
  struct telemetry t = {0};
  struct telemetry_request ok = {REPORTER_SOURCE,
                                 &productpage,
                                 &reviews_v2,
                                 "reviews.default.svc.cluster.local",
                                 200,
                                 0,
                                 1,
                                 0,
                                 0,
                                 0,
                                 NULL,
                                 NULL,
                                 NULL};
  struct telemetry_request uo = ok;
  uo.code = 503;
  uo.flags = FLAG_UO;
  struct telemetry_request inbound = ok;
  inbound.reporter = REPORTER_DESTINATION;
  struct telemetry_request unknown = inbound;
  unknown.source = NULL;
  for (int i = 0; i < 3; i++) telemetry_record(&t, &ok);
  telemetry_record(&t, &uo);
  telemetry_record(&t, &inbound);
  telemetry_record(&t, &unknown);
  EXPECT_INT_EQ(t.len, 4);
  struct buf out = {0};
  const char *text = render(&t, &out);
  EXPECT_STR_CONTAINS(text, "response_code=\"503\",grpc_response_status=\"\",response_flags=\"UO\"");
  EXPECT_STR_CONTAINS(text, "reporter=\"destination\",source_workload=\"unknown\"");
  EXPECT_STR_CONTAINS(text, "connection_security_policy=\"none\"} 1\n");
  /* Many series: the table grows and keeps every count. Codes 100..599 add 499 series: 200
   * is the `ok` series already there. */
  for (int i = 0; i < 500; i++) {
    struct telemetry_request r = ok;
    r.code = 100 + i;
    telemetry_record(&t, &r);
  }
  EXPECT_INT_EQ(t.len, 4 + 499);
  buf_reset(&out);
  EXPECT_STR_CONTAINS(render(&t, &out),
                      "response_code=\"200\",grpc_response_status=\"\",response_flags=\"-\","
                      "connection_security_policy=\"unknown\"} 4\n");
  buf_free(&out);
  telemetry_free(&t);
}

static void peer_header_round_trips_and_refuses_injection(void) {
  setup();
  char text[256];
  telemetry_peer_format(&productpage, text, sizeof text);
  EXPECT_STR_EQ(text, "productpage-v1;default;productpage;v1");
  struct peer p;
  ASSERT_INT_EQ(telemetry_peer_parse(slice_from(text), &p), 0);
  EXPECT_STR_EQ(p.workload, "productpage-v1");
  EXPECT_STR_EQ(p.version, "v1");
  /* Label values end up in the exposition: quotes, braces and newlines are refused. */
  EXPECT(telemetry_peer_parse(slice_from("a\";b;c;d"), &p) != 0);
  EXPECT(telemetry_peer_parse(slice_from("a;b;c"), &p) != 0);
  EXPECT(telemetry_peer_parse(slice_from("a;b;c;d;e"), &p) != 0);
  EXPECT(telemetry_peer_parse(slice_from("a}\n;b;c;d"), &p) != 0);
}

struct delta_seen {
  size_t n;
  uint64_t requests, slow;
};

static void on_delta(void *data, const struct telemetry_delta *d) {
  struct delta_seen *seen = data;
  seen->n++;
  seen->requests += d->requests;
  seen->slow += d->duration[STATS_NBUCKETS];
}

static int dirty_calls;
static void on_dirty(struct telemetry *t) {
  (void)t;
  dirty_calls++;
}

static void deltas_report_each_count_once(void) {
  setup();
  struct telemetry t = {0};
  t.on_dirty = on_dirty;
  dirty_calls = 0;
  struct telemetry_request r = {REPORTER_SOURCE,
                                &productpage,
                                &reviews_v2,
                                "reviews.default.svc.cluster.local",
                                200,
                                0,
                                12.5,
                                0,
                                0,
                                0,
                                NULL,
                                NULL,
                                NULL};
  struct telemetry_request slow = r;
  slow.duration_ms = 1e9; /* past Envoy's last bound: the overflow bucket */
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  ASSERT_INT_EQ(telemetry_record(&t, &slow), 0);
  EXPECT_INT_EQ(dirty_calls, 1); /* the first change after a report only */
  struct delta_seen seen = {0};
  EXPECT_INT_EQ(telemetry_take_deltas(&t, on_delta, &seen), 1);
  EXPECT_INT_EQ(seen.requests, 3);
  EXPECT_INT_EQ(seen.slow, 1);
  EXPECT_INT_EQ(t.dirty, 0);
  seen = (struct delta_seen){0};
  EXPECT_INT_EQ(telemetry_take_deltas(&t, on_delta, &seen), 0); /* nothing new: nothing sent */
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  EXPECT_INT_EQ(dirty_calls, 2);
  EXPECT_INT_EQ(telemetry_take_deltas(&t, on_delta, &seen), 1);
  EXPECT_INT_EQ(seen.requests, 1);
  EXPECT_INT_EQ(seen.slow, 0);
  telemetry_free(&t);
}

static void samples_are_bounded_and_oldest_first(void) {
  struct telemetry t = {0};
  struct rng rng;
  rng_seed(&rng, 3);
  size_t kept = 0;
  for (int i = 0; i < 1000; i++) {
    struct telemetry_sample *s = telemetry_sample_slot(&t, &rng);
    if (!s) continue;
    kept++;
    s->time_ms = i;
  }
  EXPECT_INT_GE(kept, TELEMETRY_SAMPLES);
  EXPECT_INT_LE(kept, 200); /* reservoir: about 20 * ln(1000/20) replacements, not one per request */
  struct telemetry_sample out[TELEMETRY_SAMPLES];
  ASSERT_INT_EQ(telemetry_take_samples(&t, out), TELEMETRY_SAMPLES);
  for (int i = 1; i < TELEMETRY_SAMPLES; i++) EXPECT(out[i - 1].time_ms <= out[i].time_ms);
  EXPECT(out[TELEMETRY_SAMPLES - 1].time_ms >= TELEMETRY_SAMPLES); /* later requests had their chance */
  EXPECT_INT_EQ(telemetry_take_samples(&t, out), 0);
}

/* The destination reports how the connection came in: mutual_tls with both principals, or none;
 * the two are separate series (confusion 10: "is mTLS actually on?"). */
static void destination_tells_mtls_from_plaintext(void) {
  setup();
  struct telemetry t = {0};
  t.enabled = 1;
  struct telemetry_request r = {REPORTER_DESTINATION,
                                &productpage,
                                &reviews_v2,
                                "reviews.default.svc.cluster.local",
                                200,
                                0,
                                1,
                                0,
                                0,
                                1,
                                "spiffe://cluster.local/ns/default/sa/bookinfo-productpage",
                                "spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
                                NULL};
  ASSERT_INT_EQ(telemetry_record(&t, &r), 0);
  struct telemetry_request plain = r;
  plain.mutual_tls = 0;
  plain.source_principal = plain.destination_principal = NULL;
  ASSERT_INT_EQ(telemetry_record(&t, &plain), 0);
  ASSERT_INT_EQ(telemetry_record(&t, &plain), 0);
  struct buf out = {0};
  const char *text = render(&t, &out);
  EXPECT_STR_CONTAINS(text, "source_principal=\"spiffe://cluster.local/ns/default/sa/bookinfo-productpage\"");
  EXPECT_STR_CONTAINS(text, "destination_principal=\"spiffe://cluster.local/ns/default/sa/bookinfo-reviews\"");
  EXPECT_STR_CONTAINS(text, "connection_security_policy=\"mutual_tls\"} 1\n");
  EXPECT_STR_CONTAINS(text, "connection_security_policy=\"none\"} 2\n");
  buf_free(&out);
  telemetry_free(&t);
}

TEST_CASES(TEST(counts_a_request_with_istios_labels), TEST(catch_all_names_its_cluster),
           TEST(destination_tells_mtls_from_plaintext), TEST(separates_series_by_code_flags_and_peer),
           TEST(peer_header_round_trips_and_refuses_injection), TEST(deltas_report_each_count_once),
           TEST(samples_are_bounded_and_oldest_first))
