/* cg_config: the key table and values, --set, defaults and cg_config_finish.
 * One table lists every [section] key with its field, default, type and range; defaults,
 * parsing, the finish-time re-check and cg_config_write all walk it, so no key is read but
 * not written. Reading INI text: cg_config_ini.c (our own reader: it counts lines for
 * messages, has no line length limit and keeps map rows such as "    #####"); writing it:
 * cg_config_write.c; the simulator sections' store: cg_config_sim.c. */
#include "cg_config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_rng.h"
#include "cg_transport.h"

#define S_MAX_WIDTH 65536 /* widest hidden layer (CG_POLICY_MAX_DIM) */

/* ---- the table ------------------------------------------------------------------------ */

const char *const cg_config_section_names[] = {
    "run",         "sim",      "policy", "train",   "constraints", "multipliers",
    "stabilisers", "sampling", "actor",  "learner", NULL,
};
static const char *const s_ESTIMATORS[] = {"grpo", "scalarized_rewards", "scalarized_advantages",
                                           NULL};
static const char *const s_MULT_KINDS[] = {"softmax", "projected", "pid", "fixed", NULL};
static const char *const s_ACTIVATIONS[] = {"tanh", "relu", NULL};
static const char *const s_HEADS[] = {"categorical", "gaussian", "auto", NULL};
static const char *const s_DEVICES[] = {"auto", "cpu", "cuda", NULL};
static const char *const s_OVERLAPS[] = {"auto", "on", "off", NULL};
static const char *const s_ANCHORS[] = {"paper", "code", NULL};

_Static_assert(sizeof(cg_adv_estimator_t) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(cg_mult_kind_t) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(cg_activation_t) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(cg_head_t) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(cg_device_t) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(cg_overlap_t) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(cg_anchor_form_t) == sizeof(int), "enum stored as int");

#define S_OFF(field) offsetof(cg_config_t, field)
#define S_SIZE(field) sizeof(((cg_config_t *)0)->field)
#define K_I32(sec, k, field, d, lo, hi, nt)                                                        \
    {                                                                                              \
        .section = sec, .key = k, .def = d, .kind = CG_KEY_I32, .off = S_OFF(field), .ilo = lo,    \
        .ihi = hi, .note = nt                                                                      \
    }
#define K_I64(sec, k, field, d, lo, hi, nt)                                                        \
    {                                                                                              \
        .section = sec, .key = k, .def = d, .kind = CG_KEY_I64, .off = S_OFF(field), .ilo = lo,    \
        .ihi = hi, .note = nt                                                                      \
    }
#define K_U64(sec, k, field, d, nt)                                                                \
    {                                                                                              \
        .section = sec, .key = k, .def = d, .kind = CG_KEY_U64, .off = S_OFF(field), .note = nt    \
    }
#define K_F32(sec, k, field, d, lo, hi, fl, nt)                                                    \
    {                                                                                              \
        .section = sec, .key = k, .def = d, .kind = CG_KEY_F32, .off = S_OFF(field), .flo = lo,    \
        .fhi = hi, .flags = fl, .note = nt                                                         \
    }
#define K_BOOL(sec, k, field, d, nt)                                                               \
    {                                                                                              \
        .section = sec, .key = k, .def = d, .kind = CG_KEY_BOOL, .off = S_OFF(field), .note = nt   \
    }
#define K_ENUM(sec, k, field, d, nm, nt)                                                           \
    {                                                                                              \
        .section = sec, .key = k, .def = d, .kind = CG_KEY_ENUM, .off = S_OFF(field), .names = nm, \
        .note = nt                                                                                 \
    }
#define K_STR(sec, k, field, d, fl, nm, nt)                                                        \
    {                                                                                              \
        .section = sec, .key = k, .def = d, .kind = CG_KEY_STR, .off = S_OFF(field),               \
        .cap = S_SIZE(field), .flags = fl, .names = nm, .note = nt                                 \
    }

