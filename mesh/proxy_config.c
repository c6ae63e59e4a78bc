/* proxy_config: the compiled config object itself (see compile.h): lifetime, lookups by name,
 * compiled regexes, and the derived parts rebuilt after compiling or parsing (cluster order,
 * destination -> cluster links, each route config's host index). compile.c builds the plain
 * data, compile_json.c reads and writes it; both end with proxy_config_finish().
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mesh/compile.h"
#include "mesh/regex_re2.h"

static void *zalloc(struct proxy_config *cfg, size_t n) {
  void *p = arena_alloc(&cfg->arena, n ? n : 1);
  if (p) memset(p, 0, n ? n : 1);
  return p;
}

/* ---- the config object ---------------------------------------------------------------------- */

static void security_free(struct xds_security *sec) {
  for (size_t i = 0; i < sec->jwt_rules_len; i++) {
    jwk_set_free(sec->jwt_rules[i].keys);
    free(sec->jwt_rules[i].keys_error);
  }
  free(sec->jwt_rules);
  free(sec->authz);
  resource_list_free(&sec->policies);
  memset(sec, 0, sizeof *sec);
}

void proxy_config_free(struct proxy_config *cfg) {
  if (!cfg) return;
  security_free(&cfg->security);
  for (size_t i = 0; i < cfg->regexes_len; i++) {
    regfree(cfg->regexes[i]);
    free(cfg->regexes[i]);
  }
  free(cfg->regexes);
  arena_free(&cfg->arena);
  free(cfg);
}

int proxy_config_regex(struct proxy_config *cfg, struct xds_string_match *m, bool icase, char *why, size_t whylen) {
  regex_t *re = calloc(1, sizeof *re);
  if (!re) return -ENOMEM;
  int rc = re2_compile(m->value, icase, re, why, whylen);
  if (rc != 0) {
    free(re);
    return rc;
  }
  if (cfg->regexes_len == cfg->regexes_cap) {
    size_t cap = cfg->regexes_cap ? cfg->regexes_cap * 2 : 8;
    regex_t **p = realloc(cfg->regexes, cap * sizeof *p);
    if (!p) {
      regfree(re);
      free(re);
      return -ENOMEM;
    }
    cfg->regexes = p;
    cfg->regexes_cap = cap;
  }
  cfg->regexes[cfg->regexes_len++] = re;
  m->regex = re;
  return 0;
}

static int cmp_cluster(const void *a, const void *b) {
  return strcmp(((const struct xds_cluster *)a)->name, ((const struct xds_cluster *)b)->name);
}

const struct xds_cluster *proxy_config_cluster(const struct proxy_config *cfg, const char *name) {
  if (!name || !cfg->clusters_len) return NULL;
  struct xds_cluster key = {.name = (char *)name};
  return bsearch(&key, cfg->clusters, cfg->clusters_len, sizeof key, cmp_cluster);
}

const char *xds_outbound_policy_name(enum xds_outbound_policy p) {
  switch (p) {
  case XDS_OUTBOUND_POLICY_NONE:
    return "";
  case XDS_OUTBOUND_POLICY_ALLOW_ANY:
    return "ALLOW_ANY";
  case XDS_OUTBOUND_POLICY_REGISTRY_ONLY:
    return "REGISTRY_ONLY";
  }
  return "";
}

int xds_outbound_policy_parse(const char *text, enum xds_outbound_policy *out) {
  if (strcmp(text, "ALLOW_ANY") == 0) *out = XDS_OUTBOUND_POLICY_ALLOW_ANY;
  else if (strcmp(text, "REGISTRY_ONLY") == 0) *out = XDS_OUTBOUND_POLICY_REGISTRY_ONLY;
  else return -EINVAL;
  return 0;
}

const struct xds_route_config *proxy_config_route_config(const struct proxy_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->route_configs_len; i++)
    if (strcmp(cfg->route_configs[i].name, name) == 0) return &cfg->route_configs[i];
  return NULL;
}

const struct xds_route_config *proxy_config_listener(const struct proxy_config *cfg, enum xds_direction dir,
                                                     uint32_t port) {
  char name[32];
  if (cfg->kind == PROXY_CONFIG_GATEWAY) snprintf(name, sizeof name, "http.%u", (unsigned)port);
  else if (dir == XDS_OUTBOUND) snprintf(name, sizeof name, "outbound");
  else snprintf(name, sizeof name, "inbound|%u", (unsigned)port);
  return proxy_config_route_config(cfg, name);
}

/* ---- the host index ------------------------------------------------------------------------- */

