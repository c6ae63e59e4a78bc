/* Tests for mesh/authz.c: AuthorizationPolicy evaluation, table-driven. The policies are the
 * YAML of Istio's security tasks (authorization for HTTP traffic, explicit deny, JWT, ingress
 * ipBlocks), parsed by resource_parse() as `meshlab apply` would, then evaluated against
 * requests described field by field.
 */
#include "mesh/authz.h"
#include "mesh/jwk.h"
#include "mesh/jwt.h"

#include <jansson.h>
#include <stdlib.h>

#include "mesh/diag.h"
#include "support/test.h"

#define HDR "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"

/* Policies by short name; each case lists the ones that apply to the workload. */
static const struct {
  const char *id;
  const char *yaml;
} POLICIES[] = {
    /* Istio task "Authorization for HTTP traffic": deny everything in the namespace. */
    {"allow-nothing", HDR "  name: allow-nothing\n  namespace: foo\nspec: {}\n"},
    {"allow-nothing-nospec", HDR "  name: allow-nothing-nospec\n  namespace: foo\n"},
    {"allow-all", HDR "  name: allow-all\n  namespace: foo\nspec:\n  rules:\n  - {}\n"},
    /* Istio task "Explicit deny": GET denied unless x-token: admin. */
    {"deny-method-get", HDR "  name: deny-method-get\n  namespace: foo\nspec:\n  action: DENY\n  rules:\n"
                            "  - to:\n    - operation:\n        methods: [\"GET\"]\n"
                            "    when:\n    - key: request.headers[x-token]\n      notValues: [\"admin\"]\n"},
    {"allow-path-ip", HDR "  name: allow-path-ip\n  namespace: foo\nspec:\n  action: ALLOW\n  rules:\n"
                          "  - to:\n    - operation:\n        paths: [\"/ip\"]\n"},
    /* Istio task "JWT": any valid token, then a specific principal, then a group claim. */
    {"require-jwt", HDR "  name: require-jwt\n  namespace: foo\nspec:\n  action: ALLOW\n  rules:\n"
                        "  - from:\n    - source:\n        requestPrincipals: [\"*\"]\n"},
    {"require-istio", HDR "  name: require-istio\n  namespace: foo\nspec:\n  rules:\n"
                          "  - from:\n    - source:\n        requestPrincipals: "
                          "[\"testing@secure.istio.io/testing@secure.istio.io\"]\n"},
    {"require-group1", HDR "  name: require-group1\n  namespace: foo\nspec:\n  rules:\n"
                           "  - from:\n    - source:\n        requestPrincipals: "
                           "[\"testing@secure.istio.io/testing@secure.istio.io\"]\n"
                           "    when:\n    - key: request.auth.claims[groups]\n      values: [\"group1\"]\n"},
    /* Bookinfo: productpage reads from namespace default; details via the productpage SA only. */
    {"ns-default", HDR "  name: ns-default\n  namespace: foo\nspec:\n  rules:\n"
                       "  - from:\n    - source:\n        namespaces: [\"default\"]\n"
                       "    to:\n    - operation:\n        methods: [\"GET\", \"HEAD\"]\n"},
    {"sa-productpage", HDR "  name: sa-productpage\n  namespace: foo\nspec:\n  rules:\n"
                           "  - from:\n    - source:\n        principals: "
                           "[\"cluster.local/ns/default/sa/bookinfo-productpage\"]\n"},
    {"paths", HDR "  name: paths\n  namespace: foo\nspec:\n  rules:\n"
                  "  - to:\n    - operation:\n        paths: [\"/status/*\", \"*.html\", \"/exact\"]\n"
                  "        notPaths: [\"/status/secret\"]\n"},
    /* Istio task "Ingress access control": ipBlocks and remoteIpBlocks. */
    {"deny-ips", HDR "  name: deny-ips\n  namespace: foo\nspec:\n  action: DENY\n  rules:\n"
                     "  - from:\n    - source:\n        ipBlocks: [\"10.1.0.0/16\", \"2001:db8::/32\"]\n"
                     "    - source:\n        remoteIpBlocks: [\"203.0.113.7\"]\n"},
    {"not-ns", HDR "  name: not-ns\n  namespace: foo\nspec:\n  action: DENY\n  rules:\n"
                   "  - from:\n    - source:\n        notNamespaces: [\"foo\"]\n"},
    {"hosts-ports", HDR "  name: hosts-ports\n  namespace: foo\nspec:\n  rules:\n"
                        "  - to:\n    - operation:\n        hosts: [\"httpbin.foo\", \"*.example.com\"]\n"
                        "        ports: [\"8000\"]\n"},
    {"nested-claim", HDR "  name: nested-claim\n  namespace: foo\nspec:\n  rules:\n"
                         "  - when:\n    - key: request.auth.claims[realm_access][role]\n      values: [\"admin\"]\n"
                         "    - key: request.auth.audiences\n      values: [\"httpbin\"]\n"
                         "    - key: request.auth.presenter\n      values: [\"web-*\"]\n"},
    {"when-source", HDR "  name: when-source\n  namespace: foo\nspec:\n  rules:\n"
                        "  - when:\n    - key: source.ip\n      values: [\"10.0.0.0/8\"]\n"
                        "    - key: source.principal\n      values: [\"*/sa/sleep\"]\n"
                        "    - key: request.auth.principal\n      notValues: [\"evil/*\"]\n"
                        "    - key: destination.port\n      values: [\"8000\"]\n"},
    {"audit-all", HDR "  name: audit-all\n  namespace: foo\nspec:\n  action: AUDIT\n  rules:\n  - {}\n"},
    {"dry-deny", HDR "  name: dry-deny\n  namespace: foo\n  annotations:\n    istio.io/dry-run: \"true\"\n"
                     "spec:\n  action: DENY\n  rules:\n  - to:\n    - operation:\n        methods: [\"POST\"]\n"},
    {"two-rules", HDR "  name: allow-jason\n  namespace: default\nspec:\n  rules:\n"
                      "  - to:\n    - operation:\n        paths: [\"/never\"]\n"
                      "  - when:\n    - key: request.headers[end-user]\n      values: [\"jason\"]\n"},
};
enum { NPOL = sizeof POLICIES / sizeof POLICIES[0] };

