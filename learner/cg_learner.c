/* cg_learner: the learner's event loop (ingest -> batch -> multipliers -> advantages ->
 * update (cg_updater, maybe overlapped with the next ingest) -> broadcast), its actor table,
 * metrics rows and checkpoints. */
#include "cg_learner.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cg_adv.h"
#include "cg_alloc.h"
#include "cg_backend.h"
#include "cg_batch.h"
#include "cg_ckpt.h"
#include "cg_guard.h"
#include "cg_json.h"
#include "cg_log.h"
#include "cg_metrics.h"
#include "cg_msg.h"
#include "cg_mult.h"
#include "cg_os.h"
#include "cg_policy.h"
#include "cg_rng.h"
#include "cg_env.h"
#include "cg_transport.h"
#include "cg_updater.h"

#define S_QUARANTINE_STRIKES                                                                       \
    3 /* failed batches an actor's groups explain before its data                                  \
       * is refused for the rest of the run */
#define S_MAX_UNEXPLAINED                                                                          \
    5 /* failed updates in a row that no actor's data explains: the                                \
       * training itself diverged, and the run stops */
#define S_CKPT_KEEP 3
#define S_CONTROL_MAX_BYTES (64 << 10) /* largest frame taken on the control socket */
#define S_GUARD_PERIOD_MS 5            /* how often the memory guard looks at RSS */
#define S_LATENCY_SAMPLES 4096         /* broadcast latencies kept for the percentiles (a ring) */

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
    int32_t quarantined; /* S_QUARANTINE_STRIKES reached: its data is dropped */
    int64_t refused_groups; /* groups dropped since */
} s_actor_t;

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
    s_actor_t *actors; /* (cap_actors) the table: live entries and expired ones, whose
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
    double *latency; /* (S_LATENCY_SAMPLES) publish -> apply, from heartbeats */
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

/* ---- checkpoints ---------------------------------------------------------------------- */

static cg_status_t s_checkpoint_save(cg_learner_t *self)
{
    char path[CG_PATH_LEN + 64], err[512];
    cg_status_t rc = cg_ckpt_path(self->ckpt_dir, (int64_t)self->version, path, sizeof path);
    if (rc != CG_OK)
        return rc;
    float *m = cg_calloc(self->n_params, sizeof *m);
    float *v = cg_calloc(self->n_params, sizeof *v);
    int64_t steps = 0;
    size_t n_mult = cg_mult_state_size(self->mult);
    double *mult = cg_calloc(n_mult + 1, sizeof *mult);
    cg_ckpt_writer_t *w = cg_ckpt_writer_new();
    rc = cg_backend_get_optim(self->backend, m, v, &steps);
    if (rc != CG_OK)
        goto done;
    cg_mult_state_get(self->mult, mult);
    uint64_t counters_u[2] = {self->version, (uint64_t)self->iteration};
    int64_t counters_i[6] = {self->env_steps,     self->episodes,        self->rejected,
                             self->dropped_stale, self->groups_ingested, steps};
    double wall = self->wall_offset + (cg_os_now() - self->t_start);
    uint64_t rng[2] = {self->rng.state, self->rng.inc};
    if ((rc = cg_ckpt_put_str(w, "run_id", self->cfg.run_id)) ||
        (rc = cg_ckpt_put_str(w, "config", self->config_text)) ||
        (rc = cg_ckpt_put_u64(w, "version_iteration", counters_u, 2)) ||
        (rc = cg_ckpt_put_i64(w, "counters", counters_i, 6)) ||
        (rc = cg_ckpt_put_f64(w, "wall_s", &wall, 1)) || (rc = cg_ckpt_put_u64(w, "rng", rng, 2)) ||
        (rc = cg_ckpt_put_f32(w, "params", self->params, self->n_params)) ||
        (rc = cg_ckpt_put_f32(w, "adam_m", m, self->n_params)) ||
        (rc = cg_ckpt_put_f32(w, "adam_v", v, self->n_params)) ||
        (rc = cg_ckpt_put_f64(w, "multipliers", mult, n_mult)))
        goto done;
    if (self->ref)
        rc = cg_ckpt_put_f32(w, "reference", cg_policy_params(self->ref), self->n_params);
    if (rc == CG_OK)
        rc = cg_ckpt_writer_save(w, path, err, sizeof err);
    if (rc != CG_OK)
        CG_ERROR("checkpoint %s not written: %s", path, err);
    else
        cg_ckpt_prune(self->ckpt_dir, S_CKPT_KEEP, err, sizeof err);
done:
    cg_ckpt_writer_destroy(&w);
    free(m);
    free(v);
    free(mult);
    return rc;
}

static cg_status_t s_checkpoint_restore(cg_learner_t *self, char *err, size_t errlen)
{
    char path[CG_PATH_LEN + 64];
    int64_t ver = -1;
    cg_status_t rc = cg_ckpt_latest(self->ckpt_dir, path, sizeof path, &ver, err, errlen);
    if (rc != CG_OK)
        return rc;
    if (ver < 0) {
        snprintf(err, errlen,
                 "no checkpoint in %s (hint: --resume needs a run directory "
                 "written by an earlier `cgrpo train`)",
                 self->ckpt_dir);
        return CG_ERR_IO;
    }
    cg_ckpt_t *ck = cg_ckpt_load(path, (size_t)1 << 34, &rc, err, errlen);
    if (!ck)
        return rc;
    float *m = cg_calloc(self->n_params, sizeof *m);
    float *v = cg_calloc(self->n_params, sizeof *v);
    size_t n_mult = cg_mult_state_size(self->mult);
    double *mult = cg_calloc(n_mult + 1, sizeof *mult);
    char *run_id = NULL;
    uint64_t cu[2], rng[2];
    int64_t ci[6];
    double wall = 0;
    if ((rc = cg_ckpt_get_str(ck, "run_id", &run_id, err, errlen)))
        goto done;
    if (strcmp(run_id, self->cfg.run_id)) {
        snprintf(err, errlen,
                 "checkpoint %s belongs to run '%s', not '%s' (hint: resume the "
                 "run directory the checkpoint was written in)",
                 path, run_id, self->cfg.run_id);
        rc = CG_ERR_MISMATCH;
        goto done;
    }
    cg_ckpt_dtype_t dtype;
    uint64_t count = 0;
    if ((rc = cg_ckpt_info(ck, "params", &dtype, &count, err, errlen)))
        goto done;
    if (count != self->n_params) {
        snprintf(err, errlen,
                 "checkpoint %s holds a policy of %llu parameters, this config builds "
                 "one of %zu (hint: resume with the run's own config.ini; [policy] hidden, "
                 "activation and the simulator must not change)",
                 path, (unsigned long long)count, self->n_params);
        rc = CG_ERR_MISMATCH;
        goto done;
    }
    if ((rc = cg_ckpt_get_u64(ck, "version_iteration", cu, 2, err, errlen)) ||
        (rc = cg_ckpt_get_i64(ck, "counters", ci, 6, err, errlen)) ||
        (rc = cg_ckpt_get_f64(ck, "wall_s", &wall, 1, err, errlen)) ||
        (rc = cg_ckpt_get_u64(ck, "rng", rng, 2, err, errlen)) ||
        (rc = cg_ckpt_get_f32(ck, "params", self->params, self->n_params, err, errlen)) ||
        (rc = cg_ckpt_get_f32(ck, "adam_m", m, self->n_params, err, errlen)) ||
        (rc = cg_ckpt_get_f32(ck, "adam_v", v, self->n_params, err, errlen)) ||
        (rc = cg_ckpt_get_f64(ck, "multipliers", mult, n_mult, err, errlen)))
        goto done;
    if (self->ref && (rc = cg_ckpt_get_f32(ck, "reference", cg_policy_params(self->ref),
                                           self->n_params, err, errlen)))
        goto done;
    if ((rc = cg_mult_state_set(self->mult, mult, n_mult))) {
        snprintf(err, errlen, "checkpoint %s: multiplier state is invalid", path);
        goto done;
    }
    if ((rc = cg_backend_set_params(self->backend, self->params)) ||
        (rc = cg_backend_set_optim(self->backend, m, v, ci[5])))
        goto done;
    self->version = cu[0];
    self->iteration = (int64_t)cu[1];
    self->env_steps = ci[0];
    self->episodes = ci[1];
    self->rejected = ci[2];
    self->dropped_stale = ci[3];
    self->groups_ingested = ci[4];
    self->wall_offset = wall;
    self->rng.state = rng[0];
    self->rng.inc = rng[1] | 1u;
    CG_INFO("resumed from %s: version %llu, iteration %lld", path,
            (unsigned long long)self->version, (long long)self->iteration);
done:
    free(run_id);
    free(m);
    free(v);
    free(mult);
    cg_ckpt_destroy(&ck);
    return rc;
}

/* ---- setup ---------------------------------------------------------------------------- */

uint64_t cg_learner_init_seed(const cg_config_t *cfg)
{
    return cg_rng_mix64(cfg->seed ^ 0x6d6f64656cULL);
}

