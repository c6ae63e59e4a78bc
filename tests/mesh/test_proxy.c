/* Integration tests for mesh/proxy.c over real sockets: a test origin and the proxy share a
 * loop on a background thread; blocking clients drive them. Each test ends by shutting the
 * proxy down and checking the loop closed with every handle closed. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mesh/bootstrap.h"
#include "mesh/flags.h"
#include "mesh/issuer.h"
#include "support/client.h"
#include "support/fixture.h"
#include "support/test.h"

#define START(f, limits) ASSERT_INT_EQ(fixture_start(&(f), (limits), 0, NULL), 0)
#define STOP(f) EXPECT_INT_EQ(fixture_stop(&(f)), 0)

struct counts {
  uint64_t origin_connections, origin_requests, cx_total, cx_idle, protocol_errors, down_cx_active;
  uint64_t by_flag[FLAG_COUNT];
  uint64_t code_count[600];
};

static void read_counts(struct fixture *f, void *arg) {
  struct counts *c = arg;
  memset(c, 0, sizeof *c);
  c->origin_connections = f->origin.connections;
  c->origin_requests = f->origin.requests;
  c->cx_total = f->px.clusters.items[0]->hosts[0]->stats.cx_total;
  c->cx_idle = f->px.clusters.items[0]->hosts[0]->stats.cx_idle;
  c->protocol_errors = f->px.stats.downstream_cx_protocol_error;
  c->down_cx_active = f->px.stats.downstream_cx_active;
  for (size_t i = 0; i < f->px.stats.nby_code; i++) {
    const struct code_flags_count *e = &f->px.stats.by_code[i];
    if (e->code >= 0 && e->code < 600) c->code_count[e->code] += e->n;
    for (int b = 0; b < FLAG_COUNT; b++)
      if (e->flags & (1u << b)) c->by_flag[b] += e->n;
  }
}

static int flag_index(uint32_t flag) {
  for (int b = 0; b < FLAG_COUNT; b++)
    if (flag == (1u << b)) return b;
  return 0;
}

static void get(struct client *c, const char *path, struct client_response *r) {
  char req[512];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
  if (client_send_str(c, req) != 0 || client_read(c, r) != 0)
    test_fail(__FILE__, __LINE__, "GET %s: no complete response", path);
}

static void keeps_alive_and_reuses_pooled_connections(void) {
  struct fixture f;
  START(f, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  for (int i = 0; i < 20; i++) {
    struct client_response r;
    get(&c, "/size/100", &r);
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_INT_EQ(r.body.len, 100);
    client_response_free(&r);
  }
  client_close(&c);
  /* New client connections reuse the same pooled upstream connection. */
  for (int k = 0; k < 3; k++) {
    ASSERT_INT_EQ(client_open(&c, f.port), 0);
    for (int i = 0; i < 5; i++) {
      struct client_response r;
      get(&c, "/size/10", &r);
      EXPECT_INT_EQ(r.status, 200);
      client_response_free(&r);
    }
    client_close(&c);
  }
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.origin_requests, 35);
  EXPECT_INT_EQ(n.origin_connections, 1);
  EXPECT_INT_EQ(n.cx_total, 1);
  EXPECT_INT_EQ(n.cx_idle, 1);
  STOP(f);
}

static void answers_pipelined_requests_in_order(void) {
  struct fixture f;
  START(f, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&c,
                                "GET /delay/50 HTTP/1.1\r\nHost: t\r\n\r\n"
                                "GET /size/20 HTTP/1.1\r\nHost: t\r\n\r\n"
                                "GET /chunked/30 HTTP/1.1\r\nHost: t\r\n\r\n"
                                "GET /size/40 HTTP/1.1\r\nHost: t\r\n\r\n"),
                0);
  struct client_response r;
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_STR_EQ(buf_cstr(&r.body), "delayed");
  client_response_free(&r);
  static const size_t sizes[] = {20, 30, 40};
  for (int i = 0; i < 3; i++) {
    ASSERT_INT_EQ(client_read(&c, &r), 0);
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_INT_EQ(r.body.len, sizes[i]);
    client_response_free(&r);
  }
  client_close(&c);
  STOP(f);
}

