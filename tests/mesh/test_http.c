/* Unit tests for mesh/http.c, mesh/http_strict.c and mesh/http_head.c: parsing, the
 * strictness rules, header rules for proxies and serialisation. */
#include <stdlib.h>

#include "mesh/flags.h"
#include "mesh/http.h"
#include "mesh/http_head.h"
#include "mesh/http_strict.h"
#include "mesh/rand.h"
#include "support/test.h"

/* A parser harness recording what the callbacks saw. */
struct seen {
  int heads, completes;
  int status;
  char method[16], target[256];
  struct buf body;
  int64_t content_length;
  int chunked, keep_alive;
  char first_header[128];
};

static int on_head(void *o, struct http_head *h) {
  struct seen *s = o;
  s->heads++;
  snprintf(s->method, sizeof s->method, "%.*s", (int)h->method.n, h->method.p);
  snprintf(s->target, sizeof s->target, "%.*s", (int)h->target.n, h->target.p);
  s->status = h->status;
  s->content_length = h->content_length;
  s->chunked = h->chunked;
  s->keep_alive = h->keep_alive;
  if (h->nheaders)
    snprintf(s->first_header, sizeof s->first_header, "%.*s=%.*s", (int)h->headers[0].name.n, h->headers[0].name.p,
             (int)h->headers[0].value.n, h->headers[0].value.p);
  return 0;
}
static int on_body(void *o, const char *p, size_t n) {
  struct seen *s = o;
  return buf_append(&s->body, p, n);
}
static int on_complete(void *o) {
  ((struct seen *)o)->completes++;
  return 0;
}

static const struct http_parser_cbs cbs = {on_head, on_body, on_complete};
static const struct http_limits limits = {8192, 32, 0};

/* Feeds text in pieces of `step` bytes (0 = all at once); returns the last result and how
 * many messages completed. */
static int feed(enum http_parse_kind kind, const char *text, size_t step, struct seen *s, int *status, int *code) {
  struct http_parser *p = http_parser_new(kind, &cbs, &limits, s);
  size_t n = strlen(text), off = 0;
  int rc = HTTP_PARSE_OK;
  while (off < n) {
    size_t len = step && n - off > step ? step : n - off;
    size_t used;
    rc = http_parser_execute(p, text + off, len, &used);
    if (rc < 0) break;
    off += used;
  }
  if (rc >= 0) {
    int f = http_parser_finish(p);
    if (f < 0) rc = f;
  }
  if (status) *status = rc < 0 ? http_parser_error_status(p) : 0;
  if (code) *code = rc < 0 ? http_parser_error_code(p) : 0;
  http_parser_free(p);
  return rc;
}

static void parses_simple_request(void) {
  struct seen s = {0};
  EXPECT(feed(HTTP_PARSE_REQUEST, "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A:  v v \r\n\r\n", 0, &s, NULL, NULL) >= 0);
  EXPECT_INT_EQ(s.heads, 1);
  EXPECT_INT_EQ(s.completes, 1);
  EXPECT_STR_EQ(s.method, "GET");
  EXPECT_STR_EQ(s.target, "/a?b=1");
  EXPECT_STR_EQ(s.first_header, "Host=x");
  EXPECT_INT_EQ(s.content_length, -1);
  EXPECT_INT_EQ(s.keep_alive, 1);
  buf_free(&s.body);
}

static void parses_byte_by_byte(void) {
  struct seen s = {0};
  const char *req =
      "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT(feed(HTTP_PARSE_REQUEST, req, 1, &s, NULL, NULL) >= 0);
  EXPECT_INT_EQ(s.heads, 2);
  EXPECT_INT_EQ(s.completes, 2);
  EXPECT_STR_EQ(buf_cstr(&s.body), "hello world");
  EXPECT_STR_EQ(s.target, "/next");
  buf_free(&s.body);
}

