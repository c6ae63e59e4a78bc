/* Tests for the resource layer (mesh/resource*.c), part two: every supported field at once
 * (networking and security), Istio's JWKS and rate-limit inputs, warnings and notes, the
 * writers (JSON and YAML round trip) and the cross-resource analyzer (istioctl analyze's
 * checks). Istio's files and the refusals are in test_resource.c. */
#include "mesh/resource.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "resource_fixtures.h"
#include "support/istio_tasks.h"
#include "support/test.h"

/* ---- richer valid inputs -------------------------------------------------------------------------- */

/* Every supported VirtualService / DestinationRule field at once (also the round-trip input). */
static const char RICH_NETWORKING[] =
    "apiVersion: networking.istio.io/v1alpha3\n"
    "kind: VirtualService\n"
    "metadata:\n"
    "  name: reviews\n"
    "  namespace: shop\n"
    "  labels: {team: books}\n"
    "spec:\n"
    "  hosts: [reviews, reviews.example.com]\n"
    "  gateways: [mesh, shop-gateway]\n"
    "  http:\n"
    "  - name: jason\n"
    "    match:\n"
    "    - name: by-user\n"
    "      headers:\n"
    "        end-user: {exact: jason}\n"
    "        x-canary: {}\n"
    "      uri: {prefix: /reviews}\n"
    "      method: {regex: 'GET|HEAD'}\n"
    "      queryParams: {debug: {exact: 'true'}}\n"
    "      withoutHeaders: {x-skip: {prefix: 'y'}}\n"
    "      ignoreUriCase: true\n"
    "      port: 9080\n"
    "      sourceLabels: {app: productpage, version: v1}\n"
    "      gateways: [mesh]\n"
    "      authority: {exact: 'reviews:9080'}\n"
    "      scheme: {exact: http}\n"
    "    route:\n"
    "    - destination: {host: reviews, subset: v2, port: {number: 9080}}\n"
    "      weight: 75\n"
    "      headers:\n"
    "        request: {set: {x-version: v2}}\n"
    "    - destination: {host: reviews, subset: v3}\n"
    "      weight: 25\n"
    "    timeout: 0.5s\n"
    "    retries: {attempts: 3, perTryTimeout: 2s, retryOn: 'gateway-error,503', "
    "retryRemoteLocalities: false}\n"
    "    fault:\n"
    "      delay: {fixedDelay: 7s, percentage: {value: 12.5}}\n"
    "      abort: {httpStatus: 503, percentage: {value: 100}}\n"
    "    mirror: {host: reviews, subset: v3}\n"
    "    mirrorPercentage: {value: 10}\n"
    "    headers:\n"
    "      request:\n"
    "        add: {x-a: '1'}\n"
    "        remove: [x-b]\n"
    "      response:\n"
    "        set: {x-c: c}\n"
    "    rewrite: {uri: /v2/reviews, authority: reviews-v2}\n"
    "  - match: [{uri: {exact: /old}}]\n"
    "    redirect: {uri: /new, authority: other, port: 8080, scheme: https, redirectCode: 302}\n"
    "  - match: [{uri: {exact: /teapot}}]\n"
    "    directResponse: {status: 418, body: {string: \"I'm a teapot\"}}\n"
    "  - route:\n"
    "    - destination: {host: reviews, subset: v1}\n"
    "    fault:\n"
    "      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 1}}\n"
    "  tcp:\n"
    "  - match: [{port: 27017, sourceLabels: {app: x}, destinationSubnets: [10.0.0.0/8]}]\n"
    "    route:\n"
    "    - destination: {host: mongo, port: {number: 27017}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1beta1\n"
    "kind: DestinationRule\n"
    "metadata:\n"
    "  name: reviews\n"
    "  namespace: shop\n"
    "spec:\n"
    "  host: reviews\n"
    "  trafficPolicy:\n"
    "    loadBalancer:\n"
    "      consistentHash:\n"
    "        httpCookie: {name: user, path: /, ttl: 0s}\n"
    "        ringHash: {minimumRingSize: 2048}\n"
    "    connectionPool:\n"
    "      tcp: {maxConnections: 1, connectTimeout: 30ms}\n"
    "      http: {http1MaxPendingRequests: 1, http2MaxRequests: 10, maxRequestsPerConnection: 1, "
    "maxRetries: 3}\n"
    "    outlierDetection:\n"
    "      consecutive5xxErrors: 1\n"
    "      consecutiveGatewayErrors: 0\n"
    "      consecutiveLocalOriginFailures: 2\n"
    "      splitExternalLocalOriginErrors: true\n"
    "      interval: 1s\n"
    "      baseEjectionTime: 3m\n"
    "      maxEjectionPercent: 100\n"
    "      minHealthPercent: 0\n"
    "    tls: {mode: ISTIO_MUTUAL, sni: reviews.shop, subjectAltNames: [spiffe://x]}\n"
    "    portLevelSettings:\n"
    "    - port: {number: 9080}\n"
    "      loadBalancer: {simple: ROUND_ROBIN}\n"
    "      connectionPool: {http: {http1MaxPendingRequests: 5}}\n"
    "  subsets:\n"
    "  - name: v1\n"
    "    labels: {version: v1}\n"
    "    trafficPolicy:\n"
    "      loadBalancer: {simple: RANDOM}\n"
    "  - name: v2\n"
    "    labels: {version: v2}\n"
    "  - name: v3\n"
    "    labels: {version: v3}\n"
    "    trafficPolicy:\n"
    "      loadBalancer:\n"
    "        consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 65537}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: Gateway\n"
    "metadata: {name: shop-gateway, namespace: shop}\n"
    "spec:\n"
    "  selector: {istio: ingressgateway}\n"
    "  servers:\n"
    "  - port: {number: 80, name: http, protocol: HTTP}\n"
    "    hosts: ['*']\n"
    "    tls: {httpsRedirect: true}\n"
    "  - port: {number: 443, name: https, protocol: HTTPS}\n"
    "    hosts: [shop/reviews.example.com]\n"
    "    tls: {mode: SIMPLE, credentialName: reviews-cert}\n"
    "    name: https\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\n"
    "kind: ServiceEntry\n"
    "metadata: {name: external-db, namespace: shop}\n"
    "spec:\n"
    "  hosts: [db.example.com]\n"
    "  location: MESH_EXTERNAL\n"
    "  resolution: STATIC\n"
    "  ports:\n"
    "  - {number: 5432, name: tcp-pg, protocol: TCP, targetPort: 15432}\n"
    "  endpoints:\n"
    "  - address: 127.0.0.5\n"
    "    ports: {tcp-pg: 25432}\n"
    "    labels: {region: lab}\n"
    "    weight: 3\n"
    "    locality: lab/zone1\n";

