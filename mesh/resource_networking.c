/* resource_networking: VirtualService from the positioned YAML tree into the typed structs
 * of resource.h (the control plane's routing configuration; the sidecar's router, retry,
 * timeout and fault logic read them). DestinationRule is in resource_destination_rule.c,
 * Gateway and ServiceEntry in resource_gateway.c.
 *
 * Each Istio message has a field table (RF_OK / RF_LATER / RF_RENAMED) mirroring istio/api's
 * protos and the priorities in ../shared/reference/istio-semantics.md; the functions below
 * read the supported fields, apply Istio's defaults (marking them not `set`), and check the
 * rules Istio's own validation webhook enforces (pkg/config/validation), citing them inline.
 */
#include "mesh/resource_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/regex_re2.h"

#define END \
  { NULL, RF_OK, NULL }
#define OK(name) \
  { name, RF_OK, NULL }
#define LATER(name) \
  { name, RF_LATER, NULL }

static const uint32_t INT32_MAX_U = 2147483647u;

/* ---- shared pieces -------------------------------------------------------------------------- */

static const struct rfield STRING_MATCH_FIELDS[] = {OK("exact"), OK("prefix"), OK("regex"), END};

/* Istio accepts any RE2 pattern; meshlab runs them on POSIX (regex_re2.h). One POSIX cannot
 * express is accepted too, but said at apply, where the learner looks: that condition will
 * never match. */
static void warn_regex(struct rctx *c, const struct yamldoc_node *n, const char *path, const char *re) {
  regex_t compiled;
  char why[160] = "";
  int rc = re2_compile(re, false, &compiled, why, sizeof why);
  if (rc == 0) {
    regfree(&compiled);
    return;
  }
  if (rc == -EINVAL)
    rwarning(c, yamldoc_get(n, "regex"), path,
             "regex '%s' cannot run on meshlab's POSIX regex engine: %s; this condition never matches", re, why);
}

/* A StringMatch {exact | prefix | regex}. allow_empty: `{}` means "present" (headers and
 * query parameters). */
static void parse_string_match(struct rctx *c, const struct yamldoc_node *n, const char *path, bool allow_empty,
                               struct resource_string_match *out) {
  if (yamldoc_is_null(n) && allow_empty) return;
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, STRING_MATCH_FIELDS);
  static const char *const keys[] = {"exact", "prefix", "regex"};
  static const enum resource_match_type types[] = {RESOURCE_MATCH_EXACT, RESOURCE_MATCH_PREFIX, RESOURCE_MATCH_REGEX};
  int count = 0;
  for (int i = 0; i < 3; i++) {
    char *v = NULL;
    if (rget_str(c, n, keys[i], path, &v) > 0) {
      if (count++ == 0) {
        out->type = types[i];
        out->value = v;
      }
    }
  }
  if (count > 1) rerror(c, n, path, "set only one of exact, prefix or regex");
  else if (count == 0 && !allow_empty && n->len == 0) rerror(c, n, path, "set one of exact, prefix or regex");
  else if (count == 1 && out->type == RESOURCE_MATCH_REGEX) warn_regex(c, n, path, out->value);
}

static void parse_named_matches(struct rctx *c, const struct yamldoc_node *parent, const char *key, const char *path,
                                bool warn_case, struct resource_named_match **out, size_t *len) {
  const struct yamldoc_node *m;
  if (rget_map(c, parent, key, path, &m) <= 0) return;
  char p[RPATH_MAX], kp[RPATH_MAX];
  rpath_key(p, path, key);
  *out = rarena_alloc(c, (m->len + 1) * sizeof **out);
  if (*out == NULL) return;
  for (size_t i = 0; i < m->len; i++) {
    const struct yamldoc_pair *pair = &m->pairs[i];
    rpath_key(kp, p, pair->key->str);
    struct resource_named_match *nm = &(*out)[(*len)++];
    nm->name = rarena_strdup(c, pair->key->str);
    if (pair->key->str_len == 0) rerror(c, pair->key, kp, "name must not be empty");
    if (warn_case) {
      for (const char *s = pair->key->str; *s; s++) {
        if (isupper((unsigned char)*s)) {
          rwarning(c, pair->key, kp,
                   "header names are matched case-insensitively; Istio "
                   "expects them in lowercase ('%s' as written)",
                   pair->key->str);
          break;
        }
      }
    }
    parse_string_match(c, pair->value, kp, true, &nm->match);
  }
}

