/* Diagnostics: a growable list of located messages (see diag.h). Plain data, no I/O. */
#include "mesh/diag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diag_list_init(struct diag_list *list) {
  list->items = NULL;
  list->len = 0;
  list->cap = 0;
}

void diag_list_free(struct diag_list *list) {
  if (list == NULL) return;
  for (size_t i = 0; i < list->len; i++) {
    free(list->items[i].file);
    free(list->items[i].path);
    free(list->items[i].message);
  }
  free(list->items);
  diag_list_init(list);
}

static char *dup_or_empty(const char *s) {
  const char *src = s ? s : "";
  size_t n = strlen(src) + 1;
  char *out = malloc(n);
  if (out) memcpy(out, src, n);
  return out;
}

static int diag_push(struct diag_list *list, enum diag_severity severity, const char *file, int line, int col,
                     const char *path, char *message /* takes */) {
  if (list->len == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 8;
    struct diag *items = realloc(list->items, cap * sizeof *items);
    if (items == NULL) {
      free(message);
      return -ENOMEM;
    }
    list->items = items;
    list->cap = cap;
  }
  struct diag *d = &list->items[list->len];
  d->severity = severity;
  d->file = dup_or_empty(file ? file : "<input>");
  d->path = dup_or_empty(path);
  d->message = message;
  d->line = line;
  d->col = col;
  if (d->file == NULL || d->path == NULL || d->message == NULL) {
    free(d->file);
    free(d->path);
    free(d->message);
    return -ENOMEM;
  }
  list->len++;
  return 0;
}

int diag_addv(struct diag_list *list, enum diag_severity severity, const char *file, int line, int col,
              const char *path, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return -EINVAL;
  char *message = malloc((size_t)n + 1);
  if (message == NULL) return -ENOMEM;
  vsnprintf(message, (size_t)n + 1, fmt, ap);
  return diag_push(list, severity, file, line, col, path, message);
}

int diag_add(struct diag_list *list, enum diag_severity severity, const char *file, int line, int col, const char *path,
             const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = diag_addv(list, severity, file, line, col, path, fmt, ap);
  va_end(ap);
  return rc;
}

int diag_list_append(struct diag_list *dst, const struct diag_list *src) {
  for (size_t i = 0; i < src->len; i++) {
    const struct diag *d = &src->items[i];
    int rc = diag_add(dst, d->severity, d->file, d->line, d->col, d->path, "%s", d->message);
    if (rc < 0) return rc;
  }
  return 0;
}

size_t diag_count(const struct diag_list *list, enum diag_severity severity) {
  size_t n = 0;
  for (size_t i = 0; i < list->len; i++) n += list->items[i].severity == severity;
  return n;
}

const char *diag_severity_name(enum diag_severity severity) {
  switch (severity) {
  case DIAG_ERROR:
    return "error";
  case DIAG_WARNING:
    return "warning";
  case DIAG_NOTE:
    return "note";
  }
  return "?";
}

int diag_format(const struct diag *d, char *buf, size_t size) {
  char where[64] = "";
  if (d->line > 0 && d->col > 0) snprintf(where, sizeof where, ":%d:%d", d->line, d->col);
  else if (d->line > 0) snprintf(where, sizeof where, ":%d", d->line);
  if (d->path[0] != '\0')
    return snprintf(buf, size, "%s%s: %s: %s: %s", d->file, where, diag_severity_name(d->severity), d->path,
                    d->message);
  return snprintf(buf, size, "%s%s: %s: %s", d->file, where, diag_severity_name(d->severity), d->message);
}
