/* Connections over libuv streams: see conn.h.
 *
 * Writes go out with uv_try_write first, as HAProxy and nginx write directly from their event
 * handler: on an uncongested loopback socket the kernel takes a whole response and no uv_write_t
 * is ever allocated. Only a remainder is copied into a write request.
 *
 * TLS slots in below the callers: the read callback passes ciphertext through the session's
 * memory BIOs (tls.c) and hands on_read the plaintext of one socket read in one call, as a
 * plaintext connection would; writes are encrypted into ciphertext just before they reach
 * write_now, so the queue, backpressure marks and corking count ciphertext bytes. A client's
 * handshake runs between TCP connect and on_connect: writes made meanwhile wait in `pending`
 * exactly as they do while TCP connects, so the exchange code never learns there was a
 * handshake. A PERMISSIVE server reads the first byte before it decides (Envoy's tls_inspector
 * listener filter does the same peek): 0x16 is a TLS handshake record, anything else plaintext.
 */
#include "mesh/conn.h"

#include "mesh/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct write_req {
  uv_write_t req;
  struct conn *conn;
  size_t len;
  char data[];
};

int conn_env_init(struct conn_env *env, uv_loop_t *loop, size_t read_buf_size) {
  memset(env, 0, sizeof *env);
  env->loop = loop;
  env->read_buf_size = read_buf_size ? read_buf_size : 65536;
  env->read_buf = malloc(env->read_buf_size);
  if (!env->read_buf) return -ENOMEM;
  env->write_high = 256 * 1024;
  env->write_low = 64 * 1024;
  return 0;
}

void conn_env_free(struct conn_env *env) {
  free(env->read_buf);
  free(env->plain_buf);
  env->read_buf = env->plain_buf = NULL;
}

int conn_addr_parse(struct conn_addr *out, const char *text) {
  memset(out, 0, sizeof *out);
  if (strncmp(text, "unix:", 5) == 0) {
    if (strlen(text + 5) == 0 || strlen(text + 5) >= sizeof out->path) return -EINVAL;
    out->kind = CONN_PIPE;
    snprintf(out->path, sizeof out->path, "%s", text + 5);
    snprintf(out->text, sizeof out->text, "unix:%s", out->path);
    return 0;
  }
  out->kind = CONN_TCP;
  char host[64];
  const char *colon;
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host) return -EINVAL;
    memcpy(host, text + 1, (size_t)(end - text - 1));
    host[end - text - 1] = '\0';
    colon = end + 1;
  } else {
    colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host) return -EINVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
  }
  char *endp;
  long port = strtol(colon + 1, &endp, 10);
  if (colon[1] == '\0' || *endp != '\0' || port < 0 || port > 65535) return -EINVAL;
  if (strcmp(host, "localhost") == 0 || host[0] == '\0') snprintf(host, sizeof host, "127.0.0.1");
  struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
  if (uv_ip4_addr(host, (int)port, in4) != 0 && uv_ip6_addr(host, (int)port, in6) != 0) return -EINVAL;
  conn_addr_format((struct sockaddr *)&out->sa, out->text, sizeof out->text);
  return 0;
}

void conn_addr_format(const struct sockaddr *sa, char *out, size_t n) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
    uv_ip4_name(in4, ip, sizeof ip);
    snprintf(out, n, "%s:%d", ip, ntohs(in4->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    uv_ip6_name(in6, ip, sizeof ip);
    snprintf(out, n, "[%s]:%d", ip, ntohs(in6->sin6_port));
  } else {
    snprintf(out, n, "unix");
  }
}

static int conn_handle_init(struct conn *c, struct conn_env *env, enum conn_kind kind) {
  memset(c, 0, sizeof *c);
  c->env = env;
  c->kind = kind;
  c->security = CONN_PLAIN;
  int rc = kind == CONN_TCP ? uv_tcp_init(env->loop, &c->h.tcp) : uv_pipe_init(env->loop, &c->h.pipe, 0);
  if (rc == 0) c->h.handle.data = c;
  return rc;
}

