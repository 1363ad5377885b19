/* test_ckpt: the checkpoint container. Bit-exact round trips of every dtype, refusal of
 * every single-byte flip and every truncation, crafted headers with valid CRCs, shape
 * mismatch messages, atomic save, and the latest/prune naming scheme. Every test works
 * in its own mkdtemp directory and removes it. */
#include <dirent.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_ckpt.h"
#include "cg_rng.h"
#include "cg_test.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static void s_mkdtemp(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/cg_ckpt_XXXXXX", base && *base ? base : "/tmp");
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

/* Removes dir and the plain files and empty subdirectories in it. */
static void s_rmrf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    closedir(d);
    CU_ASSERT(rmdir(dir) == 0);
}

/* Number of entries in dir other than . and ..; the first one's name into first. */
static int s_count_entries(const char *dir, char *first, size_t len)
{
    DIR *d = opendir(dir);
    CU_ASSERT_FATAL(d != NULL);
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        if (n == 0 && first)
            snprintf(first, len, "%s", ent->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static void s_write_raw(const char *path, const uint8_t *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(buf, 1, n, f) == n);
    CU_ASSERT_FATAL(fclose(f) == 0);
}

/* The whole file in a malloc'd buffer (caller frees), its size in *n. */
static uint8_t *s_read_raw(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size + 1);
    CU_ASSERT_FATAL(buf != NULL);
    CU_ASSERT_FATAL(fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

static void s_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the header CRC after a test edited the header or table (layout in
 * docs/checkpoints.md: 24-byte header, 80-byte entries, then the CRC). */
static void s_reseal(uint8_t *buf, uint32_t n_sections)
{
    size_t table_end = 24 + 80 * (size_t)n_sections;
    s_put_le32(buf + table_end, cg_ckpt_crc32(0, buf, table_end));
}

/* A small checkpoint with three sections: params f32 (5), version i64 (1), config str. */
static void s_save_small(const char *path)
{
    cg_ckpt_writer_t *w = cg_ckpt_writer_new();
    const float params[5] = {0.5f, -1.25f, 3.0f, 0.0f, 1e-3f};
    const int64_t version = 42;
    CU_ASSERT_FATAL(cg_ckpt_put_f32(w, "params", params, 5) == CG_OK);
    CU_ASSERT_FATAL(cg_ckpt_put_i64(w, "version", &version, 1) == CG_OK);
    CU_ASSERT_FATAL(cg_ckpt_put_str(w, "config", "[run]\nseed=1\n") == CG_OK);
    char err[512] = "";
    CU_ASSERT_FATAL(cg_ckpt_writer_save(w, path, err, sizeof(err)) == CG_OK);
    cg_ckpt_writer_destroy(&w);
    CU_ASSERT(w == NULL);
}

/* Loads path expecting failure with status want (0 = any failure); returns the message. */
static void s_expect_refused(const char *path, cg_status_t want, const char *needle)
{
    cg_status_t st = CG_OK;
    char err[512] = "";
    cg_ckpt_t *ck = cg_ckpt_load(path, 0, &st, err, sizeof(err));
    CU_ASSERT(ck == NULL);
    CU_ASSERT(st != CG_OK);
    CU_ASSERT(err[0] != '\0');
    if (want != CG_OK)
        CU_ASSERT(st == want);
    if (needle && !strstr(err, needle)) {
        printf("\n  message '%s' lacks '%s'\n", err, needle);
        CU_FAIL("message lacks the expected text");
    }
    cg_ckpt_destroy(&ck);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_crc32(void)
{
    CU_ASSERT_EQUAL(cg_ckpt_crc32(0, "123456789", 9), 0xCBF43926u);
    CU_ASSERT_EQUAL(cg_ckpt_crc32(0, NULL, 0), 0u);
    /* Incremental use equals one pass. */
    uint32_t part = cg_ckpt_crc32(cg_ckpt_crc32(0, "1234", 4), "56789", 5);
    CU_ASSERT_EQUAL(part, 0xCBF43926u);
}

/* A checkpoint written before the CRC came from zlib (commit 0de9efa's own table: a 2-iteration
 * linear policy on the null simulator, tests/data/ckpt-linear-v1.cgck) still loads: same CRCs. */
static void test_fixture_still_loads(void)
{
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/test_ckpt.c");
    char path[PATH_MAX], err[512] = "";
    snprintf(path, sizeof path, "%.*stests/data/ckpt-linear-v1.cgck", tail ? (int)(tail - me) : 0,
             me);
    cg_status_t st = CG_OK;
    cg_ckpt_t *ck = cg_ckpt_load(path, (size_t)1 << 20, &st, err, sizeof err);
    if (!ck)
        fprintf(stderr, "%s: %s\n", path, err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ck);
    uint64_t vi[2] = {0, 0};
    CU_ASSERT_EQUAL(cg_ckpt_get_u64(ck, "version_iteration", vi, 2, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(vi[0], 2);
    CU_ASSERT_EQUAL(vi[1], 2);
    char *run_id = NULL;
    CU_ASSERT_EQUAL(cg_ckpt_get_str(ck, "run_id", &run_id, err, sizeof err), CG_OK);
    CU_ASSERT(run_id && !strncmp(run_id, "run-", 4));
    free(run_id);
    cg_ckpt_destroy(&ck);
}

static void test_round_trip_every_dtype(void)
{
    char dir[512], path[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/rt.cgck", dir);

    /* Special floats by bit pattern: zeros, subnormals, extremes, infinities, NaNs with
     * payloads (quiet and signalling); all must come back bit for bit. */
    const uint32_t f32_bits[] = {0x00000000u, 0x80000000u, 0x3f800000u, 0x00000001u,
                                 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0x7f800000u,
                                 0xff800000u, 0x7fc00000u, 0x7fc12345u, 0xffa00001u};
    const uint64_t f64_bits[] = {
        0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0x0000000000000001ull,
        0x7fefffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull, 0x7ff8000000000000ull,
        0x7ff4000000abcdefull, 0x400921fb54442d18ull};
    enum {
        NF = sizeof(f32_bits) / sizeof(f32_bits[0]),
        ND = sizeof(f64_bits) / sizeof(f64_bits[0])
    };
    float f32[NF];
    double f64[ND];
    memcpy(f32, f32_bits, sizeof(f32));
    memcpy(f64, f64_bits, sizeof(f64));
    const int64_t i64[] = {0, 1, -1, INT64_MIN, INT64_MAX, 1234567890123ll};
    const uint64_t u64[] = {0, 1, UINT64_MAX, 0x0123456789abcdefull};
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    const char *text = "[policy]\nhidden = 64,64\n# utf-8: \xc3\xa9\xe2\x82\xac\n";

    /* ~1M floats: a realistic parameter arena. */
    const size_t nbig = 1u << 20;
    float *big = malloc(nbig * sizeof(float));
    CU_ASSERT_FATAL(big != NULL);
    cg_rng_t rng;
    cg_rng_seed(&rng, 1234, 7);
    for (size_t i = 0; i < nbig; i++)
        big[i] = (float)cg_rng_normal(&rng);

    cg_ckpt_writer_t *w = cg_ckpt_writer_new();
    CU_ASSERT(cg_ckpt_put_f32(w, "f32", f32, NF) == CG_OK);
    CU_ASSERT(cg_ckpt_put_f64(w, "f64", f64, ND) == CG_OK);
    CU_ASSERT(cg_ckpt_put_i64(w, "i64", i64, 6) == CG_OK);
    CU_ASSERT(cg_ckpt_put_u64(w, "u64", u64, 4) == CG_OK);
    CU_ASSERT(cg_ckpt_put_bytes(w, "bytes", bytes, sizeof(bytes)) == CG_OK);
    CU_ASSERT(cg_ckpt_put_str(w, "config", text) == CG_OK);
    CU_ASSERT(cg_ckpt_put_str(w, "empty_str", "") == CG_OK);
    CU_ASSERT(cg_ckpt_put_f32(w, "empty_f32", NULL, 0) == CG_OK);
    CU_ASSERT(cg_ckpt_put_u64(w, "empty_u64", NULL, 0) == CG_OK);
    CU_ASSERT(cg_ckpt_put_f32(w, "big", big, nbig) == CG_OK);
    /* The writer copied: changing the source afterwards does not change the file. */
    float first = big[0];
    big[0] = 99.0f;
    char err[512] = "";
    CU_ASSERT_FATAL(cg_ckpt_writer_save(w, path, err, sizeof(err)) == CG_OK);
    big[0] = first;
    cg_ckpt_writer_destroy(&w);

    cg_status_t st = CG_ERR_INVAL;
    cg_ckpt_t *ck = cg_ckpt_load(path, 0, &st, err, sizeof(err));
    CU_ASSERT_FATAL(ck != NULL);
    CU_ASSERT(st == CG_OK);
    CU_ASSERT_EQUAL(cg_ckpt_n_sections(ck), 10);
    CU_ASSERT_STRING_EQUAL(cg_ckpt_section_name(ck, 0), "f32");
    CU_ASSERT_STRING_EQUAL(cg_ckpt_section_name(ck, 9), "big");
    CU_ASSERT(cg_ckpt_has(ck, "u64"));
    CU_ASSERT(!cg_ckpt_has(ck, "nope"));

    float f32b[NF];
    double f64b[ND];
    int64_t i64b[6];
    uint64_t u64b[4];
    uint8_t bytesb[256];
    CU_ASSERT(cg_ckpt_get_f32(ck, "f32", f32b, NF, err, sizeof(err)) == CG_OK);
    CU_ASSERT(memcmp(f32b, f32_bits, sizeof(f32b)) == 0);
    CU_ASSERT(cg_ckpt_get_f64(ck, "f64", f64b, ND, err, sizeof(err)) == CG_OK);
    CU_ASSERT(memcmp(f64b, f64_bits, sizeof(f64b)) == 0);
    CU_ASSERT(cg_ckpt_get_i64(ck, "i64", i64b, 6, err, sizeof(err)) == CG_OK);
    CU_ASSERT(memcmp(i64b, i64, sizeof(i64b)) == 0);
    CU_ASSERT(cg_ckpt_get_u64(ck, "u64", u64b, 4, err, sizeof(err)) == CG_OK);
    CU_ASSERT(memcmp(u64b, u64, sizeof(u64b)) == 0);
    CU_ASSERT(cg_ckpt_get_bytes(ck, "bytes", bytesb, 256, err, sizeof(err)) == CG_OK);
    CU_ASSERT(memcmp(bytesb, bytes, sizeof(bytes)) == 0);
    char *textb = NULL;
    CU_ASSERT(cg_ckpt_get_str(ck, "config", &textb, err, sizeof(err)) == CG_OK);
    CU_ASSERT_STRING_EQUAL(textb, text);
    free(textb);
    CU_ASSERT(cg_ckpt_get_str(ck, "empty_str", &textb, err, sizeof(err)) == CG_OK);
    CU_ASSERT_STRING_EQUAL(textb, "");
    free(textb);
    CU_ASSERT(cg_ckpt_get_f32(ck, "empty_f32", NULL, 0, err, sizeof(err)) == CG_OK);
    CU_ASSERT(cg_ckpt_get_u64(ck, "empty_u64", NULL, 0, err, sizeof(err)) == CG_OK);

    cg_ckpt_dtype_t dt = 0;
    uint64_t count = 0;
    CU_ASSERT(cg_ckpt_info(ck, "big", &dt, &count, err, sizeof(err)) == CG_OK);
    CU_ASSERT(dt == CG_CKPT_F32);
    CU_ASSERT_EQUAL(count, nbig);
    float *bigb = malloc(nbig * sizeof(float));
    CU_ASSERT_FATAL(bigb != NULL);
    CU_ASSERT(cg_ckpt_get_f32(ck, "big", bigb, nbig, err, sizeof(err)) == CG_OK);
    CU_ASSERT(memcmp(bigb, big, nbig * sizeof(float)) == 0);
    free(bigb);
    free(big);
    cg_ckpt_destroy(&ck);
    CU_ASSERT(ck == NULL);
    cg_ckpt_destroy(&ck); /* NULL-safe */
    s_rmrf(dir);
}

static void test_every_byte_flip_refused(void)
{
    char dir[512], path[PATH_MAX], bad[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/small.cgck", dir);
    snprintf(bad, sizeof(bad), "%s/bad.cgck", dir);
    s_save_small(path);
    size_t n = 0;
    uint8_t *orig = s_read_raw(path, &n);
    CU_ASSERT(n > 28 + 3 * 80);
    uint8_t *buf = malloc(n);
    CU_ASSERT_FATAL(buf != NULL);
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    int accepted = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            memcpy(buf, orig, n);
            buf[i] ^= masks[m];
            s_write_raw(bad, buf, n);
            cg_status_t st = CG_OK;
            char err[512] = "";
            cg_ckpt_t *ck = cg_ckpt_load(bad, 0, &st, err, sizeof(err));
            if (ck || st == CG_OK || err[0] == '\0') {
                printf("\n  flip of byte %zu by 0x%02x accepted\n", i, masks[m]);
                accepted++;
            }
            cg_ckpt_destroy(&ck);
        }
    }
    CU_ASSERT_EQUAL(accepted, 0);
    /* The untouched file still loads. */
    cg_status_t st = CG_ERR_INVAL;
    cg_ckpt_t *ck = cg_ckpt_load(path, 0, &st, NULL, 0);
    CU_ASSERT(ck != NULL && st == CG_OK);
    cg_ckpt_destroy(&ck);
    free(buf);
    free(orig);
    s_rmrf(dir);
}

static void test_every_truncation_refused(void)
{
    char dir[512], path[PATH_MAX], bad[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/small.cgck", dir);
    snprintf(bad, sizeof(bad), "%s/bad.cgck", dir);
    s_save_small(path);
    size_t n = 0;
    uint8_t *orig = s_read_raw(path, &n);
    for (size_t len = 0; len < n; len++) {
        s_write_raw(bad, orig, len);
        s_expect_refused(bad, CG_ERR_CORRUPT, len >= 8 || len == 0 ? "truncated" : NULL);
    }
    /* One byte too many is refused as well. */
    uint8_t *longer = malloc(n + 1);
    CU_ASSERT_FATAL(longer != NULL);
    memcpy(longer, orig, n);
    longer[n] = 0;
    s_write_raw(bad, longer, n + 1);
    s_expect_refused(bad, CG_ERR_CORRUPT, "trailing");
    free(longer);
    free(orig);
    s_rmrf(dir);
}

/* Random multi-byte damage and random lengths (seeded, so reproducible): never accepted,
 * never a crash (the sanitizer build checks memory safety). */
static void test_random_damage_refused(void)
{
    char dir[512], path[PATH_MAX], bad[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/small.cgck", dir);
    snprintf(bad, sizeof(bad), "%s/bad.cgck", dir);
    s_save_small(path);
    size_t n = 0;
    uint8_t *orig = s_read_raw(path, &n);
    uint8_t *buf = malloc(2 * n);
    CU_ASSERT_FATAL(buf != NULL);
    cg_rng_t rng;
    cg_rng_seed(&rng, 2024, 1);
    int accepted = 0;
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = n;
        memcpy(buf, orig, n);
        uint32_t kind = cg_rng_below(&rng, 3);
        if (kind == 0) { /* several changed bytes anywhere */
            uint32_t k = 2 + cg_rng_below(&rng, 8);
            for (uint32_t j = 0; j < k; j++)
                buf[cg_rng_below(&rng, (uint32_t)n)] ^= (uint8_t)(1 + cg_rng_below(&rng, 255));
        } else if (kind == 1) { /* a damaged, shortened or lengthened tail */
            len = 1 + cg_rng_below(&rng, (uint32_t)(2 * n - 1));
            for (size_t j = n; j < len; j++)
                buf[j] = (uint8_t)cg_rng_u32(&rng);
            buf[cg_rng_below(&rng, (uint32_t)len)] ^= 0x5a;
        } else { /* random bytes after a valid magic */
            for (size_t j = 8; j < n; j++)
                buf[j] = (uint8_t)cg_rng_u32(&rng);
        }
        s_write_raw(bad, buf, len);
        cg_status_t st = CG_OK;
        char err[512] = "";
        cg_ckpt_t *ck = cg_ckpt_load(bad, 0, &st, err, sizeof(err));
        if (ck || st == CG_OK || err[0] == '\0')
            accepted++;
        cg_ckpt_destroy(&ck);
    }
    CU_ASSERT_EQUAL(accepted, 0);
    free(buf);
    free(orig);
    s_rmrf(dir);
}

static void test_magic_and_version(void)
{
    char dir[512], path[PATH_MAX], bad[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/small.cgck", dir);
    snprintf(bad, sizeof(bad), "%s/bad.cgck", dir);
    s_save_small(path);
    size_t n = 0;
    uint8_t *buf = s_read_raw(path, &n);

    CU_ASSERT(memcmp(buf, "CGRPOCKP", 8) == 0);
    buf[0] = 'X';
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "not a cgrpo checkpoint");
    buf[0] = 'C';

    const char *text = "[run]\nseed = 1\nthis is a config file, not a checkpoint\n";
    s_write_raw(bad, (const uint8_t *)text, strlen(text));
    s_expect_refused(bad, CG_ERR_CORRUPT, "not a cgrpo checkpoint");
    s_write_raw(bad, (const uint8_t *)"abc", 3);
    s_expect_refused(bad, CG_ERR_CORRUPT, "not a cgrpo checkpoint");

    /* A newer format version is a mismatch naming both versions, with or without a
     * matching header CRC. */
    s_put_le32(buf + 8, 2);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_MISMATCH, "format version 2, this build reads version 1");
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_MISMATCH, "newer");
    s_put_le32(buf + 8, 0);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_MISMATCH, "version 0");
    free(buf);
    s_rmrf(dir);
}

/* Headers with valid CRCs but impossible content: validation beyond the checksums. */
static void test_crafted_headers_refused(void)
{
    char dir[512], path[PATH_MAX], bad[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/small.cgck", dir);
    snprintf(bad, sizeof(bad), "%s/bad.cgck", dir);
    s_save_small(path);
    size_t n = 0;
    uint8_t *orig = s_read_raw(path, &n);
    uint8_t *buf = malloc(n);
    CU_ASSERT_FATAL(buf != NULL);
    uint8_t *e0 = buf + 24, *e1 = buf + 24 + 80, *e2 = buf + 24 + 160;

    /* Counts whose byte size overflows or exceeds the file. */
    const uint64_t counts[] = {UINT64_MAX, UINT64_MAX / 4 + 1, (uint64_t)1 << 62, 1000000};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        memcpy(buf, orig, n);
        s_put_le64(e0 + 72, counts[i]);
        s_reseal(buf, 3);
        s_write_raw(bad, buf, n);
        s_expect_refused(bad, CG_ERR_CORRUPT, "more than the file holds");
    }
    /* A smaller count leaves bytes no section claims. */
    memcpy(buf, orig, n);
    s_put_le64(e0 + 72, 4);
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, NULL);
    /* Too many sections, and a count that runs past the end of the file. */
    memcpy(buf, orig, n);
    s_put_le32(buf + 12, 100000);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "over the limit");
    s_put_le32(buf + 12, 1000);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "truncated");
    /* Unknown dtype. */
    memcpy(buf, orig, n);
    s_put_le32(e1 + 64, 99);
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "unknown dtype");
    /* Duplicate names ("config" renamed "params"). */
    memcpy(buf, orig, n);
    memset(e2, 0, 64);
    memcpy(e2, "params", 6);
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "twice");
    /* Names: empty, unterminated, non-printable, garbage after the NUL. */
    memcpy(buf, orig, n);
    memset(e0, 0, 64);
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "invalid name");
    memcpy(buf, orig, n);
    memset(e0, 'a', 64);
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "invalid name");
    memcpy(buf, orig, n);
    e0[1] = '\n';
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "invalid name");
    memcpy(buf, orig, n);
    e0[40] = 'x';
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "invalid name");
    /* A data byte changed with the section CRC updated to match: the text section then
     * holds a NUL, which a str section never does. */
    memcpy(buf, orig, n);
    size_t str_off = n - strlen("[run]\nseed=1\n");
    buf[str_off + 2] = 0;
    s_put_le32(e2 + 68, cg_ckpt_crc32(0, buf + str_off, n - str_off));
    s_reseal(buf, 3);
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "NUL");
    /* A data flip names its section. */
    memcpy(buf, orig, n);
    buf[28 + 240 + 1] ^= 0x10; /* inside 'params' */
    s_write_raw(bad, buf, n);
    s_expect_refused(bad, CG_ERR_CORRUPT, "section 'params': checksum mismatch");

    free(buf);
    free(orig);
    s_rmrf(dir);
}

