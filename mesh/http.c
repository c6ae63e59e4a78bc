/* The HTTP/1.1 parser: llhttp for framing and bodies, behind meshlab's strictness layer.
 *
 * Each message goes through two phases. While its head is incomplete, bytes accumulate in
 * `raw` (checked byte by byte for bare CR/LF, bounded by max_head_bytes); once the empty line
 * arrives, http_strict_parse_head validates and parses the whole head, and only then does
 * llhttp see it, as one buffer, to decide framing. Body bytes are fed to llhttp straight from
 * the caller's buffer and reach on_body de-framed. After on_message_complete the parser pauses
 * llhttp, so the caller gets control back between pipelined messages.
 */
#include "mesh/http.h"

#include <llhttp.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/http_strict.h"

enum phase { PHASE_HEAD, PHASE_BODY, PHASE_DEAD };

struct http_parser {
  llhttp_t ll;
  llhttp_settings_t settings;
  enum http_parse_kind kind;
  enum phase phase;
  const struct http_parser_cbs *cbs;
  const struct http_limits *limits;
  void *owner;
  struct buf raw;            /* the head being accumulated */
  struct http_head head;
  struct http_header *hdrs;  /* room for limits->max_headers */
  uint64_t body_bytes;
  int eoh;                   /* progress through the CRLF CRLF that ends a head */
  unsigned head_response : 1, message_done : 1, aborted : 1;
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

static int ll_on_headers_complete(llhttp_t *ll) {
  struct http_parser *p = ll->data;
  struct http_head *h = &p->head;
  /* llhttp's framing verdict must agree with ours; where it does not, refuse (never guess). */
  h->keep_alive = llhttp_should_keep_alive(ll) ? 1 : 0;
  if (h->chunked != ((ll->flags & F_CHUNKED) != 0)) return -1;
  if (p->limits->max_body_bytes && h->content_length > 0 &&
      (uint64_t)h->content_length > p->limits->max_body_bytes) {
    p->error_status = 413;
    return -1;
  }
  int rc = p->cbs->on_head(p->owner, h);
  if (rc < 0) {
    p->aborted = 1;
    return -1;
  }
  if (p->kind == HTTP_PARSE_RESPONSE && p->head_response) return 1;
  return rc == 1 ? 1 : 0;
}

static int ll_on_body(llhttp_t *ll, const char *at, size_t n) {
  struct http_parser *p = ll->data;
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

static int ll_on_message_complete(llhttp_t *ll) {
  struct http_parser *p = ll->data;
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
  free(p->hdrs);
  free(p);
}

void http_parser_reset(struct http_parser *p) {
  llhttp_reset(&p->ll);
  p->phase = PHASE_HEAD;
  p->eoh = 0;
  p->body_bytes = 0;
  p->head_response = p->message_done = p->aborted = 0;
  p->error_status = p->error_code = 0;
  p->error_reason = NULL;
  buf_reset(&p->raw);
}

void http_parser_expect_head_response(struct http_parser *p, int head) { p->head_response = head ? 1 : 0; }

int http_parser_idle(const struct http_parser *p) { return p->phase == PHASE_HEAD && p->raw.len == 0; }

uint64_t http_parser_body_bytes(const struct http_parser *p) { return p->body_bytes; }

int http_parser_error_status(const struct http_parser *p) { return p->error_status; }
const char *http_parser_error_reason(const struct http_parser *p) { return p->error_reason ? p->error_reason : ""; }
int http_parser_error_code(const struct http_parser *p) { return p->error_code; }

/* Feeds llhttp and translates its verdict. *used gets the bytes llhttp consumed. */
static int run_llhttp(struct http_parser *p, const char *data, size_t n, size_t *used) {
  p->message_done = 0;
  enum llhttp_errno err = llhttp_execute(&p->ll, data, n);
  if (err == HPE_OK) {
    *used = n;
    return HTTP_PARSE_OK;
  }
  if (err == HPE_PAUSED && p->message_done) {
    *used = (size_t)(llhttp_get_error_pos(&p->ll) - data);
    llhttp_resume(&p->ll);
    p->phase = PHASE_HEAD;
    buf_reset(&p->raw);
    return HTTP_PARSE_DONE;
  }
  *used = 0;
  if (p->aborted) {
    p->phase = PHASE_DEAD;
    return HTTP_PARSE_ABORTED;
  }
  if (p->error_status == 413) return fail(p, 413, 0, "body larger than the limit");
  const char *reason = llhttp_get_error_reason(&p->ll);
  return fail(p, 400, 0, reason ? reason : llhttp_errno_name(err));
}

/* Accumulates head bytes; returns OK with *complete set once the empty line that ends the
 * head has arrived (*used bytes of data were taken), or an error. */
static int take_head(struct http_parser *p, const char *data, size_t n, size_t *used, int *complete) {
  size_t i = 0;
  *complete = 0;
  /* RFC 9112 2.2: a server SHOULD ignore at least one empty line before a request-line. */
  while (p->raw.len == 0 && i + 1 < n && data[i] == '\r' && data[i + 1] == '\n') i += 2;
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
      if (sc != STRICT_OK)
        return fail(p, sc == STRICT_TOO_MANY_HEADERS ? 431 : 400, sc, http_strict_reason(sc));
      p->phase = PHASE_BODY;
      size_t hused;
      rc = run_llhttp(p, p->raw.data, p->raw.len, &hused);
      if (rc == HTTP_PARSE_DONE) {
        /* A message without a body ends with its head. */
        return HTTP_PARSE_DONE;
      }
      if (rc != HTTP_PARSE_OK) return rc;
      continue;
    }
    size_t used = 0;
    int rc = run_llhttp(p, data + off, n - off, &used);
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
    case PHASE_BODY: {
      p->message_done = 0;
      enum llhttp_errno err = llhttp_finish(&p->ll);
      if ((err == HPE_OK || err == HPE_PAUSED) && p->message_done) {
        p->phase = PHASE_HEAD;
        buf_reset(&p->raw);
        return HTTP_PARSE_DONE;
      }
      return fail(p, 400, 0, "connection closed inside a message body");
    }
  }
  return HTTP_PARSE_ERROR;
}
