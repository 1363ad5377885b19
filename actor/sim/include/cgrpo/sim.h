/* cgrpo/sim.h: the simulator ABI of cgrpo (version 2: continuous actions), the one header a
 * simulator needs, whether it is compiled into cgrpo (actor/sim/) or built outside the tree as a
 * plugin: cc -shared -fPIC mysim.c $(pkg-config --cflags cgrpo) -o libmysim.so cgrpo train --set
 * sim.plugin=./libmysim.so A simulator is one table (cg_sim_table_t): its name, its own config keys
 * (the [<name>] section, parsed and range-checked by cgrpo before the simulator sees them), a
 * describe that gives the sizes from the config alone, and a batched step over many instances. A
 * plugin exports one function, cg_sim_plugin(), returning its table; cgrpo checks the
 * table's abi_version and struct_size at load, then every size describe reports, and every
 * observation, reward and cost the simulator writes (docs/simulators.md).
 * Self-contained on purpose: only the C standard library, no other cgrpo header.
 * Threading: cgrpo calls a simulator's functions from one thread at a time. */
#ifndef CGRPO_SIM_H
#define CGRPO_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_SIM_ABI_VERSION 2u

#define CG_SIM_MAX_COSTS 8       /* indicator costs per episode */
#define CG_SIM_NAME_LEN 64       /* bytes of a name, with its NUL */
#define CG_SIM_MAX_OBS 65536     /* largest obs_dim */
#define CG_SIM_MAX_ABS_OBS 1e6f  /* largest |observation value|: scale larger ones down */
#define CG_SIM_MAX_ACTIONS 65536 /* largest n_actions */
#define CG_SIM_MAX_STEPS 1000000 /* largest max_steps */
#define CG_SIM_MAX_KEYS 32       /* keys of a simulator's config section */
#define CG_SIM_MAX_TEXT 4096     /* bytes of a string or text value, with its NUL */

/* ---- config keys: the [<name>] section ---- */

typedef enum {
    CG_SIM_INT = 1,    /* an integer in [lo, hi] */
    CG_SIM_FLOAT = 2,  /* a finite number in [lo, hi] */
    CG_SIM_BOOL = 3,   /* true/false, 1/0, yes/no, on/off */
    CG_SIM_STRING = 4, /* one line, at most CG_SIM_MAX_TEXT - 1 bytes */
    CG_SIM_TEXT = 5,   /* several rows: indented continuation lines in the INI file (where a
                        * line starting with '#' is text, not a comment) or rows separated by
                        * '/' (so --set can give them); trimmed, the empty ones dropped, and
                        * joined by '\n' before the simulator sees them */
} cg_sim_key_type_t;

typedef struct {
    const char *name; /* 1..63 of [a-z0-9_] */
    int32_t type;     /* cg_sim_key_type_t */
    const char *def;  /* the default, spelled as in a config file: "24", "0.1", "true", "" */
    double lo, hi;    /* CG_SIM_INT / CG_SIM_FLOAT: inclusive range; unused otherwise */
    const char *help; /* one line: what it means, for error hints and docs/config.md */
} cg_sim_key_t;

/* One parsed value; which member holds it follows the key's type. */
typedef struct {
    int64_t i;     /* CG_SIM_INT, CG_SIM_BOOL (0 or 1) */
    double f;      /* CG_SIM_FLOAT */
    const char *s; /* CG_SIM_STRING, CG_SIM_TEXT; valid only during the call it is passed to */
} cg_sim_value_t;

/* What describe and create get: the section's values, checked, and the shared settings. */
typedef struct {
    const cg_sim_value_t *values; /* (n_keys) in the table's key order */
    int32_t horizon;              /* [sim] horizon: episode cap, 0 = the simulator's default */
} cg_sim_params_t;

/* ---- sizes and results ---- */

typedef struct {
    int32_t obs_dim;   /* 1..CG_SIM_MAX_OBS */
    int32_t n_actions; /* 1..CG_SIM_MAX_ACTIONS: discrete actions 0..n_actions-1, or with
                        * continuous = 1 the length of an action vector */
    int32_t n_costs;   /* 0..CG_SIM_MAX_COSTS */
    char cost_names[CG_SIM_MAX_COSTS][CG_SIM_NAME_LEN]; /* distinct, of [A-Za-z0-9_] */
    /* The [constraints] a config without that section enforces: cost k with threshold
     * default_threshold[k] in [0, 1]; a negative value = not enforced unless configured. */
    float default_threshold[CG_SIM_MAX_COSTS];
    int32_t max_steps; /* 1..CG_SIM_MAX_STEPS: no episode is longer */
    /* 0: discrete actions (the table's step); 1: continuous, each action a vector of
     * n_actions floats (the table's step_continuous), which the policy's Gaussian head
     * samples without bounds: the simulator clips each to its own range. */
    int32_t continuous;
} cg_sim_info_t;

