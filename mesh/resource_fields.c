/* resource_fields: the validation toolkit every kind's parser is built from (see
 * resource_internal.h): located diagnostics, field tables with "did you mean", and typed
 * getters that check YAML's scalar types the way the Kubernetes API server would (a quoted
 * "80" is a string, `version: 1` is a number) and say how to fix what they refuse.
 */
#include "mesh/resource_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- diagnostics --------------------------------------------------------------------------- */

struct resource_pos rpos(const struct yamldoc_node *n) {
  struct resource_pos p = {0, 0};
  if (n) {
    p.line = n->line;
    p.col = n->col;
  }
  return p;
}

static void radd(struct rctx *c, struct diag_list *list, enum diag_severity sev, const struct yamldoc_node *at,
                 const char *path, const char *fmt, va_list ap) {
  diag_addv(list, sev, c->file, at ? at->line : 0, at ? at->col : 0, path, fmt, ap);
}

void rerror(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  radd(c, c->diags, DIAG_ERROR, at, path, fmt, ap);
  va_end(ap);
  c->errors++;
}

void rwarning(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  radd(c, c->diags, DIAG_WARNING, at, path, fmt, ap);
  va_end(ap);
}

void rnote(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  radd(c, &c->res->notes, DIAG_NOTE, at, path, fmt, ap);
  va_end(ap);
}

/* Paths longer than RPATH_MAX are cut (still NUL-terminated); the return value is checked
 * only to say that truncation is intended. */
void rpath_key(char *out, const char *base, const char *key) {
  int n = base[0] == '\0' ? snprintf(out, RPATH_MAX, "%s", key) : snprintf(out, RPATH_MAX, "%s.%s", base, key);
  if (n >= RPATH_MAX) out[RPATH_MAX - 1] = '\0';
}

void rpath_index(char *out, const char *base, size_t i) {
  if (snprintf(out, RPATH_MAX, "%s[%zu]", base, i) >= RPATH_MAX) out[RPATH_MAX - 1] = '\0';
}

/* ---- field tables -------------------------------------------------------------------------- */

/* Levenshtein distance, capped: enough to turn `destinaton` into "did you mean destination". */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 99;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
      size_t best = diag + cost;
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static void unknown_field(struct rctx *c, const struct yamldoc_node *key, const char *path,
                          const struct rfield *fields) {
  const char *best = NULL;
  size_t best_d = 99;
  char list[RPATH_MAX] = "";
  size_t used = 0;
  for (const struct rfield *f = fields; f->name; f++) {
    if (f->kind != RF_OK) continue;
    size_t d = edit_distance(key->str, f->name);
    size_t limit = strlen(f->name) <= 4 ? 1 : 2;
    if (d <= limit && d < best_d) {
      best_d = d;
      best = f->name;
    }
    int n = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", f->name);
    if (n > 0 && (size_t)n < sizeof list - used) used += (size_t)n;
  }
  if (c->lenient) {
    rnote(c, key, path, "unknown field '%s', ignored", key->str);
    return;
  }
  if (best) rerror(c, key, path, "unknown field '%s'; did you mean '%s'?", key->str, best);
  else rerror(c, key, path, "unknown field '%s'; expected one of: %s", key->str, list);
}

int rcheck_keys(struct rctx *c, const struct yamldoc_node *map, const char *path, const struct rfield *fields) {
  int before = c->errors;
  if (map == NULL || map->type != YAMLDOC_MAPPING) return 0;
  for (size_t i = 0; i < map->len; i++) {
    const struct yamldoc_node *key = map->pairs[i].key;
    char p[RPATH_MAX];
    rpath_key(p, path, key->str);
    const struct rfield *f = fields;
    while (f->name && strcmp(f->name, key->str) != 0) f++;
    if (f->name == NULL) {
      unknown_field(c, key, p, fields);
      continue;
    }
    switch (f->kind) {
    case RF_OK:
      break;
    case RF_LATER:
      rerror(c, key, p, "'%s' is a valid Istio field but is not supported by meshlab yet%s%s", key->str,
             f->hint ? "; " : "", f->hint ? f->hint : "");
      break;
    case RF_RENAMED:
      rerror(c, key, p, "'%s' is an old Istio name that current Istio no longer accepts; use %s", key->str, f->hint);
      break;
    case RF_IGNORED:
      rnote(c, key, p, "'%s' is accepted but ignored: it has no meaning in the lab", key->str);
      break;
    }
  }
  return c->errors - before;
}

