/* test_integration: the cgrpo command end to end as real processes on 127.0.0.1 (OS-picked
 * ports): learning, actor or learner killed (and resumed), a malformed-message flood,
 * bit-identical deterministic runs, bounded learner memory, no orphans of a killed train,
 * a train whose local actors die (all: it stops; one: it finishes) or is interrupted.
 * Children are tracked by PID and killed in every path (cg_proc); every wait has a deadline;
 * run dirs live in one mkdtemp dir. `test_integration NAME` runs one test (one CTest each). */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_ckpt.h"
#include "cg_config.h"
#include "cg_learner.h"
#include "cg_metrics.h"
#include "cg_msg.h"
#include "cg_os.h"
#include "cg_policy.h"
#include "cg_proc.h"
#include "cg_rng.h"
#include "cg_sim.h"
#include "cg_test.h"
#include "cg_transport.h"

#ifndef CG_CGRPO_BIN
#error "CG_CGRPO_BIN must name the cgrpo executable (tests/CMakeLists.txt)"
#endif

/* Sanitizer builds run slower: deadlines stretch (they only matter when something is broken;
 * each test's worst case stays under its CTest TIMEOUT), memory bounds grow. */
#if defined(__SANITIZE_ADDRESS__)
#define S_SLOW 2.0
#define S_RSS_GROWTH_KB (96L * 1024)
#else
#define S_SLOW 1.0
#define S_RSS_GROWTH_KB (64L * 1024)
#endif

#define S_PATH (CG_PATH_LEN + 64)
#define S_MAX_LOGS 16

/* Every child: one BLAS thread (few cores, several processes; bit-reproducible results). */
static const char *const s_env[] = {"OPENBLAS_NUM_THREADS=1", NULL};

/* Suite state (CUnit tests take no arguments). */
static struct {
    char root[S_PATH];             /* mkdtemp directory holding every run directory */
    char logs[S_MAX_LOGS][S_PATH]; /* logs of the current test, printed if it fails */
    int n_logs;
    unsigned failures_at_start;
} s_st;

/* ---- small helpers ----------------------------------------------------------------------- */

static void s_path(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, S_PATH, "%s/%s", dir, name);
    CG_ASSERT(n > 0 && n < S_PATH);
}

static void s_add_log(const char *path)
{
    if (s_st.n_logs < S_MAX_LOGS)
        snprintf(s_st.logs[s_st.n_logs++], S_PATH, "%s", path);
}

/* Whole file as a NUL-terminated string, or NULL. Caller frees. */
static char *s_slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = cg_calloc(cap, 1);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            buf = cg_realloc(buf, cap * 2, 1);
            cap *= 2;
        }
    }
    buf[len] = 0;
    fclose(f);
    if (len_out)
        *len_out = len;
    return buf;
}

static void s_print_tail(const char *path, int lines)
{
    size_t len = 0;
    char *text = s_slurp(path, &len);
    printf("\n---- last %d lines of %s ----\n", lines, path);
    if (!text) {
        printf("(no file)\n");
        return;
    }
    const char *p = text + len;
    for (int n = 0; p > text; p--)
        if (p[-1] == '\n' && p != text + len && ++n >= lines)
            break;
    fwrite(p, 1, (size_t)(text + len - p), stdout);
    printf("---- end of %s ----\n", path);
    free(text);
}

/* Copies the last line of the file at path containing needle into line; 1 if found. */
static int s_log_line(const char *path, const char *needle, char *line, size_t len)
{
    char *text = s_slurp(path, NULL);
    int found = 0;
    if (text) {
        const char *hit = NULL, *p = text;
        while ((p = strstr(p, needle)) != NULL)
            hit = p++;
        if (hit) {
            const char *start = hit, *end = strchr(hit, '\n');
            while (start > text && start[-1] != '\n')
                start--;
            size_t n = end ? (size_t)(end - start) : strlen(start);
            if (line && len) {
                if (n >= len)
                    n = len - 1;
                memcpy(line, start, n);
                line[n] = 0;
            }
            found = 1;
        }
    }
    free(text);
    return found;
}

/* Waits until the file at path has a line containing needle (copied into line). Fails
 * early when watch exits. 0 on success. */
static int s_wait_log(const char *path, const char *needle, double timeout_s, pid_t watch,
                      char *line, size_t len)
{
    double deadline = cg_os_now() + timeout_s;
    for (;;) {
        if (s_log_line(path, needle, line, len))
            return 0;
        if (!cg_proc_running(watch)) {
            printf("\nprocess %d exited before \"%s\" appeared in %s\n", (int)watch, needle, path);
            return -1;
        }
        if (cg_os_now() > deadline) {
            printf("\nno \"%s\" in %s within %.0f s\n", needle, path, timeout_s);
            return -1;
        }
        cg_proc_sleep_ms(50);
    }
}

/* The learner's control port from dir/endpoint ("host:port\n", written after binding). */
static int s_wait_port(const char *dir, double timeout_s, pid_t learner)
{
    char path[S_PATH];
    s_path(path, dir, "endpoint");
    double deadline = cg_os_now() + timeout_s;
    while (cg_os_now() < deadline) {
        char *text = s_slurp(path, NULL);
        const char *colon = text ? strrchr(text, ':') : NULL;
        int port = colon && strchr(colon, '\n') ? atoi(colon + 1) : 0;
        free(text);
        if (port > 0 && port < 65536)
            return port;
        if (!cg_proc_running(learner)) {
            printf("\nlearner exited before writing %s\n", path);
            return -1;
        }
        cg_proc_sleep_ms(20);
    }
    printf("\nno endpoint in %s within %.0f s\n", path, timeout_s);
    return -1;
}

/* ---- metrics.csv ----------------------------------------------------------------------- */

/* dir/metrics.csv through the learner's reader: 0, or -1 before it has a header. */
static int s_csv_load(const char *dir, cg_metrics_table_t *c)
{
    char err[512];
    return cg_metrics_load(dir, c, err, sizeof err) == CG_OK ? 0 : -1;
}

/* Polls dir/metrics.csv until it has at least min_rows rows and, when alive >= 0, a row at
 * index from_row or later whose actors_alive equals alive (its index into *found). Fails
 * early when watch exits. 0 on success, -1 (message printed) otherwise; csv keeps the last
 * load either way. */
static int s_wait_metrics(const char *dir, int min_rows, int from_row, int alive, double timeout_s,
                          pid_t watch, cg_metrics_table_t *csv, int *found)
{
    double deadline = cg_os_now() + timeout_s;
    for (;;) {
        if (s_csv_load(dir, csv) == 0 && csv->n_rows >= min_rows) {
            if (alive < 0)
                return 0;
            for (int r = from_row; r < csv->n_rows; r++)
                if (cg_metrics_get(csv, r, "actors_alive") == alive) {
                    if (found)
                        *found = r;
                    return 0;
                }
        }
        if (!cg_proc_running(watch)) {
            printf("\nlearner exited while waiting for %d metrics rows (actors_alive %d from row "
                   "%d); %d rows\n",
                   min_rows, alive, from_row, csv->n_rows);
            return -1;
        }
        if (cg_os_now() > deadline) {
            printf("\ntimed out after %.0f s waiting for %d metrics rows (actors_alive %d from "
                   "row %d); %d rows\n",
                   timeout_s, min_rows, alive, from_row, csv->n_rows);
            return -1;
        }
        cg_proc_sleep_ms(50);
    }
}

/* ---- processes ------------------------------------------------------------------------- */

typedef struct {
    const char *v[96];
    int n;
} s_argv_t;

