/* jwks_cache: the key sets a proxy fetched for RequestAuthentication jwksUri rules, by URI.
 *
 * Where it sits: inline `jwks` is parsed with the config (proxy_config_finish); a `jwksUri` is
 * fetched by the sidecar (sidecar.c): an http:// URI through its own outbound listener (the
 * mesh), the lab issuer's and https:// ones through the lab (GET /v1/jwks?uri=URI). The fetched set
 * lands here; filters.c looks it up for each request that carries a token for that issuer. As
 * in Envoy's remote_jwks, a set is kept for JWKS_CACHE_DURATION_MS and then fetched again; a
 * failed fetch is retried after JWKS_RETRY_MS, and until a set arrives tokens for that issuer
 * get 401 "Jwks remote fetch is failed". Plain data: no I/O here, times are given.
 */
#ifndef MESH_JWKS_CACHE_H
#define MESH_JWKS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/jwk.h"

#define JWKS_CACHE_DURATION_MS (5 * 60 * 1000) /* Envoy's remote_jwks cache_duration default */
#define JWKS_RETRY_MS 2000

struct jwks_cache_entry {
  char *uri;            /* owned */
  struct jwk_set *keys; /* owned; NULL until a fetch succeeded */
  char error[768];      /* why the last fetch failed; "" after a success */
  uint64_t fetched_ms;  /* loop time of the last fetch that ended */
  bool fetching;
};

struct jwks_cache {
  struct jwks_cache_entry *items; /* owned */
  size_t len, cap;
};

/* The entry for uri (borrowed), or NULL. */
struct jwks_cache_entry *jwks_cache_find(struct jwks_cache *c, const char *uri);
/* The entry for uri, added when missing. Returns NULL when out of memory. */
struct jwks_cache_entry *jwks_cache_get(struct jwks_cache *c, const char *uri);
/* Whether the entry needs a fetch at now: never fetched, stale, or failed a while ago. */
bool jwks_cache_due(const struct jwks_cache_entry *e, uint64_t now);
/* A fetch ended: text (borrowed) is the body on success (parsed here; a set that does not
 * parse counts as a failure), or NULL with error saying why. A failure keeps the last good
 * set, as Envoy keeps serving with it. */
void jwks_cache_store(struct jwks_cache_entry *e, const char *text, size_t len, const char *error, uint64_t now);
/* Frees every entry; the cache is empty afterwards. */
void jwks_cache_free(struct jwks_cache *c);

#endif
