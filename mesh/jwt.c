/* jwt: compact JWS verification, JWT claim checks and Istio's RequestAuthentication outcome
 * (see jwt.h). No OpenSSL here: signatures are jwk.c's job; this file is the JOSE and Istio
 * logic around them. Status messages are Envoy's (jwt_verify_lib's status.cc), because those are
 * the 401 bodies learners see with curl.
 */
#include "mesh/jwt.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
  const char *name, *body;
} VERDICTS[] = {
    [JWT_OK] = {"OK", NULL},
    [JWT_MISSING] = {"MISSING", "Jwt is missing"},
    [JWT_MALFORMED] = {"MALFORMED", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
    [JWT_ALG_NOT_ALLOWED] = {"ALG_NOT_ALLOWED", "Jwt header [alg] is not supported"},
    [JWT_KEY_IN_HEADER] = {"KEY_IN_HEADER", "Jwt verification fails"},
    [JWT_UNKNOWN_KID] = {"UNKNOWN_KID", "Jwks doesn't have key to match kid or alg from Jwt"},
    [JWT_BAD_SIGNATURE] = {"BAD_SIGNATURE", "Jwt verification fails"},
    [JWT_EXPIRED] = {"EXPIRED", "Jwt is expired"},
    [JWT_NOT_YET_VALID] = {"NOT_YET_VALID", "Jwt not yet valid"},
    [JWT_ISSUER] = {"ISSUER", "Jwt issuer is not configured"},
    [JWT_AUDIENCE] = {"AUDIENCE", "Audiences in Jwt are not allowed"},
    [JWT_KEYS_UNAVAILABLE] = {"KEYS_UNAVAILABLE", "Jwks remote fetch is failed"},
};

const char *jwt_verdict_name(enum jwt_verdict v) {
  return (size_t)v < sizeof VERDICTS / sizeof VERDICTS[0] ? VERDICTS[v].name : "?";
}

const char *jwt_verdict_body(enum jwt_verdict v) {
  return (size_t)v < sizeof VERDICTS / sizeof VERDICTS[0] ? VERDICTS[v].body : NULL;
}

void jwt_clear(struct jwt *t) {
  free(t->kid);
  json_decref(t->header);
  free(t->payload);
  json_decref(t->claims);
  free(t->principal);
  memset(t, 0, sizeof *t);
}

static enum jwt_verdict refuse(struct jwt *t, enum jwt_verdict v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->reason, sizeof t->reason, fmt, ap);
  va_end(ap);
  return v;
}

/* ---- the JWS layer -------------------------------------------------------------------------- */

/* A token split at its two dots; the slices borrow the token. */
struct parts {
  const char *seg[3];
  size_t len[3];
  size_t signed_len; /* "header.payload", what the signature covers */
};

static bool split(const char *token, size_t len, struct parts *p) {
  const char *dot1 = memchr(token, '.', len);
  if (dot1 == NULL) return false;
  const char *rest = dot1 + 1;
  const char *dot2 = memchr(rest, '.', len - (size_t)(rest - token));
  if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
    return false; /* one dot is not a JWS; three or more is JWE (5 parts) or junk */
  p->seg[0] = token;
  p->len[0] = (size_t)(dot1 - token);
  p->seg[1] = rest;
  p->len[1] = (size_t)(dot2 - rest);
  p->seg[2] = dot2 + 1;
  p->len[2] = len - (size_t)(dot2 + 1 - token);
  p->signed_len = (size_t)(dot2 - token);
  return true;
}

/* Header members that would let the token name its own key. Accepting any of them is the classic
 * "attacker-provided embedded JWK" bypass (Wycheproof rejectsAttackerProvidedEmbeddedJwk,
 * CVE-2018-0114); in a mesh the keys come only from the RequestAuthentication. */
static const char *const KEY_HEADERS[] = {"jwk", "jku", "x5u", "x5c", NULL};

