/* cg_learner_endpoint: where the learner listens: the advertised address, CURVE and its
 * authenticator off loopback, the three sockets bound (on the earlier run's port when
 * resuming), and the memory guard that watches them from before they bind. */
#include "cg_learner_impl.h"

#include <string.h>
#include <unistd.h>

#include "cg_log.h"
#include "cg_os.h"

static int s_is_loopback(const char *host)
{
    return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strcmp(host, "[::1]");
}

/* The host actors on other machines connect to: [learner] advertise, else the bind address,
 * or this machine's name when bound to every interface. */
static void s_advertise(cg_learner_t *self)
{
    const char *b = self->cfg.bind_host;
    if (self->cfg.advertise[0]) {
        snprintf(self->advertise, sizeof self->advertise, "%s", self->cfg.advertise);
    } else if (!strcmp(b, "*") || !strcmp(b, "0.0.0.0") || !strcmp(b, "::") || !strcmp(b, "[::]")) {
        if (gethostname(self->advertise, sizeof self->advertise - 1) != 0)
            snprintf(self->advertise, sizeof self->advertise, "localhost");
    } else {
        snprintf(self->advertise, sizeof self->advertise, "%s", b);
    }
}

/* Off loopback the learner requires CURVE keys and a run token (docs/cluster.md); with keys
 * configured it uses CURVE on loopback too. Starts the authenticator. */
static cg_status_t s_security(cg_learner_t *self, char *err, size_t errlen)
{
    const cg_config_t *c = &self->cfg;
    int loopback = s_is_loopback(c->bind_host);
    if (loopback && !c->curve_secret_key[0])
        return CG_OK;
    if (!loopback && (!c->curve_secret_key[0] || !self->token[0])) {
        snprintf(err, errlen,
                 "[learner] bind = %s is reachable from other machines, so the learner "
                 "requires CURVE keys and a run token; %s is not set (hint: `cgrpo keygen DIR`, "
                 "then --set learner.curve_secret_key=DIR/learner.key --set "
                 "learner.curve_public_key=DIR/learner.pub --set run.token_file=DIR/token; or "
                 "bind 127.0.0.1 for a run on one machine)",
                 c->bind_host,
                 !c->curve_secret_key[0] ? "[learner] curve_secret_key" : "the run token");
        return CG_ERR_AUTH;
    }
    if (!cg_transport_has_curve()) {
        snprintf(err, errlen,
                 "this libzmq was built without CURVE (zmq_has(\"curve\") is false) "
                 "(hint: install a libzmq built with libsodium, such as Debian's libzmq5, or bind "
                 "127.0.0.1 and set no keys)");
        return CG_ERR_UNSUPPORTED;
    }
    char pub[CG_CURVE_KEY_LEN + 1], want[CG_CURVE_KEY_LEN + 1];
    CG_TRY(cg_transport_curve_read_key(c->curve_secret_key, self->curve_secret, err, errlen));
    CG_TRY(cg_transport_curve_public(self->curve_secret, pub));
    if (c->curve_public_key[0]) {
        CG_TRY(cg_transport_curve_read_key(c->curve_public_key, want, err, errlen));
        if (strcmp(pub, want)) {
            snprintf(err, errlen,
                     "[learner] curve_public_key %s is not the public key of "
                     "curve_secret_key %s (hint: give both files of one `cgrpo keygen` directory)",
                     c->curve_public_key, c->curve_secret_key);
            return CG_ERR_MISMATCH;
        }
    }
    if (cg_transport_auth_start(self->transport) != CG_OK) {
        snprintf(err, errlen, "cannot start the CURVE authenticator (hint: see the error above)");
        return CG_ERR_ZMQ;
    }
    self->secure = 1;
    CG_INFO("CURVE on: server key %s; actors need it and the run token", pub);
    return CG_OK;
}

/* The memory guard (cg_guard.h) watches the three sockets from before they bind, so that it
 * sees every connection. */
static cg_status_t s_guard_start(cg_learner_t *self, char *err, size_t errlen)
{
    if (self->cfg.max_inbound_mb <= 0)
        return CG_OK;
    cg_socket_t *socks[3] = {self->control, self->data, self->weights}, *watches[3] = {0};
    for (int i = 0; i < 3; i++)
        if (cg_transport_watch(socks[i], &watches[i]) != CG_OK) {
            for (int j = 0; j <= i; j++) {
                cg_transport_unwatch(socks[j]);
                cg_transport_close(&watches[j]);
            }
            snprintf(err, errlen,
                     "memory guard: cannot watch the sockets (the log names the "
                     "ZeroMQ error) (hint: set [learner] max_inbound_mb = 0 to run without it)");
            return CG_ERR_ZMQ;
        }
    self->guard = cg_guard_new(watches, 3, (int64_t)self->cfg.max_inbound_mb << 20,
                               CG_LEARNER_GUARD_PERIOD_MS, err, errlen);
    if (!self->guard) {
        for (int i = 0; i < 3; i++)
            cg_transport_unwatch(socks[i]);
        return CG_ERR_INVAL;
    }
    CG_INFO("memory guard: learner RSS %lld MiB; connections are cut above %lld MiB "
            "([learner] max_inbound_mb = %d)",
            (long long)(cg_guard_rss_bytes() >> 20),
            (long long)(cg_guard_limit_bytes(self->guard) >> 20), self->cfg.max_inbound_mb);
    return CG_OK;
}

