/* bench_update (cg_bench_update): learner update throughput of each backend. For every
 * device x hidden width (2 hidden layers) x minibatch size it times learner iterations of
 * U updates (forward + loss + backward + Adam on a random minibatch) plus one parameter
 * download (the broadcast's get_params), and prints samples/s = U * batch / iteration time.
 * For CUDA it also reports the share of an iteration spent in host<->device transfer,
 * measured with CUDA events inside the backend: the minibatch uploads and the download.
 * Not a CTest test: a tool for docs/performance.md. Prints a Markdown table. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cg_alloc.h"
#include "cg_backend.h"
#include "cg_backend_cuda.h"
#include "cg_log.h"
#include "cg_os.h"
#include "cg_rng.h"

#define MAX_LIST 16

typedef struct {
    int32_t hidden[MAX_LIST], n_hidden_sizes;
    int32_t batch[MAX_LIST], n_batches;
    cg_device_t device[2];
    int n_devices;
    int32_t obs_dim, n_actions, updates, threads;
    double seconds;
} opts_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cg_bench_update [options]\n"
            "Learner update throughput (samples/s through forward + loss + backward + Adam) of\n"
            "the CPU and CUDA backends, and the share of an iteration spent in transfer (CUDA).\n\n"
            "  --devices LIST    cpu,cuda (default both)\n"
            "  --hidden LIST     hidden widths, 2 layers each (default 64,256,1024)\n"
            "  --batch LIST      minibatch sizes in steps (default 1024,8192,32768)\n"
            "  --updates U       updates per iteration, then one weight download (default 16:\n"
            "                    the default 4 epochs x 4 minibatches)\n"
            "  --seconds S       time per configuration, at least one iteration (default 2)\n"
            "  --obs D           observation size (default 32)\n"
            "  --threads T       CPU backend threads, rows split over them (default 1)\n"
            "  --actions A       number of actions (default 8)\n"
            "  -h, --help        this help\n");
}

static int s_parse_list(const char *arg, int32_t *out, int32_t *n)
{
    char *copy = cg_strdup(arg), *save = NULL;
    *n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end || v < 1 || v > (1 << 24) || *n == MAX_LIST) {
            free(copy);
            return -1;
        }
        out[(*n)++] = (int32_t)v;
    }
    free(copy);
    return *n > 0 ? 0 : -1;
}

static int s_parse(int argc, char **argv, opts_t *o)
{
    static const struct option longs[] = {
        {"devices", required_argument, NULL, 'd'}, {"hidden", required_argument, NULL, 'H'},
        {"batch", required_argument, NULL, 'b'},   {"updates", required_argument, NULL, 'u'},
        {"threads", required_argument, NULL, 't'}, {"seconds", required_argument, NULL, 's'},
        {"obs", required_argument, NULL, 'o'},     {"actions", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    *o = (opts_t){.hidden = {64, 256, 1024},
                  .n_hidden_sizes = 3,
                  .batch = {1024, 8192, 32768},
                  .n_batches = 3,
                  .device = {CG_DEVICE_CPU, CG_DEVICE_CUDA},
                  .n_devices = 2,
                  .obs_dim = 32,
                  .threads = 1,
                  .n_actions = 8,
                  .updates = 16,
                  .seconds = 2.0};
    int c;
    int32_t one[MAX_LIST], n_one;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->n_devices = 0;
            for (char *p = optarg; *p;) {
                size_t len = strcspn(p, ",");
                if (len == 3 && strncmp(p, "cpu", 3) == 0 && o->n_devices < 2)
                    o->device[o->n_devices++] = CG_DEVICE_CPU;
                else if (len == 4 && strncmp(p, "cuda", 4) == 0 && o->n_devices < 2)
                    o->device[o->n_devices++] = CG_DEVICE_CUDA;
                else
                    return -1;
                p += len + (p[len] == ',');
            }
            if (o->n_devices == 0)
                return -1;
            break;
        case 'H':
            if (s_parse_list(optarg, o->hidden, &o->n_hidden_sizes))
                return -1;
            break;
        case 'b':
            if (s_parse_list(optarg, o->batch, &o->n_batches))
                return -1;
            break;
        case 't':
            o->threads = atoi(optarg);
            if (o->threads < 1 || o->threads > 64)
                return -1;
            break;
        case 'u':
        case 'o':
        case 'a':
            if (s_parse_list(optarg, one, &n_one) || n_one != 1)
                return -1;
            *(c == 'u' ? &o->updates : c == 'o' ? &o->obs_dim : &o->n_actions) = one[0];
            break;
        case 's':
            o->seconds = atof(optarg);
            if (!(o->seconds > 0))
                return -1;
            break;
        case 'h': s_usage(stdout); exit(0);
        default: return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

/* A random minibatch of n steps (episodes of 8 steps), the storage behind mb. */
typedef struct {
    float *obs, *logp_old, *adv, *weight;
    int32_t *action;
    cg_minibatch_t mb;
} batch_t;