static const struct rfield PORT_SELECTOR_FIELDS[] = {
    OK("number"), {"name", RF_RENAMED, "port.number (port names were removed from Istio's API)"}, END};
static const struct rfield DESTINATION_FIELDS[] = {OK("host"), OK("subset"), OK("port"), END};

static void parse_destination(struct rctx *c, const struct yamldoc_node *n, const char *path,
                              struct resource_destination *d) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, DESTINATION_FIELDS);
  d->pos = rpos(n);
  if (rrequire(c, n, "host", path)) rget_host(c, n, "host", path, &d->host);
  if (rget_str(c, n, "subset", path, &d->subset) > 0) {
    d->subset_pos = rpos(yamldoc_get(n, "subset"));
    if (d->subset[0] == '\0') {
      char p[RPATH_MAX];
      rpath_key(p, path, "subset");
      rerror(c, yamldoc_get(n, "subset"), p, "subset must not be empty; omit it instead");
    }
  }
  const struct yamldoc_node *port;
  char pp[RPATH_MAX];
  rpath_key(pp, path, "port");
  if (rget_map(c, n, "port", path, &port) > 0) {
    rcheck_keys(c, port, pp, PORT_SELECTOR_FIELDS);
    rget_u32(c, port, "number", pp, 1, 65535, &d->port);
  }
}

static const struct rfield HEADER_OPS_FIELDS[] = {OK("set"), OK("add"), OK("remove"), END};
static const struct rfield HEADERS_FIELDS[] = {OK("request"), OK("response"), END};

static void parse_header_ops(struct rctx *c, const struct yamldoc_node *parent, const char *key, const char *path,
                             struct resource_header_ops *ops) {
  const struct yamldoc_node *m;
  if (rget_map(c, parent, key, path, &m) <= 0) return;
  char p[RPATH_MAX];
  rpath_key(p, path, key);
  rcheck_keys(c, m, p, HEADER_OPS_FIELDS);
  rget_labels(c, m, "set", p, &ops->set);
  rget_labels(c, m, "add", p, &ops->add);
  rget_strings(c, m, "remove", p, &ops->remove);
}

static void parse_headers(struct rctx *c, const struct yamldoc_node *parent, const char *path,
                          struct resource_headers *h) {
  const struct yamldoc_node *m;
  if (rget_map(c, parent, "headers", path, &m) <= 0) return;
  char p[RPATH_MAX];
  rpath_key(p, path, "headers");
  rcheck_keys(c, m, p, HEADERS_FIELDS);
  h->present = true;
  parse_header_ops(c, m, "request", p, &h->request);
  parse_header_ops(c, m, "response", p, &h->response);
}

static const struct rfield HTTP_ROUTE_DEST_FIELDS[] = {OK("destination"), OK("weight"), OK("headers"), END};
static const struct rfield TCP_ROUTE_DEST_FIELDS[] = {OK("destination"), OK("weight"), END};

/* route[] of an http or tcp rule. Istio's rule (validateHTTPRouteDestinations, since 1.9):
 * each weight >= 0, and with several destinations the weights must not all be 0. They need
 * not sum to 100: traffic share = weight / sum. A lone destination gets everything. */
