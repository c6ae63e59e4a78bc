/* Tests for mesh/router.c on Istio's Bookinfo: the networking files' behaviours (all-v1, the
 * jason header, weighted splits), NR and NC, every match field, the ingress gateway's routes,
 * domains with and without port, and seeded repeatability.
 *
 * Statistical margin for the weighted splits: 10 000 picks per case; a destination with share p
 * must get n*p +- 5 standard deviations (5*sqrt(n*p*(1-p)), e.g. +-150 picks for 90/10). With
 * a fixed seed the outcome is deterministic anyway; the margin says the generator and the draw
 * are right, not lucky, and a 5-sigma miss by chance is about 1 in 1.7 million. */
#include <errno.h>
#include <math.h>

#include "bookinfo_world.h"

#define REVIEWS "reviews.default.svc.cluster.local"

/* ---- table: which subset a request reaches ------------------------------------------------------ */

struct subset_case {
  const char *file; /* networking file applied (besides destination-rule-all) */
  struct world_req req;
  enum router_verdict verdict;
  const char *cluster; /* expected cluster, NULL when none */
};

static const struct subset_case SUBSET_CASES[] = {
    /* virtual-service-all-v1: every service's v1, whoever asks */
    {"bookinfo-networking/virtual-service-all-v1.yaml",
     {.authority = "reviews:9080", .path = "/reviews/0"},
     ROUTER_ROUTE,
     "outbound|9080|v1|" REVIEWS},
    {"bookinfo-networking/virtual-service-all-v1.yaml",
     {.authority = "reviews:9080", .headers = {"end-user", "jason"}},
     ROUTER_ROUTE,
     "outbound|9080|v1|" REVIEWS},
    {"bookinfo-networking/virtual-service-all-v1.yaml",
     {.authority = "ratings:9080"},
     ROUTER_ROUTE,
     "outbound|9080|v1|ratings.default.svc.cluster.local"},
    {"bookinfo-networking/virtual-service-all-v1.yaml",
     {.authority = "details.default.svc.cluster.local:9080"},
     ROUTER_ROUTE,
     "outbound|9080|v1|details.default.svc.cluster.local"},
    /* reviews-test-v2: jason -> v2, others v1 */
    {"bookinfo-networking/virtual-service-reviews-test-v2.yaml",
     {.authority = "reviews:9080", .headers = {"end-user", "jason"}},
     ROUTER_ROUTE,
     "outbound|9080|v2|" REVIEWS},
    {"bookinfo-networking/virtual-service-reviews-test-v2.yaml",
     {.authority = "reviews:9080", .headers = {"End-User", "jason"}},
     ROUTER_ROUTE,
     "outbound|9080|v2|" REVIEWS},
    {"bookinfo-networking/virtual-service-reviews-test-v2.yaml",
     {.authority = "reviews:9080", .headers = {"end-user", "Jason"}},
     ROUTER_ROUTE,
     "outbound|9080|v1|" REVIEWS},
    {"bookinfo-networking/virtual-service-reviews-test-v2.yaml",
     {.authority = "reviews:9080", .headers = {"end-user", "jasonx"}},
     ROUTER_ROUTE,
     "outbound|9080|v1|" REVIEWS},
    {"bookinfo-networking/virtual-service-reviews-test-v2.yaml",
     {.authority = "reviews:9080"},
     ROUTER_ROUTE,
     "outbound|9080|v1|" REVIEWS},
    /* jason-v2-v3: jason -> v2, others v3 */
    {"bookinfo-networking/virtual-service-reviews-jason-v2-v3.yaml",
     {.authority = "reviews:9080", .headers = {"end-user", "jason"}},
     ROUTER_ROUTE,
     "outbound|9080|v2|" REVIEWS},
    {"bookinfo-networking/virtual-service-reviews-jason-v2-v3.yaml",
     {.authority = "reviews:9080", .headers = {"end-user", "alice"}},
     ROUTER_ROUTE,
     "outbound|9080|v3|" REVIEWS},
    /* reviews-v3 alone; ratings has no VirtualService there: the default route, subsetless */
    {"bookinfo-networking/virtual-service-reviews-v3.yaml",
     {.authority = "reviews"},
     ROUTER_ROUTE,
     "outbound|9080|v3|" REVIEWS},
    {"bookinfo-networking/virtual-service-reviews-v3.yaml",
     {.authority = "ratings"},
     ROUTER_ROUTE,
     "outbound|9080||ratings.default.svc.cluster.local"},
    /* ratings-db: subset v2 exists in the DestinationRule but no workload has it: routed to an
     * empty cluster (503 UH later, not NC) */
    {"bookinfo-networking/virtual-service-ratings-db.yaml",
     {.authority = "ratings:9080"},
     ROUTER_ROUTE,
     "outbound|9080|v2|ratings.default.svc.cluster.local"},
    /* unknown host, wrong port: no vhost, so Istio's catch-all (ALLOW_ANY by default) */
    {"bookinfo-networking/virtual-service-all-v1.yaml", {.authority = "nosuch:9080"}, ROUTER_PASSTHROUGH, NULL},
    {"bookinfo-networking/virtual-service-all-v1.yaml", {.authority = "reviews:9999"}, ROUTER_PASSTHROUGH, NULL},
    {"bookinfo-networking/virtual-service-all-v1.yaml", {.authority = "reviews.other:9080"}, ROUTER_PASSTHROUGH, NULL},
};

