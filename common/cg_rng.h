/* cg_rng: PCG32 (O'Neill, XSH-RR 64/32) random streams. Each simulator instance, actor and
 * learner owns one, derived from the run seed with cg_rng_split, so a run can be replayed.
 * Not here: global state (there is none). Threading: one generator per thread.
 * The struct is public so it can be embedded and checkpointed by value. */
#ifndef CG_RNG_H
#define CG_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t state;
    uint64_t inc; /* stream selector, always odd */
} cg_rng_t;

/* Seeds a generator on stream `stream`; equal (seed, stream) give equal sequences. */
void cg_rng_seed(cg_rng_t *rng, uint64_t seed, uint64_t stream);
/* A child generator for sub-task `index` (actor i, instance j, ...), independent of the
 * parent's later draws: it depends only on the parent's seed material and index. */
cg_rng_t cg_rng_split(const cg_rng_t *parent, uint64_t index);
/* The generator's whole state as two words (checkpoints), and back: set_state(get_state(r))
 * continues r's sequence exactly. */
void cg_rng_get_state(const cg_rng_t *r, uint64_t out[2]);
void cg_rng_set_state(cg_rng_t *r, const uint64_t in[2]);

uint32_t cg_rng_u32(cg_rng_t *rng);
uint64_t cg_rng_u64(cg_rng_t *rng);
/* Uniform integer in [0, bound), unbiased; bound > 0. */
uint32_t cg_rng_below(cg_rng_t *rng, uint32_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
double cg_rng_uniform(cg_rng_t *rng);
/* Standard normal (Box-Muller, one of the pair). */
double cg_rng_normal(cg_rng_t *rng);

/* SplitMix64 finaliser: a well-mixed 64-bit hash, used to derive seeds. */
uint64_t cg_rng_mix64(uint64_t x);

#ifdef __cplusplus
}
#endif
#endif
