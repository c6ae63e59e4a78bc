/* The lab process: lifecycle, config push and readiness. See lab.h for the whole picture; what
 * each replica runs, its identity and the sync with the registry are lab_replica.c's.
 *
 * A replica is two children of the lab (supervisor.c restarts them with backoff, kubelet
 * style): the app, which listens on a unix socket in the replica's folder where only its
 * sidecar reaches it, and the sidecar, which owns the pod address (127.1.0.N) and takes its
 * config from the lab's long poll (lab_api.c). Readiness follows Kubernetes' pod readiness
 * plus Istio's sync state: an app is running once its socket exists, a sidecar is serving
 * once it acknowledged the config version the lab holds for it.
 */
#include "mesh/lab.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh/ca.h"
#include "mesh/labdir.h"

#define GATEWAY_NAME "istio-ingressgateway"
#define GATEWAY_NS "istio-system"
/* Children get this long to exit after SIGTERM before SIGKILL (sidecars drain in-flight
 * requests; the CLI's `down` waits longer than this). */
#define LAB_STOP_GRACE_MS 3000
/* Events that arrive together (a scale, a burst of exits) cost one recompile. */
#define LAB_PUSH_DEBOUNCE_MS 5
#define LAB_PROBE_MS 10

void lab_event(struct lab *lab, const char *fmt, ...) {
  double t = (double)(uv_hrtime() - lab->opt.t0_ns) / 1e9;
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap); /* a longer line is cut: these are one-liners */
  va_end(ap);
  printf("[%8.3f] %s\n", t, line);
  fflush(stdout);
  /* The journal gets every line too; the events tools key on also get a typed line of
   * their own (config_*, replica_*, process_*, apply, delete, rate). */
  if (lab->journal) {
    struct buf q = {0};
    lab_journal(lab, "log", "\"message\":%s", lab_json_quote(&q, line));
    buf_free(&q);
  }
}

void lab_output_free(struct lab_output *o) {
  buf_free(&o->out);
  buf_free(&o->err);
}

/* ---- config push ------------------------------------------------------------------------------ */

static int compile_replica(struct lab *lab, const struct compile_input *in, struct lab_replica *rep,
                           struct proxy_config **cfg, struct diag_list *diags) {
  struct compile_state st = {0};
  (void)lab;
  if (rep->gateway) {
    /* The labels of Istio's ingress gateway pods: what Gateway selectors name. */
    struct resource_map_entry labels[2] = {{"istio", "ingressgateway"}, {"app", GATEWAY_NAME}};
    struct resource_map map = {labels, 2};
    return compile_gateway(&st, in, rep->ns, rep->workload, &map, cfg, diags);
  }
  /* app_address is per replica: each app listens on the socket in its own folder. */
  char app[4300];
  snprintf(app, sizeof app, "unix:%s/app.sock", rep->dir);
  return compile_sidecar(&st, in, rep->ns, rep->workload, app, cfg, diags);
}

/* Recompiles every present proxy's config. Those whose content changed share the next push
 * version (one version per change, as istiod's push version), the others keep theirs, so an
 * unrelated change does not make every sidecar swap its config. */
static void push(struct lab *lab) {
  size_t n;
  struct resource **items = lab_store_items(lab, &n);
  struct compile_input in = {items, n, lab->reg, NULL, lab->opt.outbound_policy};
  size_t count = 0;
  for (struct lab_replica *r = lab->replicas; r; r = r->next) count++;
  struct proxy_config **changed = calloc(count ? count : 1, sizeof *changed);
  char **keys = calloc(count ? count : 1, sizeof *keys);
  struct diag_list diags;
  diag_list_init(&diags);
  size_t i = 0, nchanged = 0;
  for (struct lab_replica *r = lab->replicas; r && changed && keys; r = r->next, i++) {
    if (!r->present) continue;
    struct proxy_config *cfg = NULL;
    int rc = compile_replica(lab, &in, r, &cfg, &diags);
    if (rc != 0) {
      lab_event(lab, "compile %s/%s: %s", r->ns, r->name, strerror(-rc));
      continue;
    }
    cfg->version = 0;
    char *key = NULL;
    if (compile_to_json(cfg, 0, &key) != 0 || (r->config_key && strcmp(key, r->config_key) == 0)) {
      free(key);
      proxy_config_free(cfg);
      continue;
    }
    changed[i] = cfg;
    keys[i] = key;
    nchanged++;
  }
  if (nchanged) {
    uint64_t version = ++lab->push_version;
    i = 0;
    for (struct lab_replica *r = lab->replicas; r; r = r->next, i++) {
      if (!changed[i]) continue;
      changed[i]->version = version;
      char *json = NULL;
      if (compile_to_json(changed[i], 0, &json) == 0) {
        free(r->config_json);
        free(r->config_key);
        r->config_json = json;
        r->config_key = keys[i];
        keys[i] = NULL;
        r->config_version = version;
      }
      proxy_config_free(changed[i]);
      free(keys[i]);
    }
    lab_event(lab, "config version %llu for %zu prox%s", (unsigned long long)version, nchanged,
              nchanged == 1 ? "y" : "ies");
    lab_journal(lab, "config_pushed", "\"version\":%llu,\"proxies\":%zu", (unsigned long long)version, nchanged);
    for (size_t d = 0; d < diags.len; d++) {
      char line[1024];
      diag_format(&diags.items[d], line, sizeof line);
      lab_event(lab, "compile: %s", line);
    }
  }
  diag_list_free(&diags);
  free(changed);
  free(keys);
  free(items);
  lab_xds_wake(lab);
}

