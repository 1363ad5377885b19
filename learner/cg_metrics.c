/* cg_metrics: CSV + JSON-lines writer with a column set fixed by the first row. */
#include "cg_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_log.h"
#include "cg_os.h"

#define S_MAX_COLS 128

struct cg_metrics {
    FILE *csv, *jsonl;
    int header_done; /* csv already has a header (new file after first row, or resumed) */
    char *header;    /* existing header line when appending, checked on first commit */
    int n_cols;
    char *names[S_MAX_COLS];
    double values[S_MAX_COLS];
    int n_row;
};

/* A row a killed learner left without its newline is cut off on resume, so that the next
 * row starts a line of its own instead of extending it. */
static void s_drop_partial_line(FILE *f, const char *path)
{
    if (fseek(f, 0, SEEK_END) != 0)
        return;
    long end = ftell(f), keep = end;
    while (keep > 0) {
        if (fseek(f, keep - 1, SEEK_SET) != 0)
            return;
        if (fgetc(f) == '\n')
            break;
        keep--;
    }
    if (keep < end && ftruncate(fileno(f), keep) == 0)
        CG_WARN("%s: dropped an unfinished last line (%ld bytes: a row cut short when the "
                "learner stopped)",
                path, end - keep);
    fseek(f, 0, SEEK_END);
}

static FILE *s_open(const char *dir, const char *name, char **first_line, char *err, size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a+");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s (hint: check the run directory is writable)",
                 path, strerror(errno));
        return NULL;
    }
    s_drop_partial_line(f, path);
    if (first_line) {
        rewind(f);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, f);
        if (n > 0) {
            if (line[n - 1] == '\n')
                line[n - 1] = 0;
            *first_line = line;
        } else {
            free(line);
        }
        fseek(f, 0, SEEK_END);
    }
    return f;
}

cg_metrics_t *cg_metrics_open(const char *dir, char *err, size_t errlen)
{
    cg_metrics_t *self = cg_calloc(1, sizeof *self);
    self->csv = s_open(dir, "metrics.csv", &self->header, err, errlen);
    self->jsonl = self->csv ? s_open(dir, "metrics.jsonl", NULL, err, errlen) : NULL;
    if (!self->csv || !self->jsonl) {
        cg_metrics_close(&self);
        return NULL;
    }
    self->header_done = self->header != NULL;
    return self;
}

void cg_metrics_close(cg_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_metrics_t *self = *self_p;
    if (self->csv)
        fclose(self->csv);
    if (self->jsonl)
        fclose(self->jsonl);
    for (int i = 0; i < self->n_cols; i++)
        free(self->names[i]);
    free(self->header);
    free(self);
    *self_p = NULL;
}

void cg_metrics_add(cg_metrics_t *self, const char *name, double value)
{
    int i = self->n_row++;
    CG_ASSERT(i < S_MAX_COLS);
    if (i >= self->n_cols) {
        self->names[i] = cg_strdup(name);
        self->n_cols = i + 1;
    }
    CG_ASSERT(strcmp(self->names[i], name) == 0);
    self->values[i] = value;
}

static void s_fmt(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(buf, len, "%s", "null");
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        snprintf(buf, len, "%lld", (long long)v);
    else
        snprintf(buf, len, "%.9g", v);
}

cg_status_t cg_metrics_commit(cg_metrics_t *self)
{
    CG_ASSERT(self->n_row == self->n_cols);
    if (!self->header_done || self->header) {
        /* Build this row's header; write it for a new file, compare it when appending. */
        size_t cap = 64;
        for (int i = 0; i < self->n_cols; i++)
            cap += strlen(self->names[i]) + 1;
        char *h = cg_calloc(cap, 1);
        for (int i = 0; i < self->n_cols; i++) {
            if (i)
                strcat(h, ",");
            strcat(h, self->names[i]);
        }
        if (self->header) {
            int same = strcmp(h, self->header) == 0;
            free(self->header);
            self->header = NULL;
            if (!same) {
                CG_ERROR("metrics.csv has other columns than this run writes (hint: resume "
                         "with the same simulator and constraints, or use a new run directory)");
                free(h);
                return CG_ERR_MISMATCH;
            }
        } else {
            fprintf(self->csv, "%s\n", h);
        }
        free(h);
        self->header_done = 1;
    }
    char num[64];
    fputc('{', self->jsonl);
    for (int i = 0; i < self->n_cols; i++) {
        s_fmt(num, sizeof num, self->values[i]);
        fprintf(self->csv, "%s%s", i ? "," : "", strcmp(num, "null") ? num : "nan");
        fprintf(self->jsonl, "%s\"%s\":%s", i ? "," : "", self->names[i], num);
    }
    fputc('\n', self->csv);
    fputs("}\n", self->jsonl);
    self->n_row = 0;
    if (fflush(self->csv) || fflush(self->jsonl))
        return CG_ERR_IO;
    return CG_OK;
}

