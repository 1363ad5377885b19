/* external: a simulator that runs outside cgrpo (a Python actor's environment, docs/python.md).
 * The learner needs only its sizes, which the config gives: [external] obs_dim, n_actions,
 * costs (names, comma-separated) and [sim] horizon (the episode cap). Its table has no
 * create (cg_sim_kind_runs_here): `cgrpo actor` refuses it with a hint, and the actors that
 * run it connect from outside. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cg_sim.h"

enum { S_DEFAULT_HORIZON = 1000 };

static const cg_sim_key_t s_keys[] = {
    {"obs_dim", CG_SIM_INT, "0", 0, CG_SIM_MAX_OBS,
     "observation size of the outside environment (required)"},
    {"n_actions", CG_SIM_INT, "0", 0, CG_SIM_MAX_ACTIONS,
     "discrete actions of the outside environment (required)"},
    {"costs", CG_SIM_STRING, "", 0, 0,
     "its indicator costs, comma-separated names in the order its actors send them"},
};
enum { S_OBS_DIM, S_N_ACTIONS, S_COSTS };

/* Splits "a, b,c" into info's cost names: each 1..63 of [A-Za-z0-9_], distinct. */
static int s_cost_names(const char *list, cg_sim_info_t *info, char *err, size_t errlen)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t n = (size_t)(end - p);
        while (n && p[n - 1] == ' ')
            n--;
        int ok = n >= 1 && n < CG_SIM_NAME_LEN;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)p[i]) || p[i] == '_';
        if (!ok) {
            snprintf(err, errlen,
                     "[external] costs: '%.*s' is not a cost name (hint: names of "
                     "1 to 63 letters, digits or _, separated by commas)",
                     (int)(n < 64 ? n : 64), p);
            return -1;
        }
        if (info->n_costs == CG_SIM_MAX_COSTS) {
            snprintf(err, errlen,
                     "[external] costs: more than %d names (hint: at most %d "
                     "indicator costs)",
                     CG_SIM_MAX_COSTS, CG_SIM_MAX_COSTS);
            return -1;
        }
        char *name = info->cost_names[info->n_costs];
        memcpy(name, p, n);
        name[n] = '\0';
        for (int32_t k = 0; k < info->n_costs; k++)
            if (!strcmp(info->cost_names[k], name)) {
                snprintf(err, errlen, "[external] costs: '%s' given twice (hint: each cost once)",
                         name);
                return -1;
            }
        info->default_threshold[info->n_costs] = -1.0f; /* enforced only by [constraints] */
        info->n_costs++;
        p = end;
    }
    return 0;
}

static int s_describe(const cg_sim_params_t *p, cg_sim_info_t *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    info->obs_dim = (int32_t)p->values[S_OBS_DIM].i;
    info->n_actions = (int32_t)p->values[S_N_ACTIONS].i;
    if (info->obs_dim < 1 || info->n_actions < 1) {
        snprintf(err, errlen,
                 "[external] obs_dim and n_actions are required, >= 1 (hint: give "
                 "the sizes of the environment your actors run, e.g. obs_dim = 4, n_actions = 2)");
        return -1;
    }
    info->max_steps = p->horizon > 0 ? p->horizon : S_DEFAULT_HORIZON;
    return s_cost_names(p->values[S_COSTS].s ? p->values[S_COSTS].s : "", info, err, errlen);
}

const cg_sim_table_t cg_sim_external = {
    .abi_version = CG_SIM_ABI_VERSION,
    .struct_size = sizeof(cg_sim_table_t),
    .name = "external",
    .help = "an environment outside cgrpo, stepped by Python actors (docs/python.md)",
    .keys = s_keys,
    .n_keys = (int32_t)(sizeof s_keys / sizeof s_keys[0]),
    .describe = s_describe, /* and no create: stepped outside cgrpo */
};