const cg_config_key_t cg_config_keys[] = {
    K_U64("run", "seed", seed, "1", "seeds every RNG of the run"),
    K_STR("run", "run_id", run_id, "", CG_KEY_STR_ID, NULL, "empty = generated at start"),
    K_STR("run", "run_dir", run_dir, "", CG_KEY_STR_PATH, NULL, "empty = runs/<timestamp>"),
    K_I32("run", "iterations", iterations, "150", 1, INT32_MAX, "policy updates"),
    K_I32("run", "checkpoint_every", checkpoint_every, "25", 0, INT32_MAX, "0 = only at exit"),
    K_BOOL("run", "deterministic", deterministic, "false", NULL),
    K_STR("run", "token_file", token_file, "", CG_KEY_STR_PATH, NULL,
          "file holding the run token actors must present; empty = none"),

    K_STR("sim", "name", sim, "", CG_KEY_STR_ID, NULL,
          "a built-in simulator (cgrpo sims lists them) or the plugin's; empty = the default"),
    K_STR("sim", "plugin", sim_plugin, "", CG_KEY_STR_PATH, NULL,
          "a simulator plugin .so built against cgrpo/sim.h; empty = none"),
    K_I32("sim", "horizon", horizon, "0", 0, 1000000, "episode cap; 0 = the simulator's default"),

    {.section = "policy",
     .key = "hidden",
     .kind = CG_KEY_I32_LIST,
     .off = S_OFF(hidden),
     .cap = CG_MAX_LAYERS,
     .count_off = S_OFF(n_hidden),
     .def = "64, 64",
     .ilo = 1,
     .ihi = S_MAX_WIDTH,
     .note = "layer widths, empty = a linear policy"},
    K_ENUM("policy", "activation", activation, "tanh", s_ACTIVATIONS, NULL),
    K_ENUM("policy", "head", head, "auto", s_HEADS,
           "auto = categorical for discrete actions, gaussian for continuous ones"),
    K_F32("policy", "log_std_init", log_std_init, "-0.5", -5.0, 2.0, 0,
          "the Gaussian head's initial log standard deviation (bounded to [-5, 2] in use)"),
    K_F32("policy", "lr", lr, "3e-4", 0.0, 1.0, CG_KEY_LO_OPEN, NULL),
    K_F32("policy", "adam_beta1", adam_beta1, "0.9", 0.0, 1.0, CG_KEY_HI_OPEN, NULL),
    K_F32("policy", "adam_beta2", adam_beta2, "0.999", 0.0, 1.0, CG_KEY_HI_OPEN, NULL),
    K_F32("policy", "adam_eps", adam_eps, "1e-8", 0.0, 1.0, CG_KEY_LO_OPEN, NULL),
    K_F32("policy", "max_grad_norm", max_grad_norm, "0.5", 0.0, INFINITY, 0, "0 = no clipping"),

    K_I32("train", "groups", groups_per_batch, "64", 1, 65536, "groups per policy update (B)"),
    K_I32("train", "group_size", group_size, "16", 2, CG_MAX_GROUP, "episodes per group (G)"),
    K_I32("train", "epochs", epochs, "4", 1, 1000, NULL),
    K_I32("train", "minibatches", minibatches, "4", 1, 65536, "at most groups"),
    K_F32("train", "clip", clip, "0.2", 0.0, 1.0, CG_KEY_LO_OPEN | CG_KEY_HI_OPEN, NULL),
    K_F32("train", "kl_coef", kl_coef, "0.0", 0.0, INFINITY, 0, "0 = no KL term"),
    K_F32("train", "ent_coef", ent_coef, "0.0", 0.0, INFINITY, 0, "0 = no entropy bonus"),
    K_I32("train", "max_policy_lag", max_policy_lag, "1", 0, 1000000, "versions"),
    K_ENUM("train", "estimator", estimator, "scalarized_advantages", s_ESTIMATORS, NULL),
    K_F32("train", "adv_eps", adv_eps, "1e-8", 0.0, 1.0, CG_KEY_LO_OPEN, NULL),
    K_STR("train", "init", init, "", CG_KEY_STR_PATH, NULL,
          "checkpoint file or run directory to start the policy from; empty = random weights"),
    K_STR("train", "reference", reference, "", CG_KEY_STR_PATH, NULL,
          "checkpoint of the KL reference, empty = the initial weights"),

    K_ENUM("multipliers", "kind", mult_kind, "softmax", s_MULT_KINDS, NULL),
    K_F32("multipliers", "lr", mult_lr, "0.03", 0.0, INFINITY, CG_KEY_LO_OPEN, NULL),
    K_F32("multipliers", "beta1", mult_beta1, "0.9", 0.0, 1.0, CG_KEY_HI_OPEN, NULL),
    K_F32("multipliers", "beta2", mult_beta2, "0.999", 0.0, 1.0, CG_KEY_HI_OPEN, NULL),
    K_F32("multipliers", "eps", mult_eps, "1e-5", 0.0, 1.0, CG_KEY_LO_OPEN, NULL),
    K_F32("multipliers", "init_logit", mult_init_logit, "0.02", -INFINITY, INFINITY, 0, NULL),
    K_F32("multipliers", "temperature", mult_temperature, "1.0", 0.0, INFINITY, CG_KEY_LO_OPEN,
          NULL),
    K_F32("multipliers", "upper", mult_upper, "0.0", 0.0, INFINITY, 0, "0 = no upper bound"),
    K_F32("multipliers", "kp", mult_kp, "0.1", 0.0, INFINITY, 0, NULL),
    K_F32("multipliers", "ki", mult_ki, "0.01", 0.0, INFINITY, 0, NULL),
    K_F32("multipliers", "kd", mult_kd, "0.0", 0.0, INFINITY, 0, NULL),
    K_F32("multipliers", "lambda_reward", fixed_lambda_reward, "1.0", 0.0, INFINITY, 0, NULL),

    {.section = "stabilisers",
     .key = "temperatures",
     .kind = CG_KEY_F32_LIST,
     .off = S_OFF(temperatures),
     .cap = CG_MAX_GROUP,
     .count_off = S_OFF(n_temperatures),
     .def = "",
     .flo = 0.0,
     .fhi = INFINITY,
     .flags = CG_KEY_LO_OPEN,
     .note = "empty = none, else one per group member (group_size values)"},
    K_BOOL("stabilisers", "dual_anchor", dual_anchor, "false", NULL),
    K_ENUM("stabilisers", "anchor", anchor, "paper", s_ANCHORS,
           "the dual anchor's form: paper = (r - 0.5) 2 sqrt(C); code = the authors' code, "
           "(r - max(0.5, mean r)) / sqrt(G / 4C)"),
    K_F32("stabilisers", "alpha", da_alpha, "0.2", 0.0, 1.0, 0, NULL),
    K_BOOL("stabilisers", "prospect", prospect, "false", NULL),
    K_F32("stabilisers", "pt_beta", pt_beta, "0.8", 0.0, INFINITY, CG_KEY_LO_OPEN, NULL),
    K_F32("stabilisers", "pt_lambda_pos", pt_lambda_pos, "1.25", 0.0, INFINITY, CG_KEY_LO_OPEN,
          NULL),
    K_F32("stabilisers", "pt_lambda_neg", pt_lambda_neg, "2.0", 0.0, INFINITY, CG_KEY_LO_OPEN,
          NULL),
    K_BOOL("stabilisers", "asym_kl", asym_kl, "false", NULL),
    K_F32("stabilisers", "kl_neg", kl_neg, "0.025", 0.0, INFINITY, 0, NULL),
    K_F32("stabilisers", "kl_pos", kl_pos, "0.01", 0.0, INFINITY, 0, NULL),

    K_F32("sampling", "top_p", top_p, "1", 0.0, 1.0, CG_KEY_LO_OPEN,
          "nucleus sampling in the actors' rollouts: the most probable actions up to this "
          "share of probability; 1 = off"),

    K_I32("actor", "actors", actors, "2", 0, 4096, "local actors started by cgrpo train"),
    K_I32("actor", "instances", instances, "16", 1, 65536, "simulator instances per actor"),
    K_I32("actor", "heartbeat_ms", heartbeat_ms, "500", 1, 3600000, NULL),
    K_STR("actor", "relay", relay, "", CG_KEY_STR_HOST, NULL,
          "HOST:PORT of a `cgrpo relay` the actors take the weights from; empty = the learner"),

    K_STR("learner", "bind", bind_host, "127.0.0.1", CG_KEY_STR_HOST | CG_KEY_STR_NONEMPTY, NULL,
          NULL),
    K_STR("learner", "advertise", advertise, "", CG_KEY_STR_HOST, NULL,
          "host actors connect to; empty = the bind address, or this machine's name"),
    K_STR("learner", "curve_secret_key", curve_secret_key, "", CG_KEY_STR_PATH, NULL,
          "the learner's CURVE secret key file (cgrpo keygen)"),
    K_STR("learner", "curve_public_key", curve_public_key, "", CG_KEY_STR_PATH, NULL,
          "the learner's CURVE public key file, which actors need"),
    K_I32("learner", "port", port, "0", 0, 65533,
          "0 = the OS picks, else the first of 3 consecutive ports"),
    K_ENUM("learner", "device", device, "auto", s_DEVICES, NULL),
    K_I32("learner", "threads", threads, "0", 0, 64,
          "threads of a CPU update (rows split over them); 0 = every online core"),
    K_I32("learner", "heartbeat_timeout_ms", heartbeat_timeout_ms, "3000", 1, 86400000, NULL),
    K_I32("learner", "max_actors", max_actors, "4096", 1, 1000000,
          "actors admitted at once; more Hellos are refused, with the reason"),
    K_I32("learner", "hwm", hwm, "8", 1, 1000000, "messages queued per socket"),
    K_ENUM("learner", "overlap", overlap, "auto", s_OVERLAPS, NULL),
    K_I64("learner", "max_msg_bytes", max_msg_bytes, "67108864", 4096, INT64_MAX, NULL),
    K_I32("learner", "max_inbound_mb", max_inbound_mb, "512", 0, 1048576,
          "MiB peers may make the learner hold above its own memory; 0 = no guard"),
    K_I32("learner", "max_episode_steps", max_steps_per_episode, "1024", 1, 1000000, NULL),
};
const size_t cg_config_n_keys = sizeof cg_config_keys / sizeof cg_config_keys[0];

