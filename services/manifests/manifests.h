/* The lab's built-in manifests (the YAML files in services/manifests), embedded at build time: the Bookinfo
 * default, its gateway and subsets, and the httpbin, fortio and curl workloads Istio's tasks
 * deploy. Written for the lab in the shape of Istio's samples. */
#ifndef SERVICES_MANIFESTS_H
#define SERVICES_MANIFESTS_H

#include <stddef.h>

struct manifest {
  const char *name; /* "bookinfo", "bookinfo-gateway", ... (the file name without .yaml) */
  const char *text; /* NUL-terminated YAML */
  size_t len;
};

/* Returns the manifest named name, or NULL. */
const struct manifest *manifest_find(const char *name);
/* Returns every manifest and their count in *n. */
const struct manifest *manifest_all(size_t *n);

#endif
