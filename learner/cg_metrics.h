/* cg_metrics: one row per learner iteration, appended to metrics.csv and metrics.jsonl in
 * the run directory. Columns are fixed by the first row (names in the order added); on
 * resume the files are appended to, and a header that does not match is an error.
 * Threading: one owner. */
#ifndef CG_METRICS_H
#define CG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_metrics cg_metrics_t;

/* Opens (creating or appending) DIR/metrics.csv and DIR/metrics.jsonl. */
cg_metrics_t *cg_metrics_open(const char *dir, char *err, size_t errlen);
void cg_metrics_close(cg_metrics_t **self_p);

/* Adds a value to the row being built; name must be the same position as in the first row. */
void cg_metrics_add(cg_metrics_t *self, const char *name, double value);
/* Writes the row to both files and flushes them. */
cg_status_t cg_metrics_commit(cg_metrics_t *self);

/* ---- reading metrics.csv back (cgrpo plot, cgrpo scaling, the tests) ---- */

/* The header's column names and every complete row, as doubles ("nan", an empty or an
 * unparsable field: NAN). A last line without its newline (a run still writing) is not a
 * row; a complete line whose field count differs from the header's is skipped and counted. */
typedef struct {
    int32_t n_cols, n_rows;
    char **names;         /* (n_cols) */
    double *v;            /* (n_rows, n_cols) row-major */
    int32_t n_skipped;    /* lines skipped for their field count */
    int32_t skipped_line; /* the first of them (1-based line number), 0 if none */
} cg_metrics_table_t;

/* Loads DIR/metrics.csv into t (freed first; zero it before the first use). CG_OK, maybe
 * with no rows; CG_ERR_IO when the file cannot be read, CG_ERR_INVAL when it has no header
 * yet; err names the file and the problem. */
cg_status_t cg_metrics_load(const char *dir, cg_metrics_table_t *t, char *err, size_t errlen);
void cg_metrics_table_free(cg_metrics_table_t *t);
/* The index of column name, or -1. */
int32_t cg_metrics_col(const cg_metrics_table_t *t, const char *name);
/* The value of column name in row (negative: counted from the end); NAN if either is
 * missing. */
double cg_metrics_get(const cg_metrics_table_t *t, int32_t row, const char *name);

#ifdef __cplusplus
}
#endif
#endif
