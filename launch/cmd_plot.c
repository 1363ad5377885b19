/* cmd_plot: `cgrpo plot RUN_DIR...`: reads each run's metrics.csv and renders PNGs with
 * gnuplot (a child process fed the script on a pipe; no shell): goal rate, each cost rate
 * against its threshold, the multipliers and the effective weights, over iterations (or any
 * column). Several runs are overlaid, or drawn as a mean with a min-max / ±std band. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_cmd.h"
#include "cg_metrics.h"
#include "cg_os.h"

#define S_MAX_RUNS 256
#define S_MAX_GROUPS 32
#define S_MAX_SERIES 24

typedef struct {
    char dir[CG_PATH_LEN];
    char label[128];
    cg_metrics_table_t t; /* its metrics.csv */
} s_run_t;

typedef struct {
    char label[128];
    int runs[S_MAX_RUNS];
    int n;
} s_group_t;

/* One line in a figure: a column (times scale), drawn solid, or dashed as a reference. */
typedef struct {
    char col[96];
    char label[128];
    double scale;
    int ref;   /* 1: a dashed reference line (threshold, multiplier), drawn from each group's first
                  run */
    int color; /* palette index */
} s_series_t;

typedef enum { S_BAND_NONE = 0, S_BAND_MINMAX, S_BAND_STD } s_band_t;

typedef struct {
    s_run_t *runs;
    int n_runs;
    s_group_t groups[S_MAX_GROUPS];
    int n_groups;
    const char *out_dir;
    const char *xcol;
    const char *title;
    s_band_t band;
} s_plot_t;

static const char *S_PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                  "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
#define S_N_PALETTE ((int)(sizeof S_PALETTE / sizeof S_PALETTE[0]))

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: cgrpo plot RUN_DIR [RUN_DIR...] [options]\n"
        "Renders PNGs (gnuplot) from each run's metrics.csv and prints their paths. Default\n"
        "figures: goal_rate.png, <cost>_rate.png (rate with its threshold dashed; full range\n"
        "and a zoom around the threshold), multipliers.png, eff_weights.png (effective\n"
        "weights wide and pale, the signed multipliers w = (lambda_R, -lambda_k) dashed\n"
        "on top: under ScAdv they coincide).\n\n"
        "  --out DIR          where the PNGs go (default RUN_DIR/plots; needed for several runs)\n"
        "  --columns A,B,...  instead of the default figures, one figure per named column\n"
        "  --x COLUMN         x axis (default iteration; e.g. env_steps, wall_s)\n"
        "  --band[=minmax|std] draw each group as its mean with a min-max (default) or\n"
        "                     mean +- std band, instead of one line per run\n"
        "  --group LABEL      the run directories after it form one group named LABEL\n"
        "                     (one colour; one band with --band); repeatable\n"
        "  --title TEXT       prefix of every figure title\n"
        "  -h, --help         this help\n\n"
        "Runs not under a --group are each their own group, or all one group with --band.\n"
        "With several groups eff_weights is one file per group, eff_weights-<label>.png.\n"
        "example: cgrpo plot --band --out cmp --group ScAdv runs/a1 runs/a2 --group ScRew runs/r1 "
        "runs/r2\n");
}

static int s_has_ctrl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Writes s as a single-quoted gnuplot string ('' stands for a quote inside). Callers have
 * rejected control characters, so the string cannot end the script line. */
static void s_gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static int s_col(const s_run_t *r, const char *name)
{
    return cg_metrics_col(&r->t, name);
}

