/* registry: workloads, services and endpoints (see registry.h).
 *
 * Memory: one arena holds the whole topology (copied out of the resources), so a sync builds
 * the new topology in a fresh arena, moves the started replicas across, and frees the old arena
 * in one go. Lookups are linear scans: they run when the control plane compiles a config, not
 * per request, and the lab's meshes have tens of services.
 */
#include "mesh/registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mesh/buf.h"

struct registry {
  struct arena arena;
  struct registry_workload *workloads;
  size_t workloads_len;
  struct registry_service *services;
  size_t services_len;
};

/* ---- arena helpers -------------------------------------------------------------------------- */

static void *zalloc(struct arena *a, size_t n) {
  void *p = arena_alloc(a, n ? n : 1);
  if (p) memset(p, 0, n ? n : 1);
  return p;
}

/* Copies s (NULL stays NULL). Sets *oom on failure. */
static char *dup(struct arena *a, const char *s, bool *oom) {
  if (!s) return NULL;
  char *p = arena_strndup(a, s, strlen(s));
  if (!p) *oom = true;
  return p;
}

static void map_copy(struct arena *a, struct resource_map *dst, const struct resource_map *src, bool *oom) {
  dst->len = 0;
  dst->items = NULL;
  if (!src->len) return;
  dst->items = zalloc(a, src->len * sizeof *dst->items);
  if (!dst->items) {
    *oom = true;
    return;
  }
  for (size_t i = 0; i < src->len; i++) {
    dst->items[i].key = dup(a, src->items[i].key, oom);
    dst->items[i].value = dup(a, src->items[i].value, oom);
  }
  dst->len = src->len;
}

/* ---- lifetime ------------------------------------------------------------------------------- */

struct registry *registry_new(void) {
  return calloc(1, sizeof(struct registry));
}

void registry_free(struct registry *reg) {
  if (!reg) return;
  arena_free(&reg->arena);
  free(reg);
}

/* ---- sync ----------------------------------------------------------------------------------- */

static int cmp_workload(const void *a, const void *b) {
  const struct registry_workload *x = a, *y = b;
  int c = strcmp(x->ns, y->ns);
  return c ? c : strcmp(x->name, y->name);
}

static int cmp_service(const void *a, const void *b) {
  const struct registry_service *x = a, *y = b;
  int c = strcmp(x->ns, y->ns);
  if (c) return c;
  c = strcmp(x->name, y->name);
  return c ? c : (int)x->origin - (int)y->origin;
}

static void copy_workload(struct arena *a, struct registry_workload *w, const struct resource *r, bool *oom) {
  const struct resource_deployment *d = &r->spec.deployment;
  w->name = dup(a, r->meta.name, oom);
  w->ns = dup(a, r->meta.ns, oom);
  map_copy(a, &w->labels, &d->labels, oom);
  w->service_account = dup(a, d->service_account_name ? d->service_account_name : "default", oom);
  w->replicas_wanted = d->replicas.value;
  size_t n = 0;
  for (size_t c = 0; c < d->containers_len; c++) n += d->containers[c].ports_len;
  if (n) {
    w->ports = zalloc(a, n * sizeof *w->ports);
    if (!w->ports) {
      *oom = true;
      return;
    }
    for (size_t c = 0; c < d->containers_len; c++)
      for (size_t p = 0; p < d->containers[c].ports_len; p++) {
        const struct resource_container_port *cp = &d->containers[c].ports[p];
        w->ports[w->ports_len].name = dup(a, cp->name, oom);
        w->ports[w->ports_len++].port = cp->container_port;
      }
  }
}

static void copy_service(struct arena *a, struct registry_service *s, const struct resource *r, bool *oom) {
  const struct resource_service *k = &r->spec.service;
  s->origin = REGISTRY_KUBERNETES;
  s->name = dup(a, r->meta.name, oom);
  s->ns = dup(a, r->meta.ns, oom);
  char *fqdn = resource_host_fqdn(r->meta.name, r->meta.ns);
  if (!fqdn) *oom = true;
  s->fqdn = dup(a, fqdn, oom);
  free(fqdn);
  s->location = RESOURCE_MESH_INTERNAL;
  s->resolution = RESOURCE_RESOLUTION_STATIC;
  map_copy(a, &s->selector, &k->selector, oom);
  s->ports = zalloc(a, (k->ports_len ? k->ports_len : 1) * sizeof *s->ports);
  if (!s->ports) {
    *oom = true;
    return;
  }
  for (size_t i = 0; i < k->ports_len; i++) {
    struct registry_service_port *p = &s->ports[i];
    p->name = dup(a, k->ports[i].name, oom);
    p->port = k->ports[i].port;
    p->target_port = k->ports[i].target_port;
    p->target_port_name = dup(a, k->ports[i].target_port_name, oom);
    p->protocol = dup(a, k->ports[i].protocol ? k->ports[i].protocol : "TCP", oom);
  }
  s->ports_len = k->ports_len;
}

