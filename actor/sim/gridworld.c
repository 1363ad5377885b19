/* gridworld: the lava/battery world of the Constrained GRPO paper, on a map of our own design
 * (the paper does not publish its layout). An agent walks from S to G; reward 1 on reaching
 * G within the horizon; indicator costs "lava" (entered a lava cell) and "battery" (charge
 * fell below the reserve). Its [gridworld] keys: layout, map, battery, reserve, slip.
 * Dynamics, observations, why both constraints bind on the default layout and what the
 * tradeoff layout trades: docs/simulators.md. */
#include "gridworld.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_rng.h"
#include "cg_sim.h"

/* The built-in worlds (drawn and explained in docs/simulators.md).
 * default, 7 x 9: shortest path 6 steps, across the lava; lava-free paths that skip the
 * charger take 8+ steps, more than the 7 the reserve allows (24 - 17); through the charger
 * 10 steps (5 + 5); horizon 24.
 * tradeoff, 4 x 5: 2 steps across the lava cell, or 4 around it with none to spare (horizon
 * 4): with slip 0.1 the detour reaches the goal ~78 % of the time (and slips into the lava
 * from below ~5 %), the lava route ~98 %, so lava rate buys goal rate (~0.2 per unit) and a
 * lava budget d is met best by crossing in a fraction ~(d - 0.05) / 0.95 of the episodes.
 * Small enough that a random policy finds the goal (both routes), so the constrained
 * learners have a reward to trade. The battery (24, reserve 1) never runs low. */
static const cg_sim_gridworld_layout_t s_layouts[] = {
    {"default",
     "#########\n"
     "#...C...#\n"
     "#.......#\n"
     "#S.LLL.G#\n"
     "#.......#\n"
     "#.......#\n"
     "#########",
     CG_SIM_GRIDWORLD_HORIZON, CG_SIM_GRIDWORLD_BATTERY, CG_SIM_GRIDWORLD_RESERVE},
    {"tradeoff",
     "#####\n"
     "#SLG#\n"
     "#...#\n"
     "#####",
     4, 24, 1},
};
#define S_N_LAYOUTS ((int)(sizeof s_layouts / sizeof s_layouts[0]))

enum {
    S_KEY_MAP = 0,
    S_KEY_BATTERY = 1,
    S_KEY_RESERVE = 2,
    S_KEY_SLIP = 3,
    S_KEY_LAYOUT = 4,
    S_N_KEYS = 5
};

static const cg_sim_key_t s_keys[S_N_KEYS] = {
    [S_KEY_MAP] = {"map", CG_SIM_TEXT, "", 0, 0,
                   "rows of S start, G goal, L lava, C charger, # wall, . floor, separated by "
                   "new lines or '/'; empty = the layout's map"},
    [S_KEY_BATTERY] = {"battery", CG_SIM_INT, "0", 0, 1000000,
                       "a full charge, in steps; 0 = the layout's (24)"},
    [S_KEY_RESERVE] = {"reserve", CG_SIM_INT, "0", 0, 1000000,
                       "the battery cost fires when the charge falls below it; 0 = the "
                       "layout's (default 17, tradeoff 1)"},
    [S_KEY_SLIP] = {"slip", CG_SIM_FLOAT, "0.1", 0, 1,
                    "the probability that an action is replaced by a random one; 0 = off"},
    [S_KEY_LAYOUT] = {"layout", CG_SIM_STRING, "default", 0, 0,
                      "a built-in world: default (both constraints bind) or tradeoff "
                      "(avoiding lava costs goal rate); its map, horizon, battery and "
                      "reserve apply where those are not set"},
};

/* The default constraints: [constraints] lava = 0.01, battery = 0.10. */
static const float s_default_threshold[2] = {0.01f, 0.10f};

enum { S_UP = 0, S_DOWN = 1, S_LEFT = 2, S_RIGHT = 3, S_N_ACTIONS = 4 };
static const int32_t s_dr[S_N_ACTIONS] = {-1, 1, 0, 0};
static const int32_t s_dc[S_N_ACTIONS] = {0, 0, -1, 1};

/* Observation: one-hot cell (rows*cols), then these 4 features. */
enum { S_OBS_CHARGE = 0, S_OBS_LAVA = 1, S_OBS_LOW = 2, S_OBS_TIME = 3, S_OBS_EXTRA = 4 };