static void parse_route_destinations(struct rctx *c, const struct yamldoc_node *rule, const char *path, bool http,
                                     struct resource_route_destination **out, size_t *len) {
  const struct yamldoc_node *seq;
  if (rget_seq(c, rule, "route", path, &seq) <= 0) return;
  char p[RPATH_MAX], ip[RPATH_MAX], dp[RPATH_MAX];
  rpath_key(p, path, "route");
  *out = rarena_alloc(c, (seq->len + 1) * sizeof **out);
  if (*out == NULL) return;
  uint64_t total = 0;
  for (size_t i = 0; i < seq->len; i++) {
    const struct yamldoc_node *n = seq->items[i];
    struct resource_route_destination *rd = &(*out)[(*len)++];
    rpath_index(ip, p, i);
    if (!rexpect_map(c, n, ip)) continue;
    rcheck_keys(c, n, ip, http ? HTTP_ROUTE_DEST_FIELDS : TCP_ROUTE_DEST_FIELDS);
    rpath_key(dp, ip, "destination");
    if (rrequire(c, n, "destination", ip)) parse_destination(c, yamldoc_get(n, "destination"), dp, &rd->destination);
    if (ropt_u32(c, n, "weight", ip, 0, INT32_MAX_U, &rd->weight) <= 0) rd->weight.value = seq->len == 1 ? 100 : 0;
    total += rd->weight.value;
    if (http) parse_headers(c, n, ip, &rd->headers);
  }
  if (seq->len > 1 && total == 0)
    rerror(c, seq, p,
           "the weights of these %zu destinations add up to 0, so no destination "
           "gets traffic; give at least one a weight above 0 (weights are relative, e.g. 90 and "
           "10)",
           seq->len);
  if (seq->len == 0) rerror(c, seq, p, "route must list at least one destination");
}

/* ---- VirtualService -------------------------------------------------------------------------- */

static const struct rfield HTTP_MATCH_FIELDS[] = {OK("name"),
                                                  OK("uri"),
                                                  OK("scheme"),
                                                  OK("method"),
                                                  OK("authority"),
                                                  OK("headers"),
                                                  OK("port"),
                                                  OK("sourceLabels"),
                                                  OK("gateways"),
                                                  OK("queryParams"),
                                                  OK("ignoreUriCase"),
                                                  OK("withoutHeaders"),
                                                  LATER("sourceNamespace"),
                                                  LATER("statPrefix"),
                                                  END};

static void parse_http_match(struct rctx *c, const struct yamldoc_node *n, const char *path,
                             struct resource_http_match *m) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, HTTP_MATCH_FIELDS);
  char p[RPATH_MAX];
  rget_str(c, n, "name", path, &m->name);
  static const char *const sm_keys[] = {"uri", "scheme", "method", "authority"};
  struct resource_string_match *sms[] = {&m->uri, &m->scheme, &m->method, &m->authority};
  for (int i = 0; i < 4; i++) {
    const struct yamldoc_node *v = yamldoc_get(n, sm_keys[i]);
    if (v == NULL || yamldoc_is_null(v)) continue;
    rpath_key(p, path, sm_keys[i]);
    parse_string_match(c, v, p, false, sms[i]);
  }
  parse_named_matches(c, n, "headers", path, true, &m->headers, &m->headers_len);
  parse_named_matches(c, n, "queryParams", path, false, &m->query_params, &m->query_params_len);
  parse_named_matches(c, n, "withoutHeaders", path, true, &m->without_headers, &m->without_headers_len);
  rget_u32(c, n, "port", path, 1, 65535, &m->port);
  rget_labels(c, n, "sourceLabels", path, &m->source_labels);
  rget_strings(c, n, "gateways", path, &m->gateways);
  ropt_bool(c, n, "ignoreUriCase", path, &m->ignore_uri_case);
}

static const struct rfield RETRIES_FIELDS[] = {OK("attempts"),
                                               OK("perTryTimeout"),
                                               OK("retryOn"),
                                               OK("retryRemoteLocalities"),
                                               LATER("retryIgnorePreviousHosts"),
                                               LATER("backoff"),
                                               END};

/* Envoy retry policies Istio accepts in retryOn (plus bare HTTP status codes). */
static const char *const RETRY_ON[] = {"5xx",
                                       "gateway-error",
                                       "reset",
                                       "reset-before-request",
                                       "connect-failure",
                                       "envoy-ratelimited",
                                       "retriable-4xx",
                                       "refused-stream",
                                       "retriable-status-codes",
                                       "retriable-headers",
                                       "http3-post-connect-failure",
                                       "cancelled",
                                       "deadline-exceeded",
                                       "internal",
                                       "resource-exhausted",
                                       "unavailable",
                                       NULL};

