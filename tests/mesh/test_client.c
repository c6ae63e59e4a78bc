/* mesh/client.c against the test origin (and a recording server for the proxy form), all on
 * one loop run by the test itself: responses whole in one callback, every framing, keep-alive
 * reuse, timeouts, connect and protocol errors, cancellation, and the absolute-form request
 * an app sends to its sidecar. Every case ends with the loop closing cleanly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/client.h"
#include "mesh/server.h"
#include "support/origin.h"
#include "support/test.h"

struct result {
  int done;
  int status; /* callback's status */
  int http;   /* response status */
  struct buf body;
  char header[128];
  const char *want_header;
  double at_ms;
};

struct env {
  uv_loop_t loop;
  struct conn_env cenv;
  struct origin origin;
  struct http_client cl;
  char base[64]; /* "http://127.0.0.1:PORT" */
};

static void env_start(struct env *e) {
  memset(e, 0, sizeof *e);
  uv_loop_init(&e->loop);
  conn_env_init(&e->cenv, &e->loop, 65536);
  origin_start(&e->origin, &e->loop);
  http_client_init(&e->cl, &e->cenv);
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%d", e->origin.port);
}

static int env_stop(struct env *e) {
  http_client_close(&e->cl, NULL);
  origin_close(&e->origin);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  conn_env_free(&e->cenv);
  int rc = uv_loop_close(&e->loop);
  if (rc != 0) uv_print_all_handles(&e->loop, stderr);
  return rc;
}

static void on_done(struct http_client_call *call, int status) {
  struct result *r = call->data;
  r->done = 1;
  r->status = status;
  r->at_ms = (double)uv_hrtime() / 1e6;
  if (status == 0) {
    r->http = call->response.status;
    buf_append(&r->body, call->response.body.data ? call->response.body.data : "", call->response.body.len);
    buf_cstr(&r->body);
    if (r->want_header) {
      const struct slice *v = http_client_response_header(&call->response, r->want_header);
      if (v) snprintf(r->header, sizeof r->header, "%.*s", (int)v->n, v->p);
    }
  }
}

/* Sends and runs the loop until the callback fired. Returns http_client_send's result. */
static int run_one(struct env *e, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                   struct result *r) {
  char url[256];
  snprintf(url, sizeof url, "%s%s", e->base, path);
  struct http_client_req req = {.method = method, .url = url, .timeout_ms = timeout_ms};
  if (body) req.body = slice_from(body);
  int rc = http_client_send(&e->cl, &req, on_done, r, NULL);
  if (rc != 0) return rc;
  while (!r->done) uv_run(&e->loop, UV_RUN_ONCE);
  return 0;
}

