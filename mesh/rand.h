/* The seeded random source every policy draws from.
 *
 * Load balancing picks, fault rolls and request ids all come from a `struct rng` passed in by
 * the owner (the sidecar, the lab), never from rand(): a run started with the same `--seed`
 * makes the same choices, which is what lets a lesson be replayed. xoshiro256** seeded through
 * splitmix64, as the authors recommend.
 */
#ifndef MESH_RAND_H
#define MESH_RAND_H

#include <stdint.h>

struct rng {
  uint64_t s[4];
};

/* Seeds the generator; the same seed gives the same sequence. */
void rng_seed(struct rng *r, uint64_t seed);
/* Seeds from the operating system's entropy (for runs without --seed). */
void rng_seed_os(struct rng *r);
/* Returns the next 64 random bits. */
uint64_t rng_next(struct rng *r);
/* Returns a uniform double in [0, 1). */
double rng_double(struct rng *r);
/* Returns a uniform integer in [0, n), n > 0, without modulo bias worth mentioning. */
uint32_t rng_below(struct rng *r, uint32_t n);
/* Writes a version-4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") and a NUL into out[37]. */
void rng_uuid(struct rng *r, char out[37]);

#endif
