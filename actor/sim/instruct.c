/* instruct: multi-constraint instruction following (DESIGN.md section 5). The task
 * (prompts, verifiers, held-out set; instruct.h) and the simulator around it: a policy
 * writes one token per step until EOS or the length cap, sees the prompt's constraints
 * with its running progress on each, and earns the fraction of constraints met (with
 * strict, 1 only when all are). Its eval hooks run `cgrpo eval` on the held-out prompt set.
 * Keys: [instruct] letters, min_constraints, max_constraints, verbosity, strict.
 * docs/simulators.md lists the catalogue and the observation layout. */
#include "instruct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_rng.h"
#include "cg_sim.h"

#define S_PROMPT_STREAM 0x696e737472756374ULL /* "instruct" */
#define S_HELDOUT_BASE 0x68656c646f7574ULL    /* "heldout" */
#define S_MAX_TRIES 1000

static const char *const s_TYPE_NAMES[CG_INSTRUCT_N_TYPES] = {
    "len_eq", "len_ge",    "len_le",    "count_ge", "count_eq",  "forbid",      "starts",
    "ends",   "no_repeat", "sentences", "bigram",   "vowels_ge", "distinct_ge",
};

const char *cg_instruct_type_name(int32_t type)
{
    return type >= 0 && type < CG_INSTRUCT_N_TYPES ? s_TYPE_NAMES[type] : "?";
}

/* The [instruct] keys, in table order (cg_instruct_spec_from reads them by these indices). */
enum {
    S_KEY_LETTERS = 0,
    S_KEY_MIN_C = 1,
    S_KEY_MAX_C = 2,
    S_KEY_VERBOSITY = 3,
    S_KEY_STRICT = 4,
    S_N_KEYS = 5,
};

static const cg_sim_key_t s_keys[S_N_KEYS] = {
    [S_KEY_LETTERS] = {"letters", CG_SIM_INT, "6", 2, CG_INSTRUCT_MAX_LETTERS,
                       "letters in the vocabulary (a..), then '.', ',' and EOS"},
    [S_KEY_MIN_C] = {"min_constraints", CG_SIM_INT, "1", 1, CG_INSTRUCT_MAX_C,
                     "fewest constraints per prompt"},
    [S_KEY_MAX_C] = {"max_constraints", CG_SIM_INT, "6", 1, CG_INSTRUCT_MAX_C,
                     "most constraints per prompt"},
    [S_KEY_VERBOSITY] = {"verbosity", CG_SIM_INT, "8", 0, 1000000,
                         "the verbosity cost fires for texts longer than this many tokens; 0 = "
                         "never"},
    [S_KEY_STRICT] = {"strict", CG_SIM_BOOL, "false", 0, 0,
                      "all-or-nothing reward: 1 when the text meets every constraint, else 0 "
                      "(false: the fraction met)"},
};

int cg_instruct_spec_from(const cg_sim_params_t *p, cg_instruct_spec_t *spec, char *err,
                          size_t errlen)
{
    CG_ASSERT(p && p->values && spec);
    int64_t letters = p->values[S_KEY_LETTERS].i, verbosity = p->values[S_KEY_VERBOSITY].i;
    int64_t lo = p->values[S_KEY_MIN_C].i, hi = p->values[S_KEY_MAX_C].i;
    int32_t h = p->horizon > 0 ? p->horizon : CG_INSTRUCT_DEFAULT_LEN;
    if (p->horizon < 0 || h < 4 || h > CG_INSTRUCT_MAX_LEN) {
        cg_status_msg(err, errlen,
                      "[sim] horizon: %d is out of range for instruct (hint: the "
                      "length cap in tokens, 4 to %d; 0 = %d)",
                      p->horizon, CG_INSTRUCT_MAX_LEN, CG_INSTRUCT_DEFAULT_LEN);
        return -1;
    }
    if (letters < 2 || letters > CG_INSTRUCT_MAX_LETTERS) {
        cg_status_msg(err, errlen, "[instruct] letters: %lld is out of range (hint: 2 to %d)",
                      (long long)letters, CG_INSTRUCT_MAX_LETTERS);
        return -1;
    }
    if (lo < 1 || lo > CG_INSTRUCT_MAX_C || hi < 1 || hi > CG_INSTRUCT_MAX_C) {
        cg_status_msg(err, errlen, "[instruct] %s: %lld is out of range (hint: 1 to %d)",
                      lo < 1 || lo > CG_INSTRUCT_MAX_C ? "min_constraints" : "max_constraints",
                      (long long)(lo < 1 || lo > CG_INSTRUCT_MAX_C ? lo : hi), CG_INSTRUCT_MAX_C);
        return -1;
    }
    if (lo > hi) {
        cg_status_msg(err, errlen,
                      "[instruct] min_constraints: %lld is above [instruct] "
                      "max_constraints = %lld (hint: prompts have min_constraints to "
                      "max_constraints constraints; raise max_constraints or lower "
                      "min_constraints)",
                      (long long)lo, (long long)hi);
        return -1;
    }
    if (verbosity < 0 || verbosity > 1000000) {
        cg_status_msg(err, errlen,
                      "[instruct] verbosity: %lld is out of range (hint: a length "
                      "in tokens, 0 to 1000000; 0 = the cost never fires)",
                      (long long)verbosity);
        return -1;
    }
    spec->letters = (int32_t)letters;
    spec->max_len = h;
    spec->min_constraints = (int32_t)lo;
    spec->max_constraints = (int32_t)hi;
    return 0;
}

