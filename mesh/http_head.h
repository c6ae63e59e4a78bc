/* Header rules a proxy must follow (RFC 9110 section 7.6, RFC 9112) and the serialisers that
 * write the heads meshlab sends. Pure: bytes in, bytes out.
 *
 * The proxy never forwards raw input: every head it sends is written here from a parsed
 * `struct http_head`, with hop-by-hop headers removed (Connection and every header it names,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade), framing re-decided
 * (Content-Length or chunked) and the forwarding headers added.
 */
#ifndef MESH_HTTP_HEAD_H
#define MESH_HTTP_HEAD_H

#include <stdint.h>

#include "mesh/buf.h"
#include "mesh/http.h"

/* How a body is framed on the wire we write. */
enum http_framing {
  HTTP_FRAMING_NONE,   /* no body */
  HTTP_FRAMING_LENGTH, /* Content-Length */
  HTTP_FRAMING_CHUNKED,
  HTTP_FRAMING_CLOSE /* body ends when the connection closes (HTTP/1.0 peers) */
};

/* What the proxy adds or replaces when it forwards a request. Slices are borrowed. */
struct http_forward {
  struct slice target;       /* origin-form target to send */
  struct slice host;         /* Host to send; empty = keep the request's */
  struct slice client_ip;    /* appended to X-Forwarded-For; empty = leave it */
  struct slice proto;        /* X-Forwarded-Proto value; empty = leave it */
  struct slice request_id;   /* X-Request-Id to add (only when the request had none) */
  enum http_framing framing; /* NONE, LENGTH or CHUNKED */
  int64_t content_length;    /* with HTTP_FRAMING_LENGTH */
  int close;                 /* send Connection: close */
  struct slice peer;         /* x-meshlab-peer to add (telemetry.h); any received one is dropped */
  const char *extra_headers; /* whole "name: value\r\n" lines the filters add (jwt_authn's outputs), or NULL */
};

/* Nonzero when `name` must not be forwarded: a hop-by-hop header, a framing header the
 * serialiser rewrites, or a header listed in h's Connection header. */
int http_head_is_hop_by_hop(const struct http_head *h, struct slice name);

/* Splits an absolute-form target ("http://host:port/p?q") into its authority and origin-form
 * path ("/p?q", or "/" when empty); origin-form targets come back unchanged with an empty
 * authority. Returns 0, or -EINVAL for a scheme other than http. */
int http_head_split_target(struct slice target, struct slice *authority, struct slice *path);

/* Appends the request head to send upstream. Returns 0 or -ENOMEM. */
int http_head_write_request(struct buf *out, const struct http_head *req, const struct http_forward *fw);

/* Appends the response head to send downstream: status line as HTTP/1.1, the upstream's
 * end-to-end headers, then the framing and connection headers. client_minor is the client's
 * HTTP minor version (1.0 clients get keep-alive spelled out); extra_headers (whole
 * "name: value\r\n" lines, or NULL) are the proxy's own additions; with them, an upstream
 * x-meshlab-response-flags header is dropped (the proxy's own replaces it). Returns 0 or -ENOMEM. */
int http_head_write_response(struct buf *out, const struct http_head *resp, enum http_framing framing,
                             int64_t content_length, int client_minor, int close, const char *extra_headers);

/* Appends a complete local reply (head and body) in Envoy's shape: text/plain body, content
 * length, and extra_headers (already formatted "name: value\r\n" lines, or NULL). */
int http_head_write_local_reply(struct buf *out, int status, const char *body, const char *extra_headers,
                                int client_minor, int close);

/* The standard reason phrase for a status code ("Service Unavailable"), or "Unknown". */
const char *http_status_reason(int status);

/* Appends one chunk's framing: "<hex size>\r\n" before data, or the last chunk "0\r\n\r\n"
 * when size is 0. The caller appends "\r\n" after the data of a non-final chunk. */
int http_head_write_chunk_header(struct buf *out, size_t size);

#endif
