/* Tests for the resource layer (mesh/resource*.c), part one: Istio's own Bookinfo and sample
 * manifests from ../shared/conformance must parse; a table of broken inputs must fail with the
 * exact file:line:col, field path and message; defaults, namespaces, durations and kind names.
 * The full model, the writers (round trip) and the cross-resource analyzer are in
 * test_resource_model.c. */
#include "mesh/resource.h"

#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "resource_fixtures.h"
#include "support/test.h"

/* ---- conformance: Istio's own files --------------------------------------------------------- */

static void test_bookinfo_networking_all_parse(void) {
  const char *dir = test_require_conformance();
  if (dir == NULL) return;
  /* Every file of the folder, including any added later, must parse. */
  char path[1024];
  snprintf(path, sizeof path, "%s/istio/bookinfo-networking", dir);
  DIR *dh = opendir(path);
  ASSERT(dh != NULL);
  size_t files = 0;
  struct dirent *e;
  while ((e = readdir(dh)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 5, ".yaml") != 0) continue;
    char rel[512];
    snprintf(rel, sizeof rel, "bookinfo-networking/%s", e->d_name);
    struct resource_list list;
    struct diag_list d;
    resource_list_init(&list);
    diag_list_init(&d);
    int got = parse_conformance(rel, &list, &d);
    if (got < 1) test_fail(__FILE__, __LINE__, "%s: %d resources", rel, got);
    EXPECT_INT_EQ(diag_count(&d, DIAG_ERROR), 0);
    for (size_t i = 0; i < list.len; i++) {
      EXPECT(resource_kind_is_istio(list.items[i]->kind));
      if (!list.items[i]->meta.ns_written) /* certmanager-gateway.yaml names istio-system */
        EXPECT_STR_EQ(list.items[i]->meta.ns, "default");
    }
    resource_list_free(&list);
    diag_list_free(&d);
    files++;
  }
  closedir(dh);
  EXPECT_INT_EQ(files, sizeof NETWORKING / sizeof NETWORKING[0]);
}

static void test_bookinfo_networking_content(void) {
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  if (parse_conformance("bookinfo-networking/virtual-service-reviews-80-20.yaml", &l, &d) != 1) goto out;
  const struct resource_virtual_service *vs = &l.items[0]->spec.virtual_service;
  ASSERT_INT_EQ(vs->hosts_len, 1);
  EXPECT_STR_EQ(vs->hosts[0].written, "reviews");
  EXPECT_STR_EQ(vs->hosts[0].fqdn, "reviews.default.svc.cluster.local");
  ASSERT_INT_EQ(vs->http_len, 1);
  ASSERT_INT_EQ(vs->http[0].route_len, 2);
  EXPECT_INT_EQ(vs->http[0].route[0].weight.value, 80);
  EXPECT_INT_EQ(vs->http[0].route[1].weight.value, 20);
  EXPECT_STR_EQ(vs->http[0].route[1].destination.subset, "v2");
  EXPECT_INT_EQ(vs->http[0].route[1].destination.subset_pos.line, 16);
  /* Defaults the user did not write: mesh retry policy, no timeout. */
  EXPECT_INT_EQ(vs->http[0].retries.attempts.value, 2);
  EXPECT(!vs->http[0].retries.attempts.set);
  EXPECT(!vs->http[0].timeout.set);

  if (parse_conformance("bookinfo-networking/virtual-service-ratings-test-delay.yaml", &l, &d) != 1) goto out;
  vs = &l.items[1]->spec.virtual_service;
  ASSERT_INT_EQ(vs->http_len, 2);
  ASSERT_INT_EQ(vs->http[0].match_len, 1);
  ASSERT_INT_EQ(vs->http[0].match[0].headers_len, 1);
  EXPECT_STR_EQ(vs->http[0].match[0].headers[0].name, "end-user");
  EXPECT_INT_EQ(vs->http[0].match[0].headers[0].match.type, RESOURCE_MATCH_EXACT);
  EXPECT_STR_EQ(vs->http[0].match[0].headers[0].match.value, "jason");
  EXPECT(vs->http[0].fault.delay.present);
  EXPECT_INT_EQ(vs->http[0].fault.delay.fixed_delay.ms, 7000);
  EXPECT(vs->http[0].fault.delay.percentage.value == 100.0);

  if (parse_conformance("bookinfo-networking/bookinfo-gateway.yaml", &l, &d) != 2) goto out;
  const struct resource *gw = find(&l, RESOURCE_GATEWAY, "bookinfo-gateway");
  ASSERT(gw != NULL);
  ASSERT_INT_EQ(gw->spec.gateway.servers_len, 1);
  EXPECT_INT_EQ(gw->spec.gateway.servers[0].port.number, 8080);
  EXPECT_STR_EQ(gw->spec.gateway.servers[0].port.protocol, "HTTP");
  EXPECT_STR_EQ(gw->spec.gateway.servers[0].hosts.items[0], "*");
  EXPECT_STR_EQ(resource_map_get(&gw->spec.gateway.selector, "istio"), "ingressgateway");
  const struct resource *bvs = find(&l, RESOURCE_VIRTUAL_SERVICE, "bookinfo");
  ASSERT(bvs != NULL);
  EXPECT_STR_EQ(bvs->spec.virtual_service.hosts[0].fqdn, "*");
  EXPECT_INT_EQ(bvs->spec.virtual_service.http[0].match_len, 5);
  EXPECT_INT_EQ(bvs->spec.virtual_service.http[0].match[1].uri.type, RESOURCE_MATCH_PREFIX);
  EXPECT_INT_EQ(bvs->spec.virtual_service.http[0].route[0].destination.port, 9080);

  if (parse_conformance("bookinfo-networking/egress-rule-google-apis.yaml", &l, &d) != 3) goto out;
  const struct resource *se = find(&l, RESOURCE_SERVICE_ENTRY, "googleapis");
  ASSERT(se != NULL);
  EXPECT_INT_EQ(se->spec.service_entry.resolution, RESOURCE_RESOLUTION_DNS);
  EXPECT_INT_EQ(se->spec.service_entry.ports_len, 2);
  EXPECT_STR_EQ(se->spec.service_entry.hosts[0].fqdn, "www.googleapis.com");
  const struct resource *dr = find(&l, RESOURCE_DESTINATION_RULE, "originate-tls-for-googleapis");
  ASSERT(dr != NULL);
  EXPECT_INT_EQ(dr->spec.destination_rule.traffic_policy.load_balancer.simple, RESOURCE_LB_ROUND_ROBIN);
  ASSERT_INT_EQ(dr->spec.destination_rule.traffic_policy.port_level_len, 1);
  EXPECT_INT_EQ(dr->spec.destination_rule.traffic_policy.port_level[0].port, 443);
  EXPECT_INT_EQ(dr->spec.destination_rule.traffic_policy.port_level[0].tls.mode, RESOURCE_TLS_SIMPLE);
out:
  resource_list_free(&l);
  diag_list_free(&d);
}

