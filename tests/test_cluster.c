/* test_cluster: the cluster launch paths end to end, as real processes on this machine:
 *   mpi    `mpirun -n 4 cgrpo mpi` on 2 cores (1 learner + 3 actor ranks): the run completes
 *          with metrics rows and 3 actors seen, and SIGKILL to one actor rank does not stop
 *          the learner (Open MPI with --enable-recovery, docs/cluster.md);
 *   curve  a learner bound to 0.0.0.0 with CURVE keys and a run token (`cgrpo keygen`), one
 *          legitimate actor, and clients without keys, with another server's key and with a
 *          wrong token: none gets a Welcome, pushes a message or receives weights, while the
 *          legitimate actor keeps training to the end. All traffic goes to 127.0.0.1;
 *   relay  `cgrpo relay` between a CURVE learner and two actors: the run completes through it,
 *          and only subscribers with the run token's relay keys get weights from it;
 *   scaling `cgrpo scaling --actors 1,3 --sim sleep:100`, small: a CSV row per count with sane
 *          numbers and the plot; and the bare-vs-end-to-end mode of `cgrpo bench`.
 * `test_cluster NAME` runs one test (each is its own CTest entry). Every child is tracked by
 * PID (cg_proc) and killed on every path; every wait has a deadline. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_config.h"
#include "cg_msg.h"
#include "cg_metrics.h"
#include "cg_os.h"
#include "cg_proc.h"
#include "cg_test.h"
#include "cg_transport.h"

#ifndef CG_CGRPO_BIN
#error "CG_CGRPO_BIN must name the cgrpo executable (tests/CMakeLists.txt)"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define S_SLOW 2.0
#else
#define S_SLOW 1.0
#endif

#define S_PATH (CG_PATH_LEN + 64)

static char s_root[512]; /* the mkdtemp directory every file of the tests goes in */

/* ---- helpers ----------------------------------------------------------------------------- */

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0, got;
    char *buf = cg_calloc(cap, 1);
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            buf = cg_realloc(buf, cap * 2, 1);
            cap *= 2;
        }
    }
    buf[len] = 0;
    fclose(f);
    return buf;
}

