/* resource_yaml: the writers' text side. The jansson tree built by rjson_resource()
 * (resource_json.c) is written as block-style YAML the way kubectl prints it, quoting exactly
 * the strings YAML would otherwise read as numbers, booleans or null. Also the parsers' two
 * JSON needs: an EnvoyFilter spec kept as JSON, and the check of an inline JWKS.
 */
#include "mesh/resource_internal.h"

#include "mesh/jwk.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- YAML emitter ----------------------------------------------------------------------------- */

struct sbuf {
  char *p;
  size_t len, cap;
  bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_indent(struct sbuf *b, int n) {
  for (int i = 0; i < n; i++) sb_add(b, " ", 1);
}

/* A string may be written plain when YAML would read it back as the same string: no
 * indicator characters, no leading/trailing space, and not something that resolves to a
 * number, boolean or null ("9080", "true", "~"), which must be quoted. */
static bool plain_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || yamldoc_plain_kind(s, n) != YAMLDOC_STRING) return false;
  unsigned char first = (unsigned char)s[0];
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || (first >= '0' && first <= '9') ||
        first == '_' || first == '/' || first == '.'))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("_./-+=@()~^$%;!?", ch) != NULL;
    if (ch == ':' && i + 1 < n && s[i + 1] != ' ') ok = true;
    if (ch == ' ' && i + 1 < n && s[i + 1] != '#' && s[i + 1] != ' ' && i > 0 && s[i - 1] != ':') ok = true;
    if (!ok) return false;
  }
  return true;
}

static void emit_string(struct sbuf *b, const char *s) {
  if (plain_ok(s)) {
    sb_str(b, s);
    return;
  }
  /* A JSON string is a valid YAML double-quoted scalar. */
  json_t *j = json_string(s);
  char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  if (q) sb_str(b, q);
  else b->oom = true;
  free(q);
  json_decref(j);
}

static void emit_scalar(struct sbuf *b, const json_t *v) {
  char buf[64];
  switch (json_typeof(v)) {
  case JSON_STRING:
    emit_string(b, json_string_value(v));
    break;
  case JSON_INTEGER:
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    sb_str(b, buf);
    break;
  case JSON_REAL: {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (s) sb_str(b, s);
    free(s);
    break;
  }
  case JSON_TRUE:
    sb_str(b, "true");
    break;
  case JSON_FALSE:
    sb_str(b, "false");
    break;
  case JSON_NULL:
  case JSON_OBJECT:
  case JSON_ARRAY:
    sb_str(b, "null");
    break;
  }
}

static void emit_array(struct sbuf *b, const json_t *a, int indent);

static bool is_empty_collection(const json_t *v) {
  return (json_is_object(v) && json_object_size(v) == 0) || (json_is_array(v) && json_array_size(v) == 0);
}

/* Writes the pairs of o at indent; when inline_first, the first key continues the current line
 * (after "- "). */
static void emit_object(struct sbuf *b, const json_t *o, int indent, bool inline_first) {
  const char *key;
  json_t *v;
  bool first = true;
  json_object_foreach((json_t *)o, key, v) {
    if (!(first && inline_first)) sb_indent(b, indent);
    first = false;
    emit_string(b, key);
    sb_str(b, ":");
    if (is_empty_collection(v)) {
      sb_str(b, json_is_object(v) ? " {}\n" : " []\n");
    } else if (json_is_object(v)) {
      sb_str(b, "\n");
      emit_object(b, v, indent + 2, false);
    } else if (json_is_array(v)) {
      sb_str(b, "\n");
      emit_array(b, v, indent);
    } else {
      sb_str(b, " ");
      emit_scalar(b, v);
      sb_str(b, "\n");
    }
  }
}

