/* yamldoc: YAML text into our own tree of positioned nodes, for the control plane's resource
 * layer (resource.c validates the tree; nothing else reads YAML).
 *
 * This is the only module that includes libyaml. It reads a whole stream (`---`-separated
 * documents) into mapping / sequence / scalar nodes, each with the 1-based line and column
 * where it starts, and records whether a scalar was quoted, so that `port: "80"` (a string)
 * and `port: 80` (a number) stay different, as they are for the Kubernetes API server.
 * Duplicate keys, which libyaml accepts and Kubernetes silently resolves to the last one, are
 * an error naming both lines. Aliases are expanded (with a size limit against alias bombs).
 */
#ifndef MESHLAB_YAMLDOC_H
#define MESHLAB_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>

#include "mesh/diag.h"

enum yamldoc_type {
  YAMLDOC_SCALAR,
  YAMLDOC_SEQUENCE,
  YAMLDOC_MAPPING,
};

/* What a scalar means under the rules Kubernetes' YAML reader (YAML 1.1 via go-yaml) applies:
 * a quoted scalar is always a string; a plain one may be null, a boolean or a number. */
enum yamldoc_scalar_kind {
  YAMLDOC_NULL,
  YAMLDOC_BOOL,
  YAMLDOC_INT,
  YAMLDOC_FLOAT,
  YAMLDOC_STRING,
};

struct yamldoc_pair;

struct yamldoc_node {
  enum yamldoc_type type;
  int line, col; /* 1-based position of the node's first character */
  /* YAMLDOC_SCALAR: NUL-terminated text (may also contain NULs; len is exact). */
  char *str;
  size_t str_len;
  bool quoted; /* written quoted, or as a literal/folded block: always a string */
  /* YAMLDOC_SEQUENCE: items[len]; YAMLDOC_MAPPING: pairs[len], in document order. */
  struct yamldoc_node **items;
  struct yamldoc_pair *pairs;
  size_t len;
};

struct yamldoc_pair {
  struct yamldoc_node *key; /* always a scalar */
  struct yamldoc_node *value;
};

/* A parsed stream: one root per document, empty documents included (as null scalars). */
struct yamldoc {
  struct yamldoc_node **docs;
  size_t len;
};

/* Parses a whole YAML stream. Borrows text (len bytes, need not be NUL-terminated) and
 * filename (used in diagnostics only). On success returns 0 and *out (owned; release with
 * yamldoc_free). On a syntax error (libyaml's message and position), a duplicate key or a
 * non-scalar key, appends DIAG_ERROR diagnostics to diags and returns -EINVAL; -ENOMEM when
 * memory runs out; *out is NULL then. */
int yamldoc_parse(const char *text, size_t len, const char *filename, struct yamldoc **out, struct diag_list *diags);

/* Frees the stream and every node. yamldoc_free(NULL) is a no-op. */
void yamldoc_free(struct yamldoc *doc);

/* The value under key in a mapping, or NULL (also when map is NULL or not a mapping).
 * Returns a borrowed node. */
const struct yamldoc_node *yamldoc_get(const struct yamldoc_node *map, const char *key);

/* Like yamldoc_get, but returns the pair (key node included), or NULL. Borrowed. */
const struct yamldoc_pair *yamldoc_get_pair(const struct yamldoc_node *map, const char *key);

/* The meaning of a scalar node (see enum yamldoc_scalar_kind). */
enum yamldoc_scalar_kind yamldoc_scalar_kind(const struct yamldoc_node *scalar);

/* The meaning a plain (unquoted) scalar with this text would have; used by writers to decide
 * when a string must be quoted. Borrows text. */
enum yamldoc_scalar_kind yamldoc_plain_kind(const char *text, size_t len);

/* True for a null scalar (`~`, `null`, or nothing, as in `key:`). */
bool yamldoc_is_null(const struct yamldoc_node *node);

/* "mapping", "sequence", "string", "number", "boolean" or "null": for messages. */
const char *yamldoc_describe(const struct yamldoc_node *node);

#endif
