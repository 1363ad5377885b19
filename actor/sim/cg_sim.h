/* cg_sim: cgrpo's side of the simulator seam (the ABI itself is cgrpo/sim.h). It finds the
 * simulator a config chooses, built in (the registry in cg_sim.c) or a plugin .so ([sim]
 * plugin, loaded with dlopen, ABI checked), checks the config's simulator sections against
 * the simulator's key table, and runs instances, checking every size, observation, reward and
 * cost the simulator hands back, so a broken simulator fails its actor with a message that
 * names it and the rule, and never sends corrupt data.
 *   cg_sim_configure   config side: chosen simulator resolved, its keys checked and defaults
 *                      filled in, its default constraints applied (launcher and actor)
 *   cg_sim_kind_t      a resolved simulator: table, parsed values, sizes (describe)
 *   cg_sim_t           n running instances of a kind
 * Broken invariants of the caller abort (CG_ASSERT): i or action out of range, step on an
 * instance that is not running, result before its episode ended. A simulator breaking a rule
 * is a status with a message (cg_sim_error), the instance set unusable from then on.
 * Threading: one owner thread per cg_sim_t; a kind is read-only once made. */
#ifndef CG_SIM_H
#define CG_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "cg_config.h"
#include "cg_env.h"
#include "cg_status.h"
#include "cgrpo/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the config side ---- */

/* Resolves cfg's simulator, checks every simulator section (the chosen one's and any
 * built-in one's; other sections are unknown), writes the chosen simulator's every key into
 * cfg (defaults filled in, text values normalised) and its name into [sim] name, makes a
 * plugin path absolute, adds the simulator's default constraints when the config gives no
 * [constraints], and checks the episode cap against [learner] max_episode_steps. Call after
 * loads and --set, before cg_config_finish. Messages name file:line (or --set) and end in a
 * hint. */
cg_status_t cg_sim_configure(cg_config_t *cfg, char *err, size_t errlen);

/* ---- a resolved simulator ---- */

typedef struct cg_sim_kind cg_sim_kind_t;

/* The simulator cfg chooses, its section parsed (missing keys take their defaults) and
 * described. NULL + err on failure. */
cg_sim_kind_t *cg_sim_kind_new(const cg_config_t *cfg, char *err, size_t errlen);
void cg_sim_kind_destroy(cg_sim_kind_t **self_p);

const char *cg_sim_kind_name(const cg_sim_kind_t *self);
const cg_sim_info_t *cg_sim_kind_info(const cg_sim_kind_t *self);
const cg_sim_table_t *cg_sim_kind_table(const cg_sim_kind_t *self);
const cg_sim_params_t *cg_sim_kind_params(const cg_sim_kind_t *self);
/* "plugin /abs/libx.so" or "built-in": for messages. */
const char *cg_sim_kind_origin(const cg_sim_kind_t *self);
/* 1 if cgrpo's actors can run it; 0 for an environment stepped outside cgrpo (a table without
 * create, e.g. `external`): cg_sim_create then refuses, with a hint. */
int cg_sim_kind_runs_here(const cg_sim_kind_t *self);
/* What the learner needs: sizes, cost names, cap, extra metrics columns. */
void cg_sim_kind_env(const cg_sim_kind_t *self, cg_env_spec_t *out);

/* ---- instances ---- */

typedef struct cg_sim cg_sim_t;

/* n >= 1 instances of kind (borrowed: it must outlive them). NULL + err on failure. */
cg_sim_t *cg_sim_create(const cg_sim_kind_t *kind, int32_t n, uint64_t seed, char *err,
                        size_t errlen);
/* The same from a config: resolves its simulator (owned by the instances). */
cg_sim_t *cg_sim_new(const cg_config_t *cfg, int32_t n, uint64_t seed, char *err, size_t errlen);
void cg_sim_destroy(cg_sim_t **self_p);

const cg_sim_info_t *cg_sim_info(const cg_sim_t *self);
const char *cg_sim_name(const cg_sim_t *self);
int32_t cg_sim_n_instances(const cg_sim_t *self);
const cg_sim_kind_t *cg_sim_kind(const cg_sim_t *self);
/* The simulator's own context, for its eval hooks. */
void *cg_sim_context(const cg_sim_t *self);

/* Starts an episode on instance i; obs gets its first observation (obs_dim floats). */
cg_status_t cg_sim_reset(cg_sim_t *self, int32_t i, uint64_t init_seed, float *obs);
/* One batched step of the running instances idx[0..n) (distinct): actions[k] for idx[k];
 * obs (n_instances, obs_dim) gets their rows, done[k] their end flags. */
cg_status_t cg_sim_step_batch(cg_sim_t *self, int32_t n, const int32_t *idx, const int32_t *actions,
                              float *obs, uint8_t *done);
/* The same for a continuous simulator (info->continuous): actions (n, n_actions) finite. */
cg_status_t cg_sim_step_batch_continuous(cg_sim_t *self, int32_t n, const int32_t *idx,
                                         const float *actions, float *obs, uint8_t *done);
/* One instance: obs (obs_dim) gets its next observation. 1 = episode over, 0 = running, a
 * negative cg_status_t when the simulator broke a rule. */
int cg_sim_step(cg_sim_t *self, int32_t i, int32_t action, float *obs);
/* The episode instance i finished. */
cg_status_t cg_sim_result(cg_sim_t *self, int32_t i, cg_sim_result_t *out);
/* The message of the last failure ("" if none). */
const char *cg_sim_error(const cg_sim_t *self);

/* ---- the built-in simulators ---- */

/* Comma-separated names ("gridworld, instruct, null, sleep"); the first is the default. */
const char *cg_sim_names(void);
int32_t cg_sim_builtin_count(void);
const cg_sim_table_t *cg_sim_builtin(int32_t k);

#ifdef __cplusplus
}
#endif
#endif
