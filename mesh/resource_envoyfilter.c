/* resource_envoyfilter: the one EnvoyFilter shape meshlab understands, Envoy's local rate
 * limit as Istio's rate-limiting task applies it
 * (https://istio.io/latest/docs/tasks/policy-enforcement/rate-limit/, "local rate limit"):
 * an HTTP_FILTER patch inserting envoy.filters.http.local_ratelimit, optionally with an
 * HTTP_ROUTE patch carrying the per-route token bucket. Any other EnvoyFilter is refused with a
 * message saying so: EnvoyFilter patches Envoy's own config, which meshlab's sidecar does not
 * have. The spec is also kept as written (JSON) so writers return it unchanged.
 */
#include "mesh/resource_internal.h"

#include <stdio.h>
#include <string.h>

#define END \
  { NULL, RF_OK, NULL }
#define OK(name) \
  { name, RF_OK, NULL }
#define LATER(name) \
  { name, RF_LATER, NULL }

static const char FILTER_NAME[] = "envoy.filters.http.local_ratelimit";
static const char TYPED_STRUCT[] = "type.googleapis.com/udpa.type.v1.TypedStruct";
static const char XDS_TYPED_STRUCT[] = "type.googleapis.com/xds.type.v3.TypedStruct";
static const char LOCAL_RATE_LIMIT[] =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

static const struct rfield EF_FIELDS[] = {OK("workloadSelector"), OK("configPatches"), LATER("priority"),
                                          LATER("targetRefs"), END};
static const struct rfield SELECTOR_FIELDS[] = {OK("labels"), END};
static const struct rfield PATCH_FIELDS[] = {OK("applyTo"), OK("match"), OK("patch"), END};
static const struct rfield MATCH_FIELDS[] = {OK("context"),  OK("listener"),   OK("routeConfiguration"),
                                             LATER("proxy"), LATER("cluster"), END};
static const struct rfield PATCH_BODY_FIELDS[] = {OK("operation"), OK("value"), LATER("filterClass"), END};
static const struct rfield RL_FIELDS[] = {OK("stat_prefix"),
                                          OK("token_bucket"),
                                          OK("filter_enabled"),
                                          OK("filter_enforced"),
                                          OK("response_headers_to_add"),
                                          OK("@type"),
                                          LATER("descriptors"),
                                          LATER("stage"),
                                          LATER("local_rate_limit_per_downstream_connection"),
                                          LATER("request_headers_to_add_when_not_enforced"),
                                          LATER("enable_x_ratelimit_headers"),
                                          LATER("vh_rate_limits"),
                                          LATER("status"),
                                          LATER("always_consume_default_token_bucket"),
                                          LATER("rate_limited_as_resource_exhausted"),
                                          END};
static const struct rfield BUCKET_FIELDS[] = {OK("max_tokens"), OK("tokens_per_fill"), OK("fill_interval"), END};
static const struct rfield FRACTION_FIELDS[] = {OK("runtime_key"), OK("default_value"), END};
static const struct rfield DEFAULT_VALUE_FIELDS[] = {OK("numerator"), OK("denominator"), END};
static const struct rfield HEADER_ADD_FIELDS[] = {OK("append"), OK("append_action"), OK("header"), END};
static const struct rfield HEADER_FIELDS[] = {OK("key"), OK("value"), END};

static void refuse(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *what) {
  rerror(c, at, path,
         "%s; meshlab accepts only the local rate limit EnvoyFilter of Istio's "
         "rate-limiting task (an HTTP_FILTER patch inserting %s, optionally an HTTP_ROUTE patch "
         "with its typed_per_filter_config)",
         what, FILTER_NAME);
}

