/* Tests for mesh/issuer.c and the signing half of mesh/jwk.c: the lab issuer's key is made
 * once (0600) and reused, its JWKS verifies what it mints, the claims are the ones asked for,
 * and jwt_authenticate gives Istio's outcomes for its tokens (valid, expired, other issuer). */
#include "mesh/issuer.h"
#include "mesh/jwk.h"
#include "mesh/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/test.h"

#define NOW 1700000000LL

static char *temp_dir(void) {
  char tmpl[] = "/tmp/meshlab-issuer-XXXXXX";
  char *d = mkdtemp(tmpl);
  return d ? strdup(d) : NULL;
}

static void remove_dir(char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/issuer.key", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/issuer-rs256.key", dir);
  unlink(path);
  rmdir(dir);
  free(dir);
}

static void base64url_round_trips(void) {
  static const char *const cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *enc = NULL;
    uint8_t *dec = NULL;
    size_t n = 0;
    ASSERT_INT_EQ(jwk_base64url_encode((const uint8_t *)cases[i], strlen(cases[i]), &enc), 0);
    if (jwk_base64url_decode(enc, strlen(enc), &dec, &n) != 0 || n != strlen(cases[i]) || memcmp(dec, cases[i], n))
      test_fail(__FILE__, __LINE__, "case %zu: \"%s\" does not decode back", i, enc);
    free(enc);
    free(dec);
  }
}

static void key_made_once_private(void) {
  char *dir = temp_dir();
  ASSERT(dir);
  struct issuer a, b;
  char err[256];
  ASSERT_INT_EQ(issuer_load(dir, &a, err, sizeof err), 0);
  ASSERT_INT_EQ(issuer_load(dir, &b, err, sizeof err), 0);
  EXPECT_STR_EQ(a.jwks, b.jwks);
  EXPECT_STR_EQ(a.kid, b.kid);
  EXPECT(strncmp(a.kid, "meshlab-", 8) == 0);
  EXPECT(strncmp(a.rsa_kid, "meshlab-rsa-", 12) == 0);
  EXPECT(strstr(a.jwks, "\"d\"") == NULL && strstr(a.jwks, "\"p\"") == NULL); /* only the public halves */
  EXPECT_STR_CONTAINS(a.jwks, "\"kty\":\"EC\"");
  EXPECT_STR_CONTAINS(a.jwks, "\"kty\":\"RSA\"");
  char path[512];
  snprintf(path, sizeof path, "%s/issuer.key", dir);
  struct stat st;
  ASSERT_INT_EQ(stat(path, &st), 0);
  EXPECT_INT_EQ(st.st_mode & 0777, 0600);
  snprintf(path, sizeof path, "%s/issuer-rs256.key", dir);
  ASSERT_INT_EQ(stat(path, &st), 0);
  EXPECT_INT_EQ(st.st_mode & 0777, 0600);
  issuer_free(&a);
  issuer_free(&b);
  remove_dir(dir);
}

static void minted_tokens_verify(void) {
  char *dir = temp_dir();
  ASSERT(dir);
  struct issuer is;
  char err[256];
  ASSERT_INT_EQ(issuer_load(dir, &is, err, sizeof err), 0);
  struct jwk_set *keys = NULL;
  ASSERT_INT_EQ(jwk_set_parse(is.jwks, strlen(is.jwks), &keys, err, sizeof err), 0);
  const char *groups[] = {"group1", "group2"}, *aud[] = {"lab"}, *extra[] = {"level=3", "team=blue"};
  struct issuer_claims c = {.sub = "alice",
                            .aud = aud,
                            .aud_len = 1,
                            .groups = groups,
                            .groups_len = 2,
                            .scope = "read write",
                            .extra = extra,
                            .extra_len = 2};
  char *tok = NULL;
  ASSERT_INT_EQ(issuer_mint(&is, &c, NOW, &tok, err, sizeof err), 0);
  struct jwt t;
  struct jwt_expect ex = {ISSUER_NAME, aud, 1, JWT_DEFAULT_CLOCK_SKEW};
  EXPECT_INT_EQ(jwt_verify(tok, strlen(tok), keys, &ex, NOW, &t), JWT_OK);
  EXPECT_STR_EQ(t.principal, ISSUER_NAME "/alice");
  EXPECT_INT_EQ(json_integer_value(json_object_get(t.claims, "exp")), NOW + 3600);
  EXPECT_INT_EQ(json_integer_value(json_object_get(t.claims, "level")), 3);
  EXPECT_STR_EQ(json_string_value(json_object_get(t.claims, "team")), "blue");
  EXPECT_STR_EQ(json_string_value(json_array_get(json_object_get(t.claims, "groups"), 1)), "group2");
  EXPECT_STR_EQ(json_string_value(json_object_get(t.claims, "scope")), "read write");
  jwt_clear(&t);
  /* One hour later (plus the skew) it has expired. */
  EXPECT_INT_EQ(jwt_verify(tok, strlen(tok), keys, &ex, NOW + 3600 + 61, &t), JWT_EXPIRED);
  jwt_clear(&t);
  /* A flipped signature byte fails. */
  tok[strlen(tok) - 3] ^= 1;
  EXPECT(jwt_verify(tok, strlen(tok), keys, &ex, NOW, &t) != JWT_OK);
  jwt_clear(&t);
  free(tok);
  /* RS256 with the RSA key of the same set. */
  struct issuer_claims rs = {.alg = "RS256", .sub = "bob", .aud = aud, .aud_len = 1};
  ASSERT_INT_EQ(issuer_mint(&is, &rs, NOW, &tok, err, sizeof err), 0);
  EXPECT_INT_EQ(jwt_verify(tok, strlen(tok), keys, &ex, NOW, &t), JWT_OK);
  EXPECT_INT_EQ(t.alg, JWK_RS256);
  EXPECT_STR_EQ(t.kid, is.rsa_kid);
  EXPECT_STR_EQ(t.principal, ISSUER_NAME "/bob");
  jwt_clear(&t);
  free(tok);
  struct issuer_claims hs = {.alg = "HS256"};
  EXPECT_INT_EQ(issuer_mint(&is, &hs, NOW, &tok, err, sizeof err), -EINVAL);
  EXPECT_STR_CONTAINS(err, "ES256 or RS256");
  /* A bad --claim is refused with its reason. */
  const char *bad[] = {"=x"};
  struct issuer_claims cb = {.extra = bad, .extra_len = 1};
  EXPECT_INT_EQ(issuer_mint(&is, &cb, NOW, &tok, err, sizeof err), -EINVAL);
  EXPECT_STR_CONTAINS(err, "NAME=VALUE");
  jwk_set_free(keys);
  issuer_free(&is);
  remove_dir(dir);
}

static void owns_its_uris(void) {
  EXPECT(issuer_owns_uri(ISSUER_JWKS_URI));
  EXPECT(issuer_owns_uri("http://issuer.meshlab.local/jwks"));
  EXPECT(
      !issuer_owns_uri("https://raw.githubusercontent.com/istio/istio/release-1.24/security/tools/jwt/samples/"
                       "jwks.json"));
  EXPECT(!issuer_owns_uri("https://issuer.meshlab.local.evil.com/"));
}

TEST_CASES(TEST(base64url_round_trips), TEST(key_made_once_private), TEST(minted_tokens_verify), TEST(owns_its_uris))
