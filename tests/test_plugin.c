/* test_plugin: simulator plugins through cg_sim. The example plugin cartpole_safe
 * (actor/sim/examples/) against an independent reference model of CartPole-v1's dynamics, its
 * keys, start states, cost and reward; and plugins breaking one rule each (tests/plugin_bad.c
 * and a text file named .so): every failure names the plugin's path and the rule, and a
 * plugin that crashes in create kills its process with a message saying so. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_sim.h"
#include "cg_test.h"

#ifndef CG_TEST_PLUGIN_DIR
#error "CG_TEST_PLUGIN_DIR: the directory of the test plugins (tests/CMakeLists.txt)"
#endif

#define S_CARTPOLE CG_TEST_PLUGIN_DIR "/libcartpole_safe.so"
#define S_PLUGIN(rule) CG_TEST_PLUGIN_DIR "/libplugin_" rule ".so"

/* A default config choosing the plugin at path, plus "sec.key=value" overrides (NULL-ended). */
static void s_cfg(cg_config_t *cfg, const char *path, ...)
{
    char err[512], set[CG_PATH_LEN + 32];
    cg_config_defaults(cfg);
    snprintf(set, sizeof set, "sim.plugin=%s", path);
    CU_ASSERT_EQUAL_FATAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    va_list ap;
    va_start(ap, path);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
        cg_status_t rc = cg_config_set(cfg, a, err, sizeof err);
        if (rc != CG_OK)
            fprintf(stderr, "\n  --set %s: %s\n", a, err);
        CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
    }
    va_end(ap);
}

static int s_has(const char *msg, const char *want)
{
    if (strstr(msg, want))
        return 1;
    fprintf(stderr, "\n  message \"%s\"\n  lacks \"%s\"\n", msg, want);
    return 0;
}