static struct resource_list parsed;
static struct authz_policy policies[NPOL];
static json_t *group_claims, *nested_claims;

static bool load(void) {
  if (parsed.len == NPOL) return true;
  resource_list_init(&parsed);
  for (size_t i = 0; i < NPOL; i++) {
    struct diag_list d;
    diag_list_init(&d);
    int rc = resource_parse(POLICIES[i].yaml, strlen(POLICIES[i].yaml), POLICIES[i].id, NULL, &parsed, &d);
    for (size_t k = 0; rc != 0 && k < d.len; k++) {
      char buf[512];
      diag_format(&d.items[k], buf, sizeof buf);
      fprintf(stderr, "  # %s\n", buf);
    }
    diag_list_free(&d);
    if (rc != 0) {
      test_fail(__FILE__, __LINE__, "policy %s does not parse", POLICIES[i].id);
      return false;
    }
    struct resource *r = parsed.items[i];
    policies[i] = (struct authz_policy){r->meta.name, r->meta.ns, &r->spec.authorization_policy};
  }
  json_error_t err;
  group_claims = json_loads(
      "{\"iss\":\"testing@secure.istio.io\",\"sub\":\"testing@secure.istio.io\","
      "\"groups\":[\"group1\",\"group2\"],\"scope\":[\"scope1\",\"scope2\"]}",
      0, &err);
  nested_claims =
      json_loads("{\"aud\":[\"x\",\"httpbin\"],\"azp\":\"web-app\",\"realm_access\":{\"role\":\"admin\"}}", 0, &err);
  return true;
}

static const struct authz_policy *find(const char *id) {
  for (size_t i = 0; i < NPOL; i++)
    if (strcmp(POLICIES[i].id, id) == 0) return &policies[i];
  return NULL;
}

/* A request: mostly defaults, a few fields per case. */
struct req {
  const char *method, *path, *host;
  unsigned port;
  const char *principal, *ns, *ip, *remote;
  const char *req_principal;
  int claims; /* 0 none, 1 groups-scope.jwt's, 2 nested */
  const char *hname, *hvalue;
};

struct authz_case {
  const char *name;
  const char *policies; /* space-separated ids */
  struct req r;
  enum authz_decision want;
  const char *reason; /* substring */
};

