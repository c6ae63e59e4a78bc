/* RFC 9112 head validation ahead of llhttp: see http_strict.h.
 *
 * The rules, with their sources:
 *  - start line: method SP request-target SP HTTP-version CRLF (RFC 9112 section 3); the version
 *    must be HTTP/1.0 or HTTP/1.1; HTTP/0.9 (no version) and RTSP/ICE are refused.
 *  - field lines: field-name ":" OWS field-value OWS CRLF (section 5); no whitespace between
 *    name and colon (5.1: "MUST reject"), no obs-fold (5.2: reject or replace; a proxy rejects),
 *    no bare CR anywhere (2.2), lines end in CRLF (llhttp 9.4.2 strict mode).
 *  - framing (section 6): Content-Length with Transfer-Encoding is refused rather than
 *    resolved (6.3 allows "MUST close after", refusing is the smuggling-safe choice), repeated
 *    or non-numeric Content-Length is refused, and chunked is the only transfer coding passed.
 *  - Host (RFC 9112 3.2): exactly one in HTTP/1.1 requests.
 *  - chunked bodies (section 7.1): chunk-size lines and trailer sections as llhttp 9.4.2 reads
 *    them in strict mode; llhttp 8.1.0 both refuses valid extensions ("5;a=b;c") and is laxer
 *    elsewhere, and where parsers disagree on a chunk line, smuggling follows.
 */
#include "mesh/http_strict.h"

#include <string.h>

static const char *const reasons[STRICT_CODE_COUNT] = {
    [STRICT_OK] = "ok",
    [STRICT_BAD_REQUEST_LINE] = "malformed request line",
    [STRICT_BAD_METHOD] = "invalid method",
    [STRICT_METHOD_NOT_ALLOWED] = "method not passed by a proxy",
    [STRICT_BAD_TARGET] = "invalid request target",
    [STRICT_BAD_VERSION] = "malformed HTTP version",
    [STRICT_UNSUPPORTED_VERSION] = "unsupported protocol version",
    [STRICT_BAD_STATUS_LINE] = "malformed status line",
    [STRICT_BARE_CR] = "bare CR",
    [STRICT_BARE_LF] = "line ends in LF without CR",
    [STRICT_OBS_FOLD] = "obs-fold in header line",
    [STRICT_EMPTY_HEADER_NAME] = "empty header name",
    [STRICT_BAD_HEADER_NAME] = "invalid character in header name",
    [STRICT_SPACE_BEFORE_COLON] = "whitespace between header name and colon",
    [STRICT_BAD_HEADER_VALUE] = "invalid character in header value",
    [STRICT_TOO_MANY_HEADERS] = "too many headers",
    [STRICT_BAD_CONTENT_LENGTH] = "invalid Content-Length",
    [STRICT_REPEATED_CONTENT_LENGTH] = "repeated Content-Length",
    [STRICT_CONTENT_LENGTH_WITH_TE] = "Content-Length with Transfer-Encoding",
    [STRICT_BAD_TRANSFER_ENCODING] = "Transfer-Encoding other than chunked",
    [STRICT_TE_IN_HTTP10] = "Transfer-Encoding in an HTTP/1.0 message",
    [STRICT_MISSING_HOST] = "HTTP/1.1 request without Host",
    [STRICT_REPEATED_HOST] = "repeated Host",
    [STRICT_BAD_CHUNK_SIZE] = "invalid chunk size",
    [STRICT_BAD_CHUNK_EXTENSION] = "invalid chunk extension",
    [STRICT_BAD_CHUNK_END] = "chunk data not followed by CRLF",
    [STRICT_FRAMING_IN_TRAILER] = "Content-Length or Transfer-Encoding in trailers",
    [STRICT_DATA_AFTER_CLOSE] = "data after Connection: close",
};

const char *http_strict_reason(enum http_strict_code code) {
  if (code < 0 || code >= STRICT_CODE_COUNT) return "invalid message";
  return reasons[code];
}

/* Exactly the rejections docs/http-strictness.md lists as going beyond llhttp 9.4.2. Every code
 * is named (no default), so a new code does not compile under -Werror until it is classified. */
