/* resource: the parse driver, the kind table and the shared validation helpers (see
 * resource.h for the contract and resource_internal.h for the helper conventions).
 *
 * Flow of one apply: yamldoc_parse() builds the positioned tree; each document is checked for
 * apiVersion / kind / metadata here, then handed to its kind's parser (resource_networking.c,
 * resource_security.c, resource_kube.c), which fills the typed struct from the tree through
 * the getters below. Nothing is kept unless every document of the input is valid.
 */
#include "mesh/resource_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- kinds ------------------------------------------------------------------------------- */

struct kind_info {
  const char *kind;
  const char *group;
  const char *versions[4];
  const char *plural;
  const char *shorts[3];
  const char *api_version; /* what writers emit */
  const char *resource_name;
  bool istio;
  bool spec_optional;
};

static const struct kind_info KINDS[RESOURCE_KIND_COUNT] = {
    [RESOURCE_VIRTUAL_SERVICE] = {"VirtualService",
                                  "networking.istio.io",
                                  {"v1", "v1beta1", "v1alpha3"},
                                  "virtualservices",
                                  {"vs"},
                                  "networking.istio.io/v1",
                                  "virtualservice.networking.istio.io",
                                  true,
                                  false},
    [RESOURCE_DESTINATION_RULE] = {"DestinationRule",
                                   "networking.istio.io",
                                   {"v1", "v1beta1", "v1alpha3"},
                                   "destinationrules",
                                   {"dr"},
                                   "networking.istio.io/v1",
                                   "destinationrule.networking.istio.io",
                                   true,
                                   false},
    [RESOURCE_GATEWAY] = {"Gateway",
                          "networking.istio.io",
                          {"v1", "v1beta1", "v1alpha3"},
                          "gateways",
                          {"gw"},
                          "networking.istio.io/v1",
                          "gateway.networking.istio.io",
                          true,
                          false},
    [RESOURCE_SERVICE_ENTRY] = {"ServiceEntry",
                                "networking.istio.io",
                                {"v1", "v1beta1", "v1alpha3"},
                                "serviceentries",
                                {"se"},
                                "networking.istio.io/v1",
                                "serviceentry.networking.istio.io",
                                true,
                                false},
    [RESOURCE_PEER_AUTHENTICATION] = {"PeerAuthentication",
                                      "security.istio.io",
                                      {"v1", "v1beta1"},
                                      "peerauthentications",
                                      {"pa"},
                                      "security.istio.io/v1",
                                      "peerauthentication.security.istio.io",
                                      true,
                                      true},
    [RESOURCE_REQUEST_AUTHENTICATION] = {"RequestAuthentication",
                                         "security.istio.io",
                                         {"v1", "v1beta1"},
                                         "requestauthentications",
                                         {"ra"},
                                         "security.istio.io/v1",
                                         "requestauthentication.security.istio.io",
                                         true,
                                         true},
    [RESOURCE_AUTHORIZATION_POLICY] = {"AuthorizationPolicy",
                                       "security.istio.io",
                                       {"v1", "v1beta1"},
                                       "authorizationpolicies",
                                       {"ap"},
                                       "security.istio.io/v1",
                                       "authorizationpolicy.security.istio.io",
                                       true,
                                       true},
    [RESOURCE_ENVOY_FILTER] = {"EnvoyFilter",
                               "networking.istio.io",
                               {"v1alpha3"},
                               "envoyfilters",
                               {"ef"},
                               "networking.istio.io/v1alpha3",
                               "envoyfilter.networking.istio.io",
                               true,
                               false},
    [RESOURCE_SERVICE] = {"Service", "", {"v1"}, "services", {"svc"}, "v1", "service", false, false},
    [RESOURCE_SERVICE_ACCOUNT] =
        {"ServiceAccount", "", {"v1"}, "serviceaccounts", {"sa"}, "v1", "serviceaccount", false, true},
    [RESOURCE_DEPLOYMENT] =
        {"Deployment", "apps", {"v1"}, "deployments", {"deploy"}, "apps/v1", "deployment.apps", false, false},
};

