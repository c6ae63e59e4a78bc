/* The lab API: HTTP/1.1 on 127.0.0.1 (the address is in `<dir>/api`), served by server.c.
 *
 *   GET  /v1/xds?node=NS/REPLICA&version=N[&error=REASON][&wait=MS]   a sidecar's config poll
 *   GET  /v1/status[?o=json|text]      replicas, processes, config versions (CLI.md's JSON)
 *   GET  /v1/proxy-status[?o=json]     each proxy's sync state, istioctl style
 *   GET  /v1/ready                     200 when every replica is ready, else 503 and why
 *   POST /v1/apply?ns=NS[&enforce=1][&file=NAME]    YAML body (or several files, see below)
 *   POST /v1/delete?ns=NS[&enforce=1]  same body as apply; or ?kind=K&name=N&ns=NS, no body
 *   GET  /v1/get?kind=K[&name=N][&ns=NS|&all=1][&o=yaml|json]
 *   GET  /v1/analyze, GET /v1/export
 *   POST /v1/shutdown                  stops the lab (what `meshlab down` asks)
 *   POST /v1/chaos?workload=W[&ns=NS][&clear=1]   JSON knobs body (lab_control.c)
 *   POST /v1/kill?workload=W[&ns=NS][&c=app|sidecar], POST /v1/restart?workload=W[&ns=NS]
 *   POST /v1/scale?workload=DEPLOYMENT&replicas=N[&ns=NS]
 *   GET  /v1/resolve?workload=W[&ns=NS]   the replicas W stands for, one NS/REPLICA a line
 *   POST /v1/report?node=NS/REPLICA    a sidecar's telemetry delta (report.h), answered 204
 *   GET  /v1/metrics?window=10s[&reporter=source|destination][&destination_service=S]
 *                   [&source_workload=W][&group_by=destination_service][&o=text]
 *                                      JSON (lab_telemetry.c); o=text: `meshlab top`'s table
 *   GET  /v1/requests?limit=50[&destination_service=S]   the newest sampled request records
 *   GET  /v1/clusters[?node=NS/REPLICA][&service=FQDN]   each caller's reported pool and outlier state
 *   GET  /v1/why/REQUEST_ID[?o=text]   the request's decision traces from every proxy (lab_why.c)
 *   GET  /v1/jwks[?uri=URI]            the lab issuer's JWK Set (issuer.h); with uri, a sidecar's
 *                                      jwksUri fetch: the lab's own set, or 502 saying why not
 *
 * Config push is a long poll, the plain-HTTP shape of Envoy's xDS: a sidecar asks with the
 * version it runs (0: none yet); when the lab holds a newer config for it, the answer (200,
 * the config as compile_to_json wrote it) comes at once, otherwise the request is held until
 * a newer version exists or LAB_POLL_HOLD_MS pass (304). Asking with version N acknowledges N
 * (ACK); adding error=REASON rejects the last config sent (NACK): the node stays on N and the
 * lab does not send that config again, only a newer one.
 *
 * Commands of the CLI (apply, delete, get, analyze, export) answer in the "console" form: the
 * body is what the CLI prints on stdout followed by what it prints on stderr, split by the
 * header `x-meshlab-stdout-length`, and `x-meshlab-exit` is its exit code (HTTP 200 for 0,
 * 422 otherwise). The lab renders the text, so every client prints the same thing.
 *
 * A multi-file apply (a folder) sends content-type application/x-meshlab-files: for each file
 * a line "file LENGTH NAME\n" then exactly LENGTH bytes. Files are applied together, all or
 * nothing.
 *
 * jansson is included here (the status JSON) and in lab_telemetry.c (reports and metrics).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/issuer.h"
#include "mesh/lab.h"

/* ---- tables ----------------------------------------------------------------------------------- */

void lab_table_render(struct buf *out, const char *tsv) {
  enum { MAX_COLS = 16 };
  size_t width[MAX_COLS] = {0};
  for (int pass = 0; pass < 2; pass++) {
    const char *line = tsv;
    while (*line) {
      const char *eol = strchr(line, '\n');
      size_t len = eol ? (size_t)(eol - line) : strlen(line);
      size_t col = 0;
      const char *cell = line, *end = line + len;
      while (cell <= end && col < MAX_COLS) {
        const char *tab = memchr(cell, '\t', (size_t)(end - cell));
        size_t n = tab ? (size_t)(tab - cell) : (size_t)(end - cell);
        if (pass == 0) {
          if (n > width[col]) width[col] = n;
        } else if (tab) {
          buf_appendf(out, "%-*.*s   ", (int)width[col], (int)n, cell);
        } else {
          buf_appendf(out, "%.*s\n", (int)n, cell);
        }
        col++;
        if (!tab) break;
        cell = tab + 1;
      }
      line += len + (eol ? 1 : 0);
    }
  }
}