/* [train] reference: the KL reference's weights from a checkpoint file, or from the latest
 * checkpoint of a run directory. (A resumed run then restores the same weights from its
 * own checkpoint.) */
static cg_status_t s_load_reference(cg_learner_t *self, char *err, size_t errlen)
{
    const char *path = self->cfg.reference;
    float *dst = cg_policy_params(self->ref);
    struct stat st;
    cg_status_t rc;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = cg_learner_read_params(path, dst, self->n_params, NULL, err, errlen);
    } else {
        cg_ckpt_t *ck = cg_ckpt_load(path, (size_t)1 << 34, &rc, err, errlen);
        if (ck)
            rc = cg_ckpt_get_f32(ck, "params", dst, self->n_params, err, errlen);
        cg_ckpt_destroy(&ck);
    }
    if (rc != CG_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "[train] reference: %s", why); /* why ends with a hint */
        return rc;
    }
    CG_INFO("KL reference: %s", path);
    return CG_OK;
}

static cg_status_t s_map_constraints(cg_learner_t *self, char *err, size_t errlen)
{
    self->n_enforced = self->cfg.n_constraints;
    for (int32_t k = 0; k < self->cfg.n_constraints; k++) {
        int found = -1;
        for (int32_t c = 0; c < self->env.n_costs; c++)
            if (!strcmp(self->cfg.constraints[k].name, self->env.cost_names[c]))
                found = c;
        if (found < 0) {
            char names[CG_MAX_COSTS * (CG_NAME_LEN + 2)] = "";
            for (int32_t c = 0; c < self->env.n_costs; c++) {
                strcat(names, c ? ", " : "");
                strcat(names, self->env.cost_names[c]);
            }
            snprintf(err, errlen,
                     "[constraints] %s: simulator '%s' has no such cost (hint: its "
                     "costs are: %s)",
                     self->cfg.constraints[k].name, self->env.sim,
                     self->env.n_costs ? names : "none");
            return CG_ERR_INVAL;
        }
        self->cost_index[k] = found;
    }
    return CG_OK;
}

static int s_is_loopback(const char *host)
{
    return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strcmp(host, "[::1]");
}

/* The host actors on other machines connect to: [learner] advertise, else the bind address,
 * or this machine's name when bound to every interface. */
static void s_advertise(cg_learner_t *self)
{
    const char *b = self->cfg.bind_host;
    if (self->cfg.advertise[0]) {
        snprintf(self->advertise, sizeof self->advertise, "%s", self->cfg.advertise);
    } else if (!strcmp(b, "*") || !strcmp(b, "0.0.0.0") || !strcmp(b, "::") || !strcmp(b, "[::]")) {
        if (gethostname(self->advertise, sizeof self->advertise - 1) != 0)
            snprintf(self->advertise, sizeof self->advertise, "localhost");
    } else {
        snprintf(self->advertise, sizeof self->advertise, "%s", b);
    }
}

/* Off loopback the learner requires CURVE keys and a run token (docs/cluster.md); with keys
 * configured it uses CURVE on loopback too. Starts the authenticator. */
static cg_status_t s_security(cg_learner_t *self, char *err, size_t errlen)
{
    const cg_config_t *c = &self->cfg;
    int loopback = s_is_loopback(c->bind_host);
    if (loopback && !c->curve_secret_key[0])
        return CG_OK;
    if (!loopback && (!c->curve_secret_key[0] || !self->token[0])) {
        snprintf(err, errlen,
                 "[learner] bind = %s is reachable from other machines, so the learner "
                 "requires CURVE keys and a run token; %s is not set (hint: `cgrpo keygen DIR`, "
                 "then --set learner.curve_secret_key=DIR/learner.key --set "
                 "learner.curve_public_key=DIR/learner.pub --set run.token_file=DIR/token; or "
                 "bind 127.0.0.1 for a run on one machine)",
                 c->bind_host,
                 !c->curve_secret_key[0] ? "[learner] curve_secret_key" : "the run token");
        return CG_ERR_AUTH;
    }
    if (!cg_transport_has_curve()) {
        snprintf(err, errlen,
                 "this libzmq was built without CURVE (zmq_has(\"curve\") is false) "
                 "(hint: install a libzmq built with libsodium, such as Debian's libzmq5, or bind "
                 "127.0.0.1 and set no keys)");
        return CG_ERR_UNSUPPORTED;
    }
    char pub[CG_CURVE_KEY_LEN + 1], want[CG_CURVE_KEY_LEN + 1];
    CG_TRY(cg_transport_curve_read_key(c->curve_secret_key, self->curve_secret, err, errlen));
    CG_TRY(cg_transport_curve_public(self->curve_secret, pub));
    if (c->curve_public_key[0]) {
        CG_TRY(cg_transport_curve_read_key(c->curve_public_key, want, err, errlen));
        if (strcmp(pub, want)) {
            snprintf(err, errlen,
                     "[learner] curve_public_key %s is not the public key of "
                     "curve_secret_key %s (hint: give both files of one `cgrpo keygen` directory)",
                     c->curve_public_key, c->curve_secret_key);
            return CG_ERR_MISMATCH;
        }
    }
    if (cg_transport_auth_start(self->transport) != CG_OK) {
        snprintf(err, errlen, "cannot start the CURVE authenticator (hint: see the error above)");
        return CG_ERR_ZMQ;
    }
    self->secure = 1;
    CG_INFO("CURVE on: server key %s; actors need it and the run token", pub);
    return CG_OK;
}

/* The memory guard (cg_guard.h) watches the three sockets from before they bind, so that it
 * sees every connection. */
static cg_status_t s_guard_start(cg_learner_t *self, char *err, size_t errlen)
{
    if (self->cfg.max_inbound_mb <= 0)
        return CG_OK;
    cg_socket_t *socks[3] = {self->control, self->data, self->weights}, *watches[3] = {0};
    for (int i = 0; i < 3; i++)
        if (cg_transport_watch(socks[i], &watches[i]) != CG_OK) {
            for (int j = 0; j <= i; j++) {
                cg_transport_unwatch(socks[j]);
                cg_transport_close(&watches[j]);
            }
            snprintf(err, errlen,
                     "memory guard: cannot watch the sockets (the log names the "
                     "ZeroMQ error) (hint: set [learner] max_inbound_mb = 0 to run without it)");
            return CG_ERR_ZMQ;
        }
    self->guard = cg_guard_new(watches, 3, (int64_t)self->cfg.max_inbound_mb << 20,
                               S_GUARD_PERIOD_MS, err, errlen);
    if (!self->guard) {
        for (int i = 0; i < 3; i++)
            cg_transport_unwatch(socks[i]);
        return CG_ERR_INVAL;
    }
    CG_INFO("memory guard: learner RSS %lld MiB; connections are cut above %lld MiB "
            "([learner] max_inbound_mb = %d)",
            (long long)(cg_guard_rss_bytes() >> 20),
            (long long)(cg_guard_limit_bytes(self->guard) >> 20), self->cfg.max_inbound_mb);
    return CG_OK;
}

static void s_guard_stop(cg_learner_t *self)
{
    if (!self->guard)
        return;
    cg_transport_unwatch(self->control); /* first: the guard reads what they report */
    cg_transport_unwatch(self->data);
    cg_transport_unwatch(self->weights);
    cg_guard_destroy(&self->guard);
}

