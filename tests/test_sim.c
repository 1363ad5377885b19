/* test_sim: the simulator registry, gridworld mechanics and map parsing, its keys and
 * default constraints, the proof that both constraints bind on the default gridworld map
 * (exact search on an independent reference model, replayed through the real simulator),
 * the batched step against one instance at a time, and the null and sleep simulators. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_os.h"
#include "cg_rng.h"
#include "cg_sim.h"
#include "cg_test.h"
#include "cg_test_sim.h"
#include "gridworld.h"

enum { UP = 0, DOWN = 1, LEFT = 2, RIGHT = 3 };
enum { DEFAULT_OBS = 7 * 9 + 4 };   /* the default map's obs_dim */
enum { MAP_CAP = CG_SIM_MAX_TEXT }; /* the most cells a map can have */

/* A config with only the simulator's name and the settings each test gives: the simulator
 * sections start empty, so their keys take the simulator's own defaults, except gridworld's
 * slip, set to 0 here (the tests below are deterministic unless they set a slip). */
static void s_cfg(cg_config_t *cfg, const char *sim)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->sim, sizeof cfg->sim, "%s", sim);
    cfg->seed = 1;
    cfg->horizon = 0;
    if (!strcmp(sim, "gridworld")) {
        char err[512] = "";
        CU_ASSERT_EQUAL_FATAL(cg_config_set(cfg, "gridworld.slip=0", err, sizeof err), CG_OK);
    }
}

/* Applies "section.key=value" as --set does. */
static void s_set(cg_config_t *cfg, const char *assignment)
{
    char err[512] = "";
    cg_status_t rc = cg_config_set(cfg, assignment, err, sizeof err);
    if (rc != CG_OK)
        fprintf(stderr, "cg_config_set(%s): %s\n", assignment, err);
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
}

/* Stores a map as the config keeps a [gridworld] map value (rows joined by '\n'). */
static void s_set_map(cg_config_t *cfg, const char *map)
{
    char err[512] = "";
    CU_ASSERT_EQUAL_FATAL(
        cg_config_sim_put(cfg, "gridworld", "map", map, "test", 0, err, sizeof err), CG_OK);
}

static cg_sim_t *s_new(const cg_config_t *cfg, int32_t n, uint64_t seed)
{
    char err[512] = "";
    cg_sim_t *sim = cg_sim_new(cfg, n, seed, err, sizeof err);
    if (!sim)
        fprintf(stderr, "cg_sim_new(%s): %s\n", cfg->sim, err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sim);
    return sim;
}

/* cg_sim_new must fail and its message contain `want`. */
static void s_expect_error(const cg_config_t *cfg, const char *want)
{
    char err[1024] = "";
    cg_sim_t *sim = cg_sim_new(cfg, 1, 1, err, sizeof err);
    CU_ASSERT_PTR_NULL(sim);
    cg_sim_destroy(&sim);
    if (!strstr(err, want))
        fprintf(stderr, "\n  error message \"%s\" lacks \"%s\"\n", err, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

/* ---------------------------------------------------------------------------------------
 * Reference gridworld: written from the specification, independently of gridworld.c, so
 * the binding proof checks the design and the replay checks the implementation. */

typedef struct {
    int32_t rows, cols, start;
    int32_t horizon, battery, reserve;
    char cells[MAP_CAP];
} ref_t;

typedef struct {
    int32_t cell, charge, lava, low, charged; /* charged: visited a charger */
} ref_state_t;

static void ref_load_default(ref_t *m)
{
    memset(m, 0, sizeof *m);
    const char *p = cg_sim_gridworld_default_map();
    for (;;) {
        size_t w = strcspn(p, "\n");
        if (m->rows == 0)
            m->cols = (int32_t)w;
        CU_ASSERT_EQUAL_FATAL((int32_t)w, m->cols);
        for (int32_t c = 0; c < m->cols; c++) {
            m->cells[m->rows * m->cols + c] = p[c];
            if (p[c] == 'S')
                m->start = m->rows * m->cols + c;
        }
        m->rows++;
        if (!p[w])
            break;
        p += w + 1;
    }
    m->horizon = CG_SIM_GRIDWORLD_HORIZON;
    m->battery = CG_SIM_GRIDWORLD_BATTERY;
    m->reserve = CG_SIM_GRIDWORLD_RESERVE;
}

/* Applies the (post-slip) action; returns 1 at the goal, -1 on a flat battery, else 0. */
static int ref_move(const ref_t *m, ref_state_t *s, int32_t a)
{
    static const int32_t dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
    int32_t r = s->cell / m->cols + dr[a], c = s->cell % m->cols + dc[a];
    if (r >= 0 && r < m->rows && c >= 0 && c < m->cols && m->cells[r * m->cols + c] != '#')
        s->cell = r * m->cols + c;
    s->charge--;
    char here = m->cells[s->cell];
    s->lava |= here == 'L';
    s->low |= s->charge < m->reserve;
    if (here == 'C') {
        s->charge = m->battery;
        s->charged = 1;
    }
    if (here == 'G')
        return 1;
    return s->charge == 0 ? -1 : 0;
}

/* Breadth-first search over (cell, charge, lava, low, charged), slip 0. For every flag
 * combination at the goal: the fewest steps (-1 = unreachable within the horizon) and the
 * actions of one such path. */
typedef struct {
    int32_t steps[2][2][2]; /* [lava][low][charged] */
    int32_t path[2][2][2][CG_SIM_GRIDWORLD_HORIZON];
} ref_bfs_t;

static int32_t ref_id(const ref_t *m, const ref_state_t *s)
{
    return (((s->cell * (m->battery + 1) + s->charge) * 2 + s->lava) * 2 + s->low) * 2 + s->charged;
}

static void ref_bfs(const ref_t *m, ref_bfs_t *out)
{
    CU_ASSERT_FATAL(m->horizon <= CG_SIM_GRIDWORLD_HORIZON);
    int32_t n = m->rows * m->cols * (m->battery + 1) * 8;
    int32_t *dist = cg_calloc((size_t)n, sizeof *dist);
    int32_t *parent = cg_calloc((size_t)n, sizeof *parent);
    int8_t *act = cg_calloc((size_t)n, sizeof *act);
    ref_state_t *queue = cg_calloc((size_t)n, sizeof *queue);
    for (int32_t k = 0; k < n; k++)
        dist[k] = -1;
    memset(out->steps, -1, sizeof out->steps);
    ref_state_t s0 = {m->start, m->battery, 0, 0, 0};
    int32_t head = 0, tail = 0;
    dist[ref_id(m, &s0)] = 0;
    parent[ref_id(m, &s0)] = -1;
    queue[tail++] = s0;
    while (head < tail) {
        ref_state_t s = queue[head++];
        int32_t id = ref_id(m, &s);
        if (m->cells[s.cell] == 'G') { /* terminal: record the first (fewest steps) arrival */
            int32_t *best = &out->steps[s.lava][s.low][s.charged];
            if (*best < 0) {
                *best = dist[id];
                for (int32_t k = id, t = dist[id]; parent[k] >= 0; k = parent[k])
                    out->path[s.lava][s.low][s.charged][--t] = act[k];
            }
            continue;
        }
        if (dist[id] >= m->horizon)
            continue;
        for (int32_t a = 0; a < 4; a++) {
            ref_state_t next = s;
            if (ref_move(m, &next, a) < 0)
                continue; /* flat battery: ends without the goal */
            int32_t nid = ref_id(m, &next);
            if (dist[nid] >= 0)
                continue;
            dist[nid] = dist[id] + 1;
            parent[nid] = id;
            act[nid] = (int8_t)a;
            queue[tail++] = next;
        }
    }
    free(queue);
    free(act);
    free(parent);
    free(dist);
}

/* Fewest steps to the goal over the flag combinations allowed by the masks (-1 = none):
 * lava/low/charged each -1 (any), 0 or 1; *which gets the chosen combination. */
static int32_t ref_best(const ref_bfs_t *b, int lava, int low, int charged, int32_t which[3])
{
    int32_t best = -1;
    for (int l = 0; l < 2; l++)
        for (int w = 0; w < 2; w++)
            for (int c = 0; c < 2; c++) {
                if ((lava >= 0 && l != lava) || (low >= 0 && w != low) ||
                    (charged >= 0 && c != charged))
                    continue;
                int32_t s = b->steps[l][w][c];
                if (s >= 0 && (best < 0 || s < best)) {
                    best = s;
                    which[0] = l, which[1] = w, which[2] = c;
                }
            }
    return best;
}

/* Plays actions through the real default gridworld: it must end exactly at the last action
 * at the goal, with the given costs. */
static void s_replay(const int32_t *actions, int32_t len, int lava, int low)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    cg_sim_t *sim = s_new(&cfg, 1, 7);
    float obs[MAP_CAP + 4];
    cg_test_sim_reset(sim, 0, 0, obs);
    int done = 0;
    for (int32_t t = 0; t < len; t++) {
        CU_ASSERT_FALSE_FATAL(done);
        done = cg_test_sim_step(sim, 0, actions[t], obs);
    }
    CU_ASSERT_TRUE(done);
    cg_sim_result_t res;
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 1.0f);
    CU_ASSERT_EQUAL(res.success, 1);
    CU_ASSERT_EQUAL(res.cost[0], (float)lava);
    CU_ASSERT_EQUAL(res.cost[1], (float)low);
    cg_sim_destroy(&sim);
}

