/* cg_config_sim: the simulator sections' store (cg_config.h, "simulator sections"): each
 * [section] key = value as text with the file:line it came from, in one fixed-size pool so
 * that a config stays one flat, copyable struct. The simulator layer checks the values. */
#include <stdint.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_config_impl.h"

const cg_config_entry_t *cg_config_sim_find(const cg_config_t *cfg, const char *section,
                                            const char *key)
{
    CG_ASSERT(cfg && section && key);
    for (int32_t i = 0; i < cfg->n_sim_entries; i++)
        if (strcmp(cfg->sim_entries[i].section, section) == 0 &&
            strcmp(cfg->sim_entries[i].key, key) == 0)
            return &cfg->sim_entries[i];
    return NULL;
}

/* Appends s to the text pool; its offset, or UINT32_MAX when it does not fit. */
static uint32_t s_pool_add(cg_config_t *cfg, const char *s)
{
    size_t len = strlen(s) + 1;
    if (cfg->sim_text_len > sizeof cfg->sim_text || len > sizeof cfg->sim_text - cfg->sim_text_len)
        return UINT32_MAX;
    uint32_t at = cfg->sim_text_len;
    memcpy(cfg->sim_text + at, s, len);
    cfg->sim_text_len += (uint32_t)len;
    return at;
}

/* Rewrites the pool with only the strings the entries use (replaced values leave garbage). */
static void s_pool_compact(cg_config_t *cfg)
{
    char *old = cg_calloc(1, sizeof cfg->sim_text);
    memcpy(old, cfg->sim_text, sizeof cfg->sim_text);
    cfg->sim_text_len = 0;
    for (int32_t i = 0; i < cfg->n_sim_entries; i++) {
        cg_config_entry_t *e = &cfg->sim_entries[i];
        e->origin = s_pool_add(cfg, old + e->origin);
        e->value = s_pool_add(cfg, old + e->value);
    }
    free(old);
}

/* Whether a simulator value holds what INI reads as a comment: a ';' first in a row (blanks
 * aside) or after a blank. The INI reader never hands such a value over (it cuts comments),
 * but --set and code can, and cg_config_write could not write it. */
static bool s_sim_value_comment(const char *v)
{
    bool row_start = true;
    for (size_t i = 0; v[i]; i++) {
        if (v[i] == ';' && (row_start || cg_config_is_space(v[i - 1])))
            return true;
        if (v[i] == '\n')
            row_start = true;
        else if (!cg_config_is_space(v[i]))
            row_start = false;
    }
    return false;
}

cg_status_t cg_config_sim_put(cg_config_t *cfg, const char *section, const char *key,
                              const char *value, const char *origin, int32_t line, char *err,
                              size_t errlen)
{
    CG_ASSERT(cfg && section && key && value && origin);
    if (strlen(section) >= CG_NAME_LEN || strlen(key) >= CG_NAME_LEN) {
        cg_status_msg(err, errlen, "[%.40s] %.40s: name too long (hint: at most %d characters)",
                      section, key, CG_NAME_LEN - 1);
        return CG_ERR_INVAL;
    }
    if (s_sim_value_comment(value)) {
        cg_status_msg(
            err, errlen,
            "a ';' at the start of a row or after a space starts a comment in INI, so "
            "cg_config_write's copy would lose the rest (hint: leave ';' out of simulator "
            "values)");
        return CG_ERR_INVAL;
    }
    cg_config_entry_t *e = (cg_config_entry_t *)cg_config_sim_find(cfg, section, key);
    if (!e && cfg->n_sim_entries >= CG_SIM_ENTRIES) {
        cg_status_msg(err, errlen,
                      "more than %d simulator settings (hint: a simulator section "
                      "holds a few keys; remove unused ones)",
                      CG_SIM_ENTRIES);
        return CG_ERR_TOOBIG;
    }
    for (int pass = 0; pass < 2; pass++) {
        uint32_t used = cfg->sim_text_len;
        uint32_t o = s_pool_add(cfg, origin), v = o == UINT32_MAX ? o : s_pool_add(cfg, value);
        if (v != UINT32_MAX) {
            if (!e) {
                e = &cfg->sim_entries[cfg->n_sim_entries++];
                memset(e, 0, sizeof *e);
                snprintf(e->section, sizeof e->section, "%s", section);
                snprintf(e->key, sizeof e->key, "%s", key);
            }
            e->line = line;
            e->origin = o;
            e->value = v;
            return CG_OK;
        }
        cfg->sim_text_len = used;
        if (pass == 0)
            s_pool_compact(cfg);
    }
    cg_status_msg(err, errlen,
                  "the simulator settings exceed %d bytes (hint: shorten the long values)",
                  CG_SIM_TEXT_LEN);
    return CG_ERR_TOOBIG;
}

