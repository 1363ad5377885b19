/* cg_policy: the MLP policy, CPU reference. Batched forward/backward through cblas_sgemm
 * over one parameter arena (per layer W (out, in) row-major, then b (out)); the forward
 * keeps the batch's input and hidden activations in one workspace that grows and is reused.
 * Softmax helpers (log-softmax with temperature, inverse-CDF sampling) work in double. */
#include "cg_policy.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_vector.h"

#define CG_POLICY_LAYERS (CG_MAX_LAYERS + 1)    /* hidden layers + the output layer */
#define CG_POLICY_INIT_STREAM 0x706f6c696379ULL /* "policy": the init RNG's stream */
#define CG_POLICY_GAIN_TANH (5.0 / 3.0)         /* torch.nn.init.calculate_gain("tanh") */
#define CG_POLICY_GAIN_RELU 1.4142135623730951  /* sqrt(2), calculate_gain("relu") */
#define CG_POLICY_GAIN_OUT 0.01                 /* small logits: near-uniform start */

struct cg_policy {
    cg_policy_shape_t shape;
    int32_t n_layers;               /* n_hidden + 1 */
    int32_t in[CG_POLICY_LAYERS];   /* fan-in of layer l */
    int32_t out[CG_POLICY_LAYERS];  /* fan-out of layer l */
    size_t w_off[CG_POLICY_LAYERS]; /* W_l (out_l, in_l) starts at params + w_off[l] */
    size_t b_off[CG_POLICY_LAYERS]; /* b_l (out_l) starts at params + b_off[l] */
    size_t x_off[CG_POLICY_LAYERS]; /* layer l's input (n, in_l) at ws + cap_n * x_off[l] */
    size_t n_params;
    float *params; /* (n_params) the arena */
    /* Workspace, per row: obs copy (obs_dim), hidden activations (sum of hidden), then two
     * backward buffers (max hidden width each). Sized for cap_n rows. */
    size_t ws_row;    /* floats per row */
    size_t delta_off; /* backward buffers at ws + cap_n * delta_off */
    int32_t max_hidden;
    int32_t cap_n;
    int32_t last_n;   /* rows of the last forward; -1 before any */
    const float *obs; /* the last forward's obs (its caller's), for backward */
    float *ws;
    double *db_acc; /* (widest layer) bias-gradient row sums */
};

/* The MLP's parameter count in size_t; the caps keep it far from overflow once each dim is
 * checked. */
static size_t s_count_mlp(const cg_policy_shape_t *shape)
{
    size_t n = 0;
    int32_t in = shape->obs_dim;
    for (int32_t l = 0; l <= shape->n_hidden; l++) {
        int32_t out = l < shape->n_hidden ? shape->hidden[l] : shape->n_actions;
        n += (size_t)out * (size_t)in + (size_t)out;
        in = out;
    }
    return n;
}

/* The arena: the MLP, then a Gaussian head's log_std. */
static size_t s_count_params(const cg_policy_shape_t *shape)
{
    return s_count_mlp(shape) + (shape->head == CG_HEAD_GAUSSIAN ? (size_t)shape->n_actions : 0);
}

static int s_dim_ok(int32_t d)
{
    return d >= 1 && d <= CG_POLICY_MAX_DIM;
}

cg_status_t cg_policy_shape_check(const cg_policy_shape_t *shape)
{
    if (!shape || !s_dim_ok(shape->obs_dim) || !s_dim_ok(shape->n_actions))
        return CG_ERR_SHAPE;
    if (shape->n_hidden < 0 || shape->n_hidden > CG_MAX_LAYERS)
        return CG_ERR_SHAPE;
    for (int32_t l = 0; l < shape->n_hidden; l++)
        if (!s_dim_ok(shape->hidden[l]))
            return CG_ERR_SHAPE;
    if (shape->activation != CG_ACT_TANH && shape->activation != CG_ACT_RELU)
        return CG_ERR_SHAPE;
    if (shape->head != CG_HEAD_CATEGORICAL && shape->head != CG_HEAD_GAUSSIAN)
        return CG_ERR_SHAPE;
    if (shape->head == CG_HEAD_GAUSSIAN && !isfinite(shape->log_std_init))
        return CG_ERR_SHAPE;
    if (s_count_params(shape) > CG_POLICY_MAX_PARAMS)
        return CG_ERR_SHAPE;
    return CG_OK;
}