static void test_bookinfo_platform(void) {
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  if (parse_conformance("bookinfo-platform/bookinfo.yaml", &l, &d) < 0) goto out;
  EXPECT_INT_EQ(count_kind(&l, RESOURCE_SERVICE), 4);
  EXPECT_INT_EQ(count_kind(&l, RESOURCE_SERVICE_ACCOUNT), 4);
  EXPECT_INT_EQ(count_kind(&l, RESOURCE_DEPLOYMENT), 6);
  EXPECT_INT_EQ(diag_count(&d, DIAG_ERROR), 0);
  static const struct {
    const char *name, *app, *version, *sa;
  } deps[] = {{"details-v1", "details", "v1", "bookinfo-details"},
              {"ratings-v1", "ratings", "v1", "bookinfo-ratings"},
              {"reviews-v1", "reviews", "v1", "bookinfo-reviews"},
              {"reviews-v2", "reviews", "v2", "bookinfo-reviews"},
              {"reviews-v3", "reviews", "v3", "bookinfo-reviews"},
              {"productpage-v1", "productpage", "v1", "bookinfo-productpage"}};
  for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++) {
    const struct resource *r = find(&l, RESOURCE_DEPLOYMENT, deps[i].name);
    if (r == NULL) {
      test_fail(__FILE__, __LINE__, "no deployment %s", deps[i].name);
      continue;
    }
    const struct resource_deployment *dep = &r->spec.deployment;
    EXPECT_INT_EQ(dep->replicas.value, 1);
    EXPECT(dep->replicas.set);
    EXPECT_STR_EQ(resource_map_get(&dep->labels, "app"), deps[i].app);
    EXPECT_STR_EQ(resource_map_get(&dep->labels, "version"), deps[i].version);
    EXPECT_STR_EQ(dep->service_account_name, deps[i].sa);
    ASSERT_INT_EQ(dep->containers_len, 1);
    ASSERT_INT_EQ(dep->containers[0].ports_len, 1);
    EXPECT_INT_EQ(dep->containers[0].ports[0].container_port, 9080);
    EXPECT_STR_CONTAINS(dep->containers[0].image, "examples-bookinfo-");
    /* imagePullPolicy is accepted and noted as ignored, with its line. */
    const struct diag *pull = NULL;
    for (size_t k = 0; k < r->notes.len; k++)
      if (strcmp(r->notes.items[k].path, "spec.template.spec.containers[0].imagePullPolicy") == 0)
        pull = &r->notes.items[k];
    ASSERT(pull != NULL);
    EXPECT_INT_EQ(pull->severity, DIAG_NOTE);
    EXPECT_INT_EQ(pull->col, 9);
    EXPECT_INT_GE(pull->line, r->pos.line + 20);
    EXPECT_STR_CONTAINS(pull->message, "ignored");
  }
  const struct resource *rv2 = find(&l, RESOURCE_DEPLOYMENT, "reviews-v2");
  ASSERT(rv2 != NULL);
  ASSERT_INT_EQ(rv2->spec.deployment.containers[0].env_len, 1);
  EXPECT_STR_EQ(rv2->spec.deployment.containers[0].env[0].name, "LOG_DIR");
  EXPECT_STR_EQ(rv2->spec.deployment.containers[0].env[0].value, "/tmp/logs");
  bool volumes_noted = false;
  for (size_t i = 0; i < rv2->notes.len; i++)
    volumes_noted = volumes_noted || strcmp(rv2->notes.items[i].path, "spec.template.spec.volumes") == 0;
  EXPECT(volumes_noted);
  const struct resource *pp = find(&l, RESOURCE_DEPLOYMENT, "productpage-v1");
  ASSERT(pp != NULL);
  EXPECT_STR_EQ(resource_map_get(&pp->spec.deployment.pod_annotations, "prometheus.io/port"), "9080");
  const struct resource *svc = find(&l, RESOURCE_SERVICE, "reviews");
  ASSERT(svc != NULL);
  ASSERT_INT_EQ(svc->spec.service.ports_len, 1);
  EXPECT_INT_EQ(svc->spec.service.ports[0].port, 9080);
  EXPECT_STR_EQ(svc->spec.service.ports[0].name, "http");
  EXPECT_STR_EQ(svc->spec.service.ports[0].protocol, "TCP");
  EXPECT_STR_EQ(resource_map_get(&svc->spec.service.selector, "app"), "reviews");
  EXPECT_STR_EQ(resource_map_get(&svc->meta.labels, "service"), "reviews");
  EXPECT(find(&l, RESOURCE_SERVICE_ACCOUNT, "bookinfo-productpage") != NULL);

  size_t before = l.len;
  if (parse_conformance("bookinfo-platform/bookinfo-versions.yaml", &l, &d) < 0) goto out;
  EXPECT_INT_EQ(l.len - before, 6);
  const struct resource *v2 = find(&l, RESOURCE_SERVICE, "reviews-v2");
  ASSERT(v2 != NULL);
  EXPECT_STR_EQ(resource_map_get(&v2->spec.service.selector, "version"), "v2");
