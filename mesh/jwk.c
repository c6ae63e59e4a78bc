/* jwk: JSON Web Keys into OpenSSL keys, and JWS signature checks with them (see jwk.h).
 *
 * This is the only file of the JWT/authorization concern that includes OpenSSL. Everything here
 * uses the OpenSSL 3 API: keys are built from OSSL_PARAMs (no RSA_ / EC_KEY_ calls, which
 * OpenSSL 3 deprecates) and every signature goes through EVP_DigestVerify, so the padding checks,
 * the ECDSA range checks (r, s in [1, n-1]) and the curve arithmetic are OpenSSL's, not ours.
 */
#include "mesh/jwk.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/* ---- base64url (RFC 4648 section 5, RFC 7515 section 2) ------------------------------------- */

static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

int jwk_base64url_decode(const char *in, size_t len, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  /* A length of 1 mod 4 cannot encode whole bytes. Padding ('=') is not allowed in JWS. */
  if (len % 4 == 1) return -EINVAL;
  uint8_t *buf = malloc(len * 3 / 4 + 1);
  if (buf == NULL) return -ENOMEM;
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64url_value((unsigned char)in[i]);
    if (v < 0) {
      free(buf);
      return -EINVAL;
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[n++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  /* The leftover bits of the last character must be zero: otherwise "AB" and "AA" would both
   * decode to one 0x00 byte, and a signature over one text would cover another (Wycheproof
   * "ModifiedUnusedBitsInPayload"). */
  if (acc != 0) {
    free(buf);
    return -EINVAL;
  }
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return 0;
}

/* ---- algorithms ----------------------------------------------------------------------------- */

static const struct {
  const char *name;
  enum jwk_alg alg;
} ALGS[] = {
    {"RS256", JWK_RS256}, {"RS384", JWK_RS384}, {"RS512", JWK_RS512}, {"PS256", JWK_PS256}, {"PS384", JWK_PS384},
    {"PS512", JWK_PS512}, {"ES256", JWK_ES256}, {"ES384", JWK_ES384}, {"ES512", JWK_ES512}, {"EdDSA", JWK_EDDSA},
};

enum jwk_alg jwk_alg_from_name(const char *name) {
  for (size_t i = 0; name && i < sizeof ALGS / sizeof ALGS[0]; i++)
    if (strcmp(ALGS[i].name, name) == 0) return ALGS[i].alg;
  return JWK_ALG_UNKNOWN;
}

const char *jwk_alg_name(enum jwk_alg alg) {
  for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
    if (ALGS[i].alg == alg) return ALGS[i].name;
  return "unknown";
}

/* The message digest an algorithm signs with; NULL for EdDSA, which hashes internally. */
static const EVP_MD *alg_md(enum jwk_alg alg) {
  switch (alg) {
  case JWK_RS256:
  case JWK_PS256:
  case JWK_ES256:
    return EVP_sha256();
  case JWK_RS384:
  case JWK_PS384:
  case JWK_ES384:
    return EVP_sha384();
  case JWK_RS512:
  case JWK_PS512:
  case JWK_ES512:
    return EVP_sha512();
  case JWK_EDDSA:
  case JWK_ALG_UNKNOWN:
    return NULL;
  }
  return NULL;
}

/* The curve an ES* algorithm requires (RFC 7518 section 3.4). */
static const char *alg_curve(enum jwk_alg alg) {
  switch (alg) {
  case JWK_ES256:
    return "P-256";
  case JWK_ES384:
    return "P-384";
  case JWK_ES512:
    return "P-521";
  case JWK_RS256:
  case JWK_RS384:
  case JWK_RS512:
  case JWK_PS256:
  case JWK_PS384:
  case JWK_PS512:
  case JWK_EDDSA:
  case JWK_ALG_UNKNOWN:
    return NULL;
  }
  return NULL;
}

static enum jwk_kty alg_kty(enum jwk_alg alg) {
  if (alg >= JWK_ES256 && alg <= JWK_ES512) return JWK_KTY_EC;
  if (alg == JWK_EDDSA) return JWK_KTY_OKP;
  return JWK_KTY_RSA;
}

bool jwk_fits(const struct jwk *key, enum jwk_alg alg) {
  if (alg == JWK_ALG_UNKNOWN || key->kty != alg_kty(alg)) return false;
  if (key->alg != JWK_ALG_UNKNOWN && key->alg != alg) return false;
  if (key->kty == JWK_KTY_EC && strcmp(key->crv, alg_curve(alg)) != 0) return false;
  return true;
}

/* ---- key parsing ---------------------------------------------------------------------------- */

struct curve {
  const char *jwk_name; /* "crv" */
  const char *ossl_name;
  size_t size;   /* coordinate (EC) or key (OKP) bytes */
  unsigned bits; /* field bits */
  enum jwk_kty kty;
};
static const struct curve CURVES[] = {
    {"P-256", "P-256", 32, 256, JWK_KTY_EC},  {"P-384", "P-384", 48, 384, JWK_KTY_EC},
    {"P-521", "P-521", 66, 521, JWK_KTY_EC},  {"Ed25519", "ED25519", 32, 255, JWK_KTY_OKP},
    {"Ed448", "ED448", 57, 448, JWK_KTY_OKP},
};

struct kctx {
  char *why;
  size_t why_size;
  size_t index;
  const char *kid;
};

static int fail(struct kctx *k, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (k->kid) snprintf(k->why, k->why_size, "keys[%zu] (kid \"%s\"): %s", k->index, k->kid, msg);
  else snprintf(k->why, k->why_size, "keys[%zu]: %s", k->index, msg);
  return -EINVAL;
}

/* A required base64url member; returns 0 with owned bytes or fails naming the member. */
static int member_bytes(struct kctx *k, json_t *jwk, const char *name, uint8_t **out, size_t *out_len) {
  json_t *v = json_object_get(jwk, name);
  if (!json_is_string(v)) return fail(k, "\"%s\" is missing or not a string", name);
  if (jwk_base64url_decode(json_string_value(v), json_string_length(v), out, out_len) < 0)
    return fail(k, "\"%s\" is not base64url without padding", name);
  if (*out_len == 0) {
    free(*out);
    *out = NULL;
    return fail(k, "\"%s\" is empty", name);
  }
  return 0;
}

/* ROCA (CVE-2017-15361): RSA moduli from Infineon's flawed generator are products of primes
 * of the form k*M + (65537^a mod M), so n mod each small prime p of M lies in the subgroup
 * that 65537 generates mod p. The published detector checks these primes; a random modulus
 * passes all of them with negligible probability. */
static bool rsa_roca_weak(const BIGNUM *n) {
  static const unsigned PRIMES[] = {3,   5,   7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,
                                    47,  53,  59,  61,  67,  71,  73,  79,  83,  89,  97,  101, 103,
                                    107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167};
  for (size_t i = 0; i < sizeof PRIMES / sizeof PRIMES[0]; i++) {
    unsigned p = PRIMES[i];
    BN_ULONG r = BN_mod_word(n, p);
    if (r == (BN_ULONG)-1 || r == 0) return false;
    unsigned g = 65537 % p, x = 1;
    bool in = false;
    do {
      if (x == r) {
        in = true;
        break;
      }
      x = x * g % p;
    } while (x != 1);
    if (!in) return false;
  }
  return true;
}

static EVP_PKEY *from_params(OSSL_PARAM_BLD *bld, const char *type) {
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *pkey = NULL;
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = NULL;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

static int parse_rsa(struct kctx *k, json_t *jwk, struct jwk *out) {
  uint8_t *n_bytes = NULL, *e_bytes = NULL;
  size_t n_len, e_len;
  BIGNUM *n = NULL, *e = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  int rc = member_bytes(k, jwk, "n", &n_bytes, &n_len);
  if (rc == 0) rc = member_bytes(k, jwk, "e", &e_bytes, &e_len);
  if (rc < 0) goto done;
  n = BN_bin2bn(n_bytes, (int)n_len, NULL);
  e = BN_bin2bn(e_bytes, (int)e_len, NULL);
  rc = -ENOMEM;
  if (n == NULL || e == NULL) goto done;
  out->bits = (unsigned)BN_num_bits(n);
  /* Wycheproof refuses 1024-bit keys; NIST SP 800-131A retired them in 2013. */
  if (out->bits < 2048) {
    rc = fail(k, "RSA modulus is %u bits; use at least 2048", out->bits);
    goto done;
  }
  /* e = 1 makes every "signature" its own message; an even e is not an RSA key. */
  if (BN_num_bits(e) < 2 || !BN_is_odd(e) || BN_cmp(e, n) >= 0) {
    rc = fail(k, "RSA public exponent is not an odd number from 3 up");
    goto done;
  }
  if (rsa_roca_weak(n)) {
    rc = fail(k, "RSA modulus has the ROCA fingerprint (CVE-2017-15361); regenerate the key");
    goto done;
  }
  bld = OSSL_PARAM_BLD_new();
  if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    goto done;
  out->pkey = (struct jwk_pkey *)from_params(bld, "RSA");
  rc = out->pkey ? 0 : fail(k, "OpenSSL refused the RSA key");
done:
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  free(n_bytes);
  free(e_bytes);
  return rc;
}

static const struct curve *find_curve(json_t *jwk, enum jwk_kty kty) {
  const char *crv = json_string_value(json_object_get(jwk, "crv"));
  for (size_t i = 0; crv && i < sizeof CURVES / sizeof CURVES[0]; i++)
    if (CURVES[i].kty == kty && strcmp(CURVES[i].jwk_name, crv) == 0) return &CURVES[i];
  return NULL;
}

static int parse_ec(struct kctx *k, json_t *jwk, struct jwk *out) {
  const struct curve *cv = find_curve(jwk, JWK_KTY_EC);
  if (cv == NULL) return fail(k, "EC \"crv\" must be P-256, P-384 or P-521");
  out->crv = cv->jwk_name;
  out->bits = cv->bits;
  uint8_t *x = NULL, *y = NULL;
  size_t x_len = 0, y_len = 0;
  OSSL_PARAM_BLD *bld = NULL;
  int rc = member_bytes(k, jwk, "x", &x, &x_len);
  if (rc == 0) rc = member_bytes(k, jwk, "y", &y, &y_len);
  if (rc < 0) goto done;
  /* RFC 7518 section 6.2.1.2: "the full octet string", so a P-256 coordinate is 32 bytes even
   * with leading zeros. A P-256 point presented as "crv": "P-384" fails here (Wycheproof
   * "wrong_curve"). */
  if (x_len != cv->size || y_len != cv->size) {
    rc = fail(k, "%s coordinates must be %zu bytes (x is %zu, y is %zu)", cv->jwk_name, cv->size, x_len, y_len);
    goto done;
  }
  uint8_t point[1 + 2 * 66];
  point[0] = 0x04; /* uncompressed SEC1 point: 04 || x || y */
  memcpy(point + 1, x, cv->size);
  memcpy(point + 1 + cv->size, y, cv->size);
  rc = -ENOMEM;
  bld = OSSL_PARAM_BLD_new();
  if (bld == NULL || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, cv->ossl_name, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * cv->size))
    goto done;
  EVP_PKEY *pkey = from_params(bld, "EC");
  /* fromdata decodes the point; the public check makes sure it is on the curve and not the
   * point at infinity (Wycheproof "invalid_point"). */
  EVP_PKEY_CTX *check = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
  if (pkey == NULL || check == NULL || EVP_PKEY_public_check(check) != 1) {
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_free(pkey);
    rc = fail(k, "the point (x, y) is not on %s", cv->jwk_name);
    goto done;
  }
  EVP_PKEY_CTX_free(check);
  out->pkey = (struct jwk_pkey *)pkey;
  rc = 0;
done:
  OSSL_PARAM_BLD_free(bld);
  free(x);
  free(y);
  return rc;
}

static int parse_okp(struct kctx *k, json_t *jwk, struct jwk *out) {
  const struct curve *cv = find_curve(jwk, JWK_KTY_OKP);
  if (cv == NULL) return fail(k, "OKP \"crv\" must be Ed25519 or Ed448 (RFC 8037)");
  out->crv = cv->jwk_name;
  out->bits = cv->bits;
  uint8_t *x = NULL;
  size_t x_len = 0;
  int rc = member_bytes(k, jwk, "x", &x, &x_len);
  if (rc < 0) return rc;
  if (x_len != cv->size) {
    free(x);
    return fail(k, "%s \"x\" must be %zu bytes, not %zu", cv->jwk_name, cv->size, x_len);
  }
  out->pkey = (struct jwk_pkey *)EVP_PKEY_new_raw_public_key_ex(NULL, cv->ossl_name, NULL, x, x_len);
  free(x);
  return out->pkey ? 0 : fail(k, "OpenSSL refused the %s key", cv->jwk_name);
}

/* Members that only a private (or symmetric) key has (RFC 7518 sections 6.3.2, 6.2.2, 6.4). */
static const char *const PRIVATE_MEMBERS[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL};

/* Parses keys[index]. Returns 1 for a usable key in *out, 0 for a key skipped (encryption use),
 * -EINVAL with a reason. */
static int parse_key(struct kctx *k, json_t *jwk, struct jwk *out) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(jwk)) return fail(k, "a key is a JSON object");
  json_t *kid = json_object_get(jwk, "kid");
  if (kid && !json_is_string(kid)) return fail(k, "\"kid\" is not a string");
  k->kid = json_string_value(kid);
  const char *kty = json_string_value(json_object_get(jwk, "kty"));
  if (kty == NULL) return fail(k, "\"kty\" is missing");
  if (strcmp(kty, "oct") == 0)
    return fail(k,
                "symmetric keys (kty \"oct\") are refused: meshlab verifies tokens with "
                "public keys only (RS*, PS*, ES*, EdDSA)");
  for (int i = 0; PRIVATE_MEMBERS[i]; i++)
    if (json_object_get(jwk, PRIVATE_MEMBERS[i]))
      return fail(k, "holds private key material (\"%s\"); publish only the public key", PRIVATE_MEMBERS[i]);
  /* RFC 7517 section 4.2/4.3: a key meant for encryption is not a verification key. */
  const char *use = json_string_value(json_object_get(jwk, "use"));
  json_t *ops = json_object_get(jwk, "key_ops");
  if (use && strcmp(use, "sig") != 0) return 0;
  if (ops) {
    bool verify = false;
    size_t i;
    json_t *op;
    if (!json_is_array(ops)) return fail(k, "\"key_ops\" is not an array");
    json_array_foreach(ops, i, op) verify |= json_is_string(op) && strcmp(json_string_value(op), "verify") == 0;
    if (!verify) return 0;
  }
  json_t *alg = json_object_get(jwk, "alg");
  /* A key whose alg is a JWE key-management algorithm (RFC 7518 section 4) is an encryption key
   * even without "use": Keycloak publishes RSA-OAEP keys beside its signing keys. */
  static const char *const JWE_ALGS[] = {"RSA1_5", "RSA-OAEP", "ECDH-ES", "dir", NULL};
  for (int i = 0; json_is_string(alg) && JWE_ALGS[i]; i++)
    if (strncmp(json_string_value(alg), JWE_ALGS[i], strlen(JWE_ALGS[i])) == 0) return 0;
  if (alg) {
    out->alg = jwk_alg_from_name(json_string_value(alg));
    /* "ES521" is not a registered name but a common spelling of ES512 in published keys (named
     * after the curve; Wycheproof's copy of RFC 7520's P-521 key has it). The curve check below
     * still ties it to P-521. */
    if (json_is_string(alg) && strcmp(json_string_value(alg), "ES521") == 0) out->alg = JWK_ES512;
    if (out->alg == JWK_ALG_UNKNOWN)
      return fail(k,
                  "\"alg\" %s is not a signature algorithm meshlab verifies (RS256/384/512, "
                  "PS256/384/512, ES256/384/512, EdDSA)",
                  json_is_string(alg) ? json_string_value(alg) : "(not a string)");
  }
  int rc;
  if (strcmp(kty, "RSA") == 0) {
    out->kty = JWK_KTY_RSA;
    rc = parse_rsa(k, jwk, out);
  } else if (strcmp(kty, "EC") == 0) {
    out->kty = JWK_KTY_EC;
    rc = parse_ec(k, jwk, out);
  } else if (strcmp(kty, "OKP") == 0) {
    out->kty = JWK_KTY_OKP;
    rc = parse_okp(k, jwk, out);
  } else {
    return fail(k, "\"kty\" %s is not RSA, EC or OKP", kty);
  }
  if (rc < 0) return rc;
  if (out->alg != JWK_ALG_UNKNOWN && !jwk_fits(out, out->alg)) {
    EVP_PKEY_free((EVP_PKEY *)out->pkey);
    out->pkey = NULL;
    return fail(k, "\"alg\" %s does not fit a %s%s%s key", jwk_alg_name(out->alg), kty, out->crv ? " " : "",
                out->crv ? out->crv : "");
  }
  if (k->kid && (out->kid = strdup(k->kid)) == NULL) {
    EVP_PKEY_free((EVP_PKEY *)out->pkey);
    return -ENOMEM;
  }
  return 1;
}

