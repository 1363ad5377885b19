/* cg_backend_cuda: the CUDA backend. An update mirrors cg_backend_cpu step for step on one
 * stream: pinned staging -> one async upload of the minibatch -> per layer cuBLAS sgemm +
 * bias/activation kernel -> loss kernel (log-softmax, clipped surrogate, k3 KL, entropy,
 * dlogits; per-block partial sums of the statistics) -> per layer cuBLAS dW, db, dX +
 * activation-derivative kernel -> gradient sum of squares -> finalize kernel (statistics,
 * norm, clip scale, finiteness) -> Adam kernel -> one small copy of the statistics back.
 * cuBLAS is column-major: a row-major (r, c) matrix is read as its (c, r) transpose, which
 * is how every product below is written. Reductions run in double, in a fixed order, so an
 * update is deterministic. The only C++ unit in cgrpo; no exceptions, no C++ library.
 * Built into the module libcg_cuda.so, which cg_backend.c loads (cg_backend_cuda.h). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_backend_cuda.h"
#include "cg_log.h"

#define S_LAYERS (CG_MAX_LAYERS + 1) /* hidden layers + the output layer */
#define S_THREADS 256                /* threads per block in every kernel */
#ifndef S_NORM_BLOCKS                /* (the host emulation, tests/cuda_emu, sets fewer) */
#define S_NORM_BLOCKS 256            /* blocks of the gradient sum-of-squares pass */
#endif
#define S_MAX_BLOCKS 8192 /* grid cap of the elementwise kernels (grid-stride) */
#define S_LOSS_NV 6       /* loss, pg_loss, kl, entropy, approx_kl, n_clipped */
#define S_HALF_LOG_2PI 0.91893853320467274178 /* 0.5 log(2 pi) */
#define S_HINT "(hint: set [learner] device = cpu or auto)"

/* ---- checks: log file:line and the library's message, return a cg_status_t ---- */

static cg_status_t s_cuda_fail(cudaError_t e, const char *call, const char *file, int line)
{
    cg_log_write(CG_LOG_ERROR, file, line, "CUDA: %s: %s (%s)", call, cudaGetErrorString(e),
                 cudaGetErrorName(e));
    /* A failed call is also the thread's last error: clear it, or the next launch check
     * (cudaGetLastError) reports a non-sticky one (cudaMalloc's out of memory) again. */
    cudaGetLastError();
    if (e == cudaErrorMemoryAllocation)
        return CG_ERR_NOMEM;
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorUnsupportedPtxVersion)
        return CG_ERR_UNSUPPORTED; /* built for other GPU architectures */
    return CG_ERR_IO;
}

static cg_status_t s_cublas_fail(cublasStatus_t e, const char *call, const char *file, int line)
{
    cg_log_write(CG_LOG_ERROR, file, line, "cuBLAS: %s: %s (%s)", call, cublasGetStatusString(e),
                 cublasGetStatusName(e));
    return e == CUBLAS_STATUS_ALLOC_FAILED ? CG_ERR_NOMEM : CG_ERR_IO;
}

