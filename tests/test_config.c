/* test_config: defaults, every key, error messages (status, file, line, key), --set,
 * cross-field checks in finish, [constraints] semantics, and write/load round trips; and the
 * simulator sections the config stores as text: what the store keeps, its limits, and their
 * checks by the simulator layer (cg_sim_configure: keys, values, default constraints). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_config.h"
#include "cg_sim.h"
#include "cg_test.h"

#define ERRLEN 2048

static cg_config_t *s_new_defaults(void)
{
    cg_config_t *cfg = calloc(1, sizeof *cfg);
    CG_ASSERT(cfg);
    cg_config_defaults(cfg);
    return cfg;
}

/* The stored text of [section] key, or NULL. */
static const char *s_sim_text(const cg_config_t *cfg, const char *section, const char *key)
{
    const cg_config_entry_t *e = cg_config_sim_find(cfg, section, key);
    return e ? cg_config_sim_value(cfg, e) : NULL;
}

/* [section] key holds exactly want. */
#define S_ASSERT_SIM(cfg, section, key, want)                                                      \
    do {                                                                                           \
        const char *got_ = s_sim_text((cfg), (section), (key));                                    \
        if (!got_ || strcmp(got_, (want)))                                                         \
            printf("\n[%s] %s: want '%s', got '%s'\n", (section), (key), (want),                   \
                   got_ ? got_ : "(none)");                                                        \
        CU_ASSERT_PTR_NOT_NULL(got_);                                                              \
        CU_ASSERT(got_ && !strcmp(got_, (want)));                                                  \
    } while (0)

/* Entries that are keys (not "[section]" header rows). */
static int32_t s_sim_keys(const cg_config_t *cfg)
{
    int32_t n = 0;
    for (int32_t i = 0; i < cfg->n_sim_entries; i++)
        n += cfg->sim_entries[i].key[0] != '\0';
    return n;
}

/* Sections with at least one key: what cg_config_write writes. */
static int32_t s_sim_sections(const cg_config_t *cfg)
{
    int32_t n = 0;
    for (int32_t i = 0; i < cfg->n_sim_entries; i++) {
        const cg_config_entry_t *e = &cfg->sim_entries[i];
        int first = e->key[0] != '\0';
        for (int32_t j = 0; j < i && first; j++)
            first =
                !(cfg->sim_entries[j].key[0] && !strcmp(cfg->sim_entries[j].section, e->section));
        n += first;
    }
    return n;
}

/* The simulator sections hold the same keys with the same values. Header rows and order
 * aside: a header is recorded only where a file had one, and the writer groups sections. */
static void s_assert_sim_equal(const cg_config_t *a, const cg_config_t *b)
{
    CU_ASSERT_EQUAL(s_sim_keys(a), s_sim_keys(b));
    for (int32_t i = 0; i < a->n_sim_entries; i++) {
        const cg_config_entry_t *e = &a->sim_entries[i];
        if (!e->key[0])
            continue;
        const char *want = cg_config_sim_value(a, e), *got = s_sim_text(b, e->section, e->key);
        if (!got || strcmp(want, got))
            printf("\n[%s] %s: '%s' became '%s'\n", e->section, e->key, want,
                   got ? got : "(missing)");
        CU_ASSERT(got && !strcmp(want, got));
    }
}

/* Field-by-field equality (padding makes memcmp unreliable across copies). */
static void s_assert_equal(const cg_config_t *a, const cg_config_t *b)
{
#define EQ(f) CU_ASSERT_EQUAL(a->f, b->f)
#define EQS(f) CU_ASSERT_STRING_EQUAL(a->f, b->f)
    EQ(seed);
    EQS(run_id);
    EQS(run_dir);
    EQ(iterations);
    EQ(checkpoint_every);
    EQ(deterministic);
    EQS(sim);
    EQS(sim_plugin);
    EQ(horizon);
    s_assert_sim_equal(a, b);
    EQ(n_hidden);
    for (int i = 0; i < CG_MAX_LAYERS; i++)
        EQ(hidden[i]);
    EQ(activation);
    EQ(lr);
    EQ(adam_beta1);
    EQ(adam_beta2);
    EQ(adam_eps);
    EQ(max_grad_norm);
    EQ(groups_per_batch);
    EQ(group_size);
    EQ(epochs);
    EQ(minibatches);
    EQ(clip);
    EQ(kl_coef);
    EQ(ent_coef);
    EQ(max_policy_lag);
    EQ(estimator);
    EQ(adv_eps);
    EQS(reference);
    EQ(constraints_explicit);
    EQ(n_constraints);
    for (int i = 0; i < CG_MAX_COSTS && i < a->n_constraints; i++) {
        EQS(constraints[i].name);
        EQ(constraints[i].threshold);
        EQ(constraints[i].fixed_lambda);
    }
    EQ(mult_kind);
    EQ(mult_lr);
    EQ(mult_beta1);
    EQ(mult_beta2);
    EQ(mult_eps);
    EQ(mult_init_logit);
    EQ(mult_temperature);
    EQ(mult_upper);
    EQ(mult_kp);
    EQ(mult_ki);
    EQ(mult_kd);
    EQ(fixed_lambda_reward);
    EQ(n_temperatures);
    for (int i = 0; i < CG_MAX_GROUP; i++)
        EQ(temperatures[i]);
    EQ(dual_anchor);
    EQ(anchor);
    EQ(da_alpha);
    EQ(prospect);
    EQ(pt_beta);
    EQ(pt_lambda_pos);
    EQ(pt_lambda_neg);
    EQ(asym_kl);
    EQ(kl_neg);
    EQ(kl_pos);
    EQ(actors);
    EQ(instances);
    EQ(heartbeat_ms);
    EQS(bind_host);
    EQ(port);
    EQ(device);
    EQ(heartbeat_timeout_ms);
    EQ(hwm);
    EQ(max_msg_bytes);
    EQ(max_inbound_mb);
    EQ(max_steps_per_episode);
#undef EQ
#undef EQS
}

#define PATHLEN 4096

/* Makes an empty temporary file and puts its path in path; the caller unlinks it. */
static void s_tmpfile(char *path)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, PATHLEN, "%s/cg_test_config_XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    CG_ASSERT(fd >= 0);
    close(fd);
}

/* cg_sim_configure, printing its message on failure. */
static cg_status_t s_configure(cg_config_t *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    cg_status_t st = cg_sim_configure(cfg, err, errlen);
    if (st != CG_OK)
        printf("\ncg_sim_configure: %s\n", err);
    return st;
}

/* The line of text that starts with `start` (1-based), or 0. */
static int s_line_of(const char *text, const char *start)
{
    int line = 1;
    for (const char *p = text; *p; line++) {
        if (!strncmp(p, start, strlen(start)))
            return line;
        p += strcspn(p, "\n");
        p += *p == '\n';
    }
    return 0;
}

/* cfg -> write -> load into fresh defaults -> equal to cfg; the simulator sections read back
 * as one header row and the same keys each. */
static void s_roundtrip(const cg_config_t *cfg)
{
    char path[PATHLEN];
    s_tmpfile(path);
    CU_ASSERT_EQUAL_FATAL(cg_config_write(cfg, path), CG_OK);
    cg_config_t *back = s_new_defaults();
    char err[ERRLEN] = "";
    cg_status_t st = cg_config_load(back, path, err, sizeof err);
    if (st != CG_OK)
        printf("\nreload failed: %s\n", err);
    CU_ASSERT_EQUAL(st, CG_OK);
    s_assert_equal(cfg, back);
    CU_ASSERT_EQUAL(back->n_sim_entries, s_sim_keys(cfg) + s_sim_sections(cfg));
    free(back);
    unlink(path);
}

/* [gridworld] map_file: a text key read from a file, a relative path from the config file's
 * directory (from the working directory for --set); stored as the key itself so that the
 * run's config.ini carries the rows; errors name the line and the file. */