/* ---- small helpers -------------------------------------------------------------------- */

bool cg_config_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trims in place; returns the first non-space character. */
static char *s_trim(char *s)
{
    while (cg_config_is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && cg_config_is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int s_name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], s) == 0)
            return i;
    return -1;
}

int cg_config_count_names(const char *const *names)
{
    int n = 0;
    while (names[n])
        n++;
    return n;
}

/* "a|b|c" */
static void s_join_names(const char *const *names, const char *sep, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; names[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? sep : "", names[i]);
}

bool cg_config_section_known(const char *s)
{
    for (int i = 0; cg_config_section_names[i]; i++)
        if (strcmp(cg_config_section_names[i], s) == 0)
            return true;
    return false;
}

/* A simulator section's name: what a simulator name may be (cgrpo/sim.h). */
bool cg_config_sim_section_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len >= CG_NAME_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
            return false;
    return !cg_config_section_known(s);
}

static void s_sections_hint(char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; cg_config_section_names[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s[%s]", i ? " " : "", cg_config_section_names[i]);
}

static const cg_config_key_t *s_find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < cg_config_n_keys; i++)
        if (strcmp(cg_config_keys[i].section, section) == 0 &&
            strcmp(cg_config_keys[i].key, key) == 0)
            return &cg_config_keys[i];
    return NULL;
}

