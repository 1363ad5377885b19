/* cg_config: the run's settings, read from an INI file (our own reader) plus `--set
 * section.key=value` overrides. Every key has a default, so an empty file is a valid run (the
 * default constrained gridworld). Unknown sections/keys, bad types and out-of-range values are
 * errors naming the key and file:line (or "--set" for an override).
 * A section that is not one of the fixed ones is a simulator's ([gridworld], [mysim]): its
 * keys are stored as text with their file:line, and checked by the simulator layer
 * (cg_sim_configure), which knows the simulator's key table.
 * Not here: any simulator's name or keys; checking that a constraint name exists in the
 * chosen simulator (the learner does that once it knows the simulator's costs).
 * Threading: a cg_config_t is plain data; fill it on one thread, then share read-only. */
#ifndef CG_CONFIG_H
#define CG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_MAX_LAYERS 8  /* hidden layers of the MLP */
#define CG_MAX_COSTS 8   /* indicator costs a simulator may report */
#define CG_MAX_GROUP 256 /* largest group size G */
#define CG_MAX_ABS_OBS                                                                             \
    1e6f /* largest |observation| (docs/protocol.md): bounds what a                                \
          * group can put into the network */
#define CG_NAME_LEN 64
#define CG_PATH_LEN 1024
#define CG_SIM_ENTRIES 96     /* simulator section keys (and headers) a config holds */
#define CG_SIM_TEXT_LEN 32768 /* bytes of their values and origins */

typedef enum {
    CG_ADV_GRPO = 0,
    CG_ADV_SCALARIZED_REWARDS = 1,
    CG_ADV_SCALARIZED_ADVANTAGES = 2,
} cg_adv_estimator_t;

typedef enum {
    CG_MULT_SOFTMAX = 0,   /* normalised: lambda = softmax(z/T), Adam on z (default) */
    CG_MULT_PROJECTED = 1, /* unnormalised lambda_k >= 0, projected gradient ascent, lambda_R = 1 */
    CG_MULT_PID = 2,       /* PID-Lagrangian */
    CG_MULT_FIXED = 3,     /* frozen at the configured values (fixed-penalty sweeps) */
} cg_mult_kind_t;

typedef enum {
    CG_ANCHOR_PAPER = 0, /* delta = (r - 0.5) / sigma_goal, sigma_goal = 1 / (2 sqrt(C)) */
    CG_ANCHOR_CODE = 1,  /* the authors' code: delta = (r - max(0.5, mean r)) / sqrt(G / 4C) */
} cg_anchor_form_t;

typedef enum {
    CG_ACT_TANH = 0,
    CG_ACT_RELU = 1,
} cg_activation_t;

/* [policy] head: how the network's outputs become actions (cg_policy.h). */
typedef enum {
    CG_HEAD_CATEGORICAL = 0, /* softmax over discrete actions */
    CG_HEAD_GAUSSIAN = 1,    /* diagonal Gaussian over an action vector */
    CG_HEAD_AUTO = 2,        /* the simulator's kind of action decides */
} cg_head_t;

typedef enum {
    CG_DEVICE_AUTO = 0,
    CG_DEVICE_CPU = 1,
    CG_DEVICE_CUDA = 2,
} cg_device_t;

/* [learner] overlap: updates on their own thread (double-buffered batches), or inline. */
typedef enum {
    CG_OVERLAP_AUTO = 0, /* on when the update runs on a GPU, off on the CPU */
    CG_OVERLAP_ON = 1,
    CG_OVERLAP_OFF = 2,
} cg_overlap_t;

/* One line of a simulator's section: "[section]" (key "") or "key = value", with where it
 * came from, so the simulator layer's messages can name file:line. */
typedef struct {
    char section[CG_NAME_LEN];
    char key[CG_NAME_LEN]; /* "" = the section header itself */
    int32_t line;          /* line in origin; 0 = not from a file */
    uint32_t origin;       /* offset in sim_text: a path, "--set", "welcome config" ... */
    uint32_t value;        /* offset in sim_text: the value, rows joined by '\n' */
} cg_config_entry_t;

/* One enforced constraint: the simulator cost it refers to and its threshold d_k. */
typedef struct {
    char name[CG_NAME_LEN];
    float threshold;
    float fixed_lambda; /* used by CG_MULT_FIXED; also the initial lambda of PROJECTED/PID */
} cg_constraint_t;

