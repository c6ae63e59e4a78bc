/* A small world for the control-plane tests: Istio's Bookinfo (from ../shared/conformance via
 * test_require_conformance()) plus chosen networking files and inline YAML, a registry with
 * addresses assigned from 127.1.0.1, and helpers to compile and route. Header-only, shared by
 * test_registry.c, test_compile.c and test_router.c. */
#ifndef TESTS_MESH_BOOKINFO_WORLD_H
#define TESTS_MESH_BOOKINFO_WORLD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/compile.h"
#include "mesh/registry.h"
#include "mesh/resource.h"
#include "mesh/router.h"
#include "support/test.h"

struct world {
  struct resource_list list;
  struct diag_list diags;
  struct registry *reg;
  struct compile_state st;
};

static inline void world_print_diags(const struct diag_list *d) {
  for (size_t i = 0; i < d->len; i++) {
    char buf[1024];
    diag_format(&d->items[i], buf, sizeof buf);
    fprintf(stderr, "  # %s\n", buf);
  }
}

static inline int world_parse(struct world *w, const char *text, const char *name) {
  int rc = resource_parse(text, strlen(text), name, NULL, &w->list, &w->diags);
  if (rc != 0) {
    test_fail(__FILE__, __LINE__, "%s: resource_parse returned %d", name, rc);
    world_print_diags(&w->diags);
  }
  return rc;
}

/* Parses a conformance file (relative to istio/); returns 0, or -1 after failing or skipping. */
static inline int world_file(struct world *w, const char *rel) {
  const char *dir = test_require_conformance();
  if (!dir) return -1;
  char path[1024];
  snprintf(path, sizeof path, "%s/istio/%s", dir, rel);
  size_t len;
  char *text = test_read_file(path, &len);
  if (!text) {
    test_fail(__FILE__, __LINE__, "cannot read %s", path);
    return -1;
  }
  int rc = world_parse(w, text, rel);
  free(text);
  return rc ? -1 : 0;
}

/* Bookinfo + destination-rule-all.yaml + files (NULL-terminated, may be NULL) + yaml (may be
 * NULL); registry synced, addresses assigned: details-v1 127.1.0.1, productpage-v1 .2,
 * ratings-v1 .3, reviews-v1 .4, reviews-v2 .5, reviews-v3 .6 (then inline workloads). */
static inline int world_init(struct world *w, const char *const *files, const char *yaml) {
  memset(w, 0, sizeof *w);
  resource_list_init(&w->list);
  diag_list_init(&w->diags);
  w->reg = registry_new();
  if (world_file(w, "bookinfo-platform/bookinfo.yaml") ||
      world_file(w, "bookinfo-networking/destination-rule-all.yaml"))
    return -1;
  for (size_t i = 0; files && files[i]; i++)
    if (world_file(w, files[i])) return -1;
  if (yaml && world_parse(w, yaml, "inline.yaml")) return -1;
  if (registry_sync(w->reg, w->list.items, w->list.len) != 0) return -1;
  if (registry_assign_addresses(w->reg, "127.1.0.1") < 0) return -1;
  return 0;
}

static inline void world_free(struct world *w) {
  registry_free(w->reg);
  resource_list_free(&w->list);
  diag_list_free(&w->diags);
}

static inline struct compile_input world_input(const struct world *w) {
  return (struct compile_input){w->list.items, w->list.len, w->reg, NULL, XDS_OUTBOUND_POLICY_NONE};
}

/* The sidecar config of workload name in ns ("default" when NULL), or NULL after failing. */
static inline struct proxy_config *world_sidecar(struct world *w, const char *ns, const char *name) {
  struct compile_input in = world_input(w);
  struct proxy_config *cfg = NULL;
  int rc = compile_sidecar(&w->st, &in, ns ? ns : "default", name, NULL, &cfg, &w->diags);
  if (rc != 0) test_fail(__FILE__, __LINE__, "compile_sidecar(%s) returned %d", name, rc);
  return cfg;
}

/* A request: authority, path, and up to 4 headers as "name", "value" pairs (NULL-terminated). */
struct world_req {
  const char *authority, *path, *method;
  const char *headers[9];
  uint32_t port;
  const struct resource_map *source_labels;
  enum xds_direction direction;
};

static inline enum router_verdict world_route(const struct proxy_config *cfg, const struct world_req *r,
                                              struct rng *rng, struct route_decision *d) {
  struct http_header hs[4];
  struct http_head head = {.is_request = 1, .headers = hs};
  for (size_t i = 0; i < 4 && r->headers[2 * i]; i++) {
    hs[i].name = slice_from(r->headers[2 * i]);
    hs[i].value = slice_from(r->headers[2 * i + 1]);
    head.nheaders++;
  }
  struct router_request req = {
      .direction = r->direction,
      .authority = slice_from(r->authority),
      .path = slice_from(r->path ? r->path : "/"),
      .method = slice_from(r->method ? r->method : "GET"),
      .head = &head,
      .port = r->port,
      .source_labels = r->source_labels,
  };
  return router_route(cfg, &req, rng, d);
}

#endif
