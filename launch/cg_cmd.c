/* cg_cmd: shared pieces of the subcommands: config loading, signals, child actors. */
#include "cg_cmd.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_transport.h"

volatile sig_atomic_t cg_cmd_stop = 0;

static void s_on_signal(int sig)
{
    (void)sig;
    cg_cmd_stop = 1;
}

void cg_cmd_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cg_cmd_add_set(cg_cmd_config_opts_t *opts, const char *assignment)
{
    if (opts->n_sets >= CG_CMD_MAX_SETS) {
        fprintf(stderr, "cgrpo: too many --set options (at most %d; hint: put them in a --config file)\n",
                CG_CMD_MAX_SETS);
        return -1;
    }
    opts->sets[opts->n_sets++] = assignment;
    return 0;
}

int cg_cmd_load_config(const cg_cmd_config_opts_t *opts, const char *base_path, cg_config_t *cfg)
{
    char err[1024];
    cg_config_defaults(cfg);
    if (base_path && cg_config_load(cfg, base_path, err, sizeof err) != CG_OK) {
        fprintf(stderr, "cgrpo: %s\n", err);
        return 1;
    }
    if (opts->config_path && cg_config_load(cfg, opts->config_path, err, sizeof err) != CG_OK) {
        fprintf(stderr, "cgrpo: %s\n", err);
        return 1;
    }
    for (int i = 0; i < opts->n_sets; i++) {
        if (cg_config_set(cfg, opts->sets[i], err, sizeof err) != CG_OK) {
            fprintf(stderr, "cgrpo: %s\n", err);
            return 1;
        }
    }
    if (cg_config_finish(cfg, err, sizeof err) != CG_OK) {
        fprintf(stderr, "cgrpo: %s\n", err);
        return 1;
    }
    return 0;
}

pid_t cg_cmd_spawn_actor(const char *host, int port, int actor_id, const char *token,
                         const char *config_path, const char *log_path)
{
    char self_exe[4096];
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0) {
        fprintf(stderr, "cgrpo: cannot find my own executable: %s\n", strerror(errno));
        return -1;
    }
    self_exe[n] = 0;
    char endpoint[300], id[32];
    snprintf(endpoint, sizeof endpoint, "%s:%d", host, port);
    snprintf(id, sizeof id, "%d", actor_id);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cgrpo: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* A local actor ends with its launcher, however that dies: otherwise it would wait
         * for a learner forever and, after `train --resume`, pose as the new actor's twin. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                close(fd);
            }
        }
        setenv("OPENBLAS_NUM_THREADS", "1", 0);
        char *args[12];
        int a = 0;
        args[a++] = self_exe;
        args[a++] = (char *)"actor";
        args[a++] = (char *)"--connect";
        args[a++] = endpoint;
        args[a++] = (char *)"--actor-id";
        args[a++] = id;
        if (token && token[0]) {
            args[a++] = (char *)"--token";
            args[a++] = (char *)token;
        }
        if (config_path && config_path[0]) {
            args[a++] = (char *)"--config";
            args[a++] = (char *)config_path;
        }
        args[a] = NULL;
        execv(self_exe, args);
        _exit(127);
    }
    return pid;
}

void cg_cmd_stop_children(const pid_t *pids, int n, int grace_ms)
{
    int *done = calloc((size_t)n + 1, sizeof *done);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
        else
            done[i] = 1;
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int waited = 0; waited < grace_ms; waited += 10) {
        int left = 0;
        for (int i = 0; i < n; i++) {
            if (!done[i] && waitpid(pids[i], NULL, WNOHANG) != 0)
                done[i] = 1;
            left += !done[i];
        }
        if (!left)
            break;
        nanosleep(&tick, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (!done[i]) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    }
    free(done);
}

int cg_cmd_secrets(const cg_config_t *cfg, const char *cli_token, char *token, size_t token_len,
                   char *server_key)
{
    server_key[0] = 0;
    snprintf(token, token_len, "%s", cli_token ? cli_token : "");
    if (!token[0] && cfg->token_file[0]) {
        FILE *f = fopen(cfg->token_file, "r");
        char line[512] = "";
        if (!f || !fgets(line, sizeof line, f)) {
            fprintf(stderr, "cgrpo: cannot read the run token from [run] token_file %s: %s (hint: "
                    "`cgrpo keygen DIR` writes DIR/token)\n", cfg->token_file,
                    f ? "empty file" : strerror(errno));
            if (f)
                fclose(f);
            return 1;
        }
        fclose(f);
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || strlen(line) >= token_len) {
            fprintf(stderr, "cgrpo: [run] token_file %s: the token must be 1 to %zu characters on "
                    "the first line\n", cfg->token_file, token_len - 1);
            return 1;
        }
        snprintf(token, token_len, "%s", line);
    }
    if (cfg->curve_public_key[0]) {
        char err[1024];
        if (cg_transport_curve_read_key(cfg->curve_public_key, server_key, err, sizeof err)) {
            fprintf(stderr, "cgrpo: [learner] curve_public_key: %s\n", err);
            return 1;
        }
    }
    return 0;
}

void cg_cmd_stamp_dir(char *dir, size_t len, const char *parent, const char *suffix)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    mkdir(parent, 0755);
    snprintf(dir, len, "%s/%s%s%s", parent, stamp, suffix ? "-" : "", suffix ? suffix : "");
}

void cg_cmd_blas_threads(void)
{
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
}