out:
  resource_list_free(&l);
  diag_list_free(&d);
}

static void test_samples_httpbin_and_clients(void) {
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  if (parse_conformance("samples-httpbin/httpbin.yaml", &l, &d) != 3) goto out;
  const struct resource *svc = find(&l, RESOURCE_SERVICE, "httpbin");
  ASSERT(svc != NULL);
  EXPECT_INT_EQ(svc->spec.service.ports[0].port, 8000);
  EXPECT_INT_EQ(svc->spec.service.ports[0].target_port, 8080);
  const struct resource *dep = find(&l, RESOURCE_DEPLOYMENT, "httpbin");
  ASSERT(dep != NULL);
  EXPECT_STR_EQ(resource_map_get(&dep->spec.deployment.labels, "version"), "v1");
  EXPECT_STR_EQ(dep->spec.deployment.service_account_name, "httpbin");
  EXPECT_STR_EQ(dep->spec.deployment.containers[0].image, "docker.io/mccutchen/go-httpbin:v2.15.0");
  EXPECT_INT_EQ(dep->spec.deployment.containers[0].ports[0].container_port, 8080);
  EXPECT(find(&l, RESOURCE_SERVICE_ACCOUNT, "httpbin") != NULL);

  static const char *const clients[] = {"samples-clients/curl.yaml", "samples-clients/sleep.yaml",
                                        "samples-clients/fortio-deploy.yaml"};
  for (size_t i = 0; i < 3; i++)
    if (parse_conformance(clients[i], &l, &d) < 2) goto out;
  const struct resource *curl = find(&l, RESOURCE_DEPLOYMENT, "curl");
  ASSERT(curl != NULL);
  EXPECT_STR_EQ(curl->spec.deployment.service_account_name, "curl");
  ASSERT_INT_EQ(curl->spec.deployment.containers[0].command.len, 2);
  EXPECT_STR_EQ(curl->spec.deployment.containers[0].command.items[1], "infinity");
  EXPECT_STR_EQ(resource_map_get(&curl->spec.deployment.labels, "app"), "curl");
  EXPECT(find(&l, RESOURCE_DEPLOYMENT, "sleep") != NULL);
  const struct resource *fortio = find(&l, RESOURCE_DEPLOYMENT, "fortio-deploy");
  ASSERT(fortio != NULL);
  EXPECT_STR_EQ(fortio->spec.deployment.service_account_name, "default");
  EXPECT(!fortio->spec.deployment.service_account_set);
  EXPECT_STR_EQ(resource_map_get(&fortio->spec.deployment.labels, "app"), "fortio");
  ASSERT_INT_EQ(fortio->spec.deployment.containers[0].ports_len, 2);
  EXPECT_STR_EQ(fortio->spec.deployment.containers[0].ports[1].name, "grpc-ping");
  EXPECT_STR_CONTAINS(resource_map_get(&fortio->spec.deployment.pod_annotations, "proxy.istio.io/config"),
                      "inclusionPrefixes");
  EXPECT_INT_EQ(diag_count(&d, DIAG_ERROR), 0);
out:
  resource_list_free(&l);
  diag_list_free(&d);
}

/* ---- inputs that must fail -------------------------------------------------------------------- */

