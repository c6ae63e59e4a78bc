/* tests for mesh/tls.c and mesh/ca.c: a client and a server session wired together in memory,
 * identities issued by an in-memory CA. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh/ca.h"
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

TEST_CASES(TEST(test_handshake_and_data), TEST(test_wrong_root_refused), TEST(test_expired_refused),
           TEST(test_tls12_refused), TEST(test_client_without_cert_refused), TEST(test_ca_issue_describe),
           TEST(test_ca_folder), TEST(test_first_bytes))
