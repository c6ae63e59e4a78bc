/* The sample applications' runner, chaos layer and control endpoint: see app.h.
 *
 * Control endpoint (on --control, a unix socket in the lab):
 *   GET  /chaos               the knobs, as JSON
 *   POST /chaos               sets the knobs named in a JSON object (others keep their value):
 *                             {"latency_ms":2000,"jitter_ms":0,"error_rate":0.5,"error_code":503,
 *                              "hang":false,"crash":false,"slow_start_ms":0,"headers_forwarding":true}
 *   POST /chaos/clear         every knob back to off, header forwarding back to how the app
 *                             started; hung requests are served
 *   GET  /headers-forwarding  {"headers_forwarding":true}
 *   POST /headers-forwarding  body "on"/"off" or {"enabled":false}
 *   GET  /info                kind, version, name, namespace, addresses, requests served
 */
#include "services/app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "services/json.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static const char *const kind_names[APP_KIND_COUNT] = {"productpage", "details", "reviews",
                                                       "ratings",     "httpbin", "external"};

/* The handler of each kind, in enum app_kind's order. */
static void (*const kind_serve[APP_KIND_COUNT])(struct app_request *ar) = {
    productpage_serve, details_serve, reviews_serve, ratings_serve, httpbin_serve, external_serve,
};

static const char *const service_names[APP_SVC_COUNT] = {"details", "reviews", "ratings"};

/* What Bookinfo's apps forward (productpage.py's list and reviews' headers_to_propagate) and
 * what the brief adds: W3C trace context, B3 (multi and single header), the request id Envoy
 * uses to tie logs and traces, and end-user for the request-routing task. */
const char *const app_forwarded_headers[] = {
    "x-request-id",      "traceparent",  "tracestate",    "x-b3-traceid", "x-b3-spanid",
    "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags",    "b3",           "x-ot-span-context",
    "end-user",          "user-agent",   "authorization", "cookie",
};
const size_t app_forwarded_headers_count = sizeof app_forwarded_headers / sizeof app_forwarded_headers[0];

int app_kind_parse(const char *s, enum app_kind *out) {
  for (int k = 0; k < APP_KIND_COUNT; k++)
    if (strcmp(s, kind_names[k]) == 0) {
      *out = (enum app_kind)k;
      return 0;
    }
  return -EINVAL;
}

const char *app_kind_name(enum app_kind k) { return (unsigned)k < APP_KIND_COUNT ? kind_names[k] : "?"; }
const char *app_service_name(enum app_service s) { return (unsigned)s < APP_SVC_COUNT ? service_names[s] : "?"; }

const char *app_address(const struct app *a) { return a->srv.address; }
const char *app_control_address(const struct app *a) { return a->has_ctl ? a->ctl.address : ""; }

static uint64_t now_ms(const struct app *a) { return uv_now(a->loop); }

/* ---- request lifetime ---------------------------------------------------------------------- */

static void maybe_stopped(struct app *a) {
  if (a->stopping && a->parts_open == 0 && a->nrequests == 0 && a->on_stopped) {
    void (*cb)(struct app *) = a->on_stopped;
    a->on_stopped = NULL;
    cb(a);
  }
}

static void on_request_timer_closed(uv_handle_t *h) {
  struct app_request *ar = container_of((uv_timer_t *)h, struct app_request, timer);
  struct app *a = ar->app;
  buf_free(&ar->forward);
  for (int i = 0; i < APP_CALL_SLOTS; i++) buf_free(&ar->got_body[i]);
  free(ar);
  a->nrequests--;
  maybe_stopped(a);
}

void app_reply(struct app_request *ar, int status, const char *content_type, const char *body, size_t len,
               const char *extra_headers) {
  if (ar->done) return;
  ar->done = 1;
  struct app *a = ar->app;
  for (int i = 0; i < APP_CALL_SLOTS; i++)
    if (ar->call[i]) http_client_cancel(ar->call[i]); /* its callback sees `done` and returns */
  if (ar->state == APP_REQ_HUNG) a->nhung--;
  if (ar->prev) ar->prev->next = ar->next;
  else a->requests = ar->next;
  if (ar->next) ar->next->prev = ar->prev;
  uv_timer_stop(&ar->timer);
  server_respond(ar->r, status, content_type, body, len, extra_headers);
  a->served++;
  uv_close((uv_handle_t *)&ar->timer, on_request_timer_closed);
}

