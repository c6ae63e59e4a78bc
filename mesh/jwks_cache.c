/* jwks_cache: remote key sets by URI (see jwks_cache.h). */
#include "mesh/jwks_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jwks_cache_entry *jwks_cache_find(struct jwks_cache *c, const char *uri) {
  for (size_t i = 0; i < c->len; i++)
    if (strcmp(c->items[i].uri, uri) == 0) return &c->items[i];
  return NULL;
}

struct jwks_cache_entry *jwks_cache_get(struct jwks_cache *c, const char *uri) {
  struct jwks_cache_entry *e = jwks_cache_find(c, uri);
  if (e) return e;
  if (c->len == c->cap) {
    size_t n = c->cap ? c->cap * 2 : 4;
    struct jwks_cache_entry *p = realloc(c->items, n * sizeof *p);
    if (!p) return NULL;
    c->items = p;
    c->cap = n;
  }
  e = &c->items[c->len];
  memset(e, 0, sizeof *e);
  if (!(e->uri = strdup(uri))) return NULL;
  c->len++;
  return e;
}

bool jwks_cache_due(const struct jwks_cache_entry *e, uint64_t now) {
  if (e->fetching) return false;
  if (!e->fetched_ms) return true;
  uint64_t wait = e->error[0] ? JWKS_RETRY_MS : JWKS_CACHE_DURATION_MS;
  return now >= e->fetched_ms + wait;
}

void jwks_cache_store(struct jwks_cache_entry *e, const char *text, size_t len, const char *error, uint64_t now) {
  e->fetching = false;
  e->fetched_ms = now ? now : 1;
  if (!text) {
    snprintf(e->error, sizeof e->error, "%s", error ? error : "fetch failed");
    return;
  }
  struct jwk_set *set = NULL;
  char why[256] = "";
  if (jwk_set_parse(text, len, &set, why, sizeof why) != 0) {
    snprintf(e->error, sizeof e->error, "the key set from %s does not parse: %s", e->uri, why);
    return;
  }
  jwk_set_free(e->keys);
  e->keys = set;
  e->error[0] = '\0';
}

void jwks_cache_free(struct jwks_cache *c) {
  for (size_t i = 0; i < c->len; i++) {
    free(c->items[i].uri);
    jwk_set_free(c->items[i].keys);
  }
  free(c->items);
  memset(c, 0, sizeof *c);
}
