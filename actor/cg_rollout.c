/* cg_rollout: groups of episodes on a batch of simulator instances, one policy forward per
 * step. Groups live in slots (grow-only, reused): each slot keeps per-member arenas for
 * obs/action/logp that only ever grow, so steady-state steps do not allocate. Members are
 * handed to free instances in order from the one "open" group (at most one group is partly
 * assigned at any time). */
#include "cg_rollout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_rng.h"

#define S_STREAM 0x726f6c6c6f7574ULL /* "rollout": stream of the rollout's root RNG */
#define S_MIN_STEPS 16               /* first capacity of a member's step arrays */

typedef enum {
    S_FREE = 0,   /* reusable */
    S_ACTIVE = 1, /* members running or waiting for an instance */
    S_READY = 2,  /* all G members finished, not taken */
    S_TAKEN = 3,  /* handed out by take, until release */
} s_state_t;

typedef struct {
    s_state_t state;
    uint64_t init_seed;
    int32_t n_checks;
    uint64_t version;     /* oldest policy version of any of its steps */
    int32_t n_started;    /* members given to an instance */
    int32_t n_done;       /* members finished */
    cg_msg_episode_t *ep; /* (G) lengths, results and views of the arenas below */
    int32_t *cap;         /* (G) step capacity of each member's arrays */
} s_group_t;

struct cg_rollout {
    cg_sim_t *sim;       /* borrowed */
    cg_policy_t *policy; /* borrowed */
    cg_sim_info_t info;
    int32_t m, g, obs_dim, n_actions, n_costs;
    int32_t continuous;   /* a Gaussian head driving a continuous simulator */
    const float *log_std; /* continuous: the policy's log-std (in its arena) */
    float *temps;         /* (G) member temperatures */
    float top_p;          /* nucleus sampling; 1 = off */
    int32_t *order;       /* (n_actions) the nucleus sampler's scratch */
    cg_rng_t seed_rng;    /* draws each group's init_seed */
    cg_rng_t *rng;        /* (M) per-instance sampling */
    uint64_t version;
    int64_t budget; /* groups that may still start; -1 = unlimited */

    int32_t *inst_group;  /* (M) slot of the episode on instance i, -1 = idle */
    int32_t *inst_member; /* (M) member index j within that group */
    float *inst_obs;      /* (M, obs_dim) current observation of each instance */
    int32_t *run_idx;     /* (M) running instances of this step */
    int32_t *actions;     /* (M) their actions, in run_idx order */
    float *actions_f;     /* continuous: (M, n_actions) their actions, in run_idx order */
    uint8_t *done;        /* (M) their end flags, in run_idx order */
    float *batch_obs;     /* (M, obs_dim) gathered observations */
    float *logits;        /* (M, n_actions) */

    s_group_t **slots; /* (n_slots) each allocated once, never moved */
    int32_t n_slots;
    int32_t *free_slots; /* (n_slots) stack of free slot indices */
    int32_t n_free;
    int32_t *ready; /* (n_slots) FIFO of finished slots, oldest first */
    int32_t n_ready;
    int32_t *taken; /* (n_slots) slots handed out by take */
    int32_t n_taken;
    int32_t open; /* slot still handing out members, -1 = none */
    int32_t in_flight;
    cg_msg_group_t *out; /* (out_cap) views handed out by take */
    int32_t out_cap;

    cg_rollout_stats_t stats;
};

