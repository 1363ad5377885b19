/* fuzz_map: libFuzzer harness for the gridworld map parser (actor/sim/gridworld.c), reached
 * as a config reaches it: the input is the text of [gridworld] map (cut at a NUL byte),
 * stored as a config key, checked by cg_sim_configure (the simulator layer normalises the
 * rows), described by cg_sim_kind_new; a map that passes runs one episode on each of two
 * instances with actions taken from the input bytes, every step's outputs checked by cg_sim.
 * Seeds: corpus/map/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_config.h"
#include "cg_log.h"
#include "cg_sim.h"

#define S_INSTANCES 2

static cg_config_t *s_cfg; /* ~55 KB: on the heap, made once */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cg_log_set_level(CG_LOG_ERROR);
    s_cfg = calloc(1, sizeof *s_cfg);
    if (!s_cfg)
        abort();
    return 0;
}

/* One episode on each instance; every call must succeed on a map that was accepted. */
static void s_run(const cg_sim_kind_t *kind, const uint8_t *data, size_t size)
{
    char err[1024];
    cg_sim_t *sim = cg_sim_create(kind, S_INSTANCES, 7, err, sizeof err);
    if (!sim)
        abort();
    const cg_sim_info_t *info = cg_sim_info(sim);
    float *obs = malloc((size_t)info->obs_dim * sizeof *obs);
    size_t at = 0;
    for (int32_t i = 0; i < S_INSTANCES; i++) {
        if (cg_sim_reset(sim, i, 0, obs) != CG_OK)
            abort();
        int done = 0;
        for (int32_t t = 0; !done; t++) {
            if (t > info->max_steps)
                abort(); /* the episode outlived its stated cap */
            int32_t action = size ? data[at++ % size] % info->n_actions : 0;
            done = cg_sim_step(sim, i, action, obs);
            if (done < 0)
                abort(); /* the simulator broke a rule: cg_sim_error says which */
        }
        cg_sim_result_t res;
        if (cg_sim_result(sim, i, &res) != CG_OK)
            abort();
    }
    free(obs);
    cg_sim_destroy(&sim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    char *map = malloc(size + 1);
    memcpy(map, data, size);
    map[size] = '\0';
    cg_config_defaults(s_cfg); /* the default simulator: gridworld */
    cg_status_t rc = cg_config_sim_put(s_cfg, "gridworld", "map", map, "fuzz", 1, err, sizeof err);
    free(map);
    if (rc == CG_OK)
        rc = cg_sim_configure(s_cfg, err, sizeof err);
    if (rc != CG_OK)
        return 0;
    cg_sim_kind_t *kind = cg_sim_kind_new(s_cfg, err, sizeof err);
    if (!kind)
        abort(); /* cg_sim_configure accepted a world the simulator cannot describe */
    s_run(kind, data, size);
    cg_sim_kind_destroy(&kind);
    return 0;
}