/* ---- query strings ---------------------------------------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* ---- answers ---------------------------------------------------------------------------------- */

static void respond_text(struct server_request *r, int status, const char *text) {
  server_respond(r, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

static void respond_console(struct server_request *r, struct lab_output *o) {
  char headers[128];
  snprintf(headers, sizeof headers, "x-meshlab-exit: %d\r\nx-meshlab-stdout-length: %zu\r\n", o->exit_code, o->out.len);
  buf_append(&o->out, o->err.data, o->err.len);
  server_respond(r, o->exit_code == 0 ? 200 : 422, "text/plain; charset=utf-8", o->out.data, o->out.len, headers);
  lab_output_free(o);
}

void lab_api_respond_console(struct server_request *r, struct lab_output *o) { respond_console(r, o); }

/* ---- config polls ----------------------------------------------------------------------------- */

struct lab_poll {
  struct lab_poll *next, *prev;
  struct lab *lab;
  struct server_request *r;
  struct lab_replica *rep;
  uint64_t threshold; /* answer once rep->config_version is above this */
  uv_timer_t timer;
};

static void on_poll_closed(uv_handle_t *h) { free(h->data); }

static void poll_finish(struct lab_poll *p) {
  struct lab *lab = p->lab;
  if (p->prev) p->prev->next = p->next;
  else lab->polls = p->next;
  if (p->next) p->next->prev = p->prev;
  p->rep->polls--;
  uv_close((uv_handle_t *)&p->timer, on_poll_closed);
}

static void send_config(struct server_request *r, struct lab_replica *rep) {
  char headers[96];
  snprintf(headers, sizeof headers, "x-meshlab-config-version: %llu\r\n", (unsigned long long)rep->config_version);
  rep->sent_version = rep->config_version;
  server_respond(r, 200, "application/json", rep->config_json, strlen(rep->config_json), headers);
}

static void on_poll_timeout(uv_timer_t *t) {
  struct lab_poll *p = t->data;
  server_respond(p->r, 304, NULL, "", 0, NULL);
  poll_finish(p);
}

void lab_xds_poll(struct lab *lab, struct server_request *r, const char *node, uint64_t version, const char *error,
                  uint64_t hold_ms) {
  char ns[128];
  const char *slash = strchr(node, '/');
  if (!slash || (size_t)(slash - node) >= sizeof ns) {
    respond_text(r, 400, "node must be NAMESPACE/REPLICA\n");
    return;
  }
  memcpy(ns, node, (size_t)(slash - node));
  ns[slash - node] = '\0';
  struct lab_replica *rep = lab_replica_find(lab, ns, slash + 1);
  if (!rep || !rep->present) {
    respond_text(r, 404, "unknown node: no replica of that name runs in this lab\n");
    return;
  }
  rep->seen_ms = uv_now(lab->loop);
  uint64_t threshold = version;
  if (error && *error) {
    /* NACK: the node keeps `version`; the config last sent to it was refused. */
    rep->nacked_version = rep->sent_version;
    snprintf(rep->nack, sizeof rep->nack, "%s", error);
    lab_event(lab, "%s/%s rejected config version %llu: %s", rep->ns, rep->name,
              (unsigned long long)rep->nacked_version, error);
    struct buf q = {0};
    lab_journal(lab, "config_nacked", "\"replica\":\"%s/%s\",\"version\":%llu,\"running\":%llu,\"reason\":%s", rep->ns,
                rep->name, (unsigned long long)rep->nacked_version, (unsigned long long)version,
                lab_json_quote(&q, error));
    buf_free(&q);
    if (rep->nacked_version > threshold) threshold = rep->nacked_version;
  } else {
    if (version && rep->nacked_version > threshold) threshold = rep->nacked_version;
    if (version <= rep->config_version && version != rep->acked_version) {
      rep->acked_version = version;
      rep->acked_ms = rep->seen_ms;
      if (version && version >= rep->nacked_version) {
        rep->nacked_version = 0;
        rep->nack[0] = '\0';
      }
      if (version) {
        lab_journal(lab, "config_acked", "\"replica\":\"%s/%s\",\"version\":%llu", rep->ns, rep->name,
                    (unsigned long long)version);
        lab_replica_acked(rep);
      }
    }
  }
  if (lab->closing) {
    respond_text(r, 503, "the lab is stopping\n");
    return;
  }
  if (rep->config_json && rep->config_version > threshold) {
    send_config(r, rep);
    return;
  }
  struct lab_poll *p = calloc(1, sizeof *p);
  if (!p) {
    respond_text(r, 503, "out of memory\n");
    return;
  }
  p->lab = lab;
  p->r = r;
  p->rep = rep;
  p->threshold = threshold;
  uv_timer_init(lab->loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, on_poll_timeout, hold_ms, 0);
  p->next = lab->polls;
  if (lab->polls) lab->polls->prev = p;
  lab->polls = p;
  rep->polls++;
}

void lab_xds_wake(struct lab *lab) {
  struct lab_poll *p = lab->polls;
  while (p) {
    struct lab_poll *next = p->next;
    if (!p->rep->present) {
      respond_text(p->r, 404, "this replica was removed from the lab\n");
      poll_finish(p);
    } else if (p->rep->config_json && p->rep->config_version > p->threshold) {
      send_config(p->r, p->rep);
      poll_finish(p);
    }
    p = next;
  }
}

void lab_xds_close_all(struct lab *lab) {
  while (lab->polls) {
    struct lab_poll *p = lab->polls;
    respond_text(p->r, 503, "the lab is stopping\n");
    poll_finish(p);
  }
}

/* ---- status ----------------------------------------------------------------------------------- */

/* Listings show the workloads' replicas in start order, then the ingress gateway (the lab
 * creates the gateway first, to give it its address, but it reads better last). */
static struct lab_replica *after_workloads(struct lab_replica *r) {
  while (r && r->gateway) r = r->next;
  return r;
}

static struct lab_replica *first_replica(struct lab *lab) {
  struct lab_replica *r = after_workloads(lab->replicas);
  if (r) return r;
  for (r = lab->replicas; r && !r->gateway; r = r->next) {
  }
  return r;
}

static struct lab_replica *next_replica(struct lab *lab, struct lab_replica *r) {
  if (!r->gateway) {
    struct lab_replica *n = after_workloads(r->next);
    if (n) return n;
    /* workloads done: the gateways */
    for (n = lab->replicas; n && !n->gateway; n = n->next) {
    }
    return n;
  }
  for (struct lab_replica *n = r->next; n; n = n->next)
    if (n->gateway) return n;
  return NULL;
}

/* The service ports a replica's sidecar owns (the ports of every Service selecting it). */
static json_t *replica_ports(struct lab *lab, const struct lab_replica *rep) {
  json_t *ports = json_array();
  const struct registry_workload *w = rep->gateway ? NULL : registry_workload_find(lab->reg, rep->ns, rep->workload);
  const struct registry_service **svcs = NULL;
  size_t n = 0;
  if (w && registry_services_of(lab->reg, w, &svcs, &n) == 0) {
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < svcs[i]->ports_len; k++) {
        json_int_t port = svcs[i]->ports[k].port;
        bool dup = false;
        for (size_t j = 0; j < json_array_size(ports); j++)
          if (json_integer_value(json_array_get(ports, j)) == port) dup = true;
        if (!dup) json_array_append_new(ports, json_integer(port));
      }
    free(svcs);
  }
  return ports;
}

/* In port blocks: where the replica serves service port `port` (its target port's slot), 0
 * when it owns its address or the block has no slot for it. */
static uint32_t block_port(struct lab *lab, const struct lab_replica *rep, uint32_t port) {
  if (!rep->port_base || rep->gateway) return 0;
  const struct registry_workload *w = registry_workload_find(lab->reg, rep->ns, rep->workload);
  const struct registry_service **svcs = NULL;
  size_t n = 0;
  uint32_t at = 0;
  if (w && registry_services_of(lab->reg, w, &svcs, &n) == 0) {
    struct registry_replica rr = {.port_base = rep->port_base};
    for (size_t i = 0; i < n && !at; i++)
      for (size_t k = 0; k < svcs[i]->ports_len && !at; k++)
        if (svcs[i]->ports[k].port == port)
          at = registry_replica_port(lab->reg, w, &rr, registry_target_port(w, &svcs[i]->ports[k]));
    free(svcs);
  }
  return at;
}

/* status -o json's "port_block" of a replica: null when it owns its address, else its block
 * (docs/lab.md, "Port blocks"): the base, the sidecar's listeners and where each service port
 * is served. */
static json_t *port_block_json(struct lab *lab, const struct lab_replica *rep, json_t *ports) {
  if (!rep->port_base) return json_null();
  json_t *o = json_object(), *map = json_object();
  json_object_set_new(o, "base", json_integer(rep->port_base));
  json_object_set_new(o, "size", json_integer(REGISTRY_BLOCK_SIZE));
  json_object_set_new(o, "admin", json_integer(rep->port_base + REGISTRY_BLOCK_ADMIN));
  json_object_set_new(o, "outbound", json_integer(rep->port_base + REGISTRY_BLOCK_OUTBOUND));
  json_object_set_new(o, "inbound", json_integer(rep->port_base + REGISTRY_BLOCK_INBOUND));
  json_object_set_new(o, "metrics", json_integer(rep->port_base + REGISTRY_BLOCK_METRICS));
  for (size_t i = 0; i < json_array_size(ports); i++) {
    uint32_t port = (uint32_t)json_integer_value(json_array_get(ports, i));
    uint32_t at = block_port(lab, rep, port);
    char key[16];
    snprintf(key, sizeof key, "%u", (unsigned)port);
    if (at) json_object_set_new(map, key, json_integer(at));
  }
  json_object_set_new(o, "ports", map);
  return o;
}

/* -n NS of status and proxy-status: "" lists every namespace. */
static bool in_ns(const struct lab_replica *r, const char *ns) { return !ns || !*ns || strcmp(r->ns, ns) == 0; }

static json_int_t proc_pid(const struct proc *p) { return p && p->alive ? (json_int_t)p->handle.pid : 0; }

/* The mesh's outboundTrafficPolicy.mode: "ALLOW_ANY" unless `up` said otherwise. */
static const char *outbound_policy(const struct lab *lab) {
  enum xds_outbound_policy p = lab->opt.outbound_policy;
  return xds_outbound_policy_name(p == XDS_OUTBOUND_POLICY_NONE ? XDS_OUTBOUND_POLICY_ALLOW_ANY : p);
}

void lab_status(struct lab *lab, const char *ns, bool as_json, struct buf *out) {
  if (as_json) {
    json_t *root = json_object(), *reps = json_array();
    for (struct lab_replica *r = first_replica(lab); r; r = next_replica(lab, r)) {
      if (!r->present || !in_ns(r, ns)) continue;
      json_t *o = json_object();
      json_object_set_new(o, "name", json_string(r->name));
      json_object_set_new(o, "workload", json_string(r->workload));
      json_object_set_new(o, "namespace", json_string(r->ns));
      json_object_set_new(o, "address", json_string(r->address));
      json_t *ports = replica_ports(lab, r);
      json_object_set_new(o, "ports", ports); /* o holds it: still readable below */
      json_object_set_new(o, "app", json_string(lab_app_state(r)));
      json_object_set_new(o, "sidecar", json_string(lab_sidecar_state(r)));
      uint32_t restarts = (r->app ? r->app->restarts : 0) + (r->sidecar ? r->sidecar->restarts : 0);
      json_object_set_new(o, "restarts", json_integer(restarts));
      json_object_set_new(o, "config_version", json_integer((json_int_t)r->acked_version));
      /* Beyond CLI.md's shape (additions only): the processes, for tests and `meshlab kill`. */
      json_t *pids = json_object();
      json_object_set_new(pids, "app", r->app && proc_pid(r->app) ? json_integer(proc_pid(r->app)) : json_null());
      json_object_set_new(pids, "sidecar", proc_pid(r->sidecar) ? json_integer(proc_pid(r->sidecar)) : json_null());
      json_object_set_new(o, "pids", pids);
      json_object_set_new(o, "port_block", port_block_json(lab, r, ports));
      json_array_append_new(reps, o);
    }
    json_object_set_new(root, "replicas", reps);
    json_object_set_new(root, "ingress", json_string(lab->ingress));
    /* The mesh-wide settings `meshlab up` took (Istio's MeshConfig). */
    json_t *mesh = json_object();
    json_object_set_new(mesh, "outbound_traffic_policy", json_string(outbound_policy(lab)));
    json_object_set_new(root, "mesh", mesh);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) buf_appendf(out, "%s\n", text);
    free(text);
    json_decref(root);
    return;
  }
  struct buf tsv = {0};
  buf_append_str(&tsv, "NAMESPACE\tNAME\tADDRESS\tPORTS\tAPP\tSIDECAR\tRESTARTS\tCONFIG\n");
  for (struct lab_replica *r = first_replica(lab); r; r = next_replica(lab, r)) {
    if (!r->present || !in_ns(r, ns)) continue;
    json_t *ports = replica_ports(lab, r);
    char plist[128] = "-";
    size_t len = 0;
    /* In a port block: SERVICE-PORT@WHERE (9080@20004). */
    for (size_t i = 0; i < json_array_size(ports) && len < sizeof plist - 16; i++) {
      uint32_t port = (uint32_t)json_integer_value(json_array_get(ports, i));
      uint32_t at = block_port(lab, r, port);
      len += (size_t)snprintf(plist + len, sizeof plist - len, at ? "%s%u@%u" : "%s%u", i ? "," : "", (unsigned)port,
                              (unsigned)at);
    }
    json_decref(ports);
    uint32_t restarts = (r->app ? r->app->restarts : 0) + (r->sidecar ? r->sidecar->restarts : 0);
    char addr[96];
    if (r->port_base)
      snprintf(addr, sizeof addr, "%s:%u-%u", r->address, (unsigned)r->port_base,
               (unsigned)(r->port_base + REGISTRY_BLOCK_SIZE - 1));
    else snprintf(addr, sizeof addr, "%s", r->address);
    buf_appendf(&tsv, "%s\t%s\t%s\t%s\t%s\t%s\t%u\t%llu/%llu\n", r->ns, r->name, addr, plist, lab_app_state(r),
                lab_sidecar_state(r), restarts, (unsigned long long)r->acked_version,
                (unsigned long long)r->config_version);
  }
  lab_table_render(out, buf_cstr(&tsv));
  buf_free(&tsv);
  buf_appendf(out, "\ningress: http://%s (Gateway port 80), https://%s (port 443)\n", lab->ingress, lab->ingress_tls);
  buf_appendf(out, "outboundTrafficPolicy: %s\n", outbound_policy(lab));
}

