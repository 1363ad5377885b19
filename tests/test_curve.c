/* test_curve: CURVE security of the transport and the learner (docs/cluster.md): key files,
 * the authenticator's two domains (any CURVE client on control, only admitted keys on data
 * and weights), clients without keys or with the wrong server key refused, the peer key of
 * each message, and a learner that refuses to listen off loopback without keys and token.
 * Sockets bind 127.0.0.1 (and the learner 0.0.0.0 once); every peer is in this process. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_config.h"
#include "cg_learner.h"
#include "cg_msg.h"
#include "cg_test.h"
#include "cg_transport.h"

static char s_dir[256];

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int s_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/cg-curve-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void)
{
    return nftw(s_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void s_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", s_dir, name);
}

static cg_socket_opts_t s_opts = {16, 1 << 20};

/* Receives one message within ms; 1 if one came (decoded into msg unless NULL: discarded). */
static int s_recv(cg_socket_t *sock, int ms, cg_msg_t *msg)
{
    if (cg_transport_poll(&sock, 1, ms, (int[1]){0}) != CG_OK)
        return 0;
    if (!msg)
        return cg_transport_recv_discard(sock, NULL) == CG_OK;
    cg_config_t cfg;
    cg_config_defaults(&cfg);
    cg_msg_caps_t caps;
    cg_msg_caps_from(&cfg, &caps);
    uint8_t id[CG_IDENTITY_MAX];
    size_t idlen = 0;
    char err[256];
    return cg_transport_recv(sock, &caps, NULL, msg, id, &idlen, NULL, err, sizeof err) == CG_OK;
}

static void s_hello(cg_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_HELLO;
    m->u.hello.actor_id = -1;
    snprintf(m->u.hello.host, sizeof m->u.hello.host, "test");
    snprintf(m->u.hello.token, sizeof m->u.hello.token, "tok");
}

/* ---- keys ------------------------------------------------------------------------------- */

static void test_keys(void)
{
    if (!cg_transport_has_curve())
        return;
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1], again[CG_CURVE_KEY_LEN + 1];
    CU_ASSERT_EQUAL_FATAL(cg_transport_curve_keypair(pub, sec), CG_OK);
    CU_ASSERT_EQUAL(strlen(pub), CG_CURVE_KEY_LEN);
    CU_ASSERT_EQUAL(cg_transport_curve_public(sec, again), CG_OK);
    CU_ASSERT_STRING_EQUAL(pub, again);
    CU_ASSERT_EQUAL(cg_transport_curve_public("not a key", again), CG_ERR_INVAL);

    char path[512], err[1024], key[CG_CURVE_KEY_LEN + 1];
    s_path(path, sizeof path, "a.key");
    CU_ASSERT_EQUAL(cg_transport_curve_write_key(path, sec, 1, "secret", err, sizeof err), CG_OK);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(cg_transport_curve_read_key(path, key, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(key, sec);
    /* never overwritten */
    CU_ASSERT_EQUAL(cg_transport_curve_write_key(path, pub, 0, NULL, err, sizeof err), CG_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "never overwritten"));

    s_path(path, sizeof path, "missing.key");
    CU_ASSERT_EQUAL(cg_transport_curve_read_key(path, key, err, sizeof err), CG_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cgrpo keygen"));
    s_path(path, sizeof path, "bad.key");
    FILE *f = fopen(path, "w");
    fputs("# comment\nshort\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(cg_transport_curve_read_key(path, key, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Z85"));
}

/* ---- the authenticator ------------------------------------------------------------------ */

typedef struct {
    cg_transport_t *tp;
    cg_socket_t *control, *data;
    int control_port, data_port;
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1];
} s_server_t;

static int s_server_new(s_server_t *s)
{
    memset(s, 0, sizeof *s);
    s->tp = cg_transport_new();
    if (!s->tp || cg_transport_curve_keypair(s->pub, s->sec) || cg_transport_auth_start(s->tp))
        return -1;
    s->control = cg_transport_socket(s->tp, CG_SOCK_ROUTER, &s_opts);
    s->data = cg_transport_socket(s->tp, CG_SOCK_PULL, &s_opts);
    if (!s->control || !s->data || cg_transport_curve_server(s->control, s->sec, CG_AUTH_OPEN) ||
        cg_transport_curve_server(s->data, s->sec, CG_AUTH_ADMITTED) ||
        cg_transport_bind(s->control, "127.0.0.1", 0, &s->control_port) ||
        cg_transport_bind(s->data, "127.0.0.1", 0, &s->data_port))
        return -1;
    return 0;
}

static void s_server_destroy(s_server_t *s)
{
    cg_transport_close(&s->control);
    cg_transport_close(&s->data);
    cg_transport_destroy(&s->tp);
}

