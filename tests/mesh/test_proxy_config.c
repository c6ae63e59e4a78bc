/* Integration tests over real sockets for what a pushed config turns on in mesh/proxy.c: a
 * VirtualService mirror (fire and forget), config pushes that keep pools and in-flight
 * requests, and jwt_authn then rbac on an inbound listener (filters.c). Same fixture as
 * test_proxy.c: origin and proxy on a background loop, blocking clients. */
#define _GNU_SOURCE /* strcasestr */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mesh/bootstrap.h"
#include "mesh/issuer.h"
#include "proxy_fixtures.h"
#include "support/client.h"
#include "support/fixture.h"
#include "support/test.h"

/* Runs on the loop thread: every route of the pushed config mirrors to its own first
 * destination at 100 % (what a VirtualService mirror compiles to), so the origin gets each
 * request twice: once from the request, once from its shadow. */
static void enable_mirror(struct fixture *f, void *arg) {
  (void)arg;
  struct proxy_config *cfg = f->px.config->cfg;
  for (size_t i = 0; i < cfg->route_configs_len; i++)
    for (size_t v = 0; v < cfg->route_configs[i].vhosts_len; v++)
      for (size_t k = 0; k < cfg->route_configs[i].vhosts[v].routes_len; k++) {
        struct xds_route *r = &cfg->route_configs[i].vhosts[v].routes[k];
        if (!r->destinations_len) continue;
        r->mirror_present = true;
        r->mirror = r->destinations[0];
        r->mirror_percentage.value = 100;
      }
}

static void read_mirror_stats(struct fixture *f, void *arg) {
  struct mirror_stats *m = arg;
  *m = f->px.mirrors.stats;
  m->sent += 1000 * mirror_set_inflight(&f->px.mirrors); /* in flight, folded in for the test to see */
}

