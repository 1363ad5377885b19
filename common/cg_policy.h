/* cg_policy: the policy network, an MLP (obs -> hidden... -> n_actions outputs) with tanh or
 * relu, and its head: a softmax over discrete actions (the outputs are logits), or a diagonal
 * Gaussian over an action vector (the outputs are its mean; log-std below). CPU reference
 * implementation with batched forward/backward through cblas_sgemm. All parameters live in
 * one arena, layer by layer:
 *   for l in layers: W_l (out_l, in_l) row-major, then b_l (out_l)
 *   Gaussian head: then log_std (n_actions), state-independent
 * so a weight broadcast is one contiguous copy.
 * Not here: the loss (cg_loss), the optimiser (cg_adam), device placement (cg_backend).
 * Threading: a cg_policy_t is used by one thread at a time (forward caches activations). */
#ifndef CG_POLICY_H
#define CG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "cg_config.h"
#include "cg_rng.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caps checked by cg_policy_shape_check: each of obs_dim, n_actions and the hidden widths,
 * and the whole parameter arena (in floats). */
#define CG_POLICY_MAX_DIM 65536
#define CG_POLICY_MAX_PARAMS ((size_t)1 << 28)

typedef struct {
    int32_t obs_dim;
    int32_t n_actions; /* outputs: discrete actions, or the Gaussian's action vector length */
    int32_t n_hidden;  /* number of hidden layers, 0..CG_MAX_LAYERS */
    int32_t hidden[CG_MAX_LAYERS];
    cg_activation_t activation;
    cg_head_t head;     /* CG_HEAD_CATEGORICAL (0, the default) or CG_HEAD_GAUSSIAN */
    float log_std_init; /* Gaussian head: every log_std's initial value */
} cg_policy_shape_t;

typedef struct cg_policy cg_policy_t;

/* The policy shape of a run of cfg on simulator `sim` of these sizes: [policy] hidden,
 * activation and log_std_init, and the head: [policy] head, auto resolved by the simulator's
 * kind of action (continuous: gaussian). CG_ERR_SHAPE with a message naming the simulator
 * when the configured head cannot drive it, or [sampling] top_p < 1 meets a Gaussian head. */
cg_status_t cg_policy_shape_from(const cg_config_t *cfg, int32_t obs_dim, int32_t n_actions,
                                 int continuous, const char *sim, cg_policy_shape_t *out, char *err,
                                 size_t errlen);

/* Number of floats in the parameter arena for this shape; 0 if the shape fails the check. */
size_t cg_policy_shape_n_params(const cg_policy_shape_t *shape);
/* Where a Gaussian head's log_std (n_actions floats) starts in the arena: after the MLP's
 * parameters; the arena's size for a categorical head. */
size_t cg_policy_shape_log_std_offset(const cg_policy_shape_t *shape);
/* CG_OK if dims are positive and within caps; CG_ERR_SHAPE otherwise. */
cg_status_t cg_policy_shape_check(const cg_policy_shape_t *shape);

/* New policy with weights initialised from `seed`, bit-identical for equal seeds:
 * orthogonal init (Saxe et al.; as torch.nn.init.orthogonal_), gain 5/3 for tanh and
 * sqrt(2) for relu hidden layers, 0.01 for the output layer so the initial policy is near
 * uniform (a Gaussian's mean near 0); biases 0; a Gaussian's log_std all log_std_init.
 * Returns NULL on an invalid shape. Caller destroys. */
cg_policy_t *cg_policy_new(const cg_policy_shape_t *shape, uint64_t seed);
void cg_policy_destroy(cg_policy_t **self_p);

const cg_policy_shape_t *cg_policy_shape(const cg_policy_t *self);
size_t cg_policy_n_params(const cg_policy_t *self);
/* The parameter arena (n_params floats), owned by the policy; writable. */
float *cg_policy_params(cg_policy_t *self);

/* logits (n, n_actions) = MLP(obs (n, obs_dim)). Caches activations for backward, and
 * keeps a pointer to obs: cg_policy_backward reads it, so obs must stay as it is until
 * then. n may be any size; workspaces grow as needed. */
