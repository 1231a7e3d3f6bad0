/* rng.c — see rng.h. */
#include "rng.h"

#include <math.h>

float cnn_rng_normal(cnn_rng *r)
{
    float u1 = cnn_rng_uniform(r), u2 = cnn_rng_uniform(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}
