/* cmd_scaling: `cgrpo scaling --actors 1,2,4,... --sim null|gridworld|sleep:US`, the actor-
 * scaling study. For each actor count: a training (learner in this process, N local actor
 * processes) run until K updates are measured in its steady state (from the first update
 * that finds every actor alive) or a time limit, a watcher thread showing its progress:
 * env-steps/s, groups/s ingested, learner busy fraction (time in updates / wall), weight-broadcast
 * latency p50/p99 (publish
 * -> an actor applies it, reported in heartbeats), policy lag, stale groups dropped, rejected
 * messages; then a raw ZeroMQ PUSH/PULL baseline with that run's mean message size, and
 * ingest as a fraction of it. A table on stdout, scaling.csv, scaling.gp and scaling.png
 * (gnuplot) in the bench directory. docs/performance.md. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_learner.h"
#include "cg_log.h"
#include "cg_metrics.h"
#include "cg_os.h"
#include "cg_transport.h"

#define S_MAX_COUNTS 32
#define S_MAX_PUSHERS 8
#define S_HEARTBEAT_SET "actor.heartbeat_ms=100" /* more latency samples; a --set overrides */

typedef struct {
    int actors;
    int ok;
    char why[160]; /* !ok: what went wrong, for the table */
    int window;    /* updates in the measured steady state */
    double steps_per_s, groups_per_s, trained_per_s, busy, lat_p50_ms, lat_p99_ms, lag;
    int64_t dropped, rejected, latency_samples;
    double msg_bytes, groups_per_msg;
    double dropped_per_s, span_s; /* stale groups dropped per second; the measured window */
    double raw_msgs_per_s, raw_groups_per_s, ingest_frac;
} s_row_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: cgrpo scaling --actors LIST --sim SIM [options]\n"
            "(also as cgrpo bench --actors LIST --sim SIM)\n"
            "The actor-scaling study: for each actor count a short training on this machine,\n"
            "measured over its steady state (one progress line per count), then a raw ZeroMQ "
            "PUSH/PULL\n"
            "baseline with the same message size. Table on stdout; scaling.csv and scaling.png\n"
            "(gnuplot) in the bench directory.\n\n"
            "  --actors LIST       actor counts, e.g. 1,2,4,8,16,32,64\n"
            "  --sim SIM           null | gridworld | sleep:MICROSECONDS (the sleep simulator\n"
            "                      stands in for an expensive one: many actors fit on few cores)\n"
            "  --updates K         policy updates measured per count (default 3): each count\n"
            "                      runs until K updates after its steady state begins (the first\n"
            "                      update that finds every actor alive), or --duration\n"
            "  --duration D        at most this many seconds per count (default 300); a count\n"
            "                      that measured no update by then says so in the table\n"
            "  --warmup W          the steady state begins no earlier than W s (default 0)\n"
            "  --launch CMD        start each count's actors as `CMD -n N cgrpo actor --connect\n"
            "                      HOST:PORT` (one process; e.g. 'mpirun --hostfile hosts' to\n"
            "                      spread them over nodes, or 'srun' in a Slurm allocation;\n"
            "                      with remote nodes also --set learner.bind=0.0.0.0); default:\n"
            "                      local processes\n"
            "  --flood             the learner's ingest instead of the actors' rollouts: each\n"
            "                      actor rolls out one batch, then sends it again and again as\n"
            "                      fast as the learner takes it (with cheap, rare updates,\n"
            "                      e.g. --set policy.hidden=8 --set train.max_policy_lag=1);\n"
            "                      ingest/raw then counts the stale groups too\n"
            "  --seconds S         duration of each raw PUSH/PULL baseline (default 2)\n"
            "  --config FILE       base config; --set SEC.KEY=VALUE repeatable (applied after\n"
            "                      actor.heartbeat_ms=100, before the study's own keys)\n"
            "  --out DIR           results directory (default bench/<time>)\n"
            "  -h, --help          this help\n");
}

/* ---- the metrics of one run ----------------------------------------------------------- */

#define S_N_COLS 7
typedef struct {
    int n_rows;
    double *col[S_N_COLS]; /* (n_rows) each, in the order of s_COLS */
} s_series_t;
static const char *const s_COLS[S_N_COLS] = {"wall_s",          "env_steps",       "update_s",
                                             "groups_ingested", "policy_lag_mean", "actors_alive",
                                             "dropped_stale"};
enum { S_WALL, S_STEPS, S_UPDATE, S_INGESTED, S_LAG, S_ALIVE, S_DROPPED };

