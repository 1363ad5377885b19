/* instruct: the task behind the `instruct` simulator — multi-constraint instruction
 * following over a small token vocabulary. A prompt is 1..6 verifiable constraints drawn
 * from a catalogue of 13 parameterised types; it is generated from a seed together with a
 * witness text that meets every constraint, so every prompt is satisfiable by construction.
 * The policy writes a text one token per step until EOS or the length cap; the reward is the
 * fraction of constraints met. This header is the task itself (vocabulary, prompts,
 * verifiers, the held-out prompt set), shared by the simulator (instruct.c, whose table
 * cg_sim_instruct is in cg_sim.c's registry, with the held-out evaluation as its eval hooks)
 * and the tests.
 * Not here: observations and episodes (instruct.c). Threading: pure functions. */
#ifndef CG_INSTRUCT_H
#define CG_INSTRUCT_H

#include <stddef.h>
#include <stdint.h>

#include "cgrpo/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_INSTRUCT_MAX_C 6    /* constraints per prompt */
#define CG_INSTRUCT_MAX_LEN 64 /* largest length cap ([sim] horizon) */
#define CG_INSTRUCT_MAX_LETTERS 26
#define CG_INSTRUCT_DEFAULT_LEN 12 /* [sim] horizon = 0 */

/* The catalogue. x, y are tokens, k and n counts; "text" excludes the EOS. */
typedef enum {
    CG_INSTRUCT_LEN_EQ = 0,       /* exactly n tokens */
    CG_INSTRUCT_LEN_GE = 1,       /* at least n tokens */
    CG_INSTRUCT_LEN_LE = 2,       /* at most n tokens */
    CG_INSTRUCT_COUNT_GE = 3,     /* token x at least k times */
    CG_INSTRUCT_COUNT_EQ = 4,     /* token x exactly k times */
    CG_INSTRUCT_FORBID = 5,       /* token x never */
    CG_INSTRUCT_STARTS = 6,       /* first token is x */
    CG_INSTRUCT_ENDS = 7,         /* last token is x */
    CG_INSTRUCT_NO_REPEAT = 8,    /* no token twice in a row */
    CG_INSTRUCT_SENTENCES = 9,    /* exactly k sentences: k '.', the last token a '.', and no
                                   * '.' first or right after another '.' (no empty sentence) */
    CG_INSTRUCT_BIGRAM = 10,      /* x immediately followed by y somewhere */
    CG_INSTRUCT_VOWELS_GE = 11,   /* at least k vowels (a e i o u among the letters) */
    CG_INSTRUCT_DISTINCT_GE = 12, /* at least k distinct letters */
    CG_INSTRUCT_N_TYPES = 13,
} cg_instruct_type_t;

typedef struct {
    int32_t type; /* cg_instruct_type_t */
    int32_t x, y; /* tokens (unused ones are -1) */
    int32_t k;    /* n or k (unused: 0) */
} cg_instruct_constraint_t;

/* The vocabulary and prompt distribution. Tokens: 0..letters-1 are 'a'.., then '.' and ','
 * (text tokens: letters + 2), then EOS (actions: letters + 3). */
typedef struct {
    int32_t letters;         /* 2..26 */
    int32_t max_len;         /* length cap H, 4..CG_INSTRUCT_MAX_LEN */
    int32_t min_constraints; /* 1..6 */
    int32_t max_constraints; /* min..6 */
} cg_instruct_spec_t;

typedef struct {
    int32_t n; /* C, the number of constraints */
    cg_instruct_constraint_t c[CG_INSTRUCT_MAX_C];
    int32_t witness_len; /* a text that meets all of them */
    int32_t witness[CG_INSTRUCT_MAX_LEN];
} cg_instruct_prompt_t;

/* The spec from the instruct simulator's parameters: p->values in cg_sim_instruct's key
 * order ([instruct] letters, min_constraints, max_constraints, verbosity), p->horizon the
 * length cap with 0 -> CG_INSTRUCT_DEFAULT_LEN. Checks every rule (verbosity too, although
 * the spec does not hold it). 0, or -1 with a message naming the key, ending in a hint. */
int cg_instruct_spec_from(const cg_sim_params_t *p, cg_instruct_spec_t *spec, char *err,
                          size_t errlen);

/* The reward of a text meeting `met` of C constraints: met / C, or with [instruct] strict
 * all-or-nothing (1 when met == C, else 0). */
static inline float cg_instruct_reward(int strict, int32_t met, int32_t C)
{
    return strict ? (met == C ? 1.0f : 0.0f) : (float)met / (float)C;
}

static inline int32_t cg_instruct_dot(const cg_instruct_spec_t *s)
{
    return s->letters;
}
static inline int32_t cg_instruct_comma(const cg_instruct_spec_t *s)
{
    return s->letters + 1;
}
static inline int32_t cg_instruct_eos(const cg_instruct_spec_t *s)
{
    return s->letters + 2;
}
static inline int32_t cg_instruct_n_text(const cg_instruct_spec_t *s)
{
    return s->letters + 2;
}
/* 1 if token is a vowel letter (a e i o u). */
int cg_instruct_is_vowel(const cg_instruct_spec_t *spec, int32_t token);

/* The prompt of init_seed: the same seed gives the same prompt (and witness) for the same
 * spec. C is uniform in [min, max]; the C types are distinct and uniform over the
 * catalogue; the witness meets every constraint (checked here, an always-on assert). */
void cg_instruct_prompt(const cg_instruct_spec_t *spec, uint64_t init_seed,
                        cg_instruct_prompt_t *out);

/* 1 if text (len tokens, no EOS) meets c, else 0. */
int cg_instruct_check(const cg_instruct_spec_t *spec, const cg_instruct_constraint_t *c,
                      const int32_t *text, int32_t len);
/* Number of the prompt's constraints the text meets; met (prompt->n) or NULL gets each. */
int32_t cg_instruct_score(const cg_instruct_spec_t *spec, const cg_instruct_prompt_t *prompt,
                          const int32_t *text, int32_t len, uint8_t *met);

/* The i-th prompt seed of the fixed held-out set (i >= 0); `cgrpo eval` uses 0..N-1. */
uint64_t cg_instruct_heldout_seed(int64_t i);

/* Short name of a type ("len_eq", ...), "?" if out of range. */
const char *cg_instruct_type_name(int32_t type);
/* Writes the constraint in words ("token 'c' at least 2 times") into buf. */
void cg_instruct_describe(const cg_instruct_spec_t *spec, const cg_instruct_constraint_t *c,
                          char *buf, size_t n);
/* Writes a text as characters ("abc.ba,"), EOS not included. */
void cg_instruct_render(const cg_instruct_spec_t *spec, const int32_t *text, int32_t len, char *buf,
                        size_t n);

#ifdef __cplusplus
}
#endif
#endif