void cg_policy_forward(cg_policy_t *self, const float *obs, int32_t n, float *logits);
/* grad (n_params) += d loss / d params, given dlogits (n, n_actions) = d loss / d logits
 * for the batch of the last cg_policy_forward call (same n). */
void cg_policy_backward(cg_policy_t *self, const float *dlogits, int32_t n, float *grad);

/* logp (n_actions) = log_softmax(logits / temperature); temperature > 0. */
/* y[k] = tanh(y[k]) for m values, the forward's activation: within 4e-7 absolute and
 * relative of the exact tanh and never past +-1, vectorised (cg_vector.h). */
void cg_policy_tanh(float *y, size_t m);

void cg_policy_log_softmax(const float *logits, int32_t n_actions, float temperature, float *logp);
/* Samples an action from softmax(logits / temperature) with rng. Writes the log-prob of
 * the chosen action at temperature 1 (the training log-prob) to *logp1 if non-NULL. */
int32_t cg_policy_sample(const float *logits, int32_t n_actions, float temperature, cg_rng_t *rng,
                         float *logp1);
/* Nucleus (top-p) sampling: the same, restricted to the most probable actions whose
 * probabilities (at `temperature`) first add up to at least top_p, renormalised; ties keep
 * the lower index first. top_p >= 1 is cg_policy_sample (the same draw and bits). order is
 * scratch for n_actions indices. *logp1 is still the action's log-prob under the whole
 * distribution at temperature 1 (the convention of the MDP-GRPO authors' code). */
int32_t cg_policy_sample_top_p(const float *logits, int32_t n_actions, float temperature,
                               float top_p, int32_t *order, cg_rng_t *rng, float *logp1);

/* ---- the diagonal Gaussian head (continuous actions) ----
 * An action is a vector of dim floats, a ~ N(mean, diag(sigma^2)), mean from the network and
 * log sigma a learned state-independent vector, bounded to [CG_POLICY_LOG_STD_MIN,
 * CG_POLICY_LOG_STD_MAX] where it is used (no gradient beyond, as torch.clamp). A sample at
 * temperature tau has sigma sqrt(tau) (the variance scales with tau, as the logits' softmax
 * sharpens with it); log-probs are always taken at tau = 1 of the unclipped sample (the
 * simulator clips actions to its bounds; PPO implementations do the same). */
#define CG_POLICY_LOG_STD_MIN (-5.0f)
#define CG_POLICY_LOG_STD_MAX 2.0f

/* log sigma_d = log_std[d] bounded to the range above. */
static inline float cg_policy_log_std_bound(float log_std)
{
    return log_std < CG_POLICY_LOG_STD_MIN   ? CG_POLICY_LOG_STD_MIN
           : log_std > CG_POLICY_LOG_STD_MAX ? CG_POLICY_LOG_STD_MAX
                                             : log_std;
}
/* log N(a; mean, diag(exp(2 log_std))) summed over dim, in double; log_std as bounded. */
double cg_policy_gaussian_logp(const float *mean, const float *log_std, int32_t dim,
                               const float *a);
/* Entropy of that Gaussian: sum_d (log_std_d + 0.5 log(2 pi e)). */
double cg_policy_gaussian_entropy(const float *log_std, int32_t dim);
/* KL(N(mean_a, sigma_a^2) || N(mean_b, sigma_b^2)), diagonal, exact: sum_d log(sigma_b /
 * sigma_a) + (sigma_a^2 + (mean_a - mean_b)^2) / (2 sigma_b^2) - 1/2; log-stds as bounded. */
double cg_policy_gaussian_kl(const float *mean_a, const float *log_std_a, const float *mean_b,
                             const float *log_std_b, int32_t dim);
/* Samples action (dim) = mean + exp(log_std) sqrt(temperature) eps, eps ~ N(0, I) from rng
 * (dim normal draws, in order); temperature > 0. Writes the sample's log-prob at temperature
 * 1 to *logp1 if non-NULL. */
void cg_policy_gaussian_sample(const float *mean, const float *log_std, int32_t dim,
                               float temperature, cg_rng_t *rng, float *action, float *logp1);

#ifdef __cplusplus
}
#endif
#endif
