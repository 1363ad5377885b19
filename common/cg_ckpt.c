/* cg_ckpt: the checkpoint container: little-endian encoding, atomic save, a load that
 * validates every byte, and the ckpt-<version>.cgck naming scheme (latest, prune).
 * docs/checkpoints.md describes the format for users. */
#include "cg_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cg_alloc.h"
#include "cg_log.h"

/* File layout, every integer little-endian, no padding anywhere:
 *   0        magic "CGRPOCKP"   8 bytes
 *   8        format version     u32
 *   12       section count n    u32
 *   16       file size          u64 (bytes, the whole file)
 *   24       section table      n entries of 80 bytes:
 *              name   64 bytes: 1..63 printable ASCII bytes, then NUL bytes to the end
 *              dtype  u32 (cg_ckpt_dtype_t)
 *              crc    u32: CRC-32 of the section's data bytes
 *              count  u64 elements
 *   24+80n   header crc         u32: CRC-32 of bytes [0, 24+80n)
 *   28+80n   data               each section's count*elem_size bytes, in table order
 * Every byte is covered by a CRC or is one, so any damage to a single byte is caught. */
#define S_MAGIC "CGRPOCKP"
#define S_MAGIC_LEN 8u
#define S_HEAD_LEN 24u
#define S_ENTRY_LEN 80u
#define S_NAME_FIELD 64u
#define S_CKPT_PREFIX "ckpt-"
#define S_CKPT_SUFFIX ".cgck"

#define S_HINT_DAMAGED                                                                             \
    "hint: the file is damaged; resume from an earlier checkpoint in the same directory"
#define S_HINT_CONFIG                                                                              \
    "hint: the checkpoint was written with a different configuration; resume with the "            \
    "config it was saved with, or start a new run"

/* One section: the writer owns `data` (an encoded copy); the reader's `data` points into
 * its file buffer. */
typedef struct {
    char name[CG_CKPT_NAME_MAX + 1];
    cg_ckpt_dtype_t dtype;
    uint32_t crc;
    uint64_t count;
    size_t nbytes;
    uint8_t *data; /* (nbytes) little-endian */
} s_section_t;

struct cg_ckpt_writer {
    s_section_t *sec; /* (cap), n used */
    size_t n;
    size_t cap;
};

struct cg_ckpt {
    uint8_t *buf; /* (size) the whole file */
    size_t size;
    s_section_t *sec; /* (n), data views into buf */
    size_t n;
};

/* ---- small helpers ------------------------------------------------------------------- */

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Bytes per element; 0 for a value that is not a dtype. */
static size_t s_elem_size(uint32_t dtype)
{
    switch (dtype) {
    case CG_CKPT_F32: return 4;
    case CG_CKPT_F64:
    case CG_CKPT_I64:
    case CG_CKPT_U64: return 8;
    case CG_CKPT_BYTES:
    case CG_CKPT_STR: return 1;
    }
    return 0;
}

/* n elements of esize bytes from host order (src) to little-endian (dst). Floats travel as
 * their bit patterns, so every value, NaN payloads included, comes back bit-exact. */
static void s_encode(uint8_t *dst, const void *src, size_t n, size_t esize)
{
    const uint8_t *s = src;
    if (esize == 4) {
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, s + 4 * i, 4);
            s_put32(dst + 4 * i, v);
        }
    } else if (esize == 8) {
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, s + 8 * i, 8);
            s_put64(dst + 8 * i, v);
        }
    } else if (n > 0) {
        memcpy(dst, s, n);
    }
}

/* The inverse of s_encode. */
static void s_decode(void *dst, const uint8_t *src, size_t n, size_t esize)
{
    uint8_t *d = dst;
    if (esize == 4) {
        for (size_t i = 0; i < n; i++) {
            uint32_t v = s_get32(src + 4 * i);
            memcpy(d + 4 * i, &v, 4);
        }
    } else if (esize == 8) {
        for (size_t i = 0; i < n; i++) {
            uint64_t v = s_get64(src + 8 * i);
            memcpy(d + 8 * i, &v, 8);
        }
    } else if (n > 0) {
        memcpy(d, src, n);
    }
}