/* What an episode earned, read by result() once step() reported it done. */
typedef struct {
    float reward;                 /* finite */
    float cost[CG_SIM_MAX_COSTS]; /* indicators: each exactly 0 or 1 */
    int32_t n_checks;             /* verifiable checks C of the episode (dual anchor); 0 = n/a */
    int32_t success;              /* 1 = goal reached / all checks met */
} cg_sim_result_t;

/* Extra per-iteration metrics columns the learner can compute from the batch it trains on:
 * `name` is another name for the given statistic (instruct: "hsr" = the goal rate). */
typedef enum {
    CG_SIM_STAT_GOAL_RATE = 1,   /* fraction of episodes with reward >= 1 */
    CG_SIM_STAT_REWARD_MEAN = 2, /* mean episode reward */
} cg_sim_stat_t;

typedef struct {
    const char *name; /* metrics column, 1..63 of [a-z0-9_] */
    int32_t stat;     /* cg_sim_stat_t */
} cg_sim_metric_t;

/* ---- the table ---- */

typedef struct cg_sim_table {
    uint32_t abi_version; /* CG_SIM_ABI_VERSION */
    uint32_t struct_size; /* sizeof(cg_sim_table_t) */
    const char *name;     /* 1..63 of [a-z0-9_]; also the name of its config section */
    const char *help;     /* one line */
    const cg_sim_key_t *keys;
    int32_t n_keys; /* 0..CG_SIM_MAX_KEYS */

    /* The sizes, from the config alone (no instances). 0, or -1 with a message in err naming
     * the key and ending in "(hint: ...)". */
    int (*describe)(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen);
    /* n >= 1 instances, their random streams derived from seed (each instance its own, so a
     * run replays). NULL with a message in err on failure. A table whose create, destroy,
     * reset, step and result are all NULL describes an environment stepped outside cgrpo
     * (actors written elsewhere run it, e.g. Python actors): cgrpo's own actors refuse it. */
    void *(*create)(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err, size_t errlen);
    void (*destroy)(void *ctx); /* NULL-safe */
    /* Starts an episode on instance i from the initial state init_seed determines (all
     * members of a group get the same one) and writes its first observation (obs_dim floats;
     * every observation value finite and within +-CG_SIM_MAX_ABS_OBS). */
    void (*reset)(void *ctx, int32_t i, uint64_t init_seed, float *obs);
    /* One step of the n running instances idx[0..n): instance idx[k] takes actions[k]
     * (0..n_actions-1), writes its next observation at obs + idx[k] * obs_dim (obs holds all
     * instances' rows) and done[k] = 1 when its episode is over (then result() is valid).
     * NULL for a continuous simulator (step_continuous instead). */
    void (*step)(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                 uint8_t *done);
    /* The finished episode of instance i. */
    void (*result)(void *ctx, int32_t i, cg_sim_result_t *out);

    /* Optional (NULL / 0 when absent). */
    const cg_sim_metric_t *metrics;
    int32_t n_metrics;
    /* `cgrpo eval`: the initial state of the i-th evaluation episode (a held-out set); NULL =
     * states drawn from the evaluation seed. */
    uint64_t (*eval_seed)(const cg_sim_params_t *p, int64_t i);
    /* `cgrpo eval` tallies: begin returns a tally (NULL = none); episode is called for each
     * finished evaluation episode with the simulator's context and instance (0, or -1 with
     * a message: the evaluation stops); report adds to the output (json: more members of the
     * JSON object, each starting with ','; else lines of text); end frees the tally. */
    void *(*eval_begin)(const cg_sim_params_t *p);
    int (*eval_episode)(void *tally, void *ctx, int32_t i, const cg_sim_result_t *res, char *err,
                        size_t errlen);
    void (*eval_report)(void *tally, int json, FILE *out);
    void (*eval_end)(void *tally);
    /* A continuous simulator's step (info.continuous = 1; then step is NULL): as step, with
     * instance idx[k]'s action the n_actions floats at actions + k * n_actions, finite but
     * unbounded (clip them to the simulator's range). NULL for a discrete simulator. */
    void (*step_continuous)(void *ctx, int32_t n, const int32_t *idx, const float *actions,
                            float *obs, uint8_t *done);
    /* Optional, for `cgrpo eval --trace FILE`: writes lines describing instance i after its
     * t-th step of the episode (t = 0: just reset; then also what a picture of the episode
     * needs, e.g. its layout), each starting with a keyword. NULL: no trace. */
    void (*eval_trace)(void *ctx, int32_t i, int32_t t, FILE *out);
} cg_sim_table_t;

/* A plugin's one exported symbol. */
#define CG_SIM_PLUGIN_SYMBOL "cg_sim_plugin"
typedef const cg_sim_table_t *(*cg_sim_plugin_fn)(void);
#if defined(__GNUC__)
#define CG_SIM_EXPORT __attribute__((visibility("default")))
#else
#define CG_SIM_EXPORT
#endif

#ifdef __cplusplus
}
#endif
#endif
