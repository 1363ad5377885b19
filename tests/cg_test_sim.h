/* cg_test_sim: the simulator calls of the sim and instruct suites, checked: a call that
 * returns a failure prints the simulator's message (cg_sim_error) and fails the test.
 * Threading: test thread only. */
#ifndef CG_TEST_SIM_H
#define CG_TEST_SIM_H

#include "cg_sim.h"

void cg_test_sim_reset(cg_sim_t *sim, int32_t i, uint64_t init_seed, float *obs);
/* 1 = episode over, 0 = running. */
int cg_test_sim_step(cg_sim_t *sim, int32_t i, int32_t action, float *obs);
void cg_test_sim_result(cg_sim_t *sim, int32_t i, cg_sim_result_t *out);

#endif