static void rewrites_headers_as_a_proxy_must(void) {
  struct fixture f;
  START(f, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&c,
                                "GET /headers HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive, X-Drop\r\n"
                                "X-Drop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\n"
                                "Proxy-Connection: keep-alive\r\nX-Keep: yes\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n"),
                0);
  struct client_response r;
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  const char *seen = buf_cstr(&r.body);
  EXPECT_STR_CONTAINS(seen, "Host: svc\n");
  EXPECT_STR_CONTAINS(seen, "X-Keep: yes\n");
  EXPECT_STR_CONTAINS(seen, "x-forwarded-for: 10.1.2.3,127.0.0.1\n");
  EXPECT_STR_CONTAINS(seen, "x-forwarded-proto: http\n");
  EXPECT_STR_CONTAINS(seen, "x-request-id: ");
  EXPECT(!strstr(seen, "X-Drop"));
  EXPECT(!strstr(seen, "Keep-Alive"));
  EXPECT(!strstr(seen, "TE:"));
  EXPECT(!strstr(seen, "Upgrade"));
  EXPECT(!strstr(seen, "Proxy-Connection"));
  EXPECT(!strstr(seen, "Connection"));
  /* A generated request id is a UUID v4. */
  const char *rid = strstr(seen, "x-request-id: ");
  if (rid) {
    rid += 14;
    EXPECT(strlen(rid) >= 37 && rid[8] == '-' && rid[14] == '4' && rid[36] == '\n');
  }
  client_response_free(&r);
  /* An incoming request id is kept, not replaced. */
  ASSERT_INT_EQ(client_send_str(&c, "GET /headers HTTP/1.1\r\nHost: svc\r\nx-request-id: given-id-7\r\n\r\n"), 0);
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_STR_CONTAINS(buf_cstr(&r.body), "x-request-id: given-id-7\n");
  EXPECT(strstr(buf_cstr(&r.body), "x-request-id") == strstr(buf_cstr(&r.body), "x-request-id: given-id-7"));
  client_response_free(&r);
  /* Absolute-form (what curl sends through http_proxy) becomes origin-form plus Host. */
  ASSERT_INT_EQ(client_send_str(&c, "GET http://reviews:9080/headers HTTP/1.1\r\nHost: ignored\r\n\r\n"), 0);
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_STR_CONTAINS(buf_cstr(&r.body), "host: reviews:9080\n");
  EXPECT(!strstr(buf_cstr(&r.body), "ignored"));
  client_response_free(&r);
  client_close(&c);
  STOP(f);
}

/* 10 MB each way with a peer that stalls: backpressure must keep what the proxy holds
 * bounded, far below the body size. */
static void streams_large_bodies_with_backpressure(void) {
  struct fixture f;
  START(f, NULL);
  const size_t total = 10 * 1024 * 1024;
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  /* Upload: chunked, to an origin that stops reading for 300 ms. */
  ASSERT_INT_EQ(client_send_str(&c, "POST /slowcount HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
  char *piece = malloc(65536);
  uint64_t hash = 14695981039346656037ULL;
  for (size_t sent = 0; sent < total; sent += 65536) {
    for (size_t i = 0; i < 65536; i++) piece[i] = (char)('A' + (sent + i) % 23);
    hash = origin_hash(hash, piece, 65536);
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%x\r\n", 65536);
    ASSERT_INT_EQ(client_send_str(&c, hdr), 0);
    ASSERT_INT_EQ(client_send(&c, piece, 65536), 0);
    ASSERT_INT_EQ(client_send_str(&c, "\r\n"), 0);
  }
  ASSERT_INT_EQ(client_send_str(&c, "0\r\n\r\n"), 0);
  struct client_response r;
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  char want[96];
  snprintf(want, sizeof want, "bytes=%zu hash=%016llx", total, (unsigned long long)hash);
  EXPECT_STR_EQ(buf_cstr(&r.body), want);
  client_response_free(&r);
  /* Download: chunked from the origin while this client does not read for 300 ms. */
  ASSERT_INT_EQ(client_send_str(&c, "GET /chunked/10485760 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  usleep(300 * 1000);
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_INT_EQ(r.body.len, total);
  EXPECT(r.chunked);
  client_response_free(&r);
  free(piece);
  client_close(&c);
  /* Write queue high-water mark (256 KiB) per side, plus one read buffer, plus the kept body. */
  EXPECT_INT_LE(f.max_buffered, 2 * 1024 * 1024);
  EXPECT_INT_GE(f.max_buffered, 1);
  STOP(f);
}

static void upstream_dying_mid_response_cuts_the_client(void) {
  struct fixture f;
  START(f, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  ASSERT_INT_EQ(client_send_str(&c, "GET /die HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  EXPECT_INT_EQ(client_read(&c, &r), -1); /* the promised 1000 bytes never come */
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_INT_LE(r.body.len, 100);
  client_response_free(&r);
  client_close(&c);
  /* A new connection still works. */
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  get(&c, "/size/5", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_UC)], 1);
  STOP(f);
}

static void malformed_upstream_response_is_502(void) {
  struct fixture f;
  START(f, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  get(&c, "/bad", &r);
  EXPECT_INT_EQ(r.status, 502);
  client_response_free(&r);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_UPE)], 1);
  STOP(f);
}

static void refuses_smuggling_shapes_without_forwarding(void) {
  static const char *const bad[] = {
      "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: t\r\nBad\rHeader: x\r\n\r\n",
      "GET / HTTP/0.9\r\nHost: t\r\n\r\n",
  };
  struct fixture f;
  START(f, NULL);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct client c;
    ASSERT_INT_EQ(client_open(&c, f.port), 0);
    ASSERT_INT_EQ(client_send_str(&c, bad[i]), 0);
    struct client_response r;
    ASSERT_INT_EQ(client_read(&c, &r), 0);
    EXPECT_INT_EQ(r.status, 400);
    EXPECT(client_wait_closed(&c, 2000));
    client_response_free(&r);
    client_close(&c);
  }
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.origin_requests, 0);
  EXPECT_INT_EQ(n.protocol_errors, sizeof bad / sizeof bad[0]);
  STOP(f);
}

static void slow_headers_time_out(void) {
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.header_timeout_ms = 400;
  struct fixture f;
  START(f, &l);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  const char *req = "GET /size/1 HTTP/1.1\r\nHost: t\r\n\r\n";
  uint64_t start = uv_hrtime();
  int closed = 0;
  for (size_t i = 0; req[i]; i++) {
    if (client_send(&c, &req[i], 1) != 0) {
      closed = 1;
      break;
    }
    usleep(150 * 1000); /* one byte each 150 ms: the head would take 5 s */
    if ((uv_hrtime() - start) / 1000000 > 1500) break;
  }
  struct client_response r;
  if (!closed) {
    EXPECT_INT_EQ(client_read(&c, &r), 0);
    EXPECT_INT_EQ(r.status, 408);
    client_response_free(&r);
  }
  EXPECT(client_wait_closed(&c, 2000));
  EXPECT_INT_LE((uv_hrtime() - start) / 1000000, 2500);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.origin_requests, 0);
  EXPECT_INT_EQ(n.code_count[408], 1);
  STOP(f);
}

