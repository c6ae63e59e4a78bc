/* The config long poll: see xds.h. */
#include "mesh/xds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_TIMEOUT_MS 40000 /* the lab holds a poll up to 30 s */
#define BACKOFF_START_MS 500
#define BACKOFF_MAX_MS 5000

static void poll_now(struct xds_agent *x);

/* Percent-encodes s for a query value. */
static void query_escape(char *out, size_t n, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t k = 0;
  for (; *s && k + 4 < n; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
      out[k++] = (char)c;
    } else {
      out[k++] = '%';
      out[k++] = hex[c >> 4];
      out[k++] = hex[c & 15];
    }
  }
  out[k] = '\0';
}

static void on_retry(uv_timer_t *t) { poll_now(t->data); }

static void retry_later(struct xds_agent *x) {
  if (x->stopping) return;
  uv_timer_start(&x->retry, on_retry, x->backoff_ms, 0);
  x->backoff_ms = x->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : x->backoff_ms * 2;
}

static void on_response(struct http_client_call *call, int status) {
  struct xds_agent *x = call->data;
  if (x->stopping) return;
  if (status < 0) {
    if (status != UV_ETIMEDOUT)
      fprintf(stderr, "xds: cannot reach the lab at %s: %s\n", x->server, uv_strerror(status));
    retry_later(x);
    return;
  }
  x->backoff_ms = BACKOFF_START_MS;
  const struct http_client_response *r = &call->response;
  if (r->status == 304) {
    poll_now(x);
    return;
  }
  if (r->status != 200) {
    fprintf(stderr, "xds: the lab answered %d: %.*s\n", r->status, (int)(r->body.len > 200 ? 200 : r->body.len),
            r->body.data ? r->body.data : "");
    retry_later(x);
    return;
  }
  struct proxy_config *cfg = NULL;
  char err[256];
  int rc = compile_from_json(r->body.data ? r->body.data : "", r->body.len, "push", &cfg, err, sizeof err);
  if (rc == 0) {
    uint64_t version = cfg->version;
    rc = x->on_config(x, cfg, err, sizeof err);
    if (rc == 0) {
      x->applied = version;
      x->pushes++;
    }
  }
  if (rc != 0) {
    x->rejects++;
    snprintf(x->nack, sizeof x->nack, "%s", err);
    fprintf(stderr, "xds: refused config: %s\n", err);
  }
  poll_now(x);
}

static void poll_now(struct xds_agent *x) {
  if (x->stopping) return;
  char url[1200], reason[600] = "";
  if (x->nack[0]) {
    char esc[560];
    query_escape(esc, sizeof esc, x->nack);
    snprintf(reason, sizeof reason, "&error=%s", esc);
    x->nack[0] = '\0';
  }
  snprintf(url, sizeof url, "%s&version=%llu%s", x->url_base, (unsigned long long)x->applied, reason);
  struct http_client_req req = {0};
  req.url = url;
  req.timeout_ms = POLL_TIMEOUT_MS;
  x->polls++;
  if (http_client_send(&x->client, &req, on_response, x, NULL) != 0) retry_later(x);
}

int xds_start(struct xds_agent *x, struct conn_env *env, const char *server, const char *node, xds_apply_cb on_config,
              void *data) {
  memset(x, 0, sizeof *x);
  struct conn_addr a;
  if (conn_addr_parse(&a, server) != 0 || a.kind != CONN_TCP) return -EINVAL;
  snprintf(x->server, sizeof x->server, "%s", a.text);
  char esc[200];
  query_escape(esc, sizeof esc, node);
  if (snprintf(x->url_base, sizeof x->url_base, "http://%s/v1/xds?node=%s", a.text, esc) >= (int)sizeof x->url_base)
    return -ENAMETOOLONG;
  x->on_config = on_config;
  x->data = data;
  x->backoff_ms = BACKOFF_START_MS;
  http_client_init(&x->client, env);
  x->client.data = x;
  uv_timer_init(env->loop, &x->retry);
  x->retry.data = x;
  x->open = 2;
  poll_now(x);
  return 0;
}

static void closed_one(struct xds_agent *x) {
  if (--x->open == 0 && x->on_stopped) x->on_stopped(x);
}

static void on_client_closed(struct http_client *cl) { closed_one(cl->data); }

static void on_retry_closed(uv_handle_t *h) { closed_one(h->data); }

void xds_stop(struct xds_agent *x, void (*on_stopped)(struct xds_agent *x)) {
  if (x->stopping) return;
  x->stopping = 1;
  x->on_stopped = on_stopped;
  uv_close((uv_handle_t *)&x->retry, on_retry_closed);
  http_client_close(&x->client, on_client_closed);
}
