/* The lab's certificate authority: see ca.h.
 *
 * Istio's istiod signs workload certificates with its own root unless a plug-in CA is given;
 * meshlab does the same with one ECDSA P-256 root per lab. Leaves carry no subject (Istio's
 * workload certificates have an empty subject too: the identity is the URI SAN), are marked
 * critical-SAN, digitalSignature + keyEncipherment, serverAuth + clientAuth (one certificate
 * serves both ends of mTLS), and CA:FALSE. Serials are 128 random bits (RFC 5280 4.1.2.2 allows
 * up to 20 octets; CA/B Forum asks for 64 bits of entropy at least).
 */
#include "mesh/ca.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct ca {
  EVP_PKEY *key;
  X509 *cert;
  char *root_pem;
};

static char *bio_to_string(BIO *b) {
  char *p;
  long n = BIO_get_mem_data(b, &p);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s) {
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
  }
  return s;
}

static char *cert_to_pem(X509 *x) {
  BIO *b = BIO_new(BIO_s_mem());
  char *s = b && PEM_write_bio_X509(b, x) == 1 ? bio_to_string(b) : NULL;
  BIO_free(b);
  return s;
}

static char *key_to_pem(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());
  char *s = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 ? bio_to_string(b) : NULL;
  BIO_free(b);
  return s;
}

static int set_random_serial(X509 *x, char *hex, size_t hexlen) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return -ENOMEM;
  raw[0] &= 0x7f; /* positive (RFC 5280: serials are positive integers) */
  if (raw[0] == 0) raw[0] = 1;
  BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
  int rc = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ? 0 : -ENOMEM;
  if (rc == 0 && hex) {
    char *h = BN_bn2hex(bn);
    if (h) snprintf(hex, hexlen, "%s", h);
    OPENSSL_free(h);
  }
  BN_free(bn);
  return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext) return -EINVAL;
  int ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? 0 : -ENOMEM;
}

static int make_root(struct ca *ca, time_t now) {
  ca->key = EVP_EC_gen("P-256");
  ca->cert = X509_new();
  if (!ca->key || !ca->cert) return -ENOMEM;
  X509 *x = ca->cert;
  X509_set_version(x, 2);
  if (set_random_serial(x, NULL, 0) != 0) return -ENOMEM;
  ASN1_TIME_set(X509_getm_notBefore(x), now - 60);
  ASN1_TIME_set(X509_getm_notAfter(x), now + 10L * 365 * 24 * 3600);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"cluster.local", -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"meshlab root CA", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, ca->key);
  if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
      add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") != 0 ||
      add_ext(x, x, NID_subject_key_identifier, "hash") != 0)
    return -ENOMEM;
  if (X509_sign(x, ca->key, EVP_sha256()) <= 0) return -ENOMEM;
  ca->root_pem = cert_to_pem(x);
  return ca->root_pem ? 0 : -ENOMEM;
}

int ca_new(time_t now, struct ca **out) {
  struct ca *ca = calloc(1, sizeof *ca);
  if (!ca) return -ENOMEM;
  int rc = make_root(ca, now);
  if (rc != 0) {
    ca_free(ca);
    return rc;
  }
  *out = ca;
  return 0;
}

void ca_free(struct ca *ca) {
  if (!ca) return;
  EVP_PKEY_free(ca->key);
  X509_free(ca->cert);
  free(ca->root_pem);
  free(ca);
}

const char *ca_root_pem(const struct ca *ca) { return ca->root_pem; }

static int write_file(const char *path, const char *text, mode_t mode) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) return -errno;
  size_t n = strlen(text);
  ssize_t w = write(fd, text, n);
  int rc = (w == (ssize_t)n) ? 0 : -EIO;
  if (close(fd) != 0 && rc == 0) rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
  if (rc != 0) unlink(tmp);
  return rc;
}

int ca_load_or_create(const char *dir, time_t now, struct ca **out, char *err, size_t errlen) {
  char kpath[4096], cpath[4096];
  snprintf(kpath, sizeof kpath, "%s/ca-key.pem", dir);
  snprintf(cpath, sizeof cpath, "%s/ca-cert.pem", dir);
  int have_k = access(kpath, F_OK) == 0, have_c = access(cpath, F_OK) == 0;
  if (!have_k && !have_c) {
    struct ca *ca;
    int rc = ca_new(now, &ca);
    if (rc != 0) {
      snprintf(err, errlen, "generating the lab's root CA failed");
      return rc;
    }
    char *kp = key_to_pem(ca->key);
    rc = kp ? write_file(kpath, kp, 0600) : -ENOMEM;
    if (kp) OPENSSL_cleanse(kp, strlen(kp));
    free(kp);
    if (rc == 0) rc = write_file(cpath, ca->root_pem, 0644);
    if (rc != 0) {
      snprintf(err, errlen, "%s: cannot write the root CA: %s", dir, strerror(-rc));
      ca_free(ca);
      return rc;
    }
    *out = ca;
    return 0;
  }
  if (!have_k || !have_c) {
    snprintf(err, errlen, "%s: %s is missing while %s exists; restore it or remove both to make a new root", dir,
             have_k ? "ca-cert.pem" : "ca-key.pem", have_k ? "ca-key.pem" : "ca-cert.pem");
    return -EINVAL;
  }
  struct ca *ca = calloc(1, sizeof *ca);
  if (!ca) return -ENOMEM;
  FILE *f = fopen(kpath, "r");
  if (f) {
    ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
  }
  f = fopen(cpath, "r");
  if (f) {
    ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
  }
  if (!ca->key || !ca->cert || X509_check_private_key(ca->cert, ca->key) != 1 ||
      !(ca->root_pem = cert_to_pem(ca->cert))) {
    snprintf(err, errlen,
             "%s: ca-key.pem and ca-cert.pem are unreadable or do not belong together; "
             "remove both to make a new root",
             dir);
    ca_free(ca);
    return -EINVAL;
  }
  *out = ca;
  return 0;
}