static void test_text_key_from_file(void)
{
    char dir[PATHLEN], path[PATHLEN + 64], map[PATHLEN + 64], err[ERRLEN] = "";
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cg_test_mapfile_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(map, sizeof map, "%s/room.map", dir);
    FILE *f = fopen(map, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("#####\r\n#S.G#\n\n#...#\n#####\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/run.ini", dir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("[sim]\nname = gridworld\n[gridworld]\nmap_file = room.map\n", f);
    fclose(f);
    cg_config_t *cfg = s_new_defaults();
    CU_ASSERT_EQUAL_FATAL(cg_config_load(cfg, path, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(s_sim_text(cfg, "gridworld", "map"), "#####\n#S.G#\n#...#\n#####");
    CU_ASSERT_PTR_NULL(cg_config_sim_find(cfg, "gridworld", "map_file"));
    const cg_config_entry_t *e = cg_config_sim_find(cfg, "gridworld", "map");
    CU_ASSERT_EQUAL(e ? e->line : 0, 4); /* the map_file line */
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    s_roundtrip(cfg);

    /* given twice; a file that is not there; a bad map in the file */
    cg_config_t *c2 = s_new_defaults();
    CU_ASSERT_EQUAL_FATAL(cg_config_load(c2, path, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(c2, "gridworld.map=#S.G#", err, sizeof err), CG_OK);
    CU_ASSERT_NOT_EQUAL(cg_sim_configure(c2, err, sizeof err), CG_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "given twice"));
    free(c2);
    c2 = s_new_defaults();
    CU_ASSERT_EQUAL_FATAL(cg_config_load(c2, path, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(c2, "gridworld.map_file=no-such.map", err, sizeof err), CG_OK);
    CU_ASSERT_NOT_EQUAL(cg_sim_configure(c2, err, sizeof err), CG_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--set gridworld.map_file: cannot read no-such.map"));
    free(c2);
    f = fopen(map, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("#####\n#S.G#\n#..#\n", f);
    fclose(f);
    c2 = s_new_defaults();
    CU_ASSERT_EQUAL_FATAL(cg_config_load(c2, path, err, sizeof err), CG_OK);
    CU_ASSERT_NOT_EQUAL(cg_sim_configure(c2, err, sizeof err), CG_OK);
    char want[PATHLEN + 128];
    snprintf(want, sizeof want, "%s:4: [gridworld] map_file (room.map): row 3 has 4 cells", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    if (!strstr(err, want))
        printf("\n%s\n", err);
    free(c2);
    free(cfg);
    unlink(map);
    unlink(path);
    rmdir(dir);
}

static void test_defaults(void)
{
    cg_config_t *cfg = s_new_defaults();
    CU_ASSERT_EQUAL(cfg->seed, 1);
    CU_ASSERT_STRING_EQUAL(cfg->run_id, "");
    CU_ASSERT_EQUAL(cfg->iterations, 150);
    CU_ASSERT_EQUAL(cfg->checkpoint_every, 25);
    CU_ASSERT_STRING_EQUAL(cfg->sim, ""); /* the default simulator, resolved by cg_sim_configure */
    CU_ASSERT_STRING_EQUAL(cfg->sim_plugin, "");
    CU_ASSERT_EQUAL(cfg->horizon, 0);
    CU_ASSERT_EQUAL(cfg->n_sim_entries, 0);
    CU_ASSERT_EQUAL(cfg->sim_text_len, 0);
    CU_ASSERT_EQUAL(cfg->n_hidden, 2);
    CU_ASSERT_EQUAL(cfg->hidden[0], 64);
    CU_ASSERT_EQUAL(cfg->hidden[1], 64);
    CU_ASSERT_EQUAL(cfg->activation, CG_ACT_TANH);
    CU_ASSERT_EQUAL(cfg->lr, 3e-4f);
    CU_ASSERT_EQUAL(cfg->adam_eps, 1e-8f);
    CU_ASSERT_EQUAL(cfg->max_grad_norm, 0.5f);
    CU_ASSERT_EQUAL(cfg->groups_per_batch, 64);
    CU_ASSERT_EQUAL(cfg->group_size, 16);
    CU_ASSERT_EQUAL(cfg->epochs, 4);
    CU_ASSERT_EQUAL(cfg->minibatches, 4);
    CU_ASSERT_EQUAL(cfg->clip, 0.2f);
    CU_ASSERT_EQUAL(cfg->kl_coef, 0.0f);
    CU_ASSERT_EQUAL(cfg->max_policy_lag, 1);
    CU_ASSERT_EQUAL(cfg->estimator, CG_ADV_SCALARIZED_ADVANTAGES);
    CU_ASSERT_EQUAL(cfg->mult_kind, CG_MULT_SOFTMAX);
    CU_ASSERT_EQUAL(cfg->mult_lr, 0.03f);
    CU_ASSERT_EQUAL(cfg->mult_beta1, 0.9f);
    CU_ASSERT_EQUAL(cfg->mult_beta2, 0.999f);
    CU_ASSERT_EQUAL(cfg->mult_eps, 1e-5f);
    CU_ASSERT_EQUAL(cfg->mult_init_logit, 0.02f);
    CU_ASSERT_EQUAL(cfg->mult_temperature, 1.0f);
    CU_ASSERT_EQUAL(cfg->mult_kp, 0.1f);
    CU_ASSERT_EQUAL(cfg->mult_ki, 0.01f);
    CU_ASSERT_EQUAL(cfg->fixed_lambda_reward, 1.0f);
    CU_ASSERT_EQUAL(cfg->n_temperatures, 0);
    CU_ASSERT_EQUAL(cfg->da_alpha, 0.2f);
    CU_ASSERT_EQUAL(cfg->pt_beta, 0.8f);
    CU_ASSERT_EQUAL(cfg->pt_lambda_pos, 1.25f);
    CU_ASSERT_EQUAL(cfg->pt_lambda_neg, 2.0f);
    CU_ASSERT_EQUAL(cfg->kl_neg, 0.025f);
    CU_ASSERT_EQUAL(cfg->kl_pos, 0.01f);
    CU_ASSERT_FALSE(cfg->dual_anchor || cfg->prospect || cfg->asym_kl);
    CU_ASSERT_EQUAL(cfg->actors, 2);
    CU_ASSERT_EQUAL(cfg->instances, 16);
    CU_ASSERT_EQUAL(cfg->heartbeat_ms, 500);
    CU_ASSERT_STRING_EQUAL(cfg->bind_host, "127.0.0.1");
    CU_ASSERT_EQUAL(cfg->port, 0);
    CU_ASSERT_EQUAL(cfg->device, CG_DEVICE_AUTO);
    CU_ASSERT_EQUAL(cfg->heartbeat_timeout_ms, 3000);
    CU_ASSERT_EQUAL(cfg->hwm, 8);
    CU_ASSERT_EQUAL(cfg->max_msg_bytes, 67108864);
    CU_ASSERT_EQUAL(cfg->max_inbound_mb, 512);
    CU_ASSERT_EQUAL(cfg->max_steps_per_episode, 1024);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);
    CU_ASSERT_FALSE(cfg->constraints_explicit);

    char err[ERRLEN] = "";
    /* the simulator layer: the gridworld, its every key with its default, its constraints */
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->sim, "gridworld");
    S_ASSERT_SIM(cfg, "gridworld", "map", "");
    S_ASSERT_SIM(cfg, "gridworld", "battery", "0");
    S_ASSERT_SIM(cfg, "gridworld", "reserve", "0");
    S_ASSERT_SIM(cfg, "gridworld", "slip", "0.1");
    CU_ASSERT_EQUAL(s_sim_keys(cfg), 5);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 2);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[0].name, "lava");
    CU_ASSERT_EQUAL(cfg->constraints[0].threshold, 0.01f);
    CU_ASSERT_EQUAL(cfg->constraints[0].fixed_lambda, 0.1f);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[1].name, "battery");
    CU_ASSERT_EQUAL(cfg->constraints[1].threshold, 0.10f);
    CU_ASSERT_EQUAL(cfg->constraints[1].fixed_lambda, 0.1f);
    /* generated run id: "run-" + hex, letters/digits/-/_ only */
    CU_ASSERT_EQUAL(strncmp(cfg->run_id, "run-", 4), 0);
    CU_ASSERT(strlen(cfg->run_id) > 4);
    CU_ASSERT_EQUAL(strspn(cfg->run_id, "abcdefghijklmnopqrstuvwxyz0123456789-_"),
                    strlen(cfg->run_id));
    /* configure and finish are idempotent: no second pair of constraints, same keys, same
     * run id */
    cg_config_t *again = malloc(sizeof *again);
    *again = *cfg;
    CU_ASSERT_EQUAL(s_configure(again, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(again, err, sizeof err), CG_OK);
    s_assert_equal(cfg, again);
    CU_ASSERT_EQUAL(again->n_sim_entries, cfg->n_sim_entries);
    free(again);
    free(cfg);
}

static void test_empty_string_is_valid(void)
{
    cg_config_t *cfg = s_new_defaults();
    cg_config_t *ref = s_new_defaults();
    char err[ERRLEN] = "";
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "", "empty.ini", err, sizeof err), CG_OK);
    s_assert_equal(cfg, ref);
    CU_ASSERT_EQUAL(
        cg_config_load_string(cfg, "; only a comment\n\n# another\n", "c.ini", err, sizeof err),
        CG_OK);
    s_assert_equal(cfg, ref);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    free(cfg);
    free(ref);
}

/* Every key set to a non-default value. */
static const char s_ALL[] = "[run]\n"
                            "seed = 18446744073709551615\n"
                            "run_id = my-run_01\n"
                            "run_dir = /tmp/cgrpo runs/x\n"
                            "iterations = 7\n"
                            "checkpoint_every = 0\n"
                            "deterministic = yes\n"
                            "\n"
                            "[sim]\n"
                            "name = null\n"
                            "horizon = 100\n"
                            "\n"
                            "[sleep]\n"
                            "step_us = 250\n"
                            "\n"
                            "[gridworld]\n"
                            "map =\n"
                            "    #####\n"
                            "    #S.G#\n"
                            "    #L.C#\n"
                            "    #####\n"
                            "battery = 30\n"
                            "reserve = 5\n"
                            "slip = 0.05\n"
                            "\n"
                            "[instruct]\n"
                            "letters = 9\n"
                            "min_constraints = 2\n"
                            "max_constraints = 3\n"
                            "verbosity = 5\n"
                            "\n"
                            "[policy]\n"
                            "hidden = 32, 16, 8\n"
                            "activation = relu\n"
                            "lr = 1e-3\n"
                            "adam_beta1 = 0.8\n"
                            "adam_beta2 = 0.99\n"
                            "adam_eps = 1e-6\n"
                            "max_grad_norm = 0\n"
                            "\n"
                            "[train]\n"
                            "groups = 8\n"
                            "group_size = 4\n"
                            "epochs = 2\n"
                            "minibatches = 2\n"
                            "clip = 0.3\n"
                            "kl_coef = 0.05\n"
                            "ent_coef = 0.01\n"
                            "max_policy_lag = 3\n"
                            "estimator = scalarized_rewards\n"
                            "adv_eps = 1e-6\n"
                            "reference = ckpt/ref.ckpt\n"
                            "\n"
                            "[constraints]\n"
                            "lava = 0.05\n"
                            "lava_lambda = 0.4\n"
                            "verbosity = 0.2\n"
                            "\n"
                            "[multipliers]\n"
                            "kind = pid\n"
                            "lr = 0.1\n"
                            "beta1 = 0.5\n"
                            "beta2 = 0.9\n"
                            "eps = 1e-4\n"
                            "init_logit = -0.5\n"
                            "temperature = 2\n"
                            "upper = 5\n"
                            "kp = 0.2\n"
                            "ki = 0.02\n"
                            "kd = 0.003\n"
                            "lambda_reward = 0.7\n"
                            "\n"
                            "[stabilisers]\n"
                            "temperatures = 0.1, 0.4, 0.7, 1.0\n"
                            "dual_anchor = on\n"
                            "anchor = code\n"
                            "alpha = 0.3\n"
                            "prospect = true\n"
                            "pt_beta = 0.9\n"
                            "pt_lambda_pos = 1.5\n"
                            "pt_lambda_neg = 2.5\n"
                            "asym_kl = 1\n"
                            "kl_neg = 0.03\n"
                            "kl_pos = 0.02\n"
                            "\n"
                            "[actor]\n"
                            "actors = 5\n"
                            "instances = 3\n"
                            "heartbeat_ms = 200\n"
                            "\n"
                            "[learner]\n"
                            "bind = 0.0.0.0\n"
                            "port = 5555\n"
                            "device = cpu\n"
                            "heartbeat_timeout_ms = 1000\n"
                            "hwm = 8\n"
                            "max_msg_bytes = 1048576\n"
                            "max_episode_steps = 512\n";

static void test_every_key(void)
{
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "";
    cg_status_t st = cg_config_load_string(cfg, s_ALL, "all.ini", err, sizeof err);
    if (st != CG_OK)
        printf("\n%s\n", err);
    CU_ASSERT_EQUAL_FATAL(st, CG_OK);
    CU_ASSERT_EQUAL(cfg->seed, UINT64_MAX);
    CU_ASSERT_STRING_EQUAL(cfg->run_id, "my-run_01");
    CU_ASSERT_STRING_EQUAL(cfg->run_dir, "/tmp/cgrpo runs/x");
    CU_ASSERT_EQUAL(cfg->iterations, 7);
    CU_ASSERT_EQUAL(cfg->checkpoint_every, 0);
    CU_ASSERT_TRUE(cfg->deterministic);
    CU_ASSERT_STRING_EQUAL(cfg->sim, "null");
    CU_ASSERT_EQUAL(cfg->horizon, 100);
    /* simulator sections: stored as text, each key with where it came from */
    S_ASSERT_SIM(cfg, "sleep", "step_us", "250");
    S_ASSERT_SIM(cfg, "gridworld", "map", "#####\n#S.G#\n#L.C#\n#####");
    S_ASSERT_SIM(cfg, "gridworld", "battery", "30");
    S_ASSERT_SIM(cfg, "gridworld", "reserve", "5");
    S_ASSERT_SIM(cfg, "gridworld", "slip", "0.05");
    S_ASSERT_SIM(cfg, "instruct", "letters", "9");
    S_ASSERT_SIM(cfg, "instruct", "min_constraints", "2");
    S_ASSERT_SIM(cfg, "instruct", "max_constraints", "3");
    S_ASSERT_SIM(cfg, "instruct", "verbosity", "5");
    CU_ASSERT_EQUAL(s_sim_keys(cfg), 9);
    CU_ASSERT_EQUAL(cfg->n_sim_entries, 9 + 3); /* and the three header rows */
    const cg_config_entry_t *e = cg_config_sim_find(cfg, "gridworld", "map");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(cg_config_sim_origin(cfg, e), "all.ini");
    CU_ASSERT_EQUAL(e->line, s_line_of(s_ALL, "map ="));
    e = cg_config_sim_find(cfg, "instruct", "verbosity");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->line, s_line_of(s_ALL, "verbosity ="));
    e = cg_config_sim_find(cfg, "sleep", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->line, s_line_of(s_ALL, "[sleep]"));
    CU_ASSERT_EQUAL(cfg->n_hidden, 3);
    CU_ASSERT_EQUAL(cfg->hidden[0], 32);
    CU_ASSERT_EQUAL(cfg->hidden[1], 16);
    CU_ASSERT_EQUAL(cfg->hidden[2], 8);
    CU_ASSERT_EQUAL(cfg->activation, CG_ACT_RELU);
    CU_ASSERT_EQUAL(cfg->lr, 1e-3f);
    CU_ASSERT_EQUAL(cfg->adam_beta1, 0.8f);
    CU_ASSERT_EQUAL(cfg->adam_beta2, 0.99f);
    CU_ASSERT_EQUAL(cfg->adam_eps, 1e-6f);
    CU_ASSERT_EQUAL(cfg->max_grad_norm, 0.0f);
    CU_ASSERT_EQUAL(cfg->groups_per_batch, 8);
    CU_ASSERT_EQUAL(cfg->group_size, 4);
    CU_ASSERT_EQUAL(cfg->epochs, 2);
    CU_ASSERT_EQUAL(cfg->minibatches, 2);
    CU_ASSERT_EQUAL(cfg->clip, 0.3f);
    CU_ASSERT_EQUAL(cfg->kl_coef, 0.05f);
    CU_ASSERT_EQUAL(cfg->ent_coef, 0.01f);
    CU_ASSERT_EQUAL(cfg->max_policy_lag, 3);
    CU_ASSERT_EQUAL(cfg->estimator, CG_ADV_SCALARIZED_REWARDS);
    CU_ASSERT_EQUAL(cfg->adv_eps, 1e-6f);
    CU_ASSERT_STRING_EQUAL(cfg->reference, "ckpt/ref.ckpt");
    CU_ASSERT_TRUE(cfg->constraints_explicit);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 2);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[0].name, "lava");
    CU_ASSERT_EQUAL(cfg->constraints[0].threshold, 0.05f);
    CU_ASSERT_EQUAL(cfg->constraints[0].fixed_lambda, 0.4f);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[1].name, "verbosity");
    CU_ASSERT_EQUAL(cfg->constraints[1].threshold, 0.2f);
    CU_ASSERT_EQUAL(cfg->constraints[1].fixed_lambda, 0.1f);
    CU_ASSERT_EQUAL(cfg->mult_kind, CG_MULT_PID);
    CU_ASSERT_EQUAL(cfg->mult_lr, 0.1f);
    CU_ASSERT_EQUAL(cfg->mult_beta1, 0.5f);
    CU_ASSERT_EQUAL(cfg->mult_beta2, 0.9f);
    CU_ASSERT_EQUAL(cfg->mult_eps, 1e-4f);
    CU_ASSERT_EQUAL(cfg->mult_init_logit, -0.5f);
    CU_ASSERT_EQUAL(cfg->mult_temperature, 2.0f);
    CU_ASSERT_EQUAL(cfg->mult_upper, 5.0f);
    CU_ASSERT_EQUAL(cfg->mult_kp, 0.2f);
    CU_ASSERT_EQUAL(cfg->mult_ki, 0.02f);
    CU_ASSERT_EQUAL(cfg->mult_kd, 0.003f);
    CU_ASSERT_EQUAL(cfg->fixed_lambda_reward, 0.7f);
    CU_ASSERT_EQUAL(cfg->n_temperatures, 4);
    CU_ASSERT_EQUAL(cfg->temperatures[0], 0.1f);
    CU_ASSERT_EQUAL(cfg->temperatures[1], 0.4f);
    CU_ASSERT_EQUAL(cfg->temperatures[2], 0.7f);
    CU_ASSERT_EQUAL(cfg->temperatures[3], 1.0f);
    CU_ASSERT_TRUE(cfg->dual_anchor);
    CU_ASSERT_EQUAL(cfg->anchor, CG_ANCHOR_CODE);
    CU_ASSERT_EQUAL(cfg->da_alpha, 0.3f);
    CU_ASSERT_TRUE(cfg->prospect);
    CU_ASSERT_EQUAL(cfg->pt_beta, 0.9f);
    CU_ASSERT_EQUAL(cfg->pt_lambda_pos, 1.5f);
    CU_ASSERT_EQUAL(cfg->pt_lambda_neg, 2.5f);
    CU_ASSERT_TRUE(cfg->asym_kl);
    CU_ASSERT_EQUAL(cfg->kl_neg, 0.03f);
    CU_ASSERT_EQUAL(cfg->kl_pos, 0.02f);
    CU_ASSERT_EQUAL(cfg->actors, 5);
    CU_ASSERT_EQUAL(cfg->instances, 3);
    CU_ASSERT_EQUAL(cfg->heartbeat_ms, 200);
    CU_ASSERT_STRING_EQUAL(cfg->bind_host, "0.0.0.0");
    CU_ASSERT_EQUAL(cfg->port, 5555);
    CU_ASSERT_EQUAL(cfg->device, CG_DEVICE_CPU);
    CU_ASSERT_EQUAL(cfg->heartbeat_timeout_ms, 1000);
    CU_ASSERT_EQUAL(cfg->hwm, 8);
    CU_ASSERT_EQUAL(cfg->max_msg_bytes, 1048576);
    CU_ASSERT_EQUAL(cfg->max_steps_per_episode, 512);
    /* every simulator section passes its simulator's checks, the chosen one's and the others */
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->sim, "null");
    S_ASSERT_SIM(cfg, "gridworld", "map", "#####\n#S.G#\n#L.C#\n#####");
    S_ASSERT_SIM(cfg, "gridworld", "slip", "0.05");
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->run_id, "my-run_01"); /* given: not replaced */
    CU_ASSERT_EQUAL(cfg->n_constraints, 2);           /* explicit: no simulator defaults */

    /* [sim] plugin: a path, kept as given until cg_sim_configure loads it */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[sim]\nplugin = plugins/libmy sim.so\n", "p.ini",
                                          err, sizeof err),
                    CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->sim_plugin, "plugins/libmy sim.so");
    free(cfg);
}

