/* fuzz_config: libFuzzer harness for the config reader (common/cg_config.c) on the path
 * `cgrpo train --config F --set ...` takes: INI text, then each "--set" override, then the
 * simulator layer's checks and cg_config_finish. A config that passes must survive the trip
 * the learner and its actors make: cg_config_write, cg_config_load_string of that text (the
 * Welcome's config) and the same checks, to the same settings; the text written after that
 * trip is a fixed point.
 * Input: INI text, then optional overrides, each after "\n--set " (so the first one starts
 * a line of its own). A config naming a [sim] plugin is not taken further than finish (its
 * .so would be loaded). Seeds: corpus/config/; dictionary: config.dict. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cg_config.h"
#include "cg_log.h"
#include "cg_sim.h"

#define S_SET "\n--set "

static int s_fd = -1;      /* memfd: the INI input, then each written config */
static char s_path[64];    /* /proc/self/fd/<s_fd> */
static cg_config_t *s_cfg; /* ~55 KB each: on the heap, made once */
static cg_config_t *s_back;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cg_log_set_level(CG_LOG_ERROR);
    s_fd = memfd_create("fuzz_config", 0);
    if (s_fd < 0)
        abort();
    snprintf(s_path, sizeof s_path, "/proc/self/fd/%d", s_fd);
    s_cfg = calloc(1, sizeof *s_cfg);
    s_back = calloc(1, sizeof *s_back);
    if (!s_cfg || !s_back)
        abort();
    return 0;
}

/* cg_config_write's text of cfg into a new string (caller frees), or NULL if it fails. */
static char *s_write(const cg_config_t *cfg)
{
    if (ftruncate(s_fd, 0) != 0 || cg_config_write(cfg, s_path) != CG_OK)
        return NULL;
    off_t n = lseek(s_fd, 0, SEEK_END);
    char *text = malloc((size_t)n + 1);
    if (!text || pread(s_fd, text, (size_t)n, 0) != n)
        abort();
    text[n] = '\0';
    return text;
}

/* What cg_cmd does after the overrides, and what an actor does with a Welcome's config. */
static cg_status_t s_settle(cg_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->sim_plugin[0] == '\0') {
        cg_status_t rc = cg_sim_configure(cfg, err, errlen);
        if (rc != CG_OK)
            return rc;
    }
    return cg_config_finish(cfg, err, errlen);
}

/* cfg's text read back into s_back (from the defaults, settled as an actor does). */
static void s_read_back(const char *text)
{
    char err[1024];
    cg_config_defaults(s_back);
    if (cg_config_load_string(s_back, text, "written", err, sizeof err) != CG_OK ||
        s_settle(s_back, err, sizeof err) != CG_OK) {
        fprintf(stderr, "fuzz_config: the written config does not load: %s\n%s", err, text);
        abort();
    }
}

/* A settled config must be writable, read back to the same settings, and reach a fixed point
 * after one trip: text2 = write(load(text1)) is what write(load(text2)) gives. (One trip may
 * tidy a simulator section's text, e.g. blanks at the start of rows, which no simulator
 * sees: the simulator layer trims rows.) */
static void s_round_trip(const cg_config_t *cfg)
{
    char *text1 = s_write(cfg);
    if (!text1)
        abort(); /* accepted, but cannot be written: the learner's start would fail */
    s_read_back(text1);
    /* Every fixed key reads back as it was (the simulator sections are text, compared below). */
    size_t sim_at = offsetof(cg_config_t, n_sim_entries), rest = offsetof(cg_config_t, n_hidden);
    if (memcmp(cfg, s_back, sim_at) != 0 ||
        memcmp((const char *)cfg + rest, (const char *)s_back + rest, sizeof *cfg - rest) != 0) {
        fprintf(stderr, "fuzz_config: read back with other settings:\n%s", text1);
        abort();
    }
    char *text2 = s_write(s_back);
    if (!text2)
        abort();
    s_read_back(text2);
    char *text3 = s_write(s_back);
    if (!text3 || strcmp(text2, text3) != 0) {
        fprintf(stderr, "fuzz_config: no fixed point:\n%s\n----\n%s", text2,
                text3 ? text3 : "(write failed)");
        abort();
    }
    free(text3);
    free(text2);
    free(text1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    char *buf = malloc(size + 1); /* NUL-terminated copy, cut into pieces in place */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *set = memmem(buf, size, S_SET, strlen(S_SET));
    if (set)
        *set = '\0';

    cg_config_defaults(s_cfg);
    /* The INI part through the file reader (cg_config_load), which sees NUL bytes too. */
    size_t ini_len = set ? (size_t)(set - buf) : size;
    if (ftruncate(s_fd, 0) != 0 || pwrite(s_fd, buf, ini_len, 0) != (ssize_t)ini_len)
        abort();
    cg_status_t rc = cg_config_load(s_cfg, s_path, err, sizeof err);
    while (rc == CG_OK && set) {
        char *one = set + strlen(S_SET);
        set = strstr(one, S_SET);
        if (set)
            *set = '\0';
        rc = cg_config_set(s_cfg, one, err, sizeof err);
    }
    if (rc == CG_OK)
        rc = s_settle(s_cfg, err, sizeof err);
    if (rc == CG_OK && s_cfg->sim_plugin[0] == '\0')
        s_round_trip(s_cfg);
    free(buf);
    return 0;
}
