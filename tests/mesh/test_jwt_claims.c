/* Tests for mesh/jwk.c and mesh/jwt.c, part two: tables of refusals (malformed tokens, key
 * confusion, claims of the wrong type, the exp/nbf boundaries with their 60 s skew: exp + 60 s
 * accepted, exp + 61 s refused), accepted edge cases, and Istio's RequestAuthentication
 * outcomes (jwt_authenticate). The conformance vectors are in test_jwt.c.
 *
 * Tokens with chosen claims are minted here with the RSA private key RFC 7515 appendix A.2
 * publishes (so the test, not the module, includes OpenSSL's signing API).
 */
#include "mesh/jwk.h"
#include "mesh/jwt.h"

#include <jansson.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "jwt_fixtures.h"
#include "support/test.h"

/* ---- minting tokens with RFC 7515 A.2's private key ---------------------------------------- */

static EVP_PKEY *mint_key;

static BIGNUM *b64_bn(json_t *jwk, const char *name) {
  const char *s = json_string_value(json_object_get(jwk, name));
  uint8_t *b;
  size_t n;
  if (!s || jwk_base64url_decode(s, strlen(s), &b, &n) < 0) return NULL;
  BIGNUM *bn = BN_bin2bn(b, (int)n, NULL);
  free(b);
  return bn;
}

static bool mint_init(const char *dir) {
  if (mint_key) return true;
  json_t *jwk = load_json(dir, "jose-vectors", "rfc7515_A.2.jwk");
  if (!jwk) return false;
  BIGNUM *n = b64_bn(jwk, "n"), *e = b64_bn(jwk, "e"), *d = b64_bn(jwk, "d");
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d);
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &mint_key, EVP_PKEY_KEYPAIR, params) != 1)
    mint_key = NULL;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  BN_free(d);
  json_decref(jwk);
  return mint_key != NULL;
}

/* The public half of the minting key, with kid "mint". */
static struct jwk_set *mint_keys(const char *dir) {
  json_t *jwk = load_json(dir, "jose-vectors", "rfc7515_A.2.jwk");
  strip_private(jwk);
  json_object_set_new(jwk, "kid", json_string("mint"));
  char why[256];
  struct jwk_set *set = keys_from_json(jwk, why, sizeof why);
  json_decref(jwk);
  return set;
}

/* header and claims are JSON texts; signs RS256 unless sign is false (then the signature is
 * "c2ln", i.e. "sig"). Returns an owned compact token. */
static char *mint(const char *header, const char *claims, bool sign) {
  char *h = b64url((const uint8_t *)header, strlen(header));
  char *p = b64url((const uint8_t *)claims, strlen(claims));
  size_t n = strlen(h) + strlen(p) + 2;
  char *signing = malloc(n);
  snprintf(signing, n, "%s.%s", h, p);
  char *sig = NULL;
  if (sign && mint_key) {
    uint8_t raw[512];
    size_t raw_len = sizeof raw;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, mint_key) == 1 &&
        EVP_DigestSign(md, raw, &raw_len, (const uint8_t *)signing, strlen(signing)) == 1)
      sig = b64url(raw, raw_len);
    EVP_MD_CTX_free(md);
  }
  if (sig == NULL) sig = strdup("c2ln");
  size_t m = n + strlen(sig) + 1;
  char *tok = malloc(m);
  snprintf(tok, m, "%s.%s", signing, sig);
  free(h);
  free(p);
  free(signing);
  free(sig);
  return tok;
}

/* ---- refusals (table) ------------------------------------------------------------------------ */

struct refusal {
  const char *name;
  const char *token; /* literal, or NULL: built from header/claims */
  const char *header;
  const char *claims;
  bool sign;
  enum jwt_verdict want;
  const char *reason; /* substring of the trace reason */
};