cg_status_t cg_policy_shape_from(const cg_config_t *cfg, int32_t obs_dim, int32_t n_actions,
                                 int continuous, const char *sim, cg_policy_shape_t *out, char *err,
                                 size_t errlen)
{
    *out = (cg_policy_shape_t){.obs_dim = obs_dim,
                               .n_actions = n_actions,
                               .n_hidden = cfg->n_hidden,
                               .activation = cfg->activation,
                               .log_std_init = cfg->log_std_init};
    memcpy(out->hidden, cfg->hidden, sizeof out->hidden);
    const cg_head_t configured = cfg->head;
    const cg_head_t want = continuous ? CG_HEAD_GAUSSIAN : CG_HEAD_CATEGORICAL;
    if (configured != CG_HEAD_AUTO && configured != want) {
        cg_status_msg(err, errlen,
                      "[policy] head = %s cannot drive simulator %s, whose actions are %s "
                      "(hint: head = auto, or %s)",
                      configured == CG_HEAD_GAUSSIAN ? "gaussian" : "categorical", sim,
                      continuous ? "continuous" : "discrete",
                      continuous ? "gaussian" : "categorical");
        return CG_ERR_SHAPE;
    }
    if (want == CG_HEAD_GAUSSIAN && cfg->top_p < 1.0f) {
        cg_status_msg(err, errlen,
                      "[sampling] top_p = %g: nucleus sampling applies to discrete actions, and "
                      "simulator %s's are continuous (hint: leave top_p at 1)",
                      (double)cfg->top_p, sim);
        return CG_ERR_SHAPE;
    }
    out->head = want;
    return CG_OK;
}

size_t cg_policy_shape_n_params(const cg_policy_shape_t *shape)
{
    return cg_policy_shape_check(shape) == CG_OK ? s_count_params(shape) : 0;
}

size_t cg_policy_shape_log_std_offset(const cg_policy_shape_t *shape)
{
    return cg_policy_shape_check(shape) == CG_OK ? s_count_mlp(shape) : 0;
}

/* W (rows, cols) = gain * Q, Q with orthonormal rows (rows <= cols) or orthonormal columns
 * (rows > cols): min(rows, cols) Gaussian vectors of length max(rows, cols) orthonormalised
 * by modified Gram-Schmidt in double. MGS gives QR's Q with a positive diagonal of R, i.e.
 * the sign-fixed QR that torch.nn.init.orthogonal_ uses, so Q is Haar-distributed. */
static void s_init_orthogonal(float *w, int32_t rows, int32_t cols, double gain, cg_rng_t *rng)
{
    int32_t p = rows < cols ? rows : cols;                   /* number of vectors */
    int32_t q = rows < cols ? cols : rows;                   /* their length */
    double *v = cg_calloc((size_t)p * (size_t)q, sizeof *v); /* (p, q), one vector per row */
    for (size_t i = 0; i < (size_t)p * (size_t)q; i++)
        v[i] = cg_rng_normal(rng);
    for (int32_t i = 0; i < p; i++) {
        double *vi = v + (size_t)i * q;
        for (int32_t j = 0; j < i; j++) {
            const double *vj = v + (size_t)j * q;
            double dot = 0.0;
            for (int32_t k = 0; k < q; k++)
                dot += vi[k] * vj[k];
            for (int32_t k = 0; k < q; k++)
                vi[k] -= dot * vj[k];
        }
        double norm = 0.0;
        for (int32_t k = 0; k < q; k++)
            norm += vi[k] * vi[k];
        norm = sqrt(norm);
        CG_ASSERT(norm > 1e-12); /* p <= q Gaussian vectors are independent almost surely */
        for (int32_t k = 0; k < q; k++)
            vi[k] /= norm;
    }
    for (int32_t r = 0; r < rows; r++)
        for (int32_t c = 0; c < cols; c++) {
            double x = rows <= cols ? v[(size_t)r * q + c] : v[(size_t)c * q + r];
            w[(size_t)r * cols + c] = (float)(gain * x);
        }
    free(v);
}

