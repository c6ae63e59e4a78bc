/* trace: the decision trace's store and its JSON (see trace.h); the human
 * explanation is trace_text.c's.
 *
 * Where it sits: beside the proxy, off the request path. The proxy fills a
 * record as it decides and commits it here when the request ends (a memcpy into
 * a ring); the admin endpoint /debug/why serialises the records of one request
 * id with trace_record_json, the lab parses them back with
 * trace_record_from_json, and `meshlab why` prints trace_record_text.
 *
 * Two rings of the same size: `recent` keeps every request, `notable` only
 * those that ended badly. A learner asking about the one 503 among a thousand
 * 200s still finds it after the successes pushed it out of `recent`. Each slot
 * carries its commit number, so a record kept in both rings is reported once
 * and the two rings merge into one oldest-first list.
 *
 * The JSON is driven by one table of fields (name, type, offset), so writing,
 * reading and refusing unknown fields cannot drift apart. Enums travel as
 * lower-case names, flags as Envoy prints them ("UF,URX", "-" for none).
 * jansson is the JSON library, as in compile_json.c.
 */
#include "mesh/trace.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/flags.h"

void trace_copy(char *dst, size_t cap, const char *src, size_t len) {
  if (!cap) return;
  if (!src) len = 0;
  if (len > cap - 1) len = cap - 1;
  if (len) memcpy(dst, src, len);
  dst[len] = '\0';
}

void trace_record_clear(struct trace_record *r) {
  memset(r, 0, sizeof *r);
  r->rule = -1;
  r->match = -1;
  r->picked = -1;
  r->candidates[0] = r->candidates[1] = -1;
}

bool trace_record_notable(const struct trace_record *r) { return r->flags != 0 || r->code >= 500 || r->code == 0; }

/* ---- the store ------------------------------------------------------------------------------ */

int trace_store_init(struct trace_store *st, size_t cap) {
  if (cap == 0) return -EINVAL;
  memset(st, 0, sizeof *st);
  st->recent = calloc(cap, sizeof *st->recent);
  st->notable = calloc(cap, sizeof *st->notable);
  st->recent_seq = calloc(cap, sizeof *st->recent_seq);
  st->notable_seq = calloc(cap, sizeof *st->notable_seq);
  st->cap = cap;
  if (!st->recent || !st->notable || !st->recent_seq || !st->notable_seq) {
    trace_store_free(st);
    return -ENOMEM;
  }
  return 0;
}

void trace_store_free(struct trace_store *st) {
  if (!st) return;
  free(st->recent);
  free(st->notable);
  free(st->recent_seq);
  free(st->notable_seq);
  memset(st, 0, sizeof *st);
}

void trace_store_commit(struct trace_store *st, const struct trace_record *r) {
  if (!st->cap) return;
  /* The commit number is the count of records committed before this one. */
  uint64_t seq = st->recent_count;
  st->recent[st->recent_next] = *r;
  st->recent_seq[st->recent_next] = seq;
  st->recent_next = (st->recent_next + 1) % st->cap;
  st->recent_count++;
  if (trace_record_notable(r)) {
    st->notable[st->notable_next] = *r;
    st->notable_seq[st->notable_next] = seq;
    st->notable_next = (st->notable_next + 1) % st->cap;
    st->notable_count++;
  }
}

/* One ring walked oldest first. */
struct ring_walk {
  const struct trace_record *recs;
  const uint64_t *seqs;
  size_t cap, start, len, i;
};

static struct ring_walk ring_walk(const struct trace_record *recs, const uint64_t *seqs, size_t cap, size_t next,
                                  uint64_t count) {
  struct ring_walk w = {recs, seqs, cap, 0, 0, 0};
  w.len = count < cap ? (size_t)count : cap;
  w.start = count < cap ? 0 : next; /* once full, the next slot to write holds the oldest */
  return w;
}

/* Advances w to its next record with this id; returns its slot, or -1 at the
 * end. */
static long ring_next(struct ring_walk *w, const char *id) {
  for (; w->i < w->len; w->i++) {
    size_t slot = (w->start + w->i) % w->cap;
    if (strcmp(w->recs[slot].request_id, id) == 0) return (long)slot;
  }
  return -1;
}

