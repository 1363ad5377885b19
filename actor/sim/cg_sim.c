/* cg_sim: the simulator registry, plugin loading with ABI checks, the simulator sections of
 * a config checked against a simulator's key table, and instances whose every output is
 * checked before anyone uses it. Adding a built-in simulator is one line in S_REGISTRY;
 * a simulator of one's own is better a plugin (docs/simulators.md). */
#include "cg_sim.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_alloc.h"
#include "cg_os.h"

_Static_assert(CG_SIM_MAX_COSTS == CG_MAX_COSTS, "cgrpo/sim.h and cg_config.h agree on K");
_Static_assert((long long)CG_SIM_MAX_ABS_OBS == (long long)CG_MAX_ABS_OBS,
               "cgrpo/sim.h and cg_config.h agree on the observation bound");
_Static_assert(CG_SIM_NAME_LEN == CG_NAME_LEN, "cgrpo/sim.h and cg_config.h agree on names");
_Static_assert((int)CG_SIM_STAT_GOAL_RATE == (int)CG_ENV_STAT_GOAL_RATE, "stat codes agree");
_Static_assert((int)CG_SIM_STAT_REWARD_MEAN == (int)CG_ENV_STAT_REWARD_MEAN, "stat codes agree");

/* The registry: one X(name) per simulator, each defined as cg_sim_<name> in actor/sim/<name>.c.
 * The first entry is the default simulator. */
#define S_REGISTRY(X, SEP)                                                                         \
    X(gridworld) SEP X(instruct)                                                                   \
    SEP X(navigation)                                                                              \
    SEP X(null)                                                                                    \
    SEP X(sleep)                                                                                   \
    SEP X(external)

#define S_DECLARE(name) extern const cg_sim_table_t cg_sim_##name;
#define S_ENTRY(name) &cg_sim_##name
#define S_STRING(name) #name
#define S_COMMA ,

S_REGISTRY(S_DECLARE, )
static const cg_sim_table_t *const s_registry[] = {S_REGISTRY(S_ENTRY, S_COMMA)};
static const char s_names[] = S_REGISTRY(S_STRING, ", ");
#define S_N_SIMS ((int32_t)(sizeof s_registry / sizeof s_registry[0]))

#define S_ERR_LEN 2048

struct cg_sim_kind {
    const cg_sim_table_t *t;
    void *dl;                      /* plugin handle (dlclose on destroy), NULL built in */
    char origin[CG_PATH_LEN + 16]; /* "plugin /path" or "built-in" */
    cg_sim_value_t values[CG_SIM_MAX_KEYS];
    char *texts[CG_SIM_MAX_KEYS]; /* owned copies behind values[k].s */
    cg_sim_params_t params;
    cg_sim_info_t info;
};

struct cg_sim {
    const cg_sim_kind_t *kind;
    cg_sim_kind_t *owned_kind; /* cg_sim_new's */
    void *ctx;                 /* the simulator's own state, freed by its destroy */
    int32_t n, obs_dim;
    int32_t *steps;    /* (n) steps of the running episode, -1 = not running */
    uint8_t *finished; /* (n) an episode ended and its result may be read */
    float *scratch;    /* (n, obs_dim) rows for the one-instance step */
    uint8_t *done;     /* (n) */
    int broken;        /* a rule was broken: every later call fails */
    char err[S_ERR_LEN];
};

/* ---- crashes inside a plugin --------------------------------------------------------- */

/* A plugin that crashes takes the process down; this says which and where first. Set once a
 * plugin is loaded (process-wide by nature, like the signal disposition itself). */
static char s_crash_text[CG_PATH_LEN + 128];
static const char *volatile s_crash_phase = "load";
static volatile sig_atomic_t s_crash_armed;

static void s_crash_handler(int sig)
{
    static const char head[] = "cgrpo: simulator ";
    static const char mid[] = " crashed (signal ";
    static const char tail[] = ") in its ";
    static const char hint[] = " (hint: fix or rebuild the plugin; run the actor under gdb "
                               "to see where)\n";
    char num[8];
    int n = 0, s = sig;
    do {
        num[n++] = (char)('0' + s % 10);
        s /= 10;
    } while (s > 0 && n < 7);
    ssize_t w = write(STDERR_FILENO, head, sizeof head - 1);
    w = write(STDERR_FILENO, s_crash_text, strlen(s_crash_text));
    w = write(STDERR_FILENO, mid, sizeof mid - 1);
    while (n > 0)
        w = write(STDERR_FILENO, &num[--n], 1);
    w = write(STDERR_FILENO, tail, sizeof tail - 1);
    w = write(STDERR_FILENO, s_crash_phase, strlen(s_crash_phase));
    w = write(STDERR_FILENO, hint, sizeof hint - 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void s_crash_arm(const char *origin)
{
    snprintf(s_crash_text, sizeof s_crash_text, "%s", origin);
    if (s_crash_armed)
        return;
    s_crash_armed = 1;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = s_crash_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigaction(sigs[k], &sa, NULL);
    }
}

#define S_PHASE(self, name) ((void)((self)->dl ? (s_crash_phase = (name)) : NULL))

/* ---- checking a table ---------------------------------------------------------------- */

static int s_ident_ok(const char *s, size_t cap, int upper_ok)
{
    if (!s || !memchr(s, '\0', cap))
        return 0;
    size_t len = strlen(s);
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '_' || (upper_ok && isupper(c))))
            return 0;
    }
    return 1;
}

