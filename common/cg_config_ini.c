/* cg_config_ini: reading a config's INI text (cg_config_load, cg_config_load_string). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_config_impl.h"

#define S_MAX_VALUE 65536    /* bytes of one value, continuation lines included */
#define S_MAX_PIECES 4096    /* lines of one value */
#define S_MAX_FILE (1 << 20) /* bytes of a config file */

/* The reader: one physical line at a time. A line is blank, a comment (';' or '#' first), a
 * [section], a key = value (or key: value; an inline comment is ';' after a blank), or an
 * indented continuation of the key before it (comments and blank lines between do not end
 * it; in a simulator section only ';' starts a comment there, since a map row starts with
 * '#'). A value is applied when the next key or section starts, or at the end. */
typedef struct {
    cg_config_t *cfg;
    const char *origin;
    int lineno;
    char section[CG_CONFIG_KEY_LEN]; /* the current [section] */
    /* the key being read */
    bool pending;
    char key[CG_CONFIG_KEY_LEN];
    char key_section[CG_CONFIG_KEY_LEN];
    size_t val_len;
    int n_pieces;
    int piece_line[S_MAX_PIECES];
    char val[S_MAX_VALUE];
    char *err;
    size_t errlen;
} s_parse_t;

/* "origin:line: [section] key: " before msg, as every reader message starts. */
static int s_fail(s_parse_t *p, int line, const char *section, const char *key, const char *msg)
{
    cg_status_msg(p->err, p->errlen, "%s:%d: %s%s%s%s%s%s", p->origin, line, section[0] ? "[" : "",
                  section, section[0] ? "]" : "", key[0] ? " " : "", key,
                  section[0] || key[0] ? ": " : "");
    size_t o = strlen(p->err);
    cg_status_msg(p->err + o, p->errlen - o, "%s", msg);
    return -1;
}

/* Cuts an inline comment (';' after a blank) and trailing blanks: the length kept. */
static size_t s_cut_comment(const char *s, size_t len)
{
    for (size_t i = 1; i < len; i++)
        if (s[i] == ';' && cg_config_is_space(s[i - 1])) {
            len = i;
            break;
        }
    while (len > 0 && cg_config_is_space(s[len - 1]))
        len--;
    return len;
}

/* Adds a line's piece to the pending value. */
static int s_append(s_parse_t *p, const char *s, size_t len)
{
    char msg[128];
    if (p->n_pieces >= S_MAX_PIECES) {
        snprintf(msg, sizeof msg, "value spans more than %d lines (hint: shorten it)",
                 S_MAX_PIECES);
        return s_fail(p, p->lineno, p->key_section, p->key, msg);
    }
    if (p->val_len + len + 2 > sizeof p->val) {
        snprintf(msg, sizeof msg, "value is longer than %zu characters (hint: shorten it)",
                 sizeof p->val - 2);
        return s_fail(p, p->lineno, p->key_section, p->key, msg);
    }
    p->piece_line[p->n_pieces++] = p->lineno;
    if (p->n_pieces > 1)
        p->val[p->val_len++] = '\n';
    memcpy(p->val + p->val_len, s, len);
    p->val_len += len;
    p->val[p->val_len] = '\0';
    return 0;
}

/* Applies the pending key, if any. */
static int s_flush(s_parse_t *p)
{
    if (!p->pending)
        return 0;
    p->pending = false;
    char msg[CG_CONFIG_MSG_LEN];
    int piece = 0;
    if (cg_config_apply(p->cfg, p->key_section, p->key, p->val, p->origin, p->piece_line[0], &piece,
                        msg, sizeof msg) == 0)
        return 0;
    int line = piece >= 0 && piece < p->n_pieces ? p->piece_line[piece] : p->piece_line[0];
    return s_fail(p, line, p->key_section, p->key, msg);
}

static int s_syntax_error(s_parse_t *p)
{
    return s_fail(p, p->lineno, p->section, "",
                  "syntax error (hint: a line is '[section]', 'key = value', a comment "
                  "starting with ';' or '#', or an indented continuation)");
}

/* A [section] line (body starts with '['). */
static int s_section_line(s_parse_t *p, const char *body, size_t blen)
{
    const char *close = memchr(body, ']', blen);
    if (!close)
        return s_syntax_error(p);
    char name[CG_CONFIG_KEY_LEN], hint[256], msg[CG_CONFIG_MSG_LEN];
    const size_t sl = (size_t)(close - body - 1);
    snprintf(name, sizeof name, "%.*s", (int)(sl < sizeof name ? sl : sizeof name - 1), body + 1);
    if (sl >= sizeof name || (!cg_config_section_known(name) && !cg_config_sim_section_ok(name))) {
        cg_config_sections(hint, sizeof hint);
        snprintf(msg, sizeof msg,
                 "unknown section (hint: the sections are %s, or a simulator's own, named in "
                 "lower case like [gridworld])",
                 hint);
        return s_fail(p, p->lineno, name, "", msg);
    }
    if (cg_config_sim_section_ok(name) && /* recorded, so that its name is checked later */
        cg_config_sim_put(p->cfg, name, "", "", p->origin, p->lineno, msg, sizeof msg) != CG_OK)
        return s_fail(p, p->lineno, name, "", msg);
    snprintf(p->section, sizeof p->section, "%s", name);
    if (strcmp(name, "constraints") == 0)
        p->cfg->constraints_explicit = true; /* even an empty section is explicit */
    return 0;
}

