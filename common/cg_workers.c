/* cg_workers: fork-join worker threads (cg_workers.h). A hand-off (owner -> worker: a job;
 * worker -> owner: done) is a sequence number stored with release order and watched by the
 * other side for a moment (S_WATCH_S); only a side that then goes to sleep is woken through
 * its inproc pipe. Waking a sleeping thread through ZeroMQ costs 30-40 us on the team's VM,
 * against updates of about a millisecond that hand off twice each.
 *
 * Sleeping without missing a wake-up (both sides sequentially consistent): the sleeper
 * drains old doorbells, says it sleeps, looks at the sequence once more and only then blocks;
 * the waker publishes the sequence, then rings the doorbell if the other says it sleeps.
 * One of them sees the other's store, so a published hand-off is never slept through; a
 * doorbell rung for a hand-off that was seen anyway is drained before the next sleep. */
#include "cg_workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_os.h"
#include "cg_transport.h"

#define S_WATCH_S 100e-6 /* how long a side watches for a hand-off before it sleeps */

/* A job: its parts, taken one at a time through `next`. */
typedef struct {
    cg_workers_fn fn;
    void *const *parts;
    int32_t n;
    int32_t next; /* the next part nobody has taken (atomic) */
} s_job_t;

/* One side of a hand-off: a sequence number and whether its reader sleeps on the pipe. */
typedef struct {
    int64_t seq;  /* (atomic) the latest hand-off, published with release order */
    int sleeping; /* (atomic) the reader blocks in its pipe: ring the doorbell */
} s_handoff_t;

typedef struct {
    pthread_t thread;
    int started;
    cg_socket_t *mine;   /* the owner's end: its doorbell */
    cg_socket_t *theirs; /* the worker's end: its doorbell; closed by the worker */
    /* what the owner hands the worker (the job and whether to stop) before raising `go` */
    s_job_t *job;
    int32_t thread_index;
    int stop;
    s_handoff_t go;   /* owner -> worker */
    s_handoff_t done; /* worker -> owner */
    int64_t issued;   /* the owner's: hand-offs to this worker so far */
    int delivered;    /* the owner's: this run's hand-off went out */
} s_worker_t;

struct cg_workers {
    cg_transport_t *transport;
    int32_t n;
    s_worker_t *w; /* (n) */
};

/* Takes and runs parts until none is left. */
static void s_take_parts(s_job_t *job, int32_t thread)
{
    for (;;) {
        const int32_t i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->n)
            return;
        job->fn(job->parts[i], thread);
    }
}

static int s_reached(const s_handoff_t *h, int64_t seq)
{
    return __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE) >= seq;
}

static void s_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Publishes hand-off `seq` and wakes the reader if it sleeps. */
static cg_status_t s_publish(s_handoff_t *h, int64_t seq, cg_socket_t *doorbell)
{
    __atomic_store_n(&h->seq, seq, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&h->sleeping, __ATOMIC_SEQ_CST))
        return CG_OK;
    return cg_transport_send_ptr(doorbell, h);
}

/* Waits until hand-off `seq` is published: watches for S_WATCH_S, then sleeps on `doorbell`.
 * CG_OK, or CG_ERR_ZMQ (logged) if the pipe failed. */
static cg_status_t s_await(s_handoff_t *h, int64_t seq, cg_socket_t *doorbell)
{
    double t0 = 0;
    for (int i = 0; !s_reached(h, seq); i++) {
        s_relax();
        if ((i & 63) != 63)
            continue;
        const double t = cg_os_now();
        if (t0 == 0)
            t0 = t;
        else if (t - t0 > S_WATCH_S)
            break;
    }
    while (!s_reached(h, seq)) {
        void *p = NULL;
        while (cg_transport_recv_ptr(doorbell, 0, &p) == CG_OK) /* old doorbells */
            ;
        __atomic_store_n(&h->sleeping, 1, __ATOMIC_SEQ_CST);
        cg_status_t rc = CG_OK;
        if (__atomic_load_n(&h->seq, __ATOMIC_SEQ_CST) < seq)
            rc = cg_transport_recv_ptr(doorbell, -1, &p);
        __atomic_store_n(&h->sleeping, 0, __ATOMIC_RELAXED);
        if (rc != CG_OK && rc != CG_ERR_INTERRUPTED && rc != CG_ERR_TIMEOUT)
            return rc;
    }
    return CG_OK;
}

