/* `meshlab proxy-config routes|clusters|endpoints|listeners REPLICA`: what one sidecar runs, as
 * istioctl's tables show it. The sidecar itself is asked (its admin /config_dump and
 * /listeners), not the lab, so a config the sidecar refused shows as what it really runs.
 * `secret` shows the certificates the sidecar has in force (its admin /certs), as istioctl's
 * `proxy-config secret` does: the chain with its SPIFFE ID, serial and validity, and the root.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "mesh/ca.h"
#include "mesh/client.h"
#include "mesh/compile.h"
#include "mesh/labdir.h"

void cmd_proxy_config_help(FILE *out) {
  fprintf(out,
          "Usage: meshlab proxy-config routes|clusters|endpoints|listeners|secret REPLICA [-n NS] [--lab-dir DIR]\n\n"
          "Prints what a sidecar runs, in istioctl proxy-config's tables: its routes (virtual hosts,\n"
          "matches, the VirtualService each came from), clusters (service, port, subset, the\n"
          "DestinationRule that set its policy), endpoints (address, health, cluster, the transport:\n"
          "ISTIO_MUTUAL or NONE, auto mTLS unless a DestinationRule's tls.mode says) and listeners\n"
          "(with the PeerAuthentication mode of each inbound port and the resource that set it).\n"
          "Under the clusters table, for clusters with a connectionPool or outlierDetection, their live\n"
          "circuit breakers as this sidecar counts them (/clusters): CX, PENDING, RQ and RETRIES as\n"
          "active/limit (- for no limit), the overflow counters, and EJECTED hosts/all hosts.\n"
          "secret: the workload certificate the sidecar presents (\"default\", its SPIFFE ID, serial,\n"
          "validity) and the root it trusts (\"ROOTCA\"), as istioctl proxy-config secret prints them.\n"
          "REPLICA is a replica name (reviews-v2-0) or a deployment name (its first replica).\n");
}

struct fetch {
  struct buf body;
  int status;
  int done;
};

static void on_fetched(struct http_client_call *call, int status) {
  struct fetch *f = call->data;
  f->done = 1;
  /* The client keeps the connection pooled: stop the loop here, then close the client. */
  uv_stop(call->cl->env->loop);
  f->status = status < 0 ? status : call->response.status;
  if (status == 0) buf_append(&f->body, call->response.body.data, call->response.body.len);
}

static void on_client_closed(struct http_client *cl) { (void)cl; }

/* GET http://addr/path on a private loop; returns the HTTP status or a negative error. */
static int admin_get(const char *addr, const char *path, struct buf *out) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct conn_env env;
  conn_env_init(&env, &loop, 65536);
  struct http_client cl;
  http_client_init(&cl, &env);
  char url[512];
  snprintf(url, sizeof url, "http://%s%s", addr, path);
  struct fetch f = {{0}, 0, 0};
  struct http_client_req req = {0};
  req.url = url;
  req.timeout_ms = 5000;
  int rc = http_client_send(&cl, &req, on_fetched, &f, NULL);
  if (rc == 0) uv_run(&loop, UV_RUN_DEFAULT);
  http_client_close(&cl, on_client_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  conn_env_free(&env);
  *out = f.body;
  return rc ? rc : f.status;
}

/* The replica's sidecar admin address: REPLICA's folder, or the first replica of a deployment.
 * With ns (-n), that namespace's folder; without, labdir_replica_find's (the default
 * namespace, else the one namespace holding the name, or NAME.NAMESPACE as given). */
static int find_admin(const char *dir, const char *ns, const char *name, char *replica, size_t rn, char *addr,
                      size_t an) {
  char rel[600], file[700], candidate[256]; /* the caller's replica buffer holds 256 */
  for (int i = -1; i < 64; i++) {
    if (i < 0) snprintf(candidate, sizeof candidate, "%s", name);
    else snprintf(candidate, sizeof candidate, "%s-%d", name, i);
    int rc = ns && *ns ? labdir_replica_rel(rel, sizeof rel, ns, candidate)
                       : labdir_replica_find(dir, candidate, rel, sizeof rel);
    if (rc != 0) continue;
    snprintf(file, sizeof file, "%s/admin", rel);
    if (labdir_read(dir, file, addr, an) == 0) {
      snprintf(replica, rn, "%s", candidate);
      return 0;
    }
  }
  return -1;
}

