/* lab_series: the per-second series of the lab's telemetry sink (lab_telemetry.h, pure): one
 * ring of LABTEL_SECONDS one-second buckets per series, a request count and a duration
 * histogram in each, the window queries GET /v1/metrics and `meshlab top` ask of them, expiry of
 * idle series, and the ring of sampled request records behind GET /v1/requests. No I/O and no
 * clock: the caller passes whole seconds. The clusters' latest state, the JSON glue and the
 * journal are lab_telemetry.c's.
 */
#include "mesh/lab_telemetry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/hash.h"

/* ---- the per-second series (pure) ------------------------------------------------------------ */

struct labtel_series {
  struct labtel_key key;
  uint64_t hash;
  int64_t last_s;                    /* newest second written; -1: none */
  uint32_t requests[LABTEL_SECONDS]; /* slot = second % LABTEL_SECONDS */
  uint32_t duration[LABTEL_SECONDS][LABTEL_BUCKETS];
};

static uint64_t key_hash(const struct labtel_key *k) {
  uint64_t h = FNV1A_OFFSET;
  const char *s[] = {k->source_workload, k->source_version, k->destination_workload, k->destination_version,
                     k->service};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) h = fnv1a(h, s[i], strlen(s[i]) + 1);
  int r = (int)k->reporter, sec = (int)k->security;
  h = fnv1a(h, &r, sizeof r);
  h = fnv1a(h, &sec, sizeof sec);
  h = fnv1a(h, &k->code, sizeof k->code);
  return fnv1a(h, &k->flags, sizeof k->flags);
}

static int key_eq(const struct labtel_key *a, const struct labtel_key *b) {
  return a->reporter == b->reporter && a->security == b->security && a->code == b->code && a->flags == b->flags &&
         strcmp(a->service, b->service) == 0 && strcmp(a->source_workload, b->source_workload) == 0 &&
         strcmp(a->source_version, b->source_version) == 0 &&
         strcmp(a->destination_workload, b->destination_workload) == 0 &&
         strcmp(a->destination_version, b->destination_version) == 0;
}

static size_t slot(int64_t sec) { return (size_t)(sec % LABTEL_SECONDS); }

/* Moves a series' ring forward to now_s, clearing the seconds it skipped (at most a lap). */
static void advance(struct labtel_series *s, int64_t now_s) {
  if (now_s <= s->last_s) return;
  int64_t from = s->last_s < 0 || now_s - s->last_s > LABTEL_SECONDS ? now_s - LABTEL_SECONDS + 1 : s->last_s + 1;
  for (int64_t sec = from; sec <= now_s; sec++) {
    if (sec < 0) continue;
    s->requests[slot(sec)] = 0;
    memset(s->duration[slot(sec)], 0, sizeof s->duration[0]);
  }
  s->last_s = now_s;
}

static uint32_t add32(uint32_t a, uint64_t b) { return b > UINT32_MAX - a ? UINT32_MAX : a + (uint32_t)b; }

int labtel_add(struct labtel *t, int64_t now_s, const struct labtel_key *k, uint64_t requests,
               const uint64_t *duration) {
  uint64_t h = key_hash(k);
  struct labtel_series *s = NULL;
  for (size_t i = 0; i < t->len && !s; i++)
    if (t->series[i]->hash == h && key_eq(&t->series[i]->key, k)) s = t->series[i];
  if (!s) {
    if (t->len >= LABTEL_MAX_SERIES) {
      t->refused++;
      return -ENOSPC;
    }
    if (t->len == t->cap) {
      size_t cap = t->cap ? t->cap * 2 : 32;
      struct labtel_series **a = realloc(t->series, cap * sizeof *a);
      if (!a) return -ENOMEM;
      t->series = a;
      t->cap = cap;
    }
    s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->key = *k;
    s->hash = h;
    s->last_s = -1;
    t->series[t->len++] = s;
  }
  /* a report stamped in a second the ring already left behind counts in the newest one */
  if (now_s < s->last_s) now_s = s->last_s;
  advance(s, now_s);
  size_t i = slot(now_s);
  s->requests[i] = add32(s->requests[i], requests);
  for (int b = 0; b < LABTEL_BUCKETS; b++) s->duration[i][b] = add32(s->duration[i][b], duration[b]);
  return 0;
}

/* Whether second `sec` of s holds data written for that second. */
static int holds(const struct labtel_series *s, int64_t sec) {
  return sec >= 0 && s->last_s >= 0 && sec <= s->last_s && sec > s->last_s - LABTEL_SECONDS;
}

/* Whether q selects s; with any_reporter, whatever reporter q asks for. */
static int matches(const struct labtel_series *s, const struct labtel_query *q, bool any_reporter) {
  if (!any_reporter && q->reporter >= 0 && (int)s->key.reporter != q->reporter) return 0;
  if (q->destination_service && *q->destination_service && strcmp(s->key.service, q->destination_service) != 0)
    return 0;
  if (q->source_workload && *q->source_workload && strcmp(s->key.source_workload, q->source_workload) != 0) return 0;
  return 1;
}

static int64_t window_of(const struct labtel_query *q) {
  return q->window_s < 1 ? 1 : q->window_s > LABTEL_SECONDS ? LABTEL_SECONDS : q->window_s;
}

