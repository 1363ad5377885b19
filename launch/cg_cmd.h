/* cg_cmd: the `cgrpo` subcommands and what they share: loading the run config from
 * --config/--set/--resume, the stop flag set by SIGINT/SIGTERM, and starting, watching and
 * stopping local actor processes by PID. Each command returns the process exit status.
 * Threading: main thread only. */
#ifndef CG_CMD_H
#define CG_CMD_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "cg_config.h"
#include "cg_env.h"
#include "cg_learner.h"
#include "cg_status.h"

#define CG_CMD_MAX_SETS 128

/* Non-zero stops the learner or actor polling it. Why: CG_CMD_STOP_SIGNAL from SIGINT/SIGTERM
 * once cg_cmd_install_signals has run (a user's stop wins over any other reason), or
 * CG_CMD_STOP_ACTORS from an armed watch (below) whose actors have all exited. */
extern volatile sig_atomic_t cg_cmd_stop;
enum { CG_CMD_STOP_SIGNAL = 1, CG_CMD_STOP_ACTORS = 2 };
void cg_cmd_install_signals(void);

/* Options that choose a configuration. */
typedef struct {
    const char *config_path;           /* --config F */
    const char *sets[CG_CMD_MAX_SETS]; /* --set section.key=value, in order */
    int n_sets;
} cg_cmd_config_opts_t;

/* Adds --set to opts; 0 on success, -1 (message printed) when there are too many. */
int cg_cmd_add_set(cg_cmd_config_opts_t *opts, const char *assignment);

/* defaults <- base file (if base_path, e.g. a run directory's config.ini) <- --config <-
 * --set, then cg_sim_configure (the simulator's section and defaults) and cg_config_finish.
 * Prints the error (with its hint) and returns non-zero on failure. */
int cg_cmd_load_config(const cg_cmd_config_opts_t *opts, const char *base_path, cg_config_t *cfg);

/* What a learner needs of cfg's simulator (built in or plugin): its sizes and cost names,
 * after creating one instance as a check in a child process (a simulator that crashes there
 * is reported, and this process goes on). Prints the error and returns non-zero on failure. */
int cg_cmd_env(const cg_config_t *cfg, cg_env_spec_t *env);

/* This executable's path (/proc/self/exe) into buf: 0, or -1 (said on stderr). Replaced on
 * disk while this process runs (a rebuild), it is "/proc/self/exe" itself for a child of this
 * process (the same image), and an error for one started elsewhere (elsewhere = 1: through a
 * launcher, which would start the new build). */
int cg_cmd_self_exe(char *buf, size_t n, int elsewhere);
/* Starts argv (argv[0] found on PATH) as a child process with its output appended to log_path
 * (NULL: inherit) and OPENBLAS_NUM_THREADS=1 unless set; it gets SIGTERM if this process dies
 * (Linux PR_SET_PDEATHSIG; call from the main thread). Returns the PID, or -1. */
pid_t cg_cmd_spawn(char *const argv[], const char *log_path);
/* Starts `cgrpo actor --connect host:port --actor-id id` as a child process with its output
 * appended to log_path (NULL: inherit); it gets SIGTERM if this process dies (Linux
 * PR_SET_PDEATHSIG; call from the main thread). Returns the PID, or -1. */
pid_t cg_cmd_spawn_actor(const char *host, int port, int actor_id, const char *token,
                         const char *config_path, const char *log_path, int flood);
/* config_path (may be NULL): passed as `--config`, from which the actor reads only the run
 * token file and the learner's CURVE public key (docs/cluster.md). flood: `--flood` (the
 * ingest benchmark of cgrpo scaling). */

/* An actor's credentials: token = cli_token if given, else the first line of [run]
 * token_file, else ""; server_key (CG_CURVE_KEY_LEN + 1 bytes) = the key in [learner]
 * curve_public_key, else "". Prints the error and returns non-zero if a file is bad. */
int cg_cmd_secrets(const cg_config_t *cfg, const char *cli_token, char *token, size_t token_len,
                   char *server_key);
/* The same for a peer of a learner (actor, relay) from its own config: copts (--config, --set;
 * base, a config file read first, may be NULL) and --token. relay (may be NULL; relay_len
 * bytes) receives the config's [actor] relay. Prints the error and returns non-zero. */
int cg_cmd_peer_secrets(const cg_cmd_config_opts_t *copts, const char *base, const char *cli_token,
                        char *token, size_t token_len, char *server_key, char *relay,
                        size_t relay_len);
/* Runs gnuplot on script (len bytes, on its stdin; no shell) in directory cwd (NULL: this
 * one), then checks that png (relative to cwd) was written. 0, or -1 said on stderr as
 * who ("cgrpo plot"), with a hint where gnuplot is missing. */
int cg_cmd_gnuplot(const char *who, const char *script, size_t len, const char *cwd,
                   const char *png);
/* SIGTERM to each PID, waits up to grace_ms, then SIGKILL; reaps all. PIDs <= 0 are skipped. */
void cg_cmd_stop_children(const pid_t *pids, int n, int grace_ms);

