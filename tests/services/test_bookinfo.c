/* Bookinfo end to end, in-process: productpage, details, reviews v1/v2/v3 and ratings on one
 * loop, wired by direct upstream addresses (the lab puts sidecars between them; the apps do not
 * know the difference). Checks the JSON shapes, the page per reviews version, the error texts,
 * the jason login, header forwarding, and the timing behaviour of Istio's fault-injection task.
 * Every case ends with the loop closing cleanly. */
#include <stdlib.h>
#include <string.h>

#include "app_fixture.h"
#include "services/json.h"
#include "support/test.h"

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* Bookinfo with one reviews version; ratings index in *ratings_i when wanted. */
struct bookinfo {
  struct appfix f;
  int pp, details, reviews, ratings;
};

static int bookinfo_start(struct bookinfo *b, const char *reviews_version, double scale) {
  appfix_init(&b->f);
  b->ratings = appfix_add(&b->f, APP_RATINGS, "v1", 0, 0, 0, 0, scale);
  b->details = appfix_add(&b->f, APP_DETAILS, "v1", 0, 0, 0, 0, scale);
  if (b->ratings < 0 || b->details < 0) return -1;
  b->reviews = appfix_add(&b->f, APP_REVIEWS, reviews_version, 0, 0, b->f.ports[b->ratings], 0, scale);
  if (b->reviews < 0) return -1;
  b->pp = appfix_add(&b->f, APP_PRODUCTPAGE, "v1", b->f.ports[b->details], b->f.ports[b->reviews],
                     b->f.ports[b->ratings], 0, scale);
  if (b->pp < 0) return -1;
  appfix_run(&b->f);
  return 0;
}

static void chaos(struct appfix *f, int i, const char *json) {
  struct client_response r;
  if (http_do(f->control_ports[i], "POST", "/chaos", "content-type: application/json\r\n", json, &r) != 0 ||
      r.status != 200)
    test_fail(__FILE__, __LINE__, "POST /chaos %s: status %d %s", json, r.status, r.body.data ? r.body.data : "");
  client_response_free(&r);
}

static void chaos_clear(struct appfix *f, int i) {
  struct client_response r;
  if (http_do(f->control_ports[i], "POST", "/chaos/clear", NULL, "", &r) != 0 || r.status != 200)
    test_fail(__FILE__, __LINE__, "POST /chaos/clear: status %d", r.status);
  client_response_free(&r);
}

static void get_page(struct bookinfo *b, const char *headers, struct client_response *r) {
  if (http_do(b->f.ports[b->pp], "GET", "/productpage", headers, NULL, r) != 0)
    test_fail(__FILE__, __LINE__, "GET /productpage: no response");
}

/* ---- the JSON services ---------------------------------------------------------------------- */