static int s_count(const char *path, const char *needle)
{
    char *text = s_slurp(path);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

static void s_print_tail(const char *path)
{
    char *text = s_slurp(path);
    size_t len = text ? strlen(text) : 0;
    printf("\n---- end of %s ----\n%s\n----\n", path,
           text ? text + (len > 3000 ? len - 3000 : 0) : "(none)");
    free(text);
}

/* Waits until the file has a line containing needle; copies that line. 0 on success. */
static int s_wait_line(const char *path, const char *needle, double timeout_s, pid_t watch,
                       char *line, size_t len)
{
    double deadline = cg_os_now() + timeout_s * S_SLOW;
    while (cg_os_now() < deadline) {
        char *text = s_slurp(path);
        const char *hit = text ? strstr(text, needle) : NULL;
        if (hit) {
            const char *start = hit, *end = strchr(hit, '\n');
            while (start > text && start[-1] != '\n')
                start--;
            if (end) {
                size_t n = (size_t)(end - start) < len - 1 ? (size_t)(end - start) : len - 1;
                memcpy(line, start, n);
                line[n] = 0;
                free(text);
                return 0;
            }
        }
        free(text);
        if (watch > 0 && !cg_proc_running(watch)) {
            printf("\nprocess %d exited before \"%s\" appeared in %s\n", (int)watch, needle, path);
            return -1;
        }
        cg_proc_sleep_ms(50);
    }
    printf("\nno \"%s\" in %s within %.0f s\n", needle, path, timeout_s * S_SLOW);
    return -1;
}

/* metrics.csv (the learner's reader): its rows, and column name's value in the last row
 * and (max not NULL) its largest (NAN if none). */
static int s_metrics(const char *dir, const char *name, double *last, double *max)
{
    cg_metrics_table_t t = {0};
    char err[512];
    *last = NAN;
    if (max)
        *max = NAN;
    if (cg_metrics_load(dir, &t, err, sizeof err) != CG_OK)
        return 0;
    const int rows = t.n_rows;
    *last = cg_metrics_get(&t, -1, name);
    for (int r = 0; max && r < rows; r++) {
        const double v = cg_metrics_get(&t, r, name);
        if (isnan(*max) || v > *max)
            *max = v;
    }
    cg_metrics_table_free(&t);
    return rows;
}

/* Waits for at least rows metrics rows whose last has column name == want (NAN: any). */
static int s_wait_metrics(const char *dir, int rows, const char *name, double want,
                          double timeout_s, pid_t watch)
{
    double deadline = cg_os_now() + timeout_s * S_SLOW, last = NAN;
    int n = 0;
    while (cg_os_now() < deadline) {
        n = s_metrics(dir, name, &last, NULL);
        if (n >= rows && (isnan(want) || last == want))
            return 0;
        if (!cg_proc_running(watch)) {
            printf("\nlearner exited while waiting for %d metrics rows with %s = %g (%d rows)\n",
                   rows, name, want, n);
            return -1;
        }
        cg_proc_sleep_ms(50);
    }
    printf("\ntimed out waiting for %d metrics rows with %s = %g (%d rows, last %g)\n", rows, name,
           want, n, last);
    return -1;
}

static int s_exited_ok(pid_t pid, double timeout_s, const char *what)
{
    int status = 0;
    if (cg_proc_wait(pid, (int)(timeout_s * S_SLOW * 1000), &status) != 0) {
        printf("\n%s did not exit within %.0f s\n", what, timeout_s * S_SLOW);
        return 0;
    }
    if (cg_proc_exit_code(status) != 0) {
        printf("\n%s exited with %d\n", what, cg_proc_exit_code(status));
        return 0;
    }
    return 1;
}

/* ---- mpi --------------------------------------------------------------------------------- */

/* 1 if `mpirun --version` is Open MPI (the flags below are Open MPI's). */
static int s_open_mpi(void)
{
    FILE *p = popen(CG_MPIEXEC " --version 2>&1", "r");
    char line[256] = "";
    int yes = 0;
    while (p && fgets(line, sizeof line, p))
        yes |= strstr(line, "Open MPI") != NULL || strstr(line, "OpenRTE") != NULL;
    if (p)
        pclose(p);
    return yes;
}

/* The environment of an Open MPI job here: as root, on loopback and shared memory only, and
 * LeakSanitizer told about Open MPI's own leaks (supp holds that entry). */
#define S_MPI_ENV 8
static void s_mpi_env(const char *env[S_MPI_ENV], char *supp, size_t n)
{
    snprintf(supp, n,
             "LSAN_OPTIONS=suppressions=%s/lsan-mpi.supp:fast_unwind_on_malloc=0"
             ":print_suppressions=0",
             CG_TESTS_DIR);
    const char *fixed[S_MPI_ENV - 2] = {
        "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
        "OMPI_MCA_btl=self,vader",  "OMPI_MCA_oob_tcp_if_include=lo",
        "HWLOC_COMPONENTS=-gl",     "OPENBLAS_NUM_THREADS=1"};
    for (int i = 0; i < S_MPI_ENV - 2; i++)
        env[i] = fixed[i];
    env[S_MPI_ENV - 2] = supp;
    env[S_MPI_ENV - 1] = NULL;
}

static void test_mpi(void)
{
    if (!s_open_mpi())
        cg_test_skip(CG_MPIEXEC " is not Open MPI's (the test uses its flags)");
    char dir[S_PATH], log[S_PATH], line[512], supp[S_PATH];
    snprintf(dir, sizeof dir, "%s/mpi", s_root);
    snprintf(log, sizeof log, "%s/mpirun.log", s_root);
    const char *env[S_MPI_ENV];
    s_mpi_env(env, supp, sizeof supp); /* 4 ranks on 2 cores */
    const char *argv[] = {CG_MPIEXEC,
                          "--oversubscribe",
                          "--enable-recovery",
                          "--mca",
                          "orte_abort_on_non_zero_status",
                          "0",
                          "-x",
                          "LSAN_OPTIONS",
                          "-x",
                          "OPENBLAS_NUM_THREADS",
                          "-n",
                          "4",
                          CG_CGRPO_BIN,
                          "mpi",
                          "--no-progress",
                          "--run-dir",
                          dir,
                          "--set",
                          "sim.name=sleep",
                          "--set",
                          "sleep.step_us=200",
                          "--set",
                          "run.iterations=30",
                          "--set",
                          "train.groups=8",
                          "--set",
                          "actor.instances=4",
                          "--set",
                          "actor.heartbeat_ms=200",
                          "--set",
                          "learner.heartbeat_timeout_ms=1500",
                          "--set",
                          "learner.device=cpu",
                          NULL};
    pid_t mpirun = cg_proc_spawn(argv, env, log);
    pid_t victim = -1;
    double alive_max = NAN, last = NAN;
    CG_TEST_REQUIRE(mpirun > 0);
    /* Three actor ranks join and train together. */
    CG_TEST_REQUIRE(s_wait_metrics(dir, 4, "actors_alive", 3, 90, mpirun) == 0);
    CG_TEST_REQUIRE(s_wait_line(log, "actor 1 joined (host ", 5, mpirun, line, sizeof line) == 0);
    const char *p = strstr(line, "pid ");
    victim = p ? (pid_t)atoi(p + 4) : -1;
    CG_TEST_REQUIRE(victim > 1);
    char cmdline_path[64];
    snprintf(cmdline_path, sizeof cmdline_path, "/proc/%d/cmdline", (int)victim);
    char *cmdline = s_slurp(cmdline_path);
    int is_rank = cmdline && strstr(cmdline, "cgrpo");
    free(cmdline);
    CG_TEST_REQUIRE(is_rank); /* an actor rank of ours, not a reused PID */
    int rows_at_kill = s_metrics(dir, "iteration", &last, NULL);
    CG_TEST_REQUIRE(kill(victim, SIGKILL) == 0);
    /* The learner notices (2 actors alive) and keeps training to the end. */
    CG_TEST_REQUIRE(s_wait_metrics(dir, rows_at_kill + 1, "actors_alive", 2, 60, mpirun) == 0);
    CG_TEST_REQUIRE(s_exited_ok(mpirun, 120, "mpirun"));
    int rows = s_metrics(dir, "actors_alive", &last, &alive_max);
    CU_ASSERT_EQUAL(rows, 30);
    CU_ASSERT_EQUAL(alive_max, 3);
    CU_ASSERT_EQUAL(last, 2);
    s_metrics(dir, "iteration", &last, NULL);
    CU_ASSERT_EQUAL(last, 30);
    char summary[S_PATH + 16];
    snprintf(summary, sizeof summary, "%s/summary.json", dir);
    CU_ASSERT_EQUAL(access(summary, R_OK), 0);
    CU_ASSERT_EQUAL(s_count(log, "mpirun noticed"), 0);
    for (int id = 0; id < 3; id += 2) { /* the survivors end when told training is over */
        char alog[S_PATH + 32];
        snprintf(alog, sizeof alog, "%s/actor-%d.log", dir, id);
        CU_ASSERT_EQUAL(s_count(alog, "training is over"), 1);
        CU_ASSERT_EQUAL(s_count(alog, "Sanitizer"), 0);
    }
    CU_ASSERT_EQUAL(s_count(log, "Sanitizer"), 0);
done:
    if (CU_get_number_of_failures() > 0)
        s_print_tail(log);
    if (mpirun > 0 && cg_proc_running(mpirun)) {
        cg_proc_signal(mpirun, SIGTERM); /* mpirun stops its ranks */
        cg_proc_wait(mpirun, 5000, NULL);
    }
    cg_proc_kill_all();
}

/* ---- curve ------------------------------------------------------------------------------- */

static cg_socket_opts_t s_opts = {16, 1 << 24};

typedef struct {
    cg_transport_t *tp;
    cg_socket_t *dealer, *push, *sub;
    const char *server_key; /* NULL: no CURVE */
    int ports[3];
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1];
} s_client_t;

