/* Building a sidecar from its bootstrap: see sidecar.h. Cluster names follow Istio's
 * ("inbound|9080||", "outbound|9080||reviews.default.svc.cluster.local") so /clusters and the
 * metrics read like a real sidecar's. */
#include "mesh/sidecar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/issuer.h"

#include "mesh/ca.h"
#include "mesh/tls.h"

static int port_of(const struct conn_addr *a) {
  const char *colon = strrchr(a->text, ':');
  return a->kind == CONN_TCP && colon ? atoi(colon + 1) : 0;
}

int sidecar_start(struct sidecar *sc, uv_loop_t *loop, const struct bootstrap *b, const char *command_line, char *err,
                  size_t errlen) {
  memset(sc, 0, sizeof *sc);
  int rc = proxy_init(&sc->px, loop, &b->limits);
  if (rc != 0) {
    snprintf(err, errlen, "cannot set up the proxy: %s", uv_strerror(rc));
    return rc;
  }
  sc->started = 1;
  if (b->access_log_path) {
    sc->log.out = strcmp(b->access_log_path, "-") == 0 ? stdout : fopen(b->access_log_path, "a");
    if (!sc->log.out) {
      snprintf(err, errlen, "cannot open access log %s: %s", b->access_log_path, strerror(errno));
      return -errno;
    }
    sc->log.format = b->access_log_format;
    sc->px.log = &sc->log;
  }
  if (b->ninbound > SIDECAR_MAX_INBOUND) {
    snprintf(err, errlen, "at most %d inbound ports", SIDECAR_MAX_INBOUND);
    return -EINVAL;
  }
  /* A sidecar reports Istio's metrics; the one-hop proxy (no workload) does not. */
  sc->px.telemetry.enabled = b->workload != NULL;
  struct proxy_config *cfg;
  rc = bootstrap_routing(b, &cfg, err, errlen);
  if (rc != 0) return rc;
  rc = proxy_set_config(&sc->px, cfg);
  if (rc != 0) {
    snprintf(err, errlen, "cannot install the configuration: %s", uv_strerror(rc));
    return rc;
  }
  for (size_t i = 0; i < b->ninbound; i++) {
    rc = proxy_listen(&sc->px, &b->inbound[i], XDS_INBOUND, (uint32_t)port_of(&b->inbound[i]), "inbound",
                      &sc->inbound[i]);
    if (rc != 0) {
      snprintf(err, errlen, "cannot listen on inbound %s: %s", b->inbound[i].text, uv_strerror(rc));
      return rc;
    }
    sc->ninbound++;
  }
  if (b->has_outbound) {
    rc = proxy_listen(&sc->px, &b->outbound, XDS_OUTBOUND, 0, "outbound", &sc->outbound);
    if (rc != 0) {
      snprintf(err, errlen, "cannot listen on outbound %s: %s", b->outbound.text, uv_strerror(rc));
      return rc;
    }
  }
  if (b->has_admin) {
    rc = admin_start(&sc->admin, &sc->px, &b->admin, b->json, command_line);
    sc->has_admin = 1;
    snprintf(sc->admin.name, sizeof sc->admin.name, "%s", b->node_id ? b->node_id : "");
    snprintf(sc->px.name, sizeof sc->px.name, "%s", sc->admin.name);
    if (rc != 0) {
      snprintf(err, errlen, "cannot listen on admin %s: %s", b->admin.text, uv_strerror(rc));
      return rc;
    }
    sc->admin.live = 1; /* the static config is in force and every listener is bound */
  }
  return 0;
}

/* ---- pushed mode ------------------------------------------------------------------------ */

static int listening_inbound(const struct sidecar *sc, uint32_t port) {
  for (size_t i = 0; i < sc->ninbound; i++)
    if (sc->inbound[i]->port == port) return 1;
  return 0;
}

static int listening_gateway(const struct sidecar *sc, uint32_t port) {
  for (size_t i = 0; i < sc->ngateways; i++)
    if (sc->gateway_ports[i] == port) return 1;
  return 0;
}

/* Where a Gateway server port is served: its mapping, else Istio's container-port convention
 * (an ingress gateway's Service maps 80 to 8080 and 443 to 8443), else the pod address. */