/* Shortest "%g" form that reads back as exactly v. */
void cg_config_fmt_float(char *buf, size_t n, float v)
{
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

/* Range text for messages: "an integer from 2 to 256", "a number in (0, 1)", ... */
static void s_range_text(const cg_config_key_t *k, char *buf, size_t n)
{
    switch (k->kind) {
    case CG_KEY_I32:
    case CG_KEY_I64:
    case CG_KEY_I32_LIST:
        if ((k->kind == CG_KEY_I64 && k->ihi == INT64_MAX) ||
            (k->kind != CG_KEY_I64 && k->ihi == INT32_MAX))
            snprintf(buf, n, "an integer >= %" PRId64, k->ilo);
        else
            snprintf(buf, n, "an integer from %" PRId64 " to %" PRId64, k->ilo, k->ihi);
        return;
    case CG_KEY_U64: snprintf(buf, n, "an integer from 0 to %" PRIu64, UINT64_MAX); return;
    case CG_KEY_F32:
    case CG_KEY_F32_LIST:
        if (isinf(k->flo) && isinf(k->fhi))
            snprintf(buf, n, "a finite number");
        else if (isinf(k->fhi))
            snprintf(buf, n, "a number %s %g", (k->flags & CG_KEY_LO_OPEN) ? ">" : ">=", k->flo);
        else
            snprintf(buf, n, "a number in %c%g, %g%c", (k->flags & CG_KEY_LO_OPEN) ? '(' : '[',
                     k->flo, k->fhi, (k->flags & CG_KEY_HI_OPEN) ? ')' : ']');
        return;
    default: buf[0] = '\0'; return;
    }
}

/* The full hint of a key: what values it takes. */
static void s_hint(const cg_config_key_t *k, char *buf, size_t n)
{
    char what[384], names[256];
    switch (k->kind) {
    case CG_KEY_BOOL:
        snprintf(what, sizeof what, "true or false (also 1/0, yes/no, on/off)");
        break;
    case CG_KEY_ENUM:
        s_join_names(k->names, "|", names, sizeof names);
        snprintf(what, sizeof what, "one of %s", names);
        break;
    case CG_KEY_STR:
        if (k->names) {
            s_join_names(k->names, "|", names, sizeof names);
            snprintf(what, sizeof what, "one of %s", names);
        } else if (k->flags & CG_KEY_STR_ID) {
            snprintf(what, sizeof what, "up to %zu letters, digits, '-' or '_'", k->cap - 1);
        } else if (k->flags & CG_KEY_STR_HOST) {
            snprintf(what, sizeof what, "a host name or IP address, up to %zu characters",
                     k->cap - 1);
        } else {
            snprintf(what, sizeof what, "a path of up to %zu characters", k->cap - 1);
        }
        break;
    case CG_KEY_I32_LIST:
    case CG_KEY_F32_LIST:
        s_range_text(k, names, sizeof names);
        snprintf(what, sizeof what, "a comma-separated list of up to %zu values, each %s", k->cap,
                 names);
        break;
    default: s_range_text(k, what, sizeof what); break;
    }
    if (k->note)
        snprintf(buf, n, "%s; %s", what, k->note);
    else
        snprintf(buf, n, "%s", what);
}

/* ---- parsing values --------------------------------------------------------------------- */

/* 0 ok, -1 not an integer, -2 out of the type's range. */
static int s_parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0')
        return -1;
    if (errno == ERANGE)
        return -2;
    *out = (int64_t)v;
    return 0;
}

static int s_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '+' && isdigit((unsigned char)s[1])))
        return -1; /* strtoull would wrap "-1" */
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return -1;
    if (errno == ERANGE)
        return -2;
    *out = (uint64_t)v;
    return 0;
}

/* 0 ok, -1 not a number, -2 outside the float range, -3 NaN or infinite. */
static int s_parse_f32(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s || *end != '\0')
        return -1;
    if (errno == ERANGE)
        return -2; /* overflow to inf, or underflow */
    if (!isfinite(v))
        return -3; /* "nan", "inf" */
    *out = v;
    return 0;
}

static int s_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", NULL};
    static const char *const no[] = {"false", "0", "no", "off", NULL};
    if (s_name_index(yes, s) >= 0) {
        *out = true;
        return 0;
    }
    if (s_name_index(no, s) >= 0) {
        *out = false;
        return 0;
    }
    return -1;
}

static bool s_frange_ok(const cg_config_key_t *k, double v)
{
    if (!isfinite(v))
        return false;
    bool lo = (k->flags & CG_KEY_LO_OPEN) ? v > k->flo : v >= k->flo;
    bool hi = (k->flags & CG_KEY_HI_OPEN) ? v < k->fhi : v <= k->fhi;
    return lo && hi;
}

/* One integer or float, checked against k's range: 0 ok, -1 with msg. */
static int s_number(const cg_config_key_t *k, bool is_float, const char *s, int64_t *iv, float *fv,
                    char *msg, size_t n)
{
    char hint[512];
    s_hint(k, hint, sizeof hint);
    if (s[0] == '\0') {
        cg_status_msg(msg, n, "empty value (hint: %s)", hint);
        return -1;
    }
    int rc = is_float ? s_parse_f32(s, fv) : s_parse_i64(s, iv);
    if (rc == -1) {
        cg_status_msg(msg, n, "'%.64s' is not %s (hint: %s)", s,
                      is_float ? "a number" : "an integer", hint);
        return -1;
    }
    if (rc == -3) {
        cg_status_msg(msg, n, "'%.64s' is not a finite number (hint: %s)", s, hint);
        return -1;
    }
    bool ok = rc == 0 && (is_float ? s_frange_ok(k, *fv) : (*iv >= k->ilo && *iv <= k->ihi));
    if (!ok) {
        cg_status_msg(msg, n, "%.64s is out of range (hint: %s)", s, hint);
        return -1;
    }
    return 0;
}

