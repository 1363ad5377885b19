/* cg_transport: ZeroMQ context, sockets with bounded queues, and message send/recv through
 * cg_msg; CURVE keys and the ZAP authenticator thread of a secured learner. Every ZeroMQ call
 * goes through CG_ZMQ_CHECK, which logs file:line and zmq_strerror. */
#include "cg_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "cg_alloc.h"
#include "cg_log.h"

/* Evaluates a ZeroMQ call returning -1 on failure; logs and yields CG_ERR_ZMQ. */
#define CG_ZMQ_CHECK(call)                                                                         \
    ((call) == -1 ? (CG_ERROR("%s: %s", #call, zmq_strerror(zmq_errno())), CG_ERR_ZMQ) : CG_OK)

struct cg_transport {
    void *ctx;
    void *auth_pipe; /* PAIR to the authenticator thread (NULL: not started) */
    pthread_t auth_thread;
};

struct cg_socket {
    void *zsock;
    cg_sock_kind_t kind;
    cg_transport_t *owner;
    int curve_server;                    /* 1: record the peer key of each message */
    char peer_key[CG_CURVE_KEY_LEN + 1]; /* User-Id of the last message received */
};

static void s_auth_stop(cg_transport_t *self);

cg_transport_t *cg_transport_new(void)
{
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        CG_ERROR("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    cg_transport_t *self = cg_calloc(1, sizeof *self);
    self->ctx = ctx;
    return self;
}

void cg_transport_destroy(cg_transport_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_transport_t *self = *self_p;
    s_auth_stop(self);
    while (zmq_ctx_term(self->ctx) == -1 && zmq_errno() == EINTR) {
    }
    free(self);
    *self_p = NULL;
}

static int s_zmq_type(cg_sock_kind_t kind)
{
    switch (kind) {
    case CG_SOCK_ROUTER: return ZMQ_ROUTER;
    case CG_SOCK_DEALER: return ZMQ_DEALER;
    case CG_SOCK_PULL: return ZMQ_PULL;
    case CG_SOCK_PUSH: return ZMQ_PUSH;
    case CG_SOCK_PUB: return ZMQ_PUB;
    case CG_SOCK_SUB: return ZMQ_SUB;
    case CG_SOCK_PAIR: return ZMQ_PAIR;
    case CG_SOCK_XSUB: return ZMQ_XSUB;
    }
    return -1;
}

cg_socket_t *cg_transport_socket(cg_transport_t *self, cg_sock_kind_t kind,
                                 const cg_socket_opts_t *opts)
{
    void *z = zmq_socket(self->ctx, s_zmq_type(kind));
    if (!z) {
        CG_ERROR("zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int linger = 0, hwm = opts->hwm > 0 ? opts->hwm : 1000, ivl = 100, ivl_max = 1000;
    int64_t maxsize = opts->max_msg_bytes > 0 ? opts->max_msg_bytes : -1;
    if (CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_LINGER, &linger, sizeof linger)) ||
        CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_SNDHWM, &hwm, sizeof hwm)) ||
        CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_RCVHWM, &hwm, sizeof hwm)) ||
        CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize)) ||
        CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl)) ||
        CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max)))
        goto fail;
    if (kind == CG_SOCK_SUB && CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_SUBSCRIBE, "", 0)))
        goto fail;
    if (kind == CG_SOCK_ROUTER) {
        /* Sending to a vanished peer fails with EHOSTUNREACH instead of vanishing silently. */
        int mandatory = 1;
        if (CG_ZMQ_CHECK(zmq_setsockopt(z, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory)))
            goto fail;
    }
    cg_socket_t *sock = cg_calloc(1, sizeof *sock);
    sock->zsock = z;
    sock->kind = kind;
    sock->owner = self;
    return sock;
fail:
    zmq_close(z);
    return NULL;
}

void cg_transport_close(cg_socket_t **sock_p)
{
    if (!sock_p || !*sock_p)
        return;
    zmq_close((*sock_p)->zsock);
    free(*sock_p);
    *sock_p = NULL;
}

