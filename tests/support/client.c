/* The blocking test client: see client.h. */
#include "support/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mesh/http.h"

static const struct http_limits limits = {1 << 20, 200, 0};

struct reading {
  struct client_response *r;
  int done;
  int interim;
};

static int on_head(void *owner, struct http_head *h) {
  struct reading *rd = owner;
  if (h->status < 200) {
    rd->interim = 1;
    return 0;
  }
  struct client_response *r = rd->r;
  r->status = h->status;
  r->content_length = h->content_length;
  r->chunked = h->chunked;
  r->keep_alive = h->keep_alive;
  for (size_t i = 0; i < h->nheaders; i++) {
    buf_append_slice(&r->headers, h->headers[i].name);
    buf_append(&r->headers, ": ", 2);
    buf_append_slice(&r->headers, h->headers[i].value);
    buf_append(&r->headers, "\n", 1);
  }
  return 0;
}

static int on_body(void *owner, const char *p, size_t n) {
  struct reading *rd = owner;
  return buf_append(&rd->r->body, p, n);
}

static int on_complete(void *owner) {
  struct reading *rd = owner;
  if (rd->interim) rd->interim = 0;
  else rd->done = 1;
  return 0;
}

static const struct http_parser_cbs cbs = {on_head, on_body, on_complete};

int client_open(struct client *c, int port) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) return -1;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {10, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  return 0;
}

void client_close(struct client *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  buf_free(&c->in);
  http_parser_free(c->parser);
  c->parser = NULL;
}

int client_send(struct client *c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int client_send_str(struct client *c, const char *s) { return client_send(c, s, strlen(s)); }

int client_read(struct client *c, struct client_response *r) {
  memset(r, 0, sizeof *r);
  r->content_length = -1;
  struct reading rd = {r, 0, 0};
  http_parser_free(c->parser);
  c->parser = http_parser_new(HTTP_PARSE_RESPONSE, &cbs, &limits, &rd);
  char tmp[65536];
  for (;;) {
    while (c->in.len > 0 && !rd.done) {
      size_t used = 0;
      int rc = http_parser_execute(c->parser, c->in.data, c->in.len, &used);
      buf_consume(&c->in, used);
      if (rc < 0) return -1;
      if (rc == HTTP_PARSE_OK) break;
    }
    if (rd.done) {
      r->complete = 1;
      return 0;
    }
    ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 && http_parser_finish(c->parser) == HTTP_PARSE_DONE && rd.done) {
        r->complete = 1;
        return 0;
      }
      return -1;
    }
    buf_append(&c->in, tmp, (size_t)n);
  }
}

int client_wait_closed(struct client *c, int timeout_ms) {
  struct pollfd pfd = {c->fd, POLLIN, 0};
  char tmp[4096];
  for (;;) {
    int rc = poll(&pfd, 1, timeout_ms);
    if (rc <= 0) return 0;
    ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
    if (n == 0) return 1;
    if (n < 0) return errno == ECONNRESET ? 1 : 0;
  }
}

int client_header(const struct client_response *r, const char *name, char *out, size_t n) {
  const char *p = r->headers.data, *end = p + r->headers.len;
  size_t nl = strlen(name);
  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) break;
    if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      snprintf(out, n, "%.*s", (int)(eol - p - nl - 2), p + nl + 2);
      return 0;
    }
    p = eol + 1;
  }
  return -1;
}

void client_response_free(struct client_response *r) {
  buf_free(&r->headers);
  buf_free(&r->body);
}