cg_rollout_t *cg_rollout_new(cg_sim_t *sim, cg_policy_t *policy, const cg_rollout_opts_t *opts,
                             char *err, size_t errlen)
{
    if (!sim || !policy || !opts) {
        snprintf(err, errlen, "cg_rollout_new: sim, policy and opts are required");
        return NULL;
    }
    const cg_sim_info_t *info = cg_sim_info(sim);
    const cg_policy_shape_t *shape = cg_policy_shape(policy);
    int32_t m = cg_sim_n_instances(sim);
    if (opts->group_size < 1 || opts->group_size > CG_MAX_GROUP) {
        snprintf(err, errlen, "group size %d outside [1, %d]", opts->group_size, CG_MAX_GROUP);
        return NULL;
    }
    if (opts->n_temperatures != 0 && opts->n_temperatures != opts->group_size) {
        snprintf(err, errlen,
                 "%d temperatures for group size %d (hint: give one temperature per group "
                 "member, or none)",
                 opts->n_temperatures, opts->group_size);
        return NULL;
    }
    for (int32_t j = 0; j < opts->n_temperatures; j++) {
        if (!(isfinite(opts->temperatures[j]) && opts->temperatures[j] > 0.0f)) {
            snprintf(err, errlen, "temperature %d is %g, must be finite and > 0", j,
                     (double)opts->temperatures[j]);
            return NULL;
        }
    }
    if (m < 1) {
        snprintf(err, errlen, "simulator has %d instances, need at least 1", m);
        return NULL;
    }
    if (info->obs_dim != shape->obs_dim || info->n_actions != shape->n_actions) {
        snprintf(
            err, errlen, "simulator %s has obs_dim %d and %d actions, the policy expects %d and %d",
            cg_sim_name(sim), info->obs_dim, info->n_actions, shape->obs_dim, shape->n_actions);
        return NULL;
    }
    if (!info->continuous != (shape->head == CG_HEAD_CATEGORICAL)) {
        snprintf(err, errlen,
                 "simulator %s takes %s actions, the policy has a %s head (hint: [policy] "
                 "head = auto)",
                 cg_sim_name(sim), info->continuous ? "continuous" : "discrete",
                 shape->head == CG_HEAD_GAUSSIAN ? "gaussian" : "categorical");
        return NULL;
    }
    if (info->n_costs < 0 || info->n_costs > CG_MAX_COSTS) {
        snprintf(err, errlen, "simulator %s reports %d costs, at most %d are supported",
                 cg_sim_name(sim), info->n_costs, CG_MAX_COSTS);
        return NULL;
    }

    cg_rollout_t *self = cg_calloc(1, sizeof *self);
    self->sim = sim;
    self->policy = policy;
    self->info = *info;
    self->m = m;
    self->g = opts->group_size;
    self->obs_dim = info->obs_dim;
    self->n_actions = info->n_actions;
    self->n_costs = info->n_costs;
    self->continuous = info->continuous;
    if (self->continuous)
        self->log_std = cg_policy_params(policy) + cg_policy_shape_log_std_offset(shape);
    self->top_p = opts->top_p > 0.0f && opts->top_p < 1.0f ? opts->top_p : 1.0f;
    self->order = cg_calloc((size_t)self->n_actions, sizeof *self->order);
    self->temps = cg_calloc((size_t)self->g, sizeof *self->temps);
    for (int32_t j = 0; j < self->g; j++)
        self->temps[j] = opts->n_temperatures ? opts->temperatures[j] : 1.0f;

    cg_rng_t root;
    cg_rng_seed(&root, opts->seed, S_STREAM);
    self->seed_rng = cg_rng_split(&root, 0);
    self->rng = cg_calloc((size_t)m, sizeof *self->rng);
    for (int32_t i = 0; i < m; i++)
        self->rng[i] = cg_rng_split(&root, 1 + (uint64_t)i);
    self->budget = -1;

    size_t d = (size_t)self->obs_dim;
    self->inst_group = cg_calloc((size_t)m, sizeof *self->inst_group);
    self->inst_member = cg_calloc((size_t)m, sizeof *self->inst_member);
    for (int32_t i = 0; i < m; i++)
        self->inst_group[i] = -1;
    self->inst_obs = cg_calloc((size_t)m * d, sizeof(float));
    self->run_idx = cg_calloc((size_t)m, sizeof *self->run_idx);
    self->actions = cg_calloc((size_t)m, sizeof *self->actions);
    if (self->continuous)
        self->actions_f = cg_calloc((size_t)m * (size_t)self->n_actions, sizeof(float));
    self->done = cg_calloc((size_t)m, sizeof *self->done);
    self->batch_obs = cg_calloc((size_t)m * d, sizeof(float));
    self->logits = cg_calloc((size_t)m * (size_t)self->n_actions, sizeof(float));
    self->open = -1;
    return self;
}