static const char *sync_state(const struct lab_replica *r) {
  if (!r->sent_version) return "NOT SENT";
  if (r->acked_version == r->config_version && !r->nack[0]) return "SYNCED";
  return "STALE";
}

void lab_proxy_status(struct lab *lab, const char *ns, struct buf *out) {
  struct buf tsv = {0};
  uint64_t now = uv_now(lab->loop);
  buf_append_str(&tsv, "NAME\tSTATUS\tCLUSTER-VERSION\tLATEST\tLAST-SEEN\tNACK\n");
  for (struct lab_replica *r = first_replica(lab); r; r = next_replica(lab, r)) {
    if (!r->present || !in_ns(r, ns)) continue;
    char seen[32] = "never";
    if (r->polls) snprintf(seen, sizeof seen, "watching");
    else if (r->seen_ms) snprintf(seen, sizeof seen, "%.1fs ago", (double)(now - r->seen_ms) / 1000.0);
    buf_appendf(&tsv, "%s.%s\t%s\t%llu\t%llu\t%s\t%s\n", r->name, r->ns, sync_state(r),
                (unsigned long long)r->acked_version, (unsigned long long)r->config_version, seen,
                r->nack[0] ? r->nack : "-");
  }
  lab_table_render(out, buf_cstr(&tsv));
  buf_free(&tsv);
}

