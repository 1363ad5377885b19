/* cg_learner_impl.h: the learner's state, shared by the files of the learner (not a public
 * header; cg_learner.h is):
 *   cg_learner.c         set-up and teardown, the event loop, the update and the broadcast
 *   cg_learner_actors.c  the actor table and the conversations on the control and data sockets
 *   cg_learner_endpoint.c  the advertised address, CURVE, binding, the memory guard
 *   cg_learner_ckpt.c    the run state in a checkpoint: save, restore, cg_learner_read_params
 *   cg_learner_report.c  metrics rows, the progress line, counters and the summary
 * Threading: the learner's own thread (the updater has its own, cg_updater.h). */
#ifndef CG_LEARNER_IMPL_H
#define CG_LEARNER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "cg_adv.h"
#include "cg_backend.h"
#include "cg_batch.h"
#include "cg_config.h"
#include "cg_env.h"
#include "cg_guard.h"
#include "cg_learner.h"
#include "cg_loss.h"
#include "cg_metrics.h"
#include "cg_msg.h"
#include "cg_mult.h"
#include "cg_policy.h"
#include "cg_rng.h"
#include "cg_transport.h"
#include "cg_updater.h"

/* Failed batches an actor's groups explain before its data is refused for the rest of the run. */
#define CG_LEARNER_QUARANTINE_STRIKES 3
/* Failed updates in a row that no actor's data explains: the training itself diverged, and the
 * run stops. */
#define CG_LEARNER_MAX_UNEXPLAINED 5
#define CG_LEARNER_CKPT_KEEP 3                  /* checkpoints kept in run_dir/checkpoints */
#define CG_LEARNER_CONTROL_MAX_BYTES (64 << 10) /* largest frame taken on the control socket */
#define CG_LEARNER_GUARD_PERIOD_MS 5            /* how often the memory guard looks at RSS */
#define CG_LEARNER_LATENCY_SAMPLES                                                                 \
    4096 /* broadcast latencies kept for the percentiles (a ring)                                  \
          */

typedef struct {
    int32_t id;
    uint8_t identity[CG_IDENTITY_MAX];
    size_t idlen;
    double last_seen; /* monotonic seconds; -INFINITY once it has said it leaves */
    uint64_t applied_version;
    uint64_t groups_sent;
    double latency_s;
    int32_t pid;
    char host[CG_NAME_LEN];
    int32_t credits;     /* 1: follows credit grants (its Hello said so, run not deterministic) */
    int64_t outstanding; /* groups granted and not yet arrived */
    double t_delivered;  /* last time it delivered groups, or was first granted some */
    int32_t defaulted;   /* held grants a heartbeat timeout without delivering: probation */
    uint64_t session;    /* its connection's secret (Welcome.session); its data carries it */
    uint64_t last_seq;   /* the last GroupBatch.seq taken this session ... */
    int32_t has_seq;     /* ... once one was */
    int32_t strikes;     /* failed (non-finite) batches its groups explained */
    int32_t quarantined; /* CG_LEARNER_QUARANTINE_STRIKES reached: its data is dropped */
    int64_t refused_groups; /* groups dropped since */
} cg_learner_actor_t;

struct cg_learner {
    cg_config_t cfg;
    char run_dir[CG_PATH_LEN];
    char ckpt_dir[CG_PATH_LEN + 16];
    char token[CG_NAME_LEN];
    char *config_text; /* run_dir/config.ini, sent in every Welcome */
    int progress;

    /* simulator facts and the enforced-constraint map */
    cg_env_spec_t env; /* sizes, costs, cap, extra metrics: from the launcher */
    int32_t n_enforced;
    int32_t cost_index[CG_MAX_COSTS]; /* enforced k -> simulator cost */

    /* model */
    cg_backend_t *backend;
    cg_policy_t *ref; /* frozen reference policy for the KL term, or NULL */
    float *params;    /* host copy of the current weights (n_params) */
    size_t n_params;
    cg_mult_t *mult;
    float lambda[CG_MAX_COSTS + 1];
    cg_adv_config_t adv;
    cg_loss_config_t loss;
    cg_rng_t rng; /* minibatch shuffles */

    /* data: two batches. Groups arrive into `filling`; an update takes its first B groups
     * after swapping it with the empty `training`, so ingest goes on while it runs. */
    cg_batch_t *filling, *training;
    cg_msg_caps_t caps;

