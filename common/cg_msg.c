/* cg_msg: the wire codec, the only file that touches protobuf-c types. It maps cg_msg_t to
 * the Envelope of proto/cgrpo.proto and back. Decoding validates in a fixed order (size,
 * bytes, version, run id, body, caps, shapes, finiteness, ranges) over the whole message,
 * so the status returned names the first category that fails. Encoding borrows the
 * caller's arrays; decoding hands protobuf-c's own arrays to the caller without copying.
 * A group batch is first offered to the fast path (cg_msg_batch.c), which accepts exactly
 * what this decoder accepts, and only that. */
#include "cg_msg.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_msg_impl.h"
#include "cgrpo.pb-c.h"

/* Caps without a config key: far above any simulator we ship. */
#define S_MAX_OBS_DIM 65536
#define S_MAX_ACTIONS 65536
#define S_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define S_DEFAULT_MAX_STEPS 1024
#define S_MAX_CREDIT (1 << 20) /* groups one grant may give an actor */

/* Unpack memory budget. A valid message decodes into at most ~9x its size (the densest
 * one, length-1 episodes, spends ~24 wire bytes on ~210 bytes of structs, arrays and parser
 * scratch); a hostile one made of millions of empty sub-messages would expand ~100x. The
 * budget stops the latter before it can take the learner's memory. */
#define S_BUDGET_FACTOR 16
#define S_BUDGET_SLACK ((size_t)1 << 20)

/* ---- errors ---- */

typedef struct {
    char *buf;
    size_t len;
} s_err_t;

static cg_status_t s_fail(s_err_t *e, cg_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cg_status_t s_fail(s_err_t *e, cg_status_t status, const char *fmt, ...)
{
    if (e->buf && e->len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* Returns `status` with a message from the enclosing function when cond is false. */
#define S_REQUIRE(e, cond, status, ...)                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return s_fail((e), (status), __VA_ARGS__);                                             \
    } while (0)

/* ---- small helpers ---- */

static const char *s_str(const char *s)
{
    return s ? s : "";
}

/* A cap as an unsigned count (a negative cap admits nothing). */
static size_t s_cap(int64_t cap)
{
    return cap > 0 ? (size_t)cap : 0;
}

static int32_t s_max_costs(const cg_msg_caps_t *caps)
{
    return caps->max_costs < CG_MAX_COSTS ? caps->max_costs : CG_MAX_COSTS;
}

/* Index of the first NaN or Inf in x (n), or n when all are finite. */
static size_t s_find_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

/* Index of the first value of x (n) beyond +-bound, or n when none is. */
static size_t s_find_beyond(const float *x, size_t n, float bound)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(x[i]) <= bound))
            return i;
    return n;
}

static cg_status_t s_check_name(s_err_t *e, const char *s, const char *field)
{
    size_t n = strlen(s_str(s));
    S_REQUIRE(e, n < CG_NAME_LEN, CG_ERR_TOOBIG, "%s: %zu bytes, at most %d", field, n,
              CG_NAME_LEN - 1);
    return CG_OK;
}

static cg_status_t s_check_finite(s_err_t *e, const float *x, size_t n, const char *field)
{
    size_t i = s_find_nonfinite(x, n);
    S_REQUIRE(e, i == n, CG_ERR_NONFINITE, "%s[%zu]: %g is not finite", field, i,
              i < n ? (double)x[i] : 0.0);
    return CG_OK;
}

/* Floats in the cg_policy arena for this shape (cg_policy.h: per layer W (out, in) then
 * b (out), obs -> hidden... -> actions). Widths are >= 1 here; saturates at INT64_MAX so
 * hostile widths cannot overflow. */
static int64_t s_policy_n_params(int32_t obs_dim, const int32_t *hidden, size_t n_hidden,
                                 int32_t n_actions)
{
    int64_t total = 0;
    int64_t in = obs_dim;
    for (size_t l = 0; l <= n_hidden; l++) {
        int64_t out = l < n_hidden ? hidden[l] : n_actions;
        int64_t layer = (in + 1) * out; /* < 2^62 for int32 widths */
        if (layer > INT64_MAX - total)
            return INT64_MAX;
        total += layer;
        in = out;
    }
    return total;
}

/* ---- unpack allocator with a budget ---- */

typedef struct {
    size_t left;   /* bytes still allowed */
    bool exceeded; /* an allocation was refused */
} s_budget_t;

/* Counts requested bytes only, never gives them back: an upper bound on the peak. Arrays
 * come from malloc, so decoded arrays can be handed to the caller and freed with free(). */
static void *s_budget_alloc(void *data, size_t size)
{
    s_budget_t *b = data;
    if (size > b->left) {
        b->exceeded = true;
        return NULL;
    }
    b->left -= size;
    return malloc(size ? size : 1);
}

static void s_budget_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

/* Moves an unpacked array to the caller: protobuf-c will no longer free it. */
#define S_TAKE(dst, pb_arr, pb_n)                                                                  \
    do {                                                                                           \
        (dst) = (pb_arr);                                                                          \
        (pb_arr) = NULL;                                                                           \
        (pb_n) = 0;                                                                                \
    } while (0)

/* ---- validation: hello, welcome, weights, heartbeat ---- */

static cg_status_t s_check_hello(s_err_t *e, const Cgrpo__Hello *h, const cg_msg_caps_t *caps)
{
    CG_TRY(s_check_name(e, h->host, "hello.host"));
    CG_TRY(s_check_name(e, h->sim, "hello.sim"));
    CG_TRY(s_check_name(e, h->token, "hello.token"));
    S_REQUIRE(e, h->obs_dim <= caps->max_obs_dim, CG_ERR_TOOBIG,
              "hello.obs_dim: %d over the cap %d", h->obs_dim, caps->max_obs_dim);
    S_REQUIRE(e, h->n_actions <= caps->max_actions, CG_ERR_TOOBIG,
              "hello.n_actions: %d over the cap %d", h->n_actions, caps->max_actions);
    S_REQUIRE(e, h->group_size <= caps->max_group_size, CG_ERR_TOOBIG,
              "hello.group_size: %d over the cap %d", h->group_size, caps->max_group_size);

    /* 0 = not known yet (first contact: the Welcome tells the actor). */
    S_REQUIRE(e, h->obs_dim >= 0, CG_ERR_SHAPE, "hello.obs_dim: %d, must be >= 0", h->obs_dim);
    S_REQUIRE(e, h->n_actions >= 0, CG_ERR_SHAPE, "hello.n_actions: %d, must be >= 0",
              h->n_actions);
    S_REQUIRE(e, h->group_size >= 0, CG_ERR_SHAPE, "hello.group_size: %d, must be >= 0",
              h->group_size);
    return CG_OK;
}

#define S_MAX_EPISODE_STEPS 1000000 /* [learner] max_episode_steps' range */

/* The simulator's description in a Welcome: cost names, constraints, episode cap, and the
 * activation and layout by name. Absent (zero) from learners before them. */