int conn_accept(struct conn *c, struct conn_env *env, uv_stream_t *server, enum conn_kind kind) {
  int rc = conn_handle_init(c, env, kind);
  if (rc != 0) return rc;
  rc = uv_accept(server, &c->h.stream);
  if (rc != 0) return rc;
  if (kind == CONN_TCP) uv_tcp_nodelay(&c->h.tcp, 1);
  return 0;
}

static int flush_pending(struct conn *c);
static int flush_tls_out(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_connected(uv_connect_t *req, int status) {
  struct conn *c = container_of(req, struct conn, connect_req);
  if (c->closing) {
    c->connecting = 0;
    return;
  }
  if (status == 0 && c->kind == CONN_TCP) uv_tcp_nodelay(&c->h.tcp, 1);
  if (status == 0 && c->tls) {
    /* TCP is up; the TLS handshake starts (ClientHello out) and on_connect waits for it. The
     * connection reads from now on: the owner starts reading after on_connect anyway. */
    c->handshaking = 1;
    if (tls_handshake(c->tls) == TLS_ERROR) status = UV_EPROTO;
    if (status == 0) status = flush_tls_out(c);
    if (status == 0) status = uv_read_start(&c->h.stream, on_alloc, on_stream_read);
    if (status == 0) {
      c->reading = 1;
      return;
    }
    c->handshaking = 0;
  }
  c->connecting = 0;
  if (status == 0) status = flush_pending(c);
  if (c->on_connect) c->on_connect(c, status);
}

int conn_connect(struct conn *c, struct conn_env *env, const struct conn_addr *addr, conn_connect_cb on_connect) {
  int rc = conn_handle_init(c, env, addr->kind);
  if (rc != 0) return rc;
  c->on_connect = on_connect;
  c->connecting = 1;
  if (addr->kind == CONN_TCP) {
    rc = uv_tcp_connect(&c->connect_req, &c->h.tcp, (const struct sockaddr *)&addr->sa, on_connected);
    if (rc != 0) {
      c->connecting = 0;
      return rc;
    }
  } else {
    uv_pipe_connect(&c->connect_req, &c->h.pipe, addr->path, on_connected);
  }
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct conn *c = h->data;
  (void)suggested;
  buf->base = c->env->read_buf;
  buf->len = c->env->read_buf_size;
}

static void on_tls_bytes(struct conn *c, const char *data, size_t len);

static void on_stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (nread == 0 || c->closing) return;
  if (c->handshaking && c->connecting && nread < 0) {
    /* The server went away mid-handshake: a connect failure for the owner. A plaintext server
     * does that (it reads a ClientHello as a malformed request): say so. */
    tls_set_error(c->tls, nread == UV_EOF ? "TLS handshake: the peer closed the connection (is it speaking TLS?)"
                                          : "TLS handshake: the connection failed");
    c->handshaking = c->connecting = 0;
    if (c->on_connect) c->on_connect(c, UV_EPROTO);
    return;
  }
  if ((c->tls || c->sniffing) && nread > 0) {
    on_tls_bytes(c, buf->base, (size_t)nread);
    return;
  }
  if (nread < 0) {
    c->on_read(c, (int)nread, NULL, 0);
    return;
  }
  c->on_read(c, 0, buf->base, (size_t)nread);
}

int conn_read_start(struct conn *c) {
  if (c->reading || c->closing) return 0;
  int rc = uv_read_start(&c->h.stream, on_alloc, on_stream_read);
  if (rc == 0) c->reading = 1;
  return rc;
}

void conn_read_stop(struct conn *c) {
  if (!c->reading) return;
  uv_read_stop(&c->h.stream);
  c->reading = 0;
}

static void on_written(uv_write_t *req, int status) {
  struct write_req *w = container_of(req, struct write_req, req);
  struct conn *c = w->conn;
  c->queued -= w->len;
  free(w);
  if (status < 0 || c->closing) return;
  if (c->blocked && c->queued <= c->env->write_low) {
    c->blocked = 0;
    if (c->on_drain) c->on_drain(c);
  }
}

