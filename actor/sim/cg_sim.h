/* cg_sim: the simulator interface. A simulator runs a batch of independent instances;
 * each instance has its own RNG (derived from the actor's seed), so a run replays.
 * Episodes of a group start from the same initial state: reset() takes an init_seed that
 * fully determines the initial state ("prompt"); all G members get the same one.
 * To add a simulator: write actor/sim/<name>.c defining a `const cg_sim_vtable_t
 * cg_sim_<name>`, add one line to the registry in actor/sim/cg_sim.c and the file to
 * actor/CMakeLists.txt (docs/simulators.md walks through it).
 * Broken invariants abort (CG_ASSERT): i or action out of range, step on an instance that
 * is not running (never reset, or done and not reset again), result before an episode ended.
 * Threading: one owner thread per simulator. */
#ifndef CG_SIM_H
#define CG_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "cg_config.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t obs_dim;
    int32_t n_actions;
    int32_t n_costs;
    char cost_names[CG_MAX_COSTS][CG_NAME_LEN];
    int32_t max_steps;           /* episode length cap (horizon) */
} cg_sim_info_t;

/* What an episode earned, read once the instance reported done. */
typedef struct {
    float reward;
    float cost[CG_MAX_COSTS];    /* indicators, 0 or 1 */
    int32_t n_checks;            /* verifiable checks C (dual anchor); 0 = not applicable */
    int32_t success;             /* 1 = goal reached / all checks met */
} cg_sim_result_t;

typedef struct cg_sim_vtable {
    const char *name;
    /* Creates n instances. seed seeds the per-instance RNGs. Fills info. NULL + err on a
     * bad config (message names the key). */
    void *(*create)(const cg_config_t *cfg, int32_t n, uint64_t seed, cg_sim_info_t *info,
                    char *err, size_t errlen);
    void (*destroy)(void *ctx);
    /* Starts a new episode on instance i from the initial state drawn from init_seed;
     * writes its first observation obs (obs_dim). */
    void (*reset)(void *ctx, int32_t i, uint64_t init_seed, float *obs);
    /* Applies action to instance i; writes the next observation and returns 1 when the
     * episode is over (then the observation is the terminal one and result() is valid). */
    int (*step)(void *ctx, int32_t i, int32_t action, float *obs);
    /* The finished episode's reward, costs and checks for instance i. */
    void (*result)(void *ctx, int32_t i, cg_sim_result_t *out);
} cg_sim_vtable_t;

typedef struct cg_sim cg_sim_t;

/* Looks up cfg->sim in the registry and creates n instances. NULL + err on failure
 * (unknown name lists the known ones). */
cg_sim_t *cg_sim_new(const cg_config_t *cfg, int32_t n, uint64_t seed, char *err, size_t errlen);
void cg_sim_destroy(cg_sim_t **self_p);

const cg_sim_info_t *cg_sim_info(const cg_sim_t *self);
const char *cg_sim_name(const cg_sim_t *self);
int32_t cg_sim_n_instances(const cg_sim_t *self);
void cg_sim_reset(cg_sim_t *self, int32_t i, uint64_t init_seed, float *obs);
int cg_sim_step(cg_sim_t *self, int32_t i, int32_t action, float *obs);
void cg_sim_result(cg_sim_t *self, int32_t i, cg_sim_result_t *out);

/* Comma-separated list of registered simulator names ("gridworld, null, sleep"). */
const char *cg_sim_names(void);

/* gridworld's built-in defaults, used where the config leaves [gridworld] map = "" and
 * [sim] horizon, [gridworld] battery, reserve at 0. Tuned together with the default map:
 * docs/simulators.md draws it and explains why both constraints bind on it. */
#define CG_SIM_GRIDWORLD_HORIZON 24
#define CG_SIM_GRIDWORLD_BATTERY 24
#define CG_SIM_GRIDWORLD_RESERVE 17
/* The default map, rows separated by '\n'; a static string, never freed. */
const char *cg_sim_gridworld_default_map(void);

#ifdef __cplusplus
}
#endif
#endif
