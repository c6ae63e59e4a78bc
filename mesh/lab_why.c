/* lab_why: GET /v1/why/REQUEST_ID, the lab's side of `meshlab why` (lab.h; the trace itself is
 * trace.h, the endpoint table lab_api.c, the command cli/cmd_why.c).
 *
 * A request crosses several proxies (the gateway, the caller's sidecar outbound, the callee's
 * sidecar inbound, ...) and each keeps its own decision traces. The lab asks every proxy's
 * admin listener (`<pod address>:15000`, GET /debug/why?id=ID) at once on its own loop, each
 * call bounded by LAB_WHY_TIMEOUT_MS, and answers once every proxy answered or timed out: a
 * proxy that does not answer is listed under "unreachable", never waited for beyond its
 * timeout. The records are merged in the order the hops happened (trace_records_sort).
 *
 * Answers: JSON (200 when some proxy has the request, 404 with the same shape when none), or
 * with o=text the console form the CLI prints (trace_record_text per hop and a summary line).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/client.h"
#include "mesh/lab.h"
#include "mesh/trace.h"

/* Admin listeners are on loopback: one that has not answered within this is stuck or gone. */
#define LAB_WHY_TIMEOUT_MS 1500

struct why_op;

struct why_call {
  struct why_op *op;
  char name[128];            /* NS/REPLICA's replica part, as status shows it */
  char admin[80];            /* HOST:PORT */
  int status;                /* HTTP status, or a negative error */
  char why[256];             /* why it was not asked, or its answer could not be read */
  struct trace_record *recs; /* owned */
  size_t nrecs;
};

struct why_op {
  struct lab *lab;
  struct server_request *r;
  struct http_client cl;
  uv_timer_t finish; /* closes the client outside its own callback */
  bool text;
  char id[64];
  size_t n, pending;
  struct why_call *calls;
};

static void on_finish_closed(uv_handle_t *h) {
  struct why_op *op = h->data;
  for (size_t i = 0; i < op->n; i++) free(op->calls[i].recs);
  free(op->calls);
  free(op);
}

static void on_client_closed(struct http_client *cl) {
  struct why_op *op = cl->data;
  uv_close((uv_handle_t *)&op->finish, on_finish_closed);
}

static void on_finish(uv_timer_t *t) {
  struct why_op *op = t->data;
  http_client_close(&op->cl, on_client_closed);
}

/* Every answer's records, in hop order; returns owned (free()), *n the count. */
static struct trace_record *merged(struct why_op *op, size_t *n) {
  size_t total = 0;
  for (size_t i = 0; i < op->n; i++) total += op->calls[i].nrecs;
  *n = 0;
  struct trace_record *all = total ? malloc(total * sizeof *all) : NULL;
  if (!all) return NULL;
  for (size_t i = 0; i < op->n; i++) {
    if (op->calls[i].nrecs) /* recs is NULL for a proxy with nothing: memcpy must not see it */
      memcpy(all + *n, op->calls[i].recs, op->calls[i].nrecs * sizeof *all);
    *n += op->calls[i].nrecs;
  }
  trace_records_sort(all, *n);
  return all;
}

static const char *call_error(const struct why_call *c, char *tmp, size_t n) {
  if (c->why[0]) return c->why;
  if (c->status < 0) snprintf(tmp, n, "its admin %s did not answer: %s", c->admin, uv_strerror(c->status));
  else snprintf(tmp, n, "its admin %s answered HTTP %d", c->admin, c->status);
  return tmp;
}

static bool call_failed(const struct why_call *c) { return c->why[0] || c->status != 200; }

static void answer_json(struct why_op *op, const struct trace_record *recs, size_t n) {
  struct buf out = {0}, q = {0};
  char tmp[256];
  buf_appendf(&out, "{\"request_id\":%s,\"proxies\":%zu,\"records\":[", lab_json_quote(&q, op->id), op->n);
  for (size_t i = 0; i < n; i++) {
    if (i) buf_append_str(&out, ",");
    trace_record_json(&recs[i], &out);
  }
  buf_append_str(&out, "],\"unreachable\":[");
  size_t k = 0;
  for (size_t i = 0; i < op->n; i++) {
    const struct why_call *c = &op->calls[i];
    if (!call_failed(c)) continue;
    buf_appendf(&out, "%s{\"proxy\":%s,", k++ ? "," : "", lab_json_quote(&q, c->name));
    buf_appendf(&out, "\"admin\":%s,", lab_json_quote(&q, c->admin));
    buf_appendf(&out, "\"error\":%s}", lab_json_quote(&q, call_error(c, tmp, sizeof tmp)));
  }
  buf_append_str(&out, "]}\n");
  buf_free(&q);
  if (!out.data) server_respond(op->r, 503, "text/plain; charset=utf-8", "out of memory\n", 14, NULL);
  else server_respond(op->r, n ? 200 : 404, "application/json", out.data, out.len, NULL);
  buf_free(&out);
}

