/* The dashboard's model: parsing the lab's answers into plain structs. See model.h; what the
 * keys do to it is model_keys.c. Pure: every input arrives as text, the time with
 * dash_model_set_now. */
#include "tui/model.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/flags.h"

/* Copies src into dst of n bytes, cut to fit (names and messages are shown, never parsed again). */
static void copy(char *dst, size_t n, const char *src) {
  if (!n) return;
  size_t len = src ? strnlen(src, n - 1) : 0;
  if (len) memcpy(dst, src, len);
  dst[len] = '\0';
}

static const char *str_of(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static double num_of(const json_t *o, const char *key, double dflt) {
  const json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : dflt;
}

static uint64_t u64_of(const json_t *o, const char *key) {
  double d = num_of(o, key, 0);
  return d > 0 ? (uint64_t)d : 0;
}

void dash_model_init(struct dash_model *m) {
  memset(m, 0, sizeof *m);
  m->view = DASH_VIEW_TOPOLOGY;
}

void dash_model_set_now(struct dash_model *m, int64_t now_ms) { m->now_ms = now_ms; }

void dash_model_set_lab(struct dash_model *m, bool up, const char *note) {
  m->lab_down = !up;
  copy(m->lab_note, sizeof m->lab_note, note);
  if (up) m->updated_ms = m->now_ms;
}

void dash_short_service(const char *fqdn, char *out, size_t n) {
  char tmp[192];
  copy(tmp, sizeof tmp, fqdn);
  char *suffix = strstr(tmp, ".svc.cluster.local");
  if (suffix && suffix[strlen(".svc.cluster.local")] == '\0') {
    *suffix = '\0';
    char *dot = strchr(tmp, '.');
    if (dot && strcmp(dot, ".default") == 0) *dot = '\0';
  }
  copy(out, n, tmp);
}

enum dash_health dash_health_of(double success, double rps) {
  if (success < 0 || rps <= 0) return DASH_HEALTH_IDLE;
  if (success >= 0.995) return DASH_HEALTH_OK;
  if (success >= 0.95) return DASH_HEALTH_WARN;
  return DASH_HEALTH_BAD;
}

char dash_health_glyph(enum dash_health h) {
  switch (h) {
  case DASH_HEALTH_IDLE:
    return '.';
  case DASH_HEALTH_OK:
    return '+';
  case DASH_HEALTH_WARN:
    return '~';
  case DASH_HEALTH_BAD:
    return 'x';
  }
  return '?';
}

static json_t *parse(const char *text, size_t len) {
  if (!text) return NULL;
  return json_loadb(text, len, JSON_DECODE_ANY, NULL);
}

/* ---- status ---- */

int dash_model_feed_status(struct dash_model *m, const char *text, size_t len) {
  json_t *root = parse(text, len);
  json_t *reps = json_object_get(root, "replicas");
  if (!json_is_array(reps)) {
    json_decref(root);
    return -EINVAL;
  }
  m->nreplicas = 0;
  size_t i;
  json_t *r;
  json_array_foreach(reps, i, r) {
    if (m->nreplicas == DASH_MAX_REPLICAS) break;
    struct dash_replica *d = &m->replicas[m->nreplicas++];
    copy(d->name, sizeof d->name, str_of(r, "name"));
    copy(d->workload, sizeof d->workload, str_of(r, "workload"));
    copy(d->app, sizeof d->app, str_of(r, "app"));
    copy(d->sidecar, sizeof d->sidecar, str_of(r, "sidecar"));
    copy(d->address, sizeof d->address, str_of(r, "address"));
  }
  json_decref(root);
  return 0;
}

/* ---- metrics: services and their versions ---- */

/* The configured weight of version v of service s (short name), or -1. */
static double weight_of(const struct dash_model *m, const char *service, const char *version) {
  for (size_t i = 0; i < m->nweights; i++)
    if (strcmp(m->weights[i].service, service) == 0 && strcmp(m->weights[i].version, version) == 0)
      return m->weights[i].weight;
  return -1;
}

static bool has_weights(const struct dash_model *m, const char *service) {
  for (size_t i = 0; i < m->nweights; i++)
    if (strcmp(m->weights[i].service, service) == 0) return true;
  return false;
}

/* Flag counts of a summary: "UO 3,URX 1" into out, and the UO/UH/URX totals. */
static void flag_counts(const json_t *o, char *out, size_t n, uint64_t *uo, uint64_t *uh, uint64_t *urx) {
  const json_t *flags = json_object_get(o, "by_response_flags");
  const char *key;
  const json_t *v;
  size_t used = 0;
  out[0] = '\0';
  json_object_foreach((json_t *)flags, key, v) {
    if (strcmp(key, "-") == 0) continue;
    uint64_t c = (uint64_t)json_integer_value(v);
    if (used < n)
      used += (size_t)snprintf(out + used, n - used, "%s%s %llu", used ? " " : "", key, (unsigned long long)c);
    /* a combined set ("UF,URX") counts for each of its flags */
    char set[64];
    copy(set, sizeof set, key);
    for (char *tok = strtok(set, ","); tok; tok = strtok(NULL, ",")) {
      if (strcmp(tok, "UO") == 0 && uo) *uo += c;
      if (strcmp(tok, "UH") == 0 && uh) *uh += c;
      if (strcmp(tok, "URX") == 0 && urx) *urx += c;
    }
  }
  if (used >= n && n > 4) strcpy(out + n - 4, "...");
}

static int version_cmp(const void *a, const void *b) {
  return strcmp(((const struct dash_version *)a)->name, ((const struct dash_version *)b)->name);
}

static void fill_versions(struct dash_model *m, struct dash_service *s, const json_t *share) {
  s->nversions = 0;
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)share, key, v) {
    if (s->nversions == DASH_MAX_VERSIONS) break;
    struct dash_version *d = &s->versions[s->nversions++];
    copy(d->name, sizeof d->name, key);
    d->observed = json_number_value(v);
    d->weight = weight_of(m, s->name, key);
  }
  /* configured versions that took nothing still show, at 0 % observed */
  for (size_t i = 0; i < m->nweights && s->nversions < DASH_MAX_VERSIONS; i++) {
    if (strcmp(m->weights[i].service, s->name) != 0) continue;
    bool seen = false;
    for (size_t j = 0; j < s->nversions; j++) seen = seen || strcmp(s->versions[j].name, m->weights[i].version) == 0;
    if (seen) continue;
    struct dash_version *d = &s->versions[s->nversions++];
    copy(d->name, sizeof d->name, m->weights[i].version);
    d->observed = 0;
    d->weight = m->weights[i].weight;
  }
  if (!has_weights(m, s->name))
    for (size_t j = 0; j < s->nversions; j++) s->versions[j].weight = -1;
  qsort(s->versions, s->nversions, sizeof s->versions[0], version_cmp);
}