/* (Re)connects the client's socket i (0 control, 1 data, 2 weights) afresh. */
static int s_client_socket(s_client_t *c, int i)
{
    cg_socket_t **socks[3] = {&c->dealer, &c->push, &c->sub};
    const cg_sock_kind_t kinds[3] = {CG_SOCK_DEALER, CG_SOCK_PUSH, CG_SOCK_SUB};
    cg_transport_close(socks[i]);
    *socks[i] = cg_transport_socket(c->tp, kinds[i], &s_opts);
    return *socks[i] &&
                   (!c->server_key ||
                    cg_transport_curve_client(*socks[i], c->server_key, c->pub, c->sec) == CG_OK) &&
                   cg_transport_connect(*socks[i], "127.0.0.1", c->ports[i]) == CG_OK
               ? 0
               : -1;
}

/* A client of the learner's three ports (CURVE with server_key unless it is NULL, with a key
 * pair of its own): connects all three, sends a Hello with token and, if junk, a message
 * that is no group batch on data. */
static int s_client_start(s_client_t *c, const int ports[3], const char *server_key,
                          const char *token, int32_t actor_id, int junk)
{
    memset(c, 0, sizeof *c);
    c->tp = cg_transport_new();
    c->server_key = server_key;
    memcpy(c->ports, ports, sizeof c->ports);
    if (!c->tp || cg_transport_curve_keypair(c->pub, c->sec))
        return -1;
    for (int i = 0; i < 3; i++)
        if (s_client_socket(c, i))
            return -1;
    cg_msg_t hello;
    memset(&hello, 0, sizeof hello);
    hello.type = CG_MSG_HELLO;
    hello.u.hello.actor_id = actor_id;
    hello.u.hello.pid = (int32_t)getpid();
    snprintf(hello.u.hello.host, sizeof hello.u.hello.host, "test-client");
    snprintf(hello.u.hello.token, sizeof hello.u.hello.token, "%s", token);
    if (cg_transport_send(c->dealer, NULL, 0, &hello) != CG_OK)
        return -1;
    /* Queued until (if ever) the connection is allowed. */
    return !junk || cg_transport_send_raw(c->push, NULL, 0, "not a group batch", 17) == CG_OK ? 0
                                                                                              : -1;
}

static void s_client_stop(s_client_t *c)
{
    cg_transport_close(&c->dealer);
    cg_transport_close(&c->push);
    cg_transport_close(&c->sub);
    cg_transport_destroy(&c->tp);
}

/* Messages readable on sock within ms (drained). */
static int s_drain(cg_socket_t *sock, int ms)
{
    int n = 0;
    double deadline = cg_os_now() + ms / 1000.0;
    while (cg_os_now() < deadline) {
        int ready = 0;
        if (cg_transport_poll(&sock, 1, 50, &ready) == CG_OK)
            while (cg_transport_recv_discard(sock, NULL) == CG_OK)
                n++;
    }
    return n;
}

/* Waits up to ms for one message on sock; 1 when it is a Refusal whose reason has `needle`
 * (the learner answers a Hello it will not take, saying why). */
static int s_refused(cg_socket_t *sock, int ms, const char *needle)
{
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    cg_msg_caps_t caps;
    cg_config_defaults(cfg);
    cg_msg_caps_from(cfg, &caps);
    free(cfg);
    int ready = 0, ok = 0;
    char err[256];
    if (cg_transport_poll(&sock, 1, ms, &ready) == CG_OK && ready) {
        cg_msg_t m = {0};
        if (cg_transport_recv(sock, &caps, NULL, &m, NULL, NULL, NULL, err, sizeof err) == CG_OK)
            ok = m.type == CG_MSG_REFUSAL && !m.u.refusal.retry &&
                 strstr(m.u.refusal.reason, needle) != NULL;
        cg_msg_free(&m);
    }
    return ok;
}

static int s_keygen(const char *dir)
{
    char log[S_PATH];
    snprintf(log, sizeof log, "%s.log", dir);
    const char *argv[] = {CG_CGRPO_BIN, "keygen", dir, NULL};
    pid_t pid = cg_proc_spawn(argv, NULL, log);
    return pid > 0 && s_exited_ok(pid, 10, "cgrpo keygen") ? 0 : -1;
}