void jwk_set_free(struct jwk_set *set) {
  if (set == NULL) return;
  for (size_t i = 0; i < set->len; i++) {
    free(set->keys[i].kid);
    EVP_PKEY_free((EVP_PKEY *)set->keys[i].pkey);
  }
  free(set->keys);
  free(set);
}

int jwk_set_parse(const char *text, size_t len, struct jwk_set **out, char *why, size_t why_size) {
  *out = NULL;
  json_error_t err;
  /* Duplicate members ("kty" twice) are ambiguous: refuse them rather than pick one. */
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (root == NULL) {
    snprintf(why, why_size, "not JSON (%s at line %d)", err.text, err.line);
    return -EINVAL;
  }
  json_t *keys = json_object_get(root, "keys");
  json_t *single = NULL;
  if (keys == NULL && json_is_object(root) && json_object_get(root, "kty")) {
    single = json_array();
    json_array_append(single, root);
    keys = single;
  }
  int rc = -EINVAL;
  struct jwk_set *set = NULL;
  if (!json_is_array(keys) || json_array_size(keys) == 0) {
    snprintf(why, why_size, "no \"keys\" array with at least one key");
    goto done;
  }
  rc = -ENOMEM;
  set = calloc(1, sizeof *set);
  if (set == NULL || (set->keys = calloc(json_array_size(keys), sizeof *set->keys)) == NULL) goto done;
  size_t i;
  json_t *jwk;
  json_array_foreach(keys, i, jwk) {
    struct kctx k = {why, why_size, i, NULL};
    rc = parse_key(&k, jwk, &set->keys[set->len]);
    if (rc < 0) goto done;
    if (rc == 0) {
      set->skipped++;
      continue;
    }
    /* Two keys of one type with one kid make "which key signed this" ambiguous (Wycheproof
     * DuplicateKid). Keys of different types may share a kid, as RFC 7520 section 4.8's RSA and
     * EC keys do: a token's (kid, alg) still names exactly one. */
    struct jwk *key = &set->keys[set->len++];
    for (size_t j = 0; key->kid && j + 1 < set->len; j++) {
      const struct jwk *o = &set->keys[j];
      if (o->kid && strcmp(o->kid, key->kid) == 0 && o->kty == key->kty && o->crv == key->crv) {
        rc = fail(&k, "kid is also used by another %s key; key ids must be unique per key type",
                  key->crv ? key->crv : "RSA");
        goto done;
      }
    }
  }
  rc = -EINVAL;
  if (set->len == 0) {
    snprintf(why, why_size,
             "no key in the set is for signatures (all %zu are for encryption: \"use\": "
             "\"enc\", \"key_ops\" without \"verify\", or a JWE \"alg\")",
             set->skipped);
    goto done;
  }
  rc = 0;
  *out = set;
  set = NULL;
done:
  ERR_clear_error();
  jwk_set_free(set);
  json_decref(single);
  json_decref(root);
  return rc;
}