const char *resource_kind_name(enum resource_kind kind) { return KINDS[kind].kind; }
const char *resource_kind_group(enum resource_kind kind) { return KINDS[kind].group; }
const char *resource_kind_api_version(enum resource_kind kind) { return KINDS[kind].api_version; }
const char *resource_kind_resource_name(enum resource_kind kind) { return KINDS[kind].resource_name; }
bool resource_kind_is_istio(enum resource_kind kind) { return KINDS[kind].istio; }

int resource_kind_parse(const char *name, enum resource_kind *kind) {
  for (int k = 0; k < RESOURCE_KIND_COUNT; k++) {
    const struct kind_info *ki = &KINDS[k];
    bool hit = strcasecmp(name, ki->kind) == 0 || strcasecmp(name, ki->plural) == 0 ||
               strcasecmp(name, ki->resource_name) == 0;
    for (int s = 0; !hit && s < 3 && ki->shorts[s]; s++) hit = strcasecmp(name, ki->shorts[s]) == 0;
    if (hit) {
      *kind = (enum resource_kind)k;
      return 0;
    }
  }
  return -ENOENT;
}

/* Kinds Istio retired, with what replaced them (apssouza22's history shows learners meet
 * both generations). */
static const struct {
  const char *kind;
  const char *group; /* NULL: any group */
  const char *message;
} RETIRED_KINDS[] = {
    {"MeshPolicy", NULL,
     "MeshPolicy (authentication.istio.io/v1alpha1) was removed in Istio 1.6; use "
     "PeerAuthentication (security.istio.io/v1) named 'default' in the root namespace "
     "istio-system, with spec.mtls.mode: STRICT or PERMISSIVE"},
    {"Policy", "authentication.istio.io",
     "Policy (authentication.istio.io/v1alpha1) was removed in Istio 1.6; use "
     "PeerAuthentication (security.istio.io/v1) for its 'peers' (spec.mtls.mode) and "
     "RequestAuthentication for its 'origins' (spec.jwtRules)"},
    {"ServiceRole", NULL,
     "ServiceRole (rbac.istio.io) was removed in Istio 1.6; use AuthorizationPolicy "
     "(security.istio.io/v1)"},
    {"ServiceRoleBinding", NULL,
     "ServiceRoleBinding (rbac.istio.io) was removed in Istio 1.6; use AuthorizationPolicy "
     "(security.istio.io/v1) with rules[].from[].source"},
    {"RbacConfig", NULL,
     "RbacConfig (rbac.istio.io) was removed in Istio 1.6; use AuthorizationPolicy "
     "(security.istio.io/v1)"},
    {"ClusterRbacConfig", NULL,
     "ClusterRbacConfig (rbac.istio.io) was removed in Istio 1.6; use AuthorizationPolicy "
     "(security.istio.io/v1)"},
};

static const char *const LATER_KINDS[] = {"Sidecar",     "WorkloadEntry", "WorkloadGroup",    "Telemetry",
                                          "ProxyConfig", "WasmPlugin",    "TrafficExtension", NULL};

/* ---- arena ------------------------------------------------------------------------------- */

struct arena_chunk {
  struct arena_chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};
struct resource_arena {
  struct arena_chunk *head;
};

struct resource_arena *resource_arena_new(void) {
  return calloc(1, sizeof(struct resource_arena));
}

void resource_arena_free(struct resource_arena *a) {
  if (a == NULL) return;
  for (struct arena_chunk *ch = a->head, *next; ch; ch = next) {
    next = ch->next;
    free(ch);
  }
  free(a);
}

void *rarena_alloc(struct rctx *c, size_t size) {
  struct resource_arena *a = c->res->arena;
  size = (size + 15) & ~(size_t)15;
  if (size == 0) size = 16;
  struct arena_chunk *ch = a->head;
  if (ch == NULL || ch->cap - ch->used < size) {
    size_t cap = size > 8192 ? size : 8192;
    ch = calloc(1, sizeof *ch + cap);
    if (ch == NULL) {
      c->errors++;
      diag_add(c->diags, DIAG_ERROR, c->file, 0, 0, "", "out of memory");
      return NULL;
    }
    ch->cap = cap;
    ch->next = a->head;
    a->head = ch;
  }
  void *p = ch->data + ch->used;
  ch->used += size;
  return p;
}

char *rarena_strdup(struct rctx *c, const char *s) {
  size_t n = strlen(s) + 1;
  char *out = rarena_alloc(c, n);
  if (out) memcpy(out, s, n);
  return out;
}

