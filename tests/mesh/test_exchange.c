/* Integration tests for mesh/exchange.c over real sockets: the proxy gets an outbound listener
 * and a pushed config (as the lab would push it, in its JSON form) whose one service "svc"
 * has the test origin and, where a case needs one, a dead endpoint; requests then meet
 * retries, per-try and route timeouts and the connection-pool breakers. The pure decisions are
 * pinned in test_retry/test_breaker; these check that the proxy wires them as Envoy does. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/flags.h"
#include "support/client.h"
#include "support/fixture.h"
#include "support/test.h"

#define START(f) ASSERT_INT_EQ(fixture_start(&(f), NULL, 0, NULL), 0)
#define STOP(f) EXPECT_INT_EQ(fixture_stop(&(f)), 0)

struct setup {
  const char *route_extra; /* JSON members added to the route ("timeout_ms": ...) */
  const char *pool;        /* the cluster's connection_pool JSON, or NULL for Istio's defaults */
  int ports[2];            /* endpoints; 0 = none */
  int rc;
  int port; /* the outbound listener's port */
  char err[256];
};

/* Runs on the loop thread: pushes the config and opens an outbound listener. */
static void install(struct fixture *f, void *arg) {
  struct setup *s = arg;
  char endpoints[256] = "";
  for (int i = 0; i < 2; i++) {
    if (!s->ports[i]) continue;
    char one[96];
    snprintf(one, sizeof one, "%s{\"address\":\"127.0.0.1\",\"port\":%d,\"healthy\":true}", endpoints[0] ? "," : "",
             s->ports[i]);
    strcat(endpoints, one);
  }
  char json[4096];
  snprintf(
      json, sizeof json,
      "{\"version\":2,\"kind\":\"sidecar\",\"node\":{\"name\":\"client\",\"namespace\":\"default\",\"labels\":{}},"
      "\"route_configs\":[{\"name\":\"outbound\",\"port\":0,\"virtual_hosts\":[{\"name\":\"svc:80\",\"port\":80,"
      "\"domains\":[\"svc\",\"svc:80\"],\"routes\":[{\"action\":\"route\",\"route\":[{\"host\":\"svc\",\"port\":80,"
      "\"weight\":100,\"cluster\":\"outbound|80||svc\"}]%s%s}]}]}],"
      "\"clusters\":[{\"name\":\"outbound|80||svc\",\"direction\":\"outbound\",\"service\":\"svc\",\"port\":80,"
      "\"policy\":{\"load_balancer\":{\"simple\":\"ROUND_ROBIN\"}%s%s},\"endpoints\":[%s]}]}",
      s->route_extra ? "," : "", s->route_extra ? s->route_extra : "", s->pool ? ",\"connection_pool\":" : "",
      s->pool ? s->pool : "", endpoints);
  struct proxy_config *cfg = NULL;
  s->rc = compile_from_json(json, strlen(json), "test", &cfg, s->err, sizeof s->err);
  if (s->rc != 0) return;
  s->rc = proxy_set_config(&f->px, cfg);
  if (s->rc != 0) return;
  struct conn_addr addr;
  conn_addr_parse(&addr, "127.0.0.1:0");
  struct proxy_listener *l;
  s->rc = proxy_listen(&f->px, &addr, XDS_OUTBOUND, 0, "outbound", &l);
  if (s->rc == 0) s->port = atoi(strrchr(l->address, ':') + 1);
}

static void setup(struct fixture *f, struct setup *s) {
  fixture_call(f, install, s);
  if (s->rc != 0) test_fail(__FILE__, __LINE__, "install: %d %s", s->rc, s->err);
}

/* A port nothing listens on: an origin's, once it stopped. */
static int dead_port(void) {
  struct fixture probe;
  if (fixture_start(&probe, NULL, 0, NULL) != 0) return -1;
  int port = probe.origin.port;
  fixture_stop(&probe);
  return port;
}

static int flag_set(const struct client_response *r, const char *flag) {
  char v[64] = "";
  if (client_header(r, "x-meshlab-response-flags", v, sizeof v) != 0) return 0;
  return strstr(v, flag) != NULL;
}

static void request(int port, const char *head, struct client_response *r) {
  struct client c;
  memset(r, 0, sizeof *r);
  if (client_open(&c, port) != 0) {
    test_fail(__FILE__, __LINE__, "connect to the outbound listener");
    return;
  }
  if (client_send_str(&c, head) != 0 || client_read(&c, r) != 0) test_fail(__FILE__, __LINE__, "no response");
  client_close(&c);
}