static void test_load_errors(void)
{
    char dir[512], path[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/missing.cgck", dir);
    s_expect_refused(path, CG_ERR_IO, "cannot open");
    s_expect_refused(dir, CG_ERR_IO, "not a regular file");
    cg_status_t st = CG_OK;
    CU_ASSERT(cg_ckpt_load(NULL, 0, &st, NULL, 0) == NULL);
    CU_ASSERT(st == CG_ERR_INVAL);

    /* Over the caller's size cap. */
    s_save_small(path);
    char err[512] = "";
    cg_ckpt_t *ck = cg_ckpt_load(path, 64, &st, err, sizeof(err));
    CU_ASSERT(ck == NULL);
    CU_ASSERT(st == CG_ERR_TOOBIG);
    CU_ASSERT(strstr(err, "cap") != NULL);
    ck = cg_ckpt_load(path, 1 << 20, NULL, NULL, 0); /* status and err may be NULL */
    CU_ASSERT(ck != NULL);
    cg_ckpt_destroy(&ck);
    s_rmrf(dir);
}

static void test_get_mismatch_messages(void)
{
    char dir[512], path[PATH_MAX];
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/small.cgck", dir);
    s_save_small(path);
    cg_status_t st = CG_ERR_INVAL;
    char err[512] = "";
    cg_ckpt_t *ck = cg_ckpt_load(path, 0, &st, err, sizeof(err));
    CU_ASSERT_FATAL(ck != NULL);

    /* Wrong count: names the section, both shapes, and a hint; out untouched. */
    float out[8];
    for (int i = 0; i < 8; i++)
        out[i] = -7.0f;
    CU_ASSERT(cg_ckpt_get_f32(ck, "params", out, 8, err, sizeof(err)) == CG_ERR_MISMATCH);
    CU_ASSERT(strstr(err, "section 'params'") != NULL);
    CU_ASSERT(strstr(err, "checkpoint has 5 f32 values, this run needs 8 f32 values") != NULL);
    CU_ASSERT(strstr(err, "hint:") != NULL);
    for (int i = 0; i < 8; i++)
        CU_ASSERT(out[i] == -7.0f);
    /* Wrong dtype with the right count. */
    double d[5];
    CU_ASSERT(cg_ckpt_get_f64(ck, "params", d, 5, err, sizeof(err)) == CG_ERR_MISMATCH);
    CU_ASSERT(strstr(err, "5 f32 values, this run needs 5 f64 values") != NULL);
    uint64_t u = 0;
    CU_ASSERT(cg_ckpt_get_u64(ck, "version", &u, 1, err, sizeof(err)) == CG_ERR_MISMATCH);
    CU_ASSERT(strstr(err, "i64") != NULL);
    char *text = (char *)"sentinel";
    CU_ASSERT(cg_ckpt_get_str(ck, "params", &text, err, sizeof(err)) == CG_ERR_MISMATCH);
    CU_ASSERT(text == NULL);
    uint8_t raw[13];
    CU_ASSERT(cg_ckpt_get_bytes(ck, "config", raw, 13, err, sizeof(err)) == CG_ERR_MISMATCH);
    /* Missing: names it and lists what there is. */
    CU_ASSERT(cg_ckpt_get_f32(ck, "adam_m", out, 5, err, sizeof(err)) == CG_ERR_MISMATCH);
    CU_ASSERT(strstr(err, "'adam_m' is missing") != NULL);
    CU_ASSERT(strstr(err, "params, version, config") != NULL);
    CU_ASSERT(cg_ckpt_info(ck, "adam_m", NULL, NULL, err, sizeof(err)) == CG_ERR_MISMATCH);
    CU_ASSERT(cg_ckpt_get_str(ck, "adam_m", &text, NULL, 0) == CG_ERR_MISMATCH);
    /* The right shape still works after failures, and err may be NULL. */
    int64_t version = 0;
    CU_ASSERT(cg_ckpt_get_i64(ck, "version", &version, 1, NULL, 0) == CG_OK);
    CU_ASSERT_EQUAL(version, 42);
    CU_ASSERT(cg_ckpt_get_f32(ck, "params", out, 5, NULL, 0) == CG_OK);
    CU_ASSERT(out[1] == -1.25f);
    CU_ASSERT_STRING_EQUAL(cg_ckpt_dtype_str(CG_CKPT_BYTES), "bytes");
    CU_ASSERT_STRING_EQUAL(cg_ckpt_dtype_str((cg_ckpt_dtype_t)77), "?");
    cg_ckpt_destroy(&ck);
    s_rmrf(dir);
}

static void test_writer_rejects_bad_input(void)
{
    cg_ckpt_writer_t *w = cg_ckpt_writer_new();
    float x = 1.0f;
    char name64[65];
    memset(name64, 'n', 64);
    name64[64] = '\0';
    CU_ASSERT(cg_ckpt_put_f32(w, "", &x, 1) == CG_ERR_INVAL);
    CU_ASSERT(cg_ckpt_put_f32(w, NULL, &x, 1) == CG_ERR_INVAL);
    CU_ASSERT(cg_ckpt_put_f32(w, name64, &x, 1) == CG_ERR_INVAL);
    CU_ASSERT(cg_ckpt_put_f32(w, name64 + 1, &x, 1) == CG_OK); /* 63 chars is the max */
    CU_ASSERT(cg_ckpt_put_f32(w, "tab\there", &x, 1) == CG_ERR_INVAL);
    CU_ASSERT(cg_ckpt_put_f32(w, "null_data", NULL, 3) == CG_ERR_INVAL);
    CU_ASSERT(cg_ckpt_put_str(w, "null_text", NULL) == CG_ERR_INVAL);
    CU_ASSERT(cg_ckpt_put_f32(w, "w1", &x, 1) == CG_OK);
    CU_ASSERT(cg_ckpt_put_f64(w, "w1", NULL, 0) == CG_ERR_INVAL); /* duplicate */
    char err[256] = "";
    CU_ASSERT(cg_ckpt_writer_save(w, "", err, sizeof(err)) == CG_ERR_INVAL);
    cg_ckpt_writer_destroy(&w);
    cg_ckpt_writer_destroy(&w); /* NULL-safe */
    cg_ckpt_writer_destroy(NULL);
}

static void test_atomic_save(void)
{
    char dir[512], path[PATH_MAX], name[256], err[512] = "";
    s_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/state.cgck", dir);

    /* A stale temp file from a crashed process with our pid is replaced, not appended to. */
    char stale[PATH_MAX + 32];
    snprintf(stale, sizeof(stale), "%s.tmp.%ld", path, (long)getpid());
    s_write_raw(stale, (const uint8_t *)"junk", 4);

    int64_t v = 1;
    cg_ckpt_writer_t *w = cg_ckpt_writer_new();
    CU_ASSERT(cg_ckpt_put_i64(w, "version", &v, 1) == CG_OK);
    CU_ASSERT(cg_ckpt_writer_save(w, path, err, sizeof(err)) == CG_OK);
    cg_ckpt_writer_destroy(&w);
    CU_ASSERT_EQUAL(s_count_entries(dir, name, sizeof(name)), 1);
    CU_ASSERT_STRING_EQUAL(name, "state.cgck");

    /* Saving again replaces the file whole, and leaves nothing else behind. */
    v = 2;
    w = cg_ckpt_writer_new();
    CU_ASSERT(cg_ckpt_put_i64(w, "version", &v, 1) == CG_OK);
    CU_ASSERT(cg_ckpt_put_str(w, "note", "second save") == CG_OK);
    CU_ASSERT(cg_ckpt_writer_save(w, path, err, sizeof(err)) == CG_OK);
    CU_ASSERT_EQUAL(s_count_entries(dir, name, sizeof(name)), 1);
    cg_ckpt_t *ck = cg_ckpt_load(path, 0, NULL, err, sizeof(err));
    CU_ASSERT_FATAL(ck != NULL);
    int64_t got = 0;
    CU_ASSERT(cg_ckpt_get_i64(ck, "version", &got, 1, err, sizeof(err)) == CG_OK);
    CU_ASSERT_EQUAL(got, 2);
    CU_ASSERT_EQUAL(cg_ckpt_n_sections(ck), 2);
    cg_ckpt_destroy(&ck);

    /* A directory that does not exist: CG_ERR_IO with a hint, nothing created. */
    char missing[PATH_MAX + 32];
    snprintf(missing, sizeof(missing), "%s/no/such/dir.cgck", dir);
    CU_ASSERT(cg_ckpt_writer_save(w, missing, err, sizeof(err)) == CG_ERR_IO);
    CU_ASSERT(strstr(err, "hint:") != NULL);
    /* The final rename fails (a directory is in the way): the temp file is removed and
     * what was there is untouched. */
    char sub[PATH_MAX + 32];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    CU_ASSERT_FATAL(mkdir(sub, 0755) == 0);
    char inner[PATH_MAX + 64];
    snprintf(inner, sizeof(inner), "%s/keep", sub);
    s_write_raw(inner, (const uint8_t *)"x", 1);
    CU_ASSERT(cg_ckpt_writer_save(w, sub, err, sizeof(err)) == CG_ERR_IO);
    CU_ASSERT(strstr(err, "cannot rename") != NULL);
    CU_ASSERT_EQUAL(s_count_entries(dir, NULL, 0), 2); /* state.cgck and sub */
    CU_ASSERT_EQUAL(s_count_entries(sub, NULL, 0), 1);
    unlink(inner);
    cg_ckpt_writer_destroy(&w);

    /* A relative path (no directory part) works too. */
    char cwd[PATH_MAX];
    CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
    CU_ASSERT_FATAL(chdir(dir) == 0);
    w = cg_ckpt_writer_new();
    CU_ASSERT(cg_ckpt_writer_save(w, "rel.cgck", err, sizeof(err)) == CG_OK);
    cg_ckpt_writer_destroy(&w);
    ck = cg_ckpt_load("rel.cgck", 0, NULL, NULL, 0);
    CU_ASSERT(ck != NULL);
    CU_ASSERT_EQUAL(cg_ckpt_n_sections(ck), 0);
    cg_ckpt_destroy(&ck);
    CU_ASSERT_FATAL(chdir(cwd) == 0);
    s_rmrf(dir);
}

static void test_latest_and_prune(void)
{
    char dir[512], path[PATH_MAX + 64], latest[PATH_MAX + 64];
    s_mkdtemp(dir, sizeof(dir));
    int64_t version = 123;

    CU_ASSERT(cg_ckpt_latest(dir, latest, sizeof(latest), &version, NULL, 0) == CG_OK);
    CU_ASSERT_STRING_EQUAL(latest, "");
    CU_ASSERT_EQUAL(version, -1);

    CU_ASSERT(cg_ckpt_path(dir, 7, path, sizeof(path)) == CG_OK);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s/ckpt-0000000007.cgck", dir);
    CU_ASSERT_STRING_EQUAL(path, want);
    CU_ASSERT(cg_ckpt_path(dir, -1, path, sizeof(path)) == CG_ERR_INVAL);
    char tiny[8];
    CU_ASSERT(cg_ckpt_path(dir, 7, tiny, sizeof(tiny)) == CG_ERR_INVAL);

    const int64_t versions[] = {3, 12, 7, 100, 12345678901ll};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        CU_ASSERT_FATAL(cg_ckpt_path(dir, versions[i], path, sizeof(path)) == CG_OK);
        s_save_small(path);
    }
    /* Names outside the scheme are ignored by latest and left alone by prune. */
    const char *decoys[] = {
        "ckpt-99999999999.cgck.tmp.123", "ckpt-x.cgck", "ckpt-999.cgck",
        "ckpt-09999999999.cgck",         "notes.txt",   "ckpt-9999999999.cgck~"};
    for (size_t i = 0; i < sizeof(decoys) / sizeof(decoys[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, decoys[i]);
        s_write_raw(path, (const uint8_t *)"x", 1);
    }

    CU_ASSERT(cg_ckpt_latest(dir, latest, sizeof(latest), &version, NULL, 0) == CG_OK);
    CU_ASSERT_EQUAL(version, 12345678901ll);
    snprintf(want, sizeof(want), "%s/ckpt-12345678901.cgck", dir);
    CU_ASSERT_STRING_EQUAL(latest, want);
    CU_ASSERT(cg_ckpt_latest(dir, latest, 4, NULL, NULL, 0) == CG_ERR_INVAL);

    CU_ASSERT(cg_ckpt_prune(dir, 0, NULL, 0) == CG_ERR_INVAL);
    CU_ASSERT(cg_ckpt_prune(dir, 3, NULL, 0) == CG_OK);
    CU_ASSERT_EQUAL(s_count_entries(dir, NULL, 0), 3 + 6);
    const int64_t kept[] = {12, 100, 12345678901ll};
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_FATAL(cg_ckpt_path(dir, kept[i], path, sizeof(path)) == CG_OK);
        CU_ASSERT(access(path, F_OK) == 0);
    }
    CU_ASSERT(cg_ckpt_prune(dir, 1, NULL, 0) == CG_OK);
    CU_ASSERT(cg_ckpt_prune(dir, 1, NULL, 0) == CG_OK); /* idempotent */
    CU_ASSERT_EQUAL(s_count_entries(dir, NULL, 0), 1 + 6);
    CU_ASSERT(cg_ckpt_latest(dir, latest, sizeof(latest), &version, NULL, 0) == CG_OK);
    CU_ASSERT_EQUAL(version, 12345678901ll);
    cg_ckpt_t *ck = cg_ckpt_load(latest, 0, NULL, NULL, 0);
    CU_ASSERT(ck != NULL);
    cg_ckpt_destroy(&ck);

    snprintf(path, sizeof(path), "%s/no_such_dir", dir);
    char err[512] = "";
    CU_ASSERT(cg_ckpt_latest(path, latest, sizeof(latest), NULL, err, sizeof(err)) == CG_ERR_IO);
    CU_ASSERT(strstr(err, "no_such_dir") != NULL && strstr(err, "hint:") != NULL);
    CU_ASSERT(cg_ckpt_prune(path, 2, err, sizeof(err)) == CG_ERR_IO);

    /* A checkpoint that cannot be removed is reported; the others still go. */
    if (geteuid() != 0) {
        const int64_t more[] = {200, 300, 400};
        for (size_t i = 0; i < 3; i++) {
            CU_ASSERT_FATAL(cg_ckpt_path(dir, more[i], path, sizeof(path)) == CG_OK);
            s_save_small(path);
        }
        CU_ASSERT_FATAL(chmod(dir, 0555) == 0);
        err[0] = '\0';
        CU_ASSERT(cg_ckpt_prune(dir, 1, err, sizeof(err)) == CG_ERR_IO);
        CU_ASSERT(strstr(err, "cannot remove old checkpoint") != NULL);
        CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
    }
    s_rmrf(dir);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"crc32 matches CRC-32/IEEE", test_crc32},
        {"a checkpoint written before zlib's crc32 loads", test_fixture_still_loads},
        {"round trip of every dtype is bit-exact", test_round_trip_every_dtype},
        {"every single-byte flip is refused", test_every_byte_flip_refused},
        {"every truncation is refused", test_every_truncation_refused},
        {"random damage is refused", test_random_damage_refused},
        {"wrong magic and format version", test_magic_and_version},
        {"crafted headers with valid CRCs are refused", test_crafted_headers_refused},
        {"load errors: missing, directory, size cap", test_load_errors},
        {"get with wrong count, dtype or name", test_get_mismatch_messages},
        {"writer rejects bad names and data", test_writer_rejects_bad_input},
        {"save is atomic and leaves no temp files", test_atomic_save},
        {"latest and prune follow the naming scheme", test_latest_and_prune},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("ckpt", tests, NULL, NULL);
}