static void subset_routing_follows_bookinfo_files(void) {
  for (size_t i = 0; i < sizeof SUBSET_CASES / sizeof SUBSET_CASES[0]; i++) {
    const struct subset_case *c = &SUBSET_CASES[i];
    struct world w;
    const char *files[] = {c->file, NULL};
    if (world_init(&w, files, NULL)) {
      world_free(&w);
      return;
    }
    struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
    if (!cfg) {
      world_free(&w);
      return;
    }
    struct rng rng;
    rng_seed(&rng, 1);
    struct route_decision d;
    enum router_verdict v = world_route(cfg, &c->req, &rng, &d);
    if (v != c->verdict || (c->cluster && (!d.cluster || strcmp(d.cluster->name, c->cluster) != 0)))
      test_fail(__FILE__, __LINE__, "case %zu (%s, %s): got %s %s (%s), want %s %s", i, c->file, c->req.authority,
                router_verdict_name(v), d.cluster ? d.cluster->name : "-", d.why, router_verdict_name(c->verdict),
                c->cluster ? c->cluster : "-");
    proxy_config_free(cfg);
    world_free(&w);
  }
}

/* ---- weighted splits ---------------------------------------------------------------------------- */

struct split_case {
  const char *file;
  const char *subsets[2];
  double shares[2];
};

static const struct split_case SPLITS[] = {
    {"bookinfo-networking/virtual-service-reviews-90-10.yaml", {"v1", "v2"}, {0.9, 0.1}},
    {"bookinfo-networking/virtual-service-reviews-80-20.yaml", {"v1", "v2"}, {0.8, 0.2}},
    {"bookinfo-networking/virtual-service-reviews-50-v3.yaml", {"v1", "v3"}, {0.5, 0.5}},
    {"bookinfo-networking/virtual-service-reviews-v2-v3.yaml", {"v2", "v3"}, {0.5, 0.5}},
};

static void weighted_splits_match_weights(void) {
  enum { N = 10000 };
  for (size_t i = 0; i < sizeof SPLITS / sizeof SPLITS[0]; i++) {
    const struct split_case *c = &SPLITS[i];
    struct world w;
    const char *files[] = {c->file, NULL};
    if (world_init(&w, files, NULL)) {
      world_free(&w);
      return;
    }
    struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
    ASSERT(cfg);
    struct rng rng;
    rng_seed(&rng, 42 + i);
    int counts[2] = {0, 0}, other = 0;
    for (int k = 0; k < N; k++) {
      struct route_decision d;
      struct world_req req = {.authority = "reviews:9080", .path = "/reviews/1"};
      if (world_route(cfg, &req, &rng, &d) != ROUTER_ROUTE) {
        other++;
        continue;
      }
      if (strcmp(d.cluster->subset, c->subsets[0]) == 0) counts[0]++;
      else if (strcmp(d.cluster->subset, c->subsets[1]) == 0) counts[1]++;
      else other++;
    }
    EXPECT_INT_EQ(other, 0);
    for (int s = 0; s < 2; s++) {
      double p = c->shares[s], margin = 5 * sqrt(N * p * (1 - p));
      if (fabs(counts[s] - N * p) > margin)
        test_fail(__FILE__, __LINE__, "%s: %s got %d of %d, want %.0f +- %.0f", c->file, c->subsets[s], counts[s], N,
                  N * p, margin);
    }
    proxy_config_free(cfg);
    world_free(&w);
  }
}

