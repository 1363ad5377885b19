/* gridworld: the lava/battery world of the Constrained GRPO paper, on a map of our own design
 * (the paper does not publish its layout). An agent walks from S to G; reward 1 on reaching
 * G within the horizon; indicator costs "lava" (entered a lava cell) and "battery" (charge
 * fell below the reserve). Dynamics, observation layout and why both constraints bind on the
 * default map: docs/simulators.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_rng.h"
#include "cg_sim.h"

/* 7 x 9 (drawn and explained in docs/simulators.md). Shortest path 6 steps, across the lava;
 * lava-free paths that skip the charger take 8+ steps, more than the 7 the reserve allows
 * (24 - 17); through the charger 10 steps (5 + 5); horizon 24. */
static const char s_default_map[] = "#########\n"
                                    "#...C...#\n"
                                    "#.......#\n"
                                    "#S.LLL.G#\n"
                                    "#.......#\n"
                                    "#.......#\n"
                                    "#########";

enum { S_UP = 0, S_DOWN = 1, S_LEFT = 2, S_RIGHT = 3, S_N_ACTIONS = 4 };
static const int32_t s_dr[S_N_ACTIONS] = {-1, 1, 0, 0};
static const int32_t s_dc[S_N_ACTIONS] = {0, 0, -1, 1};

/* Observation: one-hot cell (rows*cols), then these 4 features. */
enum { S_OBS_CHARGE = 0, S_OBS_LAVA = 1, S_OBS_LOW = 2, S_OBS_TIME = 3, S_OBS_EXTRA = 4 };

typedef struct {
    cg_rng_t rng;     /* slip draws; continues across episodes */
    int32_t cell;     /* r * cols + c */
    int32_t charge;   /* 0 .. battery */
    int32_t t;        /* steps taken this episode */
    int8_t lava;      /* entered lava this episode */
    int8_t low;       /* charge fell below the reserve this episode */
    int8_t goal;      /* reached G */
    int8_t running;   /* reset and not yet done */
    int8_t finished;  /* an episode ended and result() may be read */
} s_inst_t;

typedef struct {
    int32_t rows, cols;
    char *cells;      /* (rows, cols) map characters */
    int32_t start;    /* cell of S */
    int32_t horizon, battery, reserve;
    double slip;
    int32_t n;
    s_inst_t *inst;   /* (n) */
} s_grid_t;

const char *cg_sim_gridworld_default_map(void)
{
    return s_default_map;
}

static int s_is_cell(char ch)
{
    return ch == 'S' || ch == 'G' || ch == 'L' || ch == 'C' || ch == '#' || ch == '.';
}

/* 1 if some G is reachable from S moving through non-wall cells (lava and chargers count). */
static int s_goal_reachable(const s_grid_t *g)
{
    int32_t n_cells = g->rows * g->cols;
    int32_t *queue = cg_calloc((size_t)n_cells, sizeof *queue);
    char *seen = cg_calloc((size_t)n_cells, 1);
    int32_t head = 0, tail = 0, found = 0;
    queue[tail++] = g->start;
    seen[g->start] = 1;
    while (head < tail && !found) {
        int32_t cell = queue[head++];
        if (g->cells[cell] == 'G')
            found = 1;
        for (int32_t a = 0; a < S_N_ACTIONS; a++) {
            int32_t r = cell / g->cols + s_dr[a], c = cell % g->cols + s_dc[a];
            if (r < 0 || r >= g->rows || c < 0 || c >= g->cols)
                continue;
            int32_t next = r * g->cols + c;
            if (!seen[next] && g->cells[next] != '#') {
                seen[next] = 1;
                queue[tail++] = next;
            }
        }
    }
    free(seen);
    free(queue);
    return found;
}

/* Parses rows separated by '\n' or '/' (as cg_config accepts them: --set gridworld.map=S.G/...);
 * blanks around a row and empty lines are ignored. Fills rows, cols, cells, start.
 * 0 on success, -1 + err. */