static void on_push_timer(uv_timer_t *t) { push(t->data); }

static void schedule_push(struct lab *lab) {
  if (!lab->closing) uv_timer_start(&lab->push_timer, on_push_timer, LAB_PUSH_DEBOUNCE_MS, 0);
}

static void check_ready(struct lab *lab);

int lab_store_changed(struct lab *lab) {
  size_t n;
  struct resource **items = lab_store_items(lab, &n);
  int rc = registry_sync(lab->reg, items, n);
  free(items);
  if (rc != 0) return rc;
  if (lab->blocks) {
    rc = registry_assign_port_blocks(lab->reg, LAB_BLOCK_ADDRESS, lab_next_block, lab);
    if (rc == -EADDRINUSE) lab_event(lab, "warning: no free port block left; new replicas wait for one");
    if (rc < 0 && rc != -EADDRINUSE) return rc;
    rc = lab_replicas_sync(lab);
    push(lab);
    check_ready(lab);
    return rc;
  }
  char first[INET_ADDRSTRLEN];
  lab_addr_text(lab->addr_next, first, sizeof first);
  rc = registry_assign_addresses(lab->reg, first);
  if (rc < 0) return rc;
  /* Addresses are never reused while the lab runs: a stopped sidecar may still hold one. */
  size_t nw;
  const struct registry_workload *ws = registry_workloads(lab->reg, &nw);
  for (size_t i = 0; i < nw; i++)
    for (size_t k = 0; k < ws[i].replicas_len; k++) {
      uint32_t a = lab_addr_value(ws[i].replicas[k].address);
      if (a >= lab->addr_next) lab->addr_next = a + 1;
      if (a > lab->addr_last)
        lab_event(lab, "warning: %s is outside --addresses %s", ws[i].replicas[k].address, lab->opt.addresses);
    }
  rc = lab_replicas_sync(lab);
  push(lab);
  check_ready(lab);
  return rc;
}

/* ---- states and readiness --------------------------------------------------------------------- */

static bool proc_up(const struct proc *p) { return p && (p->state == PROC_STARTING || p->state == PROC_RUNNING); }

const char *lab_app_state(const struct lab_replica *rep) {
  if (!rep->app_kind || !rep->app) return "none";
  return proc_state_name(rep->app->state);
}

const char *lab_sidecar_state(const struct lab_replica *rep) {
  const struct proc *p = rep->sidecar;
  if (!p) return "stopped";
  switch (p->state) {
  case PROC_STARTING:
  case PROC_RUNNING:
    if (rep->config_version && rep->acked_version == rep->config_version) return "serving";
    if (rep->acked_version) return "stale";
    return "starting";
  case PROC_BACKOFF:
    return "backoff";
  case PROC_STOPPED:
    return "stopped";
  case PROC_FAILED:
    return "failed";
  }
  return "unknown";
}

