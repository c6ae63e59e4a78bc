/* llhttp 9.4.2's own fixtures against meshlab's parser (mesh/http.c behind mesh/http_strict.c).
 *
 * Every *.md under request/ and response/ of ../shared/conformance/llhttp-v9.4.2 is read in
 * place (never copied); each case's raw input is decoded the way llhttp's own harness
 * (test/md-test.ts) decodes it, checked against the offsets in its expected log, fed to an
 * http_parser, and our verdict is compared with the one 9.4.2's log records:
 *
 *  - 9.4.2 rejects when its log has an `error code=` line (possibly after one or more
 *    pipelined messages completed) or, for the `-finish` types, `finish=2` (llhttp_finish in
 *    an unsafe state returns HPE_INVALID_EOF_STATE); otherwise it accepts. Codes 22 and 23
 *    (HPE_PAUSED_UPGRADE, HPE_PAUSED_H2_UPGRADE) are not refusals: 9.4.2 hands the connection
 *    to another protocol there, so we compare the input up to that offset.
 *  - Accepted: we must finish without error, completing as many messages as 9.4.2 did (a
 *    different count means the two parsers framed the stream differently, which is how
 *    request smuggling starts). Rejected: we must return HTTP_PARSE_ERROR at some point (the
 *    -finish types call http_parser_finish at the end of input).
 *  - A case 9.4.2 accepts and we reject passes only when our code is one of the documented
 *    extra rejections (http_strict_is_extra, docs/http-strictness.md); each is printed.
 *  - Cases of a lenient type (they switch on 9.4.2 leniency flags meshlab never has) and
 *    cases that pause the parser from a callback are skipped, with that reason printed.
 *
 * Two reruns keep the comparison honest. Most request fixtures are HTTP/1.1 without Host,
 * which meshlab refuses before judging anything else: such a case is run again with a Host
 * line added, and that verdict must agree with 9.4.2's too. And 9.4.2 refuses a head at the
 * byte that breaks it, while meshlab judges a head once it is whole: when 9.4.2 rejects and
 * the input stops inside a head, the head is ended (CRLF CRLF) and we must reject then.
 *
 * Like llhttp's harness, a case without noScan is also fed one byte at a time, and that run
 * must reach the same verdict: a proxy reads whatever segmentation TCP hands it.
 * MESHLAB_FIXTURES_VERBOSE=1 also prints each case both reject, with both reasons.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

#include "mesh/buf.h"
#include "mesh/http.h"
#include "mesh/http_strict.h"
#include "support/test.h"

/* One case of a fixture file. */
struct fixture {
  char title[200];
  int line;         /* of the ```http fence, for messages */
  char type[64];    /* meta "type" */
  char pause[64];   /* meta "pause", empty when absent */
  int skip_body;    /* meta "skipBody" */
  int no_scan;      /* meta "noScan" */
  struct buf input; /* the decoded bytes */
  struct buf log;   /* the expected events, '\n'-separated */
};

/* What one parser made of a case. */
struct verdict {
  int rejected;
  int completed; /* messages completed before the verdict */
  int code;      /* 9.4.2: llhttp errno; ours: enum http_strict_code (0: llhttp 8.1.0 refused) */
  char reason[160];
  /* 9.4.2 only: it paused for a protocol switch (HPE_PAUSED_*UPGRADE) at input offset switch_off */
  int switched;
  size_t switch_off;
  /* ours only */
  int mid_head;    /* input ended inside a head, with no verdict yet */
  size_t fail_off; /* where the execute call that failed started */
};

/* Per-file tallies for the summary line. */
struct tally {
  int cases, skipped, matched, documented, failed;
};

/* The first occurrence of needle[0..m) in p[0..n), or NULL (memmem is a GNU extension). */
static const char *find_bytes(const char *p, size_t n, const char *needle, size_t m) {
  for (size_t i = 0; m <= n && i <= n - m; i++)
    if (memcmp(p + i, needle, m) == 0) return p + i;
  return NULL;
}