static void test_syntax_variants(void)
{
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "";
    /* BOM, CRLF, ':' separator, inline comments, case-insensitive booleans and enums,
     * indented first key of a section, no trailing newline */
    const char *text = "\xEF\xBB\xBF[train]\r\n"
                       "  groups: 32 ; B\r\n"
                       "estimator = GRPO   ; plain\n"
                       "[run]\n"
                       "deterministic = TRUE\n"
                       "iterations=9";
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(cfg, text, "v.ini", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->groups_per_batch, 32);
    CU_ASSERT_EQUAL(cfg->estimator, CG_ADV_GRPO);
    CU_ASSERT_TRUE(cfg->deterministic);
    CU_ASSERT_EQUAL(cfg->iterations, 9);
    /* the simulator name is matched in any case (docs/config.md); the canonical spelling is
     * what cg_sim_configure stores */
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[sim]\nname = Sleep\n", "v.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->sim, "sleep");
    /* a later value of the same key wins */
    CU_ASSERT_EQUAL(
        cg_config_load_string(cfg, "[train]\nepochs = 2\nepochs = 3\n", "v.ini", err, sizeof err),
        CG_OK);
    CU_ASSERT_EQUAL(cfg->epochs, 3);
    /* lists replace, and empty lists are allowed */
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[policy]\nhidden = 7\n", "v.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(cfg->n_hidden, 1);
    CU_ASSERT_EQUAL(cfg->hidden[0], 7);
    CU_ASSERT_EQUAL(cfg->hidden[1], 0);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[policy]\nhidden =\n", "v.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(cfg->n_hidden, 0);
    free(cfg);
}

