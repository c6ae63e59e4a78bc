/* resource_security: PeerAuthentication, RequestAuthentication and AuthorizationPolicy from the
 * positioned YAML tree into resource.h's structs (the control plane's zero-trust config; the
 * sidecar's mTLS, JWT and RBAC checks read them).
 *
 * The one place meshlab is deliberately stricter than Istio: an AuthorizationPolicy `when`
 * key Istio does not support is silently ignored by Istio (so a typo turns a DENY into
 * nothing, see https://istio.io/latest/docs/reference/config/security/conditions/); here it
 * is an error that lists the supported keys.
 */
#include "mesh/resource_internal.h"

#include "mesh/authz.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END \
  { NULL, RF_OK, NULL }
#define OK(name) \
  { name, RF_OK, NULL }
#define LATER(name) \
  { name, RF_LATER, NULL }

static const struct rfield SELECTOR_FIELDS[] = {OK("matchLabels"), END};

static void parse_selector(struct rctx *c, const struct yamldoc_node *spec, const char *path, bool *has,
                           struct resource_map *labels) {
  const struct yamldoc_node *m;
  if (rget_map(c, spec, "selector", path, &m) <= 0) return;
  char p[RPATH_MAX];
  rpath_key(p, path, "selector");
  rcheck_keys(c, m, p, SELECTOR_FIELDS);
  *has = true;
  rget_labels(c, m, "matchLabels", p, labels);
  for (size_t i = 0; i < labels->len; i++) {
    if (strchr(labels->items[i].key, '*') || strchr(labels->items[i].value, '*')) {
      char lp[RPATH_MAX];
      rpath_key(lp, p, "matchLabels");
      rerror(c, yamldoc_get(m, "matchLabels"), lp, "wildcards are not allowed in matchLabels");
      break;
    }
  }
}

/* ---- PeerAuthentication -------------------------------------------------------------------- */

static const char *const MTLS_MODES[] = {"UNSET", "DISABLE", "PERMISSIVE", "STRICT", NULL};
static const struct rfield MTLS_FIELDS[] = {OK("mode"), END};
static const struct rfield PA_FIELDS[] = {OK("selector"), OK("mtls"), OK("portLevelMtls"), END};

void rparse_peer_authentication(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_peer_authentication *pa = &c->res->spec.peer_authentication;
  if (spec == NULL) return;
  rcheck_keys(c, spec, "spec", PA_FIELDS);
  parse_selector(c, spec, "spec", &pa->has_selector, &pa->selector);
  const struct yamldoc_node *m;
  int mode = 0;
  if (rget_map(c, spec, "mtls", "spec", &m) > 0) {
    rcheck_keys(c, m, "spec.mtls", MTLS_FIELDS);
    pa->mtls_present = true;
    if (rget_enum(c, m, "mode", "spec.mtls", MTLS_MODES, NULL, &mode) > 0) pa->mode = (enum resource_mtls_mode)mode;
  }
  if (rget_map(c, spec, "portLevelMtls", "spec", &m) <= 0) return;
  if (!pa->has_selector)
    rerror(c, m, "spec.portLevelMtls",
           "portLevelMtls needs a selector (it applies to the "
           "ports of selected workloads); add spec.selector.matchLabels");
  pa->port_level = rarena_alloc(c, (m->len + 1) * sizeof *pa->port_level);
  for (size_t i = 0; pa->port_level && i < m->len; i++) {
    const struct yamldoc_pair *pair = &m->pairs[i];
    char kp[RPATH_MAX];
    rpath_key(kp, "spec.portLevelMtls", pair->key->str);
    struct resource_port_mtls *pm = &pa->port_level[pa->port_level_len++];
    char *end;
    long port = strtol(pair->key->str, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535 || pair->key->str_len == 0)
      rerror(c, pair->key, kp, "'%s' is not a port number (1-65535)", pair->key->str);
    pm->port = (uint32_t)(port > 0 && port <= 65535 ? port : 0);
    if (!rexpect_map(c, pair->value, kp)) continue;
    rcheck_keys(c, pair->value, kp, MTLS_FIELDS);
    if (rget_enum(c, pair->value, "mode", kp, MTLS_MODES, NULL, &mode) > 0) pm->mode = (enum resource_mtls_mode)mode;
  }
}