int cg_instruct_is_vowel(const cg_instruct_spec_t *spec, int32_t token)
{
    if (token < 0 || token >= spec->letters)
        return 0;
    char ch = (char)('a' + token);
    return ch == 'a' || ch == 'e' || ch == 'i' || ch == 'o' || ch == 'u';
}

/* ---- verifiers ---------------------------------------------------------------------------- */

static int32_t s_count(const int32_t *text, int32_t len, int32_t x)
{
    int32_t c = 0;
    for (int32_t i = 0; i < len; i++)
        c += text[i] == x;
    return c;
}

static int32_t s_distinct_letters(const cg_instruct_spec_t *spec, const int32_t *text, int32_t len)
{
    uint32_t mask = 0;
    for (int32_t i = 0; i < len; i++)
        if (text[i] >= 0 && text[i] < spec->letters)
            mask |= 1u << text[i];
    return __builtin_popcount(mask);
}

static int32_t s_vowels(const cg_instruct_spec_t *spec, const int32_t *text, int32_t len)
{
    int32_t v = 0;
    for (int32_t i = 0; i < len; i++)
        v += cg_instruct_is_vowel(spec, text[i]);
    return v;
}

/* Sentence structure without the count: non-empty, ends with '.', no '.' first or after '.'. */
static int s_sentence_shaped(const cg_instruct_spec_t *spec, const int32_t *text, int32_t len)
{
    int32_t dot = cg_instruct_dot(spec);
    if (len == 0 || text[len - 1] != dot || text[0] == dot)
        return 0;
    for (int32_t i = 1; i < len; i++)
        if (text[i] == dot && text[i - 1] == dot)
            return 0;
    return 1;
}

int cg_instruct_check(const cg_instruct_spec_t *spec, const cg_instruct_constraint_t *c,
                      const int32_t *text, int32_t len)
{
    CG_ASSERT(spec && c && (text || len == 0) && len >= 0);
    switch ((cg_instruct_type_t)c->type) {
    case CG_INSTRUCT_LEN_EQ: return len == c->k;
    case CG_INSTRUCT_LEN_GE: return len >= c->k;
    case CG_INSTRUCT_LEN_LE: return len <= c->k;
    case CG_INSTRUCT_COUNT_GE: return s_count(text, len, c->x) >= c->k;
    case CG_INSTRUCT_COUNT_EQ: return s_count(text, len, c->x) == c->k;
    case CG_INSTRUCT_FORBID: return s_count(text, len, c->x) == 0;
    case CG_INSTRUCT_STARTS: return len > 0 && text[0] == c->x;
    case CG_INSTRUCT_ENDS: return len > 0 && text[len - 1] == c->x;
    case CG_INSTRUCT_NO_REPEAT:
        for (int32_t i = 1; i < len; i++)
            if (text[i] == text[i - 1])
                return 0;
        return 1;
    case CG_INSTRUCT_SENTENCES:
        return s_sentence_shaped(spec, text, len) &&
               s_count(text, len, cg_instruct_dot(spec)) == c->k;
    case CG_INSTRUCT_BIGRAM:
        for (int32_t i = 0; i + 1 < len; i++)
            if (text[i] == c->x && text[i + 1] == c->y)
                return 1;
        return 0;
    case CG_INSTRUCT_VOWELS_GE: return s_vowels(spec, text, len) >= c->k;
    case CG_INSTRUCT_DISTINCT_GE: return s_distinct_letters(spec, text, len) >= c->k;
    case CG_INSTRUCT_N_TYPES: break;
    }
    CG_ASSERT(0 && "unknown instruct constraint type");
    return 0;
}

int32_t cg_instruct_score(const cg_instruct_spec_t *spec, const cg_instruct_prompt_t *prompt,
                          const int32_t *text, int32_t len, uint8_t *met)
{
    int32_t n = 0;
    for (int32_t i = 0; i < prompt->n; i++) {
        int ok = cg_instruct_check(spec, &prompt->c[i], text, len);
        if (met)
            met[i] = (uint8_t)ok;
        n += ok;
    }
    return n;
}