static cg_sim_t *s_new(const cg_config_t *cfg, int32_t n)
{
    char err[2048] = "";
    cg_sim_t *sim = cg_sim_new(cfg, n, 1, err, sizeof err);
    if (!sim)
        fprintf(stderr, "\n  cg_sim_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sim);
    return sim;
}

/* ---- cartpole_safe: a reference model, written from Gym's cartpole.py ------------------- */

typedef struct {
    double x, x_dot, th, th_dot;
} ref_t;

static void ref_step(ref_t *s, double force)
{
    const double g = 9.8, mc = 1.0, mp = 0.1, l = 0.5, tau = 0.02;
    double total = mc + mp, pml = mp * l, c = cos(s->th), sn = sin(s->th);
    double temp = (force + pml * s->th_dot * s->th_dot * sn) / total;
    double thacc = (g * sn - c * temp) / (l * (4.0 / 3.0 - mp * c * c / total));
    double xacc = temp - pml * thacc * c / total;
    s->x += tau * s->x_dot;
    s->x_dot += tau * xacc;
    s->th += tau * s->th_dot;
    s->th_dot += tau * thacc;
}

static int ref_over(const ref_t *s)
{
    return fabs(s->x) > 2.4 || fabs(s->th) > 12.0 * 2.0 * M_PI / 360.0;
}

/* obs -> state (the plugin scales x by 2.4, the angle by 12 degrees, velocities by 2). */
static ref_t s_unscale(const float *obs)
{
    return (ref_t){obs[0] * 2.4, obs[1] * 2.0, obs[2] * (12.0 * 2.0 * M_PI / 360.0), obs[3] * 2.0};
}

static void test_cartpole_configure(void)
{
    cg_config_t cfg;
    char err[2048] = "";
    s_cfg(&cfg, S_CARTPOLE, "sim.horizon=50", NULL);
    CU_ASSERT_EQUAL_FATAL(cg_sim_configure(&cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg.sim, "cartpole_safe");
    CU_ASSERT_EQUAL(cfg.sim_plugin[0], '/'); /* made absolute for the actors */
    /* no [constraints]: the plugin's default, off_center <= 0.1 */
    CU_ASSERT_EQUAL_FATAL(cfg.n_constraints, 1);
    CU_ASSERT_STRING_EQUAL(cfg.constraints[0].name, "off_center");
    CG_ASSERT_NEAR(cfg.constraints[0].threshold, 0.1, 1e-7);
    /* every key stored with its default, for config.ini */
    const cg_config_entry_t *e = cg_config_sim_find(&cfg, "cartpole_safe", "safe_x");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CG_ASSERT_NEAR(strtod(cg_config_sim_value(&cfg, e), NULL), 0.8, 1e-12);

    cg_sim_kind_t *kind = cg_sim_kind_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
    const cg_sim_info_t *info = cg_sim_kind_info(kind);
    CU_ASSERT_EQUAL(info->obs_dim, 4);
    CU_ASSERT_EQUAL(info->n_actions, 2);
    CU_ASSERT_EQUAL(info->n_costs, 1);
    CU_ASSERT_STRING_EQUAL(info->cost_names[0], "off_center");
    CU_ASSERT_EQUAL(info->max_steps, 50);
    CU_ASSERT_PTR_NOT_NULL(strstr(cg_sim_kind_origin(kind), "libcartpole_safe.so"));
    cg_env_spec_t env;
    cg_sim_kind_env(kind, &env);
    CU_ASSERT_STRING_EQUAL(env.sim, "cartpole_safe");
    CU_ASSERT_EQUAL_FATAL(env.n_metrics, 1);
    CU_ASSERT_STRING_EQUAL(env.metrics[0].name, "survival");
    CU_ASSERT_EQUAL(env.metrics[0].stat, CG_ENV_STAT_REWARD_MEAN);
    cg_sim_kind_destroy(&kind);

    s_cfg(&cfg, S_CARTPOLE, NULL); /* horizon 0 = 200 */
    kind = cg_sim_kind_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
    CU_ASSERT_EQUAL(cg_sim_kind_info(kind)->max_steps, 200);
    cg_sim_kind_destroy(&kind);
}

static void test_cartpole_keys(void)
{
    cg_config_t cfg;
    char err[2048] = "";
    s_cfg(&cfg, S_CARTPOLE, "cartpole_safe.safe_x=3", NULL);
    CU_ASSERT_PTR_NULL(cg_sim_kind_new(&cfg, err, sizeof err));
    CU_ASSERT(s_has(err, "--set cartpole_safe.safe_x"));
    CU_ASSERT(s_has(err, "out of range"));
    CU_ASSERT(s_has(err, "[0.05, 2.4]"));
    s_cfg(&cfg, S_CARTPOLE, "cartpole_safe.force=strong", NULL);
    CU_ASSERT_PTR_NULL(cg_sim_kind_new(&cfg, err, sizeof err));
    CU_ASSERT(s_has(err, "not a finite number"));
    s_cfg(&cfg, S_CARTPOLE, "cartpole_safe.mass=2", NULL);
    CU_ASSERT_PTR_NULL(cg_sim_kind_new(&cfg, err, sizeof err));
    CU_ASSERT(s_has(err, "unknown key"));
    CU_ASSERT(s_has(err, "safe_x, force, init_noise"));
    /* [sim] name must agree with the plugin's table */
    s_cfg(&cfg, S_CARTPOLE, "sim.name=null", NULL);
    CU_ASSERT_PTR_NULL(cg_sim_kind_new(&cfg, err, sizeof err));
    CU_ASSERT(s_has(err, "is simulator 'cartpole_safe'"));
}

/* Pushes from the upright, motionless state: the first step by hand (Euler moves positions
 * with the old velocities), then a seeded random walk of actions against the reference. */
static void test_cartpole_dynamics(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, S_CARTPOLE, "cartpole_safe.init_noise=0", "cartpole_safe.safe_x=2.4", NULL);
    cg_sim_t *sim = s_new(&cfg, 3);
    float obs[3 * 4];
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 1, 77, obs + 4), CG_OK);
    for (int d = 0; d < 4; d++)
        CU_ASSERT_EQUAL(obs[4 + d], 0.0f);
    int32_t idx = 1, act = 1;
    uint8_t done = 9;
    CU_ASSERT_EQUAL_FATAL(cg_sim_step_batch(sim, 1, &idx, &act, obs, &done), CG_OK);
    CU_ASSERT_EQUAL(done, 0);
    /* temp = 10/1.1; theta_acc = -temp / (0.5 (4/3 - 0.1/1.1)); x_acc = temp - 0.05 theta_acc/1.1
     */
    double temp = 10.0 / 1.1, thacc = -temp / (0.5 * (4.0 / 3.0 - 0.1 / 1.1));
    double xacc = temp - 0.05 * thacc / 1.1;
    ref_t s = s_unscale(obs + 4);
    CG_ASSERT_NEAR(s.x, 0.0, 1e-7);
    CG_ASSERT_NEAR(s.x_dot, 0.02 * xacc, 1e-6);
    CG_ASSERT_NEAR(s.th, 0.0, 1e-7);
    CG_ASSERT_NEAR(s.th_dot, 0.02 * thacc, 1e-6);
    CG_ASSERT_NEAR(s.x_dot, 0.195122, 1e-6);
    CG_ASSERT_NEAR(s.th_dot, -0.292683, 1e-6);

    /* a random walk of actions, compared step by step until the pole falls */
    ref_t r = {0, 0, 0, 0};
    ref_step(&r, 10.0);
    uint64_t h = 12345;
    int32_t steps = 1;
    while (!done) {
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
        act = (int32_t)(h >> 63);
        ref_step(&r, act ? 10.0 : -10.0);
        CU_ASSERT_EQUAL_FATAL(cg_sim_step_batch(sim, 1, &idx, &act, obs, &done), CG_OK);
        steps++;
        s = s_unscale(obs + 4);
        CG_ASSERT_NEAR(s.x, r.x, 1e-5);
        CG_ASSERT_NEAR(s.x_dot, r.x_dot, 1e-5);
        CG_ASSERT_NEAR(s.th, r.th, 1e-5);
        CG_ASSERT_NEAR(s.th_dot, r.th_dot, 1e-5);
        CU_ASSERT_EQUAL(done, (uint8_t)(ref_over(&r) || steps >= 200));
    }
    CU_ASSERT(steps > 5 && steps < 200); /* a random policy drops the pole early */
    cg_sim_result_t res;
    CU_ASSERT_EQUAL(cg_sim_result(sim, 1, &res), CG_OK);
    CG_ASSERT_NEAR(res.reward, steps / 200.0, 1e-6);
    CU_ASSERT_EQUAL(res.success, 0);
    CU_ASSERT_EQUAL(res.cost[0], 0.0f); /* safe_x = 2.4: the track itself */
    cg_sim_destroy(&sim);
}

