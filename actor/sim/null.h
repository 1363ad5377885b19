/* null.h: the null simulator's functions, which the sleep simulator reuses (it is null plus
 * a nap per step). Only actor/sim/ includes this. Threading: as cgrpo/sim.h. */
#ifndef CG_SIM_NULL_H
#define CG_SIM_NULL_H

#include "cgrpo/sim.h"

typedef struct cg_sim_null cg_sim_null_t;

int cg_sim_null_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen);
void *cg_sim_null_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err,
                         size_t errlen);
void cg_sim_null_destroy(void *ctx);
void cg_sim_null_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs);
void cg_sim_null_step(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                      uint8_t *done);
void cg_sim_null_result(void *ctx, int32_t i, cg_sim_result_t *out);

#endif