/* Watching local actors while the learner runs, so that a launcher whose actors have all
 * died stops instead of waiting forever. A SIGCHLD handler reaps the watched PIDs as they exit
 * (only those: other children keep their own waitpid), writes a warning line to stderr for
 * each that did not end cleanly (exit status 0 is what an actor returns when the learner says
 * training is over, or on SIGTERM/SIGINT), and once none is left sets cg_cmd_stop to
 * CG_CMD_STOP_ACTORS unless it is set already. One watch at a time, main thread:
 *   begin -> start the learner (its threads inherit SIGCHLD blocked, so the signal and its
 *   EINTRs land on this thread) -> spawn + add each actor -> arm -> cg_learner_run -> end
 *   -> cg_cmd_stop_children. */
typedef struct {
    int n;            /* actors watched */
    int stopped;      /* 1: the watch's CG_CMD_STOP_ACTORS was in cg_cmd_stop (end clears it) */
    int named_id;     /* the actor a message should name: the first to end other than cleanly, */
    int named_status; /* else the first to end (-1: none ended); its wait status */
    char named_log[CG_PATH_LEN + 64]; /* its log file ("" if none) */
} cg_cmd_watch_report_t;

/* Blocks SIGCHLD in this thread and makes room for n actors (n <= 0: every watch call is a
 * no-op). progress: a live progress line may be on stderr; warnings clear it first. */
void cg_cmd_watch_begin(int n, int progress);
/* Watches pid, actor actor_id with its output in log_path (may be NULL). At most n calls. */
void cg_cmd_watch_add(pid_t pid, int actor_id, const char *log_path);
/* Installs the SIGCHLD handler and unblocks the signal: actors that have exited already are
 * reaped (and counted) at once. */
void cg_cmd_watch_arm(void);
/* Ends the watch (armed or not): restores the SIGCHLD action and the signal mask of begin,
 * clears a CG_CMD_STOP_ACTORS stop, sets to 0 the reaped PIDs in pids (n entries in the order
 * added; may be NULL) so cg_cmd_stop_children leaves them alone, fills *report (may be NULL)
 * and frees the watch. */
void cg_cmd_watch_end(pid_t *pids, cg_cmd_watch_report_t *report);
/* "exit status N" or "killed by signal S" (+ " (core dumped)") for a wait status. */
void cg_cmd_wait_str(int status, char *out, size_t len);

/* "parent/<YYYYmmdd-HHMMSS>[-suffix]" (local time) into dir, creating parent if missing:
 * the default run and bench directories. suffix may be NULL. */
void cg_cmd_stamp_dir(char *dir, size_t len, const char *parent, const char *suffix);

/* Sets OpenBLAS to one thread unless OPENBLAS_NUM_THREADS is given: several processes
 * share few cores, and one thread keeps results bit-reproducible. */
void cg_cmd_blas_threads(void);

/* An option's value as an integer / a number in [lo, hi]: 0, or -1 after saying on stderr
 * "cgrpo CMD: OPT needs an integer from LO to HI, got 'TEXT'" (the caller exits 2). */
int cg_cmd_opt_long(const char *cmd, const char *opt, const char *text, long lo, long hi,
                    long *out);
int cg_cmd_opt_double(const char *cmd, const char *opt, const char *text, double lo, double hi,
                      double *out);

/* How cg_cmd_run_training runs. */
typedef struct {
    const char *dir;                 /* the run directory */
    int resume;                      /* 1: continue the run in dir from its latest checkpoint */
    const char *token;               /* --token, or "" (then [run] token_file, if any) */
    int progress;                    /* 1: the live progress line, else log lines */
    int n_actors;                    /* local actor processes to start */
    int quiet;                       /* 1: no start line and no summary (cgrpo bench) */
    cg_learner_counters_t *counters; /* filled at the end when non-NULL */
} cg_cmd_training_t;

/* Runs a training: the learner in this process, n_actors local actor processes (logs in
 * dir/actor-<i>.log), watched while it runs and stopped by PID at the end. Returns the exit
 * status: 0 done, 130 stopped by SIGINT/SIGTERM, 1 on errors, among them every local actor
 * having exited before the last iteration (the learner then stops and checkpoints). */
int cg_cmd_run_training(const cg_config_t *cfg, const cg_cmd_training_t *how);

int cg_cmd_train(int argc, char **argv);
int cg_cmd_learner(int argc, char **argv);
int cg_cmd_actor(int argc, char **argv);
int cg_cmd_relay(int argc, char **argv);
int cg_cmd_eval(int argc, char **argv);
int cg_cmd_bench(int argc, char **argv);
/* The actor-scaling study (cmd_scaling.c); cg_cmd_bench hands over on --sim or a list of
 * actor counts. */
int cg_cmd_scaling(int argc, char **argv);
int cg_cmd_mpi(int argc, char **argv);
int cg_cmd_keygen(int argc, char **argv);
int cg_cmd_sims(int argc, char **argv);
int cg_cmd_plot(int argc, char **argv);

#endif