#define JWT_P "testing@secure.istio.io/testing@secure.istio.io"
#define SLEEP "cluster.local/ns/foo/sa/sleep"
#define PP "cluster.local/ns/default/sa/bookinfo-productpage"

static const struct authz_case CASES[] = {
    {"no policy: allowed", "", {0}, AUTHZ_ALLOWED, "no ALLOW policy applies"},
    {"allow-nothing denies GET", "allow-nothing", {0}, AUTHZ_DENIED, "ALLOW policies exist and none matched"},
    {"allow-nothing (no spec) denies", "allow-nothing-nospec", {0}, AUTHZ_DENIED, "none matched"},
    {"allow-nothing + allow-all: allowed",
     "allow-nothing allow-all",
     {0},
     AUTHZ_ALLOWED,
     "ALLOW by foo/allow-all rule 0"},
    {"deny-method-get denies GET", "deny-method-get", {0}, AUTHZ_DENIED, "DENY by foo/deny-method-get rule 0"},
    {"deny-method-get lets x-token: admin through",
     "deny-method-get",
     {.hname = "X-Token", .hvalue = "admin"},
     AUTHZ_ALLOWED,
     "no ALLOW"},
    {"deny-method-get: POST allowed", "deny-method-get", {.method = "POST"}, AUTHZ_ALLOWED, "no ALLOW"},
    {"DENY before ALLOW", "allow-all deny-method-get", {0}, AUTHZ_DENIED, "DENY by foo/deny-method-get"},
    {"allow-path-ip: /ip allowed",
     "allow-path-ip",
     {.path = "/ip"},
     AUTHZ_ALLOWED,
     "ALLOW by foo/allow-path-ip rule 0"},
    {"allow-path-ip: /ip?x=1 (query ignored)", "allow-path-ip", {.path = "/ip?x=1"}, AUTHZ_ALLOWED, "allow-path-ip"},
    {"allow-path-ip: /headers denied", "allow-path-ip", {.path = "/headers"}, AUTHZ_DENIED, "none matched"},
    {"requestPrincipals *: no token denied", "require-jwt", {0}, AUTHZ_DENIED, "none matched"},
    {"requestPrincipals *: any principal allowed",
     "require-jwt",
     {.req_principal = "a/b"},
     AUTHZ_ALLOWED,
     "require-jwt"},
    {"requestPrincipals *: empty principal denied", "require-jwt", {.req_principal = ""}, AUTHZ_DENIED, "none matched"},
    {"requestPrincipals exact", "require-istio", {.req_principal = JWT_P}, AUTHZ_ALLOWED, "require-istio rule 0"},
    {"requestPrincipals other", "require-istio", {.req_principal = "other/x"}, AUTHZ_DENIED, "none matched"},
    {"claims groups contains group1",
     "require-group1",
     {.req_principal = JWT_P, .claims = 1},
     AUTHZ_ALLOWED,
     "require-group1"},
    {"claims missing", "require-group1", {.req_principal = JWT_P}, AUTHZ_DENIED, "none matched"},
    {"namespaces default, GET", "ns-default", {.principal = PP}, AUTHZ_ALLOWED, "ns-default"},
    {"namespaces default, POST", "ns-default", {.principal = PP, .method = "POST"}, AUTHZ_DENIED, "none matched"},
    {"namespaces: explicit source namespace", "ns-default", {.ns = "default"}, AUTHZ_ALLOWED, "ns-default"},
    {"namespaces: other namespace", "ns-default", {.principal = SLEEP}, AUTHZ_DENIED, "none matched"},
    {"namespaces: no mTLS", "ns-default", {0}, AUTHZ_DENIED, "none matched"},
    {"principals exact", "sa-productpage", {.principal = PP}, AUTHZ_ALLOWED, "sa-productpage"},
    {"principals other", "sa-productpage", {.principal = SLEEP}, AUTHZ_DENIED, "none matched"},
    {"paths prefix", "paths", {.path = "/status/200"}, AUTHZ_ALLOWED, "paths rule 0"},
    {"paths notPaths", "paths", {.path = "/status/secret"}, AUTHZ_DENIED, "none matched"},
    {"paths suffix", "paths", {.path = "/docs/index.html"}, AUTHZ_ALLOWED, "paths"},
    {"paths exact", "paths", {.path = "/exact"}, AUTHZ_ALLOWED, "paths"},
    {"paths exact is not prefix", "paths", {.path = "/exactly"}, AUTHZ_DENIED, "none matched"},
    {"ipBlocks v4 in", "deny-ips", {.ip = "10.1.2.3"}, AUTHZ_DENIED, "DENY by foo/deny-ips"},
    {"ipBlocks v4 out", "deny-ips", {.ip = "10.2.0.1"}, AUTHZ_ALLOWED, "no ALLOW"},
    {"ipBlocks v6 in", "deny-ips", {.ip = "2001:db8::1"}, AUTHZ_DENIED, "deny-ips"},
    {"ipBlocks v6 out", "deny-ips", {.ip = "2001:db9::1"}, AUTHZ_ALLOWED, "no ALLOW"},
    {"remoteIpBlocks", "deny-ips", {.ip = "10.9.9.9", .remote = "203.0.113.7"}, AUTHZ_DENIED, "deny-ips"},
    {"notNamespaces: other ns denied", "not-ns", {.principal = PP}, AUTHZ_DENIED, "not-ns"},
    {"notNamespaces: same ns allowed", "not-ns", {.principal = SLEEP}, AUTHZ_ALLOWED, "no ALLOW"},
    {"notNamespaces: no mTLS counts as not foo", "not-ns", {0}, AUTHZ_DENIED, "not-ns"},
    {"hosts with port", "hosts-ports", {.host = "HTTPBIN.foo:8000"}, AUTHZ_ALLOWED, "hosts-ports"},
    {"hosts wildcard", "hosts-ports", {.host = "api.example.com"}, AUTHZ_ALLOWED, "hosts-ports"},
    {"hosts other", "hosts-ports", {.host = "evil.foo"}, AUTHZ_DENIED, "none matched"},
    {"ports other", "hosts-ports", {.host = "httpbin.foo", .port = 9000}, AUTHZ_DENIED, "none matched"},
    {"nested claim, audiences, presenter", "nested-claim", {.claims = 2}, AUTHZ_ALLOWED, "nested-claim"},
    {"nested claim missing", "nested-claim", {.claims = 1}, AUTHZ_DENIED, "none matched"},
    {"when source.ip, source.principal, notValues, port",
     "when-source",
     {.ip = "10.3.3.3", .principal = SLEEP, .req_principal = "good/x"},
     AUTHZ_ALLOWED,
     "when-source"},
    {"when notValues hit",
     "when-source",
     {.ip = "10.3.3.3", .principal = SLEEP, .req_principal = "evil/x"},
     AUTHZ_DENIED,
     "none matched"},
    {"when source.ip out", "when-source", {.ip = "192.168.0.1", .principal = SLEEP}, AUTHZ_DENIED, "none matched"},
    {"AUDIT never enforces", "audit-all", {0}, AUTHZ_ALLOWED, "no ALLOW"},
    {"dry-run DENY not enforced", "dry-deny", {.method = "POST"}, AUTHZ_ALLOWED, "no ALLOW"},
    {"second rule matches",
     "two-rules",
     {.hname = "end-user", .hvalue = "jason"},
     AUTHZ_ALLOWED,
     "ALLOW by default/allow-jason rule 1"},
    {"neither rule matches", "two-rules", {.hname = "end-user", .hvalue = "mary"}, AUTHZ_DENIED, "none matched"},
};

