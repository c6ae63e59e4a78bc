/* The lesson runner: see lesson.h. The host side of the sandbox's door (script.h): each
 * operation of the lesson API written in Lua (mesh/lesson_api.lua) arrives here as a name and
 * JSON arguments. Operations that print or count answer at once; those that wait (wait, the lab
 * API, a request through the mesh, stopping the load) answer SCRIPT_PENDING and their libuv
 * callback calls script_resume, which runs the lesson up to its next wait.
 *
 * Operations (the Lua API wraps them; docs/scenario-api.md documents the wrappers):
 *   lesson {title, goal, duration}   step {title}    say {text}    print {text}
 *   expect {ok, message, observed}   pause {prompt}  wait {seconds}  now
 *   api {method, path, body}           -> {status, body, exit}      (the lab API)
 *   http {url, method, headers, body, from, timeout}
 *                                      -> {status, headers, body, flags, request_id, ms}
 *   admin {replica, path}              -> {status, body}            (a sidecar's admin listener)
 *   load_start {url, qps, connections, headers, from, method}   load_stop -> the run's summary
 *   token {sub, groups, aud, exp, alg}  -> a JWT from the lab's own issuer (issuer.h)
 */
#include "mesh/lesson.h"

#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/buf.h"
#include "mesh/client.h"
#include "mesh/conn.h"
#include "mesh/flags.h"
#include "mesh/issuer.h"
#include "mesh/labdir.h"
#include "mesh/loadgen.h"
#include "mesh/script.h"

/* The lesson API written in Lua (generated from mesh/lesson_api.lua). */
extern const char lesson_api_lua[];
extern const size_t lesson_api_lua_len;

enum { LESSON_PROXIED_MAX = 8, LESSON_API_TIMEOUT_MS = 30000, LESSON_HTTP_TIMEOUT_MS = 30000 };

/* A client that sends through one sidecar's outbound listener (absolute-form requests). */
struct proxied {
  char addr[128];
  struct http_client cl;
  bool used;
};

struct lesson {
  uv_loop_t *loop;
  const struct lesson_opts *opts;
  struct lesson_ui *ui;
  struct script *script;
  struct script_host host;
  struct conn_env env;
  struct http_client api; /* the lab API and the ingress (explicit connect address) */
  struct proxied proxied[LESSON_PROXIED_MAX];
  struct conn_addr api_addr;
  uv_timer_t timer;            /* wait() */
  uv_signal_t sigint, sigterm; /* Ctrl-C ends the lesson, so whoever started a lab stops it */
  uint64_t t0;
  /* the load generator */
  struct loadgen lg;
  struct buf lg_request;
  bool lg_running, lg_stop_pending;
  /* the lab issuer's keys, read on the first token() */
  struct issuer issuer;
  bool has_issuer;
  /* progress */
  int step;
  char step_title[256];
  int expectations, failed;
  uint64_t request_seq;
  bool waiting; /* a host call is pending */
  bool done, paused, closing;
  enum lesson_exit exit_code;
  char *error;
  unsigned open_handles;
};

/* ---- small helpers ------------------------------------------------------------------------------ */