size_t trace_store_find(const struct trace_store *st, const char *request_id, const struct trace_record **out,
                        size_t max) {
  if (!st->cap || !request_id || !*request_id) return 0;
  struct ring_walk a = ring_walk(st->recent, st->recent_seq, st->cap, st->recent_next, st->recent_count);
  struct ring_walk b = ring_walk(st->notable, st->notable_seq, st->cap, st->notable_next, st->notable_count);
  size_t n = 0;
  long sa = ring_next(&a, request_id), sb = ring_next(&b, request_id);
  /* Both walks are in commit order: merge them, taking a record present in both
   * once. */
  while (n < max && (sa >= 0 || sb >= 0)) {
    uint64_t qa = sa >= 0 ? a.seqs[sa] : UINT64_MAX, qb = sb >= 0 ? b.seqs[sb] : UINT64_MAX;
    if (qa <= qb) {
      out[n++] = &a.recs[sa];
      a.i++;
      sa = ring_next(&a, request_id);
      if (qa == qb) {
        b.i++;
        sb = ring_next(&b, request_id);
      }
    } else {
      out[n++] = &b.recs[sb];
      b.i++;
      sb = ring_next(&b, request_id);
    }
  }
  return n;
}

/* ---- names ---------------------------------------------------------------------------------- */

static const char *const OUTCOME_NAMES[] = {
    [TRACE_OUTCOME_RESPONSE] = "response", [TRACE_OUTCOME_CONNECT_FAILURE] = "connect_failure",
    [TRACE_OUTCOME_RESET] = "reset",       [TRACE_OUTCOME_PER_TRY_TIMEOUT] = "per_try_timeout",
    [TRACE_OUTCOME_TIMEOUT] = "timeout",   [TRACE_OUTCOME_OVERFLOW] = "overflow",
    [TRACE_OUTCOME_PENDING] = "pending",
};
static const char *const NEXT_NAMES[] = {
    [TRACE_NEXT_NONE] = "none",           [TRACE_NEXT_RETRY] = "retry",       [TRACE_NEXT_NO_MATCH] = "no_match",
    [TRACE_NEXT_EXHAUSTED] = "exhausted", [TRACE_NEXT_OVERFLOW] = "overflow", [TRACE_NEXT_BODY_GONE] = "body_gone",
    [TRACE_NEXT_NO_TIME] = "no_time",
};
static const char *const BREAKER_NAMES[] = {
    [TRACE_BREAKER_NONE] = "none",
    [TRACE_BREAKER_OK] = "ok",
    [TRACE_BREAKER_QUEUED] = "queued",
    [TRACE_BREAKER_PENDING_FULL] = "pending_full",
    [TRACE_BREAKER_REQUESTS_FULL] = "requests_full",
};
static const char *const FAULT_NAMES[] = {
    [TRACE_FAULT_NONE] = "none",       [TRACE_FAULT_SKIPPED] = "skipped", [TRACE_FAULT_DELAYED] = "delayed",
    [TRACE_FAULT_ABORTED] = "aborted", [TRACE_FAULT_BOTH] = "both",
};
static const char *const RATELIMIT_NAMES[] = {
    [TRACE_RATELIMIT_NONE] = "none",
    [TRACE_RATELIMIT_PASSED] = "passed",
    [TRACE_RATELIMIT_LIMITED] = "limited",
    [TRACE_RATELIMIT_NOT_ENFORCED] = "not_enforced",
};

static const char *const MIRROR_NAMES[] = {
    [TRACE_MIRROR_NONE] = "none",           [TRACE_MIRROR_SENT] = "sent",
    [TRACE_MIRROR_NOT_DRAWN] = "not_drawn", [TRACE_MIRROR_BODY_NOT_KEPT] = "body_not_kept",
    [TRACE_MIRROR_NO_HOST] = "no_host",
};

#define NAMES(a) a, sizeof a / sizeof a[0]

/* ---- the field table ------------------------------------------------------------------------ */

enum field_type { F_STR, F_INT, F_U32, F_U64, F_I64, F_DBL, F_BOOL, F_ENUM, F_FLAGS, F_PAIR, F_ATTEMPTS };