int ca_issued_write(const struct ca_issued *is, const char *path) {
  size_t nc = strlen(is->cert_pem), nk = strlen(is->key_pem);
  char *both = malloc(nc + nk + 1);
  if (!both) return -ENOMEM;
  memcpy(both, is->cert_pem, nc);
  memcpy(both + nc, is->key_pem, nk + 1);
  int rc = write_file(path, both, 0600);
  OPENSSL_cleanse(both, nc + nk);
  free(both);
  return rc;
}

void ca_spiffe_id(char *out, size_t n, const char *trust_domain, const char *ns, const char *sa) {
  snprintf(out, n, "spiffe://%s/ns/%s/sa/%s", trust_domain ? trust_domain : "cluster.local", ns,
           sa && sa[0] ? sa : "default");
}

int ca_issue(struct ca *ca, const char *spiffe_id, uint32_t ttl_s, time_t now, struct ca_issued *out) {
  memset(out, 0, sizeof *out);
  if (strncmp(spiffe_id, "spiffe://", 9) != 0 || strlen(spiffe_id) > 200 || strchr(spiffe_id, ',')) return -EINVAL;
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  int rc = key && x ? 0 : -ENOMEM;
  if (rc == 0) {
    X509_set_version(x, 2);
    rc = set_random_serial(x, out->serial, sizeof out->serial);
  }
  if (rc == 0) {
    out->not_before = now - 60;
    out->not_after = now + (time_t)ttl_s;
    ASN1_TIME_set(X509_getm_notBefore(x), out->not_before);
    ASN1_TIME_set(X509_getm_notAfter(x), out->not_after);
    X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
    X509_set_pubkey(x, key);
    char san[256];
    snprintf(san, sizeof san, "critical,URI:%s", spiffe_id);
    if (add_ext(x, ca->cert, NID_subject_alt_name, san) != 0 ||
        add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") != 0 ||
        add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
        add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") != 0)
      rc = -ENOMEM;
  }
  if (rc == 0 && X509_sign(x, ca->key, EVP_sha256()) <= 0) rc = -ENOMEM;
  if (rc == 0) {
    out->cert_pem = cert_to_pem(x);
    out->key_pem = key_to_pem(key);
    out->root_pem = strdup(ca->root_pem);
    if (!out->cert_pem || !out->key_pem || !out->root_pem) rc = -ENOMEM;
  }
  X509_free(x);
  EVP_PKEY_free(key);
  if (rc != 0) ca_issued_free(out);
  return rc;
}

void ca_issued_free(struct ca_issued *is) {
  if (is->key_pem) OPENSSL_cleanse(is->key_pem, strlen(is->key_pem));
  free(is->cert_pem);
  free(is->key_pem);
  free(is->root_pem);
  is->cert_pem = is->key_pem = is->root_pem = NULL;
}

static time_t asn1_to_time(const ASN1_TIME *t) {
  struct tm tm;
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

int ca_cert_describe(const char *pem, struct ca_cert_info *infos, int max) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  if (!b) return -ENOMEM;
  int n = 0;
  X509 *x;
  while (n < max && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    struct ca_cert_info *in = &infos[n++];
    memset(in, 0, sizeof *in);
    X509_NAME_oneline(X509_get_subject_name(x), in->subject, sizeof in->subject);
    X509_NAME_oneline(X509_get_issuer_name(x), in->issuer, sizeof in->issuer);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *h = bn ? BN_bn2hex(bn) : NULL;
    snprintf(in->serial, sizeof in->serial, "%s", h ? h : "?");
    OPENSSL_free(h);
    BN_free(bn);
    in->not_before = asn1_to_time(X509_get0_notBefore(x));
    in->not_after = asn1_to_time(X509_get0_notAfter(x));
    in->is_ca = X509_check_ca(x) != 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
      const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_URI) continue;
      const ASN1_IA5STRING *u = g->d.uniformResourceIdentifier;
      snprintf(in->uri_san, sizeof in->uri_san, "%.*s", ASN1_STRING_length(u), (const char *)ASN1_STRING_get0_data(u));
      break;
    }
    GENERAL_NAMES_free(sans);
    X509_free(x);
  }
  BIO_free(b);
  return n > 0 ? n : -EINVAL;
}