static void s_guard_stop(cg_learner_t *self)
{
    if (!self->guard)
        return;
    cg_transport_unwatch(self->control); /* first: the guard reads what they report */
    cg_transport_unwatch(self->data);
    cg_transport_unwatch(self->weights);
    cg_guard_destroy(&self->guard);
}

static cg_status_t s_bind(cg_learner_t *self, char *err, size_t errlen)
{
    cg_socket_opts_t opts = {self->cfg.hwm, self->cfg.max_msg_bytes};
    /* Credits bound what honest actors queue there; the memory guard bounds the rest. */
    cg_socket_opts_t data_opts = {cg_config_data_hwm(&self->cfg), self->cfg.max_msg_bytes};
    /* What actors send on the control socket (Hello, Heartbeat) is under a kilobyte: a
     * larger frame there drops the connection, so a peer queues at most hwm x 64 KiB. */
    cg_socket_opts_t control_opts = {self->cfg.hwm, CG_LEARNER_CONTROL_MAX_BYTES};
    self->control = cg_transport_socket(self->transport, CG_SOCK_ROUTER, &control_opts);
    self->data = cg_transport_socket(self->transport, CG_SOCK_PULL, &data_opts);
    self->weights = cg_transport_socket(self->transport, CG_SOCK_PUB, &opts);
    if (!self->control || !self->data || !self->weights) {
        snprintf(err, errlen, "cannot create ZeroMQ sockets");
        return CG_ERR_ZMQ;
    }
    if (self->secure &&
        (cg_transport_curve_server(self->control, self->curve_secret, CG_AUTH_OPEN) ||
         cg_transport_curve_server(self->data, self->curve_secret, CG_AUTH_ADMITTED) ||
         cg_transport_curve_server(self->weights, self->curve_secret, CG_AUTH_ADMITTED))) {
        snprintf(err, errlen, "cannot make the sockets CURVE servers (hint: see the error above)");
        return CG_ERR_ZMQ;
    }
    CG_TRY(s_guard_start(self, err, errlen));
    /* Resume on the port of the earlier run when the config lets the OS pick, so running
     * actors find the restarted learner without being restarted themselves. */
    int want = self->cfg.port;
    char path[CG_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/endpoint", self->run_dir);
    if (want == 0) {
        char *text = cg_os_read_file(path, NULL);
        const char *colon = text ? strrchr(text, ':') : NULL;
        if (colon && cg_transport_bind(self->control, self->cfg.bind_host, atoi(colon + 1),
                                       &self->port) == CG_OK)
            want = self->port;
        free(text);
    }
    if (!self->port && cg_transport_bind(self->control, self->cfg.bind_host, want, &self->port)) {
        snprintf(err, errlen,
                 "cannot bind the control socket on %s:%d (hint: pick a free "
                 "[learner] port or 0)",
                 self->cfg.bind_host, want);
        return CG_ERR_ZMQ;
    }
    int dport = self->cfg.port ? self->cfg.port + 1 : 0,
        wport = self->cfg.port ? self->cfg.port + 2 : 0;
    if (cg_transport_bind(self->data, self->cfg.bind_host, dport, &self->data_port) ||
        cg_transport_bind(self->weights, self->cfg.bind_host, wport, &self->weights_port)) {
        snprintf(err, errlen,
                 "cannot bind the data/weights sockets on %s (hint: [learner] "
                 "port P uses P, P+1 and P+2)",
                 self->cfg.bind_host);
        return CG_ERR_ZMQ;
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s:%d\n", self->advertise, self->port);
        fclose(f);
    }
    return CG_OK;
}

cg_status_t cg_learner_endpoint_open(cg_learner_t *self, char *err, size_t errlen)
{
    s_advertise(self);
    CG_TRY(s_security(self, err, errlen));
    return s_bind(self, err, errlen);
}

void cg_learner_endpoint_stop_guard(cg_learner_t *self)
{
    s_guard_stop(self);
}
