/* cg_actor: the actor role as one event loop: poll control (DEALER) and weights (SUB)
 * between rollout steps, push finished groups (PUSH), heartbeat, and fall back to saying
 * Hello whenever the learner is not (yet, or any more) there. The run itself (config,
 * simulator, policy, rollout) is built from the Welcome, so an actor needs no config file. */
#include "cg_actor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_msg.h"
#include "cg_os.h"
#include "cg_policy.h"
#include "cg_rng.h"
#include "cg_rollout.h"
#include "cg_sim.h"
#include "cg_transport.h"

#define S_IDLE_MS 10                  /* longest wait with nothing to do: bounds the stop latency */
#define S_BUSY_POLL_MS 1.0            /* while rolling out, poll the sockets at most this often */
#define S_GOODBYE_LINGER_MS 200       /* how long the leaving heartbeat may take to go out */
#define S_DRAIN_MAX 64                /* messages handled per socket per loop turn */
#define S_SEED_STREAM 0x6163746f72ULL /* "actor": stream splitting the Welcome's seed */
#define S_HOST_LEN 256

typedef enum {
    S_WAIT_WELCOME = 0, /* first contact: Hello until a Welcome */
    S_RUNNING = 1,      /* rolling out */
    S_LOST = 2,         /* learner silent: paused, Hello until a Welcome */
} s_phase_t;

struct cg_actor {
    /* options */
    char host[S_HOST_LEN];
    int port;
    int32_t requested_id;
    char token[CG_NAME_LEN];
    int32_t hwm_opt;
    int64_t max_bytes_opt;
    int32_t instances_opt;
    int curve; /* CURVE client on all three sockets */
    char curve_server[CG_CURVE_KEY_LEN + 1];
    char curve_public[CG_CURVE_KEY_LEN + 1], curve_secret[CG_CURVE_KEY_LEN + 1];
    char hostname[CG_NAME_LEN];
    int32_t pid;

    cg_transport_t *tp;
    cg_socket_t *dealer;
    cg_socket_t *push;
    cg_socket_t *sub;
    int data_port;                 /* port push is connected to, 0 = none */
    int weights_port;              /* port sub is connected to, 0 = none */
    char weights_host[S_HOST_LEN]; /* ... on this host: the learner's or a relay's */
    char relay_opt[CG_NAME_LEN];   /* opts->relay: overrides the run's [actor] relay */
    cg_relay_keys_t relay_keys;    /* CURVE to a relay (a CURVE learner and a token) */
    int flood;                     /* opts->flood: resend the first batch (ingest benchmark) */
    cg_socket_opts_t sock_opts;
    cg_msg_caps_t caps;

    /* the run, from the Welcome */
    int have_run;
    cg_config_t cfg;
    char *config_text; /* as received, to notice a changed run */
    char run_id[CG_NAME_LEN];
    int32_t actor_id;
    uint64_t seed;
    int32_t group_size;
    int32_t n_temps;
    float temps[CG_MAX_GROUP];
    cg_policy_shape_t shape;
    int32_t heartbeat_ms;
    int32_t timeout_ms;
    int deterministic;
    int32_t quota;
    int credits;             /* the learner grants credits: start groups only as granted */
    int64_t pending_credit;  /* granted for weights this actor has not applied yet */
    uint64_t credit_version; /* ... the version those grants are for */
    cg_sim_t *sim;
    cg_policy_t *policy;
    cg_rollout_t *rollout;
    uint64_t steps_before; /* steps of rollouts replaced by a rebuild */

    s_phase_t phase;
    uint64_t version;         /* policy version in use */
    uint64_t learner_version; /* the learner's, from its heartbeat replies */
    cg_msg_t stash;           /* deterministic: newest Weights that came mid-quota */
    int pending;              /* batch taken from the rollout, not yet sent */
    cg_msg_t batch;
    uint64_t seq;
    uint64_t session; /* the last Welcome's session key (0 before the first) */
    int done;
    char refused[CG_REASON_LEN]; /* the last Refusal's reason (logged once per reason) */

    /* monotonic milliseconds */
    double t_heard;     /* last message from the learner */
    double t_heartbeat; /* last heartbeat sent */
    double t_hello;     /* last hello sent */
    double t_weights;   /* last weights received (Weights or Welcome) */
    int32_t hello_interval_ms;
    double t_started;  /* cg_actor_run began */
    int warned_silent; /* said once that no Welcome comes */

    cg_actor_stats_t stats;
};

