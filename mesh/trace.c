/* trace: the decision trace's store, its JSON and its human explanation (see
 * trace.h).
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
#include <time.h>

#include "mesh/flags.h"

void trace_copy(char *dst, size_t cap, const char *src, size_t len) {
  if (!cap)
    return;
  if (!src)
    len = 0;
  if (len > cap - 1)
    len = cap - 1;
  if (len)
    memcpy(dst, src, len);
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
  if (cap == 0)
    return -EINVAL;
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
  if (!st)
    return;
  free(st->recent);
  free(st->notable);
  free(st->recent_seq);
  free(st->notable_seq);
  memset(st, 0, sizeof *st);
}

void trace_store_commit(struct trace_store *st, const struct trace_record *r) {
  if (!st->cap)
    return;
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
    if (strcmp(w->recs[slot].request_id, id) == 0)
      return (long)slot;
  }
  return -1;
}

size_t trace_store_find(const struct trace_store *st, const char *request_id, const struct trace_record **out,
                        size_t max) {
  if (!st->cap || !request_id || !*request_id)
    return 0;
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
    [TRACE_MIRROR_NONE] = "none",
    [TRACE_MIRROR_SENT] = "sent",
    [TRACE_MIRROR_NOT_DRAWN] = "not_drawn",
    [TRACE_MIRROR_BODY_NOT_KEPT] = "body_not_kept",
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
  for (size_t i = 0; i < n; i++)
    json_object_set_new(o, fields[i].name, w_value(base, &fields[i]));
  return o;
}

int trace_record_json(const struct trace_record *r, struct buf *out) {
  json_t *o = w_fields(r, RECORD_FIELDS, NFIELDS(RECORD_FIELDS));
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  if (!text)
    return -ENOMEM;
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
  if (r->rc)
    return r->rc;
  int n = snprintf(r->err, r->errlen, "%s%s: ", path, key);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < r->errlen)
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
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
    if (!json_is_string(v))
      bad(r, path, f->name, "must be a string");
    else
      trace_copy(p, f->size, json_string_value(v), json_string_length(v));
    return;
  case F_INT:
    if (r_int_in(r, v, path, f->name, INT32_MIN, INT32_MAX, &i))
      *(int *)p = (int)i;
    return;
  case F_U32:
    if (r_int_in(r, v, path, f->name, 0, UINT32_MAX, &i))
      *(uint32_t *)p = (uint32_t)i;
    return;
  case F_U64:
    if (r_int_in(r, v, path, f->name, 0, INT64_MAX, &i))
      *(uint64_t *)p = (uint64_t)i;
    return;
  case F_I64:
    if (r_int_in(r, v, path, f->name, INT64_MIN, INT64_MAX, &i))
      *(int64_t *)p = i;
    return;
  case F_DBL:
    if (!json_is_number(v))
      bad(r, path, f->name, "must be a number");
    else
      *(double *)p = json_number_value(v);
    return;
  case F_BOOL:
    if (!json_is_boolean(v))
      bad(r, path, f->name, "must be true or false");
    else
      *(bool *)p = json_is_true(v);
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
    while (i < n && strcmp(fields[i].name, key) != 0)
      i++;
    if (i == n) {
      bad(r, path, key, "unknown field");
      return;
    }
    r_value(r, v, path, base, &fields[i]);
    if (r->rc)
      return;
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
  if (!quoted)
    return -ENOMEM;
  int rc = buf_appendf(out, "{\"proxy\":%s,\"records\":[", quoted);
  free(quoted);
  for (size_t i = 0; i < n && !rc; i++) {
    if (i)
      rc = buf_append_str(out, ",");
    if (!rc)
      rc = trace_record_json(recs[i], out);
  }
  return rc ? rc : buf_append_str(out, "]}\n");
}

int trace_why_from_json(const char *text, size_t len, char *proxy, size_t cap, struct trace_record **out, size_t *n,
                        char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  if (cap)
    proxy[0] = '\0';
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
  if (count && !(*out = calloc(count, sizeof **out)))
    rc = -ENOMEM;
  for (size_t i = 0; i < count && !rc; i++) {
    /* Each record goes through the one reader, so the rules are trace_record_from_json's. */
    char *one = json_dumps(json_array_get(recs, i), JSON_COMPACT);
    char why[200] = "";
    rc = one ? trace_record_from_json(one, strlen(one), &(*out)[i], why, sizeof why) : -ENOMEM;
    free(one);
    if (rc == -EINVAL)
      snprintf(err, errlen, "why answer: records[%zu]: %s", i, why);
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

