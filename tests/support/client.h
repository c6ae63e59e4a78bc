/* A blocking HTTP/1.1 test client over plain sockets, for integration tests that drive a
 * proxy running on another thread. Responses are parsed with meshlab's own parser; raw bytes
 * are kept too, so tests can check framing on the wire. */
#ifndef TEST_CLIENT_H
#define TEST_CLIENT_H

#include <stdint.h>

#include "mesh/buf.h"

struct http_parser;

struct client {
  int fd;
  struct buf in; /* received, not yet parsed */
  struct http_parser *parser;
};

struct client_response {
  int status;
  int64_t content_length;
  int chunked;
  int keep_alive;
  struct buf headers; /* "name: value\n" lines as received */
  struct buf body;    /* de-framed */
  int complete;
};

/* Connects to 127.0.0.1:port with a receive timeout; returns 0 or -1. */
int client_open(struct client *c, int port);
void client_close(struct client *c);
/* Sends all bytes; returns 0 or -1. */
int client_send(struct client *c, const char *p, size_t n);
int client_send_str(struct client *c, const char *s);
/* Reads one whole response (interim 1xx ones are skipped); returns 0, or -1 when the
 * connection ended or timed out first (r holds what arrived). */
int client_read(struct client *c, struct client_response *r);
/* Nonzero when the peer closed the connection (reads EOF within timeout_ms). */
int client_wait_closed(struct client *c, int timeout_ms);
/* The value of header `name` in r (case-insensitive) copied into out; returns 0 or -1. */
int client_header(const struct client_response *r, const char *name, char *out, size_t n);
void client_response_free(struct client_response *r);

#endif