/* ---- durations and hosts ------------------------------------------------------------------- */

int resource_duration_parse(const char *s, int64_t *ms) {
  /* Go's time.ParseDuration, which Istio's jsonpb uses: [-+]?(number unit)+ or "0". */
  static const struct {
    const char *unit;
    double ns;
  } units[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
               {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
  const char *p = s;
  bool neg = false;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  if (*p == '\0') return -EINVAL;
  double total = 0;
  while (*p) {
    const char *start = p;
    double whole = 0, frac = 0, scale = 1;
    while (*p >= '0' && *p <= '9') whole = whole * 10 + (*p++ - '0');
    bool digits = p > start;
    if (*p == '.') {
      p++;
      const char *fs = p;
      while (*p >= '0' && *p <= '9') {
        frac = frac * 10 + (*p++ - '0');
        scale *= 10;
      }
      digits = digits || p > fs;
    }
    if (!digits) return -EINVAL;
    size_t best = 0, best_len = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
      size_t ul = strlen(units[i].unit);
      if (strncmp(p, units[i].unit, ul) == 0 && ul > best_len) {
        best = i;
        best_len = ul;
      }
    }
    if (best_len == 0) {
      if (total == 0 && whole == 0 && frac == 0 && *p == '\0' && start == s + neg) break; /* "0" */
      return -EINVAL;
    }
    p += best_len;
    total += (whole + frac / scale) * units[best].ns;
    if (total > 9e18) return -EINVAL;
  }
  if (neg) total = -total;
  double msd = total / 1e6;
  if (msd < 0 || fabs(msd - floor(msd + 0.5)) > 1e-6) return -EINVAL;
  *ms = (int64_t)floor(msd + 0.5);
  return 0;
}

void resource_duration_format(int64_t ms, char *buf, size_t size) {
  if (ms > 0 && ms % 3600000 == 0) snprintf(buf, size, "%" PRId64 "h", ms / 3600000);
  else if (ms > 0 && ms % 60000 == 0) snprintf(buf, size, "%" PRId64 "m", ms / 60000);
  else if (ms % 1000 == 0) snprintf(buf, size, "%" PRId64 "s", ms / 1000);
  else snprintf(buf, size, "%" PRId64 "ms", ms);
}

char *resource_host_fqdn(const char *host, const char *ns) {
  /* Istio (ResolveShortnameToFQDN): only names without a dot are short; "*" stays as is. */
  size_t n = strlen(host);
  bool short_name = strchr(host, '.') == NULL && strcmp(host, "*") != 0;
  size_t size = short_name ? n + strlen(ns) + sizeof ".svc.cluster.local" + 1 : n + 1;
  char *out = malloc(size);
  if (out == NULL) return NULL;
  if (short_name) snprintf(out, size, "%s.%s.svc.cluster.local", host, ns);
  else memcpy(out, host, n + 1);
  return out;
}

/* ---- maps and lists ------------------------------------------------------------------------ */

const char *resource_map_get(const struct resource_map *map, const char *key) {
  for (size_t i = 0; i < map->len; i++)
    if (strcmp(map->items[i].key, key) == 0) return map->items[i].value;
  return NULL;
}

bool resource_map_matches(const struct resource_map *selector, const struct resource_map *labels) {
  for (size_t i = 0; i < selector->len; i++) {
    const char *v = resource_map_get(labels, selector->items[i].key);
    if (v == NULL || strcmp(v, selector->items[i].value) != 0) return false;
  }
  return true;
}

void resource_free(struct resource *r) {
  if (r == NULL) return;
  diag_list_free(&r->notes);
  resource_arena_free(r->arena);
  free(r);
}

void resource_list_init(struct resource_list *list) {
  list->items = NULL;
  list->len = list->cap = 0;
}

int resource_list_push(struct resource_list *list, struct resource *r) {
  if (list->len == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 8;
    struct resource **items = realloc(list->items, cap * sizeof *items);
    if (items == NULL) {
      resource_free(r);
      return -ENOMEM;
    }
    list->items = items;
    list->cap = cap;
  }
  list->items[list->len++] = r;
  return 0;
}

void resource_list_free(struct resource_list *list) {
  if (list == NULL) return;
  for (size_t i = 0; i < list->len; i++) resource_free(list->items[i]);
  free(list->items);
  resource_list_init(list);
}

/* ---- documents ----------------------------------------------------------------------------- */

/* DNS-1123 subdomain (object names) or label (namespaces), as Kubernetes requires. */
static bool dns1123(const char *s, bool label) {
  size_t n = strlen(s);
  if (n == 0 || n > (label ? 63u : 253u)) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    if (alnum) continue;
    if (ch == '-' && i > 0 && i + 1 < n && s[i - 1] != '.' && s[i + 1] != '.') continue;
    if (ch == '.' && !label && i > 0 && i + 1 < n && s[i - 1] != '.' && s[i - 1] != '-') continue;
    return false;
  }
  return true;
}

