/* cg_batch: copies groups out of messages into grow-only arenas, computes their advantages
 * and gathers shuffled minibatches of whole episodes. */
#include "cg_batch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"

typedef struct {
    uint64_t version; /* policy version the group was sampled with */
    uint64_t seq;     /* sender's message sequence number */
    uint64_t init_seed;
    int32_t actor_id;
    int32_t index; /* position within its message */
    int32_t n_checks;
} s_group_t;

struct cg_batch {
    int32_t G, K, D;
    int32_t A; /* continuous actions: floats per step's action (action_f); 0 = discrete */
    int32_t n_groups, cap_groups;
    s_group_t *groups; /* (cap_groups) */
    /* per episode, (cap_groups * G) */
    float *reward;
    float *cost; /* (episodes, K) */
    int32_t *length;
    float *temperature;
    int64_t *step0; /* first step of the episode in the step arena */
    float *adv;
    float *kl_coef;
    /* steps */
    int64_t n_steps, cap_steps;
    float *obs;      /* (cap_steps, D) */
    int32_t *action; /* (cap_steps) discrete */
    float *action_f; /* (cap_steps, A) continuous */
    float *logp;
    float *logp_ref;
    /* minibatch gather */
    int32_t *perm; /* episode order for the current epoch */
    int32_t n_perm, n_mb;
    int64_t cap_mb;
    float *mb_obs, *mb_logp, *mb_adv, *mb_weight, *mb_ref, *mb_kl;
    int32_t *mb_action;
    float *mb_action_f;
    /* the current minibatch: episodes perm[mb_lo + j], j < mb_n_ep, its rows from
     * mb_row0[j] (mb_row0[mb_n_ep] = rows), gathered by s_fill when the backend asks */
    int64_t *mb_row0; /* (cap_perm + 1) */
    int32_t cap_perm;
    int32_t mb_lo, mb_n_ep;
    int mb_with_ref, mb_asym;
};

cg_batch_t *cg_batch_new(int32_t group_size, int32_t n_costs, int32_t obs_dim)
{
    CG_ASSERT(group_size > 0 && n_costs >= 0 && n_costs <= CG_MAX_COSTS && obs_dim > 0);
    cg_batch_t *self = cg_calloc(1, sizeof *self);
    self->G = group_size;
    self->K = n_costs;
    self->D = obs_dim;
    return self;
}

void cg_batch_destroy(cg_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_batch_t *b = *self_p;
    free(b->groups);
    free(b->reward);
    free(b->cost);
    free(b->length);
    free(b->temperature);
    free(b->step0);
    free(b->adv);
    free(b->kl_coef);
    free(b->obs);
    free(b->action);
    free(b->action_f);
    free(b->logp);
    free(b->logp_ref);
    free(b->perm);
    free(b->mb_obs);
    free(b->mb_logp);
    free(b->mb_adv);
    free(b->mb_weight);
    free(b->mb_ref);
    free(b->mb_kl);
    free(b->mb_action);
    free(b->mb_action_f);
    free(b->mb_row0);
    free(b);
    *self_p = NULL;
}

int32_t cg_batch_n_groups(const cg_batch_t *self)
{
    return self->n_groups;
}
int64_t cg_batch_n_steps(const cg_batch_t *self)
{
    return self->n_steps;
}
const float *cg_batch_obs(const cg_batch_t *self)
{
    return self->obs;
}
void cg_batch_set_continuous(cg_batch_t *self, int32_t n_actions)
{
    CG_ASSERT(n_actions > 0 && self->cap_steps == 0);
    self->A = n_actions;
}
const int32_t *cg_batch_actions(const cg_batch_t *self)
{
    return self->A ? NULL : self->action;
}
const float *cg_batch_actions_f(const cg_batch_t *self)
{
    return self->A ? self->action_f : NULL;
}
float *cg_batch_logp_ref(cg_batch_t *self)
{
    return self->logp_ref;
}

