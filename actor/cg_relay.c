/* cg_relay: Hello/Welcome with the learner as a relay, an XSUB -> PUB zmq_proxy on its own
 * thread, a monitor SUB on the PUB, and the re-Hello after silence. */
#include "cg_relay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_config.h"
#include "cg_log.h"
#include "cg_msg.h"
#include "cg_os.h"
#include "cg_transport.h"

#define S_HOST_LEN 256
#define S_POLL_MS 100
#define S_HELLO_MS 1000      /* until a Welcome says the run's heartbeat */
#define S_AFTER_DONE_MS 2000 /* relays the learner's repeats of `done`, then exits */
#define S_PUB_IN_BYTES 4096  /* what actors send a relay: subscriptions, CURVE handshakes */

struct cg_relay {
    char host[S_HOST_LEN];
    int port;
    char bind[S_HOST_LEN];
    char token[CG_NAME_LEN];
    int curve;
    char learner_key[CG_CURVE_KEY_LEN + 1];
    char public_key[CG_CURVE_KEY_LEN + 1], secret_key[CG_CURVE_KEY_LEN + 1]; /* upstream */
    cg_relay_keys_t keys; /* downstream (the actors) */
    char hostname[CG_NAME_LEN];

    cg_transport_t *tp;
    cg_socket_t *pub; /* bound: the actors' SUBs connect here */
    int relay_port;
    cg_socket_t *xsub; /* connected to the learner's weights port */
    char upstream_run[CG_NAME_LEN];
    int upstream_port;
    cg_socket_t *dealer;                /* Hello/Welcome with the learner */
    cg_socket_t *monitor;               /* SUB on our own PUB */
    cg_socket_t *ctl_mine, *ctl_theirs; /* the proxy's control pipe */
    pthread_t proxy_thread;
    int proxy_running;
    atomic_int proxy_failed; /* set by the proxy thread if zmq_proxy returned an error */

    cg_config_t cfg; /* the run's, from the Welcome (defaults before) */
    cg_msg_caps_t caps;
    char run_id[CG_NAME_LEN];
    char refused[CG_REASON_LEN];
    double t_hello, t_heard, t_done; /* monotonic ms; t_done 0 = not done */
    cg_relay_stats_t stats;
};

static cg_status_t s_fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "relay: %s", what);
    return CG_ERR_INVAL;
}

cg_relay_t *cg_relay_new(const cg_relay_opts_t *opts, char *err, size_t errlen)
{
    const char *bind = opts && opts->bind && opts->bind[0] ? opts->bind : "127.0.0.1";
    if (!opts || !opts->host || !opts->host[0] || strlen(opts->host) >= S_HOST_LEN ||
        opts->port < 1 || opts->port > 65535) {
        s_fail(err, errlen,
               "no learner endpoint (hint: cgrpo relay --connect HOST:PORT, the "
               "control endpoint the learner printed)");
        return NULL;
    }
    if (strlen(bind) >= S_HOST_LEN || opts->relay_port < 0 || opts->relay_port > 65535) {
        s_fail(err, errlen, "bad bind address or port (hint: --bind ADDRESS --port 0..65535)");
        return NULL;
    }
    if (opts->token && strlen(opts->token) >= CG_NAME_LEN) {
        snprintf(err, errlen, "relay: token longer than %d characters", CG_NAME_LEN - 1);
        return NULL;
    }
    int curve = opts->curve_server_key && opts->curve_server_key[0];
    char probe[CG_CURVE_KEY_LEN + 1];
    if (curve && (!cg_transport_has_curve() || strlen(opts->curve_server_key) != CG_CURVE_KEY_LEN ||
                  cg_transport_curve_public(opts->curve_server_key, probe) != CG_OK)) {
        s_fail(err, errlen,
               "the learner's CURVE public key is not a 40-character Z85 key, or "
               "this libzmq has no CURVE (hint: give the learner.pub of `cgrpo "
               "keygen`)");
        return NULL;
    }
    if (curve && (!opts->token || !opts->token[0])) {
        s_fail(err, errlen,
               "a relay of a CURVE learner needs the run token: its keys, and the "
               "actors' keys for it, derive from the token (hint: --config with "
               "[run] token_file, or --token)");
        return NULL;
    }
    cg_relay_t *self = cg_calloc(1, sizeof *self);
    atomic_init(&self->proxy_failed, 0);
    snprintf(self->host, sizeof self->host, "%s", opts->host);
    self->port = opts->port;
    snprintf(self->bind, sizeof self->bind, "%s", bind);
    snprintf(self->token, sizeof self->token, "%s", opts->token ? opts->token : "");
    self->curve = curve;
    if (gethostname(self->hostname, sizeof self->hostname) != 0)
        snprintf(self->hostname, sizeof self->hostname, "unknown");
    self->hostname[sizeof self->hostname - 1] = 0;
    cg_config_defaults(&self->cfg);
    cg_msg_caps_from(&self->cfg, &self->caps);

    self->tp = cg_transport_new();
    const cg_socket_opts_t pub_opts = {.hwm = self->cfg.hwm, .max_msg_bytes = S_PUB_IN_BYTES};
    cg_status_t rc = self->tp ? CG_OK : CG_ERR_ZMQ;
    if (rc == CG_OK && curve) {
        snprintf(self->learner_key, sizeof self->learner_key, "%s", opts->curve_server_key);
        rc = cg_transport_curve_keypair(self->public_key, self->secret_key);
        if (rc == CG_OK)
            rc = cg_transport_relay_keys(self->token, &self->keys);
        if (rc == CG_OK)
            rc = cg_transport_auth_start(self->tp);
        if (rc == CG_OK)
            rc = cg_transport_auth_admit(self->tp, self->keys.client_public);
    }
    if (rc == CG_OK && !(self->pub = cg_transport_socket(self->tp, CG_SOCK_PUB, &pub_opts)))
        rc = CG_ERR_ZMQ;
    if (rc == CG_OK && curve)
        rc = cg_transport_curve_server(self->pub, self->keys.server_secret, CG_AUTH_ADMITTED);
    if (rc == CG_OK)
        rc = cg_transport_bind(self->pub, self->bind, opts->relay_port, &self->relay_port);
    if (rc == CG_OK)
        rc = cg_transport_pipe(self->tp, &self->ctl_mine, &self->ctl_theirs);
    if (rc != CG_OK) {
        snprintf(err, errlen,
                 "relay: cannot listen on %s:%d (hint: see the error logged above; a port "
                 "in use wants another --port, or 0)",
                 self->bind, opts->relay_port);
        cg_relay_destroy(&self);
        return NULL;
    }
    return self;
}

