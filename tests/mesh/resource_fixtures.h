/* Shared by the resource-layer tests (test_resource.c: Istio's files, refusals, defaults;
 * test_resource_model.c: the full model, writers, analysis): parsing helpers that fail the
 * running case with every diagnostic printed, conformance file access, and YAML heads for
 * inline inputs. Header-only, like bookinfo_world.h. */
#ifndef TESTS_MESH_RESOURCE_FIXTURES_H
#define TESTS_MESH_RESOURCE_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/resource.h"
#include "support/test.h"

static inline void print_diags(const struct diag_list *d) {
  for (size_t i = 0; i < d->len; i++) {
    char buf[1024];
    diag_format(&d->items[i], buf, sizeof buf);
    fprintf(stderr, "  # %s\n", buf);
  }
}

/* Parses text that must be valid; returns the number of resources appended to out. */
static inline int parse_ok_into(const char *text, const char *file, const struct resource_parse_options *opts,
                                struct resource_list *out, struct diag_list *d) {
  size_t before = out->len;
  int rc = resource_parse(text, strlen(text), file, opts, out, d);
  if (rc != 0) {
    test_fail(__FILE__, __LINE__, "%s: resource_parse returned %d", file, rc);
    print_diags(d);
    return -1;
  }
  return (int)(out->len - before);
}

/* Parses a one-object document that must be valid; returns it owned (or NULL). */
static inline struct resource *parse_one(const char *text, const struct resource_parse_options *opts) {
  struct resource_list list;
  struct diag_list d;
  resource_list_init(&list);
  diag_list_init(&d);
  struct resource *r = NULL;
  if (parse_ok_into(text, "t.yaml", opts, &list, &d) == 1) {
    r = list.items[0];
    list.len = 0;
  } else if (list.len != 1) {
    test_fail(__FILE__, __LINE__, "expected one resource, got %zu", list.len);
  }
  resource_list_free(&list);
  diag_list_free(&d);
  return r;
}

static inline char *conformance_file(const char *rel, size_t *len) {
  const char *dir = test_require_conformance();
  if (dir == NULL) return NULL;
  char path[1024];
  snprintf(path, sizeof path, "%s/istio/%s", dir, rel);
  char *text = test_read_file(path, len);
  if (text == NULL) test_fail(__FILE__, __LINE__, "cannot read %s", path);
  return text;
}

static inline int parse_conformance(const char *rel, struct resource_list *out, struct diag_list *d) {
  size_t len;
  char *text = conformance_file(rel, &len);
  if (text == NULL) return -1;
  int n = parse_ok_into(text, rel, NULL, out, d);
  free(text);
  return n;
}

static inline const struct resource *find(const struct resource_list *l, enum resource_kind kind, const char *name) {
  for (size_t i = 0; i < l->len; i++)
    if (l->items[i]->kind == kind && strcmp(l->items[i]->meta.name, name) == 0) return l->items[i];
  return NULL;
}

static inline size_t count_kind(const struct resource_list *l, enum resource_kind kind) {
  size_t n = 0;
  for (size_t i = 0; i < l->len; i++) n += l->items[i]->kind == kind;
  return n;
}

/* Istio's bookinfo-networking files (both parts parse them; part two round-trips them). */
static const char *const NETWORKING[] = {"bookinfo-gateway.yaml",
                                         "certmanager-gateway.yaml",
                                         "destination-rule-all-mtls.yaml",
                                         "destination-rule-all.yaml",
                                         "destination-rule-reviews.yaml",
                                         "egress-rule-google-apis.yaml",
                                         "fault-injection-details-v1.yaml",
                                         "virtual-service-all-v1.yaml",
                                         "virtual-service-details-v2.yaml",
                                         "virtual-service-ratings-db.yaml",
                                         "virtual-service-ratings-mysql-vm.yaml",
                                         "virtual-service-ratings-mysql.yaml",
                                         "virtual-service-ratings-test-abort.yaml",
                                         "virtual-service-ratings-test-delay.yaml",
                                         "virtual-service-reviews-50-v3.yaml",
                                         "virtual-service-reviews-80-20.yaml",
                                         "virtual-service-reviews-90-10.yaml",
                                         "virtual-service-reviews-jason-v2-v3.yaml",
                                         "virtual-service-reviews-test-v2.yaml",
                                         "virtual-service-reviews-v2-v3.yaml",
                                         "virtual-service-reviews-v3.yaml"};

#define VS_HEAD                                                                            \
  "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\n" \
  "spec:\n  hosts: [reviews]\n  http:\n"
#define DR_HEAD                                                                             \
  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\n" \
  "spec:\n  host: reviews\n"
#define ROUTE "    route:\n    - destination: {host: reviews}\n"

#endif