static void s_series_free(s_series_t *s)
{
    for (int k = 0; k < S_N_COLS; k++)
        free(s->col[k]);
    memset(s, 0, sizeof *s);
}

/* Reads the columns the study needs from dir/metrics.csv (the learner's reader). 0 on
 * success; -1 when the file or one of the columns is missing. */
static int s_series_load(const char *dir, s_series_t *s)
{
    memset(s, 0, sizeof *s);
    cg_metrics_table_t t = {0};
    char err[CG_PATH_LEN + 128];
    int rc = cg_metrics_load(dir, &t, err, sizeof err) == CG_OK ? 0 : -1;
    for (int k = 0; k < S_N_COLS && rc == 0; k++)
        rc = cg_metrics_col(&t, s_COLS[k]) >= 0 ? 0 : -1;
    if (rc == 0) {
        s->n_rows = t.n_rows;
        for (int k = 0; k < S_N_COLS; k++) {
            s->col[k] = cg_calloc((size_t)(t.n_rows > 0 ? t.n_rows : 1), sizeof(double));
            for (int r = 0; r < t.n_rows; r++)
                s->col[k][r] = cg_metrics_get(&t, r, s_COLS[k]);
        }
    }
    cg_metrics_table_free(&t);
    return rc;
}

/* ---- one actor count ------------------------------------------------------------------ */

/* The steady state of a run: from the first update that finds all n actors alive, at least
 * warmup seconds in, to the last. Its first row, or -1 before there is one. */
static int s_steady_start(const s_series_t *s, int n_actors, double warmup)
{
    for (int r = 0; r < s->n_rows; r++)
        if (s->col[S_ALIVE][r] >= n_actors && s->col[S_WALL][r] >= warmup)
            return r;
    return -1;
}

/* The watcher of one count's run (its own thread): every 250 ms it reads the run's metrics,
 * shows the count's progress line, and stops the learner once `updates` updates are measured
 * or `duration` seconds have passed. */
typedef struct {
    const char *dir;
    int n_actors, updates;
    double duration, warmup, t0;
    int measured, rows; /* as last seen */
    int done;           /* (atomic) the run is over: the watcher ends */
    int stopped;        /* (atomic) the watcher stopped it (not the user) */
    int tty;
} s_watch_t;

static void s_progress(const s_watch_t *w, const char *end)
{
    fprintf(stderr, "%s  %d actor%s: %.0f s, %d update%s, %d of %d measured%s", w->tty ? "\r" : "",
            w->n_actors, w->n_actors == 1 ? "" : "s", cg_os_now() - w->t0, w->rows,
            w->rows == 1 ? "" : "s", w->measured, w->updates, end);
    fflush(stderr);
}

static void *s_watch_main(void *arg)
{
    s_watch_t *w = arg;
    double shown = cg_os_now();
    while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        s_series_t s = {0};
        if (s_series_load(w->dir, &s) == 0) {
            const int r0 = s_steady_start(&s, w->n_actors, w->warmup);
            w->rows = s.n_rows;
            w->measured = r0 < 0 ? 0 : s.n_rows - 1 - r0;
        }
        s_series_free(&s);
        const double now = cg_os_now();
        if (w->tty || now - shown >= 30) { /* in place on a terminal, else every 30 s */
            s_progress(w, w->tty ? "" : "\n");
            shown = now;
        }
        if (w->measured >= w->updates || now - w->t0 >= w->duration) {
            __atomic_store_n(&w->stopped, 1, __ATOMIC_RELEASE);
            cg_cmd_stop = 1;
            break;
        }
    }
    return NULL;
}

/* The study's settings, and what its counts share. */
typedef struct {
    cg_cmd_config_opts_t copts; /* --config and --set, heartbeat first */
    const char *sim;            /* --sim as given */
    char sim_name[CG_NAME_LEN], set_sim[96], set_sleep[64];
    double duration, warmup, seconds;
    int updates;
    const char *launch; /* --launch: a launcher command for the actors, or NULL */
    int flood;          /* --flood: actors that resend one batch (the ingest benchmark) */
    long ncpu;
    char dir[CG_PATH_LEN];
    char title[256]; /* the plot's, from the first count's config */
    int header;      /* the table's header is printed */
} s_study_t;

/* The actors of one count through a launcher (--launch "mpirun --hostfile h"): one process,
 * `LAUNCH -n N <this cgrpo> actor --connect HOST:PORT`, its output in dir/actors.log; it
 * ends with the study. The PID, or -1. */
