/* cmd_eval: `cgrpo eval RUN_DIR`: rolls out the latest checkpoint's policy (sampling at
 * temperature 1, as trained) and reports the goal rate and each cost rate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_learner.h"
#include "cg_rollout.h"
#include "cg_sim.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cgrpo eval RUN_DIR [options]\n"
            "Evaluates the latest checkpoint of a run: goal rate, mean reward and each cost rate.\n\n"
            "  --episodes N   episodes to roll out (default 1000)\n"
            "  --seed S       evaluation seed (default: derived from the run seed)\n"
            "  --json         one JSON object: goal_rate, episodes, reward_mean, cost_rates {name: rate}\n"
            "  -h, --help     this help\n");
}

int cg_cmd_eval(int argc, char **argv)
{
    long episodes = 1000;
    long long seed = -1;
    int json = 0;
    static const struct option longopts[] = {
        {"episodes", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
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
    cg_policy_t *policy = NULL;
    cg_rollout_t *rollout = NULL;
    if (!sim)
        goto done;
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
        printf("{\"run_dir\":\"%s\",\"version\":%llu,\"episodes\":%ld,\"goal_rate\":%.6f,"
               "\"reward_mean\":%.6f,\"cost_rates\":{",
               dir, (unsigned long long)version, done_eps, goals / ne, reward / ne);
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
    cg_policy_destroy(&policy);
    cg_sim_destroy(&sim);
    free(cfg);
    return rc;
}