/* Loads dir/metrics.csv (the learner's reader). */
static int s_run_load(s_run_t *r, const char *dir)
{
    char err[CG_PATH_LEN + 128];
    cg_status_msg(r->dir, sizeof r->dir, "%s", dir);
    cg_status_t rc = cg_metrics_load(dir, &r->t, err, sizeof err);
    if (rc != CG_OK) {
        fprintf(stderr, "cgrpo plot: %s (hint: %s)\n", err,
                rc == CG_ERR_IO ? "name a run directory written by cgrpo train"
                                : "the run has not finished an iteration yet");
        return -1;
    }
    if (r->t.n_skipped)
        fprintf(stderr,
                "cgrpo plot: %s/metrics.csv: skipped %d line(s) whose field count is not the "
                "header's (the first: line %d)\n",
                dir, r->t.n_skipped, r->t.skipped_line);
    if (r->t.n_rows == 0) {
        fprintf(stderr,
                "cgrpo plot: %s/metrics.csv has a header but no rows (hint: the run has not "
                "finished an iteration yet)\n",
                dir);
        return -1;
    }
    /* label: the directory's last component */
    char tmp[CG_PATH_LEN];
    cg_status_msg(tmp, sizeof tmp, "%s", dir);
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/')
        tmp[--l] = 0;
    const char *base = strrchr(tmp, '/');
    cg_status_msg(r->label, sizeof r->label, "%s", base && base[1] ? base + 1 : tmp);
    return 0;
}

static void s_print_columns(const s_run_t *r)
{
    fprintf(stderr, "  the columns of %s/metrics.csv are:", r->dir);
    for (int i = 0; i < r->t.n_cols; i++)
        fprintf(stderr, "%s%s", i ? "," : " ", r->t.names[i]);
    fputc('\n', stderr);
}

/* The cost names of the runs, in first-seen order: columns <name>_rate except goal_rate. */
static int s_cost_names(const s_plot_t *p, char names[][96], int max)
{
    int n = 0;
    for (int ri = 0; ri < p->n_runs; ri++) {
        const s_run_t *r = &p->runs[ri];
        for (int c = 0; c < r->t.n_cols; c++) {
            const char *s = r->t.names[c];
            size_t l = strlen(s);
            if (l <= 5 || l - 5 >= 96 || strcmp(s + l - 5, "_rate") || !strcmp(s, "goal_rate"))
                continue;
            char name[96];
            memcpy(name, s, l - 5);
            name[l - 5] = 0;
            int seen = 0;
            for (int i = 0; i < n; i++)
                seen |= !strcmp(names[i], name);
            if (!seen && n < max)
                cg_status_msg(names[n++], 96, "%s", name);
        }
    }
    return n;
}

static int s_any_has(const s_plot_t *p, const char *col)
{
    for (int ri = 0; ri < p->n_runs; ri++)
        if (s_col(&p->runs[ri], col) >= 0)
            return 1;
    return 0;
}

/* Writes the data block(s) of one (group, series) pair; returns how many runs contributed. */
static int s_write_data(FILE *f, const s_plot_t *p, int gi, int si, const s_series_t *s)
{
    const s_group_t *g = &p->groups[gi];
    int ids[S_MAX_RUNS], n = 0;
    for (int i = 0; i < g->n; i++) {
        const s_run_t *r = &p->runs[g->runs[i]];
        if (s_col(r, s->col) >= 0 && s_col(r, p->xcol) >= 0)
            ids[n++] = g->runs[i];
    }
    if (n == 0)
        return 0;
    if (s->ref)
        n = 1; /* a reference line: the group's first run */
    if (p->band == S_BAND_NONE || s->ref) {
        for (int i = 0; i < n; i++) {
            const s_run_t *r = &p->runs[ids[i]];
            int xc = s_col(r, p->xcol), yc = s_col(r, s->col);
            fprintf(f, "$d_%d_%d_%d << EOD\n", gi, si, i);
            for (int row = 0; row < r->t.n_rows; row++) {
                const double *v = r->t.v + (size_t)row * (size_t)r->t.n_cols;
                if (isnan(v[xc]) || isnan(v[yc]))
                    fprintf(f, "\n"); /* a gap */
                else
                    fprintf(f, "%.9g %.9g\n", v[xc], s->scale * v[yc]);
            }
            fprintf(f, "EOD\n");
        }
        return n;
    }
    /* band: row-aligned across the group's runs, up to the shortest run */
    int rows = p->runs[ids[0]].t.n_rows;
    for (int i = 1; i < n; i++)
        if (p->runs[ids[i]].t.n_rows < rows)
            rows = p->runs[ids[i]].t.n_rows;
    fprintf(f, "$d_%d_%d_0 << EOD\n", gi, si);
    for (int row = 0; row < rows; row++) {
        double xs = 0, sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
        int m = 0, mx = 0;
        for (int i = 0; i < n; i++) {
            const s_run_t *r = &p->runs[ids[i]];
            const double *v = r->t.v + (size_t)row * (size_t)r->t.n_cols;
            double x = v[s_col(r, p->xcol)], y = s->scale * v[s_col(r, s->col)];
            if (!isnan(x)) {
                xs += x;
                mx++;
            }
            if (isnan(y))
                continue;
            sum += y;
            sq += y * y;
            lo = y < lo ? y : lo;
            hi = y > hi ? y : hi;
            m++;
        }
        if (!m || !mx) {
            fprintf(f, "\n");
            continue;
        }
        double mean = sum / m, sd = sqrt(fmax(0.0, sq / m - mean * mean));
        if (p->band == S_BAND_STD) {
            lo = mean - sd;
            hi = mean + sd;
        }
        fprintf(f, "%.9g %.9g %.9g %.9g\n", xs / mx, mean, lo, hi);
    }
    fprintf(f, "EOD\n");
    return 1;
}