void app_reply_json(struct app_request *ar, int status, const struct buf *json) {
  app_reply(ar, status, "application/json", json->data, json->len, NULL);
}

void app_reply_text(struct app_request *ar, int status, const char *text) {
  app_reply(ar, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

static void on_request_timer(uv_timer_t *t) {
  struct app_request *ar = container_of(t, struct app_request, timer);
  void (*fn)(struct app_request *) = ar->on_timer;
  ar->on_timer = NULL;
  if (fn) fn(ar);
}

void app_after(struct app_request *ar, uint64_t ms, void (*fn)(struct app_request *ar)) {
  ar->on_timer = fn;
  uv_timer_start(&ar->timer, on_request_timer, ms, 0);
}

/* ---- calls to other services ----------------------------------------------------------------- */

static void on_call_done(struct http_client_call *call, int status) {
  struct app_request *ar = call->data;
  int slot = 0;
  while (slot < APP_CALL_SLOTS && ar->call[slot] != call) slot++;
  if (slot == APP_CALL_SLOTS) return;
  ar->call[slot] = NULL;
  if (ar->done) return; /* cancelled by app_reply */
  ar->call_cb[slot](ar, status, slot, status == 0 ? &call->response : NULL);
}

int app_call(struct app_request *ar, int slot, enum app_service svc, const char *path, uint64_t timeout_ms,
             app_call_cb cb) {
  struct app *a = ar->app;
  if (slot < 0 || slot >= APP_CALL_SLOTS || ar->call[slot]) return -EINVAL;
  char url[512];
  snprintf(url, sizeof url, "http://%s:9080%s", service_names[svc], path);
  struct buf headers = {0};
  if (a->forwarding && ar->forward.len) buf_append(&headers, ar->forward.data, ar->forward.len);
  if (ar->end_user[0]) buf_appendf(&headers, "end-user: %s\r\n", ar->end_user);
  double scale = a->opt.time_scale > 0 ? a->opt.time_scale : 1.0;
  uint64_t timeout = (uint64_t)((double)timeout_ms * scale + 0.5);
  if (timeout_ms && timeout == 0) timeout = 1;
  struct http_client_req req = {
      .method = "GET",
      .url = url,
      .connect = a->has_upstream[svc] ? &a->upstream[svc] : NULL,
      .headers = headers.len ? buf_cstr(&headers) : NULL,
      .timeout_ms = timeout,
  };
  ar->call_cb[slot] = cb;
  int rc = http_client_send(&a->client, &req, on_call_done, ar, &ar->call[slot]);
  if (rc != 0) ar->call[slot] = NULL;
  buf_free(&headers);
  return rc;
}

/* ---- request helpers ----------------------------------------------------------------------- */

int app_path(const struct app_request *ar, char *out, size_t n) {
  struct slice p = ar->r->path;
  if (p.n + 1 > n) return -1;
  memcpy(out, p.p, p.n);
  out[p.n] = '\0';
  return 0;
}

int app_path_prefix(const char *path, const char *prefix, const char **rest) {
  size_t n = strlen(prefix);
  if (strncmp(path, prefix, n) != 0) return 0;
  if (rest) *rest = path + n;
  return 1;
}

const struct slice *app_header(const struct app_request *ar, const char *name) {
  return http_head_find(ar->r->head, name);
}

void app_origin(const struct app_request *ar, char *out, size_t n) {
  const struct slice *xff = app_header(ar, "x-forwarded-for");
  if (xff && xff->n) {
    size_t len = 0;
    while (len < xff->n && xff->p[len] != ',') len++;
    while (len > 0 && xff->p[len - 1] == ' ') len--;
    snprintf(out, n, "%.*s", (int)len, xff->p);
    return;
  }
  snprintf(out, n, "127.0.0.1");
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t app_url_decode(struct slice in, char *out, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < in.n && o + 1 < n; i++) {
    char c = in.p[i];
    if (c == '+') c = ' ';
    else if (c == '%' && i + 2 < in.n + 0 && hexval(in.p[i + 1]) >= 0 && hexval(in.p[i + 2]) >= 0) {
      c = (char)(hexval(in.p[i + 1]) * 16 + hexval(in.p[i + 2]));
      i += 2;
    }
    out[o++] = c;
  }
  if (n) out[o] = '\0';
  return o;
}

int app_form_value(struct slice form, const char *key, char *out, size_t n) {
  const char *p = form.p, *end = form.p ? form.p + form.n : NULL;
  size_t klen = strlen(key);
  while (p && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pair_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pair_end - p));
    const char *kend = eq ? eq : pair_end;
    char name[128];
    app_url_decode((struct slice){p, (size_t)(kend - p)}, name, sizeof name);
    if (strlen(name) == klen && memcmp(name, key, klen) == 0) {
      struct slice v = eq ? (struct slice){eq + 1, (size_t)(pair_end - eq - 1)} : (struct slice){p, 0};
      app_url_decode(v, out, n);
      return 1;
    }
    p = amp ? amp + 1 : end;
  }
  if (n) out[0] = '\0';
  return 0;
}

