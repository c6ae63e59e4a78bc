/* productpage: Bookinfo's front end (Python/Flask in Istio's samples). It calls details and
 * reviews and renders the page a browser shows; it also serves Bookinfo's JSON API.
 *
 *   GET  /                               an index with links to the page
 *   GET  /productpage                    the book's page: details, then reviews (stars by version)
 *   POST /login                          form username=...: sets the user cookie, 302 to the page
 *   GET  /logout                         clears it, 302 to the page
 *   GET  /api/v1/products                the product list
 *   GET  /api/v1/products/<id>           details' answer (or an error object with its status)
 *   GET  /api/v1/products/<id>/reviews   reviews' answer (same)
 *   GET  /api/v1/products/<id>/ratings   ratings' answer (same)
 *   GET  /health                         {"status":"Product page is healthy"}
 *
 * What Istio's tasks rely on, as productpage.py does it:
 *  - details is called first, then reviews, each with a 3 s timeout; reviews is tried twice
 *    (any failure or non-200 answer counts), so a 7 s delay behind reviews shows "Sorry, product
 *    reviews are currently unavailable for this book." after about 6 s.
 *  - a logged-in user (the `user` cookie; Istio's request-routing task logs in as jason) goes
 *    out as `end-user: <name>` on both calls, which VirtualServices match on. An end-user header
 *    the client sends is not passed on (productpage.py sets it from the session only).
 *  - the page is 200 even when its calls fail; the failures show as text on it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "services/app.h"
#include "services/json.h"

enum pp_mode { PP_PAGE, PP_API_DETAILS, PP_API_REVIEWS, PP_API_RATINGS };

enum { SLOT_DETAILS = 0, SLOT_REVIEWS = 1 };

static const char details_error[] = "Sorry, product details are currently unavailable for this book.";
static const char reviews_error[] = "Sorry, product reviews are currently unavailable for this book.";
static const char ratings_error[] = "Sorry, product ratings are currently unavailable for this book.";

static const char product_title[] = "The Comedy of Errors";
static const char product_description[] =
    "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors "
    "is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, "
    "with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word "
    "play.";

static void html_escape(struct buf *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<':
      buf_append_str(b, "&lt;");
      break;
    case '>':
      buf_append_str(b, "&gt;");
      break;
    case '&':
      buf_append_str(b, "&amp;");
      break;
    case '"':
      buf_append_str(b, "&#34;");
      break;
    case '\'':
      buf_append_str(b, "&#39;");
      break;
    default:
      buf_append(b, s, 1);
    }
  }
}

/* The `user` cookie, when it holds a plausible user name (it goes out in a header, so nothing
 * but letters, digits and ._-@ is accepted). */
static void cookie_user(struct app_request *ar, char *out, size_t n) {
  out[0] = '\0';
  const struct slice *c = app_header(ar, "cookie");
  if (!c) return;
  const char *p = c->p, *end = c->p + c->n;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == ';')) p++;
    const char *s = p;
    while (p < end && *p != ';') p++;
    if (p - s > 5 && memcmp(s, "user=", 5) == 0) {
      size_t len = (size_t)(p - s - 5);
      if (len == 0 || len >= n) return;
      for (size_t i = 0; i < len; i++) {
        char ch = s[5 + i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '_' || ch == '-' || ch == '@';
        if (!ok) return;
      }
      memcpy(out, s + 5, len);
      out[len] = '\0';
      return;
    }
  }
}

/* ---- the page ------------------------------------------------------------------------------- */

static void page_head(struct buf *b, const char *user) {
  buf_append_str(b,
                 "<!DOCTYPE html>\n<html>\n<head>\n<title>Simple Bookstore App</title>\n"
                 "<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n"
                 "</head>\n<body>\n<nav class=\"navbar navbar-inverse navbar-static-top\">\n"
                 "<div class=\"container\">\n<a class=\"navbar-brand\" href=\"#\">BookInfo Sample</a>\n");
  if (user[0]) {
    buf_append_str(b,
                   "<p class=\"navbar-text navbar-right\"><i class=\"glyphicon glyphicon-user\"></i> "
                   "<span id=\"user\">");
    html_escape(b, user);
    buf_append_str(b, "</span> <a href=\"/logout\">sign out</a></p>\n");
  } else {
    buf_append_str(b,
                   "<form method=\"post\" action=\"/login\" class=\"navbar-form navbar-right\">\n"
                   "<input type=\"text\" name=\"username\" placeholder=\"User Name\">\n"
                   "<input type=\"password\" name=\"passwd\" placeholder=\"Password\">\n"
                   "<button type=\"submit\">Sign in</button>\n</form>\n");
  }
  buf_append_str(b, "</div>\n</nav>\n");
}

