/* Connections: the one layer that touches sockets.
 *
 * A `struct conn` is a TCP or unix-socket stream carrying either plaintext or (once the TLS
 * module lands) TLS; everything above it reads and writes plaintext bytes and never asks which.
 * It owns the libuv handle, tries writes immediately (uv_try_write) and queues only what the
 * kernel did not take, counts queued bytes so callers can apply backpressure, and buffers writes
 * made while a client connection is still connecting.
 *
 * Lifetime follows libuv's rule: the owner frees the struct only in or after its close callback.
 * All connections of one loop share one read buffer (`struct conn_env`): bytes handed to the read
 * callback are valid only during that call, so readers consume or copy them before returning.
 */
#ifndef MESH_CONN_H
#define MESH_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "mesh/buf.h"

struct conn;
struct tls_ctx;
struct tls_session;

/* Bytes arrived (status 0, data/len valid for this call only), or the stream ended (status
 * UV_EOF) or failed (status < 0, data NULL). */
typedef void (*conn_read_cb)(struct conn *c, int status, const char *data, size_t len);
/* A client connection finished connecting (status 0) or failed (status < 0). */
typedef void (*conn_connect_cb)(struct conn *c, int status);
/* The write queue fell back under the low-water mark after being over the high-water mark. */
typedef void (*conn_drain_cb)(struct conn *c);
/* The handle is closed; the owner may free the struct now. */
typedef void (*conn_close_cb)(struct conn *c);

/* Shared by every connection of one event loop. */
struct conn_env {
  uv_loop_t *loop;
  char *read_buf;
  size_t read_buf_size;
  size_t write_high; /* queue size above which conn_write_blocked() says stop */
  size_t write_low;  /* drain callback fires when the queue falls to this */
  char *plain_buf;   /* TLS: decrypted bytes of one read, 2 * read_buf_size (allocated on first use) */
};

/* Sets up an environment for loop with a read buffer of read_buf_size bytes; returns 0 or
 * -ENOMEM. */
int conn_env_init(struct conn_env *env, uv_loop_t *loop, size_t read_buf_size);
void conn_env_free(struct conn_env *env);

enum conn_security { CONN_PLAIN, CONN_TLS };
enum conn_kind { CONN_TCP, CONN_PIPE };

/* An endpoint to connect to or listen on: "HOST:PORT", "[V6]:PORT" or "unix:/path". */
struct conn_addr {
  enum conn_kind kind;
  struct sockaddr_storage sa; /* CONN_TCP */
  char path[108];             /* CONN_PIPE */
  char text[128];             /* as the user wrote it, normalised: "127.0.0.1:8080" */
};

/* Parses "HOST:PORT" (numeric IPv4/IPv6 or "localhost") or "unix:/path"; returns 0 or
 * -EINVAL. */
int conn_addr_parse(struct conn_addr *out, const char *text);
/* Formats a socket address as "HOST:PORT" into out (n bytes). */
void conn_addr_format(const struct sockaddr *sa, char *out, size_t n);

struct conn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  struct conn_env *env;
  enum conn_kind kind;
  enum conn_security security;
  void *data; /* the owner's */
  conn_read_cb on_read;
  conn_connect_cb on_connect;
  conn_drain_cb on_drain;
  conn_close_cb on_close;
  uv_connect_t connect_req;
  uv_shutdown_t shutdown_req;
  struct buf pending; /* written before the connection was up */
  struct buf corked;  /* written while corked, sent at conn_uncork */
  size_t queued;      /* bytes handed to libuv and not yet written */
  unsigned connecting : 1, reading : 1, closing : 1, blocked : 1, shutting : 1, cork : 1;
  /* TLS (security == CONN_TLS, or a server connection still sniffing its first bytes) */
  struct tls_session *tls;   /* owned; a sniffing server's is dropped if plaintext arrives */
  unsigned sniffing : 1;     /* server, PERMISSIVE: TLS or plaintext decided by the first byte */
  unsigned tls_required : 1; /* server, STRICT: plaintext is refused */
  unsigned handshaking : 1, reset_on_close : 1;
  char *tls_expected_id; /* client: the server's SPIFFE ID must be this (owned), or NULL */
};

/* Initialises c as the server side of a connection accepted from `server` (a listening
 * handle of kind `kind`); returns 0 or a negative libuv error. Either way the handle exists:
 * the owner ends it with conn_close and frees c in on_close. */
