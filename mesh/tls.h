/* tls: TLS over memory buffers, the one module that includes OpenSSL's TLS API.
 *
 * Where it sits: conn.c owns the sockets; when a connection is CONN_TLS it hands the ciphertext
 * it reads to tls_feed, takes plaintext from tls_read, gives plaintext to tls_write and sends
 * what tls_out returns. Nothing here touches a socket or the loop, so a client and a server
 * session can be wired to each other in memory (tests/mesh/test_tls.c does).
 *
 * A `struct tls_ctx` is one workload identity: its certificate and key, the root it trusts,
 * TLS 1.3 only (Istio's sidecars default to 1.2 minimum; meshlab's lab has no legacy peer to
 * talk to, so it only speaks 1.3), and peer verification required both ways (mutual TLS: the
 * server asks for and demands a client certificate). Contexts are reference counted: a session
 * keeps its context alive, so rotating an identity is building a new context and dropping the
 * old one while connections made with it carry on. A client context keeps one resumable
 * session per peer address (TLS 1.3 tickets): a reconnect to the same sidecar skips the
 * certificate exchange and its signatures.
 */
#ifndef MESH_TLS_H
#define MESH_TLS_H

#include <stddef.h>
#include <stdint.h>

struct tls_ctx;
struct tls_session;

/* PEM text of one identity (borrowed). cert_pem may hold the leaf followed by intermediates. */
struct tls_identity {
  const char *cert_pem;
  const char *key_pem;
  const char *root_pem; /* the trust bundle peers must chain to */
};

/* Builds a context for identity. Returns 0 and *out (owned: tls_ctx_unref), or -EINVAL with
 * what is wrong in err (a bad PEM, a key that does not match the certificate), or -ENOMEM. */
int tls_ctx_new(const struct tls_identity *id, struct tls_ctx **out, char *err, size_t errlen);
/* Reads an identity file (the certificate, then intermediates, and the private key, PEM: what
 * the lab writes, ca_issued_write) and the root file, and builds a context as tls_ctx_new.
 * Errors name the file. */
int tls_ctx_load(const char *identity_path, const char *root_path, struct tls_ctx **out, char *err, size_t errlen);
/* The context's certificate chain and root as PEM (no key), for `proxy-config secret`.
 * Borrowed from ctx. */
const char *tls_ctx_chain_pem(const struct tls_ctx *ctx);
const char *tls_ctx_root_pem(const struct tls_ctx *ctx);
/* Drops a reference (NULL is a no-op); the context is freed with its last session. */
void tls_ctx_unref(struct tls_ctx *ctx);
/* The context's own SPIFFE ID (its certificate's first URI SAN), "" when none. Borrowed. */
const char *tls_ctx_id(const struct tls_ctx *ctx);

enum tls_role { TLS_CLIENT, TLS_SERVER };

/* Starts a session on ctx (which it references). A client names the peer it connects to in
 * peer_key ("127.1.0.5:9080": the resumption cache key; NULL: no resumption). Returns owned
 * or NULL (out of memory). */
struct tls_session *tls_session_new(struct tls_ctx *ctx, enum tls_role role, const char *peer_key);
/* tls_session_free(NULL) is a no-op. */
void tls_session_free(struct tls_session *s);

enum tls_status {
  TLS_OK,        /* progress made (handshake done, or bytes read/written) */
  TLS_WANT_READ, /* needs more ciphertext from the peer (tls_feed) */
  TLS_CLOSED,    /* the peer sent close_notify */
  TLS_ERROR,     /* fatal: tls_error says why; close the connection */
};

/* Gives the session ciphertext received from the peer (copied). Returns 0 or -ENOMEM. */
int tls_feed(struct tls_session *s, const char *p, size_t n);
/* Advances the handshake. TLS_OK once it is complete (then the peer's chain has been verified
 * against the root and, for a client, the server's certificate had to present a SPIFFE ID). */
enum tls_status tls_handshake(struct tls_session *s);
/* Nonzero once the handshake is complete. */
int tls_established(const struct tls_session *s);
/* Decrypts into out (up to cap bytes); *got says how many. TLS_OK with *got > 0, TLS_WANT_READ
 * when no whole record is buffered, TLS_CLOSED, TLS_ERROR. Also drives the handshake. */
enum tls_status tls_read(struct tls_session *s, char *out, size_t cap, size_t *got);
/* Encrypts n plaintext bytes into the outgoing buffer (handshake complete only). Returns 0,
 * -EPROTO (session failed: tls_error) or -ENOMEM. */
int tls_write(struct tls_session *s, const char *p, size_t n);
/* Queues a close_notify alert (sent with the next tls_out). */
void tls_shutdown(struct tls_session *s);
/* The ciphertext waiting to be sent: *p borrowed until tls_out_consumed or the next call that
 * produces output. Returns its length (0: nothing to send). */
size_t tls_out(struct tls_session *s, const char **p);
/* Drops the ciphertext tls_out returned (the caller copied or sent it). */
void tls_out_consumed(struct tls_session *s);

/* Why the session failed, as a short sentence for logs and 503 bodies ("certificate verify
 * failed: unable to get local issuer certificate", "peer offered only TLS 1.2"); "" when fine. */
const char *tls_error(const struct tls_session *s);
/* Records a failure the caller saw outside OpenSSL (the peer closed mid-handshake); borrows why. */
void tls_set_error(struct tls_session *s, const char *why);
/* The peer certificate's first URI SAN (its SPIFFE ID) after the handshake, "" when none. */
const char *tls_peer_id(const struct tls_session *s);
/* "TLSv1.3", and the cipher suite ("TLS_AES_128_GCM_SHA256"); "" before the handshake. */
const char *tls_version(const struct tls_session *s);
const char *tls_cipher(const struct tls_session *s);
/* Nonzero when the handshake resumed an earlier session (no certificate exchange). */
int tls_resumed(const struct tls_session *s);

/* Nonzero when the first bytes of a connection look like a TLS ClientHello: a handshake record
 * (0x16) of version 3.x. Istio's PERMISSIVE inbound listener makes the same first-bytes choice
 * (Envoy's tls_inspector). n may be 1: the first byte alone decides then. */
int tls_looks_like_hello(const unsigned char *p, size_t n);

#endif