void cg_transport_close_linger(cg_socket_t **sock_p, int linger_ms)
{
    if (!sock_p || !*sock_p)
        return;
    (void)zmq_setsockopt((*sock_p)->zsock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    cg_transport_close(sock_p);
}

cg_status_t cg_transport_bind(cg_socket_t *sock, const char *host, int port, int *bound_port)
{
    char endpoint[300];
    if (port > 0)
        snprintf(endpoint, sizeof endpoint, "tcp://%s:%d", host, port);
    else
        snprintf(endpoint, sizeof endpoint, "tcp://%s:*", host);
    if (zmq_bind(sock->zsock, endpoint) == -1) {
        CG_ERROR("cannot bind %s: %s (hint: is another learner using this port? use "
                 "[learner] port = 0 to let the OS pick)",
                 endpoint, zmq_strerror(zmq_errno()));
        return CG_ERR_ZMQ;
    }
    char last[300];
    size_t len = sizeof last;
    CG_TRY(CG_ZMQ_CHECK(zmq_getsockopt(sock->zsock, ZMQ_LAST_ENDPOINT, last, &len)));
    const char *colon = strrchr(last, ':');
    if (!colon)
        return CG_ERR_ZMQ;
    if (bound_port)
        *bound_port = atoi(colon + 1);
    return CG_OK;
}

cg_status_t cg_transport_parse_endpoint(const char *text, char *host, size_t cap, int *port)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (!colon || colon == text || (size_t)(colon - text) >= cap)
        return CG_ERR_INVAL;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < 1 || p > 65535)
        return CG_ERR_INVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    *port = (int)p;
    return CG_OK;
}

cg_status_t cg_transport_connect(cg_socket_t *sock, const char *host, int port)
{
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "tcp://%s:%d", host, port);
    if (zmq_connect(sock->zsock, endpoint) == -1) {
        CG_ERROR("cannot connect to %s: %s (hint: check the learner's host and port)", endpoint,
                 zmq_strerror(zmq_errno()));
        return CG_ERR_ZMQ;
    }
    return CG_OK;
}

static void s_free_buffer(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Sends an owned buffer (freed by ZeroMQ or here on failure). */
static cg_status_t s_send_owned(cg_socket_t *sock, const uint8_t *identity, size_t idlen,
                                uint8_t *buf, size_t len)
{
    if (sock->kind == CG_SOCK_ROUTER) {
        if (!identity || idlen == 0) {
            free(buf);
            return CG_ERR_INVAL;
        }
        if (zmq_send(sock->zsock, identity, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
            free(buf);
            return (zmq_errno() == EAGAIN || zmq_errno() == EHOSTUNREACH) ? CG_ERR_TIMEOUT
                                                                          : CG_ERR_ZMQ;
        }
    }
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, buf, len, s_free_buffer, NULL) == -1) {
        free(buf);
        return CG_ERR_ZMQ;
    }
    if (zmq_msg_send(&m, sock->zsock, ZMQ_DONTWAIT) == -1) {
        int e = zmq_errno();
        zmq_msg_close(&m); /* frees buf */
        if (e == EAGAIN || e == EHOSTUNREACH)
            return CG_ERR_TIMEOUT;
        CG_ERROR("zmq_msg_send: %s", zmq_strerror(e));
        return CG_ERR_ZMQ;
    }
    return CG_OK;
}

cg_status_t cg_transport_send(cg_socket_t *sock, const uint8_t *identity, size_t idlen,
                              const cg_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    CG_TRY(cg_msg_encode(msg, &buf, &len));
    return s_send_owned(sock, identity, idlen, buf, len);
}

cg_status_t cg_transport_send_raw(cg_socket_t *sock, const uint8_t *identity, size_t idlen,
                                  const void *data, size_t len)
{
    uint8_t *buf = cg_calloc(len ? len : 1, 1);
    memcpy(buf, data, len);
    return s_send_owned(sock, identity, idlen, buf, len);
}