static void test_curve(void)
{
    if (!cg_transport_has_curve())
        cg_test_skip("this libzmq was built without CURVE");
    char keys[S_PATH], other[S_PATH], dir[S_PATH], llog[S_PATH], alog[S_PATH], line[512];
    char set_sec[S_PATH + 64], set_pub[S_PATH + 64], set_tok[S_PATH + 64], path[S_PATH + 32];
    char server_key[CG_CURVE_KEY_LEN + 1], wrong_key[CG_CURVE_KEY_LEN + 1], token[128] = "";
    char err[1024];
    snprintf(keys, sizeof keys, "%s/keys", s_root);
    snprintf(other, sizeof other, "%s/other-keys", s_root);
    snprintf(dir, sizeof dir, "%s/curve", s_root);
    snprintf(llog, sizeof llog, "%s/curve-learner.log", s_root);
    snprintf(alog, sizeof alog, "%s/curve-actor.log", s_root);
    s_client_t rogue[3], friend_;
    memset(rogue, 0, sizeof rogue);
    memset(&friend_, 0, sizeof friend_);
    pid_t learner = -1, actor = -1;

    /* cgrpo keygen: the files, their modes, and no overwriting. */
    CG_TEST_REQUIRE(s_keygen(keys) == 0 && s_keygen(other) == 0);
    struct stat st;
    snprintf(path, sizeof path, "%s/learner.key", keys);
    CG_TEST_REQUIRE(stat(path, &st) == 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/token", keys);
    CG_TEST_REQUIRE(stat(path, &st) == 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    printf("\n(the next keygen must refuse:)");
    CU_ASSERT_NOT_EQUAL(s_keygen(keys), 0);
    snprintf(path, sizeof path, "%s/learner.pub", keys);
    CG_TEST_REQUIRE(cg_transport_curve_read_key(path, server_key, err, sizeof err) == CG_OK);
    snprintf(path, sizeof path, "%s/learner.pub", other);
    CG_TEST_REQUIRE(cg_transport_curve_read_key(path, wrong_key, err, sizeof err) == CG_OK);
    snprintf(path, sizeof path, "%s/token", keys);
    char *tok = s_slurp(path);
    CG_TEST_REQUIRE(tok != NULL);
    snprintf(token, sizeof token, "%.*s", (int)strcspn(tok, "\n"), tok);
    free(tok);
    CG_TEST_REQUIRE(strlen(token) == 32);

    snprintf(set_sec, sizeof set_sec, "learner.curve_secret_key=%s/learner.key", keys);
    snprintf(set_pub, sizeof set_pub, "learner.curve_public_key=%s/learner.pub", keys);
    snprintf(set_tok, sizeof set_tok, "run.token_file=%s/token", keys);
    const char *env[] = {"OPENBLAS_NUM_THREADS=1", NULL};
    const char *largv[] = {CG_CGRPO_BIN,
                           "learner",
                           "--no-progress",
                           "--run-dir",
                           dir,
                           "--set",
                           "learner.bind=0.0.0.0",
                           "--set",
                           set_sec,
                           "--set",
                           set_pub,
                           "--set",
                           set_tok,
                           "--set",
                           "sim.name=sleep",
                           "--set",
                           "sleep.step_us=200",
                           "--set",
                           "run.iterations=15",
                           "--set",
                           "train.groups=8",
                           "--set",
                           "actor.instances=4",
                           "--set",
                           "actor.heartbeat_ms=200",
                           "--set",
                           "learner.heartbeat_timeout_ms=1500",
                           "--set",
                           "learner.device=cpu",
                           NULL};
    learner = cg_proc_spawn(largv, env, llog);
    CG_TEST_REQUIRE(learner > 0);
    CG_TEST_REQUIRE(s_wait_line(llog, "control port ", 30, learner, line, sizeof line) == 0);
    int ports[3] = {0, 0, 0};
    const char *cp = strstr(line, "control port ");
    CG_TEST_REQUIRE(cp && sscanf(cp, "control port %d (data %d, weights %d)", &ports[0], &ports[1],
                                 &ports[2]) == 3);

    /* The legitimate actor: the learner's public key and the token file, from --set. */
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", ports[0]);
    const char *aargv[] = {CG_CGRPO_BIN, "actor", "--connect", connect, "--set",
                           set_pub,      "--set", set_tok,     NULL};
    actor = cg_proc_spawn(aargv, env, alog);
    CG_TEST_REQUIRE(actor > 0);
    CG_TEST_REQUIRE(s_wait_metrics(dir, 3, "actors_alive", 1, 60, learner) == 0);

    /* Three intruders: no keys, another learner's key, the right key with a wrong token. */
    CG_TEST_REQUIRE(s_client_start(&rogue[0], ports, NULL, token, 50, 1) == 0);
    CG_TEST_REQUIRE(s_client_start(&rogue[1], ports, wrong_key, token, 51, 1) == 0);
    CG_TEST_REQUIRE(s_client_start(&rogue[2], ports, server_key, "wrong-token", 52, 1) == 0);
    double v0 = NAN, v1 = NAN;
    s_metrics(dir, "version", &v0, NULL);
    int got[3][2];
    /* The one with the key but a wrong token gets only the learner's refusal, saying so. */
    CU_ASSERT_TRUE(s_refused(rogue[2].dealer, 3000, "wrong run token"));
    for (int i = 0; i < 3; i++) {
        got[i][0] = s_drain(rogue[i].dealer, i == 0 ? 2500 : 300); /* Welcome or heartbeat */
        got[i][1] = s_drain(rogue[i].sub, 300);                    /* Weights */
    }
    s_metrics(dir, "version", &v1, NULL);
    CG_TEST_REQUIRE(v1 > v0); /* weights were published meanwhile */
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(got[i][0], 0);
        CU_ASSERT_EQUAL(got[i][1], 0);
    }
    /* The same client with the right key and token gets a Welcome and, subscribing after it
     * (as an actor does), weights: the refusals above are the learner's doing. */
    CG_TEST_REQUIRE(s_client_start(&friend_, ports, server_key, token, 60, 0) == 0);
    CU_ASSERT_TRUE(s_drain(friend_.dealer, 3000) >= 1);
    CG_TEST_REQUIRE(s_client_socket(&friend_, 2) == 0);
    CU_ASSERT_TRUE(s_drain(friend_.sub, 5000) >= 1);

    /* Training is unaffected: the legitimate actor trains to the last iteration. */
    CG_TEST_REQUIRE(s_exited_ok(learner, 120, "learner"));
    CG_TEST_REQUIRE(s_exited_ok(actor, 20, "actor"));
    double last = NAN;
    CU_ASSERT_EQUAL(s_metrics(dir, "iteration", &last, NULL), 15);
    CU_ASSERT_EQUAL(last, 15);
    s_metrics(dir, "rejected_msgs", &last, NULL);
    CU_ASSERT_EQUAL(last, 1); /* the wrong-token Hello, only */
    CU_ASSERT_EQUAL(s_count(llog, "wrong run token"), 1);
    CU_ASSERT_EQUAL(s_count(llog, "rejected data message"), 0); /* no junk got through */
    CU_ASSERT_TRUE(s_count(llog, "refused connection") >= 2);   /* wrong token: data, weights */
done:
    if (CU_get_number_of_failures() > 0) {
        s_print_tail(llog);
        s_print_tail(alog);
    }
    for (int i = 0; i < 3; i++)
        s_client_stop(&rogue[i]);
    s_client_stop(&friend_);
    cg_proc_kill_all();
}

/* `mpirun -n 4 cgrpo mpi --relay-port P`: the lowest actor rank of the node runs the relay,
 * and all three actors take their weights from it to the end. */
static void test_mpi_relay(void)
{
    if (!s_open_mpi())
        cg_test_skip(CG_MPIEXEC " is not Open MPI's (the test uses its flags)");
    char dir[S_PATH], log[S_PATH], supp[S_PATH], port[16], want[64];
    snprintf(dir, sizeof dir, "%s/mpi-relay", s_root);
    snprintf(log, sizeof log, "%s/mpirun-relay.log", s_root);
    snprintf(port, sizeof port, "%d", 20000 + (int)(getpid() % 20000));
    snprintf(want, sizeof want, "weights from the relay at 127.0.0.1:%s", port);
    const char *env[S_MPI_ENV];
    s_mpi_env(env, supp, sizeof supp);
    const char *argv[] = {CG_MPIEXEC,
                          "--oversubscribe",
                          "-x",
                          "LSAN_OPTIONS",
                          "-x",
                          "OPENBLAS_NUM_THREADS",
                          "-n",
                          "4",
                          CG_CGRPO_BIN,
                          "mpi",
                          "--no-progress",
                          "--relay-port",
                          port,
                          "--run-dir",
                          dir,
                          "--set",
                          "sim.name=sleep",
                          "--set",
                          "sleep.step_us=200",
                          "--set",
                          "run.iterations=12",
                          "--set",
                          "train.groups=8",
                          "--set",
                          "actor.instances=4",
                          "--set",
                          "learner.device=cpu",
                          NULL};
    pid_t mpirun = cg_proc_spawn(argv, env, log);
    CG_TEST_REQUIRE(mpirun > 0);
    CG_TEST_REQUIRE(s_exited_ok(mpirun, 120, "mpirun"));
    double last = NAN;
    CU_ASSERT_EQUAL(s_metrics(dir, "iteration", &last, NULL), 12);
    CU_ASSERT_EQUAL(s_count(log, "relay on "), 1); /* one node: one relay subscribed */
    for (int id = 0; id < 3; id++) {
        char alog[S_PATH + 32];
        snprintf(alog, sizeof alog, "%s/actor-%d.log", dir, id);
        CU_ASSERT_EQUAL(s_count(alog, want), 1);
        CU_ASSERT_EQUAL(s_count(alog, "learner says training is over"), 1);
        CU_ASSERT_EQUAL(s_count(alog, "relay: training is over"), id == 0);
        CU_ASSERT_EQUAL(s_count(alog, "Sanitizer"), 0);
    }
done:
    if (CU_get_number_of_failures() > 0)
        s_print_tail(log);
    cg_proc_kill_all();
}

/* ---- relays ----------------------------------------------------------------------------- */

/* A SUB of the relay at port, as a CURVE client of server_key with the key pair pub/sec. */
static cg_socket_t *s_relay_sub(cg_transport_t *tp, int port, const char *server_key,
                                const char *pub, const char *sec)
{
    cg_socket_t *sub = cg_transport_socket(tp, CG_SOCK_SUB, &s_opts);
    if (sub && (cg_transport_curve_client(sub, server_key, pub, sec) != CG_OK ||
                cg_transport_connect(sub, "127.0.0.1", port) != CG_OK))
        cg_transport_close(&sub);
    return sub;
}

/* `cgrpo relay` between a CURVE learner (keys and token on loopback) and two actors that take
 * their weights from it: the run completes, the actors' done came through the relay, the relay
 * exits by itself after it. Subscribers of the relay with the learner's public key, or with
 * the keys of another token, get nothing; the keys of the run's token get the weights. A relay
 * with no learner stops on SIGTERM. */
static void test_relay(void)
{
    if (!cg_transport_has_curve())
        cg_test_skip("this libzmq was built without CURVE");
    char keys[S_PATH], dir[S_PATH], llog[S_PATH], rlog[S_PATH], alog[2][S_PATH], line[512];
    char set_sec[S_PATH + 64], set_pub[S_PATH + 64], set_tok[S_PATH + 64], path[S_PATH + 32];
    char port_file[S_PATH], server_key[CG_CURVE_KEY_LEN + 1], token[128] = "", err[1024];
    snprintf(keys, sizeof keys, "%s/relay-keys", s_root);
    snprintf(dir, sizeof dir, "%s/relay", s_root);
    snprintf(llog, sizeof llog, "%s/relay-learner.log", s_root);
    snprintf(rlog, sizeof rlog, "%s/relay.log", s_root);
    snprintf(port_file, sizeof port_file, "%s/relay.endpoint", s_root);
    cg_transport_t *tp = NULL;
    cg_socket_t *subs[3] = {NULL, NULL, NULL};
    pid_t learner = -1, relay = -1, actors[2] = {-1, -1};

    CG_TEST_REQUIRE(s_keygen(keys) == 0);
    snprintf(path, sizeof path, "%s/learner.pub", keys);
    CG_TEST_REQUIRE(cg_transport_curve_read_key(path, server_key, err, sizeof err) == CG_OK);
    snprintf(path, sizeof path, "%s/token", keys);
    char *tok = s_slurp(path);
    CG_TEST_REQUIRE(tok != NULL);
    snprintf(token, sizeof token, "%.*s", (int)strcspn(tok, "\n"), tok);
    free(tok);
    snprintf(set_sec, sizeof set_sec, "learner.curve_secret_key=%s/learner.key", keys);
    snprintf(set_pub, sizeof set_pub, "learner.curve_public_key=%s/learner.pub", keys);
    snprintf(set_tok, sizeof set_tok, "run.token_file=%s/token", keys);
    const char *env[] = {"OPENBLAS_NUM_THREADS=1", NULL};
    const char *largv[] = {CG_CGRPO_BIN,
                           "learner",
                           "--no-progress",
                           "--run-dir",
                           dir,
                           "--set",
                           set_sec,
                           "--set",
                           set_pub,
                           "--set",
                           set_tok,
                           "--set",
                           "sim.name=sleep",
                           "--set",
                           "sleep.step_us=200",
                           "--set",
                           "run.iterations=20",
                           "--set",
                           "train.groups=8",
                           "--set",
                           "actor.instances=4",
                           "--set",
                           "learner.device=cpu",
                           NULL};
    learner = cg_proc_spawn(largv, env, llog);
    CG_TEST_REQUIRE(learner > 0);
    CG_TEST_REQUIRE(s_wait_line(llog, "control port ", 30, learner, line, sizeof line) == 0);
    int cport = 0;
    const char *cp = strstr(line, "control port ");
    CG_TEST_REQUIRE(cp && sscanf(cp, "control port %d", &cport) == 1);
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", cport);

    const char *rargv[] = {CG_CGRPO_BIN, "relay", "--connect",   connect,   "--set", set_pub,
                           "--set",      set_tok, "--port-file", port_file, NULL};
    relay = cg_proc_spawn(rargv, env, rlog);
    CG_TEST_REQUIRE(relay > 0);
    CG_TEST_REQUIRE(s_wait_line(rlog, "relayed on 127.0.0.1:", 20, relay, line, sizeof line) == 0);
    char *ep = s_slurp(port_file);
    int rport = 0;
    CG_TEST_REQUIRE(ep && sscanf(ep, "127.0.0.1:%d", &rport) == 1 && rport > 0);
    free(ep);
    char relay_ep[64];
    snprintf(relay_ep, sizeof relay_ep, "127.0.0.1:%d", rport);
    for (int i = 0; i < 2; i++) {
        snprintf(alog[i], sizeof alog[i], "%s/relay-actor%d.log", s_root, i);
        const char *aargv[] = {CG_CGRPO_BIN, "actor", "--connect", connect, "--relay", relay_ep,
                               "--set",      set_pub, "--set",     set_tok, NULL};
        actors[i] = cg_proc_spawn(aargv, env, alog[i]);
        CG_TEST_REQUIRE(actors[i] > 0);
    }
    CG_TEST_REQUIRE(s_wait_metrics(dir, 3, "actors_alive", 2, 60, learner) == 0);

    /* Subscribers of the relay: the learner's public key (what the learner's own weights port
     * takes, with a token), another token's relay keys, the run token's relay keys. */
    cg_relay_keys_t good, other;
    char pub[CG_CURVE_KEY_LEN + 1], sec[CG_CURVE_KEY_LEN + 1];
    CG_TEST_REQUIRE(cg_transport_relay_keys(token, &good) == CG_OK &&
                    cg_transport_relay_keys("another run's token", &other) == CG_OK &&
                    cg_transport_curve_keypair(pub, sec) == CG_OK);
    CU_ASSERT_STRING_NOT_EQUAL(good.server_public, other.server_public);
    CU_ASSERT_EQUAL(cg_transport_relay_keys("", &other), CG_ERR_INVAL);
    CG_TEST_REQUIRE(cg_transport_relay_keys("another run's token", &other) == CG_OK);
    tp = cg_transport_new();
    CG_TEST_REQUIRE(tp != NULL);
    subs[0] = s_relay_sub(tp, rport, server_key, pub, sec);
    subs[1] = s_relay_sub(tp, rport, other.server_public, other.client_public, other.client_secret);
    subs[2] = s_relay_sub(tp, rport, good.server_public, good.client_public, good.client_secret);
    CG_TEST_REQUIRE(subs[0] && subs[1] && subs[2]);
    int got[3];
    for (int i = 0; i < 3; i++)
        got[i] = s_drain(subs[i], i == 0 ? 3000 : 1000);
    CU_ASSERT_EQUAL(got[0], 0);
    CU_ASSERT_EQUAL(got[1], 0);
    CU_ASSERT_TRUE(got[2] >= 1);

    /* The run completes; the actors' weights (and the final done) came through the relay,
     * which then exits by itself. */
    CG_TEST_REQUIRE(s_exited_ok(learner, 120, "learner"));
    for (int i = 0; i < 2; i++) {
        CG_TEST_REQUIRE(s_exited_ok(actors[i], 20, "actor"));
        CU_ASSERT_EQUAL(s_count(alog[i], "weights from the relay at 127.0.0.1:"), 1);
        CU_ASSERT_EQUAL(s_count(alog[i], "training is over (version 20)"), 1);
    }
    CG_TEST_REQUIRE(s_exited_ok(relay, 15, "relay"));
    CU_ASSERT_EQUAL(s_count(rlog, "training is over at version 20"), 1);
    CU_ASSERT_EQUAL(s_count(llog, "relay on "), 1);
    double last = NAN;
    CU_ASSERT_EQUAL(s_metrics(dir, "iteration", &last, NULL), 20);
    s_metrics(dir, "rejected_msgs", &last, NULL);
    CU_ASSERT_EQUAL(last, 0);

    /* A relay whose learner is not there keeps saying Hello, and stops on SIGTERM. */
    const char *dead[] = {CG_CGRPO_BIN, "relay", "--connect", connect, NULL};
    relay = cg_proc_spawn(dead, env, rlog);
    CG_TEST_REQUIRE(relay > 0);
    cg_proc_sleep_ms(1500);
    CG_TEST_REQUIRE(cg_proc_signal(relay, SIGTERM) == 0);
    CU_ASSERT_TRUE(s_exited_ok(relay, 5, "relay after SIGTERM"));
done:
    if (CU_get_number_of_failures() > 0) {
        s_print_tail(llog);
        s_print_tail(rlog);
        s_print_tail(alog[0]);
    }
    for (int i = 0; i < 3; i++)
        cg_transport_close(&subs[i]);
    cg_transport_destroy(&tp);
    cg_proc_kill_all();
}

/* ---- scaling ---------------------------------------------------------------------------- */

/* Fields of the CSV line of file starting with prefix into v (up to n). Count parsed. */
static int s_csv_fields(const char *path, const char *prefix, double *v, int n)
{
    char *text = s_slurp(path), *save = NULL;
    int k = 0;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, prefix, strlen(prefix)))
            continue;
        for (char *s2 = NULL, *tok = strtok_r(line + strlen(prefix), ",", &s2); tok && k < n;
             tok = strtok_r(NULL, ",", &s2))
            v[k++] = strtod(tok, NULL);
        break;
    }
    free(text);
    return k;
}

