/* authz: AuthorizationPolicy evaluation (see authz.h). Pure and allocation-free: the verdict
 * points into the policies it was given.
 *
 * The matching rules reproduce what istiod's RBAC translation makes Envoy do
 * (pilot/pkg/security/authz/model): string values become exact / prefix / suffix / presence
 * matchers, ipBlocks become CIDR ranges, paths match the URL path without its query, hosts match
 * :authority case-insensitively (with or without a port), a not-field wraps its matchers in
 * `not_id`, so it matches when the attribute is absent.
 */
#include "mesh/authz.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- string and address matching ------------------------------------------------------------ */

/* Istio's string match: "*" any non-empty, "abc*" prefix, "*abc" suffix, else exact. */
static bool str_match(const char *pattern, const char *value, bool nocase) {
  if (value == NULL) return false;
  size_t p = strlen(pattern), v = strlen(value);
  int (*cmp)(const char *, const char *, size_t) = nocase ? strncasecmp : strncmp;
  if (strcmp(pattern, "*") == 0) return v > 0;
  if (p > 0 && pattern[p - 1] == '*') return v >= p - 1 && cmp(value, pattern, p - 1) == 0;
  if (p > 0 && pattern[0] == '*') return v >= p - 1 && cmp(value + v - (p - 1), pattern + 1, p - 1) == 0;
  return p == v && cmp(value, pattern, p) == 0;
}

static bool any_match(const struct resource_strings *list, const char *value) {
  for (size_t i = 0; i < list->len; i++)
    if (str_match(list->items[i], value, false)) return true;
  return false;
}

/* "10.0.0.0/16" or "10.0.0.1" against an address; v4 and v6, never across families. */
static bool cidr_match(const char *block, const char *ip) {
  if (ip == NULL) return false;
  char buf[64];
  snprintf(buf, sizeof buf, "%s", block);
  char *slash = strchr(buf, '/');
  if (slash) *slash = '\0';
  unsigned char net[16], addr[16];
  int len;
  if (inet_pton(AF_INET, buf, net) == 1) {
    if (inet_pton(AF_INET, ip, addr) != 1) return false;
    len = 32;
  } else if (inet_pton(AF_INET6, buf, net) == 1) {
    if (inet_pton(AF_INET6, ip, addr) != 1) return false;
    len = 128;
  } else {
    return false;
  }
  int bits = slash ? atoi(slash + 1) : len;
  if (bits < 0 || bits > len) return false;
  for (int i = 0; i < bits / 8; i++)
    if (net[i] != addr[i]) return false;
  int rest = bits % 8;
  if (rest) {
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    if ((net[bits / 8] & mask) != (addr[bits / 8] & mask)) return false;
  }
  return true;
}

static bool any_cidr(const struct resource_strings *list, const char *ip) {
  for (size_t i = 0; i < list->len; i++)
    if (cidr_match(list->items[i], ip)) return true;
  return false;
}

/* A field and its not-form: the field (when set) must match, the not-form must not. */
static bool field_ok(const struct resource_strings *yes, const struct resource_strings *no,
                     bool (*match)(const struct resource_strings *, const char *), const char *value) {
  if (yes->len && !match(yes, value)) return false;
  if (no->len && match(no, value)) return false;
  return true;
}

/* ---- request attributes --------------------------------------------------------------------- */

/* Namespace and "ns/sa" from a SPIFFE-style principal "<td>/ns/<ns>/sa/<sa>". */
static bool principal_parts(const char *principal, char *ns, size_t ns_size, char *nssa, size_t nssa_size) {
  const char *p = principal ? strstr(principal, "/ns/") : NULL;
  if (p == NULL) return false;
  p += 4;
  const char *sa = strstr(p, "/sa/");
  if (sa == NULL) return false;
  snprintf(ns, ns_size, "%.*s", (int)(sa - p), p);
  snprintf(nssa, nssa_size, "%.*s/%s", (int)(sa - p), p, sa + 4);
  return true;
}

