/* jwt: end-user authentication, Istio's RequestAuthentication as Envoy's jwt_authn filter runs
 * it. Pure: no I/O, no clock (the caller passes now), no global state.
 *
 * Where it sits: on the inbound request path, after the peer (mTLS) identity is known and before
 * authorization (authz.h). The proxy hands jwt_authenticate() the jwtRules of the
 * RequestAuthentications that select the workload, each with its key set (jwk.h), and the
 * request's headers and path; the outcome is one of Istio's three:
 *   - no token in any configured location → the request passes with no request principal (an
 *     AuthorizationPolicy must then demand one: requestPrincipals: ["*"]);
 *   - a token that fails (bad signature, unknown issuer, expired, malformed ...) → 401 with
 *     Envoy's body ("Jwt verification fails", "Jwt issuer is not configured", "Jwt is
 *     expired"), even where authorization would allow (istio/istio#24371);
 *   - a valid token → the principal "<iss>/<sub>", its claims, and the header edits that
 *     outputPayloadToHeader, outputClaimToHeaders and forwardOriginalToken ask of the proxy.
 *
 * Two layers, usable on their own: jwt_verify_signature() is the JWS layer (RFC 7515 compact
 * form: header checks, key selection, signature), which the conformance vectors exercise;
 * jwt_verify() adds the JWT claims (RFC 7519: iss, aud, exp, nbf with a clock skew).
 */
#ifndef MESHLAB_JWT_H
#define MESHLAB_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/jwk.h"
#include "mesh/resource.h"

struct json_t; /* jansson's json_t */

/* Envoy's default clock skew for exp and nbf (jwt_authn JwtProvider.clock_skew_seconds). */
#define JWT_DEFAULT_CLOCK_SKEW 60

/* Outcomes, not errors. Each maps to one Envoy status message (jwt_verdict_body). */
enum jwt_verdict {
  JWT_OK,
  JWT_MISSING,          /* no token where the rules look */
  JWT_MALFORMED,        /* not header.payload.signature of strict base64url, or bad JSON/claims */
  JWT_ALG_NOT_ALLOWED,  /* "none", HS256/384/512 (no shared secrets) or an unknown alg */
  JWT_KEY_IN_HEADER,    /* jwk, jku, x5u or x5c in the header: keys come from config only */
  JWT_UNKNOWN_KID,      /* no key in the set with the token's kid that can do its alg */
  JWT_BAD_SIGNATURE,    /* candidate keys exist; none verifies the signature */
  JWT_EXPIRED,          /* now > exp + skew */
  JWT_NOT_YET_VALID,    /* now + skew < nbf */
  JWT_ISSUER,           /* iss missing, or no jwtRule has it */
  JWT_AUDIENCE,         /* the rule lists audiences and aud has none of them */
  JWT_KEYS_UNAVAILABLE, /* the rule's key set is not loaded (jwksUri not fetched yet) */
};

/* "OK", "MALFORMED" ... (static). */
const char *jwt_verdict_name(enum jwt_verdict v);
/* Envoy's response body for the verdict ("Jwt is expired"); static. */
const char *jwt_verdict_body(enum jwt_verdict v);

/* A verified (or partly parsed) token. Owned by whoever holds it; release with jwt_clear(). */
struct jwt {
  enum jwk_alg alg;
  char *kid;             /* owned; NULL without one */
  struct json_t *header; /* owned JSON object */
  uint8_t *payload;      /* owned decoded payload, NUL-terminated */
  size_t payload_len;
  struct json_t *claims; /* owned JSON object (jwt_verify only; NULL at the JWS layer) */
  const char *iss, *sub; /* borrowed from claims; NULL when absent */
  char *principal;       /* owned "<iss>/<sub>"; NULL unless both are set (Istio's rule) */
  const struct jwk *key; /* the key that verified (borrowed from the set) */
  char reason[200];      /* one line for the decision trace, on success or failure */
};

/* Releases what a struct jwt owns and zeroes it; safe on a zeroed struct. */
void jwt_clear(struct jwt *t);