/* The headers of the incoming request that its outgoing calls carry on. */
static void collect_forward(struct app_request *ar) {
  const struct http_head *h = ar->r->head;
  for (size_t i = 0; i < h->nheaders; i++)
    for (size_t k = 0; k < app_forwarded_headers_count; k++)
      if (slice_eq_str_nocase(h->headers[i].name, app_forwarded_headers[k])) {
        buf_append_str(&ar->forward, app_forwarded_headers[k]);
        buf_append(&ar->forward, ": ", 2);
        buf_append_slice(&ar->forward, h->headers[i].value);
        buf_append(&ar->forward, "\r\n", 2);
        break;
      }
}

/* ---- the chaos layer ----------------------------------------------------------------------- */

/* Health checks are answered even when latency and error chaos are on (Kubernetes probes do not
 * go through Istio's fault injection either); slow start and hang do stop them. */
static int is_health(const struct app_request *ar) {
  struct slice p = ar->r->path;
  return p.n == 7 && memcmp(p.p, "/health", 7) == 0;
}

static void serve_now(struct app_request *ar) {
  struct app *a = ar->app;
  ar->state = APP_REQ_SERVING;
  if (!is_health(ar) && a->chaos.error_rate > 0 && rng_double(&a->rng) < a->chaos.error_rate) {
    char body[96];
    snprintf(body, sizeof body, "chaos: injected error %d from %s\n", a->chaos.error_code,
             a->opt.name ? a->opt.name : kind_names[a->opt.kind]);
    app_reply_text(ar, a->chaos.error_code, body);
    return;
  }
  kind_serve[a->opt.kind](ar);
}

uint64_t app_chaos_latency(const struct app_chaos *c, struct rng *rng) {
  int64_t ms = (int64_t)c->latency_ms;
  if (c->jitter_ms) {
    uint64_t span = 2 * c->jitter_ms + 1;
    ms += (int64_t)(rng_next(rng) % span) - (int64_t)c->jitter_ms;
  }
  return ms > 0 ? (uint64_t)ms : 0;
}

