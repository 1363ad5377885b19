/* gridworld.h: the gridworld simulator's built-in world, which tests check the design
 * against (the binding proofs in tests/test_sim.c). The simulator itself is the table
 * cg_sim_gridworld (gridworld.c, in cg_sim.c's registry); nothing here runs it.
 * Only actor/sim/ and the tests include this. Threading: constants. */
#ifndef CG_SIM_GRIDWORLD_H
#define CG_SIM_GRIDWORLD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The defaults used where the config leaves [gridworld] map = "" and [sim] horizon,
 * [gridworld] battery, reserve at 0. Tuned together with the default map: docs/simulators.md
 * draws it and explains why both constraints bind on it. */
#define CG_SIM_GRIDWORLD_HORIZON 24
#define CG_SIM_GRIDWORLD_BATTERY 24
#define CG_SIM_GRIDWORLD_RESERVE 17

/* A built-in world ([gridworld] layout): its map (rows separated by '\n') and the horizon,
 * battery and reserve that go with it. Static, never freed. */
typedef struct {
    const char *name;
    const char *map;
    int32_t horizon, battery, reserve;
} cg_sim_gridworld_layout_t;

/* The layout called name, or NULL. */
const cg_sim_gridworld_layout_t *cg_sim_gridworld_layout(const char *name);
/* The default layout's map. */
const char *cg_sim_gridworld_default_map(void);

#ifdef __cplusplus
}
#endif
#endif
