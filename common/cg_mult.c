/* cg_mult: Lagrange multipliers (softmax + Adam, projected ascent, PID, fixed).
 * State is kept in double; lambdas are handed out as float. The checkpoint state is a flat
 * double array: a header (kind, K) and the kind's own values (layout in s_state_size). */
#include "cg_mult.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_log.h"

#define CG_MULT_HEADER 2 /* state[0] = kind, state[1] = K */

struct cg_mult {
    cg_mult_kind_t kind;
    int32_t K;
    float threshold[CG_MAX_COSTS]; /* d_k */
    double lr, beta1, beta2, eps, temperature, upper, kp, ki, kd;
    double lambda_reward; /* fixed kind: lambda_R */
    double fixed_lambda[CG_MAX_COSTS];
    /* softmax: logits and Adam moments (K+1), Adam step count */
    double z[CG_MAX_COSTS + 1];
    double m[CG_MAX_COSTS + 1];
    double v[CG_MAX_COSTS + 1];
    double step;
    /* projected and pid: lambda_k (K); pid: integral (in lambda units) and previous error */
    double lam[CG_MAX_COSTS];
    double integral[CG_MAX_COSTS];
    double prev_err[CG_MAX_COSTS];
    double last_grad[CG_MAX_COSTS + 1];
};

static size_t s_state_size(cg_mult_kind_t kind, int32_t K)
{
    size_t k = (size_t)K;
    switch (kind) {
    case CG_MULT_SOFTMAX: return CG_MULT_HEADER + 3 * (k + 1) + 1; /* z, m, v, step */
    case CG_MULT_PROJECTED: return CG_MULT_HEADER + k;             /* lambda */
    case CG_MULT_PID: return CG_MULT_HEADER + 3 * k + 1; /* lambda, integral, prev_err, step */
    case CG_MULT_FIXED: return CG_MULT_HEADER;           /* nothing learnt: config rules */
    }
    return 0;
}

/* lambda = softmax(z / T), max-subtracted. */
static void s_softmax(const double *z, int32_t n, double T, double *lambda)
{
    double zmax = z[0];
    for (int32_t i = 1; i < n; i++)
        if (z[i] > zmax)
            zmax = z[i];
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        lambda[i] = exp((z[i] - zmax) / T);
        sum += lambda[i];
    }
    for (int32_t i = 0; i < n; i++)
        lambda[i] /= sum;
}

static int s_finite_nonneg(double x)
{
    return isfinite(x) && x >= 0.0;
}

static int s_finite_pos(double x)
{
    return isfinite(x) && x > 0.0;
}

/* An Adam beta: in [0, 1). */
static int s_unit_open(double x)
{
    return x >= 0.0 && x < 1.0;
}