int http_strict_is_extra(enum http_strict_code code) {
  switch (code) {
  case STRICT_METHOD_NOT_ALLOWED:      /* CONNECT, PRI, RTSP and ICE methods */
  case STRICT_UNSUPPORTED_VERSION:     /* HTTP/0.9, HTTP/2.0 and other versions, RTSP, ICE */
  case STRICT_REPEATED_CONTENT_LENGTH: /* even when the values are equal */
  case STRICT_BAD_TRANSFER_ENCODING:   /* anything but one `chunked` */
  case STRICT_TE_IN_HTTP10:
  case STRICT_MISSING_HOST:
  case STRICT_REPEATED_HOST:
    return 1;
  case STRICT_OK:
  case STRICT_BAD_REQUEST_LINE:
  case STRICT_BAD_METHOD:
  case STRICT_BAD_TARGET:
  case STRICT_BAD_VERSION:
  case STRICT_BAD_STATUS_LINE:
  case STRICT_BARE_CR:
  case STRICT_BARE_LF:
  case STRICT_OBS_FOLD:
  case STRICT_EMPTY_HEADER_NAME:
  case STRICT_BAD_HEADER_NAME:
  case STRICT_SPACE_BEFORE_COLON:
  case STRICT_BAD_HEADER_VALUE:
  case STRICT_TOO_MANY_HEADERS:
  case STRICT_BAD_CONTENT_LENGTH:
  case STRICT_CONTENT_LENGTH_WITH_TE:
  case STRICT_BAD_CHUNK_SIZE:
  case STRICT_BAD_CHUNK_EXTENSION:
  case STRICT_BAD_CHUNK_END:
  case STRICT_FRAMING_IN_TRAILER:
  case STRICT_DATA_AFTER_CLOSE:
  case STRICT_CODE_COUNT:
    return 0;
  }
  return 0;
}

static int is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar = VCHAR / obs-text, plus SP and HTAB inside a value. */
static int is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* Methods llhttp 9.4.2 accepts with an HTTP/1.x version, minus those a proxy must not pass:
 * CONNECT (meshlab does not tunnel) and PRI (the HTTP/2 preface). RTSP and ICE methods are
 * absent because their protocols are. */
static const char *const methods[] = {
    "DELETE", "GET",    "HEAD",       "POST",      "PUT",    "OPTIONS",  "TRACE",  "COPY",      "LOCK",
    "MKCOL",  "MOVE",   "PROPFIND",   "PROPPATCH", "SEARCH", "UNLOCK",   "BIND",   "REBIND",    "UNBIND",
    "ACL",    "REPORT", "MKACTIVITY", "CHECKOUT",  "MERGE",  "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
    "PATCH",  "PURGE",  "MKCALENDAR", "LINK",      "UNLINK", "QUERY",
};
static const char *const refused_methods[] = {
    "CONNECT", "PRI",      "SOURCE",        "DESCRIBE",      "ANNOUNCE", "SETUP",  "PLAY",
    "PAUSE",   "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER", "REDIRECT", "RECORD", "FLUSH",
};

static enum http_strict_code check_method(const char *p, size_t n) {
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (strlen(methods[i]) == n && memcmp(methods[i], p, n) == 0) return STRICT_OK;
  for (size_t i = 0; i < sizeof refused_methods / sizeof refused_methods[0]; i++)
    if (strlen(refused_methods[i]) == n && memcmp(refused_methods[i], p, n) == 0) return STRICT_METHOD_NOT_ALLOWED;
  return STRICT_BAD_METHOD;
}

/* "HTTP/1.1" at p (8 bytes): returns STRICT_OK and sets *minor, or a code. */
static enum http_strict_code parse_version(const char *p, size_t n, int *minor) {
  if (n >= 5 && (memcmp(p, "RTSP/", 5) == 0)) return STRICT_UNSUPPORTED_VERSION;
  if (n >= 4 && memcmp(p, "ICE/", 4) == 0) return STRICT_UNSUPPORTED_VERSION;
  if (n != 8 || memcmp(p, "HTTP/", 5) != 0) return STRICT_BAD_VERSION;
  if (p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9') return STRICT_BAD_VERSION;
  if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) return STRICT_UNSUPPORTED_VERSION;
  *minor = p[7] - '0';
  return STRICT_OK;
}