static void route_timeout_is_504_ut(void) {
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.request_timeout_ms = 200;
  struct fixture f;
  START(f, &l);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  uint64_t start = uv_hrtime();
  get(&c, "/delay/2000", &r);
  EXPECT_INT_EQ(r.status, 504);
  EXPECT_STR_EQ(buf_cstr(&r.body), "upstream request timeout");
  EXPECT_INT_LE((uv_hrtime() - start) / 1000000, 1500);
  client_response_free(&r);
  /* The same client connection goes on working. */
  get(&c, "/size/3", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_UT)], 1);
  STOP(f);
}

/* The response flags a local reply carries (x-meshlab-response-flags), "" when none. Valid
 * until the next call. */
static const char *flags_of(const struct client_response *r) {
  static char flags[32];
  flags[0] = '\0';
  client_header(r, "x-meshlab-response-flags", flags, sizeof flags);
  return flags;
}

static void refused_upstream_is_503_uf(void) {
  /* A port that was free a moment ago: nothing listens there. */
  struct fixture probe;
  START(probe, NULL);
  int dead_port = probe.origin.port;
  STOP(probe);
  struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, NULL, dead_port, NULL), 0);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  get(&c, "/size/3", &r);
  EXPECT_INT_EQ(r.status, 503);
  EXPECT_STR_CONTAINS(buf_cstr(&r.body), "upstream connect error or disconnect/reset before headers");
  EXPECT_STR_EQ(flags_of(&r), "UF");
  client_response_free(&r);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_UF)], 1);
  STOP(f);
}

static uint64_t ms_since(uint64_t start_ns) { return (uv_hrtime() - start_ns) / 1000000; }

/* A listening socket that never accepts, with its accept queue full: Linux drops every further
 * SYN (tcp_conn_request: "sk_acceptq_is_full ... goto drop", with tcp_abort_on_overflow at its
 * default 0), so a connect to it neither completes nor fails: the connect timeout's case, on
 * loopback. The fillers are non-blocking connects that complete into the queue. Returns the
 * port; fds[0] is the listener. */
static int unanswering_port(int fds[4]) {
  fds[0] = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fds[0] < 0 || bind(fds[0], (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fds[0], 0) != 0 ||
      getsockname(fds[0], (struct sockaddr *)&sa, &len) != 0)
    return -1;
  for (int i = 1; i < 4; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fds[i] >= 0) (void)connect(fds[i], (struct sockaddr *)&sa, sizeof sa);
  }
  usleep(50 * 1000); /* the fillers' handshakes complete; the queue is full */
  return ntohs(sa.sin_port);
}

