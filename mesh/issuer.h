/* issuer: the lab's own JWT issuer, so lessons on RequestAuthentication need no outside tool.
 *
 * Where it sits: `meshlab token` mints test tokens with it, and the lab serves its key set
 * (GET /v1/jwks, and to sidecars fetching a jwksUri that names it). Two signing keys, an ES256
 * (P-256) one in `issuer.key` and an RS256 (RSA 2048) one in `issuer-rs256.key`, are generated on
 * first use into the lab state folder (mode 0600; only their public halves ever leave it); the
 * JWK Set holds both. A RequestAuthentication trusts them with
 *
 *   jwtRules:
 *   - issuer: https://issuer.meshlab.local
 *     jwksUri: https://issuer.meshlab.local/.well-known/jwks.json   (served by the lab)
 *     # or, offline and explicit: jwks: '<the output of meshlab token --jwks>'
 */
#ifndef MESH_ISSUER_H
#define MESH_ISSUER_H

#include <stddef.h>
#include <stdint.h>

#define ISSUER_NAME "https://issuer.meshlab.local"
#define ISSUER_JWKS_URI "https://issuer.meshlab.local/.well-known/jwks.json"

struct issuer {
  char *pem, *kid;         /* owned: the ES256 private key and its kid */
  char *rsa_pem, *rsa_kid; /* owned: the RS256 private key and its kid */
  char *jwks;              /* owned: the public JWK Set text, both keys */
};

/* Loads dir/issuer.key and dir/issuer-rs256.key, creating each (0600, exclusively: two first
 * uses agree on one key) when missing. Returns 0 and fills is (release with issuer_free), or a
 * negative errno with a one-line reason in err. */
int issuer_load(const char *dir, struct issuer *is, char *err, size_t errlen);
void issuer_free(struct issuer *is);

/* Whether uri names the lab's own key set: ISSUER_JWKS_URI, anything under
 * https://issuer.meshlab.local/ or http://issuer.meshlab.local/. */
int issuer_owns_uri(const char *uri);

/* What a minted token says. Strings borrowed; NULL or 0 leaves a claim out. */
struct issuer_claims {
  const char *alg;        /* "ES256" (NULL) or "RS256" */
  const char *iss;        /* NULL: ISSUER_NAME */
  const char *sub;        /* NULL: "tester" */
  const char *const *aud; /* audiences; one is written as a string, several as an array */
  size_t aud_len;
  const char *const *groups; /* "groups": [...] */
  size_t groups_len;
  const char *scope;        /* "scope": "a b" */
  int64_t exp_seconds;      /* lifetime; 0: one hour; negative: already expired that long ago */
  const char *const *extra; /* "k=v": v as JSON when it parses (numbers, arrays, objects), else a string */
  size_t extra_len;
};

/* Mints a compact JWS signed with the issuer's key for c->alg: header {alg, kid, typ: JWT},
 * payload iss, sub, aud, iat = now, exp = now + lifetime, and the rest. Returns 0 and the owned
 * token in *token, or -EINVAL with the reason in err (a bad --claim, an alg other than ES256 and
 * RS256), -ENOMEM, -EIO. */
int issuer_mint(const struct issuer *is, const struct issuer_claims *c, int64_t now, char **token, char *err,
                size_t errlen);

#endif
