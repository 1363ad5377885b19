/* cg_config_impl: what the config module's files share (cg_config.c: the key table, values,
 * defaults and finish; cg_config_write.c: writing; cg_config_ini.c: reading INI text;
 * cg_config_sim.c: the simulator sections' store; cg_config_constraints.c: the [constraints]
 * section). Not for other modules: they use cg_config.h. Threading: as cg_config.h. */
#ifndef CG_CONFIG_IMPL_H
#define CG_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cg_config.h"

/* ---- the key table (cg_config.c): one row per fixed [section] key ---- */

typedef enum {
    CG_KEY_I32,
    CG_KEY_I64,
    CG_KEY_U64,
    CG_KEY_F32,
    CG_KEY_BOOL,
    CG_KEY_ENUM,
    CG_KEY_STR,
    CG_KEY_I32_LIST,
    CG_KEY_F32_LIST,
} cg_config_kind_t;

enum {
    CG_KEY_LO_OPEN = 1u << 0,  /* float range excludes its lower end */
    CG_KEY_HI_OPEN = 1u << 1,  /* ... its upper end */
    CG_KEY_STR_ID = 1u << 2,   /* letters, digits, '-', '_' */
    CG_KEY_STR_PATH = 1u << 3, /* a file path; may continue on indented lines */
    CG_KEY_STR_HOST = 1u << 4, /* a host name or address for a ZeroMQ endpoint */
    CG_KEY_STR_NONEMPTY = 1u << 5,
};

typedef struct {
    const char *section;
    const char *key;
    const char *def; /* the default, spelled as in a config file */
    cg_config_kind_t kind;
    size_t off;       /* offsetof(cg_config_t, field) */
    size_t cap;       /* CG_KEY_STR: buffer bytes; lists: most elements */
    size_t count_off; /* lists: offset of the int32_t element count */
    int64_t ilo, ihi; /* integer range (lists: of each element) */
    double flo, fhi;  /* float range (lists: of each element) */
    unsigned flags;
    const char *const
        *names;       /* CG_KEY_ENUM: names by value; CG_KEY_STR: allowed values; NULL-ended */
    const char *note; /* appended to the hint */
} cg_config_key_t;

extern const cg_config_key_t cg_config_keys[];
extern const size_t cg_config_n_keys;
/* The fixed sections in the order they are written, NULL-ended. */
extern const char *const cg_config_section_names[];
/* Entries of a NULL-ended name list. */
int cg_config_count_names(const char *const *names);
/* Writes k's field of cfg as "key = value" line(s): 0, or -1 for an enum out of its names. */
int cg_config_write_key(FILE *f, const cg_config_t *cfg, const cg_config_key_t *k);

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