cg_policy_t *cg_policy_new(const cg_policy_shape_t *shape, uint64_t seed)
{
    if (cg_policy_shape_check(shape) != CG_OK)
        return NULL;
    cg_policy_t *self = cg_calloc(1, sizeof *self);
    self->shape = *shape;
    self->n_layers = shape->n_hidden + 1;
    self->last_n = -1;

    size_t off = 0;
    size_t x_off = 0;
    int32_t in = shape->obs_dim;
    for (int32_t l = 0; l < self->n_layers; l++) {
        int32_t out = l < shape->n_hidden ? shape->hidden[l] : shape->n_actions;
        self->in[l] = in;
        self->out[l] = out;
        self->w_off[l] = off;
        off += (size_t)out * (size_t)in;
        self->b_off[l] = off;
        off += (size_t)out;
        self->x_off[l] = x_off; /* layer 0's input is the caller's obs (self->obs) */
        if (l > 0)
            x_off += (size_t)in;
        if (l < shape->n_hidden && out > self->max_hidden)
            self->max_hidden = out;
        in = out;
    }
    CG_ASSERT(off == s_count_mlp(shape));
    self->n_params = s_count_params(shape);
    self->delta_off = x_off;
    self->ws_row = x_off + 2 * (size_t)self->max_hidden;
    self->params = cg_calloc(self->n_params, sizeof *self->params);
    int32_t widest = self->max_hidden > shape->n_actions ? self->max_hidden : shape->n_actions;
    self->db_acc = cg_calloc((size_t)widest, sizeof *self->db_acc);

    /* Each layer draws from its own child stream, so its weights do not depend on how many
     * numbers the layers before it consumed. */
    cg_rng_t root;
    cg_rng_seed(&root, seed, CG_POLICY_INIT_STREAM);
    double hidden_gain =
        shape->activation == CG_ACT_RELU ? CG_POLICY_GAIN_RELU : CG_POLICY_GAIN_TANH;
    for (int32_t l = 0; l < self->n_layers; l++) {
        cg_rng_t rng = cg_rng_split(&root, (uint64_t)l);
        double gain = l < shape->n_hidden ? hidden_gain : CG_POLICY_GAIN_OUT;
        s_init_orthogonal(self->params + self->w_off[l], self->out[l], self->in[l], gain, &rng);
        /* biases stay 0 from calloc */
    }
    for (size_t k = off; k < self->n_params; k++) /* a Gaussian head's log_std */
        self->params[k] = shape->log_std_init;
    return self;
}

void cg_policy_destroy(cg_policy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_policy_t *self = *self_p;
    free(self->ws);
    free(self->db_acc);
    free(self->params);
    free(self);
    *self_p = NULL;
}

const cg_policy_shape_t *cg_policy_shape(const cg_policy_t *self)
{
    return &self->shape;
}

size_t cg_policy_n_params(const cg_policy_t *self)
{
    return self->n_params;
}

float *cg_policy_params(cg_policy_t *self)
{
    return self->params;
}

/* Makes the workspace hold n rows; grows geometrically so a slowly rising n reallocates
 * O(log n) times, and never shrinks. Old contents are not kept. */
static void s_reserve(cg_policy_t *self, int32_t n)
{
    if (n <= self->cap_n)
        return;
    int32_t cap = self->cap_n > INT32_MAX / 2 ? INT32_MAX : 2 * self->cap_n;
    if (cap < n)
        cap = n;
    free(self->ws);
    self->ws = cg_calloc((size_t)cap, self->ws_row * sizeof *self->ws);
    self->cap_n = cap;
}

/* ---- the element-wise loops: plain C the compiler vectorises (CG_VECTOR: an AVX2 clone
 * besides the baseline one, picked at load time where the CPU has it) ---- */

/* tanh as a 13/6-degree rational minimax approximation on [-9, 9] (the coefficients of
 * Eigen's generic_fast_tanh_float; beyond 9, tanh rounds to +-1 in float), kept within
 * [-1, 1]: within 2.8e-7 absolute and relative of tanh, a few float ulps (tests/test_policy.c
 * checks it against double tanh; expf's form was within 1.2e-7), no branch and no
 * libm call, so it vectorises; glibc's expf loop it replaces was a quarter of the update. */
