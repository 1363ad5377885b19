/* cg_learner_report: what the learner tells: a metrics row per iteration, the progress line
 * or log line, the throughput counters and the end-of-run summary (text and summary.json). */
#include "cg_learner_impl.h"

#include <string.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_json.h"
#include "cg_log.h"
#include "cg_os.h"

/* Adds <prefix>_t<tau> for each distinct temperature of the schedule, in schedule order
 * (e.g. reward_t0.1): the mean over the members sampled at it of per_member (G); the first 16
 * distinct temperatures (the metrics files hold at most 128 columns). */
static void s_add_by_temperature(cg_metrics_t *m, const cg_config_t *c, const char *prefix,
                                 const double *per_member)
{
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
                sum += per_member[i];
                cnt++;
            }
        char name[64];
        snprintf(name, sizeof name, "%s_t%g", prefix, (double)c->temperatures[j]);
        cg_metrics_add(m, name, sum / cnt);
    }
}

/* Adds the finished update's row to metrics.csv/metrics.jsonl: the batch's statistics
 * (self->job_stats), the multipliers and effective weights, the loss, the counters. t1: when
 * it was broadcast; dt: seconds since the previous one. */
cg_status_t cg_learner_report_row(cg_learner_t *self, const cg_update_job_t *job, double t1,
                                  double dt, int32_t alive)
{
    const cg_config_t *c = &self->cfg;
    const cg_batch_stats_t st = self->job_stats;
    const float *eff = self->job_eff;
    const double adv_neg = self->job_adv_neg;
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
    /* Multi-temperature sampling: mean reward and advantage per temperature slot. */
    if (c->n_temperatures > 0) {
        double adv_member[CG_MAX_GROUP];
        cg_batch_adv_member(job->batch, job->n_groups, adv_member);
        s_add_by_temperature(m, c, "reward", st.reward_member);
        s_add_by_temperature(m, c, "adv", adv_member);
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
    return cg_metrics_commit(m);
}

/* The progress line (a terminal) or a log line for the iteration just reported. */
void cg_learner_report_progress(cg_learner_t *self, double dt, int32_t alive)
{
    const cg_config_t *c = &self->cfg;
    const cg_batch_stats_t st = self->last_stats;
    const float *d = cg_mult_thresholds(self->mult);
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
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The training window's seconds, and the cores the machine kept busy in it (-1: unknown). */
static double s_train_s(const cg_learner_t *self)
{
    return self->train_t1 > self->train_t0 ? self->train_t1 - self->train_t0 : 0.0;
}

static double s_train_cores(const cg_learner_t *self)
{
    const double s = s_train_s(self);
    return s > 0 && self->train_cpu0 >= 0 && self->train_cpu1 >= 0
               ? (self->train_cpu1 - self->train_cpu0) / s
               : -1.0;
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
                                   .actors_alive = cg_learner_actors_alive(self)};
    out->busy_s = self->busy_s;
    out->run_s = self->t_start > 0 ? cg_os_now() - self->t_start : 0.0;
    out->train_s = s_train_s(self);
    out->train_cores = s_train_cores(self);
    out->lag_mean = self->lag_n ? self->lag_sum / (double)self->lag_n : 0.0;
    out->data_msgs = self->data_msgs;
    out->data_bytes = self->data_bytes;
    out->data_groups = self->data_groups;
    out->latency_samples = self->latency_n;
    out->latency_p50_s = out->latency_p99_s = -1.0;
    int64_t n =
        self->latency_n < CG_LEARNER_LATENCY_SAMPLES ? self->latency_n : CG_LEARNER_LATENCY_SAMPLES;
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
    if (s_train_cores(self) >= 0)
        fprintf(out,
                "  training %.1f s (first update to last), the machine's cores busy %.2f of %ld\n",
                s_train_s(self), s_train_cores(self), sysconf(_SC_NPROCESSORS_ONLN));
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
            "\"cut_connections\":%lld,\"train_s\":%.3f,\"train_cores\":%.3f,\"cost_rates\":{",
            (long long)self->iteration, (unsigned long long)self->version,
            (long long)self->env_steps, (long long)self->episodes, wall, st->goal_rate,
            st->reward_mean, self->lambda[0], (long long)self->rejected,
            (long long)self->dropped_stale, (long long)self->dropped_batches,
            (long long)self->quarantined_groups, (long long)self->missing_batches,
            (long long)cg_guard_cuts(self->guard), s_train_s(self), s_train_cores(self));
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
