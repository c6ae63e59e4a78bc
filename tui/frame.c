/* The off-screen frame: see frame.h. */
#include "tui/frame.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int frame_init(struct frame *f, int w, int h) {
  f->w = f->h = 0;
  f->cells = NULL;
  if (w <= 0 || h <= 0) return 0;
  f->cells = calloc((size_t)w * (size_t)h, sizeof *f->cells);
  if (!f->cells) return -ENOMEM;
  f->w = w;
  f->h = h;
  frame_clear(f);
  return 0;
}

void frame_free(struct frame *f) {
  free(f->cells);
  f->cells = NULL;
  f->w = f->h = 0;
}

void frame_clear(struct frame *f) {
  for (int i = 0; i < f->w * f->h; i++) f->cells[i] = (struct frame_cell){' ', 0};
}

struct frame_cell *frame_at(const struct frame *f, int x, int y) {
  if (x < 0 || y < 0 || x >= f->w || y >= f->h) return NULL;
  return &f->cells[y * f->w + x];
}

/* Decodes one UTF-8 sequence at *s; a malformed byte reads as '?'. */
static uint32_t utf8_next(const unsigned char **s) {
  const unsigned char *p = *s;
  uint32_t c = *p++;
  int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
  if (c >= 0x80 && !more) {
    *s = p;
    return '?';
  }
  if (more) c &= 0x3fu >> more;
  for (int i = 0; i < more; i++) {
    if ((*p & 0xc0) != 0x80) {
      *s = p;
      return '?';
    }
    c = (c << 6) | (*p++ & 0x3f);
  }
  *s = p;
  return c;
}

int frame_put(struct frame *f, int x, int y, uint8_t attr, const char *text, int maxw) {
  if (y < 0 || y >= f->h || !text) return 0;
  int limit = maxw > 0 && x + maxw < f->w ? x + maxw : f->w;
  const unsigned char *s = (const unsigned char *)text;
  int col = x;
  while (*s && col < limit) {
    uint32_t c = utf8_next(&s);
    if (c < 0x20 || c == 0x7f) break;
    if (c == 0x200b) continue;
    if (col >= 0) f->cells[y * f->w + col] = (struct frame_cell){c, attr};
    col++;
  }
  return col - x;
}

int frame_printf(struct frame *f, int x, int y, uint8_t attr, int maxw, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return frame_put(f, x, y, attr, text, maxw);
}

void frame_fill(struct frame *f, int x, int y, int w, int h, uint32_t ch, uint8_t attr) {
  for (int r = y; r < y + h; r++)
    for (int c = x; c < x + w; c++) {
      struct frame_cell *cell = frame_at(f, c, r);
      if (cell) *cell = (struct frame_cell){ch, attr};
    }
}

void frame_attr(struct frame *f, int x, int y, int w, uint8_t attr) {
  for (int c = x; c < x + w; c++) {
    struct frame_cell *cell = frame_at(f, c, y);
    if (cell) cell->attr = attr;
  }
}

int frame_utf8(uint32_t c, char *out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xc0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3f));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xe0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
  out[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

void frame_text(const struct frame *f, struct buf *out) {
  for (int y = 0; y < f->h; y++) {
    int end = f->w;
    while (end > 0 && f->cells[y * f->w + end - 1].ch == ' ') end--;
    for (int x = 0; x < end; x++) {
      char u[4];
      buf_append(out, u, (size_t)frame_utf8(f->cells[y * f->w + x].ch, u));
    }
    buf_append(out, "\n", 1);
  }
}

/* SGR for an attribute: reset, then bold/dim/reverse and the foreground colour. */
static void sgr(struct buf *out, uint8_t attr, bool color) {
  buf_append_str(out, "\x1b[0");
  if (attr & FRAME_BOLD) buf_append_str(out, ";1");
  if (attr & FRAME_DIM) buf_append_str(out, ";2");
  if (attr & FRAME_REVERSE) buf_append_str(out, ";7");
  if (color && (attr & FRAME_COLOR_MASK)) buf_appendf(out, ";%d", 30 + (attr & FRAME_COLOR_MASK));
  buf_append_str(out, "m");
}

void frame_ansi(const struct frame *prev, const struct frame *cur, bool color, struct buf *out) {
  bool full = !prev || prev->w != cur->w || prev->h != cur->h;
  if (full) buf_append_str(out, "\x1b[0m\x1b[2J");
  int last_attr = -1, cx = -1, cy = -1;
  for (int y = 0; y < cur->h; y++)
    for (int x = 0; x < cur->w; x++) {
      const struct frame_cell *c = &cur->cells[y * cur->w + x];
      if (!full) {
        const struct frame_cell *p = &prev->cells[y * prev->w + x];
        if (p->ch == c->ch && p->attr == c->attr) continue;
      } else if (c->ch == ' ' && c->attr == 0) {
        continue;
      }
      if (cx != x || cy != y) buf_appendf(out, "\x1b[%d;%dH", y + 1, x + 1);
      if (c->attr != last_attr) {
        sgr(out, c->attr, color);
        last_attr = c->attr;
      }
      char u[4];
      buf_append(out, u, (size_t)frame_utf8(c->ch, u));
      cx = x + 1;
      cy = y;
    }
  if (last_attr > 0) buf_append_str(out, "\x1b[0m");
}