static cg_status_t s_check_welcome_spec(s_err_t *e, const Cgrpo__Welcome *w,
                                        const cg_msg_caps_t *caps)
{
    S_REQUIRE(e, w->n_cost_names <= s_cap(s_max_costs(caps)), CG_ERR_TOOBIG,
              "welcome.cost_names: %zu names, at most %d", w->n_cost_names, s_max_costs(caps));
    S_REQUIRE(e, w->n_constraints <= s_cap(s_max_costs(caps)), CG_ERR_TOOBIG,
              "welcome.constraints: %zu values, at most %d", w->n_constraints, s_max_costs(caps));
    for (size_t k = 0; k < w->n_cost_names; k++) {
        CG_TRY(s_check_name(e, w->cost_names[k], "welcome.cost_names[]"));
        S_REQUIRE(e, s_str(w->cost_names[k])[0] != '\0', CG_ERR_SHAPE,
                  "welcome.cost_names[%zu]: empty", k);
    }
    S_REQUIRE(e, w->n_constraints == 0 || w->n_constraints + 1 == w->n_lambdas, CG_ERR_SHAPE,
              "welcome.constraints: %zu values for %zu lambdas, expected one per lambda after "
              "lambda_R",
              w->n_constraints, w->n_lambdas);
    for (size_t k = 0; k < w->n_constraints; k++)
        S_REQUIRE(e, w->constraints[k] >= 0 && (size_t)w->constraints[k] < w->n_cost_names,
                  CG_ERR_RANGE, "welcome.constraints[%zu]: %d is not a cost index (%zu costs)", k,
                  w->constraints[k], w->n_cost_names);
    /* Not the actor's own cap: it learns the run's from this Welcome. */
    S_REQUIRE(e, w->max_steps >= 0 && w->max_steps <= S_MAX_EPISODE_STEPS, CG_ERR_RANGE,
              "welcome.max_steps: %d, expected 0 to %d", w->max_steps, S_MAX_EPISODE_STEPS);
    const char *act = s_str(w->activation_name);
    S_REQUIRE(e, !act[0] || !strcmp(act, w->activation == CG_ACT_RELU ? "relu" : "tanh"),
              CG_ERR_SHAPE, "welcome.activation_name: '%.32s' does not name activation %d", act,
              w->activation);
    const char *layout = s_str(w->layout);
    S_REQUIRE(e, !layout[0] || !strcmp(layout, "mlp"), CG_ERR_SHAPE,
              "welcome.layout: '%.32s' is not a parameter layout this build knows ('mlp')", layout);
    return CG_OK;
}

static cg_status_t s_check_welcome(s_err_t *e, const Cgrpo__Welcome *w, const cg_msg_caps_t *caps)
{
    /* caps */
    S_REQUIRE(e, w->group_size <= caps->max_group_size, CG_ERR_TOOBIG,
              "welcome.group_size: %d over the cap %d", w->group_size, caps->max_group_size);
    S_REQUIRE(e, w->n_temperatures <= s_cap(caps->max_group_size), CG_ERR_TOOBIG,
              "welcome.temperatures: %zu values over the cap %d", w->n_temperatures,
              caps->max_group_size);
    S_REQUIRE(e, w->obs_dim <= caps->max_obs_dim, CG_ERR_TOOBIG,
              "welcome.obs_dim: %d over the cap %d", w->obs_dim, caps->max_obs_dim);
    S_REQUIRE(e, w->n_actions <= caps->max_actions, CG_ERR_TOOBIG,
              "welcome.n_actions: %d over the cap %d", w->n_actions, caps->max_actions);
    S_REQUIRE(e, w->n_hidden <= CG_MAX_LAYERS, CG_ERR_TOOBIG,
              "welcome.hidden: %zu layers, at most %d", w->n_hidden, CG_MAX_LAYERS);
    S_REQUIRE(e, w->n_params <= s_cap(caps->max_params), CG_ERR_TOOBIG,
              "welcome.params: %zu floats over the cap %lld", w->n_params,
              (long long)caps->max_params);
    S_REQUIRE(e, w->n_lambdas <= s_cap(s_max_costs(caps)) + 1, CG_ERR_TOOBIG,
              "welcome.lambdas: %zu values, at most %d", w->n_lambdas, s_max_costs(caps) + 1);

    /* shapes */
    S_REQUIRE(e, w->group_size >= 1, CG_ERR_SHAPE, "welcome.group_size: %d, must be >= 1",
              w->group_size);
    S_REQUIRE(e, w->n_temperatures == 0 || w->n_temperatures == (size_t)w->group_size, CG_ERR_SHAPE,
              "welcome.temperatures: %zu values, expected 0 or group_size %d", w->n_temperatures,
              w->group_size);
    S_REQUIRE(e, w->obs_dim >= 1, CG_ERR_SHAPE, "welcome.obs_dim: %d, must be >= 1", w->obs_dim);
    S_REQUIRE(e, w->n_actions >= 1, CG_ERR_SHAPE, "welcome.n_actions: %d, must be >= 1",
              w->n_actions);
    for (size_t l = 0; l < w->n_hidden; l++)
        S_REQUIRE(e, w->hidden[l] >= 1, CG_ERR_SHAPE, "welcome.hidden[%zu]: %d, must be >= 1", l,
                  w->hidden[l]);
    S_REQUIRE(e, w->activation == CG_ACT_TANH || w->activation == CG_ACT_RELU, CG_ERR_SHAPE,
              "welcome.activation: unknown value %d", w->activation);
    S_REQUIRE(e, w->head == CG_HEAD_CATEGORICAL || w->head == CG_HEAD_GAUSSIAN, CG_ERR_SHAPE,
              "welcome.head: unknown value %d (0 categorical, 1 gaussian)", w->head);
    int64_t want = s_policy_n_params(w->obs_dim, w->hidden, w->n_hidden, w->n_actions);
    if (w->head == CG_HEAD_GAUSSIAN && want < INT64_MAX)
        want += w->n_actions; /* the log-std after the MLP */
    S_REQUIRE(e, (int64_t)w->n_params == want, CG_ERR_SHAPE,
              "welcome.params: %zu floats, the policy shape needs %lld", w->n_params,
              (long long)want);
    S_REQUIRE(e, w->n_lambdas >= 1, CG_ERR_SHAPE, "welcome.lambdas: empty, expected K+1 >= 1");

    /* finiteness */
    CG_TRY(s_check_finite(e, w->temperatures, w->n_temperatures, "welcome.temperatures"));
    CG_TRY(s_check_finite(e, w->params, w->n_params, "welcome.params"));
    CG_TRY(s_check_finite(e, w->lambdas, w->n_lambdas, "welcome.lambdas"));

    /* ranges */
    for (size_t i = 0; i < w->n_temperatures; i++)
        S_REQUIRE(e, w->temperatures[i] > 0.0f, CG_ERR_RANGE,
                  "welcome.temperatures[%zu]: %g, must be > 0", i, (double)w->temperatures[i]);
    for (size_t i = 0; i < w->n_lambdas; i++)
        S_REQUIRE(e, w->lambdas[i] >= 0.0f, CG_ERR_RANGE, "welcome.lambdas[%zu]: %g, must be >= 0",
                  i, (double)w->lambdas[i]);
    S_REQUIRE(e, w->heartbeat_ms >= 0, CG_ERR_RANGE, "welcome.heartbeat_ms: %d, must be >= 0",
              w->heartbeat_ms);
    S_REQUIRE(e, w->quota >= 0, CG_ERR_RANGE, "welcome.quota: %d, must be >= 0", w->quota);
    S_REQUIRE(e, !(w->credits && w->deterministic), CG_ERR_PROTO,
              "welcome: credits and deterministic together (deterministic runs use quota)");
    S_REQUIRE(e, w->data_port >= 0 && w->data_port <= 65535, CG_ERR_RANGE,
              "welcome.data_port: %d is not a TCP port", w->data_port);
    S_REQUIRE(e, w->weights_port >= 0 && w->weights_port <= 65535, CG_ERR_RANGE,
              "welcome.weights_port: %d is not a TCP port", w->weights_port);
    return s_check_welcome_spec(e, w, caps);
}

