/* The lab process: the control plane and the kubelet of meshlab, in one libuv loop.
 *
 * `meshlab up` builds a `struct lab` and runs it until SIGINT/SIGTERM or `POST /v1/shutdown`.
 * The lab owns:
 *   - the resource store: every object applied (Istio kinds and the Kubernetes Deployments,
 *     Services and ServiceAccounts that describe the topology), keyed by kind, namespace, name;
 *   - the registry (registry.h): workloads, services, replicas and their pod addresses;
 *   - one `struct lab_replica` per replica, plus the ingress gateway the lab adds itself, each
 *     with its app and sidecar processes under the supervisor (supervisor.h) and its folder
 *     `<dir>/replicas/<replica>/` (`<replica>.<ns>` outside the default namespace; logs, the
 *     app's unix sockets, access log, `outbound`,
 *     `admin`);
 *   - per replica, the xDS state: the latest compiled config (compile.h, as JSON), the version
 *     the sidecar acknowledged, when it was last seen, and the reason of its last rejection;
 *   - the lab API (server.h on 127.0.0.1:0, address in `<dir>/api`): the sidecars' config
 *     long poll and the commands of the CLI (lab_api.c). docs/lab.md describes both;
 *   - the telemetry sink (lab_telemetry.c, its series in lab_series.c): the sidecars' metric
 *     deltas as five minutes of per-second series, the sampled request log, and
 *     `<dir>/journal`, one JSON line per event.
 *
 * Where it sits: resources arrive (up, apply, delete) → the store changes → registry_sync and
 * address assignment → replicas are started or stopped to match → every proxy's config is
 * recompiled and, where it changed, gets the next push version → waiting long polls are
 * answered. Replica health (an app or sidecar that went down) takes the same path from the
 * registry on.
 *
 * Files: lab.c (lifecycle, config push, readiness), lab_replica.c (what each replica runs, its
 * identity, the sync with the registry), lab_store.c (the resource store and what
 * apply/delete/get/analyze/export print), lab_api.c (the HTTP endpoints), lab_control.c
 * (workload control: chaos, kill, restart, scale), lab_series.c (the per-second series and
 * the request log), lab_telemetry.c (reports in, metrics out, clusters' state, journal),
 * lab_why.c (a request's decision traces gathered from every proxy).
 */
#ifndef MESH_LAB_H
#define MESH_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "mesh/buf.h"
#include "mesh/compile.h"
#include "mesh/conn.h"
#include "mesh/lab_telemetry.h"
#include "mesh/registry.h"
#include "mesh/resource.h"
#include "mesh/server.h"
#include "mesh/supervisor.h"

/* How long a config long poll is held before it is answered 304 (Envoy's streams stay open;
 * a bounded poll keeps the protocol plain HTTP/1.1). */
#define LAB_POLL_HOLD_MS 30000

/* Where replicas listen (docs/lab.md, "Port blocks"). */
enum lab_port_blocks {
  LAB_PORT_BLOCKS_AUTO, /* a pod address each (Istio's ports), or blocks when none can be bound */
  LAB_PORT_BLOCKS_ON    /* `--port-blocks`: one address, a block of ports each */
};

/* How `meshlab up` starts a lab. Strings are borrowed for the lab's life. */
struct lab_options {
  const char *dir;         /* state folder, resolved (labdir_resolve) */
  const char *self_exe;    /* the meshlab binary children run: /proc/self/exe resolved */
  const char *ingress;     /* HOST:PORT for Gateway port 80; port 0 picks a free one */
  const char *ingress_tls; /* HOST:PORT for Gateway port 443; port 0 picks a free one */
  const char *addresses;   /* pod addresses, IPv4 CIDR ("127.1.0.0/16") */
  uint64_t seed;           /* --seed, passed to every app */
  bool seeded;
  uint64_t t0_ns; /* uv_hrtime() when `up` began, for the cold-start time */
  enum lab_port_blocks port_blocks;
  uint32_t port_block_base; /* --port-blocks BASE: the first block's first port; 0 picks one */
  uint32_t cert_ttl_s;      /* --cert-ttl: workload certificate lifetime; 0 = Istio's 24 h */
  /* --outbound-traffic-policy: the mesh's outboundTrafficPolicy.mode; NONE = Istio's ALLOW_ANY */
  enum xds_outbound_policy outbound_policy;
};

/* What a replica's app is. */
enum lab_app_state { LAB_APP_NONE, LAB_APP_PROC };

