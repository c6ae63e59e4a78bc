/* issuer: the lab's own JWT issuer (see issuer.h). The key file is the only state; the JWKS is
 * derived from it each time it is loaded, so the two never disagree. */
#include "mesh/issuer.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mesh/jwk.h"

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = malloc(16384);
  size_t n = text ? fread(text, 1, 16383, f) : 0;
  fclose(f);
  if (text) text[n] = '\0';
  return text;
}

/* Reads dir/name, creating it with a fresh alg key when missing. Returns owned PEM or NULL with
 * err set. */
static char *load_key(const char *dir, const char *name, enum jwk_alg alg, char *err, size_t errlen, int *rc) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  errno = 0;
  char *pem = read_file(path);
  if (!pem && errno == ENOENT) {
    char *fresh = NULL;
    int g = jwk_signing_key_generate(alg, &fresh);
    if (g != 0) {
      snprintf(err, errlen, "cannot generate the issuer key %s: %s", name, strerror(-g));
      *rc = g;
      return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      size_t len = strlen(fresh);
      ssize_t w = write(fd, fresh, len);
      close(fd);
      if (w != (ssize_t)len) {
        unlink(path);
        free(fresh);
        snprintf(err, errlen, "cannot write %s", path);
        *rc = -EIO;
        return NULL;
      }
    } else if (errno != EEXIST) {
      int e = errno;
      free(fresh);
      snprintf(err, errlen, "cannot create %s: %s", path, strerror(e));
      *rc = -e;
      return NULL;
    }
    free(fresh);
    pem = read_file(path); /* ours, or the one another first use wrote just before */
  }
  if (!pem) {
    int e = errno ? errno : EIO;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
    *rc = -e;
  }
  return pem;
}

int issuer_load(const char *dir, struct issuer *is, char *err, size_t errlen) {
  memset(is, 0, sizeof *is);
  int rc = 0;
  if (!(is->pem = load_key(dir, "issuer.key", JWK_ES256, err, errlen, &rc)) ||
      !(is->rsa_pem = load_key(dir, "issuer-rs256.key", JWK_RS256, err, errlen, &rc))) {
    issuer_free(is);
    return rc;
  }
  char *ec = NULL, *rsa = NULL;
  if (jwk_signing_key_public(is->pem, JWK_ES256, &ec, &is->kid) != 0 ||
      jwk_signing_key_public(is->rsa_pem, JWK_RS256, &rsa, &is->rsa_kid) != 0) {
    snprintf(err, errlen, "%s/issuer.key or issuer-rs256.key is not a key of its kind; remove it and a new one is made",
             dir);
    free(ec);
    issuer_free(is);
    return -EINVAL;
  }
  size_t n = strlen(ec) + strlen(rsa) + 16;
  if ((is->jwks = malloc(n))) snprintf(is->jwks, n, "{\"keys\":[%s,%s]}", ec, rsa);
  free(ec);
  free(rsa);
  if (!is->jwks) {
    issuer_free(is);
    return -ENOMEM;
  }
  return 0;
}

void issuer_free(struct issuer *is) {
  free(is->pem);
  free(is->kid);
  free(is->rsa_pem);
  free(is->rsa_kid);
  free(is->jwks);
  memset(is, 0, sizeof *is);
}

int issuer_owns_uri(const char *uri) {
  return strncmp(uri, "https://issuer.meshlab.local/", 29) == 0 ||
         strncmp(uri, "http://issuer.meshlab.local/", 28) == 0;
}

static json_t *strings(const char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
  return a;
}

int issuer_mint(const struct issuer *is, const struct issuer_claims *c, int64_t now, char **token, char *err,
                size_t errlen) {
  *token = NULL;
  enum jwk_alg alg = c->alg ? jwk_alg_from_name(c->alg) : JWK_ES256;
  if (alg != JWK_ES256 && alg != JWK_RS256) {
    snprintf(err, errlen, "--alg %s: the lab issuer signs ES256 or RS256", c->alg);
    return -EINVAL;
  }
  json_t *p = json_object();
  json_object_set_new(p, "iss", json_string(c->iss ? c->iss : ISSUER_NAME));
  json_object_set_new(p, "sub", json_string(c->sub ? c->sub : "tester"));
  if (c->aud_len == 1) json_object_set_new(p, "aud", json_string(c->aud[0]));
  if (c->aud_len > 1) json_object_set_new(p, "aud", strings(c->aud, c->aud_len));
  json_object_set_new(p, "iat", json_integer(now));
  json_object_set_new(p, "exp", json_integer(now + (c->exp_seconds ? c->exp_seconds : 3600)));
  if (c->groups_len) json_object_set_new(p, "groups", strings(c->groups, c->groups_len));
  if (c->scope) json_object_set_new(p, "scope", json_string(c->scope));
  for (size_t i = 0; i < c->extra_len; i++) {
    const char *eq = strchr(c->extra[i], '=');
    if (!eq || eq == c->extra[i]) {
      snprintf(err, errlen, "--claim %s: write NAME=VALUE", c->extra[i]);
      json_decref(p);
      return -EINVAL;
    }
    char *name = strndup(c->extra[i], (size_t)(eq - c->extra[i]));
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    json_object_set_new(p, name, v ? v : json_string(eq + 1));
    free(name);
  }
  json_t *h = json_pack("{s:s,s:s,s:s}", "alg", jwk_alg_name(alg), "kid", alg == JWK_RS256 ? is->rsa_kid : is->kid,
                        "typ", "JWT");
  char *hs = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER), *ps = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(h);
  json_decref(p);
  char *hb = NULL, *pb = NULL, *sig = NULL, *input = NULL;
  int rc = -ENOMEM;
  if (hs && ps && jwk_base64url_encode((const uint8_t *)hs, strlen(hs), &hb) == 0 &&
      jwk_base64url_encode((const uint8_t *)ps, strlen(ps), &pb) == 0 &&
      (input = malloc(strlen(hb) + strlen(pb) + 2))) {
    sprintf(input, "%s.%s", hb, pb);
    rc = jwk_sign(alg == JWK_RS256 ? is->rsa_pem : is->pem, alg, (const uint8_t *)input, strlen(input), &sig);
    if (rc == 0) {
      size_t n = strlen(input) + strlen(sig) + 2;
      if ((*token = malloc(n))) snprintf(*token, n, "%s.%s", input, sig);
      else rc = -ENOMEM;
    }
  }
  if (rc != 0 && rc != -ENOMEM) snprintf(err, errlen, "cannot sign the token with the issuer key");
  free(hs);
  free(ps);
  free(hb);
  free(pb);
  free(sig);
  free(input);
  return rc;
}