void cg_config_sim_remove(cg_config_t *cfg, const char *section, const char *key)
{
    const cg_config_entry_t *e = cg_config_sim_find(cfg, section, key);
    if (!e)
        return;
    const int32_t i = (int32_t)(e - cfg->sim_entries);
    memmove(&cfg->sim_entries[i], &cfg->sim_entries[i + 1],
            (size_t)(cfg->n_sim_entries - i - 1) * sizeof *e);
    cfg->n_sim_entries--; /* its strings stay in the pool until the next compaction */
}

/* Finish-time sanity of the store (it may have been filled in code). */
int cg_config_check_sim_store(const cg_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->n_sim_entries < 0 || cfg->n_sim_entries > CG_SIM_ENTRIES ||
        cfg->sim_text_len > sizeof cfg->sim_text ||
        (cfg->sim_text_len > 0 && cfg->sim_text[cfg->sim_text_len - 1] != '\0')) {
        cg_status_msg(err, errlen,
                      "simulator sections: the store is corrupt (hint: a bug in cgrpo)");
        return -1;
    }
    for (int32_t i = 0; i < cfg->n_sim_entries; i++) {
        const cg_config_entry_t *e = &cfg->sim_entries[i];
        if (e->origin >= cfg->sim_text_len || e->value >= cfg->sim_text_len ||
            !memchr(e->section, '\0', sizeof e->section) || !memchr(e->key, '\0', sizeof e->key) ||
            !cg_config_sim_section_ok(e->section)) {
            cg_status_msg(err, errlen,
                          "simulator section entry %d is invalid (hint: a bug in cgrpo)", i);
            return -1;
        }
    }
    return 0;
}

/* Each simulator section with keys, in the order first seen; a value of several rows goes
 * on indented lines (read back as the same rows). */
void cg_config_write_sim_sections(FILE *f, const cg_config_t *cfg)
{
    for (int32_t i = 0; i < cfg->n_sim_entries; i++) {
        const char *sec = cfg->sim_entries[i].section;
        int first = 1;
        for (int32_t j = 0; j < i && first; j++)
            first = strcmp(cfg->sim_entries[j].section, sec) != 0;
        if (!first)
            continue;
        for (int32_t j = i; j < cfg->n_sim_entries; j++) {
            const cg_config_entry_t *e = &cfg->sim_entries[j];
            if (strcmp(e->section, sec) != 0 || !e->key[0])
                continue;
            if (first)
                fprintf(f, "\n[%s]\n", sec);
            first = 0;
            const char *v = cg_config_sim_value(cfg, e);
            if (!strchr(v, '\n')) { /* one row: on the key's line */
                fprintf(f, "%s =%s%s\n", e->key, v[0] ? " " : "", v);
                continue;
            }
            fprintf(f, "%s =\n", e->key);
            for (const char *r = v; *r;) {
                size_t len = strcspn(r, "\n");
                if (len > 0)
                    fprintf(f, "    %.*s\n", (int)len, r);
                r += len + (r[len] == '\n');
            }
        }
    }
}
