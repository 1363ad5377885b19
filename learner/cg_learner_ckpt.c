/* cg_learner_ckpt: the learner's run state in a checkpoint (cg_ckpt's container): weights,
 * optimiser and multiplier state, counters, RNG, config; saved every checkpoint_every
 * iterations, restored on --resume, and the weights read back by `cgrpo eval`. */
#include "cg_learner_impl.h"

#include <string.h>
#include <sys/stat.h>

#include "cg_alloc.h"
#include "cg_ckpt.h"
#include "cg_log.h"
#include "cg_os.h"

/* ---- checkpoints ---------------------------------------------------------------------- */

/* The sections of a learner checkpoint (docs/checkpoints.md): their names are the format. */
#define S_SEC_RUN_ID "run_id"             /* str: the run id */
#define S_SEC_CONFIG "config"             /* str: the effective config, INI text */
#define S_SEC_VERSION "version_iteration" /* u64 [2]: policy version, iteration */
#define S_SEC_COUNTERS "counters"         /* i64 [S_CTR_N], indexed by s_counter_t */
#define S_SEC_WALL "wall_s"               /* f64: wall seconds of the run so far */
#define S_SEC_RNG "rng"                   /* u64 [2]: the minibatch shuffle's state */
#define S_SEC_PARAMS "params"             /* f32 [n_params]: the weights */
#define S_SEC_ADAM_M "adam_m"             /* f32 [n_params]: Adam's first moments */
#define S_SEC_ADAM_V "adam_v"             /* f32 [n_params]: Adam's second moments */
#define S_SEC_MULT "multipliers"          /* f64: the multipliers' state (cg_mult) */
#define S_SEC_REFERENCE "reference"       /* f32 [n_params]: the KL reference, if any */

/* The counters section, in this order. */
typedef enum {
    S_CTR_ENV_STEPS = 0,
    S_CTR_EPISODES = 1,
    S_CTR_REJECTED = 2,
    S_CTR_DROPPED_STALE = 3,
    S_CTR_GROUPS_INGESTED = 4,
    S_CTR_ADAM_STEPS = 5,
    S_CTR_N = 6,
} s_counter_t;

cg_status_t cg_learner_ckpt_save(cg_learner_t *self)
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
    int64_t counters_i[S_CTR_N];
    counters_i[S_CTR_ENV_STEPS] = self->env_steps;
    counters_i[S_CTR_EPISODES] = self->episodes;
    counters_i[S_CTR_REJECTED] = self->rejected;
    counters_i[S_CTR_DROPPED_STALE] = self->dropped_stale;
    counters_i[S_CTR_GROUPS_INGESTED] = self->groups_ingested;
    counters_i[S_CTR_ADAM_STEPS] = steps;
    double wall = self->wall_offset + (cg_os_now() - self->t_start);
    uint64_t rng[2];
    cg_rng_get_state(&self->rng, rng);
    if ((rc = cg_ckpt_put_str(w, S_SEC_RUN_ID, self->cfg.run_id)) ||
        (rc = cg_ckpt_put_str(w, S_SEC_CONFIG, self->config_text)) ||
        (rc = cg_ckpt_put_u64(w, S_SEC_VERSION, counters_u, 2)) ||
        (rc = cg_ckpt_put_i64(w, S_SEC_COUNTERS, counters_i, S_CTR_N)) ||
        (rc = cg_ckpt_put_f64(w, S_SEC_WALL, &wall, 1)) ||
        (rc = cg_ckpt_put_u64(w, S_SEC_RNG, rng, 2)) ||
        (rc = cg_ckpt_put_f32(w, S_SEC_PARAMS, self->params, self->n_params)) ||
        (rc = cg_ckpt_put_f32(w, S_SEC_ADAM_M, m, self->n_params)) ||
        (rc = cg_ckpt_put_f32(w, S_SEC_ADAM_V, v, self->n_params)) ||
        (rc = cg_ckpt_put_f64(w, S_SEC_MULT, mult, n_mult)))
        goto done;
    if (self->ref)
        rc = cg_ckpt_put_f32(w, S_SEC_REFERENCE, cg_policy_params(self->ref), self->n_params);
    if (rc == CG_OK)
        rc = cg_ckpt_writer_save(w, path, err, sizeof err);
    if (rc != CG_OK)
        CG_ERROR("checkpoint %s not written: %s", path, err);
    else
        cg_ckpt_prune(self->ckpt_dir, CG_LEARNER_CKPT_KEEP, err, sizeof err);
done:
    cg_ckpt_writer_destroy(&w);
    free(m);
    free(v);
    free(mult);
    return rc;
}