static void s_print_path(const char *label, const int32_t *actions, int32_t len)
{
    static const char names[4] = {'U', 'D', 'L', 'R'};
    printf("\n    %-34s %2d steps: ", label, len);
    for (int32_t t = 0; t < len; t++)
        putchar(names[actions[t]]);
}

/* The default map makes both constraints bind (slip 0, so the world is deterministic and
 * "max goal probability, ties by fewest steps" is the fewest steps to the goal):
 *  - the unconstrained optimum reaches the goal through lava (every shortest path does);
 *  - forbid lava: the best path skips the charger and ends below the reserve, and no
 *    lava-free path that skips the charger keeps the reserve;
 *  - forbid both: a path through the charger reaches the goal, strictly longer, with slack
 *    to the horizon. Each path is replayed through the real simulator. */
static void test_gridworld_binding_proof(void)
{
    ref_t m;
    ref_load_default(&m);
    ref_bfs_t *b = cg_calloc(1, sizeof *b);
    ref_bfs(&m, b);
    int32_t w_any[3], w_free[3], w_safe[3], w_battery[3], w_skip[3];
    int32_t any = ref_best(b, -1, -1, -1, w_any);
    int32_t no_lava = ref_best(b, 0, -1, -1, w_free);
    int32_t safe = ref_best(b, 0, 0, -1, w_safe);
    int32_t battery_only = ref_best(b, -1, 0, -1, w_battery);
    int32_t safe_no_charger = ref_best(b, 0, 0, 0, w_skip);
    int32_t free_no_charger = ref_best(b, 0, -1, 0, w_skip);

    printf("\n    default gridworld %dx%d, horizon %d, battery %d, reserve %d", m.rows, m.cols,
           m.horizon, m.battery, m.reserve);
    /* Unconstrained optimum: reaches the goal, enters lava; no lava-free path is as short. */
    CU_ASSERT_EQUAL_FATAL(any, 6);
    CU_ASSERT_EQUAL(w_any[0], 1);
    CU_ASSERT_TRUE(no_lava > any);
    s_print_path("unconstrained (lava)", b->path[w_any[0]][w_any[1]][w_any[2]], any);
    printf("  lava %d, battery %d", w_any[0], w_any[1]);
    /* Lava forbidden: the best path skips the charger and falls below the reserve. */
    CU_ASSERT_EQUAL_FATAL(no_lava, 8);
    CU_ASSERT_EQUAL(free_no_charger, no_lava);
    CU_ASSERT_EQUAL(w_free[1], 1);
    CU_ASSERT_EQUAL(w_free[2], 0);
    CU_ASSERT_EQUAL(safe_no_charger, -1); /* every lava-free, reserve-keeping path charges */
    s_print_path("lava-free, no charger (battery)", b->path[w_free[0]][w_free[1]][w_free[2]],
                 no_lava);
    /* Both forbidden: through the charger, strictly longer, within the horizon. */
    CU_ASSERT_EQUAL_FATAL(safe, 10);
    CU_ASSERT_EQUAL(w_safe[2], 1);
    CU_ASSERT_TRUE(safe > no_lava && safe <= m.horizon);
    s_print_path("safe (lava-free, charger)", b->path[0][0][w_safe[2]], safe);
    printf("\n    slack to the horizon: lava path %d, lava-free %d, safe %d steps", m.horizon - any,
           m.horizon - no_lava, m.horizon - safe);
    /* Battery alone: the short lava path already keeps the reserve (lava binds first). */
    CU_ASSERT_EQUAL(battery_only, any);
    printf("\n    battery-only optimum: %d steps (the lava path keeps the reserve)\n",
           battery_only);

    s_replay(b->path[w_any[0]][w_any[1]][w_any[2]], any, 1, w_any[1]);
    s_replay(b->path[w_free[0]][w_free[1]][w_free[2]], no_lava, 0, 1);
    s_replay(b->path[0][0][w_safe[2]], safe, 0, 0);
    free(b);
}

/* Finite-horizon dynamic programming with slip over (t, cell, charge, lava, low): the policy
 * maximising P(goal) - w_lava P(lava) - w_low P(low) (minus 1e-6 per step to prefer short
 * paths), then its exact outcome probabilities by forward propagation. */
typedef struct {
    const ref_t *m;
    double slip;
    int32_t n_states; /* cells * (battery + 1) * 4 */
    int8_t *policy;   /* (horizon, n_states) */
    double p_goal, p_lava, p_low;
} ref_dp_t;

static int32_t ref_dp_id(const ref_t *m, const ref_state_t *s)
{
    return ((s->cell * (m->battery + 1) + s->charge) * 2 + s->lava) * 2 + s->low;
}

static ref_state_t ref_dp_state(const ref_t *m, int32_t id)
{
    ref_state_t s = {0, 0, 0, 0, 0};
    s.low = id % 2, id /= 2;
    s.lava = id % 2, id /= 2;
    s.charge = id % (m->battery + 1), id /= m->battery + 1;
    s.cell = id;
    return s;
}