static int s_table_ok(const cg_sim_table_t *t, const char *origin, char *err, size_t errlen)
{
    const char *hint = "(hint: fix the simulator's table, see cgrpo/sim.h)";
    if (!s_ident_ok(t->name, CG_SIM_NAME_LEN, 0)) {
        cg_status_msg(err, errlen, "%s: the table's name is not 1 to %d of [a-z0-9_] %s", origin,
                      CG_SIM_NAME_LEN - 1, hint);
        return -1;
    }
    /* A table without create describes an environment stepped outside cgrpo: then it has
     * none of the instance functions. */
    const int outside =
        !t->create && !t->destroy && !t->reset && !t->step && !t->step_continuous && !t->result;
    if (!t->describe || (!outside && (!t->create || !t->destroy || !t->reset || !t->result ||
                                      !t->step == !t->step_continuous))) {
        cg_status_msg(err, errlen,
                      "simulator %s (%s): the table lacks one of describe, create, "
                      "destroy, reset, result, or has not exactly one of step and "
                      "step_continuous %s",
                      t->name, origin, hint);
        return -1;
    }
    if (t->n_keys < 0 || t->n_keys > CG_SIM_MAX_KEYS || (t->n_keys > 0 && !t->keys)) {
        cg_status_msg(err, errlen, "simulator %s (%s): %d keys, at most %d %s", t->name, origin,
                      t->n_keys, CG_SIM_MAX_KEYS, hint);
        return -1;
    }
    for (int32_t k = 0; k < t->n_keys; k++) {
        const cg_sim_key_t *key = &t->keys[k];
        if (!s_ident_ok(key->name, CG_SIM_NAME_LEN, 0) || key->type < CG_SIM_INT ||
            key->type > CG_SIM_TEXT || !key->def) {
            cg_status_msg(err, errlen,
                          "simulator %s (%s): key %d has an invalid name, type or "
                          "no default %s",
                          t->name, origin, k, hint);
            return -1;
        }
        for (int32_t j = 0; j < k; j++)
            if (!strcmp(t->keys[j].name, key->name)) {
                cg_status_msg(err, errlen, "simulator %s (%s): key %s twice %s", t->name, origin,
                              key->name, hint);
                return -1;
            }
    }
    if (t->n_metrics < 0 || t->n_metrics > CG_ENV_MAX_METRICS ||
        (t->n_metrics > 0 && !t->metrics)) {
        cg_status_msg(err, errlen, "simulator %s (%s): %d metrics, at most %d %s", t->name, origin,
                      t->n_metrics, CG_ENV_MAX_METRICS, hint);
        return -1;
    }
    for (int32_t k = 0; k < t->n_metrics; k++)
        if (!s_ident_ok(t->metrics[k].name, CG_SIM_NAME_LEN, 0) ||
            (t->metrics[k].stat != CG_SIM_STAT_GOAL_RATE &&
             t->metrics[k].stat != CG_SIM_STAT_REWARD_MEAN)) {
            cg_status_msg(err, errlen,
                          "simulator %s (%s): metric %d has an invalid name or "
                          "statistic %s",
                          t->name, origin, k, hint);
            return -1;
        }
    int hooks = !!t->eval_begin + !!t->eval_episode + !!t->eval_report + !!t->eval_end;
    if (hooks != 0 && hooks != 4) {
        cg_status_msg(err, errlen,
                      "simulator %s (%s): give all four eval hooks (begin, episode, "
                      "report, end) or none %s",
                      t->name, origin, hint);
        return -1;
    }
    return 0;
}

/* ---- finding the table --------------------------------------------------------------- */

static const cg_sim_table_t *s_builtin_find(const char *name)
{
    for (int32_t k = 0; k < S_N_SIMS; k++)
        if (!strcasecmp(s_registry[k]->name, name)) /* names match in any case, as choices do */
            return s_registry[k];
    return NULL;
}

static int s_load_plugin(cg_sim_kind_t *self, const char *path, char *err, size_t errlen)
{
    const char *rebuild = "rebuild it against this cgrpo's cgrpo/sim.h: cc -shared -fPIC "
                          "mysim.c $(pkg-config --cflags cgrpo) -o libmysim.so";
    if (access(path, R_OK) != 0) {
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s: %s (hint: build the plugin, or give its "
                      "path on this host; every actor's host needs it at the same path)",
                      path, strerror(errno));
        return -1;
    }
    /* Loading runs the library's code, and an actor loads the path its learner names: only
     * a regular file of this user (or root) that others cannot rewrite. */
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s is not a regular file (hint: name the "
                      "plugin's .so itself)",
                      path);
        return -1;
    }
    if ((st.st_uid != getuid() && st.st_uid != 0) || (st.st_mode & S_IWOTH)) {
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s is %s, so cgrpo will not load it (hint: "
                      "a plugin must belong to the user running cgrpo, or root, and not be "
                      "writable by others: chown/chmod o-w it)",
                      path,
                      (st.st_mode & S_IWOTH) ? "writable by every user" : "owned by another user");
        return -1;
    }
    snprintf(self->origin, sizeof self->origin, "plugin %s", path);
    s_crash_arm(self->origin);
    s_crash_phase = "constructor (dlopen)";
    dlerror();
    self->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!self->dl) {
        const char *why = dlerror();
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s does not load as a shared library: %s "
                      "(hint: %s)",
                      path, why ? why : "unknown error", rebuild);
        return -1;
    }
    dlerror();
    void *sym = dlsym(self->dl, CG_SIM_PLUGIN_SYMBOL);
    if (!sym) {
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s does not export %s() (hint: define "
                      "`CG_SIM_EXPORT const cg_sim_table_t *%s(void)` returning the "
                      "simulator's table, see docs/simulators.md)",
                      path, CG_SIM_PLUGIN_SYMBOL, CG_SIM_PLUGIN_SYMBOL);
        return -1;
    }
    cg_sim_plugin_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, as POSIX dlsym allows */
    s_crash_phase = CG_SIM_PLUGIN_SYMBOL "()";
    const cg_sim_table_t *t = entry();
    if (!t) {
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s: %s() returned NULL (hint: return the "
                      "address of the simulator's table)",
                      path, CG_SIM_PLUGIN_SYMBOL);
        return -1;
    }
    if (t->abi_version != CG_SIM_ABI_VERSION) {
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s was built for simulator ABI version %u, "
                      "this cgrpo speaks version %u (hint: %s)",
                      path, t->abi_version, CG_SIM_ABI_VERSION, rebuild);
        return -1;
    }
    if (t->struct_size != sizeof(cg_sim_table_t)) {
        cg_status_msg(err, errlen,
                      "[sim] plugin: %s has a table of %u bytes, this cgrpo's is %zu "
                      "(hint: %s)",
                      path, t->struct_size, sizeof(cg_sim_table_t), rebuild);
        return -1;
    }
    self->t = t;
    return 0;
}