cg_status_t cg_learner_ckpt_restore(cg_learner_t *self, char *err, size_t errlen)
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
    int64_t ci[S_CTR_N];
    double wall = 0;
    if ((rc = cg_ckpt_get_str(ck, S_SEC_RUN_ID, &run_id, err, errlen)))
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
    if ((rc = cg_ckpt_info(ck, S_SEC_PARAMS, &dtype, &count, err, errlen)))
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
    if ((rc = cg_ckpt_get_u64(ck, S_SEC_VERSION, cu, 2, err, errlen)) ||
        (rc = cg_ckpt_get_i64(ck, S_SEC_COUNTERS, ci, S_CTR_N, err, errlen)) ||
        (rc = cg_ckpt_get_f64(ck, S_SEC_WALL, &wall, 1, err, errlen)) ||
        (rc = cg_ckpt_get_u64(ck, S_SEC_RNG, rng, 2, err, errlen)) ||
        (rc = cg_ckpt_get_f32(ck, S_SEC_PARAMS, self->params, self->n_params, err, errlen)) ||
        (rc = cg_ckpt_get_f32(ck, S_SEC_ADAM_M, m, self->n_params, err, errlen)) ||
        (rc = cg_ckpt_get_f32(ck, S_SEC_ADAM_V, v, self->n_params, err, errlen)) ||
        (rc = cg_ckpt_get_f64(ck, S_SEC_MULT, mult, n_mult, err, errlen)))
        goto done;
    if (self->ref && (rc = cg_ckpt_get_f32(ck, S_SEC_REFERENCE, cg_policy_params(self->ref),
                                           self->n_params, err, errlen)))
        goto done;
    if ((rc = cg_mult_state_set(self->mult, mult, n_mult))) {
        snprintf(err, errlen, "checkpoint %s: multiplier state is invalid", path);
        goto done;
    }
    if ((rc = cg_backend_set_params(self->backend, self->params)) ||
        (rc = cg_backend_set_optim(self->backend, m, v, ci[S_CTR_ADAM_STEPS])))
        goto done;
    self->version = cu[0];
    self->iteration = (int64_t)cu[1];
    self->env_steps = ci[S_CTR_ENV_STEPS];
    self->episodes = ci[S_CTR_EPISODES];
    self->rejected = ci[S_CTR_REJECTED];
    self->dropped_stale = ci[S_CTR_DROPPED_STALE];
    self->groups_ingested = ci[S_CTR_GROUPS_INGESTED];
    self->wall_offset = wall;
    cg_rng_set_state(&self->rng, rng);
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
    rc = cg_ckpt_get_f32(ck, S_SEC_PARAMS, params, n, err, errlen);
    if (rc == CG_OK)
        rc = cg_ckpt_get_u64(ck, S_SEC_VERSION, cu, 2, err, errlen);
    if (rc == CG_OK && version)
        *version = cu[0];
    cg_ckpt_destroy(&ck);
    return rc;
}

/* "2 x 64 tanh" for messages. */
static void s_shape_text(const cg_config_t *c, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "hidden ");
    for (int32_t i = 0; i < c->n_hidden && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? "," : "", c->hidden[i]);
    snprintf(buf + (o < n ? o : n - 1), n - (o < n ? o : n - 1), "%s%s",
             c->n_hidden ? " " : "(none) ", c->activation == CG_ACT_RELU ? "relu" : "tanh");
}

cg_status_t cg_learner_load_policy(const cg_config_t *ours, size_t n_params, const char *what,
                                   const char *path, float *dst, char *err, size_t errlen)
{
    char file[CG_PATH_LEN + 64], why[2 * CG_PATH_LEN + 512] = "";
    struct stat st;
    cg_status_t rc = CG_OK;
    snprintf(file, sizeof file, "%s", path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) { /* a run directory: its latest */
        char dir[CG_PATH_LEN + 16];
        int64_t ver = -1;
        snprintf(dir, sizeof dir, "%s/checkpoints", path);
        rc = cg_ckpt_latest(dir, file, sizeof file, &ver, why, sizeof why);
        if (rc == CG_OK && ver < 0) {
            snprintf(why, sizeof why,
                     "no checkpoint in %s (hint: name a checkpoint file or a "
                     "run directory written by cgrpo train)",
                     dir);
            rc = CG_ERR_IO;
        }
    }
    cg_ckpt_t *ck = rc == CG_OK ? cg_ckpt_load(file, (size_t)1 << 34, &rc, why, sizeof why) : NULL;
    char *text = NULL;
    cg_config_t *theirs = cg_calloc(1, sizeof *theirs);
    cg_ckpt_dtype_t dtype;
    uint64_t count = 0;
    if (ck && (rc = cg_ckpt_get_str(ck, S_SEC_CONFIG, &text, why, sizeof why)) == CG_OK &&
        (rc = cg_ckpt_info(ck, S_SEC_PARAMS, &dtype, &count, why, sizeof why)) == CG_OK) {
        cg_config_defaults(theirs);
        char cfg_err[512];
        if (cg_config_load_string(theirs, text, file, cfg_err, sizeof cfg_err) != CG_OK ||
            count != n_params || theirs->n_hidden != ours->n_hidden ||
            memcmp(theirs->hidden, ours->hidden, sizeof ours->hidden) != 0 ||
            theirs->activation != ours->activation) {
            char a[128], b[128];
            s_shape_text(theirs, a, sizeof a);
            s_shape_text(ours, b, sizeof b);
            snprintf(why, sizeof why,
                     "%s holds a policy of %s with %llu parameters, this run builds one of %s "
                     "with %zu (hint: the same [policy] hidden and activation, and the same "
                     "simulator)",
                     file, a, (unsigned long long)count, b, n_params);
            rc = CG_ERR_MISMATCH;
        } else {
            rc = cg_ckpt_get_f32(ck, S_SEC_PARAMS, dst, n_params, why, sizeof why);
        }
    }
    free(text);
    free(theirs);
    cg_ckpt_destroy(&ck);
    if (rc != CG_OK) {
        snprintf(err, errlen, "%s: %s", what, why); /* why ends with a hint */
        return rc;
    }
    CG_INFO("%s: the weights of %s", what, file);
    return CG_OK;
}