static const char *match_text(const struct xds_match *m, char *buf, size_t n) {
  const struct xds_string_match *u = &m->uri;
  const char *kind = u->kind == XDS_MATCH_EXACT ? "" : u->kind == XDS_MATCH_PREFIX ? "*" : "~";
  if (u->value) snprintf(buf, n, "%s%s", u->value, u->kind == XDS_MATCH_PREFIX ? kind : "");
  else snprintf(buf, n, "/*");
  if (m->headers_len) {
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, " [%s=%s]", m->headers[0].name,
             m->headers[0].match.value ? m->headers[0].match.value : "*");
  }
  return buf;
}

static void print_routes(const struct proxy_config *cfg) {
  printf("%-22s %-48s %-40s %-28s %s\n", "NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE");
  for (size_t i = 0; i < cfg->route_configs_len; i++) {
    const struct xds_route_config *rc = &cfg->route_configs[i];
    for (size_t v = 0; v < rc->vhosts_len; v++) {
      const struct xds_vhost *vh = &rc->vhosts[v];
      char domains[64];
      snprintf(domains, sizeof domains, "%s%s", vh->domains_len ? vh->domains[0] : "*",
               vh->domains_len > 1 ? " + more" : "");
      for (size_t r = 0; r < vh->routes_len; r++) {
        const struct xds_route *rt = &vh->routes[r];
        char match[128], vs[160];
        if (rt->match_len == 0) snprintf(match, sizeof match, "/*");
        else match_text(&rt->match[0], match, sizeof match);
        if (rt->vs_name) snprintf(vs, sizeof vs, "%s.%s", rt->vs_name, rt->vs_ns);
        else snprintf(vs, sizeof vs, "-");
        printf("%-22s %-48s %-40s %-28s %s\n", rc->name, vh->name, domains, match, vs);
      }
    }
  }
}

static void print_clusters(const struct proxy_config *cfg) {
  printf("%-46s %-6s %-8s %-10s %s\n", "SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "DESTINATION RULE");
  for (size_t i = 0; i < cfg->clusters_len; i++) {
    const struct xds_cluster *c = &cfg->clusters[i];
    printf("%-46s %-6u %-8s %-10s %s\n", c->service ? c->service : "-", c->port, c->subset ? c->subset : "-",
           c->direction == XDS_INBOUND ? "inbound" : "outbound", c->policy.source ? c->policy.source : "-");
  }
  /* The clusters every Istio proxy has beside the pushed ones, as istioctl lists them: where
   * outboundTrafficPolicy sends a host in no registry (REGISTRY_ONLY: BlackHoleCluster, 502;
   * ALLOW_ANY: PassthroughCluster, the address asked for). Gateways route by their Gateway
   * only, so they have no PassthroughCluster. */
  printf("%-46s %-6s %-8s %-10s %s\n", "BlackHoleCluster", "-", "-", "-", "-");
  if (proxy_config_route_config(cfg, "outbound"))
    printf("%-46s %-6s %-8s %-10s %s\n", "PassthroughCluster", "-", "-", "-", "-");
}

/* The value of "PREFIX::KEY::VALUE" in the sidecar's /clusters text (admin.c), or NULL. */
static const char *clusters_value(const char *text, const char *prefix, const char *key, char *out, size_t n) {
  size_t plen = strlen(prefix), klen = strlen(key);
  for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    size_t len = strcspn(line, "\n");
    if (len > plen + klen + 4 && memcmp(line, prefix, plen) == 0 && memcmp(line + plen, "::", 2) == 0 &&
        memcmp(line + plen + 2, key, klen) == 0 && memcmp(line + plen + 2 + klen, "::", 2) == 0) {
      size_t v = len - plen - klen - 4;
      snprintf(out, n, "%.*s", (int)v, line + plen + klen + 4);
      return out;
    }
  }
  return NULL;
}