typedef struct {
    /* [run] */
    uint64_t seed;                /* seed = 1 */
    char run_id[CG_NAME_LEN];     /* run_id = "" -> generated at start */
    char run_dir[CG_PATH_LEN];    /* run_dir = "" -> runs/<timestamp> */
    int32_t iterations;           /* iterations = 150 (policy updates) */
    int32_t checkpoint_every;     /* checkpoint_every = 25 (iterations; 0 = only at exit) */
    bool deterministic;           /* deterministic = false */
    char token_file[CG_PATH_LEN]; /* token_file = "" (file holding the run token; "" = none) */

    /* [sim] */
    char sim[CG_NAME_LEN];        /* name = "" -> the default built-in simulator, or the plugin's */
    char sim_plugin[CG_PATH_LEN]; /* plugin = "" (path of a simulator plugin .so;
                                     docs/simulators.md) */
    int32_t horizon;              /* horizon = 0 -> the simulator's default episode cap */

    /* The simulator's own section(s), [<simulator name>], kept as text: the simulator layer
     * (actor/sim/cg_sim.c) checks them against the simulator's key table; this module only
     * stores, replaces and writes them. */
    int32_t n_sim_entries;
    cg_config_entry_t sim_entries[CG_SIM_ENTRIES];
    uint32_t sim_text_len; /* bytes of sim_text in use */
    char sim_text[CG_SIM_TEXT_LEN];

    /* [policy] */
    int32_t n_hidden; /* hidden = 64,64 */
    int32_t hidden[CG_MAX_LAYERS];
    cg_activation_t activation; /* activation = tanh */
    cg_head_t head;             /* head = auto */
    float log_std_init;         /* log_std_init = -0.5 (Gaussian head) */
    float lr;                   /* lr = 3e-4 */
    float adam_beta1;           /* adam_beta1 = 0.9 */
    float adam_beta2;           /* adam_beta2 = 0.999 */
    float adam_eps;             /* adam_eps = 1e-8 */
    float max_grad_norm;        /* max_grad_norm = 0.5 (0 = no clipping) */

    /* [train] */
    int32_t groups_per_batch;     /* groups = 64 (B) */
    int32_t group_size;           /* group_size = 16 (G) */
    int32_t epochs;               /* epochs = 4 (E) */
    int32_t minibatches;          /* minibatches = 4 */
    float clip;                   /* clip = 0.2 */
    float kl_coef;                /* kl_coef = 0.0 (beta; 0 = no KL term) */
    float ent_coef;               /* ent_coef = 0.0 */
    int32_t max_policy_lag;       /* max_policy_lag = 1 */
    cg_adv_estimator_t estimator; /* estimator = scalarized_advantages */
    float adv_eps;                /* adv_eps = 1e-8 */
    char reference[CG_PATH_LEN];  /* reference = "" (checkpoint for the KL reference; "" = initial
                                     weights) */
    char init[CG_PATH_LEN];       /* init = "" (checkpoint or run directory of the initial
                                     weights, a warm start; "" = random) */

    /* [constraints]  one key per enforced constraint: <cost name> = <threshold>, and
     * optionally <cost name>_lambda = <value> for its fixed_lambda (default 0.1).
     * If the section is never given, the simulator's default constraints apply (the
     * simulator layer adds them, cg_sim_configure). Giving any key replaces them; an
     * empty [constraints] section means none. */
    bool constraints_explicit; /* the list is settled: set by the [constraints] header, any
                                * key in it, --set constraints.*, or finish adding defaults */
    int32_t n_constraints;
    cg_constraint_t constraints[CG_MAX_COSTS];

    /* [multipliers] */
    cg_mult_kind_t mult_kind;        /* kind = softmax */
    float mult_lr;                   /* lr = 0.03 */
    float mult_beta1;                /* beta1 = 0.9 */
    float mult_beta2;                /* beta2 = 0.999 */
    float mult_eps;                  /* eps = 1e-5 */
    float mult_init_logit;           /* init_logit = 0.02 */
    float mult_temperature;          /* temperature = 1.0 */
    float mult_upper;                /* upper = 0 (projected: upper bound on lambda_k, 0 = none) */
    float mult_kp, mult_ki, mult_kd; /* kp = 0.1, ki = 0.01, kd = 0.0 (PID) */
    float fixed_lambda_reward;       /* lambda_reward = 1.0 (fixed kind: lambda_R) */

    /* [stabilisers] */
    int32_t n_temperatures; /* temperatures = "" (none) or a list of length G */
    float temperatures[CG_MAX_GROUP];
    bool dual_anchor;        /* dual_anchor = false */
    cg_anchor_form_t anchor; /* anchor = paper */
    float da_alpha;          /* alpha = 0.2 */
    bool prospect;           /* prospect = false */
    float pt_beta;           /* pt_beta = 0.8 */
    float pt_lambda_pos;     /* pt_lambda_pos = 1.25 */
    float pt_lambda_neg;     /* pt_lambda_neg = 2.0 */
    bool asym_kl;            /* asym_kl = false */
    float kl_neg;            /* kl_neg = 0.025 (beta for A < 0) */
    float kl_pos;            /* kl_pos = 0.01 (beta for A >= 0) */

    /* [sampling] */
    float top_p; /* top_p = 1 (nucleus sampling in rollouts; 1 = off) */

    /* [actor] */
    int32_t actors;          /* actors = 2 (local actors started by `cgrpo train`) */
    int32_t instances;       /* instances = 16 (M simulator instances per actor) */
    int32_t heartbeat_ms;    /* heartbeat_ms = 500 */
    char relay[CG_NAME_LEN]; /* relay = "" (HOST:PORT of a `cgrpo relay`; "" = the learner) */

    /* [learner] */
    char bind_host[CG_NAME_LEN]; /* bind = 127.0.0.1 */
    char advertise[CG_NAME_LEN]; /* advertise = "" -> bind address, or hostname if a wildcard */
    char curve_secret_key[CG_PATH_LEN]; /* curve_secret_key = "" (needed off loopback) */
    char curve_public_key[CG_PATH_LEN]; /* curve_public_key = "" (actors' server key) */
    int32_t port;                 /* port = 0 -> OS picks (base of 3 consecutive ports otherwise) */
    cg_device_t device;           /* device = auto */
    int32_t threads;              /* threads = 0 -> every online core (CPU backend: the update's
                                   * rows split over this many threads) */
    int32_t heartbeat_timeout_ms; /* heartbeat_timeout_ms = 3000 */
    int32_t max_actors;           /* max_actors = 4096 (admitted at once) */
    int32_t hwm;                  /* hwm = 8 (messages queued per socket) */
    cg_overlap_t overlap;         /* overlap = auto (updates on their own thread while the
                                   * next batch is ingested: double-buffered batches) */
    int64_t max_msg_bytes;        /* max_msg_bytes = 67108864 */
    int32_t max_inbound_mb;       /* max_inbound_mb = 512 (memory guard; 0 = off) */
    int32_t max_steps_per_episode; /* max_episode_steps = 1024 (cap checked on ingest) */
} cg_config_t;

