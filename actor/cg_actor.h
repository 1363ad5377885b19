/* cg_actor: the actor process role (docs/protocol.md). Connects a DEALER to the learner's
 * control port and says Hello (again every heartbeat, backing off to heartbeat_timeout_ms,
 * until a Welcome comes: the learner may not be up yet). From the Welcome it builds the run
 * config, its simulator (M instances), policy and rollout, connects PUSH (groups) and SUB
 * (weights), then rolls out groups and pushes each finished group as a GroupBatch while
 * applying newer Weights between steps. Heartbeats every heartbeat_ms; if nothing is heard
 * from the learner for the config's [learner] heartbeat_timeout_ms (at least two heartbeat
 * periods) it pauses and says Hello until a Welcome arrives (learner restarted, maybe on
 * new data/weights ports). Deterministic runs produce exactly the quota of groups per version
 * with that version only, then wait for the next Weights.
 * Not here: signal handling and process management (launch/), the rollout itself
 * (cg_rollout). Threading: cg_actor_run owns its sockets; call new/run/destroy from one
 * thread at a time (run may be on another thread than new). */
#ifndef CG_ACTOR_H
#define CG_ACTOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cg_config.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_actor cg_actor_t;

typedef struct {
    const char *host;      /* learner host (name or address), required */
    int port;              /* learner control (ROUTER) port, 1..65535 */
    int32_t actor_id;      /* requested id, -1 = let the learner assign one */
    const char *token;     /* run token, NULL or "" = none */
    int32_t hwm;           /* socket queue bound in messages, 0 = the config's [learner] hwm */
    int64_t max_msg_bytes; /* largest message, 0 = the config's [learner] max_msg_bytes */
    int32_t instances;     /* simulator instances M, 0 = the config's [actor] instances */
    const char *curve_server_key; /* the learner's CURVE public key (Z85, `cgrpo keygen`'s
                                   * learner.pub); NULL or "" = no CURVE (loopback learner).
                                   * The actor makes its own key pair for each process. */
    const char *relay; /* "HOST:PORT" of a `cgrpo relay` to take the weights from; NULL or ""
                        * = the run config's [actor] relay (none: from the learner). A relay
                        * of a CURVE learner needs the token (cg_transport_relay_keys). */
    int flood;         /* benchmark of the learner's ingest (`cgrpo scaling --flood`): roll out one
                        * batch, then send it again and again as fast as the learner takes it, each
                        * time with the next seq and the learner's current version, not metered by
                        * credits. Not for training: the learner trains on copies. */
} cg_actor_opts_t;

typedef struct {
    int32_t actor_id; /* -1 before the first Welcome */
    uint64_t version; /* policy version in use */
    uint64_t groups_sent;
    uint64_t batches_sent;
    uint64_t steps; /* environment steps */
    uint64_t weights_applied;
    uint64_t welcomes;        /* Welcomes received (1 + re-snapshots and reconnects) */
    uint64_t rejected;        /* inbound messages that failed validation */
    uint64_t send_blocked;    /* sends that found the PUSH queue full (learner behind) */
    double weights_latency_s; /* last publish -> apply latency, -1 if none yet */
} cg_actor_stats_t;

/* Checks opts and creates the ZeroMQ context; connects nothing yet (run does). Strings are
 * copied. NULL + err (ending in a hint) on bad options. Caller destroys. */
cg_actor_t *cg_actor_new(const cg_actor_opts_t *opts, char *err, size_t errlen);
/* Closes everything. NULL-safe; nulls the caller's pointer. */
void cg_actor_destroy(cg_actor_t **self_p);

/* Runs the protocol until the learner sends done (returns CG_OK), *stop becomes non-zero
 * (returns CG_OK within ~100 ms; sockets closed) or a fatal error: a Welcome whose config
 * does not build, or a simulator whose shape differs from the Welcome's (logged with a
 * hint; returns its status). Call once. */
cg_status_t cg_actor_run(cg_actor_t *self, volatile sig_atomic_t *stop);

/* Counters; read them after run returned (or from run's own thread). */
void cg_actor_stats(const cg_actor_t *self, cg_actor_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