static int gateway_addr(const struct sidecar *sc, uint32_t port, struct conn_addr *out) {
  const struct sidecar_xds_options *o = &sc->opts;
  uint32_t alias = port == 8080 ? 80 : port == 8443 ? 443 : 0;
  for (size_t i = 0; i < o->ngateway; i++)
    if (o->gateway[i].port == port) {
      *out = o->gateway[i].addr;
      return 0;
    }
  for (size_t i = 0; i < o->ngateway; i++)
    if (alias && o->gateway[i].port == alias) {
      *out = o->gateway[i].addr;
      return 0;
    }
  char text[160];
  snprintf(text, sizeof text, "%s:%u", o->address, port);
  return conn_addr_parse(out, text);
}

/* Binds every listener cfg needs that is not up yet (listeners are never taken down by a push:
 * a port whose config went away answers 404 NR, as Envoy's listener without routes would). */
static int sync_listeners(struct sidecar *sc, const struct proxy_config *cfg, char *err, size_t errlen) {
  int rc;
  if (cfg->kind == PROXY_CONFIG_SIDECAR && !sc->outbound) {
    struct conn_addr a;
    if (conn_addr_parse(&a, sc->opts.outbound) != 0) {
      snprintf(err, errlen, "--outbound %s is not HOST:PORT", sc->opts.outbound);
      return -EINVAL;
    }
    if ((rc = proxy_listen(&sc->px, &a, XDS_OUTBOUND, 0, "outbound", &sc->outbound)) != 0) {
      snprintf(err, errlen, "cannot listen on outbound %s: %s", a.text, uv_strerror(rc));
      return rc;
    }
  }
  for (size_t i = 0; i < cfg->route_configs_len; i++) {
    const struct xds_route_config *r = &cfg->route_configs[i];
    struct conn_addr a;
    if (strncmp(r->name, "inbound|", 8) == 0 && !listening_inbound(sc, r->port)) {
      if (sc->ninbound == SIDECAR_MAX_INBOUND) continue;
      char text[160];
      snprintf(text, sizeof text, "%s:%u", sc->opts.address, r->port);
      size_t k = 0;
      while (k < sc->opts.ninbound_at && sc->opts.inbound_at[k].port != r->port) k++;
      if (k < sc->opts.ninbound_at) a = sc->opts.inbound_at[k].addr;
      else if (conn_addr_parse(&a, text) != 0) {
        snprintf(err, errlen, "--address %s is not an IP address", sc->opts.address);
        return -EINVAL;
      }
      rc = proxy_listen(&sc->px, &a, XDS_INBOUND, r->port, "inbound", &sc->inbound[sc->ninbound]);
      if (rc != 0) {
        snprintf(err, errlen, "cannot listen on inbound %s: %s", a.text, uv_strerror(rc));
        return rc;
      }
      sc->ninbound++;
    } else if (cfg->kind == PROXY_CONFIG_GATEWAY && strncmp(r->name, "http.", 5) == 0 &&
               !listening_gateway(sc, r->port)) {
      if (sc->ngateways == SIDECAR_MAX_GATEWAY_PORTS || gateway_addr(sc, r->port, &a) != 0) continue;
      rc = proxy_listen(&sc->px, &a, XDS_OUTBOUND, r->port, "gateway", &sc->gateways[sc->ngateways]);
      if (rc != 0) {
        snprintf(err, errlen, "cannot listen for Gateway port %u on %s: %s", r->port, a.text, uv_strerror(rc));
        return rc;
      }
      sc->gateway_ports[sc->ngateways++] = r->port;
    }
  }
  return 0;
}

/* ---- jwksUri: fetched through the mesh, or the lab ------------------------------------------- */

/* A RequestAuthentication's jwksUri is fetched the way Envoy's remote_jwks fetches it: as a
 * request of the proxy itself. An http:// URI goes out through this sidecar's own outbound
 * listener, so a key set served by a Service or a ServiceEntry host is reached through the mesh
 * (its routes, its policies). The lab's own issuer, https:// URIs and proxies without an
 * outbound listener ask the lab (GET /v1/jwks?uri=URI), which serves its issuer's set and says
 * clearly why it cannot fetch anything else (lab_api.c). */
struct jwks_fetch {
  struct sidecar *sc;
  bool via_mesh;
  char uri[];
};