static void s_group_destroy(s_group_t *grp, int32_t g)
{
    for (int32_t j = 0; j < g; j++) {
        free(grp->ep[j].obs);
        free(grp->ep[j].action);
        free(grp->ep[j].action_f);
        free(grp->ep[j].logp);
    }
    free(grp->ep);
    free(grp->cap);
    free(grp);
}

void cg_rollout_destroy(cg_rollout_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_rollout_t *self = *self_p;
    for (int32_t s = 0; s < self->n_slots; s++)
        s_group_destroy(self->slots[s], self->g);
    free(self->slots);
    free(self->free_slots);
    free(self->ready);
    free(self->taken);
    free(self->out);
    free(self->logits);
    free(self->batch_obs);
    free(self->run_idx);
    free(self->actions);
    free(self->actions_f);
    free(self->order);
    free(self->done);
    free(self->inst_obs);
    free(self->inst_member);
    free(self->inst_group);
    free(self->rng);
    free(self->temps);
    free(self);
    *self_p = NULL;
}

void cg_rollout_set_version(cg_rollout_t *self, uint64_t version)
{
    self->version = version;
}

void cg_rollout_set_budget(cg_rollout_t *self, int64_t groups)
{
    self->budget = groups < 0 ? -1 : groups;
}

int64_t cg_rollout_budget(const cg_rollout_t *self)
{
    return self->budget;
}

int32_t cg_rollout_in_flight(const cg_rollout_t *self)
{
    return self->in_flight;
}

int32_t cg_rollout_n_ready(const cg_rollout_t *self)
{
    return self->n_ready;
}

void cg_rollout_stats(const cg_rollout_t *self, cg_rollout_stats_t *out)
{
    *out = self->stats;
}

/* A free slot, growing the pool (and its index arrays) when none is left. */
static int32_t s_slot_alloc(cg_rollout_t *self)
{
    if (self->n_free == 0) {
        int32_t n = self->n_slots + 1;
        self->slots = cg_realloc(self->slots, (size_t)n, sizeof *self->slots);
        self->free_slots = cg_realloc(self->free_slots, (size_t)n, sizeof *self->free_slots);
        self->ready = cg_realloc(self->ready, (size_t)n, sizeof *self->ready);
        self->taken = cg_realloc(self->taken, (size_t)n, sizeof *self->taken);
        s_group_t *grp = cg_calloc(1, sizeof *grp);
        grp->ep = cg_calloc((size_t)self->g, sizeof *grp->ep);
        grp->cap = cg_calloc((size_t)self->g, sizeof *grp->cap);
        self->slots[self->n_slots] = grp;
        self->free_slots[self->n_free++] = self->n_slots;
        self->n_slots = n;
    }
    return self->free_slots[--self->n_free];
}

static void s_slot_free(cg_rollout_t *self, int32_t s)
{
    self->slots[s]->state = S_FREE;
    self->free_slots[self->n_free++] = s;
}

/* Member arrays of group grp, member j, can hold at least `steps` steps. */
static void s_reserve(cg_rollout_t *self, s_group_t *grp, int32_t j, int32_t steps)
{
    if (steps <= grp->cap[j])
        return;
    int32_t cap = grp->cap[j] > 0 ? grp->cap[j] : S_MIN_STEPS;
    while (cap < steps)
        cap *= 2;
    cg_msg_episode_t *ep = &grp->ep[j];
    ep->obs = cg_realloc(ep->obs, (size_t)cap * (size_t)self->obs_dim, sizeof(float));
    if (self->continuous)
        ep->action_f =
            cg_realloc(ep->action_f, (size_t)cap * (size_t)self->n_actions, sizeof(float));
    else
        ep->action = cg_realloc(ep->action, (size_t)cap, sizeof(int32_t));
    ep->logp = cg_realloc(ep->logp, (size_t)cap, sizeof(float));
    grp->cap[j] = cap;
}