static void connect_timeout_is_503_uf(void) {
  int fds[4];
  int port = unanswering_port(fds);
  ASSERT(port > 0);
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.connect_timeout_ms = 200;
  struct fixture f;
  ASSERT_INT_EQ(fixture_start(&f, &l, port, NULL), 0);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  uint64_t start = uv_hrtime();
  get(&c, "/size/3", &r);
  uint64_t took = ms_since(start);
  EXPECT_INT_EQ(r.status, 503);
  EXPECT_STR_EQ(buf_cstr(&r.body),
                "upstream connect error or disconnect/reset before headers. reset reason: connection timeout");
  EXPECT_STR_EQ(flags_of(&r), "UF");
  EXPECT_INT_GE(took, 180);
  EXPECT_INT_LE(took, 1500);
  client_response_free(&r);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_UF)], 1);
  STOP(f);
  for (int i = 0; i < 4; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* Envoy's stream_idle_timeout, before the response: 408 "stream timeout" SI while the request
 * is still arriving, and the connection closed (the rest of the body is not coming). */
static void client_stalled_mid_body_is_408_si(void) {
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.stream_idle_timeout_ms = 300;
  struct fixture f;
  START(f, &l);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  uint64_t start = uv_hrtime();
  ASSERT_INT_EQ(client_send_str(&c, "POST /headers HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhello"), 0);
  struct client_response r;
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_INT_EQ(r.status, 408);
  EXPECT_STR_EQ(buf_cstr(&r.body), "stream timeout");
  EXPECT_STR_EQ(flags_of(&r), "SI");
  EXPECT(client_wait_closed(&c, 1000));
  EXPECT_INT_GE(ms_since(start), 280);
  EXPECT_INT_LE(ms_since(start), 1500);
  client_response_free(&r);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.code_count[408], 1);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_SI)], 1);
  STOP(f);
}

/* The request was read whole and the upstream never answers, with no route timeout (Istio's
 * default): the stream idle timeout ends it with 504 "stream timeout" SI (Envoy since PR
 * #20026: a downstream timeout after the request was fully read is a 504, not a 408). The
 * client connection goes on. Progress on the way pushes the timeout back: a body sent in three
 * parts 200 ms apart does not trip a 300 ms timeout. */
static void unanswered_request_is_504_si(void) {
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.stream_idle_timeout_ms = 300;
  struct fixture f;
  START(f, &l);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&c, "POST /headers HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nab"), 0);
  usleep(200 * 1000);
  ASSERT_INT_EQ(client_send_str(&c, "cd"), 0);
  usleep(200 * 1000);
  ASSERT_INT_EQ(client_send_str(&c, "ef"), 0);
  struct client_response r;
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  uint64_t start = uv_hrtime();
  get(&c, "/delay/3000", &r);
  EXPECT_INT_EQ(r.status, 504);
  EXPECT_STR_EQ(buf_cstr(&r.body), "stream timeout");
  EXPECT_STR_EQ(flags_of(&r), "SI");
  EXPECT_INT_GE(ms_since(start), 280);
  EXPECT_INT_LE(ms_since(start), 1500);
  client_response_free(&r);
  get(&c, "/size/3", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  client_close(&c);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.code_count[504], 1);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_SI)], 1);
  STOP(f);
}

/* A client that stops reading a response: the proxy stops reading the origin (backpressure),
 * nothing moves, and the stream idle timeout resets the connection, as Envoy resets a stream
 * whose response started (SI). */