static void summary(struct dash_model *m, struct dash_service *s, const json_t *o) {
  copy(s->fqdn, sizeof s->fqdn, str_of(o, "destination_service"));
  dash_short_service(s->fqdn, s->name, sizeof s->name);
  s->external = !strstr(s->fqdn, ".svc.cluster.local");
  s->rps = num_of(o, "rate_rps", 0);
  s->success = num_of(o, "success_ratio", -1);
  const json_t *lat = json_object_get(o, "latency_ms");
  s->p50 = num_of(lat, "p50", 0);
  s->p99 = num_of(lat, "p99", 0);
  fill_versions(m, s, json_object_get(o, "share_by_destination_version"));
  flag_counts(o, s->flags, sizeof s->flags, NULL, NULL, NULL);
}

int dash_model_feed_metrics(struct dash_model *m, const char *text, size_t len) {
  json_t *root = parse(text, len);
  json_t *svcs = json_object_get(root, "services");
  if (!json_is_array(svcs)) {
    json_decref(root);
    return -EINVAL;
  }
  m->nservices = 0;
  size_t i;
  json_t *o;
  json_array_foreach(svcs, i, o) {
    if (m->nservices == DASH_MAX_SERVICES) break;
    summary(m, &m->services[m->nservices++], o);
  }
  json_decref(root);
  return 0;
}

