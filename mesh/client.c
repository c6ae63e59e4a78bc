/* The asynchronous HTTP/1.1 client: see client.h.
 *
 * A call moves through: pick a connection (an idle pooled one to the same address, or a new
 * one), write the request (conn buffers it while connecting), parse the response with the same
 * strict parser the proxy uses, then hand the connection back to the pool when the response
 * said keep-alive and nothing followed it. Timeouts cover the whole exchange; a timed-out or
 * cancelled call closes its connection, since a late response would otherwise be read as the
 * answer to the next request on it.
 */
#include "mesh/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/http_head.h"

struct http_client_conn {
  struct conn conn;
  struct http_client *cl;
  struct http_client_conn *next, *prev;
  struct http_parser *parser;
  struct http_client_call *call; /* the call it carries; NULL while idle */
  char key[128];                 /* the address it goes to, as conn_addr text */
  unsigned idle : 1, closing : 1, interim : 1, complete : 1, keep_alive : 1;
};

static void maybe_closed(struct http_client *cl) {
  if (cl->closing && cl->live_handles == 0 && cl->on_closed) {
    void (*cb)(struct http_client *) = cl->on_closed;
    cl->on_closed = NULL;
    cb(cl);
  }
}

/* ---- connections ------------------------------------------------------------------------ */

static void on_cc_closed(struct conn *c) {
  struct http_client_conn *cc = c->data;
  struct http_client *cl = cc->cl;
  if (cc->prev) cc->prev->next = cc->next;
  else cl->conns = cc->next;
  if (cc->next) cc->next->prev = cc->prev;
  http_parser_free(cc->parser);
  free(cc);
  cl->live_handles--;
  maybe_closed(cl);
}

static void cc_close(struct http_client_conn *cc) {
  if (cc->closing) return;
  cc->closing = 1;
  if (cc->idle) {
    cc->idle = 0;
    cc->cl->nidle--;
  }
  if (cc->call) {
    cc->call->cc = NULL;
    cc->call = NULL;
  }
  conn_close(&cc->conn);
}

static void on_cc_read(struct conn *c, int status, const char *data, size_t len);
static void on_cc_connect(struct conn *c, int status);

/* Returns a new connection to addr, or NULL (out of memory, or the connect failed at once:
 * *err says why). */
static struct http_client_conn *cc_new(struct http_client *cl, const struct conn_addr *addr, int *err) {
  struct http_client_conn *cc = calloc(1, sizeof *cc);
  if (!cc) {
    *err = -ENOMEM;
    return NULL;
  }
  cc->cl = cl;
  cc->parser = http_parser_new(HTTP_PARSE_RESPONSE, &cl->cbs, &cl->limits, cc);
  if (!cc->parser) {
    free(cc);
    *err = -ENOMEM;
    return NULL;
  }
  snprintf(cc->key, sizeof cc->key, "%s", addr->text);
  int rc = conn_connect(&cc->conn, cl->env, addr, on_cc_connect);
  /* Whatever conn_connect said, a handle exists now and ends with conn_close. */
  cc->conn.data = cc;
  cc->conn.on_read = on_cc_read;
  cc->conn.on_close = on_cc_closed;
  cc->next = cl->conns;
  if (cl->conns) cl->conns->prev = cc;
  cl->conns = cc;
  cl->live_handles++;
  if (rc != 0) {
    cc_close(cc);
    *err = rc;
    return NULL;
  }
  return cc;
}

/* ---- calls -------------------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) {
  struct http_client_call *call = h->data;
  struct http_client *cl = call->cl;
  buf_free(&call->out);
  buf_free(&call->response.body);
  arena_free(&call->arena);
  free(call);
  cl->live_handles--;
  maybe_closed(cl);
}

/* Ends a call: detaches it, runs its callback, frees it once its timer has closed. */
static void call_finish(struct http_client_call *call, int status) {
  if (call->done) return;
  call->done = 1;
  struct http_client *cl = call->cl;
  if (call->prev) call->prev->next = call->next;
  else cl->calls = call->next;
  if (call->next) call->next->prev = call->prev;
  uv_timer_stop(&call->timer);
  if (call->cc) {
    call->cc->call = NULL;
    call->cc = NULL;
  }
  call->cb(call, status);
  uv_close((uv_handle_t *)&call->timer, on_timer_closed);
}

/* Fails a call and drops its connection (it may be mid-exchange). */
static void call_fail(struct http_client_call *call, int status) {
  if (call->cc) cc_close(call->cc);
  call_finish(call, status);
}

/* Puts a call on a connection: a pooled one to the same address unless `fresh`, else a new
 * one, and writes the request. Returns 0 or a negative error (the call then has no
 * connection). */
