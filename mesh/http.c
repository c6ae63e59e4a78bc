/* The HTTP/1.1 parser: llhttp for framing and bodies, behind meshlab's strictness layer.
 *
 * Each message goes through two phases. While its head is incomplete, bytes accumulate in
 * `raw` (checked byte by byte for bare CR/LF, bounded by max_head_bytes); once the empty line
 * arrives, http_strict_parse_head validates and parses the whole head. llhttp never sees the
 * raw head: it gets `llhead`, the head re-serialised from meshlab's own parse, so that Debian's
 * llhttp 8.1.0 decides framing from exactly what the strictness layer accepted, and its own
 * quirks on head syntax (it refuses a tab after a Content-Length value and the QUERY method,
 * which llhttp 9.4.2 accepts) do not matter.
 *
 * Bodies: llhttp frames Content-Length and close-delimited bodies, fed straight from the
 * caller's buffer, and hands them to on_body. Chunked bodies meshlab frames itself
 * (take_chunked), with 9.4.2's rules for chunk-size lines: 8.1.0 refuses valid chunk
 * extensions, and two parsers that read a chunk line differently is how smuggling starts.
 * After each message the parser stops, so the caller gets control back between pipelined
 * messages.
 */
#include "mesh/http.h"

#include <errno.h>
#include <llhttp.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/http_strict.h"

/* PHASE_BODY: llhttp frames the body (Content-Length, or until close); PHASE_CHUNKED: the
 * body is chunked and meshlab frames it itself (take_chunked). */
enum phase { PHASE_HEAD, PHASE_BODY, PHASE_CHUNKED, PHASE_DEAD };

/* Where a chunked body stands (RFC 9112 section 7.1). */
enum chunk_step {
  CHUNK_STEP_LINE,    /* a chunk-size line, checked by http_strict_chunk_line_byte */
  CHUNK_STEP_DATA,    /* chunk_left bytes of chunk data */
  CHUNK_STEP_DATA_CR, /* the CRLF after chunk data */
  CHUNK_STEP_DATA_LF,
  CHUNK_STEP_TRAILERS /* after the last chunk: trailer fields and the empty line */
};

struct http_parser {
  llhttp_t ll;
  llhttp_settings_t settings;
  enum http_parse_kind kind;
  enum phase phase;
  const struct http_parser_cbs *cbs;
  const struct http_limits *limits;
  void *owner;
  struct buf raw;    /* the head being accumulated */
  struct buf llhead; /* the head as llhttp sees it: re-serialised from `head` */
  struct http_head head;
  struct http_header *hdrs; /* room for limits->max_headers */
  uint64_t body_bytes;
  enum chunk_step chunk;
  struct http_chunk_line line;
  uint64_t chunk_left;
  struct buf trailer; /* the trailer section being accumulated */
  int eoh;            /* progress through the CRLF CRLF that ends a head */
  unsigned head_response : 1, message_done : 1, aborted : 1;
  unsigned closed : 1; /* the last message ended the connection (not keep-alive) */
  int error_status;
  int error_code;
  const char *error_reason;
};

const struct slice *http_head_find(const struct http_head *h, const char *name) {
  for (size_t i = 0; i < h->nheaders; i++)
    if (slice_eq_str_nocase(h->headers[i].name, name)) return &h->headers[i].value;
  return NULL;
}

static int fail(struct http_parser *p, int status, int code, const char *reason) {
  p->phase = PHASE_DEAD;
  if (p->kind == HTTP_PARSE_RESPONSE) status = 502;
  p->error_status = status;
  p->error_code = code;
  p->error_reason = reason;
  return HTTP_PARSE_ERROR;
}

/* RFC 9112 section 6.3, rule 1: a response to HEAD, and every 1xx, 204 and 304 response, ends
 * with its head whatever Content-Length or Transfer-Encoding say. llhttp 8.1.0 would read a body
 * after a 304 carrying Content-Length (9.4.2 does not): the next response would be swallowed as
 * that body, a response-splitting gift. */
static int response_has_no_body(const struct http_parser *p) {
  int status = p->head.status;
  return p->head_response || (status >= 100 && status < 200) || status == 204 || status == 304;
}

/* Hands body bytes to the owner, within max_body_bytes. Returns 0, or -1 with error_status
 * 413 or `aborted` set. */