static inline float s_tanh1(float x)
{
    const float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f, a5 = 1.48572235717979e-05f,
                a7 = 5.12229709037114e-08f, a9 = -8.60467152213735e-11f,
                a11 = 2.00018790482477e-13f, a13 = -2.76076847742355e-16f;
    const float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f, b4 = 1.18534705686654e-04f,
                b6 = 1.19825839466702e-06f;
    x = x > 9.0f ? 9.0f : x;
    x = x < -9.0f ? -9.0f : x;
    {
        const float x2 = x * x;
        float p = x2 * a13 + a11;
        p = x2 * p + a9;
        p = x2 * p + a7;
        p = x2 * p + a5;
        p = x2 * p + a3;
        p = x2 * p + a1;
        p = x * p;
        float q = x2 * b6 + b4;
        q = x2 * q + b2;
        q = x2 * q + b0;
        const float t = p / q; /* may round a hair past +-1 near saturation: clamp */
        return t > 1.0f ? 1.0f : (t < -1.0f ? -1.0f : t);
    }
}

CG_VECTOR static void s_tanh(float *y, size_t m)
{
    for (size_t k = 0; k < m; k++)
        y[k] = s_tanh1(y[k]);
}

/* The forward's epilogue, fused: y (n, out) = act(y + b) row by row, b (out); act is
 * CG_ACT_TANH, CG_ACT_RELU, or S_BIAS_ONLY (the logits). One pass over y instead of a
 * broadcast of b before the GEMM and an activation pass after it. */
#define S_BIAS_ONLY (-1)
CG_VECTOR static void s_bias_act(float *y, const float *b, int32_t n, int32_t out, int act)
{
    for (int32_t i = 0; i < n; i++) {
        float *r = y + (size_t)i * (size_t)out;
        if (act == CG_ACT_TANH)
            for (int32_t j = 0; j < out; j++)
                r[j] = s_tanh1(r[j] + b[j]);
        else if (act == CG_ACT_RELU)
            for (int32_t j = 0; j < out; j++) {
                const float v = r[j] + b[j];
                r[j] = v > 0.0f ? v : 0.0f;
            }
        else
            for (int32_t j = 0; j < out; j++)
                r[j] += b[j];
    }
}

/* Exported through a plain function: Clang emits a target_clones dispatcher only for the
 * static clone's own unit. */
void cg_policy_tanh(float *y, size_t m)
{
    s_tanh(y, m);
}

/* dx *= tanh'(pre-activation) = 1 - tanh^2, from the cached output x = tanh(.). */
CG_VECTOR static void s_tanh_grad(float *dx, const float *x, size_t m)
{
    for (size_t k = 0; k < m; k++)
        dx[k] *= 1.0f - x[k] * x[k];
}

CG_VECTOR static void s_relu_grad(float *dx, const float *x, size_t m)
{
    for (size_t k = 0; k < m; k++)
        dx[k] = x[k] > 0.0f ? dx[k] : 0.0f;
}

/* acc (cols) = column sums of a (rows, cols), in double, rows in order. */
CG_VECTOR static void s_column_sums(const float *a, int32_t rows, int32_t cols, double *acc)
{
    for (int32_t j = 0; j < cols; j++)
        acc[j] = 0.0;
    for (int32_t i = 0; i < rows; i++) {
        const float *r = a + (size_t)i * (size_t)cols;
        for (int32_t j = 0; j < cols; j++)
            acc[j] += (double)r[j];
    }
}

/* Layer l >= 1's input (n, in_l) in the workspace: hidden activation l-1. */
static float *s_layer_input(cg_policy_t *self, int32_t l)
{
    CG_ASSERT(l > 0);
    return self->ws + (size_t)self->cap_n * self->x_off[l];
}