static void test_multiline_values(void)
{
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "";
    const char *text = "[gridworld]\n"
                       "map =\n"
                       "    ###########   ; inline comment\n"
                       "    #....C....#\n"
                       "; a comment between rows\n"
                       "    #.........#\n"
                       "\n"
                       "    #.#######.#\n"
                       "    #S..LLL..G#\n"
                       "    ###########\n"
                       "battery = 20\n"
                       "[stabilisers]\n"
                       "temperatures = 0.5, 0.5,\n"
                       "   1.0, 1.0\n"
                       "   # a comment, not a value\n"
                       "   2.0\n";
    cg_status_t st = cg_config_load_string(cfg, text, "m.ini", err, sizeof err);
    if (st != CG_OK)
        printf("\n%s\n", err);
    CU_ASSERT_EQUAL_FATAL(st, CG_OK);
    const char *rows = "###########\n#....C....#\n#.........#\n#.#######.#\n"
                       "#S..LLL..G#\n###########";
    S_ASSERT_SIM(cfg, "gridworld", "map", rows); /* comments and blank lines dropped */
    S_ASSERT_SIM(cfg, "gridworld", "battery", "20");
    CU_ASSERT_EQUAL(cfg->n_temperatures, 5);
    CU_ASSERT_EQUAL(cfg->temperatures[4], 2.0f);
    cg_config_t *work = malloc(sizeof *work);
    *work = *cfg;
    CU_ASSERT_EQUAL(s_configure(work, err, sizeof err), CG_OK); /* and the gridworld takes it */
    S_ASSERT_SIM(work, "gridworld", "map", rows);
    /* rows separated by '/' on one line: the text as given, rows to the gridworld (3 x 3) */
    CU_ASSERT_EQUAL(
        cg_config_load_string(cfg, "[gridworld]\nmap = ###/#S#/#G#\n", "m.ini", err, sizeof err),
        CG_OK);
    S_ASSERT_SIM(cfg, "gridworld", "map", "###/#S#/#G#");
    *work = *cfg;
    CU_ASSERT_EQUAL(s_configure(work, err, sizeof err), CG_OK);
    cg_sim_kind_t *kind = cg_sim_kind_new(work, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(kind);
    if (kind)
        CU_ASSERT_EQUAL(cg_sim_kind_info(kind)->obs_dim, 3 * 3 + 4);
    cg_sim_kind_destroy(&kind);
    free(work);
    /* a long path continues on indented lines, pieces concatenated */
    char text2[1024], want[512];
    char a[101], b[101];
    memset(a, 'a', 100);
    a[100] = '\0';
    memset(b, 'b', 100);
    b[100] = '\0';
    snprintf(text2, sizeof text2, "[run]\nrun_dir =\n    /x/%s\n    /y/%s\n", a, b);
    snprintf(want, sizeof want, "/x/%s/y/%s", a, b);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, text2, "m.ini", err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->run_dir, want);
    free(cfg);
}

typedef struct {
    const char *text;
    int line;
    const char *key;  /* "[section] key" as the message names it */
    const char *what; /* a fragment of the problem text */
} s_bad_t;

static void s_check_bad(const s_bad_t *c)
{
    cg_config_t *cfg = s_new_defaults();
    cg_config_t *before = malloc(sizeof *before);
    memcpy(before, cfg, sizeof *cfg);
    char err[ERRLEN] = "";
    cg_status_t st = cg_config_load_string(cfg, c->text, "bad.ini", err, sizeof err);
    char where[64];
    snprintf(where, sizeof where, "bad.ini:%d: ", c->line);
    int ok = st == CG_ERR_INVAL && strncmp(err, where, strlen(where)) == 0 && strstr(err, c->key) &&
             strstr(err, c->what) && strstr(err, "hint:") && !strchr(err, '\n');
    if (!ok)
        printf("\nFAILED case: want %s%s ...%s..., got status %d: %s\n", where, c->key, c->what,
               (int)st, err);
    CU_ASSERT_TRUE(ok);
    /* a failed load leaves cfg as it was */
    CU_ASSERT_EQUAL(memcmp(before, cfg, sizeof *cfg), 0);
    free(before);
    free(cfg);
}