static void details_answers_bookinfo_shape(void) {
  struct appfix f;
  appfix_init(&f);
  int d = appfix_add(&f, APP_DETAILS, "v1", 0, 0, 0, 0, 1);
  ASSERT(d >= 0);
  appfix_run(&f);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[d], "GET", "/details/0", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_EQ(r.body.data,
                "{\"id\":0,\"author\":\"William Shakespeare\",\"year\":1595,\"type\":\"paperback\","
                "\"pages\":200,\"publisher\":\"PublisherA\",\"language\":\"English\","
                "\"ISBN-10\":\"1234567890\",\"ISBN-13\":\"123-1234567890\"}");
  char ctype[64] = "";
  client_header(&r, "content-type", ctype, sizeof ctype);
  EXPECT_STR_EQ(ctype, "application/json");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[d], "GET", "/details/abc", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 400);
  EXPECT_STR_CONTAINS(r.body.data, "please provide numeric product id");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[d], "GET", "/health", NULL, NULL, &r), 0);
  EXPECT_STR_EQ(r.body.data, "{\"status\":\"Details is healthy\"}");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[d], "GET", "/nope", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 404);
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void ratings_answers_bookinfo_shape(void) {
  struct appfix f;
  appfix_init(&f);
  int i = appfix_add(&f, APP_RATINGS, "v1", 0, 0, 0, 0, 1);
  ASSERT(i >= 0);
  appfix_run(&f);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[i], "GET", "/ratings/7", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_EQ(r.body.data, "{\"id\":7,\"ratings\":{\"Reviewer1\":5,\"Reviewer2\":4}}");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[i], "GET", "/ratings/x", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 400);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[i], "GET", "/health", NULL, NULL, &r), 0);
  EXPECT_STR_EQ(r.body.data, "{\"status\":\"Ratings is healthy\"}");
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void reviews_versions_differ_in_ratings(void) {
  struct appfix f;
  appfix_init(&f);
  int ra = appfix_add(&f, APP_RATINGS, "v1", 0, 0, 0, 0, 1);
  ASSERT(ra >= 0);
  int v1 = appfix_add(&f, APP_REVIEWS, "v1", 0, 0, f.ports[ra], 0, 1);
  int v2 = appfix_add(&f, APP_REVIEWS, "v2", 0, 0, f.ports[ra], 0, 1);
  int v3 = appfix_add(&f, APP_REVIEWS, "v3", 0, 0, f.ports[ra], 0, 1);
  int lonely = appfix_add(&f, APP_REVIEWS, "v2", 0, 0, 1, 0, 1); /* ratings at port 1: refused */
  ASSERT(v1 >= 0 && v2 >= 0 && v3 >= 0 && lonely >= 0);
  appfix_run(&f);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[v1], "GET", "/reviews/0", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "\"id\":\"0\",\"podname\":\"reviews\",\"clustername\":\"null\",\"reviews\":[");
  EXPECT_STR_CONTAINS(r.body.data,
                      "{\"reviewer\":\"Reviewer1\",\"text\":\"An extremely entertaining play by "
                      "Shakespeare. The slapstick humour is refreshing!\"}");
  EXPECT(!strstr(r.body.data, "rating\""));
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[v2], "GET", "/reviews/0", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"rating\":{\"stars\":5,\"color\":\"black\"}");
  EXPECT_STR_CONTAINS(r.body.data, "\"rating\":{\"stars\":4,\"color\":\"black\"}");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[v3], "GET", "/reviews/0", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"rating\":{\"stars\":5,\"color\":\"red\"}");
  client_response_free(&r);
  /* ratings unreachable: still 200, each review says why it has no stars */
  ASSERT_INT_EQ(http_do(f.ports[lonely], "GET", "/reviews/0", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_INT_EQ(count(r.body.data, "\"rating\":{\"error\":\"Ratings service is currently unavailable\"}"), 2);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[v1], "GET", "/health", NULL, NULL, &r), 0);
  EXPECT_STR_EQ(r.body.data, "{\"status\":\"Reviews is healthy\"}");
  client_response_free(&r);
  /* v1 never called ratings; v2 and v3 once each */
  ASSERT_INT_EQ(http_do(f.control_ports[ra], "GET", "/info", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"served\":2");
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

/* ---- the page ---------------------------------------------------------------------------------- */

static void page_stars_follow_reviews_version(void) {
  static const struct {
    const char *version;
    int full, empty;
    const char *color;
  } cases[] = {{"v1", 0, 0, NULL}, {"v2", 9, 1, "black"}, {"v3", 9, 1, "red"}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    struct bookinfo b;
    ASSERT_INT_EQ(bookinfo_start(&b, cases[k].version, 1), 0);
    struct client_response r;
    get_page(&b, NULL, &r);
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_STR_CONTAINS(r.body.data, "<title>Simple Bookstore App</title>");
    EXPECT_STR_CONTAINS(r.body.data, "The Comedy of Errors");
    EXPECT_STR_CONTAINS(r.body.data, "<h4 class=\"text-center text-primary\">Book Details</h4>");
    EXPECT_STR_CONTAINS(r.body.data, "<dt>ISBN-13:</dt>123-1234567890");
    EXPECT_STR_CONTAINS(r.body.data, "<h4 class=\"text-center text-primary\">Book Reviews</h4>");
    EXPECT_STR_CONTAINS(r.body.data, "<small>Reviewer2</small>");
    EXPECT_INT_EQ(count(r.body.data, "glyphicon-star\""), cases[k].full);
    EXPECT_INT_EQ(count(r.body.data, "glyphicon-star-empty"), cases[k].empty);
    if (cases[k].color) {
      char font[64];
      snprintf(font, sizeof font, "<font color=\"%s\">", cases[k].color);
      EXPECT_INT_EQ(count(r.body.data, font), 2);
    } else {
      EXPECT(!strstr(r.body.data, "<font"));
    }
    client_response_free(&r);
    EXPECT_INT_EQ(appfix_stop(&b.f), 0);
  }
}

static void page_shows_error_texts_when_calls_fail(void) {
  struct bookinfo b;
  ASSERT_INT_EQ(bookinfo_start(&b, "v2", 1), 0);
  chaos(&b.f, b.details, "{\"error_rate\":1,\"error_code\":500}");
  chaos(&b.f, b.reviews, "{\"error_rate\":1,\"error_code\":503}");
  struct client_response r;
  get_page(&b, NULL, &r);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "Error fetching product details!");
  EXPECT_STR_CONTAINS(r.body.data, "Sorry, product details are currently unavailable for this book.");
  EXPECT_STR_CONTAINS(r.body.data, "Error fetching product reviews!");
  EXPECT_STR_CONTAINS(r.body.data, "Sorry, product reviews are currently unavailable for this book.");
  client_response_free(&r);
  /* The API passes the failing status on, with productpage's error object. */
  ASSERT_INT_EQ(http_do(b.f.ports[b.pp], "GET", "/api/v1/products/0", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 500);
  EXPECT_STR_EQ(r.body.data, "{\"error\":\"Sorry, product details are currently unavailable for this book.\"}");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(b.f.ports[b.pp], "GET", "/api/v1/products/0/reviews", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 503);
  client_response_free(&r);
  /* productpage tried reviews twice for the page and twice for the API call */
  ASSERT_INT_EQ(http_do(b.f.control_ports[b.reviews], "GET", "/info", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"served\":4");
  client_response_free(&r);
  /* ratings down only: reviews v2 still answers, the page shows the ratings error per review */
  chaos(&b.f, b.details, "{\"error_rate\":0}");
  chaos_clear(&b.f, b.reviews);
  chaos(&b.f, b.ratings, "{\"error_rate\":1,\"error_code\":500}");
  get_page(&b, NULL, &r);
  EXPECT_STR_CONTAINS(r.body.data, "Book Details");
  EXPECT_INT_EQ(count(r.body.data, "<p><i>Ratings service is currently unavailable</i></p>"), 2);
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&b.f), 0);
}