static cg_status_t s_check_weights(s_err_t *e, const Cgrpo__Weights *w, const cg_msg_caps_t *caps)
{
    S_REQUIRE(e, w->n_params <= s_cap(caps->max_params), CG_ERR_TOOBIG,
              "weights.params: %zu floats over the cap %lld", w->n_params,
              (long long)caps->max_params);
    S_REQUIRE(e, w->n_lambdas <= s_cap(s_max_costs(caps)) + 1, CG_ERR_TOOBIG,
              "weights.lambdas: %zu values, at most %d", w->n_lambdas, s_max_costs(caps) + 1);
    S_REQUIRE(e, w->n_thresholds <= s_cap(s_max_costs(caps)), CG_ERR_TOOBIG,
              "weights.thresholds: %zu values, at most %d", w->n_thresholds, s_max_costs(caps));

    /* The final message (done) may come without weights. */
    S_REQUIRE(e, w->n_params >= 1 || w->done, CG_ERR_SHAPE, "weights.params: empty");
    S_REQUIRE(e, w->n_lambdas >= 1 || w->done, CG_ERR_SHAPE,
              "weights.lambdas: empty, expected K+1 >= 1");
    size_t n_thr = w->n_lambdas > 0 ? w->n_lambdas - 1 : 0;
    S_REQUIRE(e, w->n_thresholds == n_thr, CG_ERR_SHAPE,
              "weights.thresholds: %zu values, expected lambdas - 1 = %zu", w->n_thresholds, n_thr);

    CG_TRY(s_check_finite(e, w->params, w->n_params, "weights.params"));
    CG_TRY(s_check_finite(e, w->lambdas, w->n_lambdas, "weights.lambdas"));
    CG_TRY(s_check_finite(e, w->thresholds, w->n_thresholds, "weights.thresholds"));
    S_REQUIRE(e, isfinite(w->publish_time), CG_ERR_NONFINITE,
              "weights.publish_time: %g is not finite", w->publish_time);

    for (size_t i = 0; i < w->n_lambdas; i++)
        S_REQUIRE(e, w->lambdas[i] >= 0.0f, CG_ERR_RANGE, "weights.lambdas[%zu]: %g, must be >= 0",
                  i, (double)w->lambdas[i]);
    for (size_t i = 0; i < w->n_thresholds; i++)
        S_REQUIRE(e, w->thresholds[i] >= 0.0f && w->thresholds[i] <= 1.0f, CG_ERR_RANGE,
                  "weights.thresholds[%zu]: %g, must be a rate in [0, 1]", i,
                  (double)w->thresholds[i]);
    return CG_OK;
}

static cg_status_t s_check_heartbeat(s_err_t *e, const Cgrpo__Heartbeat *h)
{
    S_REQUIRE(e, isfinite(h->weights_latency_s), CG_ERR_NONFINITE,
              "heartbeat.weights_latency_s: %g is not finite", h->weights_latency_s);
    S_REQUIRE(e, h->weights_latency_s >= 0.0 || h->weights_latency_s == -1.0, CG_ERR_RANGE,
              "heartbeat.weights_latency_s: %g, must be >= 0 or -1", h->weights_latency_s);
    S_REQUIRE(e, h->credit >= 0 && h->credit <= S_MAX_CREDIT, CG_ERR_RANGE,
              "heartbeat.credit: %d, must be 0 to %d", h->credit, S_MAX_CREDIT);
    return CG_OK;
}

static cg_status_t s_check_refusal(s_err_t *e, const Cgrpo__Refusal *r)
{
    size_t n = strlen(s_str(r->reason));
    S_REQUIRE(e, n < CG_REASON_LEN, CG_ERR_TOOBIG, "refusal.reason: %zu bytes, at most %d", n,
              CG_REASON_LEN - 1);
    return CG_OK;
}

/* ---- validation: group batch, one pass per category over the whole message ---- */

#define S_EP "group_batch.groups[%zu].episodes[%zu]"

static cg_status_t s_batch_caps(s_err_t *e, const Cgrpo__GroupBatch *b, const cg_msg_caps_t *caps)
{
    size_t max_steps = s_cap(caps->max_steps);
    S_REQUIRE(e, b->n_groups <= s_cap(caps->max_groups), CG_ERR_TOOBIG,
              "group_batch.groups: %zu over the cap %d", b->n_groups, caps->max_groups);
    S_REQUIRE(e, b->group_size <= caps->max_group_size, CG_ERR_TOOBIG,
              "group_batch.group_size: %d over the cap %d", b->group_size, caps->max_group_size);
    S_REQUIRE(e, b->n_costs <= s_max_costs(caps), CG_ERR_TOOBIG,
              "group_batch.n_costs: %d over the cap %d", b->n_costs, s_max_costs(caps));
    S_REQUIRE(e, b->obs_dim <= caps->max_obs_dim, CG_ERR_TOOBIG,
              "group_batch.obs_dim: %d over the cap %d", b->obs_dim, caps->max_obs_dim);
    S_REQUIRE(e, b->n_actions <= caps->max_actions, CG_ERR_TOOBIG,
              "group_batch.n_actions: %d over the cap %d", b->n_actions, caps->max_actions);
    for (size_t g = 0; g < b->n_groups; g++) {
        const Cgrpo__Group *grp = b->groups[g];
        S_REQUIRE(e, grp->n_episodes <= s_cap(caps->max_group_size), CG_ERR_TOOBIG,
                  "group_batch.groups[%zu].episodes: %zu over the cap %d", g, grp->n_episodes,
                  caps->max_group_size);
        for (size_t i = 0; i < grp->n_episodes; i++) {
            const Cgrpo__Episode *ep = grp->episodes[i];
            S_REQUIRE(e, ep->n_costs <= s_cap(s_max_costs(caps)), CG_ERR_TOOBIG,
                      S_EP ".costs: %zu over the cap %d", g, i, ep->n_costs, s_max_costs(caps));
            S_REQUIRE(e, ep->length <= caps->max_steps, CG_ERR_TOOBIG,
                      S_EP ".length: %d steps over the cap %d", g, i, ep->length, caps->max_steps);
            S_REQUIRE(e, ep->n_obs <= max_steps * s_cap(caps->max_obs_dim), CG_ERR_TOOBIG,
                      S_EP ".obs: %zu floats over the cap %d x %d", g, i, ep->n_obs,
                      caps->max_steps, caps->max_obs_dim);
            S_REQUIRE(e, ep->n_action <= max_steps, CG_ERR_TOOBIG,
                      S_EP ".action: %zu over the cap %d", g, i, ep->n_action, caps->max_steps);
            S_REQUIRE(e, ep->n_logp <= max_steps, CG_ERR_TOOBIG, S_EP ".logp: %zu over the cap %d",
                      g, i, ep->n_logp, caps->max_steps);
            S_REQUIRE(e, ep->n_action_vec <= max_steps * s_cap(caps->max_actions), CG_ERR_TOOBIG,
                      S_EP ".action_vec: %zu floats over the cap %d x %d", g, i, ep->n_action_vec,
                      caps->max_steps, caps->max_actions);
        }
    }
    return CG_OK;
}