static void s_copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* The options' own sanity, before anything is made: 0, or -1 with the problem in err. */
static int s_check_opts(const cg_actor_opts_t *opts, char *err, size_t errlen)
{
    if (!opts || !opts->host || !opts->host[0]) {
        snprintf(err, errlen, "actor: no learner host (hint: cgrpo actor --connect HOST:PORT)");
        return -1;
    }
    if (strlen(opts->host) >= S_HOST_LEN) {
        snprintf(err, errlen, "actor: learner host name longer than %d characters", S_HOST_LEN - 1);
        return -1;
    }
    if (opts->port < 1 || opts->port > 65535) {
        snprintf(err, errlen,
                 "actor: learner port %d outside 1..65535 (hint: use the control port the "
                 "learner printed at start)",
                 opts->port);
        return -1;
    }
    if (opts->actor_id < -1) {
        snprintf(err, errlen,
                 "actor: id %d, must be >= 0 or -1 (hint: -1 lets the learner assign one)",
                 opts->actor_id);
        return -1;
    }
    if (opts->token && strlen(opts->token) >= CG_NAME_LEN) {
        snprintf(err, errlen, "actor: token longer than %d characters", CG_NAME_LEN - 1);
        return -1;
    }
    if (opts->hwm < 0 || opts->max_msg_bytes < 0 || opts->instances < 0) {
        snprintf(err, errlen,
                 "actor: hwm, max_msg_bytes and instances must be >= 0 (hint: 0 takes the "
                 "value from the run's config)");
        return -1;
    }
    char relay_host[S_HOST_LEN];
    int relay_port;
    if (opts->relay && opts->relay[0] &&
        (strlen(opts->relay) >= CG_NAME_LEN ||
         cg_transport_parse_endpoint(opts->relay, relay_host, sizeof relay_host, &relay_port))) {
        snprintf(err, errlen,
                 "actor: relay '%.300s' is not HOST:PORT with a port 1..65535 (hint: the "
                 "address and port `cgrpo relay` printed)",
                 opts->relay);
        return -1;
    }
    int curve = opts->curve_server_key && opts->curve_server_key[0];
    char probe[CG_CURVE_KEY_LEN + 1];
    if (curve && !cg_transport_has_curve()) {
        snprintf(err, errlen,
                 "actor: this libzmq was built without CURVE, which the learner uses "
                 "(hint: install a libzmq built with libsodium, such as Debian's libzmq5)");
        return -1;
    }
    if (curve && (strlen(opts->curve_server_key) != CG_CURVE_KEY_LEN ||
                  cg_transport_curve_public(opts->curve_server_key, probe) != CG_OK)) {
        snprintf(err, errlen,
                 "actor: the learner's CURVE public key is not a 40-character Z85 "
                 "key (hint: give the learner.pub written by `cgrpo keygen`)");
        return -1;
    }
    return 0;
}

cg_actor_t *cg_actor_new(const cg_actor_opts_t *opts, char *err, size_t errlen)
{
    if (s_check_opts(opts, err, errlen))
        return NULL;
    int curve = opts->curve_server_key && opts->curve_server_key[0];
    cg_transport_t *tp = cg_transport_new();
    if (!tp) {
        snprintf(err, errlen, "actor: ZeroMQ failed to start (hint: see the error logged above)");
        return NULL;
    }
    cg_actor_t *self = cg_calloc(1, sizeof *self);
    self->tp = tp;
    s_copy_str(self->host, sizeof self->host, opts->host);
    self->port = opts->port;
    self->requested_id = opts->actor_id;
    s_copy_str(self->token, sizeof self->token, opts->token);
    self->hwm_opt = opts->hwm;
    self->max_bytes_opt = opts->max_msg_bytes;
    self->instances_opt = opts->instances;
    s_copy_str(self->relay_opt, sizeof self->relay_opt, opts->relay);
    self->flood = opts->flood != 0;
    if (curve) {
        self->curve = 1;
        s_copy_str(self->curve_server, sizeof self->curve_server, opts->curve_server_key);
        if (self->token[0])
            (void)cg_transport_relay_keys(self->token, &self->relay_keys);
        if (cg_transport_curve_keypair(self->curve_public, self->curve_secret) != CG_OK) {
            snprintf(err, errlen,
                     "actor: cannot make a CURVE key pair (hint: see the error above)");
            cg_actor_destroy(&self);
            return NULL;
        }
    }
    if (gethostname(self->hostname, sizeof self->hostname) != 0)
        s_copy_str(self->hostname, sizeof self->hostname, "unknown");
    self->hostname[sizeof self->hostname - 1] = '\0';
    self->pid = (int32_t)getpid();
    self->actor_id = -1;

    /* Until the Welcome brings the run's config, talk with the defaults. */
    cg_config_defaults(&self->cfg);
    self->heartbeat_ms = self->cfg.heartbeat_ms;
    self->timeout_ms = self->cfg.heartbeat_timeout_ms;
    self->stats.actor_id = -1;
    self->stats.weights_latency_s = -1.0;
    return self;
}

/* Socket limits and decode caps from cfg and the options' overrides. */
static void s_limits(cg_actor_t *self)
{
    cg_msg_caps_from(&self->cfg, &self->caps);
    if (self->max_bytes_opt > 0)
        self->caps.max_bytes = (size_t)self->max_bytes_opt;
    self->caps.max_params = (int64_t)(self->caps.max_bytes / sizeof(float));
    self->sock_opts.hwm = self->hwm_opt > 0 ? self->hwm_opt : self->cfg.hwm;
    self->sock_opts.max_msg_bytes = (int64_t)self->caps.max_bytes;
}

static void s_drop_pending(cg_actor_t *self, const char *why)
{
    if (!self->pending)
        return;
    CG_WARN("dropping an unsent batch of %d groups (version %llu): %s",
            self->batch.u.groups.n_groups, (unsigned long long)self->batch.u.groups.policy_version,
            why);
    cg_rollout_release(self->rollout);
    self->pending = 0;
}

static void s_teardown_run(cg_actor_t *self)
{
    if (self->rollout) {
        cg_rollout_stats_t rs;
        cg_rollout_stats(self->rollout, &rs);
        self->steps_before += rs.steps;
    }
    cg_rollout_destroy(&self->rollout);
    cg_policy_destroy(&self->policy);
    cg_sim_destroy(&self->sim);
    cg_msg_free(&self->stash);
    free(self->config_text);
    self->config_text = NULL;
    self->have_run = 0;
}