/* One registry service per ServiceEntry host. */
static void copy_entry_host(struct arena *a, struct registry_service *s, const struct resource *r, size_t host,
                            bool *oom) {
  const struct resource_service_entry *se = &r->spec.service_entry;
  s->origin = REGISTRY_SERVICE_ENTRY;
  s->name = dup(a, se->hosts[host].written, oom);
  s->ns = dup(a, r->meta.ns, oom);
  s->fqdn = dup(a, se->hosts[host].written, oom);
  s->location = se->location;
  s->resolution = se->resolution;
  s->ports = zalloc(a, (se->ports_len ? se->ports_len : 1) * sizeof *s->ports);
  if (!s->ports) {
    *oom = true;
    return;
  }
  for (size_t i = 0; i < se->ports_len; i++) {
    struct registry_service_port *p = &s->ports[i];
    p->name = dup(a, se->ports[i].name, oom);
    p->port = se->ports[i].number;
    p->target_port = se->ports[i].target_port;
    p->protocol = dup(a, se->ports[i].protocol ? se->ports[i].protocol : "TCP", oom);
  }
  s->ports_len = se->ports_len;
  if (!se->endpoints_len) return;
  s->endpoints = zalloc(a, se->endpoints_len * sizeof *s->endpoints);
  if (!s->endpoints) {
    *oom = true;
    return;
  }
  for (size_t i = 0; i < se->endpoints_len; i++) {
    const struct resource_workload_entry *e = &se->endpoints[i];
    struct registry_static_endpoint *d = &s->endpoints[i];
    d->address = dup(a, e->address, oom);
    map_copy(a, &d->labels, &e->labels, oom);
    if (e->ports_len) {
      d->ports.items = zalloc(a, e->ports_len * sizeof *d->ports.items);
      if (!d->ports.items) {
        *oom = true;
        continue;
      }
      for (size_t p = 0; p < e->ports_len; p++) {
        char num[16];
        snprintf(num, sizeof num, "%u", (unsigned)e->ports[p].number);
        d->ports.items[p].key = dup(a, e->ports[p].name, oom);
        d->ports.items[p].value = dup(a, num, oom);
      }
      d->ports.len = e->ports_len;
    }
  }
  s->endpoints_len = se->endpoints_len;
}

static struct registry_workload *find_in(struct registry_workload *ws, size_t n, const char *ns, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(ws[i].ns, ns) == 0 && strcmp(ws[i].name, name) == 0) return &ws[i];
  return NULL;
}