/* Decodes and parses the header and payload; no keys involved. sig gets the decoded signature. */
static enum jwt_verdict parse_jws(const char *token, size_t len, struct jwt *out, struct parts *p, uint8_t **sig,
                                  size_t *sig_len) {
  if (!split(token, len, p))
    return refuse(out, JWT_MALFORMED, "not three dot-separated parts (header.payload.signature)");
  uint8_t *hdr = NULL;
  size_t hdr_len;
  /* Strict base64url for all three parts before anything else: a token has one spelling. */
  if (p->len[0] == 0 || jwk_base64url_decode(p->seg[0], p->len[0], &hdr, &hdr_len) < 0)
    return refuse(out, JWT_MALFORMED, "header is not base64url without padding");
  if (jwk_base64url_decode(p->seg[1], p->len[1], &out->payload, &out->payload_len) < 0) {
    free(hdr);
    return refuse(out, JWT_MALFORMED, "payload is not base64url without padding");
  }
  if (jwk_base64url_decode(p->seg[2], p->len[2], sig, sig_len) < 0) {
    free(hdr);
    return refuse(out, JWT_MALFORMED, "signature is not base64url without padding");
  }
  json_error_t err;
  out->header = json_loadb((const char *)hdr, hdr_len, JSON_REJECT_DUPLICATES, &err);
  free(hdr);
  if (!json_is_object(out->header)) return refuse(out, JWT_MALFORMED, "header is not a JSON object");
  json_t *alg = json_object_get(out->header, "alg");
  if (!json_is_string(alg)) return refuse(out, JWT_MALFORMED, "header has no \"alg\" string");
  json_t *kid = json_object_get(out->header, "kid");
  if (kid && !json_is_string(kid)) return refuse(out, JWT_MALFORMED, "header \"kid\" is not a string");
  json_t *typ = json_object_get(out->header, "typ");
  if (typ && !json_is_string(typ)) return refuse(out, JWT_MALFORMED, "header \"typ\" is not a string");
  if (kid && (out->kid = strdup(json_string_value(kid))) == NULL) return refuse(out, JWT_MALFORMED, "out of memory");
  const char *name = json_string_value(alg);
  out->alg = jwk_alg_from_name(name);
  if (strcmp(name, "none") == 0)
    return refuse(out, JWT_ALG_NOT_ALLOWED, "alg \"none\" (an unsigned token) is never accepted");
  if (name[0] == 'H' && name[1] == 'S')
    return refuse(out, JWT_ALG_NOT_ALLOWED,
                  "alg \"%s\" is HMAC: meshlab checks tokens only with "
                  "public keys, so a public key can never be misused as an HMAC secret",
                  name);
  if (out->alg == JWK_ALG_UNKNOWN)
    return refuse(out, JWT_ALG_NOT_ALLOWED,
                  "alg \"%s\" is not one of RS256/384/512, PS256/384/512, "
                  "ES256/384/512, EdDSA",
                  name);
  for (int i = 0; KEY_HEADERS[i]; i++)
    if (json_object_get(out->header, KEY_HEADERS[i]))
      return refuse(out, JWT_KEY_IN_HEADER,
                    "header carries \"%s\": the token may not choose its own "
                    "key; keys come from the RequestAuthentication",
                    KEY_HEADERS[i]);
  /* RFC 7515 section 4.1.11: a recipient must refuse extensions it does not understand. */
  if (json_object_get(out->header, "crit"))
    return refuse(out, JWT_MALFORMED, "header \"crit\" names extensions meshlab does not implement");
  return JWT_OK;
}