/* filter_enabled / filter_enforced: a runtime fractional percent; returns the percentage. */
static double parse_fraction(struct rctx *c, const struct yamldoc_node *rl, const char *key, const char *path) {
  const struct yamldoc_node *m, *dv;
  if (rget_map(c, rl, key, path, &m) <= 0) return 0; /* Envoy: absent means 0 % (filter disabled / not enforced) */
  char p[RPATH_MAX], dp[RPATH_MAX];
  rpath_key(p, path, key);
  rcheck_keys(c, m, p, FRACTION_FIELDS);
  char *runtime_key = NULL;
  rget_str(c, m, "runtime_key", p, &runtime_key);
  if (!rrequire(c, m, "default_value", p) || rget_map(c, m, "default_value", p, &dv) <= 0) return 0;
  rpath_key(dp, p, "default_value");
  rcheck_keys(c, dv, dp, DEFAULT_VALUE_FIELDS);
  uint32_t num = 0;
  rget_u32(c, dv, "numerator", dp, 0, 1000000, &num);
  static const char *const denominators[] = {"HUNDRED", "TEN_THOUSAND", "MILLION", NULL};
  static const double scale[] = {100, 10000, 1000000};
  int d = 0;
  rget_enum(c, dv, "denominator", dp, denominators, NULL, &d);
  double pct = num * 100.0 / scale[d];
  return pct > 100 ? 100 : pct;
}

/* A LocalRateLimit config (the map holding stat_prefix, token_bucket ...). */
static void parse_config(struct rctx *c, const struct yamldoc_node *rl, const char *path,
                         struct resource_local_rate_limit *out) {
  if (!rexpect_map(c, rl, path)) return;
  rcheck_keys(c, rl, path, RL_FIELDS);
  if (rrequire(c, rl, "stat_prefix", path)) rget_str(c, rl, "stat_prefix", path, &out->stat_prefix);
  const struct yamldoc_node *tb, *seq;
  char p[RPATH_MAX], ip[RPATH_MAX], hp[RPATH_MAX];
  out->tokens_per_fill = 1;
  if (rget_map(c, rl, "token_bucket", path, &tb) > 0) {
    rpath_key(p, path, "token_bucket");
    rcheck_keys(c, tb, p, BUCKET_FIELDS);
    if (rrequire(c, tb, "max_tokens", p)) rget_u32(c, tb, "max_tokens", p, 1, UINT32_MAX, &out->max_tokens);
    rget_u32(c, tb, "tokens_per_fill", p, 1, UINT32_MAX, &out->tokens_per_fill);
    if (rrequire(c, tb, "fill_interval", p)) rget_ms(c, tb, "fill_interval", p, &out->fill_interval_ms);
  }
  out->enabled_percent = parse_fraction(c, rl, "filter_enabled", path);
  out->enforced_percent = parse_fraction(c, rl, "filter_enforced", path);
  if (rget_seq(c, rl, "response_headers_to_add", path, &seq) > 0) {
    rpath_key(p, path, "response_headers_to_add");
    out->response_headers.items = rarena_alloc(c, (seq->len + 1) * sizeof(struct resource_map_entry));
    for (size_t i = 0; out->response_headers.items && i < seq->len; i++) {
      rpath_index(ip, p, i);
      const struct yamldoc_node *h;
      if (!rexpect_map(c, seq->items[i], ip)) continue;
      rcheck_keys(c, seq->items[i], ip, HEADER_ADD_FIELDS);
      bool append = false; /* accepted for the task's YAML; the lab always sets the header */
      rget_bool(c, seq->items[i], "append", ip, &append);
      char *action = NULL;
      rget_str(c, seq->items[i], "append_action", ip, &action);
      rpath_key(hp, ip, "header");
      if (rrequire(c, seq->items[i], "header", ip) && rget_map(c, seq->items[i], "header", ip, &h) > 0) {
        rcheck_keys(c, h, hp, HEADER_FIELDS);
        struct resource_map_entry *e = &out->response_headers.items[out->response_headers.len++];
        if (rrequire(c, h, "key", hp)) rget_str(c, h, "key", hp, &e->key);
        rget_str(c, h, "value", hp, &e->value);
        if (e->value == NULL) e->value = "";
        if (e->key == NULL) out->response_headers.len--;
      }
    }
  }
}