/* The world a config describes: what describe checks and create runs. */
typedef struct {
    int32_t rows, cols;
    char *cells;   /* (rows, cols) map characters, owned */
    int32_t start; /* cell of S */
    int32_t horizon, battery, reserve;
    double slip;
} s_world_t;

typedef struct {
    cg_rng_t rng;    /* slip draws; continues across episodes */
    int32_t cell;    /* r * cols + c */
    int32_t charge;  /* 0 .. battery */
    int32_t t;       /* steps taken this episode */
    int8_t lava;     /* entered lava this episode */
    int8_t low;      /* charge fell below the reserve this episode */
    int8_t goal;     /* reached G */
    int8_t running;  /* reset and not yet done */
    int8_t finished; /* an episode ended and result() may be read */
} s_inst_t;

typedef struct {
    s_world_t w;
    int32_t obs_dim;
    int32_t n;
    s_inst_t *inst; /* (n) */
} s_grid_t;

const cg_sim_gridworld_layout_t *cg_sim_gridworld_layout(const char *name)
{
    for (int i = 0; i < S_N_LAYOUTS; i++)
        if (name && strcmp(s_layouts[i].name, name) == 0)
            return &s_layouts[i];
    return NULL;
}

const char *cg_sim_gridworld_default_map(void)
{
    return s_layouts[0].map;
}

/* ---- the world from the config -------------------------------------------------------- */

static int s_is_cell(char ch)
{
    return ch == 'S' || ch == 'G' || ch == 'L' || ch == 'C' || ch == '#' || ch == '.';
}

/* 1 if some G is reachable from S moving through non-wall cells (lava and chargers count). */
static int s_goal_reachable(const s_world_t *w)
{
    int32_t n_cells = w->rows * w->cols;
    int32_t *queue = cg_calloc((size_t)n_cells, sizeof *queue);
    char *seen = cg_calloc((size_t)n_cells, 1);
    int32_t head = 0, tail = 0, found = 0;
    queue[tail++] = w->start;
    seen[w->start] = 1;
    while (head < tail && !found) {
        int32_t cell = queue[head++];
        if (w->cells[cell] == 'G')
            found = 1;
        for (int32_t a = 0; a < S_N_ACTIONS; a++) {
            int32_t r = cell / w->cols + s_dr[a], c = cell % w->cols + s_dc[a];
            if (r < 0 || r >= w->rows || c < 0 || c >= w->cols)
                continue;
            int32_t next = r * w->cols + c;
            if (!seen[next] && w->cells[next] != '#') {
                seen[next] = 1;
                queue[tail++] = next;
            }
        }
    }
    free(seen);
    free(queue);
    return found;
}

/* One row's cells (b, width) as row `row` (1-based) of w. 0, or -1 + err. */
static int s_parse_row(s_world_t *w, const char *b, int32_t width, int32_t row, int32_t *n_goal,
                       char *err, size_t errlen)
{
    const char *hint = "(hint: use S start, G goal, L lava, C charger, # wall, . floor)";
    for (int32_t c = 0; c < width; c++) {
        char ch = b[c];
        if (!s_is_cell(ch)) {
            if (ch > ' ' && ch < 127)
                cg_status_msg(err, errlen,
                              "[gridworld] map: row %d, column %d: unknown cell '%c' %s", row,
                              c + 1, ch, hint);
            else
                cg_status_msg(err, errlen,
                              "[gridworld] map: row %d, column %d: unknown cell 0x%02x %s", row,
                              c + 1, (unsigned)(unsigned char)ch, hint);
            return -1;
        }
        int32_t cell = (row - 1) * w->cols + c;
        if (ch == 'S') {
            if (w->start >= 0) {
                cg_status_msg(err, errlen,
                              "[gridworld] map: row %d, column %d: more than one "
                              "start cell 'S' (the other is at row %d, column %d) (hint: "
                              "exactly one S)",
                              row, c + 1, w->start / w->cols + 1, w->start % w->cols + 1);
                return -1;
            }
            w->start = cell;
        }
        *n_goal += ch == 'G';
        w->cells[cell] = ch;
    }
    return 0;
}

/* Parses rows separated by '\n' or '/' (--set gridworld.map=S.G/... is one line); blanks
 * around a row and empty rows are ignored. Fills rows, cols, cells, start. 0, or -1 + err. */