static void same_seed_gives_same_picks(void) {
  struct world w;
  const char *files[] = {"bookinfo-networking/virtual-service-reviews-80-20.yaml", NULL};
  if (world_init(&w, files, NULL)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  struct rng a, b, c;
  rng_seed(&a, 7);
  rng_seed(&b, 7);
  rng_seed(&c, 8);
  int same = 1, differs = 0;
  for (int k = 0; k < 200; k++) {
    struct route_decision da, db, dc;
    struct world_req req = {.authority = "reviews:9080"};
    world_route(cfg, &req, &a, &da);
    world_route(cfg, &req, &b, &db);
    world_route(cfg, &req, &c, &dc);
    same &= da.cluster == db.cluster && da.draw == db.draw;
    differs |= da.cluster != dc.cluster;
  }
  EXPECT(same);
  EXPECT(differs);
  proxy_config_free(cfg);
  world_free(&w);
}

/* ---- no such subset: NC ---------------------------------------------------------------------- */

static void missing_subset_is_no_cluster(void) {
  static const char yaml[] =
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: reviews}\n"
      "spec:\n"
      "  hosts: [reviews]\n"
      "  http:\n"
      "  - route:\n"
      "    - destination: {host: reviews, subset: v9}\n"
      "---\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: nowhere}\n"
      "spec:\n"
      "  hosts: [details]\n"
      "  http:\n"
      "  - route:\n"
      "    - destination: {host: nosuch, port: {number: 80}}\n";
  struct world w;
  if (world_init(&w, NULL, yaml)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  struct rng rng;
  rng_seed(&rng, 1);
  struct route_decision d;
  struct world_req req = {.authority = "reviews:9080"};
  EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_NO_CLUSTER);
  EXPECT_STR_EQ(router_verdict_flag(d.verdict), "NC");
  EXPECT_INT_EQ(router_verdict_status(d.verdict), 503);
  EXPECT(d.route && d.route->vs_name && strcmp(d.route->vs_name, "reviews") == 0);
  EXPECT_STR_CONTAINS(d.why, "outbound|9080|v9|" REVIEWS);
  EXPECT_STR_CONTAINS(d.why, "defines no subset v9");
  req = (struct world_req){.authority = "details"};
  EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_NO_CLUSTER);
  EXPECT_STR_CONTAINS(d.why, "no Service or ServiceEntry for host nosuch.default.svc.cluster.local");
  req = (struct world_req){.authority = "unknown.example.com"};
  EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_PASSTHROUGH);
  EXPECT(router_verdict_flag(d.verdict) == NULL);
  EXPECT_INT_EQ(router_verdict_status(d.verdict), 0);
  proxy_config_free(cfg);
  world_free(&w);
}

/* ---- every match field ------------------------------------------------------------------------ */

/* One VirtualService on details with a rule per match field; each rule routes to a distinct
 * subset name so the test can see which rule won (subsets m0..m9 defined on details). */
