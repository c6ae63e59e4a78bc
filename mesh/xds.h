/* The sidecar's side of the config push: a long-poll client of the lab API.
 *
 *   GET /v1/xds?node=NS/REPLICA&version=N[&error=REASON]
 *
 * `version` is the config this sidecar runs (0 at start), which acknowledges it; the lab answers
 * at once when it has a newer one (200, the JSON of compile_to_json), or holds the request until
 * it does (304 after 30 s). A config the sidecar cannot parse or install is refused (NACK): the
 * next poll carries the last good version and the reason, and the sidecar keeps serving with
 * what it had. If the lab cannot be reached the agent retries with backoff (0.5 s doubling to
 * 5 s); the data path never waits on it.
 */
#ifndef MESH_XDS_H
#define MESH_XDS_H

#include <stdint.h>
#include <uv.h>

#include "mesh/client.h"
#include "mesh/compile.h"

struct xds_agent;

/* A config arrived and parsed: install it (takes cfg). Return 0, or a negative code with the
 * reason in err (the agent then NACKs). */
typedef int (*xds_apply_cb)(struct xds_agent *x, struct proxy_config *cfg, char *err, size_t errlen);

struct xds_agent {
  struct http_client client;
  uv_timer_t retry;
  char url_base[512]; /* "http://HOST:PORT/v1/xds?node=NS%2FREPLICA" */
  char server[128];
  uint64_t applied; /* version in force, acknowledged by the next poll */
  char nack[256];   /* reason the last config was refused, sent once */
  uint64_t backoff_ms;
  uint64_t polls, pushes, rejects;
  xds_apply_cb on_config;
  void *data;
  unsigned stopping : 1;
  int open; /* handles and client still open */
  void (*on_stopped)(struct xds_agent *x);
};

/* Starts polling server ("HOST:PORT") for node ("NS/REPLICA") on env's loop. Returns 0 or a
 * negative code (bad address). */
int xds_start(struct xds_agent *x, struct conn_env *env, const char *server, const char *node, xds_apply_cb on_config,
              void *data);
/* Stops polling and closes everything; on_stopped fires when done. */
void xds_stop(struct xds_agent *x, void (*on_stopped)(struct xds_agent *x));

#endif