static void on_jwks_fetched(struct http_client_call *call, int status) {
  struct jwks_fetch *f = call->data;
  struct proxy *px = &f->sc->px;
  struct jwks_cache_entry *e = jwks_cache_find(&px->jwks, f->uri);
  if (e) {
    const struct http_client_response *r = &call->response;
    const char *body = r->body.data ? r->body.data : "";
    char why[768];
    if (status < 0) {
      snprintf(why, sizeof why, "Jwks remote fetch is failed: %s %s: %s",
               f->via_mesh ? "GET" : "cannot reach the lab for", f->uri, uv_strerror(status));
      jwks_cache_store(e, NULL, 0, why, uv_now(px->loop));
    } else if (r->status != 200 && f->via_mesh) {
      const char *flags = "";
      size_t flags_n = 0;
      for (size_t i = 0; i < r->nheaders; i++)
        if (slice_eq_str_nocase(r->headers[i].name, "x-meshlab-response-flags"))
          flags = r->headers[i].value.p, flags_n = r->headers[i].value.n;
      snprintf(why, sizeof why,
               "Jwks remote fetch is failed: GET %s through the mesh answered %d%s%.*s (a jwksUri must name a host the "
               "mesh reaches, a Service or a ServiceEntry; or put the key set inline with jwtRules[].jwks)",
               f->uri, r->status, flags_n ? " " : "", (int)flags_n, flags);
      jwks_cache_store(e, NULL, 0, why, uv_now(px->loop));
    } else if (r->status != 200) {
      snprintf(why, sizeof why, "%.*s", (int)(r->body.len > 760 ? 760 : r->body.len), body);
      while (why[0] && why[strlen(why) - 1] == '\n') why[strlen(why) - 1] = '\0';
      jwks_cache_store(e, NULL, 0, why, uv_now(px->loop));
    } else {
      jwks_cache_store(e, body, r->body.len, NULL, uv_now(px->loop));
    }
    if (e->error[0] && status != UV_ECANCELED)
      fprintf(stderr, "sidecar %s: jwksUri %s: %s\n", px->name, f->uri, e->error);
  }
  free(f);
}

static void jwks_fetch(struct proxy *px, const struct resource_jwt_rule *rule) {
  struct sidecar *sc = (struct sidecar *)((char *)px - offsetof(struct sidecar, px));
  const char *uri = rule->jwks_uri;
  struct jwks_cache_entry *e = jwks_cache_get(&px->jwks, uri);
  if (!e || e->fetching || !sc->xds_running) return;
  char own[160];
  snprintf(own, sizeof own, "http://%s/v1/jwks", sc->xds.server);
  struct conn_addr outbound;
  bool via_mesh = strncmp(uri, "http://", 7) == 0 && !issuer_owns_uri(uri) && strncmp(uri, own, strlen(own)) != 0 &&
                  sc->opts.outbound && conn_addr_parse(&outbound, sc->opts.outbound) == 0;
  char url[1800];
  if (via_mesh) {
    snprintf(url, sizeof url, "%s", uri);
  } else {
    static const char hex[] = "0123456789ABCDEF";
    char esc[1600];
    size_t k = 0;
    for (const char *p = uri; *p && k + 4 < sizeof esc; p++) {
      unsigned char c = (unsigned char)*p;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
        esc[k++] = (char)c;
      } else {
        esc[k++] = '%';
        esc[k++] = hex[c >> 4];
        esc[k++] = hex[c & 15];
      }
    }
    esc[k] = '\0';
    snprintf(url, sizeof url, "http://%s/v1/jwks?uri=%s", sc->xds.server, esc);
  }
  struct jwks_fetch *f = malloc(sizeof *f + strlen(uri) + 1);
  if (!f) return;
  f->sc = sc;
  f->via_mesh = via_mesh;
  strcpy(f->uri, uri);
  struct http_client_req req = {0};
  req.url = url;
  if (via_mesh) req.connect = &outbound; /* origin-form with Host: the outbound listener routes it */
  /* jwtRules[].timeout, Istio's default 5s. */
  req.timeout_ms = rule->timeout.set && rule->timeout.ms > 0 ? (uint64_t)rule->timeout.ms : 5000;
  if (http_client_send(&sc->xds.client, &req, on_jwks_fetched, f, NULL) != 0) {
    free(f);
    return;
  }
  e->fetching = true;
}

