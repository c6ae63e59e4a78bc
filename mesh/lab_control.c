/* Workload control: what `meshlab chaos`, `kill`, `restart` and `scale` ask the lab to do
 * (lab.h; the endpoints are in lab_api.c, the commands in cli/cmd_control.c).
 *
 * These are the lab's kubelet and kubectl sides, not its control-plane side: chaos talks to
 * each app's control endpoint (services/app.h: `<rdir>/control.sock`, POST /chaos, whose
 * knobs include headers_forwarding, so `--headers-forwarding off` travels the same way), kill and
 * restart go to the supervisor, and scale edits the Deployment in the store, after which the
 * usual path runs (registry sync → replicas started or stopped → config pushed, so callers'
 * endpoints follow, as Kubernetes' EndpointSlices follow a `kubectl scale`).
 *
 * A WORKLOAD is a replica name (that one) or a Deployment name (every replica of it), the rule
 * ../shared/CLI.md pins for every command that takes one.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/client.h"
#include "mesh/lab.h"

/* A control call goes to a unix socket on this machine; an app that does not answer within
 * this is reported, never waited for. */
#define LAB_CONTROL_TIMEOUT_MS 3000
/* Replicas one command reaches at most (a Deployment scales to 1000 at most). */
#define LAB_CONTROL_MAX 1024

size_t lab_workload_replicas(struct lab *lab, const char *ns, const char *name, struct lab_replica **out, size_t max) {
  size_t n = 0;
  bool any_ns = !ns || !*ns;
  /* A replica name first: "reviews-v2-0" names one pod even if a Deployment were called so. */
  for (struct lab_replica *r = lab->replicas; r; r = r->next)
    if (r->present && (any_ns || strcmp(r->ns, ns) == 0) && strcmp(r->name, name) == 0) {
      if (n < max) out[n] = r;
      return 1;
    }
  for (struct lab_replica *r = lab->replicas; r; r = r->next)
    if (r->present && (any_ns || strcmp(r->ns, ns) == 0) && strcmp(r->workload, name) == 0) {
      if (n < max) out[n] = r;
      n++;
    }
  if (n) return n < max ? n : max;
  /* Beyond CLI.md's rule, as a convenience: the `app` label, i.e. the service's name
   * ("ratings" for ratings-v1, "reviews" for every version). */
  for (struct lab_replica *r = lab->replicas; r; r = r->next) {
    if (!r->present || r->gateway || (!any_ns && strcmp(r->ns, ns) != 0)) continue;
    const struct registry_workload *w = registry_workload_find(lab->reg, r->ns, r->workload);
    const char *app = w ? resource_map_get(&w->labels, "app") : NULL;
    if (app && strcmp(app, name) == 0) {
      if (n < max) out[n] = r;
      n++;
    }
  }
  return n < max ? n : max;
}

static void not_found(struct lab_output *o, const char *ns, const char *name) {
  buf_appendf(&o->err,
              "error: no Deployment or replica named \"%s\"%s%s is running in this lab; 'meshlab status' lists "
              "the replicas (<deployment>-<index>)\n",
              name, ns && *ns ? " in namespace " : "", ns && *ns ? ns : "");
  o->exit_code = 1;
}

size_t lab_workload_lookup(struct lab *lab, const char *ns, const char *name, struct lab_replica **out, size_t max,
                           struct lab_output *o) {
  if (ns && *ns) {
    size_t n = lab_workload_replicas(lab, ns, name, out, max);
    if (n == 0) not_found(o, ns, name);
    return n;
  }
  /* No -n: kubectl's default namespace first. */
  size_t n = lab_workload_replicas(lab, "default", name, out, max);
  if (n) return n;
  /* Then the one other namespace where the name means something (the ingress gateway lives in
   * istio-system, and a workload applied with -n elsewhere should not need -n when unique). */
  const char *found = NULL;
  struct buf where = {0};
  size_t namb = 0;
  for (struct lab_replica *r = lab->replicas; r; r = r->next) {
    if (!r->present || strcmp(r->ns, "default") == 0) continue;
    bool seen = false; /* namespaces are visited once each, at their first replica */
    for (struct lab_replica *q = lab->replicas; q != r && !seen; q = q->next)
      seen = q->present && strcmp(q->ns, r->ns) == 0;
    if (seen) continue;
    struct lab_replica *one;
    if (lab_workload_replicas(lab, r->ns, name, &one, 1) == 0) continue;
    buf_appendf(&where, "%s%s", namb ? ", " : "", r->ns);
    namb++;
    if (!found) found = r->ns;
  }
  if (namb == 1) n = lab_workload_replicas(lab, found, name, out, max);
  else if (namb > 1) {
    buf_appendf(&o->err,
                "error: \"%s\" is ambiguous: it names replicas in namespaces %s (none in default); pass -n "
                "NAMESPACE\n",
                name, buf_cstr(&where));
    o->exit_code = 1;
  } else {
    not_found(o, NULL, name);
  }
  buf_free(&where);
  return n;
}