static const struct {
  const char *name;
  const char *yaml;
  int line, col;
  const char *path;
  const char *message;
} FAILURES[] = {
    {"unknown field",
     VS_HEAD "  - route:\n    - destination:\n        host: reviews\n"
             "    timeoutt: 1s\n",
     11, 5, "spec.http[0].timeoutt", "unknown field 'timeoutt'; did you mean 'timeout'?"},
    {"typo destinaton", VS_HEAD "  - route:\n    - destinaton:\n        host: reviews\n", 9, 7,
     "spec.http[0].route[0].destinaton", "did you mean 'destination'?"},
    {"unknown top-level", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspecs: {}\n", 4, 1, "specs",
     "did you mean 'spec'?"},
    {"unknown field no suggestion", DR_HEAD "  trafficPolicy:\n    bogus: 1\n", 8, 5, "spec.trafficPolicy.bogus",
     "expected one of: loadBalancer, connectionPool"},
    {"consecutiveErrors",
     DR_HEAD "  trafficPolicy:\n    outlierDetection:\n"
             "      consecutiveErrors: 5\n",
     9, 7, "spec.trafficPolicy.outlierDetection.consecutiveErrors", "use consecutive5xxErrors"},
    {"fault percent",
     VS_HEAD "  - fault:\n      delay:\n        percent: 50\n"
             "        fixedDelay: 7s\n" ROUTE,
     10, 9, "spec.http[0].fault.delay.percent", "use percentage.value"},
    {"abort percent",
     VS_HEAD "  - fault:\n      abort:\n        httpStatus: 503\n"
             "        percent: 10\n" ROUTE,
     11, 9, "spec.http[0].fault.abort.percent", "use percentage.value"},
    {"duration without unit", VS_HEAD "  - timeout: 5\n" ROUTE, 8, 14, "spec.http[0].timeout",
     "'5' is not a duration: the unit is missing; write 5s (seconds) or 5ms"},
    {"bad duration", VS_HEAD "  - timeout: 5x\n" ROUTE, 8, 14, "spec.http[0].timeout", "'5x' is not a valid duration"},
    {"duration zero", VS_HEAD "  - timeout: 0s\n" ROUTE, 8, 14, "spec.http[0].timeout", "at least 1ms"},
    {"sub-ms duration", VS_HEAD "  - timeout: 1500us\n" ROUTE, 8, 14, "spec.http[0].timeout", "whole milliseconds"},
    {"bad enum", DR_HEAD "  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n", 9, 15,
     "spec.trafficPolicy.loadBalancer.simple",
     "invalid value 'FASTEST'; expected one of: UNSPECIFIED, LEAST_REQUEST, ROUND_ROBIN, "
     "RANDOM, PASSTHROUGH, LEAST_CONN"},
    {"quoted number",
     VS_HEAD "  - route:\n    - destination: {host: reviews, subset: v1}\n"
             "      weight: \"50\"\n"
             "    - destination: {host: reviews, subset: v2}\n      weight: 50\n",
     10, 15, "spec.http[0].route[0].weight", "got the string \"50\"; remove the quotes"},
    {"string for list",
     "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
     "  name: r\nspec:\n  hosts: reviews\n  http: []\n",
     6, 10, "spec.hosts", "expected a list"},
    {"number for string", DR_HEAD "  subsets:\n  - name: v1\n    labels:\n      version: 1\n", 10, 16,
     "spec.subsets[0].labels.version", "expected a string, got the number 1; quote it: \"1\""},
    {"bool for number",
     DR_HEAD "  trafficPolicy:\n    connectionPool:\n      tcp:\n"
             "        maxConnections: yes\n",
     10, 25, "spec.trafficPolicy.connectionPool.tcp.maxConnections", "expected an integer"},
    {"missing name",
     "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n"
     "  namespace: default\nspec:\n  servers: []\n",
     4, 3, "metadata.name", "missing required field 'name'"},
    {"missing metadata", "apiVersion: v1\nkind: ServiceAccount\n", 1, 1, "metadata",
     "missing required field 'metadata'"},
    {"bad name", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: Reviews_SA\n", 4, 9, "metadata.name",
     "not a valid name"},
    {"duplicate key", DR_HEAD "  host: ratings\n", 7, 3, "", "duplicate key 'host' (first at line 6"},
    {"MeshPolicy",
     "apiVersion: authentication.istio.io/v1alpha1\nkind: MeshPolicy\nmetadata:\n"
     "  name: default\nspec:\n  peers:\n  - mtls: {}\n",
     2, 7, "kind", "use PeerAuthentication"},
    {"Policy",
     "apiVersion: authentication.istio.io/v1alpha1\nkind: Policy\nmetadata:\n"
     "  name: default\nspec:\n  peers:\n  - mtls: {}\n",
     2, 7, "kind", "use PeerAuthentication"},
    {"unsupported when key",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
     "metadata:\n  name: deny\nspec:\n  action: DENY\n  rules:\n"
     "  - when:\n    - key: request.auth.claim[groups]\n"
     "      values: [admin]\n",
     9, 12, "spec.rules[0].when[0].key", "not a condition key Istio supports"},
    /* Istio accepts these keys and silently ignores them; meshlab refuses (confusion 12). */
    {"when key without brackets",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
     "metadata:\n  name: deny\nspec:\n  action: DENY\n  rules:\n"
     "  - when:\n    - key: request.auth.claims\n      values: [admin]\n",
     9, 12, "spec.rules[0].when[0].key", "not a condition key Istio supports"},
    {"when Mixer-era key",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
     "metadata:\n  name: deny\nspec:\n  action: DENY\n  rules:\n"
     "  - when:\n    - key: source.user\n      values: [admin]\n",
     9, 12, "spec.rules[0].when[0].key", "not a condition key Istio supports"},
    {"when path key",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
     "metadata:\n  name: deny\nspec:\n  action: DENY\n  rules:\n"
     "  - when:\n    - key: request.path\n      values: [/admin]\n",
     9, 12, "spec.rules[0].when[0].key", "request.headers[NAME]"},
    {"when experimental key",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
     "metadata:\n  name: deny\nspec:\n  action: DENY\n  rules:\n"
     "  - when:\n    - key: experimental.envoy.filters.network.mysql_proxy[db.table]\n"
     "      values: ['[update]']\n",
     9, 12, "spec.rules[0].when[0].key", "meshlab does not implement them"},
    {"when header without name",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
     "metadata:\n  name: a\nspec:\n  rules:\n  - when:\n"
     "    - key: request.headers[]\n      values: [x]\n",
     8, 12, "spec.rules[0].when[0].key", "request.headers[NAME]"},
    {"tab indentation", VS_HEAD "  - route:\n\t- destination: {host: reviews}\n", 9, 1, "",
     "indentation must use spaces, not tabs"},
    {"malformed yaml", "metadata:\n  name: a\n    bad: indent\n", 3, 8, "", "mapping values are not allowed"},
    {"percentage range",
     VS_HEAD "  - fault:\n      abort:\n        httpStatus: 503\n"
             "        percentage: {value: 150}\n" ROUTE,
     11, 29, "spec.http[0].fault.abort.percentage.value", "percentage 150 is out of range; expected 0 to 100"},
    {"percentage scalar",
     VS_HEAD "  - fault:\n      abort:\n        httpStatus: 503\n"
             "        percentage: 50\n" ROUTE,
     11, 21, "spec.http[0].fault.abort.percentage", "write percentage: {value: 50}"},
    {"weights zero",
     VS_HEAD "  - route:\n    - destination: {host: reviews, subset: v1}\n"
             "      weight: 0\n    - destination: {host: reviews, subset: v2}\n"
             "      weight: 0\n",
     9, 5, "spec.http[0].route", "add up to 0"},
    {"negative weight", VS_HEAD "  - route:\n    - destination: {host: reviews}\n      weight: -5\n", 10, 15,
     "spec.http[0].route[0].weight", "out of range"},
    {"later field", VS_HEAD "  - corsPolicy: {}\n" ROUTE, 8, 5, "spec.http[0].corsPolicy",
     "not supported by meshlab yet"},
    {"later match field", VS_HEAD "  - match:\n    - sourceNamespace: foo\n" ROUTE, 9, 7,
     "spec.http[0].match[0].sourceNamespace", "not supported by meshlab yet"},
    {"renamed header op", VS_HEAD "  - appendHeaders: {x: y}\n" ROUTE, 8, 5, "spec.http[0].appendHeaders",
     "use headers.request.add"},
    {"missing hosts",
     "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
     "  name: r\nspec:\n  http:\n  - route:\n    - destination: {host: r}\n",
     6, 3, "spec.hosts", "missing required field 'hosts'"},
    {"missing destination host", VS_HEAD "  - route:\n    - destination: {subset: v1}\n", 9, 20,
     "spec.http[0].route[0].destination.host", "missing required field 'host'"},
    {"missing DR host",
     "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
     "  name: r\nspec:\n  subsets:\n  - name: v1\n",
     6, 3, "spec.host", "missing required field 'host'"},
    {"route and redirect", VS_HEAD "  - redirect: {uri: /x}\n" ROUTE, 8, 5, "spec.http[0]",
     "only one of route, redirect or directResponse"},
    {"no action", VS_HEAD "  - name: nothing\n", 8, 5, "spec.http[0]", "needs a route"},
    {"bad mtls mode",
     "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n"
     "  name: default\nspec:\n  mtls:\n    mode: STRICTT\n",
     7, 11, "spec.mtls.mode", "expected one of: UNSET, DISABLE, PERMISSIVE, STRICT"},
    {"portLevelMtls without selector",
     "apiVersion: security.istio.io/v1\n"
     "kind: PeerAuthentication\nmetadata:\n  name: p\nspec:\n"
     "  portLevelMtls:\n    8080: {mode: DISABLE}\n",
     7, 5, "spec.portLevelMtls", "needs a selector"},
    {"wrong apiVersion",
     "apiVersion: networking.istio.io/v2\nkind: Gateway\nmetadata:\n"
     "  name: g\nspec:\n  servers:\n  - port: {number: 80, name: http, "
     "protocol: HTTP}\n    hosts: ['*']\n",
     1, 13, "apiVersion", "use networking.istio.io/v1"},
    {"security in networking group",
     "apiVersion: networking.istio.io/v1\n"
     "kind: PeerAuthentication\nmetadata:\n  name: p\n",
     1, 13, "apiVersion", "use security.istio.io/v1"},
    {"unknown kind", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", 2, 7, "kind",
     "unknown kind 'ConfigMap'"},
    {"later kind", "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: x\n", 2, 7, "kind",
     "not supported by meshlab yet; for spec.outboundTrafficPolicy, set the mesh-wide mode with "
     "'meshlab up --outbound-traffic-policy REGISTRY_ONLY'"},
    {"other EnvoyFilter",
     "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n"
     "metadata:\n  name: lua\nspec:\n  configPatches:\n"
     "  - applyTo: HTTP_FILTER\n    patch:\n      operation: INSERT_BEFORE\n"
     "      value:\n        name: envoy.filters.http.lua\n",
     11, 15, "spec.configPatches[0].patch.value.name", "meshlab accepts only the local rate limit EnvoyFilter"},
    {"EnvoyFilter cluster patch",
     "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\n"
     "metadata:\n  name: c\nspec:\n  configPatches:\n"
     "  - applyTo: CLUSTER\n",
     7, 14, "spec.configPatches[0].applyTo", "not supported by meshlab yet"},
    {"jwt without issuer",
     "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
     "metadata:\n  name: jwt\nspec:\n  jwtRules:\n"
     "  - jwksUri: https://example.com/jwks.json\n",
     7, 5, "spec.jwtRules[0].issuer", "missing required field 'issuer'"},
    {"jwt bad inline jwks",
     "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
     "metadata:\n  name: jwt\nspec:\n  jwtRules:\n"
     "  - issuer: me\n    jwks: '{\"nokeys\": 1}'\n",
     8, 11, "spec.jwtRules[0].jwks", "no \"keys\" array"},
    {"jwt symmetric inline jwks",
     "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
     "metadata:\n  name: a\nspec:\n  jwtRules:\n"
     "  - issuer: me\n    jwks: '{\"keys\": [{\"kty\": \"oct\", \"k\": \"AAAA\"}]}'\n",
     8, 11, "spec.jwtRules[0].jwks", "symmetric keys (kty \"oct\") are refused"},
    {"jwt small RSA inline jwks",
     "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
     "metadata:\n  name: a\nspec:\n  jwtRules:\n"
     "  - issuer: me\n    jwks: '{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}'\n",
     8, 11, "spec.jwtRules[0].jwks", "use at least 2048"},
    {"jwks_uri old name",
     "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
     "metadata:\n  name: jwt\nspec:\n  jwtRules:\n"
     "  - issuer: me\n    jwks_uri: https://x/jwks\n",
     8, 5, "spec.jwtRules[0].jwks_uri", "use jwksUri"},
    {"custom action",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
     "  name: ext\nspec:\n  action: CUSTOM\n",
     6, 11, "spec.action", "CUSTOM is a valid Istio value but is not supported by meshlab yet"},
    {"bad ipBlock",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
     "  name: ip\nspec:\n  rules:\n  - from:\n    - source:\n"
     "        ipBlocks: [10.0.0.0/33]\n",
     9, 20, "spec.rules[0].from[0].source.ipBlocks[0]", "not an IP address or CIDR"},
    {"empty source",
     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
     "  name: e\nspec:\n  rules:\n  - from:\n    - source: {}\n",
     8, 15, "spec.rules[0].from[0].source", "source is empty"},
    {"selector mismatch",
     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n"
     "  selector:\n    matchLabels: {app: x}\n  template:\n    metadata:\n"
     "      labels: {app: y}\n    spec:\n      containers:\n"
     "      - name: x\n        image: x\n",
     7, 5, "spec.selector", "does not match the template labels"},
    {"replicas word",
     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n"
     "  replicas: two\n  template:\n    spec:\n      containers:\n"
     "      - name: x\n        image: x\n",
     6, 13, "spec.replicas", "expected an integer, got the string 'two'"},
    {"bad retryOn", VS_HEAD "  - retries:\n      attempts: 3\n      retryOn: 5xx,gateway-eror\n" ROUTE, 10, 16,
     "spec.http[0].retries.retryOn", "'gateway-eror' is not a retry condition"},
    {"retryOn code out of range", VS_HEAD "  - retries:\n      attempts: 3\n      retryOn: 'reset,600'\n" ROUTE, 10, 16,
     "spec.http[0].retries.retryOn", "'600' is not a retry condition"},
    {"retryOn gRPC name in Istio's case", VS_HEAD "  - retries:\n      attempts: 3\n      retryOn: UNAVAILABLE\n" ROUTE,
     10, 16, "spec.http[0].retries.retryOn", "'UNAVAILABLE' is not a retry condition"},
    {"max ejection",
     DR_HEAD "  trafficPolicy:\n    outlierDetection:\n"
             "      maxEjectionPercent: 150\n",
     9, 27, "spec.trafficPolicy.outlierDetection.maxEjectionPercent", "out of range"},
    {"duplicate subset", DR_HEAD "  subsets:\n  - name: v1\n  - name: v1\n", 9, 11, "spec.subsets[1].name",
     "subset 'v1' is already defined at line 8"},
    {"empty trafficPolicy", DR_HEAD "  trafficPolicy: {}\n", 7, 18, "spec.trafficPolicy", "trafficPolicy is empty"},
    {"simple and hash",
     DR_HEAD "  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n"
             "      consistentHash: {useSourceIp: true}\n",
     10, 23, "spec.trafficPolicy.loadBalancer.consistentHash", "only one of simple or consistentHash"},
    {"mutual tls later", DR_HEAD "  trafficPolicy:\n    tls: {mode: MUTUAL}\n", 8, 17, "spec.trafficPolicy.tls.mode",
     "MUTUAL is a valid Istio value but is not supported"},
    {"https without tls",
     "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n"
     "  name: g\nspec:\n  servers:\n  - port: {number: 443, name: https, "
     "protocol: HTTPS}\n    hosts: ['*']\n",
     7, 5, "spec.servers[0]", "needs tls.mode (SIMPLE)"},
    {"bad protocol",
     "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n"
     "  name: g\nspec:\n  servers:\n  - port: {number: 80, name: http, "
     "protocol: HTTP3}\n    hosts: ['*']\n",
     7, 46, "spec.servers[0].port.protocol", "invalid protocol 'HTTP3'"},
    {"serviceentry star",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n"
     "  name: s\nspec:\n  hosts: ['*']\n",
     6, 11, "spec.hosts[0]", "cannot use the host \"*\""},
    {"static endpoint hostname",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
     "metadata:\n  name: s\nspec:\n  hosts: [db.example.com]\n"
     "  resolution: STATIC\n  endpoints:\n  - address: db.internal\n",
     9, 14, "spec.endpoints[0].address", "resolution STATIC needs IP addresses"},
    {"grpc status", VS_HEAD "  - fault:\n      abort:\n        grpcStatus: UNAVAIL\n" ROUTE, 10, 21,
     "spec.http[0].fault.abort.grpcStatus", "expected one of: OK, CANCELLED"},
    {"service account with spec",
     "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n"
     "spec: {}\n",
     5, 1, "spec", "unknown field 'spec'"},
    {"generateName", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  generateName: a-\n", 4, 3,
     "metadata.generateName", "not supported by meshlab yet; set metadata.name"},
    {"kube typo still missing",
     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n"
     "spec:\n  template:\n    spec:\n      containers:\n"
     "      - name: x\n        imagee: x\n",
     9, 9, "spec.template.spec.containers[0].image", "missing required field 'image'"},
    {"service ports unnamed",
     "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n"
     "  ports:\n  - port: 80\n  - port: 81\n",
     7, 5, "spec.ports[0]", "must name each one"},
};