static void test_load_errors(void)
{
    static char too_long_id[256], too_long_line[512], nine[512];
    snprintf(too_long_id, sizeof too_long_id, "[run]\nrun_id = %0100d\n", 7);
    snprintf(too_long_line, sizeof too_long_line, "[run]\nrun_dir = /%0300d\n", 7);
    size_t o = (size_t)snprintf(nine, sizeof nine, "[constraints]\n");
    for (int i = 0; i < 9; i++)
        o += (size_t)snprintf(nine + o, sizeof nine - o, "c%d = 0.1\n", i);
    const s_bad_t cases[] = {
        {"[run]\nseed = 1\nbogus = 3\n", 3, "[run] bogus", "unknown key"},
        /* not even a simulator's section: not a lower-case name */
        {"[run]\nseed = 1\n\n[NoSuch]\nx = 1\n", 4, "[NoSuch]", "unknown section"},
        {"[no-such]\n", 1, "[no-such]", "unknown section"},
        {"[Gridworld]\nmap = S.G\n", 1, "[Gridworld]", "unknown section"},
        {"seed = 1\n", 1, "seed", "outside any section"},
        {"[train]\ngroups = abc\n", 2, "[train] groups", "not an integer"},
        {"[train]\ngroups = 12abc\n", 2, "[train] groups", "not an integer"},
        {"[train]\ngroups = 1e3\n", 2, "[train] groups", "not an integer"},
        {"[train]\ngroups = 0x10\n", 2, "[train] groups", "not an integer"},
        {"[train]\ngroups =\n", 2, "[train] groups", "empty value"},
        {"[train]\ngroups = 99999999999\n", 2, "[train] groups", "out of range"},
        {"[train]\ngroups = -5\n", 2, "[train] groups", "out of range"},
        {"[run]\nseed = -1\n", 2, "[run] seed", "not a non-negative integer"},
        {"[run]\nseed = 18446744073709551616\n", 2, "[run] seed", "out of range"},
        {"[policy]\nlr = fast\n", 2, "[policy] lr", "not a number"},
        {"[policy]\nlr = nan\n", 2, "[policy] lr", "not a finite number"},
        {"[policy]\nlr = inf\n", 2, "[policy] lr", "not a finite number"},
        {"[policy]\nlr = 0\n", 2, "[policy] lr", "out of range"},
        {"[policy]\nlr = 1e-50\n", 2, "[policy] lr", "out of range"},
        {"[policy]\nlr = 1e60\n", 2, "[policy] lr", "out of range"},
        {"[train]\nclip = 1\n", 2, "[train] clip", "(0, 1)"},
        {"[train]\ngroup_size = 257\n", 2, "[train] group_size", "from 2 to 256"},
        {"[train]\ngroup_size = 1\n", 2, "[train] group_size", "out of range"},
        {"[policy]\nhidden = 1,2,3,4,5,6,7,8,9\n", 2, "[policy] hidden", "more than 8"},
        {"[policy]\nhidden = 64,0\n", 2, "[policy] hidden", "element 2"},
        {"[train]\nestimator = ppo\n", 2, "[train] estimator", "scalarized_advantages"},
        {"[multipliers]\nkind = lagrange\n", 2, "[multipliers] kind",
         "softmax|projected|pid|fixed"},
        {"[policy]\nactivation = gelu\n", 2, "[policy] activation", "tanh|relu"},
        {"[learner]\ndevice = tpu\n", 2, "[learner] device", "auto|cpu|cuda"},
        {"[sim]\nname = my sim\n", 2, "[sim] name", "' '"},
        {"[run]\ndeterministic = maybe\n", 2, "[run] deterministic", "not a boolean"},
        {too_long_id, 2, "[run] run_id", "longer than 63"},
        {"[run]\nrun_id = a/b\n", 2, "[run] run_id", "'/'"},
        {"[learner]\nbind =\n", 2, "[learner] bind", "empty value"},
        {"[learner]\nport = 70000\n", 2, "[learner] port", "out of range"},
        {"[learner]\nmax_msg_bytes = 100\n", 2, "[learner] max_msg_bytes", "out of range"},
        {"[gridworld]\n = 3\n", 2, "[gridworld]", "invalid key name"},
        {"[run]\nthis line has no equals sign\n", 2, "[run]", "syntax error"},
        {"[run\n", 1, "bad.ini", "syntax error"},
        {"[train]\nepochs = 4\n  5\n", 3, "[train] epochs", "single line"},
        {"[stabilisers]\ntemperatures = 0.1, , 0.3\n", 2, "[stabilisers] temperatures",
         "element 2 is empty"},
        {"[stabilisers]\ntemperatures = 0.1,\n  0.2\n  -1\n", 4, "[stabilisers] temperatures",
         "element 3"},
        {"[constraints]\nla-va = 0.1\n", 2, "[constraints] la-va", "not a constraint name"},
        {"[constraints]\nlava = 1.5\n", 2, "[constraints] lava", "[0, 1]"},
        {"[constraints]\nlava_lambda = 0.5\n", 2, "[constraints] lava_lambda", "no constraint"},
        {"[constraints]\nlava = 0.1\nlava_lambda = -1\n", 3, "[constraints] lava_lambda",
         "out of range"},
        {nine, 10, "[constraints] c8", "more than 8"},
        /* the first error wins, with the line counted across comments and continuations */
        {"; comment\n[gridworld]\nmap =\n  ###\n# note\n  #S#\n\n  #G#\n[train]\ngroups = x\n", 10,
         "[train] groups", "not an integer"},
        {"[run]\nno equals here\n[train]\ngroups = x\n", 2, "[run]", "syntax error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_check_bad(&cases[i]);
    /* no line is too long: a 300-character path loads (the reader has no line buffer) */
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "";
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, too_long_line, "long.ini", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(strlen(cfg->run_dir), 301);
    free(cfg);
}

/* Loads text (the config module stores simulator sections as text, so it loads) and expects
 * cg_sim_configure to refuse it with one line: "bad.ini:LINE: " first (when line > 0), the key,
 * the problem and a hint. */
static void s_check_sim_bad(const s_bad_t *c)
{
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "", where[64] = "";
    cg_status_t st = cg_config_load_string(cfg, c->text, "bad.ini", err, sizeof err);
    if (st != CG_OK)
        printf("\nFAILED case: the load refused it: %s\n", err);
    CU_ASSERT_EQUAL(st, CG_OK);
    if (st == CG_OK) {
        err[0] = '\0';
        st = cg_sim_configure(cfg, err, sizeof err);
        if (c->line > 0)
            snprintf(where, sizeof where, "bad.ini:%d: ", c->line);
        int ok = st == CG_ERR_INVAL && strncmp(err, where, strlen(where)) == 0 &&
                 strstr(err, c->key) && strstr(err, c->what) && strstr(err, "hint:") &&
                 !strchr(err, '\n');
        if (!ok)
            printf("\nFAILED case: want %s%s ...%s..., got status %d: %s\n", where, c->key, c->what,
                   (int)st, err);
        CU_ASSERT_TRUE(ok);
    }
    free(cfg);
}

/* The simulator layer's checks of the simulator sections name the file, line and key (or
 * --set section.key), like the config module's own. */
static void test_sim_errors(void)
{
    const s_bad_t cases[] = {
        {"[gridworld]\nbogus = 3\n", 2, "[gridworld] bogus", "unknown key"},
        {"[gridworld]\nslip = 0.1\n\nbattry = 3\n", 4, "[gridworld] battry",
         "map, battery, reserve, slip"},
        /* a built-in simulator's section is checked when another simulator runs too */
        {"[sim]\nname = null\n[gridworld]\nmap = S.G\nwidth = 3\n", 5, "[gridworld] width",
         "unknown key"},
        {"[null]\nlength = 3\n", 2, "[null] length", "no keys"},
        /* a valid section name that is no simulator's */
        {"[nosuch]\n", 1, "[nosuch]", "unknown section"},
        {"[run]\nseed = 1\n\n[nosuch]\nx = 1\n", 4, "[nosuch]", "unknown section"},
        {"[sim]\nname = null\n\n[mysim]\nspeed = 3\n", 4, "[mysim]", "unknown section"},
        {"[gridworld]\nslip = 1.5\n", 2, "[gridworld] slip", "[0, 1]"},
        {"[gridworld]\nslip = often\n", 2, "[gridworld] slip", "not a finite number"},
        {"[gridworld]\nslip = nan\n", 2, "[gridworld] slip", "not a finite number"},
        {"[gridworld]\nbattery = -1\n", 2, "[gridworld] battery", "out of range"},
        {"[gridworld]\nbattery = 2.5\n", 2, "[gridworld] battery", "not an integer"},
        {"[gridworld]\nbattery =\n", 2, "[gridworld] battery", "not an integer"},
        {"[gridworld]\nbattery = 30\n   31\n", 2, "[gridworld] battery", "single line"},
        {"[sleep]\nstep_us = -5\n", 2, "[sleep] step_us", "out of range"},
        {"[instruct]\nletters = 99\n", 2, "[instruct] letters", "out of range"},
        /* the map's grammar: the gridworld's own checks, at the key's line */
        {"[gridworld]\nmap =\n  #####\n  #SxG#\n  #####\n", 2, "[gridworld] map", "'x'"},
        {"[gridworld]\nmap =\n  #####\n  #SG#\n", 2, "[gridworld] map", "row 1 has 5"},
        {"[gridworld]\nmap =\n  #SS#\n  #GG#\n", 2, "[gridworld] map", "more than one start"},
        {"[gridworld]\nmap = #S.#\n", 2, "[gridworld] map", "no goal"},
        {"[gridworld]\nmap = S#G\n", 2, "[gridworld] map", "cannot be reached"},
        /* the line counted across comments, continuations and other sections */
        {"; c\n[train]\ngroups = 8\n[gridworld]\nmap =\n  ###\n# note\n  #S#\n\n  #G#\nslip = 2\n",
         11, "[gridworld] slip", "out of range"},
        /* [sim] name is the config module's key: the message names it, without a line */
        {"[sim]\nname = atari\n", 0, "[sim] name", "unknown simulator 'atari'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_check_sim_bad(&cases[i]);

    const struct {
        const char *set;
        const char *prefix;
        const char *what;
    } sets[] = {
        {"gridworld.map=#S#/#Q#", "--set gridworld.map: ", "'Q'"},
        {"gridworld.slip=2", "--set gridworld.slip: ", "out of range"},
        {"gridworld.nope=1", "--set gridworld.nope: ", "unknown key"},
        {"sleep.step_us=x", "--set sleep.step_us: ", "not an integer"},
        {"foo.bar=1", "--set foo.", "unknown section"},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        cg_config_t *cfg = s_new_defaults();
        char err[ERRLEN] = "";
        CU_ASSERT_EQUAL(cg_config_set(cfg, sets[i].set, err, sizeof err), CG_OK);
        err[0] = '\0';
        cg_status_t st = cg_sim_configure(cfg, err, sizeof err);
        int ok = st == CG_ERR_INVAL && !strncmp(err, sets[i].prefix, strlen(sets[i].prefix)) &&
                 strstr(err, sets[i].what) && strstr(err, "hint:");
        if (!ok)
            printf("\nFAILED --set %s: got %d: %s\n", sets[i].set, (int)st, err);
        CU_ASSERT_TRUE(ok);
        free(cfg);
    }

    /* an unknown simulator: the built-in ones and the way to bring one's own */
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "";
    snprintf(cfg->sim, sizeof cfg->sim, "atari"); /* set in code: checked all the same */
    CU_ASSERT_EQUAL(cg_sim_configure(cfg, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[sim] name: unknown simulator 'atari'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "gridworld, instruct, navigation, null, sleep"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "plugin"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    free(cfg);
}

/* In a simulator's section a continuation row starting with '#' is text (a row of walls of
 * [gridworld] map); under a key that is not text the simulator layer drops it as a comment. */
static void test_sim_hash_rows(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(cfg,
                                                "[gridworld]\n"
                                                "# a comment: not indented\n"
                                                "map =\n"
                                                "    #####\n"
                                                "    #S.G#\n"
                                                "    #####\n"
                                                "battery = 30\n"
                                                "    # the charge, in steps\n"
                                                "slip = 0.2\n"
                                                "  # a probability\n"
                                                "  ; an INI comment\n",
                                                "h.ini", err, sizeof err),
                          CG_OK);
    S_ASSERT_SIM(cfg, "gridworld", "map", "#####\n#S.G#\n#####");
    S_ASSERT_SIM(cfg, "gridworld", "battery", "30\n# the charge, in steps");
    S_ASSERT_SIM(cfg, "gridworld", "slip", "0.2\n# a probability");
    CU_ASSERT_EQUAL(s_sim_keys(cfg), 3);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    S_ASSERT_SIM(cfg, "gridworld", "map", "#####\n#S.G#\n#####"); /* three rows of the map */
    S_ASSERT_SIM(cfg, "gridworld", "battery", "30");              /* the comments dropped */
    S_ASSERT_SIM(cfg, "gridworld", "slip", "0.2");
    cg_sim_kind_t *kind = cg_sim_kind_new(cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(kind);
    if (kind)
        CU_ASSERT_EQUAL(cg_sim_kind_info(kind)->obs_dim, 3 * 5 + 4);
    cg_sim_kind_destroy(&kind);

    /* a '#' row meant as a note inside the map is map content, so the gridworld refuses it */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(cfg,
                                                "[gridworld]\n"
                                                "map =\n"
                                                "    #####\n"
                                                "    # the room\n"
                                                "    #S.G#\n"
                                                "    #####\n",
                                                "h.ini", err, sizeof err),
                          CG_OK);
    S_ASSERT_SIM(cfg, "gridworld", "map", "#####\n# the room\n#S.G#\n#####");
    CU_ASSERT_EQUAL(cg_sim_configure(cfg, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[gridworld] map"));
    free(cfg);
}

/* The store's limits: more keys than CG_SIM_ENTRIES or more text than CG_SIM_TEXT_LEN is
 * refused with a message (CG_ERR_TOOBIG from the store; a refused load or --set naming the
 * key), never a crash or a corrupt store; replaced values give their room back. */
static void test_sim_store_limits(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();

    /* keys: a file records the header row too, so its (CG_SIM_ENTRIES)th key is one too many */
    size_t cap = 16 * (CG_SIM_ENTRIES + 8), o = 0;
    char *text = calloc(1, cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    o += (size_t)snprintf(text + o, cap - o, "[mysim]\n");
    for (int i = 0; i < CG_SIM_ENTRIES + 4; i++)
        o += (size_t)snprintf(text + o, cap - o, "k%d = %d\n", i, i);
    cg_config_t *before = malloc(sizeof *before);
    *before = *cfg;
    cg_status_t st = cg_config_load_string(cfg, text, "many.ini", err, sizeof err);
    char want[128];
    snprintf(want, sizeof want, "many.ini:%d: [mysim] k%d: ", CG_SIM_ENTRIES + 1,
             CG_SIM_ENTRIES - 1);
    if (st == CG_OK || strncmp(err, want, strlen(want)) || !strstr(err, "hint:"))
        printf("\nwant %s..., got %d: %s\n", want, (int)st, err);
    CU_ASSERT_NOT_EQUAL(st, CG_OK);
    CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    CU_ASSERT_EQUAL(memcmp(before, cfg, sizeof *cfg), 0); /* a refused load changes nothing */
    free(text);

    /* the same through --set (no header rows) and through the store's own call */
    int32_t i = 0;
    for (st = CG_OK; st == CG_OK && i < CG_SIM_ENTRIES + 4; i++) {
        char set[64];
        snprintf(set, sizeof set, "mysim.k%d=%d", i, i);
        st = cg_config_set(cfg, set, err, sizeof err);
    }
    CU_ASSERT_NOT_EQUAL(st, CG_OK);
    CU_ASSERT_EQUAL(i, CG_SIM_ENTRIES + 1);
    CU_ASSERT_EQUAL(cfg->n_sim_entries, CG_SIM_ENTRIES);
    CU_ASSERT_EQUAL(strncmp(err, "--set mysim.k", 13), 0);
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "other", "k", "1", "code", 0, err, sizeof err),
                    CG_ERR_TOOBIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "k3", "33", "code", 0, err, sizeof err),
                    CG_OK); /* replacing a key needs no new entry */
    S_ASSERT_SIM(cfg, "mysim", "k3", "33");
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);

    /* text: one value larger than the whole store */
    cg_config_defaults(cfg);
    size_t big = CG_SIM_TEXT_LEN + 100;
    char *v = malloc(big + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    memset(v, 'x', big);
    v[big] = '\0';
    err[0] = '\0';
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "k", v, "code", 0, err, sizeof err),
                    CG_ERR_TOOBIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "exceed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    CU_ASSERT_EQUAL(cfg->n_sim_entries, 0);
    CU_ASSERT_EQUAL(cfg->sim_text_len, 0);

    /* values of a quarter of the store: a key replaced many times fits (the old values' room
     * is reclaimed); four keys of that size do not, and the store stays usable */
    v[CG_SIM_TEXT_LEN / 4] = '\0';
    for (int k = 0; k < 20; k++) {
        v[0] = (char)('a' + k);
        CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "a", v, "code", 0, err, sizeof err), CG_OK);
    }
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "b", v, "code", 0, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "c", v, "code", 0, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "d", v, "code", 0, err, sizeof err),
                    CG_ERR_TOOBIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "exceed"));
    CU_ASSERT_EQUAL(cfg->n_sim_entries, 3);
    CU_ASSERT_PTR_NULL(cg_config_sim_find(cfg, "mysim", "d"));
    const char *a = s_sim_text(cfg, "mysim", "a");
    CU_ASSERT(a && a[0] == 'a' + 19 && strlen(a) == CG_SIM_TEXT_LEN / 4);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);

    /* a file's long value comes in rows of at most a line each, and is refused the same way */
    cg_config_defaults(cfg);
    size_t rows = CG_SIM_TEXT_LEN / 100 + 10;
    text = calloc(1, rows * 110 + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    o = (size_t)sprintf(text, "[mysim]\nrows =\n");
    for (size_t r = 0; r < rows; r++)
        o += (size_t)sprintf(text + o, "    %0100zu\n", r);
    st = cg_config_load_string(cfg, text, "long.ini", err, sizeof err);
    if (st == CG_OK || strncmp(err, "long.ini:2: [mysim] rows: ", 26))
        printf("\nlong value: got %d: %s\n", (int)st, err);
    CU_ASSERT_NOT_EQUAL(st, CG_OK);
    CU_ASSERT_EQUAL(strncmp(err, "long.ini:2: [mysim] rows: ", 26), 0);
    CU_ASSERT_EQUAL(cfg->n_sim_entries, 0);
    free(text);
    free(v);
    free(before);
    free(cfg);
}