cg_status_t cg_transport_recv(cg_socket_t *sock, const cg_msg_caps_t *caps, const char *run_id,
                              cg_msg_t *msg, uint8_t *identity, size_t *idlen, size_t *nbytes,
                              char *err, size_t errlen)
{
    memset(msg, 0, sizeof *msg);
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, sock->zsock, ZMQ_DONTWAIT) == -1) {
        int e = zmq_errno();
        zmq_msg_close(&part);
        if (e == EAGAIN || e == EINTR)
            return CG_ERR_TIMEOUT;
        CG_ERROR("zmq_msg_recv: %s", zmq_strerror(e));
        return CG_ERR_ZMQ;
    }
    if (sock->kind == CG_SOCK_ROUTER) {
        /* First frame is the peer identity; the payload follows. */
        size_t n = zmq_msg_size(&part);
        if (identity && idlen) {
            *idlen = n < CG_IDENTITY_MAX ? n : CG_IDENTITY_MAX;
            memcpy(identity, zmq_msg_data(&part), *idlen);
        }
        if (!zmq_msg_more(&part)) {
            zmq_msg_close(&part);
            snprintf(err, errlen, "router message without a payload frame");
            return CG_ERR_PROTO;
        }
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock->zsock, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&part);
            return CG_ERR_ZMQ;
        }
    }
    /* Any further frames are not part of our protocol: drain and reject. */
    int extra = 0;
    while (zmq_msg_more(&part)) {
        zmq_msg_t more;
        zmq_msg_init(&more);
        if (zmq_msg_recv(&more, sock->zsock, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&more);
            break;
        }
        extra = 1;
        zmq_msg_close(&part);
        part = more;
    }
    size_t n = zmq_msg_size(&part);
    if (nbytes)
        *nbytes = n;
    if (sock->curve_server) {
        const char *uid = zmq_msg_gets(&part, "User-Id");
        snprintf(sock->peer_key, sizeof sock->peer_key, "%s", uid ? uid : "");
    }
    cg_status_t rc;
    if (extra) {
        snprintf(err, errlen, "unexpected multi-frame message");
        rc = CG_ERR_PROTO;
    } else {
        rc = cg_msg_decode(zmq_msg_data(&part), n, caps, run_id, msg, err, errlen);
    }
    zmq_msg_close(&part);
    return rc;
}

cg_status_t cg_transport_poll(cg_socket_t **socks, int n, int timeout_ms, int *ready)
{
    return cg_transport_poll_send(socks, n, NULL, timeout_ms, ready, NULL);
}

cg_status_t cg_transport_poll_send(cg_socket_t **socks, int n, cg_socket_t *out, int timeout_ms,
                                   int *ready, int *writable)
{
    zmq_pollitem_t items[9];
    CG_ASSERT(n > 0 && n <= 8);
    for (int i = 0; i < n; i++) {
        items[i] = (zmq_pollitem_t){socks[i]->zsock, 0, ZMQ_POLLIN, 0};
        ready[i] = 0;
    }
    if (out)
        items[n] = (zmq_pollitem_t){out->zsock, 0, ZMQ_POLLOUT, 0};
    if (writable)
        *writable = 0;
    int rc = zmq_poll(items, n + (out ? 1 : 0), timeout_ms);
    if (rc == -1)
        return zmq_errno() == EINTR ? CG_ERR_INTERRUPTED : CG_ERR_ZMQ;
    if (rc == 0)
        return CG_ERR_TIMEOUT;
    for (int i = 0; i < n; i++)
        ready[i] = (items[i].revents & ZMQ_POLLIN) != 0;
    if (out && writable)
        *writable = (items[n].revents & ZMQ_POLLOUT) != 0;
    return CG_OK;
}

cg_status_t cg_transport_wait_writable(cg_socket_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = {sock->zsock, 0, ZMQ_POLLOUT, 0};
    int rc = zmq_poll(&item, 1, timeout_ms);
    if (rc == -1)
        return zmq_errno() == EINTR ? CG_ERR_INTERRUPTED : CG_ERR_ZMQ;
    return rc == 0 ? CG_ERR_TIMEOUT : CG_OK;
}

/* For calls that are retried or classified before failing: logs as CG_ZMQ_CHECK does. */
static cg_status_t s_zmq_fail(const char *call)
{
    CG_ERROR("%s: %s", call, zmq_strerror(zmq_errno()));
    return CG_ERR_ZMQ;
}

