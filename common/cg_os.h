/* cg_os: what cgrpo needs from the operating system, in one place: clocks (and the machine's
 * CPU time), reading a whole
 * file, creating a directory with its parents.
 * Not here: process control (launch/, tests/cg_proc), sockets (cg_transport).
 * Threading: every function may be called from any thread. */
#ifndef CG_OS_H
#define CG_OS_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on the monotonic clock (intervals, deadlines). */
double cg_os_now(void);
/* Seconds since the Unix epoch (timestamps others read). */
double cg_os_wall(void);
/* CPU seconds the whole machine has spent busy since boot (every core: user, nice, system,
 * irq, softirq; not idle, iowait or steal), from /proc/stat; -1 where that cannot be read.
 * The difference over an interval / its wall seconds = the cores busy meanwhile. */
double cg_os_cpu_busy_s(void);
/* The whole file, NUL-terminated (the caller frees it); *len (may be NULL) gets its size.
 * NULL with errno set if it cannot be read. */
char *cg_os_read_file(const char *path, size_t *len);
/* Creates path and any missing parent with mode (an existing directory is fine). 0, or -1
 * with errno set. */
int cg_os_mkdir_p(const char *path, mode_t mode);

#ifdef __cplusplus
}
#endif

#endif
