/* test_navigation: the continuous-action navigation simulator through cg_sim: its sizes and
 * default constraints, one layout per init seed, the lidar rings, a scripted controller that
 * steers by the goal ring alone and reaches the goal (through the hazard the layout puts on
 * the straight path), a wall run, clipped actions, and the shaped reward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_sim.h"
#include "cg_test.h"

enum { BINS = 8, OBS = 2 + 3 * BINS };

static cg_sim_t *s_new(const char *const *sets, int32_t n)
{
    static cg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.sim, sizeof cfg.sim, "navigation");
    cfg.seed = 1;
    char err[512] = "";
    for (int k = 0; sets && sets[k]; k++)
        CU_ASSERT_EQUAL_FATAL(cg_config_set(&cfg, sets[k], err, sizeof err), CG_OK);
    cg_sim_t *sim = cg_sim_new(&cfg, n, 7, err, sizeof err);
    if (!sim)
        fprintf(stderr, "cg_sim_new(navigation): %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sim);
    return sim;
}

static int s_step(cg_sim_t *sim, int32_t i, float speed, float turn, float *obs_all)
{
    const float a[2] = {speed, turn};
    uint8_t done = 0;
    cg_status_t rc = cg_sim_step_batch_continuous(sim, 1, &i, a, obs_all, &done);
    if (rc != CG_OK)
        fprintf(stderr, "navigation step: %s\n", cg_sim_error(sim));
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
    return done;
}

static void test_navigation_describe(void)
{
    cg_sim_t *sim = s_new(NULL, 1);
    const cg_sim_info_t *info = cg_sim_info(sim);
    CU_ASSERT_EQUAL(info->obs_dim, OBS);
    CU_ASSERT_EQUAL(info->n_actions, 2);
    CU_ASSERT_EQUAL(info->continuous, 1);
    CU_ASSERT_EQUAL(info->n_costs, 2);
    CU_ASSERT_STRING_EQUAL(info->cost_names[0], "hazard");
    CU_ASSERT_STRING_EQUAL(info->cost_names[1], "wall");
    CG_ASSERT_NEAR(info->default_threshold[0], 0.05, 1e-7);
    CU_ASSERT_EQUAL(info->max_steps, 100);
    cg_env_spec_t env;
    cg_sim_kind_env(cg_sim_kind(sim), &env);
    CU_ASSERT_EQUAL(env.continuous, 1);
    cg_sim_destroy(&sim);

    const char *const bad[] = {"navigation.hazard_radius=5", NULL};
    static cg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.sim, sizeof cfg.sim, "navigation");
    char err[512] = "";
    CU_ASSERT_EQUAL_FATAL(cg_config_set(&cfg, bad[0], err, sizeof err), CG_OK);
    CU_ASSERT_PTR_NULL(cg_sim_new(&cfg, 1, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hazard_radius"));
}

/* Members of a group (one init seed) start from one layout; other seeds from others. */
static void test_navigation_layout_per_seed(void)
{
    cg_sim_t *sim = s_new(NULL, 3);
    float obs[3 * OBS];
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 0, 42, obs), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 1, 42, obs + OBS), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_reset(sim, 2, 43, obs + 2 * OBS), CG_OK);
    CU_ASSERT(memcmp(obs, obs + OBS, sizeof(float) * OBS) == 0);
    CU_ASSERT(memcmp(obs, obs + 2 * OBS, sizeof(float) * OBS) != 0);
    /* at rest: own speed and turn 0; every lidar value in [0, 1]; the goal is seen */
    CU_ASSERT_EQUAL(obs[0], 0.0f);
    CU_ASSERT_EQUAL(obs[1], 0.0f);
    float goal_max = 0;
    for (int d = 2; d < OBS; d++) {
        CU_ASSERT(obs[d] >= 0.0f && obs[d] <= 1.0f);
        if (d < 2 + BINS && obs[d] > goal_max)
            goal_max = obs[d];
    }
    CU_ASSERT(goal_max > 0.0f);
    cg_sim_destroy(&sim);
}

/* The goal's bearing from the goal ring: the two largest neighbouring sectors' values
 * interpolated (the ring spreads the goal linearly over them). Radians in (-pi, pi]. */
static double s_goal_bearing(const float *obs)
{
    const float *ring = obs + 2;
    int lo = 0;
    for (int b = 1; b < BINS; b++)
        if (ring[b] > ring[lo])
            lo = b;
    int prev = (lo + BINS - 1) % BINS, next = (lo + 1) % BINS;
    int hi = ring[next] >= ring[prev] ? next : prev;
    if (hi == prev) {
        int t = lo;
        lo = prev;
        hi = t;
    }
    double tot = (double)ring[lo] + (double)ring[hi];
    double pos = lo + (tot > 0 ? (double)ring[hi] / tot : 0.0);
    double a = 2 * M_PI * pos / BINS;
    return a > M_PI ? a - 2 * M_PI : a;
}