static void page_details(struct buf *b, struct app_request *ar) {
  buf_append_str(b, "<div class=\"col-md-6\">\n");
  struct json_doc *d = NULL;
  if (ar->got_status[SLOT_DETAILS] == 200)
    d = json_doc_parse(ar->got_body[SLOT_DETAILS].data ? ar->got_body[SLOT_DETAILS].data : "",
                       ar->got_body[SLOT_DETAILS].len);
  const struct json_node *o = json_doc_root(d);
  if (json_node_is_object(o)) {
    static const char *const fields[][2] = {{"Type", "type"},           {"Pages", "pages"},
                                            {"Publisher", "publisher"}, {"Language", "language"},
                                            {"ISBN-10", "ISBN-10"},     {"ISBN-13", "ISBN-13"}};
    buf_append_str(b, "<h4 class=\"text-center text-primary\">Book Details</h4>\n<dl>\n");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
      const struct json_node *v = json_node_get(o, fields[i][1]);
      char num[32];
      double x;
      const char *text = json_node_string(v);
      if (!text && json_node_number(v, &x)) {
        snprintf(num, sizeof num, "%.0f", x);
        text = num;
      }
      buf_appendf(b, "<dt>%s:</dt>", fields[i][0]);
      html_escape(b, text ? text : "");
      buf_append(b, "\n", 1);
    }
    buf_append_str(b, "</dl>\n");
  } else {
    buf_append_str(b, "<h4 class=\"text-center text-primary\">Error fetching product details!</h4>\n<p>");
    buf_append_str(b, details_error);
    buf_append_str(b, "</p>\n");
  }
  json_doc_free(d);
  buf_append_str(b, "</div>\n");
}

static void page_review(struct buf *b, const struct json_node *review) {
  buf_append_str(b, "<blockquote>\n<p>");
  html_escape(b, json_node_string(json_node_get(review, "text")));
  buf_append_str(b, "</p>\n<small>");
  html_escape(b, json_node_string(json_node_get(review, "reviewer")));
  buf_append_str(b, "</small>\n");
  const struct json_node *rating = json_node_get(review, "rating");
  double stars;
  if (json_node_number(json_node_get(rating, "stars"), &stars) && stars > 0) {
    int n = stars > 5 ? 5 : (int)stars;
    const char *color = json_node_string(json_node_get(rating, "color"));
    buf_append_str(b, "<font color=\"");
    html_escape(b, color ? color : "black");
    buf_append_str(b, "\">\n");
    for (int i = 0; i < n; i++) buf_append_str(b, "<span class=\"glyphicon glyphicon-star\"></span>\n");
    for (int i = n; i < 5; i++) buf_append_str(b, "<span class=\"glyphicon glyphicon-star-empty\"></span>\n");
    buf_append_str(b, "</font>\n");
  } else if (json_node_string(json_node_get(rating, "error"))) {
    buf_append_str(b, "<p><i>");
    html_escape(b, json_node_string(json_node_get(rating, "error")));
    buf_append_str(b, "</i></p>\n");
  }
  buf_append_str(b, "</blockquote>\n");
}

static void page_reviews(struct buf *b, struct app_request *ar) {
  buf_append_str(b, "<div class=\"col-md-6\">\n");
  struct json_doc *d = NULL;
  if (ar->got_status[SLOT_REVIEWS] == 200)
    d = json_doc_parse(ar->got_body[SLOT_REVIEWS].data ? ar->got_body[SLOT_REVIEWS].data : "",
                       ar->got_body[SLOT_REVIEWS].len);
  const struct json_node *o = json_doc_root(d);
  if (json_node_is_object(o)) {
    buf_append_str(b, "<h4 class=\"text-center text-primary\">Book Reviews</h4>\n");
    const struct json_node *list = json_node_get(o, "reviews");
    for (size_t i = 0; i < json_node_len(list); i++) page_review(b, json_node_at(list, i));
  } else {
    buf_append_str(b, "<h4 class=\"text-center text-primary\">Error fetching product reviews!</h4>\n<p>");
    buf_append_str(b, reviews_error);
    buf_append_str(b, "</p>\n");
  }
  json_doc_free(d);
  buf_append_str(b, "</div>\n");
}