/* ---- prompts ------------------------------------------------------------------------------ */

/* A witness text: length in [lo, hi]; letters weigh 4, ',' 1, '.' 1 (3 when the text must
 * be sentence-shaped, which also forces the last '.' and keeps '.' off the first place and
 * off the place before the last). Never `forbid` (-1: none); no repeats when norep. */
static int32_t s_witness(const cg_instruct_spec_t *spec, cg_rng_t *rng, int sentences, int norep,
                         int32_t forbid, int32_t *w)
{
    int32_t H = spec->max_len, L = spec->letters, dot = cg_instruct_dot(spec);
    int32_t lo = H / 4 > 2 ? H / 4 : 2, hi = H - 2 > lo ? H - 2 : lo;
    int32_t n = lo + (int32_t)cg_rng_below(rng, (uint32_t)(hi - lo + 1));
    for (int32_t p = 0; p < n; p++) {
        int32_t prev = p > 0 ? w[p - 1] : -1;
        if (sentences && p == n - 1) {
            w[p] = dot; /* prev is never '.' here, see below */
            continue;
        }
        int32_t cand[CG_INSTRUCT_MAX_LETTERS + 2], weight[CG_INSTRUCT_MAX_LETTERS + 2];
        int32_t nc = 0, total = 0;
        for (int32_t tok = 0; tok < L + 2; tok++) {
            if (tok == forbid || (norep && tok == prev))
                continue;
            if (tok == dot && sentences && (p == 0 || prev == dot || p == n - 2))
                continue;
            cand[nc] = tok;
            weight[nc] = tok < L ? 4 : (tok == dot && sentences ? 3 : 1);
            total += weight[nc++];
        }
        CG_ASSERT(nc > 0);
        int32_t r = (int32_t)cg_rng_below(rng, (uint32_t)total), i = 0;
        while (r >= weight[i])
            r -= weight[i++];
        w[p] = cand[i];
    }
    return n;
}

static int s_cmp_type(const void *a, const void *b)
{
    const cg_instruct_constraint_t *x = a, *y = b;
    return (x->type > y->type) - (x->type < y->type);
}

/* Constraint c (its type set) gets its parameters, read off the witness w (n tokens); forbid
 * is the token the witness avoids, if c forbids one. */
static void s_constraint_params(const cg_instruct_spec_t *spec, cg_rng_t *rng, const int32_t *w,
                                int32_t n, int32_t forbid, cg_instruct_constraint_t *c)
{
    const int32_t H = spec->max_len, dot = cg_instruct_dot(spec);
    c->x = c->y = -1;
    c->k = 0;
    switch ((cg_instruct_type_t)c->type) {
    case CG_INSTRUCT_LEN_EQ: c->k = n; break;
    case CG_INSTRUCT_LEN_GE: {
        int32_t slack = n - 1 < 3 ? n - 1 : 3;
        c->k = n - (int32_t)cg_rng_below(rng, (uint32_t)slack + 1);
        break;
    }
    case CG_INSTRUCT_LEN_LE: {
        int32_t slack = H - n < 3 ? H - n : 3;
        c->k = n + (int32_t)cg_rng_below(rng, (uint32_t)slack + 1);
        break;
    }
    case CG_INSTRUCT_COUNT_GE:
        c->x = w[cg_rng_below(rng, (uint32_t)n)];
        c->k = 1 + (int32_t)cg_rng_below(rng, (uint32_t)s_count(w, n, c->x));
        break;
    case CG_INSTRUCT_COUNT_EQ:
        c->x = w[cg_rng_below(rng, (uint32_t)n)];
        c->k = s_count(w, n, c->x);
        break;
    case CG_INSTRUCT_FORBID: c->x = forbid; break;
    case CG_INSTRUCT_STARTS: c->x = w[0]; break;
    case CG_INSTRUCT_ENDS: c->x = w[n - 1]; break;
    case CG_INSTRUCT_NO_REPEAT: break;
    case CG_INSTRUCT_SENTENCES: c->k = s_count(w, n, dot); break;
    case CG_INSTRUCT_BIGRAM: {
        int32_t p = (int32_t)cg_rng_below(rng, (uint32_t)(n - 1));
        c->x = w[p];
        c->y = w[p + 1];
        break;
    }
    case CG_INSTRUCT_VOWELS_GE:
        c->k = 1 + (int32_t)cg_rng_below(rng, (uint32_t)s_vowels(spec, w, n));
        break;
    case CG_INSTRUCT_DISTINCT_GE: {
        int32_t d = s_distinct_letters(spec, w, n), slack = d - 1 < 2 ? d - 1 : 2;
        c->k = d - (int32_t)cg_rng_below(rng, (uint32_t)slack + 1);
        break;
    }
    case CG_INSTRUCT_N_TYPES: CG_ASSERT(0);
    }
}

