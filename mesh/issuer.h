/* issuer: the lab's own JWT issuer, so lessons on RequestAuthentication need no outside tool.
 *
 * Where it sits: `meshlab token` mints test tokens with it, and the lab serves its key set
 * (GET /v1/jwks, and to sidecars fetching a jwksUri that names it). The signing key is an
 * ES256 (P-256) key generated on first use into the lab state folder as `issuer.key` (mode
 * 0600; only the public half ever leaves it). A RequestAuthentication trusts it with
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
  char *pem;  /* owned private key */
  char *jwks; /* owned public JWK Set text */
  char *kid;  /* owned */
};

/* Loads dir/issuer.key, creating it (0600, exclusively: two first uses agree on one key) when
 * missing. Returns 0 and fills is (release with issuer_free), or a negative errno with a
 * one-line reason in err. */
int issuer_load(const char *dir, struct issuer *is, char *err, size_t errlen);
void issuer_free(struct issuer *is);

/* Whether uri names the lab's own key set: ISSUER_JWKS_URI, anything under
 * https://issuer.meshlab.local/ or http://issuer.meshlab.local/. */
int issuer_owns_uri(const char *uri);

/* What a minted token says. Strings borrowed; NULL or 0 leaves a claim out. */
struct issuer_claims {
  const char *iss;          /* NULL: ISSUER_NAME */
  const char *sub;          /* NULL: "tester" */
  const char *const *aud;   /* audiences; one is written as a string, several as an array */
  size_t aud_len;
  const char *const *groups; /* "groups": [...] */
  size_t groups_len;
  const char *scope;        /* "scope": "a b" */
  int64_t exp_seconds;      /* lifetime; 0: one hour; negative: already expired that long ago */
  const char *const *extra; /* "k=v": v as JSON when it parses (numbers, arrays, objects), else a string */
  size_t extra_len;
};

/* Mints a compact JWS signed ES256 with the issuer's key: header {alg, kid, typ: JWT}, payload
 * iss, sub, aud, iat = now, exp = now + lifetime, and the rest. Returns 0 and the owned token
 * in *token, or -EINVAL with the reason in err (a bad --claim), -ENOMEM, -EIO. */
int issuer_mint(const struct issuer *is, const struct issuer_claims *c, int64_t now, char **token, char *err,
                size_t errlen);

#endif
