/* cmd_train: `cgrpo train` (learner + N local actor processes, one command) and
 * `cgrpo learner` (the learner role alone, for clusters). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_learner.h"
#include "cg_log.h"
#include "cg_os.h"
#include "cg_transport.h"

static void s_usage(FILE *out, const char *cmd)
{
    int train = !strcmp(cmd, "train");
    fprintf(
        out,
        "usage: cgrpo %s [options]\n"
        "%s\n\n"
        "  --config FILE        INI configuration (docs/config.md); default: built-in gridworld "
        "run\n"
        "  --set SEC.KEY=VALUE  override one key (repeatable), e.g. --set train.groups=32\n"
        "  --run-dir DIR        where config, metrics, checkpoints go (default runs/<time>-<run "
        "id>)\n"
        "  --resume DIR         continue the run in DIR from its latest checkpoint\n"
        "%s"
        "  --deterministic      synchronous collection, fixed actor/seed assignment "
        "(bit-reproducible on CPU)\n"
        "  --token TOKEN        run token actors must present\n"
        "  --no-progress        plain log lines instead of the live progress line\n"
        "  -h, --help           this help\n",
        cmd,
        train ? "Trains a policy: starts the learner and N local actors, shows progress, writes a "
                "run\n"
                "directory and ends with a summary. With no options: the default constrained "
                "gridworld."
              : "Runs the learner role only; actors join with `cgrpo actor --connect HOST:PORT`.\n"
                "Prints the control endpoint and writes it to RUN_DIR/endpoint.",
        train ? "  --actors N           local actor processes (default [actor] actors = 2)\n" : "");
}

static int s_run(int argc, char **argv, int spawn_actors)
{
    const char *cmd = spawn_actors ? "train" : "learner";
    cg_cmd_config_opts_t copts = {0};
    const char *run_dir = NULL, *resume = NULL, *token = "";
    int actors = -1, deterministic = 0, progress = isatty(STDERR_FILENO);
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"set", required_argument, NULL, 's'},
        {"run-dir", required_argument, NULL, 'r'}, {"resume", required_argument, NULL, 'R'},
        {"actors", required_argument, NULL, 'a'},  {"deterministic", no_argument, NULL, 'd'},
        {"token", required_argument, NULL, 't'},   {"no-progress", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': copts.config_path = optarg; break;
        case 's':
            if (cg_cmd_add_set(&copts, optarg))
                return 2;
            break;
        case 'r': run_dir = optarg; break;
        case 'R': resume = optarg; break;
        case 'a': {
            long v = 0;
            if (!spawn_actors) {
                fprintf(stderr,
                        "cgrpo %s: --actors is for cgrpo train (hint: start actors with "
                        "cgrpo actor --connect HOST:PORT)\n",
                        cmd);
                return 2;
            }
            if (cg_cmd_opt_long(cmd, "--actors", optarg, 0, 1024, &v))
                return 2;
            actors = (int)v;
            break;
        }
        case 'd': deterministic = 1; break;
        case 't': token = optarg; break;
        case 'P': progress = 0; break;
        case 'h': s_usage(stdout, cmd); return 0;
        default: s_usage(stderr, cmd); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cgrpo %s: unexpected argument '%s' (hint: see cgrpo %s --help)\n", cmd,
                argv[optind], cmd);
        return 2;
    }
    if (resume && run_dir && strcmp(resume, run_dir)) {
        fprintf(stderr, "cgrpo %s: --resume DIR already names the run directory; drop --run-dir\n",
                cmd);
        return 2;
    }

    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    char base[CG_PATH_LEN + 32];
    if (resume) {
        snprintf(base, sizeof base, "%s/config.ini", resume);
        if (access(base, R_OK)) {
            fprintf(stderr,
                    "cgrpo %s: %s not found (hint: --resume takes a run directory written by cgrpo "
                    "train)\n",
                    cmd, base);
            free(cfg);
            return 1;
        }
        if (copts.config_path) {
            fprintf(stderr,
                    "cgrpo %s: --resume uses the run's own config.ini; use --set to change keys\n",
                    cmd);
            free(cfg);
            return 2;
        }
    }
    if (deterministic)
        cg_cmd_add_set(&copts, "run.deterministic=true");
    char actors_set[64];
    if (actors >= 0) {
        snprintf(actors_set, sizeof actors_set, "actor.actors=%d", actors);
        cg_cmd_add_set(&copts, actors_set);
    }
    if (cg_cmd_load_config(&copts, resume ? base : NULL, cfg)) {
        free(cfg);
        return 1;
    }
    char dir[CG_PATH_LEN];
    if (resume)
        snprintf(dir, sizeof dir, "%s", resume);
    else if (run_dir)
        snprintf(dir, sizeof dir, "%s", run_dir);
    else if (cfg->run_dir[0])
        snprintf(dir, sizeof dir, "%s", cfg->run_dir);
    else
        cg_cmd_stamp_dir(dir, sizeof dir, "runs", cfg->run_id);

    const cg_cmd_training_t how = {.dir = dir,
                                   .resume = resume != NULL,
                                   .token = token,
                                   .progress = progress,
                                   .n_actors = spawn_actors ? cfg->actors : 0};
    int rc = cg_cmd_run_training(cfg, &how);
    if (rc == 130)
        fprintf(stderr,
                "cgrpo %s: interrupted; checkpoint written (resume with: cgrpo %s --resume %s)\n",
                cmd, cmd, dir);
    free(cfg);
    return rc;
}

int cg_cmd_run_training(const cg_config_t *cfg, const cg_cmd_training_t *how)
{
    const char *dir = how->dir, *token = how->token ? how->token : "";
    const int resume = how->resume, progress = how->progress, n_actors = how->n_actors;
    const int quiet = how->quiet;
    cg_learner_counters_t *counters = how->counters;
    cg_cmd_install_signals();
    cg_cmd_blas_threads();
    char err[1024] = "";
    /* The run token: --token, else [run] token_file; CURVE keys: docs/cluster.md. */
    char run_token[CG_NAME_LEN], server_key[CG_CURVE_KEY_LEN + 1];
    if (cg_cmd_secrets(cfg, token, run_token, sizeof run_token, server_key))
        return 1;
    if (n_actors > 0 && cfg->curve_secret_key[0] && !server_key[0]) {
        fprintf(stderr, "cgrpo: local actors need the learner's public key (hint: set [learner] "
                        "curve_public_key to the learner.pub next to curve_secret_key)\n");
        return 1;
    }
    cg_env_spec_t env;
    if (cg_cmd_env(cfg, &env))
        return 1;
    cg_learner_opts_t lopts = {cfg, &env, dir, resume, run_token, progress};
    /* Before the learner: its threads inherit SIGCHLD blocked, so only this one sees it. */
    cg_cmd_watch_begin(n_actors, progress);
    cg_learner_t *learner = cg_learner_new(&lopts, err, sizeof err);
    if (!learner) {
        cg_cmd_watch_end(NULL, NULL);
        fprintf(stderr, "cgrpo: %s\n", err);
        return 1;
    }
    int port = cg_learner_port(learner);
    if (!quiet) {
        printf("cgrpo: run %s in %s, control endpoint %s:%d, %d local actors\n",
               cg_learner_run_id(learner), dir, cg_learner_host(learner), port, n_actors);
        fflush(stdout);
    }
    pid_t *pids = cg_calloc((size_t)n_actors + 1, sizeof *pids);
    /* Local actors reach a learner bound to every interface on loopback; keys and the token
     * file reach them through the run's config.ini. */
    const char *b = cfg->bind_host;
    int wildcard =
        !strcmp(b, "*") || !strcmp(b, "0.0.0.0") || !strcmp(b, "::") || !strcmp(b, "[::]");
    char actor_cfg[CG_PATH_LEN + 32] = "";
    if (cfg->curve_public_key[0] || cfg->token_file[0])
        snprintf(actor_cfg, sizeof actor_cfg, "%s/config.ini", dir);
    for (int i = 0; i < n_actors; i++) {
        char log[CG_PATH_LEN + 64];
        snprintf(log, sizeof log, "%s/actor-%d.log", dir, i);
        pids[i] = cg_cmd_spawn_actor(wildcard ? "127.0.0.1" : b, port, i, token, actor_cfg, log, 0);
        if (pids[i] < 0) {
            fprintf(stderr, "cgrpo: could not start actor %d\n", i);
            cg_cmd_watch_end(NULL, NULL);
            cg_cmd_stop_children(pids, i, 2000);
            cg_learner_destroy(&learner);
            free(pids);
            return 1;
        }
        cg_cmd_watch_add(pids[i], i, log);
    }
    /* From here on, local actors that all exit (a setting only they check, a crash, the OOM
     * killer) stop the learner instead of leaving it waiting for groups forever. */
    cg_cmd_watch_arm();
    const double t0 = cg_os_now();
    cg_status_t rc = cg_learner_run(learner, &cg_cmd_stop);
    const double t1 = cg_os_now();
    cg_cmd_watch_report_t watch;
    cg_cmd_watch_end(pids, &watch); /* the reaped ones become 0: not signalled again */
    cg_cmd_stop_children(pids, n_actors, 3000);
    if (!quiet)
        cg_learner_summary(learner, stdout);
    cg_learner_counters_t c;
    cg_learner_counters(learner, &c);
    c.run_s = t1 - t0;
    if (counters)
        *counters = c;
    cg_learner_destroy(&learner);
    free(pids);
    if (watch.stopped && rc == CG_ERR_INTERRUPTED) {
        /* Actors leave by themselves once the learner says training is over: that is no
         * failure. Before that, it is. */
        if (c.iteration >= cfg->iterations)
            return 0;
        char exit_how[96], resume_hint[CG_PATH_LEN + 96] = "";
        cg_cmd_wait_str(watch.named_status, exit_how, sizeof exit_how);
        if (!quiet)
            snprintf(resume_hint, sizeof resume_hint,
                     "; once fixed, `cgrpo train --resume %s` continues from the checkpoint "
                     "just written",
                     dir);
        fflush(stdout);
        fprintf(stderr,
                "cgrpo: all %d local actors exited before training finished (iteration %lld of "
                "%d; actor %d: %s, see %s) (hint: read the actor logs; usual causes are a setting "
                "only the actors check, a crash, or the OOM killer (signal 9, see dmesg)%s)\n",
                watch.n, (long long)c.iteration, cfg->iterations, watch.named_id, exit_how,
                watch.named_log[0] ? watch.named_log : "its log", resume_hint);
        return 1;
    }
    if (rc == CG_ERR_INTERRUPTED)
        return 130;
    if (rc != CG_OK) {
        fprintf(stderr, "cgrpo: training stopped: %s\n", cg_status_str(rc));
        return 1;
    }
    return 0;
}

int cg_cmd_train(int argc, char **argv)
{
    return s_run(argc, argv, 1);
}
int cg_cmd_learner(int argc, char **argv)
{
    return s_run(argc, argv, 0);
}