#define CG_CUDA_CHECK(call)                                                                        \
    do {                                                                                           \
        cudaError_t cg_cuda_e_ = (call);                                                           \
        if (cg_cuda_e_ != cudaSuccess)                                                             \
            return s_cuda_fail(cg_cuda_e_, #call, __FILE__, __LINE__);                             \
    } while (0)

#define CG_CUBLAS_CHECK(call)                                                                      \
    do {                                                                                           \
        cublasStatus_t cg_cublas_e_ = (call);                                                      \
        if (cg_cublas_e_ != CUBLAS_STATUS_SUCCESS)                                                 \
            return s_cublas_fail(cg_cublas_e_, #call, __FILE__, __LINE__);                         \
    } while (0)

/* After a kernel launch: a bad configuration shows up here, not at the next sync. */
#define CG_CUDA_CHECK_LAUNCH() CG_CUDA_CHECK(cudaGetLastError())

/* ---- device state ---- */

/* Written by the finalize kernel, read by the Adam kernel and, once per update, the host. */
typedef struct {
    double loss[S_LOSS_NV]; /* weighted sums as cg_loss_stats_t, n_clipped last */
    double grad_norm;       /* as cg_adam_step returns it; 0 when the loss is not finite */
    float clip_scale;       /* gradient multiplier, 1 when not clipping */
    int32_t skip;           /* non-finite loss or norm: Adam changes nothing */
} s_dev_stats_t;

typedef struct {
    cg_policy_shape_t shape;
    cg_adam_config_t adam;
    int32_t n_layers;
    int32_t in[S_LAYERS], out[S_LAYERS];
    size_t w_off[S_LAYERS], b_off[S_LAYERS]; /* as cg_policy: W_l (out, in) then b_l (out) */
    size_t h_off[S_LAYERS];                  /* hidden act l at ws + cap * h_off[l] */
    size_t n_params;
    int32_t max_hidden;
    int gaussian;       /* a Gaussian head: log_std (n_actions) after the MLP */
    size_t log_std_off; /* its place in the arena */
    int64_t steps;      /* Adam steps taken */
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cudaEvent_t ev[4]; /* upload start/end, download start/end */
    cg_backend_cuda_transfer_t xfer;

    float *d_params;        /* (n_params) the arena, cg_policy's layout */
    float *d_grad;          /* (n_params) */
    float *d_moments;       /* (2, n_params): m then v, as cg_adam */
    s_dev_stats_t *d_stats; /* (1) */
    s_dev_stats_t *h_stats; /* (1) pinned */
    float *h_params;        /* (n_params) pinned staging for get/set_params */

    /* Grown on demand to cap rows; row layouts below. */
    int32_t cap;
    size_t ws_row; /* hidden acts (sum hidden), logits (A), dlogits (A), 2 x delta (max hidden),
                    * a Gaussian head's per-step log-std gradients (A) */
    size_t logits_off, dlogits_off, delta_off, dls_off;
    float *d_ws;        /* (cap, ws_row) */
    float *d_batch;     /* (cap * (obs_dim + 6)) minibatch, packed for n rows (s_pack) */
    float *h_batch;     /* same, pinned */
    float *h_logits;    /* (cap, A) pinned, forward's download */
    float *d_ones;      /* (cap) ones: bias gradients as a gemv */
    double *d_partials; /* (ceil(cap / S_THREADS), S_LOSS_NV) then (S_NORM_BLOCKS) */
} s_cuda_t;

/* Device views of a packed minibatch of n rows. */
typedef struct {
    const float *obs;      /* (n, obs_dim) */
    const float *logp_old; /* (n) */
    const float *adv;      /* (n) */
    const float *weight;   /* (n) */
    const float *logp_ref; /* (n) or NULL */
    const float *kl_coef;  /* (n) or NULL */
    const int32_t *action; /* (n) categorical head */
    const float *action_f; /* (n, A) Gaussian head */
} s_batch_t;

/* ---- kernels ---- */

static unsigned s_blocks(size_t work)
{
    size_t b = (work + S_THREADS - 1) / S_THREADS;
    return (unsigned)(b < 1 ? 1 : b > S_MAX_BLOCKS ? S_MAX_BLOCKS : b);
}

/* Sums NV values over the block (S_THREADS threads), in a fixed order; every thread gets
 * the totals back in vals. Call at most once per kernel (one shared array). */
template <int NV> static __device__ void s_block_sum(double (&vals)[NV])
{
    __shared__ double sh[NV][S_THREADS];
    const int t = threadIdx.x;
    for (int k = 0; k < NV; k++)
        sh[k][t] = vals[k];
    __syncthreads();
    for (int s = S_THREADS / 2; s > 0; s >>= 1) {
        if (t < s)
            for (int k = 0; k < NV; k++)
                sh[k][t] += sh[k][t + s];
        __syncthreads();
    }
    for (int k = 0; k < NV; k++)
        vals[k] = sh[k][0];
}

/* y (rows, cols) = act(y + b), b (cols); act: 0 tanh, 1 relu, -1 none (output layer).
 * tanh as cg_policy: 1 - 2 / (e^{2x} + 1). */
static __global__ void s_k_bias_act(float *y, const float *b, size_t rows, int32_t cols, int act)
{
    const size_t m = rows * (size_t)cols;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < m;
         k += (size_t)gridDim.x * blockDim.x) {
        float v = y[k] + b[k % (size_t)cols];
        if (act == CG_ACT_TANH)
            v = 1.0f - 2.0f / (expf(2.0f * v) + 1.0f);
        else if (act == CG_ACT_RELU)
            v = v > 0.0f ? v : 0.0f;
        y[k] = v;
    }
}

/* dx (m) *= act'(.), given x = act(.) the layer's cached output. */
static __global__ void s_k_act_back(float *dx, const float *x, size_t m, int act)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < m;
         k += (size_t)gridDim.x * blockDim.x) {
        if (act == CG_ACT_TANH)
            dx[k] *= 1.0f - x[k] * x[k];
        else
            dx[k] = x[k] > 0.0f ? dx[k] : 0.0f;
    }
}

static __global__ void s_k_fill(float *x, size_t m, float value)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < m;
         k += (size_t)gridDim.x * blockDim.x)
        x[k] = value;
}

/* The terms of step i that depend on its log-prob alone, as cg_loss.c's s_step_terms: the
 * clipped surrogate and the k3 KL; v gets the step's weighted statistics except the
 * entropy's part, and the return value is g = d(-surrogate + beta k3)/dlogp. */
static __device__ double s_step_terms(double logp, int32_t i, const s_batch_t &b, float cfg_beta,
                                      double lo, double hi, double c_ent, double h,
                                      double (&v)[S_LOSS_NV])
{
    const double adv = b.adv[i];
    /* The log-ratio is bounded (CG_LOSS_LOG_RATIO_MAX), with no gradient beyond the
     * bound: a behaviour log-prob far below the policy's cannot overflow the ratio. */
    const double raw_log_ratio = logp - (double)b.logp_old[i];
    const int ratio_bounded = fabs(raw_log_ratio) > CG_LOSS_LOG_RATIO_MAX;
    const double log_ratio =
        fmin(fmax(raw_log_ratio, -CG_LOSS_LOG_RATIO_MAX), CG_LOSS_LOG_RATIO_MAX);
    const double rho = exp(log_ratio);
    double surr = 0, g = 0, clipped_step = 0;
    if (adv != 0) {
        double unclipped = rho * adv;
        double clipped = fmin(fmax(rho, lo), hi) * adv;
        if (clipped < unclipped) {
            surr = clipped;
            clipped_step = 1;
        } else {
            surr = unclipped;
            g = ratio_bounded ? 0.0 : -adv * rho;
        }
    }
    double k3 = 0, beta = 0;
    if (b.logp_ref) {
        beta = b.kl_coef ? (double)b.kl_coef[i] : (double)cfg_beta;
        double d = (double)b.logp_ref[i] - logp;
        double ed = exp(d);
        k3 = ed - d - 1.0;
        g += beta * (1.0 - ed);
    }
    const double w = b.weight[i];
    v[0] = w * (-surr + beta * k3 - c_ent * h);
    v[1] = w * -surr;
    v[2] = w * k3;
    v[3] = w * h;
    v[4] = w * -log_ratio;
    v[5] = clipped_step;
    return g;
}