static int call_start(struct http_client_call *call, int fresh) {
  struct http_client *cl = call->cl;
  struct http_client_conn *cc = NULL;
  if (!fresh)
    for (struct http_client_conn *k = cl->conns; k; k = k->next)
      if (k->idle && !k->closing && strcmp(k->key, call->addr.text) == 0) {
        cc = k;
        break;
      }
  int err = 0;
  if (cc) {
    cc->idle = 0;
    cl->nidle--;
    call->reused = 1;
  } else {
    cc = cc_new(cl, &call->addr, &err);
    if (!cc) return err;
    call->reused = 0;
  }
  cc->call = call;
  cc->interim = cc->complete = cc->keep_alive = 0;
  call->cc = cc;
  call->got_bytes = 0;
  buf_reset(&call->response.body);
  http_parser_reset(cc->parser);
  http_parser_expect_head_response(cc->parser, call->head_request);
  int rc = conn_write(&cc->conn, call->out.data, call->out.len);
  if (rc != 0) {
    cc_close(cc);
    if (call->reused && !call->retried) {
      call->retried = 1;
      return call_start(call, 1);
    }
    return rc;
  }
  return 0;
}

/* The connection under a call ended before its response did. A pooled connection the peer
 * closed while idle fails on first use; that one gets a second chance on a new connection. */
static void call_lost(struct http_client_call *call, int status) {
  if (call->reused && !call->got_bytes && !call->retried) {
    call->retried = 1;
    if (call->cc) cc_close(call->cc);
    int rc = call_start(call, 1);
    if (rc == 0) return;
    status = rc;
  }
  call_fail(call, status);
}

static void on_call_timeout(uv_timer_t *t) {
  struct http_client_call *call = t->data;
  call_fail(call, UV_ETIMEDOUT);
}

static void on_cc_connect(struct conn *c, int status) {
  struct http_client_conn *cc = c->data;
  if (status == 0) status = conn_read_start(c); /* a stream is readable once connected */
  if (status == 0) return;
  struct http_client_call *call = cc->call;
  cc_close(cc);
  if (call) call_finish(call, status);
}

/* The response is complete: the connection goes back to the pool (or closes), then the
 * caller hears. Pooling first lets the callback's next request reuse this connection. */
static void cc_response_done(struct http_client_conn *cc, int reusable) {
  struct http_client *cl = cc->cl;
  struct http_client_call *call = cc->call;
  cc->call = NULL;
  call->cc = NULL;
  if (reusable && !cl->closing && cl->nidle < cl->max_idle) {
    cc->idle = 1;
    cl->nidle++;
  } else {
    cc_close(cc);
  }
  call_finish(call, 0);
}

static void on_cc_read(struct conn *c, int status, const char *data, size_t len) {
  struct http_client_conn *cc = c->data;
  struct http_client_call *call = cc->call;
  if (!call) {
    /* Idle: the peer closed it, or sent bytes nobody asked for. Either way it is done. */
    cc_close(cc);
    return;
  }
  if (status < 0) {
    /* A response delimited by the connection's end completes here. */
    int rc = status == UV_EOF ? http_parser_finish(cc->parser) : HTTP_PARSE_ERROR;
    if (rc == HTTP_PARSE_DONE && cc->complete) {
      cc_response_done(cc, 0);
      return;
    }
    if (call->got_bytes) call_fail(call, status == UV_EOF ? UV_EPROTO : status);
    else call_lost(call, status == UV_EOF ? UV_ECONNRESET : status);
    return;
  }
  call->got_bytes = 1;
  while (len > 0) {
    size_t used = 0;
    int rc = http_parser_execute(cc->parser, data, len, &used);
    data += used;
    len -= used;
    if (rc == HTTP_PARSE_OK) return;
    if (rc == HTTP_PARSE_DONE) {
      if (!cc->complete) continue; /* an interim 1xx response ended; the real one follows */
      /* Bytes after the response were never asked for: such a connection is not pooled. */
      cc_response_done(cc, cc->keep_alive && len == 0);
      return;
    }
    call_fail(call, rc == HTTP_PARSE_ERROR && http_parser_error_status(cc->parser) == 413 ? UV_E2BIG : UV_EPROTO);
    return;
  }
}

/* ---- parser callbacks ----------------------------------------------------------------------- */

static int on_resp_head(void *owner, struct http_head *h) {
  struct http_client_conn *cc = owner;
  struct http_client_call *call = cc->call;
  if (!call) return -1;
  if (h->status < 200) {
    cc->interim = 1; /* 100 Continue and friends: skipped (RFC 9110 section 15.2) */
    return 0;
  }
  struct http_client_response *r = &call->response;
  r->status = h->status;
  r->nheaders = 0;
  r->headers = arena_alloc(&call->arena, (h->nheaders ? h->nheaders : 1) * sizeof *r->headers);
  if (!r->headers) return -1;
  for (size_t i = 0; i < h->nheaders; i++) {
    const struct http_header *src = &h->headers[i];
    char *name = arena_strndup(&call->arena, src->name.p, src->name.n);
    char *value = arena_strndup(&call->arena, src->value.p, src->value.n);
    if (!name || !value) return -1;
    r->headers[r->nheaders++] = (struct http_header){{name, src->name.n}, {value, src->value.n}};
  }
  cc->keep_alive = h->keep_alive;
  return 0;
}