static void s_arg(s_argv_t *a, const char *s)
{
    CG_ASSERT(a->n < 95);
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void s_sets(s_argv_t *a, const char *const *sets)
{
    for (; sets && *sets; sets++) {
        s_arg(a, "--set");
        s_arg(a, *sets);
    }
}

static pid_t s_spawn(const s_argv_t *a, const char *log, const char *const *env)
{
    s_add_log(log);
    return cg_proc_spawn(a->v, env ? env : s_env, log);
}

/* `cgrpo learner` on dir (resume: --resume dir) with sets; output in dir/log_name; env NULL:
 * the usual environment. */
static pid_t s_start_learner(const char *dir, int resume, const char *const *sets,
                             const char *log_name, const char *const *env)
{
    char log[S_PATH];
    s_path(log, dir, log_name);
    s_argv_t a = {{0}, 0};
    s_arg(&a, CG_CGRPO_BIN);
    s_arg(&a, "learner");
    s_arg(&a, "--no-progress");
    s_arg(&a, resume ? "--resume" : "--run-dir");
    s_arg(&a, dir);
    s_sets(&a, sets);
    return s_spawn(&a, log, env);
}

/* `cgrpo actor --connect 127.0.0.1:port --actor-id id`; output in dir/log_name. */
static pid_t s_start_actor(const char *dir, int port, int id, const char *log_name)
{
    char log[S_PATH], endpoint[64], ids[32];
    s_path(log, dir, log_name);
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", port);
    snprintf(ids, sizeof ids, "%d", id);
    s_argv_t a = {{0}, 0};
    s_arg(&a, CG_CGRPO_BIN);
    s_arg(&a, "actor");
    s_arg(&a, "--connect");
    s_arg(&a, endpoint);
    s_arg(&a, "--actor-id");
    s_arg(&a, ids);
    return s_spawn(&a, log, NULL);
}

/* Exit code of pid within timeout_s, or -1 if it is still running then. */
static int s_exit_code(pid_t pid, double timeout_s)
{
    int st = 0;
    if (cg_proc_wait(pid, (int)(timeout_s * 1000), &st) != 0) {
        printf("\nprocess %d still running after %.0f s\n", (int)pid, timeout_s);
        return -1;
    }
    return cg_proc_exit_code(st);
}

/* SIGTERM, then the exit code within timeout_s (-1: still running). */
static int s_stop(pid_t pid, double timeout_s)
{
    cg_proc_signal(pid, SIGTERM);
    return s_exit_code(pid, timeout_s);
}

/* ---- per-test frame ---------------------------------------------------------------------- */

/* Makes the run directory root/name into dir and starts the failure bookkeeping. */
static void s_begin(const char *name, char *dir)
{
    cg_proc_kill_all();
    s_st.n_logs = 0;
    s_st.failures_at_start = CU_get_number_of_failures();
    s_path(dir, s_st.root, name);
    mkdir(dir, 0755);
}

/* Prints the logs of a failed test, then kills whatever it left running. */
static void s_end(void)
{
    if (CU_get_number_of_failures() > s_st.failures_at_start)
        for (int i = 0; i < s_st.n_logs; i++)
            s_print_tail(s_st.logs[i], 40);
    cg_proc_kill_all();
    s_st.n_logs = 0;
}

static int s_suite_init(void)
{
    return cg_proc_tmpdir("cgrpo-int", s_st.root, sizeof s_st.root);
}

static int s_suite_clean(void)
{
    cg_proc_kill_all();
    if (getenv("CG_KEEP_TMP"))
        printf("\nrun directories kept in %s\n", s_st.root);
    else
        cg_proc_rmtree(s_st.root);
    return 0;
}

static void s_atexit_clean(void)
{
    cg_proc_kill_all();
    if (s_st.root[0] && !getenv("CG_KEEP_TMP"))
        cg_proc_rmtree(s_st.root);
}

/* ---- 1. learns ------------------------------------------------------------------------ */

/* A short training on an open 3 x 7 room (no lava, goal in the far corner) must raise the
 * goal rate far above where the random initial policy starts: with the updates inline and
 * with them overlapped with ingest on the updater's thread (learner.overlap). */
static void s_learns(const char *name, const char *overlap_set, const char *log_needle)
{
    static const char *const sets[] = {
        "run.seed=3",
        "run.iterations=30",
        "gridworld.map=#########/#S......#/#.......#/#......G#/#########",
        "train.estimator=grpo",
        "policy.lr=0.003",
        "train.groups=16",
        "train.group_size=8",
        "actor.instances=8",
        NULL};
    char dir[S_PATH], log[S_PATH];
    cg_metrics_table_t csv = {0};
    s_begin(name, dir);
    s_path(log, dir, "actor-0.log");
    s_add_log(log);
    s_path(log, dir, "actor-1.log");
    s_add_log(log);
    s_path(log, dir, "train.log");
    s_argv_t a = {{0}, 0};
    s_arg(&a, CG_CGRPO_BIN);
    s_arg(&a, "train");
    s_arg(&a, "--no-progress");
    s_arg(&a, "--actors");
    s_arg(&a, "2");
    s_arg(&a, "--run-dir");
    s_arg(&a, dir);
    s_arg(&a, "--set");
    s_arg(&a, overlap_set);
    s_sets(&a, sets);
    pid_t train = s_spawn(&a, log, NULL);
    CG_TEST_REQUIRE(train > 0);
    CG_TEST_REQUIRE(s_exit_code(train, 60 * S_SLOW) == 0);
    CU_ASSERT(s_log_line(log, log_needle, NULL, 0));
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0);
    CG_TEST_REQUIRE(csv.n_rows == 30);
    double first = 0, last = 0, wait = 0;
    for (int r = 0; r < 3; r++) {
        first += cg_metrics_get(&csv, r, "goal_rate") / 3;
        last += cg_metrics_get(&csv, csv.n_rows - 3 + r, "goal_rate") / 3;
    }
    for (int r = 0; r < csv.n_rows; r++)
        wait += cg_metrics_get(&csv, r, "update_wait_s");
    /* Credit flow: actors produce what will be trained on, not groups dropped as stale. */
    double stale = cg_metrics_get(&csv, csv.n_rows - 1, "dropped_stale");
    double used = cg_metrics_get(&csv, csv.n_rows - 1, "groups_ingested");
    printf("\n  %s: goal_rate first 3 rows %.3f, last 3 rows %.3f; updater idle %.2f s; "
           "%.0f groups stale of %.0f\n",
           overlap_set, first, last, wait, stale, stale + used);
    CU_ASSERT(used >= 30 * 16);
    CU_ASSERT(stale <= 0.05 * (stale + used));
    CU_ASSERT(first < 0.5);
    CU_ASSERT(last >= first + 0.4);
    CU_ASSERT(last >= 0.8);
    CU_ASSERT(wait >= 0);
done:
    cg_metrics_table_free(&csv);
    s_end();
}

static void test_integration_learns(void)
{
    s_learns("learns", "learner.overlap=off", "backend cpu, ");
    s_learns("learns-overlap", "learner.overlap=on", "backend cpu (overlapped updates)");
}

/* A peer of our own on the learner's control port: cfg (defaults, finished) gives its caps;
 * *tp and *dealer are the caller's to close. 0, or -1. */
static int s_peer_connect(int port, cg_config_t *cfg, cg_msg_caps_t *caps, cg_transport_t **tp,
                          cg_socket_t **dealer)
{
    char err[512];
    cg_config_defaults(cfg);
    if (cg_config_finish(cfg, err, sizeof err) != CG_OK)
        return -1;
    cg_msg_caps_from(cfg, caps);
    cg_socket_opts_t sopts = {1000, cfg->max_msg_bytes};
    *tp = cg_transport_new();
    *dealer = *tp ? cg_transport_socket(*tp, CG_SOCK_DEALER, &sopts) : NULL;
    return *dealer && cg_transport_connect(*dealer, "127.0.0.1", port) == CG_OK ? 0 : -1;
}

/* Waits for the Welcome to a Hello sent on dealer; replies that are not one are dropped
 * (recv leaves *welcome empty on errors). 0, or -1 when none came. */
static int s_await_welcome(cg_socket_t *dealer, const cg_msg_caps_t *caps, cg_msg_t *welcome)
{
    char err[512];
    double deadline = cg_os_now() + 10 * S_SLOW;
    while (welcome->type != CG_MSG_WELCOME && cg_os_now() < deadline) {
        int ready = 0;
        if (cg_transport_poll(&dealer, 1, 100, &ready) != CG_OK || !ready)
            continue;
        if (cg_transport_recv(dealer, caps, NULL, welcome, NULL, NULL, NULL, err, sizeof err) ==
                CG_OK &&
            welcome->type != CG_MSG_WELCOME)
            cg_msg_free(welcome);
    }
    return welcome->type == CG_MSG_WELCOME ? 0 : -1;
}

/* A peer that says it follows credits, takes its grants and heartbeats on but never sends a
 * group (stuck or hostile) must not stall training (and, first and alone, it is granted a
 * quarter of the window, not all of it): after a heartbeat timeout the learner
 * takes its grants back and keeps it on probation (one group at a time, outside the window),
 * so the honest actor fills the batches. Without that the batch never fills. */
static void test_integration_credit_hoarder(void)
{
    static const char *const sets[] = {"train.groups=8",
                                       "train.group_size=4",
                                       "actor.instances=8",
                                       "run.iterations=12",
                                       "actor.heartbeat_ms=100",
                                       "learner.heartbeat_timeout_ms=800",
                                       NULL};
    char dir[S_PATH], err[512];
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    cg_transport_t *tp = NULL;
    cg_socket_t *dealer = NULL;
    cg_msg_t welcome = {0};
    long granted = 0, first_grant = -1;
    s_begin("credit_hoarder", dir);
    pid_t learner = s_start_learner(dir, 0, sets, "learner.log", NULL);
    CG_TEST_REQUIRE(learner > 0);
    int port = s_wait_port(dir, 10 * S_SLOW, learner);
    CG_TEST_REQUIRE(port > 0);

    cg_msg_caps_t caps;
    CG_TEST_REQUIRE(s_peer_connect(port, cfg, &caps, &tp, &dealer) == 0);
    cg_msg_t hello = {.type = CG_MSG_HELLO};
    hello.u.hello = (cg_msg_hello_t){.actor_id = 7, .pid = (int32_t)getpid(), .credits = 1};
    snprintf(hello.u.hello.host, sizeof hello.u.hello.host, "%s", "hoarder");
    CG_TEST_REQUIRE(cg_transport_send(dealer, NULL, 0, &hello) == CG_OK);
    /* The hoarder joins first, so it holds grants before the honest actor exists. */
    CG_TEST_REQUIRE(s_await_welcome(dealer, &caps, &welcome) == 0 && welcome.u.welcome.credits);
    double deadline;
    pid_t actor = s_start_actor(dir, port, 0, "actor-0.log");
    CG_TEST_REQUIRE(actor > 0);
    /* Heartbeat on, take every grant, send nothing, until the learner is done. */
    cg_msg_t hb = {.type = CG_MSG_HEARTBEAT};
    snprintf(hb.run_id, sizeof hb.run_id, "%s", welcome.run_id);
    hb.u.heartbeat =
        (cg_msg_heartbeat_t){.actor_id = welcome.u.welcome.actor_id, .weights_latency_s = -1};
    int exited = 0;
    double t0 = cg_os_now();
    deadline = t0 + 60 * S_SLOW;
    while (!exited && cg_os_now() < deadline) {
        (void)cg_transport_send(dealer, NULL, 0, &hb);
        int ready = 0;
        double t_next = cg_os_now() + 0.1;
        while (cg_os_now() < t_next) {
            if (cg_transport_poll(&dealer, 1, 20, &ready) != CG_OK || !ready)
                continue;
            cg_msg_t in = {0};
            if (cg_transport_recv(dealer, &caps, NULL, &in, NULL, NULL, NULL, err, sizeof err) ==
                    CG_OK &&
                in.type == CG_MSG_HEARTBEAT) {
                if (first_grant < 0 && in.u.heartbeat.credit > 0)
                    first_grant = in.u.heartbeat.credit;
                granted += in.u.heartbeat.credit;
            }
            cg_msg_free(&in);
        }
        int st = 0;
        exited = cg_proc_wait(learner, 0, &st) == 0;
    }
    double took = cg_os_now() - t0;
    printf("\n  hoarder was granted %ld groups and sent none; learner %s after %.1f s\n", granted,
           exited ? "finished" : "stalled", took);
    CU_ASSERT(granted > 0);
    /* alone, it still holds at most a quarter of the window (B = 8): room for later actors */
    CU_ASSERT(first_grant > 0 && first_grant <= 2);
    CU_ASSERT(exited);
    CU_ASSERT(took < 6 * S_SLOW); /* one timeout of delay (0.8 s), not one per batch */
    cg_metrics_table_t csv = {0};
    if (s_csv_load(dir, &csv) == 0) {
        CU_ASSERT_EQUAL(csv.n_rows, 12);
        cg_metrics_table_free(&csv);
    } else {
        CU_FAIL("no metrics.csv");
    }
done:
    cg_msg_free(&welcome);
    cg_transport_close(&dealer);
    cg_transport_destroy(&tp);
    free(cfg);
    s_end();
}

/* ---- 2. actor killed ------------------------------------------------------------------- */

/* Sleep simulator (1 ms per step per instance): ~7 iterations/s with two actors. */
#define S_PACED_SETS                                                                               \
    "sim.name=sleep", "sleep.step_us=1000", "sim.horizon=16", "train.groups=4",                    \
        "train.group_size=4", "train.minibatches=1", "actor.instances=4",                          \
        "actor.heartbeat_ms=100", "learner.heartbeat_timeout_ms=800"