static void s_close_sockets(cg_actor_t *self)
{
    cg_transport_close(&self->push);
    cg_transport_close(&self->sub);
    cg_transport_close(&self->dealer);
    self->data_port = 0;
    self->weights_port = 0;
}

void cg_actor_destroy(cg_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_actor_t *self = *self_p;
    if (self->pending && self->rollout)
        cg_rollout_release(self->rollout);
    s_teardown_run(self);
    s_close_sockets(self);
    cg_transport_destroy(&self->tp);
    memset(self->curve_secret, 0, sizeof self->curve_secret);
    memset(&self->relay_keys, 0, sizeof self->relay_keys);
    free(self);
    *self_p = NULL;
}

void cg_actor_stats(const cg_actor_t *self, cg_actor_stats_t *out)
{
    *out = self->stats;
    out->steps = self->steps_before;
    if (self->rollout) {
        cg_rollout_stats_t rs;
        cg_rollout_stats(self->rollout, &rs);
        out->steps += rs.steps;
    }
}

/* ---- sending ---- */

static void s_msg_init(const cg_actor_t *self, cg_msg_t *msg, cg_msg_type_t type)
{
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    memcpy(msg->run_id, self->run_id, sizeof msg->run_id);
}

/* A socket of kind with the run's limits; a CURVE client of the learner when it uses CURVE. */
static cg_socket_t *s_socket(cg_actor_t *self, cg_sock_kind_t kind)
{
    cg_socket_opts_t opts = self->sock_opts;
    if (kind == CG_SOCK_PUSH && self->hwm_opt <= 0)
        opts.hwm = cg_config_data_hwm(&self->cfg); /* room for every granted group */
    cg_socket_t *sock = cg_transport_socket(self->tp, kind, &opts);
    if (sock && self->curve &&
        cg_transport_curve_client(sock, self->curve_server, self->curve_public,
                                  self->curve_secret)) {
        cg_transport_close(&sock);
        return NULL;
    }
    return sock;
}

/* Says Hello. fresh: on a new DEALER (the old one and anything queued in it are dropped), so
 * that a learner that was away gets one Hello, not a backlog (ZeroMQ guide: Lazy Pirate). */
static cg_status_t s_send_hello(cg_actor_t *self, int fresh)
{
    if (fresh || !self->dealer) {
        cg_transport_close(&self->dealer);
        self->dealer = s_socket(self, CG_SOCK_DEALER);
        if (!self->dealer)
            return CG_ERR_ZMQ;
        CG_TRY(cg_transport_connect(self->dealer, self->host, self->port));
    }
    cg_msg_t msg;
    s_msg_init(self, &msg, CG_MSG_HELLO);
    cg_msg_hello_t *h = &msg.u.hello;
    h->actor_id = self->actor_id >= 0 ? self->actor_id : self->requested_id;
    s_copy_str(h->host, sizeof h->host, self->hostname);
    h->pid = self->pid;
    if (self->have_run) {
        const cg_sim_info_t *info = cg_sim_info(self->sim);
        s_copy_str(h->sim, sizeof h->sim, cg_sim_name(self->sim));
        h->obs_dim = info->obs_dim;
        h->n_actions = info->n_actions;
        h->group_size = self->group_size;
    }
    s_copy_str(h->token, sizeof h->token, self->token);
    h->credits = !self->flood;  /* follows credit grants (the learner decides: Welcome) */
    h->continuous_ok = 1;       /* a Gaussian head drives continuous simulators */
    h->session = self->session; /* a reconnect: proves it is the same actor */
    self->t_hello = (1e3 * cg_os_now());
    cg_status_t rc = cg_transport_send(self->dealer, NULL, 0, &msg);
    if (rc == CG_ERR_TIMEOUT) /* queue full: the next Hello will try again */
        return CG_OK;
    return rc;
}

/* A heartbeat; `leaving`: the last one, telling the learner this actor exits now. */
static cg_status_t s_send_heartbeat(cg_actor_t *self, int leaving)
{
    cg_msg_t msg;
    s_msg_init(self, &msg, CG_MSG_HEARTBEAT);
    cg_msg_heartbeat_t *hb = &msg.u.heartbeat;
    hb->actor_id = self->actor_id;
    hb->applied_version = self->version;
    hb->groups_sent = self->stats.groups_sent;
    hb->weights_latency_s = self->stats.weights_latency_s;
    hb->leaving = leaving;
    self->t_heartbeat = (1e3 * cg_os_now());
    cg_status_t rc = cg_transport_send(self->dealer, NULL, 0, &msg);
    return rc == CG_ERR_TIMEOUT ? CG_OK : rc;
}

