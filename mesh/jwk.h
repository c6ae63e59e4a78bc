/* jwk: JSON Web Keys (RFC 7517, 7518 section 6) as verification keys, and the one place meshlab's
 * end-user authentication touches OpenSSL's crypto API.
 *
 * Where it sits: a RequestAuthentication's inline `jwks` (or, after integration, the body fetched
 * from `jwksUri`) is parsed here once into a jwk_set; jwt.c asks this module to check a JWS
 * signature with one of the set's keys. Keys become OpenSSL EVP_PKEYs through the OpenSSL 3
 * provider API (OSSL_PARAM_BLD + EVP_PKEY_fromdata), and signatures are checked with
 * EVP_DigestVerify: meshlab writes no cryptographic primitive itself. The header keeps OpenSSL's
 * types out of sight (struct jwk_pkey is opaque), so only jwk.c includes <openssl/...>.
 *
 * What a key set may hold, and why (the refusals are Wycheproof's JsonWebKey expectations):
 *   RSA (n, e): n at least 2048 bits, e odd and at least 3, not a ROCA-weak modulus;
 *   EC (crv P-256, P-384, P-521; x, y): coordinates exactly the curve's size, point on the curve;
 *   OKP (crv Ed25519, Ed448; x): exactly the curve's key size.
 * Refused outright, with a reason naming the key: symmetric keys (kty "oct": meshlab checks tokens
 * with public keys only, so an HMAC secret never sits in mesh config), private key members ("d",
 * "p", ...: publish only the public half), an "alg" the key type cannot do, a "crv" that does not
 * fit the coordinates, two keys of one type (and curve) sharing a "kid", malformed base64url.
 * Keys for encryption ("use": "enc", "key_ops" without "verify", or a JWE "alg" such as
 * RSA-OAEP) are skipped and counted; a set left with no signing key is refused.
 */
#ifndef MESHLAB_JWK_H
#define MESHLAB_JWK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The JWS algorithms meshlab verifies (RFC 7518 section 3, RFC 8037 for EdDSA). "none" and the
 * HMAC family (HS256/384/512) are deliberately absent: jwt.c refuses them by name. */
enum jwk_alg {
  JWK_ALG_UNKNOWN = 0,
  JWK_RS256,
  JWK_RS384,
  JWK_RS512,
  JWK_PS256,
  JWK_PS384,
  JWK_PS512,
  JWK_ES256,
  JWK_ES384,
  JWK_ES512,
  JWK_EDDSA,
};

enum jwk_kty {
  JWK_KTY_RSA,
  JWK_KTY_EC,
  JWK_KTY_OKP,
};

struct jwk_pkey; /* OpenSSL's EVP_PKEY, opaque outside jwk.c */

struct jwk {
  enum jwk_kty kty;
  char *kid;             /* owned; NULL when the key has none */
  enum jwk_alg alg;      /* the key's "alg"; JWK_ALG_UNKNOWN when absent */
  const char *crv;       /* "P-256" ... "Ed25519"; NULL for RSA (static string) */
  unsigned bits;         /* RSA modulus bits or the curve's field bits */
  struct jwk_pkey *pkey; /* owned */
};

struct jwk_set {
  struct jwk *keys; /* owned array */
  size_t len;
  size_t skipped; /* keys for encryption, left out */
};

/* Decodes base64url without padding (RFC 7515 section 2): only A-Z a-z 0-9 - _, no '=', no
 * whitespace, a length that is not 1 mod 4, and unused trailing bits zero (so each byte string
 * has exactly one encoding). Returns 0 and owned bytes in *out (NUL-terminated, *out_len bytes
 * before the NUL), or -EINVAL. */
int jwk_base64url_decode(const char *in, size_t len, uint8_t **out, size_t *out_len);

/* Parses a JWK Set ({"keys": [...]}) or a single JWK object from text (borrowed). Returns 0 and a
 * set owned by the caller (free with jwk_set_free), or -EINVAL with a one-line reason in why
 * ("keys[1] (kid \"a\"): RSA modulus is 1024 bits; use at least 2048"). */
int jwk_set_parse(const char *text, size_t len, struct jwk_set **out, char *why, size_t why_size);

/* Releases a set and its keys; NULL is a no-op. */
void jwk_set_free(struct jwk_set *set);

/* "RS256" ... "EdDSA" → enum; JWK_ALG_UNKNOWN for anything else (including "none", "HS256"). */
enum jwk_alg jwk_alg_from_name(const char *name);
/* The JWS name of alg ("RS256"); "unknown" for JWK_ALG_UNKNOWN. */
const char *jwk_alg_name(enum jwk_alg alg);

/* True when key can check an alg signature: the type and curve fit (ES256 needs P-256, EdDSA an
 * OKP key ...) and the key's own "alg", when it names one, is alg. */
bool jwk_fits(const struct jwk *key, enum jwk_alg alg);

/* Checks sig over msg (both borrowed) with key under alg. ES* signatures are the JWS form, the raw
 * R||S pair of exactly twice the curve's byte size (RFC 7518 section 3.4), converted here to the
 * DER that OpenSSL verifies; PS* use MGF1 with the same hash and a salt as long as the hash.
 * Returns true only for a signature that verifies; any mismatch (wrong key type, wrong length,
 * bad encoding) is false. */
bool jwk_verify(const struct jwk *key, enum jwk_alg alg, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                size_t sig_len);

/* ---- signing: the lab's own issuer (issuer.c, `meshlab token`) -------------------------------- */

/* Encodes len bytes as base64url without padding. Returns 0 and owned text in *out, or -ENOMEM. */
int jwk_base64url_encode(const uint8_t *in, size_t len, char **out);
/* Generates a fresh signing key for alg: ES256 (P-256) or RS256 (RSA 2048). Returns 0 and the
 * private key as owned PKCS#8 PEM text in *pem, -EINVAL for another alg, or -ENOMEM / -EIO. */
int jwk_signing_key_generate(enum jwk_alg alg, char **pem);
/* The public half of pem (borrowed), an alg key, as one JWK: {"kty": "EC", "crv": "P-256", "kid",
 * "alg": "ES256", "use": "sig", "x", "y"} or {"kty": "RSA", "kid", "alg": "RS256", "use": "sig",
 * "n", "e"}; the kid is "meshlab-" (RSA: "meshlab-rsa-") and the first 12 characters of x (n).
 * Returns 0 and owned JSON text in *jwk (and the kid, owned, in *kid when kid is not NULL), or
 * -EINVAL when pem is not a key for alg. */
int jwk_signing_key_public(const char *pem, enum jwk_alg alg, char **jwk, char **kid);
/* Signs msg (borrowed) with pem's key as JWS alg does (RFC 7518 section 3: SHA-256; ES256 as the
 * raw R||S pair, RS256 as RSASSA-PKCS1-v1_5), returning the base64url signature in *sig (owned).
 * Returns 0, -EINVAL (pem is not a key for alg), -ENOMEM or -EIO. */
int jwk_sign(const char *pem, enum jwk_alg alg, const uint8_t *msg, size_t len, char **sig);

#endif
