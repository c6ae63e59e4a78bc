/* Proxy header rules and head serialisers: see http_head.h. */
#include "mesh/http_head.h"

#include <errno.h>
#include <string.h>

static const char *const hop_by_hop[] = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length",
};

/* Is `name` one of the comma-separated tokens of a Connection header value? */
static int connection_names(struct slice value, struct slice name) {
  const char *p = value.p, *end = value.p + value.n;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
    const char *s = p;
    while (p < end && *p != ',') p++;
    const char *e = p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (e > s && slice_eq_nocase((struct slice){s, (size_t)(e - s)}, name)) return 1;
  }
  return 0;
}

int http_head_is_hop_by_hop(const struct http_head *h, struct slice name) {
  for (size_t i = 0; i < sizeof hop_by_hop / sizeof hop_by_hop[0]; i++)
    if (slice_eq_str_nocase(name, hop_by_hop[i])) return 1;
  for (size_t i = 0; i < h->nheaders; i++)
    if (slice_eq_str_nocase(h->headers[i].name, "connection") && connection_names(h->headers[i].value, name)) return 1;
  return 0;
}

int http_head_split_target(struct slice target, struct slice *authority, struct slice *path) {
  *authority = (struct slice){target.p, 0};
  *path = target;
  if (target.n == 0 || target.p[0] == '/' || target.p[0] == '*') return 0;
  if (target.n < 7 || !slice_eq_str_nocase((struct slice){target.p, 7}, "http://")) return -EINVAL;
  const char *a = target.p + 7, *end = target.p + target.n, *s = a;
  while (s < end && *s != '/' && *s != '?' && *s != '#') s++;
  /* userinfo has no place in a request target we forward */
  if (memchr(a, '@', (size_t)(s - a))) return -EINVAL;
  *authority = (struct slice){a, (size_t)(s - a)};
  if (authority->n == 0) return -EINVAL;
  if (s == end) *path = SLICE_LIT("/");
  else if (*s == '/') *path = (struct slice){s, (size_t)(end - s)};
  else return -EINVAL; /* "http://host?q": no path; refuse rather than invent one */
  return 0;
}

#define TRY(x)                    \
  do {                            \
    if ((x) != 0) return -ENOMEM; \
  } while (0)

static int write_header(struct buf *out, struct slice name, struct slice value) {
  TRY(buf_append_slice(out, name));
  TRY(buf_append(out, ": ", 2));
  TRY(buf_append_slice(out, value));
  TRY(buf_append(out, "\r\n", 2));
  return 0;
}

static int write_framing(struct buf *out, enum http_framing framing, int64_t content_length) {
  switch (framing) {
  case HTTP_FRAMING_LENGTH:
    return buf_appendf(out, "content-length: %lld\r\n", (long long)content_length);
  case HTTP_FRAMING_CHUNKED:
    return buf_append_str(out, "transfer-encoding: chunked\r\n");
  case HTTP_FRAMING_NONE:
  case HTTP_FRAMING_CLOSE:
    return 0;
  }
  return 0;
}