/* init_seed alone fixes the start (a group's members start alike), within init_noise. */
static void test_cartpole_start(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, S_CARTPOLE, NULL);
    cg_sim_t *a = s_new(&cfg, 4), *b = s_new(&cfg, 1);
    float oa[4 * 4], ob[4];
    CU_ASSERT_EQUAL(cg_sim_reset(a, 0, 42, oa), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_reset(a, 3, 42, oa + 12), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_reset(b, 0, 42, ob), CG_OK);
    CU_ASSERT_EQUAL(memcmp(oa, oa + 12, sizeof ob), 0);
    CU_ASSERT_EQUAL(memcmp(oa, ob, sizeof ob), 0);
    int differ = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        CU_ASSERT_EQUAL(cg_sim_reset(a, 1, seed, oa + 4), CG_OK);
        ref_t s = s_unscale(oa + 4);
        CU_ASSERT(fabs(s.x) <= 0.05 + 1e-6 && fabs(s.x_dot) <= 0.05 + 1e-6);
        CU_ASSERT(fabs(s.th) <= 0.05 + 1e-6 && fabs(s.th_dot) <= 0.05 + 1e-6);
        differ += memcmp(oa, oa + 4, sizeof ob) != 0;
    }
    CU_ASSERT(differ >= 199);
    cg_sim_destroy(&a);
    cg_sim_destroy(&b);
}

/* A balancing controller keeps the pole up for the whole horizon (reward 1, success), and
 * the cost fires or not with the safe zone; a constant push drops the pole and leaves it. */
