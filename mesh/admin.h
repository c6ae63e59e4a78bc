/* The admin listener, on Envoy's paths, for one proxy or sidecar process.
 *
 *   GET /ready             200 "LIVE" while serving; 503 "PRE_INITIALIZING" until a config is in
 *                          force and the listeners are bound, 503 "DRAINING" once shutting down
 *   GET /server_info       JSON: version, state, uptime, command line
 *   GET /stats/prometheus  Prometheus text (what Istio scrapes on 15090)
 *   GET /stats             the same counters as "name: value" lines
 *   GET /clusters          cluster::host::stat::value lines, as Envoy prints them
 *   GET /config_dump       the running configuration as JSON
 *   GET /debug/why?id=ID   the decision traces of request ID (trace.h): {"proxy", "records"}; 400 without id
 *   POST /quitquitquit     graceful exit
 *   GET /help              this list
 * Mutating paths take POST only; a GET to them is 400, as in Envoy.
 */
#ifndef MESH_ADMIN_H
#define MESH_ADMIN_H

#include "mesh/proxy.h"
#include "mesh/server.h"

struct admin {
  struct http_server srv;
  struct proxy *px;   /* borrowed */
  char *config_json;  /* owned: what /config_dump serves */
  char *command_line; /* owned */
  int64_t started_ms;
  int live;                         /* set by the owner once a config is in force and its listeners are
                                bound (Envoy's server state leaves PRE_INITIALIZING) */
  char name[64];                    /* what /debug/why answers as "proxy": the replica ("reviews-v1-0"); set by
                                the owner after admin_start, "" = the pushed config's node */
  void (*on_quit)(struct admin *a); /* POST /quitquitquit */
  void *data;
};

/* Starts the admin listener on addr for px. config_json and command_line are copied.
 * Returns 0 or a negative libuv error (then call admin_close all the same). */
int admin_start(struct admin *a, struct proxy *px, const struct conn_addr *addr, const char *config_json,
                const char *command_line);
/* Closes it; on_closed fires when all its connections are closed. An owner that drains closes
 * it last, so /ready answers DRAINING for as long as the drain runs. */
void admin_close(struct admin *a, void (*on_closed)(struct http_server *srv));

#endif
