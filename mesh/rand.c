/* xoshiro256** with splitmix64 seeding (Blackman and Vigna, public domain reference code). */
#include "mesh/rand.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

void rng_seed_os(struct rng *r) {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
  }
  rng_seed(r, seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(struct rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rng_double(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

uint32_t rng_below(struct rng *r, uint32_t n) {
  /* Lemire's multiply-shift: bias below 2^-32, negligible for our uses. */
  return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

void rng_uuid(struct rng *r, char out[37]) {
  /* On every request without an x-request-id: formatted by hand, snprintf costs more than the
   * rest of the header work. */
  static const char hex[] = "0123456789abcdef";
  uint64_t a = rng_next(r), b = rng_next(r);
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; /* version 4 */
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* variant 10 */
  unsigned char bytes[16];
  for (int i = 0; i < 8; i++) {
    bytes[i] = (unsigned char)(a >> (56 - 8 * i));
    bytes[8 + i] = (unsigned char)(b >> (56 - 8 * i));
  }
  char *p = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    *p++ = hex[bytes[i] >> 4];
    *p++ = hex[bytes[i] & 15];
  }
  *p = '\0';
}