/* The last lines of a log, indented, into out. */
static void log_tail(struct buf *out, const char *dir, const char *file, int lines) {
  char path[4300];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "r");
  if (!f) return;
  char text[4096];
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  long start = size > (long)sizeof text - 1 ? size - (long)sizeof text + 1 : 0;
  fseek(f, start, SEEK_SET);
  size_t len = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[len] = '\0';
  while (len && text[len - 1] == '\n') text[--len] = '\0';
  const char *p = text + len;
  int seen = 0;
  while (p > text && seen < lines)
    if (*--p == '\n') seen++;
  if (*p == '\n') p++;
  if (!*p) return;
  buf_appendf(out, "    last lines of %s:\n", path);
  for (const char *s = p; *s;) {
    const char *e = strchr(s, '\n');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    buf_appendf(out, "      %.*s\n", (int)n, s);
    s += n + (e ? 1 : 0);
  }
}

bool lab_is_ready(struct lab *lab, struct buf *why) {
  bool ready = true;
  for (struct lab_replica *r = lab->replicas; r; r = r->next) {
    if (!r->present) continue;
    bool app_ok = !r->app_kind || (r->app && r->app->state == PROC_RUNNING);
    bool sc_ok = proc_up(r->sidecar) && r->config_version && r->acked_version == r->config_version;
    if (app_ok && sc_ok) continue;
    ready = false;
    if (!why) return false;
    buf_appendf(why, "  %s/%s: app %s, sidecar %s (config version %llu, acknowledged %llu)%s%s\n", r->ns, r->name,
                lab_app_state(r), lab_sidecar_state(r), (unsigned long long)r->config_version,
                (unsigned long long)r->acked_version, r->nack[0] ? "; rejected: " : "", r->nack);
    if (!app_ok && r->app) log_tail(why, r->dir, "app.log", 5);
    if (!sc_ok) log_tail(why, r->dir, "sidecar.log", 5);
  }
  return ready;
}

static void check_ready(struct lab *lab) {
  if (lab->ready || lab->closing || !lab_is_ready(lab, NULL)) return;
  lab->ready = true;
  size_t n = 0;
  for (struct lab_replica *r = lab->replicas; r; r = r->next) n += r->present;
  double ms = (double)(uv_hrtime() - lab->opt.t0_ns) / 1e6;
  lab_event(lab, "lab ready in %.0f ms: %zu replicas, every sidecar synced (config version %llu)", ms, n,
            (unsigned long long)lab->push_version);
  char text[64];
  snprintf(text, sizeof text, "%.0f\n", ms);
  labdir_write(lab->opt.dir, "ready_ms", text);
}

void lab_replica_acked(struct lab_replica *rep) {
  if (rep->sidecar && rep->acked_version == rep->config_version) supervisor_ready(rep->sidecar);
  check_ready(rep->lab);
}

/* Tells the registry whether a replica can take traffic: its app (when it has one) and its
 * sidecar are up. A change is pushed, so callers stop sending to a crashed replica the way
 * Kubernetes removes a not-ready pod from the Service's endpoints. */
static void update_health(struct lab *lab, struct lab_replica *rep) {
  if (!rep->present || rep->gateway) return;
  bool healthy = (!rep->app_kind || proc_up(rep->app)) && proc_up(rep->sidecar);
  if (healthy == rep->healthy) return;
  rep->healthy = healthy;
  registry_set_health(lab->reg, rep->ns, rep->name, healthy);
  schedule_push(lab);
}

static void on_proc_event(struct proc *p, void *data) {
  struct lab *lab = data;
  struct lab_replica *rep = p->data;
  if (!rep) return;
  bool is_app = p == rep->app;
  static const char *const journal_names[] = {[PROC_STARTING] = "process_starting",
                                              [PROC_RUNNING] = "process_running",
                                              [PROC_BACKOFF] = "process_exited",
                                              [PROC_STOPPED] = "process_stopped",
                                              [PROC_FAILED] = "process_failed"};
  const char *jname = p->state == PROC_STARTING && p->restarts ? "process_restarted" : journal_names[p->state];
  lab_journal(lab, jname, "\"replica\":\"%s/%s\",\"container\":\"%s\",\"restarts\":%u,\"last_exit\":%lld", rep->ns,
              rep->name, is_app ? "app" : "sidecar", p->restarts, (long long)p->last_exit);
  switch (p->state) {
  case PROC_STARTING:
    if (p->restarts) lab_event(lab, "%s restarted (restart %u)", p->name, p->restarts);
    if (is_app) lab_probe_start(lab);
    /* A restarted sidecar has no config until it polls again. */
    if (!is_app) rep->acked_version = 0;
    break;
  case PROC_RUNNING:
    lab_event(lab, "%s %s", p->name, is_app ? "running" : "serving");
    break;
  case PROC_BACKOFF:
    lab_event(lab, "%s exited (%s %lld); restarting with backoff", p->name, p->last_exit < 0 ? "signal" : "code",
              (long long)(p->last_exit < 0 ? -p->last_exit : p->last_exit));
    if (is_app) lab_replica_unlink_sockets(rep);
    if (!is_app) rep->acked_version = 0;
    break;
  case PROC_STOPPED:
    if (is_app) lab_replica_unlink_sockets(rep);
    if (!is_app) rep->acked_version = 0;
    break;
  case PROC_FAILED:
    lab_event(lab, "%s could not be started", p->name);
    break;
  }
  if (!lab->closing) update_health(lab, rep);
}