static const char MATCH_YAML[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: details-match, namespace: default}\n"
    "spec:\n"
    "  host: details\n"
    "  subsets:\n"
    "  - {name: exact, labels: {app: details}}\n"
    "  - {name: prefix, labels: {app: details}}\n"
    "  - {name: regex, labels: {app: details}}\n"
    "  - {name: nocase, labels: {app: details}}\n"
    "  - {name: query, labels: {app: details}}\n"
    "  - {name: method, labels: {app: details}}\n"
    "  - {name: hprefix, labels: {app: details}}\n"
    "  - {name: hregex, labels: {app: details}}\n"
    "  - {name: without, labels: {app: details}}\n"
    "  - {name: source, labels: {app: details}}\n"
    "  - {name: port, labels: {app: details}}\n"
    "  - {name: present, labels: {app: details}}\n"
    "  - {name: authority, labels: {app: details}}\n"
    "  - {name: fallback, labels: {app: details}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: details}\n"
    "spec:\n"
    "  hosts: [details]\n"
    "  http:\n"
    "  - match: [{uri: {exact: /exact}}]\n"
    "    route: [{destination: {host: details, subset: exact}}]\n"
    "  - match: [{uri: {prefix: /pre}}]\n"
    "    route: [{destination: {host: details, subset: prefix}}]\n"
    "  - match: [{uri: {regex: '/re/[0-9]+'}}]\n"
    "    route: [{destination: {host: details, subset: regex}}]\n"
    "  - match: [{uri: {exact: /NoCase}, ignoreUriCase: true}]\n"
    "    route: [{destination: {host: details, subset: nocase}}]\n"
    "  - match: [{queryParams: {user: {exact: bob}}}]\n"
    "    route: [{destination: {host: details, subset: query}}]\n"
    "  - match: [{method: {exact: DELETE}}]\n"
    "    route: [{destination: {host: details, subset: method}}]\n"
    "  - match: [{headers: {x-team: {prefix: blue}}}]\n"
    "    route: [{destination: {host: details, subset: hprefix}}]\n"
    "  - match: [{headers: {x-build: {regex: 'v[0-9]+\\.[0-9]+'}}}]\n"
    "    route: [{destination: {host: details, subset: hregex}}]\n"
    "  - match: [{uri: {prefix: /without}, withoutHeaders: {x-debug: {}}}]\n"
    "    route: [{destination: {host: details, subset: without}}]\n"
    "  - match: [{sourceLabels: {app: reviews, version: v2}}]\n"
    "    route: [{destination: {host: details, subset: source}}]\n"
    "  - match: [{port: 9999}, {uri: {prefix: /port}, port: 9080}]\n"
    "    route: [{destination: {host: details, subset: port}}]\n"
    "  - match: [{headers: {x-canary: {}}}]\n"
    "    route: [{destination: {host: details, subset: present}}]\n"
    "  - match: [{authority: {prefix: details.default}}]\n"
    "    route: [{destination: {host: details, subset: authority}}]\n"
    "  - route: [{destination: {host: details, subset: fallback}}]\n";

static const struct resource_map_entry REVIEWS_V2_LABELS[] = {{(char *)"app", (char *)"reviews"},
                                                              {(char *)"version", (char *)"v2"}};
static const struct resource_map REVIEWS_V2 = {(struct resource_map_entry *)REVIEWS_V2_LABELS, 2};

struct match_case {
  struct world_req req;
  const char *subset;
};

static const struct match_case MATCH_CASES[] = {
    {{.authority = "details", .path = "/exact"}, "exact"},
    {{.authority = "details", .path = "/exact?x=1"}, "exact"}, /* exact ignores the query */
    {{.authority = "details", .path = "/exact/more"}, "fallback"},
    {{.authority = "details", .path = "/Exact"}, "fallback"}, /* case matters without ignoreUriCase */
    {{.authority = "details", .path = "/prefix/a"}, "prefix"},
    {{.authority = "details", .path = "/re/123"}, "regex"},
    {{.authority = "details", .path = "/re/12a"}, "fallback"}, /* the regex must match the whole path */
    {{.authority = "details", .path = "/re/123?q=1"}, "regex"},
    {{.authority = "details", .path = "/nocase"}, "nocase"},
    {{.authority = "details", .path = "/NOCASE"}, "nocase"},
    {{.authority = "details", .path = "/a?user=bob"}, "query"},
    {{.authority = "details", .path = "/a?x=1&user=bob&y"}, "query"},
    {{.authority = "details", .path = "/a?user=bobby"}, "fallback"},
    {{.authority = "details", .path = "/a?username=bob"}, "fallback"},
    {{.authority = "details", .path = "/a", .method = "DELETE"}, "method"},
    {{.authority = "details", .path = "/a", .headers = {"x-team", "blue-42"}}, "hprefix"},
    {{.authority = "details", .path = "/a", .headers = {"x-team", "red"}}, "fallback"},
    {{.authority = "details", .path = "/a", .headers = {"x-build", "v1.25"}}, "hregex"},
    {{.authority = "details", .path = "/a", .headers = {"x-build", "v1.25-rc"}}, "fallback"},
    {{.authority = "details", .path = "/without"}, "without"},
    {{.authority = "details", .path = "/without", .headers = {"x-debug", "1"}}, "fallback"},
    {{.authority = "details", .path = "/a", .source_labels = &REVIEWS_V2}, "source"},
    {{.authority = "details", .path = "/a"}, "fallback"}, /* productpage's own labels: no */
    {{.authority = "details:9080", .path = "/port"}, "port"},
    {{.authority = "details", .path = "/a", .headers = {"x-canary", ""}}, "present"},
    {{.authority = "details.default:9080", .path = "/a"}, "authority"},
    {{.authority = "details.default.svc.cluster.local", .path = "/a"}, "authority"},
};

