/* httpbin: the endpoints of httpbin (kennethreitz/httpbin, mccutchen/go-httpbin) that Istio's
 * tasks use, with the same JSON shapes.
 *
 *   GET  /get             {"args":{},"headers":{},"origin":"...","url":"http://host/get"}
 *   POST /post            the /anything answer; other methods 405 (Istio's authorization tasks)
 *   GET  /headers         {"headers":{"Host":"...",...}}   names in Canonical-Form
 *   GET  /ip              {"origin":"..."}
 *   GET  /user-agent      {"user-agent":"..."}
 *   ANY  /status/<codes>  that status, empty body; "200,503" picks one at random (seeded)
 *   ANY  /delay/<s>       the /anything answer after s seconds (fractions allowed, at most 10)
 *   ANY  /anything[/...]  {"args","data","files","form","headers","json","method","origin","url"}
 *   GET  /bytes/<n>       n random bytes (seeded), at most 100 KiB
 *   GET  /health          {"status":"ok"}
 *
 * Headers appear once each, repeated ones joined with ",", as httpbin shows them.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "services/app.h"
#include "services/json.h"

#define HTTPBIN_MAX_DELAY_S 10.0
#define HTTPBIN_MAX_BYTES (100 * 1024)

/* "x-b3-traceid" → "X-B3-Traceid", as Go's and Werkzeug's canonical header names. */
static void canonical(struct slice name, char *out, size_t n) {
  size_t i = 0;
  int up = 1;
  for (; i < name.n && i + 1 < n; i++) {
    char c = name.p[i];
    out[i] = up ? (char)toupper((unsigned char)c) : (char)tolower((unsigned char)c);
    up = c == '-';
  }
  out[i] = '\0';
}

static void write_headers(struct json_out *w, const struct http_head *h) {
  json_out_object_begin(w);
  for (size_t i = 0; i < h->nheaders; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) seen = slice_eq_nocase(h->headers[j].name, h->headers[i].name);
    if (seen) continue;
    char name[128];
    canonical(h->headers[i].name, name, sizeof name);
    struct buf v = {0};
    buf_append_slice(&v, h->headers[i].value);
    for (size_t j = i + 1; j < h->nheaders; j++)
      if (slice_eq_nocase(h->headers[j].name, h->headers[i].name)) {
        buf_append(&v, ",", 1);
        buf_append_slice(&v, h->headers[j].value);
      }
    json_out_key(w, name);
    json_out_string_slice(w, (struct slice){v.data ? v.data : "", v.len});
    buf_free(&v);
  }
  json_out_object_end(w);
}

/* Query or form pairs as an object; repeated keys become arrays, as httpbin does. */
static void write_pairs(struct json_out *w, struct slice q) {
  json_out_object_begin(w);
  const char *p = q.p, *end = q.p ? q.p + q.n : NULL;
  char done_keys[2048] = "";
  while (p && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    char key[256];
    /* One pass per distinct key, collecting its values: query strings are short. */
    app_url_decode((struct slice){p, (size_t)((eq ? eq : pe) - p)}, key, sizeof key);
    p = amp ? amp + 1 : end;
    if (!key[0]) continue;
    /* done_keys holds "\nkey\n" entries for keys already written. */
    char probe[260];
    snprintf(probe, sizeof probe, "\n%s\n", key);
    if (strstr(done_keys, probe)) continue;
    if (strlen(done_keys) + strlen(probe) < sizeof done_keys) strcat(done_keys, probe);
    /* Collect every value of this key. */
    int count = 0;
    char val[1024];
    const char *r = q.p;
    struct buf vals = {0};
    struct json_out tmp;
    json_out_init(&tmp, &vals);
    json_out_array_begin(&tmp);
    char first[1024] = "";
    while (r < end) {
      const char *ra = memchr(r, '&', (size_t)(end - r));
      const char *re = ra ? ra : end;
      const char *req = memchr(r, '=', (size_t)(re - r));
      char k2[256];
      app_url_decode((struct slice){r, (size_t)((req ? req : re) - r)}, k2, sizeof k2);
      if (strcmp(k2, key) == 0) {
        app_url_decode(req ? (struct slice){req + 1, (size_t)(re - req - 1)} : (struct slice){r, 0}, val, sizeof val);
        if (count == 0) snprintf(first, sizeof first, "%s", val);
        json_out_string(&tmp, val);
        count++;
      }
      r = ra ? ra + 1 : end;
    }
    json_out_array_end(&tmp);
    json_out_key(w, key);
    if (count > 1) json_out_raw(w, (struct slice){vals.data, vals.len});
    else json_out_string(w, first);
    buf_free(&vals);
  }
  json_out_object_end(w);
}