int registry_sync(struct registry *reg, struct resource *const *items, size_t len) {
  struct arena a = {0};
  bool oom = false;
  size_t nw = 0, ns = 0;
  for (size_t i = 0; i < len; i++) {
    if (items[i]->kind == RESOURCE_DEPLOYMENT) nw++;
    if (items[i]->kind == RESOURCE_SERVICE) ns++;
    if (items[i]->kind == RESOURCE_SERVICE_ENTRY) ns += items[i]->spec.service_entry.hosts_len;
  }
  struct registry_workload *ws = zalloc(&a, (nw ? nw : 1) * sizeof *ws);
  struct registry_service *ss = zalloc(&a, (ns ? ns : 1) * sizeof *ss);
  if (!ws || !ss) goto oom;
  size_t wi = 0, si = 0;
  for (size_t i = 0; i < len && !oom; i++) {
    const struct resource *r = items[i];
    switch (r->kind) {
    case RESOURCE_DEPLOYMENT:
      /* The same object twice (a later apply in one list): the later one wins, as kubectl. */
      if (find_in(ws, wi, r->meta.ns, r->meta.name)) {
        struct registry_workload *old = find_in(ws, wi, r->meta.ns, r->meta.name);
        memset(old, 0, sizeof *old);
        copy_workload(&a, old, r, &oom);
      } else {
        copy_workload(&a, &ws[wi++], r, &oom);
      }
      break;
    case RESOURCE_SERVICE:
      copy_service(&a, &ss[si++], r, &oom);
      break;
    case RESOURCE_SERVICE_ENTRY:
      for (size_t h = 0; h < r->spec.service_entry.hosts_len; h++) copy_entry_host(&a, &ss[si++], r, h, &oom);
      break;
    default:
      break;
    }
  }
  if (oom) goto oom;
  qsort(ws, wi, sizeof *ws, cmp_workload);
  qsort(ss, si, sizeof *ss, cmp_service);
  /* Carry the started replicas over (scale-down keeps the lowest indexes). */
  for (size_t i = 0; i < wi; i++) {
    struct registry_workload *old = find_in(reg->workloads, reg->workloads_len, ws[i].ns, ws[i].name);
    if (!old || !old->replicas_len) continue;
    size_t keep = 0;
    for (size_t r = 0; r < old->replicas_len; r++)
      if (old->replicas[r].index < ws[i].replicas_wanted) keep++;
    if (!keep) continue;
    ws[i].replicas = zalloc(&a, keep * sizeof *ws[i].replicas);
    if (!ws[i].replicas) goto oom;
    ws[i].replicas_cap = keep;
    for (size_t r = 0; r < old->replicas_len; r++) {
      const struct registry_replica *o = &old->replicas[r];
      if (o->index >= ws[i].replicas_wanted) continue;
      struct registry_replica *n = &ws[i].replicas[ws[i].replicas_len++];
      n->name = dup(&a, o->name, &oom);
      n->address = dup(&a, o->address, &oom);
      n->index = o->index;
      n->healthy = o->healthy;
      n->port_base = o->port_base;
    }
  }
  if (oom) goto oom;
  arena_free(&reg->arena);
  reg->arena = a;
  reg->workloads = ws;
  reg->workloads_len = wi;
  reg->services = ss;
  reg->services_len = si;
  return 0;
oom:
  arena_free(&a);
  return -ENOMEM;
}

/* ---- replicas ------------------------------------------------------------------------------- */

int registry_add_replica(struct registry *reg, const char *ns, const char *name, const char *address,
                         const struct registry_replica **out) {
  struct registry_workload *w = find_in(reg->workloads, reg->workloads_len, ns, name);
  if (!w) return -ENOENT;
  if (!address || !*address) return -EINVAL;
  /* Lowest unused index: replicas stay sorted by index. */
  uint32_t index = 0;
  size_t at = 0;
  while (at < w->replicas_len && w->replicas[at].index == index) {
    index++;
    at++;
  }
  if (w->replicas_len == w->replicas_cap) {
    size_t cap = w->replicas_cap ? w->replicas_cap * 2 : 4;
    struct registry_replica *n = zalloc(&reg->arena, cap * sizeof *n);
    if (!n) return -ENOMEM;
    if (w->replicas_len) memcpy(n, w->replicas, w->replicas_len * sizeof *n);
    w->replicas = n;
    w->replicas_cap = cap;
  }
  char rname[512];
  snprintf(rname, sizeof rname, "%s-%u", name, (unsigned)index);
  bool oom = false;
  char *nm = dup(&reg->arena, rname, &oom), *addr = dup(&reg->arena, address, &oom);
  if (oom) return -ENOMEM;
  memmove(&w->replicas[at + 1], &w->replicas[at], (w->replicas_len - at) * sizeof *w->replicas);
  w->replicas[at] = (struct registry_replica){.name = nm, .address = addr, .index = index, .healthy = true};
  w->replicas_len++;
  if (out) *out = &w->replicas[at];
  return 0;
}

static bool address_used(const struct registry *reg, const char *addr) {
  for (size_t i = 0; i < reg->workloads_len; i++)
    for (size_t r = 0; r < reg->workloads[i].replicas_len; r++)
      if (strcmp(reg->workloads[i].replicas[r].address, addr) == 0) return true;
  return false;
}

int registry_assign_addresses(struct registry *reg, const char *first) {
  struct in_addr in;
  if (!first || inet_pton(AF_INET, first, &in) != 1) return -EINVAL;
  uint32_t next = ntohl(in.s_addr);
  int added = 0;
  for (size_t i = 0; i < reg->workloads_len; i++) {
    struct registry_workload *w = &reg->workloads[i];
    while (w->replicas_len < w->replicas_wanted) {
      char text[INET_ADDRSTRLEN];
      do {
        struct in_addr o = {htonl(next++)};
        inet_ntop(AF_INET, &o, text, sizeof text);
      } while (address_used(reg, text));
      int rc = registry_add_replica(reg, w->ns, w->name, text, NULL);
      if (rc < 0) return rc;
      added++;
    }
  }
  return added;
}