/* ---- the config side: values ----------------------------------------------------------- */

/* "path:12: [sec] key" / "--set sec.key" / "[sec] key" (a default), for messages. */
static void s_where(const cg_config_t *cfg, const cg_config_entry_t *e, const char *section,
                    const char *key, char *buf, size_t n)
{
    const char *origin = e ? cg_config_sim_origin(cfg, e) : "";
    if (e && !strcmp(origin, "--set"))
        snprintf(buf, n, "--set %s%s%s", section, e->key[0] ? "." : "", e->key);
    else if (e && e->line > 0)
        snprintf(buf, n, "%s:%d: [%s]%s%s", origin, e->line, section, key[0] ? " " : "", key);
    else
        snprintf(buf, n, "[%s]%s%s", section, key[0] ? " " : "", key);
}

/* The value as a simulator gets it, in out (CG_SIM_MAX_TEXT bytes): text rows (separated by
 * line breaks or '/', so `--set` can give several) trimmed and joined by '\n', empty ones
 * dropped; for other types the rows that are not comments ('#'), which must be one. */
static int s_normalise(const cg_sim_key_t *key, const char *in, char *out, char *msg, size_t n)
{
    size_t o = 0;
    int rows = 0;
    const char *seps = key->type == CG_SIM_TEXT ? "\n/" : "\n";
    for (const char *p = in;;) {
        const char *e = p + strcspn(p, seps);
        while (p < e && isspace((unsigned char)*p))
            p++;
        const char *q = e;
        while (q > p && isspace((unsigned char)q[-1]))
            q--;
        size_t len = (size_t)(q - p);
        if (len > 0 && !(key->type != CG_SIM_TEXT && rows > 0 && *p == '#')) {
            if (o + len + 2 > CG_SIM_MAX_TEXT) {
                cg_status_msg(msg, n, "value is longer than %d characters (hint: shorten it)",
                              CG_SIM_MAX_TEXT - 1);
                return -1;
            }
            if (rows++ > 0)
                out[o++] = '\n';
            memcpy(out + o, p, len);
            o += len;
        }
        if (!*e)
            break;
        p = e + 1;
    }
    out[o] = '\0';
    if (key->type != CG_SIM_TEXT && rows > 1) {
        cg_status_msg(msg, n,
                      "this key takes a single line, but an indented line continues it "
                      "(hint: un-indent the next key)");
        return -1;
    }
    return 0;
}

/* Parses text (normalised) as key's type into v: 0, or -1 with "problem (hint: ...)". */
static int s_parse_value(const cg_sim_key_t *key, const char *text, cg_sim_value_t *v, char *msg,
                         size_t n)
{
    char hint[512];
    memset(v, 0, sizeof *v);
    switch (key->type) {
    case CG_SIM_INT:
        snprintf(hint, sizeof hint, "an integer from %.0f to %.0f; %s", key->lo, key->hi,
                 key->help ? key->help : "");
        break;
    case CG_SIM_FLOAT:
        snprintf(hint, sizeof hint, "a number in [%g, %g]; %s", key->lo, key->hi,
                 key->help ? key->help : "");
        break;
    case CG_SIM_BOOL:
        snprintf(hint, sizeof hint, "true or false; %s", key->help ? key->help : "");
        break;
    default: snprintf(hint, sizeof hint, "%s", key->help ? key->help : "text"); break;
    }
    char *end = NULL;
    errno = 0;
    switch (key->type) {
    case CG_SIM_INT: {
        long long x = strtoll(text, &end, 10);
        if (!text[0] || *end || errno == ERANGE) {
            cg_status_msg(msg, n, "'%.64s' is not an integer (hint: %s)", text, hint);
            return -1;
        }
        if ((double)x < key->lo || (double)x > key->hi) {
            cg_status_msg(msg, n, "%lld is out of range (hint: %s)", x, hint);
            return -1;
        }
        v->i = (int64_t)x;
        return 0;
    }
    case CG_SIM_FLOAT: {
        double x = strtod(text, &end);
        if (!text[0] || *end || errno == ERANGE || !isfinite(x)) {
            cg_status_msg(msg, n, "'%.64s' is not a finite number (hint: %s)", text, hint);
            return -1;
        }
        if (x < key->lo || x > key->hi) {
            cg_status_msg(msg, n, "%.64s is out of range (hint: %s)", text, hint);
            return -1;
        }
        v->f = x;
        return 0;
    }
    case CG_SIM_BOOL: {
        static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0",
                                                                                    "no", "off"};
        for (int k = 0; k < 4; k++) {
            if (!strcasecmp(text, yes[k])) {
                v->i = 1;
                return 0;
            }
            if (!strcasecmp(text, no[k])) {
                v->i = 0;
                return 0;
            }
        }
        cg_status_msg(msg, n, "'%.64s' is not a boolean (hint: %s)", text, hint);
        return -1;
    }
    default:
        for (const unsigned char *c = (const unsigned char *)text; *c; c++)
            if ((*c < 0x20 && *c != '\n') || *c == 0x7f) {
                cg_status_msg(msg, n, "control character 0x%02x (hint: %s)", *c, hint);
                return -1;
            }
        v->s = text;
        return 0;
    }
}

/* A text key may come from a file: `<key>_file = PATH` (e.g. [gridworld] map_file). */
#define S_FILE_SUFFIX "_file"

/* The text key `name` (a `<key>_file` entry) stands for, or -1. */
static int32_t s_file_key(const cg_sim_table_t *t, const char *name)
{
    const size_t n = strlen(name), sl = strlen(S_FILE_SUFFIX);
    if (n <= sl || strcmp(name + n - sl, S_FILE_SUFFIX) != 0)
        return -1;
    for (int32_t k = 0; k < t->n_keys; k++)
        if (t->keys[k].type == CG_SIM_TEXT && strlen(t->keys[k].name) == n - sl &&
            !strncmp(t->keys[k].name, name, n - sl))
            return k;
    return -1;
}

/* Whether a stored value is empty (blanks only). */
static int s_blank(const char *v)
{
    while (*v && isspace((unsigned char)*v))
        v++;
    return *v == '\0';
}