/* Requests (and the merged histogram, when h is not NULL) of s in the window ending at now_s. */
static uint64_t sum_window(const struct labtel_series *s, int64_t now_s, int64_t w, struct histogram *h) {
  uint64_t n = 0;
  for (int64_t sec = now_s - w + 1; sec <= now_s; sec++) {
    if (!holds(s, sec)) continue;
    size_t i = slot(sec);
    n += s->requests[i];
    if (!h) continue;
    for (int b = 0; b < STATS_NBUCKETS; b++) h->buckets[b] += s->duration[i][b];
  }
  return n;
}

void labtel_query(const struct labtel *t, int64_t now_s, const struct labtel_query *q, struct labtel_summary *out) {
  memset(out, 0, sizeof *out);
  int64_t w = window_of(q);
  for (size_t i = 0; i < t->len; i++) {
    const struct labtel_series *s = t->series[i];
    bool counted = matches(s, q, false);
    bool carried =
        s->key.reporter == REPORTER_DESTINATION && s->key.security != LABTEL_SECURITY_UNKNOWN && matches(s, q, true);
    if (!counted && !carried) continue;
    uint64_t n = sum_window(s, now_s, w, counted ? &out->duration : NULL);
    if (!n) continue;
    if (carried && s->key.security == LABTEL_SECURITY_MUTUAL_TLS) out->mutual_tls += n;
    else if (carried) out->plaintext += n;
    if (!counted) continue;
    out->requests += n;
    if (s->key.code < 500) out->non_5xx += n; /* code 0 (no response) counts as a failure below */
    if (s->key.code == 0) out->non_5xx -= n;
    size_t k;
    for (k = 0; k < out->nversions && strcmp(out->versions[k].version, s->key.destination_version) != 0; k++) {
    }
    if (k == out->nversions && k < LABTEL_MAX_GROUPS) {
      _Static_assert(sizeof out->versions[k].version == sizeof s->key.destination_version, "same size");
      memcpy(out->versions[k].version, s->key.destination_version, sizeof out->versions[k].version);
      out->nversions++;
    }
    if (k < out->nversions) out->versions[k].n += n;
    for (k = 0; k < out->ncodes && out->codes[k].code != s->key.code; k++) {
    }
    if (k == out->ncodes && k < LABTEL_MAX_GROUPS) out->codes[out->ncodes++].code = s->key.code;
    if (k < out->ncodes) out->codes[k].n += n;
    for (k = 0; k < out->nflags && out->flags[k].flags != s->key.flags; k++) {
    }
    if (k == out->nflags && k < LABTEL_MAX_GROUPS) out->flags[out->nflags++].flags = s->key.flags;
    if (k < out->nflags) out->flags[k].n += n;
  }
  /* stats.h's histogram keeps the overflow only in count */
  out->duration.count = out->requests;
  out->rps = (double)out->requests / (double)w;
  out->success_ratio = out->requests ? (double)out->non_5xx / (double)out->requests : -1;
  out->p50 = histogram_quantile(&out->duration, 0.50);
  out->p90 = histogram_quantile(&out->duration, 0.90);
  out->p99 = histogram_quantile(&out->duration, 0.99);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

size_t labtel_services(const struct labtel *t, int64_t now_s, const struct labtel_query *q, const char **out,
                       size_t max) {
  size_t n = 0;
  int64_t w = window_of(q);
  for (size_t i = 0; i < t->len; i++) {
    const struct labtel_series *s = t->series[i];
    if (!matches(s, q, false) || !sum_window(s, now_s, w, NULL)) continue;
    size_t k;
    for (k = 0; k < n && strcmp(out[k], s->key.service) != 0; k++) {
    }
    if (k == n && n < max) out[n++] = s->key.service;
  }
  qsort(out, n, sizeof *out, cmp_str);
  return n;
}

uint64_t labtel_requests_at(const struct labtel *t, int64_t sec, int reporter, uint64_t *errors_5xx) {
  uint64_t n = 0, e = 0;
  for (size_t i = 0; i < t->len; i++) {
    const struct labtel_series *s = t->series[i];
    if ((reporter >= 0 && (int)s->key.reporter != reporter) || !holds(s, sec)) continue;
    n += s->requests[slot(sec)];
    if (s->key.code >= 500 || s->key.code == 0) e += s->requests[slot(sec)];
  }
  if (errors_5xx) *errors_5xx = e;
  return n;
}

void labtel_expire(struct labtel *t, int64_t now_s) {
  size_t k = 0;
  for (size_t i = 0; i < t->len; i++) {
    struct labtel_series *s = t->series[i];
    if (s->last_s <= now_s - LABTEL_SECONDS) free(s);
    else t->series[k++] = s;
  }
  t->len = k;
}

int labtel_log_add(struct labtel *t, const char *node, const struct telemetry_sample *s) {
  if (!t->log && !(t->log = calloc(LABTEL_LOG, sizeof *t->log))) return -ENOMEM;
  struct labtel_record *r = &t->log[t->log_next];
  size_t n = strlen(node);
  if (n >= sizeof r->node) n = sizeof r->node - 1;
  memcpy(r->node, node, n);
  r->node[n] = '\0';
  r->s = *s;
  t->log_next = (t->log_next + 1) % LABTEL_LOG;
  if (t->log_len < LABTEL_LOG) t->log_len++;
  return 0;
}

const struct labtel_record *labtel_log_get(const struct labtel *t, size_t i) {
  if (i >= t->log_len) return NULL;
  return &t->log[(t->log_next + LABTEL_LOG - 1 - i) % LABTEL_LOG];
}
