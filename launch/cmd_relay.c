/* cmd_relay: `cgrpo relay --connect HOST:PORT`: a broadcast relay for the actors of one node
 * (actor/cg_relay.h, docs/cluster.md#broadcast-relays). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_cmd.h"
#include "cg_relay.h"
#include "cg_transport.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cgrpo relay --connect HOST:PORT [options]\n"
            "Subscribes to the learner's weights once and republishes them to the actors of "
            "this\nnode, which take them from here (cgrpo actor --relay ADDRESS:PORT, or "
            "[actor] relay).\nExits when training ends or on SIGINT/SIGTERM.\n\n"
            "  --connect HOST:PORT  the learner's control endpoint (printed by cgrpo "
            "train/learner)\n"
            "  --bind ADDRESS       interface the actors connect to (default 127.0.0.1: this "
            "node's)\n"
            "  --port N             its port (default 0: the OS picks; printed)\n"
            "  --port-file FILE     also write ADDRESS:PORT to FILE once listening (launchers)\n"
            "  --token TOKEN        run token, if the learner requires one\n"
            "  --config FILE        read the run token file ([run] token_file) and the learner's\n"
            "                       CURVE public key ([learner] curve_public_key) from FILE\n"
            "  --set SEC.KEY=VALUE  the same from the command line (repeatable)\n"
            "  -h, --help           this help\n");
}

/* ADDRESS:PORT actors use: the bind address, or this node's loopback for a wildcard. */
static void s_advertise(const char *bind, int port, char *out, size_t n)
{
    int wildcard = !strcmp(bind, "0.0.0.0") || !strcmp(bind, "*");
    snprintf(out, n, "%s:%d", wildcard ? "127.0.0.1" : bind, port);
}

int cg_cmd_relay(int argc, char **argv)
{
    const char *connect = NULL, *token = "", *bind = "127.0.0.1", *port_file = NULL;
    long port = 0;
    cg_cmd_config_opts_t copts = {0};
    static const struct option longopts[] = {{"connect", required_argument, NULL, 'c'},
                                             {"bind", required_argument, NULL, 'b'},
                                             {"port", required_argument, NULL, 'p'},
                                             {"port-file", required_argument, NULL, 'f'},
                                             {"token", required_argument, NULL, 't'},
                                             {"config", required_argument, NULL, 'C'},
                                             {"set", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': connect = optarg; break;
        case 'b': bind = optarg; break;
        case 'p':
            if (cg_cmd_opt_long("relay", "--port", optarg, 0, 65535, &port))
                return 2;
            break;
        case 'f': port_file = optarg; break;
        case 't': token = optarg; break;
        case 'C': copts.config_path = optarg; break;
        case 's':
            if (cg_cmd_add_set(&copts, optarg))
                return 2;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    char host[256];
    int learner_port = 0;
    if (!connect || optind < argc ||
        cg_transport_parse_endpoint(connect, host, sizeof host, &learner_port)) {
        fprintf(stderr, "cgrpo relay: --connect HOST:PORT (the learner's control endpoint, port "
                        "1..65535) is required (hint: cgrpo train and cgrpo learner print it)\n");
        return 2;
    }
    char run_token[CG_NAME_LEN] = "", server_key[CG_CURVE_KEY_LEN + 1] = "";
    if (cg_cmd_peer_secrets(&copts, NULL, token, run_token, sizeof run_token, server_key, NULL, 0))
        return 1;
    cg_cmd_install_signals();
    char err[1024] = "";
    const cg_relay_opts_t opts = {.host = host,
                                  .port = learner_port,
                                  .bind = bind,
                                  .relay_port = (int)port,
                                  .token = run_token,
                                  .curve_server_key = server_key};
    cg_relay_t *relay = cg_relay_new(&opts, err, sizeof err);
    if (!relay) {
        fprintf(stderr, "cgrpo relay: %s\n", err);
        return 1;
    }
    char endpoint[300];
    s_advertise(bind, cg_relay_port(relay), endpoint, sizeof endpoint);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%s\n", endpoint) < 0 || fclose(f) != 0) {
            fprintf(stderr, "cgrpo relay: cannot write %s (hint: a writable path)\n", port_file);
            cg_relay_destroy(&relay);
            return 1;
        }
    }
    printf("cgrpo relay: weights of %s relayed on %s (actors: --relay %s)\n", connect, endpoint,
           endpoint);
    fflush(stdout);
    cg_status_t rc = cg_relay_run(relay, &cg_cmd_stop);
    cg_relay_stats_t st;
    cg_relay_stats(relay, &st);
    cg_relay_destroy(&relay);
    printf("cgrpo relay: %llu weights messages (%.1f MB) relayed, last version %llu%s\n",
           (unsigned long long)st.weights, (double)st.bytes / 1e6, (unsigned long long)st.version,
           st.done ? ", training over" : "");
    if (rc != CG_OK) {
        fprintf(stderr, "cgrpo relay: stopped: %s\n", cg_status_str(rc));
        return 1;
    }
    return 0;
}