/* ---- RequestAuthentication ----------------------------------------------------------------- */

static const struct rfield JWT_HEADER_FIELDS[] = {OK("name"), OK("prefix"), END};
static const struct rfield CLAIM_HEADER_FIELDS[] = {OK("header"), OK("claim"), END};
static const struct rfield JWT_RULE_FIELDS[] = {OK("issuer"),
                                                OK("audiences"),
                                                OK("jwksUri"),
                                                OK("jwks"),
                                                OK("fromHeaders"),
                                                OK("fromParams"),
                                                OK("fromCookies"),
                                                OK("outputPayloadToHeader"),
                                                OK("outputClaimToHeaders"),
                                                OK("forwardOriginalToken"),
                                                OK("timeout"),
                                                {"jwks_uri", RF_RENAMED, "jwksUri"},
                                                LATER("spaceDelimitedClaims"),
                                                END};
static const struct rfield RA_FIELDS[] = {OK("selector"), OK("jwtRules"), LATER("targetRef"), LATER("targetRefs"), END};

static void parse_jwt_rule(struct rctx *c, const struct yamldoc_node *n, const char *path,
                           struct resource_jwt_rule *j) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, JWT_RULE_FIELDS);
  j->pos = rpos(n);
  char p[RPATH_MAX], ip[RPATH_MAX];
  /* Istio's validation: "issuer must be set". */
  if (rrequire(c, n, "issuer", path)) rget_str(c, n, "issuer", path, &j->issuer);
  rget_strings(c, n, "audiences", path, &j->audiences);
  bool uri = rget_str(c, n, "jwksUri", path, &j->jwks_uri) > 0;
  bool inline_keys = rget_str(c, n, "jwks", path, &j->jwks) > 0;
  if (uri && strncmp(j->jwks_uri, "http://", 7) != 0 && strncmp(j->jwks_uri, "https://", 8) != 0) {
    rpath_key(p, path, "jwksUri");
    rerror(c, yamldoc_get(n, "jwksUri"), p, "'%s' is not an http:// or https:// URL", j->jwks_uri);
  }
  if (inline_keys) {
    char why[160];
    if (rjson_check_jwks(j->jwks, why, sizeof why) < 0) {
      rpath_key(p, path, "jwks");
      rerror(c, yamldoc_get(n, "jwks"), p,
             "inline JWKS is not usable: %s; paste the JSON key "
             "set ({\"keys\": [...]})",
             why);
    }
  }
  if (uri && inline_keys) rerror(c, n, path, "set only one of jwks (inline) or jwksUri");
  else if (!uri && !inline_keys && !yamldoc_get(n, "jwks") && !yamldoc_get(n, "jwksUri"))
    rerror(c, n, path,
           "set jwks (the key set inline, which works offline) or jwksUri; meshlab "
           "does not discover keys from the issuer");
  const struct yamldoc_node *seq;
  if (rget_seq(c, n, "fromHeaders", path, &seq) > 0) {
    rpath_key(p, path, "fromHeaders");
    j->from_headers = rarena_alloc(c, (seq->len + 1) * sizeof *j->from_headers);
    for (size_t i = 0; j->from_headers && i < seq->len; i++) {
      rpath_index(ip, p, i);
      struct resource_jwt_header *h = &j->from_headers[j->from_headers_len++];
      if (!rexpect_map(c, seq->items[i], ip)) continue;
      rcheck_keys(c, seq->items[i], ip, JWT_HEADER_FIELDS);
      if (rrequire(c, seq->items[i], "name", ip)) rget_str(c, seq->items[i], "name", ip, &h->name);
      rget_str(c, seq->items[i], "prefix", ip, &h->prefix);
    }
  }
  rget_strings(c, n, "fromParams", path, &j->from_params);
  rget_strings(c, n, "fromCookies", path, &j->from_cookies);
  rget_str(c, n, "outputPayloadToHeader", path, &j->output_payload_to_header);
  if (rget_seq(c, n, "outputClaimToHeaders", path, &seq) > 0) {
    rpath_key(p, path, "outputClaimToHeaders");
    j->output_claim_to_headers = rarena_alloc(c, (seq->len + 1) * sizeof *j->output_claim_to_headers);
    for (size_t i = 0; j->output_claim_to_headers && i < seq->len; i++) {
      rpath_index(ip, p, i);
      struct resource_claim_header *h = &j->output_claim_to_headers[j->output_claim_to_headers_len++];
      if (!rexpect_map(c, seq->items[i], ip)) continue;
      rcheck_keys(c, seq->items[i], ip, CLAIM_HEADER_FIELDS);
      if (rrequire(c, seq->items[i], "header", ip)) rget_str(c, seq->items[i], "header", ip, &h->header);
      if (rrequire(c, seq->items[i], "claim", ip)) rget_str(c, seq->items[i], "claim", ip, &h->claim);
    }
  }
  ropt_bool(c, n, "forwardOriginalToken", path, &j->forward_original_token);
  j->timeout.ms = 5000;
  ropt_ms(c, n, "timeout", path, &j->timeout);
}

