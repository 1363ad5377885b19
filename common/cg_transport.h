/* cg_transport: ZeroMQ sockets that carry cg_msg messages; the only user of zmq.h.
 * The learner binds ROUTER (control: hello/welcome/heartbeat), PULL (group batches) and
 * PUB (weights); an actor connects DEALER, PUSH and SUB. Every socket has a bounded queue
 * (high-water mark), linger 0 and a maximum frame size, so close() never hangs; a message's
 * number of frames ZeroMQ does not bound: the learner's memory guard (cg_guard) watches the
 * connections through cg_transport_watch and cuts a peer that sends too much.
 * A secured learner adds CURVE encryption and an authenticator thread (below).
 * Not here: the message format (cg_msg), what the messages mean (learner, actor).
 * Threading: a socket belongs to the thread that created it (ZeroMQ rule); the transport
 * context may be shared. The authenticator thread owns its admitted-key table; other threads
 * reach it only through cg_transport_auth_admit (an inproc message). */
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
    CG_SOCK_PAIR = 6, /* in-process pipes between threads (cg_transport_pipe) */
    CG_SOCK_XSUB = 7, /* a broadcast relay's upstream (cg_transport_proxy) */
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
/* Closes like cg_transport_close, after giving messages still queued to go out up to
 * linger_ms to leave (sockets close with ZMQ_LINGER 0 otherwise). */
void cg_transport_close_linger(cg_socket_t **sock_p, int linger_ms);

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

/* Splits "HOST:PORT" (port 1..65535) into host (cap bytes) and *port. CG_ERR_INVAL if text is
 * not that shape. */
cg_status_t cg_transport_parse_endpoint(const char *text, char *host, size_t cap, int *port);

/* Waits up to timeout_ms (-1 forever) until one of socks is readable. ready[i] is set to
 * 1 for readable sockets. Returns CG_ERR_TIMEOUT if none, CG_ERR_INTERRUPTED on EINTR. */
cg_status_t cg_transport_poll(cg_socket_t **socks, int n, int timeout_ms, int *ready);
/* The same, and wakes also when `out` (NULL: none) can send one message (*writable = 1;
 * writable may be NULL): a sender with a full queue waits for room and input at once. */
cg_status_t cg_transport_poll_send(cg_socket_t **socks, int n, cg_socket_t *out, int timeout_ms,
                                   int *ready, int *writable);
/* Waits up to timeout_ms until sock can send one message. */
cg_status_t cg_transport_wait_writable(cg_socket_t *sock, int timeout_ms);

/* ---- in-process pipes ---------------------------------------------------------------------
 * Threads share no mutable state: a worker thread and its owner talk over a pipe, two PAIR
 * sockets joined over inproc:// (czmq's actor pattern). What travels is a pointer, and with
 * it the ownership of what it points to, until the other side sends it back. */

/* Two connected PAIR sockets: *mine for the calling thread, *theirs for the thread it starts
 * next (pthread_create is the memory barrier ZeroMQ asks for when a socket changes thread).
 * NULL-safe to close either. */
cg_status_t cg_transport_pipe(cg_transport_t *self, cg_socket_t **mine, cg_socket_t **theirs);
/* Sends one pointer (NULL allowed) over a pipe, waiting while the peer's queue is full. The
 * _nowait form never waits (a peer that has closed its end would make it wait forever):
 * CG_ERR_TIMEOUT when it would have. */
cg_status_t cg_transport_send_ptr(cg_socket_t *pipe, void *ptr);
cg_status_t cg_transport_send_ptr_nowait(cg_socket_t *pipe, void *ptr);
/* Receives one pointer, waiting up to timeout_ms (-1 forever): CG_ERR_TIMEOUT when none
 * came, CG_ERR_INTERRUPTED on a signal, CG_ERR_PROTO for a frame that is not a pointer. */
cg_status_t cg_transport_recv_ptr(cg_socket_t *pipe, int timeout_ms, void **ptr);

/* Receives one message without blocking and throws it away undecoded (the raw ZeroMQ
 * baseline of `cgrpo bench`). *nbytes gets its size. CG_ERR_TIMEOUT when none is queued. */
cg_status_t cg_transport_recv_discard(cg_socket_t *sock, size_t *nbytes);

/* ---- connection watches (the learner's memory guard, learner/cg_guard.h) ------------------
 * A watch reports the TCP connections a bound socket accepts and loses, by file descriptor,
 * so that a guard thread can measure what each peer sent and cut a peer that makes ZeroMQ
 * buffer too much (an unfinished multipart message, which no socket option bounds). */

typedef enum {
    CG_CONN_ACCEPTED = 1, /* fd is a new connection of the watched socket */
    CG_CONN_CLOSED = 2,   /* fd is gone (it may be reused for another file) */
} cg_conn_event_t;

/* Starts watching sock (before it binds, so no connection is missed); *events receives the
 * socket the reports come on, owned by the caller: hand it to the thread that reads it before
 * that thread starts, and read it often (ZeroMQ's I/O thread waits when 1000 are unread).
 * Call cg_transport_unwatch before that reader closes *events. */
cg_status_t cg_transport_watch(cg_socket_t *sock, cg_socket_t **events);
/* Stops the reports of cg_transport_watch (from sock's own thread). NULL-safe. */
void cg_transport_unwatch(cg_socket_t *sock);
/* The next report without waiting: CG_ERR_TIMEOUT when there is none. */
cg_status_t cg_transport_watch_next(cg_socket_t *events, cg_conn_event_t *kind, int *fd);