/* typed_config (or a typed_per_filter_config entry): TypedStruct{type_url, value} or the
 * LocalRateLimit itself with "@type". */
static void parse_typed(struct rctx *c, const struct yamldoc_node *tc, const char *path,
                        struct resource_local_rate_limit *out) {
  if (!rexpect_map(c, tc, path)) return;
  char *type = NULL;
  char p[RPATH_MAX];
  rpath_key(p, path, "@type");
  if (!rrequire(c, tc, "@type", path) || rget_str(c, tc, "@type", path, &type) <= 0) return;
  if (strcmp(type, TYPED_STRUCT) == 0 || strcmp(type, XDS_TYPED_STRUCT) == 0) {
    static const struct rfield fields[] = {OK("@type"), OK("type_url"), OK("value"), END};
    rcheck_keys(c, tc, path, fields);
    char *url = NULL;
    char up[RPATH_MAX], vp[RPATH_MAX];
    rpath_key(up, path, "type_url");
    if (rrequire(c, tc, "type_url", path) && rget_str(c, tc, "type_url", path, &url) > 0 &&
        strcmp(url, LOCAL_RATE_LIMIT) != 0)
      refuse(c, yamldoc_get(tc, "type_url"), up, "this typed config is not a LocalRateLimit");
    rpath_key(vp, path, "value");
    if (rrequire(c, tc, "value", path)) parse_config(c, yamldoc_get(tc, "value"), vp, out);
  } else if (strcmp(type, LOCAL_RATE_LIMIT) == 0) {
    parse_config(c, tc, path, out);
  } else {
    refuse(c, yamldoc_get(tc, "@type"), p, "this typed config is not a LocalRateLimit");
  }
}

