/* cg_rollout: the actor's hot loop. Runs groups of G episodes on a batch of M simulator
 * instances with one batched policy forward per step, and hands finished groups out in the
 * wire layout (cg_msg_groups_t) without copying.
 * Each group shares one init_seed drawn from the rollout's own RNG; member j of a group is
 * sampled at temperature tau_j (1.0 without a schedule) and records the log-prob at T=1.
 * Episodes go to free instances in order, so M < G (a group in waves), M == G and M > G
 * (several groups in flight) all work. Buffers are grow-only arenas: after warm-up a step
 * allocates nothing. Same seed, simulator seed and weights -> identical groups.
 * Not here: sockets, message encoding (cg_actor, cg_msg). Threading: one owner thread; the
 * simulator and policy it borrows must not be used by anyone else while it runs. */
#ifndef CG_ROLLOUT_H
#define CG_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "cg_msg.h"
#include "cg_policy.h"
#include "cg_sim.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_rollout cg_rollout_t;

typedef struct {
    int32_t group_size;        /* G, 1..CG_MAX_GROUP */
    int32_t n_temperatures;    /* 0 (all members at 1.0) or G */
    const float *temperatures; /* (n_temperatures), each > 0; copied */
    uint64_t seed;             /* init seeds and the per-instance sampling RNGs */
    float top_p;               /* nucleus sampling, (0, 1]; 0 is taken as 1 (off) */
} cg_rollout_opts_t;

typedef struct {
    uint64_t steps;    /* environment steps (one per instance per batched step) */
    uint64_t episodes; /* finished episodes */
    uint64_t groups;   /* finished groups */
    uint64_t forwards; /* batched policy forwards */
} cg_rollout_stats_t;

/* Borrows sim and policy (both must outlive the rollout; the caller destroys them). The
 * policy's obs_dim/n_actions must match the simulator's. NULL + err on a bad option or a
 * shape mismatch. Caller destroys the rollout. */
cg_rollout_t *cg_rollout_new(cg_sim_t *sim, cg_policy_t *policy, const cg_rollout_opts_t *opts,
                             char *err, size_t errlen);
void cg_rollout_destroy(cg_rollout_t **self_p);

/* ---- driving ---- */

/* The policy version the next steps are sampled with (the caller has just copied new
 * weights into the policy). A group's policy_version is the oldest version of its steps. */
void cg_rollout_set_version(cg_rollout_t *self, uint64_t version);
/* How many more groups may be started: -1 (default) = unlimited, 0 = finish what is in
 * flight and start nothing. Deterministic collection sets it to the quota per version. */
void cg_rollout_set_budget(cg_rollout_t *self, int64_t groups);
int64_t cg_rollout_budget(const cg_rollout_t *self);

/* One batched step: starts episodes on free instances (new groups while the budget allows),
 * one policy forward over all running instances, samples, and one batched simulator step of
 * them all. Returns the number of groups that finished in this step (0 also when there was
 * nothing to run), or a negative cg_status_t when the simulator broke a rule (its message:
 * cg_sim_error; nothing it produced after that is handed out). */
int32_t cg_rollout_step(cg_rollout_t *self);

/* Groups started and not yet finished. */
int32_t cg_rollout_in_flight(const cg_rollout_t *self);
/* Finished groups not yet taken. */
int32_t cg_rollout_n_ready(const cg_rollout_t *self);

/* Drops every group in flight and every finished group not taken (e.g. after the learner
 * restarted from an older version); instances restart on the next step. Taken groups stay
 * valid until release. */
void cg_rollout_discard(cg_rollout_t *self);

/* ---- output ---- */

/* Hands out up to max_groups finished groups (oldest first) whose estimated encoded size
 * stays within max_bytes (0 = no limit; at least one group is always taken) as a
 * cg_msg_groups_t: group_size, n_costs, obs_dim, n_actions, n_groups, groups and
 * policy_version (oldest of the taken groups) are filled; actor_id and seq are 0 for the
 * caller to set. The arrays belong to the rollout and stay valid, untouched by later steps,
 * until cg_rollout_release; take may not be called again before that. Returns n_groups
 * (0: nothing ready, out->groups NULL). */
int32_t cg_rollout_take(cg_rollout_t *self, int32_t max_groups, size_t max_bytes,
                        cg_msg_groups_t *out);
/* Returns the taken groups' buffers to the rollout for reuse. */
void cg_rollout_release(cg_rollout_t *self);

/* ---- introspection ---- */

void cg_rollout_stats(const cg_rollout_t *self, cg_rollout_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
