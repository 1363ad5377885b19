/* cg_learner: the learner's set-up and teardown and its event loop (ingest -> batch ->
 * multipliers -> advantages -> update (cg_updater, maybe overlapped with the next ingest) ->
 * broadcast). The actor table, checkpoints and reports are its other files
 * (cg_learner_impl.h). */
#include "cg_learner_impl.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_os.h"

/* ---- setup ---------------------------------------------------------------------------- */

uint64_t cg_learner_init_seed(const cg_config_t *cfg)
{
    return cg_rng_mix64(cfg->seed ^ 0x6d6f64656cULL);
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

/* The environment's sizes and cost names, as the launcher found them (no simulator here). */
static cg_status_t s_check_env(cg_learner_t *self, const cg_env_spec_t *env, char *err,
                               size_t errlen)
{
    CG_ASSERT(env);
    self->env = *env;
    if (self->env.obs_dim < 1 || self->env.n_actions < 1 || self->env.n_costs < 0 ||
        self->env.n_costs > CG_MAX_COSTS || self->env.n_metrics < 0 ||
        self->env.n_metrics > CG_ENV_MAX_METRICS) {
        snprintf(err, errlen,
                 "environment spec of '%s' is invalid (obs_dim %d, %d actions, %d "
                 "costs) (hint: a bug in the launcher)",
                 self->env.sim, self->env.obs_dim, self->env.n_actions, self->env.n_costs);
        return CG_ERR_INVAL;
    }
    if (self->env.max_steps > self->cfg.max_steps_per_episode) {
        snprintf(err, errlen,
                 "simulator %s runs episodes of up to %d steps, above [learner] "
                 "max_episode_steps = %d (hint: raise max_episode_steps)",
                 self->env.sim, self->env.max_steps, self->cfg.max_steps_per_episode);
        return CG_ERR_INVAL;
    }
    return CG_OK;
}

/* The backend with its first weights (and threads), the host copy of the weights, and the
 * frozen KL reference when the loss needs one. */
static cg_status_t s_model_new(cg_learner_t *self, int resume, char *err, size_t errlen)
{
    cg_policy_shape_t shape;
    if (cg_policy_shape_from(&self->cfg, self->env.obs_dim, self->env.n_actions,
                             self->env.continuous, self->env.sim, &shape, err, errlen) != CG_OK)
        return CG_ERR_SHAPE;
    cg_adam_config_t adam = {self->cfg.lr, self->cfg.adam_beta1, self->cfg.adam_beta2,
                             self->cfg.adam_eps, self->cfg.max_grad_norm};
    uint64_t model_seed = cg_learner_init_seed(&self->cfg);
    self->backend = cg_backend_new(self->cfg.device, &shape, &adam, model_seed, err, errlen);
    if (!self->backend)
        return CG_ERR_INVAL;
    int32_t threads = self->cfg.threads;
    if (threads == 0) { /* every online core: the actors mostly wait on the learner */
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online < 1 ? 1 : online > 64 ? 64 : (int32_t)online;
    }
    if (cg_backend_set_threads(self->backend, threads, err, errlen) != CG_OK)
        return CG_ERR_INVAL;
    if (!strcmp(cg_backend_name(self->backend), "cpu"))
        CG_INFO("updates split over %d threads ([learner] threads)", threads);
    self->n_params = cg_backend_n_params(self->backend);
    self->params = cg_calloc(self->n_params, sizeof *self->params);
    if (cg_backend_get_params(self->backend, self->params)) {
        snprintf(err, errlen, "backend %s: cannot read parameters", cg_backend_name(self->backend));
        return CG_ERR_INVAL;
    }
    /* A warm start: its weights are also the KL reference unless [train] reference names
     * another (a resume restores both from the run's own checkpoint instead). */
    if (self->cfg.init[0] && !resume &&
        (cg_learner_load_policy(&self->cfg, self->n_params, "[train] init", self->cfg.init,
                                self->params, err, errlen) != CG_OK ||
         cg_backend_set_params(self->backend, self->params) != CG_OK))
        return CG_ERR_INVAL;
    if (self->cfg.kl_coef > 0 || self->cfg.asym_kl) {
        self->ref = cg_policy_new(&shape, model_seed);
        memcpy(cg_policy_params(self->ref), self->params, self->n_params * sizeof(float));
        if (self->cfg.reference[0] &&
            cg_learner_load_policy(&self->cfg, self->n_params, "[train] reference",
                                   self->cfg.reference, cg_policy_params(self->ref), err,
                                   errlen) != CG_OK)
            return CG_ERR_INVAL;
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

    if (s_check_env(self, opts->env, err, errlen) || s_map_constraints(self, err, errlen) ||
        s_model_new(self, opts->resume, err, errlen))
        goto fail;
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
    if (self->env.continuous) {
        cg_batch_set_continuous(self->filling, self->env.n_actions);
        cg_batch_set_continuous(self->training, self->env.n_actions);
    }
    cg_msg_caps_from(&self->cfg, &self->caps);

    self->latency = cg_calloc(CG_LEARNER_LATENCY_SAMPLES, sizeof *self->latency);

    if (opts->resume && cg_learner_ckpt_restore(self, err, errlen))
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
    /* Overlap pays wherever ingest has a core besides the update's: with a GPU, and on a CPU of
     * two or more cores (measured, docs/performance.md); on one core it would only compete. */
    const int overlap =
        self->cfg.overlap == CG_OVERLAP_ON ||
        (self->cfg.overlap == CG_OVERLAP_AUTO &&
         (strcmp(cg_backend_name(self->backend), "cpu") != 0 || sysconf(_SC_NPROCESSORS_ONLN) > 1));
    self->updater =
        cg_updater_new(self->transport, self->backend, self->ref, &self->rng, overlap, err, errlen);
    if (!self->updater)
        goto fail;
    if (cg_learner_endpoint_open(self, err, errlen))
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
    cg_learner_endpoint_stop_guard(self);
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
    if (self->train_t0 == 0) {
        self->train_t0 = self->job_t0;
        self->train_cpu0 = cg_os_cpu_busy_s();
    }
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
        cg_learner_credit_all(self); /* the next batch, produced while this one trains */
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
 * senders it names get a strike each; CG_LEARNER_QUARANTINE_STRIKES of them and their data is
 * refused. Only failures that no sender explains, CG_LEARNER_MAX_UNEXPLAINED in a row, stop the
 * run: then the training itself diverges. */
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
        cg_learner_actor_t *a = cg_learner_actor_find(self, job->blamed[i]);
        if (!a || a->quarantined || ++a->strikes < CG_LEARNER_QUARANTINE_STRIKES)
            continue;
        a->quarantined = 1;
        a->outstanding = 0;
        CG_WARN("actor %d (%s pid %d) quarantined: its groups explained %d failed updates; "
                "its data is dropped for the rest of the run (hint: check that actor's "
                "simulator and build)",
                a->id, a->host, a->pid, a->strikes);
    }
    self->unexplained_in_row = job->n_blamed ? 0 : self->unexplained_in_row + 1;
    if (self->unexplained_in_row >= CG_LEARNER_MAX_UNEXPLAINED) {
        CG_ERROR("%d updates in a row turned non-finite and no actor's data explains it: the "
                 "training diverges (hint: lower [policy] lr or max_grad_norm, or check "
                 "[policy] activation)",
                 self->unexplained_in_row);
        return CG_ERR_NONFINITE;
    }
    s_batches_next(self);
    cg_learner_credit_all(self);
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
    memcpy(self->params, job->params, self->n_params * sizeof(float));
    self->version++;
    self->iteration++;
    s_publish(self, 0);
    if (c->max_policy_lag == 0)
        cg_learner_credit_all(self); /* on-policy: sampled with the weights just published */
    double t1 = cg_os_now();
    self->train_t1 = t1;
    self->train_cpu1 = cg_os_cpu_busy_s();

    self->env_steps += st.n_steps;
    self->episodes += st.n_episodes;
    self->busy_s += t1 - self->job_t0;
    if (t1 - self->job_t0 > self->update_max_s)
        self->update_max_s = t1 - self->job_t0;
    self->lag_sum += st.lag_mean;
    self->lag_n++;
    double dt = t1 - self->t_last_iter;
    self->t_last_iter = t1;
    int32_t alive = cg_learner_actors_alive(self);
    CG_TRY(cg_learner_report_row(self, job, t1, dt, alive));
    self->last_stats = st;
    memcpy(self->last_eff, self->job_eff, sizeof self->last_eff);
    cg_learner_report_progress(self, dt, alive);

    s_batches_next(self);
    if (c->checkpoint_every > 0 && self->iteration % c->checkpoint_every == 0)
        cg_learner_ckpt_save(self);
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
        cg_learner_drain_control(self);
        cg_learner_drain_data(self);
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
                    cg_learner_actors_alive(self));
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
    cg_status_t crc = cg_learner_ckpt_save(self);
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
            cg_learner_drain_control(self);
            if (cg_learner_actors_alive(self) == 0)
                break;
        }
    }
    if (*stop && rc == CG_OK)
        rc = CG_ERR_INTERRUPTED;
    return rc;
}