static void proxy_status_json(struct lab *lab, const char *ns, struct buf *out) {
  json_t *arr = json_array();
  uint64_t now = uv_now(lab->loop);
  for (struct lab_replica *r = first_replica(lab); r; r = next_replica(lab, r)) {
    if (!r->present || !in_ns(r, ns)) continue;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "namespace", json_string(r->ns));
    json_object_set_new(o, "status", json_string(sync_state(r)));
    json_object_set_new(o, "acked_version", json_integer((json_int_t)r->acked_version));
    json_object_set_new(o, "sent_version", json_integer((json_int_t)r->sent_version));
    json_object_set_new(o, "latest_version", json_integer((json_int_t)r->config_version));
    json_object_set_new(o, "watching", json_boolean(r->polls > 0));
    json_object_set_new(o, "last_seen_ms_ago", r->seen_ms ? json_integer((json_int_t)(now - r->seen_ms)) : json_null());
    json_object_set_new(o, "nack", r->nack[0] ? json_string(r->nack) : json_null());
    json_array_append_new(arr, o);
  }
  char *text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (text) buf_appendf(out, "%s\n", text);
  free(text);
  json_decref(arr);
}

/* ---- request bodies ---------------------------------------------------------------------------- */

/* Splits a body into files: the multi-file framing, or one file named `name`. Returns the
 * count (files point into body), or -1 with a reason in err. */