void cg_instruct_prompt(const cg_instruct_spec_t *spec, uint64_t init_seed,
                        cg_instruct_prompt_t *out)
{
    CG_ASSERT(spec && out);
    CG_ASSERT(spec->letters >= 2 && spec->letters <= CG_INSTRUCT_MAX_LETTERS);
    CG_ASSERT(spec->max_len >= 4 && spec->max_len <= CG_INSTRUCT_MAX_LEN);
    CG_ASSERT(spec->min_constraints >= 1 && spec->min_constraints <= spec->max_constraints &&
              spec->max_constraints <= CG_INSTRUCT_MAX_C);
    memset(out, 0, sizeof *out);
    cg_rng_t rng;
    cg_rng_seed(&rng, init_seed, S_PROMPT_STREAM);
    int32_t T = cg_instruct_n_text(spec), dot = cg_instruct_dot(spec);

    /* C distinct types, uniform over the catalogue (a partial Fisher-Yates shuffle). */
    int32_t C =
        spec->min_constraints +
        (int32_t)cg_rng_below(&rng, (uint32_t)(spec->max_constraints - spec->min_constraints + 1));
    int32_t types[CG_INSTRUCT_N_TYPES];
    for (int32_t i = 0; i < CG_INSTRUCT_N_TYPES; i++)
        types[i] = i;
    int need[CG_INSTRUCT_N_TYPES] = {0};
    for (int32_t i = 0; i < C; i++) {
        int32_t j = i + (int32_t)cg_rng_below(&rng, (uint32_t)(CG_INSTRUCT_N_TYPES - i));
        int32_t t = types[i];
        types[i] = types[j];
        types[j] = t;
        need[types[i]] = 1;
    }

    /* A witness meeting the structural demands, then parameters read off it. */
    int32_t *w = out->witness, n = 0;
    int32_t forbid = -1;
    for (int tries = 0;; tries++) {
        CG_ASSERT(tries < S_MAX_TRIES); /* each try succeeds with probability > 1/2 */
        forbid = -1;
        if (need[CG_INSTRUCT_FORBID]) {
            /* Never '.' when sentences are asked for, never a vowel when vowels are (with
             * two letters 'a' is the only one); ',' always qualifies. */
            int32_t cand[CG_INSTRUCT_MAX_LETTERS + 2], nc = 0;
            for (int32_t tok = 0; tok < T; tok++)
                if (!(tok == dot && need[CG_INSTRUCT_SENTENCES]) &&
                    !(need[CG_INSTRUCT_VOWELS_GE] && cg_instruct_is_vowel(spec, tok)))
                    cand[nc++] = tok;
            forbid = cand[cg_rng_below(&rng, (uint32_t)nc)];
        }
        n = s_witness(spec, &rng, need[CG_INSTRUCT_SENTENCES], need[CG_INSTRUCT_NO_REPEAT], forbid,
                      w);
        if (need[CG_INSTRUCT_VOWELS_GE] && s_vowels(spec, w, n) == 0)
            continue;
        if (need[CG_INSTRUCT_DISTINCT_GE] && s_distinct_letters(spec, w, n) == 0)
            continue;
        break;
    }
    out->witness_len = n;

    out->n = C;
    for (int32_t i = 0; i < C; i++) {
        out->c[i].type = types[i];
        s_constraint_params(spec, &rng, w, n, forbid, &out->c[i]);
    }
    qsort(out->c, (size_t)C, sizeof out->c[0], s_cmp_type);
    /* Satisfiable by construction: the witness meets every constraint. */
    CG_ASSERT(cg_instruct_score(spec, out, w, n, NULL) == C);
}

uint64_t cg_instruct_heldout_seed(int64_t i)
{
    CG_ASSERT(i >= 0);
    return cg_rng_mix64(S_HELDOUT_BASE ^ cg_rng_mix64((uint64_t)i));
}

static char s_token_char(const cg_instruct_spec_t *spec, int32_t tok)
{
    if (tok >= 0 && tok < spec->letters)
        return (char)('a' + tok);
    if (tok == cg_instruct_dot(spec))
        return '.';
    if (tok == cg_instruct_comma(spec))
        return ',';
    return '?';
}

void cg_instruct_render(const cg_instruct_spec_t *spec, const int32_t *text, int32_t len, char *buf,
                        size_t n)
{
    if (n == 0)
        return;
    size_t o = 0;
    for (int32_t i = 0; i < len && o + 1 < n; i++)
        buf[o++] = s_token_char(spec, text[i]);
    buf[o] = '\0';
}