/* Starts the next waiting member on idle instance i. 0 when there is none to start (no open
 * group and the budget is spent), 1 when started, a negative status when the simulator
 * broke a rule. */
static int s_assign(cg_rollout_t *self, int32_t i)
{
    if (self->open < 0) {
        if (self->budget == 0)
            return 0;
        int32_t s = s_slot_alloc(self);
        s_group_t *grp = self->slots[s];
        grp->state = S_ACTIVE;
        grp->init_seed = cg_rng_u64(&self->seed_rng);
        grp->n_checks = 0;
        grp->version = self->version;
        grp->n_started = 0;
        grp->n_done = 0;
        if (self->budget > 0)
            self->budget--;
        self->open = s;
        self->in_flight++;
    }
    s_group_t *grp = self->slots[self->open];
    int32_t j = grp->n_started++;
    cg_msg_episode_t *ep = &grp->ep[j];
    ep->reward = 0.0f;
    memset(ep->cost, 0, sizeof ep->cost);
    ep->length = 0;
    ep->temperature = self->temps[j];
    self->inst_group[i] = self->open;
    self->inst_member[i] = j;
    if (grp->n_started == self->g)
        self->open = -1;
    cg_status_t rc = cg_sim_reset(self->sim, i, grp->init_seed,
                                  self->inst_obs + (size_t)i * (size_t)self->obs_dim);
    return rc == CG_OK ? 1 : rc;
}

/* Records the end of the episode on instance i; returns 1 if that finished its group, a
 * negative status when the simulator broke a rule. */
static int s_finish(cg_rollout_t *self, int32_t i)
{
    int32_t s = self->inst_group[i];
    s_group_t *grp = self->slots[s];
    cg_msg_episode_t *ep = &grp->ep[self->inst_member[i]];
    cg_sim_result_t res;
    cg_status_t rc = cg_sim_result(self->sim, i, &res);
    if (rc != CG_OK)
        return rc;
    ep->reward = res.reward;
    for (int32_t k = 0; k < self->n_costs; k++)
        ep->cost[k] = res.cost[k];
    grp->n_checks = res.n_checks; /* a property of the prompt: equal for all members */
    self->inst_group[i] = -1;
    self->stats.episodes++;
    if (++grp->n_done < self->g)
        return 0;
    grp->state = S_READY;
    self->ready[self->n_ready++] = s;
    self->in_flight--;
    self->stats.groups++;
    return 1;
}

int32_t cg_rollout_step(cg_rollout_t *self)
{
    const size_t d = (size_t)self->obs_dim, a = (size_t)self->n_actions;
    for (int32_t i = 0; i < self->m; i++) {
        if (self->inst_group[i] >= 0)
            continue;
        int rc = s_assign(self, i);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
    }

    int32_t n = 0;
    for (int32_t i = 0; i < self->m; i++) {
        if (self->inst_group[i] < 0)
            continue;
        memcpy(self->batch_obs + (size_t)n * d, self->inst_obs + (size_t)i * d, d * sizeof(float));
        self->run_idx[n++] = i;
    }
    if (n == 0)
        return 0;
    cg_policy_forward(self->policy, self->batch_obs, n, self->logits);
    self->stats.forwards++;

    for (int32_t k = 0; k < n; k++) {
        int32_t i = self->run_idx[k];
        s_group_t *grp = self->slots[self->inst_group[i]];
        int32_t j = self->inst_member[i];
        cg_msg_episode_t *ep = &grp->ep[j];
        int32_t t = ep->length;
        s_reserve(self, grp, j, t + 1);
        memcpy(ep->obs + (size_t)t * d, self->batch_obs + (size_t)k * d, d * sizeof(float));
        float logp1 = 0.0f;
        if (self->continuous) {
            float *act = ep->action_f + (size_t)t * a;
            cg_policy_gaussian_sample(self->logits + (size_t)k * a, self->log_std, self->n_actions,
                                      ep->temperature, &self->rng[i], act, &logp1);
            memcpy(self->actions_f + (size_t)k * a, act, a * sizeof(float));
        } else {
            int32_t action = cg_policy_sample_top_p(self->logits + (size_t)k * a, self->n_actions,
                                                    ep->temperature, self->top_p, self->order,
                                                    &self->rng[i], &logp1);
            ep->action[t] = action;
            self->actions[k] = action;
        }
        ep->logp[t] = logp1;
        ep->length = t + 1;
        if (self->version < grp->version)
            grp->version = self->version;
        self->stats.steps++;
    }
    cg_status_t rc = self->continuous
                         ? cg_sim_step_batch_continuous(self->sim, n, self->run_idx,
                                                        self->actions_f, self->inst_obs, self->done)
                         : cg_sim_step_batch(self->sim, n, self->run_idx, self->actions,
                                             self->inst_obs, self->done);
    if (rc != CG_OK)
        return rc;
    int32_t finished = 0;
    for (int32_t k = 0; k < n; k++) {
        if (!self->done[k])
            continue;
        int r = s_finish(self, self->run_idx[k]);
        if (r < 0)
            return r;
        finished += r;
    }
    return finished;
}