static void api_serves_products_details_reviews_ratings(void) {
  struct bookinfo b;
  ASSERT_INT_EQ(bookinfo_start(&b, "v3", 1), 0);
  int port = b.f.ports[b.pp];
  struct client_response r;
  ASSERT_INT_EQ(http_do(port, "GET", "/api/v1/products", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  struct json_doc *d = json_doc_parse(r.body.data, r.body.len);
  const struct json_node *p0 = json_node_at(json_doc_root(d), 0);
  double id = -1;
  EXPECT(json_node_number(json_node_get(p0, "id"), &id) && id == 0);
  EXPECT_STR_EQ(json_node_string(json_node_get(p0, "title")), "The Comedy of Errors");
  EXPECT(json_node_string(json_node_get(p0, "descriptionHtml")) != NULL);
  json_doc_free(d);
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(port, "GET", "/api/v1/products/0", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "\"ISBN-10\":\"1234567890\"");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(port, "GET", "/api/v1/products/0/reviews", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "\"color\":\"red\"");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(port, "GET", "/api/v1/products/0/ratings", NULL, NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_EQ(r.body.data, "{\"id\":0,\"ratings\":{\"Reviewer1\":5,\"Reviewer2\":4}}");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(port, "GET", "/health", NULL, NULL, &r), 0);
  EXPECT_STR_EQ(r.body.data, "{\"status\":\"Product page is healthy\"}");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(port, "GET", "/", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "/productpage?u=normal");
  client_response_free(&r);
  EXPECT_INT_EQ(appfix_stop(&b.f), 0);
}

/* ---- login, end-user and header forwarding --------------------------------------------------- */

static const char reviews_json[] =
    "{\"id\":\"0\",\"podname\":\"rec\",\"clustername\":\"null\",\"reviews\":[{\"reviewer\":\"Reviewer1\","
    "\"text\":\"t\",\"rating\":{\"stars\":5,\"color\":\"black\"}}]}";

static const char trace_headers[] =
    "x-request-id: 5d0f6a5c-1d6b-4b7c-9a86-1c2e3f4a5b6c\r\n"
    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
    "tracestate: congo=t61rcWkgMzE\r\n"
    "x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7\r\n"
    "x-b3-spanid: e457b5a2e4d86bd1\r\n"
    "x-b3-parentspanid: 05e3ac9a4f6e3b90\r\n"
    "x-b3-sampled: 1\r\n"
    "x-b3-flags: 0\r\n"
    "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n"
    "x-not-forwarded: nope\r\n";

/* productpage in front of details and a recorder standing in for reviews (which answers
 * reviews_json and keeps what productpage sent it); returns productpage's index, or -1. */
static int start_page_recording_reviews(struct appfix *f) {
  appfix_init(f);
  int rec = appfix_recorder(f, 200, reviews_json);
  int d = appfix_add(f, APP_DETAILS, "v1", 0, 0, 0, 0, 1);
  if (rec <= 0 || d < 0) return -1;
  int pp = appfix_add(f, APP_PRODUCTPAGE, "v1", f->ports[d], rec, 0, 0, 1);
  if (pp >= 0) appfix_run(f);
  return pp;
}

static void login_as_jason_sends_end_user(void) {
  struct appfix f;
  int pp = start_page_recording_reviews(&f);
  ASSERT(pp >= 0);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[pp], "POST", "/login", "content-type: application/x-www-form-urlencoded\r\n",
                        "username=jason&passwd=", &r),
                0);
  EXPECT_INT_EQ(r.status, 302);
  char cookie[128] = "", location[128] = "";
  client_header(&r, "set-cookie", cookie, sizeof cookie);
  client_header(&r, "location", location, sizeof location);
  EXPECT_STR_CONTAINS(cookie, "user=jason");
  EXPECT_STR_EQ(location, "/productpage");
  client_response_free(&r);
  /* Logged in: the page names the user, and the call to reviews carries end-user: jason. */
  ASSERT_INT_EQ(http_do(f.ports[pp], "GET", "/productpage", "cookie: user=jason\r\n", NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "<span id=\"user\">jason</span>");
  EXPECT_INT_EQ(count(r.body.data, "glyphicon-star\""), 5);
  client_response_free(&r);
  struct buf seen = {0};
  int n = 0;
  appfix_recorded(&f, &seen, &n);
  EXPECT_INT_EQ(n, 1);
  EXPECT_STR_CONTAINS(seen.data, "GET /reviews/0\n");
  EXPECT_STR_CONTAINS(seen.data, "end-user: jason\n");
  EXPECT_STR_CONTAINS(seen.data, "host: reviews:9080\n");
  /* Anonymous: no end-user. */
  ASSERT_INT_EQ(http_do(f.ports[pp], "GET", "/productpage", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "Sign in");
  client_response_free(&r);
  appfix_recorded(&f, &seen, &n);
  EXPECT(!strstr(seen.data, "end-user"));
  /* Logout clears the cookie. */
  ASSERT_INT_EQ(http_do(f.ports[pp], "GET", "/logout", "cookie: user=jason\r\n", NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 302);
  client_header(&r, "set-cookie", cookie, sizeof cookie);
  EXPECT_STR_CONTAINS(cookie, "Max-Age=0");
  client_response_free(&r);
  buf_free(&seen);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

/* What a hop must carry when the request it serves came with trace_headers and end-user: jason,
 * as the recorder writes it ("name: value\n"). */
static const char *const forwarded_lines[] = {
    "x-request-id: 5d0f6a5c-1d6b-4b7c-9a86-1c2e3f4a5b6c\n",
    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n",
    "tracestate: congo=t61rcWkgMzE\n",
    "x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7\n",
    "x-b3-spanid: e457b5a2e4d86bd1\n",
    "x-b3-parentspanid: 05e3ac9a4f6e3b90\n",
    "x-b3-sampled: 1\n",
    "x-b3-flags: 0\n",
    "\nb3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\n",
    "end-user: jason\n", /* last: expect_forwarded can leave it out */
};

/* The recorded call `seen` carries every forwarded header (on) or none of them (off); the
 * header nobody forwards never arrives. with_end_user 0 leaves end-user out of the check:
 * productpage's end-user is its own, from the login (end_user_comes_from_the_login_only). */
static void expect_forwarded(const char *file, int line, const struct buf *seen, int on, int with_end_user) {
  const char *text = seen->data ? seen->data : "";
  size_t n = sizeof forwarded_lines / sizeof forwarded_lines[0] - (with_end_user ? 0 : 1);
  for (size_t i = 0; i < n; i++) {
    /* Off: not even the name may arrive (a fresh id from elsewhere would be a different value). */
    char name[32];
    const char *want = forwarded_lines[i];
    snprintf(name, sizeof name, "%.*s", (int)(strchr(want, ':') - want + 1), want);
    if (on && !strstr(text, want)) test_fail(file, line, "the call lacks %s in:\n%s", want, text);
    if (!on && strstr(text, name)) test_fail(file, line, "forwarding off, yet the call has %s in:\n%s", name, text);
  }
  if (strstr(text, "x-not-forwarded")) test_fail(file, line, "x-not-forwarded was copied:\n%s", text);
}

/* productpage.py sets end-user from the session and does not copy a client's end-user header:
 * with both, reviews sees the logged-in user once; with the header alone, no end-user at all. */
static void end_user_comes_from_the_login_only(void) {
  struct appfix f;
  int pp = start_page_recording_reviews(&f);
  ASSERT(pp >= 0);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[pp], "GET", "/productpage", "cookie: user=jason\r\nend-user: mallory\r\n", NULL, &r),
                0);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  struct buf seen = {0};
  appfix_recorded(&f, &seen, NULL);
  EXPECT_INT_EQ(count(seen.data, "end-user:"), 1);
  EXPECT_STR_CONTAINS(seen.data, "end-user: jason\n");
  EXPECT(!strstr(seen.data, "mallory"));
  EXPECT_STR_CONTAINS(seen.data, "cookie: user=jason\n"); /* the other forwarded headers still go */
  ASSERT_INT_EQ(http_do(f.ports[pp], "GET", "/productpage", "End-User: mallory\r\n", NULL, &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  client_response_free(&r);
  appfix_recorded(&f, &seen, NULL);
  EXPECT_STR_CONTAINS(seen.data, "GET /reviews/0\n");
  EXPECT(!strstr(seen.data, "end-user"));
  buf_free(&seen);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void forwards_trace_headers_unless_turned_off(void) {
  struct appfix f;
  appfix_init(&f);
  int rec = appfix_recorder(&f, 200, "{\"id\":0,\"ratings\":{\"Reviewer1\":3,\"Reviewer2\":1}}");
  ASSERT(rec > 0);
  int rv = appfix_add(&f, APP_REVIEWS, "v2", 0, 0, rec, 0, 1);
  ASSERT(rv >= 0);
  appfix_run(&f);
  struct client_response r;
  char hdrs[1024];
  snprintf(hdrs, sizeof hdrs, "%send-user: jason\r\n", trace_headers);
  ASSERT_INT_EQ(http_do(f.ports[rv], "GET", "/reviews/0", hdrs, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"rating\":{\"stars\":3,\"color\":\"black\"}");
  client_response_free(&r);
  struct buf seen = {0};
  appfix_recorded(&f, &seen, NULL);
  EXPECT_STR_CONTAINS(seen.data, "GET /ratings/0\n");
  expect_forwarded(__FILE__, __LINE__, &seen, 1, 1);
  /* Forwarding off: the trace falls apart. */
  ASSERT_INT_EQ(http_do(f.control_ports[rv], "POST", "/headers-forwarding", NULL, "off", &r), 0);
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "\"headers_forwarding\":false");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[rv], "GET", "/reviews/0", hdrs, NULL, &r), 0);
  client_response_free(&r);
  appfix_recorded(&f, &seen, NULL);
  EXPECT_STR_CONTAINS(seen.data, "GET /ratings/0\n");
  expect_forwarded(__FILE__, __LINE__, &seen, 0, 1);
  /* And back on, with JSON this time. */
  ASSERT_INT_EQ(http_do(f.control_ports[rv], "POST", "/headers-forwarding", NULL, "{\"enabled\":true}", &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"headers_forwarding\":true");
  client_response_free(&r);
  ASSERT_INT_EQ(http_do(f.ports[rv], "GET", "/reviews/0", hdrs, NULL, &r), 0);
  client_response_free(&r);
  appfix_recorded(&f, &seen, NULL);
  expect_forwarded(__FILE__, __LINE__, &seen, 1, 1);
  buf_free(&seen);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

/* productpage's two hops: one productpage calls the recorder as details, the other as reviews
 * (the recorder keeps only the last request). The chaos knob turns forwarding off and
 * /chaos/clear turns it back on, the path `meshlab chaos --headers-forwarding` takes. */
static void productpage_forwards_trace_headers_to_details_and_reviews(void) {
  struct appfix f;
  appfix_init(&f);
  int rec = appfix_recorder(&f, 200, reviews_json);
  int d = appfix_add(&f, APP_DETAILS, "v1", 0, 0, 0, 0, 1);
  int rv = appfix_add(&f, APP_REVIEWS, "v1", 0, 0, 0, 0, 1);
  ASSERT(rec > 0 && d >= 0 && rv >= 0);
  int to_details = appfix_add(&f, APP_PRODUCTPAGE, "v1", rec, f.ports[rv], 0, 0, 1);
  int to_reviews = appfix_add(&f, APP_PRODUCTPAGE, "v1", f.ports[d], rec, 0, 0, 1);
  ASSERT(to_details >= 0 && to_reviews >= 0);
  appfix_run(&f);
  const char *hdrs = trace_headers;
  static const struct {
    const char *knobs; /* NULL: /chaos/clear */
    int on;
  } steps[] = {{"{}", 1}, {"{\"headers_forwarding\":false}", 0}, {NULL, 1}};
  struct buf seen = {0};
  for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
    const int pps[] = {to_details, to_reviews};
    const char *const lines[] = {"GET /details/0\n", "GET /reviews/0\n"};
    for (int j = 0; j < 2; j++) {
      if (steps[k].knobs) chaos(&f, pps[j], steps[k].knobs);
      else chaos_clear(&f, pps[j]);
      struct client_response r;
      ASSERT_INT_EQ(http_do(f.ports[pps[j]], "GET", "/productpage", hdrs, NULL, &r), 0);
      EXPECT_INT_EQ(r.status, 200);
      client_response_free(&r);
      appfix_recorded(&f, &seen, NULL);
      EXPECT_STR_CONTAINS(seen.data, lines[j]);
      expect_forwarded(__FILE__, __LINE__, &seen, steps[k].on, 0);
    }
  }
  buf_free(&seen);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

static void calls_go_through_the_proxy_in_absolute_form(void) {
  struct appfix f;
  appfix_init(&f);
  int rec = appfix_recorder(&f, 200, "{\"id\":0,\"ratings\":{\"Reviewer1\":2,\"Reviewer2\":2}}");
  ASSERT(rec > 0);
  int rv = appfix_add(&f, APP_REVIEWS, "v3", 0, 0, 0, rec, 1); /* --proxy at the recorder */
  ASSERT(rv >= 0);
  appfix_run(&f);
  struct client_response r;
  ASSERT_INT_EQ(http_do(f.ports[rv], "GET", "/reviews/3", NULL, NULL, &r), 0);
  EXPECT_STR_CONTAINS(r.body.data, "\"rating\":{\"stars\":2,\"color\":\"red\"}");
  client_response_free(&r);
  struct buf seen = {0};
  appfix_recorded(&f, &seen, NULL);
  EXPECT_STR_CONTAINS(seen.data, "GET http://ratings:9080/ratings/3\n");
  EXPECT_STR_CONTAINS(seen.data, "host: ratings:9080\n");
  buf_free(&seen);
  EXPECT_INT_EQ(appfix_stop(&f), 0);
}

/* ---- timing: Istio's fault-injection task --------------------------------------------------- */

/* A 7 s delay in front of ratings, at time scale `scale`: with v2 the page gives up on reviews
 * after productpage's two 3 s tries; with v3 reviews gives up on ratings at 2.5 s first. */
static void delay_case(const char *version, double scale, double *elapsed, struct client_response *r) {
  struct bookinfo b;
  if (bookinfo_start(&b, version, scale) != 0) {
    test_fail(__FILE__, __LINE__, "bookinfo did not start");
    return;
  }
  char knobs[64];
  snprintf(knobs, sizeof knobs, "{\"latency_ms\":%d}", (int)(7000 * scale));
  chaos(&b.f, b.ratings, knobs);
  double t0 = now_ms_test();
  get_page(&b, "cookie: user=jason\r\n", r);
  *elapsed = now_ms_test() - t0;
  EXPECT_INT_EQ(appfix_stop(&b.f), 0);
}

static void ratings_delay_breaks_v2_page_after_two_tries(void) {
  double ms;
  struct client_response r;
  delay_case("v2", 0.1, &ms, &r); /* 300 ms tries, 1 s ratings timeout, 700 ms delay */
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "Sorry, product reviews are currently unavailable for this book.");
  EXPECT_STR_CONTAINS(r.body.data, "Book Details");
  EXPECT_INT_GE((long long)ms, 580);  /* two 300 ms tries */
  EXPECT_INT_LE((long long)ms, 2500); /* generous for a busy machine */
  client_response_free(&r);
}

static void ratings_delay_keeps_v3_page_whole(void) {
  double ms;
  struct client_response r;
  delay_case("v3", 0.1, &ms, &r); /* 250 ms ratings timeout < 300 ms */
  EXPECT_INT_EQ(r.status, 200);
  EXPECT_STR_CONTAINS(r.body.data, "Book Reviews");
  EXPECT_INT_EQ(count(r.body.data, "Ratings service is currently unavailable"), 2);
  EXPECT(!strstr(r.body.data, "Sorry, product reviews"));
  EXPECT_INT_GE((long long)ms, 240);
  client_response_free(&r);
}

/* The same at Istio's own timings: about 6 s. One case only: it is the slow one. */
static void ratings_delay_at_real_timings(void) {
  double ms;
  struct client_response r;
  delay_case("v2", 1.0, &ms, &r);
  EXPECT_STR_CONTAINS(r.body.data, "Sorry, product reviews are currently unavailable for this book.");
  EXPECT_INT_GE((long long)ms, 5900);
  EXPECT_INT_LE((long long)ms, 9000);
  client_response_free(&r);
}

static void default_timeouts_are_bookinfos(void) {
  EXPECT_INT_EQ(PRODUCTPAGE_REVIEWS_TIMEOUT_MS, 3000);
  EXPECT_INT_EQ(PRODUCTPAGE_REVIEWS_ATTEMPTS, 2);
  EXPECT_INT_EQ(PRODUCTPAGE_DETAILS_TIMEOUT_MS, 3000);
  EXPECT_INT_EQ(REVIEWS_V2_RATINGS_TIMEOUT_MS, 10000);
  EXPECT_INT_EQ(REVIEWS_V3_RATINGS_TIMEOUT_MS, 2500);
}

TEST_CASES(TEST(details_answers_bookinfo_shape), TEST(ratings_answers_bookinfo_shape),
           TEST(reviews_versions_differ_in_ratings), TEST(page_stars_follow_reviews_version),
           TEST(page_shows_error_texts_when_calls_fail), TEST(api_serves_products_details_reviews_ratings),
           TEST(login_as_jason_sends_end_user), TEST(end_user_comes_from_the_login_only),
           TEST(forwards_trace_headers_unless_turned_off),
           TEST(productpage_forwards_trace_headers_to_details_and_reviews),
           TEST(calls_go_through_the_proxy_in_absolute_form), TEST(ratings_delay_breaks_v2_page_after_two_tries),
           TEST(ratings_delay_keeps_v3_page_whole), TEST(ratings_delay_at_real_timings),
           TEST(default_timeouts_are_bookinfos))