/* A client socket of kind connected to port; CURVE with server_key unless it is NULL. */
static cg_socket_t *s_client(cg_transport_t *tp, cg_sock_kind_t kind, int port,
                             const char *server_key, const char *pub, const char *sec)
{
    cg_socket_t *c = cg_transport_socket(tp, kind, &s_opts);
    if (!c)
        return NULL;
    if ((server_key && cg_transport_curve_client(c, server_key, pub, sec)) ||
        cg_transport_connect(c, "127.0.0.1", port)) {
        cg_transport_close(&c);
        return NULL;
    }
    return c;
}

static void test_auth_domains(void)
{
    if (!cg_transport_has_curve())
        return;
    s_server_t s;
    CU_ASSERT_EQUAL_FATAL(s_server_new(&s), 0);
    cg_transport_t *tp = cg_transport_new();
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1];
    char wpub[CG_CURVE_KEY_LEN + 1], wsec[CG_CURVE_KEY_LEN + 1];
    CU_ASSERT_EQUAL_FATAL(cg_transport_curve_keypair(pub, sec), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_transport_curve_keypair(wpub, wsec), CG_OK); /* another server's */
    cg_msg_t hello, got;
    s_hello(&hello);

    /* No keys: a plain client never gets a message through. */
    cg_socket_t *plain = s_client(tp, CG_SOCK_DEALER, s.control_port, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(cg_transport_send(plain, NULL, 0, &hello), CG_OK);
    CU_ASSERT_FALSE(s_recv(s.control, 600, &got));
    /* The wrong server key: the handshake fails. */
    cg_socket_t *wrong = s_client(tp, CG_SOCK_DEALER, s.control_port, wpub, pub, sec);
    CU_ASSERT_EQUAL(cg_transport_send(wrong, NULL, 0, &hello), CG_OK);
    CU_ASSERT_FALSE(s_recv(s.control, 600, &got));
    /* The right server key: control is open, and the message names the client's key. */
    cg_socket_t *good = s_client(tp, CG_SOCK_DEALER, s.control_port, s.pub, pub, sec);
    CU_ASSERT_EQUAL(cg_transport_send(good, NULL, 0, &hello), CG_OK);
    CU_ASSERT_TRUE(s_recv(s.control, 3000, &got));
    CU_ASSERT_STRING_EQUAL(cg_transport_peer_key(s.control), pub);
    cg_msg_free(&got);

    /* Data: refused until the key is admitted (ZeroMQ does not retry a refused CURVE
     * connection, so the admitted client connects afresh). */
    cg_socket_t *push = s_client(tp, CG_SOCK_PUSH, s.data_port, s.pub, pub, sec);
    CU_ASSERT_EQUAL(cg_transport_send_raw(push, NULL, 0, "early", 5), CG_OK);
    CU_ASSERT_FALSE(s_recv(s.data, 600, NULL));
    cg_transport_close(&push);
    CU_ASSERT_EQUAL(cg_transport_auth_admit(s.tp, pub), CG_OK);
    CU_ASSERT_EQUAL(cg_transport_auth_admit(s.tp, "not a key"), CG_ERR_INVAL);
    push = s_client(tp, CG_SOCK_PUSH, s.data_port, s.pub, pub, sec);
    CU_ASSERT_EQUAL(cg_transport_send_raw(push, NULL, 0, "late", 4), CG_OK);
    size_t n = 0;
    CU_ASSERT_TRUE(cg_transport_poll(&s.data, 1, 3000, (int[1]){0}) == CG_OK &&
                   cg_transport_recv_discard(s.data, &n) == CG_OK);
    CU_ASSERT_EQUAL(n, 4);
    /* Another key pair that knows the server key is still kept out of data. */
    char opub[CG_CURVE_KEY_LEN + 1], osec[CG_CURVE_KEY_LEN + 1];
    CU_ASSERT_EQUAL(cg_transport_curve_keypair(opub, osec), CG_OK);
    cg_socket_t *other = s_client(tp, CG_SOCK_PUSH, s.data_port, s.pub, opub, osec);
    CU_ASSERT_EQUAL(cg_transport_send_raw(other, NULL, 0, "other", 5), CG_OK);
    CU_ASSERT_FALSE(s_recv(s.data, 600, NULL));

    cg_transport_close(&plain);
    cg_transport_close(&wrong);
    cg_transport_close(&good);
    cg_transport_close(&push);
    cg_transport_close(&other);
    cg_transport_destroy(&tp);
    s_server_destroy(&s);
}

static void test_server_needs_authenticator(void)
{
    if (!cg_transport_has_curve())
        return;
    cg_transport_t *tp = cg_transport_new();
    cg_socket_t *sock = cg_transport_socket(tp, CG_SOCK_PULL, &s_opts);
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1];
    CU_ASSERT_EQUAL(cg_transport_curve_keypair(pub, sec), CG_OK);
    CU_ASSERT_EQUAL(cg_transport_curve_server(sock, sec, CG_AUTH_ADMITTED), CG_ERR_INVAL);
    cg_transport_close(&sock);
    cg_transport_destroy(&tp);
}