int conn_accept(struct conn *c, struct conn_env *env, uv_stream_t *server, enum conn_kind kind);
/* Starts connecting to addr; on_connect fires later with the result (never after an error
 * return). Writes made before it completes are buffered. Returns 0 or a negative libuv error;
 * either way the owner ends c with conn_close and frees it in on_close. */
int conn_connect(struct conn *c, struct conn_env *env, const struct conn_addr *addr, conn_connect_cb on_connect);

/* Starts delivering bytes to on_read; idempotent. */
int conn_read_start(struct conn *c);
/* Stops delivering bytes (backpressure); idempotent. */
void conn_read_stop(struct conn *c);

/* Writes n bytes (copied when they cannot be written at once). Returns 0 or a negative
 * error (the connection is then unusable; close it). */
int conn_write(struct conn *c, const char *p, size_t n);
/* Writes several slices in order, as one write where possible. */
int conn_writev(struct conn *c, const struct slice *parts, size_t nparts);
/* Corking: writes made between conn_cork and conn_uncork leave in one system call at
 * conn_uncork (a response head and its body, written by separate parser callbacks, become one
 * write). Corked bytes count towards the write queue for backpressure. */
void conn_cork(struct conn *c);
/* Sends what was written while corked; returns 0 or a negative error (close the connection). */
int conn_uncork(struct conn *c);
/* Nonzero while the queue is above the high-water mark: stop feeding this connection until
 * on_drain fires. */
int conn_write_blocked(const struct conn *c);

/* ---- TLS ---- */

/* How a server connection treats its first bytes (Istio's PeerAuthentication modes). */
enum conn_tls_accept {
  CONN_ACCEPT_PLAIN,    /* DISABLE: plaintext only (TLS bytes reach the reader as they are) */
  CONN_ACCEPT_EITHER,   /* PERMISSIVE: a ClientHello first byte (0x16) means TLS, else plaintext */
  CONN_ACCEPT_TLS_ONLY, /* STRICT: anything but a TLS handshake resets the connection */
};

/* Makes a client connection TLS (call right after conn_connect, before returning to the loop):
 * once TCP is up the handshake runs; on_connect fires with 0 after it, or with UV_EPROTO.
 * peer_key names the peer for session resumption (NULL: none). With expected_id (borrowed for
 * the call) the server's SPIFFE ID must equal it, or the connect fails (Envoy's SAN match
 * against the destination's service accounts). Takes a reference on ctx. Returns 0 or -ENOMEM. */
int conn_tls_client(struct conn *c, struct tls_ctx *ctx, const char *peer_key, const char *expected_id);
/* Makes an accepted connection TLS per mode (ctx may be NULL only with CONN_ACCEPT_PLAIN). A
 * refused plaintext client or a failed handshake reaches on_read as UV_ECONNRESET or
 * UV_EPROTO; the owner closes, and the close is a TCP reset (a curl client then exits 56, as
 * Istio's STRICT docs show). Takes a reference on ctx. Returns 0 or -ENOMEM. */
int conn_tls_server(struct conn *c, struct tls_ctx *ctx, enum conn_tls_accept mode);
/* Nonzero when the connection carries TLS (decided and handshaken or handshaking). */
int conn_is_tls(const struct conn *c);
/* The peer's SPIFFE ID once a TLS handshake is done, "" otherwise. Borrowed from c. */
const char *conn_tls_peer_id(const struct conn *c);
/* Why the TLS handshake or session failed, "" when it did not. Borrowed from c. */
const char *conn_tls_error(const struct conn *c);
/* "TLSv1.3 TLS_AES_128_GCM_SHA256 (resumed)" into out, or "plaintext". */
void conn_tls_describe(const struct conn *c, char *out, size_t n);

/* Closes the connection at once (queued writes are dropped); on_close fires when done. */
void conn_close(struct conn *c);
/* Closes after queued writes reach the kernel (a graceful end of a response). */
void conn_close_after_write(struct conn *c);

/* The peer's address as "HOST:PORT" (or "unix" for pipes) into out. */
void conn_peer_name(const struct conn *c, char *out, size_t n);
/* The local address as "HOST:PORT" into out. */
void conn_local_name(const struct conn *c, char *out, size_t n);

#endif
