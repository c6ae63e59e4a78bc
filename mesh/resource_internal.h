/* Private to the resource module (resource*.c): the validation context, the arena, field
 * tables and the typed getters every kind's parser is built from. Not for other modules.
 *
 * Every getter takes the parent mapping, the key and the parent's field path, reports its own
 * errors (located at the offending node, with the full path) and returns 1 when the field is
 * present and valid, 0 when absent (or null, which Kubernetes treats as absent), and -1 when
 * invalid. Parsing never stops at the first error: callers keep going so one apply reports
 * every problem.
 */
#ifndef MESHLAB_RESOURCE_INTERNAL_H
#define MESHLAB_RESOURCE_INTERNAL_H

#include "mesh/resource.h"
#include "mesh/yamldoc.h"

enum { RPATH_MAX = 512 };

struct rctx {
  const char *file;
  struct diag_list *diags;
  struct resource *res; /* being built; its arena holds every string */
  int errors;           /* errors reported for this resource */
  bool lenient;         /* Kubernetes objects: unknown fields are notes, not errors */
};

/* Arena: zeroed allocations released together by resource_free(). NULL on out of memory
 * (reported as an error on the context). */
void *rarena_alloc(struct rctx *c, size_t size);
char *rarena_strdup(struct rctx *c, const char *s);
void resource_arena_free(struct resource_arena *a);
struct resource_arena *resource_arena_new(void);

void rerror(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rwarning(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A note on the resource (not in the apply's diagnostics): accepted and ignored. */
void rnote(struct rctx *c, const struct yamldoc_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* out = base + "." + key (or key alone when base is empty). */
void rpath_key(char *out, const char *base, const char *key);
/* out = base + "[" + i + "]". */
void rpath_index(char *out, const char *base, size_t i);

enum rfield_kind {
  RF_OK,      /* supported */
  RF_LATER,   /* a real Istio field meshlab does not implement yet: error saying so */
  RF_RENAMED, /* an old Istio name: error naming the modern one (hint) */
  RF_IGNORED, /* Kubernetes: accepted, noted as ignored */
};
struct rfield {
  const char *name;
  enum rfield_kind kind;
  const char *hint;
};

/* Checks every key of map against fields (terminated by {NULL}): unknown keys are errors with
 * a "did you mean" suggestion (notes when c->lenient), RF_LATER/RF_RENAMED keys are errors,
 * RF_IGNORED keys notes. Returns the number of errors it reported. */
int rcheck_keys(struct rctx *c, const struct yamldoc_node *map, const char *path, const struct rfield *fields);

/* Requires map to be a mapping (error otherwise). Returns true when it is. */
bool rexpect_map(struct rctx *c, const struct yamldoc_node *node, const char *path);

/* Reports "missing required field" when key is absent or null; returns true when present. */
bool rrequire(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path);

/* Scalar conversions of one node (used for list items and map values). */
int rscalar_str(struct rctx *c, const struct yamldoc_node *n, const char *path, char **out);
int rscalar_u32(struct rctx *c, const struct yamldoc_node *n, const char *path, uint32_t min, uint32_t max,
                uint32_t *out);

/* Field getters (see the file comment for the 1 / 0 / -1 convention). */
int rget_map(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
             const struct yamldoc_node **out);
int rget_seq(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
             const struct yamldoc_node **out);
int rget_str(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, char **out);
int rget_u32(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, uint32_t min,
             uint32_t max, uint32_t *out);
int rget_bool(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, bool *out);
int rget_double(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, double *out);
/* A duration of at least 1ms (Istio's rule for almost every duration field). */
int rget_ms(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, int64_t *out);
/* A duration of at least min_ms (0 allowed where Istio allows it, e.g. cookie ttl). */
int rget_ms_min(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, int64_t min_ms,
                int64_t *out);
/* names is NULL-terminated; *out is the index. later (may be NULL) lists valid Istio values
 * meshlab does not implement yet. */
int rget_enum(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
              const char *const *names, const char *const *later, int *out);
int rget_strings(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
                 struct resource_strings *out);
int rget_labels(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
                struct resource_map *out);

/* Wrappers that also set the `set` flag of a defaulted field. */
int ropt_u32(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, uint32_t min,
             uint32_t max, struct resource_u32 *out);
int ropt_ms(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path, struct resource_ms *out);
int ropt_bool(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
              struct resource_flag *out);
/* Istio's Percent message: `key: {value: 0..100}`. */
int ropt_pct(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
             struct resource_pct *out);

/* Position of a node. */
struct resource_pos rpos(const struct yamldoc_node *n);

/* A host field: copies it as written and resolves it against the resource's namespace. */
int rget_host(struct rctx *c, const struct yamldoc_node *map, const char *key, const char *path,
              struct resource_host *out);

/* Kind parsers (resource_networking.c, resource_security.c, resource_kube.c). spec may be
 * NULL (absent) for kinds where that is allowed. */
void rparse_virtual_service(struct rctx *c, const struct yamldoc_node *spec);
void rparse_destination_rule(struct rctx *c, const struct yamldoc_node *spec);
void rparse_gateway(struct rctx *c, const struct yamldoc_node *spec);
void rparse_service_entry(struct rctx *c, const struct yamldoc_node *spec);
void rparse_envoy_filter(struct rctx *c, const struct yamldoc_node *spec);
void rparse_peer_authentication(struct rctx *c, const struct yamldoc_node *spec);
void rparse_request_authentication(struct rctx *c, const struct yamldoc_node *spec);
void rparse_authorization_policy(struct rctx *c, const struct yamldoc_node *spec);
void rparse_service(struct rctx *c, const struct yamldoc_node *spec);
void rparse_deployment(struct rctx *c, const struct yamldoc_node *spec);

/* The resource as a jansson tree (resource_json.c); returns a new reference or NULL. */
struct json_t;
struct json_t *rjson_resource(const struct resource *r);

/* Checks an inline JWKS (resource_yaml.c): returns 0, or -1 with the reason in why. */
int rjson_check_jwks(const char *text, char *why, size_t size);

/* The subtree as compact JSON text (scalars typed as Kubernetes would), in the arena; used
 * to keep an EnvoyFilter's spec as written. NULL on error. */
char *rnode_to_json(struct rctx *c, const struct yamldoc_node *n);

#endif
