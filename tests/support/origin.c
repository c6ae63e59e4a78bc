/* The test origin: see origin.h. */
#include "support/origin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/http.h"

struct origin_conn {
  struct conn conn;
  uv_timer_t timer;
  struct origin *o;
  struct origin_conn *next, *prev;
  struct http_parser *parser;
  struct buf held;
  char path[128];
  uint64_t body_bytes, hash;
  uint64_t stream_left; /* /chunked: bytes still to send */
  int handles;
  unsigned busy : 1, closing : 1, keep_alive : 1;
};

static const struct http_limits limits = {65536, 100, 0};

uint64_t origin_hash(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static void oc_feed(struct origin_conn *oc, const char *p, size_t n);

static void oc_free_if_done(struct origin_conn *oc) {
  if (--oc->handles > 0) return;
  struct origin *o = oc->o;
  if (oc->prev) oc->prev->next = oc->next;
  else o->conns = oc->next;
  if (oc->next) oc->next->prev = oc->prev;
  http_parser_free(oc->parser);
  buf_free(&oc->held);
  free(oc);
}

static void on_oc_conn_closed(struct conn *c) { oc_free_if_done(c->data); }
static void on_oc_timer_closed(uv_handle_t *h) { oc_free_if_done(h->data); }

static void oc_close(struct origin_conn *oc, int graceful) {
  if (oc->closing) return;
  oc->closing = 1;
  uv_close((uv_handle_t *)&oc->timer, on_oc_timer_closed);
  if (graceful) conn_close_after_write(&oc->conn);
  else conn_close(&oc->conn);
}

static void fill(char *p, size_t n, uint64_t offset) {
  for (size_t i = 0; i < n; i++) p[i] = (char)('a' + (offset + i) % 26);
}

/* Ends the current response; picks up pipelined requests. */
static void oc_done(struct origin_conn *oc) {
  oc->busy = 0;
  if (!oc->keep_alive) {
    oc_close(oc, 1);
    return;
  }
  if (oc->held.len) {
    struct buf held = oc->held;
    memset(&oc->held, 0, sizeof oc->held);
    oc_feed(oc, held.data, held.len);
    buf_free(&held);
  }
}

static void respond(struct origin_conn *oc, int status, const char *body, size_t n) {
  char head[256];
  int hn = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\ncontent-length: %zu\r\n%s\r\n", status, n,
                    oc->keep_alive ? "" : "connection: close\r\n");
  struct slice parts[2] = {{head, (size_t)hn}, {body, n}};
  conn_writev(&oc->conn, parts, 2);
  oc_done(oc);
}

static void stream_more(struct origin_conn *oc) {
  static char chunk[65536];
  while (oc->stream_left > 0 && !conn_write_blocked(&oc->conn) && !oc->closing) {
    size_t n = oc->stream_left < sizeof chunk ? (size_t)oc->stream_left : sizeof chunk;
    fill(chunk, n, 0);
    char hdr[32];
    int hn = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
    struct slice parts[3] = {{hdr, (size_t)hn}, {chunk, n}, {"\r\n", 2}};
    conn_writev(&oc->conn, parts, 3);
    oc->stream_left -= n;
  }
  if (oc->stream_left == 0 && oc->busy) {
    conn_write(&oc->conn, "0\r\n\r\n", 5);
    oc_done(oc);
  }
}

static void on_oc_drain(struct conn *c) {
  struct origin_conn *oc = c->data;
  if (oc->busy && oc->stream_left) stream_more(oc);
}

static void on_delay(uv_timer_t *t) {
  struct origin_conn *oc = t->data;
  respond(oc, 200, "delayed", 7);
}

static void on_resume_reading(uv_timer_t *t) {
  struct origin_conn *oc = t->data;
  conn_read_start(&oc->conn);
}

static int on_head(void *owner, struct http_head *h) {
  struct origin_conn *oc = owner;
  oc->o->requests++;
  snprintf(oc->path, sizeof oc->path, "%.*s", (int)h->target.n, h->target.p);
  oc->keep_alive = h->keep_alive;
  oc->body_bytes = 0;
  oc->hash = 14695981039346656037ULL;
  if (strcmp(oc->path, "/headers") == 0) {
    struct buf b = {0};
    for (size_t i = 0; i < h->nheaders; i++) {
      buf_append_slice(&b, h->headers[i].name);
      buf_append(&b, ": ", 2);
      buf_append_slice(&b, h->headers[i].value);
      buf_append(&b, "\n", 1);
    }
    /* answered at on_complete; keep the text */
    buf_free(&oc->held);
    oc->held = b;
  } else if (strcmp(oc->path, "/slowcount") == 0) {
    conn_read_stop(&oc->conn);
    uv_timer_start(&oc->timer, on_resume_reading, 300, 0);
  }
  return 0;
}

static int on_body(void *owner, const char *p, size_t n) {
  struct origin_conn *oc = owner;
  oc->body_bytes += n;
  oc->hash = origin_hash(oc->hash, p, n);
  return 0;
}

