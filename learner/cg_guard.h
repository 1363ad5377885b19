/* cg_guard: the learner's memory guard. ZeroMQ bounds a peer's queue in messages and a frame
 * in bytes, but not a message in frames: a peer that keeps sending frames flagged "more"
 * grows the learner without limit, and many peers may each fill their queues. The guard is a
 * thread that reads the learner's RSS every few milliseconds; when it passes the learner's
 * own memory plus max_inbound bytes, it cuts (shutdown(2)) the TCP connection that sent the
 * most since memory was last low, then the next, until RSS is back under the limit. ZeroMQ
 * then drops what it held for that peer; an honest peer reconnects by itself.
 * The learner's own memory is its RSS when the guard starts, and again whenever no
 * connection has been open for 100 ms (docs/robustness.md has the bound).
 * Not here: which messages are valid (cg_msg), what a cut actor does (it reconnects).
 * Threading: one guard thread owns the watches and the connection table; cg_guard_cuts and
 * cg_guard_limit_bytes may be called from any thread. */
#ifndef CG_GUARD_H
#define CG_GUARD_H

#include <stdint.h>
#include <sys/types.h>

#include "cg_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_guard cg_guard_t;

/* Starts the guard over n watches (cg_transport_watch; the guard takes them and closes them).
 * max_inbound > 0: bytes of RSS allowed above the learner's own; period_ms > 0: how often it
 * looks. NULL (watches closed, err filled) if the thread cannot start. */
cg_guard_t *cg_guard_new(cg_socket_t **watches, int n, int64_t max_inbound, int period_ms,
                         char *err, size_t errlen);
/* Stops the thread. Call cg_transport_unwatch on the watched sockets first. NULL-safe. */
void cg_guard_destroy(cg_guard_t **self_p);
/* Connections cut so far. */
int64_t cg_guard_cuts(cg_guard_t *self);
/* The RSS above which the guard cuts, now (it moves with the learner's own memory). */
int64_t cg_guard_limit_bytes(cg_guard_t *self);

/* ---- the pieces, for tests ---- */

typedef struct {
    int fd;
    int watch;        /* which watch reported it */
    ino_t ino;        /* the socket's inode when accepted: a reused fd is not ours */
    int64_t base;     /* bytes read from it when memory was last low */
    int64_t read;     /* bytes read from it, at the last look */
    int64_t born;     /* accept order: a larger number is a newer connection */
    int cut;          /* cut in this episode over the limit */
    int64_t cut_tick; /* when (guard ticks) */
    char peer[64];    /* host:port, for the log */
} cg_guard_conn_t;

/* The connection to cut: most bytes read since memory was low (read - base), the newest on a
 * tie; connections already cut are skipped. -1 when none is left. */
int cg_guard_pick(const cg_guard_conn_t *conns, int n);
/* The process's resident set in bytes (/proc/self/statm), or -1. */
int64_t cg_guard_rss_bytes(void);
/* Bytes ZeroMQ has read from the TCP socket fd (what the kernel received minus what still
 * waits in its queue), or -1 if fd is not a TCP socket. */
int64_t cg_guard_bytes_read(int fd);

#ifdef __cplusplus
}
#endif

#endif
