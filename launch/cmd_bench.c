/* cmd_bench: `cgrpo bench`: for each simulator, in one run on one machine: env-steps/s of
 * the bare rollout loop (simulator + batched policy inference, no network, no learner); the
 * CPU update's samples/s on minibatches of the run's shape, against the single-thread sgemm
 * rate on the update's own GEMM shapes (the ceiling); end-to-end training with the same
 * simulator and actor count, the cores it kept busy and the share of groups dropped as stale;
 * and the ratios. Printed and written as CSV to the bench directory; with --overlap, end to
 * end again with the learner's updates overlapped with ingest ([learner] overlap on vs off). */
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_backend.h"
#include "cg_cmd.h"
#include "cg_os.h"
#include "cg_rng.h"
#include "cg_rollout.h"
#include "cg_sim.h"

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: cgrpo bench [options]\n"
        "Measures env-steps/s of the bare rollout loop (simulator + policy inference) and of\n"
        "end-to-end training with the same simulator and actor count, and their ratio; the\n"
        "CPU update's samples/s against the single-thread sgemm ceiling of its own shapes;\n"
        "the cores end to end kept busy (whole run; the machine's while it trained), its\n"
        "stale groups, and e2e against the ceiling and against min(bare loop, update /\n"
        "epochs) (docs/performance.md).\n\n"
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
        "The actor-scaling study is its own command: cgrpo scaling --actors 1,2,4,... --sim SIM\n"
        "(cgrpo bench --actors 1,2,4,... --sim SIM still runs it, as an alias)\n"
        "(--sim, or a list of actor counts, selects it; cgrpo bench --sim null --help).\n");
}

/* CPU seconds of this process and its reaped children (the local actors). */
static double s_cpu_s(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    const struct timeval *t[4] = {&self.ru_utime, &self.ru_stime, &kids.ru_utime, &kids.ru_stime};
    double s = 0;
    for (int k = 0; k < 4; k++)
        s += (double)t[k]->tv_sec + 1e-6 * (double)t[k]->tv_usec;
    return s;
}

/* What one end-to-end run measured. */
typedef struct {
    double steps_per_s; /* env-steps/s of the learner's run; -1 on failure */
    double cores;       /* CPU seconds (learner + actors) per wall second */
    double train_cores; /* the machine's cores busy from the first update to the last; -1 */
    double stale_frac;  /* groups dropped as stale / groups received */
    double steps_per_iter;
} s_e2e_t;

/* One end-to-end training run in run_dir. */
static s_e2e_t s_e2e(const cg_config_t *cfg, const char *sim, const char *run_dir, long actors)
{
    cg_learner_counters_t c = {0};
    double cpu0 = s_cpu_s(), t0 = cg_os_now();
    const cg_cmd_training_t how = {
        .dir = run_dir, .token = "", .n_actors = (int)actors, .quiet = 1, .counters = &c};
    int rc = cg_cmd_run_training(cfg, &how);
    double cpu = s_cpu_s() - cpu0, wall = cg_os_now() - t0;
    if (rc != 0 && rc != 130)
        fprintf(stderr, "cgrpo bench: the end-to-end run of %s failed (run directory %s)\n", sim,
                run_dir);
    s_e2e_t e = {.steps_per_s = -1, .train_cores = -1};
    if (rc == 0 && c.run_s > 0) {
        e.steps_per_s = (double)c.env_steps / c.run_s;
        e.cores = wall > 0 ? cpu / wall : 0;
        e.train_cores = c.train_cores;
        double got = (double)(c.groups_ingested + c.dropped_stale);
        e.stale_frac = got > 0 ? (double)c.dropped_stale / got : 0;
        e.steps_per_iter = c.iteration > 0 ? (double)c.env_steps / (double)c.iteration : 0;
    }
    return e;
}

/* The update against its ceiling, on the run's shape. */
typedef struct {
    double samples_per_s; /* CPU backend updates, [learner] threads, minibatches of `rows` */
    double gflops;        /* single-thread sgemm on the update's GEMM shapes */
    double ceiling;       /* samples/s those GEMMs alone would allow on one core */
    int32_t threads;
} s_update_t;

/* Single-thread GFLOP/s of the update's GEMMs for n rows: per layer (in -> out) the forward
 * X W^T, and backward dY^T X and (but the first layer) dY W; and their flops per sample. */
