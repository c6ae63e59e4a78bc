/* JSON for the sample applications: see json.h. The writer is hand-made (it only appends
 * text); the reader wraps jansson, the only include of it in services/. */
#include "services/json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_out_init(struct json_out *w, struct buf *b) {
  memset(w, 0, sizeof *w);
  w->b = b;
  w->first[0] = 1;
}

static void put(struct json_out *w, const char *s, size_t n) {
  if (!w->err && buf_append(w->b, s, n) != 0) w->err = -ENOMEM;
}

/* Before any value: a comma when the container already has one, unless a key precedes it. */
static void before_value(struct json_out *w) {
  if (w->after_key) {
    w->after_key = 0;
    return;
  }
  if (!w->first[w->depth]) put(w, ",", 1);
  w->first[w->depth] = 0;
}

static void open_container(struct json_out *w, char c) {
  before_value(w);
  put(w, &c, 1);
  if (w->depth + 1 >= JSON_OUT_MAX_DEPTH) {
    w->err = -EINVAL;
    return;
  }
  w->first[++w->depth] = 1;
}

static void close_container(struct json_out *w, char c) {
  put(w, &c, 1);
  if (w->depth > 0) w->depth--;
}

void json_out_object_begin(struct json_out *w) { open_container(w, '{'); }
void json_out_object_end(struct json_out *w) { close_container(w, '}'); }
void json_out_array_begin(struct json_out *w) { open_container(w, '['); }
void json_out_array_end(struct json_out *w) { close_container(w, ']'); }

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  size_t len;
  unsigned min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  unsigned cp = c & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

static void put_string(struct json_out *w, struct slice s) {
  put(w, "\"", 1);
  const unsigned char *p = (const unsigned char *)s.p;
  size_t i = 0;
  while (i < s.n) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      put(w, esc, 2);
      i++;
    } else if (c < 0x20) {
      char esc[8];
      const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
      if (named) put(w, named, 2);
      else {
        snprintf(esc, sizeof esc, "\\u%04x", c);
        put(w, esc, 6);
      }
      i++;
    } else {
      size_t n = utf8_len(p + i, s.n - i);
      if (n == 0) {
        put(w, "\xEF\xBF\xBD", 3); /* U+FFFD: keep the output valid JSON */
        i++;
      } else {
        put(w, (const char *)p + i, n);
        i += n;
      }
    }
  }
  put(w, "\"", 1);
}

void json_out_key_slice(struct json_out *w, struct slice key) {
  before_value(w);
  put_string(w, key);
  put(w, ":", 1);
  w->after_key = 1;
}

void json_out_key(struct json_out *w, const char *key) { json_out_key_slice(w, slice_from(key)); }

void json_out_string_slice(struct json_out *w, struct slice s) {
  before_value(w);
  put_string(w, s);
}

void json_out_string(struct json_out *w, const char *s) { json_out_string_slice(w, slice_from(s ? s : "")); }

void json_out_int(struct json_out *w, int64_t v) {
  before_value(w);
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
  put(w, tmp, (size_t)n);
}

void json_out_double(struct json_out *w, double v) {
  before_value(w);
  char tmp[40];
  int n = isfinite(v) ? snprintf(tmp, sizeof tmp, "%.17g", v) : snprintf(tmp, sizeof tmp, "null");
  /* "%.17g" round-trips, but prints 0.5 as 0.5 and 0.1 as 0.10000000000000001: try shorter. */
  for (int prec = 1; isfinite(v) && prec <= 17; prec++) {
    char shorter[40];
    int m = snprintf(shorter, sizeof shorter, "%.*g", prec, v);
    if (strtod(shorter, NULL) == v) {
      memcpy(tmp, shorter, (size_t)m + 1);
      n = m;
      break;
    }
  }
  put(w, tmp, (size_t)n);
}

void json_out_bool(struct json_out *w, int v) {
  before_value(w);
  put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_out_null(struct json_out *w) {
  before_value(w);
  put(w, "null", 4);
}

void json_out_raw(struct json_out *w, struct slice json) {
  before_value(w);
  put(w, json.p, json.n);
}

int json_out_error(const struct json_out *w) { return w->err; }

/* ---- reading: jansson underneath; struct json_node is a json_t seen through our own name ---- */

struct json_doc {
  json_t *root;
};

struct json_doc *json_doc_parse(const char *text, size_t len) {
  json_error_t err;
  json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!root) return NULL;
  struct json_doc *d = malloc(sizeof *d);
  if (!d) {
    json_decref(root);
    return NULL;
  }
  d->root = root;
  return d;
}

void json_doc_free(struct json_doc *d) {
  if (!d) return;
  json_decref(d->root);
  free(d);
}

static const json_t *J(const struct json_node *n) { return (const json_t *)n; }
static const struct json_node *N(const json_t *j) { return (const struct json_node *)j; }

const struct json_node *json_doc_root(const struct json_doc *d) { return d ? N(d->root) : NULL; }

const struct json_node *json_node_get(const struct json_node *n, const char *key) {
  if (!n || !json_is_object(J(n))) return NULL;
  return N(json_object_get(J(n), key));
}

const struct json_node *json_node_at(const struct json_node *n, size_t i) {
  if (!n || !json_is_array(J(n))) return NULL;
  return N(json_array_get(J(n), i));
}

size_t json_node_len(const struct json_node *n) { return n && json_is_array(J(n)) ? json_array_size(J(n)) : 0; }

const char *json_node_string(const struct json_node *n) {
  return n && json_is_string(J(n)) ? json_string_value(J(n)) : NULL;
}

int json_node_number(const struct json_node *n, double *out) {
  if (!n || !json_is_number(J(n))) return 0;
  *out = json_number_value(J(n));
  return 1;
}

int json_node_bool(const struct json_node *n, int *out) {
  if (!n || !json_is_boolean(J(n))) return 0;
  *out = json_is_true(J(n));
  return 1;
}

int json_node_is_object(const struct json_node *n) { return n && json_is_object(J(n)); }

const char *json_node_first_unknown_key(const struct json_node *n, const char *const *known, size_t nknown) {
  if (!json_node_is_object(n)) return NULL;
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)J(n), key, value) {
    (void)value;
    size_t k = 0;
    while (k < nknown && strcmp(key, known[k]) != 0) k++;
    if (k == nknown) return key;
  }
  return NULL;
}