/* Apps say nothing to the lab when ready; their unix socket appearing is the signal (the lab
 * removes it before every start, the app binds it once listening). */
static void on_probe(uv_timer_t *t) {
  struct lab *lab = t->data;
  bool waiting = false;
  for (struct lab_replica *r = lab->replicas; r; r = r->next) {
    if (!r->app || r->app->state != PROC_STARTING) continue;
    char path[4300];
    struct stat st;
    snprintf(path, sizeof path, "%s/app.sock", r->dir);
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) supervisor_ready(r->app);
    else waiting = true;
  }
  if (!waiting) uv_timer_stop(t);
  check_ready(lab);
}

void lab_probe_start(struct lab *lab) {
  if (!lab->closing && !uv_is_active((uv_handle_t *)&lab->probe_timer))
    uv_timer_start(&lab->probe_timer, on_probe, LAB_PROBE_MS, LAB_PROBE_MS);
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

static void on_signal(uv_signal_t *s, int signum) {
  struct lab *lab = s->data;
  lab_event(lab, "%s: stopping the lab", signum == SIGINT ? "SIGINT" : "SIGTERM");
  lab_stop(lab);
}

static void on_sup_closed(struct supervisor *s) {
  struct lab *lab = s->data;
  lab_event(lab, "every process of the lab has exited");
}

void lab_stop(struct lab *lab) {
  if (lab->closing) return;
  lab->closing = true;
  lab_xds_close_all(lab);
  uv_close((uv_handle_t *)&lab->sigint, NULL);
  uv_close((uv_handle_t *)&lab->sigterm, NULL);
  uv_close((uv_handle_t *)&lab->push_timer, NULL);
  uv_close((uv_handle_t *)&lab->probe_timer, NULL);
  uv_close((uv_handle_t *)&lab->cert_timer, NULL);
  lab_telemetry_stop(lab);
  supervisor_shutdown(&lab->sup, LAB_STOP_GRACE_MS, on_sup_closed);
  if (lab->api_open) server_close(&lab->api, NULL);
}

static int start(struct lab *lab, struct resource_list *initial, char *err, size_t errlen) {
  const char *dir = lab->opt.dir;
  char path[4200];
  uint32_t first;
  if (lab_parse_cidr(lab->opt.addresses, &first, &lab->addr_last) != 0) {
    snprintf(err, errlen, "--addresses \"%s\" is not an IPv4 CIDR such as 127.1.0.0/16 (prefix 8 to 30)",
             lab->opt.addresses);
    return -EINVAL;
  }
  lab->addr_next = first;
  lab->blocks = lab->opt.port_blocks == LAB_PORT_BLOCKS_ON;
  if (!lab->blocks && !lab_pod_addresses_bindable(first)) {
    char text[INET_ADDRSTRLEN];
    lab_addr_text(first, text, sizeof text);
    lab->blocks = true;
    lab_event(lab,
              "notice: pod address %s cannot be bound here (EADDRNOTAVAIL): using port blocks on %s "
              "(docs/lab.md, \"Port blocks\")",
              text, LAB_BLOCK_ADDRESS);
  }
  if (lab->blocks) lab_blocks_begin(lab);
  snprintf(path, sizeof path, "%s/replicas", dir);
  if (labdir_make(dir) != 0 || labdir_make(path) != 0) {
    snprintf(err, errlen, "cannot create the state folder %s: %s", dir, strerror(errno));
    return -EIO;
  }
  /* The root CA: made on the first start, kept in the folder after (ca.h). */
  char caerr[512];
  int carc = ca_load_or_create(dir, time(NULL), &lab->ca, caerr, sizeof caerr);
  if (carc != 0) {
    snprintf(err, errlen, "%s", caerr);
    return carc;
  }
  lab_identity_start(lab);
  if (lab_telemetry_start(lab) != 0)
    fprintf(stderr, "meshlab up: cannot open %s/journal: %s (no journal)\n", dir, strerror(errno));
  char pid[32];
  snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  labdir_write(dir, "pid", pid);
  /* The API first: sidecars need its address. */
  struct conn_addr a;
  conn_addr_parse(&a, "127.0.0.1:0");
  int rc = server_listen(&lab->api, &lab->env, &a, lab_api_handle, lab);
  lab->api_open = true; /* even on failure, the listener's handle exists and must be closed */
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the lab API on 127.0.0.1: %s", uv_strerror(rc));
    return rc;
  }
  snprintf(lab->api_address, sizeof lab->api_address, "%s", lab->api.address);
  char text[192];
  snprintf(text, sizeof text, "%s\n", lab->api_address);
  labdir_write(dir, "api", text);
  if (lab_resolve_port(lab->loop, lab->opt.ingress, lab->ingress, sizeof lab->ingress) != 0 ||
      lab_resolve_port(lab->loop, lab->opt.ingress_tls, lab->ingress_tls, sizeof lab->ingress_tls) != 0) {
    snprintf(err, errlen, "--ingress %s / --ingress-tls %s: not a usable HOST:PORT", lab->opt.ingress,
             lab->opt.ingress_tls);
    return -EINVAL;
  }
  snprintf(text, sizeof text, "%s\n", lab->ingress);
  labdir_write(dir, "ingress", text);
  /* The store takes the initial objects; their keys (and Deployments' replica counts) are
   * kept for POST /v1/reset. */
  lab->initial = calloc(initial->len ? initial->len : 1, sizeof *lab->initial);
  if (!lab->initial) return -ENOMEM;
  for (size_t i = 0; i < initial->len; i++) {
    const struct resource *r = initial->items[i];
    struct lab_initial *in = &lab->initial[lab->initial_len];
    in->kind = r->kind;
    in->ns = strdup(r->meta.ns);
    in->name = strdup(r->meta.name);
    if (!in->ns || !in->name) {
      free(in->ns);
      free(in->name);
      return -ENOMEM;
    }
    in->replicas = r->kind == RESOURCE_DEPLOYMENT ? r->spec.deployment.replicas.value : 0;
    lab->initial_len++;
  }
  for (size_t i = 0; i < initial->len; i++) {
    if (lab->objects_len == lab->objects_cap) {
      size_t cap = lab->objects_cap ? lab->objects_cap * 2 : 64;
      struct lab_object *o = realloc(lab->objects, cap * sizeof *o);
      if (!o) return -ENOMEM;
      lab->objects = o;
      lab->objects_cap = cap;
    }
    lab->objects[lab->objects_len++] = (struct lab_object){initial->items[i], (int64_t)time(NULL)};
    initial->items[i] = NULL;
  }
  initial->len = 0;
  if (lab->blocks) {
    lab_event(lab, "lab API on %s, state in %s, replicas on %s in port blocks of %d", lab->api_address, dir,
              LAB_BLOCK_ADDRESS, REGISTRY_BLOCK_SIZE);
    /* `up --detach` prints this as its notice; `status` shows the blocks. */
    snprintf(text, sizeof text, "%s\n", LAB_BLOCK_ADDRESS);
    labdir_write(dir, "port_blocks", text);
  } else {
    lab_event(lab, "lab API on %s, state in %s, pod addresses from %s", lab->api_address, dir, lab->opt.addresses);
  }
  /* Deployments first (their addresses come first), then the gateway on the next address. */
  size_t n;
  struct resource **items = lab_store_items(lab, &n);
  rc = registry_sync(lab->reg, items, n);
  free(items);
  if (rc == 0 && lab->blocks) {
    rc = registry_assign_port_blocks(lab->reg, LAB_BLOCK_ADDRESS, lab_next_block, lab);
  } else if (rc == 0) {
    char firsttext[INET_ADDRSTRLEN];
    lab_addr_text(first, firsttext, sizeof firsttext);
    rc = registry_assign_addresses(lab->reg, firsttext);
  }
  if (rc < 0) {
    snprintf(err, errlen, "cannot build the registry: %s", strerror(-rc));
    return rc;
  }
  size_t nw;
  const struct registry_workload *ws = registry_workloads(lab->reg, &nw);
  for (size_t i = 0; i < nw; i++)
    for (size_t k = 0; k < ws[i].replicas_len; k++) {
      uint32_t v = lab_addr_value(ws[i].replicas[k].address);
      if (v >= lab->addr_next) lab->addr_next = v + 1;
    }
  char gwaddr[INET_ADDRSTRLEN] = LAB_BLOCK_ADDRESS;
  uint32_t gwblock = lab->blocks ? lab_next_block(lab) : 0;
  if (lab->blocks && !gwblock) {
    snprintf(err, errlen, "no free port block for the ingress gateway");
    return -EADDRINUSE;
  }
  if (!lab->blocks) lab_addr_text(lab->addr_next++, gwaddr, sizeof gwaddr);
  struct lab_replica *gw = lab_replica_new(lab, GATEWAY_NS, GATEWAY_NAME "-0", GATEWAY_NAME, gwaddr);
  if (!gw) return -ENOMEM;
  gw->port_base = gwblock;
  gw->gateway = true;
  gw->present = true;
  lab_replica_write_files(gw);
  char gwwhere[96];
  lab_replica_where(gw, gwwhere, sizeof gwwhere);
  lab_event(lab, "ingress gateway %s/%s at %s: port 80 on %s, 443 on %s", gw->ns, gw->name, gwwhere, lab->ingress,
            lab->ingress_tls);
  rc = lab_store_changed(lab);
  if (rc == 0) rc = lab_replica_run(lab, gw);
  if (rc != 0) snprintf(err, errlen, "cannot start the replicas: %s", strerror(-rc));
  return rc;
}