/* A float of a key outside the table (a constraint's threshold or lambda) against range. */
static cg_config_key_t s_range_key(const cg_config_range_t *r)
{
    return (cg_config_key_t){.kind = CG_KEY_F32, .flo = r->lo, .fhi = r->hi, .note = r->note};
}

int cg_config_parse_float(const cg_config_range_t *r, const char *value, float *out, char *msg,
                          size_t n)
{
    const cg_config_key_t k = s_range_key(r);
    return s_number(&k, true, value, NULL, out, msg, n);
}

int cg_config_float_ok(const cg_config_range_t *r, float v, char *range, size_t n)
{
    const cg_config_key_t k = s_range_key(r);
    s_range_text(&k, range, n);
    return s_frange_ok(&k, (double)v) ? 0 : -1;
}

/* Content rules of string keys, shared by parsing and cg_config_finish. */
static int s_check_str(const cg_config_key_t *k, const char *s, char *msg, size_t n)
{
    char hint[512];
    s_hint(k, hint, sizeof hint);
    size_t len = strnlen(s, k->cap);
    if (len >= k->cap) {
        cg_status_msg(msg, n, "value is %zu characters long, longer than %zu (hint: %s)", strlen(s),
                      k->cap - 1, hint);
        return -1;
    }
    if (len == 0) {
        if (k->flags & CG_KEY_STR_NONEMPTY) {
            cg_status_msg(msg, n, "empty value (hint: %s)", hint);
            return -1;
        }
        return 0;
    }
    if (k->names) {
        if (s_name_index(k->names, s) < 0) {
            cg_status_msg(msg, n, "unknown value '%.64s' (hint: %s)", s, hint);
            return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok;
        if (k->flags & CG_KEY_STR_ID)
            ok = isalnum(c) || c == '-' || c == '_';
        else if (k->flags & CG_KEY_STR_HOST)
            ok = isalnum(c) || strchr(".-_:*[]%", (int)c) != NULL;
        else
            ok = c >= 0x20 && c != 0x7f && !(c == ';' && (i == 0 || cg_config_is_space(s[i - 1])));
        if (!ok) {
            if (c == ';')
                cg_status_msg(msg, n, "a ';' %s starts a comment in INI (hint: %s)",
                              i == 0 ? "at the start of a value" : "after a space", hint);
            else if (isprint(c))
                cg_status_msg(msg, n, "character '%c' at position %zu is not allowed (hint: %s)", c,
                              i + 1, hint);
            else
                cg_status_msg(msg, n, "control character 0x%02x at position %zu (hint: %s)", c,
                              i + 1, hint);
            return -1;
        }
    }
    return 0;
}

/* A list value: elements separated by ',' (and by line breaks, where a trailing ',' is
 * optional). Fills vals (int32_t or float) and *count. */
static int s_list_parse(const cg_config_key_t *k, const char *value, void *vals, int32_t *count,
                        int *piece, char *msg, size_t n)
{
    char *copy = cg_strdup(value);
    int line = 0, got = 0, rc = 0;
    char hint[512];
    s_hint(k, hint, sizeof hint);
    for (char *ln = copy; ln; line++) {
        char *next = strchr(ln, '\n');
        if (next)
            *next++ = '\0';
        char *t = s_trim(ln);
        size_t tl = strlen(t);
        if (tl > 0 && next && t[tl - 1] == ',')
            t[--tl] = '\0';
        if (tl == 0) {
            ln = next;
            continue;
        }
        for (char *el = t;;) {
            char *comma = strchr(el, ',');
            if (comma)
                *comma = '\0';
            char *v = s_trim(el);
            *piece = line;
            if (v[0] == '\0') {
                cg_status_msg(msg, n, "element %d is empty (hint: %s)", got + 1, hint);
                rc = -1;
                goto done;
            }
            if ((size_t)got >= k->cap) {
                cg_status_msg(msg, n, "more than %zu values (hint: %s)", k->cap, hint);
                rc = -1;
                goto done;
            }
            int64_t iv = 0;
            float fv = 0.0f;
            char one[CG_CONFIG_MSG_LEN];
            if (s_number(k, k->kind == CG_KEY_F32_LIST, v, &iv, &fv, one, sizeof one) != 0) {
                cg_status_msg(msg, n, "element %d: %s", got + 1, one);
                rc = -1;
                goto done;
            }
            if (k->kind == CG_KEY_F32_LIST)
                ((float *)vals)[got] = fv;
            else
                ((int32_t *)vals)[got] = (int32_t)iv;
            got++;
            if (!comma)
                break;
            el = comma + 1;
        }
        ln = next;
    }
    *count = got;
    *piece = 0;
done:
    free(copy);
    return rc;
}

/* An CG_KEY_STR key: paths may continue on indented lines, whose pieces are concatenated; a key
 * with allowed values stores their canonical spelling. */
static int s_set_str(const cg_config_key_t *k, char *base, const char *value, char *msg, size_t n)
{
    char *joined = cg_strdup(value);
    size_t o = 0;
    for (const char *c = value; *c; c++)
        if (*c != '\n')
            joined[o++] = *c;
    joined[o] = '\0';
    int rc = s_check_str(k, joined, msg, n);
    if (rc == 0) {
        const char *v = joined;
        if (k->names)
            v = k->names[s_name_index(k->names, joined)];
        memset(base, 0, k->cap);
        memcpy(base, v, strlen(v));
    }
    free(joined);
    return rc;
}

/* An CG_KEY_I32_LIST or CG_KEY_F32_LIST key: the values and their count. */
static int s_set_list(cg_config_t *cfg, const cg_config_key_t *k, char *base, const char *value,
                      int *piece, char *msg, size_t n)
{
    float fvals[CG_MAX_GROUP];
    int32_t ivals[CG_MAX_GROUP];
    int32_t count = 0;
    void *vals = k->kind == CG_KEY_F32_LIST ? (void *)fvals : (void *)ivals;
    CG_ASSERT(k->cap <= CG_MAX_GROUP);
    if (s_list_parse(k, value, vals, &count, piece, msg, n) != 0)
        return -1;
    size_t el = k->kind == CG_KEY_F32_LIST ? sizeof(float) : sizeof(int32_t);
    memset(base, 0, k->cap * el);
    memcpy(base, vals, (size_t)count * el);
    memcpy((char *)cfg + k->count_off, &count, sizeof count);
    return 0;
}

/* Sets one table key from its text value; on error msg is "problem (hint: ...)" and
 * *piece the line (0 = the key's own) that holds the problem. */
static int s_set_key(cg_config_t *cfg, const cg_config_key_t *k, const char *value, int *piece,
                     char *msg, size_t n)
{
    char *base = (char *)cfg + k->off;
    *piece = 0;
    bool multi = k->kind == CG_KEY_I32_LIST || k->kind == CG_KEY_F32_LIST ||
                 (k->kind == CG_KEY_STR && (k->flags & CG_KEY_STR_PATH));
    const char *nl = strchr(value, '\n');
    if (nl && !multi) {
        int line = 0;
        for (const char *c = value; c <= nl; c++)
            line += *c == '\n';
        *piece = line;
        cg_status_msg(msg, n,
                      "this key takes a single line, but an indented line continues it (hint: "
                      "only lists and paths, and a simulator's text keys, continue on "
                      "indented lines; un-indent the next key)");
        return -1;
    }
    switch (k->kind) {
    case CG_KEY_I32:
    case CG_KEY_I64: {
        int64_t v = 0;
        if (s_number(k, false, value, &v, NULL, msg, n) != 0)
            return -1;
        if (k->kind == CG_KEY_I32) {
            int32_t v32 = (int32_t)v;
            memcpy(base, &v32, sizeof v32);
        } else {
            memcpy(base, &v, sizeof v);
        }
        return 0;
    }
    case CG_KEY_U64: {
        uint64_t v = 0;
        int rc = value[0] ? s_parse_u64(value, &v) : -1;
        if (rc != 0) {
            char hint[256];
            s_hint(k, hint, sizeof hint);
            cg_status_msg(msg, n, "'%.64s' %s (hint: %s)", value,
                          rc == -2 ? "is out of range" : "is not a non-negative integer", hint);
            return -1;
        }
        memcpy(base, &v, sizeof v);
        return 0;
    }
    case CG_KEY_F32: {
        float v = 0.0f;
        if (s_number(k, true, value, NULL, &v, msg, n) != 0)
            return -1;
        memcpy(base, &v, sizeof v);
        return 0;
    }
    case CG_KEY_BOOL: {
        bool v = false;
        if (s_parse_bool(value, &v) != 0) {
            char hint[256];
            s_hint(k, hint, sizeof hint);
            cg_status_msg(msg, n, "'%.64s' is not a boolean (hint: %s)", value, hint);
            return -1;
        }
        memcpy(base, &v, sizeof v);
        return 0;
    }
    case CG_KEY_ENUM: {
        int v = s_name_index(k->names, value);
        if (v < 0) {
            char hint[256];
            s_hint(k, hint, sizeof hint);
            cg_status_msg(msg, n, "unknown value '%.64s' (hint: %s)", value, hint);
            return -1;
        }
        memcpy(base, &v, sizeof v);
        return 0;
    }
    case CG_KEY_STR: return s_set_str(k, base, value, msg, n);
    case CG_KEY_I32_LIST:
    case CG_KEY_F32_LIST: return s_set_list(cfg, k, base, value, piece, msg, n);
    }
    return -1;
}

/* Applies section.key = value to cfg (any section, any key); origin and line say where it
 * came from (kept for a simulator section's keys, whose checks come later). */
int cg_config_apply(cg_config_t *cfg, const char *section, const char *key, const char *value,
                    const char *origin, int line, int *piece, char *msg, size_t n)
{
    char hint[512];
    *piece = 0;
    if (section[0] == '\0') {
        s_sections_hint(hint, sizeof hint);
        cg_status_msg(msg, n, "key outside any section (hint: put it under one of %s)", hint);
        return -1;
    }
    if (cg_config_sim_section_ok(section)) {
        if (key[0] == '\0' || strlen(key) >= CG_NAME_LEN) {
            cg_status_msg(msg, n, "invalid key name (hint: 1 to %d characters)", CG_NAME_LEN - 1);
            return -1;
        }
        /* "key =" then indented rows: the rows, without the empty first piece's '\n' (so
         * a written value reads back the same) */
        const char *rows = value + (value[0] == '\n');
        return cg_config_sim_put(cfg, section, key, rows, origin, line, msg, n) == CG_OK ? 0 : -1;
    }
    if (!cg_config_section_known(section)) {
        s_sections_hint(hint, sizeof hint);
        cg_status_msg(msg, n,
                      "unknown section (hint: the sections are %s, or a simulator's own, "
                      "named in lower case like [gridworld])",
                      hint);
        return -1;
    }
    if (strcmp(section, "constraints") == 0)
        return cg_config_set_constraint(cfg, key, value, piece, msg, n);
    const cg_config_key_t *k = s_find_key(section, key);
    if (!k) {
        size_t o = 0;
        hint[0] = '\0';
        for (size_t i = 0; i < cg_config_n_keys && o < sizeof hint; i++)
            if (strcmp(cg_config_keys[i].section, section) == 0)
                o += (size_t)snprintf(hint + o, sizeof hint - o, "%s%s", o ? ", " : "",
                                      cg_config_keys[i].key);
        cg_status_msg(msg, n, "unknown key (hint: [%s] has %s)", section, hint);
        return -1;
    }
    return s_set_key(cfg, k, value, piece, msg, n);
}

void cg_config_sections(char *buf, size_t n)
{
    s_sections_hint(buf, n);
}

cg_status_t cg_config_set(cg_config_t *cfg, const char *assignment, char *err, size_t errlen)
{
    CG_ASSERT(cfg && assignment);
    const char *eq = strchr(assignment, '=');
    const char *dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
    if (!eq || !dot) {
        cg_status_msg(err, errlen,
                      "--set %.64s: expected section.key=value (hint: e.g. --set "
                      "train.lr=1e-4)",
                      assignment);
        return CG_ERR_INVAL;
    }
    char section[CG_CONFIG_KEY_LEN], key[CG_CONFIG_KEY_LEN];
    size_t sl = (size_t)(dot - assignment), kl = (size_t)(eq - dot - 1);
    if (sl >= sizeof section || kl >= sizeof key) {
        cg_status_msg(err, errlen, "--set %.40s...: name too long (hint: --set section.key=value)",
                      assignment);
        return CG_ERR_INVAL;
    }
    memcpy(section, assignment, sl);
    section[sl] = '\0';
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    char *s = s_trim(section), *k = s_trim(key);
    char *value = cg_strdup(eq + 1);
    char *v = s_trim(value);
    cg_config_t *work = cg_calloc(1, sizeof *work);
    *work = *cfg;
    char msg[CG_CONFIG_MSG_LEN];
    int piece = 0;
    cg_status_t st = CG_OK;
    if (s[0] == '\0' || k[0] == '\0') {
        cg_status_msg(err, errlen,
                      "--set %s.%s: empty section or key (hint: --set section.key=value)", s, k);
        st = CG_ERR_INVAL;
    } else if (cg_config_apply(work, s, k, v, "--set", 0, &piece, msg, sizeof msg) != 0) {
        cg_status_msg(err, errlen, "--set %s.%s: %s", s, k, msg);
        st = CG_ERR_INVAL;
    } else {
        *cfg = *work;
    }
    free(work);
    free(value);
    return st;
}

/* ---- defaults and finish ---------------------------------------------------------------- */

void cg_config_defaults(cg_config_t *cfg)
{
    CG_ASSERT(cfg);
    memset(cfg, 0, sizeof *cfg); /* no constraints, no simulator sections */
    for (size_t i = 0; i < cg_config_n_keys; i++) {
        char msg[CG_CONFIG_MSG_LEN];
        int piece = 0;
        const int rc =
            s_set_key(cfg, &cg_config_keys[i], cg_config_keys[i].def, &piece, msg, sizeof msg);
        CG_ASSERT(rc == 0); /* test_config: every default passes its own key's checks */
    }
}

/* Re-checks a stored field (it may have been set in code, not parsed) with the parser's own
 * checks: the field as cg_config_write writes it, read back as the INI reader hands values
 * over (continuation lines joined by '\n') into a scratch config. */
static int s_check_stored(const cg_config_t *cfg, const cg_config_key_t *k, char *msg, size_t n)
{
    const char *base = (const char *)cfg + k->off;
    char hint[512];
    s_hint(k, hint, sizeof hint);
    if (k->kind == CG_KEY_STR && strnlen(base, k->cap) >= k->cap)
        return s_check_str(k, base, msg, n); /* unterminated: says so, writes nothing */
    if (k->kind == CG_KEY_I32_LIST || k->kind == CG_KEY_F32_LIST) {
        int32_t count;
        memcpy(&count, (const char *)cfg + k->count_off, sizeof count);
        if (count < 0 || (size_t)count > k->cap) {
            cg_status_msg(msg, n, "%d values (hint: %s)", count, hint);
            return -1;
        }
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        cg_status_msg(msg, n, "cannot check the value: %s", strerror(errno));
        return -1;
    }
    int rc = cg_config_write_key(f, cfg, k);
    fclose(f);
    if (rc != 0) { /* only an enum out of its names */
        int v = -1;
        memcpy(&v, base, sizeof v);
        cg_status_msg(msg, n, "value %d is not a known choice (hint: %s)", v, hint);
        free(text);
        return -1;
    }
    /* "key = v\n    more\n": the value, pieces joined by '\n' as the reader joins them */
    char *value = text + strlen(k->key) + 2, *o = value;
    for (const char *c = value + (*value == ' '); *c; c++) {
        if (*c != '\n') {
            *o++ = *c;
        } else if (!strncmp(c + 1, "    ", 4)) {
            *o++ = '\n';
            c += 4;
        }
    }
    *o = '\0';
    cg_config_t *scratch = cg_calloc(1, sizeof *scratch);
    int piece = 0;
    rc = s_set_key(scratch, k, value, &piece, msg, n);
    free(scratch);
    free(text);
    return rc;
}

static int s_cross_checks(const cg_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->n_temperatures != 0 && cfg->n_temperatures != cfg->group_size) {
        cg_status_msg(err, errlen,
                      "[stabilisers] temperatures: %d values but [train] group_size is %d "
                      "(hint: give one temperature per group member, %d values, or none)",
                      cfg->n_temperatures, cfg->group_size, cfg->group_size);
        return -1;
    }
    if (cfg->minibatches > cfg->groups_per_batch) {
        cg_status_msg(err, errlen,
                      "[train] minibatches: %d is more than [train] groups = %d (hint: "
                      "every minibatch needs a group; use minibatches <= groups)",
                      cfg->minibatches, cfg->groups_per_batch);
        return -1;
    }
    if (cfg->heartbeat_timeout_ms <= cfg->heartbeat_ms) {
        cg_status_msg(err, errlen,
                      "[learner] heartbeat_timeout_ms: %d is not above [actor] heartbeat_ms "
                      "= %d (hint: allow several heartbeats, e.g. 6 x heartbeat_ms)",
                      cfg->heartbeat_timeout_ms, cfg->heartbeat_ms);
        return -1;
    }
    char host[CG_NAME_LEN];
    int port;
    if (cfg->relay[0] && cg_transport_parse_endpoint(cfg->relay, host, sizeof host, &port)) {
        cg_status_msg(err, errlen,
                      "[actor] relay: '%s' is not HOST:PORT with a port 1..65535 (hint: the "
                      "address and port `cgrpo relay` printed, or empty for none)",
                      cfg->relay);
        return -1;
    }
    if (cfg->horizon > cfg->max_steps_per_episode) {
        cg_status_msg(err, errlen,
                      "[sim] horizon: %d is above [learner] max_episode_steps = %d (hint: "
                      "the learner would reject such episodes; raise max_episode_steps)",
                      cfg->horizon, cfg->max_steps_per_episode);
        return -1;
    }
    return cg_config_check_sim_store(cfg, err, errlen);
}