void rparse_request_authentication(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_request_authentication *ra = &c->res->spec.request_authentication;
  if (spec == NULL) return;
  rcheck_keys(c, spec, "spec", RA_FIELDS);
  parse_selector(c, spec, "spec", &ra->has_selector, &ra->selector);
  const struct yamldoc_node *seq;
  if (rget_seq(c, spec, "jwtRules", "spec", &seq) <= 0) return;
  char ip[RPATH_MAX];
  ra->jwt_rules = rarena_alloc(c, (seq->len + 1) * sizeof *ra->jwt_rules);
  for (size_t i = 0; ra->jwt_rules && i < seq->len; i++) {
    rpath_index(ip, "spec.jwtRules", i);
    struct resource_jwt_rule *j = &ra->jwt_rules[ra->jwt_rules_len++];
    parse_jwt_rule(c, seq->items[i], ip, j);
    for (size_t k = 0; k < i && j->issuer; k++)
      if (ra->jwt_rules[k].issuer && strcmp(ra->jwt_rules[k].issuer, j->issuer) == 0)
        rerror(c, seq->items[i], ip, "issuer '%s' already has a rule at jwtRules[%zu]", j->issuer, k);
  }
}

/* ---- AuthorizationPolicy ------------------------------------------------------------------- */

static const struct rfield SOURCE_FIELDS[] = {OK("principals"),
                                              OK("notPrincipals"),
                                              OK("requestPrincipals"),
                                              OK("notRequestPrincipals"),
                                              OK("namespaces"),
                                              OK("notNamespaces"),
                                              OK("serviceAccounts"),
                                              OK("notServiceAccounts"),
                                              OK("ipBlocks"),
                                              OK("notIpBlocks"),
                                              OK("remoteIpBlocks"),
                                              OK("notRemoteIpBlocks"),
                                              LATER("trustDomains"),
                                              LATER("notTrustDomains"),
                                              {"names", RF_RENAMED, "principals"},
                                              {"users", RF_RENAMED, "requestPrincipals"},
                                              END};
static const struct rfield OPERATION_FIELDS[] = {OK("hosts"),    OK("notHosts"), OK("ports"),
                                                 OK("notPorts"), OK("methods"),  OK("notMethods"),
                                                 OK("paths"),    OK("notPaths"), END};
static const struct rfield FROM_FIELDS[] = {OK("source"), END};
static const struct rfield TO_FIELDS[] = {OK("operation"), END};
static const struct rfield CONDITION_FIELDS[] = {OK("key"), OK("values"), OK("notValues"), END};
static const struct rfield RULE_FIELDS[] = {OK("from"), OK("to"), OK("when"), END};
static const struct rfield AP_FIELDS[] = {OK("selector"),     OK("action"),        OK("rules"), LATER("provider"),
                                          LATER("targetRef"), LATER("targetRefs"), END};