static void run_case(const struct authz_case *c, struct authz_verdict *v, struct authz_policy *buf, size_t *n) {
  *n = 0;
  char ids[256];
  snprintf(ids, sizeof ids, "%s", c->policies);
  for (char *save, *tok = strtok_r(ids, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    const struct authz_policy *p = find(tok);
    if (p) buf[(*n)++] = *p;
    else test_fail(__FILE__, __LINE__, "%s: no policy %s", c->name, tok);
  }
  struct authz_header h[] = {{"host", "httpbin.foo"},
                             {c->r.hname ? c->r.hname : "x-other", c->r.hvalue ? c->r.hvalue : "1"}};
  struct authz_request req = {
      .source_principal = c->r.principal,
      .source_namespace = c->r.ns,
      .source_ip = c->r.ip ? c->r.ip : "10.0.0.9",
      .remote_ip = c->r.remote,
      .request_principal = c->r.req_principal,
      .claims = c->r.claims == 1   ? group_claims
                : c->r.claims == 2 ? nested_claims
                                   : NULL,
      .headers = h,
      .headers_len = 2,
      .host = c->r.host ? c->r.host : "httpbin.foo",
      .port = c->r.port ? c->r.port : 8000,
      .method = c->r.method ? c->r.method : "GET",
      .path = c->r.path ? c->r.path : "/headers",
  };
  authz_evaluate(buf, *n, &req, v);
}

static void test_task_policies(void) {
  ASSERT(load());
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    const struct authz_case *c = &CASES[i];
    struct authz_policy buf[8];
    size_t n;
    struct authz_verdict v;
    run_case(c, &v, buf, &n);
    if (v.decision != c->want || !strstr(v.reason, c->reason))
      test_fail(__FILE__, __LINE__, "%s: got %s \"%s\", want %s with \"%s\"", c->name,
                v.decision == AUTHZ_DENIED ? "DENIED" : "ALLOWED", v.reason,
                c->want == AUTHZ_DENIED ? "DENIED" : "ALLOWED", c->reason);
    EXPECT_INT_EQ(v.status, c->want == AUTHZ_DENIED ? 403 : 0);
    if (c->want == AUTHZ_DENIED) EXPECT_STR_EQ(v.body, "RBAC: access denied");
  }
}