/* 1..CG_CKPT_NAME_MAX printable ASCII bytes (so names are safe to print in messages). */
static bool s_name_ok(const char *name)
{
    if (!name)
        return false;
    size_t len = 0;
    for (; name[len]; len++) {
        if (len >= CG_CKPT_NAME_MAX || name[len] < 0x20 || name[len] > 0x7e)
            return false;
    }
    return len > 0;
}

static const s_section_t *s_find(const s_section_t *sec, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(sec[i].name, name) == 0)
            return &sec[i];
    }
    return NULL;
}

const char *cg_ckpt_dtype_str(cg_ckpt_dtype_t dtype)
{
    switch (dtype) {
    case CG_CKPT_F32: return "f32";
    case CG_CKPT_F64: return "f64";
    case CG_CKPT_I64: return "i64";
    case CG_CKPT_U64: return "u64";
    case CG_CKPT_BYTES: return "bytes";
    case CG_CKPT_STR: return "str";
    }
    return "?";
}

uint32_t cg_ckpt_crc32(uint32_t crc, const void *data, size_t n)
{
    /* zlib's CRC-32 (IEEE, reflected 0xEDB88320); it returns 0 for a NULL buffer, so an
     * empty piece is skipped here to keep incremental use exact. */
    return n ? (uint32_t)crc32_z(crc, data, n) : crc;
}

/* ---- writing ------------------------------------------------------------------------- */

cg_ckpt_writer_t *cg_ckpt_writer_new(void)
{
    return cg_calloc(1, sizeof(cg_ckpt_writer_t));
}

void cg_ckpt_writer_destroy(cg_ckpt_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_ckpt_writer_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free(self->sec[i].data);
    free(self->sec);
    free(self);
    *self_p = NULL;
}

static cg_status_t s_put(cg_ckpt_writer_t *self, const char *name, cg_ckpt_dtype_t dtype,
                         const void *data, size_t n)
{
    /* Every rejection is a caller bug, so it is logged here rather than returned as text. */
    size_t esize = s_elem_size(dtype);
    if (!self)
        return CG_ERR_INVAL;
    if (!s_name_ok(name)) {
        CG_ERROR("checkpoint section name must be 1..%d printable ASCII characters",
                 CG_CKPT_NAME_MAX);
        return CG_ERR_INVAL;
    }
    if ((n > 0 && !data) || n > SIZE_MAX / esize) {
        CG_ERROR("checkpoint section '%s': NULL data or an impossible count (%zu)", name, n);
        return CG_ERR_INVAL;
    }
    if (s_find(self->sec, self->n, name)) {
        CG_ERROR("checkpoint section '%s' put twice", name);
        return CG_ERR_INVAL;
    }
    if (self->n >= CG_CKPT_MAX_SECTIONS) {
        CG_ERROR("checkpoint section '%s': over the limit of %u sections", name,
                 CG_CKPT_MAX_SECTIONS);
        return CG_ERR_INVAL;
    }
    if (self->n == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 16;
        self->sec = cg_realloc(self->sec, self->cap, sizeof(s_section_t));
    }
    s_section_t *s = &self->sec[self->n];
    memset(s, 0, sizeof(*s));
    strcpy(s->name, name); /* fits: s_name_ok checked the length */
    s->dtype = dtype;
    s->count = n;
    s->nbytes = n * esize;
    s->data = cg_realloc(NULL, s->nbytes, 1);
    s_encode(s->data, data, n, esize);
    s->crc = cg_ckpt_crc32(0, s->data, s->nbytes);
    self->n++;
    return CG_OK;
}

cg_status_t cg_ckpt_put_f32(cg_ckpt_writer_t *self, const char *name, const float *data, size_t n)
{
    return s_put(self, name, CG_CKPT_F32, data, n);
}

