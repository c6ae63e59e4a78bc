/* The strictness layer: RFC 9112 message-head rules that meshlab enforces before llhttp sees a
 * head, and the chunked-body rules (chunk-size lines, trailers) of the framing meshlab does
 * itself, so the proxy refuses what llhttp 9.4.2 refuses (and a few things more, each listed in
 * docs/http-strictness.md with the reason). Pure functions over bytes; no I/O.
 *
 * http_strict_parse_head both validates and parses: its output is the head the proxy forwards
 * from (after re-serialising), so no raw input byte is ever passed on unchecked.
 */
#ifndef MESH_HTTP_STRICT_H
#define MESH_HTTP_STRICT_H

#include <stddef.h>
#include <stdint.h>

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
  /* chunked bodies (RFC 9112 section 7.1) */
  STRICT_BAD_CHUNK_SIZE,
  STRICT_BAD_CHUNK_EXTENSION,
  STRICT_BAD_CHUNK_END,      /* chunk data not followed by CRLF */
  STRICT_FRAMING_IN_TRAILER, /* Content-Length or Transfer-Encoding as a trailer field */
  /* the stream */
  STRICT_DATA_AFTER_CLOSE, /* bytes after a message that ended the connection */
  STRICT_CODE_COUNT
};

/* Returns a short human reason for a code ("obs-fold in header line"). */
const char *http_strict_reason(enum http_strict_code code);
/* Nonzero for codes that go beyond llhttp 9.4.2's own verdicts (listed in the docs). */
int http_strict_is_extra(enum http_strict_code code);

/* Validates and parses one complete head: p[0..n) is the start line through the empty line
 * that ends the headers (the final CRLF CRLF included). Fills out (slices borrow p); headers go
 * into out->headers, which has room for max_headers entries. Returns STRICT_OK or a code. */
enum http_strict_code http_strict_parse_head(const char *p, size_t n, int is_request, struct http_head *out,
                                             size_t max_headers);

/* Where a chunk-size line stands (RFC 9112 section 7.1):
 *   chunk-size [ chunk-ext ] CRLF,  chunk-ext = *( ";" name [ "=" ( token / quoted-string ) ] )
 * with llhttp 9.4.2's strict reading: no whitespace anywhere on the line. */
enum http_chunk_line_state {
  CHUNK_LINE_SIZE_FIRST = 0, /* a zeroed struct starts a line */
  CHUNK_LINE_SIZE,
  CHUNK_LINE_EXT_START, /* just after ';' */
  CHUNK_LINE_EXT_NAME,
  CHUNK_LINE_EXT_VALUE,
  CHUNK_LINE_EXT_QUOTED,
  CHUNK_LINE_EXT_QUOTED_PAIR,
  CHUNK_LINE_EXT_QUOTED_DONE,
  CHUNK_LINE_LF, /* CR seen, LF expected */
  CHUNK_LINE_DONE
};

struct http_chunk_line {
  enum http_chunk_line_state state;
  uint64_t size;
};

/* Takes byte c of a chunk-size line. Returns STRICT_OK, with line->state CHUNK_LINE_DONE once
 * the line's LF is taken (line->size is then the chunk size), or the code of the first byte
 * that breaks the grammar. Extensions are checked and dropped: meshlab re-frames bodies. */
enum http_strict_code http_strict_chunk_line_byte(struct http_chunk_line *line, char c);

/* Validates a trailer section, p[0..n): field lines ending in CRLF, then the empty line (so
 * just "\r\n" when there are none). Field lines follow the header rules; Content-Length never,
 * and Transfer-Encoding not in a request, may appear there (RFC 9110 section 6.5.1: framing
 * fields are not trailers; llhttp 9.4.2 refuses them the same way). */
enum http_strict_code http_strict_check_trailers(const char *p, size_t n, int is_request);

/* Incremental guard while a head accumulates: checks byte c given the previous byte prev
 * (0 at the start). Returns STRICT_BARE_CR / STRICT_BARE_LF early, before the head is whole. */
enum http_strict_code http_strict_head_byte(char prev, char c);

#endif
