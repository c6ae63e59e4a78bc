/* TLS over memory BIOs: see tls.h.
 *
 * Each session is an SSL object between two memory BIOs: `in` holds ciphertext the socket
 * delivered (tls_feed), `out` collects ciphertext OpenSSL produced (tls_out). OpenSSL never sees
 * a file descriptor, which is what lets conn.c keep libuv's reading and writing model unchanged,
 * and what lets the unit tests pump bytes between a client and a server in memory.
 *
 * Policy, as Istio's sidecars apply it to ISTIO_MUTUAL traffic: the peer must present a
 * certificate that chains to the lab root (SSL_VERIFY_FAIL_IF_NO_PEER_CERT on the server side:
 * a client without a certificate fails the handshake), no hostname check (SPIFFE identities are
 * URIs, not DNS names; Envoy checks the SAN against the expected service accounts, which the
 * authorization layer does here from tls_peer_id), TLS 1.3 only with OpenSSL's default 1.3
 * suites (AES-GCM and ChaCha20-Poly1305: all AEAD with forward secrecy).
 */
#include "mesh/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_RESUME_SLOTS 64

struct resume_slot {
  char key[64];
  SSL_SESSION *sess;
};

struct tls_ctx {
  SSL_CTX *ssl;
  int refs;
  char id[256];
  struct resume_slot slots[TLS_RESUME_SLOTS]; /* client side: the newest ticket per peer */
  unsigned next_slot;
  char *chain_pem, *root_pem; /* what the identity presents and trusts, for display */
};

struct tls_session {
  struct tls_ctx *ctx;
  SSL *ssl;
  BIO *in, *out; /* owned by ssl */
  char peer_key[64];
  char peer_id[256];
  char error[256];
  unsigned established : 1, failed : 1;
};

static void first_uri_san(X509 *x, char *out, size_t n) {
  out[0] = '\0';
  if (!x) return;
  GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
    if (g->type != GEN_URI) continue;
    const ASN1_IA5STRING *u = g->d.uniformResourceIdentifier;
    snprintf(out, n, "%.*s", ASN1_STRING_length(u), (const char *)ASN1_STRING_get0_data(u));
    break;
  }
  GENERAL_NAMES_free(sans);
}

static struct resume_slot *resume_find(struct tls_ctx *ctx, const char *key) {
  for (int i = 0; i < TLS_RESUME_SLOTS; i++)
    if (ctx->slots[i].sess && strcmp(ctx->slots[i].key, key) == 0) return &ctx->slots[i];
  return NULL;
}

/* A client got a session ticket (TLS 1.3 sends them after the handshake): keep the newest per
 * peer. Returning 1 takes the reference OpenSSL hands over. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
  struct tls_session *s = SSL_get_app_data(ssl);
  if (!s || !s->peer_key[0]) return 0;
  struct tls_ctx *ctx = s->ctx;
  struct resume_slot *slot = resume_find(ctx, s->peer_key);
  if (!slot) {
    slot = &ctx->slots[ctx->next_slot++ % TLS_RESUME_SLOTS];
    snprintf(slot->key, sizeof slot->key, "%s", s->peer_key);
  }
  SSL_SESSION_free(slot->sess);
  slot->sess = sess;
  return 1;
}

static void collect_errors(char *err, size_t errlen, const char *what) {
  unsigned long e = ERR_get_error();
  char buf[200] = "";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

int tls_ctx_new(const struct tls_identity *id, struct tls_ctx **out, char *err, size_t errlen) {
  struct tls_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return -ENOMEM;
  ctx->refs = 1;
  int rc = -EINVAL;
  BIO *b = NULL;
  X509 *leaf = NULL;
  EVP_PKEY *key = NULL;
  ctx->ssl = SSL_CTX_new(TLS_method());
  if (!ctx->ssl) {
    rc = -ENOMEM;
    goto fail;
  }
  SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx->ssl, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_app_data(ctx->ssl, ctx);
  /* Resumption: a server needs a session id context to resume sessions of verified clients;
   * tickets are stateless (no server cache), and one ticket per handshake is enough for a pool
   * that reconnects one connection at a time. */
  static const unsigned char sid_ctx[] = "meshlab";
  SSL_CTX_set_session_id_context(ctx->ssl, sid_ctx, sizeof sid_ctx - 1);
  SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx->ssl, on_new_session);
  SSL_CTX_set_num_tickets(ctx->ssl, 1);
  SSL_CTX_set_mode(ctx->ssl, SSL_MODE_RELEASE_BUFFERS); /* idle pooled connections hold no buffers */

  /* The chain: leaf first, then any intermediates. */
  b = BIO_new_mem_buf(id->cert_pem, -1);
  leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  if (!leaf || SSL_CTX_use_certificate(ctx->ssl, leaf) != 1) {
    collect_errors(err, errlen, "the certificate PEM holds no usable certificate");
    goto fail;
  }
  X509 *extra;
  while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
    if (SSL_CTX_add0_chain_cert(ctx->ssl, extra) != 1) X509_free(extra);
  ERR_clear_error(); /* the loop ends on "no start line" */
  first_uri_san(leaf, ctx->id, sizeof ctx->id);
  BIO_free(b);
  b = BIO_new_mem_buf(id->key_pem, -1);
  key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  if (!key || SSL_CTX_use_PrivateKey(ctx->ssl, key) != 1 || SSL_CTX_check_private_key(ctx->ssl) != 1) {
    collect_errors(err, errlen, "the private key is unreadable or does not match the certificate");
    goto fail;
  }
  BIO_free(b);
  b = BIO_new_mem_buf(id->root_pem, -1);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx->ssl);
  int roots = 0;
  X509 *root;
  while (b && (root = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (X509_STORE_add_cert(store, root) == 1) roots++;
    X509_free(root);
  }
  ERR_clear_error();
  if (roots == 0) {
    snprintf(err, errlen, "the root PEM holds no certificate");
    goto fail;
  }
  BIO_free(b);
  /* Keep the certificates (never the key) for display. */
  b = BIO_new(BIO_s_mem());
  if (b && PEM_write_bio_X509(b, leaf) == 1) {
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx->ssl, &chain);
    for (int i = 0; chain && i < sk_X509_num(chain); i++) PEM_write_bio_X509(b, sk_X509_value(chain, i));
    char *p;
    long n = BIO_get_mem_data(b, &p);
    ctx->chain_pem = n > 0 ? strndup(p, (size_t)n) : NULL;
  }
  ctx->root_pem = strdup(id->root_pem);
  if (!ctx->chain_pem || !ctx->root_pem) {
    rc = -ENOMEM;
    goto fail;
  }
  BIO_free(b);
  X509_free(leaf);
  EVP_PKEY_free(key);
  *out = ctx;
  return 0;