/* One replica: a Deployment's pod, or the ingress gateway. */
struct lab_replica {
  struct lab_replica *next;
  struct lab *lab;
  char *name; /* "reviews-v2-0", "istio-ingressgateway-0" */
  char *ns;
  char *workload;     /* the Deployment ("reviews-v2"), or "istio-ingressgateway" */
  char *address;      /* pod address, "127.1.0.5" (127.0.0.1 for every replica in port blocks) */
  uint32_t port_base; /* its port block's first port, 0 when it owns its address */
  char *dir;          /* <lab dir>/replicas/<name>, or <name>.<ns> (labdir_replica_rel) */
  char *app_kind;     /* "reviews"; NULL for a client-only workload (curl, fortio, sleep) */
  bool gateway;
  bool present;               /* false once scaled away or deleted (its processes are stopped) */
  bool healthy;               /* last health told to the registry */
  struct proc *app, *sidecar; /* owned by the supervisor; app NULL when none */
  int64_t cert_renew_at;      /* wall-clock second its certificate is re-issued; 0: never issued */
  char cert_serial[40];       /* the serial of the certificate in <dir>/identity.pem */
  /* xDS state */
  char *config_json;          /* the latest config, as sent (owned) */
  char *config_key;           /* the same config with version 0, to tell real changes (owned) */
  uint64_t config_version;    /* version of config_json; 0 before the first compile */
  uint64_t sent_version;      /* last version answered to a poll; 0: NOT SENT */
  uint64_t acked_version;     /* last version the sidecar acknowledged */
  uint64_t nacked_version;    /* last version it rejected; 0 when none */
  char nack[256];             /* the reason it gave, "" when none */
  uint64_t acked_ms, seen_ms; /* loop time of the last ACK, of the last poll */
  size_t polls;               /* polls held now */
};

struct lab_poll;
struct ca;

/* One stored object and when it was created / last changed (for `get`'s AGE). */
struct lab_object {
  struct resource *r; /* owned */
  int64_t created;    /* wall-clock seconds */
};

/* What the lab started with, for POST /v1/reset: every object of the initial manifests by key,
 * and a Deployment's replica count. */
struct lab_initial {
  enum resource_kind kind;
  char *ns, *name;   /* owned */
  uint32_t replicas; /* Deployments: spec.replicas at start */
};

struct lab {
  uv_loop_t *loop;
  struct lab_options opt;
  struct conn_env env;
  struct http_server api;
  struct supervisor sup;
  uv_signal_t sigint, sigterm;
  uv_timer_t push_timer;  /* coalesces recompiles after a burst of events */
  uv_timer_t probe_timer; /* checks apps' sockets while some app is starting */
  /* the store, in apply order */
  struct lab_object *objects;
  size_t objects_len, objects_cap;
  struct lab_initial *initial; /* the initial manifests' objects (reset) */
  size_t initial_len;
  struct registry *reg;
  struct lab_replica *replicas; /* in start order */
  struct lab_poll *polls;       /* held config polls */
  uint64_t push_version;        /* the last version handed out */
  uint32_t addr_next;           /* next pod address (host order) */
  uint32_t addr_last;           /* last usable pod address */
  bool blocks;                  /* port blocks (docs/lab.md): every replica on 127.0.0.1 */
  uint32_t block_next;          /* where the search for the next free block starts */
  char ingress[64], ingress_tls[64];
  char api_address[128];
  bool api_open;
  bool ready; /* every replica ready, at least once: cold start printed */
  bool closing;
  int exit_code;
  /* the telemetry sink (lab_telemetry.c) */
  struct labtel tel;
  uv_timer_t tel_timer; /* once a second: the journal's rate line */
  bool tel_timer_open;
  int64_t tel_last_s;    /* last second written to the journal */
  int64_t tel_expired_s; /* when idle series were last dropped */
  uint64_t tel_prev_rps;
  uint64_t tel_reports; /* reports ingested */
  FILE *journal;        /* <dir>/journal, appended; NULL if it could not be opened */
  /* identity: the root CA kept in the state folder (loaded by lab.c), and the renewal sweep
   * (lab_replica.c) */
  struct ca *ca;
  uv_timer_t cert_timer;
};

/* Runs a lab until it is told to stop. Takes the objects of `initial` (moved into the store;
 * the list is empty afterwards). Writes `pid`, `api` and `ingress` into opt->dir, starts every
 * replica and answers the API. Returns the process exit code: 0 after a clean stop, 1 when
 * the lab could not start (the reason on stderr). */
int lab_run(const struct lab_options *opt, struct resource_list *initial);

/* Asks a running lab to stop (the API's /v1/shutdown, the signals): answers held polls, stops
 * every process (SIGTERM, SIGKILL after a grace), closes the API; lab_run then returns. */
