/* rng.h — explicit-state random numbers (splitmix64 seeding a xoshiro128+-style generator is
 * overkill here: splitmix64 alone is fast, statistically fine for init and augmentation, and
 * reproducible across platforms). The state is a plain struct passed by pointer. */
#ifndef CNN_RNG_H
#define CNN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s;
} cnn_rng;

static inline cnn_rng cnn_rng_seed(uint64_t seed) { return (cnn_rng){seed * 0x9E3779B97F4A7C15ull + 1}; }

static inline uint64_t cnn_rng_next(cnn_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline float cnn_rng_uniform(cnn_rng *r) { return (float)(cnn_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

/* Standard normal (Box-Muller). */
float cnn_rng_normal(cnn_rng *r);

#endif