/* The verdict names the policy and rule, records AUDIT matches and dry-run decisions. */
static void test_verdict_fields(void) {
  ASSERT(load());
  struct authz_policy set[] = {*find("audit-all"), *find("dry-deny"), *find("deny-method-get")};
  struct authz_request req = {.method = "POST", .path = "/post", .host = "httpbin.foo", .port = 8000};
  struct authz_verdict v;
  authz_evaluate(set, 3, &req, &v);
  EXPECT_INT_EQ(v.decision, AUTHZ_ALLOWED);
  ASSERT(v.audit != NULL);
  EXPECT_STR_EQ(v.audit->name, "audit-all");
  EXPECT_INT_EQ(v.audit_rule, 0);
  EXPECT_STR_CONTAINS(v.dry_run_reason, "would be denied (DENY by foo/dry-deny rule 0)");
  EXPECT(v.policy == NULL);
  EXPECT_INT_EQ(v.rule, -1);
  req.method = "GET";
  authz_evaluate(set, 3, &req, &v);
  EXPECT_INT_EQ(v.decision, AUTHZ_DENIED);
  ASSERT(v.policy != NULL);
  EXPECT_STR_EQ(v.policy->name, "deny-method-get");
  EXPECT_STR_EQ(v.policy->namespace, "foo");
  EXPECT_INT_EQ(v.rule, 0);
  EXPECT_STR_CONTAINS(v.dry_run_reason, "would be allowed");
}

