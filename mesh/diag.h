/* Diagnostics: the errors, warnings and notes that the control plane's resource layer reports
 * to a person, each pinned to file:line:col and a field path.
 *
 * The YAML reader (yamldoc), the resource validator (resource) and the cross-resource
 * analyzer all append to a `struct diag_list`; the CLI prints them with diag_format(), which
 * gives the one shape every message has:
 *
 *     FILE:LINE:COL: error: spec.http[0].route[1].destination.subset: WHAT; WHAT WOULD BE RIGHT
 *
 * A list owns copies of every string it holds, so a diagnostic outlives the text it describes.
 */
#ifndef MESHLAB_DIAG_H
#define MESHLAB_DIAG_H

#include <stdarg.h>
#include <stddef.h>

enum diag_severity {
  DIAG_ERROR,   /* the input is refused */
  DIAG_WARNING, /* accepted, but probably not what was meant (istioctl analyze style) */
  DIAG_NOTE,    /* accepted and ignored, e.g. a Kubernetes field the lab has no use for */
};

struct diag {
  enum diag_severity severity;
  char *file;    /* "<input>" when the caller gave no name */
  int line, col; /* 1-based; 0 when unknown */
  char *path;    /* field path such as "spec.hosts[0]"; "" when the message is about the file */
  char *message; /* what is wrong and what would be right */
};

struct diag_list {
  struct diag *items;
  size_t len, cap;
};

/* Makes an empty list. */
void diag_list_init(struct diag_list *list);

/* Frees every diagnostic and the array; the list is empty (and reusable) afterwards.
 * diag_list_free(NULL) is a no-op. */
void diag_list_free(struct diag_list *list);

/* Appends one diagnostic; borrows file and path (copied), formats the message printf-style.
 * Returns 0 or -ENOMEM. */
int diag_add(struct diag_list *list, enum diag_severity severity, const char *file, int line, int col, const char *path,
             const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* diag_add() with a va_list. */
int diag_addv(struct diag_list *list, enum diag_severity severity, const char *file, int line, int col,
              const char *path, const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));

/* Appends copies of every diagnostic of src to dst; borrows src. Returns 0 or -ENOMEM. */
int diag_list_append(struct diag_list *dst, const struct diag_list *src);

/* Number of diagnostics with the given severity. */
size_t diag_count(const struct diag_list *list, enum diag_severity severity);

/* "error", "warning" or "note". */
const char *diag_severity_name(enum diag_severity severity);

/* Writes "FILE:LINE:COL: SEVERITY: PATH: MESSAGE" (parts that are unknown are left out) into
 * buf, NUL-terminated and truncated to size; returns the length the full text needs, as
 * snprintf does. */
int diag_format(const struct diag *d, char *buf, size_t size);

#endif