int dash_model_feed_served(struct dash_model *m, const char *text, size_t len) {
  json_t *root = parse(text, len);
  json_t *svcs = json_object_get(root, "services");
  if (!json_is_array(svcs)) {
    json_decref(root);
    return -EINVAL;
  }
  m->nserved = 0;
  size_t i;
  json_t *o;
  json_array_foreach(svcs, i, o) {
    if (m->nserved == DASH_MAX_SERVICES) break;
    struct dash_served *s = &m->served[m->nserved++];
    copy(s->fqdn, sizeof s->fqdn, str_of(o, "destination_service"));
    s->rps = num_of(o, "rate_rps", 0);
    s->success = num_of(o, "success_ratio", -1);
    s->p99 = num_of(json_object_get(o, "latency_ms"), "p99", 0);
  }
  json_decref(root);
  return 0;
}

const struct dash_served *dash_model_served(const struct dash_model *m, const char *fqdn) {
  for (size_t i = 0; i < m->nserved; i++)
    if (strcmp(m->served[i].fqdn, fqdn) == 0) return &m->served[i];
  return NULL;
}

/* Edges in a stable order whatever order the answers came in: the ingress's first (where
 * requests enter), then by caller and callee. */
static int edge_cmp(const void *pa, const void *pb) {
  const struct dash_edge *a = pa, *b = pb;
  bool ia = strcmp(a->source, "istio-ingressgateway") == 0, ib = strcmp(b->source, "istio-ingressgateway") == 0;
  if (ia != ib) return ia ? -1 : 1;
  int c = strcmp(a->source, b->source);
  return c ? c : strcmp(a->dest, b->dest);
}

int dash_model_feed_edges(struct dash_model *m, const char *source, const char *text, size_t len) {
  json_t *root = parse(text, len);
  json_t *svcs = json_object_get(root, "services");
  if (!json_is_array(svcs)) {
    json_decref(root);
    return -EINVAL;
  }
  /* drop this source's edges, keep the others in their order */
  size_t keep = 0;
  for (size_t e = 0; e < m->nedges; e++)
    if (strcmp(m->edges[e].source, source) != 0) m->edges[keep++] = m->edges[e];
  m->nedges = keep;
  size_t i;
  json_t *o;
  json_array_foreach(svcs, i, o) {
    if (m->nedges == DASH_MAX_EDGES) break;
    struct dash_edge *e = &m->edges[m->nedges++];
    memset(e, 0, sizeof *e);
    copy(e->source, sizeof e->source, source);
    dash_short_service(str_of(o, "destination_service"), e->dest, sizeof e->dest);
    e->rps = num_of(o, "rate_rps", 0);
    e->success = num_of(o, "success_ratio", -1);
    e->p99 = num_of(json_object_get(o, "latency_ms"), "p99", 0);
    char tmp[96];
    flag_counts(o, tmp, sizeof tmp, &e->uo, &e->uh, &e->urx);
    /* once mTLS lands the lab says how a call was carried (Istio's connection_security_policy) */
    e->mtls = strcmp(str_of(o, "connection_security_policy"), "mutual_tls") == 0;
  }
  qsort(m->edges, m->nedges, sizeof m->edges[0], edge_cmp);
  json_decref(root);
  return 0;
}

/* ---- requests ---- */