/* ---- verification --------------------------------------------------------------------------- */

/* JWS ECDSA signatures are R || S, each the curve's size (RFC 7518 section 3.4); OpenSSL
 * verifies the DER SEQUENCE { INTEGER r, INTEGER s }. Returns owned DER or NULL. */
static uint8_t *ecdsa_raw_to_der(const uint8_t *sig, size_t half, size_t *der_len) {
  ECDSA_SIG *es = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
  BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
  uint8_t *der = NULL;
  if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
    r = s = NULL; /* es owns them now */
    int n = i2d_ECDSA_SIG(es, &der);
    *der_len = n > 0 ? (size_t)n : 0;
    if (n <= 0) der = NULL;
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(es);
  return der;
}

bool jwk_verify(const struct jwk *key, enum jwk_alg alg, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                size_t sig_len) {
  if (key == NULL || key->pkey == NULL || !jwk_fits(key, alg)) return false;
  EVP_PKEY *pkey = (EVP_PKEY *)key->pkey;
  uint8_t *der = NULL;
  if (key->kty == JWK_KTY_EC) {
    size_t half = (key->bits + 7) / 8;
    /* Exactly 2 * size: a shorter or longer string is not a JWS ES signature (Wycheproof
     * "SignatureTooLong", "TrailingZeros"). */
    if (sig_len != 2 * half) return false;
    size_t der_len = 0;
    der = ecdsa_raw_to_der(sig, half, &der_len);
    if (der == NULL) return false;
    sig = der;
    sig_len = der_len;
  }
  bool ok = false;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  if (md && EVP_DigestVerifyInit(md, &pctx, alg_md(alg), NULL, pkey) == 1) {
    bool setup = true;
    if (alg >= JWK_PS256 && alg <= JWK_PS512) {
      /* RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the hash output. */
      setup = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg_md(alg)) == 1;
    } else if (key->kty == JWK_KTY_RSA) {
      setup = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    }
    ok = setup && EVP_DigestVerify(md, sig, sig_len, msg, msg_len) == 1;
  }
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  ERR_clear_error(); /* a refused signature leaves errors on OpenSSL's per-thread queue */
  return ok;
}