static void answer_text(struct why_op *op, const struct trace_record *recs, size_t n) {
  struct lab_output o = {0};
  char tmp[256];
  for (size_t i = 0; i < n; i++) {
    trace_record_text(&recs[i], &o.out);
    buf_append_str(&o.out, "\n");
  }
  if (n) trace_records_summary(op->id, recs, n, &o.out);
  for (size_t i = 0; i < op->n; i++)
    if (call_failed(&op->calls[i]))
      buf_appendf(&o.err, "warning: %s: %s; its part of the request is missing\n", op->calls[i].name,
                  call_error(&op->calls[i], tmp, sizeof tmp));
  if (!n) {
    buf_appendf(&o.err,
                "no trace of request %s (traces keep the last 128 requests per proxy and the last 128 that "
                "failed)\n",
                op->id);
    o.exit_code = 1;
  }
  lab_api_respond_console(op->r, &o);
}

/* Every proxy answered (or could not be asked). */
static void why_answer(struct why_op *op) {
  size_t n = 0;
  struct trace_record *recs = merged(op, &n);
  if (op->text) answer_text(op, recs, n);
  else answer_json(op, recs, n);
  free(recs);
  op->r = NULL;
  uv_timer_start(&op->finish, on_finish, 0, 0);
}

static void on_why_done(struct http_client_call *call, int status) {
  struct why_call *c = call->data;
  c->status = status == 0 ? call->response.status : status;
  if (c->status == 200) {
    char proxy[64], err[200] = "";
    const struct buf *b = &call->response.body;
    if (trace_why_from_json(b->data ? b->data : "", b->len, proxy, sizeof proxy, &c->recs, &c->nrecs, err,
                            sizeof err) != 0)
      snprintf(c->why, sizeof c->why, "its answer could not be read: %s", err);
  }
  if (--c->op->pending == 0) why_answer(c->op);
}

/* Appends s percent-encoded for a query value. */
static void query_escape(struct buf *b, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch))
      buf_append(b, s, 1);
    else buf_appendf(b, "%%%02X", ch);
  }
}

void lab_why(struct lab *lab, struct server_request *r, const char *request_id, bool text) {
  size_t n = 0;
  for (struct lab_replica *rep = lab->replicas; rep; rep = rep->next) n += rep->present;
  struct why_op *op = calloc(1, sizeof *op);
  if (!op || !(op->calls = calloc(n ? n : 1, sizeof *op->calls))) {
    free(op);
    server_respond(r, 503, "text/plain; charset=utf-8", "out of memory\n", 14, NULL);
    return;
  }
  op->lab = lab;
  op->r = r;
  op->text = text;
  op->n = n;
  snprintf(op->id, sizeof op->id, "%s", request_id);
  http_client_init(&op->cl, &lab->env);
  op->cl.data = op;
  uv_timer_init(lab->loop, &op->finish);
  op->finish.data = op;
  /* Count every call first: a send may fail at once, and the answer must wait for the rest. */
  op->pending = n + 1;
  size_t i = 0;
  struct buf url = {0};
  for (struct lab_replica *rep = lab->replicas; rep && i < n; rep = rep->next) {
    if (!rep->present) continue;
    struct why_call *c = &op->calls[i++];
    c->op = op;
    snprintf(c->name, sizeof c->name, "%s", rep->name);
    snprintf(c->admin, sizeof c->admin, "%s:15000", rep->address);
    struct conn_addr ca;
    if (conn_addr_parse(&ca, c->admin) != 0) {
      snprintf(c->why, sizeof c->why, "its admin address %s is not HOST:PORT", c->admin);
      op->pending--;
      continue;
    }
    buf_reset(&url);
    buf_appendf(&url, "http://%s/debug/why?id=", c->admin);
    query_escape(&url, op->id);
    struct http_client_req req = {"GET", buf_cstr(&url), &ca, NULL, {NULL, 0}, LAB_WHY_TIMEOUT_MS};
    int rc = http_client_send(&op->cl, &req, on_why_done, c, NULL);
    if (rc != 0) {
      snprintf(c->why, sizeof c->why, "cannot call its admin %s: %s", c->admin, uv_strerror(rc));
      op->pending--;
    }
  }
  buf_free(&url);
  if (--op->pending == 0) why_answer(op);
}