void lab_stop(struct lab *lab);

/* ---- shared by lab.c, lab_store.c and lab_api.c ------------------------------------------ */

/* The store as the array registry_sync, compile and the analyzer take. Returns an owned array
 * of borrowed pointers (free()) with *len entries, or NULL with *len 0. */
struct resource **lab_store_items(const struct lab *lab, size_t *len);
/* Called after the store changed: syncs the registry, starts or stops replicas to match and
 * recompiles every proxy's config (pushing those that changed). Returns 0 or -ENOMEM. */
int lab_store_changed(struct lab *lab);
/* Index of the object with that kind, namespace and name, or -1. */
long lab_store_find(const struct lab *lab, enum resource_kind kind, const char *ns, const char *name);

/* Output of a lab command, as the CLI prints it: what goes to stdout, to stderr, and the exit
 * code (0 done, 1 refused or not found). */
struct lab_output {
  struct buf out, err;
  int exit_code;
};
void lab_output_free(struct lab_output *o);

/* One input file of apply / delete -f. */
struct lab_file {
  const char *name;
  const char *text;
  size_t len;
};

/* `meshlab apply`: parses every file (namespace ns, enforced when ns_enforced), and applies all
 * or nothing; one kubectl-style line per object on out, warnings on err. */
void lab_apply(struct lab *lab, const struct lab_file *files, size_t nfiles, const char *ns, bool ns_enforced,
               struct lab_output *o);
/* `meshlab delete -f`: removes the objects the files name. */
void lab_delete_files(struct lab *lab, const struct lab_file *files, size_t nfiles, const char *ns, bool ns_enforced,
                      struct lab_output *o);
/* `meshlab delete KIND NAME`. */
void lab_delete_named(struct lab *lab, const char *kind, const char *name, const char *ns, struct lab_output *o);
/* `meshlab get KIND [NAME] [-n NS | -A] [-o yaml|json]`; format NULL: table. */
void lab_get(struct lab *lab, const char *kind, const char *name, const char *ns, bool all_ns, const char *format,
             struct lab_output *o);
/* `meshlab analyze`: the analyzer's warnings and the ignored Kubernetes fields. */
void lab_analyze(struct lab *lab, struct lab_output *o);
/* `meshlab export istio`: every Istio resource, then the Kubernetes objects, as YAML. */
void lab_export(struct lab *lab, struct lab_output *o);

/* `meshlab status`: the JSON of ../shared/CLI.md (json true) or a kubectl-like table; only
 * namespace ns when ns is not NULL or "". */
void lab_status(struct lab *lab, const char *ns, bool json, struct buf *out);
/* `meshlab proxy-status`: an istioctl-like table (only namespace ns when not NULL or ""). */
void lab_proxy_status(struct lab *lab, const char *ns, struct buf *out);
/* Readiness: true when every replica's app runs and its sidecar acknowledged its current
 * config; otherwise false and, when why is not NULL, which replicas are not ready and the
 * last lines of their logs. */
bool lab_is_ready(struct lab *lab, struct buf *why);

/* Where a replica serves one of Istio's sidecar ports: istio_port (15000, 15001 ...) on its own
 * address, or the block slot (REGISTRY_BLOCK_ADMIN ...) in port blocks. */
uint32_t lab_replica_port(const struct lab_replica *rep, uint32_t slot, uint32_t istio_port);

/* "app" and "sidecar" states as status shows them. */
const char *lab_app_state(const struct lab_replica *rep);
const char *lab_sidecar_state(const struct lab_replica *rep);
/* The replica called ns/name (present or not), or NULL. */
struct lab_replica *lab_replica_find(struct lab *lab, const char *ns, const char *name);

/* ---- replicas (lab_replica.c), driven by lab.c ------------------------------------------- */

/* Makes the lab's replicas match the registry: new ones get a folder, a certificate and their
 * processes, ones the registry no longer has are stopped and hidden. Returns 0 or -ENOMEM. */
int lab_replicas_sync(struct lab *lab);
/* A replica appended to lab->replicas, with its folder made; NULL when out of memory or when
 * its folder is already another replica's. */
struct lab_replica *lab_replica_new(struct lab *lab, const char *ns, const char *name, const char *workload,
                                    const char *address);
/* Starts (or restarts with new arguments) what a present replica should run; issues its
 * certificate first when it has none. Returns 0 or -ENOMEM. */