static void gets_whole_responses_in_every_framing(void) {
  struct env e;
  env_start(&e);
  static const char *const paths[] = {"/size/1000", "/chunked/70000", "/close/5000", "/size/0"};
  static const size_t lens[] = {1000, 70000, 5000, 0};
  for (int i = 0; i < 4; i++) {
    struct result r = {0};
    r.want_header = "content-length";
    ASSERT_INT_EQ(run_one(&e, "GET", paths[i], NULL, 5000, &r), 0);
    EXPECT_INT_EQ(r.status, 0);
    EXPECT_INT_EQ(r.http, 200);
    EXPECT_INT_EQ(r.body.len, lens[i]);
    if (i == 0) EXPECT_STR_EQ(r.header, "1000");
    buf_free(&r.body);
  }
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void reuses_keep_alive_connections(void) {
  struct env e;
  env_start(&e);
  for (int i = 0; i < 5; i++) {
    struct result r = {0};
    ASSERT_INT_EQ(run_one(&e, "GET", "/size/10", NULL, 5000, &r), 0);
    EXPECT_INT_EQ(r.http, 200);
    buf_free(&r.body);
  }
  EXPECT_INT_EQ(e.origin.requests, 5);
  EXPECT_INT_EQ(e.origin.connections, 1);
  EXPECT_INT_EQ(e.cl.nidle, 1);
  /* A close-delimited response cannot leave its connection reusable. */
  struct result r = {0};
  ASSERT_INT_EQ(run_one(&e, "GET", "/close/10", NULL, 5000, &r), 0);
  buf_free(&r.body);
  EXPECT_INT_EQ(e.cl.nidle, 0);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void concurrent_calls_use_separate_connections(void) {
  struct env e;
  env_start(&e);
  struct result r[3] = {{0}};
  char url[128];
  snprintf(url, sizeof url, "%s/delay/50", e.base);
  for (int i = 0; i < 3; i++) {
    struct http_client_req req = {.url = url, .timeout_ms = 5000};
    ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r[i], NULL), 0);
  }
  while (!(r[0].done && r[1].done && r[2].done)) uv_run(&e.loop, UV_RUN_ONCE);
  for (int i = 0; i < 3; i++) {
    EXPECT_INT_EQ(r[i].http, 200);
    EXPECT_STR_EQ(r[i].body.data, "delayed");
    buf_free(&r[i].body);
  }
  EXPECT_INT_EQ(e.origin.connections, 3);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void posts_a_body(void) {
  struct env e;
  env_start(&e);
  struct result r = {0};
  ASSERT_INT_EQ(run_one(&e, "POST", "/count", "hello", 5000, &r), 0);
  EXPECT_INT_EQ(r.http, 200);
  EXPECT_STR_CONTAINS(r.body.data, "bytes=5");
  buf_free(&r.body);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void skips_interim_responses(void) {
  struct env e;
  env_start(&e);
  struct result r = {0};
  ASSERT_INT_EQ(run_one(&e, "GET", "/continue", NULL, 5000, &r), 0);
  EXPECT_INT_EQ(r.status, 0);
  EXPECT_INT_EQ(r.http, 200);
  buf_free(&r.body);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void times_out_and_drops_the_connection(void) {
  struct env e;
  env_start(&e);
  struct result r = {0};
  double t0 = (double)uv_hrtime() / 1e6;
  ASSERT_INT_EQ(run_one(&e, "GET", "/delay/3000", NULL, 100, &r), 0);
  EXPECT_INT_EQ(r.status, UV_ETIMEDOUT);
  EXPECT_INT_GE((long long)(r.at_ms - t0), 95);
  EXPECT_INT_LE((long long)(r.at_ms - t0), 2000);
  EXPECT_INT_EQ(e.cl.nidle, 0);
  /* the next call works, on a new connection */
  struct result r2 = {0};
  ASSERT_INT_EQ(run_one(&e, "GET", "/size/3", NULL, 5000, &r2), 0);
  EXPECT_INT_EQ(r2.http, 200);
  buf_free(&r2.body);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void reports_connect_and_protocol_errors(void) {
  struct env e;
  env_start(&e);
  struct result r = {0};
  ASSERT_INT_EQ(run_one(&e, "GET", "/bad", NULL, 5000, &r), 0);
  EXPECT_INT_EQ(r.status, UV_EPROTO);
  struct result r2 = {0};
  ASSERT_INT_EQ(run_one(&e, "GET", "/die", NULL, 5000, &r2), 0);
  EXPECT(r2.status < 0);
  /* nothing listens on port 1 */
  struct result r3 = {0};
  struct http_client_req req = {.url = "http://127.0.0.1:1/x", .timeout_ms = 5000};
  ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r3, NULL), 0);
  while (!r3.done) uv_run(&e.loop, UV_RUN_ONCE);
  EXPECT_INT_EQ(r3.status, UV_ECONNREFUSED);
  /* a unix socket that does not exist */
  struct result r4 = {0};
  struct conn_addr nowhere;
  conn_addr_parse(&nowhere, "unix:/nonexistent/meshlab.sock");
  struct http_client_req req4 = {.url = "http://details:9080/x", .connect = &nowhere, .timeout_ms = 5000};
  ASSERT_INT_EQ(http_client_send(&e.cl, &req4, on_done, &r4, NULL), 0);
  while (!r4.done) uv_run(&e.loop, UV_RUN_ONCE);
  EXPECT(r4.status < 0);
  /* refused before sending: not http://, and a name with no proxy to resolve it */
  struct http_client_req bad1 = {.url = "https://127.0.0.1/"};
  struct http_client_req bad2 = {.url = "http://reviews:9080/reviews/0"};
  EXPECT_INT_EQ(http_client_send(&e.cl, &bad1, on_done, &r, NULL), -EINVAL);
  EXPECT_INT_EQ(http_client_send(&e.cl, &bad2, on_done, &r, NULL), -EINVAL);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void cancel_and_close_fire_callbacks(void) {
  struct env e;
  env_start(&e);
  char url[128];
  snprintf(url, sizeof url, "%s/delay/3000", e.base);
  struct result r1 = {0}, r2 = {0};
  struct http_client_call *call = NULL;
  struct http_client_req req = {.url = url};
  ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r1, &call), 0);
  ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r2, NULL), 0);
  uv_run(&e.loop, UV_RUN_NOWAIT);
  http_client_cancel(call);
  EXPECT_INT_EQ(r1.done, 1);
  EXPECT_INT_EQ(r1.status, UV_ECANCELED);
  http_client_close(&e.cl, NULL);
  EXPECT_INT_EQ(r2.done, 1);
  EXPECT_INT_EQ(r2.status, UV_ECANCELED);
  EXPECT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r1, NULL), UV_ECANCELED);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

/* ---- through a proxy ---------------------------------------------------------------------- */

struct seen {
  char line[256];
  char host[128];
};