void cg_instruct_describe(const cg_instruct_spec_t *spec, const cg_instruct_constraint_t *c,
                          char *buf, size_t n)
{
    char x = s_token_char(spec, c->x), y = s_token_char(spec, c->y);
    switch ((cg_instruct_type_t)c->type) {
    case CG_INSTRUCT_LEN_EQ: snprintf(buf, n, "exactly %d tokens", c->k); return;
    case CG_INSTRUCT_LEN_GE: snprintf(buf, n, "at least %d tokens", c->k); return;
    case CG_INSTRUCT_LEN_LE: snprintf(buf, n, "at most %d tokens", c->k); return;
    case CG_INSTRUCT_COUNT_GE: snprintf(buf, n, "'%c' at least %d times", x, c->k); return;
    case CG_INSTRUCT_COUNT_EQ: snprintf(buf, n, "'%c' exactly %d times", x, c->k); return;
    case CG_INSTRUCT_FORBID: snprintf(buf, n, "no '%c'", x); return;
    case CG_INSTRUCT_STARTS: snprintf(buf, n, "starts with '%c'", x); return;
    case CG_INSTRUCT_ENDS: snprintf(buf, n, "ends with '%c'", x); return;
    case CG_INSTRUCT_NO_REPEAT: snprintf(buf, n, "no token twice in a row"); return;
    case CG_INSTRUCT_SENTENCES: snprintf(buf, n, "exactly %d sentences", c->k); return;
    case CG_INSTRUCT_BIGRAM: snprintf(buf, n, "contains \"%c%c\"", x, y); return;
    case CG_INSTRUCT_VOWELS_GE: snprintf(buf, n, "at least %d vowels", c->k); return;
    case CG_INSTRUCT_DISTINCT_GE: snprintf(buf, n, "at least %d distinct letters", c->k); return;
    case CG_INSTRUCT_N_TYPES: break;
    }
    snprintf(buf, n, "?");
}

/* ---- the simulator ------------------------------------------------------------------------ */

/* An instance keeps its episode's prompt and text after the episode ends, until the next
 * reset: the eval hooks read them. */
typedef struct {
    uint64_t init_seed; /* the prompt's */
    cg_instruct_prompt_t prompt;
    int32_t active[CG_INSTRUCT_N_TYPES]; /* index into prompt.c, or -1 */
    int32_t text[CG_INSTRUCT_MAX_LEN];
    int32_t len;
    int8_t running, finished;
} s_inst_t;

typedef struct {
    int32_t n;
    cg_instruct_spec_t spec;
    int32_t verbosity; /* the cost fires when len > verbosity; 0 = never */
    int32_t strict;    /* reward 1 only when every constraint is met */
    int32_t obs_dim;
    s_inst_t *inst; /* (n) */
} s_instruct_t;

/* Observation layout (docs/simulators.md). T text tokens, L letters, H the cap:
 *   t/H, (H-t)/H, previous token one-hot (T+1, last = none yet), count of each text token / H
 *   (T), constraints met if the text ended now / C, C/6, letters used so far (L);
 *   then per catalogue type, in type order: active, met now, and its own features. */
static int32_t s_obs_dim(int32_t T, int32_t L)
{
    int32_t global = 2 + (T + 1) + T + 2 + L;
    int32_t extras = 3 + 2 + 2 + (T + 2) + (T + 2) + T + T + T + 0 + 3 + (2 * T + 1) + 2 + 2;
    return global + 2 * CG_INSTRUCT_N_TYPES + extras;
}

static void s_onehot(float *o, int32_t n, int32_t i)
{
    memset(o, 0, (size_t)n * sizeof *o);
    if (i >= 0 && i < n)
        o[i] = 1.0f;
}