int http_head_write_request(struct buf *out, const struct http_head *req, const struct http_forward *fw) {
  TRY(buf_append_slice(out, req->method));
  TRY(buf_append(out, " ", 1));
  TRY(buf_append_slice(out, fw->target));
  TRY(buf_append_str(out, " HTTP/1.1\r\n"));
  const struct slice *xff = NULL;
  for (size_t i = 0; i < req->nheaders; i++) {
    const struct http_header *h = &req->headers[i];
    if (http_head_is_hop_by_hop(req, h->name)) continue;
    if (fw->host.n && slice_eq_str_nocase(h->name, "host")) continue;
    if (fw->client_ip.n && slice_eq_str_nocase(h->name, "x-forwarded-for")) {
      if (!xff) xff = &h->value; /* combined below with the client's address */
      continue;
    }
    if (fw->proto.n && slice_eq_str_nocase(h->name, "x-forwarded-proto")) continue;
    /* Sidecar-to-sidecar metadata: only ever the value this proxy sets, never a client's. */
    if (slice_eq_str_nocase(h->name, "x-meshlab-peer")) continue;
    TRY(write_header(out, h->name, h->value));
  }
  if (fw->host.n) TRY(write_header(out, SLICE_LIT("host"), fw->host));
  if (fw->client_ip.n) {
    TRY(buf_append_str(out, "x-forwarded-for: "));
    if (xff && xff->n) {
      TRY(buf_append_slice(out, *xff));
      TRY(buf_append(out, ",", 1));
    }
    TRY(buf_append_slice(out, fw->client_ip));
    TRY(buf_append(out, "\r\n", 2));
  }
  if (fw->proto.n) TRY(write_header(out, SLICE_LIT("x-forwarded-proto"), fw->proto));
  if (fw->request_id.n) TRY(write_header(out, SLICE_LIT("x-request-id"), fw->request_id));
  if (fw->peer.n) TRY(write_header(out, SLICE_LIT("x-meshlab-peer"), fw->peer));
  if (fw->extra_headers) TRY(buf_append_str(out, fw->extra_headers));
  TRY(write_framing(out, fw->framing, fw->content_length));
  if (fw->close) TRY(buf_append_str(out, "connection: close\r\n"));
  TRY(buf_append(out, "\r\n", 2));
  return 0;
}

int http_head_write_response(struct buf *out, const struct http_head *resp, enum http_framing framing,
                             int64_t content_length, int client_minor, int close, const char *extra_headers) {
  TRY(buf_appendf(out, "HTTP/1.1 %d ", resp->status));
  if (resp->reason.n) TRY(buf_append_slice(out, resp->reason));
  else TRY(buf_append_str(out, http_status_reason(resp->status)));
  TRY(buf_append(out, "\r\n", 2));
  for (size_t i = 0; i < resp->nheaders; i++) {
    const struct http_header *h = &resp->headers[i];
    if (http_head_is_hop_by_hop(resp, h->name)) continue;
    /* A proxy that reports its own response flags replaces those of the hop behind it: the
     * caller sees the flags of the proxy it talked to, as that proxy's access log does. */
    if (extra_headers && slice_eq_str_nocase(h->name, "x-meshlab-response-flags")) continue;
    TRY(write_header(out, h->name, h->value));
  }
  if (extra_headers) TRY(buf_append_str(out, extra_headers));
  TRY(write_framing(out, framing, content_length));
  if (close) TRY(buf_append_str(out, "connection: close\r\n"));
  else if (client_minor == 0) TRY(buf_append_str(out, "connection: keep-alive\r\n"));
  TRY(buf_append(out, "\r\n", 2));
  return 0;
}

int http_head_write_local_reply(struct buf *out, int status, const char *body, const char *extra_headers,
                                int client_minor, int close) {
  size_t n = body ? strlen(body) : 0;
  TRY(buf_appendf(out, "HTTP/1.1 %d %s\r\ncontent-length: %zu\r\n", status, http_status_reason(status), n));
  if (n) TRY(buf_append_str(out, "content-type: text/plain\r\n"));
  if (extra_headers) TRY(buf_append_str(out, extra_headers));
  if (close) TRY(buf_append_str(out, "connection: close\r\n"));
  else if (client_minor == 0) TRY(buf_append_str(out, "connection: keep-alive\r\n"));
  TRY(buf_append(out, "\r\n", 2));
  if (n) TRY(buf_append(out, body, n));
  return 0;
}

int http_head_write_chunk_header(struct buf *out, size_t size) {
  if (size == 0) return buf_append_str(out, "0\r\n\r\n");
  return buf_appendf(out, "%zx\r\n", size);
}

const char *http_status_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 101:
    return "Switching Protocols";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Payload Too Large";
  case 418:
    return "I'm a teapot";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Unknown";
  }
}
