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
#include <uv.h>

#include "mesh/admin.h"
#include "mesh/bootstrap.h"
#include "mesh/proxy.h"

#define SIDECAR_MAX_INBOUND 16

struct sidecar {
  struct proxy px;
  struct admin admin;
  int has_admin;
  struct accesslog log;
  struct proxy_listener *inbound[SIDECAR_MAX_INBOUND];
  size_t ninbound;
  struct proxy_listener *outbound;
  void (*on_stopped)(struct sidecar *sc);
  int pending_closes;
  int started;
};

/* Starts every listener b describes on loop. b is borrowed only during the call. On error
 * writes what failed into err and returns a negative code; call sidecar_stop all the same. */
int sidecar_start(struct sidecar *sc, uv_loop_t *loop, const struct bootstrap *b, const char *command_line, char *err,
                  size_t errlen);
/* Drains and closes everything; on_stopped fires when every handle is closed. */
void sidecar_stop(struct sidecar *sc, void (*on_stopped)(struct sidecar *sc));
/* Frees memory after on_stopped. */
void sidecar_free(struct sidecar *sc);

#endif