/* log sigma as cg_policy_log_std_bound. */
static __device__ double s_log_std(float x)
{
    return x < CG_POLICY_LOG_STD_MIN   ? CG_POLICY_LOG_STD_MIN
           : x > CG_POLICY_LOG_STD_MAX ? CG_POLICY_LOG_STD_MAX
                                       : (double)x;
}

/* The Gaussian head's loss, one thread per step, cg_loss_gaussian_compute's arithmetic in
 * double: writes dmean (n, A), the step's log-std gradient terms dls (n, A) (summed over the
 * rows by s_k_log_std_grad) and this block's partial sums of the statistics. */
static __global__ void s_k_loss_gaussian(const float *mean, const float *log_std, int32_t dim,
                                         int32_t n, s_batch_t b, float cfg_beta, double lo,
                                         double hi, double c_ent, float *dmean, float *dls,
                                         double *partials)
{
    const int32_t i = (int32_t)(blockIdx.x * blockDim.x + threadIdx.x);
    double v[S_LOSS_NV] = {0, 0, 0, 0, 0, 0};
    if (i < n) {
        const float *mu = mean + (size_t)i * (size_t)dim;
        const float *a = b.action_f + (size_t)i * (size_t)dim;
        double logp = 0, h = 0;
        for (int32_t d = 0; d < dim; d++) {
            const double ls = s_log_std(log_std[d]);
            const double z = ((double)a[d] - (double)mu[d]) * exp(-ls);
            logp -= 0.5 * z * z + ls + S_HALF_LOG_2PI;
            h += ls + S_HALF_LOG_2PI + 0.5;
        }
        const double g = s_step_terms(logp, i, b, cfg_beta, lo, hi, c_ent, h, v);
        const double w = b.weight[i];
        for (int32_t d = 0; d < dim; d++) {
            const double inv_sigma = exp(-s_log_std(log_std[d]));
            const double z = ((double)a[d] - (double)mu[d]) * inv_sigma;
            dmean[(size_t)i * dim + d] = (float)(w * g * z * inv_sigma);
            dls[(size_t)i * dim + d] = (float)(w * (g * (z * z - 1.0) - c_ent));
        }
    }
    s_block_sum<S_LOSS_NV>(v);
    if (threadIdx.x < S_LOSS_NV)
        partials[(size_t)blockIdx.x * S_LOSS_NV + threadIdx.x] = v[threadIdx.x];
}

/* One block per log-std d: grad[d] = the sum over the n rows of dls[., d] in double, 0 where
 * the bound holds (no gradient past it, as cg_backend_cpu). */
static __global__ void s_k_log_std_grad(const float *dls, int32_t n, int32_t dim,
                                        const float *log_std, float *grad)
{
    const int32_t d = (int32_t)blockIdx.x;
    double v[1] = {0};
    for (int32_t i = (int32_t)threadIdx.x; i < n; i += (int32_t)blockDim.x)
        v[0] += (double)dls[(size_t)i * dim + d];
    s_block_sum<1>(v);
    if (threadIdx.x == 0)
        grad[d] = s_log_std(log_std[d]) == (double)log_std[d] ? (float)v[0] : 0.0f;
}

/* One thread per step, cg_loss_compute's arithmetic in double, the same branches: writes
 * dlogits (n, A) and this block's partial sums (S_LOSS_NV) of the weighted statistics. */
static __global__ void s_k_loss(const float *logits, int32_t n_actions, int32_t n, s_batch_t b,
                                float cfg_beta, double lo, double hi, double c_ent, float *dlogits,
                                double *partials)
{
    const int32_t i = (int32_t)(blockIdx.x * blockDim.x + threadIdx.x);
    double v[S_LOSS_NV] = {0, 0, 0, 0, 0, 0};
    if (i < n) {
        const float *x = logits + (size_t)i * (size_t)n_actions;
        float *dx = dlogits + (size_t)i * (size_t)n_actions;
        const int32_t a = b.action[i];
        double xmax = x[0];
        for (int32_t j = 1; j < n_actions; j++)
            if (x[j] > xmax)
                xmax = x[j];
        double sum = 0;
        for (int32_t j = 0; j < n_actions; j++)
            sum += exp((double)x[j] - xmax);
        const double logz = xmax + log(sum);
        double h = 0;
        for (int32_t j = 0; j < n_actions; j++) {
            double logp_j = (double)x[j] - logz;
            h -= exp(logp_j) * logp_j;
        }
        const double logp = (double)x[a] - logz;
        const double g = s_step_terms(logp, i, b, cfg_beta, lo, hi, c_ent, h, v);
        const double w = b.weight[i];
        for (int32_t j = 0; j < n_actions; j++) {
            double logp_j = (double)x[j] - logz;
            double p_j = exp(logp_j);
            double dj = g * ((j == a ? 1.0 : 0.0) - p_j) + c_ent * p_j * (logp_j + h);
            dx[j] = (float)(w * dj);
        }
    }
    s_block_sum<S_LOSS_NV>(v);
    if (threadIdx.x < S_LOSS_NV)
        partials[(size_t)blockIdx.x * S_LOSS_NV + threadIdx.x] = v[threadIdx.x];
}

/* partials[block] = sum of grad^2 over a grid-stride slice, in double. */
static __global__ void s_k_sumsq(const float *grad, size_t n, double *partials)
{
    double v[1] = {0};
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x)
        v[0] += (double)grad[k] * (double)grad[k];
    s_block_sum<1>(v);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = v[0];
}