static pid_t s_spawn_launcher(const cg_config_t *cfg, const s_study_t *st, int n_actors,
                              const char *endpoint, const char *dir)
{
    char self_exe[4096], count[32], log[CG_PATH_LEN + 160];
    if (cg_cmd_self_exe(self_exe, sizeof self_exe, 1))
        return -1;
    snprintf(count, sizeof count, "%d", n_actors);
    snprintf(log, sizeof log, "%s/actors.log", dir);
    char *words = cg_strdup(st->launch), *argv[80];
    int n = 0;
    for (char *save = NULL, *w = strtok_r(words, " \t", &save); w && n < 64;
         w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    argv[n++] = (char *)"-n";
    argv[n++] = count;
    argv[n++] = self_exe;
    argv[n++] = (char *)"actor";
    argv[n++] = (char *)"--connect";
    argv[n++] = (char *)endpoint;
    if (st->flood)
        argv[n++] = (char *)"--flood";
    /* off loopback the learner is a CURVE server with a run token: the actors get the same
     * files (paths every node can read, e.g. on the shared file system) */
    char key_set[CG_PATH_LEN + 32], token_set[CG_PATH_LEN + 32];
    if (cfg->curve_public_key[0]) {
        snprintf(key_set, sizeof key_set, "learner.curve_public_key=%s", cfg->curve_public_key);
        argv[n++] = (char *)"--set";
        argv[n++] = key_set;
    }
    if (cfg->token_file[0]) {
        snprintf(token_set, sizeof token_set, "run.token_file=%s", cfg->token_file);
        argv[n++] = (char *)"--set";
        argv[n++] = token_set;
    }
    argv[n] = NULL;
    pid_t pid = cg_cmd_spawn(argv, log);
    free(words);
    return pid;
}

static int s_measure(const s_study_t *st, const cg_config_t *cfg, const char *dir, int n_actors,
                     s_row_t *row)
{
    const char *launch = st->launch;
    const int updates = st->updates;
    const double duration = st->duration, warmup = st->warmup;
    char err[1024] = "";
    cg_env_spec_t env;
    if (cg_cmd_env(cfg, &env)) {
        snprintf(row->why, sizeof row->why, "the simulator's settings are refused (see above)");
        return -1;
    }
    char run_token[CG_NAME_LEN], server_key[CG_CURVE_KEY_LEN + 1];
    if (cg_cmd_secrets(cfg, "", run_token, sizeof run_token, server_key)) {
        snprintf(row->why, sizeof row->why, "the run token or CURVE key cannot be read (above)");
        return -1;
    }
    cg_learner_opts_t lopts = {cfg, &env, dir, 0, run_token, 0};
    cg_learner_t *learner = cg_learner_new(&lopts, err, sizeof err);
    if (!learner) {
        snprintf(row->why, sizeof row->why, "no learner: %.140s", err);
        return -1;
    }
    int port = cg_learner_port(learner);
    pid_t *pids = cg_calloc((size_t)n_actors, sizeof *pids);
    int started = 0, wanted = n_actors;
    if (launch) { /* one launcher process starts them all, wherever it places them */
        char path[CG_PATH_LEN + 160];
        snprintf(path, sizeof path, "%s/endpoint", dir);
        char *endpoint = cg_os_read_file(path, NULL);
        if (endpoint)
            endpoint[strcspn(endpoint, "\r\n")] = '\0';
        wanted = 1;
        pids[0] = endpoint ? s_spawn_launcher(cfg, st, n_actors, endpoint, dir) : -1;
        started = pids[0] > 0;
        free(endpoint);
    }
    for (; !launch && started < n_actors; started++) {
        char log[CG_PATH_LEN + 128];
        snprintf(log, sizeof log, "%s/actor-%d.log", dir, started);
        pids[started] = cg_cmd_spawn_actor("127.0.0.1", port, started, "", NULL, log, st->flood);
        if (pids[started] < 0)
            break;
    }
    cg_status_t rc = CG_ERR_IO;
    s_watch_t w = {.dir = dir,
                   .n_actors = n_actors,
                   .updates = updates,
                   .duration = duration,
                   .warmup = warmup,
                   .t0 = cg_os_now(),
                   .tty = isatty(STDERR_FILENO)};
    pthread_t watcher;
    if (started == wanted && pthread_create(&watcher, NULL, s_watch_main, &w) == 0) {
        rc = cg_learner_run(learner, &cg_cmd_stop);
        __atomic_store_n(&w.done, 1, __ATOMIC_RELEASE);
        pthread_join(watcher, NULL);
        if (__atomic_load_n(&w.stopped, __ATOMIC_ACQUIRE) && rc == CG_ERR_INTERRUPTED) {
            rc = CG_OK; /* the watcher's stop, not the user's */
            cg_cmd_stop = 0;
        }
        s_progress(&w, "\n");
    }
    cg_learner_counters_t c;
    cg_learner_counters(learner, &c);
    cg_cmd_stop_children(pids, started, 3000);
    cg_learner_destroy(&learner);
    free(pids);
    if (rc != CG_OK) {
        snprintf(row->why, sizeof row->why, "the run stopped: %s", cg_status_str(rc));
        return -1;
    }

    s_series_t s = {0};
    const int loaded = s_series_load(dir, &s) == 0;
    const int r0 = loaded ? s_steady_start(&s, n_actors, warmup) : -1, r1 = s.n_rows - 1;
    if (r0 < 0 || r1 - r0 < 1) {
        snprintf(row->why, sizeof row->why,
                 "%d update%s in %.0f s, %d with all actors alive: too few (hint: a longer "
                 "--duration or a smaller train.groups)",
                 loaded ? s.n_rows : 0, loaded && s.n_rows == 1 ? "" : "s", duration,
                 r0 < 0 ? 0 : s.n_rows - r0);
        s_series_free(&s);
        return -1;
    }
    row->window = r1 - r0;
    double span = s.col[S_WALL][r1] - s.col[S_WALL][r0], busy = 0, lag = 0;
    for (int r = r0 + 1; r <= r1; r++) {
        busy += s.col[S_UPDATE][r];
        lag += s.col[S_LAG][r];
    }
    row->steps_per_s = (s.col[S_STEPS][r1] - s.col[S_STEPS][r0]) / span;
    row->groups_per_s = (s.col[S_INGESTED][r1] - s.col[S_INGESTED][r0]) / span;
    row->trained_per_s = (double)cfg->groups_per_batch * (r1 - r0) / span;
    row->busy = busy / span;
    row->lag = lag / (r1 - r0);
    row->dropped_per_s = (s.col[S_DROPPED][r1] - s.col[S_DROPPED][r0]) / span;
    row->span_s = span;
    s_series_free(&s);
    row->lat_p50_ms = c.latency_p50_s >= 0 ? 1e3 * c.latency_p50_s : NAN;
    row->lat_p99_ms = c.latency_p99_s >= 0 ? 1e3 * c.latency_p99_s : NAN;
    row->latency_samples = c.latency_samples;
    row->dropped = c.dropped_stale;
    row->rejected = c.rejected_msgs;
    row->msg_bytes = c.data_msgs ? (double)c.data_bytes / (double)c.data_msgs : 0;
    row->groups_per_msg = c.data_msgs ? (double)c.data_groups / (double)c.data_msgs : 1;
    if (row->groups_per_msg <= 0)
        row->groups_per_msg = 1;
    return span > 0 ? 0 : -1;
}

/* ---- the raw ZeroMQ baseline ---------------------------------------------------------- */

typedef struct {
    int port;
    size_t bytes;
    int32_t hwm;
    double until; /* monotonic deadline */
    pthread_t th;
    int started;
} s_pusher_t;

/* One pusher thread: its own context and PUSH socket, the same bytes again and again. */
static void *s_pusher_main(void *arg)
{
    s_pusher_t *p = arg;
    cg_transport_t *tp = cg_transport_new();
    cg_socket_opts_t o = {p->hwm, 0};
    cg_socket_t *push = tp ? cg_transport_socket(tp, CG_SOCK_PUSH, &o) : NULL;
    uint8_t *buf = cg_calloc(p->bytes ? p->bytes : 1, 1);
    for (size_t i = 0; i < p->bytes; i++)
        buf[i] = (uint8_t)(i * 131u + 7u);
    if (push && cg_transport_connect(push, "127.0.0.1", p->port) == CG_OK) {
        while (cg_os_now() < p->until) {
            if (cg_transport_send_raw(push, NULL, 0, buf, p->bytes) == CG_ERR_TIMEOUT)
                cg_transport_wait_writable(push, 50);
        }
    }
    free(buf);
    cg_transport_close(&push);
    cg_transport_destroy(&tp);
    return NULL;
}

/* Messages/s one PULL receives (undecoded) from n_pushers threads pushing bytes-sized
 * messages for `seconds`; -1 on failure. */
static double s_raw_rate(size_t bytes, int n_pushers, double seconds, int32_t hwm)
{
    cg_transport_t *tp = cg_transport_new();
    cg_socket_opts_t o = {hwm, 0};
    cg_socket_t *pull = tp ? cg_transport_socket(tp, CG_SOCK_PULL, &o) : NULL;
    int port = 0;
    double rate = -1;
    s_pusher_t pushers[S_MAX_PUSHERS];
    memset(pushers, 0, sizeof pushers);
    if (!pull || cg_transport_bind(pull, "127.0.0.1", 0, &port) != CG_OK)
        goto done;
    double t_start = cg_os_now(), until = t_start + seconds + 0.5;
    for (int i = 0; i < n_pushers; i++) {
        pushers[i] = (s_pusher_t){.port = port, .bytes = bytes, .hwm = hwm, .until = until};
        pushers[i].started = pthread_create(&pushers[i].th, NULL, s_pusher_main, &pushers[i]) == 0;
    }
    /* Count from the first message on (connections take a moment), for `seconds`. */
    int64_t n = 0;
    double t0 = 0, t_end = t_start + seconds + 0.5;
    while (cg_os_now() < t_end) {
        int ready = 0;
        if (cg_transport_poll(&pull, 1, 50, &ready) != CG_OK)
            continue;
        while (cg_transport_recv_discard(pull, NULL) == CG_OK) {
            if (n++ == 0) {
                t0 = cg_os_now();
                t_end = t0 + seconds < until ? t0 + seconds : until;
            }
        }
    }
    if (n > 1)
        rate = (double)(n - 1) / (cg_os_now() - t0);
done:
    for (int i = 0; i < n_pushers; i++)
        if (pushers[i].started)
            pthread_join(pushers[i].th, NULL);
    cg_transport_close(&pull);
    cg_transport_destroy(&tp);
    return rate;
}

/* ---- output ---------------------------------------------------------------------------- */

static void s_print_header(FILE *out)
{
    fprintf(out, "%6s %12s %9s %6s %10s %10s %6s %9s %8s %8s %12s %10s\n", "actors", "env-steps/s",
            "groups/s", "busy", "lat p50 ms", "lat p99 ms", "lag", "dropped/s", "rejected",
            "msg KiB", "raw groups/s", "ingest/raw");
}

static void s_print_row(FILE *out, const s_row_t *r)
{
    if (!r->ok) {
        fprintf(out, "%6d  (not measured: %s)\n", r->actors, r->why);
        return;
    }
    fprintf(out, "%6d %12.0f %9.1f %6.3f %10.1f %10.1f %6.2f %9.1f %8lld %8.1f %12.0f %10.4f\n",
            r->actors, r->steps_per_s, r->groups_per_s, r->busy, r->lat_p50_ms, r->lat_p99_ms,
            r->lag, r->dropped_per_s, (long long)r->rejected, r->msg_bytes / 1024.0,
            r->raw_groups_per_s, r->ingest_frac);
}

static void s_csv_row(FILE *f, const char *sim, const s_row_t *r)
{
    if (!r->ok)
        return;
    fprintf(f,
            "%s,%d,%.1f,%.3f,%.3f,%.4f,%.3f,%.3f,%lld,%.4f,%.3f,%lld,%.0f,%.3f,%.1f,%.1f,%.5f,"
            "%d,%.2f,%lld\n",
            sim, r->actors, r->steps_per_s, r->groups_per_s, r->trained_per_s, r->busy,
            r->lat_p50_ms, r->lat_p99_ms, (long long)r->latency_samples, r->lag, r->dropped_per_s,
            (long long)r->rejected, r->msg_bytes, r->groups_per_msg, r->raw_msgs_per_s,
            r->raw_groups_per_s, r->ingest_frac, r->window, r->span_s, (long long)r->dropped);
}

/* scaling.gp + scaling.png: throughput, busy/ingest fractions and latency against actors. */
/* The study's plot; lo..hi the actor counts measured (one count: the x axis is widened around
 * it, where gnuplot would warn about an empty range). */
static int s_plot(const char *dir, const char *title, int lo, int hi)
{
    char *script = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&script, &len);
    if (!f)
        return -1;
    char xrange[64] = "";
    if (lo == hi)
        snprintf(xrange, sizeof xrange, "set xrange [%g:%g]\n", lo / 2.0, hi * 2.0);
    fprintf(f,
            "# cgrpo bench: actor scaling, %s. Re-plot with: cd %s && gnuplot scaling.gp\n"
            "set terminal pngcairo size 1500,450 font 'sans,10' noenhanced\n"
            "set output 'scaling.png'\n"
            "set datafile separator ','\n"
            "set key bottom right box opaque\n"
            "set grid lc rgb '#dddddd'\n"
            "set logscale x 2\nset xlabel 'actors'\n%s"
            "set multiplot layout 1,3 title 'actor scaling: %s'\n"
            "set title 'throughput'\nset logscale y\nset ylabel 'per second'\n"
            "plot 'scaling.csv' using 2:3 with linespoints lw 2 title 'env-steps/s', "
            "'' using 2:4 with linespoints lw 2 title 'groups/s ingested', "
            "'' using 2:16 with linespoints dt 2 title 'raw PUSH/PULL groups/s'\n"
            "unset logscale y\n"
            "set title 'learner'\nset ylabel 'fraction'\nset logscale y\nset format y '%%g'\n"
            "plot 'scaling.csv' using 2:6 with linespoints lw 2 title 'busy (updates / wall)', "
            "'' using 2:17 with linespoints lw 2 title 'ingest / raw baseline'\n"
            "set title 'weight broadcast latency'\nset ylabel 'ms'\nset key top left\n"
            "plot 'scaling.csv' using 2:7 with linespoints lw 2 title 'p50', "
            "'' using 2:8 with linespoints lw 2 title 'p99'\n"
            "unset multiplot\nset output\n",
            title, dir, xrange, title);
    int rc = fclose(f) ? -1 : 0;
    /* scaling.gp stays for re-plotting; gnuplot gets the same text */
    char gp[CG_PATH_LEN + 32], png[CG_PATH_LEN + 32];
    snprintf(gp, sizeof gp, "%s/scaling.gp", dir);
    snprintf(png, sizeof png, "%s/scaling.png", dir);
    FILE *g = rc == 0 ? fopen(gp, "w") : NULL;
    if (g) {
        size_t wrote = fwrite(script, 1, len, g);
        rc = fclose(g) != 0 || wrote != len ? -1 : 0;
    } else {
        rc = -1;
    }
    if (rc == 0)
        rc = cg_cmd_gnuplot("cgrpo scaling", script, len, dir, png);
    free(script);
    return rc;
}