/* The `<key>_file` entry of text key k, when it names a file; NULL otherwise. */
static const cg_config_entry_t *s_file_entry(const cg_sim_table_t *t, int32_t k,
                                             const cg_config_t *cfg)
{
    if (t->keys[k].type != CG_SIM_TEXT)
        return NULL;
    char name[CG_NAME_LEN + 8];
    snprintf(name, sizeof name, "%s%s", t->keys[k].name, S_FILE_SUFFIX);
    const cg_config_entry_t *e = cg_config_sim_find(cfg, t->name, name);
    return e && !s_blank(cg_config_sim_value(cfg, e)) ? e : NULL;
}

/* Reads the file a `<key>_file` entry names: a relative path from the directory of the
 * config file that gave it (from the working directory for --set). NULL with msg. */
static char *s_read_key_file(const cg_config_t *cfg, const cg_config_entry_t *e, char *msg,
                             size_t n)
{
    char name[CG_PATH_LEN], path[2 * CG_PATH_LEN];
    const char *v = cg_config_sim_value(cfg, e), *origin = cg_config_sim_origin(cfg, e);
    while (isspace((unsigned char)*v))
        v++;
    snprintf(name, sizeof name, "%s", v);
    for (size_t l = strlen(name); l > 0 && isspace((unsigned char)name[l - 1]); l--)
        name[l - 1] = '\0';
    const char *slash = strrchr(origin, '/');
    if (name[0] != '/' && e->line > 0 && slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - origin), origin, name);
    else
        snprintf(path, sizeof path, "%s", name);
    size_t len = 0;
    char *text = cg_os_read_file(path, &len);
    if (!text) {
        cg_status_msg(msg, n,
                      "cannot read %s: %s (hint: a relative path is taken from the directory "
                      "of the config file that names it)",
                      path, strerror(errno));
        return NULL;
    }
    if (len >= CG_SIM_MAX_TEXT || strlen(text) != len) {
        cg_status_msg(msg, n, "%s is %s (hint: a text file under %d bytes)", path,
                      strlen(text) != len ? "not text: it holds a NUL byte" : "too long",
                      CG_SIM_MAX_TEXT);
        free(text);
        return NULL;
    }
    return text;
}

/* Parses the table's every key from cfg's [name] section (defaults for missing keys) into
 * values, copies of their texts into texts (when not NULL); refuses keys the table lacks. */
static int s_parse_section(const cg_sim_table_t *t, const cg_config_t *cfg, cg_sim_value_t *values,
                           char **texts, char *err, size_t errlen)
{
    char where[CG_PATH_LEN + 160], msg[768];
    char *norm = cg_calloc(1, CG_SIM_MAX_TEXT);
    int rc = -1;
    for (int32_t i = 0; i < cfg->n_sim_entries; i++) {
        const cg_config_entry_t *e = &cfg->sim_entries[i];
        if (strcmp(e->section, t->name) || !e->key[0])
            continue;
        int32_t k = 0;
        while (k < t->n_keys && strcmp(t->keys[k].name, e->key))
            k++;
        if (k == t->n_keys && s_file_key(t, e->key) < 0) {
            size_t o = 0;
            msg[0] = '\0';
            for (int32_t j = 0; j < t->n_keys && o < sizeof msg; j++)
                o += (size_t)snprintf(msg + o, sizeof msg - o, "%s%s", j ? ", " : "",
                                      t->keys[j].name);
            s_where(cfg, e, e->section, e->key, where, sizeof where);
            cg_status_msg(err, errlen, "%s: unknown key (hint: [%s] has %s)", where, t->name,
                          t->n_keys ? msg : "no keys");
            goto out;
        }
    }
    for (int32_t k = 0; k < t->n_keys; k++) {
        const cg_sim_key_t *key = &t->keys[k];
        const cg_config_entry_t *e = cg_config_sim_find(cfg, t->name, key->name);
        const cg_config_entry_t *ef = s_file_entry(t, k, cfg);
        const char *raw = e ? cg_config_sim_value(cfg, e) : key->def;
        char *file_text = NULL;
        int bad = 0;
        if (ef && e && !s_blank(raw)) {
            cg_status_msg(msg, sizeof msg, "given twice, here and as %s%s (hint: keep one)",
                          key->name, S_FILE_SUFFIX);
            bad = 1;
        } else if (ef) {
            e = ef;
            raw = file_text = s_read_key_file(cfg, ef, msg, sizeof msg);
            bad = !raw;
        }
        bad = bad || s_normalise(key, raw, norm, msg, sizeof msg) ||
              s_parse_value(key, norm, &values[k], msg, sizeof msg);
        free(file_text);
        if (bad) {
            s_where(cfg, e, t->name, e ? e->key : key->name, where, sizeof where);
            cg_status_msg(err, errlen, "%s%s: %s", e ? "" : "the default of ", where, msg);
            goto out;
        }
        if (texts) {
            free(texts[k]);
            texts[k] = cg_strdup(norm);
            if (values[k].s)
                values[k].s = texts[k];
        } else {
            values[k].s = NULL;
        }
    }
    rc = 0;
out:
    free(norm);
    return rc;
}