static const char *source_namespace(const struct authz_request *req, char *buf, size_t size) {
  char nssa[256];
  if (req->source_namespace) return req->source_namespace;
  return principal_parts(req->source_principal, buf, size, nssa, sizeof nssa) ? buf : NULL;
}

static const char *header_get(const struct authz_request *req, const char *name) {
  for (size_t i = 0; i < req->headers_len; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  return NULL;
}

/* ---- rules ---------------------------------------------------------------------------------- */

static bool source_matches(const struct resource_authz_source *s, const struct authz_request *req) {
  char ns[128], nssa[256];
  const char *remote = req->remote_ip ? req->remote_ip : req->source_ip;
  const char *sa = principal_parts(req->source_principal, ns, sizeof ns, nssa, sizeof nssa) ? nssa : NULL;
  char nsbuf[128];
  return field_ok(&s->principals, &s->not_principals, any_match, req->source_principal) &&
         field_ok(&s->request_principals, &s->not_request_principals, any_match, req->request_principal) &&
         field_ok(&s->namespaces, &s->not_namespaces, any_match, source_namespace(req, nsbuf, sizeof nsbuf)) &&
         field_ok(&s->service_accounts, &s->not_service_accounts, any_match, sa) &&
         field_ok(&s->ip_blocks, &s->not_ip_blocks, any_cidr, req->source_ip) &&
         field_ok(&s->remote_ip_blocks, &s->not_remote_ip_blocks, any_cidr, remote);
}

/* hosts: case-insensitive; a value without a port also matches the host with any port. */
static bool any_host(const struct resource_strings *list, const char *host) {
  if (host == NULL) return false;
  char bare[256];
  snprintf(bare, sizeof bare, "%s", host);
  /* "host:8000" → "host"; "[::1]:80" → "[::1]"; a bare IPv6 address keeps its colons. */
  char *colon = bare[0] == '[' ? strchr(bare, ']') : strchr(bare, ':');
  if (bare[0] == '[' && colon && colon[1] == ':') colon[1] = '\0';
  else if (bare[0] != '[' && colon && strchr(colon + 1, ':') == NULL) *colon = '\0';
  for (size_t i = 0; i < list->len; i++)
    if (str_match(list->items[i], host, true) ||
        (!strchr(list->items[i], ':') && str_match(list->items[i], bare, true)))
      return true;
  return false;
}

/* paths: the URL path without query or fragment. */
static bool any_path(const struct resource_strings *list, const char *path) {
  if (path == NULL) return false;
  char p[2048];
  snprintf(p, sizeof p, "%.*s", (int)strcspn(path, "?#"), path);
  return any_match(list, p);
}

static bool any_port(const struct resource_strings *list, const char *port) { return any_match(list, port); }

static bool operation_matches(const struct resource_authz_operation *o, const struct authz_request *req) {
  char port[16];
  snprintf(port, sizeof port, "%u", req->port);
  return field_ok(&o->hosts, &o->not_hosts, any_host, req->host) &&
         field_ok(&o->ports, &o->not_ports, any_port, port) &&
         field_ok(&o->methods, &o->not_methods, any_match, req->method) &&
         field_ok(&o->paths, &o->not_paths, any_path, req->path);
}

/* request.auth.claims[a][b]: walks the claims object; returns the value or NULL. */
static const json_t *claim_lookup(const json_t *claims, const char *key) {
  const char *s = key + strlen("request.auth.claims");
  const json_t *v = claims;
  while (*s == '[' && v) {
    const char *close = strchr(s, ']');
    if (close == NULL) return NULL;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(close - s - 1), s + 1);
    v = json_is_object(v) ? json_object_get(v, name) : NULL;
    s = close + 1;
  }
  return v;
}

/* Istio's claim condition: a string claim matches a value; a list of strings matches when any
 * element does. Other JSON types never match (Istio supports string and string-list claims). */
