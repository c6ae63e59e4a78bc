/* Shared by the JOSE tests (test_jwt.c: the conformance vectors and Istio's demo tokens;
 * test_jwt_claims.c: refusals, accepted edge cases and RequestAuthentication outcomes):
 * reading ../shared/conformance files (jose-vectors links followed), key sets from JSON, and
 * Istio's jwt-samples. Header-only, like bookinfo_world.h.
 *
 * Time: no test reads the clock. Istio's demo.jwt expires in 2118 and groups-scope.jwt in 2082;
 * the tests pass now = FIXED_NOW (2023-11-14T22:13:20Z) so they behave the same in any year. */
#ifndef TESTS_MESH_JWT_FIXTURES_H
#define TESTS_MESH_JWT_FIXTURES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/jwk.h"
#include "mesh/jwt.h"
#include "support/test.h"

#define FIXED_NOW 1700000000LL
#define ISTIO_ISS "testing@secure.istio.io"

static inline char *read_conf(const char *dir, const char *sub, const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
  size_t n = 0;
  char *s = test_read_file(path, &n);
  /* jose-vectors stores some keys as links: the file's text names another file. */
  if (s && n > 0 && s[0] != '{' && strncmp(s, "rfc", 3) == 0) {
    char other[256];
    snprintf(other, sizeof other, "%.*s", (int)strcspn(s, "\r\n"), s);
    free(s);
    return read_conf(dir, sub, other, len);
  }
  while (s && n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0'; /* the Istio samples end in a newline */
  if (len) *len = n;
  return s;
}

static inline json_t *load_json(const char *dir, const char *sub, const char *name) {
  char *s = read_conf(dir, sub, name, NULL);
  json_error_t err;
  json_t *j = s ? json_loads(s, 0, &err) : NULL;
  free(s);
  return j;
}

static inline uint8_t *hex_decode(const char *hex, size_t *len) {
  size_t n = strlen(hex) / 2;
  uint8_t *out = malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  *len = n;
  return out;
}

/* Parses a JSON key or key set; returns NULL (why filled) when refused. */
static inline struct jwk_set *keys_from_json(json_t *j, char *why, size_t why_size) {
  char *text = json_dumps(j, JSON_COMPACT);
  struct jwk_set *set = NULL;
  if (jwk_set_parse(text, strlen(text), &set, why, why_size) < 0) set = NULL;
  free(text);
  return set;
}

static inline struct jwk_set *keys_from_text(const char *text) {
  char why[256];
  struct jwk_set *set = NULL;
  if (jwk_set_parse(text, strlen(text), &set, why, sizeof why) < 0) {
    fprintf(stderr, "    key set refused: %s\n", why);
    return NULL;
  }
  return set;
}

/* Removes private members from a key or each key of a set (what an issuer publishes). */
static inline void strip_private(json_t *j) {
  static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", NULL};
  json_t *keys = json_object_get(j, "keys");
  if (keys) {
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) strip_private(k);
    return;
  }
  for (int i = 0; priv[i]; i++) json_object_del(j, priv[i]);
}

static inline bool is_symmetric(json_t *j) {
  json_t *keys = json_object_get(j, "keys");
  if (keys) {
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) if (is_symmetric(k)) return true;
    return false;
  }
  const char *kty = json_string_value(json_object_get(j, "kty"));
  return kty && strcmp(kty, "oct") == 0;
}

/* Base64url without padding (JWS segments); returns owned text. */
static inline char *b64url(const uint8_t *in, size_t len) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *out = malloc(len * 4 / 3 + 4), *o = out;
  size_t i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *o++ = A[v >> 18], *o++ = A[(v >> 12) & 63], *o++ = A[(v >> 6) & 63], *o++ = A[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    *o++ = A[v >> 18], *o++ = A[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    *o++ = A[v >> 18], *o++ = A[(v >> 12) & 63], *o++ = A[(v >> 6) & 63];
  }
  *o = '\0';
  return out;
}

/* Istio's jwt-samples: its JWKS, demo.jwt and groups-scope.jwt. */
struct istio {
  struct jwk_set *keys;
  char *jwks, *demo, *groups;
};

static inline bool istio_load(const char *dir, struct istio *is) {
  memset(is, 0, sizeof *is);
  is->jwks = read_conf(dir, "istio/jwt-samples", "jwks.json", NULL);
  is->demo = read_conf(dir, "istio/jwt-samples", "demo.jwt", NULL);
  is->groups = read_conf(dir, "istio/jwt-samples", "groups-scope.jwt", NULL);
  is->keys = is->jwks ? keys_from_text(is->jwks) : NULL;
  return is->keys && is->demo && is->groups;
}

static inline void istio_free(struct istio *is) {
  jwk_set_free(is->keys);
  free(is->jwks);
  free(is->demo);
  free(is->groups);
}

/* istio_load, failing the running case when the samples cannot be read (is is then freed). */
static inline bool istio_require(const char *dir, struct istio *is) {
  if (istio_load(dir, is)) return true;
  istio_free(is);
  test_fail(__FILE__, __LINE__, "cannot load istio/jwt-samples");
  return false;
}

#endif