static double s_sgemm_gflops(const cg_policy_shape_t *shape, int32_t n, double seconds,
                             double *flops_per_sample)
{
    int32_t dims[CG_MAX_LAYERS + 2], L = shape->n_hidden + 1, widest = shape->obs_dim;
    dims[0] = shape->obs_dim;
    for (int32_t l = 0; l < L; l++) {
        dims[l + 1] = l < shape->n_hidden ? shape->hidden[l] : shape->n_actions;
        widest = dims[l + 1] > widest ? dims[l + 1] : widest;
    }
    float *a = cg_calloc((size_t)n * (size_t)widest, sizeof(float));
    float *b = cg_calloc((size_t)n * (size_t)widest, sizeof(float));
    float *w = cg_calloc((size_t)widest * (size_t)widest, sizeof(float));
    float *c = cg_calloc((size_t)n * (size_t)widest, sizeof(float));
    for (size_t i = 0; i < (size_t)n * (size_t)widest; i++)
        a[i] = b[i] = 0.001f * (float)(i % 1000);
    double per = 0;
    for (int32_t l = 0; l < L; l++)
        per += 2.0 * dims[l] * dims[l + 1] * (l == 0 ? 2 : 3);
    *flops_per_sample = per;
    double t0 = cg_os_now(), flops = 0;
    do {
        for (int32_t l = 0; l < L; l++) {
            int32_t in = dims[l], out = dims[l + 1];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, a, in, w, in,
                        0.0f, c, out);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, b, out, a, in,
                        1.0f, w, in);
            if (l > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, b, out, w,
                            in, 0.0f, c, in);
        }
        flops += per * n;
    } while (cg_os_now() - t0 < seconds);
    double gflops = flops / (cg_os_now() - t0) / 1e9;
    free(c);
    free(w);
    free(b);
    free(a);
    return gflops;
}

/* Updates of the CPU backend ([learner] threads) on random minibatches of `rows` steps of the
 * simulator's shape for about `seconds`, and the sgemm ceiling of the same shapes. */
