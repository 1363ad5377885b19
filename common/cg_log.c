/* cg_log: one stderr line per call; threshold from CG_LOG_LEVEL or cg_log_set_level. */
#include "cg_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1 = not yet read from the environment. A plain int: set once at start-up. */
static int s_level = -1;

static int s_current_level(void)
{
    if (s_level < 0) {
        const char *env = getenv("CG_LOG_LEVEL");
        s_level = CG_LOG_INFO;
        if (env) {
            if (!strcmp(env, "error"))
                s_level = CG_LOG_ERROR;
            else if (!strcmp(env, "warn"))
                s_level = CG_LOG_WARN;
            else if (!strcmp(env, "debug"))
                s_level = CG_LOG_DEBUG;
        }
    }
    return s_level;
}

void cg_log_set_level(cg_log_level_t level)
{
    s_level = (int)level;
}

int cg_log_enabled(cg_log_level_t level)
{
    return (int)level <= s_current_level();
}

void cg_log_write(cg_log_level_t level, const char *file, int line, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (!cg_log_enabled(level))
        return;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%-5s %s:%d: %s\n", names[level], base, line, msg);
}
