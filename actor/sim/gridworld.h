/* gridworld.h: the gridworld simulator's built-in world, which tests check the design
 * against (the binding proofs in tests/test_sim.c). The simulator itself is the table
 * cg_sim_gridworld (gridworld.c, in cg_sim.c's registry); nothing here runs it.
 * Only actor/sim/ and the tests include this. Threading: constants. */
#ifndef CG_SIM_GRIDWORLD_H
#define CG_SIM_GRIDWORLD_H

#ifdef __cplusplus
extern "C" {
#endif

/* The defaults used where the config leaves [gridworld] map = "" and [sim] horizon,
 * [gridworld] battery, reserve at 0. Tuned together with the default map: docs/simulators.md
 * draws it and explains why both constraints bind on it. */
#define CG_SIM_GRIDWORLD_HORIZON 24
#define CG_SIM_GRIDWORLD_BATTERY 24
#define CG_SIM_GRIDWORLD_RESERVE 17

/* The default map, rows separated by '\n'; a static string, never freed. */
const char *cg_sim_gridworld_default_map(void);

#ifdef __cplusplus
}
#endif
#endif