cg_status_t cg_transport_pipe(cg_transport_t *self, cg_socket_t **mine, cg_socket_t **theirs)
{
    /* The endpoint is unique per context and pipe: the two sockets' addresses. */
    const cg_socket_opts_t opts = {.hwm = 16, .max_msg_bytes = 0};
    *mine = cg_transport_socket(self, CG_SOCK_PAIR, &opts);
    *theirs = cg_transport_socket(self, CG_SOCK_PAIR, &opts);
    char endpoint[96];
    if (*mine && *theirs) {
        snprintf(endpoint, sizeof endpoint, "inproc://cg-pipe-%p-%p", (void *)*mine,
                 (void *)*theirs);
        if (CG_ZMQ_CHECK(zmq_bind((*mine)->zsock, endpoint)) == CG_OK &&
            CG_ZMQ_CHECK(zmq_connect((*theirs)->zsock, endpoint)) == CG_OK)
            return CG_OK;
    }
    cg_transport_close(mine);
    cg_transport_close(theirs);
    return CG_ERR_ZMQ;
}

cg_status_t cg_transport_send_ptr(cg_socket_t *pipe, void *ptr)
{
    CG_ASSERT(pipe->kind == CG_SOCK_PAIR);
    while (zmq_send(pipe->zsock, &ptr, sizeof ptr, 0) == -1) {
        if (zmq_errno() != EINTR)
            return s_zmq_fail("zmq_send");
    }
    return CG_OK;
}

cg_status_t cg_transport_send_ptr_nowait(cg_socket_t *pipe, void *ptr)
{
    CG_ASSERT(pipe->kind == CG_SOCK_PAIR);
    while (zmq_send(pipe->zsock, &ptr, sizeof ptr, ZMQ_DONTWAIT) == -1) {
        if (zmq_errno() == EAGAIN)
            return CG_ERR_TIMEOUT;
        if (zmq_errno() != EINTR)
            return s_zmq_fail("zmq_send");
    }
    return CG_OK;
}

cg_status_t cg_transport_watch(cg_socket_t *sock, cg_socket_t **events)
{
    *events = NULL;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://cg-watch-%p", (void *)sock);
    const int what = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED;
    if (CG_ZMQ_CHECK(zmq_socket_monitor(sock->zsock, endpoint, what)))
        return CG_ERR_ZMQ;
    const cg_socket_opts_t opts = {.hwm = 1000, .max_msg_bytes = 0};
    *events = cg_transport_socket(sock->owner, CG_SOCK_PAIR, &opts);
    if (!*events || CG_ZMQ_CHECK(zmq_connect((*events)->zsock, endpoint))) {
        cg_transport_unwatch(sock);
        cg_transport_close(events);
        return CG_ERR_ZMQ;
    }
    return CG_OK;
}

void cg_transport_unwatch(cg_socket_t *sock)
{
    if (sock)
        (void)zmq_socket_monitor(sock->zsock, NULL, 0);
}

cg_status_t cg_transport_watch_next(cg_socket_t *events, cg_conn_event_t *kind, int *fd)
{
    /* A report is two frames: 6 bytes (uint16 event, uint32 value: the fd here), then the
     * endpoint, which we do not need. */
    for (;;) {
        uint8_t head[6];
        int n = zmq_recv(events->zsock, head, sizeof head, ZMQ_DONTWAIT);
        if (n == -1)
            return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? CG_ERR_TIMEOUT
                                                                 : s_zmq_fail("zmq_recv");
        int more = 0;
        size_t more_len = sizeof more;
        char ignored[8];
        while (zmq_getsockopt(events->zsock, ZMQ_RCVMORE, &more, &more_len) == 0 && more)
            (void)zmq_recv(events->zsock, ignored, sizeof ignored, 0);
        if (n != (int)sizeof head)
            continue;
        uint16_t event;
        uint32_t value;
        memcpy(&event, head, sizeof event);
        memcpy(&value, head + 2, sizeof value);
        if (event == ZMQ_EVENT_ACCEPTED)
            *kind = CG_CONN_ACCEPTED;
        else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED)
            *kind = CG_CONN_CLOSED;
        else
            continue;
        *fd = (int)value;
        return CG_OK;
    }
}

cg_status_t cg_transport_recv_ptr(cg_socket_t *pipe, int timeout_ms, void **ptr)
{
    CG_ASSERT(pipe->kind == CG_SOCK_PAIR);
    zmq_pollitem_t item = {pipe->zsock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, timeout_ms);
    if (rc == -1)
        return zmq_errno() == EINTR ? CG_ERR_INTERRUPTED : s_zmq_fail("zmq_poll");
    if (rc == 0)
        return CG_ERR_TIMEOUT;
    void *p = NULL;
    int n = zmq_recv(pipe->zsock, &p, sizeof p, ZMQ_DONTWAIT);
    if (n == -1)
        return zmq_errno() == EAGAIN ? CG_ERR_TIMEOUT : s_zmq_fail("zmq_recv");
    if (n != (int)sizeof p)
        return CG_ERR_PROTO;
    *ptr = p;
    return CG_OK;
}