static void on_request(struct server_request *r) {
  struct app *a = r->user;
  if (a->stopping) {
    server_respond(r, 503, "text/plain", "shutting down\n", 14, NULL);
    return;
  }
  struct app_request *ar = calloc(1, sizeof *ar);
  if (!ar) {
    server_respond(r, 503, "text/plain", "out of memory\n", 14, NULL);
    return;
  }
  ar->app = a;
  ar->r = r;
  ar->id = -1;
  uv_timer_init(a->loop, &ar->timer);
  a->nrequests++;
  ar->next = a->requests;
  if (a->requests) a->requests->prev = ar;
  a->requests = ar;
  collect_forward(ar);
  if (now_ms(a) < a->chaos.ready_at) {
    app_reply_text(ar, 503, "not ready: slow start\n");
    return;
  }
  if (a->chaos.hang) {
    ar->state = APP_REQ_HUNG;
    a->nhung++;
    return;
  }
  uint64_t delay = is_health(ar) ? 0 : app_chaos_latency(&a->chaos, &a->rng);
  if (delay) {
    ar->state = APP_REQ_DELAYED;
    app_after(ar, delay, serve_now);
    return;
  }
  serve_now(ar);
}

/* Hung requests resume (a frozen process thawing) once hang is turned off. */
static void thaw(struct app *a) {
  struct app_request *ar = a->requests, *next;
  for (; ar; ar = next) {
    next = ar->next;
    if (ar->state != APP_REQ_HUNG) continue;
    a->nhung--;
    ar->state = APP_REQ_SERVING;
    serve_now(ar);
  }
}

/* ---- the control endpoint --------------------------------------------------------------------- */

static void write_knobs(struct app *a, struct buf *b) {
  struct json_out w;
  json_out_init(&w, b);
  json_out_object_begin(&w);
  json_out_key(&w, "latency_ms");
  json_out_int(&w, (int64_t)a->chaos.latency_ms);
  json_out_key(&w, "jitter_ms");
  json_out_int(&w, (int64_t)a->chaos.jitter_ms);
  json_out_key(&w, "error_rate");
  json_out_double(&w, a->chaos.error_rate);
  json_out_key(&w, "error_code");
  json_out_int(&w, a->chaos.error_code);
  json_out_key(&w, "hang");
  json_out_bool(&w, a->chaos.hang);
  json_out_key(&w, "crash");
  json_out_bool(&w, 0);
  json_out_key(&w, "slow_start_ms");
  json_out_int(&w, (int64_t)a->chaos.slow_start_ms);
  json_out_key(&w, "ready");
  json_out_bool(&w, now_ms(a) >= a->chaos.ready_at);
  json_out_key(&w, "hung_requests");
  json_out_int(&w, (int64_t)a->nhung);
  json_out_key(&w, "headers_forwarding");
  json_out_bool(&w, a->forwarding);
  json_out_object_end(&w);
  buf_append(b, "\n", 1);
}

static void respond_json(struct server_request *r, int status, struct buf *b) {
  server_respond(r, status, "application/json", b->data, b->len, NULL);
  buf_free(b);
}

void app_error_json(struct buf *b, const char *msg) {
  struct json_out w;
  json_out_init(&w, b);
  json_out_object_begin(&w);
  json_out_key(&w, "error");
  json_out_string(&w, msg);
  json_out_object_end(&w);
}

void app_reply_error(struct app_request *ar, int status, const char *msg) {
  struct buf b = {0};
  app_error_json(&b, msg);
  app_reply_json(ar, status, &b);
  buf_free(&b);
}

static void respond_error(struct server_request *r, int status, const char *msg) {
  struct buf b = {0};
  app_error_json(&b, msg);
  buf_append(&b, "\n", 1);
  respond_json(r, status, &b);
}

static void on_crash_timer(uv_timer_t *t) {
  struct app *a = container_of(t, struct app, crash_timer);
  fprintf(stderr, "meshlab app %s: crashing on request (chaos)\n", kind_names[a->opt.kind]);
  fflush(stderr);
  if (a->crash) a->crash(a, APP_CRASH_EXIT_CODE);
  else _exit(APP_CRASH_EXIT_CODE);
}

/* Reads a non-negative millisecond count. Returns 1 when key is absent, 0 when set, -1 when
 * the value is not a non-negative number. */
static int read_ms(const struct json_node *obj, const char *key, uint64_t *out) {
  const struct json_node *n = json_node_get(obj, key);
  if (!n) return 1;
  double v;
  if (!json_node_number(n, &v) || v < 0 || v > 86400000.0) return -1;
  *out = (uint64_t)v;
  return 0;
}

