/* test_instruct: the instruct simulator and task — each constraint type's verifier on
 * passing and failing texts, reward levels (C + 1), satisfiability by construction (the
 * witness, and an exhaustive search independent of it), determinism by seed, the pinned
 * held-out set, the observation, config errors, the `cgrpo eval` hooks (held-out tallies,
 * report, strict re-check), the temperature of each group member through cg_rollout, and the
 * MDP-GRPO worked advantages through the learner's batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_adv.h"
#include "cg_alloc.h"
#include "cg_batch.h"
#include "cg_rng.h"
#include "cg_rollout.h"
#include "cg_sim.h"
#include "cg_test.h"
#include "cg_test_sim.h"
#include "instruct.h"

/* letters a..f: 0..5, '.' 6, ',' 7, EOS 8 */
enum { A_ = 0, B_ = 1, C_ = 2, D_ = 3, E_ = 4, F_ = 5, DOT = 6, COM = 7, EOS = 8 };
/* The pinned held-out set (the default spec): seeds 0 and 999, and prompts 0..2. */
#define HELDOUT_SEED_0 0xb1f8e95222b2bd98ULL
#define HELDOUT_SEED_999 0x7de9d22b0615c50aULL
#define HELDOUT_PROMPT_0 "at least 4 tokens; exactly 1 sentences"
#define HELDOUT_PROMPT_1 "at least 6 tokens; at most 9 tokens; exactly 1 sentences"
#define HELDOUT_PROMPT_2                                                                           \
    "exactly 7 tokens; at least 4 tokens; at most 7 tokens; 'b' exactly 3 "                        \
    "times; no 'f'"

static const cg_instruct_spec_t S_SPEC = {
    .letters = 6, .max_len = 12, .min_constraints = 1, .max_constraints = 6};

/* The instruct simulator with its own defaults ([instruct] empty: letters 6, 1 to 6
 * constraints, verbosity 8; [sim] horizon 0: length cap 12). */
static void s_cfg(cg_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->sim, sizeof cfg->sim, "instruct");
    cfg->seed = 1;
    cfg->horizon = 0;
}