int cg_relay_port(const cg_relay_t *self)
{
    return self->relay_port;
}

void cg_relay_stats(const cg_relay_t *self, cg_relay_stats_t *out)
{
    *out = self->stats;
}

/* ---- the proxy thread ---- */

static void *s_proxy_main(void *arg)
{
    cg_relay_t *self = arg;
    if (cg_transport_proxy(self->xsub, self->pub, NULL, self->ctl_theirs) != CG_OK)
        atomic_store(&self->proxy_failed, 1); /* logged by cg_transport; run() stops */
    return NULL;
}

static void s_proxy_stop(cg_relay_t *self)
{
    if (!self->proxy_running)
        return;
    if (cg_transport_proxy_stop(self->ctl_mine) == CG_OK)
        pthread_join(self->proxy_thread, NULL);
    else
        pthread_detach(self->proxy_thread); /* cannot happen short of a broken context */
    self->proxy_running = 0;
}

/* A fresh XSUB to the learner's weights port and the proxy over it. The XSUB subscribes to
 * everything itself, so the actors' subscriptions (forwarded once, to the XSUB of the time)
 * need not be replayed. */
static cg_status_t s_upstream(cg_relay_t *self, int weights_port)
{
    s_proxy_stop(self);
    cg_transport_close(&self->xsub);
    const cg_socket_opts_t opts = {.hwm = self->cfg.hwm,
                                   .max_msg_bytes = (int64_t)self->caps.max_bytes};
    self->xsub = cg_transport_socket(self->tp, CG_SOCK_XSUB, &opts);
    if (!self->xsub)
        return CG_ERR_ZMQ;
    if (self->curve)
        CG_TRY(cg_transport_curve_client(self->xsub, self->learner_key, self->public_key,
                                         self->secret_key));
    CG_TRY(cg_transport_connect(self->xsub, self->host, weights_port));
    CG_TRY(cg_transport_subscribe_all(self->xsub));
    /* pthread_create is the memory barrier ZeroMQ asks for when sockets change thread. */
    if (pthread_create(&self->proxy_thread, NULL, s_proxy_main, self) != 0) {
        CG_ERROR("relay: cannot start the proxy thread");
        return CG_ERR_NOMEM;
    }
    self->proxy_running = 1;
    self->upstream_port = weights_port;
    memcpy(self->upstream_run, self->run_id, sizeof self->upstream_run);
    self->stats.upstreams++;
    return CG_OK;
}