/* Sends the pending batch if the PUSH queue takes it; keeps it otherwise. */
static cg_status_t s_try_send(cg_actor_t *self)
{
    self->batch.u.groups.session = self->session; /* the current one, after a reconnect too */
    memcpy(self->batch.run_id, self->run_id, sizeof self->batch.run_id);
    cg_status_t rc = cg_transport_send(self->push, NULL, 0, &self->batch);
    if (rc == CG_ERR_TIMEOUT) {
        self->stats.send_blocked++;
        return CG_OK; /* learner behind: keep it, retry when writable */
    }
    cg_msg_groups_t *b = &self->batch.u.groups;
    if (rc == CG_OK) {
        self->stats.groups_sent += (uint64_t)b->n_groups;
        self->stats.batches_sent++;
        CG_DEBUG("sent batch seq %llu: %d groups, version %llu", (unsigned long long)b->seq,
                 b->n_groups, (unsigned long long)b->policy_version);
        if (self->flood) { /* the same groups again, as the learner's current version */
            b->seq = self->seq++;
            b->policy_version = self->learner_version;
            return CG_OK;
        }
    } else {
        CG_ERROR("cannot send batch seq %llu (%d groups): %s", (unsigned long long)b->seq,
                 b->n_groups, cg_status_str(rc));
    }
    cg_rollout_release(self->rollout);
    self->pending = 0;
    return rc == CG_ERR_ZMQ ? rc : CG_OK;
}

/* Takes the finished groups (as many as one message may carry) and sends them. */
static cg_status_t s_send_ready(cg_actor_t *self)
{
    if (self->pending || cg_rollout_n_ready(self->rollout) == 0)
        return CG_OK;
    s_msg_init(self, &self->batch, CG_MSG_GROUPS);
    cg_msg_groups_t *b = &self->batch.u.groups;
    cg_rollout_take(self->rollout, self->caps.max_groups, self->caps.max_bytes / 4 * 3, b);
    b->actor_id = self->actor_id;
    b->seq = self->seq++;
    self->pending = 1;
    return s_try_send(self);
}

/* ---- applying what the learner sends ---- */

/* Deterministic: true while the current version's quota is not yet fully sent. */
static int s_quota_busy(const cg_actor_t *self)
{
    return cg_rollout_budget(self->rollout) != 0 || cg_rollout_in_flight(self->rollout) > 0 ||
           cg_rollout_n_ready(self->rollout) > 0 || self->pending;
}

/* Credits: grants for weights of credit_version or newer become budget once those weights
 * are applied, so no credited group is sampled with older weights (it would arrive stale). */
static void s_credit_apply(cg_actor_t *self)
{
    if (self->pending_credit <= 0 || self->version < self->credit_version || !self->rollout)
        return;
    int64_t held = cg_rollout_budget(self->rollout);
    cg_rollout_set_budget(self->rollout, (held > 0 ? held : 0) + self->pending_credit);
    self->pending_credit = 0;
}

/* Starts collecting for the version just applied. */
static void s_start_version(cg_actor_t *self)
{
    cg_rollout_set_version(self->rollout, self->version);
    if (self->deterministic)
        cg_rollout_set_budget(self->rollout, self->quota);
    else if (!self->credits)
        cg_rollout_set_budget(self->rollout, -1);
    else
        s_credit_apply(self);
}

static void s_apply_weights(cg_actor_t *self, const cg_msg_weights_t *w)
{
    memcpy(cg_policy_params(self->policy), w->params, (size_t)w->n_params * sizeof(float));
    self->version = w->version;
    self->stats.version = w->version;
    self->stats.weights_applied++;
    CG_DEBUG("applied weights version %llu", (unsigned long long)w->version);
    s_start_version(self);
}

static void s_on_weights(cg_actor_t *self, cg_msg_t *msg)
{
    const cg_msg_weights_t *w = &msg->u.weights;
    double now = (1e3 * cg_os_now());
    self->t_heard = now;
    if (w->done) {
        CG_INFO("learner says training is over (version %llu): actor %d exits",
                (unsigned long long)w->version, self->actor_id);
        self->done = 1;
        return;
    }
    if (!self->have_run || w->version <= self->version)
        return;
    if (w->n_params != (int64_t)cg_policy_n_params(self->policy)) {
        CG_WARN("weights version %llu carry %lld parameters, the policy has %zu: ignored",
                (unsigned long long)w->version, (long long)w->n_params,
                cg_policy_n_params(self->policy));
        self->stats.rejected++;
        return;
    }
    self->t_weights = now;
    double latency = cg_os_wall() - w->publish_time;
    self->stats.weights_latency_s = latency > 0.0 && isfinite(latency) ? latency : 0.0;
    if (self->deterministic && s_quota_busy(self)) {
        /* Each quota is sampled with one version only: apply once it is sent. */
        if (self->stash.type == CG_MSG_NONE || w->version > self->stash.u.weights.version) {
            cg_msg_free(&self->stash);
            self->stash = *msg;
            memset(msg, 0, sizeof *msg); /* ownership moved to the stash */
        }
        return;
    }
    s_apply_weights(self, w);
}