/* ---- the learner ------------------------------------------------------------------------ */

static cg_learner_t *s_learner(const char *run, const char *const *sets, const char *token,
                               char *err, size_t errlen)
{
    cg_config_t cfg;
    cg_config_defaults(&cfg);
    char e[1024];
    CU_ASSERT_EQUAL(cg_config_set(&cfg, "sim.name=null", e, sizeof e), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(&cfg, "learner.device=cpu", e, sizeof e), CG_OK);
    for (; sets && *sets; sets++)
        CU_ASSERT_EQUAL(cg_config_set(&cfg, *sets, e, sizeof e), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(&cfg, e, sizeof e), CG_OK);
    char dir[512];
    s_path(dir, sizeof dir, run);
    /* the null simulator as the launcher describes it (cg_cmd_env) */
    static const cg_env_spec_t env = {
        .sim = "null", .obs_dim = 4, .n_actions = 2, .n_costs = 0, .max_steps = 32};
    cg_learner_opts_t o = {&cfg, &env, dir, 0, token, 0};
    err[0] = 0;
    return cg_learner_new(&o, err, errlen);
}

static void test_learner_requires_keys(void)
{
    if (!cg_transport_has_curve())
        return;
    char err[2048], key_set[600], pub_set[600], wrong_set[600], path[512];
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1];
    s_path(path, sizeof path, "keys");
    mkdir(path, 0700);
    CU_ASSERT_EQUAL_FATAL(cg_transport_curve_keypair(pub, sec), CG_OK);
    s_path(path, sizeof path, "keys/learner.key");
    CU_ASSERT_EQUAL(cg_transport_curve_write_key(path, sec, 1, NULL, err, sizeof err), CG_OK);
    snprintf(key_set, sizeof key_set, "learner.curve_secret_key=%s", path);
    s_path(path, sizeof path, "keys/learner.pub");
    CU_ASSERT_EQUAL(cg_transport_curve_write_key(path, pub, 0, NULL, err, sizeof err), CG_OK);
    snprintf(pub_set, sizeof pub_set, "learner.curve_public_key=%s", path);
    CU_ASSERT_EQUAL(cg_transport_curve_keypair(pub, sec), CG_OK);
    s_path(path, sizeof path, "keys/other.pub");
    CU_ASSERT_EQUAL(cg_transport_curve_write_key(path, pub, 0, NULL, err, sizeof err), CG_OK);
    snprintf(wrong_set, sizeof wrong_set, "learner.curve_public_key=%s", path);

    /* Off loopback without keys, or without a token: refused, with a hint. */
    const char *no_keys[] = {"learner.bind=0.0.0.0", NULL};
    CU_ASSERT_PTR_NULL(s_learner("r1", no_keys, "tok", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "curve_secret_key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint: `cgrpo keygen DIR`"));
    const char *no_token[] = {"learner.bind=0.0.0.0", key_set, NULL};
    CU_ASSERT_PTR_NULL(s_learner("r2", no_token, "", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "run token"));
    /* A public key that does not belong to the secret key. */
    const char *mismatch[] = {"learner.bind=0.0.0.0", key_set, wrong_set, NULL};
    CU_ASSERT_PTR_NULL(s_learner("r3", mismatch, "tok", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not the public key"));

    /* Keys + token: up, and the endpoint file names the advertised host. */
    const char *ok[] = {"learner.bind=0.0.0.0", key_set, pub_set, "learner.advertise=node-7", NULL};
    cg_learner_t *l = s_learner("r4", ok, "tok", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(l);
    if (l) {
        CU_ASSERT_STRING_EQUAL(cg_learner_host(l), "node-7");
        char want[64], text[128] = "";
        snprintf(want, sizeof want, "node-7:%d\n", cg_learner_port(l));
        s_path(path, sizeof path, "r4/endpoint");
        FILE *f = fopen(path, "r");
        CU_ASSERT_PTR_NOT_NULL(f);
        if (f) {
            CU_ASSERT_PTR_NOT_NULL(fgets(text, sizeof text, f));
            fclose(f);
        }
        CU_ASSERT_STRING_EQUAL(text, want);
        cg_learner_destroy(&l);
    } else {
        printf("\nlearner: %s\n", err);
    }
    /* Loopback needs nothing. */
    l = s_learner("r5", NULL, "", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(l);
    if (l)
        CU_ASSERT_STRING_EQUAL(cg_learner_host(l), "127.0.0.1");
    cg_learner_destroy(&l);
}

int main(void)
{
    if (!cg_transport_has_curve())
        cg_test_skip("this libzmq was built without CURVE");
    CU_TestInfo tests[] = {
        {"keys", test_keys},
        {"auth_domains", test_auth_domains},
        {"server_needs_authenticator", test_server_needs_authenticator},
        {"learner_requires_keys", test_learner_requires_keys},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("curve", tests, s_setup, s_teardown);
}