bool rexpect_map(struct rctx *c, const struct yamldoc_node *n, const char *path) {
  if (n && n->type == YAMLDOC_MAPPING) return true;
  rerror(c, n, path, "expected a mapping (key: value lines), got a %s", yamldoc_describe(n));
  return false;
}

bool rrequire(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path) {
  const struct yamldoc_node *v = yamldoc_get(map, key);
  if (v && !yamldoc_is_null(v)) return true;
  /* A near miss (`destinaton`) was already reported as "did you mean 'destination'": one
   * error per mistake. (Not for lenient kinds, where the near miss was only a note.) */
  for (size_t i = 0; v == NULL && !c->lenient && map && map->type == YAMLDOC_MAPPING && i < map->len; i++)
    if (strcmp(map->pairs[i].key->str, key) != 0 &&
        edit_distance(map->pairs[i].key->str, key) <= (strlen(key) <= 4 ? 1u : 2u))
      return false;
  char p[RPATH_MAX];
  rpath_key(p, path, key);
  rerror(c, v ? v : map, p, "missing required field '%s'", key);
  return false;
}

/* ---- getters ------------------------------------------------------------------------------- */

static const struct yamldoc_node *field(const struct yamldoc_node *map, const char *key, const char *path, char *p) {
  const struct yamldoc_node *v = yamldoc_get(map, key);
  rpath_key(p, path, key);
  if (v == NULL || yamldoc_is_null(v)) return NULL;
  return v;
}

int rscalar_str(struct rctx *c, const struct yamldoc_node *n, const char *path, char **out) {
  if (n->type != YAMLDOC_SCALAR) {
    rerror(c, n, path, "expected a string, got a %s", yamldoc_describe(n));
    return -1;
  }
  enum yamldoc_scalar_kind k = yamldoc_scalar_kind(n);
  if (k != YAMLDOC_STRING) {
    /* Kubernetes reads `version: 1` or `enabled: yes` as a number or boolean, and the API
     * server then refuses it for a string field: say how to make it a string. */
    rerror(c, n, path, "expected a string, got the %s %s; quote it: \"%s\"",
           k == YAMLDOC_NULL ? "null" : yamldoc_describe(n), n->str, n->str);
    return -1;
  }
  *out = rarena_strdup(c, n->str);
  return *out ? 1 : -1;
}

/* Parses an integer scalar; rejects strings, booleans and non-integral numbers. */
static int scalar_int(struct rctx *c, const struct yamldoc_node *n, const char *path, long long *out) {
  if (n->type != YAMLDOC_SCALAR) {
    rerror(c, n, path, "expected an integer, got a %s", yamldoc_describe(n));
    return -1;
  }
  enum yamldoc_scalar_kind k = yamldoc_scalar_kind(n);
  if (k == YAMLDOC_INT) {
    errno = 0;
    char *end;
    long long v = strtoll(n->str, &end, 0);
    if (errno == 0 && *end == '\0') {
      *out = v;
      return 1;
    }
  } else if (k == YAMLDOC_FLOAT) {
    double d = strtod(n->str, NULL);
    if (isfinite(d) && d == floor(d) && fabs(d) < 9e15) {
      *out = (long long)d;
      return 1;
    }
    rerror(c, n, path, "expected an integer, got %s", n->str);
    return -1;
  }
  if (k == YAMLDOC_STRING && n->quoted && yamldoc_plain_kind(n->str, n->str_len) == YAMLDOC_INT)
    rerror(c, n, path, "expected an integer, got the string \"%s\"; remove the quotes", n->str);
  else rerror(c, n, path, "expected an integer, got the %s '%s'", yamldoc_describe(n), n->str);
  return -1;
}

int rscalar_u32(struct rctx *c, const struct yamldoc_node *n, const char *path, uint32_t min, uint32_t max,
                uint32_t *out) {
  long long v;
  if (scalar_int(c, n, path, &v) < 0) return -1;
  if (v < (long long)min || v > (long long)max) {
    rerror(c, n, path, "%lld is out of range; expected %" PRIu32 " to %" PRIu32, v, min, max);
    return -1;
  }
  *out = (uint32_t)v;
  return 1;
}

int rget_map(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
             const struct yamldoc_node **out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  *out = NULL;
  if (v == NULL) return 0;
  if (!rexpect_map(c, v, p)) return -1;
  *out = v;
  return 1;
}