cg_status_t cg_ckpt_put_f64(cg_ckpt_writer_t *self, const char *name, const double *data, size_t n)
{
    return s_put(self, name, CG_CKPT_F64, data, n);
}

cg_status_t cg_ckpt_put_i64(cg_ckpt_writer_t *self, const char *name, const int64_t *data, size_t n)
{
    return s_put(self, name, CG_CKPT_I64, data, n);
}

cg_status_t cg_ckpt_put_u64(cg_ckpt_writer_t *self, const char *name, const uint64_t *data,
                            size_t n)
{
    return s_put(self, name, CG_CKPT_U64, data, n);
}

cg_status_t cg_ckpt_put_bytes(cg_ckpt_writer_t *self, const char *name, const void *data, size_t n)
{
    return s_put(self, name, CG_CKPT_BYTES, data, n);
}

cg_status_t cg_ckpt_put_str(cg_ckpt_writer_t *self, const char *name, const char *text)
{
    if (!text)
        return CG_ERR_INVAL;
    return s_put(self, name, CG_CKPT_STR, text, strlen(text));
}

/* Magic, version, count, size, table and header CRC: (28 + 80 n) bytes, caller frees. */
static uint8_t *s_encode_header(const cg_ckpt_writer_t *self, size_t *len)
{
    size_t table_end = S_HEAD_LEN + S_ENTRY_LEN * self->n;
    uint64_t file_size = table_end + 4;
    for (size_t i = 0; i < self->n; i++)
        file_size += self->sec[i].nbytes;
    uint8_t *h = cg_calloc(table_end + 4, 1);
    memcpy(h, S_MAGIC, S_MAGIC_LEN);
    s_put32(h + 8, CG_CKPT_FORMAT_VERSION);
    s_put32(h + 12, (uint32_t)self->n);
    s_put64(h + 16, file_size);
    for (size_t i = 0; i < self->n; i++) {
        uint8_t *e = h + S_HEAD_LEN + S_ENTRY_LEN * i;
        const s_section_t *s = &self->sec[i];
        memcpy(e, s->name, strlen(s->name)); /* the rest of the field stays zero */
        s_put32(e + 64, (uint32_t)s->dtype);
        s_put32(e + 68, s->crc);
        s_put64(e + 72, s->count);
    }
    s_put32(h + table_end, cg_ckpt_crc32(0, h, table_end));
    *len = table_end + 4;
    return h;
}

static int s_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsyncs the directory holding `path`, so the rename itself survives a power cut.
 * Filesystems that cannot fsync a directory (EINVAL) are accepted. */
static int s_fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, len); /* len < strlen(path) < PATH_MAX, checked by the caller */
        dir[len] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return (rc < 0 && errno != EINVAL) ? -1 : 0;
}

cg_status_t cg_ckpt_writer_save(const cg_ckpt_writer_t *self, const char *path, char *err,
                                size_t errlen)
{
    if (!self || !path || !*path) {
        cg_status_msg(err, errlen, "cannot save a checkpoint: no writer or empty path");
        return CG_ERR_INVAL;
    }
    char tmp[PATH_MAX];
    int len = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof(tmp)) {
        cg_status_msg(
            err, errlen,
            "cannot save checkpoint '%s': path too long (hint: use a shorter run directory)", path);
        return CG_ERR_INVAL;
    }
    cg_status_t rc = CG_ERR_IO;
    size_t head_len = 0;
    uint8_t *head = s_encode_header(self, &head_len);
    /* A temp file left by a crashed process that had our pid is stale: replace it. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        cg_status_msg(
            err, errlen,
            "cannot create '%s': %s (hint: check that the directory exists and is writable)", tmp,
            strerror(errno));
        goto done;
    }
    bool ok = s_write_all(fd, head, head_len) == 0;
    for (size_t i = 0; ok && i < self->n; i++)
        ok = s_write_all(fd, self->sec[i].data, self->sec[i].nbytes) == 0;
    if (!ok) {
        cg_status_msg(err, errlen, "cannot write '%s': %s (hint: check free disk space and quota)",
                      tmp, strerror(errno));
        goto done;
    }
    if (fsync(fd) < 0) {
        cg_status_msg(err, errlen,
                      "cannot fsync '%s': %s (hint: check the filesystem and free disk space)", tmp,
                      strerror(errno));
        goto done;
    }
    int close_rc = close(fd);
    fd = -1;
    if (close_rc < 0) {
        cg_status_msg(err, errlen, "cannot close '%s': %s (hint: check free disk space and quota)",
                      tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) < 0) {
        cg_status_msg(
            err, errlen,
            "cannot rename '%s' to '%s': %s (hint: check that '%s' is not a directory and its "
            "directory is writable)",
            tmp, path, strerror(errno), path);
        goto done;
    }
    if (s_fsync_dir(path) < 0) {
        /* The file is complete under its name; only its durability is in doubt. */
        cg_status_msg(err, errlen,
                      "saved '%s' but cannot fsync its directory: %s (hint: check the filesystem)",
                      path, strerror(errno));
        free(head);
        return CG_ERR_IO;
    }
    rc = CG_OK;
