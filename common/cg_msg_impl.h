/* cg_msg_impl.h: what the wire codec's own files share (cg_msg.c, the general decoder over
 * protobuf-c; cg_msg_batch.c, the group-batch fast path) and what its tests compare.
 * Not for other modules: they call cg_msg_decode, which tries the fast path first. */
#ifndef CG_MSG_IMPL_H
#define CG_MSG_IMPL_H

#include <stdbool.h>

#include "cg_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The general decoder: protobuf-c's unpack, then every check in a fixed order; the answer
 * and error of cg_msg_decode for every input (same contract). */
cg_status_t cg_msg_decode_general(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                                  const char *run_id, cg_msg_t *msg, char *err, size_t errlen);

/* The group-batch fast path: reads an Envelope whose body is a GroupBatch straight from the
 * wire format, checking as it copies. true: *msg holds exactly what cg_msg_decode_general
 * gives for these bytes (each array its own malloc block). false: declined, *msg empty; the
 * bytes are not a group batch, not in the canonical form (a singular field repeated, an
 * array split or unpacked, an unknown field, a NUL in the run id) or fail a check, and the
 * general decoder decides and says why. len is within caps->max_bytes and > 0. */
bool cg_msg_decode_batch_fast(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                              const char *run_id, cg_msg_t *msg);

#ifdef __cplusplus
}
#endif
#endif
