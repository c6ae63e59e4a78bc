/* Tests for the policies the compile step attaches to a proxy (mesh/compile.c,
 * compile_mtls.c): EnvoyFilter local rate limits as Istio's rate-limiting task writes them
 * (service and route level, sidecar and gateway, owned copies that round-trip through the
 * pushed JSON), RequestAuthentication and AuthorizationPolicy selection by namespace and
 * labels, and PeerAuthentication modes with Istio's auto mTLS per endpoint. */
#include <errno.h>

#include "bookinfo_world.h"
#include "support/istio_tasks.h"

#define REVIEWS "reviews.default.svc.cluster.local"

/* ---- EnvoyFilter local rate limits ------------------------------------------------------------- */

/* Istio's rate-limiting task, "local rate limit": the service-level filter (support/istio_tasks.h). */
static const char TASK_RATE_LIMIT[] = ISTIO_TASK_LOCAL_RATE_LIMIT;

/* The task's route-level variant: the filter without a bucket, the bucket on the inbound vhost. */
static const char TASK_RATE_LIMIT_ROUTE[] =
    "apiVersion: networking.istio.io/v1alpha3\n"
    "kind: EnvoyFilter\n"
    "metadata:\n"
    "  name: filter-local-ratelimit-svc\n"
    "  namespace: istio-system\n"
    "spec:\n"
    "  workloadSelector:\n"
    "    labels:\n"
    "      app: productpage\n"
    "  configPatches:\n"
    "    - applyTo: HTTP_FILTER\n"
    "      match:\n"
    "        context: SIDECAR_INBOUND\n"
    "        listener:\n"
    "          filterChain:\n"
    "            filter:\n"
    "              name: \"envoy.filters.network.http_connection_manager\"\n"
    "      patch:\n"
    "        operation: INSERT_BEFORE\n"
    "        value:\n"
    "          name: envoy.filters.http.local_ratelimit\n"
    "          typed_config:\n"
    "            \"@type\": type.googleapis.com/udpa.type.v1.TypedStruct\n"
    "            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n"
    "            value:\n"
    "              stat_prefix: http_local_rate_limiter\n"
    "    - applyTo: HTTP_ROUTE\n"
    "      match:\n"
    "        context: SIDECAR_INBOUND\n"
    "        routeConfiguration:\n"
    "          vhost:\n"
    "            name: \"inbound|http|9080\"\n"
    "            route:\n"
    "              action: ANY\n"
    "      patch:\n"
    "        operation: MERGE\n"
    "        value:\n"
    "          typed_per_filter_config:\n"
    "            envoy.filters.http.local_ratelimit:\n"
    "              \"@type\": type.googleapis.com/udpa.type.v1.TypedStruct\n"
    "              type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n"
    "              value:\n"
    "                stat_prefix: http_local_rate_limiter\n"
    "                token_bucket:\n"
    "                  max_tokens: 10\n"
    "                  tokens_per_fill: 10\n"
    "                  fill_interval: 60s\n"
    "                filter_enabled:\n"
    "                  runtime_key: local_rate_limit_enabled\n"
    "                  default_value:\n"
    "                    numerator: 100\n"
    "                    denominator: HUNDRED\n"
    "                filter_enforced:\n"
    "                  runtime_key: local_rate_limit_enforced\n"
    "                  default_value:\n"
    "                    numerator: 50\n"
    "                    denominator: HUNDRED\n";

/* A small EnvoyFilter with the given namespace, selector line and match lines. */
#define SMALL_EF(ns, selector, match)                                                                          \
  "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n"                                              \
  "metadata: {name: rl, namespace: " ns                                                                        \
  "}\n"                                                                                                        \
  "spec:\n" selector                                                                                           \
  "  configPatches:\n"                                                                                         \
  "  - applyTo: HTTP_FILTER\n"                                                                                 \
  "    match: " match                                                                                          \
  "\n"                                                                                                         \
  "    patch:\n"                                                                                               \
  "      operation: INSERT_BEFORE\n"                                                                           \
  "      value:\n"                                                                                             \
  "        name: envoy.filters.http.local_ratelimit\n"                                                         \
  "        typed_config:\n"                                                                                    \
  "          \"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n" \
  "          stat_prefix: rl\n"                                                                                \
  "          token_bucket: {max_tokens: 7, tokens_per_fill: 1, fill_interval: 1s}\n"                           \
  "          filter_enabled: {runtime_key: e, default_value: {numerator: 100, denominator: HUNDRED}}\n"        \
  "          filter_enforced: {runtime_key: f, default_value: {numerator: 100, denominator: HUNDRED}}\n"

