/* cg_metrics: one row per learner iteration, appended to metrics.csv and metrics.jsonl in
 * the run directory. Columns are fixed by the first row (names in the order added); on
 * resume the files are appended to, and a header that does not match is an error.
 * Threading: one owner. */
#ifndef CG_METRICS_H
#define CG_METRICS_H

#include <stddef.h>

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

#ifdef __cplusplus
}
#endif
#endif
