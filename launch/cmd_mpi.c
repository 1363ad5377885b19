/* cmd_mpi: `mpirun -n N cgrpo mpi ...`: rank 0 runs the learner, ranks 1..N-1 one actor each
 * (actor id = rank - 1). MPI is used only at the edge: rank 0 binds, MPI_Bcast hands its
 * endpoint (and the run directory) to the other ranks, and every rank calls MPI_Finalize
 * right then, while all are alive. After that no rank makes an MPI call, ZeroMQ carries
 * everything, and an actor rank that dies can no longer hang a collective of the learner
 * (mpirun itself must be told not to abort the job: docs/cluster.md). */
#include <getopt.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cg_actor.h"
#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_learner.h"
#include "cg_log.h"
#include "cg_transport.h"

/* Evaluates an MPI call; logs file:line and MPI's message and yields -1 on failure. */
#define S_MPI_CHECK(call) s_mpi_check((call), #call, __FILE__, __LINE__)

static int s_mpi_check(int rc, const char *what, const char *file, int line)
{
    if (rc == MPI_SUCCESS)
        return 0;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    cg_log_write(CG_LOG_ERROR, file, line, "%s: %s", what, msg);
    return -1;
}

/* What rank 0 tells the others; a fixed-size block of bytes. */
typedef struct {
    int32_t status;            /* 0: the learner is up; else every rank exits 1 */
    int32_t port;              /* control port */
    char host[256];            /* where to connect ([learner] advertise) */
    char run_dir[CG_PATH_LEN]; /* actor logs go here when it is reachable */
} s_rendezvous_t;

typedef struct {
    cg_cmd_config_opts_t copts;
    const char *run_dir, *resume, *token;
    long instances;
    int progress;
} s_opts_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: mpirun [mpirun options] -n N cgrpo mpi [options]\n"
            "Rank 0 runs the learner, ranks 1..N-1 one actor each (actor id = rank - 1). MPI only\n"
            "hands the learner's endpoint to the actors; ZeroMQ carries all data. Open MPI needs\n"
            "--enable-recovery --mca orte_abort_on_non_zero_status 0 so that a dying actor rank\n"
            "does not end the job (docs/cluster.md). Actor logs: RUN_DIR/actor-<id>.log.\n\n"
            "  --config FILE        INI configuration (docs/config.md)\n"
            "  --set SEC.KEY=VALUE  override one key (repeatable)\n"
            "  --run-dir DIR        the run directory (default runs/<time>-<run id>); shared\n"
            "                       by all nodes for actor logs\n"
            "  --resume DIR         continue the run in DIR from its latest checkpoint\n"
            "  --token TOKEN        run token (default: [run] token_file)\n"
            "  --instances M        simulator instances per actor (default [actor] instances)\n"
            "  --no-progress        plain log lines from the learner\n"
            "  -h, --help           this help\n");
}

/* 0 ok, 1 help printed, 2 usage error. Every rank parses the same argv the same way. */
static int s_parse(int argc, char **argv, int rank, s_opts_t *o)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"set", required_argument, NULL, 's'},
                                             {"run-dir", required_argument, NULL, 'r'},
                                             {"resume", required_argument, NULL, 'R'},
                                             {"token", required_argument, NULL, 't'},
                                             {"instances", required_argument, NULL, 'm'},
                                             {"no-progress", no_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    FILE *err = rank == 0 ? stderr : NULL;
    int opt;
    optind = 1;
    opterr = rank == 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'c': o->copts.config_path = optarg; break;
        case 's':
            if (cg_cmd_add_set(&o->copts, optarg))
                return 2;
            break;
        case 'r': o->run_dir = optarg; break;
        case 'R': o->resume = optarg; break;
        case 't': o->token = optarg; break;
        case 'm':
            o->instances = strtol(optarg, &end, 10);
            if (*end || o->instances < 1 || o->instances > 65536) {
                if (err)
                    fprintf(err, "cgrpo mpi: --instances needs a number 1..65536, got '%s'\n",
                            optarg);
                return 2;
            }
            break;
        case 'P': o->progress = 0; break;
        case 'h':
            if (rank == 0)
                s_usage(stdout);
            return 1;
        default:
            if (err)
                s_usage(err);
            return 2;
        }
    }
    if (optind < argc || (o->resume && (o->copts.config_path || o->run_dir))) {
        if (err)
            fprintf(err, "cgrpo mpi: %s (hint: cgrpo mpi --help)\n",
                    optind < argc
                        ? "unexpected argument"
                        : "--resume DIR uses DIR and its config.ini; drop --config and --run-dir");
        return 2;
    }
    return 0;
}

/* Rank 0: the config (with [actor] actors = n_actors), the run directory and the learner.
 * NULL with the reason printed. */
static cg_learner_t *s_learner_new(const s_opts_t *o, int n_actors, cg_config_t *cfg, char *dir,
                                   size_t dir_len)
{
    char base[CG_PATH_LEN + 32], set_actors[64];
    cg_cmd_config_opts_t copts = o->copts;
    snprintf(set_actors, sizeof set_actors, "actor.actors=%d", n_actors);
    if (cg_cmd_add_set(&copts, set_actors))
        return NULL;
    if (o->resume)
        snprintf(base, sizeof base, "%s/config.ini", o->resume);
    if (cg_cmd_load_config(&copts, o->resume ? base : NULL, cfg))
        return NULL;
    if (o->resume || o->run_dir) {
        snprintf(dir, dir_len, "%s", o->resume ? o->resume : o->run_dir);
    } else if (cfg->run_dir[0]) {
        snprintf(dir, dir_len, "%s", cfg->run_dir);
    } else {
        cg_cmd_stamp_dir(dir, dir_len, "runs", cfg->run_id);
    }
    char token[CG_NAME_LEN], server_key[CG_CURVE_KEY_LEN + 1], err[1024] = "";
    if (cg_cmd_secrets(cfg, o->token, token, sizeof token, server_key))
        return NULL;
    cg_env_spec_t env;
    if (cg_cmd_env(cfg, &env))
        return NULL;
    cg_learner_opts_t lopts = {cfg, &env, dir, o->resume != NULL, token, o->progress};
    cg_learner_t *learner = cg_learner_new(&lopts, err, sizeof err);
    if (!learner)
        fprintf(stderr, "cgrpo mpi: %s\n", err);
    return learner;
}