static cg_status_t s_batch_shape(s_err_t *e, const Cgrpo__GroupBatch *b)
{
    S_REQUIRE(e, b->group_size >= 1, CG_ERR_SHAPE, "group_batch.group_size: %d, must be >= 1",
              b->group_size);
    S_REQUIRE(e, b->n_costs >= 0, CG_ERR_SHAPE, "group_batch.n_costs: %d, must be >= 0",
              b->n_costs);
    S_REQUIRE(e, b->obs_dim >= 1, CG_ERR_SHAPE, "group_batch.obs_dim: %d, must be >= 1",
              b->obs_dim);
    S_REQUIRE(e, b->n_actions >= 1, CG_ERR_SHAPE, "group_batch.n_actions: %d, must be >= 1",
              b->n_actions);
    S_REQUIRE(e, b->n_groups >= 1, CG_ERR_SHAPE, "group_batch.groups: empty");
    for (size_t g = 0; g < b->n_groups; g++) {
        const Cgrpo__Group *grp = b->groups[g];
        S_REQUIRE(e, grp->n_episodes == (size_t)b->group_size, CG_ERR_SHAPE,
                  "group_batch.groups[%zu].episodes: %zu, expected group_size %d", g,
                  grp->n_episodes, b->group_size);
        S_REQUIRE(e, grp->n_checks >= 0, CG_ERR_SHAPE,
                  "group_batch.groups[%zu].n_checks: %d, must be >= 0", g, grp->n_checks);
        for (size_t i = 0; i < grp->n_episodes; i++) {
            const Cgrpo__Episode *ep = grp->episodes[i];
            S_REQUIRE(e, ep->n_costs == (size_t)b->n_costs, CG_ERR_SHAPE,
                      S_EP ".costs: %zu values, expected n_costs %d", g, i, ep->n_costs,
                      b->n_costs);
            S_REQUIRE(e, ep->length >= 1, CG_ERR_SHAPE, S_EP ".length: %d, must be >= 1", g, i,
                      ep->length);
            size_t len = (size_t)ep->length;
            S_REQUIRE(e, ep->n_obs == len * (size_t)b->obs_dim, CG_ERR_SHAPE,
                      S_EP ".obs: %zu floats, expected length x obs_dim = %zu", g, i, ep->n_obs,
                      len * (size_t)b->obs_dim);
            const size_t want_action = b->continuous ? 0 : len;
            const size_t want_vec = b->continuous ? len * (size_t)b->n_actions : 0;
            S_REQUIRE(e, ep->n_action == want_action, CG_ERR_SHAPE,
                      S_EP ".action: %zu values, expected %zu (length %d, %s)", g, i, ep->n_action,
                      want_action, ep->length, b->continuous ? "continuous" : "discrete");
            S_REQUIRE(e, ep->n_action_vec == want_vec, CG_ERR_SHAPE,
                      S_EP ".action_vec: %zu floats, expected %zu (length %d x n_actions %d, %s)",
                      g, i, ep->n_action_vec, want_vec, ep->length, b->n_actions,
                      b->continuous ? "continuous" : "discrete");
            S_REQUIRE(e, ep->n_logp == len, CG_ERR_SHAPE,
                      S_EP ".logp: %zu values, expected length %d", g, i, ep->n_logp, ep->length);
            for (size_t t = 0; t < ep->n_action; t++)
                S_REQUIRE(e, ep->action[t] >= 0 && ep->action[t] < b->n_actions, CG_ERR_SHAPE,
                          S_EP ".action[%zu]: %d outside [0, n_actions %d)", g, i, t, ep->action[t],
                          b->n_actions);
        }
    }
    return CG_OK;
}

static cg_status_t s_batch_finite(s_err_t *e, const Cgrpo__GroupBatch *b)
{
    for (size_t g = 0; g < b->n_groups; g++) {
        const Cgrpo__Group *grp = b->groups[g];
        for (size_t i = 0; i < grp->n_episodes; i++) {
            const Cgrpo__Episode *ep = grp->episodes[i];
            size_t k;
            S_REQUIRE(e, isfinite(ep->reward), CG_ERR_NONFINITE, S_EP ".reward: %g is not finite",
                      g, i, (double)ep->reward);
            S_REQUIRE(e, isfinite(ep->temperature), CG_ERR_NONFINITE,
                      S_EP ".temperature: %g is not finite", g, i, (double)ep->temperature);
            k = s_find_nonfinite(ep->costs, ep->n_costs);
            S_REQUIRE(e, k == ep->n_costs, CG_ERR_NONFINITE, S_EP ".costs[%zu]: not finite", g, i,
                      k);
            k = s_find_nonfinite(ep->obs, ep->n_obs);
            S_REQUIRE(e, k == ep->n_obs, CG_ERR_NONFINITE, S_EP ".obs[%zu]: not finite", g, i, k);
            k = s_find_beyond(ep->obs, ep->n_obs, CG_MAX_ABS_OBS);
            S_REQUIRE(e, k == ep->n_obs, CG_ERR_RANGE, S_EP ".obs[%zu]: %g, beyond +-%g", g, i, k,
                      k < ep->n_obs ? (double)ep->obs[k] : 0.0, (double)CG_MAX_ABS_OBS);
            k = s_find_nonfinite(ep->logp, ep->n_logp);
            S_REQUIRE(e, k == ep->n_logp, CG_ERR_NONFINITE, S_EP ".logp[%zu]: not finite", g, i, k);
            k = s_find_nonfinite(ep->action_vec, ep->n_action_vec);
            S_REQUIRE(e, k == ep->n_action_vec, CG_ERR_NONFINITE,
                      S_EP ".action_vec[%zu]: not finite", g, i, k);
        }
    }
    return CG_OK;
}

