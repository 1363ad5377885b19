/* cg_env: what the learner knows of the environment, without any simulator: the sizes an
 * actor's data must have, the cost names constraints refer to, the episode cap, and extra
 * metrics columns. The launcher fills it from the simulator layer (actor/sim/cg_sim.h:
 * cg_sim_kind_env), from the registry or a plugin; the learner checks every Hello and every
 * batch against it.
 * Not here: anything that runs a simulator. Threading: plain data. */
#ifndef CG_ENV_H
#define CG_ENV_H

#include <stdint.h>

#include "cg_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_ENV_MAX_METRICS 8

/* The batch statistic an extra metrics column repeats under another name. */
typedef enum {
    CG_ENV_STAT_GOAL_RATE = 1,   /* fraction of episodes with reward >= 1 */
    CG_ENV_STAT_REWARD_MEAN = 2, /* mean episode reward */
} cg_env_stat_t;

typedef struct {
    char sim[CG_NAME_LEN]; /* the simulator's name, as actors report it in Hello */
    int32_t obs_dim;
    int32_t n_actions;  /* discrete actions, or the length of a continuous action vector */
    int32_t continuous; /* 1: actions are vectors of n_actions floats (a Gaussian head) */
    int32_t n_costs;
    char cost_names[CG_MAX_COSTS][CG_NAME_LEN];
    int32_t max_steps; /* longest episode */
    int32_t n_metrics;
    struct {
        char name[CG_NAME_LEN];
        int32_t stat; /* cg_env_stat_t */
    } metrics[CG_ENV_MAX_METRICS];
} cg_env_spec_t;

#ifdef __cplusplus
}
#endif
#endif