/* ---- signing ---------------------------------------------------------------------------------- */

int jwk_base64url_encode(const uint8_t *in, size_t len, char **out) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *o = malloc(len / 3 * 4 + 5);
  if (!o) return -ENOMEM;
  size_t k = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    o[k++] = al[v >> 18 & 63], o[k++] = al[v >> 12 & 63], o[k++] = al[v >> 6 & 63], o[k++] = al[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    o[k++] = al[v >> 18 & 63], o[k++] = al[v >> 12 & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    o[k++] = al[v >> 18 & 63], o[k++] = al[v >> 12 & 63], o[k++] = al[v >> 6 & 63];
  }
  o[k] = '\0';
  *out = o;
  return 0;
}

int jwk_signing_key_generate(enum jwk_alg alg, char **pem) {
  *pem = NULL;
  EVP_PKEY *key = alg == JWK_RS256   ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                  : alg == JWK_ES256 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                     : NULL;
  if (!key) return alg == JWK_RS256 || alg == JWK_ES256 ? -EIO : -EINVAL;
  BIO *bio = BIO_new(BIO_s_mem());
  int rc = -ENOMEM;
  if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1) {
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0 && (*pem = strndup(data, (size_t)n))) rc = 0;
  }
  BIO_free(bio);
  EVP_PKEY_free(key);
  return rc;
}