/* The plot clauses of one panel. Colours: by series when a figure has several solid series,
 * else by group. Several groups with by-series colour differ by dash pattern. */
static void s_plot_clauses(FILE *f, const s_plot_t *p, const s_series_t *ser, int n_ser,
                           const int *have, int by_series, int zero_line)
{
    int first = 1, ref_titled = 0;
    fprintf(f, "plot ");
    for (int gi = 0; gi < p->n_groups; gi++) {
        for (int si = 0; si < n_ser; si++) {
            const s_series_t *s = &ser[si];
            int n = have[gi * S_MAX_SERIES + si];
            const char *color = S_PALETTE[(by_series ? s->color : gi) % S_N_PALETTE];
            int dt = s->ref ? 2 : (by_series && p->n_groups > 1 ? 1 + 2 * gi : 1);
            if (s->ref && !by_series)
                color = "#000000";
            char title[300];
            if (by_series)
                cg_status_msg(title, sizeof title, "%s%s%s", s->label, p->n_groups > 1 ? " - " : "",
                              p->n_groups > 1 ? p->groups[gi].label : "");
            else if (s->ref)
                cg_status_msg(title, sizeof title, "%s", s->label);
            else
                cg_status_msg(title, sizeof title, "%s", p->groups[gi].label);
            int give_title = !s->ref || by_series || !ref_titled;
            /* a solid line with a dashed reference of its colour is drawn wide and
             * translucent, so the reference stays visible where the two coincide */
            int under = 0;
            for (int j = 0; j < n_ser && by_series && !s->ref; j++)
                under |= ser[j].ref && ser[j].color == s->color;
            char rgb[16];
            cg_status_msg(rgb, sizeof rgb, "%s%s", under ? "#80" : "", under ? color + 1 : color);
            for (int i = 0; i < n; i++) {
                int band = p->band != S_BAND_NONE && !s->ref;
                if (band) {
                    fprintf(f,
                            "%s$d_%d_%d_0 using 1:3:4 with filledcurves fc rgb '%s' fs transparent "
                            "solid 0.18 noborder notitle",
                            first ? "" : ", \\\n     ", gi, si, color);
                    first = 0;
                }
                fprintf(f, "%s$d_%d_%d_%d using 1:2 with lines lc rgb '%s' dt %d lw %s ",
                        first ? "" : ", \\\n     ", gi, si, i, rgb, dt,
                        under            ? "5"
                        : band || n == 1 ? "2"
                                         : "1.2");
                first = 0;
                if (i == 0 && give_title) {
                    fprintf(f, "title ");
                    s_gp_str(f, title);
                    if (s->ref)
                        ref_titled = 1;
                } else {
                    fprintf(f, "notitle");
                }
            }
        }
    }
    if (zero_line)
        fprintf(f, ", \\\n     0 with lines lc rgb '#999999' lw 1 notitle");
    fprintf(f, "\n");
}

