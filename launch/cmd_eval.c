/* cmd_eval: `cgrpo eval RUN_DIR`: rolls out the latest checkpoint's policy (sampling at
 * temperature 1, as trained) and reports the goal rate and each cost rate. An instruct run
 * is evaluated on the fixed held-out prompt set with strict checking: HSR and SSR overall,
 * by number of constraints and by constraint type, and the KL to the initial policy. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_learner.h"
#include "cg_rollout.h"
#include "cg_sim.h"
#include "instruct.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cgrpo eval RUN_DIR [options]\n"
            "Evaluates the latest checkpoint of a run: goal rate, mean reward and each cost rate.\n\n"
            "  --episodes N   episodes to roll out (default 1000)\n"
            "  --seed S       evaluation seed (default: derived from the run seed)\n"
            "  --json         one JSON object: goal_rate, episodes, reward_mean, cost_rates {name: rate}\n"
            "  --greedy       instruct: decode greedily (most likely token) instead of sampling\n"
            "  -h, --help     this help\n\n"
            "An instruct run is evaluated on the first N prompts of the fixed held-out set (one\n"
            "text each), strictly checked: hsr = fraction with every constraint met, ssr = mean\n"
            "fraction met, both overall and by_n_constraints; by_type = how often each constraint\n"
            "type is met; kl_init = mean KL(policy || initial policy) over the visited states.\n");
}

/* Per-number-of-constraints and per-type tallies of the held-out evaluation. */
typedef struct {
    long n[CG_INSTRUCT_MAX_C + 1], all[CG_INSTRUCT_MAX_C + 1];
    double frac[CG_INSTRUCT_MAX_C + 1];
    long type_n[CG_INSTRUCT_N_TYPES], type_met[CG_INSTRUCT_N_TYPES];
    double cost[CG_MAX_COSTS], kl_sum, len_sum;
    long kl_steps, episodes;
} s_tally_t;

/* Exact KL(p || q) of two logit rows, p = softmax(a), q = softmax(b). */
/* Prints the JSON object's opening keys shared by both reports; run_dir is escaped, so any
 * path gives valid JSON. */
