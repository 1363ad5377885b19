/* cg_config_constraints: the [constraints] section: `<cost> = <threshold>` and
 * `<cost>_lambda = <value>` lines as they are read, their checks at finish, and writing them
 * back. The simulator's default constraints apply when the section is not given. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cg_config_impl.h"

static cg_constraint_t *s_find_constraint(cg_config_t *cfg, const char *name)
{
    for (int32_t i = 0; i < cfg->n_constraints; i++)
        if (strcmp(cfg->constraints[i].name, name) == 0)
            return &cfg->constraints[i];
    return NULL;
}

static bool s_constraint_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= CG_NAME_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return false;
    return !(len > 7 && strcmp(name + len - 7, "_lambda") == 0);
}

static const cg_config_range_t s_THRESHOLD = {0.0, 1.0,
                                              "the allowed violation rate d_k of this cost"};
static const cg_config_range_t s_LAMBDA = {0.0, INFINITY,
                                           "fixed (or initial) multiplier of this cost"};

/* `<name> = <threshold>` adds or updates a constraint, `<name>_lambda = <value>` sets its
 * fixed_lambda. */
int cg_config_set_constraint(cg_config_t *cfg, const char *key, const char *value, int *piece,
                             char *msg, size_t n)
{
    *piece = 0;
    cfg->constraints_explicit = true;
    if (strchr(value, '\n')) {
        *piece = 1;
        cg_status_msg(msg, n,
                      "this key takes a single line, but an indented line continues it "
                      "(hint: un-indent the next key)");
        return -1;
    }
    size_t len = strlen(key);
    if (len > 7 && strcmp(key + len - 7, "_lambda") == 0) {
        char name[CG_CONFIG_KEY_LEN];
        snprintf(name, sizeof name, "%.*s", (int)(len - 7), key);
        cg_constraint_t *c = s_find_constraint(cfg, name);
        if (!c) {
            cg_status_msg(msg, n,
                          "no constraint '%s' to set the lambda of (hint: give '%s = "
                          "<threshold>' before '%s'; a [constraints] section replaces the "
                          "simulator's default constraints)",
                          name, name, key);
            return -1;
        }
        float v = 0.0f;
        if (cg_config_parse_float(&s_LAMBDA, value, &v, msg, n) != 0)
            return -1;
        c->fixed_lambda = v;
        return 0;
    }
    if (!s_constraint_name_ok(key)) {
        cg_status_msg(msg, n,
                      "'%.64s' is not a constraint name (hint: a cost name of 1 to %d letters, "
                      "digits or '_', e.g. lava = 0.01; or <name>_lambda = <value>)",
                      key, CG_NAME_LEN - 1);
        return -1;
    }
    float v = 0.0f;
    if (cg_config_parse_float(&s_THRESHOLD, value, &v, msg, n) != 0)
        return -1;
    cg_constraint_t *c = s_find_constraint(cfg, key);
    if (!c) {
        if (cfg->n_constraints >= CG_MAX_COSTS) {
            cg_status_msg(msg, n,
                          "more than %d constraints (hint: at most %d costs can be enforced)",
                          CG_MAX_COSTS, CG_MAX_COSTS);
            return -1;
        }
        c = &cfg->constraints[cfg->n_constraints++];
        memset(c, 0, sizeof *c);
        memcpy(c->name, key, len);
        c->fixed_lambda = 0.1f;
    }
    c->threshold = v;
    return 0;
}

int cg_config_check_constraints(const cg_config_t *cfg, char *err, size_t errlen)
{
    char msg[CG_CONFIG_MSG_LEN];
    if (cfg->n_constraints < 0 || cfg->n_constraints > CG_MAX_COSTS) {
        cg_status_msg(err, errlen, "[constraints]: %d constraints (hint: at most %d)",
                      cfg->n_constraints, CG_MAX_COSTS);
        return -1;
    }
    for (int32_t i = 0; i < cfg->n_constraints; i++) {
        const cg_constraint_t *c = &cfg->constraints[i];
        if (strnlen(c->name, CG_NAME_LEN) >= CG_NAME_LEN || !s_constraint_name_ok(c->name)) {
            cg_status_msg(err, errlen,
                          "[constraints] #%d: invalid name (hint: 1 to %d letters, digits "
                          "or '_', not ending in _lambda)",
                          i + 1, CG_NAME_LEN - 1);
            return -1;
        }
        for (int32_t j = 0; j < i; j++)
            if (strcmp(cfg->constraints[j].name, c->name) == 0) {
                cg_status_msg(err, errlen,
                              "[constraints] %s: given twice (hint: one entry per cost)", c->name);
                return -1;
            }
        if (cg_config_float_ok(&s_THRESHOLD, c->threshold, msg, sizeof msg)) {
            cg_status_msg(err, errlen, "[constraints] %s: %g is out of range (hint: %s)", c->name,
                          (double)c->threshold, msg);
            return -1;
        }
        if (cg_config_float_ok(&s_LAMBDA, c->fixed_lambda, msg, sizeof msg)) {
            cg_status_msg(err, errlen, "[constraints] %s_lambda: %g is out of range (hint: %s)",
                          c->name, (double)c->fixed_lambda, msg);
            return -1;
        }
        if (cfg->mult_kind == CG_MULT_PROJECTED && cfg->mult_upper > 0.0f &&
            c->fixed_lambda > cfg->mult_upper) {
            cg_status_msg(err, errlen,
                          "[constraints] %s_lambda: %g is above [multipliers] upper = %g "
                          "(hint: the initial lambda must lie within the projection bound)",
                          c->name, (double)c->fixed_lambda, (double)cfg->mult_upper);
            return -1;
        }
    }
    return 0;
}

void cg_config_write_constraints(FILE *f, const cg_config_t *cfg)
{
    if (!cfg->constraints_explicit && cfg->n_constraints == 0) {
        fprintf(f, "\n; [constraints] not given: the simulator's defaults apply\n");
        return;
    }
    fprintf(f, "\n[constraints]\n");
    for (int32_t i = 0; i < cfg->n_constraints && i < CG_MAX_COSTS; i++) {
        char t[64], l[64];
        cg_config_fmt_float(t, sizeof t, cfg->constraints[i].threshold);
        cg_config_fmt_float(l, sizeof l, cfg->constraints[i].fixed_lambda);
        fprintf(f, "%s = %s\n%s_lambda = %s\n", cfg->constraints[i].name, t,
                cfg->constraints[i].name, l);
    }
}
