/* lab_replica: what the lab runs for each replica, kubelet style. The app a Deployment's image
 * stands for, the argv of the app and of the sidecar, the workload certificate issued before the
 * sidecar starts and renewed at half its lifetime (identity), the two processes registered with
 * the supervisor, and the sync that makes the lab's replicas match the registry after a store
 * change. lab.c holds the lifecycle, the config push and readiness (it calls in here from
 * lab_store_changed and start); lab_addr.c says where replicas listen.
 */
#include "mesh/lab.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mesh/ca.h"
#include "mesh/labdir.h"

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* ---- replicas -------------------------------------------------------------------------------- */

struct lab_replica *lab_replica_find(struct lab *lab, const char *ns, const char *name) {
  for (struct lab_replica *r = lab->replicas; r; r = r->next)
    if (strcmp(r->ns, ns) == 0 && strcmp(r->name, name) == 0) return r;
  return NULL;
}

/* The built-in app an image maps to (../shared/CLI.md, issue 3): Istio's Bookinfo images,
 * httpbin, and the lab's own `meshlab/<kind>`; fortio, curl and sleep are clients that run no
 * app (their replicas are sidecars that `meshlab exec` and `meshlab load --from` go through).
 * Sets *known to false for an image the lab does not know (it then runs no app either). */
static const char *image_app(const char *image, bool *known, char *buf, size_t n) {
  static const struct {
    const char *needle, *kind;
  } map[] = {
      {"bookinfo-productpage", "productpage"},
      {"bookinfo-details", "details"},
      {"bookinfo-reviews", "reviews"},
      {"bookinfo-ratings", "ratings"},
      {"httpbin", "httpbin"},
      {"fortio", NULL},
      {"curl", NULL},
      {"sleep", NULL},
  };
  *known = true;
  const char *own = strstr(image, "meshlab/");
  if (own) {
    snprintf(buf, n, "%s", own + 8);
    buf[strcspn(buf, ":@")] = '\0';
    return buf;
  }
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strstr(image, map[i].needle)) return map[i].kind;
  *known = false;
  return NULL;
}

static const struct resource *find_object(const struct lab *lab, enum resource_kind kind, const char *ns,
                                          const char *name) {
  long i = lab_store_find(lab, kind, ns, name);
  return i < 0 ? NULL : lab->objects[i].r;
}

/* The app of a workload: the first container whose image the lab runs. */
static const char *workload_app(struct lab *lab, const char *ns, const char *workload, char *buf, size_t n) {
  const struct resource *d = find_object(lab, RESOURCE_DEPLOYMENT, ns, workload);
  if (!d) return NULL;
  for (size_t i = 0; i < d->spec.deployment.containers_len; i++) {
    const char *image = d->spec.deployment.containers[i].image;
    bool known;
    const char *kind = image ? image_app(image, &known, buf, n) : NULL;
    if (kind) return kind;
    if (image && !known)
      lab_event(lab, "%s/%s: image %s is not one the lab runs; the replica gets a sidecar and no app", ns, workload,
                image);
  }
  return NULL;
}

static void proc_set_argv(struct proc *p, char **argv) {
  for (char **a = p->argv; a && *a; a++) free(*a);
  free(p->argv);
  size_t n = 0;
  while (argv[n]) n++;
  p->argv = calloc(n + 1, sizeof *p->argv);
  for (size_t i = 0; p->argv && i < n; i++) p->argv[i] = strdup(argv[i]);
}

static bool argv_equal(char **a, char **b) {
  size_t i = 0;
  for (; a && b && a[i] && b[i]; i++)
    if (strcmp(a[i], b[i]) != 0) return false;
  return a && b && !a[i] && !b[i];
}

/* Builds the argv of a replica's processes into storage (strings in `text`). */
struct argv_builder {
  char *argv[40];
  char text[8192];
  size_t n, used;
};

