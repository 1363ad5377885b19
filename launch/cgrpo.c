/* cgrpo: the command-line entry point; dispatches to the subcommands in cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cg_cmd.h"

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: cgrpo COMMAND [options]   (cgrpo COMMAND --help for each)\n\n"
        "  train     train: learner + local actors (no options: default constrained gridworld)\n"
        "  eval      evaluate a run's latest checkpoint: goal rate and cost rates\n"
        "  bench     throughput: bare simulator loop vs end-to-end training\n"
        "  scaling   the actor-scaling study: throughput against the number of actors\n"
        "  plot      PNG plots of runs' metrics.csv (gnuplot): cgrpo plot RUN_DIR...\n"
        "  learner   run the learner role only (clusters)\n"
        "  actor     run one actor: cgrpo actor --connect HOST:PORT\n"
        "  relay     one per node: the learner's weights, relayed to that node's actors\n"
        "  mpi       under mpirun: rank 0 the learner, the other ranks actors\n"
        "  keygen    CURVE keys and a run token for a learner bound off loopback\n"
        "  sims      the simulators (built in and plugin) and their config keys\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    argv[1] = argv[0];
    if (!strcmp(cmd, "train"))
        return cg_cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "learner"))
        return cg_cmd_learner(argc - 1, argv + 1);
    if (!strcmp(cmd, "actor"))
        return cg_cmd_actor(argc - 1, argv + 1);
    if (!strcmp(cmd, "relay"))
        return cg_cmd_relay(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cg_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cg_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "scaling"))
        return cg_cmd_scaling(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot"))
        return cg_cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "mpi"))
        return cg_cmd_mpi(argc - 1, argv + 1);
    if (!strcmp(cmd, "sims"))
        return cg_cmd_sims(argc - 1, argv + 1);
    if (!strcmp(cmd, "keygen"))
        return cg_cmd_keygen(argc - 1, argv + 1);
    fprintf(stderr, "cgrpo: unknown command '%s'\n", cmd);
    s_usage(stderr);
    return 2;
}
