/* compile_json_read: the sidecar's half of compile_json (see compile.h and compile_json.c):
 * parses the document the lab pushed into a proxy_config, refusing it whole, with a reason
 * naming the field path, when a key is unknown, a value is out of range or a name is not one
 * of the enum's. Strings live in the config's arena. */
#include "mesh/compile.h"
#include "mesh/compile_json_names.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rd {
  struct proxy_config *cfg;
  const char *name;
  char *err;
  size_t errlen;
  int rc; /* first failure: -EINVAL or -ENOMEM */
};

static int bad(struct rd *r, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct rd *r, const char *path, const char *fmt, ...) {
  if (r->rc) return r->rc;
  int n = snprintf(r->err, r->errlen, "%s: %s: ", r->name, path);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < r->errlen) vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return r->rc = -EINVAL;
}

static int oom(struct rd *r) {
  if (!r->rc) {
    snprintf(r->err, r->errlen, "%s: out of memory", r->name);
    r->rc = -ENOMEM;
  }
  return r->rc;
}

static void *r_alloc(struct rd *r, size_t n) {
  void *p = arena_alloc(&r->cfg->arena, n ? n : 1);
  if (!p) {
    oom(r);
    return NULL;
  }
  memset(p, 0, n ? n : 1);
  return p;
}

static char *r_dup(struct rd *r, const char *s) {
  char *p = arena_strndup(&r->cfg->arena, s, strlen(s));
  if (!p) oom(r);
  return p;
}

/* Every key of o must be in keys (NULL-terminated). */
static bool r_object(struct rd *r, json_t *o, const char *path, const char *const *keys) {
  if (!json_is_object(o)) return bad(r, path, "must be an object"), false;
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    bool ok = false;
    for (const char *const *a = keys; *a && !ok; a++) ok = strcmp(*a, k) == 0;
    if (!ok) return bad(r, path, "unknown field \"%s\"", k), false;
  }
  return true;
}

static char *r_str(struct rd *r, json_t *o, const char *key, const char *path, bool required) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) {
    if (required) bad(r, path, "missing required field \"%s\"", key);
    return NULL;
  }
  if (!json_is_string(v)) return bad(r, path, "field \"%s\" must be a string", key), NULL;
  return r_dup(r, json_string_value(v));
}

static int64_t r_int(struct rd *r, json_t *o, const char *key, const char *path, int64_t min, int64_t max,
                     int64_t dflt) {
  json_t *v = json_object_get(o, key);
  if (!v) return dflt;
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
    return bad(r, path, "field \"%s\" must be an integer from %lld to %lld", key, (long long)min, (long long)max), dflt;
  return json_integer_value(v);
}

static uint32_t r_u32(struct rd *r, json_t *o, const char *key, const char *path, uint32_t dflt) {
  return (uint32_t)r_int(r, o, key, path, 0, UINT32_MAX, dflt);
}

static bool r_bool(struct rd *r, json_t *o, const char *key, const char *path) {
  json_t *v = json_object_get(o, key);
  if (!v) return false;
  if (!json_is_boolean(v)) return bad(r, path, "field \"%s\" must be true or false", key), false;
  return json_is_true(v);
}

static double r_pct(struct rd *r, json_t *o, const char *key, const char *path) {
  json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 100)
    return bad(r, path, "field \"%s\" must be a number from 0 to 100", key), 0;
  return json_number_value(v);
}

static void r_map(struct rd *r, json_t *o, const char *key, const char *path, struct resource_map *m) {
  json_t *v = json_object_get(o, key);
  *m = (struct resource_map){0};
  if (!v) return;
  if (!json_is_object(v)) {
    bad(r, path, "field \"%s\" must be an object of strings", key);
    return;
  }
  m->items = r_alloc(r, json_object_size(v) * sizeof *m->items);
  if (!m->items) return;
  const char *k;
  json_t *e;
  json_object_foreach(v, k, e) {
    if (!json_is_string(e)) {
      bad(r, path, "%s.%s must be a string", key, k);
      return;
    }
    m->items[m->len].key = r_dup(r, k);
    m->items[m->len++].value = r_dup(r, json_string_value(e));
  }
}

static void r_strings(struct rd *r, json_t *o, const char *key, const char *path, struct resource_strings *s) {
  json_t *v = json_object_get(o, key);
  *s = (struct resource_strings){0};
  if (!v) return;
  if (!json_is_array(v)) {
    bad(r, path, "field \"%s\" must be an array of strings", key);
    return;
  }
  s->items = r_alloc(r, json_array_size(v) * sizeof *s->items);
  if (!s->items) return;
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_string(e)) {
      bad(r, path, "%s[%zu] must be a string", key, i);
      return;
    }
    s->items[s->len++] = r_dup(r, json_string_value(e));
  }
}

