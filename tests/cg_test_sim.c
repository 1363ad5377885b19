/* cg_test_sim: checked simulator calls for the suites (cg_test_sim.h). */
#include "cg_test_sim.h"

#include <CUnit/CUnit.h>
#include <stdio.h>

void cg_test_sim_reset(cg_sim_t *sim, int32_t i, uint64_t init_seed, float *obs)
{
    cg_status_t rc = cg_sim_reset(sim, i, init_seed, obs);
    if (rc != CG_OK)
        fprintf(stderr, "cg_sim_reset: %s\n", cg_sim_error(sim));
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
}

int cg_test_sim_step(cg_sim_t *sim, int32_t i, int32_t action, float *obs)
{
    int rc = cg_sim_step(sim, i, action, obs);
    if (rc < 0)
        fprintf(stderr, "cg_sim_step: %s\n", cg_sim_error(sim));
    CU_ASSERT_FATAL(rc == 0 || rc == 1);
    return rc;
}

void cg_test_sim_result(cg_sim_t *sim, int32_t i, cg_sim_result_t *out)
{
    cg_status_t rc = cg_sim_result(sim, i, out);
    if (rc != CG_OK)
        fprintf(stderr, "cg_sim_result: %s\n", cg_sim_error(sim));
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
}