static int s_info_ok(const cg_sim_kind_t *self, char *err, size_t errlen)
{
    const cg_sim_info_t *in = &self->info;
    const char *who = self->t->name;
    char rule[256] = "";
    if (in->obs_dim < 1 || in->obs_dim > CG_SIM_MAX_OBS)
        snprintf(rule, sizeof rule, "obs_dim %d is not in 1..%d", in->obs_dim, CG_SIM_MAX_OBS);
    else if (in->n_actions < 1 || in->n_actions > CG_SIM_MAX_ACTIONS)
        snprintf(rule, sizeof rule, "n_actions %d is not in 1..%d", in->n_actions,
                 CG_SIM_MAX_ACTIONS);
    else if (in->n_costs < 0 || in->n_costs > CG_SIM_MAX_COSTS)
        snprintf(rule, sizeof rule, "n_costs %d is not in 0..%d", in->n_costs, CG_SIM_MAX_COSTS);
    else if (in->max_steps < 1 || in->max_steps > CG_SIM_MAX_STEPS)
        snprintf(rule, sizeof rule, "max_steps %d is not in 1..%d", in->max_steps,
                 CG_SIM_MAX_STEPS);
    else if (in->continuous != 0 && in->continuous != 1)
        snprintf(rule, sizeof rule, "continuous %d is not 0 or 1", in->continuous);
    else if (cg_sim_kind_runs_here(self) && in->continuous != !!self->t->step_continuous)
        snprintf(rule, sizeof rule,
                 "continuous = %d, but the table's %s is the one set (continuous "
                 "simulators set step_continuous, discrete ones step)",
                 in->continuous, self->t->step ? "step" : "step_continuous");
    for (int32_t k = 0; !rule[0] && k < in->n_costs; k++) {
        const char *c = in->cost_names[k];
        size_t len = strnlen(c, CG_SIM_NAME_LEN);
        if (!s_ident_ok(c, CG_SIM_NAME_LEN, 1) || (len > 7 && !strcmp(c + len - 7, "_lambda")))
            snprintf(rule, sizeof rule,
                     "cost %d's name is not 1 to %d of [A-Za-z0-9_] (not "
                     "ending in _lambda)",
                     k, CG_SIM_NAME_LEN - 1);
        for (int32_t j = 0; !rule[0] && j < k; j++)
            if (!strcmp(in->cost_names[j], c))
                snprintf(rule, sizeof rule, "cost name %s given twice", c);
        float d = in->default_threshold[k];
        if (!rule[0] && !(d < 0.0f || (d >= 0.0f && d <= 1.0f)))
            snprintf(rule, sizeof rule,
                     "cost %s's default threshold %g is not in [0, 1] (or "
                     "negative: none)",
                     c, (double)d);
    }
    if (!rule[0])
        return 0;
    cg_status_msg(err, errlen,
                  "simulator %s (%s): describe broke a rule: %s (hint: fix the "
                  "simulator's describe; the limits are in cgrpo/sim.h)",
                  who, self->origin, rule);
    return -1;
}

/* describe's message, with where the key it names was given in front: a message
 * "[name] key: problem" about a key of the table that the config set becomes
 * "path:12: [name] key: problem" or "--set name.key: problem". */
static void s_describe_error(const cg_sim_table_t *t, const cg_config_t *cfg, const char *why,
                             char *err, size_t errlen)
{
    if (!why[0]) {
        cg_status_msg(err, errlen,
                      "simulator %s: describe failed without a message (hint: "
                      "check its section [%s])",
                      t->name, t->name);
        return;
    }
    size_t nl = strlen(t->name);
    if (why[0] == '[' && !strncmp(why + 1, t->name, nl) && !strncmp(why + 1 + nl, "] ", 2)) {
        const char *key = why + nl + 3;
        size_t kl = strcspn(key, ":");
        for (int32_t k = 0; key[kl] == ':' && k < t->n_keys; k++) {
            if (strlen(t->keys[k].name) != kl || strncmp(t->keys[k].name, key, kl))
                continue;
            const cg_config_entry_t *ef = s_file_entry(t, k, cfg);
            const cg_config_entry_t *e =
                ef ? ef : cg_config_sim_find(cfg, t->name, t->keys[k].name);
            if (!e)
                break;
            char where[CG_PATH_LEN + 160];
            s_where(cfg, e, t->name, e->key, where, sizeof where);
            cg_status_msg(err, errlen, "%s%s%s%s%s", where, ef ? " (" : "",
                          ef ? cg_config_sim_value(cfg, ef) : "", ef ? ")" : "", key + kl);
            return;
        }
    }
    cg_status_msg(err, errlen, "%s", why);
}

/* ---- kinds ---------------------------------------------------------------------------- */

void cg_sim_kind_destroy(cg_sim_kind_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_sim_kind_t *self = *self_p;
    for (int32_t k = 0; k < CG_SIM_MAX_KEYS; k++)
        free(self->texts[k]);
    if (self->dl)
        dlclose(self->dl);
    free(self);
    *self_p = NULL;
}

cg_sim_kind_t *cg_sim_kind_new(const cg_config_t *cfg, char *err, size_t errlen)
{
    CG_ASSERT(cfg);
    if (err && errlen)
        err[0] = '\0';
    cg_sim_kind_t *self = cg_calloc(1, sizeof *self);
    snprintf(self->origin, sizeof self->origin, "built-in");
    if (cfg->sim_plugin[0]) {
        if (s_load_plugin(self, cfg->sim_plugin, err, errlen))
            goto fail;
        if (cfg->sim[0] && strcasecmp(cfg->sim, self->t->name)) {
            cg_status_msg(err, errlen,
                          "[sim] name = %s, but plugin %s is simulator '%s' (hint: "
                          "leave [sim] name empty with a plugin, or set it to %s)",
                          cfg->sim, cfg->sim_plugin, self->t->name, self->t->name);
            goto fail;
        }
    } else {
        const char *name = cfg->sim[0] ? cfg->sim : s_registry[0]->name;
        self->t = s_builtin_find(name);
        if (!self->t) {
            cg_status_msg(err, errlen,
                          "[sim] name: unknown simulator '%s' (hint: the built-in "
                          "simulators are %s; a simulator of your own is a plugin: [sim] plugin "
                          "= path/to/libmysim.so, see docs/simulators.md)",
                          name, s_names);
            goto fail;
        }
    }
    if (s_table_ok(self->t, self->origin, err, errlen) ||
        s_parse_section(self->t, cfg, self->values, self->texts, err, errlen))
        goto fail;
    self->params = (cg_sim_params_t){.values = self->values, .horizon = cfg->horizon};
    S_PHASE(self, "describe");
    char why[S_ERR_LEN] = "";
    if (self->t->describe(&self->params, &self->info, why, sizeof why) != 0) {
        s_describe_error(self->t, cfg, why, err, errlen);
        goto fail;
    }
    if (s_info_ok(self, err, errlen))
        goto fail;
    return self;
fail:
    cg_sim_kind_destroy(&self);
    return NULL;
}

const char *cg_sim_kind_name(const cg_sim_kind_t *self)
{
    CG_ASSERT(self);
    return self->t->name;
}

const cg_sim_info_t *cg_sim_kind_info(const cg_sim_kind_t *self)
{
    CG_ASSERT(self);
    return &self->info;
}