#define PRODUCTPAGE_SELECTOR "  workloadSelector: {labels: {app: productpage}}\n"

static void rate_limits_attach_like_istio(void) {
  static const struct {
    const char *what, *yaml, *workload, *config;
    uint32_t max_tokens; /* 0: no limit on that config */
    bool per_route;
  } cases[] = {
      {"task filter: productpage inbound", TASK_RATE_LIMIT, "productpage-v1", "inbound|9080", 4, false},
      {"task filter: not outbound", TASK_RATE_LIMIT, "productpage-v1", "outbound", 0, false},
      {"task filter: selector excludes reviews", TASK_RATE_LIMIT, "reviews-v1", "inbound|9080", 0, false},
      {"task route variant: the vhost bucket wins", TASK_RATE_LIMIT_ROUTE, "productpage-v1", "inbound|9080", 10, true},
      {"no selector, same namespace: every workload", SMALL_EF("default", "", "{context: SIDECAR_INBOUND}"),
       "reviews-v2", "inbound|9080", 7, false},
      {"no selector, other namespace: nobody", SMALL_EF("other", "", "{context: SIDECAR_INBOUND}"), "reviews-v2",
       "inbound|9080", 0, false},
      {"root namespace, no selector: the whole mesh", SMALL_EF("istio-system", "", "{context: ANY}"), "ratings-v1",
       "outbound", 7, false},
      {"outbound context", SMALL_EF("default", PRODUCTPAGE_SELECTOR, "{context: SIDECAR_OUTBOUND}"), "productpage-v1",
       "outbound", 7, false},
      {"outbound context: not inbound", SMALL_EF("default", PRODUCTPAGE_SELECTOR, "{context: SIDECAR_OUTBOUND}"),
       "productpage-v1", "inbound|9080", 0, false},
      {"inbound port matches", SMALL_EF("default", "", "{context: SIDECAR_INBOUND, listener: {portNumber: 9080}}"),
       "details-v1", "inbound|9080", 7, false},
      {"inbound port differs", SMALL_EF("default", "", "{context: SIDECAR_INBOUND, listener: {portNumber: 9090}}"),
       "details-v1", "inbound|9080", 0, false},
      {"gateway context: not at sidecars", SMALL_EF("default", "", "{context: GATEWAY}"), "details-v1", "outbound", 0,
       false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct world w;
    if (world_init(&w, NULL, cases[i].yaml)) {
      world_free(&w); /* skipped or failed by world_init */
      return;
    }
    struct proxy_config *cfg = world_sidecar(&w, NULL, cases[i].workload);
    const struct xds_route_config *rc = cfg ? proxy_config_route_config(cfg, cases[i].config) : NULL;
    if (!rc) {
      test_fail(__FILE__, __LINE__, "%s: no route config %s", cases[i].what, cases[i].config);
    } else {
      const struct resource_local_rate_limit *l = rc->local_rate_limit;
      uint32_t got = l ? l->max_tokens : 0;
      if (got != cases[i].max_tokens || (l && l->per_route != cases[i].per_route))
        test_fail(__FILE__, __LINE__, "%s: %s max_tokens %u per_route %d, want %u %d", cases[i].what, cases[i].config,
                  got, l ? l->per_route : 0, cases[i].max_tokens, cases[i].per_route);
    }
    proxy_config_free(cfg);
    world_free(&w);
  }
}

static void rate_limit_owned_and_round_trips(void) {
  struct world w;
  if (world_init(&w, NULL, TASK_RATE_LIMIT)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(cfg);
  const struct xds_route_config *rc = proxy_config_route_config(cfg, "inbound|9080");
  ASSERT(rc && rc->local_rate_limit);
  const struct resource_local_rate_limit *l = rc->local_rate_limit;
  EXPECT_STR_EQ(rc->local_rate_limit_source, "istio-system/filter-local-ratelimit-svc");
  EXPECT_INT_EQ(l->tokens_per_fill, 4);
  EXPECT_INT_EQ(l->fill_interval_ms, 60000);
  EXPECT(l->enabled_percent == 100 && l->enforced_percent == 100);
  EXPECT_STR_EQ(l->stat_prefix, "http_local_rate_limiter");
  EXPECT_STR_EQ(resource_map_get(&l->response_headers, "x-local-rate-limit"), "true");
  /* The config owns its copy: nothing points into the resource store. */
  const struct resource_local_rate_limit *src = NULL;
  for (size_t i = 0; i < w.list.len; i++)
    if (w.list.items[i]->kind == RESOURCE_ENVOY_FILTER) src = &w.list.items[i]->spec.envoy_filter.limits[0];
  ASSERT(src);
  EXPECT(l != src && l->stat_prefix != src->stat_prefix && l->response_headers.items != src->response_headers.items);

  char *a = NULL, *b = NULL, err[512] = "";
  ASSERT_INT_EQ(compile_to_json(cfg, 0, &a), 0);
  EXPECT_STR_CONTAINS(a,
                      "\"name\":\"inbound|9080\",\"port\":9080,\"local_rate_limit\":{\"envoy_filter\":"
                      "\"istio-system/filter-local-ratelimit-svc\",\"context\":\"SIDECAR_INBOUND\",\"port\":0,"
                      "\"per_route\":false,\"stat_prefix\":\"http_local_rate_limiter\",\"max_tokens\":4,"
                      "\"tokens_per_fill\":4,\"fill_interval_ms\":60000,\"filter_enabled\":100.0,"
                      "\"filter_enforced\":100.0,\"response_headers\":{\"x-local-rate-limit\":\"true\"}}");
  struct proxy_config *back = NULL;
  if (compile_from_json(a, strlen(a), "push", &back, err, sizeof err))
    test_fail(__FILE__, __LINE__, "compile_from_json: %s", err);
  ASSERT(back);
  ASSERT_INT_EQ(compile_to_json(back, 0, &b), 0);
  EXPECT_STR_EQ(a, b);
  const struct xds_route_config *brc = proxy_config_route_config(back, "inbound|9080");
  ASSERT(brc && brc->local_rate_limit);
  EXPECT_INT_EQ(brc->local_rate_limit->max_tokens, 4);
  EXPECT(proxy_config_route_config(back, "outbound")->local_rate_limit == NULL);
  free(a);
  free(b);
  proxy_config_free(back);
  proxy_config_free(cfg);
  world_free(&w);
}

static void rate_limit_at_the_gateway(void) {
  static const char *const files[] = {"bookinfo-networking/bookinfo-gateway.yaml", NULL};
  static const struct {
    const char *yaml;
    uint32_t max_tokens;
  } cases[] = {
      {SMALL_EF("istio-system", "  workloadSelector: {labels: {istio: ingressgateway}}\n", "{context: GATEWAY}"), 7},
      {SMALL_EF("istio-system", "", "{context: GATEWAY, listener: {portNumber: 8080}}"), 7},
      {SMALL_EF("istio-system", "", "{context: GATEWAY, listener: {portNumber: 80}}"), 0},
      {SMALL_EF("istio-system", "", "{context: SIDECAR_INBOUND}"), 0},
      {SMALL_EF("istio-system", "  workloadSelector: {labels: {istio: egressgateway}}\n", "{context: ANY}"), 0},
  };
  static const struct resource_map_entry gl[] = {{(char *)"istio", (char *)"ingressgateway"}};
  struct resource_map labels = {(struct resource_map_entry *)gl, 1};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct world w;
    if (world_init(&w, (const char *const *)files, cases[i].yaml)) {
      world_free(&w); /* skipped or failed by world_init */
      return;
    }
    struct compile_input in = world_input(&w);
    struct proxy_config *gw = NULL;
    EXPECT_INT_EQ(compile_gateway(&w.st, &in, "istio-system", "istio-ingressgateway", &labels, &gw, &w.diags), 0);
    const struct xds_route_config *rc = gw ? proxy_config_route_config(gw, "http.8080") : NULL;
    if (!rc) test_fail(__FILE__, __LINE__, "case %zu: no http.8080", i);
    else if ((rc->local_rate_limit ? rc->local_rate_limit->max_tokens : 0) != cases[i].max_tokens)
      test_fail(__FILE__, __LINE__, "case %zu: max_tokens %u, want %u", i,
                rc->local_rate_limit ? rc->local_rate_limit->max_tokens : 0, cases[i].max_tokens);
    proxy_config_free(gw);
    world_free(&w);
  }
}

/* ---- end-user authentication and authorization ---------------------------------------------- */

#define SECURITY_YAML                                                                                                 \
  "apiVersion: security.istio.io/v1\n"                                                                                \
  "kind: RequestAuthentication\n"                                                                                     \
  "metadata: {name: jwt-example, namespace: default}\n"                                                               \
  "spec:\n"                                                                                                           \
  "  selector: {matchLabels: {app: reviews}}\n"                                                                       \
  "  jwtRules:\n"                                                                                                     \
  "  - issuer: testing@secure.istio.io\n"                                                                             \
  "    jwks: '{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\","                                           \
  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}'\n" \
  "    outputPayloadToHeader: x-jwt-payload\n"                                                                        \
  "---\n"                                                                                                             \
  "apiVersion: security.istio.io/v1\n"                                                                                \
  "kind: AuthorizationPolicy\n"                                                                                       \
  "metadata: {name: deny-get, namespace: default, annotations: {istio.io/dry-run: \"true\"}}\n"                       \
  "spec:\n"                                                                                                           \
  "  selector: {matchLabels: {app: reviews}}\n"                                                                       \
  "  action: DENY\n"                                                                                                  \
  "  rules: [{to: [{operation: {methods: [GET], paths: [\"/headers*\"]}}],\n"                                         \
  "           when: [{key: \"request.auth.claims[groups]\", values: [group1]}]}]\n"                                   \
  "---\n"                                                                                                             \
  "apiVersion: security.istio.io/v1\n"                                                                                \
  "kind: AuthorizationPolicy\n"                                                                                       \
  "metadata: {name: mesh-wide, namespace: istio-system}\n"                                                            \
  "spec: {}\n"                                                                                                        \
  "---\n"                                                                                                             \
  "apiVersion: security.istio.io/v1\n"                                                                                \
  "kind: AuthorizationPolicy\n"                                                                                       \
  "metadata: {name: other-ns, namespace: other}\n"                                                                    \
  "spec: {}\n"