static void test_failures(void) {
  for (size_t i = 0; i < sizeof FAILURES / sizeof FAILURES[0]; i++) {
    struct resource_list l;
    struct diag_list d;
    resource_list_init(&l);
    diag_list_init(&d);
    int rc = resource_parse(FAILURES[i].yaml, strlen(FAILURES[i].yaml), "bad.yaml", NULL, &l, &d);
    bool found = false;
    for (size_t k = 0; k < d.len && !found; k++) {
      const struct diag *e = &d.items[k];
      found = e->severity == DIAG_ERROR && e->line == FAILURES[i].line && e->col == FAILURES[i].col &&
              strcmp(e->path, FAILURES[i].path) == 0 && strstr(e->message, FAILURES[i].message) != NULL &&
              strcmp(e->file, "bad.yaml") == 0;
    }
    if (rc != -EINVAL || l.len != 0 || !found) {
      test_fail(__FILE__, __LINE__, "case '%s': rc %d, %zu resources; want bad.yaml:%d:%d %s: %s", FAILURES[i].name, rc,
                l.len, FAILURES[i].line, FAILURES[i].col, FAILURES[i].path, FAILURES[i].message);
      print_diags(&d);
    }
    resource_list_free(&l);
    diag_list_free(&d);
  }
}

static void test_every_error_reported(void) {
  const char *yaml = VS_HEAD
      "  - timeout: 5\n    route:\n"
      "    - destination: {host: reviews, subset: v1}\n"
      "      weight: \"50\"\n"
      "    - destinaton: {host: reviews}\n"
      "---\n" DR_HEAD
      "  trafficPolicy:\n    outlierDetection:\n"
      "      consecutiveErrors: 5\n";
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  EXPECT_INT_EQ(resource_parse(yaml, strlen(yaml), "multi.yaml", NULL, &l, &d), -EINVAL);
  EXPECT_INT_EQ(l.len, 0);
  /* timeout, weight, destinaton (+ its missing destination), consecutiveErrors */
  EXPECT_INT_GE(diag_count(&d, DIAG_ERROR), 5);
  bool second_doc = false;
  for (size_t i = 0; i < d.len; i++)
    second_doc = second_doc || (d.items[i].line == 22 && strstr(d.items[i].path, "consecutiveErrors"));
  EXPECT(second_doc);
  resource_list_free(&l);
  diag_list_free(&d);
}

