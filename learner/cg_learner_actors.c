/* cg_learner_actors: the learner's actor table (admission, identity, expiry, credit) and its
 * conversations: Hello/Welcome/Heartbeat/Refusal on the control socket, GroupBatch on the
 * data socket (validation, identity, staleness, ingest). */
#include "cg_learner_impl.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_os.h"

/* ---- actors and messages ---------------------------------------------------------------- */

static void s_count_rejected(cg_learner_t *self, const char *where, cg_status_t rc, const char *err)
{
    self->rejected++;
    if (self->rejected <= 10 || self->rejected % 1000 == 0)
        CG_WARN("rejected %s message #%lld: %s: %s", where, (long long)self->rejected,
                cg_status_str(rc), err);
}

cg_learner_actor_t *cg_learner_actor_find(cg_learner_t *self, int32_t id)
{
    for (int32_t i = 0; i < self->n_actors; i++)
        if (self->actors[i].id == id)
            return &self->actors[i];
    return NULL;
}

/* Heard from within the heartbeat timeout, and not gone (its leaving heartbeat). */
static int s_actor_live(const cg_learner_t *self, const cg_learner_actor_t *a, double now)
{
    return isfinite(a->last_seen) && now - a->last_seen < self->cfg.heartbeat_timeout_ms / 1000.0;
}

int32_t cg_learner_actors_alive(const cg_learner_t *self)
{
    double now = cg_os_now();
    int32_t alive = 0;
    for (int32_t i = 0; i < self->n_actors; i++)
        alive += s_actor_live(self, &self->actors[i], now);
    return alive;
}

/* The live entry of the control connection `identity`, or NULL. */
static cg_learner_actor_t *s_actor_of(cg_learner_t *self, const uint8_t *identity, size_t idlen,
                                      double now)
{
    for (int32_t i = 0; i < self->n_actors; i++) {
        cg_learner_actor_t *a = &self->actors[i];
        if (a->idlen == idlen && !memcmp(a->identity, identity, idlen) &&
            s_actor_live(self, a, now))
            return a;
    }
    return NULL;
}

/* A key only the actor's connection knows (never 0): its group batches must carry it. */
static uint64_t s_new_session(void)
{
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) { /* no entropy source: still unique */
        static uint64_t counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 48) ^
            ++counter * 0x9e3779b97f4a7c15ULL;
    }
    return x ? x : 1;
}

/* Answers a Hello or Heartbeat the learner will not take with a Refusal saying why (retry:
 * it may work later), and counts it as rejected. */
