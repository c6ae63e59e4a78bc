/* Building a sidecar from its bootstrap: see sidecar.h. Cluster names follow Istio's
 * ("inbound|9080||", "outbound|9080||reviews.default.svc.cluster.local") so /clusters and the
 * metrics read like a real sidecar's. */
#include "mesh/sidecar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
    if (rc != 0) {
      snprintf(err, errlen, "cannot listen on admin %s: %s", b->admin.text, uv_strerror(rc));
      return rc;
    }
  }
  return 0;
}

static void maybe_stopped(struct sidecar *sc) {
  if (--sc->pending_closes == 0 && sc->on_stopped) sc->on_stopped(sc);
}

static void on_proxy_closed(struct proxy *px) { maybe_stopped((struct sidecar *)((char *)px - offsetof(struct sidecar, px))); }

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
  sc->pending_closes = 1 + (sc->has_admin ? 1 : 0);
  if (sc->has_admin) admin_close(&sc->admin, on_admin_closed);
  proxy_shutdown(&sc->px, on_proxy_closed);
}

void sidecar_free(struct sidecar *sc) {
  if (sc->started) proxy_free(&sc->px);
  accesslog_free(&sc->log);
  if (sc->log.out && sc->log.out != stdout) fclose(sc->log.out);
  sc->log.out = NULL;
}