static void stops_after_each_message(void) {
  struct seen s = {0};
  struct http_parser *p = http_parser_new(HTTP_PARSE_REQUEST, &cbs, &limits, &s);
  const char *two = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t used;
  EXPECT_INT_EQ(http_parser_execute(p, two, strlen(two), &used), HTTP_PARSE_DONE);
  EXPECT_INT_EQ(used, strlen(two) / 2);
  EXPECT_STR_EQ(s.target, "/1");
  EXPECT(http_parser_idle(p));
  EXPECT_INT_EQ(http_parser_execute(p, two + used, strlen(two) - used, &used), HTTP_PARSE_DONE);
  EXPECT_STR_EQ(s.target, "/2");
  http_parser_free(p);
}

/* Each input must be refused with the given status and strictness code (0 = llhttp's own). */
static void refuses_malformed_requests(void) {
  static const struct {
    const char *input;
    int status;
    int code;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, STRICT_OBS_FOLD},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400, STRICT_BARE_CR},
      {"GET / HTTP/1.1\nHost: x\n\n", 400, STRICT_BARE_LF},
      {"GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", 400, STRICT_EMPTY_HEADER_NAME},
      {"GET / HTTP/1.1\r\nHost: x\r\nX Y: v\r\n\r\n", 400, STRICT_SPACE_BEFORE_COLON},
      {"GET / HTTP/1.1\r\nHost: x\r\nX : v\r\n\r\n", 400, STRICT_SPACE_BEFORE_COLON},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n", 400, STRICT_BAD_HEADER_VALUE},
      {"GET / HTTP/1.1\r\nHost: x\r\nX(: v\r\n\r\n", 400, STRICT_BAD_HEADER_NAME},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       STRICT_CONTENT_LENGTH_WITH_TE},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400,
       STRICT_REPEATED_CONTENT_LENGTH},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400,
       STRICT_REPEATED_CONTENT_LENGTH},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400, STRICT_REPEATED_CONTENT_LENGTH},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, STRICT_BAD_CONTENT_LENGTH},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400, STRICT_BAD_TRANSFER_ENCODING},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400, STRICT_BAD_TRANSFER_ENCODING},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       STRICT_BAD_TRANSFER_ENCODING},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, STRICT_TE_IN_HTTP10},
      {"GET /\r\n\r\n", 400, STRICT_UNSUPPORTED_VERSION},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, STRICT_UNSUPPORTED_VERSION},
      {"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 400, STRICT_UNSUPPORTED_VERSION},
      {"GET / RTSP/1.0\r\nHost: x\r\n\r\n", 400, STRICT_UNSUPPORTED_VERSION},
      {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, STRICT_METHOD_NOT_ALLOWED},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, STRICT_METHOD_NOT_ALLOWED},
      {"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, STRICT_BAD_METHOD},
      {"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, STRICT_BAD_VERSION},
      {"GET / HTTP/1.1\r\n\r\n", 400, STRICT_MISSING_HOST},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, STRICT_REPEATED_HOST},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct seen s = {0};
    int status = 0, code = 0;
    int rc = feed(HTTP_PARSE_REQUEST, cases[i].input, 0, &s, &status, &code);
    if (rc != HTTP_PARSE_ERROR || status != cases[i].status || code != cases[i].code)
      test_fail(__FILE__, __LINE__, "case %zu (%s): rc %d status %d code %d (%s), want status %d code %d (%s)", i,
                cases[i].input, rc, status, code, http_strict_reason(code), cases[i].status, cases[i].code,
                http_strict_reason(cases[i].code));
    EXPECT_INT_EQ(s.heads, 0); /* nothing reached the owner, so nothing could be forwarded */
    buf_free(&s.body);
  }
}

