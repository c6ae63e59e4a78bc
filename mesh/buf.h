/* Byte buffers, borrowed slices and the per-request arena.
 *
 * Every module that moves bytes uses these: a `struct slice` is a borrowed (pointer, length)
 * pair the way llhttp hands data over; a `struct buf` is an owned, growable byte string; an
 * `struct arena` hands out memory for one request and releases it all at once when the request
 * ends, so the request path does not call free() per header.
 */
#ifndef MESH_BUF_H
#define MESH_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Borrowed bytes: valid only as long as their owner says. */
struct slice {
  const char *p;
  size_t n;
};

#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})

/* Returns a slice over a NUL-terminated string (borrows s). */
struct slice slice_from(const char *s);
/* Nonzero when a and b hold the same bytes, ignoring ASCII case. */
int slice_eq_nocase(struct slice a, struct slice b);
/* Nonzero when a holds exactly the NUL-terminated string s, ignoring ASCII case. */
int slice_eq_str_nocase(struct slice a, const char *s);

/* An owned, growable byte string. Zero-initialised is a valid empty buffer. */
struct buf {
  char *data;
  size_t len;
  size_t cap;
};

/* Ensures room for `extra` more bytes; returns 0 or UV_ENOMEM-style -12. */
int buf_reserve(struct buf *b, size_t extra);
/* Appends n bytes (copies them); returns 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_slice(struct buf *b, struct slice s);
/* printf-style append; returns 0 or -ENOMEM. */
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);
/* Empties the buffer but keeps its memory. */
void buf_reset(struct buf *b);
/* Frees the memory; the buffer is empty and reusable afterwards. buf_free(NULL) is a no-op. */
void buf_free(struct buf *b);
/* Returns the contents as a NUL-terminated string (appends a NUL not counted in len). */
const char *buf_cstr(struct buf *b);

/* A bump allocator for one request's memory. Zero-initialised is valid. */
struct arena_block;
struct arena {
  struct arena_block *head;
  size_t used;  /* bytes used in head */
  size_t total; /* bytes handed out since the last reset, for limits */
};

/* Returns n bytes aligned for any type, owned by the arena; NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* Returns an owned (by the arena) NUL-terminated copy of s. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Releases everything but the first block, for reuse by the next request. */
void arena_reset(struct arena *a);
/* Releases everything. */
void arena_free(struct arena *a);

#endif