void cg_policy_forward(cg_policy_t *self, const float *obs, int32_t n, float *logits)
{
    CG_ASSERT(n >= 0);
    self->last_n = n;
    if (n == 0)
        return;
    s_reserve(self, n);
    self->obs = obs; /* layer 0's input, read again by backward: not copied */

    for (int32_t l = 0; l < self->n_layers; l++) {
        int32_t in = self->in[l];
        int32_t out = self->out[l];
        int last = l == self->n_layers - 1;
        const float *x = l == 0 ? obs : s_layer_input(self, l); /* (n, in) */
        float *y = last ? logits : s_layer_input(self, l + 1);  /* (n, out) */
        const float *w = self->params + self->w_off[l];         /* (out, in) */
        const float *b = self->params + self->b_off[l];         /* (out) */
        /* Y = act(X W^T + b) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f,
                    y, out);
        s_bias_act(y, b, n, out, last ? S_BIAS_ONLY : (int)self->shape.activation);
    }
}

void cg_policy_backward(cg_policy_t *self, const float *dlogits, int32_t n, float *grad)
{
    CG_ASSERT(n == self->last_n); /* backward belongs to the last forward's batch */
    if (n == 0)
        return;
    float *delta[2] = {
        self->ws + (size_t)self->cap_n * self->delta_off,
        self->ws + (size_t)self->cap_n * (self->delta_off + (size_t)self->max_hidden),
    };
    const float *dy = dlogits; /* (n, out_l): d loss / d (pre-activation) output of layer l */
    for (int32_t l = self->n_layers - 1; l >= 0; l--) {
        int32_t in = self->in[l];
        int32_t out = self->out[l];
        const float *x = l == 0 ? self->obs : s_layer_input(self, l); /* (n, in) */
        const float *w = self->params + self->w_off[l];               /* (out, in) */
        float *dw = grad + self->w_off[l];                            /* (out, in) */
        float *db = grad + self->b_off[l];                            /* (out) */
        /* dW += dY^T X */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in, 1.0f,
                    dw, in);
        /* db += column sums of dY, in double (n may be thousands of rows), row by row so the
         * reads are contiguous and vectorise; each column is summed in row order, as before. */
        s_column_sums(dy, n, out, self->db_acc);
        for (int32_t j = 0; j < out; j++)
            db[j] += (float)self->db_acc[j];
        if (l == 0)
            break;
        /* dX = dY W, then through the activation that produced X (its output is cached). */
        float *dx = delta[l & 1]; /* (n, in); never the buffer dy points into */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, w, in,
                    0.0f, dx, in);
        size_t m = (size_t)n * in;
        if (self->shape.activation == CG_ACT_TANH)
            s_tanh_grad(dx, x, m);
        else
            s_relu_grad(dx, x, m);
        dy = dx;
    }
}

/* max_j logits[j], and sum_j exp((logits[j] - max) / temperature) in double. */
static double s_softmax_sum(const float *logits, int32_t n_actions, double temperature,
                            double *max_out)
{
    double mx = logits[0];
    for (int32_t j = 1; j < n_actions; j++)
        if (logits[j] > mx)
            mx = logits[j];
    double sum = 0.0;
    for (int32_t j = 0; j < n_actions; j++)
        sum += exp(((double)logits[j] - mx) / temperature);
    *max_out = mx;
    return sum;
}

void cg_policy_log_softmax(const float *logits, int32_t n_actions, float temperature, float *logp)
{
    CG_ASSERT(n_actions >= 1 && temperature > 0.0f);
    double t = temperature;
    double mx;
    double log_sum = log(s_softmax_sum(logits, n_actions, t, &mx));
    for (int32_t j = 0; j < n_actions; j++)
        logp[j] = (float)(((double)logits[j] - mx) / t - log_sum);
}

int32_t cg_policy_sample(const float *logits, int32_t n_actions, float temperature, cg_rng_t *rng,
                         float *logp1)
{
    CG_ASSERT(n_actions >= 1 && temperature > 0.0f);
    double t = temperature;
    double mx;
    double sum = s_softmax_sum(logits, n_actions, t, &mx);
    /* Inverse CDF: the first action whose cumulative weight exceeds u * sum. Rounding can
     * leave the target just above the final cumulative sum: then take the last action with
     * non-zero weight (the max has weight 1, so there is one). */
    double target = cg_rng_uniform(rng) * sum;
    double cum = 0.0;
    int32_t action = -1;
    int32_t last_nonzero = n_actions - 1;
    for (int32_t j = 0; j < n_actions; j++) {
        double wj = exp(((double)logits[j] - mx) / t);
        if (wj > 0.0)
            last_nonzero = j;
        cum += wj;
        if (cum > target && wj > 0.0) {
            action = j;
            break;
        }
    }
    if (action < 0)
        action = last_nonzero;
    if (logp1) {
        double mx1;
        double sum1 = s_softmax_sum(logits, n_actions, 1.0, &mx1);
        *logp1 = (float)((double)logits[action] - mx1 - log(sum1));
    }
    return action;
}

