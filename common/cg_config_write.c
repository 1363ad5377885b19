/* cg_config_write: a config as INI text, every key of the table in section order (long
 * paths and lists wrapped on indented lines that the reader joins back), then the
 * [constraints] and simulator sections. What it writes reads back as the same config. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cg_config_impl.h"
#include "cg_log.h"

#define S_WRAP 72 /* lines are kept about this short */

/* Whether a path may be cut before s[i] (0 < i < strlen(s)): continuation lines are trimmed,
 * and one starting with '#' or ';' is a comment. */
static bool s_path_cut_ok(const char *s, size_t i)
{
    return !cg_config_is_space(s[i - 1]) && !cg_config_is_space(s[i]) && s[i] != '#' && s[i] != ';';
}

/* Writes "key = s", a long s as its first piece there and the others on indented lines,
 * which read back concatenated: each cut at the last safe place within S_WRAP columns, or at
 * the first one after. */
static void s_write_path(FILE *f, const char *key, const char *s)
{
    size_t len = strlen(s), at = 0, head = strlen(key) + 3; /* "key = " */
    size_t width = head < S_WRAP - 16 ? S_WRAP - head : 16;
    if (len == 0)
        fprintf(f, "%s =\n", key);
    while (at < len) {
        size_t cut = len - at <= width ? len : at + width;
        while (cut < len && cut > at + 1 && !s_path_cut_ok(s, cut))
            cut--;
        if (cut < len && !s_path_cut_ok(s, cut)) { /* none within the width: the next one */
            cut = at + width + 1;
            while (cut < len && !s_path_cut_ok(s, cut))
                cut++;
        }
        fprintf(f, at == 0 ? "%s = %.*s\n" : "%s    %.*s\n", at == 0 ? key : "", (int)(cut - at),
                s + at);
        at = cut;
        width = S_WRAP - 4;
    }
}

int cg_config_write_key(FILE *f, const cg_config_t *cfg, const cg_config_key_t *k)
{
    const char *base = (const char *)cfg + k->off;
    char num[64];
    switch (k->kind) {
    case CG_KEY_I32: {
        int32_t v;
        memcpy(&v, base, sizeof v);
        fprintf(f, "%s = %d\n", k->key, v);
        return 0;
    }
    case CG_KEY_I64: {
        int64_t v;
        memcpy(&v, base, sizeof v);
        fprintf(f, "%s = %" PRId64 "\n", k->key, v);
        return 0;
    }
    case CG_KEY_U64: {
        uint64_t v;
        memcpy(&v, base, sizeof v);
        fprintf(f, "%s = %" PRIu64 "\n", k->key, v);
        return 0;
    }
    case CG_KEY_F32: {
        float v;
        memcpy(&v, base, sizeof v);
        cg_config_fmt_float(num, sizeof num, v);
        fprintf(f, "%s = %s\n", k->key, num);
        return 0;
    }
    case CG_KEY_BOOL: {
        bool v;
        memcpy(&v, base, sizeof v);
        fprintf(f, "%s = %s\n", k->key, v ? "true" : "false");
        return 0;
    }
    case CG_KEY_ENUM: {
        int v;
        memcpy(&v, base, sizeof v);
        if (v < 0 || v >= cg_config_count_names(k->names))
            return -1;
        fprintf(f, "%s = %s\n", k->key, k->names[v]);
        return 0;
    }
    case CG_KEY_STR: s_write_path(f, k->key, base); return 0;
    case CG_KEY_I32_LIST:
    case CG_KEY_F32_LIST: {
        int32_t count;
        memcpy(&count, (const char *)cfg + k->count_off, sizeof count);
        fprintf(f, "%s =", k->key);
        size_t col = strlen(k->key) + 2;
        for (int32_t i = 0; i < count; i++) {
            if (k->kind == CG_KEY_F32_LIST) {
                float v;
                memcpy(&v, base + (size_t)i * sizeof v, sizeof v);
                cg_config_fmt_float(num, sizeof num, v);
            } else {
                int32_t v;
                memcpy(&v, base + (size_t)i * sizeof v, sizeof v);
                snprintf(num, sizeof num, "%d", v);
            }
            if (i > 0 && col + strlen(num) + 1 > S_WRAP) {
                fprintf(f, ",\n    %s", num);
                col = 4 + strlen(num);
            } else {
                fprintf(f, "%s%s", i ? "," : " ", num);
                col += strlen(num) + 1;
            }
        }
        fprintf(f, "\n");
        return 0;
    }
    }
    return -1;
}

cg_status_t cg_config_write(const cg_config_t *cfg, const char *path)
{
    CG_ASSERT(cfg && path);
    FILE *f = fopen(path, "w");
    if (!f) {
        CG_ERROR("cannot write config %s: %s (hint: check the run directory)", path,
                 strerror(errno));
        return CG_ERR_IO;
    }
    cg_status_t st = CG_OK;
    fprintf(f, "; cgrpo configuration: every key of the run, written by cgrpo.\n"
               "; Load it back with --config to repeat the run (docs/config.md).\n");
    for (int s = 0; cg_config_section_names[s]; s++) {
        const char *sec = cg_config_section_names[s];
        if (strcmp(sec, "constraints") == 0) {
            cg_config_write_constraints(f, cfg);
            continue;
        }
        fprintf(f, "\n[%s]\n", sec);
        for (size_t i = 0; i < cg_config_n_keys; i++) {
            if (strcmp(cg_config_keys[i].section, sec) != 0)
                continue;
            if (cg_config_write_key(f, cfg, &cg_config_keys[i]) != 0) {
                CG_ERROR("config %s: [%s] %s cannot be written as INI", path, sec,
                         cg_config_keys[i].key);
                st = CG_ERR_INVAL;
            }
        }
    }
    cg_config_write_sim_sections(f, cfg);
    if (ferror(f)) {
        CG_ERROR("cannot write config %s: %s", path, strerror(errno));
        st = CG_ERR_IO;
    }
    if (fclose(f) != 0 && st == CG_OK) {
        CG_ERROR("cannot write config %s: %s", path, strerror(errno));
        st = CG_ERR_IO;
    }
    return st;
}