static void test_load_file(void)
{
    char path[PATHLEN];
    s_tmpfile(path);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("; a test config\n[train]\ngroups = 16\n\n[policy]\nlr = -1\n", f);
    fclose(f);
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "", want[4200];
    CU_ASSERT_EQUAL(cg_config_load(cfg, path, err, sizeof err), CG_ERR_INVAL);
    snprintf(want, sizeof want, "%s:6: [policy] lr: ", path);
    CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
    CU_ASSERT_EQUAL(cfg->groups_per_batch, 64); /* unchanged after the error */

    f = fopen(path, "w");
    fputs("[train]\ngroups = 16\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(cg_config_load(cfg, path, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->groups_per_batch, 16);
    unlink(path);

    /* a missing file is an i/o error naming the path and the reason */
    CU_ASSERT_EQUAL(cg_config_load(cfg, path, err, sizeof err), CG_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(ENOENT)));
    free(cfg);
}

static void test_set(void)
{
    cg_config_t *cfg = s_new_defaults();
    char err[ERRLEN] = "";
    CU_ASSERT_EQUAL(cg_config_set(cfg, "train.groups=32", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->groups_per_batch, 32);
    CU_ASSERT_EQUAL(cg_config_set(cfg, " policy.hidden = 128,128,128 ", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_hidden, 3);
    CU_ASSERT_EQUAL(cfg->hidden[2], 128);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "train.estimator=grpo", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->estimator, CG_ADV_GRPO);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "gridworld.map=#####/#S.G#/#####", err, sizeof err), CG_OK);
    S_ASSERT_SIM(cfg, "gridworld", "map", "#####/#S.G#/#####"); /* text, checked later */
    const cg_config_entry_t *e = cg_config_sim_find(cfg, "gridworld", "map");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(cg_config_sim_origin(cfg, e), "--set");
    CU_ASSERT_EQUAL(e->line, 0);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sleep.step_us=100", err, sizeof err), CG_OK);
    S_ASSERT_SIM(cfg, "sleep", "step_us", "100");
    CU_ASSERT_EQUAL(cg_config_set(cfg, "run.run_dir=/tmp/a=b", err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->run_dir, "/tmp/a=b"); /* only the first '=' splits */
    CU_ASSERT_FALSE(cfg->constraints_explicit);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "constraints.lava=0.02", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "constraints.lava_lambda=0.3", err, sizeof err), CG_OK);
    CU_ASSERT_TRUE(cfg->constraints_explicit);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 1);
    CU_ASSERT_EQUAL(cfg->constraints[0].threshold, 0.02f);
    CU_ASSERT_EQUAL(cfg->constraints[0].fixed_lambda, 0.3f);

    const struct {
        const char *set;
        const char *prefix;
        const char *what;
    } bad[] = {
        {"train.groups=abc", "--set train.groups: ", "not an integer"},
        {"train.groups=0", "--set train.groups: ", "out of range"},
        {"policy.lr=nan", "--set policy.lr: ", "not a finite number"},
        {"train.groups", "--set train.groups: ", "expected section.key=value"},
        {"groups=3", "--set groups=3: ", "expected section.key=value"},
        {"Foo.bar=1", "--set Foo.bar: ", "unknown section"},
        {"foo-bar.x=1", "--set foo-bar.x: ", "unknown section"},
        {"train.nope=1", "--set train.nope: ", "unknown key"},
        {"run.run_dir=a ;b", "--set run.run_dir: ", "comment"},
        {"stabilisers.asym_kl=sometimes", "--set stabilisers.asym_kl: ", "not a boolean"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cg_config_t *before = malloc(sizeof *before);
        memcpy(before, cfg, sizeof *cfg);
        err[0] = '\0';
        cg_status_t st = cg_config_set(cfg, bad[i].set, err, sizeof err);
        int ok = st == CG_ERR_INVAL && strncmp(err, bad[i].prefix, strlen(bad[i].prefix)) == 0 &&
                 strstr(err, bad[i].what) && strstr(err, "hint:");
        if (!ok)
            printf("\nFAILED --set %s: got %d: %s\n", bad[i].set, (int)st, err);
        CU_ASSERT_TRUE(ok);
        CU_ASSERT_EQUAL(memcmp(before, cfg, sizeof *cfg), 0);
        free(before);
    }
    free(cfg);
}

/* finish on a copy of defaults changed by `set` (a --set) or by code; expects an error
 * naming `key1` and `key2`. */