static void s_observe(const s_instruct_t *self, const s_inst_t *s, float *obs)
{
    const cg_instruct_spec_t *sp = &self->spec;
    int32_t T = cg_instruct_n_text(sp), L = sp->letters, t = s->len;
    float H = (float)sp->max_len;
    const int32_t *text = s->text;
    int32_t prev = t > 0 ? text[t - 1] : -1;
    int32_t count[CG_INSTRUCT_MAX_LETTERS + 2] = {0};
    uint32_t used = 0;
    for (int32_t i = 0; i < t; i++) {
        count[text[i]]++;
        if (text[i] < L)
            used |= 1u << text[i];
    }
    uint8_t met[CG_INSTRUCT_MAX_C];
    int32_t n_met = cg_instruct_score(sp, &s->prompt, text, t, met);

    float *o = obs;
    *o++ = (float)t / H;
    *o++ = (H - (float)t) / H;
    s_onehot(o, T + 1, prev >= 0 ? prev : T);
    o += T + 1;
    for (int32_t x = 0; x < T; x++)
        *o++ = (float)count[x] / H;
    *o++ = (float)n_met / (float)s->prompt.n;
    *o++ = (float)s->prompt.n / (float)CG_INSTRUCT_MAX_C;
    for (int32_t x = 0; x < L; x++)
        *o++ = (used >> x) & 1u ? 1.0f : 0.0f;

    for (int32_t type = 0; type < CG_INSTRUCT_N_TYPES; type++) {
        int32_t idx = s->active[type];
        const cg_instruct_constraint_t *c = idx >= 0 ? &s->prompt.c[idx] : NULL;
        *o++ = c ? 1.0f : 0.0f;
        *o++ = c && met[idx] ? 1.0f : 0.0f;
        int32_t k = c ? c->k : 0, x = c ? c->x : -1, y = c ? c->y : -1;
        switch ((cg_instruct_type_t)type) {
        case CG_INSTRUCT_LEN_EQ:
            *o++ = c ? (float)k / H : 0.0f;
            *o++ = c ? (float)(k - t) / H : 0.0f;
            *o++ = c && t > k ? 1.0f : 0.0f;
            break;
        case CG_INSTRUCT_LEN_GE:
        case CG_INSTRUCT_LEN_LE:
            *o++ = c ? (float)k / H : 0.0f;
            *o++ = c ? (float)(k - t) / H : 0.0f;
            break;
        case CG_INSTRUCT_COUNT_GE:
        case CG_INSTRUCT_COUNT_EQ:
            s_onehot(o, T, x);
            o += T;
            *o++ = c ? (float)k / H : 0.0f;
            *o++ = c ? (float)(k - count[x]) / H : 0.0f;
            break;
        case CG_INSTRUCT_FORBID:
        case CG_INSTRUCT_STARTS:
        case CG_INSTRUCT_ENDS:
            s_onehot(o, T, x);
            o += T;
            break;
        case CG_INSTRUCT_NO_REPEAT: break;
        case CG_INSTRUCT_SENTENCES: {
            int32_t dots = count[cg_instruct_dot(sp)];
            int broken = 0; /* a '.' first or after a '.': no text with this prefix can pass */
            for (int32_t i = 0; i < t; i++)
                broken |= text[i] == cg_instruct_dot(sp) && (i == 0 || text[i - 1] == text[i]);
            *o++ = c ? (float)k / H : 0.0f;
            *o++ = c ? (float)(k - dots) / H : 0.0f;
            *o++ = c && broken ? 1.0f : 0.0f;
            break;
        }
        case CG_INSTRUCT_BIGRAM:
            s_onehot(o, T, x);
            o += T;
            s_onehot(o, T, y);
            o += T;
            *o++ = c && prev == x ? 1.0f : 0.0f;
            break;
        case CG_INSTRUCT_VOWELS_GE:
            *o++ = c ? (float)k / H : 0.0f;
            *o++ = c ? (float)(k - s_vowels(sp, text, t)) / H : 0.0f;
            break;
        case CG_INSTRUCT_DISTINCT_GE:
            *o++ = c ? (float)k / (float)L : 0.0f;
            *o++ = c ? (float)(k - __builtin_popcount(used)) / (float)L : 0.0f;
            break;
        case CG_INSTRUCT_N_TYPES: break;
        }
    }
    CG_ASSERT(o - obs == self->obs_dim);
}

static int s_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen)
{
    cg_instruct_spec_t spec;
    if (cg_instruct_spec_from(p, &spec, err, errlen) != 0)
        return -1;
    memset(info, 0, sizeof *info);
    info->obs_dim = s_obs_dim(cg_instruct_n_text(&spec), spec.letters);
    info->n_actions = cg_instruct_eos(&spec) + 1;
    info->n_costs = 1;
    snprintf(info->cost_names[0], CG_SIM_NAME_LEN, "verbosity");
    info->default_threshold[0] = -1.0f; /* a cost to study, not enforced unless configured */
    info->max_steps = spec.max_len;
    return 0;
}

static void s_destroy(void *ctx)
{
    s_instruct_t *self = ctx;
    if (!self)
        return;
    free(self->inst);
    free(self);
}

static void *s_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    (void)seed; /* nothing random but the prompt, which init_seed draws */
    cg_instruct_spec_t spec;
    if (cg_instruct_spec_from(p, &spec, err, errlen) != 0)
        return NULL;
    s_instruct_t *self = cg_calloc(1, sizeof *self);
    self->n = n;
    self->spec = spec;
    self->verbosity = (int32_t)p->values[S_KEY_VERBOSITY].i;
    self->strict = p->values[S_KEY_STRICT].i != 0;
    self->obs_dim = s_obs_dim(cg_instruct_n_text(&spec), spec.letters);
    self->inst = cg_calloc((size_t)n, sizeof *self->inst);
    return self;
}