static void parse_patch(struct rctx *c, const struct yamldoc_node *n, const char *path,
                        struct resource_local_rate_limit *out) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, PATCH_FIELDS);
  static const char *const apply_to[] = {"HTTP_FILTER", "HTTP_ROUTE", NULL};
  static const char *const apply_later[] = {"INVALID",
                                            "LISTENER",
                                            "FILTER_CHAIN",
                                            "NETWORK_FILTER",
                                            "ROUTE_CONFIGURATION",
                                            "VIRTUAL_HOST",
                                            "CLUSTER",
                                            "EXTENSION_CONFIG",
                                            "BOOTSTRAP",
                                            "LISTENER_FILTER",
                                            NULL};
  int at = 0;
  if (!rrequire(c, n, "applyTo", path) || rget_enum(c, n, "applyTo", path, apply_to, apply_later, &at) <= 0) return;
  out->per_route = at == 1;
  char mp[RPATH_MAX], pp[RPATH_MAX], vp[RPATH_MAX], tp[RPATH_MAX];
  const struct yamldoc_node *match, *patch, *value;
  rpath_key(mp, path, "match");
  if (rget_map(c, n, "match", path, &match) > 0) {
    rcheck_keys(c, match, mp, MATCH_FIELDS);
    static const char *const contexts[] = {"ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY", NULL};
    static const char *const contexts_later[] = {"WAYPOINT", NULL};
    int ctx = 0;
    if (rget_enum(c, match, "context", mp, contexts, contexts_later, &ctx) > 0)
      out->context = (enum resource_patch_context)ctx;
    /* listener / routeConfiguration select where the filter goes in Envoy's config; meshlab
     * has one HTTP chain per listener, so only a port number narrows anything. */
    const struct yamldoc_node *l = yamldoc_get(match, "listener");
    const struct yamldoc_node *rc = yamldoc_get(match, "routeConfiguration");
    char lp[RPATH_MAX];
    if (l && l->type == YAMLDOC_MAPPING) {
      rpath_key(lp, mp, "listener");
      rget_u32(c, l, "portNumber", lp, 1, 65535, &out->port);
    }
    if (rc && rc->type == YAMLDOC_MAPPING) {
      rpath_key(lp, mp, "routeConfiguration");
      rget_u32(c, rc, "portNumber", lp, 1, 65535, &out->port);
    }
  }
  rpath_key(pp, path, "patch");
  if (!rrequire(c, n, "patch", path) || rget_map(c, n, "patch", path, &patch) <= 0) return;
  rcheck_keys(c, patch, pp, PATCH_BODY_FIELDS);
  static const char *const ops[] = {"INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "ADD", "MERGE", NULL};
  static const char *const ops_later[] = {"REMOVE", "REPLACE", "MERGE_AND_REPLACE_LIST", "INVALID", NULL};
  int op = 0;
  rget_enum(c, patch, "operation", pp, ops, ops_later, &op);
  rpath_key(vp, pp, "value");
  if (!rrequire(c, patch, "value", pp) || rget_map(c, patch, "value", pp, &value) <= 0) return;
  if (!out->per_route) {
    static const struct rfield fields[] = {OK("name"), OK("typed_config"), END};
    rcheck_keys(c, value, vp, fields);
    char *name = NULL;
    char np[RPATH_MAX];
    rpath_key(np, vp, "name");
    if (rrequire(c, value, "name", vp) && rget_str(c, value, "name", vp, &name) > 0 && strcmp(name, FILTER_NAME) != 0)
      refuse(c, yamldoc_get(value, "name"), np, "this filter is not the local rate limit");
    rpath_key(tp, vp, "typed_config");
    if (rrequire(c, value, "typed_config", vp)) parse_typed(c, yamldoc_get(value, "typed_config"), tp, out);
  } else {
    static const struct rfield fields[] = {OK("typed_per_filter_config"), END};
    rcheck_keys(c, value, vp, fields);
    const struct yamldoc_node *per;
    rpath_key(tp, vp, "typed_per_filter_config");
    if (!rrequire(c, value, "typed_per_filter_config", vp) ||
        rget_map(c, value, "typed_per_filter_config", vp, &per) <= 0)
      return;
    static const struct rfield per_fields[] = {{FILTER_NAME, RF_OK, NULL}, END};
    rcheck_keys(c, per, tp, per_fields);
    char fp[RPATH_MAX];
    rpath_key(fp, tp, FILTER_NAME);
    if (rrequire(c, per, FILTER_NAME, tp)) parse_typed(c, yamldoc_get(per, FILTER_NAME), fp, out);
  }
}

void rparse_envoy_filter(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_envoy_filter *ef = &c->res->spec.envoy_filter;
  rcheck_keys(c, spec, "spec", EF_FIELDS);
  const struct yamldoc_node *sel, *seq;
  if (rget_map(c, spec, "workloadSelector", "spec", &sel) > 0) {
    rcheck_keys(c, sel, "spec.workloadSelector", SELECTOR_FIELDS);
    rget_labels(c, sel, "labels", "spec.workloadSelector", &ef->workload_selector);
  }
  if (!rrequire(c, spec, "configPatches", "spec") || rget_seq(c, spec, "configPatches", "spec", &seq) <= 0) return;
  char ip[RPATH_MAX];
  ef->limits = rarena_alloc(c, (seq->len + 1) * sizeof *ef->limits);
  for (size_t i = 0; ef->limits && i < seq->len; i++) {
    rpath_index(ip, "spec.configPatches", i);
    parse_patch(c, seq->items[i], ip, &ef->limits[ef->limits_len++]);
  }
  if (seq->len == 0) refuse(c, seq, "spec.configPatches", "configPatches is empty");
  bool bucket = false;
  for (size_t i = 0; i < ef->limits_len; i++) bucket = bucket || ef->limits[i].max_tokens > 0;
  if (c->errors == 0 && !bucket) refuse(c, seq, "spec.configPatches", "no patch sets a token_bucket");
  ef->spec_json = rnode_to_json(c, spec);
}