static void match_fields(void) {
  struct world w;
  if (world_init(&w, NULL, MATCH_YAML)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  struct rng rng;
  rng_seed(&rng, 3);
  for (size_t i = 0; i < sizeof MATCH_CASES / sizeof MATCH_CASES[0]; i++) {
    const struct match_case *c = &MATCH_CASES[i];
    struct route_decision d;
    enum router_verdict v = world_route(cfg, &c->req, &rng, &d);
    if (v != ROUTER_ROUTE || !d.cluster || !d.cluster->subset || strcmp(d.cluster->subset, c->subset) != 0)
      test_fail(__FILE__, __LINE__, "case %zu (%s %s): got %s %s (%s), want %s", i, c->req.authority, c->req.path,
                router_verdict_name(v), d.cluster && d.cluster->subset ? d.cluster->subset : "-", d.why, c->subset);
  }
  /* The decision names the rule and the match block. */
  struct route_decision d;
  struct world_req req = {.authority = "details", .path = "/port"};
  world_route(cfg, &req, &rng, &d);
  EXPECT_INT_EQ(d.route->rule, 10);
  EXPECT_INT_EQ(d.match_index, 1);
  EXPECT_STR_CONTAINS(d.why, "VirtualService default/details http[10] match[1]");
  proxy_config_free(cfg);
  world_free(&w);
}

static void no_rule_matches_is_no_route(void) {
  static const char yaml[] =
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata: {name: reviews}\n"
      "spec:\n"
      "  hosts: [reviews]\n"
      "  http:\n"
      "  - match: [{headers: {end-user: {exact: jason}}}]\n"
      "    route: [{destination: {host: reviews, subset: v2}}]\n";
  struct world w;
  if (world_init(&w, NULL, yaml)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  struct rng rng;
  rng_seed(&rng, 1);
  struct route_decision d;
  struct world_req req = {.authority = "reviews:9080"};
  EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_NO_ROUTE);
  EXPECT(d.vhost != NULL);
  EXPECT_STR_CONTAINS(d.why, "none of 1 rules matched");
  proxy_config_free(cfg);
  world_free(&w);
}

/* ---- domains -------------------------------------------------------------------------------- */

static void domains_with_and_without_port(void) {
  struct world w;
  if (world_init(&w, NULL, NULL)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  static const char *const same[] = {"reviews",
                                     "reviews:9080",
                                     "REVIEWS:9080",
                                     "reviews.default",
                                     "reviews.default:9080",
                                     "reviews.default.svc",
                                     "reviews.default.svc:9080",
                                     REVIEWS,
                                     REVIEWS ":9080",
                                     REVIEWS ".",
                                     "Reviews.Default.Svc.Cluster.Local:9080"};
  struct rng rng;
  rng_seed(&rng, 1);
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    struct route_decision d;
    struct world_req req = {.authority = same[i]};
    enum router_verdict v = world_route(cfg, &req, &rng, &d);
    if (v != ROUTER_ROUTE || strcmp(d.cluster->name, "outbound|9080||" REVIEWS) != 0)
      test_fail(__FILE__, __LINE__, "%s: %s (%s)", same[i], router_verdict_name(v), d.why);
  }
  /* Not reviews' domains: no vhost, so the outbound catch-all takes them. */
  static const char *const other[] = {"reviews:80", "reviews.default.svc.cluster", "review",
                                      "reviews.default.svc.cluster.local.x"};
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    struct route_decision d;
    struct world_req req = {.authority = other[i]};
    if (world_route(cfg, &req, &rng, &d) != ROUTER_PASSTHROUGH || d.vhost)
      test_fail(__FILE__, __LINE__, "%s: %s", other[i], d.why);
  }
  proxy_config_free(cfg);
  world_free(&w);
}

