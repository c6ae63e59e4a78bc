/* The in-process apps fixture: see app_fixture.h. */
#include "app_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void appfix_init(struct appfix *f) {
  memset(f, 0, sizeof *f);
  loop_thread_init(&f->lt);
  conn_env_init(&f->env, &f->lt.loop, 65536);
}

static int port_of(const char *address) {
  const char *colon = strrchr(address, ':');
  return colon ? atoi(colon + 1) : 0;
}

static void on_crash(struct app *a, int code) {
  struct appfix *f = a->data;
  (void)code;
  f->crashes[a - f->apps]++;
}

int appfix_add(struct appfix *f, enum app_kind kind, const char *version, int details, int reviews, int ratings,
               int proxy_port, double time_scale) {
  if (f->napps >= APPFIX_MAX) return -1;
  int i = f->napps;
  struct app_options o = {0};
  o.kind = kind;
  o.listen = "127.0.0.1:0";
  o.control = "127.0.0.1:0";
  o.version = version;
  o.name = app_kind_name(kind);
  o.ns = "default";
  o.seeded = 1;
  o.seed = 42;
  o.time_scale = time_scale;
  int ports[3] = {details, reviews, ratings};
  for (int s = 0; s < 3; s++)
    if (ports[s] > 0) {
      snprintf(f->text[i][s], sizeof f->text[i][s], "127.0.0.1:%d", ports[s]);
      o.upstream[s] = f->text[i][s];
    }
  if (proxy_port > 0) {
    snprintf(f->text[i][3], sizeof f->text[i][3], "127.0.0.1:%d", proxy_port);
    o.proxy = f->text[i][3];
  }
  char err[256];
  if (app_start(&f->apps[i], &f->lt.loop, &o, err, sizeof err) != 0) {
    fprintf(stderr, "app_start: %s\n", err);
    return -1;
  }
  f->apps[i].crash = on_crash;
  f->apps[i].data = f;
  f->ports[i] = port_of(app_address(&f->apps[i]));
  f->control_ports[i] = port_of(app_control_address(&f->apps[i]));
  f->napps++;
  return i;
}

static void on_record(struct server_request *r) {
  struct recorder *rec = r->user;
  buf_reset(&rec->last);
  buf_append_slice(&rec->last, r->head->method);
  buf_append(&rec->last, " ", 1);
  buf_append_slice(&rec->last, r->head->target);
  buf_append(&rec->last, "\n", 1);
  for (size_t i = 0; i < r->head->nheaders; i++) {
    buf_append_slice(&rec->last, r->head->headers[i].name);
    buf_append(&rec->last, ": ", 2);
    buf_append_slice(&rec->last, r->head->headers[i].value);
    buf_append(&rec->last, "\n", 1);
  }
  rec->count++;
  server_respond(r, rec->status, "application/json", rec->reply, strlen(rec->reply), NULL);
}

int appfix_recorder(struct appfix *f, int status, const char *reply) {
  struct conn_addr addr;
  conn_addr_parse(&addr, "127.0.0.1:0");
  f->rec.status = status;
  snprintf(f->rec.reply, sizeof f->rec.reply, "%s", reply);
  if (server_listen(&f->rec.srv, &f->env, &addr, on_record, &f->rec) != 0) return -1;
  f->has_rec = 1;
  f->rec.port = port_of(f->rec.srv.address);
  return f->rec.port;
}

void appfix_run(struct appfix *f) { loop_thread_start(&f->lt); }

static void call_trampoline(void *ctx, void *arg) {
  struct appfix *f = ctx;
  (void)arg;
  f->fn(f, f->arg);
}

void appfix_call(struct appfix *f, void (*fn)(struct appfix *f, void *arg), void *arg) {
  f->fn = fn;
  f->arg = arg;
  loop_thread_call(&f->lt, call_trampoline, f, NULL);
}

struct recorded {
  struct buf *out;
  int *count;
};

static void do_recorded(struct appfix *f, void *arg) {
  struct recorded *r = arg;
  buf_reset(r->out);
  buf_append(r->out, f->rec.last.data ? f->rec.last.data : "", f->rec.last.len);
  buf_cstr(r->out);
  if (r->count) *r->count = f->rec.count;
}

void appfix_recorded(struct appfix *f, struct buf *out, int *count) {
  struct recorded r = {out, count};
  appfix_call(f, do_recorded, &r);
}

static void do_stop(struct appfix *f, void *arg) {
  (void)arg;
  for (int i = 0; i < f->napps; i++) app_stop(&f->apps[i], NULL);
  if (f->has_rec) server_close(&f->rec.srv, NULL);
}

int appfix_stop(struct appfix *f) {
  appfix_call(f, do_stop, NULL);
  int rc = loop_thread_join(&f->lt);
  for (int i = 0; i < f->napps; i++) app_free(&f->apps[i]);
  buf_free(&f->rec.last);
  conn_env_free(&f->env);
  return rc;
}

int http_do(int port, const char *method, const char *path, const char *headers, const char *body,
            struct client_response *r) {
  struct client c;
  memset(r, 0, sizeof *r);
  if (client_open(&c, port) != 0) return -1;
  struct buf req = {0};
  size_t blen = body ? strlen(body) : 0;
  buf_appendf(&req, "%s %s HTTP/1.1\r\nhost: test\r\n%s", method, path, headers ? headers : "");
  if (body || strcmp(method, "POST") == 0) buf_appendf(&req, "content-length: %zu\r\n", blen);
  buf_append(&req, "\r\n", 2);
  if (blen) buf_append(&req, body, blen);
  int rc = client_send(&c, req.data, req.len);
  buf_free(&req);
  if (rc == 0) rc = client_read(&c, r);
  buf_cstr(&r->body);
  buf_cstr(&r->headers);
  client_close(&c);
  return rc;
}

double now_ms_test(void) { return (double)uv_hrtime() / 1e6; }