static const char RICH_SECURITY[] =
    "apiVersion: security.istio.io/v1beta1\n"
    "kind: PeerAuthentication\n"
    "metadata: {name: default, namespace: istio-system}\n"
    "spec:\n"
    "  mtls: {mode: STRICT}\n"
    "---\n"
    "apiVersion: security.istio.io/v1\n"
    "kind: PeerAuthentication\n"
    "metadata: {name: reviews}\n"
    "spec:\n"
    "  selector: {matchLabels: {app: reviews}}\n"
    "  mtls: {mode: PERMISSIVE}\n"
    "  portLevelMtls:\n"
    "    9080: {mode: DISABLE}\n"
    "---\n"
    "apiVersion: security.istio.io/v1\n"
    "kind: RequestAuthentication\n"
    "metadata: {name: jwt}\n"
    "spec:\n"
    "  selector: {matchLabels: {app: httpbin}}\n"
    "  jwtRules:\n"
    "  - issuer: testing@secure.istio.io\n"
    "    jwksUri: https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json\n"
    "    audiences: [httpbin]\n"
    "    fromHeaders: [{name: x-jwt, prefix: 'Bearer '}]\n"
    "    fromParams: [token]\n"
    "    fromCookies: [session]\n"
    "    outputPayloadToHeader: x-jwt-payload\n"
    "    outputClaimToHeaders: [{header: x-sub, claim: sub}]\n"
    "    forwardOriginalToken: true\n"
    "    timeout: 3s\n"
    "---\n"
    "apiVersion: security.istio.io/v1\n"
    "kind: AuthorizationPolicy\n"
    "metadata:\n"
    "  name: require-jwt\n"
    "  annotations: {istio.io/dry-run: 'true'}\n"
    "spec:\n"
    "  selector: {matchLabels: {app: httpbin}}\n"
    "  action: ALLOW\n"
    "  rules:\n"
    "  - from:\n"
    "    - source:\n"
    "        requestPrincipals: [testing@secure.istio.io/testing@secure.istio.io]\n"
    "        principals: [cluster.local/ns/default/sa/curl]\n"
    "        namespaces: [default]\n"
    "        notIpBlocks: [10.1.0.0/16]\n"
    "        remoteIpBlocks: ['2001:db8::/32']\n"
    "    to:\n"
    "    - operation:\n"
    "        methods: [GET]\n"
    "        paths: [/headers, '/status/*']\n"
    "        ports: ['8080']\n"
    "        notHosts: [evil.example.com]\n"
    "    when:\n"
    "    - key: request.auth.claims[groups]\n"
    "      values: [group1]\n"
    "    - key: request.headers[x-token]\n"
    "      notValues: [bad]\n"
    "    - key: destination.port\n"
    "      values: ['8080']\n"
    "    - key: request.auth.claims[nested][key]\n"
    "      values: [v]\n"
    "    - key: source.ip\n"
    "      values: [10.0.0.1, 10.0.0.0/24]\n"
    "    - key: connection.sni\n"
    "      values: ['*.example.com']\n"
    "    - key: request.auth.audiences\n"
    "      values: ['httpbin']\n"
    "  - {}\n"
    "---\n"
    "apiVersion: security.istio.io/v1\n"
    "kind: AuthorizationPolicy\n"
    "metadata: {name: deny-serviceaccounts}\n"
    "spec:\n"
    "  action: DENY\n"
    "  rules:\n"
    "  - from:\n"
    "    - source: {serviceAccounts: [default/curl], notServiceAccounts: [default/sleep]}\n"
    "---\n"
    "apiVersion: security.istio.io/v1\n"
    "kind: AuthorizationPolicy\n"
    "metadata: {name: allow-nothing}\n"
    "spec: {}\n";

