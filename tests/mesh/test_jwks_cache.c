/* Tests for mesh/jwks_cache.c: entries by URI, when a fetch is due (never fetched, stale after
 * the cache duration, retried sooner after a failure, never while one is in flight), and that a
 * failed or unparsable fetch keeps the last good key set, as Envoy's remote_jwks does. */
#include "mesh/jwks_cache.h"

#include <string.h>

#include "support/test.h"

static const char KEYS[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";

static void entries_and_due(void) {
  struct jwks_cache c = {0};
  struct jwks_cache_entry *e = jwks_cache_get(&c, "https://a/jwks");
  ASSERT(e);
  EXPECT(jwks_cache_find(&c, "https://a/jwks") == e);
  EXPECT(jwks_cache_find(&c, "https://b/jwks") == NULL);
  EXPECT(jwks_cache_due(e, 1000)); /* never fetched */
  e->fetching = true;
  EXPECT(!jwks_cache_due(e, 1000)); /* one in flight */
  jwks_cache_store(e, KEYS, strlen(KEYS), NULL, 1000);
  EXPECT(!e->fetching && e->keys && e->error[0] == '\0');
  EXPECT(!jwks_cache_due(e, 1000 + JWKS_CACHE_DURATION_MS - 1));
  EXPECT(jwks_cache_due(e, 1000 + JWKS_CACHE_DURATION_MS)); /* stale: refresh */
  /* A failed refresh keeps the good set and is retried sooner. */
  const struct jwk_set *good = e->keys;
  jwks_cache_store(e, NULL, 0, "Jwks remote fetch is failed: nope", 5000);
  EXPECT(e->keys == good);
  EXPECT_STR_EQ(e->error, "Jwks remote fetch is failed: nope");
  EXPECT(!jwks_cache_due(e, 5000 + JWKS_RETRY_MS - 1));
  EXPECT(jwks_cache_due(e, 5000 + JWKS_RETRY_MS));
  /* A body that is not a key set is a failure too, naming the URI. */
  jwks_cache_store(e, "{\"keys\": 3}", 11, NULL, 9000);
  EXPECT(e->keys == good);
  EXPECT_STR_CONTAINS(e->error, "the key set from https://a/jwks does not parse");
  /* Many URIs: the array grows, lookups still find each. */
  char uri[32];
  for (int i = 0; i < 20; i++) {
    snprintf(uri, sizeof uri, "https://h%d/jwks", i);
    ASSERT(jwks_cache_get(&c, uri));
  }
  EXPECT_INT_EQ(c.len, 21);
  EXPECT(jwks_cache_find(&c, "https://h7/jwks") != NULL);
  EXPECT(jwks_cache_find(&c, "https://a/jwks")->keys == good);
  jwks_cache_free(&c);
  EXPECT_INT_EQ(c.len, 0);
}

TEST_CASES(TEST(entries_and_due))