int registry_assign_port_blocks(struct registry *reg, const char *address, registry_block_cb next_block, void *ctx) {
  if (!address || !*address || !next_block) return -EINVAL;
  int added = 0;
  for (size_t i = 0; i < reg->workloads_len; i++) {
    struct registry_workload *w = &reg->workloads[i];
    while (w->replicas_len < w->replicas_wanted) {
      uint32_t base = next_block(ctx);
      if (!base) return -EADDRINUSE;
      const struct registry_replica *added_rep;
      int rc = registry_add_replica(reg, w->ns, w->name, address, &added_rep);
      if (rc < 0) return rc;
      ((struct registry_replica *)added_rep)->port_base = base; /* ours: the registry's arena */
      added++;
    }
  }
  return added;
}

static bool selects(const struct registry_service *svc, const struct registry_workload *w);

static bool slot_add(uint32_t port, uint32_t *ports, size_t max, size_t *n) {
  if (!port) return false;
  for (size_t i = 0; i < *n && i < max; i++)
    if (ports[i] == port) return false;
  if (*n < max) ports[*n] = port;
  (*n)++;
  return true;
}

size_t registry_port_slots(const struct registry *reg, const struct registry_workload *w, uint32_t *ports, size_t max) {
  size_t n = 0;
  /* Dedup only sees the first max entries: callers pass room for a whole block. */
  for (size_t i = 0; i < w->ports_len; i++) slot_add(w->ports[i].port, ports, max, &n);
  for (size_t i = 0; i < reg->services_len; i++) {
    const struct registry_service *svc = &reg->services[i];
    if (svc->origin != REGISTRY_KUBERNETES || strcmp(svc->ns, w->ns) != 0 || !selects(svc, w)) continue;
    for (size_t p = 0; p < svc->ports_len; p++) slot_add(registry_target_port(w, &svc->ports[p]), ports, max, &n);
  }
  return n;
}

uint32_t registry_replica_port(const struct registry *reg, const struct registry_workload *w,
                               const struct registry_replica *r, uint32_t port) {
  if (!r->port_base) return port;
  uint32_t slots[REGISTRY_BLOCK_SIZE - REGISTRY_BLOCK_PORTS];
  size_t n = registry_port_slots(reg, w, slots, sizeof slots / sizeof slots[0]);
  for (size_t i = 0; i < n && i < sizeof slots / sizeof slots[0]; i++)
    if (slots[i] == port) return r->port_base + REGISTRY_BLOCK_PORTS + (uint32_t)i;
  return 0;
}

int registry_set_health(struct registry *reg, const char *ns, const char *replica, bool healthy) {
  for (size_t i = 0; i < reg->workloads_len; i++) {
    struct registry_workload *w = &reg->workloads[i];
    if (strcmp(w->ns, ns) != 0) continue;
    for (size_t r = 0; r < w->replicas_len; r++)
      if (strcmp(w->replicas[r].name, replica) == 0) {
        w->replicas[r].healthy = healthy;
        return 0;
      }
  }
  return -ENOENT;
}

/* ---- lookups -------------------------------------------------------------------------------- */

const struct registry_workload *registry_workload_find(const struct registry *reg, const char *ns, const char *name) {
  return find_in(reg->workloads, reg->workloads_len, ns, name);
}

const struct registry_workload *registry_workload_of_replica(const struct registry *reg, const char *ns,
                                                             const char *replica) {
  for (size_t i = 0; i < reg->workloads_len; i++) {
    const struct registry_workload *w = &reg->workloads[i];
    if (strcmp(w->ns, ns) != 0) continue;
    for (size_t r = 0; r < w->replicas_len; r++)
      if (strcmp(w->replicas[r].name, replica) == 0) return w;
  }
  return NULL;
}

const struct registry_service *registry_service_find(const struct registry *reg, const char *fqdn) {
  for (size_t i = 0; i < reg->services_len; i++) {
    const struct registry_service *s = &reg->services[i];
    if (s->origin == REGISTRY_KUBERNETES ? strcasecmp(s->fqdn, fqdn) == 0 : strcmp(s->fqdn, fqdn) == 0) return s;
  }
  return NULL;
}

const struct registry_service *registry_services(const struct registry *reg, size_t *len) {
  *len = reg->services_len;
  return reg->services;
}

const struct registry_workload *registry_workloads(const struct registry *reg, size_t *len) {
  *len = reg->workloads_len;
  return reg->workloads;
}

const struct registry_service_port *registry_service_port(const struct registry_service *svc, uint32_t port) {
  for (size_t i = 0; i < svc->ports_len; i++)
    if (svc->ports[i].port == port) return &svc->ports[i];
  return NULL;
}

