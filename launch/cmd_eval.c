/* cmd_eval: `cgrpo eval RUN_DIR`: rolls out the latest checkpoint's policy (sampling at
 * temperature 1, as trained, or greedily) and reports the goal rate, the mean reward, each
 * cost rate and the KL to the initial policy. A simulator may bring its own evaluation set
 * (eval_seed: instruct's held-out prompts) and its own tallies (eval hooks: instruct's HSR/SSR
 * by number of constraints and by type); this file names no simulator. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_json.h"
#include "cg_learner.h"
#include "cg_policy.h"
#include "cg_rng.h"
#include "cg_sim.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cgrpo eval RUN_DIR [options]\n"
            "Evaluates the latest checkpoint of a run: goal rate, mean reward, each cost rate and\n"
            "the KL to the initial policy (kl_init, mean over the visited states).\n\n"
            "  --episodes N   episodes to roll out (default 1000)\n"
            "  --seed S       evaluation seed (default: derived from the run seed)\n"
            "  --json         one JSON object: goal_rate, episodes, reward_mean, cost_rates {name: "
            "rate}, ...\n"
            "  --greedy       act greedily (most likely action) instead of sampling\n"
            "  --trace FILE   write the first 8 episodes' states to FILE, one 'episode E' line\n"
            "                 then the simulator's own lines per step (its eval_trace hook:\n"
            "                 navigation writes its layout and the robot's positions)\n"
            "  -h, --help     this help\n\n"
            "A simulator with its own evaluation set (instruct: the fixed held-out prompts, one\n"
            "text each) is evaluated on its first N episodes and adds its own figures (instruct:\n"
            "hsr, ssr, by_n_constraints, by_type; docs/simulators.md).\n");
}

typedef struct {
    long episodes, goals;
    double reward, cost[CG_MAX_COSTS], kl_sum, len_sum;
    long kl_steps;
} s_tally_t;

/* Prints the JSON object's opening keys; run_dir is escaped, so any path gives valid JSON. */
static void s_json_head(const char *dir, uint64_t version, long episodes, double goal_rate,
                        double reward_mean)
{
    fputs("{\"run_dir\":", stdout);
    cg_json_string(stdout, dir);
    printf(",\"version\":%llu,\"episodes\":%ld,\"goal_rate\":%.6f,\"reward_mean\":%.6f,"
           "\"cost_rates\":{",
           (unsigned long long)version, episodes, goal_rate, reward_mean);
}

/* Exact KL(p || q) of two logit rows, p = softmax(a), q = softmax(b). */
static double s_kl(const float *a, const float *b, int32_t n, float *la, float *lb)
{
    cg_policy_log_softmax(a, n, 1.0f, la);
    cg_policy_log_softmax(b, n, 1.0f, lb);
    double kl = 0;
    for (int32_t j = 0; j < n; j++)
        kl += exp((double)la[j]) * ((double)la[j] - (double)lb[j]);
    return kl;
}

#define S_TRACE_EPISODES 8 /* episodes --trace writes */

/* The evaluation's settings. */
typedef struct {
    long episodes;
    int greedy;
    uint64_t seed;
    FILE *trace; /* --trace, or NULL */
} s_eval_opts_t;

/* Buffers of the evaluation loop, M instances. */
typedef struct {
    int32_t *run, *action, *len;
    uint8_t *busy, *done;
    float *obs, *batch, *logits, *ref, *la, *lb;
    float *action_f; /* (M, A) a Gaussian head's actions */
    cg_rng_t *rng;
    long *episode;                      /* (M) the episode on each instance */
    char *trace_text[S_TRACE_EPISODES]; /* --trace: each traced episode's lines */
    size_t trace_len[S_TRACE_EPISODES];
    FILE *trace_buf[S_TRACE_EPISODES]; /* open_memstream onto trace_text */
} s_bufs_t;

static void s_bufs_free(s_bufs_t *b)
{
    free(b->run), free(b->action), free(b->len), free(b->busy), free(b->done);
    free(b->obs), free(b->batch), free(b->logits), free(b->ref), free(b->la), free(b->lb);
    free(b->action_f), free(b->rng), free(b->episode);
    for (int e = 0; e < S_TRACE_EPISODES; e++) {
        if (b->trace_buf[e])
            fclose(b->trace_buf[e]);
        free(b->trace_text[e]);
    }
}

/* --trace: the simulator's lines for instance i after t steps, into its episode's buffer. */
static void s_trace(const cg_sim_table_t *tab, cg_sim_t *sim, s_bufs_t *b, int32_t i, int32_t t)
{
    const long e = b->episode[i];
    if (e >= S_TRACE_EPISODES)
        return;
    if (t == 0) {
        b->trace_buf[e] = open_memstream(&b->trace_text[e], &b->trace_len[e]);
        CG_ASSERT(b->trace_buf[e]);
        fprintf(b->trace_buf[e], "episode %ld\n", e);
    }
    tab->eval_trace(cg_sim_context(sim), i, t, b->trace_buf[e]);
}