static int s_run_learner(cg_learner_t *learner, const char *dir, int n_actors)
{
    printf("cgrpo mpi: run %s in %s, control endpoint %s:%d, %d actor ranks\n",
           cg_learner_run_id(learner), dir, cg_learner_host(learner), cg_learner_port(learner),
           n_actors);
    fflush(stdout);
    cg_status_t rc = cg_learner_run(learner, &cg_cmd_stop);
    cg_learner_summary(learner, stdout);
    cg_learner_destroy(&learner);
    if (rc == CG_ERR_INTERRUPTED) {
        fprintf(stderr,
                "cgrpo mpi: interrupted; checkpoint written (resume with: mpirun ... cgrpo "
                "mpi --resume %s)\n",
                dir);
        return 130;
    }
    if (rc != CG_OK) {
        fprintf(stderr, "cgrpo mpi: training stopped: %s\n", cg_status_str(rc));
        return 1;
    }
    return 0;
}

static int s_run_actor(const s_opts_t *o, const s_rendezvous_t *rv, int32_t actor_id)
{
    /* Credentials only ([run] token_file, [learner] curve_public_key); the Welcome brings
     * the rest. With --resume they are in the run's config.ini. */
    char base[CG_PATH_LEN + 32], token[CG_NAME_LEN], server_key[CG_CURVE_KEY_LEN + 1];
    snprintf(base, sizeof base, "%s/config.ini", rv->run_dir);
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    int bad = cg_cmd_load_config(&o->copts, o->resume ? base : NULL, cfg) ||
              cg_cmd_secrets(cfg, o->token, token, sizeof token, server_key);
    free(cfg);
    if (bad)
        return 1;
    char log[CG_PATH_LEN + 64];
    snprintf(log, sizeof log, "%s/actor-%d.log", rv->run_dir, actor_id);
    if (!freopen(log, "a", stderr))
        fprintf(stdout, "cgrpo mpi: actor %d logs to stderr (%s not writable)\n", actor_id, log);
    else
        setvbuf(stderr, NULL, _IOLBF, 0);

    char err[1024] = "";
    cg_actor_opts_t aopts = {.host = rv->host,
                             .port = rv->port,
                             .actor_id = actor_id,
                             .token = token,
                             .instances = (int32_t)o->instances,
                             .curve_server_key = server_key};
    cg_actor_t *actor = cg_actor_new(&aopts, err, sizeof err);
    if (!actor) {
        fprintf(stderr, "cgrpo mpi: %s\n", err);
        return 1;
    }
    cg_status_t rc = cg_actor_run(actor, &cg_cmd_stop);
    cg_actor_destroy(&actor);
    return rc == CG_OK ? 0 : 1;
}

int cg_cmd_mpi(int argc, char **argv)
{
    /* A rank ends with the launcher that started it (mpirun, orted), however that dies: once
     * MPI is finalized nothing else would tell an actor to stop waiting for its learner. */
    pid_t launcher = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != launcher)
        return 1;
    if (S_MPI_CHECK(MPI_Init(&argc, &argv)))
        return 1;
    int rank = 0, size = 0;
    if (S_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)) ||
        S_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank)) ||
        S_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size))) {
        MPI_Finalize();
        return 1;
    }
    s_opts_t o = {.token = "", .progress = isatty(STDERR_FILENO)};
    int prc = s_parse(argc, argv, rank, &o);
    if (prc == 0 && size < 2) {
        fprintf(stderr,
                "cgrpo mpi: %d rank: rank 0 is the learner, so at least one more is needed "
                "(hint: mpirun -n N cgrpo mpi with N >= 2)\n",
                size);
        prc = 2;
    }
    if (prc != 0) { /* every rank decided the same, from the same argv */
        MPI_Finalize();
        return prc == 1 ? 0 : 2;
    }

    cg_cmd_install_signals();
    cg_cmd_blas_threads();
    s_rendezvous_t rv;
    memset(&rv, 0, sizeof rv);
    cg_learner_t *learner = NULL;
    char dir[CG_PATH_LEN] = "";
    if (rank == 0) {
        cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
        learner = s_learner_new(&o, size - 1, cfg, dir, sizeof dir);
        free(cfg);
        rv.status = learner ? 0 : 1;
        if (learner) {
            rv.port = cg_learner_port(learner);
            snprintf(rv.host, sizeof rv.host, "%s", cg_learner_host(learner));
            snprintf(rv.run_dir, sizeof rv.run_dir, "%s", dir);
        }
    }
    /* The one collective: afterwards MPI is finalized on every rank, while all are alive. */
    int brc = S_MPI_CHECK(MPI_Bcast(&rv, (int)sizeof rv, MPI_BYTE, 0, MPI_COMM_WORLD));
    S_MPI_CHECK(MPI_Finalize());
    if (brc != 0 || rv.status != 0) {
        cg_learner_destroy(&learner);
        return 1;
    }
    if (rank == 0)
        return s_run_learner(learner, dir, size - 1);
    return s_run_actor(&o, &rv, (int32_t)(rank - 1));
}