/* ---- chaos ---------------------------------------------------------------------------------- */

struct chaos_op;

struct chaos_call {
  struct chaos_op *op;
  struct lab_replica *rep;
  int status;      /* HTTP status, a negative error, or 0 when not sent */
  struct buf body; /* the app's answer */
  char why[160];   /* why it was not sent */
};

struct chaos_op {
  struct lab *lab;
  struct server_request *r;
  struct http_client cl;
  uv_timer_t finish; /* closes the client outside its own callback */
  bool clear;
  bool lenient;   /* reset: a replica that did not answer is a warning, not a failure */
  struct buf pre; /* lines printed before the replicas' (reset's deletions) */
  size_t n, pending;
  struct chaos_call *calls;
};

static void on_finish_closed(uv_handle_t *h) {
  struct chaos_op *op = h->data;
  for (size_t i = 0; i < op->n; i++) buf_free(&op->calls[i].body);
  buf_free(&op->pre);
  free(op->calls);
  free(op);
}

static void on_client_closed(struct http_client *cl) {
  struct chaos_op *op = cl->data;
  uv_close((uv_handle_t *)&op->finish, on_finish_closed);
}

static void on_finish(uv_timer_t *t) {
  struct chaos_op *op = t->data;
  http_client_close(&op->cl, on_client_closed);
}

/* Every replica answered (or could not be asked): one line each, in start order. */
static void chaos_answer(struct chaos_op *op) {
  struct lab_output o = {0};
  if (op->pre.len) buf_append(&o.out, op->pre.data, op->pre.len);
  for (size_t i = 0; i < op->n; i++) {
    struct chaos_call *c = &op->calls[i];
    if (op->lenient && (c->why[0] || c->status < 0)) {
      buf_appendf(&o.err, "warning: %s: chaos not cleared (%s); a restarted app holds none\n", c->rep->name,
                  c->why[0] ? c->why : uv_strerror(c->status));
      continue;
    }
    if (c->why[0]) {
      buf_appendf(&o.err, "error: %s: %s\n", c->rep->name, c->why);
      o.exit_code = 1;
    } else if (c->status < 0) {
      buf_appendf(&o.err, "error: %s: its app's control socket did not answer (%s; app %s)\n", c->rep->name,
                  uv_strerror(c->status), lab_app_state(c->rep));
      o.exit_code = 1;
    } else if (c->status != 200) {
      /* The app says what was wrong with a knob (400, {"error": ...}). */
      buf_appendf(&o.err, "error: %s: the app refused the knobs (HTTP %d): %.*s", c->rep->name, c->status,
                  (int)c->body.len, c->body.data ? c->body.data : "");
      if (!c->body.len || c->body.data[c->body.len - 1] != '\n') buf_append_str(&o.err, "\n");
      o.exit_code = 1;
    } else if (op->clear) {
      buf_appendf(&o.out, "%s: chaos cleared\n", c->rep->name);
    } else {
      /* The knobs as the app now holds them, on one line (GET /chaos's JSON). */
      size_t len = c->body.len;
      while (len && (c->body.data[len - 1] == '\n' || c->body.data[len - 1] == '\r')) len--;
      buf_appendf(&o.out, "%s: %.*s\n", c->rep->name, (int)len, c->body.data ? c->body.data : "");
    }
  }
  lab_event(op->lab, "chaos: %zu replica%s %s", op->n, op->n == 1 ? "" : "s", op->clear ? "cleared" : "changed");
  lab_api_respond_console(op->r, &o);
  op->r = NULL;
  uv_timer_start(&op->finish, on_finish, 0, 0);
}

static void on_chaos_done(struct http_client_call *call, int status) {
  struct chaos_call *c = call->data;
  c->status = status == 0 ? call->response.status : status;
  if (status == 0) buf_append(&c->body, call->response.body.data, call->response.body.len);
  if (--c->op->pending == 0) chaos_answer(c->op);
}

/* Sends the knobs (or the clear) to the n replicas of reps (taken: freed here) and answers r
 * once all answered. op is taken; pre (its lines) already filled. */
static void chaos_send(struct lab *lab, struct server_request *r, struct chaos_op *op, struct lab_replica **reps,
                       size_t n, bool clear, const char *knobs, size_t len);

