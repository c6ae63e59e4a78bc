/* Tests for mesh/compile.c and compile_json.c: Istio's cluster names and endpoints for Bookinfo,
 * the domain set of a virtual host (and the short name only within the namespace), the
 * DestinationRule policy merge (service, port level, subset) and lookup order, the gateway's
 * route configs, regexes, and the JSON round trip with errors that name the field path. The
 * policies a proxy gets (EnvoyFilter rate limits, RequestAuthentication, AuthorizationPolicy,
 * mTLS modes) are in test_compile_policy.c. */
#include <errno.h>

#include "bookinfo_world.h"
#include "mesh/breaker.h"
#include "mesh/fault.h"
#include "mesh/outlier.h"
#include "mesh/retry.h"

#define REVIEWS "reviews.default.svc.cluster.local"

static void clusters_and_endpoints(void) {
  struct world w;
  if (world_init(&w, NULL, NULL)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  static const struct {
    const char *name;
    size_t endpoints;
    const char *first;
  } want[] = {
      {"outbound|9080||" REVIEWS, 3, "127.1.0.4"},
      {"outbound|9080|v1|" REVIEWS, 1, "127.1.0.4"},
      {"outbound|9080|v2|" REVIEWS, 1, "127.1.0.5"},
      {"outbound|9080|v3|" REVIEWS, 1, "127.1.0.6"},
      {"outbound|9080|v2-mysql|ratings.default.svc.cluster.local", 0, NULL},
      {"outbound|9080||productpage.default.svc.cluster.local", 1, "127.1.0.2"},
      {"inbound|9080||", 1, "127.0.0.1"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const struct xds_cluster *c = proxy_config_cluster(cfg, want[i].name);
    if (!c) {
      test_fail(__FILE__, __LINE__, "no cluster %s", want[i].name);
      continue;
    }
    EXPECT_INT_EQ(c->endpoints_len, want[i].endpoints);
    if (want[i].first) {
      EXPECT_STR_EQ(c->endpoints[0].address, want[i].first);
      EXPECT_INT_EQ(c->endpoints[0].port, 9080);
    }
  }
  const struct xds_cluster *v2 = proxy_config_cluster(cfg, "outbound|9080|v2|" REVIEWS);
  ASSERT(v2);
  EXPECT_STR_EQ(v2->endpoints[0].replica, "reviews-v2-0");
  EXPECT_STR_EQ(v2->endpoints[0].workload, "reviews-v2");
  EXPECT_STR_EQ(resource_map_get(&v2->endpoints[0].labels, "version"), "v2");
  EXPECT_STR_EQ(v2->subset, "v2");
  EXPECT_STR_EQ(v2->service, REVIEWS);
  EXPECT_INT_EQ(v2->policy.load_balancer.simple, RESOURCE_LB_LEAST_REQUEST); /* Istio's default */
  EXPECT_STR_EQ(v2->policy.source, "DestinationRule default/reviews (subset v2)");
  /* 4 services x (1 + subsets: productpage 1, reviews 3, ratings 4, details 2) + inbound = 15 */
  EXPECT_INT_EQ(cfg->clusters_len, 15);
  EXPECT(proxy_config_cluster(cfg, "outbound|9080|v9|" REVIEWS) == NULL);
  proxy_config_free(cfg);
  world_free(&w);
}

static void domains_follow_istio(void) {
  static const char yaml[] =
      "apiVersion: apps/v1\n"
      "kind: Deployment\n"
      "metadata: {name: sleep, namespace: test}\n"
      "spec:\n"
      "  selector: {matchLabels: {app: sleep}}\n"
      "  template:\n"
      "    metadata: {labels: {app: sleep}}\n"
      "    spec: {containers: [{name: sleep, image: curlimages/curl}]}\n";
  struct world w;
  if (world_init(&w, NULL, yaml)) {
    world_free(&w);
    return;
  }
  struct proxy_config *pp = world_sidecar(&w, NULL, "productpage-v1");
  struct proxy_config *sl = world_sidecar(&w, "test", "sleep");
  ASSERT(pp && sl);
  EXPECT(sl->version == pp->version + 1);
  const struct xds_route_config *rc = proxy_config_route_config(pp, "outbound");
  ASSERT(rc);
  const struct xds_vhost *vh = NULL;
  for (size_t i = 0; i < rc->vhosts_len; i++)
    if (strcmp(rc->vhosts[i].name, REVIEWS ":9080") == 0) vh = &rc->vhosts[i];
  ASSERT(vh);
  static const char *const want[] = {REVIEWS,           REVIEWS ":9080",       "reviews",
                                     "reviews:9080",    "reviews.default.svc", "reviews.default.svc:9080",
                                     "reviews.default", "reviews.default:9080"};
  ASSERT_INT_EQ(vh->domains_len, 8);
  for (size_t i = 0; i < 8; i++) EXPECT_STR_EQ(vh->domains[i], want[i]);
  /* From another namespace, "reviews" would mean reviews.test: no short name. */
  rc = proxy_config_route_config(sl, "outbound");
  ASSERT(rc);
  struct rng rng;
  rng_seed(&rng, 1);
  struct route_decision d;
  struct world_req req = {.authority = "reviews:9080"};
  /* Not a domain here: only the catch-all takes it (ALLOW_ANY, the default: passthrough). */
  EXPECT_INT_EQ(world_route(sl, &req, &rng, &d), ROUTER_PASSTHROUGH);
  req.authority = "reviews.default:9080";
  EXPECT_INT_EQ(world_route(sl, &req, &rng, &d), ROUTER_ROUTE);
  /* sleep is selected by no Service: no inbound route configs. */
  EXPECT_INT_EQ(sl->route_configs_len, 1);
  struct compile_input in = world_input(&w);
  EXPECT_INT_EQ(compile_sidecar(&w.st, &in, "default", "nosuch", NULL, &(struct proxy_config *){NULL}, NULL), -ENOENT);
  proxy_config_free(pp);
  proxy_config_free(sl);
  world_free(&w);
}

/* Service-level policy, a port-level override, a subset override, and a DestinationRule in the
 * client's namespace taking precedence over the service's. */
static const char POLICY_YAML[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: reviews-policy, namespace: default}\n"
    "spec:\n"
    "  host: reviews.default.svc.cluster.local\n"
    "  trafficPolicy:\n"
    "    loadBalancer: {simple: ROUND_ROBIN}\n"
    "    connectionPool:\n"
    "      tcp: {maxConnections: 10}\n"
    "      http: {http1MaxPendingRequests: 5, maxRequestsPerConnection: 1}\n"
    "    outlierDetection: {consecutive5xxErrors: 3, baseEjectionTime: 1s}\n"
    "    portLevelSettings:\n"
    "    - port: {number: 9080}\n"
    "      connectionPool: {tcp: {maxConnections: 20}}\n"
    "  subsets:\n"
    "  - name: v1\n"
    "    labels: {version: v1}\n"
    "  - name: v3\n"
    "    labels: {version: v3}\n"
    "    trafficPolicy:\n"
    "      loadBalancer:\n"
    "        consistentHash: {httpHeaderName: x-user}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: ratings-client, namespace: test}\n"
    "spec:\n"
    "  host: ratings.default.svc.cluster.local\n"
    "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"
    "---\n"
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: sleep, namespace: test}\n"
    "spec:\n"
    "  selector: {matchLabels: {app: sleep}}\n"
    "  template:\n"
    "    metadata: {labels: {app: sleep}}\n"
    "    spec: {containers: [{name: sleep, image: curlimages/curl}]}\n";

static void policies_merge_like_istio(void) {
  struct world w;
  /* Without destination-rule-all's "reviews" rule: this file's rule is the only one for reviews. */
  memset(&w, 0, sizeof w);
  resource_list_init(&w.list);
  diag_list_init(&w.diags);
  w.reg = registry_new();
  if (world_file(&w, "bookinfo-platform/bookinfo.yaml") || world_parse(&w, POLICY_YAML, "policy.yaml")) {
    world_free(&w);
    return;
  }
  ASSERT_INT_EQ(registry_sync(w.reg, w.list.items, w.list.len), 0);
  ASSERT(registry_assign_addresses(w.reg, "127.1.0.1") > 0);
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  const struct xds_cluster *all = proxy_config_cluster(cfg, "outbound|9080||" REVIEWS);
  const struct xds_cluster *v1 = proxy_config_cluster(cfg, "outbound|9080|v1|" REVIEWS);
  const struct xds_cluster *v3 = proxy_config_cluster(cfg, "outbound|9080|v3|" REVIEWS);
  ASSERT(all && v1 && v3);
  EXPECT_INT_EQ(all->policy.load_balancer.simple, RESOURCE_LB_ROUND_ROBIN);
  EXPECT_INT_EQ(all->policy.connection_pool.tcp.max_connections.value, 20); /* port level replaced the pool */
  EXPECT_INT_EQ(all->policy.connection_pool.http.http1_max_pending_requests.value, UINT32_MAX); /* whole object */
  EXPECT(all->policy.outlier_detection.present);
  EXPECT_INT_EQ(all->policy.outlier_detection.consecutive_5xx_errors.value, 3);
  EXPECT_INT_EQ(all->policy.outlier_detection.base_ejection_time.ms, 1000);
  EXPECT_INT_EQ(all->policy.outlier_detection.max_ejection_percent.value, 10);
  EXPECT_INT_EQ(v1->policy.load_balancer.simple, RESOURCE_LB_ROUND_ROBIN);
  EXPECT(v3->policy.load_balancer.hash_present);
  EXPECT_STR_EQ(v3->policy.load_balancer.consistent_hash.name, "x-user");
  EXPECT_INT_EQ(v3->policy.connection_pool.tcp.max_connections.value, 20);
  /* Defaults where nothing is said. */
  const struct xds_cluster *details = proxy_config_cluster(cfg, "outbound|9080||details.default.svc.cluster.local");
  ASSERT(details);
  EXPECT(details->policy.source == NULL);
  EXPECT_INT_EQ(details->policy.load_balancer.simple, RESOURCE_LB_LEAST_REQUEST);
  EXPECT_INT_EQ(details->policy.connection_pool.tcp.connect_timeout.ms, 10000);
  EXPECT(!details->policy.outlier_detection.present);
  /* ratings: the client namespace's rule applies only to clients in that namespace. */
  const struct xds_cluster *ratings = proxy_config_cluster(cfg, "outbound|9080||ratings.default.svc.cluster.local");
  ASSERT(ratings);
  EXPECT_INT_EQ(ratings->policy.load_balancer.simple, RESOURCE_LB_LEAST_REQUEST);
  struct proxy_config *sl = world_sidecar(&w, "test", "sleep");
  ASSERT(sl);
  ratings = proxy_config_cluster(sl, "outbound|9080||ratings.default.svc.cluster.local");
  ASSERT(ratings);
  EXPECT_INT_EQ(ratings->policy.load_balancer.simple, RESOURCE_LB_RANDOM);
  EXPECT_STR_EQ(ratings->policy.source, "DestinationRule test/ratings-client");
  /* Inbound: the connection pool applies on the server side, load balancing does not. */
  struct proxy_config *rv = world_sidecar(&w, NULL, "reviews-v1");
  ASSERT(rv);
  const struct xds_cluster *in = proxy_config_cluster(rv, "inbound|9080||");
  ASSERT(in);
  EXPECT_INT_EQ(in->policy.connection_pool.tcp.max_connections.value, 20);
  EXPECT_INT_EQ(in->policy.load_balancer.simple, RESOURCE_LB_LEAST_REQUEST);
  EXPECT(!in->policy.outlier_detection.present);
  proxy_config_free(rv);
  proxy_config_free(sl);
  proxy_config_free(cfg);
  world_free(&w);
}

/* A VirtualService with two regex rules: one RE2 pattern meshlab translates ((?i), \d), one
 * POSIX cannot express (\b). */
static const char REGEX_VS[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: reviews}\n"
    "spec:\n"
    "  hosts: [reviews]\n"
    "  http:\n"
    "  - match: [{uri: {regex: '\\bfoo/.*'}}]\n"
    "    route: [{destination: {host: reviews, subset: v3}}]\n"
    "  - match: [{uri: {regex: '(?i)/reviews/\\d+'}}]\n"
    "    route: [{destination: {host: reviews, subset: v2}}]\n"
    "  - route: [{destination: {host: reviews, subset: v1}}]\n";

static void regex_re2_translated_or_warned(void) {
  struct world w;
  if (world_init(&w, NULL, REGEX_VS)) {
    world_free(&w);
    return;
  }
  size_t before = diag_count(&w.diags, DIAG_WARNING);
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  ASSERT_INT_EQ(diag_count(&w.diags, DIAG_WARNING), before + 1);
  const char *msg = w.diags.items[w.diags.len - 1].message;
  EXPECT_STR_CONTAINS(msg, "\\b (a zero-width assertion)");
  EXPECT_STR_CONTAINS(msg, "never matches");
  struct rng rng;
  rng_seed(&rng, 1);
  static const struct {
    const char *path, *subset;
  } cases[] = {
      {"/REVIEWS/12", "v2"}, /* (?i) and \d translated */
      {"/reviews/x", "v1"},  /* \d is a digit, not the letter d */
      {"/reviews/d", "v1"},
      {"foo/x", "v1"}, /* the refused rule never matches */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct route_decision d;
    struct world_req req = {.authority = "reviews", .path = cases[i].path};
    EXPECT_INT_EQ(world_route(cfg, &req, &rng, &d), ROUTER_ROUTE);
    if (d.cluster) EXPECT_STR_EQ(d.cluster->subset, cases[i].subset);
  }
  proxy_config_free(cfg);
  world_free(&w);
}

static void gateway_config_shape(void) {
  struct world w;
  const char *files[] = {"bookinfo-networking/bookinfo-gateway.yaml", "bookinfo-networking/virtual-service-all-v1.yaml",
                         NULL};
  if (world_init(&w, files, NULL)) {
    world_free(&w);
    return;
  }
  struct compile_input in = world_input(&w);
  static const struct resource_map_entry gl[] = {{(char *)"istio", (char *)"ingressgateway"}};
  struct resource_map labels = {(struct resource_map_entry *)gl, 1};
  struct proxy_config *gw = NULL;
  ASSERT_INT_EQ(compile_gateway(&w.st, &in, "istio-system", "istio-ingressgateway", &labels, &gw, &w.diags), 0);
  EXPECT_INT_EQ(gw->kind, PROXY_CONFIG_GATEWAY);
  ASSERT_INT_EQ(gw->route_configs_len, 1);
  const struct xds_route_config *rc = &gw->route_configs[0];
  EXPECT_STR_EQ(rc->name, "http.8080");
  EXPECT_INT_EQ(rc->port, 8080);
  ASSERT_INT_EQ(rc->vhosts_len, 1);
  EXPECT_STR_EQ(rc->vhosts[0].name, "*");
  ASSERT_INT_EQ(rc->vhosts[0].routes_len, 1);
  EXPECT_INT_EQ(rc->vhosts[0].routes[0].match_len, 5);
  /* The gateway's clusters carry the mesh-wide subsets too (all-v1 applies at sidecars only). */
  EXPECT(proxy_config_cluster(gw, "outbound|9080|v1|productpage.default.svc.cluster.local") != NULL);
  /* A gateway whose labels match no Gateway: no route configs. */
  static const struct resource_map_entry other[] = {{(char *)"istio", (char *)"egressgateway"}};
  struct resource_map ol = {(struct resource_map_entry *)other, 1};
  struct proxy_config *eg = NULL;
  ASSERT_INT_EQ(compile_gateway(&w.st, &in, "istio-system", "istio-egressgateway", &ol, &eg, NULL), 0);
  EXPECT_INT_EQ(eg->route_configs_len, 0);
  proxy_config_free(eg);
  proxy_config_free(gw);
  world_free(&w);
}

/* ---- JSON --------------------------------------------------------------------------------------- */

static const char ROUNDTRIP_YAML[] =
    "apiVersion: networking.istio.io/v1\n"
    "kind: VirtualService\n"
    "metadata: {name: ratings}\n"
    "spec:\n"
    "  hosts: [ratings]\n"
    "  http:\n"
    "  - name: jason-delay\n"
    "    match:\n"
    "    - headers: {end-user: {exact: jason}, x-canary: {}}\n"
    "      withoutHeaders: {x-debug: {prefix: 'on'}}\n"
    "      queryParams: {u: {regex: '[a-z]+'}}\n"
    "      uri: {prefix: /Ratings}\n"
    "      ignoreUriCase: true\n"
    "      method: {exact: GET}\n"
    "      port: 9080\n"
    "      sourceLabels: {app: reviews}\n"
    "    fault:\n"
    "      delay: {fixedDelay: 7s, percentage: {value: 100}}\n"
    "      abort: {httpStatus: 500, percentage: {value: 12.5}}\n"
    "    timeout: 500ms\n"
    "    retries: {attempts: 3, perTryTimeout: 2s, retryOn: 5xx}\n"
    "    mirror: {host: ratings, subset: v1}\n"
    "    mirrorPercentage: {value: 50}\n"
    "    headers:\n"
    "      request: {set: {x-a: b}, remove: [x-c]}\n"
    "    rewrite: {uri: /v2}\n"
    "    route:\n"
    "    - destination: {host: ratings, subset: v1}\n"
    "      weight: 75\n"
    "      headers: {response: {add: {x-from: v1}}}\n"
    "    - destination: {host: ratings, subset: v9}\n"
    "      weight: 25\n"
    "  - match: [{uri: {exact: /old}}]\n"
    "    redirect: {uri: /new, redirectCode: 302}\n"
    "  - match: [{uri: {exact: /teapot}}]\n"
    "    directResponse: {status: 418, body: {string: short and stout}}\n"
    "  - route: [{destination: {host: ratings}}]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: DestinationRule\n"
    "metadata: {name: details-tls}\n"
    "spec:\n"
    "  host: details\n"
    "  trafficPolicy:\n"
    "    tls: {mode: ISTIO_MUTUAL, sni: details.example}\n"
    "    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 100}\n"
    "    connectionPool:\n"
    "      tcp: {maxConnections: 1, connectTimeout: 250ms}\n"
    "      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1, maxRetries: 3}\n"
    "    loadBalancer:\n"
    "      consistentHash:\n"
    "        httpCookie: {name: user, path: /, ttl: 0s}\n"
    "        maglev: {tableSize: 251}\n";

static void json_round_trip(void) {
  struct world w;
  const char *files[] = {"bookinfo-networking/virtual-service-reviews-90-10.yaml", NULL};
  if (world_init(&w, files, ROUNDTRIP_YAML)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "reviews-v2");
  ASSERT(cfg);
  char *a = NULL, *b = NULL, err[512] = "";
  ASSERT_INT_EQ(compile_to_json(cfg, 0, &a), 0);
  struct proxy_config *back = NULL;
  int rc = compile_from_json(a, strlen(a), "push", &back, err, sizeof err);
  if (rc) test_fail(__FILE__, __LINE__, "compile_from_json: %s", err);
  ASSERT(back);
  ASSERT_INT_EQ(compile_to_json(back, 0, &b), 0);
  EXPECT_STR_EQ(a, b);
  EXPECT_INT_EQ(back->version, cfg->version);
  /* The outbound catch-all travels with the outbound config only (inbound has none). */
  EXPECT_STR_CONTAINS(a, "\"outbound_traffic_policy\":\"ALLOW_ANY\"");
  EXPECT_INT_EQ(proxy_config_listener(back, XDS_OUTBOUND, 0)->outbound_policy, XDS_OUTBOUND_POLICY_ALLOW_ANY);
  for (size_t i = 0; i < back->route_configs_len; i++)
    if (strcmp(back->route_configs[i].name, "outbound") != 0)
      EXPECT_INT_EQ(back->route_configs[i].outbound_policy, XDS_OUTBOUND_POLICY_NONE);
  /* Every route gives the same retry policy pushed as compiled (Istio's translation reads what
   * the VirtualService wrote, not only the effective values). */
  int retry_5xx = 0;
  ASSERT_INT_EQ(back->route_configs_len, cfg->route_configs_len);
  for (size_t i = 0; i < cfg->route_configs_len; i++)
    for (size_t v = 0; v < cfg->route_configs[i].vhosts_len; v++)
      for (size_t k = 0; k < cfg->route_configs[i].vhosts[v].routes_len; k++) {
        struct retry_policy pa, pb;
        char ea[128], eb[128], fa[256], fb[256];
        ASSERT_INT_EQ(retry_policy_from_route(&cfg->route_configs[i].vhosts[v].routes[k].retries, &pa, ea, sizeof ea),
                      0);
        ASSERT_INT_EQ(retry_policy_from_route(&back->route_configs[i].vhosts[v].routes[k].retries, &pb, eb, sizeof eb),
                      0);
        retry_policy_format(&pa, fa, sizeof fa);
        retry_policy_format(&pb, fb, sizeof fb);
        EXPECT_STR_EQ(fa, fb);
        EXPECT_INT_EQ(pa.retries, pb.retries);
        EXPECT_INT_EQ(pa.codes_len, pb.codes_len);
        EXPECT_INT_EQ(pa.per_try_timeout_ms, pb.per_try_timeout_ms);
        retry_5xx += pa.retries == 3 && strcmp(fa, "5xx") == 0 && pa.codes_len == 0 && pa.per_try_timeout_ms == 2000;
      }
  EXPECT_INT_GE(retry_5xx, 1); /* the jason-delay rule's {attempts: 3, perTryTimeout: 2s, retryOn: 5xx} */
  /* The jason-delay rule's faults draw the same pushed as compiled (delay 100 %, abort 12.5 %). */
  const struct xds_route *fa = NULL, *fb = NULL;
  for (size_t i = 0; i < cfg->route_configs_len; i++)
    for (size_t v = 0; v < cfg->route_configs[i].vhosts_len; v++)
      for (size_t k = 0; k < cfg->route_configs[i].vhosts[v].routes_len; k++)
        if (cfg->route_configs[i].vhosts[v].routes[k].fault.present) {
          fa = &cfg->route_configs[i].vhosts[v].routes[k];
          fb = &back->route_configs[i].vhosts[v].routes[k];
        }
  ASSERT(fa && fb);
  struct rng ra, rb;
  rng_seed(&ra, 11);
  rng_seed(&rb, 11);
  int delays = 0, aborts = 0;
  for (int k = 0; k < 1000; k++) {
    struct fault_draw da, db;
    fault_draw(&fa->fault, &ra, &da);
    fault_draw(&fb->fault, &rb, &db);
    EXPECT(da.delay == db.delay && da.abort == db.abort && da.delay_ms == db.delay_ms &&
           da.abort_status == db.abort_status);
    delays += da.delay;
    aborts += da.abort;
  }
  EXPECT_INT_EQ(delays, 1000);
  EXPECT_INT_GE(aborts, 125 - 55); /* 12.5 % of 1000 +- 5 sd */
  EXPECT_INT_LE(aborts, 125 + 55);
  /* Every cluster's breaker limits and outlier detector are the same pushed as compiled (the
   * policy code reads what the DestinationRule wrote). */
  int limited = 0, detected = 0;
  ASSERT_INT_EQ(back->clusters_len, cfg->clusters_len);
  for (size_t i = 0; i < cfg->clusters_len; i++) {
    struct breaker_limits la, lb;
    breaker_limits_from_policy(&cfg->clusters[i].policy.connection_pool, &la);
    breaker_limits_from_policy(&back->clusters[i].policy.connection_pool, &lb);
    EXPECT(la.max_connections == lb.max_connections && la.max_pending == lb.max_pending &&
           la.max_requests == lb.max_requests && la.max_retries == lb.max_retries &&
           la.max_requests_per_connection == lb.max_requests_per_connection &&
           la.connect_timeout_ms == lb.connect_timeout_ms);
    struct outlier_config oa, ob;
    outlier_config_from_policy(&cfg->clusters[i].policy.outlier_detection, &oa);
    outlier_config_from_policy(&back->clusters[i].policy.outlier_detection, &ob);
    EXPECT(oa.enabled == ob.enabled && oa.consecutive_5xx == ob.consecutive_5xx &&
           oa.consecutive_gateway == ob.consecutive_gateway &&
           oa.consecutive_local_origin == ob.consecutive_local_origin &&
           oa.split_local_origin == ob.split_local_origin && oa.interval_ms == ob.interval_ms &&
           oa.base_ejection_ms == ob.base_ejection_ms && oa.max_ejection_ms == ob.max_ejection_ms &&
           oa.max_ejection_percent == ob.max_ejection_percent);
    limited += la.max_connections == 1 && la.max_pending == 1 && la.max_requests_per_connection == 1 &&
               la.max_retries == 3 && la.connect_timeout_ms == 250;
    detected += oa.enabled && oa.consecutive_5xx == 1 && oa.interval_ms == 1000 && oa.base_ejection_ms == 2000 &&
                oa.max_ejection_percent == 100;
  }
  EXPECT_INT_GE(limited, 1);
  EXPECT_INT_GE(detected, 1);
  EXPECT_STR_CONTAINS(a, "\"cluster\":\"outbound|9080|v9|ratings.default.svc.cluster.local\"");
  EXPECT_STR_CONTAINS(a,
                      "\"missing\":\"DestinationRule default/ratings for ratings.default.svc.cluster.local defines "
                      "no subset v9\"");
  /* The parsed config routes like the compiled one, same seed, same picks. */
  struct rng r1, r2;
  rng_seed(&r1, 5);
  rng_seed(&r2, 5);
  static const struct world_req reqs[] = {
      {.authority = "reviews:9080"},
      {.authority = "ratings",
       .path = "/ratings/1?u=abc",
       .port = 0,
       .headers = {"end-user", "jason", "x-canary", "1"}},
      {.authority = "ratings", .path = "/old"},
      {.authority = "ratings", .path = "/teapot"},
      {.authority = "ratings", .path = "/x"},
      {.authority = "nosuch"},
  };
  static const struct resource_map_entry rl[] = {{(char *)"app", (char *)"reviews"}};
  for (int round = 0; round < 50; round++)
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
      struct route_decision d1, d2;
      struct world_req q = reqs[i];
      q.source_labels = &(struct resource_map){(struct resource_map_entry *)rl, 1};
      enum router_verdict v1 = world_route(cfg, &q, &r1, &d1), v2 = world_route(back, &q, &r2, &d2);
      if (v1 != v2 || strcmp(d1.why, d2.why) != 0) {
        test_fail(__FILE__, __LINE__, "request %zu: %s vs %s", i, d1.why, d2.why);
        round = 50;
        break;
      }
    }
  /* The jason rule is ROUTE or NC depending on the draw; the redirect and direct response are
   * recognised. */
  struct route_decision d;
  struct world_req q = {.authority = "ratings", .path = "/old"};
  EXPECT_INT_EQ(world_route(back, &q, &r1, &d), ROUTER_REDIRECT);
  EXPECT_INT_EQ(d.route->redirect.redirect_code.value, 302);
  q.path = "/teapot";
  EXPECT_INT_EQ(world_route(back, &q, &r1, &d), ROUTER_DIRECT_RESPONSE);
  EXPECT_STR_EQ(d.route->direct_response.body, "short and stout");
  const struct xds_cluster *det = proxy_config_cluster(back, "outbound|9080||details.default.svc.cluster.local");
  ASSERT(det);
  EXPECT(det->policy.load_balancer.consistent_hash.maglev);
  EXPECT_INT_EQ(det->policy.load_balancer.consistent_hash.maglev_table_size.value, 251);
  EXPECT_INT_EQ(det->policy.tls.mode, RESOURCE_TLS_ISTIO_MUTUAL);
  free(a);
  free(b);
  /* Indented output parses too. */
  ASSERT_INT_EQ(compile_to_json(cfg, 2, &a), 0);
  proxy_config_free(back);
  back = NULL;
  EXPECT_INT_EQ(compile_from_json(a, strlen(a), "push", &back, err, sizeof err), 0);
  free(a);
  proxy_config_free(back);
  proxy_config_free(cfg);
  world_free(&w);
}