done:
    if (fd >= 0)
        close(fd);
    if (rc != CG_OK)
        unlink(tmp);
    free(head);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

void cg_ckpt_destroy(cg_ckpt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_ckpt_t *self = *self_p;
    free(self->sec);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

/* The header: magic, format version, section count, header CRC and declared size. *n gets
 * the section count. */
static cg_status_t s_parse_header(const cg_ckpt_t *self, const char *path, uint32_t *n_out,
                                  char *err, size_t errlen)
{
    const uint8_t *b = self->buf;
    size_t size = self->size;
    if (size < S_MAGIC_LEN) {
        if (memcmp(b, S_MAGIC, size) == 0) {
            cg_status_msg(err, errlen,
                          "checkpoint '%s' is truncated: %zu bytes, shorter than its header (%s)",
                          path, size, S_HINT_DAMAGED);
        } else {
            cg_status_msg(
                err, errlen,
                "'%s' is not a cgrpo checkpoint (bad magic) (hint: pass a ckpt-<version>.cgck "
                "file written by cgrpo)",
                path);
        }
        return CG_ERR_CORRUPT;
    }
    if (memcmp(b, S_MAGIC, S_MAGIC_LEN) != 0) {
        cg_status_msg(
            err, errlen,
            "'%s' is not a cgrpo checkpoint (bad magic) (hint: pass a ckpt-<version>.cgck file "
            "written by cgrpo)",
            path);
        return CG_ERR_CORRUPT;
    }
    if (size < S_MAGIC_LEN + 4)
        goto truncated;
    uint32_t version = s_get32(b + 8);
    if (version != CG_CKPT_FORMAT_VERSION) {
        cg_status_msg(
            err, errlen,
            "checkpoint '%s' has format version %" PRIu32
            ", this build reads version %u (hint: resume with the %s cgrpo that wrote it)",
            path, version, CG_CKPT_FORMAT_VERSION,
            version > CG_CKPT_FORMAT_VERSION ? "newer" : "older");
        return CG_ERR_MISMATCH;
    }
    if (size < S_HEAD_LEN)
        goto truncated;
    uint32_t n = s_get32(b + 12);
    if (n > CG_CKPT_MAX_SECTIONS) {
        cg_status_msg(err, errlen,
                      "checkpoint '%s' claims %" PRIu32 " sections, over the limit of %u (%s)",
                      path, n, CG_CKPT_MAX_SECTIONS, S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    size_t table_end = S_HEAD_LEN + (size_t)S_ENTRY_LEN * n; /* n is capped: no overflow */
    if (size < table_end + 4)
        goto truncated;
    if (cg_ckpt_crc32(0, b, table_end) != s_get32(b + table_end)) {
        cg_status_msg(err, errlen, "checkpoint '%s': header checksum mismatch (%s)", path,
                      S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    uint64_t declared = s_get64(b + 16);
    if (declared > size)
        goto truncated;
    if (declared < size) {
        cg_status_msg(err, errlen,
                      "checkpoint '%s' has %zu bytes, its header says %" PRIu64
                      " (trailing data) (%s)",
                      path, size, declared, S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    *n_out = n;
    return CG_OK;

truncated:
    cg_status_msg(err, errlen, "checkpoint '%s' is truncated (%zu bytes) (%s)", path, size,
                  S_HINT_DAMAGED);
    return CG_ERR_CORRUPT;
}

/* Table entry i (at e): name, dtype, CRC and count; its data starts at *off, which moves past
 * it. */
static cg_status_t s_parse_entry(cg_ckpt_t *self, uint32_t i, const uint8_t *e, size_t *off,
                                 const char *path, char *err, size_t errlen)
{
    const size_t size = self->size;
    s_section_t *s = &self->sec[i];
    const uint8_t *nul = memchr(e, 0, S_NAME_FIELD);
    size_t name_len = nul ? (size_t)(nul - e) : S_NAME_FIELD;
    bool name_ok = name_len > 0 && name_len <= CG_CKPT_NAME_MAX;
    for (size_t j = 0; name_ok && j < S_NAME_FIELD; j++)
        name_ok = j < name_len ? (e[j] >= 0x20 && e[j] <= 0x7e) : e[j] == 0;
    if (!name_ok) {
        cg_status_msg(err, errlen, "checkpoint '%s': section %" PRIu32 " has an invalid name (%s)",
                      path, i, S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    memcpy(s->name, e, name_len);
    s->name[name_len] = '\0';
    if (s_find(self->sec, i, s->name)) {
        cg_status_msg(err, errlen, "checkpoint '%s': section '%s' appears twice (%s)", path,
                      s->name, S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    uint32_t dtype = s_get32(e + 64);
    size_t esize = s_elem_size(dtype);
    if (esize == 0) {
        cg_status_msg(err, errlen,
                      "checkpoint '%s': section '%s' has unknown dtype %" PRIu32 " (%s)", path,
                      s->name, dtype, S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    s->dtype = (cg_ckpt_dtype_t)dtype;
    s->crc = s_get32(e + 68);
    s->count = s_get64(e + 72);
    if (s->count > (size - *off) / esize) {
        cg_status_msg(err, errlen,
                      "checkpoint '%s': section '%s' claims %" PRIu64
                      " %s values, more than the file holds (%s)",
                      path, s->name, s->count, cg_ckpt_dtype_str(s->dtype), S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    s->nbytes = (size_t)s->count * esize;
    s->data = self->buf + *off;
    *off += s->nbytes;
    return CG_OK;
}

/* Validates self->buf (self->size bytes) and builds the section list. Checks run in an
 * order where each one can trust what the earlier ones established: magic, version,
 * table bounds, header CRC (so the table is as written), declared size, then each
 * entry's name/dtype/count (overflow-safe: count is compared to the bytes remaining),
 * then each section's data CRC. */
static cg_status_t s_parse(cg_ckpt_t *self, const char *path, char *err, size_t errlen)
{
    uint32_t n = 0;
    CG_TRY(s_parse_header(self, path, &n, err, errlen));
    const size_t size = self->size;
    self->sec = cg_calloc(n, sizeof(s_section_t));
    size_t off = S_HEAD_LEN + (size_t)S_ENTRY_LEN * n + 4;
    for (uint32_t i = 0; i < n; i++)
        CG_TRY(s_parse_entry(self, i, self->buf + S_HEAD_LEN + (size_t)S_ENTRY_LEN * i, &off, path,
                             err, errlen));
    if (off != size) {
        cg_status_msg(err, errlen, "checkpoint '%s': sections hold %zu bytes, the file %zu (%s)",
                      path, off, size, S_HINT_DAMAGED);
        return CG_ERR_CORRUPT;
    }
    for (uint32_t i = 0; i < n; i++) {
        const s_section_t *s = &self->sec[i];
        if (cg_ckpt_crc32(0, s->data, s->nbytes) != s->crc) {
            cg_status_msg(err, errlen, "checkpoint '%s': section '%s': checksum mismatch (%s)",
                          path, s->name, S_HINT_DAMAGED);
            return CG_ERR_CORRUPT;
        }
        if (s->dtype == CG_CKPT_STR && memchr(s->data, 0, s->nbytes)) {
            cg_status_msg(err, errlen, "checkpoint '%s': text section '%s' holds a NUL byte (%s)",
                          path, s->name, S_HINT_DAMAGED);
            return CG_ERR_CORRUPT;
        }
    }
    self->n = n;
    return CG_OK;
}

/* Reads the regular file at path into a new buffer of at most max_bytes. */
static cg_status_t s_read_file(const char *path, size_t max_bytes, uint8_t **buf_out,
                               size_t *size_out, char *err, size_t errlen)
{
    cg_status_t rc = CG_ERR_IO;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cg_status_msg(
            err, errlen,
            "cannot open checkpoint '%s': %s (hint: check the path; checkpoints are named "
            "ckpt-<version>.cgck)",
            path, strerror(errno));
        return CG_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        cg_status_msg(
            err, errlen,
            "checkpoint '%s' is not a regular file (hint: pass a ckpt-<version>.cgck file)", path);
        goto done;
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        cg_status_msg(
            err, errlen,
            "checkpoint '%s' has %lld bytes, over the cap of %zu (hint: raise the load cap if "
            "the model is really this large)",
            path, (long long)st.st_size, max_bytes);
        rc = CG_ERR_TOOBIG;
        goto done;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        cg_status_msg(err, errlen, "out of memory reading checkpoint '%s' (%zu bytes)", path, size);
        rc = CG_ERR_NOMEM;
        goto done;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cg_status_msg(err, errlen, "cannot read checkpoint '%s': %s (hint: check the disk)",
                          path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break; /* shrank while we read: validation reports it as truncated */
        got += (size_t)r;
    }
    *buf_out = buf;
    *size_out = got;
    buf = NULL;
    rc = CG_OK;
done:
    free(buf);
    close(fd);
    return rc;
}

cg_ckpt_t *cg_ckpt_load(const char *path, size_t max_bytes, cg_status_t *status, char *err,
                        size_t errlen)
{
    cg_status_t rc = CG_ERR_INVAL;
    cg_ckpt_t *self = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!path || !*path) {
        cg_status_msg(err, errlen, "no checkpoint path given");
        goto done;
    }
    self = cg_calloc(1, sizeof(cg_ckpt_t));
    rc = s_read_file(path, max_bytes ? max_bytes : CG_CKPT_DEFAULT_MAX_BYTES, &self->buf,
                     &self->size, err, errlen);
    if (rc == CG_OK)
        rc = s_parse(self, path, err, errlen);
    if (rc != CG_OK)
        cg_ckpt_destroy(&self);
done:
    if (status)
        *status = rc;
    return self;
}

size_t cg_ckpt_n_sections(const cg_ckpt_t *self)
{
    return self ? self->n : 0;
}

const char *cg_ckpt_section_name(const cg_ckpt_t *self, size_t i)
{
    CG_ASSERT(self && i < self->n);
    return self->sec[i].name;
}

int cg_ckpt_has(const cg_ckpt_t *self, const char *name)
{
    return self && name && s_find(self->sec, self->n, name) != NULL;
}

/* The section called name, or NULL with a message listing the sections there are. */
static const s_section_t *s_lookup(const cg_ckpt_t *self, const char *name, char *err,
                                   size_t errlen)
{
    const s_section_t *s = s_find(self->sec, self->n, name);
    if (s || !err || errlen == 0)
        return s;
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < self->n && used < sizeof(names); i++) {
        int w =
            snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", self->sec[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    cg_status_msg(
        err, errlen,
        "section '%s' is missing from the checkpoint (it has: %s) (hint: the checkpoint was "
        "written by another cgrpo version or configuration)",
        name, self->n ? names : "no sections");
    return NULL;
}

cg_status_t cg_ckpt_info(const cg_ckpt_t *self, const char *name, cg_ckpt_dtype_t *dtype,
                         uint64_t *count, char *err, size_t errlen)
{
    if (!self || !name)
        return CG_ERR_INVAL;
    const s_section_t *s = s_lookup(self, name, err, errlen);
    if (!s)
        return CG_ERR_MISMATCH;
    if (dtype)
        *dtype = s->dtype;
    if (count)
        *count = s->count;
    return CG_OK;
}

static cg_status_t s_get(const cg_ckpt_t *self, const char *name, cg_ckpt_dtype_t dtype, void *out,
                         size_t expected_n, char *err, size_t errlen)
{
    if (!self || !name || (expected_n > 0 && !out))
        return CG_ERR_INVAL;
    const s_section_t *s = s_lookup(self, name, err, errlen);
    if (!s)
        return CG_ERR_MISMATCH;
    if (s->dtype != dtype || s->count != (uint64_t)expected_n) {
        cg_status_msg(err, errlen,
                      "section '%s': checkpoint has %" PRIu64
                      " %s values, this run needs %zu %s values (%s)",
                      name, s->count, cg_ckpt_dtype_str(s->dtype), expected_n,
                      cg_ckpt_dtype_str(dtype), S_HINT_CONFIG);
        return CG_ERR_MISMATCH;
    }
    s_decode(out, s->data, expected_n, s_elem_size(dtype));
    return CG_OK;
}

cg_status_t cg_ckpt_get_f32(const cg_ckpt_t *self, const char *name, float *out, size_t expected_n,
                            char *err, size_t errlen)
{
    return s_get(self, name, CG_CKPT_F32, out, expected_n, err, errlen);
}

cg_status_t cg_ckpt_get_f64(const cg_ckpt_t *self, const char *name, double *out, size_t expected_n,
                            char *err, size_t errlen)
{
    return s_get(self, name, CG_CKPT_F64, out, expected_n, err, errlen);
}

cg_status_t cg_ckpt_get_i64(const cg_ckpt_t *self, const char *name, int64_t *out,
                            size_t expected_n, char *err, size_t errlen)
{
    return s_get(self, name, CG_CKPT_I64, out, expected_n, err, errlen);
}

cg_status_t cg_ckpt_get_u64(const cg_ckpt_t *self, const char *name, uint64_t *out,
                            size_t expected_n, char *err, size_t errlen)
{
    return s_get(self, name, CG_CKPT_U64, out, expected_n, err, errlen);
}

cg_status_t cg_ckpt_get_bytes(const cg_ckpt_t *self, const char *name, void *out, size_t expected_n,
                              char *err, size_t errlen)
{
    return s_get(self, name, CG_CKPT_BYTES, out, expected_n, err, errlen);
}

cg_status_t cg_ckpt_get_str(const cg_ckpt_t *self, const char *name, char **out, char *err,
                            size_t errlen)
{
    if (!out)
        return CG_ERR_INVAL;
    *out = NULL;
    if (!self || !name)
        return CG_ERR_INVAL;
    const s_section_t *s = s_lookup(self, name, err, errlen);
    if (!s)
        return CG_ERR_MISMATCH;
    if (s->dtype != CG_CKPT_STR) {
        cg_status_msg(err, errlen,
                      "section '%s': checkpoint has %" PRIu64
                      " %s values, this run needs text (%s)",
                      name, s->count, cg_ckpt_dtype_str(s->dtype), S_HINT_CONFIG);
        return CG_ERR_MISMATCH;
    }
    char *text = cg_calloc(s->nbytes + 1, 1);
    if (s->nbytes > 0)
        memcpy(text, s->data, s->nbytes);
    *out = text;
    return CG_OK;
}

/* ---- files in a checkpoint directory --------------------------------------------------- */

cg_status_t cg_ckpt_path(const char *dir, int64_t version, char *out, size_t len)
{
    if (!dir || !out || len == 0 || version < 0)
        return CG_ERR_INVAL;
    int w = snprintf(out, len, "%s/" S_CKPT_PREFIX "%010" PRId64 S_CKPT_SUFFIX, dir, version);
    if (w < 0 || (size_t)w >= len) {
        out[0] = '\0';
        return CG_ERR_INVAL;
    }
    return CG_OK;
}

/* The version in "ckpt-<digits>.cgck" (exactly 10 digits, or more without a leading
 * zero, as cg_ckpt_path writes them); -1 for any other name. */
static int64_t s_parse_name(const char *name)
{
    size_t plen = strlen(S_CKPT_PREFIX);
    if (strncmp(name, S_CKPT_PREFIX, plen) != 0)
        return -1;
    const char *digits = name + plen;
    const char *p = digits;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = 10 * v + (*p - '0');
    }
    size_t nd = (size_t)(p - digits);
    if (nd < 10 || (nd > 10 && digits[0] == '0') || strcmp(p, S_CKPT_SUFFIX) != 0)
        return -1;
    return v;
}

/* Versions of the checkpoints in dir, in *versions (caller frees), *n of them. */
static cg_status_t s_scan(const char *dir, int64_t **versions, size_t *n, char *err, size_t errlen)
{
    *versions = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        cg_status_msg(
            err, errlen,
            "cannot read checkpoint directory '%s': %s (hint: check the run directory path)", dir,
            strerror(errno));
        return CG_ERR_IO;
    }
    size_t cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        int64_t v = s_parse_name(ent->d_name);
        if (v < 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *versions = cg_realloc(*versions, cap, sizeof(int64_t));
        }
        (*versions)[(*n)++] = v;
    }
    closedir(d);
    return CG_OK;
}

cg_status_t cg_ckpt_latest(const char *dir, char *path_out, size_t len, int64_t *version, char *err,
                           size_t errlen)
{
    if (!dir || !path_out || len == 0)
        return CG_ERR_INVAL;
    path_out[0] = '\0';
    if (version)
        *version = -1;
    int64_t *vs = NULL;
    size_t n = 0;
    CG_TRY(s_scan(dir, &vs, &n, err, errlen));
    int64_t best = -1;
    for (size_t i = 0; i < n; i++)
        best = vs[i] > best ? vs[i] : best;
    free(vs);
    if (best < 0)
        return CG_OK;
    if (cg_ckpt_path(dir, best, path_out, len) != CG_OK) {
        cg_status_msg(
            err, errlen,
            "checkpoint path in '%s' does not fit in %zu bytes (hint: use a shorter run directory)",
            dir, len);
        return CG_ERR_INVAL;
    }
    if (version)
        *version = best;
    return CG_OK;
}

static int s_cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

cg_status_t cg_ckpt_prune(const char *dir, size_t keep, char *err, size_t errlen)
{
    if (!dir || keep == 0) {
        cg_status_msg(err, errlen, "prune must keep at least one checkpoint");
        return CG_ERR_INVAL;
    }
    int64_t *vs = NULL;
    size_t n = 0;
    CG_TRY(s_scan(dir, &vs, &n, err, errlen));
    qsort(vs, n, sizeof(int64_t), s_cmp_desc);
    cg_status_t rc = CG_OK;
    for (size_t i = keep; i < n; i++) {
        char path[PATH_MAX];
        /* The name was read from dir, so dir/name fits unless dir itself is near PATH_MAX;
         * ENOENT: someone else removed it first, which is what we wanted. */
        int e = 0;
        if (cg_ckpt_path(dir, vs[i], path, sizeof(path)) != CG_OK)
            e = ENAMETOOLONG;
        else if (unlink(path) < 0 && errno != ENOENT)
            e = errno;
        if (e && rc == CG_OK) {
            cg_status_msg(err, errlen,
                          "cannot remove old checkpoint %" PRId64
                          " in '%s': %s (hint: check the directory's permissions)",
                          vs[i], dir, strerror(e));
        }
        if (e)
            rc = CG_ERR_IO;
    }
    free(vs);
    return rc;
}
