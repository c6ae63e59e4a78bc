/* lb: load balancers, the last routing step: which endpoint of the chosen cluster gets the
 * request (Envoy's load balancers as Istio's DestinationRule `loadBalancer` selects them).
 *
 * Where it sits: router.c picked a cluster; the resilience code (pools, breakers, outlier
 * detection) owns each endpoint's live state and passes it in as `struct lb_host` (active
 * requests, healthy, ejected); lb_pick() answers with an index or LB_NO_HEALTHY (503 UH: Istio
 * turns panic mode off, so with every host ejected or unhealthy nobody gets traffic).
 *
 * The algorithms are a small vtable registry, listed in one array in lb.c:
 *   LEAST_REQUEST  Istio's default. Power of two choices: two hosts drawn at random from the
 *                  available ones, the one with fewer active requests wins (ties: the first).
 *   ROUND_ROBIN    a cursor over the hosts, skipping unavailable ones.
 *   RANDOM         uniform over the available hosts.
 *   RING_HASH      consistentHash with ringHash (Istio's default for consistentHash): each host
 *                  gets ring_size / n points on a 64-bit ring; a key goes to the first point
 *                  clockwise from its hash, then on to the next available host.
 *   MAGLEV         consistentHash with maglev: Google's Maglev lookup table (prime size,
 *                  65537 by default); an unavailable host's slot moves on to the next slot.
 * Every random choice comes from the caller's seeded rng: the same seed gives the same picks.
 * Pure: no I/O, no clock. An lb holds only what the algorithm precomputes (cursor, ring, table).
 */
#ifndef MESH_LB_H
#define MESH_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/buf.h"
#include "mesh/http.h"
#include "mesh/rand.h"
#include "mesh/resource.h"

/* Live per-endpoint state, owned by the caller (pools and outlier detection keep it). */
struct lb_host {
  uint32_t active_requests;
  bool healthy; /* false: the registry says the replica is down */
  bool ejected; /* outlier detection ejected it */
};

enum lb_verdict {
  LB_PICKED,
  LB_NO_HEALTHY, /* 503, response flag UH */
};

/* What the pick was made from, for the decision trace. */
struct lb_pick {
  size_t index;         /* the host picked (valid with LB_PICKED) */
  size_t candidates[2]; /* LEAST_REQUEST: the two hosts drawn */
  size_t candidates_len;
  bool hashed; /* consistent hash: a key was hashed (else a random point was used) */
  uint64_t hash;
};

struct lb;

struct lb_algorithm {
  const char *name; /* "LEAST_REQUEST" ... */
  /* Precomputes from the host keys (e.g. "127.1.0.3:9080"). Returns 0 or -ENOMEM. */
  int (*init)(struct lb *lb, const char *const *keys);
  /* Picks among n hosts (n equals the count given to init). */
  enum lb_verdict (*pick)(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash, struct rng *rng,
                          struct lb_pick *out);
};

struct lb {
  const struct lb_algorithm *algorithm;
  size_t n;              /* hosts */
  size_t rr_next;        /* ROUND_ROBIN cursor */
  uint32_t size;         /* RING_HASH: minimum ring size; MAGLEV: table size (prime) */
  uint64_t *ring_hashes; /* RING_HASH: sorted points */
  uint32_t *ring_hosts;  /* RING_HASH: host of each point; MAGLEV: the table */
  size_t ring_len;
};

/* The registered algorithms, in one array a reader can see (lb.c). */
const struct lb_algorithm *lb_algorithm_find(const char *name);

/* Sets up lb for n hosts identified by keys (borrowed, used only here) with the DestinationRule
 * loadBalancer policy (NULL or not present: LEAST_REQUEST). PASSTHROUGH is served as RANDOM:
 * the lab has no original-destination routing. Returns 0, -EINVAL (maglev table size not
 * prime), or -ENOMEM; lb_free() in every case. */
int lb_init(struct lb *lb, const struct resource_load_balancer *policy, const char *const *keys, size_t n);
/* Frees what lb_init allocated. lb_free(NULL) is a no-op. */
void lb_free(struct lb *lb);

/* Picks a host. hash: the request's consistent-hash key (lb_hash_request), NULL when it has none
 * (consistent hash then draws a random point, as Envoy does). */
enum lb_verdict lb_pick(struct lb *lb, const struct lb_host *hosts, const uint64_t *hash, struct rng *rng,
                        struct lb_pick *out);

/* The 64-bit hash used for keys and ring points (FNV-1a with a splitmix64 finaliser; not
 * Envoy's xxHash, so which host a key lands on differs from Envoy, stickiness does not). */
uint64_t lb_hash(const void *p, size_t n);
/* The consistent-hash key of a request under policy h: the header's value, the cookie's value
 * (from Cookie), the source address, or the query parameter's value. Returns true and *out,
 * or false when the request does not carry it. Borrows everything. */
bool lb_hash_request(const struct resource_consistent_hash *h, const struct http_head *head, struct slice path,
                     struct slice source_address, uint64_t *out);

#endif
