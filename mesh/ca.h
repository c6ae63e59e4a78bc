/* ca: the lab's certificate authority, Istio's istiod CA in miniature.
 *
 * The control plane owns one root: an ECDSA P-256 key and a self-signed certificate, generated
 * on the lab's first start and kept in the lab state folder (ca-key.pem mode 0600, ca-cert.pem),
 * so a lab restarted later keeps trusting what it issued. From it the lab issues every workload
 * replica a short-lived leaf certificate (ECDSA P-256, 128-bit random serial) whose only name is
 * the SAN URI spiffe://cluster.local/ns/<namespace>/sa/<serviceAccount>, the identity Istio
 * puts in its workload certificates and AuthorizationPolicy's `principals` match.
 *
 * Where it sits: the lab calls ca_issue for each replica before it starts and again before the
 * certificate expires (lab_replica.c); the sidecar reads the result through tls.h.
 * ca_cert_describe is what `meshlab proxy-config secret` prints. Uses OpenSSL's crypto and X509 API (never its TLS
 * API, which only tls.c includes). No global state; no clock: callers pass `now`.
 */
#ifndef MESH_CA_H
#define MESH_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ca;

/* An issued identity: PEM text, each owned by the struct (ca_issued_free). */
struct ca_issued {
  char *cert_pem;  /* the leaf certificate */
  char *key_pem;   /* its PKCS#8 private key */
  char *root_pem;  /* the root it chains to (the trust bundle) */
  char serial[40]; /* hex, as istioctl prints it */
  time_t not_before, not_after;
};

/* Loads the root from dir/ca-key.pem and dir/ca-cert.pem, or creates both when neither exists
 * (the key file mode 0600). Returns 0 and *out (owned), or a negative errno with a sentence in
 * err (a half-present pair or an unreadable file is an error, never silently replaced). */
int ca_load_or_create(const char *dir, time_t now, struct ca **out, char *err, size_t errlen);
/* A fresh in-memory root valid 10 years from now (tests, throwaway labs). Returns 0 or -ENOMEM. */
int ca_new(time_t now, struct ca **out);
/* ca_free(NULL) is a no-op. */
void ca_free(struct ca *ca);
/* The root certificate as PEM; borrowed from ca. */
const char *ca_root_pem(const struct ca *ca);

/* Issues a leaf for spiffe_id ("spiffe://cluster.local/ns/default/sa/bookinfo-reviews") valid
 * from one minute before now (clock skew) to now + ttl_s. Returns 0 and fills out (owned
 * strings), or -EINVAL (not a spiffe:// URI) / -ENOMEM. */
int ca_issue(struct ca *ca, const char *spiffe_id, uint32_t ttl_s, time_t now, struct ca_issued *out);
/* Frees the strings of an issued identity; safe on a zeroed struct. */
void ca_issued_free(struct ca_issued *is);

/* Writes the leaf certificate then its key to path (mode 0600), atomically (a temporary file
 * renamed over it: a reader sees the old pair or the new one, never half). Returns 0 or -errno. */
int ca_issued_write(const struct ca_issued *is, const char *path);

/* Istio's SPIFFE ID for a workload: "spiffe://<trust_domain>/ns/<ns>/sa/<sa>" into out. */
void ca_spiffe_id(char *out, size_t n, const char *trust_domain, const char *ns, const char *sa);

/* What istioctl's `proxy-config secret` shows for one certificate. */
struct ca_cert_info {
  char subject[256], issuer[256];
  char uri_san[256]; /* the first URI SAN, "" when none */
  char serial[40];
  time_t not_before, not_after;
  int is_ca;
};
/* Reads every certificate of a PEM chain (at most max) into infos; returns how many (>= 0), or
 * -EINVAL when the text holds no certificate. Borrows pem. */
int ca_cert_describe(const char *pem, struct ca_cert_info *infos, int max);

#endif