/* One block: totals of the loss and norm partials, then what cg_backend_cpu decides on the
 * host: a non-finite loss skips the step (grad_norm 0); a norm above FLT_MAX or NaN skips
 * it too; otherwise clip to max_norm as cg_adam_step does. */
static __global__ void s_k_finalize(const double *loss_part, int32_t n_loss_blocks,
                                    const double *norm_part, int32_t n_norm_blocks, double max_norm,
                                    s_dev_stats_t *st)
{
    double v[S_LOSS_NV + 1] = {0, 0, 0, 0, 0, 0, 0};
    for (int32_t blk = threadIdx.x; blk < n_loss_blocks; blk += blockDim.x)
        for (int k = 0; k < S_LOSS_NV; k++)
            v[k] += loss_part[(size_t)blk * S_LOSS_NV + k];
    for (int32_t blk = threadIdx.x; blk < n_norm_blocks; blk += blockDim.x)
        v[S_LOSS_NV] += norm_part[blk];
    s_block_sum<S_LOSS_NV + 1>(v);
    if (threadIdx.x != 0)
        return;
    for (int k = 0; k < S_LOSS_NV; k++)
        st->loss[k] = v[k];
    const double norm = sqrt(v[S_LOSS_NV]);
    st->clip_scale = 1.0f;
    st->skip = 1;
    if (!isfinite(v[0]))
        st->grad_norm = 0.0;
    else if (!(norm <= FLT_MAX))
        st->grad_norm = isnan(norm) ? (double)NAN : (double)INFINITY;
    else {
        st->grad_norm = norm;
        st->skip = 0;
        if (max_norm > 0.0 && norm > max_norm)
            st->clip_scale = (float)(max_norm / (norm + 1e-6));
    }
}

/* cg_adam_step's update, element by element, unless the finalize kernel said skip. */
static __global__ void s_k_adam(float *params, const float *grad, float *m, float *v, size_t n,
                                const s_dev_stats_t *st, float b1, float b2, float step_size,
                                float bc2_sqrt, float eps)
{
    if (st->skip)
        return;
    const float scale = st->clip_scale;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = grad[i] * scale;
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] -= step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

/* ---- host side ---- */

/* Makes the backend's device current and waits for its stream. Every call ends
 * synchronised, so the wait is a no-op, except after a call that failed half-way: work it
 * queued may still read the pinned staging buffers or the row buffers, which this call is
 * about to rewrite or free (s_pack, s_reserve). */
static cg_status_t s_enter(s_cuda_t *self)
{
    CG_CUDA_CHECK(cudaSetDevice(self->device));
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    return CG_OK;
}

static float *s_hidden(s_cuda_t *self, int32_t l)
{
    return self->d_ws + (size_t)self->cap * self->h_off[l];
}

/* Frees the row buffers. Frees are not checked: nothing can be done about a failing one,
 * and an earlier failure has been reported where it happened. */
static void s_free_rows(s_cuda_t *self)
{
    cudaFree(self->d_ws);
    cudaFree(self->d_batch);
    cudaFree(self->d_ones);
    cudaFree(self->d_partials);
    cudaFreeHost(self->h_batch);
    cudaFreeHost(self->h_logits);
    self->d_ws = self->d_batch = self->d_ones = NULL;
    self->h_batch = self->h_logits = NULL;
    self->d_partials = NULL;
    self->cap = 0;
}

/* Makes the row buffers hold n rows; grows geometrically, never shrinks. Callers have
 * synchronised the stream (s_enter), so nothing in flight uses the old buffers. */
static cg_status_t s_reserve(s_cuda_t *self, int32_t n)
{
    if (n <= self->cap)
        return CG_OK;
    int32_t cap = self->cap > INT32_MAX / 2 ? INT32_MAX : 2 * self->cap;
    if (cap < n)
        cap = n;
    s_free_rows(self);
    const size_t rows = (size_t)cap;
    /* obs, 5 columns, the actions: 1 (int32) or A floats per row */
    const size_t batch_floats =
        rows * ((size_t)self->shape.obs_dim + 5 +
                (self->gaussian ? (size_t)self->shape.n_actions : (size_t)1));
    const size_t loss_blocks = (rows + S_THREADS - 1) / S_THREADS;
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_ws, rows * self->ws_row * sizeof(float)));
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_batch, batch_floats * sizeof(float)));
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_ones, rows * sizeof(float)));
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_partials,
                             (loss_blocks * S_LOSS_NV + S_NORM_BLOCKS) * sizeof(double)));
    CG_CUDA_CHECK(cudaMallocHost((void **)&self->h_batch, batch_floats * sizeof(float)));
    CG_CUDA_CHECK(cudaMallocHost((void **)&self->h_logits,
                                 rows * (size_t)self->shape.n_actions * sizeof(float)));
    s_k_fill<<<s_blocks(rows), S_THREADS, 0, self->stream>>>(self->d_ones, rows, 1.0f);
    CG_CUDA_CHECK_LAUNCH();
    self->cap = cap;
    return CG_OK;
}

/* Packs mb into the pinned staging buffer for n rows: obs (n, D), logp_old, adv, weight,
 * logp_ref, kl_coef (n each, the optional ones only if given), action (n int32), and sets
 * the device views. Returns the bytes to upload. */