static int deliver_body(struct http_parser *p, const char *at, size_t n) {
  p->body_bytes += n;
  if (p->limits->max_body_bytes && p->body_bytes > p->limits->max_body_bytes) {
    p->error_status = 413;
    return -1;
  }
  if (p->cbs->on_body(p->owner, at, n) < 0) {
    p->aborted = 1;
    return -1;
  }
  return 0;
}

static int ll_on_headers_complete(llhttp_t *ll) {
  struct http_parser *p = ll->data;
  struct http_head *h = &p->head;
  int no_body = p->kind == HTTP_PARSE_RESPONSE && response_has_no_body(p);
  /* Tell llhttp before asking it about keep-alive: a bodiless response without Content-Length
   * is not delimited by close (llhttp only sets this flag after the callback returns). */
  if (no_body) ll->flags |= F_SKIPBODY;
  /* llhttp's framing verdict must agree with ours; where it does not, refuse (never guess). */
  h->keep_alive = llhttp_should_keep_alive(ll) ? 1 : 0;
  if (h->chunked != ((ll->flags & F_CHUNKED) != 0)) return -1;
  if (p->limits->max_body_bytes && h->content_length > 0 && (uint64_t)h->content_length > p->limits->max_body_bytes) {
    p->error_status = 413;
    return -1;
  }
  int rc = p->cbs->on_head(p->owner, h);
  if (rc < 0) {
    p->aborted = 1;
    return -1;
  }
  if (no_body || rc == 1) return 1;
  if (h->chunked) {
    /* meshlab frames chunked bodies itself: llhttp is told this message has no body (the
     * message_complete it reports next is ignored) and take_chunked reads the chunks. */
    p->phase = PHASE_CHUNKED;
    p->chunk = CHUNK_STEP_LINE;
    memset(&p->line, 0, sizeof p->line);
    buf_reset(&p->trailer);
    return 1;
  }
  return 0;
}

static int ll_on_body(llhttp_t *ll, const char *at, size_t n) { return deliver_body(ll->data, at, n); }

static int ll_on_message_complete(llhttp_t *ll) {
  struct http_parser *p = ll->data;
  if (p->phase == PHASE_CHUNKED) return 0; /* only the head is done; take_chunked reads on */
  p->message_done = 1;
  if (p->cbs->on_complete(p->owner) < 0) {
    p->aborted = 1;
    return -1;
  }
  return HPE_PAUSED;
}

struct http_parser *http_parser_new(enum http_parse_kind kind, const struct http_parser_cbs *cbs,
                                    const struct http_limits *limits, void *owner) {
  struct http_parser *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->hdrs = calloc(limits->max_headers ? limits->max_headers : 1, sizeof *p->hdrs);
  if (!p->hdrs) {
    free(p);
    return NULL;
  }
  llhttp_settings_init(&p->settings);
  p->settings.on_headers_complete = ll_on_headers_complete;
  p->settings.on_body = ll_on_body;
  p->settings.on_message_complete = ll_on_message_complete;
  llhttp_init(&p->ll, kind == HTTP_PARSE_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE, &p->settings);
  p->ll.data = p;
  p->kind = kind;
  p->cbs = cbs;
  p->limits = limits;
  p->owner = owner;
  p->phase = PHASE_HEAD;
  return p;
}

void http_parser_free(struct http_parser *p) {
  if (!p) return;
  buf_free(&p->raw);
  buf_free(&p->llhead);
  buf_free(&p->trailer);
  free(p->hdrs);
  free(p);
}

void http_parser_reset(struct http_parser *p) {
  llhttp_reset(&p->ll);
  p->phase = PHASE_HEAD;
  p->eoh = 0;
  p->body_bytes = 0;
  p->head_response = p->message_done = p->aborted = p->closed = 0;
  p->error_status = p->error_code = 0;
  p->error_reason = NULL;
  buf_reset(&p->raw);
  buf_reset(&p->trailer);
}

void http_parser_expect_head_response(struct http_parser *p, int head) { p->head_response = head ? 1 : 0; }

int http_parser_idle(const struct http_parser *p) { return p->phase == PHASE_HEAD && p->raw.len == 0; }

