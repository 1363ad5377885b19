/* cg_config_impl: what the config module's files share (cg_config.c: the key table, values,
 * defaults, finish and writing; cg_config_ini.c: reading INI text; cg_config_sim.c: the
 * simulator sections' store; cg_config_constraints.c: the [constraints] section). Not for other
 * modules: they use cg_config.h. Threading: as cg_config.h. */
#ifndef CG_CONFIG_IMPL_H
#define CG_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cg_config.h"

#define CG_CONFIG_KEY_LEN 128 /* a section or key name as read, before it is checked */
#define CG_CONFIG_MSG_LEN 768 /* a message about one key */

bool cg_config_is_space(char c);
/* One of the fixed sections ([run], [sim], ..., [learner]). */
bool cg_config_section_known(const char *s);
/* A name a simulator's own section may have (lower case, not a fixed section's). */
bool cg_config_sim_section_ok(const char *s);
/* Sets [section] key = value (a fixed key, a constraint or a simulator's key stored as
 * text): 0, or -1 with "problem (hint: ...)" in msg and in *piece the line of a multi-line
 * value (0-based) it is about. origin and line are kept with a simulator's key. */
int cg_config_apply(cg_config_t *cfg, const char *section, const char *key, const char *value,
                    const char *origin, int line, int *piece, char *msg, size_t n);
/* Finish-time sanity of the simulator sections' store (it may have been filled in code). */
int cg_config_check_sim_store(const cg_config_t *cfg, char *err, size_t errlen);
/* Writes each simulator section with keys (cg_config_write). */
void cg_config_write_sim_sections(FILE *f, const cg_config_t *cfg);

/* A float range outside the key table (a constraint's threshold or lambda). */
typedef struct {
    double lo, hi;    /* inclusive */
    const char *note; /* what the value is, for the hint */
} cg_config_range_t;
/* Parses value as a float within r: 0, or -1 with "problem (hint: range; note)" in msg. */
int cg_config_parse_float(const cg_config_range_t *r, const char *value, float *out, char *msg,
                          size_t n);
/* 0 if v lies within r, else -1; range (n bytes) receives r's range as a hint either way. */
int cg_config_float_ok(const cg_config_range_t *r, float v, char *range, size_t n);
/* v as written in a config: the shortest text that reads back as the same float. */
void cg_config_fmt_float(char *buf, size_t n, float v);

/* [constraints] (cg_config_constraints.c): one line as read (as cg_config_apply), the checks
 * of cg_config_finish, and the section as cg_config_write writes it. */
int cg_config_set_constraint(cg_config_t *cfg, const char *key, const char *value, int *piece,
                             char *msg, size_t n);
int cg_config_check_constraints(const cg_config_t *cfg, char *err, size_t errlen);
void cg_config_write_constraints(FILE *f, const cg_config_t *cfg);

#endif