static const char *str_arg(json_t *args, const char *key, const char *dflt) {
  json_t *v = json_object_get(args, key);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

static double num_arg(json_t *args, const char *key, double dflt) {
  json_t *v = json_object_get(args, key);
  return json_is_number(v) ? json_number_value(v) : dflt;
}

static void pending(struct lesson *l) { l->waiting = true; }

/* Answers the pending call (dropped once the lesson ended: an interrupt cancels calls). */
static void answer(struct lesson *l, json_t *result) {
  l->waiting = false;
  if (l->done) {
    json_decref(result);
    return;
  }
  script_resume(l->script, result);
}

static void answer_error(struct lesson *l, const char *msg) {
  l->waiting = false;
  if (!l->done) script_resume_error(l->script, msg);
}

/* The lab folder's file `rel` ("ingress", "replicas/x/admin") into out, trimmed. */
static int lab_file(struct lesson *l, const char *rel, char *out, size_t n) {
  return labdir_read(l->opts->lab_dir, rel, out, n);
}

/* The folder of a workload's replica: the name itself, else its first replica (NAME-0). */
static int replica_rel(struct lesson *l, const char *name, char *out, size_t n) {
  if (labdir_replica_find(l->opts->lab_dir, name, out, n) == 0) return 0;
  char first[300];
  snprintf(first, sizeof first, "%s-0", name);
  return labdir_replica_find(l->opts->lab_dir, first, out, n);
}

/* The lab is gone when its pid file names no live process. */
static bool lab_alive(struct lesson *l) { return labdir_running(l->opts->lab_dir) != 0; }

/* ---- the lab API ---------------------------------------------------------------------------------- */

static json_t *response_json(const struct http_client_response *r) {
  json_t *o = json_object();
  json_object_set_new(o, "status", json_integer(r->status));
  json_object_set_new(o, "body", json_stringn_nocheck(r->body.data ? r->body.data : "", r->body.len));
  json_t *h = json_object();
  for (size_t i = 0; i < r->nheaders; i++) {
    char name[128];
    size_t n = r->headers[i].name.n < sizeof name - 1 ? r->headers[i].name.n : sizeof name - 1;
    for (size_t k = 0; k < n; k++) {
      char c = r->headers[i].name.p[k];
      name[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    name[n] = '\0';
    if (!json_object_get(h, name))
      json_object_set_new(h, name, json_stringn_nocheck(r->headers[i].value.p, r->headers[i].value.n));
  }
  json_object_set_new(o, "headers", h);
  return o;
}

static void on_api_done(struct http_client_call *call, int status) {
  struct lesson *l = call->data;
  if (status != 0) {
    char msg[256];
    if (!lab_alive(l)) {
      l->exit_code = LESSON_LAB_GONE;
      snprintf(msg, sizeof msg, "the lab is not running any more (its API: %s)", uv_strerror(status));
    } else {
      snprintf(msg, sizeof msg, "the lab API did not answer: %s", uv_strerror(status));
    }
    answer_error(l, msg);
    return;
  }
  json_t *o = response_json(&call->response);
  json_t *h = json_object_get(o, "headers");
  const char *ex = str_arg(h, "x-meshlab-exit", NULL);
  json_object_set_new(o, "exit", json_integer(ex ? atoi(ex) : (call->response.status == 200 ? 0 : 1)));
  const char *so = str_arg(h, "x-meshlab-stdout-length", NULL);
  if (so) {
    size_t n = (size_t)atol(so);
    const char *b = call->response.body.data ? call->response.body.data : "";
    if (n > call->response.body.len) n = call->response.body.len;
    json_object_set_new(o, "stdout", json_stringn_nocheck(b, n));
    json_object_set_new(o, "stderr", json_stringn_nocheck(b + n, call->response.body.len - n));
  }
  answer(l, o);
}

static enum script_reply op_api(struct lesson *l, json_t *args, char *err, size_t errlen) {
  const char *path = str_arg(args, "path", NULL);
  if (!path || path[0] != '/') {
    snprintf(err, errlen, "api: path must start with /");
    return SCRIPT_FAIL;
  }
  char url[4096];
  snprintf(url, sizeof url, "http://lab%s", path);
  const char *body = str_arg(args, "body", "");
  const char *type = str_arg(args, "content_type", NULL);
  char headers[256] = "";
  if (type) snprintf(headers, sizeof headers, "content-type: %s\r\n", type);
  uint64_t timeout = (uint64_t)(num_arg(args, "timeout", LESSON_API_TIMEOUT_MS / 1000.0) * 1000);
  struct http_client_req req = {str_arg(args, "method", "GET"), url,    &l->api_addr, headers,
                                {body, strlen(body)},           timeout};
  int rc = http_client_send(&l->api, &req, on_api_done, l, NULL);
  if (rc != 0) {
    snprintf(err, errlen, "api %s: %s", path, uv_strerror(rc));
    return SCRIPT_FAIL;
  }
  pending(l);
  return SCRIPT_PENDING;
}

/* ---- requests through the mesh -------------------------------------------------------------------- */

struct http_op {
  struct lesson *l;
  char request_id[64];
  uint64_t start;
};

static void on_http_done(struct http_client_call *call, int status) {
  struct http_op *op = call->data;
  struct lesson *l = op->l;
  json_t *o;
  if (status == 0) {
    o = response_json(&call->response);
    const char *flags = str_arg(json_object_get(o, "headers"), "x-meshlab-response-flags", NULL);
    if (!flags && str_arg(json_object_get(o, "headers"), "x-envoy-overloaded", NULL)) flags = "UO";
    json_object_set_new(o, "flags", json_string(flags ? flags : "-"));
  } else {
    o = json_object();
    json_object_set_new(o, "status", json_integer(0));
    json_object_set_new(o, "error", json_string(uv_strerror(status)));
    json_object_set_new(o, "flags", json_string("-"));
    json_object_set_new(o, "body", json_string(""));
    json_object_set_new(o, "headers", json_object());
  }
  json_object_set_new(o, "request_id", json_string(op->request_id));
  json_object_set_new(o, "ms", json_real((double)(uv_hrtime() - op->start) / 1e6));
  free(op);
  answer(l, o);
}

/* The client that goes through the sidecar whose outbound listener is at addr. */
static struct http_client *proxied_client(struct lesson *l, const char *addr) {
  for (int i = 0; i < LESSON_PROXIED_MAX; i++)
    if (l->proxied[i].used && strcmp(l->proxied[i].addr, addr) == 0) return &l->proxied[i].cl;
  for (int i = 0; i < LESSON_PROXIED_MAX; i++) {
    struct proxied *p = &l->proxied[i];
    if (p->used) continue;
    http_client_init(&p->cl, &l->env);
    if (http_client_set_proxy(&p->cl, addr) != 0) return NULL;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    p->used = true;
    return &p->cl;
  }
  return NULL;
}

/* Where a URL goes: the ingress gateway for host "ingress" (or a bare path); for `from`
 * "outside", a client with no sidecar, straight to the URL's address in plaintext; else through
 * the outbound listener of `from`'s sidecar. Fills connect (ingress, outside) or proxy_addr,
 * and url. */
static int resolve_target(struct lesson *l, const char *url_in, const char *from, char *url, size_t un,
                          struct conn_addr *connect, char *proxy_addr, size_t pn, char *err, size_t errlen) {
  struct loadgen_url u;
  char tmp[4096];
  if (url_in[0] == '/') snprintf(tmp, sizeof tmp, "http://ingress%s", url_in);
  else snprintf(tmp, sizeof tmp, "%s", url_in);
  if (loadgen_url_parse(&u, tmp) != 0) {
    snprintf(err, errlen, "\"%s\" is not an http:// URL", url_in);
    return -EINVAL;
  }
  proxy_addr[0] = '\0';
  if (strcmp(u.host, "ingress") == 0) {
    char ingress[128];
    if (lab_file(l, "ingress", ingress, sizeof ingress) != 0 || conn_addr_parse(connect, ingress) != 0) {
      snprintf(err, errlen, "the lab's ingress address is unknown (no %s/ingress)", l->opts->lab_dir);
      return -ENOENT;
    }
    snprintf(url, un, "http://%s%s", ingress, u.path);
    return 0;
  }
  if (strcmp(from, "outside") == 0) {
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%u", u.host, (unsigned)u.port);
    if (conn_addr_parse(connect, hostport) != 0) {
      snprintf(err, errlen, "from = \"outside\" needs an address, not \"%s\" (pod_url gives one)", u.host);
      return -EINVAL;
    }
    snprintf(url, un, "%s", tmp);
    return 0;
  }
  char rel[512], file[600];
  if (replica_rel(l, from, rel, sizeof rel) != 0) {
    snprintf(err, errlen, "no replica of \"%s\" to send from (from = a workload or replica name)", from);
    return -ENOENT;
  }
  snprintf(file, sizeof file, "%s/outbound", rel);
  if (lab_file(l, file, proxy_addr, pn) != 0) {
    snprintf(err, errlen, "%s has no outbound listener yet (%s)", from, file);
    return -ENOENT;
  }
  snprintf(url, un, "%s", tmp);
  return 0;
}

/* headers: {name = value} or {"name: value", ...} into "name: value\r\n" lines. */
static void headers_lines(json_t *h, struct buf *out) {
  if (json_is_object(h)) {
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v) if (json_is_string(v)) buf_appendf(out, "%s: %s\r\n", k, json_string_value(v));
  } else if (json_is_array(h)) {
    size_t i;
    json_t *v;
    json_array_foreach(h, i, v) if (json_is_string(v)) buf_appendf(out, "%s\r\n", json_string_value(v));
  }
}

static enum script_reply op_http(struct lesson *l, json_t *args, char *err, size_t errlen) {
  char url[4096], proxy[128];
  struct conn_addr connect;
  const char *from = str_arg(args, "from", "productpage-v1");
  if (resolve_target(l, str_arg(args, "url", ""), from, url, sizeof url, &connect, proxy, sizeof proxy, err, errlen) !=
      0)
    return SCRIPT_FAIL;
  struct http_op *op = calloc(1, sizeof *op);
  if (!op) {
    snprintf(err, errlen, "out of memory");
    return SCRIPT_FAIL;
  }
  op->l = l;
  op->start = uv_hrtime();
  struct buf h = {0};
  json_t *hdrs = json_object_get(args, "headers");
  const char *rid = json_is_object(hdrs) ? str_arg(hdrs, "x-request-id", NULL) : NULL;
  if (rid) snprintf(op->request_id, sizeof op->request_id, "%s", rid);
  else {
    snprintf(op->request_id, sizeof op->request_id, "lesson-%llx-%llu", (unsigned long long)(l->t0 & 0xffffff),
             (unsigned long long)++l->request_seq);
    buf_appendf(&h, "x-request-id: %s\r\n", op->request_id);
  }
  headers_lines(hdrs, &h);
  const char *body = str_arg(args, "body", "");
  uint64_t timeout = (uint64_t)(num_arg(args, "timeout", LESSON_HTTP_TIMEOUT_MS / 1000.0) * 1000);
  struct http_client_req req = {str_arg(args, "method", "GET"), url,
                                proxy[0] ? NULL : &connect,     h.data ? buf_cstr(&h) : NULL,
                                {body, strlen(body)},           timeout};
  struct http_client *cl = proxy[0] ? proxied_client(l, proxy) : &l->api;
  int rc = cl ? http_client_send(cl, &req, on_http_done, op, NULL) : -ENOMEM;
  buf_free(&h);
  if (rc != 0) {
    free(op);
    snprintf(err, errlen, "http %s: %s", url, uv_strerror(rc));
    return SCRIPT_FAIL;
  }
  pending(l);
  return SCRIPT_PENDING;
}

/* Up to 8 strings of a JSON array (or one string) into out; returns the count. */
static size_t strings_arg(json_t *v, const char **out, size_t max) {
  if (json_is_string(v)) return out[0] = json_string_value(v), 1;
  size_t n = 0, i;
  json_t *item;
  json_array_foreach(v, i, item) if (json_is_string(item) && n < max) out[n++] = json_string_value(item);
  return n;
}

/* A token from the lab's own issuer, as `meshlab token` mints it (keys in the lab folder). */
static enum script_reply op_token(struct lesson *l, json_t *args, json_t **result, char *err, size_t errlen) {
  if (!l->has_issuer) {
    if (issuer_load(l->opts->lab_dir, &l->issuer, err, errlen) != 0) return SCRIPT_FAIL;
    l->has_issuer = true;
  }
  const char *aud[8], *groups[8];
  struct issuer_claims c = {.alg = str_arg(args, "alg", NULL),
                            .sub = str_arg(args, "sub", NULL),
                            .scope = str_arg(args, "scope", NULL),
                            .exp_seconds = (int64_t)num_arg(args, "exp", 0)};
  c.aud_len = strings_arg(json_object_get(args, "aud"), aud, 8);
  c.aud = aud;
  c.groups_len = strings_arg(json_object_get(args, "groups"), groups, 8);
  c.groups = groups;
  char *token = NULL;
  if (issuer_mint(&l->issuer, &c, (int64_t)time(NULL), &token, err, errlen) != 0) return SCRIPT_FAIL;
  *result = json_string(token);
  free(token);
  return SCRIPT_DONE;
}

/* GET a sidecar's admin path (/clusters ...): its address is in the replica's `admin` file. */
static enum script_reply op_admin(struct lesson *l, json_t *args, char *err, size_t errlen) {
  const char *replica = str_arg(args, "replica", "");
  char rel[512], file[600], addr[128], url[1024];
  if (replica_rel(l, replica, rel, sizeof rel) != 0) {
    snprintf(err, errlen, "no replica \"%s\" in the lab", replica);
    return SCRIPT_FAIL;
  }
  snprintf(file, sizeof file, "%s/admin", rel);
  struct conn_addr connect;
  if (lab_file(l, file, addr, sizeof addr) != 0 || conn_addr_parse(&connect, addr) != 0) {
    snprintf(err, errlen, "%s has no admin address yet", replica);
    return SCRIPT_FAIL;
  }
  snprintf(url, sizeof url, "http://%s%s", addr, str_arg(args, "path", "/clusters"));
  struct http_op *op = calloc(1, sizeof *op);
  if (!op) return SCRIPT_FAIL;
  op->l = l;
  op->start = uv_hrtime();
  struct http_client_req req = {"GET", url, &connect, NULL, {"", 0}, 5000};
  if (http_client_send(&l->api, &req, on_http_done, op, NULL) != 0) {
    free(op);
    snprintf(err, errlen, "cannot reach %s's admin at %s", replica, addr);
    return SCRIPT_FAIL;
  }
  pending(l);
  return SCRIPT_PENDING;
}

/* ---- load ------------------------------------------------------------------------------------------ */

static json_t *load_summary(const struct loadgen_result *r) {
  json_t *o = json_object(), *codes = json_object(), *flags = json_object(), *lat = json_object();
  json_object_set_new(o, "requests", json_integer((json_int_t)r->requests));
  json_object_set_new(o, "responses", json_integer((json_int_t)r->responses));
  json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
  json_object_set_new(o, "qps", json_real(r->qps));
  json_object_set_new(o, "duration_s", json_real(r->duration_s));
  for (int c = 0; c < LOADGEN_MAX_STATUS; c++)
    if (r->codes[c]) {
      char k[8];
      snprintf(k, sizeof k, "%d", c);
      json_object_set_new(codes, k, json_integer((json_int_t)r->codes[c]));
    }
  if (r->errors) json_object_set_new(codes, "-1", json_integer((json_int_t)r->errors));
  for (int b = 0; b < FLAG_COUNT; b++)
    if (r->flags[b] && flag_name(1u << b))
      json_object_set_new(flags, flag_name(1u << b), json_integer((json_int_t)r->flags[b]));
  static const struct {
    const char *name;
    double q;
  } qs[] = {{"p50", .5}, {"p90", .9}, {"p99", .99}};
  for (size_t i = 0; i < 3; i++)
    json_object_set_new(lat, qs[i].name,
                        json_real(r->responses ? (double)hist_quantile(&r->latency, qs[i].q) / 1e6 : 0));
  json_object_set_new(lat, "max", json_real(r->responses ? (double)hist_max(&r->latency) / 1e6 : 0));
  json_object_set_new(o, "codes", codes);
  json_object_set_new(o, "flags", flags);
  json_object_set_new(o, "latency_ms", lat);
  return o;
}

static void maybe_finish(struct lesson *l);

static void on_load_done(struct loadgen *lg, int status) {
  struct lesson *l = lg->data;
  l->lg_running = false;
  l->open_handles--;
  buf_free(&l->lg_request);
  if (l->lg_stop_pending) {
    l->lg_stop_pending = false;
    if (status != 0) answer_error(l, lg->error[0] ? lg->error : "the load could not connect");
    else answer(l, load_summary(&lg->result));
  }
  maybe_finish(l);
}

static enum script_reply op_load_start(struct lesson *l, json_t *args, char *err, size_t errlen) {
  if (l->lg_running) {
    snprintf(err, errlen, "load.start: load is already running (load.stop() first)");
    return SCRIPT_FAIL;
  }
  char url[4096], proxy[128];
  struct conn_addr connect;
  const char *from = str_arg(args, "from", "productpage-v1");
  if (resolve_target(l, str_arg(args, "url", "/productpage"), from, url, sizeof url, &connect, proxy, sizeof proxy, err,
                     errlen) != 0)
    return SCRIPT_FAIL;
  struct loadgen_url u;
  loadgen_url_parse(&u, url);
  const char *hs[32];
  size_t nh = 0;
  json_t *h = json_object_get(args, "headers");
  /* Collected as "name: value" strings for loadgen_request_build. */
  char lines[32][512];
  if (json_is_object(h)) {
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v) if (json_is_string(v) && nh < 32) {
      snprintf(lines[nh], sizeof lines[nh], "%s: %s", k, json_string_value(v));
      hs[nh] = lines[nh];
      nh++;
    }
  }
  int bad = -1;
  buf_free(&l->lg_request);
  if (loadgen_request_build(&l->lg_request, str_arg(args, "method", "GET"), &u, proxy[0] != 0, hs, nh, &bad) != 0) {
    snprintf(err, errlen, "load.start: a bad header or method");
    return SCRIPT_FAIL;
  }
  struct loadgen_opts o = {0};
  if (proxy[0]) {
    if (conn_addr_parse(&o.addr, proxy) != 0) {
      snprintf(err, errlen, "load.start: bad proxy address %s", proxy);
      return SCRIPT_FAIL;
    }
  } else {
    o.addr = connect;
  }
  o.request = (struct slice){l->lg_request.data, l->lg_request.len};
  o.qps = num_arg(args, "qps", 10);
  double c = num_arg(args, "connections", 4);
  o.connections = c < 1 ? 1 : (unsigned)c;
  o.duration_ms = (uint64_t)(num_arg(args, "duration", 3600) * 1000);
  o.timeout_ms = (uint64_t)(num_arg(args, "timeout", 15) * 1000);
  memset(&l->lg, 0, sizeof l->lg);
  l->lg.data = l;
  int rc = loadgen_start(&l->lg, l->loop, &o, on_load_done);
  if (rc != 0) {
    buf_free(&l->lg_request);
    snprintf(err, errlen, "load.start: %s", uv_strerror(rc));
    return SCRIPT_FAIL;
  }
  l->lg_running = true;
  l->open_handles++;
  return SCRIPT_DONE;
}

static enum script_reply op_load_stop(struct lesson *l, json_t **result) {
  if (!l->lg_running) {
    *result = NULL;
    return SCRIPT_DONE;
  }
  l->lg_stop_pending = true;
  pending(l);
  loadgen_stop(&l->lg);
  return SCRIPT_PENDING;
}

/* ---- time ------------------------------------------------------------------------------------------ */

static void on_wait(uv_timer_t *t) {
  struct lesson *l = t->data;
  answer(l, NULL);
}

/* ---- the door ------------------------------------------------------------------------------------- */

static enum script_reply host_call(void *data, const char *op, json_t *args, json_t **result, char *err,
                                   size_t errlen) {
  struct lesson *l = data;
  struct lesson_ui *ui = l->ui;
  *result = NULL;
  if (strcmp(op, "say") == 0 || strcmp(op, "print") == 0) {
    if (ui->on_say) ui->on_say(ui, str_arg(args, "text", ""));
    return SCRIPT_DONE;
  }
  if (strcmp(op, "lesson") == 0) {
    struct lesson_info info = {l->opts->file, str_arg(args, "title", ""), str_arg(args, "goal", ""),
                               str_arg(args, "duration", "")};
    if (ui->on_lesson) ui->on_lesson(ui, &info);
    return SCRIPT_DONE;
  }
  if (strcmp(op, "step") == 0) {
    l->step++;
    snprintf(l->step_title, sizeof l->step_title, "%s", str_arg(args, "title", ""));
    if (ui->on_step) ui->on_step(ui, l->step, l->step_title);
    return SCRIPT_DONE;
  }
  if (strcmp(op, "expect") == 0) {
    struct lesson_expect e = {++l->expectations,
                              json_is_true(json_object_get(args, "ok")),
                              str_arg(args, "message", "(no message)"),
                              str_arg(args, "observed", NULL),
                              l->step,
                              l->step_title,
                              str_arg(args, "where", "")};
    if (!e.ok) l->failed++;
    if (ui->on_expect) ui->on_expect(ui, &e);
    return SCRIPT_DONE;
  }
  if (strcmp(op, "interactive") == 0) {
    *result = json_boolean(ui->interactive);
    return SCRIPT_DONE;
  }
  if (strcmp(op, "pause") == 0) {
    if (ui->on_pause && ui->on_pause(ui, l, str_arg(args, "prompt", "press a key to go on"))) {
      l->paused = true;
      pending(l);
      return SCRIPT_PENDING;
    }
    return SCRIPT_DONE;
  }
  if (strcmp(op, "where") == 0) {
    *result = json_string(str_arg(args, "where", ""));
    return SCRIPT_DONE;
  }
  if (strcmp(op, "now") == 0) {
    *result = json_real((double)(uv_hrtime() - l->t0) / 1e9);
    return SCRIPT_DONE;
  }
  if (strcmp(op, "wait") == 0) {
    double s = num_arg(args, "seconds", 0);
    if (s < 0 || s > 600) {
      snprintf(err, errlen, "wait(%g): seconds from 0 to 600", s);
      return SCRIPT_FAIL;
    }
    uv_update_time(l->loop);
    uv_timer_start(&l->timer, on_wait, (uint64_t)(s * 1000 + 0.5), 0);
    pending(l);
    return SCRIPT_PENDING;
  }
  if (strcmp(op, "api") == 0) return op_api(l, args, err, errlen);
  if (strcmp(op, "http") == 0) return op_http(l, args, err, errlen);
  if (strcmp(op, "admin") == 0) return op_admin(l, args, err, errlen);
  if (strcmp(op, "load_start") == 0) return op_load_start(l, args, err, errlen);
  if (strcmp(op, "load_stop") == 0) return op_load_stop(l, result);
  if (strcmp(op, "token") == 0) return op_token(l, args, result, err, errlen);
  if (strcmp(op, "fail_lab") == 0) {
    l->exit_code = LESSON_LAB_GONE;
    return SCRIPT_DONE;
  }
  snprintf(err, errlen, "unknown lesson operation \"%s\"", op);
  return SCRIPT_FAIL;
}

void lesson_unpause(struct lesson *l, bool skip) {
  if (!l->paused) return;
  l->paused = false;
  answer(l, json_boolean(skip));
}

/* ---- the end: close everything, then uv_run returns ----------------------------------------------- */

static void on_closed_handle(uv_handle_t *h) {
  struct lesson *l = h->data;
  l->open_handles--;
}

static void on_client_closed(struct http_client *cl) {
  struct lesson *l = cl->data;
  l->open_handles--;
}

/* Closes the clients from a timer of their own, never inside one of their callbacks (the
 * lesson often ends in one). */
static void on_finish_timer(uv_timer_t *t) {
  struct lesson *l = t->data;
  uv_close((uv_handle_t *)&l->timer, on_closed_handle);
  uv_close((uv_handle_t *)&l->sigint, NULL);
  uv_close((uv_handle_t *)&l->sigterm, NULL);
  l->api.data = l;
  http_client_close(&l->api, on_client_closed);
  for (int i = 0; i < LESSON_PROXIED_MAX; i++)
    if (l->proxied[i].used) {
      l->open_handles++;
      l->proxied[i].cl.data = l;
      http_client_close(&l->proxied[i].cl, on_client_closed);
    }
}

static void maybe_finish(struct lesson *l) {
  if (!l->done || l->lg_running || l->closing) return;
  l->closing = true;
  /* The UI hears the result now, while the loop still runs: a dashboard shows it and waits for
   * the presenter's q before it lets the loop end. */
  struct lesson_result res = {l->exit_code, l->expectations, l->failed, l->error};
  if (l->ui->on_done) l->ui->on_done(l->ui, &res);
  uv_timer_start(&l->timer, on_finish_timer, 0, 0);
}

static void host_finished(void *data, enum script_end how, const char *message) {
  struct lesson *l = data;
  if (l->done) return;
  l->done = true;
  if (how != SCRIPT_END_OK) {
    free(l->error);
    l->error = strdup(message ? message : "the lesson stopped");
    if (l->exit_code != LESSON_LAB_GONE) l->exit_code = LESSON_BROKEN;
  } else if (l->exit_code != LESSON_LAB_GONE) {
    l->exit_code = l->failed ? LESSON_FAILED : LESSON_PASSED;
  }
  if (l->lg_running) loadgen_stop(&l->lg);
  maybe_finish(l);
}

/* Ctrl-C or SIGTERM: the lesson ends where it is (its pending call is dropped), the load stops,
 * and lesson_run returns LESSON_INTERRUPTED. */
static void on_signal(uv_signal_t *h, int signum) {
  struct lesson *l = h->data;
  if (l->done) return;
  uv_timer_stop(&l->timer);
  l->paused = false;
  l->exit_code = LESSON_INTERRUPTED;
  free(l->error);
  l->error = strdup(signum == SIGINT ? "interrupted (Ctrl-C)" : "stopped (SIGTERM)");
  l->done = true;
  if (l->lg_running) loadgen_stop(&l->lg);
  maybe_finish(l);
}

enum lesson_exit lesson_run(uv_loop_t *loop, const struct lesson_opts *opts, struct lesson_ui *ui) {
  struct lesson *l = calloc(1, sizeof *l);
  if (!l) return LESSON_BROKEN;
  l->loop = loop;
  l->opts = opts;
  l->ui = ui;
  l->t0 = uv_hrtime();
  l->host = (struct script_host){host_call, host_finished, l};
  conn_env_init(&l->env, loop, 64 * 1024);
  http_client_init(&l->api, &l->env);
  l->api.max_body = 64u * 1024 * 1024;
  uv_timer_init(loop, &l->timer);
  l->timer.data = l;
  uv_signal_init(loop, &l->sigint);
  uv_signal_init(loop, &l->sigterm);
  l->sigint.data = l->sigterm.data = l;
  uv_signal_start(&l->sigint, on_signal, SIGINT);
  uv_signal_start(&l->sigterm, on_signal, SIGTERM);
  l->open_handles = 2; /* the timer, the API client */
  char addr[128], err[2048];
  enum lesson_exit code;
  if (labdir_read(opts->lab_dir, "api", addr, sizeof addr) != 0 || conn_addr_parse(&l->api_addr, addr) != 0) {
    l->done = true;
    l->exit_code = LESSON_LAB_GONE;
    l->error = strdup("no lab API address in the lab folder: is the lab running?");
    maybe_finish(l);
  } else if (!(l->script = script_new(NULL, &l->host, opts->seed))) {
    l->done = true;
    l->exit_code = LESSON_BROKEN;
    l->error = strdup("out of memory");
    maybe_finish(l);
  } else if (script_library(l->script, "lesson_api.lua", lesson_api_lua, lesson_api_lua_len, err, sizeof err) != 0 ||
             script_start(l->script, opts->file, opts->text, opts->len, err, sizeof err) != 0) {
    l->done = true;
    l->exit_code = LESSON_BROKEN;
    l->error = strdup(err);
    maybe_finish(l);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  code = l->exit_code;
  script_free(l->script);
  conn_env_free(&l->env);
  if (l->has_issuer) issuer_free(&l->issuer);
  free(l->error);
  free(l);
  return code;
}