/* Applies a POST /chaos body: every field checked first, then applied together, so a bad
 * request changes nothing. Returns 0, or -EINVAL with what was wrong in why. */
static int apply_chaos(struct app *a, const struct buf *body, int *crash, char *why, size_t whylen) {
  struct json_doc *d = json_doc_parse(body->data ? body->data : "", body->len);
  const struct json_node *o = json_doc_root(d);
  if (!json_node_is_object(o)) {
    json_doc_free(d);
    snprintf(why, whylen, "the body must be a JSON object such as {\"latency_ms\":2000,\"error_rate\":0.5}");
    return -EINVAL;
  }
  static const char *const known[] = {"latency_ms", "jitter_ms", "error_rate",    "error_code",
                                      "hang",       "crash",     "slow_start_ms", "headers_forwarding"};
  struct app_chaos c = a->chaos;
  uint64_t slow = 0;
  int has_slow = 0, hang = c.hang, forwarding = a->forwarding;
  const char *msg = NULL;
  double v;
  int rc;
  if ((rc = read_ms(o, "latency_ms", &c.latency_ms)) < 0) msg = "latency_ms must be a number of milliseconds >= 0";
  if (!msg && (rc = read_ms(o, "jitter_ms", &c.jitter_ms)) < 0) msg = "jitter_ms must be a number of milliseconds >= 0";
  if (!msg && (rc = read_ms(o, "slow_start_ms", &slow)) < 0)
    msg = "slow_start_ms must be a number of milliseconds >= 0";
  has_slow = !msg && rc == 0;
  const struct json_node *n;
  if (!msg && (n = json_node_get(o, "error_rate"))) {
    if (!json_node_number(n, &v) || v < 0 || v > 1) msg = "error_rate must be a number from 0 to 1";
    else c.error_rate = v;
  }
  if (!msg && (n = json_node_get(o, "error_code"))) {
    if (!json_node_number(n, &v) || v < 200 || v > 599 || v != (double)(int)v)
      msg = "error_code must be an HTTP status from 200 to 599";
    else c.error_code = (int)v;
  }
  if (!msg && (n = json_node_get(o, "hang")) && !json_node_bool(n, &hang)) msg = "hang must be true or false";
  if (!msg && (n = json_node_get(o, "crash")) && !json_node_bool(n, crash)) msg = "crash must be true or false";
  /* Not chaos in the strict sense, but the knob a lesson turns with the others: the lab's
   * `meshlab chaos --headers-forwarding off` arrives here (GET /chaos already reports it). */
  if (!msg && (n = json_node_get(o, "headers_forwarding")) && !json_node_bool(n, &forwarding))
    msg = "headers_forwarding must be true or false";
  /* An unknown key is an error, never silently ignored (the lab's rule for config too). */
  const char *unknown = msg ? NULL : json_node_first_unknown_key(o, known, sizeof known / sizeof known[0]);
  if (msg) snprintf(why, whylen, "%s", msg);
  else if (unknown)
    snprintf(why, whylen,
             "unknown chaos knob \"%s\": the knobs are latency_ms, jitter_ms, error_rate, error_code, hang, "
             "crash, slow_start_ms, headers_forwarding",
             unknown);
  json_doc_free(d);
  if (msg || unknown) return -EINVAL;
  c.hang = hang;
  if (has_slow) {
    c.slow_start_ms = slow;
    c.ready_at = now_ms(a) + slow;
  }
  int thawing = a->chaos.hang && !c.hang;
  a->chaos = c;
  a->forwarding = forwarding;
  if (thawing) thaw(a);
  return 0;
}

