/* ratings: Bookinfo's ratings service (Node.js in Istio's samples), v1 with its built-in
 * ratings.
 *
 *   GET /ratings/<id>  {"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}
 *   GET /health        {"status":"Ratings is healthy"}
 *
 * A non-numeric id is 400 {"error":"please provide numeric product ID"}, as ratings.js says.
 * Reviews v2 and v3 call it (with 10 s and 2.5 s timeouts); it is where Istio's
 * fault-injection task puts its 7 s delay and its 500 abort.
 */
#include <stdlib.h>
#include <string.h>

#include "services/app.h"
#include "services/json.h"

void ratings_serve(struct app_request *ar) {
  char path[256];
  const char *rest;
  struct buf b = {0};
  struct json_out w;
  json_out_init(&w, &b);
  if (app_path(ar, path, sizeof path) != 0) {
    app_reply_text(ar, 404, "not found\n");
  } else if (strcmp(path, "/health") == 0) {
    json_out_object_begin(&w);
    json_out_key(&w, "status");
    json_out_string(&w, "Ratings is healthy");
    json_out_object_end(&w);
    app_reply_json(ar, 200, &b);
  } else if (app_path_prefix(path, "/ratings/", &rest)) {
    char *end;
    long id = strtol(rest, &end, 10);
    json_out_object_begin(&w);
    if (!*rest || *end) {
      json_out_key(&w, "error");
      json_out_string(&w, "please provide numeric product ID");
      json_out_object_end(&w);
      app_reply_json(ar, 400, &b);
    } else {
      json_out_key(&w, "id");
      json_out_int(&w, id);
      json_out_key(&w, "ratings");
      json_out_object_begin(&w);
      json_out_key(&w, "Reviewer1");
      json_out_int(&w, 5);
      json_out_key(&w, "Reviewer2");
      json_out_int(&w, 4);
      json_out_object_end(&w);
      json_out_object_end(&w);
      app_reply_json(ar, 200, &b);
    }
  } else {
    app_reply_text(ar, 404, "not found\n");
  }
  buf_free(&b);
}
