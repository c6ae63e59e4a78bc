/* Buffers, slices and arenas: see buf.h. */
#include "mesh/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slice slice_from(const char *s) {
  return (struct slice){s, s ? strlen(s) : 0};
}

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

int slice_eq_nocase(struct slice a, struct slice b) {
  if (a.n != b.n) return 0;
  for (size_t i = 0; i < a.n; i++)
    if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i])) return 0;
  return 1;
}

int slice_eq_str_nocase(struct slice a, const char *s) { return slice_eq_nocase(a, slice_from(s)); }

int buf_reserve(struct buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_append(struct buf *b, const void *p, size_t n) {
  if (n == 0) return 0;
  if (buf_reserve(b, n) != 0) return -ENOMEM;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int buf_append_str(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_append_slice(struct buf *b, struct slice s) { return buf_append(b, s.p, s.n); }

int buf_vappendf(struct buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return -EINVAL;
  if (buf_reserve(b, (size_t)n) != 0) return -ENOMEM;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = buf_vappendf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void buf_consume(struct buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void buf_reset(struct buf *b) { b->len = 0; }

void buf_free(struct buf *b) {
  if (!b) return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

const char *buf_cstr(struct buf *b) {
  if (buf_reserve(b, 0) != 0) return "";
  b->data[b->len] = '\0';
  return b->data;
}

/* Arena blocks: a header followed by the bytes handed out. Requests rarely need more than the
 * first 4 KiB block (a typical head is well under 1 KiB); larger asks get a block of their own. */
struct arena_block {
  struct arena_block *next;
  size_t size;
  max_align_t data[];
};

#define ARENA_BLOCK 4096

void *arena_alloc(struct arena *a, size_t n) {
  size_t align = sizeof(max_align_t);
  n = (n + align - 1) & ~(align - 1);
  if (!a->head || a->used + n > a->head->size) {
    size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    struct arena_block *blk = malloc(sizeof *blk + size);
    if (!blk) return NULL;
    blk->size = size;
    blk->next = a->head;
    a->head = blk;
    a->used = 0;
  }
  void *p = (char *)a->head->data + a->used;
  a->used += n;
  a->total += n;
  return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void arena_reset(struct arena *a) {
  if (!a->head) return;
  /* Keep the oldest block (the tail of the list): it is the one every request uses. */
  struct arena_block *blk = a->head, *keep = NULL;
  while (blk) {
    struct arena_block *next = blk->next;
    if (!next) keep = blk;
    else free(blk);
    blk = next;
  }
  a->head = keep;
  a->used = 0;
  a->total = 0;
}

void arena_free(struct arena *a) {
  struct arena_block *blk = a->head;
  while (blk) {
    struct arena_block *next = blk->next;
    free(blk);
    blk = next;
  }
  a->head = NULL;
  a->used = a->total = 0;
}