static void on_control(struct server_request *r) {
  struct app *a = r->user;
  struct slice p = r->path;
  int get = slice_eq_str_nocase(r->head->method, "GET"), post = slice_eq_str_nocase(r->head->method, "POST");
  struct buf b = {0};
  if (slice_eq_str_nocase(p, "/chaos") && (get || post)) {
    int crash = 0;
    if (post) {
      char why[256];
      if (apply_chaos(a, &r->body, &crash, why, sizeof why) != 0) {
        respond_error(r, 400, why);
        return;
      }
    }
    write_knobs(a, &b);
    respond_json(r, 200, &b);
    if (crash) uv_timer_start(&a->crash_timer, on_crash_timer, 20, 0);
    return;
  }
  if (slice_eq_str_nocase(p, "/chaos/clear") && post) {
    int thawing = a->chaos.hang;
    memset(&a->chaos, 0, sizeof a->chaos);
    a->chaos.error_code = 503;
    /* Clear undoes what was turned at runtime: forwarding as --headers-forwarding started it
     * (on in the lab), so `meshlab chaos --clear` and a lesson's reset() join traces up again. */
    a->forwarding = !a->opt.no_forwarding;
    if (thawing) thaw(a);
    write_knobs(a, &b);
    respond_json(r, 200, &b);
    return;
  }
  if (slice_eq_str_nocase(p, "/headers-forwarding") && (get || post)) {
    if (post) {
      struct slice body = {r->body.data, r->body.len};
      while (body.n && (body.p[body.n - 1] == '\n' || body.p[body.n - 1] == '\r' || body.p[body.n - 1] == ' '))
        body.n--;
      int on = -1;
      if (slice_eq_str_nocase(body, "on") || slice_eq_str_nocase(body, "true")) on = 1;
      else if (slice_eq_str_nocase(body, "off") || slice_eq_str_nocase(body, "false")) on = 0;
      else {
        struct json_doc *d = json_doc_parse(body.p ? body.p : "", body.n);
        int v;
        if (json_node_bool(json_node_get(json_doc_root(d), "enabled"), &v)) on = v;
        json_doc_free(d);
      }
      if (on < 0) {
        respond_error(r, 400, "the body must be on, off, or {\"enabled\": true|false}");
        return;
      }
      a->forwarding = on;
    }
    buf_appendf(&b, "{\"headers_forwarding\":%s}\n", a->forwarding ? "true" : "false");
    respond_json(r, 200, &b);
    return;
  }
  if (slice_eq_str_nocase(p, "/info") && get) {
    struct json_out w;
    json_out_init(&w, &b);
    json_out_object_begin(&w);
    json_out_key(&w, "kind");
    json_out_string(&w, kind_names[a->opt.kind]);
    json_out_key(&w, "version");
    json_out_string(&w, a->opt.version ? a->opt.version : "v1");
    json_out_key(&w, "name");
    json_out_string(&w, a->opt.name ? a->opt.name : "");
    json_out_key(&w, "namespace");
    json_out_string(&w, a->opt.ns ? a->opt.ns : "default");
    json_out_key(&w, "listen");
    json_out_string(&w, a->srv.address);
    json_out_key(&w, "pid");
    json_out_int(&w, (int64_t)getpid());
    json_out_key(&w, "served");
    json_out_int(&w, (int64_t)a->served);
    json_out_object_end(&w);
    buf_append(&b, "\n", 1);
    respond_json(r, 200, &b);
    return;
  }
  if (slice_eq_str_nocase(p, "/chaos") || slice_eq_str_nocase(p, "/chaos/clear") ||
      slice_eq_str_nocase(p, "/headers-forwarding") || slice_eq_str_nocase(p, "/info")) {
    respond_error(r, 405, "method not allowed here");
    return;
  }
  respond_error(r, 404, "control paths: GET|POST /chaos, POST /chaos/clear, GET|POST /headers-forwarding, GET /info");
}

/* ---- start and stop ------------------------------------------------------------------------ */

