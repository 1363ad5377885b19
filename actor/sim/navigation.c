/* navigation: safe navigation of a 2-D point robot, the continuous-action simulator (after
 * Safety-Gymnasium's Point-Goal layout; our own code). A square arena [-size, size]^2 with
 * walls at its edges, a round goal and round hazards, placed at random from the group's init
 * seed (every member of a group sees one layout). The robot has a position, a heading, a
 * forward speed and a turn rate; its action is (speed, turn) in [-1, 1]^2 (clipped here),
 * scaled by max_speed and max_turn: velocity and heading control.
 *
 * Observation (2 + 3 * bins): the robot's own forward speed and turn rate (each in [-1, 1]),
 * then three lidar rings of `bins` sectors around the robot's heading (sector 0 straight
 * ahead, counter-clockwise), each value in [0, 1], larger = closer: the goal (1 - distance /
 * range, spread linearly over the two nearest sectors' centres), the hazards (the same for
 * each hazard's edge, the maximum over hazards) and the walls (a ray from the robot along
 * each sector's centre: 1 - distance to the wall / range). range = the arena's diagonal.
 *
 * Episode: ends when the robot reaches the goal (its centre within goal_radius) or after the
 * horizon (default 100 steps). Reward: 1 when the goal was reached, plus `shaping` times the
 * progress (1 - final distance / initial distance, at least -1), so a shaped reward stays
 * below 1 without the goal. Costs, per-episode indicators: `hazard` (the robot's centre was
 * inside a hazard after some step), `wall` (some step ran into a wall; the robot stops at it).
 * Default constraints: hazard <= 0.05, wall <= 0.10. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_rng.h"
#include "cgrpo/sim.h"

#define S_MAX_HAZARDS 16
#define S_MAX_BINS 64
#define S_DEFAULT_HORIZON 100
#define S_PLACE_TRIES 1000
#define S_TWO_PI 6.283185307179586

enum {
    S_KEY_SIZE = 0,
    S_KEY_HAZARDS = 1,
    S_KEY_HAZARD_RADIUS = 2,
    S_KEY_GOAL_RADIUS = 3,
    S_KEY_BINS = 4,
    S_KEY_MAX_SPEED = 5,
    S_KEY_MAX_TURN = 6,
    S_KEY_SHAPING = 7,
    S_N_KEYS = 8
};

static const cg_sim_key_t s_keys[S_N_KEYS] = {
    [S_KEY_SIZE] = {"size", CG_SIM_FLOAT, "2", 0.5, 100,
                    "half the arena's width: walls at x, y = +-size"},
    [S_KEY_HAZARDS] =
        {"hazards", CG_SIM_INT, "4", 0, S_MAX_HAZARDS,
         "round hazards placed at random per group, the first on the straight path to the goal"},
    [S_KEY_HAZARD_RADIUS] = {"hazard_radius", CG_SIM_FLOAT, "0.4", 0.01, 10,
                             "each hazard's radius"},
    [S_KEY_GOAL_RADIUS] = {"goal_radius", CG_SIM_FLOAT, "0.3", 0.01, 10,
                           "the robot has reached the goal within this distance of its centre"},
    [S_KEY_BINS] = {"bins", CG_SIM_INT, "8", 3, S_MAX_BINS, "sectors of each lidar ring"},
    [S_KEY_MAX_SPEED] = {"max_speed", CG_SIM_FLOAT, "0.15", 0.001, 10,
                         "distance per step at action speed 1"},
    [S_KEY_MAX_TURN] = {"max_turn", CG_SIM_FLOAT, "0.5", 0.001, 3.14159,
                        "radians per step at action turn 1"},
    [S_KEY_SHAPING] = {"shaping", CG_SIM_FLOAT, "0.5", 0, 0.9,
                       "reward per unit of progress towards the goal (0 = the goal alone)"},
};

static const float s_default_threshold[2] = {0.05f, 0.10f};

typedef struct {
    double x, y;
} s_vec_t;

typedef struct {
    s_vec_t pos, goal, hazard[S_MAX_HAZARDS];
    double heading, speed, turn; /* speed and turn: the last action, clipped, in [-1, 1] */
    double d0;                   /* initial distance to the goal */
    int32_t steps, reached, in_hazard, hit_wall, finished;
} s_inst_t;

typedef struct {
    int32_t n, n_hazards, bins, horizon;
    double size, hazard_r, goal_r, max_speed, max_turn, shaping;
    s_inst_t *inst; /* (n) */
} s_nav_t;

static int32_t s_horizon(const cg_sim_params_t *p)
{
    return p->horizon > 0 ? p->horizon : S_DEFAULT_HORIZON;
}

