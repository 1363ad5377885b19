/* fakecuda.cpp: see fakecuda.h. */
#include "fakecuda.h"

#include <ucontext.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

static cudaError_t s_last = cudaSuccess;
static thread_local int s_sync_mode = 0;
static const char *s_cur_kernel = "";

#define EMU_DIE(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "EMU FATAL: " __VA_ARGS__);                                                \
        fprintf(stderr, "\n");                                                                     \
        abort();                                                                                   \
    } while (0)

/* ---- memory bookkeeping ---- */
enum { K_DEV = 1, K_PINNED = 2 };
struct alloc_t {
    size_t bytes;
    int kind;
};
static std::map<uintptr_t, alloc_t> s_allocs;
static std::mutex s_mu;

static const alloc_t *s_find(const void *p, uintptr_t *base)
{
    std::lock_guard<std::mutex> g(s_mu);
    uintptr_t a = (uintptr_t)p;
    auto it = s_allocs.upper_bound(a);
    if (it == s_allocs.begin())
        return NULL;
    --it;
    if (a >= it->first && a < it->first + (it->second.bytes ? it->second.bytes : 1)) {
        *base = it->first;
        return &it->second;
    }
    return NULL;
}

static void s_check_range(const void *p, size_t bytes, int kind, const char *what)
{
    if (bytes == 0)
        return;
    uintptr_t base;
    const alloc_t *a = s_find(p, &base);
    if (!a || a->kind != kind)
        EMU_DIE("%s: %p is not %s memory", what, p, kind == K_DEV ? "device" : "pinned");
    if ((uintptr_t)p + bytes > base + a->bytes)
        EMU_DIE("%s: [%p, +%zu) overruns its allocation of %zu bytes by %zu", what, p, bytes,
                a->bytes, (size_t)((uintptr_t)p + bytes - base - a->bytes));
}

void emu_check_dev(const void *p, const char *kernel, int arg)
{
    if (!p)
        return;
    uintptr_t base;
    const alloc_t *a = s_find(p, &base);
    if (!a || a->kind != K_DEV)
        EMU_DIE("kernel %s arg %d: %p is not device memory", kernel, arg, p);
}

static cudaError_t s_alloc(void **p, size_t bytes, int kind)
{
    void *q = malloc(bytes ? bytes : 1);
    if (!q)
        return cudaErrorMemoryAllocation;
    memset(q, 0xFF, bytes); /* NaN floats/doubles: stale reads show */
    std::lock_guard<std::mutex> g(s_mu);
    s_allocs[(uintptr_t)q] = alloc_t{bytes, kind};
    *p = q;
    return cudaSuccess;
}

static cudaError_t s_free(void *p, int kind)
{
    if (!p)
        return cudaSuccess;
    std::lock_guard<std::mutex> g(s_mu);
    auto it = s_allocs.find((uintptr_t)p);
    if (it == s_allocs.end() || it->second.kind != kind)
        EMU_DIE("free of %p: not a %s allocation", p, kind == K_DEV ? "device" : "pinned");
    s_allocs.erase(it);
    free(p);
    return cudaSuccess;
}

const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emu error"; }
const char *cudaGetErrorName(cudaError_t e)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "cudaError%d", (int)e);
    return buf;
}
cudaError_t cudaGetLastError(void)
{
    cudaError_t e = s_last;
    s_last = cudaSuccess;
    return e;
}
cudaError_t cudaMalloc(void **p, size_t bytes) { return s_alloc(p, bytes, K_DEV); }
cudaError_t cudaFree(void *p) { return s_free(p, K_DEV); }
cudaError_t cudaMallocHost(void **p, size_t bytes) { return s_alloc(p, bytes, K_PINNED); }
cudaError_t cudaFreeHost(void *p) { return s_free(p, K_PINNED); }

