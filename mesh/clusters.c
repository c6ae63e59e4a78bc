/* The cluster manager: see clusters.h. */
#include "mesh/clusters.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/hash.h"

void cluster_manager_init(struct cluster_manager *cm, struct conn_env *env, uint64_t *live_handles) {
  memset(cm, 0, sizeof *cm);
  cm->env = env;
  cm->live_handles = live_handles;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(struct cluster *const *)a)->name, (*(struct cluster *const *)b)->name);
}

struct cluster *cluster_manager_find(const struct cluster_manager *cm, const char *name) {
  size_t lo = 0, hi = cm->len;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(cm->items[mid]->name, name);
    if (c == 0) return cm->items[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static int endpoint_addr(const struct xds_endpoint *e, struct conn_addr *out) {
  char text[160];
  if (strncmp(e->address, "unix:", 5) == 0 || e->port == 0) snprintf(text, sizeof text, "%s", e->address);
  else if (strchr(e->address, ':')) snprintf(text, sizeof text, "[%s]:%u", e->address, e->port);
  else snprintf(text, sizeof text, "%s:%u", e->address, e->port);
  return conn_addr_parse(out, text);
}

static bool outlier_config_equal(const struct outlier_config *a, const struct outlier_config *b) {
  return a->enabled == b->enabled && a->consecutive_5xx == b->consecutive_5xx &&
         a->consecutive_gateway == b->consecutive_gateway &&
         a->consecutive_local_origin == b->consecutive_local_origin && a->split_local_origin == b->split_local_origin &&
         a->interval_ms == b->interval_ms && a->base_ejection_ms == b->base_ejection_ms &&
         a->max_ejection_ms == b->max_ejection_ms && a->max_ejection_percent == b->max_ejection_percent &&
         a->always_eject_one_host == b->always_eject_one_host;
}

/* A connection of up went back to the pool or closed: the owner may hand it to a waiter. */
static void on_host_capacity(struct upstream *up) {
  struct cluster_manager *cm = up->capacity_data;
  if (cm && cm->on_capacity && up->cluster) cm->on_capacity(cm, up);
}

static void retire_host(struct cluster_manager *cm, struct upstream *up) {
  /* Its cluster may be freed before its last connection closes: nothing reaches the cluster
   * through a retired host. */
  up->cluster = NULL;
  upstream_close_idle(up);
  if (cm->nretired_hosts == cm->retired_cap) {
    size_t cap = cm->retired_cap ? cm->retired_cap * 2 : 8;
    struct upstream **p = realloc(cm->retired_hosts, cap * sizeof *p);
    if (!p) return; /* kept by nobody: leaks one host rather than freeing it in use */
    cm->retired_hosts = p;
    cm->retired_cap = cap;
  }
  cm->retired_hosts[cm->nretired_hosts++] = up;
}

/* Sets c's hosts to the endpoints of x, keeping hosts whose address stays. */
static int reconcile_hosts(struct cluster_manager *cm, struct cluster *c, const struct xds_cluster *x) {
  struct upstream **hosts = calloc(x->endpoints_len ? x->endpoints_len : 1, sizeof *hosts);
  struct lb_host *lb_hosts = calloc(x->endpoints_len ? x->endpoints_len : 1, sizeof *lb_hosts);
  struct outlier_host *outlier = calloc(x->endpoints_len ? x->endpoints_len : 1, sizeof *outlier);
  const char **keys = calloc(x->endpoints_len ? x->endpoints_len : 1, sizeof *keys);
  if (!hosts || !lb_hosts || !outlier || !keys) {
    free(hosts);
    free(lb_hosts);
    free(outlier);
    free(keys);
    return -ENOMEM;
  }
  size_t n = 0;
  for (size_t i = 0; i < x->endpoints_len; i++) {
    struct conn_addr addr;
    if (endpoint_addr(&x->endpoints[i], &addr) != 0) continue; /* a DNS name: not reachable here */
    struct upstream *up = NULL;
    for (size_t k = 0; k < c->nhosts; k++) {
      if (c->hosts[k] && strcmp(c->hosts[k]->addr.text, addr.text) == 0) {
        up = c->hosts[k];
        c->hosts[k] = NULL; /* taken over, with its outlier state (the caller's memory of it) */
        if (!c->outlier_reset) outlier[n] = c->outlier[k];
        break;
      }
    }
    if (!up) {
      up = calloc(1, sizeof *up);
      if (!up) break;
      upstream_init(up, cm->env, &addr, cm->live_handles);
    }
    up->cluster = c;
    up->tls = x->direction == XDS_OUTBOUND && x->endpoints[i].tls != XDS_TLS_NONE;
    up->identity = cm->identity;
    snprintf(up->expected_id, sizeof up->expected_id, "%s",
             x->direction == XDS_OUTBOUND && x->endpoints[i].identity ? x->endpoints[i].identity : "");
    up->on_capacity = on_host_capacity;
    up->capacity_data = cm;
    /* The endpoint's namespace is its service's: "name.NS.svc.cluster.local". */
    char ns[64] = "";
    const char *dot = x->service ? strchr(x->service, '.') : NULL;
    if (dot) snprintf(ns, sizeof ns, "%.*s", (int)strcspn(dot + 1, "."), dot + 1);
    telemetry_peer_set(&up->peer, x->endpoints[i].workload, ns, resource_map_get(&x->endpoints[i].labels, "app"),
                       resource_map_get(&x->endpoints[i].labels, "version"));
    snprintf(up->replica, sizeof up->replica, "%s", x->endpoints[i].replica ? x->endpoints[i].replica : "");
    hosts[n] = up;
    lb_hosts[n].healthy = x->endpoints[i].healthy;
    lb_hosts[n].ejected = outlier[n].ejected;
    keys[n] = up->addr.text;
    n++;
  }
  for (size_t k = 0; k < c->nhosts; k++)
    if (c->hosts[k]) retire_host(cm, c->hosts[k]);
  free(c->hosts);
  free(c->lb_hosts);
  free(c->outlier);
  lb_free(&c->lb);
  c->hosts = hosts;
  c->lb_hosts = lb_hosts;
  c->outlier = outlier;
  c->nhosts = n;
  int rc = lb_init(&c->lb, &x->policy.load_balancer, keys, n);
  free(keys);
  return rc;
}

static void cluster_free(struct cluster *c) {
  free(c->service);
  lb_free(&c->lb);
  free(c->hosts);
  free(c->lb_hosts);
  free(c->outlier);
  free(c->name);
  free(c);
}

static void retire_cluster(struct cluster_manager *cm, struct cluster *c) {
  for (size_t k = 0; k < c->nhosts; k++) retire_host(cm, c->hosts[k]);
  c->nhosts = 0;
  c->retired = 1;
  c->next_retired = cm->retired;
  cm->retired = c;
}

int cluster_manager_apply(struct cluster_manager *cm, const struct proxy_config *cfg) {
  struct cluster **items = calloc(cfg->clusters_len ? cfg->clusters_len : 1, sizeof *items);
  if (!items) return -ENOMEM;
  size_t n = 0;
  int rc = 0;
  for (size_t i = 0; i < cfg->clusters_len; i++) {
    const struct xds_cluster *x = &cfg->clusters[i];
    struct cluster *c = cluster_manager_find(cm, x->name);
    if (c) {
      /* Taken over: mark it so the sweep below does not retire it. */
      c->retired = 0;
    } else {
      c = calloc(1, sizeof *c);
      if (!c || !(c->name = strdup(x->name))) {
        free(c);
        rc = -ENOMEM;
        break;
      }
      c->cm = cm;
    }
    c->direction = x->direction;
    free(c->service);
    c->service = x->service ? strdup(x->service) : NULL;
    /* Policy from the push; the live counts stay. Outlier detection and load balancing are
     * client-side only (Istio's applyTrafficPolicy); connection pools apply both ways. */
    breaker_limits_from_policy(&x->policy.connection_pool, &c->breaker.limits);
    struct outlier_config was = c->outlier_cfg;
    outlier_config_from_policy(x->direction == XDS_OUTBOUND ? &x->policy.outlier_detection : NULL, &c->outlier_cfg);
    /* A changed outlierDetection is a new detector, as Envoy builds a new cluster on such an
     * update: every host is back in with clean counts (a deleted rule must not leave hosts
     * ejected with nothing left to bring them back). */
    c->outlier_reset = !outlier_config_equal(&was, &c->outlier_cfg);
    bool had_ejected = c->outlier_reset && c->outlier_stats.ejections_active > 0;
    if (c->outlier_reset) memset(&c->outlier_stats, 0, sizeof c->outlier_stats);
    if (!c->outlier_cfg.enabled) c->next_sweep_ms = 0;
    else if (c->outlier_reset) c->next_sweep_ms = -1; /* set at the next sweep */
    if (reconcile_hosts(cm, c, x) != 0) rc = -ENOMEM;
    /* Hosts the reset brought back are news for the lab, as a return at a sweep is. */
    if (had_ejected && cm->on_outlier_change) cm->on_outlier_change(cm, c);
    items[n++] = c;
  }
  /* Old clusters not in the new set are retired. */
  for (size_t i = 0; i < cm->len; i++) {
    int kept = 0;
    for (size_t k = 0; k < n && !kept; k++) kept = items[k] == cm->items[i];
    if (!kept) retire_cluster(cm, cm->items[i]);
  }
  free(cm->items);
  qsort(items, n, sizeof *items, by_name);
  cm->items = items;
  cm->len = n;
  cluster_manager_collect(cm);
  return rc;
}

/* ---- PassthroughCluster -------------------------------------------------------------------- */

static struct cluster *passthrough_new(struct cluster_manager *cm) {
  struct cluster *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->name = strdup("PassthroughCluster");
  c->hosts = calloc(CLUSTER_PASSTHROUGH_MAX_HOSTS, sizeof *c->hosts);
  c->lb_hosts = calloc(CLUSTER_PASSTHROUGH_MAX_HOSTS, sizeof *c->lb_hosts);
  c->outlier = calloc(CLUSTER_PASSTHROUGH_MAX_HOSTS, sizeof *c->outlier);
  if (!c->name || !c->hosts || !c->lb_hosts || !c->outlier) {
    cluster_free(c);
    return NULL;
  }
  c->cm = cm;
  c->direction = XDS_OUTBOUND;
  /* Istio gives PassthroughCluster its default circuit breakers (2^32-1 everywhere) and no
   * outlier detection. */
  breaker_limits_from_policy(NULL, &c->breaker.limits);
  return c;
}

/* Drops host i of the passthrough cluster (the last one takes its slot). */
static void passthrough_drop(struct cluster_manager *cm, struct cluster *c, size_t i) {
  retire_host(cm, c->hosts[i]);
  c->nhosts--;
  c->hosts[i] = c->hosts[c->nhosts];
  c->lb_hosts[i] = c->lb_hosts[c->nhosts];
  c->hosts[c->nhosts] = NULL;
}

/* Envoy's ORIGINAL_DST cleanup: hosts no request has used for the idle interval go, their
 * pooled connections closed. Returns the index of the least recently used host nothing holds
 * now (the one to give up when the set is full), or -1. */
static int passthrough_sweep(struct cluster_manager *cm, struct cluster *c, int64_t now_ms) {
  int lru = -1;
  for (size_t i = 0; i < c->nhosts;) {
    struct upstream *h = c->hosts[i];
    if (h->refs == 0 && now_ms - h->used_ms >= CLUSTER_PASSTHROUGH_IDLE_MS) {
      passthrough_drop(cm, c, i);
      continue;
    }
    if (h->refs == 0 && (lru < 0 || h->used_ms < c->hosts[lru]->used_ms)) lru = (int)i;
    i++;
  }
  return lru;
}

int cluster_manager_passthrough(struct cluster_manager *cm, const struct conn_addr *addr, int64_t now_ms,
                                struct cluster **cp, struct upstream **upp) {
  if (!cm->passthrough && !(cm->passthrough = passthrough_new(cm))) return -ENOMEM;
  struct cluster *c = cm->passthrough;
  int lru = passthrough_sweep(cm, c, now_ms);
  struct upstream *up = NULL;
  for (size_t i = 0; i < c->nhosts && !up; i++)
    if (strcmp(c->hosts[i]->addr.text, addr->text) == 0) up = c->hosts[i];
  if (!up) {
    if (c->nhosts == CLUSTER_PASSTHROUGH_MAX_HOSTS) {
      if (lru < 0) return -EBUSY;
      passthrough_drop(cm, c, (size_t)lru);
    }
    if (!(up = calloc(1, sizeof *up))) return -ENOMEM;
    upstream_init(up, cm->env, addr, cm->live_handles);
    up->cluster = c;
    up->on_capacity = on_host_capacity;
    up->capacity_data = cm;
    c->lb_hosts[c->nhosts].healthy = true;
    c->hosts[c->nhosts++] = up;
  }
  up->used_ms = now_ms;
  up->refs++;
  c->refs++;
  *cp = c;
  *upp = up;
  return 0;
}

enum lb_verdict cluster_pick(struct cluster *c, const uint64_t *hash, struct rng *rng, struct upstream **out,
                             struct lb_pick *pick) {
  struct lb_pick local;
  if (!pick) pick = &local;
  /* PassthroughCluster has no balancer: its one destination is the request's own. */
  if (c->nhosts == 0 || (c->cm && c == c->cm->passthrough)) return LB_NO_HEALTHY;
  for (size_t i = 0; i < c->nhosts; i++) c->lb_hosts[i].active_requests = (uint32_t)c->hosts[i]->stats.rq_active;
  enum lb_verdict v = lb_pick(&c->lb, c->lb_hosts, hash, rng, pick);
  if (v != LB_PICKED) return v;
  *out = c->hosts[pick->index];
  (*out)->refs++;
  c->refs++;
  return v;
}

void cluster_release(struct cluster *c, struct upstream *up) {
  if (up) up->refs--;
  if (c) c->refs--;
}

int cluster_host_index(const struct cluster *c, const struct upstream *up) {
  for (size_t i = 0; i < c->nhosts; i++)
    if (c->hosts[i] == up) return (int)i;
  return -1;
}

uint32_t cluster_connections(const struct cluster *c) {
  uint64_t n = 0;
  for (size_t i = 0; i < c->nhosts; i++) n += c->hosts[i]->stats.cx_active;
  return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

uint32_t cluster_active_requests(const struct cluster *c) {
  uint64_t n = 0;
  for (size_t i = 0; i < c->nhosts; i++) n += c->hosts[i]->stats.rq_active;
  return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

void cluster_breaker_sync(struct cluster *c) {
  c->breaker.cx_active = cluster_connections(c);
  c->breaker.rq_active = cluster_active_requests(c);
}

size_t cluster_available_hosts(const struct cluster *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->nhosts; i++) n += c->lb_hosts[i].healthy && !c->lb_hosts[i].ejected;
  return n;
}

void cluster_wait(struct cluster *c, struct pool_waiter *w, struct upstream *up) {
  w->up = up;
  w->next = NULL;
  w->prev = c->waiters_tail;
  if (c->waiters_tail) c->waiters_tail->next = w;
  else c->waiters = w;
  c->waiters_tail = w;
  w->queued = true;
  c->breaker.rq_pending++;
}

void cluster_unwait(struct cluster *c, struct pool_waiter *w) {
  if (!w->queued) return;
  if (w->prev) w->prev->next = w->next;
  else c->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  else c->waiters_tail = w->prev;
  w->next = w->prev = NULL;
  w->queued = false;
  c->breaker.rq_pending--;
}

enum outlier_verdict cluster_outlier_report(struct cluster *c, struct upstream *up, enum outlier_result_kind kind,
                                            int status, int64_t now_ms) {
  if (!c->outlier_cfg.enabled) return OUTLIER_NONE;
  int i = cluster_host_index(c, up);
  if (i < 0) return OUTLIER_NONE;
  enum outlier_verdict v =
      outlier_report(&c->outlier_cfg, c->outlier, c->nhosts, (size_t)i, kind, status, now_ms, &c->outlier_stats);
  c->lb_hosts[i].ejected = c->outlier[i].ejected;
  if (v == OUTLIER_EJECTED && c->cm && c->cm->on_outlier_change) c->cm->on_outlier_change(c->cm, c);
  return v;
}

/* FNV-1a over 64-bit words: a change in any of them changes the mark. */
static uint64_t mix(uint64_t h, uint64_t v) { return fnv1a(h, &v, sizeof v); }

uint64_t cluster_change_mark(const struct cluster *c) {
  const struct breaker *b = &c->breaker;
  const struct outlier_stats *os = &c->outlier_stats;
  uint64_t h = FNV1A_OFFSET, used = b->rq_pending | b->cx_overflow | b->rq_pending_overflow | b->rq_retry_overflow |
                                    os->ejections_total | os->ejections_overflow;
  h = mix(h, b->rq_pending);
  h = mix(h, b->rq_retry_active);
  h = mix(h, b->cx_overflow);
  h = mix(h, b->rq_pending_overflow);
  h = mix(h, b->rq_retry_overflow);
  h = mix(h, os->ejections_total);
  h = mix(h, os->ejections_active);
  h = mix(h, os->ejections_overflow);
  for (size_t i = 0; i < c->nhosts; i++) {
    const struct upstream_stats *s = &c->hosts[i]->stats;
    h = mix(h, s->rq_total);
    h = mix(h, s->rq_error);
    h = mix(h, s->rq_active);
    h = mix(h, s->cx_total);
    h = mix(h, s->cx_active);
    h = mix(h, (uint64_t)c->lb_hosts[i].healthy << 1 | (uint64_t)c->lb_hosts[i].ejected);
    used |= s->rq_total | s->cx_total;
  }
  /* 0 for a cluster nothing has used yet, the mark it starts with: a sidecar reports only the
   * clusters its traffic touched, not the whole mesh it knows of */
  if (!used) return 0;
  return h ? h : 1;
}

size_t cluster_ejected_hosts(const struct cluster *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->nhosts; i++) n += c->outlier && c->outlier[i].ejected;
  return n;
}

int64_t cluster_manager_sweep(struct cluster_manager *cm, int64_t now_ms) {
  int64_t next = 0;
  for (size_t i = 0; i < cm->len; i++) {
    struct cluster *c = cm->items[i];
    if (!c->outlier_cfg.enabled) continue;
    if (c->next_sweep_ms < 0) c->next_sweep_ms = now_ms + c->outlier_cfg.interval_ms;
    if (now_ms >= c->next_sweep_ms) {
      size_t back = outlier_tick(&c->outlier_cfg, c->outlier, c->nhosts, now_ms, &c->outlier_stats);
      for (size_t k = 0; k < c->nhosts; k++) c->lb_hosts[k].ejected = c->outlier[k].ejected;
      if (back && cm->on_outlier_change) cm->on_outlier_change(cm, c);
      c->next_sweep_ms = now_ms + c->outlier_cfg.interval_ms;
    }
    if (!next || c->next_sweep_ms < next) next = c->next_sweep_ms;
  }
  return next;
}

void cluster_manager_collect(struct cluster_manager *cm) {
  size_t k = 0;
  for (size_t i = 0; i < cm->nretired_hosts; i++) {
    struct upstream *up = cm->retired_hosts[i];
    if (up->refs == 0 && up->stats.cx_active == 0) free(up);
    else cm->retired_hosts[k++] = up;
  }
  cm->nretired_hosts = k;
  struct cluster **link = &cm->retired;
  while (*link) {
    struct cluster *c = *link;
    if (c->refs == 0) {
      *link = c->next_retired;
      cluster_free(c);
    } else {
      link = &c->next_retired;
    }
  }
}

void cluster_manager_close_idle(struct cluster_manager *cm) {
  for (size_t i = 0; i < cm->len; i++)
    for (size_t k = 0; k < cm->items[i]->nhosts; k++) upstream_close_idle(cm->items[i]->hosts[k]);
  if (cm->passthrough)
    for (size_t k = 0; k < cm->passthrough->nhosts; k++) upstream_close_idle(cm->passthrough->hosts[k]);
  for (size_t i = 0; i < cm->nretired_hosts; i++) upstream_close_idle(cm->retired_hosts[i]);
}

void cluster_manager_free(struct cluster_manager *cm) {
  for (size_t i = 0; i < cm->len; i++) {
    for (size_t k = 0; k < cm->items[i]->nhosts; k++) free(cm->items[i]->hosts[k]);
    cluster_free(cm->items[i]);
  }
  free(cm->items);
  if (cm->passthrough) {
    for (size_t k = 0; k < cm->passthrough->nhosts; k++) free(cm->passthrough->hosts[k]);
    cluster_free(cm->passthrough);
  }
  for (size_t i = 0; i < cm->nretired_hosts; i++) free(cm->retired_hosts[i]);
  free(cm->retired_hosts);
  while (cm->retired) {
    struct cluster *next = cm->retired->next_retired;
    cluster_free(cm->retired);
    cm->retired = next;
  }
  memset(cm, 0, sizeof *cm);
}
