/* router: host -> virtual host -> first matching rule -> weighted destination -> cluster
 * (see router.h).
 *
 * Matching follows Envoy's route matcher as Istio generates it:
 *  - uri `exact` and `regex` compare the path without its query string, `prefix` the whole
 *    :path (Envoy's path / safe_regex / prefix); `ignoreUriCase` applies to exact and prefix;
 *  - regexes must match the whole value (RE2 full match; here POSIX ERE anchored ^( )$);
 *  - a header condition on a missing header fails; `withoutHeaders` is its negation, so it
 *    holds when the header is missing; `{}` (present) only asks for the header to exist;
 *  - conditions in one match block are ANDed, blocks are ORed, and the first rule with a
 *    matching block wins, even when its destination turns out not to exist (then 503 NC: Envoy
 *    never falls through to a later rule).
 */
#include "mesh/router.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *router_verdict_name(enum router_verdict v) {
  switch (v) {
  case ROUTER_ROUTE:
    return "ROUTE";
  case ROUTER_NO_ROUTE:
    return "NO_ROUTE";
  case ROUTER_NO_CLUSTER:
    return "NO_CLUSTER";
  case ROUTER_REDIRECT:
    return "REDIRECT";
  case ROUTER_DIRECT_RESPONSE:
    return "DIRECT_RESPONSE";
  case ROUTER_PASSTHROUGH:
    return "PASSTHROUGH";
  case ROUTER_BLACKHOLE:
    return "BLACKHOLE";
  }
  return "?";
}

const char *router_verdict_flag(enum router_verdict v) {
  switch (v) {
  case ROUTER_NO_ROUTE:
    return "NR";
  case ROUTER_NO_CLUSTER:
    return "NC";
  case ROUTER_ROUTE:
  case ROUTER_REDIRECT:
  case ROUTER_DIRECT_RESPONSE:
  case ROUTER_PASSTHROUGH:
  case ROUTER_BLACKHOLE: /* a direct response: Envoy sets no flag ("-") */
    return NULL;
  }
  return NULL;
}

int router_verdict_status(enum router_verdict v) {
  switch (v) {
  case ROUTER_NO_ROUTE:
    return 404;
  case ROUTER_NO_CLUSTER:
    return 503;
  case ROUTER_BLACKHOLE:
    return 502;
  case ROUTER_ROUTE:
  case ROUTER_REDIRECT:
  case ROUTER_DIRECT_RESPONSE:
  case ROUTER_PASSTHROUGH:
    return 0;
  }
  return 0;
}

/* ---- string matching ------------------------------------------------------------------------ */

static bool regex_slice(const regex_t *re, struct slice s) {
  if (!re) return false; /* a pattern POSIX could not compile never matches (compile warned) */
  char stack[512];
  char *buf = s.n < sizeof stack ? stack : malloc(s.n + 1);
  if (!buf) return false;
  memcpy(buf, s.p, s.n);
  buf[s.n] = '\0';
  /* A value with a NUL inside cannot match a pattern that must cover all of it. */
  bool ok = strlen(buf) == s.n && regexec(re, buf, 0, NULL, 0) == 0;
  if (buf != stack) free(buf);
  return ok;
}

static bool match_string(const struct xds_string_match *m, struct slice s, bool icase) {
  size_t n = m->value ? strlen(m->value) : 0;
  switch (m->kind) {
  case XDS_MATCH_ANY:
  case XDS_MATCH_PRESENT:
    return true;
  case XDS_MATCH_EXACT:
    return s.n == n && (icase ? strncasecmp(s.p, m->value, n) == 0 : memcmp(s.p, m->value, n) == 0);
  case XDS_MATCH_PREFIX:
    return s.n >= n && (icase ? strncasecmp(s.p, m->value, n) == 0 : memcmp(s.p, m->value, n) == 0);
  case XDS_MATCH_REGEX:
    return regex_slice(m->regex, s);
  }
  return false;
}