/* Builds config, simulator, policy and rollout from a Welcome. Fatal errors are logged. */
static cg_status_t s_build(cg_actor_t *self, const cg_msg_welcome_t *w)
{
    char err[1024];
    cg_config_defaults(&self->cfg);
    cg_status_t rc = cg_config_load_string(&self->cfg, w->config_text ? w->config_text : "",
                                           "welcome config", err, sizeof err);
    if (rc == CG_OK)
        rc = cg_config_finish(&self->cfg, err, sizeof err);
    if (rc != CG_OK) {
        CG_ERROR("the learner's config does not load here: %s (hint: run the same cgrpo "
                 "build on the learner and the actors)",
                 err);
        return rc;
    }
    /* The simulator: built in, or the plugin the config names (at the same path here). */
    if ((rc = cg_sim_configure(&self->cfg, err, sizeof err)) != CG_OK) {
        CG_ERROR("cannot set up the run's simulator on this host: %s", err);
        return rc;
    }
    s_limits(self);
    int32_t m = self->instances_opt > 0 ? self->instances_opt : self->cfg.instances;

    cg_rng_t root;
    cg_rng_seed(&root, w->seed, S_SEED_STREAM);
    cg_rng_t r_sim = cg_rng_split(&root, 0), r_roll = cg_rng_split(&root, 1);
    self->sim = cg_sim_new(&self->cfg, m, cg_rng_u64(&r_sim), err, sizeof err);
    if (!self->sim) {
        CG_ERROR("cannot create simulator %s: %s (hint: check the learner's [sim] settings)",
                 self->cfg.sim, err);
        return CG_ERR_INVAL;
    }
    const cg_sim_info_t *info = cg_sim_info(self->sim);
    if (info->obs_dim != w->obs_dim || info->n_actions != w->n_actions) {
        CG_ERROR("simulator %s here has obs_dim %d and %d actions, the learner's policy has "
                 "obs_dim %d and %d actions (hint: run the same cgrpo build and simulator "
                 "settings on the learner and the actors)",
                 cg_sim_name(self->sim), info->obs_dim, info->n_actions, w->obs_dim, w->n_actions);
        return CG_ERR_SHAPE;
    }
    if (info->max_steps > self->caps.max_steps)
        CG_WARN("simulator %s runs episodes of up to %d steps but the learner accepts %d "
                "(hint: raise [learner] max_episode_steps or lower [sim] horizon)",
                cg_sim_name(self->sim), info->max_steps, self->caps.max_steps);

    memset(&self->shape, 0, sizeof self->shape);
    self->shape.obs_dim = w->obs_dim;
    self->shape.n_actions = w->n_actions;
    self->shape.n_hidden = w->n_hidden;
    if (w->n_hidden >= 0 && w->n_hidden <= CG_MAX_LAYERS)
        memcpy(self->shape.hidden, w->hidden, (size_t)w->n_hidden * sizeof(int32_t));
    self->shape.activation = (cg_activation_t)w->activation;
    self->shape.head = (cg_head_t)w->head;
    self->policy = cg_policy_new(&self->shape, 0);
    if (!self->policy || (int64_t)cg_policy_n_params(self->policy) != w->n_params) {
        CG_ERROR("the welcome's policy shape is invalid or does not match its %lld parameters "
                 "(hint: run the same cgrpo build on the learner and the actors)",
                 (long long)w->n_params);
        return CG_ERR_SHAPE;
    }

    self->group_size = w->group_size;
    self->n_temps = w->n_temperatures;
    if (self->n_temps > 0 && self->n_temps <= CG_MAX_GROUP)
        memcpy(self->temps, w->temperatures, (size_t)self->n_temps * sizeof(float));
    cg_rollout_opts_t ro = {w->group_size, w->n_temperatures, self->temps, cg_rng_u64(&r_roll),
                            self->cfg.top_p};
    self->rollout = cg_rollout_new(self->sim, self->policy, &ro, err, sizeof err);
    if (!self->rollout) {
        CG_ERROR("cannot set up rollouts: %s", err);
        return CG_ERR_INVAL;
    }
    self->config_text = cg_strdup(w->config_text ? w->config_text : "");
    self->seed = w->seed;
    self->have_run = 1;
    CG_INFO("actor runs %s x %d instances, group size %d, policy %lld parameters",
            cg_sim_name(self->sim), m, self->group_size, (long long)w->n_params);
    return CG_OK;
}

/* Whether a Welcome describes a different run than the one built. */
static int s_run_changed(const cg_actor_t *self, const cg_msg_welcome_t *w)
{
    if (!self->have_run)
        return 1;
    if (strcmp(self->config_text, w->config_text ? w->config_text : "") != 0 ||
        self->seed != w->seed || self->group_size != w->group_size ||
        self->n_temps != w->n_temperatures || self->shape.obs_dim != w->obs_dim ||
        self->shape.n_actions != w->n_actions || self->shape.n_hidden != w->n_hidden ||
        (int32_t)self->shape.activation != w->activation || (int32_t)self->shape.head != w->head)
        return 1;
    for (int32_t l = 0; l < w->n_hidden && l < CG_MAX_LAYERS; l++)
        if (self->shape.hidden[l] != w->hidden[l])
            return 1;
    if (self->n_temps > 0 &&
        memcmp(self->temps, w->temperatures, (size_t)self->n_temps * sizeof(float)) != 0)
        return 1;
    return (int64_t)cg_policy_n_params(self->policy) != w->n_params;
}

/* (Re)connects sock of kind to host:port unless it is already connected there. */
static cg_status_t s_connect(cg_actor_t *self, cg_socket_t **sock, cg_sock_kind_t kind,
                             int *connected_port, int port)
{
    if (*sock && *connected_port == port)
        return CG_OK;
    cg_transport_close(sock);
    *connected_port = 0;
    *sock = s_socket(self, kind);
    if (!*sock)
        return CG_ERR_ZMQ;
    CG_TRY(cg_transport_connect(*sock, self->host, port));
    *connected_port = port;
    return CG_OK;
}

/* (Re)connects the weights SUB to this node's relay (the option, else the run's [actor] relay)
 * or, with none, to the learner's weights port. A relay of a CURVE learner is a CURVE server
 * with keys derived from the run token; without a token the actor uses the learner. */
