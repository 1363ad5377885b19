/* cg_backend_cuda: the CUDA backend behind the cg_backend table. Parameters, gradients and
 * Adam moments live on the device (one arena each, laid out as cg_policy's); an update runs
 * forward (cuBLAS sgemm + bias/activation kernels), log-softmax and the clipped-surrogate /
 * k3 KL / entropy loss with its dlogits (one kernel), backward (cuBLAS), the global gradient
 * norm, clipping and Adam (kernels) on one stream; the minibatch goes up through a pinned
 * staging buffer in one asynchronous copy, and the loss statistics come back once per
 * update. It mirrors cg_backend_cpu step for step and is tested against it
 * (tests/test_backend_cuda.c).
 * Not here: backend selection (cg_backend.c), double-buffering of batches (the learner).
 * Threading: one owner thread per backend, like every backend.
 * cg_backend_cuda_transfer is defined in every build (in cg_backend.c); the other functions
 * only in builds with the CUDA toolkit, where CMake compiles cg_backend_cuda.cu. The rest of
 * cgrpo reaches this backend through cg_backend_new. */
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

/* Number of usable CUDA devices (>= 1), or 0 with the CUDA runtime's reason in why (which
 * may be NULL). */
int32_t cg_backend_cuda_device_count(char *why, size_t whylen);

/* The CUDA backend's constructor for cg_backend_new: fills *ops and returns its context,
 * or NULL with a message in err (no device: "device=cuda requested but no CUDA device is
 * available: <reason> (hint: ...)"). Initial parameters are cg_policy_new(shape, seed)'s.
 * The context is freed through ops->destroy. */
void *cg_backend_cuda_new(const cg_policy_shape_t *shape, const cg_adam_config_t *adam,
                          uint64_t seed, const cg_backend_ops_t **ops, char *err, size_t errlen);

/* Transfer timings of ctx (a context from cg_backend_cuda_new) into *out; reset != 0
 * zeroes them after reading. */
cg_status_t cg_backend_cuda_ctx_transfer(void *ctx, cg_backend_cuda_transfer_t *out, int reset);

/* The same for a cg_backend_t: CG_ERR_UNSUPPORTED unless it is a CUDA backend (always so
 * in a build without CUDA), CG_ERR_INVAL on NULL arguments. */
cg_status_t cg_backend_cuda_transfer(cg_backend_t *be, cg_backend_cuda_transfer_t *out, int reset);

#ifdef __cplusplus
}
#endif
#endif