int router_query_param(struct slice path, const char *name, struct slice *value) {
  const char *q = memchr(path.p, '?', path.n);
  if (!q) return 0;
  const char *end = path.p + path.n, *p = q + 1;
  size_t nl = strlen(name);
  /* A fragment never reaches a proxy, but stop at one anyway. */
  const char *hash = memchr(p, '#', (size_t)(end - p));
  if (hash) end = hash;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    const char *key_end = eq ? eq : stop;
    if ((size_t)(key_end - p) == nl && memcmp(p, name, nl) == 0) {
      *value = eq ? (struct slice){eq + 1, (size_t)(stop - eq - 1)} : (struct slice){stop, 0};
      return 1;
    }
    p = stop + 1;
  }
  return 0;
}

static bool header_value(const struct router_request *req, const char *name, struct slice *v) {
  const struct slice *found = req->head ? http_head_find(req->head, name) : NULL;
  if (!found) return false;
  *v = *found;
  return true;
}

static bool match_named(const struct xds_named_match *m, bool present, struct slice v) {
  if (!present) return false;
  return match_string(&m->match, v, false);
}

/* Does one match block hold? port is the port the request is for (vhost or listener). */
static bool match_block(const struct xds_match *m, const struct router_request *req, uint32_t port,
                        const struct resource_map *source_labels) {
  if (m->port && m->port != port) return false;
  if (m->source_labels.len && (!source_labels || !resource_map_matches(&m->source_labels, source_labels))) return false;
  if (m->uri.kind != XDS_MATCH_ANY) {
    struct slice s = req->path;
    if (m->uri.kind != XDS_MATCH_PREFIX) {
      const char *q = memchr(s.p, '?', s.n);
      if (q) s.n = (size_t)(q - s.p);
    }
    if (!match_string(&m->uri, s, m->ignore_uri_case && m->uri.kind != XDS_MATCH_REGEX)) return false;
  }
  struct slice scheme = req->scheme.n ? req->scheme : SLICE_LIT("http");
  if (!match_string(&m->scheme, scheme, false)) return false;
  if (!match_string(&m->method, req->method, false)) return false;
  if (!match_string(&m->authority, req->authority, false)) return false;
  for (size_t i = 0; i < m->headers_len; i++) {
    struct slice v = {0};
    bool present = header_value(req, m->headers[i].name, &v);
    if (!match_named(&m->headers[i], present, v)) return false;
  }
  for (size_t i = 0; i < m->without_headers_len; i++) {
    struct slice v = {0};
    bool present = header_value(req, m->without_headers[i].name, &v);
    if (match_named(&m->without_headers[i], present, v)) return false;
  }
  for (size_t i = 0; i < m->query_params_len; i++) {
    struct slice v = {0};
    bool present = router_query_param(req->path, m->query_params[i].name, &v);
    if (!match_named(&m->query_params[i], present, v)) return false;
  }
  return true;
}

/* ---- virtual host lookup -------------------------------------------------------------------- */

/* Splits an authority into host and port ("reviews:9080", "[::1]:80", "reviews."). */
static void split_authority(struct slice a, struct slice *host, uint32_t *port) {
  *host = a;
  *port = 0;
  const char *colon = NULL;
  if (a.n && a.p[0] == '[') {
    const char *close = memchr(a.p, ']', a.n);
    if (close) {
      *host = (struct slice){a.p, (size_t)(close - a.p) + 1};
      if ((size_t)(close - a.p) + 1 < a.n && close[1] == ':') colon = close + 1;
    }
  } else {
    colon = memchr(a.p, ':', a.n);
    if (colon) host->n = (size_t)(colon - a.p);
  }
  if (colon) {
    uint32_t p = 0;
    for (const char *c = colon + 1; c < a.p + a.n && isdigit((unsigned char)*c) && p <= 65535; c++)
      p = p * 10 + (uint32_t)(*c - '0');
    *port = p <= 65535 ? p : 0;
  }
  if (host->n > 1 && host->p[host->n - 1] == '.') host->n--; /* "reviews." is "reviews" */
}

int router_original_destination(struct slice authority, char *out, size_t n) {
  struct slice host;
  uint32_t port;
  split_authority(authority, &host, &port);
  if (!host.n || (host.n == 2 && host.p[0] == '[')) return -EINVAL;
  int w = snprintf(out, n, "%.*s:%u", (int)host.n, host.p, (unsigned)(port ? port : 80));
  return w > 0 && (size_t)w < n ? 0 : -EINVAL;
}

