/* cg_status: names of status codes and the assertion failure path. */
#include "cg_status.h"

#include <stdarg.h>

#include "cg_log.h"

const char *cg_status_str(cg_status_t status)
{
    switch (status) {
    case CG_OK: return "ok";
    case CG_ERR_INVAL: return "invalid argument";
    case CG_ERR_NOMEM: return "out of memory";
    case CG_ERR_IO: return "i/o error";
    case CG_ERR_PROTO: return "malformed message";
    case CG_ERR_VERSION: return "protocol version mismatch";
    case CG_ERR_RUN_ID: return "run id mismatch";
    case CG_ERR_SHAPE: return "inconsistent shape";
    case CG_ERR_NONFINITE: return "non-finite number";
    case CG_ERR_TOOBIG: return "too big";
    case CG_ERR_RANGE: return "value out of range";
    case CG_ERR_ZMQ: return "zeromq error";
    case CG_ERR_TIMEOUT: return "timed out";
    case CG_ERR_CORRUPT: return "corrupt data";
    case CG_ERR_MISMATCH: return "mismatch";
    case CG_ERR_UNSUPPORTED: return "unsupported";
    case CG_ERR_AUTH: return "authentication failed";
    case CG_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

void cg_status_msg(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void cg_assert_fail(const char *expr, const char *file, int line)
{
    cg_log_write(CG_LOG_ERROR, file, line, "assertion failed: %s", expr);
    abort();
}