static void write_url(struct json_out *w, struct app_request *ar) {
  const struct slice *host = app_header(ar, "host");
  const struct slice *proto = app_header(ar, "x-forwarded-proto");
  struct buf u = {0};
  struct slice target = ar->r->head->target;
  if (target.n && target.p[0] != '/') {
    buf_append_slice(&u, target); /* already absolute */
  } else {
    buf_append_slice(&u, proto && proto->n ? *proto : SLICE_LIT("http"));
    buf_append_str(&u, "://");
    if (host) buf_append_slice(&u, *host);
    buf_append_slice(&u, target);
  }
  json_out_key(w, "url");
  json_out_string_slice(w, (struct slice){u.data ? u.data : "", u.len});
  buf_free(&u);
}

static void write_origin(struct json_out *w, struct app_request *ar) {
  char origin[128];
  app_origin(ar, origin, sizeof origin);
  json_out_key(w, "origin");
  json_out_string(w, origin);
}

/* The /anything answer (also /delay's, /get's with fewer fields). */
static void reply_anything(struct app_request *ar, int full) {
  struct buf b = {0};
  struct json_out w;
  json_out_init(&w, &b);
  json_out_object_begin(&w);
  json_out_key(&w, "args");
  write_pairs(&w, ar->r->query);
  if (full) {
    struct slice body = {ar->r->body.data ? ar->r->body.data : "", ar->r->body.len};
    const struct slice *ctype = app_header(ar, "content-type");
    int form = ctype && ctype->n >= 33 &&
               slice_eq_str_nocase((struct slice){ctype->p, 33}, "application/x-www-form-urlencoded");
    json_out_key(&w, "data");
    json_out_string_slice(&w, form ? SLICE_LIT("") : body);
    json_out_key(&w, "files");
    json_out_object_begin(&w);
    json_out_object_end(&w);
    json_out_key(&w, "form");
    if (form) write_pairs(&w, body);
    else {
      json_out_object_begin(&w);
      json_out_object_end(&w);
    }
  }
  json_out_key(&w, "headers");
  write_headers(&w, ar->r->head);
  if (full) {
    json_out_key(&w, "json");
    struct json_doc *d = ar->r->body.len ? json_doc_parse(ar->r->body.data, ar->r->body.len) : NULL;
    if (d) json_out_raw(&w, (struct slice){ar->r->body.data, ar->r->body.len});
    else json_out_null(&w);
    json_doc_free(d);
    json_out_key(&w, "method");
    json_out_string_slice(&w, ar->r->head->method);
  }
  write_origin(&w, ar);
  write_url(&w, ar);
  json_out_object_end(&w);
  buf_append(&b, "\n", 1);
  app_reply_json(ar, 200, &b);
  buf_free(&b);
}

static void after_delay(struct app_request *ar) { reply_anything(ar, 1); }

/* "/status/200,503" or "/status/200:0.9,503:0.1": one of them, by weight, from the app's rng. */
static void serve_status(struct app_request *ar, const char *spec) {
  long codes[16];
  double weights[16], total = 0;
  size_t n = 0;
  const char *p = spec;
  while (*p && n < 16) {
    char *end;
    long code = strtol(p, &end, 10);
    if (end == p || code < 100 || code > 599) {
      app_reply_text(ar, 400, "Invalid status code\n");
      return;
    }
    double wgt = 1;
    if (*end == ':') {
      p = end + 1;
      wgt = strtod(p, &end);
      if (end == p || wgt < 0) {
        app_reply_text(ar, 400, "Invalid status code\n");
        return;
      }
    }
    codes[n] = code;
    weights[n++] = wgt;
    total += wgt;
    if (*end == ',') end++;
    else if (*end) {
      app_reply_text(ar, 400, "Invalid status code\n");
      return;
    }
    p = end;
  }
  if (n == 0 || total <= 0) {
    app_reply_text(ar, 400, "Invalid status code\n");
    return;
  }
  size_t pick = n - 1;
  if (n > 1) {
    double roll = rng_double(&ar->app->rng) * total;
    for (size_t i = 0; i < n; i++) {
      if (roll < weights[i]) {
        pick = i;
        break;
      }
      roll -= weights[i];
    }
  }
  int code = (int)codes[pick];
  if (code == 418) {
    static const char teapot[] =
        "\n    -=[ teapot ]=-\n\n       _...._\n     .'  _ _ `.\n    | .\"` ^ `\". _,\n"
        "    \\_;`\"---\"`|//\n      |       ;/\n      \\_     _/\n        `\"\"\"`\n";
    app_reply(ar, 418, NULL, teapot, sizeof teapot - 1, "x-more-info: http://tools.ietf.org/html/rfc2324\r\n");
    return;
  }
  /* A redirect status gets a Location, as httpbin sends one. */
  const char *extra = (code >= 300 && code < 400 && code != 304) ? "location: /redirect/1\r\n" : NULL;
  app_reply(ar, code, code == 204 || code == 304 ? NULL : "text/plain; charset=utf-8", "", 0, extra);
}