static void on_proxy_request(struct server_request *r) {
  struct seen *s = r->user;
  snprintf(s->line, sizeof s->line, "%.*s %.*s", (int)r->head->method.n, r->head->method.p, (int)r->head->target.n,
           r->head->target.p);
  const struct slice *h = http_head_find(r->head, "host");
  snprintf(s->host, sizeof s->host, "%.*s", h ? (int)h->n : 0, h ? h->p : "");
  server_respond(r, 200, "text/plain", "via proxy", 9, NULL);
}

static void sends_absolute_form_through_a_proxy(void) {
  struct env e;
  env_start(&e);
  struct http_server proxy;
  struct seen seen = {"", ""};
  struct conn_addr addr;
  conn_addr_parse(&addr, "127.0.0.1:0");
  ASSERT_INT_EQ(server_listen(&proxy, &e.cenv, &addr, on_proxy_request, &seen), 0);
  EXPECT_INT_EQ(http_client_set_proxy(&e.cl, proxy.address), 0);
  EXPECT_INT_EQ(http_client_set_proxy(&e.cl, "not an address"), -EINVAL);
  EXPECT_INT_EQ(http_client_set_proxy(&e.cl, proxy.address), 0);
  for (int i = 0; i < 2; i++) {
    struct result r = {0};
    struct http_client_req req = {
        .url = "http://reviews:9080/reviews/0", .headers = "end-user: jason\r\n", .timeout_ms = 5000};
    ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r, NULL), 0);
    while (!r.done) uv_run(&e.loop, UV_RUN_ONCE);
    EXPECT_INT_EQ(r.http, 200);
    EXPECT_STR_EQ(r.body.data, "via proxy");
    buf_free(&r.body);
  }
  EXPECT_STR_EQ(seen.line, "GET http://reviews:9080/reviews/0");
  EXPECT_STR_EQ(seen.host, "reviews:9080");
  EXPECT_INT_EQ(e.cl.nidle, 1); /* both went over one pooled connection to the proxy */
  /* an explicit address bypasses the proxy, with an origin-form target */
  struct result r = {0};
  struct conn_addr origin;
  char o[64];
  snprintf(o, sizeof o, "127.0.0.1:%d", e.origin.port);
  conn_addr_parse(&origin, o);
  struct http_client_req req = {.url = "http://details:9080/size/4", .connect = &origin, .timeout_ms = 5000};
  ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r, NULL), 0);
  while (!r.done) uv_run(&e.loop, UV_RUN_ONCE);
  EXPECT_INT_EQ(r.http, 200);
  EXPECT_INT_EQ(r.body.len, 4);
  buf_free(&r.body);
  server_close(&proxy, NULL);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

static void retries_once_when_a_pooled_connection_was_closed(void) {
  struct env e;
  env_start(&e);
  struct http_server srv;
  struct seen seen = {"", ""};
  struct conn_addr addr;
  conn_addr_parse(&addr, "127.0.0.1:0");
  ASSERT_INT_EQ(server_listen(&srv, &e.cenv, &addr, on_proxy_request, &seen), 0);
  char url[160];
  snprintf(url, sizeof url, "http://%s/a", srv.address);
  struct result r = {0};
  struct http_client_req req = {.url = url, .timeout_ms = 5000};
  ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r, NULL), 0);
  while (!r.done) uv_run(&e.loop, UV_RUN_ONCE);
  buf_free(&r.body);
  EXPECT_INT_EQ(e.cl.nidle, 1);
  /* The server side of the pooled connection goes away (uv_close closes the sockets at once)
   * and a new server takes the port, all before the client's loop runs again: the client
   * still believes its pooled connection is good, finds out on first use, and re-sends. */
  server_close(&srv, NULL);
  struct http_server srv2;
  conn_addr_parse(&addr, srv.address);
  ASSERT_INT_EQ(server_listen(&srv2, &e.cenv, &addr, on_proxy_request, &seen), 0);
  struct result r2 = {0};
  ASSERT_INT_EQ(http_client_send(&e.cl, &req, on_done, &r2, NULL), 0);
  while (!r2.done) uv_run(&e.loop, UV_RUN_ONCE);
  EXPECT_INT_EQ(r2.status, 0);
  EXPECT_INT_EQ(r2.http, 200);
  buf_free(&r2.body);
  server_close(&srv2, NULL);
  EXPECT_INT_EQ(env_stop(&e), 0);
}

TEST_CASES(TEST(gets_whole_responses_in_every_framing), TEST(reuses_keep_alive_connections),
           TEST(concurrent_calls_use_separate_connections), TEST(posts_a_body), TEST(skips_interim_responses),
           TEST(times_out_and_drops_the_connection), TEST(reports_connect_and_protocol_errors),
           TEST(cancel_and_close_fire_callbacks), TEST(sends_absolute_form_through_a_proxy),
           TEST(retries_once_when_a_pooled_connection_was_closed))
