/* fuzz_ckpt: libFuzzer harness for the checkpoint loader (common/cg_ckpt.c): cg_ckpt_load
 * of a file (a memfd, through its /proc/self/fd path), then every section read back with
 * the getter of its dtype, as a resume does. Input: one flags byte, then the file. Flags
 * bit 0 set: before loading, the harness rewrites the declared size, the header CRC and each
 * section's CRC to match the bytes (where the table can be followed), so mutations get past
 * the checksums into the layout checks behind them; clear: the bytes are loaded as they
 * are. A file that loads must be exactly the file the writer makes of the sections read
 * from it (saved under a temp directory, tmpfs where there is one). Seeds: corpus/ckpt/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_ckpt.h"
#include "cg_log.h"

/* The layout of docs/checkpoints.md (cg_ckpt.c): header, 80-byte entries, header CRC. */
#define S_HEAD 24u
#define S_ENTRY 80u

static int s_fd = -1;
static char s_path[64];     /* /proc/self/fd/<s_fd>: the file loaded */
static char s_dir[256];     /* temp directory of the rewritten file */
static char s_rewrite[320]; /* s_dir/ckpt.cgck */

static void s_cleanup(void)
{
    unlink(s_rewrite);
    rmdir(s_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cg_log_set_level(CG_LOG_ERROR);
    s_fd = memfd_create("fuzz_ckpt", 0);
    if (s_fd < 0)
        abort();
    snprintf(s_path, sizeof s_path, "/proc/self/fd/%d", s_fd);
    struct stat st;
    const char *tmp = getenv("TMPDIR");
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
        tmp = "/dev/shm"; /* the save fsyncs: free on tmpfs */
    snprintf(s_dir, sizeof s_dir, "%s/fuzz_ckpt_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s_dir))
        abort();
    snprintf(s_rewrite, sizeof s_rewrite, "%s/ckpt.cgck", s_dir);
    atexit(s_cleanup);
    return 0;
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_get64(const uint8_t *p)
{
    return (uint64_t)s_get32(p) | (uint64_t)s_get32(p + 4) << 32;
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    s_put32(p, (uint32_t)v);
    s_put32(p + 4, (uint32_t)(v >> 32));
}

static size_t s_elem(uint32_t dtype)
{
    static const size_t size[] = {0, 4, 8, 8, 8, 1, 1};
    return dtype < sizeof size / sizeof size[0] ? size[dtype] : 0;
}

/* Makes the declared size and the CRCs agree with the bytes, as far as the table allows. */
static void s_repair(uint8_t *b, size_t n)
{
    if (n < S_HEAD)
        return;
    s_put64(b + 16, n);
    uint32_t count = s_get32(b + 12);
    if (count > CG_CKPT_MAX_SECTIONS || n < S_HEAD + (size_t)S_ENTRY * count + 4)
        return;
    size_t table_end = S_HEAD + (size_t)S_ENTRY * count, off = table_end + 4;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = b + S_HEAD + (size_t)S_ENTRY * i;
        size_t es = s_elem(s_get32(e + 64));
        uint64_t cnt = s_get64(e + 72);
        if (es == 0 || cnt > (n - off) / es)
            break;
        s_put32(e + 68, cg_ckpt_crc32(0, b + off, (size_t)cnt * es));
        off += (size_t)cnt * es;
    }
    s_put32(b + table_end, cg_ckpt_crc32(0, b, table_end));
}

/* Reads every section back as a resume would, and puts each into w. */
static void s_read_all(const cg_ckpt_t *ck, cg_ckpt_writer_t *w)
{
    char err[1024];
    for (size_t i = 0; i < cg_ckpt_n_sections(ck); i++) {
        const char *name = cg_ckpt_section_name(ck, i);
        cg_ckpt_dtype_t dtype;
        uint64_t count;
        if (!cg_ckpt_has(ck, name) || cg_ckpt_info(ck, name, &dtype, &count, err, sizeof err))
            abort();
        if (dtype == CG_CKPT_STR) {
            char *text = NULL;
            if (cg_ckpt_get_str(ck, name, &text, err, sizeof err) != CG_OK)
                abort();
            if (cg_ckpt_put_str(w, name, text) != CG_OK)
                abort();
            free(text);
            continue;
        }
        size_t n = (size_t)count, es = s_elem((uint32_t)dtype);
        void *out = malloc(n * es + 1); /* the file holds n * es bytes, so n is bounded */
        cg_status_t rc = CG_ERR_INVAL, put = CG_OK;
        switch (dtype) {
        case CG_CKPT_F32:
            rc = cg_ckpt_get_f32(ck, name, out, n, err, sizeof err);
            put = cg_ckpt_put_f32(w, name, out, n);
            break;
        case CG_CKPT_F64:
            rc = cg_ckpt_get_f64(ck, name, out, n, err, sizeof err);
            put = cg_ckpt_put_f64(w, name, out, n);
            break;
        case CG_CKPT_I64:
            rc = cg_ckpt_get_i64(ck, name, out, n, err, sizeof err);
            put = cg_ckpt_put_i64(w, name, out, n);
            break;
        case CG_CKPT_U64:
            rc = cg_ckpt_get_u64(ck, name, out, n, err, sizeof err);
            put = cg_ckpt_put_u64(w, name, out, n);
            break;
        case CG_CKPT_BYTES:
            rc = cg_ckpt_get_bytes(ck, name, out, n, err, sizeof err);
            put = cg_ckpt_put_bytes(w, name, out, n);
            break;
        default: abort(); /* the loader accepted an unknown dtype */
        }
        /* The wrong shape is refused, not read. */
        if (rc != CG_OK || put != CG_OK ||
            cg_ckpt_get_f32(ck, name, out, n + 1, err, sizeof err) != CG_ERR_MISMATCH)
            abort();
        free(out);
    }
}

/* The file at path, which must hold exactly want (n bytes). */
static void s_expect_file(const char *path, const uint8_t *want, size_t n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *got = malloc(n + 1);
    if (!f || !got || fread(got, 1, n + 1, f) != n || memcmp(got, want, n) != 0)
        abort(); /* accepted, but not what the writer makes of its sections */
    fclose(f);
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = size - 1;
    uint8_t *file = malloc(n + 1);
    memcpy(file, data + 1, n);
    if (data[0] & 1)
        s_repair(file, n);
    if (ftruncate(s_fd, 0) != 0 || pwrite(s_fd, file, n, 0) != (ssize_t)n)
        abort();

    char err[1024];
    cg_status_t st;
    cg_ckpt_t *ck = cg_ckpt_load(s_path, 1u << 20, &st, err, sizeof err);
    if (!ck) {
        if (st == CG_OK || err[0] == '\0')
            abort(); /* a refusal has a status and a message */
        free(file);
        return 0;
    }
    /* Accepted: read it all as a resume does, and write the same sections anew. */
    cg_ckpt_writer_t *w = cg_ckpt_writer_new();
    s_read_all(ck, w);
    if (cg_ckpt_writer_save(w, s_rewrite, err, sizeof err) != CG_OK)
        abort();
    s_expect_file(s_rewrite, file, n);
    cg_ckpt_writer_destroy(&w);
    cg_ckpt_destroy(&ck);
    free(file);
    return 0;
}