/* ---- Decoding the ```http block (llhttp test/md-test.ts, in the same order) ---------------
 *
 * The block's lines are joined with '\n' and one trailing newline is dropped; a backslash at
 * the end of a line joins it to the next; every remaining line break becomes CRLF; then the
 * escapes \r \n \t \f, \xHH... and \ooo (1 to 3 octal digits) are replaced, each in its own
 * pass. JavaScript strings are UTF-16 and the harness hands the parser their UTF-8 encoding,
 * so an escape naming a code point of 0x80 or more becomes two or three bytes: "\xff" is
 * C3 BF, as the fixtures' offsets show (sample.md, "255 ASCII in header value": len=8). */

static void put_utf8(struct buf *out, unsigned cp) {
  cp &= 0xffff;                                  /* String.fromCharCode takes the value modulo 2^16 */
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; /* a lone surrogate encodes as U+FFFD */
  char b[3];
  size_t n;
  if (cp < 0x80) {
    b[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3f));
    n = 2;
  } else {
    b[0] = (char)(0xe0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f));
    n = 3;
  }
  buf_append(out, b, n);
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* One replace pass over b: a backslash followed by `letter` becomes `byte`; letter 'x' means
 * \x plus hex digits, letter 'o' means \ plus 1-3 octal digits. */
static void replace_escape(struct buf *b, char letter, char byte) {
  struct buf out = {0};
  size_t i = 0;
  while (i < b->len) {
    char c = b->data[i];
    if (c == '\\' && i + 1 < b->len) {
      char d = b->data[i + 1];
      if (letter == 'x' && d == 'x' && i + 2 < b->len && hex_value(b->data[i + 2]) >= 0) {
        unsigned v = 0;
        size_t k = i + 2;
        for (; k < b->len && hex_value(b->data[k]) >= 0; k++)
          v = ((v << 4) | (unsigned)hex_value(b->data[k])) & 0xffffff;
        put_utf8(&out, v);
        i = k;
        continue;
      }
      if (letter == 'o' && d >= '0' && d <= '7') {
        unsigned v = 0;
        size_t k = i + 1;
        for (; k < b->len && k < i + 4 && b->data[k] >= '0' && b->data[k] <= '7'; k++)
          v = v * 8 + (unsigned)(b->data[k] - '0');
        put_utf8(&out, v);
        i = k;
        continue;
      }
      if (letter != 'x' && letter != 'o' && d == letter) {
        buf_append(&out, &byte, 1);
        i += 2;
        continue;
      }
    }
    buf_append(&out, &c, 1);
    i++;
  }
  buf_free(b);
  *b = out;
}

/* Decodes the block's text (its lines, each ending in '\n') into raw bytes. Returns 0, or -1
 * when the block uses inline JavaScript (`${...}`), which this harness cannot evaluate. */
static int fixture_decode(const char *text, size_t n, struct buf *out) {
  struct buf b = {0};
  if (n && text[n - 1] == '\n') n--; /* "Remove trailing newline" */
  for (size_t i = 0; i < n; i++) {
    if (text[i] == '\\' && i + 1 < n && text[i + 1] == '\n') { /* "Remove escaped newlines" */
      i++;
      continue;
    }
    if (text[i] == '\n') buf_append(&b, "\r\n", 2); /* "Normalize all newlines" */
    else buf_append(&b, &text[i], 1);
  }
  if (b.len && find_bytes(b.data, b.len, "${", 2)) {
    buf_free(&b);
    return -1;
  }
  replace_escape(&b, 'r', '\r');
  replace_escape(&b, 'n', '\n');
  replace_escape(&b, 't', '\t');
  replace_escape(&b, 'f', '\f');
  replace_escape(&b, 'x', 0);
  replace_escape(&b, 'o', 0);
  *out = b;
  return 0;
}

/* ---- Reading a fixture file ------------------------------------------------------------- */

/* The value of "key" in the meta JSON, as a string ("" when absent); true/false come back as
 * "true"/"false". The meta objects are flat and small, so a scan is enough. */
