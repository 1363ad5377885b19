/* cg_workers: fork-join worker threads over inproc pipes (cg_workers.h). */
#include "cg_workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_transport.h"

/* What a pipe carries: the function and the part it runs, owned by the worker until it
 * sends the task back. */
typedef struct {
    cg_workers_fn fn;
    void *part;
    /* The hand-offs, also as atomics with release/acquire order: the pipe orders them
     * already, but inside uninstrumented libzmq, where ThreadSanitizer cannot see it. */
    int sent; /* owner -> worker: the part is ready */
    int done; /* worker -> owner: the part is written */
} s_task_t;

typedef struct {
    pthread_t thread;
    int started;
    cg_socket_t *mine;   /* the owner's end */
    cg_socket_t *theirs; /* the worker's end, closed by the worker */
    s_task_t task;
} s_worker_t;

struct cg_workers {
    cg_transport_t *transport;
    int32_t n;
    s_worker_t *w; /* (n) */
};

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
        task->fn(task->part);
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
    CG_ASSERT(self && fn && parts && n >= 1 && n <= self->n + 1);
    cg_status_t rc = CG_OK;
    uint8_t sent[256] = {0};
    CG_ASSERT(n <= (int32_t)sizeof sent);
    for (int32_t t = 1; t < n; t++) {
        s_worker_t *w = &self->w[t - 1];
        w->task = (s_task_t){fn, parts[t], 0, 0};
        __atomic_store_n(&w->task.sent, 1, __ATOMIC_RELEASE);
        sent[t] = cg_transport_send_ptr(w->mine, &w->task) == CG_OK;
    }
    fn(parts[0]);
    for (int32_t t = 1; t < n; t++) {
        s_worker_t *w = &self->w[t - 1];
        void *back = NULL;
        cg_status_t r = CG_ERR_ZMQ;
        if (sent[t]) {
            do
                r = cg_transport_recv_ptr(w->mine, -1, &back);
            while (r == CG_ERR_INTERRUPTED || r == CG_ERR_TIMEOUT);
        }
        if (r == CG_OK && back == &w->task && !__atomic_load_n(&w->task.done, __ATOMIC_ACQUIRE))
            r = CG_ERR_PROTO; /* answered without finishing: cannot happen */
        if (r != CG_OK || back != &w->task) {
            CG_ERROR("worker thread %d did not %s its part: %s", t - 1,
                     sent[t] ? "finish" : "receive", cg_status_str(r));
            rc = CG_ERR_ZMQ;
        }
    }
    return rc;
}
