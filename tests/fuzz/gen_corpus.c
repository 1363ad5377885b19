/* gen_corpus: writes the generated seeds of tests/fuzz/corpus/ with the project's own
 * writers: one message of each kind (cg_msg_encode, run id "fuzz-run") into DIR/msg, and a
 * small checkpoint of every dtype (cg_ckpt_writer_save) into DIR/ckpt, with fuzz_ckpt's
 * flags byte in front (0: loaded as is, 1: CRCs repaired). The other seeds are copies of
 * real files (docs/fuzzing.md says which). Usage: gen_corpus DIR (an existing corpus/). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_ckpt.h"
#include "cg_msg.h"

#define S_RUN_ID "fuzz-run"

static void s_write(const char *dir, const char *name, uint8_t flags, int with_flags,
                    const uint8_t *data, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (with_flags && fwrite(&flags, 1, 1, f) != 1) ||
        (n > 0 && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        exit(1);
    }
}

static void s_msg(const char *dir, const char *name, cg_msg_t *m)
{
    uint8_t *bytes = NULL;
    size_t n = 0;
    snprintf(m->run_id, sizeof m->run_id, "%s", S_RUN_ID);
    if (cg_msg_encode(m, &bytes, &n) != CG_OK) {
        fprintf(stderr, "gen_corpus: cannot encode %s\n", name);
        exit(1);
    }
    s_write(dir, name, 0, 0, bytes, n);
    free(bytes);
}

/* One of each message: shapes of a tiny policy (obs 3, hidden 2, 2 actions, K = 2). */
static void s_messages(const char *dir)
{
    cg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = CG_MSG_HELLO;
    m.u.hello = (cg_msg_hello_t){.actor_id = -1,
                                 .host = "node1",
                                 .pid = 4242,
                                 .sim = "gridworld",
                                 .obs_dim = 3,
                                 .n_actions = 2,
                                 .group_size = 2,
                                 .credits = 1,
                                 .continuous_ok = 1};
    s_msg(dir, "hello", &m);

    float params[14], lambda[3] = {0.4f, 0.3f, 0.3f}, thresholds[2] = {0.01f, 0.1f};
    float temps[2] = {0.7f, 1.3f};
    for (int i = 0; i < 14; i++)
        params[i] = 0.125f * (float)(i - 7);
    char config[] = "[train]\ngroup_size = 2\n[gridworld]\nmap = S.G\n";
    memset(&m, 0, sizeof m);
    m.type = CG_MSG_WELCOME;
    m.u.welcome = (cg_msg_welcome_t){.actor_id = 0,
                                     .seed = 99,
                                     .group_size = 2,
                                     .n_temperatures = 2,
                                     .temperatures = temps,
                                     .obs_dim = 3,
                                     .n_actions = 2,
                                     .n_hidden = 1,
                                     .hidden = {2},
                                     .activation = CG_ACT_TANH,
                                     .version = 5,
                                     .n_params = 14,
                                     .params = params,
                                     .n_lambda = 3,
                                     .lambda = lambda,
                                     .heartbeat_ms = 500,
                                     .data_port = 5556,
                                     .weights_port = 5557,
                                     .config_text = config,
                                     .credits = 1,
                                     .n_costs = 2,
                                     .cost_names = {"lava", "battery"},
                                     .n_constraints = 2,
                                     .constraints = {1, 0},
                                     .max_steps = 64};
    s_msg(dir, "welcome", &m);
    /* a Gaussian head: the MLP's 14 floats, then 2 log-std */
    float gparams[16];
    memcpy(gparams, params, sizeof params);
    gparams[14] = gparams[15] = -0.5f;
    m.u.welcome.head = CG_HEAD_GAUSSIAN;
    m.u.welcome.n_params = 16;
    m.u.welcome.params = gparams;
    s_msg(dir, "welcome_gaussian", &m);

    float obs[3 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, logp[3] = {-0.69f, -0.2f, -1.5f};
    int32_t action[3] = {0, 1, 1};
    cg_msg_episode_t eps[4];
    for (int i = 0; i < 4; i++)
        eps[i] = (cg_msg_episode_t){.reward = (float)(i & 1),
                                    .cost = {(float)(i == 2), 0.0f},
                                    .length = 1 + i % 3,
                                    .temperature = 1.0f,
                                    .obs = obs,
                                    .action = action,
                                    .logp = logp};
    cg_msg_group_t groups[2] = {{.init_seed = 11, .n_checks = 0, .episodes = eps},
                                {.init_seed = 12, .n_checks = 3, .episodes = eps + 2}};
    memset(&m, 0, sizeof m);
    m.type = CG_MSG_GROUPS;
    m.u.groups = (cg_msg_groups_t){.policy_version = 5,
                                   .actor_id = 0,
                                   .seq = 1,
                                   .group_size = 2,
                                   .n_costs = 2,
                                   .obs_dim = 3,
                                   .n_actions = 2,
                                   .n_groups = 2,
                                   .groups = groups};
    s_msg(dir, "groups", &m);

    /* the same groups with continuous actions (2 floats per step, log-densities > 0 too) */
    float action_f[3 * 2] = {0.5f, -1.25f, 3.0f, 0.0f, -0.75f, 2.5f}, logd[3] = {1.2f, -0.4f, 3.9f};
    for (int i = 0; i < 4; i++) {
        eps[i].action = NULL;
        eps[i].action_f = action_f;
        eps[i].logp = logd;
    }
    m.u.groups.continuous = 1;
    s_msg(dir, "groups_continuous", &m);

    memset(&m, 0, sizeof m);
    m.type = CG_MSG_WEIGHTS;
    m.u.weights = (cg_msg_weights_t){.version = 6,
                                     .n_params = 14,
                                     .params = params,
                                     .n_lambda = 3,
                                     .lambda = lambda,
                                     .thresholds = thresholds,
                                     .publish_time = 1.7e9};
    s_msg(dir, "weights", &m);
    memset(&m, 0, sizeof m);
    m.type = CG_MSG_WEIGHTS;
    m.u.weights = (cg_msg_weights_t){.version = 7, .publish_time = 1.7e9, .done = 1};
    s_msg(dir, "weights_done", &m);

    memset(&m, 0, sizeof m);
    m.type = CG_MSG_HEARTBEAT;
    m.u.heartbeat = (cg_msg_heartbeat_t){.actor_id = 0,
                                         .applied_version = 6,
                                         .groups_sent = 9,
                                         .weights_latency_s = 0.002,
                                         .credit = 4};
    s_msg(dir, "heartbeat", &m);

    memset(&m, 0, sizeof m);
    m.type = CG_MSG_REFUSAL;
    snprintf(m.u.refusal.reason, sizeof m.u.refusal.reason, "%s",
             "actor id 0 is held by a live actor");
    m.u.refusal.retry = 1;
    s_msg(dir, "refusal", &m);
}

/* A checkpoint with a section of every dtype, saved, then copied with each flags byte. */
static void s_checkpoint(const char *dir)
{
    char path[1024], err[512];
    float f32[4] = {1.5f, -0.0f, 3e38f, 1e-40f};
    double f64[2] = {0.1, -2.5};
    int64_t i64[2] = {-1, 150};
    uint64_t u64[1] = {0x9e3779b97f4a7c15ull};
    uint8_t bytes[5] = {0, 1, 2, 254, 255};
    cg_ckpt_writer_t *w = cg_ckpt_writer_new();
    if (cg_ckpt_put_f32(w, "params", f32, 4) || cg_ckpt_put_f64(w, "lambda", f64, 2) ||
        cg_ckpt_put_i64(w, "version", i64, 2) || cg_ckpt_put_u64(w, "rng", u64, 1) ||
        cg_ckpt_put_bytes(w, "blob", bytes, 5) ||
        cg_ckpt_put_str(w, "config", "[run]\nseed = 1\n") || cg_ckpt_put_f32(w, "empty", NULL, 0)) {
        fprintf(stderr, "gen_corpus: cannot build the checkpoint\n");
        exit(1);
    }
    snprintf(path, sizeof path, "%s/every_dtype.cgck.tmp", dir);
    if (cg_ckpt_writer_save(w, path, err, sizeof err) != CG_OK) {
        fprintf(stderr, "gen_corpus: %s\n", err);
        exit(1);
    }
    cg_ckpt_writer_destroy(&w);
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (!f || n == 0 || n == sizeof buf) {
        fprintf(stderr, "gen_corpus: cannot read back %s\n", path);
        exit(1);
    }
    fclose(f);
    remove(path);
    s_write(dir, "every_dtype", 0, 1, buf, n);
    s_write(dir, "every_dtype_repair", 1, 1, buf, n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR (tests/fuzz/corpus)\n");
        return 2;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/msg", argv[1]);
    s_messages(dir);
    snprintf(dir, sizeof dir, "%s/ckpt", argv[1]);
    s_checkpoint(dir);
    return 0;
}