static void ref_dp_solve(ref_dp_t *dp, const ref_t *m, double slip, double w_lava, double w_low)
{
    dp->m = m;
    dp->slip = slip;
    dp->n_states = m->rows * m->cols * (m->battery + 1) * 4;
    dp->policy = cg_calloc((size_t)m->horizon * (size_t)dp->n_states, 1);
    double *v_next = cg_calloc((size_t)dp->n_states, sizeof *v_next);
    double *v_now = cg_calloc((size_t)dp->n_states, sizeof *v_now);
    for (int32_t k = 0; k < dp->n_states; k++) {
        ref_state_t s = ref_dp_state(m, k);
        v_next[k] = -w_lava * s.lava - w_low * s.low; /* horizon reached */
    }
    for (int32_t t = m->horizon - 1; t >= 0; t--) {
        for (int32_t k = 0; k < dp->n_states; k++) {
            ref_state_t s = ref_dp_state(m, k);
            if (s.charge == 0 || m->cells[s.cell] == '#' || m->cells[s.cell] == 'G') {
                v_now[k] = 0.0; /* never occupied while running */
                continue;
            }
            double best = -INFINITY;
            for (int32_t a = 0; a < 4; a++) {
                double q = 0.0;
                for (int32_t bb = 0; bb < 4; bb++) {
                    double pr = (a == bb ? 1.0 - slip : 0.0) + slip / 4.0;
                    if (pr == 0.0)
                        continue;
                    ref_state_t nx = s;
                    int end = ref_move(m, &nx, bb);
                    double v = -w_lava * nx.lava - w_low * nx.low - 1e-6;
                    if (end > 0)
                        v += 1.0;
                    else if (end == 0 && t + 1 < m->horizon)
                        v = v_next[ref_dp_id(m, &nx)] - 1e-6;
                    q += pr * v;
                }
                if (q > best + 1e-12) {
                    best = q;
                    dp->policy[(size_t)t * (size_t)dp->n_states + (size_t)k] = (int8_t)a;
                }
            }
            v_now[k] = best;
        }
        double *tmp = v_next;
        v_next = v_now;
        v_now = tmp;
    }
    /* Forward: exact distribution over running states. */
    double *p = cg_calloc((size_t)dp->n_states, sizeof *p);
    double *q = cg_calloc((size_t)dp->n_states, sizeof *q);
    ref_state_t s0 = {m->start, m->battery, 0, 0, 0};
    p[ref_dp_id(m, &s0)] = 1.0;
    dp->p_goal = dp->p_lava = dp->p_low = 0.0;
    for (int32_t t = 0; t < m->horizon; t++) {
        memset(q, 0, (size_t)dp->n_states * sizeof *q);
        for (int32_t k = 0; k < dp->n_states; k++) {
            if (p[k] == 0.0)
                continue;
            ref_state_t s = ref_dp_state(m, k);
            int32_t a = dp->policy[(size_t)t * (size_t)dp->n_states + (size_t)k];
            for (int32_t bb = 0; bb < 4; bb++) {
                double pr = p[k] * ((a == bb ? 1.0 - slip : 0.0) + slip / 4.0);
                if (pr == 0.0)
                    continue;
                ref_state_t nx = s;
                int end = ref_move(m, &nx, bb);
                if (end != 0 || t + 1 == m->horizon) {
                    dp->p_goal += end > 0 ? pr : 0.0;
                    dp->p_lava += nx.lava ? pr : 0.0;
                    dp->p_low += nx.low ? pr : 0.0;
                } else {
                    q[ref_dp_id(m, &nx)] += pr;
                }
            }
        }
        double *tmp = p;
        p = q;
        q = tmp;
    }
    free(q);
    free(p);
    free(v_now);
    free(v_next);
}

/* Runs the DP policy in the real simulator (state decoded from the observation) and checks
 * the outcome rates against the exact ones. */
static void s_check_dp_in_sim(const ref_dp_t *dp, int32_t episodes)
{
    const ref_t *m = dp->m;
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    char slip[64];
    snprintf(slip, sizeof slip, "gridworld.slip=%.17g", dp->slip);
    s_set(&cfg, slip);
    cg_sim_t *sim = s_new(&cfg, 1, 2024);
    int32_t nc = m->rows * m->cols;
    float *obs = cg_calloc((size_t)nc + 4, sizeof *obs);
    double goal = 0, lava = 0, low = 0;
    for (int32_t e = 0; e < episodes; e++) {
        cg_test_sim_reset(sim, 0, (uint64_t)e, obs);
        for (int done = 0; !done;) {
            ref_state_t s = {0, 0, 0, 0, 0};
            for (int32_t k = 0; k < nc; k++)
                if (obs[k] == 1.0f)
                    s.cell = k;
            s.charge = (int32_t)lroundf(obs[nc] * (float)m->battery);
            s.lava = obs[nc + 1] > 0.5f;
            s.low = obs[nc + 2] > 0.5f;
            int32_t t = (int32_t)lroundf(obs[nc + 3] * (float)m->horizon);
            int32_t a = dp->policy[(size_t)t * (size_t)dp->n_states + (size_t)ref_dp_id(m, &s)];
            done = cg_test_sim_step(sim, 0, a, obs);
        }
        cg_sim_result_t res;
        cg_test_sim_result(sim, 0, &res);
        goal += res.reward;
        lava += res.cost[0];
        low += res.cost[1];
    }
    double n = episodes;
    double tol_goal = 5.0 * sqrt(dp->p_goal * (1.0 - dp->p_goal) / n) + 2.0 / n;
    double tol_lava = 5.0 * sqrt(dp->p_lava * (1.0 - dp->p_lava) / n) + 2.0 / n;
    double tol_low = 5.0 * sqrt(dp->p_low * (1.0 - dp->p_low) / n) + 2.0 / n;
    CG_ASSERT_NEAR(goal / n, dp->p_goal, tol_goal);
    CG_ASSERT_NEAR(lava / n, dp->p_lava, tol_lava);
    CG_ASSERT_NEAR(low / n, dp->p_low, tol_low);
    free(obs);
    cg_sim_destroy(&sim);
}

/* With slip (the action replaced by a random one; also a stand-in for a stochastic policy):
 * the unconstrained optimum violates both constraints, satisfying them costs goal rate, the
 * constrained optimum's lava floor stays under the 0.01 threshold up to slip 0.1, and it
 * still goes for the goal instead of parking on the charger. Policies are optimal for
 * P(goal) - w (P(lava) + P(battery)) with w = 0 (unconstrained) or 10 (constrained). The
 * real simulator reproduces the model's outcome rates at slip 0.1. */
static void test_gridworld_slip_tradeoff(void)
{
    ref_t m;
    ref_load_default(&m);
    const double slips[3] = {0.05, 0.1, 0.2};
    printf("\n    slip   unconstrained: P(goal) P(lava) P(battery)   lava-avoiding: P(goal)   "
           "constrained: P(goal) P(lava) P(battery)");
    for (int k = 0; k < 3; k++) {
        ref_dp_t unc, nolava, both;
        ref_dp_solve(&unc, &m, slips[k], 0.0, 0.0);
        ref_dp_solve(&nolava, &m, slips[k], 10.0, 0.0);
        ref_dp_solve(&both, &m, slips[k], 10.0, 10.0);
        printf("\n    %.2f   %.4f %.4f %.4f   %.4f   %.4f %.4f %.4f", slips[k], unc.p_goal,
               unc.p_lava, unc.p_low, nolava.p_goal, both.p_goal, both.p_lava, both.p_low);
        CU_ASSERT_TRUE(unc.p_goal >= nolava.p_goal && nolava.p_goal >= both.p_goal);
        CU_ASSERT_TRUE(unc.p_lava > 0.5 && unc.p_low > 0.1); /* violates both */
        CU_ASSERT_TRUE(both.p_low < unc.p_low);
        if (slips[k] <= 0.1) {
            CU_ASSERT_TRUE(both.p_lava < 0.01); /* lava floor under the threshold */
            CU_ASSERT_TRUE(both.p_goal > 0.99); /* goes for the goal, does not park */
        } else {
            CU_ASSERT_TRUE(unc.p_goal - both.p_goal > 0.02); /* binds harder with more noise */
        }
        if (k == 1) {
            s_check_dp_in_sim(&both, 20000);
            s_check_dp_in_sim(&unc, 20000);
        }
        free(unc.policy);
        free(nolava.policy);
        free(both.policy);
    }
    printf("\n");
}

/* ---------------------------------------------------------------------------------------
 * Registry */

static void test_registry_names(void)
{
    CU_ASSERT_STRING_EQUAL(cg_sim_names(),
                           "gridworld, instruct, navigation, null, sleep, external");
    const char *names[4] = {"gridworld", "instruct", "null", "sleep"};
    for (int k = 0; k < 4; k++) {
        cg_config_t cfg;
        s_cfg(&cfg, names[k]);
        cg_sim_t *sim = s_new(&cfg, 3, 1);
        CU_ASSERT_STRING_EQUAL(cg_sim_name(sim), names[k]);
        CU_ASSERT_EQUAL(cg_sim_n_instances(sim), 3);
        cg_sim_destroy(&sim);
        CU_ASSERT_PTR_NULL(sim);
        cg_sim_destroy(&sim); /* NULL-safe */
    }
}

