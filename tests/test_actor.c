/* test_actor: a real cg_actor (in a thread) against an in-test fake learner (ROUTER, PULL and
 * PUB on 127.0.0.1, OS-picked ports): hello/welcome, valid group batches of the right shape
 * and version, new weights, heartbeats, done, the stop flag, deterministic quotas, a learner
 * that starts late or restarts on new ports, and a simulator/welcome shape mismatch. Every
 * wait has a deadline, so a broken actor fails the suite instead of hanging it. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_actor.h"
#include "cg_alloc.h"
#include "cg_config.h"
#include "cg_msg.h"
#include "cg_os.h"
#include "cg_policy.h"
#include "cg_test.h"
#include "cg_transport.h"

/* Like CU_ASSERT, but on failure jumps to `out` so the actor thread is always stopped and
 * joined (a FATAL assert would leave it running). cond is evaluated once. */

#define S_RUN_ID "test-run"
#define S_ACTOR_ID 7
#define S_G 4
#define S_NULL_LEN 5
#define S_HB_MS 50
#define S_MAX_BATCHES 4096

static double s_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the fake learner ---- */

typedef struct {
    uint64_t version;
    int32_t n_groups;
    uint64_t seq;
    int32_t actor_id;
} s_batch_rec_t;

typedef struct {
    cg_transport_t *tp;
    cg_socket_t *router, *pull, *pub;
    int port, data_port, weights_port;
    cg_msg_caps_t caps;
    cg_config_t cfg;
    char *config_text;
    cg_policy_t *policy;     /* the learner's weights (params of `version`) */
    cg_policy_shape_t shape; /* shape announced in the Welcome */
    uint64_t version;
    int deterministic, quota;
    int answer;    /* 0: play dead (receive nothing, answer nothing) */
    int read_data; /* 0: leave group batches queued (backpressure) */
    /* what arrived */
    int hellos, heartbeats, bad;
    cg_msg_hello_t last_hello;
    char last_hello_run[CG_NAME_LEN];
    int n_batches;
    s_batch_rec_t batches[S_MAX_BATCHES];
    int64_t groups_by_version[16];
    cg_msg_t keep; /* a copy of the last batch of version keep_version */
    uint64_t keep_version;
} s_learner_t;