fail:
  BIO_free(b);
  X509_free(leaf);
  EVP_PKEY_free(key);
  tls_ctx_unref(ctx);
  return rc;
}

void tls_ctx_unref(struct tls_ctx *ctx) {
  if (!ctx || --ctx->refs > 0) return;
  for (int i = 0; i < TLS_RESUME_SLOTS; i++) SSL_SESSION_free(ctx->slots[i].sess);
  SSL_CTX_free(ctx->ssl);
  free(ctx->chain_pem);
  free(ctx->root_pem);
  free(ctx);
}

const char *tls_ctx_id(const struct tls_ctx *ctx) { return ctx->id; }
const char *tls_ctx_chain_pem(const struct tls_ctx *ctx) { return ctx->chain_pem ? ctx->chain_pem : ""; }
const char *tls_ctx_root_pem(const struct tls_ctx *ctx) { return ctx->root_pem ? ctx->root_pem : ""; }

static char *read_text(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *text = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      char *p = realloc(text, cap);
      if (!p) break;
      text = p;
    }
    memcpy(text + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (text) text[len] = '\0';
  return text;
}

int tls_ctx_load(const char *identity_path, const char *root_path, struct tls_ctx **out, char *err, size_t errlen) {
  char *idtext = read_text(identity_path), *root = read_text(root_path);
  int rc;
  if (!idtext || !root) {
    snprintf(err, errlen, "cannot read %s", !idtext ? identity_path : root_path);
    rc = -ENOENT;
  } else {
    /* One file holds both: PEM readers skip blocks of other types. */
    struct tls_identity id = {idtext, idtext, root};
    char why[256];
    rc = tls_ctx_new(&id, out, why, sizeof why);
    if (rc != 0) snprintf(err, errlen, "%s: %s", identity_path, why);
  }
  if (idtext) OPENSSL_cleanse(idtext, strlen(idtext));
  free(idtext);
  free(root);
  return rc;
}

struct tls_session *tls_session_new(struct tls_ctx *ctx, enum tls_role role, const char *peer_key) {
  struct tls_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->ssl = SSL_new(ctx->ssl);
  s->in = BIO_new(BIO_s_mem());
  s->out = BIO_new(BIO_s_mem());
  if (!s->ssl || !s->in || !s->out) {
    SSL_free(s->ssl);
    BIO_free(s->in);
    BIO_free(s->out);
    free(s);
    return NULL;
  }
  /* An empty input BIO means "wait for more", not end of stream. */
  BIO_set_mem_eof_return(s->in, -1);
  BIO_set_mem_eof_return(s->out, -1);
  SSL_set_bio(s->ssl, s->in, s->out);
  SSL_set_app_data(s->ssl, s);
  s->ctx = ctx;
  ctx->refs++;
  if (role == TLS_CLIENT) {
    SSL_set_connect_state(s->ssl);
    if (peer_key) {
      snprintf(s->peer_key, sizeof s->peer_key, "%s", peer_key);
      /* TLS 1.3 tickets are single use (RFC 8446 C.4): take it out of the cache. */
      struct resume_slot *slot = resume_find(ctx, peer_key);
      if (slot) {
        SSL_set_session(s->ssl, slot->sess);
        SSL_SESSION_free(slot->sess);
        slot->sess = NULL;
      }
    }
  } else {
    SSL_set_accept_state(s->ssl);
  }
  return s;
}

