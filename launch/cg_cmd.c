/* cg_cmd: shared pieces of the subcommands: config loading, signals, child actors (started,
 * watched through SIGCHLD, stopped by PID). */
#include "cg_cmd.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_os.h"
#include "cg_transport.h"
#include "cg_sim.h"

volatile sig_atomic_t cg_cmd_stop = 0;

static void s_on_signal(int sig)
{
    (void)sig;
    cg_cmd_stop = CG_CMD_STOP_SIGNAL;
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
        fprintf(stderr,
                "cgrpo: too many --set options (at most %d; hint: put them in a --config file)\n",
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
    if (cg_sim_configure(cfg, err, sizeof err) != CG_OK ||
        cg_config_finish(cfg, err, sizeof err) != CG_OK) {
        fprintf(stderr, "cgrpo: %s\n", err);
        return 1;
    }
    return 0;
}

/* The check of cg_cmd_env, in a child: a simulator that crashes takes only the child down. */
static int s_probe_sim(const cg_config_t *cfg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0; /* no child: the learner's own describe is the check */
    if (pid == 0) {
        char err[2048];
        cg_sim_t *probe = cg_sim_new(cfg, 1, cfg->seed, err, sizeof err);
        int ok = probe != NULL;
        if (!ok)
            fprintf(stderr, "cgrpo: %s\n", err);
        cg_sim_destroy(&probe);
        fflush(stderr);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        fprintf(stderr,
                "cgrpo: simulator %s (%s) crashed (signal %d) while being set up "
                "(hint: fix the simulator; the message above says where)\n",
                cfg->sim, cfg->sim_plugin[0] ? cfg->sim_plugin : "built in", WTERMSIG(status));
        return 1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int cg_cmd_env(const cg_config_t *cfg, cg_env_spec_t *env)
{
    char err[2048];
    cg_sim_kind_t *kind = cg_sim_kind_new(cfg, err, sizeof err);
    if (!kind) {
        fprintf(stderr, "cgrpo: %s\n", err);
        return 1;
    }
    if (cg_sim_kind_runs_here(kind) && s_probe_sim(cfg)) {
        cg_sim_kind_destroy(&kind);
        return 1;
    }
    cg_sim_kind_env(kind, env);
    cg_sim_kind_destroy(&kind);
    return 0;
}

int cg_cmd_self_exe(char *buf, size_t n, int elsewhere)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0) {
        fprintf(stderr, "cgrpo: cannot find my own executable: %s\n", strerror(errno));
        return -1;
    }
    buf[len] = '\0';
    static const char deleted[] = " (deleted)";
    const size_t dl = sizeof deleted - 1;
    if ((size_t)len > dl && strcmp(buf + len - dl, deleted) == 0) {
        /* Replaced on disk while running (a rebuild): this process's own image is still at
         * /proc/self/exe for a child of this host; another host can only find the new one. */
        if (!elsewhere) {
            snprintf(buf, n, "/proc/self/exe");
            return 0;
        }
        buf[len - dl] = '\0';
        fprintf(stderr,
                "cgrpo: my executable %s was replaced while I run (rebuilt?): the actors "
                "would start another build (hint: run the study again with the new build)\n",
                buf);
        return -1;
    }
    return 0;
}

pid_t cg_cmd_spawn(char *const argv[], const char *log_path)
{
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cgrpo: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* A child ends with its launcher, however that dies: a local actor would otherwise
         * wait for a learner forever and, after `train --resume`, pose as the new actor's
         * twin. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        /* A watch (below) has SIGCHLD blocked in the launcher; the mask survives exec. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                close(fd);
            }
        }
        setenv("OPENBLAS_NUM_THREADS", "1", 0);
        execvp(argv[0], argv);
        fprintf(stderr, "cgrpo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

pid_t cg_cmd_spawn_actor(const char *host, int port, int actor_id, const char *token,
                         const char *config_path, const char *log_path, int flood)
{
    char self_exe[4096], endpoint[300], id[32];
    if (cg_cmd_self_exe(self_exe, sizeof self_exe, 0))
        return -1;
    snprintf(endpoint, sizeof endpoint, "%s:%d", host, port);
    snprintf(id, sizeof id, "%d", actor_id);
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
    if (flood)
        args[a++] = (char *)"--flood";
    args[a] = NULL;
    return cg_cmd_spawn(args, log_path);
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

/* ---- watching local actors ----------------------------------------------------------
 * The handler may only use async-signal-safe calls: waitpid, write, and text built by hand.
 * The tables are allocated before the handler is installed and freed after it is removed. */

#define S_STR2(x) #x
#define S_STR(x) S_STR2(x)

static struct {
    int cap, n;
    int armed;
    int warn;                      /* CG_LOG_LEVEL lets warnings through */
    int progress;                  /* a progress line may be on stderr: clear it first */
    pid_t *pid;                    /* (cap) */
    int *id;                       /* (cap) actor ids */
    char **log;                    /* (cap) log paths, owned; NULL: none */
    volatile sig_atomic_t *ended;  /* (cap) 1 + the order in which it was reaped; 0: running */
    volatile sig_atomic_t *status; /* (cap) wait status once ended */
    volatile sig_atomic_t n_ended;
    sigset_t old_mask;         /* this thread's mask before begin */
    struct sigaction old_chld; /* SIGCHLD's action before arm */
} s_watch;

/* Appends s to buf (NUL-terminated, len bytes) from *at on. Async-signal-safe. */
static void s_put(char *buf, size_t len, size_t *at, const char *s)
{
    while (s && *s && *at + 1 < len)
        buf[(*at)++] = *s++;
    buf[*at] = 0;
}

static void s_put_int(char *buf, size_t len, size_t *at, long v)
{
    char digits[24];
    int k = 0;
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[k++] = '-';
    while (k > 0 && *at + 1 < len)
        buf[(*at)++] = digits[--k];
    buf[*at] = 0;
}

static void s_put_wait(char *buf, size_t len, size_t *at, int status)
{
    if (WIFEXITED(status)) {
        s_put(buf, len, at, "exit status ");
        s_put_int(buf, len, at, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        s_put(buf, len, at, "killed by signal ");
        s_put_int(buf, len, at, WTERMSIG(status));
        if (WCOREDUMP(status))
            s_put(buf, len, at, " (core dumped)");
    } else {
        s_put(buf, len, at, "wait status ");
        s_put_int(buf, len, at, status);
    }
}

void cg_cmd_wait_str(int status, char *out, size_t len)
{
    size_t at = 0;
    if (len)
        s_put_wait(out, len, &at, status);
}

/* The warning for actor slot i, in cg_log's "LEVEL file:line: message" shape. */
static void s_watch_warn(int i, int left)
{
    char line[CG_PATH_LEN + 512];
    size_t at = 0, len = sizeof line - 1; /* room for the '\n' */
    if (s_watch.progress)
        s_put(line, len, &at, "\r\033[K");
    s_put(line, len, &at, "WARN  cg_cmd.c:" S_STR(__LINE__) ": local actor ");
    s_put_int(line, len, &at, s_watch.id[i]);
    s_put(line, len, &at, " (pid ");
    s_put_int(line, len, &at, (long)s_watch.pid[i]);
    s_put(line, len, &at, ") ended: ");
    s_put_wait(line, len, &at, (int)s_watch.status[i]);
    s_put(line, len, &at, "; ");
    s_put_int(line, len, &at, left);
    s_put(line, len, &at, " of ");
    s_put_int(line, len, &at, s_watch.n);
    s_put(line, len, &at, " local actors left");
    if (s_watch.log[i]) {
        s_put(line, len, &at, " (its log: ");
        s_put(line, len, &at, s_watch.log[i]);
        s_put(line, len, &at, ")");
    }
    line[at++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, at);
    (void)w; /* nothing to do about a lost warning */
}

static void s_on_child(int sig)
{
    (void)sig;
    int saved_errno = errno;
    for (int i = 0; i < s_watch.n; i++) {
        int st = 0;
        if (s_watch.ended[i] || waitpid(s_watch.pid[i], &st, WNOHANG) != s_watch.pid[i])
            continue;
        s_watch.status[i] = st;
        s_watch.ended[i] = ++s_watch.n_ended;
        if (s_watch.warn && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            s_watch_warn(i, s_watch.n - s_watch.n_ended);
    }
    /* SIGINT/SIGTERM are blocked while this runs: a user's stop is never overwritten. */
    if (s_watch.n > 0 && s_watch.n_ended == s_watch.n && !cg_cmd_stop)
        cg_cmd_stop = CG_CMD_STOP_ACTORS;
    errno = saved_errno;
}

void cg_cmd_watch_begin(int n, int progress)
{
    CG_ASSERT(s_watch.cap == 0); /* one watch at a time */
    if (n <= 0)
        return;
    memset(&s_watch, 0, sizeof s_watch);
    s_watch.cap = n;
    s_watch.progress = progress;
    s_watch.warn = cg_log_enabled(CG_LOG_WARN); /* reads the environment: not in the handler */
    s_watch.pid = cg_calloc((size_t)n, sizeof *s_watch.pid);
    s_watch.id = cg_calloc((size_t)n, sizeof *s_watch.id);
    s_watch.log = cg_calloc((size_t)n, sizeof *s_watch.log);
    s_watch.ended = cg_calloc((size_t)n, sizeof *s_watch.ended);
    s_watch.status = cg_calloc((size_t)n, sizeof *s_watch.status);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &s_watch.old_mask);
}

void cg_cmd_watch_add(pid_t pid, int actor_id, const char *log_path)
{
    if (s_watch.cap == 0)
        return;
    CG_ASSERT(!s_watch.armed && s_watch.n < s_watch.cap && pid > 0);
    s_watch.pid[s_watch.n] = pid;
    s_watch.id[s_watch.n] = actor_id;
    s_watch.log[s_watch.n] = log_path ? cg_strdup(log_path) : NULL;
    s_watch.n++;
}

void cg_cmd_watch_arm(void)
{
    if (s_watch.cap == 0 || s_watch.armed)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_child;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    /* Restart what can be restarted (file writes, waits); poll and sleep calls still return
     * early, which the learner's loop takes as a timeout. */
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &s_watch.old_chld);
    s_watch.armed = 1;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    /* An actor that died before the handler was there raised its SIGCHLD already (pending,
     * delivered just now) or, if the signal was ignored then, left a zombie: look once more. */
    raise(SIGCHLD);
}

void cg_cmd_watch_end(pid_t *pids, cg_cmd_watch_report_t *report)
{
    if (report) {
        memset(report, 0, sizeof *report);
        report->named_id = -1;
    }
    if (s_watch.cap == 0)
        return;
    sigset_t quiet;
    sigemptyset(&quiet);
    sigaddset(&quiet, SIGCHLD);
    sigaddset(&quiet, SIGINT);
    sigaddset(&quiet, SIGTERM);
    sigprocmask(SIG_BLOCK, &quiet, NULL);
    if (s_watch.armed)
        sigaction(SIGCHLD, &s_watch.old_chld, NULL);
    /* With SIGINT/SIGTERM blocked a user's stop cannot slip in between the test and the
     * clearing; one pending is delivered when the mask is restored below. */
    int stopped = cg_cmd_stop == CG_CMD_STOP_ACTORS;
    if (stopped)
        cg_cmd_stop = 0;
    int named = -1;
    for (int i = 0; i < s_watch.n; i++) {
        if (!s_watch.ended[i])
            continue;
        if (pids)
            pids[i] = 0;
        int st = (int)s_watch.status[i];
        int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        int named_clean = named >= 0 && WIFEXITED((int)s_watch.status[named]) &&
                          WEXITSTATUS((int)s_watch.status[named]) == 0;
        if (named < 0 || (named_clean && !clean) ||
            (named_clean == clean && s_watch.ended[i] < s_watch.ended[named]))
            named = i;
    }
    if (report) {
        report->n = s_watch.n;
        report->stopped = stopped;
        if (named >= 0) {
            report->named_id = s_watch.id[named];
            report->named_status = (int)s_watch.status[named];
            snprintf(report->named_log, sizeof report->named_log, "%s",
                     s_watch.log[named] ? s_watch.log[named] : "");
        }
    }
    for (int i = 0; i < s_watch.n; i++)
        free(s_watch.log[i]);
    free(s_watch.pid);
    free(s_watch.id);
    free(s_watch.log);
    free((void *)s_watch.ended);
    free((void *)s_watch.status);
    sigset_t old = s_watch.old_mask;
    memset(&s_watch, 0, sizeof s_watch);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int cg_cmd_peer_secrets(const cg_cmd_config_opts_t *copts, const char *base, const char *cli_token,
                        char *token, size_t token_len, char *server_key, char *relay,
                        size_t relay_len)
{
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    int bad = cg_cmd_load_config(copts, base, cfg) ||
              cg_cmd_secrets(cfg, cli_token, token, token_len, server_key);
    if (!bad && relay)
        snprintf(relay, relay_len, "%s", cfg->relay);
    free(cfg);
    return bad;
}

int cg_cmd_secrets(const cg_config_t *cfg, const char *cli_token, char *token, size_t token_len,
                   char *server_key)
{
    server_key[0] = 0;
    if (cli_token && strlen(cli_token) >= token_len) {
        fprintf(stderr,
                "cgrpo: --token is %zu characters long; at most %zu are allowed (hint: "
                "`cgrpo keygen DIR` writes a token of the right size to DIR/token)\n",
                strlen(cli_token), token_len - 1);
        return 1;
    }
    snprintf(token, token_len, "%s", cli_token ? cli_token : "");
    if (!token[0] && cfg->token_file[0]) {
        FILE *f = fopen(cfg->token_file, "r");
        char line[512] = "";
        if (!f || !fgets(line, sizeof line, f)) {
            fprintf(stderr,
                    "cgrpo: cannot read the run token from [run] token_file %s: %s (hint: "
                    "`cgrpo keygen DIR` writes DIR/token)\n",
                    cfg->token_file, f ? "empty file" : strerror(errno));
            if (f)
                fclose(f);
            return 1;
        }
        fclose(f);
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || strlen(line) >= token_len) {
            fprintf(stderr,
                    "cgrpo: [run] token_file %s: the token must be 1 to %zu characters on "
                    "the first line\n",
                    cfg->token_file, token_len - 1);
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
    (void)cg_os_mkdir_p(parent, 0755); /* a failure shows when the run directory is made */
    snprintf(dir, len, "%s/%s%s%s", parent, stamp, suffix ? "-" : "", suffix ? suffix : "");
}

void cg_cmd_blas_threads(void)
{
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
}

int cg_cmd_opt_long(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "cgrpo %s: %s needs an integer from %ld to %ld, got '%s'\n", cmd, opt, lo,
                hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cg_cmd_opt_double(const char *cmd, const char *opt, const char *text, double lo, double hi,
                      double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "cgrpo %s: %s needs a number from %g to %g, got '%s'\n", cmd, opt, lo, hi,
                text);
        return -1;
    }
    *out = v;
    return 0;
}

int cg_cmd_gnuplot(const char *who, const char *script, size_t len, const char *cwd,
                   const char *png)
{
    int fds[2];
    if (pipe(fds)) {
        fprintf(stderr, "%s: pipe: %s\n", who, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", who, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp("gnuplot", "gnuplot", (char *)NULL);
        fprintf(stderr,
                "%s: cannot run gnuplot: %s (hint: install it, e.g. apt-get install "
                "gnuplot-nox)\n",
                who, strerror(errno));
        _exit(127);
    }
    close(fds[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fds[1], script + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fds[1]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    signal(SIGPIPE, old);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 127))
            fprintf(stderr, "%s: gnuplot failed on %s (its messages are above)\n", who, png);
        return -1;
    }
    struct stat sb;
    if (stat(png, &sb) || sb.st_size == 0) {
        fprintf(stderr, "%s: gnuplot wrote no %s\n", who, png);
        return -1;
    }
    return 0;
}