static const struct rfield METADATA_FIELDS[] = {
    {"name", RF_OK, NULL},
    {"namespace", RF_OK, NULL},
    {"labels", RF_OK, NULL},
    {"annotations", RF_OK, NULL},
    /* written by the API server; present in `kubectl get -o yaml` output */
    {"uid", RF_IGNORED, NULL},
    {"resourceVersion", RF_IGNORED, NULL},
    {"generation", RF_IGNORED, NULL},
    {"creationTimestamp", RF_IGNORED, NULL},
    {"managedFields", RF_IGNORED, NULL},
    {"selfLink", RF_IGNORED, NULL},
    {"ownerReferences", RF_IGNORED, NULL},
    {"finalizers", RF_IGNORED, NULL},
    {"generateName", RF_LATER, "set metadata.name"},
    {NULL, RF_OK, NULL},
};

static void parse_metadata(struct rctx *c, const struct yamldoc_node *doc, const struct resource_parse_options *opts) {
  const struct yamldoc_node *meta;
  struct resource_meta *m = &c->res->meta;
  const char *dflt = opts && opts->ns ? opts->ns : "default";
  m->ns = rarena_strdup(c, dflt);
  int rc = rget_map(c, doc, "metadata", "", &meta);
  if (rc == 0) rrequire(c, doc, "metadata", "");
  if (rc <= 0) return;
  bool lenient = c->lenient;
  c->lenient = false; /* metadata is Kubernetes' own: unknown keys are mistakes everywhere */
  rcheck_keys(c, meta, "metadata", METADATA_FIELDS);
  c->lenient = lenient;
  if (rrequire(c, meta, "name", "metadata") && rget_str(c, meta, "name", "metadata", &m->name) > 0 &&
      !dns1123(m->name, false))
    rerror(c, yamldoc_get(meta, "name"), "metadata.name",
           "'%s' is not a valid name: use lowercase letters, digits, '-' and '.', starting and "
           "ending with a letter or digit (at most 253 characters)",
           m->name);
  char *ns = NULL;
  if (rget_str(c, meta, "namespace", "metadata", &ns) > 0) {
    const struct yamldoc_node *at = yamldoc_get(meta, "namespace");
    if (!dns1123(ns, true))
      rerror(c, at, "metadata.namespace",
             "'%s' is not a valid namespace: use lowercase letters, digits and '-' (at most 63)", ns);
    else if (opts && opts->ns_enforced && opts->ns && strcmp(ns, opts->ns) != 0)
      rerror(c, at, "metadata.namespace",
             "the object's namespace '%s' does not match -n %s; drop -n or change the "
             "namespace",
             ns, opts->ns);
    m->ns = ns;
    m->ns_written = true;
  }
  rget_labels(c, meta, "labels", "metadata", &m->labels);
  rget_labels(c, meta, "annotations", "metadata", &m->annotations);
}

static bool version_served(const struct kind_info *ki, const char *api_version) {
  size_t gl = strlen(ki->group);
  const char *version = api_version;
  if (gl > 0) {
    if (strncmp(api_version, ki->group, gl) != 0 || api_version[gl] != '/') return false;
    version = api_version + gl + 1;
  }
  for (int i = 0; i < 4 && ki->versions[i]; i++)
    if (strcmp(version, ki->versions[i]) == 0) return true;
  return false;
}