void tls_session_free(struct tls_session *s) {
  if (!s) return;
  SSL_free(s->ssl); /* frees both BIOs */
  tls_ctx_unref(s->ctx);
  free(s);
}

int tls_feed(struct tls_session *s, const char *p, size_t n) {
  if (n == 0) return 0;
  return BIO_write(s->in, p, (int)n) == (int)n ? 0 : -ENOMEM;
}

/* Turns an OpenSSL failure into the sentence tls_error returns. */
static enum tls_status fail(struct tls_session *s, int ret, const char *when) {
  int e = SSL_get_error(s->ssl, ret);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return TLS_WANT_READ;
  if (e == SSL_ERROR_ZERO_RETURN) return TLS_CLOSED;
  s->failed = 1;
  long vr = SSL_get_verify_result(s->ssl);
  unsigned long err = ERR_peek_error();
  char buf[160] = "";
  if (err) ERR_error_string_n(err, buf, sizeof buf);
  ERR_clear_error();
  if (vr != X509_V_OK)
    snprintf(s->error, sizeof s->error, "%s: certificate verify failed: %s", when, X509_verify_cert_error_string(vr));
  else if (buf[0]) snprintf(s->error, sizeof s->error, "%s: %s", when, buf);
  else snprintf(s->error, sizeof s->error, "%s: TLS error %d", when, e);
  return TLS_ERROR;
}

static void on_established(struct tls_session *s) {
  s->established = 1;
  first_uri_san(SSL_get0_peer_certificate(s->ssl), s->peer_id, sizeof s->peer_id);
}

enum tls_status tls_handshake(struct tls_session *s) {
  if (s->failed) return TLS_ERROR;
  if (s->established) return TLS_OK;
  ERR_clear_error();
  int ret = SSL_do_handshake(s->ssl);
  if (ret == 1) {
    on_established(s);
    return TLS_OK;
  }
  return fail(s, ret, "TLS handshake");
}

int tls_established(const struct tls_session *s) { return s->established; }

enum tls_status tls_read(struct tls_session *s, char *out, size_t cap, size_t *got) {
  *got = 0;
  if (s->failed) return TLS_ERROR;
  ERR_clear_error();
  int ret = SSL_read_ex(s->ssl, out, cap, got);
  if (!s->established && SSL_is_init_finished(s->ssl)) on_established(s);
  if (ret == 1) return TLS_OK;
  return fail(s, ret, s->established ? "TLS read" : "TLS handshake");
}

int tls_write(struct tls_session *s, const char *p, size_t n) {
  if (s->failed || !s->established) return -EPROTO;
  ERR_clear_error();
  while (n > 0) {
    size_t done = 0;
    int ret = SSL_write_ex(s->ssl, p, n, &done);
    if (ret != 1) {
      /* Memory BIOs grow, so a want-write cannot happen; anything else is fatal. */
      fail(s, ret, "TLS write");
      return -EPROTO;
    }
    p += done;
    n -= done;
  }
  return 0;
}

void tls_shutdown(struct tls_session *s) {
  if (s->established && !s->failed) {
    ERR_clear_error();
    SSL_shutdown(s->ssl);
    ERR_clear_error();
  }
}

size_t tls_out(struct tls_session *s, const char **p) {
  char *data = NULL;
  long n = BIO_get_mem_data(s->out, &data);
  *p = data;
  return n > 0 ? (size_t)n : 0;
}

void tls_out_consumed(struct tls_session *s) { (void)BIO_reset(s->out); }

const char *tls_error(const struct tls_session *s) { return s->error; }

void tls_set_error(struct tls_session *s, const char *why) {
  s->failed = 1;
  snprintf(s->error, sizeof s->error, "%s", why);
}
const char *tls_peer_id(const struct tls_session *s) { return s->peer_id; }
const char *tls_version(const struct tls_session *s) { return s->established ? SSL_get_version(s->ssl) : ""; }
const char *tls_cipher(const struct tls_session *s) {
  return s->established ? SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl)) : "";
}
int tls_resumed(const struct tls_session *s) { return SSL_session_reused(s->ssl); }

int tls_looks_like_hello(const unsigned char *p, size_t n) { return n >= 1 && p[0] == 0x16 && (n < 2 || p[1] == 0x03); }