/* An array field: returns its size (0 when absent) after checking the type. */
static size_t r_array(struct rd *r, json_t *o, const char *key, const char *path, json_t **arr) {
  *arr = json_object_get(o, key);
  if (!*arr) return 0;
  if (!json_is_array(*arr)) return bad(r, path, "field \"%s\" must be an array", key), 0;
  return json_array_size(*arr);
}

/* {"exact": v} | {"prefix": v} | {"regex": v} | {"present": true} plus extra allowed keys. */
static void r_string_match_in(struct rd *r, json_t *o, const char *path, struct xds_string_match *m, bool icase) {
  m->kind = XDS_MATCH_ANY;
  int n = 0;
  for (int k = XDS_MATCH_EXACT; k <= XDS_MATCH_REGEX; k++)
    if (json_object_get(o, MATCH_KEYS[k])) {
      m->kind = (enum xds_match_kind)k;
      m->value = r_str(r, o, MATCH_KEYS[k], path, true);
      n++;
    }
  if (json_object_get(o, "present")) {
    if (!json_is_true(json_object_get(o, "present"))) bad(r, path, "field \"present\" can only be true");
    m->kind = XDS_MATCH_PRESENT;
    n++;
  }
  if (n > 1) bad(r, path, "give exactly one of exact, prefix, regex, present");
  if (m->kind == XDS_MATCH_REGEX && m->value) {
    char why[160];
    int rc = proxy_config_regex(r->cfg, m, icase, why, sizeof why);
    if (rc == -ENOMEM) oom(r);
    /* -EINVAL: POSIX refuses it; the compiler already warned and the condition never matches. */
  }
}

static void r_string_match(struct rd *r, json_t *o, const char *key, const char *path, struct xds_string_match *m,
                           bool icase) {
  json_t *v = json_object_get(o, key);
  m->kind = XDS_MATCH_ANY;
  if (!v) return;
  char p[512];
  path_fmt(p, sizeof p, "%s.%s", path, key);
  static const char *const keys[] = {"exact", "prefix", "regex", NULL};
  if (r_object(r, v, p, keys)) r_string_match_in(r, v, p, m, icase);
}

static void r_named(struct rd *r, json_t *o, const char *key, const char *path, struct xds_named_match **out,
                    size_t *len) {
  json_t *arr;
  size_t n = r_array(r, o, key, path, &arr);
  *out = NULL;
  *len = 0;
  if (!n) return;
  *out = r_alloc(r, n * sizeof **out);
  if (!*out) return;
  static const char *const keys[] = {"name", "exact", "prefix", "regex", "present", NULL};
  for (size_t i = 0; i < n && !r->rc; i++) {
    char p[512];
    path_fmt(p, sizeof p, "%s.%s[%zu]", path, key, i);
    json_t *e = json_array_get(arr, i);
    if (!r_object(r, e, p, keys)) return;
    (*out)[i].name = r_str(r, e, "name", p, true);
    r_string_match_in(r, e, p, &(*out)[i].match, false);
  }
  *len = n;
}

static void r_header_ops(struct rd *r, json_t *o, const char *key, const char *path, struct resource_header_ops *h) {
  json_t *v = json_object_get(o, key);
  if (!v) return;
  char p[512];
  path_fmt(p, sizeof p, "%s.%s", path, key);
  static const char *const keys[] = {"set", "add", "remove", NULL};
  if (!r_object(r, v, p, keys)) return;
  r_map(r, v, "set", p, &h->set);
  r_map(r, v, "add", p, &h->add);
  r_strings(r, v, "remove", p, &h->remove);
}

static void r_headers(struct rd *r, json_t *o, const char *path, struct resource_headers *h) {
  json_t *v = json_object_get(o, "headers");
  if (!v) return;
  char p[512];
  path_fmt(p, sizeof p, "%s.headers", path);
  static const char *const keys[] = {"request", "response", NULL};
  if (!r_object(r, v, p, keys)) return;
  h->present = true;
  r_header_ops(r, v, "request", p, &h->request);
  r_header_ops(r, v, "response", p, &h->response);
}

static void r_destination(struct rd *r, json_t *o, const char *path, struct xds_destination *d) {
  static const char *const keys[] = {"host", "subset", "port", "weight", "cluster", "missing", "headers", NULL};
  if (!r_object(r, o, path, keys)) return;
  d->host = r_str(r, o, "host", path, true);
  d->subset = r_str(r, o, "subset", path, false);
  d->port = (uint32_t)r_int(r, o, "port", path, 0, 65535, 0);
  d->weight = r_u32(r, o, "weight", path, 0);
  d->cluster_name = r_str(r, o, "cluster", path, true);
  d->missing = r_str(r, o, "missing", path, false);
  r_headers(r, o, path, &d->headers);
}