static void test_rich_model(void) {
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  if (parse_ok_into(RICH_NETWORKING, "rich.yaml", NULL, &l, &d) != 4) goto out;
  const struct resource_virtual_service *vs = &l.items[0]->spec.virtual_service;
  EXPECT_STR_EQ(l.items[0]->api_version, "networking.istio.io/v1alpha3");
  EXPECT_STR_EQ(vs->hosts[0].fqdn, "reviews.shop.svc.cluster.local");
  EXPECT_STR_EQ(vs->hosts[1].fqdn, "reviews.example.com");
  ASSERT_INT_EQ(vs->http_len, 4);
  const struct resource_http_route *h = &vs->http[0];
  EXPECT_STR_EQ(h->name, "jason");
  ASSERT_INT_EQ(h->match[0].headers_len, 2);
  EXPECT_INT_EQ(h->match[0].headers[1].match.type, RESOURCE_MATCH_NONE);
  EXPECT_INT_EQ(h->match[0].method.type, RESOURCE_MATCH_REGEX);
  EXPECT_STR_EQ(h->match[0].query_params[0].match.value, "true");
  EXPECT_INT_EQ(h->match[0].port, 9080);
  EXPECT(h->match[0].ignore_uri_case.value);
  EXPECT_STR_EQ(resource_map_get(&h->match[0].source_labels, "version"), "v1");
  EXPECT_INT_EQ(h->timeout.ms, 500);
  EXPECT_INT_EQ(h->retries.attempts.value, 3);
  EXPECT_STR_EQ(h->retries.retry_on, "gateway-error,503");
  EXPECT(h->fault.delay.percentage.value == 12.5);
  EXPECT(h->mirror_present);
  EXPECT(h->mirror_percentage.value == 10);
  EXPECT_STR_EQ(resource_map_get(&h->route[0].headers.request.set, "x-version"), "v2");
  EXPECT_STR_EQ(h->headers.request.remove.items[0], "x-b");
  EXPECT_STR_EQ(h->rewrite.uri, "/v2/reviews");
  EXPECT_INT_EQ(vs->http[1].redirect.redirect_code.value, 302);
  EXPECT_INT_EQ(vs->http[2].direct_response.status, 418);
  EXPECT_STR_EQ(vs->http[2].direct_response.body, "I'm a teapot");
  EXPECT_STR_EQ(vs->http[3].fault.abort.grpc_status, "UNAVAILABLE");
  ASSERT_INT_EQ(vs->tcp_len, 1);
  EXPECT_INT_EQ(vs->tcp[0].match[0].port, 27017);
  EXPECT_INT_EQ(vs->tcp[0].route[0].destination.port, 27017);

  const struct resource_destination_rule *dr = &l.items[1]->spec.destination_rule;
  const struct resource_traffic_policy *tp = &dr->traffic_policy;
  EXPECT_INT_EQ(tp->load_balancer.consistent_hash.key, RESOURCE_HASH_COOKIE);
  EXPECT_STR_EQ(tp->load_balancer.consistent_hash.name, "user");
  EXPECT(tp->load_balancer.consistent_hash.cookie_ttl.set);
  EXPECT_INT_EQ(tp->load_balancer.consistent_hash.cookie_ttl.ms, 0);
  EXPECT_INT_EQ(tp->load_balancer.consistent_hash.ring_size.value, 2048);
  EXPECT_INT_EQ(tp->connection_pool.tcp.connect_timeout.ms, 30);
  EXPECT_INT_EQ(tp->outlier_detection.base_ejection_time.ms, 180000);
  EXPECT_INT_EQ(tp->outlier_detection.max_ejection_percent.value, 100);
  EXPECT_INT_EQ(tp->tls.mode, RESOURCE_TLS_ISTIO_MUTUAL);
  EXPECT_INT_EQ(tp->port_level[0].load_balancer.simple, RESOURCE_LB_ROUND_ROBIN);
  EXPECT_INT_EQ(tp->port_level[0].connection_pool.http.http1_max_pending_requests.value, 5);
  ASSERT_INT_EQ(dr->subsets_len, 3);
  EXPECT_INT_EQ(dr->subsets[0].traffic_policy.load_balancer.simple, RESOURCE_LB_RANDOM);
  EXPECT(!dr->subsets[1].traffic_policy.present);
  EXPECT(dr->subsets[2].traffic_policy.load_balancer.consistent_hash.maglev);

  const struct resource_gateway *gw = &l.items[2]->spec.gateway;
  ASSERT_INT_EQ(gw->servers_len, 2);
  EXPECT(gw->servers[0].tls.https_redirect.value);
  EXPECT_STR_EQ(gw->servers[1].tls.credential_name, "reviews-cert");
  const struct resource_service_entry *se = &l.items[3]->spec.service_entry;
  EXPECT_INT_EQ(se->resolution, RESOURCE_RESOLUTION_STATIC);
  EXPECT_INT_EQ(se->endpoints[0].ports[0].number, 25432);
  EXPECT_INT_EQ(se->ports[0].target_port, 15432);

  size_t base = l.len;
  if (parse_ok_into(RICH_SECURITY, "sec.yaml", NULL, &l, &d) != 6) goto out;
  const struct resource_peer_authentication *pa = &l.items[base]->spec.peer_authentication;
  EXPECT_INT_EQ(pa->mode, RESOURCE_MTLS_STRICT);
  EXPECT(!pa->has_selector);
  EXPECT_STR_EQ(l.items[base]->meta.ns, "istio-system");
  pa = &l.items[base + 1]->spec.peer_authentication;
  EXPECT_INT_EQ(pa->port_level[0].port, 9080);
  EXPECT_INT_EQ(pa->port_level[0].mode, RESOURCE_MTLS_DISABLE);
  const struct resource_request_authentication *ra = &l.items[base + 2]->spec.request_authentication;
  EXPECT_STR_EQ(ra->jwt_rules[0].issuer, "testing@secure.istio.io");
  EXPECT_STR_EQ(ra->jwt_rules[0].from_headers[0].prefix, "Bearer ");
  EXPECT(ra->jwt_rules[0].forward_original_token.value);
  EXPECT_INT_EQ(ra->jwt_rules[0].timeout.ms, 3000);
  const struct resource_authorization_policy *ap = &l.items[base + 3]->spec.authorization_policy;
  EXPECT(ap->dry_run);
  ASSERT_INT_EQ(ap->rules_len, 2);
  EXPECT_INT_EQ(ap->rules[0].when_len, 7);
  EXPECT_INT_EQ(ap->rules[1].from_len + ap->rules[1].to_len + ap->rules[1].when_len, 0);
  EXPECT_STR_EQ(ap->rules[0].to[0].paths.items[1], "/status/*");
  EXPECT_INT_EQ(l.items[base + 4]->spec.authorization_policy.action, RESOURCE_AUTHZ_DENY);
  const struct resource_authorization_policy *none = &l.items[base + 5]->spec.authorization_policy;
  EXPECT_INT_EQ(none->rules_len, 0);
  EXPECT_INT_EQ(none->action, RESOURCE_AUTHZ_ALLOW);
  EXPECT_INT_EQ(diag_count(&d, DIAG_ERROR), 0);
  /* AUDIT is accepted (recorded by authz.c, never enforced); every supported key parses. */
  static const char audit[] =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
      "metadata:\n  name: audit\nspec:\n  action: AUDIT\n  rules:\n  - when:\n"
      "    - {key: 'request.headers[x-a]', values: [a]}\n"
      "    - {key: source.ip, values: [10.0.0.0/8]}\n"
      "    - {key: remote.ip, values: ['2001:db8::/32']}\n"
      "    - {key: source.namespace, values: [foo]}\n"
      "    - {key: source.principal, values: ['*']}\n"
      "    - {key: request.auth.principal, values: ['*']}\n"
      "    - {key: request.auth.audiences, values: [a]}\n"
      "    - {key: request.auth.presenter, values: [a]}\n"
      "    - {key: 'request.auth.claims[a][b][c]', values: [a]}\n"
      "    - {key: destination.ip, values: [10.0.0.1]}\n"
      "    - {key: destination.port, values: ['80']}\n"
      "    - {key: connection.sni, values: [a]}\n";
  struct resource *au = parse_one(audit, NULL);
  EXPECT(au != NULL);
  if (au) {
    EXPECT_INT_EQ(au->spec.authorization_policy.action, RESOURCE_AUTHZ_AUDIT);
    EXPECT_INT_EQ(au->spec.authorization_policy.rules[0].when_len, 12);
    EXPECT_STR_EQ(resource_authz_action_name(au->spec.authorization_policy.action), "AUDIT");
  }
  resource_free(au);
out:
  resource_list_free(&l);
  diag_list_free(&d);
}