int httpbin_delay_ms(const char *spec, uint64_t *ms) {
  char *end;
  double s = strtod(spec, &end);
  if (end == spec || *end || !isfinite(s) || !(s >= 0)) return -EINVAL;
  if (s > HTTPBIN_MAX_DELAY_S) s = HTTPBIN_MAX_DELAY_S;
  *ms = (uint64_t)(s * 1000.0 + 0.5);
  return 0;
}

void httpbin_serve(struct app_request *ar) {
  char path[1024];
  const char *rest;
  if (app_path(ar, path, sizeof path) != 0) {
    app_reply_text(ar, 414, "path too long\n");
    return;
  }
  int get = slice_eq_str_nocase(ar->r->head->method, "GET") || slice_eq_str_nocase(ar->r->head->method, "HEAD");
  struct buf b = {0};
  struct json_out w;
  json_out_init(&w, &b);
  if (strcmp(path, "/health") == 0 || strcmp(path, "/") == 0) {
    json_out_object_begin(&w);
    json_out_key(&w, "status");
    json_out_string(&w, "ok");
    json_out_object_end(&w);
    app_reply_json(ar, 200, &b);
  } else if (strcmp(path, "/get") == 0) {
    if (!get) app_reply_text(ar, 405, "method not allowed\n");
    else reply_anything(ar, 0);
  } else if (strcmp(path, "/post") == 0) {
    if (!slice_eq_str_nocase(ar->r->head->method, "POST")) app_reply_text(ar, 405, "method not allowed\n");
    else reply_anything(ar, 1);
  } else if (strcmp(path, "/headers") == 0) {
    json_out_object_begin(&w);
    json_out_key(&w, "headers");
    write_headers(&w, ar->r->head);
    json_out_object_end(&w);
    buf_append(&b, "\n", 1);
    app_reply_json(ar, 200, &b);
  } else if (strcmp(path, "/ip") == 0) {
    json_out_object_begin(&w);
    write_origin(&w, ar);
    json_out_object_end(&w);
    buf_append(&b, "\n", 1);
    app_reply_json(ar, 200, &b);
  } else if (strcmp(path, "/user-agent") == 0) {
    const struct slice *ua = app_header(ar, "user-agent");
    json_out_object_begin(&w);
    json_out_key(&w, "user-agent");
    json_out_string_slice(&w, ua ? *ua : SLICE_LIT(""));
    json_out_object_end(&w);
    buf_append(&b, "\n", 1);
    app_reply_json(ar, 200, &b);
  } else if (app_path_prefix(path, "/status/", &rest)) {
    serve_status(ar, rest);
  } else if (app_path_prefix(path, "/delay/", &rest)) {
    uint64_t ms;
    if (httpbin_delay_ms(rest, &ms) != 0) app_reply_text(ar, 400, "Invalid delay\n");
    else app_after(ar, ms, after_delay);
  } else if (strcmp(path, "/anything") == 0 || app_path_prefix(path, "/anything/", NULL)) {
    reply_anything(ar, 1);
  } else if (app_path_prefix(path, "/bytes/", &rest)) {
    char *end;
    long n = strtol(rest, &end, 10);
    if (!*rest || *end || n < 0) {
      app_reply_text(ar, 400, "Invalid number of bytes\n");
    } else {
      if (n > HTTPBIN_MAX_BYTES) n = HTTPBIN_MAX_BYTES;
      buf_reserve(&b, (size_t)n);
      for (long i = 0; i < n; i += 8) {
        uint64_t r = rng_next(&ar->app->rng);
        buf_append(&b, &r, (size_t)(n - i < 8 ? n - i : 8));
      }
      app_reply(ar, 200, "application/octet-stream", b.data ? b.data : "", b.len, NULL);
    }
  } else {
    app_reply_text(ar, 404, "not found\n");
  }
  buf_free(&b);
}