void lab_chaos(struct lab *lab, struct server_request *r, const char *ns, const char *workload, bool clear,
               const char *knobs, size_t len) {
  struct lab_replica **reps = malloc(LAB_CONTROL_MAX * sizeof *reps);
  struct chaos_op *op = calloc(1, sizeof *op);
  struct lab_output o = {0};
  size_t n = reps && op ? lab_workload_lookup(lab, ns, workload, reps, LAB_CONTROL_MAX, &o) : 0;
  if (n == 0 && reps && op) {
    free(reps);
    free(op);
    lab_api_respond_console(r, &o);
    return;
  }
  chaos_send(lab, r, op, reps, n, clear, knobs, len);
}

void lab_reset(struct lab *lab, struct server_request *r) {
  struct chaos_op *op = calloc(1, sizeof *op);
  struct lab_output o = {0};
  if (!op) {
    buf_append_str(&o.err, "error: out of memory\n");
    o.exit_code = 1;
    lab_api_respond_console(r, &o);
    return;
  }
  lab_reset_store(lab, &o);
  buf_append(&op->pre, o.out.data ? o.out.data : "", o.out.len);
  buf_free(&o.out);
  buf_free(&o.err);
  op->lenient = true;
  size_t n = 0;
  for (struct lab_replica *rep = lab->replicas; rep; rep = rep->next) n++;
  struct lab_replica **reps = malloc((n ? n : 1) * sizeof *reps);
  n = 0;
  /* Only replicas whose app runs: a client-only image or the gateway holds no chaos. */
  for (struct lab_replica *rep = lab->replicas; reps && rep; rep = rep->next)
    if (rep->app_kind && rep->app) reps[n++] = rep;
  lab_event(lab, "reset: the lab's clean state asked through the API");
  if (reps && n == 0) {
    free(reps);
    o.out = op->pre;
    op->pre = (struct buf){0};
    free(op);
    lab_api_respond_console(r, &o);
    return;
  }
  chaos_send(lab, r, op, reps, n, true, "", 0);
}

static void chaos_send(struct lab *lab, struct server_request *r, struct chaos_op *op, struct lab_replica **reps,
                       size_t n, bool clear, const char *knobs, size_t len) {
  struct lab_output o = {0};
  if (!reps || !op) {
    buf_append_str(&o.err, "error: out of memory\n");
    o.exit_code = 1;
  } else if (n == 0) {
    o.exit_code = 1;
  } else if (!(op->calls = calloc(n, sizeof *op->calls))) {
    buf_append_str(&o.err, "error: out of memory\n");
    o.exit_code = 1;
  }
  if (o.exit_code) {
    free(reps);
    if (op) buf_free(&op->pre);
    free(op);
    lab_api_respond_console(r, &o);
    return;
  }
  op->lab = lab;
  op->r = r;
  op->clear = clear;
  op->n = n;
  http_client_init(&op->cl, &lab->env);
  op->cl.data = op;
  uv_timer_init(lab->loop, &op->finish);
  op->finish.data = op;
  /* Count every call first: a send may fail at once, and the answer must wait for the rest. */
  op->pending = n + 1;
  for (size_t i = 0; i < n; i++) {
    struct chaos_call *c = &op->calls[i];
    c->op = op;
    c->rep = reps[i];
    if (!c->rep->app_kind || !c->rep->app) {
      snprintf(c->why, sizeof c->why, "%s",
               c->rep->gateway ? "the ingress gateway runs no app: chaos needs one"
                               : "this workload runs no app (a client-only image such "
                                 "as curl or fortio): chaos needs one");
      op->pending--;
      continue;
    }
    char addr[4300];
    snprintf(addr, sizeof addr, "unix:%s/control.sock", c->rep->dir);
    struct conn_addr ca;
    if (conn_addr_parse(&ca, addr) != 0) {
      snprintf(c->why, sizeof c->why, "its control socket path is too long for a unix socket");
      op->pending--;
      continue;
    }
    struct http_client_req req = {"POST",
                                  clear ? "http://control/chaos/clear" : "http://control/chaos",
                                  &ca,
                                  "content-type: application/json\r\n",
                                  {clear ? "" : knobs, clear ? 0 : len},
                                  LAB_CONTROL_TIMEOUT_MS};
    int rc = http_client_send(&op->cl, &req, on_chaos_done, c, NULL);
    if (rc != 0) {
      snprintf(c->why, sizeof c->why, "cannot call its control socket: %s", uv_strerror(rc));
      op->pending--;
    }
  }
  free(reps);
  if (--op->pending == 0) chaos_answer(op);
}

/* ---- kill, restart --------------------------------------------------------------------------- */

