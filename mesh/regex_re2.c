/* regex_re2: RE2 patterns rewritten for POSIX <regex.h>; see regex_re2.h. */
#include "mesh/regex_re2.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Characters that are special in a POSIX ERE outside brackets: escaped, they stay escaped. */
static const char ERE_SPECIAL[] = ".[]()*+?{}|^$\\";

struct tr {
  const char *p; /* the next RE2 character */
  struct buf *out;
  char *why;
  size_t whylen;
  int rc; /* 0, -EINVAL or -ENOMEM */
};

static void refuse(struct tr *t, const char *fmt, const char *piece) {
  if (t->rc) return;
  t->rc = -EINVAL;
  snprintf(t->why, t->whylen, fmt, piece);
}

static void put(struct tr *t, const char *s) {
  if (!t->rc && buf_append_str(t->out, s) != 0) t->rc = -ENOMEM;
}

static void putc1(struct tr *t, char c) {
  if (!t->rc && buf_append(t->out, &c, 1) != 0) t->rc = -ENOMEM;
}

/* The control character of \n \t \r \f \v, else 0. */
static char control_escape(char c) {
  switch (c) {
  case 'n':
    return '\n';
  case 't':
    return '\t';
  case 'r':
    return '\r';
  case 'f':
    return '\f';
  case 'v':
    return '\v';
  default:
    return 0;
  }
}

/* The POSIX class body of \d \w \s (to go inside brackets), else NULL. */
static const char *class_escape(char c) {
  switch (c) {
  case 'd':
    return "0-9";
  case 'w':
    return "[:alnum:]_";
  case 's':
    return "[:space:]";
  default:
    return NULL;
  }
}

static const char *piece_of(char c, char *tmp) {
  tmp[0] = '\\';
  tmp[1] = c;
  tmp[2] = '\0';
  return tmp;
}

/* One escape outside brackets; t->p is on the character after the backslash. */
static void escape_outside(struct tr *t) {
  char c = *t->p, tmp[3];
  const char *cls;
  if (c == '\0') { /* t->p stays on the terminator */
    refuse(t, "the pattern ends with a lone backslash%s", "");
    return;
  }
  t->p++;
  if ((cls = class_escape((char)tolower((unsigned char)c)))) {
    put(t, isupper((unsigned char)c) ? "[^" : "[");
    put(t, cls);
    put(t, "]");
  } else if (control_escape(c)) {
    putc1(t, control_escape(c));
  } else if (ispunct((unsigned char)c)) {
    if (strchr(ERE_SPECIAL, c)) putc1(t, '\\');
    putc1(t, c);
  } else if (c == 'b' || c == 'B' || c == 'A' || c == 'z') {
    refuse(t, "%s (a zero-width assertion) has no POSIX equivalent", piece_of(c, tmp));
  } else if (isdigit((unsigned char)c)) {
    refuse(t, "%s (a back-reference or octal escape) is not RE2 syntax meshlab can run", piece_of(c, tmp));
  } else {
    refuse(t,
           "the escape %s is not supported (only \\d \\w \\s, their negations, \\n \\t \\r \\f \\v "
           "and escaped punctuation are)",
           piece_of(c, tmp));
  }
}

/* A bracket expression; t->p is on the character after '['. POSIX takes no escapes inside
 * brackets: ']' is literal only first, '-' only last, '^' anywhere but first. So escaped
 * members are collected and placed where POSIX reads them literally. */