/* ---- the command ----------------------------------------------------------------------- */

static int s_parse_counts(const char *s, int *out)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1024 || n == S_MAX_COUNTS || (*end && *end != ','))
            return -1;
        out[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* --sim: a simulator name, or sleep:MICROSECONDS. -1 (said on stderr) if neither. */
static int s_parse_sim(s_study_t *st)
{
    const char *sim = st->sim, *colon = strchr(sim, ':');
    st->set_sleep[0] = '\0';
    if (colon) {
        char *end;
        long us = strtol(colon + 1, &end, 10);
        if (strncmp(sim, "sleep:", 6) || end == colon + 1 || *end || us < 0 || us > 60000000) {
            fprintf(stderr,
                    "cgrpo scaling: --sim '%s': only sleep takes a value, sleep:MICROSECONDS\n",
                    sim);
            return -1;
        }
        snprintf(st->set_sleep, sizeof st->set_sleep, "sleep.step_us=%ld", us);
    }
    snprintf(st->sim_name, sizeof st->sim_name, "%.*s",
             colon ? (int)(colon - sim) : (int)strlen(sim), sim);
    snprintf(st->set_sim, sizeof st->set_sim, "sim.name=%s", st->sim_name);
    return 0;
}

/* One actor count: its training measured, then the raw baseline; a row on stdout and in csv.
 * 0, 1 if the count failed (the study goes on), -1 if its config cannot be made. */
static int s_one_count(s_study_t *st, int actors, FILE *csv)
{
    s_row_t row = {.actors = actors};
    char set_iters[64], set_actors[64], run_dir[CG_PATH_LEN + 96];
    cg_cmd_config_opts_t o = st->copts;
    snprintf(set_iters, sizeof set_iters, "run.iterations=%d", 100000000); /* time-bound */
    snprintf(set_actors, sizeof set_actors, "actor.actors=%d", actors);
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    if (cg_cmd_add_set(&o, st->set_sim) ||
        (st->set_sleep[0] && cg_cmd_add_set(&o, st->set_sleep)) || cg_cmd_add_set(&o, set_iters) ||
        cg_cmd_add_set(&o, set_actors) || cg_cmd_add_set(&o, "run.checkpoint_every=0") ||
        cg_cmd_add_set(&o, "run.deterministic=false") || cg_cmd_load_config(&o, NULL, cfg)) {
        free(cfg);
        return -1;
    }
    if (!st->header) {
        snprintf(st->title, sizeof st->title,
                 "sim %s, %d instances per actor, B = %d groups of G = %d, "
                 "max policy lag %d, %ld CPUs",
                 st->sim, cfg->instances, cfg->groups_per_batch, cfg->group_size,
                 cfg->max_policy_lag, st->ncpu);
        printf("actor scaling%s: sim %s, %d instances per actor, B = %d groups of G = %d, "
               "max policy lag %d, %d updates measured per count (at most %.0f s each), %ld "
               "CPUs\n",
               st->flood ? " (--flood: actors resend one batch; the learner's ingest)" : "",
               st->sim, cfg->instances, cfg->groups_per_batch, cfg->group_size, cfg->max_policy_lag,
               st->updates, st->duration, st->ncpu);
        s_print_header(stdout);
        fflush(stdout);
        st->header = 1;
    }
    snprintf(run_dir, sizeof run_dir, "%s/run-%s-%d", st->dir, st->sim_name, actors);
    row.ok = s_measure(st, cfg, run_dir, actors, &row) == 0;
    if (row.ok) {
        int pushers = actors < st->ncpu ? actors : (int)st->ncpu;
        pushers = pushers < 1 ? 1 : pushers > S_MAX_PUSHERS ? S_MAX_PUSHERS : pushers;
        row.raw_msgs_per_s =
            s_raw_rate((size_t)(row.msg_bytes + 0.5), pushers, st->seconds, cfg->hwm);
        row.raw_groups_per_s = row.raw_msgs_per_s * row.groups_per_msg;
        /* --flood: every group the ingest path took (decoded, validated; trained or found
         * stale), the producer being faster than it; else the groups trained. */
        double ingested = row.groups_per_s + (st->flood ? row.dropped_per_s : 0.0);
        row.ingest_frac = row.raw_groups_per_s > 0 ? ingested / row.raw_groups_per_s : NAN;
    }
    s_print_row(stdout, &row);
    s_csv_row(csv, st->sim, &row);
    fflush(stdout);
    fflush(csv);
    free(cfg);
    return row.ok ? 0 : 1;
}

/* Parses argv into st and the actor counts: -1 to go on, else the exit code. */
static int s_parse_args(int argc, char **argv, s_study_t *st, int *counts, int *n_counts,
                        const char **out_dir)
{
    static const struct option longopts[] = {{"actors", required_argument, NULL, 'a'},
                                             {"sim", required_argument, NULL, 'S'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"warmup", required_argument, NULL, 'w'},
                                             {"seconds", required_argument, NULL, 'T'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"updates", required_argument, NULL, 'u'},
                                             {"launch", required_argument, NULL, 'L'},
                                             {"set", required_argument, NULL, 's'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"flood", no_argument, NULL, 'F'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    long updates = st->updates;
    int opt, bad = 0;
    optind = 1;
    while (!bad && (opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a':
            *n_counts = s_parse_counts(optarg, counts);
            if (*n_counts <= 0) {
                fprintf(stderr,
                        "cgrpo scaling: --actors wants counts 1..1024 separated by commas, "
                        "at most %d, got '%s'\n",
                        S_MAX_COUNTS, optarg);
                bad = 1;
            }
            break;
        case 'S': st->sim = optarg; break;
        case 'd':
            bad = cg_cmd_opt_double("scaling", "--duration", optarg, 1, 86400, &st->duration);
            break;
        case 'w':
            bad = cg_cmd_opt_double("scaling", "--warmup", optarg, 0, 86400, &st->warmup);
            break;
        case 'T':
            bad = cg_cmd_opt_double("scaling", "--seconds", optarg, 0.001, 3600, &st->seconds);
            break;
        case 'u': bad = cg_cmd_opt_long("scaling", "--updates", optarg, 1, 100000, &updates); break;
        case 'c': st->copts.config_path = optarg; break;
        case 's': bad = cg_cmd_add_set(&st->copts, optarg); break;
        case 'o': *out_dir = optarg; break;
        case 'F': st->flood = 1; break;
        case 'L':
            bad = !optarg[strspn(optarg, " \t")];
            if (bad)
                fprintf(stderr, "cgrpo scaling: --launch wants a command, e.g. --launch "
                                "'mpirun --hostfile hosts'\n");
            st->launch = optarg;
            break;
        case 'h': s_usage(stdout); return 0;
        default:
            fprintf(stderr, "(hint: cgrpo scaling --actors 1,2,4 --sim sleep:1000; cgrpo scaling "
                            "--help)\n");
            return 2;
        }
    }
    if (bad)
        return 2;
    if (optind < argc) {
        fprintf(stderr, "cgrpo scaling: unexpected argument '%s' (hint: cgrpo scaling --help)\n",
                argv[optind]);
        return 2;
    }
    st->updates = (int)updates;
    if (*n_counts == 0)
        *n_counts = s_parse_counts("1,2,4", counts);
    return s_parse_sim(st) ? 2 : -1;
}

/* The results directory: out_dir or bench/<time>, made; refused (2) when it holds an
 * earlier study's run for one of these counts (it would be measured). 0, or the exit code. */
static int s_results_dir(s_study_t *st, const char *out_dir, const int *counts, int n_counts)
{
    char *dir = st->dir;
    if (out_dir)
        snprintf(dir, sizeof st->dir, "%s", out_dir);
    else
        cg_cmd_stamp_dir(dir, sizeof st->dir, "bench", NULL);
    if (cg_os_mkdir_p(dir, 0755)) {
        fprintf(stderr, "cgrpo scaling: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (int k = 0; k < n_counts; k++) {
        char run_dir[CG_PATH_LEN + 96];
        snprintf(run_dir, sizeof run_dir, "%s/run-%s-%d", dir, st->sim_name, counts[k]);
        if (access(run_dir, F_OK) == 0) {
            fprintf(stderr,
                    "cgrpo scaling: %s holds an earlier study's run for %d actors (%s) (hint: "
                    "a new --out DIR, or remove that one)\n",
                    dir, counts[k], run_dir);
            return 2;
        }
    }
    return 0;
}

int cg_cmd_scaling(int argc, char **argv)
{
    int counts[S_MAX_COUNTS], n_counts = 0;
    const char *out_dir = NULL;
    s_study_t st = {.sim = "null",
                    .duration = 300,
                    .seconds = 2,
                    .updates = 3,
                    .ncpu = sysconf(_SC_NPROCESSORS_ONLN)};
    cg_cmd_add_set(&st.copts, S_HEARTBEAT_SET);
    int rc = s_parse_args(argc, argv, &st, counts, &n_counts, &out_dir);
    if (rc >= 0)
        return rc;
    if ((rc = s_results_dir(&st, out_dir, counts, n_counts)) != 0)
        return rc;
    const char *dir = st.dir;
    cg_cmd_install_signals();
    cg_cmd_blas_threads();
    if (!getenv("CG_LOG_LEVEL"))
        cg_log_set_level(CG_LOG_WARN); /* a progress line per count, not the learner's log */
    char csv_path[CG_PATH_LEN + 32];
    snprintf(csv_path, sizeof csv_path, "%s/scaling.csv", dir);
    FILE *csv = fopen(csv_path, "w");
    if (!csv) {
        fprintf(stderr, "cgrpo scaling: cannot write %s\n", csv_path);
        return 1;
    }
    fprintf(csv,
            "sim,actors,env_steps_per_s,groups_per_s,trained_groups_per_s,busy_frac,"
            "latency_p50_ms,latency_p99_ms,latency_samples,policy_lag,dropped_per_s,rejected,"
            "msg_bytes,groups_per_msg,raw_msgs_per_s,raw_groups_per_s,ingest_frac,updates_measured,"
            "window_s,dropped_total\n");

    int status = 0, measured = 0, lo = 0, hi = 0;
    for (int k = 0; k < n_counts && !cg_cmd_stop; k++) {
        const int count_rc = s_one_count(&st, counts[k], csv);
        if (count_rc < 0) {
            fclose(csv);
            return 1;
        }
        status |= count_rc;
        if (count_rc == 0) {
            lo = measured++ == 0 || counts[k] < lo ? counts[k] : lo;
            hi = counts[k] > hi ? counts[k] : hi;
        }
    }
    fclose(csv);
    char png[CG_PATH_LEN + 32];
    snprintf(png, sizeof png, "%s/scaling.png", dir);
    if (measured > 0 && s_plot(dir, st.title, lo, hi) == 0)
        printf("results: %s, %s\n", csv_path, png);
    else
        printf("results: %s (no plot)\n", csv_path);
    return cg_cmd_stop ? 130 : status;
}