static void r_match(struct rd *r, json_t *o, const char *path, struct xds_match *m) {
  static const char *const keys[] = {
      "name",         "uri",  "scheme",        "method", "authority", "ignore_uri_case", "headers", "without_headers",
      "query_params", "port", "source_labels", NULL};
  if (!r_object(r, o, path, keys)) return;
  m->name = r_str(r, o, "name", path, false);
  m->ignore_uri_case = r_bool(r, o, "ignore_uri_case", path);
  r_string_match(r, o, "uri", path, &m->uri, m->ignore_uri_case);
  r_string_match(r, o, "scheme", path, &m->scheme, false);
  r_string_match(r, o, "method", path, &m->method, false);
  r_string_match(r, o, "authority", path, &m->authority, false);
  r_named(r, o, "headers", path, &m->headers, &m->headers_len);
  r_named(r, o, "without_headers", path, &m->without_headers, &m->without_headers_len);
  r_named(r, o, "query_params", path, &m->query_params, &m->query_params_len);
  m->port = (uint32_t)r_int(r, o, "port", path, 0, 65535, 0);
  r_map(r, o, "source_labels", path, &m->source_labels);
}

static void r_route(struct rd *r, json_t *o, const char *path, struct xds_route *rt) {
  static const char *const keys[] = {"name",    "virtual_service", "rule",     "match",           "action",
                                     "route",   "timeout_ms",      "retries",  "fault",           "mirror",
                                     "headers", "rewrite",         "redirect", "direct_response", NULL};
  if (!r_object(r, o, path, keys)) return;
  char p[512];
  rt->name = r_str(r, o, "name", path, false);
  rt->rule = -1;
  json_t *vs = json_object_get(o, "virtual_service");
  if (vs) {
    path_fmt(p, sizeof p, "%s.virtual_service", path);
    static const char *const vkeys[] = {"name", "namespace", NULL};
    if (r_object(r, vs, p, vkeys)) {
      rt->vs_name = r_str(r, vs, "name", p, true);
      rt->vs_ns = r_str(r, vs, "namespace", p, true);
    }
    rt->rule = (int)r_int(r, o, "rule", path, 0, INT32_MAX, 0);
  }
  json_t *arr;
  size_t n = r_array(r, o, "match", path, &arr);
  if (n && (rt->match = r_alloc(r, n * sizeof *rt->match)))
    for (size_t i = 0; i < n && !r->rc; i++) {
      path_fmt(p, sizeof p, "%s.match[%zu]", path, i);
      r_match(r, json_array_get(arr, i), p, &rt->match[rt->match_len++]);
    }
  const char *action = json_string_value(json_object_get(o, "action"));
  rt->action = XDS_ACTION_ROUTE;
  if (action && strcmp(action, "redirect") == 0) rt->action = XDS_ACTION_REDIRECT;
  else if (action && strcmp(action, "direct_response") == 0) rt->action = XDS_ACTION_DIRECT_RESPONSE;
  else if (!action || strcmp(action, "route") != 0)
    bad(r, path, "field \"action\" must be one of route, redirect, direct_response");
  n = r_array(r, o, "route", path, &arr);
  if (n && (rt->destinations = r_alloc(r, n * sizeof *rt->destinations)))
    for (size_t i = 0; i < n && !r->rc; i++) {
      path_fmt(p, sizeof p, "%s.route[%zu]", path, i);
      r_destination(r, json_array_get(arr, i), p, &rt->destinations[rt->destinations_len]);
      rt->total_weight += rt->destinations[rt->destinations_len++].weight;
    }
  rt->timeout.ms = r_int(r, o, "timeout_ms", path, 0, INT64_MAX, 0);
  rt->timeout.set = rt->timeout.ms > 0;
  json_t *v = json_object_get(o, "retries");
  if (v) {
    path_fmt(p, sizeof p, "%s.retries", path);
    static const char *const k[] = {"attempts",           "retry_on", "retry_remote_localities",
                                    "per_try_timeout_ms", "present",  "attempts_set",
                                    "retry_on_set",       NULL};
    if (r_object(r, v, p, k)) {
      rt->retries.attempts.value = r_u32(r, v, "attempts", p, 0);
      rt->retries.retry_on = r_str(r, v, "retry_on", p, false);
      rt->retries.retry_remote_localities.value = r_bool(r, v, "retry_remote_localities", p);
      rt->retries.per_try_timeout.ms = r_int(r, v, "per_try_timeout_ms", p, 0, INT64_MAX, 0);
      rt->retries.per_try_timeout.set = rt->retries.per_try_timeout.ms > 0; /* Istio's minimum is 1ms */
      rt->retries.present = r_bool(r, v, "present", p);
      rt->retries.attempts.set = r_bool(r, v, "attempts_set", p);
      rt->retries.retry_on_set = r_bool(r, v, "retry_on_set", p);
    }
  }
  if ((v = json_object_get(o, "fault"))) {
    path_fmt(p, sizeof p, "%s.fault", path);
    static const char *const k[] = {"delay", "abort", NULL};
    if (r_object(r, v, p, k)) {
      rt->fault.present = true;
      json_t *d = json_object_get(v, "delay");
      char q[560];
      if (d) {
        snprintf(q, sizeof q, "%s.delay", p);
        static const char *const dk[] = {"fixed_delay_ms", "percentage", NULL};
        if (r_object(r, d, q, dk)) {
          rt->fault.delay.present = true;
          rt->fault.delay.fixed_delay.ms = r_int(r, d, "fixed_delay_ms", q, 0, INT64_MAX, 0);
          rt->fault.delay.percentage.value = r_pct(r, d, "percentage", q);
        }
      }
      json_t *a = json_object_get(v, "abort");
      if (a) {
        snprintf(q, sizeof q, "%s.abort", p);
        static const char *const ak[] = {"http_status", "grpc_status", "percentage", NULL};
        if (r_object(r, a, q, ak)) {
          rt->fault.abort.present = true;
          rt->fault.abort.http_status = (uint32_t)r_int(r, a, "http_status", q, 0, 599, 0);
          rt->fault.abort.grpc_status = r_str(r, a, "grpc_status", q, false);
          rt->fault.abort.percentage.value = r_pct(r, a, "percentage", q);
        }
      }
    }
  }
  if ((v = json_object_get(o, "mirror"))) {
    path_fmt(p, sizeof p, "%s.mirror", path);
    static const char *const k[] = {"destination", "percentage", NULL};
    if (r_object(r, v, p, k)) {
      rt->mirror_present = true;
      char q[560];
      snprintf(q, sizeof q, "%s.destination", p);
      r_destination(r, json_object_get(v, "destination"), q, &rt->mirror);
      rt->mirror_percentage.value = r_pct(r, v, "percentage", p);
    }
  }
  r_headers(r, o, path, &rt->headers);
  if ((v = json_object_get(o, "rewrite"))) {
    path_fmt(p, sizeof p, "%s.rewrite", path);
    static const char *const k[] = {"uri", "authority", NULL};
    if (r_object(r, v, p, k)) {
      rt->rewrite.present = true;
      rt->rewrite.uri = r_str(r, v, "uri", p, false);
      rt->rewrite.authority = r_str(r, v, "authority", p, false);
    }
  }
  if ((v = json_object_get(o, "redirect"))) {
    path_fmt(p, sizeof p, "%s.redirect", path);
    static const char *const k[] = {"uri", "authority", "scheme", "port", "redirect_code", NULL};
    if (r_object(r, v, p, k)) {
      rt->redirect.present = true;
      rt->redirect.uri = r_str(r, v, "uri", p, false);
      rt->redirect.authority = r_str(r, v, "authority", p, false);
      rt->redirect.scheme = r_str(r, v, "scheme", p, false);
      rt->redirect.port = (uint32_t)r_int(r, v, "port", p, 0, 65535, 0);
      rt->redirect.redirect_code.value = (uint32_t)r_int(r, v, "redirect_code", p, 300, 399, 301);
    }
  }
  if ((v = json_object_get(o, "direct_response"))) {
    path_fmt(p, sizeof p, "%s.direct_response", path);
    static const char *const k[] = {"status", "body", NULL};
    if (r_object(r, v, p, k)) {
      rt->direct_response.present = true;
      rt->direct_response.status = (uint32_t)r_int(r, v, "status", p, 200, 599, 200);
      rt->direct_response.body = r_str(r, v, "body", p, false);
    }
  }
}