static void s_refuse(cg_learner_t *self, const uint8_t *identity, size_t idlen, cg_status_t rc,
                     int retry, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void s_refuse(cg_learner_t *self, const uint8_t *identity, size_t idlen, cg_status_t rc,
                     int retry, const char *fmt, ...)
{
    cg_msg_t out = {.type = CG_MSG_REFUSAL};
    snprintf(out.run_id, sizeof out.run_id, "%s", self->cfg.run_id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out.u.refusal.reason, sizeof out.u.refusal.reason, fmt, ap);
    va_end(ap);
    out.u.refusal.retry = retry;
    (void)cg_transport_send(self->control, identity, idlen, &out);
    s_count_rejected(self, "control", rc, out.u.refusal.reason);
}

/* A slot for a new entry: a free one (expired or gone) if any, else a new one while the
 * table is under [learner] max_actors; NULL when it is full of live actors. */
static cg_learner_actor_t *s_actor_slot(cg_learner_t *self, double now)
{
    for (int32_t i = 0; i < self->n_actors; i++)
        if (!s_actor_live(self, &self->actors[i], now))
            return &self->actors[i];
    if (self->n_actors >= self->cfg.max_actors)
        return NULL;
    if (self->n_actors == self->cap_actors) {
        int32_t cap = self->cap_actors ? 2 * self->cap_actors : 16;
        if (cap > self->cfg.max_actors)
            cap = self->cfg.max_actors;
        self->actors = cg_realloc(self->actors, (size_t)cap, sizeof *self->actors);
        self->cap_actors = cap;
    }
    cg_learner_actor_t *a = &self->actors[self->n_actors++];
    memset(a, 0, sizeof *a);
    a->last_seen = -INFINITY;
    return a;
}

/* The lowest id no live actor holds. */
static int32_t s_free_id(cg_learner_t *self, double now)
{
    const int32_t n = self->n_actors;
    uint8_t *taken = cg_calloc((size_t)n + 1, 1);
    for (int32_t i = 0; i < n; i++) {
        const cg_learner_actor_t *a = &self->actors[i];
        if (a->id >= 0 && a->id <= n && s_actor_live(self, a, now))
            taken[a->id] = 1;
    }
    int32_t id = 0;
    while (taken[id])
        id++;
    free(taken);
    return id;
}

/* Credit flow. The groups in the filling batch plus those granted and not yet arrived are
 * kept at the window W = max(1, max_policy_lag) batches: a group granted now is then trained
 * on within max_policy_lag versions, never dropped as stale, and actors produce the next
 * batch while an update runs. Each credit-following actor is granted up to its share,
 * ceil(W / n) of the n alive, and never more than ceil(W / 4) at a time. Grants go out when an
 * update starts (with max_policy_lag 0: once it has published, so that nothing is sampled with the
 * old weights), and when an actor's groups or heartbeat arrive (its top-up after drops; dead
 * actors' grants go to the living). An actor gone silent holds nothing. One that has held grants
 * for a heartbeat timeout without delivering a group (stuck, or hostile) loses them and is on
 * probation, one group at a time outside the window, until it delivers: it cannot stall the batch.
 */
static void s_credit(cg_learner_t *self, cg_learner_actor_t *a)
{
    if (!a->credits || a->quarantined)
        return;
    const double now = cg_os_now(), timeout = self->cfg.heartbeat_timeout_ms / 1000.0;
    const int64_t window = cg_config_credit_window(&self->cfg);
    int32_t n = 0;
    int64_t outstanding = 0;
    for (int32_t i = 0; i < self->n_actors; i++) {
        cg_learner_actor_t *o = &self->actors[i];
        if (!o->credits || o->quarantined)
            continue;
        if (now - o->last_seen >= timeout)
            o->outstanding = 0;
        else if (o->outstanding > 0 && !o->defaulted &&
                 now - o->t_delivered >= timeout + 2 * self->update_max_s) {
            /* (twice the longest update: groups sent meanwhile wait unread in the queue) */
            o->outstanding = 0; /* took grants and delivered nothing: on probation */
            o->defaulted = 1;
            CG_WARN("actor %d held credits for %.1f s without delivering a group: its grants "
                    "go to the others until it delivers",
                    o->id, now - o->t_delivered);
        }
        if (now - o->last_seen < timeout && !o->defaulted) {
            n++;
            outstanding += o->outstanding;
        }
    }
    int64_t want;
    if (a->defaulted) {
        want = 1 - a->outstanding; /* probation: one group at a time, outside the window */
    } else {
        if (n == 0)
            return;
        /* At most a quarter of the window at a time (topped up as groups arrive): an actor
         * that joins later, or one that is faster, finds room instead of waiting a batch. */
        int64_t share = (window + n - 1) / n;
        if (share > (window + 3) / 4)
            share = (window + 3) / 4;
        const int64_t room = window - cg_batch_n_groups(self->filling) - outstanding;
        want = share - a->outstanding;
        if (want > room)
            want = room;
    }
    if (want > (1 << 20))
        want = 1 << 20; /* one grant's cap (cg_msg); the rest comes with the next */
    if (want <= 0)
        return;
    cg_msg_t out = {.type = CG_MSG_HEARTBEAT};
    snprintf(out.run_id, sizeof out.run_id, "%s", self->cfg.run_id);
    out.u.heartbeat = (cg_msg_heartbeat_t){.actor_id = a->id,
                                           .applied_version = self->version,
                                           .weights_latency_s = -1,
                                           .credit = (int32_t)want};
    if (cg_transport_send(self->control, a->identity, a->idlen, &out) == CG_OK) {
        if (a->outstanding == 0)
            a->t_delivered = now; /* the clock of this grant starts now */
        a->outstanding += want;
    }
}

void cg_learner_credit_all(cg_learner_t *self)
{
    for (int32_t i = 0; i < self->n_actors; i++)
        s_credit(self, &self->actors[i]);
}

static uint64_t s_actor_seed(const cg_learner_t *self, int32_t id)
{
    return cg_rng_mix64(self->cfg.seed ^ cg_rng_mix64(0x6163746f72ULL + (uint64_t)id));
}

static int32_t s_actor_quota(const cg_learner_t *self, int32_t id)
{
    int32_t n = self->cfg.actors > 0 ? self->cfg.actors : 1, B = self->cfg.groups_per_batch;
    if (id < 0 || id >= n)
        return 0;
    return B / n + (id < B % n);
}

/* The Welcome for actor a (id): everything it needs to roll out, the current weights
 * borrowed from the learner (valid until the next update). */
static void s_welcome(cg_learner_t *self, const cg_learner_actor_t *a, int32_t id, cg_msg_t *out)
{
    *out = (cg_msg_t){.type = CG_MSG_WELCOME};
    snprintf(out->run_id, sizeof out->run_id, "%s", self->cfg.run_id);
    cg_msg_welcome_t *w = &out->u.welcome;
    const cg_policy_shape_t *shape = cg_backend_shape(self->backend);
    w->actor_id = id;
    w->seed = s_actor_seed(self, id);
    w->group_size = self->cfg.group_size;
    w->n_temperatures = self->cfg.n_temperatures;
    w->temperatures = self->cfg.temperatures;
    w->obs_dim = shape->obs_dim;
    w->n_actions = shape->n_actions;
    w->n_hidden = shape->n_hidden;
    memcpy(w->hidden, shape->hidden, sizeof w->hidden);
    w->activation = (int32_t)shape->activation;
    w->head = (int32_t)shape->head;
    w->version = self->version;
    w->n_params = (int64_t)self->n_params;
    w->params = self->params;
    w->n_lambda = self->n_enforced + 1;
    w->lambda = self->lambda;
    w->heartbeat_ms = self->cfg.heartbeat_ms;
    w->deterministic = self->cfg.deterministic;
    w->quota = self->cfg.deterministic ? s_actor_quota(self, id) : 0;
    w->data_port = self->data_port;
    w->weights_port = self->weights_port;
    w->config_text = self->config_text;
    w->credits = a->credits;
    w->session = a->session;
    w->n_costs = self->env.n_costs;
    memcpy(w->cost_names, self->env.cost_names, sizeof w->cost_names);
    w->n_constraints = self->n_enforced;
    memcpy(w->constraints, self->cost_index, sizeof w->constraints);
    w->max_steps = self->env.max_steps < self->cfg.max_steps_per_episode
                       ? self->env.max_steps
                       : self->cfg.max_steps_per_episode;
}

/* A Hello with the right token: on a secured learner its connection's CURVE key may now
 * open the data and weights sockets. -1 (refused, with a Refusal) if it has no key. */
static int s_admit(cg_learner_t *self, const uint8_t *identity, size_t idlen, const char *who,
                   int32_t pid)
{
    if (!self->secure ||
        !cg_transport_auth_admit(self->transport, cg_transport_peer_key(self->control)))
        return 0;
    s_refuse(self, identity, idlen, CG_ERR_AUTH, 0,
             "hello from %s (pid %d) without a CURVE client key", who, pid);
    return -1;
}

/* A broadcast relay (`cgrpo relay`, docs/cluster.md) with the right run and token: its key
 * may open the weights socket, and its Welcome (for no actor: id -1, no session, no credits)
 * names the weights port. It holds no actor slot and sends no heartbeats. */
static void s_on_relay_hello(cg_learner_t *self, const uint8_t *identity, size_t idlen,
                             const cg_msg_hello_t *h)
{
    if (s_admit(self, identity, idlen, "a relay", h->pid))
        return;
    const cg_learner_actor_t none = {.id = -1};
    cg_msg_t out;
    s_welcome(self, &none, -1, &out);
    cg_status_t rc = cg_transport_send(self->control, identity, idlen, &out);
    if (rc != CG_OK)
        CG_WARN("welcome to the relay on %s (pid %d) not sent: %s", h->host, h->pid,
                cg_status_str(rc));
    else
        CG_INFO("relay on %s (pid %d) subscribed at version %llu", h->host, h->pid,
                (unsigned long long)self->version);
}

static void s_on_hello(cg_learner_t *self, const uint8_t *identity, size_t idlen,
                       const cg_msg_t *in)
{
    const cg_msg_hello_t *h = &in->u.hello;
    if (in->run_id[0] && strcmp(in->run_id, self->cfg.run_id)) {
        s_refuse(self, identity, idlen, CG_ERR_RUN_ID, 0,
                 "hello from actor %d of run '%.64s': this learner runs '%s' (hint: connect "
                 "to that run's learner)",
                 h->actor_id, in->run_id, self->cfg.run_id);
        return;
    }
    if (self->token[0] && strcmp(h->token, self->token)) {
        s_refuse(self, identity, idlen, CG_ERR_AUTH, 0,
                 "hello from actor %d (pid %d) with a wrong run token (hint: give the actor the "
                 "run's [run] token_file)",
                 h->actor_id, h->pid);
        return;
    }
    if (h->relay) {
        s_on_relay_hello(self, identity, idlen, h);
        return;
    }
    if ((h->obs_dim && h->obs_dim != self->env.obs_dim) ||
        (h->n_actions && h->n_actions != self->env.n_actions) ||
        (h->group_size && h->group_size != self->cfg.group_size) ||
        (h->sim[0] && strcmp(h->sim, self->env.sim))) {
        s_refuse(self, identity, idlen, CG_ERR_SHAPE, 0,
                 "hello from actor %d: simulator %s obs %d actions %d G %d does not match this "
                 "run's %s obs %d actions %d G %d",
                 h->actor_id, h->sim, h->obs_dim, h->n_actions, h->group_size, self->env.sim,
                 self->env.obs_dim, self->env.n_actions, self->cfg.group_size);
        return;
    }
    if (self->env.continuous && !h->continuous_ok) {
        s_refuse(self, identity, idlen, CG_ERR_SHAPE, 0,
                 "hello from actor %d: it cannot roll out continuous actions, which this run's "
                 "simulator %s takes (hint: cgrpo's own actors can; the Python actor rolls out "
                 "discrete actions only)",
                 h->actor_id, self->env.sim);
        return;
    }
    /* Token accepted: this connection's CURVE key may now open the data and weights sockets. */
    char who[32];
    snprintf(who, sizeof who, "actor %d", h->actor_id);
    if (s_admit(self, identity, idlen, who, h->pid))
        return;
    /* Identity: one control connection is one actor. A connection that holds a live entry
     * keeps it (a second Hello asks for a snapshot). Another connection gets a live actor's
     * id only with that actor's session key (the same actor, reconnected); otherwise an
     * expired entry, or a new one while the table has room. */
    const double now = cg_os_now();
    cg_learner_actor_t *a = s_actor_of(self, identity, idlen, now);
    if (!a) {
        int32_t id = h->actor_id >= 0 ? h->actor_id : s_free_id(self, now);
        a = cg_learner_actor_find(self, id);
        if (a && s_actor_live(self, a, now) && !(h->session && h->session == a->session)) {
            s_refuse(self, identity, idlen, CG_ERR_PROTO, 1,
                     "actor id %d is held by a live actor (host %s, pid %d); it frees %d ms after "
                     "that actor's last heartbeat (hint: start without --id for a free one)",
                     id, a->host, a->pid, self->cfg.heartbeat_timeout_ms);
            return;
        }
        if (!a || !(h->session && h->session == a->session)) {
            if (!a && !(a = s_actor_slot(self, now))) {
                s_refuse(self, identity, idlen, CG_ERR_TOOBIG, 1,
                         "the learner holds [learner] max_actors = %d live actors (hint: raise "
                         "it, or wait for one to leave)",
                         self->cfg.max_actors);
                return;
            }
            *a = (cg_learner_actor_t){.id = id, .session = s_new_session()}; /* a new actor */
        }
        memcpy(a->identity, identity, idlen);
        a->idlen = idlen;
        a->outstanding = 0; /* a new connection: whatever was granted before is gone */
        a->defaulted = 0;
    }
    const int32_t id = a->id;
    a->last_seen = now;
    a->pid = h->pid;
    snprintf(a->host, sizeof a->host, "%s", h->host);
    a->credits = h->credits && !self->cfg.deterministic;

    cg_msg_t out;
    s_welcome(self, a, id, &out);
    cg_status_t rc = cg_transport_send(self->control, identity, idlen, &out);
    if (rc != CG_OK)
        CG_WARN("welcome to actor %d not sent: %s", id, cg_status_str(rc));
    else
        CG_INFO("actor %d joined (host %s, pid %d) at version %llu", id, h->host, h->pid,
                (unsigned long long)self->version);
    if (rc == CG_OK)
        s_credit(self, a); /* after the Welcome, on the same connection */
}

static void s_on_heartbeat(cg_learner_t *self, const uint8_t *identity, size_t idlen,
                           const cg_msg_t *in)
{
    const cg_msg_heartbeat_t *hb = &in->u.heartbeat;
    cg_learner_actor_t *a = cg_learner_actor_find(self, hb->actor_id);
    if (!a || a->idlen != idlen || memcmp(a->identity, identity, idlen) ||
        !isfinite(a->last_seen)) {
        s_refuse(self, identity, idlen, CG_ERR_PROTO, 1,
                 "heartbeat as actor %d from a connection the learner has not admitted (it "
                 "restarted, or the actor's slot expired): say hello",
                 hb->actor_id);
        return;
    }
    if (hb->leaving) { /* exiting: holds nothing, counts as gone from now on */
        a->last_seen = -INFINITY;
        a->outstanding = 0;
        CG_INFO("actor %d (%s pid %d) left", a->id, a->host, a->pid);
        return;
    }
    a->last_seen = cg_os_now();
    /* One latency sample per newly applied version the heartbeat reports. */
    if (hb->applied_version != a->applied_version && hb->weights_latency_s >= 0 &&
        isfinite(hb->weights_latency_s))
        self->latency[self->latency_n++ % CG_LEARNER_LATENCY_SAMPLES] = hb->weights_latency_s;
    a->applied_version = hb->applied_version;
    a->groups_sent = hb->groups_sent;
    a->latency_s = hb->weights_latency_s;
    cg_msg_t ack = {.type = CG_MSG_HEARTBEAT};
    snprintf(ack.run_id, sizeof ack.run_id, "%s", self->cfg.run_id);
    ack.u.heartbeat = (cg_msg_heartbeat_t){
        .actor_id = a->id, .applied_version = self->version, .weights_latency_s = -1};
    (void)cg_transport_send(self->control, identity, idlen, &ack);
    s_credit(self, a);
}

void cg_learner_drain_control(cg_learner_t *self)
{
    for (int i = 0; i < 256; i++) {
        cg_msg_t msg;
        uint8_t identity[CG_IDENTITY_MAX];
        size_t idlen = 0;
        char err[256] = "";
        /* Any run id is decoded here; hello checks it itself (first contact has none). */
        cg_status_t rc = cg_transport_recv(self->control, &self->caps, NULL, &msg, identity, &idlen,
                                           NULL, err, sizeof err);
        if (rc == CG_ERR_TIMEOUT)
            return;
        if (rc != CG_OK) {
            s_count_rejected(self, "control", rc, err);
            continue;
        }
        if (msg.type == CG_MSG_HELLO) {
            s_on_hello(self, identity, idlen, &msg);
        } else if (msg.type == CG_MSG_HEARTBEAT && !strcmp(msg.run_id, self->cfg.run_id)) {
            s_on_heartbeat(self, identity, idlen, &msg);
        } else {
            snprintf(err, sizeof err, "unexpected %s on the control socket",
                     cg_msg_type_name(msg.type));
            s_count_rejected(self, "control", CG_ERR_PROTO, err);
        }
        cg_msg_free(&msg);
    }
}

void cg_learner_drain_data(cg_learner_t *self)
{
    /* Bounded work per call so control messages are never starved. */
    /* Groups arriving while an update runs will be trained on from the version it makes. */
    const uint64_t version = self->version + (cg_updater_busy(self->updater) ? 1 : 0);
    for (int i = 0; i < 64 && cg_batch_n_groups(self->filling) < self->cfg.groups_per_batch; i++) {
        cg_msg_t msg;
        char err[256] = "";
        size_t nbytes = 0;
        cg_status_t rc = cg_transport_recv(self->data, &self->caps, self->cfg.run_id, &msg, NULL,
                                           NULL, &nbytes, err, sizeof err);
        if (rc == CG_ERR_TIMEOUT)
            return;
        self->data_msgs++;
        self->data_bytes += (int64_t)nbytes;
        if (rc == CG_OK && msg.type != CG_MSG_GROUPS) {
            snprintf(err, sizeof err, "unexpected %s on the data socket",
                     cg_msg_type_name(msg.type));
            rc = CG_ERR_PROTO;
        }
        if (rc == CG_OK && (msg.u.groups.obs_dim != self->env.obs_dim ||
                            msg.u.groups.n_actions != self->env.n_actions ||
                            !msg.u.groups.continuous != !self->env.continuous ||
                            msg.u.groups.n_costs != self->env.n_costs ||
                            msg.u.groups.group_size != self->cfg.group_size)) {
            snprintf(err, sizeof err,
                     "group batch of shape obs %d actions %d costs %d G %d "
                     "does not match this run",
                     msg.u.groups.obs_dim, msg.u.groups.n_actions, msg.u.groups.n_costs,
                     msg.u.groups.group_size);
            rc = CG_ERR_SHAPE;
        }
        if (rc != CG_OK) {
            s_count_rejected(self, "data", rc, err);
            cg_msg_free(&msg);
            continue;
        }
        const cg_msg_groups_t *g = &msg.u.groups;
        self->data_groups += g->n_groups;
        cg_learner_actor_t *a = cg_learner_actor_find(self, g->actor_id);
        if (!a || g->session != a->session) {
            snprintf(err, sizeof err,
                     "group batch as actor %d without that actor's session key "
                     "(not admitted, or from an earlier connection)",
                     g->actor_id);
            s_count_rejected(self, "data", CG_ERR_AUTH, err);
            cg_msg_free(&msg);
            continue;
        }
        if (a->has_seq && g->seq <= a->last_seq) {
            snprintf(err, sizeof err,
                     "group batch seq %llu from actor %d after seq %llu: replayed "
                     "or reordered",
                     (unsigned long long)g->seq, a->id, (unsigned long long)a->last_seq);
            s_count_rejected(self, "data", CG_ERR_PROTO, err);
            cg_msg_free(&msg);
            continue;
        }
        /* cgrpo actors number their batches 1 by 1: a gap is batches lost on the way (a cut
         * connection, a learner restart); other clients may count in larger steps. */
        if (a->has_seq && g->seq - a->last_seq > 1)
            self->missing_batches +=
                (int64_t)(g->seq - a->last_seq - 1 < 1000000 ? g->seq - a->last_seq - 1 : 1000000);
        a->last_seq = g->seq;
        a->has_seq = 1;
        if (a->quarantined) {
            self->quarantined_groups += g->n_groups;
            a->refused_groups += g->n_groups;
            cg_msg_free(&msg);
            continue;
        }
        if (g->policy_version > self->version) {
            s_count_rejected(self, "data", CG_ERR_RANGE,
                             "group batch from a future policy version");
        } else if (self->cfg.deterministic
                       ? g->policy_version != version
                       : g->policy_version + (uint64_t)self->cfg.max_policy_lag < version) {
            self->dropped_stale += g->n_groups;
        } else if (cg_batch_add(self->filling, g) == CG_OK) {
            self->groups_ingested += g->n_groups;
        }
        if (a && isfinite(a->last_seen)) { /* not one that has left (its last groups) */
            a->last_seen = cg_os_now();
            a->outstanding = a->outstanding > g->n_groups ? a->outstanding - g->n_groups : 0;
            a->t_delivered = a->last_seen;
            a->defaulted = 0;
            s_credit(self, a);
        }
        cg_msg_free(&msg);
    }
}