struct trace_query {
  char id[40];
  size_t records;
  uint32_t attempts;
  int first_status, last_status;
  int next0;
};

static void find_trace(struct fixture *f, void *arg) {
  struct trace_query *q = arg;
  const struct trace_record *recs[4];
  q->records = trace_store_find(&f->px.traces, q->id, recs, 4);
  for (size_t i = 0; i < q->records; i++) {
    if (strcmp(recs[i]->direction, "outbound") != 0) continue;
    q->attempts = recs[i]->attempts_len;
    q->first_status = recs[i]->attempts[0].status;
    q->next0 = (int)recs[i]->attempts[0].next;
    q->last_status = recs[i]->attempts[recs[i]->attempts_len - 1].status;
  }
}

/* Istio's default policy retries a connect failure on the other host (previous hosts
 * predicate): with one dead endpoint of two, every request succeeds, and the trace of one
 * that met the dead host first shows both tries. */
static void connect_failure_retried_on_the_other_host(void) {
  struct fixture f;
  START(f);
  struct setup s = {.ports = {0, f.origin.port}};
  s.ports[0] = dead_port();
  setup(&f, &s);
  int retried = 0;
  for (int i = 0; i < 10; i++) {
    char head[160];
    snprintf(head, sizeof head, "GET http://svc/size/5 HTTP/1.1\r\nHost: svc\r\nx-request-id: cf-%d\r\n\r\n", i);
    struct client_response r;
    request(s.port, head, &r);
    EXPECT_INT_EQ(r.status, 200);
    client_response_free(&r);
    struct trace_query q = {0};
    snprintf(q.id, sizeof q.id, "cf-%d", i);
    fixture_call(&f, find_trace, &q);
    if (q.attempts == 2) {
      retried++;
      EXPECT_INT_EQ(q.first_status, 0);
      EXPECT_INT_EQ(q.next0, TRACE_NEXT_RETRY);
      EXPECT_INT_EQ(q.last_status, 200);
    }
  }
  EXPECT_INT_GE(retried, 1); /* round robin: every other request meets the dead host first */
  STOP(f);
}

/* Both hosts dead: 1 + 2 tries, then 503 UF with URX (retries exhausted). */
static void exhausted_retries_carry_urx(void) {
  struct fixture f;
  START(f);
  struct setup s = {0};
  s.ports[0] = dead_port();
  s.ports[1] = dead_port();
  setup(&f, &s);
  struct client_response r;
  request(s.port, "GET http://svc/size/5 HTTP/1.1\r\nHost: svc\r\nx-request-id: urx\r\n\r\n", &r);
  EXPECT_INT_EQ(r.status, 503);
  EXPECT(flag_set(&r, "UF"));
  EXPECT(flag_set(&r, "URX"));
  client_response_free(&r);
  struct trace_query q = {.id = "urx"};
  fixture_call(&f, find_trace, &q);
  EXPECT_INT_EQ(q.attempts, 3);
  STOP(f);
}

/* A POST whose body was kept whole is re-sent whole on the retry. */
static void retried_post_resends_the_whole_body(void) {
  struct fixture f;
  START(f);
  struct setup s = {0};
  s.ports[0] = dead_port();
  s.ports[1] = f.origin.port;
  setup(&f, &s);
  char body[8000];
  for (size_t i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 26);
  for (int i = 0; i < 2; i++) { /* round robin: one of the two meets the dead host first */
    char head[256];
    snprintf(head, sizeof head, "POST http://svc/count HTTP/1.1\r\nHost: svc\r\nContent-Length: %zu\r\n\r\n",
             sizeof body);
    struct client c;
    ASSERT_INT_EQ(client_open(&c, s.port), 0);
    ASSERT_INT_EQ(client_send_str(&c, head), 0);
    ASSERT_INT_EQ(client_send(&c, body, sizeof body), 0);
    struct client_response r;
    ASSERT_INT_EQ(client_read(&c, &r), 0);
    EXPECT_INT_EQ(r.status, 200);
    EXPECT(strncmp(buf_cstr(&r.body), "bytes=8000 ", 11) == 0);
    client_response_free(&r);
    client_close(&c);
  }
  STOP(f);
}

/* perTryTimeout: each try is cut at 100 ms and retried (under 5xx); when the tries are used
 * up the answer is 504 UT with URX, after about 2 x 100 ms. */