static int r_enum(struct rd *r, json_t *o, const char *key, const char *path, const char *const *names, size_t n,
                  int dflt) {
  json_t *v = json_object_get(o, key);
  if (!v) return dflt;
  const char *s = json_string_value(v);
  for (size_t i = 0; s && i < n; i++)
    if (names[i] && strcmp(names[i], s) == 0) return (int)i;
  bad(r, path, "field \"%s\" has an unknown value", key);
  return dflt;
}

/* route_configs[].local_rate_limit: what compile.c attached (docs/routing.md). */
static void r_rate_limit(struct rd *r, json_t *parent, const char *path, struct xds_route_config *rc) {
  static const char *const keys[] = {
      "envoy_filter",    "context",          "port",           "per_route",       "stat_prefix",      "max_tokens",
      "tokens_per_fill", "fill_interval_ms", "filter_enabled", "filter_enforced", "response_headers", NULL};
  char p[320];
  snprintf(p, sizeof p, "%s.local_rate_limit", path);
  json_t *o = json_object_get(parent, "local_rate_limit");
  if (!r_object(r, o, p, keys)) return;
  struct resource_local_rate_limit *l = r_alloc(r, sizeof *l);
  if (!l) return;
  rc->local_rate_limit_source = r_str(r, o, "envoy_filter", p, true);
  l->context = (enum resource_patch_context)r_enum(r, o, "context", p, CONTEXT_NAMES,
                                                   sizeof CONTEXT_NAMES / sizeof CONTEXT_NAMES[0], 0);
  l->port = (uint32_t)r_int(r, o, "port", p, 0, 65535, 0);
  l->per_route = r_bool(r, o, "per_route", p);
  l->stat_prefix = r_str(r, o, "stat_prefix", p, false);
  /* The bucket's shape is what token_bucket_init requires: a token, a fill and an interval. */
  l->max_tokens = (uint32_t)r_int(r, o, "max_tokens", p, 1, UINT32_MAX, 0);
  l->tokens_per_fill = (uint32_t)r_int(r, o, "tokens_per_fill", p, 1, UINT32_MAX, 1);
  l->fill_interval_ms = r_int(r, o, "fill_interval_ms", p, 1, INT64_MAX, 0);
  if (!json_object_get(o, "max_tokens")) bad(r, p, "missing required field \"max_tokens\"");
  if (!json_object_get(o, "fill_interval_ms")) bad(r, p, "missing required field \"fill_interval_ms\"");
  l->enabled_percent = r_pct(r, o, "filter_enabled", p);
  l->enforced_percent = r_pct(r, o, "filter_enforced", p);
  r_map(r, o, "response_headers", p, &l->response_headers);
  rc->local_rate_limit = l;
}