static void s_finish_bad(cg_config_t *cfg, const char *key1, const char *key2)
{
    char err[ERRLEN] = "";
    cg_config_t *before = malloc(sizeof *before);
    memcpy(before, cfg, sizeof *cfg);
    cg_status_t st = cg_config_finish(cfg, err, sizeof err);
    int ok = st == CG_ERR_INVAL && strstr(err, key1) && (!key2 || strstr(err, key2)) &&
             strstr(err, "hint:");
    if (!ok)
        printf("\nFAILED finish: want %s / %s, got %d: %s\n", key1, key2 ? key2 : "-", (int)st,
               err);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(memcmp(before, cfg, sizeof *cfg), 0);
    free(before);
}

static void test_finish_checks(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();
    CU_ASSERT_EQUAL(cg_config_set(cfg, "stabilisers.temperatures=0.1,0.4,0.7,1.0", err, sizeof err),
                    CG_OK);
    s_finish_bad(cfg, "[stabilisers] temperatures", "[train] group_size");
    CU_ASSERT_EQUAL(cg_config_set(cfg, "train.group_size=4", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);

    cg_config_defaults(cfg);
    cfg->minibatches = 10;
    cfg->groups_per_batch = 8;
    s_finish_bad(cfg, "[train] minibatches", "[train] groups");

    cg_config_defaults(cfg);
    cfg->heartbeat_timeout_ms = 400;
    s_finish_bad(cfg, "[learner] heartbeat_timeout_ms", "[actor] heartbeat_ms");

    cg_config_defaults(cfg);
    cfg->horizon = 2000;
    s_finish_bad(cfg, "[sim] horizon", "[learner] max_episode_steps");

    /* fields set in code are re-checked against the same ranges */
    cg_config_defaults(cfg);
    snprintf(cfg->sim, sizeof cfg->sim, "a/b");
    s_finish_bad(cfg, "[sim] name", NULL);
    cg_config_defaults(cfg);
    cfg->lr = -1.0f;
    s_finish_bad(cfg, "[policy] lr", NULL);
    cg_config_defaults(cfg);
    cfg->group_size = 1;
    s_finish_bad(cfg, "[train] group_size", NULL);
    cg_config_defaults(cfg);
    cfg->port = 70000;
    s_finish_bad(cfg, "[learner] port", NULL);
    cg_config_defaults(cfg);
    cfg->estimator = (cg_adv_estimator_t)7;
    s_finish_bad(cfg, "[train] estimator", NULL);
    cg_config_defaults(cfg);
    cfg->lr = NAN;
    s_finish_bad(cfg, "[policy] lr", NULL);
    cg_config_defaults(cfg);
    cfg->hidden[1] = 0;
    s_finish_bad(cfg, "[policy] hidden", NULL);
    cg_config_defaults(cfg);
    cfg->n_hidden = CG_MAX_LAYERS + 1;
    s_finish_bad(cfg, "[policy] hidden", NULL);
    cg_config_defaults(cfg);
    cfg->temperatures[0] = -1.0f;
    cfg->n_temperatures = 1;
    s_finish_bad(cfg, "[stabilisers] temperatures", NULL);
    cg_config_defaults(cfg);
    memset(cfg->run_id, 'x', sizeof cfg->run_id); /* no terminating NUL */
    s_finish_bad(cfg, "[run] run_id", NULL);
    cg_config_defaults(cfg);
    snprintf(cfg->token_file, sizeof cfg->token_file, "/tmp/a ;b");
    s_finish_bad(cfg, "[run] token_file", NULL);

    /* projected multipliers: the initial lambda must respect the upper bound (the gridworld's
     * default constraints, added by the simulator layer, included) */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[multipliers]\nkind = projected\nupper = 0.05\n",
                                          "p.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    s_finish_bad(cfg, "[constraints] lava_lambda", "[multipliers] upper");
    free(cfg);
}

/* cg_sim_configure on cfg; expects an error naming key1 and key2. */
static void s_configure_bad(cg_config_t *cfg, const char *key1, const char *key2)
{
    char err[ERRLEN] = "";
    cg_status_t st = cg_sim_configure(cfg, err, sizeof err);
    int ok = st == CG_ERR_INVAL && strstr(err, key1) && (!key2 || strstr(err, key2)) &&
             strstr(err, "hint:");
    if (!ok)
        printf("\nFAILED configure: want %s / %s, got %d: %s\n", key1, key2 ? key2 : "-", (int)st,
               err);
    CU_ASSERT_TRUE(ok);
}

/* Checks across keys that need the simulator: its own (the gridworld's reserve below its
 * battery, instruct's constraint counts and length cap) and its episode cap against
 * [learner] max_episode_steps. */
static void test_sim_cross_checks(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();
    CU_ASSERT_EQUAL(cg_config_set(cfg, "gridworld.battery=10", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "gridworld.reserve=10", err, sizeof err), CG_OK);
    s_configure_bad(cfg, "[gridworld] reserve", "battery");
    cg_config_defaults(cfg); /* the default reserve is 17 */
    CU_ASSERT_EQUAL(cg_config_set(cfg, "gridworld.battery=12", err, sizeof err), CG_OK);
    s_configure_bad(cfg, "[gridworld] reserve", "battery 12");
    CU_ASSERT_EQUAL(cg_config_set(cfg, "gridworld.reserve=5", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);

    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.name=null", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.horizon=600", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "learner.max_episode_steps=512", err, sizeof err), CG_OK);
    s_configure_bad(cfg, "[learner] max_episode_steps", "600");
    CU_ASSERT_EQUAL(cg_config_set(cfg, "learner.max_episode_steps=600", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);

    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.name=instruct", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "instruct.min_constraints=5", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "instruct.max_constraints=2", err, sizeof err), CG_OK);
    s_configure_bad(cfg, "min_constraints", "max_constraints");
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.name=instruct", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.horizon=100", err, sizeof err), CG_OK);
    s_configure_bad(cfg, "[sim] horizon", NULL);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.horizon=12", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    free(cfg);
}

static void test_constraints_defaults(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();

    /* an explicit empty section: no constraints at all */
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[constraints]\n", "c.ini", err, sizeof err), CG_OK);
    CU_ASSERT_TRUE(cfg->constraints_explicit);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);

    /* one given: only that one */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[constraints]\nbattery = 0.2\nbattery = 0.25\n",
                                          "c.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 1);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[0].name, "battery");
    CU_ASSERT_EQUAL(cfg->constraints[0].threshold, 0.25f);
    CU_ASSERT_EQUAL(cfg->constraints[0].fixed_lambda, 0.1f);

    /* one given by --set: only that one */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "constraints.lava=0.05", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 1);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[0].name, "lava");
    CU_ASSERT_EQUAL(cfg->constraints[0].threshold, 0.05f);

    /* another simulator gets its own defaults: none for null */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[sim]\nname = null\n", "c.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);

    /* the gridworld with no section: cg_sim_configure adds lava 0.01 and battery 0.10 */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[train]\ngroups = 8\n", "c.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 2);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[0].name, "lava");
    CU_ASSERT_EQUAL(cfg->constraints[0].threshold, 0.01f);
    CU_ASSERT_EQUAL(cfg->constraints[0].fixed_lambda, 0.1f);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[1].name, "battery");
    CU_ASSERT_EQUAL(cfg->constraints[1].threshold, 0.10f);
    CU_ASSERT_EQUAL(cfg->constraints[1].fixed_lambda, 0.1f);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK); /* once only */
    CU_ASSERT_EQUAL(cfg->n_constraints, 2);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_TRUE(cfg->constraints_explicit); /* settled: a written copy lists them */
    CU_ASSERT_EQUAL(cfg->n_constraints, 2);

    /* the config module knows no simulator's defaults: finish alone adds none */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);
    free(cfg);
}

static void test_roundtrip_defaults(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();
    s_roundtrip(cfg); /* before finish: no [constraints] written, no simulator section */
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(s_sim_keys(cfg), 5);
    s_roundtrip(cfg); /* [gridworld] with its every key */
    cg_config_t *empty = s_new_defaults();
    CU_ASSERT_EQUAL(cg_config_load_string(empty, "[constraints]\n", "e.ini", err, sizeof err),
                    CG_OK);
    s_roundtrip(empty); /* explicitly none stays explicitly none */
    free(empty);
    free(cfg);
}