/* Hands bytes to libuv: first straight to the kernel, the rest through one queued request. */
static int write_now(struct conn *c, const uv_buf_t *bufs, unsigned nbufs, size_t total) {
  size_t done = 0;
  if (c->queued == 0) {
    int rc = uv_try_write(&c->h.stream, bufs, nbufs);
    if (rc >= 0) done = (size_t)rc;
    else if (rc != UV_EAGAIN) return rc;
  }
  if (done == total) return 0;
  size_t rest = total - done;
  struct write_req *w = malloc(sizeof *w + rest);
  if (!w) return -ENOMEM;
  w->conn = c;
  w->len = rest;
  size_t off = 0, skip = done;
  for (unsigned i = 0; i < nbufs; i++) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(w->data + off, bufs[i].base + skip, len - skip);
    off += len - skip;
    skip = 0;
  }
  uv_buf_t b = uv_buf_init(w->data, (unsigned)rest);
  int rc = uv_write(&w->req, &c->h.stream, &b, 1, on_written);
  if (rc != 0) {
    free(w);
    return rc;
  }
  c->queued += rest;
  if (c->queued > c->env->write_high) c->blocked = 1;
  return 0;
}

/* Sends plaintext: encrypted first on a TLS connection, then handed to write_now. */
static int send_now(struct conn *c, const uv_buf_t *bufs, unsigned nbufs, size_t total) {
  if (!c->tls) return write_now(c, bufs, nbufs, total);
  for (unsigned i = 0; i < nbufs; i++)
    if (bufs[i].len && tls_write(c->tls, bufs[i].base, bufs[i].len) != 0) return UV_EPROTO;
  return flush_tls_out(c);
}

/* Sends the ciphertext the TLS session produced (handshake flights, records, alerts). */
static int flush_tls_out(struct conn *c) {
  const char *p;
  size_t n = tls_out(c->tls, &p);
  if (n == 0) return 0;
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int rc = write_now(c, &b, 1, n);
  tls_out_consumed(c->tls);
  return rc;
}

/* After bytes counted as queued (pending while connecting, corked) went out: if the kernel
 * took them all at once, no write request will complete to lift the block, so lift it here. */
static void check_drain(struct conn *c) {
  if (c->blocked && c->queued <= c->env->write_low && !c->closing) {
    c->blocked = 0;
    if (c->on_drain) c->on_drain(c);
  }
}

static int flush_pending(struct conn *c) {
  if (c->pending.len == 0) return 0;
  /* Pending bytes were counted as queued while connecting; they now go out for real. */
  c->queued -= c->pending.len;
  uv_buf_t b = uv_buf_init(c->pending.data, (unsigned)c->pending.len);
  int rc = send_now(c, &b, 1, c->pending.len);
  buf_free(&c->pending);
  if (rc == 0) check_drain(c);
  return rc;
}

int conn_writev(struct conn *c, const struct slice *parts, size_t nparts) {
  if (c->closing) return UV_ECANCELED;
  size_t total = 0;
  if (c->connecting || c->handshaking || c->cork) {
    struct buf *into = c->connecting || c->handshaking ? &c->pending : &c->corked;
    for (size_t i = 0; i < nparts; i++) {
      if (buf_append(into, parts[i].p, parts[i].n) != 0) return -ENOMEM;
      total += parts[i].n;
    }
    c->queued += total;
    if (c->queued > c->env->write_high) c->blocked = 1;
    return 0;
  }
  uv_buf_t bufs[16];
  if (nparts > 16) return -EINVAL;
  for (size_t i = 0; i < nparts; i++) {
    bufs[i] = uv_buf_init((char *)parts[i].p, (unsigned)parts[i].n);
    total += parts[i].n;
  }
  if (total == 0) return 0;
  return send_now(c, bufs, (unsigned)nparts, total);
}

int conn_write(struct conn *c, const char *p, size_t n) {
  struct slice s = {p, n};
  return conn_writev(c, &s, 1);
}

int conn_write_blocked(const struct conn *c) { return c->blocked; }

void conn_cork(struct conn *c) { c->cork = 1; }

int conn_uncork(struct conn *c) {
  if (!c->cork) return 0;
  c->cork = 0;
  if (c->corked.len == 0 || c->closing) {
    buf_reset(&c->corked);
    return 0;
  }
  /* Corked bytes were counted as queued; they now go out for real. */
  c->queued -= c->corked.len;
  uv_buf_t b = uv_buf_init(c->corked.data, (unsigned)c->corked.len);
  int rc = send_now(c, &b, 1, c->corked.len);
  /* Keep the buffer's memory for the next turn unless it grew large. */
  if (c->corked.cap > 64 * 1024) buf_free(&c->corked);
  else buf_reset(&c->corked);
  if (rc == 0) check_drain(c);
  return rc;
}