static void r_lb(struct rd *r, json_t *o, const char *path, struct resource_load_balancer *lb) {
  static const char *const keys[] = {"simple", "consistent_hash", NULL};
  if (!r_object(r, o, path, keys)) return;
  lb->simple = (enum resource_lb_simple)r_enum(r, o, "simple", path, LB_NAMES, 6, RESOURCE_LB_LEAST_REQUEST);
  json_t *ch = json_object_get(o, "consistent_hash");
  if (!ch) return;
  char p[560];
  path_fmt(p, sizeof p, "%s.consistent_hash", path);
  static const char *const ck[] = {
      "http_header_name", "http_cookie", "use_source_ip", "http_query_parameter_name", "ring_hash", "maglev", NULL};
  if (!r_object(r, ch, p, ck)) return;
  lb->present = lb->hash_present = true;
  struct resource_consistent_hash *h = &lb->consistent_hash;
  h->ring_size.value = 1024;
  h->maglev_table_size.value = 65537;
  if ((h->name = r_str(r, ch, "http_header_name", p, false))) h->key = RESOURCE_HASH_HEADER;
  else if ((h->name = r_str(r, ch, "http_query_parameter_name", p, false))) h->key = RESOURCE_HASH_QUERY_PARAM;
  else if (r_bool(r, ch, "use_source_ip", p)) h->key = RESOURCE_HASH_SOURCE_IP;
  json_t *c = json_object_get(ch, "http_cookie");
  if (c) {
    char q[600];
    snprintf(q, sizeof q, "%s.http_cookie", p);
    static const char *const k[] = {"name", "path", "ttl_ms", NULL};
    if (r_object(r, c, q, k)) {
      h->key = RESOURCE_HASH_COOKIE;
      h->name = r_str(r, c, "name", q, true);
      h->cookie_path = r_str(r, c, "path", q, false);
      h->cookie_ttl.ms = r_int(r, c, "ttl_ms", q, 0, INT64_MAX, 0);
    }
  }
  json_t *ring = json_object_get(ch, "ring_hash"), *mag = json_object_get(ch, "maglev");
  static const char *const rk[] = {"minimum_ring_size", NULL}, *const mk[] = {"table_size", NULL};
  if (ring && r_object(r, ring, p, rk)) h->ring_size.value = r_u32(r, ring, "minimum_ring_size", p, 1024);
  if (mag && r_object(r, mag, p, mk)) {
    h->maglev = true;
    h->maglev_table_size.value = r_u32(r, mag, "table_size", p, 65537);
  }
}

