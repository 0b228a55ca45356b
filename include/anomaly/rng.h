/* The project's own random numbers: every random draw of the library comes
 * from here, so a run is reproducible from --seed on any machine and with
 * any thread count.
 *
 * Generator: xoshiro256** seeded through splitmix64. Independent streams are
 * derived by hashing (seed, a, b), e.g. (seed, epoch, image index), so work
 * split across threads draws the same numbers in any order. */
#ifndef ANOMALY_RNG_H
#define ANOMALY_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
/* A stream keyed by (seed, a, b): different keys give unrelated streams. */
void rng_stream(Rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t rng_u64(Rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Uniform in [lo, hi). */
double rng_range(Rng *r, double lo, double hi);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal (Box-Muller; consumes two uniforms per call). */
double rng_normal(Rng *r);

#endif
