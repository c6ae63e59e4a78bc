/* tests for mesh/tls.c and mesh/ca.c: a client and a server session wired together in memory,
 * identities issued by an in-memory CA. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh/ca.h"
#include "mesh/conn.h"
#include "mesh/tls.h"
#include "support/test.h"

#include <openssl/ssl.h>

struct pair {
  struct tls_session *c, *s;
};

/* Moves ciphertext from one side to the other; returns bytes moved. */
static size_t pump(struct tls_session *from, struct tls_session *to) {
  const char *p;
  size_t n = tls_out(from, &p);
  if (n) {
    tls_feed(to, p, n);
    tls_out_consumed(from);
  }
  return n;
}

/* Runs both handshakes to completion or failure; returns 0 when both are established. */
static int handshake(struct pair *pr) {
  for (int i = 0; i < 20; i++) {
    enum tls_status a = tls_handshake(pr->c);
    pump(pr->c, pr->s);
    enum tls_status b = tls_handshake(pr->s);
    pump(pr->s, pr->c);
    if (a == TLS_ERROR || b == TLS_ERROR) {
      /* Deliver the alert so the other side learns too. */
      tls_handshake(pr->c);
      tls_handshake(pr->s);
      return -1;
    }
    if (a == TLS_OK && b == TLS_OK) return 0;
  }
  return -1;
}

static struct tls_ctx *identity(struct ca *ca, const char *id, uint32_t ttl) {
  struct ca_issued is;
  if (ca_issue(ca, id, ttl, time(NULL), &is) != 0) return NULL;
  struct tls_identity tid = {is.cert_pem, is.key_pem, is.root_pem};
  struct tls_ctx *ctx = NULL;
  char err[256];
  if (tls_ctx_new(&tid, &ctx, err, sizeof err) != 0) test_fail(__FILE__, __LINE__, "tls_ctx_new: %s", err);
  ca_issued_free(&is);
  return ctx;
}

static const char *A = "spiffe://cluster.local/ns/default/sa/productpage";
static const char *B = "spiffe://cluster.local/ns/default/sa/reviews";

static void test_handshake_and_data(void) {
  struct ca *ca;
  ASSERT_INT_EQ(ca_new(time(NULL), &ca), 0);
  struct tls_ctx *cc = identity(ca, A, 3600), *sc = identity(ca, B, 3600);
  ASSERT(cc && sc);
  EXPECT_STR_EQ(tls_ctx_id(cc), A);
  struct pair pr = {tls_session_new(cc, TLS_CLIENT, "127.1.0.5:9080"), tls_session_new(sc, TLS_SERVER, NULL)};
  ASSERT_INT_EQ(handshake(&pr), 0);
  EXPECT_STR_EQ(tls_peer_id(pr.c), B);
  EXPECT_STR_EQ(tls_peer_id(pr.s), A);
  EXPECT_STR_EQ(tls_version(pr.c), "TLSv1.3");
  EXPECT(strncmp(tls_cipher(pr.s), "TLS_", 4) == 0);
  /* Data both ways, one message larger than a record. */
  size_t big = 100000;
  char *msg = malloc(big), *got = malloc(big + 1);
  for (size_t i = 0; i < big; i++) msg[i] = (char)('a' + i % 26);
  ASSERT_INT_EQ(tls_write(pr.c, msg, big), 0);
  pump(pr.c, pr.s);
  size_t total = 0, n;
  while (tls_read(pr.s, got + total, big - total, &n) == TLS_OK) total += n;
  EXPECT_INT_EQ(total, big);
  EXPECT(memcmp(msg, got, big) == 0);
  pump(pr.s, pr.c); /* the server's session ticket */
  ASSERT_INT_EQ(tls_write(pr.s, "pong", 4), 0);
  pump(pr.s, pr.c);
  EXPECT_INT_EQ(tls_read(pr.c, got, big, &n), TLS_OK);
  EXPECT_INT_EQ(n, 4);
  EXPECT(memcmp(got, "pong", 4) == 0);
  EXPECT(!tls_resumed(pr.c));
  /* close_notify reads as TLS_CLOSED. */
  tls_shutdown(pr.c);
  pump(pr.c, pr.s);
  EXPECT_INT_EQ(tls_read(pr.s, got, big, &n), TLS_CLOSED);
  tls_session_free(pr.c);
  tls_session_free(pr.s);

  /* A second connection to the same peer resumes with the ticket, and still knows the peer. */
  struct pair pr2 = {tls_session_new(cc, TLS_CLIENT, "127.1.0.5:9080"), tls_session_new(sc, TLS_SERVER, NULL)};
  ASSERT_INT_EQ(handshake(&pr2), 0);
  EXPECT(tls_resumed(pr2.c));
  EXPECT_STR_EQ(tls_peer_id(pr2.c), B);
  EXPECT_STR_EQ(tls_peer_id(pr2.s), A);
  tls_session_free(pr2.c);
  tls_session_free(pr2.s);
  free(msg);
  free(got);
  tls_ctx_unref(cc);
  tls_ctx_unref(sc);
  ca_free(ca);
}