    /* the update in flight (the updater owns backend, ref, rng and training while
     * cg_updater_busy), with what its metrics row needs from its start */
    cg_updater_t *updater;
    cg_update_job_t job;
    cg_batch_stats_t job_stats;
    float job_eff[CG_MAX_COSTS + 1];
    double job_adv_neg;
    double *job_mult;  /* the multipliers' state before it (restored if it fails) */
    double job_t0;     /* when the learner started preparing it */
    double job_wait_s; /* seconds the updater sat idle before it */
    double t_idle;     /* when the updater last became idle */

    /* network */
    cg_transport_t *transport;
    cg_socket_t *control, *data, *weights;
    cg_guard_t *guard; /* memory guard over the three sockets (NULL: off) */
    int port, data_port, weights_port;
    cg_learner_actor_t *actors; /* (cap_actors) the table: live entries and expired ones, whose
                                 * slots and ids are reused; never more than [learner] max_actors */
    int32_t n_actors, cap_actors;
    int secure; /* CURVE on all three sockets, actor keys admitted on hello */
    char curve_secret[CG_CURVE_KEY_LEN + 1];
    char advertise[256]; /* the host actors connect to (run_dir/endpoint) */

    /* throughput (cg_learner_counters; not checkpointed) */
    double busy_s;       /* seconds from an update's preparation to its broadcast */
    double update_max_s; /* the longest of them: data waits that long unread */
    double lag_sum;      /* sum over updates of the batch's mean policy lag */
    int64_t lag_n;
    int64_t data_msgs, data_bytes, data_groups;
    /* the training window, first update's start to the last update's broadcast: its wall
     * clock and the machine's busy CPU seconds (cg_os_cpu_busy_s) at both ends; 0 before */
    double train_t0, train_t1, train_cpu0, train_cpu1;
    double *latency; /* (CG_LEARNER_LATENCY_SAMPLES) publish -> apply, from heartbeats */
    int64_t latency_n;

    /* progress */
    uint64_t version;
    int64_t iteration;
    int64_t env_steps, episodes;
    int64_t rejected, dropped_stale, groups_ingested;
    int64_t dropped_batches;    /* updates that turned non-finite: batch dropped, state kept */
    int64_t missing_batches;    /* group batches skipped by an actor's seq (lost on the way) */
    int64_t quarantined_groups; /* groups refused from quarantined actors */
    int32_t unexplained_in_row; /* failed updates in a row no actor's data explains */
    double wall_offset;         /* wall seconds of earlier runs (resume) */
    double t_start, t_last_iter;
    cg_metrics_t *metrics;
    cg_batch_stats_t last_stats;
    float last_eff[CG_MAX_COSTS + 1];
};

/* ---- cg_learner_actors.c ---- */
/* The actor with this id in the table (live or not), or NULL. */
cg_learner_actor_t *cg_learner_actor_find(cg_learner_t *self, int32_t id);
/* Actors heard from within the heartbeat timeout that have not left. */
int32_t cg_learner_actors_alive(const cg_learner_t *self);
/* Grants every credit-following actor what the current version still needs. */
void cg_learner_credit_all(cg_learner_t *self);
/* Answers everything queued on the control socket (Hello, Heartbeat). */
void cg_learner_drain_control(cg_learner_t *self);
/* Takes every GroupBatch queued on the data socket into the filling batch, or drops it. */
void cg_learner_drain_data(cg_learner_t *self);

/* ---- cg_learner_endpoint.c ---- */
/* Chooses the advertised host, sets up CURVE when bound off loopback, creates and binds the
 * control, data and weights sockets and starts the memory guard over them. */
cg_status_t cg_learner_endpoint_open(cg_learner_t *self, char *err, size_t errlen);
/* Stops the memory guard (before the sockets close). NULL-safe on a learner without one. */
void cg_learner_endpoint_stop_guard(cg_learner_t *self);

/* ---- cg_learner_ckpt.c ---- */
/* Writes run_dir/checkpoints/ckpt-<version>.cgck (atomically) and prunes old ones. */
cg_status_t cg_learner_ckpt_save(cg_learner_t *self);
/* Restores the run state from the latest checkpoint of run_dir (a --resume). */
cg_status_t cg_learner_ckpt_restore(cg_learner_t *self, char *err, size_t errlen);

/* ---- cg_learner_report.c ---- */
/* The finished update's row of metrics.csv (t1: its broadcast; dt: since the previous). */
cg_status_t cg_learner_report_row(cg_learner_t *self, const cg_update_job_t *job, double t1,
                                  double dt, int32_t alive);
/* The progress line (a terminal) or log line of the iteration just reported. */
void cg_learner_report_progress(cg_learner_t *self, double dt, int32_t alive);

#endif
