/* cg_ckpt: the checkpoint file, a self-validating container of named, typed sections
 * (weights, Adam state, multiplier state, version counter, RNG states, config text).
 * The format, what is validated and the naming scheme are in docs/checkpoints.md.
 * Saving is atomic (temp file, fsync, rename, fsync of the directory): a crash never
 * leaves a damaged file under the final name. Loading checks magic, format version, sizes
 * (overflow-safe), a header CRC-32 and one CRC-32 per section, and never crashes on any
 * input; a file that is accepted is exactly the file that was written.
 * Not here: what the sections mean (the learner decides names and shapes).
 * Threading: a writer or a reader has one owner; distinct objects are independent.
 * One process saves a given path at a time. */
#ifndef CG_CKPT_H
#define CG_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_CKPT_FORMAT_VERSION 1u
#define CG_CKPT_NAME_MAX 63 /* bytes in a section name, printable ASCII */
#define CG_CKPT_MAX_SECTIONS 1024u
#define CG_CKPT_DEFAULT_MAX_BYTES ((size_t)1 << 32) /* load cap when max_bytes is 0 */

/* Element type of a section; the value is stored in the file (u32). */
typedef enum {
    CG_CKPT_F32 = 1, /* IEEE-754 binary32, bit-exact (NaN payloads kept) */
    CG_CKPT_F64 = 2, /* IEEE-754 binary64, bit-exact */
    CG_CKPT_I64 = 3,
    CG_CKPT_U64 = 4,
    CG_CKPT_BYTES = 5, /* opaque u8 */
    CG_CKPT_STR = 6,   /* text without NUL bytes; count = bytes, no terminator stored */
} cg_ckpt_dtype_t;

typedef struct cg_ckpt_writer cg_ckpt_writer_t;
typedef struct cg_ckpt cg_ckpt_t;

/* ---- writing ---------------------------------------------------------------------------
 * put_* copies the data at once (the caller may free or change it right after) and
 * encodes it little-endian. CG_ERR_INVAL for a name that is empty, longer than
 * CG_CKPT_NAME_MAX or not printable ASCII, a name already put, NULL data with n > 0, or
 * more than CG_CKPT_MAX_SECTIONS sections (caller bugs: the reason is logged); the
 * writer is then unchanged. */

/* An empty writer; free with cg_ckpt_writer_destroy. */
cg_ckpt_writer_t *cg_ckpt_writer_new(void);
void cg_ckpt_writer_destroy(cg_ckpt_writer_t **self_p);

cg_status_t cg_ckpt_put_f32(cg_ckpt_writer_t *self, const char *name, const float *data, size_t n);
cg_status_t cg_ckpt_put_f64(cg_ckpt_writer_t *self, const char *name, const double *data, size_t n);
cg_status_t cg_ckpt_put_i64(cg_ckpt_writer_t *self, const char *name, const int64_t *data,
                            size_t n);
cg_status_t cg_ckpt_put_u64(cg_ckpt_writer_t *self, const char *name, const uint64_t *data,
                            size_t n);
cg_status_t cg_ckpt_put_bytes(cg_ckpt_writer_t *self, const char *name, const void *data, size_t n);
/* A C string (config text, a run id); stored without its terminator. */
cg_status_t cg_ckpt_put_str(cg_ckpt_writer_t *self, const char *name, const char *text);

/* Writes every section put so far to `path` atomically: "path.tmp.<pid>" is written,
 * flushed and fsynced, renamed over `path`, and the directory is fsynced. On failure
 * (CG_ERR_IO, CG_ERR_INVAL for an over-long path) the temp file is removed and `path` is
 * untouched; err (may be NULL) gets a message ending in a hint. The writer stays usable. */
cg_status_t cg_ckpt_writer_save(const cg_ckpt_writer_t *self, const char *path, char *err,
                                size_t errlen);

/* ---- reading ---------------------------------------------------------------------------
 * Messages written to err (may be NULL) name the file or the section and end in a hint. */

/* Reads and validates the whole file; NULL on failure with *status (may be NULL) set:
 * CG_ERR_IO cannot read; CG_ERR_TOOBIG larger than max_bytes (0 = the default cap);
 * CG_ERR_CORRUPT bad magic ("not a cgrpo checkpoint"), truncated, trailing bytes, a CRC
 * mismatch (naming the section), impossible counts, bad or duplicate names;
 * CG_ERR_MISMATCH another format version (both versions named). The caller frees the
 * result with cg_ckpt_destroy. */
