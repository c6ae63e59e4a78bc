/* JSON for the sample applications: a small streaming writer and a read-only document view.
 *
 * The apps speak JSON everywhere (Bookinfo's API, httpbin's echoes, the chaos control
 * endpoint). Writing goes through `struct json_out`, which appends text to a `struct buf` and
 * keeps track of commas, so an app builds its answer in the order a reader expects (Bookinfo's
 * field order) without a tree. Reading goes through `struct json_doc`, a thin view over jansson:
 * this is the only services/ file that includes it, so the rest of services/ sees our own types.
 */
#ifndef SERVICES_JSON_H
#define SERVICES_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"

/* ---- writing ---- */

#define JSON_OUT_MAX_DEPTH 16

struct json_out {
  struct buf *b; /* borrowed: where the text goes */
  int depth;
  unsigned char first[JSON_OUT_MAX_DEPTH]; /* nothing written yet at this level */
  unsigned char after_key;                 /* the next value completes a "key": pair */
  int err;                                 /* sticky: -ENOMEM or -EINVAL (too deep) */
};

/* Starts writing into b (borrowed; appended to). */
void json_out_init(struct json_out *w, struct buf *b);
void json_out_object_begin(struct json_out *w);
void json_out_object_end(struct json_out *w);
void json_out_array_begin(struct json_out *w);
void json_out_array_end(struct json_out *w);
/* The key of the next member; a value call follows. */
void json_out_key(struct json_out *w, const char *key);
void json_out_key_slice(struct json_out *w, struct slice key);
void json_out_string(struct json_out *w, const char *s);
/* Writes bytes as a JSON string, escaping what JSON requires; bytes that are not valid UTF-8
 * become U+FFFD, so the output is always valid JSON. */
void json_out_string_slice(struct json_out *w, struct slice s);
void json_out_int(struct json_out *w, int64_t v);
void json_out_double(struct json_out *w, double v);
void json_out_bool(struct json_out *w, int v);
void json_out_null(struct json_out *w);
/* Writes already-valid JSON text as one value (a body passed through). */
void json_out_raw(struct json_out *w, struct slice json);
/* 0, or the first error met while writing. */
int json_out_error(const struct json_out *w);

/* ---- reading ---- */

struct json_doc;  /* owned document */
struct json_node; /* a value inside a document, borrowed from it */

/* Parses text; returns an owned document (free with json_doc_free) or NULL when the text is
 * not JSON. */
struct json_doc *json_doc_parse(const char *text, size_t len);
void json_doc_free(struct json_doc *d);
/* The top-level value; borrowed from d. */
const struct json_node *json_doc_root(const struct json_doc *d);

/* Member `key` of an object, or NULL (not an object, no such key, n NULL). */
const struct json_node *json_node_get(const struct json_node *n, const char *key);
/* Element i of an array, or NULL. */
const struct json_node *json_node_at(const struct json_node *n, size_t i);
/* Elements of an array, 0 for anything else. */
size_t json_node_len(const struct json_node *n);
/* A string's bytes (borrowed from the document), or NULL when n is not a string. */
const char *json_node_string(const struct json_node *n);
/* Nonzero when n is a number; *out gets it. */
int json_node_number(const struct json_node *n, double *out);
/* Nonzero when n is true or false; *out gets it. */
int json_node_bool(const struct json_node *n, int *out);
int json_node_is_object(const struct json_node *n);
/* The first key of object n that is not one of known[0..nknown), or NULL when all are known.
 * Borrowed from the document. */
const char *json_node_first_unknown_key(const struct json_node *n, const char *const *known, size_t nknown);

#endif
