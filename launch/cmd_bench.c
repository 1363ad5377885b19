/* cmd_bench: `cgrpo bench`: for each simulator, env-steps/s of the bare rollout loop
 * (simulator + batched policy inference, no network, no learner) against end-to-end
 * training with the same simulator, actor count and machine, printed side by side with
 * their ratio, and written as CSV to the bench directory; with --overlap, end-to-end training
 * again with the learner's updates overlapped with ingest ([learner] overlap on vs off). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_rollout.h"
#include "cg_sim.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cgrpo bench [options]\n"
            "Measures env-steps/s of the bare rollout loop (simulator + policy inference) and of\n"
            "end-to-end training with the same simulator and actor count, and their ratio.\n\n"
            "  --sims LIST         simulators, comma separated (default: null and the default\n"
            "                      simulator; a plugin's with --set sim.plugin=PATH)\n"
            "  --actors N          actor processes in both measurements (default 1)\n"
            "  --seconds S         duration of each bare-loop measurement (default 5)\n"
            "  --iterations I      training iterations of each end-to-end run (default 8)\n"
            "  --overlap           end-to-end twice: [learner] overlap = off, then on (the\n"
            "                      learner's updates on their own thread, double-buffered)\n"
            "  --config FILE       base config (default: built-in); --set SEC.KEY=VALUE repeatable\n"
            "  --out DIR           results directory (default bench/<time>)\n"
            "  -h, --help          this help\n\n"
            "The actor-scaling study instead: cgrpo bench --actors 1,2,4,... --sim SIM\n"
            "(--sim, or a list of actor counts, selects it; cgrpo bench --sim null --help).\n");
}

/* One end-to-end training run in run_dir: env-steps/s of the learner's run, -1 on failure. */
static double s_e2e_rate(const cg_config_t *cfg, const char *sim, const char *run_dir, long actors)
{
    double wall = 0;
    int64_t steps = 0;
    int rc = cg_cmd_run_training(cfg, run_dir, 0, "", 0, (int)actors, 1, &wall, &steps);
    if (rc != 0 && rc != 130)
        fprintf(stderr, "cgrpo bench: the end-to-end run of %s failed (run directory %s)\n", sim,
                run_dir);
    return rc == 0 && wall > 0 ? (double)steps / wall : -1;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One bare loop for `seconds`: returns env steps done, or -1. */
static double s_bare_loop(const cg_config_t *cfg, uint64_t seed, double seconds)
{
    char err[512];
    cg_sim_t *sim = cg_sim_new(cfg, cfg->instances, seed, err, sizeof err);
    if (!sim) {
        fprintf(stderr, "cgrpo bench: %s\n", err);
        return -1;
    }
    const cg_sim_info_t *info = cg_sim_info(sim);
    cg_policy_shape_t shape = {.obs_dim = info->obs_dim, .n_actions = info->n_actions,
                               .n_hidden = cfg->n_hidden, .activation = cfg->activation};
    memcpy(shape.hidden, cfg->hidden, sizeof shape.hidden);
    cg_policy_t *policy = cg_policy_new(&shape, seed);
    cg_rollout_opts_t ropts = {.group_size = cfg->group_size, .n_temperatures = cfg->n_temperatures,
                               .temperatures = cfg->temperatures, .seed = seed};
    cg_rollout_t *rollout = policy ? cg_rollout_new(sim, policy, &ropts, err, sizeof err) : NULL;
    double steps = -1;
    if (rollout) {
        double t0 = s_now();
        while (s_now() - t0 < seconds) {
            for (int i = 0; i < 64; i++)
                if (cg_rollout_step(rollout) < 0) {
                    fprintf(stderr, "cgrpo bench: %s\n", cg_sim_error(sim));
                    seconds = 0; /* stop, and report the failure below */
                    steps = -2;
                    break;
                }
            cg_msg_groups_t out;
            if (cg_rollout_take(rollout, 1 << 20, 0, &out))
                cg_rollout_release(rollout);
        }
        cg_rollout_stats_t st;
        cg_rollout_stats(rollout, &st);
        steps = steps == -2 ? -1 : (double)st.steps;
    } else {
        fprintf(stderr, "cgrpo bench: %s\n", err);
    }
    cg_rollout_destroy(&rollout);
    cg_policy_destroy(&policy);
    cg_sim_destroy(&sim);
    return steps;
}

/* n_procs bare loops side by side (forked), total env-steps/s. */
static double s_bare_rate(const cg_config_t *cfg, int n_procs, double seconds)
{
    pid_t pids[1024];
    int fds[1024];
    for (int i = 0; i < n_procs; i++) {
        int p[2];
        if (pipe(p))
            return -1;
        fflush(NULL);
        pids[i] = fork();
        if (pids[i] == 0) {
            close(p[0]);
            double steps = s_bare_loop(cfg, cfg->seed + (uint64_t)i, seconds);
            ssize_t w = write(p[1], &steps, sizeof steps);
            _exit(w == (ssize_t)sizeof steps ? 0 : 1);
        }
        close(p[1]);
        fds[i] = p[0];
    }
    double total = 0;
    int ok = 1;
    for (int i = 0; i < n_procs; i++) {
        double steps = -1;
        if (read(fds[i], &steps, sizeof steps) != (ssize_t)sizeof steps || steps < 0)
            ok = 0;
        total += steps;
        close(fds[i]);
        waitpid(pids[i], NULL, 0);
    }
    return ok ? total / seconds : -1;
}

int cg_cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--sim") ||
            (!strcmp(argv[i], "--actors") && i + 1 < argc && strchr(argv[i + 1], ',')))
            return cg_cmd_bench_scaling(argc, argv);
    cg_cmd_config_opts_t copts = {0};
    char sims_buf[256];
    snprintf(sims_buf, sizeof sims_buf, "null,%s", cg_sim_builtin(0)->name);
    const char *out_dir = NULL;
    long actors = 1, iterations = 8;
    double seconds = 5;
    int overlap = 0;
    static const struct option longopts[] = {
        {"sims", required_argument, NULL, 'S'}, {"actors", required_argument, NULL, 'a'},
        {"seconds", required_argument, NULL, 'T'}, {"iterations", required_argument, NULL, 'i'},
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'}, {"overlap", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'S': snprintf(sims_buf, sizeof sims_buf, "%s", optarg); break;
        case 'a':
            actors = strtol(optarg, &end, 10);
            if (*end || actors < 1 || actors > 1024) {
                fprintf(stderr, "cgrpo bench: --actors needs 1..1024, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'T':
            seconds = strtod(optarg, &end);
            if (*end || !(seconds > 0 && seconds < 3600)) {
                fprintf(stderr, "cgrpo bench: --seconds needs a number in (0, 3600), got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'i':
            iterations = strtol(optarg, &end, 10);
            if (*end || iterations < 1 || iterations > 100000) {
                fprintf(stderr, "cgrpo bench: --iterations needs a number >= 1, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c': copts.config_path = optarg; break;
        case 's': if (cg_cmd_add_set(&copts, optarg)) return 2; break;
        case 'o': out_dir = optarg; break;
        case 'O': overlap = 1; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cgrpo bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char dir[CG_PATH_LEN];
    if (out_dir) {
        snprintf(dir, sizeof dir, "%s", out_dir);
    } else {
        cg_cmd_stamp_dir(dir, sizeof dir, "bench", NULL);
    }
    if (mkdir(dir, 0755) && access(dir, W_OK)) {
        fprintf(stderr, "cgrpo bench: cannot create %s\n", dir);
        return 1;
    }
    cg_cmd_blas_threads();
    char csv_path[CG_PATH_LEN + 32];
    snprintf(csv_path, sizeof csv_path, "%s/bench.csv", dir);
    FILE *csv = fopen(csv_path, "w");
    if (!csv) {
        fprintf(stderr, "cgrpo bench: cannot write %s\n", csv_path);
        return 1;
    }
    fprintf(csv, "sim,actors,instances,bare_steps_per_s,e2e_steps_per_s,ratio%s\n",
            overlap ? ",e2e_overlap_steps_per_s,overlap_on_off" : "");
    printf("%-10s %6s %9s %16s %16s %7s", "sim", "actors", "instances", "bare steps/s",
           overlap ? "e2e (off)" : "e2e steps/s", "ratio");
    if (overlap)
        printf(" %16s %7s", "e2e (overlap)", "on/off");
    printf("\n");
    int status = 0;
    for (char *save = NULL, *sim = strtok_r(sims_buf, ",", &save); sim;
         sim = strtok_r(NULL, ",", &save)) {
        char set_sim[96], set_iters[64], set_actors[64];
        cg_cmd_config_opts_t o = copts;
        snprintf(set_sim, sizeof set_sim, "sim.name=%s", sim);
        snprintf(set_iters, sizeof set_iters, "run.iterations=%ld", iterations);
        snprintf(set_actors, sizeof set_actors, "actor.actors=%ld", actors);
        /* Checkpoints would be measured too; only the one at exit is written. */
        if (cg_cmd_add_set(&o, set_sim) || cg_cmd_add_set(&o, set_iters) ||
            cg_cmd_add_set(&o, set_actors) || cg_cmd_add_set(&o, "run.checkpoint_every=0"))
            return 2;
        cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
        if (cg_cmd_load_config(&o, NULL, cfg)) {
            free(cfg);
            status = 1;
            continue;
        }
        double bare = s_bare_rate(cfg, (int)actors, seconds);
        char run_dir[CG_PATH_LEN + 64];
        snprintf(run_dir, sizeof run_dir, "%s/run-%s", dir, sim);
        if (overlap)
            cfg->overlap = CG_OVERLAP_OFF;
        double e2e = s_e2e_rate(cfg, sim, run_dir, actors);
        if (bare <= 0 || e2e <= 0)
            status = 1;
        double ratio = bare > 0 && e2e > 0 ? e2e / bare : 0;
        printf("%-10s %6ld %9d %16.0f %16.0f %7.3f", sim, actors, cfg->instances, bare, e2e, ratio);
        fprintf(csv, "%s,%ld,%d,%.1f,%.1f,%.4f", sim, actors, cfg->instances, bare, e2e, ratio);
        if (overlap && !cg_cmd_stop) {
            snprintf(run_dir, sizeof run_dir, "%s/run-%s-overlap", dir, sim);
            cfg->overlap = CG_OVERLAP_ON;
            double e2e_on = s_e2e_rate(cfg, sim, run_dir, actors);
            if (e2e_on <= 0)
                status = 1;
            double on_off = e2e > 0 && e2e_on > 0 ? e2e_on / e2e : 0;
            printf(" %16.0f %7.3f", e2e_on, on_off);
            fprintf(csv, ",%.1f,%.4f", e2e_on, on_off);
        }
        printf("\n");
        fprintf(csv, "\n");
        fflush(stdout);
        free(cfg);
        if (cg_cmd_stop)
            break;
    }
    fclose(csv);
    printf("results: %s\n", csv_path);
    return status;
}