static void test_jwks_inline_from_conformance(void) {
  size_t len;
  char *jwks = conformance_file("jwt-samples/jwks.json", &len);
  if (jwks == NULL) return;
  /* embed as a literal block, as Istio's docs do */
  size_t cap = len * 2 + 512;
  char *yaml = malloc(cap);
  ASSERT(yaml != NULL);
  int n = snprintf(yaml, cap,
                   "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
                   "metadata: {name: jwt-example, namespace: foo}\nspec:\n"
                   "  selector: {matchLabels: {app: httpbin}}\n  jwtRules:\n"
                   "  - issuer: testing@secure.istio.io\n    jwks: |\n      ");
  for (size_t i = 0; i < len && (size_t)n + 8 < cap; i++) {
    yaml[n++] = jwks[i];
    if (jwks[i] == '\n' && i + 1 < len) n += snprintf(yaml + n, cap - (size_t)n, "      ");
  }
  yaml[n] = '\0';
  struct resource *r = parse_one(yaml, NULL);
  if (r) {
    EXPECT_STR_CONTAINS(r->spec.request_authentication.jwt_rules[0].jwks, "\"keys\"");
    char *out = NULL;
    EXPECT_INT_EQ(resource_to_yaml(r, &out), 0);
    struct resource *again = out ? parse_one(out, NULL) : NULL;
    EXPECT(again != NULL);
    if (again)
      EXPECT_STR_EQ(again->spec.request_authentication.jwt_rules[0].jwks,
                    r->spec.request_authentication.jwt_rules[0].jwks);
    resource_free(again);
    free(out);
  }
  resource_free(r);
  free(yaml);
  free(jwks);
}