uint64_t http_parser_body_bytes(const struct http_parser *p) { return p->body_bytes; }

int http_parser_error_status(const struct http_parser *p) { return p->error_status; }
const char *http_parser_error_reason(const struct http_parser *p) { return p->error_reason ? p->error_reason : ""; }
int http_parser_error_code(const struct http_parser *p) { return p->error_code; }

/* A message ended: back to reading heads. */
static void end_message(struct http_parser *p) {
  p->phase = PHASE_HEAD;
  p->closed = !p->head.keep_alive;
  buf_reset(&p->raw);
}

/* Feeds llhttp and translates its verdict. *used gets the bytes llhttp consumed. */
static int run_llhttp(struct http_parser *p, const char *data, size_t n, size_t *used) {
  p->message_done = 0;
  enum llhttp_errno err = llhttp_execute(&p->ll, data, n);
  if (err == HPE_PAUSED_UPGRADE && p->kind == HTTP_PARSE_REQUEST) {
    /* A request asked to switch protocols (Connection: upgrade). meshlab strips Upgrade as
     * hop-by-hop and answers in HTTP/1.1, which RFC 9110 section 7.8 allows ("a server MAY
     * ignore a received Upgrade header field"), so the connection stays HTTP/1.1 and what
     * follows is the next request. (CONNECT, the other way here, is refused earlier.) */
    const char *at = llhttp_get_error_pos(&p->ll);
    llhttp_resume_after_upgrade(&p->ll);
    err = llhttp_execute(&p->ll, at, n - (size_t)(at - data));
  }
  if (err == HPE_OK) {
    *used = n;
    return HTTP_PARSE_OK;
  }
  if (err == HPE_PAUSED && p->message_done) {
    *used = (size_t)(llhttp_get_error_pos(&p->ll) - data);
    llhttp_resume(&p->ll);
    end_message(p);
    return HTTP_PARSE_DONE;
  }
  *used = 0;
  if (p->aborted) {
    p->phase = PHASE_DEAD;
    return HTTP_PARSE_ABORTED;
  }
  if (p->error_status == 413) return fail(p, 413, 0, "body larger than the limit");
  if (err == HPE_PAUSED_UPGRADE) return fail(p, 502, 0, "bytes after 101 Switching Protocols");
  const char *reason = llhttp_get_error_reason(&p->ll);
  return fail(p, 400, 0, reason ? reason : llhttp_errno_name(err));
}

/* The trailer section after the last chunk is whole once it is the empty line alone or ends
 * in CRLF CRLF. */
static int trailer_complete(const struct buf *t) {
  return (t->len == 2 && memcmp(t->data, "\r\n", 2) == 0) ||
         (t->len >= 4 && memcmp(t->data + t->len - 4, "\r\n\r\n", 4) == 0);
}

/* Reads a chunked body (RFC 9112 section 7.1) from data[0..n): chunk-size lines as llhttp
 * 9.4.2 reads them (http_strict_chunk_line_byte), chunk data to on_body, the CRLF after each
 * chunk, and after the last chunk the trailer section, which is checked and dropped (meshlab
 * forwards no trailers). *used gets the bytes taken. Returns HTTP_PARSE_OK (all taken),
 * HTTP_PARSE_DONE (the message ended), HTTP_PARSE_ERROR or HTTP_PARSE_ABORTED. */