static int on_resp_body(void *owner, const char *p, size_t n) {
  struct http_client_conn *cc = owner;
  if (!cc->call || cc->interim) return 0;
  return buf_append(&cc->call->response.body, p, n) == 0 ? 0 : -1;
}

static int on_resp_complete(void *owner) {
  struct http_client_conn *cc = owner;
  if (cc->interim) cc->interim = 0;
  else cc->complete = 1;
  return 0;
}

/* ---- the client ---------------------------------------------------------------------------- */

int http_client_init(struct http_client *cl, struct conn_env *env) {
  memset(cl, 0, sizeof *cl);
  cl->env = env;
  cl->max_idle = 16;
  cl->max_body = 16 * 1024 * 1024;
  cl->limits = (struct http_limits){64 * 1024, 100, cl->max_body};
  cl->cbs = (struct http_parser_cbs){on_resp_head, on_resp_body, on_resp_complete};
  return 0;
}

int http_client_set_proxy(struct http_client *cl, const char *addr) {
  if (conn_addr_parse(&cl->proxy, addr) != 0) return -EINVAL;
  cl->has_proxy = 1;
  return 0;
}

/* Where a call connects, and the target it sends: origin-form straight to an address,
 * absolute-form to a proxy (RFC 9112 section 3.2.2). */
static int resolve(struct http_client *cl, const struct http_client_req *req, struct slice *authority,
                   struct slice *target, struct conn_addr *addr) {
  struct slice url = slice_from(req->url);
  struct slice path;
  if (url.n < 7 || http_head_split_target(url, authority, &path) != 0 || authority->n == 0) return -EINVAL;
  if (req->connect) {
    *addr = *req->connect;
    *target = path;
    return 0;
  }
  if (cl->has_proxy) {
    *addr = cl->proxy;
    *target = url;
    return 0;
  }
  char host[160];
  if (authority->n + 4 > sizeof host) return -EINVAL;
  memcpy(host, authority->p, authority->n);
  host[authority->n] = '\0';
  /* "127.0.0.1" with no port means port 80; "[::1]:8080" and "127.0.0.1:8080" parse as is. */
  const char *colon = strrchr(host, ':'), *bracket = strrchr(host, ']');
  if (!colon || (bracket && colon < bracket)) strcat(host, ":80");
  if (conn_addr_parse(addr, host) != 0) return -EINVAL;
  *target = path;
  return 0;
}

static int write_request(struct http_client_call *call, const struct http_client_req *req, struct slice authority,
                         struct slice target) {
  struct buf *b = &call->out;
  const char *method = req->method ? req->method : "GET";
  int rc = buf_appendf(b, "%s ", method);
  rc |= buf_append_slice(b, target);
  rc |= buf_append_str(b, " HTTP/1.1\r\nhost: ");
  rc |= buf_append_slice(b, authority);
  rc |= buf_append(b, "\r\n", 2);
  if (req->headers) rc |= buf_append_str(b, req->headers);
  int bodyless = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  if (req->body.n > 0 || !bodyless) rc |= buf_appendf(b, "content-length: %zu\r\n", req->body.n);
  rc |= buf_append(b, "\r\n", 2);
  if (req->body.n) rc |= buf_append(b, req->body.p, req->body.n);
  return rc ? -ENOMEM : 0;
}

int http_client_send(struct http_client *cl, const struct http_client_req *req, http_client_done_cb cb, void *data,
                     struct http_client_call **out) {
  if (cl->closing) return UV_ECANCELED;
  struct http_client_call *call = calloc(1, sizeof *call);
  if (!call) return -ENOMEM;
  struct slice authority, target;
  int rc = resolve(cl, req, &authority, &target, &call->addr);
  if (rc == 0) rc = write_request(call, req, authority, target);
  if (rc != 0) {
    buf_free(&call->out);
    free(call);
    return rc;
  }
  call->cl = cl;
  call->cb = cb;
  call->data = data;
  call->head_request = req->method && strcmp(req->method, "HEAD") == 0;
  rc = call_start(call, 0);
  if (rc != 0) {
    buf_free(&call->out);
    free(call);
    return rc;
  }
  uv_timer_init(cl->env->loop, &call->timer);
  call->timer.data = call;
  cl->live_handles++;
  if (req->timeout_ms) uv_timer_start(&call->timer, on_call_timeout, req->timeout_ms, 0);
  call->next = cl->calls;
  if (cl->calls) cl->calls->prev = call;
  cl->calls = call;
  if (out) *out = call;
  return 0;
}

void http_client_cancel(struct http_client_call *call) {
  if (call->done) return;
  call_fail(call, UV_ECANCELED);
}

const struct slice *http_client_response_header(const struct http_client_response *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (slice_eq_str_nocase(r->headers[i].name, name)) return &r->headers[i].value;
  return NULL;
}

void http_client_close(struct http_client *cl, void (*on_closed)(struct http_client *cl)) {
  cl->closing = 1;
  cl->on_closed = on_closed;
  while (cl->calls) http_client_cancel(cl->calls);
  for (struct http_client_conn *cc = cl->conns; cc; cc = cc->next) cc_close(cc);
  maybe_closed(cl);
}
