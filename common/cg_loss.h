/* cg_loss: the per-step policy loss and its gradient with respect to the logits.
 *   loss = sum_i w_i * ( -min(rho_i A_i, clip(rho_i, 1-eps, 1+eps) A_i)
 *                        + beta_i * k3_i  - c_ent * H_i )
 *   rho_i = exp(logp_i - logp_old_i), logp at temperature 1 (the log-ratio bounded by
 *           CG_LOSS_LOG_RATIO_MAX, below),
 *   k3_i  = exp(r_i - logp_i) - (r_i - logp_i) - 1   (r_i = reference log-prob)
 *   w_i   = 1 / (steps in i's episode * episodes in the minibatch)
 * so the loss is the mean over an episode's steps, then over episodes.
 * Not here: the network (cg_policy), advantages (cg_adv). Threading: pure functions. */
#ifndef CG_LOSS_H
#define CG_LOSS_H

#include <stdint.h>

#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* |log rho_i| is bounded by this (rho_i within e^-20 .. e^20), with zero gradient beyond
 * the bound, as torch.clamp would: no sampled action's log-ratio comes near it in training,
 * and a behaviour log-prob that is wrong (a buggy or hostile actor's -120) cannot overflow
 * the ratio and end the run. */
#define CG_LOSS_LOG_RATIO_MAX 20.0

typedef struct cg_minibatch cg_minibatch_t;

/* Fills rows [r0, r1) of mb's arrays from wherever the minibatch's steps are kept. Calls for
 * disjoint ranges may run at the same time on different threads. */
typedef void (*cg_minibatch_fill_fn)(const cg_minibatch_t *mb, int32_t r0, int32_t r1);

/* A minibatch of steps, arrays indexed by step. Borrowed pointers. With `fill` set the arrays
 * are not filled yet: whoever reads rows calls fill for them first (cg_minibatch_fill), so
 * that the gather runs where, and on as many threads as, the rows are used. */
struct cg_minibatch {
    int32_t n;                 /* steps */
    const float *obs;          /* (n, obs_dim) */
    const int32_t *action;     /* (n) categorical head: the action's index */
    const float *action_f;     /* (n, action_dim) Gaussian head: the unclipped sample; else NULL */
    const float *logp_old;     /* (n) behaviour log-prob at temperature 1 */
    const float *adv;          /* (n) advantage of the step's episode */
    const float *weight;       /* (n) w_i above */
    const float *logp_ref;     /* (n) reference log-prob, or NULL when no KL term */
    const float *kl_coef;      /* (n) per-step beta_i (asymmetric KL), or NULL: use cfg beta */
    cg_minibatch_fill_fn fill; /* NULL: the arrays hold every row already */
    const void *fill_ctx;      /* fill's own state */
};

/* Makes rows [r0, r1) of mb readable (calls mb->fill when set). */
static inline void cg_minibatch_fill(const cg_minibatch_t *mb, int32_t r0, int32_t r1)
{
    if (mb->fill && r1 > r0)
        mb->fill(mb, r0, r1);
}

/* 1 when every action of rows [r0, r1) indexes one of n_actions logits. Actions index the
 * logits: an update checks them (after filling) before it reads any. */
static inline int cg_minibatch_actions_ok(const cg_minibatch_t *mb, int32_t r0, int32_t r1,
                                          int32_t n_actions)
{
    int bad = 0;
    for (int32_t i = r0; i < r1; i++)
        bad |= mb->action[i] < 0 || mb->action[i] >= n_actions;
    return !bad;
}

typedef struct {
    float clip_eps; /* 0.2 */
    float kl_coef;  /* beta when mb->kl_coef is NULL; 0 = no KL term */
    float ent_coef; /* entropy bonus coefficient c_ent */
} cg_loss_config_t;

/* Weighted sums over the minibatch (weights w_i), except clip_frac (fraction of steps). */
typedef struct {
    double loss;      /* total loss */
    double pg_loss;   /* surrogate part */
    double kl;        /* weighted mean k3 (0 when no reference) */
    double entropy;   /* weighted mean entropy */
    double clip_frac; /* fraction of steps whose ratio was clipped and the clip was active */
    double approx_kl; /* weighted mean (logp_old - logp) */
} cg_loss_stats_t;

/* Computes the loss of logits (n, n_actions) on mb and writes dlogits (n, n_actions) =
 * d loss / d logits. stats may be NULL. */
void cg_loss_compute(const float *logits, int32_t n_actions, const cg_minibatch_t *mb,
                     const cg_loss_config_t *cfg, float *dlogits, cg_loss_stats_t *stats);

/* The same loss for a diagonal Gaussian head (cg_policy.h): mean (n, dim) from the network,
 * log_std (dim) the head's state-independent log-std, mb->action_f the actions. Writes dmean
 * (n, dim) = d loss / d mean and adds d loss / d log_std to dlog_std (dim; the caller zeroes
 * it; the gradient of the bounded log-std, before the bound's own). stats may be NULL. */
void cg_loss_gaussian_compute(const float *mean, const float *log_std, int32_t dim,
                              const cg_minibatch_t *mb, const cg_loss_config_t *cfg, float *dmean,
                              double *dlog_std, cg_loss_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
