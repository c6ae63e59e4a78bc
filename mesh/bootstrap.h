/* The sidecar's static configuration ("bootstrap", in Envoy's words): which ports it owns, where
 * the local app listens, which services it can reach and their endpoints, limits and logging.
 *
 * Until the control plane pushes configuration, a sidecar reads this from a JSON file; the
 * control plane will push the same shape. Parsing and validation happen here, once, into plain
 * structs; errors name the file, the field path and, for JSON syntax errors, line and column.
 * Unknown fields are errors. It is machine-written configuration (people write Istio YAML), so
 * durations are plain milliseconds.
 *
 *   {
 *     "node": {"id": "reviews-v2-0", "workload": "reviews-v2", "namespace": "default"},
 *     "admin": "127.1.0.4:15000",
 *     "inbound": {"listen": ["127.1.0.4:9080"], "app": "unix:/tmp/lab/reviews-v2-0/app.sock"},
 *     "outbound": {
 *       "listen": "127.1.0.4:15001",
 *       "services": [
 *         {"name": "ratings.default.svc.cluster.local", "port": 9080,
 *          "hosts": ["ratings", "ratings.default", "ratings.default.svc.cluster.local"],
 *          "endpoints": ["127.1.0.6:9080"]}
 *       ]
 *     },
 *     "limits": {"connect_timeout_ms": 10000, "request_timeout_ms": 0, "header_timeout_ms": 10000,
 *                "idle_timeout_ms": 300000, "stream_idle_timeout_ms": 300000, "drain_timeout_ms": 5000,
 *                "max_header_bytes": 61440, "max_body_bytes": 0},
 *     "access_log": {"path": "-", "format": "istio"}
 *   }
 */
#ifndef MESH_BOOTSTRAP_H
#define MESH_BOOTSTRAP_H

#include <stddef.h>

#include "mesh/accesslog.h"
#include "mesh/compile.h"
#include "mesh/conn.h"
#include "mesh/proxy.h"

struct bootstrap_service {
  char *name; /* FQDN */
  int port;
  char **hosts;
  size_t nhosts;
  struct conn_addr *endpoints;
  size_t nendpoints;
};

struct bootstrap {
  char *node_id, *workload, *ns;
  int has_admin;
  struct conn_addr admin;
  struct conn_addr *inbound; /* service ports the sidecar owns */
  size_t ninbound;
  int has_app;
  struct conn_addr app; /* where the local app listens */
  int has_outbound;
  struct conn_addr outbound;
  struct bootstrap_service *services;
  size_t nservices;
  struct proxy_limits limits;
  char *access_log_path; /* NULL = none, "-" = stdout */
  enum accesslog_format access_log_format;
  char *json; /* the validated document, for /config_dump */
};

/* Parses and validates JSON text (name is the file name used in messages). On error returns
 * -EINVAL and writes "FILE:LINE:COL: FIELD: what is wrong" into err. b is filled on success and
 * must be released with bootstrap_free (also after an error). */
int bootstrap_parse(struct bootstrap *b, const char *text, size_t len, const char *name, char *err, size_t errlen);
/* Reads and parses a file. */
int bootstrap_load(struct bootstrap *b, const char *path, char *err, size_t errlen);
/* The bootstrap of a one-hop proxy (`meshlab proxy`): one inbound listener in front of
 * `upstream`, optional admin and access log. Built as JSON and parsed like a file, so both
 * roles go through one validation path and /config_dump shows the same shape. */
int bootstrap_for_proxy(struct bootstrap *b, const char *listen, const char *upstream, const char *admin,
                        const struct proxy_limits *limits, const char *log_path, const char *log_format, char *err,
                        size_t errlen);
/* The routing a static bootstrap implies, as a pushed config would carry it (compile.h): per
 * inbound port a route config "inbound|PORT" sending everything to cluster "inbound|PORT||"
 * (the app); for outbound a virtual host per service (its hosts, with and without :port) to
 * "outbound|PORT||NAME" with its endpoints. Version 1. On success returns 0 and *out (owned);
 * on error -EINVAL/-ENOMEM with the reason in err. */
int bootstrap_routing(const struct bootstrap *b, struct proxy_config **out, char *err, size_t errlen);
void bootstrap_free(struct bootstrap *b);

#endif