static bool ends_with(const char *line, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return len >= n && memcmp(line + len - n, suffix, n) == 0;
}

/* "3/1", "0/-" (no limit: Envoy's 2^32-1 default) */
static const char *fraction(const char *text, const char *name, const char *active, const char *limit, char *out,
                            size_t n) {
  char a[32], l[32];
  if (!clusters_value(text, name, active, a, sizeof a)) snprintf(a, sizeof a, "?");
  if (!clusters_value(text, name, limit, l, sizeof l) || strcmp(l, "4294967295") == 0) snprintf(l, sizeof l, "-");
  snprintf(out, n, "%s/%s", a, l);
  return out;
}

/* Whether the sidecar runs cluster `name` with a connection-pool limit or outlier detection:
 * a limit other than Envoy's defaults (2^32-1; 0 requests per connection), or outlier lines. */
static bool has_policy(const char *text, const char *name) {
  static const char *const limits[] = {"default_priority::max_connections", "default_priority::max_pending_requests",
                                       "default_priority::max_requests", "default_priority::max_retries"};
  char v[32];
  for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
    if (clusters_value(text, name, limits[i], v, sizeof v) && strcmp(v, "4294967295") != 0) return true;
  if (clusters_value(text, name, "default_priority::max_requests_per_connection", v, sizeof v) && strcmp(v, "0") != 0)
    return true;
  return clusters_value(text, name, "outlier::consecutive_5xx_threshold", v, sizeof v) != NULL;
}

/* The live circuit breakers and outlier detection of the clusters that have limits or
 * outlierDetection, from the sidecar's /clusters: the caller's own view. Printed under the
 * clusters table, only when some cluster has such a policy, so the table itself never changes. */
static void print_breakers(const struct proxy_config *cfg, const char *text) {
  bool any = false;
  for (size_t i = 0; i < cfg->clusters_len && !any; i++) any = has_policy(text, cfg->clusters[i].name);
  if (!any) return;
  printf("\n%-56s %-8s %-8s %-8s %-8s %-12s %-17s %-15s %s\n", "CLUSTER", "CX", "PENDING", "RQ", "RETRIES",
         "CX OVERFLOW", "PENDING OVERFLOW", "RETRY OVERFLOW", "EJECTED");
  for (size_t i = 0; i < cfg->clusters_len; i++) {
    const struct xds_cluster *c = &cfg->clusters[i];
    if (!has_policy(text, c->name)) continue;
    char v[32];
    bool od = clusters_value(text, c->name, "outlier::consecutive_5xx_threshold", v, sizeof v) != NULL;
    char cx[72], pending[72], rq[72], retries[72], cxo[32], po[32], ro[32], ejected[32] = "-";
    fraction(text, c->name, "circuit_breakers::cx_active", "default_priority::max_connections", cx, sizeof cx);
    fraction(text, c->name, "circuit_breakers::rq_pending_active", "default_priority::max_pending_requests", pending,
             sizeof pending);
    fraction(text, c->name, "circuit_breakers::rq_active", "default_priority::max_requests", rq, sizeof rq);
    fraction(text, c->name, "circuit_breakers::rq_retry_active", "default_priority::max_retries", retries,
             sizeof retries);
    if (!clusters_value(text, c->name, "upstream_cx_overflow", cxo, sizeof cxo)) snprintf(cxo, sizeof cxo, "?");
    if (!clusters_value(text, c->name, "upstream_rq_pending_overflow", po, sizeof po)) snprintf(po, sizeof po, "?");
    if (!clusters_value(text, c->name, "upstream_rq_retry_overflow", ro, sizeof ro)) snprintf(ro, sizeof ro, "?");
    if (od) {
      /* "ejected/hosts": the hosts this caller skips now (their NAME::HOST::ejected::BOOL lines) */
      size_t plen = strlen(c->name);
      int hosts = 0, out = 0;
      for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        size_t len = strcspn(line, "\n");
        if (len <= plen + 2 || memcmp(line, c->name, plen) != 0 || memcmp(line + plen, "::", 2) != 0) continue;
        if (ends_with(line, len, "::ejected::false")) hosts++;
        else if (ends_with(line, len, "::ejected::true")) hosts++, out++;
      }
      snprintf(ejected, sizeof ejected, "%d/%d", out, hosts);
    }
    printf("%-56s %-8s %-8s %-8s %-8s %-12s %-17s %-15s %s\n", c->name, cx, pending, rq, retries, cxo, po, ro, ejected);
  }
}