/* On every push: fetch the key sets of jwksUri rules not yet in the cache. */
static void jwks_prefetch(struct sidecar *sc) {
  const struct proxy_config *cfg = sc->px.config ? sc->px.config->cfg : NULL;
  for (size_t i = 0; cfg && i < cfg->security.jwt_rules_len; i++) {
    const char *uri = cfg->security.jwt_rules[i].rule->jwks_uri;
    if (!uri) continue;
    struct jwks_cache_entry *e = jwks_cache_get(&sc->px.jwks, uri);
    if (e && jwks_cache_due(e, uv_now(sc->px.loop))) jwks_fetch(&sc->px, cfg->security.jwt_rules[i].rule);
  }
}

static int on_pushed(struct xds_agent *x, struct proxy_config *cfg, char *err, size_t errlen) {
  struct sidecar *sc = x->data;
  int rc = sync_listeners(sc, cfg, err, errlen);
  if (rc != 0) {
    proxy_config_free(cfg);
    return rc;
  }
  rc = proxy_set_config(&sc->px, cfg);
  if (rc != 0) {
    snprintf(err, errlen, "cannot install the configuration: %s", uv_strerror(rc));
    return rc;
  }
  jwks_prefetch(sc);
  if (!sc->ready) {
    sc->ready = 1;
    sc->admin.live = 1;
    if (sc->on_ready) sc->on_ready(sc);
  }
  return 0;
}

/* ---- identity ------------------------------------------------------------------------------ */

/* Loads the identity file into a new context and makes it the proxy's: new connections use it,
 * open ones keep theirs (tls.h: contexts are reference counted), so a rotation drops nothing. */
static int identity_load(struct sidecar *sc, char *err, size_t errlen) {
  struct tls_ctx *ctx;
  int rc = tls_ctx_load(sc->opts.cert, sc->opts.ca, &ctx, err, errlen);
  if (rc != 0) return rc;
  struct ca_cert_info info;
  char serial[40] = "?";
  if (ca_cert_describe(tls_ctx_chain_pem(ctx), &info, 1) == 1) snprintf(serial, sizeof serial, "%s", info.serial);
  fprintf(stderr, "identity %s loaded (serial %s)\n", tls_ctx_id(ctx), serial);
  proxy_set_identity(&sc->px, ctx);
  return 0;
}