static void test_wrong_root_refused(void) {
  struct ca *ca1, *ca2;
  ASSERT_INT_EQ(ca_new(time(NULL), &ca1), 0);
  ASSERT_INT_EQ(ca_new(time(NULL), &ca2), 0);
  struct tls_ctx *cc = identity(ca1, A, 3600), *sc = identity(ca2, B, 3600);
  ASSERT(cc && sc);
  struct pair pr = {tls_session_new(cc, TLS_CLIENT, NULL), tls_session_new(sc, TLS_SERVER, NULL)};
  EXPECT_INT_EQ(handshake(&pr), -1);
  EXPECT_STR_CONTAINS(tls_error(pr.c), "certificate verify failed");
  tls_session_free(pr.c);
  tls_session_free(pr.s);
  tls_ctx_unref(cc);
  tls_ctx_unref(sc);
  ca_free(ca1);
  ca_free(ca2);
}

static void test_expired_refused(void) {
  struct ca *ca;
  ASSERT_INT_EQ(ca_new(time(NULL) - 7200, &ca), 0);
  struct ca_issued is;
  ASSERT_INT_EQ(ca_issue(ca, A, 60, time(NULL) - 3600, &is), 0); /* expired an hour ago */
  struct tls_identity tid = {is.cert_pem, is.key_pem, is.root_pem};
  struct tls_ctx *cc;
  char err[256];
  ASSERT_INT_EQ(tls_ctx_new(&tid, &cc, err, sizeof err), 0);
  ca_issued_free(&is);
  struct tls_ctx *sc = identity(ca, B, 3600);
  struct pair pr = {tls_session_new(cc, TLS_CLIENT, NULL), tls_session_new(sc, TLS_SERVER, NULL)};
  EXPECT_INT_EQ(handshake(&pr), -1);
  EXPECT_STR_CONTAINS(tls_error(pr.s), "expired");
  tls_session_free(pr.c);
  tls_session_free(pr.s);
  tls_ctx_unref(cc);
  tls_ctx_unref(sc);
  ca_free(ca);
}

/* A TLS 1.2 client (plain OpenSSL, capped at 1.2) is refused by a meshlab server. */
static void test_tls12_refused(void) {
  struct ca *ca;
  ASSERT_INT_EQ(ca_new(time(NULL), &ca), 0);
  struct tls_ctx *sc = identity(ca, B, 3600);
  struct tls_session *s = tls_session_new(sc, TLS_SERVER, NULL);
  SSL_CTX *c12 = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(c12, TLS1_2_VERSION);
  SSL *c = SSL_new(c12);
  BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
  SSL_set_bio(c, in, out);
  SSL_set_connect_state(c);
  EXPECT_INT_EQ(SSL_do_handshake(c), -1);
  char *p;
  long n = BIO_get_mem_data(out, &p);
  ASSERT(n > 0);
  EXPECT(tls_looks_like_hello((const unsigned char *)p, (size_t)n));
  tls_feed(s, p, (size_t)n);
  EXPECT_INT_EQ(tls_handshake(s), TLS_ERROR);
  EXPECT_STR_CONTAINS(tls_error(s), "protocol");
  SSL_free(c);
  SSL_CTX_free(c12);
  tls_session_free(s);
  tls_ctx_unref(sc);
  ca_free(ca);
}