cg_status_t cg_transport_recv_discard(cg_socket_t *sock, size_t *nbytes)
{
    zmq_msg_t part;
    zmq_msg_init(&part);
    size_t total = 0;
    int more = 1;
    while (more) {
        if (zmq_msg_recv(&part, sock->zsock, total ? 0 : ZMQ_DONTWAIT) == -1) {
            int e = zmq_errno();
            zmq_msg_close(&part);
            if (total == 0 && (e == EAGAIN || e == EINTR))
                return CG_ERR_TIMEOUT;
            return CG_ERR_ZMQ;
        }
        total += zmq_msg_size(&part);
        more = zmq_msg_more(&part);
    }
    zmq_msg_close(&part);
    if (nbytes)
        *nbytes = total;
    return CG_OK;
}

/* ---- CURVE ------------------------------------------------------------------------------ */

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01" /* where libzmq asks (RFC 27) */
#define S_DOMAIN_OPEN "cgrpo-open"
#define S_DOMAIN_ADMITTED "cgrpo-admitted"
#define S_AUTH_MAX_KEYS 65536
#define S_KEY_BYTES 32

int cg_transport_has_curve(void)
{
    return zmq_has("curve") ? 1 : 0;
}

static int s_is_z85_key(const char *key)
{
    uint8_t bin[S_KEY_BYTES];
    return key && strlen(key) == CG_CURVE_KEY_LEN && zmq_z85_decode(bin, key) != NULL;
}

cg_status_t cg_transport_curve_keypair(char *public_key, char *secret_key)
{
    if (!cg_transport_has_curve())
        return CG_ERR_UNSUPPORTED;
    return CG_ZMQ_CHECK(zmq_curve_keypair(public_key, secret_key));
}

cg_status_t cg_transport_curve_public(const char *secret_key, char *public_key)
{
    if (!s_is_z85_key(secret_key))
        return CG_ERR_INVAL;
    if (!cg_transport_has_curve())
        return CG_ERR_UNSUPPORTED;
    return CG_ZMQ_CHECK(zmq_curve_public(public_key, secret_key));
}

cg_status_t cg_transport_curve_read_key(const char *path, char *key, char *err, size_t errlen)
{
    key[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen,
                 "cannot read key file %s: %s (hint: make keys with `cgrpo keygen "
                 "DIR` and give their paths in the config)",
                 path, strerror(errno));
        return CG_ERR_IO;
    }
    char line[256];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == 0)
            continue;
        end = p + strlen(p);
        while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        found = 1;
        if (!s_is_z85_key(p)) {
            fclose(f);
            snprintf(err, errlen,
                     "%s does not hold a CURVE key (hint: a key file holds one "
                     "40-character Z85 line, as written by `cgrpo keygen`)",
                     path);
            return CG_ERR_INVAL;
        }
        memcpy(key, p, CG_CURVE_KEY_LEN); /* s_is_z85_key: exactly CG_CURVE_KEY_LEN characters */
        key[CG_CURVE_KEY_LEN] = '\0';
    }
    fclose(f);
    if (!found) {
        snprintf(err, errlen, "%s is empty (hint: make keys with `cgrpo keygen DIR`)", path);
        return CG_ERR_INVAL;
    }
    return CG_OK;
}

cg_status_t cg_transport_curve_write_key(const char *path, const char *key, int secret,
                                         const char *comment, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, secret ? 0600 : 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (hint: keys are never overwritten; choose a new directory)"
                                 : "");
        return CG_ERR_IO;
    }
    char text[512];
    int n = snprintf(text, sizeof text, "# %s\n%s\n", comment ? comment : "CURVE key", key);
    int ok = n > 0 && n < (int)sizeof text && write(fd, text, (size_t)n) == n;
    if (close(fd) != 0)
        ok = 0;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return CG_ERR_IO;
    }
    return CG_OK;
}

/* The authenticator thread: answers ZAP requests from the admitted-key table, which only
 * this thread touches; the owner sends it 'A'+key (admit) and 'Q' (quit) over a PAIR. */