static void check_retry_on(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *list) {
  const char *s = list;
  while (*s) {
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    char word[64];
    /* Istio trims spaces around each policy. */
    while (n > 0 && *s == ' ') s++, n--;
    while (n > 0 && s[n - 1] == ' ') n--;
    snprintf(word, sizeof word, "%.*s", (int)(n < 63 ? n : 63), s);
    bool ok = false;
    for (int i = 0; RETRY_ON[i] && !ok; i++) ok = strcmp(word, RETRY_ON[i]) == 0;
    if (!ok && n > 0) {
      char *end;
      long code = strtol(word, &end, 10);
      ok = *end == '\0' && code >= 100 && code <= 599;
    }
    if (!ok) {
      rerror(c, at, path,
             "'%s' is not a retry condition; use Envoy's (5xx, gateway-error, "
             "reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, "
             "cancelled, deadline-exceeded, internal, resource-exhausted, unavailable ...) or "
             "an HTTP status code such as 503, separated by commas",
             word);
    }
    if (!e) break;
    s = e + 1;
  }
}

static void parse_retries(struct rctx *c, const struct yamldoc_node *rule, const char *path,
                          struct resource_retries *r) {
  r->attempts.value = 2; /* Istio's mesh default retry policy */
  r->retry_on = RESOURCE_DEFAULT_RETRY_ON;
  const struct yamldoc_node *m;
  if (rget_map(c, rule, "retries", path, &m) <= 0) return;
  char p[RPATH_MAX];
  rpath_key(p, path, "retries");
  rcheck_keys(c, m, p, RETRIES_FIELDS);
  r->present = true;
  ropt_u32(c, m, "attempts", p, 0, INT32_MAX_U, &r->attempts);
  ropt_ms(c, m, "perTryTimeout", p, &r->per_try_timeout);
  char *on = NULL;
  if (rget_str(c, m, "retryOn", p, &on) > 0) {
    char rp[RPATH_MAX];
    rpath_key(rp, p, "retryOn");
    check_retry_on(c, yamldoc_get(m, "retryOn"), rp, on);
    r->retry_on = on;
    r->retry_on_set = true;
  }
  ropt_bool(c, m, "retryRemoteLocalities", p, &r->retry_remote_localities);
}

static const struct rfield DELAY_FIELDS[] = {
    OK("fixedDelay"),
    OK("percentage"),
    {"percent", RF_RENAMED, "percentage.value (a number 0-100: percentage: {value: 50})"},
    {"exponentialDelay", RF_LATER, "use fixedDelay"},
    END};
static const struct rfield ABORT_FIELDS[] = {
    OK("httpStatus"),    OK("grpcStatus"),
    OK("percentage"),    {"percent", RF_RENAMED, "percentage.value (a number 0-100: percentage: {value: 50})"},
    LATER("http2Error"), END};
static const struct rfield FAULT_FIELDS[] = {OK("delay"), OK("abort"), END};

static const char *const GRPC_CODES[] = {"OK",
                                         "CANCELLED",
                                         "UNKNOWN",
                                         "INVALID_ARGUMENT",
                                         "DEADLINE_EXCEEDED",
                                         "NOT_FOUND",
                                         "ALREADY_EXISTS",
                                         "PERMISSION_DENIED",
                                         "RESOURCE_EXHAUSTED",
                                         "FAILED_PRECONDITION",
                                         "ABORTED",
                                         "OUT_OF_RANGE",
                                         "UNIMPLEMENTED",
                                         "INTERNAL",
                                         "UNAVAILABLE",
                                         "DATA_LOSS",
                                         "UNAUTHENTICATED",
                                         NULL};

