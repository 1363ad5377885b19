/* sleep: the null simulator plus a nanosleep of [sleep] step_us microseconds per instance
 * step, standing in for an expensive simulator in throughput studies. Episodes,
 * observations and rewards are exactly null's (length [sim] horizon, 0 = 32). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cg_alloc.h"
#include "cg_sim.h"
#include "null.h"

enum { S_KEY_STEP_US = 0 };

static const cg_sim_key_t s_keys[] = {
    [S_KEY_STEP_US] = {"step_us", CG_SIM_INT, "0", 0, 60000000,
                       "microseconds each instance's step sleeps; 0 = none"},
};

typedef struct {
    void *inner;           /* the null simulator's context, owned */
    struct timespec delay; /* per instance step; zero = no sleep call */
} s_sleep_t;

static void s_destroy(void *ctx)
{
    s_sleep_t *self = ctx;
    if (!self)
        return;
    cg_sim_null_destroy(self->inner);
    free(self);
}

static void *s_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    void *inner = cg_sim_null_create(p, n, seed, err, errlen);
    if (!inner)
        return NULL;
    s_sleep_t *self = cg_calloc(1, sizeof *self);
    self->inner = inner;
    int64_t us = p->values[S_KEY_STEP_US].i;
    self->delay.tv_sec = (time_t)(us / 1000000);
    self->delay.tv_nsec = (long)(us % 1000000) * 1000L;
    return self;
}

static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_sleep_t *self = ctx;
    cg_sim_null_reset(self->inner, i, init_seed, obs);
}

/* Sleeps the full delay once per stepped instance (as a simulator that costs that much per
 * step would), resuming after signals, then takes null's step. */
static void s_step(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                   uint8_t *done)
{
    s_sleep_t *self = ctx;
    for (int32_t k = 0; k < n && (self->delay.tv_sec > 0 || self->delay.tv_nsec > 0); k++) {
        struct timespec left = self->delay;
        while (nanosleep(&left, &left) != 0 && errno == EINTR)
            ;
    }
    cg_sim_null_step(self->inner, n, idx, actions, obs, done);
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    s_sleep_t *self = ctx;
    cg_sim_null_result(self->inner, i, out);
}

const cg_sim_table_t cg_sim_sleep = {
    .abi_version = CG_SIM_ABI_VERSION,
    .struct_size = sizeof(cg_sim_table_t),
    .name = "sleep",
    .help = "the null simulator plus a sleep per step, standing in for an expensive simulator",
    .keys = s_keys,
    .n_keys = (int32_t)(sizeof s_keys / sizeof s_keys[0]),
    .describe = cg_sim_null_describe,
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
};