/* A mesh of many services: every one is found, in constant time per lookup (hash by host). */
static void many_services_are_all_found(void) {
  struct world w;
  enum { N = 300 };
  size_t cap = N * 200 + 1;
  char *yaml = malloc(cap);
  ASSERT(yaml);
  size_t len = 0;
  for (int i = 0; i < N; i++)
    len += (size_t)snprintf(yaml + len, cap - len,
                            "apiVersion: v1\nkind: Service\nmetadata: {name: svc%d}\nspec:\n  selector: {app: svc%d}\n"
                            "  ports: [{port: %d, name: http}]\n---\n",
                            i, i, 8000 + i % 7);
  int rc = world_init(&w, NULL, yaml);
  free(yaml);
  if (rc) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  const struct xds_route_config *rc0 = proxy_config_route_config(cfg, "outbound");
  ASSERT(rc0);
  EXPECT_INT_EQ(rc0->vhosts_len, N + 4);
  struct rng rng;
  rng_seed(&rng, 1);
  for (int i = 0; i < N; i++) {
    char auth[64], want[128];
    snprintf(auth, sizeof auth, "svc%d.default:%d", i, 8000 + i % 7);
    snprintf(want, sizeof want, "outbound|%d||svc%d.default.svc.cluster.local", 8000 + i % 7, i);
    struct route_decision d;
    struct world_req req = {.authority = auth};
    if (world_route(cfg, &req, &rng, &d) != ROUTER_ROUTE || strcmp(d.cluster->name, want) != 0) {
      test_fail(__FILE__, __LINE__, "%s: %s", auth, d.why);
      break;
    }
  }
  proxy_config_free(cfg);
  world_free(&w);
}

/* ---- the gateway ------------------------------------------------------------------------------ */

static void gateway_routes_apply_only_at_the_gateway(void) {
  struct world w;
  const char *files[] = {"bookinfo-networking/bookinfo-gateway.yaml", NULL};
  if (world_init(&w, files, NULL)) {
    world_free(&w);
    return;
  }
  struct compile_input in = world_input(&w);
  static const struct resource_map_entry gl[] = {{(char *)"istio", (char *)"ingressgateway"}};
  struct resource_map labels = {(struct resource_map_entry *)gl, 1};
  struct proxy_config *gw = NULL;
  ASSERT_INT_EQ(compile_gateway(&w.st, &in, "istio-system", "istio-ingressgateway", &labels, &gw, &w.diags), 0);
  struct rng rng;
  rng_seed(&rng, 1);
  static const struct {
    const char *path;
    enum router_verdict v;
  } cases[] = {
      {"/productpage", ROUTER_ROUTE},
      {"/productpage?u=normal", ROUTER_ROUTE},
      {"/static/img/a.png", ROUTER_ROUTE},
      {"/login", ROUTER_ROUTE},
      {"/logout", ROUTER_ROUTE},
      {"/api/v1/products", ROUTER_ROUTE},
      {"/api/v1/products/0/reviews", ROUTER_ROUTE},
      {"/", ROUTER_NO_ROUTE},
      {"/productpage/x", ROUTER_NO_ROUTE},
      {"/login2", ROUTER_NO_ROUTE},
  };
  /* bookinfo-gateway.yaml's server listens on 8080 (Istio's current sample). */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct route_decision d;
    struct world_req req = {.authority = "127.0.0.1:8080", .path = cases[i].path, .port = 8080};
    enum router_verdict v = world_route(gw, &req, &rng, &d);
    if (v != cases[i].v ||
        (v == ROUTER_ROUTE && strcmp(d.cluster->name, "outbound|9080||productpage.default.svc.cluster.local") != 0))
      test_fail(__FILE__, __LINE__, "gateway %s: %s (%s)", cases[i].path, router_verdict_name(v), d.why);
  }
  struct route_decision d;
  struct world_req req = {.authority = "bookinfo.example.com", .path = "/productpage", .port = 8080};
  EXPECT_INT_EQ(world_route(gw, &req, &rng, &d), ROUTER_ROUTE);
  EXPECT_STR_CONTAINS(d.why, "VirtualService default/bookinfo http[0] match[0]");
  req.port = 9999; /* no server on that port */
  EXPECT_INT_EQ(world_route(gw, &req, &rng, &d), ROUTER_NO_ROUTE);

  /* At a sidecar the gateway-bound VirtualService does not apply: productpage's default route. */
  struct proxy_config *sc = world_sidecar(&w, NULL, "reviews-v1");
  ASSERT(sc);
  req = (struct world_req){.authority = "productpage:9080", .path = "/anything"};
  EXPECT_INT_EQ(world_route(sc, &req, &rng, &d), ROUTER_ROUTE);
  EXPECT(d.route && d.route->vs_name == NULL);
  proxy_config_free(sc);
  proxy_config_free(gw);
  world_free(&w);
}