static void s_reserve_groups(cg_batch_t *b, int32_t need)
{
    if (need <= b->cap_groups)
        return;
    int32_t cap = b->cap_groups ? b->cap_groups : 16;
    while (cap < need)
        cap *= 2;
    size_t e = (size_t)cap * (size_t)b->G;
    b->groups = cg_realloc(b->groups, (size_t)cap, sizeof *b->groups);
    b->reward = cg_realloc(b->reward, e, sizeof *b->reward);
    b->cost = cg_realloc(b->cost, e * (size_t)(b->K ? b->K : 1), sizeof *b->cost);
    b->length = cg_realloc(b->length, e, sizeof *b->length);
    b->temperature = cg_realloc(b->temperature, e, sizeof *b->temperature);
    b->step0 = cg_realloc(b->step0, e, sizeof *b->step0);
    b->adv = cg_realloc(b->adv, e, sizeof *b->adv);
    b->kl_coef = cg_realloc(b->kl_coef, e, sizeof *b->kl_coef);
    b->perm = cg_realloc(b->perm, e, sizeof *b->perm);
    b->cap_groups = cap;
}

static void s_reserve_steps(cg_batch_t *b, int64_t need)
{
    if (need <= b->cap_steps)
        return;
    int64_t cap = b->cap_steps ? b->cap_steps : 4096;
    while (cap < need)
        cap *= 2;
    b->obs = cg_realloc(b->obs, (size_t)cap * (size_t)b->D, sizeof *b->obs);
    if (b->A)
        b->action_f = cg_realloc(b->action_f, (size_t)cap * (size_t)b->A, sizeof *b->action_f);
    else
        b->action = cg_realloc(b->action, (size_t)cap, sizeof *b->action);
    b->logp = cg_realloc(b->logp, (size_t)cap, sizeof *b->logp);
    b->logp_ref = cg_realloc(b->logp_ref, (size_t)cap, sizeof *b->logp_ref);
    b->cap_steps = cap;
}

/* Steps [from, from + len) of the actions `action` or `action_f` (as the batch keeps them)
 * to the batch's steps from `at`. */
static void s_copy_actions(cg_batch_t *b, int64_t at, const int32_t *action, const float *action_f,
                           int64_t from, int64_t len)
{
    if (b->A)
        memcpy(b->action_f + at * b->A, action_f + from * b->A,
               (size_t)len * (size_t)b->A * sizeof(float));
    else
        memcpy(b->action + at, action + from, (size_t)len * sizeof(int32_t));
}

cg_status_t cg_batch_add(cg_batch_t *self, const cg_msg_groups_t *msg)
{
    if (msg->group_size != self->G || msg->n_costs != self->K || msg->obs_dim != self->D ||
        msg->continuous != (self->A > 0) || (self->A && msg->n_actions != self->A))
        return CG_ERR_SHAPE;
    int64_t steps = 0;
    for (int32_t g = 0; g < msg->n_groups; g++)
        for (int32_t j = 0; j < self->G; j++)
            steps += msg->groups[g].episodes[j].length;
    s_reserve_groups(self, self->n_groups + msg->n_groups);
    s_reserve_steps(self, self->n_steps + steps);
    for (int32_t g = 0; g < msg->n_groups; g++) {
        const cg_msg_group_t *src = &msg->groups[g];
        int32_t gi = self->n_groups++;
        self->groups[gi] = (s_group_t){msg->policy_version, msg->seq, src->init_seed,
                                       msg->actor_id,       g,        src->n_checks};
        for (int32_t j = 0; j < self->G; j++) {
            const cg_msg_episode_t *ep = &src->episodes[j];
            size_t e = (size_t)gi * (size_t)self->G + (size_t)j;
            self->reward[e] = ep->reward;
            for (int32_t k = 0; k < self->K; k++)
                self->cost[e * (size_t)self->K + (size_t)k] = ep->cost[k];
            self->length[e] = ep->length;
            self->temperature[e] = ep->temperature;
            self->step0[e] = self->n_steps;
            memcpy(self->obs + self->n_steps * self->D, ep->obs,
                   (size_t)ep->length * (size_t)self->D * sizeof(float));
            s_copy_actions(self, self->n_steps, ep->action, ep->action_f, 0, ep->length);
            memcpy(self->logp + self->n_steps, ep->logp, (size_t)ep->length * sizeof(float));
            self->n_steps += ep->length;
        }
    }
    return CG_OK;
}