/* The local rate limit of Istio's rate-limiting task (support/istio_tasks.h). */
static const char RATE_LIMIT[] = ISTIO_TASK_LOCAL_RATE_LIMIT;

static const char RATE_LIMIT_ROUTE[] =
    "apiVersion: networking.istio.io/v1alpha3\n"
    "kind: EnvoyFilter\n"
    "metadata: {name: filter-local-ratelimit-route}\n"
    "spec:\n"
    "  workloadSelector: {labels: {app: productpage}}\n"
    "  configPatches:\n"
    "    - applyTo: HTTP_FILTER\n"
    "      match:\n"
    "        context: SIDECAR_INBOUND\n"
    "        listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}\n"
    "      patch:\n"
    "        operation: INSERT_BEFORE\n"
    "        value:\n"
    "          name: envoy.filters.http.local_ratelimit\n"
    "          typed_config:\n"
    "            \"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n"
    "            stat_prefix: http_local_rate_limiter\n"
    "    - applyTo: HTTP_ROUTE\n"
    "      match:\n"
    "        context: SIDECAR_INBOUND\n"
    "        routeConfiguration:\n"
    "          vhost:\n"
    "            name: \"inbound|http|9080\"\n"
    "            route: {action: ANY}\n"
    "      patch:\n"
    "        operation: MERGE\n"
    "        value:\n"
    "          typed_per_filter_config:\n"
    "            envoy.filters.http.local_ratelimit:\n"
    "              \"@type\": type.googleapis.com/udpa.type.v1.TypedStruct\n"
    "              type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n"
    "              value:\n"
    "                stat_prefix: http_local_rate_limiter\n"
    "                token_bucket: {max_tokens: 10, fill_interval: 1m}\n"
    "                filter_enabled: {runtime_key: e, default_value: {numerator: 50, denominator: HUNDRED}}\n";

static void test_envoy_filter_rate_limit(void) {
  struct resource *r = parse_one(RATE_LIMIT, NULL);
  ASSERT(r != NULL);
  const struct resource_envoy_filter *ef = &r->spec.envoy_filter;
  EXPECT_STR_EQ(resource_map_get(&ef->workload_selector, "app"), "productpage");
  ASSERT_INT_EQ(ef->limits_len, 1);
  EXPECT_INT_EQ(ef->limits[0].context, RESOURCE_CONTEXT_SIDECAR_INBOUND);
  EXPECT_INT_EQ(ef->limits[0].max_tokens, 4);
  EXPECT_INT_EQ(ef->limits[0].tokens_per_fill, 4);
  EXPECT_INT_EQ(ef->limits[0].fill_interval_ms, 60000);
  EXPECT(ef->limits[0].enabled_percent == 100);
  EXPECT(ef->limits[0].enforced_percent == 100);
  EXPECT_STR_EQ(resource_map_get(&ef->limits[0].response_headers, "x-local-rate-limit"), "true");
  char *yaml = NULL;
  ASSERT_INT_EQ(resource_to_yaml(r, &yaml), 0);
  EXPECT_STR_CONTAINS(yaml, "apiVersion: networking.istio.io/v1alpha3\n");
  EXPECT_STR_CONTAINS(yaml, "\"@type\": type.googleapis.com/udpa.type.v1.TypedStruct");
  struct resource *again = parse_one(yaml, NULL);
  EXPECT(again != NULL);
  resource_free(again);
  free(yaml);
  resource_free(r);

  r = parse_one(RATE_LIMIT_ROUTE, NULL);
  ASSERT(r != NULL);
  ef = &r->spec.envoy_filter;
  ASSERT_INT_EQ(ef->limits_len, 2);
  EXPECT(!ef->limits[0].per_route);
  EXPECT_INT_EQ(ef->limits[0].max_tokens, 0);
  EXPECT(ef->limits[1].per_route);
  EXPECT_INT_EQ(ef->limits[1].max_tokens, 10);
  EXPECT_INT_EQ(ef->limits[1].tokens_per_fill, 1);
  EXPECT_INT_EQ(ef->limits[1].fill_interval_ms, 60000);
  EXPECT(ef->limits[1].enabled_percent == 50);
  resource_free(r);
}

