/* cg_workers: fork-join worker threads over inproc pipes (cg_workers.h). */
#include "cg_workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_transport.h"

/* A job: its parts, taken one at a time through `next`. */
typedef struct {
    cg_workers_fn fn;
    void *const *parts;
    int32_t n;
    int32_t next; /* the next part nobody has taken (atomic) */
} s_job_t;

/* What a pipe carries: the job and the worker's thread index, owned by the worker until it
 * sends the task back. */
typedef struct {
    s_job_t *job;
    int32_t thread;
    /* The hand-offs, also as atomics with release/acquire order: the pipe orders them
     * already, but inside uninstrumented libzmq, where ThreadSanitizer cannot see it. */
    int sent; /* owner -> worker: the job is ready */
    int done; /* worker -> owner: its parts are written */
} s_task_t;

typedef struct {
    pthread_t thread;
    int started;
    cg_socket_t *mine;   /* the owner's end */
    cg_socket_t *theirs; /* the worker's end, closed by the worker */
    s_task_t task;
    int delivered; /* the owner's: this run's task went out */
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

/* A worker: a task in, the same task back when done; NULL means stop. */
static void *s_main(void *arg)
{
    s_worker_t *w = arg;
    for (;;) {
        void *p = NULL;
        cg_status_t rc = cg_transport_recv_ptr(w->theirs, -1, &p);
        if (rc == CG_ERR_INTERRUPTED || rc == CG_ERR_TIMEOUT)
            continue;
        if (rc != CG_OK || !p)
            break;
        s_task_t *task = p;
        (void)__atomic_load_n(&task->sent, __ATOMIC_ACQUIRE);
        s_take_parts(task->job, task->thread);
        __atomic_store_n(&task->done, 1, __ATOMIC_RELEASE);
        if (cg_transport_send_ptr(w->theirs, task) != CG_OK)
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
            if (cg_transport_send_ptr(w->mine, NULL) != CG_OK)
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
        w->task = (s_task_t){&job, t + 1, 0, 0};
        __atomic_store_n(&w->task.sent, 1, __ATOMIC_RELEASE);
        w->delivered = cg_transport_send_ptr(w->mine, &w->task) == CG_OK;
    }
    s_take_parts(&job, 0);
    for (int32_t t = 0; t < helpers; t++) {
        s_worker_t *w = &self->w[t];
        void *back = NULL;
        cg_status_t r = CG_ERR_ZMQ;
        if (w->delivered) {
            do
                r = cg_transport_recv_ptr(w->mine, -1, &back);
            while (r == CG_ERR_INTERRUPTED || r == CG_ERR_TIMEOUT);
        }
        if (r == CG_OK && back == &w->task && !__atomic_load_n(&w->task.done, __ATOMIC_ACQUIRE))
            r = CG_ERR_PROTO; /* answered without finishing: cannot happen */
        if (r != CG_OK || back != &w->task) {
            CG_ERROR("worker thread %d did not %s its parts: %s", t,
                     w->delivered ? "finish" : "receive", cg_status_str(r));
            rc = CG_ERR_ZMQ;
        }
    }
    return rc;
}
