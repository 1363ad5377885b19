/* cg_guard: the memory guard thread: a connection table fed by the sockets' watches, the
 * learner's RSS every period, and cuts (shutdown(2) of a connection ZeroMQ accepted) while
 * RSS is over the limit. shutdown does not close the fd, so it cannot hit a file opened in
 * its place; the inode check makes sure the fd is still the connection that was accepted. */
#include "cg_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_log.h"

#define S_MAX_WATCHES 8
#define S_LOW_SNAPSHOT_MS 250 /* how often the per-connection bases are taken while low */
#define S_CLOSE_WAIT_MS 20    /* the longest wait for a cut connection to close */
#define S_SETTLE_MS 100       /* no connection this long: RSS is the learner's own */

struct cg_guard {
    cg_socket_t *watches[S_MAX_WATCHES];
    int n_watches;
    int64_t max_inbound;
    int period_ms;
    pthread_t thread;
    int thread_started;
    int stop;      /* set by the owner (atomic) */
    int64_t cuts;  /* atomic */
    int64_t limit; /* atomic: own + max_inbound */
    /* the guard thread's own */
    int64_t own; /* the learner's own memory, bytes */
    cg_guard_conn_t *conns;
    int n_conns, cap_conns;
    int64_t accepted; /* connections seen, for cg_guard_conn_t.born */
    int trim_next;    /* 1: a cut was made; trim and look again before the next */
    int warned_own;
    int64_t empty_ticks; /* ticks in a row without a connection */
};

int cg_guard_pick(const cg_guard_conn_t *conns, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (conns[i].cut)
            continue;
        if (best < 0)
            best = i;
        else {
            const int64_t a = conns[i].read - conns[i].base,
                          b = conns[best].read - conns[best].base;
            if (a > b || (a == b && conns[i].born > conns[best].born))
                best = i;
        }
    }
    return best;
}

int64_t cg_guard_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long long size = 0, resident = -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : (int64_t)resident * (int64_t)sysconf(_SC_PAGESIZE);
}

int64_t cg_guard_bytes_read(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return -1;
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) != 0)
        queued = 0;
    return (int64_t)ti.tcpi_bytes_received - queued;
}