static int take_chunked(struct http_parser *p, const char *data, size_t n, size_t *used) {
  size_t i = 0;
  *used = 0;
  while (i < n) {
    char c = data[i];
    enum http_strict_code rc = STRICT_OK;
    switch (p->chunk) {
    case CHUNK_STEP_LINE:
      rc = http_strict_chunk_line_byte(&p->line, c);
      i++;
      if (rc != STRICT_OK || p->line.state != CHUNK_LINE_DONE) break;
      if (p->line.size == 0) {
        p->chunk = CHUNK_STEP_TRAILERS;
      } else {
        p->chunk = CHUNK_STEP_DATA;
        p->chunk_left = p->line.size;
      }
      break;
    case CHUNK_STEP_DATA: {
      size_t k = n - i < p->chunk_left ? n - i : (size_t)p->chunk_left;
      if (deliver_body(p, data + i, k) != 0) {
        *used = i;
        if (!p->aborted) return fail(p, 413, 0, "body larger than the limit");
        p->phase = PHASE_DEAD;
        return HTTP_PARSE_ABORTED;
      }
      i += k;
      p->chunk_left -= k;
      if (p->chunk_left == 0) p->chunk = CHUNK_STEP_DATA_CR;
      break;
    }
    case CHUNK_STEP_DATA_CR:
      if (c != '\r') rc = STRICT_BAD_CHUNK_END;
      p->chunk = CHUNK_STEP_DATA_LF;
      i++;
      break;
    case CHUNK_STEP_DATA_LF:
      if (c != '\n') rc = STRICT_BAD_CHUNK_END;
      p->chunk = CHUNK_STEP_LINE;
      memset(&p->line, 0, sizeof p->line);
      i++;
      break;
    case CHUNK_STEP_TRAILERS:
      rc = http_strict_head_byte(p->trailer.len ? p->trailer.data[p->trailer.len - 1] : 0, c);
      if (rc != STRICT_OK) break;
      if (p->trailer.len >= p->limits->max_head_bytes) {
        *used = i;
        return fail(p, 431, 0, "trailer section larger than the limit");
      }
      if (buf_append(&p->trailer, &c, 1) != 0) return fail(p, 500, 0, "out of memory");
      i++;
      if (!trailer_complete(&p->trailer)) break;
      rc = http_strict_check_trailers(p->trailer.data, p->trailer.len, p->kind == HTTP_PARSE_REQUEST);
      if (rc != STRICT_OK) break;
      *used = i;
      if (p->cbs->on_complete(p->owner) < 0) {
        p->phase = PHASE_DEAD;
        return HTTP_PARSE_ABORTED;
      }
      end_message(p);
      return HTTP_PARSE_DONE;
    }
    if (rc != STRICT_OK) {
      *used = i;
      return fail(p, 400, rc, http_strict_reason(rc));
    }
  }
  *used = n;
  return HTTP_PARSE_OK;
}

/* Re-serialises the validated head into p->llhead for llhttp: the start line, every field line
 * as `name: value` with the value's surrounding whitespace already gone, and the empty line.
 * llhttp 8.1.0 does not know QUERY (the safe method with a body, added in llhttp 9); it is
 * shown POST, which frames the same way. Returns 0 or -ENOMEM. */
static int write_llhead(struct http_parser *p) {
  const struct http_head *h = &p->head;
  struct buf *b = &p->llhead;
  int rc = 0;
  buf_reset(b);
  if (h->is_request) {
    struct slice method = h->method;
    if (method.n == 5 && memcmp(method.p, "QUERY", 5) == 0) method = SLICE_LIT("POST");
    rc |= buf_append_slice(b, method);
    rc |= buf_append(b, " ", 1);
    rc |= buf_append_slice(b, h->target);
    rc |= buf_appendf(b, " HTTP/1.%d\r\n", h->minor);
  } else {
    rc |= buf_appendf(b, "HTTP/1.%d %03d", h->minor, h->status);
    if (h->reason.n) {
      rc |= buf_append(b, " ", 1);
      rc |= buf_append_slice(b, h->reason);
    }
    rc |= buf_append(b, "\r\n", 2);
  }
  for (size_t i = 0; i < h->nheaders; i++) {
    rc |= buf_append_slice(b, h->headers[i].name);
    rc |= buf_append(b, ": ", 2);
    rc |= buf_append_slice(b, h->headers[i].value);
    rc |= buf_append(b, "\r\n", 2);
  }
  rc |= buf_append(b, "\r\n", 2);
  return rc ? -ENOMEM : 0;
}

/* Accumulates head bytes; returns OK with *complete set once the empty line that ends the
 * head has arrived (*used bytes of data were taken), or an error. */