static int s_parse_map(s_world_t *w, const char *text, char *err, size_t errlen)
{
    const char *hint = "(hint: use S start, G goal, L lava, C charger, # wall, . floor)";
    w->cells = cg_calloc(strlen(text) + 1, 1);
    w->rows = w->cols = 0;
    w->start = -1;
    int32_t n_goal = 0;
    for (const char *p = text; *p;) {
        const char *end = p + strcspn(p, "\n/");
        const char *b = p, *e = end;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        p = *end ? end + 1 : end;
        if (b == e)
            continue;
        int32_t width = (int32_t)(e - b), row = w->rows + 1;
        if (w->rows == 0)
            w->cols = width;
        else if (width != w->cols) {
            cg_status_msg(err, errlen,
                          "[gridworld] map: row %d has %d cells but row 1 has %d "
                          "(hint: every row must have the same width; pad with '#')",
                          row, width, w->cols);
            return -1;
        }
        if (s_parse_row(w, b, width, row, &n_goal, err, errlen))
            return -1;
        w->rows++;
    }
    if (w->rows == 0) {
        cg_status_msg(err, errlen,
                      "[gridworld] map: no rows (hint: leave map empty for the "
                      "built-in map, or give rows such as S.G separated by new lines or '/')");
        return -1;
    }
    if (w->start < 0) {
        cg_status_msg(err, errlen, "[gridworld] map: no start cell 'S' %s", hint);
        return -1;
    }
    if (n_goal == 0) {
        cg_status_msg(err, errlen, "[gridworld] map: no goal cell 'G' %s", hint);
        return -1;
    }
    if (!s_goal_reachable(w)) {
        cg_status_msg(err, errlen,
                      "[gridworld] map: the goal 'G' cannot be reached from the "
                      "start 'S' (hint: walls '#' cut every path; open one)");
        return -1;
    }
    return 0;
}

static void s_world_free(s_world_t *w)
{
    free(w->cells);
    w->cells = NULL;
}

/* The world of p: defaults for 0 / "", every rule checked. describe and create both come
 * here, so they accept the same configs. 0, or -1 + err (w freed by the caller). */
static int s_world_from(const cg_sim_params_t *p, s_world_t *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (p->horizon < 0 || p->horizon > CG_SIM_MAX_STEPS) {
        cg_status_msg(err, errlen,
                      "[sim] horizon: %d is out of range for gridworld (hint: the "
                      "episode cap in steps, 1 to %d; 0 = gridworld's default, %d)",
                      p->horizon, CG_SIM_MAX_STEPS, CG_SIM_GRIDWORLD_HORIZON);
        return -1;
    }
    const char *name = p->values[S_KEY_LAYOUT].s;
    const cg_sim_gridworld_layout_t *lay =
        cg_sim_gridworld_layout(name && name[0] ? name : "default");
    if (!lay) {
        cg_status_msg(err, errlen,
                      "[gridworld] layout: unknown layout '%.64s' (hint: default or tradeoff; "
                      "a map of your own is [gridworld] map or map_file)",
                      name);
        return -1;
    }
    int64_t battery = p->values[S_KEY_BATTERY].i, reserve = p->values[S_KEY_RESERVE].i;
    w->horizon = p->horizon > 0 ? p->horizon : lay->horizon;
    w->battery = battery > 0 ? (int32_t)battery : lay->battery;
    w->reserve = reserve > 0 ? (int32_t)reserve : lay->reserve;
    if (w->reserve >= w->battery) {
        cg_status_msg(err, errlen,
                      "[gridworld] reserve: %d%s is not below battery %d%s (hint: "
                      "set [gridworld] reserve below the battery)",
                      w->reserve, reserve > 0 ? "" : " (the default)", w->battery,
                      battery > 0 ? "" : " (the default)");
        return -1;
    }
    /* As a float, as the config held it before simulators had their own keys: the slip draw
     * compares against exactly the same number, so runs replay across versions. */
    w->slip = (double)(float)p->values[S_KEY_SLIP].f;
    const char *map = p->values[S_KEY_MAP].s;
    return s_parse_map(w, map && map[0] ? map : lay->map, err, errlen);
}

/* ---- the table ------------------------------------------------------------------------- */

static int s_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen)
{
    s_world_t w;
    int rc = s_world_from(p, &w, err, errlen);
    if (rc == 0) {
        memset(info, 0, sizeof *info);
        info->obs_dim = w.rows * w.cols + S_OBS_EXTRA;
        info->n_actions = S_N_ACTIONS;
        info->n_costs = 2;
        snprintf(info->cost_names[0], CG_SIM_NAME_LEN, "lava");
        snprintf(info->cost_names[1], CG_SIM_NAME_LEN, "battery");
        info->default_threshold[0] = s_default_threshold[0];
        info->default_threshold[1] = s_default_threshold[1];
        info->max_steps = w.horizon;
    }
    s_world_free(&w);
    return rc;
}