/* ---- text ----------------------------------------------------------------------------------- */

/* Both sides of a hop start in the same millisecond often enough: the caller's
 * side first. */
static int direction_rank(const char *d) {
  if (strcmp(d, "gateway") == 0)
    return 0;
  if (strcmp(d, "outbound") == 0)
    return 1;
  if (strcmp(d, "inbound") == 0)
    return 2;
  return 3;
}

void trace_records_sort(struct trace_record *recs, size_t n) {
  /* Insertion sort: stable, and a request has a handful of hops. */
  for (size_t i = 1; i < n; i++) {
    struct trace_record tmp = recs[i];
    size_t j = i;
    while (j > 0 && (recs[j - 1].start_wall_ms > tmp.start_wall_ms ||
                     (recs[j - 1].start_wall_ms == tmp.start_wall_ms &&
                      direction_rank(recs[j - 1].direction) > direction_rank(tmp.direction)))) {
      recs[j] = recs[j - 1];
      j--;
    }
    recs[j] = tmp;
  }
}

/* "1 retry", "2 hops": the count and a noun with an "s" unless it is one. */
static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

static void code_and_flags(struct buf *out, int code, uint32_t flags) {
  if (code)
    buf_appendf(out, "%d", code);
  else
    buf_append_str(out, "no response (connection cut)");
  if (flags) {
    char text[128];
    flags_format(flags, text, sizeof text);
    buf_appendf(out, " %s", text);
  }
}

int trace_records_summary(const char *request_id, const struct trace_record *recs, size_t n, struct buf *out) {
  if (n == 0)
    return -EINVAL;
  size_t proxies = 0, tries = 0;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcmp(recs[i].proxy, recs[j].proxy) == 0;
    proxies += !seen;
    if (recs[i].attempts_len > 1)
      tries += recs[i].attempts_len - 1;
  }
  const struct trace_record *first = &recs[0];
  buf_appendf(out, "request %s: %zu record%s from %zu prox%s", request_id, n, plural(n), proxies,
              proxies == 1 ? "y" : "ies");
  if (tries)
    buf_appendf(out, ", %zu retr%s", tries, tries == 1 ? "y" : "ies");
  buf_appendf(out, "; the caller of %s got ", first->proxy);
  code_and_flags(out, first->code, first->flags);
  buf_appendf(out, " after %u ms", first->duration_ms);
  /* A local 401 or 403 of the security filters: say who answered and why, in the summary. */
  for (size_t i = 0; i < n; i++) {
    const char *v = strncmp(recs[i].authn, "401:", 4) == 0 ? recs[i].authn
                    : strncmp(recs[i].authz, "403:", 4) == 0 ? recs[i].authz
                                                               : NULL;
    if (v) {
      buf_appendf(out, " (%s answered %s)", recs[i].proxy, v);
      break;
    }
  }
  return buf_append_str(out, "\n");
}

/* The width of the decision labels, so the explanations line up. */
#define LABEL "  %-8s"

