/* cg_learner: the learner process role. Binds the control (ROUTER), data (PULL) and weights
 * (PUB) sockets, ingests and validates group batches, drops stale groups, assembles batches
 * of B groups, updates the multipliers, computes advantages, runs E epochs of minibatch
 * updates through the backend, broadcasts each new version, writes metrics and checkpoints.
 * Not here: process management (launch/), the math (common/), running the updates
 * (cg_updater). Threading: one event-loop thread, the one that calls run; with [learner]
 * overlap the updates run on the updater's thread, which borrows what they need (cg_updater.h). */
#ifndef CG_LEARNER_H
#define CG_LEARNER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cg_config.h"
#include "cg_env.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_learner cg_learner_t;

typedef struct {
    const cg_config_t *cfg;   /* finished config (cg_sim_configure, cg_config_finish); copied */
    const cg_env_spec_t *env; /* the simulator's sizes and cost names (cg_sim_kind_env); copied */
    const char *run_dir;      /* created if missing */
    int resume;               /* restore from the latest checkpoint in run_dir */
    const char *token;        /* run token actors must present ("" or NULL: none); required
                               * when [learner] bind is not loopback, together with [learner]
                               * curve_secret_key (the launcher reads [run] token_file) */
    int progress;             /* 1: live progress line on stderr (TTY), 0: log lines */
} cg_learner_opts_t;

/* Sets up the run directory, restores a checkpoint when resuming, builds the backend and
 * binds the sockets. NULL with a message (ending in a hint) in err on failure. */
cg_learner_t *cg_learner_new(const cg_learner_opts_t *opts, char *err, size_t errlen);
void cg_learner_destroy(cg_learner_t **self_p);

/* The control port actors connect to (after new), and the host they connect to: [learner]
 * advertise, else the bind address, or this machine's name when bound to all interfaces.
 * run_dir/endpoint holds "host:port". */
int cg_learner_port(const cg_learner_t *self);
const char *cg_learner_host(const cg_learner_t *self);
const char *cg_learner_run_id(const cg_learner_t *self);

/* Trains until [run] iterations updates are done or *stop becomes non-zero; checkpoints at
 * exit and tells actors that training is over. */
cg_status_t cg_learner_run(cg_learner_t *self, volatile sig_atomic_t *stop);

/* Prints the end-of-run summary (iterations, version, goal rate, cost rates vs thresholds,
 * multipliers, throughput, rejected/stale counts) and writes run_dir/summary.json. */
void cg_learner_summary(cg_learner_t *self, FILE *out);

/* Reads the weights of the latest checkpoint in run_dir/checkpoints into params (n floats;
 * CG_ERR_MISMATCH with a message if the policy size differs). *version may be NULL. */
cg_status_t cg_learner_read_params(const char *run_dir, float *params, size_t n, uint64_t *version,
                                   char *err, size_t errlen);

/* A policy's weights (n_params floats, into dst) from a checkpoint file, or from the latest
 * checkpoint of a run directory, for the key `what` ("[train] init", "[train] reference"):
 * refused, naming both, unless the checkpoint's [policy] hidden, activation and parameter
 * count are those of cfg and n_params. */
cg_status_t cg_learner_load_policy(const cg_config_t *cfg, size_t n_params, const char *what,
                                   const char *path, float *dst, char *err, size_t errlen);

/* The seed of a run's initial weights (cg_policy_new(shape, seed)) unless [train] init names
 * others; they are the KL
 * reference unless [train] reference names a checkpoint. `cgrpo eval` rebuilds them. */
uint64_t cg_learner_init_seed(const cg_config_t *cfg);

/* Counters, for tests and the summary. */
typedef struct {
    uint64_t version;
    int64_t iteration;
    int64_t env_steps;
    int64_t episodes;
    int64_t rejected_msgs;
    int64_t dropped_stale;
    int64_t groups_ingested;
    int32_t actors_alive;
    /* throughput of this process's run (not carried over by --resume) */
    double busy_s;           /* seconds spent in policy updates (+ their broadcast) */
    double run_s;            /* seconds since cg_learner_run started */
    double train_s;          /* seconds from the first update's start to the last broadcast */
    double train_cores;      /* cores the machine kept busy meanwhile (all its processes,
                              * /proc/stat); -1 where unknown */
    double lag_mean;         /* mean policy lag of the groups trained on */
    int64_t data_msgs;       /* group batch messages received (valid or not) */
    int64_t data_bytes;      /* ... and their bytes */
    int64_t data_groups;     /* groups in the valid ones (ingested, stale or not) */
    int64_t latency_samples; /* weight-broadcast latencies reported by heartbeats */
    double latency_p50_s;    /* publish -> actor applies, median of the last 4096; -1 none */
    double latency_p99_s;
} cg_learner_counters_t;
void cg_learner_counters(const cg_learner_t *self, cg_learner_counters_t *out);

#ifdef __cplusplus
}
#endif
#endif
