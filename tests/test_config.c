/* test_config: defaults, every key, error messages (status, file, line, key), --set,
 * cross-field checks in finish, [constraints] semantics, and write/load round trips. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_config.h"
#include "cg_test.h"

#define ERRLEN 1024

static cg_config_t *s_new_defaults(void)
{
    cg_config_t *cfg = calloc(1, sizeof *cfg);
    CG_ASSERT(cfg);
    cg_config_defaults(cfg);
    return cfg;
}

/* Field-by-field equality (padding makes memcmp unreliable across copies). */
static void s_assert_equal(const cg_config_t *a, const cg_config_t *b)
{
#define EQ(f) CU_ASSERT_EQUAL(a->f, b->f)
#define EQS(f) CU_ASSERT_STRING_EQUAL(a->f, b->f)
    EQ(seed); EQS(run_id); EQS(run_dir); EQ(iterations); EQ(checkpoint_every);
    EQ(deterministic);
    EQS(sim); EQ(horizon); EQ(sim_sleep_us); EQ(null_length);
    EQS(grid_map); EQ(grid_battery); EQ(grid_reserve); EQ(grid_slip);
    EQ(n_hidden);
    for (int i = 0; i < CG_MAX_LAYERS; i++)
        EQ(hidden[i]);
    EQ(activation); EQ(lr); EQ(adam_beta1); EQ(adam_beta2); EQ(adam_eps); EQ(max_grad_norm);
    EQ(groups_per_batch); EQ(group_size); EQ(epochs); EQ(minibatches); EQ(clip); EQ(kl_coef);
    EQ(ent_coef); EQ(max_policy_lag); EQ(estimator); EQ(adv_eps); EQS(reference);
    EQ(constraints_explicit); EQ(n_constraints);
    for (int i = 0; i < CG_MAX_COSTS && i < a->n_constraints; i++) {
        EQS(constraints[i].name);
        EQ(constraints[i].threshold);
        EQ(constraints[i].fixed_lambda);
    }
    EQ(mult_kind); EQ(mult_lr); EQ(mult_beta1); EQ(mult_beta2); EQ(mult_eps);
    EQ(mult_init_logit); EQ(mult_temperature); EQ(mult_upper); EQ(mult_kp); EQ(mult_ki);
    EQ(mult_kd); EQ(fixed_lambda_reward);
    EQ(n_temperatures);
    for (int i = 0; i < CG_MAX_GROUP; i++)
        EQ(temperatures[i]);
    EQ(dual_anchor); EQ(da_alpha); EQ(prospect); EQ(pt_beta); EQ(pt_lambda_pos);
    EQ(pt_lambda_neg); EQ(asym_kl); EQ(kl_neg); EQ(kl_pos);
    EQ(actors); EQ(instances); EQ(heartbeat_ms);
    EQS(bind_host); EQ(port); EQ(device); EQ(heartbeat_timeout_ms); EQ(hwm);
    EQ(max_msg_bytes); EQ(max_steps_per_episode);
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

/* cfg -> write -> load into fresh defaults -> equal to cfg. */
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
    free(back);
    unlink(path);
}

static void test_defaults(void)
{
    cg_config_t *cfg = s_new_defaults();
    CU_ASSERT_EQUAL(cfg->seed, 1);
    CU_ASSERT_STRING_EQUAL(cfg->run_id, "");
    CU_ASSERT_EQUAL(cfg->iterations, 150);
    CU_ASSERT_EQUAL(cfg->checkpoint_every, 25);
    CU_ASSERT_STRING_EQUAL(cfg->sim, "gridworld");
    CU_ASSERT_EQUAL(cfg->null_length, 32);
    CU_ASSERT_STRING_EQUAL(cfg->grid_map, "");
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
    CU_ASSERT_EQUAL(cfg->max_steps_per_episode, 1024);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);
    CU_ASSERT_FALSE(cfg->constraints_explicit);

    char err[ERRLEN] = "";
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
    /* finish is idempotent: no second pair of constraints, same run id */
    cg_config_t *again = malloc(sizeof *again);
    *again = *cfg;
    CU_ASSERT_EQUAL(cg_config_finish(again, err, sizeof err), CG_OK);
    s_assert_equal(cfg, again);
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
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "; only a comment\n\n# another\n", "c.ini", err,
                                          sizeof err), CG_OK);
    s_assert_equal(cfg, ref);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    free(cfg);
    free(ref);
}