static void line(struct buf *out, const char *label, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(struct buf *out, const char *label, const char *fmt, ...) {
  buf_appendf(out, LABEL, label);
  va_list ap;
  va_start(ap, fmt);
  buf_vappendf(out, fmt, ap);
  va_end(ap);
  buf_append_str(out, "\n");
}

static void text_request(const struct trace_record *r, struct buf *out) {
  char when[32] = "";
  time_t s = (time_t)(r->start_wall_ms / 1000);
  struct tm tm;
  if (r->start_wall_ms > 0 && gmtime_r(&s, &tm))
    snprintf(when, sizeof when, " at %02d:%02d:%02d.%03d UTC", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(r->start_wall_ms % 1000));
  line(out, "request", "%s %s%s%s", r->method[0] ? r->method : "?", r->authority, r->path, when);
}

static void text_security(const struct trace_record *r, struct buf *out) {
  if (r->peer[0])
    line(out, "peer", "%s", r->peer);
  if (r->authn[0])
    line(out, "authn", "%s", r->authn);
  if (r->authz[0])
    line(out, "authz", "%s", r->authz);
}

static void text_ratelimit(const struct trace_record *r, struct buf *out) {
  switch (r->ratelimit) {
  case TRACE_RATELIMIT_NONE:
    return;
  case TRACE_RATELIMIT_PASSED:
    line(out, "limit", "local rate limit: took a token from the bucket (%u left) → passed", r->tokens_left);
    return;
  case TRACE_RATELIMIT_LIMITED:
    line(out, "limit",
         "local rate limit: the token bucket is empty and the limit is "
         "enforced → 429 RL");
    return;
  case TRACE_RATELIMIT_NOT_ENFORCED:
    line(out, "limit",
         "local rate limit: the token bucket is empty, but filter_enforced "
         "does not cover this request → passed "
         "(counted as rate limited)");
    return;
  }
}

static void text_mirror(const struct trace_record *r, struct buf *out) {
  const char *c = r->mirror_cluster[0] ? r->mirror_cluster : "?";
  switch (r->mirror) {
  case TRACE_MIRROR_NONE:
    return;
  case TRACE_MIRROR_SENT:
    line(out, "mirror",
         "drew %.2f < mirrorPercentage %.2f → a copy went to %s with Host <host>-shadow; its answer is "
         "dropped and never reaches the caller",
         r->mirror_roll, r->mirror_pct, c);
    return;
  case TRACE_MIRROR_NOT_DRAWN:
    line(out, "mirror", "drew %.2f, not under mirrorPercentage %.2f → not mirrored", r->mirror_roll, r->mirror_pct);
    return;
  case TRACE_MIRROR_BODY_NOT_KEPT:
    line(out, "mirror", "not mirrored: the request body was too large to keep whole for a copy (to %s)", c);
    return;
  case TRACE_MIRROR_NO_HOST:
    line(out, "mirror", "not mirrored: no host to send the copy to in %s (or the proxy is draining)", c);
    return;
  }
}

static void text_route(const struct trace_record *r, struct buf *out) {
  if (!r->verdict[0])
    return;
  char where[256];
  if (r->virtual_service[0]) {
    char match[48];
    if (r->match >= 0)
      snprintf(match, sizeof match, "match %d", r->match);
    else
      snprintf(match, sizeof match, "no match block: every request");
    snprintf(where, sizeof where, "VirtualService %s rule %d (%s)", r->virtual_service, r->rule, match);
  } else {
    snprintf(where, sizeof where, "no VirtualService: the default route for %s",
             r->authority[0] ? r->authority : "this host");
  }
  if (strcmp(r->verdict, "ROUTE") == 0) {
    buf_appendf(out, LABEL "%s → %s", "route", where, r->cluster[0] ? r->cluster : "?");
    if (r->destinations > 1)
      buf_appendf(out, " (weighted: drew %llu of %llu over %u destinations)", (unsigned long long)r->weight_draw,
                  (unsigned long long)r->weight_total, r->destinations);
    buf_append_str(out, "\n");
  } else if (strcmp(r->verdict, "NO_ROUTE") == 0) {
    line(out, "route", "no VirtualService rule or default route matches %s%s → 404 NR",
         r->authority[0] ? r->authority : "the authority", r->path);
  } else if (strcmp(r->verdict, "NO_CLUSTER") == 0) {
    line(out, "route",
         "%s → %s, but the proxy has no such cluster (a subset no "
         "DestinationRule defines?) → 503 NC",
         where, r->cluster[0] ? r->cluster : "?");
  } else {
    line(out, "route", "%s → %s", where, r->verdict);
  }
  if (r->route_why[0])
    buf_appendf(out, "  %-8s  %s\n", "", r->route_why);
}

/* One fault part: "delay 7000 ms at 100.0 %: roll 12.01 < 100.0 → fired (DI)".
 * A part fires when the roll, uniform in [0, 100), falls below its percentage
 * (Envoy's fractional percent). */
static void text_fault_part(struct buf *out, const char *what, double pct, double roll, bool fired,
                            const char *consequence) {
  line(out, "fault", "%s at %.1f %%: roll %.2f %s %.1f → %s", what, pct, roll, fired ? "<" : "≥", pct,
       fired ? consequence : "not fired");
}

static void text_fault(const struct trace_record *r, struct buf *out) {
  if (r->fault == TRACE_FAULT_NONE)
    return;
  bool delay_fired = r->fault == TRACE_FAULT_DELAYED || r->fault == TRACE_FAULT_BOTH;
  bool abort_fired = r->fault == TRACE_FAULT_ABORTED || r->fault == TRACE_FAULT_BOTH;
  char what[64], then[96];
  if (r->delay_ms || r->delay_pct > 0) {
    snprintf(what, sizeof what, "delay %u ms", r->delay_ms);
    text_fault_part(out, what, r->delay_pct, r->delay_roll, delay_fired, "fired: waited before going on (DI)");
  }
  if (r->abort_status || r->abort_pct > 0) {
    snprintf(what, sizeof what, "abort %d", r->abort_status);
    snprintf(then, sizeof then, "fired: answered %d without calling the upstream (FI)", r->abort_status);
    text_fault_part(out, what, r->abort_pct, r->abort_roll, abort_fired, then);
  }
}

static void text_policy(const struct trace_record *r, struct buf *out) {
  if (strcmp(r->verdict, "ROUTE") != 0)
    return;
  buf_appendf(out, LABEL, "policy");
  if (r->timeout_ms)
    buf_appendf(out, "route timeout %u ms", r->timeout_ms);
  else
    buf_append_str(out, "no route timeout");
  if (r->retry_attempts && r->retry_on[0]) {
    buf_appendf(out, "; %u retr%s on %s", r->retry_attempts, r->retry_attempts == 1 ? "y" : "ies", r->retry_on);
    if (r->per_try_timeout_ms)
      buf_appendf(out, ", %u ms per try", r->per_try_timeout_ms);
  } else {
    buf_append_str(out, "; retries off");
  }
  buf_append_str(out, "\n");
}

static void text_lb(const struct trace_record *r, struct buf *out) {
  if (!r->lb_policy[0])
    return;
  buf_appendf(out, LABEL "%s over %u host%s (%u available)", "lb", r->lb_policy, r->hosts, plural(r->hosts),
              r->hosts_available);
  if (r->picked < 0) {
    buf_appendf(out, ": %s → 503 UH\n",
                r->hosts ? "every host is ejected or unhealthy" : "the cluster has no endpoints");
    return;
  }
  if (r->candidates[0] >= 0 && r->candidates[1] >= 0)
    buf_appendf(out, ": drew %d and %d, kept the one with fewer active requests → %d", r->candidates[0],
                r->candidates[1], r->picked);
  else if (r->candidates[0] >= 0)
    buf_appendf(out, ": drew %d → %d", r->candidates[0], r->picked);
  else
    buf_appendf(out, " → %d", r->picked);
  if (r->attempts_len > 0 && r->attempts[0].host[0]) {
    buf_appendf(out, " (%s", r->attempts[0].host);
    if (r->attempts[0].replica[0])
      buf_appendf(out, ", %s", r->attempts[0].replica);
    buf_append_str(out, ")");
  }
  buf_append_str(out, "\n");
}

static void text_pool(const struct trace_record *r, struct buf *out) {
  char counts[160];
  snprintf(counts, sizeof counts, "%u/%u connections, %u/%u pending, %u/%u requests", r->cx_active, r->cx_max,
           r->pending, r->pending_max, r->rq_active, r->rq_max);
  switch (r->breaker) {
  case TRACE_BREAKER_NONE:
    return;
  case TRACE_BREAKER_OK:
    line(out, "pool", "admitted: %s", counts);
    return;
  case TRACE_BREAKER_QUEUED:
    line(out, "pool",
         "queued: every connection busy (maxConnections), waited in the "
         "pending queue: %s",
         counts);
    return;
  case TRACE_BREAKER_PENDING_FULL:
    line(out, "pool",
         "overflow: pending queue full (%u/%u, http1MaxPendingRequests) → 503 "
         "UO",
         r->pending, r->pending_max);
    return;
  case TRACE_BREAKER_REQUESTS_FULL:
    line(out, "pool",
         "overflow: too many requests in flight (%u/%u, http2MaxRequests) → "
         "503 UO",
         r->rq_active, r->rq_max);
    return;
  }
}

static bool retry_on_has(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
    if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
      return true;
  return false;
}

/* Which retry_on condition covered this try's outcome, as Envoy's router checks
 * them. */
static void retry_reason(const struct trace_record *r, const struct trace_attempt *a, char *out, size_t n) {
  const char *on = r->retry_on;
  int st = a->status;
  switch (a->outcome) {
  case TRACE_OUTCOME_RESPONSE:
    if (st >= 500 && retry_on_has(on, "5xx"))
      snprintf(out, n, "%d is a 5xx and retry_on has 5xx", st);
    else if ((st == 502 || st == 503 || st == 504) && retry_on_has(on, "gateway-error"))
      snprintf(out, n, "%d is a gateway error and retry_on has gateway-error", st);
    else if (st == 409 && retry_on_has(on, "retriable-4xx"))
      snprintf(out, n, "409 is in retriable-4xx");
    else if (retry_on_has(on, "retriable-status-codes"))
      snprintf(out, n, "%d is in retriable-status-codes", st);
    else
      snprintf(out, n, "retry_on %s covers %d", on, st);
    return;
  case TRACE_OUTCOME_CONNECT_FAILURE:
    snprintf(out, n, "retry_on %s covers a connect failure",
             retry_on_has(on, "connect-failure") ? "connect-failure"
             : retry_on_has(on, "reset")         ? "reset"
                                                 : "5xx");
    return;
  case TRACE_OUTCOME_RESET:
    snprintf(out, n, "retry_on %s covers a reset", retry_on_has(on, "reset") ? "reset" : "5xx");
    return;
  case TRACE_OUTCOME_PER_TRY_TIMEOUT:
  case TRACE_OUTCOME_TIMEOUT:
    snprintf(out, n, "retry_on %s covers a per-try timeout",
             retry_on_has(on, "5xx")             ? "5xx"
             : retry_on_has(on, "gateway-error") ? "gateway-error"
                                                 : "reset");
    return;
  case TRACE_OUTCOME_OVERFLOW:
  case TRACE_OUTCOME_PENDING:
    snprintf(out, n, "retry_on %s", on);
    return;
  }
}

static const char *outcome_word(const struct trace_attempt *a, char *tmp, size_t n) {
  switch (a->outcome) {
  case TRACE_OUTCOME_RESPONSE:
    snprintf(tmp, n, "%d", a->status);
    return tmp;
  case TRACE_OUTCOME_CONNECT_FAILURE:
    return "connect failed (UF)";
  case TRACE_OUTCOME_RESET:
    return "connection closed before a whole response (UC)";
  case TRACE_OUTCOME_PER_TRY_TIMEOUT:
    return "no response within the per-try timeout (UT)";
  case TRACE_OUTCOME_TIMEOUT:
    return "the route timeout fired (UT)";
  case TRACE_OUTCOME_OVERFLOW:
    return "refused by the connection pool (UO)";
  case TRACE_OUTCOME_PENDING:
    return "still running when the caller left (DC)";
  }
  return "?";
}

static void text_attempt(const struct trace_record *r, uint32_t i, struct buf *out) {
  const struct trace_attempt *a = &r->attempts[i];
  char label[16], tmp[16], why[160];
  snprintf(label, sizeof label, "try %u", i + 1);
  buf_appendf(out, LABEL "%s", label, a->host[0] ? a->host : "(no host)");
  /* What is known about the host: its replica, a reused connection, a retry's
   * pick that avoided the hosts already tried (Istio's previous_hosts
   * predicate). */
  const char *notes[4];
  size_t nn = 0;
  if (a->replica[0])
    notes[nn++] = a->replica;
  if (a->mtls)
    notes[nn++] = "mTLS";
  if (a->reused)
    notes[nn++] = "pooled connection";
  if (a->other_host_preferred)
    notes[nn++] = "not tried before";
  for (size_t k = 0; k < nn; k++)
    buf_appendf(out, "%s%s", k ? ", " : " (", notes[k]);
  if (nn)
    buf_append_str(out, ")");
  buf_appendf(out, " %s after %u ms", outcome_word(a, tmp, sizeof tmp), a->duration_ms);
  switch (a->next) {
  case TRACE_NEXT_NONE:
    if (a->outcome == TRACE_OUTCOME_RESPONSE)
      buf_append_str(out, " → passed to the caller");
    break;
  case TRACE_NEXT_RETRY:
    retry_reason(r, a, why, sizeof why);
    buf_appendf(out, " → retry in %u ms (%s)", a->backoff_ms, why);
    break;
  case TRACE_NEXT_NO_MATCH:
    if (!r->retry_on[0] || !r->retry_attempts)
      buf_append_str(out, " → not retried: retries are off for this route");
    else
      buf_appendf(out, " → not retried: retry_on %s does not cover it", r->retry_on);
    break;
  case TRACE_NEXT_EXHAUSTED:
    buf_appendf(out, " → retries exhausted (%u of %u) → URX", i, r->retry_attempts);
    break;
  case TRACE_NEXT_OVERFLOW:
    buf_append_str(out, " → not retried: the cluster's retry budget "
                        "(connectionPool.http.maxRetries) is used up → UO");
    break;
  case TRACE_NEXT_BODY_GONE:
    buf_append_str(out, " → not retried: the request body was not kept whole, "
                        "so it cannot be sent again");
    break;
  case TRACE_NEXT_NO_TIME:
    buf_appendf(out,
                " → not retried: the route timeout (%u ms) leaves no time for "
                "another try",
                r->timeout_ms);
    break;
  }
  buf_append_str(out, "\n");
}

int trace_record_text(const struct trace_record *r, struct buf *out) {
  size_t before = out->len;
  buf_appendf(out, "%s → %s  ", r->proxy[0] ? r->proxy : "?", r->direction[0] ? r->direction : "?");
  code_and_flags(out, r->code, r->flags);
  buf_appendf(out, "  %u ms  (config v%llu)\n", r->duration_ms, (unsigned long long)r->config_version);
  text_request(r, out);
  text_security(r, out);
  text_ratelimit(r, out);
  text_route(r, out);
  text_policy(r, out);
  text_fault(r, out);
  text_lb(r, out);
  text_pool(r, out);
  uint32_t n = r->attempts_len < TRACE_MAX_ATTEMPTS ? r->attempts_len : TRACE_MAX_ATTEMPTS;
  for (uint32_t i = 0; i < n; i++)
    text_attempt(r, i, out);
  text_mirror(r, out);
  /* Appends are not checked one by one: out of memory leaves nothing appended
   * at all (the header is the first and smallest append), which is what this
   * sees. */
  return out->len > before ? 0 : -ENOMEM;
}
