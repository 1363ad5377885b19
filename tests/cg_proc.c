/* cg_proc: spawn, watch, kill and reap the integration tests' child processes by PID;
 * temporary directories; resident memory. */
#include "cg_os.h"
#include "cg_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    pid_t pid; /* 0 = free slot */
    int reaped;
    int status; /* wait status once reaped */
} s_child_t;

/* Process-wide on purpose: the atexit handler has no argument to carry it. */
static s_child_t s_children[CG_PROC_MAX];
static int s_atexit_registered;

static s_child_t *s_find(pid_t pid)
{
    for (int i = 0; i < CG_PROC_MAX; i++)
        if (pid > 0 && s_children[i].pid == pid)
            return &s_children[i];
    return NULL;
}

static s_child_t *s_slot(void)
{
    for (int i = 0; i < CG_PROC_MAX; i++)
        if (s_children[i].pid == 0 || s_children[i].reaped)
            return &s_children[i];
    return NULL;
}

/* environ with each NAME=VALUE of extra replacing or adding NAME. Caller frees the array
 * (the strings are borrowed). Built before fork: the child must not allocate. */
static char **s_envp(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **envp = calloc(n + m + 1, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int replaced = 0;
        for (size_t j = 0; j < m && !replaced; j++)
            replaced = !strncmp(extra[j], environ[i], name_len) && extra[j][name_len] == '=';
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        envp[k++] = (char *)extra[j];
    envp[k] = NULL;
    return envp;
}

pid_t cg_proc_spawn(const char *const *argv, const char *const *env, const char *log_path)
{
    if (!s_atexit_registered) {
        atexit(cg_proc_kill_all);
        s_atexit_registered = 1;
    }
    s_child_t *slot = s_slot();
    if (!slot) {
        fprintf(stderr, "cg_proc: more than %d children\n", CG_PROC_MAX);
        return -1;
    }
    int fd = -1;
    if (log_path) {
        fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "cg_proc: cannot open %s: %s\n", log_path, strerror(errno));
            return -1;
        }
    }
    char **envp = s_envp(env);
    if (!envp) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* Async-signal-safe calls only from here on (the parent may have threads). */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execve(argv[0], (char *const *)argv, envp);
        _exit(127);
    }
    int err = errno;
    free(envp);
    if (fd >= 0)
        close(fd);
    if (pid < 0) {
        fprintf(stderr, "cg_proc: fork: %s\n", strerror(err));
        return -1;
    }
    setpgid(pid, pid); /* also here, so a kill right after spawn reaches the group */
    *slot = (s_child_t){pid, 0, 0};
    return pid;
}

/* Reaps c, which has exited; first kills what is left of its process group (the zombie
 * leader keeps the group id from being reused meanwhile). */
static void s_reap(s_child_t *c)
{
    kill(-c->pid, SIGKILL);
    int st = 0;
    while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
        ;
    c->reaped = 1;
    c->status = st;
}

int cg_proc_wait(pid_t pid, int timeout_ms, int *status)
{
    s_child_t *c = s_find(pid);
    if (!c)
        return -1;
    double deadline = cg_os_now() + timeout_ms / 1000.0;
    while (!c->reaped) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
            s_reap(c);
            break;
        }
        if (cg_os_now() >= deadline)
            return -1;
        cg_proc_sleep_ms(10);
    }
    if (status)
        *status = c->status;
    return 0;
}

int cg_proc_running(pid_t pid)
{
    return s_find(pid) && cg_proc_wait(pid, 0, NULL) != 0;
}

int cg_proc_signal(pid_t pid, int sig)
{
    s_child_t *c = s_find(pid);
    if (!c || c->reaped)
        return -1;
    return kill(pid, sig);
}

void cg_proc_kill(pid_t pid)
{
    s_child_t *c = s_find(pid);
    if (!c || c->reaped)
        return;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    s_reap(c);
}

void cg_proc_kill_all(void)
{
    for (int i = 0; i < CG_PROC_MAX; i++)
        if (s_children[i].pid > 0 && !s_children[i].reaped)
            cg_proc_kill(s_children[i].pid);
}

int cg_proc_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int cg_proc_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* "pid (comm) S ppid pgrp ...": the state follows the last ')' (comm may contain one). */
    const char *paren = strrchr(buf, ')');
    int parent = 0, group = 0;
    if (!paren || sscanf(paren + 1, " %c %d %d", state, &parent, &group) != 3)
        return -1;
    *ppid = (pid_t)parent;
    *pgid = (pid_t)group;
    return 0;
}

int cg_proc_exists(pid_t pid)
{
    char state = 0;
    pid_t ppid, pgid;
    return cg_proc_stat(pid, &state, &ppid, &pgid) == 0 && state != 'Z' && state != 'X';
}

long cg_proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

void cg_proc_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cg_proc_tmpdir(const char *prefix, char *out, size_t len)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    int n = snprintf(out, len, "%s/%s-XXXXXX", base, prefix);
    if (n < 0 || (size_t)n >= len)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void cg_proc_rmtree(const char *path)
{
    if (path && path[0])
        nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}
