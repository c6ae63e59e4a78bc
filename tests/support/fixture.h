/* An in-process proxy under test: the proxy and a test origin share one libuv loop on a
 * background thread, while the test drives blocking clients from the main thread. Work that
 * touches loop state runs on the loop thread through fixture_call. fixture_stop shuts the proxy
 * down gracefully and reports whether the loop then closed with every handle closed. */
#ifndef TEST_FIXTURE_H
#define TEST_FIXTURE_H

#include <uv.h>

#include "mesh/proxy.h"
#include "support/loopthread.h"
#include "support/origin.h"

struct fixture {
  struct loop_thread lt;
  uv_timer_t sampler;
  struct proxy px;
  struct origin origin;
  struct accesslog log;
  int port;                                 /* the proxy's listener */
  size_t max_buffered;                      /* highest proxy_buffered_bytes seen by the sampler */
  void (*fn)(struct fixture *f, void *arg); /* the call in flight (fixture_call) */
  void *arg;
  int loop_close_rc;
};

/* Starts origin and proxy (routing everything to the origin, or to upstream_port when > 0).
 * limits NULL means defaults. log_path non-NULL writes an access log there. Returns 0 or -1. */
int fixture_start(struct fixture *f, const struct proxy_limits *limits, int upstream_port, const char *log_path);
/* Runs fn(f, arg) on the loop thread and waits for it. */
void fixture_call(struct fixture *f, void (*fn)(struct fixture *f, void *arg), void *arg);
/* Shuts down, joins the thread; returns uv_loop_close's result (0 = every handle closed). */
int fixture_stop(struct fixture *f);

#endif