int dash_model_feed_requests(struct dash_model *m, const char *text, size_t len) {
  json_t *root = parse(text, len);
  if (!json_is_array(root)) {
    json_decref(root);
    return -EINVAL;
  }
  size_t n = json_array_size(root), skip = n > DASH_MAX_REQUESTS ? n - DASH_MAX_REQUESTS : 0;
  m->nrequests = 0;
  for (size_t i = skip; i < n; i++) {
    const json_t *o = json_array_get(root, i);
    /* one line per request: the caller's record, or the callee's when no sidecar called */
    if (strcmp(str_of(o, "reporter"), "destination") == 0 && strcmp(str_of(o, "source_workload"), "unknown") != 0 &&
        *str_of(o, "source_workload"))
      continue;
    struct dash_request *r = &m->requests[m->nrequests++];
    memset(r, 0, sizeof *r);
    copy(r->id, sizeof r->id, str_of(o, "request_id"));
    r->time_ms = (int64_t)num_of(o, "time_ms", 0);
    copy(r->method, sizeof r->method, str_of(o, "method"));
    copy(r->path, sizeof r->path, str_of(o, "path"));
    copy(r->authority, sizeof r->authority, str_of(o, "authority"));
    r->code = (int)num_of(o, "response_code", 0);
    const json_t *fl = json_object_get(o, "response_flags");
    if (json_is_string(fl)) copy(r->flags, sizeof r->flags, json_string_value(fl));
    else flags_format((uint32_t)json_integer_value(fl), r->flags, sizeof r->flags);
    r->duration_ms = num_of(o, "duration_ms", 0);
    copy(r->upstream, sizeof r->upstream, str_of(o, "upstream_host"));
    copy(r->source, sizeof r->source, str_of(o, "source_workload"));
    dash_short_service(str_of(o, "destination_service"), r->dest, sizeof r->dest);
    copy(r->reporter, sizeof r->reporter, str_of(o, "reporter"));
  }
  json_decref(root);
  /* new requests arrive above: the selected one keeps its place under the presenter's eyes */
  if (m->selected_id[0]) {
    size_t idx[DASH_MAX_REQUESTS];
    size_t rows = dash_model_filtered(m, idx, DASH_MAX_REQUESTS);
    for (size_t i = 0; i < rows; i++)
      if (strcmp(m->requests[idx[i]].id, m->selected_id) == 0) m->selected = (int)i;
  }
  return 0;
}

void dash_request_line(const struct dash_request *r, char *out, size_t n) {
  time_t secs = (time_t)(r->time_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, n, "%02d:%02d:%02d.%03d \"%s %s\" %d %s %.0fms %s > %s %s %s", tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(r->time_ms % 1000), r->method, r->path, r->code, r->flags[0] ? r->flags : "-", r->duration_ms,
           !r->source[0]                                    ? "unknown"
           : strcmp(r->source, "istio-ingressgateway") == 0 ? "ingress"
                                                            : r->source,
           r->dest, r->upstream[0] ? r->upstream : "-", r->id);
}

static bool contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  if (!n) return true;
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0) return true;
  return false;
}

size_t dash_model_filtered(const struct dash_model *m, size_t *idx, size_t max) {
  size_t k = 0;
  for (size_t i = m->nrequests; i-- > 0 && k < max;) {
    char line[512];
    dash_request_line(&m->requests[i], line, sizeof line);
    if (contains_nocase(line, m->filter)) idx[k++] = i;
  }
  return k;
}

/* ---- clusters: breakers and outlier detection per caller ---- */

static void caller_of(const char *node, char *out, size_t n) {
  const char *slash = strchr(node, '/');
  copy(out, n, slash ? slash + 1 : node);
}

/* Removes the clusters (and their hosts) of caller; NULL removes all. */
static void drop_caller(struct dash_model *m, const char *caller) {
  struct dash_host hosts[DASH_MAX_HOSTS];
  size_t nh = 0, keep = 0;
  for (size_t c = 0; c < m->nclusters; c++) {
    struct dash_cluster cl = m->clusters[c];
    if (!caller || strcmp(cl.caller, caller) == 0) continue;
    size_t first = nh;
    for (size_t h = 0; h < cl.nhosts; h++) hosts[nh++] = m->hosts[cl.first_host + h];
    cl.first_host = first;
    m->clusters[keep++] = cl;
  }
  memcpy(m->hosts, hosts, nh * sizeof hosts[0]);
  m->nhosts = nh;
  m->nclusters = keep;
}

static const char *replica_at(const struct dash_model *m, const char *address) {
  char ip[64];
  copy(ip, sizeof ip, address);
  char *colon = strrchr(ip, ':');
  if (colon) *colon = '\0';
  for (size_t i = 0; i < m->nreplicas; i++)
    if (m->replicas[i].address[0] && strcmp(m->replicas[i].address, ip) == 0) return m->replicas[i].name;
  return "";
}

static void service_of_cluster(const char *name, char *out, size_t n) {
  const char *bar = strrchr(name, '|');
  dash_short_service(bar ? bar + 1 : name, out, n);
}