static void meta_get(const char *meta, const char *key, char *out, size_t cap) {
  char quoted[64];
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  out[0] = 0;
  const char *k = strstr(meta, quoted);
  if (!k) return;
  k += strlen(quoted);
  while (*k == ' ' || *k == ':') k++;
  size_t n = 0;
  if (*k == '"') {
    for (k++; *k && *k != '"' && n + 1 < cap; k++) out[n++] = *k;
  } else {
    for (; *k && *k != ',' && *k != '}' && *k != ' ' && n + 1 < cap; k++) out[n++] = *k;
  }
  out[n] = 0;
}

/* Parses a fixture file into cases: a heading names the case, a `<!-- meta={...} -->` line
 * gives its type and options, then a ```http block and a ```log block. Returns the number of
 * cases (owned array in *out) or -1 on a malformed file (failure already reported). */
static int fixture_parse(const char *name, const char *text, struct fixture **out) {
  struct fixture *cases = NULL;
  int ncases = 0, cap = 0;
  char title[200] = "", meta[256] = "";
  struct buf http = {0};
  int have_http = 0, http_line = 0, lineno = 0;
  const char *s = text;
  while (*s) {
    const char *e = strchr(s, '\n');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    lineno++;
    if (len >= 3 && memcmp(s, "```", 3) == 0 && len > 3) {
      int is_http = len == 7 && memcmp(s, "```http", 7) == 0;
      int is_log = len == 6 && memcmp(s, "```log", 6) == 0;
      int fence_line = lineno;
      struct buf block = {0};
      s = e ? e + 1 : s + len;
      /* The block runs to the closing fence; its lines keep their '\n'. */
      for (;;) {
        if (!*s) {
          test_fail(__FILE__, __LINE__, "%s:%d: unterminated code block", name, fence_line);
          buf_free(&block);
          buf_free(&http);
          goto fail;
        }
        const char *be = strchr(s, '\n');
        size_t blen = be ? (size_t)(be - s) : strlen(s);
        lineno++;
        if (blen == 3 && memcmp(s, "```", 3) == 0) {
          s = be ? be + 1 : s + blen;
          break;
        }
        buf_append(&block, s, blen);
        buf_append(&block, "\n", 1);
        s = be ? be + 1 : s + blen;
      }
      if (is_http) {
        buf_free(&http);
        http = block;
        have_http = 1;
        http_line = fence_line;
      } else if (is_log) {
        if (!have_http || !meta[0]) {
          test_fail(__FILE__, __LINE__, "%s:%d: log block without an http block and meta", name, fence_line);
          buf_free(&block);
          buf_free(&http);
          goto fail;
        }
        if (ncases == cap) {
          cap = cap ? cap * 2 : 32;
          struct fixture *grown = realloc(cases, (size_t)cap * sizeof *cases);
          if (!grown) abort();
          cases = grown;
        }
        struct fixture *fx = &cases[ncases];
        memset(fx, 0, sizeof *fx);
        snprintf(fx->title, sizeof fx->title, "%s", title);
        fx->line = http_line;
        char v[16];
        meta_get(meta, "type", fx->type, sizeof fx->type);
        meta_get(meta, "pause", fx->pause, sizeof fx->pause);
        meta_get(meta, "skipBody", v, sizeof v);
        fx->skip_body = strcmp(v, "true") == 0;
        meta_get(meta, "noScan", v, sizeof v);
        fx->no_scan = strcmp(v, "true") == 0;
        fx->log = block;
        if (fixture_decode(http.data, http.len, &fx->input) != 0) {
          test_fail(__FILE__, __LINE__, "%s:%d \"%s\": inline JavaScript in the input is not supported", name,
                    http_line, title);
          buf_free(&fx->log);
          buf_free(&http);
          goto fail;
        }
        ncases++;
        buf_free(&http);
        have_http = 0;
        meta[0] = 0;
      } else {
        buf_free(&block);
      }
      continue;
    }
    if (len && s[0] == '#') {
      size_t i = 0;
      while (i < len && s[i] == '#') i++;
      while (i < len && s[i] == ' ') i++;
      snprintf(title, sizeof title, "%.*s", (int)(len - i), s + i);
    } else {
      const char *m = find_bytes(s, len, "<!-- meta=", 10);
      if (m) {
        const char *close = find_bytes(m, len - (size_t)(m - s), "-->", 3);
        size_t mlen = close ? (size_t)(close - m) - 10 : len - (size_t)(m - s) - 10;
        snprintf(meta, sizeof meta, "%.*s", (int)mlen, m + 10);
      }
    }
    s = e ? e + 1 : s + len;
  }
  buf_free(&http);
  *out = cases;
  return ncases;
fail:
  for (int i = 0; i < ncases; i++) {
    buf_free(&cases[i].input);
    buf_free(&cases[i].log);
  }
  free(cases);
  return -1;
}