/* Writes the traced episodes in their order; nonzero on a write error. */
static int s_trace_write(s_bufs_t *b, FILE *out)
{
    for (int e = 0; e < S_TRACE_EPISODES; e++) {
        if (!b->trace_buf[e])
            continue;
        fclose(b->trace_buf[e]);
        b->trace_buf[e] = NULL;
        fwrite(b->trace_text[e], 1, b->trace_len[e], out);
    }
    return fflush(out) != 0 || ferror(out);
}

/* Row k's action: the most likely one (a Gaussian's mean) with greedy, else a sample at
 * temperature 1; adds the row's exact KL to the initial policy to the tally. */
static void s_act(cg_policy_t *policy, cg_policy_t *init, s_bufs_t *b, int32_t k, int32_t A,
                  int greedy, s_tally_t *t)
{
    const float *lg = b->logits + (size_t)k * (size_t)A, *ref = b->ref + (size_t)k * (size_t)A;
    const cg_policy_shape_t *shape = cg_policy_shape(policy);
    cg_rng_t *rng = &b->rng[b->run[k]];
    t->kl_steps++;
    if (shape->head == CG_HEAD_GAUSSIAN) {
        const size_t off = cg_policy_shape_log_std_offset(shape);
        const float *ls = cg_policy_params(policy) + off, *ls0 = cg_policy_params(init) + off;
        t->kl_sum += cg_policy_gaussian_kl(lg, ls, ref, ls0, A);
        float *a = b->action_f + (size_t)k * (size_t)A;
        if (greedy)
            memcpy(a, lg, (size_t)A * sizeof *a);
        else
            cg_policy_gaussian_sample(lg, ls, A, 1.0f, rng, a, NULL);
        return;
    }
    t->kl_sum += s_kl(lg, ref, A, b->la, b->lb);
    int32_t a = 0;
    if (greedy) {
        for (int32_t j = 1; j < A; j++)
            if (lg[j] > lg[a])
                a = j;
    } else {
        a = cg_policy_sample(lg, A, 1.0f, rng, NULL);
    }
    b->action[k] = a;
}

/* Rolls out episodes 0..episodes-1, M at a time, one batched forward and one batched
 * simulator step per step; each episode starts from the simulator's evaluation state i (its
 * eval_seed hook) or a state drawn from seed. The hooks see every finished episode. */