int rget_seq(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
             const struct yamldoc_node **out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  *out = NULL;
  if (v == NULL) return 0;
  if (v->type != YAMLDOC_SEQUENCE) {
    rerror(c, v, p, "expected a list (lines starting with '- '), got a %s", yamldoc_describe(v));
    return -1;
  }
  *out = v;
  return 1;
}

int rget_str(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, char **out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  if (v == NULL) return 0;
  return rscalar_str(c, v, p, out);
}

int rget_u32(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, uint32_t min,
             uint32_t max, uint32_t *out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  if (v == NULL) return 0;
  return rscalar_u32(c, v, p, min, max, out);
}

int rget_bool(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, bool *out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  if (v == NULL) return 0;
  if (v->type == YAMLDOC_SCALAR && yamldoc_scalar_kind(v) == YAMLDOC_BOOL) {
    char ch = (char)tolower((unsigned char)v->str[0]);
    *out = ch == 't' || ch == 'y' || (ch == 'o' && tolower((unsigned char)v->str[1]) == 'n');
    return 1;
  }
  rerror(c, v, p, "expected true or false, got the %s '%s'", yamldoc_describe(v),
         v->type == YAMLDOC_SCALAR ? v->str : "...");
  return -1;
}

int rget_double(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, double *out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  if (v == NULL) return 0;
  if (v->type == YAMLDOC_SCALAR) {
    enum yamldoc_scalar_kind k = yamldoc_scalar_kind(v);
    if (k == YAMLDOC_INT || k == YAMLDOC_FLOAT) {
      *out = strtod(v->str, NULL);
      if (k == YAMLDOC_INT) *out = (double)strtoll(v->str, NULL, 0);
      if (isfinite(*out)) return 1;
    }
  }
  rerror(c, v, p, "expected a number, got the %s '%s'", yamldoc_describe(v),
         v->type == YAMLDOC_SCALAR ? v->str : "...");
  return -1;
}

int rget_ms(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, int64_t *out) {
  return rget_ms_min(c, map, key, path, 1, out);
}

int rget_ms_min(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, int64_t min_ms,
                int64_t *out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  if (v == NULL) return 0;
  if (v->type != YAMLDOC_SCALAR) {
    rerror(c, v, p, "expected a duration such as 1s, 0.5s, 100ms or 1m, got a %s", yamldoc_describe(v));
    return -1;
  }
  enum yamldoc_scalar_kind k = yamldoc_scalar_kind(v);
  if (k == YAMLDOC_INT || k == YAMLDOC_FLOAT) {
    rerror(c, v, p, "'%s' is not a duration: the unit is missing; write %ss (seconds) or %sms", v->str, v->str, v->str);
    return -1;
  }
  if (resource_duration_parse(v->str, out) < 0) {
    rerror(c, v, p,
           "'%s' is not a valid duration; write a number and a unit (h, m, s, ms) in whole "
           "milliseconds, e.g. 1s, 0.5s, 100ms, 1m",
           v->str);
    return -1;
  }
  if (*out < min_ms) {
    rerror(c, v, p, "duration %s is too short; Istio requires at least %" PRId64 "ms", v->str, min_ms);
    return -1;
  }
  return 1;
}

int rget_enum(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
              const char *const *names, const char *const *later, int *out) {
  char p[RPATH_MAX];
  const struct yamldoc_node *v = field(map, key, path, p);
  if (v == NULL) return 0;
  char allowed[RPATH_MAX] = "";
  size_t used = 0;
  for (int i = 0; names[i]; i++) {
    if (v->type == YAMLDOC_SCALAR && strcmp(v->str, names[i]) == 0) {
      *out = i;
      return 1;
    }
    int n = snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "", names[i]);
    if (n > 0 && (size_t)n < sizeof allowed - used) used += (size_t)n;
  }
  for (int i = 0; later && later[i]; i++) {
    if (v->type == YAMLDOC_SCALAR && strcmp(v->str, later[i]) == 0) {
      rerror(c, v, p,
             "%s is a valid Istio value but is not supported by meshlab yet; use one "
             "of: %s",
             v->str, allowed);
      return -1;
    }
  }
  rerror(c, v, p, "invalid value '%s'; expected one of: %s", v->type == YAMLDOC_SCALAR ? v->str : yamldoc_describe(v),
         allowed);
  return -1;
}