void cg_batch_adv_member(const cg_batch_t *self, int32_t n, double *out)
{
    CG_ASSERT(n >= 1 && n <= self->n_groups);
    for (int32_t j = 0; j < self->G; j++) {
        double sum = 0;
        for (int32_t g = 0; g < n; g++)
            sum += self->adv[(size_t)g * (size_t)self->G + (size_t)j];
        out[j] = sum / n;
    }
}

void cg_batch_group_span(const cg_batch_t *self, int32_t g, int32_t *actor_id, int64_t *first,
                         int64_t *n)
{
    CG_ASSERT(g >= 0 && g < self->n_groups);
    const size_t e0 = (size_t)g * (size_t)self->G;
    int64_t steps = 0;
    for (int32_t j = 0; j < self->G; j++)
        steps += self->length[e0 + (size_t)j];
    *actor_id = self->groups[g].actor_id;
    *first = self->step0[e0];
    *n = steps;
}

/* Appends group g of src (its record, episodes and steps) to dst; same G, K, D. */
static void s_append_group(cg_batch_t *dst, const cg_batch_t *src, int32_t g)
{
    const int32_t G = src->G;
    int64_t steps = 0;
    for (int32_t j = 0; j < G; j++)
        steps += src->length[(size_t)g * (size_t)G + (size_t)j];
    s_reserve_groups(dst, dst->n_groups + 1);
    s_reserve_steps(dst, dst->n_steps + steps);
    const int32_t gi = dst->n_groups++;
    dst->groups[gi] = src->groups[g];
    for (int32_t j = 0; j < G; j++) {
        const size_t eo = (size_t)g * (size_t)G + (size_t)j,
                     en = (size_t)gi * (size_t)G + (size_t)j;
        dst->reward[en] = src->reward[eo];
        memcpy(dst->cost + en * (size_t)src->K, src->cost + eo * (size_t)src->K,
               (size_t)src->K * sizeof(float));
        dst->length[en] = src->length[eo];
        dst->temperature[en] = src->temperature[eo];
        dst->step0[en] = dst->n_steps;
        const int64_t len = src->length[eo], from = src->step0[eo];
        memcpy(dst->obs + dst->n_steps * src->D, src->obs + from * src->D,
               (size_t)len * (size_t)src->D * sizeof(float));
        s_copy_actions(dst, dst->n_steps, src->action, src->action_f, from, len);
        memcpy(dst->logp + dst->n_steps, src->logp + from, (size_t)len * sizeof(float));
        dst->n_steps += len;
    }
}

/* Exchanges the group and step arenas of a and b (not the minibatch buffers). */
static void s_swap_arenas(cg_batch_t *a, cg_batch_t *b)
{
#define S_SWAP(field)                                                                              \
    do {                                                                                           \
        __typeof__(a->field) t_ = a->field;                                                        \
        a->field = b->field;                                                                       \
        b->field = t_;                                                                             \
    } while (0)
    S_SWAP(n_groups);
    S_SWAP(cap_groups);
    S_SWAP(groups);
    S_SWAP(reward);
    S_SWAP(cost);
    S_SWAP(length);
    S_SWAP(temperature);
    S_SWAP(step0);
    S_SWAP(adv);
    S_SWAP(kl_coef);
    S_SWAP(perm);
    S_SWAP(n_steps);
    S_SWAP(cap_steps);
    S_SWAP(obs);
    S_SWAP(action);
    S_SWAP(action_f);
    S_SWAP(logp);
    S_SWAP(logp_ref);
#undef S_SWAP
}

/* Rebuilds the batch keeping groups in the order given by keep (n_keep indices), through
 * fresh arenas: simple, and small next to the update. */