static void test_cartpole_cost_reward(void)
{
    const char *zones[] = {"cartpole_safe.safe_x=2.4", "cartpole_safe.safe_x=0.05"};
    for (int z = 0; z < 2; z++) {
        cg_config_t cfg;
        s_cfg(&cfg, S_CARTPOLE, "sim.horizon=100", zones[z], NULL);
        cg_sim_t *sim = s_new(&cfg, 2);
        float obs[2 * 4];
        int32_t idx[2] = {0, 1}, act[2], live[2], n;
        uint8_t done[2];
        CU_ASSERT_EQUAL(cg_sim_reset(sim, 0, 5, obs), CG_OK);
        CU_ASSERT_EQUAL(cg_sim_reset(sim, 1, 5, obs + 4), CG_OK);
        int32_t steps[2] = {0, 0}, running[2] = {1, 1};
        while (running[0] || running[1]) {
            n = 0;
            for (int32_t i = 0; i < 2; i++) {
                if (!running[i])
                    continue;
                const float *o = obs + 4 * i; /* instance 0 balances, 1 always pushes right */
                live[n] = i;
                act[n++] = i == 0 ? (o[2] + 0.5f * o[3] + 0.01f * o[0] + 0.05f * o[1] > 0) : 1;
            }
            for (int32_t k = 0; k < n; k++)
                idx[k] = live[k];
            CU_ASSERT_EQUAL_FATAL(cg_sim_step_batch(sim, n, idx, act, obs, done), CG_OK);
            for (int32_t k = 0; k < n; k++) {
                steps[idx[k]]++;
                running[idx[k]] = !done[k];
            }
        }
        cg_sim_result_t res;
        CU_ASSERT_EQUAL(cg_sim_result(sim, 0, &res), CG_OK);
        CU_ASSERT_EQUAL(steps[0], 100);
        CU_ASSERT_EQUAL(res.reward, 1.0f);
        CU_ASSERT_EQUAL(res.success, 1);
        CU_ASSERT_EQUAL(res.cost[0], z == 1 ? 1.0f : 0.0f);
        CU_ASSERT_EQUAL(cg_sim_result(sim, 1, &res), CG_OK);
        CU_ASSERT(steps[1] < 20);
        CG_ASSERT_NEAR(res.reward, steps[1] / 100.0, 1e-6);
        CU_ASSERT_EQUAL(res.success, 0);
        CU_ASSERT_EQUAL(res.cost[0], z == 1 ? 1.0f : 0.0f);
        cg_sim_destroy(&sim);
    }
}

/* ---- plugins that break a rule ---------------------------------------------------------- */

/* cg_sim_new(plugin) fails with a message naming path and containing each of want[]. */
static void s_load_fails(const char *path, const char *const *want)
{
    cg_config_t cfg;
    char err[2048] = "";
    s_cfg(&cfg, path, NULL);
    cg_sim_t *sim = cg_sim_new(&cfg, 2, 1, err, sizeof err);
    CU_ASSERT_PTR_NULL(sim);
    cg_sim_destroy(&sim);
    CU_ASSERT(s_has(err, path));
    CU_ASSERT(s_has(err, "hint:"));
    for (; *want; want++)
        CU_ASSERT(s_has(err, *want));
}

/* The same plugin source without a broken rule loads and runs. */
static void test_plugin_ok(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, S_PLUGIN("ok"), NULL);
    cg_sim_t *sim = s_new(&cfg, 2);
    CU_ASSERT_STRING_EQUAL(cg_sim_name(sim), "bad");
    float obs[2 * 2];
    uint8_t done = 0;
    int32_t i = 1, a = 1;
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 1, 0, obs + 2), CG_OK);
    for (int t = 0; t < 4; t++)
        CU_ASSERT_EQUAL(cg_sim_step_batch(sim, 1, &i, &a, obs, &done), CG_OK);
    CU_ASSERT_EQUAL(done, 1);
    cg_sim_result_t res;
    CU_ASSERT_EQUAL(cg_sim_result(sim, 1, &res), CG_OK);
    CU_ASSERT_EQUAL(res.cost[0], 0.0f);
    cg_sim_destroy(&sim);
}