/* The hyperparameters the kind reads; logs the first bad one. */
static int s_config_ok(const cg_config_t *cfg)
{
    int32_t K = cfg->n_constraints;
    if (K < 0 || K > CG_MAX_COSTS) {
        CG_ERROR("multipliers: %d constraints, at most %d allowed", (int)K, CG_MAX_COSTS);
        return 0;
    }
    for (int32_t k = 0; k < K; k++) {
        const cg_constraint_t *c = &cfg->constraints[k];
        if (!isfinite(c->threshold) || c->threshold < 0.0f || c->threshold > 1.0f) {
            CG_ERROR("multipliers: constraint %s: threshold %g not in [0,1]", c->name,
                     (double)c->threshold);
            return 0;
        }
        if (cfg->mult_kind != CG_MULT_SOFTMAX && !s_finite_nonneg(c->fixed_lambda)) {
            CG_ERROR("multipliers: constraint %s: lambda %g must be finite and >= 0", c->name,
                     (double)c->fixed_lambda);
            return 0;
        }
    }
    switch (cfg->mult_kind) {
    case CG_MULT_SOFTMAX:
        if (!s_finite_nonneg(cfg->mult_lr) || !s_unit_open(cfg->mult_beta1) ||
            !s_unit_open(cfg->mult_beta2) || !s_finite_pos(cfg->mult_eps) ||
            !isfinite(cfg->mult_init_logit) || !s_finite_pos(cfg->mult_temperature)) {
            CG_ERROR("multipliers: softmax needs lr >= 0, betas in [0,1), eps > 0, "
                     "temperature > 0, finite init_logit");
            return 0;
        }
        return 1;
    case CG_MULT_PROJECTED:
        if (!s_finite_nonneg(cfg->mult_lr) || !s_finite_nonneg(cfg->mult_upper)) {
            CG_ERROR("multipliers: projected needs finite lr >= 0 and upper >= 0");
            return 0;
        }
        return 1;
    case CG_MULT_PID:
        if (!s_finite_nonneg(cfg->mult_kp) || !s_finite_nonneg(cfg->mult_ki) ||
            !s_finite_nonneg(cfg->mult_kd)) {
            CG_ERROR("multipliers: pid needs finite kp, ki, kd >= 0");
            return 0;
        }
        return 1;
    case CG_MULT_FIXED:
        if (!s_finite_nonneg(cfg->fixed_lambda_reward)) {
            CG_ERROR("multipliers: lambda_reward %g must be finite and >= 0",
                     (double)cfg->fixed_lambda_reward);
            return 0;
        }
        return 1;
    }
    CG_ERROR("multipliers: unknown kind %d", (int)cfg->mult_kind);
    return 0;
}

cg_mult_t *cg_mult_new(const cg_config_t *cfg)
{
    CG_ASSERT(cfg);
    if (!s_config_ok(cfg))
        return NULL;
    cg_mult_t *self = cg_calloc(1, sizeof(*self));
    self->kind = cfg->mult_kind;
    self->K = cfg->n_constraints;
    self->lr = (double)cfg->mult_lr;
    self->beta1 = (double)cfg->mult_beta1;
    self->beta2 = (double)cfg->mult_beta2;
    self->eps = (double)cfg->mult_eps;
    self->temperature = (double)cfg->mult_temperature;
    self->upper = (double)cfg->mult_upper;
    self->kp = (double)cfg->mult_kp;
    self->ki = (double)cfg->mult_ki;
    self->kd = (double)cfg->mult_kd;
    self->lambda_reward = (double)cfg->fixed_lambda_reward;
    for (int32_t k = 0; k < self->K; k++) {
        self->threshold[k] = cfg->constraints[k].threshold;
        self->fixed_lambda[k] = (double)cfg->constraints[k].fixed_lambda;
        double l0 = self->fixed_lambda[k];
        if (self->kind == CG_MULT_PROJECTED && self->upper > 0.0 && l0 > self->upper)
            l0 = self->upper;
        self->lam[k] = l0;
        self->integral[k] = l0; /* pid: the integral term starts at the initial lambda */
    }
    for (int32_t i = 0; i <= self->K; i++)
        self->z[i] = (double)cfg->mult_init_logit;
    return self;
}

