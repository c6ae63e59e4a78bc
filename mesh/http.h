/* HTTP/1.1 messages: the head model and the incremental parser.
 *
 * This is the only module that includes llhttp. A `struct http_parser` reads a stream of
 * requests (or responses) and reports, per message, its head, its body bytes (de-framed: the
 * caller never sees chunk sizes) and its end. Heads pass meshlab's own strictness layer
 * (http_strict.c) before llhttp sees them, because Debian's llhttp 8.1.0 accepts inputs that
 * llhttp 9.4.2 and RFC 9112 reject (obs-fold, bare CR, empty header names, ...): a proxy that
 * lets those through invites request smuggling.
 *
 * The parser stops after each complete message so a proxy can answer pipelined requests in
 * order: the caller resumes with the bytes it did not consume.
 */
#ifndef MESH_HTTP_H
#define MESH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"

struct http_header {
  struct slice name;
  struct slice value; /* without surrounding whitespace */
};

/* A parsed request or response head. Slices borrow the parser's buffer and stay valid until
 * the parser starts reading the next message (the next http_parser_execute after
 * HTTP_PARSE_DONE). */
struct http_head {
  int is_request;
  struct slice method; /* requests: "GET" */
  struct slice target; /* requests: "/path?q", "http://host/path" or "*" */
  int minor;           /* HTTP/1.<minor>: 0 or 1 */
  int status;          /* responses */
  struct slice reason; /* responses, may be empty */
  struct http_header *headers;
  size_t nheaders;
  /* Framing, as the parser decided it (RFC 9112 section 6.3): */
  int64_t content_length;  /* -1 when the message has none */
  unsigned chunked : 1;    /* Transfer-Encoding: chunked */
  unsigned keep_alive : 1; /* the sender keeps the connection after this message */
};

/* Returns the value of the first header named `name` (case-insensitive), or NULL. */
const struct slice *http_head_find(const struct http_head *h, const char *name);

enum http_parse_kind { HTTP_PARSE_REQUEST, HTTP_PARSE_RESPONSE };

/* What the parser tells its owner. Each returns 0 to go on or a negative code to stop parsing
 * (http_parser_execute then returns HTTP_PARSE_ABORTED). on_head may return 1 to say the
 * message has no body whatever its headers say (a response to HEAD). */
struct http_parser_cbs {
  int (*on_head)(void *owner, struct http_head *head);
  int (*on_body)(void *owner, const char *p, size_t n);
  int (*on_complete)(void *owner);
};

struct http_limits {
  size_t max_head_bytes;   /* request line/status line plus headers (Envoy: 60 KiB) */
  size_t max_headers;      /* header count (Envoy: 100) */
  uint64_t max_body_bytes; /* 0 = unlimited */
};

enum {
  HTTP_PARSE_OK = 0,      /* every byte consumed, message not finished */
  HTTP_PARSE_DONE = 1,    /* a message ended; bytes after *consumed belong to the next one */
  HTTP_PARSE_ERROR = -1,  /* malformed input: see http_parser_error_* */
  HTTP_PARSE_ABORTED = -2 /* a callback returned a negative code */
};

struct http_parser;

/* Returns an owned parser (free with http_parser_free), or NULL when out of memory. cbs and
 * limits are borrowed and must outlive the parser; owner is passed to every callback. */
struct http_parser *http_parser_new(enum http_parse_kind kind, const struct http_parser_cbs *cbs,
                                    const struct http_limits *limits, void *owner);
void http_parser_free(struct http_parser *p);

/* Parses n bytes. Returns HTTP_PARSE_OK (all consumed), HTTP_PARSE_DONE (a message ended after
 * *consumed bytes), HTTP_PARSE_ERROR or HTTP_PARSE_ABORTED. After an error the parser is dead. */
int http_parser_execute(struct http_parser *p, const char *data, size_t n, size_t *consumed);
/* The peer closed its side. Returns HTTP_PARSE_DONE if that ended a message (a response
 * delimited by close), HTTP_PARSE_OK if no message was in progress, HTTP_PARSE_ERROR if one
 * was cut short. */
int http_parser_finish(struct http_parser *p);
/* Forgets any partial message (after a connection failed mid-message), ready for a new stream. */
void http_parser_reset(struct http_parser *p);
/* Responses: the next response answers a HEAD request (no body whatever its headers say). */
void http_parser_expect_head_response(struct http_parser *p, int head);
/* Nonzero when no byte of a new message has been seen since the last one ended. */
int http_parser_idle(const struct http_parser *p);
/* Body bytes delivered for the current (or just finished) message. */
uint64_t http_parser_body_bytes(const struct http_parser *p);

/* After HTTP_PARSE_ERROR: the status to answer with (400, 413, 431; 502 for responses), a
 * short reason for logs ("obs-fold in header line"), and the strictness code (enum
 * http_strict_code) or 0 when llhttp itself refused. */
int http_parser_error_status(const struct http_parser *p);
const char *http_parser_error_reason(const struct http_parser *p);
int http_parser_error_code(const struct http_parser *p);

#endif