static enum jwt_verdict check_signature(const struct parts *p, const struct jwk_set *keys, const uint8_t *sig,
                                        size_t sig_len, struct jwt *out) {
  size_t candidates = 0;
  for (size_t i = 0; keys && i < keys->len; i++) {
    const struct jwk *k = &keys->keys[i];
    /* jwt_verify_lib's rule: a key with a kid only verifies tokens with that kid; a key without
     * one, or a token without one, tries every key whose type fits the alg. */
    if (out->kid && k->kid && strcmp(out->kid, k->kid) != 0) continue;
    if (!jwk_fits(k, out->alg)) continue;
    candidates++;
    if (jwk_verify(k, out->alg, (const uint8_t *)p->seg[0], p->signed_len, sig, sig_len)) {
      out->key = k;
      snprintf(out->reason, sizeof out->reason, "%s signature verified with key %s", jwk_alg_name(out->alg),
               k->kid ? k->kid : "(no kid)");
      return JWT_OK;
    }
  }
  if (candidates == 0)
    return refuse(out, JWT_UNKNOWN_KID, "no key in the set has kid \"%s\" and fits %s", out->kid ? out->kid : "(none)",
                  jwk_alg_name(out->alg));
  return refuse(out, JWT_BAD_SIGNATURE, "%s signature does not verify with %zu candidate key(s)",
                jwk_alg_name(out->alg), candidates);
}

enum jwt_verdict jwt_verify_signature(const char *token, size_t len, const struct jwk_set *keys, struct jwt *out) {
  memset(out, 0, sizeof *out);
  struct parts p;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  enum jwt_verdict v = parse_jws(token, len, out, &p, &sig, &sig_len);
  if (v == JWT_OK) v = check_signature(&p, keys, sig, sig_len, out);
  free(sig);
  return v;
}

/* ---- the JWT layer (RFC 7519) ---------------------------------------------------------------- */

static bool aud_has(json_t *aud, const char *want) {
  if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
  size_t i;
  json_t *a;
  json_array_foreach(aud, i, a) if (json_is_string(a) && strcmp(json_string_value(a), want) == 0) return true;
  return false;
}

enum jwt_verdict jwt_verify(const char *token, size_t len, const struct jwk_set *keys, const struct jwt_expect *expect,
                            int64_t now, struct jwt *out) {
  memset(out, 0, sizeof *out);
  struct parts p;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  enum jwt_verdict v = parse_jws(token, len, out, &p, &sig, &sig_len);
  if (v != JWT_OK) goto done;
  json_error_t err;
  out->claims = json_loadb((const char *)out->payload, out->payload_len, JSON_REJECT_DUPLICATES, &err);
  v = JWT_MALFORMED;
  if (!json_is_object(out->claims)) {
    refuse(out, v, "payload is not a JSON object");
    goto done;
  }
  json_t *iss = json_object_get(out->claims, "iss"), *sub = json_object_get(out->claims, "sub");
  json_t *exp = json_object_get(out->claims, "exp"), *nbf = json_object_get(out->claims, "nbf");
  json_t *aud = json_object_get(out->claims, "aud");
  if ((iss && !json_is_string(iss)) || (sub && !json_is_string(sub))) {
    refuse(out, v, "claim \"%s\" is not a string", iss && !json_is_string(iss) ? "iss" : "sub");
    goto done;
  }
  if ((exp && !json_is_integer(exp)) || (nbf && !json_is_integer(nbf))) {
    refuse(out, v, "claim \"%s\" is not an integer (seconds since the epoch)",
           exp && !json_is_integer(exp) ? "exp" : "nbf");
    goto done;
  }
  if (aud && !json_is_string(aud) && !json_is_array(aud)) {
    refuse(out, v, "claim \"aud\" is not a string or an array");
    goto done;
  }
  out->iss = json_string_value(iss);
  out->sub = json_string_value(sub);
  if (expect->issuer && (out->iss == NULL || strcmp(out->iss, expect->issuer) != 0)) {
    v = refuse(out, JWT_ISSUER, "iss \"%s\" is not the rule's issuer \"%s\"", out->iss ? out->iss : "(none)",
               expect->issuer);
    goto done;
  }
  /* Envoy: expired when now > exp + skew; not yet valid when now + skew < nbf. Written with
   * the skew on now's side so a huge exp (2^63 - 1) cannot overflow. */
  if (exp && now - expect->clock_skew > json_integer_value(exp)) {
    v = refuse(out, JWT_EXPIRED, "exp %lld is before now %lld (clock skew %llds)", (long long)json_integer_value(exp),
               (long long)now, (long long)expect->clock_skew);
    goto done;
  }
  if (nbf && now + expect->clock_skew < json_integer_value(nbf)) {
    v = refuse(out, JWT_NOT_YET_VALID, "nbf %lld is after now %lld (clock skew %llds)",
               (long long)json_integer_value(nbf), (long long)now, (long long)expect->clock_skew);
    goto done;
  }
  if (expect->audiences_len > 0) {
    bool ok = false;
    for (size_t i = 0; !ok && aud && i < expect->audiences_len; i++) ok = aud_has(aud, expect->audiences[i]);
    if (!ok) {
      v = refuse(out, JWT_AUDIENCE, "aud has none of the rule's %zu audience(s) (first \"%s\")", expect->audiences_len,
                 expect->audiences[0]);
      goto done;
    }
  }
  v = check_signature(&p, keys, sig, sig_len, out);
  if (v == JWT_OK && out->iss && out->sub) {
    size_t n = strlen(out->iss) + 1 + strlen(out->sub) + 1;
    out->principal = malloc(n);
    if (out->principal) snprintf(out->principal, n, "%s/%s", out->iss, out->sub);
  }
done:
  free(sig);
  return v;
}

