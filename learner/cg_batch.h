/* cg_batch: the learner's batch of B groups — episodes copied out of GroupBatch messages,
 * their per-episode advantages, and the gather of steps into minibatches.
 * Layout: groups in arrival order; episode e = group g member j at e = g*G + j; the steps of
 * all episodes packed in one arena (obs (S, D), action (S), logp (S)).
 * Not here: validation (cg_msg did it), the update (cg_backend).
 * Threading: one owner at a time (the learner's thread, or the updater's while it trains on
 * the batch). */
#ifndef CG_BATCH_H
#define CG_BATCH_H

#include <stdint.h>

#include "cg_adv.h"
#include "cg_loss.h"
#include "cg_msg.h"
#include "cg_rng.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_batch cg_batch_t;

/* Statistics of the first n groups, for the multiplier update and the metrics. */
typedef struct {
    int32_t n_groups;
    int32_t n_episodes;
    int64_t n_steps;
    double reward_mean;
    double goal_rate;                   /* fraction of episodes with reward >= 1 */
    double cost_rate[CG_MAX_COSTS];     /* per simulator cost: fraction violated */
    double frac_zero_std_reward;        /* groups whose rewards are all equal */
    double reward_member[CG_MAX_GROUP]; /* mean reward of group member j (its temperature) */
    double frac_all_goal;               /* groups whose members all have reward >= 1 */
    double frac_all_zero;               /* groups whose members all have reward <= 0 */
    double frac_zero_std_cost[CG_MAX_COSTS];
    double lag_mean, lag_max; /* current version - group policy version */
} cg_batch_stats_t;

/* G episodes per group, K simulator costs, observations of obs_dim floats. */
cg_batch_t *cg_batch_new(int32_t group_size, int32_t n_costs, int32_t obs_dim);
void cg_batch_destroy(cg_batch_t **self_p);

int32_t cg_batch_n_groups(const cg_batch_t *self);
/* Copies every group of msg in (shapes were validated by cg_msg; this checks they match
 * the batch: CG_ERR_SHAPE otherwise, and nothing is added). */
cg_status_t cg_batch_add(cg_batch_t *self, const cg_msg_groups_t *msg);
/* Drops groups whose policy version is older than version - max_lag; returns how many. */
int32_t cg_batch_drop_stale(cg_batch_t *self, uint64_t version, int32_t max_lag);
/* Orders groups by (actor id, sequence number, position in message): deterministic mode. */
void cg_batch_sort(cg_batch_t *self);
/* Removes the first n groups (after an update), keeping the rest for the next batch. */
void cg_batch_consume(cg_batch_t *self, int32_t n);
/* Moves every group of src to the end of dst, in order, and leaves src empty (the learner's
 * two batches: what was left over after an update goes first). Same G, K and D. */
void cg_batch_take(cg_batch_t *dst, cg_batch_t *src);

/* Statistics over the first n groups at learner version `version`. */
void cg_batch_stats(const cg_batch_t *self, int32_t n, uint64_t version, cg_batch_stats_t *out);

/* Advantages of the first n groups. cost_index (K_enf) maps enforced constraint k to the
 * simulator cost it reads; lambda (K_enf+1). Writes per-episode advantages and, when
 * kl_neg/kl_pos are given (asym >= 0), per-episode KL coefficients. eff_weight (K_enf+1)
 * receives the mean effective weights over groups. */
cg_status_t cg_batch_advantages(cg_batch_t *self, int32_t n, const cg_adv_config_t *cfg,
                                int32_t n_enforced, const int32_t *cost_index, const float *lambda,
                                int asym_kl, float kl_neg, float kl_pos, float *eff_weight,
                                double *adv_neg_frac);

/* The mean advantage of group member j (G values) over the first n groups, after
 * cg_batch_advantages: with a temperature schedule, the advantage of each sampling slot. */
void cg_batch_adv_member(const cg_batch_t *self, int32_t n, double *out);

/* Group g's sender (actor id) and its steps [*first, *first + *n) in the step arena (a
 * group's episodes are kept together). */
void cg_batch_group_span(const cg_batch_t *self, int32_t g, int32_t *actor_id, int64_t *first,
                         int64_t *n);

/* All step observations (n_steps, obs_dim) of the batch and the reference log-prob slot
 * (n_steps) the learner fills when a KL term is on. */
int64_t cg_batch_n_steps(const cg_batch_t *self);
const float *cg_batch_obs(const cg_batch_t *self);
/* Continuous actions of n_actions floats per step (episodes' action_f); call before adding
 * any group. Without it, actions are discrete (episodes' action). */
void cg_batch_set_continuous(cg_batch_t *self, int32_t n_actions);
/* The steps' actions: discrete (NULL when continuous) or continuous (S, n_actions). */
const int32_t *cg_batch_actions(const cg_batch_t *self);
const float *cg_batch_actions_f(const cg_batch_t *self);
float *cg_batch_logp_ref(cg_batch_t *self);

/* Splits the first n groups' episodes into n_mb minibatches in an order shuffled by rng
 * (call once per epoch), then cg_batch_minibatch(i) sets mb to minibatch i (buffers owned
 * by the batch, valid until the next call), its rows gathered by mb->fill as they are used
 * (cg_minibatch_fill; the backend's threads each gather their own rows). with_ref: fill logp_ref;
 * asym: fill per-step kl_coef. Per-step weight = 1 / (episode length * episodes in the minibatch).
 */
void cg_batch_shuffle(cg_batch_t *self, int32_t n, int32_t n_mb, cg_rng_t *rng);
void cg_batch_minibatch(cg_batch_t *self, int32_t i, int with_ref, int asym, cg_minibatch_t *mb);

#ifdef __cplusplus
}
#endif
#endif