/* "10.0.0.1", "10.0.0.0/16", "2001:db8::/32". */
static bool is_ip_or_cidr(const char *s) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", s);
  char *slash = strchr(buf, '/');
  int max_bits = 32;
  unsigned char addr[16];
  if (slash) *slash = '\0';
  if (inet_pton(AF_INET, buf, addr) != 1) {
    if (inet_pton(AF_INET6, buf, addr) != 1) return false;
    max_bits = 128;
  }
  if (!slash) return true;
  char *end;
  long bits = strtol(slash + 1, &end, 10);
  return slash[1] != '\0' && *end == '\0' && bits >= 0 && bits <= max_bits;
}

static void check_each(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
                       const struct resource_strings *list, bool (*ok)(const char *), const char *what) {
  for (size_t i = 0; i < list->len; i++) {
    if (ok(list->items[i])) continue;
    char p[RPATH_MAX], ip[RPATH_MAX];
    rpath_key(p, path, key);
    rpath_index(ip, p, i);
    rerror(c, yamldoc_get(map, key)->items[i], ip, "'%s' is not %s", list->items[i], what);
  }
}

static bool is_port(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return *s && *end == '\0' && v >= 0 && v <= 65535;
}

static void parse_source(struct rctx *c, const struct yamldoc_node *n, const char *path,
                         struct resource_authz_source *s) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, SOURCE_FIELDS);
  struct {
    const char *key;
    struct resource_strings *out;
  } f[] = {{"principals", &s->principals},
           {"notPrincipals", &s->not_principals},
           {"requestPrincipals", &s->request_principals},
           {"notRequestPrincipals", &s->not_request_principals},
           {"namespaces", &s->namespaces},
           {"notNamespaces", &s->not_namespaces},
           {"serviceAccounts", &s->service_accounts},
           {"notServiceAccounts", &s->not_service_accounts},
           {"ipBlocks", &s->ip_blocks},
           {"notIpBlocks", &s->not_ip_blocks},
           {"remoteIpBlocks", &s->remote_ip_blocks},
           {"notRemoteIpBlocks", &s->not_remote_ip_blocks}};
  size_t set = 0;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (rget_strings(c, n, f[i].key, path, f[i].out) > 0) set += f[i].out->len > 0;
  if (set == 0 && n->len == 0)
    rerror(c, n, path,
           "source is empty; set at least one field (principals, namespaces, "
           "requestPrincipals, ipBlocks ...)");
  check_each(c, n, "ipBlocks", path, &s->ip_blocks, is_ip_or_cidr, "an IP address or CIDR");
  check_each(c, n, "notIpBlocks", path, &s->not_ip_blocks, is_ip_or_cidr, "an IP address or CIDR");
  check_each(c, n, "remoteIpBlocks", path, &s->remote_ip_blocks, is_ip_or_cidr, "an IP address or CIDR");
  check_each(c, n, "notRemoteIpBlocks", path, &s->not_remote_ip_blocks, is_ip_or_cidr, "an IP address or CIDR");
  if ((s->service_accounts.len || s->not_service_accounts.len) && (s->principals.len || s->not_principals.len))
    rerror(c, n, path, "serviceAccounts cannot be combined with principals; use one of them");
  for (size_t i = 0; i < s->service_accounts.len; i++) {
    const char *sa = s->service_accounts.items[i];
    if (strchr(sa, '*')) {
      char p[RPATH_MAX], ip[RPATH_MAX];
      rpath_key(p, path, "serviceAccounts");
      rpath_index(ip, p, i);
      rerror(c, yamldoc_get(n, "serviceAccounts")->items[i], ip,
             "serviceAccounts take no wildcards ('%s'); write namespace/name or use principals", sa);
    }
  }
}