static void r_policy(struct rd *r, json_t *o, const char *path, struct xds_policy *pol) {
  static const char *const keys[] = {"source", "load_balancer", "connection_pool", "outlier_detection", "tls", NULL};
  if (!r_object(r, o, path, keys)) return;
  char p[560];
  pol->source = r_str(r, o, "source", path, false);
  pol->load_balancer.simple = RESOURCE_LB_LEAST_REQUEST;
  json_t *v = json_object_get(o, "load_balancer");
  if (v) {
    path_fmt(p, sizeof p, "%s.load_balancer", path);
    r_lb(r, v, p, &pol->load_balancer);
  }
  struct resource_connection_pool *cp = &pol->connection_pool;
  cp->tcp.max_connections.value = cp->http.http1_max_pending_requests.value = cp->http.http2_max_requests.value =
      cp->http.max_retries.value = UINT32_MAX;
  cp->tcp.connect_timeout.ms = 10000;
  if ((v = json_object_get(o, "connection_pool"))) {
    path_fmt(p, sizeof p, "%s.connection_pool", path);
    static const char *const k[] = {"max_connections",
                                    "connect_timeout_ms",
                                    "http1_max_pending_requests",
                                    "http2_max_requests",
                                    "max_requests_per_connection",
                                    "max_retries",
                                    NULL};
    if (r_object(r, v, p, k)) {
      cp->tcp.max_connections.value = r_u32(r, v, "max_connections", p, UINT32_MAX);
      cp->tcp.connect_timeout.ms = r_int(r, v, "connect_timeout_ms", p, 0, INT64_MAX, 10000);
      cp->http.http1_max_pending_requests.value = r_u32(r, v, "http1_max_pending_requests", p, UINT32_MAX);
      cp->http.http2_max_requests.value = r_u32(r, v, "http2_max_requests", p, UINT32_MAX);
      cp->http.max_requests_per_connection.value = r_u32(r, v, "max_requests_per_connection", p, 0);
      cp->http.max_retries.value = r_u32(r, v, "max_retries", p, UINT32_MAX);
      cp->present = cp->tcp.present = cp->http.present = true;
      cp->tcp.max_connections.set = cp->tcp.connect_timeout.set = true; /* effective values, as above */
      cp->http.http1_max_pending_requests.set = cp->http.http2_max_requests.set = true;
      cp->http.max_requests_per_connection.set = cp->http.max_retries.set = true;
    }
  }
  struct resource_outlier_detection *od = &pol->outlier_detection;
  od->consecutive_5xx_errors.value = od->consecutive_local_origin_failures.value = 5;
  od->interval.ms = 10000;
  od->base_ejection_time.ms = 30000;
  od->max_ejection_percent.value = 10;
  if ((v = json_object_get(o, "outlier_detection"))) {
    path_fmt(p, sizeof p, "%s.outlier_detection", path);
    static const char *const k[] = {"consecutive_5xx_errors",
                                    "consecutive_gateway_errors",
                                    "consecutive_local_origin_failures",
                                    "split_external_local_origin_errors",
                                    "interval_ms",
                                    "base_ejection_time_ms",
                                    "max_ejection_percent",
                                    "min_health_percent",
                                    NULL};
    if (r_object(r, v, p, k)) {
      od->present = true;
      od->consecutive_5xx_errors.value = r_u32(r, v, "consecutive_5xx_errors", p, 5);
      od->consecutive_gateway_errors.value = r_u32(r, v, "consecutive_gateway_errors", p, 0);
      od->consecutive_local_origin_failures.value = r_u32(r, v, "consecutive_local_origin_failures", p, 5);
      od->split_external_local_origin_errors.value = r_bool(r, v, "split_external_local_origin_errors", p);
      od->interval.ms = r_int(r, v, "interval_ms", p, 0, INT64_MAX, 10000);
      od->base_ejection_time.ms = r_int(r, v, "base_ejection_time_ms", p, 0, INT64_MAX, 30000);
      od->max_ejection_percent.value = (uint32_t)r_int(r, v, "max_ejection_percent", p, 0, 100, 10);
      od->min_health_percent.value = (uint32_t)r_int(r, v, "min_health_percent", p, 0, 100, 0);
      /* The JSON carries effective values: each one counts as written, so the policy code
       * (outlier.c), which reads `.set` as the DestinationRule did, sees the same numbers. */
      od->consecutive_5xx_errors.set = od->consecutive_gateway_errors.set = true;
      od->consecutive_local_origin_failures.set = od->split_external_local_origin_errors.set = true;
      od->interval.set = od->base_ejection_time.set = od->max_ejection_percent.set = true;
      od->min_health_percent.set = true;
    }
  }
  if ((v = json_object_get(o, "tls"))) {
    path_fmt(p, sizeof p, "%s.tls", path);
    static const char *const k[] = {"mode", "sni", "subject_alt_names", "insecure_skip_verify", NULL};
    if (r_object(r, v, p, k)) {
      pol->tls.present = true;
      pol->tls.mode = (enum resource_tls_mode)r_enum(r, v, "mode", p, TLS_NAMES, 4, RESOURCE_TLS_DISABLE);
      pol->tls.sni = r_str(r, v, "sni", p, false);
      r_strings(r, v, "subject_alt_names", p, &pol->tls.subject_alt_names);
      pol->tls.insecure_skip_verify.value = r_bool(r, v, "insecure_skip_verify", p);
    }
  }
}

