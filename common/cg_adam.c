/* cg_adam: Adam (Kingma & Ba) in PyTorch's bias-corrected form over a flat arena, with
 * global L2 gradient-norm clipping first (as torch.nn.utils.clip_grad_norm_). The moments
 * m and v share one allocation so a checkpoint saves or restores them in two copies. */
#include "cg_adam.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "cg_alloc.h"
#include "cg_vector.h"

struct cg_adam {
    cg_adam_config_t cfg;
    size_t n_params;
    int64_t steps;
    float *state; /* (2, n_params): m then v */
};

static int s_config_ok(const cg_adam_config_t *cfg)
{
    /* Negated comparisons so that NaN fails each of them. */
    if (!(cfg->lr >= 0.0f && isfinite(cfg->lr)))
        return 0;
    if (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f))
        return 0;
    if (!(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f))
        return 0;
    if (!(cfg->eps >= 0.0f && isfinite(cfg->eps)))
        return 0;
    if (!(cfg->max_grad_norm >= 0.0f && isfinite(cfg->max_grad_norm)))
        return 0;
    return 1;
}

cg_adam_t *cg_adam_new(size_t n_params, const cg_adam_config_t *cfg)
{
    if (!cfg || !s_config_ok(cfg))
        return NULL;
    cg_adam_t *self = cg_calloc(1, sizeof *self);
    self->cfg = *cfg;
    self->n_params = n_params;
    self->state = cg_calloc(2 * n_params, sizeof *self->state);
    return self;
}

void cg_adam_destroy(cg_adam_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->state);
    free(*self_p);
    *self_p = NULL;
}

/* The squared L2 norm in double, summed in S_LANES interleaved lanes (fixed order: the same
 * bits on every run and clone) so that the loop vectorises. */
#define S_LANES 8
CG_VECTOR static double s_sum_squares(const float *g, size_t n)
{
    double lane[S_LANES] = {0};
    size_t i = 0;
    for (; i + S_LANES <= n; i += S_LANES)
        for (size_t k = 0; k < S_LANES; k++)
            lane[k] += (double)g[i + k] * (double)g[i + k];
    for (size_t k = 0; i < n; i++, k++)
        lane[k] += (double)g[i] * (double)g[i];
    double sq = 0.0;
    for (size_t k = 0; k < S_LANES; k++)
        sq += lane[k];
    return sq;
}

CG_VECTOR static void s_scale(float *g, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= scale;
}

/* p -= lr * (m / bc1) / (sqrt(v / bc2) + eps), arranged as PyTorch does it (sqrtf is exact
 * in every clone: the build has no math errno, so it vectorises). */
CG_VECTOR static void s_moments_step(float *restrict params, float *restrict m, float *restrict v,
                                     const float *restrict grad, size_t n, float b1, float b2,
                                     float step_size, float bc2_sqrt, float eps)
{
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] -= step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}

float cg_adam_step(cg_adam_t *self, float *params, float *grad)
{
    size_t n = self->n_params;
    double norm = sqrt(s_sum_squares(grad, n));
    if (!(norm <= FLT_MAX)) /* NaN, inf, or a norm that would read as inf in float */
        return isnan(norm) ? NAN : INFINITY;

    double max_norm = self->cfg.max_grad_norm;
    if (max_norm > 0.0 && norm > max_norm)
        s_scale(grad, n, (float)(max_norm / (norm + 1e-6)));

    self->steps++;
    float b1 = self->cfg.beta1;
    float b2 = self->cfg.beta2;
    double t = (double)self->steps;
    float step_size = (float)(self->cfg.lr / (1.0 - pow(b1, t)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(b2, t));
    s_moments_step(params, self->state, self->state + n, grad, n, b1, b2, step_size, bc2_sqrt,
                   self->cfg.eps);
    return (float)norm;
}

size_t cg_adam_n_params(const cg_adam_t *self)
{
    return self->n_params;
}

int64_t cg_adam_steps(const cg_adam_t *self)
{
    return self->steps;
}

float *cg_adam_m(cg_adam_t *self)
{
    return self->state;
}

float *cg_adam_v(cg_adam_t *self)
{
    return self->state + self->n_params;
}

void cg_adam_set_steps(cg_adam_t *self, int64_t steps)
{
    CG_ASSERT(steps >= 0);
    self->steps = steps;
}
