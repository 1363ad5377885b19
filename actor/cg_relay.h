/* cg_relay: a broadcast relay (`cgrpo relay`, docs/cluster.md#broadcast-relays). One per node:
 * it subscribes to the learner's Weights stream once and republishes it to that node's actors,
 * so the learner sends each version once per node instead of once per actor. Hello/Welcome,
 * heartbeats and groups stay between each actor and the learner; only Weights are relayed.
 *
 * It says Hello to the learner's control port as a relay (no actor slot: the learner admits
 * its CURVE key to the weights socket and names the weights port in a Welcome), connects an
 * XSUB there (subscribed to everything itself) and forwards to a PUB that actors connect their
 * SUB to, with zmq_proxy on a thread of its own: one way only, so what subscribers send (their
 * subscriptions, or a buggy peer's flood of them) never reaches the learner nor blocks the
 * forwarding. A monitor SUB on its own PUB sees what passes (versions, bytes, `done`).
 * Silent for the learner's heartbeat_timeout_ms, it says Hello again; the Welcome of a learner
 * that came back (resumed, maybe on other ports) reconnects the upstream.
 * Security: with a CURVE learner, the upstream is a CURVE client like an actor (the learner's
 * public key, the run token in the Hello), and the PUB a CURVE server whose keys, and the one
 * client key it admits, derive from the run token (cg_transport_relay_keys).
 * Not here: the command line (launch/cmd_relay.c). Threading: new/run/destroy from one thread;
 * run starts and joins the proxy thread. */
#ifndef CG_RELAY_H
#define CG_RELAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_relay cg_relay_t;

typedef struct {
    const char *host;             /* the learner's control endpoint: host, required */
    int port;                     /* ... and port, 1..65535 */
    const char *bind;             /* interface the actors connect to; NULL = 127.0.0.1 */
    int relay_port;               /* its port; 0 = the OS picks (cg_relay_port) */
    const char *token;            /* run token, NULL or "" = none (required with CURVE) */
    const char *curve_server_key; /* the learner's CURVE public key, NULL or "" = none */
} cg_relay_opts_t;

typedef struct {
    uint64_t weights;   /* Weights messages relayed (seen by the monitor) */
    uint64_t bytes;     /* ... and their bytes */
    uint64_t version;   /* newest version relayed */
    uint64_t welcomes;  /* Welcomes from the learner (1 + re-Hellos after silence) */
    uint64_t upstreams; /* upstream (re)connections */
    int done;           /* the learner said training is over */
} cg_relay_stats_t;

/* Checks opts and binds the actors' port (so cg_relay_port is known before run). NULL + err
 * (ending in a hint) on bad options or a port that does not bind. */
cg_relay_t *cg_relay_new(const cg_relay_opts_t *opts, char *err, size_t errlen);
/* Closes everything. NULL-safe; nulls the caller's pointer. */
void cg_relay_destroy(cg_relay_t **self_p);
/* The port actors connect to. */
int cg_relay_port(const cg_relay_t *self);
/* Relays until the learner says done (then ~2 s more, for the repeats: CG_OK), *stop becomes
 * non-zero (CG_OK within ~100 ms) or the learner refuses it for good (CG_ERR_AUTH and the
 * like, reason logged). Call once. */
cg_status_t cg_relay_run(cg_relay_t *self, volatile sig_atomic_t *stop);
void cg_relay_stats(const cg_relay_t *self, cg_relay_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