static size_t s_pack(s_cuda_t *self, const cg_minibatch_t *mb, s_batch_t *dev)
{
    const size_t n = (size_t)mb->n;
    const size_t nd = n * (size_t)self->shape.obs_dim;
    float *h = self->h_batch;
    float *d = self->d_batch;
    size_t off = 0;
    memcpy(h, mb->obs, nd * sizeof(float));
    dev->obs = d;
    off += nd;
    const float *cols[5] = {mb->logp_old, mb->adv, mb->weight, mb->logp_ref, mb->kl_coef};
    const float **views[5] = {&dev->logp_old, &dev->adv, &dev->weight, &dev->logp_ref,
                              &dev->kl_coef};
    for (int c = 0; c < 5; c++) {
        *views[c] = NULL;
        if (!cols[c])
            continue;
        memcpy(h + off, cols[c], n * sizeof(float));
        *views[c] = d + off;
        off += n;
    }
    dev->action = NULL;
    dev->action_f = NULL;
    if (self->gaussian) {
        const size_t na = n * (size_t)self->shape.n_actions;
        memcpy(h + off, mb->action_f, na * sizeof(float));
        dev->action_f = d + off;
        off += na;
        return off * sizeof(float);
    }
    /* int32 and float share size and alignment: the actions travel in the same copy. */
    memcpy(h + off, mb->action, n * sizeof(int32_t));
    dev->action = (const int32_t *)(d + off);
    off += n;
    return off * sizeof(float);
}

/* logits (n, A) on the device = MLP(x0 (n, D) on the device); hidden acts cached. */
static cg_status_t s_forward_dev(s_cuda_t *self, const float *x0, int32_t n, float *logits)
{
    const float one = 1.0f, zero = 0.0f;
    for (int32_t l = 0; l < self->n_layers; l++) {
        const int32_t in = self->in[l], out = self->out[l];
        const int last = l == self->n_layers - 1;
        const float *x = l == 0 ? x0 : s_hidden(self, l - 1); /* (n, in) */
        float *y = last ? logits : s_hidden(self, l);         /* (n, out) */
        /* Y^T (out, n) = W (out, in) X^T (in, n); W row-major reads as W^T: op T. */
        CG_CUBLAS_CHECK(cublasSgemm(self->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one,
                                    self->d_params + self->w_off[l], in, x, in, &zero, y, out));
        s_k_bias_act<<<s_blocks((size_t)n * out), S_THREADS, 0, self->stream>>>(
            y, self->d_params + self->b_off[l], (size_t)n, out,
            last ? -1 : (int)self->shape.activation);
        CG_CUDA_CHECK_LAUNCH();
    }
    return CG_OK;
}

/* d_grad = d loss / d params from the dlogits of the last s_forward_dev over x0 (n rows).
 * Every gradient block is written (beta = 0), so no zeroing is needed. */
static cg_status_t s_backward_dev(s_cuda_t *self, const float *x0, int32_t n)
{
    const float one = 1.0f, zero = 0.0f;
    float *delta[2] = {self->d_ws + (size_t)self->cap * self->delta_off,
                       self->d_ws + (size_t)self->cap * (self->delta_off + self->max_hidden)};
    const float *dy = self->d_ws + (size_t)self->cap * self->dlogits_off; /* (n, out_l) */
    for (int32_t l = self->n_layers - 1; l >= 0; l--) {
        const int32_t in = self->in[l], out = self->out[l];
        const float *x = l == 0 ? x0 : s_hidden(self, l - 1); /* (n, in) */
        const float *w = self->d_params + self->w_off[l];     /* (out, in) */
        /* dW (out, in) = dY^T X, i.e. dW^T (in, out) = X^T (in, n) dY (n, out). */
        CG_CUBLAS_CHECK(cublasSgemm(self->blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in,
                                    dy, out, &zero, self->d_grad + self->w_off[l], in));
        /* db (out) = dY^T 1: dY read column-major is (out, n). */
        CG_CUBLAS_CHECK(cublasSgemv(self->blas, CUBLAS_OP_N, out, n, &one, dy, out, self->d_ones, 1,
                                    &zero, self->d_grad + self->b_off[l], 1));
        if (l == 0)
            break;
        /* dX (n, in) = dY W, i.e. dX^T (in, n) = W^T (in, out) dY^T (out, n). */
        float *dx = delta[l & 1];
        CG_CUBLAS_CHECK(cublasSgemm(self->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in,
                                    dy, out, &zero, dx, in));
        s_k_act_back<<<s_blocks((size_t)n * in), S_THREADS, 0, self->stream>>>(
            dx, x, (size_t)n * in, (int)self->shape.activation);
        CG_CUDA_CHECK_LAUNCH();
        dy = dx;
    }
    return CG_OK;
}

/* Elapsed ms between two recorded (and completed) events, added to *sum. */
static cg_status_t s_add_elapsed(cudaEvent_t a, cudaEvent_t b, double *sum, int64_t *count)
{
    float ms = 0.0f;
    CG_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    *sum += ms;
    (*count)++;
    return CG_OK;
}

static cg_status_t s_set_params(void *ctx, const float *params)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    CG_TRY(s_enter(self));
    memcpy(self->h_params, params, self->n_params * sizeof(float));
    CG_CUDA_CHECK(cudaMemcpyAsync(self->d_params, self->h_params, self->n_params * sizeof(float),
                                  cudaMemcpyHostToDevice, self->stream));
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    return CG_OK;
}

/* The once-per-update weight download for the broadcast: pinned, async, timed. */
static cg_status_t s_get_params(void *ctx, float *params)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    CG_TRY(s_enter(self));
    CG_CUDA_CHECK(cudaEventRecord(self->ev[2], self->stream));
    CG_CUDA_CHECK(cudaMemcpyAsync(self->h_params, self->d_params, self->n_params * sizeof(float),
                                  cudaMemcpyDeviceToHost, self->stream));
    CG_CUDA_CHECK(cudaEventRecord(self->ev[3], self->stream));
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    CG_TRY(
        s_add_elapsed(self->ev[2], self->ev[3], &self->xfer.download_ms, &self->xfer.n_downloads));
    memcpy(params, self->h_params, self->n_params * sizeof(float));
    return CG_OK;
}