/* A worker: waits for each hand-off, runs its parts, says it is done; stops when told. */
static void *s_main(void *arg)
{
    s_worker_t *w = arg;
    for (int64_t seq = 1;; seq++) {
        if (s_await(&w->go, seq, w->theirs) != CG_OK) {
            CG_ERROR("worker thread %d: its pipe failed; it stops", w->thread_index);
            break;
        }
        if (w->stop)
            break;
        s_take_parts(w->job, w->thread_index);
        if (s_publish(&w->done, seq, w->theirs) != CG_OK)
            break;
    }
    cg_transport_close(&w->theirs);
    return NULL;
}

void cg_workers_destroy(cg_workers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_workers_t *self = *self_p;
    for (int32_t t = 0; t < self->n; t++) {
        s_worker_t *w = &self->w[t];
        if (w->started) {
            w->stop = 1;
            /* Always rung: the worker may be on its way to sleep. Without waiting: one that
             * was watching may have seen the stop and closed its end already. */
            __atomic_store_n(&w->go.seq, ++w->issued, __ATOMIC_SEQ_CST);
            const cg_status_t rc = cg_transport_send_ptr_nowait(w->mine, &w->go);
            if (rc != CG_OK && rc != CG_ERR_TIMEOUT)
                CG_WARN("worker %d: no stop message sent; joining anyway", t);
            pthread_join(w->thread, NULL);
        } else {
            cg_transport_close(&w->theirs);
        }
        cg_transport_close(&w->mine);
    }
    free(self->w);
    cg_transport_destroy(&self->transport);
    free(self);
    *self_p = NULL;
}

cg_workers_t *cg_workers_new(int32_t n_workers, char *err, size_t errlen)
{
    CG_ASSERT(n_workers >= 1);
    cg_workers_t *self = cg_calloc(1, sizeof *self);
    self->transport = cg_transport_new();
    self->w = cg_calloc((size_t)n_workers, sizeof *self->w);
    self->n = n_workers;
    if (!self->transport) {
        cg_status_msg(err, errlen, "cannot start ZeroMQ for the worker threads");
        goto fail;
    }
    for (int32_t t = 0; t < n_workers; t++) {
        s_worker_t *w = &self->w[t];
        w->thread_index = t + 1;
        if (cg_transport_pipe(self->transport, &w->mine, &w->theirs) != CG_OK) {
            cg_status_msg(err, errlen, "cannot open the pipe of worker thread %d", t);
            goto fail;
        }
        int e = pthread_create(&w->thread, NULL, s_main, w);
        if (e != 0) {
            cg_status_msg(err, errlen,
                          "cannot start worker thread %d: %s (hint: lower "
                          "[learner] threads)",
                          t, strerror(e));
            goto fail;
        }
        w->started = 1;
    }
    return self;
fail:
    cg_workers_destroy(&self);
    return NULL;
}

int32_t cg_workers_count(const cg_workers_t *self)
{
    CG_ASSERT(self);
    return self->n;
}

cg_status_t cg_workers_run(cg_workers_t *self, cg_workers_fn fn, void *const *parts, int32_t n)
{
    CG_ASSERT(self && fn && parts && n >= 1);
    s_job_t job = {fn, parts, n, 0};
    const int32_t helpers = n - 1 < self->n ? n - 1 : self->n;
    cg_status_t rc = CG_OK;
    for (int32_t t = 0; t < helpers; t++) {
        s_worker_t *w = &self->w[t];
        w->job = &job;
        w->delivered = s_publish(&w->go, ++w->issued, w->mine) == CG_OK;
    }
    s_take_parts(&job, 0);
    for (int32_t t = 0; t < helpers; t++) {
        s_worker_t *w = &self->w[t];
        if (!w->delivered || s_await(&w->done, w->issued, w->mine) != CG_OK) {
            CG_ERROR("worker thread %d did not %s its parts: its pipe failed", t,
                     w->delivered ? "finish" : "receive");
            rc = CG_ERR_ZMQ;
        }
    }
    return rc;
}