/* Killing one of two actors: training goes on with one (actors_alive 1); an actor started
 * with the same id gets the learner's current version in its Welcome, and actors_alive
 * returns to 2. */
static void test_integration_actor_killed(void)
{
    static const char *const sets[] = {S_PACED_SETS, "run.iterations=100000", NULL};
    char dir[S_PATH], log[S_PATH], line[1024];
    cg_metrics_table_t csv = {0};
    s_begin("actor_killed", dir);
    pid_t learner = s_start_learner(dir, 0, sets, "learner.log", NULL);
    CG_TEST_REQUIRE(learner > 0);
    int port = s_wait_port(dir, 10 * S_SLOW, learner);
    CG_TEST_REQUIRE(port > 0);
    pid_t a0 = s_start_actor(dir, port, 0, "actor-0.log");
    pid_t a1 = s_start_actor(dir, port, 1, "actor-1.log");
    CG_TEST_REQUIRE(a0 > 0 && a1 > 0);
    int row = -1;
    CG_TEST_REQUIRE(s_wait_metrics(dir, 3, 0, 2, 15 * S_SLOW, learner, &csv, &row) == 0);

    int n_kill = csv.n_rows;
    cg_proc_kill(a0);
    double t_kill = cg_os_now();
    /* heartbeat_timeout_ms 800, then a few seconds at most. */
    CG_TEST_REQUIRE(
        s_wait_metrics(dir, n_kill + 1, n_kill, 1, (0.8 + 5) * S_SLOW, learner, &csv, &row) == 0);
    printf("\n  actors_alive 1 in row %d, %.1f s after the kill\n", row + 1, cg_os_now() - t_kill);
    CG_TEST_REQUIRE(s_wait_metrics(dir, row + 4, 0, -1, 5 * S_SLOW, learner, &csv, NULL) == 0);
    CU_ASSERT(cg_metrics_get(&csv, -1, "actors_alive") == 1);
    double v_before = cg_metrics_get(&csv, -1, "version");

    pid_t a0b = s_start_actor(dir, port, 0, "actor-0-again.log");
    CG_TEST_REQUIRE(a0b > 0);
    s_path(log, dir, "actor-0-again.log");
    CG_TEST_REQUIRE(
        s_wait_log(log, "welcome: actor 0 in run", 10 * S_SLOW, a0b, line, sizeof line) == 0);
    const char *at = strstr(line, " at version ");
    unsigned long long welcome_v = 0;
    CG_TEST_REQUIRE(at && sscanf(at, " at version %llu", &welcome_v) == 1);
    printf("  restarted actor welcomed at version %llu (learner was at %.0f before)\n", welcome_v,
           v_before);
    CU_ASSERT(welcome_v > 0);
    CU_ASSERT((double)welcome_v >= v_before);

    int n_restart = csv.n_rows;
    CG_TEST_REQUIRE(s_wait_metrics(dir, 0, n_restart, 2, 10 * S_SLOW, learner, &csv, &row) == 0);
    CG_TEST_REQUIRE(s_wait_metrics(dir, row + 3, 0, -1, 5 * S_SLOW, learner, &csv, NULL) == 0);

    CU_ASSERT(s_stop(learner, 10 * S_SLOW) == 130); /* interrupted: checkpoint, then exit */
    CU_ASSERT(s_stop(a1, 5 * S_SLOW) == 0);
    CU_ASSERT(s_stop(a0b, 5 * S_SLOW) == 0);
done:
    cg_metrics_table_free(&csv);
    s_end();
}

/* ---- 3. learner killed ----------------------------------------------------------------- */

/* SIGKILL the learner after >= 5 iterations; its actors keep running; `cgrpo learner
 * --resume` continues from the last checkpoint (version V, metrics go on from V + 1) on the
 * same port; the same actor processes reconnect and finish the run, then exit by themselves
 * with status 0 when the learner says training is done. */
static void test_integration_learner_killed(void)
{
    enum { ITERS = 24 };
    static const char *const sets[] = {S_PACED_SETS, "run.iterations=24", "run.checkpoint_every=2",
                                       NULL};
    char dir[S_PATH], path[S_PATH], line[1024], err[512], needle[128];
    cg_metrics_table_t csv = {0};
    s_begin("learner_killed", dir);
    pid_t learner = s_start_learner(dir, 0, sets, "learner.log", NULL);
    CG_TEST_REQUIRE(learner > 0);
    int port = s_wait_port(dir, 10 * S_SLOW, learner);
    CG_TEST_REQUIRE(port > 0);
    pid_t act[2];
    act[0] = s_start_actor(dir, port, 0, "actor-0.log");
    act[1] = s_start_actor(dir, port, 1, "actor-1.log");
    CG_TEST_REQUIRE(act[0] > 0 && act[1] > 0);
    CG_TEST_REQUIRE(s_wait_metrics(dir, 5, 0, -1, 15 * S_SLOW, learner, &csv, NULL) == 0);

    cg_proc_kill(learner);
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0);
    int n_kill = csv.n_rows;
    double v_last = cg_metrics_get(&csv, -1, "version");
    CG_TEST_REQUIRE(n_kill < ITERS); /* else the run ended before the kill: nothing to test */

    cg_proc_sleep_ms(2000);
    CU_ASSERT(cg_proc_running(act[0]));
    CU_ASSERT(cg_proc_running(act[1]));

    char ckpt_dir[S_PATH];
    s_path(ckpt_dir, dir, "checkpoints");
    int64_t v_ckpt = -1;
    CG_TEST_REQUIRE(cg_ckpt_latest(ckpt_dir, path, sizeof path, &v_ckpt, err, sizeof err) == CG_OK);
    printf("\n  killed at %d rows (version %.0f); latest checkpoint version %lld\n", n_kill, v_last,
           (long long)v_ckpt);
    CG_TEST_REQUIRE(v_ckpt >= 4 && (double)v_ckpt <= v_last);

    learner = s_start_learner(dir, 1, NULL, "learner-resumed.log", NULL);
    CG_TEST_REQUIRE(learner > 0);
    CG_TEST_REQUIRE(s_exit_code(learner, 30 * S_SLOW) == 0);

    s_path(path, dir, "learner-resumed.log");
    CG_TEST_REQUIRE(s_log_line(path, "resumed from", line, sizeof line));
    const char *at = strstr(line, ": version ");
    unsigned long long v_resumed = 0;
    CG_TEST_REQUIRE(at && sscanf(at, ": version %llu", &v_resumed) == 1);
    CU_ASSERT(v_resumed == (unsigned long long)v_ckpt);
    for (int i = 0; i < 2; i++) {
        /* The resumed learner welcomed the very same processes ... */
        snprintf(needle, sizeof needle, ", pid %d) at version", (int)act[i]);
        CU_ASSERT(s_log_line(path, needle, NULL, 0));
        /* ... which noticed the loss and came back by themselves. */
        char alog[S_PATH];
        s_path(alog, dir, i ? "actor-1.log" : "actor-0.log");
        CU_ASSERT(s_log_line(alog, "reconnected to the learner", NULL, 0));
    }

    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0);
    printf("  resumed at version %llu; %d rows after the restart\n", v_resumed,
           csv.n_rows - n_kill);
    CG_TEST_REQUIRE(csv.n_rows > n_kill);
    CU_ASSERT(cg_metrics_get(&csv, n_kill, "version") == (double)v_resumed + 1);
    for (int r = n_kill + 1; r < csv.n_rows; r++)
        CU_ASSERT(cg_metrics_get(&csv, r, "version") == cg_metrics_get(&csv, r - 1, "version") + 1);
    CU_ASSERT(cg_metrics_get(&csv, -1, "iteration") == ITERS);
    CU_ASSERT(cg_metrics_get(&csv, -1, "version") == ITERS);

    /* The actors exit on the learner's done, with status 0, and say so as they leave. */
    CU_ASSERT(s_exit_code(act[0], 10 * S_SLOW) == 0);
    CU_ASSERT(s_exit_code(act[1], 10 * S_SLOW) == 0);
    for (int i = 0; i < 2; i++) {
        snprintf(needle, sizeof needle, "pid %d) left", (int)act[i]);
        CU_ASSERT(s_log_line(path, needle, NULL, 0));
    }
done:
    cg_metrics_table_free(&csv);
    s_end();
}

/* ---- 4. malformed flood ---------------------------------------------------------------- */

typedef struct {
    uint8_t *data[64];
    size_t len[64];
    int n;
} s_blobs_t;

static void s_blob_add(s_blobs_t *b, uint8_t *data, size_t len)
{
    CG_ASSERT(b->n < 64);
    b->data[b->n] = data;
    b->len[b->n++] = len;
}

static void s_blob_encode(s_blobs_t *b, const cg_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    CG_ASSERT(cg_msg_encode(msg, &buf, &len) == CG_OK);
    s_blob_add(b, buf, len);
}

static void s_blobs_free(s_blobs_t *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->data[i]);
    b->n = 0;
}

/* The run's config, as an actor reads it from its Welcome, into cfg, and the run's simulator
 * kind (its shapes and cost names); NULL (the reason printed) when either fails. */
static cg_sim_kind_t *s_welcome_kind(cg_config_t *cfg, const cg_msg_welcome_t *w)
{
    char err[512] = "";
    cg_sim_kind_t *kind = NULL;
    cg_config_defaults(cfg);
    if (cg_config_load_string(cfg, w->config_text, "welcome", err, sizeof err) == CG_OK &&
        cg_sim_configure(cfg, err, sizeof err) == CG_OK &&
        cg_config_finish(cfg, err, sizeof err) == CG_OK)
        kind = cg_sim_kind_new(cfg, err, sizeof err);
    if (!kind)
        printf("\n  the Welcome's config: %s\n", err);
    return kind;
}