static void parse_operation(struct rctx *c, const struct yamldoc_node *n, const char *path,
                            struct resource_authz_operation *o) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, OPERATION_FIELDS);
  struct {
    const char *key;
    struct resource_strings *out;
  } f[] = {{"hosts", &o->hosts},        {"notHosts", &o->not_hosts}, {"ports", &o->ports},
           {"notPorts", &o->not_ports}, {"methods", &o->methods},    {"notMethods", &o->not_methods},
           {"paths", &o->paths},        {"notPaths", &o->not_paths}};
  size_t set = 0;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (rget_strings(c, n, f[i].key, path, f[i].out) > 0) set += f[i].out->len > 0;
  if (set == 0 && n->len == 0)
    rerror(c, n, path,
           "operation is empty; set at least one field (paths, methods, ports, "
           "hosts ...)");
  check_each(c, n, "ports", path, &o->ports, is_port, "a port number (as a string: \"8080\")");
  check_each(c, n, "notPorts", path, &o->not_ports, is_port, "a port number (as a string: \"8080\")");
}

/* Istio's supported condition keys (https://istio.io/latest/docs/reference/config/security/conditions/)
 * are what authz.c evaluates (authz_condition_key_supported), except experimental.envoy.filters.*,
 * which reads Envoy filter metadata meshlab does not produce. Istio silently ignores any other
 * key, so a typo turns a DENY into nothing; meshlab refuses it. */
static bool condition_key_ok(const char *key) { return authz_condition_key_supported(key); }

static void parse_condition(struct rctx *c, const struct yamldoc_node *n, const char *path,
                            struct resource_authz_condition *w) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, CONDITION_FIELDS);
  w->pos = rpos(n);
  char kp[RPATH_MAX];
  rpath_key(kp, path, "key");
  if (rrequire(c, n, "key", path) && rget_str(c, n, "key", path, &w->key) > 0 &&
      strncmp(w->key, "experimental.envoy.filters.", 27) == 0)
    rerror(c, yamldoc_get(n, "key"), kp,
           "'%s': Istio supports experimental.envoy.filters.* keys, but "
           "meshlab does not implement them (they read Envoy filter metadata); use a request.headers[] "
           "or request.auth.claims[] condition",
           w->key);
  else if (w->key && !condition_key_ok(w->key))
    rerror(c, yamldoc_get(n, "key"), kp,
           "'%s' is not a condition key Istio supports (Istio would silently ignore it); use "
           "one of: request.headers[NAME], source.ip, remote.ip, source.namespace, "
           "source.principal, request.auth.principal, request.auth.audiences, "
           "request.auth.presenter, request.auth.claims[NAME] (nested: [a][b]), destination.ip, "
           "destination.port, connection.sni",
           w->key);
  rget_strings(c, n, "values", path, &w->values);
  rget_strings(c, n, "notValues", path, &w->not_values);
  if (w->values.len == 0 && w->not_values.len == 0) rerror(c, n, path, "a condition needs values or notValues");
  if (w->key && strcmp(w->key, "destination.port") == 0) {
    check_each(c, n, "values", path, &w->values, is_port, "a port number");
    check_each(c, n, "notValues", path, &w->not_values, is_port, "a port number");
  }
  if (w->key &&
      (strcmp(w->key, "source.ip") == 0 || strcmp(w->key, "remote.ip") == 0 || strcmp(w->key, "destination.ip") == 0)) {
    check_each(c, n, "values", path, &w->values, is_ip_or_cidr, "an IP address or CIDR");
    check_each(c, n, "notValues", path, &w->not_values, is_ip_or_cidr, "an IP address or CIDR");
  }
}