/* Among the vhosts of one domain (sorted by port), the one for port; 0 = no port given. */
static const struct xds_vhost *pick_vhost(const struct xds_domain_slot *s, uint32_t port) {
  if (!s) return NULL;
  const struct xds_vhost *any = NULL;
  for (size_t i = 0; i < s->vhosts_len; i++) {
    if (port && s->vhosts[i]->port == port) return s->vhosts[i];
    if (!s->vhosts[i]->port && !any) any = s->vhosts[i];
  }
  if (any) return any;
  if (port) return NULL;
  /* No port anywhere (`curl http://reviews/` through the explicit proxy): the lab reads it as
   * the service's only port, or its port 80, or its lowest port. Istio would need a listener. */
  for (size_t i = 0; i < s->vhosts_len; i++)
    if (s->vhosts[i]->port == 80) return s->vhosts[i];
  return s->vhosts_len ? s->vhosts[0] : NULL;
}

/* Exact host first, then Envoy's wildcard domains from the longest suffix ("*.b.c" before
 * "*.c"), then "*". Cost grows with the labels of the host, never with the number of vhosts. */
static const struct xds_vhost *find_vhost(const struct xds_route_config *rc, struct slice host, uint32_t port) {
  const struct xds_vhost *vh = pick_vhost(proxy_config_domain_find(rc, host.p, host.n), port);
  if (vh) return vh;
  char buf[260];
  for (size_t i = 0; i < host.n; i++) {
    if (host.p[i] != '.' || host.n - i + 1 >= sizeof buf) continue;
    buf[0] = '*';
    memcpy(buf + 1, host.p + i, host.n - i);
    vh = pick_vhost(proxy_config_domain_find(rc, buf, host.n - i + 1), port);
    if (vh) return vh;
  }
  return pick_vhost(proxy_config_domain_find(rc, "*", 1), port);
}

/* ---- the decision --------------------------------------------------------------------------- */

/* snprintf that may truncate on purpose (the trace line is bounded). */
static void say(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, size, fmt, ap);
  va_end(ap);
}

static enum router_verdict verdict(struct route_decision *out, enum router_verdict v) {
  out->verdict = v;
  return v;
}

