/* The strictness layer: RFC 9112 message-head rules that meshlab enforces before llhttp sees a
 * head, so the proxy refuses what llhttp 9.4.2 refuses (and a few things more, each listed in
 * docs/http-strictness.md with the reason). Pure functions over bytes; no I/O.
 *
 * http_strict_parse_head both validates and parses: its output is the head the proxy forwards
 * from (after re-serialising), so no raw input byte is ever passed on unchecked.
 */
#ifndef MESH_HTTP_STRICT_H
#define MESH_HTTP_STRICT_H

#include <stddef.h>

#include "mesh/http.h"

enum http_strict_code {
  STRICT_OK = 0,
  /* start line */
  STRICT_BAD_REQUEST_LINE = 1,
  STRICT_BAD_METHOD,
  STRICT_METHOD_NOT_ALLOWED, /* CONNECT, PRI, RTSP-only methods: a proxy must not pass them */
  STRICT_BAD_TARGET,
  STRICT_BAD_VERSION,
  STRICT_UNSUPPORTED_VERSION, /* HTTP/0.9, HTTP/2 and later, RTSP/ICE */
  STRICT_BAD_STATUS_LINE,
  /* header lines */
  STRICT_BARE_CR,
  STRICT_BARE_LF,
  STRICT_OBS_FOLD,
  STRICT_EMPTY_HEADER_NAME,
  STRICT_BAD_HEADER_NAME,
  STRICT_SPACE_BEFORE_COLON,
  STRICT_BAD_HEADER_VALUE,
  STRICT_TOO_MANY_HEADERS,
  /* framing and semantics */
  STRICT_BAD_CONTENT_LENGTH,
  STRICT_REPEATED_CONTENT_LENGTH,
  STRICT_CONTENT_LENGTH_WITH_TE,
  STRICT_BAD_TRANSFER_ENCODING,
  STRICT_TE_IN_HTTP10,
  STRICT_MISSING_HOST,
  STRICT_REPEATED_HOST,
  STRICT_CODE_COUNT
};

/* Returns a short human reason for a code ("obs-fold in header line"). */
const char *http_strict_reason(enum http_strict_code code);
/* Nonzero for codes that go beyond llhttp 9.4.2's own verdicts (listed in the docs). */
int http_strict_is_extra(enum http_strict_code code);

/* Validates and parses one complete head: p[0..n) is the start line through the empty line
 * that ends the headers (the final CRLF CRLF included). Fills out (slices borrow p); headers go
 * into out->headers, which has room for max_headers entries. Returns STRICT_OK or a code. */
enum http_strict_code http_strict_parse_head(const char *p, size_t n, int is_request,
                                             struct http_head *out, size_t max_headers);

/* Incremental guard while a head accumulates: checks byte c given the previous byte prev
 * (0 at the start). Returns STRICT_BARE_CR / STRICT_BARE_LF early, before the head is whole. */
enum http_strict_code http_strict_head_byte(char prev, char c);

#endif