static void test_all_or_nothing(void) {
  const char *yaml = DR_HEAD "---\n" VS_HEAD "  - timeout: 5\n" ROUTE;
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  struct resource *keep = parse_one(DR_HEAD, NULL);
  ASSERT(keep != NULL);
  EXPECT_INT_EQ(resource_list_push(&l, keep), 0);
  EXPECT_INT_EQ(resource_parse(yaml, strlen(yaml), "x.yaml", NULL, &l, &d), -EINVAL);
  EXPECT_INT_EQ(l.len, 1); /* the valid DestinationRule of the bad apply was not added */
  EXPECT_INT_EQ(l.items[0], keep);
  resource_list_free(&l);
  diag_list_free(&d);
}

/* ---- defaults, namespaces, helpers --------------------------------------------------------------- */

static void test_defaults(void) {
  struct resource *r = parse_one(DR_HEAD
                                 "  trafficPolicy:\n    outlierDetection:\n"
                                 "      consecutive5xxErrors: 3\n"
                                 "    connectionPool:\n      http:\n"
                                 "        maxRequestsPerConnection: 1\n",
                                 NULL);
  ASSERT(r != NULL);
  const struct resource_traffic_policy *tp = &r->spec.destination_rule.traffic_policy;
  const struct resource_outlier_detection *od = &tp->outlier_detection;
  EXPECT(od->present);
  EXPECT_INT_EQ(od->consecutive_5xx_errors.value, 3);
  EXPECT(od->consecutive_5xx_errors.set);
  EXPECT_INT_EQ(od->interval.ms, 10000);
  EXPECT(!od->interval.set);
  EXPECT_INT_EQ(od->base_ejection_time.ms, 30000);
  EXPECT_INT_EQ(od->max_ejection_percent.value, 10);
  EXPECT_INT_EQ(od->min_health_percent.value, 0);
  EXPECT(!od->max_ejection_percent.set);
  EXPECT_INT_EQ(tp->connection_pool.tcp.connect_timeout.ms, 10000);
  EXPECT(!tp->connection_pool.tcp.connect_timeout.set);
  EXPECT_INT_EQ(tp->connection_pool.tcp.max_connections.value, UINT32_MAX);
  EXPECT_INT_EQ(tp->connection_pool.http.http1_max_pending_requests.value, UINT32_MAX);
  EXPECT_INT_EQ(tp->connection_pool.http.max_requests_per_connection.value, 1);
  EXPECT_INT_EQ(tp->load_balancer.simple, RESOURCE_LB_LEAST_REQUEST);
  EXPECT(!tp->load_balancer.present);
  /* writers omit what the user did not write */
  char *yaml = NULL;
  ASSERT_INT_EQ(resource_to_yaml(r, &yaml), 0);
  EXPECT_STR_CONTAINS(yaml, "consecutive5xxErrors: 3");
  EXPECT(strstr(yaml, "interval") == NULL);
  EXPECT(strstr(yaml, "connectTimeout") == NULL);
  EXPECT(strstr(yaml, "maxEjectionPercent") == NULL);
  free(yaml);
  resource_free(r);

  /* No DestinationRule policy at all: defaults are still readable, nothing is present. */
  r = parse_one(DR_HEAD, NULL);
  ASSERT(r != NULL);
  tp = &r->spec.destination_rule.traffic_policy;
  EXPECT(!tp->present);
  EXPECT(!tp->outlier_detection.present);
  EXPECT_INT_EQ(tp->outlier_detection.consecutive_5xx_errors.value, 5);
  EXPECT_INT_EQ(tp->connection_pool.tcp.connect_timeout.ms, 10000);
  resource_free(r);

  r = parse_one(VS_HEAD "  - retries:\n      perTryTimeout: 2s\n" ROUTE, NULL);
  ASSERT(r != NULL);
  const struct resource_http_route *h = &r->spec.virtual_service.http[0];
  EXPECT(h->retries.present);
  EXPECT_INT_EQ(h->retries.attempts.value, 2);
  EXPECT(!h->retries.attempts.set);
  EXPECT_INT_EQ(h->retries.per_try_timeout.ms, 2000);
  EXPECT_STR_EQ(h->retries.retry_on, RESOURCE_DEFAULT_RETRY_ON);
  EXPECT(!h->retries.retry_on_set);
  EXPECT_INT_EQ(h->route[0].weight.value, 100); /* a lone destination gets everything */
  EXPECT(!h->fault.present);
  EXPECT(!h->mirror_present);
  resource_free(r);

  /* fault percentage omitted: no request is faulted (Istio API comment). */
  r = parse_one(VS_HEAD "  - fault:\n      abort: {httpStatus: 503}\n" ROUTE, NULL);
  ASSERT(r != NULL);
  EXPECT_INT_EQ(r->spec.virtual_service.http[0].fault.abort.http_status, 503);
  EXPECT(!r->spec.virtual_service.http[0].fault.abort.percentage.set);
  EXPECT(r->spec.virtual_service.http[0].fault.abort.percentage.value == 0);
  resource_free(r);
}