/* external: sizes and cost names from its section; no instances, with a hint. */
static void test_external(void)
{
    cg_config_t cfg;
    char err[1024] = "";
    cg_config_defaults(&cfg);
    s_set(&cfg, "sim.name=external");
    CU_ASSERT_PTR_NULL(cg_sim_kind_new(&cfg, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[external] obs_dim and n_actions are required"));
    s_set(&cfg, "external.obs_dim=4");
    s_set(&cfg, "external.n_actions=2");
    s_set(&cfg, "external.costs= off_center ,spill");
    s_set(&cfg, "sim.horizon=300");
    cg_sim_kind_t *kind = cg_sim_kind_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
    const cg_sim_info_t *info = cg_sim_kind_info(kind);
    CU_ASSERT_EQUAL(info->obs_dim, 4);
    CU_ASSERT_EQUAL(info->n_actions, 2);
    CU_ASSERT_EQUAL(info->max_steps, 300);
    CU_ASSERT_EQUAL_FATAL(info->n_costs, 2);
    CU_ASSERT_STRING_EQUAL(info->cost_names[0], "off_center");
    CU_ASSERT_STRING_EQUAL(info->cost_names[1], "spill");
    CU_ASSERT_TRUE(info->default_threshold[0] < 0.0f); /* enforced only by [constraints] */
    CU_ASSERT_FALSE(cg_sim_kind_runs_here(kind));
    CU_ASSERT_PTR_NULL(cg_sim_create(kind, 4, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "stepped outside cgrpo"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "docs/python.md"));
    cg_sim_kind_destroy(&kind);
    static const char *const bad[][2] = {
        {"external.costs=a-b", "'a-b' is not a cost name"},
        {"external.costs=a,b,a", "'a' given twice"},
        {"external.costs=a,b,c,d,e,f,g,h,i", "more than 8 names"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        s_set(&cfg, bad[k][0]);
        CU_ASSERT_PTR_NULL(cg_sim_kind_new(&cfg, err, sizeof err));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[k][1]));
    }
    /* The other tables still must have every instance function. */
    cg_config_defaults(&cfg);
    kind = cg_sim_kind_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
    CU_ASSERT_TRUE(cg_sim_kind_runs_here(kind));
    cg_sim_kind_destroy(&kind);
}

static void test_registry_unknown(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "chess");
    char err[512] = "";
    CU_ASSERT_PTR_NULL(cg_sim_new(&cfg, 1, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[sim] name"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'chess'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "gridworld, instruct, navigation, null, sleep"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    s_cfg(&cfg, ""); /* no name: the first built-in, the default */
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_STRING_EQUAL(cg_sim_name(sim), "gridworld");
    cg_sim_destroy(&sim);
    s_cfg(&cfg, "null");
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(cg_sim_new(&cfg, 0, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "at least 1"));
    CU_ASSERT_PTR_NULL(cg_sim_new(&cfg, 0, 1, NULL, 0)); /* no message buffer: still fails */
}

/* Broken invariants abort: run `fn` in a child and expect SIGABRT. */
static int s_aborts(void (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        fn();
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void s_bad_index(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    cg_sim_t *sim = cg_sim_new(&cfg, 2, 1, NULL, 0);
    float obs[MAP_CAP + 4];
    cg_sim_reset(sim, 2, 0, obs);
}

static void s_bad_action(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    cg_sim_t *sim = cg_sim_new(&cfg, 1, 1, NULL, 0);
    float obs[MAP_CAP + 4];
    cg_sim_reset(sim, 0, 0, obs);
    cg_sim_step(sim, 0, 4, obs);
}

static void s_step_before_reset(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "null");
    cg_sim_t *sim = cg_sim_new(&cfg, 1, 1, NULL, 0);
    float obs[4];
    cg_sim_step(sim, 0, 0, obs);
}

static void s_result_too_early(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    cg_sim_t *sim = cg_sim_new(&cfg, 1, 1, NULL, 0);
    float obs[MAP_CAP + 4];
    cg_sim_result_t res;
    cg_sim_reset(sim, 0, 0, obs);
    cg_sim_result(sim, 0, &res);
}

static void test_registry_asserts(void)
{
    CU_ASSERT_TRUE(s_aborts(s_bad_index));
    CU_ASSERT_TRUE(s_aborts(s_bad_action));
    CU_ASSERT_TRUE(s_aborts(s_step_before_reset));
    CU_ASSERT_TRUE(s_aborts(s_result_too_early));
}

/* ---------------------------------------------------------------------------------------
 * gridworld mechanics */

static void test_gridworld_info_and_obs(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    cg_sim_t *sim = s_new(&cfg, 2, 1);
    const cg_sim_info_t *info = cg_sim_info(sim);
    CU_ASSERT_EQUAL(info->obs_dim, DEFAULT_OBS);
    CU_ASSERT_EQUAL(info->n_actions, 4);
    CU_ASSERT_EQUAL(info->n_costs, 2);
    CU_ASSERT_STRING_EQUAL(info->cost_names[0], "lava");
    CU_ASSERT_STRING_EQUAL(info->cost_names[1], "battery");
    CU_ASSERT_EQUAL(info->max_steps, CG_SIM_GRIDWORLD_HORIZON);

    float obs[DEFAULT_OBS], again[DEFAULT_OBS];
    int32_t nc = 63, start = 3 * 9 + 1;
    cg_test_sim_reset(sim, 0, 0, obs);
    float hot = 0;
    for (int32_t k = 0; k < nc; k++)
        hot += obs[k];
    CU_ASSERT_EQUAL(hot, 1.0f);
    CU_ASSERT_EQUAL(obs[start], 1.0f);
    CU_ASSERT_EQUAL(obs[nc + 0], 1.0f); /* charge / battery */
    CU_ASSERT_EQUAL(obs[nc + 1], 0.0f); /* lava so far */
    CU_ASSERT_EQUAL(obs[nc + 2], 0.0f); /* below reserve so far */
    CU_ASSERT_EQUAL(obs[nc + 3], 0.0f); /* t / horizon */
    /* init_seed is ignored: the start is fixed. */
    cg_test_sim_reset(sim, 1, 0xdeadbeef, again);
    CU_ASSERT_EQUAL(memcmp(obs, again, sizeof obs), 0);

    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[start], 0.0f);
    CU_ASSERT_EQUAL(obs[start + 1], 1.0f);
    CG_ASSERT_NEAR(obs[nc + 0], 23.0 / 24.0, 1e-6);
    CG_ASSERT_NEAR(obs[nc + 3], 1.0 / 24.0, 1e-6);
    /* Instances are independent: instance 1 is still at the start. */
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 1, UP, again));
    CU_ASSERT_EQUAL(again[start - 9], 1.0f);
    cg_sim_destroy(&sim);
}

/* Walls and the map edge keep the agent in place (the step still drains and counts); the
 * charger refills; the goal ends the episode with reward 1. Map 2x3, no border:
 *   S.L
 *   #CG   */
static void test_gridworld_walls_charger_goal(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set_map(&cfg, "S.L\n#CG");
    s_set(&cfg, "gridworld.battery=10");
    s_set(&cfg, "gridworld.reserve=2");
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, 6 + 4);
    float obs[10];
    cg_test_sim_reset(sim, 0, 0, obs);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, UP, obs));   /* off the map */
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, LEFT, obs)); /* off the map */
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, DOWN, obs)); /* wall */
    CU_ASSERT_EQUAL(obs[0], 1.0f);
    CG_ASSERT_NEAR(obs[6], 7.0 / 10.0, 1e-6);
    CG_ASSERT_NEAR(obs[9], 3.0 / 24.0, 1e-6);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[1], 1.0f);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, DOWN, obs)); /* charger */
    CU_ASSERT_EQUAL(obs[4], 1.0f);
    CU_ASSERT_EQUAL(obs[6], 1.0f);
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, RIGHT, obs)); /* goal */
    CU_ASSERT_EQUAL(obs[5], 1.0f);
    cg_sim_result_t res;
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 1.0f);
    CU_ASSERT_EQUAL(res.success, 1);
    CU_ASSERT_EQUAL(res.cost[0], 0.0f);
    CU_ASSERT_EQUAL(res.cost[1], 0.0f);
    CU_ASSERT_EQUAL(res.n_checks, 0);
    /* Lava sets the flag and does not end the episode. */
    cg_test_sim_reset(sim, 0, 0, obs);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[2], 1.0f);
    CU_ASSERT_EQUAL(obs[7], 1.0f);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, UP, obs)); /* still running, flag stays */
    CU_ASSERT_EQUAL(obs[7], 1.0f);
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, DOWN, obs));
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 1.0f);
    CU_ASSERT_EQUAL(res.cost[0], 1.0f);
    CU_ASSERT_EQUAL(res.cost[1], 0.0f);
    cg_sim_destroy(&sim);
}

