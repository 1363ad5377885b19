/* cg_metrics: CSV + JSON-lines writer with a column set fixed by the first row. */
#include "cg_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_log.h"

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