static void test_namespaces(void) {
  /* no -n: "default" */
  struct resource *r = parse_one(VS_HEAD "  - route:\n    - destination: {host: ratings}\n", NULL);
  ASSERT(r != NULL);
  EXPECT_STR_EQ(r->meta.ns, "default");
  EXPECT(!r->meta.ns_written);
  EXPECT_STR_EQ(r->spec.virtual_service.hosts[0].fqdn, "reviews.default.svc.cluster.local");
  EXPECT_STR_EQ(r->spec.virtual_service.http[0].route[0].destination.host.fqdn, "ratings.default.svc.cluster.local");
  EXPECT_STR_EQ(r->spec.virtual_service.http[0].route[0].destination.host.written, "ratings");
  resource_free(r);

  /* -n bookinfo: short hosts resolve there */
  struct resource_parse_options opts = {.ns = "bookinfo", .ns_enforced = true};
  r = parse_one(DR_HEAD, &opts);
  ASSERT(r != NULL);
  EXPECT_STR_EQ(r->meta.ns, "bookinfo");
  EXPECT_STR_EQ(r->spec.destination_rule.host.fqdn, "reviews.bookinfo.svc.cluster.local");
  resource_free(r);

  /* explicit namespace is kept (and used for hosts) when -n is not enforced */
  const char *explicit_ns =
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
      "metadata:\n  name: reviews\n  namespace: prod\nspec:\n"
      "  host: reviews\n";
  struct resource_parse_options loose = {.ns = "other", .ns_enforced = false};
  r = parse_one(explicit_ns, &loose);
  ASSERT(r != NULL);
  EXPECT_STR_EQ(r->meta.ns, "prod");
  EXPECT(r->meta.ns_written);
  EXPECT_STR_EQ(r->spec.destination_rule.host.fqdn, "reviews.prod.svc.cluster.local");
  resource_free(r);

  /* kubectl's rule: -n other with an object naming prod is refused */
  struct resource_list l;
  struct diag_list d;
  resource_list_init(&l);
  diag_list_init(&d);
  struct resource_parse_options strict = {.ns = "other", .ns_enforced = true};
  EXPECT_INT_EQ(resource_parse(explicit_ns, strlen(explicit_ns), "ns.yaml", &strict, &l, &d), -EINVAL);
  ASSERT_INT_EQ(d.len, 1);
  EXPECT_INT_EQ(d.items[0].line, 5);
  EXPECT_STR_EQ(d.items[0].path, "metadata.namespace");
  EXPECT_STR_CONTAINS(d.items[0].message, "does not match -n other");
  resource_list_free(&l);
  diag_list_free(&d);

  /* FQDN and wildcard hosts are kept as written */
  static const struct {
    const char *host, *ns, *want;
  } hosts[] = {{"reviews", "default", "reviews.default.svc.cluster.local"},
               {"reviews", "prod", "reviews.prod.svc.cluster.local"},
               {"reviews.prod.svc.cluster.local", "default", "reviews.prod.svc.cluster.local"},
               {"reviews.prod", "default", "reviews.prod"},
               {"*", "default", "*"},
               {"*.example.com", "default", "*.example.com"},
               {"www.googleapis.com", "x", "www.googleapis.com"}};
  for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
    char *f = resource_host_fqdn(hosts[i].host, hosts[i].ns);
    EXPECT_STR_EQ(f, hosts[i].want);
    free(f);
  }
}