static cg_status_t s_connect_weights(cg_actor_t *self, int learner_port)
{
    const char *relay = self->relay_opt[0] ? self->relay_opt : self->cfg.relay;
    char host[S_HOST_LEN];
    int port = 0;
    int relayed = relay[0] && cg_transport_parse_endpoint(relay, host, sizeof host, &port) == CG_OK;
    if (relayed && self->curve && !self->relay_keys.client_public[0]) {
        CG_WARN("relay %s not used: the learner uses CURVE and this actor has no run token to "
                "derive the relay's keys from (hint: give [run] token_file)",
                relay);
        relayed = 0;
    }
    if (!relayed) {
        snprintf(host, sizeof host, "%s", self->host);
        port = learner_port;
    }
    if (self->sub && self->weights_port == port && !strcmp(self->weights_host, host))
        return CG_OK;
    cg_transport_close(&self->sub);
    self->weights_port = 0;
    if (relayed) {
        cg_socket_opts_t opts = self->sock_opts;
        self->sub = cg_transport_socket(self->tp, CG_SOCK_SUB, &opts);
        if (self->sub && self->curve &&
            cg_transport_curve_client(self->sub, self->relay_keys.server_public,
                                      self->relay_keys.client_public,
                                      self->relay_keys.client_secret))
            cg_transport_close(&self->sub);
    } else {
        self->sub = s_socket(self, CG_SOCK_SUB);
    }
    if (!self->sub)
        return CG_ERR_ZMQ;
    CG_TRY(cg_transport_connect(self->sub, host, port));
    self->weights_port = port;
    snprintf(self->weights_host, sizeof self->weights_host, "%s", host);
    if (relayed)
        CG_INFO("weights from the relay at %s:%d", host, port);
    return CG_OK;
}

static cg_status_t s_on_welcome(cg_actor_t *self, const cg_msg_welcome_t *w, const char *run_id)
{
    double now = (1e3 * cg_os_now());
    int first = !self->have_run;
    self->t_heard = now;
    self->t_weights = now;
    self->stats.welcomes++;
    if (w->data_port < 1 || w->data_port > 65535 || w->weights_port < 1 ||
        w->weights_port > 65535) {
        CG_WARN("welcome names data port %d and weights port %d: ignored", w->data_port,
                w->weights_port);
        self->stats.rejected++;
        return CG_OK;
    }
    int rebuilt = 0;
    if (s_run_changed(self, w)) {
        if (!first) {
            CG_WARN("the learner's welcome describes a different run: rebuilding (dropping %d "
                    "groups in flight)",
                    cg_rollout_in_flight(self->rollout) + cg_rollout_n_ready(self->rollout));
            s_drop_pending(self, "the run changed");
            s_teardown_run(self);
        }
        CG_TRY(s_build(self, w));
        rebuilt = 1;
    } else if (w->version < self->version) {
        /* The learner went back (resumed from a checkpoint): what was sampled since is void. */
        CG_INFO("learner is at version %llu, behind our %llu (resumed from a checkpoint): "
                "discarding %d unfinished groups",
                (unsigned long long)w->version, (unsigned long long)self->version,
                cg_rollout_in_flight(self->rollout) + cg_rollout_n_ready(self->rollout));
        s_drop_pending(self, "sampled with a version the learner no longer has");
        cg_rollout_discard(self->rollout);
    }
    if (self->phase == S_LOST)
        CG_INFO("reconnected to the learner at %s:%d (version %llu)", self->host, self->port,
                (unsigned long long)w->version);

    memcpy(self->run_id, run_id, sizeof self->run_id);
    self->actor_id = w->actor_id;
    self->session = w->session;
    self->refused[0] = 0;
    self->stats.actor_id = w->actor_id;
    self->heartbeat_ms = w->heartbeat_ms > 0 ? w->heartbeat_ms : self->cfg.heartbeat_ms;
    self->timeout_ms = self->cfg.heartbeat_timeout_ms;
    if (self->timeout_ms < 2 * self->heartbeat_ms)
        self->timeout_ms = 2 * self->heartbeat_ms;
    self->hello_interval_ms = self->heartbeat_ms;
    int was_deterministic = self->deterministic;
    self->deterministic = w->deterministic != 0;
    self->quota = w->quota > 0 ? w->quota : 0;
    self->credits = w->credits != 0;

    if (self->curve && self->phase != S_RUNNING) {
        /* A CURVE connection the learner refused (made before it admitted our key, e.g. to a
         * restarted learner) is not retried by ZeroMQ: connect afresh. */
        cg_transport_close(&self->push);
        cg_transport_close(&self->sub);
        self->data_port = self->weights_port = 0;
    }
    cg_status_t rc = s_connect(self, &self->push, CG_SOCK_PUSH, &self->data_port, w->data_port);
    if (rc == CG_OK)
        rc = s_connect_weights(self, w->weights_port);
    if (rc != CG_OK)
        return rc;

    /* The snapshot always applies: the learner is the authority on the version. */
    int new_version =
        rebuilt || w->version != self->version || was_deterministic != self->deterministic;
    memcpy(cg_policy_params(self->policy), w->params, (size_t)w->n_params * sizeof(float));
    self->version = w->version;
    self->stats.version = w->version;
    if (self->learner_version < w->version || first)
        self->learner_version = w->version;
    if (self->stash.type != CG_MSG_NONE && self->stash.u.weights.version <= w->version)
        cg_msg_free(&self->stash);
    if (new_version) {
        if (self->deterministic && !rebuilt)
            cg_rollout_discard(self->rollout); /* a quota uses one version only */
        s_start_version(self);
    }
    if (self->credits) { /* a new connection: grants come after this Welcome */
        cg_rollout_set_budget(self->rollout, 0);
        self->pending_credit = 0;
        self->credit_version = 0;
    }
    if (first || self->phase != S_RUNNING)
        CG_INFO("welcome: actor %d in run %s at version %llu, data port %d, weights port %d%s",
                self->actor_id, self->run_id, (unsigned long long)self->version, w->data_port,
                w->weights_port, self->deterministic ? ", deterministic" : "");
    if (self->deterministic && self->quota == 0 && new_version)
        CG_INFO("deterministic quota is 0 groups per version: actor %d only follows the weights",
                self->actor_id);
    self->phase = S_RUNNING;
    self->t_heartbeat = now;
    return CG_OK;
}

