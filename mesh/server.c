/* The lab's small HTTP server: see server.h. */
#include "mesh/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/http_head.h"

struct server_conn {
  struct conn conn;
  struct http_server *srv;
  struct server_conn *next, *prev;
  struct http_parser *parser;
  struct server_request req;
  struct buf held; /* bytes of later requests, while one is being answered */
  unsigned busy : 1, close_after : 1, closing : 1;
};

static void sc_feed(struct server_conn *sc, const char *p, size_t n);

static void try_finish(struct http_server *srv) {
  if (srv->closing && !srv->listening && !srv->conns && srv->on_closed) {
    void (*cb)(struct http_server *) = srv->on_closed;
    srv->on_closed = NULL;
    cb(srv);
  }
}

static void on_sc_closed(struct conn *c) {
  struct server_conn *sc = c->data;
  struct http_server *srv = sc->srv;
  if (sc->prev) sc->prev->next = sc->next;
  else srv->conns = sc->next;
  if (sc->next) sc->next->prev = sc->prev;
  http_parser_free(sc->parser);
  buf_free(&sc->held);
  buf_free(&sc->req.body);
  free(sc);
  try_finish(srv);
}

static void sc_close(struct server_conn *sc, int graceful) {
  if (sc->closing) return;
  sc->closing = 1;
  if (graceful) conn_close_after_write(&sc->conn);
  else conn_close(&sc->conn);
}

static int on_head(void *owner, struct http_head *h) {
  struct server_conn *sc = owner;
  sc->req.head = h;
  struct slice authority, path;
  if (http_head_split_target(h->target, &authority, &path) != 0) path = h->target;
  const char *q = memchr(path.p, '?', path.n);
  sc->req.path = q ? (struct slice){path.p, (size_t)(q - path.p)} : path;
  sc->req.query = q ? (struct slice){q + 1, (size_t)(path.p + path.n - q - 1)} : (struct slice){NULL, 0};
  buf_reset(&sc->req.body);
  sc->close_after = !h->keep_alive;
  return 0;
}

static int on_body(void *owner, const char *p, size_t n) {
  struct server_conn *sc = owner;
  return buf_append(&sc->req.body, p, n) == 0 ? 0 : -1;
}

static int on_complete(void *owner) {
  struct server_conn *sc = owner;
  sc->busy = 1;
  sc->srv->handler(&sc->req);
  return 0;
}

void server_respond(struct server_request *r, int status, const char *content_type, const char *body, size_t len,
                    const char *extra_headers) {
  struct server_conn *sc = r->sc;
  struct buf out = {0};
  int minor = r->head ? r->head->minor : 1;
  buf_appendf(&out, "HTTP/1.1 %d %s\r\ncontent-length: %zu\r\n", status, http_status_reason(status), len);
  if (content_type) buf_appendf(&out, "content-type: %s\r\n", content_type);
  if (extra_headers) buf_append_str(&out, extra_headers);
  if (sc->close_after || sc->srv->closing) buf_append_str(&out, "connection: close\r\n");
  else if (minor == 0) buf_append_str(&out, "connection: keep-alive\r\n");
  buf_append(&out, "\r\n", 2);
  int head_only = r->head && slice_eq_str_nocase(r->head->method, "HEAD");
  struct slice parts[2] = {{out.data, out.len}, {body, head_only ? 0 : len}};
  if (!sc->closing && conn_writev(&sc->conn, parts, 2) != 0) sc_close(sc, 0);
  buf_free(&out);
  sc->busy = 0;
  r->head = NULL;
  if (sc->close_after || sc->srv->closing) {
    sc_close(sc, 1);
    return;
  }
  if (sc->held.len) {
    struct buf held = sc->held;
    memset(&sc->held, 0, sizeof sc->held);
    sc_feed(sc, held.data, held.len);
    buf_free(&held);
  }
}

static void sc_feed(struct server_conn *sc, const char *p, size_t n) {
  while (n > 0 && !sc->closing) {
    if (sc->busy) {
      buf_append(&sc->held, p, n);
      return;
    }
    size_t used = 0;
    int rc = http_parser_execute(sc->parser, p, n, &used);
    p += used;
    n -= used;
    if (rc == HTTP_PARSE_OK || rc == HTTP_PARSE_DONE) continue;
    if (rc == HTTP_PARSE_ERROR) {
      struct buf out = {0};
      int status = http_parser_error_status(sc->parser);
      char body[160];
      snprintf(body, sizeof body, "%s: %s\n", http_status_reason(status), http_parser_error_reason(sc->parser));
      http_head_write_local_reply(&out, status, body, NULL, 1, 1);
      conn_write(&sc->conn, out.data, out.len);
      buf_free(&out);
    }
    sc_close(sc, 1);
    return;
  }
}