struct field {
  const char *name;
  enum field_type type;
  size_t off, size;         /* size: a string's capacity */
  const char *const *names; /* F_ENUM */
  size_t nnames;
};

#define R(f) offsetof(struct trace_record, f)
#define RS(f) R(f), sizeof(((struct trace_record *)0)->f)
#define A(f) offsetof(struct trace_attempt, f)
#define AS(f) A(f), sizeof(((struct trace_attempt *)0)->f)

/* In the order docs/why.md lists them. */
static const struct field RECORD_FIELDS[] = {
    {"request_id", F_STR, RS(request_id), NULL, 0},
    {"proxy", F_STR, RS(proxy), NULL, 0},
    {"direction", F_STR, RS(direction), NULL, 0},
    {"start_wall_ms", F_I64, R(start_wall_ms), 0, NULL, 0},
    {"duration_ms", F_U32, R(duration_ms), 0, NULL, 0},
    {"method", F_STR, RS(method), NULL, 0},
    {"authority", F_STR, RS(authority), NULL, 0},
    {"path", F_STR, RS(path), NULL, 0},
    {"code", F_INT, R(code), 0, NULL, 0},
    {"flags", F_FLAGS, R(flags), 0, NULL, 0},
    {"config_version", F_U64, R(config_version), 0, NULL, 0},
    {"verdict", F_STR, RS(verdict), NULL, 0},
    {"virtual_service", F_STR, RS(virtual_service), NULL, 0},
    {"rule", F_INT, R(rule), 0, NULL, 0},
    {"match", F_INT, R(match), 0, NULL, 0},
    {"route_name", F_STR, RS(route_name), NULL, 0},
    {"cluster", F_STR, RS(cluster), NULL, 0},
    {"destinations", F_U32, R(destinations), 0, NULL, 0},
    {"weight_draw", F_U64, R(weight_draw), 0, NULL, 0},
    {"weight_total", F_U64, R(weight_total), 0, NULL, 0},
    {"route_why", F_STR, RS(route_why), NULL, 0},
    {"lb_policy", F_STR, RS(lb_policy), NULL, 0},
    {"hosts", F_U32, R(hosts), 0, NULL, 0},
    {"hosts_available", F_U32, R(hosts_available), 0, NULL, 0},
    {"candidates", F_PAIR, R(candidates), 0, NULL, 0},
    {"picked", F_INT, R(picked), 0, NULL, 0},
    {"breaker", F_ENUM, R(breaker), 0, NAMES(BREAKER_NAMES)},
    {"cx_active", F_U32, R(cx_active), 0, NULL, 0},
    {"cx_max", F_U32, R(cx_max), 0, NULL, 0},
    {"pending", F_U32, R(pending), 0, NULL, 0},
    {"pending_max", F_U32, R(pending_max), 0, NULL, 0},
    {"rq_active", F_U32, R(rq_active), 0, NULL, 0},
    {"rq_max", F_U32, R(rq_max), 0, NULL, 0},
    {"fault", F_ENUM, R(fault), 0, NAMES(FAULT_NAMES)},
    {"delay_pct", F_DBL, R(delay_pct), 0, NULL, 0},
    {"delay_roll", F_DBL, R(delay_roll), 0, NULL, 0},
    {"delay_ms", F_U32, R(delay_ms), 0, NULL, 0},
    {"abort_pct", F_DBL, R(abort_pct), 0, NULL, 0},
    {"abort_roll", F_DBL, R(abort_roll), 0, NULL, 0},
    {"abort_status", F_INT, R(abort_status), 0, NULL, 0},
    {"ratelimit", F_ENUM, R(ratelimit), 0, NAMES(RATELIMIT_NAMES)},
    {"tokens_left", F_U32, R(tokens_left), 0, NULL, 0},
    {"timeout_ms", F_U32, R(timeout_ms), 0, NULL, 0},
    {"per_try_timeout_ms", F_U32, R(per_try_timeout_ms), 0, NULL, 0},
    {"retry_attempts", F_U32, R(retry_attempts), 0, NULL, 0},
    {"retry_on", F_STR, RS(retry_on), NULL, 0},
    {"peer", F_STR, RS(peer), NULL, 0},
    {"authn", F_STR, RS(authn), NULL, 0},
    {"authz", F_STR, RS(authz), NULL, 0},
    {"attempts", F_ATTEMPTS, R(attempts), 0, NULL, 0},
    {"mirror", F_ENUM, R(mirror), 0, NAMES(MIRROR_NAMES)},
    {"mirror_cluster", F_STR, RS(mirror_cluster), NULL, 0},
    {"mirror_pct", F_DBL, R(mirror_pct), 0, NULL, 0},
    {"mirror_roll", F_DBL, R(mirror_roll), 0, NULL, 0},
};