static int stat_changed(const struct stat *a, const struct stat *b) {
  return a->st_ino != b->st_ino || a->st_size != b->st_size || a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
         a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* The lab renames a new identity file over the old one (ca_issued_write): a changed inode or
 * time means a rotation. A file that fails to load keeps the previous identity in force. */
static void on_cert_timer(uv_timer_t *t) {
  struct sidecar *sc = t->data;
  struct stat st;
  if (stat(sc->opts.cert, &st) != 0 || !stat_changed(&st, &sc->cert_stat)) return;
  char err[512];
  if (identity_load(sc, err, sizeof err) != 0) {
    fprintf(stderr, "identity not rotated: %s (the previous one stays in force)\n", err);
    return;
  }
  sc->cert_stat = st;
}

int sidecar_start_xds(struct sidecar *sc, uv_loop_t *loop, const struct sidecar_xds_options *o,
                      const char *command_line, char *err, size_t errlen) {
  void (*on_ready)(struct sidecar *) = sc->on_ready;
  memset(sc, 0, sizeof *sc);
  sc->on_ready = on_ready;
  sc->opts = *o;
  sc->dynamic = 1;
  int rc = proxy_init(&sc->px, loop, &o->limits);
  if (rc != 0) {
    snprintf(err, errlen, "cannot set up the proxy: %s", uv_strerror(rc));
    return rc;
  }
  sc->started = 1;
  sc->px.telemetry.enabled = 1;
  sc->px.jwks_fetch = jwks_fetch;
  if (o->access_log) {
    sc->log.out = strcmp(o->access_log, "-") == 0 ? stdout : fopen(o->access_log, "a");
    if (!sc->log.out) {
      snprintf(err, errlen, "cannot open access log %s: %s", o->access_log, strerror(errno));
      return -errno;
    }
    if (o->access_log_format && accesslog_format_parse(o->access_log_format, &sc->log.format) != 0) {
      snprintf(err, errlen, "--access-log-format %s: use envoy, istio or json", o->access_log_format);
      return -EINVAL;
    }
    sc->px.log = &sc->log;
  }
  if (o->admin) {
    struct conn_addr a;
    if (conn_addr_parse(&a, o->admin) != 0) {
      snprintf(err, errlen, "--admin %s is not HOST:PORT", o->admin);
      return -EINVAL;
    }
    char dump[512];
    snprintf(dump, sizeof dump, "{\"node\":\"%s\",\"xds\":\"%s\"}", o->node, o->xds);
    rc = admin_start(&sc->admin, &sc->px, &a, dump, command_line);
    sc->has_admin = 1;
    const char *replica = strchr(o->node, '/'); /* NS/REPLICA */
    snprintf(sc->admin.name, sizeof sc->admin.name, "%s", replica ? replica + 1 : o->node);
    snprintf(sc->px.name, sizeof sc->px.name, "%s", sc->admin.name);
    if (rc != 0) {
      snprintf(err, errlen, "cannot listen on admin %s: %s", a.text, uv_strerror(rc));
      return rc;
    }
  }
  if (o->cert || o->ca) {
    if (!o->cert || !o->ca) {
      snprintf(err, errlen, "--cert and --ca go together");
      return -EINVAL;
    }
    stat(o->cert, &sc->cert_stat);
    if ((rc = identity_load(sc, err, errlen)) != 0) return rc;
    uv_timer_init(loop, &sc->cert_timer);
    sc->cert_timer.data = sc;
    sc->cert_timer_open = 1;
    uv_timer_start(&sc->cert_timer, on_cert_timer, 1000, 1000);
  }
  rc = xds_start(&sc->xds, &sc->px.env, o->xds, o->node, on_pushed, sc);
  if (rc != 0) {
    snprintf(err, errlen, "--xds %s is not HOST:PORT", o->xds);
    return rc;
  }
  sc->xds_running = 1;
  /* The telemetry sink lives at the same lab API address. */
  rc = report_start(&sc->report, &sc->px.env, &sc->px.telemetry, &sc->px.clusters, o->xds, o->node);
  if (rc != 0) {
    snprintf(err, errlen, "cannot report telemetry to %s as %s: %s", o->xds, o->node, uv_strerror(rc));
    return rc;
  }
  sc->report_running = 1;
  return 0;
}

static void maybe_stopped(struct sidecar *sc) {
  if (--sc->pending_closes == 0 && sc->on_stopped) sc->on_stopped(sc);
}

static void on_admin_closed(struct http_server *srv);

/* The drain is over: the admin listener, kept open so /ready answered DRAINING meanwhile (what
 * a readiness probe watches), closes last. */
static void on_proxy_closed(struct proxy *px) {
  struct sidecar *sc = (struct sidecar *)((char *)px - offsetof(struct sidecar, px));
  if (sc->has_admin) admin_close(&sc->admin, on_admin_closed);
  maybe_stopped(sc);
}

static void on_xds_stopped(struct xds_agent *x) { maybe_stopped(x->data); }

static void on_report_stopped(struct report_agent *a) {
  maybe_stopped((struct sidecar *)((char *)a - offsetof(struct sidecar, report)));
}

static void on_cert_timer_closed(uv_handle_t *h) {
  maybe_stopped((struct sidecar *)((char *)h - offsetof(struct sidecar, cert_timer)));
}

static void on_admin_closed(struct http_server *srv) {
  struct admin *a = (struct admin *)((char *)srv - offsetof(struct admin, srv));
  maybe_stopped((struct sidecar *)((char *)a - offsetof(struct sidecar, admin)));
}

void sidecar_stop(struct sidecar *sc, void (*on_stopped)(struct sidecar *sc)) {
  if (sc->pending_closes) return;
  sc->on_stopped = on_stopped;
  if (!sc->started) {
    if (on_stopped) on_stopped(sc);
    return;
  }
  sc->pending_closes = 1 + (sc->has_admin ? 1 : 0) + (sc->xds_running ? 1 : 0) + (sc->report_running ? 1 : 0) +
                       (sc->cert_timer_open ? 1 : 0);
  if (sc->cert_timer_open) {
    sc->cert_timer_open = 0;
    uv_close((uv_handle_t *)&sc->cert_timer, on_cert_timer_closed);
  }
  if (sc->xds_running) xds_stop(&sc->xds, on_xds_stopped);
  if (sc->report_running) report_stop(&sc->report, on_report_stopped);
  proxy_shutdown(&sc->px, on_proxy_closed);
}

void sidecar_free(struct sidecar *sc) {
  if (sc->started) proxy_free(&sc->px);
  accesslog_free(&sc->log);
  if (sc->log.out && sc->log.out != stdout) fclose(sc->log.out);
  sc->log.out = NULL;
}
