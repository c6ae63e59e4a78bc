/* Integration tests for mesh/proxy.c over real sockets: a test origin and the proxy share a
 * loop on a background thread; blocking clients drive them. Each test ends by shutting the
 * proxy down and checking the loop closed with every handle closed. What a pushed config turns
 * on (mirrors, config swaps, jwt_authn and rbac) is in test_proxy_config.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mesh/flags.h"
#include "proxy_fixtures.h"
#include "support/client.h"
#include "support/fixture.h"
#include "support/test.h"

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
    EXPECT_INT_EQ(recv_within(&c, 200, buf, sizeof buf), 0);   /* still open before the timeout */
    EXPECT_INT_EQ(recv_within(&c, 1500, buf, sizeof buf), -1); /* closed, with nothing sent */
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
  ASSERT_INT_EQ(client_send_str(&c, "HEAD /size/50 HTTP/1.1\r\nHost: t\r\n\r\nGET /size/4 HTTP/1.1\r\nHost: t\r\n\r\n"),
                0);
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

TEST_CASES(TEST(keeps_alive_and_reuses_pooled_connections), TEST(answers_pipelined_requests_in_order),
           TEST(rewrites_headers_as_a_proxy_must), TEST(streams_large_bodies_with_backpressure),
           TEST(upstream_dying_mid_response_cuts_the_client), TEST(malformed_upstream_response_is_502),
           TEST(refuses_smuggling_shapes_without_forwarding), TEST(slow_headers_time_out),
           TEST(route_timeout_is_504_ut), TEST(refused_upstream_is_503_uf), TEST(connect_timeout_is_503_uf),
           TEST(client_stalled_mid_body_is_408_si), TEST(unanswered_request_is_504_si),
           TEST(client_that_stops_reading_is_reset_si), TEST(oversized_head_is_431_and_body_413),
           TEST(idle_connections_close_after_idle_timeout), TEST(speaks_http10_and_reframes),
           TEST(drains_in_flight_requests_on_shutdown))