static void emit_array(struct sbuf *b, const json_t *a, int indent) {
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) {
    sb_indent(b, indent);
    sb_str(b, "-");
    if (is_empty_collection(v)) {
      sb_str(b, json_is_object(v) ? " {}\n" : " []\n");
    } else if (json_is_object(v)) {
      sb_str(b, " ");
      emit_object(b, v, indent + 2, true);
    } else if (json_is_array(v)) {
      sb_str(b, "\n");
      emit_array(b, v, indent + 2);
    } else {
      sb_str(b, " ");
      emit_scalar(b, v);
      sb_str(b, "\n");
    }
  }
}

int resource_list_to_yaml(struct resource *const *items, size_t len, char **out) {
  struct sbuf b = {0};
  *out = NULL;
  sb_str(&b, "");
  for (size_t i = 0; i < len; i++) {
    json_t *o = rjson_resource(items[i]);
    if (o == NULL) {
      free(b.p);
      return -ENOMEM;
    }
    if (i > 0) sb_str(&b, "---\n");
    emit_object(&b, o, 0, false);
    json_decref(o);
  }
  if (b.oom) {
    free(b.p);
    return -ENOMEM;
  }
  *out = b.p;
  return 0;
}

int resource_to_yaml(const struct resource *r, char **out) {
  struct resource *one = (struct resource *)r;
  return resource_list_to_yaml(&one, 1, out);
}

/* ---- helpers for the parsers ------------------------------------------------------------------ */

static json_t *node_json(const struct yamldoc_node *n) {
  switch (n->type) {
  case YAMLDOC_SCALAR:
    switch (yamldoc_scalar_kind(n)) {
    case YAMLDOC_NULL:
      return json_null();
    case YAMLDOC_BOOL: {
      char ch = n->str[0];
      bool v = ch == 't' || ch == 'T' || ch == 'y' || ch == 'Y' ||
               ((ch == 'o' || ch == 'O') && (n->str[1] == 'n' || n->str[1] == 'N'));
      return json_boolean(v);
    }
    case YAMLDOC_INT:
      return json_integer(strtoll(n->str, NULL, 0));
    case YAMLDOC_FLOAT: {
      json_t *r = json_real(strtod(n->str, NULL));
      return r ? r : json_string(n->str); /* .inf / .nan have no JSON form */
    }
    case YAMLDOC_STRING:
      return json_stringn(n->str, n->str_len);
    }
    return NULL;
  case YAMLDOC_SEQUENCE: {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n->len; i++) json_array_append_new(a, node_json(n->items[i]));
    return a;
  }
  case YAMLDOC_MAPPING: {
    json_t *o = json_object();
    for (size_t i = 0; o && i < n->len; i++) json_object_set_new(o, n->pairs[i].key->str, node_json(n->pairs[i].value));
    return o;
  }
  }
  return NULL;
}

char *rnode_to_json(struct rctx *c, const struct yamldoc_node *n) {
  json_t *j = node_json(n);
  char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  char *out = s ? rarena_strdup(c, s) : NULL;
  free(s);
  return out;
}

int rjson_check_jwks(const char *text, char *why, size_t size) {
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  int rc = -1;
  if (j == NULL) snprintf(why, size, "not JSON (%s at line %d)", err.text, err.line);
  else if (!json_is_array(json_object_get(j, "keys")) || json_array_size(json_object_get(j, "keys")) == 0)
    snprintf(why, size, "it has no \"keys\" array with at least one key");
  else {
    size_t i;
    json_t *k;
    rc = 0;
    json_array_foreach(json_object_get(j, "keys"), i, k) {
      if (!json_is_string(json_object_get(k, "kty"))) {
        snprintf(why, size, "keys[%zu] has no \"kty\"", i);
        rc = -1;
        break;
      }
    }
  }
  json_decref(j);
  /* The whole key set as the sidecar will use it: strict base64url, sizes, curves, no private
   * or symmetric keys (jwk.h), so a bad key fails the apply, not the first request. */
  struct jwk_set *set = NULL;
  if (rc == 0 && jwk_set_parse(text, strlen(text), &set, why, size) < 0) rc = -1;
  jwk_set_free(set);
  return rc;
}