/* Steering by the goal ring alone (turn towards it, drive when roughly facing it) reaches
 * the goal on every one of 20 layouts: reward >= 1, success; the first hazard lies on the
 * straight path, so a controller that ignores hazards enters one on most layouts. */
static void test_navigation_scripted_controller(void)
{
    cg_sim_t *sim = s_new(NULL, 1);
    float obs[OBS];
    int reached = 0, hazards = 0, walls = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        CU_ASSERT_EQUAL_FATAL(cg_sim_reset(sim, 0, seed, obs), CG_OK);
        int done = 0;
        while (!done) {
            double a = s_goal_bearing(obs);
            float turn = (float)fmax(-1.0, fmin(1.0, a / 0.5));
            float speed = fabs(a) < 0.6 ? 1.0f : 0.0f;
            done = s_step(sim, 0, speed, turn, obs);
        }
        cg_sim_result_t res;
        CU_ASSERT_EQUAL_FATAL(cg_sim_result(sim, 0, &res), CG_OK);
        reached += res.success;
        hazards += res.cost[0] == 1.0f;
        walls += res.cost[1] == 1.0f;
        CU_ASSERT(res.success ? res.reward >= 1.0f : res.reward < 1.0f);
    }
    printf(" (reached %d/20, hazard %d, wall %d)", reached, hazards, walls);
    CU_ASSERT_EQUAL(reached, 20);
    CU_ASSERT(hazards >= 15);
    CU_ASSERT_EQUAL(walls, 0);
    cg_sim_destroy(&sim);
}

/* Driving straight on (actions past 1 are clipped to 1) runs into a wall within
 * 2 * diagonal / max_speed steps: the wall cost; the wall ring's largest value is then 1
 * (distance 0) and the own-speed observation is the clipped 1. No goal: reward < 1, and the
 * shaping-free reward is exactly 0. */
static void test_navigation_wall_and_clip(void)
{
    const char *const sets[] = {"navigation.shaping=0", "sim.horizon=200", NULL};
    cg_sim_t *sim = s_new(sets, 1);
    float obs[OBS];
    int hit = 0;
    for (uint64_t seed = 1; seed <= 20 && !hit; seed++) {
        CU_ASSERT_EQUAL_FATAL(cg_sim_reset(sim, 0, seed, obs), CG_OK);
        int done = 0, t = 0;
        float wall_max = 0;
        while (!done) {
            done = s_step(sim, 0, 5.0f, 0.0f, obs);
            t++;
            for (int b = 0; b < BINS; b++)
                wall_max = fmaxf(wall_max, obs[2 + 2 * BINS + b]);
            CU_ASSERT_EQUAL(obs[0], 1.0f);
        }
        cg_sim_result_t res;
        CU_ASSERT_EQUAL_FATAL(cg_sim_result(sim, 0, &res), CG_OK);
        if (!res.success) {
            hit = 1;
            CU_ASSERT_EQUAL(res.cost[1], 1.0f);
            CU_ASSERT_EQUAL(res.reward, 0.0f);
            CG_ASSERT_NEAR(wall_max, 1.0, 1e-6);
            CU_ASSERT_EQUAL(t, 200);
        }
    }
    CU_ASSERT(hit);
    cg_sim_destroy(&sim);
}

/* Standing still for the whole horizon: no progress, no cost, reward 0 with any shaping. */
static void test_navigation_shaping(void)
{
    cg_sim_t *sim = s_new(NULL, 1);
    float obs[OBS];
    CU_ASSERT_EQUAL_FATAL(cg_sim_reset(sim, 0, 5, obs), CG_OK);
    int done = 0;
    while (!done)
        done = s_step(sim, 0, 0.0f, 0.3f, obs);
    cg_sim_result_t res;
    CU_ASSERT_EQUAL_FATAL(cg_sim_result(sim, 0, &res), CG_OK);
    CU_ASSERT_EQUAL(res.reward, 0.0f);
    CU_ASSERT_EQUAL(res.cost[0], 0.0f);
    CU_ASSERT_EQUAL(res.cost[1], 0.0f);
    CU_ASSERT_EQUAL(res.success, 0);
    cg_sim_destroy(&sim);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"sizes, costs, a bad radius", test_navigation_describe},
        {"one layout per init seed", test_navigation_layout_per_seed},
        {"a scripted controller reaches the goal", test_navigation_scripted_controller},
        {"walls and clipped actions", test_navigation_wall_and_clip},
        {"shaping", test_navigation_shaping},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("navigation", tests, NULL, NULL);
}