#define GOOD_CLAIMS "{\"iss\":\"mint-issuer\",\"sub\":\"alice\",\"exp\":1700003600}"
#define MINT_HDR "{\"alg\":\"RS256\",\"kid\":\"mint\"}"

static const struct refusal REFUSALS[] = {
    {"empty token", "", NULL, NULL, false, JWT_MALFORMED, "three"},
    {"one part", "abc", NULL, NULL, false, JWT_MALFORMED, "three"},
    {"two parts", "eyJhbGciOiJSUzI1NiJ9.e30", NULL, NULL, false, JWT_MALFORMED, "three"},
    {"four parts", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln", NULL, NULL, false, JWT_MALFORMED, "three"},
    {"JWE (five parts)", "a.b.c.d.e", NULL, NULL, false, JWT_MALFORMED, "three"},
    {"padding in header", "eyJhbGciOiJSUzI1NiJ9=.e30.c2ln", NULL, NULL, false, JWT_MALFORMED,
     "header is not base64url"},
    {"standard base64 '+' in payload", "eyJhbGciOiJSUzI1NiJ9.e3+0.c2ln", NULL, NULL, false, JWT_MALFORMED, "payload"},
    {"space in signature", "eyJhbGciOiJSUzI1NiJ9.e30.c2 ln", NULL, NULL, false, JWT_MALFORMED, "signature"},
    {"length 1 mod 4", "eyJhbGciOiJSUzI1NiJ9.e30A.c2ln", NULL, NULL, false, JWT_MALFORMED, "payload"},
    {"non-zero unused bits", "eyJhbGciOiJSUzI1NiJ9.e31.c2ln", NULL, NULL, false, JWT_MALFORMED, "payload"},
    {"header not JSON", NULL, "alg RS256", GOOD_CLAIMS, false, JWT_MALFORMED, "header is not a JSON object"},
    {"header an array", NULL, "[\"RS256\"]", GOOD_CLAIMS, false, JWT_MALFORMED, "JSON object"},
    {"duplicate alg", NULL, "{\"alg\":\"RS256\",\"alg\":\"none\"}", GOOD_CLAIMS, false, JWT_MALFORMED, "JSON object"},
    {"no alg", NULL, "{\"kid\":\"mint\"}", GOOD_CLAIMS, false, JWT_MALFORMED, "alg"},
    {"alg not a string", NULL, "{\"alg\":256}", GOOD_CLAIMS, false, JWT_MALFORMED, "alg"},
    {"kid not a string", NULL, "{\"alg\":\"RS256\",\"kid\":7}", GOOD_CLAIMS, false, JWT_MALFORMED, "kid"},
    {"alg none", NULL, "{\"alg\":\"none\"}", GOOD_CLAIMS, false, JWT_ALG_NOT_ALLOWED, "none"},
    {"alg none, empty signature", "eyJhbGciOiJub25lIn0.e30.", NULL, NULL, false, JWT_ALG_NOT_ALLOWED, "none"},
    {"alg HS256 (key confusion)", NULL, "{\"alg\":\"HS256\",\"kid\":\"mint\"}", GOOD_CLAIMS, false, JWT_ALG_NOT_ALLOWED,
     "HMAC"},
    {"alg HS512", NULL, "{\"alg\":\"HS512\"}", GOOD_CLAIMS, false, JWT_ALG_NOT_ALLOWED, "HMAC"},
    {"alg ES256K", NULL, "{\"alg\":\"ES256K\"}", GOOD_CLAIMS, false, JWT_ALG_NOT_ALLOWED, "not one of"},
    {"alg lower case", NULL, "{\"alg\":\"rs256\"}", GOOD_CLAIMS, false, JWT_ALG_NOT_ALLOWED, "not one of"},
    {"embedded jwk", NULL, "{\"alg\":\"RS256\",\"jwk\":{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}}", GOOD_CLAIMS,
     true, JWT_KEY_IN_HEADER, "jwk"},
    {"jku", NULL, "{\"alg\":\"RS256\",\"jku\":\"https://evil.example/keys\"}", GOOD_CLAIMS, true, JWT_KEY_IN_HEADER,
     "jku"},
    {"x5u", NULL, "{\"alg\":\"RS256\",\"x5u\":\"https://evil.example/cert\"}", GOOD_CLAIMS, true, JWT_KEY_IN_HEADER,
     "x5u"},
    {"x5c", NULL, "{\"alg\":\"RS256\",\"x5c\":[\"MIIB\"]}", GOOD_CLAIMS, true, JWT_KEY_IN_HEADER, "x5c"},
    {"crit", NULL, "{\"alg\":\"RS256\",\"kid\":\"mint\",\"crit\":[\"exp\"]}", GOOD_CLAIMS, true, JWT_MALFORMED, "crit"},
    {"unknown kid", NULL, "{\"alg\":\"RS256\",\"kid\":\"other\"}", GOOD_CLAIMS, true, JWT_UNKNOWN_KID, "other"},
    {"alg of another key type", NULL, "{\"alg\":\"ES256\",\"kid\":\"mint\"}", GOOD_CLAIMS, false, JWT_UNKNOWN_KID,
     "ES256"},
    {"PS256 claimed, RS256 signed", NULL, "{\"alg\":\"PS256\",\"kid\":\"mint\"}", GOOD_CLAIMS, true, JWT_BAD_SIGNATURE,
     "PS256"},
    {"bad signature", NULL, MINT_HDR, GOOD_CLAIMS, false, JWT_BAD_SIGNATURE, "does not verify"},
    {"payload not JSON", NULL, MINT_HDR, "hello", true, JWT_MALFORMED, "payload"},
    {"exp not an integer", NULL, MINT_HDR, "{\"iss\":\"mint-issuer\",\"exp\":\"tomorrow\"}", true, JWT_MALFORMED,
     "exp"},
    {"exp a fraction", NULL, MINT_HDR, "{\"iss\":\"mint-issuer\",\"exp\":1700003600.5}", true, JWT_MALFORMED, "exp"},
    {"iss not a string", NULL, MINT_HDR, "{\"iss\":1}", true, JWT_MALFORMED, "iss"},
    {"aud an object", NULL, MINT_HDR, "{\"iss\":\"mint-issuer\",\"aud\":{}}", true, JWT_MALFORMED, "aud"},
    {"no iss", NULL, MINT_HDR, "{\"sub\":\"alice\"}", true, JWT_ISSUER, "(none)"},
    {"other iss", NULL, MINT_HDR, "{\"iss\":\"evil\"}", true, JWT_ISSUER, "evil"},
    {"expired beyond skew", NULL, MINT_HDR, "{\"iss\":\"mint-issuer\",\"exp\":1699999939}", true, JWT_EXPIRED,
     "skew 60s"},
    {"nbf beyond skew", NULL, MINT_HDR, "{\"iss\":\"mint-issuer\",\"nbf\":1700000061}", true, JWT_NOT_YET_VALID, "nbf"},
    {"expired, forged signature (Envoy checks time first)", NULL, MINT_HDR, "{\"iss\":\"mint-issuer\",\"exp\":1}",
     false, JWT_EXPIRED, "exp"},
};

static void test_refusals(void) {
  const char *dir = test_require_conformance();
  if (!dir) return;
  ASSERT(mint_init(dir));
  struct jwk_set *keys = mint_keys(dir);
  ASSERT(keys);
  struct jwt_expect ex = {"mint-issuer", NULL, 0, JWT_DEFAULT_CLOCK_SKEW};
  for (size_t i = 0; i < sizeof REFUSALS / sizeof REFUSALS[0]; i++) {
    const struct refusal *r = &REFUSALS[i];
    char *tok = r->token ? strdup(r->token) : mint(r->header, r->claims, r->sign);
    struct jwt t;
    enum jwt_verdict v = jwt_verify(tok, strlen(tok), keys, &ex, FIXED_NOW, &t);
    if (v != r->want || !strstr(t.reason, r->reason))
      test_fail(__FILE__, __LINE__, "%s: got %s (%s), want %s with \"%s\"", r->name, jwt_verdict_name(v), t.reason,
                jwt_verdict_name(r->want), r->reason);
    jwt_clear(&t);
    free(tok);
  }
  jwk_set_free(keys);
}

/* Tokens that pass: skew edges, audiences as string or array, kid-less tokens, no sub. */
static void test_accepts(void) {
  const char *dir = test_require_conformance();
  if (!dir) return;
  ASSERT(mint_init(dir));
  struct jwk_set *keys = mint_keys(dir);
  ASSERT(keys);
  const char *auds[] = {"httpbin", "productpage"};
  struct {
    const char *name, *header, *claims;
    size_t auds;
    enum jwt_verdict want;
  } cases[] = {
      {"exp within skew", MINT_HDR, "{\"iss\":\"mint-issuer\",\"sub\":\"a\",\"exp\":1699999940}", 0, JWT_OK},
      {"nbf within skew", MINT_HDR, "{\"iss\":\"mint-issuer\",\"sub\":\"a\",\"nbf\":1700000060}", 0, JWT_OK},
      {"no kid: tries each RSA key", "{\"alg\":\"RS256\"}", GOOD_CLAIMS, 0, JWT_OK},
      {"aud string", MINT_HDR, "{\"iss\":\"mint-issuer\",\"aud\":\"productpage\"}", 2, JWT_OK},
      {"aud array", MINT_HDR, "{\"iss\":\"mint-issuer\",\"aud\":[\"x\",\"httpbin\"]}", 2, JWT_OK},
      {"aud missing, audiences required", MINT_HDR, "{\"iss\":\"mint-issuer\"}", 2, JWT_AUDIENCE},
      {"aud other", MINT_HDR, "{\"iss\":\"mint-issuer\",\"aud\":[\"x\"]}", 2, JWT_AUDIENCE},
      {"aud anything when the rule lists none", MINT_HDR, "{\"iss\":\"mint-issuer\",\"aud\":\"x\"}", 0, JWT_OK},
      {"exp at the largest integer", MINT_HDR, "{\"iss\":\"mint-issuer\",\"exp\":9223372036854775807}", 0, JWT_OK},
      {"nbf at the largest integer", MINT_HDR, "{\"iss\":\"mint-issuer\",\"nbf\":9223372036854775807}", 0,
       JWT_NOT_YET_VALID},
      {"exp at the smallest integer", MINT_HDR, "{\"iss\":\"mint-issuer\",\"exp\":-9223372036854775808}", 0,
       JWT_EXPIRED},
      {"typ at+jwt", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"mint\"}", GOOD_CLAIMS, 0, JWT_OK},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *tok = mint(cases[i].header, cases[i].claims, true);
    struct jwt_expect ex = {"mint-issuer", auds, cases[i].auds, JWT_DEFAULT_CLOCK_SKEW};
    struct jwt t;
    enum jwt_verdict v = jwt_verify(tok, strlen(tok), keys, &ex, FIXED_NOW, &t);
    if (v != cases[i].want)
      test_fail(__FILE__, __LINE__, "%s: got %s (%s)", cases[i].name, jwt_verdict_name(v), t.reason);
    jwt_clear(&t);
    free(tok);
  }
  jwk_set_free(keys);
}

/* jwk_set_parse refusals with their reasons. */
static void test_jwk_refusals(void) {
  static const struct {
    const char *name, *json, *reason;
  } cases[] = {
      {"not JSON", "{keys", "not JSON"},
      {"no keys", "{\"keys\":[]}", "no \"keys\""},
      {"oct", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", "symmetric"},
      {"private EC", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\",\"d\":\"AAAA\"}", "private"},
      {"unknown kty", "{\"kty\":\"DSA\"}", "not RSA, EC or OKP"},
      {"no kty", "{\"keys\":[{\"n\":\"AQAB\"}]}", "kty"},
      {"RSA without n", "{\"kty\":\"RSA\",\"e\":\"AQAB\"}", "\"n\""},
      {"RSA n padded", "{\"kty\":\"RSA\",\"n\":\"AQAB==\",\"e\":\"AQAB\"}", "base64url"},
      {"RSA small", "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "at least 2048"},
      {"EC unknown curve", "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", "P-256, P-384"},
      {"EC short x", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", "32 bytes"},
      {"OKP X25519", "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}", "Ed25519"},
      {"OKP short", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}", "32 bytes"},
      {"alg HS256 on RSA", "{\"kty\":\"RSA\",\"alg\":\"HS256\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "not a signature"},
      {"encryption only", "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
       "for signatures"},
      {"RSA-OAEP only", "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP-256\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
       "for signatures"},
      {"duplicate member", "{\"kty\":\"RSA\",\"kty\":\"EC\"}", "not JSON"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct jwk_set *set = NULL;
    char why[256] = "";
    int rc = jwk_set_parse(cases[i].json, strlen(cases[i].json), &set, why, sizeof why);
    if (rc == 0 || !strstr(why, cases[i].reason))
      test_fail(__FILE__, __LINE__, "%s: rc %d why \"%s\", want \"%s\"", cases[i].name, rc, why, cases[i].reason);
    jwk_set_free(set);
  }
  /* Ed25519 from RFC 8037 A.2, accepted; EdDSA with a forged signature refused. */
  const char *ed = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
  struct jwk_set *set = keys_from_text(ed);
  ASSERT(set);
  EXPECT_INT_EQ(set->keys[0].kty, JWK_KTY_OKP);
  EXPECT(jwk_fits(&set->keys[0], JWK_EDDSA));
  EXPECT(!jwk_fits(&set->keys[0], JWK_ES256));
  /* RFC 8037 A.4: the signature of "Example of Ed25519 signing" with header {"alg":"EdDSA"}. */
  const char *tok =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  struct jwt t;
  EXPECT_INT_EQ(jwt_verify_signature(tok, strlen(tok), set, &t), JWT_OK);
  jwt_clear(&t);
  char *bad = strdup(tok);
  bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
  EXPECT_INT_EQ(jwt_verify_signature(bad, strlen(bad), set, &t), JWT_BAD_SIGNATURE);
  jwt_clear(&t);
  free(bad);
  jwk_set_free(set);
}

static void test_base64url(void) {
  static const struct {
    const char *in;
    int rc;
    const char *out;
  } cases[] = {
      {"", 0, ""},         {"Zg", 0, "f"},       {"Zm8", 0, "fo"},       {"Zm9v", 0, "foo"},  {"Zm9vYg", 0, "foob"},
      {"Zg==", -1, NULL},  {"Z", -1, NULL},      {"Zh", -1, NULL},       {"Zm9v+", -1, NULL}, {"Zm9/", -1, NULL},
      {"Zm 9v", -1, NULL}, {"Zm9v\n", -1, NULL}, {"_-8", 0, "\xff\xef"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t *out;
    size_t n;
    int rc = jwk_base64url_decode(cases[i].in, strlen(cases[i].in), &out, &n);
    EXPECT_INT_EQ(rc < 0 ? -1 : 0, cases[i].rc);
    if (rc == 0 && cases[i].out) EXPECT_STR_EQ((char *)out, cases[i].out);
    free(out);
  }
}

/* ---- RequestAuthentication outcomes ----------------------------------------------------------- */

static void test_authenticate(void) {
  const char *dir = test_require_conformance();
  struct istio is;
  if (!dir || !istio_require(dir, &is)) return;
  ASSERT(mint_init(dir));
  struct jwk_set *mk = mint_keys(dir);
  char *expired = mint(MINT_HDR, "{\"iss\":\"mint-issuer\",\"sub\":\"bob\",\"exp\":1000}", true);
  char *mint_ok = mint(MINT_HDR, "{\"iss\":\"mint-issuer\",\"sub\":\"bob\",\"team\":\"blue\",\"n\":3}", true);
  char *stranger = mint(MINT_HDR, "{\"iss\":\"stranger\",\"sub\":\"bob\"}", true);
  char *tampered = strdup(is.demo);
  tampered[strlen(tampered) - 2] = tampered[strlen(tampered) - 2] == 'A' ? 'B' : 'A';

  /* Rule 0: Istio's task rule (defaults). Rule 1: a custom header and param, audiences, payload
   * and claim outputs, forwarding the token. */
  struct resource_jwt_rule r0 = {0}, r1 = {0};
  r0.issuer = ISTIO_ISS;
  r0.jwks = is.jwks;
  struct resource_jwt_header xh = {"x-jwt", NULL};
  char *params[] = {"tok"};
  struct resource_claim_header ch[] = {{"x-team", "team"}, {"x-n", "n"}, {"x-none", "missing"}};
  r1.issuer = "mint-issuer";
  r1.from_headers = &xh;
  r1.from_headers_len = 1;
  r1.from_params.items = params;
  r1.from_params.len = 1;
  r1.output_payload_to_header = "x-jwt-payload";
  r1.output_claim_to_headers = ch;
  r1.output_claim_to_headers_len = 3;
  r1.forward_original_token.value = true;
  struct jwt_provider pv[] = {{&r0, is.keys}, {&r1, mk}};

  char bearer_demo[2048], bearer_expired[2048], bearer_tampered[2048], bearer_stranger[2048], bearer_mint[2048];
  snprintf(bearer_demo, sizeof bearer_demo, "Bearer %s", is.demo);
  snprintf(bearer_expired, sizeof bearer_expired, "Bearer %s", expired);
  snprintf(bearer_tampered, sizeof bearer_tampered, "Bearer %s", tampered);
  snprintf(bearer_stranger, sizeof bearer_stranger, "Bearer %s", stranger);
  snprintf(bearer_mint, sizeof bearer_mint, "Bearer %s", mint_ok);
  char q_demo[2048], q_mint[2048];
  snprintf(q_demo, sizeof q_demo, "/headers?a=1&access_token=%s", is.demo);
  snprintf(q_mint, sizeof q_mint, "/headers?tok=%s#frag", mint_ok);

  struct {
    const char *name;
    const char *hname, *hvalue;
    const char *path;
    size_t npv;
    enum jwt_verdict want;
    int status;
    const char *body, *principal;
  } cases[] = {
      {"no token passes without principal", NULL, NULL, "/headers", 2, JWT_MISSING, 0, NULL, NULL},
      {"Authorization without Bearer is no token", "Authorization", "Basic YTpi", "/", 2, JWT_MISSING, 0, NULL, NULL},
      {"demo token in Authorization", "authorization", bearer_demo, "/", 2, JWT_OK, 0, NULL, ISTIO_ISS "/" ISTIO_ISS},
      {"demo token in ?access_token", NULL, NULL, q_demo, 2, JWT_OK, 0, NULL, ISTIO_ISS "/" ISTIO_ISS},
      {"tampered → 401", "Authorization", bearer_tampered, "/", 2, JWT_BAD_SIGNATURE, 401, "Jwt verification fails",
       NULL},
      {"garbage → 401", "Authorization", "Bearer not-a-jwt", "/", 2, JWT_MALFORMED, 401, NULL, NULL},
      {"issuer not configured → 401", "Authorization", bearer_stranger, "/", 2, JWT_ISSUER, 401,
       "Jwt issuer is not configured", NULL},
      {"mint token at the default location: its rule does not look there", "Authorization", bearer_mint, "/", 2,
       JWT_ISSUER, 401, "Jwt issuer is not configured", NULL},
      {"expired at its rule's header → 401", "x-jwt", expired, "/", 2, JWT_EXPIRED, 401, "Jwt is expired", NULL},
      {"mint token in its header", "X-JWT", mint_ok, "/", 2, JWT_OK, 0, NULL, "mint-issuer/bob"},
      {"mint token in its param", NULL, NULL, q_mint, 2, JWT_OK, 0, NULL, "mint-issuer/bob"},
      {"keys not loaded → 401", "authorization", bearer_demo, "/", 0, JWT_KEYS_UNAVAILABLE, 401,
       "Jwks remote fetch is failed", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct jwt_header_kv h[] = {{"host", "httpbin"},
                                {cases[i].hname ? cases[i].hname : "x-other", cases[i].hvalue ? cases[i].hvalue : "1"}};
    struct jwt_request req = {h, 2, cases[i].path};
    struct jwt_provider nokeys[] = {{&r0, NULL}, {&r1, NULL}};
    struct jwt_outcome o;
    jwt_authenticate(cases[i].npv ? pv : nokeys, 2, &req, FIXED_NOW, &o);
    if (o.verdict != cases[i].want || o.status != cases[i].status)
      test_fail(__FILE__, __LINE__, "%s: got %s %d (%s)", cases[i].name, jwt_verdict_name(o.verdict), o.status,
                o.token.reason);
    if (cases[i].body) EXPECT_STR_EQ(o.body, cases[i].body);
    if (cases[i].principal) EXPECT_STR_EQ(o.token.principal, cases[i].principal);
    else EXPECT(o.token.principal == NULL);
    jwt_outcome_clear(&o);
  }

  /* Header edits: rule 0 strips Authorization (forwardOriginalToken false), rule 1 keeps x-jwt
   * and asks for the payload and claim headers. */
  struct jwt_header_kv h0[] = {{"Authorization", bearer_demo}};
  struct jwt_request q0 = {h0, 1, "/"};
  struct jwt_outcome o;
  jwt_authenticate(pv, 2, &q0, FIXED_NOW, &o);
  EXPECT_STR_EQ(o.strip_header, "Authorization");
  EXPECT(o.payload_header == NULL);
  EXPECT_INT_EQ(o.provider, 0);
  jwt_outcome_clear(&o);
  struct jwt_header_kv h1[] = {{"x-jwt", mint_ok}};
  struct jwt_request q1 = {h1, 1, "/"};
  jwt_authenticate(pv, 2, &q1, FIXED_NOW, &o);
  EXPECT_INT_EQ(o.verdict, JWT_OK);
  EXPECT(o.strip_header == NULL);
  EXPECT_INT_EQ(o.provider, 1);
  EXPECT_STR_EQ(o.payload_header, "x-jwt-payload");
  ASSERT(o.payload_value);
  EXPECT(strncmp(mint_ok + strcspn(mint_ok, ".") + 1, o.payload_value, strlen(o.payload_value)) == 0);
  ASSERT_INT_EQ(o.claim_headers_len, 2);
  EXPECT_STR_EQ(o.claim_headers[0].name, "x-team");
  EXPECT_STR_EQ(o.claim_headers[0].value, "blue");
  EXPECT_STR_EQ(o.claim_headers[1].value, "3");
  jwt_outcome_clear(&o);

  free(expired);
  free(mint_ok);
  free(stranger);
  free(tampered);
  jwk_set_free(mk);
  istio_free(&is);
}

static void test_teardown(void) {
  EVP_PKEY_free(mint_key);
  mint_key = NULL;
}

TEST_CASES(TEST(test_base64url), TEST(test_jwk_refusals), TEST(test_refusals), TEST(test_accepts),
           TEST(test_authenticate), TEST(test_teardown))