static void client_that_stops_reading_is_reset_si(void) {
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.stream_idle_timeout_ms = 500;
  struct fixture f;
  START(f, &l);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  int small = 4096;
  setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_INT_EQ(client_send_str(&c, "GET /size/8000000 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  usleep(2000 * 1000); /* reads nothing for four timeouts */
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.by_flag[flag_index(FLAG_SI)], 1);
  EXPECT_INT_EQ(n.code_count[200], 1); /* the response had started */
  EXPECT_INT_EQ(n.down_cx_active, 0);  /* and the proxy closed the connection */
  client_close(&c);                    /* unread: the rest of the body is not read */
  STOP(f);
}

/* Head and body limits answer before anything reaches the origin: a head over
 * max_head_bytes is 431, a Content-Length over max_request_body is 413 (refused from the head,
 * before the request is routed); both close the connection. */
static void oversized_head_is_431_and_body_413(void) {
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.max_head_bytes = 1024;
  l.max_request_body = 100;
  struct fixture f;
  START(f, &l);
  char big[2048];
  int n = snprintf(big, sizeof big, "GET /size/1 HTTP/1.1\r\nHost: t\r\nX-Big: %01500d\r\n\r\n", 0);
  ASSERT(n > 1500 && (size_t)n < sizeof big);
  static const struct {
    const char *req;
    int status;
  } cases[] = {
      {NULL, 431},
      {"POST /headers HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n", 413},
  };
  for (size_t i = 0; i < 2; i++) {
    struct client c;
    ASSERT_INT_EQ(client_open(&c, f.port), 0);
    ASSERT_INT_EQ(client_send_str(&c, cases[i].req ? cases[i].req : big), 0);
    struct client_response r;
    ASSERT_INT_EQ(client_read(&c, &r), 0);
    EXPECT_INT_EQ(r.status, cases[i].status);
    EXPECT(client_wait_closed(&c, 2000));
    client_response_free(&r);
    client_close(&c);
  }
  struct counts k;
  fixture_call(&f, read_counts, &k);
  EXPECT_INT_EQ(k.origin_requests, 0);
  EXPECT_INT_EQ(k.origin_connections, 0);
  EXPECT_INT_EQ(k.code_count[431], 1);
  EXPECT_INT_EQ(k.code_count[413], 1);
  STOP(f);
}

/* Bytes arriving on c within ms, or -1 when it closed first (EOF or reset), or 0 for silence. */
static ssize_t recv_within(struct client *c, int ms, char *out, size_t cap) {
  struct pollfd pfd = {c->fd, POLLIN, 0};
  if (poll(&pfd, 1, ms) <= 0) return 0;
  ssize_t got = recv(c->fd, out, cap, 0);
  return got > 0 ? got : -1;
}

/* A keep-alive connection with no request is closed after idle_timeout, silently (no 408: the
 * header timeout, set far longer here, only starts with a request's first byte), both fresh
 * and after a request. */
static void idle_connections_close_after_idle_timeout(void) {
  struct proxy_limits l;
  proxy_limits_default(&l);
  l.idle_timeout_ms = 300;
  l.header_timeout_ms = 5000;
  struct fixture f;
  START(f, &l);
  for (int used = 0; used < 2; used++) {
    struct client c;
    ASSERT_INT_EQ(client_open(&c, f.port), 0);
    if (used) {
      struct client_response r;
      get(&c, "/size/3", &r);
      EXPECT_INT_EQ(r.status, 200);
      client_response_free(&r);
    }
    uint64_t start = uv_hrtime();
    char buf[256];
    EXPECT_INT_EQ(recv_within(&c, 200, buf, sizeof buf), 0); /* still open before the timeout */
    EXPECT_INT_EQ(recv_within(&c, 1500, buf, sizeof buf), -1);  /* closed, with nothing sent */
    EXPECT_INT_GE(ms_since(start), 280);
    EXPECT_INT_LE(ms_since(start), 1500);
    client_close(&c);
  }
  STOP(f);
}

static void speaks_http10_and_reframes(void) {
  struct fixture f;
  START(f, NULL);
  struct client c;
  struct client_response r;
  /* HTTP/1.0 without keep-alive: the proxy closes after the response. A chunked origin
   * response is re-framed for 1.0 as delimited by close. */
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&c, "GET /chunked/1000 HTTP/1.0\r\n\r\n"), 0);
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_INT_EQ(r.body.len, 1000);
  EXPECT(!r.chunked);
  client_response_free(&r);
  client_close(&c);
  /* HTTP/1.0 with keep-alive keeps the connection. */
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  for (int i = 0; i < 2; i++) {
    ASSERT_INT_EQ(client_send_str(&c, "GET /size/7 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    ASSERT_INT_EQ(client_read(&c, &r), 0);
    EXPECT_INT_EQ(r.body.len, 7);
    char v[32] = "";
    client_header(&r, "connection", v, sizeof v);
    EXPECT_STR_EQ(v, "keep-alive");
    client_response_free(&r);
  }
  client_close(&c);
  /* A close-delimited origin response reaches a 1.1 client chunked, and the pool drops the
   * origin connection. */
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  get(&c, "/close/500", &r);
  EXPECT_INT_EQ(r.body.len, 500);
  EXPECT(r.chunked);
  client_response_free(&r);
  /* 100 Continue passes through, then the final response. */
  ASSERT_INT_EQ(client_send_str(&c, "POST /continue HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"), 0);
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_STR_EQ(buf_cstr(&r.body), "after continue");
  client_response_free(&r);
  /* HEAD keeps Content-Length and sends no body. */
  ASSERT_INT_EQ(client_send_str(&c, "HEAD /size/50 HTTP/1.1\r\nHost: t\r\n\r\nGET /size/4 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  http_parser_free(c.parser);
  c.parser = NULL;
  /* Read the HEAD response by hand: our client parser would expect a body. */
  char raw[512];
  size_t got = 0;
  while (got < sizeof raw - 1) {
    ssize_t n = recv(c.fd, raw + got, sizeof raw - 1 - got, 0);
    if (n <= 0) break;
    got += (size_t)n;
    raw[got] = '\0';
    if (strstr(raw, "\r\n\r\n") && strstr(strstr(raw, "\r\n\r\n") + 4, "\r\n\r\nabcd")) break;
  }
  raw[got] = '\0';
  EXPECT_STR_CONTAINS(raw, "content-length: 50\r\n");
  char *second = strstr(raw, "\r\n\r\nHTTP/1.1 200");
  EXPECT(second != NULL); /* nothing between the HEAD response's head and the next response */
  client_close(&c);
  STOP(f);
}

static void on_closed_noop(struct proxy *px) { (void)px; }

static void begin_shutdown(struct fixture *f, void *arg) {
  (void)arg;
  proxy_shutdown(&f->px, on_closed_noop);
}

static void drains_in_flight_requests_on_shutdown(void) {
  struct fixture f;
  START(f, NULL);
  struct client c, idle;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  ASSERT_INT_EQ(client_open(&idle, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&c, "GET /delay/300 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  usleep(50 * 1000);
  /* SIGTERM's path: stop accepting, let the request in flight finish, close idle ones. */
  fixture_call(&f, begin_shutdown, NULL);
  struct client late;
  EXPECT(client_open(&late, f.port) != 0);
  EXPECT(client_wait_closed(&idle, 1000));
  struct client_response r;
  ASSERT_INT_EQ(client_read(&c, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_EQ(buf_cstr(&r.body), "delayed");
  char v[32] = "";
  client_header(&r, "connection", v, sizeof v);
  EXPECT_STR_EQ(v, "close");
  client_response_free(&r);
  EXPECT(client_wait_closed(&c, 1000));
  client_close(&c);
  client_close(&idle);
  STOP(f);
}

/* Runs on the loop thread: every route of the pushed config mirrors to its own first
 * destination at 100 % (what a VirtualService mirror compiles to), so the origin gets each
 * request twice: once from the request, once from its shadow. */
static void enable_mirror(struct fixture *f, void *arg) {
  (void)arg;
  struct proxy_config *cfg = f->px.config->cfg;
  for (size_t i = 0; i < cfg->route_configs_len; i++)
    for (size_t v = 0; v < cfg->route_configs[i].vhosts_len; v++)
      for (size_t k = 0; k < cfg->route_configs[i].vhosts[v].routes_len; k++) {
        struct xds_route *r = &cfg->route_configs[i].vhosts[v].routes[k];
        if (!r->destinations_len) continue;
        r->mirror_present = true;
        r->mirror = r->destinations[0];
        r->mirror_percentage.value = 100;
      }
}

static void read_mirror_stats(struct fixture *f, void *arg) {
  struct mirror_stats *m = arg;
  *m = f->px.mirrors.stats;
  m->sent += 1000 * mirror_set_inflight(&f->px.mirrors); /* in flight, folded in for the test to see */
}

static void mirror_is_fire_and_forget(void) {
  struct fixture f;
  START(f, NULL);
  fixture_call(&f, enable_mirror, NULL);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  get(&c, "/headers", &r);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(buf_cstr(&r.body), "Host: test\n"); /* the caller's answer is the request's own */
  client_response_free(&r);
  struct counts n = {0};
  struct mirror_stats m = {0};
  for (int i = 0; i < 100; i++) {
    fixture_call(&f, read_counts, &n);
    fixture_call(&f, read_mirror_stats, &m);
    if (n.origin_requests == 2 && m.responses == 1) break;
    usleep(10 * 1000);
  }
  EXPECT_INT_EQ(n.origin_requests, 2);
  EXPECT_INT_EQ(m.sent, 1);
  EXPECT_INT_EQ(m.responses, 1);
  EXPECT_INT_EQ(n.code_count[200], 1); /* the shadow is not a downstream request */
  /* A shadow still running when the proxy shuts down is cancelled, not waited for: the caller
   * of a 5 s request leaves, its shadow is cut at shutdown, the loop closes cleanly and fast. */
  struct client slow;
  ASSERT_INT_EQ(client_open(&slow, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&slow, "GET /delay/5000 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  usleep(100 * 1000);
  client_close(&slow);
  usleep(50 * 1000);
  fixture_call(&f, read_mirror_stats, &m);
  EXPECT_INT_EQ(m.sent, 1002); /* two sent, one in flight */
  client_close(&c);
  uint64_t start = uv_hrtime();
  STOP(f);
  EXPECT_INT_LE((uv_hrtime() - start) / 1000000, 2000);
}

struct push {
  int upstream_port;
  int rc;
  uint64_t version;
};

/* Runs on the loop thread: installs routing to upstream_port, as a push from the lab would. */
static void push_config(struct fixture *f, void *arg) {
  struct push *p = arg;
  char addr[64], err[256];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", p->upstream_port);
  struct proxy_limits l;
  proxy_limits_default(&l);
  struct bootstrap b;
  struct proxy_config *cfg = NULL;
  p->rc = bootstrap_for_proxy(&b, "127.0.0.1:0", addr, NULL, &l, NULL, NULL, err, sizeof err);
  if (p->rc == 0) p->rc = bootstrap_routing(&b, &cfg, err, sizeof err);
  bootstrap_free(&b);
  if (p->rc != 0) return;
  cfg->version = p->version;
  p->rc = proxy_set_config(&f->px, cfg);
}

static void pushes_keep_pools_and_in_flight_requests(void) {
  struct fixture f;
  START(f, NULL);
  struct client c, slow;
  struct client_response r;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  /* The same routing pushed again: the host and its pooled connection stay. */
  struct push p = {f.origin.port, -1, 2};
  fixture_call(&f, push_config, &p);
  ASSERT_INT_EQ(p.rc, 0);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  struct counts n;
  fixture_call(&f, read_counts, &n);
  EXPECT_INT_EQ(n.cx_total, 1);
  EXPECT_INT_EQ(n.origin_connections, 1);
  /* A request in flight when the routing moves to a dead endpoint still finishes under the
   * config it started with; the next request follows the new one. */
  struct fixture probe;
  START(probe, NULL);
  int dead_port = probe.origin.port;
  STOP(probe);
  ASSERT_INT_EQ(client_open(&slow, f.port), 0);
  ASSERT_INT_EQ(client_send_str(&slow, "GET /delay/300 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  usleep(50 * 1000);
  struct push away = {dead_port, -1, 3};
  fixture_call(&f, push_config, &away);
  ASSERT_INT_EQ(away.rc, 0);
  ASSERT_INT_EQ(client_read(&slow, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_EQ(buf_cstr(&r.body), "delayed");
  client_response_free(&r);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 503);
  client_response_free(&r);
  /* And back: the retired host was freed, a new one serves. */
  struct push back = {f.origin.port, -1, 4};
  fixture_call(&f, push_config, &back);
  get(&c, "/size/10", &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  client_close(&c);
  client_close(&slow);
  STOP(f);
}

/* ---- jwt_authn and rbac on the inbound listener (filters.c) ----------------------------------- */

struct push_security {
  const char *policies; /* a JSON array of security_policies */
  int rc;
  char err[256];
};

/* Runs on the loop thread: the fixture's routing, plus security_policies, pushed as the lab
 * would (through compile_to_json / compile_from_json, so the key sets are parsed once). */
static void push_security_config(struct fixture *f, void *arg) {
  struct push_security *p = arg;
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", f->origin.port);
  struct proxy_limits l;
  proxy_limits_default(&l);
  struct bootstrap b;
  struct proxy_config *cfg = NULL, *with = NULL;
  p->rc = bootstrap_for_proxy(&b, "127.0.0.1:0", addr, NULL, &l, NULL, NULL, p->err, sizeof p->err);
  if (p->rc == 0) p->rc = bootstrap_routing(&b, &cfg, p->err, sizeof p->err);
  bootstrap_free(&b);
  if (p->rc != 0) return;
  char *json = NULL;
  p->rc = compile_to_json(cfg, 0, &json);
  proxy_config_free(cfg);
  if (p->rc != 0) return;
  json_t *root = json_loads(json, 0, NULL), *pol = json_loads(p->policies, 0, NULL);
  free(json);
  json_object_set_new(root, "version", json_integer(9));
  json_object_set_new(root, "security_policies", pol);
  json = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  p->rc = compile_from_json(json, strlen(json), "push", &with, p->err, sizeof p->err);
  free(json);
  if (p->rc == 0) p->rc = proxy_set_config(&f->px, with);
}

static void send_get(struct client *c, const char *path, const char *extra, struct client_response *r) {
  char req[2048];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n", path, extra ? extra : "");
  if (client_send_str(c, req) != 0 || client_read(c, r) != 0)
    test_fail(__FILE__, __LINE__, "GET %s: no complete response", path);
}

static void authenticates_then_authorizes_inbound(void) {
  char tmpl[] = "/tmp/meshlab-proxy-issuer-XXXXXX", err[256], keyfile[600];
  ASSERT(mkdtemp(tmpl) != NULL);
  struct issuer is;
  ASSERT_INT_EQ(issuer_load(tmpl, &is, err, sizeof err), 0);
  const char *groups[] = {"group1"};
  struct issuer_claims claims = {.sub = "alice", .groups = groups, .groups_len = 1};
  char *token = NULL;
  ASSERT_INT_EQ(issuer_mint(&is, &claims, (int64_t)time(NULL), &token, err, sizeof err), 0);
  json_t *pol = json_pack("[{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s,s:s}]}},"
                          " {s:s,s:s,s:{s:s},s:{s:s,s:[{s:[{s:{s:[s]}}]}]}}]",
                          "apiVersion", "security.istio.io/v1", "kind", "RequestAuthentication", "metadata", "name",
                          "jwt", "spec", "jwtRules", "issuer", ISSUER_NAME, "jwks", is.jwks, "outputPayloadToHeader",
                          "x-jwt-payload", "apiVersion", "security.istio.io/v1", "kind", "AuthorizationPolicy",
                          "metadata", "name", "deny-size-1", "spec", "action", "DENY", "rules", "to", "operation",
                          "paths", "/size/1");
  /* destination.ip is the listener's own address. */
  json_array_append_new(pol, json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:[{s:[{s:{s:[s]}}],s:[{s:s,s:[s]}]}]}}", "apiVersion",
                                       "security.istio.io/v1", "kind", "AuthorizationPolicy", "metadata", "name",
                                       "deny-local", "spec", "action", "DENY", "rules", "to", "operation", "paths",
                                       "/size/3", "when", "key", "destination.ip", "values", "127.0.0.1"));
  char *text = json_dumps(pol, JSON_COMPACT);
  json_decref(pol);
  struct fixture f;
  START(f, NULL);
  struct push_security p = {text, -1, ""};
  fixture_call(&f, push_security_config, &p);
  if (p.rc != 0) test_fail(__FILE__, __LINE__, "push: %d %s", p.rc, p.err);
  struct client c;
  ASSERT_INT_EQ(client_open(&c, f.port), 0);
  struct client_response r;
  /* No token: passes without a principal. */
  send_get(&c, "/size/10", NULL, &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  /* A valid token: the app gets the payload header and no Authorization header. */
  char hdr[1200];
  snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\nx-jwt-payload: forged\r\n", token);
  send_get(&c, "/headers", hdr, &r);
  EXPECT_INT_EQ(r.status, 200);
  const char *dot = strchr(token, '.');
  char want[800];
  snprintf(want, sizeof want, "x-jwt-payload: %.*s", (int)(strchr(dot + 1, '.') - dot - 1), dot + 1);
  EXPECT_STR_CONTAINS(buf_cstr(&r.body), want);
  EXPECT(strstr(buf_cstr(&r.body), "forged") == NULL);
  EXPECT(strcasestr(buf_cstr(&r.body), "authorization:") == NULL);
  client_response_free(&r);
  /* A broken token: 401 with Envoy's body and www-authenticate, never reaching the origin. */
  send_get(&c, "/size/10?x=1", "Authorization: Bearer a.b\r\n", &r);
  EXPECT_INT_EQ(r.status, 401);
  EXPECT_STR_EQ(buf_cstr(&r.body), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
  EXPECT_STR_CONTAINS(buf_cstr(&r.headers),
                      "www-authenticate: Bearer realm=\"http://test/size/10?x=1\", error=\"invalid_token\"");
  client_response_free(&r);
  /* DENY on the path: 403, with or without a token; the next path passes. */
  send_get(&c, "/size/1", NULL, &r);
  EXPECT_INT_EQ(r.status, 403);
  EXPECT_STR_EQ(buf_cstr(&r.body), "RBAC: access denied");
  client_response_free(&r);
  send_get(&c, "/size/1", hdr, &r);
  EXPECT_INT_EQ(r.status, 403);
  client_response_free(&r);
  send_get(&c, "/size/2", NULL, &r);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  send_get(&c, "/size/3", NULL, &r);
  EXPECT_INT_EQ(r.status, 403);
  client_response_free(&r);
  client_close(&c);
  STOP(f);
  free(text);
  free(token);
  issuer_free(&is);
  snprintf(keyfile, sizeof keyfile, "%s/issuer.key", tmpl);
  unlink(keyfile);
  snprintf(keyfile, sizeof keyfile, "%s/issuer-rs256.key", tmpl);
  unlink(keyfile);
  rmdir(tmpl);
}

TEST_CASES(TEST(authenticates_then_authorizes_inbound),
           TEST(pushes_keep_pools_and_in_flight_requests), TEST(keeps_alive_and_reuses_pooled_connections),
           TEST(answers_pipelined_requests_in_order),
           TEST(rewrites_headers_as_a_proxy_must), TEST(streams_large_bodies_with_backpressure),
           TEST(upstream_dying_mid_response_cuts_the_client), TEST(malformed_upstream_response_is_502),
           TEST(refuses_smuggling_shapes_without_forwarding), TEST(slow_headers_time_out),
           TEST(route_timeout_is_504_ut), TEST(refused_upstream_is_503_uf), TEST(connect_timeout_is_503_uf),
           TEST(client_stalled_mid_body_is_408_si), TEST(unanswered_request_is_504_si),
           TEST(client_that_stops_reading_is_reset_si),
           TEST(oversized_head_is_431_and_body_413), TEST(idle_connections_close_after_idle_timeout),
           TEST(speaks_http10_and_reframes),
           TEST(drains_in_flight_requests_on_shutdown), TEST(mirror_is_fire_and_forget))