static void arg(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct argv_builder *b, const char *fmt, ...) {
  if (b->n + 1 >= sizeof b->argv / sizeof b->argv[0] || b->used >= sizeof b->text) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(b->text + b->used, sizeof b->text - b->used, fmt, ap);
  va_end(ap);
  if (w < 0 || (size_t)w >= sizeof b->text - b->used) return;
  b->argv[b->n++] = b->text + b->used;
  b->argv[b->n] = NULL;
  b->used += (size_t)w + 1;
}

static void app_argv(struct lab *lab, struct lab_replica *rep, const char *version, struct argv_builder *b) {
  arg(b, "%s", lab->opt.self_exe);
  arg(b, "app");
  arg(b, "%s", rep->app_kind);
  arg(b, "--listen");
  arg(b, "unix:%s/app.sock", rep->dir);
  arg(b, "--control");
  arg(b, "unix:%s/control.sock", rep->dir);
  arg(b, "--proxy");
  arg(b, "%s:%u", rep->address, lab_replica_port(rep, REGISTRY_BLOCK_OUTBOUND, 15001));
  arg(b, "--version");
  arg(b, "%s", version);
  arg(b, "--name");
  arg(b, "%s", rep->name);
  arg(b, "--namespace");
  arg(b, "%s", rep->ns);
  if (lab->opt.seeded) {
    arg(b, "--seed");
    arg(b, "%llu", (unsigned long long)lab->opt.seed);
  }
}

/* ---- identity ------------------------------------------------------------------------------ */

/* Istio's default workload certificate lifetime (istiod's DEFAULT_WORKLOAD_CERT_TTL: 24 h). */
#define LAB_CERT_TTL_DEFAULT_S (24 * 3600)
/* How often the renewal sweep looks (cheap: one comparison per replica). */
#define LAB_CERT_SWEEP_MS 500

static uint32_t cert_ttl(const struct lab *lab) {
  return lab->opt.cert_ttl_s ? lab->opt.cert_ttl_s : LAB_CERT_TTL_DEFAULT_S;
}

/* Issues rep a certificate for its service account's SPIFFE ID and writes it, with its key, to
 * <replica>/identity.pem, where its sidecar watches for it (docs/security.md, "Identity"). It is
 * re-issued at half its lifetime, as Istio's agent rotates (SECRET_GRACE_PERIOD_RATIO 0.5): the
 * sidecar picks the new pair up for new connections while open ones carry on. */
static int replica_issue(struct lab *lab, struct lab_replica *rep) {
  if (!lab->ca) return 0;
  const char *sa = "default";
  if (rep->gateway) {
    sa = "istio-ingressgateway-service-account";
  } else {
    const struct registry_workload *w = registry_workload_find(lab->reg, rep->ns, rep->workload);
    if (w && w->service_account) sa = w->service_account;
  }
  char id[256], path[4200];
  ca_spiffe_id(id, sizeof id, NULL, rep->ns, sa);
  time_t now = time(NULL);
  uint32_t ttl = cert_ttl(lab);
  struct ca_issued is;
  int rc = ca_issue(lab->ca, id, ttl, now, &is);
  if (rc == 0) {
    snprintf(path, sizeof path, "%s/identity.pem", rep->dir);
    rc = ca_issued_write(&is, path);
  }
  if (rc == 0) {
    rep->cert_renew_at = (int64_t)now + (ttl / 2 ? ttl / 2 : 1);
    snprintf(rep->cert_serial, sizeof rep->cert_serial, "%s", is.serial);
  } else {
    rep->cert_renew_at = (int64_t)now + 1; /* try again at the next sweep */
    lab_event(lab, "warning: %s/%s: cannot issue its certificate (%s)", rep->ns, rep->name, strerror(-rc));
  }
  ca_issued_free(&is);
  return rc;
}

