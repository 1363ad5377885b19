/* cg_os: clocks, the machine's CPU time, whole-file reads and mkdir -p. */
#include "cg_os.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"

static double s_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cg_os_now(void)
{
    return s_clock(CLOCK_MONOTONIC);
}

double cg_os_wall(void)
{
    return s_clock(CLOCK_REALTIME);
}

double cg_os_cpu_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1.0;
    unsigned long long user, nice, sys, idle, iowait, irq, softirq;
    const int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                         &iowait, &irq, &softirq);
    fclose(f);
    const long hz = sysconf(_SC_CLK_TCK);
    if (n != 7 || hz <= 0)
        return -1.0;
    return (double)(user + nice + sys + irq + softirq) / (double)hz;
}

char *cg_os_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = cg_calloc(cap + 1, 1);
    for (;;) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        buf = cg_realloc(buf, 2 * cap + 1, 1);
        cap *= 2;
    }
    const int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int cg_os_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(tmp, &st) || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}