static uint64_t host_hash(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over lowercase bytes */
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)tolower((unsigned char)s[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* "reviews:9080" -> "reviews"; "[::1]:80" is left alone (no IPv6 hosts in the lab yet). */
static size_t domain_host_len(const char *d) {
  const char *colon = strrchr(d, ':');
  if (!colon || d[0] == '[') return strlen(d);
  for (const char *p = colon + 1; *p; p++)
    if (!isdigit((unsigned char)*p) && *p != '*') return strlen(d);
  return (size_t)(colon - d);
}

const struct xds_domain_slot *proxy_config_domain_find(const struct xds_route_config *rc, const char *host,
                                                       size_t len) {
  if (!rc->index_cap) return NULL;
  uint64_t h = host_hash(host, len);
  size_t mask = rc->index_cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const struct xds_domain_slot *s = &rc->index[i];
    if (!s->host) return NULL;
    if (s->hash == h && s->host_len == len && strncasecmp(s->host, host, len) == 0) return s;
  }
}

struct pair {
  const char *host;
  size_t len;
  const struct xds_vhost *vhost;
};

static int cmp_pair(const void *a, const void *b) {
  const struct pair *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = strncasecmp(x->host, y->host, n);
  if (c) return c;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  if (x->vhost->port != y->vhost->port) return x->vhost->port < y->vhost->port ? -1 : 1;
  return x->vhost < y->vhost ? -1 : x->vhost > y->vhost;
}

static int build_index(struct proxy_config *cfg, struct xds_route_config *rc) {
  size_t n = 0;
  for (size_t v = 0; v < rc->vhosts_len; v++) n += rc->vhosts[v].domains_len;
  rc->index = NULL;
  rc->index_cap = 0;
  if (!n) return 0;
  struct pair *pairs = calloc(n, sizeof *pairs);
  if (!pairs) return -ENOMEM;
  size_t k = 0;
  for (size_t v = 0; v < rc->vhosts_len; v++)
    for (size_t d = 0; d < rc->vhosts[v].domains_len; d++) {
      const char *dom = rc->vhosts[v].domains[d];
      pairs[k++] = (struct pair){dom, domain_host_len(dom), &rc->vhosts[v]};
    }
  qsort(pairs, n, sizeof *pairs, cmp_pair);
  size_t unique = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || pairs[i].len != pairs[i - 1].len || strncasecmp(pairs[i].host, pairs[i - 1].host, pairs[i].len) != 0)
      unique++;
  size_t cap = 8;
  while (cap < unique * 2) cap *= 2;
  rc->index = zalloc(cfg, cap * sizeof *rc->index);
  if (!rc->index) {
    free(pairs);
    return -ENOMEM;
  }
  rc->index_cap = cap;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && pairs[j].len == pairs[i].len && strncasecmp(pairs[j].host, pairs[i].host, pairs[i].len) == 0) j++;
    const struct xds_vhost **list = zalloc(cfg, (j - i) * sizeof *list);
    if (!list) {
      free(pairs);
      return -ENOMEM;
    }
    size_t m = 0;
    for (size_t x = i; x < j; x++)
      if (!m || list[m - 1] != pairs[x].vhost) list[m++] = pairs[x].vhost;
    char *host = arena_strndup(&cfg->arena, pairs[i].host, pairs[i].len);
    if (!host) {
      free(pairs);
      return -ENOMEM;
    }
    for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
    uint64_t h = host_hash(host, pairs[i].len);
    size_t slot = h & (cap - 1);
    while (rc->index[slot].host) slot = (slot + 1) & (cap - 1);
    rc->index[slot] = (struct xds_domain_slot){host, pairs[i].len, h, list, m};
    i = j;
  }
  free(pairs);
  return 0;
}

static void link_destination(const struct proxy_config *cfg, struct xds_destination *d) {
  d->cluster = proxy_config_cluster(cfg, d->cluster_name);
}

/* ---- security ------------------------------------------------------------------------------- */

bool compile_security_applies(const struct resource *r, const char *ns, const struct resource_map *labels,
                              const char *root_ns) {
  bool has_selector;
  const struct resource_map *selector;
  if (r->kind == RESOURCE_REQUEST_AUTHENTICATION) {
    has_selector = r->spec.request_authentication.has_selector;
    selector = &r->spec.request_authentication.selector;
  } else if (r->kind == RESOURCE_AUTHORIZATION_POLICY) {
    has_selector = r->spec.authorization_policy.has_selector;
    selector = &r->spec.authorization_policy.selector;
  } else {
    return false;
  }
  const char *rns = r->meta.ns ? r->meta.ns : "default";
  if (strcmp(rns, ns ? ns : "default") != 0 && strcmp(rns, root_ns ? root_ns : "istio-system") != 0) return false;
  if (!has_selector) return true;
  static const struct resource_map none = {0};
  return resource_map_matches(selector, labels ? labels : &none);
}

