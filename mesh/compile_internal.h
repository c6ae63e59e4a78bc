/* What the halves of the compiler share: compile.c (arena helpers, DestinationRules and
 * policies, clusters, inbound, gateways, EnvoyFilter rate limits, authn/authz, the entry
 * points) and compile_routes.c (VirtualService http rules -> route configs). Not for use
 * outside them.
 */
#ifndef MESH_COMPILE_INTERNAL_H
#define MESH_COMPILE_INTERNAL_H

#include "mesh/compile.h"

/* One compilation: the config being built (its arena owns every copy) and what it reads. */
struct cctx {
  struct proxy_config *cfg;
  const struct compile_input *in;
  const char *root_ns;
  const char *client_ns;
  struct diag_list *diags;
  bool oom;
};

/* A cctx and the capacities of the config's growing arrays. */
struct builder {
  struct cctx c;
  size_t clusters_cap, rcs_cap;
};

/* ---- compile.c: arena helpers ---- */

/* Each allocates from the config's arena and sets c->oom on failure, so a builder checks once
 * at the end. */
void *compile_zalloc(struct cctx *c, size_t n);
char *compile_dup(struct cctx *c, const char *s);
char *compile_dupf(struct cctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows an arena array by one zeroed element; returns it. */
void *compile_push(struct cctx *c, void **items, size_t *len, size_t *cap, size_t size);
void compile_map_copy(struct cctx *c, struct resource_map *dst, const struct resource_map *src);
void compile_headers_copy(struct cctx *c, struct resource_headers *dst, const struct resource_headers *src);

/* ---- compile.c: DestinationRules ---- */

/* Does a DestinationRule / VirtualService host (FQDN or "*.suffix" or "*") cover name? */
bool compile_host_covers(const char *pattern, const char *name);
/* The DestinationRule for fqdn: client namespace, then service namespace, then root namespace. */
const struct resource *compile_find_dr(const struct cctx *c, const char *svc_ns, const char *fqdn);
/* The subset `name` of dr's merged rules (the first definition wins), or NULL. */
const struct resource_subset *compile_find_subset(const struct cctx *c, const struct resource *dr, const char *name);

/* ---- compile_routes.c ---- */

/* Does a VirtualService apply in context ctx ("mesh" or "ns/gateway")? */
bool compile_vs_bound_to(const struct resource *vs, const char *ctx);
/* Translates http[rule] of vs for a vhost on vhost_port in context ctx ("mesh" or "ns/gw").
 * Returns 1 when a route was appended, 0 when the rule does not apply here, -ENOMEM. */
int compile_translate_rule(struct builder *b, struct xds_route **routes, size_t *len, size_t *cap,
                           const struct resource *vs, size_t rule, uint32_t vhost_port, const char *ctx);
/* Appends a route config named `name` for listener port `port` (0: the outbound one). */
struct xds_route_config *compile_add_route_config(struct builder *b, const char *name, uint32_t port);
/* The sidecar's "outbound" route config: a vhost per service port, its VirtualService's rules
 * or the default route. */
int compile_outbound_routes(struct builder *b);

#endif