/* One group of G short episodes of the run's shape, every array its own block. */
static void s_batch_fill(cg_msg_t *m, const char *run_id, uint64_t version, int32_t G,
                         int32_t n_costs, int32_t obs_dim, int32_t n_actions)
{
    enum { LEN = 3 };
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_GROUPS;
    snprintf(m->run_id, sizeof m->run_id, "%s", run_id);
    cg_msg_groups_t *g = &m->u.groups;
    *g = (cg_msg_groups_t){.policy_version = version,
                           .actor_id = 77,
                           .seq = 1,
                           .group_size = G,
                           .n_costs = n_costs,
                           .obs_dim = obs_dim,
                           .n_actions = n_actions,
                           .n_groups = 1};
    g->groups = cg_calloc(1, sizeof *g->groups);
    g->groups[0].init_seed = 5;
    g->groups[0].episodes = cg_calloc((size_t)G, sizeof *g->groups[0].episodes);
    for (int32_t i = 0; i < G; i++) {
        cg_msg_episode_t *ep = &g->groups[0].episodes[i];
        ep->reward = (float)(i % 2);
        ep->length = LEN;
        ep->temperature = 1.0f;
        ep->obs = cg_calloc((size_t)LEN * (size_t)obs_dim, sizeof *ep->obs);
        ep->action = cg_calloc(LEN, sizeof *ep->action);
        ep->logp = cg_calloc(LEN, sizeof *ep->logp);
        for (int t = 0; t < LEN; t++)
            ep->logp[t] = -1.0f;
    }
}

/* A learner and one actor train while the test talks to the learner itself: garbage and a
 * foreign hello on the control socket, then (with the data port from a Welcome obtained by a
 * legitimate hello) group batches that are random bytes, truncated, of another protocol
 * version or run, of the wrong shape, non-finite, with fractional costs, positive
 * log-probabilities, a future policy version, or not group batches at all. Training must
 * complete, the learner must exit 0, and it must have counted every bad message it got. */
static void test_integration_malformed_flood(void)
{
    static const char *const sets[] = {"train.groups=8",
                                       "train.group_size=4",
                                       "actor.instances=8",
                                       "train.epochs=30",
                                       "run.iterations=40",
                                       "actor.heartbeat_ms=100",
                                       NULL};
    enum { ROUNDS = 5 };
    char dir[S_PATH], err[512];
    cg_metrics_table_t csv = {0};
    s_blobs_t bad = {{0}, {0}, 0};
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    cg_msg_t welcome = {0}, tmpl = {0}, m = {0};
    cg_sim_kind_t *kind = NULL;
    cg_transport_t *tp = NULL;
    cg_socket_t *dealer = NULL, *push = NULL;
    char *summary = NULL;
    uint8_t *valid = NULL;
    size_t valid_len = 0;
    cg_rng_t rng;
    cg_rng_seed(&rng, 42, 1);
    s_begin("malformed_flood", dir);

    pid_t learner = s_start_learner(dir, 0, sets, "learner.log", NULL);
    CG_TEST_REQUIRE(learner > 0);
    int port = s_wait_port(dir, 10 * S_SLOW, learner);
    CG_TEST_REQUIRE(port > 0);
    pid_t actor = s_start_actor(dir, port, 0, "actor-0.log");
    CG_TEST_REQUIRE(actor > 0);
    CG_TEST_REQUIRE(s_wait_metrics(dir, 2, 0, -1, 20 * S_SLOW, learner, &csv, NULL) == 0);

    cg_msg_caps_t caps;
    CG_TEST_REQUIRE(s_peer_connect(port, cfg, &caps, &tp, &dealer) == 0);
    CG_TEST_REQUIRE(cg_transport_wait_writable(dealer, (int)(5000 * S_SLOW)) == CG_OK);

    /* Control socket: 3 random blobs, a hello of another run, then our own legitimate hello. */
    int bad_ctrl = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t junk[97];
        for (size_t k = 0; k < sizeof junk; k++)
            junk[k] = (uint8_t)cg_rng_u32(&rng);
        CG_TEST_REQUIRE(cg_transport_send_raw(dealer, NULL, 0, junk, 17 + 40 * (size_t)i) == CG_OK);
        bad_ctrl++;
    }
    m = (cg_msg_t){.type = CG_MSG_HELLO};
    snprintf(m.run_id, sizeof m.run_id, "%s", "some-other-run");
    m.u.hello.actor_id = 5;
    m.u.hello.pid = (int32_t)getpid();
    CG_TEST_REQUIRE(cg_transport_send(dealer, NULL, 0, &m) == CG_OK);
    bad_ctrl++;
    m.run_id[0] = 0;
    m.u.hello.actor_id = -1;
    snprintf(m.u.hello.host, sizeof m.u.hello.host, "%s", "integration-test");
    CG_TEST_REQUIRE(cg_transport_send(dealer, NULL, 0, &m) == CG_OK);
    CG_TEST_REQUIRE(s_await_welcome(dealer, &caps, &welcome) == 0);
    const cg_msg_welcome_t *w = &welcome.u.welcome;
    const char *run_id = welcome.run_id;
    CG_TEST_REQUIRE(w->data_port > 0 && w->config_text);

    /* Two heartbeats the learner must refuse: an id we were not given, another run. */
    m = (cg_msg_t){.type = CG_MSG_HEARTBEAT};
    snprintf(m.run_id, sizeof m.run_id, "%s", run_id);
    m.u.heartbeat = (cg_msg_heartbeat_t){.actor_id = 4242, .weights_latency_s = -1};
    CG_TEST_REQUIRE(cg_transport_send(dealer, NULL, 0, &m) == CG_OK);
    snprintf(m.run_id, sizeof m.run_id, "%s", "some-other-run");
    m.u.heartbeat.actor_id = w->actor_id;
    CG_TEST_REQUIRE(cg_transport_send(dealer, NULL, 0, &m) == CG_OK);
    bad_ctrl += 2;

    /* The run's shape, from the config the Welcome carries, as an actor reads it. */
    kind = s_welcome_kind(cfg, w);
    CG_TEST_REQUIRE(kind != NULL);
    const cg_sim_info_t *info = cg_sim_kind_info(kind);
    CG_TEST_REQUIRE(info->n_costs >= 1);
    CG_TEST_REQUIRE(info->obs_dim == w->obs_dim && info->n_actions == w->n_actions);
    int32_t G = w->group_size, D = w->obs_dim, A = w->n_actions, K = info->n_costs;

    /* The template is valid: it decodes cleanly, so each fault below is the only one. */
    s_batch_fill(&tmpl, run_id, w->version, G, K, D, A);
    s_blob_encode(&bad, &tmpl);
    cg_msg_t check;
    CG_TEST_REQUIRE(
        cg_msg_decode(bad.data[0], bad.len[0], &caps, run_id, &check, err, sizeof err) == CG_OK);
    cg_msg_free(&check);
    valid = bad.data[0];
    valid_len = bad.len[0];
    bad.n = 0;

    /* Random bytes; the valid message cut short at four points. */
    for (int i = 0; i < 4; i++) {
        size_t len = 1 + cg_rng_below(&rng, 300);
        uint8_t *junk = cg_calloc(len, 1);
        for (size_t k = 0; k < len; k++)
            junk[k] = (uint8_t)cg_rng_u32(&rng);
        s_blob_add(&bad, junk, len);
    }
    size_t cuts[4] = {1, valid_len / 3, valid_len / 2, valid_len - 1};
    for (int i = 0; i < 4; i++) {
        uint8_t *part = cg_calloc(cuts[i], 1);
        memcpy(part, valid, cuts[i]);
        s_blob_add(&bad, part, cuts[i]);
    }
    /* Another protocol version: the envelope starts with field 1 (protocol) = 1. */
    CG_TEST_REQUIRE(valid_len > 2 && valid[0] == 0x08 && valid[1] == CG_PROTOCOL_VERSION);
    uint8_t *ver = cg_calloc(valid_len, 1);
    memcpy(ver, valid, valid_len);
    ver[1] = CG_PROTOCOL_VERSION + 1;
    s_blob_add(&bad, ver, valid_len);
    free(valid);
    valid = NULL;

    /* One fault each, through the encoder. Each edit is undone before the next. */
    snprintf(tmpl.run_id, sizeof tmpl.run_id, "%s", "some-other-run");
    s_blob_encode(&bad, &tmpl);
    snprintf(tmpl.run_id, sizeof tmpl.run_id, "%s", run_id);
    cg_msg_groups_t *g = &tmpl.u.groups;
    cg_msg_episode_t *ep = &g->groups[0].episodes[1];
    ep->reward = NAN;
    s_blob_encode(&bad, &tmpl);
    ep->reward = 1;
    ep->obs[2] = INFINITY;
    s_blob_encode(&bad, &tmpl);
    ep->obs[2] = 3e38f; /* finite, beyond CG_MAX_ABS_OBS */
    s_blob_encode(&bad, &tmpl);
    ep->obs[2] = 0;
    ep->logp[1] = NAN;
    s_blob_encode(&bad, &tmpl);
    ep->logp[1] = 0.5f; /* a log-probability above 0 */
    s_blob_encode(&bad, &tmpl);
    ep->logp[1] = -1;
    ep->cost[0] = 0.5f;
    s_blob_encode(&bad, &tmpl);
    ep->cost[0] = 0;
    ep->temperature = 0;
    s_blob_encode(&bad, &tmpl);
    ep->temperature = 1;
    ep->action[0] = A; /* outside [0, n_actions) */
    s_blob_encode(&bad, &tmpl);
    ep->action[0] = 0;
    g->n_costs = K + 1; /* costs arrays say K+1 values: consistent, but not this run's K */
    s_blob_encode(&bad, &tmpl);
    g->n_costs = K;
    g->n_actions = A + 1; /* not this run's action count */
    s_blob_encode(&bad, &tmpl);
    g->n_actions = A;
    g->group_size = G - 1; /* G-1 episodes: not this run's G */
    s_blob_encode(&bad, &tmpl);
    g->group_size = G;
    g->policy_version = w->version + 1000; /* from a policy the learner never had */
    s_blob_encode(&bad, &tmpl);
    g->policy_version = w->version;
    /* obs_dim one larger with obs arrays to match: self-consistent, wrong for this run. */
    for (int32_t i = 0; i < G; i++) {
        cg_msg_episode_t *e = &g->groups[0].episodes[i];
        e->obs = cg_realloc(e->obs, (size_t)e->length * (size_t)(D + 1), sizeof *e->obs);
        memset(e->obs, 0, (size_t)e->length * (size_t)(D + 1) * sizeof *e->obs);
    }
    g->obs_dim = D + 1;
    s_blob_encode(&bad, &tmpl);
    g->obs_dim = D;
    /* Not a group batch at all: a hello on the data socket. */
    m = (cg_msg_t){.type = CG_MSG_HELLO};
    snprintf(m.run_id, sizeof m.run_id, "%s", run_id);
    s_blob_encode(&bad, &m);

    /* Flood: every bad message ROUNDS times, counting those that left our queue. */
    cg_socket_opts_t sopts = {1000, cfg->max_msg_bytes};
    push = cg_transport_socket(tp, CG_SOCK_PUSH, &sopts);
    CG_TEST_REQUIRE(push && cg_transport_connect(push, "127.0.0.1", w->data_port) == CG_OK);
    int bad_data = 0, not_sent = 0;
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < bad.n; i++) {
            if (cg_transport_wait_writable(push, (int)(2000 * S_SLOW)) == CG_OK &&
                cg_transport_send_raw(push, NULL, 0, bad.data[i], bad.len[i]) == CG_OK)
                bad_data++;
            else
                not_sent++;
        }
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0);
    int rows_at_flood_end = csv.n_rows;

    CG_TEST_REQUIRE(s_exit_code(learner, 40 * S_SLOW) == 0);
    CU_ASSERT(s_exit_code(actor, 10 * S_SLOW) == 0);
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0);
    char path[S_PATH];
    s_path(path, dir, "summary.json");
    summary = s_slurp(path, NULL);
    CG_TEST_REQUIRE(summary != NULL);
    const char *rj = strstr(summary, "\"rejected_msgs\":");
    CG_TEST_REQUIRE(rj != NULL);
    long rejected = strtol(rj + strlen("\"rejected_msgs\":"), NULL, 10);
    int sent = bad_ctrl + bad_data;
    printf("\n  %d bad messages sent (%d control, %d data, %d not sent), learner rejected %ld; "
           "%d of 40 iterations after the flood\n",
           sent, bad_ctrl, bad_data, not_sent, rejected, 40 - rows_at_flood_end);
    CU_ASSERT(rows_at_flood_end < 40); /* training went on after the flood */
    CU_ASSERT(csv.n_rows == 40);
    CU_ASSERT(bad_data >= (ROUNDS * bad.n * 9) / 10);
    CU_ASSERT(rejected >= (sent * 9 + 9) / 10);
    CU_ASSERT(rejected <= sent); /* and nothing of the real actor's was refused */
    CU_ASSERT(cg_metrics_get(&csv, -1, "rejected_msgs") > 0);