int lab_replica_run(struct lab *lab, struct lab_replica *rep);
/* Writes the replica's `outbound` and `admin` files, which `load --from` and `exec` read. */
void lab_replica_write_files(struct lab_replica *rep);
/* "127.1.0.5", or "127.0.0.1 ports 20000-20015" in a port block: for events. */
void lab_replica_where(const struct lab_replica *rep, char *out, size_t n);
/* Removes the app's sockets from the replica's folder (its socket appearing means ready). */
void lab_replica_unlink_sockets(struct lab_replica *rep);
/* Starts the certificate renewal sweep on lab->cert_timer. */
void lab_identity_start(struct lab *lab);
/* (lab.c) Starts polling for apps' sockets while some app is starting. */
void lab_probe_start(struct lab *lab);

/* ---- addresses and port blocks (lab_addr.c) ----------------------------------------------- */

/* Every replica's address in port-block mode. */
#define LAB_BLOCK_ADDRESS "127.0.0.1"
/* Parses "A.B.C.D/LEN" into the first and last host address (host byte order). */
int lab_parse_cidr(const char *cidr, uint32_t *first, uint32_t *last);
void lab_addr_text(uint32_t a, char *out, size_t n);
uint32_t lab_addr_value(const char *text); /* 0 when not an IPv4 address */
/* Port blocks: where the search for free blocks starts (BASE, or a random block). */
void lab_blocks_begin(struct lab *lab);
/* registry_block_cb over lab (ctx): the next block of ports all free now; 0 when none. */
uint32_t lab_next_block(void *ctx);
/* Whether pod addresses can be bound here (the first one tried). */
bool lab_pod_addresses_bindable(uint32_t first);
/* An address with port 0 resolved to a free port (in: "HOST:PORT"). Returns 0 or a negative errno. */
int lab_resolve_port(uv_loop_t *loop, const char *in, char *out, size_t n);

/* ---- workload control (lab_control.c) ---------------------------------------------------- */

/* The present replicas `name` stands for: the replica of that name, or every replica of the
 * Deployment of that name (CLI.md's WORKLOAD rule), else every replica whose `app` label is
 * that name (the service: "ratings"). ns "" matches any namespace. Returns the
 * count (0: none) and fills out with up to max borrowed pointers, in start order. */
size_t lab_workload_replicas(struct lab *lab, const char *ns, const char *name, struct lab_replica **out, size_t max);
/* How every command taking a WORKLOAD finds it. With ns set (-n), lab_workload_replicas in
 * that namespace. Without (NULL or ""), the default namespace first, as kubectl; when the
 * name means nothing there, the one other namespace where it does (istio-ingressgateway-0),
 * and when it means something in several, none: the name is ambiguous. Returns the count and
 * fills out as lab_workload_replicas; 0 with the reason (unknown, or ambiguous naming the
 * namespaces) on o->err and o->exit_code 1. */
size_t lab_workload_lookup(struct lab *lab, const char *ns, const char *name, struct lab_replica **out, size_t max,
                           struct lab_output *o);
/* `meshlab chaos`: sends the knobs (a JSON object, borrowed; ignored when clear) to the app
 * control socket of every replica `workload` stands for, as POST /chaos (or /chaos/clear),
 * and answers r in the console form once every replica answered: one line per replica. */
void lab_chaos(struct lab *lab, struct server_request *r, const char *ns, const char *workload, bool clear,
               const char *knobs, size_t len);
/* POST /v1/reset: the lab's clean state, what a lesson starts from. Deletes every Istio
 * resource that was not in the manifests the lab started with, scales the initial Deployments
 * back to their replica counts (Deployments applied later are left as they are), then clears
 * chaos on every replica that runs an app, and answers r in the console form: kubectl's
 * `"name" deleted` and `scaled` lines, then one `chaos cleared` line per replica. A replica
 * whose app does not answer is a warning, not a failure (a restarted app holds no chaos). */
void lab_reset(struct lab *lab, struct server_request *r);
/* The store half of lab_reset (lab_store.c): deletes and scales, writes kubectl's lines to o
 * and recompiles when something changed. */
void lab_reset_store(struct lab *lab, struct lab_output *o);
/* `meshlab kill`: SIGKILL to the app (or, container "sidecar" or a replica without an app,
 * the sidecar) of every replica `workload` stands for; the supervisor restarts it. */
void lab_kill(struct lab *lab, const char *ns, const char *workload, const char *container, struct lab_output *o);
/* `meshlab restart`: graceful restart (SIGTERM, then a start without backoff) of the app and
 * sidecar of every replica `workload` stands for. */
void lab_restart(struct lab *lab, const char *ns, const char *workload, struct lab_output *o);
/* `meshlab scale`: sets the Deployment's spec.replicas in the store, as an apply of the
 * changed Deployment would, and lets the lab start or stop replicas to match. */