static enum http_strict_code parse_request_line(const char *p, size_t n, struct http_head *h) {
  size_t i = 0;
  while (i < n && is_tchar((unsigned char)p[i])) i++;
  if (i == 0 || i >= n || p[i] != ' ') {
    /* A method with a character outside tchar, or nothing after it. */
    return i == 0 || (i < n && p[i] != ' ') ? STRICT_BAD_METHOD : STRICT_BAD_REQUEST_LINE;
  }
  h->method = (struct slice){p, i};
  enum http_strict_code rc = check_method(p, i);
  if (rc != STRICT_OK) return rc;
  size_t t = ++i;
  while (i < n && p[i] != ' ') {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c >= 0x7f) return STRICT_BAD_TARGET;
    i++;
  }
  if (i == t) return STRICT_BAD_TARGET;
  h->target = (struct slice){p + t, i - t};
  if (i >= n) return STRICT_UNSUPPORTED_VERSION; /* HTTP/0.9: "GET /" with no version */
  i++;
  rc = parse_version(p + i, n - i, &h->minor);
  if (rc != STRICT_OK) return rc;
  /* request-target forms (RFC 9112 3.2): origin-form, absolute-form, or asterisk-form "*".
   * RFC 9112 3.2.4 uses "*" only for a server-wide OPTIONS, but llhttp 9.4.2 takes it with any
   * method (SSDP sends "M-SEARCH * HTTP/1.1"), and nothing about framing depends on it (a
   * route never matches "*"), so meshlab accepts it too rather than list one more refusal. */
  char first = h->target.p[0];
  if (first == '*') {
    if (h->target.n != 1) return STRICT_BAD_TARGET;
  } else if (first != '/') {
    const char *colon = memchr(h->target.p, ':', h->target.n);
    if (!colon || colon == h->target.p) return STRICT_BAD_TARGET;
    for (const char *s = h->target.p; s < colon; s++)
      if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
            (s > h->target.p && ((*s >= '0' && *s <= '9') || *s == '+' || *s == '-' || *s == '.'))))
        return STRICT_BAD_TARGET;
  }
  return STRICT_OK;
}

static enum http_strict_code parse_status_line(const char *p, size_t n, struct http_head *h) {
  if (n < 12)
    return n >= 8 && parse_version(p, 8, &h->minor) == STRICT_UNSUPPORTED_VERSION ? STRICT_UNSUPPORTED_VERSION
                                                                                  : STRICT_BAD_STATUS_LINE;
  enum http_strict_code rc = parse_version(p, 8, &h->minor);
  if (rc != STRICT_OK) return rc == STRICT_BAD_VERSION ? STRICT_BAD_STATUS_LINE : rc;
  if (p[8] != ' ') return STRICT_BAD_STATUS_LINE;
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (p[i] < '0' || p[i] > '9') return STRICT_BAD_STATUS_LINE;
    status = status * 10 + (p[i] - '0');
  }
  if (status < 100) return STRICT_BAD_STATUS_LINE;
  h->status = status;
  if (n == 12) {
    h->reason = (struct slice){p + 12, 0};
    return STRICT_OK;
  }
  if (p[12] != ' ') return STRICT_BAD_STATUS_LINE;
  for (size_t i = 13; i < n; i++)
    if (!is_value_char((unsigned char)p[i])) return STRICT_BAD_STATUS_LINE;
  h->reason = (struct slice){p + 13, n - 13};
  return STRICT_OK;
}

enum http_strict_code http_strict_head_byte(char prev, char c) {
  if (prev == '\r' && c != '\n') return STRICT_BARE_CR;
  if (c == '\n' && prev != '\r') return STRICT_BARE_LF;
  return STRICT_OK;
}

static int parse_content_length(struct slice v, int64_t *out) {
  if (v.n == 0 || v.n > 18) return -1;
  int64_t x = 0;
  for (size_t i = 0; i < v.n; i++) {
    if (v.p[i] < '0' || v.p[i] > '9') return -1;
    x = x * 10 + (v.p[i] - '0');
  }
  *out = x;
  return 0;
}

