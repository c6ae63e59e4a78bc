/* A sidecar: the proxy set up for one workload from its bootstrap.
 *
 * Inbound listeners own the workload's service ports (as Istio's iptables capture does) and
 * forward to the local app, which listens where only its sidecar reaches it. The outbound
 * listener is what the app uses as its explicit HTTP proxy (`http_proxy`): it routes by the
 * request's authority (absolute-form target or Host) to the named service's endpoints. The
 * admin listener serves Envoy's paths. `meshlab proxy` is the same machine with one inbound
 * listener and no outbound side.
 */
#ifndef MESH_SIDECAR_H
#define MESH_SIDECAR_H

#include <stdio.h>
#include <sys/stat.h>
#include <uv.h>

#include "mesh/admin.h"
#include "mesh/bootstrap.h"
#include "mesh/proxy.h"
#include "mesh/report.h"
#include "mesh/xds.h"

#define SIDECAR_MAX_INBOUND 16
#define SIDECAR_MAX_GATEWAY_PORTS 8

/* A sidecar driven by the lab's config push (`meshlab sidecar --xds`). */
struct sidecar_xds_options {
  const char *xds;      /* the lab API, HOST:PORT */
  const char *node;     /* NS/REPLICA */
  const char *address;  /* the pod address: inbound ports are bound there */
  const char *admin;    /* HOST:PORT, or NULL */
  const char *outbound; /* HOST:PORT of the outbound listener */
  struct {
    uint32_t port;         /* a Gateway server port (80) */
    struct conn_addr addr; /* where it is served (127.0.0.1:8080) */
  } gateway[SIDECAR_MAX_GATEWAY_PORTS];
  size_t ngateway;
  /* Port blocks (registry.h): an inbound port served elsewhere than <address>:<port>. The
   * listener still routes as that port (inbound|<port>), as Istio's inbound capture keeps
   * the original destination port. */
  struct {
    uint32_t port;         /* the workload port the config names (9080) */
    struct conn_addr addr; /* where it is served (127.0.0.1:20004) */
  } inbound_at[SIDECAR_MAX_INBOUND];
  size_t ninbound_at;
  const char *access_log, *access_log_format;
  struct proxy_limits limits;
  const char *cert; /* the identity file (certificate and key, PEM) or NULL: no mTLS */
  const char *ca;   /* the root certificate the identity and its peers chain to */
};

struct sidecar {
  struct proxy px;
  struct admin admin;
  int has_admin;
  struct accesslog log;
  struct proxy_listener *inbound[SIDECAR_MAX_INBOUND];
  size_t ninbound;
  struct proxy_listener *outbound;
  struct proxy_listener *gateways[SIDECAR_MAX_GATEWAY_PORTS];
  uint32_t gateway_ports[SIDECAR_MAX_GATEWAY_PORTS];
  size_t ngateways;
  /* Pushed mode */
  int dynamic;
  struct xds_agent xds;
  struct report_agent report; /* the telemetry sink's reporter (report.h), with the xDS agent */
  int report_running;
  struct sidecar_xds_options opts;
  void (*on_ready)(struct sidecar *sc); /* the first config is in force and listeners are up */
  int ready;
  int xds_running;
  void (*on_stopped)(struct sidecar *sc);
  int pending_closes;
  int started;
  /* mTLS: the identity file is watched (stat once a second) and reloaded when it changes */
  uv_timer_t cert_timer;
  int cert_timer_open;
  struct stat cert_stat;
};

/* Starts every listener b describes on loop. b is borrowed only during the call. On error
 * writes what failed into err and returns a negative code; call sidecar_stop all the same. */
int sidecar_start(struct sidecar *sc, uv_loop_t *loop, const struct bootstrap *b, const char *command_line, char *err,
                  size_t errlen);
/* Starts a sidecar whose configuration comes from the lab (o is copied): admin at once, the
 * other listeners once the first config arrives (then on_ready fires), reconciled on every push.
 * Its metrics are reported to the same lab API (report.h).
 * On error writes the reason into err and returns a negative code; call sidecar_stop anyway. */
int sidecar_start_xds(struct sidecar *sc, uv_loop_t *loop, const struct sidecar_xds_options *o,
                      const char *command_line, char *err, size_t errlen);
/* Drains and closes everything; on_stopped fires when every handle is closed. */
void sidecar_stop(struct sidecar *sc, void (*on_stopped)(struct sidecar *sc));
/* Frees memory after on_stopped. */
void sidecar_free(struct sidecar *sc);

#endif