void cg_mult_destroy(cg_mult_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int32_t cg_mult_n_constraints(const cg_mult_t *self)
{
    CG_ASSERT(self);
    return self->K;
}

const float *cg_mult_thresholds(const cg_mult_t *self)
{
    CG_ASSERT(self);
    return self->threshold;
}

static void s_update_softmax(cg_mult_t *self, const double *g)
{
    int32_t n = self->K + 1;
    double lam[CG_MAX_COSTS + 1];
    s_softmax(self->z, n, self->temperature, lam);
    double gbar = 0.0;
    for (int32_t k = 1; k < n; k++)
        gbar += lam[k] * g[k];
    self->step += 1.0;
    double bc1 = 1.0 - pow(self->beta1, self->step);
    double bc2 = 1.0 - pow(self->beta2, self->step);
    for (int32_t i = 0; i < n; i++) {
        /* dL/dz_i of L = -sum_k lambda_k g_k, g_0 = 0 */
        double grad = -(1.0 / self->temperature) * lam[i] * (g[i] - gbar);
        self->last_grad[i] = grad;
        self->m[i] = self->beta1 * self->m[i] + (1.0 - self->beta1) * grad;
        self->v[i] = self->beta2 * self->v[i] + (1.0 - self->beta2) * grad * grad;
        double m_hat = self->m[i] / bc1;
        double v_hat = self->v[i] / bc2;
        self->z[i] -= self->lr * m_hat / (sqrt(v_hat) + self->eps);
    }
}

static void s_update_projected(cg_mult_t *self, const double *g)
{
    for (int32_t k = 0; k < self->K; k++) {
        double l = self->lam[k] + self->lr * g[1 + k];
        if (l < 0.0)
            l = 0.0;
        if (self->upper > 0.0 && l > self->upper)
            l = self->upper;
        self->lam[k] = l;
    }
}

static void s_update_pid(cg_mult_t *self, const double *g)
{
    for (int32_t k = 0; k < self->K; k++) {
        double e = g[1 + k];
        /* anti-windup: the integral never goes below 0, so a long satisfied stretch does
         * not delay the response to a new violation */
        double integral = self->integral[k] + self->ki * e;
        self->integral[k] = integral > 0.0 ? integral : 0.0;
        /* no derivative kick on the first update: there is no previous error yet */
        double deriv = self->step > 0.0 ? e - self->prev_err[k] : 0.0;
        double l = self->kp * e + self->integral[k] + self->kd * deriv;
        self->lam[k] = l > 0.0 ? l : 0.0;
        self->prev_err[k] = e;
    }
    self->step += 1.0;
}

cg_status_t cg_mult_update(cg_mult_t *self, const float *rate)
{
    CG_ASSERT(self);
    if (self->K > 0 && !rate)
        return CG_ERR_INVAL;
    double g[CG_MAX_COSTS + 1];
    g[0] = 0.0;
    for (int32_t k = 0; k < self->K; k++) {
        if (!isfinite(rate[k]) || rate[k] < 0.0f || rate[k] > 1.0f)
            return CG_ERR_RANGE;
        g[1 + k] = (double)rate[k] - (double)self->threshold[k];
    }
    memset(self->last_grad, 0, sizeof(self->last_grad));
    switch (self->kind) {
    case CG_MULT_SOFTMAX: s_update_softmax(self, g); break;
    case CG_MULT_PROJECTED: s_update_projected(self, g); break;
    case CG_MULT_PID: s_update_pid(self, g); break;
    case CG_MULT_FIXED: break;
    }
    return CG_OK;
}

void cg_mult_lambda(const cg_mult_t *self, float *lambda)
{
    CG_ASSERT(self && lambda);
    int32_t K = self->K;
    switch (self->kind) {
    case CG_MULT_SOFTMAX: {
        double lam[CG_MAX_COSTS + 1];
        s_softmax(self->z, K + 1, self->temperature, lam);
        for (int32_t i = 0; i <= K; i++)
            lambda[i] = (float)lam[i];
        return;
    }
    case CG_MULT_PROJECTED:
    case CG_MULT_PID:
        lambda[0] = 1.0f;
        for (int32_t k = 0; k < K; k++)
            lambda[1 + k] = (float)self->lam[k];
        return;
    case CG_MULT_FIXED:
        lambda[0] = (float)self->lambda_reward;
        for (int32_t k = 0; k < K; k++)
            lambda[1 + k] = (float)self->fixed_lambda[k];
        return;
    }
}

void cg_mult_last_grad(const cg_mult_t *self, float *grad)
{
    CG_ASSERT(self && grad);
    for (int32_t i = 0; i <= self->K; i++)
        grad[i] = (float)self->last_grad[i];
}

size_t cg_mult_state_size(const cg_mult_t *self)
{
    CG_ASSERT(self);
    return s_state_size(self->kind, self->K);
}

static double *s_put(double *p, const double *src, size_t n)
{
    memcpy(p, src, n * sizeof(double));
    return p + n;
}

void cg_mult_state_get(const cg_mult_t *self, double *state)
{
    CG_ASSERT(self && state);
    size_t n1 = (size_t)self->K + 1, K = (size_t)self->K;
    double *p = state;
    *p++ = (double)self->kind;
    *p++ = (double)self->K;
    switch (self->kind) {
    case CG_MULT_SOFTMAX:
        p = s_put(p, self->z, n1);
        p = s_put(p, self->m, n1);
        p = s_put(p, self->v, n1);
        *p++ = self->step;
        break;
    case CG_MULT_PROJECTED: p = s_put(p, self->lam, K); break;
    case CG_MULT_PID:
        p = s_put(p, self->lam, K);
        p = s_put(p, self->integral, K);
        p = s_put(p, self->prev_err, K);
        *p++ = self->step;
        break;
    case CG_MULT_FIXED: break;
    }
    CG_ASSERT((size_t)(p - state) == cg_mult_state_size(self));
}

/* A step count: a whole number in [0, 2^53]. */
static int s_step_ok(double s)
{
    return isfinite(s) && s >= 0.0 && s <= 9007199254740992.0 && s == floor(s);
}

static int s_range_ok(const double *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || x[i] < lo || x[i] > hi)
            return 0;
    return 1;
}