/* Framing and Host rules over the parsed header list. */
static enum http_strict_code check_semantics(struct http_head *h) {
  int n_cl = 0, n_te = 0, n_host = 0;
  h->content_length = -1;
  h->chunked = 0;
  for (size_t i = 0; i < h->nheaders; i++) {
    struct http_header *hd = &h->headers[i];
    if (slice_eq_str_nocase(hd->name, "content-length")) {
      if (++n_cl > 1) return STRICT_REPEATED_CONTENT_LENGTH;
      if (parse_content_length(hd->value, &h->content_length) != 0)
        return memchr(hd->value.p, ',', hd->value.n) ? STRICT_REPEATED_CONTENT_LENGTH : STRICT_BAD_CONTENT_LENGTH;
    } else if (slice_eq_str_nocase(hd->name, "transfer-encoding")) {
      if (++n_te > 1 || !slice_eq_str_nocase(hd->value, "chunked")) return STRICT_BAD_TRANSFER_ENCODING;
      h->chunked = 1;
    } else if (h->is_request && slice_eq_str_nocase(hd->name, "host")) {
      if (++n_host > 1) return STRICT_REPEATED_HOST;
    }
  }
  if (n_cl && n_te) return STRICT_CONTENT_LENGTH_WITH_TE;
  if (n_te && h->minor == 0) return STRICT_TE_IN_HTTP10;
  if (h->is_request && h->minor == 1 && n_host == 0) return STRICT_MISSING_HOST;
  return STRICT_OK;
}

/* One field line s[0..len) (without its CRLF): field-name ":" OWS field-value OWS (RFC 9112
 * section 5). Fills *out with the name and the value without its surrounding whitespace. */
static enum http_strict_code parse_field_line(const char *s, size_t len, struct http_header *out) {
  /* A line starting with whitespace continues the previous one: obs-fold, which a proxy
   * rejects (5.2); right after the start line it is llhttp 9.4.2's "unexpected space". */
  if (len && (s[0] == ' ' || s[0] == '\t')) return STRICT_OBS_FOLD;
  size_t i = 0;
  while (i < len && s[i] != ':') {
    if (s[i] == ' ' || s[i] == '\t') return STRICT_SPACE_BEFORE_COLON;
    if (!is_tchar((unsigned char)s[i])) return STRICT_BAD_HEADER_NAME;
    i++;
  }
  if (i == len) return i == 0 ? STRICT_EMPTY_HEADER_NAME : STRICT_BAD_HEADER_NAME;
  if (i == 0) return STRICT_EMPTY_HEADER_NAME;
  size_t vs = i + 1, ve = len;
  for (size_t k = vs; k < ve; k++)
    if (!is_value_char((unsigned char)s[k])) return STRICT_BAD_HEADER_VALUE;
  while (vs < ve && (s[vs] == ' ' || s[vs] == '\t')) vs++;
  while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t')) ve--;
  *out = (struct http_header){{s, i}, {s + vs, ve - vs}};
  return STRICT_OK;
}

enum http_strict_code http_strict_parse_head(const char *p, size_t n, int is_request, struct http_head *out,
                                             size_t max_headers) {
  out->is_request = is_request;
  out->nheaders = 0;
  out->status = 0;
  /* Every line must end in CRLF and no CR may stand alone. */
  for (size_t i = 0; i < n; i++) {
    enum http_strict_code rc = http_strict_head_byte(i ? p[i - 1] : 0, p[i]);
    if (rc != STRICT_OK) return rc;
  }
  if (n < 4 || memcmp(p + n - 4, "\r\n\r\n", 4) != 0) return STRICT_BAD_REQUEST_LINE;
  const char *eol = memchr(p, '\r', n);
  size_t line_len = (size_t)(eol - p);
  enum http_strict_code rc = is_request ? parse_request_line(p, line_len, out) : parse_status_line(p, line_len, out);
  if (rc != STRICT_OK) return rc;
  const char *s = eol + 2, *end = p + n - 2; /* end: the final CRLF */
  while (s < end) {
    eol = memchr(s, '\r', (size_t)(end - s));
    struct http_header hd;
    rc = parse_field_line(s, (size_t)(eol - s), &hd);
    if (rc != STRICT_OK) return rc;
    if (out->nheaders >= max_headers) return STRICT_TOO_MANY_HEADERS;
    out->headers[out->nheaders++] = hd;
    s = eol + 2;
  }
  return check_semantics(out);
}