static void mirror_is_fire_and_forget(void) {
  struct fixture f;
  START(f, NULL);
  fixture_call(&f, enable_mirror, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  get(&c, "/headers", &r);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(buf_cstr(&r.body), "Host: test\n"); /* the caller's answer is the request's own */
  client_response_free(&r);
  struct counts n = {0};
  struct mirror_stats m = {0};
  for (int i = 0; i < 100; i++) {
    fixture_call(&f, read_counts, &n);
    fixture_call(&f, read_mirror_stats, &m);
    if (n.origin_requests == 2 && m.responses == 1) break;
    usleep(10 * 1000);
  }
  EXPECT_INT_EQ(n.origin_requests, 2);
  EXPECT_INT_EQ(m.sent, 1);
  EXPECT_INT_EQ(m.responses, 1);
  EXPECT_INT_EQ(n.code_count[200], 1); /* the shadow is not a downstream request */
  /* A shadow still running when the proxy shuts down is cancelled, not waited for: the caller
   * of a 5 s request leaves, its shadow is cut at shutdown, the loop closes cleanly and fast. */
  struct client slow;
  ASSERT_INT_EQ(client_open(&slow, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&slow, "GET /delay/5000 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  usleep(100 * 1000);
  client_close(&slow);
  usleep(50 * 1000);
  fixture_call(&f, read_mirror_stats, &m);
  EXPECT_INT_EQ(m.sent, 1002); /* two sent, one in flight */
  client_close(&c);
  uint64_t start = uv_hrtime();
  STOP(f);
  EXPECT_INT_LE((uv_hrtime() - start) / 1000000, 2000);
}

struct push {
  int upstream_port;
  int rc;
  uint64_t version;
};

/* Runs on the loop thread: installs routing to upstream_port, as a push from the lab would. */
static void push_config(struct fixture *f, void *arg) {
  struct push *p = arg;
  char addr[64], err[256];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", p->upstream_port);
  struct proxy_limits l;
  proxy_limits_default(&l);
  struct bootstrap b;
  struct proxy_config *cfg = NULL;
  p->rc = bootstrap_for_proxy(&b, "127.0.0.1:0", addr, NULL, &l, NULL, NULL, err, sizeof err);
  if (p->rc == 0) p->rc = bootstrap_routing(&b, &cfg, err, sizeof err);
  bootstrap_free(&b);
  if (p->rc != 0) return;
  cfg->version = p->version;
  p->rc = proxy_set_config(&f->px, cfg);
}

static void pushes_keep_pools_and_in_flight_requests(void) {
  struct fixture f;
  START(f, NULL);
  struct client c, slow;
  struct client_response r;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  /* The same routing pushed again: the host and its pooled connection stay. */
  struct push p = {f.origin.port, -1, 2};
  fixture_call(&f, push_config, &p);
  ASSERT_INT_EQ(p.rc, 0);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.cx_total, 1);
  EXPECT_INT_EQ(n.origin_connections, 1);
  /* A request in flight when the routing moves to a dead endpoint still finishes under the
   * config it started with; the next request follows the new one. */
  struct fixture probe;
  START(probe, NULL);
  int dead_port = probe.origin.port;
  STOP(probe);
  ASSERT_INT_EQ(client_open(&slow, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&slow, "GET /delay/300 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  usleep(50 * 1000);
  struct push away = {dead_port, -1, 3};
  fixture_call(&f, push_config, &away);
  ASSERT_INT_EQ(away.rc, 0);
  ASSERT_INT_EQ(client_read(&slow, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_EQ(buf_cstr(&r.body), "delayed");
  client_response_free(&r);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 503);
  client_response_free(&r);
  /* And back: the retired host was freed, a new one serves. */
  struct push back = {f.origin.port, -1, 4};
  fixture_call(&f, push_config, &back);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  client_close(&c);
  client_close(&slow);
  STOP(f);
}

/* ---- jwt_authn and rbac on the inbound listener (filters.c) ----------------------------------- */

struct push_security {
  const char *policies; /* a JSON array of security_policies */
  int rc;
  char err[256];
};

/* Runs on the loop thread: the fixture's routing, plus security_policies, pushed as the lab
 * would (through compile_to_json / compile_from_json, so the key sets are parsed once). */
static void push_security_config(struct fixture *f, void *arg) {
  struct push_security *p = arg;
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", f->origin.port);
  struct proxy_limits l;
  proxy_limits_default(&l);
  struct bootstrap b;
  struct proxy_config *cfg = NULL, *with = NULL;
  p->rc = bootstrap_for_proxy(&b, "127.0.0.1:0", addr, NULL, &l, NULL, NULL, p->err, sizeof p->err);
  if (p->rc == 0) p->rc = bootstrap_routing(&b, &cfg, p->err, sizeof p->err);
  bootstrap_free(&b);
  if (p->rc != 0) return;
  char *json = NULL;
  p->rc = compile_to_json(cfg, 0, &json);
  proxy_config_free(cfg);
  if (p->rc != 0) return;
  json_t *root = json_loads(json, 0, NULL), *pol = json_loads(p->policies, 0, NULL);
  free(json);
  json_object_set_new(root, "version", json_integer(9));
  json_object_set_new(root, "security_policies", pol);
  json = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  p->rc = compile_from_json(json, strlen(json), "push", &with, p->err, sizeof p->err);
  free(json);
  if (p->rc == 0) p->rc = proxy_set_config(&f->px, with);
}

static void send_get(struct client *c, const char *path, const char *extra, struct client_response *r) {
  char req[2048];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n", path, extra ? extra : "");
  if (client_send_str(c, req) != 0 || client_read(c, r) != 0)
    test_fail(__FILE__, __LINE__, "GET %s: no complete response", path);
}

static void authenticates_then_authorizes_inbound(void) {
  char tmpl[] = "/tmp/meshlab-proxy-issuer-XXXXXX", err[256], keyfile[600];
  ASSERT(mkdtemp(tmpl) != NULL);
  struct issuer is;
  ASSERT_INT_EQ(issuer_load(tmpl, &is, err, sizeof err), 0);
  const char *groups[] = {"group1"};
  struct issuer_claims claims = {.sub = "alice", .groups = groups, .groups_len = 1};
  char *token = NULL;
  ASSERT_INT_EQ(issuer_mint(&is, &claims, (int64_t)time(NULL), &token, err, sizeof err), 0);
  json_t *pol = json_pack(
      "[{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s,s:s}]}},"
      " {s:s,s:s,s:{s:s},s:{s:s,s:[{s:[{s:{s:[s]}}]}]}}]",
      "apiVersion", "security.istio.io/v1", "kind", "RequestAuthentication", "metadata", "name", "jwt", "spec",
      "jwtRules", "issuer", ISSUER_NAME, "jwks", is.jwks, "outputPayloadToHeader", "x-jwt-payload", "apiVersion",
      "security.istio.io/v1", "kind", "AuthorizationPolicy", "metadata", "name", "deny-size-1", "spec", "action",
      "DENY", "rules", "to", "operation", "paths", "/size/1");
  /* destination.ip is the listener's own address. */
  json_array_append_new(pol, json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:[{s:[{s:{s:[s]}}],s:[{s:s,s:[s]}]}]}}", "apiVersion",
                                       "security.istio.io/v1", "kind", "AuthorizationPolicy", "metadata", "name",
                                       "deny-local", "spec", "action", "DENY", "rules", "to", "operation", "paths",
                                       "/size/3", "when", "key", "destination.ip", "values", "127.0.0.1"));
  char *text = json_dumps(pol, JSON_COMPACT);
  json_decref(pol);
  struct fixture f;
  START(f, NULL);
  struct push_security p = {text, -1, ""};
  fixture_call(&f, push_security_config, &p);
  if (p.rc != 0) test_fail(__FILE__, __LINE__, "push: %d %s", p.rc, p.err);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  /* No token: passes without a principal. */
  send_get(&c, "/size/10", NULL, &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  /* A valid token: the app gets the payload header and no Authorization header. */
  char hdr[1200];
  snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\nx-jwt-payload: forged\r\n", token);
  send_get(&c, "/headers", hdr, &r);
  EXPECT_INT_EQ(r.status, 200);
  const char *dot = strchr(token, '.');
  char want[800];
  snprintf(want, sizeof want, "x-jwt-payload: %.*s", (int)(strchr(dot + 1, '.') - dot - 1), dot + 1);
  EXPECT_STR_CONTAINS(buf_cstr(&r.body), want);
  EXPECT(strstr(buf_cstr(&r.body), "forged") == NULL);
  EXPECT(strcasestr(buf_cstr(&r.body), "authorization:") == NULL);
  client_response_free(&r);
  /* A broken token: 401 with Envoy's body and www-authenticate, never reaching the origin. */
  send_get(&c, "/size/10?x=1", "Authorization: Bearer a.b\r\n", &r);
  EXPECT_INT_EQ(r.status, 401);
  EXPECT_STR_EQ(buf_cstr(&r.body), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
  EXPECT_STR_CONTAINS(buf_cstr(&r.headers),
                      "www-authenticate: Bearer realm=\"http://test/size/10?x=1\", error=\"invalid_token\"");
  client_response_free(&r);
  /* DENY on the path: 403, with or without a token; the next path passes. */
  send_get(&c, "/size/1", NULL, &r);
  EXPECT_INT_EQ(r.status, 403);
  EXPECT_STR_EQ(buf_cstr(&r.body), "RBAC: access denied");
  client_response_free(&r);
  send_get(&c, "/size/1", hdr, &r);
  EXPECT_INT_EQ(r.status, 403);
  client_response_free(&r);
  send_get(&c, "/size/2", NULL, &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  send_get(&c, "/size/3", NULL, &r);
  EXPECT_INT_EQ(r.status, 403);
  client_response_free(&r);
  client_close(&c);
  STOP(f);
  free(text);
  free(token);
  issuer_free(&is);
  snprintf(keyfile, sizeof keyfile, "%s/issuer.key", tmpl);
  unlink(keyfile);
  snprintf(keyfile, sizeof keyfile, "%s/issuer-rs256.key", tmpl);
  unlink(keyfile);
  rmdir(tmpl);
}

TEST_CASES(TEST(mirror_is_fire_and_forget), TEST(pushes_keep_pools_and_in_flight_requests),
           TEST(authenticates_then_authorizes_inbound))