/* The monitor: a SUB of our own PUB, as an actor of this node would be. */
static cg_status_t s_monitor(cg_relay_t *self)
{
    const cg_socket_opts_t opts = {.hwm = self->cfg.hwm,
                                   .max_msg_bytes = (int64_t)self->caps.max_bytes};
    self->monitor = cg_transport_socket(self->tp, CG_SOCK_SUB, &opts);
    if (!self->monitor)
        return CG_ERR_ZMQ;
    if (self->curve)
        CG_TRY(cg_transport_curve_client(self->monitor, self->keys.server_public,
                                         self->keys.client_public, self->keys.client_secret));
    const char *host = self->bind;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "*"))
        host = "127.0.0.1";
    return cg_transport_connect(self->monitor, host, self->relay_port);
}

/* ---- the learner ---- */

static cg_status_t s_hello(cg_relay_t *self, double now)
{
    cg_transport_close(&self->dealer); /* a fresh connection: no backlog of Hellos */
    const cg_socket_opts_t opts = {.hwm = self->cfg.hwm,
                                   .max_msg_bytes = (int64_t)self->caps.max_bytes};
    self->dealer = cg_transport_socket(self->tp, CG_SOCK_DEALER, &opts);
    if (!self->dealer)
        return CG_ERR_ZMQ;
    if (self->curve)
        CG_TRY(cg_transport_curve_client(self->dealer, self->learner_key, self->public_key,
                                         self->secret_key));
    CG_TRY(cg_transport_connect(self->dealer, self->host, self->port));
    cg_msg_t msg = {.type = CG_MSG_HELLO};
    memcpy(msg.run_id, self->run_id, sizeof msg.run_id);
    cg_msg_hello_t *h = &msg.u.hello;
    h->actor_id = -1;
    h->relay = 1;
    h->pid = (int32_t)getpid();
    snprintf(h->host, sizeof h->host, "%s", self->hostname);
    snprintf(h->token, sizeof h->token, "%s", self->token);
    self->t_hello = now;
    cg_status_t rc = cg_transport_send(self->dealer, NULL, 0, &msg);
    return rc == CG_ERR_TIMEOUT ? CG_OK : rc; /* not connected yet: the next Hello */
}

static cg_status_t s_on_welcome(cg_relay_t *self, const cg_msg_t *msg, double now)
{
    const cg_msg_welcome_t *w = &msg->u.welcome;
    char err[1024];
    cg_config_t cfg;
    cg_config_defaults(&cfg);
    if (cg_config_load_string(&cfg, w->config_text ? w->config_text : "", "welcome config", err,
                              sizeof err) ||
        cg_config_finish(&cfg, err, sizeof err)) {
        CG_ERROR("relay: the learner's config does not load here: %s (hint: run the same cgrpo "
                 "build on the learner and the relays)",
                 err);
        return CG_ERR_INVAL;
    }
    if (w->weights_port < 1 || w->weights_port > 65535) {
        CG_WARN("relay: welcome names weights port %d: ignored", w->weights_port);
        return CG_OK;
    }
    self->cfg = cfg;
    cg_msg_caps_from(&self->cfg, &self->caps);
    memcpy(self->run_id, msg->run_id, sizeof self->run_id);
    self->stats.welcomes++;
    self->t_heard = now;
    self->refused[0] = 0;
    /* A plain learner's SUB reconnects by itself; a CURVE learner that came back does not
     * know our key any more, and a resumed one may listen elsewhere: connect afresh. */
    if (!self->xsub || self->curve || w->weights_port != self->upstream_port ||
        strcmp(self->run_id, self->upstream_run)) {
        CG_TRY(s_upstream(self, w->weights_port));
        CG_INFO("relay: run %s at version %llu, weights from %s:%d, relayed on %s:%d", self->run_id,
                (unsigned long long)w->version, self->host, w->weights_port, self->bind,
                self->relay_port);
    }
    return CG_OK;
}

static cg_status_t s_on_control(cg_relay_t *self, const cg_msg_t *msg, double now)
{
    if (msg->type == CG_MSG_WELCOME)
        return s_on_welcome(self, msg, now);
    if (msg->type == CG_MSG_REFUSAL) {
        const cg_msg_refusal_t *r = &msg->u.refusal;
        if (!r->retry) {
            CG_ERROR("relay: the learner refuses this relay: %s", r->reason);
            return CG_ERR_AUTH;
        }
        if (strcmp(self->refused, r->reason)) {
            CG_WARN("relay: the learner says: %s; saying Hello again", r->reason);
            snprintf(self->refused, sizeof self->refused, "%s", r->reason);
        }
        return CG_OK;
    }
    CG_DEBUG("relay: %s message on the control socket: ignored", cg_msg_type_name(msg->type));
    return CG_OK;
}