static long split_files(struct server_request *r, const char *name, struct lab_file *files, char (*names)[512],
                        size_t max, char *err, size_t errlen) {
  const struct slice *ct = http_head_find(r->head, "content-type");
  const char *p = r->body.data ? r->body.data : "";
  size_t len = r->body.len;
  if (!ct || !slice_eq_str_nocase(*ct, "application/x-meshlab-files")) {
    files[0] = (struct lab_file){name, p, len};
    return 1;
  }
  size_t n = 0, off = 0;
  while (off < len) {
    const char *nl = memchr(p + off, '\n', len - off);
    unsigned long long flen;
    char fname[512];
    if (!nl || n >= max || sscanf(p + off, "file %llu %511[^\n]", &flen, fname) != 2 ||
        flen > len - (size_t)(nl + 1 - p)) {
      snprintf(err, errlen, "malformed multi-file body at byte %zu", off);
      return -1;
    }
    snprintf(names[n], sizeof names[n], "%s", fname);
    files[n] = (struct lab_file){names[n], nl + 1, (size_t)flen};
    n++;
    off = (size_t)(nl + 1 - p) + (size_t)flen;
  }
  return (long)n;
}

/* ---- the handler ------------------------------------------------------------------------------- */

static bool path_is(struct server_request *r, const char *path) {
  return r->path.n == strlen(path) && memcmp(r->path.p, path, r->path.n) == 0;
}

static bool method_is(struct server_request *r, const char *m) { return slice_eq_str_nocase(r->head->method, m); }