/* One figure: the series over the groups, saved as out_dir/name.png. yrange: gnuplot's
 * "lo:hi" text; NULL = autoscale with a grey line at 0 (which also keeps a constant series
 * from giving an empty range). zoom > 0 adds a second panel with y in [0, zoom]. Figures
 * where no run has a series are skipped (returns 1). */
static int s_figure(const s_plot_t *p, const char *name, const char *title, const char *ylabel,
                    const s_series_t *ser, int n_ser, int by_series, const char *yrange,
                    double zoom)
{
    char png[CG_PATH_LEN + 160];
    cg_status_msg(png, sizeof png, "%s/%s.png", p->out_dir, name);
    char *script = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&script, &len);
    if (!f) {
        fprintf(stderr, "cgrpo plot: out of memory\n");
        return -1;
    }
    int have[S_MAX_GROUPS * S_MAX_SERIES] = {0}, any = 0;
    for (int gi = 0; gi < p->n_groups; gi++)
        for (int si = 0; si < n_ser; si++) {
            have[gi * S_MAX_SERIES + si] = s_write_data(f, p, gi, si, &ser[si]);
            any |= have[gi * S_MAX_SERIES + si] && !ser[si].ref;
        }
    if (!any) {
        fclose(f);
        free(script);
        return 1;
    }
    /* legend entries: beside a single panel when few, else below the panel(s) in as many
     * columns as their length allows (gnuplot reckons about 9 px a character at size 10) */
    int n_keys = 0, n_ref = 0;
    size_t maxlen = 8;
    for (int si = 0; si < n_ser; si++) {
        n_ref += ser[si].ref;
        size_t l = strlen(ser[si].label);
        for (int gi = 0; gi < p->n_groups; gi++) {
            size_t lg = strlen(p->groups[gi].label);
            size_t t = by_series ? l + (p->n_groups > 1 ? 3 + lg : 0) : (ser[si].ref ? l : lg);
            maxlen = t > maxlen ? t : maxlen;
        }
    }
    n_keys = by_series ? n_ser * p->n_groups : p->n_groups + (n_ref > 0);
    int below = zoom > 0 || n_keys > 6;
    int width = zoom > 0 ? 1200 : 860;
    int key_cols = (int)((width - 80) / (9.0 * (double)maxlen + 60));
    key_cols = key_cols < 1 ? 1 : key_cols > 3 ? 3 : key_cols;
    int key_rows = (n_keys + key_cols - 1) / key_cols;
    int height = 440 + (below ? 18 * key_rows : 0);
    fprintf(f, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\nset output ", width,
            height);
    s_gp_str(f, png);
    fprintf(f, "\nset grid lc rgb '#dddddd'\nset xlabel ");
    s_gp_str(f, p->xcol);
    fprintf(f, "\nset ylabel ");
    s_gp_str(f, ylabel);
    fprintf(f, "\n");
    char full[512];
    cg_status_msg(full, sizeof full, "%s%s%s", p->title ? p->title : "", p->title ? ": " : "",
                  title);
    /* with the key below: fixed margins (both panels match), the key centred under them */
    double bottom = (double)(62 + 18 * key_rows) / height, top = 1.0 - 64.0 / height;
    if (below)
        fprintf(f,
                "set key at screen 0.5,0.01 center bottom horizontal Left reverse maxcols %d "
                "maxrows %d box opaque\n",
                key_cols, key_rows);
    else
        fprintf(f, "set key outside right top box Left reverse width 2\n");
    if (zoom > 0) {
        fprintf(f, "set multiplot layout 1,2 margins 0.06,0.98,%.3f,%.3f spacing 0.08 title ",
                bottom, top);
        s_gp_str(f, full);
        fprintf(f, "\nset title 'full range'\n");
    } else {
        if (below)
            fprintf(f,
                    "set lmargin at screen 0.08\nset rmargin at screen 0.97\n"
                    "set bmargin at screen %.3f\nset tmargin at screen %.3f\n",
                    bottom, top);
        fprintf(f, "set title ");
        s_gp_str(f, full);
        fprintf(f, "\n");
    }
    fprintf(f, "set yrange [%s]\n", yrange ? yrange : "*:*");
    s_plot_clauses(f, p, ser, n_ser, have, by_series, !yrange);
    if (zoom > 0) {
        fprintf(f, "set title 'zoom: [0, %g]'\nset yrange [0:%g]\nunset key\n", zoom, zoom);
        s_plot_clauses(f, p, ser, n_ser, have, by_series, !yrange);
        fprintf(f, "unset multiplot\n");
    }
    fprintf(f, "set output\n");
    if (fclose(f)) {
        free(script);
        fprintf(stderr, "cgrpo plot: out of memory\n");
        return -1;
    }
    int rc = cg_cmd_gnuplot("cgrpo plot", script, len, NULL, png);
    free(script);
    if (rc == 0)
        printf("%s\n", png);
    return rc;
}