static void test_warnings_and_notes(void) {
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  const char *yaml = DR_HEAD
      "  trafficPolicy:\n    loadBalancer: {simple: LEAST_CONN}\n"
      "    outlierDetection: {consecutive5xxErrors: 3, "
      "consecutiveGatewayErrors: 5}\n"
      "status: {}\n"
      "---\n" VS_HEAD "  - match:\n    - headers:\n        End-User: {exact: a}\n" ROUTE "---\n" DR_HEAD;
  if (parse_ok_into(yaml, "w.yaml", NULL, &l, &d) == 3) {
    EXPECT_INT_EQ(diag_count(&d, DIAG_WARNING), 4);
    EXPECT_STR_CONTAINS(d.items[0].message, "LEAST_CONN is deprecated");
    EXPECT_STR_CONTAINS(d.items[1].message, "has no effect");
    EXPECT_STR_CONTAINS(d.items[2].message, "lowercase");
    EXPECT_STR_CONTAINS(d.items[3].message, "defined again");
    /* status is server-written: noted on the resource, not an error */
    EXPECT_INT_EQ(l.items[0]->notes.len, 1);
    EXPECT_STR_EQ(l.items[0]->notes.items[0].path, "status");
  }
  resource_list_free(&l);
  diag_list_free(&d);
}

/* A regex POSIX cannot express is accepted (Istio accepts any RE2) and warned about at its
 * position; one meshlab translates is not. */
static void test_regex_warnings(void) {
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  const char *yaml = VS_HEAD
      "  - match:\n"
      "    - uri: {regex: '\\bv1'}\n"
      "    - headers: {end-user: {regex: '(?i)jason\\d*'}}\n" ROUTE;
  if (parse_ok_into(yaml, "rx.yaml", NULL, &l, &d) == 1) {
    ASSERT_INT_EQ(diag_count(&d, DIAG_WARNING), 1);
    EXPECT_INT_EQ(d.items[0].line, 9);
    EXPECT_STR_EQ(d.items[0].path, "spec.http[0].match[0].uri");
    EXPECT_STR_CONTAINS(d.items[0].message, "\\b (a zero-width assertion)");
    EXPECT_STR_CONTAINS(d.items[0].message, "never matches");
  }
  resource_list_free(&l);
  diag_list_free(&d);
}

/* ---- writers ------------------------------------------------------------------------------------ */

/* parse -> YAML -> parse must give the same model (compared through JSON, which holds every
 * field the user set), and YAML -> parse -> YAML must be stable. */
static void check_round_trip(const char *name, const char *text) {
  struct resource_list a, b;
  struct diag_list d;
  resource_list_init(&a);
  resource_list_init(&b);
  diag_list_init(&d);
  char *yaml = NULL, *yaml2 = NULL;
  if (parse_ok_into(text, name, NULL, &a, &d) < 1) goto out;
  ASSERT_INT_EQ(resource_list_to_yaml(a.items, a.len, &yaml), 0);
  if (parse_ok_into(yaml, "exported.yaml", NULL, &b, &d) != (int)a.len) {
    fprintf(stderr, "%s", yaml);
    goto out;
  }
  for (size_t i = 0; i < a.len; i++) {
    char *ja = NULL, *jb = NULL;
    EXPECT_INT_EQ(resource_to_json(a.items[i], 0, &ja), 0);
    EXPECT_INT_EQ(resource_to_json(b.items[i], 0, &jb), 0);
    if (ja && jb && strcmp(ja, jb) != 0)
      test_fail(__FILE__, __LINE__, "%s[%zu]: round trip differs:\n%s\n%s", name, i, ja, jb);
    free(ja);
    free(jb);
  }
  ASSERT_INT_EQ(resource_list_to_yaml(b.items, b.len, &yaml2), 0);
  EXPECT_STR_EQ(yaml, yaml2);
out:
  free(yaml);
  free(yaml2);
  resource_list_free(&a);
  resource_list_free(&b);
  diag_list_free(&d);
}

static void test_round_trip(void) {
  check_round_trip("rich networking", RICH_NETWORKING);
  check_round_trip("rich security", RICH_SECURITY);
  check_round_trip("rate limit", RATE_LIMIT);
  check_round_trip("rate limit route", RATE_LIMIT_ROUTE);
  static const char *const conformance[] = {"bookinfo-platform/bookinfo.yaml", "samples-httpbin/httpbin.yaml",
                                            "samples-clients/fortio-deploy.yaml", "samples-clients/curl.yaml"};
  for (size_t i = 0; i < sizeof NETWORKING / sizeof NETWORKING[0] + 4; i++) {
    char rel[256];
    if (i < sizeof NETWORKING / sizeof NETWORKING[0])
      snprintf(rel, sizeof rel, "bookinfo-networking/%s", NETWORKING[i]);
    else snprintf(rel, sizeof rel, "%s", conformance[i - sizeof NETWORKING / sizeof NETWORKING[0]]);
    size_t len;
    char *text = conformance_file(rel, &len);
    if (text == NULL) return;
    check_round_trip(rel, text);
    free(text);
  }
}