/* ---- RequestAuthentication ------------------------------------------------------------------ */

static const struct resource_jwt_header DEFAULT_HEADER = {"Authorization", "Bearer "};
static const char *const DEFAULT_PARAM = "access_token";

static const char *header_get(const struct jwt_request *req, const char *name) {
  for (size_t i = 0; i < req->headers_len; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  return NULL;
}

/* A token slice found somewhere in the request. */
struct found {
  enum jwt_location_kind kind;
  const char *name;
  const char *tok;
  size_t len;
};

static bool find_in_header(const struct jwt_request *req, const struct resource_jwt_header *h, struct found *f) {
  const char *v = header_get(req, h->name);
  if (v == NULL) return false;
  if (h->prefix) {
    size_t n = strlen(h->prefix);
    if (strncmp(v, h->prefix, n) != 0)
      return false; /* Envoy: a header without the prefix holds no token for this location */
    v += n;
  }
  while (*v == ' ') v++;
  size_t len = strlen(v);
  while (len > 0 && v[len - 1] == ' ') len--;
  if (len == 0) return false;
  *f = (struct found){JWT_LOC_HEADER, h->name, v, len};
  return true;
}

/* ?a=1&access_token=xyz → "xyz". Values are taken as written: a JWT is URL-safe already. */
static bool find_in_query(const struct jwt_request *req, const char *name, struct found *f) {
  const char *q = req->path ? strchr(req->path, '?') : NULL;
  size_t n = strlen(name);
  while (q && *q) {
    q++;
    const char *end = strchr(q, '&');
    size_t seg = end ? (size_t)(end - q) : strlen(q);
    if (seg > n && strncmp(q, name, n) == 0 && q[n] == '=') {
      size_t vlen = seg - n - 1;
      const char *hash = memchr(q + n + 1, '#', vlen);
      if (hash) vlen = (size_t)(hash - (q + n + 1));
      if (vlen == 0) return false;
      *f = (struct found){JWT_LOC_PARAM, name, q + n + 1, vlen};
      return true;
    }
    q = end;
  }
  return false;
}

/* Cookie: a=1; name=xyz */
static bool find_in_cookie(const struct jwt_request *req, const char *name, struct found *f) {
  const char *c = header_get(req, "cookie");
  size_t n = strlen(name);
  while (c && *c) {
    while (*c == ' ' || *c == ';') c++;
    const char *end = strchr(c, ';');
    size_t seg = end ? (size_t)(end - c) : strlen(c);
    if (seg > n + 1 && strncmp(c, name, n) == 0 && c[n] == '=') {
      *f = (struct found){JWT_LOC_COOKIE, name, c + n + 1, seg - n - 1};
      return true;
    }
    c = end;
  }
  return false;
}

static bool rule_has_locations(const struct resource_jwt_rule *r) {
  return r->from_headers_len || r->from_params.len || r->from_cookies.len;
}

/* Looks in rule's locations in Istio's order: headers, params, cookies (defaults when the rule
 * names none). */
static bool find_for_rule(const struct resource_jwt_rule *r, const struct jwt_request *req, struct found *f) {
  if (!rule_has_locations(r)) return find_in_header(req, &DEFAULT_HEADER, f) || find_in_query(req, DEFAULT_PARAM, f);
  for (size_t i = 0; i < r->from_headers_len; i++)
    if (r->from_headers[i].name && find_in_header(req, &r->from_headers[i], f)) return true;
  for (size_t i = 0; i < r->from_params.len; i++)
    if (find_in_query(req, r->from_params.items[i], f)) return true;
  for (size_t i = 0; i < r->from_cookies.len; i++)
    if (find_in_cookie(req, r->from_cookies.items[i], f)) return true;
  return false;
}

/* Does the rule look where f was found? */
static bool rule_looks_at(const struct resource_jwt_rule *r, const struct found *f) {
  if (!rule_has_locations(r))
    return (f->kind == JWT_LOC_HEADER && strcasecmp(f->name, DEFAULT_HEADER.name) == 0) ||
           (f->kind == JWT_LOC_PARAM && strcmp(f->name, DEFAULT_PARAM) == 0);
  for (size_t i = 0; f->kind == JWT_LOC_HEADER && i < r->from_headers_len; i++)
    if (r->from_headers[i].name && strcasecmp(r->from_headers[i].name, f->name) == 0) return true;
  for (size_t i = 0; f->kind == JWT_LOC_PARAM && i < r->from_params.len; i++)
    if (strcmp(r->from_params.items[i], f->name) == 0) return true;
  for (size_t i = 0; f->kind == JWT_LOC_COOKIE && i < r->from_cookies.len; i++)
    if (strcmp(r->from_cookies.items[i], f->name) == 0) return true;
  return false;
}

/* The iss of a token before any verification, only to pick the rule (as Envoy does). */
static char *peek_issuer(const struct found *f) {
  struct jwt t = {0};
  struct parts p;
  uint8_t *sig = NULL;
  size_t sig_len;
  char *iss = NULL;
  if (parse_jws(f->tok, f->len, &t, &p, &sig, &sig_len) == JWT_OK) {
    json_error_t err;
    json_t *claims = json_loadb((const char *)t.payload, t.payload_len, 0, &err);
    const char *s = json_string_value(json_object_get(claims, "iss"));
    iss = s ? strdup(s) : NULL;
    json_decref(claims);
  }
  free(sig);
  jwt_clear(&t);
  return iss;
}

static char *claim_text(json_t *v) {
  char buf[32];
  if (json_is_string(v)) return strdup(json_string_value(v));
  if (json_is_integer(v)) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    return strdup(buf);
  }
  if (json_is_boolean(v)) return strdup(json_is_true(v) ? "true" : "false");
  return NULL; /* Envoy copies only primitive claims to headers */
}