/* ---- reading ---------------------------------------------------------------------------- */

void cg_metrics_table_free(cg_metrics_table_t *t)
{
    for (int32_t i = 0; i < t->n_cols; i++)
        free(t->names[i]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Splits line at commas in place: up to max fields into f; the count (more than max: max+1). */
static int32_t s_split(char *line, char **f, int32_t max)
{
    int32_t n = 0;
    for (char *p = line;; n++) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        if (n < max)
            f[n] = p;
        if (!c)
            return n + 1 > max ? max + 1 : n + 1;
        p = c + 1;
    }
}

/* Cuts a trailing '\r' (a file edited on Windows). */
static void s_chomp_cr(char *s)
{
    size_t l = strlen(s);
    if (l && s[l - 1] == '\r')
        s[l - 1] = '\0';
}

cg_status_t cg_metrics_load(const char *dir, cg_metrics_table_t *t, char *err, size_t errlen)
{
    cg_metrics_table_free(t);
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    char *text = cg_os_read_file(path, NULL);
    if (!text) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return CG_ERR_IO;
    }
    char *nl = strchr(text, '\n');
    if (!nl || nl == text) {
        snprintf(err, errlen, "%s is empty: it has no header yet", path);
        free(text);
        return CG_ERR_INVAL;
    }
    *nl = '\0';
    s_chomp_cr(text);
    char *field[S_MAX_COLS];
    t->n_cols = s_split(text, field, S_MAX_COLS);
    if (t->n_cols > S_MAX_COLS)
        t->n_cols = S_MAX_COLS;
    t->names = cg_calloc((size_t)t->n_cols, sizeof *t->names);
    for (int32_t i = 0; i < t->n_cols; i++)
        t->names[i] = cg_strdup(field[i]);
    int32_t cap = 64, lineno = 1;
    t->v = cg_calloc((size_t)cap * (size_t)t->n_cols, sizeof *t->v);
    for (char *line = nl + 1, *end; (end = strchr(line, '\n')) != NULL; line = end + 1) {
        lineno++;
        *end = '\0';
        s_chomp_cr(line);
        if (!*line)
            continue;
        if (s_split(line, field, S_MAX_COLS) != t->n_cols) {
            if (t->n_skipped++ == 0)
                t->skipped_line = lineno;
            continue;
        }
        if (t->n_rows == cap) {
            cap *= 2;
            t->v = cg_realloc(t->v, (size_t)cap * (size_t)t->n_cols, sizeof *t->v);
        }
        double *row = t->v + (size_t)t->n_rows * (size_t)t->n_cols;
        for (int32_t i = 0; i < t->n_cols; i++) {
            char *e;
            double x = strtod(field[i], &e);
            row[i] = (e == field[i] || *e || !isfinite(x)) ? NAN : x;
        }
        t->n_rows++;
    }
    free(text);
    return CG_OK;
}

int32_t cg_metrics_col(const cg_metrics_table_t *t, const char *name)
{
    for (int32_t i = 0; i < t->n_cols; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}

double cg_metrics_get(const cg_metrics_table_t *t, int32_t row, const char *name)
{
    const int32_t c = cg_metrics_col(t, name);
    if (row < 0)
        row += t->n_rows;
    if (c < 0 || row < 0 || row >= t->n_rows)
        return NAN;
    return t->v[(size_t)row * (size_t)t->n_cols + (size_t)c];
}
