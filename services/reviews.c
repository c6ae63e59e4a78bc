/* reviews: Bookinfo's reviews service (Java in Istio's samples), in its three versions.
 *
 *   GET /reviews/<id>  {"id":"0","podname":"reviews-v2-0","clustername":"null","reviews":[
 *                        {"reviewer":"Reviewer1","text":"...","rating":{"stars":5,"color":"black"}},
 *                        {"reviewer":"Reviewer2","text":"...","rating":{"stars":4,"color":"black"}}]}
 *   GET /health        {"status":"Reviews is healthy"}
 *
 * v1 never calls ratings and sends no "rating" at all (the page shows no stars); v2 calls
 * ratings with a 10 s timeout and colours the stars black; v3 with a 2.5 s timeout, red. When
 * ratings fails or times out, each review carries {"error":"Ratings service is currently
 * unavailable"} instead, and reviews still answers 200: that is why Istio's fault-injection
 * task sees the page whole with v3 (2.5 s < productpage's 3 s) but not with v2 (10 s > 3 s).
 */
#include <stdlib.h>
#include <string.h>

#include "services/app.h"
#include "services/json.h"

static const char *const reviewer_text[2] = {
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
};

/* Writes the answer; stars[i] is -1 when ratings could not be had. */
static void reply_reviews(struct app_request *ar, const int stars[2]) {
  struct app *a = ar->app;
  struct buf b = {0};
  struct json_out w;
  char id[32];
  snprintf(id, sizeof id, "%ld", ar->id);
  json_out_init(&w, &b);
  json_out_object_begin(&w);
  json_out_key(&w, "id");
  json_out_string(&w, id);
  json_out_key(&w, "podname");
  json_out_string(&w, a->opt.name ? a->opt.name : "reviews");
  json_out_key(&w, "clustername");
  json_out_string(&w, "null");
  json_out_key(&w, "reviews");
  json_out_array_begin(&w);
  for (int i = 0; i < 2; i++) {
    char reviewer[16];
    snprintf(reviewer, sizeof reviewer, "Reviewer%d", i + 1);
    json_out_object_begin(&w);
    json_out_key(&w, "reviewer");
    json_out_string(&w, reviewer);
    json_out_key(&w, "text");
    json_out_string(&w, reviewer_text[i]);
    if (a->version >= 2) {
      json_out_key(&w, "rating");
      json_out_object_begin(&w);
      if (stars[i] >= 0) {
        json_out_key(&w, "stars");
        json_out_int(&w, stars[i]);
        json_out_key(&w, "color");
        json_out_string(&w, a->version == 2 ? "black" : "red");
      } else {
        json_out_key(&w, "error");
        json_out_string(&w, "Ratings service is currently unavailable");
      }
      json_out_object_end(&w);
    }
    json_out_object_end(&w);
  }
  json_out_array_end(&w);
  json_out_object_end(&w);
  app_reply_json(ar, 200, &b);
  buf_free(&b);
}

static void on_ratings(struct app_request *ar, int status, int slot, const struct http_client_response *resp) {
  (void)slot;
  int stars[2] = {-1, -1};
  /* As LibertyRestEndpoint.getRatings: only a 200 with a "ratings" object counts. */
  if (status == 0 && resp->status == 200) {
    struct json_doc *d = json_doc_parse(resp->body.data ? resp->body.data : "", resp->body.len);
    const struct json_node *ratings = json_node_get(json_doc_root(d), "ratings");
    double v;
    if (json_node_number(json_node_get(ratings, "Reviewer1"), &v)) stars[0] = (int)v;
    if (json_node_number(json_node_get(ratings, "Reviewer2"), &v)) stars[1] = (int)v;
    json_doc_free(d);
  }
  reply_reviews(ar, stars);
}

void reviews_serve(struct app_request *ar) {
  char path[256];
  const char *rest;
  if (app_path(ar, path, sizeof path) != 0) {
    app_reply_text(ar, 404, "not found\n");
    return;
  }
  if (strcmp(path, "/health") == 0) {
    static const char health[] = "{\"status\":\"Reviews is healthy\"}";
    app_reply(ar, 200, "application/json", health, sizeof health - 1, NULL);
    return;
  }
  char *end;
  if (!app_path_prefix(path, "/reviews/", &rest) || !*rest || (ar->id = strtol(rest, &end, 10), *end)) {
    app_reply_text(ar, 404, "not found\n");
    return;
  }
  int stars[2] = {-1, -1};
  if (ar->app->version < 2) {
    reply_reviews(ar, stars);
    return;
  }
  char rpath[64];
  snprintf(rpath, sizeof rpath, "/ratings/%ld", ar->id);
  uint64_t timeout = ar->app->version == 2 ? REVIEWS_V2_RATINGS_TIMEOUT_MS : REVIEWS_V3_RATINGS_TIMEOUT_MS;
  if (app_call(ar, 0, APP_SVC_RATINGS, rpath, timeout, on_ratings) != 0) reply_reviews(ar, stars);
}
