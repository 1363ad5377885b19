/* plugin_bad: simulator plugins that each break one rule of cgrpo/sim.h, for test_plugin.c.
 * One source, built once per BAD_<RULE> define as a MODULE (tests/CMakeLists.txt); without a
 * define it is a well-behaved one-step simulator. Like any plugin it includes only
 * cgrpo/sim.h and the C library. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cgrpo/sim.h>

typedef struct {
    int32_t n;
    int32_t *steps; /* (n) */
} s_bad_t;

static int s_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen)
{
    (void)p;
    (void)err;
    (void)errlen;
    memset(info, 0, sizeof *info);
    info->obs_dim = 2;
#ifdef BAD_BIG_OBS
    info->obs_dim = CG_SIM_MAX_OBS + 1;
#endif
    info->n_actions = 2;
    info->n_costs = 1;
    snprintf(info->cost_names[0], CG_SIM_NAME_LEN, "hit");
    info->default_threshold[0] = -1.0f;
    info->max_steps = 4;
    return 0;
}

static void *s_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    (void)p;
    (void)seed;
    (void)err;
    (void)errlen;
#ifdef BAD_CRASH
    volatile int *volatile nowhere = NULL; /* volatile: the compiler cannot see it is NULL */
    *nowhere = 1;                          /* a null dereference: the process dies of SIGSEGV */
#endif
    s_bad_t *self = calloc(1, sizeof *self);
    self->n = n;
    self->steps = calloc((size_t)n, sizeof *self->steps);
    return self;
}

static void s_destroy(void *ctx)
{
    s_bad_t *self = ctx;
    if (!self)
        return;
    free(self->steps);
    free(self);
}

static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_bad_t *self = ctx;
    (void)init_seed;
    self->steps[i] = 0;
    obs[0] = 0.0f;
    obs[1] = 1.0f;
}

/* Episodes of 4 steps; BAD_NAN writes a NaN observation on the second step, BAD_HUGE_OBS
 * one of 3e7. */
static void s_step(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                   uint8_t *done)
{
    s_bad_t *self = ctx;
    for (int32_t k = 0; k < n; k++) {
        int32_t t = ++self->steps[idx[k]];
        float *row = obs + (size_t)idx[k] * 2;
        row[0] = (float)t;
        row[1] = (float)actions[k];
#ifdef BAD_NAN
        if (t == 2)
            row[1] = NAN;
#endif
#ifdef BAD_HUGE_OBS
        if (t == 2)
            row[0] = 3e7f; /* finite, beyond CG_SIM_MAX_ABS_OBS */
#endif
        done[k] = t >= 4;
    }
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    (void)ctx;
    (void)i;
    memset(out, 0, sizeof *out);
    out->reward = 1.0f;
#ifdef BAD_COST
    out->cost[0] = 0.5f; /* costs are indicators: 0 or 1 */
#endif
}

static const cg_sim_table_t s_table = {
#ifdef BAD_ABI
    .abi_version = CG_SIM_ABI_VERSION + 1,
#else
    .abi_version = CG_SIM_ABI_VERSION,
#endif
#ifdef BAD_SIZE
    .struct_size = sizeof(cg_sim_table_t) - sizeof(void *),
#else
    .struct_size = sizeof(cg_sim_table_t),
#endif
    .name = "bad",
    .help = "a plugin breaking one rule, for tests",
    .describe = s_describe,
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
};

#ifdef BAD_NO_SYMBOL
/* Exports the table under another name, not cg_sim_plugin. */
CG_SIM_EXPORT const cg_sim_table_t *cg_sim_plugin_v0(void)
#else
CG_SIM_EXPORT const cg_sim_table_t *cg_sim_plugin(void)
#endif
{
    return &s_table;
}