static const struct rfield TOP_FIELDS[] = {
    {"apiVersion", RF_OK, NULL}, {"kind", RF_OK, NULL},        {"metadata", RF_OK, NULL},
    {"spec", RF_OK, NULL},       {"status", RF_IGNORED, NULL}, {NULL, RF_OK, NULL},
};
static const struct rfield SERVICE_ACCOUNT_FIELDS[] = {
    {"apiVersion", RF_OK, NULL},
    {"kind", RF_OK, NULL},
    {"metadata", RF_OK, NULL},
    {"secrets", RF_IGNORED, NULL},
    {"imagePullSecrets", RF_IGNORED, NULL},
    {"automountServiceAccountToken", RF_IGNORED, NULL},
    {NULL, RF_OK, NULL},
};

/* Reads one document into a new resource; returns it, or NULL after reporting errors. */
static struct resource *parse_document(const struct yamldoc_node *doc, const char *file,
                                       const struct resource_parse_options *opts, struct diag_list *diags, int *nomem) {
  struct resource *r = calloc(1, sizeof *r);
  if (r == NULL || (r->arena = resource_arena_new()) == NULL) {
    free(r);
    *nomem = 1;
    return NULL;
  }
  diag_list_init(&r->notes);
  struct rctx ctx = {.file = file, .diags = diags, .res = r};
  struct rctx *c = &ctx;
  r->pos = rpos(doc);
  r->file = rarena_strdup(c, file ? file : "<input>");
  if (!rexpect_map(c, doc, "")) {
    resource_free(r);
    return NULL;
  }
  char *api_version = NULL, *kind = NULL;
  bool have_api = rrequire(c, doc, "apiVersion", "") && rget_str(c, doc, "apiVersion", "", &api_version) > 0;
  bool have_kind = rrequire(c, doc, "kind", "") && rget_str(c, doc, "kind", "", &kind) > 0;
  if (!have_api || !have_kind) {
    resource_free(r);
    return NULL;
  }
  const struct yamldoc_node *kind_node = yamldoc_get(doc, "kind");
  int k = 0;
  while (k < RESOURCE_KIND_COUNT && strcmp(KINDS[k].kind, kind) != 0) k++;
  if (k == RESOURCE_KIND_COUNT) {
    bool said = false;
    for (size_t i = 0; i < sizeof RETIRED_KINDS / sizeof RETIRED_KINDS[0] && !said; i++) {
      if (strcmp(kind, RETIRED_KINDS[i].kind) != 0) continue;
      const char *g = RETIRED_KINDS[i].group;
      if (g && strncmp(api_version, g, strlen(g)) != 0) continue;
      rerror(c, kind_node, "kind", "%s", RETIRED_KINDS[i].message);
      said = true;
    }
    for (int i = 0; !said && LATER_KINDS[i]; i++) {
      if (strcmp(kind, LATER_KINDS[i]) == 0) {
        /* A Sidecar is most often written for its outboundTrafficPolicy: say where that lives. */
        rerror(c, kind_node, "kind", "%s is a valid Istio kind but is not supported by meshlab yet%s", kind,
               strcmp(kind, "Sidecar") == 0 ? "; for spec.outboundTrafficPolicy, set the mesh-wide mode with "
                                              "'meshlab up --outbound-traffic-policy REGISTRY_ONLY'"
                                            : "");
        said = true;
      }
    }
    if (!said)
      rerror(c, kind_node, "kind",
             "unknown kind '%s'; meshlab accepts VirtualService, DestinationRule, Gateway, "
             "ServiceEntry, PeerAuthentication, RequestAuthentication, AuthorizationPolicy, "
             "EnvoyFilter, Service, ServiceAccount and Deployment",
             kind);
    resource_free(r);
    return NULL;
  }
  const struct kind_info *ki = &KINDS[k];
  r->kind = (enum resource_kind)k;
  r->api_version = api_version;
  c->lenient = !ki->istio;
  if (!version_served(ki, api_version)) {
    char versions[128] = "";
    for (int i = 0; i < 4 && ki->versions[i]; i++) {
      size_t used = strlen(versions);
      snprintf(versions + used, sizeof versions - used, "%s%s%s%s", i ? ", " : "", ki->group, ki->group[0] ? "/" : "",
               ki->versions[i]);
    }
    rerror(c, yamldoc_get(doc, "apiVersion"), "apiVersion",
           "apiVersion '%s' does not serve kind %s; use %s (accepted: %s)", api_version, kind, ki->api_version,
           versions);
  }
  bool lenient = c->lenient;
  c->lenient = false; /* top-level keys are checked strictly for every kind */
  rcheck_keys(c, doc, "", r->kind == RESOURCE_SERVICE_ACCOUNT ? SERVICE_ACCOUNT_FIELDS : TOP_FIELDS);
  c->lenient = lenient;
  parse_metadata(c, doc, opts);

  const struct yamldoc_node *spec = NULL;
  if (r->kind != RESOURCE_SERVICE_ACCOUNT) {
    int rc = rget_map(c, doc, "spec", "", &spec);
    if (rc == 0 && !ki->spec_optional) rrequire(c, doc, "spec", "");
    if (rc >= 0 && (spec || ki->spec_optional)) {
      switch (r->kind) {
      case RESOURCE_VIRTUAL_SERVICE:
        rparse_virtual_service(c, spec);
        break;
      case RESOURCE_DESTINATION_RULE:
        rparse_destination_rule(c, spec);
        break;
      case RESOURCE_GATEWAY:
        rparse_gateway(c, spec);
        break;
      case RESOURCE_SERVICE_ENTRY:
        rparse_service_entry(c, spec);
        break;
      case RESOURCE_PEER_AUTHENTICATION:
        rparse_peer_authentication(c, spec);
        break;
      case RESOURCE_REQUEST_AUTHENTICATION:
        rparse_request_authentication(c, spec);
        break;
      case RESOURCE_AUTHORIZATION_POLICY:
        rparse_authorization_policy(c, spec);
        break;
      case RESOURCE_ENVOY_FILTER:
        rparse_envoy_filter(c, spec);
        break;
      case RESOURCE_SERVICE:
        rparse_service(c, spec);
        break;
      case RESOURCE_DEPLOYMENT:
        rparse_deployment(c, spec);
        break;
      case RESOURCE_SERVICE_ACCOUNT:
        break;
      }
    }
  }
  if (c->errors > 0) {
    resource_free(r);
    return NULL;
  }
  return r;
}