/* The learner will not take our Hello or Heartbeat. Never as sent: stop, saying why. Not
 * now: say why (once per reason) and keep saying Hello at the hello interval. */
static cg_status_t s_on_refusal(cg_actor_t *self, const cg_msg_refusal_t *r)
{
    if (!r->retry) {
        CG_ERROR("the learner at %s:%d refused this actor: %s", self->host, self->port, r->reason);
        return CG_ERR_AUTH;
    }
    if (strcmp(self->refused, r->reason)) {
        CG_WARN("the learner at %s:%d refused this actor for now: %s; saying hello again every "
                "%d ms",
                self->host, self->port, r->reason, self->heartbeat_ms);
        snprintf(self->refused, sizeof self->refused, "%s", r->reason);
    }
    if (self->phase == S_RUNNING) { /* not admitted (any more): as if the learner were lost */
        self->phase = S_LOST;
        self->hello_interval_ms = self->heartbeat_ms;
    }
    return CG_OK;
}

static cg_status_t s_on_control(cg_actor_t *self, cg_msg_t *msg)
{
    if (msg->type == CG_MSG_WELCOME)
        return s_on_welcome(self, &msg->u.welcome, msg->run_id);
    if (msg->type == CG_MSG_REFUSAL) /* may come before we know the run id */
        return s_on_refusal(self, &msg->u.refusal);
    if (strcmp(msg->run_id, self->run_id) != 0) {
        CG_DEBUG("control message of run \"%s\" ignored (ours: \"%s\")", msg->run_id, self->run_id);
        return CG_OK;
    }
    self->t_heard = (1e3 * cg_os_now());
    if (msg->type == CG_MSG_HEARTBEAT) {
        self->learner_version = msg->u.heartbeat.applied_version;
        int32_t credit = msg->u.heartbeat.credit;
        if (credit > 0 && self->credits) {
            self->pending_credit += credit;
            if (msg->u.heartbeat.applied_version > self->credit_version)
                self->credit_version = msg->u.heartbeat.applied_version;
            s_credit_apply(self);
        }
    } else if (msg->type == CG_MSG_WEIGHTS) {
        s_on_weights(self, msg);
    } else {
        CG_WARN("unexpected %s message on the control socket: ignored",
                cg_msg_type_name(msg->type));
        self->stats.rejected++;
    }
    return CG_OK;
}

/* Waits up to timeout_ms for control or weights messages, or for room to send a pending
 * batch, and handles what arrived. */
static cg_status_t s_receive(cg_actor_t *self, int timeout_ms)
{
    cg_socket_t *socks[2] = {self->dealer, self->sub};
    int n = self->sub ? 2 : 1, ready[2] = {0, 0};
    cg_socket_t *out = self->phase == S_RUNNING && self->pending ? self->push : NULL;
    cg_status_t rc = cg_transport_poll_send(socks, n, out, timeout_ms, ready, NULL);
    if (rc == CG_ERR_TIMEOUT || rc == CG_ERR_INTERRUPTED)
        return CG_OK;
    if (rc != CG_OK)
        return rc;
    char err[512];
    for (int s = 0; s < 2; s++) {
        if (!ready[s])
            continue;
        for (int k = 0; k < S_DRAIN_MAX && !self->done; k++) {
            /* Re-read each turn: a Welcome may replace the sockets. */
            cg_socket_t *sock = s == 0 ? self->dealer : self->sub;
            if (!sock)
                break;
            cg_msg_t msg;
            rc = cg_transport_recv(sock, &self->caps, s == 0 ? NULL : self->run_id, &msg, NULL,
                                   NULL, NULL, err, sizeof err);
            if (rc == CG_ERR_TIMEOUT)
                break;
            if (rc == CG_ERR_ZMQ)
                return rc;
            if (rc != CG_OK) {
                self->stats.rejected++;
                CG_WARN("rejected a message from the learner: %s: %s", cg_status_str(rc), err);
                continue;
            }
            if (s == 0)
                rc = s_on_control(self, &msg);
            else if (msg.type == CG_MSG_WEIGHTS)
                s_on_weights(self, &msg);
            else
                self->stats.rejected++;
            cg_msg_free(&msg);
            if (rc != CG_OK)
                return rc;
        }
    }
    return CG_OK;
}

/* ---- timers and work ---- */