cg_status_t cg_config_finish(cg_config_t *cfg, char *err, size_t errlen)
{
    CG_ASSERT(cfg);
    char msg[CG_CONFIG_MSG_LEN];
    for (size_t i = 0; i < cg_config_n_keys; i++) {
        if (s_check_stored(cfg, &cg_config_keys[i], msg, sizeof msg) != 0) {
            cg_status_msg(err, errlen, "[%s] %s: %s", cg_config_keys[i].section,
                          cg_config_keys[i].key, msg);
            return CG_ERR_INVAL;
        }
    }
    cg_config_t *work = cg_calloc(1, sizeof *work);
    *work = *cfg;
    cg_status_t st = CG_OK;
    /* Settled from here on: a written copy lists these constraints explicitly. */
    if (work->n_constraints > 0)
        work->constraints_explicit = true;
    if (cg_config_check_constraints(work, err, errlen) != 0 ||
        s_cross_checks(work, err, errlen) != 0) {
        st = CG_ERR_INVAL;
        goto out;
    }
    if (work->run_id[0] == '\0') {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t h = cg_rng_mix64((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
        h = cg_rng_mix64(h ^ ((uint64_t)getpid() << 32) ^ cg_rng_mix64(work->seed));
        snprintf(work->run_id, sizeof work->run_id, "run-%016" PRIx64, h);
    }
    *cfg = *work;
out:
    free(work);
    return st;
}

/* ---- names ------------------------------------------------------------------------------ */

cg_status_t cg_config_parse_estimator(const char *s, cg_adv_estimator_t *out)
{
    if (!s || !out)
        return CG_ERR_INVAL;
    int i = s_name_index(s_ESTIMATORS, s);
    if (i < 0)
        return CG_ERR_INVAL;
    *out = (cg_adv_estimator_t)i;
    return CG_OK;
}

const char *cg_config_estimator_name(cg_adv_estimator_t e)
{
    if ((int)e < 0 || (int)e >= (int)(sizeof s_ESTIMATORS / sizeof s_ESTIMATORS[0]) - 1)
        return "unknown";
    return s_ESTIMATORS[e];
}