static void parse_fault(struct rctx *c, const struct yamldoc_node *rule, const char *path, struct resource_fault *f) {
  const struct yamldoc_node *m, *d, *a;
  if (rget_map(c, rule, "fault", path, &m) <= 0) return;
  char p[RPATH_MAX], dp[RPATH_MAX], ap[RPATH_MAX];
  rpath_key(p, path, "fault");
  rcheck_keys(c, m, p, FAULT_FIELDS);
  f->present = true;
  rpath_key(dp, p, "delay");
  if (rget_map(c, m, "delay", p, &d) > 0) {
    rcheck_keys(c, d, dp, DELAY_FIELDS);
    f->delay.present = true;
    if (rrequire(c, d, "fixedDelay", dp)) ropt_ms(c, d, "fixedDelay", dp, &f->delay.fixed_delay);
    ropt_pct(c, d, "percentage", dp, &f->delay.percentage);
  }
  rpath_key(ap, p, "abort");
  if (rget_map(c, m, "abort", p, &a) > 0) {
    rcheck_keys(c, a, ap, ABORT_FIELDS);
    f->abort.present = true;
    bool http = rget_u32(c, a, "httpStatus", ap, 200, 599, &f->abort.http_status) != 0;
    int g = 0;
    bool grpc = rget_enum(c, a, "grpcStatus", ap, GRPC_CODES, NULL, &g) != 0;
    if (grpc) f->abort.grpc_status = rarena_strdup(c, GRPC_CODES[g]);
    if (http && grpc) rerror(c, a, ap, "set only one of httpStatus or grpcStatus");
    else if (!http && !grpc) rerror(c, a, ap, "missing required field 'httpStatus' (or 'grpcStatus')");
    ropt_pct(c, a, "percentage", ap, &f->abort.percentage);
  }
  if (!f->delay.present && !f->abort.present) rerror(c, m, p, "a fault needs a delay or an abort (or both)");
}

static const struct rfield REWRITE_FIELDS[] = {OK("uri"), OK("authority"), LATER("uriRegexRewrite"), END};
static const struct rfield REDIRECT_FIELDS[] = {
    OK("uri"),           OK("authority"),        OK("port"), OK("scheme"), OK("redirectCode"),
    LATER("derivePort"), LATER("prefixRewrite"), END};
static const struct rfield DIRECT_RESPONSE_FIELDS[] = {OK("status"), OK("body"), END};
static const struct rfield BODY_FIELDS[] = {OK("string"), LATER("bytes"), END};

static void parse_rewrite_redirect(struct rctx *c, const struct yamldoc_node *rule, const char *path,
                                   struct resource_http_route *h) {
  const struct yamldoc_node *m;
  char p[RPATH_MAX];
  if (rget_map(c, rule, "rewrite", path, &m) > 0) {
    rpath_key(p, path, "rewrite");
    rcheck_keys(c, m, p, REWRITE_FIELDS);
    h->rewrite.present = true;
    rget_str(c, m, "uri", p, &h->rewrite.uri);
    rget_str(c, m, "authority", p, &h->rewrite.authority);
  }
  if (rget_map(c, rule, "redirect", path, &m) > 0) {
    rpath_key(p, path, "redirect");
    rcheck_keys(c, m, p, REDIRECT_FIELDS);
    h->redirect.present = true;
    rget_str(c, m, "uri", p, &h->redirect.uri);
    rget_str(c, m, "authority", p, &h->redirect.authority);
    rget_u32(c, m, "port", p, 1, 65535, &h->redirect.port);
    rget_str(c, m, "scheme", p, &h->redirect.scheme);
    h->redirect.redirect_code.value = 301;
    if (ropt_u32(c, m, "redirectCode", p, 300, 399, &h->redirect.redirect_code) > 0) {
      uint32_t code = h->redirect.redirect_code.value;
      if (code != 301 && code != 302 && code != 303 && code != 307 && code != 308) {
        char cp[RPATH_MAX];
        rpath_key(cp, p, "redirectCode");
        rerror(c, yamldoc_get(m, "redirectCode"), cp,
               "redirect code %u is not one Envoy can send; use 301, 302, 303, 307 or 308", code);
      }
    }
  }
  if (rget_map(c, rule, "directResponse", path, &m) > 0) {
    rpath_key(p, path, "directResponse");
    rcheck_keys(c, m, p, DIRECT_RESPONSE_FIELDS);
    h->direct_response.present = true;
    if (rrequire(c, m, "status", p)) rget_u32(c, m, "status", p, 200, 599, &h->direct_response.status);
    const struct yamldoc_node *body;
    if (rget_map(c, m, "body", p, &body) > 0) {
      char bp[RPATH_MAX];
      rpath_key(bp, p, "body");
      rcheck_keys(c, body, bp, BODY_FIELDS);
      rget_str(c, body, "string", bp, &h->direct_response.body);
    }
  }
}