/* `cgrpo scaling` and `cgrpo bench`, small: the scaling study writes a row per actor count
 * with sane numbers (and a plot when gnuplot is there), `bench --actors LIST` is still the
 * study (an alias); the bare-vs-end-to-end mode still works, with --overlap's second
 * end-to-end run. */
static void test_scaling(void)
{
    char out[S_PATH], log[S_PATH], csv[S_PATH + 32], png[S_PATH + 32], bare[S_PATH];
    snprintf(out, sizeof out, "%s/scaling", s_root);
    snprintf(log, sizeof log, "%s/scaling.log", s_root);
    snprintf(bare, sizeof bare, "%s/bare", s_root);
    snprintf(csv, sizeof csv, "%s/scaling.csv", out);
    snprintf(png, sizeof png, "%s/scaling.png", out);
    const char *env[] = {"OPENBLAS_NUM_THREADS=1", NULL};
    const char *argv[] = {CG_CGRPO_BIN, "scaling",
                          "--actors",   "1,3",
                          "--sim",      "sleep:100",
                          "--duration", "5",
                          "--warmup",   "1",
                          "--seconds",  "0.5",
                          "--set",      "train.groups=6",
                          "--set",      "actor.instances=4",
                          "--set",      "learner.device=cpu",
                          "--out",      out,
                          NULL};
    /* The old spelling reaches the study: its argument error is the study's. */
    char alias[S_PATH * 2 + 64], alias_log[S_PATH + 16];
    snprintf(alias_log, sizeof alias_log, "%s/alias.log", s_root);
    snprintf(alias, sizeof alias, "%s bench --actors 1,x --sim null > %s 2>&1", CG_CGRPO_BIN,
             alias_log);
    const int alias_status = system(alias);
    CU_ASSERT(WIFEXITED(alias_status) && WEXITSTATUS(alias_status) == 2);
    FILE *af = fopen(alias_log, "r");
    char line[512] = "";
    if (af) {
        if (!fgets(line, sizeof line, af))
            line[0] = '\0';
        fclose(af);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "cgrpo scaling: --actors wants counts"));
    pid_t pid = cg_proc_spawn(argv, env, log);
    CG_TEST_REQUIRE(pid > 0 && s_exited_ok(pid, 120, "cgrpo scaling"));
    for (int n = 1; n <= 3; n += 2) {
        /* actors, env_steps_per_s, groups_per_s, trained, busy, p50, p99, samples, lag,
         * dropped/s, rejected, msg_bytes, groups_per_msg, raw msgs, raw groups, ingest frac */
        double v[17];
        char prefix[32];
        snprintf(prefix, sizeof prefix, "sleep:100,%d,", n);
        CG_TEST_REQUIRE(s_csv_fields(csv, prefix, v + 1, 16) == 16);
        CU_ASSERT_TRUE(v[1] > 0 && v[2] > 0 && v[3] > 0);    /* steps/s, groups/s */
        CU_ASSERT_TRUE(v[4] > 0 && v[4] < 1);                /* busy fraction */
        CU_ASSERT_TRUE(v[5] > 0 && v[6] >= v[5]);            /* latency p50 <= p99 */
        CU_ASSERT_TRUE(v[7] >= n);                           /* latency samples */
        CU_ASSERT_EQUAL(v[10], 0);                           /* rejected */
        CU_ASSERT_TRUE(v[11] > 1000);                        /* message bytes */
        CU_ASSERT_TRUE(v[13] > 0 && v[15] > 0 && v[15] < 1); /* raw rate, ingest fraction */
    }
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        struct stat st;
        CU_ASSERT_TRUE(stat(png, &st) == 0 && st.st_size > 1000);
    }
    const char *bargv[] = {CG_CGRPO_BIN,   "bench",
                           "--sims",       "null",
                           "--actors",     "1",
                           "--seconds",    "0.5",
                           "--iterations", "2",
                           "--set",        "train.groups=4",
                           "--set",        "learner.device=cpu",
                           "--overlap",    "--out",
                           bare,           NULL};
    pid = cg_proc_spawn(bargv, env, log);
    CG_TEST_REQUIRE(pid > 0 && s_exited_ok(pid, 120, "cgrpo bench (bare vs end to end)"));
    snprintf(csv, sizeof csv, "%s/bench.csv", bare);
    /* instances, bare, e2e (overlap off), ratio, e2e (overlap on), on/off, update samples/s,
     * threads, sgemm GFLOP/s, ceiling, update per core / ceiling, cores, stale fraction,
     * e2e / ceiling, e2e / min(bare, update/E) */
    double v[15];
    CU_ASSERT_EQUAL(s_csv_fields(csv, "null,1,", v, 15), 15);
    CU_ASSERT(v[1] > 0 && v[2] > 0 && v[4] > 0 && v[5] > 0);
    CU_ASSERT(v[6] > 0 && v[7] >= 1 && v[8] > 0 && v[9] > 0 && v[10] > 0);
    CU_ASSERT(v[11] > 0 && v[12] >= 0 && v[12] <= 1 && v[13] > 0 && v[14] > 0);
