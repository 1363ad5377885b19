/* cg_transport: ZeroMQ sockets that carry cg_msg messages; the only user of zmq.h.
 * The learner binds ROUTER (control: hello/welcome/heartbeat), PULL (group batches) and
 * PUB (weights); an actor connects DEALER, PUSH and SUB. Every socket has a bounded queue
 * (high-water mark), linger 0 and a maximum message size, so a peer can neither grow our
 * memory without bound nor make close() hang.
 * Not here: the message format (cg_msg), what the messages mean (learner, actor).
 * Threading: a socket belongs to the thread that created it (ZeroMQ rule); the transport
 * context may be shared. */
#ifndef CG_TRANSPORT_H
#define CG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cg_msg.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CG_SOCK_ROUTER = 0,
    CG_SOCK_DEALER = 1,
    CG_SOCK_PULL = 2,
    CG_SOCK_PUSH = 3,
    CG_SOCK_PUB = 4,
    CG_SOCK_SUB = 5,
} cg_sock_kind_t;

#define CG_IDENTITY_MAX 256 /* bytes of a ROUTER peer identity */

typedef struct cg_transport cg_transport_t;
typedef struct cg_socket cg_socket_t;

typedef struct {
    int32_t hwm;           /* messages queued each way before send blocks / drops */
    int64_t max_msg_bytes; /* larger inbound messages drop the connection (ZMQ_MAXMSGSIZE) */
} cg_socket_opts_t;

/* A ZeroMQ context. NULL if ZeroMQ fails to start. */
cg_transport_t *cg_transport_new(void);
/* Terminates the context; every socket must be closed first. NULL-safe. */
void cg_transport_destroy(cg_transport_t **self_p);

cg_socket_t *cg_transport_socket(cg_transport_t *self, cg_sock_kind_t kind,
                                 const cg_socket_opts_t *opts);
void cg_transport_close(cg_socket_t **sock_p);

/* Binds tcp://host:port; port 0 lets the OS pick. *bound_port receives the port. */
cg_status_t cg_transport_bind(cg_socket_t *sock, const char *host, int port, int *bound_port);
/* Connects to tcp://host:port (ZeroMQ reconnects by itself if the peer goes away). */
cg_status_t cg_transport_connect(cg_socket_t *sock, const char *host, int port);

/* Encodes and sends msg. identity (ROUTER only) names the peer. Never blocks: returns
 * CG_ERR_TIMEOUT when the queue is full (HWM) or, on ROUTER, the peer is unknown. */
cg_status_t cg_transport_send(cg_socket_t *sock, const uint8_t *identity, size_t idlen,
                              const cg_msg_t *msg);
/* Sends bytes as they are (tests and the raw ZeroMQ baseline). Same rules as send. */
cg_status_t cg_transport_send_raw(cg_socket_t *sock, const uint8_t *identity, size_t idlen,
                                  const void *data, size_t len);

/* Receives one message without blocking: CG_ERR_TIMEOUT when none is queued. Otherwise
 * decodes and validates it (cg_msg_decode with caps and run_id) into *msg; on a
 * validation failure returns that status with err filled (the message is consumed).
 * identity/idlen (ROUTER only, may be NULL) receive the sender. *nbytes (may be NULL)
 * receives the message size. */
cg_status_t cg_transport_recv(cg_socket_t *sock, const cg_msg_caps_t *caps, const char *run_id,
                              cg_msg_t *msg, uint8_t *identity, size_t *idlen, size_t *nbytes,
                              char *err, size_t errlen);

/* Waits up to timeout_ms (-1 forever) until one of socks is readable. ready[i] is set to
 * 1 for readable sockets. Returns CG_ERR_TIMEOUT if none, CG_ERR_INTERRUPTED on EINTR. */
cg_status_t cg_transport_poll(cg_socket_t **socks, int n, int timeout_ms, int *ready);
/* Waits up to timeout_ms until sock can send one message. */
cg_status_t cg_transport_wait_writable(cg_socket_t *sock, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
