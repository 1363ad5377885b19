/* cg_status: the one status enum, always-on assertions, and check macros.
 * Every recoverable failure in cgrpo returns a cg_status_t (negative on failure);
 * a broken invariant hits CG_ASSERT, which logs file:line and aborts.
 * Threading: stateless, safe from any thread. */
#ifndef CG_STATUS_H
#define CG_STATUS_H

#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CG_OK = 0,
    CG_ERR_INVAL = -1,        /* bad argument or value (config, CLI, shapes) */
    CG_ERR_NOMEM = -2,        /* allocation failed */
    CG_ERR_IO = -3,           /* file or system call failed */
    CG_ERR_PROTO = -4,        /* malformed message or bytes */
    CG_ERR_VERSION = -5,      /* protocol version mismatch */
    CG_ERR_RUN_ID = -6,       /* message from another run */
    CG_ERR_SHAPE = -7,        /* inconsistent sizes */
    CG_ERR_NONFINITE = -8,    /* NaN or Inf where a finite number is required */
    CG_ERR_TOOBIG = -9,       /* over a configured cap */
    CG_ERR_RANGE = -10,       /* value outside its allowed range */
    CG_ERR_ZMQ = -11,         /* ZeroMQ call failed */
    CG_ERR_TIMEOUT = -12,     /* nothing arrived in time */
    CG_ERR_CORRUPT = -13,     /* checkpoint or file content is damaged */
    CG_ERR_MISMATCH = -14,    /* checkpoint or peer does not match this run */
    CG_ERR_UNSUPPORTED = -15, /* feature not built or not available (e.g. no CUDA device) */
    CG_ERR_AUTH = -16,        /* missing or wrong credentials */
    CG_ERR_INTERRUPTED = -17, /* stopped by a signal */
} cg_status_t;

/* Short English name of a status ("invalid argument", ...). Never NULL. */
const char *cg_status_str(cg_status_t status);

/* Writes a printf-style message into err (errlen bytes, always NUL-terminated; NULL or 0
 * discards it): the message half of functions that return a status and take
 * (char *err, size_t errlen). */
void cg_status_msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs "file:line: assertion failed: expr" and aborts. Used by CG_ASSERT. */
void cg_assert_fail(const char *expr, const char *file, int line);

/* Always on, also in release builds: for broken invariants, never for bad input. */
#define CG_ASSERT(expr) ((expr) ? (void)0 : cg_assert_fail(#expr, __FILE__, __LINE__))

/* Propagates a failing status to the caller. */
#define CG_TRY(call)                                                                               \
    do {                                                                                           \
        cg_status_t cg_try_rc_ = (call);                                                           \
        if (cg_try_rc_ != CG_OK)                                                                   \
            return cg_try_rc_;                                                                     \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
