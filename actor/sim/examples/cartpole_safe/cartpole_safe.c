/* cartpole_safe: a cgrpo simulator plugin, built outside the tree against the installed
 * cgrpo/sim.h alone: the classic cart-pole (Barto, Sutton & Anderson 1983; the dynamics and
 * limits of Gym's CartPole-v1) with a safety cost, `off_center`, that fires when the cart
 * ever leaves the safe zone |x| <= safe_x. Reward = the fraction of the horizon the pole
 * stayed up, so reward 1 = balanced for the whole episode. docs/simulators.md.
 *     cc -shared -fPIC cartpole_safe.c $(pkg-config --cflags cgrpo) -o libcartpole_safe.so
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cgrpo/sim.h>

/* CartPole-v1's constants. */
#define S_GRAVITY 9.8
#define S_MASS_CART 1.0
#define S_MASS_POLE 0.1
#define S_TOTAL_MASS (S_MASS_CART + S_MASS_POLE)
#define S_LENGTH 0.5 /* half the pole's length */
#define S_POLE_MASS_LENGTH (S_MASS_POLE * S_LENGTH)
#define S_TAU 0.02 /* seconds per step (explicit Euler) */
#define S_PI 3.14159265358979323846
#define S_THETA_LIMIT (12.0 * 2.0 * S_PI / 360.0) /* the pole falls past 12 degrees */
#define S_X_LIMIT 2.4                             /* the cart leaves the track */
#define S_VEL_SCALE 2.0                           /* observation scale of both velocities */

enum { S_OBS_DIM = 4, S_N_ACTIONS = 2, S_DEFAULT_HORIZON = 200 };
enum { S_KEY_SAFE_X = 0, S_KEY_FORCE = 1, S_KEY_INIT_NOISE = 2, S_N_KEYS = 3 };

/* The [cartpole_safe] section: cgrpo parses and range-checks these before describe and
 * create see them (values[] in this order). */
static const cg_sim_key_t s_keys[S_N_KEYS] = {
    [S_KEY_SAFE_X] = {"safe_x", CG_SIM_FLOAT, "0.8", 0.05, 2.4,
                      "half-width of the safe zone; off_center fires if |x| ever exceeds it"},
    [S_KEY_FORCE] = {"force", CG_SIM_FLOAT, "10", 0.1, 100.0,
                     "newtons of each push (action 0 left, 1 right)"},
    [S_KEY_INIT_NOISE] = {"init_noise", CG_SIM_FLOAT, "0.05", 0.0, 0.2,
                          "initial x, x_dot, theta, theta_dot uniform in [-this, this]"},
};

/* The extra metrics column: the mean reward is the mean fraction of the horizon survived. */
static const cg_sim_metric_t s_metrics[] = {{"survival", CG_SIM_STAT_REWARD_MEAN}};

typedef struct {
    double x, x_dot, theta, theta_dot;
    int32_t steps;   /* steps taken this episode */
    int32_t off;     /* the cart left the safe zone this episode */
    int32_t crashed; /* the pole fell or the cart left the track */
} s_inst_t;

typedef struct {
    int32_t n, horizon;
    double safe_x, force, init_noise;
    s_inst_t *inst; /* (n) */
} s_cartpole_t;

static int32_t s_horizon(const cg_sim_params_t *p)
{
    return p->horizon > 0 ? p->horizon : S_DEFAULT_HORIZON;
}

static int s_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    memset(info, 0, sizeof *info);
    info->obs_dim = S_OBS_DIM;
    info->n_actions = S_N_ACTIONS;
    info->n_costs = 1;
    snprintf(info->cost_names[0], CG_SIM_NAME_LEN, "off_center");
    info->default_threshold[0] = 0.1f; /* at most 10% of episodes may leave the zone */
    info->max_steps = s_horizon(p);
    return 0;
}

static void s_destroy(void *ctx)
{
    s_cartpole_t *self = ctx;
    if (!self)
        return;
    free(self->inst);
    free(self);
}

/* The dynamics are deterministic once the initial state is drawn, so `seed` is unused. */
static void *s_create(const cg_sim_params_t *p, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    (void)seed;
    s_cartpole_t *self = calloc(1, sizeof *self);
    s_inst_t *inst = calloc((size_t)n, sizeof *inst);
    if (!self || !inst) {
        free(self);
        free(inst);
        snprintf(err, errlen,
                 "cartpole_safe: out of memory for %d instances (hint: lower "
                 "[actor] instances)",
                 n);
        return NULL;
    }
    self->n = n;
    self->horizon = s_horizon(p);
    self->safe_x = p->values[S_KEY_SAFE_X].f;
    self->force = p->values[S_KEY_FORCE].f;
    self->init_noise = p->values[S_KEY_INIT_NOISE].f;
    self->inst = inst;
    return self;
}