static void json_errors_name_the_path(void) {
  static const struct {
    const char *json, *error;
  } cases[] = {
      {"{\"version\": 1, \"nope\": 2}", "push: (top): unknown field \"nope\""},
      {"[1]", "push: (top): must be an object"},
      {"{\"version\": -1}", "push: (top): field \"version\" must be an integer"},
      {"{\"kind\": \"router\"}", "push: (top): field \"kind\" has an unknown value"},
      {"{\"route_configs\": [{\"name\": \"outbound\", \"virtual_hosts\": [{\"name\": \"a\", \"routes\": "
       "[{\"action\": \"route\", \"route\": [{\"host\": \"h\", \"cluster\": \"c\", \"weight\": \"1\"}]}]}]}]}",
       "push: route_configs[0].virtual_hosts[0].routes[0].route[0]: field \"weight\" must be an integer"},
      {"{\"route_configs\": [{\"name\": \"outbound\", \"virtual_hosts\": [{\"name\": \"a\", \"routes\": "
       "[{\"action\": \"route\", \"match\": [{\"uri\": {\"exact\": \"/\", \"prefix\": \"/\"}}]}]}]}]}",
       "push: route_configs[0].virtual_hosts[0].routes[0].match[0].uri: give exactly one of exact, prefix, regex, "
       "present"},
      {"{\"route_configs\": [{\"port\": 1}]}", "push: route_configs[0]: missing required field \"name\""},
      {"{\"clusters\": [{\"name\": \"a\", \"policy\": {\"connection_pool\": {\"max_conections\": 1}}}]}",
       "push: clusters[0].policy.connection_pool: unknown field \"max_conections\""},
      {"{\"clusters\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}", "push: clusters: cluster \"a\" appears twice"},
      {"{\"route_configs\": [{\"name\": \"inbound|9080\", \"local_rate_limit\": {\"envoy_filter\": \"a/b\", "
       "\"max_tokens\": 4, \"fill_interval_ms\": 1000, \"tokens\": 1}}]}",
       "push: route_configs[0].local_rate_limit: unknown field \"tokens\""},
      {"{\"route_configs\": [{\"name\": \"inbound|9080\", \"local_rate_limit\": {\"envoy_filter\": \"a/b\", "
       "\"max_tokens\": 0, \"fill_interval_ms\": 1000}}]}",
       "push: route_configs[0].local_rate_limit: field \"max_tokens\" must be an integer from 1"},
      {"{\"route_configs\": [{\"name\": \"inbound|9080\", \"local_rate_limit\": {\"envoy_filter\": \"a/b\", "
       "\"max_tokens\": 4}}]}",
       "push: route_configs[0].local_rate_limit: missing required field \"fill_interval_ms\""},
      {"{\"route_configs\": [{\"name\": \"outbound\", \"outbound_traffic_policy\": \"REGISTRY\"}]}",
       "push: route_configs[0]: field \"outbound_traffic_policy\" has an unknown value"},
      {"{\"route_configs\": [{\"name\": \"outbound\", \"outbound_traffic_policy\": \"\"}]}",
       "push: route_configs[0]: field \"outbound_traffic_policy\" has an unknown value"},
      {"{\"route_configs\": [{\"name\": \"outbound\", \"outboundTrafficPolicy\": \"ALLOW_ANY\"}]}",
       "push: route_configs[0]: unknown field \"outboundTrafficPolicy\""},
      {"{\"version\": 1,", "push:1:"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[512] = "";
    struct proxy_config *cfg = (struct proxy_config *)1;
    int rc = compile_from_json(cases[i].json, strlen(cases[i].json), "push", &cfg, err, sizeof err);
    if (rc != -EINVAL || cfg != NULL || strncmp(err, cases[i].error, strlen(cases[i].error)) != 0)
      test_fail(__FILE__, __LINE__, "case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, cases[i].error);
  }
  /* An empty document is a valid (empty) config. */
  char err[128];
  struct proxy_config *cfg = NULL;
  EXPECT_INT_EQ(compile_from_json("{}", 2, "push", &cfg, err, sizeof err), 0);
  proxy_config_free(cfg);
}

TEST_CASES(TEST(clusters_and_endpoints), TEST(domains_follow_istio), TEST(policies_merge_like_istio),
           TEST(regex_re2_translated_or_warned), TEST(gateway_config_shape), TEST(json_round_trip),
           TEST(json_errors_name_the_path))