static void s_rebuild(cg_batch_t *b, const int32_t *keep, int32_t n_keep)
{
    cg_batch_t *fresh = cg_batch_new(b->G, b->K, b->D);
    fresh->A = b->A;
    for (int32_t i = 0; i < n_keep; i++)
        s_append_group(fresh, b, keep[i]);
    s_swap_arenas(b, fresh);
    cg_batch_destroy(&fresh);
}

void cg_batch_take(cg_batch_t *dst, cg_batch_t *src)
{
    CG_ASSERT(dst != src && dst->G == src->G && dst->K == src->K && dst->D == src->D);
    for (int32_t g = 0; g < src->n_groups; g++)
        s_append_group(dst, src, g);
    src->n_groups = 0;
    src->n_steps = 0;
}

int32_t cg_batch_drop_stale(cg_batch_t *self, uint64_t version, int32_t max_lag)
{
    int32_t *keep = cg_calloc((size_t)self->n_groups + 1, sizeof *keep);
    int32_t n_keep = 0;
    for (int32_t g = 0; g < self->n_groups; g++)
        if (self->groups[g].version + (uint64_t)max_lag >= version)
            keep[n_keep++] = g;
    int32_t dropped = self->n_groups - n_keep;
    if (dropped)
        s_rebuild(self, keep, n_keep);
    free(keep);
    return dropped;
}