/* SplitMix64 (Steele, Lea & Flood 2014): a small self-contained generator, so the initial
 * state depends on init_seed alone and all members of a group start alike. */
static uint64_t s_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-a, a). */
static double s_uniform(uint64_t *state, double a)
{
    double u = (double)(s_splitmix64(state) >> 11) * 0x1.0p-53; /* [0, 1), 53 bits */
    return a * (2.0 * u - 1.0);
}

/* Each component scaled to about [-1, 1] within the episode's limits. */
static void s_observe(const s_inst_t *s, float *obs)
{
    obs[0] = (float)(s->x / S_X_LIMIT);
    obs[1] = (float)(s->x_dot / S_VEL_SCALE);
    obs[2] = (float)(s->theta / S_THETA_LIMIT);
    obs[3] = (float)(s->theta_dot / S_VEL_SCALE);
}

static void s_reset(void *ctx, int32_t i, uint64_t init_seed, float *obs)
{
    s_cartpole_t *self = ctx;
    s_inst_t *s = &self->inst[i];
    uint64_t state = init_seed;
    memset(s, 0, sizeof *s);
    s->x = s_uniform(&state, self->init_noise);
    s->x_dot = s_uniform(&state, self->init_noise);
    s->theta = s_uniform(&state, self->init_noise);
    s->theta_dot = s_uniform(&state, self->init_noise);
    s->off = fabs(s->x) > self->safe_x;
    s_observe(s, obs);
}

/* One Euler step of CartPole-v1 (gym/envs/classic_control/cartpole.py, euler integrator). */
static void s_physics(s_inst_t *s, double force)
{
    double c = cos(s->theta), sn = sin(s->theta);
    double temp = (force + S_POLE_MASS_LENGTH * s->theta_dot * s->theta_dot * sn) / S_TOTAL_MASS;
    double theta_acc =
        (S_GRAVITY * sn - c * temp) / (S_LENGTH * (4.0 / 3.0 - S_MASS_POLE * c * c / S_TOTAL_MASS));
    double x_acc = temp - S_POLE_MASS_LENGTH * theta_acc * c / S_TOTAL_MASS;
    s->x += S_TAU * s->x_dot;
    s->x_dot += S_TAU * x_acc;
    s->theta += S_TAU * s->theta_dot;
    s->theta_dot += S_TAU * theta_acc;
}

/* The batched step: instance idx[k] pushes left (0) or right (1); its row of obs is
 * obs + idx[k] * S_OBS_DIM. The episode ends when the pole falls, the cart leaves the
 * track, or the horizon is reached. */
static void s_step(void *ctx, int32_t n, const int32_t *idx, const int32_t *actions, float *obs,
                   uint8_t *done)
{
    s_cartpole_t *self = ctx;
    for (int32_t k = 0; k < n; k++) {
        s_inst_t *s = &self->inst[idx[k]];
        s_physics(s, actions[k] == 1 ? self->force : -self->force);
        s->steps++;
        s->off |= fabs(s->x) > self->safe_x;
        s->crashed = fabs(s->x) > S_X_LIMIT || fabs(s->theta) > S_THETA_LIMIT;
        done[k] = s->crashed || s->steps >= self->horizon;
        s_observe(s, obs + (size_t)idx[k] * S_OBS_DIM);
    }
}

static void s_result(void *ctx, int32_t i, cg_sim_result_t *out)
{
    s_cartpole_t *self = ctx;
    const s_inst_t *s = &self->inst[i];
    memset(out, 0, sizeof *out);
    out->reward = (float)s->steps / (float)self->horizon;
    out->cost[0] = s->off ? 1.0f : 0.0f;
    out->success = !s->crashed && s->steps >= self->horizon;
}

static const cg_sim_table_t s_table = {
    .abi_version = CG_SIM_ABI_VERSION,
    .struct_size = sizeof(cg_sim_table_t),
    .name = "cartpole_safe",
    .help = "cart-pole (CartPole-v1 dynamics) with a safe zone for the cart",
    .keys = s_keys,
    .n_keys = S_N_KEYS,
    .describe = s_describe,
    .create = s_create,
    .destroy = s_destroy,
    .reset = s_reset,
    .step = s_step,
    .result = s_result,
    .metrics = s_metrics,
    .n_metrics = 1,
};

CG_SIM_EXPORT const cg_sim_table_t *cg_sim_plugin(void)
{
    return &s_table;
}
