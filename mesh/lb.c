/* lb: LEAST_REQUEST, ROUND_ROBIN, RANDOM, RING_HASH and MAGLEV (see lb.h). */
#include "mesh/lb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mesh/router.h"

static bool available(const struct lb_host *h) { return h->healthy && !h->ejected; }

static size_t count_available(const struct lb *lb, const struct lb_host *hosts) {
  size_t k = 0;
  for (size_t i = 0; i < lb->n; i++) k += available(&hosts[i]);
  return k;
}

/* The k-th available host (k < count_available). */
static size_t nth_available(const struct lb *lb, const struct lb_host *hosts, size_t k) {
  for (size_t i = 0; i < lb->n; i++)
    if (available(&hosts[i]) && k-- == 0) return i;
  return 0;
}

uint64_t lb_hash(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ULL;
  }
  /* FNV alone clusters similar keys ("host_1", "host_2"); the splitmix64 finaliser spreads them. */
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

/* ---- LEAST_REQUEST -------------------------------------------------------------------------- */

/* Envoy's LeastRequestLoadBalancer with equal weights: choice_count (2) random draws, keep the
 * host with the fewest active requests. Drawing with replacement, as Envoy does, so with one
 * available host both draws are that host. */
static enum lb_verdict least_request_pick(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash,
                                          struct rng *rng, struct lb_pick *out) {
  (void)hash;
  size_t k = count_available(lb, hosts);
  if (!k) return LB_NO_HEALTHY;
  size_t a = nth_available(lb, hosts, rng_below(rng, (uint32_t)k));
  size_t b = nth_available(lb, hosts, rng_below(rng, (uint32_t)k));
  out->candidates[0] = a;
  out->candidates[1] = b;
  out->candidates_len = 2;
  out->index = hosts[b].active_requests < hosts[a].active_requests ? b : a;
  return LB_PICKED;
}

/* ---- ROUND_ROBIN ---------------------------------------------------------------------------- */

static enum lb_verdict round_robin_pick(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash,
                                        struct rng *rng, struct lb_pick *out) {
  (void)hash;
  (void)rng;
  for (size_t step = 0; step < lb->n; step++) {
    size_t i = lb->rr_next++ % lb->n;
    if (available(&hosts[i])) {
      out->index = i;
      return LB_PICKED;
    }
  }
  return LB_NO_HEALTHY;
}

/* ---- RANDOM --------------------------------------------------------------------------------- */

static enum lb_verdict random_pick(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash, struct rng *rng,
                                   struct lb_pick *out) {
  (void)hash;
  size_t k = count_available(lb, hosts);
  if (!k) return LB_NO_HEALTHY;
  out->index = nth_available(lb, hosts, rng_below(rng, (uint32_t)k));
  return LB_PICKED;
}

/* ---- RING_HASH ------------------------------------------------------------------------------ */

struct point {
  uint64_t hash;
  uint32_t host;
};

static int cmp_point(const void *a, const void *b) {
  const struct point *x = a, *y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return x->host < y->host ? -1 : x->host > y->host; /* ties by host: the ring is deterministic */
}

/* Envoy's ring: every host gets the same number of points (ceil(size / n)), each at the hash of
 * "KEY_i"; a request's hash goes to the first point at or after it, wrapping around. */
static int ring_init(struct lb *lb, const char *const *keys) {
  if (!lb->n) return 0;
  size_t per = (lb->size + lb->n - 1) / lb->n;
  if (!per) per = 1;
  size_t len = per * lb->n;
  struct point *pts = calloc(len, sizeof *pts);
  lb->ring_hashes = calloc(len, sizeof *lb->ring_hashes);
  lb->ring_hosts = calloc(len, sizeof *lb->ring_hosts);
  if (!pts || !lb->ring_hashes || !lb->ring_hosts) {
    free(pts);
    return -ENOMEM;
  }
  size_t k = 0;
  for (size_t h = 0; h < lb->n; h++)
    for (size_t i = 0; i < per; i++) {
      char buf[300];
      int l = snprintf(buf, sizeof buf, "%s_%zu", keys[h], i);
      size_t bl = l < 0 ? 0 : (size_t)l < sizeof buf ? (size_t)l : sizeof buf - 1;
      pts[k++] = (struct point){lb_hash(buf, bl), (uint32_t)h};
    }
  qsort(pts, len, sizeof *pts, cmp_point);
  for (size_t i = 0; i < len; i++) {
    lb->ring_hashes[i] = pts[i].hash;
    lb->ring_hosts[i] = pts[i].host;
  }
  lb->ring_len = len;
  free(pts);
  return 0;
}

