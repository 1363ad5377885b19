/* cg_msg: the wire codec, the only user of protobuf-c types (proto/cgrpo.proto).
 * Encodes C structs to bytes and decodes + validates bytes into C structs. Validation
 * covers protocol version, run id, shape consistency, caps on every size, finiteness of
 * every float and costs in {0,1}; the first problem found is returned as a status and
 * described in err. Never aborts on input.
 * Not here: sockets (cg_transport). Threading: pure functions; decoded structs own their
 * arrays (free with cg_msg_free). */
#ifndef CG_MSG_H
#define CG_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "cg_config.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_PROTOCOL_VERSION 3u

typedef enum {
    CG_MSG_NONE = 0,
    CG_MSG_HELLO = 1,
    CG_MSG_WELCOME = 2,
    CG_MSG_GROUPS = 3,
    CG_MSG_WEIGHTS = 4,
    CG_MSG_HEARTBEAT = 5,
    CG_MSG_REFUSAL = 6,
} cg_msg_type_t;

/* The largest behaviour log-density per action dimension a continuous batch may carry: a
 * Gaussian head's log-std is at least -5 (cg_policy.h), so log N <= 5 - log sqrt(2 pi). */
#define CG_MSG_MAX_LOGP_PER_DIM 4.1f
#define CG_REASON_LEN 256 /* bytes of a refusal's reason, with its NUL */

/* Limits applied when decoding; anything larger is CG_ERR_TOOBIG. */
typedef struct {
    size_t max_bytes;       /* whole message */
    int32_t max_groups;     /* groups per batch message */
    int32_t max_group_size; /* G */
    int32_t max_costs;      /* K (<= CG_MAX_COSTS) */
    int32_t max_obs_dim;
    int32_t max_actions;
    int32_t max_steps;  /* steps per episode */
    int64_t max_params; /* floats in a weight vector */
} cg_msg_caps_t;

/* Generous defaults derived from a config (max_msg_bytes, max_episode_steps, CG_MAX_*). */
void cg_msg_caps_from(const cg_config_t *cfg, cg_msg_caps_t *caps);

/* actor -> learner (ROUTER/DEALER): first message of a connection. */
typedef struct {
    int32_t actor_id;
    char host[CG_NAME_LEN];
    int32_t pid;
    char sim[CG_NAME_LEN];
    int32_t obs_dim;
    int32_t n_actions;
    int32_t group_size;
    char token[CG_NAME_LEN]; /* run token; "" when the learner needs none */
    int32_t credits;         /* 1: the actor follows credit grants */
    uint64_t session;        /* the session of its last Welcome, or 0 */
    int32_t relay;           /* 1: a broadcast relay (cgrpo relay), not an actor */
    int32_t continuous_ok;   /* 1: it can roll out continuous actions (a Gaussian head) */
} cg_msg_hello_t;

/* learner -> actor, reply to hello: everything an actor needs to roll out. */
typedef struct {
    int32_t actor_id; /* echoed / assigned */
    uint64_t seed;    /* the actor's seed (derived from the run seed) */
    int32_t group_size;
    int32_t n_temperatures; /* 0 or group_size */
    float *temperatures;    /* (n_temperatures) */
    int32_t obs_dim, n_actions;
    int32_t n_hidden;
    int32_t hidden[CG_MAX_LAYERS];
    int32_t activation; /* cg_activation_t */
    uint64_t version;   /* weights snapshot */
    int64_t n_params;
    float *params;    /* (n_params) */
    int32_t n_lambda; /* K+1 */
    float *lambda;    /* (n_lambda) */
    int32_t heartbeat_ms;
    int32_t deterministic; /* 1: synchronous collection, wait for each new version */
    int32_t quota;         /* deterministic: groups per version for this actor */
    int32_t data_port;     /* learner's PULL port (actor PUSHes groups there) */
    int32_t weights_port;  /* learner's PUB port (actor SUBscribes) */
    char *config_text;     /* full effective config as INI text (NUL-terminated) */
    int32_t credits;       /* 1: start groups only as credited (Heartbeat.credit) */
    uint64_t session;      /* the actor's session key: its group batches carry it */
    int32_t n_costs;       /* the simulator's costs (0: not said) */
    char cost_names[CG_MAX_COSTS][CG_NAME_LEN]; /* (n_costs) in GroupBatch cost order */
    int32_t n_constraints;                      /* n_lambda - 1 when n_costs > 0 */
    int32_t constraints[CG_MAX_COSTS];          /* (n_constraints) cost index of each lambda after
                                                 * lambda_R */
    int32_t max_steps;                          /* episode cap (0: not said) */
    int32_t head;                               /* cg_head_t: categorical or gaussian */
    /* On the wire also activation_name and layout ("mlp"), derived from the fields above. */
} cg_msg_welcome_t;