/* ---- 9.4.2's verdict, from the expected log -------------------------------------------- */

/* Reads the log: `off=N error code=C reason="..."` ends the run rejected; each
 * `message complete` before it counts; `off=NULL finish=F` is the state llhttp_finish saw
 * (0 safe, 1 safe and completes a message, 2 unsafe: HPE_INVALID_EOF_STATE).
 *
 * Two "errors" are not refusals: HPE_PAUSED_UPGRADE (22, "Pause on CONNECT/Upgrade") and
 * HPE_PAUSED_H2_UPGRADE (23, "Pause on PRI/Upgrade") are how llhttp hands the connection over
 * to another protocol (after Connection: upgrade, a 101 response or CONNECT; on the HTTP/2
 * preface). Everything up to that offset was accepted; the bytes after it are not HTTP/1 for
 * 9.4.2, so the comparison stops there. */
#define LLHTTP_PAUSED_UPGRADE 22
#define LLHTTP_PAUSED_H2_UPGRADE 23

static void expected_verdict(const struct fixture *fx, struct verdict *v) {
  memset(v, 0, sizeof *v);
  const char *s = fx->log.data, *end = fx->log.data + fx->log.len;
  while (s < end) {
    const char *e = memchr(s, '\n', (size_t)(end - s));
    size_t len = (size_t)(e - s);
    const char *err = find_bytes(s, len, " error code=", 12);
    if (err) {
      v->code = atoi(err + 12);
      const char *r = find_bytes(s, len, "reason=", 7);
      snprintf(v->reason, sizeof v->reason, "%.*s", r ? (int)(len - (size_t)(r + 7 - s)) : 0, r ? r + 7 : "");
      if (v->code == LLHTTP_PAUSED_UPGRADE || v->code == LLHTTP_PAUSED_H2_UPGRADE) {
        v->switched = 1;
        v->switch_off = strtoul(s + 4, NULL, 10);
      } else {
        v->rejected = 1;
      }
      return;
    }
    if (len >= 16 && memcmp(e - 16, "message complete", 16) == 0) v->completed++;
    if (len > 16 && memcmp(s, "off=NULL finish=", 16) == 0) {
      int f = atoi(s + 16);
      if (f == 1) v->completed++;
      if (f == 2) {
        v->rejected = 1;
        v->code = 14; /* HPE_INVALID_EOF_STATE */
        snprintf(v->reason, sizeof v->reason, "\"Invalid EOF state\" (finish=2)");
        return;
      }
    }
    s = e + 1;
  }
}

/* The decoding check: every `off=N len=L span[...]="text"` line of the log must point inside
 * the decoded input, and, when the text is plain, at exactly those bytes (the log writes tab
 * and form feed as \t and \f). Returns the number of mismatches (each reported). */