/* The JWS layer: splits token (borrowed, len bytes) into exactly three base64url parts, decodes
 * each strictly, parses the header (a JSON object without duplicate members; alg required; kid
 * and typ strings when present), refuses alg none/HS*, embedded keys and any "crit", picks the
 * candidate keys (kid equal, or a key without kid; the key's type and alg must fit the token's
 * alg) and checks the signature over "header.payload". Fills out (zeroed first; release with
 * jwt_clear whatever the verdict). */
enum jwt_verdict jwt_verify_signature(const char *token, size_t len, const struct jwk_set *keys, struct jwt *out);

/* What a jwtRule demands of a token's claims. */
struct jwt_expect {
  const char *issuer;           /* required iss; NULL accepts any */
  const char *const *audiences; /* aud must hold one of them; none: any audience */
  size_t audiences_len;
  int64_t clock_skew; /* seconds, usually JWT_DEFAULT_CLOCK_SKEW */
};

/* The JWT layer, in Envoy's order (jwt_authn's authenticator: issuer, then time, then
 * audiences, then keys and signature): the payload must be a JSON object; iss (string) must
 * equal expect->issuer; exp and nbf, when present, must be integers with now <= exp + skew and
 * now + skew >= nbf; aud (string or array of strings) must hold an expected audience; then the
 * JWS layer. now is seconds since the epoch. On JWT_OK out holds the claims and principal. */
enum jwt_verdict jwt_verify(const char *token, size_t len, const struct jwk_set *keys, const struct jwt_expect *expect,
                            int64_t now, struct jwt *out);

/* ---- RequestAuthentication -------------------------------------------------------------------- */

/* One jwtRule of a RequestAuthentication that applies to the workload, with its key set. */
struct jwt_provider {
  const struct resource_jwt_rule *rule; /* borrowed */
  const struct jwk_set *keys;           /* borrowed; NULL while a jwksUri is not fetched */
};

struct jwt_header_kv {
  const char *name; /* compared case-insensitively */
  const char *value;
};

/* The parts of a request authentication looks at. All borrowed. */
struct jwt_request {
  const struct jwt_header_kv *headers;
  size_t headers_len;
  const char *path; /* with its query string: "/headers?access_token=..." */
};

/* Where the token was found. */
enum jwt_location_kind {
  JWT_LOC_NONE,
  JWT_LOC_HEADER,
  JWT_LOC_PARAM,
  JWT_LOC_COOKIE,
};

struct jwt_outcome {
  enum jwt_verdict verdict; /* JWT_MISSING: pass without principal; JWT_OK: pass; else 401 */
  int status;               /* 0 (pass) or 401 */
  const char *body;         /* Envoy's 401 body (static); NULL when passing */
  size_t provider;          /* index of the rule that verified or refused the token */
  bool provider_set;
  enum jwt_location_kind location;
  const char *location_name; /* header, param or cookie name (borrowed from the rule) */
  struct jwt token;          /* principal, claims, reason */
  /* The proxy's edits on JWT_OK. */
  const char *strip_header;            /* forwardOriginalToken false, token from a header: remove it */
  const char *payload_header;          /* outputPayloadToHeader: set it to payload_value */
  char *payload_value;                 /* owned: the token's payload segment, base64url */
  struct jwt_header_kv *claim_headers; /* outputClaimToHeaders with a claim present; values owned */
  size_t claim_headers_len;
};

/* Runs Istio's RequestAuthentication for one request: finds the first token in the rules'
 * locations (each rule's fromHeaders with their prefix, fromParams, fromCookies; a rule with
 * none of them uses Authorization: "Bearer " then ?access_token=), picks the rule whose issuer
 * is the token's iss and that looks where the token was found, and verifies with its key set,
 * audiences and JWT_DEFAULT_CLOCK_SKEW at now. Fills out (zeroed first); release with
 * jwt_outcome_clear. */
void jwt_authenticate(const struct jwt_provider *providers, size_t n, const struct jwt_request *req, int64_t now,
                      struct jwt_outcome *out);

/* Releases what an outcome owns and zeroes it; safe on a zeroed struct. */
void jwt_outcome_clear(struct jwt_outcome *out);

#endif