/* Every key set to a non-default value. */
static const char s_ALL[] =
    "[run]\n"
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
    "sleep_us = 250\n"
    "null_length = 64\n"
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
    CU_ASSERT_EQUAL(cfg->sim_sleep_us, 250);
    CU_ASSERT_EQUAL(cfg->null_length, 64);
    CU_ASSERT_STRING_EQUAL(cfg->grid_map, "#####\n#S.G#\n#L.C#\n#####");
    CU_ASSERT_EQUAL(cfg->grid_battery, 30);
    CU_ASSERT_EQUAL(cfg->grid_reserve, 5);
    CU_ASSERT_EQUAL(cfg->grid_slip, 0.05f);
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
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->run_id, "my-run_01"); /* given: not replaced */
    CU_ASSERT_EQUAL(cfg->n_constraints, 2);           /* explicit: no gridworld defaults */
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
    /* canonical spelling is stored for the simulator name */
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[sim]\nname = Sleep\n", "v.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->sim, "sleep");
    /* a later value of the same key wins */
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[train]\nepochs = 2\nepochs = 3\n", "v.ini", err,
                                          sizeof err), CG_OK);
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
    CU_ASSERT_STRING_EQUAL(cfg->grid_map, "###########\n#....C....#\n#.........#\n#.#######.#\n"
                                          "#S..LLL..G#\n###########");
    CU_ASSERT_EQUAL(cfg->grid_battery, 20);
    CU_ASSERT_EQUAL(cfg->n_temperatures, 5);
    CU_ASSERT_EQUAL(cfg->temperatures[4], 2.0f);
    /* rows separated by '/' on one line */
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[gridworld]\nmap = ###/#S#/#G#\n", "m.ini", err,
                                          sizeof err), CG_OK);
    CU_ASSERT_STRING_EQUAL(cfg->grid_map, "###\n#S#\n#G#");
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
    int ok = st == CG_ERR_INVAL && strncmp(err, where, strlen(where)) == 0 &&
             strstr(err, c->key) && strstr(err, c->what) && strstr(err, "hint:") &&
             !strchr(err, '\n');
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
        {"[run]\nseed = 1\n\n[nosuch]\nx = 1\n", 4, "[nosuch]", "unknown section"},
        {"[nosuch]\n", 1, "[nosuch]", "unknown section"},
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
        {"[gridworld]\nslip = 1.5\n", 2, "[gridworld] slip", "[0, 1]"},
        {"[train]\nestimator = ppo\n", 2, "[train] estimator", "scalarized_advantages"},
        {"[multipliers]\nkind = lagrange\n", 2, "[multipliers] kind", "softmax|projected|pid|fixed"},
        {"[policy]\nactivation = gelu\n", 2, "[policy] activation", "tanh|relu"},
        {"[learner]\ndevice = tpu\n", 2, "[learner] device", "auto|cpu|cuda"},
        {"[sim]\nname = atari\n", 2, "[sim] name", "gridworld|instruct|null|sleep"},
        {"[run]\ndeterministic = maybe\n", 2, "[run] deterministic", "not a boolean"},
        {too_long_id, 2, "[run] run_id", "longer than 63"},
        {"[run]\nrun_id = a/b\n", 2, "[run] run_id", "'/'"},
        {"[learner]\nbind =\n", 2, "[learner] bind", "empty value"},
        {"[learner]\nport = 70000\n", 2, "[learner] port", "out of range"},
        {"[learner]\nmax_msg_bytes = 100\n", 2, "[learner] max_msg_bytes", "out of range"},
        {"[gridworld]\nmap =\n  #####\n  #SxG#\n  #####\n", 4, "[gridworld] map", "'x'"},
        {"[gridworld]\nmap =\n  #####\n  #SG#\n", 4, "[gridworld] map", "same length"},
        {"[gridworld]\nmap =\n  #SS#\n  #GG#\n", 2, "[gridworld] map", "2 start cells"},
        {"[gridworld]\nmap = #S.#\n", 2, "[gridworld] map", "no goal"},
        {"[run]\nthis line has no equals sign\n", 2, "[run]", "syntax error"},
        {"[run\n", 1, "bad.ini", "syntax error"},
        {too_long_line, 2, "bad.ini", "longer than"},
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
    CU_ASSERT_STRING_EQUAL(cfg->grid_map, "#####\n#S.G#\n#####");
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
        {"foo.bar=1", "--set foo.bar: ", "unknown section"},
        {"train.nope=1", "--set train.nope: ", "unknown key"},
        {"run.run_dir=a ;b", "--set run.run_dir: ", "comment"},
        {"gridworld.map=#S#/#Q#", "--set gridworld.map: ", "'Q'"},
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
    CU_ASSERT_EQUAL(cg_config_set(cfg, "stabilisers.temperatures=0.1,0.4,0.7,1.0", err,
                                  sizeof err), CG_OK);
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

    cg_config_defaults(cfg);
    cfg->grid_battery = 10;
    cfg->grid_reserve = 10;
    s_finish_bad(cfg, "[gridworld] reserve", "[gridworld] battery");

    /* fields set in code are re-checked against the same ranges */
    cg_config_defaults(cfg);
    snprintf(cfg->sim, sizeof cfg->sim, "atari");
    s_finish_bad(cfg, "[sim] name", "gridworld|instruct|null|sleep");
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

    /* projected multipliers: the initial lambda must respect the upper bound */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[multipliers]\nkind = projected\nupper = 0.05\n",
                                          "p.ini", err, sizeof err), CG_OK);
    s_finish_bad(cfg, "[constraints] lava_lambda", "[multipliers] upper");
    free(cfg);
}

