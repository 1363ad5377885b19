/* cg_cmd: the `cgrpo` subcommands and what they share: loading the run config from
 * --config/--set/--resume, the stop flag set by SIGINT/SIGTERM, and starting/stopping
 * local actor processes by PID. Each command returns the process exit status.
 * Threading: main thread only. */
#ifndef CG_CMD_H
#define CG_CMD_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "cg_config.h"
#include "cg_status.h"

#define CG_CMD_MAX_SETS 128

/* Set to 1 by SIGINT/SIGTERM once cg_cmd_install_signals has run. */
extern volatile sig_atomic_t cg_cmd_stop;
void cg_cmd_install_signals(void);

/* Options that choose a configuration. */
typedef struct {
    const char *config_path;            /* --config F */
    const char *sets[CG_CMD_MAX_SETS];  /* --set section.key=value, in order */
    int n_sets;
} cg_cmd_config_opts_t;

/* Adds --set to opts; 0 on success, -1 (message printed) when there are too many. */
int cg_cmd_add_set(cg_cmd_config_opts_t *opts, const char *assignment);

/* defaults <- base file (if base_path, e.g. a run directory's config.ini) <- --config <-
 * --set, then cg_config_finish. Prints the error (with its hint) and returns non-zero on
 * failure. */
int cg_cmd_load_config(const cg_cmd_config_opts_t *opts, const char *base_path, cg_config_t *cfg);

/* Starts `cgrpo actor --connect host:port --actor-id id` as a child process with its output
 * appended to log_path (NULL: inherit); it gets SIGTERM if this process dies (Linux
 * PR_SET_PDEATHSIG; call from the main thread). Returns the PID, or -1. */
pid_t cg_cmd_spawn_actor(const char *host, int port, int actor_id, const char *token,
                         const char *config_path, const char *log_path);
/* config_path (may be NULL): passed as `--config`, from which the actor reads only the run
 * token file and the learner's CURVE public key (docs/cluster.md). */

/* An actor's credentials: token = cli_token if given, else the first line of [run]
 * token_file, else ""; server_key (CG_CURVE_KEY_LEN + 1 bytes) = the key in [learner]
 * curve_public_key, else "". Prints the error and returns non-zero if a file is bad. */
int cg_cmd_secrets(const cg_config_t *cfg, const char *cli_token, char *token, size_t token_len,
                   char *server_key);
/* SIGTERM to each PID, waits up to grace_ms, then SIGKILL; reaps all. */
void cg_cmd_stop_children(const pid_t *pids, int n, int grace_ms);

/* "parent/<YYYYmmdd-HHMMSS>[-suffix]" (local time) into dir, creating parent if missing:
 * the default run and bench directories. suffix may be NULL. */
void cg_cmd_stamp_dir(char *dir, size_t len, const char *parent, const char *suffix);

/* Sets OpenBLAS to one thread unless OPENBLAS_NUM_THREADS is given: several processes
 * share few cores, and one thread keeps results bit-reproducible. */
void cg_cmd_blas_threads(void);

/* Runs a training: the learner in this process, n_actors local actor processes (logs in
 * dir/actor-<i>.log), stopped by PID at the end. Prints the summary unless quiet. Fills
 * *wall_s (learner run time) and *env_steps when non-NULL. Returns the exit status. */
int cg_cmd_run_training(const cg_config_t *cfg, const char *dir, int resume, const char *token,
                        int progress, int n_actors, int quiet, double *wall_s, int64_t *env_steps);

int cg_cmd_train(int argc, char **argv);
int cg_cmd_learner(int argc, char **argv);
int cg_cmd_actor(int argc, char **argv);
int cg_cmd_eval(int argc, char **argv);
int cg_cmd_bench(int argc, char **argv);
/* The actor-scaling study (cmd_scaling.c); cg_cmd_bench hands over on --sim or a list of
 * actor counts. */
int cg_cmd_bench_scaling(int argc, char **argv);
int cg_cmd_mpi(int argc, char **argv);
int cg_cmd_keygen(int argc, char **argv);
int cg_cmd_plot(int argc, char **argv);

#endif