static cg_status_t s_batch_range(s_err_t *e, const Cgrpo__GroupBatch *b)
{
    /* A log-probability is <= 0; a Gaussian head's log-density (log-std >= -5) at most 4.09
     * per action dimension. */
    const float max_logp = b->continuous ? CG_MSG_MAX_LOGP_PER_DIM * (float)b->n_actions : 0.0f;
    for (size_t g = 0; g < b->n_groups; g++) {
        const Cgrpo__Group *grp = b->groups[g];
        for (size_t i = 0; i < grp->n_episodes; i++) {
            const Cgrpo__Episode *ep = grp->episodes[i];
            for (size_t k = 0; k < ep->n_costs; k++)
                S_REQUIRE(e, ep->costs[k] == 0.0f || ep->costs[k] == 1.0f, CG_ERR_RANGE,
                          S_EP ".costs[%zu]: %g, must be exactly 0 or 1", g, i, k,
                          (double)ep->costs[k]);
            S_REQUIRE(e, ep->temperature > 0.0f, CG_ERR_RANGE, S_EP ".temperature: %g, must be > 0",
                      g, i, (double)ep->temperature);
            for (size_t t = 0; t < ep->n_logp; t++)
                S_REQUIRE(e, ep->logp[t] <= max_logp, CG_ERR_RANGE,
                          S_EP ".logp[%zu]: %g, a log-%s must be <= %g", g, i, t,
                          (double)ep->logp[t], b->continuous ? "density" : "probability",
                          (double)max_logp);
        }
    }
    return CG_OK;
}

#undef S_EP

/* ---- decoded protobuf -> C structs (after validation: cannot fail) ---- */

static void s_copy_name(char dst[CG_NAME_LEN], const char *src)
{
    size_t n = strlen(s_str(src)); /* < CG_NAME_LEN, validated */
    memcpy(dst, s_str(src), n);
    dst[n] = '\0';
}

static void s_take_hello(const Cgrpo__Hello *h, cg_msg_hello_t *out)
{
    out->actor_id = h->actor_id;
    s_copy_name(out->host, h->host);
    out->pid = h->pid;
    s_copy_name(out->sim, h->sim);
    out->obs_dim = h->obs_dim;
    out->n_actions = h->n_actions;
    out->group_size = h->group_size;
    s_copy_name(out->token, h->token);
    out->credits = h->credits;
    out->session = h->session;
    out->relay = h->relay;
    out->continuous_ok = h->continuous_ok;
}

static void s_take_welcome(Cgrpo__Welcome *w, cg_msg_welcome_t *out)
{
    out->actor_id = w->actor_id;
    out->seed = w->seed;
    out->group_size = w->group_size;
    out->n_temperatures = (int32_t)w->n_temperatures;
    S_TAKE(out->temperatures, w->temperatures, w->n_temperatures);
    out->obs_dim = w->obs_dim;
    out->n_actions = w->n_actions;
    out->n_hidden = (int32_t)w->n_hidden;
    for (size_t l = 0; l < w->n_hidden; l++)
        out->hidden[l] = w->hidden[l];
    out->activation = w->activation;
    out->version = w->version;
    out->n_params = (int64_t)w->n_params;
    S_TAKE(out->params, w->params, w->n_params);
    out->n_lambda = (int32_t)w->n_lambdas;
    S_TAKE(out->lambda, w->lambdas, w->n_lambdas);
    out->heartbeat_ms = w->heartbeat_ms;
    out->deterministic = w->deterministic ? 1 : 0;
    out->quota = w->quota;
    out->credits = w->credits;
    out->session = w->session;
    out->data_port = w->data_port;
    out->weights_port = w->weights_port;
    /* Copied, not taken: an absent proto3 string is protobuf-c's static "". */
    out->config_text = cg_strdup(s_str(w->config_text));
    out->n_costs = (int32_t)w->n_cost_names;
    for (size_t k = 0; k < w->n_cost_names; k++)
        s_copy_name(out->cost_names[k], w->cost_names[k]);
    out->n_constraints = (int32_t)w->n_constraints;
    for (size_t k = 0; k < w->n_constraints; k++)
        out->constraints[k] = w->constraints[k];
    out->max_steps = w->max_steps;
    out->head = w->head;
}

static void s_take_batch(Cgrpo__GroupBatch *b, cg_msg_groups_t *out)
{
    out->policy_version = b->policy_version;
    out->actor_id = b->actor_id;
    out->seq = b->seq;
    out->group_size = b->group_size;
    out->n_costs = b->n_costs;
    out->obs_dim = b->obs_dim;
    out->n_actions = b->n_actions;
    out->continuous = b->continuous;
    out->session = b->session;
    out->n_groups = (int32_t)b->n_groups;
    out->groups = cg_calloc(b->n_groups, sizeof *out->groups);
    for (size_t g = 0; g < b->n_groups; g++) {
        Cgrpo__Group *grp = b->groups[g];
        cg_msg_group_t *og = &out->groups[g];
        og->init_seed = grp->init_seed;
        og->n_checks = grp->n_checks;
        og->episodes = cg_calloc(grp->n_episodes, sizeof *og->episodes);
        for (size_t i = 0; i < grp->n_episodes; i++) {
            Cgrpo__Episode *ep = grp->episodes[i];
            cg_msg_episode_t *oe = &og->episodes[i];
            oe->reward = ep->reward;
            if (ep->n_costs > 0)
                memcpy(oe->cost, ep->costs, ep->n_costs * sizeof *ep->costs);
            oe->length = ep->length;
            oe->temperature = ep->temperature;
            S_TAKE(oe->obs, ep->obs, ep->n_obs);
            S_TAKE(oe->action, ep->action, ep->n_action);
            S_TAKE(oe->action_f, ep->action_vec, ep->n_action_vec);
            S_TAKE(oe->logp, ep->logp, ep->n_logp);
        }
    }
}

static void s_take_weights(Cgrpo__Weights *w, cg_msg_weights_t *out)
{
    out->version = w->version;
    out->n_params = (int64_t)w->n_params;
    S_TAKE(out->params, w->params, w->n_params);
    out->n_lambda = (int32_t)w->n_lambdas;
    S_TAKE(out->lambda, w->lambdas, w->n_lambdas);
    S_TAKE(out->thresholds, w->thresholds, w->n_thresholds);
    out->publish_time = w->publish_time;
    out->done = w->done ? 1 : 0;
}

static void s_take_heartbeat(const Cgrpo__Heartbeat *h, cg_msg_heartbeat_t *out)
{
    out->actor_id = h->actor_id;
    out->applied_version = h->applied_version;
    out->groups_sent = h->groups_sent;
    out->weights_latency_s = h->weights_latency_s;
    out->credit = h->credit;
    out->leaving = h->leaving ? 1 : 0;
}