static struct dash_cluster *new_cluster(struct dash_model *m, const char *caller, const char *name) {
  if (m->nclusters == DASH_MAX_CLUSTERS) return NULL;
  struct dash_cluster *c = &m->clusters[m->nclusters++];
  memset(c, 0, sizeof *c);
  copy(c->caller, sizeof c->caller, caller);
  copy(c->name, sizeof c->name, name);
  service_of_cluster(name, c->service, sizeof c->service);
  c->first_host = m->nhosts;
  return c;
}

/* Adds a host at the end of c's hosts (the hosts of a cluster are contiguous, so the hosts of
 * the clusters after it move up one). */
static struct dash_host *new_host(struct dash_model *m, struct dash_cluster *c, const char *address) {
  if (m->nhosts == DASH_MAX_HOSTS) return NULL;
  size_t at = c->first_host + c->nhosts;
  memmove(&m->hosts[at + 1], &m->hosts[at], (m->nhosts - at) * sizeof m->hosts[0]);
  for (size_t k = 0; k < m->nclusters; k++)
    if (&m->clusters[k] != c && m->clusters[k].first_host >= at) m->clusters[k].first_host++;
  m->nhosts++;
  c->nhosts++;
  struct dash_host *h = &m->hosts[at];
  memset(h, 0, sizeof *h);
  copy(h->address, sizeof h->address, address);
  copy(h->health, sizeof h->health, "healthy");
  return h;
}

/* Clusters by caller, then name, whatever order the sidecars answered in (hosts stay put:
 * clusters find theirs by first_host). */
static int cluster_cmp(const void *pa, const void *pb) {
  const struct dash_cluster *a = pa, *b = pb;
  int c = strcmp(a->caller, b->caller);
  return c ? c : strcmp(a->name, b->name);
}

static void sort_clusters(struct dash_model *m) {
  qsort(m->clusters, m->nclusters, sizeof m->clusters[0], cluster_cmp);
}

static bool outbound(const char *name) { return strncmp(name, "outbound|", 9) == 0; }

int dash_model_feed_clusters(struct dash_model *m, const char *text, size_t len) {
  json_t *root = parse(text, len);
  json_t *callers = json_object_get(root, "callers");
  if (!json_is_array(callers)) {
    json_decref(root);
    return -EINVAL;
  }
  drop_caller(m, NULL);
  size_t i, j, k;
  json_t *co, *cl, *ho;
  json_array_foreach(callers, i, co) {
    char caller[96];
    caller_of(str_of(co, "node"), caller, sizeof caller);
    json_array_foreach(json_object_get(co, "clusters"), j, cl) {
      const char *name = str_of(cl, "name");
      if (!outbound(name)) continue;
      struct dash_cluster *c = new_cluster(m, caller, name);
      if (!c) break;
      const json_t *lim = json_object_get(cl, "limits");
      c->max_connections = u64_of(lim, "max_connections");
      c->max_pending = u64_of(lim, "max_pending_requests");
      c->max_requests = u64_of(lim, "max_requests");
      c->max_retries = u64_of(lim, "max_retries");
      c->cx_active = u64_of(cl, "cx_active");
      c->rq_pending_active = u64_of(cl, "rq_pending_active");
      c->rq_active = u64_of(cl, "rq_active");
      c->pending_overflow = u64_of(cl, "upstream_rq_pending_overflow");
      c->cx_overflow = u64_of(cl, "upstream_cx_overflow");
      c->retry_overflow = u64_of(cl, "upstream_rq_retry_overflow");
      const json_t *od = json_object_get(cl, "outlier");
      c->outlier = json_is_true(json_object_get(od, "enabled"));
      c->threshold = (unsigned)u64_of(od, "consecutive_5xx");
      c->max_ejection_percent = (unsigned)u64_of(od, "max_ejection_percent");
      json_array_foreach(json_object_get(cl, "hosts"), k, ho) {
        struct dash_host *h = new_host(m, c, str_of(ho, "address"));
        if (!h) break;
        copy(h->replica, sizeof h->replica, str_of(ho, "replica"));
        if (!h->replica[0]) copy(h->replica, sizeof h->replica, replica_at(m, h->address));
        copy(h->health, sizeof h->health, str_of(ho, "health"));
        h->ejected = json_is_true(json_object_get(ho, "ejected"));
        h->ejection_until_ms = h->ejected ? m->now_ms + (int64_t)num_of(ho, "ejection_remaining_ms", 0) : 0;
        h->times_ejected = u64_of(ho, "times_ejected");
        h->consecutive_5xx = (unsigned)u64_of(ho, "consecutive_5xx");
        h->rq_active = u64_of(ho, "rq_active");
        h->cx_active = u64_of(ho, "cx_active");
        h->rq_total = u64_of(ho, "rq_total");
        h->rq_error = u64_of(ho, "rq_error");
      }
    }
  }
  sort_clusters(m);
  json_decref(root);
  return 0;
}