static void r_cluster(struct rd *r, json_t *o, const char *path, struct xds_cluster *c) {
  static const char *const keys[] = {"name",     "direction", "service",   "port", "subset",
                                     "external", "policy",    "endpoints", NULL};
  if (!r_object(r, o, path, keys)) return;
  c->name = r_str(r, o, "name", path, true);
  static const char *const dirs[] = {"outbound", "inbound"};
  c->direction = (enum xds_direction)r_enum(r, o, "direction", path, dirs, 2, XDS_OUTBOUND);
  c->service = r_str(r, o, "service", path, false);
  c->port = (uint32_t)r_int(r, o, "port", path, 0, 65535, 0);
  c->subset = r_str(r, o, "subset", path, false);
  c->external = r_bool(r, o, "external", path);
  char p[560];
  path_fmt(p, sizeof p, "%s.policy", path);
  json_t *pol = json_object_get(o, "policy"), *empty = NULL;
  if (!pol) pol = empty = json_object(); /* absent: Istio's defaults */
  r_policy(r, pol, p, &c->policy);
  json_decref(empty);
  json_t *arr;
  size_t n = r_array(r, o, "endpoints", path, &arr);
  if (n && (c->endpoints = r_alloc(r, n * sizeof *c->endpoints)))
    for (size_t i = 0; i < n && !r->rc; i++) {
      path_fmt(p, sizeof p, "%s.endpoints[%zu]", path, i);
      json_t *e = json_array_get(arr, i);
      static const char *const ek[] = {"address", "port", "healthy",  "workload", "replica",
                                       "labels",  "tls",  "identity", NULL};
      if (!r_object(r, e, p, ek)) return;
      struct xds_endpoint *x = &c->endpoints[c->endpoints_len++];
      x->address = r_str(r, e, "address", p, true);
      x->port = (uint32_t)r_int(r, e, "port", p, 0, 65535, 0);
      x->healthy = json_object_get(e, "healthy") ? r_bool(r, e, "healthy", p) : true;
      x->workload = r_str(r, e, "workload", p, false);
      x->replica = r_str(r, e, "replica", p, false);
      r_map(r, e, "labels", p, &x->labels);
      x->tls = (enum xds_tls_mode)r_enum(r, e, "tls", p, ENDPOINT_TLS_NAMES, 4, XDS_TLS_NONE);
      x->identity = r_str(r, e, "identity", p, false);
    }
}

/* security_policies[]: RequestAuthentications and AuthorizationPolicies, each read by the same
 * validating parser that reads applied YAML (JSON is YAML). */
