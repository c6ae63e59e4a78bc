/* An asynchronous HTTP/1.1 client: how the sample applications call each other.
 *
 * Inside the mesh an app reaches another service the way curl does with `http_proxy` set: it
 * connects to its sidecar's outbound listener and sends the request in absolute form
 * (`GET http://reviews:9080/reviews/0 HTTP/1.1` plus `Host: reviews:9080`); the sidecar routes
 * it. Outside the mesh (the external service, tests) the same call goes straight to an address
 * with an origin-form target. Either way the caller gets the whole response (status, headers,
 * body) in one callback, or an error code: a timeout (UV_ETIMEDOUT), a refused connection, a
 * malformed response (UV_EPROTO), a cancelled call (UV_ECANCELED).
 *
 * Connections are kept alive and reused: finished connections wait in a small idle pool keyed
 * by the address they go to (for an app: its sidecar). A request that meets a pooled
 * connection the peer had just closed is re-sent once on a fresh connection, before any byte of
 * a response arrived, as Envoy does for its own pools.
 *
 * Lifetimes follow libuv: every call owns a timer and every connection a stream; the client is
 * done with its memory only when http_client_close's callback fires.
 *
 * Names carry the `http_client_` prefix (the file is the client module): tests/support already
 * has a blocking test client using `client_`, and both link into the same test programs.
 */
#ifndef MESH_CLIENT_H
#define MESH_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mesh/buf.h"
#include "mesh/conn.h"
#include "mesh/http.h"

struct http_client_conn;
struct http_client_call;

/* A whole response. Header slices and the body are owned by the call and valid only during
 * the call's callback. */
struct http_client_response {
  int status;
  struct http_header *headers;
  size_t nheaders;
  struct buf body;
};

/* The call finished: status 0 and call->response filled, or status < 0 (UV_ETIMEDOUT,
 * UV_ECANCELED, UV_EPROTO, a connect error). Fires exactly once per call that http_client_send
 * accepted; the call is freed after it returns. */
typedef void (*http_client_done_cb)(struct http_client_call *call, int status);

/* What to send. Every pointer is borrowed for the duration of http_client_send (it copies). */
struct http_client_req {
  const char *method;              /* "GET"; NULL means GET */
  const char *url;                 /* "http://reviews:9080/reviews/0" */
  const struct conn_addr *connect; /* go straight there (origin-form target); NULL: through the
                                       client's proxy when it has one, else to the URL's host */
  const char *headers;             /* extra "name: value\r\n" lines, or NULL */
  struct slice body;               /* sent with Content-Length when method is not GET/HEAD or n > 0 */
  uint64_t timeout_ms;             /* whole exchange, connect included; 0 = none */
};

struct http_client {
  struct conn_env *env; /* borrowed */
  struct conn_addr proxy;
  int has_proxy;
  size_t max_idle; /* pooled idle connections, all addresses together */
  size_t max_body; /* responses with longer bodies fail with UV_E2BIG */
  struct http_limits limits;
  struct http_parser_cbs cbs;
  struct http_client_conn *conns; /* every live connection, idle or busy */
  struct http_client_call *calls; /* every call not yet finished */
  size_t nidle;
  size_t live_handles; /* connections and call timers not yet closed */
  unsigned closing : 1;
  void (*on_closed)(struct http_client *cl);
  void *data; /* the owner's */
};

struct http_client_call {
  struct http_client *cl;
  struct http_client_call *next, *prev;
  struct http_client_conn *cc; /* the connection carrying it, while it has one */
  uv_timer_t timer;
  struct conn_addr addr; /* where it connects */
  struct buf out;        /* the serialised request */
  struct arena arena;    /* copies of the response's headers */
  struct http_client_response response;
  size_t header_room;
  http_client_done_cb cb;
  void *data; /* the caller's */
  unsigned head_request : 1, got_bytes : 1, retried : 1, done : 1, reused : 1;
};

/* Sets up a client on env (borrowed, must outlive the client). Returns 0. */
int http_client_init(struct http_client *cl, struct conn_env *env);

/* Sends every later request without an explicit `connect` through the HTTP proxy at addr
 * ("HOST:PORT" or "unix:/path"), in absolute form. Returns 0 or -EINVAL. */
int http_client_set_proxy(struct http_client *cl, const char *addr);

/* Starts a request. On success returns 0, and cb fires later (never before http_client_send
 * returns) with data in call->data; *out (when not NULL) gets the call, valid until cb returns.
 * Returns -EINVAL for a URL that is not http://, a host that is not an address with no proxy
 * to go through, UV_ECANCELED while the client is closing, -ENOMEM; cb then never fires. */
int http_client_send(struct http_client *cl, const struct http_client_req *req, http_client_done_cb cb, void *data,
                     struct http_client_call **out);

/* Ends a call now: its callback fires with UV_ECANCELED before this returns; its connection is
 * closed (a half-sent request cannot be reused). No-op for a finished call. */
void http_client_cancel(struct http_client_call *call);

/* Returns the first value of header `name` in a response (case-insensitive), or NULL. */
const struct slice *http_client_response_header(const struct http_client_response *r, const char *name);

/* Cancels every call (callbacks fire with UV_ECANCELED before this returns), closes every
 * connection, and calls on_closed (may be NULL) once every handle is closed. */
void http_client_close(struct http_client *cl, void (*on_closed)(struct http_client *cl));

#endif