/* One admin /clusters line: name::a::b::value or name::a::value. */
int dash_model_feed_admin_clusters(struct dash_model *m, const char *caller, const char *text, size_t len) {
  drop_caller(m, caller);
  struct dash_cluster *c = NULL;
  struct dash_host *h = NULL;
  const char *end = text + len;
  while (text < end) {
    const char *nl = memchr(text, '\n', (size_t)(end - text));
    size_t n = nl ? (size_t)(nl - text) : (size_t)(end - text);
    char line[512];
    copy(line, sizeof line, "");
    if (n < sizeof line) {
      memcpy(line, text, n);
      line[n] = '\0';
    }
    text += n + 1;
    char *part[5];
    int np = 0;
    char *p = line;
    while (np < 5) {
      part[np++] = p;
      char *sep = strstr(p, "::");
      if (!sep) break;
      *sep = '\0';
      p = sep + 2;
    }
    if (np < 3 || !outbound(part[0])) continue;
    if (!c || strcmp(c->name, part[0]) != 0) {
      c = new_cluster(m, caller, part[0]);
      h = NULL;
      if (!c) break;
    }
    const char *a = part[1], *value = part[np - 1];
    uint64_t v = strtoull(value, NULL, 10);
    if (np == 3) {
      if (strcmp(a, "upstream_rq_pending_overflow") == 0) c->pending_overflow = v;
      else if (strcmp(a, "upstream_cx_overflow") == 0) c->cx_overflow = v;
      else if (strcmp(a, "upstream_rq_retry_overflow") == 0) c->retry_overflow = v;
      continue;
    }
    const char *stat = part[2];
    if (strcmp(a, "default_priority") == 0) {
      if (strcmp(stat, "max_connections") == 0) c->max_connections = v;
      else if (strcmp(stat, "max_pending_requests") == 0) c->max_pending = v;
      else if (strcmp(stat, "max_requests") == 0) c->max_requests = v;
      else if (strcmp(stat, "max_retries") == 0) c->max_retries = v;
    } else if (strcmp(a, "circuit_breakers") == 0) {
      if (strcmp(stat, "cx_active") == 0) c->cx_active = v;
      else if (strcmp(stat, "rq_pending_active") == 0) c->rq_pending_active = v;
      else if (strcmp(stat, "rq_active") == 0) c->rq_active = v;
    } else if (strcmp(a, "outlier") == 0) {
      c->outlier = true;
      if (strcmp(stat, "consecutive_5xx_threshold") == 0) c->threshold = (unsigned)v;
      else if (strcmp(stat, "max_ejection_percent") == 0) c->max_ejection_percent = (unsigned)v;
    } else {
      if (!h || strcmp(h->address, a) != 0) {
        h = new_host(m, c, a);
        if (!h) continue;
        copy(h->replica, sizeof h->replica, replica_at(m, a));
      }
      if (strcmp(stat, "health_flags") == 0) copy(h->health, sizeof h->health, value);
      else if (strcmp(stat, "ejected") == 0) h->ejected = strcmp(value, "true") == 0;
      else if (strcmp(stat, "ejection_remaining_ms") == 0) h->ejection_until_ms = v ? m->now_ms + (int64_t)v : 0;
      else if (strcmp(stat, "times_ejected") == 0) h->times_ejected = v;
      else if (strcmp(stat, "consecutive_5xx") == 0) h->consecutive_5xx = (unsigned)v;
      else if (strcmp(stat, "rq_active") == 0) h->rq_active = v;
      else if (strcmp(stat, "cx_active") == 0) h->cx_active = v;
      else if (strcmp(stat, "rq_total") == 0) h->rq_total = v;
      else if (strcmp(stat, "rq_error") == 0) h->rq_error = v;
    }
  }
  sort_clusters(m);
  return 0;
}