static void inbound_routes_to_the_local_app(void) {
  struct world w;
  if (world_init(&w, NULL, NULL)) {
    world_free(&w);
    return;
  }
  struct compile_input in = world_input(&w);
  struct proxy_config *cfg = NULL;
  ASSERT_INT_EQ(
      compile_sidecar(&w.st, &in, "default", "reviews-v2", "unix:/tmp/lab/reviews-v2-0/app.sock", &cfg, &w.diags), 0);
  struct rng rng;
  rng_seed(&rng, 1);
  struct route_decision d;
  struct world_req req = {.authority = "reviews:9080", .path = "/reviews/0", .port = 9080, .direction = XDS_INBOUND};
  ASSERT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_ROUTE);
  EXPECT_STR_EQ(d.cluster->name, "inbound|9080||");
  EXPECT_STR_EQ(d.cluster->endpoints[0].address, "unix:/tmp/lab/reviews-v2-0/app.sock");
  req.port = 9081;
  EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_NO_ROUTE);
  proxy_config_free(cfg);
  world_free(&w);
}

/* outboundTrafficPolicy: a host no vhost serves is passed through (ALLOW_ANY, the default) or
 * answered 502 without a flag (REGISTRY_ONLY); known hosts, unmatched rules, inbound listeners
 * and gateways are not touched. */