static void bracket(struct tr *t) {
  struct buf body = {0};
  bool negate = false, rbracket = false, dash = false, caret = false, closed = false;
  if (*t->p == '^') {
    negate = true;
    t->p++;
  }
  if (*t->p == ']') { /* a leading ']' is a member, as in RE2 */
    rbracket = true;
    t->p++;
  }
  char tmp[3];
  while (*t->p && !t->rc) {
    char c = *t->p++;
    if (c == ']') {
      closed = true;
      break;
    }
    if (c == '[' && *t->p == ':') { /* [:alpha:] is the same in both */
      const char *end = strstr(t->p, ":]");
      if (!end) {
        refuse(t, "an unclosed [: class%s", "");
        break;
      }
      if (buf_append(&body, t->p - 1, (size_t)(end + 2 - (t->p - 1))) != 0) t->rc = -ENOMEM;
      t->p = end + 2;
      continue;
    }
    if (c != '\\') {
      if (buf_append(&body, &c, 1) != 0) t->rc = -ENOMEM;
      continue;
    }
    char e = *t->p;
    const char *cls = class_escape(e);
    if (e == '\0') { /* t->p stays on the terminator */
      refuse(t, "the pattern ends with a lone backslash%s", "");
      break;
    }
    t->p++;
    if (cls) {
      if (buf_append_str(&body, cls) != 0) t->rc = -ENOMEM;
    } else if (control_escape(e)) {
      char ch = control_escape(e);
      if (buf_append(&body, &ch, 1) != 0) t->rc = -ENOMEM;
    } else if (e == ']') {
      rbracket = true;
    } else if (e == '-') {
      dash = true;
    } else if (e == '^') {
      caret = true;
    } else if (ispunct((unsigned char)e)) {
      if (buf_append(&body, &e, 1) != 0) t->rc = -ENOMEM;
    } else {
      refuse(t, "%s inside [...] is not supported (\\d \\w \\s and escaped punctuation are)", piece_of(e, tmp));
    }
  }
  if (!closed) refuse(t, "a [ without its closing ]%s", "");
  if (!t->rc && caret && !rbracket && !body.len && !negate && !dash) {
    put(t, "\\^"); /* [\^] alone: POSIX has no bracket for it ("[^]" negates) */
  } else if (!t->rc && caret && !rbracket && !body.len) {
    put(t, negate ? "[^" : "[");
    if (dash) put(t, "-"); /* "-" first, then "^" not first: both literal */
    put(t, "^]");
  } else if (!t->rc && (rbracket || body.len || dash)) {
    put(t, negate ? "[^" : "[");
    if (rbracket) put(t, "]");
    if (body.len && !t->rc && buf_append(t->out, body.data, body.len) != 0) t->rc = -ENOMEM;
    if (caret) put(t, "^");
    if (dash) put(t, "-");
    put(t, "]");
  } else if (!t->rc) {
    refuse(t, "an empty [] matches nothing%s", "");
  }
  buf_free(&body);
}

/* "(?" at t->p - 1: the group forms RE2 has and POSIX spells "(". at_start: the very first
 * characters of the pattern, where (?i) sets case-insensitivity for all of it. */
static void group_open(struct tr *t, bool at_start, bool *icase) {
  t->p++; /* the '?' */
  if (*t->p == ':') {
    t->p++;
    putc1(t, '(');
  } else if ((t->p[0] == 'P' && t->p[1] == '<') || (t->p[0] == '<' && t->p[1] != '=' && t->p[1] != '!')) {
    const char *end = strchr(t->p, '>');
    if (!end) {
      refuse(t, "a named group without its closing >%s", "");
      return;
    }
    t->p = end + 1;
    putc1(t, '(');
  } else if (at_start && t->p[0] == 'i' && t->p[1] == ')') {
    *icase = true;
    t->p += 2;
  } else {
    char flags[16];
    size_t n = strcspn(t->p, ")");
    snprintf(flags, sizeof flags, "(?%.*s", (int)(n < 8 ? n : 8), t->p);
    refuse(t, "the group %s is not supported (only (?:...), named groups and a leading (?i) are)", flags);
  }
}

int re2_translate(const char *re, struct buf *out, bool *icase, char *why, size_t whylen) {
  struct tr t = {re ? re : "", out, why, whylen, 0};
  *icase = false;
  if (whylen) why[0] = '\0';
  put(&t, "^(");
  bool quantified = false; /* the last thing written was a quantifier: a '?' after it is lazy */
  while (*t.p && !t.rc) {
    char c = *t.p++;
    bool quantifier = false;
    if (c == '\\') {
      escape_outside(&t);
    } else if (c == '[') {
      bracket(&t);
    } else if (c == '(' && *t.p == '?') {
      group_open(&t, t.p - 1 == re, icase);
    } else if (c == '?' && quantified) {
      /* lazy: the same values match in full, so it is dropped */
    } else if (c == '{') {
      size_t n = strspn(t.p, "0123456789,");
      if (n && t.p[n] == '}') { /* a repetition {n}, {n,}, {n,m} */
        putc1(&t, '{');
        if (!t.rc && buf_append(t.out, t.p, n + 1) != 0) t.rc = -ENOMEM;
        t.p += n + 1;
        quantifier = true;
      } else {
        put(&t, "\\{"); /* RE2 reads a '{' that starts no repetition as a literal */
      }
    } else {
      putc1(&t, c);
      quantifier = c == '*' || c == '+' || c == '?';
    }
    quantified = quantifier;
  }
  put(&t, ")$");
  return t.rc;
}

int re2_compile(const char *re, bool icase, regex_t *out, char *why, size_t whylen) {
  struct buf ere = {0};
  bool ci = false;
  int rc = re2_translate(re, &ere, &ci, why, whylen);
  if (rc == 0) {
    int e = regcomp(out, buf_cstr(&ere), REG_EXTENDED | REG_NOSUB | (icase || ci ? REG_ICASE : 0));
    if (e == REG_ESPACE) {
      rc = -ENOMEM;
    } else if (e != 0) {
      char msg[128];
      regerror(e, out, msg, sizeof msg);
      snprintf(why, whylen, "not a valid regular expression: %s", msg);
      rc = -EINVAL;
    }
  }
  buf_free(&ere);
  return rc;
}