done:
    if (CU_get_number_of_failures() > 0)
        s_print_tail(log);
    cg_proc_kill_all();
}

/* `cgrpo scaling --launch mpirun`: each count's actors started by one mpirun (as on the
 * nodes of an allocation), measured like local ones; the launcher's output in actors.log.
 * The learner binds 0.0.0.0 as on a cluster, so it is a CURVE server with a run token: the
 * launched actors get the key and token files from the study. */
static void test_scaling_mpirun(void)
{
    if (!s_open_mpi())
        cg_test_skip(CG_MPIEXEC " is not Open MPI's (the test uses its flags)");
    char out[S_PATH], log[S_PATH], csv[S_PATH + 32], alog[S_PATH + 64], supp[S_PATH];
    char launch[S_PATH + 64];
    snprintf(out, sizeof out, "%s/scaling-mpirun", s_root);
    snprintf(log, sizeof log, "%s/scaling-mpirun.log", s_root);
    snprintf(csv, sizeof csv, "%s/scaling.csv", out);
    snprintf(alog, sizeof alog, "%s/run-sleep-3/actors.log", out);
    snprintf(launch, sizeof launch, "%s --oversubscribe", CG_MPIEXEC);
    char skey[S_PATH + 64], pkey[S_PATH + 64], token[S_PATH + 64];
    snprintf(skey, sizeof skey, "learner.curve_secret_key=%s/keys/learner.key", out);
    snprintf(pkey, sizeof pkey, "learner.curve_public_key=%s/keys/learner.pub", out);
    snprintf(token, sizeof token, "run.token_file=%s/keys/token", out);
    const char *env[S_MPI_ENV];
    s_mpi_env(env, supp, sizeof supp);
    const char *argv[] = {CG_CGRPO_BIN, "scaling",
                          "--actors",   "1,3",
                          "--sim",      "sleep:100",
                          "--launch",   launch,
                          "--updates",  "2",
                          "--duration", "60",
                          "--seconds",  "0.3",
                          "--set",      "train.groups=6",
                          "--set",      "actor.instances=4",
                          "--set",      "learner.device=cpu",
                          "--set",      "learner.bind=0.0.0.0",
                          "--set",      skey,
                          "--set",      pkey,
                          "--set",      token,
                          "--out",      out,
                          NULL};
    char keygen[S_PATH * 2 + 64];
    snprintf(keygen, sizeof keygen, "%s keygen %s/keys > /dev/null", CG_CGRPO_BIN, out);
    CG_TEST_REQUIRE(system(keygen) == 0);
    pid_t pid = cg_proc_spawn(argv, env, log);
    CG_TEST_REQUIRE(pid > 0 && s_exited_ok(pid, 150, "cgrpo scaling --launch mpirun"));
    for (int n = 1; n <= 3; n += 2) {
        double v[17];
        char prefix[32];
        snprintf(prefix, sizeof prefix, "sleep:100,%d,", n);
        CG_TEST_REQUIRE(s_csv_fields(csv, prefix, v + 1, 16) == 16);
        CU_ASSERT_TRUE(v[1] > 0 && v[2] > 0); /* steps/s, groups/s */
        CU_ASSERT_TRUE(v[7] >= n);            /* latency samples: every actor reported */
        CU_ASSERT_EQUAL(v[10], 0);            /* rejected */
    }
    struct stat st;
    CU_ASSERT_TRUE(stat(alog, &st) == 0 && st.st_size > 0);
done:
    if (CU_get_number_of_failures() > 0)
        s_print_tail(log);
    cg_proc_kill_all();
}

int main(int argc, char **argv)
{
    if (cg_proc_tmpdir("cg-cluster", s_root, sizeof s_root) != 0)
        return 1;
    CU_TestInfo all[] = {
        {"mpi", test_mpi},         {"mpi_relay", test_mpi_relay},
        {"curve", test_curve},     {"relay", test_relay},
        {"scaling", test_scaling}, {"scaling_mpirun", test_scaling_mpirun},
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo one[2] = {CU_TEST_INFO_NULL, CU_TEST_INFO_NULL};
    CU_TestInfo *tests = all;
    if (argc > 1) {
        for (int i = 0; all[i].pName; i++)
            if (!strcmp(all[i].pName, argv[1]))
                one[0] = all[i];
        if (!one[0].pName) {
            fprintf(stderr, "test_cluster: no test '%s'\n", argv[1]);
            return 2;
        }
        tests = one;
    }
    int rc = cg_test_run("cluster", tests, NULL, NULL);
    if (rc == 0)
        cg_proc_rmtree(s_root);
    else
        printf("kept %s\n", s_root);
    return rc;
}