static void test_plugin_missing(void)
{
    s_load_fails(CG_TEST_PLUGIN_DIR "/libno_such_plugin.so",
                 (const char *[]){"[sim] plugin", "No such file", "same path", NULL});
}

static void test_plugin_not_shared_object(void)
{
    char dir[] = "/tmp/cg_test_plugin.XXXXXX", path[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/libtext.so", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("this is not an ELF shared object\n", f);
    fclose(f);
    s_load_fails(path, (const char *[]){"does not load as a shared library", "rebuild", NULL});
    unlink(path);
    rmdir(dir);
}

/* Loading runs a library's code: a directory, a file anyone may rewrite, or (as root) one of
 * another user is refused before dlopen, naming why. */
static void test_plugin_file_rules(void)
{
    char dir[] = "/tmp/cg_test_plugin.XXXXXX", path[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    s_load_fails(dir, (const char *[]){"is not a regular file", NULL});
    snprintf(path, sizeof path, "%s/libok.so", dir);
    FILE *in = fopen(S_PLUGIN("ok"), "rb"), *out = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        CU_ASSERT_EQUAL(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    CU_ASSERT_EQUAL(chmod(path, 0757), 0);
    s_load_fails(path, (const char *[]){"writable by every user", "o-w", NULL});
    CU_ASSERT_EQUAL(chmod(path, 0755), 0);
    if (getuid() == 0 && chown(path, 65534, 65534) == 0)
        s_load_fails(path, (const char *[]){"owned by another user", NULL});
    unlink(path);
    rmdir(dir);
}

static void test_plugin_no_symbol(void)
{
    s_load_fails(S_PLUGIN("no_symbol"),
                 (const char *[]){"does not export cg_sim_plugin()", "CG_SIM_EXPORT", NULL});
}

static void test_plugin_abi_version(void)
{
    char built[64], speaks[64];
    snprintf(built, sizeof built, "simulator ABI version %u", CG_SIM_ABI_VERSION + 1);
    snprintf(speaks, sizeof speaks, "speaks version %u", CG_SIM_ABI_VERSION);
    s_load_fails(S_PLUGIN("abi"), (const char *[]){built, speaks, "rebuild it", NULL});
}

static void test_plugin_struct_size(void)
{
    char want[64];
    snprintf(want, sizeof want, "this cgrpo's is %zu", sizeof(cg_sim_table_t));
    s_load_fails(S_PLUGIN("size"), (const char *[]){"has a table of", want, "rebuild it", NULL});
}

static void test_plugin_obs_over_cap(void)
{
    s_load_fails(S_PLUGIN("big_obs"), (const char *[]){"describe broke a rule",
                                                       "obs_dim 65537 is not in 1..65536", NULL});
}

/* An observation beyond +-CG_SIM_MAX_ABS_OBS (finite): the step fails with the rule. */
static void test_plugin_huge_observation(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, S_PLUGIN("huge_obs"), NULL);
    cg_sim_t *sim = s_new(&cfg, 1);
    float obs[2];
    uint8_t done = 0;
    int32_t i = 0, a = 0;
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 0, 0, obs), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_step_batch(sim, 1, &i, &a, obs, &done), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_step_batch(sim, 1, &i, &a, obs, &done), CG_ERR_RANGE);
    const char *err = cg_sim_error(sim);
    CU_ASSERT(s_has(err, "observation[0] = 3e+07"));
    CU_ASSERT(s_has(err, "within +-1e+06"));
    cg_sim_destroy(&sim);
}

/* A NaN observation: the step fails with the rule, and the instances stay unusable. */
static void test_plugin_nan_observation(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, S_PLUGIN("nan"), NULL);
    cg_sim_t *sim = s_new(&cfg, 2);
    float obs[2 * 2];
    uint8_t done = 0;
    int32_t i = 0, a = 0;
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 0, 0, obs), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_step_batch(sim, 1, &i, &a, obs, &done), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_step_batch(sim, 1, &i, &a, obs, &done), CG_ERR_NONFINITE);
    const char *err = cg_sim_error(sim);
    CU_ASSERT(s_has(err, S_PLUGIN("nan")));
    CU_ASSERT(s_has(err, "observation[1] = nan"));
    CU_ASSERT(s_has(err, "observations must be finite"));
    CU_ASSERT(s_has(err, "hint:"));
    CU_ASSERT_NOT_EQUAL(cg_sim_step_batch(sim, 1, &i, &a, obs, &done), CG_OK);
    CU_ASSERT_NOT_EQUAL(cg_sim_reset(sim, 1, 0, obs + 2), CG_OK);
    cg_sim_destroy(&sim);
}