static void s_batch_init(batch_t *b, int32_t n, int32_t obs_dim, int32_t n_actions)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 42, (uint64_t)n);
    b->obs = cg_calloc((size_t)n * (size_t)obs_dim, sizeof(float));
    b->logp_old = cg_calloc((size_t)n, sizeof(float));
    b->adv = cg_calloc((size_t)n, sizeof(float));
    b->weight = cg_calloc((size_t)n, sizeof(float));
    b->action = cg_calloc((size_t)n, sizeof(int32_t));
    const int32_t n_ep = (n + 7) / 8;
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < obs_dim; j++)
            b->obs[(size_t)i * obs_dim + j] = (float)cg_rng_normal(&rng);
        b->action[i] = (int32_t)cg_rng_below(&rng, (uint64_t)n_actions);
        b->logp_old[i] = (float)(-log((double)n_actions) + 0.1 * cg_rng_normal(&rng));
        b->adv[i] = (float)cg_rng_normal(&rng);
        b->weight[i] = 1.0f / (8.0f * (float)n_ep);
    }
    b->mb = (cg_minibatch_t){.n = n,
                             .obs = b->obs,
                             .action = b->action,
                             .logp_old = b->logp_old,
                             .adv = b->adv,
                             .weight = b->weight};
}

static void s_batch_free(batch_t *b)
{
    free(b->obs);
    free(b->logp_old);
    free(b->adv);
    free(b->weight);
    free(b->action);
}

/* One row of the table: runs iterations for o->seconds (at least one, after a warm-up
 * update) on a fresh backend. why gets the reason a device is missing. */
static int s_row(const opts_t *o, cg_device_t device, int32_t hidden, int32_t n, char *why,
                 size_t whylen)
{
    const char *dev = device == CG_DEVICE_CUDA ? "cuda" : "cpu";
    cg_policy_shape_t shape = {
        .obs_dim = o->obs_dim, .n_actions = o->n_actions, .n_hidden = 2, .activation = CG_ACT_TANH};
    shape.hidden[0] = shape.hidden[1] = hidden;
    cg_adam_config_t adam = {
        .lr = 3e-4f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-5f, .max_grad_norm = 0.5f};
    cg_loss_config_t loss = {.clip_eps = 0.2f};
    char err[512];
    cg_backend_t *be = cg_backend_new(device, &shape, &adam, 1, err, sizeof(err));
    if (be && cg_backend_set_threads(be, o->threads, err, sizeof err) != CG_OK)
        cg_backend_destroy(&be);
    if (!be) {
        printf("| %-4s | %6d | %6d | no device | | | | | |\n", dev, (int)hidden, (int)n);
        fflush(stdout);
        snprintf(why, whylen, "%s: %s", dev, err);
        return device == CG_DEVICE_CUDA ? 0 : -1;
    }
    batch_t b;
    s_batch_init(&b, n, o->obs_dim, o->n_actions);
    float *params = cg_calloc(cg_backend_n_params(be), sizeof(float));
    /* Warm-up, not timed: workspaces grow, cuBLAS loads its kernels. */
    int rc = cg_backend_update(be, &b.mb, &loss, NULL);
    if (rc == 0)
        rc = cg_backend_get_params(be, params);
    cg_backend_cuda_transfer_t x;
    (void)cg_backend_cuda_transfer(be, &x, 1); /* zero the counters (CUDA only) */
    int64_t iters = 0;
    double elapsed = 0;
    const double t0 = cg_os_now();
    while (rc == 0) {
        for (int32_t u = 0; u < o->updates && rc == 0; u++)
            rc = cg_backend_update(be, &b.mb, &loss, NULL);
        if (rc == 0)
            rc = cg_backend_get_params(be, params);
        iters++;
        elapsed = cg_os_now() - t0;
        if (elapsed >= o->seconds)
            break;
    }
    if (rc != 0) {
        printf("| %-4s | %6d | %6d | error: %s |\n", dev, (int)hidden, (int)n,
               cg_status_str((cg_status_t)rc));
    } else {
        const double iter_ms = 1e3 * elapsed / (double)iters;
        const double samples = (double)n * o->updates * (double)iters / elapsed;
        char xfer[128] = "| - | - | - ";
        if (cg_backend_cuda_transfer(be, &x, 0) == CG_OK && x.n_uploads && x.n_downloads) {
            double up = x.upload_ms / (double)x.n_uploads;
            double down = x.download_ms / (double)x.n_downloads;
            snprintf(xfer, sizeof(xfer), "| %.3f | %.3f | %.1f%% ", up, down,
                     100.0 * (up * o->updates + down) / iter_ms);
        }
        printf("| %-4s | %6d | %6d | %9zu | %10.2f | %12.0f %s|\n", dev, (int)hidden, (int)n,
               cg_backend_n_params(be), iter_ms / o->updates, samples, xfer);
    }
    fflush(stdout);
    free(params);
    s_batch_free(&b);
    cg_backend_destroy(&be);
    return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    if (!getenv("CG_LOG_LEVEL"))
        cg_log_set_level(CG_LOG_WARN); /* the CPU fallback notes are not results */
    printf("obs %d, actions %d, 2 tanh hidden layers, %d updates + 1 weight download per "
           "iteration\n\n",
           (int)o.obs_dim, (int)o.n_actions, (int)o.updates);
    printf("| dev  | hidden |  batch |    params |  ms/update |    samples/s "
           "| upload ms/update | download ms | transfer share |\n");
    printf("|------|-------:|-------:|----------:|-----------:|-------------:"
           "|-----------------:|------------:|---------------:|\n");
    int failed = 0;
    char why[600] = "";
    for (int d = 0; d < o.n_devices; d++)
        for (int h = 0; h < o.n_hidden_sizes; h++)
            for (int k = 0; k < o.n_batches; k++)
                failed |= s_row(&o, o.device[d], o.hidden[h], o.batch[k], why, sizeof(why)) != 0;
    if (why[0])
        printf("\n%s\n", why);
    return failed ? 1 : 0;
}