void lab_scale(struct lab *lab, const char *ns, const char *deployment, uint32_t replicas, struct lab_output *o);
/* The replicas `workload` stands for (lab_workload_lookup), one `NS/REPLICA` per line on out
 * (for `meshlab logs` and `meshlab exec`, which then read the replica folders). */
void lab_resolve(struct lab *lab, const char *ns, const char *workload, struct lab_output *o);
/* `meshlab why` (lab_why.c): asks every present replica's sidecar admin (and the gateway's)
 * GET /debug/why?id=request_id at once, each bounded by a short timeout, and answers r once all
 * answered or timed out: JSON {"request_id", "proxies", "records": [in hop order],
 * "unreachable": [{"proxy", "admin", "error"}]} (200 when some record exists, else 404), or
 * with text the console form (each hop's explanation and a summary; exit 1 when none). */
void lab_why(struct lab *lab, struct server_request *r, const char *request_id, bool text);
/* Answers r in the console form (lab_api.c's), freeing o's buffers. */
void lab_api_respond_console(struct server_request *r, struct lab_output *o);

/* The API (lab_api.c): the request handler server_listen is given; user is the lab. */
void lab_api_handle(struct server_request *r);
/* Holds or answers one config poll (GET /v1/xds). */
void lab_xds_poll(struct lab *lab, struct server_request *r, const char *node, uint64_t version, const char *error,
                  uint64_t hold_ms);
/* A sidecar acknowledged its current version: marks it ready, checks the lab's readiness. */
void lab_replica_acked(struct lab_replica *rep);
/* Aligns tab-separated rows (one per line, the first the header) into columns three spaces
 * apart, as kubectl prints tables, appending to out. Borrows tsv. */
void lab_table_render(struct buf *out, const char *tsv);
/* Answers every held poll whose node now has a newer config. */
void lab_xds_wake(struct lab *lab);
/* Answers every held poll 503 (the lab is stopping). */
void lab_xds_close_all(struct lab *lab);
/* Prints an event line ("[  0.123] what", seconds since `up` began) to stdout: the terminal
 * of a foreground `up`, lab.log for a detached one. */
void lab_event(struct lab *lab, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the telemetry sink and the journal (lab_telemetry.c) ----------------------------------- */

/* Opens `<dir>/journal` for appending and starts the once-a-second tick. Returns 0, or a
 * negative errno when the journal cannot be opened (the lab runs on without one). */
int lab_telemetry_start(struct lab *lab);
/* Closes the tick's timer (lab_stop). */
void lab_telemetry_stop(struct lab *lab);
/* Frees the series and the request log and closes the journal, after the loop ended. */
void lab_telemetry_free(struct lab *lab);
/* POST /v1/report: adds a sidecar's report (body borrowed) to the series and the request log.
 * Returns 0, or -EINVAL (not a report: why in err), -ENOMEM. */
int lab_telemetry_ingest(struct lab *lab, const char *node, const char *body, size_t len, char *err, size_t errlen);
/* GET /v1/metrics: the summary of q over its window as JSON; with by_service, also one summary
 * per destination service ("services"). Appends to out. */
void lab_metrics_json(struct lab *lab, const struct labtel_query *q, bool by_service, struct buf *out);
/* GET /v1/metrics?o=text&group_by=destination_service: `meshlab top`'s table, one line per
 * destination service (rps, success, p50, p99, share by version, flags). Appends to out. */
void lab_metrics_table(struct lab *lab, const struct labtel_query *q, struct buf *out);
/* GET /v1/requests: the newest `limit` sampled request records (of `service` when not NULL or
 * ""), oldest first, as a JSON array. Appends to out. */
void lab_requests_json(struct lab *lab, size_t limit, const char *service, struct buf *out);
/* GET /v1/clusters: the latest connection-pool and outlier state each caller reported, per
 * cluster and host (docs/telemetry.md), optionally for one caller (node "NS/REPLICA") and one
 * destination service (FQDN); NULL or "" selects all. Appends JSON to out. */
void lab_clusters_json(struct lab *lab, const char *node, const char *service, struct buf *out);
/* Appends one line to the journal: {"ts":"<UTC ISO 8601>","t":<s since up>,"event":"<event>",
 * <fields>}. fields is printf-style JSON members ("\"version\":%llu"), or NULL; string values
 * must be quoted with lab_json_quote. No-op without a journal. */
void lab_journal(struct lab *lab, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* s as a JSON string literal (quoted, escaped), in scratch (reset first); valid until scratch
 * changes. */
const char *lab_json_quote(struct buf *scratch, const char *s);

#endif