static void render_page(struct app_request *ar) {
  struct buf b = {0};
  page_head(&b, ar->end_user);
  buf_append_str(&b,
                 "<div class=\"container-fluid\">\n<div class=\"row\">\n<div class=\"col-md-12\">\n"
                 "<h3 class=\"text-center text-primary\">");
  buf_append_str(&b, product_title);
  buf_append_str(&b, "</h3>\n<p>Summary: ");
  buf_append_str(&b, product_description);
  buf_append_str(&b, "</p>\n</div>\n</div>\n<div class=\"row\">\n");
  page_details(&b, ar);
  page_reviews(&b, ar);
  buf_append_str(&b, "</div>\n</div>\n</body>\n</html>\n");
  app_reply(ar, 200, "text/html; charset=utf-8", b.data, b.len, NULL);
  buf_free(&b);
}

/* ---- calls ----------------------------------------------------------------------------------- */

/* Keeps what a call brought: its status (or 0 after a failure) and body. */
static void keep(struct app_request *ar, int slot, int status, const struct http_client_response *resp) {
  ar->got_status[slot] = status == 0 ? resp->status : 0;
  buf_reset(&ar->got_body[slot]);
  if (status == 0) buf_append(&ar->got_body[slot], resp->body.data ? resp->body.data : "", resp->body.len);
}

/* Answers an API path: the service's answer as is on 200; else its status (500 when there
 * was none) with productpage's error object. */
static void reply_api(struct app_request *ar, int slot, const char *error) {
  int status = ar->got_status[slot];
  if (status == 200) {
    app_reply(ar, 200, "application/json", ar->got_body[slot].data ? ar->got_body[slot].data : "",
              ar->got_body[slot].len, NULL);
    return;
  }
  app_reply_error(ar, status ? status : 500, error);
}

static void reviews_done(struct app_request *ar) {
  if (ar->mode == PP_PAGE) render_page(ar);
  else reply_api(ar, SLOT_REVIEWS, reviews_error);
}

static void call_reviews(struct app_request *ar);

static void on_reviews(struct app_request *ar, int status, int slot, const struct http_client_response *resp) {
  keep(ar, slot, status, resp);
  /* productpage.py: `for _ in range(2)`, and anything but a 200 tries again. */
  if (ar->got_status[slot] != 200 && ar->attempts < PRODUCTPAGE_REVIEWS_ATTEMPTS) {
    call_reviews(ar);
    return;
  }
  reviews_done(ar);
}

static void call_reviews(struct app_request *ar) {
  char path[64];
  snprintf(path, sizeof path, "/reviews/%ld", ar->id);
  while (ar->attempts < PRODUCTPAGE_REVIEWS_ATTEMPTS) {
    ar->attempts++;
    if (app_call(ar, SLOT_REVIEWS, APP_SVC_REVIEWS, path, PRODUCTPAGE_REVIEWS_TIMEOUT_MS, on_reviews) == 0) return;
    ar->got_status[SLOT_REVIEWS] = 0;
  }
  reviews_done(ar);
}

static void on_details(struct app_request *ar, int status, int slot, const struct http_client_response *resp) {
  keep(ar, slot, status, resp);
  if (ar->mode == PP_PAGE) call_reviews(ar);
  else reply_api(ar, slot, details_error);
}

static void on_ratings(struct app_request *ar, int status, int slot, const struct http_client_response *resp) {
  keep(ar, slot, status, resp);
  reply_api(ar, slot, ratings_error);
}

static void call_details(struct app_request *ar) {
  char path[64];
  snprintf(path, sizeof path, "/details/%ld", ar->id);
  if (app_call(ar, SLOT_DETAILS, APP_SVC_DETAILS, path, PRODUCTPAGE_DETAILS_TIMEOUT_MS, on_details) != 0) {
    ar->got_status[SLOT_DETAILS] = 0;
    if (ar->mode == PP_PAGE) call_reviews(ar);
    else reply_api(ar, SLOT_DETAILS, details_error);
  }
}

/* ---- routes ---------------------------------------------------------------------------------- */

static void reply_products(struct app_request *ar) {
  struct buf b = {0};
  struct json_out w;
  json_out_init(&w, &b);
  json_out_array_begin(&w);
  json_out_object_begin(&w);
  json_out_key(&w, "id");
  json_out_int(&w, 0);
  json_out_key(&w, "title");
  json_out_string(&w, product_title);
  json_out_key(&w, "descriptionHtml");
  json_out_string(&w, product_description);
  json_out_object_end(&w);
  json_out_array_end(&w);
  app_reply_json(ar, 200, &b);
  buf_free(&b);
}