static bool claim_matches(const json_t *claim, const struct resource_strings *values) {
  if (json_is_string(claim)) return any_match(values, json_string_value(claim));
  if (json_is_array(claim)) {
    size_t i;
    const json_t *e;
    json_array_foreach(claim, i, e) if (json_is_string(e) && any_match(values, json_string_value(e))) return true;
  }
  return false;
}

static bool audiences_match(const struct authz_request *req, const struct resource_strings *values) {
  if (req->audiences_len) {
    for (size_t i = 0; i < req->audiences_len; i++)
      if (any_match(values, req->audiences[i])) return true;
    return false;
  }
  return claim_matches(req->claims ? json_object_get(req->claims, "aud") : NULL, values);
}

/* One condition against a value list (values or notValues); true when any value matches. */
static bool condition_hits(const char *key, const struct resource_strings *values, const struct authz_request *req) {
  char buf[128];
  if (strncmp(key, "request.headers[", 16) == 0) {
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(key) - 17), key + 16);
    return any_match(values, header_get(req, name));
  }
  if (strncmp(key, "request.auth.claims[", 20) == 0)
    return claim_matches(req->claims ? claim_lookup(req->claims, key) : NULL, values);
  if (strcmp(key, "source.ip") == 0) return any_cidr(values, req->source_ip);
  if (strcmp(key, "remote.ip") == 0) return any_cidr(values, req->remote_ip ? req->remote_ip : req->source_ip);
  if (strcmp(key, "destination.ip") == 0) return any_cidr(values, req->destination_ip);
  if (strcmp(key, "source.namespace") == 0) return any_match(values, source_namespace(req, buf, sizeof buf));
  if (strcmp(key, "source.principal") == 0) return any_match(values, req->source_principal);
  if (strcmp(key, "request.auth.principal") == 0) return any_match(values, req->request_principal);
  if (strcmp(key, "request.auth.audiences") == 0) return audiences_match(req, values);
  if (strcmp(key, "request.auth.presenter") == 0) {
    const char *azp = req->presenter;
    if (azp == NULL && req->claims) azp = json_string_value(json_object_get(req->claims, "azp"));
    return any_match(values, azp);
  }
  if (strcmp(key, "destination.port") == 0) {
    snprintf(buf, sizeof buf, "%u", req->port);
    return any_match(values, buf);
  }
  if (strcmp(key, "connection.sni") == 0) return any_match(values, req->sni);
  return false; /* unreachable for parsed policies: resource_security.c refuses other keys */
}

static bool condition_matches(const struct resource_authz_condition *w, const struct authz_request *req) {
  if (w->key == NULL) return false;
  if (w->values.len && !condition_hits(w->key, &w->values, req)) return false;
  if (w->not_values.len && condition_hits(w->key, &w->not_values, req)) return false;
  return true;
}

static bool rule_matches(const struct resource_authz_rule *r, const struct authz_request *req) {
  bool from = r->from_len == 0, to = r->to_len == 0;
  for (size_t i = 0; !from && i < r->from_len; i++) from = source_matches(&r->from[i], req);
  for (size_t i = 0; from && !to && i < r->to_len; i++) to = operation_matches(&r->to[i], req);
  if (!from || !to) return false;
  for (size_t i = 0; i < r->when_len; i++)
    if (!condition_matches(&r->when[i], req)) return false;
  return true;
}

/* The first rule of p that matches, or -1. */
static int policy_match(const struct authz_policy *p, const struct authz_request *req) {
  for (size_t i = 0; p->spec && i < p->spec->rules_len; i++)
    if (rule_matches(&p->spec->rules[i], req)) return (int)i;
  return -1;
}