void cg_rollout_discard(cg_rollout_t *self)
{
    for (int32_t i = 0; i < self->m; i++)
        self->inst_group[i] = -1;
    for (int32_t s = 0; s < self->n_slots; s++)
        if (self->slots[s]->state == S_ACTIVE || self->slots[s]->state == S_READY)
            s_slot_free(self, s);
    self->n_ready = 0;
    self->open = -1;
    self->in_flight = 0;
}

/* Upper bound on a group's encoded size: packed floats and varints plus field overhead. */
static size_t s_group_bytes(const cg_rollout_t *self, const s_group_t *grp)
{
    size_t bytes = 32;
    for (int32_t j = 0; j < self->g; j++)
        bytes += 64 + 5 * (size_t)self->n_costs +
                 (size_t)grp->ep[j].length *
                     (4 * (size_t)self->obs_dim + 4 * (size_t)self->n_actions + 4 + 10);
    return bytes;
}

int32_t cg_rollout_take(cg_rollout_t *self, int32_t max_groups, size_t max_bytes,
                        cg_msg_groups_t *out)
{
    CG_ASSERT(self->n_taken == 0); /* release before the next take */
    memset(out, 0, sizeof *out);
    out->group_size = self->g;
    out->n_costs = self->n_costs;
    out->obs_dim = self->obs_dim;
    out->n_actions = self->n_actions;
    out->continuous = self->continuous;
    int32_t n = self->n_ready;
    if (max_groups > 0 && n > max_groups)
        n = max_groups;
    if (n == 0)
        return 0;
    if (n > self->out_cap) {
        self->out = cg_realloc(self->out, (size_t)n, sizeof *self->out);
        self->out_cap = n;
    }
    size_t bytes = 64;
    int32_t k = 0;
    for (; k < n; k++) {
        s_group_t *grp = self->slots[self->ready[k]];
        size_t gb = s_group_bytes(self, grp);
        if (k > 0 && max_bytes > 0 && bytes + gb > max_bytes)
            break;
        bytes += gb;
        grp->state = S_TAKEN;
        self->taken[self->n_taken++] = self->ready[k];
        self->out[k] = (cg_msg_group_t){grp->init_seed, grp->n_checks, grp->ep};
        if (k == 0 || grp->version < out->policy_version)
            out->policy_version = grp->version;
    }
    memmove(self->ready, self->ready + k, (size_t)(self->n_ready - k) * sizeof *self->ready);
    self->n_ready -= k;
    out->n_groups = k;
    out->groups = self->out;
    return k;
}

void cg_rollout_release(cg_rollout_t *self)
{
    for (int32_t k = 0; k < self->n_taken; k++)
        s_slot_free(self, self->taken[k]);
    self->n_taken = 0;
}