static void s_take_refusal(const Cgrpo__Refusal *r, cg_msg_refusal_t *out)
{
    snprintf(out->reason, sizeof out->reason, "%s", s_str(r->reason));
    out->retry = r->retry ? 1 : 0;
}

/* Checks the envelope's body and moves it into msg (type set) when it passes. */
static cg_status_t s_take_body(s_err_t *e, Cgrpo__Envelope *env, const cg_msg_caps_t *caps,
                               cg_msg_t *msg)
{
    cg_status_t rc;
    switch (env->body_case) {
    case CGRPO__ENVELOPE__BODY_HELLO:
        rc = s_check_hello(e, env->hello, caps);
        if (rc == CG_OK) {
            s_take_hello(env->hello, &msg->u.hello);
            msg->type = CG_MSG_HELLO;
        }
        break;
    case CGRPO__ENVELOPE__BODY_WELCOME:
        rc = s_check_welcome(e, env->welcome, caps);
        if (rc == CG_OK) {
            s_take_welcome(env->welcome, &msg->u.welcome);
            msg->type = CG_MSG_WELCOME;
        }
        break;
    case CGRPO__ENVELOPE__BODY_GROUP_BATCH:
        rc = s_batch_caps(e, env->group_batch, caps);
        if (rc == CG_OK)
            rc = s_batch_shape(e, env->group_batch);
        if (rc == CG_OK)
            rc = s_batch_finite(e, env->group_batch);
        if (rc == CG_OK)
            rc = s_batch_range(e, env->group_batch);
        if (rc == CG_OK) {
            s_take_batch(env->group_batch, &msg->u.groups);
            msg->type = CG_MSG_GROUPS;
        }
        break;
    case CGRPO__ENVELOPE__BODY_WEIGHTS:
        rc = s_check_weights(e, env->weights, caps);
        if (rc == CG_OK) {
            s_take_weights(env->weights, &msg->u.weights);
            msg->type = CG_MSG_WEIGHTS;
        }
        break;
    case CGRPO__ENVELOPE__BODY_HEARTBEAT:
        rc = s_check_heartbeat(e, env->heartbeat);
        if (rc == CG_OK) {
            s_take_heartbeat(env->heartbeat, &msg->u.heartbeat);
            msg->type = CG_MSG_HEARTBEAT;
        }
        break;
    case CGRPO__ENVELOPE__BODY_REFUSAL:
        rc = s_check_refusal(e, env->refusal);
        if (rc == CG_OK) {
            s_take_refusal(env->refusal, &msg->u.refusal);
            msg->type = CG_MSG_REFUSAL;
        }
        break;
    default: rc = s_fail(e, CG_ERR_PROTO, "envelope.body: missing or of an unknown kind"); break;
    }
    return rc;
}

/* ---- decode ---- */

cg_status_t cg_msg_decode(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                          const char *run_id, cg_msg_t *msg, char *err, size_t errlen)
{
    if (msg && caps && data && len > 0 && len <= caps->max_bytes &&
        cg_msg_decode_batch_fast(data, len, caps, run_id, msg)) {
        if (err && errlen > 0)
            err[0] = '\0';
        return CG_OK;
    }
    return cg_msg_decode_general(data, len, caps, run_id, msg, err, errlen);
}

cg_status_t cg_msg_decode_general(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                                  const char *run_id, cg_msg_t *msg, char *err, size_t errlen)
{
    s_err_t e = {err, errlen};
    if (err && errlen > 0)
        err[0] = '\0';
    if (!msg || !caps)
        return s_fail(&e, CG_ERR_INVAL, "cg_msg_decode: msg and caps are required");
    memset(msg, 0, sizeof *msg);
    if (len > caps->max_bytes)
        return s_fail(&e, CG_ERR_TOOBIG, "message: %zu bytes over the cap %zu", len,
                      caps->max_bytes);
    if (len == 0 || !data)
        return s_fail(&e, CG_ERR_PROTO, "message: empty");

    size_t limit = len <= (SIZE_MAX - S_BUDGET_SLACK) / S_BUDGET_FACTOR
                       ? len * S_BUDGET_FACTOR + S_BUDGET_SLACK
                       : SIZE_MAX;
    s_budget_t budget = {.left = limit, .exceeded = false};
    ProtobufCAllocator alloc = {s_budget_alloc, s_budget_free, &budget};
    cg_status_t rc = CG_OK;

    Cgrpo__Envelope *env = cgrpo__envelope__unpack(&alloc, len, data);
    if (!env) {
        if (budget.exceeded)
            return s_fail(&e, CG_ERR_TOOBIG,
                          "message: %zu bytes expand beyond %zu bytes when decoded", len, limit);
        return s_fail(&e, CG_ERR_PROTO, "message: %zu bytes are not a valid Envelope", len);
    }
    if (env->protocol != CG_PROTOCOL_VERSION) {
        rc = s_fail(&e, CG_ERR_VERSION, "envelope.protocol: %u, this build speaks %u",
                    env->protocol, CG_PROTOCOL_VERSION);
        goto cleanup;
    }
    if (run_id && strcmp(s_str(env->run_id), run_id) != 0) {
        rc = s_fail(&e, CG_ERR_RUN_ID, "envelope.run_id: \"%.*s\", expected \"%s\"", CG_NAME_LEN,
                    s_str(env->run_id), run_id);
        goto cleanup;
    }
    rc = s_check_name(&e, env->run_id, "envelope.run_id");
    if (rc != CG_OK)
        goto cleanup;

    rc = s_take_body(&e, env, caps, msg);
    if (rc == CG_OK)
        s_copy_name(msg->run_id, env->run_id);

cleanup:
    cgrpo__envelope__free_unpacked(env, &alloc);
    return rc;
}

/* ---- encode: C structs -> protobuf-c structs that borrow the caller's arrays ---- */

/* protobuf-c's structs take non-const pointers but only read them while packing. */
#define S_BORROW(type, p) ((type *)(uintptr_t)(p))

static bool s_terminated(const char *s)
{
    return memchr(s, '\0', CG_NAME_LEN) != NULL;
}

/* Heap structs for a group batch: the Group and Episode structs and their pointer arrays. */
typedef struct {
    Cgrpo__Group *groups;      /* (n_groups) */
    Cgrpo__Group **group_ptrs; /* (n_groups) */
    Cgrpo__Episode *eps;       /* (n_groups * group_size) */
    Cgrpo__Episode **ep_ptrs;  /* (n_groups * group_size) */
} s_scaffold_t;

static void s_scaffold_free(s_scaffold_t *sc)
{
    free(sc->ep_ptrs);
    free(sc->eps);
    free(sc->group_ptrs);
    free(sc->groups);
}