static void test_yaml_output_shape(void) {
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  char *yaml = NULL, *json = NULL;
  if (parse_conformance("bookinfo-networking/bookinfo-gateway.yaml", &l, &d) != 2) goto out;
  ASSERT_INT_EQ(resource_list_to_yaml(l.items, l.len, &yaml), 0);
  EXPECT_STR_EQ(yaml,
                "apiVersion: networking.istio.io/v1\n"
                "kind: Gateway\n"
                "metadata:\n"
                "  name: bookinfo-gateway\n"
                "  namespace: default\n"
                "spec:\n"
                "  selector:\n"
                "    istio: ingressgateway\n"
                "  servers:\n"
                "  - port:\n"
                "      number: 8080\n"
                "      name: http\n"
                "      protocol: HTTP\n"
                "    hosts:\n"
                "    - \"*\"\n"
                "---\n"
                "apiVersion: networking.istio.io/v1\n"
                "kind: VirtualService\n"
                "metadata:\n"
                "  name: bookinfo\n"
                "  namespace: default\n"
                "spec:\n"
                "  hosts:\n"
                "  - \"*\"\n"
                "  gateways:\n"
                "  - bookinfo-gateway\n"
                "  http:\n"
                "  - match:\n"
                "    - uri:\n"
                "        exact: /productpage\n"
                "    - uri:\n"
                "        prefix: /static\n"
                "    - uri:\n"
                "        exact: /login\n"
                "    - uri:\n"
                "        exact: /logout\n"
                "    - uri:\n"
                "        prefix: /api/v1/products\n"
                "    route:\n"
                "    - destination:\n"
                "        host: productpage\n"
                "        port:\n"
                "          number: 9080\n");
  ASSERT_INT_EQ(resource_to_json(l.items[0], 0, &json), 0);
  EXPECT_STR_EQ(json,
                "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\","
                "\"metadata\":{\"name\":\"bookinfo-gateway\",\"namespace\":\"default\"},"
                "\"spec\":{\"selector\":{\"istio\":\"ingressgateway\"},\"servers\":[{"
                "\"port\":{\"number\":8080,\"name\":\"http\",\"protocol\":\"HTTP\"},"
                "\"hosts\":[\"*\"]}]}}");
  /* strings that would read back as numbers or booleans are quoted */
  struct resource *r = parse_one(
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"
      "  labels: {version: '1', enabled: 'true', empty: ''}\n"
      "spec:\n  ports: [{port: 80, targetPort: http}]\n",
      NULL);
  ASSERT(r != NULL);
  free(yaml);
  ASSERT_INT_EQ(resource_to_yaml(r, &yaml), 0);
  EXPECT_STR_CONTAINS(yaml, "version: \"1\"\n");
  EXPECT_STR_CONTAINS(yaml, "enabled: \"true\"\n");
  EXPECT_STR_CONTAINS(yaml, "empty: \"\"\n");
  EXPECT_STR_CONTAINS(yaml, "targetPort: http\n");
  resource_free(r);
out:
  free(yaml);
  free(json);
  resource_list_free(&l);
  diag_list_free(&d);
}

/* ---- cross-resource analysis -------------------------------------------------------------------- */

static void test_analyze(void) {
  struct resource_list l;
  struct diag_list d, w;
  resource_list_init(&l);
  diag_list_init(&d);
  diag_list_init(&w);
  /* topology + every route to v1 + subsets: clean */
  if (parse_conformance("bookinfo-platform/bookinfo.yaml", &l, &d) < 0 ||
      parse_conformance("bookinfo-networking/virtual-service-all-v1.yaml", &l, &d) != 4)
    goto out;
  /* without any DestinationRule: each route to v1 is flagged */
  EXPECT_INT_EQ(resource_analyze(l.items, l.len, &w), 4);
  EXPECT_STR_CONTAINS(w.items[0].message, "503 NC");
  EXPECT_STR_EQ(w.items[0].path, "spec.http[0].route[0].destination.subset");
  EXPECT_STR_EQ(w.items[0].file, "bookinfo-networking/virtual-service-all-v1.yaml");
  EXPECT_INT_EQ(w.items[0].line, 12);
  EXPECT_INT_EQ(w.items[0].col, 17);
  diag_list_free(&w);
  if (parse_conformance("bookinfo-networking/destination-rule-all.yaml", &l, &d) != 4) goto out;
  EXPECT_INT_EQ(resource_analyze(l.items, l.len, &w), 0);
  print_diags(&w);
  diag_list_free(&w);
  /* reviews v3 exists, but a made-up subset does not */
  if (parse_ok_into(VS_HEAD "  - route:\n    - destination: {host: reviews, subset: v9}\n", "v9.yaml", NULL, &l, &d) !=
      1)
    goto out;
  EXPECT_INT_EQ(resource_analyze(l.items, l.len, &w), 1);
  EXPECT_STR_CONTAINS(w.items[0].message, "defines subset 'v9'");
  EXPECT_INT_EQ(w.items[0].line, 9);
  diag_list_free(&w);
  /* gateway that does not exist, unknown host */
  if (parse_ok_into("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
                    "  name: ext\nspec:\n  hosts: ['*']\n  gateways: [missing-gateway, mesh]\n"
                    "  http:\n  - route:\n    - destination: {host: nowhere}\n",
                    "gw.yaml", NULL, &l, &d) != 1)
    goto out;
  EXPECT_INT_EQ(resource_analyze(l.items, l.len, &w), 3); /* v9 again, gateway, host */
  bool gw = false, host = false;
  for (size_t i = 0; i < w.len; i++) {
    if (strstr(w.items[i].message, "gateway 'missing-gateway' does not exist")) {
      gw = true;
      EXPECT_STR_EQ(w.items[i].path, "spec.gateways[0]");
      EXPECT_INT_EQ(w.items[i].line, 7);
      EXPECT_INT_EQ(w.items[i].col, 14);
    }
    if (strstr(w.items[i].message, "'nowhere' (nowhere.default.svc.cluster.local) is not a known")) {
      host = true;
      EXPECT_STR_EQ(w.items[i].path, "spec.http[0].route[0].destination.host");
    }
    EXPECT_INT_EQ(w.items[i].severity, DIAG_WARNING);
  }
  EXPECT(gw);
  EXPECT(host);
  diag_list_free(&w);
  /* Bookinfo's MySQL ratings: the subset is defined but nothing runs there */
  resource_list_free(&l);
  if (parse_conformance("bookinfo-platform/bookinfo.yaml", &l, &d) < 0 ||
      parse_conformance("bookinfo-networking/destination-rule-all.yaml", &l, &d) != 4 ||
      parse_conformance("bookinfo-networking/virtual-service-ratings-mysql.yaml", &l, &d) != 2)
    goto out;
  EXPECT_INT_EQ(resource_analyze(l.items, l.len, &w), 1);
  if (w.len == 1) {
    EXPECT_STR_CONTAINS(w.items[0].message,
                        "subset 'v2-mysql' of host "
                        "'ratings.default.svc.cluster.local' selects no workload");
    EXPECT_STR_CONTAINS(w.items[0].message, "version=v2-mysql");
    EXPECT_STR_CONTAINS(w.items[0].message, "503 UH");
  }
  diag_list_free(&w);
  /* Istio's own gateway + VS pair analyzes clean once the gateway is there */
  resource_list_free(&l);
  if (parse_conformance("bookinfo-platform/bookinfo.yaml", &l, &d) < 0 ||
      parse_conformance("bookinfo-networking/bookinfo-gateway.yaml", &l, &d) != 2 ||
      parse_conformance("bookinfo-networking/egress-rule-google-apis.yaml", &l, &d) != 3)
    goto out;
  EXPECT_INT_EQ(resource_analyze(l.items, l.len, &w), 0);
  print_diags(&w);
out:
  resource_list_free(&l);
  diag_list_free(&d);
  diag_list_free(&w);
}