static void s_on_monitor(cg_relay_t *self, const cg_msg_t *msg, size_t nbytes, double now)
{
    if (msg->type != CG_MSG_WEIGHTS)
        return;
    self->t_heard = now;
    self->stats.weights++;
    self->stats.bytes += nbytes;
    if (msg->u.weights.version > self->stats.version)
        self->stats.version = msg->u.weights.version;
    if (msg->u.weights.done && !self->stats.done) {
        self->stats.done = 1;
        self->t_done = now;
        CG_INFO("relay: training is over at version %llu (%llu weights messages relayed)",
                (unsigned long long)self->stats.version, (unsigned long long)self->stats.weights);
    }
}

/* Waits up to S_POLL_MS for the learner's answers and the monitor's copies. */
static cg_status_t s_receive(cg_relay_t *self)
{
    cg_socket_t *socks[2] = {self->dealer, self->monitor};
    int ready[2] = {0, 0};
    cg_status_t rc = cg_transport_poll(socks, 2, S_POLL_MS, ready);
    if (rc == CG_ERR_TIMEOUT || rc == CG_ERR_INTERRUPTED)
        return CG_OK;
    if (rc != CG_OK)
        return rc;
    char err[512];
    for (int s = 0; s < 2; s++) {
        for (int k = 0; ready[s] && k < 64; k++) {
            cg_msg_t msg;
            size_t nbytes = 0;
            rc = cg_transport_recv(socks[s], &self->caps, s == 0 ? NULL : self->run_id, &msg, NULL,
                                   NULL, &nbytes, err, sizeof err);
            if (rc == CG_ERR_TIMEOUT)
                break;
            if (rc == CG_ERR_ZMQ)
                return rc;
            if (rc != CG_OK) {
                CG_WARN("relay: rejected a message from the learner: %s: %s", cg_status_str(rc),
                        err);
                continue;
            }
            double now = 1e3 * cg_os_now();
            rc = s == 0 ? s_on_control(self, &msg, now) : CG_OK;
            if (s == 1)
                s_on_monitor(self, &msg, nbytes, now);
            cg_msg_free(&msg);
            if (rc != CG_OK)
                return rc;
        }
    }
    return CG_OK;
}

cg_status_t cg_relay_run(cg_relay_t *self, volatile sig_atomic_t *stop)
{
    double now = 1e3 * cg_os_now();
    cg_status_t rc = s_monitor(self);
    if (rc == CG_OK)
        rc = s_hello(self, now);
    CG_INFO("relay: learner %s:%d, relaying on %s:%d", self->host, self->port, self->bind,
            self->relay_port);
    while (rc == CG_OK && !*stop) {
        if (atomic_load(&self->proxy_failed)) {
            CG_ERROR("relay: forwarding stopped (zmq_proxy failed, see above): exiting so that "
                     "this node's actors fall back to the learner's snapshots");
            rc = CG_ERR_ZMQ;
            break;
        }
        rc = s_receive(self);
        now = 1e3 * cg_os_now();
        if (rc != CG_OK || (self->t_done > 0 && now - self->t_done >= S_AFTER_DONE_MS))
            break;
        /* No Welcome yet: Hello every second. Silent for the run's timeout (a learner gone, or
         * restarted): Hello every timeout, whose Welcome reconnects the upstream. */
        double every = self->stats.welcomes ? self->cfg.heartbeat_timeout_ms : S_HELLO_MS;
        if (!self->t_done && now - self->t_heard >= every && now - self->t_hello >= every)
            rc = s_hello(self, now);
    }
    s_proxy_stop(self);
    return rc;
}

void cg_relay_destroy(cg_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_relay_t *self = *self_p;
    s_proxy_stop(self);
    cg_transport_close(&self->xsub);
    cg_transport_close(&self->pub);
    cg_transport_close(&self->monitor);
    cg_transport_close(&self->dealer);
    cg_transport_close(&self->ctl_mine);
    cg_transport_close(&self->ctl_theirs);
    cg_transport_destroy(&self->tp);
    memset(self->secret_key, 0, sizeof self->secret_key);
    memset(&self->keys, 0, sizeof self->keys);
    memset(self->token, 0, sizeof self->token);
    free(self);
    *self_p = NULL;
}
