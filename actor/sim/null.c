/* null: a simulator that does nothing but cost one step, for measuring the framework's own
 * overhead. Episodes last [sim] null_length steps; 2 actions; no costs. The reward, the
 * fraction of steps that chose action 1, gives learners a trivial smoke test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_sim.h"

enum { S_OBS_DIM = 4, S_N_ACTIONS = 2 };

typedef struct {
    int32_t t;       /* steps taken this episode */
    int32_t ones;    /* steps that chose action 1 */
    int8_t running;  /* reset and not yet done */
    int8_t finished; /* an episode ended and result() may be read */
} s_inst_t;

typedef struct {
    int32_t n;
    int32_t length;
    s_inst_t *inst; /* (n) */
} s_null_t;

static void s_destroy(void *ctx)
{
    s_null_t *self = ctx;
    if (!self)
        return;
    free(self->inst);
    free(self);
}

static void *s_create(const cg_config_t *cfg, int32_t n, uint64_t seed, cg_sim_info_t *info,
                      char *err, size_t errlen)
{
    (void)seed; /* nothing random */
    if (cfg->null_length < 1) {
        if (err && errlen)
            snprintf(err, errlen, "[sim] null_length: %d, need at least 1 (hint: steps per "
                                  "episode of the null and sleep simulators; default 32)",
                     cfg->null_length);
        return NULL;
    }
    s_null_t *self = cg_calloc(1, sizeof *self);
    self->n = n;
    self->length = cfg->null_length;
    self->inst = cg_calloc((size_t)n, sizeof *self->inst);
    memset(info, 0, sizeof *info);
    info->obs_dim = S_OBS_DIM;
    info->n_actions = S_N_ACTIONS;
    info->n_costs = 0;
    info->max_steps = self->length;
    return self;
}

/* obs = (t / length, 1 - t / length, fraction of ones so far, 1). */
static void s_observe(const s_null_t *self, const s_inst_t *s, float *obs)
{
    float frac = (float)s->t / (float)self->length;
    obs[0] = frac;
    obs[1] = 1.0f - frac;
    obs[2] = s->t > 0 ? (float)s->ones / (float)s->t : 0.0f;
    obs[3] = 1.0f;
}

static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_null_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    (void)init_seed;
    s->t = 0;
    s->ones = 0;
    s->running = 1;
    s->finished = 0;
    s_observe(self, s, obs);
}

static int s_step(void *ctx, int32_t i, int32_t action, float *obs)
{
    s_null_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    CG_ASSERT(s->running);
    CG_ASSERT(action >= 0 && action < S_N_ACTIONS);
    s->t++;
    s->ones += action;
    int done = s->t >= self->length;
    if (done) {
        s->running = 0;
        s->finished = 1;
    }
    s_observe(self, s, obs);
    return done;
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    s_null_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    CG_ASSERT(s->finished);
    memset(out, 0, sizeof *out);
    out->reward = (float)s->ones / (float)self->length;
    out->success = s->ones == self->length;
}

const cg_sim_vtable_t cg_sim_null = {
    .name = "null",
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
};