static void on_cert_timer(uv_timer_t *t) {
  struct lab *lab = t->data;
  int64_t now = (int64_t)time(NULL);
  for (struct lab_replica *r = lab->replicas; r; r = r->next)
    if (r->present && r->cert_renew_at && now >= r->cert_renew_at) replica_issue(lab, r);
}

void lab_identity_start(struct lab *lab) {
  uv_timer_start(&lab->cert_timer, on_cert_timer, LAB_CERT_SWEEP_MS, LAB_CERT_SWEEP_MS);
}

static void sidecar_argv(struct lab *lab, struct lab_replica *rep, struct argv_builder *b) {
  arg(b, "%s", lab->opt.self_exe);
  arg(b, "sidecar");
  arg(b, "--xds");
  arg(b, "%s", lab->api_address);
  arg(b, "--node");
  arg(b, "%s/%s", rep->ns, rep->name);
  arg(b, "--address");
  arg(b, "%s", rep->address);
  arg(b, "--admin");
  arg(b, "%s:%u", rep->address, lab_replica_port(rep, REGISTRY_BLOCK_ADMIN, 15000));
  arg(b, "--outbound");
  arg(b, "%s:%u", rep->address, lab_replica_port(rep, REGISTRY_BLOCK_OUTBOUND, 15001));
  /* In a port block the workload's ports are served at their slots (registry_port_slots);
   * a Service adding a port changes these arguments, and the sidecar restarts with them. */
  const struct registry_workload *w =
      rep->port_base && !rep->gateway ? registry_workload_find(lab->reg, rep->ns, rep->workload) : NULL;
  uint32_t slots[REGISTRY_BLOCK_SIZE - REGISTRY_BLOCK_PORTS];
  size_t nslots = w ? registry_port_slots(lab->reg, w, slots, sizeof slots / sizeof slots[0]) : 0;
  if (nslots > sizeof slots / sizeof slots[0]) {
    lab_event(lab, "warning: %s/%s listens on %zu ports; a port block holds %zu: the others are not served", rep->ns,
              rep->name, nslots, sizeof slots / sizeof slots[0]);
    nslots = sizeof slots / sizeof slots[0];
  }
  for (size_t i = 0; i < nslots; i++) {
    arg(b, "--inbound-port");
    arg(b, "%u=%s:%u", slots[i], rep->address, rep->port_base + REGISTRY_BLOCK_PORTS + (uint32_t)i);
  }
  if (lab->ca) {
    arg(b, "--cert");
    arg(b, "%s/identity.pem", rep->dir);
    arg(b, "--ca");
    arg(b, "%s/ca-cert.pem", lab->opt.dir);
  }
  arg(b, "--access-log");
  arg(b, "%s/access.log", rep->dir);
  arg(b, "--access-log-format");
  arg(b, "istio");
  if (rep->gateway) {
    arg(b, "--gateway-port");
    arg(b, "80=%s", lab->ingress);
    arg(b, "--gateway-port");
    arg(b, "443=%s", lab->ingress_tls);
  }
}

/* ---- processes, and matching the registry ----------------------------------------------------- */