static void s_series(s_series_t *s, const char *col, const char *label, double scale, int ref,
                     int color)
{
    memset(s, 0, sizeof *s);
    cg_status_msg(s->col, sizeof s->col, "%s", col);
    cg_status_msg(s->label, sizeof s->label, "%s", label);
    s->scale = scale;
    s->ref = ref;
    s->color = color;
}

/* The first threshold value found for cost `name` (NAN if none is enforced anywhere). */
static double s_threshold(const s_plot_t *p, const char *name)
{
    char col[128];
    cg_status_msg(col, sizeof col, "%s_threshold", name);
    for (int ri = 0; ri < p->n_runs; ri++) {
        const s_run_t *r = &p->runs[ri];
        int c = s_col(r, col);
        if (c >= 0 && !isnan(r->t.v[c]))
            return r->t.v[c];
    }
    return NAN;
}

static int s_default_figures(s_plot_t *p)
{
    s_series_t ser[S_MAX_SERIES];
    char costs[CG_MAX_COSTS * 2][96];
    int nc = s_cost_names(p, costs, CG_MAX_COSTS * 2);
    char col[160], lab[160];

    s_series(&ser[0], "goal_rate", "goal rate", 1, 0, 0);
    if (s_figure(p, "goal_rate", "goal rate (training batches)", "goal rate", ser, 1, 0,
                 "-0.02:1.02", 0) < 0)
        return -1; /* gnuplot failing once fails them all: stop */
    for (int k = 0; k < nc; k++) {
        cg_status_msg(col, sizeof col, "%s_rate", costs[k]);
        s_series(&ser[0], col, col, 1, 0, 0);
        int n = 1;
        double d = s_threshold(p, costs[k]);
        if (!isnan(d)) {
            cg_status_msg(col, sizeof col, "%s_threshold", costs[k]);
            cg_status_msg(lab, sizeof lab, "threshold d = %g", d);
            s_series(&ser[n++], col, lab, 1, 1, 0);
        }
        char name[128], title[200];
        cg_status_msg(name, sizeof name, "%s_rate", costs[k]);
        cg_status_msg(title, sizeof title, "%s rate (training batches)%s", costs[k],
                      isnan(d) ? ", not enforced" : "");
        double zoom = isnan(d) ? 0 : (d > 0 ? fmin(1.0, 4 * d) : 0.05);
        if (s_figure(p, name, title, "violation rate", ser, n, 0, "-0.02:1.02", zoom) < 0)
            return -1;
    }

    int n = 0;
    s_series(&ser[n++], "lambda_reward", "lambda_R (reward)", 1, 0, 0);
    for (int k = 0; k < nc && n < S_MAX_SERIES; k++) {
        cg_status_msg(col, sizeof col, "%s_lambda", costs[k]);
        if (s_any_has(p, col)) {
            cg_status_msg(lab, sizeof lab, "lambda %s", costs[k]);
            s_series(&ser[n], col, lab, 1, 0, n);
            n++;
        }
    }
    if (s_figure(p, "multipliers", "multipliers", "lambda", ser, n, 1, "0:0.1<*", 0) < 0)
        return -1;

    /* effective weights (wide) against the signed multipliers w = (lambda_R, -lambda_k) */
    n = 0;
    s_series(&ser[n++], "reward_eff_weight", "eff. weight reward", 1, 0, 0);
    s_series(&ser[n++], "lambda_reward", "w = lambda_R", 1, 1, 0);
    for (int k = 0; k < nc && n + 1 < S_MAX_SERIES; k++) {
        cg_status_msg(col, sizeof col, "%s_eff_weight", costs[k]);
        if (!s_any_has(p, col))
            continue;
        int color = n / 2;
        cg_status_msg(lab, sizeof lab, "eff. weight %s", costs[k]);
        s_series(&ser[n++], col, lab, 1, 0, color);
        cg_status_msg(col, sizeof col, "%s_lambda", costs[k]);
        cg_status_msg(lab, sizeof lab, "w = -lambda %s", costs[k]);
        s_series(&ser[n++], col, lab, -1, 1, color);
    }
    if (p->n_groups == 1) {
        if (s_figure(p, "eff_weights", "effective weights (wide) vs signed multipliers w (dashed)",
                     "weight", ser, n, 1, NULL, 0) < 0)
            return -1;
    } else {
        s_plot_t one = *p;
        one.n_groups = 1;
        for (int gi = 0; gi < p->n_groups; gi++) {
            one.groups[0] = p->groups[gi];
            char name[200], title[300], safe[128];
            size_t j = 0;
            for (const char *c = p->groups[gi].label; *c && j + 1 < sizeof safe; c++)
                safe[j++] = (strchr("-_.", *c) || (*c >= '0' && *c <= '9') ||
                             ((*c | 32) >= 'a' && (*c | 32) <= 'z'))
                                ? *c
                                : '_';
            safe[j] = 0;
            cg_status_msg(name, sizeof name, "eff_weights-%s", safe);
            cg_status_msg(title, sizeof title,
                          "%s: effective weights (wide) vs signed multipliers w (dashed)",
                          p->groups[gi].label);
            if (s_figure(&one, name, title, "weight", ser, n, 1, NULL, 0) < 0)
                return -1;
        }
    }
    return 0;
}