static void print_endpoints(const struct proxy_config *cfg) {
  /* TLS: the transport this sidecar uses toward the endpoint (auto mTLS or a DestinationRule's
   * tls.mode), "-" for inbound endpoints (the local app). */
  printf("%-28s %-10s %-64s %s\n", "ENDPOINT", "STATUS", "CLUSTER", "TLS");
  for (size_t i = 0; i < cfg->clusters_len; i++) {
    const struct xds_cluster *c = &cfg->clusters[i];
    for (size_t e = 0; e < c->endpoints_len; e++) {
      const struct xds_endpoint *ep = &c->endpoints[e];
      char addr[160];
      if (ep->port) snprintf(addr, sizeof addr, "%s:%u", ep->address, ep->port);
      else snprintf(addr, sizeof addr, "%s", ep->address);
      printf("%-28s %-10s %-64s %s\n", addr, ep->healthy ? "HEALTHY" : "UNHEALTHY", c->name,
             c->direction == XDS_INBOUND ? "-" : compile_tls_name(ep->tls));
    }
  }
}

static void utc(time_t t, char *out, size_t n) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void lower(char *s) {
  for (; *s; s++)
    if (*s >= 'A' && *s <= 'F') *s = (char)(*s - 'A' + 'a');
}

/* One table line per certificate of pem: istioctl's columns, plus the SPIFFE ID. */
static void print_secret_rows(const char *resource, const char *type, const char *pem, time_t now) {
  struct ca_cert_info info[4];
  int n = pem ? ca_cert_describe(pem, info, 4) : 0;
  for (int i = 0; i < n; i++) {
    char nb[32], na[32];
    utc(info[i].not_before, nb, sizeof nb);
    utc(info[i].not_after, na, sizeof na);
    lower(info[i].serial);
    bool valid = now >= info[i].not_before && now < info[i].not_after;
    printf("%-14s %-11s %-7s %-11s %-34s %-21s %-21s %s\n", resource, type, "ACTIVE", valid ? "true" : "false",
           info[i].serial, na, nb, info[i].uri_san[0] ? info[i].uri_san : info[i].subject);
  }
}

static int print_secret(const char *replica, const char *body) {
  json_error_t jerr;
  json_t *o = json_loads(body, 0, &jerr);
  const char *chain = json_string_value(json_object_get(o, "cert_chain"));
  const char *root = json_string_value(json_object_get(o, "ca_cert"));
  if (!chain) {
    fprintf(stderr,
            "meshlab proxy-config: %s has no workload certificate (the lab issues one to every sidecar; "
            "an older sidecar or one started without --cert runs plaintext only)\n",
            replica);
    json_decref(o);
    return 1;
  }
  time_t now = time(NULL);
  printf("%-14s %-11s %-7s %-11s %-34s %-21s %-21s %s\n", "RESOURCE NAME", "TYPE", "STATUS", "VALID CERT",
         "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE", "IDENTITY");
  print_secret_rows("default", "Cert Chain", chain, now);
  print_secret_rows("ROOTCA", "CA", root, now);
  json_decref(o);
  return 0;
}