/* ---- configured weights ---- */

/* The version label of subset `subset` of host `service` in the DestinationRules, or subset. */
static const char *subset_version(const json_t *drs, const char *service, const char *subset) {
  size_t i, j;
  const json_t *dr, *ss;
  json_array_foreach(json_object_get(drs, "items"), i, dr) {
    const json_t *spec = json_object_get(dr, "spec");
    char host[96];
    dash_short_service(str_of(spec, "host"), host, sizeof host);
    if (strcmp(host, service) != 0) continue;
    json_array_foreach(json_object_get(spec, "subsets"), j, ss) {
      if (strcmp(str_of(ss, "name"), subset) != 0) continue;
      const char *v = str_of(json_object_get(ss, "labels"), "version");
      if (*v) return v;
    }
  }
  return subset;
}

int dash_model_feed_routes(struct dash_model *m, const char *vs_json, size_t vs_len, const char *dr_json,
                           size_t dr_len) {
  json_t *vss = parse(vs_json, vs_len), *drs = parse(dr_json, dr_len);
  m->nweights = 0;
  size_t i, j, k;
  const json_t *vs, *rule, *route;
  json_array_foreach(json_object_get(vss, "items"), i, vs) {
    const json_t *http = json_object_get(json_object_get(vs, "spec"), "http");
    /* the catch-all rule (no match) is what most requests take; else the first */
    const json_t *chosen = json_array_get(http, 0);
    json_array_foreach(http, j, rule) if (!json_object_get(rule, "match")) chosen = rule;
    const json_t *routes = json_object_get(chosen, "route");
    if (json_array_size(routes) == 0) continue;
    double total = 0;
    json_array_foreach(routes, k, route) total += num_of(route, "weight", json_array_size(routes) == 1 ? 100 : 0);
    json_array_foreach(routes, k, route) {
      const json_t *dest = json_object_get(route, "destination");
      char service[96];
      dash_short_service(str_of(dest, "host"), service, sizeof service);
      const char *subset = str_of(dest, "subset");
      if (!*subset || m->nweights == DASH_MAX_WEIGHTS) continue;
      double w = num_of(route, "weight", json_array_size(routes) == 1 ? 100 : 0);
      copy(m->weights[m->nweights].service, sizeof m->weights[0].service, service);
      copy(m->weights[m->nweights].version, sizeof m->weights[0].version, subset_version(drs, service, subset));
      m->weights[m->nweights].weight = total > 0 ? w / total : 0;
      m->nweights++;
    }
  }
  json_decref(vss);
  json_decref(drs);
  for (size_t s = 0; s < m->nservices; s++)
    for (size_t v = 0; v < m->services[s].nversions; v++)
      m->services[s].versions[v].weight = weight_of(m, m->services[s].name, m->services[s].versions[v].name);
  return 0;
}

/* ---- traces, journal, lesson ---- */

void dash_model_set_trace(struct dash_model *m, const char *text, size_t len) {
  if (len >= sizeof m->trace) len = sizeof m->trace - 1;
  memcpy(m->trace, text, len);
  m->trace[len] = '\0';
  m->scroll = 0;
}

static void add_event(struct dash_model *m, double t, const char *text) {
  if (m->nevents == DASH_MAX_EVENTS) {
    memmove(m->events[0], m->events[1], (DASH_MAX_EVENTS - 1) * sizeof m->events[0]);
    m->nevents--;
  }
  char line[600];
  snprintf(line, sizeof line, "%7.1fs %s", t, text);
  copy(m->events[m->nevents++], sizeof m->events[0], line);
}

/* The cluster of caller named name in the model, made when missing (journal replay). */
static struct dash_cluster *journal_cluster(struct dash_model *m, const char *caller, const char *name) {
  for (size_t c = 0; c < m->nclusters; c++)
    if (strcmp(m->clusters[c].caller, caller) == 0 && strcmp(m->clusters[c].name, name) == 0) return &m->clusters[c];
  struct dash_cluster *c = new_cluster(m, caller, name);
  if (c) c->partial = true;
  return c;
}