static cg_status_t s_forward(void *ctx, const float *obs, int32_t n, float *logits)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    CG_ASSERT(n > 0); /* cg_backend_forward passes n >= 1 only */
    CG_TRY(s_enter(self));
    CG_TRY(s_reserve(self, n));
    const size_t n_obs = (size_t)n * (size_t)self->shape.obs_dim;
    const size_t n_logits = (size_t)n * (size_t)self->shape.n_actions;
    float *d_logits = self->d_ws + (size_t)self->cap * self->logits_off;
    memcpy(self->h_batch, obs, n_obs * sizeof(float));
    CG_CUDA_CHECK(cudaMemcpyAsync(self->d_batch, self->h_batch, n_obs * sizeof(float),
                                  cudaMemcpyHostToDevice, self->stream));
    CG_TRY(s_forward_dev(self, self->d_batch, n, d_logits));
    CG_CUDA_CHECK(cudaMemcpyAsync(self->h_logits, d_logits, n_logits * sizeof(float),
                                  cudaMemcpyDeviceToHost, self->stream));
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    memcpy(logits, self->h_logits, n_logits * sizeof(float));
    return CG_OK;
}

/* As cg_backend_cpu's update: a non-finite loss or gradient norm changes nothing (the
 * device-side skip flag) and returns CG_ERR_NONFINITE with the statistics filled in. */
static cg_status_t s_update(void *ctx, const cg_minibatch_t *mb, const cg_loss_config_t *loss,
                            cg_update_stats_t *stats)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    const int32_t n = mb->n;
    /* cg_backend_update passes n >= 1 only; n = 0 would launch the loss kernel on an empty
     * grid (an error) and divide by n for clip_frac. */
    CG_ASSERT(n > 0);
    memset(stats, 0, sizeof(*stats));
    if (mb->fill) { /* gathered here, then checked as cg_backend_update checks the others */
        cg_minibatch_fill(mb, 0, n);
        if (!self->gaussian && !cg_minibatch_actions_ok(mb, 0, n, self->shape.n_actions))
            return CG_ERR_RANGE;
    }
    CG_TRY(s_enter(self));
    CG_TRY(s_reserve(self, n));
    s_batch_t b;
    const size_t bytes = s_pack(self, mb, &b);
    float *d_logits = self->d_ws + (size_t)self->cap * self->logits_off;
    float *d_dlogits = self->d_ws + (size_t)self->cap * self->dlogits_off;
    const int32_t loss_blocks = (int32_t)(((size_t)n + S_THREADS - 1) / S_THREADS);
    double *norm_part = self->d_partials + (size_t)loss_blocks * S_LOSS_NV;

    CG_CUDA_CHECK(cudaEventRecord(self->ev[0], self->stream));
    CG_CUDA_CHECK(
        cudaMemcpyAsync(self->d_batch, self->h_batch, bytes, cudaMemcpyHostToDevice, self->stream));
    CG_CUDA_CHECK(cudaEventRecord(self->ev[1], self->stream));

    CG_TRY(s_forward_dev(self, b.obs, n, d_logits));
    const double lo = 1.0 - (double)loss->clip_eps, hi = 1.0 + (double)loss->clip_eps;
    const float *d_log_std = self->d_params + self->log_std_off;
    float *d_dls = self->d_ws + (size_t)self->cap * self->dls_off;
    if (self->gaussian)
        s_k_loss_gaussian<<<loss_blocks, S_THREADS, 0, self->stream>>>(
            d_logits, d_log_std, self->shape.n_actions, n, b, loss->kl_coef, lo, hi,
            (double)loss->ent_coef, d_dlogits, d_dls, self->d_partials);
    else
        s_k_loss<<<loss_blocks, S_THREADS, 0, self->stream>>>(
            d_logits, self->shape.n_actions, n, b, loss->kl_coef, lo, hi, (double)loss->ent_coef,
            d_dlogits, self->d_partials);
    CG_CUDA_CHECK_LAUNCH();
    CG_TRY(s_backward_dev(self, b.obs, n));
    if (self->gaussian) {
        s_k_log_std_grad<<<self->shape.n_actions, S_THREADS, 0, self->stream>>>(
            d_dls, n, self->shape.n_actions, d_log_std, self->d_grad + self->log_std_off);
        CG_CUDA_CHECK_LAUNCH();
    }
    s_k_sumsq<<<S_NORM_BLOCKS, S_THREADS, 0, self->stream>>>(self->d_grad, self->n_params,
                                                             norm_part);
    CG_CUDA_CHECK_LAUNCH();
    s_k_finalize<<<1, S_THREADS, 0, self->stream>>>(self->d_partials, loss_blocks, norm_part,
                                                    S_NORM_BLOCKS, (double)self->adam.max_grad_norm,
                                                    self->d_stats);
    CG_CUDA_CHECK_LAUNCH();

    /* Bias corrections for step t = steps + 1, computed exactly as cg_adam_step does; the
     * kernel does nothing if the finalize kernel set skip. */
    const float b1 = self->adam.beta1, b2 = self->adam.beta2;
    const double t = (double)(self->steps + 1);
    const float step_size = (float)((double)self->adam.lr / (1.0 - pow((double)b1, t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
    s_k_adam<<<s_blocks(self->n_params), S_THREADS, 0, self->stream>>>(
        self->d_params, self->d_grad, self->d_moments, self->d_moments + self->n_params,
        self->n_params, self->d_stats, b1, b2, step_size, bc2_sqrt, self->adam.eps);
    CG_CUDA_CHECK_LAUNCH();

    CG_CUDA_CHECK(cudaMemcpyAsync(self->h_stats, self->d_stats, sizeof(s_dev_stats_t),
                                  cudaMemcpyDeviceToHost, self->stream));
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    CG_TRY(s_add_elapsed(self->ev[0], self->ev[1], &self->xfer.upload_ms, &self->xfer.n_uploads));

    const s_dev_stats_t *st = self->h_stats;
    stats->loss.loss = st->loss[0];
    stats->loss.pg_loss = st->loss[1];
    stats->loss.kl = st->loss[2];
    stats->loss.entropy = st->loss[3];
    stats->loss.approx_kl = st->loss[4];
    stats->loss.clip_frac = st->loss[5] / (double)n;
    stats->grad_norm = (float)st->grad_norm;
    if (st->skip)
        return CG_ERR_NONFINITE;
    self->steps++;
    return CG_OK;
}

static cg_status_t s_get_optim(void *ctx, float *m, float *v, int64_t *steps)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    const size_t bytes = self->n_params * sizeof(float);
    CG_TRY(s_enter(self));
    CG_CUDA_CHECK(cudaMemcpyAsync(m, self->d_moments, bytes, cudaMemcpyDeviceToHost, self->stream));
    CG_CUDA_CHECK(cudaMemcpyAsync(v, self->d_moments + self->n_params, bytes,
                                  cudaMemcpyDeviceToHost, self->stream));
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    *steps = self->steps;
    return CG_OK;
}

static cg_status_t s_set_optim(void *ctx, const float *m, const float *v, int64_t steps)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    const size_t bytes = self->n_params * sizeof(float);
    CG_TRY(s_enter(self));
    CG_CUDA_CHECK(cudaMemcpyAsync(self->d_moments, m, bytes, cudaMemcpyHostToDevice, self->stream));
    CG_CUDA_CHECK(cudaMemcpyAsync(self->d_moments + self->n_params, v, bytes,
                                  cudaMemcpyHostToDevice, self->stream));
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    self->steps = steps;
    return CG_OK;
}