int resource_parse(const char *text, size_t len, const char *filename, const struct resource_parse_options *opts,
                   struct resource_list *out, struct diag_list *diags) {
  struct yamldoc *doc = NULL;
  int rc = yamldoc_parse(text, len, filename, &doc, diags);
  if (rc < 0) return rc;
  struct resource_list tmp;
  resource_list_init(&tmp);
  size_t errors_before = diag_count(diags, DIAG_ERROR);
  int nomem = 0;
  for (size_t i = 0; i < doc->len; i++) {
    const struct yamldoc_node *root = doc->docs[i];
    if (yamldoc_is_null(root)) continue; /* an empty document, e.g. after a trailing '---' */
    struct resource *r = parse_document(root, filename, opts, diags, &nomem);
    if (r == NULL) continue;
    /* kubectl applies a repeated object twice and the last one wins; that is almost always a
     * copy-paste slip, so say so. */
    for (size_t j = 0; j < tmp.len; j++) {
      const struct resource *o = tmp.items[j];
      if (o->kind == r->kind && strcmp(o->meta.name, r->meta.name) == 0 && strcmp(o->meta.ns, r->meta.ns) == 0)
        diag_add(diags, DIAG_WARNING, filename, r->pos.line, r->pos.col, "metadata.name",
                 "%s %s/%s is defined again (first at line %d); the later one replaces it", resource_kind_name(r->kind),
                 r->meta.ns, r->meta.name, o->pos.line);
    }
    if (resource_list_push(&tmp, r) < 0) nomem = 1;
  }
  yamldoc_free(doc);
  if (nomem || diag_count(diags, DIAG_ERROR) > errors_before) {
    resource_list_free(&tmp);
    return nomem ? -ENOMEM : -EINVAL;
  }
  /* Make room first so that moving the objects cannot fail half-way (all-or-nothing). */
  if (out->cap < out->len + tmp.len) {
    size_t cap = out->len + tmp.len;
    struct resource **items = realloc(out->items, cap * sizeof *items);
    if (items == NULL) {
      resource_list_free(&tmp);
      return -ENOMEM;
    }
    out->items = items;
    out->cap = cap;
  }
  for (size_t i = 0; i < tmp.len; i++) out->items[out->len++] = tmp.items[i];
  free(tmp.items);
  return 0;
}
