/* cg_proc: child processes for the integration tests. Starts a program with its output in
 * a log file and its own process group, remembers every PID it started, and kills + reaps
 * them by PID (their process groups too, so a `cgrpo train` takes its actors along): on
 * request, and from an atexit handler, so no test leaves a process behind even when an
 * assertion fails. Children get SIGTERM if the test process dies. Also: a temporary
 * directory removed recursively, a process's resident memory, a monotonic clock.
 * Not here: what the processes are (tests/test_integration.c).
 * Threading: main thread only (the table of children is process-wide: atexit needs it). */
#ifndef CG_PROC_H
#define CG_PROC_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_PROC_MAX 64 /* children tracked at once */

/* Starts argv[0] (a path) with argv (NULL-terminated). env: "NAME=VALUE" strings
 * (NULL-terminated, may be NULL) added to this process's environment. stdout and stderr are
 * appended to log_path (NULL: inherited). Returns the PID, or -1 with a message printed. */
pid_t cg_proc_spawn(const char *const *argv, const char *const *env, const char *log_path);

/* Waits up to timeout_ms (0: just looks) for pid to exit. Returns 0 once it has exited (now
 * or earlier; reaped, *status gets the wait status when status is not NULL), -1 while it
 * still runs or when pid is not one of ours. */
int cg_proc_wait(pid_t pid, int timeout_ms, int *status);
/* 1 while pid (one of ours) has not exited. */
int cg_proc_running(pid_t pid);
/* Sends sig to pid if it is one of ours and not reaped; 0 on success. */
int cg_proc_signal(pid_t pid, int sig);
/* SIGKILL to pid's process group, then reaps pid. No-op when already reaped. */
void cg_proc_kill(pid_t pid);
/* Kills and reaps every child still running. Idempotent; also runs at exit. */
void cg_proc_kill_all(void);
/* Exit code of a wait status: the exit status, or 128 + signal number. */
int cg_proc_exit_code(int status);

/* 1 if any process pid (ours or not) exists and is not a zombie, from /proc. */
int cg_proc_exists(pid_t pid);
/* State letter ('R', 'S', 'Z', ...), parent and process group of any process pid, from
 * /proc/PID/stat. 0 on success, -1 if it is gone or unreadable. */
int cg_proc_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgid);
/* VmRSS of pid in KiB from /proc, or -1. */
long cg_proc_rss_kb(pid_t pid);
void cg_proc_sleep_ms(int ms);

/* Creates $TMPDIR/<prefix>-XXXXXX (TMPDIR unset: /tmp) into out; 0 on success. */
int cg_proc_tmpdir(const char *prefix, char *out, size_t len);
/* Removes path and everything under it (symlinks are not followed). */
void cg_proc_rmtree(const char *path);

#ifdef __cplusplus
}
#endif
#endif