cg_status_t cg_mult_state_set(cg_mult_t *self, const double *state, size_t n)
{
    CG_ASSERT(self);
    if (!state || n < CG_MULT_HEADER || !isfinite(state[0]) || !isfinite(state[1]))
        return CG_ERR_CORRUPT;
    if (state[0] != (double)self->kind || state[1] != (double)self->K)
        return CG_ERR_MISMATCH;
    if (n != cg_mult_state_size(self))
        return CG_ERR_CORRUPT;
    size_t n1 = (size_t)self->K + 1, K = (size_t)self->K;
    const double *p = state + CG_MULT_HEADER;
    /* Validate everything before touching self, so a rejected state changes nothing. */
    switch (self->kind) {
    case CG_MULT_SOFTMAX:
        if (!s_range_ok(p, 2 * n1, -HUGE_VAL, HUGE_VAL) || /* z, m */
            !s_range_ok(p + 2 * n1, n1, 0.0, HUGE_VAL) ||  /* v */
            !s_step_ok(p[3 * n1]))
            return CG_ERR_CORRUPT;
        memcpy(self->z, p, n1 * sizeof(double));
        memcpy(self->m, p + n1, n1 * sizeof(double));
        memcpy(self->v, p + 2 * n1, n1 * sizeof(double));
        self->step = p[3 * n1];
        break;
    case CG_MULT_PROJECTED:
        if (!s_range_ok(p, K, 0.0, self->upper > 0.0 ? self->upper : HUGE_VAL))
            return CG_ERR_CORRUPT;
        memcpy(self->lam, p, K * sizeof(double));
        break;
    case CG_MULT_PID:
        if (!s_range_ok(p, 2 * K, 0.0, HUGE_VAL) || !s_range_ok(p + 2 * K, K, -1.0, 1.0) ||
            !s_step_ok(p[3 * K]))
            return CG_ERR_CORRUPT;
        memcpy(self->lam, p, K * sizeof(double));
        memcpy(self->integral, p + K, K * sizeof(double));
        memcpy(self->prev_err, p + 2 * K, K * sizeof(double));
        self->step = p[3 * K];
        break;
    case CG_MULT_FIXED: break;
    }
    memset(self->last_grad, 0, sizeof(self->last_grad));
    return CG_OK;
}
