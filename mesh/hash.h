/* hash: FNV-1a, the one non-cryptographic hash meshlab uses (metric series keys in the sidecar's
 * telemetry and the lab's series, a cluster's change mark). Cheap, and a change in any byte
 * changes the result. Not for anything an attacker chooses to collide. */
#ifndef MESH_HASH_H
#define MESH_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_OFFSET 14695981039346656037ULL

/* Folds n bytes at p into h (start from FNV1A_OFFSET). */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}

#endif