int cmd_proxy_config(int argc, char **argv) {
  const char *what = NULL, *name = NULL, *lab_dir = NULL, *ns = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc = args_flag(argc, argv, &i, "lab-dir", NULL, &v);
    if (rc < 0) return 2;
    if (rc > 0) lab_dir = v;
    else if ((rc = args_flag(argc, argv, &i, "namespace", "-n", &v)) != 0) {
      if (rc < 0) return 2;
      ns = v;
    } else if (argv[i][0] == '-') return args_usage_error(argv[0], "unknown flag \"%s\"", argv[i]);
    else if (!what) what = argv[i];
    else if (!name) name = argv[i];
    else return args_usage_error(argv[0], "unexpected argument \"%s\"", argv[i]);
  }
  if (!what || !name ||
      (strcmp(what, "routes") && strcmp(what, "clusters") && strcmp(what, "endpoints") && strcmp(what, "listeners") &&
       strcmp(what, "secret")))
    return args_usage_error(argv[0], "expected routes|clusters|endpoints|listeners|secret and a REPLICA");
  char dir[4096], replica[256], admin[256];
  if (labdir_resolve(lab_dir, dir, sizeof dir) != 0 || !labdir_running(dir)) {
    fprintf(stderr, "%s\n", LABDIR_NO_LAB);
    return LABDIR_EXIT_NO_LAB;
  }
  if (find_admin(dir, ns, name, replica, sizeof replica, admin, sizeof admin) != 0) {
    fprintf(stderr,
            "meshlab proxy-config: no replica or workload \"%s\"%s%s in the lab, or several namespaces hold it "
            "(pass -n NS; see: meshlab status)\n",
            name, ns ? " in namespace " : "", ns ? ns : "");
    return 1;
  }
  struct buf body = {0};
  int status;
  if (strcmp(what, "secret") == 0) {
    status = admin_get(admin, "/certs", &body);
    if (status == 200 && print_secret(replica, buf_cstr(&body)) != 0) {
      buf_free(&body);
      return 1;
    }
  } else if (strcmp(what, "listeners") == 0) {
    status = admin_get(admin, "/listeners", &body);
    if (status == 200) {
      printf("%-10s %s\n", "NAME", "ADDRESS");
      buf_cstr(&body); /* NUL-terminates body.data */
      for (char *line = body.data ? strtok(body.data, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char *sep = strstr(line, "::");
        if (sep) *sep = '\0';
        printf("%-10s %s\n", line, sep ? sep + 2 : "");
      }
      /* Under the listeners, the PeerAuthentication mode each inbound port enforces. */
      struct buf rbody = {0};
      struct proxy_config *cfg = NULL;
      char err[256];
      if (admin_get(admin, "/config_dump?resource=routing", &rbody) == 200 &&
          compile_from_json(buf_cstr(&rbody), rbody.len, replica, &cfg, err, sizeof err) == 0) {
        int header = 0;
        for (size_t i = 0; i < cfg->route_configs_len; i++) {
          const struct xds_route_config *rc = &cfg->route_configs[i];
          if (rc->mtls == RESOURCE_MTLS_UNSET) continue;
          if (!header++) printf("\n%-12s %-11s %s\n", "INBOUND PORT", "MTLS", "DECIDED BY");
          printf("%-12u %-11s %s\n", rc->port, compile_mtls_name(rc->mtls),
                 rc->mtls_source ? rc->mtls_source : "nothing set (PERMISSIVE)");
        }
        proxy_config_free(cfg);
      }
      buf_free(&rbody);
    }
  } else {
    status = admin_get(admin, "/config_dump?resource=routing", &body);
    if (status == 200) {
      struct proxy_config *cfg;
      char err[256];
      if (compile_from_json(buf_cstr(&body), body.len, replica, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "meshlab proxy-config: %s has no routing yet (%s)\n", replica, err);
        buf_free(&body);
        return 1;
      }
      if (strcmp(what, "routes") == 0) {
        print_routes(cfg);
      } else if (strcmp(what, "clusters") == 0) {
        print_clusters(cfg);
        struct buf live = {0};
        if (admin_get(admin, "/clusters", &live) == 200) print_breakers(cfg, buf_cstr(&live));
        buf_free(&live);
      } else {
        print_endpoints(cfg);
      }
      proxy_config_free(cfg);
    }
  }
  buf_free(&body);
  if (status != 200) {
    fprintf(stderr, "meshlab proxy-config: the sidecar of %s (admin %s) did not answer: %s\n", replica, admin,
            status < 0 ? uv_strerror(status) : "unexpected status");
    return 1;
  }
  return 0;
}