static void security_policies_select_like_istio(void) {
  static const struct {
    const char *workload;
    size_t jwt_rules, authz;
  } cases[] = {
      {"reviews-v2", 1, 2},     /* its own RequestAuthentication and deny-get, plus the root namespace's */
      {"productpage-v1", 0, 1}, /* the selector leaves it out; the mesh-wide policy does not */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct world w;
    if (world_init(&w, NULL, SECURITY_YAML)) {
      world_free(&w);
      return;
    }
    struct proxy_config *cfg = world_sidecar(&w, NULL, cases[i].workload);
    ASSERT(cfg);
    if (cfg->security.jwt_rules_len != cases[i].jwt_rules || cfg->security.authz_len != cases[i].authz)
      test_fail(__FILE__, __LINE__, "%s: %zu jwt rules %zu policies, want %zu %zu", cases[i].workload,
                cfg->security.jwt_rules_len, cfg->security.authz_len, cases[i].jwt_rules, cases[i].authz);
    proxy_config_free(cfg);
    world_free(&w);
  }
}

static void security_policies_owned_and_round_trip(void) {
  struct world w;
  if (world_init(&w, NULL, SECURITY_YAML)) {
    world_free(&w);
    return;
  }
  struct proxy_config *cfg = world_sidecar(&w, NULL, "reviews-v1");
  ASSERT(cfg);
  const struct xds_security *sec = &cfg->security;
  ASSERT_INT_EQ(sec->jwt_rules_len, 1);
  ASSERT_INT_EQ(sec->authz_len, 2);
  /* The key set is parsed once, with the config. */
  ASSERT(sec->jwt_rules[0].keys && !sec->jwt_rules[0].keys_error);
  EXPECT_INT_EQ(sec->jwt_rules[0].keys->len, 1);
  EXPECT_STR_EQ(sec->jwt_rules[0].rule->issuer, "testing@secure.istio.io");
  EXPECT_STR_EQ(sec->jwt_rules[0].rule->output_payload_to_header, "x-jwt-payload");
  EXPECT_STR_EQ(sec->authz[0].namespace, "default");
  EXPECT_STR_EQ(sec->authz[0].name, "deny-get");
  EXPECT(sec->authz[0].spec->dry_run);
  EXPECT_INT_EQ(sec->authz[0].spec->action, RESOURCE_AUTHZ_DENY);
  EXPECT_STR_EQ(sec->authz[1].namespace, "istio-system");
  /* Owned: nothing points into the resource store. */
  for (size_t i = 0; i < w.list.len; i++)
    EXPECT(w.list.items[i] != sec->jwt_rules[0].source &&
           &w.list.items[i]->spec.authorization_policy != sec->authz[0].spec);

  char *a = NULL, *b = NULL, err[512] = "";
  ASSERT_INT_EQ(compile_to_json(cfg, 0, &a), 0);
  EXPECT_STR_CONTAINS(a,
                      "\"security_policies\":[{\"apiVersion\":\"security.istio.io/v1\",\"kind\":"
                      "\"RequestAuthentication\"");
  EXPECT_STR_CONTAINS(a, "\"istio.io/dry-run\":\"true\"");
  struct proxy_config *back = NULL;
  if (compile_from_json(a, strlen(a), "push", &back, err, sizeof err))
    test_fail(__FILE__, __LINE__, "compile_from_json: %s", err);
  ASSERT(back);
  ASSERT_INT_EQ(compile_to_json(back, 0, &b), 0);
  EXPECT_STR_EQ(a, b);
  EXPECT_INT_EQ(back->security.jwt_rules_len, 1);
  EXPECT(back->security.jwt_rules[0].keys != NULL);
  EXPECT_INT_EQ(back->security.authz_len, 2);
  EXPECT(back->security.authz[0].spec->dry_run);
  EXPECT_INT_EQ(back->security.authz[0].spec->rules[0].when_len, 1);
  free(a);
  free(b);
  proxy_config_free(back);
  proxy_config_free(cfg);
  world_free(&w);

  /* A pushed policy is validated by the same parser as an applied one. */
  static const char bad_push[] =
      "{\"security_policies\": [{\"apiVersion\": \"security.istio.io/v1\", \"kind\": "
      "\"AuthorizationPolicy\", \"metadata\": {\"name\": \"x\"}, \"spec\": {\"action\": "
      "\"NOPE\"}}]}";
  struct proxy_config *cfg2 = (struct proxy_config *)1;
  EXPECT_INT_EQ(compile_from_json(bad_push, strlen(bad_push), "push", &cfg2, err, sizeof err), -EINVAL);
  EXPECT(cfg2 == NULL);
  EXPECT_STR_CONTAINS(err, "push: security_policies[0]: ");
  EXPECT_STR_CONTAINS(err, "action");
}