cg_ckpt_t *cg_ckpt_load(const char *path, size_t max_bytes, cg_status_t *status, char *err,
                        size_t errlen);
void cg_ckpt_destroy(cg_ckpt_t **self_p);

/* Section listing, in file order; i < cg_ckpt_n_sections. */
size_t cg_ckpt_n_sections(const cg_ckpt_t *self);
const char *cg_ckpt_section_name(const cg_ckpt_t *self, size_t i);
int cg_ckpt_has(const cg_ckpt_t *self, const char *name);
/* A section's type and element count (dtype/count may be NULL); CG_ERR_MISMATCH if the
 * section is missing. For callers that size buffers from the file or write their own
 * shape message. */
cg_status_t cg_ckpt_info(const cg_ckpt_t *self, const char *name, cg_ckpt_dtype_t *dtype,
                         uint64_t *count, char *err, size_t errlen);

/* Copies section `name` into out (expected_n elements). CG_ERR_MISMATCH, out untouched,
 * if the section is missing or its dtype or count differs; the message names the section,
 * the found and the expected shape, e.g. "section 'params': checkpoint has 4996 f32
 * values, this run needs 8964 f32 values (hint: ...)". */
cg_status_t cg_ckpt_get_f32(const cg_ckpt_t *self, const char *name, float *out, size_t expected_n,
                            char *err, size_t errlen);
cg_status_t cg_ckpt_get_f64(const cg_ckpt_t *self, const char *name, double *out, size_t expected_n,
                            char *err, size_t errlen);
cg_status_t cg_ckpt_get_i64(const cg_ckpt_t *self, const char *name, int64_t *out,
                            size_t expected_n, char *err, size_t errlen);
cg_status_t cg_ckpt_get_u64(const cg_ckpt_t *self, const char *name, uint64_t *out,
                            size_t expected_n, char *err, size_t errlen);
cg_status_t cg_ckpt_get_bytes(const cg_ckpt_t *self, const char *name, void *out, size_t expected_n,
                              char *err, size_t errlen);
/* A CG_CKPT_STR section as a new NUL-terminated string in *out; the caller frees it with
 * free(). CG_ERR_MISMATCH if missing or of another dtype (*out is then NULL). */
cg_status_t cg_ckpt_get_str(const cg_ckpt_t *self, const char *name, char **out, char *err,
                            size_t errlen);

/* ---- files in a checkpoint directory ----------------------------------------------------
 * Naming scheme: DIR/ckpt-<version>.cgck, the version zero-padded to 10 digits (more
 * digits past 9999999999). Other names, including leftover "*.tmp.<pid>" files of a save
 * that crashed, are ignored by latest and never removed by prune. */

/* "dir/ckpt-%010lld.cgck" into out; CG_ERR_INVAL if version < 0 or it does not fit. */
cg_status_t cg_ckpt_path(const char *dir, int64_t version, char *out, size_t len);
/* Path of the highest-version checkpoint in dir into path_out and its version into
 * *version (may be NULL). No checkpoint in dir: CG_OK with path_out "" and *version -1.
 * CG_ERR_IO if dir cannot be read; CG_ERR_INVAL if the path does not fit in len. Only
 * names are looked at: loading the file is what validates it. */
cg_status_t cg_ckpt_latest(const char *dir, char *path_out, size_t len, int64_t *version, char *err,
                           size_t errlen);
/* Removes all but the `keep` highest-version checkpoints in dir (keep >= 1, else
 * CG_ERR_INVAL). CG_ERR_IO if dir cannot be read or a file cannot be removed (the others
 * are still removed; err names the first). */
cg_status_t cg_ckpt_prune(const char *dir, size_t keep, char *err, size_t errlen);

/* ---- helpers ---------------------------------------------------------------------------- */

/* "f32", "f64", "i64", "u64", "bytes", "str", or "?" for an unknown value. */
const char *cg_ckpt_dtype_str(cg_ckpt_dtype_t dtype);
/* CRC-32/IEEE (zlib's crc32): start with crc = 0, feed pieces in order.
 * cg_ckpt_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t cg_ckpt_crc32(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