static int s_update_rate(const cg_config_t *cfg, int32_t rows, double seconds, s_update_t *out)
{
    cg_env_spec_t env;
    if (cg_cmd_env(cfg, &env))
        return -1;
    char err[512];
    cg_policy_shape_t shape;
    if (cg_policy_shape_from(cfg, env.obs_dim, env.n_actions, env.continuous, env.sim, &shape, err,
                             sizeof err) != CG_OK) {
        fprintf(stderr, "cgrpo bench: %s\n", err);
        return -1;
    }
    cg_adam_config_t adam = {cfg->lr, cfg->adam_beta1, cfg->adam_beta2, cfg->adam_eps,
                             cfg->max_grad_norm};
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    out->threads = cfg->threads > 0 ? cfg->threads
                   : online < 1     ? 1
                   : online > 64    ? 64
                                    : (int32_t)online;
    cg_backend_t *be = cg_backend_new(CG_DEVICE_CPU, &shape, &adam, cfg->seed, err, sizeof err);
    if (!be || cg_backend_set_threads(be, out->threads, err, sizeof err) != CG_OK) {
        fprintf(stderr, "cgrpo bench: %s\n", err);
        cg_backend_destroy(&be);
        return -1;
    }
    const size_t n = (size_t)rows, d = (size_t)env.obs_dim;
    float *obs = cg_calloc(n * d, sizeof(float)), *lp = cg_calloc(n, sizeof(float));
    float *adv = cg_calloc(n, sizeof(float)), *w = cg_calloc(n, sizeof(float));
    int32_t *act = cg_calloc(n, sizeof(int32_t));
    const size_t a_dim = (size_t)env.n_actions;
    float *act_f = cg_calloc(n * a_dim, sizeof(float)); /* a Gaussian head's actions */
    cg_rng_t rng;
    cg_rng_seed(&rng, cfg->seed, 0x62656e6368ULL);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            obs[i * d + j] = (float)cg_rng_normal(&rng);
        act[i] = (int32_t)cg_rng_below(&rng, (uint32_t)env.n_actions);
        for (size_t j = 0; j < a_dim; j++)
            act_f[i * a_dim + j] = (float)cg_rng_normal(&rng);
        lp[i] = (float)-log((double)env.n_actions);
        adv[i] = (float)cg_rng_normal(&rng);
        w[i] = 1.0f / (float)rows;
    }
    const int gaussian = shape.head == CG_HEAD_GAUSSIAN;
    cg_minibatch_t mb = {.n = rows,
                         .obs = obs,
                         .action = gaussian ? NULL : act,
                         .action_f = gaussian ? act_f : NULL,
                         .logp_old = lp,
                         .adv = adv,
                         .weight = w};
    cg_loss_config_t loss = {cfg->clip, cfg->kl_coef, cfg->ent_coef};
    int rc = 0;
    long updates = 0;
    rc |= cg_backend_update(be, &mb, &loss, NULL) != CG_OK; /* warm-up */
    double t0 = cg_os_now();
    do {
        rc |= cg_backend_update(be, &mb, &loss, NULL) != CG_OK;
        updates++;
    } while (!rc && cg_os_now() - t0 < seconds);
    out->samples_per_s = rc ? -1 : (double)updates * (double)rows / (cg_os_now() - t0);
    double per = 0;
    out->gflops = s_sgemm_gflops(&shape, rows, seconds / 2, &per);
    out->ceiling = out->gflops * 1e9 / per;
    free(act_f), free(act), free(w), free(adv), free(lp), free(obs);
    cg_backend_destroy(&be);
    return rc ? -1 : 0;
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
    cg_policy_shape_t shape;
    cg_policy_t *policy = NULL;
    if (cg_policy_shape_from(cfg, info->obs_dim, info->n_actions, info->continuous,
                             cg_sim_name(sim), &shape, err, sizeof err) == CG_OK)
        policy = cg_policy_new(&shape, seed);
    cg_rollout_opts_t ropts = {.group_size = cfg->group_size,
                               .n_temperatures = cfg->n_temperatures,
                               .top_p = cfg->top_p,
                               .temperatures = cfg->temperatures,
                               .seed = seed};
    cg_rollout_t *rollout = policy ? cg_rollout_new(sim, policy, &ropts, err, sizeof err) : NULL;
    double steps = -1;
    if (rollout) {
        double t0 = cg_os_now();
        while (cg_os_now() - t0 < seconds) {
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

/* One simulator: the bare loop, end to end (and with overlap), the update against its
 * ceiling, printed as two lines and one CSV row. 0, or 1 when a measurement failed. */
static int s_row(cg_config_t *cfg, const char *sim, const char *dir, long actors, double seconds,
                 int overlap, FILE *csv)
{
    int status = 0;
    double bare = s_bare_rate(cfg, (int)actors, seconds);
    char run_dir[CG_PATH_LEN + 64];
    snprintf(run_dir, sizeof run_dir, "%s/run-%s", dir, sim);
    if (overlap)
        cfg->overlap = CG_OVERLAP_OFF;
    s_e2e_t e = s_e2e(cfg, sim, run_dir, actors);
    double e2e = e.steps_per_s;
    if (bare <= 0 || e2e <= 0)
        status = 1;
    double ratio = bare > 0 && e2e > 0 ? e2e / bare : 0;
    printf("%-10s %6ld %9d %16.0f %16.0f %7.3f", sim, actors, cfg->instances, bare, e2e, ratio);
    fprintf(csv, "%s,%ld,%d,%.1f,%.1f,%.4f", sim, actors, cfg->instances, bare, e2e, ratio);
    if (overlap && !cg_cmd_stop) {
        snprintf(run_dir, sizeof run_dir, "%s/run-%s-overlap", dir, sim);
        cfg->overlap = CG_OVERLAP_ON;
        double e2e_on = s_e2e(cfg, sim, run_dir, actors).steps_per_s;
        if (e2e_on <= 0)
            status = 1;
        double on_off = e2e > 0 && e2e_on > 0 ? e2e_on / e2e : 0;
        printf(" %16.0f %7.3f", e2e_on, on_off);
        fprintf(csv, ",%.1f,%.4f", e2e_on, on_off);
    }
    printf("\n");
    /* The update on minibatches of the end-to-end run's size (steps per iteration / M). */
    s_update_t u = {0};
    int32_t rows = (int32_t)(e.steps_per_iter / cfg->minibatches + 0.5);
    if (cg_cmd_stop || rows < 1 || s_update_rate(cfg, rows, seconds, &u))
        status = 1, u.samples_per_s = -1;
    const double per_core = u.threads > 0 ? u.samples_per_s / u.threads : 0;
    const double vs_ceiling = u.ceiling > 0 ? per_core / u.ceiling : 0;
    /* Each env step is trained on `epochs` times: the steps/s an update rate can consume. */
    const double consume = u.samples_per_s / cfg->epochs;
    const double ceil_steps = u.ceiling * u.threads / cfg->epochs;
    const double lo = bare < consume ? bare : consume;
    const double vs_ceil_e2e = ceil_steps > 0 ? e2e / ceil_steps : 0;
    const double vs_min = lo > 0 ? e2e / lo : 0;
    printf("%-10s update %.0f samples/s (%d threads, minibatch %d) = %.2f of the sgemm ceiling "
           "per core (%.1f GFLOP/s single-thread -> %.0f samples/s)\n%-10s end to end: %.2f "
           "cores busy (whole run; %.2f while training, machine), %.1f %% of groups stale; "
           "e2e / ceiling %.3f, e2e / min(bare, update/E) %.3f\n",
           "", u.samples_per_s, u.threads, rows, vs_ceiling, u.gflops, u.ceiling, "", e.cores,
           e.train_cores, 100.0 * e.stale_frac, vs_ceil_e2e, vs_min);
    fprintf(csv, ",%.1f,%d,%.2f,%.1f,%.4f,%.3f,%.4f,%.4f,%.4f,%.3f\n", u.samples_per_s, u.threads,
            u.gflops, u.ceiling, vs_ceiling, e.cores, e.stale_frac, vs_ceil_e2e, vs_min,
            e.train_cores);
    return status;
}

int cg_cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--sim") ||
            (!strcmp(argv[i], "--actors") && i + 1 < argc && strchr(argv[i + 1], ',')))
            return cg_cmd_scaling(argc, argv); /* the study's old spelling, kept as an alias */
    cg_cmd_config_opts_t copts = {0};
    char sims_buf[256];
    snprintf(sims_buf, sizeof sims_buf, "null,%s", cg_sim_builtin(0)->name);
    const char *out_dir = NULL;
    long actors = 1, iterations = 8;
    double seconds = 5;
    int overlap = 0;
    static const struct option longopts[] = {
        {"sims", required_argument, NULL, 'S'},    {"actors", required_argument, NULL, 'a'},
        {"seconds", required_argument, NULL, 'T'}, {"iterations", required_argument, NULL, 'i'},
        {"config", required_argument, NULL, 'c'},  {"set", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},     {"overlap", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'S': snprintf(sims_buf, sizeof sims_buf, "%s", optarg); break;
        case 'a':
            if (cg_cmd_opt_long("bench", "--actors", optarg, 1, 1024, &actors))
                return 2;
            break;
        case 'T':
            if (cg_cmd_opt_double("bench", "--seconds", optarg, 0.001, 3600, &seconds))
                return 2;
            break;
        case 'i':
            if (cg_cmd_opt_long("bench", "--iterations", optarg, 1, 100000, &iterations))
                return 2;
            break;
        case 'c': copts.config_path = optarg; break;
        case 's':
            if (cg_cmd_add_set(&copts, optarg))
                return 2;
            break;
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
    if (cg_os_mkdir_p(dir, 0755) || access(dir, W_OK)) {
        fprintf(stderr, "cgrpo bench: cannot create %s: %s\n", dir, strerror(errno));
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
    fprintf(csv,
            "sim,actors,instances,bare_steps_per_s,e2e_steps_per_s,ratio%s,"
            "update_samples_per_s,update_threads,sgemm_gflops,ceiling_samples_per_s_core,"
            "update_per_core_vs_ceiling,e2e_cores,stale_frac,e2e_vs_ceiling,e2e_vs_min,"
            "e2e_train_cores\n",
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
        status |= s_row(cfg, sim, dir, actors, seconds, overlap, csv);
        fflush(stdout);
        free(cfg);
        if (cg_cmd_stop)
            break;
    }
    fclose(csv);
    printf("results: %s\n", csv_path);
    return status;
}