static enum lb_verdict ring_pick(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash, struct rng *rng,
                                 struct lb_pick *out) {
  if (!lb->ring_len || !count_available(lb, hosts)) return LB_NO_HEALTHY;
  uint64_t h = hash ? *hash : rng_next(rng);
  out->hashed = hash != NULL;
  out->hash = h;
  /* First point >= h (binary search), wrapping to the start. */
  size_t lo = 0, hi = lb->ring_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (lb->ring_hashes[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  /* An unavailable host's points hand over to the next host clockwise, so only its keys move
   * (Envoy rebuilds the ring over healthy hosts, which moves them the same way in spirit). */
  for (size_t step = 0; step < lb->ring_len; step++) {
    uint32_t host = lb->ring_hosts[(lo + step) % lb->ring_len];
    if (available(&hosts[host])) {
      out->index = host;
      return LB_PICKED;
    }
  }
  return LB_NO_HEALTHY;
}

/* ---- MAGLEV --------------------------------------------------------------------------------- */

static bool is_prime(uint32_t m) {
  if (m < 2) return false;
  for (uint32_t d = 2; (uint64_t)d * d <= m; d++)
    if (m % d == 0) return false;
  return true;
}

/* Maglev (Eisenbud et al., NSDI 2016, section 3.4): each host walks its own permutation of the
 * table (offset, skip from two hashes of its key) and the hosts take turns claiming their next
 * free slot until the table is full, so every host owns about M / n slots. */
static int maglev_init(struct lb *lb, const char *const *keys) {
  if (!lb->n) return 0;
  uint32_t m = lb->size;
  if (!is_prime(m)) return -EINVAL;
  lb->ring_hosts = malloc((size_t)m * sizeof *lb->ring_hosts);
  uint64_t *offset = calloc(lb->n, sizeof *offset), *skip = calloc(lb->n, sizeof *skip),
           *next = calloc(lb->n, sizeof *next);
  if (!lb->ring_hosts || !offset || !skip || !next) {
    free(offset);
    free(skip);
    free(next);
    return -ENOMEM;
  }
  for (size_t i = 0; i < m; i++) lb->ring_hosts[i] = UINT32_MAX;
  for (size_t h = 0; h < lb->n; h++) {
    size_t kl = strlen(keys[h]);
    uint64_t h1 = lb_hash(keys[h], kl);
    char salted[300];
    int l = snprintf(salted, sizeof salted, "%s#skip", keys[h]);
    uint64_t h2 = lb_hash(salted, l < 0 ? 0 : (size_t)l < sizeof salted ? (size_t)l : sizeof salted - 1);
    offset[h] = h1 % m;
    skip[h] = h2 % (m - 1) + 1;
  }
  size_t filled = 0;
  while (filled < m)
    for (size_t h = 0; h < lb->n && filled < m; h++) {
      uint64_t slot;
      do {
        slot = (offset[h] + next[h] * skip[h]) % m;
        next[h]++;
      } while (lb->ring_hosts[slot] != UINT32_MAX);
      lb->ring_hosts[slot] = (uint32_t)h;
      filled++;
    }
  lb->ring_len = m;
  free(offset);
  free(skip);
  free(next);
  return 0;
}

static enum lb_verdict maglev_pick(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash, struct rng *rng,
                                   struct lb_pick *out) {
  if (!lb->ring_len || !count_available(lb, hosts)) return LB_NO_HEALTHY;
  uint64_t h = hash ? *hash : rng_next(rng);
  out->hashed = hash != NULL;
  out->hash = h;
  size_t slot = h % lb->ring_len;
  for (size_t step = 0; step < lb->ring_len; step++) {
    uint32_t host = lb->ring_hosts[(slot + step) % lb->ring_len];
    if (available(&hosts[host])) {
      out->index = host;
      return LB_PICKED;
    }
  }
  return LB_NO_HEALTHY;
}

/* ---- the registry of algorithms ------------------------------------------------------------- */

static const struct lb_algorithm LEAST_REQUEST = {"LEAST_REQUEST", NULL, least_request_pick};
static const struct lb_algorithm ROUND_ROBIN = {"ROUND_ROBIN", NULL, round_robin_pick};
static const struct lb_algorithm RANDOM = {"RANDOM", NULL, random_pick};
static const struct lb_algorithm RING_HASH = {"RING_HASH", ring_init, ring_pick};
static const struct lb_algorithm MAGLEV = {"MAGLEV", maglev_init, maglev_pick};

static const struct lb_algorithm *const ALGORITHMS[] = {&LEAST_REQUEST, &ROUND_ROBIN, &RANDOM, &RING_HASH, &MAGLEV};

const struct lb_algorithm *lb_algorithm_find(const char *name) {
  for (size_t i = 0; i < sizeof ALGORITHMS / sizeof ALGORITHMS[0]; i++)
    if (strcasecmp(ALGORITHMS[i]->name, name) == 0) return ALGORITHMS[i];
  return NULL;
}

int lb_init(struct lb *lb, const struct resource_load_balancer *policy, const char *const *keys, size_t n) {
  memset(lb, 0, sizeof *lb);
  lb->n = n;
  const char *name = "LEAST_REQUEST";
  if (policy && policy->hash_present) {
    name = policy->consistent_hash.maglev ? "MAGLEV" : "RING_HASH";
    lb->size = policy->consistent_hash.maglev ? policy->consistent_hash.maglev_table_size.value
                                              : policy->consistent_hash.ring_size.value;
    if (!lb->size) lb->size = policy->consistent_hash.maglev ? 65537 : 1024;
  } else if (policy) {
    switch (policy->simple) {
    case RESOURCE_LB_UNSPECIFIED:
    case RESOURCE_LB_LEAST_REQUEST:
    case RESOURCE_LB_LEAST_CONN:
      break;
    case RESOURCE_LB_ROUND_ROBIN:
      name = "ROUND_ROBIN";
      break;
    case RESOURCE_LB_RANDOM:
    case RESOURCE_LB_PASSTHROUGH:
      name = "RANDOM";
      break;
    }
  }
  lb->algorithm = lb_algorithm_find(name);
  return lb->algorithm->init ? lb->algorithm->init(lb, keys) : 0;
}

void lb_free(struct lb *lb) {
  if (!lb) return;
  free(lb->ring_hashes);
  free(lb->ring_hosts);
  lb->ring_hashes = NULL;
  lb->ring_hosts = NULL;
  lb->ring_len = 0;
}

enum lb_verdict lb_pick(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash, struct rng *rng,
                        struct lb_pick *out) {
  memset(out, 0, sizeof *out);
  if (!lb->n) return LB_NO_HEALTHY;
  return lb->algorithm->pick(lb, hosts, hash, rng, out);
}

/* ---- hash keys ------------------------------------------------------------------------------ */

/* The value of cookie `name` in a Cookie header ("a=1; b=2"). */
static bool cookie_value(struct slice header, const char *name, struct slice *out) {
  size_t nl = strlen(name);
  const char *p = header.p, *end = header.p + header.n;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == ';')) p++;
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *stop = semi ? semi : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    if (eq && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
      *out = (struct slice){eq + 1, (size_t)(stop - eq - 1)};
      return true;
    }
    p = stop;
  }
  return false;
}

bool lb_hash_request(const struct resource_consistent_hash *h, const struct http_head *head, struct slice path,
                     struct slice source_address, uint64_t *out) {
  struct slice v = {0};
  const struct slice *found;
  switch (h->key) {
  case RESOURCE_HASH_NONE:
    return false;
  case RESOURCE_HASH_HEADER:
    if (!head || !h->name || !(found = http_head_find(head, h->name))) return false;
    v = *found;
    break;
  case RESOURCE_HASH_COOKIE:
    /* Envoy would also mint the cookie (with ttl) when it is missing; the lab does not yet. */
    if (!head || !h->name || !(found = http_head_find(head, "cookie")) || !cookie_value(*found, h->name, &v))
      return false;
    break;
  case RESOURCE_HASH_SOURCE_IP:
    if (!source_address.n) return false;
    v = source_address;
    break;
  case RESOURCE_HASH_QUERY_PARAM:
    if (!h->name || !router_query_param(path, h->name, &v)) return false;
    break;
  }
  *out = lb_hash(v.p, v.n);
  return true;
}