/* Indices by logit, largest first, ties by index: insertion sort (action counts are small
 * where top-p is used; O(n^2) beyond a few hundred actions). */
static void s_order_by_logit(const float *logits, int32_t n, int32_t *order)
{
    for (int32_t i = 0; i < n; i++) {
        int32_t j = i;
        while (j > 0 && logits[order[j - 1]] < logits[i])
            order[j] = order[j - 1], j--;
        order[j] = i;
    }
}

int32_t cg_policy_sample_top_p(const float *logits, int32_t n_actions, float temperature,
                               float top_p, int32_t *order, cg_rng_t *rng, float *logp1)
{
    CG_ASSERT(n_actions >= 1 && temperature > 0.0f && order);
    if (!(top_p < 1.0f))
        return cg_policy_sample(logits, n_actions, temperature, rng, logp1);
    const double t = temperature;
    double mx;
    const double sum = s_softmax_sum(logits, n_actions, t, &mx);
    s_order_by_logit(logits, n_actions, order);
    /* the nucleus: the shortest prefix whose weight reaches top_p of the total */
    double kept = 0.0;
    int32_t m = 0;
    while (m < n_actions && (m == 0 || kept < (double)top_p * sum))
        kept += exp(((double)logits[order[m++]] - mx) / t);
    const double target = cg_rng_uniform(rng) * kept;
    double cum = 0.0;
    int32_t action = order[0];
    for (int32_t k = 0; k < m; k++) {
        cum += exp(((double)logits[order[k]] - mx) / t);
        if (cum > target) {
            action = order[k];
            break;
        }
    }
    if (logp1) {
        double mx1;
        double sum1 = s_softmax_sum(logits, n_actions, 1.0, &mx1);
        *logp1 = (float)((double)logits[action] - mx1 - log(sum1));
    }
    return action;
}

/* 0.5 log(2 pi) */
#define S_HALF_LOG_2PI 0.91893853320467274178

double cg_policy_gaussian_logp(const float *mean, const float *log_std, int32_t dim, const float *a)
{
    CG_ASSERT(mean && log_std && a && dim >= 1);
    double logp = 0.0;
    for (int32_t d = 0; d < dim; d++) {
        const double ls = cg_policy_log_std_bound(log_std[d]);
        const double z = ((double)a[d] - (double)mean[d]) * exp(-ls);
        logp -= 0.5 * z * z + ls + S_HALF_LOG_2PI;
    }
    return logp;
}

double cg_policy_gaussian_entropy(const float *log_std, int32_t dim)
{
    CG_ASSERT(log_std && dim >= 1);
    double h = 0.0;
    for (int32_t d = 0; d < dim; d++)
        h += (double)cg_policy_log_std_bound(log_std[d]) + S_HALF_LOG_2PI + 0.5;
    return h;
}

double cg_policy_gaussian_kl(const float *mean_a, const float *log_std_a, const float *mean_b,
                             const float *log_std_b, int32_t dim)
{
    CG_ASSERT(mean_a && log_std_a && mean_b && log_std_b && dim >= 1);
    double kl = 0.0;
    for (int32_t d = 0; d < dim; d++) {
        const double la = cg_policy_log_std_bound(log_std_a[d]);
        const double lb = cg_policy_log_std_bound(log_std_b[d]);
        const double dm = (double)mean_a[d] - (double)mean_b[d];
        kl += lb - la + (exp(2.0 * la) + dm * dm) / (2.0 * exp(2.0 * lb)) - 0.5;
    }
    return kl;
}

void cg_policy_gaussian_sample(const float *mean, const float *log_std, int32_t dim,
                               float temperature, cg_rng_t *rng, float *action, float *logp1)
{
    CG_ASSERT(mean && log_std && action && dim >= 1 && temperature > 0.0f);
    const double scale = sqrt((double)temperature);
    for (int32_t d = 0; d < dim; d++) {
        const double sigma = exp((double)cg_policy_log_std_bound(log_std[d]));
        action[d] = (float)((double)mean[d] + sigma * scale * cg_rng_normal(rng));
    }
    if (logp1)
        *logp1 = (float)cg_policy_gaussian_logp(mean, log_std, dim, action);
}