enum router_verdict router_route(const struct proxy_config *cfg, const struct router_request *req, struct rng *rng,
                                 struct route_decision *out) {
  memset(out, 0, sizeof *out);
  out->match_index = -1;
  struct slice host;
  uint32_t authority_port;
  split_authority(req->authority, &host, &authority_port);
  uint32_t port = authority_port ? authority_port : req->port;

  const struct xds_route_config *rc = proxy_config_listener(cfg, req->direction, req->port);
  out->route_config = rc;
  if (!rc) {
    say(out->why, sizeof out->why, "no route config for this listener (port %u)", (unsigned)req->port);
    return verdict(out, ROUTER_NO_ROUTE);
  }
  /* Gateway and inbound vhosts serve their listener's port whatever the Host says. */
  const struct xds_vhost *vh = find_vhost(rc, host, rc->port ? 0 : port);
  out->vhost = vh;
  if (!vh) {
    int an = (int)(req->authority.n > 200 ? 200 : req->authority.n);
    /* Istio's catch-all vhost "*" of a sidecar's outbound routes (BuildCatchAllVirtualHost):
     * it only sees hosts no service vhost took, and ends the lookup either way. */
    if (rc->outbound_policy != XDS_OUTBOUND_POLICY_NONE) {
      bool allow = rc->outbound_policy == XDS_OUTBOUND_POLICY_ALLOW_ANY;
      if (allow) out->port = port;
      say(out->why, sizeof out->why,
          "route config %s: no virtual host for \"%.*s\"; outboundTrafficPolicy %s: route %s to %s%s", rc->name, an,
          req->authority.p, xds_outbound_policy_name(rc->outbound_policy),
          allow ? ROUTER_PASSTHROUGH_ROUTE : ROUTER_BLACKHOLE_ROUTE,
          allow ? ROUTER_PASSTHROUGH_CLUSTER : ROUTER_BLACKHOLE_CLUSTER,
          allow ? " (the original destination)" : " (a direct response 502)");
      return verdict(out, allow ? ROUTER_PASSTHROUGH : ROUTER_BLACKHOLE);
    }
    say(out->why, sizeof out->why, "route config %s: no virtual host for \"%.*s\"", rc->name, an, req->authority.p);
    return verdict(out, ROUTER_NO_ROUTE);
  }
  out->port = vh->port ? vh->port : rc->port ? rc->port : port;
  const struct resource_map *labels = req->source_labels ? req->source_labels : &cfg->labels;

  const struct xds_route *rt = NULL;
  for (size_t i = 0; i < vh->routes_len && !rt; i++) {
    const struct xds_route *r = &vh->routes[i];
    if (!r->match_len) {
      rt = r;
      break;
    }
    for (size_t m = 0; m < r->match_len; m++)
      if (match_block(&r->match[m], req, out->port, labels)) {
        rt = r;
        out->match_index = (int)m;
        break;
      }
  }
  if (!rt) {
    say(out->why, sizeof out->why, "vhost %s: none of %zu rules matched", vh->name, vh->routes_len);
    return verdict(out, ROUTER_NO_ROUTE);
  }
  out->route = rt;
  char rule[200];
  if (rt->vs_name && out->match_index >= 0)
    say(rule, sizeof rule, "VirtualService %s/%s http[%d] match[%d]", rt->vs_ns, rt->vs_name, rt->rule,
        out->match_index);
  else if (rt->vs_name)
    say(rule, sizeof rule, "VirtualService %s/%s http[%d] (no match: every request)", rt->vs_ns, rt->vs_name, rt->rule);
  else say(rule, sizeof rule, "default route (no VirtualService)");

  if (rt->action == XDS_ACTION_REDIRECT || rt->action == XDS_ACTION_DIRECT_RESPONSE) {
    say(out->why, sizeof out->why, "vhost %s; %s; %s", vh->name, rule,
        rt->action == XDS_ACTION_REDIRECT ? "redirect" : "direct response");
    return verdict(out, rt->action == XDS_ACTION_REDIRECT ? ROUTER_REDIRECT : ROUTER_DIRECT_RESPONSE);
  }
  if (!rt->destinations_len) {
    say(out->why, sizeof out->why, "vhost %s; %s; the rule has no destination", vh->name, rule);
    return verdict(out, ROUTER_NO_CLUSTER);
  }

  /* Weighted pick: weights are relative (share = weight / sum). One destination takes all
   * traffic without a draw, so the rng sequence only moves when there is a choice. */
  const struct xds_destination *d = &rt->destinations[0];
  out->total_weight = rt->total_weight;
  if (rt->destinations_len > 1 && rt->total_weight > 0) {
    uint64_t draw = (uint64_t)(rng_double(rng) * (double)rt->total_weight);
    if (draw >= rt->total_weight) draw = rt->total_weight - 1;
    out->draw = draw;
    uint64_t acc = 0;
    for (size_t i = 0; i < rt->destinations_len; i++) {
      acc += rt->destinations[i].weight;
      if (draw < acc) {
        d = &rt->destinations[i];
        break;
      }
    }
  }
  out->destination = d;
  char pick[96] = "";
  if (rt->destinations_len > 1)
    say(pick, sizeof pick, "; weighted draw %llu of %llu", (unsigned long long)out->draw,
        (unsigned long long)out->total_weight);
  if (!d->cluster) {
    say(out->why, sizeof out->why, "vhost %s; %s%s; cluster %s missing: %s", vh->name, rule, pick,
        d->cluster_name ? d->cluster_name : "?", d->missing ? d->missing : "not in this config");
    return verdict(out, ROUTER_NO_CLUSTER);
  }
  out->cluster = d->cluster;
  say(out->why, sizeof out->why, "vhost %s; %s%s; cluster %s", vh->name, rule, pick, d->cluster->name);
  return verdict(out, ROUTER_ROUTE);
}