static int s_cmp_group(const void *a, const void *b, void *arg)
{
    const s_group_t *groups = arg;
    const s_group_t *x = &groups[*(const int32_t *)a], *y = &groups[*(const int32_t *)b];
    if (x->actor_id != y->actor_id)
        return x->actor_id < y->actor_id ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void cg_batch_sort(cg_batch_t *self)
{
    int32_t *order = cg_calloc((size_t)self->n_groups + 1, sizeof *order);
    for (int32_t g = 0; g < self->n_groups; g++)
        order[g] = g;
    qsort_r(order, (size_t)self->n_groups, sizeof *order, s_cmp_group, self->groups);
    s_rebuild(self, order, self->n_groups);
    free(order);
}

void cg_batch_consume(cg_batch_t *self, int32_t n)
{
    CG_ASSERT(n >= 0 && n <= self->n_groups);
    int32_t rest = self->n_groups - n;
    int32_t *keep = cg_calloc((size_t)rest + 1, sizeof *keep);
    for (int32_t i = 0; i < rest; i++)
        keep[i] = n + i;
    s_rebuild(self, keep, rest);
    free(keep);
}

void cg_batch_stats(const cg_batch_t *self, int32_t n, uint64_t version, cg_batch_stats_t *out)
{
    memset(out, 0, sizeof *out);
    CG_ASSERT(n >= 0 && n <= self->n_groups);
    int32_t G = self->G, K = self->K;
    out->n_groups = n;
    out->n_episodes = n * G;
    double zero_r = 0, zero_c[CG_MAX_COSTS] = {0}, lag_sum = 0;
    for (int32_t g = 0; g < n; g++) {
        const float *r = self->reward + (size_t)g * (size_t)G;
        int same = 1;
        for (int32_t j = 0; j < G; j++) {
            size_t e = (size_t)g * (size_t)G + (size_t)j;
            out->reward_mean += r[j];
            out->reward_member[j] += r[j];
            out->goal_rate += r[j] >= 1.0f;
            out->n_steps += self->length[e];
            same &= r[j] == r[0];
            for (int32_t k = 0; k < K; k++)
                out->cost_rate[k] += self->cost[e * (size_t)K + (size_t)k];
        }
        zero_r += same;
        out->frac_all_goal += same && r[0] >= 1.0f;
        out->frac_all_zero += same && r[0] <= 0.0f;
        for (int32_t k = 0; k < K; k++) {
            int csame = 1;
            float c0 = self->cost[(size_t)g * (size_t)G * (size_t)K + (size_t)k];
            for (int32_t j = 0; j < G; j++)
                csame &=
                    self->cost[((size_t)g * (size_t)G + (size_t)j) * (size_t)K + (size_t)k] == c0;
            zero_c[k] += csame;
        }
        double lag =
            version >= self->groups[g].version ? (double)(version - self->groups[g].version) : 0.0;
        lag_sum += lag;
        if (lag > out->lag_max)
            out->lag_max = lag;
    }
    if (n > 0) {
        double ne = (double)n * G;
        out->reward_mean /= ne;
        out->goal_rate /= ne;
        for (int32_t k = 0; k < K; k++) {
            out->cost_rate[k] /= ne;
            out->frac_zero_std_cost[k] = zero_c[k] / n;
        }
        out->frac_zero_std_reward = zero_r / n;
        for (int32_t j = 0; j < G; j++)
            out->reward_member[j] /= n;
        out->frac_all_goal /= n;
        out->frac_all_zero /= n;
        out->lag_mean = lag_sum / n;
    }
}

cg_status_t cg_batch_advantages(cg_batch_t *self, int32_t n, const cg_adv_config_t *cfg,
                                int32_t n_enforced, const int32_t *cost_index, const float *lambda,
                                int asym_kl, float kl_neg, float kl_pos, float *eff_weight,
                                double *adv_neg_frac)
{
    int32_t G = self->G, K = self->K;
    float cost[CG_MAX_COSTS * CG_MAX_GROUP];
    float eff[CG_MAX_COSTS + 1];
    double eff_sum[CG_MAX_COSTS + 1] = {0};
    int64_t neg = 0;
    for (int32_t g = 0; g < n; g++) {
        size_t e0 = (size_t)g * (size_t)G;
        for (int32_t k = 0; k < n_enforced; k++)
            for (int32_t j = 0; j < G; j++)
                cost[k * G + j] = self->cost[(e0 + (size_t)j) * (size_t)K + (size_t)cost_index[k]];
        CG_TRY(cg_adv_group(cfg, G, n_enforced, self->reward + e0, cost, lambda,
                            self->groups[g].n_checks > 0 ? self->groups[g].n_checks : 1,
                            self->adv + e0, eff));
        for (int32_t k = 0; k <= n_enforced; k++)
            eff_sum[k] += eff[k];
        for (int32_t j = 0; j < G; j++) {
            float a = self->adv[e0 + (size_t)j];
            neg += a < 0.0f;
            self->kl_coef[e0 + (size_t)j] = asym_kl ? cg_adv_kl_coef(a, kl_neg, kl_pos) : 0.0f;
        }
    }
    if (eff_weight)
        for (int32_t k = 0; k <= n_enforced; k++)
            eff_weight[k] = n > 0 ? (float)(eff_sum[k] / n) : 0.0f;
    if (adv_neg_frac)
        *adv_neg_frac = n > 0 ? (double)neg / ((double)n * G) : 0.0;
    return CG_OK;
}

void cg_batch_shuffle(cg_batch_t *self, int32_t n, int32_t n_mb, cg_rng_t *rng)
{
    int32_t E = n * self->G;
    for (int32_t e = 0; e < E; e++)
        self->perm[e] = e;
    for (int32_t e = E - 1; e > 0; e--) { /* Fisher-Yates */
        int32_t j = (int32_t)cg_rng_below(rng, (uint32_t)e + 1u);
        int32_t t = self->perm[e];
        self->perm[e] = self->perm[j];
        self->perm[j] = t;
    }
    self->n_perm = E;
    self->n_mb = n_mb;
}

/* cg_minibatch_fill_fn: copies rows [r0, r1) of the current minibatch out of the arenas
 * (episodes split at the range's ends), and spreads the per-episode values over them. */
static void s_fill(const cg_minibatch_t *mb, int32_t r0, int32_t r1)
{
    cg_batch_t *self = (cg_batch_t *)mb->fill_ctx;
    const int64_t *row0 = self->mb_row0;
    int32_t lo = 0, hi = self->mb_n_ep; /* the episode holding row r0: row0[lo] <= r0 */
    while (hi - lo > 1) {
        int32_t mid = lo + (hi - lo) / 2;
        if (row0[mid] <= r0)
            lo = mid;
        else
            hi = mid;
    }
    const size_t D = (size_t)self->D;
    for (int32_t j = lo; j < self->mb_n_ep && row0[j] < r1; j++) {
        const int32_t e = self->perm[self->mb_lo + j];
        const int64_t a = row0[j] > r0 ? row0[j] : r0; /* rows [a, b) of it */
        const int64_t b = row0[j + 1] < r1 ? row0[j + 1] : r1;
        const int64_t from = self->step0[e] + (a - row0[j]);
        const size_t len = (size_t)(b - a);
        const float w = 1.0f / ((float)self->length[e] * (float)self->mb_n_ep);
        memcpy(self->mb_obs + (size_t)a * D, self->obs + (size_t)from * D, len * D * sizeof(float));
        if (self->A)
            memcpy(self->mb_action_f + (size_t)a * (size_t)self->A,
                   self->action_f + (size_t)from * (size_t)self->A,
                   len * (size_t)self->A * sizeof(float));
        else
            memcpy(self->mb_action + a, self->action + from, len * sizeof(int32_t));
        memcpy(self->mb_logp + a, self->logp + from, len * sizeof(float));
        if (self->mb_with_ref)
            memcpy(self->mb_ref + a, self->logp_ref + from, len * sizeof(float));
        for (int64_t t = a; t < b; t++) {
            self->mb_adv[t] = self->adv[e];
            self->mb_weight[t] = w;
        }
        if (self->mb_asym)
            for (int64_t t = a; t < b; t++)
                self->mb_kl[t] = self->kl_coef[e];
    }
}

void cg_batch_minibatch(cg_batch_t *self, int32_t i, int with_ref, int asym, cg_minibatch_t *mb)
{
    CG_ASSERT(i >= 0 && i < self->n_mb);
    int32_t lo = (int32_t)((int64_t)self->n_perm * i / self->n_mb);
    int32_t hi = (int32_t)((int64_t)self->n_perm * (i + 1) / self->n_mb);
    const int32_t n_ep = hi - lo;
    if (n_ep + 1 > self->cap_perm) {
        self->cap_perm = 2 * (n_ep + 1);
        self->mb_row0 = cg_realloc(self->mb_row0, (size_t)self->cap_perm, sizeof(int64_t));
    }
    int64_t steps = 0;
    for (int32_t j = 0; j < n_ep; j++) {
        self->mb_row0[j] = steps;
        steps += self->length[self->perm[lo + j]];
    }
    self->mb_row0[n_ep] = steps;
    if (steps > self->cap_mb) {
        int64_t cap = steps * 2;
        self->mb_obs = cg_realloc(self->mb_obs, (size_t)cap * (size_t)self->D, sizeof(float));
        if (self->A)
            self->mb_action_f =
                cg_realloc(self->mb_action_f, (size_t)cap * (size_t)self->A, sizeof(float));
        else
            self->mb_action = cg_realloc(self->mb_action, (size_t)cap, sizeof(int32_t));
        self->mb_logp = cg_realloc(self->mb_logp, (size_t)cap, sizeof(float));
        self->mb_adv = cg_realloc(self->mb_adv, (size_t)cap, sizeof(float));
        self->mb_weight = cg_realloc(self->mb_weight, (size_t)cap, sizeof(float));
        self->mb_ref = cg_realloc(self->mb_ref, (size_t)cap, sizeof(float));
        self->mb_kl = cg_realloc(self->mb_kl, (size_t)cap, sizeof(float));
        self->cap_mb = cap;
    }
    self->mb_lo = lo;
    self->mb_n_ep = n_ep;
    self->mb_with_ref = with_ref;
    self->mb_asym = asym;
    *mb = (cg_minibatch_t){
        .n = (int32_t)steps,
        .obs = self->mb_obs,
        .action = self->A ? NULL : self->mb_action,
        .action_f = self->A ? self->mb_action_f : NULL,
        .logp_old = self->mb_logp,
        .adv = self->mb_adv,
        .weight = self->mb_weight,
        .logp_ref = with_ref ? self->mb_ref : NULL,
        .kl_coef = asym ? self->mb_kl : NULL,
        .fill = s_fill,
        .fill_ctx = self,
    };
}