done:
    free(summary);
    cg_transport_close(&push);
    cg_transport_close(&dealer);
    cg_transport_destroy(&tp);
    s_blobs_free(&bad);
    free(valid);
    cg_msg_free(&tmpl); /* s_batch_fill made every array its own block, as decode does */
    cg_msg_free(&welcome);
    cg_sim_kind_destroy(&kind);
    free(cfg);
    cg_metrics_table_free(&csv);
    s_end();
}

/* Group batches that pass every check and still carry the worst a buggy or hostile actor
 * can put in them: a behaviour log-prob of -120 (the ratio exp(120) overflowed the update
 * and ended the run), rewards of +-3e38, observations at +-CG_MAX_ABS_OBS, under a relu
 * policy. A legitimate peer (Hello, Welcome, its own actor id, the learner's current
 * version from heartbeat replies) sends them while a real actor trains. The run must finish
 * every iteration and exit 0; nothing of it may be non-finite. */
static void test_integration_poisoned_groups(void)
{
    static const char *const sets[] = {S_PACED_SETS, "run.iterations=30", "policy.activation=relu",
                                       NULL};
    char dir[S_PATH], err[512];
    cg_metrics_table_t csv = {0};
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    cg_msg_t welcome = {0}, tmpl = {0}, m = {0};
    cg_sim_kind_t *kind = NULL;
    cg_transport_t *tp = NULL;
    cg_socket_t *dealer = NULL, *push = NULL;
    s_begin("poisoned_groups", dir);
    pid_t learner = s_start_learner(dir, 0, sets, "learner.log", NULL);
    CG_TEST_REQUIRE(learner > 0);
    int port = s_wait_port(dir, 10 * S_SLOW, learner);
    CG_TEST_REQUIRE(port > 0);
    pid_t actor = s_start_actor(dir, port, 0, "actor-0.log");
    CG_TEST_REQUIRE(actor > 0);

    cg_msg_caps_t caps;
    CG_TEST_REQUIRE(s_peer_connect(port, cfg, &caps, &tp, &dealer) == 0);
    m = (cg_msg_t){.type = CG_MSG_HELLO};
    m.u.hello = (cg_msg_hello_t){.actor_id = 9, .pid = (int32_t)getpid()};
    snprintf(m.u.hello.host, sizeof m.u.hello.host, "%s", "poisoner");
    CG_TEST_REQUIRE(cg_transport_send(dealer, NULL, 0, &m) == CG_OK);
    CG_TEST_REQUIRE(s_await_welcome(dealer, &caps, &welcome) == 0);
    const cg_msg_welcome_t *w = &welcome.u.welcome;
    kind = s_welcome_kind(cfg, w);
    CG_TEST_REQUIRE(kind != NULL);
    const int32_t G = w->group_size, D = w->obs_dim, A = w->n_actions,
                  K = cg_sim_kind_info(kind)->n_costs;
    s_batch_fill(&tmpl, welcome.run_id, w->version, G, K, D, A);
    cg_msg_groups_t *g = &tmpl.u.groups;
    g->actor_id = w->actor_id;
    for (int32_t i = 0; i < G; i++) {
        cg_msg_episode_t *ep = &g->groups[0].episodes[i];
        ep->reward = i % 2 ? -3e38f : 3e38f; /* the -120 steps get negative advantages */
        for (int32_t t = 0; t < ep->length; t++) {
            ep->logp[t] = i % 2 ? -120.0f : -1.0f;
            ep->action[t] = i % A;
            for (int32_t d = 0; d < D && i % 2 == 0; d++) /* (the -120 steps see obs 0) */
                ep->obs[t * D + d] = d % 2 ? CG_MAX_ABS_OBS : -CG_MAX_ABS_OBS;
        }
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    cg_msg_t check;
    CG_TEST_REQUIRE(cg_msg_encode(&tmpl, &buf, &len) == CG_OK);
    CG_TEST_REQUIRE(cg_msg_decode(buf, len, &caps, welcome.run_id, &check, err, sizeof err) ==
                    CG_OK);
    cg_msg_free(&check);
    free(buf);

    cg_socket_opts_t sopts = {1000, cfg->max_msg_bytes};
    push = cg_transport_socket(tp, CG_SOCK_PUSH, &sopts);
    CG_TEST_REQUIRE(push && cg_transport_connect(push, "127.0.0.1", w->data_port) == CG_OK);
    cg_msg_t hb = {.type = CG_MSG_HEARTBEAT};
    snprintf(hb.run_id, sizeof hb.run_id, "%s", welcome.run_id);
    hb.u.heartbeat = (cg_msg_heartbeat_t){.actor_id = w->actor_id, .weights_latency_s = -1};
    uint64_t version = w->version;
    int sent = 0, exited = 0, st = 0;
    const double deadline = cg_os_now() + 60 * S_SLOW;
    while (!exited && cg_os_now() < deadline) {
        (void)cg_transport_send(dealer, NULL, 0, &hb);
        g->policy_version = version;
        g->seq = (uint64_t)sent + 1;
        if (cg_transport_wait_writable(push, 100) == CG_OK &&
            cg_transport_send(push, NULL, 0, &tmpl) == CG_OK)
            sent++;
        int ready = 0;
        if (cg_transport_poll(&dealer, 1, 30, &ready) == CG_OK && ready) {
            cg_msg_t in = {0};
            if (cg_transport_recv(dealer, &caps, NULL, &in, NULL, NULL, NULL, err, sizeof err) ==
                    CG_OK &&
                in.type == CG_MSG_HEARTBEAT)
                version = in.u.heartbeat.applied_version;
            cg_msg_free(&in);
        }
        exited = cg_proc_wait(learner, 0, &st) == 0;
    }
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0);
    printf("\n  %d poisoned group batches sent; learner %s after %d of 30 iterations, "
           "%.0f groups ingested, %.0f messages rejected, %.0f stale, %.0f batches dropped\n",
           sent, exited ? "exited" : "still running", csv.n_rows,
           csv.n_rows ? cg_metrics_get(&csv, -1, "groups_ingested") : 0.0,
           csv.n_rows ? cg_metrics_get(&csv, -1, "rejected_msgs") : 0.0,
           csv.n_rows ? cg_metrics_get(&csv, -1, "dropped_stale") : 0.0,
           csv.n_rows ? cg_metrics_get(&csv, -1, "dropped_batches") : 0.0);
    CU_ASSERT(exited);
    CU_ASSERT(exited && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT(sent >= 20);
    CU_ASSERT_EQUAL(csv.n_rows, 30);
    for (int r = 0; r < csv.n_rows; r++) {
        CU_ASSERT(isfinite(cg_metrics_get(&csv, r, "loss")));
        CU_ASSERT(isfinite(cg_metrics_get(&csv, r, "grad_norm")));
    }
    CU_ASSERT(s_exit_code(actor, 10 * S_SLOW) == 0);
done:
    cg_transport_close(&push);
    cg_transport_close(&dealer);
    cg_transport_destroy(&tp);
    cg_msg_free(&tmpl);
    cg_msg_free(&welcome);
    cg_sim_kind_destroy(&kind);
    free(cfg);
    cg_metrics_table_free(&csv);
    s_end();
}

/* ---- identity ---------------------------------------------------------------------- */

/* The learner's answer to what was last sent on dealer: a Welcome or a Refusal (else
 * type NONE after 5 s). */
static void s_answer(cg_socket_t *dealer, const cg_msg_caps_t *caps, cg_msg_t *out)
{
    char err[512];
    memset(out, 0, sizeof *out);
    double deadline = cg_os_now() + 5 * S_SLOW;
    while (out->type != CG_MSG_WELCOME && out->type != CG_MSG_REFUSAL && cg_os_now() < deadline) {
        int ready = 0;
        cg_msg_free(out);
        if (cg_transport_poll(&dealer, 1, 50, &ready) == CG_OK && ready)
            (void)cg_transport_recv(dealer, caps, NULL, out, NULL, NULL, NULL, err, sizeof err);
    }
}

/* Sends a Hello as `id` (with `session`) on dealer and returns the answer in *out. */
static void s_hello(cg_socket_t *dealer, const cg_msg_caps_t *caps, int32_t id, uint64_t session,
                    cg_msg_t *out)
{
    cg_msg_t m = {.type = CG_MSG_HELLO};
    m.u.hello = (cg_msg_hello_t){.actor_id = id, .pid = (int32_t)getpid(), .session = session};
    snprintf(m.u.hello.host, sizeof m.u.hello.host, "%s", "identity-test");
    if (cg_transport_send(dealer, NULL, 0, &m) == CG_OK)
        s_answer(dealer, caps, out);
    else
        memset(out, 0, sizeof *out);
}

static int s_is_refusal(const cg_msg_t *m, const char *needle)
{
    return m->type == CG_MSG_REFUSAL && m->u.refusal.retry &&
           strstr(m->u.refusal.reason, needle) != NULL;
}

/* Who may say what (docs/protocol.md, "Identity"): one connection is one actor (200 more
 * Hellos on it keep its one id and slot); a live actor's id is refused to another connection,
 * with the reason, unless it shows that actor's session key (a reconnect); group batches
 * count only with the sender's session key and a seq that increases (a replay is dropped);
 * at [learner] max_actors new Hellos are refused, saying so, while a known actor still
 * reconnects; an entry silent for a heartbeat timeout frees its slot and id for the next. */
static void test_integration_identity(void)
{
    static const char *const sets[] = {"run.iterations=100000", "learner.max_actors=2",
                                       "learner.heartbeat_timeout_ms=1000",
                                       "actor.heartbeat_ms=100", NULL};
    enum { N_PEERS = 4 };
    char dir[S_PATH], path[S_PATH];
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    cg_transport_t *tp[N_PEERS] = {0};
    cg_socket_t *dealer[N_PEERS] = {0}, *push = NULL;
    cg_msg_t ans = {0}, w0 = {0}, tmpl = {0};
    cg_sim_kind_t *kind = NULL;
    char *summary = NULL;
    s_begin("identity", dir);
    s_path(path, dir, "learner.log");
    pid_t learner = s_start_learner(dir, 0, sets, "learner.log", NULL);
    CG_TEST_REQUIRE(learner > 0);
    int port = s_wait_port(dir, 10 * S_SLOW, learner);
    CG_TEST_REQUIRE(port > 0);
    cg_msg_caps_t caps;
    for (int i = 0; i < N_PEERS; i++)
        CG_TEST_REQUIRE(s_peer_connect(port, cfg, &caps, &tp[i], &dealer[i]) == 0);

    /* Peer 0: id 0, and the same id for 200 more Hellos on its connection. */
    s_hello(dealer[0], &caps, -1, 0, &w0);
    CG_TEST_REQUIRE(w0.type == CG_MSG_WELCOME && w0.u.welcome.actor_id == 0);
    const uint64_t session = w0.u.welcome.session;
    CU_ASSERT(session != 0);
    int same = 0;
    for (int i = 0; i < 200; i++) {
        s_hello(dealer[0], &caps, -1, 0, &ans);
        same += ans.type == CG_MSG_WELCOME && ans.u.welcome.actor_id == 0 &&
                ans.u.welcome.session == session;
        cg_msg_free(&ans);
    }
    CU_ASSERT_EQUAL(same, 200);
    /* Peer 1 asks for id 0: held by a live actor, refused for now, with the reason. */
    s_hello(dealer[1], &caps, 0, 0, &ans);
    CU_ASSERT(s_is_refusal(&ans, "actor id 0 is held by a live actor"));
    cg_msg_free(&ans);
    /* Peer 1 takes id 1 (the table's second and last slot), peer 2 is refused: full. */
    s_hello(dealer[1], &caps, -1, 0, &ans);
    CU_ASSERT(ans.type == CG_MSG_WELCOME && ans.u.welcome.actor_id == 1);
    cg_msg_free(&ans);
    s_hello(dealer[2], &caps, -1, 0, &ans);
    CU_ASSERT(s_is_refusal(&ans, "max_actors = 2"));
    cg_msg_free(&ans);
    /* Peer 3 is actor 0 reconnected: its session key proves it, no new slot needed. */
    s_hello(dealer[3], &caps, 0, session, &ans);
    CU_ASSERT(ans.type == CG_MSG_WELCOME && ans.u.welcome.actor_id == 0 &&
              ans.u.welcome.session == session);
    cg_msg_free(&ans);
    /* ... and peer 0's connection no longer speaks for it. */
    cg_msg_t hb = {.type = CG_MSG_HEARTBEAT};
    snprintf(hb.run_id, sizeof hb.run_id, "%s", w0.run_id);
    hb.u.heartbeat = (cg_msg_heartbeat_t){.actor_id = 0, .weights_latency_s = -1};
    CG_TEST_REQUIRE(cg_transport_send(dealer[0], NULL, 0, &hb) == CG_OK);
    s_answer(dealer[0], &caps, &ans);
    CU_ASSERT(s_is_refusal(&ans, "not admitted"));
    cg_msg_free(&ans);

    /* Data: the run's shape from the Welcome's config, one group per message. */
    const cg_msg_welcome_t *w = &w0.u.welcome;
    kind = s_welcome_kind(cfg, w);
    CG_TEST_REQUIRE(kind != NULL);
    s_batch_fill(&tmpl, w0.run_id, w->version, w->group_size, cg_sim_kind_info(kind)->n_costs,
                 w->obs_dim, w->n_actions);
    cg_socket_opts_t sopts = {1000, cfg->max_msg_bytes};
    push = cg_transport_socket(tp[3], CG_SOCK_PUSH, &sopts);
    CG_TEST_REQUIRE(push && cg_transport_connect(push, "127.0.0.1", w->data_port) == CG_OK);
    CG_TEST_REQUIRE(cg_transport_wait_writable(push, (int)(5000 * S_SLOW)) == CG_OK);
    cg_msg_groups_t *g = &tmpl.u.groups;
    g->actor_id = 0;
    g->seq = 5;
    g->session = 0; /* no Hello behind it */
    CG_TEST_REQUIRE(cg_transport_send(push, NULL, 0, &tmpl) == CG_OK);
    g->session = session + 1; /* a guess */
    CG_TEST_REQUIRE(cg_transport_send(push, NULL, 0, &tmpl) == CG_OK);
    g->session = session;
    CG_TEST_REQUIRE(cg_transport_send(push, NULL, 0, &tmpl) == CG_OK); /* taken */
    CG_TEST_REQUIRE(cg_transport_send(push, NULL, 0, &tmpl) == CG_OK); /* the same again: replay */
    g->seq = 4;
    CG_TEST_REQUIRE(cg_transport_send(push, NULL, 0, &tmpl) == CG_OK); /* older: reordered */
    g->seq = 9;
    CG_TEST_REQUIRE(cg_transport_send(push, NULL, 0, &tmpl) == CG_OK); /* taken: 6, 7, 8 missing */
    CU_ASSERT(s_wait_log(path, "seq 4 from actor 0 after seq 5", 5 * S_SLOW, learner, NULL, 0) ==
              0);
    CU_ASSERT(s_log_line(path, "group batch as actor 0 without that actor's session key", NULL, 0));
    CU_ASSERT(s_log_line(path, "group batch seq 5 from actor 0 after seq 5: replayed", NULL, 0));

    /* Actor 1 (peer 1) goes silent: a timeout later its slot and id are peer 2's (actor 0,
     * peer 3, heartbeats on meanwhile and stays). */
    for (double until = cg_os_now() + 1.3 * S_SLOW; cg_os_now() < until;) {
        CG_TEST_REQUIRE(cg_transport_send(dealer[3], NULL, 0, &hb) == CG_OK);
        cg_proc_sleep_ms(100);
        while (cg_transport_recv_discard(dealer[3], NULL) == CG_OK)
            ;
    }
    s_hello(dealer[2], &caps, -1, 0, &ans);
    CU_ASSERT(ans.type == CG_MSG_WELCOME && ans.u.welcome.actor_id == 1);
    cg_msg_free(&ans);
    CU_ASSERT(s_stop(learner, 10 * S_SLOW) == 130);
    s_path(path, dir, "summary.json");
    summary = s_slurp(path, NULL);
    CU_ASSERT(summary && strstr(summary, "\"missing_batches\":3,"));
done:
    free(summary);
    cg_msg_free(&ans);
    cg_msg_free(&w0);
    cg_msg_free(&tmpl);
    cg_transport_close(&push);
    for (int i = 0; i < N_PEERS; i++) {
        cg_transport_close(&dealer[i]);
        cg_transport_destroy(&tp[i]);
    }
    cg_sim_kind_destroy(&kind);
    free(cfg);
    s_end();
}

/* ---- 5. deterministic ------------------------------------------------------------------ */

/* Runs `cgrpo train --deterministic --actors 2` with seed into root/name and reads the final
 * checkpoint's weights into *params (n floats, malloc'd). 0 on success. */
static int s_det_run(const char *name, const char *seed_set, const char *extra_set, float **params,
                     size_t *n, uint64_t *version)
{
    static const char *const sets[] = {"run.iterations=4", "train.groups=8", "train.group_size=4",
                                       "actor.instances=4", NULL};
    char dir[S_PATH], log[S_PATH], err[512];
    s_path(dir, s_st.root, name);
    mkdir(dir, 0755);
    s_path(log, dir, "actor-0.log");
    s_add_log(log);
    s_path(log, dir, "actor-1.log");
    s_add_log(log);
    s_path(log, dir, "train.log");
    s_argv_t a = {{0}, 0};
    s_arg(&a, CG_CGRPO_BIN);
    s_arg(&a, "train");
    s_arg(&a, "--deterministic");
    s_arg(&a, "--actors");
    s_arg(&a, "2");
    s_arg(&a, "--no-progress");
    s_arg(&a, "--run-dir");
    s_arg(&a, dir);
    s_arg(&a, "--set");
    s_arg(&a, seed_set);
    if (extra_set) {
        s_arg(&a, "--set");
        s_arg(&a, extra_set);
    }
    s_sets(&a, sets);
    pid_t train = s_spawn(&a, log, NULL);
    if (train < 0 || s_exit_code(train, 30 * S_SLOW) != 0)
        return -1;

    /* The policy size, from the run's own config and simulator. */
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    char path[S_PATH];
    s_path(path, dir, "config.ini");
    cg_config_defaults(cfg);
    int rc = -1;
    if (cg_config_load(cfg, path, err, sizeof err) == CG_OK &&
        cg_sim_configure(cfg, err, sizeof err) == CG_OK &&
        cg_config_finish(cfg, err, sizeof err) == CG_OK) {
        cg_sim_kind_t *kind = cg_sim_kind_new(cfg, err, sizeof err);
        if (kind) {
            cg_policy_shape_t shape = {.obs_dim = cg_sim_kind_info(kind)->obs_dim,
                                       .n_actions = cg_sim_kind_info(kind)->n_actions,
                                       .n_hidden = cfg->n_hidden,
                                       .activation = cfg->activation};
            memcpy(shape.hidden, cfg->hidden, sizeof shape.hidden);
            *n = cg_policy_shape_n_params(&shape);
            *params = cg_calloc(*n + 1, sizeof **params);
            if (*n > 0 &&
                cg_learner_read_params(dir, *params, *n, version, err, sizeof err) == CG_OK)
                rc = 0;
            cg_sim_kind_destroy(&kind);
        }
    }
    if (rc)
        printf("\n%s: %s\n", dir, err);
    free(cfg);
    return rc;
}

/* Same seed twice: bit-identical final weights; the same again with the updates on the
 * updater's thread (learner.overlap=on; the CPU default is off): bit-identical too; another
 * seed: different weights. */
static void test_integration_deterministic(void)
{
    char dir[S_PATH];
    float *p[4] = {NULL, NULL, NULL, NULL};
    size_t n[4] = {0, 0, 0, 0};
    uint64_t v[4] = {0, 0, 0, 0};
    s_begin("deterministic", dir);
    CG_TEST_REQUIRE(s_det_run("deterministic-a", "run.seed=7", NULL, &p[0], &n[0], &v[0]) == 0);
    CG_TEST_REQUIRE(s_det_run("deterministic-b", "run.seed=7", NULL, &p[1], &n[1], &v[1]) == 0);
    CG_TEST_REQUIRE(s_det_run("deterministic-c", "run.seed=8", NULL, &p[2], &n[2], &v[2]) == 0);
    CG_TEST_REQUIRE(
        s_det_run("deterministic-d", "run.seed=7", "learner.overlap=on", &p[3], &n[3], &v[3]) == 0);
    printf("\n  %zu parameters, versions %llu %llu %llu %llu\n", n[0], (unsigned long long)v[0],
           (unsigned long long)v[1], (unsigned long long)v[2], (unsigned long long)v[3]);
    CG_TEST_REQUIRE(n[0] > 0 && n[0] == n[1] && n[1] == n[2] && n[2] == n[3]);
    CU_ASSERT(v[0] == 4 && v[1] == 4 && v[2] == 4 && v[3] == 4);
    CU_ASSERT(memcmp(p[0], p[1], n[0] * sizeof(float)) == 0);
    CU_ASSERT(memcmp(p[0], p[2], n[0] * sizeof(float)) != 0);
    CU_ASSERT(memcmp(p[0], p[3], n[0] * sizeof(float)) == 0);
done:
    for (int i = 0; i < 4; i++)
        free(p[i]);
    s_end();
}

/* ---- 7. train killed ------------------------------------------------------------------ */

/* SIGKILL a `cgrpo train`: the actor processes it started must end too (they get SIGTERM
 * when their launcher dies) instead of waiting for a learner forever. */
static void test_integration_train_killed(void)
{
    static const char *const sets[] = {S_PACED_SETS, "run.iterations=100000", NULL};
    char dir[S_PATH], log[S_PATH], line[1024];
    cg_metrics_table_t csv = {0};
    pid_t act[2] = {0, 0};
    s_begin("train_killed", dir);
    s_path(log, dir, "actor-0.log");
    s_add_log(log);
    s_path(log, dir, "actor-1.log");
    s_add_log(log);
    s_path(log, dir, "train.log");
    s_argv_t a = {{0}, 0};
    s_arg(&a, CG_CGRPO_BIN);
    s_arg(&a, "train");
    s_arg(&a, "--no-progress");
    s_arg(&a, "--actors");
    s_arg(&a, "2");
    s_arg(&a, "--run-dir");
    s_arg(&a, dir);
    s_sets(&a, sets);
    pid_t train = s_spawn(&a, log, NULL);
    CG_TEST_REQUIRE(train > 0);
    CG_TEST_REQUIRE(s_wait_metrics(dir, 1, 0, -1, 15 * S_SLOW, train, &csv, NULL) == 0);
    for (int i = 0; i < 2; i++) {
        /* The learner logs "actor I joined (host H, pid P) at version V". */
        char needle[64];
        snprintf(needle, sizeof needle, "actor %d joined (host ", i);
        CG_TEST_REQUIRE(s_wait_log(log, needle, 5 * S_SLOW, train, line, sizeof line) == 0);
        const char *p = strstr(line, ", pid ");
        int pid = 0;
        CG_TEST_REQUIRE(p && sscanf(p, ", pid %d)", &pid) == 1 && pid > 0);
        act[i] = (pid_t)pid;
    }
    CG_TEST_REQUIRE(cg_proc_exists(act[0]) && cg_proc_exists(act[1]));

    /* Not reaped yet: the zombie keeps its process group, so cleanup cannot reach the
     * actors before we have looked. */
    CG_TEST_REQUIRE(cg_proc_signal(train, SIGKILL) == 0);
    double deadline = cg_os_now() + 5 * S_SLOW;
    while ((cg_proc_exists(act[0]) || cg_proc_exists(act[1])) && cg_os_now() < deadline)
        cg_proc_sleep_ms(50);
    printf("\n  actors %d and %d after their launcher was killed: %s, %s\n", (int)act[0],
           (int)act[1], cg_proc_exists(act[0]) ? "running" : "gone",
           cg_proc_exists(act[1]) ? "running" : "gone");
    CU_ASSERT(!cg_proc_exists(act[0]));
    CU_ASSERT(!cg_proc_exists(act[1]));
done:
    cg_metrics_table_free(&csv);
    s_end();
}

/* ---- 6. bounded memory ----------------------------------------------------------------- */

/* Three actors with 64 null-simulator instances each produce far faster than a learner doing
 * 100 epochs per update consumes, through queues of 4 messages. The learner's resident
 * memory must stay within a fixed bound above what it holds idle (shared libraries such as a
 * CUDA build's cuBLAS make that baseline vary), and level off instead of growing with the
 * backlog. */
static void test_integration_bounded_memory(void)
{
    static const char *const sets[] = {"sim.name=null",      "sim.horizon=32",
                                       "train.groups=16",    "train.group_size=8",
                                       "train.epochs=100",   "policy.hidden=16",
                                       "actor.instances=64", "run.iterations=100000",
                                       "learner.hwm=4",      NULL};
    enum { N_SAMPLES = 15 }; /* every 0.5 s: 7 s */
    char dir[S_PATH];
    cg_metrics_table_t csv = {0};
    long rss[N_SAMPLES];
    pid_t act[3] = {0, 0, 0};
    char asan_opts[1024];
    s_begin("bounded_memory", dir);
    /* Under ASan, freed blocks wait in a quarantine (256 MiB by default) before reuse: that
     * would look like growth. A small one keeps RSS meaningful; later options win, and
     * builds without ASan ignore the variable. */
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(asan_opts, sizeof asan_opts, "ASAN_OPTIONS=%s%squarantine_size_mb=8", asan ? asan : "",
             asan && asan[0] ? ":" : "");
    const char *const env[] = {s_env[0], asan_opts, NULL};
    pid_t learner = s_start_learner(dir, 0, sets, "learner.log", env);
    CG_TEST_REQUIRE(learner > 0);
    int port = s_wait_port(dir, 10 * S_SLOW, learner);
    CG_TEST_REQUIRE(port > 0);
    cg_proc_sleep_ms(200);
    long idle = cg_proc_rss_kb(learner); /* bound, set up, no data yet */
    CG_TEST_REQUIRE(idle > 0);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "actor-%d.log", i);
        act[i] = s_start_actor(dir, port, i, name);
        CG_TEST_REQUIRE(act[i] > 0);
    }
    CG_TEST_REQUIRE(s_wait_metrics(dir, 1, 0, 3, 20 * S_SLOW, learner, &csv, NULL) == 0);
    long peak = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        if (i)
            cg_proc_sleep_ms(500);
        rss[i] = cg_proc_rss_kb(learner);
        CG_TEST_REQUIRE(rss[i] > 0);
        peak = rss[i] > peak ? rss[i] : peak;
    }
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0 && csv.n_rows >= 3);
    /* The learner was the bottleneck: it spent its time updating, not waiting for groups. */
    double busy = 0;
    for (int r = 1; r < csv.n_rows; r++)
        busy += cg_metrics_get(&csv, r, "update_s");
    busy /= cg_metrics_get(&csv, -1, "wall_s") - cg_metrics_get(&csv, 0, "wall_s");
    printf("\n  learner VmRSS (KiB): idle %ld, then every 0.5 s:", idle);
    for (int i = 0; i < N_SAMPLES; i++)
        printf(" %ld", rss[i]);
    printf("\n  %d iterations, learner busy %.0f%% of the time, %.0f stale groups dropped\n",
           csv.n_rows, 100 * busy, cg_metrics_get(&csv, -1, "dropped_stale"));
    CU_ASSERT(busy > 0.5);
    CU_ASSERT(peak < idle + S_RSS_GROWTH_KB);
    /* Level: at most 16 MiB more at the end than at t = 2 s (under 20% of any baseline). */
    CU_ASSERT(rss[N_SAMPLES - 1] <= rss[4] + 16L * 1024);

    CU_ASSERT(s_stop(learner, 10 * S_SLOW) == 130);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(s_stop(act[i], 5 * S_SLOW) == 0);