static cg_status_t s_bind(cg_learner_t *self, char *err, size_t errlen)
{
    cg_socket_opts_t opts = {self->cfg.hwm, self->cfg.max_msg_bytes};
    /* What actors send on the control socket (Hello, Heartbeat) is under a kilobyte: a
     * larger frame there drops the connection, so a peer queues at most hwm x 64 KiB. */
    cg_socket_opts_t control_opts = {self->cfg.hwm, S_CONTROL_MAX_BYTES};
    self->control = cg_transport_socket(self->transport, CG_SOCK_ROUTER, &control_opts);
    self->data = cg_transport_socket(self->transport, CG_SOCK_PULL, &opts);
    self->weights = cg_transport_socket(self->transport, CG_SOCK_PUB, &opts);
    if (!self->control || !self->data || !self->weights) {
        snprintf(err, errlen, "cannot create ZeroMQ sockets");
        return CG_ERR_ZMQ;
    }
    if (self->secure &&
        (cg_transport_curve_server(self->control, self->curve_secret, CG_AUTH_OPEN) ||
         cg_transport_curve_server(self->data, self->curve_secret, CG_AUTH_ADMITTED) ||
         cg_transport_curve_server(self->weights, self->curve_secret, CG_AUTH_ADMITTED))) {
        snprintf(err, errlen, "cannot make the sockets CURVE servers (hint: see the error above)");
        return CG_ERR_ZMQ;
    }
    CG_TRY(s_guard_start(self, err, errlen));
    /* Resume on the port of the earlier run when the config lets the OS pick, so running
     * actors find the restarted learner without being restarted themselves. */
    int want = self->cfg.port;
    char path[CG_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/endpoint", self->run_dir);
    if (want == 0) {
        char *text = cg_os_read_file(path, NULL);
        const char *colon = text ? strrchr(text, ':') : NULL;
        if (colon && cg_transport_bind(self->control, self->cfg.bind_host, atoi(colon + 1),
                                       &self->port) == CG_OK)
            want = self->port;
        free(text);
    }
    if (!self->port && cg_transport_bind(self->control, self->cfg.bind_host, want, &self->port)) {
        snprintf(err, errlen,
                 "cannot bind the control socket on %s:%d (hint: pick a free "
                 "[learner] port or 0)",
                 self->cfg.bind_host, want);
        return CG_ERR_ZMQ;
    }
    int dport = self->cfg.port ? self->cfg.port + 1 : 0,
        wport = self->cfg.port ? self->cfg.port + 2 : 0;
    if (cg_transport_bind(self->data, self->cfg.bind_host, dport, &self->data_port) ||
        cg_transport_bind(self->weights, self->cfg.bind_host, wport, &self->weights_port)) {
        snprintf(err, errlen,
                 "cannot bind the data/weights sockets on %s (hint: [learner] "
                 "port P uses P, P+1 and P+2)",
                 self->cfg.bind_host);
        return CG_ERR_ZMQ;
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s:%d\n", self->advertise, self->port);
        fclose(f);
    }
    return CG_OK;
}

cg_learner_t *cg_learner_new(const cg_learner_opts_t *opts, char *err, size_t errlen)
{
    cg_learner_t *self = cg_calloc(1, sizeof *self);
    self->cfg = *opts->cfg;
    self->progress = opts->progress;
    snprintf(self->token, sizeof self->token, "%s", opts->token ? opts->token : "");
    snprintf(self->run_dir, sizeof self->run_dir, "%s", opts->run_dir);
    snprintf(self->ckpt_dir, sizeof self->ckpt_dir, "%s/checkpoints", self->run_dir);
    char path[CG_PATH_LEN + 32];
    if (cg_os_mkdir_p(self->ckpt_dir, 0755)) {
        snprintf(err, errlen, "cannot create %s: %s (hint: choose a writable --run-dir)",
                 self->ckpt_dir, strerror(errno));
        goto fail;
    }

    /* The environment's sizes and cost names, as the launcher found them (no simulator here). */
    CG_ASSERT(opts->env);
    self->env = *opts->env;
    if (self->env.obs_dim < 1 || self->env.n_actions < 1 || self->env.n_costs < 0 ||
        self->env.n_costs > CG_MAX_COSTS || self->env.n_metrics < 0 ||
        self->env.n_metrics > CG_ENV_MAX_METRICS) {
        snprintf(err, errlen,
                 "environment spec of '%s' is invalid (obs_dim %d, %d actions, %d "
                 "costs) (hint: a bug in the launcher)",
                 self->env.sim, self->env.obs_dim, self->env.n_actions, self->env.n_costs);
        goto fail;
    }
    if (self->env.max_steps > self->cfg.max_steps_per_episode) {
        snprintf(err, errlen,
                 "simulator %s runs episodes of up to %d steps, above [learner] "
                 "max_episode_steps = %d (hint: raise max_episode_steps)",
                 self->env.sim, self->env.max_steps, self->cfg.max_steps_per_episode);
        goto fail;
    }
    if (s_map_constraints(self, err, errlen))
        goto fail;

    cg_policy_shape_t shape = {.obs_dim = self->env.obs_dim,
                               .n_actions = self->env.n_actions,
                               .n_hidden = self->cfg.n_hidden,
                               .activation = self->cfg.activation};
    memcpy(shape.hidden, self->cfg.hidden, sizeof shape.hidden);
    cg_adam_config_t adam = {self->cfg.lr, self->cfg.adam_beta1, self->cfg.adam_beta2,
                             self->cfg.adam_eps, self->cfg.max_grad_norm};
    uint64_t model_seed = cg_learner_init_seed(&self->cfg);
    self->backend = cg_backend_new(self->cfg.device, &shape, &adam, model_seed, err, errlen);
    if (!self->backend)
        goto fail;
    int32_t threads = self->cfg.threads;
    if (threads == 0) { /* every online core: the actors mostly wait on the learner */
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online < 1 ? 1 : online > 64 ? 64 : (int32_t)online;
    }
    if (cg_backend_set_threads(self->backend, threads, err, errlen) != CG_OK)
        goto fail;
    if (!strcmp(cg_backend_name(self->backend), "cpu"))
        CG_INFO("updates split over %d threads ([learner] threads)", threads);
    self->n_params = cg_backend_n_params(self->backend);
    self->params = cg_calloc(self->n_params, sizeof *self->params);
    if (cg_backend_get_params(self->backend, self->params)) {
        snprintf(err, errlen, "backend %s: cannot read parameters", cg_backend_name(self->backend));
        goto fail;
    }
    if (self->cfg.kl_coef > 0 || self->cfg.asym_kl) {
        self->ref = cg_policy_new(&shape, model_seed);
        memcpy(cg_policy_params(self->ref), self->params, self->n_params * sizeof(float));
        if (self->cfg.reference[0] && s_load_reference(self, err, errlen) != CG_OK)
            goto fail;
    }
    self->mult = cg_mult_new(&self->cfg);
    if (!self->mult) {
        snprintf(err, errlen, "invalid [multipliers] settings");
        goto fail;
    }
    self->job_mult = cg_calloc(cg_mult_state_size(self->mult), sizeof(double));
    cg_adv_config_from(&self->cfg, &self->adv);
    self->loss = (cg_loss_config_t){self->cfg.clip, self->cfg.kl_coef, self->cfg.ent_coef};
    cg_rng_seed(&self->rng, self->cfg.seed, 0x6c6561726e6572ULL);
    self->filling = cg_batch_new(self->cfg.group_size, self->env.n_costs, self->env.obs_dim);
    self->training = cg_batch_new(self->cfg.group_size, self->env.n_costs, self->env.obs_dim);
    cg_msg_caps_from(&self->cfg, &self->caps);

    self->latency = cg_calloc(S_LATENCY_SAMPLES, sizeof *self->latency);

    if (opts->resume && s_checkpoint_restore(self, err, errlen))
        goto fail;
    /* Written only now, so a refused resume leaves the run directory as it was. */
    snprintf(path, sizeof path, "%s/config.ini", self->run_dir);
    if (cg_config_write(&self->cfg, path) != CG_OK ||
        !(self->config_text = cg_os_read_file(path, NULL))) {
        snprintf(err, errlen, "cannot write %s (hint: choose a writable --run-dir)", path);
        goto fail;
    }
    cg_mult_lambda(self->mult, self->lambda);

    self->metrics = cg_metrics_open(self->run_dir, err, errlen);
    if (!self->metrics)
        goto fail;
    self->transport = cg_transport_new();
    if (!self->transport) {
        snprintf(err, errlen, "cannot start ZeroMQ");
        goto fail;
    }
    /* Overlap pays where the update leaves the host's cores free (docs/performance.md). */
    const int overlap =
        self->cfg.overlap == CG_OVERLAP_ON || (self->cfg.overlap == CG_OVERLAP_AUTO &&
                                               strcmp(cg_backend_name(self->backend), "cpu") != 0);
    self->updater =
        cg_updater_new(self->transport, self->backend, self->ref, &self->rng, overlap, err, errlen);
    if (!self->updater)
        goto fail;
    s_advertise(self);
    if (s_security(self, err, errlen) || s_bind(self, err, errlen))
        goto fail;
    CG_INFO("learner %s: run %s, backend %s%s, %zu parameters, control port %d (data %d, "
            "weights %d)",
            self->run_dir, self->cfg.run_id, cg_backend_name(self->backend),
            cg_updater_socket(self->updater) ? " (overlapped updates)" : "", self->n_params,
            self->port, self->data_port, self->weights_port);
    return self;
fail:
    cg_learner_destroy(&self);
    return NULL;
}

void cg_learner_destroy(cg_learner_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_learner_t *self = *self_p;
    cg_updater_destroy(&self->updater); /* first: it may still be using what follows */
    s_guard_stop(self);
    cg_transport_close(&self->control);
    cg_transport_close(&self->data);
    cg_transport_close(&self->weights);
    cg_transport_destroy(&self->transport);
    cg_metrics_close(&self->metrics);
    cg_batch_destroy(&self->filling);
    cg_batch_destroy(&self->training);
    cg_mult_destroy(&self->mult);
    free(self->job_mult);
    cg_policy_destroy(&self->ref);
    cg_backend_destroy(&self->backend);
    free(self->params);
    free(self->actors);
    free(self->latency);
    free(self->config_text);
    memset(self->curve_secret, 0, sizeof self->curve_secret);
    free(self);
    *self_p = NULL;
}

int cg_learner_port(const cg_learner_t *self)
{
    return self->port;
}
const char *cg_learner_host(const cg_learner_t *self)
{
    return self->advertise;
}
const char *cg_learner_run_id(const cg_learner_t *self)
{
    return self->cfg.run_id;
}

/* ---- actors and messages ---------------------------------------------------------------- */

static void s_count_rejected(cg_learner_t *self, const char *where, cg_status_t rc, const char *err)
{
    self->rejected++;
    if (self->rejected <= 10 || self->rejected % 1000 == 0)
        CG_WARN("rejected %s message #%lld: %s: %s", where, (long long)self->rejected,
                cg_status_str(rc), err);
}

static s_actor_t *s_actor_find(cg_learner_t *self, int32_t id)
{
    for (int32_t i = 0; i < self->n_actors; i++)
        if (self->actors[i].id == id)
            return &self->actors[i];
    return NULL;
}

/* Heard from within the heartbeat timeout, and not gone (its leaving heartbeat). */
static int s_actor_live(const cg_learner_t *self, const s_actor_t *a, double now)
{
    return isfinite(a->last_seen) && now - a->last_seen < self->cfg.heartbeat_timeout_ms / 1000.0;
}

static int32_t s_actors_alive(const cg_learner_t *self)
{
    double now = cg_os_now();
    int32_t alive = 0;
    for (int32_t i = 0; i < self->n_actors; i++)
        alive += s_actor_live(self, &self->actors[i], now);
    return alive;
}

/* The live entry of the control connection `identity`, or NULL. */
static s_actor_t *s_actor_of(cg_learner_t *self, const uint8_t *identity, size_t idlen, double now)
{
    for (int32_t i = 0; i < self->n_actors; i++) {
        s_actor_t *a = &self->actors[i];
        if (a->idlen == idlen && !memcmp(a->identity, identity, idlen) &&
            s_actor_live(self, a, now))
            return a;
    }
    return NULL;
}

/* A key only the actor's connection knows (never 0): its group batches must carry it. */
static uint64_t s_new_session(void)
{
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) { /* no entropy source: still unique */
        static uint64_t counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 48) ^
            ++counter * 0x9e3779b97f4a7c15ULL;
    }
    return x ? x : 1;
}

