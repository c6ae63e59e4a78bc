/* yamldoc: libyaml's document loader turned into our positioned tree (see yamldoc.h).
 *
 * libyaml composes each document into a node table (yaml_document_t) whose nodes carry start
 * marks; we walk it once, copying scalars and recording 0-based marks as 1-based line:col.
 * libyaml itself does not complain about duplicate keys (YAML 1.2 says they are an error, and
 * go-yaml, which kubectl uses, refuses them too), so the walk checks every mapping.
 */
#include "mesh/yamldoc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Aliases let a small document expand into a huge tree ("billion laughs"); Kubernetes caps
 * alias expansion too. Far above any real manifest. */
enum { YAMLDOC_MAX_NODES = 1 << 18, YAMLDOC_MAX_DEPTH = 128 };

struct conv {
  yaml_document_t *doc;
  const char *file;
  struct diag_list *diags;
  size_t nodes;
  int errors;
};

static void node_free(struct yamldoc_node *n) {
  if (n == NULL) return;
  free(n->str);
  for (size_t i = 0; n->items && i < n->len; i++) node_free(n->items[i]);
  free(n->items);
  for (size_t i = 0; n->pairs && i < n->len; i++) {
    node_free(n->pairs[i].key);
    node_free(n->pairs[i].value);
  }
  free(n->pairs);
  free(n);
}

void yamldoc_free(struct yamldoc *doc) {
  if (doc == NULL) return;
  for (size_t i = 0; i < doc->len; i++) node_free(doc->docs[i]);
  free(doc->docs);
  free(doc);
}

static struct yamldoc_node *node_new(enum yamldoc_type type, const yaml_mark_t *mark) {
  struct yamldoc_node *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  n->type = type;
  n->line = (int)mark->line + 1;
  n->col = (int)mark->column + 1;
  return n;
}

static bool key_equal(const struct yamldoc_node *a, const struct yamldoc_node *b) {
  return a->str_len == b->str_len && memcmp(a->str, b->str, a->str_len) == 0;
}

/* Converts libyaml node `index`; returns the new node, or NULL with *rc set (-ENOMEM, or
 * -EINVAL after reporting a limit). Key problems are reported and counted in c->errors but do
 * not stop the walk, so one pass reports them all. */
static struct yamldoc_node *convert(struct conv *c, int index, int depth, int *rc) {
  yaml_node_t *y = yaml_document_get_node(c->doc, index);
  if (y == NULL) {
    *rc = -EINVAL;
    return NULL;
  }
  if (++c->nodes > YAMLDOC_MAX_NODES || depth > YAMLDOC_MAX_DEPTH) {
    diag_add(c->diags, DIAG_ERROR, c->file, (int)y->start_mark.line + 1, (int)y->start_mark.column + 1, "",
             "document too large or too deeply nested (aliases expanded past %d nodes or %d "
             "levels)",
             YAMLDOC_MAX_NODES, YAMLDOC_MAX_DEPTH);
    *rc = -EINVAL;
    return NULL;
  }
  switch (y->type) {
  case YAML_NO_NODE:
    break;
  case YAML_SCALAR_NODE: {
    struct yamldoc_node *n = node_new(YAMLDOC_SCALAR, &y->start_mark);
    if (n == NULL) break;
    n->str_len = y->data.scalar.length;
    n->str = malloc(n->str_len + 1);
    if (n->str == NULL) {
      free(n);
      break;
    }
    memcpy(n->str, y->data.scalar.value, n->str_len);
    n->str[n->str_len] = '\0';
    n->quoted = y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return n;
  }
  case YAML_SEQUENCE_NODE: {
    struct yamldoc_node *n = node_new(YAMLDOC_SEQUENCE, &y->start_mark);
    if (n == NULL) break;
    size_t count = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
    n->items = calloc(count ? count : 1, sizeof *n->items);
    if (n->items == NULL) {
      free(n);
      break;
    }
    for (size_t i = 0; i < count; i++) {
      n->items[i] = convert(c, y->data.sequence.items.start[i], depth + 1, rc);
      if (n->items[i] == NULL) {
        node_free(n);
        return NULL;
      }
      n->len = i + 1;
    }
    return n;
  }
  case YAML_MAPPING_NODE: {
    struct yamldoc_node *n = node_new(YAMLDOC_MAPPING, &y->start_mark);
    if (n == NULL) break;
    size_t count = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
    n->pairs = calloc(count ? count : 1, sizeof *n->pairs);
    if (n->pairs == NULL) {
      free(n);
      break;
    }
    for (size_t i = 0; i < count; i++) {
      yaml_node_pair_t *p = &y->data.mapping.pairs.start[i];
      struct yamldoc_node *k = convert(c, p->key, depth + 1, rc);
      struct yamldoc_node *v = k ? convert(c, p->value, depth + 1, rc) : NULL;
      if (v == NULL) {
        node_free(k);
        node_free(n);
        return NULL;
      }
      n->pairs[i].key = k;
      n->pairs[i].value = v;
      n->len = i + 1;
      if (k->type != YAMLDOC_SCALAR) {
        diag_add(c->diags, DIAG_ERROR, c->file, k->line, k->col, "", "mapping keys must be plain strings, not a %s",
                 yamldoc_describe(k));
        c->errors++;
        continue;
      }
      for (size_t j = 0; j < i; j++) {
        const struct yamldoc_node *prev = n->pairs[j].key;
        if (prev->type == YAMLDOC_SCALAR && key_equal(prev, k)) {
          diag_add(c->diags, DIAG_ERROR, c->file, k->line, k->col, "",
                   "duplicate key '%s' (first at line %d, again at line %d); keep one", k->str, prev->line, k->line);
          c->errors++;
          break;
        }
      }
    }
    return n;
  }
  }
  *rc = -ENOMEM;
  return NULL;
}