/* The run's config as INI text, through cg_config_write as the real learner does. */
static char *s_config_text(cg_config_t *cfg, const char *sim)
{
    char err[512] = "";
    cg_config_defaults(cfg);
    snprintf(cfg->sim, sizeof cfg->sim, "%s", sim);
    if (!strcmp(sim, "sleep"))
        CU_ASSERT_EQUAL_FATAL(cg_config_set(cfg, "sleep.step_us=100", err, sizeof err), CG_OK);
    snprintf(cfg->run_id, sizeof cfg->run_id, S_RUN_ID);
    cfg->horizon = S_NULL_LEN; /* null and sleep episodes: S_NULL_LEN steps */
    cfg->group_size = S_G;
    cfg->groups_per_batch = 8;
    cfg->minibatches = 2;
    cfg->n_hidden = 1;
    cfg->hidden[0] = 8;
    cfg->instances = 3;
    cfg->heartbeat_ms = S_HB_MS;
    cfg->heartbeat_timeout_ms = 400;
    cg_status_t rc = cg_config_finish(cfg, err, sizeof err);
    if (rc != CG_OK)
        fprintf(stderr, "cg_config_finish: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
    char path[] = "/tmp/cg_test_actor_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(cg_config_write(cfg, path), CG_OK);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = cg_calloc((size_t)n + 1, 1);
    CU_ASSERT_EQUAL(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    unlink(path);
    return text;
}

static void s_bind(s_learner_t *L, int control_port)
{
    cg_socket_opts_t so = {64, (int64_t)L->caps.max_bytes};
    L->router = cg_transport_socket(L->tp, CG_SOCK_ROUTER, &so);
    L->pull = cg_transport_socket(L->tp, CG_SOCK_PULL, &so);
    L->pub = cg_transport_socket(L->tp, CG_SOCK_PUB, &so);
    CU_ASSERT_FATAL(L->router && L->pull && L->pub);
    CU_ASSERT_EQUAL_FATAL(cg_transport_bind(L->router, "127.0.0.1", control_port, &L->port), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_transport_bind(L->pull, "127.0.0.1", 0, &L->data_port), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_transport_bind(L->pub, "127.0.0.1", 0, &L->weights_port), CG_OK);
}

static void s_unbind(s_learner_t *L)
{
    cg_transport_close(&L->router);
    cg_transport_close(&L->pull);
    cg_transport_close(&L->pub);
}

/* obs_dim_override: announce another obs_dim than the simulator's (shape mismatch test).
 * The actor runs the sleep simulator (null's episodes, 100 us a step) so that it cannot
 * outrun this learner by seconds of queued batches; fast: the null simulator, full speed. */
static void s_learner_init(s_learner_t *L, int deterministic, int quota, int obs_dim_override,
                           int fast)
{
    memset(L, 0, sizeof *L);
    L->config_text = s_config_text(&L->cfg, fast ? "null" : "sleep");
    cg_msg_caps_from(&L->cfg, &L->caps);
    L->tp = cg_transport_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(L->tp);
    L->shape = (cg_policy_shape_t){
        obs_dim_override ? obs_dim_override : 4, 2, 1, {8}, CG_ACT_TANH, CG_HEAD_CATEGORICAL, 0};
    L->policy = cg_policy_new(&L->shape, 42);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L->policy);
    L->version = 1;
    L->deterministic = deterministic;
    L->quota = quota;
    L->answer = 1;
    L->read_data = 1;
}

static void s_learner_free(s_learner_t *L)
{
    s_unbind(L);
    cg_transport_destroy(&L->tp);
    cg_policy_destroy(&L->policy);
    cg_msg_free(&L->keep);
    free(L->config_text);
}

static void s_send_welcome(s_learner_t *L, const uint8_t *id, size_t idlen, int32_t actor_id)
{
    float lambda[1] = {1.0f};
    cg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = CG_MSG_WELCOME;
    snprintf(m.run_id, sizeof m.run_id, S_RUN_ID);
    cg_msg_welcome_t *w = &m.u.welcome;
    w->actor_id = actor_id;
    w->seed = 99;
    w->group_size = S_G;
    w->obs_dim = L->shape.obs_dim;
    w->n_actions = L->shape.n_actions;
    w->n_hidden = L->shape.n_hidden;
    w->hidden[0] = L->shape.hidden[0];
    w->activation = L->shape.activation;
    w->version = L->version;
    w->n_params = (int64_t)cg_policy_n_params(L->policy);
    w->params = cg_policy_params(L->policy);
    w->n_lambda = 1;
    w->lambda = lambda;
    w->heartbeat_ms = S_HB_MS;
    w->deterministic = L->deterministic;
    w->quota = L->quota;
    w->data_port = L->data_port;
    w->weights_port = L->weights_port;
    w->config_text = L->config_text;
    CU_ASSERT_EQUAL(cg_transport_send(L->router, id, idlen, &m), CG_OK);
}

/* New weights: scale the parameters (a visibly different policy) and bump the version. */
static void s_publish(s_learner_t *L, uint64_t version, int done)
{
    if (!done && version != L->version) {
        float *p = cg_policy_params(L->policy);
        for (size_t i = 0; i < cg_policy_n_params(L->policy); i++)
            p[i] = p[i] * 30.0f + 0.01f;
        L->version = version;
    }
    float lambda[1] = {1.0f};
    cg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = CG_MSG_WEIGHTS;
    snprintf(m.run_id, sizeof m.run_id, S_RUN_ID);
    cg_msg_weights_t *w = &m.u.weights;
    w->version = L->version;
    w->n_params = (int64_t)cg_policy_n_params(L->policy);
    w->params = cg_policy_params(L->policy);
    w->n_lambda = 1;
    w->lambda = lambda;
    w->publish_time = s_wall_s();
    w->done = done;
    CU_ASSERT_EQUAL(cg_transport_send(L->pub, NULL, 0, &m), CG_OK);
}

static void s_on_batch(s_learner_t *L, cg_msg_t *m)
{
    const cg_msg_groups_t *b = &m->u.groups;
    CU_ASSERT_EQUAL(b->actor_id, S_ACTOR_ID);
    CU_ASSERT_EQUAL(b->group_size, S_G);
    CU_ASSERT_EQUAL(b->obs_dim, 4);
    CU_ASSERT_EQUAL(b->n_actions, 2);
    CU_ASSERT_EQUAL(b->n_costs, 0);
    CU_ASSERT(b->n_groups >= 1);
    CU_ASSERT(b->policy_version >= 1 && b->policy_version <= L->version);
    for (int32_t g = 0; g < b->n_groups; g++)
        for (int32_t j = 0; j < S_G; j++)
            CU_ASSERT_EQUAL(b->groups[g].episodes[j].length, S_NULL_LEN);
    if (L->n_batches > 0)
        CU_ASSERT(b->seq > L->batches[L->n_batches - 1].seq);
    if (L->n_batches < S_MAX_BATCHES)
        L->batches[L->n_batches++] =
            (s_batch_rec_t){b->policy_version, b->n_groups, b->seq, b->actor_id};
    if (b->policy_version < 16)
        L->groups_by_version[b->policy_version] += b->n_groups;
    if (b->policy_version == L->keep_version && L->keep_version > 0) {
        cg_msg_free(&L->keep);
        L->keep = *m;
        memset(m, 0, sizeof *m);
    }
}

/* Handles everything that arrives for up to ms, or until done(L, arg) is true. */
static int s_pump(s_learner_t *L, double ms, int (*done)(s_learner_t *, void *), void *arg)
{
    double end = (1e3 * cg_os_now()) + ms;
    char err[512];
    while ((1e3 * cg_os_now()) < end) {
        if (done && done(L, arg))
            return 1;
        if (!L->answer || !L->router) {
            usleep(5000);
            continue;
        }
        cg_socket_t *socks[2] = {L->router, L->pull};
        int ready[2];
        cg_status_t rc = cg_transport_poll(socks, 2, 5, ready);
        if (rc != CG_OK)
            continue;
        cg_msg_t m;
        uint8_t id[CG_IDENTITY_MAX];
        size_t idlen = 0;
        while (cg_transport_recv(L->router, &L->caps, NULL, &m, id, &idlen, NULL, err,
                                 sizeof err) != CG_ERR_TIMEOUT) {
            if (m.type == CG_MSG_HELLO) {
                L->hellos++;
                L->last_hello = m.u.hello;
                memcpy(L->last_hello_run, m.run_id, sizeof L->last_hello_run);
                s_send_welcome(L, id, idlen, S_ACTOR_ID);
            } else if (m.type == CG_MSG_HEARTBEAT) {
                L->heartbeats++;
                CU_ASSERT_EQUAL(m.u.heartbeat.actor_id, S_ACTOR_ID);
                CU_ASSERT_STRING_EQUAL(m.run_id, S_RUN_ID);
                cg_msg_t r;
                memset(&r, 0, sizeof r);
                r.type = CG_MSG_HEARTBEAT;
                snprintf(r.run_id, sizeof r.run_id, S_RUN_ID);
                r.u.heartbeat.actor_id = m.u.heartbeat.actor_id;
                r.u.heartbeat.applied_version = L->version;
                r.u.heartbeat.weights_latency_s = -1.0;
                cg_transport_send(L->router, id, idlen, &r);
            } else {
                L->bad++;
                fprintf(stderr, "fake learner: bad control message: %s\n", err);
            }
            cg_msg_free(&m);
        }
        while (L->read_data && (rc = cg_transport_recv(L->pull, &L->caps, S_RUN_ID, &m, NULL, NULL,
                                                       NULL, err, sizeof err)) != CG_ERR_TIMEOUT) {
            if (rc == CG_OK && m.type == CG_MSG_GROUPS) {
                s_on_batch(L, &m);
            } else {
                L->bad++;
                fprintf(stderr, "fake learner: bad batch: %s\n", err);
            }
            cg_msg_free(&m);
        }
    }
    return done ? done(L, arg) : 1;
}

static int s_has_batches(s_learner_t *L, void *arg)
{
    return L->n_batches >= *(int *)arg;
}

static int s_has_heartbeats(s_learner_t *L, void *arg)
{
    return L->heartbeats >= *(int *)arg;
}

static int s_has_version(s_learner_t *L, void *arg)
{
    return L->n_batches > 0 && L->batches[L->n_batches - 1].version == *(uint64_t *)arg;
}

static int s_has_groups_of(s_learner_t *L, void *arg)
{
    const int64_t *want = arg; /* {version, groups} */
    return L->groups_by_version[want[0]] >= want[1];
}

/* ---- the actor in a thread ---- */

typedef struct {
    cg_actor_t *actor;
    volatile sig_atomic_t stop;
    cg_status_t rc;
    atomic_int finished;
    double t_finished;
    pthread_t th;
    int started, joined;
} s_actor_thread_t;

static void *s_actor_main(void *arg)
{
    s_actor_thread_t *t = arg;
    t->rc = cg_actor_run(t->actor, &t->stop);
    t->t_finished = (1e3 * cg_os_now());
    atomic_store(&t->finished, 1);
    return NULL;
}

static int s_actor_start(s_actor_thread_t *t, int port, int32_t instances)
{
    memset(t, 0, sizeof *t);
    atomic_init(&t->finished, 0);
    char err[512] = "";
    cg_actor_opts_t o = {"127.0.0.1", port, -1, "tok", 0, 0, instances, NULL, NULL, 0};
    t->actor = cg_actor_new(&o, err, sizeof err);
    if (!t->actor)
        fprintf(stderr, "cg_actor_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL(t->actor);
    if (!t->actor)
        return 0;
    t->started = pthread_create(&t->th, NULL, s_actor_main, t) == 0;
    CU_ASSERT(t->started);
    return t->started;
}

/* Waits (pumping the learner) up to ms for the actor to return; stops it if it does not.
 * Returns whether it returned by itself in time. */
static int s_actor_join(s_actor_thread_t *t, s_learner_t *L, double ms)
{
    if (!t->started || t->joined)
        return t->joined;
    double end = (1e3 * cg_os_now()) + ms;
    while (!atomic_load(&t->finished) && (1e3 * cg_os_now()) < end) {
        if (L)
            s_pump(L, 5, NULL, NULL);
        else
            usleep(2000);
    }
    int returned = atomic_load(&t->finished);
    if (!returned)
        t->stop = 1; /* do not leave it running: fail, but finish the suite */
    pthread_join(t->th, NULL);
    t->joined = 1;
    return returned;
}

/* Publishes done every 50 ms (as a learner must: a single PUB message can miss a subscriber
 * that just (re)connected) until the actor returns or ms pass. */
static int s_finish(s_actor_thread_t *t, s_learner_t *L, double ms)
{
    double end = (1e3 * cg_os_now()) + ms;
    while (!atomic_load(&t->finished) && (1e3 * cg_os_now()) < end) {
        s_publish(L, L->version, 1);
        s_pump(L, 50, NULL, NULL);
    }
    return s_actor_join(t, L, 0);
}

/* Always reached: stops and joins a still running actor, then frees it. */
static void s_actor_free(s_actor_thread_t *t)
{
    if (t->started && !t->joined) {
        t->stop = 1;
        pthread_join(t->th, NULL);
        t->joined = 1;
    }
    cg_actor_destroy(&t->actor);
    CU_ASSERT_PTR_NULL(t->actor);
}

/* ---- tests ---- */

/* hello -> welcome -> batches at version 1 -> heartbeats -> weights v2 -> batches at v2
 * (sampled with the new parameters) -> done. */
static void test_actor_protocol(void)
{
    s_learner_t L;
    s_learner_init(&L, 0, 0, 0, 0);
    s_bind(&L, 0);
    L.keep_version = 2;
    s_actor_thread_t t;
    CG_TEST_REQUIRE(s_actor_start(&t, L.port, 0));

    int want = 3;
    CG_TEST_REQUIRE(s_pump(&L, 5000, s_has_batches, &want));
    CU_ASSERT_EQUAL(L.hellos, 1);
    CU_ASSERT_EQUAL(L.last_hello.actor_id, -1);
    CU_ASSERT_STRING_EQUAL(L.last_hello_run, ""); /* empty run id on first contact */
    CU_ASSERT_STRING_EQUAL(L.last_hello.token, "tok");
    CU_ASSERT(L.last_hello.pid > 0);
    for (int i = 0; i < L.n_batches; i++)
        CU_ASSERT_EQUAL(L.batches[i].version, 1);
    int hb = 3;
    CU_ASSERT(s_pump(&L, 3000, s_has_heartbeats, &hb));

    s_publish(&L, 2, 0);
    uint64_t v2 = 2;
    CG_TEST_REQUIRE(s_pump(&L, 5000, s_has_version, &v2));
    int first_v2 = L.n_batches - 1;
    want = L.n_batches + 3;
    CU_ASSERT(s_pump(&L, 5000, s_has_batches, &want));
    for (int i = first_v2; i < L.n_batches; i++)
        CU_ASSERT_EQUAL(L.batches[i].version, 2); /* once at v2, never back */

    /* The v2 batch's log-probs are those of the v2 parameters. */
    CG_TEST_REQUIRE(L.keep.type == CG_MSG_GROUPS);
    const cg_msg_episode_t *ep = &L.keep.u.groups.groups[0].episodes[0];
    float logits[2 * S_NULL_LEN], lp[2];
    cg_policy_forward(L.policy, ep->obs, ep->length, logits);
    for (int32_t s = 0; s < ep->length; s++) {
        cg_policy_log_softmax(logits + 2 * s, 2, 1.0f, lp);
        CG_ASSERT_NEAR(lp[ep->action[s]], ep->logp[s], 1e-4);
    }

    CG_TEST_REQUIRE(s_finish(&t, &L, 3000));
    CU_ASSERT_EQUAL(t.rc, CG_OK);
    cg_actor_stats_t st;
    cg_actor_stats(t.actor, &st);
    CU_ASSERT_EQUAL(st.actor_id, S_ACTOR_ID);
    CU_ASSERT_EQUAL(st.version, 2);
    CU_ASSERT(st.groups_sent >= (uint64_t)(L.groups_by_version[1] + L.groups_by_version[2]));
    CU_ASSERT(st.steps > 0);
    CU_ASSERT(st.weights_latency_s >= 0.0 && st.weights_latency_s < 5.0);
    CU_ASSERT_EQUAL(L.bad, 0);
done:
    s_actor_free(&t);
    s_learner_free(&L);
}

/* The stop flag ends the run promptly, while rolling out and while waiting for a learner. */
static void test_actor_stop(void)
{
    s_learner_t L;
    s_learner_init(&L, 0, 0, 0, 0);
    s_bind(&L, 0);
    s_actor_thread_t t;
    CG_TEST_REQUIRE(s_actor_start(&t, L.port, 0));
    int want = 2;
    CU_ASSERT(s_pump(&L, 5000, s_has_batches, &want));
    double t0 = (1e3 * cg_os_now());
    t.stop = 1;
    CG_TEST_REQUIRE(s_actor_join(&t, NULL, 2000));
    CU_ASSERT_EQUAL(t.rc, CG_OK);
    printf("(stop while running: %.1f ms) ", t.t_finished - t0);
    CU_ASSERT(t.t_finished - t0 < 500.0);
    s_actor_free(&t);

    /* No learner at that port (nothing bound): still returns at once on stop. */
    int port = L.port;
    s_unbind(&L);
    CG_TEST_REQUIRE(s_actor_start(&t, port, 0));
    usleep(200000);
    t0 = (1e3 * cg_os_now());
    t.stop = 1;
    CG_TEST_REQUIRE(s_actor_join(&t, NULL, 2000));
    CU_ASSERT_EQUAL(t.rc, CG_OK);
    printf("(stop while waiting: %.1f ms) ", t.t_finished - t0);
    CU_ASSERT(t.t_finished - t0 < 500.0);
done:
    s_actor_free(&t);
    s_learner_free(&L);
}

/* Deterministic: exactly quota groups per version, each sampled with that version only. */
static void test_actor_deterministic_quota(void)
{
    s_learner_t L;
    s_learner_init(&L, 1, 3, 0, 0);
    s_bind(&L, 0);
    s_actor_thread_t t;
    CG_TEST_REQUIRE(
        s_actor_start(&t, L.port, 5)); /* M = 5 > G: without a quota groups keep coming */

    for (uint64_t v = 1; v <= 3; v++) {
        if (v > 1)
            s_publish(&L, v, 0);
        int64_t want[2] = {(int64_t)v, 3};
        CG_TEST_REQUIRE(s_pump(&L, 5000, s_has_groups_of, want));
        s_pump(&L, 300, NULL, NULL); /* nothing more may come for this version */
        CU_ASSERT_EQUAL(L.groups_by_version[v], 3);
        int64_t total = 0;
        for (int i = 0; i < 16; i++)
            total += L.groups_by_version[i];
        CU_ASSERT_EQUAL(total, 3 * (int64_t)v);
    }
    CG_TEST_REQUIRE(s_finish(&t, &L, 3000));
    CU_ASSERT_EQUAL(t.rc, CG_OK);
    CU_ASSERT_EQUAL(L.bad, 0);
done:
    s_actor_free(&t);
    s_learner_free(&L);
}

/* The learner is not up when the actor starts (hello is repeated until it is), then it
 * "restarts" on new data/weights ports at a later version: the actor notices the silence,
 * pauses, says hello again with its id and the run id, and carries on at the new ports. */
static void test_actor_learner_late_and_restart(void)
{
    s_learner_t L;
    s_learner_init(&L, 0, 0, 0, 0);
    s_bind(&L, 0);
    int port = L.port;
    s_unbind(&L);

    s_actor_thread_t t;
    CG_TEST_REQUIRE(s_actor_start(&t, port, 0));
    usleep(700000); /* the actor says hello into the void */
    s_bind(&L, port);
    int want = 2;
    CG_TEST_REQUIRE(s_pump(&L, 8000, s_has_batches, &want));
    CU_ASSERT_EQUAL(L.hellos, 1);

    /* Learner goes away, then comes back on the same control port, new data/weights ports. */
    int old_data = L.data_port;
    s_unbind(&L);
    usleep(900000); /* > heartbeat_timeout_ms = 400 */
    L.hellos = 0;
    L.version = 5;
    s_bind(&L, port);
    CU_ASSERT_NOT_EQUAL(L.data_port, old_data);
    uint64_t v5 = 5;
    CG_TEST_REQUIRE(s_pump(&L, 8000, s_has_version, &v5));
    CU_ASSERT(L.hellos >= 1);
    CU_ASSERT_EQUAL(L.last_hello.actor_id, S_ACTOR_ID);
    CU_ASSERT_STRING_EQUAL(L.last_hello_run, S_RUN_ID);
    CU_ASSERT_STRING_EQUAL(L.last_hello.sim, "sleep");
    CU_ASSERT_EQUAL(L.last_hello.group_size, S_G);

    CG_TEST_REQUIRE(s_finish(&t, &L, 3000));
    CU_ASSERT_EQUAL(t.rc, CG_OK);
    cg_actor_stats_t st;
    cg_actor_stats(t.actor, &st);
    CU_ASSERT(st.welcomes >= 2);
done:
    s_actor_free(&t);
    s_learner_free(&L);
}

/* A Weights message the actor never sees (PUB/SUB slow joiner): the learner's heartbeat
 * replies say it is ahead, so after a heartbeat period the actor asks for a snapshot with
 * Hello and continues at the learner's version. */
static void test_actor_snapshot_on_lag(void)
{
    s_learner_t L;
    s_learner_init(&L, 0, 0, 0, 0);
    s_bind(&L, 0);
    s_actor_thread_t t;
    CG_TEST_REQUIRE(s_actor_start(&t, L.port, 0));
    int want = 2;
    CG_TEST_REQUIRE(s_pump(&L, 5000, s_has_batches, &want));
    CU_ASSERT_EQUAL(L.hellos, 1);
    L.version = 3; /* new weights, never published */
    float *p = cg_policy_params(L.policy);
    for (size_t i = 0; i < cg_policy_n_params(L.policy); i++)
        p[i] = -p[i];
    uint64_t v3 = 3;
    CG_TEST_REQUIRE(s_pump(&L, 5000, s_has_version, &v3));
    CU_ASSERT(L.hellos >= 2);
    CU_ASSERT_EQUAL(L.last_hello.actor_id, S_ACTOR_ID);
    CG_TEST_REQUIRE(s_finish(&t, &L, 3000));
    CU_ASSERT_EQUAL(t.rc, CG_OK);
    CU_ASSERT_EQUAL(L.bad, 0);
done:
    s_actor_free(&t);
    s_learner_free(&L);
}

/* A learner that stops reading makes the actor wait (bounded queues), not drop: once it
 * reads again every batch arrives, sequence numbers without a gap. */
static void test_actor_backpressure(void)
{
    s_learner_t L;
    s_learner_init(&L, 0, 0, 0, 1);
    s_bind(&L, 0);
    s_actor_thread_t t;
    CG_TEST_REQUIRE(s_actor_start(&t, L.port, 0));
    int want = 2;
    CG_TEST_REQUIRE(s_pump(&L, 5000, s_has_batches, &want));
    L.read_data = 0;
    s_pump(&L, 800, NULL, NULL); /* heartbeats answered, batches left queued */
    cg_actor_stats_t st;
    L.read_data = 1;
    want = L.n_batches + 200;
    CG_TEST_REQUIRE(s_pump(&L, 8000, s_has_batches, &want));
    for (int i = 1; i < L.n_batches; i++)
        CU_ASSERT_EQUAL(L.batches[i].seq, L.batches[i - 1].seq + 1);
    CU_ASSERT_EQUAL(L.batches[0].seq, 0);
    CG_TEST_REQUIRE(s_finish(&t, &L, 3000));
    CU_ASSERT_EQUAL(t.rc, CG_OK);
    cg_actor_stats(t.actor, &st);
    CU_ASSERT(st.batches_sent >= (uint64_t)L.n_batches);
    printf("(%llu batches, %llu blocked sends) ", (unsigned long long)st.batches_sent,
           (unsigned long long)st.send_blocked);
    CU_ASSERT(st.send_blocked > 0); /* the full queue was met, and waited out */
done:
    s_actor_free(&t);
    s_learner_free(&L);
}

/* A Welcome whose obs_dim differs from the simulator's is a clear, fatal error. */
static void test_actor_shape_mismatch(void)
{
    s_learner_t L;
    s_learner_init(&L, 0, 0, 6, 0);
    s_bind(&L, 0);
    s_actor_thread_t t;
    CG_TEST_REQUIRE(s_actor_start(&t, L.port, 0));
    CG_TEST_REQUIRE(s_actor_join(&t, &L, 5000));
    CU_ASSERT_EQUAL(t.rc, CG_ERR_SHAPE);
done:
    s_actor_free(&t);
    s_learner_free(&L);
}

static void test_actor_bad_opts(void)
{
    char err[256] = "";
    cg_actor_opts_t no_host = {NULL, 5555, -1, NULL, 0, 0, 0, NULL, NULL, 0};
    cg_actor_opts_t bad_port = {"127.0.0.1", 0, -1, NULL, 0, 0, 0, NULL, NULL, 0};
    cg_actor_opts_t bad_id = {"127.0.0.1", 5555, -2, NULL, 0, 0, 0, NULL, NULL, 0};
    cg_actor_opts_t bad_relay = {"127.0.0.1", 5555, -1, NULL, 0, 0, 0, NULL, "node3", 0};
    CU_ASSERT_PTR_NULL(cg_actor_new(&bad_relay, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "HOST:PORT"));
    CU_ASSERT_PTR_NULL(cg_actor_new(&no_host, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint"));
    CU_ASSERT_PTR_NULL(cg_actor_new(&bad_port, err, sizeof err));
    CU_ASSERT_PTR_NULL(cg_actor_new(&bad_id, err, sizeof err));
    cg_actor_destroy(NULL);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"protocol", test_actor_protocol},
        {"stop", test_actor_stop},
        {"deterministic_quota", test_actor_deterministic_quota},
        {"learner_late_and_restart", test_actor_learner_late_and_restart},
        {"snapshot_on_lag", test_actor_snapshot_on_lag},
        {"backpressure", test_actor_backpressure},
        {"shape_mismatch", test_actor_shape_mismatch},
        {"bad_opts", test_actor_bad_opts},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("actor", tests, NULL, NULL);
}