static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_instruct_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    s->init_seed = init_seed;
    cg_instruct_prompt(&self->spec, init_seed, &s->prompt);
    for (int32_t type = 0; type < CG_INSTRUCT_N_TYPES; type++)
        s->active[type] = -1;
    for (int32_t j = 0; j < s->prompt.n; j++)
        s->active[s->prompt.c[j].type] = j;
    s->len = 0;
    s->running = 1;
    s->finished = 0;
    s_observe(self, s, obs);
}

/* One token of one instance: EOS ends the text, any other token is appended; the cap ends
 * it too. Returns 1 when the episode is over. */
static int s_step_one(s_instruct_t *self, s_inst_t *s, int32_t action, float *obs)
{
    CG_ASSERT(s->running);
    CG_ASSERT(action >= 0 && action <= cg_instruct_eos(&self->spec));
    int done = action == cg_instruct_eos(&self->spec);
    if (!done) {
        s->text[s->len++] = action;
        done = s->len >= self->spec.max_len;
    }
    if (done) {
        s->running = 0;
        s->finished = 1;
    }
    s_observe(self, s, obs);
    return done;
}

static void s_step(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                   uint8_t *done)
{
    s_instruct_t *self = ctx;
    for (int32_t k = 0; k < n; k++) {
        CG_ASSERT(idx[k] >= 0 && idx[k] < self->n);
        float *row = obs + (size_t)idx[k] * (size_t)self->obs_dim;
        done[k] = (uint8_t)s_step_one(self, &self->inst[idx[k]], actions[k], row);
    }
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    s_instruct_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    CG_ASSERT(s->finished);
    memset(out, 0, sizeof *out);
    int32_t met = cg_instruct_score(&self->spec, &s->prompt, s->text, s->len, NULL);
    out->reward = cg_instruct_reward(self->strict, met, s->prompt.n);
    out->cost[0] = self->verbosity > 0 && s->len > self->verbosity ? 1.0f : 0.0f;
    out->n_checks = s->prompt.n;
    out->success = met == s->prompt.n;
}

/* ---- `cgrpo eval`: the held-out prompt set, strictly checked ------------------------------ */

/* Per-number-of-constraints and per-type tallies of the held-out evaluation. */
typedef struct {
    cg_instruct_spec_t spec;
    long episodes;
    long n[CG_INSTRUCT_MAX_C + 1];   /* prompts with C constraints */
    long all[CG_INSTRUCT_MAX_C + 1]; /* ... of which every constraint was met */
    double frac[CG_INSTRUCT_MAX_C + 1];
    long type_n[CG_INSTRUCT_N_TYPES], type_met[CG_INSTRUCT_N_TYPES];
    double len_sum;
} s_tally_t;

static uint64_t s_eval_seed(const cg_sim_params_t *p, int64_t i)
{
    (void)p;
    return cg_instruct_heldout_seed(i);
}

static void *s_eval_begin(const cg_sim_params_t *p)
{
    s_tally_t *t = cg_calloc(1, sizeof *t);
    char err[256];
    if (cg_instruct_spec_from(p, &t->spec, err, sizeof err) != 0) {
        free(t); /* describe accepted p, so this does not happen */
        return NULL;
    }
    return t;
}

/* Re-checks the finished episode independently of the simulator's bookkeeping: the prompt
 * regenerated from its seed, the text scored by the verifiers (a constraint counts only if
 * its check passes on the text as written); both must agree with the result. */
static int s_eval_episode(void *tally, void *ctx, int32_t i, const cg_sim_result_t *res, char *err,
                          size_t errlen)
{
    s_tally_t *t = tally;
    s_instruct_t *self = ctx;
    CG_ASSERT(t && self && res && i >= 0 && i < self->n);
    const s_inst_t *s = &self->inst[i];
    CG_ASSERT(s->finished);
    cg_instruct_prompt_t prompt;
    cg_instruct_prompt(&t->spec, s->init_seed, &prompt);
    if (memcmp(&prompt, &s->prompt, sizeof prompt) != 0) {
        cg_status_msg(err, errlen,
                      "instruct: instance %d's prompt differs from the one its seed "
                      "0x%016llx gives (hint: a bug in instruct)",
                      i, (unsigned long long)s->init_seed);
        return -1;
    }
    uint8_t met[CG_INSTRUCT_MAX_C];
    int32_t C = prompt.n, ok = cg_instruct_score(&t->spec, &prompt, s->text, s->len, met);
    float gap = res->reward - cg_instruct_reward(self->strict, ok, C);
    if (res->n_checks != C || gap > 1e-6f || gap < -1e-6f || res->success != (ok == C)) {
        cg_status_msg(err, errlen,
                      "held-out prompt of seed 0x%016llx: the simulator's reward %g "
                      "(%d checks) disagrees with the verifiers (%d of %d met) (hint: a bug in "
                      "instruct)",
                      (unsigned long long)s->init_seed, (double)res->reward, res->n_checks, ok, C);
        return -1;
    }
    t->episodes++;
    t->n[C]++;
    t->all[C] += ok == C;
    t->frac[C] += (double)ok / (double)C;
    t->len_sum += s->len;
    for (int32_t c = 0; c < C; c++) {
        t->type_n[prompt.c[c].type]++;
        t->type_met[prompt.c[c].type] += met[c];
    }
    return 0;
}