static int on_complete(void *owner) {
  struct origin_conn *oc = owner;
  const char *p = oc->path;
  oc->busy = 1;
  if (strcmp(p, "/headers") == 0) {
    struct buf b = oc->held;
    memset(&oc->held, 0, sizeof oc->held);
    respond(oc, 200, b.data ? b.data : "", b.len);
    buf_free(&b);
  } else if (strncmp(p, "/size/", 6) == 0) {
    size_t n = (size_t)strtoull(p + 6, NULL, 10);
    char *body = malloc(n + 1);
    fill(body, n, 0);
    respond(oc, 200, body, n);
    free(body);
  } else if (strncmp(p, "/chunked/", 9) == 0) {
    oc->stream_left = strtoull(p + 9, NULL, 10);
    const char *head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    conn_write(&oc->conn, head, strlen(head));
    stream_more(oc);
  } else if (strncmp(p, "/close/", 7) == 0) {
    size_t n = (size_t)strtoull(p + 7, NULL, 10);
    char *body = malloc(n + 64);
    int hn = snprintf(body, 64, "HTTP/1.1 200 OK\r\n\r\n");
    fill(body + hn, n, 0);
    conn_write(&oc->conn, body, (size_t)hn + n);
    free(body);
    oc_close(oc, 1);
  } else if (strncmp(p, "/delay/", 7) == 0) {
    uv_timer_start(&oc->timer, on_delay, strtoull(p + 7, NULL, 10), 0);
  } else if (strcmp(p, "/die") == 0) {
    char body[200];
    int hn = snprintf(body, sizeof body, "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
    fill(body + hn, 100, 0);
    conn_write(&oc->conn, body, (size_t)hn + 100);
    oc_close(oc, 1);
  } else if (strcmp(p, "/bad") == 0) {
    const char *bad = "HTTP/1.1 200 OK\r\nX: a\r\n b\r\ncontent-length: 0\r\n\r\n";
    conn_write(&oc->conn, bad, strlen(bad));
    oc_done(oc);
  } else if (strcmp(p, "/count") == 0 || strcmp(p, "/slowcount") == 0) {
    char body[96];
    int n = snprintf(body, sizeof body, "bytes=%llu hash=%016llx", (unsigned long long)oc->body_bytes,
                     (unsigned long long)oc->hash);
    respond(oc, 200, body, (size_t)n);
  } else if (strcmp(p, "/continue") == 0) {
    const char *interim = "HTTP/1.1 100 Continue\r\n\r\n";
    conn_write(&oc->conn, interim, strlen(interim));
    respond(oc, 200, "after continue", 14);
  } else {
    respond(oc, 404, "unknown test path", 17);
  }
  return 0;
}

static const struct http_parser_cbs cbs = {on_head, on_body, on_complete};

static void oc_feed(struct origin_conn *oc, const char *p, size_t n) {
  while (n > 0 && !oc->closing) {
    if (oc->busy) {
      buf_append(&oc->held, p, n);
      return;
    }
    size_t used = 0;
    int rc = http_parser_execute(oc->parser, p, n, &used);
    p += used;
    n -= used;
    if (rc < 0) {
      oc_close(oc, 0);
      return;
    }
  }
}

static void on_oc_read(struct conn *c, int status, const char *data, size_t len) {
  struct origin_conn *oc = c->data;
  if (status < 0) {
    oc_close(oc, 0);
    return;
  }
  oc_feed(oc, data, len);
}

static void on_origin_connection(uv_stream_t *server, int status) {
  struct origin *o = server->data;
  if (status < 0 || o->closing) return;
  struct origin_conn *oc = calloc(1, sizeof *oc);
  oc->o = o;
  conn_accept(&oc->conn, &o->env, server, CONN_TCP);
  oc->conn.data = oc;
  oc->conn.on_read = on_oc_read;
  oc->conn.on_close = on_oc_conn_closed;
  oc->conn.on_drain = on_oc_drain;
  uv_timer_init(o->loop, &oc->timer);
  oc->timer.data = oc;
  oc->handles = 2;
  oc->parser = http_parser_new(HTTP_PARSE_REQUEST, &cbs, &limits, oc);
  oc->next = o->conns;
  if (o->conns) o->conns->prev = oc;
  o->conns = oc;
  o->connections++;
  conn_read_start(&oc->conn);
}

int origin_start(struct origin *o, uv_loop_t *loop) {
  memset(o, 0, sizeof *o);
  o->loop = loop;
  conn_env_init(&o->env, loop, 65536);
  uv_tcp_init(loop, &o->server);
  o->server.data = o;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  int rc = uv_tcp_bind(&o->server, (const struct sockaddr *)&sa, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&o->server, 128, on_origin_connection);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&o->server, (struct sockaddr *)&ss, &len);
  o->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return rc;
}

static void on_origin_server_closed(uv_handle_t *h) {
  struct origin *o = h->data;
  conn_env_free(&o->env);
}

void origin_close(struct origin *o) {
  o->closing = 1;
  uv_close((uv_handle_t *)&o->server, on_origin_server_closed);
  struct origin_conn *oc = o->conns;
  while (oc) {
    struct origin_conn *next = oc->next;
    oc_close(oc, 0);
    oc = next;
  }
}
