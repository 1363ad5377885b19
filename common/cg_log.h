/* cg_log: leveled log lines to stderr, "LEVEL file:line: message".
 * The level threshold comes from CG_LOG_LEVEL (error|warn|info|debug) at first use
 * or cg_log_set_level(). Threading: each line is written with one fprintf call. */
#ifndef CG_LOG_H
#define CG_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CG_LOG_ERROR = 0,
    CG_LOG_WARN = 1,
    CG_LOG_INFO = 2,
    CG_LOG_DEBUG = 3,
} cg_log_level_t;

void cg_log_set_level(cg_log_level_t level);
int cg_log_enabled(cg_log_level_t level);
void cg_log_write(cg_log_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CG_ERROR(...) cg_log_write(CG_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define CG_WARN(...) cg_log_write(CG_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define CG_INFO(...) cg_log_write(CG_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define CG_DEBUG(...)                                                                              \
    (cg_log_enabled(CG_LOG_DEBUG) ? cg_log_write(CG_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)    \
                                  : (void)0)

#ifdef __cplusplus
}
#endif
#endif
