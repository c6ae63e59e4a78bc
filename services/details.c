/* details: Bookinfo's book-details service (Ruby in Istio's samples), as JSON.
 *
 *   GET /details/<id>  {"id":0,"author":"William Shakespeare","year":1595,"type":"paperback",
 *                       "pages":200,"publisher":"PublisherA","language":"English",
 *                       "ISBN-10":"1234567890","ISBN-13":"123-1234567890"}
 *   GET /health        {"status":"Details is healthy"}
 *
 * A non-numeric id is 400 {"error":"please provide numeric product id"}, as details.rb says.
 * details calls nobody; it sits at the end of productpage's first call.
 */
#include <stdlib.h>
#include <string.h>

#include "services/app.h"
#include "services/json.h"

/* Parses a whole decimal id; returns 0 or -1. */
static int parse_id(const char *s, long *out) {
  char *end;
  if (!*s) return -1;
  long v = strtol(s, &end, 10);
  if (*end != '\0') return -1;
  *out = v;
  return 0;
}

void details_serve(struct app_request *ar) {
  char path[256];
  const char *rest;
  if (app_path(ar, path, sizeof path) != 0) {
    app_reply_text(ar, 404, "not found\n");
    return;
  }
  struct buf b = {0};
  struct json_out w;
  json_out_init(&w, &b);
  if (strcmp(path, "/health") == 0) {
    json_out_object_begin(&w);
    json_out_key(&w, "status");
    json_out_string(&w, "Details is healthy");
    json_out_object_end(&w);
    app_reply_json(ar, 200, &b);
  } else if (app_path_prefix(path, "/details/", &rest)) {
    long id;
    if (parse_id(rest, &id) != 0) {
      app_reply_error(ar, 400, "please provide numeric product id");
      buf_free(&b);
      return;
    }
    json_out_object_begin(&w);
    json_out_key(&w, "id");
    json_out_int(&w, id);
    json_out_key(&w, "author");
    json_out_string(&w, "William Shakespeare");
    json_out_key(&w, "year");
    json_out_int(&w, 1595);
    json_out_key(&w, "type");
    json_out_string(&w, "paperback");
    json_out_key(&w, "pages");
    json_out_int(&w, 200);
    json_out_key(&w, "publisher");
    json_out_string(&w, "PublisherA");
    json_out_key(&w, "language");
    json_out_string(&w, "English");
    json_out_key(&w, "ISBN-10");
    json_out_string(&w, "1234567890");
    json_out_key(&w, "ISBN-13");
    json_out_string(&w, "123-1234567890");
    json_out_object_end(&w);
    app_reply_json(ar, 200, &b);
  } else {
    app_reply_text(ar, 404, "not found\n");
  }
  buf_free(&b);
}