static int check_offsets(const char *file, const struct fixture *fx) {
  int bad = 0;
  const char *s = fx->log.data, *end = fx->log.data + fx->log.len;
  while (s < end) {
    const char *e = memchr(s, '\n', (size_t)(end - s));
    size_t len = (size_t)(e - s);
    unsigned long off, n;
    int pos = 0;
    if (sscanf(s, "off=%lu len=%lu span[%*[a-z_.]]=\"%n", &off, &n, &pos) == 2 && pos > 0) {
      /* The span text runs to the line's last quote. */
      const char *t = s + pos, *q = e - 1;
      struct buf want = {0};
      for (const char *c = t; c < q; c++) {
        if (c[0] == '\\' && c + 1 < q && (c[1] == 't' || c[1] == 'f')) {
          buf_append(&want, c[1] == 't' ? "\t" : "\f", 1);
          c++;
        } else {
          buf_append(&want, c, 1);
        }
      }
      if (off + n > fx->input.len || (want.len == n && n && memcmp(fx->input.data + off, want.data, n) != 0)) {
        test_fail(__FILE__, __LINE__, "%s:%d \"%s\": decoded input does not match the log line \"%.*s\"", file,
                  fx->line, fx->title, (int)len, s);
        bad++;
      }
      buf_free(&want);
    } else if (sscanf(s, "off=%lu", &off) == 1 && off > fx->input.len) {
      test_fail(__FILE__, __LINE__, "%s:%d \"%s\": log offset beyond the decoded input (%zu bytes): \"%.*s\"", file,
                fx->line, fx->title, fx->input.len, (int)len, s);
      bad++;
    }
    s = e + 1;
  }
  return bad;
}

/* ---- meshlab's verdict ------------------------------------------------------------------- */

/* What the callbacks see during one run. */
struct run {
  struct verdict *v;
  int heads;
  int skip_body;
};

/* skipBody on a request fixture: llhttp's harness returns 1 from on_headers_complete ("this
 * message has no body"); on_head has the same contract. Otherwise the callbacks return 0. */
static int on_head(void *owner, struct http_head *head) {
  struct run *r = owner;
  (void)head;
  r->heads++;
  return r->skip_body;
}
static int on_body(void *owner, const char *p, size_t n) {
  (void)owner;
  (void)p;
  (void)n;
  return 0;
}
static int on_complete(void *owner) {
  ((struct run *)owner)->v->completed++;
  return 0;
}

static const struct http_parser_cbs cbs = {on_head, on_body, on_complete};
/* Envoy's defaults; no fixture comes near them. */
static const struct http_limits limits = {60 * 1024, 100, 0};

/* How a case is run: the parser kind, whether end of input is reported (-finish types), and
 * skipBody. */
struct mode {
  enum http_parse_kind kind;
  int finish;
  int skip_body;
};

/* Feeds in[0..n) in pieces of at most `step` bytes (0: all at once). After each completed
 * message the rest is fed again, as a proxy answering pipelined requests would. The -finish
 * types then report end of input. Returns 0, or -1 when the parser misbehaved. */
static int run_ours(const char *in, size_t n, const struct mode *m, size_t step, struct verdict *v) {
  memset(v, 0, sizeof *v);
  struct run r = {v, 0, m->kind == HTTP_PARSE_REQUEST && m->skip_body};
  struct http_parser *p = http_parser_new(m->kind, &cbs, &limits, &r);
  if (!p) abort();
  /* skipBody on a response fixture: the response answers a HEAD request. */
  if (m->skip_body && m->kind == HTTP_PARSE_RESPONSE) http_parser_expect_head_response(p, 1);
  size_t off = 0;
  int rc = HTTP_PARSE_OK, stalls = 0;
  while (off < n) {
    size_t len = step && n - off > step ? step : n - off;
    size_t used = 0;
    v->fail_off = off;
    rc = http_parser_execute(p, in + off, len, &used);
    if (rc < 0) break;
    if (used > len || (rc == HTTP_PARSE_OK && used != len) || (rc == HTTP_PARSE_DONE && used == 0 && ++stalls > 2)) {
      http_parser_free(p);
      return -1;
    }
    off += used;
  }
  if (rc >= 0 && m->finish) rc = http_parser_finish(p);
  if (rc == HTTP_PARSE_ABORTED) {
    http_parser_free(p);
    return -1;
  }
  if (rc == HTTP_PARSE_ERROR) {
    v->rejected = 1;
    v->code = http_parser_error_code(p);
    snprintf(v->reason, sizeof v->reason, "%s", http_parser_error_reason(p));
  } else {
    v->mid_head = !http_parser_idle(p) && r.heads == v->completed;
  }
  http_parser_free(p);
  return 0;
}