uint32_t registry_target_port(const struct registry_workload *w, const struct registry_service_port *sp) {
  if (sp->target_port) return sp->target_port;
  if (!sp->target_port_name) return sp->port;
  for (size_t i = 0; i < w->ports_len; i++)
    if (w->ports[i].name && strcmp(w->ports[i].name, sp->target_port_name) == 0) return w->ports[i].port;
  return 0;
}

static bool selects(const struct registry_service *svc, const struct registry_workload *w) {
  /* Kubernetes: a Service without a selector has no managed endpoints. */
  return svc->origin == REGISTRY_KUBERNETES && svc->selector.len && strcmp(svc->ns, w->ns) == 0 &&
         resource_map_matches(&svc->selector, &w->labels);
}

static int push_endpoint(struct registry_endpoint **arr, size_t *len, size_t *cap, struct registry_endpoint e) {
  if (*len == *cap) {
    size_t n = *cap ? *cap * 2 : 8;
    struct registry_endpoint *p = realloc(*arr, n * sizeof *p);
    if (!p) return -ENOMEM;
    *arr = p;
    *cap = n;
  }
  (*arr)[(*len)++] = e;
  return 0;
}

int registry_endpoints(const struct registry *reg, const struct registry_service *svc, uint32_t port,
                       const struct resource_map *subset_labels, struct registry_endpoint **out, size_t *len) {
  *out = NULL;
  *len = 0;
  size_t cap = 0;
  const struct registry_service_port *sp = registry_service_port(svc, port);
  if (!sp) return 0;
  static const struct resource_map none = {0};
  if (!subset_labels) subset_labels = &none;
  if (svc->origin == REGISTRY_KUBERNETES) {
    for (size_t i = 0; i < reg->workloads_len; i++) {
      const struct registry_workload *w = &reg->workloads[i];
      if (!selects(svc, w) || !resource_map_matches(subset_labels, &w->labels)) continue;
      uint32_t target = registry_target_port(w, sp);
      if (!target) continue;
      for (size_t r = 0; r < w->replicas_len; r++) {
        uint32_t at = registry_replica_port(reg, w, &w->replicas[r], target);
        if (!at) continue; /* a port block without a slot for it */
        struct registry_endpoint e = {w->replicas[r].address, at, w->replicas[r].healthy, &w->labels, w,
                                      &w->replicas[r]};
        if (push_endpoint(out, len, &cap, e)) goto oom;
      }
    }
    return 0;
  }
  switch (svc->resolution) {
  case RESOURCE_RESOLUTION_NONE:
    return 0;
  case RESOURCE_RESOLUTION_DNS:
  case RESOURCE_RESOLUTION_DNS_ROUND_ROBIN:
    if (!svc->endpoints_len) {
      /* DNS without endpoints: the host itself is the endpoint (resolved when connecting). */
      struct registry_endpoint e = {svc->fqdn, sp->target_port ? sp->target_port : sp->port, true, &none, NULL, NULL};
      if (push_endpoint(out, len, &cap, e)) goto oom;
      return 0;
    }
    /* fall through - DNS endpoints are names to resolve, used like STATIC ones */
  case RESOURCE_RESOLUTION_STATIC:
    for (size_t i = 0; i < svc->endpoints_len; i++) {
      const struct registry_static_endpoint *se = &svc->endpoints[i];
      if (!resource_map_matches(subset_labels, &se->labels)) continue;
      uint32_t p = sp->target_port ? sp->target_port : sp->port;
      const char *named = sp->name ? resource_map_get(&se->ports, sp->name) : NULL;
      if (named) p = (uint32_t)strtoul(named, NULL, 10);
      struct registry_endpoint e = {se->address, p, true, &se->labels, NULL, NULL};
      if (push_endpoint(out, len, &cap, e)) goto oom;
    }
    return 0;
  }
  return 0;
oom:
  free(*out);
  *out = NULL;
  *len = 0;
  return -ENOMEM;
}

int registry_services_of(const struct registry *reg, const struct registry_workload *w,
                         const struct registry_service ***out, size_t *len) {
  *out = NULL;
  *len = 0;
  size_t n = 0;
  for (size_t i = 0; i < reg->services_len; i++) n += selects(&reg->services[i], w);
  if (!n) return 0;
  *out = calloc(n, sizeof **out);
  if (!*out) return -ENOMEM;
  for (size_t i = 0; i < reg->services_len; i++)
    if (selects(&reg->services[i], w)) (*out)[(*len)++] = &reg->services[i];
  return 0;
}