void lab_kill(struct lab *lab, const char *ns, const char *workload, const char *container, struct lab_output *o) {
  bool want_sidecar = container && strcmp(container, "sidecar") == 0;
  if (container && *container && !want_sidecar && strcmp(container, "app") != 0) {
    buf_appendf(&o->err, "error: -c takes app or sidecar, not \"%s\"\n", container);
    o->exit_code = 1;
    return;
  }
  struct lab_replica *reps[LAB_CONTROL_MAX / 8];
  size_t n = lab_workload_lookup(lab, ns, workload, reps, sizeof reps / sizeof reps[0], o);
  if (n == 0) return;
  for (size_t i = 0; i < n; i++) {
    struct lab_replica *rep = reps[i];
    bool sidecar = want_sidecar || !rep->app_kind || !rep->app;
    if (!sidecar && container && strcmp(container, "app") == 0 && !rep->app_kind) {
      buf_appendf(&o->err, "error: %s runs no app; kill its sidecar with -c sidecar\n", rep->name);
      o->exit_code = 1;
      continue;
    }
    struct proc *p = sidecar ? rep->sidecar : rep->app;
    int pid = p && p->alive ? (int)p->handle.pid : 0;
    int rc = p ? supervisor_signal(p, SIGKILL) : UV_ESRCH;
    if (rc != 0) {
      buf_appendf(&o->err, "error: %s: its %s is not running (%s); nothing to kill\n", rep->name,
                  sidecar ? "sidecar" : "app", p ? proc_state_name(p->state) : "none");
      o->exit_code = 1;
      continue;
    }
    lab_event(lab, "%s killed (SIGKILL) on request", p->name);
    buf_appendf(&o->out, "%s/%s killed (pid %d, SIGKILL); the lab restarts it with backoff\n", rep->name,
                sidecar ? "sidecar" : "app", pid);
  }
}

void lab_restart(struct lab *lab, const char *ns, const char *workload, struct lab_output *o) {
  struct lab_replica *reps[LAB_CONTROL_MAX / 8];
  size_t n = lab_workload_lookup(lab, ns, workload, reps, sizeof reps / sizeof reps[0], o);
  if (n == 0) return;
  for (size_t i = 0; i < n; i++) {
    struct lab_replica *rep = reps[i];
    int rc = 0;
    /* The app first: the sidecar keeps answering (503, no healthy endpoint) meanwhile. */
    if (rep->app_kind && rep->app) rc = supervisor_restart(rep->app);
    if (rc == 0 && rep->sidecar) rc = supervisor_restart(rep->sidecar);
    if (rc != 0) {
      buf_appendf(&o->err, "error: %s: cannot restart: %s\n", rep->name, uv_strerror(rc));
      o->exit_code = 1;
      continue;
    }
    lab_event(lab, "%s/%s: restart asked (SIGTERM, then start at once)", rep->ns, rep->name);
    buf_appendf(&o->out, "%s restarting (%s)\n", rep->name, rep->app_kind ? "app and sidecar" : "sidecar");
  }
}

/* ---- scale ----------------------------------------------------------------------------------- */

void lab_scale(struct lab *lab, const char *ns, const char *deployment, uint32_t replicas, struct lab_output *o) {
  const char *in = ns && *ns ? ns : "default";
  long i = lab_store_find(lab, RESOURCE_DEPLOYMENT, in, deployment);
  if (i < 0) {
    struct lab_replica *one;
    if (lab_workload_replicas(lab, in, deployment, &one, 1) == 1 && strcmp(one->name, deployment) == 0)
      buf_appendf(&o->err, "error: \"%s\" is a replica; scale takes its Deployment: meshlab scale %s --replicas N\n",
                  deployment, one->workload);
    else
      buf_appendf(&o->err, "Error from server (NotFound): deployments.apps \"%s\" not found in namespace %s\n",
                  deployment, in);
    o->exit_code = 1;
    return;
  }
  /* The same change an apply of the edited Deployment makes; a later apply of the original
   * manifest scales it back, as with kubectl. */
  struct resource *d = lab->objects[i].r;
  d->spec.deployment.replicas.value = replicas;
  d->spec.deployment.replicas.set = true;
  lab_event(lab, "%s/%s scaled to %u replica%s", in, deployment, replicas, replicas == 1 ? "" : "s");
  buf_appendf(&o->out, "deployment.apps/%s scaled\n", deployment);
  if (lab_store_changed(lab) != 0) buf_append_str(&o->err, "warning: the lab could not update its replicas\n");
}

/* ---- resolve --------------------------------------------------------------------------------- */

void lab_resolve(struct lab *lab, const char *ns, const char *workload, struct lab_output *o) {
  struct lab_replica **reps = malloc(LAB_CONTROL_MAX * sizeof *reps);
  size_t n = reps ? lab_workload_lookup(lab, ns, workload, reps, LAB_CONTROL_MAX, o) : 0;
  /* NS/REPLICA, the node name sidecars poll with: the CLI finds the folder from both. */
  for (size_t i = 0; i < n; i++) buf_appendf(&o->out, "%s/%s\n", reps[i]->ns, reps[i]->name);
  free(reps);
}