static void test_free_null(void) {
  resource_free(NULL);
  resource_list_free(NULL);
  struct resource_list l;
  resource_list_init(&l);
  resource_list_free(&l);
  struct diag_list d;
  diag_list_init(&d);
  struct resource_list out;
  resource_list_init(&out);
  EXPECT_INT_EQ(resource_parse("", 0, "empty.yaml", NULL, &out, &d), 0);
  EXPECT_INT_EQ(out.len, 0);
  EXPECT_INT_EQ(resource_parse("---\n---\n", 8, "empty.yaml", NULL, &out, &d), 0);
  EXPECT_INT_EQ(out.len, 0);
  EXPECT_INT_EQ(resource_parse("- a\n", 4, "list.yaml", NULL, &out, &d), -EINVAL);
  EXPECT_STR_CONTAINS(d.items[0].message, "expected a mapping");
  diag_list_free(&d);
  resource_list_free(&out);
}

/* A jwksUri the lab cannot fetch is flagged; the lab issuer's own is not. */
static void test_analyze_jwks_uri(void) {
  struct resource_list l;
  struct diag_list d, w;
  resource_list_init(&l);
  diag_list_init(&d);
  diag_list_init(&w);
  if (parse_ok_into("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt-example}\n"
                    "spec:\n  jwtRules:\n  - issuer: testing@secure.istio.io\n"
                    "    jwksUri: https://raw.githubusercontent.com/istio/istio/release-1.24/security/tools/jwt/"
                    "samples/jwks.json\n"
                    "  - issuer: https://issuer.meshlab.local\n"
                    "    jwksUri: https://issuer.meshlab.local/.well-known/jwks.json\n",
                    "ra.yaml", NULL, &l, &d) != 1)
    goto out;
  EXPECT_INT_EQ(resource_analyze(l.items, l.len, &w), 1);
  if (w.len == 1) {
    EXPECT_STR_EQ(w.items[0].path, "spec.jwtRules[0].jwksUri");
    EXPECT_STR_CONTAINS(w.items[0].message, "the lab cannot fetch jwksUri https://raw.githubusercontent.com/");
    EXPECT_STR_CONTAINS(w.items[0].message, "Jwks remote fetch is failed");
    EXPECT_STR_CONTAINS(w.items[0].message, "inline with jwks:");
  }
out:
  resource_list_free(&l);
  diag_list_free(&d);
  diag_list_free(&w);
}

TEST_CASES(TEST(test_rich_model), TEST(test_jwks_inline_from_conformance), TEST(test_envoy_filter_rate_limit),
           TEST(test_warnings_and_notes), TEST(test_regex_warnings), TEST(test_round_trip),
           TEST(test_yaml_output_shape), TEST(test_analyze), TEST(test_analyze_jwks_uri), TEST(test_free_null))