typedef struct {
    void *zap;  /* REP bound at S_ZAP_ENDPOINT (moved to this thread) */
    void *pipe; /* PAIR, this thread's end */
} s_auth_t;

typedef struct {
    uint8_t (*keys)[S_KEY_BYTES]; /* ring of admitted keys */
    int n, next;
    int64_t refused;
} s_auth_table_t;

static int s_auth_known(const s_auth_table_t *t, const uint8_t *key)
{
    for (int i = 0; i < t->n; i++)
        if (!memcmp(t->keys[i], key, S_KEY_BYTES))
            return 1;
    return 0;
}

static void s_auth_add(s_auth_table_t *t, const uint8_t *key)
{
    if (s_auth_known(t, key))
        return;
    memcpy(t->keys[t->next], key, S_KEY_BYTES);
    t->next = (t->next + 1) % S_AUTH_MAX_KEYS;
    if (t->n < S_AUTH_MAX_KEYS)
        t->n++;
}

/* Handles commands from the owner; 1 when told to quit. */
static int s_auth_commands(void *pipe, s_auth_table_t *t)
{
    for (;;) {
        uint8_t cmd[1 + S_KEY_BYTES];
        int n = zmq_recv(pipe, cmd, sizeof cmd, ZMQ_DONTWAIT);
        if (n < 0)
            return 0;
        if (cmd[0] == 'Q')
            return 1;
        if (cmd[0] == 'A' && n == (int)sizeof cmd)
            s_auth_add(t, cmd + 1);
    }
}

/* Answers one ZAP request (RFC 27: version, request id, domain, address, identity,
 * mechanism, credentials; reply: version, request id, status, text, user id, metadata). */
static void s_auth_reply(void *zap, s_auth_table_t *t)
{
    enum { MAX_FRAMES = 8 };
    zmq_msg_t fr[MAX_FRAMES];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, zap, 0) == -1) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < MAX_FRAMES)
            fr[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (n < 2) {
        for (int i = 0; i < n; i++)
            zmq_msg_close(&fr[i]);
        return;
    }
#define S_FRAME_IS(i, str)                                                                         \
    (zmq_msg_size(&fr[i]) == strlen(str) && !memcmp(zmq_msg_data(&fr[i]), str, strlen(str)))
    const char *status = "400", *text = "not admitted";
    char user[CG_CURVE_KEY_LEN + 1] = "";
    if (n == 7 && S_FRAME_IS(0, "1.0") && S_FRAME_IS(5, "CURVE") &&
        zmq_msg_size(&fr[6]) == S_KEY_BYTES) {
        const uint8_t *key = zmq_msg_data(&fr[6]);
        zmq_z85_encode(user, key, S_KEY_BYTES);
        if (S_FRAME_IS(2, S_DOMAIN_OPEN) ||
            (S_FRAME_IS(2, S_DOMAIN_ADMITTED) && s_auth_known(t, key))) {
            status = "200";
            text = "OK";
        }
    }
    if (status[0] != '2') {
        t->refused++;
        if (t->refused <= 10 || t->refused % 1000 == 0) {
            char addr[64] = "";
            if (n > 3) {
                size_t len =
                    zmq_msg_size(&fr[3]) < sizeof addr - 1 ? zmq_msg_size(&fr[3]) : sizeof addr - 1;
                memcpy(addr, zmq_msg_data(&fr[3]), len);
                addr[len] = 0;
            }
            CG_WARN("refused connection #%lld from %s (client key %s): %s", (long long)t->refused,
                    addr[0] ? addr : "?", user[0] ? user : "none", text);
        }
    }
#undef S_FRAME_IS
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data(&fr[1]), zmq_msg_size(&fr[1]), ZMQ_SNDMORE);
    zmq_send(zap, status, 3, ZMQ_SNDMORE);
    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&fr[i]);
}

