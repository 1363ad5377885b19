/* cg_backend_cuda: the CUDA backend behind the cg_backend table. Parameters, gradients and
 * Adam moments live on the device (one arena each, laid out as cg_policy's); an update runs
 * forward (cuBLAS sgemm + bias/activation kernels), log-softmax and the clipped-surrogate /
 * k3 KL / entropy loss with its dlogits (one kernel), backward (cuBLAS), the global gradient
 * norm, clipping and Adam (kernels) on one stream; the minibatch goes up through a pinned
 * staging buffer in one asynchronous copy, and the loss statistics come back once per
 * update. It mirrors cg_backend_cpu step for step and is tested against it
 * (tests/test_backend_cuda.c).
 * It is built as a shared module (libcg_cuda.so, cg_backend_cuda.cu with its own copy of
 * the host code it uses) that cg_backend.c dlopens when device=cuda or auto is asked for,
 * so that no other process maps the CUDA libraries. The rest of cgrpo reaches it through
 * cg_backend_new. Only cg_backend_cuda_transfer is defined in cgrpo itself (cg_backend.c,
 * every build); the module exports the three functions below its typedefs, found by dlsym.
 * Not here: backend selection and loading (cg_backend.c), double-buffering of batches (the
 * learner's cg_updater).
 * Threading: one thread at a time, like every backend (cg_backend.h). */
#ifndef CG_BACKEND_CUDA_H
#define CG_BACKEND_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "cg_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Host<->device transfer time of a CUDA backend, measured with CUDA events: the minibatch
 * uploads of its updates and the parameter downloads of get_params, each summed since the
 * backend was created (or since the last reset), with their counts. */
typedef struct {
    double upload_ms;
    int64_t n_uploads;
    double download_ms;
    int64_t n_downloads;
} cg_backend_cuda_transfer_t;

/* The transfer timings of be into *out; reset != 0 zeroes them after reading.
 * CG_ERR_UNSUPPORTED unless be is a CUDA backend (always so in a build without CUDA),
 * CG_ERR_INVAL on NULL arguments. */
cg_status_t cg_backend_cuda_transfer(cg_backend_t *be, cg_backend_cuda_transfer_t *out, int reset);

/* ---- the module's entry points (libcg_cuda.so), as dlsym finds them ---- */

/* Called once per load, before anything else: hands the host's log threshold to the
 * module's own copy of cg_log and returns cg_backend_cuda_abi() as the module was built, so
 * that a module of another build (a stale CG_CUDA_MODULE) is refused, not run. */
typedef uint64_t cg_backend_cuda_init_fn(int32_t log_level);
uint64_t cg_backend_cuda_module_init(int32_t log_level);

/* The CUDA backend's constructor for cg_backend_new: fills *ops and returns its context,
 * or NULL with a message in err (no device: "device=cuda requested but no CUDA device is
 * available: <reason> (hint: ...)"). Initial parameters are cg_policy_new(shape, seed)'s.
 * The context is freed through ops->destroy. */
typedef void *cg_backend_cuda_new_fn(const cg_policy_shape_t *shape, const cg_adam_config_t *adam,
                                     uint64_t seed, const cg_backend_ops_t **ops, char *err,
                                     size_t errlen);
void *cg_backend_cuda_new(const cg_policy_shape_t *shape, const cg_adam_config_t *adam,
                          uint64_t seed, const cg_backend_ops_t **ops, char *err, size_t errlen);

/* Transfer timings of ctx (a context from cg_backend_cuda_new) into *out; reset != 0
 * zeroes them after reading. */
typedef cg_status_t cg_backend_cuda_ctx_transfer_fn(void *ctx, cg_backend_cuda_transfer_t *out,
                                                    int reset);
cg_status_t cg_backend_cuda_ctx_transfer(void *ctx, cg_backend_cuda_transfer_t *out, int reset);

/* A fingerprint of the structures that cross the module boundary (their sizes): differs
 * between builds whose shared types differ in layout size, the usual stale-module case. */
static inline uint64_t cg_backend_cuda_abi(void)
{
    const size_t sizes[] = {sizeof(cg_backend_ops_t), sizeof(cg_policy_shape_t),
                            sizeof(cg_adam_config_t), sizeof(cg_loss_config_t),
                            sizeof(cg_minibatch_t),   sizeof(cg_update_stats_t),
                            sizeof(cg_loss_stats_t),  sizeof(cg_backend_cuda_transfer_t)};
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the sizes */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        h = (h ^ (uint64_t)sizes[i]) * 1099511628211ull;
    return h;
}

#ifdef __cplusplus
}
#endif
#endif