static cg_status_t s_timers(cg_actor_t *self)
{
    double now = (1e3 * cg_os_now());
    if (self->phase != S_RUNNING) {
        if (self->phase == S_WAIT_WELCOME && !self->warned_silent &&
            now - self->t_started > 10000) {
            self->warned_silent = 1;
            CG_WARN("no welcome from the learner at %s:%d after 10 s (hint: is it running? a "
                    "learner bound off loopback wants its public key ([learner] "
                    "curve_public_key) and the run token ([run] token_file) here, %s; its log "
                    "names refused clients)",
                    self->host, self->port, self->curve ? "given" : "not given");
        }
        if (now - self->t_hello < self->hello_interval_ms)
            return CG_OK;
        /* Back off towards the timeout so a slow learner's Welcome is not always orphaned. */
        self->hello_interval_ms *= 2;
        if (self->hello_interval_ms > self->timeout_ms)
            self->hello_interval_ms = self->timeout_ms;
        return s_send_hello(self, 1);
    }
    if (now - self->t_heard > self->timeout_ms) {
        CG_INFO("learner lost: nothing heard for %.0f ms; rollouts paused, saying hello every "
                "%d ms",
                now - self->t_heard, self->heartbeat_ms);
        self->phase = S_LOST;
        self->hello_interval_ms = self->heartbeat_ms;
        return s_send_hello(self, 1);
    }
    if (now - self->t_heartbeat >= self->heartbeat_ms)
        CG_TRY(s_send_heartbeat(self, 0));
    /* Behind the learner with no Weights for a period (PUB/SUB slow joiner): ask for a
     * snapshot. */
    if (self->learner_version > self->version && self->stash.type == CG_MSG_NONE &&
        now - self->t_weights >= self->heartbeat_ms && now - self->t_hello >= self->heartbeat_ms) {
        CG_DEBUG("at version %llu, learner at %llu: asking for a snapshot",
                 (unsigned long long)self->version, (unsigned long long)self->learner_version);
        return s_send_hello(self, 0);
    }
    return CG_OK;
}

static int s_may_step(const cg_actor_t *self)
{
    return cg_rollout_budget(self->rollout) != 0 || cg_rollout_in_flight(self->rollout) > 0;
}

/* One unit of work while running; *busy says whether there may be more right away. */
static cg_status_t s_work(cg_actor_t *self, int *busy)
{
    *busy = 0;
    if (self->pending) {
        if (cg_transport_wait_writable(self->push, 0) != CG_OK)
            return CG_OK;
        CG_TRY(s_try_send(self));
        *busy = !self->pending;
        return CG_OK;
    }
    if (cg_rollout_n_ready(self->rollout) > 0) {
        *busy = 1;
        return s_send_ready(self);
    }
    if (s_may_step(self)) {
        *busy = 1;
        int32_t finished = cg_rollout_step(self->rollout);
        if (finished < 0) {
            CG_ERROR("%s", cg_sim_error(self->sim));
            return (cg_status_t)finished;
        }
        if (finished > 0)
            return s_send_ready(self);
        return CG_OK;
    }
    if (self->deterministic && self->stash.type != CG_MSG_NONE) {
        /* Quota sent: move on to the version that arrived meanwhile. */
        s_apply_weights(self, &self->stash.u.weights);
        cg_msg_free(&self->stash);
        *busy = 1;
    }
    return CG_OK;
}

cg_status_t cg_actor_run(cg_actor_t *self, volatile sig_atomic_t *stop)
{
    s_limits(self);
    self->phase = S_WAIT_WELCOME;
    self->hello_interval_ms = self->heartbeat_ms;
    self->t_started = (1e3 * cg_os_now());
    CG_INFO("actor connecting to learner at %s:%d", self->host, self->port);
    cg_status_t rc = s_send_hello(self, 1);
    int busy = 0;
    double t_polled = 0.0;
    while (rc == CG_OK && !*stop && !self->done) {
        int timeout = busy ? 0 : S_IDLE_MS;
        if (self->phase == S_RUNNING && self->pending && !busy &&
            cg_transport_wait_writable(self->push, 0) == CG_OK)
            timeout = 0;
        /* A poll costs about as much as a cheap simulator step: between steps, poll once
         * per millisecond at most. */
        double now = (1e3 * cg_os_now());
        if (timeout > 0 || now - t_polled >= S_BUSY_POLL_MS) {
            rc = s_receive(self, timeout);
            t_polled = now;
        }
        if (rc != CG_OK || self->done || *stop)
            break;
        rc = s_timers(self);
        if (rc != CG_OK)
            break;
        busy = 0;
        if (self->phase == S_RUNNING)
            rc = s_work(self, &busy);
    }
    if (self->pending) {
        if (!self->done && !*stop)
            CG_WARN("exiting with an unsent batch of %d groups", self->batch.u.groups.n_groups);
        cg_rollout_release(self->rollout);
        self->pending = 0;
    }
    if (self->phase == S_RUNNING && self->dealer) {
        /* Say goodbye, so that the learner frees the slot (and, at the end of training,
         * stops repeating `done` once every actor has left) without waiting a timeout. */
        (void)s_send_heartbeat(self, 1);
        cg_transport_close_linger(&self->dealer, S_GOODBYE_LINGER_MS);
    }
    s_close_sockets(self);
    if (rc != CG_OK)
        CG_ERROR("actor %d stops: %s", self->actor_id, cg_status_str(rc));
    else
        CG_INFO("actor %d done: %llu groups sent in %llu messages (%llu times the send queue "
                "was full), version %llu",
                self->actor_id, (unsigned long long)self->stats.groups_sent,
                (unsigned long long)self->stats.batches_sent,
                (unsigned long long)self->stats.send_blocked, (unsigned long long)self->version);
    return rc;
}