/* Battery 4, reserve 2 on a corridor. */
static void test_gridworld_battery(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.battery=4");
    s_set(&cfg, "gridworld.reserve=2");
    float obs[6 + 4];
    cg_sim_result_t res;

    /* Falls below the reserve at step 3, flat at step 4 short of the goal: ends, reward 0. */
    s_set_map(&cfg, "S....G");
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    cg_test_sim_reset(sim, 0, 0, obs);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[8], 0.0f); /* charge 2 = reserve: not below */
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[8], 1.0f);
    CG_ASSERT_NEAR(obs[6], 0.25, 1e-6);
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[6], 0.0f);
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 0.0f);
    CU_ASSERT_EQUAL(res.success, 0);
    CU_ASSERT_EQUAL(res.cost[1], 1.0f);
    cg_sim_destroy(&sim);

    /* A charger refills; reaching the goal on the last unit of charge still counts. */
    s_set_map(&cfg, "SC...G");
    sim = s_new(&cfg, 1, 1);
    cg_test_sim_reset(sim, 0, 0, obs);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[6], 1.0f);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, RIGHT, obs));
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 1.0f);
    CU_ASSERT_EQUAL(res.cost[1], 1.0f);
    cg_sim_destroy(&sim);

    /* Reaching a charger below the reserve counts, although the charger refills. */
    s_set_map(&cfg, "S..C.G");
    sim = s_new(&cfg, 1, 1);
    cg_test_sim_reset(sim, 0, 0, obs);
    for (int k = 0; k < 3; k++)
        CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_EQUAL(obs[6], 1.0f);
    CU_ASSERT_EQUAL(obs[8], 1.0f);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, RIGHT, obs));
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 1.0f);
    CU_ASSERT_EQUAL(res.cost[1], 1.0f);
    cg_sim_destroy(&sim);
}

/* The horizon ends the episode with reward 0; a new reset starts afresh. */
static void test_gridworld_horizon(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    cfg.horizon = 5;
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->max_steps, 5);
    float obs[DEFAULT_OBS];
    cg_test_sim_reset(sim, 0, 0, obs);
    for (int k = 0; k < 4; k++)
        CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, LEFT, obs)); /* into the wall */
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, LEFT, obs));
    CU_ASSERT_EQUAL(obs[63 + 3], 1.0f);
    cg_sim_result_t res;
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 0.0f);
    CU_ASSERT_EQUAL(res.success, 0);
    CU_ASSERT_EQUAL(res.cost[0], 0.0f);
    CU_ASSERT_EQUAL(res.cost[1], 0.0f);
    cg_test_sim_reset(sim, 0, 0, obs);
    CU_ASSERT_EQUAL(obs[63 + 3], 0.0f);
    CU_ASSERT_EQUAL(obs[63], 1.0f);
    cg_sim_destroy(&sim);
}

/* Plays `episodes` episodes on every instance, interleaved, with actions from `actions`;
 * appends every observation and result to out (sized by the caller). */
static size_t s_play(cg_sim_t *sim, cg_rng_t *actions, int32_t episodes, float *out)
{
    const cg_sim_info_t *info = cg_sim_info(sim);
    int32_t n = cg_sim_n_instances(sim), d = info->obs_dim;
    size_t w = 0;
    float *obs = cg_calloc((size_t)d, sizeof *obs);
    for (int32_t e = 0; e < episodes; e++) {
        int32_t *done = cg_calloc((size_t)n, sizeof *done);
        for (int32_t i = 0; i < n; i++) {
            cg_test_sim_reset(sim, i, (uint64_t)e, out + w);
            w += (size_t)d;
        }
        for (int32_t left = n; left > 0;) {
            for (int32_t i = 0; i < n; i++) {
                if (done[i])
                    continue;
                int32_t a = (int32_t)cg_rng_below(actions, (uint32_t)info->n_actions);
                done[i] = cg_test_sim_step(sim, i, a, out + w);
                w += (size_t)d;
                if (done[i]) {
                    cg_sim_result_t res;
                    cg_test_sim_result(sim, i, &res);
                    out[w++] = res.reward;
                    out[w++] = res.cost[0];
                    out[w++] = res.cost[1];
                    left--;
                }
            }
        }
        free(done);
    }
    free(obs);
    return w;
}

/* Same seed and actions give identical trajectories with slip on; another seed differs. */
static void test_gridworld_determinism(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.slip=0.3");
    size_t cap = (size_t)4 * 30 * (CG_SIM_GRIDWORLD_HORIZON + 1) * DEFAULT_OBS + 4 * 30 * 3;
    float *a = cg_calloc(cap, sizeof *a), *b = cg_calloc(cap, sizeof *b);
    float *c = cg_calloc(cap, sizeof *c);
    cg_rng_t ra, rb, rc;
    cg_rng_seed(&ra, 99, 0);
    cg_rng_seed(&rb, 99, 0);
    cg_rng_seed(&rc, 99, 0);
    cg_sim_t *sa = s_new(&cfg, 4, 12345), *sb = s_new(&cfg, 4, 12345), *sc = s_new(&cfg, 4, 54321);
    size_t na = s_play(sa, &ra, 30, a), nb = s_play(sb, &rb, 30, b), nc = s_play(sc, &rc, 30, c);
    CU_ASSERT_EQUAL(na, nb);
    CU_ASSERT_TRUE(na == nb && memcmp(a, b, na * sizeof *a) == 0);
    CU_ASSERT_FALSE(na == nc && memcmp(a, c, na * sizeof *a) == 0);
    cg_sim_destroy(&sa);
    cg_sim_destroy(&sb);
    cg_sim_destroy(&sc);
    free(a);
    free(b);
    free(c);
}

/* Each instance has its own RNG: instance 1's trajectory does not depend on whether
 * instance 0 is used. */
static void test_gridworld_instance_streams(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.slip=0.5");
    cg_sim_t *both = s_new(&cfg, 2, 7), *alone = s_new(&cfg, 2, 7);
    float o0[DEFAULT_OBS], o1[DEFAULT_OBS], o2[DEFAULT_OBS];
    cg_test_sim_reset(both, 0, 0, o0);
    cg_test_sim_reset(both, 1, 0, o1);
    cg_test_sim_reset(alone, 1, 0, o2);
    int d1 = 0, d2 = 0, same = 1;
    for (int t = 0; t < 200 && same; t++) {
        if (d1) {
            cg_test_sim_reset(both, 1, 0, o1);
            cg_test_sim_reset(alone, 1, 0, o2);
        }
        if (cg_test_sim_step(both, 0, t % 4, o0))
            cg_test_sim_reset(both, 0, 0, o0);
        d1 = cg_test_sim_step(both, 1, RIGHT, o1);
        d2 = cg_test_sim_step(alone, 1, RIGHT, o2);
        same = d1 == d2 && memcmp(o1, o2, sizeof o1) == 0;
    }
    CU_ASSERT_TRUE(same);
    cg_sim_destroy(&both);
    cg_sim_destroy(&alone);
}

/* With slip p an action is replaced by a uniform one: the intended move happens with
 * probability 1 - 3p/4, each other move with p/4. */