static void on_handle_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  buf_free(&c->pending);
  buf_free(&c->corked);
  tls_session_free(c->tls);
  c->tls = NULL;
  free(c->tls_expected_id);
  c->tls_expected_id = NULL;
  if (c->on_close) c->on_close(c);
}

void conn_close(struct conn *c) {
  if (c->closing) return;
  c->closing = 1;
  c->reading = 0;
  /* A refused plaintext client gets a TCP reset, not a FIN: what Envoy's STRICT listener does
   * (it closes with the request unread), and what makes curl report exit 56. */
  if (c->reset_on_close && c->kind == CONN_TCP && uv_tcp_close_reset(&c->h.tcp, on_handle_closed) == 0) return;
  uv_close(&c->h.handle, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct conn *c = container_of(req, struct conn, shutdown_req);
  (void)status;
  c->shutting = 0;
  c->closing = 0; /* let conn_close run its course */
  conn_close(c);
}

void conn_close_after_write(struct conn *c) {
  if (c->closing) return;
  conn_uncork(c);
  if (c->tls && tls_established(c->tls) && !c->connecting) {
    tls_shutdown(c->tls); /* close_notify, so the peer can tell an end from a truncation */
    if (flush_tls_out(c) != 0) {
      conn_close(c);
      return;
    }
  }
  if (c->connecting || c->queued == 0) {
    conn_close(c);
    return;
  }
  /* uv_shutdown completes after every queued write; then close. Mark closing so no new
   * writes or reads are accepted meanwhile. */
  conn_read_stop(c);
  if (uv_shutdown(&c->shutdown_req, &c->h.stream, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  c->shutting = 1;
  c->closing = 1;
}

void conn_peer_name(const struct conn *c, char *out, size_t n) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (c->kind == CONN_TCP && uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0)
    conn_addr_format((struct sockaddr *)&ss, out, n);
  else snprintf(out, n, c->kind == CONN_PIPE ? "unix" : "-");
}

void conn_local_name(const struct conn *c, char *out, size_t n) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (c->kind == CONN_TCP && uv_tcp_getsockname(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0)
    conn_addr_format((struct sockaddr *)&ss, out, n);
  else snprintf(out, n, c->kind == CONN_PIPE ? "unix" : "-");
}

/* ---- TLS ----------------------------------------------------------------------------------- */

int conn_tls_client(struct conn *c, struct tls_ctx *ctx, const char *peer_key, const char *expected_id) {
  c->tls = tls_session_new(ctx, TLS_CLIENT, peer_key);
  if (!c->tls) return -ENOMEM;
  if (expected_id && expected_id[0] && !(c->tls_expected_id = strdup(expected_id))) return -ENOMEM;
  c->security = CONN_TLS;
  return 0;
}

int conn_tls_server(struct conn *c, struct tls_ctx *ctx, enum conn_tls_accept mode) {
  if (mode == CONN_ACCEPT_PLAIN || !ctx) return 0;
  /* The session exists from the start (it references ctx, so a rotation meanwhile is harmless)
   * and is dropped if the first byte says plaintext. */
  c->tls = tls_session_new(ctx, TLS_SERVER, NULL);
  if (!c->tls) return -ENOMEM;
  c->sniffing = 1;
  c->tls_required = mode == CONN_ACCEPT_TLS_ONLY;
  return 0;
}

int conn_is_tls(const struct conn *c) { return c->tls != NULL && !c->sniffing; }

const char *conn_tls_peer_id(const struct conn *c) { return c->tls ? tls_peer_id(c->tls) : ""; }

const char *conn_tls_error(const struct conn *c) { return c->tls ? tls_error(c->tls) : ""; }

void conn_tls_describe(const struct conn *c, char *out, size_t n) {
  if (!conn_is_tls(c) || !tls_established(c->tls)) {
    snprintf(out, n, "plaintext");
    return;
  }
  snprintf(out, n, "%s %s%s", tls_version(c->tls), tls_cipher(c->tls), tls_resumed(c->tls) ? " (resumed)" : "");
}

/* The handshake failed: a client's owner hears a connect failure, a server's owner a read
 * error; either way the reason stays readable in conn_tls_error until the close. */
static void tls_failed(struct conn *c) {
  flush_tls_out(c); /* the alert, so the peer learns why */
  if (c->connecting) {
    c->handshaking = c->connecting = 0;
    if (c->on_connect) c->on_connect(c, UV_EPROTO);
    return;
  }
  c->handshaking = 0;
  c->on_read(c, UV_EPROTO, NULL, 0);
}

/* Decrypts what the session holds and delivers it: the plaintext of one socket read in one
 * on_read call (plain_buf is twice the read buffer, room for one read plus a record left over
 * from the previous one), as a plaintext connection would deliver it. */
static void deliver_plain(struct conn *c) {
  struct conn_env *env = c->env;
  size_t cap = 2 * env->read_buf_size;
  if (!env->plain_buf && !(env->plain_buf = malloc(cap))) {
    c->on_read(c, UV_ENOMEM, NULL, 0);
    return;
  }
  do {
    size_t total = 0, got = 0;
    enum tls_status st = TLS_OK;
    while (total < cap && (st = tls_read(c->tls, env->plain_buf + total, cap - total, &got)) == TLS_OK) total += got;
    if (flush_tls_out(c) != 0) st = TLS_ERROR; /* post-handshake messages (key updates) */
    if (total > 0) c->on_read(c, 0, env->plain_buf, total);
    if (c->closing) return;
    if (st == TLS_CLOSED) {
      c->on_read(c, UV_EOF, NULL, 0);
      return;
    }
    if (st == TLS_ERROR) {
      c->on_read(c, UV_EPROTO, NULL, 0);
      return;
    }
    if (total < cap) return;
  } while (c->reading);
}

static void on_tls_bytes(struct conn *c, const char *data, size_t len) {
  if (c->sniffing) {
    c->sniffing = 0;
    if (!tls_looks_like_hello((const unsigned char *)data, len)) {
      tls_session_free(c->tls);
      c->tls = NULL;
      if (c->tls_required) {
        c->reset_on_close = 1;
        c->on_read(c, UV_ECONNRESET, NULL, 0);
        return;
      }
      c->on_read(c, 0, data, len); /* PERMISSIVE: a plaintext client */
      return;
    }
    c->security = CONN_TLS;
    c->handshaking = 1;
  }
  if (tls_feed(c->tls, data, len) != 0) {
    if (c->connecting) {
      c->connecting = c->handshaking = 0;
      if (c->on_connect) c->on_connect(c, UV_ENOMEM);
    } else {
      c->on_read(c, UV_ENOMEM, NULL, 0);
    }
    return;
  }
  if (c->handshaking) {
    enum tls_status st = tls_handshake(c->tls);
    if (st == TLS_ERROR) {
      tls_failed(c);
      return;
    }
    if (flush_tls_out(c) != 0) {
      tls_failed(c);
      return;
    }
    if (st != TLS_OK) return;
    if (c->connecting && c->tls_expected_id && strcmp(tls_peer_id(c->tls), c->tls_expected_id) != 0) {
      /* A valid certificate of the wrong workload: refused like a failed handshake. */
      char why[600];
      snprintf(why, sizeof why, "TLS handshake: the server is %s, expected %s",
               tls_peer_id(c->tls)[0] ? tls_peer_id(c->tls) : "(no SPIFFE ID)", c->tls_expected_id);
      tls_set_error(c->tls, why);
      tls_failed(c);
      return;
    }
    c->handshaking = 0;
    if (c->connecting) { /* a client: now the owner hears it is connected */
      c->connecting = 0;
      int rc = flush_pending(c);
      if (c->on_connect) c->on_connect(c, rc);
      if (rc != 0) return;
    } else if (flush_pending(c) != 0) {
      c->on_read(c, UV_EPROTO, NULL, 0);
      return;
    }
    if (c->closing) return;
  }
  deliver_plain(c);
}