int emu_n_pageable_copies = 0;
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t st)
{
    if (!st)
        EMU_DIE("memcpy on the legacy stream");
    uintptr_t base;
    if (kind == cudaMemcpyHostToDevice) {
        s_check_range(dst, bytes, K_DEV, "memcpy H2D dst");
        const alloc_t *a = s_find(src, &base);
        if (a && a->kind == K_DEV)
            EMU_DIE("memcpy H2D: src is device memory");
        if (!a)
            emu_n_pageable_copies++;
        else
            s_check_range(src, bytes, K_PINNED, "memcpy H2D src");
    } else if (kind == cudaMemcpyDeviceToHost) {
        s_check_range(src, bytes, K_DEV, "memcpy D2H src");
        const alloc_t *a = s_find(dst, &base);
        if (a && a->kind == K_DEV)
            EMU_DIE("memcpy D2H: dst is device memory");
        if (!a)
            emu_n_pageable_copies++;
        else
            s_check_range(dst, bytes, K_PINNED, "memcpy D2H dst");
    } else
        return cudaErrorInvalidValue;
    if (bytes)
        memcpy(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t st)
{
    if (!st)
        EMU_DIE("sync of a NULL stream");
    return cudaSuccess;
}
struct emu_stream {
    int dummy;
};
struct emu_event {
    int recorded;
    struct timespec t;
};
struct emu_blas {
    cudaStream_t st;
};
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned flags)
{
    (void)flags;
    *st = new emu_stream();
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t st)
{
    delete st;
    return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t *ev)
{
    *ev = new emu_event();
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t ev)
{
    delete ev;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t st)
{
    if (!st)
        EMU_DIE("event on the legacy stream");
    ev->recorded = 1;
    clock_gettime(CLOCK_MONOTONIC, &ev->t);
    return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    if (!a->recorded || !b->recorded)
        return cudaErrorInvalidResourceHandle;
    *ms = (float)((b->t.tv_sec - a->t.tv_sec) * 1e3 + (b->t.tv_nsec - a->t.tv_nsec) * 1e-6);
    if (*ms <= 0)
        *ms = 1e-6f;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaGetDevice(int *d)
{
    *d = 0;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int *n)
{
    *n = getenv("EMU_NO_DEVICE") ? 0 : 1;
    return *n ? cudaSuccess : cudaErrorNoDevice;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "EmuGPU");
    p->major = 9;
    p->totalGlobalMem = (size_t)80 << 30;
    return d == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

/* ---- kernels ---- */
static ucontext_t s_sched;
static ucontext_t *s_ctx;
static int *s_done;
static unsigned s_cur;
static const std::function<void()> *s_body;

static void s_fiber_entry(void)
{
    (*s_body)();
    s_done[s_cur] = 1; /* then uc_link returns to the scheduler */
}

void __syncthreads(void)
{
    if (!s_sync_mode)
        EMU_DIE("__syncthreads in kernel %s launched serially (add it to the sync list)",
                s_cur_kernel);
    swapcontext(&s_ctx[s_cur], &s_sched);
}

static int s_needs_sync(const char *name)
{
    static const char *list[] = {"s_k_loss", "s_k_loss_gaussian", "s_k_log_std_grad", "s_k_sumsq",
                                 "s_k_finalize"};
    for (const char *n : list)
        if (!strcmp(n, name))
            return 1;
    return 0;
}

void emu_run(const char *name, unsigned grid, unsigned block, size_t shmem, cudaStream_t st,
             const std::function<void()> &body)
{
    if (!st)
        EMU_DIE("launch of %s on the legacy stream", name);
    if (grid == 0 || block == 0 || block > 1024 || grid > 2147483647u || shmem > 48 * 1024) {
        fprintf(stderr, "EMU: launch of %s with grid %u block %u: invalid configuration\n", name,
                grid, block);
        s_last = cudaErrorInvalidConfiguration;
        return;
    }
    s_cur_kernel = name;
    gridDim = dim3{grid, 1, 1};
    blockDim = dim3{block, 1, 1};
    if (!s_needs_sync(name)) {
        for (unsigned b = 0; b < grid; b++)
            for (unsigned t = 0; t < block; t++) {
                blockIdx = dim3{b, 0, 0};
                threadIdx = dim3{t, 0, 0};
                body();
            }
        return;
    }
    /* Fibers: thread t runs until its next __syncthreads or its end; a round resumes every
     * thread once, so no thread passes a barrier before all have reached it. */
    static std::vector<ucontext_t> ctx;
    static std::vector<char> stacks;
    static std::vector<int> done;
    const size_t stack_bytes = 1 << 18;
    ctx.resize(block);
    done.assign(block, 0);
    if (stacks.size() < block * stack_bytes)
        stacks.resize(block * stack_bytes);
    s_body = &body;
    s_sync_mode = 1;
    for (unsigned b = 0; b < grid; b++) {
        blockIdx = dim3{b, 0, 0};
        for (unsigned t = 0; t < block; t++) {
            getcontext(&ctx[t]);
            ctx[t].uc_stack.ss_sp = stacks.data() + t * stack_bytes;
            ctx[t].uc_stack.ss_size = stack_bytes;
            ctx[t].uc_link = &s_sched;
            makecontext(&ctx[t], (void (*)())s_fiber_entry, 0);
            done[t] = 0;
        }
        s_ctx = ctx.data();
        s_done = done.data();
        for (int round = 0;; round++) {
            unsigned n_done = 0;
            for (unsigned t = 0; t < block; t++) {
                if (done[t]) {
                    n_done++;
                    continue;
                }
                s_cur = t;
                threadIdx = dim3{t, 0, 0};
                swapcontext(&s_sched, &ctx[t]);
                n_done += done[t];
            }
            if (n_done == block)
                break;
            if (n_done > 0)
                EMU_DIE("kernel %s: barrier divergence (%u of %u threads done)", name, n_done,
                        block);
        }
    }
    s_sync_mode = 0;
}

/* ---- cuBLAS ---- */
cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    *h = new emu_blas();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h)
{
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t st)
{
    h->st = st;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetPointerMode(cublasHandle_t, cublasPointerMode_t)
{
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t) { return "emu cublas error"; }
const char *cublasGetStatusName(cublasStatus_t e)
{
    return e == CUBLAS_STATUS_INVALID_VALUE ? "CUBLAS_STATUS_INVALID_VALUE" : "CUBLAS_STATUS_?";
}

static int imax(int a, int b) { return a > b ? a : b; }

/* A stored column-major (rows, cols) with leading dimension ld: its extent in floats. */
static size_t s_extent(int rows, int cols, int ld)
{
    return rows == 0 || cols == 0 ? 0 : (size_t)(cols - 1) * (size_t)ld + (size_t)rows;
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc)
{
    if (!h || !h->st)
        EMU_DIE("sgemm without a stream");
    /* cuBLAS: m, n, k >= 0; lda >= max(1, ta == N ? m : k); ldb >= max(1, tb == N ? k : n);
     * ldc >= max(1, m). */
    if (m < 0 || n < 0 || k < 0 || lda < imax(1, ta == CUBLAS_OP_N ? m : k) ||
        ldb < imax(1, tb == CUBLAS_OP_N ? k : n) || ldc < imax(1, m)) {
        fprintf(stderr, "EMU: sgemm invalid value m %d n %d k %d lda %d ldb %d ldc %d\n", m, n, k,
                lda, ldb, ldc);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    /* stored shapes: A is (m, k) for N, (k, m) for T; B is (k, n) for N, (n, k) for T */
    int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (k > 0) {
        s_check_range(A, s_extent(ar, ac, lda) * sizeof(float), K_DEV, "sgemm A");
        s_check_range(B, s_extent(br, bc, ldb) * sizeof(float), K_DEV, "sgemm B");
    }
    s_check_range(C, s_extent(m, n, ldc) * sizeof(float), K_DEV, "sgemm C");
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++) {
                float a = ta == CUBLAS_OP_N ? A[i + (size_t)p * lda] : A[p + (size_t)i * lda];
                float b = tb == CUBLAS_OP_N ? B[p + (size_t)j * ldb] : B[j + (size_t)p * ldb];
                s += a * b;
            }
            float *c = &C[i + (size_t)j * ldc];
            *c = *beta == 0.0f ? *alpha * s : *alpha * s + *beta * *c;
        }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemv(cublasHandle_t h, cublasOperation_t ta, int m, int n,
                           const float *alpha, const float *A, int lda, const float *x, int incx,
                           const float *beta, float *y, int incy)
{
    if (!h || !h->st)
        EMU_DIE("sgemv without a stream");
    if (m < 0 || n < 0 || lda < imax(1, m) || incx == 0 || incy == 0) {
        fprintf(stderr, "EMU: sgemv invalid value\n");
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (incx != 1 || incy != 1)
        EMU_DIE("sgemv: only unit strides emulated");
    if (m == 0 || n == 0) /* reference BLAS quick return: y untouched */
        return CUBLAS_STATUS_SUCCESS;
    int lx = ta == CUBLAS_OP_N ? n : m, ly = ta == CUBLAS_OP_N ? m : n;
    s_check_range(A, s_extent(m, n, lda) * sizeof(float), K_DEV, "sgemv A");
    s_check_range(x, (size_t)lx * sizeof(float), K_DEV, "sgemv x");
    s_check_range(y, (size_t)ly * sizeof(float), K_DEV, "sgemv y");
    for (int i = 0; i < ly; i++) {
        float s = 0.0f;
        for (int p = 0; p < lx; p++)
            s += (ta == CUBLAS_OP_N ? A[i + (size_t)p * lda] : A[p + (size_t)i * lda]) * x[p];
        y[i] = *beta == 0.0f ? *alpha * s : *alpha * s + *beta * y[i];
    }
    return CUBLAS_STATUS_SUCCESS;
}