static void test_constraints_defaults(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();

    /* an explicit empty section: no constraints at all */
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[constraints]\n", "c.ini", err, sizeof err), CG_OK);
    CU_ASSERT_TRUE(cfg->constraints_explicit);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);

    /* one given: only that one */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[constraints]\nbattery = 0.2\nbattery = 0.25\n",
                                          "c.ini", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 1);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[0].name, "battery");
    CU_ASSERT_EQUAL(cfg->constraints[0].threshold, 0.25f);
    CU_ASSERT_EQUAL(cfg->constraints[0].fixed_lambda, 0.1f);

    /* another simulator gets no gridworld defaults */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[sim]\nname = null\n", "c.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cfg->n_constraints, 0);

    /* the gridworld with no section: lava 0.01 and battery 0.10 */
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL(cg_config_load_string(cfg, "[train]\ngroups = 8\n", "c.ini", err, sizeof err),
                    CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cfg->n_constraints, 2);
    CU_ASSERT_STRING_EQUAL(cfg->constraints[0].name, "lava");
    CU_ASSERT_STRING_EQUAL(cfg->constraints[1].name, "battery");
    free(cfg);
}

static void test_roundtrip_defaults(void)
{
    char err[ERRLEN] = "";
    cg_config_t *cfg = s_new_defaults();
    s_roundtrip(cfg); /* before finish: no [constraints] written */
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    s_roundtrip(cfg);
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
    CU_ASSERT_EQUAL(cg_config_set(cfg, "gridworld.map=###########/#....C....#/#.........#/"
                                       "#.#######.#/#S..LLL..G#/###########", err, sizeof err),
                    CG_OK);
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
    CU_ASSERT_EQUAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_config_finish(ref, err, sizeof err), CG_OK);
    memcpy(ref->run_id, cfg->run_id, sizeof ref->run_id);
    s_assert_equal(cfg, ref); /* the shipped file is exactly the default run */
    free(ref);
    free(cfg);
}

/* Every ```ini block of docs/config.md loads and finishes. */
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
        {"load errors name file, line and key", test_load_errors},
        {"load from a file", test_load_file},
        {"--set overrides and errors", test_set},
        {"finish cross-field checks", test_finish_checks},
        {"constraints and gridworld defaults", test_constraints_defaults},
        {"write/load round trip: defaults", test_roundtrip_defaults},
        {"write/load round trip: everything changed", test_roundtrip_everything},
        {"configs/gridworld.ini is the default run", test_shipped_config},
        {"docs/config.md examples load", test_docs_examples},
        {"estimator names", test_estimator_names},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("config", tests, NULL, NULL);
}
