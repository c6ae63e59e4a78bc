/* A small HTTP/1.1 server for the lab's own endpoints: the sidecar admin listener now, the
 * sample applications and the lab API later.
 *
 * It reads one request at a time per connection (pipelined ones wait their turn), buffers the
 * request body up to a bound, and calls the handler with the whole request. The handler answers
 * with server_respond, at once or later (a delayed answer from a timer), exactly once.
 * Parsing goes through the same strict parser as the proxy.
 */
#ifndef MESH_SERVER_H
#define MESH_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "mesh/conn.h"
#include "mesh/http.h"

struct http_server;
struct server_conn;

/* One request being answered. Valid from the handler call until server_respond returns. */
struct server_request {
  struct server_conn *sc;
  struct http_head *head; /* borrowed */
  struct slice path;      /* target without the query */
  struct slice query;     /* after '?', may be empty */
  struct buf body;        /* the request body, whole */
  void *user;             /* the server's user pointer */
};

typedef void (*server_handler)(struct server_request *r);

struct http_server {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  enum conn_kind kind;
  struct conn_env *env; /* borrowed */
  server_handler handler;
  void *user;
  struct http_limits limits;
  struct http_parser_cbs cbs;
  struct server_conn *conns;
  char address[128];
  unsigned closing : 1, listening : 1;
  void (*on_closed)(struct http_server *srv);
};

/* Starts listening on addr; returns 0 or a negative libuv error. env is borrowed. */
int server_listen(struct http_server *srv, struct conn_env *env, const struct conn_addr *addr, server_handler handler,
                  void *user);

/* Answers r: status, content type (NULL for none), body (copied), extra header lines
 * ("name: value\r\n", or NULL). */
void server_respond(struct server_request *r, int status, const char *content_type, const char *body, size_t len,
                    const char *extra_headers);

/* Closes the listener and every connection; on_closed fires when all are closed. */
void server_close(struct http_server *srv, void (*on_closed)(struct http_server *srv));

/* The percent-decoded value of `key` in a query string ("a=1&b=x%20y"; "+" is a space; a key
 * without "=" has the empty value) into out (cut to n - 1 bytes, NUL-terminated). Returns
 * false when the key is absent. */
bool server_query_get(struct slice query, const char *key, char *out, size_t n);

#endif