static void on_sc_read(struct conn *c, int status, const char *data, size_t len) {
  struct server_conn *sc = c->data;
  if (status < 0) {
    /* A handler still owes an answer (a delayed reply): the request stays valid until it
     * answers; the connection closes then. */
    if (sc->busy) {
      sc->close_after = 1;
      conn_read_stop(c);
      return;
    }
    sc_close(sc, 0);
    return;
  }
  sc_feed(sc, data, len);
}

static void on_server_connection(uv_stream_t *s, int status) {
  struct http_server *srv = s->data;
  if (status < 0 || srv->closing) return;
  struct server_conn *sc = calloc(1, sizeof *sc);
  if (!sc) return;
  sc->srv = srv;
  int rc = conn_accept(&sc->conn, srv->env, s, srv->kind);
  sc->conn.data = sc;
  sc->conn.on_read = on_sc_read;
  sc->conn.on_close = on_sc_closed;
  sc->req.sc = sc;
  sc->req.user = srv->user;
  sc->next = srv->conns;
  if (srv->conns) srv->conns->prev = sc;
  srv->conns = sc;
  sc->parser = http_parser_new(HTTP_PARSE_REQUEST, &srv->cbs, &srv->limits, sc);
  if (rc != 0 || !sc->parser) {
    sc_close(sc, 0);
    return;
  }
  conn_read_start(&sc->conn);
}

int server_listen(struct http_server *srv, struct conn_env *env, const struct conn_addr *addr, server_handler handler,
                  void *user) {
  memset(srv, 0, sizeof *srv);
  srv->env = env;
  srv->handler = handler;
  srv->user = user;
  srv->kind = addr->kind;
  srv->limits = (struct http_limits){60 * 1024, 100, 16 * 1024 * 1024};
  srv->cbs = (struct http_parser_cbs){on_head, on_body, on_complete};
  int rc;
  if (addr->kind == CONN_TCP) {
    uv_tcp_init(env->loop, &srv->h.tcp);
    rc = uv_tcp_bind(&srv->h.tcp, (const struct sockaddr *)&addr->sa, 0);
  } else {
    uv_pipe_init(env->loop, &srv->h.pipe, 0);
    rc = uv_pipe_bind(&srv->h.pipe, addr->path);
  }
  srv->h.handle.data = srv;
  srv->listening = 1;
  if (rc == 0) rc = uv_listen(&srv->h.stream, 128, on_server_connection);
  if (rc != 0) {
    srv->closing = 1;
    return rc;
  }
  if (addr->kind == CONN_TCP) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&srv->h.tcp, (struct sockaddr *)&ss, &len);
    conn_addr_format((struct sockaddr *)&ss, srv->address, sizeof srv->address);
  } else {
    snprintf(srv->address, sizeof srv->address, "unix:%s", addr->path);
  }
  return 0;
}

static void on_listener_closed(uv_handle_t *h) {
  struct http_server *srv = h->data;
  srv->listening = 0;
  try_finish(srv);
}

void server_close(struct http_server *srv, void (*on_closed)(struct http_server *srv)) {
  srv->on_closed = on_closed;
  if (!srv->closing || srv->listening) {
    srv->closing = 1;
    if (!uv_is_closing(&srv->h.handle)) uv_close(&srv->h.handle, on_listener_closed);
  }
  for (struct server_conn *sc = srv->conns; sc; sc = sc->next)
    if (!sc->busy) sc_close(sc, 0);
    else sc->close_after = 1;
  try_finish(srv);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool server_query_get(struct slice q, const char *key, char *out, size_t n) {
  size_t klen = strlen(key);
  const char *p = q.p, *end = q.p + q.n;
  while (p && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if ((size_t)(stop - p) >= klen && memcmp(p, key, klen) == 0 && (p + klen == stop || p[klen] == '=')) {
      const char *v = p + klen + (p + klen < stop ? 1 : 0);
      size_t o = 0;
      for (; v < stop && o + 1 < n; v++) {
        int h1, h2;
        if (*v == '%' && v + 2 < stop && (h1 = hexval(v[1])) >= 0 && (h2 = hexval(v[2])) >= 0) {
          out[o++] = (char)(h1 * 16 + h2);
          v += 2;
        } else {
          out[o++] = *v == '+' ? ' ' : *v;
        }
      }
      out[o] = '\0';
      return true;
    }
    p = amp ? amp + 1 : NULL;
  }
  return false;
}