static void s_eval_report_json(const s_tally_t *t, double hsr, double ssr, double len, FILE *out)
{
    fprintf(out,
            ",\"prompt_set\":\"heldout\",\"hsr\":%.6f,\"ssr\":%.6f,\"length_mean\":%.4f,"
            "\"by_n_constraints\":{",
            hsr, ssr, len);
    for (int c = 1, first = 1; c <= CG_INSTRUCT_MAX_C; c++) {
        if (!t->n[c])
            continue;
        fprintf(out, "%s\"%d\":{\"episodes\":%ld,\"hsr\":%.6f,\"ssr\":%.6f}", first ? "" : ",", c,
                t->n[c], (double)t->all[c] / (double)t->n[c], t->frac[c] / (double)t->n[c]);
        first = 0;
    }
    fprintf(out, "},\"by_type\":{");
    for (int y = 0, first = 1; y < CG_INSTRUCT_N_TYPES; y++) {
        if (!t->type_n[y])
            continue;
        fprintf(out, "%s\"%s\":{\"n\":%ld,\"met\":%.6f}", first ? "" : ",",
                cg_instruct_type_name(y), t->type_n[y],
                (double)t->type_met[y] / (double)t->type_n[y]);
        first = 0;
    }
    fprintf(out, "}");
}

/* hsr = fraction of prompts with every constraint met, ssr = mean fraction met; overall, by
 * number of constraints, and how often each type is met. */
static void s_eval_report(void *tally, int json, FILE *out)
{
    const s_tally_t *t = tally;
    long hsr_n = 0;
    double ssr = 0, ne = t->episodes > 0 ? (double)t->episodes : 1.0;
    for (int c = 1; c <= CG_INSTRUCT_MAX_C; c++) {
        hsr_n += t->all[c];
        ssr += t->frac[c];
    }
    if (json) {
        s_eval_report_json(t, (double)hsr_n / ne, ssr / ne, t->len_sum / ne, out);
        return;
    }
    fprintf(out,
            "  held-out prompts: HSR %.4f  SSR %.4f  mean length %.2f\n"
            "  constraints  prompts    HSR     SSR\n",
            (double)hsr_n / ne, ssr / ne, t->len_sum / ne);
    for (int c = 1; c <= CG_INSTRUCT_MAX_C; c++)
        if (t->n[c])
            fprintf(out, "  %11d  %7ld  %.4f  %.4f\n", c, t->n[c],
                    (double)t->all[c] / (double)t->n[c], t->frac[c] / (double)t->n[c]);
    fprintf(out, "  by type (fraction met):");
    for (int y = 0; y < CG_INSTRUCT_N_TYPES; y++)
        if (t->type_n[y])
            fprintf(out, " %s %.3f", cg_instruct_type_name(y),
                    (double)t->type_met[y] / (double)t->type_n[y]);
    fprintf(out, "\n");
}

static void s_eval_end(void *tally)
{
    free(tally);
}

/* The learner's metrics show the goal rate and mean reward under the task's own names. */
static const cg_sim_metric_t s_metrics[] = {
    {"hsr", CG_SIM_STAT_GOAL_RATE},
    {"ssr", CG_SIM_STAT_REWARD_MEAN},
};

const cg_sim_table_t cg_sim_instruct = {
    .abi_version = CG_SIM_ABI_VERSION,
    .struct_size = sizeof(cg_sim_table_t),
    .name = "instruct",
    .help = "multi-constraint instruction following: write a text meeting every constraint",
    .keys = s_keys,
    .n_keys = S_N_KEYS,
    .describe = s_describe,
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
    .metrics = s_metrics,
    .n_metrics = (int32_t)(sizeof s_metrics / sizeof s_metrics[0]),
    .eval_seed = s_eval_seed,
    .eval_begin = s_eval_begin,
    .eval_episode = s_eval_episode,
    .eval_report = s_eval_report,
    .eval_end = s_eval_end,
};