/* PeerAuthentication precedence (workload > namespace > mesh, portLevelMtls first) on the inbound
 * route configs, and auto mTLS on the client side: endpoints whose port DISABLEs mTLS get
 * plaintext, the others ISTIO_MUTUAL; a DestinationRule tls mode overrides both ways. */
static void mtls_modes_and_auto_mtls(void) {
  static const char yaml[] =
      "apiVersion: security.istio.io/v1\n"
      "kind: PeerAuthentication\n"
      "metadata: {name: default, namespace: istio-system}\n"
      "spec: {mtls: {mode: STRICT}}\n"
      "---\n"
      "apiVersion: security.istio.io/v1\n"
      "kind: PeerAuthentication\n"
      "metadata: {name: ns-wide, namespace: default}\n"
      "spec: {mtls: {mode: PERMISSIVE}}\n"
      "---\n"
      "apiVersion: security.istio.io/v1\n"
      "kind: PeerAuthentication\n"
      "metadata: {name: reviews-v2, namespace: default}\n"
      "spec: {selector: {matchLabels: {app: reviews, version: v2}}, mtls: {mode: DISABLE}}\n"
      "---\n"
      "apiVersion: security.istio.io/v1\n"
      "kind: PeerAuthentication\n"
      "metadata: {name: reviews-v3, namespace: default}\n"
      "spec:\n"
      "  selector: {matchLabels: {app: reviews, version: v3}}\n"
      "  portLevelMtls: {9080: {mode: STRICT}}\n";
  struct world w;
  if (world_init(&w, NULL, yaml)) {
    world_free(&w);
    return;
  }
  static const struct {
    const char *workload;
    enum resource_mtls_mode mode;
    const char *source;
  } want[] = {
      {"reviews-v1", RESOURCE_MTLS_PERMISSIVE, "PeerAuthentication default/ns-wide"},
      {"reviews-v2", RESOURCE_MTLS_DISABLE, "PeerAuthentication default/reviews-v2"},
      {"reviews-v3", RESOURCE_MTLS_STRICT, "PeerAuthentication default/reviews-v3"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    struct proxy_config *cfg = world_sidecar(&w, NULL, want[i].workload);
    ASSERT(cfg);
    const struct xds_route_config *rc = proxy_config_route_config(cfg, "inbound|9080");
    ASSERT(rc);
    EXPECT_INT_EQ(rc->mtls, want[i].mode);
    EXPECT_STR_EQ(rc->mtls_source, want[i].source);
    proxy_config_free(cfg);
  }
  struct proxy_config *pp = world_sidecar(&w, NULL, "productpage-v1");
  ASSERT(pp);
  const struct xds_cluster *all = proxy_config_cluster(pp, "outbound|9080||" REVIEWS);
  ASSERT(all && all->endpoints_len == 3);
  EXPECT_INT_EQ(all->endpoints[0].tls, XDS_TLS_ISTIO_MUTUAL); /* v1 */
  EXPECT_INT_EQ(all->endpoints[1].tls, XDS_TLS_NONE);         /* v2 DISABLEs mTLS */
  EXPECT_INT_EQ(all->endpoints[2].tls, XDS_TLS_ISTIO_MUTUAL); /* v3 */
  /* The server must be the workload's service account (Envoy's SAN match). */
  EXPECT_STR_EQ(all->endpoints[2].identity, "spiffe://cluster.local/ns/default/sa/bookinfo-reviews");
  EXPECT(all->endpoints[1].identity == NULL);
  /* The mode and the per-endpoint transport survive the JSON round trip. */
  char *a = NULL, err[256] = "";
  struct proxy_config *back = NULL;
  ASSERT_INT_EQ(compile_to_json(pp, 0, &a), 0);
  EXPECT_INT_EQ(compile_from_json(a, strlen(a), "push", &back, err, sizeof err), 0);
  const struct xds_cluster *ball = back ? proxy_config_cluster(back, "outbound|9080||" REVIEWS) : NULL;
  EXPECT(ball && ball->endpoints[1].tls == XDS_TLS_NONE && ball->endpoints[2].tls == XDS_TLS_ISTIO_MUTUAL);
  EXPECT(ball && ball->endpoints[2].identity &&
         strcmp(ball->endpoints[2].identity, "spiffe://cluster.local/ns/default/sa/bookinfo-reviews") == 0);
  const struct xds_route_config *brc = back ? proxy_config_route_config(back, "inbound|9080") : NULL;
  EXPECT(brc && brc->mtls == RESOURCE_MTLS_PERMISSIVE &&
         strcmp(brc->mtls_source, "PeerAuthentication default/ns-wide") == 0);
  free(a);
  proxy_config_free(back);
  proxy_config_free(pp);
  world_free(&w);

  /* Nothing set anywhere: PERMISSIVE, no source; a workload outside the mesh is plaintext. */
  struct compile_input none = {0};
  const struct resource *src = (const struct resource *)1;
  EXPECT_INT_EQ(compile_peer_mtls(&none, "default", NULL, 9080, &src), RESOURCE_MTLS_PERMISSIVE);
  EXPECT(src == NULL);
  EXPECT_INT_EQ(compile_endpoint_tls(NULL, false, RESOURCE_MTLS_PERMISSIVE), XDS_TLS_NONE);
  EXPECT_INT_EQ(compile_endpoint_tls(NULL, true, RESOURCE_MTLS_STRICT), XDS_TLS_ISTIO_MUTUAL);
  struct resource_client_tls dr = {.present = true, .mode = RESOURCE_TLS_DISABLE};
  EXPECT_INT_EQ(compile_endpoint_tls(&dr, true, RESOURCE_MTLS_STRICT), XDS_TLS_NONE); /* confusion 5: 503 UF */
  dr.mode = RESOURCE_TLS_ISTIO_MUTUAL;
  EXPECT_INT_EQ(compile_endpoint_tls(&dr, true, RESOURCE_MTLS_DISABLE), XDS_TLS_ISTIO_MUTUAL);
  dr.mode = RESOURCE_TLS_SIMPLE;
  EXPECT_INT_EQ(compile_endpoint_tls(&dr, false, RESOURCE_MTLS_PERMISSIVE), XDS_TLS_SIMPLE);
}

TEST_CASES(TEST(rate_limits_attach_like_istio), TEST(rate_limit_owned_and_round_trips), TEST(rate_limit_at_the_gateway),
           TEST(security_policies_select_like_istio), TEST(security_policies_owned_and_round_trip),
           TEST(mtls_modes_and_auto_mtls))