static void per_try_timeout_retries_then_504(void) {
  struct fixture f;
  START(f);
  struct setup s = {.route_extra =
                        "\"retries\":{\"attempts\":1,\"per_try_timeout_ms\":100,\"retry_on\":\"5xx\","
                        "\"retry_remote_localities\":false,\"present\":true,\"attempts_set\":true,"
                        "\"retry_on_set\":true}",
                    .ports = {f.origin.port}};
  setup(&f, &s);
  uint64_t t0 = uv_hrtime();
  struct client_response r;
  request(s.port, "GET http://svc/delay/1000 HTTP/1.1\r\nHost: svc\r\nx-request-id: ptt\r\n\r\n", &r);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  EXPECT_INT_EQ(r.status, 504);
  EXPECT(flag_set(&r, "UT"));
  EXPECT(flag_set(&r, "URX"));
  EXPECT_INT_GE(ms, 190);
  EXPECT_INT_LE(ms, 900);
  client_response_free(&r);
  struct trace_query q = {.id = "ptt"};
  fixture_call(&f, find_trace, &q);
  EXPECT_INT_EQ(q.attempts, 2);
  STOP(f);
}

/* The route timeout covers every try: 150 ms, then 504 UT, whatever retries remain. */
static void route_timeout_covers_the_retries(void) {
  struct fixture f;
  START(f);
  struct setup s = {.route_extra = "\"timeout_ms\":150", .ports = {f.origin.port}};
  setup(&f, &s);
  uint64_t t0 = uv_hrtime();
  struct client_response r;
  request(s.port, "GET http://svc/delay/1000 HTTP/1.1\r\nHost: svc\r\n\r\n", &r);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  EXPECT_INT_EQ(r.status, 504);
  EXPECT(flag_set(&r, "UT"));
  EXPECT_STR_EQ(buf_cstr(&r.body), "upstream request timeout");
  EXPECT_INT_GE(ms, 140);
  EXPECT_INT_LE(ms, 800);
  client_response_free(&r);
  STOP(f);
}

/* maxConnections 1, http1MaxPendingRequests 1 with a warm pooled connection: the first slow
 * request takes it, the second waits in the pending queue and is served after the first, the
 * third finds the queue full: 503 UO with x-envoy-overloaded. */
static void pending_queue_then_overflow(void) {
  struct fixture f;
  START(f);
  struct setup s = {.pool =
                        "{\"max_connections\":1,\"connect_timeout_ms\":10000,\"http1_max_pending_requests\":1,"
                        "\"http2_max_requests\":4294967295,\"max_requests_per_connection\":0,"
                        "\"max_retries\":4294967295}",
                    .ports = {f.origin.port}};
  setup(&f, &s);
  struct client_response r;
  request(s.port, "GET http://svc/size/1 HTTP/1.1\r\nHost: svc\r\n\r\n", &r); /* warms the pool */
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  struct client c[3];
  for (int i = 0; i < 3; i++) {
    ASSERT_INT_EQ(client_open(&c[i], s.port), 0);
    ASSERT_INT_EQ(client_send_str(&c[i], "GET http://svc/delay/200 HTTP/1.1\r\nHost: svc\r\n\r\n"), 0);
    usleep(20 * 1000); /* in order */
  }
  uint64_t t0 = uv_hrtime();
  int status[3];
  uint64_t at[3];
  char overloaded[16] = "";
  for (int i = 0; i < 3; i++) {
    ASSERT_INT_EQ(client_read(&c[i], &r), 0);
    status[i] = r.status;
    at[i] = (uv_hrtime() - t0) / 1000000;
    if (i == 2) client_header(&r, "x-envoy-overloaded", overloaded, sizeof overloaded);
    if (i == 2) EXPECT(flag_set(&r, "UO"));
    client_response_free(&r);
    client_close(&c[i]);
  }
  EXPECT_INT_EQ(status[0], 200);
  EXPECT_INT_EQ(status[1], 200);
  EXPECT_INT_EQ(status[2], 503);
  EXPECT_STR_EQ(overloaded, "true");
  EXPECT_INT_GE(at[1], 300); /* waited for the first to finish: two 200 ms delays in turn */
  STOP(f);
}

TEST_CASES(TEST(connect_failure_retried_on_the_other_host), TEST(exhausted_retries_carry_urx),
           TEST(retried_post_resends_the_whole_body), TEST(per_try_timeout_retries_then_504),
           TEST(route_timeout_covers_the_retries), TEST(pending_queue_then_overflow))