done:
    cg_metrics_table_free(&csv);
    s_end();
}

/* ---- 8. local actors of a train exit ---------------------------------------------------- */

/* Live processes (zombies excluded) whose parent is ppid, or with ppid 0 whose process group
 * is pgid, from /proc: up to max PIDs into out (may be NULL). Returns how many there are. */
static int s_procs(pid_t ppid, pid_t pgid, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        char state = 0;
        pid_t parent = 0, group = 0;
        if (*end || pid <= 0 || cg_proc_stat((pid_t)pid, &state, &parent, &group) || state == 'Z' ||
            (ppid > 0 ? parent != ppid : group != pgid))
            continue;
        if (out && n < max)
            out[n] = (pid_t)pid;
        n++;
    }
    closedir(d);
    return n;
}

/* 1 once pid runs `cgrpo actor` (has exec'd), from /proc/PID/cmdline. */
static int s_runs_actor(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    size_t argv0 = strlen(buf);
    return argv0 + 1 < len && !strcmp(buf + argv0 + 1, "actor");
}

/* `cgrpo train --no-progress --actors 2` on dir with args (more options, NULL-terminated; may
 * be NULL) and sets; stdout in dir/train.log, stderr (what the user is told) in
 * dir/train.err, whose path goes to err_log. */
static pid_t s_start_train(const char *dir, const char *const *args, const char *const *sets,
                           char *err_log)
{
    char out_log[S_PATH];
    s_path(out_log, dir, "train.log");
    s_path(err_log, dir, "train.err");
    s_add_log(err_log);
    for (int i = 0; i < 2; i++) {
        char name[32], log[S_PATH];
        snprintf(name, sizeof name, "actor-%d.log", i);
        s_path(log, dir, name);
        s_add_log(log);
    }
    /* sh execs cgrpo in its place: the PID (and process group) is the train's. */
    s_argv_t a = {{0}, 0};
    s_arg(&a, "/bin/sh");
    s_arg(&a, "-c");
    s_arg(&a, "e=$1; shift; exec \"$@\" 2>>\"$e\"");
    s_arg(&a, "sh");
    s_arg(&a, err_log);
    s_arg(&a, CG_CGRPO_BIN);
    s_arg(&a, "train");
    s_arg(&a, "--no-progress");
    s_arg(&a, "--actors");
    s_arg(&a, "2");
    s_arg(&a, "--run-dir");
    s_arg(&a, dir);
    for (int i = 0; args && args[i]; i++)
        s_arg(&a, args[i]);
    s_sets(&a, sets);
    return s_spawn(&a, out_log, NULL);
}