/* libyaml's reader errors carry only a byte offset; count lines ourselves. */
static void offset_position(const char *text, size_t len, size_t offset, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < offset && i < len; i++) {
    if (text[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

static void report_parser_error(const yaml_parser_t *p, const char *text, size_t len, const char *file,
                                struct diag_list *diags) {
  int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
  size_t at = p->problem_mark.index;
  if (p->error == YAML_READER_ERROR) {
    offset_position(text, len, p->problem_offset, &line, &col);
    at = p->problem_offset;
  }
  const char *problem = p->problem ? p->problem : "invalid YAML";
  /* A tab where indentation is expected is the classic hand-edited-YAML mistake; libyaml's
   * message ("found character that cannot start any token") does not say so. */
  const char *hint = "";
  if (at < len && text[at] == '\t') hint = "; YAML indentation must use spaces, not tabs";
  else if (p->error == YAML_READER_ERROR) hint = "; the file must be UTF-8 text";
  if (p->context)
    diag_add(diags, DIAG_ERROR, file, line, col, "", "YAML syntax error: %s %s%s", problem, p->context, hint);
  else diag_add(diags, DIAG_ERROR, file, line, col, "", "YAML syntax error: %s%s", problem, hint);
}

int yamldoc_parse(const char *text, size_t len, const char *filename, struct yamldoc **out, struct diag_list *diags) {
  *out = NULL;
  struct yamldoc *doc = calloc(1, sizeof *doc);
  if (doc == NULL) return -ENOMEM;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    free(doc);
    return -ENOMEM;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  size_t cap = 0;
  int rc = 0, errors = 0;
  for (;;) {
    yaml_document_t ydoc;
    if (!yaml_parser_load(&parser, &ydoc)) {
      if (parser.error == YAML_MEMORY_ERROR) {
        rc = -ENOMEM;
      } else {
        report_parser_error(&parser, text, len, filename, diags);
        rc = -EINVAL;
      }
      break;
    }
    if (yaml_document_get_root_node(&ydoc) == NULL) { /* end of stream */
      yaml_document_delete(&ydoc);
      break;
    }
    struct conv c = {.doc = &ydoc, .file = filename, .diags = diags};
    struct yamldoc_node *root = convert(&c, 1, 0, &rc);
    yaml_document_delete(&ydoc);
    errors += c.errors;
    if (root == NULL) break;
    if (doc->len == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      struct yamldoc_node **docs = realloc(doc->docs, ncap * sizeof *docs);
      if (docs == NULL) {
        node_free(root);
        rc = -ENOMEM;
        break;
      }
      doc->docs = docs;
      cap = ncap;
    }
    doc->docs[doc->len++] = root;
  }
  yaml_parser_delete(&parser);
  if (rc == 0 && errors > 0) rc = -EINVAL;
  if (rc < 0) {
    yamldoc_free(doc);
    return rc;
  }
  *out = doc;
  return 0;
}

const struct yamldoc_pair *yamldoc_get_pair(const struct yamldoc_node *map, const char *key) {
  if (map == NULL || map->type != YAMLDOC_MAPPING) return NULL;
  size_t klen = strlen(key);
  for (size_t i = 0; i < map->len; i++) {
    const struct yamldoc_node *k = map->pairs[i].key;
    if (k->type == YAMLDOC_SCALAR && k->str_len == klen && memcmp(k->str, key, klen) == 0) return &map->pairs[i];
  }
  return NULL;
}

const struct yamldoc_node *yamldoc_get(const struct yamldoc_node *map, const char *key) {
  const struct yamldoc_pair *p = yamldoc_get_pair(map, key);
  return p ? p->value : NULL;
}

static bool is_one_of(const char *s, size_t len, const char *const *words) {
  for (; *words; words++)
    if (strlen(*words) == len && memcmp(*words, s, len) == 0) return true;
  return false;
}

static bool all_digits(const char *s, size_t len, int base) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    bool ok = (ch >= '0' && ch <= '9') || (base == 16 && ((ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')));
    if (!ok) return false;
  }
  return true;
}

/* YAML 1.1 float: [-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)? or .inf/.nan. */
static bool is_float(const char *s, size_t len) {
  static const char *const special[] = {".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                        "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
  if (is_one_of(s, len, special)) return true;
  size_t i = 0, digits = 0;
  if (i < len && (s[i] == '+' || s[i] == '-')) i++;
  while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
  }
  if (digits == 0) return false;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    size_t exp = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, exp++;
    if (exp == 0) return false;
  }
  return i == len;
}

enum yamldoc_scalar_kind yamldoc_plain_kind(const char *s, size_t len) {
  /* go-yaml v2 (what kubectl's sigs.k8s.io/yaml uses) follows YAML 1.1 here, so "yes", "on"
   * and "y" are booleans there: a label `enabled: yes` arrives as true, not "yes". */
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes",
                                      "YES",  "no",   "No",   "NO",    "on",    "On",    "ON",  "off",
                                      "Off",  "OFF",  "y",    "Y",     "n",     "N",     NULL};
  if (is_one_of(s, len, nulls)) return YAMLDOC_NULL;
  if (is_one_of(s, len, bools)) return YAMLDOC_BOOL;
  size_t i = (len > 0 && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') && all_digits(s + i + 2, len - i - 2, 16))
    return YAMLDOC_INT;
  if (all_digits(s + i, len - i, 10)) return YAMLDOC_INT;
  if (is_float(s, len)) return YAMLDOC_FLOAT;
  return YAMLDOC_STRING;
}

enum yamldoc_scalar_kind yamldoc_scalar_kind(const struct yamldoc_node *n) {
  if (n->quoted) return YAMLDOC_STRING;
  return yamldoc_plain_kind(n->str, n->str_len);
}

bool yamldoc_is_null(const struct yamldoc_node *n) {
  return n != NULL && n->type == YAMLDOC_SCALAR && yamldoc_scalar_kind(n) == YAMLDOC_NULL;
}

const char *yamldoc_describe(const struct yamldoc_node *n) {
  if (n == NULL) return "nothing";
  switch (n->type) {
  case YAMLDOC_MAPPING:
    return "mapping";
  case YAMLDOC_SEQUENCE:
    return "list";
  case YAMLDOC_SCALAR:
    switch (yamldoc_scalar_kind(n)) {
    case YAMLDOC_NULL:
      return "null";
    case YAMLDOC_BOOL:
      return "boolean";
    case YAMLDOC_INT:
    case YAMLDOC_FLOAT:
      return "number";
    case YAMLDOC_STRING:
      return "string";
    }
  }
  return "value";
}