static void *s_auth_main(void *arg)
{
    s_auth_t a = *(s_auth_t *)arg;
    free(arg);
    s_auth_table_t t = {.keys = cg_calloc(S_AUTH_MAX_KEYS, S_KEY_BYTES)};
    for (;;) {
        zmq_pollitem_t items[2] = {{a.pipe, 0, ZMQ_POLLIN, 0}, {a.zap, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) == -1) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        /* Commands first: a key admitted before its owner's Welcome went out is in the table
         * by the time that actor's data connection asks. */
        if (s_auth_commands(a.pipe, &t))
            break;
        if (items[1].revents & ZMQ_POLLIN)
            s_auth_reply(a.zap, &t);
    }
    zmq_close(a.zap);
    zmq_close(a.pipe);
    free(t.keys);
    return NULL;
}

cg_status_t cg_transport_auth_start(cg_transport_t *self)
{
    if (self->auth_pipe)
        return CG_OK;
    if (!cg_transport_has_curve())
        return CG_ERR_UNSUPPORTED;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://cg-auth-%p", (void *)self);
    void *zap = zmq_socket(self->ctx, ZMQ_REP);
    void *mine = zmq_socket(self->ctx, ZMQ_PAIR);
    void *theirs = zmq_socket(self->ctx, ZMQ_PAIR);
    int linger = 0;
    if (!zap || !mine || !theirs ||
        CG_ZMQ_CHECK(zmq_setsockopt(zap, ZMQ_LINGER, &linger, sizeof linger)) ||
        CG_ZMQ_CHECK(zmq_setsockopt(mine, ZMQ_LINGER, &linger, sizeof linger)) ||
        CG_ZMQ_CHECK(zmq_setsockopt(theirs, ZMQ_LINGER, &linger, sizeof linger)) ||
        CG_ZMQ_CHECK(zmq_bind(zap, S_ZAP_ENDPOINT)) || CG_ZMQ_CHECK(zmq_bind(mine, endpoint)) ||
        CG_ZMQ_CHECK(zmq_connect(theirs, endpoint)))
        goto fail;
    /* The sockets move to the new thread; thread creation is the memory barrier ZeroMQ asks
     * for when a socket changes threads. The REP is bound already, so no CURVE handshake can
     * happen without it (libzmq would let every client in with no ZAP handler). */
    s_auth_t *arg = cg_calloc(1, sizeof *arg);
    arg->zap = zap;
    arg->pipe = theirs;
    int e = pthread_create(&self->auth_thread, NULL, s_auth_main, arg);
    if (e != 0) {
        CG_ERROR("pthread_create: %s", strerror(e));
        free(arg);
        goto fail;
    }
    self->auth_pipe = mine;
    return CG_OK;
fail:
    if (zap)
        zmq_close(zap);
    if (mine)
        zmq_close(mine);
    if (theirs)
        zmq_close(theirs);
    return CG_ERR_ZMQ;
}

static void s_auth_stop(cg_transport_t *self)
{
    if (!self->auth_pipe)
        return;
    zmq_send(self->auth_pipe, "Q", 1, 0);
    pthread_join(self->auth_thread, NULL);
    zmq_close(self->auth_pipe);
    self->auth_pipe = NULL;
}

cg_status_t cg_transport_auth_admit(cg_transport_t *self, const char *client_key)
{
    uint8_t cmd[1 + S_KEY_BYTES];
    if (!self->auth_pipe || !s_is_z85_key(client_key))
        return CG_ERR_INVAL;
    cmd[0] = 'A';
    zmq_z85_decode(cmd + 1, client_key);
    return CG_ZMQ_CHECK(zmq_send(self->auth_pipe, cmd, sizeof cmd, 0));
}

cg_status_t cg_transport_curve_server(cg_socket_t *sock, const char *secret_key,
                                      cg_auth_domain_t domain)
{
    if (!sock->owner->auth_pipe) {
        CG_ERROR("a CURVE server socket needs the authenticator: call cg_transport_auth_start");
        return CG_ERR_INVAL;
    }
    if (!s_is_z85_key(secret_key))
        return CG_ERR_INVAL;
    int one = 1;
    const char *dom = domain == CG_AUTH_OPEN ? S_DOMAIN_OPEN : S_DOMAIN_ADMITTED;
    CG_TRY(CG_ZMQ_CHECK(zmq_setsockopt(sock->zsock, ZMQ_CURVE_SERVER, &one, sizeof one)));
    CG_TRY(CG_ZMQ_CHECK(
        zmq_setsockopt(sock->zsock, ZMQ_CURVE_SECRETKEY, secret_key, CG_CURVE_KEY_LEN)));
    CG_TRY(CG_ZMQ_CHECK(zmq_setsockopt(sock->zsock, ZMQ_ZAP_DOMAIN, dom, strlen(dom))));
    sock->curve_server = 1;
    return CG_OK;
}