static int s_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen)
{
    const double size = p->values[S_KEY_SIZE].f, hr = p->values[S_KEY_HAZARD_RADIUS].f;
    const double gr = p->values[S_KEY_GOAL_RADIUS].f;
    if (gr + 0.25 * size > size || hr > 0.5 * size) {
        snprintf(err, errlen,
                 "[navigation] goal_radius %g / hazard_radius %g do not fit an arena of size "
                 "%g (hint: keep goal_radius below 3/4 and hazard_radius below 1/2 of size)",
                 gr, hr, size);
        return -1;
    }
    memset(info, 0, sizeof *info);
    info->obs_dim = 2 + 3 * (int32_t)p->values[S_KEY_BINS].i;
    info->n_actions = 2;
    info->continuous = 1;
    info->n_costs = 2;
    strcpy(info->cost_names[0], "hazard");
    strcpy(info->cost_names[1], "wall");
    info->default_threshold[0] = s_default_threshold[0];
    info->default_threshold[1] = s_default_threshold[1];
    info->max_steps = s_horizon(p);
    return 0;
}

static void *s_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    (void)seed; /* the layout comes from each episode's init seed; the dynamics are exact */
    (void)err;
    (void)errlen;
    s_nav_t *self = cg_calloc(1, sizeof *self);
    self->n = n;
    self->size = p->values[S_KEY_SIZE].f;
    self->n_hazards = (int32_t)p->values[S_KEY_HAZARDS].i;
    self->hazard_r = p->values[S_KEY_HAZARD_RADIUS].f;
    self->goal_r = p->values[S_KEY_GOAL_RADIUS].f;
    self->bins = (int32_t)p->values[S_KEY_BINS].i;
    self->max_speed = p->values[S_KEY_MAX_SPEED].f;
    self->max_turn = p->values[S_KEY_MAX_TURN].f;
    self->shaping = p->values[S_KEY_SHAPING].f;
    self->horizon = s_horizon(p);
    self->inst = cg_calloc((size_t)n, sizeof *self->inst);
    return self;
}

static void s_destroy(void *ctx)
{
    s_nav_t *self = ctx;
    if (!self)
        return;
    free(self->inst);
    free(self);
}

static double s_dist(s_vec_t a, s_vec_t b)
{
    return hypot(a.x - b.x, a.y - b.y);
}

static s_vec_t s_uniform_point(const s_nav_t *self, cg_rng_t *rng, double margin)
{
    const double lim = self->size - margin;
    return (s_vec_t){lim * (2.0 * cg_rng_uniform(rng) - 1.0),
                     lim * (2.0 * cg_rng_uniform(rng) - 1.0)};
}

/* The layout of init_seed: start and goal at least the arena's half-width apart, hazards
 * clear of both by a goal radius, and placed first on the segment between them (so that
 * the straight path crosses one and avoiding it is a choice), the rest anywhere. */
static void s_layout(const s_nav_t *self, uint64_t init_seed, s_inst_t *s)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, init_seed, 0x6e6176ULL /* "nav" */);
    const double margin = self->goal_r;
    for (int t = 0; t < S_PLACE_TRIES; t++) {
        s->pos = s_uniform_point(self, &rng, margin);
        s->goal = s_uniform_point(self, &rng, margin);
        if (s_dist(s->pos, s->goal) >= self->size)
            break;
    }
    s->heading = S_TWO_PI * cg_rng_uniform(&rng);
    const double clear = self->hazard_r + self->goal_r;
    for (int32_t h = 0; h < self->n_hazards; h++) {
        s_vec_t c = s->goal;
        for (int t = 0; t < S_PLACE_TRIES; t++) {
            if (h == 0) { /* on the straight path, somewhere in its middle */
                double f = 0.3 + 0.4 * cg_rng_uniform(&rng);
                c = (s_vec_t){s->pos.x + f * (s->goal.x - s->pos.x),
                              s->pos.y + f * (s->goal.y - s->pos.y)};
            } else {
                c = s_uniform_point(self, &rng, 0.0);
            }
            if (s_dist(c, s->pos) >= clear && s_dist(c, s->goal) >= clear)
                break;
        }
        s->hazard[h] = c;
    }
}

/* The angle of v seen from the robot, in [0, 2 pi), 0 = straight ahead. */
static double s_bearing(const s_inst_t *s, s_vec_t v)
{
    double a = atan2(v.y - s->pos.y, v.x - s->pos.x) - s->heading;
    a = fmod(a, S_TWO_PI);
    return a < 0 ? a + S_TWO_PI : a;
}

/* Puts value at bearing a into the ring, spread linearly over the two nearest sectors'
 * centres, keeping the larger value where one is there already. */
static void s_ring_put(float *ring, int32_t bins, double a, double value)
{
    const double pos = a / S_TWO_PI * bins; /* sector centres at 0, 1, ..., bins - 1 */
    const int32_t lo = (int32_t)floor(pos) % bins, hi = (lo + 1) % bins;
    const double f = pos - floor(pos);
    const float vl = (float)(value * (1.0 - f)), vh = (float)(value * f);
    if (vl > ring[lo])
        ring[lo] = vl;
    if (vh > ring[hi])
        ring[hi] = vh;
}

