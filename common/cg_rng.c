/* cg_rng: PCG32 XSH-RR with SplitMix64-derived seeds and streams. */
#include "cg_rng.h"

#include <math.h>

#define CG_PCG_MULT 6364136223846793005ULL

uint64_t cg_rng_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void cg_rng_seed(cg_rng_t *rng, uint64_t seed, uint64_t stream)
{
    rng->state = 0;
    rng->inc = (stream << 1u) | 1u;
    (void)cg_rng_u32(rng);
    rng->state += cg_rng_mix64(seed);
    (void)cg_rng_u32(rng);
}

cg_rng_t cg_rng_split(const cg_rng_t *parent, uint64_t index)
{
    /* Hash the parent's identity (its stream) and the index into a fresh seed and stream. */
    uint64_t base = cg_rng_mix64(parent->inc ^ cg_rng_mix64(parent->state));
    cg_rng_t child;
    cg_rng_seed(&child, cg_rng_mix64(base + index),
                cg_rng_mix64(base ^ (index * 0x9e3779b97f4a7c15ULL)));
    return child;
}

uint32_t cg_rng_u32(cg_rng_t *rng)
{
    uint64_t old = rng->state;
    rng->state = old * CG_PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint64_t cg_rng_u64(cg_rng_t *rng)
{
    uint64_t hi = cg_rng_u32(rng);
    return (hi << 32) | cg_rng_u32(rng);
}

uint32_t cg_rng_below(cg_rng_t *rng, uint32_t bound)
{
    /* Lemire-free classic: reject the low remainder so every value is equally likely. */
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t r = cg_rng_u32(rng);
        if (r >= threshold)
            return r % bound;
    }
}

double cg_rng_uniform(cg_rng_t *rng)
{
    return (double)(cg_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double cg_rng_normal(cg_rng_t *rng)
{
    double u1 = cg_rng_uniform(rng);
    double u2 = cg_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void cg_rng_get_state(const cg_rng_t *r, uint64_t out[2])
{
    out[0] = r->state;
    out[1] = r->inc;
}

void cg_rng_set_state(cg_rng_t *r, const uint64_t in[2])
{
    r->state = in[0];
    r->inc = in[1] | 1u; /* a stream selector is odd */
}