/* A client without a certificate cannot complete mutual TLS. */
static void test_client_without_cert_refused(void) {
  struct ca *ca;
  ASSERT_INT_EQ(ca_new(time(NULL), &ca), 0);
  struct tls_ctx *sc = identity(ca, B, 3600);
  struct tls_session *s = tls_session_new(sc, TLS_SERVER, NULL);
  SSL_CTX *cx = SSL_CTX_new(TLS_client_method());
  SSL *c = SSL_new(cx);
  BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
  SSL_set_bio(c, in, out);
  SSL_set_connect_state(c);
  int done = 0;
  for (int i = 0; i < 10 && !done; i++) {
    SSL_do_handshake(c);
    char *p;
    long n = BIO_get_mem_data(out, &p);
    if (n > 0) {
      tls_feed(s, p, (size_t)n);
      (void)BIO_reset(out);
    }
    if (tls_handshake(s) == TLS_ERROR) done = 1;
    const char *q;
    size_t m = tls_out(s, &q);
    if (m) {
      BIO_write(in, q, (int)m);
      tls_out_consumed(s);
    }
  }
  EXPECT(done);
  EXPECT_STR_CONTAINS(tls_error(s), "certificate");
  SSL_free(c);
  SSL_CTX_free(cx);
  tls_session_free(s);
  tls_ctx_unref(sc);
  ca_free(ca);
}

static void test_ca_issue_describe(void) {
  struct ca *ca;
  time_t now = time(NULL);
  ASSERT_INT_EQ(ca_new(now, &ca), 0);
  struct ca_issued is;
  EXPECT_INT_EQ(ca_issue(ca, "http://x", 60, now, &is), -EINVAL);
  ASSERT_INT_EQ(ca_issue(ca, B, 600, now, &is), 0);
  struct ca_cert_info info[2];
  ASSERT_INT_EQ(ca_cert_describe(is.cert_pem, info, 2), 1);
  EXPECT_STR_EQ(info[0].uri_san, B);
  EXPECT_STR_EQ(info[0].serial, is.serial);
  EXPECT_INT_EQ(info[0].not_after, now + 600);
  EXPECT_INT_EQ(info[0].not_before, now - 60);
  EXPECT(!info[0].is_ca);
  ASSERT_INT_EQ(ca_cert_describe(is.root_pem, info, 2), 1);
  EXPECT(info[0].is_ca);
  EXPECT_STR_CONTAINS(info[0].subject, "meshlab root CA");
  /* Serials differ between issues. */
  struct ca_issued is2;
  ASSERT_INT_EQ(ca_issue(ca, B, 600, now, &is2), 0);
  EXPECT(strcmp(is.serial, is2.serial) != 0);
  char id[128];
  ca_spiffe_id(id, sizeof id, NULL, "default", "bookinfo-reviews");
  EXPECT_STR_EQ(id, "spiffe://cluster.local/ns/default/sa/bookinfo-reviews");
  ca_issued_free(&is);
  ca_issued_free(&is2);
  ca_free(ca);
}

static void test_ca_folder(void) {
  char dir[] = "/tmp/meshlab-ca-XXXXXX";
  ASSERT(mkdtemp(dir));
  struct ca *ca1, *ca2;
  char err[256];
  ASSERT_INT_EQ(ca_load_or_create(dir, time(NULL), &ca1, err, sizeof err), 0);
  char path[256];
  snprintf(path, sizeof path, "%s/ca-key.pem", dir);
  struct stat st;
  ASSERT_INT_EQ(stat(path, &st), 0);
  EXPECT_INT_EQ(st.st_mode & 0777, 0600);
  ASSERT_INT_EQ(ca_load_or_create(dir, time(NULL), &ca2, err, sizeof err), 0);
  EXPECT_STR_EQ(ca_root_pem(ca1), ca_root_pem(ca2)); /* kept, not regenerated */
  /* A certificate issued by the reloaded root verifies against the first one's bundle. */
  struct tls_ctx *cc = identity(ca1, A, 60), *sc = identity(ca2, B, 60);
  struct pair pr = {tls_session_new(cc, TLS_CLIENT, NULL), tls_session_new(sc, TLS_SERVER, NULL)};
  EXPECT_INT_EQ(handshake(&pr), 0);
  tls_session_free(pr.c);
  tls_session_free(pr.s);
  tls_ctx_unref(cc);
  tls_ctx_unref(sc);
  ca_free(ca2);
  unlink(path);
  EXPECT_INT_EQ(ca_load_or_create(dir, time(NULL), &ca2, err, sizeof err), -EINVAL);
  EXPECT_STR_CONTAINS(err, "ca-key.pem is missing");
  snprintf(path, sizeof path, "%s/ca-cert.pem", dir);
  unlink(path);
  rmdir(dir);
  ca_free(ca1);
}