static ino_t s_inode(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

static void s_peer_name(int fd, char *out, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(out, len, "%s:%d", host, port);
}

/* Forgets the connection on fd: the one of watch w, or of any watch when w < 0. */
static void s_forget(cg_guard_t *self, int fd, int w)
{
    for (int i = 0; i < self->n_conns; i++)
        if (self->conns[i].fd == fd && (w < 0 || self->conns[i].watch == w)) {
            self->conns[i] = self->conns[--self->n_conns];
            return;
        }
}

/* Returns the number of connections that closed. The watches are read one after the other,
 * so a report that fd closed on one socket may come after the report that another socket
 * accepted a connection on the same fd: a close forgets only its own socket's entry. */
static int s_events(cg_guard_t *self)
{
    int closed = 0;
    for (int w = 0; w < self->n_watches; w++) {
        cg_conn_event_t kind;
        int fd;
        while (cg_transport_watch_next(self->watches[w], &kind, &fd) == CG_OK) {
            if (kind != CG_CONN_ACCEPTED) {
                s_forget(self, fd, w);
                closed++;
                continue;
            }
            s_forget(self, fd, -1); /* the fd is new again: whatever had it is gone */
            const ino_t ino = s_inode(fd);
            if (!ino)
                continue; /* already gone */
            if (self->n_conns == self->cap_conns) {
                self->cap_conns = self->cap_conns ? 2 * self->cap_conns : 64;
                self->conns = cg_realloc(self->conns, (size_t)self->cap_conns, sizeof *self->conns);
            }
            cg_guard_conn_t *c = &self->conns[self->n_conns++];
            memset(c, 0, sizeof *c);
            c->fd = fd;
            c->watch = w;
            c->ino = ino;
            c->base = c->read = cg_guard_bytes_read(fd);
            c->born = ++self->accepted;
            s_peer_name(fd, c->peer, sizeof c->peer);
        }
    }
    return closed;
}

static void s_set_own(cg_guard_t *self, int64_t own)
{
    self->own = own;
    __atomic_store_n(&self->limit, own + self->max_inbound, __ATOMIC_RELAXED);
}

static void s_measure(cg_guard_t *self, int as_base)
{
    for (int i = 0; i < self->n_conns; i++) {
        cg_guard_conn_t *c = &self->conns[i];
        const int64_t r = cg_guard_bytes_read(c->fd);
        if (r >= 0)
            c->read = r;
        if (as_base)
            c->base = c->read;
    }
}

/* Over the limit: cut the connections that sent the most since memory was low, as many as it
 * takes for what they sent to cover the excess (and an eighth of max_inbound more, so that
 * the next look is not over again at once). The next round waits until those have closed
 * (ZeroMQ frees what they held then), or S_CLOSE_WAIT_MS. */
static void s_cut(cg_guard_t *self, int64_t rss, int64_t tick)
{
    const int64_t wait = S_CLOSE_WAIT_MS / self->period_ms;
    for (int i = 0; i < self->n_conns; i++)
        if (self->conns[i].cut && tick - self->conns[i].cut_tick <= wait)
            return;
    s_measure(self, 0);
    const int64_t limit = self->own + self->max_inbound;
    int64_t covered = 0;
    while (covered < rss - limit + self->max_inbound / 8) {
        const int i = cg_guard_pick(self->conns, self->n_conns);
        if (i < 0)
            return; /* all cut: once they have closed, the table is empty (s_tick) */
        cg_guard_conn_t *c = &self->conns[i];
        c->cut = 1;
        c->cut_tick = tick;
        if (s_inode(c->fd) != c->ino)
            continue; /* closed and reused since: not ours to cut */
        (void)shutdown(c->fd, SHUT_RDWR);
        const int64_t sent = c->read - c->base;
        covered += sent > 0 ? sent : 0;
        const int64_t cuts = __atomic_add_fetch(&self->cuts, 1, __ATOMIC_RELAXED);
        if (cuts <= 20 || cuts % 1000 == 0)
            CG_WARN("memory guard: RSS %lld MiB is over the limit %lld MiB: cut the connection "
                    "from %s (%lld bytes read since memory was low; cut #%lld)",
                    (long long)(rss >> 20), (long long)(limit >> 20), c->peer, (long long)sent,
                    (long long)cuts);
        self->trim_next = 1;
    }
}

static void s_tick(cg_guard_t *self, int64_t tick)
{
    const int closed = s_events(self);
    int64_t rss = cg_guard_rss_bytes();
    if (rss < 0)
        return;
    if (self->trim_next || (closed && rss > self->own + self->max_inbound / 2)) {
        /* What ZeroMQ freed for a cut or gone peer goes back to the system, so RSS shows it
         * (glibc keeps freed memory otherwise). */
        malloc_trim(0);
        self->trim_next = 0;
        rss = cg_guard_rss_bytes();
        if (rss < 0)
            return;
    }
    if (self->n_conns > 0)
        self->empty_ticks = 0;
    else if (rss < self->own)
        s_set_own(self, rss);
    else if (++self->empty_ticks == S_SETTLE_MS / self->period_ms + 1) {
        /* No peer for a while (ZeroMQ frees what a peer held just after reporting it gone):
         * all of RSS is the learner's own. */
        malloc_trim(0);
        rss = cg_guard_rss_bytes();
        if (rss > self->own + self->max_inbound && self->warned_own++ < 10)
            CG_WARN("memory guard: the learner's own memory grew to %lld MiB, over the limit "
                    "with no connection open; the limit is now %lld MiB (hint: raise [learner] "
                    "max_inbound_mb if connections are cut often)",
                    (long long)(rss >> 20), (long long)((rss + self->max_inbound) >> 20));
        if (rss > 0)
            s_set_own(self, rss);
    }
    if (rss > self->own + self->max_inbound) {
        s_cut(self, rss, tick);
        return;
    }
    for (int i = 0; i < self->n_conns; i++)
        self->conns[i].cut = 0;
    const int64_t every =
        S_LOW_SNAPSHOT_MS / self->period_ms > 0 ? S_LOW_SNAPSHOT_MS / self->period_ms : 1;
    if (rss <= self->own + self->max_inbound / 2 && tick % every == 0)
        s_measure(self, 1);
}

static void *s_main(void *arg)
{
    cg_guard_t *self = arg;
    const struct timespec period = {self->period_ms / 1000,
                                    (long)(self->period_ms % 1000) * 1000000L};
    for (int64_t tick = 0; !__atomic_load_n(&self->stop, __ATOMIC_ACQUIRE); tick++) {
        s_tick(self, tick);
        nanosleep(&period, NULL);
    }
    for (int w = 0; w < self->n_watches; w++)
        cg_transport_close(&self->watches[w]);
    return NULL;
}

cg_guard_t *cg_guard_new(cg_socket_t **watches, int n, int64_t max_inbound, int period_ms,
                         char *err, size_t errlen)
{
    CG_ASSERT(n > 0 && n <= S_MAX_WATCHES && max_inbound > 0 && period_ms > 0);
    cg_guard_t *self = cg_calloc(1, sizeof *self);
    for (int i = 0; i < n; i++) {
        self->watches[i] = watches[i];
        watches[i] = NULL;
    }
    self->n_watches = n;
    self->max_inbound = max_inbound;
    self->period_ms = period_ms;
    const int64_t rss = cg_guard_rss_bytes();
    s_set_own(self, rss > 0 ? rss : 0);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the learner's thread */
    int e = pthread_create(&self->thread, NULL, s_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        snprintf(err, errlen,
                 "memory guard: cannot start its thread: %s (hint: set [learner] "
                 "max_inbound_mb = 0 to run without it)",
                 strerror(e));
        for (int i = 0; i < n; i++)
            cg_transport_close(&self->watches[i]);
        free(self);
        return NULL;
    }
    self->thread_started = 1;
    return self;
}

void cg_guard_destroy(cg_guard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_guard_t *self = *self_p;
    if (self->thread_started) {
        __atomic_store_n(&self->stop, 1, __ATOMIC_RELEASE);
        pthread_join(self->thread, NULL);
    }
    free(self->conns);
    free(self);
    *self_p = NULL;
}

int64_t cg_guard_cuts(cg_guard_t *self)
{
    return self ? __atomic_load_n(&self->cuts, __ATOMIC_RELAXED) : 0;
}

int64_t cg_guard_limit_bytes(cg_guard_t *self)
{
    return self ? __atomic_load_n(&self->limit, __ATOMIC_RELAXED) : 0;
}