static const struct rfield HTTP_ROUTE_FIELDS[] = {
    OK("name"),
    OK("match"),
    OK("route"),
    OK("redirect"),
    OK("directResponse"),
    OK("rewrite"),
    OK("timeout"),
    OK("retries"),
    OK("fault"),
    OK("mirror"),
    OK("mirrorPercentage"),
    OK("headers"),
    LATER("delegate"),
    LATER("corsPolicy"),
    {"mirrors", RF_LATER, "use mirror"},
    {"mirror_percent", RF_RENAMED, "mirrorPercentage.value (mirrorPercentage: {value: 50})"},
    {"mirrorPercent", RF_RENAMED, "mirrorPercentage.value (mirrorPercentage: {value: 50})"},
    {"appendHeaders", RF_RENAMED, "headers.request.add"},
    {"appendRequestHeaders", RF_RENAMED, "headers.request.add"},
    {"removeRequestHeaders", RF_RENAMED, "headers.request.remove"},
    {"appendResponseHeaders", RF_RENAMED, "headers.response.add"},
    {"removeResponseHeaders", RF_RENAMED, "headers.response.remove"},
    {"websocketUpgrade", RF_RENAMED,
     "nothing: WebSocket upgrades are always allowed now; "
     "remove the field"},
    END};

static void parse_http_route(struct rctx *c, const struct yamldoc_node *n, const char *path,
                             struct resource_http_route *h) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, HTTP_ROUTE_FIELDS);
  h->pos = rpos(n);
  rget_str(c, n, "name", path, &h->name);
  const struct yamldoc_node *seq;
  char p[RPATH_MAX], ip[RPATH_MAX];
  if (rget_seq(c, n, "match", path, &seq) > 0) {
    rpath_key(p, path, "match");
    h->match = rarena_alloc(c, (seq->len + 1) * sizeof *h->match);
    for (size_t i = 0; h->match && i < seq->len; i++) {
      rpath_index(ip, p, i);
      parse_http_match(c, seq->items[i], ip, &h->match[h->match_len++]);
    }
  }
  parse_route_destinations(c, n, path, true, &h->route, &h->route_len);
  ropt_ms(c, n, "timeout", path, &h->timeout);
  parse_retries(c, n, path, &h->retries);
  parse_fault(c, n, path, &h->fault);
  const struct yamldoc_node *mirror;
  if (rget_map(c, n, "mirror", path, &mirror) > 0) {
    rpath_key(p, path, "mirror");
    h->mirror_present = true;
    parse_destination(c, mirror, p, &h->mirror);
  }
  h->mirror_percentage.value = 100;
  if (ropt_pct(c, n, "mirrorPercentage", path, &h->mirror_percentage) > 0 && !h->mirror_present)
    rerror(c, yamldoc_get(n, "mirrorPercentage"), path,
           "mirrorPercentage needs a mirror destination; add mirror: {host: ...}");
  parse_headers(c, n, path, &h->headers);
  parse_rewrite_redirect(c, n, path, h);
  /* Istio: a rule has exactly one action: route, redirect or directResponse. */
  bool route = yamldoc_get(n, "route") != NULL;
  int actions = route + h->redirect.present + h->direct_response.present;
  if (actions == 0) rerror(c, n, path, "an http rule needs a route (or a redirect or a directResponse)");
  else if (actions > 1) rerror(c, n, path, "an http rule takes only one of route, redirect or directResponse");
  if (h->rewrite.present && h->redirect.present)
    rerror(c, n, path, "rewrite and redirect cannot be used together in one rule");
}

static const struct rfield L4_MATCH_FIELDS[] = {OK("port"),
                                                OK("sourceLabels"),
                                                OK("destinationSubnets"),
                                                OK("gateways"),
                                                LATER("sourceNamespace"),
                                                LATER("sourceSubnet"),
                                                END};
static const struct rfield TCP_ROUTE_FIELDS[] = {OK("match"), OK("route"), END};