cg_status_t cg_transport_curve_client(cg_socket_t *sock, const char *server_key,
                                      const char *public_key, const char *secret_key)
{
    if (!s_is_z85_key(server_key) || !s_is_z85_key(public_key) || !s_is_z85_key(secret_key))
        return CG_ERR_INVAL;
    CG_TRY(CG_ZMQ_CHECK(
        zmq_setsockopt(sock->zsock, ZMQ_CURVE_SERVERKEY, server_key, CG_CURVE_KEY_LEN)));
    CG_TRY(CG_ZMQ_CHECK(
        zmq_setsockopt(sock->zsock, ZMQ_CURVE_PUBLICKEY, public_key, CG_CURVE_KEY_LEN)));
    CG_TRY(CG_ZMQ_CHECK(
        zmq_setsockopt(sock->zsock, ZMQ_CURVE_SECRETKEY, secret_key, CG_CURVE_KEY_LEN)));
    return CG_OK;
}

const char *cg_transport_peer_key(const cg_socket_t *sock)
{
    return sock->peer_key;
}

/* ---- broadcast relays ---- */

#define S_PROXY_STOP "TERMINATE" /* zmq_proxy_steerable's command */

cg_status_t cg_transport_proxy(cg_socket_t *frontend, cg_socket_t *backend, cg_socket_t *capture,
                               cg_socket_t *control)
{
    for (;;) {
        if (zmq_proxy_steerable(frontend->zsock, backend->zsock, capture ? capture->zsock : NULL,
                                control->zsock) == 0)
            return CG_OK;
        if (zmq_errno() != EINTR)
            return s_zmq_fail("zmq_proxy_steerable");
    }
}

cg_status_t cg_transport_proxy_stop(cg_socket_t *pipe)
{
    CG_ASSERT(pipe->kind == CG_SOCK_PAIR);
    while (zmq_send(pipe->zsock, S_PROXY_STOP, strlen(S_PROXY_STOP), 0) == -1) {
        if (zmq_errno() != EINTR)
            return s_zmq_fail("zmq_send");
    }
    return CG_OK;
}

cg_status_t cg_transport_subscribe_all(cg_socket_t *xsub)
{
    CG_ASSERT(xsub->kind == CG_SOCK_XSUB);
    const uint8_t subscribe = 1; /* XSUB's subscription frame: 1, then the prefix (none) */
    while (zmq_send(xsub->zsock, &subscribe, 1, ZMQ_DONTWAIT) == -1) {
        if (zmq_errno() != EINTR)
            return s_zmq_fail("zmq_send");
    }
    return CG_OK;
}

/* A key pair whose secret is BLAKE2b(token) keyed by role. */
static cg_status_t s_token_keypair(const char *token, const char *role, char *public_key,
                                   char *secret_key)
{
    uint8_t secret[32];
    if (crypto_generichash(secret, sizeof secret, (const unsigned char *)token, strlen(token),
                           (const unsigned char *)role, strlen(role)) != 0 ||
        !zmq_z85_encode(secret_key, secret, sizeof secret)) {
        sodium_memzero(secret, sizeof secret);
        return CG_ERR_INVAL;
    }
    sodium_memzero(secret, sizeof secret);
    return CG_ZMQ_CHECK(zmq_curve_public(public_key, secret_key));
}

cg_status_t cg_transport_relay_keys(const char *token, cg_relay_keys_t *keys)
{
    memset(keys, 0, sizeof *keys);
    if (!token || !token[0])
        return CG_ERR_INVAL;
    if (!cg_transport_has_curve() || sodium_init() < 0)
        return CG_ERR_UNSUPPORTED;
    /* The roles key BLAKE2b: 16..64 bytes each (crypto_generichash_KEYBYTES_MIN/MAX). */
    if (s_token_keypair(token, "cgrpo relay server key, v1", keys->server_public,
                        keys->server_secret) ||
        s_token_keypair(token, "cgrpo relay client key, v1", keys->client_public,
                        keys->client_secret)) {
        memset(keys, 0, sizeof *keys);
        return CG_ERR_INVAL;
    }
    return CG_OK;
}