const cg_sim_table_t *cg_sim_kind_table(const cg_sim_kind_t *self)
{
    CG_ASSERT(self);
    return self->t;
}

const cg_sim_params_t *cg_sim_kind_params(const cg_sim_kind_t *self)
{
    CG_ASSERT(self);
    return &self->params;
}

const char *cg_sim_kind_origin(const cg_sim_kind_t *self)
{
    CG_ASSERT(self);
    return self->origin;
}

void cg_sim_kind_env(const cg_sim_kind_t *self, cg_env_spec_t *out)
{
    CG_ASSERT(self && out);
    memset(out, 0, sizeof *out);
    snprintf(out->sim, sizeof out->sim, "%s", self->t->name);
    out->obs_dim = self->info.obs_dim;
    out->n_actions = self->info.n_actions;
    out->n_costs = self->info.n_costs;
    memcpy(out->cost_names, self->info.cost_names, sizeof out->cost_names);
    out->max_steps = self->info.max_steps;
    out->continuous = self->info.continuous;
    out->n_metrics = self->t->n_metrics;
    for (int32_t k = 0; k < self->t->n_metrics; k++) {
        snprintf(out->metrics[k].name, sizeof out->metrics[k].name, "%s", self->t->metrics[k].name);
        out->metrics[k].stat = self->t->metrics[k].stat;
    }
}

/* ---- the config side ------------------------------------------------------------------ */

/* Every section of the store must be the chosen simulator's or a built-in one's (checked
 * against its table too). */
static int s_check_sections(const cg_config_t *cfg, const char *chosen, char *err, size_t errlen)
{
    cg_sim_value_t values[CG_SIM_MAX_KEYS];
    for (int32_t i = 0; i < cfg->n_sim_entries; i++) {
        const cg_config_entry_t *e = &cfg->sim_entries[i];
        int seen = 0;
        for (int32_t j = 0; j < i && !seen; j++)
            seen = !strcmp(cfg->sim_entries[j].section, e->section);
        if (seen || !strcmp(e->section, chosen))
            continue;
        const cg_sim_table_t *t = s_builtin_find(e->section);
        if (t) {
            if (s_parse_section(t, cfg, values, NULL, err, errlen))
                return -1;
            continue;
        }
        char where[CG_PATH_LEN + 160], fixed[256];
        s_where(cfg, e, e->section, "", where, sizeof where);
        cg_config_sections(fixed, sizeof fixed);
        cg_status_msg(err, errlen,
                      "%s: unknown section (hint: the sections are %s and a "
                      "simulator's own: [%s] for this run; the built-in simulators are %s)",
                      where, fixed, chosen, s_names);
        return -1;
    }
    return 0;
}

/* Writes the kind's every key, as parsed, into cfg's section. */
static cg_status_t s_store_values(cg_config_t *cfg, const cg_sim_kind_t *kind, char *err,
                                  size_t errlen)
{
    const cg_sim_table_t *t = kind->t;
    for (int32_t k = 0; k < t->n_keys; k++) {
        /* A text read from `<key>_file` is stored as the key itself (at the _file line), so
         * that the run's config.ini, a resume and the actors' Welcome carry the text. */
        const cg_config_entry_t *ef = s_file_entry(t, k, cfg);
        const cg_config_entry_t *e = ef ? ef : cg_config_sim_find(cfg, t->name, t->keys[k].name);
        char origin[CG_PATH_LEN], num[64];
        int32_t line = e ? e->line : 0;
        snprintf(origin, sizeof origin, "%s", e ? cg_config_sim_origin(cfg, e) : "default");
        const char *text = kind->texts[k];
        if (t->keys[k].type == CG_SIM_BOOL) {
            snprintf(num, sizeof num, "%s", kind->values[k].i ? "true" : "false");
            text = num;
        }
        char why[512];
        if (cg_config_sim_put(cfg, t->name, t->keys[k].name, text, origin, line, why, sizeof why) !=
            CG_OK) {
            cg_status_msg(err, errlen, "[%s] %s: %s", t->name, t->keys[k].name, why);
            return CG_ERR_TOOBIG;
        }
        if (t->keys[k].type == CG_SIM_TEXT) {
            char name[CG_NAME_LEN + 8];
            snprintf(name, sizeof name, "%s%s", t->keys[k].name, S_FILE_SUFFIX);
            cg_config_sim_remove(cfg, t->name, name);
        }
    }
    return CG_OK;
}

cg_status_t cg_sim_configure(cg_config_t *cfg, char *err, size_t errlen)
{
    CG_ASSERT(cfg);
    cg_sim_kind_t *kind = cg_sim_kind_new(cfg, err, errlen);
    if (!kind)
        return CG_ERR_INVAL;
    cg_status_t rc = CG_ERR_INVAL;
    const cg_sim_info_t *info = &kind->info;
    if (cfg->sim_plugin[0]) {
        char abs[PATH_MAX];
        if (realpath(cfg->sim_plugin, abs) && strlen(abs) < sizeof cfg->sim_plugin)
            memcpy(cfg->sim_plugin, abs, strlen(abs) + 1);
    }
    snprintf(cfg->sim, sizeof cfg->sim, "%s", kind->t->name);
    if (s_check_sections(cfg, kind->t->name, err, errlen))
        goto out;
    if ((rc = s_store_values(cfg, kind, err, errlen)) != CG_OK)
        goto out;
    rc = CG_ERR_INVAL;
    if (info->max_steps > cfg->max_steps_per_episode) {
        cg_status_msg(err, errlen,
                      "[sim] %s runs episodes of up to %d steps, above [learner] "
                      "max_episode_steps = %d (hint: the learner would reject them; raise "
                      "max_episode_steps or lower the episode cap, e.g. [sim] horizon)",
                      kind->t->name, info->max_steps, cfg->max_steps_per_episode);
        goto out;
    }
    if (!cfg->constraints_explicit && cfg->n_constraints == 0)
        for (int32_t k = 0; k < info->n_costs; k++) {
            if (info->default_threshold[k] < 0.0f)
                continue;
            cg_constraint_t *c = &cfg->constraints[cfg->n_constraints++];
            memset(c, 0, sizeof *c);
            snprintf(c->name, sizeof c->name, "%s", info->cost_names[k]);
            c->threshold = info->default_threshold[k];
            c->fixed_lambda = 0.1f;
        }
    rc = CG_OK;
out:
    cg_sim_kind_destroy(&kind);
    return rc;
}