static void outbound_traffic_policy_catch_all(void) {
  struct world w;
  const char *files[] = {"bookinfo-networking/bookinfo-gateway.yaml", NULL};
  if (world_init(&w, files, NULL)) {
    world_free(&w);
    return;
  }
  struct rng rng;
  rng_seed(&rng, 1);
  struct route_decision d;
  static const enum xds_outbound_policy modes[] = {XDS_OUTBOUND_POLICY_NONE, XDS_OUTBOUND_POLICY_ALLOW_ANY,
                                                   XDS_OUTBOUND_POLICY_REGISTRY_ONLY};
  for (size_t m = 0; m < 3; m++) {
    struct compile_input in = world_input(&w);
    in.outbound_policy = modes[m];
    bool blocks = modes[m] == XDS_OUTBOUND_POLICY_REGISTRY_ONLY;
    struct proxy_config *cfg = NULL;
    ASSERT_INT_EQ(compile_sidecar(&w.st, &in, "default", "productpage-v1", NULL, &cfg, &w.diags), 0);
    EXPECT_INT_EQ(proxy_config_listener(cfg, XDS_OUTBOUND, 0)->outbound_policy,
                  blocks ? XDS_OUTBOUND_POLICY_REGISTRY_ONLY : XDS_OUTBOUND_POLICY_ALLOW_ANY);
    struct world_req req = {.authority = "127.0.0.1:8000"};
    EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), blocks ? ROUTER_BLACKHOLE : ROUTER_PASSTHROUGH);
    EXPECT(d.vhost == NULL && d.cluster == NULL);
    EXPECT(router_verdict_flag(d.verdict) == NULL);
    EXPECT_INT_EQ(router_verdict_status(d.verdict), blocks ? 502 : 0);
    EXPECT_STR_CONTAINS(d.why, blocks ? "block_all" : "allow_any");
    EXPECT_STR_CONTAINS(d.why, blocks ? "BlackHoleCluster" : "PassthroughCluster");
    req = (struct world_req){.authority = "reviews:9080"};
    EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_ROUTE);
    /* Inbound: the workload's own port answers whatever the Host says. */
    req = (struct world_req){.authority = "www.example.com", .direction = XDS_INBOUND, .port = 9080};
    EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_ROUTE);
    proxy_config_free(cfg);
    /* Gateways never pass through: an unknown host stays 404 NR. */
    static const struct resource_map_entry gl[] = {{(char *)"istio", (char *)"ingressgateway"}};
    struct resource_map labels = {(struct resource_map_entry *)gl, 1};
    struct proxy_config *gw = NULL;
    ASSERT_INT_EQ(compile_gateway(&w.st, &in, "istio-system", "istio-ingressgateway", &labels, &gw, &w.diags), 0);
    req = (struct world_req){.authority = "www.example.com", .path = "/productpage", .port = 8080};
    EXPECT_INT_EQ(world_route(gw, &req, &rng, &d), ROUTER_ROUTE); /* the Gateway's hosts: "*" */
    req = (struct world_req){.authority = "www.example.com", .path = "/nowhere", .port = 8080};
    EXPECT_INT_EQ(world_route(gw, &req, &rng, &d), ROUTER_NO_ROUTE);
    req = (struct world_req){.authority = "www.example.com", .path = "/productpage", .port = 9999};
    EXPECT_INT_EQ(world_route(gw, &req, &rng, &d), ROUTER_NO_ROUTE);
    for (size_t i = 0; i < gw->route_configs_len; i++)
      EXPECT_INT_EQ(gw->route_configs[i].outbound_policy, XDS_OUTBOUND_POLICY_NONE);
    proxy_config_free(gw);
  }
  world_free(&w);
}

/* The passthrough destination is the authority, port 80 when it names none. */
static void original_destination_is_the_authority(void) {
  static const struct {
    const char *authority, *want; /* want NULL: refused */
  } cases[] = {
      {"127.0.0.1:8000", "127.0.0.1:8000"},
      {"127.0.0.1", "127.0.0.1:80"},
      {"[::1]:8443", "[::1]:8443"},
      {"[::1]", "[::1]:80"},
      {"localhost:9", "localhost:9"},
      {"api.example.com", "api.example.com:80"},
      {"", NULL},
      {":8080", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[64] = "";
    int rc = router_original_destination(slice_from(cases[i].authority), out, sizeof out);
    if (cases[i].want ? rc != 0 || strcmp(out, cases[i].want) != 0 : rc != -EINVAL)
      test_fail(__FILE__, __LINE__, "\"%s\": rc %d \"%s\", want %s", cases[i].authority, rc, out,
                cases[i].want ? cases[i].want : "-EINVAL");
  }
  char tiny[8];
  EXPECT_INT_EQ(router_original_destination(slice_from("127.0.0.1:8000"), tiny, sizeof tiny), -EINVAL);
}

TEST_CASES(TEST(subset_routing_follows_bookinfo_files), TEST(weighted_splits_match_weights),
           TEST(same_seed_gives_same_picks), TEST(missing_subset_is_no_cluster), TEST(match_fields),
           TEST(no_rule_matches_is_no_route), TEST(domains_with_and_without_port), TEST(many_services_are_all_found),
           TEST(gateway_routes_apply_only_at_the_gateway), TEST(inbound_routes_to_the_local_app),
           TEST(outbound_traffic_policy_catch_all), TEST(original_destination_is_the_authority))