static void enforces_head_limit(void) {
  struct seen s = {0};
  struct buf big = {0};
  buf_append_str(&big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
  for (int i = 0; i < 9000; i++) buf_append(&big, "a", 1);
  buf_append_str(&big, "\r\n\r\n");
  int status;
  EXPECT_INT_EQ(feed(HTTP_PARSE_REQUEST, buf_cstr(&big), 100, &s, &status, NULL), HTTP_PARSE_ERROR);
  EXPECT_INT_EQ(status, 431);
  buf_free(&big);
}

static void enforces_body_limit(void) {
  static const struct http_limits small = {8192, 32, 4};
  struct seen s = {0};
  struct http_parser *p = http_parser_new(HTTP_PARSE_REQUEST, &cbs, &small, &s);
  const char *req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789";
  size_t used;
  EXPECT_INT_EQ(http_parser_execute(p, req, strlen(req), &used), HTTP_PARSE_ERROR);
  EXPECT_INT_EQ(http_parser_error_status(p), 413);
  http_parser_free(p);
  buf_free(&s.body);
}

static void parses_responses(void) {
  struct seen s = {0};
  EXPECT(feed(HTTP_PARSE_RESPONSE, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno", 3, &s, NULL, NULL) >= 0);
  EXPECT_INT_EQ(s.status, 404);
  EXPECT_STR_EQ(buf_cstr(&s.body), "no");
  buf_free(&s.body);
  /* Delimited by close: the body ends at EOF. */
  struct seen c = {0};
  EXPECT_INT_EQ(feed(HTTP_PARSE_RESPONSE, "HTTP/1.1 200 OK\r\n\r\nuntil close", 0, &c, NULL, NULL), HTTP_PARSE_OK);
  EXPECT_INT_EQ(c.completes, 1);
  EXPECT_STR_EQ(buf_cstr(&c.body), "until close");
  EXPECT_INT_EQ(c.keep_alive, 0);
  buf_free(&c.body);
  /* Cut short: a Content-Length body that never arrives is an error at EOF. */
  struct seen t = {0};
  EXPECT_INT_EQ(feed(HTTP_PARSE_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, &t, NULL, NULL),
                HTTP_PARSE_ERROR);
  buf_free(&t.body);
  struct seen bad = {0};
  int status;
  EXPECT_INT_EQ(feed(HTTP_PARSE_RESPONSE, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0, &bad, &status, NULL),
                HTTP_PARSE_ERROR);
  EXPECT_INT_EQ(status, 502);
  buf_free(&bad.body);
}

/* ---- http_head ---- */

static struct http_head parse_head(const char *text, struct http_header *hdrs, size_t n) {
  struct http_head h = {0};
  h.headers = hdrs;
  enum http_strict_code rc = http_strict_parse_head(text, strlen(text), 1, &h, n);
  if (rc != STRICT_OK) test_fail(__FILE__, __LINE__, "parse_head: %s", http_strict_reason(rc));
  return h;
}

static void removes_hop_by_hop_and_adds_forwarding(void) {
  struct http_header hdrs[32];
  const char *text =
      "GET /x HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n"
      "X-Secret: s\r\nTE: trailers\r\nTrailer: x\r\nUpgrade: websocket\r\nProxy-Connection: close\r\n"
      "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\n\r\n";
  struct http_head h = parse_head(text, hdrs, 32);
  struct http_forward fw = {.target = SLICE_LIT("/x"),
                            .client_ip = SLICE_LIT("127.0.0.9"),
                            .proto = SLICE_LIT("http"),
                            .request_id = SLICE_LIT("rid-1"),
                            .framing = HTTP_FRAMING_NONE};
  struct buf out = {0};
  ASSERT_INT_EQ(http_head_write_request(&out, &h, &fw), 0);
  const char *s = buf_cstr(&out);
  EXPECT_STR_EQ(s,
                "GET /x HTTP/1.1\r\nHost: svc\r\nAccept: */*\r\nx-forwarded-for: 10.0.0.1,127.0.0.9\r\n"
                "x-forwarded-proto: http\r\nx-request-id: rid-1\r\n\r\n");
  buf_free(&out);
}

static void rewrites_absolute_form(void) {
  struct slice auth, path;
  EXPECT_INT_EQ(http_head_split_target(SLICE_LIT("http://reviews:9080/reviews/0?x=1"), &auth, &path), 0);
  EXPECT(slice_eq_str_nocase(auth, "reviews:9080"));
  EXPECT(slice_eq_str_nocase(path, "/reviews/0?x=1"));
  EXPECT_INT_EQ(http_head_split_target(SLICE_LIT("http://ratings"), &auth, &path), 0);
  EXPECT(slice_eq_str_nocase(path, "/"));
  EXPECT(http_head_split_target(SLICE_LIT("https://x/"), &auth, &path) != 0);
  EXPECT(http_head_split_target(SLICE_LIT("http://user@x/"), &auth, &path) != 0);
  EXPECT_INT_EQ(http_head_split_target(SLICE_LIT("/plain"), &auth, &path), 0);
  EXPECT_INT_EQ(auth.n, 0);
}

static void writes_response_framing(void) {
  struct http_header hdrs[8];
  struct http_head h = {0};
  h.headers = hdrs;
  const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\nX-App: 1\r\n\r\n";
  ASSERT_INT_EQ(http_strict_parse_head(text, strlen(text), 0, &h, 8), STRICT_OK);
  struct buf out = {0};
  http_head_write_response(&out, &h, HTTP_FRAMING_CHUNKED, -1, 1, 0, NULL);
  EXPECT_STR_EQ(buf_cstr(&out), "HTTP/1.1 200 OK\r\nX-App: 1\r\ntransfer-encoding: chunked\r\n\r\n");
  buf_reset(&out);
  http_head_write_response(&out, &h, HTTP_FRAMING_LENGTH, 5, 0, 0, NULL);
  EXPECT_STR_EQ(buf_cstr(&out), "HTTP/1.1 200 OK\r\nX-App: 1\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\n");
  buf_reset(&out);
  http_head_write_local_reply(&out, 503, "no healthy upstream", "x-envoy-overloaded: true\r\n", 1, 0);
  EXPECT_STR_EQ(buf_cstr(&out),
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"
                "x-envoy-overloaded: true\r\n\r\nno healthy upstream");
  buf_free(&out);
}

static void formats_flags_like_envoy(void) {
  char out[64];
  flags_format(0, out, sizeof out);
  EXPECT_STR_EQ(out, "-");
  flags_format(FLAG_URX | FLAG_UF, out, sizeof out);
  EXPECT_STR_EQ(out, "UF,URX");
  flags_format(FLAG_UO, out, sizeof out);
  EXPECT_STR_EQ(out, "UO");
  EXPECT_INT_EQ(flag_parse("NR", 2), FLAG_NR);
  EXPECT_INT_EQ(flag_parse("XX", 2), 0);
}

static void request_ids_are_uuid_v4(void) {
  struct rng r;
  rng_seed(&r, 42);
  char a[37], b[37];
  rng_uuid(&r, a);
  rng_uuid(&r, b);
  EXPECT_INT_EQ(strlen(a), 36);
  EXPECT(strcmp(a, b) != 0);
  EXPECT(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
  EXPECT(a[14] == '4');                  /* version */
  EXPECT(strchr("89ab", a[19]) != NULL); /* variant */
  for (int i = 0; i < 36; i++) EXPECT(a[i] == '-' || strchr("0123456789abcdef", a[i]));
  /* The same seed gives the same ids (runs repeat with --seed). */
  struct rng r2;
  rng_seed(&r2, 42);
  char c[37];
  rng_uuid(&r2, c);
  EXPECT_STR_EQ(a, c);
}

TEST_CASES(TEST(request_ids_are_uuid_v4), TEST(parses_simple_request), TEST(parses_byte_by_byte),
           TEST(stops_after_each_message), TEST(refuses_malformed_requests), TEST(enforces_head_limit),
           TEST(enforces_body_limit), TEST(parses_responses), TEST(removes_hop_by_hop_and_adds_forwarding),
           TEST(rewrites_absolute_form), TEST(writes_response_framing), TEST(formats_flags_like_envoy))