static void test_gridworld_slip_frequency(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set_map(&cfg, ".../.S./.../G..");
    s_set(&cfg, "gridworld.slip=0.2");
    cg_sim_t *sim = s_new(&cfg, 1, 3);
    const int32_t n = 40000;
    int32_t counts[12] = {0};
    float obs[12 + 4];
    for (int32_t k = 0; k < n; k++) {
        cg_test_sim_reset(sim, 0, 0, obs);
        CU_ASSERT_FALSE_FATAL(cg_test_sim_step(sim, 0, RIGHT, obs));
        for (int32_t c = 0; c < 12; c++)
            counts[c] += obs[c] == 1.0f;
    }
    /* Centre (1,1) = cell 4; right 5, up 1, down 7, left 3. */
    CG_ASSERT_NEAR(counts[5] / (double)n, 1.0 - 0.75 * 0.2, 0.01);
    CG_ASSERT_NEAR(counts[1] / (double)n, 0.05, 0.006);
    CG_ASSERT_NEAR(counts[7] / (double)n, 0.05, 0.006);
    CG_ASSERT_NEAR(counts[3] / (double)n, 0.05, 0.006);
    CU_ASSERT_EQUAL(counts[1] + counts[3] + counts[5] + counts[7], n);
    cg_sim_destroy(&sim);
}

/* ---------------------------------------------------------------------------------------
 * Map parsing and config checks */

static void test_gridworld_custom_maps(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set_map(&cfg, "\n  #####  \n  #S.G#\r\n#####\n\n");
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, 15 + 4);
    float obs[19];
    cg_test_sim_reset(sim, 0, 0, obs);
    CU_ASSERT_EQUAL(obs[6], 1.0f);
    CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, RIGHT, obs));
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, RIGHT, obs));
    cg_sim_destroy(&sim);
    /* '/' separates rows too (for one-line values such as --set gridworld.map=...). */
    s_set_map(&cfg, "S.G/LC#");
    sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, 6 + 4);
    cg_sim_destroy(&sim);
}

/* Maps as cg_config stores them (INI multi-line value, --set with '/') parse here, and the
 * config's defaults select the built-in world. */
static void test_gridworld_config_maps(void)
{
    cg_config_t cfg;
    char err[512] = "";
    cg_config_defaults(&cfg);
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_STRING_EQUAL(cg_sim_name(sim), "gridworld");
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, DEFAULT_OBS);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->max_steps, CG_SIM_GRIDWORLD_HORIZON);
    cg_sim_destroy(&sim);

    const char *ini = "[gridworld]\n"
                      "map =\n"
                      "    #######\n"
                      "    #S.L.G#\n"
                      "    #..C..#\n"
                      "    #######\n";
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(&cfg, ini, "test.ini", err, sizeof err), CG_OK);
    sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, 4 * 7 + 4);
    cg_sim_destroy(&sim);

    CU_ASSERT_EQUAL_FATAL(cg_config_set(&cfg, "gridworld.map=S.G/.C.", err, sizeof err), CG_OK);
    sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, 2 * 3 + 4);
    cg_sim_destroy(&sim);
}

static void test_gridworld_bad_maps(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set_map(&cfg, "....\n...G");
    s_expect_error(&cfg, "[gridworld] map: no start cell 'S' (hint:");
    s_set_map(&cfg, "S...\n....");
    s_expect_error(&cfg, "[gridworld] map: no goal cell 'G' (hint:");
    s_set_map(&cfg, "S..\n..G.\n...");
    s_expect_error(&cfg, "[gridworld] map: row 2 has 4 cells but row 1 has 3 (hint:");
    s_set_map(&cfg, "S.x\n..G");
    s_expect_error(&cfg, "[gridworld] map: row 1, column 3: unknown cell 'x' (hint:");
    s_set_map(&cfg, "S.G\n.S.");
    s_expect_error(&cfg, "[gridworld] map: row 2, column 2: more than one start cell 'S' (the "
                         "other is at row 1, column 1) (hint: exactly one S)");
    s_set_map(&cfg, "S#G\n.#.");
    s_expect_error(&cfg, "[gridworld] map: the goal 'G' cannot be reached");
    s_set_map(&cfg, "/ /"); /* '/' separates rows of any text value: no rows = the built-in map */
    {
        char err[1024];
        cg_sim_t *sim = cg_sim_new(&cfg, 1, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL(sim);
        if (sim)
            CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, 7 * 9 + 4);
        cg_sim_destroy(&sim);
    }
    s_set_map(&cfg, "S.\xc3\xa9G");
    s_expect_error(&cfg, "[gridworld] map: row 1, column 3: unknown cell 0xc3 (hint:");
    /* Control characters and length are the simulator layer's checks of any text value. */
    s_set_map(&cfg, "S.\tG");
    s_expect_error(&cfg, "[gridworld] map: control character 0x09 (hint:");
    char *big = cg_calloc(CG_SIM_MAX_TEXT + 2, 1);
    memset(big, '.', CG_SIM_MAX_TEXT + 1);
    s_set_map(&cfg, big);
    s_expect_error(&cfg, "[gridworld] map: value is longer than 4095 characters");
    free(big);
    /* Blank rows only: the value is empty, so the built-in map. */
    s_set_map(&cfg, " \n\t\n");
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, DEFAULT_OBS);
    cg_sim_destroy(&sim);
}

/* An error in a map from a file names the file and the line of its `map =` key, the row and
 * column within the map; from --set, the override. */
static void test_gridworld_bad_map_where(void)
{
    cg_config_t cfg;
    char err[1024] = "";
    s_cfg(&cfg, "gridworld");
    const char *ini = "[sim]\n"
                      "horizon = 30\n"
                      "[gridworld]\n"
                      "slip = 0\n"
                      "map =\n"
                      "    #####\n"
                      "    #S.G#\n"
                      "    #.x.#\n"
                      "    #####\n";
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(&cfg, ini, "world.ini", err, sizeof err), CG_OK);
    s_expect_error(&cfg, "world.ini:5: [gridworld] map: row 3, column 3: unknown cell 'x' "
                         "(hint: use S start, G goal, L lava, C charger, # wall, . floor)");
    s_set(&cfg, "gridworld.map=S.G/.S.");
    s_expect_error(&cfg, "--set gridworld.map: row 2, column 2: more than one start cell 'S'");
}

static void test_gridworld_bad_config(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    cfg.horizon = -1;
    s_expect_error(&cfg, "[sim] horizon: -1 is out of range for gridworld (hint:");
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.battery=-3");
    s_expect_error(&cfg, "--set gridworld.battery: -3 is out of range (hint:");
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.reserve=-1");
    s_expect_error(&cfg, "--set gridworld.reserve: -1 is out of range (hint:");
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.reserve=25");
    s_expect_error(&cfg, "reserve: 25 is not below battery 24 (the default) (hint:");
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.battery=10");
    s_expect_error(&cfg, "[gridworld] reserve: 17 (the default) is not below battery 10 (hint:");
    s_set(&cfg, "gridworld.battery=30"); /* with the default reserve 17 */
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    cg_sim_destroy(&sim);
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.slip=1.5");
    s_expect_error(&cfg, "--set gridworld.slip: 1.5 is out of range (hint:");
    s_set(&cfg, "gridworld.slip=nan");
    s_expect_error(&cfg, "--set gridworld.slip: 'nan' is not a finite number");
}

/* A key the simulator does not have is refused, naming where it was given and the keys
 * there are. */
static void test_gridworld_unknown_key(void)
{
    cg_config_t cfg;
    char err[1024] = "";
    s_cfg(&cfg, "gridworld");
    const char *ini = "[gridworld]\n"
                      "battery = 30\n"
                      "\n"
                      "lava = 0.5\n";
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(&cfg, ini, "world.ini", err, sizeof err), CG_OK);
    s_expect_error(&cfg, "world.ini:4: [gridworld] lava: unknown key (hint: [gridworld] has map, "
                         "battery, reserve, slip, layout)");
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.slipp=0.2");
    s_expect_error(&cfg, "--set gridworld.slipp: unknown key");
    /* The same through cg_sim_configure, which the launcher runs before anything starts. */
    cg_config_defaults(&cfg);
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(&cfg, ini, "world.ini", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_sim_configure(&cfg, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "world.ini:4: [gridworld] lava: unknown key"));
}

