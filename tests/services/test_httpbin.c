/* The httpbin-like app and the external service, in-process: each endpoint's status and JSON
 * shape, httpbin's caps (10 s delay, 100 KiB bytes), and seeded randomness. */
#include <stdlib.h>
#include <string.h>

#include "app_fixture.h"
#include "services/json.h"
#include "support/test.h"

static struct appfix f;
static int bin;

static int start(enum app_kind kind) {
  appfix_init(&f);
  bin = appfix_add(&f, kind, "v1", 0, 0, 0, 0, 1);
  if (bin < 0) return -1;
  appfix_run(&f);
  return 0;
}

/* GETs path and parses the JSON answer; returns the document (owned) or NULL. */
static struct json_doc *get_json(const char *method, const char *path, const char *headers, const char *body,
                                 int *status) {
  struct client_response r;
  if (http_do(f.ports[bin], method, path, headers, body, &r) != 0) return NULL;
  *status = r.status;
  struct json_doc *d = json_doc_parse(r.body.data ? r.body.data : "", r.body.len);
  client_response_free(&r);
  return d;
}

static const char *str_at(const struct json_doc *d, const char *k1, const char *k2) {
  const struct json_node *n = json_node_get(json_doc_root(d), k1);
  if (k2) n = json_node_get(n, k2);
  return json_node_string(n);
}