/* Both local actors of a `cgrpo train` die as soon as they exist (SIGKILL, as from a crash or
 * the OOM killer; no setting makes the actors fail at start-up that the learner accepts). The
 * launcher must warn about each (id, pid, how it ended, its log, how many are left), stop the
 * learner (which checkpoints) and exit 1 within seconds with a message ending in a hint on
 * stderr, leaving no process behind. Before, it waited for groups forever. */
static void test_integration_train_actors_die(void)
{
    static const char *const sets[] = {S_PACED_SETS, "run.iterations=100000", NULL};
    char dir[S_PATH], err_log[S_PATH], out_log[S_PATH], line[2048], needle[128], path[S_PATH],
        ckpt_dir[S_PATH], err[512];
    pid_t act[2] = {0, 0};
    s_begin("train_actors_die", dir);
    pid_t train = s_start_train(dir, NULL, sets, err_log);
    CG_TEST_REQUIRE(train > 0);
    double deadline = cg_os_now() + 10 * S_SLOW;
    /* Its two children, once both run `cgrpo actor` (still starting up). */
    while ((s_procs(train, 0, act, 2) < 2 || !s_runs_actor(act[0]) || !s_runs_actor(act[1])) &&
           cg_proc_running(train) && cg_os_now() < deadline)
        cg_proc_sleep_ms(2);
    CG_TEST_REQUIRE(s_procs(train, 0, act, 2) == 2 && s_runs_actor(act[0]) && s_runs_actor(act[1]));
    CG_TEST_REQUIRE(kill(act[0], SIGKILL) == 0 && kill(act[1], SIGKILL) == 0);
    double t_kill = cg_os_now();
    int code = s_exit_code(train, 30 * S_SLOW);
    double took = cg_os_now() - t_kill;
    printf("\n  train exited with %d, %.2f s after both actors were killed\n", code, took);
    CG_TEST_REQUIRE(code >= 0); /* not hanging */
    CU_ASSERT(code == 1);
    CU_ASSERT(took < 30.0);

    CG_TEST_REQUIRE(s_log_line(err_log, "all 2 local actors exited before training finished", line,
                               sizeof line));
    printf("  stderr: %s\n", line);
    CU_ASSERT(strstr(line, ": killed by signal 9, see ") != NULL);
    CU_ASSERT(strstr(line, "/actor-") != NULL);
    CU_ASSERT(strstr(line, "(hint: ") != NULL);
    for (int i = 0; i < 2; i++) {
        snprintf(needle, sizeof needle, "(pid %d) ended: killed by signal 9; ", (int)act[i]);
        CU_ASSERT(s_log_line(err_log, needle, line, sizeof line));
        CU_ASSERT(strstr(line, "WARN ") == line && strstr(line, "local actor ") != NULL);
        CU_ASSERT(strstr(line, " of 2 local actors left (its log: ") != NULL);
    }
    CU_ASSERT(s_log_line(err_log, "; 0 of 2 local actors left", NULL, 0));
    s_path(out_log, dir, "train.log");
    CU_ASSERT(!s_log_line(out_log, "local actors exited", NULL, 0)); /* stderr only */
    /* The learner stopped cleanly: it wrote its checkpoint. */
    s_path(ckpt_dir, dir, "checkpoints");
    int64_t v_ckpt = -1;
    CU_ASSERT(cg_ckpt_latest(ckpt_dir, path, sizeof path, &v_ckpt, err, sizeof err) == CG_OK);
    CU_ASSERT(v_ckpt >= 0);
    /* Nothing left: neither actor, nor anything else of train's process group. */
    CU_ASSERT(!cg_proc_exists(act[0]) && !cg_proc_exists(act[1]));
    CU_ASSERT(s_procs(0, train, NULL, 0) == 0);
done:
    s_end();
}