static cg_status_t s_put_hello(const cg_msg_hello_t *h, Cgrpo__Hello *pb)
{
    if (!s_terminated(h->host) || !s_terminated(h->sim) || !s_terminated(h->token))
        return CG_ERR_INVAL;
    pb->actor_id = h->actor_id;
    pb->host = S_BORROW(char, h->host);
    pb->pid = h->pid;
    pb->sim = S_BORROW(char, h->sim);
    pb->obs_dim = h->obs_dim;
    pb->n_actions = h->n_actions;
    pb->group_size = h->group_size;
    pb->token = S_BORROW(char, h->token);
    pb->credits = h->credits != 0;
    pb->session = h->session;
    pb->relay = h->relay != 0;
    pb->continuous_ok = h->continuous_ok != 0;
    return CG_OK;
}

static cg_status_t s_put_welcome(const cg_msg_welcome_t *w, Cgrpo__Welcome *pb,
                                 char *names[CG_MAX_COSTS])
{
    if (w->n_temperatures < 0 || (w->n_temperatures > 0 && !w->temperatures) || w->n_hidden < 0 ||
        w->n_hidden > CG_MAX_LAYERS || w->n_params < 0 || (w->n_params > 0 && !w->params) ||
        w->n_lambda < 0 || (w->n_lambda > 0 && !w->lambda) || w->n_costs < 0 ||
        w->n_costs > CG_MAX_COSTS || w->n_constraints < 0 || w->n_constraints > CG_MAX_COSTS)
        return CG_ERR_INVAL;
    for (int32_t k = 0; k < w->n_costs; k++) {
        if (!s_terminated(w->cost_names[k]))
            return CG_ERR_INVAL;
        names[k] = S_BORROW(char, w->cost_names[k]);
    }
    pb->n_cost_names = (size_t)w->n_costs;
    pb->cost_names = names;
    pb->n_constraints = (size_t)w->n_constraints;
    pb->constraints = S_BORROW(int32_t, w->constraints);
    pb->max_steps = w->max_steps;
    pb->head = w->head;
    pb->activation_name = S_BORROW(char, w->activation == CG_ACT_RELU ? "relu" : "tanh");
    pb->layout = S_BORROW(char, "mlp");
    pb->actor_id = w->actor_id;
    pb->seed = w->seed;
    pb->group_size = w->group_size;
    pb->n_temperatures = (size_t)w->n_temperatures;
    pb->temperatures = w->temperatures;
    pb->obs_dim = w->obs_dim;
    pb->n_actions = w->n_actions;
    pb->n_hidden = (size_t)w->n_hidden;
    pb->hidden = S_BORROW(int32_t, w->hidden);
    pb->activation = w->activation;
    pb->version = w->version;
    pb->n_params = (size_t)w->n_params;
    pb->params = w->params;
    pb->n_lambdas = (size_t)w->n_lambda;
    pb->lambdas = w->lambda;
    pb->heartbeat_ms = w->heartbeat_ms;
    pb->deterministic = w->deterministic != 0;
    pb->quota = w->quota;
    pb->credits = w->credits != 0;
    pb->session = w->session;
    pb->data_port = w->data_port;
    pb->weights_port = w->weights_port;
    pb->config_text = w->config_text; /* NULL is sent as "" */
    return CG_OK;
}

static cg_status_t s_put_batch(const cg_msg_groups_t *b, Cgrpo__GroupBatch *pb, s_scaffold_t *sc)
{
    if (b->n_groups < 0 || (b->n_groups > 0 && !b->groups) || b->group_size < 0 || b->n_costs < 0 ||
        b->n_costs > CG_MAX_COSTS || b->obs_dim < 0)
        return CG_ERR_INVAL;
    size_t n_groups = (size_t)b->n_groups;
    size_t gs = (size_t)b->group_size;
    for (size_t g = 0; g < n_groups; g++) {
        const cg_msg_group_t *grp = &b->groups[g];
        if (gs > 0 && !grp->episodes)
            return CG_ERR_INVAL;
        for (size_t i = 0; i < gs; i++) {
            const cg_msg_episode_t *ep = &grp->episodes[i];
            if (ep->length < 0 ||
                (ep->length > 0 &&
                 (!(b->continuous ? (void *)ep->action_f : ep->action) || !ep->logp)) ||
                (ep->length > 0 && b->obs_dim > 0 && !ep->obs))
                return CG_ERR_INVAL;
        }
    }

    pb->policy_version = b->policy_version;
    pb->actor_id = b->actor_id;
    pb->seq = b->seq;
    pb->group_size = b->group_size;
    pb->n_costs = b->n_costs;
    pb->obs_dim = b->obs_dim;
    pb->n_actions = b->n_actions;
    pb->continuous = b->continuous != 0;
    pb->session = b->session;
    if (n_groups == 0)
        return CG_OK;
    sc->groups = cg_calloc(n_groups, sizeof *sc->groups);
    sc->group_ptrs = cg_calloc(n_groups, sizeof *sc->group_ptrs);
    sc->eps = cg_calloc(n_groups * gs, sizeof *sc->eps);
    sc->ep_ptrs = cg_calloc(n_groups * gs, sizeof *sc->ep_ptrs);
    for (size_t g = 0; g < n_groups; g++) {
        const cg_msg_group_t *grp = &b->groups[g];
        Cgrpo__Group *pg = &sc->groups[g];
        cgrpo__group__init(pg);
        pg->init_seed = grp->init_seed;
        pg->n_checks = grp->n_checks;
        pg->n_episodes = gs;
        pg->episodes = &sc->ep_ptrs[g * gs];
        for (size_t i = 0; i < gs; i++) {
            const cg_msg_episode_t *ep = &grp->episodes[i];
            Cgrpo__Episode *pe = &sc->eps[g * gs + i];
            cgrpo__episode__init(pe);
            pe->reward = ep->reward;
            pe->n_costs = (size_t)b->n_costs;
            pe->costs = S_BORROW(float, ep->cost);
            pe->length = ep->length;
            pe->temperature = ep->temperature;
            pe->n_obs = (size_t)ep->length * (size_t)b->obs_dim;
            pe->obs = ep->obs;
            if (b->continuous) {
                pe->n_action_vec = (size_t)ep->length * (size_t)b->n_actions;
                pe->action_vec = ep->action_f;
            } else {
                pe->n_action = (size_t)ep->length;
                pe->action = ep->action;
            }
            pe->n_logp = (size_t)ep->length;
            pe->logp = ep->logp;
            pg->episodes[i] = pe;
        }
        sc->group_ptrs[g] = pg;
    }
    pb->n_groups = n_groups;
    pb->groups = sc->group_ptrs;
    return CG_OK;
}

static cg_status_t s_put_weights(const cg_msg_weights_t *w, Cgrpo__Weights *pb)
{
    size_t n_thr = w->n_lambda > 0 ? (size_t)w->n_lambda - 1 : 0;
    if (w->n_params < 0 || (w->n_params > 0 && !w->params) || w->n_lambda < 0 ||
        (w->n_lambda > 0 && !w->lambda) || (n_thr > 0 && !w->thresholds))
        return CG_ERR_INVAL;
    pb->version = w->version;
    pb->n_params = (size_t)w->n_params;
    pb->params = w->params;
    pb->n_lambdas = (size_t)w->n_lambda;
    pb->lambdas = w->lambda;
    pb->n_thresholds = n_thr;
    pb->thresholds = w->thresholds;
    pb->publish_time = w->publish_time;
    pb->done = w->done != 0;
    return CG_OK;
}

