/* cg_sim: the simulator registry and the thin wrappers that check arguments and dispatch
 * through a simulator's vtable. Adding a simulator is one line in S_REGISTRY below. */
#include "cg_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"

/* The registry: one X(name) per simulator, each defined as cg_sim_<name> in actor/sim/<name>.c.
 * To add one, put `X(yourname) SEP` on its own line above the last entry. */
#define S_REGISTRY(X, SEP) \
    X(gridworld) SEP       \
    X(instruct) SEP        \
    X(null) SEP            \
    X(sleep)

#define S_DECLARE(name) extern const cg_sim_vtable_t cg_sim_##name;
#define S_ENTRY(name) &cg_sim_##name
#define S_STRING(name) #name
#define S_COMMA ,

S_REGISTRY(S_DECLARE, )
static const cg_sim_vtable_t *const s_registry[] = {S_REGISTRY(S_ENTRY, S_COMMA)};
static const char s_names[] = S_REGISTRY(S_STRING, ", ");
#define S_N_SIMS ((int32_t)(sizeof s_registry / sizeof s_registry[0]))

struct cg_sim {
    const cg_sim_vtable_t *vt;
    void *ctx; /* the simulator's own state, freed by vt->destroy */
    int32_t n;
    cg_sim_info_t info;
};

const char *cg_sim_names(void)
{
    return s_names;
}

cg_sim_t *cg_sim_new(const cg_config_t *cfg, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    CG_ASSERT(cfg);
    if (err && errlen)
        err[0] = '\0';
    const cg_sim_vtable_t *vt = NULL;
    for (int32_t k = 0; k < S_N_SIMS && !vt; k++)
        if (strcmp(s_registry[k]->name, cfg->sim) == 0)
            vt = s_registry[k];
    if (!vt) {
        if (err && errlen)
            snprintf(err, errlen, "[sim] name: unknown simulator '%s' (hint: known simulators "
                                  "are %s)",
                     cfg->sim, s_names);
        return NULL;
    }
    if (n < 1) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %d simulator instances, need at least 1 (hint: [actor] "
                                  "instances)",
                     vt->name, n);
        return NULL;
    }
    cg_sim_t *self = cg_calloc(1, sizeof *self);
    self->vt = vt;
    self->n = n;
    self->ctx = vt->create(cfg, n, seed, &self->info, err, errlen);
    if (!self->ctx) {
        if (err && errlen && !err[0])
            snprintf(err, errlen, "%s: cannot create the simulator", vt->name);
        free(self);
        return NULL;
    }
    /* A simulator that reports nonsense here is a bug in that simulator. */
    const cg_sim_info_t *info = &self->info;
    CG_ASSERT(info->obs_dim >= 1 && info->n_actions >= 1 && info->max_steps >= 1);
    CG_ASSERT(info->n_costs >= 0 && info->n_costs <= CG_MAX_COSTS);
    return self;
}

void cg_sim_destroy(cg_sim_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_sim_t *self = *self_p;
    self->vt->destroy(self->ctx);
    free(self);
    *self_p = NULL;
}

const cg_sim_info_t *cg_sim_info(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return &self->info;
}

const char *cg_sim_name(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return self->vt->name;
}

int32_t cg_sim_n_instances(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return self->n;
}

void cg_sim_reset(cg_sim_t *self, int32_t i, uint64_t init_seed, float *obs)
{
    CG_ASSERT(self && obs);
    CG_ASSERT(i >= 0 && i < self->n);
    self->vt->reset(self->ctx, i, init_seed, obs);
}

int cg_sim_step(cg_sim_t *self, int32_t i, int32_t action, float *obs)
{
    CG_ASSERT(self && obs);
    CG_ASSERT(i >= 0 && i < self->n);
    CG_ASSERT(action >= 0 && action < self->info.n_actions);
    return self->vt->step(self->ctx, i, action, obs);
}

void cg_sim_result(cg_sim_t *self, int32_t i, cg_sim_result_t *out)
{
    CG_ASSERT(self && out);
    CG_ASSERT(i >= 0 && i < self->n);
    self->vt->result(self->ctx, i, out);
}