/* Distance from p along direction a (world frame) to the arena's edge. */
static double s_wall_distance(const s_nav_t *self, s_vec_t p, double a)
{
    const double dx = cos(a), dy = sin(a), L = self->size;
    double t = INFINITY;
    if (dx > 1e-12)
        t = fmin(t, (L - p.x) / dx);
    if (dx < -1e-12)
        t = fmin(t, (-L - p.x) / dx);
    if (dy > 1e-12)
        t = fmin(t, (L - p.y) / dy);
    if (dy < -1e-12)
        t = fmin(t, (-L - p.y) / dy);
    return t > 0 ? t : 0;
}

static void s_observe(const s_nav_t *self, const s_inst_t *s, float *obs)
{
    const int32_t B = self->bins;
    const double range = 2.0 * M_SQRT2 * self->size;
    memset(obs, 0, (size_t)(2 + 3 * B) * sizeof *obs);
    obs[0] = (float)s->speed;
    obs[1] = (float)s->turn;
    float *goal = obs + 2, *haz = goal + B, *wall = haz + B;
    s_ring_put(goal, B, s_bearing(s, s->goal), fmax(0.0, 1.0 - s_dist(s->pos, s->goal) / range));
    for (int32_t h = 0; h < self->n_hazards; h++) {
        double d = fmax(0.0, s_dist(s->pos, s->hazard[h]) - self->hazard_r);
        s_ring_put(haz, B, s_bearing(s, s->hazard[h]), fmax(0.0, 1.0 - d / range));
    }
    for (int32_t b = 0; b < B; b++) {
        double d = s_wall_distance(self, s->pos, s->heading + S_TWO_PI * b / B);
        wall[b] = (float)fmax(0.0, 1.0 - d / range);
    }
}

static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_nav_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    memset(s, 0, sizeof *s);
    s_layout(self, init_seed, s);
    s->d0 = s_dist(s->pos, s->goal);
    s_observe(self, s, obs);
}

static double s_clip1(float v)
{
    return v < -1.0f ? -1.0 : v > 1.0f ? 1.0 : (double)v;
}

static void s_step(void *ctx, int32_t n, const int32_t *idx, const float *actions, float *obs,
                   uint8_t *done)
{
    s_nav_t *self = ctx;
    const double L = self->size;
    for (int32_t k = 0; k < n; k++) {
        s_inst_t *s = &self->inst[idx[k]];
        s->speed = s_clip1(actions[2 * k]);
        s->turn = s_clip1(actions[2 * k + 1]);
        s->heading = fmod(s->heading + self->max_turn * s->turn, S_TWO_PI);
        s->pos.x += self->max_speed * s->speed * cos(s->heading);
        s->pos.y += self->max_speed * s->speed * sin(s->heading);
        if (fabs(s->pos.x) > L || fabs(s->pos.y) > L) { /* ran into a wall: stop at it */
            s->hit_wall = 1;
            s->pos.x = fmax(-L, fmin(L, s->pos.x));
            s->pos.y = fmax(-L, fmin(L, s->pos.y));
        }
        for (int32_t h = 0; h < self->n_hazards; h++)
            if (s_dist(s->pos, s->hazard[h]) < self->hazard_r)
                s->in_hazard = 1;
        s->steps++;
        s->reached = s_dist(s->pos, s->goal) <= self->goal_r;
        s->finished = s->reached || s->steps >= self->horizon;
        done[k] = (uint8_t)s->finished;
        s_observe(self, s, obs + (size_t)idx[k] * (size_t)(2 + 3 * self->bins));
    }
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    const s_nav_t *self = ctx;
    const s_inst_t *s = &self->inst[i];
    memset(out, 0, sizeof *out);
    const double progress = fmax(-1.0, 1.0 - s_dist(s->pos, s->goal) / s->d0);
    out->reward = (float)((s->reached ? 1.0 : 0.0) + self->shaping * progress);
    out->cost[0] = (float)s->in_hazard;
    out->cost[1] = (float)s->hit_wall;
    out->success = s->reached;
}

/* t = 0: "arena SIZE", "goal X Y R", "hazard X Y R" per hazard; every t: "pos T X Y HEADING". */
static void s_trace(void *ctx, int32_t i, int32_t t, FILE *out)
{
    const s_nav_t *self = ctx;
    const s_inst_t *s = &self->inst[i];
    if (t == 0) {
        fprintf(out, "arena %.6g\ngoal %.6g %.6g %.6g\n", self->size, s->goal.x, s->goal.y,
                self->goal_r);
        for (int32_t h = 0; h < self->n_hazards; h++)
            fprintf(out, "hazard %.6g %.6g %.6g\n", s->hazard[h].x, s->hazard[h].y, self->hazard_r);
    }
    fprintf(out, "pos %d %.6g %.6g %.6g\n", t, s->pos.x, s->pos.y, s->heading);
}

const cg_sim_table_t cg_sim_navigation = {
    .abi_version = CG_SIM_ABI_VERSION,
    .struct_size = sizeof(cg_sim_table_t),
    .name = "navigation",
    .help = "steer a point robot to the goal without entering hazards or running into walls "
            "(continuous actions)",
    .keys = s_keys,
    .n_keys = S_N_KEYS,
    .describe = s_describe,
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step_continuous = s_step,
    .result = s_result,
    .eval_trace = s_trace,
};