/* ---- instances ------------------------------------------------------------------------ */

int cg_sim_kind_runs_here(const cg_sim_kind_t *self)
{
    return self->t->create != NULL;
}

cg_sim_t *cg_sim_create(const cg_sim_kind_t *kind, int32_t n, uint64_t seed, char *err,
                        size_t errlen)
{
    CG_ASSERT(kind);
    if (err && errlen)
        err[0] = '\0';
    if (n < 1) {
        cg_status_msg(err, errlen,
                      "%s: %d simulator instances, need at least 1 (hint: [actor] "
                      "instances)",
                      kind->t->name, n);
        return NULL;
    }
    if (!cg_sim_kind_runs_here(kind)) {
        cg_status_msg(err, errlen,
                      "simulator %s (%s) is stepped outside cgrpo, so cgrpo's own actors cannot "
                      "run it (hint: start `cgrpo learner` alone and connect the actors that "
                      "run it, e.g. Python actors: docs/python.md)",
                      kind->t->name, kind->origin);
        return NULL;
    }
    S_PHASE(kind, "create");
    char why[S_ERR_LEN] = "";
    void *ctx = kind->t->create(&kind->params, n, seed, why, sizeof why);
    if (!ctx) {
        cg_status_msg(err, errlen, "%s", why[0] ? why : "");
        if (!why[0])
            cg_status_msg(err, errlen,
                          "simulator %s (%s): create failed without a message "
                          "(hint: check its section)",
                          kind->t->name, kind->origin);
        return NULL;
    }
    cg_sim_t *self = cg_calloc(1, sizeof *self);
    self->kind = kind;
    self->ctx = ctx;
    self->n = n;
    self->obs_dim = kind->info.obs_dim;
    self->steps = cg_calloc((size_t)n, sizeof *self->steps);
    for (int32_t i = 0; i < n; i++)
        self->steps[i] = -1;
    self->finished = cg_calloc((size_t)n, sizeof *self->finished);
    self->done = cg_calloc((size_t)n, sizeof *self->done);
    return self;
}

cg_sim_t *cg_sim_new(const cg_config_t *cfg, int32_t n, uint64_t seed, char *err, size_t errlen)
{
    cg_sim_kind_t *kind = cg_sim_kind_new(cfg, err, errlen);
    if (!kind)
        return NULL;
    cg_sim_t *self = cg_sim_create(kind, n, seed, err, errlen);
    if (!self) {
        cg_sim_kind_destroy(&kind);
        return NULL;
    }
    self->owned_kind = kind;
    return self;
}

void cg_sim_destroy(cg_sim_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_sim_t *self = *self_p;
    S_PHASE(self->kind, "destroy");
    self->kind->t->destroy(self->ctx);
    cg_sim_kind_destroy(&self->owned_kind);
    free(self->scratch);
    free(self->done);
    free(self->finished);
    free(self->steps);
    free(self);
    *self_p = NULL;
}

const cg_sim_info_t *cg_sim_info(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return &self->kind->info;
}

const char *cg_sim_name(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return self->kind->t->name;
}

int32_t cg_sim_n_instances(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return self->n;
}

const cg_sim_kind_t *cg_sim_kind(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return self->kind;
}

void *cg_sim_context(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return self->ctx;
}

const char *cg_sim_error(const cg_sim_t *self)
{
    CG_ASSERT(self);
    return self->err;
}