/* Frees whatever was allocated (unchecked, as s_free_rows); a failed final sync, which
 * would mean lost device work, is logged. */
static void s_destroy(void *ctx)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    if (!self)
        return;
    cudaSetDevice(self->device);
    if (self->stream) {
        cudaError_t e = cudaStreamSynchronize(self->stream);
        if (e != cudaSuccess)
            s_cuda_fail(e, "cudaStreamSynchronize", __FILE__, __LINE__);
    }
    s_free_rows(self);
    cudaFreeHost(self->h_params);
    cudaFreeHost(self->h_stats);
    cudaFree(self->d_stats);
    cudaFree(self->d_moments);
    cudaFree(self->d_grad);
    cudaFree(self->d_params);
    for (int k = 0; k < 4; k++)
        if (self->ev[k])
            cudaEventDestroy(self->ev[k]);
    if (self->blas)
        cublasDestroy(self->blas);
    if (self->stream)
        cudaStreamDestroy(self->stream);
    free(self);
}

static const cg_backend_ops_t s_cuda_ops = {
    "cuda",    s_set_params, s_get_params, s_forward,
    s_update,  s_get_optim,  s_set_optim,  NULL /* set_threads: the device is the parallelism */,
    s_destroy,
};

/* Layer offsets as cg_policy lays out its arena, and the workspace's row layout. */
static void s_layout(s_cuda_t *self)
{
    const cg_policy_shape_t *shape = &self->shape;
    size_t off = 0, h_off = 0;
    int32_t in = shape->obs_dim;
    self->n_layers = shape->n_hidden + 1;
    for (int32_t l = 0; l < self->n_layers; l++) {
        int32_t out = l < shape->n_hidden ? shape->hidden[l] : shape->n_actions;
        self->in[l] = in;
        self->out[l] = out;
        self->w_off[l] = off;
        off += (size_t)out * (size_t)in;
        self->b_off[l] = off;
        off += (size_t)out;
        if (l < shape->n_hidden) {
            self->h_off[l] = h_off;
            h_off += (size_t)out;
            if (out > self->max_hidden)
                self->max_hidden = out;
        }
        in = out;
    }
    self->gaussian = shape->head == CG_HEAD_GAUSSIAN;
    self->log_std_off = off;
    self->n_params = off + (self->gaussian ? (size_t)shape->n_actions : 0);
    self->logits_off = h_off;
    self->dlogits_off = h_off + (size_t)shape->n_actions;
    self->delta_off = h_off + 2 * (size_t)shape->n_actions;
    self->dls_off = self->delta_off + 2 * (size_t)self->max_hidden;
    self->ws_row = self->dls_off + (self->gaussian ? (size_t)shape->n_actions : 0);
}