/* A cost of 0.5: the result fails with the rule. */
static void test_plugin_cost_not_indicator(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, S_PLUGIN("cost"), NULL);
    cg_sim_t *sim = s_new(&cfg, 1);
    float obs[2];
    uint8_t done = 0;
    int32_t i = 0, a = 1;
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 0, 0, obs), CG_OK);
    while (!done)
        CU_ASSERT_EQUAL_FATAL(cg_sim_step_batch(sim, 1, &i, &a, obs, &done), CG_OK);
    cg_sim_result_t res;
    CU_ASSERT_EQUAL(cg_sim_result(sim, 0, &res), CG_ERR_RANGE);
    const char *err = cg_sim_error(sim);
    CU_ASSERT(s_has(err, S_PLUGIN("cost")));
    CU_ASSERT(s_has(err, "cost hit = 0.5"));
    CU_ASSERT(s_has(err, "exactly 0 or 1"));
    cg_sim_destroy(&sim);
}

/* A plugin that dereferences NULL in create: run in a child, which must die of the signal
 * after cg_sim's handler said which plugin crashed and where. */
static void test_plugin_crash_in_create(void)
{
    int fds[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        cg_config_t cfg;
        char err[2048];
        cg_config_defaults(&cfg);
        cg_config_set(&cfg, "sim.plugin=" S_PLUGIN("crash"), err, sizeof err);
        cg_sim_t *sim = cg_sim_new(&cfg, 2, 1, err, sizeof err);
        (void)sim;
        _exit(0); /* not reached */
    }
    close(fds[1]);
    char out[4096];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof out - 1 &&
           ((r = read(fds[0], out + len, sizeof out - 1 - len)) > 0 || (r < 0 && errno == EINTR)))
        len += r > 0 ? (size_t)r : 0;
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFSIGNALED(status));
    if (WIFSIGNALED(status))
        CU_ASSERT_EQUAL(WTERMSIG(status), SIGSEGV);
    CU_ASSERT(s_has(out, "crashed"));
    CU_ASSERT(s_has(out, S_PLUGIN("crash")));
    CU_ASSERT(s_has(out, "in its create"));
    CU_ASSERT(s_has(out, "hint:"));
}

int main(void)
{
    if (access(S_CARTPOLE, R_OK) != 0) {
        fprintf(stderr, "%s: not built (hint: cmake --build with the test_plugin target)\n",
                S_CARTPOLE);
        return 1;
    }
    CU_TestInfo tests[] = {
        {"cartpole_safe: configure, sizes, default constraint", test_cartpole_configure},
        {"cartpole_safe: its keys checked", test_cartpole_keys},
        {"cartpole_safe: CartPole-v1 dynamics", test_cartpole_dynamics},
        {"cartpole_safe: start from init_seed", test_cartpole_start},
        {"cartpole_safe: off_center cost and reward", test_cartpole_cost_reward},
        {"plugin: the well-behaved variant runs", test_plugin_ok},
        {"plugin: missing file", test_plugin_missing},
        {"plugin: not a shared object", test_plugin_not_shared_object},
        {"plugin: not a regular file, writable by all, another user's", test_plugin_file_rules},
        {"plugin: no entry symbol", test_plugin_no_symbol},
        {"plugin: another ABI version", test_plugin_abi_version},
        {"plugin: another table size", test_plugin_struct_size},
        {"plugin: obs_dim over the cap", test_plugin_obs_over_cap},
        {"plugin: NaN observation", test_plugin_nan_observation},
        {"plugin: observation beyond the bound", test_plugin_huge_observation},
        {"plugin: cost not an indicator", test_plugin_cost_not_indicator},
        {"plugin: crash in create", test_plugin_crash_in_create},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("plugin", tests, NULL, NULL);
}