/* Fills every field with its default. */
void cg_config_defaults(cg_config_t *cfg);

/* Reads an INI file on top of cfg's current values. On error, writes a one-line message
 * "path:line: [section] key: problem (hint: ...)" into err and returns CG_ERR_INVAL
 * (CG_ERR_IO if the file cannot be opened) and leaves cfg unchanged. */
cg_status_t cg_config_load(cg_config_t *cfg, const char *path, char *err, size_t errlen);

/* Reads INI text from memory (`origin` names it in messages). Same contract as load. */
cg_status_t cg_config_load_string(cg_config_t *cfg, const char *text, const char *origin, char *err,
                                  size_t errlen);

/* Applies one "section.key=value" override; messages name "--set section.key". */
cg_status_t cg_config_set(cg_config_t *cfg, const char *assignment, char *err, size_t errlen);

/* Call once after all loads and overrides (and cg_sim_configure): fills defaults that depend
 * on other keys (generated run_id) and runs cross-field checks (temperatures length ==
 * group_size, minibatches <= groups, ...); the message names the keys involved. */
cg_status_t cg_config_finish(cg_config_t *cfg, char *err, size_t errlen);

/* Writes the full effective configuration as INI (every key), so it can be loaded back
 * and reproduces cfg exactly. */
cg_status_t cg_config_write(const cg_config_t *cfg, const char *path);

/* Credit flow's window: the groups in the learner's filling batch plus those granted and not
 * yet arrived, max(1, max_policy_lag) batches (docs/protocol.md, "Credit flow"). */
static inline int64_t cg_config_credit_window(const cg_config_t *cfg)
{
    return (int64_t)cfg->groups_per_batch * (cfg->max_policy_lag > 0 ? cfg->max_policy_lag : 1);
}
/* Messages the GroupBatch queue holds each way (actor's PUSH, learner's PULL): an actor's whole
 * credit window (at worst a group per message) and at least [learner] hwm, so that granted
 * groups are rolled out and queued while an update runs instead of blocking the actor. */
static inline int32_t cg_config_data_hwm(const cg_config_t *cfg)
{
    const int64_t w = cg_config_credit_window(cfg);
    return w > cfg->hwm ? (w < 1000000 ? (int32_t)w : 1000000) : cfg->hwm;
}

/* ---- simulator sections (for the simulator layer) ---- */

/* The entry of [section] key (key "" = the header), or NULL. */
const cg_config_entry_t *cg_config_sim_find(const cg_config_t *cfg, const char *section,
                                            const char *key);
static inline const char *cg_config_sim_value(const cg_config_t *cfg, const cg_config_entry_t *e)
{
    return cfg->sim_text + e->value;
}
static inline const char *cg_config_sim_origin(const cg_config_t *cfg, const cg_config_entry_t *e)
{
    return cfg->sim_text + e->origin;
}
/* Adds or replaces [section] key = value (key "" records the header). CG_ERR_TOOBIG with a
 * message ("problem (hint: ...)", the caller names the key) when the store is full. */
cg_status_t cg_config_sim_put(cg_config_t *cfg, const char *section, const char *key,
                              const char *value, const char *origin, int32_t line, char *err,
                              size_t errlen);
/* Removes [section] key if present. */
void cg_config_sim_remove(cg_config_t *cfg, const char *section, const char *key);
/* "[run] [sim] ... [learner]": the fixed sections, for hints. */
void cg_config_sections(char *buf, size_t n);

/* Parses names used in the INI file; return CG_ERR_INVAL on unknown names. */
cg_status_t cg_config_parse_estimator(const char *s, cg_adv_estimator_t *out);
const char *cg_config_estimator_name(cg_adv_estimator_t e);

#ifdef __cplusplus
}
#endif
#endif