static int s_rollout(cg_sim_t *sim, cg_policy_t *policy, cg_policy_t *init, const s_eval_opts_t *o,
                     void *hook_tally, s_tally_t *t, char *err, size_t errlen)
{
    const long episodes = o->episodes;
    const int greedy = o->greedy;
    const cg_sim_table_t *tab = cg_sim_kind_table(cg_sim_kind(sim));
    const cg_sim_params_t *params = cg_sim_kind_params(cg_sim_kind(sim));
    const cg_sim_info_t *info = cg_sim_info(sim);
    const int32_t M = cg_sim_n_instances(sim), D = info->obs_dim, A = info->n_actions;
    s_bufs_t b = {0};
    b.run = cg_calloc((size_t)M, sizeof *b.run);
    b.action = cg_calloc((size_t)M, sizeof *b.action);
    b.action_f = cg_calloc((size_t)M * (size_t)A, sizeof *b.action_f);
    b.len = cg_calloc((size_t)M, sizeof *b.len);
    b.busy = cg_calloc((size_t)M, sizeof *b.busy);
    b.done = cg_calloc((size_t)M, sizeof *b.done);
    b.obs = cg_calloc((size_t)M * (size_t)D, sizeof *b.obs);
    b.batch = cg_calloc((size_t)M * (size_t)D, sizeof *b.batch);
    b.logits = cg_calloc((size_t)M * (size_t)A, sizeof *b.logits);
    b.ref = cg_calloc((size_t)M * (size_t)A, sizeof *b.ref);
    b.la = cg_calloc((size_t)A, sizeof *b.la);
    b.lb = cg_calloc((size_t)A, sizeof *b.lb);
    b.rng = cg_calloc((size_t)M, sizeof *b.rng);
    b.episode = cg_calloc((size_t)M, sizeof *b.episode);
    cg_rng_t root, starts;
    cg_rng_seed(&root, o->seed, 0x6576616cULL);
    starts = cg_rng_split(&root, (uint64_t)M);
    for (int32_t i = 0; i < M; i++)
        b.rng[i] = cg_rng_split(&root, (uint64_t)i);
    memset(t, 0, sizeof *t);
    long next = 0;
    int rc = 0;
    for (;;) {
        for (int32_t i = 0; i < M && next < episodes; i++) {
            if (b.busy[i])
                continue;
            uint64_t s = tab->eval_seed ? tab->eval_seed(params, next) : cg_rng_u64(&starts);
            next++;
            if (cg_sim_reset(sim, i, s, b.obs + (size_t)i * (size_t)D) != CG_OK)
                goto broken;
            b.len[i] = 0;
            b.busy[i] = 1;
            b.episode[i] = next - 1;
            if (o->trace)
                s_trace(tab, sim, &b, i, 0);
        }
        int32_t n = 0;
        for (int32_t i = 0; i < M; i++)
            if (b.busy[i]) {
                memcpy(b.batch + (size_t)n * (size_t)D, b.obs + (size_t)i * (size_t)D,
                       (size_t)D * sizeof *b.obs);
                b.run[n++] = i;
            }
        if (n == 0)
            break;
        cg_policy_forward(policy, b.batch, n, b.logits);
        cg_policy_forward(init, b.batch, n, b.ref);
        for (int32_t k = 0; k < n; k++) {
            s_act(policy, init, &b, k, A, greedy, t);
            b.len[b.run[k]]++;
        }
        if ((info->continuous
                 ? cg_sim_step_batch_continuous(sim, n, b.run, b.action_f, b.obs, b.done)
                 : cg_sim_step_batch(sim, n, b.run, b.action, b.obs, b.done)) != CG_OK)
            goto broken;
        for (int32_t k = 0; k < n; k++) {
            int32_t i = b.run[k];
            if (o->trace)
                s_trace(tab, sim, &b, i, b.len[i]);
            if (!b.done[k])
                continue;
            b.busy[i] = 0;
            cg_sim_result_t res;
            if (cg_sim_result(sim, i, &res) != CG_OK)
                goto broken;
            if (hook_tally &&
                tab->eval_episode(hook_tally, cg_sim_context(sim), i, &res, err, errlen) != 0) {
                rc = -1;
                goto out;
            }
            t->episodes++;
            t->reward += res.reward;
            t->goals += res.reward >= 1.0f;
            t->len_sum += b.len[i];
            for (int32_t c = 0; c < info->n_costs; c++)
                t->cost[c] += res.cost[c];
        }
    }
    if (o->trace && s_trace_write(&b, o->trace)) {
        snprintf(err, errlen, "--trace: cannot write the trace: %s", strerror(errno));
        rc = -1;
    }
    goto out;
broken:
    snprintf(err, errlen, "%s", cg_sim_error(sim));
    rc = -1;
out:
    s_bufs_free(&b);
    return rc;
}

static void s_report(const char *dir, uint64_t version, const cg_sim_t *sim, const s_tally_t *t,
                     int greedy, int json, void *hook_tally)
{
    const cg_sim_table_t *tab = cg_sim_kind_table(cg_sim_kind(sim));
    const cg_sim_info_t *info = cg_sim_info(sim);
    double ne = t->episodes > 0 ? (double)t->episodes : 1.0;
    double kl = t->kl_steps > 0 ? t->kl_sum / (double)t->kl_steps : 0.0;
    if (json) {
        s_json_head(dir, version, t->episodes, (double)t->goals / ne, t->reward / ne);
        for (int32_t k = 0; k < info->n_costs; k++)
            printf("%s\"%s\":%.6f", k ? "," : "", info->cost_names[k], t->cost[k] / ne);
        printf("},\"decoding\":\"%s\",\"kl_init\":%.6f,\"episode_length_mean\":%.4f",
               greedy ? "greedy" : "sample", kl, t->len_sum / ne);
        if (hook_tally)
            tab->eval_report(hook_tally, 1, stdout);
        printf("}\n");
        return;
    }
    printf("%s (version %llu), %ld %sepisodes, %s actions\n  goal_rate   %.4f\n"
           "  reward_mean %.4f\n",
           dir, (unsigned long long)version, t->episodes, tab->eval_seed ? "evaluation-set " : "",
           greedy ? "greedy" : "sampled", (double)t->goals / ne, t->reward / ne);
    for (int32_t k = 0; k < info->n_costs; k++)
        printf("  %-11s %.4f\n", info->cost_names[k], t->cost[k] / ne);
    printf("  KL to initial policy %.4f  mean episode length %.2f\n", kl, t->len_sum / ne);
    if (hook_tally)
        tab->eval_report(hook_tally, 0, stdout);
    fflush(stdout);
}

/* The run's policy at its latest checkpoint (*version) and its initial policy (the warm
 * start's weights for a warm-started run), shaped for the simulator. Nonzero + err. */