static int s_parse_map(s_grid_t *g, const char *text, char *err, size_t errlen)
{
    const char *hint = "(hint: use S start, G goal, L lava, C charger, # wall, . floor)";
    size_t len = strlen(text);
    g->cells = cg_calloc(len + 1, 1);
    g->rows = g->cols = 0;
    int32_t n_start = 0, n_goal = 0, start_row = 0;
    const char *p = text;
    while (*p) {
        const char *end = p + strcspn(p, "\n/");
        const char *b = p, *e = end;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        p = *end ? end + 1 : end;
        if (b == e)
            continue;
        int32_t width = (int32_t)(e - b), row = g->rows + 1;
        if (g->rows == 0)
            g->cols = width;
        else if (width != g->cols) {
            cg_status_msg(err, errlen,
                  "[gridworld] map: row %d has %d cells but row 1 has %d (hint: every row must "
                  "have the same width; pad with '#')",
                  row, width, g->cols);
            return -1;
        }
        for (int32_t c = 0; c < width; c++) {
            char ch = b[c];
            if (!s_is_cell(ch)) {
                if (ch > ' ' && ch < 127)
                    cg_status_msg(err, errlen, "[gridworld] map: row %d, column %d: unknown cell '%c' %s",
                          row, c + 1, ch, hint);
                else
                    cg_status_msg(err, errlen, "[gridworld] map: row %d, column %d: unknown cell 0x%02x %s",
                          row, c + 1, (unsigned)(unsigned char)ch, hint);
                return -1;
            }
            if (ch == 'S') {
                if (n_start++) {
                    cg_status_msg(err, errlen,
                          "[gridworld] map: more than one start cell 'S' (rows %d and %d) "
                          "(hint: exactly one S)",
                          start_row, row);
                    return -1;
                }
                start_row = row;
                g->start = g->rows * g->cols + c;
            }
            n_goal += ch == 'G';
            g->cells[g->rows * g->cols + c] = ch;
        }
        g->rows++;
    }
    if (g->rows == 0) {
        cg_status_msg(err, errlen,
              "[gridworld] map: no rows (hint: leave map empty for the built-in default)");
        return -1;
    }
    if (n_start == 0) {
        cg_status_msg(err, errlen, "[gridworld] map: no start cell 'S' %s", hint);
        return -1;
    }
    if (n_goal == 0) {
        cg_status_msg(err, errlen, "[gridworld] map: no goal cell 'G' %s", hint);
        return -1;
    }
    if (!s_goal_reachable(g)) {
        cg_status_msg(err, errlen, "[gridworld] map: the goal 'G' cannot be reached from the start 'S' "
                           "(hint: walls '#' cut every path; open one)");
        return -1;
    }
    return 0;
}

static void s_destroy(void *ctx)
{
    s_grid_t *g = ctx;
    if (!g)
        return;
    free(g->inst);
    free(g->cells);
    free(g);
}

static void *s_create(const cg_config_t *cfg, int32_t n, uint64_t seed, cg_sim_info_t *info,
                      char *err, size_t errlen)
{
    s_grid_t *g = cg_calloc(1, sizeof *g);
    if (cfg->horizon < 0) {
        cg_status_msg(err, errlen, "[sim] horizon: %d is negative (hint: 0 = gridworld's default, %d)",
              cfg->horizon, CG_SIM_GRIDWORLD_HORIZON);
        goto fail;
    }
    if (cfg->grid_battery < 0 || cfg->grid_reserve < 0) {
        cg_status_msg(err, errlen, "[gridworld] %s: %d is negative (hint: 0 = the default)",
              cfg->grid_battery < 0 ? "battery" : "reserve",
              cfg->grid_battery < 0 ? cfg->grid_battery : cfg->grid_reserve);
        goto fail;
    }
    if (!(cfg->grid_slip >= 0.0f && cfg->grid_slip <= 1.0f)) {
        cg_status_msg(err, errlen, "[gridworld] slip: %g is outside [0, 1] (hint: the probability that "
                           "an action is replaced by a random one; 0 = off)",
              (double)cfg->grid_slip);
        goto fail;
    }
    g->horizon = cfg->horizon > 0 ? cfg->horizon : CG_SIM_GRIDWORLD_HORIZON;
    g->battery = cfg->grid_battery > 0 ? cfg->grid_battery : CG_SIM_GRIDWORLD_BATTERY;
    g->reserve = cfg->grid_reserve > 0 ? cfg->grid_reserve : CG_SIM_GRIDWORLD_RESERVE;
    if (g->reserve >= g->battery) {
        cg_status_msg(err, errlen, "[gridworld] reserve: %d%s is not below battery %d (hint: set "
                           "[gridworld] reserve below the battery)",
              g->reserve, cfg->grid_reserve > 0 ? "" : " (the default)", g->battery);
        goto fail;
    }
    g->slip = cfg->grid_slip;
    if (!memchr(cfg->grid_map, '\0', sizeof cfg->grid_map)) {
        cg_status_msg(err, errlen, "[gridworld] map: longer than %d characters (hint: a smaller map)",
              (int)sizeof cfg->grid_map - 1);
        goto fail;
    }
    if (s_parse_map(g, cfg->grid_map[0] ? cfg->grid_map : s_default_map, err, errlen) != 0)
        goto fail;

    g->n = n;
    g->inst = cg_calloc((size_t)n, sizeof *g->inst);
    cg_rng_t root;
    cg_rng_seed(&root, seed, 0x67726964u /* "grid" */);
    for (int32_t i = 0; i < n; i++)
        g->inst[i].rng = cg_rng_split(&root, (uint64_t)i);

    memset(info, 0, sizeof *info);
    info->obs_dim = g->rows * g->cols + S_OBS_EXTRA;
    info->n_actions = S_N_ACTIONS;
    info->n_costs = 2;
    snprintf(info->cost_names[0], CG_NAME_LEN, "lava");
    snprintf(info->cost_names[1], CG_NAME_LEN, "battery");
    info->max_steps = g->horizon;
    return g;
fail:
    s_destroy(g);
    return NULL;
}