int compile_security_copy(const struct resource *r, struct resource_list *list, char *why, size_t why_size) {
  /* The copy goes through the writer and the validating parser: the same code that reads what
   * people apply reads what the lab pushes (compile_json.c), so the two cannot drift. JSON is
   * YAML; the indented form keeps ": " separators, which libyaml wants. */
  char *text = NULL;
  if (resource_to_json(r, 1, &text) != 0) return -ENOMEM;
  struct diag_list diags;
  diag_list_init(&diags);
  struct resource_parse_options opts = {.ns = r->meta.ns, .ns_enforced = false};
  size_t before = list->len;
  int rc = resource_parse(text, strlen(text), r->meta.name, &opts, list, &diags);
  free(text);
  if (rc == 0 && list->len != before + 1) rc = -EINVAL;
  if (rc == -EINVAL && why_size) {
    snprintf(why, why_size, "%s/%s: could not be copied", r->meta.ns, r->meta.name);
    for (size_t i = 0; i < diags.len; i++)
      if (diags.items[i].severity == DIAG_ERROR) {
        diag_format(&diags.items[i], why, why_size);
        break;
      }
  }
  diag_list_free(&diags);
  return rc;
}

/* The derived half of cfg->security: each inline jwks parsed once, the authz_policy views. */
static int security_finish(struct proxy_config *cfg) {
  struct xds_security *sec = &cfg->security;
  for (size_t i = 0; i < sec->jwt_rules_len; i++) {
    jwk_set_free(sec->jwt_rules[i].keys);
    free(sec->jwt_rules[i].keys_error);
  }
  free(sec->jwt_rules);
  free(sec->authz);
  sec->jwt_rules = NULL;
  sec->authz = NULL;
  sec->jwt_rules_len = sec->authz_len = 0;
  size_t nj = 0, na = 0;
  for (size_t i = 0; i < sec->policies.len; i++) {
    const struct resource *r = sec->policies.items[i];
    if (r->kind == RESOURCE_REQUEST_AUTHENTICATION) nj += r->spec.request_authentication.jwt_rules_len;
    if (r->kind == RESOURCE_AUTHORIZATION_POLICY) na++;
  }
  if (nj && !(sec->jwt_rules = calloc(nj, sizeof *sec->jwt_rules))) return -ENOMEM;
  if (na && !(sec->authz = calloc(na, sizeof *sec->authz))) return -ENOMEM;
  for (size_t i = 0; i < sec->policies.len; i++) {
    const struct resource *r = sec->policies.items[i];
    if (r->kind == RESOURCE_AUTHORIZATION_POLICY) {
      struct authz_policy *a = &sec->authz[sec->authz_len++];
      a->name = r->meta.name;
      a->namespace = r->meta.ns;
      a->spec = &r->spec.authorization_policy;
      continue;
    }
    if (r->kind != RESOURCE_REQUEST_AUTHENTICATION) continue;
    const struct resource_request_authentication *ra = &r->spec.request_authentication;
    for (size_t j = 0; j < ra->jwt_rules_len; j++) {
      struct xds_jwt_rule *x = &sec->jwt_rules[sec->jwt_rules_len++];
      x->source = r;
      x->rule = &ra->jwt_rules[j];
      if (!x->rule->jwks) continue; /* jwksUri: the proxy fetches and caches it */
      char why[256] = "";
      int rc = jwk_set_parse(x->rule->jwks, strlen(x->rule->jwks), &x->keys, why, sizeof why);
      if (rc == -ENOMEM) return rc;
      if (rc != 0 && !(x->keys_error = strdup(why[0] ? why : "jwks does not parse"))) return -ENOMEM;
    }
  }
  return 0;
}

int proxy_config_finish(struct proxy_config *cfg) {
  if (security_finish(cfg) != 0) return -ENOMEM;
  if (cfg->clusters_len) qsort(cfg->clusters, cfg->clusters_len, sizeof *cfg->clusters, cmp_cluster);
  for (size_t r = 0; r < cfg->route_configs_len; r++) {
    struct xds_route_config *rc = &cfg->route_configs[r];
    for (size_t v = 0; v < rc->vhosts_len; v++)
      for (size_t i = 0; i < rc->vhosts[v].routes_len; i++) {
        struct xds_route *rt = &rc->vhosts[v].routes[i];
        for (size_t d = 0; d < rt->destinations_len; d++) link_destination(cfg, &rt->destinations[d]);
        if (rt->mirror_present) link_destination(cfg, &rt->mirror);
      }
    if (build_index(cfg, rc) != 0) return -ENOMEM;
  }
  return 0;
}