/* A unix socket left behind by a crashed run would make the bind fail; sockets only. */
static void remove_stale_socket(const struct conn_addr *addr) {
  struct stat st;
  if (addr->kind == CONN_PIPE && stat(addr->path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(addr->path);
}

int app_start(struct app *a, uv_loop_t *loop, const struct app_options *opt, char *err, size_t errlen) {
  memset(a, 0, sizeof *a);
  a->loop = loop;
  a->opt = *opt;
  a->forwarding = !opt->no_forwarding;
  a->chaos.error_code = 503;
  a->version = 1;
  if (opt->version) {
    const char *v = opt->version[0] == 'v' ? opt->version + 1 : opt->version;
    a->version = atoi(v);
    if (a->version < 1 || a->version > 3) a->version = 1;
  }
  if (opt->seeded) rng_seed(&a->rng, opt->seed);
  else rng_seed_os(&a->rng);
  conn_env_init(&a->env, loop, 65536);
  http_client_init(&a->client, &a->env);
  a->client.data = a;
  uv_timer_init(loop, &a->crash_timer);
  a->parts_open = 2; /* the client and the app's server: closed by app_stop whatever happens */
  a->srv.h.handle.data = NULL;
  int rc = 0;
  if (opt->proxy && http_client_set_proxy(&a->client, opt->proxy) != 0) {
    snprintf(err, errlen, "--proxy \"%s\" is not HOST:PORT (numeric IP or localhost) or unix:/path", opt->proxy);
    rc = -EINVAL;
  }
  for (int s = 0; s < APP_SVC_COUNT && rc == 0; s++) {
    if (!opt->upstream[s]) continue;
    if (conn_addr_parse(&a->upstream[s], opt->upstream[s]) != 0) {
      snprintf(err, errlen, "--upstream-%s \"%s\" is not HOST:PORT or unix:/path", service_names[s], opt->upstream[s]);
      rc = -EINVAL;
    }
    a->has_upstream[s] = 1;
  }
  struct conn_addr addr;
  if (rc == 0 && conn_addr_parse(&addr, opt->listen) != 0) {
    snprintf(err, errlen, "--listen \"%s\" is not HOST:PORT (numeric IP or localhost) or unix:/path", opt->listen);
    rc = -EINVAL;
  }
  a->chaos.ready_at = now_ms(a) + opt->slow_start_ms;
  a->chaos.slow_start_ms = opt->slow_start_ms;
  if (rc == 0) {
    remove_stale_socket(&addr);
    rc = server_listen(&a->srv, &a->env, &addr, on_request, a);
    if (rc != 0) snprintf(err, errlen, "cannot listen on %s: %s", opt->listen, uv_strerror(rc));
  } else {
    /* Nothing was opened: keep app_stop's accounting simple by listening nowhere. */
    a->parts_open--;
  }
  if (rc == 0 && opt->control) {
    struct conn_addr caddr;
    if (conn_addr_parse(&caddr, opt->control) != 0) {
      snprintf(err, errlen, "--control \"%s\" is not HOST:PORT (numeric IP or localhost) or unix:/path", opt->control);
      return -EINVAL;
    }
    remove_stale_socket(&caddr);
    a->has_ctl = 1;
    a->parts_open++;
    rc = server_listen(&a->ctl, &a->env, &caddr, on_control, a);
    if (rc != 0) snprintf(err, errlen, "cannot listen on %s: %s", opt->control, uv_strerror(rc));
  }
  return rc;
}

static void on_part_closed(struct app *a) {
  a->parts_open--;
  maybe_stopped(a);
}

static void on_server_closed(struct http_server *srv) { on_part_closed(srv->user); }
static void on_client_closed(struct http_client *cl) { on_part_closed(cl->data); }

void app_stop(struct app *a, void (*on_stopped)(struct app *a)) {
  if (a->stopping) return;
  a->stopping = 1;
  a->on_stopped = on_stopped;
  uv_close((uv_handle_t *)&a->crash_timer, NULL);
  /* Outgoing calls end first (their handlers answer with what they have), then whatever is
   * still waiting on chaos gets 503. */
  a->parts_open++; /* held while this function runs, so on_stopped fires once, at the end */
  http_client_close(&a->client, on_client_closed);
  while (a->requests) app_reply_text(a->requests, 503, "shutting down\n");
  if (a->srv.h.handle.data) server_close(&a->srv, on_server_closed);
  if (a->has_ctl) server_close(&a->ctl, on_server_closed);
  on_part_closed(a);
}

void app_free(struct app *a) { conn_env_free(&a->env); }