static void s_json_head(const char *dir, uint64_t version, long episodes, double goal_rate,
                        double reward_mean)
{
    fputs("{\"run_dir\":\"", stdout);
    for (const unsigned char *c = (const unsigned char *)dir; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    printf("\",\"version\":%llu,\"episodes\":%ld,\"goal_rate\":%.6f,\"reward_mean\":%.6f,"
           "\"cost_rates\":{",
           (unsigned long long)version, episodes, goal_rate, reward_mean);
}

static double s_kl(const float *a, const float *b, int32_t n, float *la, float *lb)
{
    cg_policy_log_softmax(a, n, 1.0f, la);
    cg_policy_log_softmax(b, n, 1.0f, lb);
    double kl = 0;
    for (int32_t j = 0; j < n; j++)
        kl += exp((double)la[j]) * ((double)la[j] - (double)lb[j]);
    return kl;
}

/* Rolls out the policy on held-out prompts 0..episodes-1, one text each, M at a time. Every
 * episode is re-checked here with the verifiers (strict: a constraint counts only if its
 * check passes on the text as written) and must agree with the simulator's reward. */
static int s_eval_instruct(const cg_config_t *cfg, cg_sim_t *sim, cg_policy_t *policy,
                           cg_policy_t *init, long episodes, int greedy, uint64_t seed,
                           s_tally_t *t, char *err, size_t errlen)
{
    cg_instruct_spec_t spec;
    if (cg_instruct_spec_from(cfg, &spec, err, errlen))
        return -1;
    const cg_sim_info_t *info = cg_sim_info(sim);
    int32_t M = cg_sim_n_instances(sim), D = info->obs_dim, A = info->n_actions;
    int32_t eos = cg_instruct_eos(&spec);
    cg_instruct_prompt_t *prompt = cg_calloc((size_t)M, sizeof *prompt);
    int32_t *text = cg_calloc((size_t)M * CG_INSTRUCT_MAX_LEN, sizeof *text);
    int32_t *len = cg_calloc((size_t)M, sizeof *len), *run = cg_calloc((size_t)M, sizeof *run);
    int8_t *busy = cg_calloc((size_t)M, sizeof *busy);
    float *obs = cg_calloc((size_t)M * (size_t)D, sizeof *obs);
    float *batch = cg_calloc((size_t)M * (size_t)D, sizeof *batch);
    float *logits = cg_calloc((size_t)M * (size_t)A, sizeof *logits);
    float *ref = cg_calloc((size_t)M * (size_t)A, sizeof *ref);
    float *la = cg_calloc((size_t)A, sizeof *la), *lb = cg_calloc((size_t)A, sizeof *lb);
    cg_rng_t root, *rng = cg_calloc((size_t)M, sizeof *rng);
    cg_rng_seed(&root, seed, 0x6576616cULL);
    for (int32_t i = 0; i < M; i++)
        rng[i] = cg_rng_split(&root, (uint64_t)i);
    memset(t, 0, sizeof *t);
    long next = 0;
    int rc = 0;
    for (;;) {
        for (int32_t i = 0; i < M && next < episodes; i++) {
            if (busy[i])
                continue;
            uint64_t s = cg_instruct_heldout_seed(next++);
            cg_instruct_prompt(&spec, s, &prompt[i]);
            cg_sim_reset(sim, i, s, obs + (size_t)i * (size_t)D);
            len[i] = 0;
            busy[i] = 1;
        }
        int32_t n = 0;
        for (int32_t i = 0; i < M; i++)
            if (busy[i]) {
                memcpy(batch + (size_t)n * (size_t)D, obs + (size_t)i * (size_t)D,
                       (size_t)D * sizeof *obs);
                run[n++] = i;
            }
        if (n == 0)
            break;
        cg_policy_forward(policy, batch, n, logits);
        cg_policy_forward(init, batch, n, ref);
        for (int32_t k = 0; k < n; k++) {
            int32_t i = run[k];
            const float *lg = logits + (size_t)k * (size_t)A;
            t->kl_sum += s_kl(lg, ref + (size_t)k * (size_t)A, A, la, lb);
            t->kl_steps++;
            int32_t a = 0;
            if (greedy) {
                for (int32_t j = 1; j < A; j++)
                    if (lg[j] > lg[a])
                        a = j;
            } else {
                a = cg_policy_sample(lg, A, 1.0f, &rng[i], NULL);
            }
            if (a != eos)
                text[(size_t)i * CG_INSTRUCT_MAX_LEN + (size_t)len[i]++] = a;
            if (!cg_sim_step(sim, i, a, obs + (size_t)i * (size_t)D))
                continue;
            busy[i] = 0;
            cg_sim_result_t res;
            cg_sim_result(sim, i, &res);
            uint8_t met[CG_INSTRUCT_MAX_C];
            int32_t C = prompt[i].n;
            int32_t ok = cg_instruct_score(&spec, &prompt[i], text + (size_t)i * CG_INSTRUCT_MAX_LEN,
                                           len[i], met);
            if (res.n_checks != C || fabsf(res.reward - (float)ok / (float)C) > 1e-6f) {
                snprintf(err, errlen, "held-out prompt: the simulator's reward %g (%d checks) "
                         "disagrees with the verifiers (%d of %d met) (hint: a bug in instruct)",
                         (double)res.reward, res.n_checks, ok, C);
                rc = -1;
                goto out;
            }
            t->episodes++;
            t->n[C]++;
            t->all[C] += ok == C;
            t->frac[C] += (double)ok / (double)C;
            t->len_sum += len[i];
            for (int32_t c = 0; c < C; c++) {
                t->type_n[prompt[i].c[c].type]++;
                t->type_met[prompt[i].c[c].type] += met[c];
            }
            for (int32_t c = 0; c < info->n_costs; c++)
                t->cost[c] += res.cost[c];
        }
    }
out:
    free(rng);
    free(lb);
    free(la);
    free(ref);
    free(logits);
    free(batch);
    free(obs);
    free(busy);
    free(run);
    free(len);
    free(text);
    free(prompt);
    return rc;
}

static void s_report_instruct(const char *dir, uint64_t version, const cg_sim_info_t *info,
                              const s_tally_t *t, int greedy, int json)
{
    long hsr_n = 0;
    double ssr = 0, ne = t->episodes > 0 ? (double)t->episodes : 1.0;
    for (int c = 1; c <= CG_INSTRUCT_MAX_C; c++) {
        hsr_n += t->all[c];
        ssr += t->frac[c];
    }
    double kl = t->kl_steps > 0 ? t->kl_sum / (double)t->kl_steps : 0.0;
    if (json) {
        s_json_head(dir, version, t->episodes, hsr_n / ne, ssr / ne);
        for (int32_t k = 0; k < info->n_costs; k++)
            printf("%s\"%s\":%.6f", k ? "," : "", info->cost_names[k], t->cost[k] / ne);
        printf("},\"prompt_set\":\"heldout\",\"decoding\":\"%s\",\"hsr\":%.6f,\"ssr\":%.6f,"
               "\"kl_init\":%.6f,\"length_mean\":%.4f,\"by_n_constraints\":{",
               greedy ? "greedy" : "sample", hsr_n / ne, ssr / ne, kl, t->len_sum / ne);
        for (int c = 1, first = 1; c <= CG_INSTRUCT_MAX_C; c++) {
            if (!t->n[c])
                continue;
            printf("%s\"%d\":{\"episodes\":%ld,\"hsr\":%.6f,\"ssr\":%.6f}", first ? "" : ",", c,
                   t->n[c], (double)t->all[c] / (double)t->n[c], t->frac[c] / (double)t->n[c]);
            first = 0;
        }
        printf("},\"by_type\":{");
        for (int y = 0, first = 1; y < CG_INSTRUCT_N_TYPES; y++) {
            if (!t->type_n[y])
                continue;
            printf("%s\"%s\":{\"n\":%ld,\"met\":%.6f}", first ? "" : ",",
                   cg_instruct_type_name(y), t->type_n[y],
                   (double)t->type_met[y] / (double)t->type_n[y]);
            first = 0;
        }
        printf("}}\n");
        return;
    }
    printf("%s (version %llu), %ld held-out prompts, %s decoding\n"
           "  goal_rate   %.4f\n  reward_mean %.4f\n", dir, (unsigned long long)version,
           t->episodes, greedy ? "greedy" : "sampled", hsr_n / ne, ssr / ne);
    for (int32_t k = 0; k < info->n_costs; k++)
        printf("  %-11s %.4f\n", info->cost_names[k], t->cost[k] / ne);
    printf("  HSR %.4f  SSR %.4f  KL to initial policy %.4f  mean length %.2f\n"
           "  constraints  prompts    HSR     SSR\n", hsr_n / ne, ssr / ne, kl, t->len_sum / ne);
    for (int c = 1; c <= CG_INSTRUCT_MAX_C; c++)
        if (t->n[c])
            printf("  %11d  %7ld  %.4f  %.4f\n", c, t->n[c], (double)t->all[c] / (double)t->n[c],
                   t->frac[c] / (double)t->n[c]);
    printf("  by type (fraction met):");
    for (int y = 0; y < CG_INSTRUCT_N_TYPES; y++)
        if (t->type_n[y])
            printf(" %s %.3f", cg_instruct_type_name(y), (double)t->type_met[y] / (double)t->type_n[y]);
    printf("\n");
}

int cg_cmd_eval(int argc, char **argv)
{
    long episodes = 1000;
    long long seed = -1;
    int json = 0, greedy = 0;
    static const struct option longopts[] = {
        {"episodes", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'}, {"greedy", no_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'n':
            episodes = strtol(optarg, &end, 10);
            if (*end || episodes < 1 || episodes > 100000000) {
                fprintf(stderr, "cgrpo eval: --episodes needs a number >= 1, got '%s'\n", optarg);
                return 2;
            }
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
        fprintf(stderr, "cgrpo eval: %s not found (hint: name a run directory written by cgrpo train)\n", path);
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
    cg_rollout_t *rollout = NULL;
    if (!sim)
        goto done;
    int instruct = !strcmp(cfg->sim, "instruct");
    if (greedy && !instruct) {
        snprintf(err, sizeof err, "--greedy: only for instruct runs (hint: drop --greedy)");
        goto done;
    }
    const cg_sim_info_t *info = cg_sim_info(sim);
    cg_policy_shape_t shape = {.obs_dim = info->obs_dim, .n_actions = info->n_actions,
                               .n_hidden = cfg->n_hidden, .activation = cfg->activation};
    memcpy(shape.hidden, cfg->hidden, sizeof shape.hidden);
    policy = cg_policy_new(&shape, 0);
    if (!policy) {
        snprintf(err, sizeof err, "invalid policy shape in %s", path);
        goto done;
    }
    uint64_t version = 0;
    if (cg_learner_read_params(dir, cg_policy_params(policy), cg_policy_n_params(policy), &version,
                               err, sizeof err) != CG_OK)
        goto done;
    if (instruct) {
        s_tally_t tally;
        init = cg_policy_new(&shape, cg_learner_init_seed(cfg));
        if (s_eval_instruct(cfg, sim, policy, init, episodes, greedy, eval_seed, &tally, err,
                            sizeof err))
            goto done;
        s_report_instruct(dir, version, info, &tally, greedy, json);
        rc = 0;
        goto done;
    }
    cg_rollout_opts_t ropts = {.group_size = 1, .seed = eval_seed};
    rollout = cg_rollout_new(sim, policy, &ropts, err, sizeof err);
    if (!rollout)
        goto done;
    cg_rollout_set_budget(rollout, episodes);
    long done_eps = 0;
    double reward = 0, goals = 0, costs[CG_MAX_COSTS] = {0};
    while (done_eps < episodes) {
        cg_rollout_step(rollout);
        cg_msg_groups_t out;
        int32_t n = cg_rollout_take(rollout, 1 << 20, 0, &out);
        for (int32_t g = 0; g < n; g++) {
            const cg_msg_episode_t *ep = &out.groups[g].episodes[0];
            reward += ep->reward;
            goals += ep->reward >= 1.0f;
            for (int32_t k = 0; k < info->n_costs; k++)
                costs[k] += ep->cost[k];
            done_eps++;
        }
        if (n)
            cg_rollout_release(rollout);
        if (n == 0 && cg_rollout_in_flight(rollout) == 0 && cg_rollout_budget(rollout) == 0)
            break;
    }
    double ne = done_eps > 0 ? (double)done_eps : 1.0;
    if (json) {
        s_json_head(dir, version, done_eps, goals / ne, reward / ne);
        for (int32_t k = 0; k < info->n_costs; k++)
            printf("%s\"%s\":%.6f", k ? "," : "", info->cost_names[k], costs[k] / ne);
        printf("}}\n");
    } else {
        printf("%s (version %llu), %ld episodes\n  goal_rate   %.4f\n  reward_mean %.4f\n", dir,
               (unsigned long long)version, done_eps, goals / ne, reward / ne);
        for (int32_t k = 0; k < info->n_costs; k++)
            printf("  %-11s %.4f\n", info->cost_names[k], costs[k] / ne);
    }
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "cgrpo eval: %s\n", err);
    cg_rollout_destroy(&rollout);
    cg_policy_destroy(&init);
    cg_policy_destroy(&policy);
    cg_sim_destroy(&sim);
    free(cfg);
    return rc;
}