/* A key = value line. */
static int s_key_line(s_parse_t *p, const char *body, size_t blen)
{
    size_t klen = strcspn(body, "=:;");
    if (klen >= blen || body[klen] == ';')
        return s_syntax_error(p);
    const char *value = body + klen + 1;
    while (klen > 0 && cg_config_is_space(body[klen - 1]))
        klen--;
    if (klen >= sizeof p->key) {
        char key[48];
        snprintf(key, sizeof key, "%.40s...", body);
        return s_fail(p, p->lineno, p->section, key,
                      "key name is too long (hint: keys are short names; see docs/config.md)");
    }
    memcpy(p->key, body, klen);
    p->key[klen] = '\0';
    memcpy(p->key_section, p->section, sizeof p->section);
    size_t vlen = blen - (size_t)(value - body);
    while (vlen > 0 && cg_config_is_space(*value))
        value++, vlen--;
    p->pending = true;
    p->val_len = 0;
    p->val[0] = '\0';
    p->n_pieces = 0;
    /* a value that is only a comment is empty */
    return s_append(p, value, vlen > 0 && *value == ';' ? 0 : s_cut_comment(value, vlen));
}

static int s_line(s_parse_t *p, const char *line, size_t n)
{
    if (memchr(line, '\0', n))
        return s_fail(p, p->lineno, "", "",
                      "line contains a NUL byte (hint: a config is a text file)");
    if (p->lineno == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3, n -= 3; /* UTF-8 byte order mark */
    size_t lead = 0;
    while (lead < n && cg_config_is_space(line[lead]))
        lead++;
    const char *body = line + lead;
    size_t blen = n - lead;
    while (blen > 0 && cg_config_is_space(body[blen - 1]))
        blen--;
    if (blen == 0)
        return 0;
    if (p->pending && lead > 0) {
        const bool sim_text = cg_config_sim_section_ok(p->key_section);
        if (body[0] == ';' || (body[0] == '#' && !sim_text))
            return 0;
        return s_append(p, body, s_cut_comment(body, blen));
    }
    if (body[0] == ';' || body[0] == '#')
        return 0;
    if (s_flush(p) != 0)
        return -1;
    return body[0] == '[' ? s_section_line(p, body, blen) : s_key_line(p, body, blen);
}

static cg_status_t s_load_text(cg_config_t *cfg, const char *text, size_t len, const char *origin,
                               char *err, size_t errlen)
{
    s_parse_t *p = cg_calloc(1, sizeof *p);
    cg_config_t *work = cg_calloc(1, sizeof *work);
    *work = *cfg; /* cfg changes only if the whole text is valid */
    p->cfg = work;
    p->origin = origin;
    p->err = err;
    p->errlen = errlen;
    int rc = 0;
    for (size_t pos = 0; rc == 0 && pos < len;) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        const size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        p->lineno++;
        rc = s_line(p, line, n);
    }
    if (rc == 0)
        rc = s_flush(p);
    if (rc == 0)
        *cfg = *work;
    free(work);
    free(p);
    return rc == 0 ? CG_OK : CG_ERR_INVAL;
}

cg_status_t cg_config_load_string(cg_config_t *cfg, const char *text, const char *origin, char *err,
                                  size_t errlen)
{
    CG_ASSERT(cfg && text);
    return s_load_text(cfg, text, strlen(text), origin ? origin : "<string>", err, errlen);
}

cg_status_t cg_config_load(cg_config_t *cfg, const char *path, char *err, size_t errlen)
{
    CG_ASSERT(cfg && path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        cg_status_msg(err, errlen, "%s: cannot open: %s (hint: check the path given to --config)",
                      path, strerror(errno));
        return CG_ERR_IO;
    }
    char *text = cg_calloc(S_MAX_FILE + 1, 1);
    size_t len = fread(text, 1, S_MAX_FILE + 1, f);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    cg_status_t st;
    if (read_errno) {
        cg_status_msg(err, errlen, "%s: cannot read: %s (hint: the config must be a readable file)",
                      path, strerror(read_errno));
        st = CG_ERR_IO;
    } else if (len > S_MAX_FILE) {
        cg_status_msg(err, errlen, "%s: larger than %d bytes (hint: is this a config file?)", path,
                      S_MAX_FILE);
        st = CG_ERR_INVAL;
    } else {
        st = s_load_text(cfg, text, len, path, err, errlen);
    }
    free(text);
    return st;
}