int rget_strings(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
                 struct resource_strings *out) {
  const struct yamldoc_node *seq;
  int rc = rget_seq(c, map, key, path, &seq);
  if (rc <= 0) return rc;
  char p[RPATH_MAX], ip[RPATH_MAX];
  rpath_key(p, path, key);
  out->items = rarena_alloc(c, (seq->len + 1) * sizeof *out->items);
  out->pos = rarena_alloc(c, (seq->len + 1) * sizeof *out->pos);
  if (!out->items || !out->pos) return -1;
  int bad = 0;
  for (size_t i = 0; i < seq->len; i++) {
    rpath_index(ip, p, i);
    char *s = NULL;
    if (rscalar_str(c, seq->items[i], ip, &s) < 0) {
      bad = 1;
      continue;
    }
    out->pos[out->len] = rpos(seq->items[i]);
    out->items[out->len++] = s;
  }
  return bad ? -1 : 1;
}

int rget_labels(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
                struct resource_map *out) {
  const struct yamldoc_node *m;
  int rc = rget_map(c, map, key, path, &m);
  if (rc <= 0) return rc;
  char p[RPATH_MAX], kp[RPATH_MAX];
  rpath_key(p, path, key);
  out->items = rarena_alloc(c, (m->len + 1) * sizeof *out->items);
  if (out->items == NULL) return -1;
  int bad = 0;
  for (size_t i = 0; i < m->len; i++) {
    rpath_key(kp, p, m->pairs[i].key->str);
    char *v = NULL;
    if (rscalar_str(c, m->pairs[i].value, kp, &v) < 0) {
      bad = 1;
      continue;
    }
    out->items[out->len].key = rarena_strdup(c, m->pairs[i].key->str);
    out->items[out->len++].value = v;
  }
  return bad ? -1 : 1;
}

int ropt_u32(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, uint32_t min,
             uint32_t max, struct resource_u32 *out) {
  int rc = rget_u32(c, map, key, path, min, max, &out->value);
  if (rc > 0) out->set = true;
  return rc;
}

int ropt_ms(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
            struct resource_ms *out) {
  int rc = rget_ms(c, map, key, path, &out->ms);
  if (rc > 0) out->set = true;
  return rc;
}

int ropt_bool(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
              struct resource_flag *out) {
  int rc = rget_bool(c, map, key, path, &out->value);
  if (rc > 0) out->set = true;
  return rc;
}

int ropt_pct(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
             struct resource_pct *out) {
  static const struct rfield fields[] = {{"value", RF_OK, NULL}, {NULL, RF_OK, NULL}};
  const struct yamldoc_node *m;
  char p[RPATH_MAX];
  rpath_key(p, path, key);
  const struct yamldoc_node *raw = yamldoc_get(map, key);
  if (raw && raw->type == YAMLDOC_SCALAR && !yamldoc_is_null(raw)) {
    rerror(c, raw, p, "expected a mapping {value: 0-100}, got the %s '%s'; write %s: {value: %s}",
           yamldoc_describe(raw), raw->str, key, raw->str);
    return -1;
  }
  int rc = rget_map(c, map, key, path, &m);
  if (rc <= 0) return rc;
  rcheck_keys(c, m, p, fields);
  double v = 0;
  char vp[RPATH_MAX];
  rpath_key(vp, p, "value");
  rc = rget_double(c, m, "value", p, &v);
  if (rc < 0) return -1;
  if (v < 0 || v > 100) {
    rerror(c, yamldoc_get(m, "value"), vp, "percentage %g is out of range; expected 0 to 100", v);
    return -1;
  }
  out->value = v;
  out->set = true;
  return 1;
}

int rget_host(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
              struct resource_host *out) {
  char *s = NULL;
  int rc = rget_str(c, map, key, path, &s);
  if (rc <= 0) return rc;
  char p[RPATH_MAX];
  rpath_key(p, path, key);
  const struct yamldoc_node *v = yamldoc_get(map, key);
  if (s[0] == '\0') {
    rerror(c, v, p, "host must not be empty");
    return -1;
  }
  out->written = s;
  out->pos = rpos(v);
  char *fqdn = resource_host_fqdn(s, c->res->meta.ns);
  if (fqdn == NULL) return -1;
  out->fqdn = rarena_strdup(c, fqdn);
  free(fqdn);
  return out->fqdn ? 1 : -1;
}