/* The Host rule hides everything after it: nearly every request fixture is HTTP/1.1 without
 * Host, so meshlab refuses it (a documented extra rejection) before the rest of its head or
 * body is judged. This runs the input again with a Host line added after the request line of
 * each head meshlab refused for lacking one, so the rest is compared with 9.4.2 as well.
 * Returns the number of Host lines added, or -1 when the parser misbehaved. */
static int run_with_host(const char *in, size_t n, const struct mode *m, struct verdict *v) {
  static const char host[] = "Host: fixture.test\r\n";
  struct buf cur = {0};
  buf_append(&cur, in, n);
  int added = 0;
  for (;;) {
    if (run_ours(cur.data, cur.len, m, 0, v) != 0) {
      added = -1;
      break;
    }
    if (!v->rejected || v->code != STRICT_MISSING_HOST || added == 32) break;
    /* The refused head starts where the failing call started, after any empty lines; its
     * request line passed every other check, so it ends at the first CRLF. */
    size_t s = v->fail_off;
    while (s < cur.len && (cur.data[s] == '\r' || cur.data[s] == '\n')) s++;
    const char *eol = find_bytes(cur.data + s, cur.len - s, "\r\n", 2);
    if (!eol) break;
    size_t at = (size_t)(eol - cur.data) + 2;
    struct buf next = {0};
    buf_append(&next, cur.data, at);
    buf_append(&next, host, sizeof host - 1);
    buf_append(&next, cur.data + at, cur.len - at);
    buf_free(&cur);
    cur = next;
    added++;
  }
  buf_free(&cur);
  return added;
}

static void describe(const struct verdict *v, const char *who, char *out, size_t cap) {
  const char *s = v->completed == 1 ? "" : "s";
  if (v->switched)
    snprintf(out, cap, "%s accepts (%d message%s, then switches protocols at offset %zu)", who, v->completed, s,
             v->switch_off);
  else if (!v->rejected)
    snprintf(out, cap, "%s accepts (%d message%s%s)", who, v->completed, s,
             v->mid_head ? ", input ends in a head" : "");
  else if (!strcmp(who, "9.4.2"))
    snprintf(out, cap, "%s rejects (code=%d reason=%s) after %d message%s", who, v->code, v->reason, v->completed, s);
  else snprintf(out, cap, "%s rejects (code=%d: %s) after %d message%s", who, v->code, v->reason, v->completed, s);
}