static const struct field ATTEMPT_FIELDS[] = {
    {"host", F_STR, AS(host), NULL, 0},
    {"replica", F_STR, AS(replica), NULL, 0},
    {"start_ms", F_U32, A(start_ms), 0, NULL, 0},
    {"duration_ms", F_U32, A(duration_ms), 0, NULL, 0},
    {"status", F_INT, A(status), 0, NULL, 0},
    {"outcome", F_ENUM, A(outcome), 0, NAMES(OUTCOME_NAMES)},
    {"next", F_ENUM, A(next), 0, NAMES(NEXT_NAMES)},
    {"backoff_ms", F_U32, A(backoff_ms), 0, NULL, 0},
    {"reused", F_BOOL, A(reused), 0, NULL, 0},
    {"other_host_preferred", F_BOOL, A(other_host_preferred), 0, NULL, 0},
    {"mtls", F_BOOL, A(mtls), 0, NULL, 0},
};

#define NFIELDS(t) (sizeof t / sizeof t[0])

/* ---- writing -------------------------------------------------------------------------------- */

static json_t *w_fields(const void *base, const struct field *fields, size_t n);

static json_t *w_attempts(const struct trace_record *r) {
  json_t *a = json_array();
  uint32_t len = r->attempts_len < TRACE_MAX_ATTEMPTS ? r->attempts_len : TRACE_MAX_ATTEMPTS;
  for (uint32_t i = 0; i < len; i++)
    json_array_append_new(a, w_fields(&r->attempts[i], ATTEMPT_FIELDS, NFIELDS(ATTEMPT_FIELDS)));
  return a;
}

static json_t *w_value(const void *base, const struct field *f) {
  const char *p = (const char *)base + f->off;
  switch (f->type) {
  case F_STR:
    /* A fixed buffer is always NUL-terminated by trace_copy; strnlen guards a
     * careless writer. */
    return json_stringn(p, strnlen(p, f->size));
  case F_INT:
    return json_integer(*(const int *)p);
  case F_U32:
    return json_integer(*(const uint32_t *)p);
  case F_U64: {
    uint64_t v = *(const uint64_t *)p;
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
  }
  case F_I64:
    return json_integer(*(const int64_t *)p);
  case F_DBL: {
    double v = *(const double *)p;
    return json_real(isfinite(v) ? v : 0); /* JSON has no NaN */
  }
  case F_BOOL:
    return json_boolean(*(const bool *)p);
  case F_ENUM: {
    int v = *(const int *)p;
    return json_string(v >= 0 && (size_t)v < f->nnames && f->names[v] ? f->names[v] : "unknown");
  }
  case F_FLAGS: {
    char text[128];
    flags_format(*(const uint32_t *)p, text, sizeof text);
    return json_string(text);
  }
  case F_PAIR: {
    const int *v = (const int *)p;
    return json_pack("[ii]", v[0], v[1]);
  }
  case F_ATTEMPTS:
    return w_attempts(base);
  }
  return json_null();
}

static json_t *w_fields(const void *base, const struct field *fields, size_t n) {
  json_t *o = json_object();
  for (size_t i = 0; i < n; i++) json_object_set_new(o, fields[i].name, w_value(base, &fields[i]));
  return o;
}

int trace_record_json(const struct trace_record *r, struct buf *out) {
  json_t *o = w_fields(r, RECORD_FIELDS, NFIELDS(RECORD_FIELDS));
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  if (!text) return -ENOMEM;
  int rc = buf_append_str(out, text);
  free(text);
  return rc;
}

/* ---- reading -------------------------------------------------------------------------------- */