/* Loads INI text (origin "test.ini") on top of cfg. */
static void s_load(cg_config_t *cfg, const char *ini)
{
    char err[512] = "";
    cg_status_t rc = cg_config_load_string(cfg, ini, "test.ini", err, sizeof err);
    if (rc != CG_OK)
        fprintf(stderr, "cg_config_load_string: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
}

/* Text from a string of a-f . , */
static int32_t s_text(const char *s, int32_t *out)
{
    int32_t n = 0;
    for (; *s; s++)
        out[n++] = *s == '.' ? DOT : *s == ',' ? COM : *s - 'a';
    return n;
}

static int s_check(cg_instruct_type_t type, int32_t x, int32_t y, int32_t k, const char *text)
{
    cg_instruct_constraint_t c = {.type = type, .x = x, .y = y, .k = k};
    int32_t buf[CG_INSTRUCT_MAX_LEN];
    int32_t n = s_text(text, buf);
    return cg_instruct_check(&S_SPEC, &c, buf, n);
}

static cg_sim_t *s_new_sim(const cg_config_t *cfg, int32_t n, uint64_t seed)
{
    char err[512] = "";
    cg_sim_t *sim = cg_sim_new(cfg, n, seed, err, sizeof err);
    if (!sim)
        fprintf(stderr, "cg_sim_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sim);
    return sim;
}

/* Plays text (then EOS unless it fills the cap) on instance i; returns the result. */
static void s_play(cg_sim_t *sim, int32_t i, uint64_t init_seed, const int32_t *text, int32_t n,
                   float *obs, cg_sim_result_t *res)
{
    const cg_sim_info_t *info = cg_sim_info(sim);
    cg_test_sim_reset(sim, i, init_seed, obs);
    int done = 0;
    for (int32_t t = 0; t < n && !done; t++)
        done = cg_test_sim_step(sim, i, text[t], obs);
    if (!done)
        done = cg_test_sim_step(sim, i, info->n_actions - 1, obs);
    CU_ASSERT_FATAL(done);
    cg_test_sim_result(sim, i, res);
}

/* ---- verifiers ---------------------------------------------------------------------------- */

static void test_verifiers(void)
{
    /* length */
    CU_ASSERT(s_check(CG_INSTRUCT_LEN_EQ, -1, -1, 3, "abc"));
    CU_ASSERT(!s_check(CG_INSTRUCT_LEN_EQ, -1, -1, 3, "ab"));
    CU_ASSERT(!s_check(CG_INSTRUCT_LEN_EQ, -1, -1, 3, "abcd"));
    CU_ASSERT(s_check(CG_INSTRUCT_LEN_GE, -1, -1, 3, "abc"));
    CU_ASSERT(s_check(CG_INSTRUCT_LEN_GE, -1, -1, 3, "abc.,"));
    CU_ASSERT(!s_check(CG_INSTRUCT_LEN_GE, -1, -1, 3, "ab"));
    CU_ASSERT(s_check(CG_INSTRUCT_LEN_LE, -1, -1, 3, ""));
    CU_ASSERT(s_check(CG_INSTRUCT_LEN_LE, -1, -1, 3, "a.c"));
    CU_ASSERT(!s_check(CG_INSTRUCT_LEN_LE, -1, -1, 3, "abcd"));
    /* counts (punctuation counts as a token too) */
    CU_ASSERT(s_check(CG_INSTRUCT_COUNT_GE, A_, -1, 2, "aba"));
    CU_ASSERT(s_check(CG_INSTRUCT_COUNT_GE, A_, -1, 2, "aaaa"));
    CU_ASSERT(!s_check(CG_INSTRUCT_COUNT_GE, A_, -1, 2, "abc"));
    CU_ASSERT(s_check(CG_INSTRUCT_COUNT_EQ, COM, -1, 1, "a,b"));
    CU_ASSERT(!s_check(CG_INSTRUCT_COUNT_EQ, COM, -1, 1, "a,,"));
    CU_ASSERT(!s_check(CG_INSTRUCT_COUNT_EQ, COM, -1, 1, "ab"));
    CU_ASSERT(s_check(CG_INSTRUCT_FORBID, C_, -1, 0, "abd"));
    CU_ASSERT(s_check(CG_INSTRUCT_FORBID, C_, -1, 0, ""));
    CU_ASSERT(!s_check(CG_INSTRUCT_FORBID, C_, -1, 0, "abc"));
    /* ends */
    CU_ASSERT(s_check(CG_INSTRUCT_STARTS, B_, -1, 0, "ba"));
    CU_ASSERT(!s_check(CG_INSTRUCT_STARTS, B_, -1, 0, "ab"));
    CU_ASSERT(!s_check(CG_INSTRUCT_STARTS, B_, -1, 0, ""));
    CU_ASSERT(s_check(CG_INSTRUCT_ENDS, DOT, -1, 0, "ab."));
    CU_ASSERT(!s_check(CG_INSTRUCT_ENDS, DOT, -1, 0, "a.b"));
    CU_ASSERT(!s_check(CG_INSTRUCT_ENDS, DOT, -1, 0, ""));
    /* structure */
    CU_ASSERT(s_check(CG_INSTRUCT_NO_REPEAT, -1, -1, 0, "abab"));
    CU_ASSERT(s_check(CG_INSTRUCT_NO_REPEAT, -1, -1, 0, ""));
    CU_ASSERT(!s_check(CG_INSTRUCT_NO_REPEAT, -1, -1, 0, "abba"));
    CU_ASSERT(!s_check(CG_INSTRUCT_NO_REPEAT, -1, -1, 0, "a,,"));
    CU_ASSERT(s_check(CG_INSTRUCT_SENTENCES, -1, -1, 2, "ab.c."));
    CU_ASSERT(s_check(CG_INSTRUCT_SENTENCES, -1, -1, 1, "a,b."));
    CU_ASSERT(!s_check(CG_INSTRUCT_SENTENCES, -1, -1, 2, "ab.c"));   /* no final '.' */
    CU_ASSERT(!s_check(CG_INSTRUCT_SENTENCES, -1, -1, 2, ".ab."));   /* empty first sentence */
    CU_ASSERT(!s_check(CG_INSTRUCT_SENTENCES, -1, -1, 2, "a..b."));  /* empty sentence */
    CU_ASSERT(!s_check(CG_INSTRUCT_SENTENCES, -1, -1, 2, "a.b.c.")); /* three */
    CU_ASSERT(!s_check(CG_INSTRUCT_SENTENCES, -1, -1, 1, ""));
    CU_ASSERT(s_check(CG_INSTRUCT_BIGRAM, A_, B_, 0, "cab"));
    CU_ASSERT(s_check(CG_INSTRUCT_BIGRAM, A_, B_, 0, "ab"));
    CU_ASSERT(!s_check(CG_INSTRUCT_BIGRAM, A_, B_, 0, "ba"));
    CU_ASSERT(!s_check(CG_INSTRUCT_BIGRAM, A_, B_, 0, "a,b"));
    /* classes: vowels a e (i o u are beyond f); distinct letters ('.' ',' are not letters) */
    CU_ASSERT(s_check(CG_INSTRUCT_VOWELS_GE, -1, -1, 2, "aeb"));
    CU_ASSERT(s_check(CG_INSTRUCT_VOWELS_GE, -1, -1, 2, "a.a"));
    CU_ASSERT(!s_check(CG_INSTRUCT_VOWELS_GE, -1, -1, 2, "abc"));
    CU_ASSERT(s_check(CG_INSTRUCT_DISTINCT_GE, -1, -1, 3, "abca"));
    CU_ASSERT(!s_check(CG_INSTRUCT_DISTINCT_GE, -1, -1, 3, "abab,."));
    CU_ASSERT(cg_instruct_is_vowel(&S_SPEC, A_) && cg_instruct_is_vowel(&S_SPEC, E_));
    CU_ASSERT(!cg_instruct_is_vowel(&S_SPEC, B_) && !cg_instruct_is_vowel(&S_SPEC, DOT));

    /* every type has a name and a description */
    char buf[128];
    for (int32_t t = 0; t < CG_INSTRUCT_N_TYPES; t++) {
        CU_ASSERT_STRING_NOT_EQUAL(cg_instruct_type_name(t), "?");
        cg_instruct_constraint_t c = {.type = t, .x = A_, .y = B_, .k = 2};
        cg_instruct_describe(&S_SPEC, &c, buf, sizeof buf);
        CU_ASSERT(strlen(buf) > 3 && buf[0] != '?');
    }
    CU_ASSERT_STRING_EQUAL(cg_instruct_type_name(CG_INSTRUCT_N_TYPES), "?");
    int32_t t3[3] = {A_, DOT, COM};
    cg_instruct_render(&S_SPEC, t3, 3, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "a.,");
}

/* ---- prompts -------------------------------------------------------------------------------- */

/* Every prompt of many seeds: C in range, types distinct and sorted, parameters in range,
 * and the witness meets every constraint; every type and every C occurs. */
static void s_check_prompts(const cg_instruct_spec_t *spec, int32_t n_seeds)
{
    long type_seen[CG_INSTRUCT_N_TYPES] = {0}, c_seen[CG_INSTRUCT_MAX_C + 1] = {0};
    int32_t T = cg_instruct_n_text(spec);
    for (int32_t s = 0; s < n_seeds; s++) {
        cg_instruct_prompt_t p;
        cg_instruct_prompt(spec, cg_rng_mix64(0xabcULL + (uint64_t)s), &p);
        CU_ASSERT_FATAL(p.n >= spec->min_constraints && p.n <= spec->max_constraints);
        c_seen[p.n]++;
        for (int32_t i = 0; i < p.n; i++) {
            const cg_instruct_constraint_t *c = &p.c[i];
            CU_ASSERT_FATAL(c->type >= 0 && c->type < CG_INSTRUCT_N_TYPES);
            if (i > 0)
                CU_ASSERT_FATAL(c->type > p.c[i - 1].type);
            CU_ASSERT_FATAL(c->x >= -1 && c->x < T && c->y >= -1 && c->y < T);
            CU_ASSERT_FATAL(c->k >= 0 && c->k <= spec->max_len);
            type_seen[c->type]++;
        }
        CU_ASSERT_FATAL(p.witness_len >= 1 && p.witness_len <= spec->max_len);
        for (int32_t t = 0; t < p.witness_len; t++)
            CU_ASSERT_FATAL(p.witness[t] >= 0 && p.witness[t] < T);
        CU_ASSERT_FATAL(cg_instruct_score(spec, &p, p.witness, p.witness_len, NULL) == p.n);
    }
    for (int32_t t = 0; t < CG_INSTRUCT_N_TYPES; t++)
        CU_ASSERT(type_seen[t] > 0);
    for (int32_t c = spec->min_constraints; c <= spec->max_constraints; c++)
        CU_ASSERT(c_seen[c] > 0);
}

static void test_prompts_witness(void)
{
    s_check_prompts(&S_SPEC, 20000);
    /* other vocabularies and caps, including the smallest ones */
    const cg_instruct_spec_t specs[] = {
        {2, 4, 1, 6}, {2, 12, 6, 6}, {3, 5, 1, 6}, {4, 8, 3, 6}, {26, 64, 1, 6}, {8, 16, 1, 3},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        s_check_prompts(&specs[i], 4000);
}

/* Independent of the witness: an exhaustive search over every text up to the cap finds one
 * meeting all constraints, for every prompt (small vocabulary and cap so it is exhaustive). */
static void test_prompts_exhaustive(void)
{
    const cg_instruct_spec_t spec = {
        .letters = 2, .max_len = 6, .min_constraints = 1, .max_constraints = 6};
    int32_t T = cg_instruct_n_text(&spec); /* a b . , */
    int32_t n_texts = 0, lens[8000], texts[8000][6];
    for (int32_t len = 0; len <= spec.max_len; len++) {
        int32_t total = 1;
        for (int32_t i = 0; i < len; i++)
            total *= T;
        for (int32_t code = 0; code < total; code++) {
            int32_t v = code;
            for (int32_t i = 0; i < len; i++, v /= T)
                texts[n_texts][i] = v % T;
            lens[n_texts++] = len;
        }
    }
    CU_ASSERT_EQUAL_FATAL(n_texts, 1 + 4 + 16 + 64 + 256 + 1024 + 4096);
    int32_t by_c[CG_INSTRUCT_MAX_C + 1] = {0};
    for (int32_t s = 0; s < 1500; s++) {
        cg_instruct_prompt_t p;
        cg_instruct_prompt(&spec, cg_rng_mix64(0x5eedULL + (uint64_t)s), &p);
        int found = 0;
        for (int32_t k = 0; k < n_texts && !found; k++)
            found = cg_instruct_score(&spec, &p, texts[k], lens[k], NULL) == p.n;
        CU_ASSERT_FATAL(found);
        by_c[p.n]++;
    }
    for (int32_t c = 1; c <= CG_INSTRUCT_MAX_C; c++)
        CU_ASSERT(by_c[c] > 100);
}

static void test_prompt_determinism_and_heldout(void)
{
    cg_instruct_prompt_t a, b;
    int differ = 0;
    for (uint64_t s = 0; s < 200; s++) {
        cg_instruct_prompt(&S_SPEC, s, &a);
        cg_instruct_prompt(&S_SPEC, s, &b);
        CU_ASSERT_FATAL(memcmp(&a, &b, sizeof a) == 0);
        cg_instruct_prompt(&S_SPEC, s + 1000, &b);
        differ += memcmp(&a, &b, sizeof a) != 0;
    }
    CU_ASSERT(differ >= 195);

    /* The held-out set is fixed: its seeds and first prompts are pinned here. Changing the
     * generator changes them; then results in docs/results-instruct.md must be redone. */
    CU_ASSERT_EQUAL(cg_instruct_heldout_seed(0), HELDOUT_SEED_0);
    CU_ASSERT_EQUAL(cg_instruct_heldout_seed(999), HELDOUT_SEED_999);
    const char *want[3] = {HELDOUT_PROMPT_0, HELDOUT_PROMPT_1, HELDOUT_PROMPT_2};
    for (int32_t i = 0; i < 3; i++) {
        cg_instruct_prompt(&S_SPEC, cg_instruct_heldout_seed(i), &a);
        char got[512] = "", one[96];
        for (int32_t c = 0; c < a.n; c++) {
            cg_instruct_describe(&S_SPEC, &a.c[c], one, sizeof one);
            strcat(got, c ? "; " : "");
            strcat(got, one);
        }
        if (strcmp(got, want[i]))
            printf("\n  held-out prompt %d: \"%s\"\n", i, got);
        CU_ASSERT_STRING_EQUAL(got, want[i]);
    }
    for (int64_t i = 0; i < 2000; i++)
        for (int64_t j = i + 1; j < i + 3; j++)
            CU_ASSERT_FATAL(cg_instruct_heldout_seed(i) != cg_instruct_heldout_seed(j));
}

/* ---- the simulator ---------------------------------------------------------------------- */

/* cg_sim_new must fail with a message containing want (and a hint). */
static void s_expect_error(const cg_config_t *cfg, const char *want)
{
    char err[1024] = "";
    cg_sim_t *sim = cg_sim_new(cfg, 1, 1, err, sizeof err);
    CU_ASSERT_PTR_NULL(sim);
    cg_sim_destroy(&sim);
    if (!strstr(err, want) || !strstr(err, "(hint: "))
        fprintf(stderr, "\n  error message \"%s\" lacks \"%s\" or a hint\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "(hint: "));
}

static void test_sim_info_and_errors(void)
{
    cg_config_t cfg;
    s_cfg(&cfg);
    cg_sim_t *sim = s_new_sim(&cfg, 2, 1);
    const cg_sim_info_t *info = cg_sim_info(sim);
    CU_ASSERT_STRING_EQUAL(cg_sim_name(sim), "instruct");
    CU_ASSERT_EQUAL(info->n_actions, 9);
    CU_ASSERT_EQUAL(info->obs_dim, 128);
    CU_ASSERT_EQUAL(info->max_steps, 12);
    CU_ASSERT_EQUAL(info->n_costs, 1);
    CU_ASSERT_STRING_EQUAL(info->cost_names[0], "verbosity");
    CU_ASSERT_TRUE(info->default_threshold[0] < 0.0f); /* not enforced by default */
    /* the metrics columns under the task's names */
    cg_env_spec_t env;
    cg_sim_kind_env(cg_sim_kind(sim), &env);
    CU_ASSERT_EQUAL_FATAL(env.n_metrics, 2);
    CU_ASSERT_STRING_EQUAL(env.metrics[0].name, "hsr");
    CU_ASSERT_EQUAL(env.metrics[0].stat, CG_ENV_STAT_GOAL_RATE);
    CU_ASSERT_STRING_EQUAL(env.metrics[1].name, "ssr");
    CU_ASSERT_EQUAL(env.metrics[1].stat, CG_ENV_STAT_REWARD_MEAN);
    cg_sim_destroy(&sim);

    /* other keys change the sizes describe reports */
    s_load(&cfg, "[instruct]\nletters = 26\n[sim]\nhorizon = 64\n");
    sim = s_new_sim(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->n_actions, 26 + 3);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->max_steps, 64);
    cg_sim_destroy(&sim);

    s_cfg(&cfg);
    s_load(&cfg, "[instruct]\nletters = 1\n");
    s_expect_error(&cfg, "test.ini:2: [instruct] letters: 1 is out of range (hint: an integer "
                         "from 2 to 26");
    s_cfg(&cfg);
    s_load(&cfg, "[instruct]\nmin_constraints = 4\nmax_constraints = 3\n");
    s_expect_error(&cfg, "[instruct] min_constraints: 4 is above [instruct] max_constraints = 3");
    s_cfg(&cfg);
    s_load(&cfg, "[instruct]\nmax_constraints = 7\n");
    s_expect_error(&cfg, "test.ini:2: [instruct] max_constraints: 7 is out of range");
    s_cfg(&cfg);
    s_load(&cfg, "[instruct]\nverbosity = -1\n");
    s_expect_error(&cfg, "test.ini:2: [instruct] verbosity: -1 is out of range");
    s_cfg(&cfg);
    cfg.horizon = 3;
    s_expect_error(&cfg, "[sim] horizon: 3 is out of range for instruct (hint: the length cap in "
                         "tokens, 4 to 64; 0 = 12)");
    cfg.horizon = 65;
    s_expect_error(&cfg, "[sim] horizon: 65 is out of range for instruct");

    /* the launcher's check (cg_sim_configure) says the same before any simulator starts */
    cg_config_t full;
    char err[1024] = "";
    cg_config_defaults(&full);
    CU_ASSERT_EQUAL(cg_config_set(&full, "sim.name=instruct", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(&full, "instruct.min_constraints=5", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(&full, "instruct.max_constraints=2", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_configure(&full, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--set instruct.min_constraints: 5 is above"));
    cg_config_defaults(&full);
    CU_ASSERT_EQUAL(cg_config_set(&full, "sim.name=instruct", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(&full, "instruct.letters=27", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_configure(&full, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--set instruct.letters: 27 is out of range"));
    cg_config_defaults(&full);
    CU_ASSERT_EQUAL(cg_config_set(&full, "sim.name=instruct", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(&full, "sim.horizon=100", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_configure(&full, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[sim] horizon: 100"));
}

/* cg_instruct_spec_from on hand-made parameters (the table's key order: letters,
 * min_constraints, max_constraints, verbosity): the spec, and every rule checked even where
 * the simulator layer's ranges would have caught it first. */
static void test_spec_from_params(void)
{
    cg_sim_value_t v[4] = {{.i = 6}, {.i = 1}, {.i = 6}, {.i = 8}};
    cg_sim_params_t p = {.values = v, .horizon = 0};
    cg_instruct_spec_t spec;
    char err[512] = "";
    CU_ASSERT_EQUAL_FATAL(cg_instruct_spec_from(&p, &spec, err, sizeof err), 0);
    CU_ASSERT(memcmp(&spec, &S_SPEC, sizeof spec) == 0);
    p.horizon = 20;
    v[0].i = 3;
    v[1].i = 2;
    v[2].i = 4;
    CU_ASSERT_EQUAL_FATAL(cg_instruct_spec_from(&p, &spec, err, sizeof err), 0);
    CU_ASSERT(spec.letters == 3 && spec.max_len == 20 && spec.min_constraints == 2 &&
              spec.max_constraints == 4);
    const struct {
        int64_t letters, lo, hi, verbosity;
        int32_t horizon;
        const char *want;
    } bad[] = {
        {6, 1, 6, 8, -1, "[sim] horizon: -1 is out of range for instruct"},
        {27, 1, 6, 8, 0, "[instruct] letters: 27 is out of range"},
        {6, 0, 6, 8, 0, "[instruct] min_constraints: 0 is out of range"},
        {6, 1, 7, 8, 0, "[instruct] max_constraints: 7 is out of range"},
        {6, 3, 2, 8, 0, "[instruct] min_constraints: 3 is above [instruct] max_constraints = 2"},
        {6, 1, 6, -5, 0, "[instruct] verbosity: -5 is out of range"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cg_sim_value_t w[4] = {
            {.i = bad[k].letters}, {.i = bad[k].lo}, {.i = bad[k].hi}, {.i = bad[k].verbosity}};
        cg_sim_params_t q = {.values = w, .horizon = bad[k].horizon};
        err[0] = '\0';
        CU_ASSERT_EQUAL(cg_instruct_spec_from(&q, &spec, err, sizeof err), -1);
        if (!strstr(err, bad[k].want))
            fprintf(stderr, "\n  \"%s\" lacks \"%s\"\n", err, bad[k].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[k].want));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "(hint: "));
    }
}

/* Reward = met / C with C + 1 levels, n_checks = C, success = all met, the witness earns 1,
 * and the simulator agrees with the verifiers on random texts. */
static void test_reward_levels(void)
{
    cg_config_t cfg;
    s_cfg(&cfg);
    cg_sim_t *sim = s_new_sim(&cfg, 1, 7);
    const cg_sim_info_t *info = cg_sim_info(sim);
    float *obs = cg_calloc((size_t)info->obs_dim, sizeof *obs);
    int levels[CG_INSTRUCT_MAX_C + 1][CG_INSTRUCT_MAX_C + 1];
    memset(levels, 0, sizeof levels);
    cg_rng_t rng;
    cg_rng_seed(&rng, 99, 1);
    for (int32_t s = 0; s < 3000; s++) {
        uint64_t seed = cg_rng_mix64((uint64_t)s + 17);
        cg_instruct_prompt_t p;
        cg_instruct_prompt(&S_SPEC, seed, &p);
        cg_sim_result_t res;
        s_play(sim, 0, seed, p.witness, p.witness_len, obs, &res);
        CU_ASSERT_EQUAL(res.reward, 1.0f);
        CU_ASSERT_EQUAL(res.success, 1);
        CU_ASSERT_EQUAL(res.n_checks, p.n);
        levels[p.n][p.n]++;
        /* a random text of random length (the cap included), and the witness with its first
         * token changed: rewards of every level */
        int32_t text[CG_INSTRUCT_MAX_LEN], n = (int32_t)cg_rng_below(&rng, 13);
        for (int32_t t = 0; t < n; t++)
            text[t] = (int32_t)cg_rng_below(&rng, 8);
        for (int rep = 0; rep < 2; rep++) {
            if (rep == 1) {
                memcpy(text, p.witness, sizeof p.witness);
                n = p.witness_len;
                text[0] = (text[0] + 1 + (int32_t)cg_rng_below(&rng, 7)) % 8;
            }
            s_play(sim, 0, seed, text, n, obs, &res);
            int32_t met = cg_instruct_score(&S_SPEC, &p, text, n, NULL);
            CU_ASSERT_EQUAL(res.n_checks, p.n);
            CU_ASSERT_EQUAL(res.reward, (float)met / (float)p.n);
            CU_ASSERT_EQUAL(res.success, met == p.n);
            CU_ASSERT_EQUAL(res.cost[0], n > 8 ? 1.0f : 0.0f);
            levels[p.n][met]++;
        }
    }
    for (int32_t c = 1; c <= CG_INSTRUCT_MAX_C; c++)
        for (int32_t m = 0; m <= c; m++)
            CU_ASSERT(levels[c][m] > 0); /* all C + 1 levels occur */
    free(obs);
    cg_sim_destroy(&sim);
}

/* [instruct] strict: the reward is all-or-nothing (1 exactly when every constraint is met,
 * the success flag), the same texts otherwise scored as before. */
static void test_strict_reward(void)
{
    cg_config_t cfg;
    s_cfg(&cfg);
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(cg_config_set(&cfg, "instruct.strict=true", err, sizeof err), CG_OK);
    cg_sim_t *sim = s_new_sim(&cfg, 1, 7);
    float *obs = cg_calloc((size_t)cg_sim_info(sim)->obs_dim, sizeof *obs);
    cg_rng_t rng;
    cg_rng_seed(&rng, 5, 1);
    int partial = 0, full = 0;
    for (int32_t s = 0; s < 2000; s++) {
        uint64_t seed = cg_rng_mix64((uint64_t)s + 3);
        cg_instruct_prompt_t p;
        cg_instruct_prompt(&S_SPEC, seed, &p);
        int32_t text[CG_INSTRUCT_MAX_LEN], n = p.witness_len;
        memcpy(text, p.witness, sizeof p.witness);
        if (s % 2) /* every other text spoiled at one token: some constraints still met */
            text[0] = (text[0] + 1 + (int32_t)cg_rng_below(&rng, 7)) % 8;
        cg_sim_result_t res;
        s_play(sim, 0, seed, text, n, obs, &res);
        int32_t met = cg_instruct_score(&S_SPEC, &p, text, n, NULL);
        CU_ASSERT_EQUAL(res.reward, met == p.n ? 1.0f : 0.0f);
        CU_ASSERT_EQUAL(res.success, met == p.n);
        partial += met > 0 && met < p.n;
        full += met == p.n;
    }
    CU_ASSERT(partial > 100 && full > 900); /* both kinds were scored */
    CU_ASSERT_EQUAL(cg_instruct_reward(0, 2, 3), 2.0f / 3.0f);
    CU_ASSERT_EQUAL(cg_instruct_reward(1, 2, 3), 0.0f);
    CU_ASSERT_EQUAL(cg_instruct_reward(1, 3, 3), 1.0f);
    free(obs);
    cg_sim_destroy(&sim);
}

/* Episodes end at EOS or at the cap; the observation's flags track the verifiers; the same
 * init_seed and actions give the same observations whatever the instance and sim seed. */
static void test_sim_episodes_and_obs(void)
{
    cg_config_t cfg;
    s_cfg(&cfg);
    cg_sim_t *a = s_new_sim(&cfg, 3, 1), *b = s_new_sim(&cfg, 2, 12345);
    int32_t D = cg_sim_info(a)->obs_dim;
    float *oa = cg_calloc((size_t)D, sizeof *oa), *ob = cg_calloc((size_t)D, sizeof *ob);
    cg_rng_t rng;
    cg_rng_seed(&rng, 5, 5);
    /* global block: 2 + (T + 1) + T + 2 + L = 27; each type's block starts with active, met */
    const int32_t global = 2 + 9 + 8 + 2 + 6;
    const int32_t extras[CG_INSTRUCT_N_TYPES] = {3, 2, 2, 10, 10, 8, 8, 8, 0, 3, 17, 2, 2};
    for (int32_t s = 0; s < 300; s++) {
        uint64_t seed = cg_rng_mix64((uint64_t)s * 31 + 1);
        cg_instruct_prompt_t p;
        cg_instruct_prompt(&S_SPEC, seed, &p);
        cg_test_sim_reset(a, 2, seed, oa);
        cg_test_sim_reset(b, 0, seed, ob);
        CU_ASSERT_FATAL(memcmp(oa, ob, (size_t)D * sizeof *oa) == 0);
        int32_t text[CG_INSTRUCT_MAX_LEN], n = 0;
        int done = 0;
        while (!done) {
            /* check the per-type active/met flags against the verifiers on the text so far */
            int32_t off = global;
            for (int32_t type = 0; type < CG_INSTRUCT_N_TYPES; type++) {
                int32_t idx = -1;
                for (int32_t c = 0; c < p.n; c++)
                    if (p.c[c].type == type)
                        idx = c;
                CU_ASSERT_FATAL(oa[off] == (idx >= 0 ? 1.0f : 0.0f));
                int met = idx >= 0 && cg_instruct_check(&S_SPEC, &p.c[idx], text, n);
                CU_ASSERT_FATAL(oa[off + 1] == (met ? 1.0f : 0.0f));
                off += 2 + extras[type];
            }
            CU_ASSERT_FATAL(off == D);
            CG_ASSERT_NEAR(oa[0], (double)n / 12.0, 1e-6);
            int32_t act =
                (int32_t)cg_rng_below(&rng, 10) == 0 ? EOS : (int32_t)cg_rng_below(&rng, 8);
            int da = cg_test_sim_step(a, 2, act, oa), db = cg_test_sim_step(b, 0, act, ob);
            CU_ASSERT_FATAL(da == db);
            CU_ASSERT_FATAL(memcmp(oa, ob, (size_t)D * sizeof *oa) == 0);
            if (act != EOS)
                text[n++] = act;
            done = da;
            CU_ASSERT_FATAL(done == (act == EOS || n == 12));
        }
        cg_sim_result_t ra, rb;
        cg_test_sim_result(a, 2, &ra);
        cg_test_sim_result(b, 0, &rb);
        CU_ASSERT_FATAL(memcmp(&ra, &rb, sizeof ra) == 0);
    }
    free(oa);
    free(ob);
    cg_sim_destroy(&a);
    cg_sim_destroy(&b);
}

/* ---- `cgrpo eval`: the hooks ------------------------------------------------------------- */

/* The expected tallies, kept here independently of instruct.c. */
typedef struct {
    long n[CG_INSTRUCT_MAX_C + 1], all[CG_INSTRUCT_MAX_C + 1];
    double frac[CG_INSTRUCT_MAX_C + 1];
    long type_n[CG_INSTRUCT_N_TYPES], type_met[CG_INSTRUCT_N_TYPES];
    double len_sum;
    long episodes;
} s_want_t;

/* Plays held-out prompt e on instance i (the witness every third time, else a random text)
 * and adds what the verifiers say of it to want. */
static void s_eval_play(cg_sim_t *sim, int32_t i, uint64_t seed, int64_t e, cg_rng_t *rng,
                        float *obs, cg_sim_result_t *res, s_want_t *want)
{
    cg_instruct_prompt_t p;
    cg_instruct_prompt(&S_SPEC, seed, &p);
    int32_t text[CG_INSTRUCT_MAX_LEN], n;
    if (e % 3 == 0) {
        n = p.witness_len;
        memcpy(text, p.witness, sizeof text);
    } else {
        n = (int32_t)cg_rng_below(rng, 13);
        for (int32_t t = 0; t < n; t++)
            text[t] = (int32_t)cg_rng_below(rng, 8);
    }
    s_play(sim, i, seed, text, n, obs, res);
    uint8_t met[CG_INSTRUCT_MAX_C];
    int32_t ok = cg_instruct_score(&S_SPEC, &p, text, n, met);
    want->episodes++;
    want->n[p.n]++;
    want->all[p.n] += ok == p.n;
    want->frac[p.n] += (double)ok / (double)p.n;
    want->len_sum += n;
    for (int32_t c = 0; c < p.n; c++) {
        want->type_n[p.c[c].type]++;
        want->type_met[p.c[c].type] += met[c];
    }
}

/* The report as `cgrpo eval --json` must print it: members after the generic ones. */
static void s_want_json(const s_want_t *w, char *buf, size_t cap)
{
    long hsr_n = 0;
    double ssr = 0, ne = (double)w->episodes;
    for (int c = 1; c <= CG_INSTRUCT_MAX_C; c++) {
        hsr_n += w->all[c];
        ssr += w->frac[c];
    }
    size_t o = (size_t)snprintf(buf, cap,
                                ",\"prompt_set\":\"heldout\",\"hsr\":%.6f,\"ssr\":%.6f,"
                                "\"length_mean\":%.4f,\"by_n_constraints\":{",
                                (double)hsr_n / ne, ssr / ne, w->len_sum / ne);
    const char *sep = "";
    for (int c = 1; c <= CG_INSTRUCT_MAX_C; c++)
        if (w->n[c]) {
            o += (size_t)snprintf(buf + o, cap - o,
                                  "%s\"%d\":{\"episodes\":%ld,\"hsr\":%.6f,"
                                  "\"ssr\":%.6f}",
                                  sep, c, w->n[c], (double)w->all[c] / (double)w->n[c],
                                  w->frac[c] / (double)w->n[c]);
            sep = ",";
        }
    o += (size_t)snprintf(buf + o, cap - o, "},\"by_type\":{");
    sep = "";
    for (int y = 0; y < CG_INSTRUCT_N_TYPES; y++)
        if (w->type_n[y]) {
            o += (size_t)snprintf(buf + o, cap - o, "%s\"%s\":{\"n\":%ld,\"met\":%.6f}", sep,
                                  cg_instruct_type_name(y), w->type_n[y],
                                  (double)w->type_met[y] / (double)w->type_n[y]);
            sep = ",";
        }
    snprintf(buf + o, cap - o, "}");
}

/* The report of the hooks, json or text, as a string (malloc'd). */
static char *s_report(const cg_sim_table_t *t, void *tally, int json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    t->eval_report(tally, json, f);
    fclose(f);
    return text;
}

/* The held-out seeds; the tallies, by number of constraints and by type, against the
 * verifiers (an instance keeps its episode's prompt and text until its next reset, also
 * while other instances play); the JSON members and the text table; and the strict check:
 * a reward or check count that disagrees with the verifiers stops the evaluation. */
static void test_eval_hooks(void)
{
    enum { M = 3, EPISODES = 240 };
    cg_config_t cfg;
    s_cfg(&cfg);
    cg_sim_t *sim = s_new_sim(&cfg, M, 1);
    const cg_sim_table_t *t = cg_sim_kind_table(cg_sim_kind(sim));
    const cg_sim_params_t *p = cg_sim_kind_params(cg_sim_kind(sim));
    CU_ASSERT_FATAL(t->eval_seed && t->eval_begin && t->eval_episode && t->eval_report &&
                    t->eval_end);
    void *tally = t->eval_begin(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tally);
    float *obs = cg_calloc((size_t)cg_sim_info(sim)->obs_dim, sizeof *obs);
    s_want_t want;
    memset(&want, 0, sizeof want);
    cg_rng_t rng;
    cg_rng_seed(&rng, 3, 4);
    char err[512] = "";
    for (int64_t e = 0; e < EPISODES; e += M) { /* M episodes at a time, then their tallies */
        cg_sim_result_t res[M];
        for (int32_t i = 0; i < M; i++) {
            uint64_t seed = t->eval_seed(p, e + i);
            CU_ASSERT_EQUAL_FATAL(seed, cg_instruct_heldout_seed(e + i));
            s_eval_play(sim, i, seed, e + i, &rng, obs, &res[i], &want);
        }
        for (int32_t i = 0; i < M; i++) {
            int rc = t->eval_episode(tally, cg_sim_context(sim), i, &res[i], err, sizeof err);
            if (rc)
                fprintf(stderr, "eval_episode: %s\n", err);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
        }
    }
    for (int c = 1; c <= CG_INSTRUCT_MAX_C; c++)
        CU_ASSERT(want.n[c] > 0 && want.all[c] > 0 && want.all[c] < want.n[c]);

    char *json = s_report(t, tally, 1), expect[8192];
    s_want_json(&want, expect, sizeof expect);
    if (strcmp(json, expect))
        printf("\n  got  %s\n  want %s\n", json, expect);
    CU_ASSERT_STRING_EQUAL(json, expect);
    free(json);
    char *text = s_report(t, tally, 0);
    char line[128];
    snprintf(line, sizeof line, "  constraints  prompts    HSR     SSR\n  %11d  %7ld  %.4f  %.4f\n",
             1, want.n[1], (double)want.all[1] / (double)want.n[1],
             want.frac[1] / (double)want.n[1]);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "  held-out prompts: HSR "));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, line));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "  by type (fraction met): len_eq "));
    CU_ASSERT(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    free(text);

    /* the strict check: a reward or a check count the verifiers do not give */
    cg_sim_result_t res;
    s_want_t spare;
    memset(&spare, 0, sizeof spare);
    s_eval_play(sim, 0, t->eval_seed(p, 0), 0, &rng, obs, &res, &spare);
    CU_ASSERT_EQUAL(res.reward, 1.0f); /* prompt 0 with its witness */
    cg_sim_result_t bad = res;
    bad.reward = 0.5f;
    CU_ASSERT_EQUAL(t->eval_episode(tally, cg_sim_context(sim), 0, &bad, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "disagrees with the verifiers"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "(hint: "));
    bad = res;
    bad.n_checks++;
    err[0] = '\0';
    CU_ASSERT_EQUAL(t->eval_episode(tally, cg_sim_context(sim), 0, &bad, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "disagrees with the verifiers"));
    bad = res;
    bad.success = 0;
    CU_ASSERT_EQUAL(t->eval_episode(tally, cg_sim_context(sim), 0, &bad, err, sizeof err), -1);
    CU_ASSERT_EQUAL(t->eval_episode(tally, cg_sim_context(sim), 0, &res, err, sizeof err), 0);
    t->eval_end(tally);
    free(obs);
    cg_sim_destroy(&sim);
}

/* ---- the actor and learner paths ------------------------------------------------------------ */

/* Member j of every group is sampled at tau_j; all members share the prompt (same first
 * observation and n_checks). */
static void test_rollout_member_temperatures(void)
{
    cg_config_t cfg;
    s_cfg(&cfg);
    cg_sim_t *sim = s_new_sim(&cfg, 6, 3);
    const cg_sim_info_t *info = cg_sim_info(sim);
    cg_policy_shape_t shape = {.obs_dim = info->obs_dim,
                               .n_actions = info->n_actions,
                               .n_hidden = 1,
                               .hidden = {16},
                               .activation = CG_ACT_TANH};
    cg_policy_t *policy = cg_policy_new(&shape, 11);
    CU_ASSERT_PTR_NOT_NULL_FATAL(policy);
    const float temps[4] = {0.1f, 0.4f, 0.7f, 1.0f};
    cg_rollout_opts_t opts = {
        .group_size = 4, .n_temperatures = 4, .temperatures = temps, .seed = 9};
    char err[256];
    cg_rollout_t *ro = cg_rollout_new(sim, policy, &opts, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ro);
    cg_rollout_set_budget(ro, 10);
    while (cg_rollout_in_flight(ro) > 0 || cg_rollout_budget(ro) != 0)
        cg_rollout_step(ro);
    cg_msg_groups_t out;
    CU_ASSERT_EQUAL_FATAL(cg_rollout_take(ro, 0, 0, &out), 10);
    size_t D = (size_t)info->obs_dim;
    for (int32_t g = 0; g < out.n_groups; g++) {
        const cg_msg_group_t *grp = &out.groups[g];
        cg_instruct_prompt_t p;
        cg_instruct_prompt(&S_SPEC, grp->init_seed, &p);
        CU_ASSERT_EQUAL(grp->n_checks, p.n);
        for (int32_t j = 0; j < 4; j++) {
            const cg_msg_episode_t *ep = &grp->episodes[j];
            CU_ASSERT_EQUAL(ep->temperature, temps[j]);
            CU_ASSERT(memcmp(ep->obs, grp->episodes[0].obs, D * sizeof(float)) == 0);
            /* the reward is the verifiers' score of the text the actions wrote */
            int32_t text[CG_INSTRUCT_MAX_LEN], n = 0;
            for (int32_t t = 0; t < ep->length; t++)
                if (ep->action[t] != EOS)
                    text[n++] = ep->action[t];
            CU_ASSERT_EQUAL(ep->reward,
                            (float)cg_instruct_score(&S_SPEC, &p, text, n, NULL) / (float)p.n);
        }
    }
    cg_rollout_release(ro);
    cg_rollout_destroy(&ro);
    cg_policy_destroy(&policy);
    cg_sim_destroy(&sim);
}

/* DESIGN.md section 4 worked values (paper form: dual anchor + prospect, alpha 0.2) through
 * the learner's batch, with n_checks carried by the groups, and the asymmetric KL
 * coefficient each step gets. */
static void test_worked_advantages_through_batch(void)
{
    enum { G = 4, NG = 4, OD = 2 };
    const float rewards[NG][G] = {{0.0f, 0.5f, 1.0f, 1.0f},
                                  {1.0f / 3, 1.0f / 3, 1.0f / 3, 1.0f / 3},
                                  {0, 0, 0, 0},
                                  {1, 1, 1, 1}};
    const int32_t checks[NG] = {2, 3, 3, 3};
    const double want[NG][G] = {{-1.66138, -0.37862, 0.82202, 0.82202},
                                {-0.17265, -0.17265, -0.17265, -0.17265},
                                {-0.35288, -0.35288, -0.35288, -0.35288},
                                {0.22055, 0.22055, 0.22055, 0.22055}};
    cg_msg_groups_t m;
    memset(&m, 0, sizeof m);
    m.group_size = G;
    m.n_costs = 1;
    m.obs_dim = OD;
    m.n_actions = 9;
    m.n_groups = NG;
    m.groups = cg_calloc(NG, sizeof *m.groups);
    for (int32_t g = 0; g < NG; g++) {
        m.groups[g].n_checks = checks[g];
        m.groups[g].episodes = cg_calloc(G, sizeof(cg_msg_episode_t));
        for (int32_t j = 0; j < G; j++) {
            cg_msg_episode_t *ep = &m.groups[g].episodes[j];
            ep->reward = rewards[g][j];
            ep->temperature = 1.0f;
            ep->length = 2;
            ep->obs = cg_calloc(2 * OD, sizeof(float));
            ep->action = cg_calloc(2, sizeof(int32_t));
            ep->logp = cg_calloc(2, sizeof(float));
            for (int32_t t = 0; t < 2; t++) {
                ep->obs[t * OD] = (float)g; /* identifies the episode */
                ep->obs[t * OD + 1] = (float)j;
            }
        }
    }
    cg_batch_t *b = cg_batch_new(G, 1, OD);
    CU_ASSERT_EQUAL_FATAL(cg_batch_add(b, &m), CG_OK);
    cg_config_t cfg;
    cg_config_defaults(&cfg);
    cfg.estimator = CG_ADV_GRPO;
    cfg.dual_anchor = true;
    cfg.prospect = true;
    cg_adv_config_t acfg;
    cg_adv_config_from(&cfg, &acfg);
    float lambda[1] = {1.0f}, eff[1];
    double neg = 0;
    CU_ASSERT_EQUAL_FATAL(
        cg_batch_advantages(b, NG, &acfg, 0, NULL, lambda, 1, 0.025f, 0.01f, eff, &neg), CG_OK);
    CG_ASSERT_NEAR(neg, 10.0 / 16.0, 1e-12); /* group 0: two negative; groups 1, 2: all */
    cg_rng_t rng;
    cg_rng_seed(&rng, 1, 1);
    cg_batch_shuffle(b, NG, 1, &rng);
    cg_minibatch_t mb;
    cg_batch_minibatch(b, 0, 0, 1, &mb);
    CU_ASSERT_EQUAL_FATAL(mb.n, NG * G * 2);
    cg_minibatch_fill(&mb, 0, mb.n);
    for (int32_t s = 0; s < mb.n; s++) {
        int32_t g = (int32_t)mb.obs[s * OD], j = (int32_t)mb.obs[s * OD + 1];
        CG_ASSERT_NEAR(mb.adv[s], want[g][j], 1e-5);
        CU_ASSERT_EQUAL(mb.kl_coef[s], want[g][j] < 0 ? 0.025f : 0.01f);
    }
    /* the batch statistics: per-member means and zero-variance groups */
    cg_batch_stats_t st;
    cg_batch_stats(b, NG, 0, &st);
    CG_ASSERT_NEAR(st.frac_zero_std_reward, 0.75, 1e-12);
    CG_ASSERT_NEAR(st.frac_all_goal, 0.25, 1e-12);
    CG_ASSERT_NEAR(st.frac_all_zero, 0.25, 1e-12);
    CG_ASSERT_NEAR(st.reward_member[0], (0.0 + 1.0 / 3 + 0 + 1) / 4, 1e-6);
    CG_ASSERT_NEAR(st.reward_member[1], (0.5 + 1.0 / 3 + 0 + 1) / 4, 1e-6);
    /* the mean advantage of each member slot (its temperature's), from the worked values */
    double adv_member[G];
    cg_batch_adv_member(b, NG, adv_member);
    for (int32_t j = 0; j < G; j++) {
        double sum = 0;
        for (int32_t g = 0; g < NG; g++)
            sum += want[g][j];
        CG_ASSERT_NEAR(adv_member[j], sum / NG, 1e-5);
    }
    for (int32_t g = 0; g < NG; g++) {
        for (int32_t j = 0; j < G; j++) {
            free(m.groups[g].episodes[j].obs);
            free(m.groups[g].episodes[j].action);
            free(m.groups[g].episodes[j].logp);
        }
        free(m.groups[g].episodes);
    }
    free(m.groups);
    cg_batch_destroy(&b);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"verifiers pass and fail", test_verifiers},
        {"prompts: witness meets every constraint", test_prompts_witness},
        {"prompts: exhaustive search finds a solution", test_prompts_exhaustive},
        {"prompts: determinism, pinned held-out set", test_prompt_determinism_and_heldout},
        {"sim: info and config errors", test_sim_info_and_errors},
        {"sim: spec from parameters", test_spec_from_params},
        {"sim: reward levels", test_reward_levels},
        {"sim: strict (all-or-nothing) reward", test_strict_reward},
        {"sim: episodes and observation", test_sim_episodes_and_obs},
        {"eval hooks: held-out tallies, report, strict check", test_eval_hooks},
        {"rollout: temperature per group member", test_rollout_member_temperatures},
        {"batch: worked MDP-GRPO advantages, asymmetric KL", test_worked_advantages_through_batch},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("instruct", tests, NULL, NULL);
}