static int s_column_figures(s_plot_t *p, const char *list)
{
    char *copy = cg_strdup(list), *save = NULL;
    int rc = 0;
    for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        s_series_t s;
        s_series(&s, c, c, 1, 0, 0);
        char safe[128];
        size_t j = 0;
        for (const char *q = c; *q && j + 1 < sizeof safe; q++)
            safe[j++] = (*q == '/' ? '_' : *q);
        safe[j] = 0;
        if (s_figure(p, safe, c, c, &s, 1, 0, NULL, 0) < 0)
            rc = -1;
    }
    free(copy);
    return rc;
}

/* Every named column (and the x column) must exist in every run: a typo is an error. */
static int s_check_columns(const s_plot_t *p, const char *list)
{
    char *copy = list ? cg_strdup(list) : NULL, *save = NULL;
    int rc = 0;
    for (int ri = 0; ri < p->n_runs && rc == 0; ri++) {
        const s_run_t *r = &p->runs[ri];
        if (s_col(r, p->xcol) < 0) {
            fprintf(stderr, "cgrpo plot: --x: unknown column '%s' in %s/metrics.csv\n", p->xcol,
                    r->dir);
            s_print_columns(r);
            rc = -1;
        }
    }
    if (copy) {
        int n = 0;
        for (char *c = strtok_r(copy, ",", &save); c && rc == 0; c = strtok_r(NULL, ",", &save)) {
            n++;
            for (int ri = 0; ri < p->n_runs; ri++) {
                if (s_col(&p->runs[ri], c) < 0) {
                    fprintf(stderr,
                            "cgrpo plot: --columns: unknown column '%s' in %s/metrics.csv\n", c,
                            p->runs[ri].dir);
                    s_print_columns(&p->runs[ri]);
                    rc = -1;
                    break;
                }
            }
        }
        if (rc == 0 && n == 0) {
            fprintf(stderr, "cgrpo plot: --columns needs at least one column name\n");
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

/* What the command line named: run directories (each with the --group before it, or -1),
 * the --group labels, --columns. */
typedef struct {
    const char *dirs[S_MAX_RUNS];
    int dir_group[S_MAX_RUNS], n_dirs;
    char labels[S_MAX_GROUPS][128];
    int n_labels;
    const char *columns;
} s_args_t;

/* Parses argv into p and a: -1 to go on, else the exit code (help, or a usage error). */
static int s_parse_args(int argc, char **argv, s_plot_t *p, s_args_t *a)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},   {"columns", required_argument, NULL, 'c'},
        {"x", required_argument, NULL, 'x'},     {"band", optional_argument, NULL, 'b'},
        {"group", required_argument, NULL, 'g'}, {"title", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    int opt, cur_group = -1;
    optind = 1;
    /* leading '-': run directories come back in order as option 1, so --group applies to
     * the directories after it */
    while ((opt = getopt_long(argc, argv, "-h", longopts, NULL)) != -1) {
        switch (opt) {
        case 1:
            if (a->n_dirs == S_MAX_RUNS) {
                fprintf(stderr, "cgrpo plot: at most %d run directories\n", S_MAX_RUNS);
                return 2;
            }
            a->dir_group[a->n_dirs] = cur_group;
            a->dirs[a->n_dirs++] = optarg;
            break;
        case 'o': p->out_dir = optarg; break;
        case 'c': a->columns = optarg; break;
        case 'x': p->xcol = optarg; break;
        case 'b':
            if (!optarg || !strcmp(optarg, "minmax"))
                p->band = S_BAND_MINMAX;
            else if (!strcmp(optarg, "std"))
                p->band = S_BAND_STD;
            else {
                fprintf(stderr,
                        "cgrpo plot: --band=%s: unknown band (hint: --band, --band=minmax or "
                        "--band=std)\n",
                        optarg);
                return 2;
            }
            break;
        case 'g':
            if (a->n_labels == S_MAX_GROUPS) {
                fprintf(stderr, "cgrpo plot: at most %d groups\n", S_MAX_GROUPS);
                return 2;
            }
            cg_status_msg(a->labels[a->n_labels], sizeof a->labels[0], "%s", optarg);
            cur_group = a->n_labels++;
            break;
        case 't': p->title = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    return -1;
}

/* The arguments' own sanity (before any file is read): 0, or the exit code. */
static int s_check_args(const s_plot_t *p, const s_args_t *a)
{
    if (a->n_dirs == 0) {
        fprintf(stderr,
                "cgrpo plot: name at least one run directory (hint: cgrpo plot runs/<run>)\n");
        return 2;
    }
    if (!p->out_dir && a->n_dirs > 1) {
        fprintf(stderr,
                "cgrpo plot: several runs need --out DIR for the PNGs (hint: --out plots)\n");
        return 2;
    }
    const char *texts[] = {p->out_dir, p->title, p->xcol, a->columns};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (texts[i] && s_has_ctrl(texts[i])) {
            fprintf(stderr, "cgrpo plot: control characters in an argument are not supported\n");
            return 2;
        }
    for (int i = 0; i < a->n_labels; i++)
        if (s_has_ctrl(a->labels[i])) {
            fprintf(stderr,
                    "cgrpo plot: control characters in a --group label are not supported\n");
            return 2;
        }
    for (int i = 0; i < a->n_dirs; i++)
        if (s_has_ctrl(a->dirs[i]) || strlen(a->dirs[i]) >= CG_PATH_LEN - 64) {
            fprintf(stderr, "cgrpo plot: run directory name too long or with control characters\n");
            return 2;
        }
    return 0;
}

/* A new group labelled label, or NULL (said) when there are S_MAX_GROUPS already. */
static s_group_t *s_new_group(s_plot_t *p, const char *label, const char *hint)
{
    if (p->n_groups == S_MAX_GROUPS) {
        fprintf(stderr, "cgrpo plot: at most %d %s\n", S_MAX_GROUPS, hint);
        return NULL;
    }
    s_group_t *g = &p->groups[p->n_groups++];
    cg_status_msg(g->label, sizeof g->label, "%s", label);
    return g;
}

/* Groups: each --group in order, then the ungrouped runs (one group with --band, else one
 * each). 0, or -1 (said). */
static int s_make_groups(s_plot_t *p, const s_args_t *a)
{
    for (int gi = 0; gi < a->n_labels; gi++) {
        s_group_t *g = s_new_group(p, a->labels[gi], "groups");
        for (int i = 0; g && i < a->n_dirs; i++)
            if (a->dir_group[i] == gi)
                g->runs[g->n++] = i;
        if (g && g->n == 0) {
            fprintf(stderr, "cgrpo plot: --group %s has no run directories after it\n",
                    a->labels[gi]);
            return -1;
        }
    }
    int loose = 0;
    for (int i = 0; i < a->n_dirs; i++)
        loose += a->dir_group[i] < 0;
    char label[128];
    cg_status_msg(label, sizeof label, "mean of %d run%s", loose, loose > 1 ? "s" : "");
    s_group_t *mean = loose && p->band != S_BAND_NONE ? s_new_group(p, label, "groups") : NULL;
    if (loose && p->band != S_BAND_NONE && !mean)
        return -1;
    for (int i = 0; i < a->n_dirs; i++) {
        if (a->dir_group[i] >= 0)
            continue;
        s_group_t *g =
            mean ? mean
                 : s_new_group(p, p->runs[i].label, "separate runs (hint: use --group or --band)");
        if (!g)
            return -1;
        g->runs[g->n++] = i;
    }
    return 0;
}

/* With bands: a note for each group whose runs differ in length (its band stops early). */
static void s_note_band_rows(const s_plot_t *p)
{
    for (int gi = 0; gi < p->n_groups && p->band != S_BAND_NONE; gi++) {
        const s_group_t *g = &p->groups[gi];
        int lo = p->runs[g->runs[0]].t.n_rows, hi = lo;
        for (int i = 1; i < g->n; i++) {
            int r = p->runs[g->runs[i]].t.n_rows;
            lo = r < lo ? r : lo;
            hi = r > hi ? r : hi;
        }
        if (lo != hi)
            fprintf(stderr,
                    "cgrpo plot: note: the runs of group '%s' have %d to %d rows; its band stops "
                    "at %d\n",
                    g->label, lo, hi, lo);
    }
}

int cg_cmd_plot(int argc, char **argv)
{
    static s_plot_t p; /* large (groups); one per process */
    static s_args_t a;
    memset(&p, 0, sizeof p);
    memset(&a, 0, sizeof a);
    p.xcol = "iteration";
    int rc = s_parse_args(argc, argv, &p, &a);
    if (rc >= 0)
        return rc;
    if ((rc = s_check_args(&p, &a)) != 0)
        return rc;
    rc = 1;
    p.runs = cg_calloc((size_t)a.n_dirs, sizeof *p.runs);
    for (int i = 0; i < a.n_dirs; i++) {
        if (s_run_load(&p.runs[i], a.dirs[i]))
            goto done;
        p.n_runs++;
    }
    if (s_check_columns(&p, a.columns) || s_make_groups(&p, &a))
        goto done;
    s_note_band_rows(&p);
    char def_out[CG_PATH_LEN];
    if (!p.out_dir) {
        cg_status_msg(def_out, sizeof def_out, "%s/plots", a.dirs[0]);
        p.out_dir = def_out;
    }
    if (cg_os_mkdir_p(p.out_dir, 0755)) {
        fprintf(stderr, "cgrpo plot: cannot create %s: %s\n", p.out_dir, strerror(errno));
        goto done;
    }
    rc = (a.columns ? s_column_figures(&p, a.columns) : s_default_figures(&p)) ? 1 : 0;
done:
    for (int i = 0; i < p.n_runs; i++)
        cg_metrics_table_free(&p.runs[i].t);
    free(p.runs);
    return rc;
}
