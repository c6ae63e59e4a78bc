/* The in-process proxy fixture: see fixture.h. */
#include "support/fixture.h"

#include "mesh/bootstrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_sample(uv_timer_t *t) {
  struct fixture *f = t->data;
  size_t n = proxy_buffered_bytes(&f->px);
  if (n > f->max_buffered) f->max_buffered = n;
}

static void on_proxy_closed(struct proxy *px) { (void)px; }

int fixture_start(struct fixture *f, const struct proxy_limits *limits, int upstream_port, const char *log_path) {
  memset(f, 0, sizeof *f);
  loop_thread_init(&f->lt);
  uv_timer_init(&f->lt.loop, &f->sampler);
  f->sampler.data = f;
  uv_timer_start(&f->sampler, on_sample, 2, 2);
  if (origin_start(&f->origin, &f->lt.loop) != 0) return -1;
  struct proxy_limits l;
  if (limits) l = *limits;
  else proxy_limits_default(&l);
  l.drain_timeout_ms = l.drain_timeout_ms ? l.drain_timeout_ms : 2000;
  if (proxy_init(&f->px, &f->lt.loop, &l) != 0) return -1;
  if (log_path) {
    f->log.out = fopen(log_path, "w");
    f->log.format = ACCESSLOG_ENVOY;
    f->px.log = &f->log;
  }
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", upstream_port > 0 ? upstream_port : f->origin.port);
  /* The same path as `meshlab proxy`: a bootstrap with one inbound listener, its routing
   * installed as a pushed config. */
  struct bootstrap b;
  char err[256];
  if (bootstrap_for_proxy(&b, "127.0.0.1:0", addr, NULL, &l, NULL, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "fixture: %s\n", err);
    bootstrap_free(&b);
    return -1;
  }
  struct proxy_config *cfg;
  int rc = bootstrap_routing(&b, &cfg, err, sizeof err);
  struct conn_addr listen = b.inbound[0];
  bootstrap_free(&b);
  if (rc != 0 || proxy_set_config(&f->px, cfg) != 0) {
    fprintf(stderr, "fixture: %s\n", err);
    return -1;
  }
  struct proxy_listener *pl;
  if (proxy_listen(&f->px, &listen, XDS_INBOUND, 0, "proxy", &pl) != 0) return -1;
  const char *colon = strrchr(pl->address, ':');
  f->port = atoi(colon + 1);
  loop_thread_start(&f->lt);
  return 0;
}

static void call_trampoline(void *ctx, void *arg) {
  struct fixture *f = ctx;
  (void)arg;
  f->fn(f, f->arg);
}

void fixture_call(struct fixture *f, void (*fn)(struct fixture *f, void *arg), void *arg) {
  f->fn = fn;
  f->arg = arg;
  loop_thread_call(&f->lt, call_trampoline, f, NULL);
}

static void do_stop(struct fixture *f, void *arg) {
  (void)arg;
  uv_close((uv_handle_t *)&f->sampler, NULL);
  origin_close(&f->origin);
  proxy_shutdown(&f->px, on_proxy_closed);
}

int fixture_stop(struct fixture *f) {
  fixture_call(f, do_stop, NULL);
  f->loop_close_rc = loop_thread_join(&f->lt);
  proxy_free(&f->px);
  accesslog_free(&f->log);
  if (f->log.out) fclose(f->log.out);
  return f->loop_close_rc;
}