static void test_condition_keys(void) {
  static const struct {
    const char *key;
    bool ok;
  } keys[] = {
      {"request.headers[x-token]", true},
      {"request.headers[a][b]", false},
      {"request.headers[]", false},
      {"request.headers", false},
      {"request.auth.claims[groups]", true},
      {"request.auth.claims[a][b][c]", true},
      {"request.auth.claims", false},
      {"request.auth.claims[a", false},
      {"request.auth.claims[a]x", false},
      {"request.auth.claim[groups]", false},
      {"source.ip", true},
      {"remote.ip", true},
      {"source.namespace", true},
      {"source.principal", true},
      {"request.auth.principal", true},
      {"request.auth.audiences", true},
      {"request.auth.presenter", true},
      {"destination.ip", true},
      {"destination.port", true},
      {"connection.sni", true},
      {"experimental.envoy.filters.a.b[c]", false},
      {"source.user", false},
      {"request.path", false},
      {"", false},
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (authz_condition_key_supported(keys[i].key) != keys[i].ok)
      test_fail(__FILE__, __LINE__, "%s: want %s", keys[i].key, keys[i].ok ? "supported" : "refused");
}

/* Authentication, then authorization, as the proxy will chain them: a bad token is 401 even where
 * a policy allows everything (istio/istio#24371); no token passes authentication and only a
 * policy demanding a principal refuses it, with 403. Uses Istio's demo JWKS and tokens. */
static char *read_sample(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/istio/jwt-samples/%s", dir, name);
  size_t n = 0;
  char *s = test_read_file(path, &n);
  while (s && n > 0 && s[n - 1] == '\n') s[--n] = '\0';
  return s;
}

static int authn_then_authz(const struct jwt_provider *pv, const char *token, const char *policy_ids, char *why,
                            size_t why_size) {
  char bearer[4096];
  snprintf(bearer, sizeof bearer, "Bearer %s", token ? token : "");
  struct jwt_header_kv jh[] = {{"authorization", bearer}};
  struct jwt_request jr = {jh, token ? 1 : 0, "/headers"};
  struct jwt_outcome o;
  jwt_authenticate(pv, 1, &jr, 1700000000, &o);
  int status = o.status;
  if (status == 401) {
    snprintf(why, why_size, "401 %s", o.body);
  } else {
    struct authz_policy buf[8];
    size_t n = 0;
    struct authz_verdict v;
    char ids[256];
    snprintf(ids, sizeof ids, "%s", policy_ids);
    for (char *save, *tok = strtok_r(ids, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) buf[n++] = *find(tok);
    struct authz_request req = {.source_ip = "10.0.0.9",
                                .request_principal = o.token.principal,
                                .claims = o.token.claims,
                                .host = "httpbin.foo",
                                .port = 8000,
                                .method = "GET",
                                .path = "/headers"};
    authz_evaluate(buf, n, &req, &v);
    status = v.status ? v.status : 200;
    snprintf(why, why_size, "%d %.200s", status, v.reason);
  }
  jwt_outcome_clear(&o);
  return status;
}

static void test_with_authentication(void) {
  const char *dir = test_require_conformance();
  if (!dir) return;
  ASSERT(load());
  char *jwks = read_sample(dir, "jwks.json"), *demo = read_sample(dir, "demo.jwt");
  char *groups = read_sample(dir, "groups-scope.jwt");
  struct jwk_set *keys = NULL;
  char why[256];
  if (!jwks || !demo || !groups || jwk_set_parse(jwks, strlen(jwks), &keys, why, sizeof why) < 0) {
    test_fail(__FILE__, __LINE__, "istio/jwt-samples not usable");
    goto out;
  }
  char *tampered = strdup(demo);
  tampered[strlen(tampered) - 2] = tampered[strlen(tampered) - 2] == 'A' ? 'B' : 'A';
  struct resource_jwt_rule rule = {0};
  rule.issuer = "testing@secure.istio.io";
  rule.jwks = jwks;
  struct jwt_provider pv[] = {{&rule, keys}};
  struct {
    const char *name, *token, *policies;
    int status;
    const char *why;
  } cases[] = {
      {"bad token, allow-all: 401 first", tampered, "allow-all", 401, "Jwt verification fails"},
      {"no token, allow-all", NULL, "allow-all", 200, "allow-all"},
      {"no token, requestPrincipals *: 403", NULL, "require-jwt", 403, "none matched"},
      {"demo.jwt, requestPrincipals *", demo, "require-jwt", 200, "require-jwt"},
      {"demo.jwt has no groups: 403", demo, "require-group1", 403, "none matched"},
      {"groups-scope.jwt in group1", groups, "require-group1", 200, "require-group1"},
      {"bad token, no policy: still 401", tampered, "", 401, "Jwt verification fails"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int st = authn_then_authz(pv, cases[i].token, cases[i].policies, why, sizeof why);
    if (st != cases[i].status || !strstr(why, cases[i].why))
      test_fail(__FILE__, __LINE__, "%s: got \"%s\", want %d with \"%s\"", cases[i].name, why, cases[i].status,
                cases[i].why);
  }
  free(tampered);
out:
  jwk_set_free(keys);
  free(jwks);
  free(demo);
  free(groups);
}

static void test_teardown(void) {
  resource_list_free(&parsed);
  json_decref(group_claims);
  json_decref(nested_claims);
}

TEST_CASES(TEST(test_task_policies), TEST(test_verdict_fields), TEST(test_condition_keys),
           TEST(test_with_authentication), TEST(test_teardown))