int lab_run(const struct lab_options *opt, struct resource_list *initial) {
  struct lab *lab = calloc(1, sizeof *lab);
  uv_loop_t *loop = calloc(1, sizeof *loop);
  if (!lab || !loop) {
    free(lab);
    free(loop);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(loop);
  lab->loop = loop;
  lab->opt = *opt;
  conn_env_init(&lab->env, loop, 64 * 1024);
  supervisor_init(&lab->sup, loop, on_proc_event, lab);
  uv_signal_init(loop, &lab->sigint);
  uv_signal_init(loop, &lab->sigterm);
  lab->sigint.data = lab->sigterm.data = lab;
  uv_signal_start(&lab->sigint, on_signal, SIGINT);
  uv_signal_start(&lab->sigterm, on_signal, SIGTERM);
  uv_timer_init(loop, &lab->push_timer);
  uv_timer_init(loop, &lab->probe_timer);
  uv_timer_init(loop, &lab->cert_timer);
  lab->push_timer.data = lab->probe_timer.data = lab->cert_timer.data = lab;
  lab->reg = registry_new();
  char err[512] = "";
  int rc = lab->reg ? start(lab, initial, err, sizeof err) : -ENOMEM;
  if (rc != 0) {
    fprintf(stderr, "meshlab up: %s\n", err[0] ? err : strerror(-rc));
    lab->exit_code = 1;
    lab_stop(lab);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  int closed = uv_loop_close(loop);
  if (closed != 0) {
    fprintf(stderr, "meshlab up: event loop closed with handles open (%s)\n", uv_strerror(closed));
    if (!lab->exit_code) lab->exit_code = 1;
  }
  /* The folder says no lab runs here any more. */
  char path[4200];
  static const char *const files[] = {"api", "ingress", "pid", "port_blocks"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", opt->dir, files[i]);
    unlink(path);
  }
  int code = lab->exit_code;
  supervisor_free(&lab->sup);
  lab_telemetry_free(lab);
  struct lab_replica *r = lab->replicas;
  while (r) {
    struct lab_replica *next = r->next;
    free(r->name), free(r->ns), free(r->workload), free(r->address), free(r->dir), free(r->app_kind);
    free(r->config_json), free(r->config_key);
    free(r);
    r = next;
  }
  for (size_t i = 0; i < lab->objects_len; i++) resource_free(lab->objects[i].r);
  free(lab->objects);
  for (size_t i = 0; i < lab->initial_len; i++) {
    free(lab->initial[i].ns);
    free(lab->initial[i].name);
  }
  free(lab->initial);
  registry_free(lab->reg);
  ca_free(lab->ca);
  conn_env_free(&lab->env);
  free(lab);
  free(loop);
  return code;
}