/* The constraints a config without [constraints] enforces come from describe: gridworld's
 * lava 0.01 and battery 0.10; instruct's verbosity cost is not enforced by default; a
 * [constraints] section replaces them. */
static void test_default_constraints(void)
{
    cg_config_t cfg;
    char err[1024] = "";
    cg_config_defaults(&cfg);
    CU_ASSERT_EQUAL(cfg.n_constraints, 0);
    cg_sim_kind_t *kind = cg_sim_kind_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
    const cg_sim_info_t *info = cg_sim_kind_info(kind);
    CU_ASSERT_EQUAL(info->n_costs, 2);
    CU_ASSERT_EQUAL(info->default_threshold[0], 0.01f);
    CU_ASSERT_EQUAL(info->default_threshold[1], 0.10f);
    cg_sim_kind_destroy(&kind);
    CU_ASSERT_EQUAL_FATAL(cg_sim_configure(&cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg.sim, "gridworld");
    CU_ASSERT_EQUAL_FATAL(cfg.n_constraints, 2);
    CU_ASSERT_STRING_EQUAL(cfg.constraints[0].name, "lava");
    CU_ASSERT_EQUAL(cfg.constraints[0].threshold, 0.01f);
    CU_ASSERT_STRING_EQUAL(cfg.constraints[1].name, "battery");
    CU_ASSERT_EQUAL(cfg.constraints[1].threshold, 0.10f);

    cg_config_defaults(&cfg);
    s_set(&cfg, "sim.name=instruct");
    kind = cg_sim_kind_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
    CU_ASSERT_EQUAL(cg_sim_kind_info(kind)->n_costs, 1);
    CU_ASSERT_TRUE(cg_sim_kind_info(kind)->default_threshold[0] < 0.0f);
    cg_sim_kind_destroy(&kind);
    CU_ASSERT_EQUAL_FATAL(cg_sim_configure(&cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg.n_constraints, 0);

    cg_config_defaults(&cfg);
    CU_ASSERT_EQUAL_FATAL(
        cg_config_load_string(&cfg, "[constraints]\nbattery = 0.2\n", "c.ini", err, sizeof err),
        CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_sim_configure(&cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cfg.n_constraints, 1);
    CU_ASSERT_STRING_EQUAL(cfg.constraints[0].name, "battery");
    CU_ASSERT_EQUAL(cfg.constraints[0].threshold, 0.2f);
}

/* ---------------------------------------------------------------------------------------
 * The batched step */

/* One batched step over a subset of the running instances equals stepping each alone, in
 * any order, for every built-in simulator: same observations, end flags and results, and
 * the rows of instances outside the subset are left alone. Both runs take the same actions
 * from the same stream; gridworld slips, so its per-instance streams are exercised too. */
static void s_check_batch(const char *name)
{
    enum { N = 5, ROUNDS = 400 };
    cg_config_t cfg;
    s_cfg(&cfg, name);
    if (!strcmp(name, "gridworld"))
        s_set(&cfg, "gridworld.slip=0.3");
    cg_sim_t *batch = s_new(&cfg, N, 77), *one = s_new(&cfg, N, 77);
    const cg_sim_info_t *info = cg_sim_info(batch);
    size_t D = (size_t)info->obs_dim;
    float *ob = cg_calloc(N * D, sizeof *ob), *o1 = cg_calloc(N * D, sizeof *o1);
    float *row = cg_calloc(D, sizeof *row);
    cg_rng_t rng;
    cg_rng_seed(&rng, 5, 6);
    int32_t running[N] = {0}, idx[N], act[N], episodes = 0;
    uint8_t done[N];
    for (int32_t r = 0; r < ROUNDS; r++) {
        int32_t n = 0;
        for (int32_t i = 0; i < N; i++) {
            if (!running[i]) { /* a new episode, the same on both */
                uint64_t seed = cg_rng_u64(&rng);
                cg_test_sim_reset(batch, i, seed, ob + (size_t)i * D);
                cg_test_sim_reset(one, i, seed, o1 + (size_t)i * D);
                running[i] = 1;
            }
            if (cg_rng_below(&rng, 3) != 0) /* about 2/3 of them, in a shuffled order */
                idx[n++] = i;
        }
        for (int32_t k = n - 1; k > 0; k--) {
            int32_t j = (int32_t)cg_rng_below(&rng, (uint32_t)k + 1), t = idx[k];
            idx[k] = idx[j];
            idx[j] = t;
        }
        for (int32_t k = 0; k < n; k++)
            act[k] = (int32_t)cg_rng_below(&rng, (uint32_t)info->n_actions);
        CU_ASSERT_EQUAL_FATAL(cg_sim_step_batch(batch, n, idx, act, ob, done), CG_OK);
        for (int32_t k = 0; k < n; k++) {
            int32_t i = idx[k];
            int d = cg_test_sim_step(one, i, act[k], row);
            CU_ASSERT_EQUAL_FATAL(done[k], d);
            CU_ASSERT_FATAL(memcmp(ob + (size_t)i * D, row, D * sizeof *row) == 0);
            memcpy(o1 + (size_t)i * D, row, D * sizeof *row);
            if (d) {
                cg_sim_result_t rb, r1;
                cg_test_sim_result(batch, i, &rb);
                cg_test_sim_result(one, i, &r1);
                CU_ASSERT_FATAL(memcmp(&rb, &r1, sizeof rb) == 0);
                running[i] = 0;
                episodes++;
            }
        }
        CU_ASSERT_FATAL(memcmp(ob, o1, N * D * sizeof *ob) == 0); /* others untouched */
    }
    CU_ASSERT(episodes >= 20);
    free(row);
    free(o1);
    free(ob);
    cg_sim_destroy(&one);
    cg_sim_destroy(&batch);
}

static void test_batch_equals_one_by_one(void)
{
    const char *names[4] = {"gridworld", "instruct", "null", "sleep"};
    for (int k = 0; k < 4; k++)
        s_check_batch(names[k]);
}

/* ---------------------------------------------------------------------------------------
 * null and sleep */

static void test_null(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "null");
    cfg.horizon = 7;
    cg_sim_t *sim = s_new(&cfg, 2, 1);
    const cg_sim_info_t *info = cg_sim_info(sim);
    CU_ASSERT_EQUAL(info->obs_dim, 4);
    CU_ASSERT_EQUAL(info->n_actions, 2);
    CU_ASSERT_EQUAL(info->n_costs, 0);
    CU_ASSERT_EQUAL(info->max_steps, 7);
    float obs[4];
    const int32_t actions[7] = {1, 1, 0, 1, 1, 1, 1};
    for (int rep = 0; rep < 2; rep++) {
        cg_test_sim_reset(sim, 1, (uint64_t)rep, obs);
        CU_ASSERT_EQUAL(obs[0], 0.0f);
        CU_ASSERT_EQUAL(obs[3], 1.0f);
        for (int t = 0; t < 6; t++)
            CU_ASSERT_FALSE(cg_test_sim_step(sim, 1, actions[t], obs));
        CU_ASSERT_TRUE(cg_test_sim_step(sim, 1, actions[6], obs));
        CU_ASSERT_EQUAL(obs[0], 1.0f);
        cg_sim_result_t res;
        cg_test_sim_result(sim, 1, &res);
        CG_ASSERT_NEAR(res.reward, 6.0 / 7.0, 1e-6);
        CU_ASSERT_EQUAL(res.success, 0);
    }
    cg_sim_destroy(&sim);
    cfg.horizon = 0; /* null's default length */
    sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->max_steps, 32);
    cg_sim_destroy(&sim);
    s_set(&cfg, "null.length=5");
    s_expect_error(&cfg, "--set null.length: unknown key (hint: [null] has no keys)");
}

static void test_sleep(void)
{
    cg_config_t cfg;
    s_cfg(&cfg, "sleep");
    cfg.horizon = 5;
    s_set(&cfg, "sleep.step_us=4000");
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->max_steps, 5);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->n_costs, 0);
    float obs[4];
    cg_test_sim_reset(sim, 0, 0, obs);
    double t0 = cg_os_now();
    for (int t = 0; t < 4; t++)
        CU_ASSERT_FALSE(cg_test_sim_step(sim, 0, 1, obs));
    CU_ASSERT_TRUE(cg_test_sim_step(sim, 0, 1, obs));
    double elapsed = cg_os_now() - t0;
    CU_ASSERT_TRUE(elapsed >= 5 * 4000e-6);
    cg_sim_result_t res;
    cg_test_sim_result(sim, 0, &res);
    CU_ASSERT_EQUAL(res.reward, 1.0f);
    CU_ASSERT_EQUAL(res.success, 1);
    cg_sim_destroy(&sim);
    s_set(&cfg, "sleep.step_us=-1");
    s_expect_error(&cfg, "--set sleep.step_us: -1 is out of range (hint:");
}

