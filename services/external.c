/* external: a plain service that runs outside the mesh, with no sidecar and its own address,
 * for the lesson on ServiceEntry and egress (Istio's tasks use httpbin.org or edition.cnn.com;
 * the lab uses this so nothing leaves the laptop).
 *
 *   GET /              {"service":"<name>","message":"hello from outside the mesh","path":"/"}
 *   GET /status/<code> an empty answer with that status
 *   GET /headers       {"headers":{...}}: what arrived, so a lesson can see what egress sent
 *   GET /health        {"status":"ok"}
 */
#include <stdlib.h>
#include <string.h>

#include "services/app.h"
#include "services/json.h"

void external_serve(struct app_request *ar) {
  char path[512];
  const char *rest;
  struct buf b = {0};
  struct json_out w;
  json_out_init(&w, &b);
  if (app_path(ar, path, sizeof path) != 0) {
    app_reply_text(ar, 414, "path too long\n");
  } else if (strcmp(path, "/health") == 0) {
    json_out_object_begin(&w);
    json_out_key(&w, "status");
    json_out_string(&w, "ok");
    json_out_object_end(&w);
    app_reply_json(ar, 200, &b);
  } else if (app_path_prefix(path, "/status/", &rest)) {
    char *end;
    long code = strtol(rest, &end, 10);
    if (!*rest || *end || code < 200 || code > 599) app_reply_text(ar, 400, "Invalid status code\n");
    else app_reply(ar, (int)code, NULL, "", 0, NULL);
  } else if (strcmp(path, "/headers") == 0) {
    const struct http_head *h = ar->r->head;
    json_out_object_begin(&w);
    json_out_key(&w, "headers");
    json_out_object_begin(&w);
    for (size_t i = 0; i < h->nheaders; i++) {
      json_out_key_slice(&w, h->headers[i].name);
      json_out_string_slice(&w, h->headers[i].value);
    }
    json_out_object_end(&w);
    json_out_object_end(&w);
    app_reply_json(ar, 200, &b);
  } else {
    json_out_object_begin(&w);
    json_out_key(&w, "service");
    json_out_string(&w, ar->app->opt.name ? ar->app->opt.name : "external");
    json_out_key(&w, "message");
    json_out_string(&w, "hello from outside the mesh");
    json_out_key(&w, "path");
    json_out_string(&w, path);
    json_out_object_end(&w);
    app_reply_json(ar, 200, &b);
  }
  buf_free(&b);
}