static void test_first_bytes(void) {
  EXPECT(tls_looks_like_hello((const unsigned char *)"\x16\x03\x01", 3));
  EXPECT(tls_looks_like_hello((const unsigned char *)"\x16", 1));
  EXPECT(!tls_looks_like_hello((const unsigned char *)"GET / HTTP/1.1", 14));
  EXPECT(!tls_looks_like_hello((const unsigned char *)"\x16G", 2));
}

/* ---- conn.c over loopback: the same calls, TLS underneath ---- */

struct loop_test {
  uv_loop_t loop;
  struct conn_env env;
  uv_tcp_t listener;
  struct tls_ctx *server_ctx;
  enum conn_tls_accept mode;
  struct conn server, client;
  int server_open, client_open;
  struct buf server_got, client_got;
  int client_status, server_status, connect_status;
  int connected;
  char server_peer[256], client_peer[256];
  int server_tls;
  char tls_error[256];
  const char *expect; /* the server SPIFFE ID the client requires, or NULL */
};

static void lt_closed(struct conn *c) {
  struct loop_test *t = c->data;
  if (c == &t->server) t->server_open = 0;
  else t->client_open = 0;
  if (!t->server_open && !t->client_open) uv_close((uv_handle_t *)&t->listener, NULL);
}

static void lt_server_read(struct conn *c, int status, const char *data, size_t len) {
  struct loop_test *t = c->data;
  if (status < 0) {
    t->server_status = status;
    conn_close(c);
    return;
  }
  if (len && data[0] == 0x16 && !conn_is_tls(c)) { /* a plaintext server meets a ClientHello */
    conn_close(c);
    return;
  }
  snprintf(t->server_peer, sizeof t->server_peer, "%s", conn_tls_peer_id(c));
  t->server_tls = conn_is_tls(c);
  buf_append(&t->server_got, data, len);
  if (t->server_got.len >= 4 && memcmp(t->server_got.data + t->server_got.len - 4, "\r\n\r\n", 4) == 0)
    conn_write(c, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", 40);
}

static void lt_accept(uv_stream_t *s, int status) {
  struct loop_test *t = s->data;
  if (status < 0) return;
  conn_accept(&t->server, &t->env, s, CONN_TCP);
  t->server.data = t;
  t->server.on_read = lt_server_read;
  t->server.on_close = lt_closed;
  t->server_open = 1;
  if (conn_tls_server(&t->server, t->server_ctx, t->mode) != 0) conn_close(&t->server);
  conn_read_start(&t->server);
}

static void lt_client_read(struct conn *c, int status, const char *data, size_t len) {
  struct loop_test *t = c->data;
  if (status < 0) {
    t->client_status = status;
    conn_close(c);
    return;
  }
  buf_append(&t->client_got, data, len);
  if (t->client_got.len >= 40) {
    conn_close(c);
    conn_close(&t->server);
  }
}

static void lt_connected(struct conn *c, int status) {
  struct loop_test *t = c->data;
  t->connect_status = status;
  t->connected = 1;
  snprintf(t->tls_error, sizeof t->tls_error, "%s", conn_tls_error(c));
  if (status < 0) {
    conn_close(c);
    if (t->server_open) conn_close(&t->server);
    return;
  }
  snprintf(t->client_peer, sizeof t->client_peer, "%s", conn_tls_peer_id(c));
  conn_read_start(c);
}

/* Runs one client against one server connection; client_ctx NULL: a plaintext client. */
static void lt_run(struct loop_test *t, struct tls_ctx *client_ctx) {
  uv_loop_init(&t->loop);
  conn_env_init(&t->env, &t->loop, 65536);
  uv_tcp_init(&t->loop, &t->listener);
  t->listener.data = t;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  uv_tcp_bind(&t->listener, (const struct sockaddr *)&sa, 0);
  uv_listen((uv_stream_t *)&t->listener, 8, lt_accept);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&t->listener, (struct sockaddr *)&ss, &len);
  char text[64];
  conn_addr_format((struct sockaddr *)&ss, text, sizeof text);
  struct conn_addr addr;
  conn_addr_parse(&addr, text);
  conn_connect(&t->client, &t->env, &addr, lt_connected);
  t->client.data = t;
  t->client.on_read = lt_client_read;
  t->client.on_close = lt_closed;
  t->client_open = 1;
  if (client_ctx) conn_tls_client(&t->client, client_ctx, text, t->expect);
  /* Written before the connection (and its handshake) is up: it waits in `pending`. */
  static const char req[] = "GET / HTTP/1.1\r\nhost: x\r\n\r\n";
  conn_write(&t->client, req, sizeof req - 1);
  uv_run(&t->loop, UV_RUN_DEFAULT);
  EXPECT_INT_EQ(uv_loop_close(&t->loop), 0);
  conn_env_free(&t->env);
}