static void s_destroy(void *ctx)
{
    s_grid_t *g = ctx;
    if (!g)
        return;
    free(g->inst);
    s_world_free(&g->w);
    free(g);
}

static void *s_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    s_grid_t *g = cg_calloc(1, sizeof *g);
    if (s_world_from(p, &g->w, err, errlen) != 0) {
        s_destroy(g);
        return NULL;
    }
    g->obs_dim = g->w.rows * g->w.cols + S_OBS_EXTRA;
    g->n = n;
    g->inst = cg_calloc((size_t)n, sizeof *g->inst);
    cg_rng_t root;
    cg_rng_seed(&root, seed, 0x67726964u /* "grid" */);
    for (int32_t i = 0; i < n; i++)
        g->inst[i].rng = cg_rng_split(&root, (uint64_t)i);
    return g;
}

static void s_observe(const s_grid_t *g, const s_inst_t *s, float *obs)
{
    int32_t n_cells = g->w.rows * g->w.cols;
    memset(obs, 0, (size_t)g->obs_dim * sizeof *obs);
    obs[s->cell] = 1.0f;
    obs[n_cells + S_OBS_CHARGE] = (float)s->charge / (float)g->w.battery;
    obs[n_cells + S_OBS_LAVA] = (float)s->lava;
    obs[n_cells + S_OBS_LOW] = (float)s->low;
    obs[n_cells + S_OBS_TIME] = (float)s->t / (float)g->w.horizon;
}

/* The start is fixed, so init_seed does not matter: every episode begins at S, fully charged. */
static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_grid_t *g = ctx;
    s_inst_t *s = &g->inst[i];
    (void)init_seed;
    s->cell = g->w.start;
    s->charge = g->w.battery;
    s->t = 0;
    s->lava = s->low = s->goal = 0;
    s->running = 1;
    s->finished = 0;
    s_observe(g, s, obs);
}

/* One step of one instance: slip, move (walls and the edge keep the agent in place), drain 1,
 * flag lava and a charge below the reserve (before a charger refills it), refill on a
 * charger, then end at the goal, at charge 0 (flat battery: the agent cannot move) or at the
 * horizon. Returns 1 when the episode is over. */
static int s_step_one(s_grid_t *g, s_inst_t *s, int32_t action, float *obs)
{
    const s_world_t *w = &g->w;
    CG_ASSERT(s->running);
    CG_ASSERT(action >= 0 && action < S_N_ACTIONS);
    if (w->slip > 0.0 && cg_rng_uniform(&s->rng) < w->slip)
        action = (int32_t)cg_rng_below(&s->rng, S_N_ACTIONS);
    int32_t r = s->cell / w->cols + s_dr[action], c = s->cell % w->cols + s_dc[action];
    if (r >= 0 && r < w->rows && c >= 0 && c < w->cols && w->cells[r * w->cols + c] != '#')
        s->cell = r * w->cols + c;
    s->t++;
    s->charge--;
    char here = w->cells[s->cell];
    if (here == 'L')
        s->lava = 1;
    if (s->charge < w->reserve)
        s->low = 1;
    if (here == 'C')
        s->charge = w->battery;
    if (here == 'G')
        s->goal = 1;
    int done = s->goal || s->charge == 0 || s->t >= w->horizon;
    if (done) {
        s->running = 0;
        s->finished = 1;
    }
    s_observe(g, s, obs);
    return done;
}

/* Instances are independent (each its own slip stream), so the batch is a loop. */
static void s_step(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                   uint8_t *done)
{
    s_grid_t *g = ctx;
    for (int32_t k = 0; k < n; k++) {
        CG_ASSERT(idx[k] >= 0 && idx[k] < g->n);
        float *row = obs + (size_t)idx[k] * (size_t)g->obs_dim;
        done[k] = (uint8_t)s_step_one(g, &g->inst[idx[k]], actions[k], row);
    }
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

const cg_sim_table_t cg_sim_gridworld = {
    .abi_version = CG_SIM_ABI_VERSION,
    .struct_size = sizeof(cg_sim_table_t),
    .name = "gridworld",
    .help = "walk from S to G without entering lava or running the battery below the reserve",
    .keys = s_keys,
    .n_keys = S_N_KEYS,
    .describe = s_describe,
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
};
