/* cg_transport: ZeroMQ context, sockets with bounded queues, and message send/recv through
 * cg_msg. Every ZeroMQ call goes through CG_ZMQ_CHECK, which logs file:line and zmq_strerror. */
#include "cg_transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cg_alloc.h"
#include "cg_log.h"

/* Evaluates a ZeroMQ call returning -1 on failure; logs and yields CG_ERR_ZMQ. */
#define CG_ZMQ_CHECK(call)                                                        \
    ((call) == -1 ? (CG_ERROR("%s: %s", #call, zmq_strerror(zmq_errno())), CG_ERR_ZMQ) \
                  : CG_OK)

struct cg_transport {
    void *ctx;
};

struct cg_socket {
    void *zsock;
    cg_sock_kind_t kind;
};

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
    zmq_pollitem_t items[8];
    CG_ASSERT(n > 0 && n <= 8);
    for (int i = 0; i < n; i++) {
        items[i] = (zmq_pollitem_t){socks[i]->zsock, 0, ZMQ_POLLIN, 0};
        ready[i] = 0;
    }
    int rc = zmq_poll(items, n, timeout_ms);
    if (rc == -1)
        return zmq_errno() == EINTR ? CG_ERR_INTERRUPTED : CG_ERR_ZMQ;
    if (rc == 0)
        return CG_ERR_TIMEOUT;
    for (int i = 0; i < n; i++)
        ready[i] = (items[i].revents & ZMQ_POLLIN) != 0;
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