/* Answers a Hello or Heartbeat the learner will not take with a Refusal saying why (retry:
 * it may work later), and counts it as rejected. */
static void s_refuse(cg_learner_t *self, const uint8_t *identity, size_t idlen, cg_status_t rc,
                     int retry, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void s_refuse(cg_learner_t *self, const uint8_t *identity, size_t idlen, cg_status_t rc,
                     int retry, const char *fmt, ...)
{
    cg_msg_t out = {.type = CG_MSG_REFUSAL};
    snprintf(out.run_id, sizeof out.run_id, "%s", self->cfg.run_id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out.u.refusal.reason, sizeof out.u.refusal.reason, fmt, ap);
    va_end(ap);
    out.u.refusal.retry = retry;
    (void)cg_transport_send(self->control, identity, idlen, &out);
    s_count_rejected(self, "control", rc, out.u.refusal.reason);
}

/* A slot for a new entry: a free one (expired or gone) if any, else a new one while the
 * table is under [learner] max_actors; NULL when it is full of live actors. */
static s_actor_t *s_actor_slot(cg_learner_t *self, double now)
{
    for (int32_t i = 0; i < self->n_actors; i++)
        if (!s_actor_live(self, &self->actors[i], now))
            return &self->actors[i];
    if (self->n_actors >= self->cfg.max_actors)
        return NULL;
    if (self->n_actors == self->cap_actors) {
        int32_t cap = self->cap_actors ? 2 * self->cap_actors : 16;
        if (cap > self->cfg.max_actors)
            cap = self->cfg.max_actors;
        self->actors = cg_realloc(self->actors, (size_t)cap, sizeof *self->actors);
        self->cap_actors = cap;
    }
    s_actor_t *a = &self->actors[self->n_actors++];
    memset(a, 0, sizeof *a);
    a->last_seen = -INFINITY;
    return a;
}

/* The lowest id no live actor holds. */
static int32_t s_free_id(cg_learner_t *self, double now)
{
    const int32_t n = self->n_actors;
    uint8_t *taken = cg_calloc((size_t)n + 1, 1);
    for (int32_t i = 0; i < n; i++) {
        const s_actor_t *a = &self->actors[i];
        if (a->id >= 0 && a->id <= n && s_actor_live(self, a, now))
            taken[a->id] = 1;
    }
    int32_t id = 0;
    while (taken[id])
        id++;
    free(taken);
    return id;
}

/* Credit flow. The groups in the filling batch plus those granted and not yet arrived are
 * kept at the window W = max(1, max_policy_lag) batches: a group granted now is then trained
 * on within max_policy_lag versions, never dropped as stale, and actors produce the next
 * batch while an update runs. Each credit-following actor is granted up to its share,
 * ceil(W / n) of the n alive. Grants go out when an update starts (with max_policy_lag 0:
 * once it has published, so that nothing is sampled with the old weights), and when an
 * actor's groups or heartbeat arrive (its top-up after drops; dead actors' grants go to the
 * living). An actor gone silent holds nothing. One that has held grants for a heartbeat
 * timeout without delivering a group (stuck, or hostile) loses them and is on probation, one
 * group at a time outside the window, until it delivers: it cannot stall the batch. */
static void s_credit(cg_learner_t *self, s_actor_t *a)
{
    if (!a->credits || a->quarantined)
        return;
    const double now = cg_os_now(), timeout = self->cfg.heartbeat_timeout_ms / 1000.0;
    const int32_t lag = self->cfg.max_policy_lag > 0 ? self->cfg.max_policy_lag : 1;
    const int64_t window = (int64_t)self->cfg.groups_per_batch * lag;
    int32_t n = 0;
    int64_t outstanding = 0;
    for (int32_t i = 0; i < self->n_actors; i++) {
        s_actor_t *o = &self->actors[i];
        if (!o->credits || o->quarantined)
            continue;
        if (now - o->last_seen >= timeout)
            o->outstanding = 0;
        else if (o->outstanding > 0 && !o->defaulted &&
                 now - o->t_delivered >= timeout + 2 * self->update_max_s) {
            /* (twice the longest update: groups sent meanwhile wait unread in the queue) */
            o->outstanding = 0; /* took grants and delivered nothing: on probation */
            o->defaulted = 1;
            CG_WARN("actor %d held credits for %.1f s without delivering a group: its grants "
                    "go to the others until it delivers",
                    o->id, now - o->t_delivered);
        }
        if (now - o->last_seen < timeout && !o->defaulted) {
            n++;
            outstanding += o->outstanding;
        }
    }
    int64_t want;
    if (a->defaulted) {
        want = 1 - a->outstanding; /* probation: one group at a time, outside the window */
    } else {
        if (n == 0)
            return;
        const int64_t share = (window + n - 1) / n;
        const int64_t room = window - cg_batch_n_groups(self->filling) - outstanding;
        want = share - a->outstanding;
        if (want > room)
            want = room;
    }
    if (want > (1 << 20))
        want = 1 << 20; /* one grant's cap (cg_msg); the rest comes with the next */
    if (want <= 0)
        return;
    cg_msg_t out = {.type = CG_MSG_HEARTBEAT};
    snprintf(out.run_id, sizeof out.run_id, "%s", self->cfg.run_id);
    out.u.heartbeat = (cg_msg_heartbeat_t){.actor_id = a->id,
                                           .applied_version = self->version,
                                           .weights_latency_s = -1,
                                           .credit = (int32_t)want};
    if (cg_transport_send(self->control, a->identity, a->idlen, &out) == CG_OK) {
        if (a->outstanding == 0)
            a->t_delivered = now; /* the clock of this grant starts now */
        a->outstanding += want;
    }
}

static void s_credit_all(cg_learner_t *self)
{
    for (int32_t i = 0; i < self->n_actors; i++)
        s_credit(self, &self->actors[i]);
}

static uint64_t s_actor_seed(const cg_learner_t *self, int32_t id)
{
    return cg_rng_mix64(self->cfg.seed ^ cg_rng_mix64(0x6163746f72ULL + (uint64_t)id));
}

static int32_t s_actor_quota(const cg_learner_t *self, int32_t id)
{
    int32_t n = self->cfg.actors > 0 ? self->cfg.actors : 1, B = self->cfg.groups_per_batch;
    if (id < 0 || id >= n)
        return 0;
    return B / n + (id < B % n);
}

static void s_on_hello(cg_learner_t *self, const uint8_t *identity, size_t idlen,
                       const cg_msg_t *in)
{
    const cg_msg_hello_t *h = &in->u.hello;
    if (in->run_id[0] && strcmp(in->run_id, self->cfg.run_id)) {
        s_refuse(self, identity, idlen, CG_ERR_RUN_ID, 0,
                 "hello from actor %d of run '%.64s': this learner runs '%s' (hint: connect "
                 "to that run's learner)",
                 h->actor_id, in->run_id, self->cfg.run_id);
        return;
    }
    if (self->token[0] && strcmp(h->token, self->token)) {
        s_refuse(self, identity, idlen, CG_ERR_AUTH, 0,
                 "hello from actor %d (pid %d) with a wrong run token (hint: give the actor the "
                 "run's [run] token_file)",
                 h->actor_id, h->pid);
        return;
    }
    if ((h->obs_dim && h->obs_dim != self->env.obs_dim) ||
        (h->n_actions && h->n_actions != self->env.n_actions) ||
        (h->group_size && h->group_size != self->cfg.group_size) ||
        (h->sim[0] && strcmp(h->sim, self->env.sim))) {
        s_refuse(self, identity, idlen, CG_ERR_SHAPE, 0,
                 "hello from actor %d: simulator %s obs %d actions %d G %d does not match this "
                 "run's %s obs %d actions %d G %d",
                 h->actor_id, h->sim, h->obs_dim, h->n_actions, h->group_size, self->env.sim,
                 self->env.obs_dim, self->env.n_actions, self->cfg.group_size);
        return;
    }
    /* Token accepted: this connection's CURVE key may now open the data and weights sockets. */
    if (self->secure &&
        cg_transport_auth_admit(self->transport, cg_transport_peer_key(self->control))) {
        s_refuse(self, identity, idlen, CG_ERR_AUTH, 0,
                 "hello from actor %d (pid %d) without a CURVE client key", h->actor_id, h->pid);
        return;
    }
    /* Identity: one control connection is one actor. A connection that holds a live entry
     * keeps it (a second Hello asks for a snapshot). Another connection gets a live actor's
     * id only with that actor's session key (the same actor, reconnected); otherwise an
     * expired entry, or a new one while the table has room. */
    const double now = cg_os_now();
    s_actor_t *a = s_actor_of(self, identity, idlen, now);
    if (!a) {
        int32_t id = h->actor_id >= 0 ? h->actor_id : s_free_id(self, now);
        a = s_actor_find(self, id);
        if (a && s_actor_live(self, a, now) && !(h->session && h->session == a->session)) {
            s_refuse(self, identity, idlen, CG_ERR_PROTO, 1,
                     "actor id %d is held by a live actor (host %s, pid %d); it frees %d ms after "
                     "that actor's last heartbeat (hint: start without --id for a free one)",
                     id, a->host, a->pid, self->cfg.heartbeat_timeout_ms);
            return;
        }
        if (!a || !(h->session && h->session == a->session)) {
            if (!a && !(a = s_actor_slot(self, now))) {
                s_refuse(self, identity, idlen, CG_ERR_TOOBIG, 1,
                         "the learner holds [learner] max_actors = %d live actors (hint: raise "
                         "it, or wait for one to leave)",
                         self->cfg.max_actors);
                return;
            }
            *a = (s_actor_t){.id = id, .session = s_new_session()}; /* a new actor */
        }
        memcpy(a->identity, identity, idlen);
        a->idlen = idlen;
        a->outstanding = 0; /* a new connection: whatever was granted before is gone */
        a->defaulted = 0;
    }
    const int32_t id = a->id;
    a->last_seen = now;
    a->pid = h->pid;
    snprintf(a->host, sizeof a->host, "%s", h->host);
    a->credits = h->credits && !self->cfg.deterministic;

    cg_msg_t out = {.type = CG_MSG_WELCOME};
    snprintf(out.run_id, sizeof out.run_id, "%s", self->cfg.run_id);
    const cg_policy_shape_t *shape = cg_backend_shape(self->backend);
    cg_msg_welcome_t *w = &out.u.welcome;
    w->actor_id = id;
    w->seed = s_actor_seed(self, id);
    w->group_size = self->cfg.group_size;
    w->n_temperatures = self->cfg.n_temperatures;
    w->temperatures = self->cfg.temperatures;
    w->obs_dim = shape->obs_dim;
    w->n_actions = shape->n_actions;
    w->n_hidden = shape->n_hidden;
    memcpy(w->hidden, shape->hidden, sizeof w->hidden);
    w->activation = (int32_t)shape->activation;
    w->version = self->version;
    w->n_params = (int64_t)self->n_params;
    w->params = self->params;
    w->n_lambda = self->n_enforced + 1;
    w->lambda = self->lambda;
    w->heartbeat_ms = self->cfg.heartbeat_ms;
    w->deterministic = self->cfg.deterministic;
    w->quota = self->cfg.deterministic ? s_actor_quota(self, id) : 0;
    w->data_port = self->data_port;
    w->weights_port = self->weights_port;
    w->config_text = self->config_text;
    w->credits = a->credits;
    w->session = a->session;
    w->n_costs = self->env.n_costs;
    memcpy(w->cost_names, self->env.cost_names, sizeof w->cost_names);
    w->n_constraints = self->n_enforced;
    memcpy(w->constraints, self->cost_index, sizeof w->constraints);
    w->max_steps = self->env.max_steps < self->cfg.max_steps_per_episode
                       ? self->env.max_steps
                       : self->cfg.max_steps_per_episode;
    cg_status_t rc = cg_transport_send(self->control, identity, idlen, &out);
    if (rc != CG_OK)
        CG_WARN("welcome to actor %d not sent: %s", id, cg_status_str(rc));
    else
        CG_INFO("actor %d joined (host %s, pid %d) at version %llu", id, h->host, h->pid,
                (unsigned long long)self->version);
    if (rc == CG_OK)
        s_credit(self, a); /* after the Welcome, on the same connection */
}

static void s_on_heartbeat(cg_learner_t *self, const uint8_t *identity, size_t idlen,
                           const cg_msg_t *in)
{
    const cg_msg_heartbeat_t *hb = &in->u.heartbeat;
    s_actor_t *a = s_actor_find(self, hb->actor_id);
    if (!a || a->idlen != idlen || memcmp(a->identity, identity, idlen) ||
        !isfinite(a->last_seen)) {
        s_refuse(self, identity, idlen, CG_ERR_PROTO, 1,
                 "heartbeat as actor %d from a connection the learner has not admitted (it "
                 "restarted, or the actor's slot expired): say hello",
                 hb->actor_id);
        return;
    }
    if (hb->leaving) { /* exiting: holds nothing, counts as gone from now on */
        a->last_seen = -INFINITY;
        a->outstanding = 0;
        CG_INFO("actor %d (%s pid %d) left", a->id, a->host, a->pid);
        return;
    }
    a->last_seen = cg_os_now();
    /* One latency sample per newly applied version the heartbeat reports. */
    if (hb->applied_version != a->applied_version && hb->weights_latency_s >= 0 &&
        isfinite(hb->weights_latency_s))
        self->latency[self->latency_n++ % S_LATENCY_SAMPLES] = hb->weights_latency_s;
    a->applied_version = hb->applied_version;
    a->groups_sent = hb->groups_sent;
    a->latency_s = hb->weights_latency_s;
    cg_msg_t ack = {.type = CG_MSG_HEARTBEAT};
    snprintf(ack.run_id, sizeof ack.run_id, "%s", self->cfg.run_id);
    ack.u.heartbeat = (cg_msg_heartbeat_t){
        .actor_id = a->id, .applied_version = self->version, .weights_latency_s = -1};
    (void)cg_transport_send(self->control, identity, idlen, &ack);
    s_credit(self, a);
}

static void s_drain_control(cg_learner_t *self)
{
    for (int i = 0; i < 256; i++) {
        cg_msg_t msg;
        uint8_t identity[CG_IDENTITY_MAX];
        size_t idlen = 0;
        char err[256] = "";
        /* Any run id is decoded here; hello checks it itself (first contact has none). */
        cg_status_t rc = cg_transport_recv(self->control, &self->caps, NULL, &msg, identity, &idlen,
                                           NULL, err, sizeof err);
        if (rc == CG_ERR_TIMEOUT)
            return;
        if (rc != CG_OK) {
            s_count_rejected(self, "control", rc, err);
            continue;
        }
        if (msg.type == CG_MSG_HELLO) {
            s_on_hello(self, identity, idlen, &msg);
        } else if (msg.type == CG_MSG_HEARTBEAT && !strcmp(msg.run_id, self->cfg.run_id)) {
            s_on_heartbeat(self, identity, idlen, &msg);
        } else {
            snprintf(err, sizeof err, "unexpected %s on the control socket",
                     cg_msg_type_name(msg.type));
            s_count_rejected(self, "control", CG_ERR_PROTO, err);
        }
        cg_msg_free(&msg);
    }
}

static void s_drain_data(cg_learner_t *self)
{
    /* Bounded work per call so control messages are never starved. */
    /* Groups arriving while an update runs will be trained on from the version it makes. */
    const uint64_t version = self->version + (cg_updater_busy(self->updater) ? 1 : 0);
    for (int i = 0; i < 64 && cg_batch_n_groups(self->filling) < self->cfg.groups_per_batch; i++) {
        cg_msg_t msg;
        char err[256] = "";
        size_t nbytes = 0;
        cg_status_t rc = cg_transport_recv(self->data, &self->caps, self->cfg.run_id, &msg, NULL,
                                           NULL, &nbytes, err, sizeof err);
        if (rc == CG_ERR_TIMEOUT)
            return;
        self->data_msgs++;
        self->data_bytes += (int64_t)nbytes;
        if (rc == CG_OK && msg.type != CG_MSG_GROUPS) {
            snprintf(err, sizeof err, "unexpected %s on the data socket",
                     cg_msg_type_name(msg.type));
            rc = CG_ERR_PROTO;
        }
        if (rc == CG_OK && (msg.u.groups.obs_dim != self->env.obs_dim ||
                            msg.u.groups.n_actions != self->env.n_actions ||
                            msg.u.groups.n_costs != self->env.n_costs ||
                            msg.u.groups.group_size != self->cfg.group_size)) {
            snprintf(err, sizeof err,
                     "group batch of shape obs %d actions %d costs %d G %d "
                     "does not match this run",
                     msg.u.groups.obs_dim, msg.u.groups.n_actions, msg.u.groups.n_costs,
                     msg.u.groups.group_size);
            rc = CG_ERR_SHAPE;
        }
        if (rc != CG_OK) {
            s_count_rejected(self, "data", rc, err);
            cg_msg_free(&msg);
            continue;
        }
        const cg_msg_groups_t *g = &msg.u.groups;
        self->data_groups += g->n_groups;
        s_actor_t *a = s_actor_find(self, g->actor_id);
        if (!a || g->session != a->session) {
            snprintf(err, sizeof err,
                     "group batch as actor %d without that actor's session key "
                     "(not admitted, or from an earlier connection)",
                     g->actor_id);
            s_count_rejected(self, "data", CG_ERR_AUTH, err);
            cg_msg_free(&msg);
            continue;
        }
        if (a->has_seq && g->seq <= a->last_seq) {
            snprintf(err, sizeof err,
                     "group batch seq %llu from actor %d after seq %llu: replayed "
                     "or reordered",
                     (unsigned long long)g->seq, a->id, (unsigned long long)a->last_seq);
            s_count_rejected(self, "data", CG_ERR_PROTO, err);
            cg_msg_free(&msg);
            continue;
        }
        /* cgrpo actors number their batches 1 by 1: a gap is batches lost on the way (a cut
         * connection, a learner restart); other clients may count in larger steps. */
        if (a->has_seq && g->seq - a->last_seq > 1)
            self->missing_batches +=
                (int64_t)(g->seq - a->last_seq - 1 < 1000000 ? g->seq - a->last_seq - 1 : 1000000);
        a->last_seq = g->seq;
        a->has_seq = 1;
        if (a->quarantined) {
            self->quarantined_groups += g->n_groups;
            a->refused_groups += g->n_groups;
            cg_msg_free(&msg);
            continue;
        }
        if (g->policy_version > self->version) {
            s_count_rejected(self, "data", CG_ERR_RANGE,
                             "group batch from a future policy version");
        } else if (self->cfg.deterministic
                       ? g->policy_version != version
                       : g->policy_version + (uint64_t)self->cfg.max_policy_lag < version) {
            self->dropped_stale += g->n_groups;
        } else if (cg_batch_add(self->filling, g) == CG_OK) {
            self->groups_ingested += g->n_groups;
        }
        if (a && isfinite(a->last_seen)) { /* not one that has left (its last groups) */
            a->last_seen = cg_os_now();
            a->outstanding = a->outstanding > g->n_groups ? a->outstanding - g->n_groups : 0;
            a->t_delivered = a->last_seen;
            a->defaulted = 0;
            s_credit(self, a);
        }
        cg_msg_free(&msg);
    }
}

/* ---- the update ------------------------------------------------------------------------- */

static void s_publish(cg_learner_t *self, int done)
{
    cg_msg_t out = {.type = CG_MSG_WEIGHTS};
    snprintf(out.run_id, sizeof out.run_id, "%s", self->cfg.run_id);
    float thresholds[CG_MAX_COSTS];
    const float *d = cg_mult_thresholds(self->mult);
    for (int32_t k = 0; k < self->n_enforced; k++)
        thresholds[k] = d[k];
    out.u.weights = (cg_msg_weights_t){.version = self->version,
                                       .n_params = (int64_t)self->n_params,
                                       .params = self->params,
                                       .n_lambda = self->n_enforced + 1,
                                       .lambda = self->lambda,
                                       .thresholds = thresholds,
                                       .publish_time = cg_os_wall(),
                                       .done = done};
    cg_status_t rc = cg_transport_send(self->weights, NULL, 0, &out);
    if (rc != CG_OK)
        CG_WARN("weights v%llu not published: %s", (unsigned long long)self->version,
                cg_status_str(rc));
}

/* Starts the update of the first B groups of `filling`: swaps the batches (`training` is
 * empty), then statistics, multipliers (once per policy update, before advantages),
 * advantages, and the job to the updater (which runs it now when overlap is off). */
static cg_status_t s_update_start(cg_learner_t *self)
{
    const cg_config_t *c = &self->cfg;
    const int32_t B = c->groups_per_batch;
    self->job_t0 = cg_os_now();
    self->job_wait_s = self->job_t0 - self->t_idle;
    cg_batch_t *batch = self->filling;
    self->filling = self->training;
    self->training = batch;
    if (c->deterministic)
        cg_batch_sort(batch);
    cg_batch_stats(batch, B, self->version, &self->job_stats);

    float rate[CG_MAX_COSTS];
    for (int32_t k = 0; k < self->n_enforced; k++)
        rate[k] = (float)self->job_stats.cost_rate[self->cost_index[k]];
    cg_mult_state_get(self->mult, self->job_mult);
    CG_TRY(cg_mult_update(self->mult, rate));
    cg_mult_lambda(self->mult, self->lambda);
    self->job_adv_neg = 0;
    CG_TRY(cg_batch_advantages(batch, B, &self->adv, self->n_enforced, self->cost_index,
                               self->lambda, c->asym_kl, c->kl_neg, c->kl_pos, self->job_eff,
                               &self->job_adv_neg));
    if (c->max_policy_lag > 0)
        s_credit_all(self); /* the next batch, produced while this one trains */
    self->job = (cg_update_job_t){.batch = batch,
                                  .n_groups = B,
                                  .epochs = c->epochs,
                                  .minibatches = c->minibatches,
                                  .asym_kl = c->asym_kl,
                                  .loss = self->loss};
    return cg_updater_submit(self->updater, &self->job);
}

/* The groups the update leaves behind go first, then what arrived meanwhile; `training`
 * ends empty. Both are judged against the (new) version. */
static void s_batches_next(cg_learner_t *self)
{
    const cg_config_t *c = &self->cfg;
    const int32_t max_lag = c->deterministic ? 0 : c->max_policy_lag;
    cg_batch_consume(self->training, c->groups_per_batch);
    self->dropped_stale += cg_batch_drop_stale(self->training, self->version, max_lag);
    self->dropped_stale += cg_batch_drop_stale(self->filling, self->version, max_lag);
    if (cg_batch_n_groups(self->training) > 0) {
        cg_batch_take(self->training, self->filling);
        cg_batch_t *t = self->filling;
        self->filling = self->training;
        self->training = t;
    }
}

/* An update that turned non-finite: the updater has restored the parameters and Adam state,
 * the multipliers go back too, and the batch is dropped, as if it had never arrived. The
 * senders it names get a strike each; S_QUARANTINE_STRIKES of them and their data is
 * refused. Only failures that no sender explains, S_MAX_UNEXPLAINED in a row, stop the run:
 * then the training itself diverges. */
static cg_status_t s_update_dropped(cg_learner_t *self, const cg_update_job_t *job)
{
    CG_TRY(cg_mult_state_set(self->mult, self->job_mult, cg_mult_state_size(self->mult)));
    cg_mult_lambda(self->mult, self->lambda);
    self->dropped_batches++;
    char who[256] = "no group explains it";
    int off = 0;
    for (int32_t i = 0; i < job->n_blamed && off < (int)sizeof who; i++)
        off += snprintf(who + off, sizeof who - (size_t)off, "%s%d", i ? ", " : "actor(s) ",
                        job->blamed[i]);
    CG_WARN("update for version %llu turned non-finite; parameters, optimiser and multipliers "
            "restored, the batch of %d groups dropped (%lld so far); %s%s",
            (unsigned long long)self->version + 1, job->n_groups, (long long)self->dropped_batches,
            who, job->n_blamed ? " sent groups the network maps to non-finite logits" : "");
    for (int32_t i = 0; i < job->n_blamed; i++) {
        s_actor_t *a = s_actor_find(self, job->blamed[i]);
        if (!a || a->quarantined || ++a->strikes < S_QUARANTINE_STRIKES)
            continue;
        a->quarantined = 1;
        a->outstanding = 0;
        CG_WARN("actor %d (%s pid %d) quarantined: its groups explained %d failed updates; "
                "its data is dropped for the rest of the run (hint: check that actor's "
                "simulator and build)",
                a->id, a->host, a->pid, a->strikes);
    }
    self->unexplained_in_row = job->n_blamed ? 0 : self->unexplained_in_row + 1;
    if (self->unexplained_in_row >= S_MAX_UNEXPLAINED) {
        CG_ERROR("%d updates in a row turned non-finite and no actor's data explains it: the "
                 "training diverges (hint: lower [policy] lr or max_grad_norm, or check "
                 "[policy] activation)",
                 self->unexplained_in_row);
        return CG_ERR_NONFINITE;
    }
    s_batches_next(self);
    s_credit_all(self);
    return CG_OK;
}

/* Ends the update the updater has handed back: new version, broadcast, metrics row, the
 * batches made ready for the next one, checkpoint. */
static cg_status_t s_update_finish(cg_learner_t *self, const cg_update_job_t *job)
{
    const cg_config_t *c = &self->cfg;
    self->t_idle = cg_os_now();
    if (job->status == CG_ERR_NONFINITE)
        return s_update_dropped(self, job);
    if (job->status != CG_OK)
        return job->status;
    self->unexplained_in_row = 0;
    const cg_batch_stats_t st = self->job_stats;
    const float *eff = self->job_eff;
    const double adv_neg = self->job_adv_neg;
    memcpy(self->params, job->params, self->n_params * sizeof(float));
    self->version++;
    self->iteration++;
    s_publish(self, 0);
    if (c->max_policy_lag == 0)
        s_credit_all(self); /* on-policy: sampled with the weights just published */
    double t1 = cg_os_now();

    self->env_steps += st.n_steps;
    self->episodes += st.n_episodes;
    self->busy_s += t1 - self->job_t0;
    if (t1 - self->job_t0 > self->update_max_s)
        self->update_max_s = t1 - self->job_t0;
    self->lag_sum += st.lag_mean;
    self->lag_n++;
    double dt = t1 - self->t_last_iter;
    self->t_last_iter = t1;
    int32_t alive = s_actors_alive(self);
    const double un = job->n_updates ? (double)job->n_updates : 1.0;

    cg_metrics_t *m = self->metrics;
    cg_metrics_add(m, "iteration", (double)self->iteration);
    cg_metrics_add(m, "version", (double)self->version);
    cg_metrics_add(m, "env_steps", (double)self->env_steps);
    cg_metrics_add(m, "episodes", (double)self->episodes);
    cg_metrics_add(m, "wall_s", self->wall_offset + (t1 - self->t_start));
    cg_metrics_add(m, "steps_per_s", dt > 0 ? (double)st.n_steps / dt : 0.0);
    cg_metrics_add(m, "update_s", t1 - self->job_t0);
    cg_metrics_add(m, "update_wait_s", self->job_wait_s);
    cg_metrics_add(m, "reward_mean", st.reward_mean);
    cg_metrics_add(m, "goal_rate", st.goal_rate);
    for (int32_t k = 0; k < self->env.n_metrics; k++) /* the simulator's names for these */
        cg_metrics_add(m, self->env.metrics[k].name,
                       self->env.metrics[k].stat == CG_ENV_STAT_GOAL_RATE ? st.goal_rate
                                                                          : st.reward_mean);
    /* Multi-temperature sampling: mean reward per temperature (members sharing one pooled),
     * in schedule order, e.g. reward_t0.1; the first 16 distinct temperatures (the metrics
     * files hold at most 128 columns). */
    for (int32_t j = 0, n_t = 0; j < c->n_temperatures && n_t < 16; j++) {
        int32_t seen = 0, cnt = 0;
        double sum = 0;
        for (int32_t i = 0; i < j; i++)
            seen |= c->temperatures[i] == c->temperatures[j];
        if (seen)
            continue;
        n_t++;
        for (int32_t i = j; i < c->group_size; i++)
            if (c->temperatures[i] == c->temperatures[j]) {
                sum += st.reward_member[i];
                cnt++;
            }
        char name[64];
        snprintf(name, sizeof name, "reward_t%g", (double)c->temperatures[j]);
        cg_metrics_add(m, name, sum / cnt);
    }
    for (int32_t k = 0; k < self->env.n_costs; k++) {
        char name[CG_NAME_LEN + 32];
        snprintf(name, sizeof name, "%s_rate", self->env.cost_names[k]);
        cg_metrics_add(m, name, st.cost_rate[k]);
    }
    const float *d = cg_mult_thresholds(self->mult);
    for (int32_t k = 0; k < self->n_enforced; k++) {
        char name[CG_NAME_LEN + 32];
        const char *cn = self->cfg.constraints[k].name;
        snprintf(name, sizeof name, "%s_threshold", cn);
        cg_metrics_add(m, name, d[k]);
        snprintf(name, sizeof name, "%s_lambda", cn);
        cg_metrics_add(m, name, self->lambda[k + 1]);
        snprintf(name, sizeof name, "%s_eff_weight", cn);
        cg_metrics_add(m, name, eff[k + 1]);
    }
    cg_metrics_add(m, "lambda_reward", self->lambda[0]);
    cg_metrics_add(m, "reward_eff_weight", eff[0]);
    cg_metrics_add(m, "kl", job->loss_sum.kl / un);
    cg_metrics_add(m, "approx_kl", job->loss_sum.approx_kl / un);
    cg_metrics_add(m, "clip_frac", job->loss_sum.clip_frac / un);
    cg_metrics_add(m, "entropy", job->loss_sum.entropy / un);
    cg_metrics_add(m, "loss", job->loss_sum.loss / un);
    cg_metrics_add(m, "grad_norm", job->grad_norm_sum / un);
    cg_metrics_add(m, "adv_neg_frac", adv_neg);
    cg_metrics_add(m, "frac_zero_std_reward", st.frac_zero_std_reward);
    cg_metrics_add(m, "frac_groups_all_goal", st.frac_all_goal); /* zero-variance kinds */
    cg_metrics_add(m, "frac_groups_all_zero", st.frac_all_zero);
    for (int32_t k = 0; k < self->env.n_costs; k++) {
        char name[CG_NAME_LEN + 32];
        snprintf(name, sizeof name, "frac_zero_std_%s", self->env.cost_names[k]);
        cg_metrics_add(m, name, st.frac_zero_std_cost[k]);
    }
    cg_metrics_add(m, "policy_lag_mean", st.lag_mean);
    cg_metrics_add(m, "policy_lag_max", st.lag_max);
    cg_metrics_add(m, "dropped_stale", (double)self->dropped_stale);
    cg_metrics_add(m, "dropped_batches", (double)self->dropped_batches);
    cg_metrics_add(m, "missing_batches", (double)self->missing_batches);
    cg_metrics_add(m, "cut_connections", (double)cg_guard_cuts(self->guard));
    cg_metrics_add(m, "groups_ingested", (double)self->groups_ingested);
    cg_metrics_add(m, "rejected_msgs", (double)self->rejected);
    cg_metrics_add(m, "actors_alive", (double)alive);
    cg_status_t rc = cg_metrics_commit(m);
    if (rc != CG_OK)
        return rc;
    self->last_stats = st;
    memcpy(self->last_eff, eff, sizeof self->last_eff);

    if (self->progress) {
        fprintf(stderr, "\r\033[Kit %lld/%d v%llu  goal %.2f", (long long)self->iteration,
                c->iterations, (unsigned long long)self->version, st.goal_rate);
        for (int32_t k = 0; k < self->n_enforced; k++)
            fprintf(stderr, "  %s %.3f/%.2f λ%.2f", self->cfg.constraints[k].name,
                    st.cost_rate[self->cost_index[k]], d[k], self->lambda[k + 1]);
        fprintf(stderr, "  %.0f steps/s  actors %d", dt > 0 ? st.n_steps / dt : 0.0, alive);
        fflush(stderr);
    } else {
        char line[512];
        int off = snprintf(line, sizeof line, "iteration %lld/%d version %llu goal_rate %.3f",
                           (long long)self->iteration, c->iterations,
                           (unsigned long long)self->version, st.goal_rate);
        for (int32_t k = 0; k < self->n_enforced && off < (int)sizeof line; k++)
            off += snprintf(line + off, sizeof line - (size_t)off, " %s %.3f (d %.2f, lambda %.3f)",
                            self->cfg.constraints[k].name, st.cost_rate[self->cost_index[k]], d[k],
                            self->lambda[k + 1]);
        if (off < (int)sizeof line)
            snprintf(line + off, sizeof line - (size_t)off, " steps/s %.0f actors %d",
                     dt > 0 ? st.n_steps / dt : 0.0, alive);
        CG_INFO("%s", line);
    }

    s_batches_next(self);
    if (c->checkpoint_every > 0 && self->iteration % c->checkpoint_every == 0)
        s_checkpoint_save(self);
    return CG_OK;
}

/* Collects the update in flight, waiting up to timeout_ms, and finishes it. CG_ERR_TIMEOUT
 * while it runs. */
static cg_status_t s_update_collect(cg_learner_t *self, int timeout_ms)
{
    cg_update_job_t *job = NULL;
    CG_TRY(cg_updater_collect(self->updater, timeout_ms, &job));
    return s_update_finish(self, job);
}

cg_status_t cg_learner_run(cg_learner_t *self, volatile sig_atomic_t *stop)
{
    cg_socket_t *pipe = cg_updater_socket(self->updater); /* NULL: overlap off */
    self->t_start = self->t_last_iter = self->t_idle = cg_os_now();
    cg_status_t rc = CG_OK;
    double last_report = cg_os_now();
    const int32_t B = self->cfg.groups_per_batch;
    while (!*stop && self->iteration < self->cfg.iterations) {
        /* The data socket only while the batch has room: a full one waits for the update,
         * and polling data it will not take would spin. */
        cg_socket_t *socks[3] = {self->control, pipe, NULL};
        int n_socks = pipe ? 2 : 1;
        if (cg_batch_n_groups(self->filling) < B)
            socks[n_socks++] = self->data;
        int ready[3];
        cg_status_t prc = cg_transport_poll(socks, n_socks, 100, ready);
        if (prc == CG_ERR_ZMQ) {
            rc = prc;
            break;
        }
        s_drain_control(self);
        s_drain_data(self);
        if (cg_updater_busy(self->updater)) {
            rc = s_update_collect(self, 0);
            if (rc == CG_ERR_TIMEOUT) {
                rc = CG_OK;
                continue;
            }
            if (rc != CG_OK) {
                CG_ERROR("update failed: %s", cg_status_str(rc));
                break;
            }
        }
        if (cg_batch_n_groups(self->filling) >= B && self->iteration < self->cfg.iterations) {
            rc = s_update_start(self);
            if (rc == CG_OK && !pipe) /* no overlap: the job is done already */
                rc = s_update_collect(self, 0);
            if (rc != CG_OK) {
                CG_ERROR("update failed: %s", cg_status_str(rc));
                break;
            }
        }
        if (!self->progress && cg_os_now() - last_report > 30.0) {
            CG_INFO("waiting: %d/%d groups, %d actors alive", cg_batch_n_groups(self->filling), B,
                    s_actors_alive(self));
            last_report = cg_os_now();
        }
    }
    /* An update in flight is finished and counted (its version published) before the
     * checkpoint: a stop never loses or half-applies one. */
    if (cg_updater_busy(self->updater)) {
        cg_status_t urc = s_update_collect(self, -1);
        if (urc != CG_OK)
            CG_ERROR("update failed: %s", cg_status_str(urc));
        if (rc == CG_OK)
            rc = urc;
    }
    if (self->progress)
        fputc('\n', stderr);
    cg_status_t crc = s_checkpoint_save(self);
    if (rc == CG_OK)
        rc = crc;
    if (self->iteration >= self->cfg.iterations) {
        /* Tell actors that training is over. PUB is fire-and-forget and a SUB that has just
         * reconnected misses single messages, so repeat it for up to a second, until every
         * actor has said it leaves (an actor that does not say so gets the whole second). */
        for (int i = 0; i < 100; i++) {
            if (i % 10 == 0)
                s_publish(self, 1);
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            s_drain_control(self);
            if (s_actors_alive(self) == 0)
                break;
        }
    }
    if (*stop && rc == CG_OK)
        rc = CG_ERR_INTERRUPTED;
    return rc;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void cg_learner_counters(const cg_learner_t *self, cg_learner_counters_t *out)
{
    *out = (cg_learner_counters_t){.version = self->version,
                                   .iteration = self->iteration,
                                   .env_steps = self->env_steps,
                                   .episodes = self->episodes,
                                   .rejected_msgs = self->rejected,
                                   .dropped_stale = self->dropped_stale,
                                   .groups_ingested = self->groups_ingested,
                                   .actors_alive = s_actors_alive(self)};
    out->busy_s = self->busy_s;
    out->run_s = self->t_start > 0 ? cg_os_now() - self->t_start : 0.0;
    out->lag_mean = self->lag_n ? self->lag_sum / (double)self->lag_n : 0.0;
    out->data_msgs = self->data_msgs;
    out->data_bytes = self->data_bytes;
    out->data_groups = self->data_groups;
    out->latency_samples = self->latency_n;
    out->latency_p50_s = out->latency_p99_s = -1.0;
    int64_t n = self->latency_n < S_LATENCY_SAMPLES ? self->latency_n : S_LATENCY_SAMPLES;
    if (n > 0) {
        double *v = cg_calloc((size_t)n, sizeof *v);
        memcpy(v, self->latency, (size_t)n * sizeof *v);
        qsort(v, (size_t)n, sizeof *v, s_cmp_double);
        out->latency_p50_s = v[(n - 1) / 2];
        out->latency_p99_s = v[(int64_t)((double)(n - 1) * 0.99 + 0.5)];
        free(v);
    }
}

void cg_learner_summary(cg_learner_t *self, FILE *out)
{
    const cg_batch_stats_t *st = &self->last_stats;
    double wall = self->wall_offset + (cg_os_now() - self->t_start);
    const float *d = cg_mult_thresholds(self->mult);
    fprintf(out, "\nrun %s  (%s)\n", self->cfg.run_id, self->run_dir);
    fprintf(
        out,
        "  iterations %lld, version %llu, %lld env steps, %lld episodes, %.1f s (%.0f steps/s)\n",
        (long long)self->iteration, (unsigned long long)self->version, (long long)self->env_steps,
        (long long)self->episodes, wall, wall > 0 ? self->env_steps / wall : 0.0);
    fprintf(out, "  last batch: goal rate %.3f, reward %.3f\n", st->goal_rate, st->reward_mean);
    for (int32_t k = 0; k < self->env.n_costs; k++) {
        int32_t enforced = -1;
        for (int32_t j = 0; j < self->n_enforced; j++)
            if (self->cost_index[j] == k)
                enforced = j;
        if (enforced >= 0)
            fprintf(out, "  %-10s rate %.3f  threshold %.3f  lambda %.3f\n",
                    self->env.cost_names[k], st->cost_rate[k], d[enforced],
                    self->lambda[enforced + 1]);
        else
            fprintf(out, "  %-10s rate %.3f  (not enforced)\n", self->env.cost_names[k],
                    st->cost_rate[k]);
    }
    fprintf(out, "  lambda_reward %.3f; rejected messages %lld; stale groups dropped %lld",
            self->lambda[0], (long long)self->rejected, (long long)self->dropped_stale);
    if (self->missing_batches || cg_guard_cuts(self->guard))
        fprintf(out, "; group batches that never arrived %lld; connections cut %lld",
                (long long)self->missing_batches, (long long)cg_guard_cuts(self->guard));
    if (self->dropped_batches || self->quarantined_groups)
        fprintf(out,
                "; batches dropped (non-finite updates) %lld; groups refused from "
                "quarantined actors %lld",
                (long long)self->dropped_batches, (long long)self->quarantined_groups);
    fputc('\n', out);

    char path[CG_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/summary.json", self->run_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs("{\"run_id\":", f);
    cg_json_string(f, self->cfg.run_id);
    fprintf(f,
            ",\"iterations\":%lld,\"version\":%llu,\"env_steps\":%lld,"
            "\"episodes\":%lld,\"wall_s\":%.3f,\"goal_rate\":%.6f,\"reward_mean\":%.6f,"
            "\"lambda_reward\":%.6f,\"rejected_msgs\":%lld,\"dropped_stale\":%lld,"
            "\"dropped_batches\":%lld,\"quarantined_groups\":%lld,\"missing_batches\":%lld,"
            "\"cut_connections\":%lld,\"cost_rates\":{",
            (long long)self->iteration, (unsigned long long)self->version,
            (long long)self->env_steps, (long long)self->episodes, wall, st->goal_rate,
            st->reward_mean, self->lambda[0], (long long)self->rejected,
            (long long)self->dropped_stale, (long long)self->dropped_batches,
            (long long)self->quarantined_groups, (long long)self->missing_batches,
            (long long)cg_guard_cuts(self->guard));
    for (int32_t k = 0; k < self->env.n_costs; k++) {
        fputs(k ? "," : "", f);
        cg_json_string(f, self->env.cost_names[k]);
        fprintf(f, ":%.6f", st->cost_rate[k]);
    }
    fprintf(f, "},\"lambdas\":{");
    for (int32_t k = 0; k < self->n_enforced; k++) {
        fputs(k ? "," : "", f);
        cg_json_string(f, self->cfg.constraints[k].name);
        fprintf(f, ":%.6f", self->lambda[k + 1]);
    }
    fprintf(f, "}}\n");
    fclose(f);
}

cg_status_t cg_learner_read_params(const char *run_dir, float *params, size_t n, uint64_t *version,
                                   char *err, size_t errlen)
{
    char dir[CG_PATH_LEN + 16], path[CG_PATH_LEN + 64];
    snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
    int64_t ver = -1;
    cg_status_t rc = cg_ckpt_latest(dir, path, sizeof path, &ver, err, errlen);
    if (rc != CG_OK)
        return rc;
    if (ver < 0) {
        snprintf(err, errlen,
                 "no checkpoint in %s (hint: train first, or name a run directory "
                 "written by cgrpo train)",
                 dir);
        return CG_ERR_IO;
    }
    cg_ckpt_t *ck = cg_ckpt_load(path, (size_t)1 << 34, &rc, err, errlen);
    if (!ck)
        return rc;
    uint64_t cu[2] = {0, 0};
    rc = cg_ckpt_get_f32(ck, "params", params, n, err, errlen);
    if (rc == CG_OK)
        rc = cg_ckpt_get_u64(ck, "version_iteration", cu, 2, err, errlen);
    if (rc == CG_OK && version)
        *version = cu[0];
    cg_ckpt_destroy(&ck);
    return rc;
}