/* ---- CURVE security (docs/cluster.md) ----------------------------------------------------
 * A learner bound to a non-loopback interface makes its three sockets CURVE servers: traffic
 * is encrypted and a client must know the server's public key. An authenticator thread (the
 * ZeroMQ ZAP handler of this context) then decides per connection: on CG_AUTH_OPEN sockets
 * (control) any client that completed the CURVE handshake gets in; on CG_AUTH_ADMITTED
 * sockets (data, weights) only clients whose public key was admitted (the learner admits an
 * actor's key when its Hello carries the right run token). Keys travel as Z85 text. */

#define CG_CURVE_KEY_LEN 40 /* Z85 characters of a 32-byte CURVE key (buffers: + 1 for NUL) */

typedef enum {
    CG_AUTH_OPEN = 0,     /* every client with a valid CURVE handshake */
    CG_AUTH_ADMITTED = 1, /* only admitted client keys */
} cg_auth_domain_t;

/* 1 if this libzmq was built with CURVE (libsodium), else 0. */
int cg_transport_has_curve(void);
/* A new key pair (CG_CURVE_KEY_LEN + 1 bytes each). CG_ERR_UNSUPPORTED without CURVE. */
cg_status_t cg_transport_curve_keypair(char *public_key, char *secret_key);
/* The public key of secret_key. CG_ERR_INVAL if secret_key is not a Z85 key. */
cg_status_t cg_transport_curve_public(const char *secret_key, char *public_key);
/* Reads a key file: the first line that is not empty or a '#' comment, a 40-character Z85
 * key (written by cg_transport_curve_write_key / `cgrpo keygen`). err names the path. */
cg_status_t cg_transport_curve_read_key(const char *path, char *key, char *err, size_t errlen);
/* Writes key to a new file (never overwrites): mode 0600 if secret, else 0644. */
cg_status_t cg_transport_curve_write_key(const char *path, const char *key, int secret,
                                         const char *comment, char *err, size_t errlen);

/* Starts this context's authenticator thread. Call before any curve_server socket binds;
 * call from the thread that will call admit. Stopped by cg_transport_destroy. */
cg_status_t cg_transport_auth_start(cg_transport_t *self);
/* Lets the client with this public key (Z85) into CG_AUTH_ADMITTED sockets from now on
 * (connections made after this call). The most recent 65536 keys are kept. */
cg_status_t cg_transport_auth_admit(cg_transport_t *self, const char *client_key);
/* Makes sock a CURVE server with secret_key in the given domain. Before bind; needs the
 * socket's transport to run the authenticator (CG_ERR_INVAL otherwise). */
cg_status_t cg_transport_curve_server(cg_socket_t *sock, const char *secret_key,
                                      cg_auth_domain_t domain);
/* Makes sock a CURVE client of the server with server_key, with its own key pair. Before
 * connect. */
cg_status_t cg_transport_curve_client(cg_socket_t *sock, const char *server_key,
                                      const char *public_key, const char *secret_key);
/* The CURVE public key (Z85) of the sender of the last message received on sock (a
 * curve_server socket), "" if unknown. Valid until the next receive on sock. */
const char *cg_transport_peer_key(const cg_socket_t *sock);

/* ---- broadcast relays (`cgrpo relay`, actor/cg_relay.h) ------------------------------------
 * A relay subscribes to the learner's weights once (XSUB) and republishes them to the actors
 * of its node (PUB) with zmq_proxy, one way (the ZeroMQ guide's proxy, without passing the
 * subscribers' subscriptions upstream: the relay subscribes to everything itself). */

/* Forwards frontend <-> backend (and copies both ways to capture, may be NULL) until control
 * (a pipe end) receives cg_transport_proxy_stop's message: CG_OK, or CG_ERR_ZMQ when the
 * context ends. Blocks; run it on a thread that then owns all four sockets. */
cg_status_t cg_transport_proxy(cg_socket_t *frontend, cg_socket_t *backend, cg_socket_t *capture,
                               cg_socket_t *control);
/* Sends the stop to a proxy whose control is the other end of this pipe. */
cg_status_t cg_transport_proxy_stop(cg_socket_t *pipe);
/* Subscribes an XSUB to everything its publishers send (relays forward every message). */
cg_status_t cg_transport_subscribe_all(cg_socket_t *xsub);

/* The CURVE keys between a secured relay and its actors, derived from the run token (BLAKE2b,
 * keyed by role): the relay's server key pair and the one client key pair it admits. Only a
 * holder of the token can compute them, so the relay's port asks what the learner's weights
 * port asks (the token), and needs no key files of its own. Z85, CG_CURVE_KEY_LEN + 1 each.
 * CG_ERR_INVAL for an empty token, CG_ERR_UNSUPPORTED without CURVE. */
typedef struct {
    char server_public[CG_CURVE_KEY_LEN + 1], server_secret[CG_CURVE_KEY_LEN + 1];
    char client_public[CG_CURVE_KEY_LEN + 1], client_secret[CG_CURVE_KEY_LEN + 1];
} cg_relay_keys_t;
cg_status_t cg_transport_relay_keys(const char *token, cg_relay_keys_t *keys);

#ifdef __cplusplus
}
#endif
#endif