/* Stream, cuBLAS handle, events, the arenas, and the initial parameters uploaded. */
static cg_status_t s_setup(s_cuda_t *self, const float *init)
{
    const size_t bytes = self->n_params * sizeof(float);
    CG_CUDA_CHECK(cudaGetDevice(&self->device)); /* the thread's current one: 0 by default */
    CG_CUDA_CHECK(cudaStreamCreateWithFlags(&self->stream, cudaStreamNonBlocking));
    CG_CUBLAS_CHECK(cublasCreate(&self->blas));
    CG_CUBLAS_CHECK(cublasSetStream(self->blas, self->stream));
    /* Full float32 products (no TF32 tensor-op shortcut): the CPU tolerance depends on it.
     * Scalars (alpha, beta) are host pointers. */
    CG_CUBLAS_CHECK(cublasSetMathMode(self->blas, CUBLAS_DEFAULT_MATH));
    CG_CUBLAS_CHECK(cublasSetPointerMode(self->blas, CUBLAS_POINTER_MODE_HOST));
    for (int k = 0; k < 4; k++)
        CG_CUDA_CHECK(cudaEventCreate(&self->ev[k]));
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_params, bytes));
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_grad, bytes));
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_moments, 2 * bytes));
    CG_CUDA_CHECK(cudaMalloc((void **)&self->d_stats, sizeof(s_dev_stats_t)));
    CG_CUDA_CHECK(cudaMallocHost((void **)&self->h_params, bytes));
    CG_CUDA_CHECK(cudaMallocHost((void **)&self->h_stats, sizeof(s_dev_stats_t)));
    /* Zeroed by a kernel rather than a memset: a GPU this build has no code for fails here,
     * at creation (so device=auto falls back to the CPU), not in the first update. */
    s_k_fill<<<s_blocks(self->n_params), S_THREADS, 0, self->stream>>>(self->d_grad, self->n_params,
                                                                       0.0f);
    CG_CUDA_CHECK_LAUNCH();
    s_k_fill<<<s_blocks(2 * self->n_params), S_THREADS, 0, self->stream>>>(
        self->d_moments, 2 * self->n_params, 0.0f);
    CG_CUDA_CHECK_LAUNCH();
    CG_CUDA_CHECK(cudaStreamSynchronize(self->stream));
    return s_set_params(self, init);
}

/* Number of usable CUDA devices (>= 1), or 0 with the CUDA runtime's reason in why (which
 * may be NULL). */
static int32_t s_device_count(char *why, size_t whylen)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count <= 0) {
        if (e == cudaSuccess)
            e = cudaErrorNoDevice;
        /* The runtime's words for a machine without an NVIDIA driver are misleading. */
        const char *note = e == cudaErrorInsufficientDriver
                               ? "; no NVIDIA driver is loaded, or it is older than this "
                                 "CUDA runtime"
                               : "";
        if (why && whylen)
            snprintf(why, whylen, "%s (%s%s)", cudaGetErrorString(e), cudaGetErrorName(e), note);
        cudaGetLastError(); /* clear it, so later checks do not see it */
        return 0;
    }
    return (int32_t)count;
}

uint64_t cg_backend_cuda_module_init(int32_t log_level)
{
    cg_log_set_level((cg_log_level_t)log_level);
    return cg_backend_cuda_abi();
}

void *cg_backend_cuda_new(const cg_policy_shape_t *shape, const cg_adam_config_t *adam,
                          uint64_t seed, const cg_backend_ops_t **ops, char *err, size_t errlen)
{
    CG_ASSERT(shape && adam && ops);
    char why[256] = "";
    char scratch[64];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof(scratch);
    }
    if (s_device_count(why, sizeof(why)) == 0) {
        snprintf(err, errlen, "device=cuda requested but no CUDA device is available: %s " S_HINT,
                 why);
        return NULL;
    }
    cg_policy_t *init = cg_policy_new(shape, seed);
    if (!init) {
        snprintf(err, errlen, "cuda backend: invalid policy shape (hint: check [policy] hidden)");
        return NULL;
    }
    cg_adam_t *check = cg_adam_new(0, adam); /* validates the settings, allocates nothing */
    if (!check) {
        snprintf(err, errlen,
                 "cuda backend: invalid Adam settings (lr %g, betas %g/%g, eps %g, "
                 "max_grad_norm %g) (hint: check [policy] lr, adam_beta1/2, adam_eps, "
                 "max_grad_norm)",
                 (double)adam->lr, (double)adam->beta1, (double)adam->beta2, (double)adam->eps,
                 (double)adam->max_grad_norm);
        cg_policy_destroy(&init);
        return NULL;
    }
    cg_adam_destroy(&check);

    s_cuda_t *self = (s_cuda_t *)cg_calloc(1, sizeof(*self));
    self->shape = *shape;
    self->adam = *adam;
    s_layout(self);
    CG_ASSERT(self->n_params == cg_policy_n_params(init));
    cg_status_t rc = s_setup(self, cg_policy_params(init));
    cg_policy_destroy(&init);
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, self->device) != cudaSuccess) { /* only for messages */
        memset(&prop, 0, sizeof(prop));
        snprintf(prop.name, sizeof(prop.name), "unknown");
    }
    if (rc != CG_OK) {
        if (rc == CG_ERR_UNSUPPORTED)
            snprintf(err, errlen,
                     "cuda backend: this build has no code for device %d (%s, sm_%d%d) "
                     "(hint: rebuild with -DCMAKE_CUDA_ARCHITECTURES=native, or set [learner] "
                     "device = cpu)",
                     self->device, prop.name, prop.major, prop.minor);
        else
            snprintf(err, errlen,
                     "cuda backend: cannot set up device %d (%s) for %zu parameters: %s (the "
                     "log names the failing call) " S_HINT,
                     self->device, prop.name, self->n_params, cg_status_str(rc));
        s_destroy(self);
        return NULL;
    }
    CG_INFO("cuda backend: device %d (%s, sm_%d%d, %.1f GiB), %zu parameters", self->device,
            prop.name, prop.major, prop.minor, (double)prop.totalGlobalMem / (1 << 30),
            self->n_params);
    *ops = &s_cuda_ops;
    return self;
}

cg_status_t cg_backend_cuda_ctx_transfer(void *ctx, cg_backend_cuda_transfer_t *out, int reset)
{
    s_cuda_t *self = (s_cuda_t *)ctx;
    if (!self || !out)
        return CG_ERR_INVAL;
    *out = self->xfer;
    if (reset)
        memset(&self->xfer, 0, sizeof(self->xfer));
    return CG_OK;
}