struct rd {
  char *err;
  size_t errlen;
  int rc;
};

static int bad(struct rd *r, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(struct rd *r, const char *path, const char *key, const char *fmt, ...) {
  if (r->rc) return r->rc;
  int n = snprintf(r->err, r->errlen, "%s%s: ", path, key);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < r->errlen) vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return r->rc = -EINVAL;
}

static bool r_int_in(struct rd *r, json_t *v, const char *path, const char *key, int64_t min, int64_t max,
                     int64_t *out) {
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
    bad(r, path, key, "must be an integer from %lld to %lld", (long long)min, (long long)max);
    return false;
  }
  *out = json_integer_value(v);
  return true;
}

static void r_fields(struct rd *r, json_t *o, const char *path, void *base, const struct field *fields, size_t n);

static void r_attempts(struct rd *r, json_t *v, struct trace_record *rec) {
  if (!json_is_array(v)) {
    bad(r, "", "attempts", "must be an array");
    return;
  }
  if (json_array_size(v) > TRACE_MAX_ATTEMPTS) {
    bad(r, "", "attempts", "has %zu entries; a record keeps at most %d", json_array_size(v), TRACE_MAX_ATTEMPTS);
    return;
  }
  for (size_t i = 0; i < json_array_size(v) && !r->rc; i++) {
    char path[32];
    snprintf(path, sizeof path, "attempts[%zu].", i);
    r_fields(r, json_array_get(v, i), path, &rec->attempts[i], ATTEMPT_FIELDS, NFIELDS(ATTEMPT_FIELDS));
  }
  rec->attempts_len = (uint32_t)json_array_size(v);
}

static void r_value(struct rd *r, json_t *v, const char *path, void *base, const struct field *f) {
  char *p = (char *)base + f->off;
  int64_t i = 0;
  switch (f->type) {
  case F_STR:
    if (!json_is_string(v)) bad(r, path, f->name, "must be a string");
    else trace_copy(p, f->size, json_string_value(v), json_string_length(v));
    return;
  case F_INT:
    if (r_int_in(r, v, path, f->name, INT32_MIN, INT32_MAX, &i)) *(int *)p = (int)i;
    return;
  case F_U32:
    if (r_int_in(r, v, path, f->name, 0, UINT32_MAX, &i)) *(uint32_t *)p = (uint32_t)i;
    return;
  case F_U64:
    if (r_int_in(r, v, path, f->name, 0, INT64_MAX, &i)) *(uint64_t *)p = (uint64_t)i;
    return;
  case F_I64:
    if (r_int_in(r, v, path, f->name, INT64_MIN, INT64_MAX, &i)) *(int64_t *)p = i;
    return;
  case F_DBL:
    if (!json_is_number(v)) bad(r, path, f->name, "must be a number");
    else *(double *)p = json_number_value(v);
    return;
  case F_BOOL:
    if (!json_is_boolean(v)) bad(r, path, f->name, "must be true or false");
    else *(bool *)p = json_is_true(v);
    return;
  case F_ENUM: {
    const char *s = json_string_value(v);
    for (size_t k = 0; s && k < f->nnames; k++)
      if (f->names[k] && strcmp(f->names[k], s) == 0) {
        *(int *)p = (int)k;
        return;
      }
    char known[256] = "";
    size_t len = 0;
    for (size_t k = 0; k < f->nnames && len < sizeof known; k++)
      len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "", f->names[k]);
    bad(r, path, f->name, "must be one of %s", known);
    return;
  }
  case F_FLAGS: {
    /* "UF,URX" as Envoy prints %RESPONSE_FLAGS%; "-" (or "") for none. */
    const char *s = json_string_value(v);
    if (!s) {
      bad(r, path, f->name, "must be a string of response flags such as \"UF,URX\" or \"-\"");
      return;
    }
    uint32_t flags = 0;
    if (strcmp(s, "-") != 0)
      while (*s) {
        size_t n = strcspn(s, ",");
        uint32_t bit = flag_parse(s, n);
        if (!bit) {
          bad(r, path, f->name, "unknown response flag \"%.*s\"", (int)n, s);
          return;
        }
        flags |= bit;
        s += n + (s[n] == ',');
      }
    *(uint32_t *)p = flags;
    return;
  }
  case F_PAIR: {
    int64_t a = 0, b = 0;
    if (!json_is_array(v) || json_array_size(v) != 2) {
      bad(r, path, f->name, "must be an array of two integers");
      return;
    }
    if (r_int_in(r, json_array_get(v, 0), path, f->name, INT32_MIN, INT32_MAX, &a) &&
        r_int_in(r, json_array_get(v, 1), path, f->name, INT32_MIN, INT32_MAX, &b)) {
      ((int *)p)[0] = (int)a;
      ((int *)p)[1] = (int)b;
    }
    return;
  }
  case F_ATTEMPTS:
    r_attempts(r, v, base);
    return;
  }
}