static int take_head(struct http_parser *p, const char *data, size_t n, size_t *used, int *complete) {
  size_t i = 0;
  *complete = 0;
  /* Between messages. RFC 9112 section 2.2: a server SHOULD ignore at least one empty line
   * before a request-line; like llhttp 9.4.2 we skip any CR and LF there, for responses too,
   * byte by byte so that it works however the stream is cut. Nothing skipped is forwarded.
   * After a message that ends the connection (Connection: close, or HTTP/1.0 without
   * keep-alive), those are the only bytes allowed: anything else is a message the peer had
   * no right to send, and llhttp 9.4.2 refuses it the same way. */
  while (p->raw.len == 0 && i < n && (data[i] == '\r' || data[i] == '\n')) i++;
  if (p->raw.len == 0 && i < n && p->closed) {
    *used = i;
    return fail(p, 400, STRICT_DATA_AFTER_CLOSE, http_strict_reason(STRICT_DATA_AFTER_CLOSE));
  }
  size_t start = i;
  char prev = p->raw.len ? p->raw.data[p->raw.len - 1] : 0;
  for (; i < n; i++) {
    char c = data[i];
    enum http_strict_code rc = http_strict_head_byte(prev, c);
    if (rc != STRICT_OK) return fail(p, 400, rc, http_strict_reason(rc));
    prev = c;
    /* eoh counts how much of "\r\n\r\n" the input has just matched. */
    if (c == '\r') p->eoh = p->eoh == 2 ? 3 : 1;
    else if (c == '\n') p->eoh = p->eoh == 1 ? 2 : p->eoh == 3 ? 4 : 0;
    else p->eoh = 0;
    if (p->eoh == 4) {
      i++;
      *complete = 1;
      p->eoh = 0;
      break;
    }
  }
  if (p->raw.len + (i - start) > p->limits->max_head_bytes)
    return fail(p, 431, 0, "message head larger than the limit");
  if (buf_append(&p->raw, data + start, i - start) != 0) return fail(p, 500, 0, "out of memory");
  *used = i;
  return HTTP_PARSE_OK;
}

int http_parser_execute(struct http_parser *p, const char *data, size_t n, size_t *consumed) {
  size_t off = 0;
  *consumed = 0;
  while (off < n) {
    if (p->phase == PHASE_DEAD) return HTTP_PARSE_ERROR;
    if (p->phase == PHASE_HEAD) {
      size_t used = 0;
      int complete;
      int rc = take_head(p, data + off, n - off, &used, &complete);
      off += used;
      *consumed = off;
      if (rc != HTTP_PARSE_OK) return rc;
      if (!complete) return HTTP_PARSE_OK;
      memset(&p->head, 0, sizeof p->head);
      p->head.headers = p->hdrs;
      p->body_bytes = 0;
      enum http_strict_code sc = http_strict_parse_head(p->raw.data, p->raw.len, p->kind == HTTP_PARSE_REQUEST,
                                                        &p->head, p->limits->max_headers);
      if (sc != STRICT_OK) return fail(p, sc == STRICT_TOO_MANY_HEADERS ? 431 : 400, sc, http_strict_reason(sc));
      if (write_llhead(p) != 0) return fail(p, 500, 0, "out of memory");
      p->phase = PHASE_BODY;
      size_t hused;
      rc = run_llhttp(p, p->llhead.data, p->llhead.len, &hused);
      if (rc == HTTP_PARSE_DONE) {
        /* A message without a body ends with its head. */
        return HTTP_PARSE_DONE;
      }
      if (rc != HTTP_PARSE_OK) return rc;
      continue;
    }
    size_t used = 0;
    int rc = p->phase == PHASE_CHUNKED ? take_chunked(p, data + off, n - off, &used)
                                       : run_llhttp(p, data + off, n - off, &used);
    off += used;
    *consumed = off;
    if (rc != HTTP_PARSE_OK) return rc;
  }
  return HTTP_PARSE_OK;
}

int http_parser_finish(struct http_parser *p) {
  switch (p->phase) {
  case PHASE_DEAD:
    return HTTP_PARSE_ERROR;
  case PHASE_HEAD:
    if (p->raw.len == 0) return HTTP_PARSE_OK;
    return fail(p, 400, 0, "connection closed inside a message head");
  case PHASE_CHUNKED:
    return fail(p, 400, 0, "connection closed inside a message body");
  case PHASE_BODY: {
    p->message_done = 0;
    enum llhttp_errno err = llhttp_finish(&p->ll);
    if ((err == HPE_OK || err == HPE_PAUSED) && p->message_done) {
      end_message(p);
      return HTTP_PARSE_DONE;
    }
    return fail(p, 400, 0, "connection closed inside a message body");
  }
  }
  return HTTP_PARSE_ERROR;
}