/* Runs one case and tallies it. */
static void run_case(const char *file, const struct fixture *fx, struct tally *t) {
  t->cases++;
  if (strstr(fx->type, "lenient")) {
    printf("  skip %s:%d \"%s\": lenient type %s (meshlab has no leniency flags)\n", file, fx->line, fx->title,
           fx->type);
    t->skipped++;
    return;
  }
  if (fx->pause[0]) {
    printf("  skip %s:%d \"%s\": pauses in %s (meshlab's callbacks never pause)\n", file, fx->line, fx->title,
           fx->pause);
    t->skipped++;
    return;
  }
  struct mode m = {HTTP_PARSE_REQUEST, 0, fx->skip_body};
  if (!strcmp(fx->type, "request") || !strcmp(fx->type, "request-finish")) m.kind = HTTP_PARSE_REQUEST;
  else if (!strcmp(fx->type, "response") || !strcmp(fx->type, "response-finish")) m.kind = HTTP_PARSE_RESPONSE;
  else {
    test_fail(__FILE__, __LINE__, "%s:%d \"%s\": unknown fixture type \"%s\"", file, fx->line, fx->title, fx->type);
    t->failed++;
    return;
  }
  m.finish = strstr(fx->type, "-finish") != NULL;
  if (check_offsets(file, fx)) {
    t->failed++;
    return;
  }

  struct verdict want, got, eff, scan;
  char a[320], b[320], c[320];
  expected_verdict(fx, &want);
  /* After a protocol switch 9.4.2 reads no more HTTP: compare up to there. */
  size_t n = want.switched ? want.switch_off : fx->input.len;
  if (run_ours(fx->input.data, n, &m, 0, &got) != 0) {
    test_fail(__FILE__, __LINE__, "%s:%d \"%s\": the parser misbehaved (callback abort or no progress)", file, fx->line,
              fx->title);
    t->failed++;
    return;
  }
  describe(&want, "9.4.2", a, sizeof a);
  describe(&got, "meshlab", b, sizeof b);

  /* Fed byte by byte, the parser must come to the same verdict. */
  if (!fx->no_scan) {
    if (run_ours(fx->input.data, n, &m, 1, &scan) != 0 || scan.rejected != got.rejected || scan.code != got.code ||
        scan.completed != got.completed) {
      describe(&scan, "meshlab", c, sizeof c);
      test_fail(__FILE__, __LINE__, "%s:%d \"%s\": fed whole, %s; fed byte by byte, %s", file, fx->line, fx->title, b,
                c);
      t->failed++;
      return;
    }
  }

  /* eff: our verdict on everything but the Host rule, and, when 9.4.2 refused a head the
   * input never finishes, on that head once it is ended. */
  eff = got;
  int hosts = 0, ended = 0;
  if (got.rejected && got.code == STRICT_MISSING_HOST) hosts = run_with_host(fx->input.data, n, &m, &eff);
  if (hosts >= 0 && want.rejected && !eff.rejected && eff.mid_head) {
    /* 9.4.2 refuses a head at the byte that breaks it; meshlab judges a head once it is
     * whole (nothing of it is forwarded before). End the head here and ask again. */
    struct buf ended_in = {0};
    buf_append(&ended_in, fx->input.data, n);
    if (n && fx->input.data[n - 1] == '\r') buf_append(&ended_in, "\n\r\n", 3);
    else buf_append(&ended_in, "\r\n\r\n", 4);
    hosts = run_with_host(ended_in.data, ended_in.len, &m, &eff);
    buf_free(&ended_in);
    ended = 1;
  }
  if (hosts < 0) {
    test_fail(__FILE__, __LINE__, "%s:%d \"%s\": the parser misbehaved (callback abort or no progress)", file, fx->line,
              fx->title);
    t->failed++;
    return;
  }
  describe(&eff, "meshlab", c, sizeof c);

  if (want.rejected) {
    if (eff.rejected) {
      t->matched++;
      if (getenv("MESHLAB_FIXTURES_VERBOSE")) printf("  match %s:%d \"%s\": %s; %s\n", file, fx->line, fx->title, a, c);
      if (ended)
        printf("  note %s:%d \"%s\": %s; meshlab rejects once the head is ended (code=%d: %s)%s\n", file, fx->line,
               fx->title, a, eff.code, eff.reason, hosts ? " with Host added" : "");
      return;
    }
    test_fail(__FILE__, __LINE__, "%s:%d \"%s\": %s; %s%s%s", file, fx->line, fx->title, a, b,
              hosts || ended ? "; " : "", hosts || ended ? c : "");
    t->failed++;
    return;
  }
  if (!got.rejected) {
    if (want.completed != got.completed) {
      test_fail(__FILE__, __LINE__, "%s:%d \"%s\": framing differs: %s; %s", file, fx->line, fx->title, a, b);
      t->failed++;
      return;
    }
    t->matched++;
    return;
  }
  if (!http_strict_is_extra((enum http_strict_code)got.code)) {
    test_fail(__FILE__, __LINE__, "%s:%d \"%s\": %s; %s", file, fx->line, fx->title, a, b);
    t->failed++;
    return;
  }
  /* A documented extra rejection. If it was the Host rule, the rest must still agree. */
  if (hosts && ((eff.rejected && !http_strict_is_extra((enum http_strict_code)eff.code)) ||
                (!eff.rejected && eff.completed != want.completed))) {
    test_fail(__FILE__, __LINE__, "%s:%d \"%s\": %s; %s; with Host added, %s", file, fx->line, fx->title, a, b, c);
    t->failed++;
    return;
  }
  printf("  documented difference %s:%d \"%s\": %s; %s%s%s\n", file, fx->line, fx->title, a, b,
         hosts ? "; with Host added, " : "", hosts ? c : "");
  t->documented++;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Runs every *.md of llhttp-v9.4.2/<dir>, in name order, printing a summary line per file. */
static void run_dir(const char *dir) {
  const char *root = test_require_conformance();
  if (!root) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/llhttp-v9.4.2/%s", root, dir);
  DIR *d = opendir(path);
  if (!d) {
    test_fail(__FILE__, __LINE__, "cannot open %s", path);
    return;
  }
  char **names = NULL;
  size_t nnames = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l < 4 || strcmp(de->d_name + l - 3, ".md") != 0) continue;
    char **grown = realloc(names, (nnames + 1) * sizeof *names);
    if (!grown) abort();
    names = grown;
    names[nnames++] = strdup(de->d_name);
  }
  closedir(d);
  EXPECT(nnames > 0);
  qsort(names, nnames, sizeof *names, compare_names);

  struct tally all = {0};
  for (size_t i = 0; i < nnames; i++) {
    char file[512], full[4608];
    snprintf(file, sizeof file, "%s/%s", dir, names[i]);
    snprintf(full, sizeof full, "%s/%s", path, names[i]);
    size_t len;
    char *text = test_read_file(full, &len);
    if (!text) {
      test_fail(__FILE__, __LINE__, "cannot read %s", full);
      free(names[i]);
      continue;
    }
    struct fixture *cases = NULL;
    int n = fixture_parse(file, text, &cases);
    free(text);
    struct tally t = {0};
    for (int k = 0; k < n; k++) {
      run_case(file, &cases[k], &t);
      buf_free(&cases[k].input);
      buf_free(&cases[k].log);
    }
    free(cases);
    EXPECT(n > 0);
    printf("%s: %d cases, %d skipped, %d matched, %d documented differences%s\n", file, t.cases, t.skipped, t.matched,
           t.documented, t.failed ? ", FAILED" : "");
    if (t.failed) printf("  (%d failed)\n", t.failed);
    all.cases += t.cases;
    all.skipped += t.skipped;
    all.matched += t.matched;
    all.documented += t.documented;
    all.failed += t.failed;
    free(names[i]);
  }
  free(names);
  printf("%s total: %d cases, %d skipped, %d matched, %d documented differences, %d failed\n", dir, all.cases,
         all.skipped, all.matched, all.documented, all.failed);
}