int dash_model_feed_journal(struct dash_model *m, const char *line, size_t len) {
  json_t *o = parse(line, len);
  if (!json_is_object(o)) {
    json_decref(o);
    return -EINVAL;
  }
  double t = num_of(o, "t", 0);
  const char *ev = str_of(o, "event");
  char text[400], caller[96];
  caller_of(str_of(o, "replica"), caller, sizeof caller);
  if (strcmp(ev, "rate") == 0) {
    m->mesh_rps = num_of(o, "rps", 0);
    m->mesh_5xx = num_of(o, "errors_5xx", 0);
  } else if (strcmp(ev, "host_ejected") == 0 || strcmp(ev, "host_returned") == 0) {
    bool out = ev[5] == 'e';
    struct dash_cluster *c = journal_cluster(m, caller, str_of(o, "cluster"));
    struct dash_host *h = NULL;
    for (size_t i = 0; c && i < c->nhosts; i++)
      if (strcmp(m->hosts[c->first_host + i].address, str_of(o, "host")) == 0) h = &m->hosts[c->first_host + i];
    if (c && !h) h = new_host(m, c, str_of(o, "host"));
    if (h) {
      copy(h->replica, sizeof h->replica, str_of(o, "host_replica"));
      h->ejected = out;
      h->ejection_until_ms = out ? m->now_ms + (int64_t)num_of(o, "ejection_remaining_ms", 0) : 0;
      h->times_ejected = u64_of(o, "times_ejected");
      copy(h->health, sizeof h->health, out ? "/failed_outlier_check" : "healthy");
      if (c) c->outlier = true;
    }
    snprintf(text, sizeof text, "%s: %s %s %s", caller, out ? "ejected" : "returned", str_of(o, "host_replica"),
             str_of(o, "host"));
    add_event(m, t, text);
  } else if (strcmp(ev, "overflow") == 0) {
    struct dash_cluster *c = journal_cluster(m, caller, str_of(o, "cluster"));
    const char *counter = str_of(o, "counter");
    uint64_t v = u64_of(o, "value");
    if (c && strcmp(counter, "upstream_rq_pending_overflow") == 0) c->pending_overflow = v;
    else if (c && strcmp(counter, "upstream_cx_overflow") == 0) c->cx_overflow = v;
    else if (c && strcmp(counter, "upstream_rq_retry_overflow") == 0) c->retry_overflow = v;
    snprintf(text, sizeof text, "%s: overflow %s +%llu (UO) on %s", caller, counter,
             (unsigned long long)u64_of(o, "delta"), c ? c->service : "?");
    add_event(m, t, text);
  } else if (strcmp(ev, "log") == 0) {
    add_event(m, t, str_of(o, "message"));
  } else if (strcmp(ev, "apply") == 0 || strcmp(ev, "delete") == 0) {
    const json_t *objs = json_object_get(o, "objects");
    size_t i;
    const json_t *x;
    json_array_foreach(objs, i, x) add_event(m, t, json_string_value(x) ? json_string_value(x) : ev);
  } else if (strcmp(ev, "config_acked") != 0) {
    snprintf(text, sizeof text, "%s %s", ev, str_of(o, "replica"));
    add_event(m, t, text);
  }
  json_decref(o);
  return 0;
}

void dash_model_set_lesson(struct dash_model *m, const struct dash_lesson_view *v) {
  m->has_lesson = v != NULL;
  if (!v) return;
  copy(m->lesson.lesson_title, sizeof m->lesson.lesson_title, v->lesson_title);
  copy(m->lesson.step_title, sizeof m->lesson.step_title, v->step_title);
  copy(m->lesson.narration, sizeof m->lesson.narration, v->narration);
  copy(m->lesson.watch, sizeof m->lesson.watch, v->watch);
  copy(m->lesson.keys, sizeof m->lesson.keys, v->keys);
  m->lesson.step = v->step;
  m->lesson.steps = v->steps;
  m->lesson.paused = v->paused;
}