static void fail_outcome(struct jwt_outcome *out, enum jwt_verdict v) {
  out->verdict = v;
  out->status = 401;
  out->body = jwt_verdict_body(v);
}

void jwt_authenticate(const struct jwt_provider *providers, size_t n, const struct jwt_request *req, int64_t now,
                      struct jwt_outcome *out) {
  memset(out, 0, sizeof *out);
  struct found f = {0};
  bool found = false;
  for (size_t i = 0; !found && i < n; i++) found = find_for_rule(providers[i].rule, req, &f);
  if (!found) {
    out->verdict = JWT_MISSING;
    snprintf(out->token.reason, sizeof out->token.reason, "no token: the request passes without a request principal");
    return;
  }
  out->location = f.kind;
  out->location_name = f.name;

  /* Pick the rule by the token's (unverified) issuer among those that look where it was. */
  char *iss = peek_issuer(&f);
  const struct jwt_provider *pv = NULL;
  for (size_t i = 0; iss && i < n; i++) {
    const struct resource_jwt_rule *r = providers[i].rule;
    if (r->issuer && strcmp(r->issuer, iss) == 0 && rule_looks_at(r, &f)) {
      pv = &providers[i];
      out->provider = i;
      out->provider_set = true;
      break;
    }
  }
  if (pv == NULL) {
    /* Either the token does not parse, or no rule has its issuer (at that location). Parse
     * problems get their own verdict; a token that parses but names a stranger is ISSUER. */
    enum jwt_verdict v = jwt_verify_signature(f.tok, f.len, NULL, &out->token);
    if (v == JWT_UNKNOWN_KID || v == JWT_OK) {
      v = JWT_ISSUER;
      snprintf(out->token.reason, sizeof out->token.reason, "iss \"%s\" has no jwtRule looking at %s %s",
               iss ? iss : "(none)",
               f.kind == JWT_LOC_HEADER  ? "header"
               : f.kind == JWT_LOC_PARAM ? "param"
                                         : "cookie",
               f.name);
    }
    free(iss);
    fail_outcome(out, v);
    return;
  }
  free(iss);
  const struct resource_jwt_rule *r = pv->rule;
  if (pv->keys == NULL) {
    snprintf(out->token.reason, sizeof out->token.reason, "the key set of issuer \"%s\" is not loaded (%s)", r->issuer,
             r->jwks_uri ? r->jwks_uri : "no jwks");
    fail_outcome(out, JWT_KEYS_UNAVAILABLE);
    return;
  }
  struct jwt_expect ex = {r->issuer, (const char *const *)r->audiences.items, r->audiences.len, JWT_DEFAULT_CLOCK_SKEW};
  enum jwt_verdict v = jwt_verify(f.tok, f.len, pv->keys, &ex, now, &out->token);
  if (v != JWT_OK) {
    fail_outcome(out, v);
    return;
  }
  out->verdict = JWT_OK;
  if (f.kind == JWT_LOC_HEADER && !r->forward_original_token.value) out->strip_header = f.name;
  if (r->output_payload_to_header) {
    /* Envoy forwards the payload as the token carries it: base64url, no padding. */
    const char *dot1 = memchr(f.tok, '.', f.len);
    const char *dot2 = memchr(dot1 + 1, '.', f.len - (size_t)(dot1 + 1 - f.tok));
    out->payload_header = r->output_payload_to_header;
    out->payload_value = strndup(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  }
  if (r->output_claim_to_headers_len) {
    out->claim_headers = calloc(r->output_claim_to_headers_len, sizeof *out->claim_headers);
    for (size_t i = 0; out->claim_headers && i < r->output_claim_to_headers_len; i++) {
      const struct resource_claim_header *ch = &r->output_claim_to_headers[i];
      char *val = ch->claim ? claim_text(json_object_get(out->token.claims, ch->claim)) : NULL;
      if (val) out->claim_headers[out->claim_headers_len++] = (struct jwt_header_kv){ch->header, val};
    }
  }
}

void jwt_outcome_clear(struct jwt_outcome *out) {
  jwt_clear(&out->token);
  free(out->payload_value);
  for (size_t i = 0; i < out->claim_headers_len; i++) free((char *)out->claim_headers[i].value);
  free(out->claim_headers);
  memset(out, 0, sizeof *out);
}