static void parse_rule(struct rctx *c, const struct yamldoc_node *n, const char *path, struct resource_authz_rule *r) {
  if (yamldoc_is_null(n)) return; /* `rules: [{}]`-like null entry: matches everything */
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, RULE_FIELDS);
  const struct yamldoc_node *seq;
  char p[RPATH_MAX], ip[RPATH_MAX], sp[RPATH_MAX];
  if (rget_seq(c, n, "from", path, &seq) > 0) {
    rpath_key(p, path, "from");
    if (seq->len == 0) rerror(c, seq, p, "from is empty; remove it to allow any source");
    r->from = rarena_alloc(c, (seq->len + 1) * sizeof *r->from);
    for (size_t i = 0; r->from && i < seq->len; i++) {
      rpath_index(ip, p, i);
      struct resource_authz_source *s = &r->from[r->from_len++];
      if (!rexpect_map(c, seq->items[i], ip)) continue;
      rcheck_keys(c, seq->items[i], ip, FROM_FIELDS);
      rpath_key(sp, ip, "source");
      if (rrequire(c, seq->items[i], "source", ip)) parse_source(c, yamldoc_get(seq->items[i], "source"), sp, s);
    }
  }
  if (rget_seq(c, n, "to", path, &seq) > 0) {
    rpath_key(p, path, "to");
    if (seq->len == 0) rerror(c, seq, p, "to is empty; remove it to allow any operation");
    r->to = rarena_alloc(c, (seq->len + 1) * sizeof *r->to);
    for (size_t i = 0; r->to && i < seq->len; i++) {
      rpath_index(ip, p, i);
      struct resource_authz_operation *o = &r->to[r->to_len++];
      if (!rexpect_map(c, seq->items[i], ip)) continue;
      rcheck_keys(c, seq->items[i], ip, TO_FIELDS);
      rpath_key(sp, ip, "operation");
      if (rrequire(c, seq->items[i], "operation", ip))
        parse_operation(c, yamldoc_get(seq->items[i], "operation"), sp, o);
    }
  }
  if (rget_seq(c, n, "when", path, &seq) > 0) {
    rpath_key(p, path, "when");
    r->when = rarena_alloc(c, (seq->len + 1) * sizeof *r->when);
    for (size_t i = 0; r->when && i < seq->len; i++) {
      rpath_index(ip, p, i);
      parse_condition(c, seq->items[i], ip, &r->when[r->when_len++]);
    }
  }
}

const char *resource_authz_action_name(enum resource_authz_action action) {
  switch (action) {
  case RESOURCE_AUTHZ_ALLOW:
    return "ALLOW";
  case RESOURCE_AUTHZ_DENY:
    return "DENY";
  case RESOURCE_AUTHZ_AUDIT:
    return "AUDIT";
  }
  return "ALLOW";
}

void rparse_authorization_policy(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_authorization_policy *ap = &c->res->spec.authorization_policy;
  const char *dry = resource_map_get(&c->res->meta.annotations, "istio.io/dry-run");
  if (dry) {
    ap->dry_run = strcmp(dry, "true") == 0;
    if (!ap->dry_run && strcmp(dry, "false") != 0)
      rerror(c, NULL, "metadata.annotations.istio.io/dry-run", "'%s' is not \"true\" or \"false\"", dry);
  }
  if (spec == NULL) return; /* no spec: ALLOW with no rules, which denies everything */
  rcheck_keys(c, spec, "spec", AP_FIELDS);
  parse_selector(c, spec, "spec", &ap->has_selector, &ap->selector);
  static const char *const actions[] = {"ALLOW", "DENY", "AUDIT", NULL};
  static const char *const later[] = {"CUSTOM", NULL};
  int action = 0;
  if (rget_enum(c, spec, "action", "spec", actions, later, &action) > 0) {
    ap->action_set = true;
    ap->action = (enum resource_authz_action)action;
  }
  const struct yamldoc_node *seq;
  if (rget_seq(c, spec, "rules", "spec", &seq) <= 0) return;
  char ip[RPATH_MAX];
  ap->rules = rarena_alloc(c, (seq->len + 1) * sizeof *ap->rules);
  for (size_t i = 0; ap->rules && i < seq->len; i++) {
    rpath_index(ip, "spec.rules", i);
    parse_rule(c, seq->items[i], ip, &ap->rules[ap->rules_len++]);
  }
}
