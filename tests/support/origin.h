/* A test origin: an HTTP/1.1 server on a libuv loop whose behaviour is chosen by path, for the
 * proxy's integration tests. It counts accepted connections and requests so tests can assert
 * pooling, and it misbehaves on demand (dies mid-response, sends malformed heads, stalls).
 *
 *   /size/N        N body bytes with Content-Length
 *   /chunked/N     N body bytes, chunked, streamed under backpressure
 *   /close/N       N body bytes delimited by closing the connection
 *   /headers       the request's headers, one "name: value" line each
 *   /delay/MS      "delayed" after MS milliseconds
 *   /die           promises 1000 bytes, sends 100, closes
 *   /bad           a response head with obs-fold (malformed)
 *   /count         (POST) answers "bytes=N hash=H" for the body it received
 *   /slowcount     as /count, but stops reading for 300 ms after the head
 *   /continue      a 100 Continue interim response, then 200
 */
#ifndef TEST_ORIGIN_H
#define TEST_ORIGIN_H

#include <stdint.h>
#include <uv.h>

#include "mesh/conn.h"

struct origin_conn;

struct origin {
  uv_loop_t *loop;
  uv_tcp_t server;
  struct conn_env env;
  int port;
  uint64_t connections; /* accepted */
  uint64_t requests;    /* request heads received */
  struct origin_conn *conns;
  int closing;
};

/* Listens on 127.0.0.1 with an OS-assigned port; returns 0 or a libuv error. */
int origin_start(struct origin *o, uv_loop_t *loop);
/* Closes the listener and every connection. */
void origin_close(struct origin *o);
/* FNV-1a over bytes, continuing from h (start with 14695981039346656037). */
uint64_t origin_hash(uint64_t h, const char *p, size_t n);

#endif