/* Records a broken rule; every later call fails with it. */
static cg_status_t s_broken(cg_sim_t *self, cg_status_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_status_t s_broken(cg_sim_t *self, cg_status_t rc, const char *fmt, ...)
{
    char rule[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    snprintf(self->err, sizeof self->err,
             "simulator %s (%s) broke a rule: %s (hint: fix the "
             "simulator; cgrpo sends nothing it produced after this)",
             self->kind->t->name, self->kind->origin, rule);
    self->broken = 1;
    return rc;
}

static cg_status_t s_check_obs(cg_sim_t *self, int32_t i, const float *row, const char *what)
{
    for (int32_t d = 0; d < self->obs_dim; d++) {
        if (!isfinite(row[d]))
            return s_broken(self, CG_ERR_NONFINITE,
                            "%s wrote observation[%d] = %g on instance "
                            "%d; observations must be finite",
                            what, d, (double)row[d], i);
        if (!(fabsf(row[d]) <= CG_SIM_MAX_ABS_OBS))
            return s_broken(self, CG_ERR_RANGE,
                            "%s wrote observation[%d] = %g on instance %d; observations must be "
                            "within +-%g (scale them down)",
                            what, d, (double)row[d], i, (double)CG_SIM_MAX_ABS_OBS);
    }
    return CG_OK;
}

cg_status_t cg_sim_reset(cg_sim_t *self, int32_t i, uint64_t init_seed, float *obs)
{
    CG_ASSERT(self && obs);
    CG_ASSERT(i >= 0 && i < self->n);
    if (self->broken)
        return CG_ERR_PROTO;
    S_PHASE(self->kind, "reset");
    self->kind->t->reset(self->ctx, i, init_seed, obs);
    self->steps[i] = 0;
    self->finished[i] = 0;
    return s_check_obs(self, i, obs, "reset");
}

/* 1 if v is NaN, infinite, or beyond +-CG_SIM_MAX_ABS_OBS: |v|'s bits above those of the
 * bound (NaN's and infinity's are above every finite value's). Branch-free, so the check of
 * a row vectorises and costs next to nothing in the hot loop. */
static inline uint32_t s_obs_bad(float v)
{
    const float bound = CG_SIM_MAX_ABS_OBS;
    uint32_t u, b;
    memcpy(&u, &v, sizeof u);
    memcpy(&b, &bound, sizeof b);
    return (u & 0x7fffffffu) > b;
}

/* After a step broke a rule: finds the first instance that did and says how. */
static cg_status_t s_step_broken(cg_sim_t *self, int32_t n, const int32_t *idx, const float *obs,
                                 const uint8_t *done, int32_t cap)
{
    for (int32_t k = 0; k < n; k++) {
        int32_t i = idx[k];
        CG_TRY(s_check_obs(self, i, obs + (size_t)i * (size_t)self->obs_dim, "step"));
        if (done[k] > 1)
            return s_broken(self, CG_ERR_RANGE,
                            "step set done = %d for instance %d; done is 0 or 1", done[k], i);
        if (self->steps[i] >= cap && !done[k])
            return s_broken(self, CG_ERR_RANGE,
                            "instance %d ran %d steps without ending its episode, past "
                            "max_steps = %d that describe reported",
                            i, self->steps[i], cap);
    }
    return s_broken(self, CG_ERR_RANGE, "step broke a rule (hint: a bug in cg_sim)");
}

/* Checks what a step of idx[0..n) wrote and counts the instances' steps. */
static cg_status_t s_step_done(cg_sim_t *self, int32_t n, const int32_t *idx, const float *obs,
                               const uint8_t *done)
{
    const int32_t cap = self->kind->info.max_steps;
    const size_t D = (size_t)self->obs_dim;
    uint32_t bad = 0;
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = idx[k];
        const float *row = obs + (size_t)i * D;
        for (size_t d = 0; d < D; d++)
            bad |= s_obs_bad(row[d]);
        const uint8_t dk = done[k];
        const int32_t t = ++self->steps[i];
        bad |= (uint32_t)(dk > 1) | (uint32_t)(t >= cap && !dk);
        if (dk) {
            self->steps[i] = -1;
            self->finished[i] = 1;
        }
    }
    return bad ? s_step_broken(self, n, idx, obs, done, cap) : CG_OK;
}

cg_status_t cg_sim_step_batch(cg_sim_t *self, int32_t n, const int32_t *idx, const int32_t *actions,
                              float *obs, uint8_t *done)
{
    CG_ASSERT(self && idx && actions && obs && done && !self->kind->info.continuous);
    CG_ASSERT(n >= 0 && n <= self->n);
    if (self->broken)
        return CG_ERR_PROTO;
    const int32_t A = self->kind->info.n_actions;
    for (int32_t k = 0; k < n; k++)
        CG_ASSERT((uint32_t)idx[k] < (uint32_t)self->n && self->steps[idx[k]] >= 0 &&
                  (uint32_t)actions[k] < (uint32_t)A);
    if (n == 0)
        return CG_OK;
    memset(done, 0, (size_t)n);
    S_PHASE(self->kind, "step");
    self->kind->t->step(self->ctx, n, idx, actions, obs, done);
    return s_step_done(self, n, idx, obs, done);
}

cg_status_t cg_sim_step_batch_continuous(cg_sim_t *self, int32_t n, const int32_t *idx,
                                         const float *actions, float *obs, uint8_t *done)
{
    CG_ASSERT(self && idx && actions && obs && done && self->kind->info.continuous);
    CG_ASSERT(n >= 0 && n <= self->n);
    if (self->broken)
        return CG_ERR_PROTO;
    const size_t A = (size_t)self->kind->info.n_actions;
    for (int32_t k = 0; k < n; k++) {
        CG_ASSERT((uint32_t)idx[k] < (uint32_t)self->n && self->steps[idx[k]] >= 0);
        for (size_t d = 0; d < A; d++)
            CG_ASSERT(isfinite(actions[(size_t)k * A + d]));
    }
    if (n == 0)
        return CG_OK;
    memset(done, 0, (size_t)n);
    S_PHASE(self->kind, "step_continuous");
    self->kind->t->step_continuous(self->ctx, n, idx, actions, obs, done);
    return s_step_done(self, n, idx, obs, done);
}

int cg_sim_step(cg_sim_t *self, int32_t i, int32_t action, float *obs)
{
    CG_ASSERT(self && obs);
    CG_ASSERT(i >= 0 && i < self->n);
    if (!self->scratch)
        self->scratch = cg_calloc((size_t)self->n * (size_t)self->obs_dim, sizeof *self->scratch);
    float *row = self->scratch + (size_t)i * (size_t)self->obs_dim;
    cg_status_t rc = cg_sim_step_batch(self, 1, &i, &action, self->scratch, self->done);
    if (rc != CG_OK)
        return rc;
    memcpy(obs, row, (size_t)self->obs_dim * sizeof *obs);
    return self->done[0];
}

cg_status_t cg_sim_result(cg_sim_t *self, int32_t i, cg_sim_result_t *out)
{
    CG_ASSERT(self && out);
    CG_ASSERT(i >= 0 && i < self->n && self->finished[i]);
    if (self->broken)
        return CG_ERR_PROTO;
    memset(out, 0, sizeof *out);
    S_PHASE(self->kind, "result");
    self->kind->t->result(self->ctx, i, out);
    if (!isfinite(out->reward))
        return s_broken(self, CG_ERR_NONFINITE,
                        "result gave reward %g on instance %d; rewards "
                        "must be finite",
                        (double)out->reward, i);
    for (int32_t k = 0; k < self->kind->info.n_costs; k++)
        if (out->cost[k] != 0.0f && out->cost[k] != 1.0f)
            return s_broken(self, CG_ERR_RANGE,
                            "result gave cost %s = %g on instance %d; costs "
                            "are indicators, exactly 0 or 1",
                            self->kind->info.cost_names[k], (double)out->cost[k], i);
    if (out->n_checks < 0 || out->n_checks > 1000000 || (out->success != 0 && out->success != 1))
        return s_broken(self, CG_ERR_RANGE,
                        "result gave n_checks %d, success %d on instance %d; "
                        "n_checks is 0..1000000, success 0 or 1",
                        out->n_checks, out->success, i);
    return CG_OK;
}

/* ---- the built-in simulators ---------------------------------------------------------- */

const char *cg_sim_names(void)
{
    return s_names;
}

int32_t cg_sim_builtin_count(void)
{
    return S_N_SIMS;
}

const cg_sim_table_t *cg_sim_builtin(int32_t k)
{
    CG_ASSERT(k >= 0 && k < S_N_SIMS);
    return s_registry[k];
}