void lab_replica_unlink_sockets(struct lab_replica *rep) {
  char path[4200];
  snprintf(path, sizeof path, "%s/app.sock", rep->dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/control.sock", rep->dir);
  unlink(path);
}

/* Registers the replica's process for `role` ("sidecar", "app", logging to <rdir>/ROLE.log) with
 * argv, or, when it exists with other arguments, gives it the new ones and restarts it. */
static int replica_proc(struct lab *lab, struct lab_replica *rep, struct proc **slot, const char *role, char **argv) {
  if (!*slot) {
    char pname[96], logp[4200];
    snprintf(pname, sizeof pname, "%s/%s", rep->name, role);
    snprintf(logp, sizeof logp, "%s/%s.log", rep->dir, role);
    *slot = supervisor_add(&lab->sup, pname, argv, logp);
    if (!*slot) return -ENOMEM;
    (*slot)->data = rep;
  } else if (!argv_equal((*slot)->argv, argv)) {
    proc_set_argv(*slot, argv);
    supervisor_signal(*slot, SIGTERM); /* restarts with the new arguments */
  }
  return 0;
}

/* Starts (or restarts with new arguments) what a present replica should run. */
int lab_replica_run(struct lab *lab, struct lab_replica *rep) {
  if (!rep->cert_renew_at) replica_issue(lab, rep); /* before its sidecar starts */
  struct argv_builder b = {0};
  sidecar_argv(lab, rep, &b);
  if (replica_proc(lab, rep, &rep->sidecar, "sidecar", b.argv) != 0) return -ENOMEM;
  if (rep->app_kind) {
    char version[64] = "v1";
    const struct registry_workload *w = registry_workload_find(lab->reg, rep->ns, rep->workload);
    const char *v = w ? resource_map_get(&w->labels, "version") : NULL;
    if (v) snprintf(version, sizeof version, "%s", v);
    struct argv_builder ab = {0};
    app_argv(lab, rep, version, &ab);
    if (replica_proc(lab, rep, &rep->app, "app", ab.argv) != 0) return -ENOMEM;
    if (!rep->app->want_running) {
      lab_replica_unlink_sockets(rep);
      supervisor_start(rep->app);
      lab_probe_start(lab);
    }
  } else if (rep->app && rep->app->want_running) {
    supervisor_stop(rep->app);
  }
  if (!rep->sidecar->want_running) supervisor_start(rep->sidecar);
  return 0;
}

struct lab_replica *lab_replica_new(struct lab *lab, const char *ns, const char *name, const char *workload,
                                    const char *address) {
  struct lab_replica *rep = calloc(1, sizeof *rep);
  if (!rep) return NULL;
  char rel[1024], dir[4200];
  if (labdir_replica_rel(rel, sizeof rel, ns, name) != 0) {
    free(rep);
    return NULL;
  }
  snprintf(dir, sizeof dir, "%s/%s", lab->opt.dir, rel);
  /* Only a Deployment name with dots could make "<replica>.<ns>" meet a default-namespace
   * replica's folder; refuse rather than mix two replicas' logs and sockets. */
  for (struct lab_replica *r = lab->replicas; r; r = r->next)
    if (strcmp(r->dir, dir) == 0) {
      lab_event(lab, "replica %s/%s: its folder %s is already %s/%s's; not started", ns, name, dir, r->ns, r->name);
      free(rep);
      return NULL;
    }
  rep->lab = lab;
  rep->name = xstrdup(name);
  rep->ns = xstrdup(ns);
  rep->workload = xstrdup(workload);
  rep->address = xstrdup(address);
  rep->dir = xstrdup(dir);
  rep->healthy = true;
  if (!rep->name || !rep->ns || !rep->workload || !rep->address || !rep->dir || labdir_make(dir) != 0) {
    free(rep->name), free(rep->ns), free(rep->workload), free(rep->address), free(rep->dir);
    free(rep);
    return NULL;
  }
  /* Appended: status lists replicas in start order. */
  struct lab_replica **tail = &lab->replicas;
  while (*tail) tail = &(*tail)->next;
  *tail = rep;
  return rep;
}

/* Files other commands read: the sidecar's outbound listener (`meshlab load --from`,
 * `meshlab exec`) and its admin address. */
void lab_replica_write_files(struct lab_replica *rep) {
  char text[96];
  snprintf(text, sizeof text, "%s:%u\n", rep->address, lab_replica_port(rep, REGISTRY_BLOCK_OUTBOUND, 15001));
  labdir_write(rep->dir, "outbound", text);
  snprintf(text, sizeof text, "%s:%u\n", rep->address, lab_replica_port(rep, REGISTRY_BLOCK_ADMIN, 15000));
  labdir_write(rep->dir, "admin", text);
}

/* "127.1.0.5", or "127.0.0.1 ports 20000-20015" in a port block: for events. */
void lab_replica_where(const struct lab_replica *rep, char *out, size_t n) {
  if (!rep->port_base) snprintf(out, n, "%s", rep->address);
  else
    snprintf(out, n, "%s ports %u-%u", rep->address, (unsigned)rep->port_base,
             (unsigned)(rep->port_base + REGISTRY_BLOCK_SIZE - 1));
}

static void replica_forget_config(struct lab_replica *rep) {
  free(rep->config_json);
  free(rep->config_key);
  rep->config_json = rep->config_key = NULL;
  rep->config_version = rep->sent_version = rep->acked_version = rep->nacked_version = 0;
  rep->nack[0] = '\0';
}

/* Makes the lab's replicas match the registry: new ones get a folder and processes, ones the
 * registry no longer has (scaled down, Deployment deleted) are stopped and hidden. */
int lab_replicas_sync(struct lab *lab) {
  for (struct lab_replica *r = lab->replicas; r; r = r->next)
    if (!r->gateway) r->present = false;
  size_t nw;
  const struct registry_workload *ws = registry_workloads(lab->reg, &nw);
  for (size_t i = 0; i < nw; i++) {
    const struct registry_workload *w = &ws[i];
    char kindbuf[64];
    const char *kind = workload_app(lab, w->ns, w->name, kindbuf, sizeof kindbuf);
    for (size_t k = 0; k < w->replicas_len; k++) {
      const struct registry_replica *rr = &w->replicas[k];
      struct lab_replica *rep = lab_replica_find(lab, w->ns, rr->name);
      bool fresh = !rep;
      if (!rep && !(rep = lab_replica_new(lab, w->ns, rr->name, w->name, rr->address))) return -ENOMEM;
      if (strcmp(rep->address, rr->address) != 0) {
        free(rep->address);
        rep->address = xstrdup(rr->address);
      }
      rep->port_base = rr->port_base;
      bool was_present = fresh ? false : (rep->sidecar && rep->sidecar->want_running);
      rep->present = true;
      if (!was_present) replica_forget_config(rep);
      free(rep->app_kind);
      rep->app_kind = xstrdup(kind);
      lab_replica_write_files(rep);
      if (!was_present) {
        char where[96];
        lab_replica_where(rep, where, sizeof where);
        lab_event(lab, "replica %s/%s at %s: starting %s%s", rep->ns, rep->name, where, kind ? kind : "no app",
                  " and its sidecar");
        lab_journal(lab, "replica_started", "\"replica\":\"%s/%s\",\"workload\":\"%s\",\"address\":\"%s\"", rep->ns,
                    rep->name, rep->workload, rep->address);
      }
      int rc = lab_replica_run(lab, rep);
      if (rc != 0) return rc;
      registry_set_health(lab->reg, rep->ns, rep->name, rep->healthy);
    }
  }
  for (struct lab_replica *r = lab->replicas; r; r = r->next) {
    if (r->present || r->gateway) continue;
    bool running = (r->sidecar && r->sidecar->want_running) || (r->app && r->app->want_running);
    if (!running) continue;
    lab_event(lab, "replica %s/%s: stopping (scaled down or deleted)", r->ns, r->name);
    lab_journal(lab, "replica_stopped", "\"replica\":\"%s/%s\",\"workload\":\"%s\"", r->ns, r->name, r->workload);
    /* what its sidecar reported of its clusters goes with it (GET /v1/clusters) */
    char node[300];
    snprintf(node, sizeof node, "%s/%s", r->ns, r->name);
    labtel_clusters_forget(&lab->tel, node);
    /* `meshlab load --from` and `exec` must not find a stopped sidecar's listener. */
    char path[4300];
    snprintf(path, sizeof path, "%s/outbound", r->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/admin", r->dir);
    unlink(path);
    if (r->app) supervisor_stop(r->app);
    if (r->sidecar) supervisor_stop(r->sidecar);
    replica_forget_config(r);
  }
  return 0;
}