bool authz_condition_key_supported(const char *key) {
  static const char *const KEYS[] = {"source.ip",
                                     "remote.ip",
                                     "source.namespace",
                                     "source.principal",
                                     "request.auth.principal",
                                     "request.auth.audiences",
                                     "request.auth.presenter",
                                     "destination.ip",
                                     "destination.port",
                                     "connection.sni",
                                     NULL};
  for (int i = 0; KEYS[i]; i++)
    if (strcmp(key, KEYS[i]) == 0) return true;
  /* request.headers[<name>] (one group), request.auth.claims[<a>][<b>]... (nested). */
  bool claims = strncmp(key, "request.auth.claims", 19) == 0;
  const char *s = claims ? key + 19 : strncmp(key, "request.headers", 15) == 0 ? key + 15 : NULL;
  if (s == NULL) return false;
  int groups = 0;
  while (*s == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close == s + 1 || memchr(s + 1, '[', (size_t)(close - s - 1))) return false;
    groups++;
    s = close + 1;
  }
  return *s == '\0' && groups >= 1 && (claims || groups == 1);
}

/* ---- evaluation ----------------------------------------------------------------------------- */

static enum resource_authz_action action_of(const struct authz_policy *p) {
  return p->spec ? p->spec->action : RESOURCE_AUTHZ_ALLOW;
}

static bool dry_run(const struct authz_policy *p) { return p->spec && p->spec->dry_run; }

/* Runs DENY then ALLOW over the policies whose dry-run flag is want_dry_run. */
static void decide(const struct authz_policy *policies, size_t n, const struct authz_request *req, bool want_dry_run,
                   struct authz_verdict *out) {
  out->decision = AUTHZ_ALLOWED;
  out->policy = NULL;
  out->rule = -1;
  for (size_t i = 0; i < n; i++) {
    const struct authz_policy *p = &policies[i];
    if (dry_run(p) != want_dry_run || action_of(p) != RESOURCE_AUTHZ_DENY) continue;
    int r = policy_match(p, req);
    if (r >= 0) {
      out->decision = AUTHZ_DENIED;
      out->policy = p;
      out->rule = r;
      snprintf(out->reason, sizeof out->reason, "DENY by %s/%s rule %d", p->namespace, p->name, r);
      return;
    }
  }
  size_t allows = 0;
  for (size_t i = 0; i < n; i++) {
    const struct authz_policy *p = &policies[i];
    if (dry_run(p) != want_dry_run || action_of(p) != RESOURCE_AUTHZ_ALLOW) continue;
    allows++;
    int r = policy_match(p, req);
    if (r >= 0) {
      out->policy = p;
      out->rule = r;
      snprintf(out->reason, sizeof out->reason, "ALLOW by %s/%s rule %d", p->namespace, p->name, r);
      return;
    }
  }
  if (allows) {
    out->decision = AUTHZ_DENIED;
    snprintf(out->reason, sizeof out->reason, "denied: ALLOW policies exist and none matched (%zu checked)", allows);
  } else {
    snprintf(out->reason, sizeof out->reason, "allowed: no DENY matched and no ALLOW policy applies");
  }
}

void authz_evaluate(const struct authz_policy *policies, size_t n, const struct authz_request *req,
                    struct authz_verdict *out) {
  memset(out, 0, sizeof *out);
  out->audit_rule = -1;
  for (size_t i = 0; i < n && out->audit == NULL; i++) {
    if (action_of(&policies[i]) != RESOURCE_AUTHZ_AUDIT) continue;
    int r = policy_match(&policies[i], req);
    if (r >= 0) {
      out->audit = &policies[i];
      out->audit_rule = r;
    }
  }
  bool any_dry = false;
  for (size_t i = 0; i < n; i++) any_dry |= dry_run(&policies[i]);
  if (any_dry) {
    struct authz_verdict shadow;
    memset(&shadow, 0, sizeof shadow);
    decide(policies, n, req, true, &shadow);
    snprintf(out->dry_run_reason, sizeof out->dry_run_reason, "dry-run: would be %s (%.200s)",
             shadow.decision == AUTHZ_DENIED ? "denied" : "allowed", shadow.reason);
  }
  decide(policies, n, req, false, out);
  if (out->decision == AUTHZ_DENIED) {
    out->status = 403;
    out->body = AUTHZ_DENIED_BODY;
  }
}
