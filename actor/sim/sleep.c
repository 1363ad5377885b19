/* sleep: the null simulator plus a nanosleep of [sim] sleep_us microseconds per step, standing
 * in for an expensive simulator in throughput studies. Episodes, observations and rewards are
 * exactly null's (length [sim] null_length). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cg_alloc.h"
#include "cg_sim.h"

extern const cg_sim_vtable_t cg_sim_null; /* null.c: sleep delegates everything but the nap */

typedef struct {
    void *inner;           /* the null simulator's context, owned */
    struct timespec delay; /* per step; zero = no sleep call */
} s_sleep_t;

static void s_destroy(void *ctx)
{
    s_sleep_t *self = ctx;
    if (!self)
        return;
    cg_sim_null.destroy(self->inner);
    free(self);
}

static void *s_create(const cg_config_t *cfg, int32_t n, uint64_t seed, cg_sim_info_t *info,
                      char *err, size_t errlen)
{
    if (cfg->sim_sleep_us < 0) {
        if (err && errlen)
            snprintf(err, errlen, "[sim] sleep_us: %d is negative (hint: microseconds each step "
                                  "of the sleep simulator sleeps; 0 = none)",
                     cfg->sim_sleep_us);
        return NULL;
    }
    void *inner = cg_sim_null.create(cfg, n, seed, info, err, errlen);
    if (!inner)
        return NULL;
    s_sleep_t *self = cg_calloc(1, sizeof *self);
    self->inner = inner;
    self->delay.tv_sec = cfg->sim_sleep_us / 1000000;
    self->delay.tv_nsec = (long)(cfg->sim_sleep_us % 1000000) * 1000L;
    return self;
}

static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_sleep_t *self = ctx;
    cg_sim_null.reset(self->inner, i, init_seed, obs);
}

/* Sleeps the full delay, resuming after signals, then takes null's step. */
static int s_step(void *ctx, int32_t i, int32_t action, float *obs)
{
    s_sleep_t *self = ctx;
    if (self->delay.tv_sec > 0 || self->delay.tv_nsec > 0) {
        struct timespec left = self->delay;
        while (nanosleep(&left, &left) != 0 && errno == EINTR)
            ;
    }
    return cg_sim_null.step(self->inner, i, action, obs);
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    s_sleep_t *self = ctx;
    cg_sim_null.result(self->inner, i, out);
}

const cg_sim_vtable_t cg_sim_sleep = {
    .name = "sleep",
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
};
