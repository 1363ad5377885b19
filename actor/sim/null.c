/* null: a simulator that does nothing but cost one step, for measuring the framework's own
 * overhead. Episodes last [sim] horizon steps (0 = 32); 2 actions; no costs. The reward, the
 * fraction of steps that chose action 1, gives learners a trivial smoke test. The sleep
 * simulator (sleep.c) is this one plus a nap per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_sim.h"
#include "null.h"

enum { S_OBS_DIM = 4, S_N_ACTIONS = 2, S_DEFAULT_LENGTH = 32 };

typedef struct {
    int32_t t;    /* steps taken this episode */
    int32_t ones; /* steps that chose action 1 */
} s_inst_t;

struct cg_sim_null {
    int32_t n;
    int32_t length;
    s_inst_t *inst; /* (n) */
};

static int32_t s_length(const cg_sim_params_t *p)
{
    return p->horizon > 0 ? p->horizon : S_DEFAULT_LENGTH; /* the config keeps it >= 0 */
}

int cg_sim_null_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    memset(info, 0, sizeof *info);
    info->obs_dim = S_OBS_DIM;
    info->n_actions = S_N_ACTIONS;
    info->max_steps = s_length(p);
    return 0;
}

void cg_sim_null_destroy(void *ctx)
{
    cg_sim_null_t *self = ctx;
    if (!self)
        return;
    free(self->inst);
    free(self);
}

void *cg_sim_null_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err,
                         size_t errlen)
{
    (void)seed; /* nothing random */
    (void)err;
    (void)errlen;
    cg_sim_null_t *self = cg_calloc(1, sizeof *self);
    self->n = n;
    self->length = s_length(p);
    self->inst = cg_calloc((size_t)n, sizeof *self->inst);
    return self;
}

/* obs = (t / length, 1 - t / length, fraction of ones so far, 1). */
static void s_observe(const cg_sim_null_t *self, const s_inst_t *s, float *obs)
{
    float frac = (float)s->t / (float)self->length;
    obs[0] = frac;
    obs[1] = 1.0f - frac;
    obs[2] = s->t > 0 ? (float)s->ones / (float)s->t : 0.0f;
    obs[3] = 1.0f;
}

void cg_sim_null_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    cg_sim_null_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    (void)init_seed;
    s->t = 0;
    s->ones = 0;
    s_observe(self, s, obs);
}

void cg_sim_null_step(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                      uint8_t *done)
{
    cg_sim_null_t *self = ctx;
    for (int32_t k = 0; k < n; k++) {
        s_inst_t *s = &self->inst[idx[k]];
        s->t++;
        s->ones += actions[k];
        done[k] = s->t >= self->length;
        s_observe(self, s, obs + (size_t)idx[k] * S_OBS_DIM);
    }
}

void cg_sim_null_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    cg_sim_null_t *self = ctx;
    const s_inst_t *s = &self->inst[i];
    memset(out, 0, sizeof *out);
    out->reward = (float)s->ones / (float)self->length;
    out->success = s->ones == self->length;
}

const cg_sim_table_t cg_sim_null = {
    .abi_version = CG_SIM_ABI_VERSION,
    .struct_size = sizeof(cg_sim_table_t),
    .name = "null",
    .help = "does nothing but cost one step: the framework's own overhead",
    .describe = cg_sim_null_describe,
    .create = cg_sim_null_create,
    .destroy = cg_sim_null_destroy,
    .reset = cg_sim_null_reset,
    .step = cg_sim_null_step,
    .result = cg_sim_null_result,
};
