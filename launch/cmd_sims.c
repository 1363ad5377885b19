/* cmd_sims: `cgrpo sims`: the simulators this cgrpo knows (built in, and the plugin a config
 * names) with their config keys, from the simulators' own tables. --markdown prints the key
 * tables of docs/config.md, which a test keeps equal to this output. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_sim.h"

static void s_usage(FILE *out)
{
    fprintf(out, "usage: cgrpo sims [--markdown] [--config FILE] [--set SEC.KEY=VALUE]...\n"
                 "Lists the built-in simulators, and the plugin a config names ([sim] plugin),\n"
                 "with each one's config section: key, type, default, range, meaning.\n\n"
                 "  --markdown     the key tables as Markdown (docs/config.md holds this output)\n"
                 "  -h, --help     this help\n");
}

static const char *s_type_name(int32_t type)
{
    switch (type) {
    case CG_SIM_INT: return "integer";
    case CG_SIM_FLOAT: return "number";
    case CG_SIM_BOOL: return "boolean";
    case CG_SIM_STRING: return "string";
    default: return "text";
    }
}

static void s_range(const cg_sim_key_t *k, char *buf, size_t n)
{
    if (k->type == CG_SIM_INT)
        snprintf(buf, n, "%.0f to %.0f", k->lo, k->hi);
    else if (k->type == CG_SIM_FLOAT)
        snprintf(buf, n, "[%g, %g]", k->lo, k->hi);
    else if (k->type == CG_SIM_BOOL)
        snprintf(buf, n, "true, false");
    else
        snprintf(buf, n, "up to %d characters", CG_SIM_MAX_TEXT - 1);
}

static void s_print(const cg_sim_table_t *t, const char *origin, int markdown)
{
    char range[96];
    if (markdown) {
        printf("### `[%s]`\n\n%s.\n\n", t->name, t->help ? t->help : "");
        if (t->n_keys == 0) {
            printf("No keys of its own.\n\n");
            return;
        }
        printf("| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
        for (int32_t k = 0; k < t->n_keys; k++) {
            const cg_sim_key_t *key = &t->keys[k];
            s_range(key, range, sizeof range);
            printf("| `%s` | %s | `%s` | %s | %s |\n", key->name, s_type_name(key->type),
                   key->def[0] ? key->def : "\"\"", range, key->help ? key->help : "");
        }
        printf("\n");
        return;
    }
    printf("%s (%s): %s\n", t->name, origin, t->help ? t->help : "");
    for (int32_t k = 0; k < t->n_keys; k++) {
        const cg_sim_key_t *key = &t->keys[k];
        s_range(key, range, sizeof range);
        printf("  [%s] %-16s %-8s default %-6s %s; %s\n", t->name, key->name,
               s_type_name(key->type), key->def[0] ? key->def : "\"\"", range,
               key->help ? key->help : "");
    }
}

int cg_cmd_sims(int argc, char **argv)
{
    cg_cmd_config_opts_t copts = {0};
    int markdown = 0;
    static const struct option longopts[] = {{"markdown", no_argument, NULL, 'm'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"set", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm': markdown = 1; break;
        case 'c': copts.config_path = optarg; break;
        case 's':
            if (cg_cmd_add_set(&copts, optarg))
                return 2;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cgrpo sims: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    for (int32_t k = 0; k < cg_sim_builtin_count(); k++)
        s_print(cg_sim_builtin(k), k == 0 ? "built in, the default" : "built in", markdown);
    if (!copts.config_path && copts.n_sets == 0)
        return 0;
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    int rc = cg_cmd_load_config(&copts, NULL, cfg);
    if (rc == 0 && cfg->sim_plugin[0]) {
        char err[2048];
        cg_sim_kind_t *kind = cg_sim_kind_new(cfg, err, sizeof err);
        if (kind)
            s_print(cg_sim_kind_table(kind), cg_sim_kind_origin(kind), markdown);
        else
            fprintf(stderr, "cgrpo sims: %s\n", err);
        rc = kind ? 0 : 1;
        cg_sim_kind_destroy(&kind);
    }
    free(cfg);
    return rc;
}