static void r_security(struct rd *r, json_t *root) {
  json_t *arr;
  size_t n = r_array(r, root, "security_policies", "(top)", &arr);
  for (size_t i = 0; i < n && !r->rc; i++) {
    char p[64];
    path_fmt(p, sizeof p, "security_policies[%zu]", i);
    char *text = json_dumps(json_array_get(arr, i), JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (!text) {
      oom(r);
      return;
    }
    struct diag_list diags;
    diag_list_init(&diags);
    struct resource_list *list = &r->cfg->security.policies;
    size_t before = list->len;
    int rc = resource_parse(text, strlen(text), p, NULL, list, &diags);
    free(text);
    if (rc == -ENOMEM) {
      oom(r);
    } else if (rc != 0 || list->len != before + 1) {
      char why[256] = "not one resource";
      for (size_t d = 0; d < diags.len; d++)
        if (diags.items[d].severity == DIAG_ERROR) {
          diag_format(&diags.items[d], why, sizeof why);
          break;
        }
      bad(r, p, "%s", why);
    } else {
      enum resource_kind k = list->items[before]->kind;
      if (k != RESOURCE_REQUEST_AUTHENTICATION && k != RESOURCE_AUTHORIZATION_POLICY)
        bad(r, p, "only RequestAuthentication and AuthorizationPolicy belong here");
    }
    diag_list_free(&diags);
  }
}

static void r_root(struct rd *r, json_t *root) {
  static const char *const keys[] = {"version", "kind", "node", "route_configs", "clusters", "security_policies", NULL};
  struct proxy_config *cfg = r->cfg;
  if (!r_object(r, root, "(top)", keys)) return;
  cfg->version = (uint64_t)r_int(r, root, "version", "(top)", 0, INT64_MAX, 0);
  static const char *const kinds[] = {"sidecar", "gateway"};
  cfg->kind = (enum proxy_config_kind)r_enum(r, root, "kind", "(top)", kinds, 2, PROXY_CONFIG_SIDECAR);
  json_t *node = json_object_get(root, "node");
  if (node) {
    static const char *const nk[] = {"name", "namespace", "labels", NULL};
    if (r_object(r, node, "node", nk)) {
      cfg->node = r_str(r, node, "name", "node", false);
      cfg->ns = r_str(r, node, "namespace", "node", false);
      r_map(r, node, "labels", "node", &cfg->labels);
    }
  }
  char p[256];
  json_t *arr;
  size_t n = r_array(r, root, "route_configs", "(top)", &arr);
  if (n && (cfg->route_configs = r_alloc(r, n * sizeof *cfg->route_configs)))
    for (size_t i = 0; i < n && !r->rc; i++) {
      path_fmt(p, sizeof p, "route_configs[%zu]", i);
      json_t *o = json_array_get(arr, i);
      static const char *const rk[] = {"name", "port",        "local_rate_limit",        "virtual_hosts",
                                       "mtls", "mtls_source", "outbound_traffic_policy", NULL};
      if (!r_object(r, o, p, rk)) return;
      struct xds_route_config *rc = &cfg->route_configs[cfg->route_configs_len++];
      rc->name = r_str(r, o, "name", p, true);
      rc->port = (uint32_t)r_int(r, o, "port", p, 0, 65535, 0);
      rc->mtls = (enum resource_mtls_mode)r_enum(r, o, "mtls", p, MTLS_NAMES, 4, RESOURCE_MTLS_UNSET);
      rc->mtls_source = r_str(r, o, "mtls_source", p, false);
      rc->outbound_policy = (enum xds_outbound_policy)r_enum(r, o, "outbound_traffic_policy", p, OUTBOUND_POLICY_NAMES,
                                                             3, XDS_OUTBOUND_POLICY_NONE);
      if (json_object_get(o, "local_rate_limit")) r_rate_limit(r, o, p, rc);
      json_t *vhs;
      size_t nv = r_array(r, o, "virtual_hosts", p, &vhs);
      if (nv && (rc->vhosts = r_alloc(r, nv * sizeof *rc->vhosts)))
        for (size_t v = 0; v < nv && !r->rc; v++) {
          char q[320];
          snprintf(q, sizeof q, "%s.virtual_hosts[%zu]", p, v);
          json_t *vo = json_array_get(vhs, v);
          static const char *const vk[] = {"name", "port", "domains", "routes", NULL};
          if (!r_object(r, vo, q, vk)) return;
          struct xds_vhost *vh = &rc->vhosts[rc->vhosts_len++];
          vh->name = r_str(r, vo, "name", q, true);
          vh->port = (uint32_t)r_int(r, vo, "port", q, 0, 65535, 0);
          struct resource_strings doms;
          r_strings(r, vo, "domains", q, &doms);
          vh->domains = doms.items;
          vh->domains_len = doms.len;
          json_t *routes;
          size_t nr = r_array(r, vo, "routes", q, &routes);
          if (nr && (vh->routes = r_alloc(r, nr * sizeof *vh->routes)))
            for (size_t k = 0; k < nr && !r->rc; k++) {
              char s[400];
              snprintf(s, sizeof s, "%s.routes[%zu]", q, k);
              r_route(r, json_array_get(routes, k), s, &vh->routes[vh->routes_len++]);
            }
        }
    }
  n = r_array(r, root, "clusters", "(top)", &arr);
  if (n && (cfg->clusters = r_alloc(r, n * sizeof *cfg->clusters)))
    for (size_t i = 0; i < n && !r->rc; i++) {
      path_fmt(p, sizeof p, "clusters[%zu]", i);
      r_cluster(r, json_array_get(arr, i), p, &cfg->clusters[cfg->clusters_len++]);
    }
  if (!r->rc && json_object_get(root, "security_policies")) r_security(r, root);
}

int compile_from_json(const char *text, size_t len, const char *name, struct proxy_config **out, char *err,
                      size_t errlen) {
  *out = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr);
  if (!root) {
    snprintf(err, errlen, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
    return -EINVAL;
  }
  struct rd r = {.name = name, .err = err, .errlen = errlen};
  r.cfg = calloc(1, sizeof *r.cfg);
  if (!r.cfg) {
    json_decref(root);
    return -ENOMEM;
  }
  r_root(&r, root);
  json_decref(root);
  if (!r.rc) {
    /* Cluster names are unique in what compile writes; a duplicate would make lookups ambiguous. */
    if (proxy_config_finish(r.cfg) != 0) oom(&r);
    for (size_t i = 1; !r.rc && i < r.cfg->clusters_len; i++)
      if (strcmp(r.cfg->clusters[i - 1].name, r.cfg->clusters[i].name) == 0)
        bad(&r, "clusters", "cluster \"%s\" appears twice", r.cfg->clusters[i].name);
  }
  if (r.rc) {
    proxy_config_free(r.cfg);
    return r.rc;
  }
  *out = r.cfg;
  return 0;
}