static void s_observe(const s_grid_t *g, const s_inst_t *s, float *obs)
{
    int32_t n_cells = g->rows * g->cols;
    memset(obs, 0, (size_t)(n_cells + S_OBS_EXTRA) * sizeof *obs);
    obs[s->cell] = 1.0f;
    obs[n_cells + S_OBS_CHARGE] = (float)s->charge / (float)g->battery;
    obs[n_cells + S_OBS_LAVA] = (float)s->lava;
    obs[n_cells + S_OBS_LOW] = (float)s->low;
    obs[n_cells + S_OBS_TIME] = (float)s->t / (float)g->horizon;
}

/* The start is fixed, so init_seed does not matter: every episode begins at S, fully charged. */
static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_grid_t *g = ctx;
    s_inst_t *s = &g->inst[i];
    (void)init_seed;
    s->cell = g->start;
    s->charge = g->battery;
    s->t = 0;
    s->lava = s->low = s->goal = 0;
    s->running = 1;
    s->finished = 0;
    s_observe(g, s, obs);
}

/* One step: slip, move (walls and the edge keep the agent in place), drain 1, flag lava and
 * a charge below the reserve (before a charger refills it), refill on a charger, then end
 * at the goal, at charge 0 (flat battery: the agent cannot move) or at the horizon. */
static int s_step(void *ctx, int32_t i, int32_t action, float *obs)
{
    s_grid_t *g = ctx;
    s_inst_t *s = &g->inst[i];
    CG_ASSERT(s->running);
    CG_ASSERT(action >= 0 && action < S_N_ACTIONS);
    if (g->slip > 0.0 && cg_rng_uniform(&s->rng) < g->slip)
        action = (int32_t)cg_rng_below(&s->rng, S_N_ACTIONS);
    int32_t r = s->cell / g->cols + s_dr[action], c = s->cell % g->cols + s_dc[action];
    if (r >= 0 && r < g->rows && c >= 0 && c < g->cols && g->cells[r * g->cols + c] != '#')
        s->cell = r * g->cols + c;
    s->t++;
    s->charge--;
    char here = g->cells[s->cell];
    if (here == 'L')
        s->lava = 1;
    if (s->charge < g->reserve)
        s->low = 1;
    if (here == 'C')
        s->charge = g->battery;
    if (here == 'G')
        s->goal = 1;
    int done = s->goal || s->charge == 0 || s->t >= g->horizon;
    if (done) {
        s->running = 0;
        s->finished = 1;
    }
    s_observe(g, s, obs);
    return done;
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    s_grid_t *g = ctx;
    s_inst_t *s = &g->inst[i];
    CG_ASSERT(s->finished);
    memset(out, 0, sizeof *out);
    out->reward = s->goal ? 1.0f : 0.0f;
    out->cost[0] = (float)s->lava;
    out->cost[1] = (float)s->low;
    out->n_checks = 0;
    out->success = s->goal;
}

const cg_sim_vtable_t cg_sim_gridworld = {
    .name = "gridworld",
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
};