/* One episode of a group batch. Steps are packed arrays, not a message per step. */
typedef struct {
    float reward;
    float cost[CG_MAX_COSTS]; /* (n_costs) used, each 0 or 1 */
    int32_t length;           /* steps */
    float temperature;
    float *obs;      /* (length, obs_dim) */
    int32_t *action; /* (length) discrete actions; NULL in a continuous batch */
    float *action_f; /* (length, n_actions) continuous actions; NULL in a discrete batch */
    float *logp;     /* (length) behaviour log-prob at temperature 1 */
} cg_msg_episode_t;

typedef struct {
    uint64_t init_seed;         /* shared initial state ("prompt") of the group */
    int32_t n_checks;           /* verifiable checks C of the prompt (dual anchor); 0 = n/a */
    cg_msg_episode_t *episodes; /* (group_size) */
} cg_msg_group_t;

/* actor -> learner (PUSH/PULL): finished groups. */
typedef struct {
    uint64_t policy_version;
    int32_t actor_id;
    uint64_t seq;
    int32_t group_size;
    int32_t n_costs;
    int32_t obs_dim;
    int32_t n_actions;
    int32_t continuous; /* 1: episodes carry action_f, not action */
    int32_t n_groups;
    cg_msg_group_t *groups; /* (n_groups) */
    uint64_t session;       /* the sender's Welcome.session */
    void *block; /* when set, the one malloc block that groups, their episodes and every array
                  * live in (a decoded batch); cg_msg_free frees it alone */
} cg_msg_groups_t;

/* learner -> actors (PUB/SUB): new weights and multipliers. */
typedef struct {
    uint64_t version;
    int64_t n_params;
    float *params;    /* (n_params) */
    int32_t n_lambda; /* K+1 */
    float *lambda;
    float *thresholds;   /* (n_lambda - 1) */
    double publish_time; /* learner wall clock, for broadcast latency */
    int32_t done;        /* 1: training is over, actors exit */
} cg_msg_weights_t;

/* actor -> learner (DEALER): liveness and counters. The learner answers each with a
 * Heartbeat whose applied_version is the learner's current version. */
typedef struct {
    int32_t actor_id;
    uint64_t applied_version;
    uint64_t groups_sent;
    double weights_latency_s; /* last publish -> apply latency seen, or -1 */
    int32_t credit;           /* learner -> actor: more groups it may start; else 0 */
    int32_t leaving;          /* actor -> learner: the actor exits now (0 or 1) */
} cg_msg_heartbeat_t;

/* learner -> actor (ROUTER/DEALER): a Hello or Heartbeat it will not take, and why. */
typedef struct {
    char reason[CG_REASON_LEN];
    int32_t retry; /* 1: may work later; 0: never will as sent */
} cg_msg_refusal_t;

typedef struct {
    cg_msg_type_t type;
    char run_id[CG_NAME_LEN];
    union {
        cg_msg_hello_t hello;
        cg_msg_welcome_t welcome;
        cg_msg_groups_t groups;
        cg_msg_weights_t weights;
        cg_msg_heartbeat_t heartbeat;
        cg_msg_refusal_t refusal;
    } u;
} cg_msg_t;

/* Encodes msg (type and body; protocol version added) into a fresh buffer *out of *len
 * bytes, caller frees with free(). CG_ERR_INVAL if msg is inconsistent. */
cg_status_t cg_msg_encode(const cg_msg_t *msg, uint8_t **out, size_t *len);

/* Decodes and validates bytes. run_id: the expected run id (NULL accepts any, e.g. an actor
 * before its welcome). *msg is overwritten, not freed: cg_msg_free a previous message first.
 * On success *msg owns its arrays (cg_msg_free); each array is its own malloc block, so a
 * consumer may keep one (take the pointer, set the field to NULL) and free() it later,
 * except a group batch's, which may all share u.groups.block (copy what you keep).
 * On failure *msg is left empty (type NONE) and err says what was wrong first. */
cg_status_t cg_msg_decode(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                          const char *run_id, cg_msg_t *msg, char *err, size_t errlen);

/* Frees arrays owned by a decoded message (or one built with every array its own malloc
 * block, or a group batch's block; NULL arrays are skipped) and resets it to type NONE.
 * NULL-safe, idempotent. */
void cg_msg_free(cg_msg_t *msg);

const char *cg_msg_type_name(cg_msg_type_t type);

#ifdef __cplusplus
}
#endif
#endif
