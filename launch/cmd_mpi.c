/* cmd_mpi: `mpirun -n N cgrpo mpi ...`: rank 0 runs the learner, ranks 1..N-1 one actor each
 * (actor id = rank - 1). MPI is used only at the edge: rank 0 binds, MPI_Bcast hands its
 * endpoint (and the run directory) to the other ranks, and every rank calls MPI_Finalize
 * right then, while all are alive. After that no rank makes an MPI call, ZeroMQ carries
 * everything, and an actor rank that dies can no longer hang a collective of the learner
 * (mpirun itself must be told not to abort the job: docs/cluster.md). With --relay-port P
 * the lowest actor rank of each node also runs a broadcast relay (a thread, cg_relay) on that
 * node's 127.0.0.1:P, and the node's actors take their weights from it; which rank that is,
 * the same MPI moment decides (a node's ranks reduced over a shared-memory communicator). */
#include <getopt.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <limits.h>
#include <pthread.h>

#include "cg_actor.h"
#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_learner.h"
#include "cg_log.h"
#include "cg_relay.h"
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
    long relay_port; /* 0: none */
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
            "  --relay-port P       one broadcast relay per node on its 127.0.0.1:P (run by the\n"
            "                       node's lowest actor rank); the node's actors take the\n"
            "                       weights from it (docs/cluster.md#broadcast-relays)\n"
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
                                             {"relay-port", required_argument, NULL, 'p'},
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
        case 'p':
            o->relay_port = strtol(optarg, &end, 10);
            if (*end || o->relay_port < 1 || o->relay_port > 65535) {
                if (err)
                    fprintf(err, "cgrpo mpi: --relay-port needs a port 1..65535, got '%s'\n",
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

/* This node's relay, on a thread of the rank that runs it. */
typedef struct {
    cg_relay_t *relay;
    volatile sig_atomic_t stop; /* set by the actor's thread when it is done */
    atomic_int finished;        /* set by the relay's thread as it returns */
    pthread_t thread;
} s_relay_thread_t;

static void *s_relay_main(void *arg)
{
    s_relay_thread_t *t = arg;
    (void)cg_relay_run(t->relay, &t->stop);
    atomic_store(&t->finished, 1);
    return NULL;
}

/* Starts the node's relay; 0, or -1 (logged: the node's actors then take weights from the
 * snapshots their Hellos get, slowly, and this rank exits 1 at the end). */
static int s_relay_start(s_relay_thread_t *t, const s_opts_t *o, const s_rendezvous_t *rv,
                         const char *token, const char *server_key)
{
    char err[1024] = "";
    const cg_relay_opts_t ropts = {.host = rv->host,
                                   .port = rv->port,
                                   .bind = "127.0.0.1",
                                   .relay_port = (int)o->relay_port,
                                   .token = token,
                                   .curve_server_key = server_key};
    atomic_init(&t->finished, 0);
    t->relay = cg_relay_new(&ropts, err, sizeof err);
    if (t->relay && pthread_create(&t->thread, NULL, s_relay_main, t) == 0)
        return 0;
    CG_ERROR("cgrpo mpi: this node's relay did not start: %s", err[0] ? err : "no thread");
    cg_relay_destroy(&t->relay);
    return -1;
}

/* After training is over (done) the relay ends by itself ~2 s later, having relayed the
 * learner's repeats of done to the node's other actors; otherwise it is stopped now. */
static void s_relay_join(s_relay_thread_t *t, int training_over)
{
    if (!t->relay)
        return;
    for (int i = 0; training_over && i < 40 && !atomic_load(&t->finished); i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    t->stop = 1;
    pthread_join(t->thread, NULL);
    cg_relay_destroy(&t->relay);
}

static int s_run_actor(const s_opts_t *o, const s_rendezvous_t *rv, int32_t actor_id,
                       int runs_relay)
{
    /* Credentials only ([run] token_file, [learner] curve_public_key); the Welcome brings
     * the rest. With --resume they are in the run's config.ini. */
    char base[CG_PATH_LEN + 32], token[CG_NAME_LEN], server_key[CG_CURVE_KEY_LEN + 1];
    snprintf(base, sizeof base, "%s/config.ini", rv->run_dir);
    if (cg_cmd_peer_secrets(&o->copts, o->resume ? base : NULL, o->token, token, sizeof token,
                            server_key, NULL, 0))
        return 1;
    char log[CG_PATH_LEN + 64];
    snprintf(log, sizeof log, "%s/actor-%d.log", rv->run_dir, actor_id);
    if (!freopen(log, "a", stderr))
        fprintf(stdout, "cgrpo mpi: actor %d logs to stderr (%s not writable)\n", actor_id, log);
    else
        setvbuf(stderr, NULL, _IOLBF, 0);

    char err[1024] = "", relay[32] = "";
    s_relay_thread_t rt = {.relay = NULL};
    int relay_failed = runs_relay && s_relay_start(&rt, o, rv, token, server_key);
    if (o->relay_port)
        snprintf(relay, sizeof relay, "127.0.0.1:%ld", o->relay_port);
    cg_actor_opts_t aopts = {.host = rv->host,
                             .port = rv->port,
                             .actor_id = actor_id,
                             .token = token,
                             .instances = (int32_t)o->instances,
                             .curve_server_key = server_key,
                             .relay = relay};
    cg_actor_t *actor = cg_actor_new(&aopts, err, sizeof err);
    if (!actor) {
        fprintf(stderr, "cgrpo mpi: %s\n", err);
        s_relay_join(&rt, 0);
        return 1;
    }
    cg_status_t rc = cg_actor_run(actor, &cg_cmd_stop);
    cg_actor_destroy(&actor);
    s_relay_join(&rt, rc == CG_OK && !cg_cmd_stop);
    return rc == CG_OK && !relay_failed ? 0 : 1;
}

/* With --relay-port: 1 on the lowest actor rank of each node (ranks that share memory), else
 * 0. Collective over MPI_COMM_WORLD; -1 on an MPI error. */
static int s_runs_relay(const s_opts_t *o, int rank)
{
    if (!o->relay_port)
        return 0;
    MPI_Comm node;
    if (S_MPI_CHECK(
            MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node)))
        return -1;
    int mine = rank > 0 ? rank : INT_MAX, lowest = INT_MAX;
    int rc = S_MPI_CHECK(MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, node));
    MPI_Comm_free(&node);
    return rc ? -1 : rank > 0 && rank == lowest;
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
    /* The collectives (the endpoint; with relays, which rank runs its node's): afterwards
     * MPI is finalized on every rank, while all are alive. */
    int brc = S_MPI_CHECK(MPI_Bcast(&rv, (int)sizeof rv, MPI_BYTE, 0, MPI_COMM_WORLD));
    int runs_relay = s_runs_relay(&o, rank);
    S_MPI_CHECK(MPI_Finalize());
    if (brc != 0 || rv.status != 0 || runs_relay < 0) {
        cg_learner_destroy(&learner);
        return 1;
    }
    if (rank == 0)
        return s_run_learner(learner, dir, size - 1);
    return s_run_actor(&o, &rv, (int32_t)(rank - 1), runs_relay);
}