/* One of two local actors dies mid-run: a warning names it and "1 of 2" left, and training
 * finishes with the other (exit 0, every iteration written). The survivor's own exit after the
 * learner's "training is over" is neither warned about nor taken for a failure. */
static void test_integration_train_actor_dies(void)
{
    enum { ITERS = 24 };
    static const char *const sets[] = {S_PACED_SETS, "run.iterations=24", NULL};
    char dir[S_PATH], err_log[S_PATH], line[2048], needle[128];
    cg_metrics_table_t csv = {0};
    s_begin("train_actor_dies", dir);
    pid_t train = s_start_train(dir, NULL, sets, err_log);
    CG_TEST_REQUIRE(train > 0);
    CG_TEST_REQUIRE(s_wait_metrics(dir, 2, 0, -1, 15 * S_SLOW, train, &csv, NULL) == 0);
    /* The learner logs "actor 0 joined (host H, pid P) at version V". */
    CG_TEST_REQUIRE(
        s_wait_log(err_log, "actor 0 joined (host ", 5 * S_SLOW, train, line, sizeof line) == 0);
    const char *p = strstr(line, ", pid ");
    int a0 = 0;
    CG_TEST_REQUIRE(p && sscanf(p, ", pid %d)", &a0) == 1 && a0 > 0);
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0 && csv.n_rows < ITERS);
    CG_TEST_REQUIRE(kill((pid_t)a0, SIGKILL) == 0);
    int code = s_exit_code(train, 60 * S_SLOW);
    printf("\n  train exited with %d after actor 0 (pid %d) was killed at iteration %d\n", code, a0,
           csv.n_rows);
    CU_ASSERT(code == 0);
    snprintf(needle, sizeof needle, "local actor 0 (pid %d) ended: killed by signal 9; ", a0);
    CU_ASSERT(s_log_line(err_log, needle, line, sizeof line));
    CU_ASSERT(strstr(line, "; 1 of 2 local actors left (its log: ") != NULL);
    CU_ASSERT(!s_log_line(err_log, "0 of 2 local actors left", NULL, 0));
    CU_ASSERT(!s_log_line(err_log, "local actors exited", NULL, 0));
    CG_TEST_REQUIRE(s_csv_load(dir, &csv) == 0);
    CU_ASSERT(csv.n_rows == ITERS);
    CU_ASSERT(s_procs(0, train, NULL, 0) == 0);
done:
    cg_metrics_table_free(&csv);
    s_end();
}

/* Ctrl-C in a terminal: SIGINT to train and its actors at once (one process group). The
 * actors then exit too, but this is the user's stop: exit 130 and the resume line, no
 * warnings and no "actors exited" failure. */
static void test_integration_train_interrupted(void)
{
    static const char *const sets[] = {S_PACED_SETS, "run.iterations=100000", NULL};
    char dir[S_PATH], err_log[S_PATH];
    cg_metrics_table_t csv = {0};
    s_begin("train_interrupted", dir);
    pid_t train = s_start_train(dir, NULL, sets, err_log);
    CG_TEST_REQUIRE(train > 0);
    CG_TEST_REQUIRE(s_wait_metrics(dir, 2, 0, 2, 15 * S_SLOW, train, &csv, NULL) == 0);
    CG_TEST_REQUIRE(cg_proc_running(train) && kill(-train, SIGINT) == 0); /* cg_proc: own group */
    int code = s_exit_code(train, 30 * S_SLOW);
    printf("\n  train exited with %d after SIGINT to its process group\n", code);
    CU_ASSERT(code == 130);
    CU_ASSERT(s_log_line(err_log, "cgrpo train: interrupted; checkpoint written", NULL, 0));
    CU_ASSERT(!s_log_line(err_log, "local actors exited", NULL, 0));
    CU_ASSERT(!s_log_line(err_log, "local actors left", NULL, 0));
    CU_ASSERT(s_procs(0, train, NULL, 0) == 0);
done:
    cg_metrics_table_free(&csv);
    s_end();
}

/* A --token longer than the protocol carries is refused up front with a hint (it used to be
 * cut for the learner and passed whole to the actors, which then refused it). */
static void test_integration_train_long_token(void)
{
    char dir[S_PATH], err_log[S_PATH], token[80];
    memset(token, 'x', sizeof token - 1);
    token[sizeof token - 1] = 0;
    s_begin("train_long_token", dir);
    const char *const args[] = {"--token", token, NULL};
    pid_t train = s_start_train(dir, args, NULL, err_log);
    CG_TEST_REQUIRE(train > 0);
    CU_ASSERT(s_exit_code(train, 10 * S_SLOW) == 1);
    CU_ASSERT(s_log_line(err_log, "--token is 79 characters long; at most 63", NULL, 0));
    CU_ASSERT(s_procs(0, train, NULL, 0) == 0);
done:
    s_end();
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static CU_TestInfo all[] = {
        {"learns", test_integration_learns},
        {"actor_killed", test_integration_actor_killed},
        {"learner_killed", test_integration_learner_killed},
        {"malformed_flood", test_integration_malformed_flood},
        {"poisoned_groups", test_integration_poisoned_groups},
        {"identity", test_integration_identity},
        {"credit_hoarder", test_integration_credit_hoarder},
        {"deterministic", test_integration_deterministic},
        {"bounded_memory", test_integration_bounded_memory},
        {"train_killed", test_integration_train_killed},
        {"train_actors_die", test_integration_train_actors_die},
        {"train_actor_dies", test_integration_train_actor_dies},
        {"train_interrupted", test_integration_train_interrupted},
        {"train_long_token", test_integration_train_long_token},
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo chosen[sizeof all / sizeof all[0]];
    int n = 0;
    for (int i = 0; all[i].pName; i++)
        if (argc < 2 || !strcmp(argv[1], all[i].pName))
            chosen[n++] = all[i];
    chosen[n] = (CU_TestInfo)CU_TEST_INFO_NULL;
    if (n == 0) {
        fprintf(stderr, "test_integration: no test named '%s'\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    atexit(s_atexit_clean);
    return cg_test_run("integration", chosen, s_suite_init, s_suite_clean);
}