/* Journals an apply or delete: its exit code and the kubectl-style lines it printed. */
static void journal_console(struct lab *lab, const char *event, const struct lab_output *o) {
  json_t *lines = json_array();
  const char *p = o->out.data ? o->out.data : "", *end = p + o->out.len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n) json_array_append_new(lines, json_stringn(p, n));
    p += n + 1;
  }
  char *text = json_dumps(lines, JSON_COMPACT);
  lab_journal(lab, event, "\"exit_code\":%d,\"objects\":%s", o->exit_code, text ? text : "[]");
  free(text);
  json_decref(lines);
}

/* "10s", "2m", "30" (seconds) into seconds; 0 when not a window. */
static int64_t parse_window(const char *v) {
  char *end;
  long long n = strtoll(v, &end, 10);
  if (n <= 0 || end == v) return 0;
  if (strcmp(end, "m") == 0) n *= 60;
  else if (*end && strcmp(end, "s") != 0) return 0;
  return n;
}

/* GET /v1/metrics and /v1/requests: the telemetry sink's queries (lab_telemetry.c). */
static void answer_telemetry(struct lab *lab, struct server_request *r) {
  char v[64] = "", service[256] = "", source[256] = "";
  bool has_service = server_query_get(r->query, "destination_service", service, sizeof service) && service[0];
  bool text = false;
  struct buf out = {0};
  if (path_is(r, "/v1/requests")) {
    unsigned long limit = server_query_get(r->query, "limit", v, sizeof v) ? strtoul(v, NULL, 10) : 50;
    if (limit == 0 || limit > LABTEL_LOG) limit = limit ? LABTEL_LOG : 50;
    lab_requests_json(lab, limit, has_service ? service : NULL, &out);
  } else {
    struct labtel_query q = {10, -1, NULL, NULL};
    if (server_query_get(r->query, "window", v, sizeof v) && (q.window_s = parse_window(v)) == 0) {
      respond_text(r, 400, "window must be a duration such as 10s or 5m (at most 300s)\n");
      return;
    }
    if (q.window_s > LABTEL_SECONDS) {
      respond_text(r, 400, "window must be at most 300s: the lab keeps five minutes\n");
      return;
    }
    if (server_query_get(r->query, "reporter", v, sizeof v) && v[0]) {
      if (strcmp(v, "source") == 0) q.reporter = REPORTER_SOURCE;
      else if (strcmp(v, "destination") == 0) q.reporter = REPORTER_DESTINATION;
      else {
        respond_text(r, 400, "reporter must be source or destination\n");
        return;
      }
    }
    if (has_service) q.destination_service = service;
    if (server_query_get(r->query, "source_workload", source, sizeof source) && source[0]) q.source_workload = source;
    bool by_service = server_query_get(r->query, "group_by", v, sizeof v) && strcmp(v, "destination_service") == 0;
    if (server_query_get(r->query, "o", v, sizeof v) && strcmp(v, "text") == 0) {
      lab_metrics_table(lab, &q, &out);
      text = true;
    } else {
      lab_metrics_json(lab, &q, by_service, &out);
    }
  }
  if (!out.data) respond_text(r, 503, "out of memory\n");
  else server_respond(r, 200, text ? "text/plain; charset=utf-8" : "application/json", out.data, out.len, NULL);
  buf_free(&out);
}

/* GET /v1/jwks[?uri=URI]: the lab's issuer key set. Sidecars ask with the jwksUri of a
 * RequestAuthentication: the lab answers for its own issuer and, having no way out of the
 * machine, refuses any other URI with the message the sidecar logs and the decision trace
 * shows (tokens of that issuer get 401 "Jwks remote fetch is failed", as in Envoy). */
static void answer_jwks(struct lab *lab, struct server_request *r) {
  char uri[1024] = "", err[256];
  bool asked = server_query_get(r->query, "uri", uri, sizeof uri);
  char own[160];
  snprintf(own, sizeof own, "http://%s/v1/jwks", lab->api_address);
  if (asked && !issuer_owns_uri(uri) && strcmp(uri, own) != 0) {
    char msg[1600];
    snprintf(msg, sizeof msg,
             "Jwks remote fetch is failed: meshlab cannot fetch %s (the lab reaches no host outside the machine; it "
             "serves only its own issuer's set, %s). Put the key set inline instead: jwtRules[].jwks: '<the JWKS "
             "JSON>' (Istio's demo set is istio/jwt-samples/jwks.json; the lab issuer's is `meshlab token --jwks`)\n",
             uri, ISSUER_JWKS_URI);
    lab_journal(lab, "jwks", "%s", msg);
    fprintf(stderr, "lab: %s", msg);
    respond_text(r, 502, msg);
    return;
  }
  struct issuer is;
  if (issuer_load(lab->opt.dir, &is, err, sizeof err) != 0) {
    char msg[320];
    snprintf(msg, sizeof msg, "Jwks remote fetch is failed: %s\n", err);
    respond_text(r, 503, msg);
    return;
  }
  server_respond(r, 200, "application/json", is.jwks, strlen(is.jwks), NULL);
  issuer_free(&is);
}