static void reply_index(struct app_request *ar) {
  static const char index_html[] =
      "<!DOCTYPE html>\n<html>\n<head>\n<title>Simple Bookstore App</title>\n<meta charset=\"utf-8\">\n</head>\n"
      "<body>\n<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>\n"
      "<p>productpage &rarr; details; productpage &rarr; reviews (v1, v2, v3) &rarr; ratings</p>\n"
      "<h4>Click on one of the links below to auto generate a request to the backend as a real user or a tester</h4>\n"
      "<p><a href=\"/productpage?u=normal\">Normal user</a></p>\n"
      "<p><a href=\"/productpage?u=test\">Test user</a></p>\n</body>\n</html>\n";
  app_reply(ar, 200, "text/html; charset=utf-8", index_html, sizeof index_html - 1, NULL);
}

static void login(struct app_request *ar) {
  char user[64];
  struct slice form = {ar->r->body.data, ar->r->body.len};
  if (!app_form_value(form, "username", user, sizeof user) || !user[0]) {
    app_reply(ar, 302, NULL, "", 0, "location: /productpage\r\n");
    return;
  }
  /* The same characters the cookie reader accepts; anything else is refused, not mangled. */
  for (const char *p = user; *p; p++) {
    char ch = *p;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
             ch == '_' || ch == '-' || ch == '@';
    if (!ok) {
      app_reply_text(ar, 400, "user names are letters, digits and . _ - @\n");
      return;
    }
  }
  char extra[200];
  snprintf(extra, sizeof extra, "set-cookie: user=%s; Path=/\r\nlocation: /productpage\r\n", user);
  app_reply(ar, 302, NULL, "", 0, extra);
}

/* productpage.py builds end-user from the session alone and leaves it out of the incoming
 * headers it copies, so an `end-user` a client sends never reaches reviews: routing by user
 * follows the login cookie, and a request carrying both goes out with one end-user, not two.
 * The shared forwarding list (reviews forwards end-user, as its Java does) is pruned here. */
static void drop_incoming_end_user(struct app_request *ar) {
  static const char name[] = "end-user:";
  struct buf kept = {0};
  const char *p = ar->forward.data, *end = p ? p + ar->forward.len : NULL;
  while (p && p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *next = nl ? nl + 1 : end;
    if (!((size_t)(next - p) >= sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0))
      buf_append(&kept, p, (size_t)(next - p));
    p = next;
  }
  buf_free(&ar->forward);
  ar->forward = kept;
}

void productpage_serve(struct app_request *ar) {
  char path[256];
  const char *rest;
  if (app_path(ar, path, sizeof path) != 0) {
    app_reply_text(ar, 404, "not found\n");
    return;
  }
  cookie_user(ar, ar->end_user, sizeof ar->end_user);
  drop_incoming_end_user(ar);
  int post = slice_eq_str_nocase(ar->r->head->method, "POST");
  if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
    reply_index(ar);
  } else if (strcmp(path, "/health") == 0) {
    static const char health[] = "{\"status\":\"Product page is healthy\"}";
    app_reply(ar, 200, "application/json", health, sizeof health - 1, NULL);
  } else if (strcmp(path, "/login") == 0) {
    if (post) login(ar);
    else app_reply(ar, 302, NULL, "", 0, "location: /productpage\r\n");
  } else if (strcmp(path, "/logout") == 0) {
    app_reply(ar, 302, NULL, "", 0, "set-cookie: user=; Path=/; Max-Age=0\r\nlocation: /productpage\r\n");
  } else if (strcmp(path, "/productpage") == 0) {
    ar->mode = PP_PAGE;
    ar->id = 0;
    call_details(ar);
  } else if (strcmp(path, "/api/v1/products") == 0) {
    reply_products(ar);
  } else if (app_path_prefix(path, "/api/v1/products/", &rest)) {
    char *end;
    long id = strtol(rest, &end, 10);
    if (end == rest) {
      app_reply_text(ar, 404, "not found\n");
      return;
    }
    ar->id = id;
    if (*end == '\0') {
      ar->mode = PP_API_DETAILS;
      call_details(ar);
    } else if (strcmp(end, "/reviews") == 0) {
      ar->mode = PP_API_REVIEWS;
      call_reviews(ar);
    } else if (strcmp(end, "/ratings") == 0) {
      ar->mode = PP_API_RATINGS;
      char rpath[64];
      snprintf(rpath, sizeof rpath, "/ratings/%ld", id);
      if (app_call(ar, SLOT_DETAILS, APP_SVC_RATINGS, rpath, PRODUCTPAGE_RATINGS_TIMEOUT_MS, on_ratings) != 0)
        reply_api(ar, SLOT_DETAILS, ratings_error);
    } else {
      app_reply_text(ar, 404, "not found\n");
    }
  } else {
    app_reply_text(ar, 404, "not found\n");
  }
}