static void test_conn_tls_over_loopback(void) {
  struct ca *ca;
  ASSERT_INT_EQ(ca_new(time(NULL), &ca), 0);
  struct tls_ctx *cc = identity(ca, A, 600), *sc = identity(ca, B, 600);
  ASSERT(cc && sc);
  /* STRICT: a sidecar client gets through, both ends know each other. */
  struct loop_test t = {.server_ctx = sc, .mode = CONN_ACCEPT_TLS_ONLY};
  lt_run(&t, cc);
  EXPECT_INT_EQ(t.connect_status, 0);
  EXPECT_INT_EQ(t.server_got.len, 27);
  EXPECT_INT_EQ(t.client_got.len, 40);
  EXPECT_STR_EQ(t.server_peer, A);
  EXPECT_STR_EQ(t.client_peer, B);
  EXPECT(t.server_tls);
  buf_free(&t.server_got);
  buf_free(&t.client_got);
  /* STRICT: a plaintext client is reset. */
  struct loop_test p = {.server_ctx = sc, .mode = CONN_ACCEPT_TLS_ONLY};
  lt_run(&p, NULL);
  EXPECT_INT_EQ(p.server_status, UV_ECONNRESET);
  EXPECT_INT_EQ(p.client_got.len, 0);
  EXPECT_INT_EQ(p.client_status, UV_ECONNRESET);
  buf_free(&p.server_got);
  buf_free(&p.client_got);
  /* PERMISSIVE: plaintext and TLS both served, told apart. */
  struct loop_test q = {.server_ctx = sc, .mode = CONN_ACCEPT_EITHER};
  lt_run(&q, NULL);
  EXPECT_INT_EQ(q.client_got.len, 40);
  EXPECT(!q.server_tls);
  EXPECT_STR_EQ(q.server_peer, "");
  buf_free(&q.server_got);
  buf_free(&q.client_got);
  struct loop_test r = {.server_ctx = sc, .mode = CONN_ACCEPT_EITHER};
  lt_run(&r, cc);
  EXPECT_INT_EQ(r.client_got.len, 40);
  EXPECT(r.server_tls);
  EXPECT_STR_EQ(r.server_peer, A);
  buf_free(&r.server_got);
  buf_free(&r.client_got);
  /* The client requires the server's SPIFFE ID: the right one connects, another workload's
   * valid certificate is refused. */
  struct loop_test e = {.server_ctx = sc, .mode = CONN_ACCEPT_TLS_ONLY, .expect = B};
  lt_run(&e, cc);
  EXPECT_INT_EQ(e.connect_status, 0);
  EXPECT_INT_EQ(e.client_got.len, 40);
  buf_free(&e.server_got);
  buf_free(&e.client_got);
  struct loop_test x = {.server_ctx = sc, .mode = CONN_ACCEPT_TLS_ONLY, .expect = A};
  lt_run(&x, cc);
  EXPECT_INT_EQ(x.connect_status, UV_EPROTO);
  EXPECT_STR_CONTAINS(x.tls_error, "expected spiffe://cluster.local/ns/default/sa/productpage");
  buf_free(&x.server_got);
  buf_free(&x.client_got);
  /* DISABLE: a TLS client fails its handshake: a connect failure with a reason. */
  struct loop_test d = {.server_ctx = sc, .mode = CONN_ACCEPT_PLAIN};
  lt_run(&d, cc);
  EXPECT_INT_EQ(d.connect_status, UV_EPROTO);
  EXPECT_STR_CONTAINS(d.tls_error, "TLS handshake");
  buf_free(&d.server_got);
  buf_free(&d.client_got);
  tls_ctx_unref(cc);
  tls_ctx_unref(sc);
  ca_free(ca);
}

TEST_CASES(TEST(test_conn_tls_over_loopback), TEST(test_handshake_and_data), TEST(test_wrong_root_refused),
           TEST(test_expired_refused), TEST(test_tls12_refused), TEST(test_client_without_cert_refused),
           TEST(test_ca_issue_describe), TEST(test_ca_folder), TEST(test_first_bytes))