/* ---- the tradeoff layout ---- */

/* Steps from each cell of the layout's map to G (BFS through floor, and through lava unless
 * avoid_lava); -1 where G cannot be reached. */
static void s_goal_dist(const cg_sim_gridworld_layout_t *lay, int avoid_lava, int32_t *rows,
                        int32_t *cols, int32_t *dist)
{
    const char *m = lay->map;
    *cols = (int32_t)strcspn(m, "\n");
    *rows = (int32_t)(strlen(m) + 1) / (*cols + 1);
    int32_t n = *rows * *cols, queue[MAP_CAP], head = 0, tail = 0;
    static const int32_t dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
    for (int32_t k = 0; k < n; k++) {
        dist[k] = -1;
        if (m[k / *cols * (*cols + 1) + k % *cols] == 'G') {
            dist[k] = 0;
            queue[tail++] = k;
        }
    }
    while (head < tail) {
        int32_t k = queue[head++];
        for (int a = 0; a < 4; a++) {
            int32_t r = k / *cols + dr[a], c = k % *cols + dc[a], next = r * *cols + c;
            char ch = m[r * (*cols + 1) + c]; /* the map is walled: r, c stay inside */
            if (ch == '#' || (avoid_lava && ch == 'L') || dist[next] >= 0)
                continue;
            dist[next] = dist[k] + 1;
            queue[tail++] = next;
        }
    }
}

/* Goal, lava and battery rates of a greedy walker (each step the move that lowers the
 * distance to G the most) over `episodes` episodes of the real simulator with slip 0.1. */
static void s_walk_tradeoff(int avoid_lava, int episodes, double rates[3])
{
    const cg_sim_gridworld_layout_t *lay = cg_sim_gridworld_layout("tradeoff");
    CU_ASSERT_PTR_NOT_NULL_FATAL(lay);
    int32_t rows, cols, dist[MAP_CAP];
    s_goal_dist(lay, avoid_lava, &rows, &cols, dist);
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.layout=tradeoff");
    s_set(&cfg, "gridworld.slip=0.1");
    cg_sim_t *sim = s_new(&cfg, 1, 11);
    CU_ASSERT_EQUAL_FATAL(cg_sim_info(sim)->obs_dim, rows * cols + 4);
    CU_ASSERT_EQUAL_FATAL(cg_sim_info(sim)->max_steps, lay->horizon);
    float obs[MAP_CAP + 4];
    static const int32_t dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
    rates[0] = rates[1] = rates[2] = 0;
    for (int e = 0; e < episodes; e++) {
        cg_test_sim_reset(sim, 0, (uint64_t)e, obs);
        for (int done = 0; !done;) {
            int32_t cell = 0, best = 0;
            while (obs[cell] != 1.0f)
                cell++;
            for (int a = 0, d = INT32_MAX; a < 4; a++) {
                int32_t next = (cell / cols + dr[a]) * cols + cell % cols + dc[a];
                if (dist[next] >= 0 && dist[next] < d) {
                    d = dist[next];
                    best = a;
                }
            }
            done = cg_test_sim_step(sim, 0, best, obs);
        }
        cg_sim_result_t res;
        cg_test_sim_result(sim, 0, &res);
        rates[0] += res.reward / episodes;
        rates[1] += res.cost[0] / episodes;
        rates[2] += res.cost[1] / episodes;
    }
    cg_sim_destroy(&sim);
}

/* [gridworld] layout = tradeoff: avoiding lava costs goal rate. Across the lava 2 steps,
 * around it 4 of a horizon of 4, so with slip 0.1 the detour fails ~22 % of the time
 * (P(no wasted step) = (1 - 0.1 * 3/4)^4 ~ 0.73, plus slips that happen to move on), and
 * slips up from under the lava cell enter it ~5 % of the time; the battery never runs low. */
static void test_gridworld_tradeoff(void)
{
    double across[3], around[3];
    s_walk_tradeoff(0, 4000, across);
    s_walk_tradeoff(1, 4000, around);
    fprintf(stderr,
            "\n    across the lava: goal %.3f lava %.3f battery %.3f\n"
            "    around it:       goal %.3f lava %.3f battery %.3f\n",
            across[0], across[1], across[2], around[0], around[1], around[2]);
    CU_ASSERT(across[0] > 0.96);
    CU_ASSERT(across[1] > 0.99);
    CU_ASSERT(around[0] > 0.72 && around[0] < 0.84);
    CU_ASSERT(around[1] > 0.02 && around[1] < 0.08);
    CU_ASSERT(across[2] == 0.0 && around[2] == 0.0);
    /* the layout's settings give way to the config's own */
    cg_config_t cfg;
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.layout=tradeoff");
    s_set(&cfg, "sim.horizon=20");
    cg_sim_t *sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->max_steps, 20);
    cg_sim_destroy(&sim);
    s_set_map(&cfg, "S.G");
    sim = s_new(&cfg, 1, 1);
    CU_ASSERT_EQUAL(cg_sim_info(sim)->obs_dim, 3 + 4);
    cg_sim_destroy(&sim);
    s_cfg(&cfg, "gridworld");
    s_set(&cfg, "gridworld.layout=maze");
    char err[512] = "";
    CU_ASSERT_PTR_NULL(cg_sim_new(&cfg, 1, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "gridworld.layout: unknown layout 'maze' (hint: default or "
                                       "tradeoff"));
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"registry names", test_registry_names},
        {"registry unknown name", test_registry_unknown},
        {"external (stepped outside cgrpo)", test_external},
        {"registry asserts", test_registry_asserts},
        {"gridworld info and observation", test_gridworld_info_and_obs},
        {"gridworld walls charger goal lava", test_gridworld_walls_charger_goal},
        {"gridworld battery", test_gridworld_battery},
        {"gridworld horizon", test_gridworld_horizon},
        {"gridworld determinism with slip", test_gridworld_determinism},
        {"gridworld instance streams", test_gridworld_instance_streams},
        {"gridworld slip frequency", test_gridworld_slip_frequency},
        {"gridworld tradeoff layout", test_gridworld_tradeoff},
        {"gridworld custom maps", test_gridworld_custom_maps},
        {"gridworld maps from the config", test_gridworld_config_maps},
        {"gridworld bad maps", test_gridworld_bad_maps},
        {"gridworld bad map: file and line", test_gridworld_bad_map_where},
        {"gridworld bad config", test_gridworld_bad_config},
        {"gridworld unknown key", test_gridworld_unknown_key},
        {"default constraints from describe", test_default_constraints},
        {"batched step equals one by one", test_batch_equals_one_by_one},
        {"gridworld binding proof", test_gridworld_binding_proof},
        {"gridworld slip trade-off", test_gridworld_slip_tradeoff},
        {"null", test_null},
        {"sleep", test_sleep},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("sim", tests, NULL, NULL);
}