void lab_api_handle(struct server_request *r) {
  struct lab *lab = r->user;
  struct lab_output o = {0};
  char ns[128] = "", v[512] = "";
  bool enforce = server_query_get(r->query, "enforce", v, sizeof v) && strcmp(v, "1") == 0;
  server_query_get(r->query, "ns", ns, sizeof ns);

  if (path_is(r, "/v1/xds") && method_is(r, "GET")) {
    char node[256] = "", error[256] = "";
    if (!server_query_get(r->query, "node", node, sizeof node)) {
      respond_text(r, 400, "node=NAMESPACE/REPLICA is required\n");
      return;
    }
    uint64_t version = server_query_get(r->query, "version", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
    uint64_t hold = server_query_get(r->query, "wait", v, sizeof v) ? strtoull(v, NULL, 10) : LAB_POLL_HOLD_MS;
    if (hold > LAB_POLL_HOLD_MS) hold = LAB_POLL_HOLD_MS;
    server_query_get(r->query, "error", error, sizeof error);
    lab_xds_poll(lab, r, node, version, error, hold);
    return;
  }
  if (lab->closing) {
    respond_text(r, 503, "the lab is stopping\n");
    return;
  }
  if (path_is(r, "/v1/report") && method_is(r, "POST")) {
    char node[256] = "", err[256];
    server_query_get(r->query, "node", node, sizeof node);
    int rc = lab_telemetry_ingest(lab, node, r->body.data ? r->body.data : "", r->body.len, err, sizeof err);
    if (rc == 0) server_respond(r, 204, NULL, "", 0, NULL);
    else respond_text(r, rc == -EINVAL ? 400 : 503, err);
    return;
  }
  if ((path_is(r, "/v1/metrics") || path_is(r, "/v1/requests")) && method_is(r, "GET")) {
    answer_telemetry(lab, r);
    return;
  }
  if (path_is(r, "/v1/jwks") && method_is(r, "GET")) {
    answer_jwks(lab, r);
    return;
  }
  if (path_is(r, "/v1/clusters") && method_is(r, "GET")) {
    char node[256] = "", service[256] = "";
    server_query_get(r->query, "node", node, sizeof node);
    server_query_get(r->query, "service", service, sizeof service);
    struct buf out = {0};
    lab_clusters_json(lab, node, service, &out);
    if (!out.data) respond_text(r, 503, "out of memory\n");
    else server_respond(r, 200, "application/json", out.data, out.len, NULL);
    buf_free(&out);
    return;
  }
  if (r->path.n >= 8 && memcmp(r->path.p, "/v1/why/", 8) == 0 && method_is(r, "GET")) {
    /* The id is the rest of the path, percent-decoded (query_get's decoding, on the path). */
    char id[64] = "";
    size_t len = 0;
    for (size_t i = 8; i < r->path.n && len + 1 < sizeof id; i++) {
      int h1, h2;
      const char *p = r->path.p + i;
      if (*p == '%' && i + 2 < r->path.n && (h1 = hexval(p[1])) >= 0 && (h2 = hexval(p[2])) >= 0) {
        id[len++] = (char)(h1 * 16 + h2);
        i += 2;
      } else {
        id[len++] = *p;
      }
    }
    id[len] = '\0';
    if (!id[0] || strchr(id, '/')) {
      respond_text(r, 400, "the request id is required: GET /v1/why/REQUEST_ID\n");
      return;
    }
    lab_why(lab, r, id, server_query_get(r->query, "o", v, sizeof v) && strcmp(v, "text") == 0);
    return;
  }
  if (path_is(r, "/v1/status") || path_is(r, "/v1/proxy-status")) {
    struct buf out = {0};
    bool has_o = server_query_get(r->query, "o", v, sizeof v);
    bool status = path_is(r, "/v1/status");
    /* status defaults to JSON (its pinned shape), proxy-status to its table */
    bool json = has_o ? strcmp(v, "json") == 0 : status;
    if (status) lab_status(lab, ns, json, &out);
    else if (json) proxy_status_json(lab, ns, &out);
    else lab_proxy_status(lab, ns, &out);
    server_respond(r, 200, json ? "application/json" : "text/plain; charset=utf-8", out.data ? out.data : "", out.len,
                   NULL);
    buf_free(&out);
    return;
  }
  if (path_is(r, "/v1/ready")) {
    struct buf why = {0};
    if (lab_is_ready(lab, &why)) respond_text(r, 200, "ready\n");
    else {
      buf_append(&why, "", 0);
      respond_text(r, 503, buf_cstr(&why));
    }
    buf_free(&why);
    return;
  }
  if ((path_is(r, "/v1/apply") || path_is(r, "/v1/delete")) && method_is(r, "POST")) {
    char name[512] = "", kind[128] = "";
    bool apply = path_is(r, "/v1/apply");
    if (!apply && server_query_get(r->query, "kind", kind, sizeof kind)) {
      server_query_get(r->query, "name", name, sizeof name);
      lab_delete_named(lab, kind, name, ns, &o);
      journal_console(lab, "delete", &o);
      respond_console(r, &o);
      return;
    }
    if (!server_query_get(r->query, "file", name, sizeof name)) snprintf(name, sizeof name, "<stdin>");
    enum { MAX_FILES = 64 };
    struct lab_file files[MAX_FILES];
    char(*names)[512] = malloc(MAX_FILES * sizeof *names);
    char err[128] = "out of memory";
    long n = names ? split_files(r, name, files, names, MAX_FILES, err, sizeof err) : -1;
    if (n < 0) {
      buf_appendf(&o.err, "error: %s\n", err);
      o.exit_code = 1;
    } else if (apply) {
      lab_apply(lab, files, (size_t)n, ns, enforce, &o);
      journal_console(lab, "apply", &o);
    } else {
      lab_delete_files(lab, files, (size_t)n, ns, enforce, &o);
      journal_console(lab, "delete", &o);
    }
    free(names);
    respond_console(r, &o);
    return;
  }
  if (path_is(r, "/v1/get") && method_is(r, "GET")) {
    char kind[128] = "", name[512] = "", format[32] = "";
    server_query_get(r->query, "kind", kind, sizeof kind);
    bool has_name = server_query_get(r->query, "name", name, sizeof name) && name[0];
    bool all = server_query_get(r->query, "all", v, sizeof v) && strcmp(v, "1") == 0;
    server_query_get(r->query, "o", format, sizeof format);
    lab_get(lab, kind, has_name ? name : NULL, ns, all, format, &o);
    respond_console(r, &o);
    return;
  }
  if (path_is(r, "/v1/analyze")) {
    lab_analyze(lab, &o);
    respond_console(r, &o);
    return;
  }
  if (path_is(r, "/v1/export")) {
    lab_export(lab, &o);
    respond_console(r, &o);
    return;
  }
  /* Workload control (lab_control.c). ns stays "" when not given: lab_workload_lookup then
   * looks in "default" first, then in the one other namespace holding the name. */
  if ((path_is(r, "/v1/chaos") || path_is(r, "/v1/kill") || path_is(r, "/v1/restart") || path_is(r, "/v1/scale")) &&
      method_is(r, "POST")) {
    char workload[256] = "", container[32] = "";
    server_query_get(r->query, "workload", workload, sizeof workload);
    if (path_is(r, "/v1/chaos")) {
      bool clear = server_query_get(r->query, "clear", v, sizeof v) && strcmp(v, "1") == 0;
      lab_chaos(lab, r, ns, workload, clear, r->body.data ? r->body.data : "", r->body.len);
      return;
    }
    if (path_is(r, "/v1/kill")) {
      server_query_get(r->query, "c", container, sizeof container);
      lab_kill(lab, ns, workload, container, &o);
    } else if (path_is(r, "/v1/restart")) {
      lab_restart(lab, ns, workload, &o);
    } else {
      char *end = v;
      unsigned long n = server_query_get(r->query, "replicas", v, sizeof v) ? strtoul(v, &end, 10) : 0;
      if (!v[0] || *end || n > 1000) {
        buf_append_str(&o.err, "error: replicas=N (0 to 1000) is required\n");
        o.exit_code = 1;
      } else {
        lab_scale(lab, ns, workload, (uint32_t)n, &o);
      }
    }
    respond_console(r, &o);
    return;
  }
  if (path_is(r, "/v1/reset") && method_is(r, "POST")) {
    lab_reset(lab, r);
    return;
  }
  if (path_is(r, "/v1/resolve") && method_is(r, "GET")) {
    char workload[256] = "";
    server_query_get(r->query, "workload", workload, sizeof workload);
    lab_resolve(lab, ns, workload, &o);
    respond_console(r, &o);
    return;
  }
  if (path_is(r, "/v1/shutdown") && method_is(r, "POST")) {
    respond_text(r, 200, "stopping\n");
    lab_event(lab, "shutdown asked through the API");
    lab_stop(lab);
    return;
  }
  respond_text(r, 404,
               "unknown lab API path; see docs/lab.md (/v1/status, /v1/xds, /v1/apply, /v1/get, /v1/delete, "
               "/v1/analyze, /v1/export, /v1/proxy-status, /v1/ready, /v1/shutdown, /v1/chaos, /v1/kill, /v1/restart, "
               "/v1/scale, /v1/reset, /v1/resolve, /v1/report, /v1/metrics, /v1/requests, /v1/clusters, /v1/why/ID)\n");
}