static void get_echoes_args_headers_origin_url(void) {
  ASSERT_INT_EQ(start(APP_HTTPBIN), 0);
  int status = 0;
  struct json_doc *d = get_json("GET", "/get?show_env=1&a=b%20c&a=d",
                                "user-agent: curl/8.0\r\nx-forwarded-for: 10.1.2.3, 127.0.0.1\r\n", NULL, &status);
  ASSERT(d);
  EXPECT_INT_EQ(status, 200);
  EXPECT_STR_EQ(str_at(d, "args", "show_env"), "1");
  const struct json_node *a = json_node_get(json_node_get(json_doc_root(d), "args"), "a");
  EXPECT_INT_EQ(json_node_len(a), 2);
  EXPECT_STR_EQ(json_node_string(json_node_at(a, 0)), "b c");
  EXPECT_STR_EQ(str_at(d, "headers", "User-Agent"), "curl/8.0");
  EXPECT_STR_EQ(str_at(d, "headers", "Host"), "test");
  EXPECT_STR_EQ(str_at(d, "origin", NULL), "10.1.2.3");
  EXPECT_STR_EQ(str_at(d, "url", NULL), "http://test/get?show_env=1&a=b%20c&a=d");
  json_doc_free(d);
  d = get_json("POST", "/get", NULL, "", &status);
  EXPECT_INT_EQ(status, 405);
  json_doc_free(d);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void headers_ip_user_agent(void) {
  ASSERT_INT_EQ(start(APP_HTTPBIN), 0);
  int status = 0;
  struct json_doc *d = get_json("GET", "/headers", "x-b3-traceid: abc\r\nx-multi: 1\r\nx-multi: 2\r\n", NULL, &status);
  ASSERT(d);
  EXPECT_INT_EQ(status, 200);
  EXPECT_STR_EQ(str_at(d, "headers", "X-B3-Traceid"), "abc");
  EXPECT_STR_EQ(str_at(d, "headers", "X-Multi"), "1,2");
  json_doc_free(d);
  d = get_json("GET", "/ip", NULL, NULL, &status);
  EXPECT_STR_EQ(str_at(d, "origin", NULL), "127.0.0.1");
  json_doc_free(d);
  d = get_json("GET", "/user-agent", "user-agent: meshlab-test\r\n", NULL, &status);
  EXPECT_STR_EQ(str_at(d, "user-agent", NULL), "meshlab-test");
  json_doc_free(d);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void status_answers_any_code(void) {
  ASSERT_INT_EQ(start(APP_HTTPBIN), 0);
  static const int codes[] = {200, 201, 204, 400, 404, 418, 429, 500, 503, 504};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char path[32];
    snprintf(path, sizeof path, "/status/%d", codes[i]);
    struct client_response r;
    ASSERT_INT_EQ(http_do(f.ports[bin], "GET", path, NULL, NULL, &r), 0);
    EXPECT_INT_EQ(r.status, codes[i]);
    if (codes[i] == 418) EXPECT_STR_CONTAINS(r.body.data, "teapot");
    client_response_free(&r);
  }
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[bin], "POST", "/status/302", NULL, "", &r), 0);
  EXPECT_INT_EQ(r.status, 302);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[bin], "GET", "/status/abc", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 400);
  client_response_free(&r);
  /* A weighted list picks among its codes (from the seeded rng): both show up over 40 tries. */
  int seen200 = 0, seen503 = 0;
  for (int i = 0; i < 40; i++) {
    ASSERT_INT_EQ(http_do(f.ports[bin], "GET", "/status/200,503", NULL, NULL, &r), 0);
    seen200 += r.status == 200;
    seen503 += r.status == 503;
    client_response_free(&r);
  }
  EXPECT_INT_EQ(seen200 + seen503, 40);
  EXPECT(seen200 > 0 && seen503 > 0);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void delay_waits_then_echoes(void) {
  ASSERT_INT_EQ(start(APP_HTTPBIN), 0);
  double t0 = now_ms_test();
  int status = 0;
  struct json_doc *d = get_json("GET", "/delay/0.3?x=1", NULL, NULL, &status);
  double ms = now_ms_test() - t0;
  ASSERT(d);
  EXPECT_INT_EQ(status, 200);
  EXPECT_INT_GE((long long)ms, 290);
  EXPECT_INT_LE((long long)ms, 3000);
  EXPECT_STR_EQ(str_at(d, "args", "x"), "1");
  json_doc_free(d);
  d = get_json("GET", "/delay/x", NULL, NULL, &status);
  EXPECT_INT_EQ(status, 400);
  json_doc_free(d);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

/* /delay/60 is capped at 10 s as httpbin does (checked on the parser, without waiting). */
static void delay_is_capped_at_ten_seconds(void) {
  uint64_t ms = 0;
  EXPECT_INT_EQ(httpbin_delay_ms("12", &ms), 0);
  EXPECT_INT_EQ(ms, 10000);
  EXPECT_INT_EQ(httpbin_delay_ms("0.25", &ms), 0);
  EXPECT_INT_EQ(ms, 250);
  EXPECT_INT_EQ(httpbin_delay_ms("-1", &ms), -22);
  EXPECT_INT_EQ(httpbin_delay_ms("nan", &ms), -22);
  EXPECT_INT_EQ(httpbin_delay_ms("", &ms), -22);
}

static void anything_echoes_method_body_json_form(void) {
  ASSERT_INT_EQ(start(APP_HTTPBIN), 0);
  int status = 0;
  struct json_doc *d =
      get_json("PUT", "/anything/x?q=1", "content-type: application/json\r\n", "{\"k\":[1,2]}", &status);
  ASSERT(d);
  EXPECT_INT_EQ(status, 200);
  EXPECT_STR_EQ(str_at(d, "method", NULL), "PUT");
  EXPECT_STR_EQ(str_at(d, "data", NULL), "{\"k\":[1,2]}");
  EXPECT_INT_EQ(json_node_len(json_node_get(json_node_get(json_doc_root(d), "json"), "k")), 2);
  EXPECT_STR_EQ(str_at(d, "args", "q"), "1");
  EXPECT_STR_CONTAINS(str_at(d, "url", NULL), "/anything/x?q=1");
  EXPECT(json_node_is_object(json_node_get(json_doc_root(d), "files")));
  json_doc_free(d);
  d = get_json("POST", "/anything", "content-type: application/x-www-form-urlencoded\r\n", "a=1&b=two+words", &status);
  ASSERT(d);
  EXPECT_STR_EQ(str_at(d, "form", "b"), "two words");
  EXPECT_STR_EQ(str_at(d, "data", NULL), "");
  const struct json_node *j = json_node_get(json_doc_root(d), "json");
  EXPECT(j != NULL && json_node_string(j) == NULL && !json_node_is_object(j)); /* null */
  json_doc_free(d);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void bytes_are_seeded_and_capped(void) {
  ASSERT_INT_EQ(start(APP_HTTPBIN), 0);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[bin], "GET", "/bytes/1000", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_INT_EQ(r.body.len, 1000);
  char ctype[64] = "";
  client_header(&r, "content-type", ctype, sizeof ctype);
  EXPECT_STR_EQ(ctype, "application/octet-stream");
  struct buf first = {0};
  buf_append(&first, r.body.data, r.body.len);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[bin], "GET", "/bytes/1000000", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.body.len, 100 * 1024);
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
  /* Same seed, same first draw. */
  ASSERT_INT_EQ(start(APP_HTTPBIN), 0);
  ASSERT_INT_EQ(http_do(f.ports[bin], "GET", "/bytes/1000", NULL, NULL, &r), 0);
  EXPECT(r.body.len == 1000 && memcmp(r.body.data, first.data, 1000) == 0);
  client_response_free(&r);
  buf_free(&first);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void external_service_endpoints(void) {
  ASSERT_INT_EQ(start(APP_EXTERNAL), 0);
  int status = 0;
  struct json_doc *d = get_json("GET", "/", NULL, NULL, &status);
  ASSERT(d);
  EXPECT_INT_EQ(status, 200);
  EXPECT_STR_EQ(str_at(d, "service", NULL), "external");
  EXPECT_STR_EQ(str_at(d, "message", NULL), "hello from outside the mesh");
  json_doc_free(d);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[bin], "GET", "/status/503", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 503);
  client_response_free(&r);
  d = get_json("GET", "/headers", "x-from: egress\r\n", NULL, &status);
  EXPECT_STR_EQ(str_at(d, "headers", "x-from"), "egress");
  json_doc_free(d);
  d = get_json("GET", "/health", NULL, NULL, &status);
  EXPECT_STR_EQ(str_at(d, "status", NULL), "ok");
  json_doc_free(d);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

TEST_CASES(TEST(get_echoes_args_headers_origin_url), TEST(headers_ip_user_agent), TEST(status_answers_any_code),
           TEST(delay_waits_then_echoes), TEST(delay_is_capped_at_ten_seconds),
           TEST(anything_echoes_method_body_json_form), TEST(bytes_are_seeded_and_capped),
           TEST(external_service_endpoints))