static void test_durations(void) {
  static const struct {
    const char *text;
    int rc;
    int64_t ms;
  } cases[] = {{"1s", 0, 1000},     {"0.5s", 0, 500},      {"100ms", 0, 100},   {"1h", 0, 3600000}, {"30m", 0, 1800000},
               {"1m30s", 0, 90000}, {"7s", 0, 7000},       {"2.5m", 0, 150000}, {"1000us", 0, 1},   {"0", 0, 0},
               {"0s", 0, 0},        {"5", -EINVAL, 0},     {"s", -EINVAL, 0},   {"1x", -EINVAL, 0}, {"", -EINVAL, 0},
               {"-1s", -EINVAL, 0}, {"1.5ms", -EINVAL, 0}, {"1s ", -EINVAL, 0}, {"1 s", -EINVAL, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t ms = -1;
    int rc = resource_duration_parse(cases[i].text, &ms);
    if (rc != cases[i].rc || (rc == 0 && ms != cases[i].ms))
      test_fail(__FILE__, __LINE__, "'%s': rc %d ms %lld, want rc %d ms %lld", cases[i].text, rc, (long long)ms,
                cases[i].rc, (long long)cases[i].ms);
  }
  static const struct {
    int64_t ms;
    const char *want;
  } fmt[] = {{500, "500ms"}, {7000, "7s"}, {90000, "90s"}, {120000, "2m"}, {3600000, "1h"}, {1500, "1500ms"}};
  for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
    char buf[32];
    resource_duration_format(fmt[i].ms, buf, sizeof buf);
    EXPECT_STR_EQ(buf, fmt[i].want);
  }
}

static void test_kind_names(void) {
  static const struct {
    const char *name;
    enum resource_kind kind;
  } cases[] = {{"VirtualService", RESOURCE_VIRTUAL_SERVICE},
               {"virtualservices", RESOURCE_VIRTUAL_SERVICE},
               {"vs", RESOURCE_VIRTUAL_SERVICE},
               {"dr", RESOURCE_DESTINATION_RULE},
               {"gw", RESOURCE_GATEWAY},
               {"serviceentry", RESOURCE_SERVICE_ENTRY},
               {"pa", RESOURCE_PEER_AUTHENTICATION},
               {"requestauthentications", RESOURCE_REQUEST_AUTHENTICATION},
               {"AuthorizationPolicy", RESOURCE_AUTHORIZATION_POLICY},
               {"svc", RESOURCE_SERVICE},
               {"sa", RESOURCE_SERVICE_ACCOUNT},
               {"deploy", RESOURCE_DEPLOYMENT},
               {"deployment.apps", RESOURCE_DEPLOYMENT}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    enum resource_kind k = RESOURCE_GATEWAY;
    EXPECT_INT_EQ(resource_kind_parse(cases[i].name, &k), 0);
    EXPECT_INT_EQ(k, cases[i].kind);
  }
  enum resource_kind k;
  EXPECT_INT_EQ(resource_kind_parse("configmap", &k), -ENOENT);
  EXPECT_STR_EQ(resource_kind_resource_name(RESOURCE_VIRTUAL_SERVICE), "virtualservice.networking.istio.io");
  EXPECT_STR_EQ(resource_kind_api_version(RESOURCE_PEER_AUTHENTICATION), "security.istio.io/v1");
  EXPECT_STR_EQ(resource_kind_api_version(RESOURCE_DEPLOYMENT), "apps/v1");
  EXPECT(!resource_kind_is_istio(RESOURCE_SERVICE));
}

TEST_CASES(TEST(test_bookinfo_networking_all_parse), TEST(test_bookinfo_networking_content),
           TEST(test_bookinfo_platform), TEST(test_samples_httpbin_and_clients), TEST(test_failures),
           TEST(test_every_error_reported), TEST(test_all_or_nothing), TEST(test_defaults), TEST(test_namespaces),
           TEST(test_durations), TEST(test_kind_names))