static int s_load_policies(const cg_config_t *cfg, const char *dir, const cg_sim_t *sim,
                           cg_policy_t **policy, cg_policy_t **init, uint64_t *version, char *err,
                           size_t errlen)
{
    const cg_sim_info_t *info = cg_sim_info(sim);
    cg_policy_shape_t shape;
    if (cg_policy_shape_from(cfg, info->obs_dim, info->n_actions, info->continuous,
                             cg_sim_name(sim), &shape, err, errlen) != CG_OK)
        return -1;
    *policy = cg_policy_new(&shape, 0);
    *init = cg_policy_new(&shape, cg_learner_init_seed(cfg));
    if (!*policy || !*init) {
        snprintf(err, errlen, "invalid policy shape in %s/config.ini", dir);
        return -1;
    }
    if (cg_learner_read_params(dir, cg_policy_params(*policy), cg_policy_n_params(*policy), version,
                               err, errlen) != CG_OK)
        return -1;
    /* a warm-started run's initial policy is the one it started from */
    if (cfg->init[0] &&
        cg_learner_load_policy(cfg, cg_policy_n_params(*init), "[train] init", cfg->init,
                               cg_policy_params(*init), err, errlen) != CG_OK)
        return -1;
    return 0;
}

/* --trace's file, when the simulator can trace; NULL + err otherwise. */
static FILE *s_trace_open(const cg_sim_table_t *tab, const char *path, char *err, size_t errlen)
{
    if (!tab->eval_trace) {
        snprintf(err, errlen,
                 "--trace: simulator %s has no eval_trace hook (hint: navigation has one; "
                 "docs/simulators.md)",
                 tab->name);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(err, errlen, "--trace: cannot open %s: %s (hint: a writable path)", path,
                 strerror(errno));
    return f;
}

int cg_cmd_eval(int argc, char **argv)
{
    long episodes = 1000;
    long long seed = -1;
    int json = 0, greedy = 0;
    const char *trace_path = NULL;
    static const struct option longopts[] = {{"episodes", required_argument, NULL, 'n'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"greedy", no_argument, NULL, 'g'},
                                             {"trace", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'n':
            if (cg_cmd_opt_long("eval", "--episodes", optarg, 1, 100000000, &episodes))
                return 2;
            break;
        case 's':
            seed = strtoll(optarg, &end, 10);
            if (*end || seed < 0) {
                fprintf(stderr, "cgrpo eval: --seed needs a number >= 0, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'j': json = 1; break;
        case 'g': greedy = 1; break;
        case 't': trace_path = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "cgrpo eval: name one run directory (hint: cgrpo eval runs/<run>)\n");
        return 2;
    }
    const char *dir = argv[optind];
    char path[CG_PATH_LEN + 32], err[2048] = "";
    snprintf(path, sizeof path, "%s/config.ini", dir);
    if (access(path, R_OK)) {
        fprintf(stderr,
                "cgrpo eval: %s not found (hint: name a run directory written by cgrpo train)\n",
                path);
        return 1;
    }
    cg_cmd_config_opts_t copts = {0};
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    if (cg_cmd_load_config(&copts, path, cfg)) {
        free(cfg);
        return 1;
    }
    cg_cmd_blas_threads();
    int rc = 1;
    uint64_t eval_seed = seed >= 0 ? (uint64_t)seed : cfg->seed ^ 0x6576616cULL;
    int32_t M = cfg->instances;
    cg_sim_t *sim = cg_sim_new(cfg, M, eval_seed, err, sizeof err);
    cg_policy_t *policy = NULL, *init = NULL;
    void *hook_tally = NULL;
    const cg_sim_table_t *tab = NULL;
    if (!sim)
        goto done;
    tab = cg_sim_kind_table(cg_sim_kind(sim));
    uint64_t version = 0;
    if (s_load_policies(cfg, dir, sim, &policy, &init, &version, err, sizeof err))
        goto done;
    if (tab->eval_begin && !(hook_tally = tab->eval_begin(cg_sim_kind_params(cg_sim_kind(sim))))) {
        snprintf(err, sizeof err, "simulator %s: its eval_begin hook failed", tab->name);
        goto done;
    }
    s_eval_opts_t o = {episodes, greedy, eval_seed, NULL};
    if (trace_path && !(o.trace = s_trace_open(tab, trace_path, err, sizeof err)))
        goto done;
    s_tally_t tally;
    int failed = s_rollout(sim, policy, init, &o, hook_tally, &tally, err, sizeof err);
    if (o.trace && fclose(o.trace) != 0 && !failed) {
        snprintf(err, sizeof err, "--trace: cannot write %s: %s", trace_path, strerror(errno));
        failed = 1;
    }
    if (failed)
        goto done;
    s_report(dir, version, sim, &tally, greedy, json, hook_tally);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "cgrpo eval: %s\n", err);
    if (hook_tally)
        tab->eval_end(hook_tally);
    cg_policy_destroy(&init);
    cg_policy_destroy(&policy);
    cg_sim_destroy(&sim);
    free(cfg);
    return rc;
}
