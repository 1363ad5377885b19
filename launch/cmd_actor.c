/* cmd_actor: `cgrpo actor --connect HOST:PORT`: one actor process (clusters, and the
 * children `cgrpo train` starts). Everything else comes from the learner's Welcome. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_actor.h"
#include "cg_cmd.h"
#include "cg_transport.h"

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: cgrpo actor --connect HOST:PORT [options]\n"
        "Runs one actor: rolls out groups on its simulator instances and streams them to the\n"
        "learner; gets the run's config and weights from the learner. Retries until the learner\n"
        "is up, reconnects by itself if it restarts, exits when training ends or on "
        "SIGINT/SIGTERM.\n\n"
        "  --connect HOST:PORT  the learner's control endpoint (printed by cgrpo train/learner)\n"
        "  --actor-id N         fixed actor id (default: the learner assigns one)\n"
        "  --instances M        simulator instances (default [actor] instances)\n"
        "  --relay HOST:PORT    take the weights from this node's `cgrpo relay` instead of the\n"
        "                       learner (default [actor] relay: from --config/--set, else the\n"
        "                       run's config)\n"
        "  --token TOKEN        run token, if the learner requires one\n"
        "  --flood              benchmark only (cgrpo scaling --flood): send the first batch\n"
        "                       again and again as fast as the learner takes it\n"
        "  --config FILE        read the run token file ([run] token_file), the learner's\n"
        "                       CURVE public key ([learner] curve_public_key) and [actor] relay\n"
        "                       from FILE\n"
        "  --set SEC.KEY=VALUE  the same from the command line (repeatable)\n"
        "  -h, --help           this help\n");
}

int cg_cmd_actor(int argc, char **argv)
{
    const char *connect = NULL, *token = "", *relay = NULL;
    int flood = 0;
    long actor_id = -1, instances = 0;
    cg_cmd_config_opts_t copts = {0};
    static const struct option longopts[] = {{"connect", required_argument, NULL, 'c'},
                                             {"actor-id", required_argument, NULL, 'i'},
                                             {"instances", required_argument, NULL, 'm'},
                                             {"token", required_argument, NULL, 't'},
                                             {"relay", required_argument, NULL, 'r'},
                                             {"flood", no_argument, NULL, 'F'},
                                             {"config", required_argument, NULL, 'C'},
                                             {"set", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': connect = optarg; break;
        case 'i':
            if (cg_cmd_opt_long("actor", "--actor-id", optarg, -1, 1000000, &actor_id))
                return 2;
            break;
        case 'm':
            if (cg_cmd_opt_long("actor", "--instances", optarg, 1, 65536, &instances))
                return 2;
            break;
        case 't': token = optarg; break;
        case 'r': relay = optarg; break;
        case 'F': flood = 1; break;
        case 'C': copts.config_path = optarg; break;
        case 's':
            if (cg_cmd_add_set(&copts, optarg))
                return 2;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!connect || optind < argc) {
        fprintf(stderr, "cgrpo actor: --connect HOST:PORT is required (hint: cgrpo train and cgrpo "
                        "learner print the endpoint)\n");
        return 2;
    }
    char host[256];
    int port = 0;
    if (cg_transport_parse_endpoint(connect, host, sizeof host, &port)) {
        fprintf(stderr, "cgrpo actor: --connect wants HOST:PORT with a port 1..65535, got '%s'\n",
                connect);
        return 2;
    }

    /* Only the credentials come from a config here; the run itself comes from the Welcome. */
    char run_token[CG_NAME_LEN] = "", server_key[CG_CURVE_KEY_LEN + 1] = "";
    char cfg_relay[CG_NAME_LEN] = "";
    if (cg_cmd_peer_secrets(&copts, NULL, token, run_token, sizeof run_token, server_key, cfg_relay,
                            sizeof cfg_relay))
        return 1;

    cg_cmd_install_signals();
    cg_cmd_blas_threads();
    char err[1024] = "";
    cg_actor_opts_t opts = {.host = host,
                            .port = port,
                            .actor_id = (int32_t)actor_id,
                            .token = run_token,
                            .instances = (int32_t)instances,
                            .curve_server_key = server_key,
                            .relay = relay ? relay : cfg_relay,
                            .flood = flood};
    cg_actor_t *actor = cg_actor_new(&opts, err, sizeof err);
    if (!actor) {
        fprintf(stderr, "cgrpo actor: %s\n", err);
        return 1;
    }
    cg_status_t rc = cg_actor_run(actor, &cg_cmd_stop);
    cg_actor_destroy(&actor);
    if (rc != CG_OK) {
        fprintf(stderr, "cgrpo actor: stopped: %s\n", cg_status_str(rc));
        return 1;
    }
    return 0;
}