enum http_strict_code http_strict_check_trailers(const char *p, size_t n, int is_request) {
  for (size_t i = 0; i < n; i++) {
    enum http_strict_code rc = http_strict_head_byte(i ? p[i - 1] : 0, p[i]);
    if (rc != STRICT_OK) return rc;
  }
  if (n < 2 || memcmp(p + n - 2, "\r\n", 2) != 0 || (n > 2 && (n < 4 || memcmp(p + n - 4, "\r\n\r\n", 4) != 0)))
    return STRICT_BAD_HEADER_NAME;
  const char *s = p, *end = p + n - 2; /* end: the empty line */
  while (s < end) {
    const char *eol = memchr(s, '\r', (size_t)(end - s));
    struct http_header hd;
    enum http_strict_code rc = parse_field_line(s, (size_t)(eol - s), &hd);
    if (rc != STRICT_OK) return rc;
    if (slice_eq_str_nocase(hd.name, "content-length") ||
        (is_request && slice_eq_str_nocase(hd.name, "transfer-encoding")))
      return STRICT_FRAMING_IN_TRAILER;
    s = eol + 2;
  }
  return STRICT_OK;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* qdtext (RFC 9110 section 5.6.4): HTAB, SP, "!", %x23-5B, %x5D-7E, obs-text. */
static int is_qdtext(unsigned char c) {
  return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/* A quoted-pair's second byte: HTAB, SP, VCHAR, obs-text. */
static int is_quoted_pair_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* Where the line goes after a byte that may end an extension: ';' starts the next one, CR
 * ends the line, LF alone is a bare LF; anything else breaks the grammar. */
static enum http_strict_code chunk_ext_end(struct http_chunk_line *line, char c) {
  if (c == ';') line->state = CHUNK_LINE_EXT_START;
  else if (c == '\r') line->state = CHUNK_LINE_LF;
  else return c == '\n' ? STRICT_BARE_LF : STRICT_BAD_CHUNK_EXTENSION;
  return STRICT_OK;
}

enum http_strict_code http_strict_chunk_line_byte(struct http_chunk_line *line, char c) {
  unsigned char u = (unsigned char)c;
  int hex = hex_value(c);
  switch (line->state) {
  case CHUNK_LINE_SIZE_FIRST:
    if (hex < 0) return STRICT_BAD_CHUNK_SIZE;
    line->size = (uint64_t)hex;
    line->state = CHUNK_LINE_SIZE;
    return STRICT_OK;
  case CHUNK_LINE_SIZE:
    if (hex >= 0) {
      if (line->size > (UINT64_MAX >> 4)) return STRICT_BAD_CHUNK_SIZE; /* overflow */
      line->size = (line->size << 4) | (uint64_t)hex;
      return STRICT_OK;
    }
    /* No whitespace after the size (9.4.2 strict; "1 \r\n" splits parsers apart). */
    if (c == ';' || c == '\r') return chunk_ext_end(line, c);
    return c == '\n' ? STRICT_BARE_LF : STRICT_BAD_CHUNK_SIZE;
  case CHUNK_LINE_EXT_START:
    /* 9.4.2 allows an empty name (";;", ";=v") but no space or line end right after ';'. */
    if (c == ' ' || c == '\r') return STRICT_BAD_CHUNK_EXTENSION;
    line->state = CHUNK_LINE_EXT_NAME;
    /* fall through - this byte belongs to the name */
  case CHUNK_LINE_EXT_NAME:
    if (is_tchar(u)) return STRICT_OK;
    if (c == '=') {
      line->state = CHUNK_LINE_EXT_VALUE;
      return STRICT_OK;
    }
    return chunk_ext_end(line, c);
  case CHUNK_LINE_EXT_VALUE:
    if (is_tchar(u)) return STRICT_OK;
    if (c == '"') {
      line->state = CHUNK_LINE_EXT_QUOTED;
      return STRICT_OK;
    }
    return chunk_ext_end(line, c);
  case CHUNK_LINE_EXT_QUOTED:
    if (c == '"') line->state = CHUNK_LINE_EXT_QUOTED_DONE;
    else if (c == '\\') line->state = CHUNK_LINE_EXT_QUOTED_PAIR;
    else if (!is_qdtext(u)) return STRICT_BAD_CHUNK_EXTENSION;
    return STRICT_OK;
  case CHUNK_LINE_EXT_QUOTED_PAIR:
    if (!is_quoted_pair_char(u)) return STRICT_BAD_CHUNK_EXTENSION;
    line->state = CHUNK_LINE_EXT_QUOTED;
    return STRICT_OK;
  case CHUNK_LINE_EXT_QUOTED_DONE:
    return chunk_ext_end(line, c);
  case CHUNK_LINE_LF:
    if (c != '\n') return STRICT_BARE_CR;
    line->state = CHUNK_LINE_DONE;
    return STRICT_OK;
  case CHUNK_LINE_DONE:
    return STRICT_BAD_CHUNK_SIZE; /* the caller starts a new line first */
  }
  return STRICT_BAD_CHUNK_SIZE;
}