/* Every key of o must be a field; missing fields keep their cleared value. */
static void r_fields(struct rd *r, json_t *o, const char *path, void *base, const struct field *fields, size_t n) {
  if (!json_is_object(o)) {
    bad(r, path, "", "must be an object");
    return;
  }
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    size_t i = 0;
    while (i < n && strcmp(fields[i].name, key) != 0) i++;
    if (i == n) {
      bad(r, path, key, "unknown field");
      return;
    }
    r_value(r, v, path, base, &fields[i]);
    if (r->rc) return;
  }
}

int trace_record_from_json(const char *text, size_t len, struct trace_record *out, char *err, size_t errlen) {
  trace_record_clear(out);
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr);
  if (!root) {
    snprintf(err, errlen, "trace record: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    return -EINVAL;
  }
  char inner[200] = "";
  struct rd r = {inner, sizeof inner, 0};
  r_fields(&r, root, "", out, RECORD_FIELDS, NFIELDS(RECORD_FIELDS));
  json_decref(root);
  if (r.rc) {
    snprintf(err, errlen, "trace record: %s", inner);
    trace_record_clear(out);
  }
  return r.rc;
}

/* ---- the admin answer ----------------------------------------------------------------------- */

int trace_why_json(const char *proxy, const struct trace_record *const *recs, size_t n, struct buf *out) {
  json_t *name = json_string(proxy ? proxy : "");
  char *quoted = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
  json_decref(name);
  if (!quoted) return -ENOMEM;
  int rc = buf_appendf(out, "{\"proxy\":%s,\"records\":[", quoted);
  free(quoted);
  for (size_t i = 0; i < n && !rc; i++) {
    if (i) rc = buf_append_str(out, ",");
    if (!rc) rc = trace_record_json(recs[i], out);
  }
  return rc ? rc : buf_append_str(out, "]}\n");
}

int trace_why_from_json(const char *text, size_t len, char *proxy, size_t cap, struct trace_record **out, size_t *n,
                        char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  if (cap) proxy[0] = '\0';
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr);
  if (!root) {
    snprintf(err, errlen, "why answer: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    return -EINVAL;
  }
  json_t *name = json_object_get(root, "proxy"), *recs = json_object_get(root, "records");
  int rc = 0;
  if (!json_is_object(root) || json_object_size(root) != 2 || !json_is_string(name) || !json_is_array(recs)) {
    snprintf(err, errlen, "why answer: must be {\"proxy\": NAME, \"records\": [...]} and nothing else");
    rc = -EINVAL;
  }
  size_t count = rc ? 0 : json_array_size(recs);
  if (count && !(*out = calloc(count, sizeof **out))) rc = -ENOMEM;
  for (size_t i = 0; i < count && !rc; i++) {
    /* Each record goes through the one reader, so the rules are trace_record_from_json's. */
    char *one = json_dumps(json_array_get(recs, i), JSON_COMPACT);
    char why[200] = "";
    rc = one ? trace_record_from_json(one, strlen(one), &(*out)[i], why, sizeof why) : -ENOMEM;
    free(one);
    if (rc == -EINVAL) snprintf(err, errlen, "why answer: records[%zu]: %s", i, why);
  }
  if (!rc) {
    trace_copy(proxy, cap, json_string_value(name), json_string_length(name));
    *n = count;
  } else {
    free(*out);
    *out = NULL;
  }
  json_decref(root);
  return rc;
}