/* ---- the decoder itself ------------------------------------------------------------------ */

static void decodes_like_llhttp_harness(void) {
  static const struct {
    const char *block, *bytes;
    size_t n;
  } cases[] = {
      /* Two empty lines after the headers: CRLF CRLF, no trailing CRLF. */
      {"GET / HTTP/1.1\nHost: a\n\n\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
      /* Escapes inside a line are the raw bytes, not line breaks. */
      {"Foo: 1\\rBar: 2\n", "Foo: 1\rBar: 2", 13},
      /* A backslash ending a line joins it to the next. */
      {"a\\n\\\nb\n", "a\nb", 3},
      /* \t runs before octal: "\01\test" is 0x01, TAB, "est". */
      {"Foo\\01\\test\n", "Foo\001\test", 8},
      /* Code points from 0x80 up reach the parser UTF-8 encoded. */
      {"\\xffV\n", "\xc3\xbfV", 3},
      {"\\325e\n",
       "\xc3\x95"
       "e",
       3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct buf out = {0};
    ASSERT_INT_EQ(fixture_decode(cases[i].block, strlen(cases[i].block), &out), 0);
    EXPECT_INT_EQ(out.len, cases[i].n);
    if (out.len == cases[i].n) EXPECT(memcmp(out.data, cases[i].bytes, out.len) == 0);
    buf_free(&out);
  }
}

static void request_fixtures(void) { run_dir("request"); }
static void response_fixtures(void) { run_dir("response"); }

TEST_CASES(TEST(decodes_like_llhttp_harness), TEST(request_fixtures), TEST(response_fixtures))