static void test_roundtrip_everything(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();
    CU_ASSERT_EQUAL_FATAL(cg_config_load_string(cfg, s_ALL, "all.ini", err, sizeof err), CG_OK);
    s_roundtrip(cfg); /* simulator sections as the file gave them */
    CU_ASSERT_EQUAL_FATAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    s_roundtrip(cfg);

    /* the extremes: a long path with spaces, a full temperature schedule, 8 layers,
     * 8 constraints, awkward floats */
    char set[8192];
    char path[900];
    size_t o = 0;
    for (int i = 0; o + 20 < sizeof path; i++)
        o += (size_t)snprintf(path + o, sizeof path - o, "/dir %d#x;y", i);
    snprintf(set, sizeof set, "run.run_dir=%s", path);
    CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->run_dir, path);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "train.group_size=256", err, sizeof err), CG_OK);
    o = (size_t)snprintf(set, sizeof set, "stabilisers.temperatures=");
    for (int i = 0; i < 256; i++)
        o += (size_t)snprintf(set + o, sizeof set - o, "%s%g", i ? "," : "", 0.01 + i / 97.0);
    CU_ASSERT_FATAL(o < sizeof set);
    CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_temperatures, 256);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "policy.hidden=1,2,3,4,5,6,7,65536", err, sizeof err),
                    CG_OK);
    for (int i = 0; i < CG_MAX_COSTS - 2; i++) {
        snprintf(set, sizeof set, "constraints.cost_%d=%g", i, i / 7.0);
        CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    }
    CU_ASSERT_EQUAL(cfg->n_constraints, CG_MAX_COSTS);
    cfg->lr = 0.1f + 1e-9f;
    cfg->mult_init_logit = -3.3333333f;
    cfg->pt_beta = 1.17549435e-38f; /* smallest normal float */
    cfg->kl_neg = 3.4028235e38f;    /* largest float */
    CU_ASSERT_EQUAL(cg_config_set(cfg,
                                  "gridworld.map=###########/#....C....#/#.........#/"
                                  "#.#######.#/#S..LLL..G#/###########",
                                  err, sizeof err),
                    CG_OK);
    /* a plugin and its section, which only the plugin can check: text kept as given, rows
     * and all */
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.plugin=/opt/my sims/libmysim.so", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "mysim.speed=3.5", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "course", "S....#\n..##.#\n....G#", "code", 0,
                                      err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(cg_config_sim_put(cfg, "mysim", "title", "a (small) course: #1", "code", 0, err,
                                      sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    s_roundtrip(cfg);
    free(cfg);
}

/* A simulator value of one line longer than an INI line (a large map given by --set with '/'
 * between rows, as docs/config.md shows) is written so that it loads back: a run's
 * config.ini, and the config an actor gets in its Welcome. */
static void test_roundtrip_long_sim_value(void)
{
    char err[ERRLEN] = "", set[1024];
    cg_config_t *cfg = s_new_defaults();
    size_t o = (size_t)snprintf(set, sizeof set, "gridworld.map=");
    for (int r = 0; r < 12; r++)
        o += (size_t)snprintf(set + o, sizeof set - o, "%s%s", r ? "/" : "",
                              r == 0 || r == 11 ? "####################"
                              : r == 1          ? "#S.................#"
                              : r == 10         ? "#.................G#"
                                                : "#..................#");
    CU_ASSERT_FATAL(o > 200 && o < sizeof set);
    CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    s_roundtrip(cfg);
    free(cfg);
}

/* What cg_config_write could not write faithfully (found by tests/fuzz/fuzz_config): a path
 * or simulator value with a ';' that INI reads as a comment is refused where it comes in; a
 * long path starting with '#', one with a long run of blanks, and a simulator row longer
 * than an INI line are written so that they read back the same. */
static void test_roundtrip_fuzz_found(void)
{
    char err[ERRLEN] = "", set[2048];
    cg_config_t *cfg = s_new_defaults();
    /* "run_dir = ;x" reads back as an empty run_dir */
    CU_ASSERT_EQUAL(cg_config_set(cfg, "run.run_dir=;x", err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "a ';' at the start of a value starts a comment"));
    /* no place to break a long run of ';' into lines: one long line, read back the same */
    int o = snprintf(set, sizeof set, "run.run_dir=/");
    memset(set + o, ';', 300);
    set[o + 300] = '\0';
    CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    s_roundtrip(cfg);
    cg_config_defaults(cfg);
    /* ';' in a simulator value: at the start of a row, or after a blank */
    const char *comments[] = {"gridworld.map=;S.G", "gridworld.map=S.G ;x", "mysim.rows=a\n ;b"};
    for (size_t i = 0; i < sizeof comments / sizeof comments[0]; i++) {
        CU_ASSERT_EQUAL(cg_config_set(cfg, comments[i], err, sizeof err), CG_ERR_INVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "starts a comment in INI"));
    }
    CU_ASSERT_EQUAL(cg_config_set(cfg, "mysim.rows=a;b", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_set(cfg, "sim.plugin=/opt/libmysim.so", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    s_roundtrip(cfg);

    /* a long path starting with '#' (its first piece used to be a comment line) */
    o = snprintf(set, sizeof set, "run.run_dir=#runs");
    for (int i = 0; i < 8; i++)
        o += snprintf(set + o, sizeof set - o, "/a-rather-long-directory-name-%d", i);
    CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    s_roundtrip(cfg);
    /* a long run of blanks: no place to cut within a line's width (used to fail the write) */
    o = snprintf(set, sizeof set, "run.run_dir=/a");
    memset(set + o, ' ', 100);
    snprintf(set + o + 100, sizeof set - (size_t)o - 100, "b/#c;d");
    CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(strlen(cfg->run_dir), 108u);
    s_roundtrip(cfg);
    free(cfg);

    /* a gridworld map of one row of 300 cells: longer than an INI line (it failed to load) */
    cfg = s_new_defaults();
    o = snprintf(set, sizeof set, "gridworld.map=S");
    memset(set + o, '.', 298);
    snprintf(set + o + 298, sizeof set - (size_t)o - 298, "G");
    CU_ASSERT_EQUAL(cg_config_set(cfg, set, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    s_roundtrip(cfg);
    free(cfg);
}

/* Source tree root, from this file's path (CMake compiles it by absolute path). */
static void s_source_path(char *out, size_t n, const char *rel)
{
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/test_config.c");
    snprintf(out, n, "%.*s%s", tail ? (int)(tail - me) : 0, me, rel);
}

static void test_shipped_config(void)
{
    char path[PATHLEN], err[ERRLEN] = "";
    s_source_path(path, sizeof path, "configs/gridworld.ini");
    cg_config_t *cfg = s_new_defaults();
    cg_config_t *ref = s_new_defaults();
    cg_status_t st = cg_config_load(cfg, path, err, sizeof err);
    if (st != CG_OK)
        printf("\n%s\n", err);
    CU_ASSERT_EQUAL_FATAL(st, CG_OK);
    CU_ASSERT_EQUAL(s_configure(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(s_configure(ref, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(ref, err, sizeof err), CG_OK);
    memcpy(ref->run_id, cfg->run_id, sizeof ref->run_id);
    s_assert_equal(cfg, ref); /* the shipped file is exactly the default run */
    free(ref);
    free(cfg);
}

/* Every ```ini block of docs/config.md loads, passes the simulator's checks and finishes. */
static void test_docs_examples(void)
{
    char path[PATHLEN], err[ERRLEN] = "";
    s_source_path(path, sizeof path, "docs/config.md");
    FILE *f = fopen(path, "r");
    if (!f)
        printf("\ncannot open %s\n", path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char doc[1 << 16];
    size_t len = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[len] = '\0';
    int blocks = 0;
    for (char *p = strstr(doc, "```ini\n"); p; p = strstr(p, "```ini\n")) {
        p += 7;
        char *end = strstr(p, "```");
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
        *end = '\0';
        cg_config_t *cfg = s_new_defaults();
        cg_status_t st = cg_config_load_string(cfg, p, "docs/config.md", err, sizeof err);
        if (st == CG_OK)
            st = cg_sim_configure(cfg, err, sizeof err);
        if (st == CG_OK)
            st = cg_config_finish(cfg, err, sizeof err);
        if (st != CG_OK)
            printf("\ndocs example %d: %s\n", blocks + 1, err);
        CU_ASSERT_EQUAL(st, CG_OK);
        free(cfg);
        blocks++;
        p = end + 3;
    }
    CU_ASSERT(blocks >= 2);
}

static void test_estimator_names(void)
{
    cg_adv_estimator_t e = CG_ADV_GRPO;
    CU_ASSERT_EQUAL(cg_config_parse_estimator("scalarized_rewards", &e), CG_OK);
    CU_ASSERT_EQUAL(e, CG_ADV_SCALARIZED_REWARDS);
    CU_ASSERT_EQUAL(cg_config_parse_estimator("scalarized_advantages", &e), CG_OK);
    CU_ASSERT_EQUAL(e, CG_ADV_SCALARIZED_ADVANTAGES);
    CU_ASSERT_EQUAL(cg_config_parse_estimator("grpo", &e), CG_OK);
    CU_ASSERT_EQUAL(e, CG_ADV_GRPO);
    CU_ASSERT_EQUAL(cg_config_parse_estimator("ppo", &e), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(e, CG_ADV_GRPO);
    CU_ASSERT_EQUAL(cg_config_parse_estimator(NULL, &e), CG_ERR_INVAL);
    CU_ASSERT_STRING_EQUAL(cg_config_estimator_name(CG_ADV_GRPO), "grpo");
    CU_ASSERT_STRING_EQUAL(cg_config_estimator_name(CG_ADV_SCALARIZED_REWARDS),
                           "scalarized_rewards");
    CU_ASSERT_STRING_EQUAL(cg_config_estimator_name(CG_ADV_SCALARIZED_ADVANTAGES),
                           "scalarized_advantages");
    CU_ASSERT_STRING_EQUAL(cg_config_estimator_name((cg_adv_estimator_t)9), "unknown");
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"defaults are valid after finish", test_defaults},
        {"an empty config is valid", test_empty_string_is_valid},
        {"every key parses", test_every_key},
        {"syntax variants", test_syntax_variants},
        {"multi-line values", test_multiline_values},
        {"a text key from a file", test_text_key_from_file},
        {"load errors name file, line and key", test_load_errors},
        {"simulator key errors name file, line and key", test_sim_errors},
        {"'#' rows in a simulator section", test_sim_hash_rows},
        {"simulator store limits", test_sim_store_limits},
        {"load from a file", test_load_file},
        {"--set overrides and errors", test_set},
        {"finish cross-field checks", test_finish_checks},
        {"simulator cross-key checks", test_sim_cross_checks},
        {"constraints and simulator defaults", test_constraints_defaults},
        {"write/load round trip: defaults", test_roundtrip_defaults},
        {"write/load round trip: everything changed", test_roundtrip_everything},
        {"write/load round trip: a long one-line simulator value", test_roundtrip_long_sim_value},
        {"write/load round trip: what fuzz_config found", test_roundtrip_fuzz_found},
        {"configs/gridworld.ini is the default run", test_shipped_config},
        {"docs/config.md examples load", test_docs_examples},
        {"estimator names", test_estimator_names},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("config", tests, NULL, NULL);
}