/* The private key in pem if it can sign alg: a P-256 key for ES256, an RSA key of at least 2048
 * bits for RS256; else NULL. */
static EVP_PKEY *load_signing_key(const char *pem, enum jwk_alg alg) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  char group[32] = "";
  bool fits = key && (alg == JWK_ES256 ? EVP_PKEY_is_a(key, "EC") &&
                                             EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                                            sizeof group, NULL) &&
                                             strcmp(group, "prime256v1") == 0
                      : alg == JWK_RS256 ? EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048
                                         : false);
  if (!fits) {
    EVP_PKEY_free(key);
    key = NULL;
  }
  ERR_clear_error();
  return key;
}

static char *bn_base64url(EVP_PKEY *key, const char *name) {
  BIGNUM *bn = NULL;
  char *out = NULL;
  if (EVP_PKEY_get_bn_param(key, name, &bn) == 1) {
    int n = BN_num_bytes(bn);
    uint8_t *bytes = malloc(n > 0 ? (size_t)n : 1);
    if (bytes && BN_bn2bin(bn, bytes) == n) jwk_base64url_encode(bytes, (size_t)n, &out);
    free(bytes);
  }
  BN_free(bn);
  return out;
}

int jwk_signing_key_public(const char *pem, enum jwk_alg alg, char **jwk, char **kid) {
  *jwk = NULL;
  if (kid) *kid = NULL;
  EVP_PKEY *key = load_signing_key(pem, alg);
  if (!key) return -EINVAL;
  int rc = -EINVAL;
  char *a = NULL, *b = NULL, id[40];
  json_t *o = NULL;
  if (alg == JWK_ES256) {
    uint8_t point[65];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &n) == 1 && n == 65 &&
        point[0] == 0x04 && jwk_base64url_encode(point + 1, 32, &a) == 0 &&
        jwk_base64url_encode(point + 33, 32, &b) == 0) {
      snprintf(id, sizeof id, "meshlab-%.12s", a);
      o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "kid", id, "alg", "ES256", "use",
                    "sig", "x", a, "y", b);
    }
  } else if ((a = bn_base64url(key, OSSL_PKEY_PARAM_RSA_N)) && (b = bn_base64url(key, OSSL_PKEY_PARAM_RSA_E))) {
    snprintf(id, sizeof id, "meshlab-rsa-%.12s", a);
    o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", id, "alg", "RS256", "use", "sig", "n", a, "e", b);
  }
  if (o) {
    *jwk = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    rc = *jwk ? 0 : -ENOMEM;
    if (rc == 0 && kid && !(*kid = strdup(id))) rc = -ENOMEM;
  }
  json_decref(o);
  free(a);
  free(b);
  EVP_PKEY_free(key);
  return rc;
}

int jwk_sign(const char *pem, enum jwk_alg alg, const uint8_t *msg, size_t len, char **sig) {
  *sig = NULL;
  EVP_PKEY *key = load_signing_key(pem, alg);
  if (!key) return -EINVAL;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  size_t out_len = 0;
  uint8_t *out = NULL;
  int rc = -EIO;
  if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
      EVP_DigestSign(md, NULL, &out_len, msg, len) == 1 && (out = malloc(out_len)) &&
      EVP_DigestSign(md, out, &out_len, msg, len) == 1) {
    if (alg == JWK_RS256) {
      rc = jwk_base64url_encode(out, out_len, sig); /* RSASSA-PKCS1-v1_5: the signature as is */
    } else {
      /* OpenSSL writes ECDSA-Sig-Value (DER); JWS wants R and S as two 32-byte big-endian halves. */
      const unsigned char *p = out;
      ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)out_len);
      uint8_t raw[64];
      if (es && BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) == 32 &&
          BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) == 32)
        rc = jwk_base64url_encode(raw, sizeof raw, sig);
      ECDSA_SIG_free(es);
    }
  }
  free(out);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  return rc;
}