static void s_put_heartbeat(const cg_msg_heartbeat_t *h, Cgrpo__Heartbeat *pb)
{
    pb->actor_id = h->actor_id;
    pb->applied_version = h->applied_version;
    pb->groups_sent = h->groups_sent;
    pb->weights_latency_s = h->weights_latency_s;
    pb->credit = h->credit;
    pb->leaving = h->leaving != 0;
}

cg_status_t cg_msg_encode(const cg_msg_t *msg, uint8_t **out, size_t *len)
{
    if (!out || !len)
        return CG_ERR_INVAL;
    *out = NULL;
    *len = 0;
    if (!msg || !s_terminated(msg->run_id))
        return CG_ERR_INVAL;

    Cgrpo__Envelope env = CGRPO__ENVELOPE__INIT;
    Cgrpo__Hello hello = CGRPO__HELLO__INIT;
    Cgrpo__Welcome welcome = CGRPO__WELCOME__INIT;
    Cgrpo__GroupBatch batch = CGRPO__GROUP_BATCH__INIT;
    Cgrpo__Weights weights = CGRPO__WEIGHTS__INIT;
    Cgrpo__Heartbeat heartbeat = CGRPO__HEARTBEAT__INIT;
    Cgrpo__Refusal refusal = CGRPO__REFUSAL__INIT;
    s_scaffold_t sc = {0};
    char *cost_names[CG_MAX_COSTS];
    cg_status_t rc = CG_OK;

    env.protocol = CG_PROTOCOL_VERSION;
    env.run_id = S_BORROW(char, msg->run_id);
    switch (msg->type) {
    case CG_MSG_HELLO:
        rc = s_put_hello(&msg->u.hello, &hello);
        env.body_case = CGRPO__ENVELOPE__BODY_HELLO;
        env.hello = &hello;
        break;
    case CG_MSG_WELCOME:
        rc = s_put_welcome(&msg->u.welcome, &welcome, cost_names);
        env.body_case = CGRPO__ENVELOPE__BODY_WELCOME;
        env.welcome = &welcome;
        break;
    case CG_MSG_GROUPS:
        rc = s_put_batch(&msg->u.groups, &batch, &sc);
        env.body_case = CGRPO__ENVELOPE__BODY_GROUP_BATCH;
        env.group_batch = &batch;
        break;
    case CG_MSG_WEIGHTS:
        rc = s_put_weights(&msg->u.weights, &weights);
        env.body_case = CGRPO__ENVELOPE__BODY_WEIGHTS;
        env.weights = &weights;
        break;
    case CG_MSG_HEARTBEAT:
        s_put_heartbeat(&msg->u.heartbeat, &heartbeat);
        env.body_case = CGRPO__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &heartbeat;
        break;
    case CG_MSG_REFUSAL:
        if (!memchr(msg->u.refusal.reason, '\0', CG_REASON_LEN)) {
            rc = CG_ERR_INVAL;
            break;
        }
        refusal.reason = S_BORROW(char, msg->u.refusal.reason);
        refusal.retry = msg->u.refusal.retry != 0;
        env.body_case = CGRPO__ENVELOPE__BODY_REFUSAL;
        env.refusal = &refusal;
        break;
    default: rc = CG_ERR_INVAL; break;
    }
    if (rc != CG_OK)
        goto cleanup;

    size_t n = cgrpo__envelope__get_packed_size(&env);
    uint8_t *buf = cg_realloc(NULL, n, 1);
    size_t written = cgrpo__envelope__pack(&env, buf);
    CG_ASSERT(written == n);
    *out = buf;
    *len = n;

cleanup:
    s_scaffold_free(&sc);
    return rc;
}

/* ---- ownership, names, caps ---- */

void cg_msg_free(cg_msg_t *msg)
{
    if (!msg)
        return;
    switch (msg->type) {
    case CG_MSG_WELCOME:
        free(msg->u.welcome.temperatures);
        free(msg->u.welcome.params);
        free(msg->u.welcome.lambda);
        free(msg->u.welcome.config_text);
        break;
    case CG_MSG_GROUPS: {
        cg_msg_groups_t *b = &msg->u.groups;
        if (b->block) {
            free(b->block);
            break;
        }
        for (int32_t g = 0; b->groups && g < b->n_groups; g++) {
            cg_msg_group_t *grp = &b->groups[g];
            for (int32_t i = 0; grp->episodes && i < b->group_size; i++) {
                free(grp->episodes[i].obs);
                free(grp->episodes[i].action);
                free(grp->episodes[i].action_f);
                free(grp->episodes[i].logp);
            }
            free(grp->episodes);
        }
        free(b->groups);
        break;
    }
    case CG_MSG_WEIGHTS:
        free(msg->u.weights.params);
        free(msg->u.weights.lambda);
        free(msg->u.weights.thresholds);
        break;
    default: break;
    }
    memset(msg, 0, sizeof *msg); /* type CG_MSG_NONE, every pointer NULL */
}

const char *cg_msg_type_name(cg_msg_type_t type)
{
    switch (type) {
    case CG_MSG_NONE: return "none";
    case CG_MSG_HELLO: return "hello";
    case CG_MSG_WELCOME: return "welcome";
    case CG_MSG_GROUPS: return "groups";
    case CG_MSG_WEIGHTS: return "weights";
    case CG_MSG_HEARTBEAT: return "heartbeat";
    case CG_MSG_REFUSAL: return "refusal";
    }
    return "unknown";
}

void cg_msg_caps_from(const cg_config_t *cfg, cg_msg_caps_t *caps)
{
    caps->max_bytes = cfg->max_msg_bytes > 0 ? (size_t)cfg->max_msg_bytes : S_DEFAULT_MAX_BYTES;
    /* An actor may send any number of finished groups at once, up to a few batches' worth. */
    int32_t per_batch =
        cfg->groups_per_batch > cfg->instances ? cfg->groups_per_batch : cfg->instances;
    caps->max_groups = per_batch > 16 ? 4 * per_batch : 64;
    caps->max_group_size = CG_MAX_GROUP;
    caps->max_costs = CG_MAX_COSTS;
    caps->max_obs_dim = S_MAX_OBS_DIM;
    caps->max_actions = S_MAX_ACTIONS;
    caps->max_steps =
        cfg->max_steps_per_episode > 0 ? cfg->max_steps_per_episode : S_DEFAULT_MAX_STEPS;
    /* A weight vector can never be larger than the bytes that carry it. */
    caps->max_params = (int64_t)(caps->max_bytes / sizeof(float));
}