static void parse_tcp_route(struct rctx *c, const struct yamldoc_node *n, const char *path,
                            struct resource_tcp_route *t) {
  if (!rexpect_map(c, n, path)) return;
  rcheck_keys(c, n, path, TCP_ROUTE_FIELDS);
  t->pos = rpos(n);
  const struct yamldoc_node *seq;
  char p[RPATH_MAX], ip[RPATH_MAX];
  if (rget_seq(c, n, "match", path, &seq) > 0) {
    rpath_key(p, path, "match");
    t->match = rarena_alloc(c, (seq->len + 1) * sizeof *t->match);
    for (size_t i = 0; t->match && i < seq->len; i++) {
      rpath_index(ip, p, i);
      const struct yamldoc_node *m = seq->items[i];
      struct resource_l4_match *lm = &t->match[t->match_len++];
      if (!rexpect_map(c, m, ip)) continue;
      rcheck_keys(c, m, ip, L4_MATCH_FIELDS);
      rget_u32(c, m, "port", ip, 1, 65535, &lm->port);
      rget_labels(c, m, "sourceLabels", ip, &lm->source_labels);
      rget_strings(c, m, "destinationSubnets", ip, &lm->destination_subnets);
      rget_strings(c, m, "gateways", ip, &lm->gateways);
    }
  }
  if (rrequire(c, n, "route", path)) parse_route_destinations(c, n, path, false, &t->route, &t->route_len);
}

static const struct rfield VS_FIELDS[] = {OK("hosts"),
                                          OK("gateways"),
                                          OK("http"),
                                          OK("tcp"),
                                          {"tls", RF_LATER, "SNI routing comes later; use tcp routes"},
                                          LATER("exportTo"),
                                          END};

void rparse_virtual_service(struct rctx *c, const struct yamldoc_node *spec) {
  struct resource_virtual_service *vs = &c->res->spec.virtual_service;
  rcheck_keys(c, spec, "spec", VS_FIELDS);
  const struct yamldoc_node *seq;
  char ip[RPATH_MAX];
  /* Istio: "virtual service must have at least one host". */
  if (rrequire(c, spec, "hosts", "spec") && rget_seq(c, spec, "hosts", "spec", &seq) > 0) {
    if (seq->len == 0) rerror(c, seq, "spec.hosts", "hosts must list at least one host");
    vs->hosts = rarena_alloc(c, (seq->len + 1) * sizeof *vs->hosts);
    for (size_t i = 0; vs->hosts && i < seq->len; i++) {
      rpath_index(ip, "spec.hosts", i);
      char *h = NULL;
      if (rscalar_str(c, seq->items[i], ip, &h) < 0) continue;
      struct resource_host *host = &vs->hosts[vs->hosts_len++];
      host->written = h;
      host->pos = rpos(seq->items[i]);
      char *fqdn = resource_host_fqdn(h, c->res->meta.ns);
      host->fqdn = fqdn ? rarena_strdup(c, fqdn) : NULL;
      free(fqdn);
    }
  }
  rget_strings(c, spec, "gateways", "spec", &vs->gateways);
  if (rget_seq(c, spec, "http", "spec", &seq) > 0) {
    vs->http = rarena_alloc(c, (seq->len + 1) * sizeof *vs->http);
    for (size_t i = 0; vs->http && i < seq->len; i++) {
      rpath_index(ip, "spec.http", i);
      parse_http_route(c, seq->items[i], ip, &vs->http[vs->http_len++]);
    }
  }
  if (rget_seq(c, spec, "tcp", "spec", &seq) > 0) {
    vs->tcp = rarena_alloc(c, (seq->len + 1) * sizeof *vs->tcp);
    for (size_t i = 0; vs->tcp && i < seq->len; i++) {
      rpath_index(ip, "spec.tcp", i);
      parse_tcp_route(c, seq->items[i], ip, &vs->tcp[vs->tcp_len++]);
    }
  }
  if (vs->http_len == 0 && vs->tcp_len == 0 && yamldoc_get(spec, "http") == NULL && yamldoc_get(spec, "tcp") == NULL)
    rerror(c, spec, "spec", "a VirtualService needs http or tcp routes");
}
